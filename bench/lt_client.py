#!/usr/bin/env python3
"""Client of bench/run-local-takeover (python3, standard library only).

  lt_client.py write --agents NAME=URL,... --pool POOL --first NAME
                     --prefix P --out FILE --stop FILE
      Enables users sip:P-J@example.com of POOL one after the other, as
      fast as they are answered, until FILE --stop exists. Starts at agent
      --first; a 421 (not_writer: a standby; not_owner) is followed to the
      agent it names; a connection that fails (refused, reset, timeout)
      moves on to the next agent of the pool. Every acknowledged write
      (201) is one line of --out: "UNIX_NS AGENT SIP EPOCH SEQ".

  lt_client.py check --api URL --in FILE
      Reads back the location of every user of FILE at URL and prints
      {"acked", "present", "lost", "lost_sips"} as JSON: present when the
      answer is 200 with the user's home pool as its owner.
"""

import argparse
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


def request(url, method, path, body=None, timeout=2.0, conn=None):
    """(status, parsed JSON or None); raises OSError on a connection
    that failed."""
    host, port = split(url)
    c = conn or http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        raw = r.read()
        try:
            ans = json.loads(raw) if raw else None
        except ValueError:
            ans = None
        return r.status, ans
    except (http.client.HTTPException, socket.timeout) as e:
        raise OSError(str(e))
    finally:
        if conn is None:
            c.close()


def write(a):
    agents = {}
    for kv in a.agents.split(","):
        n, u = kv.split("=", 1)
        agents[n] = u.rstrip("/")
    by_hp = {split(u): n for n, u in agents.items()}
    order = sorted(agents)
    node = a.first
    j = 0
    with open(a.out, "a", encoding="utf-8", buffering=1) as out:
        while not os.path.exists(a.stop):
            j += 1
            sip = "sip:%s-%d@example.com" % (a.prefix, j)
            try:
                st, ans = request(agents[node], "POST", "/v1/users",
                                  {"sip": sip, "pool": a.pool})
            except OSError:
                node = order[(order.index(node) + 1) % len(order)]
                time.sleep(0.005)
                continue
            if st == 201 and isinstance(ans, dict):
                out.write("%d %s %s %s %s\n" % (time.time_ns(), node, sip,
                                                ans.get("epoch"), ans.get("seq")))
                continue
            if st == 421 and isinstance(ans, dict):
                nxt = by_hp.get(split(ans.get("api") or ans.get("owner_api") or "x:0"))
                if nxt is not None and nxt != node:
                    node = nxt
                    continue
                node = order[(order.index(node) + 1) % len(order)]
            time.sleep(0.005)


def check(a):
    host, port = split(a.api)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    acked = present = 0
    lost = []
    with open(a.inp, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            acked += 1
            sip = parts[2]
            ok = False
            for _ in range(3):
                try:
                    st, ans = request(a.api, "GET", "/v1/users/%s/location"
                                      % urllib.parse.quote(sip, safe=":@"), conn=conn)
                except OSError:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=5)
                    time.sleep(0.2)
                    continue
                ok = st == 200 and isinstance(ans, dict) and \
                    ans.get("owner") == ans.get("home_pool")
                break
            if ok:
                present += 1
            else:
                lost.append(sip)
    print(json.dumps({"acked": acked, "present": present, "lost": len(lost),
                      "lost_sips": lost[:10]}))


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
    c = sub.add_parser("check")
    c.add_argument("--api", required=True)
    c.add_argument("--in", dest="inp", required=True)
    a = ap.parse_args()
    if a.cmd == "write":
        if a.first not in dict(kv.split("=", 1) for kv in a.agents.split(",")):
            print("lt_client: --first %s is not among --agents" % a.first, file=sys.stderr)
            return 2
        write(a)
    else:
        check(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
