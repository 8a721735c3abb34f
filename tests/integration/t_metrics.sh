#!/usr/bin/env bash
# /metrics passes Prometheus' own linter: after writes in both directions
# and their replication, the text of a pool agent, of its pair and of the
# witness is checked with `promtool check metrics` (every family has HELP
# and TYPE, names and units as Prometheus wants them), and any complaint
# fails the test. The alerting rules shipped in deploy/prometheus pass
# `promtool check rules`, and every poolpair metric they name is exported.
# (t_tls_api lints a scrape over TLS.)
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "missing tool: promtool (Debian package prometheus)"
RULES=$IT_ROOT/deploy/prometheus/poolpair-alerts.yml

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
ctl east sba add sba-1 --site east --backup-pool pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_writable 20 east pool-east west pool-west
E=$(url east)
W=$(url west)

http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
for i in 1 2 3; do
	assert_eq 201 "$(http -XPOST "$E/v1/users" -d "{\"sip\":\"sip:e$i@example.com\",\"pool\":\"pool-east\"}")" "enable e$i"
	assert_eq 200 "$(http -XPUT "$E/v1/users/sip:e$i@example.com/contacts" -d '[{"sip":"sip:f@example.com"}]')" "contacts of e$i"
	assert_eq 201 "$(http -XPOST "$W/v1/users" -d "{\"sip\":\"sip:w$i@example.com\",\"pool\":\"pool-west\"}")" "enable w$i"
done
head -c 300000 /dev/urandom >"$IT_DIR/deck.bin"
assert_eq 200 "$(http -XPUT "$E/v1/users/sip:e1@example.com/conferences/c1" -d '{"at":"2026-12-01T10:00Z"}')" "conference"
assert_eq 201 "$(http -XPUT "$E/v1/users/sip:e1@example.com/conferences/c1/content/deck.bin" --data-binary @"$IT_DIR/deck.bin")" "content"
lag() { curl -s "$1/v1/backup" | jq '[.backup[] | .lag_records] | add // 0'; }
wait_until 30 "[ \"\$(lag $E)\" == 0 ] && [ \"\$(lag $W)\" == 0 ]"
assert_json "$(curl -s "$E/v1/backup")" '[.backup[] | select(.category == "content" and .acked_seq > 0)] | length == 1' "content replicated"

# every agent's /metrics, linted
for n in "${ALL[@]}"; do
	curl -sf "$(url "$n")/metrics" >"$IT_DIR/metrics.$n" || fail "GET /metrics at $n"
	[ -s "$IT_DIR/metrics.$n" ] || fail "empty /metrics at $n"
	if ! out=$(promtool check metrics <"$IT_DIR/metrics.$n" 2>&1); then
		fail "promtool check metrics at $n: $out"
	fi
	# promtool exits 0 on some lint problems: any output is a complaint
	assert_eq "" "$out" "promtool check metrics at $n"
done
assert_contains "$(cat "$IT_DIR/metrics.east")" 'poolpair_backup_lag_records{from="pool-east",to="pool-west",user_set="pool-east",category="content"}' "east's content stream"
assert_contains "$(cat "$IT_DIR/metrics.witness")" "poolpair_raft_term" "the witness's metrics"
# the election timeout in effect, in seconds, as /v1/status gives it in ms
eto=$(sfield east '.timing.election_timeout_effective_ms')
assert_contains "$(cat "$IT_DIR/metrics.east")" "poolpair_raft_election_timeout_seconds $(awk -v ms="$eto" 'BEGIN { printf "%.3f", ms / 1000 }')" "east's election timeout gauge"

# the sender's commit -> acknowledgement histogram: every record written
# since the start and acknowledged by west is counted, per stream
L='from="pool-east",to="pool-west",user_set="pool-east",category="user_data"'
acked=$(curl -s "$E/v1/backup" | jq '.backup[] | select(.user_set == "pool-east" and .category == "user_data") | .acked_seq')
[ "${acked:-0}" -ge 7 ] || fail "east's user_data acked_seq $acked, expected at least 7 writes"
metric() { sed -n "s/^poolpair_replication_ack_seconds_$2{$L${3:-}} //p" "$IT_DIR/metrics.$1"; }
assert_eq "histogram" "$(sed -n 's/^# TYPE poolpair_replication_ack_seconds //p' "$IT_DIR/metrics.east")" "ack histogram type"
assert_eq "$acked" "$(metric east count)" "acknowledged records counted"
assert_eq "$acked" "$(metric east bucket ',le="+Inf"')" "+Inf bucket"
[ -n "$(metric east bucket ',le="0.0001"')" ] || fail "no 100 us bucket"
[ -n "$(metric east bucket ',le="0.00025"')" ] || fail "no 250 us bucket"
awk -v s="$(metric east sum)" 'BEGIN { exit !(s > 0) }' || fail "ack seconds sum not positive"
prev=0
for le in 0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.01 0.025 0.1 0.5 1 5 +Inf; do
	c=$(metric east bucket ",le=\"$le\"")
	[ -n "$c" ] && [ "$c" -ge "$prev" ] || fail "bucket le=$le: '$c' after $prev"
	prev=$c
done
assert_eq "1" "$(grep -c "^poolpair_replication_ack_seconds_count{from=\"pool-west\",to=\"pool-east\",user_set=\"pool-west\",category=\"user_data\"} [1-9]" "$IT_DIR/metrics.west")" "west's histogram counts its writes"

# the alerting rules: valid, and naming only what is exported
out=$(promtool check rules "$RULES" 2>&1) || fail "promtool check rules: $out"
assert_contains "$out" "SUCCESS" "promtool check rules"
cat "$IT_DIR"/metrics.* | sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' | sort -u >"$IT_DIR/families"
named=$(grep -o 'poolpair_[a-z0-9_]*' "$RULES" | sort -u)
[ -n "$named" ] || fail "no poolpair metric named in $RULES"
for m in $named; do
	grep -qx "$m" "$IT_DIR/families" || fail "$RULES names $m, which no agent exports"
done
log "ok: $(wc -l <"$IT_DIR/families") families linted at ${#ALL[@]} agents; $(wc -w <<<"$named") metrics named by the rules are exported"
