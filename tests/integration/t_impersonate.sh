#!/usr/bin/env bash
# A certificate speaks only for the agent it names (issue 19, item 1), and
# anonymous connections cannot lock peers out (item 4), on a cluster of
# three agents over TLS with per-agent certificates.
#
# Raft: a process holding the witness's certificate (agent 3) that claims to
# be agent 1 in the Raft handshake is refused by every agent it tries and
# logged with the address, the CN and both ids; the cluster keeps its leader
# and term and still commits. A flood of silent connections from ten
# addresses to the leader's Raft port (more than its places for links in
# their handshakes) is refused and logged, and a follower restarted
# meanwhile gets its link to the leader back; decisions still commit.
#
# Replication: a HELLO over TLS with the witness's certificate claiming to
# be east's writer (agent 1 of pool-east), or the witness streaming for
# pool-east, is refused by west's receiver with an ERROR frame saying why;
# east's own stream is not replaced and its writes still reach west.
source "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "missing tool: python3"
it_tls_setup

term() { sfield "$1" '.cluster.term'; }

# forge PORT CERT-NAME CLAIMED-ID: a Raft handshake over TLS 1.3 with
# PP_TLS/CERT-NAME's certificate claiming CLAIMED-ID (and agent 1's Raft
# address); prints "accepted" when the agent acknowledged it, else "refused"
FORGE_PY='
import socket, ssl, struct, sys
port, name, claim, addr = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pki = sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(pki + "/ca.crt")
ctx.load_cert_chain(pki + "/" + name + ".crt", pki + "/" + name + ".key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10))
a = addr.encode() + b"\0"
a += b"\0" * (-len(a) % 8)
# raft_uv_tcp handshake: protocol 1, our id, address length; the address
s.sendall(struct.pack("<QQQ", 1, claim, len(a)) + a)
try:
    ack = s.recv(8)
except (OSError, ssl.SSLError):
    ack = b""
print("accepted" if ack == struct.pack("<Q", 1) else "refused")
'
forge() {
	python3 -c "$FORGE_PY" "$1" "$2" "$3" "127.0.0.1:$(raft_port 1)" "$PP_TLS"
}

# flood PORT HOSTS PER SECONDS: PER silent TCP connections from each of
# 127.0.0.2 .. 127.0.0.(HOSTS+1) to PORT, each opened again (at most every
# 200 ms) when the agent closes it, for SECONDS
FLOOD_PY='
import select, socket, sys, time
port, hosts, per, secs = (int(x) for x in sys.argv[1:5])
end = time.time() + secs
slots = {}
def open_slot(i):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i // per), 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    return s
due = {i: 0.0 for i in range(hosts * per)}
while time.time() < end:
    now = time.time()
    for i, when in list(due.items()):
        if when <= now:
            s = open_slot(i)
            del due[i]
            if s is None:
                due[i] = now + 0.2
            else:
                slots[s] = i
    r = select.select(list(slots), [], [], 0.1)[0] if slots else []
    for s in r:
        try:
            gone = s.recv(1) == b""
        except OSError:
            gone = True
        if gone:
            due[slots.pop(s)] = time.time() + 0.2
            s.close()
'

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
wait_until 20 "agree_digest ${ALL[*]}"
LEAD=$LEADER
TERM=$(term "$LEAD")
log "leader $LEAD, term $TERM"

# ---- the witness's certificate claiming to be agent 1 ----------------------
for n in west witness; do
	got=$(forge "$(raft_port "${IT_ID[$n]}")" witness 1)
	assert_eq refused "$got" "the witness's certificate as agent 1 at $n"
	wait_until 10 "grep -q 'raft: refused 127.0.0.1:[0-9]*: raft handshake claims id 1, certificate names agent 3 (CN=witness)' '$IT_DIR/$n/log'"
done
# its own id it may claim: the same certificate as agent 3 is let in
got=$(forge "$(raft_port 2)" witness 3)
assert_eq accepted "$got" "the witness's certificate as agent 3"
# and again: a retrying impostor is logged once a minute, not each time
for _ in 1 2 3; do forge "$(raft_port 2)" witness 1 >/dev/null; done
assert_eq 1 "$(grep -c 'claims id 1, certificate names agent 3' "$IT_DIR/west/log")" "refusals logged once a minute"

ctl "$LEAD" site add branch >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
assert_eq "$LEAD" "$(agree_leader "${ALL[@]}")" "leader kept after the impostor"
assert_eq "$TERM" "$(term "$LEAD")" "term kept after the impostor"
assert_contains "$(ctl "$LEAD" site list)" "branch" "a decision commits after the impostor"
log "impostor refused at west and witness; leader and term kept"

# ---- silent connections to the leader's Raft port -------------------------
LPORT=$(raft_port "${IT_ID[$LEAD]}")
for n in "${ALL[@]}"; do [ "$n" != "$LEAD" ] && FOLLOWER=$n && break; done
setsid python3 -c "$FLOOD_PY" "$LPORT" 10 10 60 </dev/null >/dev/null 2>&1 &
FLOOD_PID=$!
PP_PIDS+=("$FLOOD_PID")
wait_until 20 "grep -q 'raft: refused 127.0.0.[0-9]*:[0-9]*: 8 connections from 127.0.0.[0-9]* already in their handshakes' '$IT_DIR/$LEAD/log'"
wait_until 20 "grep -q 'raft: refused 127.0.0.[0-9]*:[0-9]*: closed for a newer connection: 32 already in their handshakes' '$IT_DIR/$LEAD/log'"
log "leader's Raft port flooded from 10 addresses"

# a follower restarted now must get its link to the leader back
pp_kill "$IT_DIR" "$FOLLOWER"
wait_exit "$FOLLOWER" 10 || fail "$FOLLOWER did not stop"
LINKS=$(grep -c "raft: link to 127.0.0.1:$LPORT (id ${IT_ID[$LEAD]}, CN=$LEAD) up" "$IT_DIR/$FOLLOWER/log" || true)
start "$FOLLOWER"
wait_until 30 "[ \$(grep -c 'raft: link to 127.0.0.1:$LPORT (id ${IT_ID[$LEAD]}, CN=$LEAD) up' '$IT_DIR/$FOLLOWER/log') -gt $LINKS ]"
kill -0 "$FLOOD_PID" 2>/dev/null || fail "the flood ended early"
ctl "$LEAD" site add branch2 >/dev/null
wait_until 30 "agree_digest ${ALL[*]}"
assert_eq "$LEAD" "$(agree_leader "${ALL[@]}")" "leader kept during the flood"
assert_eq "$TERM" "$(term "$LEAD")" "term kept during the flood"
assert_contains "$(ctl "$FOLLOWER" site list)" "branch2" "a decision commits during the flood"
kill -TERM -- "-$FLOOD_PID" 2>/dev/null || true
log "$FOLLOWER restarted and linked to $LEAD during the flood; decisions commit"

# ---- replication: a HELLO speaks for the certificate's agent and pool -----
# HELLO_PY PORT PKI CERT-NAME FROM-POOL TO-POOL AGENT-ID: a replication HELLO
# over TLS 1.3 with PKI/CERT-NAME's certificate; prints the text of the
# ERROR frame the receiver answers, or "answered" / "closed"
HELLO_PY='
import socket, ssl, struct, sys
port, pki, name, frm, to, agent = sys.argv[1:7]
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out
def field(tag, s):
    return bytes([tag]) + varint(len(s)) + s
hello = field(0x0a, frm.encode()) + field(0x12, to.encode()) + b"\x18" + varint(int(agent))
head = struct.pack("<IBBHI", len(hello), 1, 1, 0, crc32c(hello))
frame = head + struct.pack("<I", crc32c(head)) + hello
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(pki + "/ca.crt")
ctx.load_cert_chain(pki + "/" + name + ".crt", pki + "/" + name + ".key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10))
s.sendall(frame)
buf = b""
try:
    while len(buf) < 16 or len(buf) < 16 + struct.unpack("<I", buf[:4])[0]:
        d = s.recv(65536)
        if not d:
            break
        buf += d
except (OSError, ssl.SSLError):
    pass
if len(buf) < 16:
    print("closed")
elif buf[4] == 6:
    print(buf[16:16 + struct.unpack("<I", buf[:4])[0]].decode())
else:
    print("answered")
'
hello() { python3 -c "$HELLO_PY" "$(data_port 2)" "$PP_TLS" "$@"; }
code() { pp_curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"; }
reads() { pp_curl -s --max-time 10 "$(url west)/v1/users/$1/contacts"; }

ctl "$LEAD" pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl "$LEAD" pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl "$LEAD" pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_until 30 "[ \"\$(code -XPOST '$(url east)/v1/users' -d '{\"sip\":\"sip:imp1@example.com\",\"pool\":\"pool-east\"}')\" = 201 ]"
assert_eq 200 "$(code -XPUT "$(url east)/v1/users/sip:imp1@example.com/contacts" -d '[{"n":1}]')" "a write at east"
wait_until 20 "reads sip:imp1@example.com | jq -e '.copy == \"backup\" and .value[0].n == 1' >/dev/null"

# the witness's certificate as east's writer (agent 1 of pool-east): refused,
# as is the witness as itself streaming for pool-east (its certificate names
# no pool)
assert_eq "hello refused: certificate speaks for agent 3, not 1" \
	"$(hello witness pool-east pool-west 1)" "the witness's certificate as east's writer"
assert_eq "hello refused: certificate speaks for pool (none), not pool-east" \
	"$(hello witness pool-east pool-west 3)" "the witness's certificate streaming for pool-east"
wait_until 10 "grep -q 'hello refused: certificate speaks for agent 3, not 1' '$IT_DIR/west/log'"
# east's own stream was not replaced: a write at east still reaches west
assert_eq 200 "$(code -XPUT "$(url east)/v1/users/sip:imp1@example.com/contacts" -d '[{"n":2}]')" "a write at east after the forged HELLOs"
wait_until 20 "reads sip:imp1@example.com | jq -e '.copy == \"backup\" and .value[0].n == 2' >/dev/null"
log "forged replication HELLOs refused at west; east's stream goes on"
