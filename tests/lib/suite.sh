#!/usr/bin/env bash
# Runs every t_*.sh script of one suite directory with BUILD as its argument
# (FL_SUITE_GLOB narrows it, e.g. t_harness_*.sh).
# A script exits 0 to pass, 77 to skip (with a reason on stdout), anything else to fail.
# Each script runs with a timeout; the suite ends with "N passed, N failed, N skipped".
set -uo pipefail
dir=$1; build=${2:-build}
build=$(cd "$build" && pwd)
FL_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export FL_BUILD=$build FL_ROOT
pass=0; fail=0; skip=0; failed=()
for t in "$dir"/${FL_SUITE_GLOB:-t_*.sh}; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    start=$(date +%s.%N)
    out=$(timeout --kill-after=10 "${FL_TEST_TIMEOUT:-600}" bash "$t" "$build" 2>&1); rc=$?
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)")
    case $rc in
        0) pass=$((pass + 1)); printf 'PASS %-50s %6ss\n' "$name" "$secs";;
        77) skip=$((skip + 1)); printf 'SKIP %-50s %s\n' "$name" "$(printf '%s' "$out" | tail -1)";;
        *) fail=$((fail + 1)); failed+=("$name"); printf 'FAIL %-50s %6ss (exit %d)\n' "$name" "$secs" "$rc"
           printf '%s\n' "$out" | tail -40 | sed 's/^/    /';;
    esac
done
echo "$(basename "$dir"): $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
