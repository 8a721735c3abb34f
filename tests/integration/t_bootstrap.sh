#!/usr/bin/env bash
# Three agents (east, west, witness) bootstrap, elect one leader, register,
# agree on state; --check on good and bad configs; a full restart recovers
# the state from data_dir.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
log "leader: $LEADER"
assert_contains " east west witness " " $LEADER " "leader name"

# exactly one agent says it is the leader, the others follow it
wait_until 20 '[ "$(for n in east west witness; do state_of $n; done | sort | tr "\n" " ")" == "follower follower leader " ]'
assert_eq leader "$(state_of "$LEADER")" "state of the leader"

# every agent registered itself: name, site, pool and addresses
wait_until 20 '[ "$(sfield east "[.cluster.members[] | select(.name != \"\")] | length")" == 3 ]'
for asked in "${ALL[@]}"; do
	st=$(status "$asked")
	for n in "${ALL[@]}"; do
		id=${IT_ID[$n]}
		m=$(jq -c ".cluster.members[] | select(.id == $id)" <<<"$st")
		[ -n "$m" ] || wait_until 10 "[ -n \"\$(sfield $asked '.cluster.members[] | select(.id == $id) | .name')\" ]"
		m=$(status "$asked" | jq -c ".cluster.members[] | select(.id == $id)")
		assert_eq "$n" "$(jq -r .name <<<"$m")" "name of member $id seen by $asked"
		assert_eq "$n" "$(jq -r .site <<<"$m")" "site of member $id seen by $asked"
		assert_eq "$(api "$n")" "$(jq -r .api <<<"$m")" "api of member $id seen by $asked"
		assert_eq "127.0.0.1:$(raft_port "$id")" "$(jq -r .raft <<<"$m")" "raft of member $id"
		assert_eq voter "$(jq -r .role <<<"$m")" "role of member $id"
	done
	assert_eq pool-east "$(jq -r '.cluster.members[] | select(.name == "east") | .pool' <<<"$st")" "pool of east"
	assert_eq "127.0.0.1:$(data_port 1)" "$(jq -r '.cluster.members[] | select(.name == "east") | .data' <<<"$st")" "data of east"
	assert_eq "" "$(jq -r '.cluster.members[] | select(.name == "witness") | .pool' <<<"$st")" "pool of witness"
	assert_eq "east west witness" "$(jq -r '.sites | sort | join(" ")' <<<"$st")" "sites seen by $asked"
done

# a write; then all three agree on the state digest and the decisions
ctl west pool add pool-east --site east --edition enterprise --kind physical --os windows-2019 >/dev/null
ctl witness pool add pool-west --site west --edition enterprise --kind physical --os windows-2019 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
for n in "${ALL[@]}"; do
	assert_eq "pool-east pool-west" "$(sfield "$n" '[.pools[].name] | sort | join(" ")')" "pools seen by $n"
	assert_eq pool-west "$(sfield "$n" '.pools[] | select(.name == "pool-east") | .pair')" "pair seen by $n"
done
# the digest depends on the state: a change moves it
d1=$(digest east)
ctl east site add branch >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
assert_ne "$d1" "$(digest east)" "state digest after a change"
ctl east site remove branch >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"

# --check: a good config is ok, a bad one is FILE:LINE: message
cp "$IT_DIR/east/poolpaird.conf" "$IT_DIR/good.conf"
expect_exit 0 "$BUILD/poolpaird" --check -c "$IT_DIR/good.conf"
assert_contains "$OUT" "ok" "--check output"
# ... and prints the timing in effect: the file's keys over the profile's
assert_contains "$OUT" "good.conf: profile default: heartbeat 100ms, lease 1000ms, grace 500ms, drift_margin 100ms" "--check timing"
printf '[failover]\nprofile = fast\n' >"$IT_DIR/fast.ini"
grep -v '^\(heartbeat\|lease\|grace\|election_timeout\|heartbeat_timeout\) =' "$IT_DIR/good.conf" | cat - "$IT_DIR/fast.ini" >"$IT_DIR/fast.conf"
expect_exit 0 "$BUILD/poolpaird" --check -c "$IT_DIR/fast.conf"
assert_contains "$OUT" "fast.conf: profile fast: heartbeat 100ms, lease 500ms, grace 150ms, drift_margin 50ms, election_timeout 300ms, heartbeat_timeout 50ms" "--check timing of profile fast"
sed 's/^profile = fast$/profile = turbo/' "$IT_DIR/fast.conf" >"$IT_DIR/bad3.conf"
line=$(grep -n '^profile' "$IT_DIR/bad3.conf" | cut -d: -f1)
expect_exit 1 "$BUILD/poolpaird" --check -c "$IT_DIR/bad3.conf"
assert_contains "$OUT" "$IT_DIR/bad3.conf:$line: bad [failover] profile 'turbo': expected default or fast" "--check of an unknown profile"
# every agent shows its own timing on /v1/status
for n in "${ALL[@]}"; do
	assert_eq "default 1000 500 100" "$(sfield "$n" '"\(.timing.profile) \(.timing.lease_ms) \(.timing.grace_ms) \(.timing.heartbeat_ms)"')" "timing on the status of $n"
	# the election timeout in effect: the configured one on loopback
	assert_eq "$(sfield "$n" '.timing.election_timeout_ms')" "$(sfield "$n" '.timing.election_timeout_effective_ms')" "election timeout in effect on the status of $n"
