# Helpers of the poolpair integration tests. Sourced by every t_*.sh: each
# test gets a fresh directory, its own loopback port range, a trap that stops
# every agent it started, assertions and status readers. Not run by itself.

set -euo pipefail

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export POOLPAIR_ROOT=$IT_ROOT
export BUILD=${BUILD:-$IT_ROOT/build}
# shellcheck source=../../scripts/lib.sh
source "$IT_ROOT/scripts/lib.sh"

# Short Raft timeouts: the tests wait on behaviour, these only make it quick.
export PP_ELECTION=${PP_ELECTION:-300ms}
export PP_RAFT_HEARTBEAT=${PP_RAFT_HEARTBEAT:-50ms}
# Failover heartbeats and leases below the Raft timeouts' defaults too.
IT_EXTRA=${IT_EXTRA:-"[failover]\nheartbeat = 100ms\nlease = 1000ms\ngrace = 500ms"}

for tool in curl jq setsid timeout; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
for bin in poolpaird poolpairctl; do
	[ -x "$BUILD/$bin" ] || { echo "missing $BUILD/$bin (set BUILD)" >&2; exit 1; }
done

IT_NAME=$(basename "$0" .sh)
# The runner hands a directory in IT_DIR (and prints its logs on failure).
if [ -n "${IT_DIR:-}" ]; then
	mkdir -p "$IT_DIR"
	IT_OWN_DIR=0
else
	IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pp-$IT_NAME.XXXXXX")
	IT_OWN_DIR=1
fi

log() { echo "[$IT_NAME $(date +%T)] $*" >&2; }
fail() {
	echo "FAILED: $*" >&2
	exit 1
}

