#!/usr/bin/env bash
# timeout: 900
# A site lost with its disks, rebuilt from its pair, failed back:
# - three agents, pools paired, policy auto; at east 2,000 users with
#   profile and contacts, conference schedules, conference content (one
#   item of several MB in many chunks, a few small ones) and CMS
#   documents; at west its own users; all replicated;
# - kill -9 of east, its data_dir wiped: west takes pool-east (and the CMS)
#   over by itself; writes at west during the outage, every acknowledged
#   one recorded (users enabled, contacts, content, CMS documents);
# - east started again with its usual config on an empty data_dir: it
#   rejoins, the seed from west fills its store while west keeps taking
#   writes (the seed's progress is read while it runs, when it runs long
#   enough to be seen), pool-east becomes recovering, the failback is
#   allowed once caught up and succeeds;
# - afterwards every acknowledged write is read back at east (content byte
#   for byte), `backup verify` of both user sets finds both copies equal
#   and the digests of the CMS copies agree;
# - the seed cut halfway by a kill -9 of the rebuilding agent (east),
#   restarted: the seed resumes after what it stored, it does not start
#   over; then the same with a kill -9 of the owner (west): resumes.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url witness)/v1/policy" \
	-d '{"failover":"auto","max_lag_on_failover_ms":5000,"cooldown_ms":1000}')" \
	'.policy.failover == "auto"' "policy auto"
