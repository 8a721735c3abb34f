#!/usr/bin/env bash
# The HTTP API, agent-to-agent calls and the replication stream over TLS 1.3
# with roles by certificate: three agents with [tls] form the cluster; the
# pools are paired through poolpairctl with an operator certificate; a user
# write at east reaches west over the TLS stream, and a 20 MB conference
# upload on the content lane; a planned failover and a
# failback go through poolpairctl (agent-to-agent takeover and verify calls
# over TLS; poolpairctl follows a 421 to the owner's agent over https);
# plain HTTP, a certificate of another CA and an expired one are
# refused with the reason in the log; a reader may read (status, metrics) but
# not write (403, nothing changes, poolpairctl exits 1 with the reason); an
# operator may not call an internal route; a follower redirects to https.
source "$(dirname "$0")/lib.sh"

CERT=$(cd "$(dirname "$0")/../.." && pwd)/scripts/poolpair-cert
it_tls_setup
"$CERT" ca "$IT_DIR/other" --cn "other CA" >/dev/null
"$CERT" issue "$IT_DIR/other" intruder --role operator >/dev/null
"$CERT" issue "$PP_TLS" stale --role operator --not-before '10 days ago' \
	--not-after '1 day ago' >/dev/null

# code CLIENT CURL-ARGS...: the HTTP status with the client certificate CLIENT
code() {
	local c=$1
	shift
	as "$c" -o /dev/null -w '%{http_code}' "$@"
}

it_paired_cluster
for n in "${ALL[@]}"; do
	assert_contains "$(cat "$IT_DIR/$n/log")" "TLS 1.3 on raft, replication and the API as $n" "tls on at $n"
done
E=$(url east)
W=$(url west)
L=$(url "$LEAD")
log "leader $LEAD; pools paired over https"

# plain HTTP to the API: no answer, and the agent says why
curl -s --max-time 5 "http://$(api east)/v1/status" >/dev/null && fail "plain http answered"
wait_until 10 'grep -q "http: conn 127.0.0.1:[0-9]*: plain connection refused: not TLS" "$IT_DIR/east/log"'

# a certificate of another CA, an expired one: refused, logged with the reason
curl -s --max-time 5 --tlsv1.3 -k --cert "$IT_DIR/other/intruder.crt" \
	--key "$IT_DIR/other/intruder.key" "$E/v1/status" >/dev/null && fail "another CA's certificate answered"
wait_until 10 'grep -q "http: conn 127.0.0.1:[0-9]*: peer certificate from an unknown CA (CN=intruder)" "$IT_DIR/east/log"'
as stale "$E/v1/status" >/dev/null && fail "an expired certificate answered"
wait_until 10 'grep -q "http: conn 127.0.0.1:[0-9]*: peer certificate expired (CN=stale)" "$IT_DIR/east/log"'
expect_exit 1 "$BUILD/poolpairctl" --api "$E" --ca "$PP_TLS/ca.crt" \
	--cert "$IT_DIR/other/intruder.crt" --key "$IT_DIR/other/intruder.key" status
# poolpairctl checks the agent's certificate against its --ca
expect_exit 1 "$BUILD/poolpairctl" --api "$E" --ca "$IT_DIR/other/ca.crt" \
	--cert "$PP_TLS/operator.crt" --key "$PP_TLS/operator.key" status
assert_contains "$OUT" "the agent's certificate must verify against --ca" "poolpairctl with another CA"
# and says what is missing
expect_exit 1 "$BUILD/poolpairctl" --api "$E" --ca "$PP_TLS/ca.crt" status
assert_contains "$OUT" "the agent wants a client certificate: --cert and --key" "poolpairctl without a certificate"
expect_exit 1 "$BUILD/poolpairctl" --api "http://$(api east)" status
assert_contains "$OUT" "an agent with [tls] answers https:// only" "poolpairctl in plain http"

# a reader reads, and may not write
assert_eq 200 "$(code reader "$E/v1/status")" "reader: GET /v1/status"
assert_eq 200 "$(code reader "$E/metrics")" "reader: GET /metrics"
# what a TLS scrape gets passes Prometheus' linter too
command -v promtool >/dev/null || fail "missing tool: promtool (Debian package prometheus)"
as reader "$E/metrics" >"$IT_DIR/metrics.tls"
out=$(promtool check metrics <"$IT_DIR/metrics.tls" 2>&1) || fail "promtool check metrics over TLS: $out"
assert_eq "" "$out" "promtool check metrics over TLS"
assert_eq 200 "$(code reader "$L/v1/pools")" "reader: GET /v1/pools"
before=$(digest "$LEAD")
out=$(as reader -XPOST "$L/v1/pools" -d '{"name":"pool-x","site":"east","edition":"enterprise","kind":"physical","os":"w19"}')
assert_json "$out" '.error == "forbidden" and .message == "role reader not allowed here"' "reader: POST /v1/pools"
wait_until 10 'grep -q "api: forbidden: reader (role reader) POST /v1/pools from 127.0.0.1:" "$IT_DIR/$LEAD/log"'
expect_exit 1 env PP_TLS_CLIENT=reader "$BUILD/poolpairctl" --api "$L" --ca "$PP_TLS/ca.crt" \
	--cert "$PP_TLS/reader.crt" --key "$PP_TLS/reader.key" site add nope
assert_contains "$OUT" "forbidden: role reader not allowed here" "poolpairctl as a reader"
sleep 1
assert_eq "$before" "$(digest "$LEAD")" "nothing changed by the reader"
assert_eq "" "$(sfield "$LEAD" '.pools[] | select(.name == "pool-x") | .name')" "no pool-x"

