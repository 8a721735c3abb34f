#!/usr/bin/env python3
"""Workload client of the fault-injection harness (python3, stdlib only).

Runs in the client's network namespace, reads OUT/config.json and
OUT/run/harness.json (written by jepsen/run) and writes the files of the run
folder described in jepsen/FORMAT.md:

  client.py setup OUT   topology (pools, pair, CMS, policy auto), users in both
                        pools, replication caught up
  client.py run OUT     N writer/reader processes, one control-plane process
                        and a lag sampler until the duration is over:
                        history.jsonl, lag.jsonl
  client.py final OUT   after the nemesis healed everything: convergence
                        (bounded), every written key read from its owner,
                        divergence archives, backup verify, decision history:
                        final.json

Times are CLOCK_MONOTONIC ns since time 0 (t0_ns of harness.json; the clock is
shared by every namespace of the machine). An operation that got an answer
refusing it is "fail"; one whose request may have reached the agent without an
answer (timeout, reset after sending) is "info"; a request whose connection
could not be made was never sent and is "fail"."""

import http.client
import json
import os
import random
import signal
import socket
import sys
import time
import urllib.parse

# longer than the longest pause the nemesis makes (lease + grace + 8 s): a
# write sent to an owner that is then paused is still waiting when it wakes,
# and what the old owner does with it (refuse: its lease is gone) is seen
WRITE_TIMEOUT = 12.0
READ_TIMEOUT = 3.0
CONTROL_TIMEOUT = 75.0
LAG_PERIOD = 0.5


class NotSent(Exception):
    """The request never left: no connection could be made."""


class Indeterminate(Exception):
    """The request may have been received; no answer came."""


def load(out):
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    with open(os.path.join(out, "run", "harness.json"), encoding="utf-8") as f:
        h = json.load(f)
    return cfg, h


def hostport(api):
    """'http://10.77.1.11:7101' or '10.77.1.11:7101' -> ('10.77.1.11', 7101)"""
    if "://" in api:
        api = api.split("://", 1)[1]
    api = api.split("/", 1)[0]
    host, port = api.rsplit(":", 1)
    return host, int(port)


def call(api, method, path, body=None, timeout=5.0, headers=None):
    """One HTTP exchange. Returns (status, parsed JSON or text, headers).
    Raises NotSent when the connection could not be made, Indeterminate when
    it broke or timed out after the request was (perhaps partly) sent."""
    host, port = hostport(api)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except (OSError, socket.timeout) as e:
            raise NotSent("connect: %s" % (e.__class__.__name__ if not str(e) else e))
        hdrs = {"X-Poolpair-Who": "jepsen@client"}
        if headers:
            hdrs.update(headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, socket.timeout, http.client.HTTPException) as e:
            raise Indeterminate("%s: %s" % (e.__class__.__name__, e))
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return resp.status, parsed, dict(resp.getheaders())
    finally:
        conn.close()


def call_leader(api, method, path, body=None, timeout=5.0):
    """call(), following up to 3 leader redirects (307). Returns
    (status, answer, api answered at)."""
    for _ in range(4):
        st, ans, hdrs = call(api, method, path, body, timeout)
        if st == 307:
            loc = hdrs.get("Location") or hdrs.get("location") or ""
            if not loc and isinstance(ans, dict) and ans.get("leader"):
                loc = "http://%s%s" % (ans["leader"], path)
            if not loc:
                return st, ans, api
            u = urllib.parse.urlsplit(loc)
            api = u.netloc
            path = u.path + ("?" + u.query if u.query else "")
            continue
        return st, ans, api
    return st, ans, api


def err_text(st, ans):
    if isinstance(ans, dict):
        return "%d %s: %s" % (st, ans.get("error", ""), ans.get("message", ""))
    return "%d %s" % (st, str(ans)[:200])


class Clock:
    def __init__(self, t0_ns):
        self.t0 = t0_ns

    def now(self):
        return time.monotonic_ns() - self.t0