wait_until 30 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
code() { curl -s --max-time 60 -o "$IT_DIR/body" -w '%{http_code}' "$@"; }
body() { cat "$IT_DIR/body"; }
sha() { sha256sum | cut -d' ' -f1; }
pool_state() { sfield "$1" ".pools[] | select(.name == \"$2\") | \"\(.state) \(.owner)\""; }
wait_until 30 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ] && [ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 30 east pool-east west pool-west

USERS=${IT_SITELOSS_USERS:-2000}
ACKED=$IT_DIR/acked # KIND KEY VALUE-OR-SHA256: what must be at east in the end
: >"$ACKED"

# ---- the data of both pools ------------------------------------------------
# enable USERS users at URL for POOL, PREFIX1..PREFIXn, 32 requests at a time
enable_users() { # URL POOL PREFIX FROM TO
	local i
	for ((i = $4; i <= $5; i++)); do
		[ "$i" -gt "$4" ] && echo next
		printf 'url = "%s/v1/users"\nrequest = "POST"\ndata = "{\\"sip\\":\\"sip:%s%d@example.com\\",\\"pool\\":\\"%s\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
			"$1" "$3" "$i" "$2"
	done >"$IT_DIR/enable.cfg"
	curl -s --no-progress-meter --parallel --parallel-max 32 -K "$IT_DIR/enable.cfg" >"$IT_DIR/enable.codes"
	assert_eq $(($5 - $4 + 1)) "$(grep -c '^201$' "$IT_DIR/enable.codes")" "users $3$4..$3$5 enabled"
	for ((i = $4; i <= $5; i++)); do echo "user sip:$3$i@example.com $2"; done >>"$ACKED"
}
# batch URL PREFIX FROM TO KIND TAG: KIND of each user by /v1/users/batch
batch() {
	local url=$1 p=$2 from=$3 to=$4 kind=$5 tag=$6 lo hi
	for ((lo = from; lo <= to; lo += 1000)); do
		hi=$((lo + 999 > to ? to : lo + 999))
		seq "$lo" "$hi" | jq -R --arg p "$p" --arg k "$kind" --arg t "$tag" \
			'{sip: "sip:\($p)\(.)@example.com", kind: $k, value: {of: "\($p)\(.)", tag: $t, pad: ("x" * 200)}}' |
			jq -cs '{items: .}' >"$IT_DIR/batch.json"
		assert_eq 200 "$(code -XPOST "$url/v1/users/batch" --data-binary @"$IT_DIR/batch.json")" "batch $kind $p$lo..$p$hi"
		assert_json "$(body)" ".ok == $((hi - lo + 1)) and .failed == 0" "batch $kind $p$lo..$p$hi"
		jq -r '.items[] | "\(.kind) \(.sip) \(.value | tojson)"' "$IT_DIR/batch.json" >>"$ACKED"
	done
}
log "$USERS users at east, 200 at west"
enable_users "$E" pool-east u 1 "$USERS"
batch "$E" u 1 "$USERS" profile p0
batch "$E" u 1 "$USERS" contacts c0
enable_users "$W" pool-west w 1 200
batch "$W" w 1 200 contacts c0
for i in $(seq 1 40); do
	assert_eq 200 "$(code -XPUT "$E/v1/users/sip:u$i@example.com/conferences/weekly$i" -d "{\"at\":\"2026-12-0$((i % 9 + 1))T10:00Z\",\"n\":$i}")" "conference of u$i"
	echo "conference sip:u$i@example.com/weekly$i {\"at\":\"2026-12-0$((i % 9 + 1))T10:00Z\",\"n\":$i}" >>"$ACKED"
done
# content: one item of 6 MB (24 chunks of 256 KiB), a few small ones
upload() { # URL SIP CONF NAME BYTES
	local f=$IT_DIR/item.$$
	head -c "$5" /dev/urandom >"$f"
	assert_eq 201 "$(code -XPUT -T "$f" "$1/v1/users/$2/conferences/$3/content/$4")" "upload $2/$3/$4"
	echo "content $2/conferences/$3/content/$4 $(sha <"$f")" >>"$ACKED"
	rm -f "$f"
}
upload "$E" sip:u1@example.com weekly1 slides/deck.pptx 6291456
upload "$E" sip:u1@example.com weekly1 notes.txt 300000
upload "$E" sip:u2@example.com weekly2 agenda.pdf 700001
upload "$E" sip:u3@example.com weekly3 tiny 10
upload "$W" sip:w1@example.com c1 board.pdf 900000
for i in 1 2 3 4 5; do
	assert_eq 200 "$(code -XPUT "$E/v1/cms/documents/doc$i" -d "{\"doc\":$i,\"rev\":0}")" "cms document $i"
	echo "cms doc$i {\"doc\":$i,\"rev\":0}" >>"$ACKED"
done
# everything at west before the loss
lag() { curl -s "$1/v1/backup" | jq '[.backup[] | .lag_records] | add // 0'; }
assert_json "$(curl -s --max-time 70 -XPOST "$E/v1/backup/pool-east/sync?timeout=60")" '.lag_records == 0' "pool-east replicated"
assert_json "$(curl -s --max-time 70 -XPOST "$W/v1/backup/pool-west/sync?timeout=60")" '.lag_records == 0' "pool-west replicated"
wait_until 60 "[ \"\$(lag $E)\" == 0 ] && [ \"\$(lag $W)\" == 0 ]"
assert_eq 200 "$(code "$W/v1/users/sip:u1@example.com/conferences/weekly1/content/slides/deck.pptx")" "the big item at west"

# ---- checks of east's copy ---------------------------------------------------
# check_east: every line of ACKED is what east serves now. One GET per
# key (32 at a time), the answers compared in one pass of jq.
check_east() {
	local k key v i=0 n
	rm -rf "$IT_DIR/got"
	mkdir -p "$IT_DIR/got"
	: >"$IT_DIR/get.cfg"
	: >"$IT_DIR/want.tsv"
	# the latest acknowledged value of each key
	tac "$ACKED" | awk '!seen[$1 " " $2]++' | tac >"$IT_DIR/acked.last"
	while read -r k key v; do
		i=$((i + 1))
		case $k in
		user) path="/v1/users/$key/location" ;;
		cms) path="/v1/cms/documents/$key" ;;
		conference) path="/v1/users/${key%%/*}/conferences/${key#*/}" ;;
		content) continue ;;
		*) path="/v1/users/$key/$k" ;;
		esac
		[ "$i" -gt 1 ] && echo next >>"$IT_DIR/get.cfg"
		printf 'url = "%s%s"\noutput = "%s/got/%d"\n' "$E" "$path" "$IT_DIR" "$i" >>"$IT_DIR/get.cfg"
		printf '%d\t%s\t%s\t%s\n' "$i" "$k" "$key" "$v" >>"$IT_DIR/want.tsv"
	done <"$IT_DIR/acked.last"
	curl -s --no-progress-meter --parallel --parallel-max 32 -K "$IT_DIR/get.cfg" || true
	n=$(grep -c . "$IT_DIR/want.tsv")
	jq -Rn '[inputs | split("\t") | {i: .[0], kind: .[1], key: .[2],
		want: (if .[1] == "user" then .[3] else (.[3] | fromjson) end)}]' <"$IT_DIR/want.tsv" >"$IT_DIR/want.json"
	(cd "$IT_DIR/got" && find . -type f -size +0 -printf '%f\n' | xargs jq -c '{i: (input_filename), got: .}') >"$IT_DIR/got.jsonl" || true
	bad=$(jq -cn --slurpfile w "$IT_DIR/want.json" --slurpfile g "$IT_DIR/got.jsonl" '
		($g | map({(.i): .got}) | add // {}) as $m |
		[$w[0][] | .got = $m[.i] | select(if .kind == "user" then (.got.home_pool != .want or .got.enabled != true)
			else (.got.value != .want) end) | {kind, key, want, got}]')
	[ "$(jq length <<<"$bad")" == 0 ] ||
		fail "$(jq length <<<"$bad") of $n acknowledged writes not at east, e.g. $(jq -c '.[:3]' <<<"$bad")"
	# content, byte for byte
	while read -r k key v; do
		[ "$k" == content ] || continue
		assert_eq "$v" "$(curl -sf "$E/v1/users/$key" | sha)" "content $key at east"
	done <"$IT_DIR/acked.last"
	log "east serves all $n acknowledged values and $(grep -c '^content ' "$IT_DIR/acked.last") content items"
}

# verify_equal: backup verify of both user sets at their owners finds both
# copies equal; the CMS copies have the same digest
verify_equal() {
	local p a
	for p in pool-east pool-west; do
		a=$(url east)
		[ "$p" == pool-west ] && a=$(url west)
		assert_eq 200 "$(code --max-time 140 -XPOST "$a/v1/backup/$p/verify?repair=false")" "backup verify $p"
		assert_json "$(body)" '.differences_total == 0 and .equal_after == true and .complete == true' "verify $p: both copies equal"
		log "verify $p: $(jq -c '{items_owner, items_backup, differences_total, equal_after}' "$IT_DIR/body")"
	done
	assert_eq "$(curl -s "$E/v1/internal/digest?user_set=cms" | jq -c .)" \
		"$(curl -s "$W/v1/internal/digest?user_set=cms" | jq -c .)" "digests of the CMS copies"
}

# ---- seed progress ---------------------------------------------------------
# rebuild NAME: GET /v1/pools/pool-east/rebuild at agent NAME ("" when not answered)
rebuild() { curl -sf --max-time 3 "$(url "$1")/v1/pools/pool-east/rebuild" 2>/dev/null || true; }
# seeding_now NAME: a seed toward pool-east is under way with part of a
# stream stored and part left
seeding_now() {
	rebuild "$1" | jq -e '.rebuilding == true and
		([.streams[] | select(.bytes > 0 and .bytes < .bytes_total)] | length > 0)' >/dev/null
}
# seed_over NAME: pool-east recovering, no seed under way and caught up, as NAME sees it
seed_over() {
	[ "$(pool_state "$1" pool-east)" == "recovering pool-west" ] &&
		rebuild "$1" | jq -e '.rebuilding == false and .caught_up == true' >/dev/null
}

# ---- writes at west while east is gone and while it is rebuilt ---------------
# writer PREFIX: at west, until $IT_DIR/stop exists: users enabled for
# pool-east, contacts of east's users, CMS documents; each write
# acknowledged goes to ACKED (each key written once)
writer() {
	local p=$1 i=0 c
	while [ ! -f "$IT_DIR/stop" ]; do
		i=$((i + 1))
		case $((i % 3)) in
		0) c=$(http --max-time 5 -XPOST "$W/v1/users" -d "{\"sip\":\"sip:$p$i@example.com\",\"pool\":\"pool-east\"}" || true)
			[ "$c" == 201 ] && echo "user sip:$p$i@example.com pool-east" >>"$ACKED" ;;
		1) [ "$i" -le "$USERS" ] || continue
			c=$(http --max-time 5 -XPUT "$W/v1/users/sip:u$i@example.com/contacts" -d "{\"by\":\"$p\",\"i\":$i}" || true)
			[ "$c" == 200 ] && echo "contacts sip:u$i@example.com {\"by\":\"$p\",\"i\":$i}" >>"$ACKED" ;;
		2) c=$(http --max-time 5 -XPUT "$W/v1/cms/documents/$p$i" -d "{\"by\":\"$p\",\"i\":$i}" || true)
			[ "$c" == 200 ] && echo "cms $p$i {\"by\":\"$p\",\"i\":$i}" >>"$ACKED" ;;
		esac
		[[ "$c" == 2* ]] || sleep 0.05
	done
}

