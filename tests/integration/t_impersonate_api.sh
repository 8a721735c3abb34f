#!/usr/bin/env bash
# timeout: 240
# An agent's certificate speaks for its own agent only, on the
# agent-to-agent HTTP routes: a TLS cluster of three agents (east 1
# pool-east, west 2 pool-west, witness 3), each with a certificate naming
# its id and pool; the witness's certificate (role agent, agent 3) used
# with curl cannot register as agent 1 with other addresses (403, east's
# addresses unchanged), send heartbeats, reports or a rejoin for agent 1,
# nor can a certificate that is not the right one ask a takeover (only the
# leader), a repair (only the owner pool's writer) or a pool-sync (only the
# pool's writer); each refusal is logged once, naming the route, the CN,
# the agent claimed and the agent certified. Heartbeats of made-up ids
# (certificates naming agents that are not members) fill no slot of the
# leader's table: an agent that joins afterwards is heard (reachable). The
# audit trail records the certificate's name, the X-Poolpair-Who header
# only as a label after it.
source "$(dirname "$0")/lib.sh"

it_tls_setup

# post CLIENT URL BODY: the answer's body, then its status on a last line
post() { as "$1" -XPOST "$2" -d "$3" -w '\n%{http_code}'; }
answer_code() { tail -n1 <<<"$1"; }
answer_body() { sed '$d' <<<"$1"; }
# refused WHAT ANSWER REASON: a 403 forbidden with that reason
refused() {
	assert_eq 403 "$(answer_code "$2")" "$1: status"
	assert_json "$(answer_body "$2")" ".error == \"forbidden\" and .reason == \"$3\" and .message == \"$3\"" "$1: answer"
}
member() { sfield "$1" ".cluster.members[] | select(.id == $2) | $3"; }

it_paired_cluster
LID=${IT_ID[$LEAD]}
L=$(url "$LEAD")
log "leader $LEAD (agent $LID)"
wait_until 20 "[ \"\$(member $LEAD 1 .api)\" == $(api east) ]"
east_addrs=$(status "$LEAD" | jq -c '.cluster.members[] | select(.id == 1) | [.raft, .data, .api]')

# (a) the witness's certificate registers as agent 1 with its own addresses
out=$(post witness "$L/v1/internal/register" \
	'{"id":1,"name":"east","site":"east","pool":"pool-east","raft":"127.0.0.1:1","data":"127.0.0.1:2","api":"127.0.0.1:3"}')
refused "register as agent 1" "$out" "certificate speaks for agent 3, not 1"
wait_until 10 "grep -q 'api: forbidden: POST /v1/internal/register from 127.0.0.1:[0-9]* (CN witness, agent 3) claims agent 1: certificate speaks for agent 3, not 1' '$IT_DIR/$LEAD/log'"
# east's own certificate, naming another pool
pp_tls_agent_cert east-other 1 pool-west
out=$(post east-other "$L/v1/internal/register" \
	"{\"id\":1,\"name\":\"east\",\"site\":\"east\",\"pool\":\"pool-east\",\"raft\":\"127.0.0.1:$(raft_port 1)\",\"data\":\"127.0.0.1:$(data_port 1)\",\"api\":\"$(api east)\"}")
refused "register with agent 1 of another pool" "$out" "certificate speaks for agent 1 of pool pool-west, not of pool pool-east"
sleep 1
for n in "${ALL[@]}"; do
	assert_eq "$east_addrs" "$(status "$n" | jq -c '.cluster.members[] | select(.id == 1) | [.raft, .data, .api]')" "east's addresses seen by $n"
done

# (b) heartbeats and reports for agent 1: refused, logged once however
# often they come; the witness's own heartbeat is answered
for _ in 1 2 3 4 5; do
	out=$(post witness "$L/v1/internal/heartbeat" '{"id":1,"applied":0}')
	refused "heartbeat as agent 1" "$out" "certificate speaks for agent 3, not 1"
done
wait_until 10 "grep -q 'api: forbidden: POST /v1/internal/heartbeat from 127.0.0.1:[0-9]* (CN witness, agent 3) claims agent 1: certificate speaks for agent 3, not 1' '$IT_DIR/$LEAD/log'"
assert_eq 1 "$(grep -c 'api: forbidden: POST /v1/internal/heartbeat from' "$IT_DIR/$LEAD/log")" "one warning for five refusals"
out=$(post witness "$L/v1/internal/heartbeat" '{"id":3,"applied":0}')
assert_eq 200 "$(answer_code "$out")" "the witness's heartbeat for itself"
out=$(post witness "$(url west)/v1/internal/report" '{"id":1,"applied":0}')
refused "report as agent 1" "$out" "certificate speaks for agent 3, not 1"
wait_until 10 "grep -q 'api: forbidden: POST /v1/internal/report from 127.0.0.1:[0-9]* (CN witness, agent 3) claims agent 1' '$IT_DIR/west/log'"
out=$(post witness "$L/v1/internal/rejoin" "{\"id\":1,\"address\":\"127.0.0.1:$(raft_port 1)\"}")
refused "rejoin as agent 1" "$out" "certificate speaks for agent 3, not 1"
assert_eq voter "$(member "$LEAD" 1 .role)" "east still a voter"

