#!/usr/bin/env bash
# Leases survive a connection flood. Three agents with [tls] (short
# leases: 100 ms heartbeats, 1 s lease), pools paired. For 20 s, from ten
# loopback addresses (127.0.0.2 .. 127.0.0.11) that never start a TLS
# handshake: 30 silent connections each to the leader's API port (300,
# more than all its 256 connections) and 10 each to its Raft port, each
# opened again when the agent closes it; plus, from
# 127.0.0.12, authenticated slowloris clients sending a byte a second: 10
# readers dribbling a request's headers, 5 operators dribbling a body.
# Meanwhile, every second: every agent holds a valid lease, the leader sees
# every member reachable (asked on new connections, as the agents' own
# calls are when they reconnect), and a write of user data at pool-east's
# agent succeeds. Then: the writes reached west's copy; no failover was
# decided; every silent connection was closed by the agents (none outlived
# the deadlines before authentication by much), the
# slowloris clients were answered 408 and closed; the refusals are logged
# once a minute per kind and counted in /metrics.
source "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "missing tool: python3"
it_tls_setup

code() { pp_curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }

# flood SECONDS PKI API-PORT RAFT-PORT DATA-PORT: until SIGTERM (at most
# SECONDS); prints one JSON object at the end
FLOOD_PY='
import json, select, signal, socket, ssl, sys, time
secs, pki = int(sys.argv[1]), sys.argv[2]
ports = {"api": int(sys.argv[3]), "raft": int(sys.argv[4]), "data": int(sys.argv[5])}
def stop(sig, frame):
    global end
    end = 0
signal.signal(signal.SIGTERM, stop)
HOSTS, PER = 10, {"api": 30, "raft": 10, "data": 10}
end = time.time() + secs
stats = {"api": {"opened": 0, "closed": 0, "longest": 0.0},
         "raft": {"opened": 0, "closed": 0, "longest": 0.0},
         "data": {"opened": 0, "closed": 0, "longest": 0.0},
         "head": {"n": 0, "408": 0, "closed": 0},
         "body": {"n": 0, "408": 0, "closed": 0}}
silent = {}  # socket -> (kind, slot, opened at)
due = []    # (when, kind, slot)
for h in range(HOSTS):
    for kind in PER:
        for i in range(PER[kind]):
            due.append((0.0, kind, (h, i)))

def open_silent(kind, slot):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + slot[0]), 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", ports[kind]))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    return s

