#!/usr/bin/env bash
# timeout: 300
# Hot standby (issue 14): pool-east has two agents in site east (east and
# east2), its pair pool-west one (west), and a witness.
#   - the writer streams every write of pool-east to its standby: a user
#     write and a content item made at the writer are read at the standby
#     from its copy ("copy": "standby", X-Copy: standby); a write at the
#     standby stays 421 not_writer;
#   - the standby's copy of pool-east's user set has the writer's digest
#     (and the pair's copy too);
#   - the standby restarted takes its copy up again where it stood.
source "$(dirname "$0")/lib.sh"

boot=$(it_boot_list 1 2 3 4)
agent east 1 east pool-east "$boot" ""
agent east2 2 east pool-east "$boot" ""
agent west 3 west pool-west "$boot" ""
agent witness 4 witness "" "$boot" ""
start east east2 west witness
ALL=(east east2 west witness)
wait_leader 30 "${ALL[@]}"
ctl witness pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
http() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
pool() { sfield witness ".pools[] | select(.name == \"$1\") | .$2"; }
wait_until 30 "[ \"\$(pool pool-east writer.id)\" != 0 ] && [ \"\$(pool pool-west writer.id)\" != 0 ]"
W=$(pool pool-east writer.name)
case $W in
east) S=east2 ;;
east2) S=east ;;
*) fail "the writer of pool-east is '$W', not one of its agents" ;;
esac
log "writer of pool-east: $W, standby: $S"
wait_writable 30 "$W" pool-east west pool-west
wait_until 30 "grep -q 'streaming pool-east to its standby $S' $IT_DIR/$W/log"
wait_until 30 "grep -q 'standby of pool-east: keeping a copy from its writer' $IT_DIR/$S/log"

# ---- writes at the writer, reads at the standby ----
assert_eq 201 "$(http -XPOST "$(url "$W")/v1/users" -d '{"sip":"sip:a@example.com","pool":"pool-east"}')" "user enabled at the writer"
for i in 1 2 3 4 5; do
	assert_eq 200 "$(http -XPUT "$(url "$W")/v1/users/sip:a@example.com/profile" -d "{\"n\":$i}")" "write $i at the writer"
done
assert_eq 200 "$(http -XPUT "$(url "$W")/v1/users/sip:a@example.com/conferences/c1" -d '{"title":"t"}')" "conference at the writer"
head -c 300000 /dev/urandom >"$IT_DIR/blob"
assert_eq 201 "$(http -XPUT --data-binary @"$IT_DIR/blob" "$(url "$W")/v1/users/sip:a@example.com/conferences/c1/content/slides.bin")" "content at the writer"
wait_until 20 "curl -s $(url "$S")/v1/users/sip:a@example.com/profile | jq -e '.value.n == 5 and .copy == \"standby\"'"
out=$(curl -s "$(url "$S")/v1/users/sip:a@example.com/conferences/c1")
assert_json "$out" '.value.title == "t" and .copy == "standby"' "conference read at the standby"
assert_json "$(curl -s "$(url "$S")/v1/users/sip:a@example.com/location")" '.home_pool == "pool-east"' "location at the standby"
wait_until 20 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $(url "$S")/v1/users/sip:a@example.com/conferences/c1/content/slides.bin)\" == 200 ]"
curl -s -D "$IT_DIR/headers" -o "$IT_DIR/blob.standby" "$(url "$S")/v1/users/sip:a@example.com/conferences/c1/content/slides.bin"
cmp -s "$IT_DIR/blob" "$IT_DIR/blob.standby" || fail "the content read at the standby differs"
assert_contains "$(tr -d '\r' <"$IT_DIR/headers")" "X-Copy: standby" "content read at the standby"
# writes stay at the writer
out=$(curl -s -XPUT "$(url "$S")/v1/users/sip:a@example.com/profile" -d '{"n":9}')
assert_json "$out" ".error == \"not_writer\" and .writer == \"$W\"" "write at the standby"
assert_eq 421 "$(http -XPUT --data-binary @"$IT_DIR/blob" "$(url "$S")/v1/users/sip:a@example.com/conferences/c1/content/x.bin")" "content write at the standby"
# the divergence archive is each agent's own: a standby answers it too
assert_json "$(curl -s "$(url "$S")/v1/divergence")" '(.divergence | type) == "array" and (.divergence | length) == 0' "divergence archive at the standby"
# the writer's reads say own
assert_json "$(curl -s "$(url "$W")/v1/users/sip:a@example.com/profile")" '.copy == "own"' "read at the writer"

# ---- the copies are equal ----
dig() { curl -s "$(url "$1")/v1/internal/digest?user_set=pool-east" | jq -c '[.items, .buckets]'; }
wait_until 20 "[ \"\$(dig $S)\" == \"\$(dig $W)\" ]"
wait_until 20 "[ \"\$(dig west)\" == \"\$(dig $W)\" ]"
log "pool-east: $(curl -s "$(url "$W")/v1/internal/digest?user_set=pool-east" | jq .items) items, equal at $W, $S and west"

# ---- the standby restarted: its copy goes on ----
pp_kill "$IT_DIR" "$S" TERM
wait_exit "$S" 20
for i in 6 7; do
	assert_eq 200 "$(http -XPUT "$(url "$W")/v1/users/sip:a@example.com/profile" -d "{\"n\":$i}")" "write $i while the standby is down"
done
start "$S"
wait_until 60 "curl -s $(url "$S")/v1/users/sip:a@example.com/profile | jq -e '.value.n == 7 and .copy == \"standby\"'"
wait_until 20 "[ \"\$(dig $S)\" == \"\$(dig $W)\" ]"
log "ok"
