#!/usr/bin/env bash
# timeout: 300
# An agent that lost its disk comes back with the same config and an empty
# data_dir, and rejoins instead of bootstrapping a second log:
# - three agents, pools paired; kill -9 of east; its data_dir wiped; east
#   started again with the same config;
# - east never bootstraps: it asks its peers, finds the cluster, and the
#   leader removes its old incarnation (committed) before east starts Raft,
#   then adds it back as a spare: the history keeps "rebuild member 1 east
#   (data lost): old incarnation removed" then "... added back as spare";
#   the leader logged the removal committed before the add, east logged
#   that it starts Raft only after the leader's answer;
# - placement makes east a voter again with the same id; all three agree;
#   a decision still commits, and east sees it;
# - west stopped, a closed Raft segment of it corrupted: west moves its
#   Raft directory aside (kept, the broken segment in it), starts again on
#   an empty one and rejoins the same way (history, voter, agreement);
# - east stopped, its store truncated: the integrity check at start fails,
#   the store is moved aside (kept), east comes back with an empty store
#   and its Raft log as it was;
# - a joiner (east2, [cluster] join) killed -9 and wiped is known to the
#   cluster: it rejoins the same way instead of joining as a new member;
# - an agent whose only peer never answers keeps asking, says whom it
#   waits for, shows `probing` in status, and writes no Raft state.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
# a failover is not under test: policy manual
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url west)/v1/policy" -d '{"failover":"manual"}')" \
	'.policy.failover == "manual"' "policy manual"
wait_until 30 "agree_digest ${ALL[*]}"
wait_until 30 "[ \"\$(role_of west 1)\" == voter ]"
assert_not_contains "$(cat "$IT_DIR/east/log")" "rejoining as member" "a first start does not rejoin"

# ---- the disk of east is lost ----
log "kill -9 east, wipe its data_dir, start it again"
kill -KILL "$(pid_of east)"
wait_new_leader 30 east west witness
L=$LEADER
rm -rf "$IT_DIR/east/data"
: >"$IT_DIR/east/log"
start east

wait_until 60 "grep -q 'added it back as a spare: starting raft' \"\$IT_DIR/east/log\""
assert_not_contains "$(cat "$IT_DIR/east/log")" "bootstrapping" "an empty disk of a live cluster never bootstraps"
assert_contains "$(cat "$IT_DIR/east/log")" "rejoining as member 1" "east rejoins"
# east started Raft only after the leader's answer: its first Raft lines
# come after it
ask=$(grep -n 'rejoining as member 1' "$IT_DIR/east/log" | head -1 | cut -d: -f1)
go=$(grep -n 'added it back as a spare: starting raft' "$IT_DIR/east/log" | head -1 | cut -d: -f1)
[ "$ask" -lt "$go" ] || fail "east started raft before it asked to rejoin"
# the leader: removal committed, then the add
rm_line=$(grep -n 'rejoin of member 1: old incarnation removed (committed)' "$IT_DIR/$L/log" | head -1 | cut -d: -f1)
add_line=$(grep -n 'rejoin of member 1: added back as spare' "$IT_DIR/$L/log" | head -1 | cut -d: -f1)
[ -n "$rm_line" ] && [ -n "$add_line" ] || fail "the leader $L logged no removal or no add"
[ "$rm_line" -lt "$add_line" ] || fail "the leader added east back before the removal committed"

# placement: spare, then voter again, same id
wait_until 60 "[ \"\$(role_of $L 1)\" == voter ]"
wait_until 60 "agree_digest ${ALL[*]}"
assert_eq "$(sfield east '.self.id')" 1 "east kept its id"
assert_eq "$(voters "$L")" 3 "three voters"

# the history, kept: removed before added back
H=$(curl -s --max-time 5 "$(url "$L")/v1/history?limit=50")
removed=$(jq -r '[.history[] | select(.what == "rebuild member 1 east (data lost): old incarnation removed")] | .[0].seq // empty' <<<"$H")
added=$(jq -r '[.history[] | select(.what == "rebuild member 1 east (data lost): added back as spare")] | .[0].seq // empty' <<<"$H")
[ -n "$removed" ] && [ -n "$added" ] || fail "no rebuild entries in the history: $H"
[ "$removed" -lt "$added" ] || fail "history: added back ($added) before removed ($removed)"
assert_json "$H" "[.history[] | select(.seq == $removed)][0].kept == true" "the rebuild entry is kept"
expect_exit 0 ctl east history --limit 20
assert_contains "$OUT" "rebuild member 1 east (data lost): old incarnation removed" "poolpairctl history shows it"
expect_exit 0 ctl east member list
assert_contains "$OUT" "east" "poolpairctl member list"

# a decision still commits, everywhere
before=$(decisions "$L")
assert_json "$(curl -s -L --max-time 5 -XPUT "$(url east)/v1/policy" -d '{"cooldown_ms":61000}')" \
	'.policy.cooldown_ms == 61000' "a decision after the rejoin"
wait_until 30 "[ \"\$(decisions east)\" -gt $before ]"
wait_until 30 "agree_digest ${ALL[*]}"