def slow(name, start):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(pki + "/" + name + ".crt", pki + "/" + name + ".key")
    s = socket.socket()
    s.bind(("127.0.0.12", 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", ports["api"]))
    t = ctx.wrap_socket(s)
    t.sendall(start)
    t.setblocking(False)
    return t

slowloris = {}  # socket -> [kind, answer]
for i in range(10):
    slowloris[slow("reader", b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ")] = ["head", b""]
    stats["head"]["n"] += 1
for i in range(5):
    slowloris[slow("operator", b"POST /v1/pools HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")] = ["body", b""]
    stats["body"]["n"] += 1

next_byte = time.time() + 1
while time.time() < end:
    now = time.time()
    keep = []
    for when, kind, slot in due:
        if when > now:
            keep.append((when, kind, slot))
            continue
        s = open_silent(kind, slot)
        if s is None:
            keep.append((now + 0.2, kind, slot))
        else:
            silent[s] = (kind, slot, now)
            stats[kind]["opened"] += 1
    due = keep
    if now >= next_byte:
        next_byte = now + 1
        for t in list(slowloris):
            try:
                t.send(b"a")
            except (OSError, ssl.SSLError):
                pass
    socks = list(silent) + list(slowloris)
    r = select.select(socks, [], [], 0.1)[0] if socks else []
    for s in r:
        if s in silent:
            kind, slot, at = silent.pop(s)
            try:
                s.recv(1)
            except OSError:
                pass
            s.close()
            st = stats[kind]
            st["closed"] += 1
            st["longest"] = max(st["longest"], time.time() - at)
            due.append((time.time() + 0.2, kind, slot))
        else:
            kind = slowloris[s][0]
            try:
                data = s.recv(4096)
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError):
                data = b""
            if data:
                slowloris[s][1] += data
                continue
            if slowloris[s][1].startswith(b"HTTP/1.1 408 "):
                stats[kind]["408"] += 1
            stats[kind]["closed"] += 1
            del slowloris[s]
            s.close()
print(json.dumps(stats))
'

it_paired_cluster
E=$(url east)
A=sip:alice@example.com
wait_until 20 "[ \"\$(code '$E/readyz?pool=pool-east')\" == 200 ]"
assert_eq 201 "$(code -XPOST "$E/v1/users" -d "{\"sip\":\"$A\",\"pool\":\"pool-east\"}")" "enable a user"
DECISIONS=$(pp_curl -sf --max-time 5 "$(url "$LEAD")/v1/history?limit=200" | jq '[.history[] | select(.what | test("failover|failback|takeover"))] | length')
log "leader $LEAD; flooding its API port $(api_port "${IT_ID[$LEAD]}"), its Raft port $(raft_port "${IT_ID[$LEAD]}") and west's replication port $(data_port "${IT_ID[west]}")"

setsid python3 -c "$FLOOD_PY" 120 "$PP_TLS" "$(api_port "${IT_ID[$LEAD]}")" \
	"$(raft_port "${IT_ID[$LEAD]}")" "$(data_port "${IT_ID[west]}")" </dev/null >"$IT_DIR/flood.json" 2>"$IT_DIR/flood.err" &
FLOOD_PID=$!
PP_PIDS+=("$FLOOD_PID")

# while it floods (20 s): leases held, members reachable, pool-east
# writable
sleep 2
i=0
UNTIL=$((SECONDS + 20))
while [ $SECONDS -lt $UNTIL ]; do
	i=$((i + 1))
	for n in "${ALL[@]}"; do
		assert_eq true "$(status "$n" | jq '.self.lease.valid')" "round $i: $n holds a lease"
	done
	assert_json "$(status "$LEAD")" '[.cluster.members[] | select(.reachable == false)] | length == 0' "round $i: every member reachable"
	assert_eq 200 "$(code -XPUT "$E/v1/users/$A/contacts" -d "[{\"sip\":\"sip:bob$i@example.com\",\"group\":\"work\"}]")" "round $i: a write at pool-east"
	sleep 1
done
[ $i -ge 5 ] || fail "only $i rounds in 20 s"
log "$i rounds under the flood: leases held, members reachable, writes taken"

kill -TERM "$FLOOD_PID"
wait "$FLOOD_PID" || fail "the flood client failed: $(cat "$IT_DIR/flood.err")"
FLOOD=$(cat "$IT_DIR/flood.json")
log "flood: $FLOOD"
# every silent connection was closed by the agents, at their deadlines (3 s
# for the API's handshake, 5 s for Raft's and replication's); many were
# opened again
assert_json "$FLOOD" '.api.closed > 300 and .raft.closed > 100 and .data.closed > 100' "silent connections closed by the agents"
assert_json "$FLOOD" '.api.longest < 20 and .raft.longest < 20 and .data.longest < 20' "no silent connection held for long"
# the last write reached west's copy over the stream
W=$(url west)
wait_until 20 "pp_curl -sf --max-time 5 '$W/v1/users/$A/contacts' | jq -e '.copy == \"backup\" and .value[0].sip == \"sip:bob$i@example.com\"' >/dev/null"
assert_json "$FLOOD" '.head.n == 10 and .head["408"] == 10 and .head.closed == 10' "slow headers answered 408 and closed"
assert_json "$FLOOD" '.body.n == 5 and .body["408"] == 5 and .body.closed == 5' "slow bodies answered 408 and closed"

# no failover, failback or takeover was decided
AFTER=$(pp_curl -sf --max-time 5 "$(url "$LEAD")/v1/history?limit=200" | jq '[.history[] | select(.what | test("failover|failback|takeover"))] | length')
assert_eq "$DECISIONS" "$AFTER" "no failover decided"
assert_eq 200 "$(code "$E/v1/users/$A/contacts")" "the user's data is there"

# logged once a minute per kind, counted in /metrics
LOGF=$IT_DIR/$LEAD/log
# (the flood lasted less than a minute: one line of each kind)
for what in 'refused: 8 connections from this address not authenticated yet' \
	'closed: tls handshake not done in time'; do
	assert_eq 1 "$(grep -c "http: conn 127\.0\.0\.[0-9]*:[0-9]*: $what" "$LOGF")" "logged once: $what"
done
grep -q 'http: conn 127.0.0.12:[0-9]*: request headers not complete in time' "$LOGF" || fail "slow headers not logged"
grep -q 'http: conn 127.0.0.12:[0-9]*: request body too slow' "$LOGF" || fail "slow body not logged"
M=$(pp_curl -sf --max-time 5 "$(url "$LEAD")/metrics")
for m in 'poolpair_api_connections_refused_total{reason="address"}' \
	'poolpair_api_connections_refused_total{reason="evicted"}' \
	'poolpair_api_timeouts_total{phase="handshake"}'; do
	v=$(awk -v k="$m" '$1 == k {print $2}' <<<"$M")
	[ -n "$v" ] && [ "$v" -gt 0 ] || fail "$m is '${v}' after the flood"
done
assert_contains "$M" 'poolpair_api_timeouts_total{phase="head"} 10' "10 slow heads counted"
assert_contains "$M" 'poolpair_api_timeouts_total{phase="body"} 5' "5 slow bodies counted"
log "flood refused, cut at its deadlines, counted; leases held throughout"
