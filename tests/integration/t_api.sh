#!/usr/bin/env bash
# The HTTP API with raw curl: redirects from followers, strict request
# validation (400 + JSON error, nothing changed), 404, 405, 413, /healthz,
# /metrics, query validation.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
wait_until 20 "agree_digest ${ALL[*]}"
L=$LEADER
F=$(others "$L" | sed -n 1p)
log "leader $L, follower $F"
sync() { wait_until 20 "agree_digest ${ALL[*]}"; }

# req METHOD URL [BODY-FILE|-d DATA...]: sets CODE, HDRS, BODY
req() {
	local method=$1 u=$2
	shift 2
	local h="$IT_DIR/hdrs" b="$IT_DIR/body"
	CODE=$(curl -s --max-time 10 -X "$method" -D "$h" -o "$b" -w '%{http_code}' "$@" "$u") || true
	HDRS=$(tr -d '\r' <"$h")
	BODY=$(cat "$b")
}
is_error() { # STATUS CODE: the answer is that status with a JSON error of that code
	assert_eq "$1" "$CODE" "http status ($BODY)"
	assert_contains "$HDRS" "Content-Type: application/json" "headers"
	assert_json "$BODY" ".error == \"$2\" and (.message | type == \"string\" and length > 0)" "error body"
}

