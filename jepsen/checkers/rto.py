"""Recovery time: a fault that stops the owner of a user set is followed,
within rto_bound_ms, by an ok write of that user set at some node.

Faults that stop an agent: kill, pause, partition-site and isolate (their
targets are agent names; a site name stands for the agents of that site).
A fault lasts from its start to the next stop of the same fault and
targets, or to a heal. For each such fault and each user set whose owner
(as known at the fault's start) has an agent among the targets, the RTO is
the completion of the first ok write of that user set invoked after the
start, minus the start, counting only writes accepted by an agent the
fault does not stop, or completed after the fault ended: a cut-off owner
that still takes writes within its lease has not recovered anything (those
writes are counted apart). It must be at most rto_bound_ms, unless the fault
healed before the bound ran out (then it is reported, not judged).
"""

from .owners import OwnerTimeline
from .run import INF, NS_PER_MS

STOPPING = ("kill", "pause", "partition-site", "isolate")


def faults(run):
    """[(start event, end time)] of every fault, in start order."""
    out = []
    evs = sorted(run.nemesis, key=lambda e: e["time"])
    for i, e in enumerate(evs):
        if e["type"] != "start" or e["fault"] == "heal":
            continue
        end = INF
        for s in evs[i + 1:]:
            if s["type"] != "stop":
                continue
            if s["fault"] == "heal" or (
                    s["fault"] == e["fault"] and
                    (not s["targets"] or
                     sorted(s["targets"]) == sorted(e["targets"]))):
                end = s["time"]
                break
        out.append((e, end))
    return out


def _agents(run, targets):
    agents = set(run.config.get("agents", {}))
    out = set()
    for t in targets:
        if t in agents:
            out.add(t)
        else:
            out.update(run.site_agents(t))
    return out


def check(run):
    bound_ns = run.config["rto_bound_ms"] * NS_PER_MS
    timeline = OwnerTimeline(run)
    writes = {}
    for op in run.ops:
        if op.f == "write" and op.type == "ok" and op.user_set is not None:
            writes.setdefault(op.user_set, []).append(op)
    measured = []
    violations = []
    for e, end in faults(run):
        if e["fault"] not in STOPPING:
            continue
        stopped = _agents(run, e["targets"])
        for us in timeline.user_sets():
            owner, epoch = timeline.owner_at(us, e["time"])
            if not stopped & set(run.pool_agents(owner)):
                continue
            first = None
            tail = 0
            for w in writes.get(us, []):
                if w.inv < e["time"]:
                    continue
                if w.node in stopped and w.ret < end:
                    tail += 1      # the stopped owner, still in its lease
                    continue
                if first is None or w.ret < first.ret:
                    first = w
            rto = None if first is None else first.ret - e["time"]
            m = {"fault": e["fault"], "targets": e["targets"],
                 "nemesis_line": e.get("line"),
                 "start_ms": e["time"] / NS_PER_MS,
                 "healed_ms": None if end == INF else end / NS_PER_MS,
                 "user_set": us, "owner": owner,
                 "writes_at_stopped_agents": tail,
                 "rto_ms": None if rto is None else rto / NS_PER_MS}
            if first is not None:
                m["ops"] = [first.ref()]
            if rto is not None and rto <= bound_ns:
                m["result"] = "ok"
            elif end - e["time"] < bound_ns and (first is None
                                                 or first.ret >= end):
                m["result"] = "healed first"
            else:
                m["result"] = "over bound"
                violations.append(m)
            measured.append(m)
    return {"valid": not violations,
            "rto_bound_ms": run.config["rto_bound_ms"],
            "faults": measured, "violations": violations}
