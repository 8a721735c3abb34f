#!/usr/bin/env bash
# A move of the CMS alone (poolpairctl cms failover) has the semantics of a
# pool's failover: planned while the pool hosting the active CMS is alive
# (its CMS writes stop, drain to the pair, then the CMS moves: every
# acknowledged document is at the new active side, the old side refuses
# writes with 421 naming it), disaster when that pool is gone (once its
# lease ran out, recorded forced with the data at risk of the CMS
# documents). The what-if is refused exactly when the call is.
source "$(dirname "$0")/lib.sh"

# The witness leads throughout (it times out first and is never stopped),
# so that the pool agents can be stopped and killed without an election
# and the leader keeps the last report of a killed pool agent.
boot=$(it_boot_list 1 2 3)
PP_ELECTION=3000ms agent east 1 east pool-east "$boot" ""
PP_ELECTION=3000ms agent west 2 west pool-west "$boot" ""
PP_ELECTION=300ms agent witness 3 witness "" "$boot" ""
start east west witness
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
assert_eq witness "$LEADER" "the leader"
ctl witness pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
expect_exit 1 ctl witness cms failover --what-if
assert_contains "$OUT" "cms failover: not allowed (not_paired)"
ctl witness pair pool-east pool-west >/dev/null
# the pool agents are stopped and killed to move the CMS alone, not to
# fail their pools over: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url witness)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
wait_writable 20 east pool-east west pool-west
assert_json "$(curl -s "$W/v1/cms")" '.active == "pool-east" and .standby == "pool-west" and .state == "normal"' "the CMS at start"
# a body that is not the move's flags is refused and moves nothing
out=$(curl -s -L -XPOST "$W/v1/cms/failover" -d '{"disaster":"yes"}')
assert_json "$out" '.error == "bad_json"' "a bad body of cms failover"
assert_json "$(curl -s -L -XPOST "$W/v1/cms/failover" -d '{"what_if":true,"at":1}')" '.error == "bad_json"' "an unknown key in the body of cms failover"
assert_json "$(curl -s "$W/v1/cms")" '.active == "pool-east" and .state == "normal"' "the CMS after the refused moves"

# ---- planned: the pool hosting the CMS is alive ---------------------------
expect_exit 0 ctl witness cms failover --what-if
assert_contains "$OUT" "cms failover: allowed"
assert_contains "$OUT" "moves from pool-east to pool-west"
assert_contains "$OUT" "mode: planned"
assert_contains "$OUT" "data at risk: 0 records, 0 B, 0.0 s"
# a disaster move of a live CMS is refused, by the what-if as by the call
before=$(decisions witness)
expect_exit 1 ctl witness cms failover --disaster --what-if
assert_contains "$OUT" "cms failover: not allowed (cms_alive)"
expect_exit 1 ctl witness cms failover --disaster
assert_contains "$OUT" "cms_alive: pool-east, which hosts the active CMS, is alive"
assert_eq "$before" "$(decisions witness)" "refusals decided nothing"

# CMS documents written continuously at east, across the move
: >"$IT_DIR/writes"
writer() {
	local i=0 code
	while [ ! -e "$IT_DIR/stop" ]; do
		i=$((i + 1))
		code=$(curl -s -o "$IT_DIR/w.body" -w '%{http_code}' --max-time 5 \
			-XPUT "$E/v1/cms/documents/doc-$i" -d "{\"i\":$i}") || code=000
		echo "$i $code" >>"$IT_DIR/writes"
		if [ "$code" == 421 ]; then cp "$IT_DIR/w.body" "$IT_DIR/w.421"; fi
	done
}
writer &
WPID=$!
wait_until 20 "[ \$(grep -c ' 200\$' $IT_DIR/writes) -ge 30 ]"
expect_exit 0 ctl witness cms failover
assert_contains "$OUT" "the CMS moved from pool-east to pool-west (planned, cms epoch 2)"
# the old side refuses now: the writer sees it, then stops
wait_until 20 "grep -q ' 421\$' $IT_DIR/writes"
touch "$IT_DIR/stop"
wait "$WPID"
acked=$(awk '$2 == 200 { print $1 }' "$IT_DIR/writes")
n_acked=$(wc -w <<<"$acked")
log "$n_acked documents acknowledged at east, codes: $(awk '{ print $2 }' "$IT_DIR/writes" | sort | uniq -c | tr '\n' ' ')"
[ "$n_acked" -ge 30 ] || fail "only $n_acked documents acknowledged"
# nothing but accepted, stopped for the drain, or refused as not the owner
bad=$(awk '$2 != 200 && $2 != 503 && $2 != 421' "$IT_DIR/writes")
[ -z "$bad" ] || fail "unexpected answers: $bad"
# once refused as not the owner, never accepted again at east
first421=$(awk '$2 == 421 { print $1; exit }' "$IT_DIR/writes")
late=$(awk -v f="$first421" '$1 > f && $2 == 200' "$IT_DIR/writes")
[ -z "$late" ] || fail "east accepted after it refused as not the owner: $late"
assert_json "$(cat "$IT_DIR/w.421")" ".error == \"not_owner\" and .owner == \"pool-west\" and .owner_api == \"$(api west)\"" "421 names the active side"
# every acknowledged document is at the new active side
for i in $acked; do
	got=$(curl -s "$W/v1/cms/documents/doc-$i")
	jq -e ".value.i == $i and .copy == \"active\"" >/dev/null <<<"$got" ||
		fail "document doc-$i acknowledged at east is not at west: $got"
