#!/usr/bin/env bash
# The receiver's disk fills up: west's data_dir is a small tmpfs the test
# mounts (at /tmp/pp-diskfull-PID, unmounted on exit; leftovers of runs
# whose process is gone are unmounted at start), with [store] reserve =
# 4MiB. First a filler leaves less than the reserve free: west refuses its
# own writes (a user enable, user data, a batch item, a content upload)
# with 507 insufficient_storage and says so on /v1/status (self.disk
# warning) and /metrics, while it still applies what east sends (its
# acknowledged sequence moves on) and the control plane still commits;
# without the filler west's writes are taken again. Then, while east is written to,
# a filler file takes every free byte of it. Then:
#   - every write at east is still answered (async replication);
#   - west stops acknowledging: east's direction shows a backlog that grows
#     (state backlog or error) and an acknowledged sequence that stands
#     still while east's head moves on;
#   - west's agent stays up (answers its API) or, if it exits, exits by
#     itself (not by a signal) and starts again cleanly;
#   - west's log names the disk being full;
#   - west's store passes `pragma integrity_check` (read only, live);
#   - control-plane writes still commit.
# The filler is removed: replication resumes by itself, the lag returns to
# 0, east's acked == head == west's applied, `backup verify --no-repair`
# finds both copies equal, west serves east's values, all three agents
# agree on the control-plane state, the store is intact after a clean stop,
# and west counted every record applied once (received.records_applied).
# Needs root (mount) and sqlite3.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "missing tool: sqlite3"
[ "$(id -u)" = 0 ] || fail "t_diskfull needs root (mount)"
SIZE=${IT_DISKFULL_MB:-24}
USERS=${IT_DISKFULL_USERS:-1500} # two records each, ~1 KiB values

MNT=/tmp/pp-diskfull-$$
# leftovers of earlier runs whose shell is gone
while read -r _ m _; do
	case $m in
	/tmp/pp-diskfull-*)
		kill -0 "${m##*-}" 2>/dev/null && continue
		umount -l "$m" 2>/dev/null && rmdir "$m" 2>/dev/null
		;;
	esac
done </proc/mounts

