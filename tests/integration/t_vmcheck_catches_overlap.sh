#!/usr/bin/env bash
# vmcheck proves an overlap when two fake VMs write one volume at the same
# time (no fencelock in between): once for a long overlap, once for a brief
# one (the first writer stopped a few iterations after the second started),
# from the volume alone and from the volume plus the fakevm logs.
source "$FL_ROOT/tests/lib/common.sh"
FAKEVM=$FL_BUILD/tools/fakevm; VMCHECK=$FL_BUILD/tools/vmcheck
{ [ -x "$FAKEVM" ] && [ -x "$VMCHECK" ]; } || fail "fakevm/vmcheck not built (make BUILD=$FL_BUILD all)"
probe=$("$FAKEVM" --volume "$T/probe" --vm probe --host 1 --incarnation 1 --count 1 --interval-ms 0 2>&1) ||
    { [[ "$probe" == *"no O_DIRECT"* ]] && skip "the build dir's filesystem has no O_DIRECT"; fail "fakevm cannot run: $probe"; }

pids=()
# shellcheck disable=SC2016 # expanded when the cleanup runs
on_exit 'for p in "${pids[@]}"; do kill -9 "$p"; done'
# start_vm VOL LOGDIR HOST INC: starts a fake VM in the background, pid in $vm_pid.
start_vm() {
    "$FAKEVM" --volume "$1" --vm vm-overlap --host "$3" --incarnation "$4" --interval-ms 5 \
        --log-dir "$2" >>"$2/out" 2>&1 &
    vm_pid=$!; pids+=("$vm_pid")
}
# wait_lines DIR HOST N: waits (5 s at most) until host's log has N iterations.
wait_lines() {
    local f
    for _ in $(seq 100); do
        f=$(compgen -G "$1/fakevm-vm-overlap-h$2-*.log" | head -1)
        [ -n "$f" ] && [ "$(grep -c '^it ' "$f")" -ge "$3" ] && return 0
        sleep 0.05
    done
    fail "host $2 did not write $3 records in 5 s: $(cat "$1/out")"
}
# expect_overlap VOL LOGDIR: vmcheck must exit 1, with and without logs, text and JSON.
expect_overlap() {
    expect_rc 1 "$VMCHECK" --volume "$1"
    echo "$out" | grep -q '^OVERLAP R' || fail "no OVERLAP line from the volume alone: $out"
    echo "$out" | tail -1
    expect_rc 1 "$VMCHECK" --volume "$1" --logs "$2"
    expect_rc 1 "$VMCHECK" --volume "$1" --logs "$2" -o json
    echo "$out" | grep -q '"verdict":"overlap"' || fail "JSON verdict is not overlap: $out"
}

# Long overlap: both write for half a second.
D=$T/long; mkdir -p "$D"
start_vm "$D/vol" "$D" 1 1; a=$vm_pid
wait_lines "$D" 1 10
start_vm "$D/vol" "$D" 2 2; b=$vm_pid
wait_lines "$D" 2 20
kill -TERM "$a" "$b"; wait "$a" "$b" || fail "a fake VM did not exit cleanly on SIGTERM: $(cat "$D/out")"
expect_overlap "$D/vol" "$D"

# Brief overlap: the first writer is stopped right after the second's third write,
# then the second runs on alone for longer than a round of the slots.
D=$T/brief; mkdir -p "$D"
start_vm "$D/vol" "$D" 1 7; a=$vm_pid
wait_lines "$D" 1 10
start_vm "$D/vol" "$D" 2 8; b=$vm_pid
wait_lines "$D" 2 3
kill -TERM "$a"; wait "$a"
wait_lines "$D" 2 300
kill -TERM "$b"; wait "$b"
expect_overlap "$D/vol" "$D"
echo "vmcheck proves both a long and a brief overlap"
exit 0
