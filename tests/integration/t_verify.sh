#!/usr/bin/env bash
# backup verify: both copies of a user set compared range by range. Equal
# copies give no difference; copies damaged behind the agents' back with the
# sqlite3 tool while they are stopped (at the backup: a value changed, a
# row deleted, a row added, a disabled user enabled; at the owner: a
# content item of three chunks that never reached the backup) are reported
# key by key with the right problem, repaired from the owner, and a second
# verify finds nothing. Bad requests are answered and change nothing.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "missing tool: sqlite3"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-north --site north --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
# both pool agents are stopped to damage their stores: no failover wanted: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url east)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)

code() { curl -s --max-time 60 -o "$IT_DIR/body" -w '%{http_code}' "$@"; }
body() { cat "$IT_DIR/body"; }
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ] && [ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east west pool-west

A=sip:alice@example.com
B=sip:bob@example.com
C=sip:carol@example.com
for u in $A $B; do
	assert_eq 201 "$(code -XPOST "$E/v1/users" -d "{\"sip\":\"$u\",\"pool\":\"pool-east\"}")" "enable $u"
	assert_eq 200 "$(code -XPUT "$E/v1/users/$u/contacts" -d "[{\"sip\":\"sip:friend@example.com\",\"of\":\"$u\"}]")" "contacts of $u"
done
assert_eq 200 "$(code -XPUT "$E/v1/users/$A/profile" -d '{"name":"Alice"}')" "profile"
assert_eq 200 "$(code -XPUT "$E/v1/users/$A/conferences/weekly" -d '{"at":"2026-12-01T10:00Z"}')" "conference"
assert_eq 201 "$(code -XPOST "$E/v1/users" -d "{\"sip\":\"$C\",\"pool\":\"pool-east\"}")" "enable $C"
assert_eq 200 "$(code -XDELETE "$E/v1/users/$C")" "disable $C"

# ---- bad requests: answered, nothing changes -------------------------------
assert_eq 404 "$(code -XPOST "$E/v1/backup/pool-nowhere/verify")" "verify of an unknown pool"
assert_json "$(body)" '.error == "not_found"' "404 body"
assert_eq 409 "$(code -XPOST "$E/v1/backup/pool-north/verify")" "verify of an unpaired pool"
assert_json "$(body)" '.error == "not_paired"' "409 body"
assert_eq 421 "$(code -XPOST "$W/v1/backup/pool-east/verify")" "verify at the agent that does not own the user set"
assert_json "$(body)" ".error == \"not_owner\" and .owner == \"pool-east\" and .owner_api == \"$(api east)\"" "421 body"
assert_eq 405 "$(code "$E/v1/backup/pool-east/verify")" "verify with GET"
assert_eq 400 "$(code -XPOST "$E/v1/backup/pool-east/verify?repair=maybe")" "repair neither true nor false"
assert_eq 503 "$(code -XPOST "$(url witness)/v1/backup/pool-east/verify")" "verify at the witness"
for q in "bucket=64" "bucket=-1" "bucket=abc" "bucket=" "bucket=1x" "bucket=99999999999999999999"; do
	assert_eq 400 "$(code "$W/v1/internal/keys?user_set=pool-east&$q")" "keys with $q"
done
assert_eq 400 "$(code "$W/v1/internal/keys?bucket=3")" "keys without user_set"
assert_eq 400 "$(code "$W/v1/internal/keys?user_set=pool-east&bucket=3&offset=-2")" "keys with a negative offset"
assert_eq 400 "$(code "$W/v1/internal/digest?user_set=a/b")" "digest of a bad user set name"
assert_eq 400 "$(code "$W/v1/internal/digest")" "digest without user_set"
assert_eq 200 "$(code "$W/v1/internal/keys?user_set=pool-east&bucket=63")" "keys of a bucket"
assert_json "$(body)" '.bucket == 63 and .user_set == "pool-east" and (.keys | type) == "array"' "keys answer"

# replication must have brought everything to west before comparing
lag() { curl -s "$1/v1/backup" | jq '[.backup[] | .lag_records] | add // 0'; }
acked() { curl -s "$1/v1/backup" | jq '[.backup[] | select(.from == "pool-east") | .acked_seq] | add // 0'; }
wait_until 30 "[ \"\$(acked $E)\" -ge 8 ] && [ \"\$(lag $E)\" == 0 ]"
assert_eq 200 "$(code "$W/v1/users/$A/contacts")" "alice's contacts at west"
assert_json "$(body)" '.copy == "backup"' "west holds the backup copy"
west_digest() { curl -s "$W/v1/internal/digest?user_set=pool-east" | jq -c .; }
before=$(west_digest)
assert_json "$before" '.items == 7 and (.buckets | length) == 64' "west's digest"

# repair bodies: garbage is refused and changes nothing
assert_eq 400 "$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: text/plain' -d 'not base64!')" "repair: not base64"
assert_eq 400 "$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: text/plain' -d '/////w==')" "repair: not a record"
assert_eq 400 "$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: text/plain' -d '')" "repair: empty body"
assert_eq 400 "$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: application/x-protobuf' --data-binary $'\xff\xff\xff')" "repair: raw garbage"
# a well-formed record that breaks the store's rules (content is never put)
bad=$(printf '\x0a\x09pool-east\x10\x01\x30\x04\x3a\x1bsip:alice@example.com/w/x.txt\x42\x01x\x58\x01' | base64 -w0)
assert_eq 400 "$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: text/plain' -d "$bad")" "repair: malformed record"
# a repair is taken only by the agent that holds the backup copy
good=$(printf '\x0a\x09pool-east\x10\x01\x3a\x15sip:alice@example.com\x42\x07{"x":1}' | base64 -w0)
assert_eq 409 "$(code -XPOST "$E/v1/internal/repair" -H 'Content-Type: text/plain' -d "$good")" "repair at the owner"
assert_json "$(body)" '.error == "not_backup"' "repair at the owner: code"
# random bodies, base64 and raw: refused, the agent keeps serving
for i in $(seq 40); do
	head -c $((RANDOM % 300 + 1)) /dev/urandom >"$IT_DIR/junk"
	if ((i % 2)); then
		c=$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: text/plain' --data-binary "$(base64 -w0 "$IT_DIR/junk")")
	else
		c=$(code -XPOST "$W/v1/internal/repair" -H 'Content-Type: application/x-protobuf' --data-binary @"$IT_DIR/junk")
	fi
	[[ "$c" == 400 || "$c" == 404 ]] || fail "random repair body $i answered $c: $(body)"
done
alive west || fail "west died on random repair bodies"
assert_eq "$before" "$(west_digest)" "west's digest after refused repairs"
assert_eq 200 "$(code "$E/v1/users/$A/profile")" "alice's profile at east"
assert_json "$(body)" '.value.name == "Alice"' "east's copy untouched"

# ---- equal copies ---------------------------------------------------------
assert_eq 200 "$(code -XPOST "$E/v1/backup/pool-east/verify")" "verify of equal copies"
assert_json "$(body)" '.user_set == "pool-east" and .owner == "pool-east" and .backup == "pool-west"' "verify: who"
assert_json "$(body)" '.items_owner == 7 and .items_backup == 7 and .buckets_differing == 0' "verify: items"
assert_json "$(body)" '.differences == [] and .differences_total == 0 and .repaired == 0' "verify: no difference"
assert_json "$(body)" '.equal_after == true and .outbox_drained == true and .complete == true' "verify: equal"

# ---- damage both copies behind the agents' back ---------------------------
pp_kill "$IT_DIR" west TERM
pp_kill "$IT_DIR" east TERM
wait_exit west 15 || fail "west still runs after SIGTERM"
wait_exit east 15 || fail "east still runs after SIGTERM"
DB=$IT_DIR/west/data/store.db
[ -f "$DB" ] || fail "no store at $DB"
sqlite3 "$DB" <<EOF
UPDATE user_data SET value = CAST('[{"sip":"sip:mallory@example.com"}]' AS BLOB)
  WHERE user_set = 'pool-east' AND sip = '$A' AND kind = 1;
DELETE FROM conferences WHERE user_set = 'pool-east' AND sip = '$A' AND conf_id = 'weekly';
INSERT INTO user_data (user_set, sip, kind, value, epoch, seq, hlc)
  VALUES ('pool-east', '$B', 0, CAST('{"name":"Impostor"}' AS BLOB), 1, 99, 0);
UPDATE users SET enabled = 1 WHERE user_set = 'pool-east' AND sip = '$C';
EOF
assert_eq 1 "$(sqlite3 "$DB" "SELECT count(*) FROM user_data WHERE user_set = 'pool-east' AND sip = '$B' AND kind = 0")" "row added"
# a content item of 600,000 bytes in two rows at the owner only: the
# repair sends it in chunks of 256 KiB
sqlite3 "$IT_DIR/east/data/store.db" <<EOF
INSERT INTO content (user_set, sip, conf_id, name, total, stored, complete, epoch, seq, hlc)
  VALUES ('pool-east', '$A', 'weekly', 'deck/slides.pdf', 600000, 600000, 1, 1, 0, 0);
INSERT INTO content_chunks (content_id, offset, data)
  SELECT id, 0, randomblob(300000) FROM content WHERE name = 'deck/slides.pdf';
INSERT INTO content_chunks (content_id, offset, data)
  SELECT id, 300000, randomblob(300000) FROM content WHERE name = 'deck/slides.pdf';
EOF
start west east
wait_leader 30 "${ALL[@]}"
wait_until 30 "[ \"\$(http $W/v1/users/$A/contacts)\" == 200 ] && [ \"\$(http $E/v1/users/$A/contacts)\" == 200 ]"
assert_json "$(curl -s "$W/v1/users/$A/contacts")" '.value[0].sip == "sip:mallory@example.com"' "the damage is what west serves"
assert_json "$(curl -s "$W/v1/users/$C/location")" '.enabled == true' "carol enabled at west"
wait_until 30 "agree_digest ${ALL[*]}"

# found, not repaired when asked so
assert_eq 200 "$(code -XPOST "$E/v1/backup/pool-east/verify?repair=false")" "verify without repair"
R=$(body)
assert_json "$R" '.differences_total == 5 and .repaired == 0 and .equal_after == false and .repair == false' "verify without repair: counts"
assert_json "$R" "[.differences[] | select(.kind == \"contacts\" and .key == \"$A\" and .problem == \"different\" and .repaired == false)] | length == 1" "changed value reported"
assert_json "$R" "[.differences[] | select(.kind == \"conference\" and .key == \"$A/weekly\" and .problem == \"missing_at_backup\")] | length == 1" "deleted row reported"
assert_json "$R" "[.differences[] | select(.kind == \"profile\" and .key == \"$B\" and .problem == \"only_at_backup\")] | length == 1" "added row reported"
assert_json "$R" "[.differences[] | select(.kind == \"user\" and .key == \"$C\" and .problem == \"different\")] | length == 1" "enabled user reported"
assert_json "$R" "[.differences[] | select(.kind == \"content\" and .key == \"$A/weekly/deck/slides.pdf\" and .problem == \"missing_at_backup\")] | length == 1" "content reported"
assert_json "$R" '.buckets_differing >= 1 and .buckets_differing <= 5 and .items_owner == 8 and .items_backup == 7' "verify without repair: buckets and items"
assert_eq 200 "$(code "$W/v1/users/$A/contacts")" "contacts at west after verify without repair"
assert_json "$(body)" '.value[0].sip == "sip:mallory@example.com"' "nothing repaired with repair=false"

# found and repaired
assert_eq 200 "$(code -XPOST "$E/v1/backup/pool-east/verify")" "verify with repair"
R=$(body)
assert_json "$R" '.differences_total == 5 and .repaired == 5 and .equal_after == true and .complete == true' "verify: repaired"
assert_json "$R" '[.differences[] | select(.repaired == true)] | length == 5' "each difference repaired"
assert_json "$R" "[.differences[] | select(.kind == \"contacts\" and .key == \"$A\" and .problem == \"different\")] | length == 1" "changed value reported"
assert_json "$R" "[.differences[] | select(.kind == \"conference\" and .key == \"$A/weekly\" and .problem == \"missing_at_backup\")] | length == 1" "deleted row reported"
assert_json "$R" "[.differences[] | select(.kind == \"profile\" and .key == \"$B\" and .problem == \"only_at_backup\")] | length == 1" "added row reported"

# a second verify finds nothing
assert_eq 200 "$(code -XPOST "$E/v1/backup/pool-east/verify")" "second verify"
assert_json "$(body)" '.differences == [] and .differences_total == 0 and .buckets_differing == 0 and .equal_after == true' "second verify: equal"

# west serves the owner's values again
assert_eq 200 "$(code "$W/v1/users/$A/contacts")" "contacts at west after repair"
assert_json "$(body)" ".value[0].of == \"$A\" and .copy == \"backup\"" "repaired value"
assert_eq 200 "$(code "$W/v1/users/$A/conferences/weekly")" "conference at west after repair"
assert_json "$(body)" '.value.at == "2026-12-01T10:00Z"' "repaired conference"
assert_eq 404 "$(code "$W/v1/users/$B/profile")" "row only at the backup removed"
assert_json "$(curl -s "$W/v1/users/$C/location")" '.enabled == false' "carol disabled again at west"
assert_eq "$(curl -s "$E/v1/internal/digest?user_set=pool-east" | jq -c .buckets)" \
	"$(curl -s "$W/v1/internal/digest?user_set=pool-east" | jq -c .buckets)" "digests of both copies"

# writes go on and replicate after the repairs
c=$(code -XPUT "$E/v1/users/$B/settings" -d '{"lang":"fr"}')
assert_eq 200 "$c" "write after verify ($(body))"
wait_until 20 "[ \"\$(http $W/v1/users/$B/settings)\" == 200 ]"
assert_eq 200 "$(code -XPOST "$E/v1/backup/pool-east/verify")" "verify after a new write"
assert_json "$(body)" '.differences_total == 0 and .equal_after == true and .items_owner == 9' "verify after a new write: equal"
log "ok"
