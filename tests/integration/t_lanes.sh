#!/usr/bin/env bash
# Two lanes: a large content upload at east and 10,000 small user-data
# records written while it is in flight. The small records must reach west
# before the content does: both streams of east are sampled every 50 ms and
# the first sample with every small record acknowledged must come before the
# first with every content chunk acknowledged (observed, not timed). At that
# moment west already answers the new values and not yet the item. Then the
# item is read back at west byte for byte and verify finds both copies equal.
# IT_LANES_BYTES sets the item's size (default 1 GiB: at 200 MB this machine
# replicates the item about as fast as the 10,000 writes are answered, so
# nothing would be shown); IT_LANES_RECORDS the number of small records.
source "$(dirname "$0")/lib.sh"

BYTES=${IT_LANES_BYTES:-1073741824}
SAMPLER=""
UPLOAD=""
# stop the test's own background jobs too, then the agents
lanes_on_exit() {
	local rc=$? pid
	# with errexit and the ERR trap on, (exit rc) would end this handler
	# before it_cleanup stops the agents (they were left running)
	set +eE
	trap - ERR
	for pid in $SAMPLER $UPLOAD; do kill "$pid" 2>/dev/null || true; done
	(exit "$rc")
	it_cleanup
}
trap lanes_on_exit EXIT
RECORDS=${IT_LANES_RECORDS:-10000}

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ] && [ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east west pool-west

A=sip:carol@example.com
ITEM="$E/v1/users/$A/conferences/c7/content/recording.mp4"
ITEM_W="$W/v1/users/$A/conferences/c7/content/recording.mp4"
assert_eq 201 "$(http -XPOST "$E/v1/users" -d "{\"sip\":\"$A\",\"pool\":\"pool-east\"}")" "enable the uploader"

# one request per line of a curl config; no "next" after the last one
requests() { # enable|contacts
	local i
	for ((i = 1; i <= RECORDS; i++)); do
		if [ "$1" == enable ]; then
			printf 'url = "%s/v1/users"\nrequest = "POST"\ndata = "{\\"sip\\":\\"sip:s%d@example.com\\",\\"pool\\":\\"pool-east\\"}"\n' "$E" "$i"
		else
			printf 'url = "%s/v1/users/sip:s%d@example.com/contacts"\nrequest = "PUT"\ndata = "[{\\"sip\\":\\"sip:f%d@example.com\\",\\"n\\":%d}]"\n' "$E" "$i" "$i" "$i"
		fi
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n'
	done
}
requests enable | sed '$d' >"$IT_DIR/enable.cfg"
requests contacts | sed '$d' >"$IT_DIR/contacts.cfg"
load() { curl -s --parallel --parallel-max 32 -K "$IT_DIR/$1.cfg" >"$IT_DIR/$1.codes"; }

# the users exist before the upload; their enables are not the records timed
load enable
assert_eq "$RECORDS" "$(grep -c '^201$' "$IT_DIR/enable.codes")" "enables answered 201"
out=$(curl -s --max-time 40 -XPOST "$E/v1/backup/pool-east/sync?timeout=30")
assert_json "$out" '.lag_records == 0' "enables acknowledged before the upload"

# stream S FIELD: one field of east's pool-east stream of category S
stream() {
	curl -sf --max-time 5 "$E/v1/backup" |
		jq -r ".backup[] | select(.user_set == \"pool-east\" and .category == \"$1\") | .$2"
}
wait_until 10 "[ \"\$(stream user_data acked_seq)\" == \"\$(stream user_data head_seq)\" ]"
UD_BASE=$(stream user_data acked_seq)
CT_BASE=$(stream content acked_seq)
UD_TARGET=$((UD_BASE + RECORDS)) # one record per small write
log "user_data acked at $UD_BASE, content at $CT_BASE; small records will end at $UD_TARGET"

log "writing a random item of $BYTES bytes"
head -c "$BYTES" /dev/urandom >"$IT_DIR/item"
SUM=$(sha256sum <"$IT_DIR/item" | cut -d' ' -f1)

# The sampler: every 50 ms one line "MS UD_ACKED CT_ACKED" of east's
# streams (MS since the sampler started). The first time every small
# record is acknowledged it also reads west at once: the item's status and
# three of the new values.
SAMPLES="$IT_DIR/samples"
MOMENT="$IT_DIR/moment"
: >"$SAMPLES"
sampler() {
	local t0 now line ud seen=0 i
	t0=${EPOCHREALTIME/./}
	while :; do
		line=$(curl -sf --max-time 2 "$E/v1/backup" | jq -r '[.backup[] | select(.user_set == "pool-east")] |
			"\(map(select(.category == "user_data"))[0].acked_seq) \(map(select(.category == "content"))[0].acked_seq)"' 2>/dev/null) || line=""
		now=${EPOCHREALTIME/./}
		if [ -n "$line" ]; then
			echo "$(((now - t0) / 1000)) $line" >>"$SAMPLES"
			ud=${line%% *}
			if [ $seen = 0 ] && [ "$ud" -ge "$UD_TARGET" ]; then
				seen=1
				{
					echo "content_at_west $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --max-filesize 1 "$ITEM_W" || true)"
					for i in 1 $((RECORDS / 2)) "$RECORDS"; do
						echo "contacts_at_west $i $(curl -s --max-time 5 "$W/v1/users/sip:s$i@example.com/contacts" | jq -c '[.value[0].n, .copy]')"
					done
					echo "content_acked_after $(curl -sf --max-time 2 "$E/v1/backup" | jq -r '.backup[] | select(.user_set == "pool-east" and .category == "content") | .acked_seq')"
				} >"$MOMENT"
			fi
		fi
		sleep 0.05
	done
}
sampler &
SAMPLER=$!

curl -s -o "$IT_DIR/upload.out" -w '%{http_code}' -XPUT -T "$IT_DIR/item" "$ITEM" >"$IT_DIR/upload.code" &
UPLOAD=$!
# the small writes begin once content is flowing to west and the upload is
# still going on
wait_until 30 "[ \"\$(stream content acked_seq)\" -gt $CT_BASE ]"
kill -0 "$UPLOAD" 2>/dev/null || fail "the upload finished before the small writes could begin"
ct_now=$(stream content acked_seq)
log "content in flight: acked $((ct_now - CT_BASE)) chunks so far, upload running; writing $RECORDS small records"
t_load=$SECONDS
load contacts
log "small writes answered in $((SECONDS - t_load)) s"
assert_eq "$RECORDS" "$(grep -c '^200$' "$IT_DIR/contacts.codes")" "small writes answered 200"

wait "$UPLOAD" || fail "upload: curl failed"
assert_eq 201 "$(cat "$IT_DIR/upload.code")" "upload answered"
up=$(cat "$IT_DIR/upload.out")
assert_json "$up" ".size == $BYTES and .seq > $CT_BASE" "upload answer"
CT_TARGET=$(jq -r .seq <<<"$up")
log "upload done after $((SECONDS - t_load)) s since the small writes began; content ends at $CT_TARGET"
out=$(curl -s --max-time 100 -XPOST "$E/v1/backup/pool-east/sync?timeout=90")
assert_json "$out" '.lag_records == 0' "everything acknowledged"
wait_until 10 "[ \"\$(stream content acked_seq)\" -ge $CT_TARGET ] && [ \"\$(stream user_data acked_seq)\" -ge $UD_TARGET ]"
sleep 0.2 # one more sample with both complete
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
assert_eq "$UD_TARGET" "$(stream user_data head_seq)" "user_data head: one record per small write"

# the ordering, from the samples alone
read -r ud_ms ud_ct < <(awk -v t="$UD_TARGET" '$2 >= t { print $1, $3; exit }' "$SAMPLES") || true
read -r ct_ms ct_ud < <(awk -v t="$CT_TARGET" '$3 >= t { print $1, $2; exit }' "$SAMPLES") || true
[ -n "${ud_ms:-}" ] || fail "no sample saw every small record acknowledged"
[ -n "${ct_ms:-}" ] || fail "no sample saw every content chunk acknowledged"
log "samples: $(wc -l <"$SAMPLES"); small records all acknowledged at ${ud_ms} ms (content chunks then $((ud_ct - CT_BASE))/$((CT_TARGET - CT_BASE))); content complete at ${ct_ms} ms (small records then $((ct_ud - UD_BASE))/$RECORDS)"
[ "$ud_ms" -lt "$ct_ms" ] || fail "small records completed at ${ud_ms} ms, not before the content at ${ct_ms} ms: held behind it"
[ "$ud_ct" -lt "$CT_TARGET" ] || fail "content already complete when the small records were"

# what west answered at that moment
[ -f "$MOMENT" ] || fail "the sampler did not read west at the moment"
log "at that moment: $(tr '\n' ';' <"$MOMENT")"
code=$(awk '$1 == "content_at_west" { print $2 }' "$MOMENT")
[ "$code" == 409 ] || [ "$code" == 404 ] || fail "item at west when the small records were complete: $code, expected 409 or 404"
for i in 1 $((RECORDS / 2)) "$RECORDS"; do
	assert_eq "[$i,\"backup\"]" "$(awk -v i="$i" '$1 == "contacts_at_west" && $2 == i { print $3 }' "$MOMENT")" "contacts of s$i at west at that moment"
done

# the item round-trips through west's copy
assert_eq 200 "$(http --max-filesize 1 "$ITEM_W" || true)" "item at west once replicated"
got=$(curl -sf "$ITEM_W" | sha256sum | cut -d' ' -f1)
assert_eq "$SUM" "$got" "item read back at west: same sha256"

v=$(curl -s --max-time 135 -XPOST "$E/v1/backup/pool-east/verify")
assert_json "$v" '.differences | length == 0' "verify: both copies equal"
assert_json "$v" '.complete == true' "verify complete"
rm -f "$IT_DIR/item"
log "ok"
