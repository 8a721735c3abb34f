#!/usr/bin/env bash
# A damaging link on the replication path: east's records to west pass
# through tests/tools/mangle_proxy (its own process), which flips bits,
# cuts connections in the middle of a frame and sends chunks twice, at
# random (seeded: IT_MANGLE_SEED), in both directions (records and acks).
# Thousands of writes at east are all answered while it mangles; the
# agents drop the damaged connections and log why (checksum, truncated
# frame...). Then mangling stops, `backup sync` finishes, `backup verify
# --no-repair` finds both copies equal, east's acknowledged sequence is its
# head, west applied every record once (no more, no fewer) and serves
# east's values with east's sequence numbers.
#
# How the proxy gets in the path: an agent advertises the data address it
# listens on ([listen] data, registered as the member's data_address) and
# no option advertises another one. So east runs in a cgroup of its own and
# a nat rule (tagged with the test's name, removed on exit) redirects the
# connections east opens to west's data port to the proxy's port; the
# proxy, outside that cgroup, connects to west's real port. Needs root,
# iptables (nat table, cgroup match) and cgroup v2.
source "$(dirname "$0")/lib.sh"

PROXY=$BUILD/tests/mangle_proxy
[ -x "$PROXY" ] || fail "missing $PROXY (ninja -C \$BUILD tests/mangle_proxy)"
SEED=${IT_MANGLE_SEED:-$((RANDOM * 32768 + RANDOM))}
USERS=${IT_MANGLE_USERS:-1500} # two records each: enable + contacts
P_FLIP=${IT_MANGLE_FLIP:-0.04}
P_TRUNC=${IT_MANGLE_TRUNC:-0.03}
P_DUP=${IT_MANGLE_DUP:-0.04}
log "seed $SEED (IT_MANGLE_SEED repeats the proxy's choices), $USERS users"

net_init
NAT_TAG="$NET_TAG/nat"
nat_del() {
	local n
	for n in $(iptables -w -t nat -S OUTPUT 2>/dev/null | grep -- '^-A ' |
		grep -nE -- "--comment \"?$NAT_TAG\"? " | cut -d: -f1 | sort -rn || true); do
		iptables -w -t nat -D OUTPUT "$n"
	done
}
PROXY_PID=""
mangle_exit() {
	local rc=$?
	set +eE
	trap - ERR
	if [ -n "$PROXY_PID" ]; then
		kill -TERM "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
	fi
	nat_del
	(exit "$rc")
	net_on_exit
}
nat_del
trap mangle_exit EXIT

boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
WEST_DATA=$(data_port 2)
PROXY_PORT=$((IT_BASE + 28))

# the proxy first, then the redirect, then the agents
"$PROXY" "$PROXY_PORT" "127.0.0.1:$WEST_DATA" "$SEED" "$P_FLIP" "$P_TRUNC" "$P_DUP" \
	2>"$IT_DIR/proxy.log" &
PROXY_PID=$!
wait_until 5 "grep -q listening $IT_DIR/proxy.log"
mkdir -p "$NET_CG_ROOT/$(net_cgroup east)" # the rule names an existing cgroup
iptables -w -t nat -A OUTPUT -o lo -p tcp -d 127.0.0.1 --dport "$WEST_DATA" \
	-m cgroup --path "$(net_cgroup east)" -m comment --comment "$NAT_TAG" \
	-j REDIRECT --to-ports "$PROXY_PORT"