class History:
    """One process's part of the history (merged and indexed at the end)."""

    def __init__(self, path, clock, process):
        self.f = open(path, "a", encoding="utf-8", buffering=1)
        self.clock = clock
        self.process = process
        self.n = 0

    def op(self, typ, f, key, value, node, **extra):
        rec = {"time": self.clock.now(), "type": typ, "process": self.process,
               "f": f, "key": key, "value": value, "node": node, "_n": self.n}
        self.n += 1
        for k, v in extra.items():
            if v is not None:
                rec[k] = v
        self.f.write(json.dumps(rec, sort_keys=True) + "\n")
        return rec


class Cluster:
    def __init__(self, cfg, h):
        self.cfg = cfg
        self.h = h
        self.agents = cfg["agents"]
        self.by_addr = {hostport(a["api"]): n for n, a in self.agents.items()}
        # a pool's first agent (its only one, or where to start looking for
        # its writer) and every agent of each pool
        self.pool_agent = {p: v["agent"] for p, v in cfg["pools"].items()}
        self.pool_members = {p: sorted(n for n, a in self.agents.items()
                                       if a.get("pool") == p)
                             for p in cfg["pools"]}
        self.pool_agents = sorted(n for m in self.pool_members.values()
                                  for n in m)
        self.multi = any(len(m) > 1 for m in self.pool_members.values())
        self.user_pool = {}
        for pool, users in h["users"].items():
            for u in users:
                self.user_pool[u] = pool

    def api(self, name):
        return self.agents[name]["api"]

    def name_of(self, api):
        try:
            return self.by_addr.get(hostport(api))
        except ValueError:
            return None


def quote_sip(sip):
    return urllib.parse.quote(sip, safe=":@")


def redirect(cl, st, ans):
    """The agent a 421 answer sends the request to: not_owner names the
    owner's API (owner_api), not_writer (a standby of its pool) the
    writer's (api); None for any other answer."""
    if st != 421 or not isinstance(ans, dict):
        return None
    if ans.get("error") == "not_writer":
        return cl.name_of(ans.get("api") or "")
    return cl.name_of(ans.get("owner_api") or "")


def call_follow(cl, node, method, path, body=None, timeout=5.0, hops=4):
    """call() at agent node, following 421 not_owner and not_writer to the
    agent they name (at most hops times, never back to the same agent).
    Returns (status, answer, the agent that answered last)."""
    seen = {node}
    for _ in range(hops + 1):
        st, ans, _ = call(cl.api(node), method, path, body, timeout)
        nxt = redirect(cl, st, ans)
        if nxt is None or nxt in seen:
            return st, ans, node
        seen.add(nxt)
        node = nxt
    return st, ans, node


def writers(cl):
    """pool -> the name of its writer, as the leader's status says (any
    agent's when no leader answers); {} when no agent answers."""
    first = None
    for n in cl.agents:
        try:
            st, ans, _ = call(cl.api(n), "GET", "/v1/status", timeout=2)
        except (NotSent, Indeterminate):
            continue
        if st != 200 or not isinstance(ans, dict):
            continue
        if first is None:
            first = ans
        if (ans.get("self") or {}).get("state") == "leader":
            first = ans
            break
    out = {}
    for p in (first or {}).get("pools", []):
        w = p.get("writer")
        if isinstance(w, dict) and w.get("id") and w.get("name") in cl.agents:
            out[p["name"]] = w["name"]
    return out


def pool_writer(cl, pool):
    """The agent to ask for pool: its writer when known, else its first
    agent (whose 421 names the writer)."""
    return writers(cl).get(pool) or cl.pool_agent[pool]


# ---- setup ------------------------------------------------------------------

def wait_for(what, fn, seconds):
    end = time.monotonic() + seconds
    last = None
    while time.monotonic() < end:
        try:
            r = fn()
            if r:
                return r
        except (NotSent, Indeterminate) as e:
            last = e
        time.sleep(0.3)
    raise SystemExit("client: %s did not happen within %ds (%s)" % (what, seconds, last))


def leader_api(cl):
    for n in cl.agents:
        try:
            st, ans, _ = call(cl.api(n), "GET", "/v1/status", timeout=2)
        except (NotSent, Indeterminate):
            continue
        if st == 200 and isinstance(ans, dict):
            ld = (ans.get("cluster") or {}).get("leader")
            if ld and ld.get("api"):
                return "http://" + ld["api"]
    return None