# lose_east: kill -9 of east, its data_dir wiped; west takes pool-east over
lose_east() {
	log "kill -9 east, wipe its data_dir"
	kill -KILL "$(pid_of east)"
	wait_exit east 10 || fail "east still runs"
	rm -rf "$IT_DIR/east/data"
	: >"$IT_DIR/east/log"
	wait_writable 30 west pool-east
	wait_until 30 "[ \"\$(pool_state west pool-east)\" == 'failed_over pool-west' ]"
}

# fail_back: once allowed (bounded wait), failback of pool-east by poolpairctl
fail_back() {
	local l
	wait_until 180 "l=\$(agree_leader ${ALL[*]}) && curl -s -XPOST \"\$(url \$l)/v1/pools/pool-east/failback?what_if=true\" | jq -e .allowed"
	l=$(agree_leader "${ALL[@]}")
	expect_exit 0 ctl "$l" --timeout 90 failback pool-east
	assert_contains "$OUT" "pool-east failed back" "poolpairctl failback"
	wait_writable 30 east pool-east
	assert_eq "normal pool-east" "$(pool_state "$l" pool-east)" "pool-east back at east"
}

# ---- 1. the site is lost, rebuilt, failed back ---------------------------------
lose_east
assert_json "$(status west)" '.cms.active == "pool-west"' "the CMS moved to west"
log "writes at west during the outage"
rm -f "$IT_DIR/stop"
n_before=$(grep -c . "$ACKED")
writer o &
WR=$!
sleep 3
upload "$W" sip:u4@example.com weekly4 outage.bin 3000000
log "east starts again on an empty data_dir"
start east
wait_until 60 "grep -q 'added it back as a spare: starting raft' \"\$IT_DIR/east/log\""
assert_not_contains "$(cat "$IT_DIR/east/log")" "bootstrapping" "an empty disk never bootstraps"
seen=0
end=$((SECONDS + 180))
while ! seed_over west; do
	[ $SECONDS -lt $end ] || fail "no rebuild of pool-east within 180 s: $(rebuild west)"
	r=$(rebuild west)
	if [ -n "$r" ] && jq -e '.rebuilding == true' >/dev/null <<<"$r"; then
		seen=$((seen + 1))
		assert_json "$r" '(.streams | length) > 0 and all(.streams[]; .items <= .items_total and .bytes <= .bytes_total)' "rebuild progress while seeding"
		[ $seen = 1 ] && log "seed under way: $(jq -c . <<<"$r")"
	fi
	sleep 0.1
