#!/usr/bin/env bash
# Data at risk: the writes east acknowledged that west has not. With the
# pair (west) stopped and N writes made at east, `poolpairctl failover
# pool-east --what-if` (and the API) reports at least N records and some
# bytes, measured at east's agent at that moment; once west is back and
# has everything, nothing. Then east's stream is cut, M more writes are
# made and east dies: the what-if gives east's last report (all there is
# of a dead pool), saying so and how old it is, never below what east's
# outbox held unacknowledged when it died (records and bytes, read from a
# copy of its store), and the disaster failover decision records it.
# Needs root: iptables rules on lo, matched by the agents' cgroups.
source "$(dirname "$0")/lib.sh"

net_init
boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
net_start east east
net_start west west
net_start wit witness
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl witness pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl witness pair pool-east pool-west >/dev/null
# the failovers here are the operator's: policy manual
out=$(curl -s -L --max-time 5 -XPUT "$(url witness)/v1/policy" -d '{"failover":"manual"}')
assert_json "$out" '.policy.failover == "manual"' "policy manual"
E=$(url east)
http() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
wait_until 20 "agree_digest ${ALL[*]}"
wait_writable 30 east pool-east west pool-west
write() { # PREFIX N: N users of pool-east written at east
	local i
	for ((i = 1; i <= $2; i++)); do
		assert_eq 201 "$(http -XPOST "$E/v1/users" -d "{\"sip\":\"sip:$1$i@example.com\",\"pool\":\"pool-east\"}")" "write $1$i at east"
	done
}
what_if() { # AGENT [--disaster]: the what-if JSON from poolpairctl
	ctl "$1" --json failover pool-east --what-if "${@:2}" || true
}

# ---- 1. the pair stopped: N writes, all of them at risk, measured now -------
pp_kill "$IT_DIR" west STOP
wait_leader 30 east witness
wait_writable 30 east pool-east
N=25
write stop "$N"
# when west led, the new leader has not heard east yet: until it has, it
# rightly calls pool-east not reachable (a disaster what-if)
wait_until 20 "what_if witness | jq -e '.pool_alive == true'"
out=$(what_if witness)
log "what-if with west stopped: $(jq -c .data_at_risk <<<"$out")"
assert_json "$out" ".pool_alive == true and .mode == \"planned\" and .data_at_risk.source == \"live\" and .data_at_risk.records >= $N and .data_at_risk.bytes > 0" "what-if (poolpairctl --json)"
out=$(curl -s -L --max-time 5 -XPOST "$(url witness)/v1/pools/pool-east/failover?what_if=true&disaster=true")
assert_json "$out" ".mode == \"disaster\" and .data_at_risk.source == \"live\" and .data_at_risk.records >= $N and .data_at_risk.bytes > 0 and .data_at_risk.seconds > 0" "what-if (API, disaster)"
expect_exit 0 ctl witness failover pool-east --what-if
assert_contains "$OUT" "(measured at the pool's agent now)" "what-if (poolpairctl)"
assert_contains "$OUT" "(a planned failover ships them to the pair first and loses none)" "what-if (poolpairctl)"
printf '%s\n' "$OUT" | sed 's/^/    /' >&2
# live: once west has them, nothing is at risk
pp_kill "$IT_DIR" west CONT
wait_until 30 "what_if witness | jq -e '.data_at_risk.source == \"live\" and .data_at_risk.records == 0 and .data_at_risk.bytes == 0'"

# ---- 2. east dies with M writes never shipped: its last report ---------------
wait_leader 30 "${ALL[@]}"
if [ "$LEADER" == east ]; then
	pp_kill "$IT_DIR" east TERM
	wait_exit east 20 || fail "east did not stop"
	net_start east east
	wait_leader 30 "${ALL[@]}"
	wait_writable 30 east pool-east
fi
net_cut data east "$(data_port 1)" west "$(data_port 2)"
M=15
write cut "$M"
wait_until 20 "curl -s $E/v1/backup | jq -e '[.backup[] | select(.from == \"pool-east\" and .category == \"user_data\")][0] | .lag_records >= $M'"
sleep 0.5 # a few heartbeats carry east's figures to the others
pp_kill "$IT_DIR" east KILL
wait_exit east 10 || fail "east still runs"
# the truth: what east's store holds unacknowledged (read on a copy)
mkdir -p "$IT_DIR/east-copy"
for f in store.db store.db-wal; do
	[ -f "$IT_DIR/east/data/$f" ] && cp "$IT_DIR/east/data/$f" "$IT_DIR/east-copy/"
done
read -r t_records t_bytes < <(sqlite3 -separator ' ' "$IT_DIR/east-copy/store.db" \
	"SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0) FROM outbox WHERE user_set = 'pool-east'")
log "east's outbox when it died: $t_records records, $t_bytes bytes"
[ "$t_records" -ge "$M" ] || fail "east's outbox holds $t_records records, not $M"
wait_until 20 "what_if witness --disaster | jq -e '.pool_alive == false'"
out=$(what_if witness --disaster)
log "what-if with east dead: $(jq -c .data_at_risk <<<"$out")"
assert_json "$out" ".data_at_risk.source == \"last_report\" and .data_at_risk.records >= $t_records and .data_at_risk.bytes >= $t_bytes and .data_at_risk.report_age_ms >= 0" "what-if of a dead pool (never below east's outbox)"
expect_exit 0 ctl witness failover pool-east --what-if --disaster
assert_contains "$OUT" "(the pool's last report, " "what-if of a dead pool (poolpairctl)"
printf '%s\n' "$OUT" | sed 's/^/    /' >&2
expect_exit 0 ctl witness failover pool-east --disaster
decision() { curl -s "$(url witness)/v1/history?limit=20" | jq -c '[.history[] | select(.what | startswith("failover pool-east to pool-west")) | select(.result == "ok")] | last'; }
wait_until 10 "[ \"\$(decision)\" != null ]" # the witness applies it
d=$(decision)
log "the decision: $d"
assert_json "$d" ".forced == true and .data_at_risk.records >= $t_records and .data_at_risk.bytes >= $t_bytes" "the disaster decision in the history"
assert_contains "$(jq -r .reason <<<"$d")" "data at risk as last reported, " "the decision's reason"
log "ok"
