#!/usr/bin/env bash
# SIGTERM: the leader hands leadership over and exits 0, another agent
# leads; a follower exits 0 too; the survivors keep deciding.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
OLD=$LEADER
term=$(sfield "$OLD" .cluster.term)
mapfile -t SURV < <(others "$OLD")
log "SIGTERM to leader $OLD (term $term)"
pp_kill "$IT_DIR" "$OLD" TERM
wait_exit "$OLD" 20 || fail "leader $OLD did not exit after SIGTERM"
assert_eq 0 "$IT_STATUS" "exit status of the leader after SIGTERM"
lg=$(cat "$IT_DIR/$OLD/log")
assert_contains "$lg" "received SIGTERM" "log of $OLD"
assert_contains "$lg" "transferring leadership" "log of $OLD"
assert_contains "$lg" "leadership transfer done" "log of $OLD"
assert_not_contains "$lg" "did not finish" "log of $OLD (the other two were up)"
assert_contains "$lg" "stopped" "log of $OLD"
wait_leader 30 "${SURV[@]}"
NEW=$LEADER
log "new leader $NEW"
assert_ne "$OLD" "$NEW" "leader after SIGTERM"
[ "$(sfield "$NEW" .cluster.term)" -gt "$term" ] || fail "term did not advance"
expect_exit 0 ctl "${SURV[0]}" pool add pool-west --site west --edition enterprise --kind physical --os w19
wait_until 20 "agree_digest ${SURV[*]}"

# SIGTERM to a follower
F=$(others "$OLD" "$NEW")
log "SIGTERM to follower $F"
pp_kill "$IT_DIR" "$F" TERM
wait_exit "$F" 20 || fail "follower $F did not exit after SIGTERM"
assert_eq 0 "$IT_STATUS" "exit status of the follower after SIGTERM"
lf=$(cat "$IT_DIR/$F/log")
assert_contains "$lf" "received SIGTERM" "log of $F"
assert_not_contains "$lf" "transferring leadership" "log of follower $F"
assert_contains "$lf" "stopped" "log of $F"
# one agent alone has no quorum, but it still answers reads
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$(url "$NEW")/healthz")" "/healthz of the last agent"
# alone, it steps down; a write is then answered 503 (unavailable while it
# loses the leadership, no_leader once it knows none), never hung
no_leader() {
	[ "$(curl -s --max-time 5 -o "$IT_DIR/nl" -w '%{http_code}' -X POST -d '{"name":"s-alone"}' "$(url "$NEW")/v1/sites")" == 503 ] &&
		jq -e '.error == "no_leader"' "$IT_DIR/nl"
}
wait_until 30 no_leader
assert_json "$(cat "$IT_DIR/nl")" '.error == "no_leader" and (.message | length > 0)' "write without a leader"
assert_json "$(status "$NEW")" '.cluster.leader == null and .self.state != "leader"' "status of the lone agent"
# both come back from their data_dir and the three agree again
start "$OLD" "$F"
wait_leader 30 "${ALL[@]}"
wait_until 30 "agree_digest ${ALL[*]}"
assert_json "$(status "$OLD")" '[.pools[].name] | sort == ["pool-east","pool-west"]' "pools after the restarts"
# SIGINT stops an agent the same way
pp_kill "$IT_DIR" "$F" INT
wait_exit "$F" 20 || fail "$F did not exit after SIGINT"
assert_eq 0 "$IT_STATUS" "exit status after SIGINT"
log "ok"
