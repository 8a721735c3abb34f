#!/usr/bin/env bash
# Every agent's Raft log on a slow disk, the stores on the usual one: the
# pool agents keep their leases and take writes, as long as they reach a
# majority (DESIGN: Availability).
#
# The raft directory of each agent (data_dir/raft) is a directory of an
# ext4 file system on a loop device (backed by a file in the test's
# directory, mounted at /tmp/pp-slowraft-PID; unmounted and detached on
# exit; leftovers of runs whose shell is gone are removed at start); the
# stores stay where they are. Once the pools are paired and writable, the
# agents' writes to the loop device are throttled (cgroup v1 blkio,
# IT_SLOWRAFT_IOPS writes per second, default 2): a Raft barrier then
# commits later than the harness's lease (1000 ms) runs. Then, for
# IT_SLOWRAFT_ROUNDS rounds (default 40), each pool agent takes a write of
# its own user set and every one must be answered 200: the leader's lease
# is proved by the echoes of its heartbeat answers, which need no disk. (A
# leader's lease proved by its barriers alone lapsed, its grants with it,
# and the writes were refused "503 no lease".) The test also asserts that
# the throttle bites: while it holds, the leader's status names the echoes
# as its lease's source at least once (with a quick disk, the barrier
# proves a later time), and a control-plane decision still commits, on the
# slow disk. The throttle lifted, writes go on, one more decision commits,
# and all three agents agree.
# Needs root (losetup, mount, the cgroup v1 blkio controller); skipped,
# and said so, where the machine has no blkio controller or loop device.
# timeout: 240
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "t_slow_raft needs root (losetup, mount, cgroups)"
for tool in losetup mkfs.ext4 mountpoint lsblk; do
	command -v "$tool" >/dev/null || fail "missing tool: $tool"
done
BLKIO=/sys/fs/cgroup/blkio
# a machine without them cannot throttle a disk: skipped, and said so (as
# t_netns does without network namespaces)
if [ ! -f "$BLKIO/blkio.throttle.write_iops_device" ]; then
	log "SKIP: no cgroup v1 blkio controller at $BLKIO"
	exit 0
fi
if ! losetup -f >/dev/null 2>&1; then
	log "SKIP: no free loop device (losetup -f)"
	exit 0
fi
IOPS=${IT_SLOWRAFT_IOPS:-2}
ROUNDS=${IT_SLOWRAFT_ROUNDS:-40}

MNT=/tmp/pp-slowraft-$$
CG=$BLKIO/pp-slowraft-$$
LOOP=""
# leftovers of earlier runs whose shell is gone
while read -r dev m _; do
	case $m in
	/tmp/pp-slowraft-*)
		kill -0 "${m##*-}" 2>/dev/null && continue
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		rmdir "$m" 2>/dev/null
		case $dev in /dev/loop*) losetup -d "$dev" 2>/dev/null ;; esac
		;;
	esac
done </proc/mounts
for cg in "$BLKIO"/pp-slowraft-*; do
	[ -d "$cg" ] || continue
	kill -0 "${cg##*-}" 2>/dev/null || rmdir "$cg" 2>/dev/null || true
done

