#!/usr/bin/env bash
# poolpairctl pool rebuild-status against three agents: any agent answers
# GET /v1/pools/{pool}/rebuild from the reports it holds; a paired pool
# with no seed running is caught up once its pair is heard, and --follow
# then ends at once (exit 0) on a terminal and off one; after a planned
# failover the returning pool is caught up once the pair's stream of its
# user set is connected with nothing left, and the failback goes through;
# bad command lines exit 2, an unknown pool or a pool without a pair exit
# 1 with the reason. status shows self.rebuild (null at the witness) and
# /metrics the seed families. (The seed itself, with its figures, is
# t_siteloss's.)
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-lone --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_writable 20 east pool-east west pool-west
LEAD=$(agree_leader "${ALL[@]}")
rebuild() { curl -s "$(url "$1")/v1/pools/$2/rebuild"; }

# bad command lines: exit 2
expect_exit 2 ctl east pool rebuild-status
assert_contains "$OUT" "usage: poolpairctl pool rebuild-status POOL [--follow]"
expect_exit 2 ctl east pool rebuild-status pool-east --follow=yes
expect_exit 2 ctl east pool rebuild-status pool-east --now
expect_exit 2 ctl east pool rebuild-status pool-east pool-west
ctl east help | grep -q "pool rebuild-status POOL \[--follow\]" || fail "help names pool rebuild-status"

# refusals: exit 1 with the reason
expect_exit 1 ctl witness pool rebuild-status pool-nowhere
assert_contains "$OUT" "not_found"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "$(url witness)/v1/pools/pool-nowhere/rebuild")" "unknown pool"
expect_exit 1 ctl witness pool rebuild-status pool-lone --follow
assert_contains "$OUT" "pool-lone is not paired: there is no pair to rebuild it from"
expect_exit 0 ctl witness pool rebuild-status pool-lone
assert_contains "$OUT" "pool-lone (normal, pair none): not caught up"

# no seed: caught up at every agent once the pair's report is there
for n in "${ALL[@]}"; do
	wait_until 20 "rebuild $n pool-east | jq -e '.caught_up'"
	r=$(rebuild "$n" pool-east)
	assert_json "$r" '.pool == "pool-east" and .pair == "pool-west" and .state == "normal"' "rebuild at $n"
	assert_json "$r" '.rebuilding == false and .streams == [] and .heard.pair' "no seed at $n"
	expect_exit 0 ctl "$n" pool rebuild-status pool-east
	assert_eq "pool-east (normal, pair pool-west): caught up" "$OUT" "rebuild-status at $n"
done
expect_exit 0 ctl witness pool rebuild-status pool-west --follow
assert_eq "pool-west: caught up with pool-east" "$OUT" "--follow off a terminal"
expect_exit 0 ctl witness --json pool rebuild-status pool-west
assert_json "$OUT" '.pool == "pool-west" and .caught_up and .heard.pool and .heard.pair' "--json"
if command -v script >/dev/null; then
	out=$(script -qec "$BUILD/poolpairctl --api $(url witness) pool rebuild-status pool-east --follow" /dev/null) ||
		fail "--follow on a terminal: $out"
	assert_contains "$out" $'\r'"$(printf '\033[K')pool-east: normal, caught up" "the line redrawn in place"
	assert_contains "$out" "pool-east: caught up with pool-west" "--follow on a terminal"
fi

# status and metrics: the seeds of this agent's streams
assert_json "$(status east)" '.self.rebuild == {"rebuilding": false, "streams": []}' "self.rebuild at east"
assert_json "$(status witness)" '.self.rebuild == null' "self.rebuild at the witness"
m=$(curl -s "$(url east)/metrics")
for f in items items_expected bytes bytes_expected active; do
	assert_contains "$m" "# TYPE poolpair_seed_$f gauge" "east's metrics"
done

# a planned failover, then back: pool-east is caught up once west streams
# its user set back to it with nothing left, and the failback goes through
ctl "$LEAD" failover pool-east >/dev/null
wait_until 30 "sfield witness '.pools[] | select(.name == \"pool-east\") | .state' | grep -qx recovering"
timeout 60 "$BUILD/poolpairctl" --api "$(url witness)" pool rebuild-status pool-east --follow >"$IT_DIR/follow.out" 2>&1 ||
	fail "--follow of the recovering pool: $(cat "$IT_DIR/follow.out")"
assert_eq "pool-east: caught up with pool-west" "$(tail -n 1 "$IT_DIR/follow.out")" "--follow after the failover"
r=$(rebuild witness pool-east)
assert_json "$r" '.state == "recovering" and .caught_up and (.rebuilding | not)' "recovering, caught up"
ctl "$LEAD" failback pool-east >/dev/null
wait_until 30 "sfield witness '.pools[] | select(.name == \"pool-east\") | .state' | grep -qx normal"
log "ok"
