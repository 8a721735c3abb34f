#!/usr/bin/env bash
# timeout: 420
# A pool of two agents (east and east2 in site east, pool-east), its pair
# (west) and a witness: the configuration of issue 14, where both agents
# of pool-east wrote its user set.
#   - exactly one writer per pool (status, metrics); the other agent of
#     pool-east is a standby: 421 not_writer naming the writer to a
#     write, reads answered from its hot copy ("copy": "standby"),
#     readyz?pool=pool-east 503 there and 200 at the writer; poolpairctl
#     follows the 421 of a write to the writer;
#   - a write at the writer is read at west (replicated) and no sequence
#     number of pool-east's user set is handed out twice;
#   - an agent whose site is not its pool's, and one with a name in use,
#     are refused with a clear message and registered as nothing;
#   - kill -9 of the writer: pool-east fails over to west (automatic
#     policy, a witness) although the standby is alive; then the standby
#     becomes the writer (the history says why), catches up from west, and
#     the failback succeeds: every acknowledged write is read at the new
#     writer; the old writer restarted is a standby, whose copy follows
#     the new writer.
# [replication] local_sync = false: the writer waits for no standby and
# never proposes a synchronous standby (so the writer's death is a
# failover to the pair, not a local takeover: t_hotstandby and the
# synchronous standby's own tests cover those); its standby's figures
# are still shown.
source "$(dirname "$0")/lib.sh"
IT_EXTRA="$IT_EXTRA\n[replication]\nlocal_sync = false"

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

# ---- one writer per pool ----
wait_until 30 "[ \"\$(pool pool-east writer.id)\" != 0 ] && [ \"\$(pool pool-west writer.id)\" != 0 ]"
W=$(pool pool-east writer.name)
case $W in
east) S=east2 ;;
east2) S=east ;;
*) fail "the writer of pool-east is '$W', not one of its agents" ;;
esac
log "writer of pool-east: $W, standby: $S"
for n in "${ALL[@]}"; do
	assert_json "$(status "$n")" "[.pools[] | select(.name == \"pool-east\") | .writer.name == \"$W\" and [.standbys[].name] == [\"$S\"] and .writer.token >= 1] == [true]" "pool-east's writer as $n sees it"
	assert_json "$(status "$n")" '[.pools[] | select(.name == "pool-west") | .writer.name == "west" and .standbys == []] == [true]' "pool-west's writer as $n sees it"
done
metrics=$(curl -s "$(url witness)/metrics")
assert_contains "$metrics" "poolpair_pool_writer{pool=\"pool-east\"} ${IT_ID[$W]}" "writer metric"
assert_contains "$metrics" 'poolpair_pool_writer{pool="pool-west"} 3' "writer metric of pool-west"
assert_contains "$metrics" 'poolpair_pool_writer_token{pool="pool-east"}' "token metric"
out=$(ctl witness status)
assert_contains "$out" "pool-east: writer $W (member ${IT_ID[$W]}" "poolpairctl status names the writer"
assert_contains "$out" "standbys $S" "poolpairctl status names the standby"

wait_writable 30 "$W" pool-east west pool-west
assert_eq 503 "$(http "$(url "$S")/readyz?pool=pool-east")" "readyz at the standby"
assert_json "$(curl -s "$(url "$S")/readyz?pool=pool-east")" ".message == \"standby of pool-east; the writer is $W\"" "readyz says why"

# ---- local_sync = false: no synchronous standby, the figures shown ----
wait_until 30 "[ \"\$(sfield $W '.pools[] | select(.name == \"pool-east\") | .standbys[0].state')\" == streaming ]"
st=$(status "$W")
assert_json "$st" "[.pools[] | select(.name == \"pool-east\") | .local_sync == \"off\" and .sync_standby.id == 0 and .standbys[0].name == \"$S\" and (.standbys[0].lag_records | type) == \"number\"] == [true]" "the writer's figures of its standby, local sync off"
metrics=$(curl -s "$(url "$W")/metrics")
assert_contains "$metrics" "poolpair_standby_lag_records{pool=\"pool-east\",standby=\"$S\"}" "the standby's lag metric"
assert_contains "$metrics" 'poolpair_pool_sync_standby{pool="pool-east"} 0' "no sync standby"
assert_contains "$metrics" "poolpair_local_sync_waiting 0" "no write waiting"
out=$(ctl "$W" status)
assert_contains "$out" "pool-east: local sync off, sync standby none" "poolpairctl status: the local sync"

