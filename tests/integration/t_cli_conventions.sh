#!/usr/bin/env bash
# The command-line conventions every program keeps: --version on each
# program (version and commit; the test tools and benchmarks too), --help (exit 0) that prints the one
# exit-code table, -o only for the output format (format's io_timeout is
# --io-timeout; the old -o N is still read, with a warning), JSON with
# "schema_version" and unknown names as null, JSON errors under -o json
# when the daemon is down (exit 9 for hosts/vms/leases, Nagios 3 for status),
# -o wide with names next to ids, RFC 3339 times in the SINCE column, the
# ro flag kept in vms[].volumes, and format's size refusal naming
# --volume-slots (with the 64 MiB device of docs/operations.md).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

# --version everywhere, one version.
want=$(sed -n 's/^#define FENCELOCK_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$FL_ROOT/include/fencelock/fencelock.h" | paste -sd.)
for p in fencelock fencelockd fencelock-sim; do
    expect_rc 0 "$FL_BUILD/$p" --version
    [ "$(head -1 <<<"$out")" = "$p $want" ] || fail "$p --version: $out"
    grep -q '^commit: ' <<<"$out" || fail "$p --version has no commit line: $out"
done
expect_rc 0 "$FL" version
# ... and on the test and benchmark programs that are built.
for b in "$FL_BUILD"/tools/* "$FL_BUILD"/fl-bench-renewal "$FL_BUILD"/fl-raft-bench-server "$FL_BUILD"/fl-raft-bench-client; do
    [ -x "$b" ] || continue
    expect_rc 0 "$b" --version
    [ "$(head -1 <<<"$out")" = "$(basename "$b") $want" ] || fail "$b --version: $out"
done

# --help exits 0 and prints the one exit-code table (its line for 9).
table_line='  9  fencelockd unreachable'
for args in "--help" "status --help" "hosts --help" "host --help" "vm --help" "direct --help" "keygen --help"; do
    # shellcheck disable=SC2086
    expect_rc 0 "$FL" $args
    grep -qF "$table_line" <<<"$out" || fail "'fencelock $args' lacks the exit-code table: $out"
done
expect_rc 0 "$FLD" --help
grep -q -- '--config' <<<"$out" || fail "fencelockd --help: $out"
expect_rc 2 "$FLD" --no-such-option

# Daemon down: JSON errors under -o json, exit 9 (unreachable) or Nagios 3.
export FENCELOCK_SOCKET=$T/none.sock
expect_rc 3 "$FL" status -o json
jq -e '(.schema_version == 1) and (.ok == false) and (.error | test("unreachable")) and (.exit == 3)' <<<"$out" >/dev/null ||
    fail "status -o json, daemon down: $out"
for c in hosts vms leases; do
    out=$("$FL" "$c" --output json 2>/dev/null); rc=$?
    [ "$rc" = 9 ] || fail "$c -o json, daemon down: exit $rc"
    jq -e '(.ok == false) and (.exit == 9)' <<<"$out" >/dev/null || fail "$c -o json, daemon down: $out"
done
expect_rc 9 "$FL" hosts
unset FENCELOCK_SOCKET
# direct commands too: a JSON error on stdout, the text on stderr.
for args in "dump $T/missing.img -o json" "mailbox --device $T/missing.img -o json" \
            "read-leader -s LS:1:$T/missing.img:0 --output json"; do
    # shellcheck disable=SC2086
    out=$("$FL" direct $args 2>"$T/err"); rc=$?
    [ "$rc" = 6 ] || fail "direct $args: exit $rc: $out $(cat "$T/err")"
    jq -e '(.schema_version == 1) and (.ok == false) and (.exit == 6) and (.error | test("missing.img"))' <<<"$out" >/dev/null ||
        fail "direct $args: not a JSON error: $out"
    grep -q 'missing.img' "$T/err" || fail "direct $args: no text on stderr: $(cat "$T/err")"
done

# format: --io-timeout; -o N still works with a warning; -o json is refused.
truncate -s 64M "$T/small.img"
expect_rc 6 "$FL" direct format --device "$T/small.img" --cluster c --io-timeout 1
grep -q -- '--volume-slots 48 ' <<<"$out" || fail "too-small message does not name --volume-slots: $out"
expect_rc 0 "$FL" direct format --device "$T/small.img" --cluster c --io-timeout 1 --volume-slots 48
expect_rc 0 "$FL" direct format --device "$T/small.img" --cluster c -o 2 --volume-slots 48 --force
grep -q 'deprecated, use --io-timeout' <<<"$out" || fail "format -o N: no deprecation warning: $out"
expect_rc 2 "$FL" direct format --device "$T/small.img" --cluster c -o json --volume-slots 48 --force
expect_rc 2 "$FL" keygen -o json
expect_rc 0 "$FL" keygen --key-file "$T/k"

# A daemon: schema_version, null names, ro kept, wide tables, RFC 3339.
dl_format
DL_N=1
dl_config 1 1
dl_start 1
FENCELOCK_SOCKET=$(dl_sock 1); export FENCELOCK_SOCKET
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 not quorate alone"
touch "$T/disk.img" "$T/seed.img"
expect_rc 0 "$FL" exec --vm vm-a --volume "$T/disk.img" --volume "$T/seed.img:ro" -- true
expect_rc 0 "$FL" vms -o json
jq -e --arg t "$T" '(.schema_version == 1) and (.vms[0].volumes == [{"path": ($t + "/disk.img"), "id": .vms[0].volume_ids[0], "ro": false},
                                          {"path": ($t + "/seed.img"), "id": .vms[0].volume_ids[1], "ro": true}])' \
    <<<"$out" >/dev/null || fail "vms JSON volumes: $out"
expect_rc 0 "$FL" vms
grep -qF "$T/seed.img:ro" <<<"$out" || fail "vms table lost :ro: $out"
expect_rc 0 "$FL" status -o json
jq -e '(.schema_version == 1) and (.leader_name == "h1") and (.hosts[0].since | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))' \
    <<<"$out" >/dev/null || fail "status JSON: $out"
expect_rc 0 "$FL" hosts
grep -qE '^\| 1 +\| h1 +\| .* \| UP +\| [0-9]{4}-[0-9]{2}-[0-9]{2}T' <<<"$out" || fail "hosts SINCE column not RFC 3339: $out"
expect_rc 0 "$FL" leases -o wide
grep -q 'HOLDER NAME' <<<"$out" || fail "leases -o wide: $out"
expect_rc 0 "$FL" vms -o wide
grep -qE '^\| vm-a +\| (-|1) +\| (-|h1) ' <<<"$out" || fail "vms -o wide: $out"
expect_rc 0 "$FL" leases -o json
jq -e 'all(.leases[]; has("holder_name"))' <<<"$out" >/dev/null || fail "leases JSON holder_name: $out"
grep -q '"?"\|"unknown"' <<<"$out" && fail "a placeholder name in JSON: $out"
exit 0
