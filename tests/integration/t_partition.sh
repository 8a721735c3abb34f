#!/usr/bin/env bash
# Partition: east is cut off from the witness and west (Raft, API and data
# ports), not killed, while one client writes east's users at east and
# another at west. With policy auto, east's lease runs out and it refuses
# writes (503) before west takes its users over (epoch 2): from the clients'
# own clocks, east's last acknowledged write was answered before west's
# first accepted write was even sent. After healing, east is recovering and
# every write it acknowledged is at west or in its divergence archive.
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
curl -s -XPUT "$(url witness)/v1/policy" -L -d '{"failover":"auto","max_lag_on_failover_ms":5000,"cooldown_ms":1000}' >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"
assert_json "$(status west)" '.pools[] | select(.name == "pool-east") | .owner == "pool-east" and .epoch == 1' "pool-east before the cut"
log "leader before the cut: $LEADER"

# writer URL PREFIX LOG: create pool-east users until told to stop; one line
# per answer: index, code, time sent, time answered (ns), epoch, message
writer() {
	local url=$1 p=$2 i=0 code t0 t1 body=$IT_DIR/$2.body
	while [ ! -f "$IT_DIR/stop" ] && kill -0 $$ 2>/dev/null; do # not past the test
		i=$((i + 1))
		t0=$(date +%s%N)
		code=$(curl -s --max-time 2 -o "$body" -w '%{http_code}' -XPOST "$url/v1/users" \
			-d "{\"sip\":\"sip:$p$i@example.com\",\"pool\":\"pool-east\"}" || true)
		t1=$(date +%s%N)
		echo "$i $code $t0 $t1 $(jq -r '.epoch // "-"' "$body" 2>/dev/null || echo -)" \
			"$(jq -r '.message // ""' "$body" 2>/dev/null | tr -s ' \n' '_')" >>"$IT_DIR/$3"
		[ "$code" == 201 ] || sleep 0.01
	done
}
: >"$IT_DIR/east.log"
: >"$IT_DIR/west.log"
writer "$E" e east.log &
WE=$!
writer "$W" w west.log &
WW=$!
accepted() { awk '$2 == 201' "$IT_DIR/$1.log" | wc -l; }
wait_until 20 "[ \$(accepted east) -ge 10 ]"
assert_eq 0 "$(accepted west)" "west accepted pool-east writes before the cut"
assert_contains "$(awk '{print $2}' "$IT_DIR/west.log" | sort -u | tr '\n' ' ')" 421 "west's answers before the cut"

EAST_PORTS="$(raft_port 1),$(api_port 1),$(data_port 1)"
REST_PORTS="$(raft_port 2),$(api_port 2),$(data_port 2),$(raft_port 3),$(api_port 3)"
t_cut=$(date +%s%N)
net_cut all east "$EAST_PORTS" rest "$REST_PORTS"
log "east cut off from $REST_PORTS"

# west takes pool-east over; east refuses writes once its lease is gone
wait_until 60 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
wait_until 30 "[ \$(accepted west) -ge 10 ]"
wait_until 30 "awk -v t=$t_cut '\$2 == 503 && \$3 > t' $IT_DIR/east.log | grep -q ."
touch "$IT_DIR/stop"
wait "$WE" "$WW" || true
rm -f "$IT_DIR/stop"
log "dropped $(net_dropped) packets; east acknowledged $(accepted east), west $(accepted west)"
st=$(status west)
assert_json "$st" '.pools[] | select(.name == "pool-east") | .owner == "pool-west" and .epoch == 2 and .state == "failed_over"' "pool-east failed over at west"
alive east || fail "east died during the partition"

# epochs: east only ever under 1, west only under 2
assert_eq "" "$(awk '$2 == 201 && $5 != 1' "$IT_DIR/east.log")" "east acknowledged writes not under epoch 1"
assert_eq "" "$(awk '$2 == 201 && $5 != 2' "$IT_DIR/west.log")" "west accepted writes not under epoch 2"
# the acceptance intervals do not overlap: east's last acknowledgement
# arrived before west's first accepted write was sent
east_last=$(awk '$2 == 201 { t = $4 } END { print t }' "$IT_DIR/east.log")
west_first=$(awk '$2 == 201 { print $3; exit }' "$IT_DIR/west.log")
log "east's last acknowledgement $(((east_last - t_cut) / 1000000)) ms after the cut," \
	"west's first accepted write sent $(((west_first - t_cut) / 1000000)) ms after it"