df_exit() {
	local rc=$? pid
	set +eE
	trap - ERR
	# the agents first (west holds files on the tmpfs), then the mount
	for pid in "${PP_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
	for _ in $(seq 50); do
		local left=0
		for pid in "${PP_PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for pid in "${PP_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
	if mountpoint -q "$MNT"; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	rmdir "$MNT" 2>/dev/null
	(exit "$rc")
	it_cleanup
}
trap df_exit EXIT
mkdir -p "$MNT"
mount -t tmpfs -o "size=${SIZE}m,mode=0700" pp-diskfull "$MNT"

boot=$(it_boot_list 1 2 3)
agent east 1 east pool-east "$boot" ""
agent west 2 west pool-west "$boot" ""
agent witness 3 witness "" "$boot" ""
WDATA=$MNT/data
sed -i "s|^data_dir = .*|data_dir = $WDATA|" "$IT_DIR/west/poolpaird.conf"
grep -q "^data_dir = $WDATA\$" "$IT_DIR/west/poolpaird.conf" || fail "west's data_dir not moved"
RESERVE=$((4 << 20))
printf '\n[store]\nreserve = 4MiB\n' >>"$IT_DIR/west/poolpaird.conf"
start east west witness
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
# west may stop on its full disk: its receiver is under test, not a failover: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url east)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 20 "agree_digest ${ALL[*]}"
E=$(url east)
W=$(url west)
http() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
wait_until 20 "[ \"\$(http $E/v1/users/sip:x@y/location)\" == 404 ] && [ \"\$(http $W/v1/users/sip:x@y/location)\" == 404 ]"
wait_writable 20 east pool-east west pool-west

dir_of() { # POS JQ: a field of pool-east's user data direction at east
	curl -s --max-time 5 "$E/v1/backup" |
		jq -r "[.backup[] | select(.user_set == \"pool-east\" and .category == \"user_data\")][0].$1"
}
# a first record replicated: the streams run
assert_eq 201 "$(http -XPOST "$E/v1/users" -d '{"sip":"sip:first@example.com","pool":"pool-east"}')" "first write"
wait_until 30 "[ \"\$(dir_of acked_seq)\" == 1 ]"

# ---- west's disk under its reserve ----------------------------------------
assert_eq 201 "$(http -XPOST "$W/v1/users" -d '{"sip":"sip:w1@example.com","pool":"pool-west"}')" "a user of west's pool"
free=$(df --output=avail -B1 "$MNT" | tail -n 1)
log "west's disk before the reserve filler: $free bytes free ($(du -sh "$WDATA" | cut -f1) in its data_dir)"
[ "$free" -gt $((RESERVE + (2 << 20))) ] || fail "the tmpfs has too little room for the reserve phase: $free bytes"
head -c $((free - (2 << 20))) /dev/zero >"$MNT/reserve-filler"
wstatus() { curl -s --max-time 5 "$W/v1/status"; }
wait_until 20 "[ \"\$(wstatus | jq -r .self.disk.under_reserve)\" == true ]"
disk=$(wstatus | jq -c .self.disk)
log "west under its reserve: $disk"
assert_json "$disk" ".reserve_bytes == $RESERVE and .room_bytes == 0 and (.warning | test(\"under the reserve\"))" "west's self.disk"
wm=$(curl -s --max-time 5 "$W/metrics")
assert_eq 1 "$(awk '$1 == "poolpair_disk_under_reserve" { print $2 }' <<<"$wm")" "poolpair_disk_under_reserve"
assert_eq "$RESERVE" "$(awk '$1 == "poolpair_disk_reserve_bytes" { print $2 }' <<<"$wm")" "poolpair_disk_reserve_bytes"
# west's own writes: refused, changing nothing
out=$(curl -s -w '\n%{http_code}' --max-time 5 -XPOST "$W/v1/users" -d '{"sip":"sip:w2@example.com","pool":"pool-west"}')
assert_eq 507 "$(tail -n 1 <<<"$out")" "a user enable at west under its reserve"
assert_json "$(head -n 1 <<<"$out")" '.error == "insufficient_storage"' "507 body"
assert_eq 404 "$(http "$W/v1/users/sip:w2@example.com/location")" "the refused user"
assert_eq 507 "$(http -XPUT "$W/v1/users/sip:w1@example.com/contacts" -d '[{"n":1}]')" "user data at west under its reserve"
batch=$(curl -s --max-time 5 -XPOST "$W/v1/users/batch" -d '{"items":[{"sip":"sip:w1@example.com","kind":"settings","value":{"a":1}}]}')
assert_json "$batch" '.failed == 1 and .results[0].status == 507 and .results[0].error == "insufficient_storage"' "a batch item at west under its reserve"
assert_eq 507 "$(http -XPUT --data-binary 'slides' "$W/v1/users/sip:w1@example.com/conferences/c1/content/deck")" "a content upload at west under its reserve"
# what east sends is still applied at west (it uses the reserve)
acked0=$(dir_of acked_seq)
assert_eq 201 "$(http -XPOST "$E/v1/users" -d '{"sip":"sip:r1@example.com","pool":"pool-east"}')" "a write at east while west is under its reserve"
wait_until 30 "[ \"\$(dir_of acked_seq)\" == $((acked0 + 1)) ]"
assert_eq 200 "$(http "$W/v1/users/sip:r1@example.com/location")" "east's record at west"
ctl east pool add pool-reserve --site reserve --edition enterprise --kind physical --os w19 >/dev/null ||
	fail "a control-plane write with west under its reserve"
wait_until 20 "agree_digest ${ALL[*]}"
# space again: west takes its writes
rm -f "$MNT/reserve-filler"
wait_until 20 "[ \"\$(wstatus | jq -r .self.disk.under_reserve)\" == false ]"
assert_eq 200 "$(http -XPUT "$W/v1/users/sip:w1@example.com/contacts" -d '[{"n":1}]')" "user data at west above its reserve"
assert_json "$(wstatus | jq -c .self.disk)" 'has("warning") | not' "no warning above the reserve"
EXTRA=1 # records of east's user set written in this phase

PAD=$(head -c 1000 /dev/zero | tr '\0' x)
requests() { # PHASE
	local i
	for ((i = 1; i <= USERS; i++)); do
		if [ "$1" == enable ]; then
			printf 'url = "%s/v1/users"\nrequest = "POST"\ndata = "{\\"sip\\":\\"sip:d%d@example.com\\",\\"pool\\":\\"pool-east\\"}"\n' "$E" "$i"
		else
			printf 'url = "%s/v1/users/sip:d%d@example.com/contacts"\nrequest = "PUT"\ndata = "[{\\"n\\":%d,\\"pad\\":\\"%s\\"}]"\n' "$E" "$i" "$i" "$PAD"
		fi
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n'
	done
}
requests enable | sed '$d' >"$IT_DIR/enable.cfg"
requests contacts | sed '$d' >"$IT_DIR/contacts.cfg"
load() { curl -s --no-progress-meter --parallel --parallel-max 8 -K "$IT_DIR/$1.cfg" >"$IT_DIR/$1.codes"; }

# ---- the disk fills up while east is written to ----------------------------
(load enable && load contacts) &
LOADER=$!
wait_until 30 "[ \"\$(dir_of head_seq)\" -gt 200 ]"
rc=0
dd if=/dev/zero of="$MNT/filler" bs=64k 2>"$IT_DIR/dd.err" || rc=$?
grep -q 'No space left on device' "$IT_DIR/dd.err" || fail "the filler did not fill the tmpfs: $(cat "$IT_DIR/dd.err")"
log "filler: $(du -h "$MNT/filler" | cut -f1), free now: $(df --output=avail -B1 "$MNT" | tail -n 1) bytes, west's data: $(du -sh "$WDATA" | cut -f1)"

# west stops acknowledging: acked stands still while the head moves on
stalled() {
	local a1 h1 a2 h2
	a1=$(dir_of acked_seq)
	h1=$(dir_of head_seq)
	sleep 3
	a2=$(dir_of acked_seq)
	h2=$(dir_of head_seq)
	log "acked $a1 -> $a2, head $h1 -> $h2, state $(dir_of state), lag $(dir_of lag_records)"
	[ "$a1" == "$a2" ] && [ "$h2" -gt "$a2" ]
}
wait_until 60 stalled
wait_until 10 "[ \"\$(dir_of lag_records)\" -gt 0 ]"
st=$(dir_of state)
[[ "$st" == backlog || "$st" == error ]] || fail "state of the direction with west's disk full: $st"
lag1=$(dir_of lag_records)
wait "$LOADER" || fail "writes at east failed while west's disk was full"
assert_eq "$USERS" "$(grep -c '^201$' "$IT_DIR/enable.codes")" "enables answered 201"
assert_eq "$USERS" "$(grep -c '^200$' "$IT_DIR/contacts.codes")" "contacts answered 200"
lag2=$(dir_of lag_records)
[ "$lag2" -ge "$lag1" ] || fail "the backlog shrank with west's disk full: $lag1 -> $lag2"
log "backlog with west's disk full: $lag2 records ($(dir_of state)), east's error: $(dir_of error)"

# control-plane writes while west's disk is full (its Raft log shares the
# disk; the segments libraft preallocates give it room for these)
for p in south north-east; do
	ctl east pool add "pool-$p" --site "$p" --edition enterprise --kind physical --os w19 >/dev/null ||
		fail "a control-plane write with west's disk full"
done
sleep 1

# west: up (or gone by itself), its store intact, the reason in its log
west_exited=0
if alive west; then
	wait_until 10 "status west"
else
	wait_exit west 5 || true
	west_exited=1
	log "west exited with status $IT_STATUS while its disk was full"
	[ "$IT_STATUS" -lt 128 ] || fail "west was killed by signal $((IT_STATUS - 128)) when its disk filled: $(tail -n 5 "$IT_DIR/west/log")"
fi
grep -Eiq 'disk is full|no space left|SQLITE_FULL|ENOSPC' "$IT_DIR/west/log" ||
	fail "west's log does not say that its disk is full: $(grep -Ei 'error|warn' "$IT_DIR/west/log" | tail -n 5)"
log "west's log: $(grep -c -Ei 'disk is full|no space left|SQLITE_FULL|ENOSPC' "$IT_DIR/west/log") lines name it, the first: $(grep -m 1 -Ei 'disk is full|no space left|SQLITE_FULL|ENOSPC' "$IT_DIR/west/log")"
DB=$WDATA/store.db
assert_eq ok "$(sqlite3 -readonly "$DB" 'pragma integrity_check')" "west's store while its disk is full"

# ---- space again: replication resumes by itself ----------------------------
rm -f "$MNT/filler"
if [ $west_exited = 1 ]; then
	start west
fi
wait_until 20 "status west"
wait_until 120 "[ \"\$(dir_of lag_records)\" == 0 ]"
head=$(dir_of head_seq)
assert_eq $((2 * USERS + 1 + EXTRA)) "$head" "east's head"
assert_eq "$head" "$(dir_of acked_seq)" "east's acked after the disk was freed"
expect_exit 0 ctl east --timeout 70 backup sync pool-east --wait 60
expect_exit 0 ctl east --json --timeout 150 backup verify pool-east --no-repair
assert_json "$OUT" ".differences_total == 0 and .equal_after == true and .complete == true and .items_owner == $((2 * USERS + 1 + EXTRA)) and .items_backup == $((2 * USERS + 1 + EXTRA))" "verify: both copies equal"
for i in 1 $((USERS / 2)) "$USERS"; do
	e=$(curl -s "$E/v1/users/sip:d$i@example.com/contacts")
	w=$(curl -s "$W/v1/users/sip:d$i@example.com/contacts")
	assert_json "$w" ".copy == \"backup\" and .value[0].n == $i and .seq == $(jq .seq <<<"$e")" "d$i at west"
done
assert_eq "$head" "$(sqlite3 -readonly "$DB" "SELECT applied_seq FROM streams WHERE user_set = 'pool-east' AND lane = 0")" "west's applied sequence"
# the control plane goes on at west too (its Raft log is on the same disk)
ctl east pool add pool-north --site north --edition enterprise --kind physical --os w19 >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
rx=$(curl -s "$W/v1/backup" | jq -c .received)
log "west received: $rx"

# a clean stop of west leaves an intact store
pp_kill "$IT_DIR" west TERM
wait_exit west 15 || fail "west does not stop after SIGTERM"
assert_eq 0 "$IT_STATUS" "west's exit status after SIGTERM"
assert_eq ok "$(sqlite3 -readonly "$DB" 'pragma integrity_check')" "west's store after a clean stop"
if [ $west_exited = 0 ]; then
	# counted since west started: each record once, none of the batches
	# whose commit failed on the full disk
	assert_json "$rx" ".records_applied == $((2 * USERS + 1 + EXTRA))" "records applied at west (received.records_applied)"
fi
log "ok"
