#!/usr/bin/env bash
# A VM's registration has an end, and a stopped VM holds nothing: a VM whose
# manager stops it (SIGTERM to its wrapper) under --restart on-failure is
# unregistered, under always it stays registered but stopped, and a VM with
# a new uid on the same volume runs at once on another host (a manager's
# delete + re-create); a re-registration updates the policy and spec; `vm
# release` of a VM not held here and `vm clear` of a VM that is not FAILED
# are errors with their own exit codes.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_vm_script
touch "$T/vol.img"
# run_vm HOST UID [exec options]: the fake VM UID on HOST, on $T/vol.img.
run_vm() {
    local h=$1 uid=$2; shift 2
    FENCELOCK_SOCKET=$(dl_sock "$h") "$FL" exec --vm "$uid" --volume "$T/vol.img" "$@" -- \
        "$T/vm.sh" "$uid" "$T/vm-$uid.log" > "$T/exec-$uid-h$h.out" 2>&1 &
    EXEC_PID=$!
}
vm_json() { dl_json "$1" vms | jq -c --arg u "$2" '.vms[] | select(.uid == $u)'; }
registered() { [ -n "$(vm_json "$1" "$2")" ]; }

# on-failure: the manager's SIGTERM ends it cleanly: unregistered.
run_vm 1 old-1 --restart on-failure
wait_for 10 dl_vm_started_on old-1 1 || fail "old-1 did not start: $(cat "$T/exec-old-1-h1.out")"
kill -TERM "$EXEC_PID"
wait "$EXEC_PID"
wait_for 5 eval '! registered 2 old-1' || fail "old-1 still registered after a clean stop: $(vm_json 2 old-1)"

# always: stopped but registered; its volume is free for a new uid elsewhere.
run_vm 1 old-2
wait_for 10 dl_vm_started_on old-2 1 || fail "old-2 did not start: $(cat "$T/exec-old-2-h1.out")"
kill -TERM "$EXEC_PID"
wait "$EXEC_PID"
wait_for 5 eval '[ "$(vm_json 3 old-2 | jq -r .state)" = STOPPED ]' || fail "old-2 not STOPPED: $(vm_json 3 old-2)"
run_vm 2 new-1
wait_for 10 dl_vm_started_on new-1 2 || fail "new-1 refused on old-2's volume: $(cat "$T/exec-new-1-h2.out")"
# ... while the running new-1 blocks old-2 from starting again.
expect_rc 121 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" exec --vm old-2 --volume "$T/vol.img" -- true
grep -q "VM new-1 on host 2" <<<"$out" || fail "old-2's refusal does not name new-1: $out"

# A re-registration updates the spec and the policy.
touch "$T/upd.img"
expect_rc 0 env FENCELOCK_SOCKET="$(dl_sock 1)" "$FL" exec --vm upd --volume "$T/upd.img" -- true
wait_for 5 eval '[ "$(vm_json 2 upd | jq -r .restart)" = always ]' || fail "upd: $(vm_json 2 upd)"
wait_for 5 eval '[ "$(vm_json 3 upd | jq -r .state)" = STOPPED ]' || fail "upd not STOPPED: $(vm_json 3 upd)"
expect_rc 3 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" exec --vm upd --volume "$T/upd.img" --restart never -- sh -c 'exit 3'
wait_for 5 eval '[ "$(vm_json 2 upd | jq -r .restart)" = never ]' || fail "upd's policy not updated: $(vm_json 2 upd)"
[ "$(vm_json 2 upd | jq -r '.paths_of_host')" = 3 ] || fail "upd's paths are not h3's: $(vm_json 2 upd)"

# Errors with their own exit codes.
expect_rc 8 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" vm release new-1
grep -q "holds no lease on host 3" <<<"$out" || fail "release message: $out"
expect_rc 8 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" vm unregister new-1
expect_rc 6 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" vm clear new-1
dl_vm_alive_on new-1 2 || fail "new-1 stopped by the refused commands"
exit 0