# an operator may not speak for an agent
assert_eq 403 "$(code operator -XPOST "$L/v1/internal/heartbeat" -d '{"id":1,"applied":0}')" \
	"operator: POST /v1/internal/heartbeat"
assert_eq 403 "$(code reader "$E/v1/internal/digest?user_set=pool-east")" "reader: an internal read"

# a follower sends a write to the leader with an https Location
F=$(others "$LEAD" | sed -n 1p)
loc=$(as operator -o /dev/null -w '%{redirect_url}' -XPOST "$(url "$F")/v1/sites" -d '{"name":"s1"}')
assert_eq "https://$(api "$LEAD")/v1/sites" "$loc" "redirect to the leader"

# a user write at east reaches west over the TLS stream
wait_until 20 "[ \"\$(code reader $E/readyz?pool=pool-east)\" == 200 ]"
assert_eq 201 "$(code operator -XPOST "$E/v1/users" -d '{"sip":"sip:tls1@example.com","pool":"pool-east"}')" "enable a user at east"
assert_eq 200 "$(code operator -XPUT "$E/v1/users/sip:tls1@example.com/contacts" -d '[{"n":1}]')" "contacts at east"
wait_until 20 "as reader $W/v1/users/sip:tls1@example.com/contacts | jq -e '.copy == \"backup\" and .value[0].n == 1' >/dev/null"
assert_contains "$(cat "$IT_DIR/west/log")" "receiver: 127.0.0.1:" "west's receiver took the stream"
assert_not_contains "$(cat "$IT_DIR/west/log" "$IT_DIR/east/log")" "receiver: refused" "no refused stream between the agents"

# conference content: a 20 MB upload streamed over TLS with poolpairctl,
# replicated on the content lane, read back from west's copy by a reader
head -c 20000000 /dev/urandom >"$IT_DIR/deck"
expect_exit 0 ctl east content upload sip:tls1@example.com c1 deck.pptx "$IT_DIR/deck"
want=$(sha256sum <"$IT_DIR/deck" | cut -d' ' -f1)
wait_until 60 "[ \"\$(as reader $W/v1/users/sip:tls1@example.com/conferences/c1/content/deck.pptx | sha256sum | cut -d' ' -f1)\" == $want ]"
expect_exit 0 env PP_TLS_CLIENT=reader "$BUILD/poolpairctl" --api "$E" --ca "$PP_TLS/ca.crt" \
	--cert "$PP_TLS/reader.crt" --key "$PP_TLS/reader.key" content download sip:tls1@example.com c1 deck.pptx "$IT_DIR/deck.back"
assert_eq "$want" "$(sha256sum <"$IT_DIR/deck.back" | cut -d' ' -f1)" "content read back by a reader through poolpairctl"
# the data-plane commands share the client's set-up: the same hints
expect_exit 1 "$BUILD/poolpairctl" --api "$E" --ca "$PP_TLS/ca.crt" \
	content download sip:tls1@example.com c1 deck.pptx "$IT_DIR/deck.nocert"
assert_contains "$OUT" "the agent wants a client certificate: --cert and --key" "content download without a certificate"
[ ! -e "$IT_DIR/deck.nocert" ] || fail "a failed download left its file"
expect_exit 1 "$BUILD/poolpairctl" --api "http://$(api east)" user get sip:tls1@example.com contacts
assert_contains "$OUT" "an agent with [tls] answers https:// only" "user get in plain http"

# planned failover and failback through poolpairctl with the operator certificate
expect_exit 0 ctl "$LEAD" failover pool-east
assert_contains "$OUT" "pool-east failed over to pool-west (epoch 2)"
wait_until 20 "[ \"\$(code reader $W/readyz?pool=pool-east)\" == 200 ]"
assert_eq 201 "$(code operator -XPOST "$W/v1/users" -d '{"sip":"sip:tls2@example.com","pool":"pool-east"}')" "a user enabled at west after the failover"
wait_until 30 "[ \"\$(sfield east '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
wait_until 30 "ctl $LEAD failback pool-east --what-if >/dev/null 2>&1"
expect_exit 0 ctl "$LEAD" failback pool-east
assert_contains "$OUT" "pool-east failed back: pool-east owns its user set again (epoch 3)"
wait_until 20 "as reader $E/v1/users/sip:tls2@example.com/location | jq -e '.home_pool == \"pool-east\"' >/dev/null"
for n in east west; do
	wait_until 20 "[ \"\$(sfield $n '.pools[] | select(.name == \"pool-east\") | .owner')\" == pool-east ]"
done
expect_exit 0 ctl east backup verify pool-east
assert_contains "$OUT" "equal after: yes"
# asked of the pair's agent: poolpairctl repeats it at the owner's, over https
expect_exit 0 ctl west backup verify pool-east
assert_contains "$OUT" "pool-east owns the user set: asking its agent at $(api east)"
assert_contains "$OUT" "equal after: yes"
# a renewed agent certificate and SIGHUP: the API and the stream go on with it
pp_tls_agent_cert east 1 pool-east
kill -HUP "$(pid_of east)"
wait_until 10 'grep -q "tls: reloaded .*/east.crt (CN=east, role agent, generation 2)" "$IT_DIR/east/log"'
assert_eq 200 "$(code reader "$E/v1/status")" "reader: status at east after the reload"
assert_eq 201 "$(code operator -XPOST "$E/v1/users" -d '{"sip":"sip:tls3@example.com","pool":"pool-east"}')" "a write at east after the reload"
assert_eq 200 "$(code operator -XPUT "$E/v1/users/sip:tls3@example.com/contacts" -d '[{"n":3}]')" "contacts at east after the reload"
wait_until 20 "as reader $W/v1/users/sip:tls3@example.com/contacts | jq -e '.copy == \"backup\" and .value[0].n == 3' >/dev/null"
log "ok"
