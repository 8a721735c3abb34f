#!/usr/bin/env bash
# The pool store through the API: users enabled at their home pool's agent,
# user data and conferences written only at the owner (421 elsewhere),
# answered durable with epoch and sequence, kept across a kill -9, and bad
# input answered without touching anything.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
# east is killed and started again: its store is under test, not a failover: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url east)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 20 "agree_digest ${ALL[*]}"

E=$(url east)
W=$(url west)
A=sip:alice@example.com
# each agent opens its store asynchronously: wait until east answers
wait_until 20 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/v1/users/$A/location)\" == 404 ]"
# and may write (lease held, every decision so far applied)
wait_writable 20 east pool-east

# (the body goes to the test's own directory: the EXIT trap stays lib's,
# which stops the agents)
code() { curl -s -o "$IT_DIR/body" -w '%{http_code}' "$@"; }
body() { cat "$IT_DIR/body"; }

assert_eq 201 "$(code -XPOST "$E/v1/users" -d "{\"sip\":\"$A\",\"pool\":\"pool-east\"}")" "enable at the owner"
assert_json "$(body)" '.epoch == 1 and .seq == 1 and .pool == "pool-east"' "enable answer"

# a write at the agent of another pool is misdirected, with the owner's API
assert_eq 421 "$(code -XPOST "$W/v1/users" -d '{"sip":"sip:bob@example.com","pool":"pool-east"}')" "enable at west"
assert_json "$(body)" ".error == \"not_owner\" and .owner == \"pool-east\" and .owner_api == \"$(api east)\"" "421 body"

assert_eq 200 "$(code -XPUT "$E/v1/users/$A/contacts" -d '[{"sip":"sip:bob@example.com","group":"work"}]')" "put contacts"
assert_json "$(body)" '.seq == 2 and .epoch == 1 and .kind == "contacts"' "put answer"
assert_eq 200 "$(code -XPUT "$E/v1/users/$A/conferences/weekly" -d '{"at":"2026-12-01T10:00Z","attendees":3}')" "schedule"
assert_eq 200 "$(code "$E/v1/users/$A/contacts")" "get contacts"
assert_json "$(body)" '.value[0].group == "work" and .copy == "own" and .seq == 2' "get answer"
assert_eq 200 "$(code "$E/v1/users/$A/conferences/weekly")" "get conference"
assert_json "$(body)" '.value.attendees == 3' "conference value"
assert_eq 200 "$(code "$E/v1/users/$A/location")" "location"
assert_json "$(body)" ".home_pool == \"pool-east\" and .owner == \"pool-east\" and .enabled == true" "location answer"

# bad input: answered, nothing stored
assert_eq 400 "$(code -XPUT "$E/v1/users/alice/contacts" -d '1')" "invalid SIP"
assert_eq 400 "$(code -XPOST "$E/v1/users" -d '{"sip":"sip:x@y","pool":"pool-east","extra":1}')" "unknown field"
assert_eq 400 "$(code -XPUT "$E/v1/users/$A/profile" -d '{not json')" "not JSON"
head -c 1100000 /dev/zero | tr '\0' a | sed 's/^/"/; s/$/"/' >"$IT_DIR/big.json"
assert_eq 413 "$(code -XPUT "$E/v1/users/$A/settings" --data-binary @"$IT_DIR/big.json")" "value over 1 MiB"
assert_eq 404 "$(code -XPUT "$E/v1/users/sip:nobody@example.com/profile" -d '{}')" "unknown user"
assert_eq 404 "$(code -XPOST "$E/v1/users" -d '{"sip":"sip:c@example.com","pool":"pool-nowhere"}')" "unknown pool"
assert_eq 503 "$(code "$(url witness)/v1/users/$A/location")" "witness holds no data"
assert_eq 404 "$(code "$E/v1/users/$A/settings")" "settings never written"
# the next write continues the sequence: nothing above was stored
assert_eq 200 "$(code -XPUT "$E/v1/users/$A/profile" -d '{"name":"Alice"}')" "put profile"
assert_json "$(body)" '.seq == 4' "sequence after refusals"

