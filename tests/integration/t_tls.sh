#!/usr/bin/env bash
# Raft over TLS 1.3 with mutual authentication (the API too, see also
# t_tls_api): three agents with [tls] form
# a cluster, elect a leader and commit decisions; a killed leader is
# replaced; plain bytes on the raft port are refused; an agent whose
# certificate comes from another CA cannot join (and says why, as do the
# agents it knocks at); SIGHUP with renewed certificates keeps quorum, and a
# reload of broken files keeps the old ones. Every agent checks the CA's
# CRL ([tls] crl): a follower's certificate revoked, the CRL made again and
# SIGHUP to the others: they close its links (Raft and HTTP, both ways), it
# cannot come back, and the other two go on committing.
source "$(dirname "$0")/lib.sh"

CERT=$(cd "$(dirname "$0")/../.." && pwd)/scripts/poolpair-cert
PKI=$IT_DIR/pki
"$CERT" ca "$PKI/a" >/dev/null
"$CERT" ca "$PKI/b" --cn "other CA" >/dev/null
# agent NAME ID [POOL]: its certificate from CA a
agent_cert() {
	local pool=()
	if [ -n "${3:-}" ]; then pool=(--pool "$3"); fi
	"$CERT" issue "$PKI/a" "$1" --role agent --agent-id "$2" "${pool[@]}" >/dev/null
}
agent_certs() { agent_cert east 1 pool-east; agent_cert west 2 pool-west; agent_cert witness 3; }
agent_certs
"$CERT" issue "$PKI/b" rogue --role agent --agent-id 4 >/dev/null
"$CERT" issue "$PKI/a" ops --role operator >/dev/null

cat "$PKI/a/ca.crt" "$PKI/b/ca.crt" >"$PKI/both.crt"
"$CERT" crl "$PKI/a" >/dev/null # nothing revoked yet
"$CERT" crl "$PKI/b" >/dev/null

# the API is https with [tls]: status and poolpairctl show the operator's
# certificate (curl cannot skip only the host name check: -k; poolpairctl
# checks the agents' certificates against the CA)
url() { echo "https://$(api "$1")"; }
status() {
	curl -sf --max-time 5 --tlsv1.3 -k --cert "$PKI/a/ops.crt" \
		--key "$PKI/a/ops.key" "$(url "$1")/v1/status"
}
ctl() {
	local n=$1
	shift
	"$BUILD/poolpairctl" --api "$(url "$n")" --ca "$PKI/a/ca.crt" \
		--cert "$PKI/a/ops.crt" --key "$PKI/a/ops.key" "$@"
}

# tls_section NAME CA-DIR [TRUST]: the [tls] lines of an agent (with the
# CRL of CA a when it trusts only a)
tls_section() {
	printf '\n[tls]\nca = %s\ncert = %s\nkey = %s\n' "${3:-$PKI/a/ca.crt}" \
		"$PKI/$2/$1.crt" "$PKI/$2/$1.key"
	[ -n "${3:-}" ] || printf 'crl = %s\n' "$PKI/a/ca.crl"
}

boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
for n in east west witness; do
	tls_section "$n" a >>"$IT_DIR/$n/poolpaird.conf"
	sed -i '/^peers = /s|http://|https://|g' "$IT_DIR/$n/poolpaird.conf"
done
ALL=(east west witness)

# --check reads the [tls] files too
"$BUILD/poolpaird" --check -c "$IT_DIR/east/poolpaird.conf" >/dev/null || fail "--check refused a good [tls]"
cp "$IT_DIR/east/poolpaird.conf" "$IT_DIR/bad-role.conf"
sed -i "s|$PKI/a/east\.|$PKI/a/ops.|" "$IT_DIR/bad-role.conf"
out=$("$BUILD/poolpaird" --check -c "$IT_DIR/bad-role.conf" 2>&1) && fail "--check accepted an operator certificate"
assert_contains "$out" "has role operator; an agent needs role agent" "--check of an operator cert"
# a certificate speaks for one agent: west's cannot run east, by --check or
# at start
cp "$IT_DIR/east/poolpaird.conf" "$IT_DIR/other-agent.conf"
sed -i "s|$PKI/a/east\.|$PKI/a/west.|" "$IT_DIR/other-agent.conf"
out=$("$BUILD/poolpaird" --check -c "$IT_DIR/other-agent.conf" 2>&1) && fail "--check accepted west's certificate for east"
assert_contains "$out" "names agent 2 (pool \"pool-west\"), this agent is 1 (pool \"pool-east\"): reissue it with poolpair-cert issue DIR west --role agent --agent-id 1 --pool pool-east" "--check of another agent's cert"
out=$(timeout 10 "$BUILD/poolpaird" -c "$IT_DIR/other-agent.conf" 2>&1) && fail "east started with west's certificate"
assert_contains "$out" "names agent 2 (pool \"pool-west\"), this agent is 1" "start with another agent's cert"
cp "$IT_DIR/east/poolpaird.conf" "$IT_DIR/bad-crl.conf"
sed -i "s|^crl = .*|crl = $PKI/b/ca.crl|" "$IT_DIR/bad-crl.conf"
out=$("$BUILD/poolpaird" --check -c "$IT_DIR/bad-crl.conf" 2>&1) && fail "--check accepted a crl of another CA"
assert_contains "$out" "[tls] crl $PKI/b/ca.crl: not issued by the ca" "--check of a crl of another CA"

