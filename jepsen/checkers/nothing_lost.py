"""Nothing lost silently (DESIGN invariant 2), from final.json.

Every ok write is in final.json data with its value, or in some agent's
divergence archive (same key and value). An archived ok write (whether or
not it is also back in the data after a failback) missed the owner change
that followed it, so the window and sync rules below apply to it. A failed write appears neither
in the data nor in an archive. Every value in the data was written by the
write of that key. An archived ok write was acknowledged at most
rpo_window_ms before the owner change that followed its epoch (that
change's time is taken from final.json history, kept within what the
owner reads and writes showed; without a decision, the earliest time the
reads allow). With "sync": true no acknowledged write may be archived.
Info writes may or may not be anywhere. An ok write whose key final.json
lists under "unread" (the runner could not read it back) is not proven
durable and counts as a violation of its own kind.
"""

import json

from .owners import OwnerTimeline
from .run import NS_PER_MS

LIMIT = 50


def same_value(a, b):
    """Equal as JSON values, or one is the JSON text of the other."""
    if a == b:
        return True
    for x, y in ((a, b), (b, a)):
        if isinstance(x, str):
            try:
                if json.loads(x) == y:
                    return True
            except ValueError:
                pass
    return False


def _archive(run):
    """key -> [(agent, entry)]"""
    out = {}
    for agent, lst in sorted(run.final.get("divergence", {}).items()):
        for d in lst:
            out.setdefault(d["key"], []).append((agent, d))
    return out


def check(run):
    data = run.final.get("data", {})
    unread = run.final.get("unread", {})
    if not isinstance(unread, dict):
        unread = {}
    archive = _archive(run)
    timeline = OwnerTimeline(run)
    rpo_ns = run.config["rpo_window_ms"] * NS_PER_MS
    sync = bool(run.config.get("sync", False))
    lost, bad_fail, rpo, unknown_values, sync_bad = [], [], [], [], []
    counts = {"ok": 0, "in_data": 0, "archived": 0, "fail": 0, "info": 0}
    writes = {}
    for op in run.ops:
        if op.f != "write":
            continue
        writes.setdefault(op.key, []).append(op)
        counts[op.type] = counts.get(op.type, 0) + 1
        in_data = op.key in data and data[op.key] is not None and \
            same_value(data[op.key], op.value)
        arch = [(a, d) for a, d in archive.get(op.key, [])
                if same_value(d.get("value"), op.value)]
        if op.type == "fail":
            if in_data or arch:
                bad_fail.append({"problem": "failed write is present",
                                 "key": op.key,
                                 "where": (["data"] if in_data else []) +
                                 ["archive of " + a for a, _ in arch],
                                 "ops": [op.ref()]})
            continue
        if op.type != "ok":
            continue
        if in_data:
            counts["in_data"] += 1
        elif op.key in unread and not arch:
            lost.append({"problem": "acknowledged write could not be read "
                         "back", "key": op.key, "user_set": op.user_set,
                         "error": unread[op.key], "ops": [op.ref()]})
            continue
        elif not arch:
            lost.append({"problem": "acknowledged write lost",
                         "key": op.key, "user_set": op.user_set,
                         "epoch": op.epoch,
                         "data": data.get(op.key, "absent"),
                         "ops": [op.ref()]})
            continue
        if not arch:
            continue
        # archived (and maybe back in the data after a failback): the
        # owner change that followed it went without it
        counts["archived"] += 1
        if sync:
            sync_bad.append({"problem": "acknowledged write archived in "
                             "sync mode", "key": op.key,
                             "agents": [a for a, _ in arch],
                             "ops": [op.ref()]})
        t, source, dec = timeline.change_after(op.user_set, op.epoch)
        if t is None:
            rpo.append({"problem": "archived but no owner change followed "
                        "its epoch", "key": op.key, "user_set": op.user_set,
                        "epoch": op.epoch, "ops": [op.ref()]})
            continue
        gap = t - op.ret
        if gap > rpo_ns:
            v = {"problem": "archived write acknowledged longer than "
                 "rpo_window_ms before the owner change", "key": op.key,
                 "user_set": op.user_set, "epoch": op.epoch,
                 "gap_ms": gap / NS_PER_MS,
                 "rpo_window_ms": run.config["rpo_window_ms"],
                 "change_time_ms": t / NS_PER_MS, "change_from": source,
                 "ops": [op.ref()]}
            if dec is not None:
                v["decision"] = dec.what
            rpo.append(v)
    for key, val in sorted(data.items()):
        if val is None:
            continue
        ws = writes.get(key)
        if not ws or not any(same_value(val, w.value) for w in ws):
            unknown_values.append({"problem": "value in the data that no "
                                   "write of the key wrote", "key": key,
                                   "value": val,
                                   "ops": [w.ref() for w in ws or []]})
    violations = lost + bad_fail + rpo + sync_bad + unknown_values
    out = {"valid": not violations, "writes": counts,
           "lost": len(lost), "failed_present": len(bad_fail),
           "outside_rpo": len(rpo), "archived_in_sync": len(sync_bad),
           "unknown_values": len(unknown_values),
           "archive_entries": sum(len(v) for v in archive.values()),
           "violations": violations[:LIMIT]}
    if len(violations) > LIMIT:
        out["truncated"] = True
    return out