def setup(out):
    cfg, h = load(out)
    cl = Cluster(cfg, h)
    wait_for("a leader", lambda: leader_api(cl), 60)
    topo = {
        "sites": sorted({a["site"] for a in cl.agents.values()}),
        "pools": [{"name": p, "site": cfg["pools"][p]["site"], "edition": "enterprise",
                   "kind": "physical", "os": "windows-2019"} for p in sorted(cfg["pools"])],
        "pairs": [dict({"a": "pool-east", "b": "pool-west", "force": False,
                        "mode": h.get("pair_mode", "async")},
                       **({"sync_timeout_ms": h["pair_sync_timeout_ms"]}
                          if h.get("pair_sync_timeout_ms") else {}))],
        "sbas": [],
        "cms": "pool-east",
        "policy": h["policy"],
    }

    def put_topology():
        st, ans, _ = call_leader(leader_api(cl) or cl.api("witness"), "POST", "/v1/topology",
                                 {"topology": topo, "dry_run": False}, timeout=10)
        if st == 200:
            return True
        print("client: topology: %s" % err_text(st, ans), file=sys.stderr)
        return False
    wait_for("the topology", put_topology, 60)

    if cl.multi:
        for pool in sorted(cfg["pools"]):
            wait_for("a writer of %s" % pool, lambda p=pool: writers(cl).get(p), 60)

    def ready(pool):
        st, _, _ = call(cl.api(pool_writer(cl, pool)), "GET", "/readyz?pool=" + pool,
                        timeout=2)
        return st == 200
    for pool in sorted(cfg["pools"]):
        wait_for("%s ready at its writer" % pool, lambda p=pool: ready(p), 60)
    for pool, users in sorted(h["users"].items()):
        w = pool_writer(cl, pool)
        for u in users:
            def create(u=u, pool=pool):
                st, ans, _ = call_follow(cl, w, "POST", "/v1/users",
                                         {"sip": u, "pool": pool}, timeout=5)
                return st in (200, 201) or (st == 409 and isinstance(ans, dict)
                                            and ans.get("error") == "exists")
            wait_for("user %s" % u, create, 60)
    for pool in sorted(cfg["pools"]):
        def synced(pool=pool):
            st, ans, _ = call_follow(cl, pool_writer(cl, pool), "POST",
                                     "/v1/backup/%s/sync?timeout=20" % pool, timeout=25)
            return st == 200 and isinstance(ans, dict) and ans.get("lag_records") == 0
        wait_for("backup sync of %s" % pool, synced, 60)
    wr = writers(cl) if cl.multi else {}
    print("client: cluster ready: pools %s paired (%s), CMS on pool-east, policy auto, %d users%s"
          % (", ".join(sorted(cfg["pools"])), h.get("pair_mode", "async"),
             sum(len(u) for u in h["users"].values()),
             "; writers %s" % ", ".join("%s %s" % kv for kv in sorted(wr.items()))
             if wr else ""),
          file=sys.stderr)


# ---- run: workers --------------------------------------------------------------

