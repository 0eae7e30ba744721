#!/usr/bin/env bash
# A VM moved away while this host's grant of it is still on the daemon's
# worker thread (the guard file's creation, held back by a run_dir/guard that
# is frozen on FUSE) must never run here: the move kills incarnation 1, its
# leases are released at once (nothing ran), the new host runs incarnation 2,
# and when the frozen directory thaws the late grant is refused, so the
# wrapper here never starts the VM. Before the fix the late grant was applied
# and both hosts ran the VM (two writers on one volume).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
source "$FL_ROOT/tests/lib/flstall.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ctl() { local h=$1; shift; "$FL" -s "$(dl_sock "$h")" "$@"; }
mkdir -p "$T/gback"
mount_flstall --dir "$T/gback"
dl_setup 3
dl_start_all
dl_wait_cluster 20 || fail "cluster did not form"
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
mkdir -p "$MNT/dir/g"
mount --bind "$MNT/dir/g" "$T/h$F/run/guard" || fail "cannot bind the frozen directory over h$F's run/guard"
unbind() { umount -l "$T/h$F/run/guard" 2>/dev/null; }
on_exit unbind
echo freeze > "$MNT/ctl"
dl_exec "$F" vm-a
# The start op ran on h$F: its grant now waits on the frozen guard directory.
wait_for 20 grep -q "VM vm-a incarnation 1 running" "$T/h$F/log" || fail "h$F never started vm-a: $(tail -5 "$T/h$F/log")"
ctl "$L" vm move vm-a --to "h$R" --wait-s 30 >"$T/move.out" 2>&1 || fail "vm move failed: $(cat "$T/move.out")"
wait_for 20 dl_vm_started_on vm-a "$R" || fail "vm-a did not start on h$R"
echo ok > "$MNT/ctl"   # thaw: the late grant comes back to the loop
wait_for 20 eval '! kill -0 "$EXEC_PID" 2>/dev/null' || fail "the wrapper on h$F is still waiting: $(cat "$T/exec-vm-a-h$F.out")"
grep -q "stopped on this host before it started" "$T/exec-vm-a-h$F.out" ||
    fail "h$F's wrapper was not refused: $(cat "$T/exec-vm-a-h$F.out")"
! dl_vm_started_on vm-a "$F" || fail "SPLIT BRAIN: vm-a ran on h$F after it was moved to h$R: $(cat "$T/vm-vm-a.log")"
dl_vm_alive_on vm-a "$R" || fail "vm-a is not running on h$R any more"
exit 0
