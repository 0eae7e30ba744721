#!/usr/bin/env bash
# make soak: the VM-churn soak of tests/soak/soak_lib.sh at full length
# (SOAK_CYCLES, default 1000; 10,000 for a long run). Prints the table of
# RSS and state_dir per daemon, writes $BUILD/soak/soak.{csv,png}, and exits
# non-zero when a daemon's memory or state directory still grows after the
# warm-up. Not part of make test (t_daemon_soak_short.sh is its short form).
set -uo pipefail
build=${1:-build}
FL_BUILD=$(cd "$build" && pwd) || exit 2
FL_ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
export FL_BUILD FL_ROOT
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
source "$FL_ROOT/tests/soak/soak_lib.sh"
soak_run