# (c) a pool-sync for pool-east by another than its writer (east)
token=$(sfield "$LEAD" '.pools[] | select(.name == "pool-east") | .writer.token')
out=$(post witness "$L/v1/internal/pool-sync" "{\"pool\":\"pool-east\",\"writer_token\":$token,\"standby\":0}")
refused "pool-sync by the witness" "$out" "certificate speaks for agent 3, not 1: only the pool's writer asks a pool-sync"
# a repair of west's copy of pool-east, by another than east (the writer of
# the owner pool): a change record putting contacts of a made-up user
rec=$(printf '\x0a\x09pool-east\x10\x01\x18\x01\x30\x01\x3a\x16sip:forged@example.com\x42\x03[1]' | base64 -w0)
out=$(as witness -XPOST "$(url west)/v1/internal/repair" -H 'Content-Type: text/plain' -d "$rec" -w '\n%{http_code}')
refused "repair by the witness" "$out" "certificate speaks for agent 3, not 1: only the writer of the owner pool sends repairs"
wait_until 10 "grep -q 'api: forbidden: POST /v1/internal/repair from 127.0.0.1:[0-9]* (CN witness, agent 3) claims agent 1' '$IT_DIR/west/log'"
out=$(as reader "$(url west)/v1/users/sip:forged@example.com/contacts" -w '\n%{http_code}')
assert_eq 404 "$(answer_code "$out")" "no forged contacts in west's copy"
# a takeover at west (the pair of pool-east) by an agent that does not lead
NL=witness
[ "$LEAD" != witness ] || NL=east
out=$(post "$NL" "$(url west)/v1/internal/takeover" '{"user_set":"pool-east"}')
refused "takeover by $NL" "$out" "certificate speaks for agent ${IT_ID[$NL]}, not $LID: only the leader asks a takeover"
# west still takes east's records
wait_until 20 "[ \"\$(as reader $(url east)/readyz?pool=pool-east -o /dev/null -w '%{http_code}')\" == 200 ]"
assert_eq 201 "$(as operator -XPOST "$(url east)/v1/users" -d '{"sip":"sip:a@example.com","pool":"pool-east"}' -o /dev/null -w '%{http_code}')" "a user at east"
assert_eq 200 "$(as operator -XPUT "$(url east)/v1/users/sip:a@example.com/contacts" -d '[{"n":1}]' -o /dev/null -w '%{http_code}')" "contacts at east"
wait_until 20 "as reader $(url west)/v1/users/sip:a@example.com/contacts | jq -e '.copy == \"backup\" and .value[0].n == 1' >/dev/null"

# (d) heartbeats of 31 made-up agents (certificates naming agents 100..130,
# members of nothing) fill no slot of the leader's table: a fourth agent
# that joins afterwards is heard
for i in $(seq 100 130); do
	pp_tls_agent_cert "made-up-$i" "$i"
	out=$(post "made-up-$i" "$L/v1/internal/heartbeat" "{\"id\":$i,\"applied\":0}")
	assert_eq 200 "$(answer_code "$out")" "heartbeat of made-up agent $i"
done
agent witness2 4 witness "" "" "$L"
start witness2
ALL+=(witness2)
wait_until 30 "[ \"\$(member $LEAD 4 .name)\" == witness2 ]"
wait_until 20 "[ \"\$(member $LEAD 4 .reachable)\" == true ]"
for id in 1 2 3; do
	assert_eq true "$(member "$LEAD" "$id" .reachable)" "member $id reachable"
done

# the audit trail: the certificate's name, the header a label after it
out=$(as operator -XPOST "$L/v1/sites" -H 'X-Poolpair-Who: east-1' -d '{"name":"s-who"}' -w '\n%{http_code}')
assert_eq 201 "$(answer_code "$out")" "add a site with X-Poolpair-Who"
out=$(as operator -XPOST "$L/v1/sites" -d '{"name":"s-plain"}' -w '\n%{http_code}')
assert_eq 201 "$(answer_code "$out")" "add a site without X-Poolpair-Who"
h=$(as reader "$L/v1/history")
assert_json "$h" '[.history[] | select(.what | test("s-who")) | .who] == ["operator (east-1)"]' "who with a label"
assert_json "$h" '[.history[] | select(.what | test("s-plain")) | .who] == ["operator"]' "who without a label"
expect_exit 0 ctl "$LEAD" pool add pool-who --site east --edition enterprise --kind physical --os w19
h=$(as reader "$L/v1/history")
assert_json "$h" '[.history[] | select(.what | test("pool-who")) | .who | test("^operator \\([^ ()]+@[^ ()]+\\)$")] == [true]' "who of poolpairctl"
log "ok"
