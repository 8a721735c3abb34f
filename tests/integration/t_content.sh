#!/usr/bin/env bash
# Conference content through the API: a 200 MB item streamed in at the
# owner and out again byte for byte while the agent's memory stays small;
# refused at the agent of the other pool (421); unknown items 404; read at
# the pair's agent from its backup copy once replication brought it there.
source "$(dirname "$0")/lib.sh"

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

# an upload cut short leaves an incomplete item that is not served
head -c 1000000 "$IT_DIR/item" >"$IT_DIR/part"
curl -s -o /dev/null --max-time 5 -XPUT -H 'Content-Length: 5000000' --data-binary @"$IT_DIR/part" "$E/v1/users/$C/cut" || true
wait_until 10 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $E/v1/users/$C/cut)\" == 409 ]"

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
