#!/usr/bin/env bash
# timeout: 480
# Two agents per pool in both sites (east and east2 in pool-east, west and
# west2 in pool-west) and a witness: hot standbys, the local synchronous
# copy and the local takeover (issue 14).
#   - exactly one writer per pool; the other agent of each pool is its
#     standby: 421 not_writer to a write there; status shows the standby
#     as the pool's synchronous standby, local_sync "sync";
#   - a write acknowledged by the writer reads back at the standby from
#     its copy ("copy": "standby");
#   - kill -9 of pool-east's writer while a client writes: its standby
#     becomes the writer (the history says "local takeover"), pool-east
#     stays the owner of its users (no failover to pool-west), and every
#     acknowledged write reads back at the new writer and at the pair;
#   - while pool-east has no synchronous standby, poolpairctl pool writer
#     to its other agent is refused with the state machine's message;
#   - the old writer comes back as a standby, catches up (every
#     acknowledged write reads back from its copy) and becomes the
#     synchronous standby; poolpairctl pool writer then moves the writer
#     back to it, and writes go on there.
source "$(dirname "$0")/lib.sh"

boot=$(it_boot_list 1 2 3 4 5)
agent east 1 east pool-east "$boot" ""
agent east2 2 east pool-east "$boot" ""
agent west 3 west pool-west "$boot" ""
agent west2 4 west pool-west "$boot" ""
agent witness 5 witness "" "$boot" ""
start east east2 west west2 witness
ALL=(east east2 west west2 witness)
wait_leader 30 "${ALL[@]}"
ctl witness pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
http() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
# pool AGENT POOL JQ: a field of a pool in AGENT's status, raw
pool() { sfield "$1" ".pools[] | select(.name == \"$2\") | $3"; }
# other AGENT: the other agent of its pool
other() {
	case $1 in
	east) echo east2 ;; east2) echo east ;; west) echo west2 ;; west2) echo west ;;
	esac
}

# ---- one writer per pool, the other its standby ----
wait_until 30 "[ \"\$(pool witness pool-east .writer.id)\" != 0 ] && [ \"\$(pool witness pool-west .writer.id)\" != 0 ]"
W=$(pool witness pool-east .writer.name)
WW=$(pool witness pool-west .writer.name)
[ "$W" == east ] || [ "$W" == east2 ] || fail "the writer of pool-east is '$W'"
[ "$WW" == west ] || [ "$WW" == west2 ] || fail "the writer of pool-west is '$WW'"
S=$(other "$W")
WS=$(other "$WW")
log "pool-east: writer $W, standby $S; pool-west: writer $WW, standby $WS"
for n in "${ALL[@]}"; do
	st=$(status "$n")
	assert_json "$st" "[.pools[] | select(.name == \"pool-east\") | .writer.name == \"$W\" and ([.standbys[] | .name? // .] == [\"$S\"])] == [true]" "pool-east's writer as $n sees it"
	assert_json "$st" "[.pools[] | select(.name == \"pool-west\") | .writer.name == \"$WW\" and ([.standbys[] | .name? // .] == [\"$WS\"])] == [true]" "pool-west's writer as $n sees it"
done
wait_writable 30 "$W" pool-east "$WW" pool-west
assert_eq 503 "$(http "$(url "$S")/readyz?pool=pool-east")" "readyz at pool-east's standby"
assert_eq 503 "$(http "$(url "$WS")/readyz?pool=pool-west")" "readyz at pool-west's standby"

# ---- the standbys in sync ----
# (the writer chooses a caught-up standby and the leader commits it)
for p in "pool-east $W $S" "pool-west $WW $WS"; do
	read -r P PW PS <<<"$p"
	wait_until 60 "[ \"\$(pool $PW $P .sync_standby.name)\" == $PS ] && [ \"\$(pool $PW $P .local_sync)\" == sync ]"
	wait_until 30 "[ \"\$(pool $PW $P '.standbys[0].state')\" == sync ]"
	assert_json "$(status "$PW")" "[.pools[] | select(.name == \"$P\") | .sync_standby.id == ${IT_ID[$PS]} and .local_sync == \"sync\"] == [true]" "$P's sync standby at its writer"
	wait_until 10 "[ \"\$(pool witness $P .sync_standby.name)\" == $PS ]"
