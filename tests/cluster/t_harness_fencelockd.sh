#!/usr/bin/env bash
# The harness runs the real daemon: three fencelockd, each in its own
# namespace with a config from cl_write_config, on one formatted device that
# each reaches through its own flstall mount, form a quorate cluster over TCP
# on 198.18.0.0/24; cl_isolate 3 makes host 1 see host 3 PARTITIONED, cl_heal
# brings it back UP. (A smoke test of the harness, not a scenario: those check
# fencing, recovery and the fake VMs' volumes.)
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
cl_check_env || skip "$CL_SKIP_REASON"
FLD=$FL_BUILD/fencelockd
[ -x "$FLD" ] || skip "fencelockd not built"
[ -x "$FL" ] || fail "$FL not built"

# state_of_3 H: host 3's state as host H's daemon reports it.
state_of_3() {
    cl_exec "$1" "$FL" -s "$(cl_dir "$1" run)/fencelockd.sock" hosts 2>/dev/null |
        awk -F'|' '$2 ~ /^ *3 *$/ { gsub(/ /, "", $5); print $5 }'
}
all_up() { [ "$(cl_exec 1 "$FL" -s "$(cl_dir 1 run)/fencelockd.sock" hosts 2>/dev/null | grep -c '| UP ')" -eq 3 ]; }
is_3() { [ "$(state_of_3 1)" = "$1" ]; }

cl_up 3 || fail "cl_up 3 failed"
img=$CL_RUN/shared.img
truncate -s 32M "$img"
"$FL" direct format --device "$img" --cluster "flcl-$CL_ID" --io-timeout 1 --max-hosts 8 --volume-slots 16 >"$T/format.out" 2>&1 ||
    fail "format: $(cat "$T/format.out")"
for h in 1 2 3; do
    cl_storage_up $h "$img"; rc=$?
    [ $rc -eq 77 ] && skip "cannot mount FUSE here"
    [ $rc -eq 0 ] || fail "cl_storage_up $h"
done
for h in 1 2 3; do cl_spawn $h fencelockd "$FLD" -c "$(cl_write_config $h)" -f || fail "spawn fencelockd on $h"; done
for h in 1 2 3; do
    cl_wait_until 10 test -S "$(cl_dir $h run)/fencelockd.sock" ||
        fail "fencelockd on host $h has no socket: $(tail -5 "$(cl_dir $h log)/fencelockd.log")"
done
cl_wait_until 20 all_up || fail "no 3 hosts UP after 20 s: $(cl_exec 1 "$FL" -s "$(cl_dir 1 run)/fencelockd.sock" hosts 2>&1)"
echo "3 daemons UP after ${CL_WAITED_MS} ms"

cl_isolate 3
cl_wait_until 10 is_3 PARTITIONED || fail "host 1 sees host 3 as '$(state_of_3 1)' 10 s into its isolation"
echo "host 3 PARTITIONED after ${CL_WAITED_MS} ms"
cl_heal
cl_wait_until 15 is_3 UP || fail "host 1 sees host 3 as '$(state_of_3 1)' 15 s after the heal"
echo "host 3 UP again ${CL_WAITED_MS} ms after the heal"
exit 0
