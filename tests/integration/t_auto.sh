#!/usr/bin/env bash
# timeout: 420
# The gates of automatic failover, each shown holding a down pool back,
# with its reason in the leader's status (auto_failover_refusal):
#   A. cooldown: after an automatic failover and a failback, pool-east goes
#      down again within the cooldown, after the leader that made the first
#      move was restarted (the cooldown is committed, not remembered): no
#      second automatic failover;
#   D. maintenance: pool-east paused (poolpairctl pool pause) goes down: no
#      automatic failover; a manual one is still allowed;
#   B. max_lag_on_failover: east's stream to west cut, its oldest
#      unacknowledged write older than the limit when it goes down: none;
#   C. the pair holds no lease: east killed and west cut off from the
#      cluster (its API still answers, so only the gate stops a takeover):
#      neither pool is failed over.
# Five voters (east, west and three witnesses) so that the witnesses keep a
# quorum when both pools are gone. Lease 2 s + grace 1.5 s, so that a
# restart never counts as a pool going down. Needs root (iptables, cgroups).
IT_EXTRA="[failover]\nheartbeat = 100ms\nlease = 2000ms\ngrace = 1500ms"
source "$(dirname "$0")/lib.sh"

net_init
boot=$(it_boot_list 1 2 3 4 5)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
agent w2 4 witness2 "" "$boot" ""
agent w3 5 witness3 "" "$boot" ""
net_start east east
net_start west west
net_start wit witness w2 w3
ALL=(east west witness w2 w3)
WIT=(witness w2 w3)
wait_leader 30 "${ALL[@]}"
ctl witness pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pair pool-east pool-west >/dev/null
E=$(url east)
http() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
set_policy() { # JSON: the cluster's policy (this test is about auto)
	local out
	out=$(curl -s -L --max-time 5 -XPUT "$(url witness)/v1/policy" -d "$1")
	assert_json "$out" '.policy.failover == "auto"' "policy $1"
}
set_policy '{"failover":"auto","max_lag_on_failover_ms":60000,"cooldown_ms":180000}'
wait_until 20 "agree_digest ${ALL[*]}"
wait_writable 30 east pool-east west pool-west

alive_names() { local n; for n in "${ALL[@]}"; do alive "$n" && echo "$n"; done; }
# lead: the leader's name, as the agents that answer agree on it
lead() { local n; mapfile -t n < <(alive_names); agree_leader "${n[@]}"; }
# pool NAME FIELD: a field of pool NAME in the status of a witness
pool() { sfield witness ".pools[] | select(.name == \"$1\") | .$2"; }
refusal() { sfield "$(lead)" ".pools[] | select(.name == \"$1\") | .auto_failover_refusal"; }
# held POOL PATTERN: the leader refuses to fail POOL over for PATTERN, or
# POOL was moved anyway (then the assertion after the wait says so)
held() { [[ "$(refusal "$1")" == *"$2"* ]] || [ "$(pool "$1" state)" != normal ]; }
expect_held() { # POOL PATTERN WHAT
	wait_until 60 "held $1 '$2'"
	assert_json "$(status witness)" ".pools[] | select(.name == \"$1\") | .state == \"normal\" and .owner == \"$1\"" "$3: $1 not failed over"
	log "$3: the leader says: $(refusal "$1")"
}
automatic() { curl -s "$(url witness)/v1/history?limit=256" | jq '[.history[] | select(.what | startswith("automatic failover pool-east")) | select(.result == "ok")] | length'; }
restart() { # NAME: SIGTERM and start again
	pp_kill "$IT_DIR" "$1" TERM
	wait_exit "$1" 20 || fail "$1 did not stop"
	case $1 in
	east) net_start east east ;;
	west) net_start west west ;;
	*) net_start wit "$1" ;;
	esac
}
east_back() { # start east again and wait until it may write pool-east
	net_start east east
	wait_until 60 "[ \"\$(pool pool-east state)\" == normal ] || [ \"\$(pool pool-east state)\" == recovering ]"
	if [ "$(pool pool-east state)" == recovering ]; then failback_east; fi
	wait_writable 30 east pool-east
}
failback_east() {
	wait_until 60 "ctl witness failback pool-east --what-if"
	expect_exit 0 ctl witness failback pool-east
	wait_until 20 "[ \"\$(pool pool-east state)\" == normal ]"
}

# ---- A. cooldown, across a restart of the leader that made the move --------
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
wait_until 60 "[ \"\$(pool pool-east state)\" == failed_over ]"
L1=$(lead)
assert_eq 1 "$(automatic)" "A: one automatic failover"
last=$(pool pool-east last_auto_failover_ms)
[ "$last" -gt 0 ] || fail "A: the time of the automatic failover is not in the state: $last"
log "A: pool-east failed over automatically, led by $L1"
start_east() { net_start east east; }
start_east
wait_until 60 "[ \"\$(pool pool-east state)\" == recovering ]"
failback_east
wait_writable 30 east pool-east
assert_eq "$last" "$(pool pool-east last_auto_failover_ms)" "A: the failback keeps the time of the automatic failover"
# the leader that made the move forgets whatever it kept in memory
if [ "$L1" == west ]; then
	# (pool-west must not be failed over while west restarts: its lease)
	restart west
	wait_writable 30 west pool-west