# ---- ports ---------------------------------------------------------------
# Agent I (1..9) listens on raft BASE+I, api BASE+10+I, data BASE+20+I.
# BASE is chosen so that nothing listens anywhere in BASE..BASE+29, and below
# the kernel's ephemeral range (32768 and up by default on Linux), so that an
# outgoing connection cannot take an agent's port before it binds it.
IT_SPAN=30
it_port_busy() {
	# true when something on loopback listens on port $1 (or has it bound)
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
it_pick_base() {
	local try base p busy lo=32768 hi=60999 first=10000 slots
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	slots=$(((lo - first) / IT_SPAN - 1))
	if [ "$slots" -lt 100 ]; then # ephemeral ports start low: go above them
		first=$((hi + 1))
		slots=$(((65535 - first) / IT_SPAN - 1))
	fi
	[ "$slots" -ge 1 ] || fail "no port range outside the ephemeral ports"
	for try in $(seq 200); do
		base=$((first + ((RANDOM * 32768 + RANDOM + $$ + try) % slots) * IT_SPAN))
		busy=0
		for ((p = base; p < base + IT_SPAN; p++)); do
			if it_port_busy "$p"; then busy=1; break; fi
		done
		if [ $busy = 0 ] && ! ss -Htan 2>/dev/null | awk '{print $4; print $5}' |
			grep -Eq ":($(seq -s '|' "$base" $((base + IT_SPAN - 1))))\$"; then
			echo "$base"
			return 0
		fi
	done
	fail "no free loopback port range"
}
IT_BASE=$(it_pick_base)

raft_port() { echo $((IT_BASE + $1)); }
api_port() { echo $((IT_BASE + 10 + $1)); }
data_port() { echo $((IT_BASE + 20 + $1)); }

# ---- agents --------------------------------------------------------------
declare -A IT_ID=()   # name -> id
IT_NAMES=()

# it_boot_list ID...: the bootstrap value for those agent ids
it_boot_list() {
	local out="" id
	for id in "$@"; do out+="${out:+, }$id@127.0.0.1:$(raft_port "$id")"; done
	echo "$out"
}

# it_peer_list SELF BOOT: the [cluster] peers of agent SELF: the API URLs
# of the other ids of the bootstrap value BOOT
it_peer_list() {
	local self=$1 boot=$2 out="" entry id scheme=http
	[ -n "${PP_TLS:-}" ] && scheme=https
	IFS=',' read -ra entries <<<"$boot"
	for entry in "${entries[@]}"; do
		id=${entry%%@*}
		id=${id// /}
		[ "$id" = "$self" ] && continue
		out+="${out:+, }$scheme://127.0.0.1:$(api_port "$id")"
	done
	echo "$out"
}

# agent NAME ID SITE POOL|"" BOOT|"" JOIN|"": write the config of an agent
# (a bootstrap member asks the others' API on an empty data_dir: peers)
agent() {
	local name=$1 id=$2 site=$3 pool=$4 boot=$5 join=$6
	IT_ID[$name]=$id
	IT_NAMES+=("$name")
	PP_PEERS=$(it_peer_list "$id" "$boot") pp_config "$IT_DIR" "$name" "$id" "$site" "$pool" "$(raft_port "$id")" \
		"$(api_port "$id")" "$(data_port "$id")" "$boot" "$join" "$IT_EXTRA"
}

start() { local n; for n in "$@"; do pp_start "$IT_DIR" "$n"; done; }
api() { echo "127.0.0.1:$(api_port "${IT_ID[$1]}")"; }
url() { echo "http://$(api "$1")"; }
pid_of() { pp_pid "$IT_DIR" "$1"; }
alive() { kill -0 "$(pid_of "$1")" 2>/dev/null; }

# The three agents of the usual deployment, bootstrapped together.
three_agents() {
	local boot
	boot=$(it_boot_list 1 2 3)
	agent east 1 east pool-east "$boot" ""
	agent west 2 west pool-west "$boot" ""
	agent witness 3 witness "" "$boot" ""
	start east west witness
}

# wait_exit NAME SECONDS: wait for the agent to exit; its status in IT_STATUS
# shellcheck disable=SC2034 # IT_STATUS and LEADER are read by the tests
wait_exit() {
	IT_STATUS=""
	pp_wait_exit "$IT_DIR" "$1" "${2:-10}" >/dev/null || return 1
	IT_STATUS=$PP_EXIT_STATUS
}

# Stop every agent this test started: SIGTERM to each process group, then
# SIGKILL whatever is still there after a few seconds, and reap them all.
it_cleanup() {
	local rc=$? pid i left
	trap - EXIT INT TERM
	for pid in "${PP_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
	for ((i = 0; i < 50; i++)); do
		left=0
		for pid in "${PP_PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for pid in "${PP_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
	for pid in "${PP_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ $rc = 0 ] && [ "$IT_OWN_DIR" = 1 ]; then rm -rf "$IT_DIR"; fi
	if [ $rc != 0 ]; then echo "$IT_NAME: failed; agents' files in $IT_DIR" >&2; fi
	exit $rc
}
trap it_cleanup EXIT
# a command failing under set -e says where
set -E
trap 'echo "FAILED: exit $? at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- assertions ----------------------------------------------------------
assert_eq() { # EXPECTED ACTUAL [WHAT]
	[ "$1" == "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}
assert_ne() { # UNEXPECTED ACTUAL [WHAT]
	[ "$1" != "$2" ] || fail "${3:-value}: expected anything but '$1'"
}
assert_contains() { # HAYSTACK NEEDLE [WHAT]
	[[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain '$2': $1"
}
assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
	[[ "$1" != *"$2"* ]] || fail "${3:-output} contains '$2': $1"
}
assert_json() { # JSON JQ-FILTER [WHAT]: the filter must yield true
	jq -e "$2" >/dev/null 2>&1 <<<"$1" || fail "${3:-json}: '$2' is not true of: $1"
}

# expect_exit CODE CMD...: run CMD, check its exit status; output in OUT
expect_exit() {
	local want=$1 got=0
	shift
	OUT=$("$@" 2>&1) || got=$?
	[ "$got" == "$want" ] || fail "'$*' exited $got, expected $want; output: $OUT"
}

# wait_until SECONDS 'CONDITION': poll CONDITION (eval'd) until true
wait_until() {
	local secs=$1 cond=$2 end
	end=$((SECONDS + secs))
	while ! eval "$cond" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || fail "not true after ${secs}s: $cond"
		sleep 0.1
	done
}

# ---- reading the state ---------------------------------------------------
# status NAME: the agent's /v1/status JSON (fails when it does not answer)
status() { curl -sf --max-time 5 "$(url "$1")/v1/status"; }
# sfield NAME JQ: one field of the agent's status, raw
sfield() { status "$1" | jq -r "$2"; }
leader_name() { sfield "$1" '.cluster.leader.name // empty'; }
leader_id() { sfield "$1" '.cluster.leader.id // empty'; }
state_of() { sfield "$1" '.self.state'; }
digest() { sfield "$1" '.cluster.state_digest'; }
decisions() { sfield "$1" '.cluster.decisions'; }
applied() { sfield "$1" '.cluster.applied_index'; }
voters() { sfield "$1" '[.cluster.members[] | select(.role == "voter")] | length'; }
role_of() { # AGENT-ASKED MEMBER-ID
	sfield "$1" ".cluster.members[] | select(.id == $2) | .role"
}

# agree_leader NAME...: all name the same, known leader (prints its name)
agree_leader() {
	local first="" n l
	for n in "$@"; do
		l=$(leader_name "$n") || return 1
		[ -n "$l" ] || return 1
		[ -z "$first" ] && first=$l
		[ "$l" == "$first" ] || return 1
	done
	echo "$first"
}

# agree_digest NAME...: all report the same state_digest and applied index
agree_digest() {
	local first="" n d
	for n in "$@"; do
		d=$(sfield "$n" '"\(.cluster.state_digest) \(.cluster.decisions)"') || return 1
		[ -n "$d" ] && [ "$d" != "null null" ] || return 1
		[ -z "$first" ] && first=$d
		[ "$d" == "$first" ] || return 1
	done
}

# shellcheck disable=SC2034
# wait_leader SECONDS NAME...: until all named agents agree on one leader;
# its name in LEADER (taken from the same look that saw them agree: a
# second look may find them on their way to another one). Right after the
# leader died they may still agree on it: see wait_new_leader.
wait_leader() {
	local secs=$1
	shift
	LEADER=""
	wait_until "$secs" "LEADER=\$(agree_leader $*)"
}

# shellcheck disable=SC2034
# wait_new_leader SECONDS GONE NAME...: until all named agents agree on one
# leader other than GONE (the agent just stopped); its name in LEADER
wait_new_leader() {
	local secs=$1 gone=$2
	shift 2
	LEADER=""
	wait_until "$secs" "LEADER=\$(agree_leader $*) && [ \"\$LEADER\" != $gone ]"
}

# wait_writable SECONDS AGENT POOL [AGENT POOL...]: until each AGENT may
# write POOL's user set (GET /readyz?pool=POOL answers 200: store open,
# lease held, its view of the decisions current, owner)
wait_writable() {
	local secs=$1
	shift
	while [ $# -ge 2 ]; do
		wait_until "$secs" "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 $(url "$1")/readyz?pool=$2)\" == 200 ]"
		shift 2
	done
}

# ctl NAME ARGS...: poolpairctl against agent NAME
ctl() {
	local n=$1
	shift
	"$BUILD/poolpairctl" --api "$(url "$n")" "$@"
}

# it_tls_setup: the cluster speaks TLS: the deployment's CA and the
# operator's and reader's certificates in $IT_DIR/pki (PP_TLS; each agent
# gets its own at start), and url, status and ctl over https with a client
# certificate (the operator's unless PP_TLS_CLIENT)
it_tls_setup() {
	export PP_TLS=$IT_DIR/pki
	pp_tls_pki "$PP_TLS"
	url() { echo "https://$(api "$1")"; }
	status() { pp_curl -sf --max-time 5 "$(url "$1")/v1/status"; }
	ctl() {
		local n=$1
		shift
		pp_ctl --api "$(url "$n")" "$@"
	}
}

# as CLIENT CURL-ARGS...: curl with PP_TLS's client certificate CLIENT
as() {
	local c=$1
	shift
	PP_TLS_CLIENT=$c pp_curl -s --max-time 10 "$@"
}

# it_paired_cluster: three_agents (ALL: east, west, witness) with a leader,
# pool-east and pool-west defined and paired, every agent agreeing; LEAD is
# the leader's name
it_paired_cluster() {
	three_agents
	ALL=(east west witness)
	wait_leader 30 "${ALL[@]}"
	ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
	ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
	ctl east pair pool-east pool-west >/dev/null
	wait_until 20 "agree_digest ${ALL[*]}"
	LEAD=$(agree_leader "${ALL[@]}")
}

# others NAME...: the test's agents not named
others() {
	local n m skip
	for n in "${IT_NAMES[@]}"; do
		skip=0
		for m in "$@"; do [ "$n" == "$m" ] && skip=1; done
		[ $skip = 1 ] || echo "$n"
	done
}

# ---- network partitions on loopback ---------------------------------------
# Every agent listens on 127.0.0.1, and the connections an agent opens leave
# from ephemeral ports, so ports alone cannot tell which agent sends a
# packet. net_start starts an agent in a cgroup (v2) of its group; iptables
# rules in the OUTPUT chain of lo then match the sending socket's cgroup and
# the agents' own ports. Everything is tagged with the test's name (chain,
# comments, cgroups), removed on exit, and leftovers of an earlier run of the
# same test are removed by net_init. Needs root, iptables and cgroup v2.
NET_TAG="pp-it-$IT_NAME"
NET_CHAIN="PPIT-${IT_NAME:0:20}"
NET_CG_ROOT=""

# net_rule TAG ARGS...: append a rule tagged TAG to the test's chain
net_rule() {
	local tag=$1
	shift
	iptables -w -A "$NET_CHAIN" -o lo -p tcp "$@" -m comment --comment "$NET_TAG/$tag" -j DROP
}

# net_del_rules CHAIN COMMENT: delete the rules of CHAIN whose comment is
# COMMENT (by number, last first: iptables -S quotes some comments)
net_del_rules() {
	local n
	for n in $(iptables -w -S "$1" 2>/dev/null | grep -- '^-A ' |
		grep -nE -- "--comment \"?$2\"? " | cut -d: -f1 | sort -rn || true); do
		iptables -w -D "$1" "$n"
	done
}

# net_del_tagged: delete this test's rules, chain and cgroups (idempotent)
net_del_tagged() {
	local line cg procs
	net_del_rules OUTPUT "$NET_TAG"
	iptables -w -F "$NET_CHAIN" 2>/dev/null || true
	iptables -w -X "$NET_CHAIN" 2>/dev/null || true
	[ -n "$NET_CG_ROOT" ] || return 0
	for cg in "$NET_CG_ROOT/$NET_TAG"-*; do
		[ -d "$cg" ] || continue
		# the processes go back to the root group; their sockets keep
		# their tag but no rule names it any more
		for _ in 1 2 3 4 5; do
			mapfile -t procs <"$cg/cgroup.procs" 2>/dev/null || procs=()
			for line in "${procs[@]}"; do
				echo "$line" >"$NET_CG_ROOT/cgroup.procs" 2>/dev/null || true
			done
			rmdir "$cg" 2>/dev/null && break
			sleep 0.1
		done
	done
}

net_on_exit() {
	local rc=$?
	set +eE
	trap - ERR
	net_del_tagged
	(exit "$rc")
	it_cleanup
}

# net_init: check the tools, clean up after an earlier run, create the
# test's (empty) chain jumped to from OUTPUT for lo, and install the trap
net_init() {
	[ "$(id -u)" = 0 ] || fail "$IT_NAME needs root (iptables, cgroups)"
	command -v iptables >/dev/null || fail "$IT_NAME needs iptables"
	NET_CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$NET_CG_ROOT" ] || fail "$IT_NAME needs a cgroup v2 mount"
	net_del_tagged
	trap net_on_exit EXIT
	iptables -w -N "$NET_CHAIN"
	iptables -w -I OUTPUT -o lo -p tcp -m comment --comment "$NET_TAG" -j "$NET_CHAIN"
}

# net_cgroup GROUP: the cgroup path of a group, relative to the v2 root
net_cgroup() { echo "$NET_TAG-$1"; }

# net_start GROUP NAME...: start agents (like start) inside the group's
# cgroup, before they open any socket
net_start() {
	local group=$1 name dir procs
	shift
	dir="$NET_CG_ROOT/$(net_cgroup "$group")"
	mkdir -p "$dir"
	procs="$dir/cgroup.procs"
	for name in "$@"; do
		# shellcheck disable=SC2016 # expanded by the inner shell
		setsid bash -c 'echo $$ >"$0" && exec "$@"' "$procs" \
			"$BUILD/poolpaird" -c "$IT_DIR/$name/poolpaird.conf" \
			>>"$IT_DIR/$name/log" 2>&1 </dev/null &
		echo $! >"$IT_DIR/$name/pid"
		PP_PIDS+=($!)
	done
}

# net_cut TAG GROUP-A "PORTS-A" GROUP-B "PORTS-B": drop what group A's
# agents send to group B's listening ports and what B's agents send to A's
# (PORTS: comma separated agent ports, up to 15). Both directions of every
# connection between the groups are cut that way: whoever opened it, the
# opener's packets (requests, Raft messages, records) are dropped, so its
# peer has nothing to answer. Packets between agents of one group and the
# test's own requests (not in a group) pass. TAG names the rules for
# net_heal.
net_cut() {
	local tag=$1 ga pa=$3 gb pb=$5
	ga=$(net_cgroup "$2")
	gb=$(net_cgroup "$4")
	net_rule "$tag" -m cgroup --path "$ga" -m multiport --dports "$pb"
	net_rule "$tag" -m cgroup --path "$gb" -m multiport --dports "$pa"
}

# net_heal TAG: remove the rules of one cut
net_heal() { net_del_rules "$NET_CHAIN" "$NET_TAG/$1"; }

# net_dropped: packets dropped so far by the test's rules
net_dropped() {
	iptables -w -L "$NET_CHAIN" -v -n -x | awk 'NR > 2 { n += $1 } END { print n + 0 }'
}