done
# the new active side takes writes, the standby gets them
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -XPUT "$W/v1/cms/documents/after" -d '{"at":"west"}')" "write at the new active side"
wait_until 20 "curl -s $E/v1/cms/documents/after | jq -e '.value.at == \"west\" and .copy == \"standby\"' >/dev/null"
h=$(curl -s "$(url witness)/v1/history?limit=20")
assert_json "$h" '[.history[] | select(.what == "begin planned cms failover pool-east to pool-west" and .forced == false)] | length == 1' "history: the begin"
assert_json "$h" '[.history[] | select(.what == "cms failover pool-east to pool-west (planned, drained: nothing at risk)" and .forced == false and .who == "leader:drained")] | length == 1' "history: the move"
assert_json "$(curl -s "$E/v1/cms")" '.active == "pool-west" and .epoch == 2 and .state == "normal"' "the CMS after the planned move"

# ---- disaster: the pool hosting the CMS is killed --------------------------
# east, the standby, is stopped: west's CMS writes are acknowledged by
# nothing but west, and west reports them to the leader as its lag
wait_until 20 "curl -s $W/v1/backup | jq -e '[.backup[] | select(.category == \"cms\")] | all(.lag_records == 0)' >/dev/null"
pp_kill "$IT_DIR" east STOP
for i in 1 2 3 4 5; do
	assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -XPUT "$W/v1/cms/documents/risk-$i" -d "{\"i\":$i}")" "write risk-$i at west"
done
# (refused as alive: the what-if answers, exit 1, with the figures)
risk() { { ctl witness --json cms failover --disaster --what-if 2>/dev/null || true; } | jq -r '.data_at_risk.records // 0'; }
wait_until 20 "[ \"\$(risk)\" -ge 5 ]"
pp_kill "$IT_DIR" west KILL
wait_exit west 10 || fail "west still runs"
pp_kill "$IT_DIR" east CONT
# not reachable: a planned move is refused, by the what-if as by the call
wait_until 20 "{ ctl witness --json cms failover --what-if 2>/dev/null || true; } | jq -e '.code == \"not_reachable\"' >/dev/null"
before=$(decisions witness)
expect_exit 1 ctl witness cms failover --what-if
assert_contains "$OUT" "cms failover: not allowed (not_reachable)"
assert_contains "$OUT" "a move now is a disaster move (--disaster)"
expect_exit 1 ctl witness cms failover
assert_contains "$OUT" "not_reachable: pool-west, which hosts the active CMS, is not reachable"
assert_eq "$before" "$(decisions witness)" "refusals decided nothing"
expect_exit 0 ctl witness cms failover --disaster --what-if
assert_contains "$OUT" "cms failover: allowed"
assert_contains "$OUT" "mode: disaster"
expect_exit 0 ctl witness cms failover --disaster
assert_contains "$OUT" "the CMS moved from pool-west to pool-east (disaster, cms epoch 3)"
assert_contains "$OUT" "data at risk: "
h=$(curl -s "$(url witness)/v1/history?limit=20")
d=$(jq -c '[.history[] | select(.what | test("^cms failover pool-west to pool-east \\(disaster, "))][0]' <<<"$h")
assert_json "$d" '.forced == true and .kept == true and .data_at_risk.records >= 5 and (.reason | test("^disaster: pool-west silent for [0-9]+ ms$"))' "history: the disaster move with its data at risk"
assert_json "$(curl -s "$E/v1/cms")" '.active == "pool-east" and .epoch == 3' "the CMS after the disaster move"
# east writes the CMS again once it holds a lease
wait_until 20 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -XPUT $E/v1/cms/documents/back -d '{\"at\":\"east\"}')\" == 200 ]"
# ... and what it had taken from west before the move is there
assert_json "$(curl -s "$E/v1/cms/documents/after")" '.value.at == "west" and .copy == "active"' "a document west wrote and shipped"
log "ok"
