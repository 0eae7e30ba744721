#!/usr/bin/env bash
# The cluster key's file: `fencelock keygen` writes 32 bytes, mode 0400, and
# never replaces an existing key without --force (exit 3; with it a new key, still
# 0400). fencelockd refuses to start (exit 1, one line naming the key file
# and what is wrong) on a key that group or others may read, a symlink, a
# key of the wrong size or a missing file, and on a config without key_file
# and without insecure = yes; it starts with the good key.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

k=$T/authkey
expect_rc 0 "$FL" keygen --key-file "$k"
[ "$(stat -c %a "$k")" = 400 ] || fail "keygen wrote mode $(stat -c %a "$k"), not 0400"
[ "$(stat -c %s "$k")" = 32 ] || fail "keygen wrote $(stat -c %s "$k") bytes, not 32"
sum=$(sha256sum < "$k")
expect_rc 3 "$FL" keygen --key-file "$k"
[ "$(sha256sum < "$k")" = "$sum" ] || fail "keygen without --force replaced the key"
expect_rc 0 "$FL" keygen --key-file "$k" --force
[ "$(sha256sum < "$k")" != "$sum" ] || fail "keygen --force kept the old key"
[ "$(stat -c %a "$k")" = 400 ] || fail "keygen --force left mode $(stat -c %a "$k")"

DL_KEY=$k dl_setup 1
conf=$T/h1/fencelock.conf
# refuses WANT...: fencelockd exits 1 with one line (besides start-up warnings
# about the test host) containing every WANT.
refuses() {
    out=$(timeout 20 "$FLD" -c "$conf" -f 2>&1); local rc=$?
    [ "$rc" -eq 1 ] || fail "fencelockd exited $rc, expected 1: $out"
    out=$(grep -v " warning: " <<<"$out")
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "expected one line, got: $out"
    for w in "$@"; do printf '%s' "$out" | grep -qF -- "$w" || fail "message lacks '$w': $out"; done
}
chmod 0440 "$k"; refuses "$k" "group or others"
chmod 0404 "$k"; refuses "$k" "group or others"
chmod 0400 "$k"
cp "$k" "$T/short"; truncate -s 31 "$T/short"; chmod 0400 "$T/short"
sed -i "s|^key_file = .*|key_file = $T/short|" "$conf"; refuses "$T/short" "32 bytes"
ln -s "$k" "$T/link"
sed -i "s|^key_file = .*|key_file = $T/link|" "$conf"; refuses "$T/link" "cluster key"
sed -i "s|^key_file = .*|key_file = $T/none|" "$conf"; refuses "$T/none" "fencelock keygen"
sed -i "/^key_file = /d" "$conf"; refuses "key_file"
echo "key_file = $k" > "$T/kline"; sed -i "/^\[cluster\]/r $T/kline" "$conf"
dl_start 1
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 did not start with its key"
exit 0
