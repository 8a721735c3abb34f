#!/usr/bin/env bash
# Rolling restart and upgrade drill: under the user-model load (users
# enabled and their contacts written at both pools' agents), every agent is
# restarted one at a time with SIGTERM, the leader included, each one back
# and caught up before the next. Asserted: every SIGTERM exits 0 (the
# leader hands its leadership over), the quorum holds throughout (a control
# plane decision is committed while each agent is down), a leader exists
# except during short elections, no failover happens (every pool normal,
# epoch 1, no failover decision in the history, no write refused 421), and
# every acknowledged write is at its owner and, after a backup sync, at the
# pair.
#
# Maintenance: with policy auto a restarting pool agent that stays silent
# for lease + grace (the harness's 1000 ms + 500 ms, about as long as a stop
# and a start take) is failed over. So, like an operator planning the
# drill, the test pauses automatic failover of both pools first (poolpairctl
# pool pause) and resumes it after; and it keeps each pool agent down until
# the leader has counted its pool down and says that only the pause holds
# the failover back: without the pause that pool WOULD be failed over, and
# the assertions would see it.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
E=$(url east)
W=$(url west)
http() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
out=$(curl -s -L --max-time 5 -XPUT "$(url witness)/v1/policy" \
	-d '{"failover":"auto","max_lag_on_failover_ms":60000,"cooldown_ms":1000}')
assert_json "$out" '.policy.failover == "auto"' "policy auto"
for pool in pool-east pool-west; do
	expect_exit 0 ctl witness pool pause "$pool" --reason "rolling restart"
done
wait_until 20 "agree_digest ${ALL[*]}"
wait_until 20 "[ \"\$(http $E/readyz?pool=pool-east)\" == 200 ] && [ \"\$(http $W/readyz?pool=pool-west)\" == 200 ]"

# ---- load -----------------------------------------------------------------
# writer URL POOL PREFIX: enable users PREFIXi in POOL and write their
# contacts, one after the other; every acknowledged write is recorded in
# PREFIX.acked ("u I" enabled, "c I" contacts). A write refused while the
# agent restarts (no answer, 503) is retried; a 409 for the user means an
# earlier attempt that got no answer did enable it. Any 421 (the user set
# moved) is recorded in PREFIX.misdirected.
writer() {
	local url=$1 pool=$2 p=$3 i=0 code step
	while [ ! -f "$IT_DIR/stop" ]; do
		i=$((i + 1))
		step=u
		while [ ! -f "$IT_DIR/stop" ]; do
			if [ $step = u ]; then
				code=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' -XPOST "$url/v1/users" \
					-d "{\"sip\":\"sip:$p$i@example.com\",\"pool\":\"$pool\"}" || true)
				case $code in
				201) echo "u $i" >>"$IT_DIR/$p.acked"; step=c; continue ;;
				409) step=c; continue ;;
				esac
			else
				code=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' -XPUT \
					"$url/v1/users/sip:$p$i@example.com/contacts" \
					-d "[{\"sip\":\"sip:friend$i@example.com\",\"n\":$i}]" || true)
				[ "$code" == 200 ] && { echo "c $i" >>"$IT_DIR/$p.acked"; break; }
			fi
			[ "$code" == 421 ] && echo "$step $i" >>"$IT_DIR/$p.misdirected"
			echo "$code" >>"$IT_DIR/$p.refused"
			sleep 0.05
		done
		sleep 0.01
	done
}

# sampler: every 100 ms, each agent that answers: time (ms), name and its
# status on one line (read with one jq at the end; cheap while the load runs)
sampler() {
	local n t
	while [ ! -f "$IT_DIR/stop" ]; do
		for n in "${ALL[@]}"; do
			t=$(date +%s%3N)
			{ printf '%s %s ' "$t" "$n"; curl -sf --max-time 1 "$(url "$n")/v1/status" | tr -d '\n'; echo; } \
				>>"$IT_DIR/samples.raw" 2>/dev/null || true
		done
		sleep 0.1
	done
}

# on exit (a failure too): stop the writers and the sampler, then the agents
BG=()
rolling_on_exit() {
	local rc=$?
	set +eE
	trap - ERR
	touch "$IT_DIR/stop"
	for pid in "${BG[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${BG[@]}"; do wait "$pid" 2>/dev/null; done
	(exit "$rc")
	it_cleanup
}
trap rolling_on_exit EXIT

