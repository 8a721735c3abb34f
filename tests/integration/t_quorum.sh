#!/usr/bin/env bash
# Lost majority without a witness: site east holds two of three voters and
# is lost for good. West alone cannot decide anything until an operator
# runs recover --force-quorum there; then west leads alone, the history
# records the forced recovery, and a disaster failover of pool-east
# completes.
source "$(dirname "$0")/lib.sh"

boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent east2 2 east "" "$boot" ""
agent west 3 west pool-west "$boot" ""
start east east2 west
ALL=(east east2 west)
wait_leader 30 "${ALL[@]}"
ctl west pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl west pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl west pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ] && [ \"\$(http $W/readyz?pool=pool-west)\" == 200 ]"
assert_eq 201 "$(http -XPOST "$E/v1/users" -d '{"sip":"sip:alice@example.com","pool":"pool-east"}')" "a user of east"
assert_eq 201 "$(http -XPOST "$W/v1/users" -d '{"sip":"sip:bob@example.com","pool":"pool-west"}')" "a user of west"
wait_until 20 "[ \"\$(http $W/v1/users/sip:alice@example.com/location)\" == 200 ]"
# while the quorum holds, a forced recovery is refused
assert_eq 409 "$(http -XPOST "$W/v1/recover" -d '{"force_quorum":true}')" "recovery with the quorum intact"
assert_eq 400 "$(http -XPOST "$W/v1/recover" -d '{}')" "recovery without force_quorum"

# site east is lost
pp_kill "$IT_DIR" east KILL
pp_kill "$IT_DIR" east2 KILL
wait_exit east 10 || fail "east still runs"
wait_exit east2 10 || fail "east2 still runs"
# west alone has no majority: no leader, no lease, no writes
wait_until 20 "[ \"\$(http $W/readyz?pool=pool-west)\" == 503 ]"
assert_eq 503 "$(http -XPUT "$W/v1/users/sip:bob@example.com/profile" -d '{}')" "no writes without a quorum"
sleep 2
out=$(curl -s -XPOST "$W/v1/recover" -d '{"force_quorum":true}')
assert_json "$out" '.voters | length == 1 and .[0].id == 3' "the new configuration is west alone"
# west restarts itself and leads
wait_until 30 "[ \"\$(leader_name west)\" == west ]"
wait_until 20 "[ \"\$(voters west)\" == 1 ]"
wait_until 20 "curl -s $W/v1/history?limit=20 | jq -e '[.history[] | select(.what | test(\"recover --force-quorum\")) | select(.forced == true)] | length == 1' >/dev/null"
[ -f "$IT_DIR/west/data/raft-recover.json" ] && fail "the recovery file was not removed after use"
grep -q "FORCED QUORUM RECOVERY" "$IT_DIR/west/log" || fail "no loud warning in the log"
# and the failover of pool-east completes
out=$(curl -s --max-time 60 -XPOST "$W/v1/pools/pool-east/failover" -d '{"disaster":true}')
assert_json "$out" '.state == "failed_over" and .owner == "pool-west"' "disaster failover after the recovery"
wait_until 20 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
assert_eq 200 "$(http -XPUT "$W/v1/users/sip:alice@example.com/profile" -d '{"n":1}')" "west serves east's users"
log "ok"
