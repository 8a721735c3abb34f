#!/usr/bin/env bash
# Multi-host: every agent on its own host — a network namespace with its
# own address on a private /24, not loopback ports — started the way its
# systemd unit starts it (ExecStartPre: poolpaird --check -c FILE;
# ExecStart: poolpaird -c FILE in its own process group, output to its log;
# stop: SIGTERM, exit 0). The demo's scenario works the same there: a
# leader, pool-east and pool-west defined and paired, three members
# reachable at their hosts' addresses, the pair supported; a user written at
# east's agent reaches west's; a planned failover and the failback.
# The agents run without [tls] on their hosts' addresses: without
# [listen] insecure = true --check and the start refuse that; with it each
# agent warns at start, and /v1/status and poolpairctl status say so.
#
# The hosts are namespaces PREFIX-east, -west, -witness and -ops (the
# operator's host: every curl and poolpairctl runs there), cabled by veth
# pairs to a bridge inside namespace PREFIX-sw; the /24 exists only inside
# them, nothing is added to the host's own namespace. PREFIX is ppnet-PID;
# everything is removed on exit (failure too), and leftovers of an earlier
# run whose process is gone are removed first. Needs root (ip netns); when
# `ip netns add` is not permitted the test is skipped.
source "$(dirname "$0")/lib.sh"

command -v ip >/dev/null || fail "t_netns needs ip (iproute2)"
NS_PREFIX="ppnet-$$"
NS_HOSTS=(east west witness ops)
NET=10.231.7
declare -A ADDR=([east]=$NET.1 [west]=$NET.2 [witness]=$NET.3 [ops]=$NET.9)
ns() { echo "$NS_PREFIX-$1"; }

# ns_del_run PREFIX: delete the namespaces of one run (whatever still runs
# in them is killed first: only agents of that run live there)
ns_del_run() {
	local n pid
	for n in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "^$1-(sw|east|west|witness|ops)\$" || true); do
		for pid in $(ip netns pids "$n" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
		ip netns del "$n" 2>/dev/null || true
	done
}

# leftovers of earlier runs that crashed: only ours (ppnet-PID-...), only
# when that PID no longer runs
for old in $(ip netns list 2>/dev/null | awk '{ print $1 }' | sed -nE 's/^(ppnet-([0-9]+))-(sw|east|west|witness|ops)$/\1/p' | sort -u); do
	kill -0 "${old#ppnet-}" 2>/dev/null && continue
	log "removing the namespaces of an earlier run: $old-*"
	ns_del_run "$old"
done

if ! ip netns add "$(ns sw)" 2>"$IT_DIR/netns.err"; then
	log "SKIP: ip netns add is not permitted here: $(cat "$IT_DIR/netns.err")"
	exit 0
fi

# on exit: stop the agents (the lib's cleanup), then remove the namespaces
ns_on_exit() {
	local rc=$? pid
	set +eE
	trap - ERR
	for pid in "${PP_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
	for _ in $(seq 50); do
		pid=""
		for p in "${PP_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && pid=$p; done
		[ -z "$pid" ] && break
		sleep 0.1
	done
	ns_del_run "$NS_PREFIX"
	(exit "$rc")
	it_cleanup
}
trap ns_on_exit EXIT

# ---- the network: a bridge in PREFIX-sw, one veth pair per host -----------
ip -n "$(ns sw)" link set lo up
ip -n "$(ns sw)" link add br0 type bridge
ip -n "$(ns sw)" link set br0 up
for h in "${NS_HOSTS[@]}"; do
	ip netns add "$(ns "$h")"
	ip -n "$(ns sw)" link add "v-$h" type veth peer name eth0 netns "$(ns "$h")"
	ip -n "$(ns sw)" link set "v-$h" master br0 up
	ip -n "$(ns "$h")" link set lo up
	ip -n "$(ns "$h")" addr add "${ADDR[$h]}/24" dev eth0
	ip -n "$(ns "$h")" link set eth0 up
done
# the /24 exists only inside the namespaces
assert_eq 0 "$(ip -o addr show | grep -c " $NET\." || true)" "addresses of $NET.0/24 in the host's own namespace"

