#!/usr/bin/env bash
# Function-length check of `make lint`: no C function in the repository
# (sources, headers, tests, tools, benchmarks) may be longer than MAX lines
# (default 70), counted from the first line of its signature to its closing
# brace. Relies on the project's brace style, which .clang-format enforces: a
# function body opens with "{" alone at column 0 and closes with "}" alone at
# column 0; the signature starts at the nearest line above the "{" that
# starts at column 0. Prints FILE:LINE: NAME is N lines (max MAX) per
# offender and fails if there is one.
# usage: scripts/check-funclen.sh [MAX] [FILE...]   (default: git ls-files '*.c' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
max=${1:-70}
shift || true
if [ $# -eq 0 ]; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
else
    files=("$@")
fi
awk -v max="$max" '
FNR == 1 { sig = 0; body = 0 }
/^[A-Za-z_]/ && !body { sig = FNR; sigline = $0 }
/^\{[ \t]*$/ && !body { body = 1; start = sig ? sig : FNR; name = sigline; next }
/^\}/ && body {
    body = 0; n = FNR - start + 1
    if (n > max) {
        sub(/\(.*/, "", name); k = split(name, w, /[ \t*]+/)
        printf "%s:%d: %s is %d lines (max %d)\n", FILENAME, start, w[k], n, max
        bad++
    }
    sig = 0
}
END { exit bad > 0 }
' "${files[@]}" || { echo "check-funclen: split the functions above (at most $max lines each)" >&2; exit 1; }
