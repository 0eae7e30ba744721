#!/usr/bin/env bash
# The shipped unit (dist/fencelockd.service) is hardened to a
# `systemd-analyze security` exposure of at most 5.0 while it keeps what the
# daemon needs: the shared block device and the watchdog (DeviceAllow, no
# PrivateDevices), its sockets (AF_UNIX, AF_INET), mlockall and SCHED_RR
# (CAP_IPC_LOCK, CAP_SYS_NICE, the @memlock and @resources system calls),
# signals to VMs (CAP_KILL), its run and state directories, and no restart
# after exit 3 (a duplicate host id) or 4 (removed from the cluster). Skipped without systemd-analyze.
source "$FL_ROOT/tests/lib/common.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze missing"
unit=$FL_ROOT/dist/fencelockd.service
out=$(systemd-analyze security --offline=yes "$unit" 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for fencelockd.service: \([0-9.]*\).*/\1/p' <<<"$out")
[ -n "$score" ] || fail "no score from systemd-analyze: $out"
echo "systemd-analyze security: $score"
[ "$(echo "$score <= 5.0" | bc)" = 1 ] || fail "exposure $score > 5.0: $(grep '✗' <<<"$out" | head -20)"

# What the daemon needs, kept.
val() { sed -n "s/^$1=//p" "$unit" | tr '\n' ' '; }
for cap in CAP_IPC_LOCK CAP_SYS_NICE CAP_KILL CAP_SYS_ADMIN; do
    grep -qw "$cap" <<<"$(val CapabilityBoundingSet)" || fail "CapabilityBoundingSet lacks $cap"
done
for dev in block-sd block-device-mapper block-nvme block-loop /dev/watchdog; do
    grep -qw -- "$dev" <<<"$(val DeviceAllow)" || fail "DeviceAllow lacks $dev"
done
for af in AF_UNIX AF_INET; do grep -qw "$af" <<<"$(val RestrictAddressFamilies)" || fail "no $af"; done
for set in @memlock @resources; do
    grep -q -- "$set" <<<"$(sed -n 's/^SystemCallFilter=\([^~]\)/\1/p' "$unit")" || fail "SystemCallFilter lacks $set"
done
! grep -Eq '^PrivateDevices=(yes|true)' "$unit" || fail "PrivateDevices hides the shared device"
! grep -Eq '^PrivateNetwork=(yes|true)' "$unit" || fail "PrivateNetwork cuts the Raft transport"
grep -qx 'RuntimeDirectory=fencelock' "$unit" || fail "no RuntimeDirectory (the tmpfs run_dir)"
grep -qx 'StateDirectory=fencelock' "$unit" || fail "no StateDirectory"
grep -qx 'RestartPreventExitStatus=3 4' "$unit" || fail "exit 3 (duplicate host id) or 4 (removed from the cluster) is restarted"
# The unit is valid syntax for systemd (unknown keys are reported by verify).
if systemd-analyze verify --help 2>/dev/null | grep -q -- '--man'; then
    v=$(systemd-analyze verify --man=no "$unit" 2>&1 | grep -v 'Command .* is not executable\|not found\|Failed to prepare filename\|Unit .* not found' || true)
    grep -qi 'unknown key\|unknown lvalue\|failed to parse' <<<"$v" && fail "systemd-analyze verify: $v"
fi
exit 0
