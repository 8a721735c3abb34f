#!/usr/bin/env bash
# Synchronous replication: a write is answered only once the pair holds it;
# with the pair gone for sync_timeout the pair falls back to async, visibly
# (backup status, metrics, log), and returns to sync once caught up.
IT_EXTRA='[replication]\nmode = sync\nsync_timeout = 1s'
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ]"
mode() { curl -s "$E/v1/backup" | jq -r .mode; }
assert_eq sync "$(mode)" "mode at start"

# the receiver must be up before the first sync write can be acknowledged
wait_until 20 "[ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east
out=$(curl -s -XPOST "$E/v1/users" -d '{"sip":"sip:alice@example.com","pool":"pool-east"}')
assert_json "$out" '.replicated == true and .seq == 1' "a sync write is on both pools when answered"
out=$(curl -s -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":1}')
assert_json "$out" '.replicated == true' "second sync write"
# it is there at west, right now
assert_json "$(curl -s "$W/v1/users/sip:alice@example.com/profile")" '.value.n == 1' "value at west when the write was answered"

# the pair dies: after sync_timeout the write is answered anyway, not replicated
pp_kill "$IT_DIR" west KILL
wait_exit west 10 || fail "west still runs"
out=$(curl -s --max-time 20 -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":2}')
assert_json "$out" '.replicated == false and .seq == 3' "write while the pair is gone"
assert_eq "async (fallback)" "$(mode)" "mode after the pair was gone for sync_timeout"
assert_json "$(curl -s "$E/v1/backup")" '.sync_fallbacks == 1' "fallbacks counted"
metrics=$(curl -s "$E/metrics")
grep -q '^poolpair_replication_sync{mode="fallback"} 1$' <<<"$metrics" || fail "metrics do not show the fallback"
grep -q "sync -> async (fallback)" "$IT_DIR/east/log" || fail "the fallback is not in the log"
out=$(curl -s --max-time 5 -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":3}')
assert_json "$out" '.replicated == false' "answered at once while in fallback"

# the pair returns, catches up, and sync resumes
start west
wait_until 40 "[ \"\$(mode)\" == sync ]"
grep -q "async (fallback) -> sync" "$IT_DIR/east/log" || fail "the return to sync is not in the log"
assert_json "$(curl -s "$W/v1/users/sip:alice@example.com/profile")" '.value.n == 3' "caught up at west"
out=$(curl -s -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":4}')
assert_json "$out" '.replicated == true' "sync again"
log "ok"
