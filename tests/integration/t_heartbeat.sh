#!/usr/bin/env bash
# The heartbeat between agents, as the wire carries it (docs/api.md,
# "Between agents"): the leader's answer carries its clock (clock_ms) with
# its term; the echo of that clock in the next heartbeat is optional, so a
# heartbeat of an earlier version (without it) is still answered, and a
# report to a follower never needs it. A malformed echo, or any key the
# heartbeat does not know, is refused 400. With the agents' own heartbeats
# the leader's lease is proved (status self.lease.source: its barriers or
# the echoes), the followers hold leases it granted, and every member is
# reachable.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
L=$(url "$LEADER")
F=$(others "$LEADER" | sed -n 1p)
term=$(sfield "$LEADER" .cluster.term)
lid=$(leader_id "$LEADER")
code() { curl -s -o "$IT_DIR/body" -w '%{http_code}' --max-time 5 "$@"; }
body() { cat "$IT_DIR/body"; }
hb() { code -XPOST "$L/v1/internal/heartbeat" -d "$1"; }

# a heartbeat of an earlier version: no echo; the answer has the clock
assert_eq 200 "$(hb '{"id":77,"applied":0}')" "heartbeat without an echo"
assert_json "$(body)" ".term == $term and .leader == $lid and (.clock_ms | type) == \"number\" and .clock_ms > 0 and (.lease_ms | type) == \"number\" and (.commit_index | type) == \"number\"" "answer"
clock=$(body | jq .clock_ms)
# the echo of that clock
assert_eq 200 "$(hb "{\"id\":77,\"applied\":0,\"echo\":{\"clock_ms\":$clock,\"term\":$term,\"leader\":$lid}}")" "heartbeat with an echo"
assert_json "$(body)" ".clock_ms >= $clock" "the clock goes on"
# echoes of another term, another leader or a time not reached yet are
# answered (they prove nothing, they are no error)
assert_eq 200 "$(hb "{\"id\":77,\"applied\":0,\"echo\":{\"clock_ms\":$clock,\"term\":$((term + 5)),\"leader\":$lid}}")" "echo of another term"
assert_eq 200 "$(hb "{\"id\":77,\"applied\":0,\"echo\":{\"clock_ms\":$((clock * 2)),\"term\":$term,\"leader\":99}}")" "echo of another leader"
# malformed: refused
for bad in '"echo":1' '"echo":{}' "\"echo\":{\"clock_ms\":$clock,\"term\":$term}" \
	"\"echo\":{\"clock_ms\":-1,\"term\":$term,\"leader\":$lid}" \
	"\"echo\":{\"clock_ms\":0,\"term\":$term,\"leader\":$lid}" \
	"\"echo\":{\"clock_ms\":$clock,\"term\":$term,\"leader\":$lid,\"x\":1}" \
	"\"echo\":{\"clock_ms\":\"$clock\",\"term\":$term,\"leader\":$lid}" \
	'"echoes":{}'; do
	assert_eq 400 "$(hb "{\"id\":78,\"applied\":0,$bad}")" "heartbeat with $bad"
	assert_json "$(body)" '.error == "bad_json"' "answer to $bad"
done
[ "$(curl -s --max-time 5 "$L/v1/internal/heartbeat" -XPOST -d '{"id":77,"applied":0}' | jq .leader)" == "$lid" ] ||
	fail "the leader stopped answering heartbeats"
# a report to a follower, with or without an echo
assert_eq 204 "$(code -XPOST "$(url "$F")/v1/internal/report" -d '{"id":77,"applied":0}')" "report without an echo"
assert_eq 204 "$(code -XPOST "$(url "$F")/v1/internal/report" -d "{\"id\":77,\"applied\":0,\"echo\":{\"clock_ms\":$clock,\"term\":$term,\"leader\":$lid}}")" "report with an echo"
assert_eq 400 "$(code -XPOST "$(url "$F")/v1/internal/report" -d '{"id":78,"applied":0,"echo":{}}')" "report with a malformed echo"
# and a heartbeat to a follower goes to the leader
assert_eq 307 "$(code -XPOST "$(url "$F")/v1/internal/heartbeat" -d '{"id":77,"applied":0}')" "heartbeat to a follower"

# the agents' own heartbeats: the leader's lease is proved, the others
# hold its grants, each member is reachable
wait_until 10 "[ \"\$(sfield $LEADER .self.lease.valid)\" == true ]"
assert_json "$(status "$LEADER")" '.self.lease.source == "barrier" or .self.lease.source == "echoes"' "leader's lease source"
for n in $(others "$LEADER"); do
	assert_json "$(status "$n")" ".self.lease.source == \"grant\" and .self.lease.granted_by == $lid" "$n's lease"
done
assert_json "$(status "$LEADER")" '[.cluster.members[] | select(.reachable == false)] | length == 0' "every member reachable"
log "ok"
