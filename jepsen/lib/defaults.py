#!/usr/bin/env python3
"""Prints the agent's built-in defaults the harness relies on, as JSON:
heartbeat_ms, lease_ms, grace_ms, election_timeout_ms, drift_margin_ms.

They are read from agent/config.c (the defaults the agent applies when the
configuration leaves a key out), falling back to the documented values."""
import json
import re
import sys

DOCUMENTED = {"heartbeat_ms": 250, "lease_ms": 2000, "grace_ms": 1000,
              "election_timeout_ms": 1000, "drift_margin_ms": 100}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    vals = dict(DOCUMENTED)
    try:
        with open(root + "/agent/config.c", encoding="utf-8") as f:
            src = f.read()
        for k in vals:
            m = re.search(r"c->%s\s*=\s*(\d+)\s*;" % re.escape(k), src)
            if m:
                vals[k] = int(m.group(1))
    except OSError:
        pass
    print(json.dumps(vals))


if __name__ == "__main__":
    main()