# ---- a Raft directory that fails to load takes the same path ----
log "stop west, corrupt a closed raft segment, start it again"
kill -TERM "$(pid_of west)"
wait_exit west 15 || fail "west did not stop"
wait_leader 30 east witness
seg=$(cd "$IT_DIR/west/data/raft" && ls | grep -E '^[0-9]+-[0-9]+$' | head -1)
[ -n "$seg" ] || fail "west has no closed segment"
printf 'garbagegarbagegarbage' | dd of="$IT_DIR/west/data/raft/$seg" bs=1 seek=40 conv=notrunc 2>/dev/null
: >"$IT_DIR/west/log"
start west
wait_until 60 "grep -q 'added it back as a spare: starting raft' \"\$IT_DIR/west/log\""
assert_contains "$(cat "$IT_DIR/west/log")" "checksum mismatch" "west saw the broken segment"
assert_contains "$(cat "$IT_DIR/west/log")" "BROKEN RAFT DIRECTORY MOVED ASIDE" "west says so loudly"
aside=$(ls -d "$IT_DIR"/west/data/aside-*/raft 2>/dev/null | head -1)
[ -n "$aside" ] && [ -f "$aside/$seg" ] || fail "the broken raft directory is not kept aside"
cmp -s <(printf 'garbagegarbagegarbage') <(dd if="$aside/$seg" bs=1 skip=40 count=21 2>/dev/null) ||
	fail "the segment kept aside is not the broken one"
assert_not_contains "$(cat "$IT_DIR/west/log")" "bootstrapping" "the broken disk never bootstraps"
wait_leader 30 "${ALL[@]}"
L=$LEADER
wait_until 60 "[ \"\$(role_of $L 2)\" == voter ]"
wait_until 60 "agree_digest ${ALL[*]}"
H=$(curl -s --max-time 5 "$(url "$L")/v1/history?limit=50")
assert_json "$H" '[.history[] | select(.what == "rebuild member 2 west (data lost): old incarnation removed")] | length == 1' "west's rebuild in the history"

# ---- a store that fails its integrity check is moved aside ----
log "stop east, truncate its store, start it again"
kill -TERM "$(pid_of east)"
wait_exit east 15 || fail "east did not stop"
db=$IT_DIR/east/data/store.db
size=$(stat -c %s "$db")
[ "$size" -gt 8192 ] || fail "east's store is too small to truncate: $size"
truncate -s $((size / 2)) "$db"
: >"$IT_DIR/east/log"
start east
wait_until 60 "grep -q 'data: store open' \"\$IT_DIR/east/log\""
assert_contains "$(cat "$IT_DIR/east/log")" "fails its integrity check" "east checked its store"
assert_contains "$(cat "$IT_DIR/east/log")" "BROKEN STORE MOVED ASIDE" "east says so loudly"
kept=$(ls "$IT_DIR"/east/data/aside-*/store.db 2>/dev/null | head -1)
[ -n "$kept" ] || fail "the broken store is not kept aside"
assert_eq "$(stat -c %s "$kept")" $((size / 2)) "the store kept aside is the broken one"
wait_until 60 "agree_digest ${ALL[*]}"

# ---- a joiner whose id the cluster knows takes the rejoin path too ----
log "a joiner east2 joins, is killed -9, wiped and started again"
agent east2 4 east "" "" "$(url witness)"
start east2
wait_until 60 "[ -n \"\$(role_of witness 4)\" ]"
wait_until 60 "agree_digest ${ALL[*]} east2"
kill -KILL "$(pid_of east2)"
rm -rf "$IT_DIR/east2/data"
: >"$IT_DIR/east2/log"
start east2
wait_until 60 "grep -q 'added it back as a spare: starting raft' \"\$IT_DIR/east2/log\""
assert_not_contains "$(cat "$IT_DIR/east2/log")" "joined the cluster" "the known joiner did not join as new"
wait_leader 30 "${ALL[@]}"
H=$(curl -s --max-time 5 "$(url "$LEADER")/v1/history?limit=50")
assert_json "$H" '[.history[] | select(.what == "rebuild member 4 east2 (data lost): old incarnation removed")] | length == 1' "east2's rebuild in the history"
wait_until 60 "[ -n \"\$(role_of $LEADER 4)\" ] && [ \"\$(role_of $LEADER 4)\" != spare ]"
wait_until 60 "agree_digest ${ALL[*]} east2"

# ---- nobody answers: it keeps asking and never runs Raft ----
log "an agent whose only peer never answers"
agent lone 9 lone "" "$(it_boot_list 9 8)" ""
start lone
wait_until 30 "grep -q 'raft not started, waiting for http://127.0.0.1:$(api_port 8)' \"\$IT_DIR/lone/log\""
wait_until 10 "[ \"\$(state_of lone)\" == probing ]"
expect_exit 0 ctl lone status
assert_contains "$OUT" "probing" "poolpairctl status shows it"
assert_eq "" "$(ls -A "$IT_DIR/lone/data/raft" 2>/dev/null)" "no raft state written"
assert_not_contains "$(cat "$IT_DIR/lone/log")" "bootstrapping" "it never bootstraps"
log "ok"
