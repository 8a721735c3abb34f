# Shared helpers of the poolpair scripts: build, write agent configs, start
# and stop agents on loopback. Sourced, not run.

POOLPAIR_ROOT=${POOLPAIR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$POOLPAIR_ROOT/build}
PP_PIDS=()

pp_build() {
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" "$POOLPAIR_ROOT" --buildtype=debugoptimized >/dev/null
	fi
	ninja -C "$BUILD" >/dev/null
}

# ---- TLS (optional) -------------------------------------------------------
# With PP_TLS set to a directory made by pp_tls_pki, every agent config gets a
# [tls] section with PP_TLS/ca.crt and PP_TLS/NAME.{crt,key} (issued by
# pp_config for the agent's id and pool when missing), and pp_curl,
# pp_ctl, pp_wait_leader talk https with the client certificate
# PP_TLS/$PP_TLS_CLIENT.{crt,key} (default: operator).

# pp_tls_pki DIR: a CA in DIR and the client certificates "operator" and
# "reader" (agent certificates come from pp_tls_agent_cert)
pp_tls_pki() {
	local dir=$1
	"$POOLPAIR_ROOT/scripts/poolpair-cert" ca "$dir" >/dev/null
	"$POOLPAIR_ROOT/scripts/poolpair-cert" issue "$dir" operator --role operator >/dev/null
	"$POOLPAIR_ROOT/scripts/poolpair-cert" issue "$dir" reader --role reader >/dev/null
}

# pp_scheme: https with PP_TLS, else http
pp_scheme() { if [ -n "${PP_TLS:-}" ]; then echo https; else echo http; fi; }

# pp_tls_agent_cert NAME ID [POOL]: PP_TLS/NAME.{crt,key}, the certificate
# of agent ID (of POOL; none for a witness), issued again when present
pp_tls_agent_cert() {
	local pool=()
	if [ -n "${3:-}" ]; then pool=(--pool "$3"); fi
	"$POOLPAIR_ROOT/scripts/poolpair-cert" issue "$PP_TLS" "$1" --role agent \
		--agent-id "$2" "${pool[@]}" >/dev/null
}

# pp_tls_section NAME: the [tls] lines of agent NAME (PP_TLS set)
pp_tls_section() {
	printf '\n[tls]\nca = %s\ncert = %s\nkey = %s\n' "$PP_TLS/ca.crt" \
		"$PP_TLS/$1.crt" "$PP_TLS/$1.key"
}

# pp_tls_curl_args [CLIENT]: curl options for the client certificate CLIENT
# (default PP_TLS_CLIENT, else operator); nothing without PP_TLS. The curl
# command line cannot skip only the host name check (poolpair certificates
# name roles, not hosts; poolpairctl skips just that), so these helpers do
# not check the agent's certificate (-k); the agent still checks ours.
pp_tls_curl_args() {
	[ -n "${PP_TLS:-}" ] || return 0
	local c=${1:-${PP_TLS_CLIENT:-operator}}
	printf '%s\n' --tlsv1.3 -k --cert "$PP_TLS/$c.crt" --key "$PP_TLS/$c.key"
}

# pp_curl ARGS...: curl, with the client certificate under PP_TLS
pp_curl() {
	local tls=()
	mapfile -t tls < <(pp_tls_curl_args)
	curl "${tls[@]}" "$@"
}

