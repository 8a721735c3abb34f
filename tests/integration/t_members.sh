#!/usr/bin/env bash
# Membership operations, with the voter placement rules checked throughout:
# - add: two spare agents (east2, west2: no pool) join the three-agent
#   cluster; with five members over three sites the placement makes all
#   five voters, two per pool site and one at the witness, no site holding
#   a majority;
# - replace a dead one: west2 is killed -9; it keeps its seat (a dead voter
#   counts until a live member can take it); a new agent west3 joins at the
#   same site and, once west2 has been silent for the replace window, takes
#   its seat: west3 voter, west2 standby;
# - remove: the dead west2 is removed (`poolpairctl member remove`), then
#   the live voter east2; with four members the group goes back to three
#   voters, one per site; removing the leader itself is refused with a
#   reason and changes nothing.
# A sampler reads the leader's view every 200 ms for the whole test; no
# sample may show more than V + 1 voters (the placement walk promotes the
# substitute before it demotes the dead voter) or a site with a majority of
# the voters, and every stable state is checked exactly.
source "$(dirname "$0")/lib.sh"

three_agents
CORE=(east west witness)
wait_leader 30 "${CORE[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${CORE[*]}"

# voters_by_site AGENT: "east=N west=N witness=N total=N" as AGENT sees it
voters_by_site() {
	sfield "$1" '[.cluster.members[] | select(.role == "voter") | .site] as $v
		| "east=\([$v[] | select(. == "east")] | length) west=\([$v[] | select(. == "west")] | length) witness=\([$v[] | select(. == "witness")] | length) total=\($v | length)"'
}
roles() { sfield "$1" '[.cluster.members[] | "\(.id):\(.role)"] | sort | join(" ")'; }

# the sampler: one line per sample, "voters east west witness" from whoever
# is leader; stopped by the EXIT trap through its pid file
(
	while :; do
		for n in east west witness east2 west3; do
			[ -n "${IT_ID[$n]:-}" ] || continue
			s=$(curl -sf --max-time 1 "$(url "$n")/v1/status" 2>/dev/null) || continue
			[ "$(jq -r '.self.state' <<<"$s")" == leader ] || continue
			jq -r '[.cluster.members[] | select(.role == "voter") | .site] as $v
				| "\($v | length) \([$v[] | select(. == "east")] | length) \([$v[] | select(. == "west")] | length) \([$v[] | select(. == "witness")] | length)"' <<<"$s"
			break
		done
		sleep 0.2
	done
) >"$IT_DIR/samples" 2>/dev/null &
SAMPLER=$!
stop_sampler() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; }
# sampled "T E W X": wait until the sampler has recorded that leader's view
# (T voters, E at east, W at west, X at the witness) since the last call, so
# every stable state below was also seen by the sampler, however slowly it
# runs on a loaded machine (the rules are checked on what it saw)
SEEN=0
sampled() {
	wait_until 30 "tail -n +$((SEEN + 1)) \"\$IT_DIR/samples\" | grep -qx '$1'"
	SEEN=$(wc -l <"$IT_DIR/samples")
}
members_on_exit() {
	local rc=$?
	# with errexit and the ERR trap on, (exit rc) would end this handler
	# before it_cleanup stops the agents (they were left running)
	set +eE
	trap - ERR
	kill "$SAMPLER" 2>/dev/null || true
	(exit "$rc")
	it_cleanup
}
trap members_on_exit EXIT

# ---- add ----------------------------------------------------------------------
boot_join=$(url "$LEADER")
agent east2 4 east "" "" "$boot_join"
agent west2 5 west "" "" "$boot_join"
start east2
wait_until 30 "[ \"\$(role_of $LEADER 4)\" == standby ]"
start west2
log "east2 and west2 joined; waiting for five voters"
wait_until 40 "[ \"\$(voters_by_site \$(agree_leader ${CORE[*]}))\" == 'east=2 west=2 witness=1 total=5' ]"
LEADER=$(agree_leader "${CORE[@]}")
wait_until 20 "agree_digest ${CORE[*]} east2 west2"
sampled "5 2 2 1"
log "five voters: $(roles "$LEADER")"

# ---- replace a dead one ----------------------------------------------------------------
kill -KILL "$(pid_of west2)"
log "west2 killed"
# a dead voter keeps its seat while no live member can take it
sleep 2
assert_eq voter "$(role_of "$LEADER" 5)" "dead west2 before a substitute exists"
agent west3 6 west "" "" "$(url "$LEADER")"
start west3
log "west3 joins; west2 is replaced once silent for the replace window"
wait_until 60 "[ \"\$(role_of \$(agree_leader ${CORE[*]}) 6)\" == voter ] && [ \"\$(role_of \$(agree_leader ${CORE[*]}) 5)\" == standby ]"
LEADER=$(agree_leader "${CORE[@]}")
assert_eq "east=2 west=2 witness=1 total=5" "$(voters_by_site "$LEADER")" "voters after the replacement"
sampled "5 2 2 1"
log "replaced: $(roles "$LEADER")"

# ---- remove ------------------------------------------------------------------------
expect_exit 0 ctl "$LEADER" member remove 5
wait_until 20 "[ -z \"\$(role_of $LEADER 5)\" ]"
LIVE=(east west witness east2 west3)
wait_until 20 "agree_digest ${LIVE[*]}"
for n in "${LIVE[@]}"; do
	assert_json "$(status "$n")" '[.cluster.members[] | select(.id == 5)] | length == 0' "west2 gone at $n"
done
# the leader cannot remove itself: refused with a reason, nothing changes
before=$(roles "$LEADER")
lid=$(leader_id "$LEADER")
out=$(ctl "$LEADER" member remove "$lid" 2>&1) && fail "removing the leader succeeded"
assert_contains "$out" "leader" "refusal of removing the leader"
assert_eq "$before" "$(roles "$LEADER")" "roles after the refused removal"
# remove a live voter: four members left, three voters, one per site
if [ "$LEADER" == east2 ]; then fail "east2 leads: the test removes it below"; fi
expect_exit 0 ctl "$LEADER" member remove 4
LIVE=(east west witness west3)
wait_until 40 "[ \"\$(voters_by_site \$(agree_leader ${LIVE[*]}))\" == 'east=1 west=1 witness=1 total=3' ]"
LEADER=$(agree_leader "${LIVE[@]}")
assert_json "$(status "$LEADER")" '[.cluster.members[] | select(.id == 4)] | length == 0' "east2 gone"
sampled "3 1 1 1"
log "after the removals: $(roles "$LEADER")"
# the group still decides
expect_exit 0 ctl "$LEADER" pool add pool-x --site east --edition enterprise --kind physical --os w19
wait_until 20 "agree_digest ${LIVE[*]}"

# ---- the rules held throughout ---------------------------------------------------------
stop_sampler
n=$(wc -l <"$IT_DIR/samples")
bad=$(awk '{ t = $1; maj = int(t / 2) + 1
	if (t > 6) { print "more than six voters: " $0; next }
	if (t >= 3 && ($2 >= maj || $3 >= maj || $4 >= maj)) print "a site holds a majority: " $0 }' "$IT_DIR/samples" | head -n3)
[ -z "$bad" ] || fail "placement rule broken: $bad"
log "$n samples of the voter placement, none breaking a rule; ok"
