#!/usr/bin/env python3
"""Nemesis of the fault-injection harness: starts and stops faults on a
seeded schedule and logs each start and stop to OUT/nemesis.jsonl.

  nemesis.py --prefix jpPID --out OUT run    the scenario's schedule until the
                                             duration is over, then heal
  nemesis.py --prefix jpPID --out OUT heal   end every fault (idempotent)

Runs in the host's namespaces as root; reads OUT/run/harness.json. Faults:

  partition-site  one agent's site cut off from the other agents' sites (router)
  isolate         one agent cut off from every other agent (nft in its host)
  bridge          two agents cut from each other, both still reach the third
  ring            each agent keeps only its ring neighbours (with three agents:
                  one random link cut; every agent still sees a majority)
  oneway          packets from one agent to another dropped, not the reverse
  kill            kill -9 the agent; stop = restarted with its unit's command;
                  with detail wipe (scenario site-loss) its data_dir is
                  removed once it is dead: the site lost with its disks,
                  restarted on an empty data_dir
  pause           SIGSTOP; stop = SIGCONT
  clock           the agent's wall clock stepped and/or running at a rate
                  (libfaketime timestamp file, read again every second)
  loss            random loss between sites (nft numgen in the router)
  delay           one-way delay between sites (NFQUEUE in the router, held
                  by bench/nfq_delay)
  disk-full       the agent's data tmpfs filled to the last byte (ENOSPC)
  fsync-fail      fsync and fdatasync of the agent fail with EIO (libfiu)

Scenario writer-loss (two agents per pool) aims kill, pause and isolate at
the current writer of a pool, read from the leader's /v1/status when the
fault starts (the schedule draws the pool and the fault; detail.pool,
detail.writer and detail.token say whom it hit).

The client's own host is never cut off: the workload keeps reaching every
agent (an old owner that is cut off from the cluster still gets writes)."""

import argparse
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

NFQ_QUEUE = 7
TABLE = "jepsen"


def log(msg):
    print("nemesis: %s" % msg, file=sys.stderr, flush=True)


