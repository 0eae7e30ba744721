#!/usr/bin/env bash
# cl_up 3 gives three hosts that reach each other, each with its directories
# and a fencelockd config; cl_wait_until waits for a condition and times it;
# cl_down removes every namespace, process, mount and cgroup and may run twice;
# the EXIT trap keeps the script's status, and the logs of a failed run only;
# a run whose shell was SIGKILLed (with its storage frozen and a fake VM stuck
# in a write) is cleaned by cl_cleanup_stale, a live run is left alone, and
# SIGINT to a run's shell tears it down through the trap.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
cl_check_env || skip "$CL_SKIP_REASON"

# no_leftovers ID WHAT: fails if anything of run ID is still there.
no_leftovers() {
    local left; left=$(cl_leftovers "$1")
    [ -z "$left" ] || fail "$2: leftovers of run $1: $left"
}

cl_up 3 || fail "cl_up 3 failed"
id=$CL_ID
for h in 1 2 3; do
    ip netns list | grep -q "^$(cl_ns $h)\b" || fail "namespace $(cl_ns $h) missing"
    cl_exec $h ip -4 addr show dev eth0 | grep -q "inet 198.18.0.$h/24" || fail "host $h has no 198.18.0.$h/24"
    for d in state run log mnt; do [ -d "$(cl_dir $h $d)" ] || fail "host $h has no $d dir"; done
    cl_spawn $h sleeper sleep 60 || fail "cl_spawn on host $h"
    cl_alive $h sleeper || fail "sleeper on host $h not running"
done
ip netns list | grep -q "^$(cl_bridge_ns)\b" || fail "bridge namespace missing"
cl_wait_until 3 test -e "$(cl_dir 1 log)/sleeper.log" || fail "cl_wait_until missed a true condition"
marker=$T/marker; (sleep 0.3; touch "$marker") &
cl_wait_until 3 test -e "$marker" || fail "cl_wait_until did not see the marker"
[ "$CL_WAITED_MS" -ge 200 ] && [ "$CL_WAITED_MS" -lt 2000 ] || fail "cl_wait_until waited ${CL_WAITED_MS} ms for a 300 ms event"
cl_wait_until 0.2 false && fail "cl_wait_until succeeded on false"
[ "$CL_WAITED_MS" -ge 150 ] && [ "$CL_WAITED_MS" -lt 1500 ] || fail "cl_wait_until 0.2 false took ${CL_WAITED_MS} ms"
{ cl_can_talk 1 3 && cl_can_talk 3 2; } || fail "hosts cannot talk"
ip link show | grep -qE ' (vh[0-9]+|br0)[:@]' && fail "a harness interface appeared in the root namespace"
f=$(cl_write_config 2 host.recover_command=/bin/true cluster.partition_tolerance=3) || fail "cl_write_config"
for want in "device = $(cl_disk 2)" "listen = 198.18.0.2:7401" "partition_tolerance = 3" \
            "recover_command = /bin/true" "3 = 198.18.0.3:7401"; do
    grep -qxF "$want" "$f" || fail "config lacks '$want': $(cat "$f")"
done
[ "$(grep -c partition_tolerance "$f")" -eq 1 ] || fail "partition_tolerance twice in $f"
cl_down
no_leftovers "$id" "after cl_down"
cl_down || fail "a second cl_down failed"
echo "up 3 / down: nothing left"

# The exit status survives the trap; a failed run keeps its logs, a good one does not.
for want in 3 0; do
    # shellcheck disable=SC2016
    bash -c 'source "$FL_ROOT/tests/cluster/lib.sh"; cl_up 1 || exit 9; echo "$CL_RUN" >"$1"; exit "$2"' _ "$T/run.path" "$want" 2>/dev/null
    rc=$?
    [ "$rc" -eq "$want" ] || fail "a run that exits $want ended with status $rc"
    run=$(cat "$T/run.path")
    if [ "$want" -eq 0 ]; then [ ! -e "$run" ] || fail "a good run left its dir $run"
    else [ -d "$run/h1/log" ] || fail "a failed run did not keep its logs in $run"; rm -rf "$run"; fi
done

# A run whose shell is SIGKILLed, and a live run next to it.
cat >"$T/child.sh" <<'CHILD'
source "$FL_ROOT/tests/cluster/lib.sh"
cl_up "$1" || exit 1
cl_spawn 1 sleeper sleep 300
if [ "${3:-}" = frozen ]; then
    # A fake VM stuck in a write that its frozen flstall holds (D state).
    truncate -s 16M "$CL_RUN/shared.img"
    if cl_storage_up 1 "$CL_RUN/shared.img"; then
        cl_spawn 1 vm "$FL_BUILD/tools/fakevm" --volume "$(cl_disk 1)" --vm v --host 1 --incarnation 1 --interval-ms 1
        sleep 0.2; cl_storage_freeze 1; sleep 0.2
    fi
fi
echo "$CL_ID" >"$2.tmp"; mv "$2.tmp" "$2"
sleep 300 & echo $! >"$2.sleep"; wait $!
CHILD
# start_child N IDFILE [frozen]: runs child.sh with SIGINT at its default (a
# background job of a script would ignore it), its id in IDFILE.
start_child() {
    perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' bash "$T/child.sh" "$1" "$2" "${3:-}" >"$2.log" 2>&1 &
    child=$!
    # Clean-up: the child's own sleep, its run's kernel objects, then (only then:
    # a frozen mount inside would hang rm) its run dir.
    on_exit "kill -9 $child; kill \$(cat '$2.sleep'); cl_cleanup_id \$(cat '$2'); rm -rf '$CL_BUILD/cluster/run-'\$(cat '$2')"
    for _ in $(seq 100); do [ -s "$2" ] && [ -s "$2.sleep" ] && return 0; sleep 0.1; done
    fail "child cluster did not come up: $(cat "$2.log")"
}
start_child 2 "$T/killed.id" frozen; killed=$child; killed_id=$(cat "$T/killed.id")
start_child 1 "$T/live.id"; live=$child; live_id=$(cat "$T/live.id")
kill -KILL "$killed"; wait "$killed" 2>/dev/null
[ -n "$(cl_leftovers "$killed_id")" ] || fail "the killed run left nothing to clean (test is void)"
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null; then
    left=$(cl_leftovers "$killed_id")
    grep -q '^mount .*/h1/mnt$' <<<"$left" || fail "the killed run has no frozen mount (test is void): $left"
    grep -q 'mode=frozen' "$CL_BUILD/cluster/run-$killed_id/h1/mnt/ctl" || fail "the killed run's storage is not frozen"
fi
cl_cleanup_stale 2>/dev/null
no_leftovers "$killed_id" "after cl_cleanup_stale"
ip netns list | grep -q "^flh1-$live_id\b" || fail "cl_cleanup_stale removed the live run $live_id"
echo "killed run cleaned, live run kept"

kill -INT "$live"; wait "$live" 2>/dev/null
no_leftovers "$live_id" "after SIGINT"
echo "SIGINT tears down"
exit 0
