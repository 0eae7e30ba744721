#!/usr/bin/env bash
# Runs the cmocka unit-test binaries of one module (or "all") under BUILD/tests.
# Prints each binary's cmocka summary and one closing line "N passed, N failed".
set -uo pipefail
build=${1:-build}; module=${2:-all}
if [ "$module" = all ]; then dirs=("$build"/tests/*/); else dirs=("$build/tests/$module/"); fi
pass=0; fail=0; failed_bins=()
for d in "${dirs[@]}"; do
    for t in "$d"test_*; do
        [ -x "$t" ] || continue
        out=$("$t" 2>&1); rc=$?
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
        if [ $rc -ne 0 ]; then
            [ -z "$f" ] && fail=$((fail + 1))
            failed_bins+=("$t"); printf '%s\n' "$out"
        fi
        printf '%-48s %s\n' "$(basename "$t")" "$(printf '%s\n' "$out" | grep -E '^\[==========\] .* run' | tail -1 | sed 's/\[==========\] //')"
    done
done
[ ${#failed_bins[@]} -gt 0 ] && echo "failing binaries: ${failed_bins[*]}"
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ ${#failed_bins[@]} -eq 0 ]
