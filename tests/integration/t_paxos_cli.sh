#!/usr/bin/env bash
# CLI behaviour of leases, layout and mailboxes on O_DIRECT files: bad input
# is refused with one line and nothing written; a lease spec on a lockspace
# is refused; format refuses a foreign or too-small device; a fence request
# stays pending until the owner acknowledges it; shared holders coexist.
source "$FL_ROOT/tests/lib/common.sh"
dev=$T/dev.img
truncate -s 8M "$dev"
expect_rc 6 "$FL" direct format --device "$dev" --cluster c1 --max-hosts 4 --volume-slots 8
grep -q "needs 20971520 bytes" <<<"$out" || fail "too-small error does not name the size: $out"
truncate -s 20M "$dev"
expect_rc 0 "$FL" direct format --device "$dev" --cluster c1 --max-hosts 4 --volume-slots 8
expect_rc 5 "$FL" direct format --device "$dev" --cluster other --max-hosts 4 --volume-slots 8
expect_rc 0 "$FL" direct format --device "$dev" --cluster other --max-hosts 4 --volume-slots 8 --force
expect_rc 0 "$FL" direct format --device "$dev" --cluster c1 --max-hosts 4 --volume-slots 8 --force
slot0=$((12 << 20))
expect_rc 5 "$FL" direct acquire -r "c1:slot-0:$dev:0" -i 1 -g 1     # a lockspace, not a lease
expect_rc 5 "$FL" direct acquire -r "c1:wrong:$dev:$slot0" -i 1 -g 1 # another resource
expect_rc 2 "$FL" direct acquire -r "c1:slot-0:$dev:$slot0" -i 0 -g 1
expect_rc 2 "$FL" direct acquire -r "c1:slot-0" -i 1 -g 1
expect_rc 0 "$FL" direct acquire -r "c1:slot-0:$dev:$slot0" -i 1 -g 1 --shared
expect_rc 0 "$FL" direct acquire -r "c1:slot-0:$dev:$slot0" -i 2 -g 1 --shared
expect_rc 0 "$FL" direct read-leader -r "c1:slot-0:$dev:$slot0" -o json
grep -q '"shared_holders":\[{"host_id":1,"generation":1},{"host_id":2,"generation":1}\]' <<<"$out" ||
    fail "shared holders missing: $out"
expect_rc 0 "$FL" direct release -r "c1:slot-0:$dev:$slot0" -i 1 -g 1
expect_rc 0 "$FL" direct release -r "c1:slot-0:$dev:$slot0" -i 2 -g 1
expect_rc 6 "$FL" direct release -r "c1:slot-0:$dev:$slot0" -i 2 -g 1
expect_rc 0 "$FL" direct message --device "$dev" --to 3 --from 1 fence
expect_rc 0 "$FL" direct mailbox --device "$dev" -o json
grep -q '"pending":true' <<<"$out" || fail "fence request not pending: $out"
expect_rc 0 "$FL" direct mailbox --device "$dev" --ack 3 -o json
grep -q '"status":"fenced"' <<<"$out" || fail "host 3 not fenced after ack: $out"
expect_rc 2 "$FL" direct message --device "$dev" --to 3 --from 1 reboot
expect_rc 0 "$FL" direct dump "$dev"
grep -q "fencelock area: cluster c1" <<<"$out" || fail "dump lacks the fencelock area: $out"
echo ok