# ---- the operator's view from PREFIX-ops ------------------------------------
ops() { ip netns exec "$(ns ops)" "$@"; }
url() { echo "http://${ADDR[$1]}:7101"; }
api() { echo "${ADDR[$1]}:7101"; }
status() { ops curl -sf --max-time 5 "$(url "$1")/v1/status"; }
http() { ops curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"; }
ctl() {
	local n=$1
	shift
	ops "$BUILD/poolpairctl" --api "$(url "$n")" "$@"
}

# A write an agent cannot take now is refused with 503 and changes nothing:
# "no lease" while its lease has lapsed, "catching up" once it has one
# again until it has applied what the cluster had committed by then
# (docs/api.md, Leases); only then does it answer from its view (accept,
# or 421 naming the owner). The test's leases are 1 s and renewed from
# barriers and heartbeats a few hundred ms apart, so on a loaded machine a
# lease can lapse between any two requests, readyz's 200 included. The
# writes below are asked again while the answer is one of those two
# refusals, for at most SECONDS; any other answer is final.
transient() { # ERROR-CODE MESSAGE: a refusal that says "not now"
	[ "$1" == unavailable ] && [[ "$2" == "no lease:"* || "$2" == "catching up:"* ]]
}
# ctl_write SECONDS NAME ARGS...: poolpairctl ARGS at NAME until it is not
# refused as "not now"; must succeed (output in OUT)
ctl_write() {
	local secs=$1 n=$2 end
	shift 2
	end=$((SECONDS + secs))
	while :; do
		OUT=$(ctl "$n" "$@" 2>&1) && return 0
		if ! [[ "$OUT" =~ ^poolpairctl:\ ([a-z_]+):\ (.*)$ ]] ||
			! transient "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ||
			[ $SECONDS -ge $end ]; then
			fail "'ctl $n $*' failed: $OUT"
		fi
		log "'ctl $n $*' refused for now (${BASH_REMATCH[2]%%:*}): asking again"
		sleep 0.1
	done
}
# http_answer SECONDS CURL-ARGS...: a request from PREFIX-ops, made again
# while it is refused as "not now"; the final status in CODE, its body in
# ANSWER (call it directly, not in $(...))
http_answer() {
	local secs=$1 end msg
	shift
	end=$((SECONDS + secs))
	while :; do
		CODE=$(ops curl -s --max-time 10 -o "$IT_DIR/answer.json" -w '%{http_code}' "$@" || true)
		ANSWER=$(cat "$IT_DIR/answer.json" 2>/dev/null || true)
		msg=$(jq -r '.message // ""' <<<"$ANSWER" 2>/dev/null || true)
		[ "$CODE" == 503 ] && [ $SECONDS -lt $end ] &&
			transient "$(jq -r '.error // ""' <<<"$ANSWER" 2>/dev/null || true)" "$msg" ||
			return 0
		log "'$*' refused for now (${msg%%:*}): asking again"
		sleep 0.1
	done
}

# ---- the agents: configuration as on three hosts, started like the units --
BOOT="1@${ADDR[east]}:7001, 2@${ADDR[west]}:7001, 3@${ADDR[witness]}:7001"
host_config() { # NAME ID SITE POOL|""
	local name=$1 id=$2 site=$3 pool=$4 a=${ADDR[$1]}
	# shellcheck disable=SC2004 # IT_ID is an associative array (lib.sh)
	IT_ID[$name]=$id
	IT_NAMES+=("$name")
	mkdir -p "$IT_DIR/$name"
	{
		echo "[agent]"
		echo "name = $name"
		echo "id = $id"
		echo "site = $site"
		[ -n "$pool" ] && echo "pool = $pool"
		echo "data_dir = $IT_DIR/$name/data"
		echo
		echo "[listen]"
		echo "raft = $a:7001"
		echo "api = $a:7101"
		[ -n "$pool" ] && echo "data = $a:7201"
		echo "insecure = true" # no [tls], off loopback
		echo
		echo "[cluster]"
		echo "bootstrap = $BOOT"
		peers=""
		for o in east west witness; do
			[ "$o" = "$name" ] || peers+="${peers:+, }http://${ADDR[$o]}:7101"
		done
		echo "peers = $peers"
		echo "election_timeout = $PP_ELECTION"
		echo "heartbeat_timeout = $PP_RAFT_HEARTBEAT"
		echo
		printf '%b\n' "$IT_EXTRA"
	} >"$IT_DIR/$name/poolpaird.conf"
}
host_start() { # NAME: ExecStartPre, then ExecStart in its own process group
	local name=$1 conf=$IT_DIR/$1/poolpaird.conf
	expect_exit 0 ip netns exec "$(ns "$name")" "$BUILD/poolpaird" --check -c "$conf"
	setsid ip netns exec "$(ns "$name")" "$BUILD/poolpaird" -c "$conf" \
		>>"$IT_DIR/$name/log" 2>&1 </dev/null &
	echo $! >"$IT_DIR/$name/pid"
	PP_PIDS+=($!)
}
host_config east 1 east pool-east
host_config west 2 west pool-west
host_config witness 3 witness ""
# without [listen] insecure = true, listening off loopback without [tls] is
# refused, by --check (the unit's ExecStartPre) and at start alike
grep -v '^insecure = ' "$IT_DIR/east/poolpaird.conf" >"$IT_DIR/east/secure.conf"
expect_exit 1 ip netns exec "$(ns east)" "$BUILD/poolpaird" --check -c "$IT_DIR/east/secure.conf"
assert_contains "$OUT" "[listen] raft ${ADDR[east]}:7001 is not a loopback address and there is no [tls] section" "--check without insecure"
expect_exit 1 ip netns exec "$(ns east)" "$BUILD/poolpaird" -c "$IT_DIR/east/secure.conf"
assert_contains "$OUT" "set [listen] insecure = true" "start without insecure"
ALL=(east west witness)
for n in "${ALL[@]}"; do host_start "$n"; done

wait_leader 30 "${ALL[@]}"
log "leader $LEADER at $(sfield "$LEADER" .cluster.leader.api)"
# each agent listens on its host's address only
for n in "${ALL[@]}"; do
	lst=$(ip netns exec "$(ns "$n")" ss -Htln | awk '{ print $4 }' | sort | tr '\n' ' ')
	assert_contains "$lst" "${ADDR[$n]}:7001" "listeners of $n"
	assert_contains "$lst" "${ADDR[$n]}:7101" "listeners of $n"
	assert_not_contains "$lst" "127.0.0.1:" "listeners of $n"
done

# the demo's scenario, from the operator's host
expect_exit 0 ctl witness pool add pool-east --site east --edition enterprise --kind physical --os windows-2019
expect_exit 0 ctl witness pool add pool-west --site west --edition enterprise --kind physical --os windows-2019
expect_exit 0 ctl west pair pool-east pool-west
wait_until 20 "agree_digest ${ALL[*]}"
reachable3() {
	status "$(agree_leader "${ALL[@]}")" | jq -e --arg net "$NET." '
		[.cluster.members[] | select(.reachable == true and (.raft | startswith($net)) and (.api | startswith($net)))] | length == 3'
}
wait_until 20 reachable3
st=$(status "$(agree_leader "${ALL[@]}")")
for n in "${ALL[@]}"; do
	assert_json "$st" ".cluster.members[] | select(.name == \"$n\") | .raft == \"${ADDR[$n]}:7001\" and .api == \"${ADDR[$n]}:7101\" and .role == \"voter\"" "member $n"
done
assert_json "$st" '.cluster.members[] | select(.name == "east") | .data == "'"${ADDR[east]}"':7201"' "east's data address"
assert_json "$st" '[.pools[] | select(.pair != null and .supported == true and .state == "normal" and .epoch == 1)] | length == 2' "the pair, supported"
for n in east west; do
	wait_until 10 "ip netns exec $(ns "$n") ss -Htln | grep -q ' ${ADDR[$n]}:7201 '"
done
# the leader's status (reachable is its view), as the demo prints it
expect_exit 0 ctl "$(agree_leader "${ALL[@]}")" status
for n in "${ALL[@]}"; do
	row=$(grep -E "^ *${IT_ID[$n]} +$n " <<<"$OUT" || true)
	grep -Eq " ${ADDR[$n]//./\\.}:7001 +${ADDR[$n]//./\\.}:7101 +yes *\$" <<<"$row" ||
		fail "poolpairctl status: member $n not at its address or not reachable: $row"
done
for p in "pool-east +east .* pool-west +normal +pool-east +1 +yes +active +yes" \
	"pool-west +west .* pool-east +normal +pool-west +1 +yes +standby +yes"; do
	grep -Eq "^ *$p *\$" <<<"$OUT" || fail "poolpairctl status: no pool row like '$p' in: $OUT"
done
# insecure = true: said at start, by --check, on /v1/status and by the CLI
assert_contains "$OUT" "INSECURE: no [tls]: raft, replication and the API are neither authenticated nor encrypted" "poolpairctl status"
for n in "${ALL[@]}"; do
	assert_json "$(status "$n")" '.insecure == "no [tls]: raft, replication and the API are neither authenticated nor encrypted"' "status of $n"
	grep -q "INSECURE (\[listen\] insecure = true): no \[tls\]: raft ${ADDR[$n]}:7001" "$IT_DIR/$n/log" ||
		fail "$n logged no insecure warning at start"
done
out=$(ip netns exec "$(ns east)" "$BUILD/poolpaird" --check -c "$IT_DIR/east/poolpaird.conf" 2>&1)
assert_contains "$out" "warning: [listen] insecure = true: no [tls]" "--check with insecure"
log "status from $(ns ops):"
while IFS= read -r line; do echo "    $line"; done <<<"$OUT" >&2

# a user written at east's agent reaches west's
alice=sip:alice@example.com
ctl_write 20 east user enable "$alice" --pool pool-east
ctl_write 20 east user set "$alice" contacts --value '[{"sip":"sip:bob@example.com"}]'
wait_until 20 "ctl west --json user get $alice contacts | jq -e '.copy == \"backup\" and .value[0].sip == \"sip:bob@example.com\"'"
out=$(ops curl -s --max-time 60 -XPOST "$(url east)/v1/backup/pool-east/sync?timeout=50")
assert_json "$out" '.lag_records == 0' "backup sync of pool-east across hosts"
http_answer 20 -XPOST "$(url west)/v1/users" -d '{"sip":"sip:carol@example.com","pool":"pool-east"}'
assert_eq 421 "$CODE" "a pool-east write at west (answer: $ANSWER)"
assert_json "$ANSWER" '.owner == "pool-east" and .owner_api == "'"$(api east)"'"' "the 421 names east's agent at its host's address"

# planned failover, then failback (the CLI follows the leader by itself)
wait_until 20 "[ \"\$(http $(url east)/readyz?pool=pool-east)\" == 200 ]"
expect_exit 0 ctl witness --json failover pool-east
assert_json "$OUT" '.state == "failed_over" and .owner == "pool-west" and .epoch == 2' "planned failover"
wait_until 20 "[ \"\$(http $(url west)/readyz?pool=pool-east)\" == 200 ]"
assert_eq 503 "$(http "$(url east)/readyz?pool=pool-east")" "east may no longer write pool-east"
ctl_write 20 west user set "$alice" contacts --value '[{"sip":"sip:dave@example.com"}]'
wait_until 30 "[ \"\$(sfield east '.pools[] | select(.name == \"pool-east\") | .state')\" == recovering ]"
wait_until 30 "ctl east --json failback pool-east --what-if | jq -e .allowed"
expect_exit 0 ctl east --json failback pool-east
assert_json "$OUT" '.state == "normal" and .owner == "pool-east" and .epoch == 3' "failback"
wait_until 20 "[ \"\$(http $(url east)/readyz?pool=pool-east)\" == 200 ]"
assert_json "$(ctl east --json user get "$alice" contacts)" '.copy == "own" and .value[0].sip == "sip:dave@example.com"' "west's write at east after failback"
h=$(ops curl -s "$(url witness)/v1/history?limit=50")
assert_json "$h" '[.history[] | select(.what | test("planned failover"))] | length >= 1' "history: the failover"
assert_json "$h" '[.history[] | select(.what | test("complete failback"))] | length == 1' "history: the failback"

# stop everything the way systemctl stop does: SIGTERM, exit 0
for n in witness west east; do
	pp_kill "$IT_DIR" "$n" TERM
	wait_exit "$n" 20 || fail "$n did not exit after SIGTERM"
	assert_eq 0 "$IT_STATUS" "exit status of $n after SIGTERM"
done
ns_del_run "$NS_PREFIX"
left=$(ip netns list | awk '{ print $1 }' | grep -c "^$NS_PREFIX-" || true)
assert_eq 0 "$left" "namespaces left after the test"
log "ok"
