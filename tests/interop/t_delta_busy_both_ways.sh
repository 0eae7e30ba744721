#!/usr/bin/env bash
# An id held by one side cannot be acquired by the other. Both directions run
# in parallel (~70 s: sanlock waits 8N + 60 s before deciding, and so does
# fencelock for a record without its mark):
#  - fencelock hold-id renews host 1; sanlock acquire_id of host 1 fails;
#  - sanlock's record of host 2 is renewed with renew_id; fencelock acquire-id
#    of host 2 fails with exit 3 (busy) and a clear message.
source "$FL_ROOT/tests/lib/common.sh"
SL=/usr/sbin/sanlock
[ -x "$SL" ] || skip "sanlock is not installed"
img=$T/ls.img
truncate -s 2M "$img"
expect_rc 0 "$FL" direct init -s "LS:0:$img:0" -o 1
"$FL" direct hold-id -s "LS:1:$img:0" -e fl-holder -o 1 >"$T/hold.out" 2>&1 &
hold=$!; on_exit "kill $hold"
out=$("$SL" direct acquire_id -s "LS:2:$img:0" -e sl-holder -o 1 2>&1)
grep -q 'acquire_id done 0' <<<"$out" || fail "sanlock acquire_id of host 2: $out"
( while sleep 1; do "$SL" direct renew_id -s "LS:2:$img:0" >/dev/null 2>&1; done ) &
renewer=$!; on_exit "kill $renewer"
for _ in $(seq 50); do grep -q holding "$T/hold.out" && break; sleep 0.1; done
grep -q holding "$T/hold.out" || fail "hold-id did not acquire: $(cat "$T/hold.out")"
( "$SL" direct acquire_id -s "LS:1:$img:0" -e sl-intruder -o 1 >"$T/sl.out" 2>&1; echo $? >"$T/sl.rc" ) &
sl=$!
start=$SECONDS
"$FL" direct acquire-id -s "LS:2:$img:0" -e fl-intruder -o 1 >"$T/fl.out" 2>&1; flrc=$?
wait $sl
took=$((SECONDS - start))
[ "$flrc" -eq 3 ] || fail "fencelock acquire-id of sanlock's busy id exited $flrc: $(cat "$T/fl.out")"
grep -q 'is busy: sl-holder' "$T/fl.out" || fail "no clear busy message: $(cat "$T/fl.out")"
[ "$took" -ge 60 ] || fail "fencelock decided after $took s, before sanlock's 8N + 60 s"
grep -q 'acquire_id done 0' "$T/sl.out" && fail "sanlock took fencelock's renewed host 1: $(cat "$T/sl.out")"
expect_rc 0 "$FL" direct read-leader -s "LS:1:$img:0" -o json
[ "$(jq -r .name <<<"$out")" = fl-holder ] || fail "host 1 changed hands: $out"
expect_rc 0 "$FL" direct read-leader -s "LS:2:$img:0" -o json
[ "$(jq -r .name <<<"$out")" = sl-holder ] || fail "host 2 changed hands: $out"
kill "$hold"; wait "$hold"
grep -q released "$T/hold.out" || fail "hold-id did not release on SIGTERM: $(cat "$T/hold.out")"
echo "ok: both refused after ${took}s; sanlock said: $(tail -1 "$T/sl.out")"
