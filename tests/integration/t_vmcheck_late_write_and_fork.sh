#!/usr/bin/env bash
# vmcheck's rules that need no live race, on volumes built deterministically:
# a record of the previous incarnation that lands late on a data slot, or on
# the tip, after its successor wrote there (as a write held in a stalled SAN
# path would) is a late write (R4); two incarnations that both started from the
# same predecessor and both wrote (seen through their logs) are a fork (R3);
# the untouched volume stays clean.
source "$FL_ROOT/tests/lib/common.sh"
FAKEVM=$FL_BUILD/tools/fakevm; VMCHECK=$FL_BUILD/tools/vmcheck
{ [ -x "$FAKEVM" ] && [ -x "$VMCHECK" ]; } || fail "fakevm/vmcheck not built (make BUILD=$FL_BUILD all)"
probe=$("$FAKEVM" --volume "$T/probe" --vm probe --host 1 --incarnation 1 --count 1 --interval-ms 0 2>&1) ||
    { [[ "$probe" == *"no O_DIRECT"* ]] && skip "the build dir's filesystem has no O_DIRECT"; fail "fakevm cannot run: $probe"; }

SECTOR=4096; DATA_START=18
# run VOL LOGDIR HOST INC COUNT: one fake VM, COUNT iterations, no pause.
run() {
    mkdir -p "$2"
    "$FAKEVM" --volume "$1" --vm vm-late --host "$3" --incarnation "$4" --interval-ms 0 --count "$5" \
        --log-dir "$2" >/dev/null || fail "fakevm host $3 inc $4 failed"
}
# copy_sector FROM TO INDEX: one sector of FROM over the same sector of TO.
copy_sector() {
    dd if="$1" of="$2" bs=$SECTOR skip="$3" seek="$3" count=1 conv=notrunc status=none
}

run "$T/vol" "$T/logA" 1 1 300           # A wraps around: slot 3 holds its seq 259
cp "$T/vol" "$T/snapA"
run "$T/vol" "$T/logB" 2 2 10            # B, after A: slots 0..9
expect_rc 0 "$VMCHECK" --volume "$T/vol" --logs "$T/logA" "$T/logB"

cp "$T/vol" "$T/late"
copy_sector "$T/snapA" "$T/late" $((DATA_START + 3))
expect_rc 1 "$VMCHECK" --volume "$T/late"
echo "$out" | grep -q '^OVERLAP R4: data slot 3 holds seq 259 of host 1 inc 1' || fail "late data write not proven: $out"

cp "$T/vol" "$T/latetip"
copy_sector "$T/snapA" "$T/latetip" 1
expect_rc 1 "$VMCHECK" --volume "$T/latetip"
echo "$out" | grep -q '^OVERLAP R4: the tip holds seq 299 of host 1 inc 1' || fail "late tip write not proven: $out"
echo "late writes of the predecessor are proven (R4)"

cp "$T/snapA" "$T/other"
run "$T/other" "$T/logC" 3 3 10          # C also starts from A's last tip, on a copy
expect_rc 1 "$VMCHECK" --volume "$T/vol" --logs "$T/logA" "$T/logB" "$T/logC"
echo "$out" | grep -q '^OVERLAP R3: .* both started from host 1 inc 1 .* seq 299' || fail "fork not proven: $out"
echo "a fork from one predecessor is proven (R3)"
exit 0
