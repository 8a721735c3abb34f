#!/usr/bin/env python3
"""Writes OUT/config.json (the checker's facts, jepsen/FORMAT.md) and
OUT/run/harness.json (what client.py and nemesis.py need) from the
environment jepsen/run exports; with --t0 MONO_NS WALL_MS it records time 0
in both."""
import json
import os
import sys

MAX_LAG_MS = 5000
COOLDOWN_MS = 5000
USERS_PER_POOL = 8


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def main():
    out = os.environ["out"]
    cpath = os.path.join(out, "config.json")
    hpath = os.path.join(out, "run", "harness.json")
    if len(sys.argv) == 4 and sys.argv[1] == "--t0":
        with open(cpath, encoding="utf-8") as f:
            cfg = json.load(f)
        with open(hpath, encoding="utf-8") as f:
            h = json.load(f)
        cfg["start_wall_ms"] = int(sys.argv[3])
        h["t0_ns"] = int(sys.argv[2])
        h["start_wall_ms"] = int(sys.argv[3])
        write_json(cpath, cfg)
        write_json(hpath, h)
        return
    d = json.loads(os.environ["FAIL_DEFAULTS"])
    prefix = os.environ["P"]
    agents = {}
    pools = {}
    for spec in os.environ["AGENTS_SPEC"].split(","):
        name, rest = spec.split("=", 1)
        addr, site, pool = rest.split(":")
        agents[name] = {"addr": addr, "api": "http://%s:7101" % addr,
                        "pool": pool or None, "site": site}
    for name, a in agents.items():
        if a["pool"]:
            # "agent": the pool's first agent (its writer at setup when it
            # is the only one); "agents": every agent of the pool
            p = pools.setdefault(a["pool"], {"agent": name, "agents": [],
                                             "site": a["site"]})
            p["agents"].append(name)
    pools["pool-east"]["pair"] = "pool-west"
    pools["pool-west"]["pair"] = "pool-east"
    lease, grace = d["lease_ms"], d["grace_ms"]
    # site-loss: the pair replicates in sync mode, so that losing the
    # owner's disk loses nothing acknowledged and nothing-lost stays strict
    # (in async mode the owner's unshipped tail goes with its disk: the RPO);
    # writer-loss too: a writer lost while no standby of its pool is in sync
    # (or before local takeovers exist) is a failover to the pair, which
    # then holds every acknowledged write
    sync = os.environ["scenario"] in ("site-loss", "writer-loss")
    election = d["election_timeout_ms"]
    cfg = {
        "seed": int(os.environ["seed"]),
        "scenario": os.environ["scenario"],
        "start_wall_ms": 0,
        # the agents' [failover] profile (jepsen/run --profile), whose
        # values the ones below are
        "profile": d.get("profile", "default"),
        "heartbeat_ms": d["heartbeat_ms"],
        "lease_ms": lease,
        "grace_ms": grace,
        # a pool's failure is acted on after lease + grace; when the failed
        # agent also led Raft, an election and the new leader's own wait of
        # lease + grace come first
        "rto_bound_ms": 2 * (lease + grace) + 2 * election + 2000,
        # an automatic failover is made only while the last reported lag is
        # within max_lag_on_failover, and that report is up to lease + grace old
        "rpo_window_ms": MAX_LAG_MS + lease + grace,
        "sync": sync,
        "pools": pools,
        "agents": agents,
        "unsafe": os.environ.get("unsafe") == "1",
    }
    users = {}
    for pool in sorted(pools):
        short = pool.split("-", 1)[1]
        users[pool] = ["sip:jp%s%d@%s.example.com" % (short[0], i, short)
                       for i in range(USERS_PER_POOL)]
    h = {
        "prefix": prefix,
        "out": out,
        "scenario": cfg["scenario"],
        "seed": cfg["seed"],
        "duration_s": int(os.environ["duration"]),
        "workers": int(os.environ["workers"]),
        "unsafe": cfg["unsafe"],
        "build": os.environ["build"],
        "nfq_delay": os.environ["NFQ"],
        "agents": {n: dict(a, ns="%s-%s" % (prefix, n),
                           run_dir=os.path.join(out, "run", n))
                   for n, a in agents.items()},
        "router_ns": prefix + "-rt",
        "client_ns": prefix + "-client",
        "client_addr": os.environ["CLIENT_ADDR"],
        "site_nets": {a["site"]: a["addr"].rsplit(".", 1)[0] + ".0/24"
                      for a in agents.values()},
        "clock_agents": os.environ.get("CLOCK_SPEC", "").split(),
        "disk_agents": os.environ.get("DISK_SPEC", "").split(),
        "faults": [f for f in os.environ.get("FAULTS_SPEC", "").split(",") if f],
        "users": users,
        "pair_mode": "sync" if sync else "async",
        # writer-loss: the pair's sync timeout outlasts the writer's lease
        # and grace, so that a writer cut off from everything (isolate)
        # falls back to async only after its lease ran out: a write it
        # acknowledges without the pair is then a fence broken, not the
        # fallback's RPO (site-loss keeps the default, 2 s)
        "pair_sync_timeout_ms": (lease + grace + 2000)
        if os.environ["scenario"] == "writer-loss" else None,
        "policy": {"failover": "auto", "max_lag_on_failover_ms": MAX_LAG_MS,
                   "cooldown_ms": COOLDOWN_MS},
        "defaults": d,
        "t0_ns": 0,
    }
    write_json(cpath, cfg)
    write_json(hpath, h)


if __name__ == "__main__":
    main()