net_start east east
start west witness
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ] && [ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east west pool-west

requests() { # PHASE
	local i
	for ((i = 1; i <= USERS; i++)); do
		if [ "$1" == enable ]; then
			printf 'url = "%s/v1/users"\nrequest = "POST"\ndata = "{\\"sip\\":\\"sip:m%d@example.com\\",\\"pool\\":\\"pool-east\\"}"\n' "$E" "$i"
		else
			printf 'url = "%s/v1/users/sip:m%d@example.com/contacts"\nrequest = "PUT"\ndata = "[{\\"sip\\":\\"sip:f%d@example.com\\",\\"n\\":%d}]"\n' "$E" "$i" "$i" "$i"
		fi
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n'
	done
}
requests enable | sed '$d' >"$IT_DIR/enable.cfg"
requests contacts | sed '$d' >"$IT_DIR/contacts.cfg"
load() { curl -s --no-progress-meter --parallel --parallel-max 16 -K "$IT_DIR/$1.cfg" >"$IT_DIR/$1.codes"; }

# ---- writes while the proxy mangles ---------------------------------------
pcount() { grep -c "$1" "$IT_DIR/proxy.log" || true; }
load enable
load contacts
during=$(pcount ': flip bit\|: truncate after\|: duplicate a')
log "the proxy damaged the stream $during times during the writes"
[ "$during" -gt 0 ] || fail "no damage while east was written to"
assert_eq "$USERS" "$(grep -c '^201$' "$IT_DIR/enable.codes")" "enables answered 201"
assert_eq "$USERS" "$(grep -c '^200$' "$IT_DIR/contacts.codes")" "contacts answered 200"
# the records still flow through the proxy (the sender retries): go on
# until it did each kind of damage a few times in the direction of west
enough() {
	[ "$(pcount 'client->server: flip')" -ge 3 ] &&
		[ "$(pcount 'client->server: truncate after [1-9]')" -ge 3 ] &&
		[ "$(pcount 'duplicate a')" -ge 3 ]
}
# more writes meanwhile (settings of the users, one at a time), so that
# records, not only acks and heartbeats, meet the damage
trickle() {
	local i=0
	while [ ! -e "$IT_DIR/trickle.stop" ]; do
		i=$((i % USERS + 1))
		curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' -XPUT \
			"$E/v1/users/sip:m$i@example.com/settings" -d "{\"t\":$i}" >>"$IT_DIR/trickle.codes"
		sleep 0.02
	done
}
: >"$IT_DIR/trickle.codes"
trickle &
TRICKLE=$!
wait_until 90 enough
touch "$IT_DIR/trickle.stop"
wait "$TRICKLE"
TRICKLED=$(wc -l <"$IT_DIR/trickle.codes")
assert_eq "$TRICKLED" "$(grep -c '^200$' "$IT_DIR/trickle.codes")" "settings written while mangling answered 200"
RECORDS=$((2 * USERS + TRICKLED))
ITEMS=$((2 * USERS + (TRICKLED < USERS ? TRICKLED : USERS))) # users, contacts, settings
lag() { curl -s "$E/v1/backup" | jq '[.backup[] | select(.user_set == "pool-east" and .category == "user_data") | .lag_records] | add // 0'; }
log "mangled: $(pcount flip) flips, $(pcount truncate) truncations, $(pcount duplicate) duplicates; lag now $(lag)"

# ---- mangling off: everything arrives, once -------------------------------
kill -USR1 "$PROXY_PID"
wait_until 5 "grep -q 'mangling off' $IT_DIR/proxy.log"
expect_exit 0 ctl east --timeout 150 backup sync pool-east --wait 140
assert_contains "$OUT" "lag 0" "backup sync"
expect_exit 0 ctl east --json --timeout 150 backup verify pool-east --no-repair
assert_json "$OUT" '.differences_total == 0 and .differences == [] and .buckets_differing == 0' "verify: no difference"
assert_json "$OUT" ".equal_after == true and .complete == true and .items_owner == $ITEMS and .items_backup == $ITEMS" "verify: equal copies"

b=$(curl -s "$E/v1/backup")
assert_json "$b" "[.backup[] | select(.user_set == \"pool-east\" and .category == \"user_data\")][0] | .head_seq == $RECORDS and .acked_seq == $RECORDS and .lag_records == 0" "east's head and acknowledged sequence"
rx=$(curl -s "$W/v1/backup" | jq -c .received)
log "west received: $rx"
# each record applied exactly once; what came again was a duplicate
assert_json "$rx" ".records_applied == $RECORDS" "records applied at west"
for i in 1 2 $((USERS / 3)) $((USERS / 2)) $((USERS - 1)) "$USERS"; do
	e=$(curl -s "$E/v1/users/sip:m$i@example.com/contacts")
	w=$(curl -s "$W/v1/users/sip:m$i@example.com/contacts")
	assert_json "$w" ".copy == \"backup\" and .value[0].n == $i and .seq == $(jq .seq <<<"$e") and .epoch == $(jq .epoch <<<"$e")" "m$i at west (east: $e)"
done

# ---- the agents said why they dropped the damaged connections -------------
drops=$(grep -c 'receiver: dropping' "$IT_DIR/west/log" || true)
[ "$drops" -gt 0 ] || fail "west's log shows no dropped connection"
log "west dropped $drops connections: $(grep -o 'receiver: dropping [^ ]* ([a-z]*)' "$IT_DIR/west/log" | sed 's/.*(//; s/)//' | sort | uniq -c | tr -s ' \n' ' ')"
grep -qE 'receiver: dropping .* \(frame\): .*checksum mismatch' "$IT_DIR/west/log" ||
	fail "no connection dropped for a checksum mismatch in west's log"
grep -qE 'receiver: dropping .* \(truncated\): connection closed in the middle of a frame' "$IT_DIR/west/log" ||
	fail "no connection dropped for a truncated frame in west's log"
assert_json "$(curl -s "$W/v1/backup")" '.received.errors.frame > 0 and .received.errors.truncated > 0' "west's error counts by reason"
grep -qE "sender pool-east->pool-west [a-z_]+: peer 127.0.0.1:$WEST_DATA: " "$IT_DIR/east/log" ||
	fail "east's log shows no dropped connection"
log "east's sender: $(grep -cE "sender pool-east->pool-west [a-z_]+: peer " "$IT_DIR/east/log") connections lost, e.g. $(grep -E "sender pool-east->pool-west [a-z_]+: peer " "$IT_DIR/east/log" | sed 's/.*: peer [^ ]* //' | sort | uniq -c | sort -rn | head -3 | tr -s ' \n' ' ')"
assert_json "$(curl -s "$E/v1/backup")" "[.backup[] | select(.user_set == \"pool-east\" and .category == \"user_data\")][0].reconnects > 0" "east's reconnects"

# the proxy was in the path: it saw the sender's connections
kill -TERM "$PROXY_PID"
wait "$PROXY_PID" || fail "the proxy exited with an error"
PROXY_PID=""
links=$(grep 'counts (exit)' "$IT_DIR/proxy.log" | sed 's/.* links \([0-9]*\) .*/\1/')
[ "${links:-0}" -gt 1 ] || fail "the proxy saw ${links:-0} connections"
log "proxy: $(grep 'counts (exit)' "$IT_DIR/proxy.log" | sed 's/.*counts (exit): //')"
log "ok"
