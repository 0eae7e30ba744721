#!/usr/bin/env bash
# Missing path, device too small, unaligned offset, sector-size mismatch: a
# one-line error saying what and where, the documented exit code, nothing written.
source "$FL_ROOT/tests/lib/common.sh"
expect_rc 6 "$FL" direct init -s "LS:0:$T/missing/ls.img:0"
grep -q "missing/ls.img" <<<"$out" || fail "message does not say where: $out"
expect_rc 6 "$FL" direct dump "$T/missing.img"
small=$T/small.img
truncate -s 512K "$small"
expect_rc 6 "$FL" direct init -s "LS:0:$small:0"
grep -q "too small" <<<"$out" || fail "no 'too small': $out"
[ "$(tr -d '\0' <"$small" | wc -c)" -eq 0 ] || fail "init wrote to a device too small"
img=$T/ls.img
truncate -s 3M "$img"
expect_rc 0 "$FL" direct init -s "LS:0:$img:1048576"
sum=$(md5sum <"$img")
expect_rc 6 "$FL" direct init -s "LS:0:$img:2097152" -A 2M     # past the end
expect_rc 2 "$FL" direct init -s "LS:0:$img:4096"              # unaligned
grep -q "not a multiple of the align size" <<<"$out" || fail "unaligned message: $out"
expect_rc 2 "$FL" direct acquire-id -s "LS:1:$img:1000" -e h
expect_rc 5 "$FL" direct acquire-id -s "LS:1:$img:0" -e h        # nothing at 0: all zeros
grep -q "no lockspace" <<<"$out" || fail "zero area message: $out"
[ "$(md5sum <"$img")" = "$sum" ] || fail "a refused command wrote to the device"
# record says 4096, -Z says 512
img4=$T/ls4.img
truncate -s 8M "$img4"
expect_rc 0 "$FL" direct init -s "L4:0:$img4:0" -Z 4096 -A 8M
sum4=$(md5sum <"$img4")
expect_rc 2 "$FL" direct acquire-id -s "L4:1:$img4:0" -e h -Z 512
grep -q "4096-byte sectors but -Z says 512" <<<"$out" || fail "sector mismatch message: $out"
expect_rc 2 "$FL" direct read-leader -s "L4:1:$img4:0" -Z 512
expect_rc 0 "$FL" direct read-leader -s "L4:1:$img4:0"
[ "$(md5sum <"$img4")" = "$sum4" ] || fail "a refused command wrote to the 4096 lockspace"
echo ok
