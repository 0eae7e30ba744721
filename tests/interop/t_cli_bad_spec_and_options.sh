#!/usr/bin/env bash
# Bad spec strings and options: exit 2 with a one-line message, nothing written.
source "$FL_ROOT/tests/lib/common.sh"
img=$T/ls.img
truncate -s 2M "$img"
expect_rc 0 "$FL" direct init -s "LS:0:$img:0"
sum=$(md5sum <"$img")
long=$(printf 'n%.0s' $(seq 48))
for spec in "LS:1:$img" "LS:x:$img:0" "LS:2001:$img:0" "LS:1:$img:1M" "LS:1::0" "$long:1:$img:0" "LS:1:$img:0:9"; do
    expect_rc 2 "$FL" direct acquire-id -s "$spec" -e host
    [ "$(wc -l <<<"$out")" -eq 1 ] || fail "more than one line for '$spec': $out"
    grep -q "^fencelock direct acquire-id: " <<<"$out" || fail "message does not name the command: $out"
done
expect_rc 2 "$FL" direct acquire-id -s "LS:1:$img:0"                    # no -e
expect_rc 2 "$FL" direct acquire-id -s "LS:1:$img:0" -e "$long"
expect_rc 2 "$FL" direct acquire-id -s "LS:0:$img:0" -e host           # host_id 0
expect_rc 2 "$FL" direct acquire-id -s "LS:1:$img:0" -e host -o 0      # io_timeout 0
expect_rc 2 "$FL" direct init -s "LS:1:$img:0"                          # init takes host_id 0
expect_rc 2 "$FL" direct init -s "LS:0:$img:0" -Z 1024
expect_rc 2 "$FL" direct init -s "LS:0:$img:0" -A 3M
expect_rc 2 "$FL" direct dump
expect_rc 2 "$FL" direct dump "$img" -o yaml
expect_rc 2 "$FL" direct host-status -s "LS:0:$img:0" -w soon
expect_rc 2 "$FL" direct read-leader -s "LS:1:$img:0" --force
expect_rc 2 "$FL" direct no-such-command
[ "$(md5sum <"$img")" = "$sum" ] || fail "the lockspace changed"
for cmd in init dump read-leader acquire-id renew-id release-id host-status hold-id; do
    expect_rc 0 "$FL" direct "$cmd" --help
    grep -q "^usage: fencelock direct $cmd" <<<"$out" || fail "$cmd --help: $out"
done
expect_rc 0 "$FL" direct --help
echo ok
