#!/usr/bin/env bash
# A lockspace at io_timeout 500 ms: hold-id renews every 0.5 s, its record
# carries 1 s in io_timeout (rounded up: what sanlock reads) and 500 ms under
# the FLK2 mark; sanlock reads it (read_leader rv 0, timestamps advancing);
# and a fencelock intruder finds the id busy after 7T = 3.5 s, not 7 s (a
# record sanlock rewrote is judged by its whole seconds: tests/unit/disklock/
# test_timeouts.c). About 8 s.
source "$FL_ROOT/tests/lib/common.sh"
SL=/usr/sbin/sanlock
field() { sed -n "s/^$1 //p" <<<"$2"; }
img=$T/ls.img
truncate -s 2M "$img"
expect_rc 0 "$FL" direct init -s "LS:0:$img:0" --io-timeout 500ms
grep -q "io_timeout 500 ms" <<<"$out" || fail "init: $out"
"$FL" direct hold-id -s "LS:1:$img:0" -e holder --io-timeout 500ms >"$T/hold.out" 2>&1 &
hold=$!; on_exit "kill -9 $hold"
for _ in $(seq 50); do grep -q holding "$T/hold.out" && break; sleep 0.1; done
grep -q holding "$T/hold.out" || fail "hold-id did not acquire: $(cat "$T/hold.out")"
expect_rc 0 "$FL" direct read-leader -s "LS:1:$img:0" -o json
ts1=$(jq -r .timestamp <<<"$out")
[ "$(jq -r .io_timeout <<<"$out")" = 1 ] || fail "io_timeout field (whole seconds, rounded up): $out"
[ "$(jq -r .marked <<<"$out")" = true ] || fail "not marked: $out"
sleep 0.6
expect_rc 0 "$FL" direct read-leader -s "LS:1:$img:0" -o json
ts2=$(jq -r .timestamp <<<"$out")
# Milliseconds: two renewals 0.5 s apart differ by about 500.
d=$((ts2 - ts1))
[ "$d" -ge 300 ] && [ "$d" -le 1500 ] || fail "timestamps $ts1 -> $ts2: not renewed every 0.5 s in milliseconds"
if [ -x "$SL" ]; then
    out=$("$SL" direct read_leader -s "LS:1:$img:0" 2>&1)
    grep -q '^read_leader done 0' <<<"$out" || fail "sanlock read_leader failed on a 500 ms record: $out"
    [ "$(field io_timeout "$out")" = 1 ] || fail "sanlock reads io_timeout: $out"
    [ "$(field resource_name "$out")" = holder ] || fail "sanlock reads the owner: $out"
fi
start=$(date +%s%N)
expect_rc 3 "$FL" direct acquire-id -s "LS:1:$img:0" -e intruder --io-timeout 500ms
took=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "is busy: holder" <<<"$out" || fail "busy message: $out"
[ "$took" -ge 3500 ] && [ "$took" -le 6500 ] || fail "busy decided after $took ms, expected 7T = 3.5 s"
kill -9 "$hold"; wait "$hold" 2>/dev/null
echo "ok: renewals every 0.5 s, sanlock reads the records, busy after ${took} ms (7T)"