[ "$east_last" -lt "$west_first" ] ||
	fail "two owners: east acknowledged a write at $east_last ns, west's first accepted write was sent at $west_first ns"
# east refused with 503 (no lease) during the partition, and accepted
# nothing after its first refusal
first_503=$(awk -v t="$t_cut" '$2 == 503 && $3 > t { print $3; exit }' "$IT_DIR/east.log")
assert_eq "" "$(awk -v t="$first_503" '$2 == 201 && $3 > t' "$IT_DIR/east.log")" "east's acknowledgements after its first 503"
assert_contains "$(awk -v t="$t_cut" '$2 == 503 && $3 > t { print $6 }' "$IT_DIR/east.log" | sort -u)" "no_lease" "east's 503 answers"
assert_eq "" "$(awk -v t="$t_cut" '$3 > t && $2 != 201 && $2 != 503' "$IT_DIR/east.log")" "east's other answers during the partition"

# heal: east comes back recovering and catches up
net_heal all
wait_leader 60 "${ALL[@]}"
wait_until 60 "[ \"\$(sfield east '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
wait_until 60 "[ \"\$(sfield west '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
assert_json "$(status east)" '.pools[] | select(.name == "pool-east") | .owner == "pool-west" and .epoch == 2' "pool-east at east after healing"
last_w=$(awk '$2 == 201 { i = $1 } END { print i }' "$IT_DIR/west.log")
wait_until 60 "[ \"\$(http $E/v1/users/sip:w$last_w@example.com/location)\" == 200 ]"
assert_eq 421 "$(http -XPOST "$E/v1/users" -d '{"sip":"sip:late@example.com","pool":"pool-east"}')" "a write at east after healing"

# every write east acknowledged is at west or in east's divergence archive
wait_until 30 "curl -s $E/v1/divergence?limit=10000 | jq -e '.divergence' >/dev/null"
archived=$(curl -s "$E/v1/divergence?limit=10000")
lost=0
n_west=0
n_arch=0
while read -r i _; do
	sip="sip:e$i@example.com"
	if [ "$(http "$W/v1/users/$sip/location")" == 200 ]; then
		n_west=$((n_west + 1))
	elif jq -e --arg k "$sip" '[.divergence[] | select(.key == $k)] | length > 0' <<<"$archived" >/dev/null; then
		n_arch=$((n_arch + 1))
	else
		lost=$((lost + 1))
		log "acknowledged write $sip is neither at west nor archived at east"
	fi
done < <(awk '$2 == 201' "$IT_DIR/east.log")
log "east's acknowledged writes: $n_west at west, $n_arch in east's divergence archive"
assert_eq 0 "$lost" "acknowledged writes lost silently"

# failback: east's copy ends equal to west's, its archived tail included
# (archived, but it was still in east's own copy: the failback repairs it)
L=$(url "$(agree_leader east west witness)")
wait_until 30 "curl -s -XPOST '$L/v1/pools/pool-east/failback?what_if=true' | jq -e .allowed >/dev/null"
out=$(curl -s --max-time 120 -XPOST "$L/v1/pools/pool-east/failback")
assert_json "$out" '.state == "normal" and .owner == "pool-east" and .epoch == 3' "failback"
if [ "$n_arch" -gt 0 ]; then
	sip=$(jq -r '.divergence[0].key' <<<"$archived")
	assert_eq "$(http "$W/v1/users/$sip/location")" "$(http "$E/v1/users/$sip/location")" "an archived write: same answer at east and west after the failback"
fi
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"
ctl east backup sync pool-east >/dev/null || fail "backup sync"
out=$(curl -s -XPOST "$E/v1/backup/pool-east/verify")
assert_json "$out" '.differences_total == 0 and .equal_after == true' "both copies equal after the failback"
log "ok"
