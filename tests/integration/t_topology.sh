#!/usr/bin/env bash
# Topology through poolpairctl: pools, the pairing rules and their refusals,
# forced pairs, unpair, SBAs, sites, CMS, declarative topology apply, JSON
# output and usage errors.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
wait_until 20 "agree_digest ${ALL[*]}"
# writes go to a follower on purpose: poolpairctl follows the redirect
F=$(others "$LEADER" | sed -n 1p)
log "leader $LEADER, writing through $F"
sync() { wait_until 20 "agree_digest ${ALL[*]}"; }
c() { ctl "$F" "$@"; }
ok() { expect_exit 0 c "$@"; }
pools() { sfield "$LEADER" '[.pools[] | "\(.name):\(.pair)"] | sort | join(" ")'; }
pairs() { curl -sf "$(url "$LEADER")/v1/pairs" | jq -c '.pairs | sort_by(.a)'; }
last() { curl -sf "$(url "$LEADER")/v1/history?limit=1" | jq -c '.history[-1]'; }

# ---- pools ---------------------------------------------------------------
ok pool add pe --site east --edition enterprise --kind physical --os w19
assert_contains "$OUT" "pool pe added"
ok pool add pw --site west --edition enterprise --kind physical --os w19
ok pool add ps --site west --edition standard --kind physical --os w19
ok pool add pv --site west --edition enterprise --kind virtual --os w19
ok pool add po --site west --edition enterprise --kind physical --os w22
ok pool add pe2 --site east --edition enterprise --kind physical --os w19
ok pool add gone --site witness --edition standard --kind virtual --os w16 --capacity 7
sync
ok pool list
for p in pe pw ps pv po pe2 gone; do assert_contains "$OUT" "$p " "pool list"; done
assert_eq 7 "$(sfield "$F" '.pools[] | select(.name == "gone") | .capacity')" "capacity"
expect_exit 1 c pool add pe --site east --edition enterprise --kind physical --os w19
assert_contains "$OUT" "exists" "adding a pool twice"
ok pool remove gone
sync
ok pool list
assert_not_contains "$OUT" "gone" "pool list after remove"
expect_exit 1 c pool remove gone
assert_contains "$OUT" "not_found"
ok --json pool list
assert_json "$OUT" '[.pools[].name] | sort == ["pe","pe2","po","ps","pv","pw"]' "pool list --json"

# ---- pairing rules: refused, recorded, nothing else changes --------------
refused() { # CODE A B
	local code=$1 before_pools before_pairs before_dec
	shift
	sync
	before_pools=$(pools)
	before_pairs=$(pairs)
	before_dec=$(decisions "$LEADER")
	expect_exit 1 c pair "$@"
	assert_contains "$OUT" "$code" "refusal of pair $*"
	sync
	assert_eq "$((before_dec + 1))" "$(decisions "$LEADER")" "decisions after refused pair $*"
	assert_eq "$before_pools" "$(pools)" "pools after refused pair $*"
	assert_eq "$before_pairs" "$(pairs)" "pairs after refused pair $*"
	h=$(last)
	assert_json "$h" ".result == \"refused\" and .code == \"$code\" and .reason != \"\" and (.what | contains(\"$1\"))" "history of refused pair $*"
}
refused pair_edition pe ps
refused pair_kind pe pv
refused pair_os pe po
refused pair_site pe pe2
refused pair_self pe pe
refused not_found pe nope
ok pair pe pw
assert_contains "$OUT" "paired"
sync
assert_eq '[{"pools":["pe","pw"],"supported":true,"reason":""}]' \
	"$(pairs | jq -c '[.[] | {pools: ([.a, .b] | sort), supported, reason}]')" "pairs"
refused pair_already pe2 pw
refused pair_already pw pe2
# pair_already and pair_self cannot be forced
expect_exit 1 c pair pe2 pw --force
assert_contains "$OUT" pair_already
expect_exit 1 c pair pe2 pe2 --force
assert_contains "$OUT" pair_self
ok history
assert_contains "$OUT" "refused" "history"
assert_contains "$OUT" "pair_edition" "history"
ok --json history --limit 256
assert_json "$OUT" '[.history[] | select(.result == "refused") | .code] | index("pair_kind") != null' "history --json"

