#!/usr/bin/env bash
# Paxos leases between fencelock and sanlock 3.8 (`sanlock direct`, no daemon):
# sanlock reads a lease fencelock acquired (owner, generation, lver); sanlock
# takes the next lver of a lease fencelock released; a lease sanlock acquired
# for host 1 (live: its delta lease in a sanlock-made lockspace is renewed) is
# seen as held by live host 1 and not taken by fencelock.
source "$FL_ROOT/tests/lib/common.sh"
command -v sanlock >/dev/null || skip "sanlock is not installed"
field() { sed -n "s/^$1 //p" <<<"$2"; }
res=$T/res.img; ls=$T/ls.img; res2=$T/res2.img
truncate -s 1M "$res" "$ls" "$res2"

# fencelock writes, sanlock reads
expect_rc 0 "$FL" direct init -r "LS:vol1:$res:0"
expect_rc 0 "$FL" direct acquire -r "LS:vol1:$res:0" -i 2 -g 3
out=$(sanlock direct read_leader -r "LS:vol1:$res:0" 2>&1) || fail "sanlock read_leader failed: $out"
[ "$(field owner_id "$out")" = 2 ] || fail "sanlock sees owner $(field owner_id "$out"), not 2"
[ "$(field owner_generation "$out")" = 3 ] || fail "sanlock sees generation $(field owner_generation "$out")"
[ "$(field lver "$out")" = 1 ] || fail "sanlock sees lver $(field lver "$out")"
expect_rc 0 "$FL" direct release -r "LS:vol1:$res:0" -i 2 -g 3
out=$(sanlock direct acquire -r "LS:vol1:$res:0" -i 5 -g 1 2>&1) || fail "sanlock acquire after fencelock release: $out"
expect_rc 0 "$FL" direct read-leader -r "LS:vol1:$res:0" -o json
grep -q '"owner_id":5,"owner_generation":1,"lver":2' <<<"$out" || fail "fencelock misreads sanlock's lver 2: $out"

# sanlock writes for a live host 1 (its delta lease renewed by fencelock's
# hold-id in a lockspace sanlock made), fencelock respects it
sanlock direct init -s "LS:0:$ls:0" >/dev/null || fail "sanlock init -s failed"
"$FL" direct hold-id -s "LS:1:$ls:0" -e host1 -o 1 >"$T/hold.out" 2>&1 &
holder=$!
on_exit "kill -TERM $holder"
for ((i = 0; i < 100; i++)); do grep -qs holding "$T/hold.out" && break; sleep 0.1; done
gen=$(sed -n 's/.*generation \([0-9]*\).*/\1/p' "$T/hold.out" | head -1)
[ -n "$gen" ] || fail "hold-id did not acquire host_id 1: $(cat "$T/hold.out")"
sanlock direct init -r "LS:vol2:$res2:0" >/dev/null || fail "sanlock init -r failed"
out=$(sanlock direct acquire -r "LS:vol2:$res2:0" -i 1 -g "$gen" 2>&1) || fail "sanlock acquire failed: $out"
expect_rc 0 "$FL" direct read-leader -r "LS:vol2:$res2:0" -o json
grep -q "\"owner_id\":1,\"owner_generation\":$gen,\"lver\":1" <<<"$out" || fail "fencelock misreads sanlock's owner: $out"
grep -q '"held":true' <<<"$out" || fail "fencelock does not see the lease held: $out"
expect_rc 3 "$FL" direct acquire -r "LS:vol2:$res2:0" -i 2 -g 1 -s "LS:0:$ls:0"
grep -q "live host 1" <<<"$out" || fail "busy message does not name live host 1: $out"
out=$(sanlock direct read_leader -r "LS:vol2:$res2:0" 2>&1)
[ "$(field owner_id "$out")" = 1 ] && [ "$(field lver "$out")" = 1 ] || fail "lease changed hands: $out"
# a volume slot of a formatted device is a lease sanlock can use, and num_hosts
# (the cluster's max_hosts) bounds the host_ids of every participant
dev=$T/dev.img
truncate -s 20M "$dev"
expect_rc 0 "$FL" direct format --device "$dev" --cluster c1 --max-hosts 4 --volume-slots 8
slot1=$(( (12 << 20) + (1 << 20) ))
out=$(sanlock direct acquire -r "c1:slot-1:$dev:$slot1" -i 3 -g 1 2>&1) || fail "sanlock acquire of a slot: $out"
expect_rc 0 "$FL" direct read-leader -r "c1:slot-1:$dev:$slot1" -o json
grep -q '"owner_id":3,"owner_generation":1,"lver":1' <<<"$out" || fail "fencelock misreads the slot: $out"
slot2=$(( slot1 + (1 << 20) ))
out=$(sanlock direct acquire -r "c1:slot-2:$dev:$slot2" -i 7 -g 1 2>&1) && fail "sanlock took host_id 7 > num_hosts 4"
expect_rc 0 "$FL" direct read-leader -r "c1:slot-2:$dev:$slot2" -o json
grep -q '"held":false' <<<"$out" || fail "free slot changed: $out"
echo ok
