#!/usr/bin/env bash
# Stale owner: east's records written under epoch 1 reach west only after
# the epoch moved to 2. East is first cut from west's data port (its
# writes pile up unshipped), then from the Raft and API ports too; it keeps
# writing until its lease runs out, west takes pool-east over (policy auto)
# and writes under epoch 2. Then only the data ports heal: east, still
# believing it owns pool-east, ships its epoch-1 backlog. West must refuse
# it (never apply it: the keys stay unknown or keep west's epoch-2 value),
# and every such record must be archived: at west as "stale epoch", or at
# east as "never shipped" once it is back and recovering.
# Needs root: iptables rules on lo, matched by the agents' cgroups.
source "$(dirname "$0")/lib.sh"

net_init
boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
net_start east east
net_start rest west witness
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
curl -s -XPUT "$(url witness)/v1/policy" -L -d '{"failover":"auto","max_lag_on_failover_ms":60000,"cooldown_ms":1000}' >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"
log "leader: $LEADER"

# a user both sides know, replicated before anything is cut
SHARED=sip:shared@example.com
assert_eq 201 "$(http -XPOST "$E/v1/users" -d "{\"sip\":\"$SHARED\",\"pool\":\"pool-east\"}")" "create $SHARED at east"
assert_eq 200 "$(http -XPUT "$E/v1/users/$SHARED/profile" -d '{"v":"base"}')" "profile at east"
wait_until 20 "curl -s $W/v1/users/$SHARED/profile | jq -e '.value.v == \"base\"'"

# 1. east cut from west's data port only: east's writes are not shipped
net_cut data east "$(data_port 1)" rest "$(data_port 2)"
out=$(curl -s -XPUT "$E/v1/users/$SHARED/profile" -d '{"v":"stale"}')
assert_json "$out" '.epoch == 1' "the stale profile write at east"
writer() { # create pool-east users s1, s2, ... at east until told to stop
	local i=0 code t0
	while [ ! -f "$IT_DIR/stop" ] && kill -0 $$ 2>/dev/null; do # not past the test
		i=$((i + 1))
		t0=$(date +%s%N)
		code=$(curl -s --max-time 2 -o "$IT_DIR/w.body" -w '%{http_code}' -XPOST "$E/v1/users" \
			-d "{\"sip\":\"sip:s$i@example.com\",\"pool\":\"pool-east\"}" || true)
		echo "$i $code $t0 $(jq -r '.epoch // "-"' "$IT_DIR/w.body" 2>/dev/null || echo -)" >>"$IT_DIR/east.log"
		[ "$code" == 201 ] || sleep 0.02
	done
}
: >"$IT_DIR/east.log"
writer &
WE=$!
accepted() { awk '$2 == 201' "$IT_DIR/east.log" | wc -l; }
wait_until 20 "[ \$(accepted) -ge 10 ]"
assert_eq 404 "$(http "$W/v1/users/sip:s1@example.com/location")" "an unshipped write at west"
lag=$(curl -s "$E/v1/backup" | jq '[.backup[] | select(.from == "pool-east" and .category == "user_data") | .lag_records] | add')
[ "$lag" -gt 0 ] || fail "east has no unshipped backlog: lag $lag"

