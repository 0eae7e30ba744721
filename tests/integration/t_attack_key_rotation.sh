#!/usr/bin/env bash
# Cluster key rotation without downtime, step by step as docs/operations.md
# (Security) tells it, while a VM runs: a new key is made (fencelock keygen);
# every host gets key_file_next and a SIGHUP, one after the other; then every
# host gets the new key as key_file, without key_file_next, and a SIGHUP, one
# after the other. After every single reload the cluster is whole (every host
# quorate, UP, same leader), no handshake ever failed (reason auth stays 0),
# the VM runs on and is never started again, and nobody is fenced. Then the
# old key opens nothing (a handshake with it is refused and counted) and the
# new one does (tests/tools/flraftatk).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ATK=$FL_BUILD/tools/flraftatk
[ -x "$ATK" ] || fail "$ATK not built"
metric() { "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'; }
rej() { metric "$1" "fencelock_transport_rejected_total{reason=\"$2\"}"; }

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_exec 2 vm-k
wait_for 10 dl_vm_started_on vm-k 2 || fail "vm-k did not start on h2"
OLD=$DL_KEY NEW=$T/authkey.next
expect_rc 0 "$FL" keygen --key-file "$NEW"
[ "$(stat -c %a "$NEW")" = 400 ] || fail "the new key is mode $(stat -c %a "$NEW"), not 0400"

# reload I WANT: SIGHUP to host I, then its log says WANT, and the cluster is whole.
reload() {
    local i=$1 want=$2 n
    n=$(grep -c "SIGHUP: cluster keys reloaded" "$T/h$i/log")
    kill -HUP "${DPID[$i]}"
    wait_for 5 eval "[ \$(grep -c 'SIGHUP: cluster keys reloaded' '$T/h$i/log') -gt $n ]" ||
        fail "h$i did not reload its keys: $(tail -3 "$T/h$i/log")"
    grep "SIGHUP: cluster keys reloaded" "$T/h$i/log" | tail -1 | grep -qF "$want" ||
        fail "h$i reloaded $(grep "SIGHUP: cluster keys reloaded" "$T/h$i/log" | tail -1), expected $want"
    sleep 0.5
    wait_for 5 dl_cluster_ok || fail "the cluster is not whole after h$i's reload: $(dl_json 1 status)"
    dl_vm_alive_on vm-k 2 || fail "vm-k stopped after h$i's reload"
    echo "h$i: keys reloaded ($want); cluster whole, vm-k running"
}
# Step 2: key_file_next everywhere.
for i in 1 2 3; do
    sed -i "s|^key_file = .*|key_file = $OLD\nkey_file_next = $NEW|" "$T/h$i/fencelock.conf"
    reload "$i" "$OLD (current) and $NEW"
done
# Step 3: the new key becomes the only one, host after host.
for i in 1 2 3; do
    sed -i -e "s|^key_file = .*|key_file = $NEW|" -e "/^key_file_next = /d" "$T/h$i/fencelock.conf"
    reload "$i" "keys reloaded: $NEW"
    grep "SIGHUP: cluster keys reloaded" "$T/h$i/log" | tail -1 | grep -q "(current)" && fail "h$i still has two keys"
done
for i in 1 2 3; do
    [ "$(rej "$i" auth)" = 0 ] || fail "h$i refused $(rej "$i" auth) handshakes during the rotation"
    [ "$(metric "$i" fencelock_fences_total)" = 0 ] || fail "h$i fenced itself"
done
[ "$(grep -c '^start ' "$T/vm-vm-k.log")" = 1 ] || fail "vm-k was started again: $(grep start "$T/vm-vm-k.log")"
dl_json 1 vms | jq -e '.vms[] | select(.uid == "vm-k" and .host == 2 and .state == "RUNNING")' >/dev/null ||
    fail "vm-k is not RUNNING on h2: $(dl_json 1 vms)"

# The old key is retired: a handshake with it fails; with the new one it passes.
UUID=$("$FL" direct dump "$DL_IMG" -o json | jq -r '.fencelock.uuid')
expect_rc 1 "$ATK" forge "$(dl_port 1)" "$UUID" 3 1 noop key "$OLD"
wait_for 5 eval '[ "$(rej 1 auth)" = 1 ]' || fail "h1 did not count the old key's handshake: auth $(rej 1 auth)"
hs=$(metric 1 fencelock_transport_handshakes_total)
"$ATK" forge "$(dl_port 1)" "$UUID" 3 1 noop key "$NEW" > /dev/null   # (host 3 pushes it out again at once)
wait_for 5 eval '[ "$(metric 1 fencelock_transport_handshakes_total)" -gt "$hs" ]' || fail "the new key does not open a connection"
echo "old key refused (auth), new key accepted"
kill -TERM "$EXEC_PID"; wait "$EXEC_PID"
exit 0
