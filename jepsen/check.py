#!/usr/bin/env python3
"""Check a poolpair fault-injection run.

usage: check.py [--strict] [--only NAME[,NAME...]] [--max-ops N]
                [--time-limit S] [--clock-slack-ms MS] OUT

Reads the run folder OUT (jepsen/FORMAT.md), runs every checker, writes
OUT/verdict.json and OUT/timeline.svg and prints a summary. Exit 0 when
valid, 1 when a checker found a violation, 2 when the input cannot be read
or breaks the format (the message names the file and line).
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from checkers import CHECKERS, availability, linearizable, timeline  # noqa: E402
from checkers.run import InputError, load  # noqa: E402


def _summary(name, res):
    if name == "linearizable":
        keys = res.get("keys", {})
        return ", ".join("%s %s (%d ops)" % (k, v["result"], v["ops"])
                         for k, v in sorted(keys.items())) or "no ops"
    if name == "rto":
        parts = []
        for f in res.get("faults", []):
            parts.append("%s %s/%s: %s%s" % (
                f["fault"], ",".join(f["targets"]), f["user_set"],
                "-" if f["rto_ms"] is None else "%.0f ms" % f["rto_ms"],
                "" if f["result"] == "ok" else " (%s)" % f["result"]))
        return "; ".join(parts) or "no owner-stopping fault"
    if name == "nothing-lost":
        w = res.get("writes", {})
        return ("%d ok writes: %d in data, %d archived; lost %d, failed "
                "present %d, outside rpo %d" % (
                    w.get("ok", 0), w.get("in_data", 0), w.get("archived", 0),
                    res["lost"], res["failed_present"], res["outside_rpo"]))
    if name == "one-leader-per-term":
        return "%d terms in %d logs" % (res["terms"], res["log_files"])
    n = res.get("violations_total", len(res.get("violations", [])))
    if not n:
        return "ok"
    first = res["violations"][0].get("problem", "") if res.get(
        "violations") else ""
    return "%d violation%s%s" % (n, "" if n == 1 else "s",
                                 ", first: " + first if first else "")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="check a poolpair fault-injection run folder")
    ap.add_argument("out", metavar="OUT", help="the run folder")
    ap.add_argument("--strict", action="store_true",
                    help="an unknown linearizability result is invalid")
    ap.add_argument("--only", default=None,
                    help="comma-separated checker names to run")
    ap.add_argument("--max-ops", type=int,
                    default=linearizable.DEFAULT_MAX_OPS,
                    help="linearizable: most ops per key searched "
                    "(default %(default)s)")
    ap.add_argument("--time-limit", type=float,
                    default=linearizable.DEFAULT_TIME_LIMIT_S,
                    help="linearizable: seconds of search per key "
                    "(default %(default)s)")
    ap.add_argument("--clock-slack-ms", type=float,
                    default=linearizable.DEFAULT_CLOCK_SLACK_MS,
                    help="linearizable: slack around the leader's time of "
                    "an automatic failover (default %(default)s)")
    ap.add_argument("--quiet", action="store_true",
                    help="print only the verdict line")
    args = ap.parse_args(argv)
    names = [n for n, _ in CHECKERS]
    only = None
    if args.only:
        only = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in only if n not in names]
        if unknown:
            print("check: unknown checker %s (known: %s)"
                  % (", ".join(unknown), ", ".join(names)), file=sys.stderr)
            return 2
    if args.max_ops < 1 or args.time_limit <= 0 or args.clock_slack_ms < 0:
        print("check: --max-ops, --time-limit must be positive and "
              "--clock-slack-ms not negative", file=sys.stderr)
        return 2
    try:
        run = load(args.out)
    except InputError as e:
        print("check: %s" % e, file=sys.stderr)
        return 2
    run.strict = args.strict
    verdict = {"valid": True, "checkers": {}}
    for name, fn in CHECKERS:
        if only is not None and name not in only:
            continue
        t0 = time.monotonic()
        if name == "linearizable":
            res = fn(run, max_ops=args.max_ops, time_limit_s=args.time_limit,
                     clock_slack_ms=args.clock_slack_ms)
        else:
            res = fn(run)
        res["seconds"] = round(time.monotonic() - t0, 3)
        verdict["checkers"][name] = res
        verdict["valid"] = verdict["valid"] and bool(res["valid"])
    if run.notes:
        verdict["notes"] = run.notes
    # a figure, not a checker: judges nothing
    verdict["availability"] = availability.figure(run)
    try:
        with open(os.path.join(args.out, "verdict.json"), "w",
                  encoding="utf-8") as fh:
            json.dump(verdict, fh, indent=1, sort_keys=True, default=str)
            fh.write("\n")
        with open(os.path.join(args.out, "timeline.svg"), "w",
                  encoding="utf-8") as fh:
            fh.write(timeline.render(run, verdict))
    except OSError as e:
        print("check: %s: cannot write: %s" % (args.out, e.strerror),
              file=sys.stderr)
        return 2
    if not args.quiet:
        for name, res in verdict["checkers"].items():
            print("%-20s %-7s %s" % (name, "ok" if res["valid"] else "FAIL",
                                     _summary(name, res)))
        print("%-20s %-7s %s" % ("availability", "",
                                 availability.summary(
                                     verdict["availability"])))
    print("%s: %s" % (args.out, "valid" if verdict["valid"] else "INVALID"))
    return 0 if verdict["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
