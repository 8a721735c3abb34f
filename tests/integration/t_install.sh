#!/usr/bin/env bash
# `meson install` puts everything where an operator and systemd look for it:
# poolpaird in sbin, poolpairctl in bin, the units in systemd's unit
# directory with the installed paths filled in, sysusers.d and tmpfiles.d
# snippets, the three man pages, the example configurations in
# sysconfdir/poolpair and the docs. Then, on what was installed:
# - the installed poolpaird accepts each installed example config (--check),
#   exactly what the unit's ExecStartPre runs;
# - systemd-analyze verify finds nothing to say about either unit, and a
#   deliberately broken copy shows that it would (the check can fail);
# - systemd-analyze security --offline rates the unit's sandboxing "OK" or
#   better (exposure below 4.0);
# - systemd-sysusers and systemd-tmpfiles, run against a scratch root,
#   create the poolpair user and the data and config directories with the
#   modes the unit relies on;
# - the man pages format without a groff warning.
# Nothing is installed on the host: DESTDIR is this test's directory.
# systemd is not PID 1 on the test machines, so the units are not started
# here; t_netns starts agents exactly as the units' ExecStartPre/ExecStart do.
source "$(dirname "$0")/lib.sh"

command -v meson >/dev/null || fail "t_install needs meson"
ROOTDIR=$IT_DIR/destdir
log "meson install into $ROOTDIR"
DESTDIR=$ROOTDIR meson install -C "$BUILD" --no-rebuild --quiet >"$IT_DIR/install.log" 2>&1 ||
	{ cat "$IT_DIR/install.log" >&2; fail "meson install failed"; }

intro=$(meson introspect "$BUILD" --buildoptions)
opt() { jq -r --arg n "$1" '.[] | select(.name == $n) | .value' <<<"$intro"; }
PREFIX=$(opt prefix)
SBIN=$PREFIX/$(opt sbindir)
BIN=$PREFIX/$(opt bindir)
MAN=$PREFIX/$(opt mandir)
SYSCONF=$(opt sysconfdir)
case $SYSCONF in /*) ;; *) SYSCONF=$PREFIX/$SYSCONF ;; esac
log "prefix $PREFIX, sysconfdir $SYSCONF"

# ---- the files -------------------------------------------------------------
for f in "$SBIN/poolpaird" "$BIN/poolpairctl"; do
	[ -x "$ROOTDIR$f" ] || fail "not installed or not executable: $f"
done
"$ROOTDIR$SBIN/poolpaird" --version >/dev/null || fail "installed poolpaird does not run"
"$ROOTDIR$BIN/poolpairctl" --help >/dev/null 2>&1 || fail "installed poolpairctl does not run"
for f in man8/poolpaird.8 man8/poolpairctl.8 man5/poolpaird.conf.5; do
	[ -f "$ROOTDIR$MAN/$f" ] || fail "man page not installed: $MAN/$f"
	warn=$(groff -man -Tutf8 -ww -z "$ROOTDIR$MAN/$f" 2>&1)
	[ -z "$warn" ] || fail "groff warns about $f: $warn"
done
for f in east west witness; do
	[ -f "$ROOTDIR$SYSCONF/poolpair/$f.conf.example" ] || fail "example config not installed: $SYSCONF/poolpair/$f.conf.example"
done
UNITDIR=$(find "$ROOTDIR" -name poolpaird.service -printf '%h\n' | head -n1)
[ -n "$UNITDIR" ] || fail "poolpaird.service not installed"
case ${UNITDIR#"$ROOTDIR"} in */systemd/system) ;; *) fail "units installed in ${UNITDIR#"$ROOTDIR"}, not a systemd unit directory" ;; esac
[ -f "$UNITDIR/poolpaird@.service" ] || fail "poolpaird@.service not installed"
SYSUSERS=$(find "$ROOTDIR" -path '*/sysusers.d/poolpair.conf' | head -n1)
TMPFILES=$(find "$ROOTDIR" -path '*/tmpfiles.d/poolpair.conf' | head -n1)
[ -n "$SYSUSERS" ] || fail "sysusers.d snippet not installed"
[ -n "$TMPFILES" ] || fail "tmpfiles.d snippet not installed"
[ -n "$(find "$ROOTDIR" -name operator-guide.md)" ] || fail "operator guide not installed"
[ -n "$(find "$ROOTDIR" -name poolpair-alerts.yml)" ] || fail "alerting rules not installed"

