#!/usr/bin/env bash
# Process control: cl_pause/cl_resume stop and continue a named process;
# cl_kill signals only that process; cl_stop then cl_spawn, cl_restart and
# cl_restart_all restart it with the same command line;
# cl_host_crash SIGKILLs everything started on one host (children,
# grandchildren, and a double-forked daemon that left the session), and
# nothing on the other host. Run with the cgroup and without (CL_NO_CGROUP=1:
# process groups, the process tree and the host's network namespace).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
set -e  # the harness must work under set -euo pipefail too
cl_check_env || skip "$CL_SKIP_REASON"

state() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }; s=${s##*) }; echo "${s:0:1}"; }
# scenario: one full pass (with or without a cgroup, as CL_NO_CGROUP says).
scenario() {
    cl_up 2 || fail "cl_up 2 failed"
    mark=$RANDOM$RANDOM   # a fractional part that names our sleeps
    # A "VM manager": a child, a grandchild, and a daemon that double-forks into its own session.
    # shellcheck disable=SC2016
    cl_spawn 1 tree bash -c 'sleep 301.'"$mark"' & bash -c "sleep 302.'"$mark"' & wait" & (setsid sleep 303.'"$mark"' &) ; wait' ||
        fail "spawn tree"
    cl_spawn 1 daemon sleep 304 || fail "spawn daemon"
    cl_spawn 2 survivor sleep 305 || fail "spawn survivor"
    sleep 0.3
    tree_pids=$(cl_host_pids 1)
    n=$(echo "$tree_pids" | wc -w)
    want=6
    [ "$n" -ge "$want" ] || fail "cl_host_pids 1 lists $n processes, expected at least $want: $tree_pids"

    cl_pause 1 daemon; sleep 0.1
    [ "$(state "$(cl_pid 1 daemon)")" = T ] || fail "paused daemon is in state $(state "$(cl_pid 1 daemon)")"
    cl_resume 1 daemon; sleep 0.1
    [ "$(state "$(cl_pid 1 daemon)")" = S ] || fail "resumed daemon is in state $(state "$(cl_pid 1 daemon)")"
    cl_kill 1 daemon TERM
    cl_wait_exit 1 daemon 3 || fail "daemon did not exit on SIGTERM"
    cl_alive 1 tree || fail "cl_kill of the daemon hit the tree too"
    cl_spawn 1 daemon sleep 306 || fail "restart of the daemon"
    cl_stop 1 daemon || fail "cl_stop"
    cl_spawn 1 daemon sleep 306 || fail "second restart of the daemon"
    old=$(cl_pid 1 daemon)
    cl_restart 1 daemon || fail "cl_restart"
    [ "$(cl_pid 1 daemon)" != "$old" ] && cl_alive 1 daemon || fail "cl_restart did not start a new daemon"
    tr '\0' ' ' <"/proc/$(cl_pid 1 daemon)/cmdline" | grep -q '^sleep 306 $' || fail "cl_restart changed the command line"
    old2=$(cl_pid 2 survivor)
    cl_restart_all survivor || fail "cl_restart_all"
    [ "$(cl_pid 2 survivor)" != "$old2" ] && cl_alive 2 survivor || fail "cl_restart_all did not restart host 2's survivor"
    echo "pause, resume, kill, stop, restart, restart_all"

    tree_pids="$(cl_host_pids 1)"
    cl_host_crash 1
    for p in $tree_pids; do
        _cl_pid_alive "$p" && fail "pid $p of host 1 survived the crash: $(tr '\0' ' ' </proc/"$p"/cmdline)"
    done
    left=$(_cl_pids_with_arg ".$mark")
    [ -z "$left" ] || fail "processes of host 1 survived the crash (cgroup: ${CL_CGROUP:-none}): $left"
    [ -z "$(cl_host_pids 1)" ] || fail "cl_host_pids 1 not empty after the crash"
    cl_alive 2 survivor || fail "host 2's process died in host 1's crash"
    echo "crash killed host 1's $(echo "$tree_pids" | wc -w) processes, host 2 untouched"
    cl_down
}

scenario
export CL_NO_CGROUP=1
scenario
exit 0