done
log "seed progress seen $seen times while seeding"
touch "$IT_DIR/stop"
wait "$WR" || true
log "$(grep -c . "$ACKED") acknowledged writes, $(($(grep -c . "$ACKED") - n_before)) of them at west during the outage"
fail_back
check_east
verify_equal
assert_eq 201 "$(http -XPOST "$E/v1/users" -d '{"sip":"sip:back@example.com","pool":"pool-east"}')" "east writes again"
echo "user sip:back@example.com pool-east" >>"$ACKED"

# content_halfway NAME: the seed of pool-east's content (178 MB here) under
# way and not yet half done, as NAME's GET /v1/pools/pool-east/rebuild says
# (those figures lag a little behind the copy: half of the stream leaves
# room to be cut before its end)
content_halfway() {
	rebuild "$1" | jq -e '.rebuilding == true and ([.streams[] | select(.user_set == "pool-east" and
		.lane == "content" and .bytes > 0 and .bytes < .bytes_total / 2)] | length == 1)' >/dev/null
}
# seed_row [DIR]: east's seed row of pool-east's content lane, "FROM_SEQ
# ITEMS BYTES", read from its store (read only; empty: no seed under way);
# a store whose agent was killed is read from a copy made in DIR
seed_row() {
	local db=$IT_DIR/east/data/store.db f
	if [ -n "${1:-}" ]; then
		rm -rf "$1" && mkdir -p "$1"
		for f in "$db" "$db-wal"; do [ -f "$f" ] && cp "$f" "$1/"; done
		db=$1/store.db
	fi
	sqlite3 -readonly "$db" \
		"SELECT from_seq || ' ' || items || ' ' || bytes FROM seeds WHERE user_set = 'pool-east' AND lane = 1" 2>/dev/null
}
# never_below FROM BYTES: until the seed of pool-east's content ends, east's
# seed row keeps position FROM and at least BYTES stored (a seed that
# started over would have cleared the lane and counted from 0 again)
never_below() {
	local f n b end=$((SECONDS + 180)) looks=0
	while read -r f n b <<<"$(seed_row)" && [ -n "$f" ]; do
		assert_eq "$1" "$f" "position of the seed after the restart"
		[ "$b" -ge "$2" ] || fail "$b bytes stored after the restart, $2 before: the seed started over"
		looks=$((looks + 1))
		[ $SECONDS -lt $end ] || fail "the seed did not end"
		sleep 0.1
	done
	log "east's seed row looked at $looks times after the restart, never below $2 bytes"
}
# resumed_in LOG FROM: east's receiver resumed the seed of pool-east's
# content at FROM after line LINES_BEFORE of LOG, and did not start it again
resumed_in() {
	tail -n +$((LINES_BEFORE + 1)) "$1" >"$IT_DIR/log.after"
	assert_contains "$(cat "$IT_DIR/log.after")" "seeds pool-east/content from $2 (resumed" "the seed resumed at the same position"
	assert_not_contains "$(cat "$IT_DIR/log.after")" "seeds pool-east/content from $2 (started" "the seed did not start over"
}