def worker(out, cfg, h, proc, deadline_ns, clock):
    cl = Cluster(cfg, h)
    rng = random.Random(h["seed"] * 1009 + proc)
    hist = History(os.path.join(out, "client", "p%d.jsonl" % proc), clock, proc)
    pools = sorted(cl.pool_agent)
    cache = dict(cl.pool_agent)
    written = []
    n = 0
    while clock.now() < deadline_ns:
        if written and rng.random() < 0.25:
            key, pool = rng.choice(written)
            sip, conf = key.split("|", 1)
            node = cache[pool]
            hist.op("invoke", "read", key, None, node)
            try:
                st, ans, node = call_follow(cl, node, "GET", "/v1/users/%s/conferences/%s"
                                            % (quote_sip(sip), conf), timeout=READ_TIMEOUT)
                if st == 200 and isinstance(ans, dict):
                    hist.op("ok", "read", key, ans.get("value"), node, user_set=pool,
                            epoch=ans.get("epoch"), seq=ans.get("seq"))
                elif st == 404:
                    hist.op("ok", "read", key, None, node, user_set=pool)
                else:
                    hist.op("fail", "read", key, None, node, error=err_text(st, ans))
            except NotSent as e:
                hist.op("fail", "read", key, None, node, error=str(e))
                cache[pool] = rng.choice(cl.pool_agents)
            except Indeterminate as e:
                hist.op("info", "read", key, None, node, error=str(e))
                cache[pool] = rng.choice(cl.pool_agents)
        else:
            n += 1
            pool = rng.choice(pools)
            sip = rng.choice(h["users"][pool])
            conf = "c%d-%d" % (proc, n)
            key = "%s|%s" % (sip, conf)
            value = "v%d-%d-%d" % (h["seed"], proc, n)
            # 30 % to a random agent instead of the believed owner's writer:
            # of the user's own pool when pools have several agents (an old
            # writer among them), of any pool otherwise
            if rng.random() < 0.7:
                node = cache[pool]
            elif cl.multi:
                node = rng.choice(cl.pool_members[pool])
            else:
                node = rng.choice(cl.pool_agents)
            hist.op("invoke", "write", key, value, node)
            path = "/v1/users/%s/conferences/%s" % (quote_sip(sip), conf)
            outcome, err, ans, maybe = "fail", "", None, False
            seen = {node}
            # a 421 is followed to the agent it names: not_owner to the
            # owner pool's writer, not_writer (a standby) to its writer
            for _ in range(4):
                try:
                    st, ans, _ = call(cl.api(node), "PUT", path, value, timeout=WRITE_TIMEOUT)
                except NotSent as e:
                    err = "%s: %s" % (node, e)
                    break
                except Indeterminate as e:
                    err = "%s: %s" % (node, e)
                    maybe = True
                    break
                if st in (200, 201) and isinstance(ans, dict):
                    outcome = "ok"
                    break
                nxt = redirect(cl, st, ans)
                if nxt is not None or st == 421:
                    err = "%s: %s" % (node, err_text(st, ans))
                    if nxt is None or nxt in seen:
                        break
                    seen.add(nxt)
                    node = nxt
                    continue
                err = "%s: %s" % (node, err_text(st, ans))
                # 504 and 503 'not_durable' (durable at a writer that
                # lost its role before the synchronous copy acknowledged
                # it: maybe in the data, maybe in its divergence archive)
                # leave the outcome open
                maybe = maybe or st == 504 or (
                    st == 503 and isinstance(ans, dict)
                    and ans.get("error") == "not_durable")
                break
            if outcome == "ok":
                hist.op("ok", "write", key, value, node, user_set=pool,
                        epoch=ans.get("epoch"), seq=ans.get("seq"))
                cache[pool] = node
                written.append((key, pool))
            else:
                hist.op("info" if maybe else "fail", "write", key, value, node,
                        user_set=pool, error=err)
                if maybe:
                    written.append((key, pool))
                cache[pool] = rng.choice(cl.pool_agents)
                time.sleep(0.05)
        time.sleep(0.01)


# ---- run: control plane -----------------------------------------------------------

def pool_states(cl, rng):
    names = list(cl.agents)
    rng.shuffle(names)
    for n in names:
        try:
            st, ans, _ = call(cl.api(n), "GET", "/v1/pools", timeout=2)
        except (NotSent, Indeterminate):
            continue
        if st == 200 and isinstance(ans, dict):
            return {p["name"]: p for p in ans.get("pools", [])}
    return None