# ---- a write to a follower: 307 to the leader ----------------------------
req POST "$(url "$F")/v1/sites" -H 'Content-Type: application/json' -d '{"name":"s-redirect"}'
assert_eq 307 "$CODE" "POST to a follower"
loc=$(sed -n 's/^Location: //Ip' <<<"$HDRS")
assert_eq "http://$(api "$L")/v1/sites" "$loc" "Location of the redirect"
assert_json "$BODY" ".error == \"not_leader\" and .leader == \"$(api "$L")\" and (.message | length > 0)" "redirect body"
req DELETE "$(url "$F")/v1/pools/nope"
assert_eq 307 "$CODE" "DELETE to a follower"
assert_eq "http://$(api "$L")/v1/pools/nope" "$(sed -n 's/^Location: //Ip' <<<"$HDRS")" "Location of DELETE"
sync
assert_not_contains "$(sfield "$L" '.sites | join(" ")')" s-redirect "sites after a redirected POST"
# the redirect counter of the follower moved
metric_value() { curl -sf "$(url "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
[ "$(metric_value "$F" poolpair_api_redirects_total)" -ge 2 ] || fail "redirects not counted"
# poolpairctl pointed at the follower follows the 307
expect_exit 0 ctl "$F" site add s-ctl
expect_exit 0 ctl "$F" pool add pa --site east --edition enterprise --kind physical --os w19
sync
assert_contains "$(sfield "$L" '.sites | join(" ")')" s-ctl "sites after poolpairctl via a follower"
assert_eq pa "$(sfield "$L" '.pools[0].name')" "pool added via a follower"
# curl -L follows it too
req POST "$(url "$F")/v1/sites" -L -d '{"name":"s-curl"}'
assert_eq 201 "$CODE" "POST to a follower, following the redirect"
assert_json "$BODY" '.site == "s-curl" and (.decision | type == "number")' "site created"

# ---- bad requests: 400 with a JSON error, nothing changes -----------------
sync
dig=$(digest "$L")
dec=$(decisions "$L")
bad() { # CODE BODY [PATH]
	req POST "$(url "$L")${3:-/v1/pools}" -H 'Content-Type: application/json' --data-binary "$2"
	is_error 400 "$1"
}
bad bad_json '{"name":'
bad bad_json 'not json at all'
bad bad_json '[{"name":"p1"}]'
bad bad_json '"p1"'
bad bad_json ''
bad unknown_field '{"name":"p1","site":"east","edition":"enterprise","kind":"physical","os":"w19","colour":"red"}'
bad bad_type '{"name":1,"site":"east","edition":"enterprise","kind":"physical","os":"w19"}'
bad bad_type '{"name":"p1","site":"east","edition":"enterprise","kind":"physical","os":"w19","capacity":"big"}'
bad missing_field '{"name":"p1","site":"east","edition":"enterprise","kind":"physical"}'
bad missing_field '{}'
bad invalid '{"name":"p 1","site":"east","edition":"enterprise","kind":"physical","os":"w19"}'
bad invalid '{"name":"p1","site":"east","edition":"gold","kind":"physical","os":"w19"}'
bad bad_type '{"a":"pa","b":true}' /v1/pairs
bad missing_field '{"a":"pa"}' /v1/pairs
bad bad_json '{"topology": ' /v1/topology
bad unknown_field '{"nmae":"s"}' /v1/sites
sleep 0.3
sync
assert_eq "$dig" "$(digest "$L")" "state after bad requests"
assert_eq "$dec" "$(decisions "$L")" "decisions after bad requests"

# ---- 404, 405, 413, 400 on a query ---------------------------------------
req GET "$(url "$L")/v1/nothing-here"
is_error 404 not_found
req GET "$(url "$F")/nope"
is_error 404 not_found
req GET "$(url "$L")/v1/pools/no-such-pool"
is_error 404 not_found
req PUT "$(url "$L")/v1/status"
is_error 405 method_not_allowed
req DELETE "$(url "$L")/v1/history"
is_error 405 method_not_allowed
head -c $((64 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$IT_DIR/big"
req POST "$(url "$L")/v1/sites" --data-binary "@$IT_DIR/big"
is_error 413 too_large
# a body of exactly 64 KiB is read (and judged on its content)
printf '{"name":"s-64k"}' >"$IT_DIR/max"
head -c $((64 * 1024 - 16)) /dev/zero | tr '\0' ' ' >>"$IT_DIR/max"
assert_eq $((64 * 1024)) "$(stat -c %s "$IT_DIR/max")" "size of the 64 KiB body"
req POST "$(url "$L")/v1/sites" --data-binary "@$IT_DIR/max"
assert_eq 201 "$CODE" "a 64 KiB body ($BODY)"
req GET "$(url "$L")/v1/history?limit=abc"
is_error 400 invalid
req GET "$(url "$L")/v1/history?limit=0"
is_error 400 invalid
req GET "$(url "$L")/v1/history?limit=1001"
is_error 400 invalid
req GET "$(url "$L")/v1/history?before=0"
is_error 400 invalid
req GET "$(url "$L")/v1/history?before=-3"
is_error 400 invalid
req GET "$(url "$L")/v1/history?limit=2"
assert_eq 200 "$CODE" "history?limit=2"
assert_json "$BODY" '.history | length == 2' "history?limit=2"
assert_json "$BODY" '.history[0].seq > .history[1].seq and .next_before == .history[1].seq' "history: newest first, with the cursor"
# the agents are still all fine after all that
for n in "${ALL[@]}"; do alive "$n" || fail "$n died"; done

# ---- /healthz and /metrics -----------------------------------------------
for n in "${ALL[@]}"; do
	req GET "$(url "$n")/healthz"
	assert_eq 200 "$CODE" "/healthz of $n"
	assert_contains "$BODY" ok "/healthz"
done
req GET "$(url "$L")/metrics"
assert_eq 200 "$CODE" "/metrics"
for m in poolpair_raft_term poolpair_raft_commit_index poolpair_raft_applied_index \
	'poolpair_raft_members{role="voter"} 3' poolpair_api_requests_total \
	poolpair_api_request_duration_seconds_bucket poolpair_api_request_duration_seconds_count \
	'poolpair_raft_is_leader 1' poolpair_fsm_decisions_total; do
	assert_contains "$BODY" "$m" "/metrics"
done
grep -Eq '^poolpair_api_requests_total\{method="POST",code="4xx"\} [1-9]' <<<"$BODY" ||
	fail "/metrics does not count the 400s: $(grep requests_total <<<"$BODY")"
term=$(awk '$1 == "poolpair_raft_term" {print $2}' <<<"$BODY")
assert_eq "$(sfield "$L" .cluster.term)" "$term" "term in /metrics"
assert_eq 0 "$(metric_value "$F" poolpair_raft_is_leader)" "is_leader of a follower"
# every sample line is NAME{LABELS} VALUE
bad_lines=$(grep -v '^#' <<<"$BODY" | grep -Ev '^[a-z_:][a-z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+$' || true)
assert_eq "" "$bad_lines" "malformed /metrics lines"
log "ok"
