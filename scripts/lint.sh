#!/usr/bin/env bash
# make lint: the habits the build checks besides the compiler's warnings.
#   cppcheck      every C file under common/ disklock/ raft/ plugin/ tests/tools/
#   funclen       no function over 70 lines, in all C of the repository (scripts/check-funclen.sh)
#   shell         shellcheck over scripts and test suites, severity warning and up (.shellcheckrc)
#   format        .clang-format on the C files listed in scripts/format-files.txt (scripts/check-format.sh)
#   refs          file paths named in docs and comments exist (scripts/check-refs.py)
#   rules         promtool check rules on dist/prometheus/*.yml and promtool test rules on
#                 tests/prometheus/*.test.yml (skipped, saying so, where promtool is missing)
# Runs them all, prints how long each took, and fails if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
failed=()
run() {  # run NAME CMD...: one check, timed
    local name=$1; shift
    local t0; t0=$(date +%s.%N)
    if "$@"; then status=ok; else status=FAILED; failed+=("$name"); fi
    printf 'lint: %-10s %-6s %5.1f s\n' "$name" "$status" "$(echo "$(date +%s.%N) - $t0" | bc)"
}
cppcheck_all() {
    cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability -j2 \
        --suppress=missingIncludeSystem --inline-suppr -Iinclude -I. -Itests/unit \
        common disklock raft plugin tests/tools
}
shellcheck_all() {
    command -v shellcheck >/dev/null || { echo "shellcheck missing (scripts/deps.sh installs it)" >&2; return 1; }
    git ls-files '*.sh' | xargs -P2 -n16 shellcheck -S warning -f gcc
}
rules_all() {
    if ! command -v promtool >/dev/null; then
        echo "lint: rules: SKIPPED: promtool missing (Debian's prometheus package; scripts/deps.sh installs it)" >&2
        return 0
    fi
    promtool check rules dist/prometheus/*.yml >/dev/null && promtool test rules tests/prometheus/*.test.yml >/dev/null
}
run cppcheck cppcheck_all
run funclen scripts/check-funclen.sh 70
run shell shellcheck_all
run format scripts/check-format.sh
run refs scripts/check-refs.py
run rules rules_all
[ ${#failed[@]} -eq 0 ] || { echo "lint: failed: ${failed[*]}" >&2; exit 1; }