# ---- the units name the installed paths ---------------------------------------
unit=$(cat "$UNITDIR/poolpaird.service")
assert_contains "$unit" "ExecStartPre=$SBIN/poolpaird --check -c $SYSCONF/poolpair/poolpaird.conf" "ExecStartPre"
assert_contains "$unit" "ExecStart=$SBIN/poolpaird -c $SYSCONF/poolpair/poolpaird.conf" "ExecStart"
assert_contains "$unit" "Type=notify" "unit type"
assert_contains "$unit" "WatchdogSec=" "watchdog"
assert_contains "$unit" 'ExecReload=/bin/kill -HUP $MAINPID' "reload sends SIGHUP (TLS certificates)"
for u in poolpaird.service poolpaird@.service poolpair-tmpfiles; do
	f=$UNITDIR/$u
	[ "$u" == poolpair-tmpfiles ] && f=$TMPFILES
	left=$(grep -oE '@[a-z_]+@' "$f" || true)
	[ -z "$left" ] || fail "unfilled placeholder in $u: $left"
done
assert_contains "$(cat "$TMPFILES")" "d $SYSCONF/poolpair " "tmpfiles config directory"

# ---- the example configs pass the unit's own check ------------------------------
# They listen off loopback, so they come with [tls] (files under
# /etc/poolpair/tls): made here as their comments say, with the paths
# pointed at them, each config passes --check; as installed, --check reads
# those files (and fails on this host, where they are not).
PKI=$IT_DIR/pki
"$IT_ROOT/scripts/poolpair-cert" ca "$PKI" >/dev/null
"$IT_ROOT/scripts/poolpair-cert" issue "$PKI" east-1 --role agent --agent-id 1 --pool pool-east >/dev/null
"$IT_ROOT/scripts/poolpair-cert" issue "$PKI" west-1 --role agent --agent-id 2 --pool pool-west >/dev/null
"$IT_ROOT/scripts/poolpair-cert" issue "$PKI" witness-1 --role agent --agent-id 3 >/dev/null
for f in east west witness; do
	ex=$ROOTDIR$SYSCONF/poolpair/$f.conf.example
	grep -q '^\[tls\]$' "$ex" || fail "installed $f.conf.example has no [tls] section"
	sed -e "s#/etc/poolpair/tls/#$PKI/#" "$ex" >"$IT_DIR/$f.conf"
	out=$("$ROOTDIR$SBIN/poolpaird" --check -c "$IT_DIR/$f.conf" 2>&1) ||
		fail "installed $f.conf.example fails --check: $out"
	if [ ! -e /etc/poolpair/tls/ca.crt ]; then
		out=$("$ROOTDIR$SBIN/poolpaird" --check -c "$ex" 2>&1) &&
			fail "installed $f.conf.example passes --check without its [tls] files"
		assert_contains "$out" "/etc/poolpair/tls/" "--check of $f.conf.example as installed"
	fi
done
# the files they name are checked as at start: a key group or others can
# read, a config others can write, a data_dir others can write are refused
chmod 0644 "$PKI/east-1.key"
out=$("$ROOTDIR$SBIN/poolpaird" --check -c "$IT_DIR/east.conf" 2>&1) &&
	fail "--check passes with a key of mode 0644"
assert_eq "poolpaird: tls key $PKI/east-1.key is readable by group/others (mode 0644): chmod 600 $PKI/east-1.key" "$out" "--check with a readable key"
chmod 0600 "$PKI/east-1.key"
chmod 0666 "$IT_DIR/east.conf"
out=$("$ROOTDIR$SBIN/poolpaird" --check -c "$IT_DIR/east.conf" 2>&1) &&
	fail "--check passes with a config of mode 0666"