class Nemesis:
    def __init__(self, prefix, out):
        self.prefix = prefix
        self.out = out
        with open(os.path.join(out, "run", "harness.json"), encoding="utf-8") as f:
            self.h = json.load(f)
        if self.h["prefix"] != prefix:
            raise SystemExit("nemesis: prefix %s does not match the run's %s"
                             % (prefix, self.h["prefix"]))
        self.agents = self.h["agents"]
        self.names = sorted(self.agents)
        self.t0 = self.h["t0_ns"]
        self.state_path = os.path.join(out, "run", "nemesis-state.json")
        self.active = self._load_state()
        self.children = []
        self.log = open(os.path.join(out, "nemesis.jsonl"), "a", encoding="utf-8", buffering=1)

    # ---- bookkeeping ------------------------------------------------------
    def _load_state(self):
        try:
            with open(self.state_path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return []

    def _save_state(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.active, f)
        os.replace(tmp, self.state_path)

    def now(self):
        return time.monotonic_ns() - self.t0

    def record(self, typ, fault, targets, detail):
        self.log.write(json.dumps({"time": self.now(), "type": typ, "fault": fault,
                                   "targets": targets, "detail": detail}, sort_keys=True) + "\n")

    def reap(self):
        self.children = [c for c in self.children if c.poll() is None]

    # ---- helpers ------------------------------------------------------------
    def sh(self, args, input_text=None, check=True):
        r = subprocess.run(args, input=input_text, text=True, capture_output=True)
        if check and r.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode,
                                                    r.stderr.strip()))
        return r

    def pid(self, name):
        try:
            with open(os.path.join(self.agents[name]["run_dir"], "pid"), encoding="utf-8") as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self, name):
        p = self.pid(name)
        if p is None:
            return False
        try:
            with open("/proc/%d/stat" % p, encoding="utf-8") as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
            return st not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def start_agent(self, name):
        d = self.agents[name]["run_dir"]
        c = subprocess.Popen(["setsid", "sh", os.path.join(d, "start.sh")],
                             stdin=subprocess.DEVNULL)
        self.children.append(c)
        with open(os.path.join(d, "pid.tmp"), "w", encoding="utf-8") as f:
            f.write("%d\n" % c.pid)
        os.replace(os.path.join(d, "pid.tmp"), os.path.join(d, "pid"))
        return c.pid

    def data_dir(self, name):
        """The agent's data_dir as jepsen/run configured it."""
        d = self.agents[name]["run_dir"]
        if name in self.h.get("disk_agents", []):
            return os.path.join(d, "disk", "data")
        return os.path.join(d, "data")

    def wipe(self, name, detail):
        """The agent's data_dir removed, once its process is gone (a dead
        process keeps nothing open that could write it again)."""
        for _ in range(100):
            if not self.alive(name):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("%s still alive after kill -9: not wiped" % name)
        path = self.data_dir(name)
        size = 0
        for root, _dirs, files in os.walk(path):
            for fn in files:
                try:
                    size += os.path.getsize(os.path.join(root, fn))
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)
        detail["wiped"] = path
        detail["wiped_bytes"] = size

    def api_get(self, name, path):
        """GET of an agent's API from the client's host (the host itself is
        not cabled to the agents); None when it does not answer."""
        url = "http://%s:7101%s" % (self.addr(name), path)
        r = subprocess.run(["ip", "netns", "exec", self.h["client_ns"], "curl", "-sf",
                            "--max-time", "2", url], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def settled(self, name):
        """The pool of agent NAME is owned by it again (normal, failed back)
        and its copy at the pair is caught up in sync mode: losing the
        agent's disk now loses nothing acknowledged. The pair must not be
        the only copy left when a disk goes (a second disaster)."""
        pool = self.agents[name].get("pool")
        st = self.api_get(name, "/v1/status")
        if not st:
            return False
        p = [x for x in st.get("pools", []) if x.get("name") == pool]
        if not p or p[0].get("state") != "normal" or p[0].get("owner") != pool:
            return False
        b = self.api_get(name, "/v1/backup")
        if not b or b.get("mode") != "sync":
            return False
        rows = [d for d in b.get("backup", []) if d.get("from") == pool]
        return bool(rows) and all(d.get("lag_records") == 0 and d.get("connection") == "streaming"
                                  for d in rows)

    def status(self):
        """GET /v1/status of the Raft leader (of any agent answering when
        none says it leads); None when no agent answers."""
        first = None
        for n in self.names:
            st = self.api_get(n, "/v1/status")
            if not st:
                continue
            if (st.get("self") or {}).get("state") == "leader":
                return st
            if first is None:
                first = st
        return first

    def writer_of(self, pool):
        """(name, token) of the writer of pool as the leader sees it, or
        (None, None)."""
        st = self.status()
        for p in (st or {}).get("pools", []):
            w = p.get("writer")
            if p.get("name") == pool and isinstance(w, dict) and w.get("id") \
                    and w.get("name") in self.agents:
                return w["name"], w.get("token")
        return None, None

    def pools_settled(self, want_sync_standby):
        """Every paired pool owns its user set again (normal), has a writer,
        and its copy at the pair is caught up in sync mode; with
        want_sync_standby also, when the agents report one (slice with hot
        standbys), a synchronous standby: the next writer lost is then
        taken over locally, not by the pair."""
        st = self.status()
        if not st:
            return False
        for p in st.get("pools", []):
            pool = p.get("name")
            if not p.get("pair"):
                continue
            w = p.get("writer")
            if p.get("state") != "normal" or p.get("owner") != pool or \
                    not isinstance(w, dict) or w.get("name") not in self.agents:
                return False
            ss = p.get("sync_standby")
            if isinstance(ss, dict):
                ss = ss.get("id")
            if want_sync_standby and p.get("standbys") and \
                    "sync_standby" in p and not ss:
                return False
            b = self.api_get(w["name"], "/v1/backup")
            if not b or b.get("mode") != "sync":
                return False
            rows = [d for d in b.get("backup", []) if d.get("from") == pool]
            if not rows or not all(d.get("lag_records") == 0 and
                                   d.get("connection") == "streaming" for d in rows):
                return False
        return True

    def addr(self, name):
        return self.agents[name]["addr"]

    def site_net(self, name):
        return self.h["site_nets"][self.agents[name]["site"]]

    def agent_nets(self):
        return sorted(set(self.h["site_nets"][a["site"]] for a in self.agents.values()))

    # ---- nft -------------------------------------------------------------------
    def render_router(self):
        rules = []
        for f in self.active:
            k, t, d = f["fault"], f["targets"], f["detail"]
            if k == "partition-site":
                s = self.site_net(t[0])
                others = sorted(set(self.site_net(n) for n in self.names) - {s})
                o = "{ %s }" % ", ".join(others)
                rules.append("ip saddr %s ip daddr %s drop" % (s, o))
                rules.append("ip saddr %s ip daddr %s drop" % (o, s))
            elif k in ("bridge", "ring"):
                for a, b in d["cut"]:
                    rules.append("ip saddr %s ip daddr %s drop" % (self.addr(a), self.addr(b)))
                    rules.append("ip saddr %s ip daddr %s drop" % (self.addr(b), self.addr(a)))
            elif k == "oneway":
                rules.append("ip saddr %s ip daddr %s drop" % (self.addr(t[0]), self.addr(t[1])))
        nets = "{ %s }" % ", ".join(self.agent_nets())
        for f in self.active:
            if f["fault"] == "loss":
                rules.append("ip saddr %s ip daddr %s numgen random mod 100 < %d drop"
                             % (nets, nets, f["detail"]["percent"]))
        return "chain jfwd { type filter hook forward priority 0; policy accept;\n%s\n}" % \
            "\n".join(rules)

    def render_agent(self, name):
        others = [self.addr(n) for n in self.names if n != name]
        iso = any(f["fault"] == "isolate" and f["targets"][0] == name for f in self.active)
        if not iso:
            return None
        o = "{ %s }" % ", ".join(others)
        return ("chain jin { type filter hook input priority 0; policy accept;\n"
                "ip saddr %s drop\n}\n"
                "chain jout { type filter hook output priority 0; policy accept;\n"
                "ip daddr %s drop\n}" % (o, o))

    def nft_apply(self, ns, body):
        script = "table inet %s\ndelete table inet %s\n" % (TABLE, TABLE)
        if body:
            script += "table inet %s {\n%s\n}\n" % (TABLE, body)
        self.sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], input_text=script)

    def apply_net(self):
        self.nft_apply(self.h["router_ns"], self.render_router())
        for n in self.names:
            self.nft_apply(self.agents[n]["ns"], self.render_agent(n))
        self.apply_queue(any(f["fault"] == "delay" for f in self.active))

    def apply_queue(self, on):
        """The packets between sites go through NFQUEUE while a delay is on.
        This kernel has no nft queue expression (nft_queue), so it is the
        iptables NFQUEUE target (xt) in the router's FORWARD chain, which
        holds nothing else; --queue-bypass lets packets pass while no
        program is bound to the queue."""
        ns = self.h["router_ns"]
        self.sh(["ip", "netns", "exec", ns, "iptables", "-w", "-F", "FORWARD"])
        if not on:
            return
        nets = self.agent_nets()
        for a in nets:
            for b in nets:
                if a != b:
                    self.sh(["ip", "netns", "exec", ns, "iptables", "-w", "-A", "FORWARD",
                             "-s", a, "-d", b, "-j", "NFQUEUE", "--queue-num", str(NFQ_QUEUE),
                             "--queue-bypass"])

    # ---- delay program ----------------------------------------------------------
    def nfq_pidfile(self):
        return os.path.join(self.out, "run", "nfq_delay.pid")

    def nfq_start(self, ms):
        c = subprocess.Popen(["ip", "netns", "exec", self.h["router_ns"], self.h["nfq_delay"],
                              "--queue", str(NFQ_QUEUE), "--delay-ms", str(ms)],
                             stdin=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.out, "run", "nfq_delay.log"), "a"))
        self.children.append(c)
        with open(self.nfq_pidfile(), "w", encoding="utf-8") as f:
            f.write("%d\n" % c.pid)
        time.sleep(0.2)
        if c.poll() is not None:
            raise RuntimeError("nfq_delay exited %d (run/nfq_delay.log)" % c.returncode)

    def nfq_stop(self):
        try:
            with open(self.nfq_pidfile(), encoding="utf-8") as f:
                p = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(50):
            self.reap()
            try:
                os.kill(p, 0)
                with open("/proc/%d/stat" % p, encoding="utf-8") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except (ProcessLookupError, OSError):
                break
            time.sleep(0.1)
        try:
            os.unlink(self.nfq_pidfile())
        except OSError:
            pass

    # ---- faults -----------------------------------------------------------------
    def faketime_file(self, name):
        return os.path.join(self.agents[name]["run_dir"], "faketime")

    def write_faketime(self, name, spec):
        p = self.faketime_file(name)
        with open(p + ".tmp", "w", encoding="utf-8") as f:
            f.write(spec + "\n")
        os.replace(p + ".tmp", p)

    def fill_path(self, name):
        return os.path.join(self.agents[name]["run_dir"], "disk", "fill")

    def fiu(self, name, cmd):
        p = self.pid(name)
        if p is None:
            raise RuntimeError("no pid for %s" % name)
        self.sh(["fiu-ctrl", "-c", cmd, str(p)])

    def start(self, fault, targets, detail):
        f = {"fault": fault, "targets": targets, "detail": detail}
        if fault == "kill":
            p = self.pid(targets[0])
            if p is not None:
                try:
                    os.killpg(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            detail["pid"] = p
            if detail.get("wipe"):
                self.wipe(targets[0], detail)
        elif fault == "pause":
            p = self.pid(targets[0])
            detail["pid"] = p
            os.kill(p, signal.SIGSTOP)
        elif fault == "clock":
            spec = "%+ds x%s" % (detail["offset_s"], detail["rate"])
            detail["faketime"] = spec
            self.write_faketime(targets[0], spec)
        elif fault == "disk-full":
            # unbuffered writes until ENOSPC, then smaller ones down to the
            # last free block: nothing is left in a buffer to fail later
            fd = os.open(self.fill_path(targets[0]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for size in (1 << 20, 1 << 16, 4096, 512):
                    chunk = b"\0" * size
                    while True:
                        try:
                            if os.write(fd, chunk) < size:
                                break
                        except OSError as e:
                            if e.errno != errno.ENOSPC:
                                raise
                            break
            finally:
                os.close(fd)
            detail["filled_bytes"] = os.path.getsize(self.fill_path(targets[0]))
        elif fault == "fsync-fail":
            self.fiu(targets[0], "enable name=posix/io/sync/*,failinfo=%d" % errno.EIO)
        elif fault == "delay":
            self.nfq_start(detail["ms"])
        self.active.append(f)
        self._save_state()
        if fault in ("partition-site", "isolate", "bridge", "ring", "oneway", "loss", "delay"):
            try:
                self.apply_net()
            except RuntimeError:
                self.active.remove(f)
                self._save_state()
                if fault == "delay":
                    self.nfq_stop()
                self.apply_net()
                raise
        self.record("start", fault, targets, detail)
        log("start %s %s %s" % (fault, ",".join(targets), json.dumps(detail, sort_keys=True)))

    def stop(self, f):
        fault, targets, detail = f["fault"], f["targets"], dict(f["detail"])
        self.active = [a for a in self.active if a is not f and a != f]
        self._save_state()
        if fault in ("partition-site", "isolate", "bridge", "ring", "oneway", "loss", "delay"):
            try:
                self.apply_net()
            except RuntimeError as e:
                detail["error"] = str(e)
        if fault == "delay":
            self.nfq_stop()
        elif fault == "kill":
            detail["pid"] = self.start_agent(targets[0])
        elif fault == "pause":
            p = self.pid(targets[0])
            if p is not None:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        elif fault == "clock":
            self.write_faketime(targets[0], "+0")
        elif fault == "disk-full":
            try:
                os.unlink(self.fill_path(targets[0]))
            except OSError:
                pass
        elif fault == "fsync-fail":
            try:
                self.fiu(targets[0], "disable name=posix/io/sync/*")
            except RuntimeError as e:
                detail["error"] = str(e)
        self.record("stop", fault, targets, detail)
        log("stop %s %s" % (fault, ",".join(targets)))

    def heal(self):
        """Ends every fault; restarts an agent found dead; logs 'heal'."""
        for f in list(self.active):
            try:
                self.stop(f)
            except (RuntimeError, OSError) as e:
                log("stopping %s: %s" % (f["fault"], e))
        self.active = []
        self._save_state()
        self.apply_net()
        self.nfq_stop()
        restarted = []
        for n in self.names:
            p = self.pid(n)
            if p is not None:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            if n in self.h.get("clock_agents", []):
                self.write_faketime(n, "+0")
            if n in self.h.get("disk_agents", []):
                try:
                    os.unlink(self.fill_path(n))
                except OSError:
                    pass
            if not self.alive(n):
                log("%s found dead: restarted (see logs/%s.log)" % (n, n))
                self.start_agent(n)
                restarted.append(n)
        self.record("stop", "heal", [], {"restarted_dead": restarted})
        log("healed%s" % ("; restarted dead " + ",".join(restarted) if restarted else ""))


# ---- schedules -------------------------------------------------------------------

NET_FAULTS = ("partition-site", "isolate", "bridge", "ring", "oneway")
# a target standing for the writer of a pool when the fault starts
WRITER_OF = "@writer:"
ALL_FAULTS = NET_FAULTS + ("kill", "pause", "clock", "loss", "delay", "disk-full", "fsync-fail")


def make_fault(rng, kind, nem):
    names = nem.names
    lease = nem.h["defaults"]["lease_ms"] / 1000.0
    grace = nem.h["defaults"]["grace_ms"] / 1000.0
    if kind in ("partition-site", "isolate", "kill", "pause"):
        tgt = [rng.choice(names)]
        d = {}
        if kind == "pause":
            d["hold_min_s"] = lease + grace + 1
        return kind, tgt, d
    if kind == "bridge":
        mid = rng.choice(names)
        a, b = [n for n in names if n != mid][:2]
        return kind, [mid], {"cut": [[a, b]]}
    if kind == "ring":
        order = list(names)
        rng.shuffle(order)
        n = len(order)
        if n <= 3:
            cut = [sorted(rng.sample(order, 2))]
        else:
            keep = {frozenset((order[i], order[(i + 1) % n])) for i in range(n)}
            cut = [sorted(p) for p in {frozenset((x, y)) for x in order for y in order if x != y}
                   if p not in keep]
        return kind, order, {"cut": cut}
    if kind == "oneway":
        a, b = rng.sample(names, 2)
        return kind, [a, b], {}
    if kind == "clock":
        tgt = [rng.choice(nem.h["clock_agents"])]
        off = rng.choice([-1, 1]) * rng.randint(30, 300)
        rate = rng.choice(["1", "1", "0.5", "0.9", "1.1", "2"])
        if rng.random() < 0.3:
            off = 0
            rate = rng.choice(["0.5", "2"])
        return kind, tgt, {"offset_s": off, "rate": rate, "clock": "realtime"}
    if kind == "loss":
        return kind, [], {"percent": rng.randint(10, 40), "between": "sites"}
    if kind == "delay":
        return kind, [], {"ms": rng.randint(30, 150), "between": "sites", "one_way": True}
    if kind in ("disk-full", "fsync-fail"):
        return kind, [rng.choice(nem.h["disk_agents"])], {}
    raise ValueError(kind)


def episode(rng, nem):
    """A list of faults to start together and how long to hold them."""
    sc = nem.h["scenario"]
    if sc == "partition-site":
        return [("partition-site", ["east"], {})], rng.uniform(8, 15), rng.uniform(8, 14)
    if sc == "kill-owner":
        return [("kill", ["east"], {})], rng.uniform(8, 15), rng.uniform(10, 15)
    if sc == "site-loss":
        # east's site lost with its disks; restarted empty, it rejoins, is
        # rebuilt from west and failed back by the workload's control
        # process; run() waits for that before the next loss
        return [("kill", ["east"], {"wipe": True})], rng.uniform(8, 15), rng.uniform(3, 6)
    if sc == "pause-owner":
        lease = nem.h["defaults"]["lease_ms"] / 1000.0
        grace = nem.h["defaults"]["grace_ms"] / 1000.0
        return [("pause", ["east"], {})], rng.uniform(lease + grace + 2, lease + grace + 8), \
            rng.uniform(8, 14)
    if sc == "clock":
        k, t, d = make_fault(rng, "clock", nem)
        faults = [(k, t, d)]
        # now and then the agent with the wrong clock is also cut off: its
        # lease (monotonic) must still run out and the failover happen
        if rng.random() < 0.4:
            faults.append(("partition-site", list(t), {}))
        return faults, rng.uniform(10, 20), rng.uniform(5, 10)
    if sc == "loss-delay":
        return [make_fault(rng, "loss", nem), make_fault(rng, "delay", nem)], \
            rng.uniform(10, 20), rng.uniform(5, 10)
    if sc == "disk":
        # the data tmpfs full, then fsync failing, in turn
        nem.episodes = getattr(nem, "episodes", 0) + 1
        kind = "disk-full" if nem.episodes % 2 == 1 else "fsync-fail"
        return [make_fault(rng, kind, nem)], rng.uniform(6, 8), rng.uniform(3, 5)
    if sc == "writer-loss":
        # the writer of a pool (resolved when the fault starts, see run())
        # killed, paused past its lease or cut off from every other agent
        lease = nem.h["defaults"]["lease_ms"] / 1000.0
        grace = nem.h["defaults"]["grace_ms"] / 1000.0
        pools = sorted(p for p in nem.h["users"]
                       if sum(1 for a in nem.agents.values() if a.get("pool") == p) > 1)
        pool = rng.choice(pools)
        kind = rng.choice(["kill", "pause", "isolate"])
        if kind == "kill":
            hold = rng.uniform(5, 12)
        elif kind == "pause":
            hold = rng.uniform(lease + grace + 2, lease + grace + 8)
        else:
            hold = rng.uniform(8, 15)
        return [(kind, [WRITER_OF + pool], {"pool": pool})], hold, rng.uniform(4, 8)
    if sc == "planned":
        return [], 1.0, 1.0
    # mixed
    allowed = list(nem.h.get("faults") or ALL_FAULTS)
    if not nem.h.get("clock_agents"):
        allowed = [f for f in allowed if f != "clock"]
    if not nem.h.get("disk_agents"):
        allowed = [f for f in allowed if f not in ("disk-full", "fsync-fail")]
    if not allowed:
        return [], 1.0, 1.0
    k = 1 if rng.random() < 0.5 or len(allowed) == 1 else 2
    kinds = rng.sample(allowed, k)
    # at most one network layout at a time; loss and delay go with any
    nets = [x for x in kinds if x in NET_FAULTS]
    if len(nets) > 1:
        kinds.remove(nets[1])
    faults = []
    used = set()
    for kind in kinds:
        kf, t, d = make_fault(rng, kind, nem)
        if kind in ("kill", "pause") and t[0] in used:
            continue
        if kind in ("kill", "pause"):
            used.add(t[0])
        faults.append((kf, t, d))
    return faults, rng.uniform(8, 20), rng.uniform(5, 12)


def run(nem):
    rng = random.Random(nem.h["seed"])
    stop_req = []

    def on_term(_s, _f):
        stop_req.append(1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    # every fault ends (heal) this long before the workload stops, so that
    # the checkers see the cluster take writes again after the last heal
    tail = min(10.0, nem.h["duration_s"] / 4.0)
    dur = (nem.h["duration_s"] - tail) * 1e9

    def sleep_until(t_ns):
        while not stop_req and nem.now() < t_ns:
            nem.reap()
            time.sleep(min(0.2, max(0.0, (t_ns - nem.now()) / 1e9)))

    sleep_until(5e9)
    while not stop_req:
        faults, hold, gap = episode(rng, nem)
        if nem.h["scenario"] == "site-loss":
            # the next disk lost only once the last loss is repaired
            while not stop_req and nem.now() + hold * 1e9 <= dur - 3e9 and \
                    not nem.settled("east"):
                nem.reap()
                time.sleep(0.5)
        if nem.h["scenario"] == "writer-loss":
            # the next writer lost only once both pools are back to normal
            # and caught up (a pool failed over to its pair by the last
            # loss is failed back first): one disaster at a time; for 20 s
            # also until a standby is in sync again where there is one
            t_wait = nem.now()
            while not stop_req and nem.now() + hold * 1e9 <= dur - 3e9 and \
                    not nem.pools_settled(nem.now() - t_wait < 20e9):
                nem.reap()
                time.sleep(0.5)
        if nem.now() + hold * 1e9 > dur - 3e9:
            break
        started = []
        try:
            for k, t, d in faults:
                if t and t[0].startswith(WRITER_OF):
                    w, token = nem.writer_of(t[0][len(WRITER_OF):])
                    if w is None:
                        raise RuntimeError("no writer of %s known" % t[0][len(WRITER_OF):])
                    t = [w]
                    d = dict(d, writer=w, token=token)
                nem.start(k, t, d)
                started.append(nem.active[-1])
        except (RuntimeError, OSError) as e:
            log("could not start %s: %s" % (faults, e))
        sleep_until(nem.now() + hold * 1e9)
        for f in reversed(started):
            try:
                nem.stop(f)
            except (RuntimeError, OSError) as e:
                log("could not stop %s: %s" % (f["fault"], e))
        sleep_until(nem.now() + gap * 1e9)
    sleep_until(dur)
    # agents restarted here keep running after this process exits: jepsen/run
    # stops them by their pid files
    nem.heal()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("what", choices=["run", "heal"])
    a = ap.parse_args()
    nem = Nemesis(a.prefix, a.out)
    if a.what == "run":
        run(nem)
    else:
        nem.heal()


if __name__ == "__main__":
    main()
