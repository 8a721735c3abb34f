"""One owner per user set (DESIGN invariant 1), from the ok writes.

For ok writes A (accepted by pool a, epoch ea) and B (pool b != a, epoch
eb > ea) of one user set, A's invoke must not be later than B's
completion: otherwise A was accepted after B's owner had taken over. One
epoch accepted by two different pools is invalid. Epochs that clients get
back from writes only grow in real time: op1 completed before op2 was
invoked implies epoch2 >= epoch1, per user set.
"""

from .owners import pool_of_node
from .run import INF

LIMIT = 50


def _writes(run):
    by_set = {}
    for op in run.ops:
        if op.f == "write" and op.type == "ok" and op.user_set is not None \
                and op.epoch is not None:
            by_set.setdefault(op.user_set, []).append(op)
    return by_set


def _overlaps(run, ws):
    """A invoked after B completed, B from another pool with a newer epoch."""
    out = []
    pools = sorted({pool_of_node(run, w.node) or "" for w in ws})
    epochs = sorted({w.epoch for w in ws})
    # first[p][e]: the write of pool p with epoch > e that completed first
    first = {}
    for p in pools:
        mine = [w for w in ws if (pool_of_node(run, w.node) or "") == p]
        first[p] = {}
        for e in epochs:
            best = None
            for w in mine:
                if w.epoch > e and (best is None or w.ret < best.ret):
                    best = w
            first[p][e] = best
    for a in ws:
        pa = pool_of_node(run, a.node) or ""
        for p in pools:
            if p == pa:
                continue
            b = first[p].get(a.epoch)
            if b is not None and b.ret < a.inv:
                out.append({"problem": "accepted after another pool took "
                            "over", "user_set": a.user_set,
                            "late": {"pool": pa, "epoch": a.epoch},
                            "newer": {"pool": p, "epoch": b.epoch},
                            "gap_ms": (a.inv - b.ret) / 1e6,
                            "ops": [a.ref(), b.ref()]})
    return out


def _shared_epochs(run, ws):
    out = []
    seen = {}
    for w in ws:
        seen.setdefault(w.epoch, {}).setdefault(
            pool_of_node(run, w.node) or "", w)
    for e in sorted(seen):
        if len(seen[e]) > 1:
            out.append({"problem": "one epoch accepted by two pools",
                        "user_set": ws[0].user_set, "epoch": e,
                        "pools": sorted(seen[e]),
                        "ops": [seen[e][p].ref() for p in sorted(seen[e])]})
    return out


def _backwards(ws):
    out = []
    by_ret = sorted(ws, key=lambda w: w.ret)
    by_inv = sorted(ws, key=lambda w: w.inv)
    i = 0
    top = None
    for b in by_inv:
        while i < len(by_ret) and by_ret[i].ret < b.inv:
            if by_ret[i].ret < INF and (top is None
                                       or by_ret[i].epoch > top.epoch):
                top = by_ret[i]
            i += 1
        if top is not None and b.epoch < top.epoch:
            out.append({"problem": "epoch went backwards",
                        "user_set": b.user_set, "epoch": b.epoch,
                        "after_epoch": top.epoch,
                        "ops": [top.ref(), b.ref()]})
    return out


def check(run):
    violations = []
    counts = {}
    for us, ws in sorted(_writes(run).items()):
        counts[us] = len(ws)
        violations += _shared_epochs(run, ws)
        violations += _overlaps(run, ws)
        violations += _backwards(ws)
    out = {"valid": not violations, "ok_writes": counts,
           "violations_total": len(violations),
           "violations": violations[:LIMIT]}
    if len(violations) > LIMIT:
        out["truncated"] = True
    return out