start "${ALL[@]}"
wait_leader 30 "${ALL[@]}"
log "leader over tls: $LEADER"
for n in "${ALL[@]}"; do
	assert_contains "$(cat "$IT_DIR/$n/log")" "TLS 1.3 on raft, replication and the API as $n" "tls on at $n"
done
wait_until 20 'grep -q "link to 127.0.0.1:.* up" "$IT_DIR/$LEADER/log"'

# a decision commits and all three agree on it
ctl west pool add pool-east --site east --edition enterprise --kind physical --os windows-2019 >/dev/null
wait_until 20 'agree_digest "${ALL[@]}"'
for n in "${ALL[@]}"; do
	assert_eq pool-east "$(sfield "$n" '[.pools[].name] | join(" ")')" "pool committed over tls, seen by $n"
done

# plain bytes on a raft port: refused with the reason in the log
port=$(raft_port 1)
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'hello, not tls\n' >&3
exec 3>&-
wait_until 10 'grep -q "refused 127.0.0.1:[0-9]*: plain connection refused: not TLS" "$IT_DIR/east/log"'

# an agent with a certificate of another CA (it trusts ours too, as anyone
# may) knocks at the three: refused, and nothing changes
agent rogue 4 rogue "" "$(it_boot_list 1 2 3 4)" ""
tls_section rogue b "$PKI/both.crt" >>"$IT_DIR/rogue/poolpaird.conf"
# the members' APIs refuse its certificate: asking them, it would wait
# forever without running Raft; so no peers, and --first-start: it
# bootstraps blindly and knocks at their Raft ports
sed -i '/^peers = /d' "$IT_DIR/rogue/poolpaird.conf"
PP_START_ARGS=--first-start start rogue
wait_until 30 'grep -q "refused 127.0.0.1:[0-9]*: peer certificate from an unknown CA (CN=rogue)" "$IT_DIR/east/log" "$IT_DIR/west/log" "$IT_DIR/witness/log"'
wait_until 20 'grep -q "peer refused our certificate: unknown CA" "$IT_DIR/rogue/log"'
assert_eq 3 "$(sfield "$LEADER" '.cluster.members | length')" "members after the rogue tried"
assert_eq "" "$(sfield "$LEADER" '.cluster.members[] | select(.id == 4) | .id')" "rogue not a member"
pp_kill "$IT_DIR" rogue KILL
wait_exit rogue 10

# kill -9 the leader: the other two elect a new one over tls and commit
old=$LEADER
pp_kill "$IT_DIR" "$old" KILL
wait_exit "$old" 10 || fail "$old still runs after SIGKILL"
rest=()
for n in "${ALL[@]}"; do [ "$n" == "$old" ] || rest+=("$n"); done
wait_until 30 'l=$(agree_leader "${rest[@]}") && [ "$l" != "$old" ]'
LEADER=$(agree_leader "${rest[@]}")
log "new leader: $LEADER"
ctl "${rest[0]}" pool add pool-west --site west --edition enterprise --kind physical --os windows-2019 >/dev/null
wait_until 20 'agree_digest "${rest[@]}"'
start "$old"
wait_until 30 'agree_digest "${ALL[@]}"'

# renewed certificates (same CA, new keys) and SIGHUP everywhere: quorum
# holds, no election, and new links use the new files
term=$(sfield "$LEADER" '.cluster.term')
agent_certs
for n in "${ALL[@]}"; do kill -HUP "$(pid_of "$n")"; done
for n in "${ALL[@]}"; do
	wait_until 10 'grep -q "tls: reloaded .*/$n.crt (CN=$n, role agent, generation 2)" "$IT_DIR/$n/log"'
	alive "$n" || fail "$n died on SIGHUP"
