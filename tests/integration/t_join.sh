#!/usr/bin/env bash
# A fourth agent joins a bootstrapped cluster through a follower's API (so
# the join, its registration and its heartbeats meet a 307): it becomes a
# registered standby, the three voters stay voters, its state converges.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
F=$(others "$LEADER" | sed -n 1p)
log "leader $LEADER; east2 joins through follower $F"

agent east2 4 east pool-east2 "" "$(url "$F")"
grep -q '^join = ' "$IT_DIR/east2/poolpaird.conf" || fail "no join in the config"
grep -q '^bootstrap' "$IT_DIR/east2/poolpaird.conf" && fail "bootstrap in a joining config"
start east2
ALL+=(east2)

# it is in the Raft configuration
wait_until 30 "[ -n \"\$(sfield $LEADER '.cluster.members[] | select(.id == 4) | .role')\" ]"
# it registered: name, site, pool and addresses, seen by everyone
wait_until 30 "[ \"\$(sfield $LEADER '.cluster.members[] | select(.id == 4) | .name')\" == east2 ]"
m=$(status "$LEADER" | jq -c '.cluster.members[] | select(.id == 4)')
assert_json "$m" ".site == \"east\" and .pool == \"pool-east2\" and .api == \"$(api east2)\" and .raft == \"127.0.0.1:$(raft_port 4)\" and .data == \"127.0.0.1:$(data_port 4)\"" "member 4"
# placement: 4 members over 3 sites keep 3 voters, one per site; the 4th is standby
wait_until 30 "[ \"\$(role_of $LEADER 4)\" == standby ]"
for n in "${ALL[@]}"; do
	wait_until 20 "[ \"\$(voters $n)\" == 3 ]"
	st=$(status "$n")
	assert_json "$st" '[.cluster.members[] | select(.role == "voter") | .site] | sort == ["east","west","witness"]' "voter sites seen by $n"
	assert_json "$st" '.cluster.members[] | select(.id == 4) | .role == "standby"' "role of east2 seen by $n"
done
# its state converges with the others, and it follows the leader
wait_until 30 "agree_digest ${ALL[*]}"
assert_eq "$LEADER" "$(leader_name east2)" "leader seen by east2"
assert_eq follower "$(state_of east2)" "state of east2"
assert_json "$(status east2)" '[.pools[].name] | sort == ["pool-east","pool-west"]' "pools seen by east2"
# writes after the join reach it too, also when sent through it
expect_exit 0 ctl east2 pool add pool-east2 --site east --edition enterprise --kind physical --os w19
wait_until 20 "agree_digest ${ALL[*]}"
assert_json "$(status east2)" '[.pools[].name] | index("pool-east2") != null' "pool added through east2"
# the leader hears its heartbeats
assert_json "$(status "$LEADER")" '.cluster.members[] | select(.id == 4) | .reachable == true' "east2 reachable"
log "ok"
