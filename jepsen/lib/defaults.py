#!/usr/bin/env python3
"""Prints the agent's timing values the harness relies on, as JSON:
profile, heartbeat_ms, lease_ms, grace_ms, election_timeout_ms,
drift_margin_ms, heartbeat_timeout_ms.

    defaults.py ROOT [PROFILE]

They are those of the timing profile PROFILE ([failover] profile, default
"default"), read from the profile table of agent/config_profile.c (the
defaults the agent applies when the configuration leaves a timing key out),
falling back to the documented values of the default profile. An unknown
profile exits 2."""
import json
import re
import sys

DOCUMENTED = {"heartbeat_ms": 250, "lease_ms": 2000, "grace_ms": 500,
              "election_timeout_ms": 500, "drift_margin_ms": 100,
              "heartbeat_timeout_ms": 100}
FIELDS = ("heartbeat_ms", "lease_ms", "grace_ms", "drift_margin_ms",
          "election_timeout_ms", "heartbeat_timeout_ms")


def table(src):
    """{name: {field: ms}} from the profiles[] table of config_profile.c."""
    out = {}
    for m in re.finditer(r'\{\s*"(\w+)"\s*,\s*\{([^{}]*)\}\s*\}', src):
        vals = dict((k, int(v)) for k, v in
                    re.findall(r"\.(\w+)\s*=\s*(\d+)", m.group(2)))
        if all(f in vals for f in FIELDS):
            out[m.group(1)] = vals
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    profile = sys.argv[2] if len(sys.argv) > 2 else "default"
    try:
        with open(root + "/agent/config_profile.c", encoding="utf-8") as f:
            profiles = table(f.read())
    except OSError:
        profiles = {}
    if not profiles:
        profiles = {"default": dict(DOCUMENTED)}
    if profile not in profiles:
        sys.stderr.write("defaults.py: unknown profile %s (known: %s)\n"
                         % (profile, ", ".join(sorted(profiles))))
        sys.exit(2)
    vals = dict((f, profiles[profile][f]) for f in FIELDS)
    vals["profile"] = profile
    print(json.dumps(vals))


if __name__ == "__main__":
    main()