def control(out, cfg, h, proc, deadline_ns, clock):
    """Owner and CMS reads; failbacks of recovering pools; in the planned and
    mixed scenarios planned failovers and CMS failovers on a seeded schedule."""
    cl = Cluster(cfg, h)
    rng = random.Random(h["seed"] * 7919 + 1)
    hist = History(os.path.join(out, "client", "p%d.jsonl" % proc), clock, proc)
    names = sorted(cl.agents)
    planned = h["scenario"] in ("planned", "mixed")
    next_planned = clock.now() + int(rng.uniform(5, 10) * 1e9)
    next_failback = 0

    def leader_op(f, key, value, path, body):
        node = rng.choice(names)
        hist.op("invoke", f, key, value, node)
        try:
            st, ans, api = call_leader(cl.api(node), "POST", path, body, timeout=CONTROL_TIMEOUT)
        except NotSent as e:
            hist.op("fail", f, key, value, node, error=str(e))
            return None
        except Indeterminate as e:
            hist.op("info", f, key, value, node, error=str(e))
            return None
        node = cl.name_of(api) or node
        if st == 200 and isinstance(ans, dict):
            ep = ans.get("epoch") if f != "cms-failover" else None
            hist.op("ok", f, key, value, node, epoch=ep)
            return ans
        unknown = st == 504 or (st == 503 and isinstance(ans, dict)
                                and ans.get("error") == "unavailable")
        hist.op("info" if unknown else "fail", f, key, value, node, error=err_text(st, ans))
        return None

    def leader_read(f, key, path, pick):
        """An owner or CMS read, at the Raft leader: reads are answered from
        the applied state of whichever agent is asked, and a follower cut off
        from the leader answers from its stale state; the leader answers from
        the newest committed state (a deposed leader steps down within an
        election timeout, long before any owner change)."""
        node = rng.choice(names)
        hist.op("invoke", f, key, None, node)
        try:
            st, ans, _ = call(cl.api(node), "GET", "/v1/status", timeout=2)
            if st != 200 or not isinstance(ans, dict):
                hist.op("fail", f, key, None, node, error="status: " + err_text(st, ans))
                return
            ld = (ans.get("cluster") or {}).get("leader") or {}
            if (ans.get("self") or {}).get("state") != "leader":
                lname = cl.name_of(ld.get("api") or "") if ld.get("api") else None
                if lname is None:
                    hist.op("fail", f, key, None, node, error="no leader known at " + node)
                    return
                node = lname
            st, ans, _ = call(cl.api(node), "GET", path, timeout=2)
            if st == 200 and isinstance(ans, dict):
                v = pick(ans)
                if v is not None:
                    hist.op("ok", f, key, v, node)
                    return
            hist.op("fail", f, key, None, node, error=err_text(st, ans))
        except NotSent as e:
            hist.op("fail", f, key, None, node, error=str(e))
        except Indeterminate as e:
            # a read changes nothing: the outcome does not matter
            hist.op("fail", f, key, None, node, error=str(e))

    def pick_owner(ans):
        p = ans.get("pool")
        if not isinstance(p, dict) or not isinstance(p.get("epoch"), int):
            return None
        return {"owner": p.get("owner"), "epoch": p["epoch"]}

    while clock.now() < deadline_ns:
        for pool in sorted(cl.pool_agent):
            leader_read("owner", pool, "/v1/pools/" + pool, pick_owner)
        leader_read("cms", "cms", "/v1/cms", lambda a: a.get("active"))

        now = clock.now()
        states = pool_states(cl, rng)
        left_s = (deadline_ns - now) / 1e9
        if states and now >= next_failback:
            for pool, p in sorted(states.items()):
                if p.get("state") != "recovering":
                    continue
                # ask first (not an operation: changes nothing), then act
                try:
                    st, ans, _ = call_leader(cl.api(rng.choice(names)), "POST",
                                             "/v1/pools/%s/failback?what_if=true" % pool, None, 5)
                except (NotSent, Indeterminate):
                    continue
                if st == 200 and isinstance(ans, dict) and ans.get("allowed") and left_s > 10:
                    leader_op("failback", pool, None, "/v1/pools/%s/failback" % pool, None)
                    next_failback = clock.now() + int(3e9)
        if planned and states and now >= next_planned and left_s > 15:
            normal = [p for p, v in sorted(states.items())
                      if v.get("state") == "normal" and v.get("owner") == p]
            what = rng.choice(["failover", "failover", "cms-failover"])
            if what == "cms-failover":
                st_cms = None
                try:
                    s, a, _ = call(cl.api(rng.choice(names)), "GET", "/v1/cms", timeout=2)
                    if s == 200 and isinstance(a, dict):
                        st_cms = a
                except (NotSent, Indeterminate):
                    pass
                if st_cms and st_cms.get("standby"):
                    leader_op("cms-failover", "cms", st_cms["standby"], "/v1/cms/failover", None)
            elif len(normal) == len(states):
                pool = rng.choice(normal)
                leader_op("failover", pool, {"disaster": False},
                          "/v1/pools/%s/failover" % pool, {"disaster": False})
            next_planned = clock.now() + int(rng.uniform(8, 15) * 1e9)
        time.sleep(0.5)


