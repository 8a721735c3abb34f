#!/usr/bin/env bash
# Six agents over three sites: three bootstrap, three join. Placement keeps
# at most 5 voters and never gives a site a majority; when a voter dies the
# leader replaces it, and the survivors agree on the state.
source "$(dirname "$0")/lib.sh"

boot=$(it_boot_list 1 2 3)
agent east1 1 east pool-e1 "$boot" ""
agent west1 2 west pool-w1 "$boot" ""
agent wit1 3 witness "" "$boot" ""
start east1 west1 wit1
wait_leader 30 east1 west1 wit1
L0=$LEADER
log "leader $L0; three more join through it"
agent east2 4 east pool-e2 "" "$(url "$L0")"
agent west2 5 west pool-w2 "" "$(url "$L0")"
agent wit2 6 witness "" "" "$(url "$L0")"
start east2 west2 wit2
ALL=(east1 west1 wit1 east2 west2 wit2)

# the placement of a status JSON: ok when it has exactly WANT voters (or at
# most WANT with "max"), no site with 3 or more voters, everyone registered,
# and the rest standbys
placement_ok() { # AGENT MODE(exact|max) WANT [DEAD-ID]
	local st
	st=$(status "$1") || return 1
	jq -e --arg mode "$2" --argjson want "$3" --argjson dead "${4:-0}" '
		[.cluster.members[] | select(.id != $dead)] as $ms
		| [$ms[] | select(.role == "voter")] as $v
		| ($v | length) as $nv
		| (if $mode == "exact" then $nv == $want else $nv <= $want and $nv >= 3 end)
		and ([$v[] | .site] | group_by(.) | map(length) | max) < 3
		and all($ms[]; .name != "" and (.role == "voter" or .role == "standby"))
		and ([.cluster.members[] | select(.id == $dead and .role == "voter")] | length == 0)
	' <<<"$st" >/dev/null
}
wait_until 60 "[ \"\$(sfield $L0 '[.cluster.members[] | select(.name != \"\")] | length')\" == 6 ]"
wait_until 60 "placement_ok $L0 exact 5"
st=$(status "$L0")
log "placement: $(jq -c '[.cluster.members[] | "\(.name):\(.role)"]' <<<"$st")"
assert_json "$st" '[.cluster.members[] | select(.role == "standby")] | length == 1' "one standby"
assert_json "$st" '[.cluster.members[] | select(.role == "voter") | .site] | group_by(.) | map(length) | sort == [1,2,2]' "voters per site"
wait_leader 30 "${ALL[@]}"
wait_until 30 "agree_digest ${ALL[*]}"
for n in "${ALL[@]}"; do placement_ok "$n" exact 5 || fail "placement seen by $n: $(status "$n" | jq -c '[.cluster.members[] | "\(.name):\(.role)"]')"; done
metric=$(curl -sf "$(url "$LEADER")/metrics")
assert_contains "$metric" 'poolpair_raft_members{role="voter"} 5' "/metrics"
assert_contains "$metric" 'poolpair_raft_members{role="standby"} 1' "/metrics"

# kill -9 a voter that is not the leader
L=$LEADER
VICTIM=$(status "$L" | jq -r --arg l "$L" '[.cluster.members[] | select(.role == "voter" and .name != $l)][0].name')
VID=${IT_ID[$VICTIM]}
log "leader $L; killing voter $VICTIM (id $VID)"
pp_kill "$IT_DIR" "$VICTIM" KILL
wait_exit "$VICTIM" 10 || fail "$VICTIM survived SIGKILL"
mapfile -t SURV < <(others "$VICTIM")
# the leader replaces it after max(10 s, 10 x election timeout) of silence
wait_until 90 "placement_ok $L max 5 $VID"
st=$(status "$L")
log "placement after the kill: $(jq -c '[.cluster.members[] | "\(.name):\(.role)"]' <<<"$st")"
assert_json "$st" ".cluster.members[] | select(.id == $VID) | .role != \"voter\"" "the dead member is no longer a voter"
assert_json "$st" "[.cluster.members[] | select(.id != $VID and .role == \"voter\")] | length == 5" "five live voters again"
wait_leader 30 "${SURV[@]}"
wait_until 30 "agree_digest ${SURV[*]}"
# the cluster still decides, and every survivor sees it
expect_exit 0 ctl "${SURV[0]}" site add after-replacement
wait_until 30 "agree_digest ${SURV[*]}"
for n in "${SURV[@]}"; do
	assert_contains "$(sfield "$n" '.sites | join(" ")')" after-replacement "sites seen by $n"
	placement_ok "$n" max 5 "$VID" || fail "placement seen by $n"
done
log "ok"
