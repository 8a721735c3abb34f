#!/usr/bin/env bash
# The history keeps forced decisions beyond its ring of the 256 most
# recent ones, through snapshots and restarts, and is read by pages:
# GET /v1/history?before=SEQ&limit=N (newest first, with the cursor of the
# next page) and poolpairctl history --limit N --before SEQ.
# Snapshots every 64 entries, so that restarts restore one.
# shellcheck disable=SC2034 # read by lib.sh
IT_EXTRA="snapshot_threshold = 64\nsnapshot_trailing = 32\n[failover]\nheartbeat = 100ms\nlease = 1000ms\ngrace = 500ms"
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
L=$(url "$LEADER")
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-odd --site east --edition standard --kind virtual --os w22 >/dev/null
ctl east pool add pool-odd2 --site west --edition enterprise --kind physical --os w22 >/dev/null
# the leader's choice of each pool's writer is a decision too: made first
wait_until 20 "status witness | jq -e '[.pools[] | select(.name == \"pool-east\" or .name == \"pool-west\") | .writer.id > 0] == [true, true]'"
expect_exit 0 ctl east pair pool-odd pool-odd2 --force
forced=$(curl -s "$L/v1/history?limit=1" | jq -r '.history[0].seq')
assert_json "$(curl -s "$L/v1/history?limit=1")" '.history[0].what == "pair pool-odd pool-odd2 (forced)" and .history[0].forced == true and .history[0].kept == true' "the forced pairing"
ctl east pair pool-east pool-west >/dev/null

# 300 more decisions (refusals: never kept): the forced one leaves the ring
for i in $(seq 300); do
	curl -s -o /dev/null -XDELETE "$L/v1/sites/nowhere-$i"
done
wait_until 20 "agree_digest ${ALL[*]}"
total=$(decisions witness)
[ "$total" -ge $((forced + 300)) ] || fail "only $total decisions"
all=$(curl -s "$(url witness)/v1/history?limit=1000")
assert_json "$all" '.history | length == 257' "the ring and the one kept entry"
assert_json "$all" ".history[-1].seq == $forced and .history[-1].kept == true and .history[-2].seq == $((total - 255))" "the kept entry after the ring"
assert_json "$all" ".kept == 1 and .kept_dropped == 0 and .decisions == $total and .next_before == null" "counts"
assert_json "$all" '[.history[] | select(.what == "pair pool-east pool-west")] | length == 0' "an ordinary decision left with the ring"

# pages: newest first, each seq once, down to the kept entry
before=""
seen=()
pages=0
while :; do
	page=$(curl -s "$L/v1/history?limit=40${before:+&before=$before}")
	mapfile -t seqs < <(jq -r '.history[].seq' <<<"$page")
	for s in "${seqs[@]}"; do
		[ -z "$before" ] || [ "$s" -lt "$before" ] || fail "seq $s not before $before"
		[ "${#seen[@]}" == 0 ] || [ "$s" -lt "${seen[-1]}" ] || fail "seq $s not after ${seen[-1]}"
		seen+=("$s")
	done
	pages=$((pages + 1))
	next=$(jq -r '.next_before' <<<"$page")
	[ "$next" != null ] || break
	assert_eq "${seqs[-1]}" "$next" "the cursor is the oldest seq of the page"
	before=$next
done
assert_eq 257 "${#seen[@]}" "entries over all pages"
assert_eq 7 "$pages" "pages of 40"
assert_eq "$forced" "${seen[-1]}" "the last page ends with the kept entry"
# a page from just after the ring's oldest entry crosses into the kept one
page=$(curl -s "$L/v1/history?limit=3&before=$((total - 254))")
assert_json "$page" "[.history[].seq] == [$((total - 255)), $forced] and .next_before == null" "a page crossing out of the ring"

# poolpairctl: oldest first; the page before starts below its oldest SEQ
expect_exit 0 ctl witness history --limit 2 --before $((total - 253))
grep -Eq "^$((total - 255)) " <<<"$OUT" || fail "decision $((total - 255)) not listed: $OUT"
assert_not_contains "$OUT" "pair pool-odd"
expect_exit 0 ctl witness history --limit 2 --before $((total - 255))
assert_contains "$OUT" "pair pool-odd pool-odd2 (forced)"
assert_contains "$OUT" "ok (forced)"
expect_exit 0 ctl witness history --limit 3 --before $((total - 253))
first=$(grep -n "pair pool-odd" <<<"$OUT" | cut -d: -f1)
second=$(grep -n "remove site nowhere" <<<"$OUT" | head -1 | cut -d: -f1)
[ "$first" -lt "$second" ] || fail "not oldest first: $OUT"
# nothing older was kept: the pools added before it left with the ring
expect_exit 0 ctl witness history --before "$forced"
assert_contains "$OUT" "no decisions before $forced"
expect_exit 0 ctl witness --json history --limit 2
assert_json "$OUT" '.history | length == 2' "history --json"
expect_exit 2 ctl witness history --limit 1001
assert_contains "$OUT" "bad --limit '1001' (1 to 1000)"
expect_exit 2 ctl witness history --before 0
assert_contains "$OUT" "bad --before '0'"

# a restart restores a snapshot holding it; every agent still lists it
pp_kill "$IT_DIR" east TERM
wait_exit east 20 || fail "east did not stop"
snaps=("$IT_DIR"/east/data/raft/snapshot-*)
[ -e "${snaps[0]}" ] || fail "east took no snapshot"
start east
wait_until 30 "agree_digest ${ALL[*]}"
assert_eq 1 "$(curl -s "$(url east)/metrics" | awk '/^poolpair_raft_snapshots_total\{op="restored"\}/ { print $2 }')" "east restored a snapshot"
for n in "${ALL[@]}"; do
	h=$(curl -s "$(url "$n")/v1/history?limit=1&before=$((total - 255))")
	assert_json "$h" ".history[0].seq == $forced and .history[0].what == \"pair pool-odd pool-odd2 (forced)\"" "the kept entry at $n"
done
log "ok"
