#!/usr/bin/env bash
# A host that cannot reach a majority (one daemon of three running) is not
# quorate: `fencelock status` says CRITICAL (exit 2) with the reason, and
# `fencelock exec` refuses to start a VM there (exit 122) without running it.
# Once a second host starts, the two form a quorum and the VM can start.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

dl_setup 3
dl_start 1
sleep 3
expect_rc 2 "$FL" -s "$(dl_sock 1)" status
grep -q "FENCELOCK CRITICAL - not quorate" <<<"$out" || fail "status: $out"
dl_vm_script
touch "$T/vol-q.img"
expect_rc 122 env FENCELOCK_SOCKET="$(dl_sock 1)" "$FL" exec --wait 1 --vm vm-q --volume "$T/vol-q.img" -- "$T/vm.sh" vm-q "$T/vm-vm-q.log"
grep -q "not quorate" <<<"$out" || fail "exec refusal: $out"
[ -e "$T/vm-vm-q.log" ] && fail "the VM ran on a host without quorum"

dl_start 2
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 and h2 formed no quorum"
dl_exec 1 vm-q
wait_for 10 dl_vm_started_on vm-q 1 || fail "vm-q did not start once quorate: $(cat "$T/exec-vm-q-h1.out")"
exit 0
