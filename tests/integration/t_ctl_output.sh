#!/usr/bin/env bash
# poolpairctl's output where two streams or two rows could be confused:
# `user get` of a value larger than stdio's buffer, stdout and stderr to
# one file, gives the whole value and then its trailer on a line of its own;
# `backup status` lists each stream once (the CMS has no content lane row)
# and names the user set, so that after a failover the pair's two user
# sets are told apart.
source "$(dirname "$0")/lib.sh"

three_agents
ALL=(east west witness)
wait_leader 30 "${ALL[@]}"
ctl east pool add pool-east --site east --edition enterprise --kind physical --os w19 >/dev/null
ctl east pool add pool-west --site west --edition enterprise --kind physical --os w19 >/dev/null
ctl east pair pool-east pool-west >/dev/null
wait_until 20 "agree_digest ${ALL[*]}"
wait_writable 20 east pool-east west pool-west

A=sip:alice@example.com
ctl east user enable "$A" --pool pool-east >/dev/null
v=$(jq -cn '[range(400) | {sip: "sip:friend\(.)@example.com", n: .}]')
[ ${#v} -gt 16384 ] || fail "the value is not larger than a stdio buffer"
ctl east user set "$A" contacts --value "$v" >/dev/null
ctl east user get "$A" contacts >"$IT_DIR/get.out" 2>&1 || fail "user get: $(cat "$IT_DIR/get.out")"
last=$(tail -n 1 "$IT_DIR/get.out")
[[ "$last" =~ ^epoch\ 1,\ seq\ [0-9]+,\ copy\ own$ ]] || fail "user get: last line '$last'"
assert_eq 1 "$(grep -c 'epoch' "$IT_DIR/get.out")" "trailer lines"
assert_eq "$v" "$(head -n -1 "$IT_DIR/get.out" | jq -c .)" "the value before the trailer"

# each stream once; the user set says whose data a row carries
lag() { curl -s "$1/v1/backup" | jq '[.backup[] | .lag_records] | add // 0'; }
wait_until 30 "[ \"\$(lag $(url east))\" == 0 ]"
out=$(ctl east backup status)
assert_eq 3 "$(tail -n +2 <<<"$out" | wc -l)" "rows at east (user data, content, cms): $out"
assert_eq 1 "$(grep -c ' content ' <<<"$out")" "content rows at east: $out"
grep -Eq '^pool-east +pool-west +pool-east +user_data +steady ' <<<"$out" || fail "user data row: $out"
grep -Eq '^pool-east +pool-west +pool-east +content +steady ' <<<"$out" || fail "content row: $out"
grep -Eq '^pool-east +pool-west +cms +cms +steady ' <<<"$out" || fail "cms row: $out"
assert_json "$(curl -s "$(url east)/v1/backup")" '[.backup[] | select(.user_set == "cms" and .category == "content")] | length == 0' "no CMS content row in GET /v1/backup"

ctl east failover pool-east >/dev/null
wait_until 30 "sfield west '.pools[] | select(.name == \"pool-east\") | .owner' | grep -qx pool-west"
wait_until 30 "ctl west backup status | grep -Eq '^pool-west +pool-east +pool-east +content '"
out=$(ctl west backup status)
for us in pool-west pool-east; do
	grep -Eq "^pool-west +pool-east +$us +user_data " <<<"$out" || fail "user data of $us at west: $out"
	grep -Eq "^pool-west +pool-east +$us +content " <<<"$out" || fail "content of $us at west: $out"
done
assert_eq "$(tail -n +2 <<<"$out" | awk '{print $1, $2, $3, $4}' | sort | uniq -d)" "" "rows named twice at west: $out"
# a connection that streams shows no error (an old one is history)
assert_eq "" "$(tail -n +2 <<<"$out" | awk '$5 == "steady" && $NF != "-"')" "errors of streaming rows at west: $out"
# east, recovering, owns nothing and sends nothing: status has no row from
# it (and no "unknown" one: it is heard)
wait_until 30 "sfield witness '.pools[] | select(.name == \"pool-east\") | .state' | grep -qx recovering"
wait_until 10 "status witness | jq -e '[.backup[] | select(.from == \"pool-east\")] | length == 0'"
assert_json "$(status witness)" '[.backup[] | select(.from == "pool-west" and .user_set == "pool-east")] | length == 2' "west sends east's user set"
log "ok"
