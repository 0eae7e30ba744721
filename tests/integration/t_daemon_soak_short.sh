#!/usr/bin/env bash
# The short form of `make soak` (tests/soak/soak_lib.sh): three fencelockd,
# 20 fake VMs under `fencelock exec`, 200 VM stop/start cycles (8 at a time)
# with leadership moved at cycle 50; after the warm-up (cycle 100) no
# daemon's RSS may rise by more than 512 KB and no state_dir may exceed
# 1 MB. The leak this guards against (a 4.25 MiB control buffer per
# connection, served from the heap once glibc raised its mmap threshold)
# grew a daemon's RSS in steps of 1 MB every few dozen cycles.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
source "$FL_ROOT/tests/soak/soak_lib.sh"
SOAK_CYCLES=200 SOAK_WARMUP=100 SOAK_SAMPLE=10 SOAK_PARALLEL=8 SOAK_RSS_SLACK_KB=512 SOAK_OUT=$T/soak
soak_run || fail "a daemon's memory or state_dir still grows after the warm-up (table above)"
