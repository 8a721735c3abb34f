#!/usr/bin/env bash
# poolpairctl's disaster recovery commands against three agents: failover,
# failback and cms failover (with --what-if), backup verify, status and
# history; refusals exit 1 with the server's reason, bad command lines
# exit 2 and send nothing.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-lone --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
ctl east sba add sba-1 --site branch --backup-pool pool-east >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
LEAD=$(agree_leader "${ALL[@]}")
E=$(url east)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ]"

# bad command lines: exit 2, nothing is decided
before=$(decisions east)
expect_exit 2 ctl "$LEAD" failover
assert_contains "$OUT" "missing arguments"
expect_exit 2 ctl "$LEAD" failover pool-east --now
assert_contains "$OUT" "unknown option '--now'"
expect_exit 2 ctl "$LEAD" failback pool-east pool-west
expect_exit 2 ctl "$LEAD" cms failover pool-east
expect_exit 2 ctl "$LEAD" backup verify
expect_exit 2 ctl "$LEAD" backup verify pool-east --no-repair=yes
expect_exit 2 ctl "$LEAD" recover
assert_contains "$OUT" "give --force-quorum"
assert_not_contains "$OUT" "WARNING" "a usage error warns of nothing"
expect_exit 2 ctl "$LEAD" failover ""

# refusals: exit 1 with the server's code and reason
expect_exit 1 ctl "$LEAD" failover pool-lone
assert_contains "$OUT" "not_paired"
expect_exit 1 ctl "$LEAD" failover pool-lone --what-if
assert_contains "$OUT" "failover of pool-lone: not allowed (not_paired)"
expect_exit 1 ctl "$LEAD" failover pool-nowhere
assert_contains "$OUT" "not_found"
expect_exit 1 ctl "$LEAD" failback pool-east
assert_contains "$OUT" "not_failed_over: pool-east is not failed over"
expect_exit 1 ctl "$LEAD" failback pool-east --what-if
assert_contains "$OUT" "failback of pool-east: not allowed (not_failed_over)"
expect_exit 1 ctl "$LEAD" failover pool-east --disaster
assert_contains "$OUT" "pool_alive"
expect_exit 1 ctl "$LEAD" backup verify pool-lone
expect_exit 1 ctl "$LEAD" --json failover pool-lone
assert_json "$(ctl "$LEAD" --json failover pool-lone 2>/dev/null || true)" \
	'.error == "not_paired"' "--json prints the error answer"
wait_until 10 "[ \"\$(decisions east)\" == \"$before\" ]"

# what-if of a planned failover: allowed, nothing changes
expect_exit 0 ctl "$LEAD" failover pool-east --what-if
assert_contains "$OUT" "failover of pool-east: allowed"
assert_contains "$OUT" "mode: planned"
assert_contains "$OUT" "cms moves: yes"
assert_contains "$OUT" "data at risk: 0 records, 0 B, 0.0 s"
expect_exit 0 ctl "$LEAD" --json failover pool-east --what-if
assert_json "$OUT" '.allowed == true and .mode == "planned" and .cms_moves == true' "what-if json"
expect_exit 0 ctl "$LEAD" failover pool-east --what-if --disaster
assert_contains "$OUT" "mode: disaster"
assert_eq "$before" "$(decisions east)" "what-if decided nothing"

# data, then both copies checked: equal
for i in 1 2 3 4 5; do
	ctl east user enable "sip:dr$i@example.com" --pool pool-east >/dev/null
done
expect_exit 0 ctl east backup verify pool-east
assert_contains "$OUT" "items: 5 at owner pool-east, 5 at backup pool-west"
assert_contains "$OUT" "differences: 0, repaired: 0"
assert_contains "$OUT" "equal after: yes"
expect_exit 0 ctl east backup verify pool-east --no-repair
assert_contains "$OUT" "(repair off)"
# asked of the pair's agent: repeated at the owner's
expect_exit 0 ctl west backup verify pool-east
assert_contains "$OUT" "pool-east owns the user set: asking its agent at $(api east)"
assert_contains "$OUT" "equal after: yes"

# planned failover: the users and the CMS move to pool-west
expect_exit 0 ctl "$LEAD" failover pool-east
assert_contains "$OUT" "pool-east failed over to pool-west (epoch 2); the CMS moved to pool-west"
assert_json "$(status "$LEAD")" \
	'.pools[] | select(.name == "pool-east") | (.state == "failed_over" or .state == "recovering") and .owner == "pool-west"' \
	"pool-east's users are at pool-west"
expect_exit 1 ctl "$LEAD" failover pool-east
assert_contains "$OUT" "failed_over"
out=$(ctl "$LEAD" status)
assert_contains "$out" "resiliency mode" "status of an sba whose backup pool failed over"
assert_contains "$out" "pool-east: last failover: planned"
out=$(ctl "$LEAD" sba list)
assert_contains "$out" "resiliency mode"

# failback once pool-east is recovering and caught up
wait_until 20 "[ \"\$(sfield east '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
wait_until 20 "ctl $LEAD failback pool-east --what-if"
expect_exit 0 ctl "$LEAD" failback pool-east --what-if
assert_contains "$OUT" "failback of pool-east: allowed"
assert_contains "$OUT" "lag of its copy: 0 records"
expect_exit 0 ctl "$LEAD" failback pool-east
assert_contains "$OUT" "pool-east failed back: pool-east owns its user set again (epoch 3)"
out=$(ctl "$LEAD" status)
assert_not_contains "$out" "resiliency mode" "status after the failback"

# the CMS stayed on pool-west: move it back, by hand
expect_exit 0 ctl "$LEAD" cms failover --what-if
assert_contains "$OUT" "cms failover: allowed"
assert_contains "$OUT" "moves from pool-west to pool-east"
expect_exit 0 ctl "$LEAD" cms failover --force
assert_contains "$OUT" "the CMS moved from pool-west to pool-east"
expect_exit 0 ctl "$LEAD" cms show
assert_contains "$OUT" "active pool-east, standby pool-west"

# both copies still equal after two moves
expect_exit 0 ctl east backup verify pool-east
assert_contains "$OUT" "equal after: yes"

# history names the moves, who asked and the forced decision
expect_exit 0 ctl "$LEAD" history --limit 50
assert_contains "$OUT" "planned failover"
assert_contains "$OUT" "failback"
assert_contains "$OUT" "(forced)"

# recover needs a lost majority: refused (or unknown to this agent)
expect_exit 1 ctl "$LEAD" recover --force-quorum
assert_contains "$OUT" "WARNING: forcing a quorum"
wait_until 20 "agree_digest ${ALL[*]}"
log "ok"