# ---- writes: at the writer only ----
ACKS=$IT_DIR/acks # SIP EPOCH SEQ VALUE of every acknowledged write
: >"$ACKS"
# put AGENT SIP N: PUT profile {"n": N} for SIP at AGENT; records the ack
put() {
	local out
	out=$(curl -s --max-time 5 -XPUT "$(url "$1")/v1/users/$2/profile" -d "{\"n\":$3}") || return 1
	jq -e '.seq' <<<"$out" >/dev/null || { echo "$out"; return 1; }
	echo "$2 $(jq -r '"\(.epoch) \(.seq)"' <<<"$out") $3" >>"$ACKS"
}
assert_eq 201 "$(http -XPOST "$(url "$W")/v1/users" -d '{"sip":"sip:a@example.com","pool":"pool-east"}')" "user enabled at the writer"
out=$(curl -s -XPOST "$(url "$S")/v1/users" -d '{"sip":"sip:b@example.com","pool":"pool-east"}')
assert_json "$out" ".error == \"not_writer\" and .writer == \"$W\" and .api == \"$(url "$W")\" and .pool == \"pool-east\"" "enable at the standby"
assert_eq 421 "$(http -XPUT "$(url "$S")/v1/users/sip:a@example.com/profile" -d '{"n":0}')" "write at the standby"
# reads: from the standby's copy
wait_until 20 "curl -s $(url "$S")/v1/users/sip:a@example.com/location | jq -e '.home_pool == \"pool-east\"'"
# poolpairctl follows the 421 to the writer
ctl "$S" user enable sip:b@example.com --pool pool-east >/dev/null || fail "poolpairctl user enable at the standby"
for i in 1 2 3; do
	put "$W" sip:a@example.com "$i" || fail "write $i at the writer"
	out=$(ctl "$S" --json user set sip:b@example.com profile --value "{\"n\":$i}") || fail "poolpairctl user set at the standby: $out"
	echo "sip:b@example.com $(jq -r '"\(.epoch) \(.seq)"' <<<"$out") $i" >>"$ACKS"
done
wait_until 20 "ctl $S --json user get sip:b@example.com profile | jq -e '.value.n == 3 and .copy == \"standby\"'"
assert_json "$(ctl "$W" --json user get sip:b@example.com profile)" '.value.n == 3 and .copy == "own"' "read at the writer"
# replicated: west reads the last write of each
wait_until 20 "curl -s $(url west)/v1/users/sip:a@example.com/profile | jq -e '.value.n == 3 and .copy == \"backup\"'"
wait_until 20 "curl -s $(url west)/v1/users/sip:b@example.com/profile | jq -e '.value.n == 3'"
# no (epoch, seq) of pool-east's user set handed out twice
dups=$(awk '{print $2, $3}' "$ACKS" | sort | uniq -d)
assert_eq "" "$dups" "sequence numbers handed out twice"

# ---- refused registrations ----
W_URL=$(url witness)
agent badsite 5 west pool-east "" "$W_URL"
agent dupname 6 east pool-east "" "$W_URL"
sed -i 's/^name = dupname$/name = east2/' "$IT_DIR/dupname/poolpaird.conf"
start badsite dupname
wait_until 30 "grep -q 'registration of badsite (id 5, site west, pool pool-east) refused' $IT_DIR/badsite/log"
wait_until 30 "grep -q 'registration of east2 (id 6, site east, pool pool-east) refused' $IT_DIR/dupname/log"
log "badsite: $(grep -o 'refused: .*' "$IT_DIR/badsite/log" | head -n 1)"
log "dupname: $(grep -o 'refused: .*' "$IT_DIR/dupname/log" | head -n 1)"
assert_contains "$(grep 'registration of badsite' "$IT_DIR/badsite/log" | head -n 1)" "site east" "the refusal names the pool's site"
assert_contains "$(grep 'registration of east2 (id 6' "$IT_DIR/dupname/log" | head -n 1)" "east2" "the refusal names the name in use"
for id in 5 6; do
	assert_json "$(curl -s "$W_URL/v1/status")" "[.cluster.members[] | select(.id == $id) | .name] | all(. == \"\")" "member $id registered as nothing"