# ---- forced pairing ------------------------------------------------------
ok pair pe2 ps --force
assert_contains "$OUT" "unsupported"
FORCE_OUT=$OUT
sync
st=$(status "$F")
assert_json "$st" '.pools[] | select(.name == "pe2") | .pair == "ps" and .supported == false and (.unsupported_reason | contains("edition"))' "forced pool pe2 in status"
assert_json "$st" '.pools[] | select(.name == "ps") | .pair == "pe2" and .supported == false and .unsupported_reason != ""' "forced pool ps in status"
assert_json "$(pairs)" '[.[] | select([.a, .b] | sort == ["pe2","ps"]) | select(.supported == false and .reason != "")] | length == 1' "forced pair in /v1/pairs"
assert_json "$(last)" '.result == "ok" and .forced == true' "history of the forced pair"
ok pool list
assert_contains "$(grep '^pe2 ' <<<"$OUT")" "no" "pool list marks the forced pair unsupported"
ok status
assert_contains "$(grep '^pe2 ' <<<"$OUT")" "no" "status marks the forced pair unsupported"

# ---- unpair --------------------------------------------------------------
ok unpair pe2
sync
assert_eq "" "$(sfield "$F" '.pools[] | select(.name == "pe2") | .pair')" "pe2 after unpair"
assert_eq "" "$(sfield "$F" '.pools[] | select(.name == "ps") | .pair')" "ps after unpair"
expect_exit 1 c unpair pe2
assert_contains "$OUT" not_paired

# ---- SBAs, sites, CMS ----------------------------------------------------
ok sba add sba-1 --site branch --backup-pool pe
sync
ok sba list
assert_contains "$OUT" "sba-1"
assert_contains "$OUT" "branch"
# no agent serves pe in this test: its SBA's users have no backup registrar
assert_json "$(status "$F")" '.sbas == [{"name":"sba-1","site":"branch","backup_pool":"pe","backup_pool_down":true,"backup_pool_down_reason":"no agent of pe is registered","resiliency_mode":true}]' "sbas in status"
expect_exit 1 c sba add sba-2 --site branch --backup-pool nope
assert_contains "$OUT" "not_found"
expect_exit 1 c pool remove pe
assert_contains "$OUT" "in_use"
ok site add s9
sync
ok site list
assert_contains "$OUT" s9
ok site remove s9
sync
ok site list
assert_not_contains "$OUT" s9
expect_exit 1 c site remove east
assert_contains "$OUT" in_use
ok cms show
assert_contains "$OUT" "active pe"
assert_contains "$OUT" "standby pw"
ok --json cms show
assert_json "$OUT" '.active == "pe" and .standby == "pw" and .epoch >= 1' "cms --json"
assert_json "$(status "$F")" '.pools[] | select(.name == "pe") | .hosts_cms == true' "pe hosts the cms"

# ---- topology apply ------------------------------------------------------
cat >"$IT_DIR/topo.json" <<'JSON'
{
  "sites": ["east", "west", "witness", "branch"],
  "pools": [
    {"name": "pe", "site": "east", "edition": "enterprise", "kind": "physical", "os": "w19"},
    {"name": "pw", "site": "west", "edition": "enterprise", "kind": "physical", "os": "w19"},
    {"name": "pe2", "site": "east", "edition": "enterprise", "kind": "physical", "os": "w19"},
    {"name": "pw2", "site": "west", "edition": "enterprise", "kind": "physical", "os": "w19"}
  ],
  "pairs": [{"a": "pe", "b": "pw"}, {"a": "pe2", "b": "pw2"}],
  "sbas": [{"name": "sba-2", "site": "branch", "backup_pool": "pw2"}],
  "cms": "pe"
}
JSON
sync
dec0=$(decisions "$LEADER")
dig0=$(digest "$LEADER")
ok topology apply "$IT_DIR/topo.json" --dry-run
for w in "add pool pw2" "remove pool ps" "remove pool pv" "remove pool po" "remove sba sba-1" "add sba sba-2"; do
	assert_contains "$OUT" "$w" "dry-run diff"