else
	restart "$L1"
fi
wait_leader 30 "${ALL[@]}"
wait_until 20 "agree_digest ${ALL[*]}"
log "A: $L1 restarted, $LEADER leads"
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
expect_held pool-east "cooldown: the last automatic failover of pool-east was" "A"
assert_eq 1 "$(automatic)" "A: still one automatic failover"
east_back

# ---- D. maintenance: paused, no automatic failover; manual allowed ----------
set_policy '{"cooldown_ms":0}'
expect_exit 0 ctl witness pool pause pool-east --reason "maintenance of east"
assert_contains "$OUT" "pool pool-east paused: no automatic failover until resumed (decision" "D: pool pause"
wait_until 10 "[ \"\$(pool pool-east paused)\" == true ]"
assert_eq "maintenance of east" "$(pool pool-east pause_reason)" "D: the reason in status"
expect_exit 0 ctl witness status
assert_contains "$OUT" "pool-east: paused since" "D: poolpairctl status"
assert_contains "$OUT" "(maintenance of east): no automatic failover until resumed" "D: poolpairctl status"
h=$(curl -s "$(url witness)/v1/history?limit=10")
assert_json "$h" '[.history[] | select(.what == "pause pool pool-east: no automatic failover until resumed" and .reason == "maintenance of east" and .result == "ok")] | length == 1' "D: the pause in the history"
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
expect_held pool-east "pool-east is down but paused for maintenance since" "D"
assert_contains "$(refusal pool-east)" "(maintenance of east): resume it to allow an automatic failover" "D: refusal"
# an operator may still fail it over
expect_exit 0 ctl witness failover pool-east --disaster
wait_until 20 "[ \"\$(pool pool-east state)\" == failed_over ]"
assert_eq 1 "$(automatic)" "D: no automatic failover"
assert_eq true "$(pool pool-east paused)" "D: still paused after the manual failover"
start_east
wait_until 60 "[ \"\$(pool pool-east state)\" == recovering ]"
failback_east
wait_writable 30 east pool-east
expect_exit 0 ctl witness pool resume pool-east
assert_contains "$OUT" "pool pool-east resumed" "D: pool resume"
wait_until 10 "[ \"\$(pool pool-east paused)\" == false ]"
assert_json "$(curl -s "$(url witness)/v1/history?limit=5")" '[.history[] | select(.what == "resume pool pool-east: automatic failover again")] | length == 1' "D: the resume in the history"

# ---- B. max_lag_on_failover: east far behind when it goes down -------------
set_policy '{"max_lag_on_failover_ms":300}'
net_cut data east "$(data_port 1)" west "$(data_port 2)"
for i in 1 2 3 4 5; do
	assert_eq 201 "$(http -XPOST "$E/v1/users" -d "{\"sip\":\"sip:b$i@example.com\",\"pool\":\"pool-east\"}")" "B: write $i at east"
done
# east's own figures say its oldest unshipped write is older than the limit
wait_until 20 "curl -s $E/v1/backup | jq -e '[.backup[] | select(.from == \"pool-east\" and .category == \"user_data\") | .lag_seconds] | max > 0.6'"
sleep 0.5 # a few heartbeats carry that to the leader
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
expect_held pool-east "ms behind (max_lag_on_failover 300 ms" "B"
assert_eq 1 "$(automatic)" "B: no automatic failover"
net_heal data
east_back # (the lag gate holds pool-east back until east is heard again)
set_policy '{"max_lag_on_failover_ms":60000}'
wait_until 30 "curl -s --max-time 40 -XPOST $E/v1/backup/pool-east/sync?timeout=30 | jq -e '.lag_records == 0'"

# ---- C. both pools down: the pair holds no lease ----------------------------
if [ "$(lead)" == west ]; then restart west; wait_writable 30 west pool-west; wait_leader 30 "${ALL[@]}"; fi
[ "$(lead)" != west ] || fail "C: west still leads"
before=$(curl -s "$(url witness)/v1/history?limit=1" | jq '.history[-1].seq')
pp_kill "$IT_DIR" east KILL
# west cut off from every agent's Raft and API ports: no heartbeat, no
# lease; the leader can still reach west's API (a takeover would answer)
ports=""
for id in 1 3 4 5; do ports+="${ports:+,}$(raft_port $id),$(api_port $id)"; done
net_rule west-off -m cgroup --path "$(net_cgroup west)" -m multiport --dports "$ports"
wait_exit east 10 || fail "east still runs"
expect_held pool-east "pool-east is down but its pair pool-west holds no lease" "C"
expect_held pool-west "pool-west is down but its pair pool-east holds no lease" "C"
assert_eq 200 "$(http "$(url west)/healthz")" "C: west's API answers"
h=$(curl -s "$(url witness)/v1/history?limit=256")
assert_json "$h" "[.history[] | select(.seq > $before) | select(.what | test(\"failover\"))] | length == 0" "C: no failover decided"
log "ok"
