#!/usr/bin/env bash
# The failover policy: the cluster's, committed; the config file's
# [failover] policy keys are proposed when a cluster starts whose policy was
# never set, and a file that disagrees with the committed policy is warned
# about, naming the key, the file's value and the committed one. Without
# keys the policy is the default: auto where a witness is registered.
# Two clusters: A (agents 1-3, whose files set policy = manual and
# cooldown = 30s) and B (agents 4-6, whose files set no policy key).
source "$(dirname "$0")/lib.sh"

FAILOVER="[failover]\nheartbeat = 100ms\nlease = 1000ms\ngrace = 500ms"
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
policy() { curl -s -L --max-time 5 "$(url "$1")/v1/policy"; }

IT_EXTRA="$FAILOVER\npolicy = manual\ncooldown = 30s"
boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
IT_EXTRA=$FAILOVER
boot=$(it_boot_list 4 5 6)
agent b-east 4 east pool-east "$boot" ""
agent b-west 5 west pool-west "$boot" ""
agent b-witness 6 witness "" "$boot" ""
A=(east west witness)
B=(b-east b-west b-witness)
start "${A[@]}" "${B[@]}"
wait_leader 30 "${A[@]}"
LA=$LEADER
wait_leader 30 "${B[@]}"

# ---- A: the files' keys become the cluster's policy, once -----------------
wait_until 20 "policy east | jq -e '.policy.failover == \"manual\" and .policy.failover_default == false and .policy.cooldown_ms == 30000'"
out=$(policy west)
assert_json "$out" '.policy.max_lag_on_failover_ms == 1000' "A: max lag stays the default (no such key in the files)"
wait_until 20 "agree_digest ${A[*]}"
h=$(curl -s "$(url east)/v1/history?limit=256")
assert_json "$h" '[.history[] | select(.what | startswith("set policy")) | select(.result == "ok")] | length == 1' "A: one policy decision"
assert_json "$h" '[.history[] | select(.what == "set policy failover manual, max lag 1000 ms, cooldown 30000 ms") | select(.who | test("^agent:.* \\(config\\)$"))] | length == 1' "A: the policy decision, from a config file"
log "A: policy from the files of the agents, decided by $(jq -r '[.history[] | select(.what | startswith("set policy"))][0].who' <<<"$h")"
for n in "${A[@]}"; do
	assert_not_contains "$(cat "$IT_DIR/$n/log")" "disagrees" "log of $n (its file agrees)"
done

# a file that disagrees: warned about at start, not proposed again
sed -i 's/^policy = manual$/policy = auto/; s/^cooldown = 30s$/cooldown = 5s/' "$IT_DIR/west/poolpaird.conf"
pp_kill "$IT_DIR" west TERM
wait_exit west 20 || fail "west did not stop"
start west
wait_until 30 "grep -q 'policy = auto disagrees with the cluster.s committed policy: failover manual is in effect' $IT_DIR/west/log"
wait_until 10 "grep -q 'cooldown = 5000ms disagrees with the cluster.s committed policy: 30000ms is in effect' $IT_DIR/west/log"
grep 'policy: ' "$IT_DIR/west/log" | sed 's/^/    /' >&2
assert_json "$(policy west)" '.policy.failover == "manual" and .policy.cooldown_ms == 30000' "A: the committed policy stays"
# a leadership change does not propose the files' keys again either
pp_kill "$IT_DIR" "$LA" TERM
wait_exit "$LA" 20 || fail "$LA did not stop"
start "$LA"
wait_leader 30 "${A[@]}"
wait_until 20 "agree_digest ${A[*]}"
assert_json "$(curl -s "$(url east)/v1/history?limit=256")" \
	'[.history[] | select(.what | startswith("set policy")) | select(.result == "ok")] | length == 1' "A: still one policy decision"

# the operator changes it: the files that now disagree are warned about
out=$(curl -s -L -XPUT "$(url witness)/v1/policy" -d '{"failover":"auto"}')
assert_json "$out" '.policy.failover == "auto" and .policy.failover_default == false' "A: PUT /v1/policy"
wait_until 20 "grep -q 'policy = manual disagrees with the cluster.s committed policy: failover auto is in effect' $IT_DIR/east/log"
wait_until 20 "grep -q 'policy = manual disagrees with the cluster.s committed policy: failover auto is in effect' $IT_DIR/witness/log"

# ---- B: no keys, the default: auto with a witness -------------------------
wait_until 20 "policy b-east | jq -e '.policy.failover == \"auto\" and .policy.failover_default == true and .policy.cooldown_ms == 60000 and .policy.max_lag_on_failover_ms == 1000'"
expect_exit 0 ctl b-east status
assert_contains "$OUT" "policy: failover auto (default), max lag on failover 1000 ms, cooldown 60000 ms" "B: status"
assert_json "$(status b-west)" '.policy.failover == "auto" and .policy.failover_default == true' "B: status json"
out=$(curl -s -L -XPUT "$(url b-west)/v1/policy" -d '{"failover":"manual"}')
assert_json "$out" '.policy.failover == "manual" and .policy.failover_default == false' "B: manual chosen"
out=$(curl -s -L -XPUT "$(url b-west)/v1/policy" -d '{"failover":"default"}')
assert_json "$out" '.policy.failover == "auto" and .policy.failover_default == true' "B: back to the default"
assert_eq 400 "$(http -L -XPUT "$(url b-west)/v1/policy" -d '{"failover":"sometimes"}')" "B: a bad failover policy"
h=$(curl -s "$(url b-east)/v1/history?limit=256")
assert_json "$h" '[.history[] | select(.who | test("\\(config\\)"))] | length == 0' "B: nothing proposed from the files"
for n in "${B[@]}"; do
	assert_not_contains "$(cat "$IT_DIR/$n/log")" "policy: " "log of $n (no policy keys)"
done
log "ok"
