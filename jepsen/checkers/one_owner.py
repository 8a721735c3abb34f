"""One owner per user set (DESIGN invariant 1) and one writer agent per
user set, from the ok writes (their node is the agent that accepted them).

A pool may have several agents, of which one (its writer) takes the writes
of the user sets the pool owns; so at no instant may two agents accept
writes for one user set, whether they are agents of two pools (a broken
fence between the pair) or of one pool (a second writer). The client sees
no instants, only intervals [invoke, completion] within which each write
was accepted, and the rules below are what those intervals prove:

- epoch: every change of the agent writing a user set raises its epoch (a
  failover, a failback, a change of writer of the pool owning it), so
  * one epoch of a user set accepted by two agents is invalid ("one epoch
    accepted by two pools" / "... by two agents");
  * for ok writes A (agent a, epoch ea) and B (agent b != a, epoch
    eb > ea), A's invoke must not be later than B's completion: otherwise
    A was accepted after b had taken over ("accepted after another pool
    took over" / "... another agent took over");
  * epochs that clients get back only grow in real time: op1 completed
    before op2 was invoked implies epoch2 >= epoch1 ("epoch went
    backwards").
- sequence: one writer hands out each sequence number of a user set's
  stream once per epoch, so two ok writes of one user set with the same
  epoch and seq came from two writers ("one sequence number acknowledged
  for two writes").
- real time, whatever the epochs say: agents a != b with ok writes a1, b1,
  a2 of one user set such that a1 completed before b1 was invoked and b1
  completed before a2 was invoked prove that the writer changed from a to
  b and back (a1 accepted at or before its completion, b1 inside its
  interval, a2 at or after its invoke): two handovers, each a committed
  decision (an owner change of the user set or a change of writer of its
  pool or its pair in final.json history), so at least two such decisions
  must lie in [a1 invoke, a2 completion], widened by the clock slack the
  linearizable checker uses. Fewer is "agents took turns without the
  handovers to explain it": two agents writing at once, as they would
  without a fence. One handover alone (a's writes, then b's) is always
  valid: the decision may lie anywhere between them. When final.json
  history is full (the runner asks for the newest 256 decisions), only
  windows that begin after the oldest decision it lists are judged: a
  window the history does not cover cannot be told from one it lost.
"""

import bisect

from .linearizable import DEFAULT_CLOCK_SLACK_MS, _slack_ns
from .owners import changes, pool_of_node, writer_changes
from .run import INF, NS_PER_MS

LIMIT = 50


def _writes(run):
    by_set = {}
    for op in run.ops:
        if op.f == "write" and op.type == "ok" and op.user_set is not None \
                and op.epoch is not None:
            by_set.setdefault(op.user_set, []).append(op)
    return by_set


def _agent(w):
    return w.node or ""


def _who(run, a, b):
    """'pool' when agents a and b are of two pools, else 'agent'."""
    return "pool" if pool_of_node(run, a) != pool_of_node(run, b) \
        else "agent"


def _overlaps(run, ws):
    """A invoked after B completed, B from another agent with a newer
    epoch."""
    out = []
    agents = sorted({_agent(w) for w in ws})
    epochs = sorted({w.epoch for w in ws})
    # first[x][e]: the write of agent x with epoch > e that completed first
    first = {}
    for x in agents:
        mine = sorted((w for w in ws if _agent(w) == x),
                      key=lambda w: w.epoch)
        first[x] = {}
        for e in epochs:
            best = None
            for w in mine:
                if w.epoch > e and (best is None or w.ret < best.ret):
                    best = w
            first[x][e] = best
    for a in ws:
        xa = _agent(a)
        for x in agents:
            if x == xa:
                continue
            b = first[x].get(a.epoch)
            if b is not None and b.ret < a.inv:
                who = _who(run, xa, x)
                out.append({"problem": "accepted after another %s took over"
                            % who, "user_set": a.user_set,
                            "late": {"agent": xa,
                                     "pool": pool_of_node(run, xa) or "",
                                     "epoch": a.epoch},
                            "newer": {"agent": x,
                                      "pool": pool_of_node(run, x) or "",
                                      "epoch": b.epoch},
                            "gap_ms": (a.inv - b.ret) / 1e6,
                            "ops": [a.ref(), b.ref()]})
    return out


def _shared_epochs(run, ws):
    out = []
    seen = {}
    for w in ws:
        seen.setdefault(w.epoch, {}).setdefault(_agent(w), w)
    for e in sorted(seen):
        if len(seen[e]) < 2:
            continue
        names = sorted(seen[e])
        pools = sorted({pool_of_node(run, n) or "" for n in names})
        out.append({"problem": "one epoch accepted by two %s"
                    % ("pools" if len(pools) > 1 else "agents"),
                    "user_set": ws[0].user_set, "epoch": e,
                    "agents": names, "pools": pools,
                    "ops": [seen[e][n].ref() for n in names]})
    return out