touch "$IT_DIR/e.acked" "$IT_DIR/w.acked"
writer "$E" pool-east e &
WE=$!
writer "$W" pool-west w &
WW=$!
sampler &
SAMPLER=$!
BG=("$WE" "$WW" "$SAMPLER")
sleep 1

# ---- the drill --------------------------------------------------------------
# The leader first, then the other two; whoever leads at its turn hands over.
first=$(agree_leader "${ALL[@]}")
ORDER=("$first")
while read -r n; do ORDER+=("$n"); done < <(others "$first")
leader_restarts=0
step=0
for n in "${ORDER[@]}"; do
	step=$((step + 1))
	mapfile -t rest < <(others "$n")
	was=$(leader_name "${rest[0]}")
	before_e=$(wc -l <"$IT_DIR/e.acked")
	before_w=$(wc -l <"$IT_DIR/w.acked")
	t0=$(date +%s%3N)
	pp_kill "$IT_DIR" "$n" TERM
	wait_exit "$n" 20 || fail "$n did not exit after SIGTERM"
	assert_eq 0 "$IT_STATUS" "exit status of $n after SIGTERM"
	t_down=$(date +%s%3N)
	if [ "$was" == "$n" ]; then
		leader_restarts=$((leader_restarts + 1))
		lg=$(cat "$IT_DIR/$n/log")
		assert_contains "$lg" "leadership transfer done" "log of leader $n"
		assert_not_contains "$lg" "did not finish" "log of leader $n (the other two were up)"
		assert_not_contains "$lg" "did not complete" "log of leader $n (the other two were up)"
	fi
	# the other two keep a quorum: a decision commits while n is down
	wait_leader 10 "${rest[@]}"
	out=$(curl -s -L --max-time 5 -XPOST "$(url "${rest[0]}")/v1/sites" -d "{\"name\":\"drill-$step\"}")
	assert_json "$out" '.site == "drill-'$step'"' "a decision while $n is down"
	pool=$(awk -F' = ' '$1 == "pool" { print $2 }' "$IT_DIR/$n/poolpaird.conf")
	if [ -n "$pool" ]; then
		# the leader counts the pool down: only the pause holds it back
		wait_until 20 "sfield $LEADER '.pools[] | select(.name == \"$pool\") | .auto_failover_refusal' | grep -q 'paused for maintenance'"
		log "while $n is down, $LEADER says: $(sfield "$LEADER" ".pools[] | select(.name == \"$pool\") | .auto_failover_refusal")"
	fi
	start "$n"
	wait_leader 20 "${ALL[@]}"
	wait_until 30 "agree_digest ${ALL[*]}"
	pool=$(jq -r '.self.pool // empty' <<<"$(status "$n")")
	if [ -n "$pool" ]; then
		wait_until 20 "[ \"\$(http $(url "$n")/readyz?pool=$pool)\" == 200 ]"
	fi
	t_up=$(date +%s%3N)
	log "restarted $n (leader before: $was, after: $LEADER): down $((t_down - t0)) ms after SIGTERM, caught up $((t_up - t_down)) ms later"
	# the load goes on at both pools once the agent is back
	wait_until 20 "[ \$(wc -l <$IT_DIR/e.acked) -gt $((before_e + 5)) ] && [ \$(wc -l <$IT_DIR/w.acked) -gt $((before_w + 5)) ]"
done
[ "$leader_restarts" -ge 1 ] || fail "the leader was never restarted while leading"
for pool in pool-east pool-west; do
	expect_exit 0 ctl witness pool resume "$pool"
done
sleep 1
touch "$IT_DIR/stop"
wait "$WE" "$WW" "$SAMPLER"

# ---- no failover, a leader throughout -------------------------------------
if [ -s "$IT_DIR/e.misdirected" ] || [ -s "$IT_DIR/w.misdirected" ]; then
	fail "writes refused 421 (a user set moved): $(cat "$IT_DIR"/*.misdirected)"
fi
for n in "${ALL[@]}"; do
	assert_json "$(status "$n")" \
		'[.pools[] | select(.state == "normal" and .owner == .name and .epoch == 1)] | length == 2' \
		"pools at $n after the drill"
