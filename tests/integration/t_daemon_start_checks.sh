#!/usr/bin/env bash
# What fencelockd says at start and refuses while running: `watchdog = auto`
# without a watchdog device is a loud warning, and so is a run_dir that is
# not a tmpfs; a second host configured with the same host id (another name,
# another port) stops with one clear line and exit 3 (the unit's
# RestartPreventExitStatus) instead of retrying for ever, and the first
# host is unharmed; `host add` with a name already in the cluster is refused.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

dl_format
DL_N=1
dl_config 1 1
dl_start 1
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "d.get(\"lease_valid\")")" = True ]' || fail "h1 has no lease"
if [ ! -e /dev/watchdog ]; then
    grep -q 'WARNING: watchdog = auto but there is no /dev/watchdog' "$T/h1/log" || fail "no watchdog warning: $(head -20 "$T/h1/log")"
fi
if [ "$(stat -f -c %T "$T")" != tmpfs ]; then
    grep -q "run_dir $T/h1/run is not on a tmpfs" "$T/h1/log" || fail "no run_dir warning: $(head -20 "$T/h1/log")"
fi

# host add: a name already in the cluster is refused (a new id does not help).
expect_rc 3 "$FL" -s "$(dl_sock 1)" host add 5 h1 127.0.0.1:$(( $(dl_port 1) + 7 ))
grep -q "host name h1 is already used by host 1" <<<"$out" || fail "duplicate name: $out"

# A second daemon with host id 1 under another name and port, on the same device.
mkdir -p "$T/dup"
sed -e 's/^name = h1$/name = dup/' -e "s|$T/h1/|$T/dup/|g" -e "s/^listen = 127.0.0.1:$(dl_port 1)$/listen = 127.0.0.1:$(dl_port 6)/" \
    -e "s/^1 = 127.0.0.1:$(dl_port 1)$/1 = 127.0.0.1:$(dl_port 6)/" "$T/h1/fencelock.conf" > "$T/dup/fencelock.conf"
grep -q "name = dup" "$T/dup/fencelock.conf" || fail "dup config: $(cat "$T/dup/fencelock.conf")"
start=$(now_ms)
"$FLD" -c "$T/dup/fencelock.conf" -f > "$T/dup/log" 2>&1 &
DPID[6]=$!
wait_for 30 eval '! kill -0 ${DPID[6]} 2>/dev/null' || fail "the duplicate is still retrying after 30 s: $(tail -5 "$T/dup/log")"
wait "${DPID[6]}"; rc=$?; DPID[6]=
[ "$rc" = 3 ] || fail "duplicate host id exited $rc, expected 3: $(tail -5 "$T/dup/log")"
grep -q 'two hosts are configured with the same \[host\] id' "$T/dup/log" || fail "no clear line: $(tail -5 "$T/dup/log")"
echo "duplicate host id stopped after $(( $(now_ms) - start )) ms"
kill -0 "${DPID[1]}" || fail "h1 died"
[ "$(dl_json 1 status | dl_py 'd.get("lease_valid")')" = True ] || fail "h1 lost its lease: $(dl_json 1 status)"
exit 0
