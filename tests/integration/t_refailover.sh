#!/usr/bin/env bash
# Two disaster cycles in a row, the second after east had written and
# shipped more: kill -9 east, automatic failover, east back, failback; east
# writes again and every write reaches west; kill -9 east again, automatic
# failover at a later takeover position; east back. A restarted agent
# replays its Raft log from the start and passes through the state of the
# FIRST failover (with its lower takeover position) before it reaches the
# current one. Nothing may be decided from that old view: east must not
# archive as "never shipped" the writes west already has, must not accept a
# write before its view is current, and must be able to fail back.
# Asserted: after the second return, east's divergence archive holds no
# write that is at west; every write east acknowledged is at west; the
# failback is allowed and completes; both copies end equal (backup verify).
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

# write N users at URL with prefix P; every 201 is recorded in FILE
write_users() { # URL P N FILE
	local i code
	for ((i = 1; i <= $3; i++)); do
		code=$(http --max-time 2 -XPOST "$1/v1/users" -d "{\"sip\":\"sip:$2$i@example.com\",\"pool\":\"pool-east\"}" || true)
		[ "$code" == 201 ] && echo "sip:$2$i@example.com" >>"$IT_DIR/$4"
	done
	return 0
}
synced() { # every acked write of FILE readable at west
	local sip
	while read -r sip; do
		[ "$(http "$W/v1/users/$sip/location")" == 200 ] || return 1
	done <"$IT_DIR/$1"
}
leader_url() { url "$(agree_leader "${ALL[@]}")"; }
cycle() { # N: kill east, wait for the failover, bring east back
	pp_kill "$IT_DIR" east KILL
	wait_exit east 10 || fail "east still runs"
	wait_until 30 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
	assert_eq 201 "$(http -XPOST "$W/v1/users" -d "{\"sip\":\"sip:west$1@example.com\",\"pool\":\"pool-east\"}")" "west writes pool-east after failover $1"
	start east
	wait_until 30 "[ \"\$(sfield west '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
}
failback() { # EPOCH
	local L
	L=$(leader_url)
	wait_until 30 "curl -s -XPOST '$L/v1/pools/pool-east/failback?what_if=true' | jq -e .allowed >/dev/null"
	out=$(curl -s --max-time 60 -XPOST "$L/v1/pools/pool-east/failback")
	assert_json "$out" ".state == \"normal\" and .owner == \"pool-east\" and .epoch == $1" "failback to epoch $1"
	wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"
}

# ---- first cycle --------------------------------------------------------------
write_users "$E" a 40 acked
wait_until 20 "synced acked"
cycle 1
failback 3
log "first cycle done; east writes and ships more"

# ---- east writes and ships more: the next takeover is at a higher position ----
write_users "$E" b 60 acked
wait_until 20 "synced acked"
assert_eq 0 "$(curl -s "$E/v1/divergence?limit=10000" | jq '.divergence | length')" "archive before the second cycle"

# ---- east leads Raft at the second kill (its restart then replays the most) ----
# the policy is manual while the leadership moves: a restarted pool agent
# must not be failed over for the second or so it is down
curl -s -XPUT "$(url witness)/v1/policy" -L -d '{"failover":"manual"}' >/dev/null
for _ in $(seq 10); do
	L=$(agree_leader "${ALL[@]}") || { sleep 0.5; continue; }
	[ "$L" == east ] && break
	pp_kill "$IT_DIR" "$L" TERM
	wait_exit "$L" 15 || fail "$L still runs after SIGTERM"
	start "$L"
	wait_leader 30 "${ALL[@]}"
	wait_until 20 "agree_digest ${ALL[*]}"
done
assert_eq east "$(agree_leader "${ALL[@]}")" "leader before the second kill"
curl -s -XPUT "$(url witness)/v1/policy" -L -d '{"failover":"auto","max_lag_on_failover_ms":5000,"cooldown_ms":1000}' >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"

# ---- second cycle: east replays through the first failover's state -------------
# east's refusals while it catches up are recorded: it may refuse, never accept
# from a stale view (the write below is only sent after west took over)
cycle 2
for _ in $(seq 20); do
	c=$(http --max-time 2 -XPOST "$E/v1/users" -d '{"sip":"sip:stale@example.com","pool":"pool-east"}' || true)
	[ "$c" == 201 ] && fail "east accepted a write while pool-east is owned by west"
	sleep 0.1
done
arch=$(curl -s "$E/v1/divergence?limit=10000")
wrong=0
while read -r sip; do
	if jq -e --arg k "$sip" '[.divergence[] | select(.key == $k)] | length > 0' <<<"$arch" >/dev/null; then
		wrong=$((wrong + 1))
		log "archived as never shipped although west has it: $sip"
	fi
done <"$IT_DIR/acked"
assert_eq 0 "$wrong" "shipped writes archived by east"
synced acked || fail "an acknowledged write is missing at west"

# ---- and back, both copies equal ---------------------------------------------------
failback 5
assert_eq 200 "$(http "$E/v1/users/sip:west2@example.com/location")" "west's write of the second failover at east"
ctl east backup sync pool-east >/dev/null || fail "backup sync"
out=$(curl -s -XPOST "$E/v1/backup/pool-east/verify")
assert_json "$out" '.differences_total == 0 and .equal_after == true and .complete == true' "backup verify of pool-east"
log "ok"
