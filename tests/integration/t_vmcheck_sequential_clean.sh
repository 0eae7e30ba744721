#!/usr/bin/env bash
# Fake VMs that write one volume one after the other (each killed, SIGKILL or
# SIGTERM, before the next starts; the last one runs past a whole round of the
# slots) leave a volume vmcheck calls clean, with the hand-over chain intact;
# a flipped byte in a record is then reported as corrupt (exit 2), never ignored.
source "$FL_ROOT/tests/lib/common.sh"
FAKEVM=$FL_BUILD/tools/fakevm; VMCHECK=$FL_BUILD/tools/vmcheck
{ [ -x "$FAKEVM" ] && [ -x "$VMCHECK" ]; } || fail "fakevm/vmcheck not built (make BUILD=$FL_BUILD all)"
probe=$("$FAKEVM" --volume "$T/probe" --vm probe --host 1 --incarnation 1 --count 1 --interval-ms 0 2>&1) ||
    { [[ "$probe" == *"no O_DIRECT"* ]] && skip "the build dir's filesystem has no O_DIRECT"; fail "fakevm cannot run: $probe"; }

pids=()
# shellcheck disable=SC2016 # expanded when the cleanup runs
on_exit 'for p in "${pids[@]}"; do kill -9 "$p"; done'
D=$T/seq; mkdir -p "$D"
# run_vm HOST INC SIGNAL N: runs a fake VM until its log has N iterations, then signals it.
run_vm() {
    "$FAKEVM" --volume "$D/vol" --vm vm-seq --host "$1" --incarnation "$2" --interval-ms 2 \
        --log-dir "$D" >>"$D/out" 2>&1 &
    local pid=$! f; pids+=("$pid")
    for _ in $(seq 200); do
        f=$(compgen -G "$D/fakevm-vm-seq-h$1-i$2-*.log" | head -1)
        [ -n "$f" ] && [ "$(grep -c '^it ' "$f")" -ge "$4" ] && break
        sleep 0.05
    done
    kill -"$3" "$pid"; wait "$pid" 2>/dev/null
    kill -0 "$pid" 2>/dev/null && fail "fake VM $pid still running"
    return 0
}
run_vm 1 1 KILL 40
run_vm 2 2 TERM 40
run_vm 3 3 KILL 10
run_vm 1 4 TERM 300
grep -q OVERLAP "$D/out" && fail "a fake VM raised an alarm: $(cat "$D/out")"

expect_rc 0 "$VMCHECK" --volume "$D/vol" --logs "$D"
echo "$out"
for inc in 2 3 4; do
    echo "$out" | grep -qE "inc $inc \[[0-9a-f]+\]: .*started from host [0-9] inc $((inc - 1)) " ||
        fail "incarnation $inc is not shown as started from incarnation $((inc - 1))"
done
expect_rc 0 "$VMCHECK" --volume "$D/vol"
expect_rc 0 "$VMCHECK" --volume "$D/vol" -o json
echo "$out" | grep -q '"verdict":"clean"' || fail "JSON verdict is not clean: $out"

# One flipped byte in a data slot (sector 18+5, inside the record fields).
printf '\x5a' | dd of="$D/vol" bs=1 seek=$(( (18 + 5) * 4096 + 100 )) conv=notrunc status=none
expect_rc 2 "$VMCHECK" --volume "$D/vol" --logs "$D"
echo "$out" | grep -q '^CORRUPT: sector 23 (data slot)' || fail "the flipped sector is not reported: $out"
echo "sequential writers are clean; a corrupt record is an error"
exit 0