done
assert_contains "$OUT" "pe2" "dry-run diff"
ok --json topology apply "$IT_DIR/topo.json" --dry-run
assert_json "$OUT" '.applied == false and (.diff | length) >= 7 and all(.diff[]; has("op") and has("what"))' "dry-run --json"
sleep 0.5
sync
assert_eq "$dec0" "$(decisions "$LEADER")" "decisions after a dry run"
assert_eq "$dig0" "$(digest "$LEADER")" "state after a dry run"
ok topology apply "$IT_DIR/topo.json"
sync
assert_eq "$((dec0 + 1))" "$(decisions "$LEADER")" "decisions after topology apply"
st=$(status "$F")
assert_json "$st" '[.pools[].name] | sort == ["pe","pe2","pw","pw2"]' "pools after apply"
assert_json "$st" '[.pools[] | "\(.name)=\(.pair)"] | sort == ["pe2=pw2","pe=pw","pw2=pe2","pw=pe"]' "pairs after apply"
assert_json "$st" '[.sbas[].name] == ["sba-2"]' "sbas after apply"
assert_json "$st" '.cms.active == "pe"' "cms after apply"
ok topology apply "$IT_DIR/topo.json"
assert_contains "$OUT" "nothing to change"
ok --json topology apply "$IT_DIR/topo.json"
assert_json "$OUT" '.applied == false and .diff == []' "re-apply --json"
sleep 0.5
sync
assert_eq "$((dec0 + 1))" "$(decisions "$LEADER")" "decisions after re-applying"
# a bad topology file changes nothing
echo '{"pools": [' >"$IT_DIR/broken.json"
expect_exit 1 c topology apply "$IT_DIR/broken.json"
dig1=$(digest "$LEADER")
echo '{"pools": [{"name": "pe", "site": "west", "edition": "enterprise", "kind": "physical", "os": "w19"}]}' >"$IT_DIR/change.json"
expect_exit 1 c topology apply "$IT_DIR/change.json"
assert_contains "$OUT" invalid
sync
assert_eq "$dig1" "$(digest "$LEADER")" "state after refused topologies"
# a pair's replication mode in the file: one pair_mode step, then nothing
sed 's/{"a": "pe2", "b": "pw2"}/{"a": "pe2", "b": "pw2", "mode": "sync", "sync_timeout_ms": 1200}/' \
	"$IT_DIR/topo.json" >"$IT_DIR/topo-sync.json"
ok topology apply "$IT_DIR/topo-sync.json"
assert_contains "$OUT" "pair mode pe2 pw2 async -> sync (sync timeout 1200 ms)"
sync
st=$(status "$F")
assert_json "$st" '[.pools[] | select(.replication_mode == "sync" and .sync_timeout_ms == 1200) | .name] | sort == ["pe2","pw2"]' "pe2-pw2 in sync mode"
assert_json "$st" '[.pools[] | select(.name == "pe") | .replication_mode] == ["async"]' "pe-pw still async"
ok topology apply "$IT_DIR/topo-sync.json"
assert_contains "$OUT" "nothing to change"
# the same file without the mode leaves it as it is
ok topology apply "$IT_DIR/topo.json"
assert_contains "$OUT" "nothing to change"

# ---- JSON output ---------------------------------------------------------
for cmd in "status" "pool list" "sba list" "site list" "member list" "history" "cms show"; do
	# shellcheck disable=SC2086
	ok --json $cmd
	jq -e . >/dev/null <<<"$OUT" || fail "poolpairctl --json $cmd: not JSON: $OUT"
done
ok status --json
assert_json "$OUT" '.cluster.members | length == 3' "status --json (option after the command)"

# ---- usage errors --------------------------------------------------------
sync
dig2=$(digest "$LEADER")
expect_exit 2 c frobnicate
expect_exit 2 c pool add
expect_exit 2 c pool add px --site east --edition gold --kind physical --os w19
assert_contains "$OUT" "edition"
expect_exit 2 c pool add px --site east --edition enterprise --kind wooden --os w19
expect_exit 2 c pair pe
expect_exit 2 c pool
expect_exit 2 "$BUILD/poolpairctl" --api
expect_exit 2 c history --limit 0
sync
assert_eq "$dig2" "$(digest "$LEADER")" "state after usage errors"
# the warning of a forced pair names the reason once
assert_not_contains "$FORCE_OUT" "unsupported pairing: unsupported pairing" "pair --force warning"
log "ok"
