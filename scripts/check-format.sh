#!/usr/bin/env bash
# Format check of `make lint`: every C file listed in scripts/format-files.txt
# must be laid out as .clang-format says (clang-format --dry-run --Werror).
# The list holds the files that follow it; the rest of the tree predates the
# check (see the list's header). Prints clang-format's complaints and fails
# on any, or on a listed file that no longer exists.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format missing (scripts/deps.sh installs it)" >&2; exit 1; }
mapfile -t files < <(grep -v '^#' scripts/format-files.txt)
for f in "${files[@]}"; do
    [ -f "$f" ] || { echo "check-format: $f is listed in scripts/format-files.txt but does not exist" >&2; exit 1; }
done
clang-format --style=file --dry-run --Werror "${files[@]}" || {
    echo "check-format: reformat the files above with clang-format -i (or fix by hand)" >&2; exit 1; }
