#!/usr/bin/env bash
# The daemon runs as sanlock does: its memory locked (mlockall, VmLck in
# /proc) and the lease loop thread, and only that one, under SCHED_RR at the
# configured priority; with `realtime = no` and `lock_memory = no` neither.
# Skipped where the kernel refuses SCHED_RR or mlockall to the test's user
# (the daemon then says so and runs on).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

# From /proc/PID[/task/TID]/stat after "pid (comm) ": policy (field 41: 0 OTHER,
# 2 RR) and rt_priority (field 40).
stat_field() { sed 's/^.*) //' "/proc/$1/stat" | awk -v f="$(($2 - 2))" '{print $f}'; }
policy() { stat_field "$1" 41; }
prio() { stat_field "$1" 40; }
locked_kb() { awk '/^VmLck:/ {print $2}' "/proc/$1/status"; }

DL_N=1; dl_format; dl_config 1 1 "priority = 37"; dl_start 1
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 is not quorate"
grep -q "SCHED_RR priority 37 refused" "$T/h1/log" && skip "SCHED_RR refused here: $(grep refused "$T/h1/log")"
grep -q "mlockall failed" "$T/h1/log" && skip "mlockall refused here: $(grep mlockall "$T/h1/log")"
grep -q "lease loop thread: SCHED_RR priority 37" "$T/h1/log" || fail "no SCHED_RR line: $(head -20 "$T/h1/log")"
pid=${DPID[1]}
[ "$(policy "$pid")" = 2 ] || fail "the loop thread's policy is $(policy "$pid"), not SCHED_RR (2)"
[ "$(prio "$pid")" = 37 ] || fail "the loop thread's real-time priority is $(prio "$pid"), not 37"
n_rr=0 n=0
for task in /proc/"$pid"/task/*; do
    tid=${task##*/}; n=$((n + 1))
    [ "$(policy "$pid/task/$tid")" = 2 ] && n_rr=$((n_rr + 1))
done
[ "$n" -gt 1 ] || fail "the daemon has $n thread(s); expected the loop and its helpers"
[ "$n_rr" = 1 ] || fail "$n_rr of $n threads run SCHED_RR; only the lease loop should"
lk=$(locked_kb "$pid")
[ "$lk" -gt 1024 ] || fail "VmLck is $lk kB: the daemon's memory is not locked"
echo "loop thread SCHED_RR 37 (1 of $n threads), VmLck $lk kB"
dl_kill 1 TERM

# Turned off: ordinary policy, nothing locked.
dl_config 1 1 "realtime = no" "lock_memory = no"; dl_start 1
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 is not quorate (off)"
pid=${DPID[1]}
[ "$(policy "$pid")" = 0 ] || fail "realtime = no: the loop thread's policy is $(policy "$pid")"
[ "$(locked_kb "$pid")" = 0 ] || fail "lock_memory = no: VmLck is $(locked_kb "$pid") kB"
exit 0