done
sed 's/^site = east$/site = east\ncolour = blue/' "$IT_DIR/good.conf" >"$IT_DIR/bad.conf"
line=$(grep -n '^colour' "$IT_DIR/bad.conf" | cut -d: -f1)
expect_exit 1 "$BUILD/poolpaird" --check -c "$IT_DIR/bad.conf"
assert_contains "$OUT" "$IT_DIR/bad.conf:$line: " "--check error"
assert_contains "$OUT" "colour" "--check error"
sed 's/^election_timeout = .*/election_timeout = soon/' "$IT_DIR/good.conf" >"$IT_DIR/bad2.conf"
line=$(grep -n '^election_timeout' "$IT_DIR/bad2.conf" | cut -d: -f1)
expect_exit 1 "$BUILD/poolpaird" --check -c "$IT_DIR/bad2.conf"
assert_contains "$OUT" "$IT_DIR/bad2.conf:$line: " "--check error"
expect_exit 1 "$BUILD/poolpaird" --check -c "$IT_DIR/absent.conf"
# --check starts nothing: the running agent is unaffected and nothing listens anew
alive east || fail "east died during --check"

# full restart: SIGTERM all, each exits 0, and the state comes back
before_dec=$(decisions east)
before_hist=$(curl -sf "$(url east)/v1/history?limit=256" | jq -c '[.history[] | {seq, what, result}]')
before_pools=$(sfield east '[.pools[] | {name, site, pair, supported}] | sort_by(.name)')
for n in "${ALL[@]}"; do pp_kill "$IT_DIR" "$n" TERM; done
for n in "${ALL[@]}"; do
	wait_exit "$n" 15 || fail "$n did not exit after SIGTERM"
	assert_eq 0 "$IT_STATUS" "exit status of $n after SIGTERM"
done
start "${ALL[@]}"
wait_leader 30 "${ALL[@]}"
wait_until 20 "agree_digest ${ALL[*]}"
for n in "${ALL[@]}"; do
	assert_eq "$before_pools" "$(sfield "$n" '[.pools[] | {name, site, pair, supported}] | sort_by(.name)')" "pools of $n after restart"
	dec=$(decisions "$n")
	[ "$dec" -ge "$before_dec" ] || fail "$n has $dec decisions after restart, $before_dec before"
	hist=$(curl -sf "$(url "$n")/v1/history?limit=256" | jq -c "[.history[] | {seq, what, result} | select(.seq <= $before_dec)]")
	assert_eq "$before_hist" "$hist" "history of $n after restart"
done
assert_eq "$before_dec" "$(decisions east)" "decisions after a restart that changed nothing"
# and it still takes writes
ctl east site add after-restart >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
assert_contains "$(sfield witness '.sites | join(" ")')" after-restart "sites after restart"

# an agent whose Raft port is taken exits 1 and says why
agent clash 7 west "" "" "$(url east)"
sed -i "s/^raft = .*/raft = 127.0.0.1:$(raft_port 1)/" "$IT_DIR/clash/poolpaird.conf"
expect_exit 1 timeout 20 "$BUILD/poolpaird" -c "$IT_DIR/clash/poolpaird.conf"
line=$(grep -i 'error' <<<"$OUT" | head -n1 || true)
[ -n "$line" ] || fail "no error line from an agent whose raft port is taken: $OUT"
# the message after "start:" names the cause, it is not empty
if grep -Eq 'start: *$' <<<"$line"; then
	fail "the error of a taken raft port has no reason: '$line'"
fi
alive east || fail "east died when another agent tried its port"
log "ok"
