#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD/fuzz/ for SECONDS each, starting
# from its committed seed corpus (tests/fuzz/corpus/<target>/), and prints one
# line per target from libFuzzer's final statistics: executions, executions
# per second, coverage (cov: edges, ft: features), corpus size and crashes.
#
#   tests/fuzz/fuzz.sh BUILD SECONDS [--fresh]
#
# New corpus entries go to BUILD/fuzz-out/<target>/corpus (kept between runs,
# so a later run goes on from there; --fresh uses an empty temporary one, as
# `make test` does). A crash, leak, timeout or out-of-memory stops that target,
# is reported with the input libFuzzer saved (BUILD/fuzz-out/<target>/crash-*
# and the like; replay with `BUILD/fuzz/<target> FILE`) and makes the script
# exit 1. Ends with "fuzz: N passed, N failed". FUZZ_TARGETS="fsm layout"
# runs some only.
set -uo pipefail
build=${1:?usage: fuzz.sh BUILD SECONDS [--fresh]}
secs=${2:-60}
fresh=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0; fail=0
printf '%-22s %12s %9s %7s %7s %7s %8s\n' target execs exec/s cov ft corpus crashes
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    case $bin in *.d) continue;; esac
    t=$(basename "$bin"); t=${t#fuzz_}
    if [ -n "${FUZZ_TARGETS:-}" ] && ! grep -qw "$t" <<<"$FUZZ_TARGETS"; then continue; fi
    out="$build/fuzz-out/$t"; mkdir -p "$out"
    rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
    if [ "$fresh" = --fresh ]; then corpus=$(mktemp -d); else corpus="$out/corpus"; mkdir -p "$corpus"; fi
    seeds="$root/tests/fuzz/corpus/$t"
    args=(-max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2560
          -artifact_prefix="$out/")
    [ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
    [ -f "$root/tests/fuzz/$t.options" ] && read -ra extra <"$root/tests/fuzz/$t.options" && args+=("${extra[@]}")
    dirs=("$corpus"); [ -d "$seeds" ] && dirs+=("$seeds")
    log="$out/last-run.log"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    [ "$fresh" = --fresh ] && rm -rf "$corpus"
    final() { grep -E "^stat::$1:" "$log" | tail -1 | awk '{print $2}'; }
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{print $2}')
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{print $2}')
    corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | awk '{print $2}')
    crashes=$(find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-22s %12s %9s %7s %7s %7s %8s\n' "$t" "$(final number_of_executed_units)" \
        "$(final average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
    if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
        fail=$((fail + 1))
        echo "  FAILED (exit $rc): log $log"
        find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
            -printf '  input kept: %p\n'
        grep -E 'invariant failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" |
            head -5 | sed 's/^/  /'
    else
        pass=$((pass + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
