#!/usr/bin/env bash
# fencelock against fencelock through the CLI: acquire-id of an id that hold-id
# renews fails with exit 3 after the large wait (7T for a marked record); once
# the holder is SIGKILLed, the same acquire takes the id after 7T + 2T with a
# new generation. About 20 s at T = 1 s (sanlock's timing would need 70 s).
source "$FL_ROOT/tests/lib/common.sh"
img=$T/ls.img
truncate -s 2M "$img"
expect_rc 0 "$FL" direct init -s "LS:0:$img:0" -o 1
"$FL" direct hold-id -s "LS:1:$img:0" -e holder -o 1 >"$T/hold.out" 2>&1 &
hold=$!; on_exit "kill -9 $hold"
for _ in $(seq 50); do grep -q holding "$T/hold.out" && break; sleep 0.1; done
grep -q holding "$T/hold.out" || fail "hold-id did not acquire: $(cat "$T/hold.out")"
start=$SECONDS
expect_rc 3 "$FL" direct acquire-id -s "LS:1:$img:0" -e intruder -o 1
took=$((SECONDS - start))
grep -q "is busy: holder (generation 1)" <<<"$out" || fail "busy message: $out"
[ "$took" -ge 7 ] && [ "$took" -le 15 ] || fail "busy decided after $took s, expected 7T..."
kill -9 "$hold"; wait "$hold" 2>/dev/null
start=$SECONDS
expect_rc 0 "$FL" direct acquire-id -s "LS:1:$img:0" -e intruder -o 1
took=$((SECONDS - start))
[ "$took" -ge 9 ] || fail "a dead holder's id was taken after $took s, before 7T + 2T"
expect_rc 0 "$FL" direct read-leader -s "LS:1:$img:0" -o json
[ "$(jq -r '[.name, .generation] | @tsv' <<<"$out")" = $'intruder\t2' ] || fail "after takeover: $out"
echo "ok: busy after 7T, dead holder's id taken after ${took}s"
