#!/usr/bin/env bash
# GET /v1/status and `poolpairctl status` carry the backup figures per
# direction and category, and what SBAs face: after writes both ways, every
# agent (the pool agents live for their own streams, the others from the
# reports they get) shows east -> west and west -> east with their numbers;
# with west's agent killed (policy manual: no failover) east's direction
# has a backlog that east and the witness show, west's direction is
# "unknown" and stale, the SBA whose backup pool is pool-west shows
# backup_pool_down and resiliency_mode, and (west led) the next leader
# says it never heard west; all clear once west is back.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
ctl east sba add sba-1 --site east --backup-pool pool-west >/dev/null
curl -s -L -XPUT "$(url witness)/v1/policy" -d '{"failover":"manual"}' >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
assert_eq manual "$(sfield east '.policy.failover')" "policy"
# west leads, so that its death below costs the leadership too (the next
# leader never heard it): a leader stopped with SIGTERM hands over first
for _ in $(seq 12); do
	wait_leader 20 "${ALL[@]}"
	[ "$LEADER" == west ] && break
	pp_kill "$IT_DIR" "$LEADER" TERM
	wait_exit "$LEADER" 15 || fail "$LEADER still runs after SIGTERM"
	start "$LEADER"
done
[ "$LEADER" == west ] || fail "west never led"
wait_until 20 "agree_digest ${ALL[*]}"
wait_writable 20 east pool-east west pool-west
E=$(url east)
W=$(url west)

