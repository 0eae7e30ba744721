#!/usr/bin/env bash
# The function-length check of `make lint` (scripts/check-funclen.sh) passes
# a function of exactly 70 lines, from its signature to its closing brace,
# and fails one of 71, naming the file, the line and the function; a
# multi-line signature counts from its first line.
source "$FL_ROOT/tests/lib/common.sh"
# gen NAME BODY_LINES: a function whose signature spans two lines.
gen() {
    printf 'static int %s(int a,\n\t\t int b)\n{\n' "$1"
    for _ in $(seq "$2"); do printf '\ta += b;\n'; done
    printf '}\n'
}
{ gen fits 66; echo; gen also_fits 1; } > "$T/ok.c"     # 2 + 1 + 66 + 1 = 70 lines
gen too_long 67 > "$T/long.c"                           # 71 lines
expect_rc 0 "$FL_ROOT/scripts/check-funclen.sh" 70 "$T/ok.c"
expect_rc 1 "$FL_ROOT/scripts/check-funclen.sh" 70 "$T/ok.c" "$T/long.c"
grep -q "^$T/long.c:1: too_long is 71 lines (max 70)$" <<<"$out" || fail "report: $out"
grep -q "ok.c" <<<"$out" && fail "ok.c reported: $out"
exit 0