done
hist=$(curl -s "$(url witness)/v1/history?limit=256")
assert_json "$hist" "[.history[] | select(.what | startswith(\"sync standby of pool-east: none -> $S\"))] | length >= 1" "the history names pool-east's sync standby"
out=$(ctl "$W" status)
assert_contains "$out" "pool-east: local sync sync, sync standby $S" "poolpairctl status: pool-east's local sync"
log "$(grep 'pool-east: local sync' <<<"$out")"

# ---- writes at the writer only; reads at the standby from its copy ----
U=sip:load@example.com
assert_eq 201 "$(http -XPOST "$(url "$W")/v1/users" -d "{\"sip\":\"$U\",\"pool\":\"pool-east\"}")" "user enabled at the writer"
out=$(curl -s -XPUT "$(url "$S")/v1/users/$U/profile" -d '{"n":0}')
assert_json "$out" ".error == \"not_writer\" and .writer == \"$W\" and .api == \"$(url "$W")\"" "a write at pool-east's standby"
assert_eq 421 "$(http -XPUT "$(url "$S")/v1/users/$U/profile" -d '{"n":0}')" "421 at the standby"
out=$(curl -s --max-time 5 -XPUT "$(url "$W")/v1/users/$U/profile" -d '{"n":1}')
assert_json "$out" '.seq >= 1' "a write at the writer"
# acknowledged, so held by the synchronous standby: read there at once
assert_json "$(curl -s --max-time 5 "$(url "$S")/v1/users/$U/profile")" '.value.n == 1 and .copy == "standby"' "the write read at the standby"
assert_eq 421 "$(http -XPUT "$(url "$WS")/v1/users/$U/profile" -d '{"n":0}')" "421 at pool-west's standby"

