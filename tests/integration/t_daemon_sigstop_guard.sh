#!/usr/bin/env bash
# The daemon of a VM's host is paused (SIGSTOP) for longer than D: nobody
# extends the VM's guard deadline, so its guard kills it (SIGTERM at F after
# the last renewal, exec exits 143) before another host takes its lease and
# runs it (after D): the VM's last line on the paused host comes before its
# first line on the new one (I1, no two writers at once). When the daemon
# resumes it starts nothing (the VM was moved away) and rejoins.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_exec 1 vm-s
S=$EXEC_PID
wait_for 10 dl_vm_started_on vm-s 1 || fail "vm-s did not start on h1: $(cat "$T/exec-vm-s-h1.out")"
sleep 1
t0=$(now_ms)
dl_kill 1 STOP
wait_for 25 eval 'dl_vm_started_on vm-s 2 || dl_vm_started_on vm-s 3' ||
    fail "vm-s not taken over within 25 s: $(tail -20 "$T/h2/log")"
took=$(( $(now_ms) - t0 ))
wait "$S"; rc=$?
[ "$rc" -eq 143 ] || fail "exec on h1 exited $rc, expected 143 (killed by its guard): $(cat "$T/exec-vm-s-h1.out")"
grep -q "killed by its guard" "$T/exec-vm-s-h1.out" || fail "not killed by the guard: $(cat "$T/exec-vm-s-h1.out")"
last_h1=$(grep " $(dl_sock 1) " "$T/vm-vm-s.log" | tail -1 | awk '{print $4}')
first_new=$(grep "^start vm-s " "$T/vm-vm-s.log" | grep -v " $(dl_sock 1) " | head -1 | awk '{print $4}')
gap=$((first_new - last_h1))
echo "paused at +0 ms; last write on h1 at +$((last_h1 - t0)) ms; first on the new host at +$((first_new - t0)) ms (gap $gap ms)"
[ "$gap" -gt 0 ] || fail "two hosts ran vm-s at once: $(cat "$T/vm-vm-s.log")"
[ $((last_h1 - t0)) -le 5500 ] || fail "the guard killed vm-s only $((last_h1 - t0)) ms after the pause (F + K = 5 s)"

# Resumed: h1 finds its lease expired, starts nothing, and rejoins.
dl_kill 1 CONT
sleep 3
last_h1b=$(grep " $(dl_sock 1) " "$T/vm-vm-s.log" | tail -1 | awk '{print $4}')
[ "$last_h1b" = "$last_h1" ] || fail "vm-s ran again on h1 after it resumed"
[ "$(grep -c '^start ' "$T/vm-vm-s.log")" -eq 2 ] || fail "vm-s started more than twice: $(grep start "$T/vm-vm-s.log")"
dl_wait_cluster 20
echo "took over after $took ms"
exit 0
