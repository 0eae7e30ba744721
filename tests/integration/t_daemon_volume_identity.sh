#!/usr/bin/env bash
# A volume is one volume under every name a host reaches it by, and two
# volumes are two whatever their names: on a three-host cluster of real
# daemons, a loop device (standing in for a LUN) reached as a by-id-like
# symlink on h1 is refused on h2 as /dev/loopN, through a chain of symlinks,
# as a second loop device over the same file and as that file itself
# (/x/./f.img); two unrelated files with the same name run side by side; a
# path without an identity is refused with a hint, and runs with
# --volume PATH:id=ID. `fencelock leases` shows identity and path.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
command -v losetup >/dev/null || skip "losetup missing"
[ -e /dev/loop-control ] || skip "no loop devices here"

truncate -s 8M "$T/lun.img"
LOOP1=$(losetup -f --show "$T/lun.img") || skip "cannot attach a loop device"
on_exit "losetup -d $LOOP1"
LOOP2=$(losetup -f --show "$T/lun.img") || fail "cannot attach a second loop device"
on_exit "losetup -d $LOOP2"
mkdir -p "$T/by-id" "$T/x" "$T/h1dir" "$T/h2dir"
ln -s "$LOOP1" "$T/by-id/wwn-0x600a0b800011ab2f"
ln -s "$LOOP1" "$T/link2"
ln -s "$T/link2" "$T/link1"
touch "$T/h1dir/disk.img" "$T/h2dir/disk.img"

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_vm_script
# run_vm HOST UID VOLUME [exec options]: the fake VM UID on HOST with VOLUME.
run_vm() {
    local h=$1 uid=$2 vol=$3; shift 3
    FENCELOCK_SOCKET=$(dl_sock "$h") "$FL" exec --vm "$uid" --volume "$vol" "$@" -- \
        "$T/vm.sh" "$uid" "$T/vm-$uid.log" > "$T/exec-$uid-h$h.out" 2>&1 &
}
# refused HOST UID VOLUME: exec exits 121 at once and names the VM holding it.
refused() {
    expect_rc 121 env FENCELOCK_SOCKET="$(dl_sock "$1")" "$FL" exec --vm "$2" --volume "$3" -- "$T/vm.sh" "$2" "$T/vm-$2.log"
    grep -q "VM lun-a on host 1" <<<"$out" || fail "$2 on h$1 via $3: refusal does not name lun-a on h1: $out"
    [ ! -e "$T/vm-$2.log" ] || fail "$2 ran on h$1 although its volume is lun-a's"
}

run_vm 1 lun-a "$T/by-id/wwn-0x600a0b800011ab2f"
wait_for 10 dl_vm_started_on lun-a 1 || fail "lun-a did not start on h1: $(cat "$T/exec-lun-a-h1.out")"
refused 2 via-dev "$LOOP1"
refused 3 via-links "$T/link1"
refused 2 via-loop2 "$LOOP2"
refused 3 via-file "$T/./lun.img"
refused 2 via-dotdot "$T/x/../lun.img"

# Two unrelated files named disk.img: two volumes.
run_vm 1 same-name-1 "$T/h1dir/disk.img"
run_vm 2 same-name-2 "$T/h2dir/disk.img"
wait_for 10 dl_vm_started_on same-name-1 1 || fail "same-name-1 did not start: $(cat "$T/exec-same-name-1-h1.out")"
wait_for 10 dl_vm_started_on same-name-2 2 || fail "same-name-2 refused: $(cat "$T/exec-same-name-2-h2.out")"

# No identity: refused with the path and the hint; an operator-given id runs.
expect_rc 125 env FENCELOCK_SOCKET="$(dl_sock 2)" "$FL" exec --vm no-id --volume /dev/null -- true
grep -q "volume /dev/null .*--volume /dev/null:id=ID" <<<"$out" || fail "no-identity message: $out"
expect_rc 0 env FENCELOCK_SOCKET="$(dl_sock 2)" "$FL" exec --vm with-id --volume /dev/null:id=scratch-1 --restart never -- true

dl_json 3 leases | jq -e --arg l "$T/by-id/wwn-0x600a0b800011ab2f" \
    '[.leases[] | select(.vm == "lun-a" and .volume == $l and (.id | startswith("file:")) and .path_of_host == 1)] | length == 1' \
    >/dev/null || fail "leases do not show lun-a's identity and path: $(dl_json 3 leases)"
id=$(dl_json 1 leases | jq -r '.leases[] | select(.vm == "lun-a") | .id')
case $id in *"/lun.img") ;; *) fail "lun-a's identity is not its backing file's: $id" ;; esac
exit 0