# 2. east cut from the cluster too: it writes until its lease ends, west
# takes pool-east over
t_cut=$(date +%s%N)
net_cut ctl east "$(raft_port 1),$(api_port 1)" rest "$(raft_port 2),$(api_port 2),$(raft_port 3),$(api_port 3)"
wait_until 30 "awk -v t=$t_cut '\$2 == 503 && \$3 > t' $IT_DIR/east.log | grep -q ."
wait_until 60 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
touch "$IT_DIR/stop"
wait "$WE" || true
rm -f "$IT_DIR/stop"
assert_eq "" "$(awk '$2 == 201 && $4 != 1' "$IT_DIR/east.log")" "east's acknowledged writes not under epoch 1"
first_503=$(awk -v t="$t_cut" '$2 == 503 && $3 > t { print $3; exit }' "$IT_DIR/east.log")
assert_eq "" "$(awk -v t="$first_503" '$2 == 201 && $3 > t' "$IT_DIR/east.log")" "east's acknowledgements after its lease ran out"
out=$(curl -s -XPUT "$W/v1/users/$SHARED/profile" -d '{"v":"west"}')
assert_json "$out" '.epoch == 2' "the profile write at west after the failover"
assert_eq 201 "$(http -XPOST "$W/v1/users" -d '{"sip":"sip:west2@example.com","pool":"pool-east"}')" "a new user at west"
STALE=("$SHARED")
while read -r i _; do STALE+=("sip:s$i@example.com"); done < <(awk '$2 == 201' "$IT_DIR/east.log")
log "east wrote ${#STALE[@]} records under epoch 1 that west never got; its backlog: $(curl -s "$E/v1/backup" | jq -c '[.backup[] | select(.from == "pool-east") | .lag_records]')"
assert_json "$(status east)" '.pools[] | select(.name == "pool-east") | .owner == "pool-east" and .epoch == 1' "east, cut off, still knows epoch 1"

# 3. only the data ports heal: east ships its epoch-1 backlog to west
rx() { curl -s "$W/v1/backup" | jq -r "$1"; }
hello0=$(rx '.received.errors.hello // 0')
arch0=$(rx '.received.archived // 0')
applied0=$(rx '.received.records_applied // 0')
net_heal data
wait_until 60 "[ \$(rx '.received.errors.hello // 0') -gt $hello0 ] || [ \$(rx '.received.archived // 0') -gt $arch0 ]"
sleep 2 # let whatever east sends arrive
log "west's receiver after the data ports healed: $(rx '.received | tojson')"
assert_eq "$applied0" "$(rx '.received.records_applied // 0')" "records west applied from east's stale stream"
for sip in "${STALE[@]:1}"; do
	assert_eq 404 "$(http "$W/v1/users/$sip/location")" "east's stale write $sip at west"
done
out=$(curl -s "$W/v1/users/$SHARED/profile")
assert_json "$out" '.value.v == "west" and .epoch == 2' "$SHARED's profile at west"
archived_w=$(curl -s "$W/v1/divergence?limit=10000")
log "west archived $(jq '[.divergence[] | select(.reason == "stale epoch")] | length' <<<"$archived_w") records as stale epoch"

# 4. the Raft and API ports heal: east is recovering, takes west's epoch-2
# data, and what it wrote under epoch 1 is archived
net_heal ctl
wait_leader 60 "${ALL[@]}"
wait_until 60 "[ \"\$(sfield east '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
wait_until 60 "[ \"\$(http $E/v1/users/sip:west2@example.com/location)\" == 200 ]"
wait_until 30 "curl -s $E/v1/users/$SHARED/profile | jq -e '.value.v == \"west\" and .epoch == 2'"
archived_w=$(curl -s "$W/v1/divergence?limit=10000")
archived_e=$(curl -s "$E/v1/divergence?limit=10000")
at_w=0
at_e=0
lost=0
for sip in "${STALE[@]}"; do
	if jq -e --arg k "$sip" '[.divergence[] | select((.key | contains($k)) and .reason == "stale epoch" and .epoch == 1)] | length > 0' <<<"$archived_w" >/dev/null; then
		at_w=$((at_w + 1))
	elif jq -e --arg k "$sip" '[.divergence[] | select((.key | contains($k)) and .epoch == 1)] | length > 0' <<<"$archived_e" >/dev/null; then
		at_e=$((at_e + 1))
	else
		lost=$((lost + 1))
		log "east's epoch-1 write of $sip is archived nowhere"
	fi
done
log "east's stale records: $at_w archived at west (stale epoch), $at_e at east ($(jq -c '[.divergence[].reason] | unique' <<<"$archived_e"))"
assert_eq 0 "$lost" "stale records neither applied nor archived"
# and still none of them applied at west
for sip in "${STALE[@]:1}"; do
	assert_eq 404 "$(http "$W/v1/users/$sip/location")" "east's stale write $sip at west after healing"
done
assert_json "$(curl -s "$W/v1/users/$SHARED/profile")" '.value.v == "west" and .epoch == 2' "$SHARED's profile at west after healing"
log "ok"
