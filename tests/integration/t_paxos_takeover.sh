#!/usr/bin/env bash
# The takeover rule with real processes on a formatted O_DIRECT file (T = 1 s):
# host 1 holds its host_id with `hold-id` and a volume lease; host 2's acquire
# fails at once (exit 3, "live host 1"); after host 1 is SIGKILLed (no release,
# no more renewals) an acquire with --wait takes the lease over, no sooner
# than D = 6 s after host 1 went silent, with the next lver.
source "$FL_ROOT/tests/lib/common.sh"
dev=$T/dev.img
truncate -s 20M "$dev"
expect_rc 0 "$FL" direct format --device "$dev" --cluster c1 --max-hosts 4 --volume-slots 8
slot=$((12 << 20))
"$FL" direct hold-id -s "c1:1:$dev:0" -e host1 -o 1 >"$T/hold.out" 2>&1 &
holder=$!
on_exit "kill -KILL $holder"
for ((i = 0; i < 100; i++)); do grep -qs holding "$T/hold.out" && break; sleep 0.1; done
grep -q holding "$T/hold.out" || fail "hold-id did not acquire host_id 1: $(cat "$T/hold.out")"
expect_rc 0 "$FL" direct acquire -r "c1:slot-0:$dev:$slot" -i 1 -g 1
expect_rc 3 "$FL" direct acquire -r "c1:slot-0:$dev:$slot" -i 2 -g 1
grep -q "live host 1" <<<"$out" || fail "busy message does not say live host 1: $out"
kill -KILL "$holder"
start=$(date +%s%N)
expect_rc 0 "$FL" direct acquire -r "c1:slot-0:$dev:$slot" -i 2 -g 1 --wait 15
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 5000 ] || fail "took over after ${ms} ms, before D"
expect_rc 0 "$FL" direct read-leader -r "c1:slot-0:$dev:$slot" -o json
grep -q '"owner_id":2,"owner_generation":1,"lver":2' <<<"$out" || fail "wrong leader after takeover: $out"
echo "takeover after ${ms} ms"
