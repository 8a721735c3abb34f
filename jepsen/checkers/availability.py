"""Availability of writes per pool: a figure, not a checker (it judges
nothing and never makes a run invalid).

A write belongs to the pool whose user set its user is in: the user_set of
the user's ok writes (a user none of whose writes succeeded is counted
under "?"). It counts "during faults" when invoked while a fault was on
(from its start to its stop, or to the heal that stopped it), else
"outside". Availability is ok / (ok + fail + info): an info (timeout,
reset, never answered) counts as not available.
"""


def _windows(run):
    """Merged [start, end] ns intervals during which a fault was on."""
    open_at = {}
    spans = []
    for e in sorted(run.nemesis, key=lambda e: e["time"]):
        key = (e["fault"], tuple(e.get("targets") or ()))
        if e["type"] == "start":
            open_at.setdefault(key, e["time"])
        elif e["fault"] == "heal":
            spans.extend((t, e["time"]) for t in open_at.values())
            open_at.clear()
        elif key in open_at:
            spans.append((open_at.pop(key), e["time"]))
    end = run.end_time()
    spans.extend((t, end) for t in open_at.values())
    merged = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def figure(run):
    """{"pools": {pool: {"during": {"ok", "total", "percent"},
    "outside": {...}}}, "fault_s": seconds with a fault on}."""
    spans = _windows(run)
    writes = [o for o in run.ops if o.f == "write"]
    pool_of = {}
    for o in writes:
        if o.type == "ok" and o.user_set:
            pool_of[o.key.split("|", 1)[0]] = o.user_set
    pools = {}
    for o in writes:
        pool = pool_of.get(o.key.split("|", 1)[0], "?")
        during = any(a <= o.inv <= b for a, b in spans)
        c = pools.setdefault(pool, {"during": {"ok": 0, "total": 0},
                                    "outside": {"ok": 0, "total": 0}})
        c = c["during" if during else "outside"]
        c["total"] += 1
        c["ok"] += o.type == "ok"
    for c in pools.values():
        for w in c.values():
            w["percent"] = (round(100.0 * w["ok"] / w["total"], 1)
                            if w["total"] else None)
    return {"pools": pools,
            "fault_s": round(sum(b - a for a, b in spans) / 1e9, 1)}


def summary(fig):
    """One line: each pool's availability during faults and outside."""
    def pct(w):
        return "-" if w["percent"] is None else "%.1f%%" % w["percent"]
    parts = []
    for pool, c in sorted(fig["pools"].items()):
        parts.append("%s %s of %d writes during faults (%s of %d outside)"
                     % (pool, pct(c["during"]), c["during"]["total"],
                        pct(c["outside"]), c["outside"]["total"]))
    return "; ".join(parts) or "no writes"
