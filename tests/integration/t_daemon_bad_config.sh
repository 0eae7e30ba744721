#!/usr/bin/env bash
# fencelockd refuses to start, with exit code 1 and one line naming the file
# and the key, on: an unknown key, a bad value, a missing device, a device
# that is not formatted, a device formatted for another cluster, a host id
# beyond the device's max_hosts, a listen port already taken, a watchdog
# device that is not a watchdog. No usage: 2.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

dl_setup 1
conf=$T/h1/fencelock.conf
# refuses CONF WANT...: fencelockd -c CONF exits 1 with one line containing every WANT.
refuses() {
    local c=$1; shift
    out=$(timeout 20 "$FLD" -c "$c" -f 2>&1); local rc=$?
    [ "$rc" -eq 1 ] || fail "fencelockd -c $c exited $rc, expected 1: $out"
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "expected one line, got: $out"
    for w in "$@"; do
        printf '%s' "$out" | grep -qF -- "$w" || fail "message lacks '$w': $out"
    done
}
# variant NAME SED: a copy of the good config edited by SED.
variant() { sed "$2" "$conf" > "$T/$1.conf"; echo "$T/$1.conf"; }

refuses "$(variant unknown 's/^log_level = .*/log_levle = info/')" "unknown.conf:" "log_levle"
refuses "$(variant badid 's/^id = 1$/id = 0/')" "badid.conf:" "[host] id"
refuses "$(variant badaddr 's/^listen = .*/listen = localhost:80/')" "badaddr.conf:" "[host] listen"
refuses "$(variant nodev "s|^device = .*|device = $T/missing.img|")" "[cluster] device" "$T/missing.img"
truncate -s 32M "$T/blank.img"
refuses "$(variant blank "s|^device = .*|device = $T/blank.img|")" "[cluster] device" "not formatted" "fencelock direct format"
cp "$DL_IMG" "$T/other.img"
"$FL" direct format --device "$T/other.img" --cluster other --io-timeout 1 --max-hosts 8 --volume-slots 16 --force >/dev/null 2>&1 ||
    fail "cannot format other.img"
refuses "$(variant foreign "s|^device = .*|device = $T/other.img|")" "[cluster] name" "'other'" "not 't'"
refuses "$(variant toobig 's/^id = 1$/id = 9/; s/^1 = /9 = /')" "[host] id" "max_hosts"
refuses "$T/does-not-exist.conf" "does-not-exist.conf"
# An explicit watchdog that is not one: refused before anything is armed.
sed '/^\[host\]/a watchdog = /dev/null' "$conf" > "$T/wd.conf"
refuses "$T/wd.conf" "[host] watchdog" "/dev/null" "not a watchdog device"

# A port in use: the first daemon runs, a second one on its port is refused.
dl_start 1
dl_config 2 2
sed -i "s/^listen = .*/listen = 127.0.0.1:$(dl_port 1)/; s/^2 = .*/2 = 127.0.0.1:$(dl_port 1)/; s/^1 = .*/1 = 127.0.0.1:$(dl_port 7)/" "$T/h2/fencelock.conf"
refuses "$T/h2/fencelock.conf" "[host] listen" "$(dl_port 1)"
# The same control socket: refused, the running daemon unharmed. (Host 3, never
# used on the device: a used id with an empty state_dir is refused before, as lost.)
dl_config 1 3
sed -i "s|^control_socket = .*|control_socket = $(dl_sock 1)|" "$T/h3/fencelock.conf"
sed -i "s/^listen = .*/listen = 127.0.0.1:$(dl_port 5)/; s/^1 = .*/3 = 127.0.0.1:$(dl_port 5)/" "$T/h3/fencelock.conf"
refuses "$T/h3/fencelock.conf" "[host] control_socket" "another fencelockd"
expect_rc 0 "$FL" -s "$(dl_sock 1)" hosts
kill -0 "${DPID[1]}" || fail "the running daemon died"

expect_rc 2 "$FLD"
expect_rc 2 "$FLD" -c "$conf" extra-argument
expect_rc 0 "$FLD" -h
exit 0
