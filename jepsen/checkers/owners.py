"""Who owned each user set when: from client observations and from the
decisions in final.json history.

An observation is an ok owner read (key = pool, value {owner, epoch}) or an
ok write (user_set, epoch, the pool of the agent that accepted it). A
decision is an owner change committed by the leader, with the leader's wall
clock time; its new epoch is counted back from final.json owners.

A pool of several agents has one writer (the agent that takes its writes);
a change of writer of a pool that owns user sets ("writer of P: ..." in the
history, from one writer to another, while P owns them) raises the epoch of
each of them with the owner unchanged: such a change is a decision of kind
"writer" for every user set P owned then. A change of writer while the
pool's user set is owned by its pair, or the first writer a pool gets,
raises nothing (nobody in the pool writes then, or nobody wrote before).
"""

import re

from .run import INF

_CHANGES = (
    # (pattern, kind): groups are the pool and the other pool; a third
    # group, when present, says the cms moved with the pool
    # an automatic one says so first ("automatic failover P to Q ...")
    (re.compile(r"^(?:automatic )?failover (\S+) to (\S+)( with the cms)? "
                r"\(disaster"), "failover"),
    (re.compile(r"^complete failover (\S+) to (\S+)( with the cms)?"),
     "failover"),
    (re.compile(r"^complete failback (\S+) from (\S+)"), "failback"),
    (re.compile(r"^cms failover (\S+) to (\S+)"), "cms"),
)
# "writer of P: NAME (member N), token T"; "writer of P: W -> S (...)";
# "..., writer of P: no writer, token T" when the writer is removed
_WRITER = re.compile(r"writer of ([^\s:,]+): ([^,]*)")


class Observation:
    __slots__ = ("user_set", "owner", "epoch", "inv", "ret", "op")

    def __init__(self, user_set, owner, epoch, op):
        self.user_set = user_set
        self.owner = owner
        self.epoch = epoch
        self.inv = op.inv
        self.ret = op.ret
        self.op = op


class Change:
    """One owner change decision of final.json history."""

    __slots__ = ("user_set", "owner", "time", "who", "what", "auto", "kind",
                 "cms", "epoch", "seq")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


def pool_of_node(run, node):
    """The pool whose agent is node; the node name itself when unknown."""
    p = run.agent_pool(node) if node is not None else None
    return p if p is not None else node


def observations(run):
    """user set -> [Observation] of every ok owner read and ok write."""
    out = {}
    for op in run.ops:
        if op.type != "ok":
            continue
        if op.f == "owner" and isinstance(op.result, dict):
            o = Observation(op.key, op.result.get("owner"),
                            op.result.get("epoch"), op)
        elif op.f == "write" and op.user_set is not None \
                and op.epoch is not None:
            o = Observation(op.user_set, pool_of_node(run, op.node),
                            op.epoch, op)
        else:
            continue
        out.setdefault(o.user_set, []).append(o)
    return out


def _writer_named(rest):
    """The new writer a "writer of P: ..." text names; None for no writer."""
    if rest.startswith("no writer"):
        return None
    tail = rest.split("->", 1)[1] if "->" in rest else rest
    words = tail.split()
    return words[0] if words else None


def writer_changes(run):
    """[(time ns, pool, old writer or None, new writer or None, entry)] of
    every committed change of a pool's writer in final.json history, oldest
    first (the old writer as the history itself told it; None before the
    pool's first writer or after its writer was removed)."""
    out = []
    cur = {}
    for h in run.final.get("history", []):
        if h.get("result") != "ok" or not isinstance(h.get("what"), str):
            continue
        tm = h.get("time_ms")
        if not isinstance(tm, (int, float)) or isinstance(tm, bool):
            continue
        for m in _WRITER.finditer(h["what"]):
            pool = m.group(1)
            new = _writer_named(m.group(2).strip())
            out.append((run.wall_ms_to_ns(tm), pool, cur.get(pool), new, h))
            cur[pool] = new
    return out


