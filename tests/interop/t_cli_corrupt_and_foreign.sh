#!/usr/bin/env bash
# A corrupt record is never free; a foreign lockspace is refused; init does not
# overwrite another lockspace, non-lockspace data or a held id unless --force.
source "$FL_ROOT/tests/lib/common.sh"
img=$T/ls.img
truncate -s 2M "$img"
expect_rc 0 "$FL" direct init -s "LS:0:$img:0"
expect_rc 0 "$FL" direct acquire-id -s "LS:1:$img:0" -e host-1
# flip one byte of host 2's record (inside the checksummed part)
printf '\x01' | dd of="$img" bs=1 seek=$((512 + 60)) conv=notrunc status=none
sum=$(md5sum <"$img")
expect_rc 5 "$FL" direct acquire-id -s "LS:2:$img:0" -e host-2
grep -q "bad checksum" <<<"$out" || fail "acquire of a corrupt record: $out"
grep -q "never treated as free" <<<"$out" || fail "message: $out"
expect_rc 5 "$FL" direct read-leader -s "LS:2:$img:0"
expect_rc 5 "$FL" direct renew-id -s "LS:2:$img:0"
expect_rc 5 "$FL" direct release-id -s "LS:2:$img:0"
expect_rc 0 "$FL" direct dump "$img" -o json
[ "$(jq -c '[.hosts[] | {host_id, valid, reason}]' <<<"$out")" = \
  '[{"host_id":1,"valid":true,"reason":null},{"host_id":2,"valid":false,"reason":"bad checksum"}]' ] ||
    fail "dump must list the corrupt record: $out"
expect_rc 0 "$FL" direct host-status -s "LS:0:$img:0" -o json
[ "$(jq -r '.hosts[] | select(.host_id == 2) | .state' <<<"$out")" = ERROR ] || fail "host-status: $out"
[ "$(md5sum <"$img")" = "$sum" ] || fail "a corrupt record was overwritten"
# foreign lockspace name
expect_rc 5 "$FL" direct acquire-id -s "OTHER:3:$img:0" -e host-3
grep -q "is 'LS', not 'OTHER'" <<<"$out" || fail "foreign message: $out"
expect_rc 5 "$FL" direct init -s "OTHER:0:$img:0"
grep -q "already holds lockspace 'LS'" <<<"$out" || fail "init over another lockspace: $out"
expect_rc 3 "$FL" direct init -s "LS:0:$img:0"                  # host 1 still held
[ "$(md5sum <"$img")" = "$sum" ] || fail "a refused init wrote"
# non-lockspace data
data=$T/data.img
head -c 2097152 /dev/urandom >"$data"
dsum=$(md5sum <"$data")
expect_rc 5 "$FL" direct init -s "LS:0:$data:0"
grep -q "not a lockspace" <<<"$out" || fail "init over data: $out"
[ "$(md5sum <"$data")" = "$dsum" ] || fail "init overwrote data"
expect_rc 0 "$FL" direct init -s "OTHER:0:$img:0" --force
expect_rc 0 "$FL" direct dump "$img" -o json
[ "$(jq -r '.lockspace, (.hosts | length)' <<<"$out" | tr '\n' ' ')" = "OTHER 0 " ] || fail "after --force: $out"
echo ok