def _shared_seqs(ws):
    out = []
    seen = {}
    for w in ws:
        if w.seq is None:
            continue
        seen.setdefault((w.epoch, w.seq), []).append(w)
    for (e, q), lst in sorted(seen.items()):
        if len(lst) > 1:
            out.append({"problem": "one sequence number acknowledged for "
                        "two writes", "user_set": ws[0].user_set,
                        "epoch": e, "seq": q,
                        "agents": sorted({_agent(w) for w in lst}),
                        "ops": [w.ref() for w in lst[:4]]})
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


def handovers(run, user_set):
    """Sorted times (ns) of the decisions that can change the agent writing
    user_set: its owner changes, and changes of writer of its pool and of
    its pair."""
    pools = {user_set}
    pair = run.pools().get(user_set, {}).get("pair")
    if pair:
        pools.add(pair)
    t = [c.time for c in changes(run)
         if c.user_set == user_set and c.kind in ("failover", "failback")]
    t += [w[0] for w in writer_changes(run)
          if w[1] in pools and w[2] is not None and w[3] != w[2]]
    return sorted(t)


HISTORY_PAGE = 256


def history_start(run):
    """Time (ns) from which final.json history holds every decision: -INF
    when it is not full (fewer than the page the runner asks for), else
    its oldest decision's."""
    hist = run.final.get("history", [])
    if len(hist) < HISTORY_PAGE:
        return -INF
    t = [run.wall_ms_to_ns(h["time_ms"]) for h in hist
         if isinstance(h.get("time_ms"), (int, float))
         and not isinstance(h.get("time_ms"), bool)]
    return min(t) if t else INF


def _turns(run, ws, slack, since):
    """a1 < b1 < a2 in real time at agents a != b with fewer than two
    handover decisions in [a1.inv - slack, a2.ret + slack]."""
    out = []
    if len({_agent(w) for w in ws}) < 2:
        return out
    times = handovers(run, ws[0].user_set)
    by_agent = {}
    for w in ws:
        by_agent.setdefault(_agent(w), []).append(w)
    # per agent: by completion, the latest invoke so far; by invoke, the
    # earliest completion from there on
    index = {}
    for x, lst in by_agent.items():
        r = sorted(lst, key=lambda w: w.ret)
        rets = [w.ret for w in r]
        best_before = []
        top = None
        for w in r:
            if top is None or w.inv > top.inv:
                top = w
            best_before.append(top)
        i = sorted(lst, key=lambda w: w.inv)
        invs = [w.inv for w in i]
        best_after = [None] * len(i)
        low = None
        for k in range(len(i) - 1, -1, -1):
            if low is None or i[k].ret < low.ret:
                low = i[k]
            best_after[k] = low
        index[x] = (rets, best_before, invs, best_after)
    seen = set()
    for b in ws:
        xb = _agent(b)
        if b.ret == INF:
            continue
        for xa, (rets, before, invs, after) in sorted(index.items()):
            if xa == xb:
                continue
            k = bisect.bisect_left(rets, b.inv)
            if k == 0:
                continue
            a1 = before[k - 1]
            k = bisect.bisect_right(invs, b.ret)
            if k >= len(invs):
                continue
            a2 = after[k]
            if a2.ret == INF:
                continue
            lo, hi = a1.inv - slack, a2.ret + slack
            if lo < since:
                continue
            n = bisect.bisect_right(times, hi) - bisect.bisect_left(times, lo)
            if n >= 2:
                continue
            key = (a1.index, a2.index, xb)
            if key in seen:
                continue
            seen.add(key)
            out.append({"problem": "agents took turns without the handovers "
                        "to explain it", "user_set": b.user_set,
                        "agents": [xa, xb, xa],
                        "epochs": [a1.epoch, b.epoch, a2.epoch],
                        "window_ms": [a1.inv / NS_PER_MS, a2.ret / NS_PER_MS],
                        "handovers_in_window": n,
                        "ops": [a1.ref(), b.ref(), a2.ref()]})
    return out


def check(run):
    violations = []
    counts = {}
    by_agent = {}
    slack = _slack_ns(run, DEFAULT_CLOCK_SLACK_MS)
    since = history_start(run)
    for us, ws in sorted(_writes(run).items()):
        counts[us] = len(ws)
        for w in ws:
            a = by_agent.setdefault(us, {})
            a[_agent(w)] = a.get(_agent(w), 0) + 1
        violations += _shared_epochs(run, ws)
        violations += _shared_seqs(ws)
        violations += _overlaps(run, ws)
        violations += _backwards(ws)
        violations += _turns(run, ws, slack, since)
    out = {"valid": not violations, "ok_writes": counts,
           "ok_writes_by_agent": by_agent,
           "turns_judged_from_ms": None if since in (INF, -INF)
           else since / NS_PER_MS,
           "violations_total": len(violations),
           "violations": violations[:LIMIT]}
    if len(violations) > LIMIT:
        out["truncated"] = True
    return out
