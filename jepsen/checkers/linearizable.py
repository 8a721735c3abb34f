"""Linearizability of the control plane (DESIGN invariant 3).

Operations: owner reads, failover, failback, cms-failover and cms reads.
The history is split by key (P-compositionality): one sub-history per pool
and one for "cms"; each is searched with the Wing-Gong algorithm as
improved by Lowe (call/return list with lifting, and a memo of every
(linearized set, state) already explored).

Model of pool P (home P, pair Q), state (owner, epoch):
  owner read  -> must return (owner, epoch)
  failover P  -> needs owner == P; owner = Q, epoch + 1
  failback P  -> needs owner == Q; owner = P, epoch + 1
  writer W    -> (a change of writer of pool W, from final.json history,
                 while W owned the user set) needs owner == W; epoch + 1
The initial owner is P; the initial epoch is not assumed: the first read
binds it (the state carries "epoch base unknown + k" until then).

Model of "cms", state = the pool of the active CMS:
  cms read        -> must return it
  cms-failover    -> active = pair(active)
  failover P      -> when active == P, active = pair(P) (the CMS moves
                     first); a pool failover belongs to both sub-histories
Every pool with a pair is tried as the initial active CMS.

A fail is not applied and is dropped; a failover or failback answered
with a timeout (504: "it may still finish") counts as info. An info op
may take effect at any point after its invoke, or never. Owner changes
that no client asked for (automatic failovers, "leader:auto" in
final.json history) are added as ops at their committed time, widened by
a clock slack on both sides; so are the epoch raises of a change of a
pool's writer (a local takeover: the owner stays, the epoch goes up).

The search of each sub-history is bounded by operation count and time;
past the bound the result is "unknown" rather than a guess.
"""

import time as _time

from .owners import changes as owner_changes
from .rto import faults
from .run import INF, NS_PER_MS

FS = ("owner", "failover", "failback", "cms-failover", "cms")
DEFAULT_MAX_OPS = 5000
DEFAULT_TIME_LIMIT_S = 60.0
DEFAULT_CLOCK_SLACK_MS = 2000


class _Unknown(Exception):
    pass


class _Node:
    __slots__ = ("op", "call", "match", "prev", "next", "id", "time")

    def __init__(self, op, call, id_, time):
        self.op = op
        self.call = call
        self.id = id_
        self.time = time
        self.match = None
        self.prev = None
        self.next = None


def _lift(n):
    n.prev.next = n.next
    if n.next is not None:
        n.next.prev = n.prev
    m = n.match
    m.prev.next = m.next
    if m.next is not None:
        m.next.prev = m.prev


def _unlift(n):
    m = n.match
    m.prev.next = m
    if m.next is not None:
        m.next.prev = m
    n.prev.next = n
    if n.next is not None:
        n.next.prev = n


def search(ops, step, init, deadline=None, max_steps=None):
    """Wing-Gong-Lowe search.

    ops: objects with .inv, .ret (INF for info); step(state, op) -> list of
    possible next states (empty: op impossible here). Returns
    (True, order) with the op order found, or (False, info) where info
    holds the longest linearizable prefix; raises _Unknown past the bounds.
    """
    events = []
    for i, op in enumerate(ops):
        c = _Node(op, True, i, op.inv)
        r = _Node(op, False, i, op.ret)
        c.match = r
        events.append(c)
        events.append(r)
    # calls before returns at the same instant: such ops are concurrent
    events.sort(key=lambda n: (n.time, 0 if n.call else 1))
    head = _Node(None, True, -1, -INF)
    prev = head
    for n in events:
        prev.next = n
        n.prev = prev
        prev = n
    cache = set()
    stack = []
    state = init
    lin = 0
    best = []
    stuck = None
    steps = 0
    entry = head.next
    while head.next is not None:
        steps += 1
        if (steps & 1023) == 0:
            if deadline is not None and _time.monotonic() > deadline:
                raise _Unknown("time limit")
            if max_steps is not None and steps > max_steps:
                raise _Unknown("step limit")
        if entry.call:
            moved = False
            bit = 1 << entry.id
            for k, ns in enumerate(step(state, entry.op)):
                key = (lin | bit, ns)
                if key in cache:
                    continue
                cache.add(key)
                stack.append((entry, state, k))
                state = ns
                lin |= bit
                _lift(entry)
                entry = head.next
                moved = True
                break
            if not moved:
                entry = entry.next
            continue
        # a return whose call is not linearized yet: backtrack; the op
        # that stops the longest linearized prefix is the one to report
        if stuck is None or len(stack) > len(best):
            best = [s[0].op for s in stack]
            stuck = entry.op
        while True:
            if not stack:
                return False, {"prefix": best, "stuck": stuck}
            e, st, k = stack.pop()
            _unlift(e)
            bit = 1 << e.id
            lin &= ~bit
            state = st
            cands = step(st, e.op)
            moved = False
            for j in range(k + 1, len(cands)):
                key = (lin | bit, cands[j])
                if key in cache:
                    continue
                cache.add(key)
                stack.append((e, st, j))
                state = cands[j]
                lin |= bit
                _lift(e)
                entry = head.next
                moved = True
                break
            if not moved:
                entry = e.next
            break
    return True, [s[0].op for s in stack]