assert_contains "$out" "config $IT_DIR/east.conf is writable by others (mode 0666)" "--check with a writable config"
chmod 0644 "$IT_DIR/east.conf"
mkdir -m 0777 "$IT_DIR/open-data"
chmod 0777 "$IT_DIR/open-data"
sed -e "s#^data_dir = .*#data_dir = $IT_DIR/open-data#" "$IT_DIR/east.conf" >"$IT_DIR/east-open.conf"
out=$("$ROOTDIR$SBIN/poolpaird" --check -c "$IT_DIR/east-open.conf" 2>&1) &&
	fail "--check passes with a data_dir of mode 0777"
assert_contains "$out" "data_dir $IT_DIR/open-data is writable by others (mode 0777): chmod o-w $IT_DIR/open-data" "--check with an open data_dir"
# the agent itself refuses them too, before it listens
out=$("$ROOTDIR$SBIN/poolpaird" -c "$IT_DIR/east-open.conf" 2>&1) &&
	fail "poolpaird starts with a data_dir of mode 0777"
assert_contains "$out" "data_dir $IT_DIR/open-data is writable by others" "start with an open data_dir"
# without [tls] they would need [listen] insecure = true
sed -e '/^\[tls\]$/,/^key = /d' -e 's#https://#http://#g' "$IT_DIR/east.conf" >"$IT_DIR/east-plain.conf"
out=$("$ROOTDIR$SBIN/poolpaird" --check -c "$IT_DIR/east-plain.conf" 2>&1) &&
	fail "east.conf.example without [tls] passes --check"
assert_contains "$out" "is not a loopback address and there is no [tls] section" "--check without [tls]"

# ---- systemd's own checks ----------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	# the installed paths live under DESTDIR here: point the units there
	for u in poolpaird.service poolpaird@.service; do
		sed -e "s#$SBIN/#$ROOTDIR$SBIN/#g" "$UNITDIR/$u" >"$IT_DIR/$u"
	done
	out=$(systemd-analyze verify --man=no "$IT_DIR/poolpaird.service" 2>&1) || fail "systemd-analyze verify failed: $out"
	[ -z "$out" ] || fail "systemd-analyze verify poolpaird.service: $out"
	cp "$IT_DIR/poolpaird@.service" "$IT_DIR/poolpaird@east.service"
	out=$(systemd-analyze verify --man=no "$IT_DIR/poolpaird@east.service" 2>&1) || fail "systemd-analyze verify failed: $out"
	[ -z "$out" ] || fail "systemd-analyze verify poolpaird@east.service: $out"
	# the check can fail: a broken copy is reported
	sed -e 's/^Type=notify/Type=notifyy/' "$IT_DIR/poolpaird.service" >"$IT_DIR/broken.service"
	out=$(systemd-analyze verify --man=no "$IT_DIR/broken.service" 2>&1 || true)
	assert_contains "$out" "notifyy" "systemd-analyze verify on a broken unit"
	sec=$(systemd-analyze security --offline=yes --no-pager "$IT_DIR/poolpaird.service" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$sec" ] || fail "systemd-analyze security gave no exposure level"
	log "systemd-analyze security: exposure $sec"
	awk -v s="$sec" 'BEGIN { exit !(s < 4.0) }' || fail "unit exposure $sec is not below 4.0"
else
	log "systemd-analyze not installed: unit checks skipped"
fi
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	SCRATCH=$IT_DIR/scratchroot
	mkdir -p "$SCRATCH/etc"
	systemd-sysusers --root="$SCRATCH" "$SYSUSERS" >/dev/null 2>&1 || fail "systemd-sysusers failed on $SYSUSERS"
	grep -q '^poolpair:' "$SCRATCH/etc/passwd" || fail "sysusers created no poolpair user"
	systemd-tmpfiles --root="$SCRATCH" --create "$TMPFILES" 2>"$IT_DIR/tmpfiles.err" || { cat "$IT_DIR/tmpfiles.err" >&2; fail "systemd-tmpfiles failed"; }
	uid=$(awk -F: '$1 == "poolpair" { print $3 }' "$SCRATCH/etc/passwd")
	assert_eq "$uid 750" "$(stat -c '%u %a' "$SCRATCH/var/lib/poolpair")" "owner and mode of /var/lib/poolpair"
	assert_eq "0 750" "$(stat -c '%u %a' "$SCRATCH$SYSCONF/poolpair")" "owner and mode of $SYSCONF/poolpair"
fi
log "ok"
