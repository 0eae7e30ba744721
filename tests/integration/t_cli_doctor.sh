#!/usr/bin/env bash
# fencelock doctor: the preflight reads the configuration, opens the shared
# device with O_DIRECT, finds its fencelock header and T, times reads
# against T, and reports each configured peer's port (reachable or not, with
# what to do), the watchdog and run_dir; exit 1 when a check failed, 0 when
# only warnings remain; it never writes to the device.
source "$FL_ROOT/tests/lib/common.sh"
command -v python3 >/dev/null || skip "python3 missing"
[ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || skip "no tmpfs at /dev/shm"

img=$T/shared.img
truncate -s 32M "$img"
"$FL" direct format --device "$img" --cluster doc --io-timeout 1 --max-hosts 8 --volume-slots 8 > /dev/null ||
    fail "format failed"
sum_before=$(md5sum < "$img")
base=$((20000 + ($$ * 7) % 12000))
# A listener plays peer 2; nothing listens for peer 3.
python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); print("ready", flush=True); time.sleep(60)' $((base + 2)) > "$T/l.out" &
LP=$!
on_exit "kill $LP"
for _ in $(seq 50); do grep -q ready "$T/l.out" && break; sleep 0.1; done
run=/dev/shm/fl-doctor-$$
on_exit "rmdir $run"
mkdir -p "$run"
conf() { # conf PEER3_LINE
    printf '[cluster]\nname = doc\ndevice = %s\nio_timeout = 1\nkey_file = %s/key\n[host]\nid = 1\nname = h1\nlisten = 127.0.0.1:%s\n' \
        "$img" "$T" $((base + 1))
    printf 'state_dir = %s/state\nrun_dir = %s\nwatchdog = off\n[peers]\n1 = 127.0.0.1:%s\n2 = 127.0.0.1:%s\n%s\n' \
        "$T" "$run" $((base + 1)) $((base + 2)) "$1"
}
conf "3 = 127.0.0.1:$((base + 3))" > "$T/bad.conf"
expect_rc 1 "$FL" doctor --config "$T/bad.conf"
for want in "OK    config" "OK    O_DIRECT open" "OK    fencelock header cluster doc, io_timeout 1000 ms" \
            "read latency     200 reads: p50" "against T = 1000 ms" "OK    run_dir" "WARN  watchdog" \
            "OK    peer             2 at 127.0.0.1:$((base + 2)) reachable" \
            "FAIL  peer             3 at 127.0.0.1:$((base + 3)): Connection refused" "1 failed"; do
    grep -qF -- "$want" <<<"$out" || fail "doctor lacks '$want': $out"
done
conf "" > "$T/good.conf"
expect_rc 0 "$FL" doctor --config "$T/good.conf" --io-timeout 500ms
grep -qF "against T = 500 ms" <<<"$out" || fail "--io-timeout not used: $out"
# It proposes a T from what it measured: at least 100 ms, a multiple of 50.
prop=$(sed -n 's/.*proposed T *io_timeout = \([0-9]*\)ms would fit.*/\1/p' <<<"$out")
[ -n "$prop" ] || fail "no proposed T: $out"
[ "$prop" -ge 100 ] && [ $((prop % 50)) -eq 0 ] || fail "proposed T $prop ms is not a multiple of 50 from 100: $out"
expect_rc 1 "$FL" doctor --device "$T/missing.img"
grep -q "FAIL  O_DIRECT open" <<<"$out" || fail "missing device: $out"
expect_rc 2 "$FL" doctor --io-timeout 5ms
expect_rc 2 "$FL" doctor --io-timeout 500x
[ "$(md5sum < "$img")" = "$sum_before" ] || fail "doctor wrote to the device"
exit 0