# ---- models ----

class _Synth:
    """An owner change no client asked for, from final.json history."""

    __slots__ = ("index", "comp_index", "f", "key", "value", "type", "inv",
                 "ret", "result", "synthetic", "process", "decision")

    def __init__(self, f, key, t, slack, decision):
        self.index = None
        self.comp_index = None
        self.f = f
        self.key = key
        self.value = None
        self.type = "ok"
        self.inv = t - slack
        self.ret = t + slack
        self.result = None
        self.synthetic = True
        self.process = None
        self.decision = decision

    def ref(self):
        return {"synthetic": True, "f": self.f, "key": self.key,
                "decision": self.decision}


def _applies(op):
    """True: surely applied; None: maybe (info)."""
    return True if op.type == "ok" else None


def pool_step(home, pair):
    def step(state, op):
        owner, epoch, known = state
        if op.f == "owner":
            v = op.result
            if v.get("owner") != owner:
                return []
            e = v.get("epoch")
            if known:
                return [state] if e == epoch else []
            # epoch = base + epoch with base unknown: bind it (base >= 0)
            return [(owner, e, True)] if e - epoch >= 0 else []
        if op.f == "failover":
            ok = owner == home and pair is not None
            nxt = (pair, epoch + 1, known)
        elif op.f == "failback":
            ok = owner == pair and pair is not None
            nxt = (home, epoch + 1, known)
        elif op.f == "writer":
            ok = owner == op.value
            nxt = (owner, epoch + 1, known)
        else:
            return [state]
        if _applies(op):
            return [nxt] if ok else []
        return [nxt, state] if ok else [state]
    return step


def cms_step(pairs):
    def step(active, op):
        if op.f == "cms":
            v = op.result
            if isinstance(v, dict):
                v = v.get("active")
            return [active] if v == active else []
        if op.f == "cms-failover":
            nxt = pairs.get(active)
            ok = nxt is not None
        elif op.f == "failover":
            if op.key != active:
                return [active]
            nxt = pairs.get(active)
            ok = nxt is not None
        else:
            return [active]
        if _applies(op):
            return [nxt] if ok else []
        return [nxt, active] if ok else [active]
    return step


def _effective(op):
    """The op as the model sees it, or None when it has no effect."""
    if op.type == "fail":
        err = op.error if isinstance(op.error, str) else ""
        if op.f in ("failover", "failback", "cms-failover") and (
                "timeout" in err or "504" in err):
            return "info"
        return None
    if op.type == "info" and op.f in ("owner", "cms"):
        return None  # an unanswered read constrains nothing
    return op.type


class _View:
    """An op with its effective type (a timed-out fail becomes info)."""

    __slots__ = ("base", "type", "inv", "ret", "f", "key", "result")

    def __init__(self, base, typ):
        self.base = base
        self.type = typ
        self.inv = base.inv
        self.ret = INF if typ == "info" else base.ret
        self.f = base.f
        self.key = base.key
        self.result = base.result


