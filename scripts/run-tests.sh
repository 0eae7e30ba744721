#!/usr/bin/env bash
# The whole of `make test`: unit tests of every module, then the integration
# suites under tests/ (each an executable tests/<suite>/run.sh taking BUILD).
# Ends with one line "N passed, N failed" over all of them.
set -uo pipefail
build=${1:-build}
total_pass=0; total_fail=0
count() {  # reads a suite's log, adds its last "N passed, N failed" line
    local line; line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    local p f; p=$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1)
    total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-1}))
}
log=$(mktemp); trap 'rm -f "$log"' EXIT
echo "== unit tests"
scripts/run-unit.sh "$build" all | tee "$log"; rc=${PIPESTATUS[0]}
count "$log"; [ $rc -ne 0 ] && [ $total_fail -eq 0 ] && total_fail=1
for suite in tests/interop tests/integration tests/sim tests/cluster tests/fuzz; do
    [ -x "$suite/run.sh" ] || continue
    echo "== $suite"
    "$suite/run.sh" "$build" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    before=$total_fail; count "$log"
    [ $rc -ne 0 ] && [ $total_fail -eq $before ] && total_fail=$((total_fail + 1))
done
echo
echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
