#!/usr/bin/env bash
# Hooks run by the leader around an automatic failover: a failing
# pre_failover stops the move (and says why), fence and on_owner_change run
# with the facts in POOLPAIR_* variables; every outcome is in the history.
source "$(dirname "$0")/lib.sh"

cat >"$IT_DIR/pre.sh" <<SH
#!/bin/sh
echo "pre \$POOLPAIR_POOL \$POOLPAIR_PAIR" >>"$IT_DIR/hooks.log"
[ -f "$IT_DIR/allow" ] || { echo "maintenance window closed"; exit 3; }
SH
cat >"$IT_DIR/fence.sh" <<SH
#!/bin/sh
echo "fence \$POOLPAIR_POOL owner=\$POOLPAIR_OWNER epoch=\$POOLPAIR_EPOCH" >>"$IT_DIR/hooks.log"
SH
cat >"$IT_DIR/owner.sh" <<SH
#!/bin/sh
echo "owner \$POOLPAIR_POOL owner=\$POOLPAIR_OWNER epoch=\$POOLPAIR_EPOCH state=\$POOLPAIR_STATE" >>"$IT_DIR/hooks.log"
SH
chmod +x "$IT_DIR"/*.sh
IT_EXTRA="[failover]\nheartbeat = 100ms\nlease = 1000ms\ngrace = 500ms\npre_failover = $IT_DIR/pre.sh\nfence_command = $IT_DIR/fence.sh\non_owner_change = $IT_DIR/owner.sh\nhook_timeout = 5s"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl west pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl west pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl west pair pool-east pool-west >/dev/null
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
curl -s -L -XPUT "$W/v1/policy" -d '{"failover":"auto","max_lag_on_failover_ms":5000,"cooldown_ms":1000}' >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_until 20 "[ \"\$(http $(url east)/readyz?pool=pool-east)\" == 200 ]"

pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
# the hook refuses: no move, and the leader says why
wait_until 30 "grep -q '^pre pool-east pool-west' $IT_DIR/hooks.log"
L=$(agree_leader west witness)
wait_until 20 "sfield $L '.pools[] | select(.name == \"pool-east\") | .auto_failover_refusal' | grep -q 'pre_failover hook refused: exit 3'"
sleep 2
assert_eq normal "$(sfield "$L" '.pools[] | select(.name == "pool-east") | .state')" "state while the hook refuses"
wait_until 10 "curl -s $(url "$L")/v1/history?limit=50 | jq -e '[.history[] | select(.what == \"hook pre_failover for pool-east\" and .result == \"refused\")] | length >= 1' >/dev/null"
# the hook allows it: the move happens, and fence and on_owner_change run
touch "$IT_DIR/allow"
wait_until 30 "[ \"\$(http $W/readyz?pool=pool-east)\" == 200 ]"
wait_until 20 "grep -q '^fence pool-east owner=pool-west epoch=2' $IT_DIR/hooks.log"
wait_until 20 "grep -q '^owner pool-east owner=pool-west epoch=2 state=failed_over' $IT_DIR/hooks.log"
h=$(curl -s "$(url "$L")/v1/history?limit=50")
assert_json "$h" '[.history[] | select(.what | test("^hook fence for pool-east")) | select(.result == "ok")] | length >= 1' "fence outcome in the history"
assert_json "$h" '[.history[] | select(.what | test("^hook on_owner_change for pool-east")) | select(.result == "ok")] | length >= 1' "on_owner_change outcome in the history"
assert_json "$h" '[.history[] | select(.what | test("disaster"))][0].data_at_risk != null or ([.history[] | select(.what | test("disaster"))] | length == 1)' "the disaster decision"
log "ok"
