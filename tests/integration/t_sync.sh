#!/usr/bin/env bash
# Synchronous replication, a property of the pair in the replicated state:
# set at pairing or later (poolpairctl pair mode), shown in status, followed
# live by both pools' agents. A sync write is answered only once the pair
# holds it; with the pair gone for the pair's sync timeout the pool falls
# back to async, visibly (backup status, metrics, log), and returns to sync
# once caught up. The old [replication] keys of the config are refused.
source "$(dirname "$0")/lib.sh"

# the mode is no longer a key of the file: refused, pointing at the pair
for key in "mode = sync" "sync_timeout = 1s"; do
	mkdir -p "$IT_DIR/old"
	printf '[agent]\nname = old\nid = 9\nsite = east\npool = pool-east\ndata_dir = %s\n[listen]\nraft = 127.0.0.1:1\napi = 127.0.0.1:2\ndata = 127.0.0.1:3\n[cluster]\nbootstrap = 9@127.0.0.1:1\n[replication]\n%s\n' \
		"$IT_DIR/old" "$key" >"$IT_DIR/old/old.conf"
	expect_exit 1 "$BUILD/poolpaird" --check -c "$IT_DIR/old/old.conf"
	assert_contains "$OUT" "old.conf:14: [replication] ${key%% *} is no longer a key of this file"
	assert_contains "$OUT" "poolpairctl pair mode POOL sync"
done

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
expect_exit 2 ctl east pair pool-east pool-west --mode sometimes
assert_contains "$OUT" "bad mode 'sometimes' (async or sync)"
expect_exit 2 ctl east pair pool-east pool-west --mode sync --sync-timeout 1.0001s
assert_contains "$OUT" "bad --sync-timeout"
expect_exit 0 ctl east pair pool-east pool-west --mode sync --sync-timeout 1s
assert_contains "$OUT" "paired pool-east with pool-west (sync, timeout 1000 ms)"
# west is killed: the fallback to async is under test, not a failover: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url east)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ]"
mode() { curl -s "$1/v1/backup" | jq -r .mode; }
# both pools' agents take the pair's mode from the applied state
wait_until 10 "[ \"\$(mode $E)\" == sync ] && [ \"\$(mode $W)\" == sync ]"
assert_json "$(curl -s "$E/v1/backup")" '.sync_timeout_ms == 1000' "the pair's timeout at east"
# shown in status and in the pairs
st=$(status witness)
assert_json "$st" '[.pools[] | select(.replication_mode == "sync" and .sync_timeout_ms == 1000)] | length == 2' "status: both pools sync"
assert_json "$(curl -s "$W/v1/pairs")" '.pairs[0].mode == "sync" and .pairs[0].sync_timeout_ms == 1000' "GET /v1/pairs"
out=$(ctl witness status)
assert_contains "$out" "pool-east: replication sync with pool-west (sync timeout 1000 ms)" "poolpairctl status"
assert_contains "$out" "pool-west: replication sync with pool-east (sync timeout 1000 ms)" "poolpairctl status"

# the receiver must be up before the first sync write can be acknowledged
wait_until 20 "[ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east
out=$(curl -s -XPOST "$E/v1/users" -d '{"sip":"sip:alice@example.com","pool":"pool-east"}')
assert_json "$out" '.replicated == true and .seq == 1' "a sync write is on both pools when answered"
out=$(curl -s -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":1}')
assert_json "$out" '.replicated == true' "second sync write"
# it is there at west, right now
assert_json "$(curl -s "$W/v1/users/sip:alice@example.com/profile")" '.value.n == 1' "value at west when the write was answered"

# the pair's mode changes live: async, then sync again, recorded
expect_exit 0 ctl witness pair mode pool-west async
assert_contains "$OUT" "pair pool-west pool-east: replication async, sync timeout 1000 ms"
wait_until 10 "[ \"\$(mode $E)\" == async ] && [ \"\$(mode $W)\" == async ]"
grep -q "replication mode sync -> async: the pair's mode is async" "$IT_DIR/east/log" || fail "the switch is not in east's log"
out=$(curl -s -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":10}')
assert_json "$out" '.replicated == false' "an async write is answered before the pair has it"
expect_exit 2 ctl witness pair mode pool-west often
expect_exit 1 ctl witness pair mode pool-nowhere sync
assert_contains "$OUT" "not_found"
assert_eq 400 "$(http -L -XPUT "$W/v1/pairs/pool-east" -d '{"sync_timeout_ms":5}')" "PUT without a mode"
assert_eq 400 "$(http -L -XPUT "$W/v1/pairs/pool-east" -d '{"mode":"sync","sync_timeout_ms":0}')" "PUT with a zero timeout"
expect_exit 0 ctl witness pair mode pool-east sync --sync-timeout 1s
wait_until 10 "[ \"\$(mode $E)\" == sync ] && [ \"\$(mode $W)\" == sync ]"
out=$(curl -s -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":2}')
assert_json "$out" '.replicated == true' "sync again"
h=$(curl -s "$W/v1/history?limit=20")
assert_json "$h" '[.history[] | select(.what | test("^pair mode pool-west pool-east async"))] | length == 1' "history: the change to async"
assert_json "$h" '[.history[] | select(.what | test("^pair mode pool-east pool-west sync \\(sync timeout 1000 ms\\)"))] | length == 1' "history: the change to sync"

# the pair dies: after the sync timeout the write is answered anyway, not replicated
pp_kill "$IT_DIR" west KILL
wait_exit west 10 || fail "west still runs"
out=$(curl -s --max-time 20 -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":3}')
assert_json "$out" '.replicated == false and .seq == 5' "write while the pair is gone"
assert_eq "async (fallback)" "$(mode "$E")" "mode after the pair was gone for the sync timeout"
assert_json "$(curl -s "$E/v1/backup")" '.sync_fallbacks == 1' "fallbacks counted"
metrics=$(curl -s "$E/metrics")
grep -q '^poolpair_replication_sync{mode="fallback"} 1$' <<<"$metrics" || fail "metrics do not show the fallback"
grep -q "sync -> async (fallback)" "$IT_DIR/east/log" || fail "the fallback is not in the log"
out=$(curl -s --max-time 5 -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":4}')
assert_json "$out" '.replicated == false' "answered at once while in fallback"

# the pair returns, catches up, and sync resumes
start west
wait_until 40 "[ \"\$(mode $E)\" == sync ]"
grep -q "async (fallback) -> sync" "$IT_DIR/east/log" || fail "the return to sync is not in the log"
assert_json "$(curl -s "$W/v1/users/sip:alice@example.com/profile")" '.value.n == 4' "caught up at west"
out=$(curl -s -XPUT "$E/v1/users/sip:alice@example.com/profile" -d '{"n":5}')
assert_json "$out" '.replicated == true' "sync again"
# west restarted takes the mode from the replicated state, not its config
wait_until 10 "[ \"\$(mode $W)\" == sync ]"
log "ok"
