#!/usr/bin/env python3
"""Client of bench/run-planned (python3, standard library only).

  planned_client.py write --agents NAME=URL,... --pool POOL --first NAME
                          --prefix P --out FILE --stop FILE [--pause-ms N]
      Enables users sip:P-J@bench.example.com of POOL one after the other,
      as fast as they are answered, over one keep-alive connection per
      agent, until FILE --stop exists. Starts at agent --first. A 421 is
      followed at once to the agent it names (owner_api); any other
      answer (503 while a move drains, a failed connection) is tried
      again at the same agent after --pause-ms (1). Every acknowledged
      write (201) is one line of --out: "UNIX_NS AGENT SIP EPOCH SEQ",
      the time taken when the answer was read.

  planned_client.py gaps --in FILE --from NAME --to NAME
      The owner changes seen in FILE: for every pair of consecutive
      acknowledged writes whose agent went from --from to --to, one line
      "GAP_MS LAST_NS FIRST_NS" (gap = first 201 at --to minus the last
      201 at --from, in ms with three decimals).

  planned_client.py check --api URL --in FILE
      Reads back the location of every user of FILE at URL (8 connections
      at once) and prints {"acked", "present", "lost", "lost_sips"} as
      JSON: present when the answer is 200.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse


def split(url):
    u = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    return u.hostname, u.port or 80


class Conn:
    """One keep-alive connection to an agent, made again when it fails."""

    def __init__(self, url, timeout=2.0):
        self.host, self.port = split(url)
        self.timeout = timeout
        self.c = None

    def request(self, method, path, body=None):
        """(status, parsed JSON or None); raises OSError when the
        connection failed (it is made again at the next call)."""
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port,
                                                timeout=self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        try:
            self.c.request(method, path, body=data, headers=hdrs)
            r = self.c.getresponse()
            raw = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.c.close()
                self.c = None
        except (http.client.HTTPException, OSError, socket.timeout) as e:
            if self.c is not None:
                self.c.close()
            self.c = None
            raise OSError(str(e))
        try:
            ans = json.loads(raw) if raw else None
        except ValueError:
            ans = None
        return r.status, ans


def write(a):
    agents = {}
    for kv in a.agents.split(","):
        n, u = kv.split("=", 1)
        agents[n] = u.rstrip("/")
    conns = {n: Conn(u) for n, u in agents.items()}
    by_hp = {split(u): n for n, u in agents.items()}
    node = a.first
    pause = a.pause_ms / 1000.0
    j = 0
    with open(a.out, "a", encoding="utf-8", buffering=1) as out:
        while not os.path.exists(a.stop):
            j += 1
            sip = "sip:%s-%d@bench.example.com" % (a.prefix, j)
            try:
                st, ans = conns[node].request("POST", "/v1/users",
                                              {"sip": sip, "pool": a.pool})
            except OSError:
                time.sleep(pause)
                continue
            if st == 201 and isinstance(ans, dict):
                out.write("%d %s %s %s %s\n" % (time.time_ns(), node, sip,
                                                ans.get("epoch"), ans.get("seq")))
                continue
            if st == 421 and isinstance(ans, dict):
                nxt = by_hp.get(split(ans.get("owner_api") or ans.get("api") or "x:0"))
                if nxt is not None and nxt != node:
                    node = nxt
                    continue
            time.sleep(pause)


def gaps(a):
    prev = None
    with open(a.inp, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            t, node = int(parts[0]), parts[1]
            if prev is not None and prev[1] == a.src and node == a.dst:
                print("%.3f %d %d" % ((t - prev[0]) / 1e6, prev[0], t))
            prev = (t, node)


def check(a):
    """Reads back over 8 keep-alive connections at once."""
    sips = []
    with open(a.inp, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                sips.append(parts[2])

    def present(part):
        conn = Conn(a.api, timeout=5)
        lost = []
        for sip in part:
            ok = False
            for _ in range(3):
                try:
                    st, _ans = conn.request("GET", "/v1/users/%s/location"
                                            % urllib.parse.quote(sip, safe=":@"))
                except OSError:
                    time.sleep(0.2)
                    continue
                ok = st == 200
                break
            if not ok:
                lost.append(sip)
        return lost

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        lost = [s for part in ex.map(present, [sips[i::8] for i in range(8)])
                for s in part]
    print(json.dumps({"acked": len(sips), "present": len(sips) - len(lost),
                      "lost": len(lost), "lost_sips": lost[:10]}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--agents", required=True)
    w.add_argument("--pool", required=True)
    w.add_argument("--first", required=True)
    w.add_argument("--prefix", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--stop", required=True)
    w.add_argument("--pause-ms", type=float, default=1.0)
    g = sub.add_parser("gaps")
    g.add_argument("--in", dest="inp", required=True)
    g.add_argument("--from", dest="src", required=True)
    g.add_argument("--to", dest="dst", required=True)
    c = sub.add_parser("check")
    c.add_argument("--api", required=True)
    c.add_argument("--in", dest="inp", required=True)
    a = ap.parse_args()
    if a.cmd == "write":
        if a.first not in dict(kv.split("=", 1) for kv in a.agents.split(",")):
            print("planned_client: --first %s is not among --agents" % a.first,
                  file=sys.stderr)
            return 2
        if a.pause_ms < 0:
            print("planned_client: --pause-ms must be >= 0", file=sys.stderr)
            return 2
        write(a)
    elif a.cmd == "gaps":
        gaps(a)
    else:
        check(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