# pp_config DIR NAME ID SITE POOL RAFTPORT APIPORT DATAPORT BOOTSTRAP|"" JOIN|"" [EXTRA]
# [cluster] peers is PP_PEERS when set (the other members' API URLs)
# [failover] profile is PP_PROFILE when set (default | fast): then
# [cluster] election_timeout and heartbeat_timeout are the profile's unless
# PP_ELECTION / PP_RAFT_HEARTBEAT are set
pp_config() {
	local dir=$1 name=$2 id=$3 site=$4 pool=$5 rport=$6 aport=$7 dport=$8 boot=$9 join=${10} extra=${11:-}
	mkdir -p "$dir/$name"
	{
		echo "[agent]"
		echo "name = $name"
		echo "id = $id"
		echo "site = $site"
		if [ -n "$pool" ]; then echo "pool = $pool"; fi
		echo "data_dir = $dir/$name/data"
		echo
		echo "[listen]"
		echo "raft = 127.0.0.1:$rport"
		echo "api = 127.0.0.1:$aport"
		if [ -n "$pool" ]; then echo "data = 127.0.0.1:$dport"; fi
		echo
		echo "[cluster]"
		if [ -n "$boot" ]; then echo "bootstrap = $boot"; fi
		if [ -n "$join" ]; then echo "join = $join"; fi
		if [ -n "${PP_PEERS:-}" ]; then echo "peers = $PP_PEERS"; fi
		# with PP_PROFILE the profile's own values, unless PP_ELECTION /
		# PP_RAFT_HEARTBEAT are set (a key set in the file wins)
		if [ -z "${PP_PROFILE:-}" ] || [ -n "${PP_ELECTION:-}" ]; then
			echo "election_timeout = ${PP_ELECTION:-500ms}"
		fi
		if [ -z "${PP_PROFILE:-}" ] || [ -n "${PP_RAFT_HEARTBEAT:-}" ]; then
			echo "heartbeat_timeout = ${PP_RAFT_HEARTBEAT:-100ms}"
		fi
		if [ -n "$extra" ]; then printf '%b\n' "$extra"; fi
		if [ -n "${PP_PROFILE:-}" ]; then
			echo "[failover]"
			echo "profile = $PP_PROFILE"
		fi
		if [ -n "${PP_TLS:-}" ]; then
			[ -f "$PP_TLS/$name.crt" ] || pp_tls_agent_cert "$name" "$id" "$pool"
			pp_tls_section "$name"
		fi
	} >"$dir/$name/poolpaird.conf"
}

# pp_start DIR NAME: start an agent in its own process group, log to DIR/NAME/log
# (PP_START_ARGS: more options, e.g. --first-start)
pp_start() {
	local dir=$1 name=$2
	# shellcheck disable=SC2086 # PP_START_ARGS holds words
	setsid "$BUILD/poolpaird" ${PP_START_ARGS:-} -c "$dir/$name/poolpaird.conf" \
		>>"$dir/$name/log" 2>&1 </dev/null &
	echo $! >"$dir/$name/pid"
	PP_PIDS+=($!)
}

pp_pid() { cat "$1/$2/pid" 2>/dev/null; }

# pp_kill DIR NAME [SIGNAL]
pp_kill() {
	local pid
	pid=$(pp_pid "$1" "$2") || return 0
	[ -n "$pid" ] || return 0
	kill "-${3:-TERM}" "$pid" 2>/dev/null || true
}

# pp_wait_exit DIR NAME [SECONDS]: wait for the agent to exit; echo its
# status and leave it in PP_EXIT_STATUS. Call it directly, not in $(...):
# only the shell that started the agent can collect its exit status.
pp_wait_exit() {
	local pid i
	pid=$(pp_pid "$1" "$2")
	PP_EXIT_STATUS=
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			PP_EXIT_STATUS=0
			wait "$pid" 2>/dev/null || PP_EXIT_STATUS=$?
			echo "$PP_EXIT_STATUS"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

pp_stop_all() {
	local pid
	for pid in "${PP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PP_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	PP_PIDS=()
}

pp_ctl() {
	local c=${PP_TLS_CLIENT:-operator}
	if [ -n "${PP_TLS:-}" ]; then
		"$BUILD/poolpairctl" --ca "$PP_TLS/ca.crt" --cert "$PP_TLS/$c.crt" \
			--key "$PP_TLS/$c.key" "$@"
	else
		"$BUILD/poolpairctl" "$@"
	fi
}

# pp_wait_leader API [SECONDS]: wait until the agent at API knows a leader
pp_wait_leader() {
	local api=$1 i
	for ((i = 0; i < ${2:-20} * 10; i++)); do
		local leader
		leader=$(pp_curl -sf "$(pp_scheme)://$api/v1/status" 2>/dev/null | jq -r '.cluster.leader.api // empty' 2>/dev/null)
		if [ -n "$leader" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# pp_leader_api API: print the leader's API address as seen by API
pp_leader_api() {
	pp_curl -sf "$(pp_scheme)://$1/v1/status" | jq -r '.cluster.leader.api // empty'
}