def _slack_ns(run, slack_ms):
    """Slack around the leader's wall-clock time of a decision: the given
    slack plus the worst clock fault (its offset and the drift of its rate
    over the fault's duration)."""
    worst = 0.0
    for e, stop in faults(run):
        if e["fault"] != "clock":
            continue
        d = e.get("detail") or {}
        off = 0.0
        for k, v in d.items():
            if isinstance(v, bool):
                continue
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if k.endswith("_ms"):
                off += abs(v)
            elif k.endswith("_s"):
                off += abs(v) * 1000
            elif k == "rate":
                dur = (min(stop, run.end_time()) - e["time"]) / NS_PER_MS
                off += abs(v - 1) * max(dur, 0)
        worst = max(worst, off if off == off else 0.0)
    return int((slack_ms + worst) * NS_PER_MS)


def _refs(ops):
    return [o.base.ref() if isinstance(o, _View) else o.ref() for o in ops]


def check(run, max_ops=DEFAULT_MAX_OPS, time_limit_s=DEFAULT_TIME_LIMIT_S,
          clock_slack_ms=DEFAULT_CLOCK_SLACK_MS):
    pools = run.pools()
    pairs = {p: v.get("pair") for p, v in pools.items() if v.get("pair")}
    slack = _slack_ns(run, clock_slack_ms)
    subs = {}
    for op in run.ops:
        if op.f not in FS:
            continue
        typ = _effective(op)
        if typ is None:
            continue
        if op.f in ("owner", "failover", "failback"):
            if op.key not in pools:
                continue
            subs.setdefault(op.key, []).append(_View(op, typ))
        if op.f in ("cms", "cms-failover", "failover"):
            subs.setdefault("cms", []).append(_View(op, typ))
    auto = []
    for c in owner_changes(run):
        if not c.auto:
            continue
        if c.kind == "failover" and c.user_set in pools:
            s = _Synth("failover", c.user_set, c.time, slack, c.what)
            subs.setdefault(c.user_set, []).append(s)
            subs.setdefault("cms", []).append(s)
            auto.append(c.what)
        elif c.kind == "writer" and c.user_set in pools:
            s = _Synth("writer", c.user_set, c.time, slack, c.what)
            s.value = c.owner
            subs.setdefault(c.user_set, []).append(s)
            auto.append(c.what)
        elif c.kind == "cms" and not c.cms:
            s = _Synth("cms-failover", "cms", c.time, slack, c.what)
            subs.setdefault("cms", []).append(s)
            auto.append(c.what)
    if "cms" in subs and not any(o.f in ("cms", "cms-failover")
                                 for o in subs["cms"]):
        del subs["cms"]  # pool failovers alone say nothing about the CMS
    results = {}
    valid = True
    unknown = []
    failures = []
    for key in sorted(subs):
        ops = subs[key]
        r = {"ops": len(ops)}
        results[key] = r
        if len(ops) > max_ops:
            r["result"] = "unknown"
            r["reason"] = "%d ops, more than the bound %d" % (len(ops),
                                                             max_ops)
            unknown.append(key)
            continue
        if key == "cms":
            step = cms_step(pairs)
            inits = sorted(pairs)
        else:
            step = pool_step(key, pools[key].get("pair"))
            inits = [(key, 0, False)]
        deadline = _time.monotonic() + time_limit_s
        try:
            bad = None
            for init in inits or [None]:
                ok, info = search(ops, step, init, deadline=deadline)
                if ok:
                    bad = None
                    break
                if bad is None or len(info["prefix"]) > len(bad["prefix"]):
                    bad = info
            if bad is None:
                r["result"] = "linearizable"
                continue
            r["result"] = "not linearizable"
            r["stuck_at"] = _refs([bad["stuck"]])[0]
            r["linearized_prefix"] = len(bad["prefix"])
            r["last_linearized"] = _refs(bad["prefix"][-5:])
            valid = False
            failures.append({"key": key, "ops": [r["stuck_at"]]})
        except _Unknown as e:
            r["result"] = "unknown"
            r["reason"] = str(e)
            unknown.append(key)
    out = {"valid": valid and not (unknown and run.strict),
           "strict": run.strict,
           "keys": results, "violations": failures,
           "automatic_changes": auto}
    if unknown:
        out["unknown"] = unknown
    return out