# ---- run: lag sampler ---------------------------------------------------------------

def lag_sampler(out, cfg, h, deadline_ns, clock):
    cl = Cluster(cfg, h)
    with open(os.path.join(out, "lag.jsonl"), "a", encoding="utf-8", buffering=1) as f:
        while clock.now() < deadline_ns:
            t_next = time.monotonic() + LAG_PERIOD
            for n in sorted(cl.agents):
                if not cl.agents[n].get("pool"):
                    continue
                try:
                    st, ans, _ = call(cl.api(n), "GET", "/v1/backup", timeout=1)
                except (NotSent, Indeterminate):
                    continue
                if st != 200 or not isinstance(ans, dict):
                    continue
                t = clock.now()
                for d in ans.get("backup") or []:
                    ls = d.get("lag_seconds")
                    f.write(json.dumps({
                        "time": t, "agent": n,
                        "direction": "%s->%s" % (d.get("from"), d.get("to")),
                        "user_set": d.get("user_set"),
                        "category": d.get("category"),
                        "lag_records": d.get("lag_records"),
                        "lag_ms": (ls * 1000.0) if isinstance(ls, (int, float)) else None,
                        "state": d.get("state")}, sort_keys=True) + "\n")
            time.sleep(max(0.0, t_next - time.monotonic()))


