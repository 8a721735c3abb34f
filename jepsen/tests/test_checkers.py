"""Checkers of jepsen/ on small hand-made runs: valid histories pass,
known-bad ones fail, and check.py answers with the right exit code.

python3 -m unittest discover -s jepsen/tests   (or jepsen/test-checkers)
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
JEPSEN = os.path.dirname(HERE)
sys.path.insert(0, JEPSEN)

from checkers import (linearizable, liveness, nothing_lost,  # noqa: E402
                      one_leader, one_owner, rto, timeline)
from checkers.run import InputError, load  # noqa: E402

MS = 1_000_000
START_WALL = 1_790_000_000_000


def config(**kw):
    c = {"seed": 1, "scenario": "test", "start_wall_ms": START_WALL,
         "lease_ms": 2000, "grace_ms": 1000, "heartbeat_ms": 250,
         "rto_bound_ms": 5000, "rpo_window_ms": 1000, "sync": False,
         "pools": {"pool-east": {"agent": "east", "pair": "pool-west",
                                 "site": "east"},
                   "pool-west": {"agent": "west", "pair": "pool-east",
                                 "site": "west"}},
         "agents": {"east": {"addr": "10.0.0.1", "api": "http://e",
                             "pool": "pool-east", "site": "east"},
                    "west": {"addr": "10.0.0.2", "api": "http://w",
                             "pool": "pool-west", "site": "west"},
                    "witness": {"addr": "10.0.0.3", "api": "http://x",
                                "pool": None, "site": "witness"}},
         "unsafe": False}
    c.update(kw)
    return c


def two_agents_per_pool():
    """config() keywords for east, east2 (pool-east) and west, west2
    (pool-west) beside the witness."""
    c = config()
    agents = dict(c["agents"])
    agents["east2"] = {"addr": "10.0.0.4", "api": "http://e2",
                       "pool": "pool-east", "site": "east"}
    agents["west2"] = {"addr": "10.0.0.5", "api": "http://w2",
                       "pool": "pool-west", "site": "west"}
    pools = {p: dict(v, agents=sorted(n for n, a in agents.items()
                                      if a["pool"] == p))
             for p, v in c["pools"].items()}
    return {"agents": agents, "pools": pools}


class Run:
    """A run folder under construction; times in ms."""

    def __init__(self, **cfg):
        self.config = config(**cfg)
        self.ops = []
        self.nemesis = []
        self.lag = []
        self.final = {"converged": True,
                      "owners": {"pool-east": {"owner": "pool-east",
                                               "epoch": 1},
                                 "pool-west": {"owner": "pool-west",
                                               "epoch": 1}},
                      "data": {}, "divergence": {},
                      "verify": {"pool-east": {"equal": True,
                                               "differing": 0, "raw": {}},
                                 "pool-west": {"equal": True,
                                               "differing": 0, "raw": {}}},
                      "history": []}
        self.logs = {}
        self.next_process = 0

    def op(self, f, key, t0, t1, typ="ok", value=None, result=None,
           process=None, node=None, **extra):
        if process is None:
            process = self.next_process
            self.next_process += 1
        self.ops.append({"process": process, "f": f, "key": key,
                         "t0": t0, "t1": t1, "type": typ, "value": value,
                         "result": result, "node": node, "extra": extra})

    def write(self, key, t0, t1, node, epoch, typ="ok", user_set=None,
              value=None, **kw):
        user_set = user_set or self.config["agents"][node]["pool"]
        value = value if value is not None else "v-" + key
        extra = {"user_set": user_set, "epoch": epoch} if typ == "ok" \
            else {}
        extra.update(kw)
        self.op("write", key, t0, t1, typ, value=value, result=value,
                node=node, **extra)
        return value

    def owner(self, pool, t0, t1, owner, epoch, typ="ok"):
        self.op("owner", pool, t0, t1, typ,
                result={"owner": owner, "epoch": epoch} if typ == "ok"
                else None, node="witness")

    def fault(self, fault, targets, t0, t1=None):
        self.nemesis.append({"time": t0 * MS, "type": "start",
                             "fault": fault, "targets": targets,
                             "detail": {}})
        if t1 is not None:
            self.nemesis.append({"time": t1 * MS, "type": "stop",
                                 "fault": fault, "targets": targets,
                                 "detail": {}})

    def decision(self, t, what, who="api:client"):
        h = self.final["history"]
        h.append({"seq": len(h) + 1, "time_ms": START_WALL + t,
                  "time": "", "who": who, "what": what, "result": "ok",
                  "code": "ok", "reason": "", "forced": False})

    def entries(self):
        evs = []
        for o in self.ops:
            inv = {"time": o["t0"] * MS, "type": "invoke",
                   "process": o["process"], "f": o["f"], "key": o["key"],
                   "value": o["value"]}
            if o["node"]:
                inv["node"] = o["node"]
            evs.append((o["t0"], 0, inv))
            if o["t1"] is None:
                continue
            comp = {"time": o["t1"] * MS, "type": o["type"],
                    "process": o["process"], "f": o["f"], "key": o["key"],
                    "value": o["result"] if o["type"] == "ok" else
                    o["value"]}
            if o["node"]:
                comp["node"] = o["node"]
            comp.update(o["extra"])
            evs.append((o["t1"], 1, comp))
        evs.sort(key=lambda e: (e[0], e[1]))
        out = []
        for i, (_, _, e) in enumerate(evs):
            e = dict(e)
            e["index"] = i
            out.append(e)
        return out

    def save(self, path):
        os.makedirs(os.path.join(path, "logs"), exist_ok=True)
        with open(os.path.join(path, "config.json"), "w") as fh:
            json.dump(self.config, fh)
        with open(os.path.join(path, "history.jsonl"), "w") as fh:
            for e in self.entries():
                fh.write(json.dumps(e) + "\n")
        for name, rows in (("nemesis.jsonl", self.nemesis),
                           ("lag.jsonl", self.lag)):
            with open(os.path.join(path, name), "w") as fh:
                for r in rows:
                    fh.write(json.dumps(r) + "\n")
        with open(os.path.join(path, "final.json"), "w") as fh:
            json.dump(self.final, fh)
        for agent, lines in self.logs.items():
            with open(os.path.join(path, "logs", agent + ".log"), "w") as fh:
                fh.write("\n".join(lines) + "\n")


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jepsen-check-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def load(self, r):
        path = os.path.join(self.dir, "run%d" % len(os.listdir(self.dir)))
        r.save(path)
        return load(path)

    def run_check(self, fn, r, **kw):
        res = fn(self.load(r), **kw)
        json.dumps(res, allow_nan=False)   # the verdict stays plain JSON
        return res


# ---- linearizable ----

class TestLinearizable(Base):
    def failover_story(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.op("failover", "pool-east", 10, 20, value={"disaster": False})
        r.owner("pool-east", 12, 14, "pool-east", 1)   # concurrent: old
        r.owner("pool-east", 15, 30, "pool-west", 2)   # concurrent: new
        r.owner("pool-east", 25, 28, "pool-west", 2)
        r.op("failback", "pool-east", 40, 50)
        r.owner("pool-east", 55, 60, "pool-east", 3)
        r.owner("pool-west", 0, 60, "pool-west", 7)
        return r

    def test_valid(self):
        res = self.run_check(linearizable.check, self.failover_story())
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["keys"]["pool-east"]["result"], "linearizable")

    def test_stale_owner_read_after_failover(self):
        r = self.failover_story()
        r.owner("pool-east", 32, 34, "pool-east", 1)   # after west, 2 seen
        res = self.run_check(linearizable.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["keys"]["pool-east"]["result"],
                         "not linearizable")
        self.assertEqual(res["violations"][0]["key"], "pool-east")
        self.assertIn("index", res["violations"][0]["ops"][0])

    def test_owner_change_without_any_cause(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.owner("pool-east", 10, 15, "pool-west", 2)
        self.assertFalse(self.run_check(linearizable.check, r)["valid"])

    def test_epoch_skipped(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.op("failover", "pool-east", 10, 20, value={"disaster": True})
        r.owner("pool-east", 25, 30, "pool-west", 3)
        self.assertFalse(self.run_check(linearizable.check, r)["valid"])

    def test_failed_and_unanswered_failovers(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.op("failover", "pool-east", 6, 8, typ="fail",
             value={"disaster": False}, error="409 pool_alive")
        r.owner("pool-east", 9, 10, "pool-east", 1)
        r.op("failover", "pool-east", 11, 15, typ="info",
             value={"disaster": False}, error="timeout")
        r.owner("pool-east", 16, 17, "pool-east", 1)   # not yet applied
        r.owner("pool-east", 40, 41, "pool-west", 2)   # applied later
        self.assertTrue(self.run_check(linearizable.check, r)["valid"])

    def test_ok_failover_that_was_impossible(self):
        r = Run()
        r.op("failover", "pool-east", 0, 5, value={"disaster": False})
        r.op("failover", "pool-east", 10, 15, value={"disaster": False})
        self.assertFalse(self.run_check(linearizable.check, r)["valid"])

    def test_automatic_failover_from_history(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.owner("pool-east", 4000, 4010, "pool-west", 2)
        r.decision(3000, "failover pool-east to pool-west (disaster, "
                   "3 records at risk)", who="leader:auto")
        r.final["owners"]["pool-east"] = {"owner": "pool-west", "epoch": 2}
        res = self.run_check(linearizable.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(len(res["automatic_changes"]), 1)

    def test_automatic_failover_as_the_agent_words_it(self):
        # the text the agent commits for an automatic failover (fsm_failover.c)
        r = Run()
        r.op("cms", "cms", 0, 5, result="pool-east")
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.owner("pool-east", 4000, 4010, "pool-west", 2)
        r.op("cms", "cms", 4020, 4030, result="pool-west")
        r.decision(3000, "automatic failover pool-east to pool-west with the "
                   "cms (disaster, nothing at risk)", who="leader:auto")
        r.final["owners"]["pool-east"] = {"owner": "pool-west", "epoch": 2}
        res = self.run_check(linearizable.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["automatic_changes"],
                         [r.final["history"][-1]["what"]])

    def test_planned_move_completed_by_the_leader(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.op("failover", "pool-east", 1000, 3000, value={"disaster": False})
        r.decision(1010, "begin planned failover pool-east to pool-west "
                   "(nothing at risk)", who="jepsen@client")
        r.decision(2500, "complete failover pool-east to pool-west with the "
                   "cms (nothing at risk)", who="leader:drained")
        r.owner("pool-east", 3100, 3110, "pool-west", 2)
        r.final["owners"]["pool-east"] = {"owner": "pool-west", "epoch": 2}
        res = self.run_check(linearizable.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["automatic_changes"], [])

    def test_automatic_failover_under_a_clock_fault(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.owner("pool-east", 3990, 4000, "pool-east", 1)
        r.owner("pool-east", 4100, 4110, "pool-west", 2)
        # the leader's clock runs 60 s ahead: its time is far off
        r.decision(64050, "failover pool-east to pool-west (disaster, "
                   "0 records at risk)", who="leader:auto")
        r.final["owners"]["pool-east"] = {"owner": "pool-west", "epoch": 2}
        self.assertFalse(self.run_check(linearizable.check, r)["valid"])
        r.fault("clock", ["witness"], 1000, 9000)
        r.nemesis[-2]["detail"] = {"offset_s": 60, "rate": "1"}
        self.assertTrue(self.run_check(linearizable.check, r)["valid"])

    def test_timed_out_failover_may_have_happened(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.op("failover", "pool-east", 10, 20, typ="fail",
             value={"disaster": False}, error="504 timeout")
        r.owner("pool-east", 30, 35, "pool-west", 2)
        self.assertTrue(self.run_check(linearizable.check, r)["valid"])
        r.ops[1]["extra"]["error"] = "409 pool_alive"
        self.assertFalse(self.run_check(linearizable.check, r)["valid"])

    def test_cms(self):
        r = Run()
        r.op("cms", "cms", 0, 5, result="pool-east")
        r.op("cms-failover", "cms", 10, 20, value="pool-west")
        r.op("cms", "cms", 25, 30, result="pool-west")
        r.op("failover", "pool-west", 40, 50, value={"disaster": True})
        r.op("cms", "cms", 55, 60, result="pool-east")
        self.assertTrue(self.run_check(linearizable.check, r)["valid"])
        r.op("cms", "cms", 65, 70, result="pool-west")
        self.assertFalse(self.run_check(linearizable.check, r)["valid"])

    def test_bound_gives_unknown(self):
        r = self.failover_story()
        res = self.run_check(linearizable.check, r, max_ops=3)
        self.assertEqual(res["keys"]["pool-east"]["result"], "unknown")
        self.assertTrue(res["valid"])
        run = self.load(r)
        run.strict = True
        self.assertFalse(linearizable.check(run, max_ops=3)["valid"])

    def test_many_concurrent_reads_stay_fast(self):
        r = Run()
        for i in range(300):
            t = i * 10
            r.owner("pool-east", t, t + 35, "pool-east" if i < 150
                    else "pool-west", 1 if i < 150 else 2)
        r.op("failover", "pool-east", 1400, 1600, value={"disaster": False})
        res = self.run_check(linearizable.check, r)
        self.assertTrue(res["valid"], res)


# ---- one-owner ----

class TestOneOwner(Base):
    def story(self):
        r = Run()
        r.write("sip:a@x|1", 0, 10, "east", 1)
        r.write("sip:a@x|2", 20, 30, "east", 1)
        r.write("sip:a@x|3", 5000, 5010, "west", 2, user_set="pool-east")
        r.write("sip:a@x|4", 9000, 9010, "east", 3)
        r.write("sip:b@x|1", 0, 10, "west", 1)
        # the two owner changes that explain east, west, then east again
        r.decision(4000, "automatic failover pool-east to pool-west "
                   "(disaster, east silent)", who="leader:auto")
        r.decision(8000, "complete failback pool-east from pool-west")
        r.final["owners"]["pool-east"]["epoch"] = 3
        return r

    def test_valid(self):
        res = self.run_check(one_owner.check, self.story())
        self.assertTrue(res["valid"], res)

    def test_two_owners_overlapping(self):
        r = self.story()
        # east still takes an epoch-1 write after west took epoch 2
        r.write("sip:a@x|5", 5020, 5030, "east", 1)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        v = res["violations"][0]
        self.assertEqual(v["problem"], "accepted after another pool took "
                         "over")
        self.assertEqual({o["index"] for o in v["ops"]} & {0}, set())

    def test_same_epoch_two_pools(self):
        r = self.story()
        r.write("sip:a@x|6", 5000, 5010, "east", 2)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertIn("one epoch accepted by two pools",
                      [v["problem"] for v in res["violations"]])

    def test_epoch_going_backwards(self):
        r = Run()
        r.write("sip:a@x|1", 0, 10, "east", 2)
        r.write("sip:a@x|2", 20, 30, "east", 1)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["violations"][0]["problem"],
                         "epoch went backwards")

    def test_concurrent_writes_may_see_either_epoch(self):
        r = Run()
        r.write("sip:a@x|1", 0, 100, "east", 2)
        r.write("sip:a@x|2", 50, 60, "east", 1)
        self.assertTrue(self.run_check(one_owner.check, r)["valid"])


class TestOneWriter(Base):
    """one-owner with two agents per pool: one writer at a time."""

    def setup(self):
        r = Run(**two_agents_per_pool())
        # the setup's decisions: before time 0, so the history covers the run
        r.decision(-900, "writer of pool-east: east (member 1), token 1",
                   who="leader:writer")
        r.decision(-800, "writer of pool-west: west (member 2), token 1",
                   who="leader:writer")
        return r

    def takeover(self, r, t, new, token):
        # as the state machine words a local takeover
        old = "east2" if new == "east" else "east"
        r.final["owners"]["pool-east"]["epoch"] += 1
        r.decision(t, "writer of pool-east: %s -> %s (member %d), token %d, "
                   "epoch pool-east %d"
                   % (old, new, 1 if new == "east" else 4, token,
                      r.final["owners"]["pool-east"]["epoch"]),
                   who="leader:auto")

    def problems(self, res):
        return {v["problem"] for v in res["violations"]}

    def test_clean_handover_is_valid(self):
        r = self.setup()
        for i in range(10):
            r.write("sip:a@x|e%d" % i, i * 100, i * 100 + 20, "east", 1,
                    seq=i + 1)
        # east killed at 1000; its standby takes over at 4000 (epoch 2)
        self.takeover(r, 4000, "east2", 2)
        for i in range(10):
            r.write("sip:a@x|f%d" % i, 4100 + i * 100, 4120 + i * 100,
                    "east2", 2, seq=11 + i)
        r.write("sip:b@x|1", 0, 10, "west", 1, seq=1)
        res = self.run_check(one_owner.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["ok_writes_by_agent"]["pool-east"],
                         {"east": 10, "east2": 10})

    def test_handover_and_back_is_valid(self):
        r = self.setup()
        r.write("sip:a@x|1", 0, 20, "east", 1, seq=1)
        self.takeover(r, 4000, "east2", 2)
        r.write("sip:a@x|2", 4100, 4120, "east2", 2, seq=2)
        self.takeover(r, 9000, "east", 3)
        r.write("sip:a@x|3", 9100, 9120, "east", 3, seq=3)
        self.assertTrue(self.run_check(one_owner.check, r)["valid"])

    def test_write_in_flight_during_the_handover_is_valid(self):
        r = self.setup()
        # a write at east still open when east2 took over and wrote: east
        # may have accepted it before the handover
        r.write("sip:a@x|1", 0, 5000, "east", 1, seq=1)
        self.takeover(r, 3000, "east2", 2)
        r.write("sip:a@x|2", 3100, 3120, "east2", 2, seq=2)
        self.assertTrue(self.run_check(one_owner.check, r)["valid"])

    def test_two_concurrent_writers_same_epoch(self):
        r = self.setup()
        # the report of issue 14: both agents of pool-east take writes,
        # with the same epoch, interleaved in real time
        for i in range(6):
            node = "east" if i % 2 == 0 else "east2"
            r.write("sip:a@x|%d" % i, i * 100, i * 100 + 20, node, 1,
                    seq=100 + i)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertIn("one epoch accepted by two agents", self.problems(res))
        self.assertIn("agents took turns without the handovers to explain "
                      "it", self.problems(res))
        turn = [v for v in res["violations"]
                if v["problem"].startswith("agents took turns")][0]
        self.assertEqual(turn["handovers_in_window"], 0)

    def test_two_writers_with_epochs_but_no_decision(self):
        r = self.setup()
        # epochs that look like handovers, but no writer or owner changed
        # in the history: two agents wrote in turn on their own
        r.write("sip:a@x|1", 0, 20, "east", 1, seq=1)
        r.write("sip:a@x|2", 100, 120, "east2", 2, seq=1)
        r.write("sip:a@x|3", 200, 220, "east", 3, seq=1)
        r.final["owners"]["pool-east"]["epoch"] = 3
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(self.problems(res),
                         {"agents took turns without the handovers to "
                          "explain it"})

    def test_one_handover_does_not_explain_two_turns(self):
        r = self.setup()
        r.write("sip:a@x|1", 0, 20, "east", 1, seq=1)
        self.takeover(r, 4000, "east2", 2)
        r.write("sip:a@x|2", 4100, 4120, "east2", 2, seq=2)
        r.write("sip:a@x|3", 4200, 4220, "east", 3, seq=3)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertIn("agents took turns without the handovers to explain "
                      "it", self.problems(res))

    def test_old_writer_accepts_after_the_takeover(self):
        r = self.setup()
        r.write("sip:a@x|1", 0, 20, "east", 1, seq=1)
        self.takeover(r, 4000, "east2", 2)
        r.write("sip:a@x|2", 4100, 4120, "east2", 2, seq=2)
        # the old writer, paused, wakes and takes a new write at epoch 1
        r.write("sip:a@x|3", 4200, 4220, "east", 1, seq=2)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertIn("accepted after another agent took over",
                      self.problems(res))

    def test_one_sequence_number_twice(self):
        r = self.setup()
        r.write("sip:a@x|1", 0, 20, "east", 1, seq=7)
        r.write("sip:a@x|2", 100, 120, "east", 1, seq=7)
        res = self.run_check(one_owner.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(self.problems(res),
                         {"one sequence number acknowledged for two "
                          "writes"})

    def test_history_not_covering_the_window_is_not_judged(self):
        r = Run(**two_agents_per_pool())
        # a full page of history whose oldest decision is after the
        # writes: the handovers may be among the decisions it lost
        r.write("sip:a@x|1", 0, 20, "east", 1, seq=1)
        r.write("sip:a@x|2", 100, 120, "east2", 2, seq=1)
        r.write("sip:a@x|3", 200, 220, "east", 3, seq=1)
        r.final["owners"]["pool-east"]["epoch"] = 3
        for i in range(one_owner.HISTORY_PAGE):
            r.decision(5000 + i, "pause pool pool-west: no automatic "
                       "failover until resumed")
        res = self.run_check(one_owner.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["turns_judged_from_ms"], 5000)
        # the same page one decision short is the whole history: judged
        r.final["history"].pop()
        self.assertFalse(self.run_check(one_owner.check, r)["valid"])

    def test_local_takeover_raises_the_epoch_for_linearizable(self):
        r = self.setup()
        r.owner("pool-east", 0, 10, "pool-east", 1)
        self.takeover(r, 4000, "east2", 2)
        r.owner("pool-east", 7000, 7010, "pool-east", 2)
        res = self.run_check(linearizable.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["keys"]["pool-east"]["result"], "linearizable")
        # the first writer a pool gets raises nothing; a change of writer
        # of a pool failed over to its pair neither
        r = self.setup()
        r.owner("pool-east", 0, 10, "pool-east", 1)
        r.decision(2000, "automatic failover pool-east to pool-west "
                   "(disaster, writer east silent)", who="leader:auto")
        r.decision(4000, "writer of pool-east: east2 (member 4), token 2",
                   who="leader:writer")
        r.owner("pool-east", 7000, 7010, "pool-west", 2)
        r.final["owners"]["pool-east"] = {"owner": "pool-west", "epoch": 2}
        res = self.run_check(linearizable.check, r)
        self.assertTrue(res["valid"], res)

    def test_epoch_raised_without_a_writer_change(self):
        r = self.setup()
        r.owner("pool-east", 0, 10, "pool-east", 1)
        r.owner("pool-east", 7000, 7010, "pool-east", 2)
        r.final["owners"]["pool-east"]["epoch"] = 2
        res = self.run_check(linearizable.check, r)
        self.assertFalse(res["valid"])


# ---- nothing-lost ----

class TestNothingLost(Base):
    def story(self, **cfg):
        r = Run(**cfg)
        for i, (node, ep, t) in enumerate((("east", 1, 0), ("east", 1, 100),
                                           ("west", 2, 4000))):
            v = r.write("sip:a@x|%d" % i, t, t + 10, node, ep,
                        user_set="pool-east")
            r.final["data"]["sip:a@x|%d" % i] = v
        r.write("sip:a@x|9", 200, 300, "east", 1, typ="fail",
                error="503 no lease")
        r.final["data"]["sip:a@x|9"] = None
        r.write("sip:a@x|8", 200, None, "east", 1, typ="info")
        r.final["data"]["sip:a@x|8"] = "v-sip:a@x|8"   # maybe: fine
        r.final["owners"]["pool-east"] = {"owner": "pool-west", "epoch": 2}
        return r

    def test_valid(self):
        res = self.run_check(nothing_lost.check, self.story())
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["writes"]["in_data"], 3)

    def test_lost_acknowledged_write(self):
        r = self.story()
        r.final["data"]["sip:a@x|1"] = None
        res = self.run_check(nothing_lost.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["lost"], 1)
        self.assertEqual(res["violations"][0]["key"], "sip:a@x|1")

    def test_failed_write_appears(self):
        r = self.story()
        r.final["data"]["sip:a@x|9"] = "v-sip:a@x|9"
        res = self.run_check(nothing_lost.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["failed_present"], 1)

    def test_value_nobody_wrote(self):
        r = self.story()
        r.final["data"]["sip:a@x|0"] = "something else"
        res = self.run_check(nothing_lost.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["unknown_values"], 1)

    def archived(self, ack_ms, change_ms, **cfg):
        r = self.story(**cfg)
        v = r.write("sip:a@x|7", ack_ms - 5, ack_ms, "east", 1)
        r.final["data"]["sip:a@x|7"] = None
        r.final["divergence"]["east"] = [
            {"key": "sip:a@x|7", "value": v, "epoch": 1,
             "time": "2026-01-01T00:00:00Z", "user_set": "pool-east"}]
        r.decision(change_ms, "failover pool-east to pool-west (disaster, "
                   "1 records at risk)", who="api:ctl")
        return r

    def test_archive_inside_rpo_window(self):
        res = self.run_check(nothing_lost.check, self.archived(3500, 3900))
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["writes"]["archived"], 1)

    def test_archive_outside_rpo_window(self):
        res = self.run_check(nothing_lost.check, self.archived(1000, 3900))
        self.assertFalse(res["valid"])
        self.assertEqual(res["outside_rpo"], 1)
        self.assertAlmostEqual(res["violations"][0]["gap_ms"], 2900)

    def test_archived_and_back_after_failback_still_in_window(self):
        r = self.archived(1000, 3900)
        r.final["data"]["sip:a@x|7"] = "v-sip:a@x|7"
        res = self.run_check(nothing_lost.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["outside_rpo"], 1)
        self.assertEqual(res["lost"], 0)

    def test_archive_in_sync_mode(self):
        res = self.run_check(nothing_lost.check,
                             self.archived(3500, 3900, sync=True))
        self.assertFalse(res["valid"])
        self.assertEqual(res["archived_in_sync"], 1)

    def test_json_encoded_value_matches(self):
        r = self.story()
        r.final["data"]["sip:a@x|0"] = json.dumps("v-sip:a@x|0")
        self.assertTrue(self.run_check(nothing_lost.check, r)["valid"])


# ---- rto ----

class TestRto(Base):
    def story(self, first_ok_ms, heal_ms=60000, fault="kill"):
        r = Run()
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.fault(fault, ["east"], 10000, heal_ms)
        r.write("sip:a@x|1", 10100, 13100, "east", 1, typ="info")
        r.write("sip:a@x|2", 13200, 13300, "west", 1, typ="fail",
                error="421")
        r.write("sip:a@x|3", first_ok_ms - 20, first_ok_ms, "west", 2,
                user_set="pool-east")
        return r

    def test_within_bound(self):
        res = self.run_check(rto.check, self.story(14000))
        self.assertTrue(res["valid"], res)
        f = [m for m in res["faults"] if m["user_set"] == "pool-east"]
        self.assertEqual(len(f), 1)
        self.assertAlmostEqual(f[0]["rto_ms"], 4000)

    def test_over_bound(self):
        res = self.run_check(rto.check, self.story(17000))
        self.assertFalse(res["valid"])
        self.assertAlmostEqual(res["violations"][0]["rto_ms"], 7000)
        self.assertEqual(res["violations"][0]["fault"], "kill")

    def test_healed_first(self):
        res = self.run_check(rto.check, self.story(17000, heal_ms=12000,
                                                   fault="pause"))
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["faults"][0]["result"], "healed first")

    def test_cut_off_owner_in_its_lease_is_no_recovery(self):
        r = Run()
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.fault("partition-site", ["east"], 1000, 30000)
        r.write("sip:a@x|1", 1005, 1015, "east", 1)   # lease still valid
        r.write("sip:a@x|2", 8000, 8010, "west", 2, user_set="pool-east")
        res = self.run_check(rto.check, r)
        self.assertFalse(res["valid"])
        self.assertAlmostEqual(res["faults"][0]["rto_ms"], 7010)
        self.assertEqual(res["faults"][0]["writes_at_stopped_agents"], 1)

    def test_never_recovered(self):
        r = Run()
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.fault("partition-site", ["east"], 1000, None)
        r.write("sip:a@x|1", 1100, 4000, "east", 1, typ="fail")
        r.nemesis.append({"time": 30000 * MS, "type": "stop",
                          "fault": "heal", "targets": [], "detail": {}})
        res = self.run_check(rto.check, r)
        self.assertFalse(res["valid"])
        self.assertIsNone(res["violations"][0]["rto_ms"])

    def test_fault_of_a_non_owner_is_not_judged(self):
        r = Run()
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.fault("kill", ["witness"], 1000, 60000)
        self.assertEqual(self.run_check(rto.check, r)["faults"], [])


# ---- liveness ----

class TestLiveness(Base):
    def story(self):
        r = Run()
        r.fault("kill", ["east"], 1000, 5000)
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.write("sip:b@x|0", 0, 10, "west", 1)
        r.write("sip:a@x|1", 6000, 6010, "east", 1)
        r.write("sip:b@x|1", 6000, 6010, "west", 1)
        return r

    def test_valid(self):
        self.assertTrue(self.run_check(liveness.check, self.story())["valid"])

    def test_not_converged(self):
        r = self.story()
        r.final["converged"] = False
        self.assertFalse(self.run_check(liveness.check, r)["valid"])

    def test_verify_differs(self):
        r = self.story()
        r.final["verify"]["pool-west"]["equal"] = False
        self.assertFalse(self.run_check(liveness.check, r)["valid"])

    def test_no_write_after_heal(self):
        r = self.story()
        r.ops = [o for o in r.ops if o["key"] != "sip:b@x|1"]
        res = self.run_check(liveness.check, r)
        self.assertFalse(res["valid"])
        self.assertEqual(res["violations"][0]["user_set"], "pool-west")


# ---- one leader per term ----

class TestOneLeader(Base):
    def test_valid(self):
        r = Run()
        r.logs["east"] = ["2026-11-26T14:00:00.000Z INFO  members: leading "
                          "term 2", "2026-11-26T14:00:09.000Z INFO  x: y"]
        r.logs["witness"] = ["2026-11-26T14:00:05.000Z INFO  members: "
                             "leading term 3"]
        res = self.run_check(one_leader.check, r)
        self.assertTrue(res["valid"], res)
        self.assertEqual(res["terms"], 2)

    def test_two_leaders_one_term(self):
        r = Run()
        r.logs["east"] = ["2026-11-26T14:00:00.000Z INFO  members: leading "
                          "term 4"]
        r.logs["west"] = ["2026-11-26T14:00:01.250Z INFO  members: leading "
                          "term 4"]
        res = self.run_check(one_leader.check, r)
        self.assertFalse(res["valid"])
        v = res["violations"][0]
        self.assertEqual(v["term"], 4)
        self.assertEqual(sorted(w["agent"] for w in v["leaders"]),
                         ["east", "west"])


# ---- reading the folder ----

class TestInput(Base):
    def test_completion_without_invoke(self):
        r = Run()
        path = os.path.join(self.dir, "bad")
        r.save(path)
        with open(os.path.join(path, "history.jsonl"), "w") as fh:
            fh.write(json.dumps({"index": 0, "time": 5, "type": "ok",
                                 "process": 1, "f": "owner",
                                 "key": "pool-east"}) + "\n")
        with self.assertRaises(InputError) as cm:
            load(path)
        self.assertIn("history.jsonl:1", str(cm.exception))

    def test_index_out_of_order(self):
        r = Run()
        r.write("sip:a@x|0", 0, 10, "east", 1)
        path = os.path.join(self.dir, "bad")
        r.save(path)
        with open(os.path.join(path, "history.jsonl")) as fh:
            lines = fh.read().split("\n")
        lines[1] = lines[1].replace('"index": 1', '"index": 7')
        with open(os.path.join(path, "history.jsonl"), "w") as fh:
            fh.write("\n".join(lines))
        with self.assertRaises(InputError) as cm:
            load(path)
        self.assertIn("history.jsonl:2", str(cm.exception))

    def test_timeline_renders(self):
        r = TestRto.story(self, 17000)
        r.owner("pool-east", 16000, 16100, "pool-west", 2)
        r.lag.append({"time": 1000 * MS, "agent": "east",
                      "direction": "pool-east->pool-west",
                      "category": "user_data", "lag_records": 3,
                      "lag_ms": 12.5, "state": "steady"})
        run = self.load(r)
        verdict = {"valid": False, "checkers": {
            "rto": rto.check(run)}}
        svg = timeline.render(run, verdict)
        self.assertTrue(svg.startswith("<svg"))
        self.assertIn("kill east", svg)
        self.assertIn("pool-west", svg)
        self.assertIn("stroke-dasharray", svg)   # the failure mark


# ---- check.py end to end ----

class TestAvailability(Base):
    def test_per_pool_during_and_outside_faults(self):
        from checkers import availability
        r = Run()
        r.fault("loss", [], 1000, 3000)
        r.fault("delay", [], 2000, 4000)      # merged: 1000..4000
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.write("sip:a@x|1", 1500, 1600, "east", 1)
        r.write("sip:a@x|2", 1700, 1800, "east", 1, typ="fail",
                error="east: 503 unavailable: no lease")
        r.write("sip:a@x|3", 3900, 5000, "east", 1, typ="info")
        r.write("sip:b@x|0", 4500, 4600, "west", 1)
        r.write("sip:b@x|1", 4700, 4800, "west", 1, typ="fail")
        r.write("sip:c@x|0", 2000, 2100, "west", 1, typ="fail")  # no ok
        fig = availability.figure(self.load(r))
        east = fig["pools"]["pool-east"]
        self.assertEqual(east["during"], {"ok": 1, "total": 3,
                                          "percent": 33.3})
        self.assertEqual(east["outside"], {"ok": 1, "total": 1,
                                           "percent": 100.0})
        west = fig["pools"]["pool-west"]
        self.assertEqual(west["during"], {"ok": 0, "total": 0,
                                          "percent": None})
        self.assertEqual(west["outside"]["percent"], 50.0)
        self.assertEqual(fig["pools"]["?"]["during"]["total"], 1)
        self.assertEqual(fig["fault_s"], 3.0)
        line = availability.summary(fig)
        self.assertIn("pool-east 33.3% of 3 writes during faults "
                      "(100.0% of 1 outside)", line)
        self.assertIn("pool-west - of 0 writes during faults", line)


class TestCheckPy(Base):
    def good(self):
        r = Run()
        r.owner("pool-east", 0, 5, "pool-east", 1)
        r.write("sip:a@x|0", 0, 10, "east", 1)
        r.write("sip:b@x|0", 0, 10, "west", 1)
        r.fault("kill", ["east"], 1000, 3000)
        r.write("sip:a@x|1", 1100, 2500, "east", 1, typ="info")
        r.write("sip:a@x|2", 3500, 3600, "east", 1)
        r.write("sip:b@x|1", 3500, 3600, "west", 1)
        r.owner("pool-east", 4000, 4005, "pool-east", 1)
        for k in ("sip:a@x|0", "sip:b@x|0", "sip:a@x|2", "sip:b@x|1"):
            r.final["data"][k] = "v-" + k
        r.final["data"]["sip:a@x|1"] = None
        r.lag.append({"time": 500 * MS, "agent": "east",
                      "direction": "pool-east->pool-west",
                      "category": "user_data", "lag_records": 0,
                      "lag_ms": 0, "state": "steady"})
        r.logs["witness"] = ["2026-11-26T14:00:00.000Z INFO  members: "
                             "leading term 2"]
        return r

    def check(self, path, *args):
        p = subprocess.run([sys.executable, os.path.join(JEPSEN, "check.py"),
                            *args, path], capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout, p.stderr

    def test_valid_run(self):
        path = os.path.join(self.dir, "good")
        self.good().save(path)
        rc, out, err = self.check(path)
        self.assertEqual(rc, 0, out + err)
        with open(os.path.join(path, "verdict.json")) as fh:
            verdict = json.load(fh)
        self.assertTrue(verdict["valid"])
        self.assertEqual(sorted(verdict["checkers"]),
                         sorted(["linearizable", "one-owner", "nothing-lost",
                                 "rto", "liveness", "one-leader-per-term"]))
        self.assertTrue(os.path.getsize(os.path.join(path, "timeline.svg")))
        self.assertIn("valid", out)
        # the availability figure: in verdict.json and printed, judging
        # nothing
        self.assertIn("pool-east", verdict["availability"]["pools"])
        self.assertIn("availability", out)

    def test_invalid_run(self):
        path = os.path.join(self.dir, "bad")
        r = self.good()
        r.final["data"]["sip:b@x|1"] = None          # a lost write
        r.logs["east"] = ["2026-11-26T14:00:00.500Z INFO  members: "
                          "leading term 2"]
        r.save(path)
        rc, out, err = self.check(path)
        self.assertEqual(rc, 1, out + err)
        with open(os.path.join(path, "verdict.json")) as fh:
            verdict = json.load(fh)
        self.assertFalse(verdict["valid"])
        self.assertFalse(verdict["checkers"]["nothing-lost"]["valid"])
        self.assertFalse(verdict["checkers"]["one-leader-per-term"]["valid"])
        self.assertTrue(verdict["checkers"]["one-owner"]["valid"])
        self.assertIn("INVALID", out)

    def test_malformed_line(self):
        path = os.path.join(self.dir, "malformed")
        self.good().save(path)
        with open(os.path.join(path, "history.jsonl"), "a") as fh:
            fh.write('{"index": 99, "time": \n')
        rc, out, err = self.check(path)
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"history\.jsonl:\d+: bad json")
        self.assertFalse(os.path.exists(os.path.join(path, "verdict.json")))

    def test_missing_file(self):
        path = os.path.join(self.dir, "missing")
        self.good().save(path)
        os.unlink(os.path.join(path, "final.json"))
        rc, out, err = self.check(path)
        self.assertEqual(rc, 2)
        self.assertIn("final.json", err)

    def test_only_and_strict_options(self):
        path = os.path.join(self.dir, "opts")
        self.good().save(path)
        rc, out, err = self.check(path, "--only", "linearizable",
                                  "--max-ops", "1", "--strict")
        self.assertEqual(rc, 1, out + err)
        rc, out, err = self.check(path, "--only", "nonsense")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