done
# one line per sample: time name state leader-id term pool:state:owner:epoch,...
jq -R -r 'capture("^(?<t>[0-9]+) (?<n>[a-z]+) (?<j>[{].*)$") | .t as $t | .n as $n | .j | fromjson? |
	"\($t) \($n) \(.self.state) \(.cluster.leader.id // "none") \(.cluster.term) \([.pools[] | "\(.name):\(.state):\(.owner):\(.epoch)"] | join(","))"' \
	"$IT_DIR/samples.raw" >"$IT_DIR/samples"
bad=$(awk '{ n = split($6, p, ","); for (i = 1; i <= n; i++) { split(p[i], f, ":");
	if (f[2] != "normal" || f[3] != f[1] || f[4] != 1) { print; break } } }' "$IT_DIR/samples" | head -n 3)
[ -z "$bad" ] || fail "a pool left state normal/epoch 1 during the drill: $bad"
h=$(curl -s "$(url witness)/v1/history?limit=256")
assert_json "$h" '.history | length > 0' "history"
assert_json "$h" '[.history[] | select(.what | test("failover|failback|recovering")) |
	select(.what | test("^(set policy|pause pool|resume pool) ") | not)] | length == 0' \
	"no failover decision in the history"
assert_json "$h" '[.history[] | select(.what | test("^(pause|resume) pool pool-(east|west): ")) | select(.result == "ok")] | length == 4' \
	"both pools paused and resumed"
# leadership: lost only where it was handed over. Each term is one
# election, so a leader lost for any other reason (a timeout, a follower's
# restart without pre-vote) shows as a term more than the hand-overs; the
# longest stretch without a sample of a leader is logged, not judged (it
# counts the sampler's own delays, which grow with the machine's load)
samples=$(wc -l <"$IT_DIR/samples")
[ "$samples" -gt 30 ] || fail "only $samples status samples"
gap=$(awk '$3 == "leader" { if (last && $1 - last > max) max = $1 - last; last = $1 } END { print max + 0 }' "$IT_DIR/samples")
terms=$(awk '{ print $5 }' "$IT_DIR/samples" | sort -n | uniq | wc -l)
leaders=$(awk '$3 == "leader" { print $2 }' "$IT_DIR/samples" | sort -u | wc -l)
log "status samples: $samples, longest time without an agent reporting itself leader: $gap ms, terms seen: $terms, agents seen leading: $leaders"
[ "$leaders" -ge 2 ] || fail "the sampler saw $leaders agent(s) lead across $leader_restarts leader restart(s)"
# one election per leader hand-over, none for a follower's restart (pre-vote)
[ "$terms" -le $((leader_restarts + 1)) ] || fail "$terms terms for $leader_restarts leader restarts"

# ---- nothing lost -------------------------------------------------------------
for pw in "pool-east e $E $W" "pool-west w $W $E"; do
	read -r pool p owner pair <<<"$pw"
	out=$(curl -s --max-time 60 -XPOST "$owner/v1/backup/$pool/sync?timeout=50")
	assert_json "$out" '.lag_records == 0' "the pair has all of $pool"
	nu=$(grep -c '^u ' "$IT_DIR/$p.acked")
	nc=$(grep -c '^c ' "$IT_DIR/$p.acked")
	[ "$nc" -gt 20 ] || fail "only $nc contacts writes acknowledged at $pool"
	missing=0
	while read -r k i; do
		for at in "$owner" "$pair"; do
			if [ "$k" == u ]; then
				[ "$(http "$at/v1/users/sip:$p$i@example.com/location")" == 200 ] ||
					{ missing=$((missing + 1)); log "user $p$i missing at $at"; }
			else
				v=$(curl -s --max-time 5 "$at/v1/users/sip:$p$i@example.com/contacts")
				jq -e ".value[0].n == $i and .epoch == 1" >/dev/null 2>&1 <<<"$v" ||
					{ missing=$((missing + 1)); log "contacts of $p$i wrong at $at: $v"; }
			fi
		done
	done <"$IT_DIR/$p.acked"
	assert_eq 0 "$missing" "acknowledged writes of $pool missing"
	refused=$(sort "$IT_DIR/$p.refused" 2>/dev/null | uniq -c | tr -s ' \n' ' ' || true)
	log "$pool: $nu users and $nc contacts acknowledged, all at the owner and the pair (refused and retried: ${refused:-none})"
done
log "ok"
