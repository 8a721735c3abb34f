#!/usr/bin/env bash
# The replication stream between paired pools, agents as separate
# processes: every write at east reaches west's backup copy (and west's at
# east, both directions at once); a killed receiver leaves a visible
# backlog that drains, exactly, when it returns.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
# west is killed: the backlog is under test, not a failover: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url east)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)

http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ] && [ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east west pool-west

N=${IT_USERS:-200}
put_users() { # URL POOL PREFIX FROM TO
	local url=$1 pool=$2 p=$3 i c body="$IT_DIR/body.$3"
	for ((i = $4; i <= $5; i++)); do
		c=$(curl -s -o "$body" -w '%{http_code}' -XPOST "$url/v1/users" -d "{\"sip\":\"sip:$p$i@example.com\",\"pool\":\"$pool\"}")
		[ "$c" == 201 ] || fail "enable sip:$p$i at $pool: $c $(cat "$body")"
		c=$(curl -s -o "$body" -w '%{http_code}' -XPUT "$url/v1/users/sip:$p$i@example.com/contacts" -d "[{\"sip\":\"sip:friend$i@example.com\",\"n\":$i}]")
		[ "$c" == 200 ] || fail "contacts of sip:$p$i: $c $(cat "$body")"
	done
}
lag() { curl -s "$1/v1/backup" | jq '[.backup[] | .lag_records] | add // 0'; }
acked() { curl -s "$1/v1/backup" | jq '[.backup[] | select(.category == "user_data") | .acked_seq] | add // 0'; }

# both directions at once
put_users "$E" pool-east e 1 "$N" &
EAST_WRITER=$!
put_users "$W" pool-west w 1 "$N"
wait "$EAST_WRITER" || fail "writes at east failed"
wait_until 30 "[ \"\$(lag $E)\" == 0 ] && [ \"\$(lag $W)\" == 0 ]"
assert_eq $((2 * N)) "$(acked "$E")" "records of pool-east acknowledged by west"
assert_eq $((2 * N)) "$(acked "$W")" "records of pool-west acknowledged by east"
for i in 1 $((N / 2)) "$N"; do
	v=$(curl -s "$W/v1/users/sip:e$i@example.com/contacts")
	assert_json "$v" ".copy == \"backup\" and .value[0].n == $i and .epoch == 1" "east's user e$i at west"
	v=$(curl -s "$E/v1/users/sip:w$i@example.com/contacts")
	assert_json "$v" ".copy == \"backup\" and .value[0].n == $i" "west's user w$i at east"
done
assert_json "$(curl -s "$E/v1/backup")" '[.backup[] | select(.category == "user_data")][0].state == "steady"' "backup state"
assert_json "$(curl -s -XPOST "$E/v1/backup/pool-east/sync")" '.lag_records == 0' "backup sync with nothing left"
assert_eq 421 "$(http -XPOST "$W/v1/backup/pool-east/sync")" "backup sync at the agent that does not own the user set"
assert_eq 404 "$(http -XPOST "$E/v1/backup/pool-nowhere/sync")" "backup sync of an unknown pool"

# the receiver dies: the backlog is visible, and drains exactly once it is back
pp_kill "$IT_DIR" west KILL
wait_exit west 10 || fail "west still runs after SIGKILL"
# West may have led Raft, and the lease it granted east runs a little
# longer than the next leader takes to be elected, but not always: east
# writes once it holds a lease from the leader that follows (a write in
# between is refused, 503, as a lease lapse must be).
wait_new_leader 20 west east witness
L=${IT_ID[$LEADER]}
wait_until 20 "[ \"\$(sfield east '.self.lease.granted_by')\" == $L ] && [ \"\$(sfield east '.self.lease.valid')\" == true ]"
wait_writable 20 east pool-east
put_users "$E" pool-east late 1 50
wait_until 10 "[ \"\$(lag $E)\" -gt 0 ]"
assert_json "$(curl -s "$E/v1/backup")" '[.backup[] | select(.category == "user_data")][0].state == "error"' "state with the pair down"
assert_eq 504 "$(http -XPOST "$E/v1/backup/pool-east/sync?timeout=1")" "backup sync while the pair is down"
start west
# backup sync waits until the pair has everything
out=$(curl -s --max-time 60 -XPOST "$E/v1/backup/pool-east/sync?timeout=50")
assert_json "$out" '.lag_records == 0' "backup sync after the pair returned"
expect_exit 0 ctl east backup sync pool-east
assert_contains "$(ctl east backup status)" "steady" "backup status table"
wait_until 40 "[ \"\$(lag $E)\" == 0 ]"
assert_eq $((2 * N + 100)) "$(acked "$E")" "records acknowledged after the restart"
v=$(curl -s "$W/v1/users/sip:late50@example.com/contacts")
assert_json "$v" '.value[0].n == 50 and .copy == "backup"' "a write made while west was down"
log "ok"
