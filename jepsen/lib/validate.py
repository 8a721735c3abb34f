#!/usr/bin/env python3
"""Checks that a run folder has the shape of jepsen/FORMAT.md (not whether
the run was correct: that is jepsen/check.py's job). Exit 0 when well formed,
1 with the problems listed otherwise."""
import json
import os
import sys

FAULTS = {"partition-site", "isolate", "bridge", "ring", "oneway", "kill", "pause", "clock",
          "loss", "delay", "disk-full", "fsync-fail", "heal"}
FS = {"write", "read", "owner", "failover", "failback", "cms-failover", "cms"}


def jsonl(path, problems):
    recs = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                problems.append("%s:%d: not JSON: %s" % (os.path.basename(path), i, e))
    return recs


def main():
    out = sys.argv[1]
    p = []
    need = ["config.json", "history.jsonl", "nemesis.jsonl", "lag.jsonl", "final.json"]
    for n in need:
        if not os.path.isfile(os.path.join(out, n)):
            p.append("missing " + n)
    if p:
        print("\n".join(p), file=sys.stderr)
        return 1
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    for k, t in (("seed", int), ("scenario", str), ("start_wall_ms", int), ("lease_ms", int),
                 ("grace_ms", int), ("heartbeat_ms", int), ("rto_bound_ms", int),
                 ("rpo_window_ms", int), ("sync", bool), ("pools", dict), ("agents", dict),
                 ("unsafe", bool)):
        if not isinstance(cfg.get(k), t):
            p.append("config.json: %s is not %s" % (k, t.__name__))
    agents = set(cfg.get("agents", {}))
    for n in agents:
        if not os.path.isfile(os.path.join(out, "logs", n + ".log")):
            p.append("missing logs/%s.log" % n)
    hist = jsonl(os.path.join(out, "history.jsonl"), p)
    open_ops = {}
    for i, r in enumerate(hist):
        if r.get("index") != i:
            p.append("history %d: index %s" % (i, r.get("index")))
        if r.get("type") not in ("invoke", "ok", "fail", "info") or r.get("f") not in FS:
            p.append("history %d: type/f %s/%s" % (i, r.get("type"), r.get("f")))
            continue
        if not isinstance(r.get("time"), int) or not isinstance(r.get("process"), int):
            p.append("history %d: time/process not int" % i)
        if r.get("node") not in agents:
            p.append("history %d: node %r" % (i, r.get("node")))
        pr = r.get("process")
        if r["type"] == "invoke":
            if pr in open_ops:
                p.append("history %d: process %s invokes twice" % (i, pr))
            open_ops[pr] = r
        else:
            o = open_ops.pop(pr, None)
            if o is None or o["f"] != r["f"] or o["key"] != r["key"]:
                p.append("history %d: completion without its invoke" % i)
        if r["f"] == "write" and r["type"] == "ok":
            for k in ("user_set", "epoch", "seq"):
                if k not in r:
                    p.append("history %d: write ok without %s" % (i, k))
    if open_ops:
        p.append("history: processes left open: %s" % sorted(open_ops))
    times = [r.get("time", 0) for r in hist]
    if times != sorted(times):
        p.append("history: times not in file order")
    for i, r in enumerate(jsonl(os.path.join(out, "nemesis.jsonl"), p)):
        if r.get("type") not in ("start", "stop") or r.get("fault") not in FAULTS \
                or not isinstance(r.get("targets"), list) or not isinstance(r.get("time"), int):
            p.append("nemesis %d: %s" % (i, r))
    for i, r in enumerate(jsonl(os.path.join(out, "lag.jsonl"), p)):
        if not all(k in r for k in ("time", "agent", "direction", "category", "lag_records",
                                    "lag_ms", "state")):
            p.append("lag %d: %s" % (i, r))
            break
    with open(os.path.join(out, "final.json"), encoding="utf-8") as f:
        fin = json.load(f)
    for k, t in (("converged", bool), ("owners", dict), ("data", dict), ("divergence", dict),
                 ("verify", dict), ("history", list)):
        if not isinstance(fin.get(k), t):
            p.append("final.json: %s is not %s" % (k, t.__name__))
    wkeys = {r["key"] for r in hist if r.get("f") == "write" and r.get("type") == "invoke"}
    if isinstance(fin.get("data"), dict) and set(fin["data"]) != wkeys:
        p.append("final.json: data keys differ from the written keys")
    if p:
        print("\n".join(p[:50]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