def merge_history(out):
    recs = []
    cdir = os.path.join(out, "client")
    for fn in sorted(os.listdir(cdir)):
        if not (fn.startswith("p") and fn.endswith(".jsonl")):
            continue
        with open(os.path.join(cdir, fn), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        recs.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by a killed process
    # a process killed between invoke and completion leaves its last invoke
    # open: it is indeterminate
    last = {}
    for r in recs:
        last[r["process"]] = r
    for p, r in last.items():
        if r["type"] == "invoke":
            c = dict(r, type="info", error="no completion recorded", _n=r["_n"] + 1)
            recs.append(c)
    recs.sort(key=lambda r: (r["time"], r["process"], r["_n"]))
    with open(os.path.join(out, "history.jsonl"), "w", encoding="utf-8") as f:
        for i, r in enumerate(recs):
            r.pop("_n", None)
            r["index"] = i
            f.write(json.dumps(r, sort_keys=True) + "\n")
    return recs


def run(out):
    cfg, h = load(out)
    clock = Clock(h["t0_ns"])
    deadline = h["duration_s"] * 1000000000
    open(os.path.join(out, "lag.jsonl"), "a").close()
    kids = []

    def spawn(fn, *args):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                fn(*args)
            except Exception as e:  # the process's own failure, reported
                print("client: process failed: %r" % e, file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        kids.append(pid)

    for p in range(h["workers"]):
        spawn(worker, out, cfg, h, p, deadline, clock)
    spawn(control, out, cfg, h, h["workers"], deadline, clock)
    spawn(lag_sampler, out, cfg, h, deadline, clock)

    def stop(_sig, _frm):
        for k in kids:
            try:
                os.kill(k, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, stop)
    bad = 0
    for k in kids:
        _, st = os.waitpid(k, 0)
        if st != 0:
            bad += 1
    recs = merge_history(out)
    oks = sum(1 for r in recs if r["type"] == "ok" and r["f"] == "write")
    print("client: %d operations, %d writes acknowledged" % (len(recs) // 2, oks), file=sys.stderr)
    if bad:
        raise SystemExit("client: %d workload processes failed" % bad)


# ---- final -------------------------------------------------------------------------

def status_of(cl, n):
    try:
        st, ans, _ = call(cl.api(n), "GET", "/v1/status", timeout=3)
    except (NotSent, Indeterminate):
        return None
    return ans if st == 200 and isinstance(ans, dict) else None


def converge(cl, seconds):
    """Every agent up with the same leader and state digest, no pool moving,
    every user set's owner caught up with its pair (backup sync lag 0)."""
    end = time.monotonic() + seconds
    why = ""
    while time.monotonic() < end:
        sts = {n: status_of(cl, n) for n in cl.agents}
        if any(v is None for v in sts.values()):
            why = "agents not answering: %s" % [n for n, v in sts.items() if v is None]
            time.sleep(1)
            continue
        leaders = {json.dumps((v.get("cluster") or {}).get("leader"), sort_keys=True)
                   for v in sts.values()}
        digests = {(v.get("cluster") or {}).get("state_digest") for v in sts.values()}
        if len(leaders) != 1 or "null" in leaders or len(digests) != 1:
            why = "leaders %s, digests %s" % (sorted(leaders), sorted(map(str, digests)))
            time.sleep(1)
            continue
        pools = {p["name"]: p for p in next(iter(sts.values())).get("pools", [])}
        moving = [p for p, v in pools.items() if str(v.get("state", "")).startswith("failing")]
        if moving:
            why = "pools moving: %s" % moving
            time.sleep(1)
            continue
        lagging = []
        wr = {}
        for p, v in pools.items():
            w = v.get("writer")
            if isinstance(w, dict) and w.get("id") and w.get("name") in cl.agents:
                wr[p] = w["name"]
        if cl.multi and any(p not in wr for p in cl.pool_members):
            why = "pools without a writer: %s" % sorted(set(cl.pool_members) - set(wr))
            time.sleep(1)
            continue
        for p, v in sorted(pools.items()):
            owner_agent = wr.get(v.get("owner")) or cl.pool_agent.get(v.get("owner"))
            if owner_agent is None:
                continue
            try:
                st, ans, _ = call_follow(cl, owner_agent, "POST",
                                         "/v1/backup/%s/sync?timeout=15" % p, timeout=20)
            except (NotSent, Indeterminate) as e:
                lagging.append("%s: %s" % (p, e))
                continue
            if not (st == 200 and isinstance(ans, dict) and ans.get("lag_records") == 0):
                lagging.append("%s: %s" % (p, err_text(st, ans)))
        if lagging:
            why = "replication behind: %s" % lagging
            time.sleep(1)
            continue
        return True, ""
    return False, why


def final(out):
    cfg, h = load(out)
    cl = Cluster(cfg, h)
    t = time.monotonic()
    converged, why = converge(cl, 120)
    print("client: %s after %.1fs%s" % ("converged" if converged else "NOT converged",
                                       time.monotonic() - t, "" if converged else ": " + why),
          file=sys.stderr)
    res = {"converged": converged}
    if not converged:
        res["not_converged_because"] = why
    # owners, from the leader (or any agent answering)
    owners = {}
    lapi = leader_api(cl)
    for api in ([lapi] if lapi else []) + [cl.api(n) for n in sorted(cl.agents)]:
        try:
            st, ans, _ = call(api, "GET", "/v1/pools", timeout=5)
        except (NotSent, Indeterminate):
            continue
        if st == 200 and isinstance(ans, dict):
            for p in ans.get("pools", []):
                owners[p["name"]] = {"owner": p.get("owner"), "epoch": p.get("epoch"),
                                     "state": p.get("state")}
            break
    res["owners"] = owners
    # the agent that answers for each pool: its writer (a standby answers
    # 421 not_writer, followed anyway)
    wr = writers(cl) if cl.multi else {}
    if wr:
        res["writers"] = wr
    # every key of a write invoke, read from the owner of its user set
    keys = []
    seen = set()
    with open(os.path.join(out, "history.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("f") == "write" and r.get("type") == "invoke" and r["key"] not in seen:
                seen.add(r["key"])
                keys.append(r["key"])
    data = {}
    unread = {}
    for key in keys:
        sip, conf = key.split("|", 1)
        us = cl.user_pool.get(sip)
        owner = (owners.get(us) or {}).get("owner") or us
        node = wr.get(owner) or cl.pool_agent.get(owner, cl.pool_agent[us])
        val, err = None, None
        for _ in range(3):
            try:
                st, ans, _ = call_follow(cl, node, "GET", "/v1/users/%s/conferences/%s"
                                         % (quote_sip(sip), conf), timeout=5)
            except (NotSent, Indeterminate) as e:
                err = str(e)
                time.sleep(0.5)
                continue
            if st == 200 and isinstance(ans, dict):
                val, err = ans.get("value"), None
            elif st == 404:
                val, err = None, None
            else:
                err = err_text(st, ans)
                time.sleep(0.5)
                continue
            break
        data[key] = val
        if err is not None:
            unread[key] = err
    res["data"] = data
    if unread:
        res["unread"] = unread
    # divergence archives
    div = {}
    for n in sorted(cl.agents):
        if not cl.agents[n].get("pool"):
            continue
        try:
            st, ans, _ = call(cl.api(n), "GET", "/v1/divergence?limit=10000", timeout=10)
        except (NotSent, Indeterminate) as e:
            div[n] = []
            res.setdefault("errors", []).append("divergence of %s: %s" % (n, e))
            continue
        entries = []
        if st == 200 and isinstance(ans, dict):
            for d in ans.get("divergence", []):
                k = d.get("key", "")
                # a conference's store key is SIP/ID; the history's is SIP|ID
                if k.startswith("sip:") and "/" in k:
                    s, c = k.split("/", 1)
                    k = s + "|" + c
                v = d.get("value")
                try:
                    v = json.loads(v) if isinstance(v, str) else v
                except ValueError:
                    pass
                entries.append({"key": k, "value": v, "epoch": d.get("epoch"),
                                "time": d.get("archived"), "user_set": d.get("user_set"),
                                "raw": d})
        else:
            res.setdefault("errors", []).append("divergence of %s: %s" % (n, err_text(st, ans)))
        div[n] = entries
    res["divergence"] = div
    # backup verify of each user set, at its owner, without repair
    ver = {}
    for pool in sorted(cfg["pools"]):
        owner = (owners.get(pool) or {}).get("owner") or pool
        node = wr.get(owner) or cl.pool_agent.get(owner, cl.pool_agent[pool])
        try:
            st, ans, _ = call_follow(cl, node, "POST", "/v1/backup/%s/verify?repair=false" % pool,
                                     timeout=140)
        except (NotSent, Indeterminate) as e:
            ver[pool] = {"equal": False, "differing": -1, "raw": {"error": str(e)}}
            continue
        if st == 200 and isinstance(ans, dict):
            d = ans.get("differences_total", 0)
            ver[pool] = {"equal": d == 0 and ans.get("complete", True) is not False,
                         "differing": d, "raw": ans}
        else:
            ver[pool] = {"equal": False, "differing": -1, "raw": {"status": st, "answer": ans}}
    res["verify"] = ver
    # the decision history, from the leader
    hist = []
    lapi = leader_api(cl) or cl.api("witness")
    try:
        st, ans, _ = call(lapi, "GET", "/v1/history?limit=256", timeout=10)
        if st == 200 and isinstance(ans, dict):
            # the API answers newest first; the checkers read oldest first
            hist = sorted((h for h in ans.get("history", []) if isinstance(h, dict)),
                          key=lambda h: h.get("seq") if isinstance(h.get("seq"), int) else 0)
    except (NotSent, Indeterminate) as e:
        res.setdefault("errors", []).append("history: %s" % e)
    res["history"] = hist
    tmp = os.path.join(out, "final.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "final.json"))
    lost = sum(1 for v in data.values() if v is None)
    print("client: final: %d keys read (%d absent), divergence %s, verify %s"
          % (len(data), lost, {n: len(v) for n, v in div.items()},
             {p: v["equal"] for p, v in ver.items()}), file=sys.stderr)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("setup", "run", "final"):
        print("usage: client.py setup|run|final OUT", file=sys.stderr)
        sys.exit(2)
    out = sys.argv[2]
    {"setup": setup, "run": run, "final": final}[sys.argv[1]](out)


if __name__ == "__main__":
    main()
