#!/usr/bin/env bash
# What fencelock writes (init, acquire-id, renew-id), sanlock reads: `sanlock
# direct dump` and `read_leader -s` with rv 0 and the right owner, generation
# and name; for 512/1M and 4096/8M lockspaces.
source "$FL_ROOT/tests/lib/common.sh"
SL=/usr/sbin/sanlock
[ -x "$SL" ] || skip "sanlock is not installed"

field() { sed -n "s/^$1 //p" <<<"$2"; }

check_geometry() {  # SECTOR ALIGN_M SIZE_M HOST_ID
    local sec=$1 am=$2 size=$3 id=$4 img=$T/ls-$1-$4.img
    truncate -s "${size}M" "$img"
    expect_rc 0 "$FL" direct init -s "FLS:0:$img:0" -o 1 -Z "$sec" -A "${am}M"
    expect_rc 0 "$FL" direct acquire-id -s "FLS:$id:$img:0" -e "fl-host-$id" -o 1
    out=$("$SL" direct read_leader -s "FLS:$id:$img:0" -Z "$sec" -A "${am}M" 2>&1)
    grep -q '^read_leader done 0' <<<"$out" || fail "sanlock read_leader failed on our record: $out"
    [ "$(field owner_id "$out")" = "$id" ] || fail "owner_id: $out"
    [ "$(field owner_generation "$out")" = 1 ] || fail "owner_generation: $out"
    [ "$(field resource_name "$out")" = "fl-host-$id" ] || fail "resource_name: $out"
    [ "$(field space_name "$out")" = FLS ] || fail "space_name: $out"
    [ "$(field sector_size "$out")" = "$sec" ] || fail "sector_size: $out"
    local ts1; ts1=$(field timestamp "$out")
    sleep 1.1
    expect_rc 0 "$FL" direct renew-id -s "FLS:$id:$img:0"
    out=$("$SL" direct read_leader -s "FLS:$id:$img:0" -Z "$sec" -A "${am}M" 2>&1)
    grep -q '^read_leader done 0' <<<"$out" || fail "read_leader after renew-id: $out"
    [ "$(field timestamp "$out")" -gt "$ts1" ] || fail "renew-id did not advance the timestamp ($ts1): $out"
    [ "$(field owner_generation "$out")" = 1 ] || fail "renew-id changed the generation: $out"
    dump=$("$SL" direct dump "$img:0" -Z "$sec" -A "${am}M" 2>&1)
    line=$(grep "fl-host-$id" <<<"$dump") || fail "sanlock dump does not list our host: $dump"
    read -r _off ls res _ts own gen <<<"$line"
    [ "$ls" = FLS ] && [ "$res" = "fl-host-$id" ] && [ "$((10#$own))" = "$id" ] && [ "$((10#$gen))" = 1 ] ||
        fail "sanlock dump line: $line"
    echo "ok: sector $sec align ${am}M host_id $id"
}

check_geometry 512 1 2 1
check_geometry 512 1 2 2000
check_geometry 4096 2 2 500
check_geometry 4096 4 4 1000
check_geometry 4096 8 8 7