slow_exit() {
	local rc=$? pid
	set +eE
	trap - ERR
	# the agents first (their raft files are on the loop device, and a
	# cgroup with processes cannot go), then the mount, the device, the
	# cgroup
	for pid in "${PP_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
	for _ in $(seq 50); do
		local left=0
		for pid in "${PP_PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for pid in "${PP_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
	for pid in "${PP_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	if mountpoint -q "$MNT"; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	rmdir "$MNT" 2>/dev/null
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	(exit "$rc")
	it_cleanup
}
trap slow_exit EXIT

truncate -s 256M "$IT_DIR/raft-disk.img"
LOOP=$(losetup --find --show "$IT_DIR/raft-disk.img")
mkfs.ext4 -q "$LOOP"
mkdir -p "$MNT"
mount "$LOOP" "$MNT"
DEV=$(lsblk -ndo MAJ:MIN "$LOOP" | tr -d ' ')
log "raft directories on $LOOP ($DEV) at $MNT"

three_agents_config() {
	local boot
	boot=$(it_boot_list 1 2 3)
	agent east 1 east pool-east "$boot" ""
	agent west 2 west pool-west "$boot" ""
	agent witness 3 witness "" "$boot" ""
}
three_agents_config
ALL=(east west witness)
for n in "${ALL[@]}"; do
	mkdir -p "$MNT/$n" "$IT_DIR/$n/data"
	ln -s "$MNT/$n" "$IT_DIR/$n/data/raft"
done
start "${ALL[@]}"
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
for n in "${ALL[@]}"; do
	[ -n "$(ls "$MNT/$n")" ] || fail "$n wrote nothing to its raft directory on $LOOP"
done
E=$(url east)
W=$(url west)
wait_writable 20 east pool-east west pool-west
code() { curl -s -o "$IT_DIR/body" -w '%{http_code}' --max-time 5 "$@"; }
assert_eq 201 "$(code -XPOST "$E/v1/users" -d '{"sip":"sip:e@example.com","pool":"pool-east"}')" "enable at east"
assert_eq 201 "$(code -XPOST "$W/v1/users" -d '{"sip":"sip:w@example.com","pool":"pool-west"}')" "enable at west"

# put NAME URL USER I: a write of contacts, answered 200
put() {
	local c
	c=$(code -XPUT "$2/v1/users/$3/contacts" -d "[{\"sip\":\"sip:f$4@example.com\",\"n\":$4}]")
	[ "$c" == 200 ] || fail "write $4 at $1 while the raft disks are slow: $c $(cat "$IT_DIR/body")"
}

mkdir "$CG"
echo "$DEV $IOPS" >"$CG/blkio.throttle.write_iops_device"
for n in "${ALL[@]}"; do echo "$(pid_of "$n")" >"$CG/cgroup.procs"; done
log "raft disks of ${ALL[*]} throttled to $IOPS writes/s; leader $LEADER"
# a decision still commits, slowly, in the background meanwhile
ctl witness site add slow-disk >"$IT_DIR/decision.out" 2>&1 &
DECISION=$!
sources=""
for ((i = 1; i <= ROUNDS; i++)); do
	put east "$E" sip:e@example.com "$i"
	put west "$W" sip:w@example.com "$i"
	sources+="$(sfield "$LEADER" .self.lease.source) "
	sleep 0.1
done
log "$((2 * ROUNDS)) writes answered 200; the leader's lease from: $(tr -s ' ' '\n' <<<"$sources" | sed '/^$/d' | sort | uniq -c | xargs)"
[[ " $sources " == *" echoes "* ]] ||
	fail "the leader's lease never rested on the echoes: the throttle did not make its barriers late (sources: $sources)"
wait "$DECISION" || fail "a decision on the slow disks: $(cat "$IT_DIR/decision.out")"
assert_eq "$LEADER" "$(leader_name east)" "leader after the slow period"
for n in "${ALL[@]}"; do
	assert_eq true "$(sfield "$n" .self.lease.valid)" "lease of $n with the raft disks slow"
done

echo "$DEV 0" >"$CG/blkio.throttle.write_iops_device"
log "throttle lifted"
put east "$E" sip:e@example.com $((ROUNDS + 1))
put west "$W" sip:w@example.com $((ROUNDS + 1))
expect_exit 0 ctl east site add quick-disk
wait_until 20 "agree_digest ${ALL[*]}"
for n in "${ALL[@]}"; do
	assert_eq "quick-disk slow-disk" "$(sfield "$n" '[.sites[] | select(. == "slow-disk" or . == "quick-disk")] | sort | join(" ")')" "sites seen by $n"
done
assert_json "$(curl -s --max-time 5 "$E/v1/users/sip:e@example.com/contacts")" ".value[0].n == $((ROUNDS + 1))" "east's last write"
log "ok"