done
before=$(decisions "$LEADER")
ctl "$LEADER" site add after-reload >/dev/null
wait_until 20 '[ "$(decisions "$LEADER")" -gt "$before" ] && agree_digest "${ALL[@]}"'
assert_eq "$term" "$(sfield "$LEADER" '.cluster.term')" "term after SIGHUP (no election)"
assert_eq "$LEADER" "$(leader_name "$LEADER")" "leader after SIGHUP"

# a follower restarted after the renewal links up with its new certificate
for f in "${ALL[@]}"; do [ "$f" != "$LEADER" ] && break; done
pp_kill "$IT_DIR" "$f" KILL
wait_exit "$f" 10
n_up=$(grep -c "link from .* up" "$IT_DIR/$LEADER/log")
start "$f"
wait_until 30 '[ "$(grep -c "link from .* up" "$IT_DIR/$LEADER/log")" -gt "$n_up" ] && agree_digest "${ALL[@]}"'

# broken files on reload: the error is logged, the old context stays
echo garbage >"$PKI/a/$LEADER.crt"
kill -HUP "$(pid_of "$LEADER")"
wait_until 10 'grep -q "tls: reload failed, the current certificates stay in use: cert .*$LEADER.crt" "$IT_DIR/$LEADER/log"'
alive "$LEADER" || fail "$LEADER died on a bad reload"
before=$(decisions "$LEADER")
ctl "$LEADER" site add after-bad-reload >/dev/null
wait_until 20 '[ "$(decisions "$LEADER")" -gt "$before" ] && agree_digest "${ALL[@]}"'

# ---- revocation ----------------------------------------------------------
# the leader's files made good again, then a follower's certificate
# revoked: the others, SIGHUPed with the new CRL, close its links and refuse
# it from then on
case $LEADER in
east) agent_cert east 1 pool-east ;;
west) agent_cert west 2 pool-west ;;
witness) agent_cert witness 3 ;;
esac
for v in "${ALL[@]}"; do [ "$v" != "$LEADER" ] && break; done
others=()
for n in "${ALL[@]}"; do [ "$n" == "$v" ] || others+=("$n"); done
log "revoking $v; ${others[*]} stay"
wait_until 30 'agree_digest "${ALL[@]}"'
"$CERT" revoke "$PKI/a" "$v" >/dev/null
"$CERT" crl "$PKI/a" >/dev/null
for n in "${others[@]}"; do
	since=$(wc -l <"$IT_DIR/$n/log")
	kill -HUP "$(pid_of "$n")"
	wait_until 10 'tail -n +$since "$IT_DIR/$n/log" | grep -q "tls: crl .*/ca.crl reloaded: [1-9][0-9]* connections\? of revoked peers closed"'
	alive "$n" || fail "$n died on SIGHUP"
done
# its Raft links were closed with the reason, and it is refused when it
# tries again (and told why)
wait_until 10 'grep -q "link 127.0.0.1:[0-9]*: peer certificate revoked (CN=$v): the crl reloaded revokes it" "$IT_DIR/${others[0]}/log" "$IT_DIR/${others[1]}/log"'
wait_until 30 'grep -q "refused 127.0.0.1:[0-9]*: peer certificate revoked (CN=$v)" "$IT_DIR/${others[0]}/log" "$IT_DIR/${others[1]}/log"'
wait_until 30 'grep -q "peer refused our certificate: certificate revoked" "$IT_DIR/$v/log"'
alive "$v" || fail "$v died"
# the other two go on: decisions commit at both; the revoked agent gets
# none of them (the leader would send each to every linked follower)
LEADER=$(agree_leader "${others[@]}")
before=$(decisions "$v")
for s in after-revocation after-revocation-2; do
	b=$(decisions "$LEADER")
	ctl "$LEADER" site add "$s" >/dev/null
	wait_until 20 '[ "$(decisions "$LEADER")" -gt "$b" ] && agree_digest "${others[@]}"'
done
assert_eq "$before" "$(decisions "$v")" "decisions at the revoked $v"
# poolpairctl with the CRL: the revoked agent's API is refused; the others
# answer
ctl "$LEADER" --crl "$PKI/a/ca.crl" status >/dev/null || fail "poolpairctl --crl refused $LEADER"
out=$(ctl "$v" --crl "$PKI/a/ca.crl" status 2>&1) && fail "poolpairctl --crl accepted the revoked $v"
assert_contains "$out" "(CN=$v) is revoked by crl $PKI/a/ca.crl" "poolpairctl --crl at the revoked $v"
log "ok"