def changes(run):
    """Owner changes committed in final.json history, oldest first, and
    the epoch raises of a change of writer (kind "writer", see above).

    The new epoch of each is counted back from final.json owners (the last
    change of a user set set its final epoch); None when unknown.
    """
    out = []
    owned_by = {p: p for p in run.pools()}   # user set -> owner pool
    raises = {}                              # history seq -> [user sets]
    for t, pool, old, new, h in writer_changes(run):
        if old is None or new is None or old == new:
            continue
        raises.setdefault(id(h), []).append(pool)
    for h in run.final.get("history", []):
        if h.get("result") != "ok" or not isinstance(h.get("what"), str):
            continue
        tm = h.get("time_ms")
        if not isinstance(tm, (int, float)) or isinstance(tm, bool):
            continue
        who = h.get("who") if isinstance(h.get("who"), str) else ""
        for pool in raises.get(id(h), []):
            for us in sorted(u for u, o in owned_by.items() if o == pool):
                out.append(Change(user_set=us, owner=pool,
                                  time=run.wall_ms_to_ns(tm), who=who,
                                  what=h["what"], auto=True, kind="writer",
                                  cms=False, epoch=None, seq=h.get("seq")))
        for pat, kind in _CHANGES:
            m = pat.match(h["what"])
            if not m:
                continue
            if kind == "failback":
                us, owner = m.group(1), m.group(1)
            elif kind == "cms":
                us, owner = "cms", m.group(2)
            else:
                us, owner = m.group(1), m.group(2)
            if kind != "cms":
                owned_by[us] = owner
            moves_cms = kind == "failover" and m.group(3) is not None
            out.append(Change(user_set=us, owner=owner,
                              time=run.wall_ms_to_ns(tm), who=who,
                              what=h["what"], auto=who == "leader:auto",
                              kind=kind, cms=moves_cms, epoch=None,
                              seq=h.get("seq")))
            if moves_cms:
                out.append(Change(user_set="cms", owner=owner,
                                  time=run.wall_ms_to_ns(tm), who=who,
                                  what=h["what"],
                                  auto=who == "leader:auto",
                                  kind="cms", cms=True, epoch=None,
                                  seq=h.get("seq")))
            break
    owners = run.final.get("owners", {})
    for us in {c.user_set for c in out}:
        fin = owners.get(us)
        if not isinstance(fin, dict) or not isinstance(fin.get("epoch"), int):
            continue
        mine = [c for c in out if c.user_set == us]
        for back, c in enumerate(reversed(mine)):
            c.epoch = fin["epoch"] - back
    return out


class OwnerTimeline:
    """Owner and epoch of every user set over run time."""

    def __init__(self, run):
        self.run = run
        self.obs = observations(run)
        self.changes = changes(run)

    def user_sets(self):
        s = set(self.run.pools()) | set(self.obs)
        return sorted(s)

    def bracket(self, user_set, epoch):
        """(lo, hi): the change of user_set away from epoch happened after
        lo and before hi, as clients saw it (hi INF when never seen)."""
        lo, hi = 0, INF
        for o in self.obs.get(user_set, []):
            if o.epoch is None:
                continue
            if o.epoch <= epoch:
                lo = max(lo, o.inv)
            else:
                hi = min(hi, o.ret)
        return lo, hi

    def change_after(self, user_set, epoch):
        """The owner change that followed epoch of user_set:
        (time estimate in ns or None, source, Change or None)."""
        lo, hi = self.bracket(user_set, epoch)
        dec = None
        for c in self.changes:
            if c.user_set == user_set and c.epoch is not None \
                    and c.epoch > epoch:
                dec = c
                break
        if dec is not None:
            t = dec.time
            if lo <= hi:
                t = min(max(t, lo), hi)
            return t, "history", dec
        if hi < INF:
            return lo, "owner reads (lower bound)", None
        return None, "none", None

    def owner_at(self, user_set, t):
        """(owner, epoch) of the newest epoch known at time t."""
        best = None
        for o in self.obs.get(user_set, []):
            if o.ret <= t and o.epoch is not None:
                if best is None or o.epoch > best[1]:
                    best = (o.owner, o.epoch)
        for c in self.changes:
            if c.user_set == user_set and c.time <= t and c.epoch is not None:
                if best is None or c.epoch > best[1]:
                    best = (c.owner, c.epoch)
        if best is None:
            return user_set, None
        return best

    def lanes(self, end):
        """user set -> [(start, end, owner, epoch or None)] intervals of
        ownership (epoch: the first one seen in the interval)."""
        out = {}
        for us in self.user_sets():
            points = []
            for o in self.obs.get(us, []):
                if o.epoch is not None and o.ret < INF:
                    points.append((o.ret, o.epoch, o.owner))
            for c in self.changes:
                if c.user_set == us and c.epoch is not None:
                    points.append((c.time, c.epoch, c.owner))
            points.sort(key=lambda p: p[0])
            segs = []
            cur_owner, cur_epoch, cur_start = us, None, 0
            start_epoch = None
            for t, e, owner in points:
                if cur_epoch is not None and e <= cur_epoch:
                    continue
                if owner != cur_owner:
                    segs.append((cur_start, t, cur_owner, start_epoch))
                    cur_start, cur_owner, start_epoch = t, owner, e
                elif start_epoch is None:
                    start_epoch = e
                cur_epoch = e
            segs.append((cur_start, end, cur_owner, start_epoch))
            out[us] = segs
        return out