# ---- 2. the rebuilding agent killed -9 halfway ----------------------------------
command -v sqlite3 >/dev/null || fail "missing tool: sqlite3"
# a seed long enough to be cut halfway: 40 items of 4 MiB more
for i in $(seq 1 40); do upload "$E" "sip:u$i@example.com" "weekly$i" "bulk/$i.bin" 4194304; done
assert_json "$(curl -s --max-time 70 -XPOST "$E/v1/backup/pool-east/sync?timeout=60")" '.lag_records == 0' "pool-east replicated"
lose_east
start east
wait_until 120 "content_halfway west"
kill -KILL "$(pid_of east)"
wait_exit east 10 || fail "east still runs"
read -r from items bytes <<<"$(seed_row "$IT_DIR/killed")"
if [ -z "$from" ] || [ "$bytes" -le 0 ]; then fail "no seed of pool-east's content stored in part when east was killed"; fi
log "east killed -9 halfway through the seed of pool-east's content: from $from, $items items, $bytes bytes stored"
assert_contains "$(cat "$IT_DIR/east/log")" "seeds pool-east/content from $from (started" "east started that seed"
LINES_BEFORE=$(wc -l <"$IT_DIR/east/log")
start east
wait_until 60 "grep -q 'seeds pool-east/content from' <(tail -n +$((LINES_BEFORE + 1)) \"\$IT_DIR/east/log\")"
never_below "$from" "$bytes"
resumed_in "$IT_DIR/east/log" "$from"
wait_until 180 "seed_over west"
fail_back
check_east
verify_equal

# ---- 3. the owner killed -9 halfway ------------------------------------------------
lose_east
start east
wait_until 120 "content_halfway west"
kill -KILL "$(pid_of west)"
wait_exit west 10 || fail "west still runs"
read -r from items bytes <<<"$(seed_row)"
if [ -z "$from" ] || [ "$bytes" -le 0 ]; then fail "no seed of pool-east's content stored in part when west was killed"; fi
log "west killed -9 halfway through the seed of pool-east's content: from $from, $items items, $bytes bytes stored at east"
LINES_BEFORE=$(wc -l <"$IT_DIR/east/log")
W_LINES=$(wc -l <"$IT_DIR/west/log")
start west
wait_until 60 "grep -q 'seeds pool-east/content from' <(tail -n +$((LINES_BEFORE + 1)) \"\$IT_DIR/east/log\")"
never_below "$from" "$bytes"
resumed_in "$IT_DIR/east/log" "$from"
assert_contains "$(tail -n +$((W_LINES + 1)) "$IT_DIR/west/log")" "pool-east: seed from $from resumed" "west's log: the seed resumed"
wait_until 180 "seed_over west"
assert_eq "normal pool-west" "$(pool_state witness pool-west)" "pool-west never failed over to a copy being rebuilt"
fail_back
check_east
verify_equal
log "ok"