# ---- many writes in one request: per-item outcomes, all or nothing per item
B=sip:bob@example.com
assert_eq 201 "$(code -XPOST "$E/v1/users" -d "{\"sip\":\"$B\",\"pool\":\"pool-east\"}")" "enable bob"
batch='{"items": [
 {"sip": "'$A'", "kind": "settings", "value": {"dnd": true}},
 {"sip": "sip:nobody@example.com", "kind": "profile", "value": {"x": 1}},
 {"sip": "'$B'", "kind": "contacts", "value": [{"sip": "'$A'"}]}]}'
assert_eq 200 "$(code -XPOST "$E/v1/users/batch" -d "$batch")" "batch at the owner"
assert_json "$(body)" '.ok == 2 and .failed == 1 and ([.results[].status] == [200, 404, 200])' "batch outcomes in item order"
assert_json "$(body)" '.results[0].epoch == 1 and .results[2].seq == .results[0].seq + 1' "each item its own sequence"
assert_eq 200 "$(code "$E/v1/users/$A/settings")" "a batch item reads back"
assert_json "$(body)" '.value.dnd == true' "batch value stored"
# at another pool's agent: every item is misdirected, nothing stored
assert_eq 200 "$(code -XPOST "$W/v1/users/batch" -d '{"items":[{"sip":"'$A'","kind":"profile","value":{"at":"west"}}]}')" "batch at west"
assert_json "$(body)" '.results[0].status == 421 and .failed == 1' "batch item at the wrong agent"
# a bad body is refused whole: nothing of it is written
assert_eq 400 "$(code -XPOST "$E/v1/users/batch" -d '{"items":[{"sip":"'$A'","kind":"profile","value":{"bad":1}},{"sip":"not-a-sip","kind":"profile","value":1}]}')" "batch with a bad item"
assert_eq 400 "$(code -XPOST "$E/v1/users/batch" -d '{"items":[]}')" "empty batch"
assert_eq 400 "$(code -XPOST "$E/v1/users/batch" -d 'nonsense')" "batch that is not JSON"
assert_eq 200 "$(code "$E/v1/users/$A/profile")" "profile after the refused batch"
assert_json "$(body)" '.value.bad == null' "the refused batch wrote nothing"

