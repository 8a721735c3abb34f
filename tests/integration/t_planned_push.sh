#!/usr/bin/env bash
# timeout: 300
# A planned failover and its failback move on as soon as the pool has
# drained: the draining agent starts its drain when it applies the move,
# tells the leader at once when everything it wrote is at the pair (a
# report, not its next heartbeats), and the leader decides then. With
# heartbeats 5 s apart, each move completes while the draining agent sends
# at most one heartbeat (waiting for heartbeats takes two at least: the
# first starts the drain's barrier, the next reports it drained). The
# draining agent must not lead (a leader's own drain is read live, without
# heartbeats): it hands the leadership over first when it does.
# Nothing acknowledged is lost.
source "$(dirname "$0")/lib.sh"

IT_EXTRA="[failover]\nheartbeat = 5s\nlease = 20s\ngrace = 1s"
three_agents
ALL=(east west witness)
wait_leader 60 "${ALL[@]}"
# not_leading NAME: NAME hands the leadership over (SIGTERM does) and is
# started again, until another agent leads; the leader in LEADER
not_leading() {
	local t
	for t in 1 2 3 4; do
		wait_leader 60 "${ALL[@]}"
		[ "$LEADER" != "$1" ] && return 0
		log "$1 leads: handing the leadership over"
		pp_kill "$IT_DIR" "$1" TERM
		wait_exit "$1" 20 || fail "$1 did not stop"
		start "$1"
		wait_until 60 "alive $1 && [ -n \"\$(leader_name $1)\" ]"
	done
	fail "$1 still leads"
}
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 60 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# heartbeats NAME: the heartbeats the agent sent so far
heartbeats() {
	curl -sf "$(url "$1")/metrics" | awk '/^poolpair_heartbeats_total\{result="sent"\}/ { print $2 }'
}
not_leading east
L=$(url "$LEADER")
wait_until 60 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"

# a writer: every write acknowledged by some agent is recorded
writer() {
	local i=0 url=$E code
	while [ ! -f "$IT_DIR/stop" ]; do
		i=$((i + 1))
		code=$(curl -s -o "$IT_DIR/w.out" -w '%{http_code}' -XPOST "$url/v1/users" \
			-d "{\"sip\":\"sip:push$i@example.com\",\"pool\":\"pool-east\"}" || true)
		case $code in
		201) echo "$i" >>"$IT_DIR/acked" ;;
		421) url=http://$(jq -r .owner_api "$IT_DIR/w.out"); i=$((i - 1)) ;;
		*) i=$((i - 1)); sleep 0.02 ;;
		esac
	done
}
writer &
WRITER=$!
sleep 1

h0=$(heartbeats east)
out=$(curl -s --max-time 60 -XPOST "$L/v1/pools/pool-east/failover")
h1=$(heartbeats east)
assert_json "$out" '.state == "failed_over" and .owner == "pool-west"' "planned failover"
log "east sent $((h1 - h0)) heartbeats during the failover"
[ $((h1 - h0)) -le 1 ] || fail "the failover waited for east's heartbeats ($((h1 - h0)) sent)"
wait_until 30 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"

wait_until 60 "[ \"\$(sfield east '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
not_leading west
L=$(url "$LEADER")
wait_until 60 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
# the writer keeps writing at west: a record written between the what-if
# and the call can make the call find pool-east one record behind, a
# refusal that changes nothing; the call is then made again
for _ in $(seq 20); do
	wait_until 60 "curl -s -XPOST '$L/v1/pools/pool-east/failback?what_if=true' | jq -e .allowed >/dev/null"
	h0=$(heartbeats west)
	out=$(curl -s --max-time 60 -XPOST "$L/v1/pools/pool-east/failback")
	h1=$(heartbeats west)
	[ "$(jq -r '.error // empty' <<<"$out")" == not_caught_up ] || break
	log "failback refused for now: $(jq -r .message <<<"$out")"
done
assert_json "$out" '.state == "normal" and .owner == "pool-east"' "failback"
log "west sent $((h1 - h0)) heartbeats during the failback"
[ $((h1 - h0)) -le 1 ] || fail "the failback waited for west's heartbeats ($((h1 - h0)) sent)"
wait_until 30 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"
sleep 0.5
touch "$IT_DIR/stop"
wait "$WRITER"

acked=$(wc -l <"$IT_DIR/acked")
[ "$acked" -gt 10 ] || fail "only $acked writes acknowledged"
out=$(curl -s --max-time 60 -XPOST "$E/v1/backup/pool-east/sync?timeout=50")
assert_json "$out" '.lag_records == 0' "west has everything"
for a in east west; do
	missing=0
	for i in $(cat "$IT_DIR/acked"); do
		[ "$(http "$(url $a)/v1/users/sip:push$i@example.com/location")" == 200 ] || missing=$((missing + 1))
	done
	assert_eq 0 "$missing" "acknowledged writes missing at $a"
done
assert_json "$(curl -s "$E/v1/divergence")" '.divergence | length == 0' "nothing diverged"
log "ok ($acked writes acknowledged)"
