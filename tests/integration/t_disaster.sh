#!/usr/bin/env bash
# Disaster: kill -9 of east's agent under write load with policy auto. West
# takes east's users over automatically (lease + grace later); every write
# east acknowledged is at west or, once east is back, in east's divergence
# archive; east comes back recovering and fails back without loss.
source "$(dirname "$0")/lib.sh"

three_agents
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
log "leader: $(agree_leader "${ALL[@]}") (east's death may cost the leadership too)"

writer() { # URL PREFIX FILE: write until told to stop, record what was acknowledged
	local url=$1 p=$2 i=0 code
	while [ ! -f "$IT_DIR/stop" ]; do
		i=$((i + 1))
		code=$(curl -s --max-time 2 -o "$IT_DIR/$p.out" -w '%{http_code}' -XPOST "$url/v1/users" \
			-d "{\"sip\":\"sip:$p$i@example.com\",\"pool\":\"pool-east\"}" || true)
		case $code in
		201) echo "$i $(date +%s%N)" >>"$IT_DIR/$3" ;;
		*) sleep 0.02 ;;
		esac
	done
}
writer "$E" e acked_east &
W1=$!
sleep 1.5
t_kill=$(date +%s%N)
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
touch "$IT_DIR/stop"
wait "$W1" || true
rm -f "$IT_DIR/stop"
log "east killed after $(wc -l <"$IT_DIR/acked_east") acknowledged writes"
# west takes over by itself
wait_until 30 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
t_ready=$(date +%s%N)
log "west writes pool-east $(((t_ready - t_kill) / 1000000)) ms after the kill"
assert_eq 201 "$(http -XPOST "$W/v1/users" -d '{"sip":"sip:after@example.com","pool":"pool-east"}')" "a write at west after the failover"
st=$(status west)
assert_json "$st" '.pools[] | select(.name == "pool-east") | .state == "failed_over" and .owner == "pool-west" and .epoch == 2' "pool-east failed over"
assert_json "$st" '.cms.active == "pool-west"' "the CMS moved first"
h=$(curl -s "$W/v1/history?limit=30")
assert_json "$h" '[.history[] | select(.what | test("disaster")) | select(.forced == true)] | length == 1' "history: one forced disaster decision"

# east returns: recovering; what it never shipped is archived, the rest is at west
start east
wait_until 30 "[ \"\$(sfield west '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
wait_until 30 "[ \"\$(http $E/v1/users/sip:after@example.com/location)\" == 200 ]"
archived=$(curl -s "$E/v1/divergence?limit=10000")
lost=0
while read -r i _; do
	sip="sip:e$i@example.com"
	if [ "$(http "$W/v1/users/$sip/location")" != 200 ] &&
		! jq -e --arg k "$sip" '[.divergence[] | select(.key == $k)] | length > 0' <<<"$archived" >/dev/null; then
		lost=$((lost + 1))
		log "acknowledged write $sip is neither at west nor archived"
	fi
done <"$IT_DIR/acked_east"
assert_eq 0 "$lost" "acknowledged writes lost silently"
log "archived at east: $(jq '.divergence | length' <<<"$archived")"

# and back, with nothing lost
L=$(url "$(agree_leader "${ALL[@]}")")
wait_until 30 "curl -s -XPOST '$L/v1/pools/pool-east/failback?what_if=true' | jq -e .allowed >/dev/null"
out=$(curl -s --max-time 60 -XPOST "$L/v1/pools/pool-east/failback")
assert_json "$out" '.state == "normal" and .owner == "pool-east" and .epoch == 3' "failback"
assert_eq 200 "$(http "$E/v1/users/sip:after@example.com/location")" "west's write is at east after failback"
assert_eq 201 "$(http -XPOST "$E/v1/users" -d '{"sip":"sip:back@example.com","pool":"pool-east"}')" "east writes again"
log "ok"