# ---- the binary batch body (proto/api.proto): values kept as the bytes
# received. pbf NUM STRING: a length-delimited field (ASCII, < 128 bytes).
pbf() { local LC_ALL=C; printf "\\x$(printf %02x $(($1 << 3 | 2)))\\x$(printf %02x ${#2})%s" "$2"; }
pbitem() { pbf 1 "$(printf '%b' "$(pbf 1 "$1")$(pbf 2 "$2")$(pbf 3 "$3")")"; }
pbpost() { code -XPOST "$E/v1/users/batch" -H 'Content-Type: application/x-protobuf' --data-binary @"$1"; }
ddigest() { curl -s "$1/v1/internal/digest?user_set=pool-east"; }
# east's and west's copies agree: the digest of both (hash of kind, key, value bytes)
pair_digest() { local e w; e=$(ddigest "$E"); w=$(ddigest "$W"); [ -n "$e" ] && [ "$e" == "$w" ] && echo "$e"; }
X='{"dnd": false,  "list": [1, 2]}'
assert_eq 200 "$(code -XPUT "$E/v1/users/$B/settings" --data-binary "$X")" "put settings as text"
wait_until 20 "pair_digest >/dev/null"
d_put=$(pair_digest)
# the JSON batch stores the compact form: other bytes, another digest
assert_eq 200 "$(code -XPOST "$E/v1/users/batch" -d '{"items":[{"sip":"'$B'","kind":"settings","value":'"$X"'}]}')" "json batch"
wait_until 20 "[ -n \"\$(pair_digest)\" ] && [ \"\$(pair_digest)\" != '$d_put' ]"
printf '%b' "$(pbitem "$B" settings "$X")$(pbitem "$A" contacts '[{"sip":"sip:bob@example.com","group":"work"}]')" >"$IT_DIR/ok.pb"
assert_eq 200 "$(pbpost "$IT_DIR/ok.pb")" "binary batch"
assert_json "$(body)" '.ok == 2 and .failed == 0 and ([.results[].status] == [200, 200]) and .results[1].seq == .results[0].seq + 1' "binary batch outcomes"
# both copies hold the bytes the PUTs stored (the digest after them
# again: alice's contacts are the bytes of her PUT above) and not the JSON
# batch's compact form
wait_until 20 "[ \"\$(pair_digest)\" == '$d_put' ]" || fail "binary batch value differs from the text PUT's at the pair"
assert_eq 200 "$(code "$E/v1/users/$A/contacts")" "binary batch item reads back"
assert_json "$(body)" '.value[0].group == "work"' "binary batch value"
assert_eq 200 "$(code -XPOST "$W/v1/users/batch" -H 'Content-Type: application/x-protobuf' --data-binary @"$IT_DIR/ok.pb")" "binary batch at west"
assert_json "$(body)" '.results[0].status == 421 and .failed == 2' "binary batch items at the wrong agent"
# bad bodies: 400, and nothing of them is written
head -c -3 "$IT_DIR/ok.pb" >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "truncated protobuf"
assert_json "$(body)" '.error == "bad_protobuf"' "truncated protobuf error"
printf '\xff\xff\xff\xff\xff\xff' >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "garbage protobuf"
printf '%b' "$(pbitem "$A" settings '{"x":1}')\x0a\x02\x08\x01" >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "sip of the wrong wire type"
printf '%b' "$(pbitem "$A" settings '{"x":1}')$(pbitem "$A" profile '{"x":')" >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "a value that is not JSON"
assert_json "$(body)" '.error == "invalid" and (.message | startswith("items[1]: the value is not JSON"))' "not JSON message"
printf '%b' "$(pbitem "$A" settings '{"x":1}')$(pbitem "$A" avatar '{}')" >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "unknown kind"
printf '%b' "$(pbitem "$A" settings '{"x":1}')$(pbitem "alice" settings '{}')" >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "invalid SIP URI"
: >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "empty binary batch"
for _ in $(seq 1001); do printf '\x0a\x00'; done >"$IT_DIR/bad.pb"
assert_eq 400 "$(pbpost "$IT_DIR/bad.pb")" "more than 1000 items"
sleep 0.5
assert_eq "$d_put" "$(pair_digest)" "the refused binary batches wrote nothing"
assert_eq 200 "$(code "$E/v1/users/$A/settings")" "settings after refused binary batches"
assert_json "$(body)" '.value.x == null' "no refused item stored"

# acknowledged writes survive a kill -9 of the agent
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs after SIGKILL"
start east
wait_until 30 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/v1/users/$A/profile)\" == 200 ]"
assert_eq 200 "$(code "$E/v1/users/$A/profile")" "profile after restart"
assert_json "$(body)" '.value.name == "Alice" and .seq == 4' "profile kept"
assert_eq 200 "$(code "$E/v1/users/$A/contacts")" "contacts after restart"
assert_json "$(body)" '.value[0].sip == "sip:bob@example.com"' "contacts kept"
wait_until 30 "agree_digest ${ALL[*]}"
# a restarted agent writes again once it holds a lease
wait_until 20 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/readyz?pool=pool-east)\" == 200 ]"
assert_eq 200 "$(code -XDELETE "$E/v1/users/$A")" "disable"
assert_eq 200 "$(code "$E/v1/users/$A/location")" "location of a disabled user"
assert_json "$(body)" '.enabled == false' "disabled"
assert_eq 404 "$(code -XPUT "$E/v1/users/$A/profile" -d '{}')" "write for a disabled user"
log "ok"
