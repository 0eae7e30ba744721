# Shell helpers for suite scripts: source "$FL_ROOT/tests/lib/common.sh".
# Gives: FL (the CLI), a per-test scratch dir $T removed on exit, fail/expect helpers.
set -uo pipefail
FL=$FL_BUILD/fencelock
T=$(mktemp -d "$FL_BUILD/tmp.XXXXXX")
_fl_cleanup_fns=()
on_exit() { _fl_cleanup_fns+=("$*"); }
_fl_cleanup() { for f in "${_fl_cleanup_fns[@]}"; do eval "$f" >/dev/null 2>&1 || true; done; rm -rf "$T"; }
trap _fl_cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
# expect_rc WANT CMD...: runs CMD, fails unless its exit code is WANT; output in $out.
expect_rc() { local want=$1; shift; out=$("$@" 2>&1); local rc=$?
    [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want; output: $out"; }
