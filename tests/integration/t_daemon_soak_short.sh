#!/usr/bin/env bash
# The VM-churn soak (tests/soak/soak_lib.sh, `make soak` at full length) in
# short: three daemons, 12 fake VMs, 500 stop/start cycles (a VM stopped by
# SIGTERM to its VMM, as its manager does, and started at once on the next
# host), leadership moved once during the warm-up. It fails when, between
# cycle 150 and the end, a daemon's RSS rises more than 1 MiB above its value
# at cycle 150, or a state_dir ever exceeds 1 MiB (the same bounds as `make
# soak`; docs/operations.md, "Memory and disk bounds"), or when any start is
# refused because its stop was not yet committed. With 350 cycles after the
# warm-up, 1 MiB of slack catches a leak of 3 KB per cycle or more (the leak
# this soak was written for was 15-20 KB per cycle). It ends early, after the
# warm-up, if a slow machine has not finished within 150 s.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v python3 >/dev/null || skip "python3 missing"
export SOAK_CYCLES=${SOAK_CYCLES:-500} SOAK_WARMUP=${SOAK_WARMUP:-150} SOAK_VMS=${SOAK_VMS:-12}
export SOAK_PARALLEL=${SOAK_PARALLEL:-4} SOAK_SAMPLE=${SOAK_SAMPLE:-25} SOAK_MAX_SECONDS=${SOAK_MAX_SECONDS:-150}
export SOAK_MAX_RETRIES=${SOAK_MAX_RETRIES:-0} SOAK_OUT=$T/soak
source "$FL_ROOT/tests/soak/soak_lib.sh"
soak_run || fail "the daemons' memory or state grew under VM churn, or a start was refused (table above)"
# The arbiter's own accounting is exported, and the registry holds the VMs
# that exist, no record per stop or start.
for i in 1 2 3; do
    m=$("$FL" -s "$(dl_sock "$i")" metrics -t 3000) || fail "h$i: no metrics"
    grep -qE '^fencelock_arbiter_bytes [1-9][0-9]*$' <<<"$m" || fail "h$i: no fencelock_arbiter_bytes: $m"
    grep -qx "fencelock_vms_registered $SOAK_VMS" <<<"$m" ||
        fail "h$i: $(grep '^fencelock_vms_registered' <<<"$m") after the churn, not $SOAK_VMS"
done
echo "PASS: $SOAK_CYCLES cycles, memory and state_dir level after the warm-up"
