#!/usr/bin/env bash
# What sanlock writes (direct init -s, acquire_id, renew_id), fencelock reads
# (dump, read-leader) correctly; a sanlock record carries no fencelock mark, and
# a fencelock record that sanlock renewed loses its mark.
source "$FL_ROOT/tests/lib/common.sh"
SL=/usr/sbin/sanlock
[ -x "$SL" ] || skip "sanlock is not installed"
img=$T/ls.img
truncate -s 2M "$img"
"$SL" direct init -s "SLS:0:$img:0" -o 1 >/dev/null || fail "sanlock direct init failed"
expect_rc 0 "$FL" direct dump "$img:0" -o json
[ "$(jq -r '.lockspace, .sector_size, .align_size, (.hosts | length)' <<<"$out" | tr '\n' ' ')" = "SLS 512 1048576 0 " ] ||
    fail "dump of a fresh sanlock lockspace: $out"
out=$("$SL" direct acquire_id -s "SLS:2:$img:0" -e sl-host-2 -o 1 2>&1)
grep -q 'acquire_id done 0' <<<"$out" || fail "sanlock acquire_id: $out"
expect_rc 0 "$FL" direct read-leader -s "SLS:2:$img:0" -o json
[ "$(jq -r '[.host_id, .generation, .name, .io_timeout, .marked] | @tsv' <<<"$out")" = $'2\t1\tsl-host-2\t1\tfalse' ] ||
    fail "read-leader of sanlock's record: $out"
expect_rc 0 "$FL" direct dump "$img" -o json
[ "$(jq -c '[.hosts[] | {host_id, name, generation, valid, marked}]' <<<"$out")" = \
  '[{"host_id":2,"name":"sl-host-2","generation":1,"valid":true,"marked":false}]' ] || fail "dump: $out"
# fencelock acquires host 3 next to sanlock's host 2; sanlock renews ours: the mark goes.
expect_rc 0 "$FL" direct acquire-id -s "SLS:3:$img:0" -e fl-host-3
expect_rc 0 "$FL" direct read-leader -s "SLS:3:$img:0" -o json
[ "$(jq -r .marked <<<"$out")" = true ] || fail "our record is not marked: $out"
sleep 1.1
"$SL" direct renew_id -s "SLS:3:$img:0" >/dev/null 2>&1 || fail "sanlock renew_id of our record"
expect_rc 0 "$FL" direct read-leader -s "SLS:3:$img:0" -o json
[ "$(jq -r '[.marked, .name, .generation] | @tsv' <<<"$out")" = $'false\tfl-host-3\t1' ] ||
    fail "after sanlock's renewal the record must be unmarked: $out"
# A 4096/8M lockspace made by sanlock.
img4=$T/ls4.img
truncate -s 8M "$img4"
"$SL" direct init -s "S4:0:$img4:0" -Z 4096 -A 8M -o 1 >/dev/null || fail "sanlock init 4096/8M"
out=$("$SL" direct acquire_id -s "S4:9:$img4:0" -Z 4096 -A 8M -e sl-host-9 -o 1 2>&1)
grep -q 'acquire_id done 0' <<<"$out" || fail "sanlock acquire_id 4096: $out"
expect_rc 0 "$FL" direct dump "$img4:0" -o json
[ "$(jq -c '[.sector_size, .align_size, [.hosts[] | .host_id, .name]]' <<<"$out")" = '[4096,8388608,[9,"sl-host-9"]]' ] ||
    fail "dump of sanlock's 4096/8M lockspace: $out"
echo ok