http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
put_users() { # URL POOL PREFIX FROM TO
	local i
	for ((i = $4; i <= $5; i++)); do
		assert_eq 201 "$(http -XPOST "$1/v1/users" -d "{\"sip\":\"sip:$3$i@example.com\",\"pool\":\"$2\"}")" "enable $3$i"
		assert_eq 200 "$(http -XPUT "$1/v1/users/sip:$3$i@example.com/contacts" -d "[{\"n\":$i}]")" "contacts of $3$i"
	done
}
put_users "$E" pool-east e 1 5
put_users "$W" pool-west w 1 3
head -c 100000 /dev/urandom >"$IT_DIR/deck.bin"
assert_eq 201 "$(http -XPUT "$E/v1/users/sip:e1@example.com/conferences/c1/content/deck.bin" --data-binary @"$IT_DIR/deck.bin")" "content"
lag() { curl -s "$1/v1/backup" | jq '[.backup[] | .lag_records] | add // 0'; }
wait_until 30 "[ \"\$(lag $E)\" == 0 ] && [ \"\$(lag $W)\" == 0 ]"

# row FROM CATEGORY: that row of an agent's status backup
row() { jq -c "[.backup[] | select(.from == \"$1\" and .category == \"$2\")] | first"; }
steady() { # AGENT: both directions caught up as that agent sees them
	local st
	st=$(status "$1") || return 1
	jq -e '[.backup[] | select(.from == "pool-east" and .to == "pool-west" and .category == "user_data" and .head_seq == 10 and .acked_seq == 10 and .lag_records == 0 and .state == "steady")] | length == 1' <<<"$st" &&
		jq -e '[.backup[] | select(.from == "pool-west" and .to == "pool-east" and .category == "user_data" and .head_seq == 6 and .acked_seq == 6 and .lag_records == 0 and .state == "steady")] | length == 1' <<<"$st" &&
		jq -e '[.backup[] | select(.from == "pool-east" and .category == "content" and .head_seq > 0 and .acked_seq == .head_seq)] | length == 1' <<<"$st"
}
for n in "${ALL[@]}"; do
	wait_until 10 "steady $n"
	wait_until 10 "status $n | jq -e '(.backup | length) as \$n | [.backup[] | select(.stale == false and (.lag_seconds | type) == \"number\" and (.lag_bytes | type) == \"number\" and (.age_seconds | type) == \"number\")] | length == \$n'"
	assert_json "$(status "$n")" '[.backup[] | select(.category == "cms" or (.user_set == "cms" and .category == "content"))] | length <= 1' "the CMS has no content row at $n"
	# on loopback, without [listen] insecure: nothing to say
	assert_json "$(status "$n")" 'has("insecure") | not' "no insecure field at $n"
done
assert_json "$(status east | row pool-east user_data)" '.source == "east" and .age_seconds == 0' "east's own direction, live"
wait_until 10 "status witness | row pool-east user_data | jq -e '.source == \"east\" and .stale == false and .age_seconds >= 0'"
out=$(ctl witness status)
assert_contains "$out" "backup:" "status section"
assert_contains "$out" "REPORTED_BY" "status backup header"
grep -Eq '^pool-east +pool-west +pool-east +user_data +steady +10 +10 +0 ' <<<"$out" || fail "east -> west row in: $out"
grep -Eq '^pool-west +pool-east +pool-west +user_data +steady +6 +6 +0 ' <<<"$out" || fail "west -> east row in: $out"
wait_until 10 "[ \"\$(sfield witness '.sbas[0].backup_pool_down')\" == false ]"
assert_json "$(status witness)" '.sbas[0] | .backup_pool == "pool-west" and .backup_pool_down == false and .resiliency_mode == false and .backup_pool_down_reason == ""' "sba with its backup pool up"
out=$(ctl witness status)
grep -Eq '^sba-1 +east +pool-west +no +normal$' <<<"$out" || fail "sba row in: $out"

# west's agent dies; policy manual, nothing fails over
pp_kill "$IT_DIR" west KILL
wait_exit west 10 || fail "west still runs after SIGKILL"
wait_new_leader 20 west east witness
L=${IT_ID[$LEADER]}
wait_until 20 "[ \"\$(sfield east '.self.lease.granted_by')\" == $L ] && [ \"\$(sfield east '.self.lease.valid')\" == true ]"
wait_writable 20 east pool-east
put_users "$E" pool-east late 1 4
for n in east witness; do
	wait_until 10 "status $n | row pool-east user_data | jq -e '.lag_records == 8 and .head_seq == 18 and .acked_seq == 10 and .state == \"error\" and .lag_seconds >= 0 and .lag_bytes > 0'"
	wait_until 10 "status $n | row pool-west user_data | jq -e '.state == \"unknown\" and .stale == true and .age_seconds > 1'"
	wait_until 10 "status $n | jq -e '.sbas[0] | .backup_pool_down == true and .resiliency_mode == true'"
	assert_json "$(status "$n")" '.sbas[0].backup_pool_down_reason | test("no agent of pool-west")' "reason at $n"
	assert_json "$(status "$n")" '.pools[] | select(.name == "pool-west") | .state == "normal" and .owner == "pool-west"' "no failover at $n"
done
# the new leader never heard west: it says so, not a silence of 2^64 ms
expect_exit 1 ctl witness failover pool-west --what-if
assert_contains "$OUT" "pool-west is not reachable (not heard since this leader was elected)" "what-if of the dead leader's pool"
assert_contains "$OUT" "pool-west: never heard" "what-if of the dead leader's pool"
assert_not_contains "$OUT" "18446744073709551615" "what-if of the dead leader's pool"
out=$(ctl witness status)
grep -Eq '^pool-east +pool-west +pool-east +user_data +error +18 +10 +8 ' <<<"$out" || fail "backlog row in: $out"
grep -Eq '^pool-west +pool-east +pool-west +user_data +unknown .*\(stale\)$' <<<"$out" || fail "stale row in: $out"
grep -Eq '^sba-1 +east +pool-west +yes \(no agent of pool-west .*\) +resiliency mode$' <<<"$out" || fail "sba row in: $out"

# west returns: the backlog drains and the SBA is back to normal
start west
wait_until 30 "status witness | jq -e '.sbas[0] | .backup_pool_down == false and .resiliency_mode == false'"
for n in "${ALL[@]}"; do
	wait_until 30 "status $n | row pool-east user_data | jq -e '.lag_records == 0 and .acked_seq == 18 and .state == \"steady\"'"
	wait_until 30 "status $n | row pool-west user_data | jq -e '.state == \"steady\" and .stale == false'"
	wait_until 10 "status $n | jq -e '.sbas[0] | .backup_pool_down == false and .resiliency_mode == false'"
done
out=$(ctl witness status)
grep -Eq '^sba-1 +east +pool-west +no +normal$' <<<"$out" || fail "sba row after the return in: $out"
log "ok"
