#!/usr/bin/env bash
# Conference content through the API: a 200 MB item streamed in at the
# owner and out again byte for byte while the agent's memory stays small;
# refused at the agent of the other pool (421); unknown items 404; read at
# the pair's agent from its backup copy once replication brought it there.
# An upload cut short leaves an incomplete item (409) that east removes
# once it is older than [content] upload_timeout (10s here): the item is
# gone (404) at east and, through replication, at west, its rows are gone
# from both stores and their pages are free pages of east's store; so is
# one left by an east killed during the upload, after its restart. A PUT
# larger than the space above east's reserve is refused 507 before its
# body is read.
source "$(dirname "$0")/lib.sh"

UPLOAD_TIMEOUT=10
IT_EXTRA="$IT_EXTRA\n[content]\nupload_timeout = ${UPLOAD_TIMEOUT}s"
three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"

E=$(url east)
W=$(url west)
A=sip:carol@example.com
C="$A/conferences/c42/content"
wait_until 20 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/v1/users/$A/location)\" == 404 ]"
wait_writable 20 east pool-east west pool-west

code() { curl -s -o "$IT_DIR/body" -w '%{http_code}' "$@"; }
body() { cat "$IT_DIR/body"; }
# eventually SECONDS 'CONDITION': like wait_until, but false instead of failing
eventually() {
	local end=$((SECONDS + $1))
	while ! eval "$2" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$(pid_of "$1")/status"; }

assert_eq 201 "$(code -XPOST "$E/v1/users" -d "{\"sip\":\"$A\",\"pool\":\"pool-east\"}")" "enable at the owner"

head -c 200000000 /dev/urandom >"$IT_DIR/item"
SUM=$(sha256sum <"$IT_DIR/item" | cut -d' ' -f1)
base_kb=$(hwm_kb east)
log "east VmHWM before the upload: ${base_kb} kB"

assert_eq 201 "$(code -XPUT -T "$IT_DIR/item" "$E/v1/users/$C/slides/deck.pptx")" "upload 200 MB"
assert_json "$(body)" ".sip == \"$A\" and .conference == \"c42\" and .name == \"slides/deck.pptx\" and .size == 200000000 and .epoch >= 1 and .seq >= 1" "upload answer"
got=$(curl -sf "$E/v1/users/$C/slides/deck.pptx" | sha256sum | cut -d' ' -f1)
assert_eq "$SUM" "$got" "download from east: same sha256"
hwm=$(hwm_kb east)
log "east VmHWM after upload and download: ${hwm} kB"
[ "$hwm" -lt 102400 ] || fail "east peaked at ${hwm} kB: content held in memory"

# chunked upload: the size comes in X-Content-Length
head -c 3000000 /dev/urandom >"$IT_DIR/small"
assert_eq 201 "$(code -XPUT -H 'Transfer-Encoding: chunked' -H 'X-Content-Length: 3000000' --data-binary @"$IT_DIR/small" "$E/v1/users/$C/notes")" "chunked upload"
assert_eq "$(sha256sum <"$IT_DIR/small" | cut -d' ' -f1)" "$(curl -sf "$E/v1/users/$C/notes" | sha256sum | cut -d' ' -f1)" "chunked item read back"
assert_eq 411 "$(code -XPUT -H 'Transfer-Encoding: chunked' --data-binary @"$IT_DIR/small" "$E/v1/users/$C/x")" "chunked without X-Content-Length"
assert_eq 400 "$(code -XPUT -H 'Content-Length: 0' "$E/v1/users/$C/empty")" "empty content"

# unknown items and users
assert_eq 404 "$(code "$E/v1/users/$C/missing")" "missing item"
assert_eq 404 "$(code "$E/v1/users/sip:nobody@example.com/conferences/c1/content/x")" "unknown user"
assert_eq 405 "$(code -XDELETE "$E/v1/users/$C/notes")" "DELETE not allowed"

# larger than the space above east's reserve: 507 before the body is read
# (the 64 GiB cap is 413 first: at most what /tmp has free above 1%)
room=$(curl -s "$E/v1/status" | jq -r .self.disk.room_bytes)
log "east's disk: $(curl -s "$E/v1/status" | jq -c .self.disk)"
[ "$room" -gt 0 ] || fail "east's status has no room figure: $(curl -s "$E/v1/status" | jq -c .self)"
big=$((room + 1073741824))
if [ "$big" -le $((64 << 30)) ]; then
	assert_eq 507 "$(code -XPUT -H "Content-Length: $big" -H 'Expect:' --max-time 10 "$E/v1/users/$C/huge")" "upload larger than the free space"
	assert_json "$(body)" '.error == "insufficient_storage"' "507 body"
	assert_eq 404 "$(code "$E/v1/users/$C/huge")" "nothing stored of the refused upload"
else
	log "skip: east's disk has more than 63 GiB free above its reserve: 507 not checked"
fi

# an upload cut short leaves an incomplete item that is not served, until
# upload_timeout after its last chunk: then east removes it, and west too
head -c 1000000 "$IT_DIR/item" >"$IT_DIR/part"
curl -s -o /dev/null --max-time 2 -XPUT -H 'Content-Length: 5000000' --data-binary @"$IT_DIR/part" "$E/v1/users/$C/cut" || true
assert_eq 409 "$(code "$E/v1/users/$C/cut")" "incomplete item at east"
assert_json "$(body)" '.error == "incomplete"' "409 body"
EDB=$IT_DIR/east/data/store.db
WDB=$IT_DIR/west/data/store.db
rows() { sqlite3 -readonly "$1" "SELECT count(*) FROM content_chunks JOIN content ON content.id = content_id WHERE name = 'cut'"; }
[ "$(rows "$EDB")" -gt 0 ] || fail "no chunk of the cut upload in east's store"
wait_until 20 "[ \"\$(rows $WDB)\" -gt 0 ]"
free0=$(sqlite3 -readonly "$EDB" 'PRAGMA freelist_count')
wait_until $((UPLOAD_TIMEOUT + 30)) "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/v1/users/$C/cut)\" == 404 ]"
assert_eq 0 "$(rows "$EDB")" "chunks of the cut upload left at east"
wait_until 20 "[ \"\$(rows $WDB)\" == 0 ]"
free1=$(sqlite3 -readonly "$EDB" 'PRAGMA freelist_count')
log "east's free pages: $free0 before the removal, $free1 after"
[ "$free1" -gt "$free0" ] || fail "the removal freed no page of east's store ($free0 -> $free1)"
grep -q 'incomplete upload removed' "$IT_DIR/east/log" || fail "east's log does not name the removal"
metric=$(curl -s "$E/metrics" | awk '$1 == "poolpair_content_incomplete_removed_total" { print $2 }')
assert_eq 1 "$metric" "poolpair_content_incomplete_removed_total"
assert_json "$(curl -s "$E/v1/status")" '.self.disk.uploads_removed == 1 and .self.disk.under_reserve == false' "status: the removal counted"
# the complete items stay
assert_eq 200 "$(code "$E/v1/users/$C/notes")" "complete item kept"

# a leftover of an earlier run: east killed in the middle of an upload
# removes the item once it runs again (policy manual: no failover meanwhile)
assert_json "$(curl -s -L --max-time 5 -XPUT "$E/v1/policy" -d '{"failover":"manual"}')" '.policy.failover == "manual"' "policy manual"
curl -s -o /dev/null --max-time 2 -XPUT -H 'Content-Length: 5000000' --data-binary @"$IT_DIR/part" "$E/v1/users/$C/left" || true
assert_eq 409 "$(code "$E/v1/users/$C/left")" "incomplete item before the kill"
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs after SIGKILL"
start east
wait_writable 30 east pool-east
wait_until $((UPLOAD_TIMEOUT + 30)) "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/v1/users/$C/left)\" == 404 ]"
left() { sqlite3 -readonly "$1" "SELECT count(*) FROM content WHERE name = 'left'"; }
assert_eq 0 "$(left "$EDB")" "the leftover at east"
wait_until 20 "[ \"\$(left $WDB)\" == 0 ]"
assert_eq 200 "$(code "$E/v1/users/$C/notes")" "complete item kept after the restart"

# the other pool's agent refuses the upload once it knows where the user
# lives (through replication of the user record); otherwise it has no user
if eventually 60 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $W/v1/users/$A/location)\" == 200 ]"; then
	assert_eq 421 "$(code -XPUT --data-binary @"$IT_DIR/small" "$W/v1/users/$C/notes")" "upload at west"
	assert_json "$(body)" ".error == \"not_owner\" and .owner == \"pool-east\" and .owner_api == \"$(api east)\"" "421 body"
	if eventually 120 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $W/v1/users/$C/slides/deck.pptx)\" == 200 ]"; then
		assert_eq "$SUM" "$(curl -sf "$W/v1/users/$C/slides/deck.pptx" | sha256sum | cut -d' ' -f1)" "download from west's backup copy"
	else
		log "skip: the item did not reach west (content replication not wired)"
	fi
else
	assert_eq 404 "$(code -XPUT --data-binary @"$IT_DIR/small" "$W/v1/users/$C/notes")" "upload at west without the user"
	log "skip: west does not know the user (replication not wired): 421 not checked"
fi
rm -f "$IT_DIR/item" "$IT_DIR/small" "$IT_DIR/part"
log "ok"
