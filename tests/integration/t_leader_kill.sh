#!/usr/bin/env bash
# kill -9 of the leader: the other two elect a new leader and take writes;
# the killed agent restarts from its data_dir and catches up.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
OLD=$LEADER
old_term=$(sfield "$OLD" .cluster.term)
mapfile -t SURV < <(others "$OLD")
log "killing leader $OLD (term $old_term); survivors ${SURV[*]}"
pp_kill "$IT_DIR" "$OLD" KILL
wait_exit "$OLD" 10 || fail "$OLD still runs after SIGKILL"

wait_until 30 "agree_leader ${SURV[*]} | grep -qvx $OLD"
NEW=$(agree_leader "${SURV[@]}")
log "new leader $NEW"
assert_ne "$OLD" "$NEW" "leader after the kill"
assert_eq leader "$(state_of "$NEW")" "state of the new leader"
[ "$(sfield "$NEW" .cluster.term)" -gt "$old_term" ] || fail "term did not advance"

# writes through a surviving follower
F=$(others "$OLD" "$NEW")
expect_exit 0 ctl "$F" pool add pool-east2 --site east --edition enterprise --kind physical --os w19
expect_exit 0 ctl "$F" pool add pool-west2 --site west --edition enterprise --kind physical --os w19
expect_exit 0 ctl "$F" pair pool-east2 pool-west2
expect_exit 0 ctl "$NEW" pair pool-east pool-west
wait_until 20 "agree_digest ${SURV[*]}"
# the leader sees the dead member as unreachable
wait_until 20 "[ \"\$(sfield $NEW '.cluster.members[] | select(.name == \"$OLD\") | .reachable')\" == false ]"

# restart the killed agent from its data_dir: it catches up
start "$OLD"
wait_until 30 "agree_digest ${ALL[*]}"
# and applies everything the leader had committed by then: a fixed target
# (the leader commits a barrier at every heartbeat tick, so the applied
# indexes of two agents, read one after the other, seldom meet once each
# read takes longer than a tick, as on a loaded machine)
target=$(sfield "$NEW" .cluster.commit_index)
wait_until 20 "[ \"\$(applied $OLD)\" -ge $target ]"
for n in "${ALL[@]}"; do
	assert_eq "pool-east2:pool-west2 pool-east:pool-west pool-west2:pool-east2 pool-west:pool-east" \
		"$(sfield "$n" '[.pools[] | "\(.name):\(.pair)"] | sort | join(" ")')" "pools seen by $n"
done
assert_eq "$(decisions "$NEW")" "$(decisions "$OLD")" "decisions of the restarted agent"
assert_eq "$NEW" "$(leader_name "$OLD")" "leader seen by the restarted agent"
wait_until 20 "[ \"\$(sfield $NEW '.cluster.members[] | select(.name == \"$OLD\") | .reachable')\" == true ]"
# and the whole cluster keeps working
expect_exit 0 ctl "$OLD" site add after-rejoin
wait_until 20 "agree_digest ${ALL[*]}"
assert_contains "$(sfield "$OLD" '.sites | join(" ")')" after-rejoin "sites"
log "ok"
