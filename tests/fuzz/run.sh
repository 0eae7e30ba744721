#!/usr/bin/env bash
# The fuzz suite of `make test`: builds every libFuzzer target (clang,
# libFuzzer, ASan, UBSan; build-fuzz/) and runs each for a few seconds from
# its committed seed corpus only (FL_FUZZ_TEST_SECONDS, default 3), so every
# seed is replayed under the sanitizers and a few thousand mutations run.
# `make fuzz` is the long run. Ends with "fuzz: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
if ! command -v clang >/dev/null; then
    echo "clang is missing (scripts/deps.sh installs it)"; echo "fuzz: 0 passed, 1 failed"; exit 1
fi
log=$(mktemp); trap 'rm -f "$log"' EXIT
if ! nice -n 5 make --no-print-directory -j2 fuzz-build >"$log" 2>&1; then
    tail -30 "$log"; echo "fuzz: 0 passed, 1 failed"; exit 1
fi
exec nice -n 5 tests/fuzz/fuzz.sh build-fuzz "${FL_FUZZ_TEST_SECONDS:-3}" --fresh