# ---- kill -9 of the writer while a client writes ----
ACKS=$IT_DIR/acks # ID EPOCH SEQ AGENT of every write answered 200
: >"$ACKS"
# client: PUT conference c-K of U at pool-east's writer as the client
# knows it (a 421 names the new one) until $IT_DIR/stop exists
client() {
	local k=0 to=$W out code
	while [ ! -e "$IT_DIR/stop" ]; do
		k=$((k + 1))
		out=$(curl -s --max-time 3 -w '\n%{http_code}' -XPUT \
			"$(url "$to")/v1/users/$U/conferences/c-$k" -d "{\"k\":$k}") || out=$'\n000'
		code=${out##*$'\n'}
		out=${out%$'\n'*}
		if [ "$code" == 200 ]; then
			echo "c-$k $(jq -r '"\(.epoch) \(.seq)"' <<<"$out") $to" >>"$ACKS"
			continue
		fi
		# refused or unreachable: that write is not acknowledged; ask
		# the other agent next time when this one is gone or a standby
		if [ "$code" == 421 ] || [ "$code" == 000 ]; then to=$(other "$to"); fi
		sleep 0.05
	done
}
client &
CLIENT=$!
wait_until 30 "[ \$(wc -l <$ACKS) -ge 20 ]"
EPOCH=$(pool witness pool-east .epoch)
before=$(wc -l <"$ACKS")
pp_kill "$IT_DIR" "$W" KILL
log "killed $W (writer of pool-east) after $before acknowledged writes"
LIVE=()
for n in "${ALL[@]}"; do [ "$n" != "$W" ] && LIVE+=("$n"); done
wait_leader 30 "${LIVE[@]}"
wait_until 60 "[ \"\$(pool witness pool-east .writer.name)\" == $S ]"
took=$(curl -s "$(url witness)/v1/history?limit=256" | jq -r ".history[] | select(.what | startswith(\"writer of pool-east: $W -> $S\")) | \"\\(.what) (\\(.reason))\"")
assert_contains "$took" "(local takeover: writer $W silent" "the history says why $S is the writer"
log "history: $took"
# writes go on at the new writer, under a new epoch
wait_until 60 "[ \$(awk -v e=$EPOCH '\$2 > e' $ACKS | wc -l) -ge 10 ]"
touch "$IT_DIR/stop"
wait "$CLIENT"
# pool-east kept its users: no failover to pool-west
assert_json "$(status witness)" '[.pools[] | select(.name == "pool-east") | .owner == "pool-east" and .state == "normal"] == [true]' "pool-east still owns its users"
assert_json "$(curl -s "$(url witness)/v1/history?limit=256")" '[.history[] | select(.what | test("failover.*pool-east|pool-east.*failover"))] == []' "no failover of pool-east in the history"
assert_json "$(curl -s "$(url "$S")/v1/users/$U/location")" '.owner == "pool-east"' "the user's owner"
log "$(wc -l <"$ACKS") writes acknowledged, $before before the kill"
dups=$(awk '{print $2, $3}' "$ACKS" | sort | uniq -d)
assert_eq "" "$dups" "sequence numbers handed out twice"

# all_read AGENT COPY: every acknowledged write reads back at AGENT from
# its COPY ("own", "backup" or "standby")
all_read() {
	local id _e _s _a k out
	while read -r id _e _s _a; do
		k=${id#c-}
		out=$(curl -s --max-time 5 "$(url "$1")/v1/users/$U/conferences/$id") || return 1
		jq -e ".value.k == $k and .copy == \"$2\"" >/dev/null <<<"$out" || return 1
	done <"$ACKS"
}
wait_writable 30 "$S" pool-east
all_read "$S" own || fail "an acknowledged write is not read at the new writer $S"
wait_until 60 "all_read $WW backup"
log "every acknowledged write read at $S (own) and at $WW (backup)"

# ---- a standby not caught up cannot be made writer ----
# (the takeover cleared pool-east's sync standby; $W is not it)
assert_eq 0 "$(pool witness pool-east .sync_standby.id)" "no sync standby after the takeover"
expect_exit 1 ctl witness pool writer pool-east "$W"
assert_contains "$OUT" "$W is not caught up: the synchronous standby of pool-east is none" "the refusal"
log "refused: $OUT"
out=$(curl -s -L -w '\n%{http_code}' -XPOST "$(url witness)/v1/pools/pool-east/writer" -d "{\"member\":\"$W\"}")
assert_eq 409 "${out##*$'\n'}" "the refusal's status"
assert_json "${out%$'\n'*}" ".error == \"refused\" and .message == \"$W is not caught up: the synchronous standby of pool-east is none\"" "the refusal's answer"
log "refused: ${out%$'\n'*}"
assert_eq "$S" "$(pool witness pool-east .writer.name)" "the writer after the refusal"

# ---- the old writer back: a standby that catches up ----
start "$W"
wait_until 60 "[ \"\$(http -XPUT $(url "$W")/v1/users/$U/profile -d '{\"n\":2}')\" == 421 ]"
assert_eq 503 "$(http "$(url "$W")/readyz?pool=pool-east")" "readyz at the old writer"
wait_until 90 "all_read $W standby"
wait_until 60 "[ \"\$(pool $S pool-east .sync_standby.name)\" == $W ] && [ \"\$(pool $S pool-east .local_sync)\" == sync ]"
log "$W is back, caught up, and the synchronous standby of pool-east"

# ---- the operator moves the writer back ----
out=$(ctl witness pool writer pool-east "$W") || fail "poolpairctl pool writer pool-east $W: $out"
log "$out"
assert_contains "$out" "writer of pool-east: $W" "poolpairctl pool writer"
wait_until 10 "[ \"\$(pool witness pool-east .writer.name)\" == $W ]"
reason=$(curl -s "$(url witness)/v1/history?limit=256" | jq -r ".history[] | select(.what | startswith(\"writer of pool-east: $S -> $W\")) | .reason")
assert_contains "$reason" "operator:" "the history says the operator moved it"
wait_writable 30 "$W" pool-east
out=$(curl -s --max-time 5 -XPUT "$(url "$W")/v1/users/$U/conferences/c-last" -d '{"k":0}')
assert_json "$out" '.seq >= 1' "a write at $W, writer again"
all_read "$W" own || fail "an acknowledged write is not read at $W, writer again"
wait_until 60 "[ \"\$(curl -s $(url "$WW")/v1/users/$U/conferences/c-last | jq -r .copy)\" == backup ]"
log "ok"
