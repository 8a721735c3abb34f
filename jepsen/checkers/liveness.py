"""The cluster comes back: final.json says converged, every paired pool's
verify found both copies equal, and after the last heal (the last stop in
nemesis.jsonl) every user set that took writes during the run took ok
writes again.
"""

LIMIT = 50


def heal_time(run):
    """Time of the last stop event of the nemesis, 0 when there is none."""
    stops = [e["time"] for e in run.nemesis if e["type"] == "stop"]
    return max(stops) if stops else 0


def check(run):
    problems = []
    final = run.final
    if final.get("converged") is not True:
        problems.append({"problem": "final.json: not converged"})
    verify = final.get("verify", {})
    for pool, p in sorted(run.pools().items()):
        if not p.get("pair"):
            continue
        v = verify.get(pool)
        if v is None:
            problems.append({"problem": "no verify result", "pool": pool})
        elif v.get("equal") is not True:
            problems.append({"problem": "verify found the copies different",
                             "pool": pool, "differing": v.get("differing")})
    healed = heal_time(run)
    expected = set()
    after = {}
    invoked_after = 0
    for op in run.ops:
        if op.f != "write":
            continue
        if op.type == "ok" and op.user_set is not None:
            expected.add(op.user_set)
            if op.inv >= healed:
                after[op.user_set] = after.get(op.user_set, 0) + 1
        if op.inv >= healed:
            invoked_after += 1
    if not expected and run.ops:
        problems.append({"problem": "no ok write in the whole run"})
    for us in sorted(expected):
        if not after.get(us):
            problems.append({"problem": "no ok write after the heal",
                             "user_set": us, "heal_ms": healed / 1e6,
                             "writes_invoked_after": invoked_after})
    return {"valid": not problems, "converged": final.get("converged"),
            "heal_ms": healed / 1e6, "ok_writes_after_heal": after,
            "violations": problems[:LIMIT]}