done
assert_json "$(status witness)" "[.pools[] | select(.name == \"pool-east\") | [.standbys[].name] == [\"$S\"]] == [true]" "no new standby"
pp_kill "$IT_DIR" badsite TERM
pp_kill "$IT_DIR" dupname TERM
# (each may have been added to the Raft configuration as a spare)
gone() { ctl witness member remove "$1" >/dev/null 2>&1; ! sfield witness '.cluster.members[].id' | grep -qx "$1"; }
for id in 5 6; do
	wait_until 30 "gone $id"
done

# ---- the writer killed: failover to the pair, the standby takes over ----
before=$(wc -l <"$ACKS")
pp_kill "$IT_DIR" "$W" KILL
LIVE=()
for n in "${ALL[@]}"; do [ "$n" != "$W" ] && LIVE+=("$n"); done
wait_leader 30 "${LIVE[@]}"
wait_until 60 "[ \"\$(pool pool-east owner)\" == pool-west ]"
log "pool-east failed over to pool-west with $S alive: $(pool pool-east last_failover_reason)"
wait_until 60 "[ \"\$(pool pool-east writer.name)\" == $S ]"
hist=$(curl -s "$(url witness)/v1/history?limit=256" | jq -r ".history[] | select(.what | startswith(\"writer of pool-east: $S\")) | .reason")
assert_contains "$hist" "was silent for" "the history says why $S is the writer"
log "history: $hist"
wait_until 60 "[ \"\$(pool pool-east state)\" == recovering ]"
# writes go on at west meanwhile
for i in 4 5; do
	wait_until 20 "put west sip:a@example.com $i"
done
# seeded from west, then failed back
wait_until 90 "ctl witness failback pool-east --what-if"
wait_until 60 "ctl witness failback pool-east"
# the leader answered once the failback was committed; the witness's own
# view (read by pool) learns the commit with the next append
wait_until 10 "[ \"\$(pool pool-east owner)\" == pool-east ]"
# $S held a hot copy of pool-east: west streams it what it lacks, or seeds
# it when that is no longer in west's outbox (a seed this small ends
# before status samples it: its log line says it)
seeded=$({ grep -o 'seed of pool-east/data from.*' "$IT_DIR/$S/log" || true; } | tail -n 1)
log "$S from west: ${seeded:-streamed, no seed}"
wait_writable 30 "$S" pool-east
put "$S" sip:a@example.com 6 || fail "write at the new writer"
# every acknowledged write reads back at the new writer (the last of each)
for sip in sip:a@example.com sip:b@example.com; do
	last=$(awk -v s="$sip" '$1 == s {v = $4} END {print v}' "$ACKS")
	assert_json "$(curl -s "$(url "$S")/v1/users/$sip/profile")" ".value.n == $last and .copy == \"own\"" "$sip at $S after failback"
done
log "$(wc -l <"$ACKS") writes acknowledged, $before before the kill"
dups=$(awk '{print $2, $3}' "$ACKS" | sort | uniq -d)
assert_eq "" "$dups" "sequence numbers handed out twice"

# ---- the old writer back: a standby ----
start "$W"
wait_until 60 "[ \"\$(http -XPUT $(url "$W")/v1/users/sip:a@example.com/profile -d '{}')\" == 421 ]"
assert_json "$(curl -s -XPUT "$(url "$W")/v1/users/sip:a@example.com/profile" -d '{"n":7}')" ".error == \"not_writer\" and .writer == \"$S\"" "write at the old writer"
assert_eq 503 "$(http "$(url "$W")/readyz?pool=pool-east")" "readyz at the old writer"
assert_eq 200 "$(http "$(url "$S")/readyz?pool=pool-east")" "readyz at the new writer"
assert_json "$(status witness)" "[.pools[] | select(.name == \"pool-east\") | .writer.name == \"$S\" and [.standbys[].name] == [\"$W\"]] == [true]" "one writer of pool-east"
# its copy follows the new writer: the last write of each reads back
for sip in sip:a@example.com sip:b@example.com; do
	last=$(awk -v s="$sip" '$1 == s {v = $4} END {print v}' "$ACKS")
	wait_until 30 "curl -s $(url "$W")/v1/users/$sip/profile | jq -e '.value.n == $last and .copy == \"standby\"'"
done
log "ok"
