#!/usr/bin/env bash
# Each host reaches the shared file through its own flstall mount: what host 1
# writes (O_DIRECT) host 2 reads; freezing host 1's storage blocks a read there
# while host 2 goes on, unfreezing releases it; fail gives EIO, ok restores; a
# VM volume is a second, named mount per host and a fake VM hand-over through
# it checks clean; a named fault hits one mount, an unnamed one every mount of
# the host; a host crashed while its storage is frozen keeps its blocked
# process until the unfreeze (as on a real SAN); cl_down leaves no mount.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
cl_check_env || skip "$CL_SKIP_REASON"
{ [ -x "$FL_BUILD/tools/fakevm" ] && [ -x "$FL_BUILD/tools/vmcheck" ]; } || fail "fakevm/vmcheck not built"

cl_up 2 || fail "cl_up 2 failed"
shared=$CL_RUN/shared.img
truncate -s 16M "$shared"
for h in 1 2; do
    cl_storage_up $h "$shared"; rc=$?
    [ $rc -eq 77 ] && skip "cannot mount FUSE here"
    [ $rc -eq 0 ] || fail "cl_storage_up $h failed"
done

head -c 8192 /dev/urandom >"$T/pattern"
cl_exec 1 dd if="$T/pattern" of="$(cl_disk 1)" bs=4096 seek=2048 oflag=direct conv=notrunc status=none ||
    fail "O_DIRECT write through host 1's mount failed"
cmp "$T/pattern" <(cl_exec 2 dd if="$(cl_disk 2)" bs=4096 skip=2048 count=2 iflag=direct status=none) ||
    fail "host 2 does not read what host 1 wrote"

cl_storage_freeze 1
cl_storage_state 1 | grep -q mode=frozen || fail "host 1 storage not frozen: $(cl_storage_state 1)"
cl_exec 1 dd if="$(cl_disk 1)" of=/dev/null bs=4096 count=1 iflag=direct status=none &
reader=$!
sleep 0.5
kill -0 $reader 2>/dev/null || fail "a read through frozen storage finished"
cl_exec 2 dd if="$(cl_disk 2)" of=/dev/null bs=4096 count=1 iflag=direct status=none ||
    fail "host 2 could not read while host 1 was frozen"
cl_storage_unfreeze 1
for _ in $(seq 50); do kill -0 $reader 2>/dev/null || break; sleep 0.1; done
kill -0 $reader 2>/dev/null && fail "the read is still blocked 5 s after unfreeze"
wait $reader || fail "the released read failed"
echo "freeze blocks host 1 only, unfreeze releases"

cl_storage_fail 2
out=$(cl_exec 2 dd if="$(cl_disk 2)" of=/dev/null bs=4096 count=1 iflag=direct 2>&1) && fail "read succeeded in fail mode"
[[ "$out" == *"Input/output error"* ]] || fail "fail mode gave '$out', expected EIO"
cl_storage_ok 2
cl_exec 2 dd if="$(cl_disk 2)" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "read failed after ok"
echo "fail gives EIO, ok restores"

# A VM volume is a LUN of its own: a second, named mount on each host.
vm1=$CL_RUN/vm1.img
truncate -s 4M "$vm1"
for h in 1 2; do cl_storage_up $h "$vm1" vm1 || fail "cl_storage_up $h vm1"; done
[ "$(cl_disk 1 vm1)" = "$(cl_dir 1)/mnt-vm1/disk" ] || fail "cl_disk 1 vm1 is $(cl_disk 1 vm1)"
# A fake VM on host 1 through its mount, then one on host 2 after it.
cl_spawn 1 vm "$FL_BUILD/tools/fakevm" --volume "$(cl_disk 1 vm1)" --vm v1 --host 1 --incarnation 1 --interval-ms 5 --log-dir "$(cl_dir 1 log)"
sleep 0.5; cl_stop 1 vm
cl_spawn 2 vm "$FL_BUILD/tools/fakevm" --volume "$(cl_disk 2 vm1)" --vm v1 --host 2 --incarnation 2 --interval-ms 5 --log-dir "$(cl_dir 2 log)"
sleep 0.5
expect_rc 0 "$FL_BUILD/tools/vmcheck" --volume "$vm1" --logs "$(cl_dir 1 log)" "$(cl_dir 2 log)"
echo "$out" | grep -q 'host 2 inc 2 .*started from host 1 inc 1' || fail "hand-over not seen: $out"

# A fault with a name hits that mount only; without, every mount of the host.
cl_storage_freeze 2 vm1
cl_storage_state 2 vm1 | grep -q mode=frozen || fail "vm1 on host 2 not frozen"
cl_storage_state 2 | grep -q mode=ok || fail "host 2's device froze with its vm1 mount"
cl_storage_unfreeze 2 vm1
cl_storage_freeze 2
cl_storage_state 2 | grep -q mode=frozen && cl_storage_state 2 vm1 | grep -q mode=frozen ||
    fail "cl_storage_freeze 2 did not freeze every mount of host 2"
cl_storage_unfreeze 2
cl_storage_state 2 vm1 | grep -q mode=ok || fail "vm1 on host 2 still frozen"
echo "named mounts: one or all"

# Crash host 2 while its storage is frozen: its fake VM is stuck in a write.
cl_storage_freeze 2
sleep 0.3
pid=$(cl_pid 2 vm)
cl_host_crash 2 2>/dev/null
_cl_pid_alive "$pid" || fail "the fake VM died although its write was frozen in flstall (expected D state)"
cl_storage_unfreeze 2
_cl_wait_gone 5 "$pid" || fail "the fake VM outlived its crash after unfreeze"
echo "a crash while frozen completes at unfreeze"
id=$CL_ID
cl_down
left=$(cl_leftovers "$id"); [ -z "$left" ] || fail "leftovers: $left"
exit 0
