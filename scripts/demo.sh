#!/usr/bin/env bash
# make demo: fencelock's story on this machine, in about a minute.
#
# Three fencelockd hosts on loopback ports share one file-backed "SAN" disk
# (under the build dir: O_DIRECT needs a real filesystem). Three fake VMs run
# under `fencelock exec` (each a shell loop that writes a line every 0.2 s,
# naming the host it runs on). Then host h1 crashes: its daemon and its VMs
# are SIGKILLed, as in a power loss. The survivors see h1 go silent on the
# network and its delta lease stop changing on the disk; after D (6 s at
# io_timeout 1 s) the leader calls it DEAD and places its VMs on the other
# hosts, which win the VMs' volume leases on disk and run them again under
# `fencelock exec`. The status is shown before, during and after, with the
# time from the crash to each VM running again, and the cluster's own account
# of it (`fencelock events`). h1 then comes back and starts
# nothing (its VMs run elsewhere), and everything stops cleanly.
# With VMM=qemu (`make demo VMM=qemu`) the VMs are real: QEMU guests (TCG)
# built by tests/microvm/build-guest.sh that write their virtio-blk volume;
# "running again" then means the guest's first write on its new host.
# Usage: [VMM=qemu] scripts/demo.sh BUILD
set -uo pipefail
build=${1:-build}
[ -x "$build/fencelockd" ] && [ -x "$build/fencelock" ] || { echo "demo: run 'make' first" >&2; exit 1; }
FL_BUILD=$(cd "$build" && pwd); FL_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FL_BUILD FL_ROOT
source "$FL_ROOT/tests/lib/common.sh"            # $FL, scratch dir $T, cleanup on exit
source "$FL_ROOT/tests/integration/daemon_lib.sh" # the cluster helpers the tests use
DL_P=10
case ${VMM:-} in
    ''|fake) DL_VMM=; kind="fake VMs (shell loops)";;
    qemu) DL_VMM=qemu; kind="real VMs (QEMU guests writing their volume)"
          "$FL_ROOT/tests/microvm/build-guest.sh" "$FL_BUILD" >/dev/null || { echo "demo: cannot build the test guest" >&2; exit 1; };;
    *) echo "demo: VMM is fake or qemu" >&2; exit 2;;
esac
# bash reports every SIGKILLed background job; the demo kills on purpose.
exec 2> >(grep -v --line-buffered -E '(Killed|Terminated) +' >&2)
say() { printf '\n==> %s\n' "$*"; }
# The leader's view (followers only see their own links): one line per call.
leader_of_live() { local i l; for i in "$@"; do l=$(dl_leader "$i"); [ -n "$l" ] && [ "$l" != 0 ] && { echo "$l"; return; }; done; echo 0; }
brief() {
    local l; l=$(leader_of_live "$@")
    [ "$l" = 0 ] && { echo "no leader yet (election)"; return; }
    local out; out=$(dl_json "$l" status | dl_py '("leader h%s term %s | " % (d["leader"], d["term"]) +
        ", ".join("h%s %s" % (h["id"], h["state"]) for h in d["hosts"]))')
    echo "${out:-leader h$l does not answer: the others elect a new one}"
}
where() { local u h s=""; for u in vm-web vm-db vm-cache; do h=$(dl_vm_host "$u"); s+="$u@h${h:-?} "; done; echo "$s"; }

say "A shared disk for cluster 'demo' (a file standing in for a SAN LUN), io_timeout T = 1 s"
DL_CLUSTER=demo
dl_format demo
cat "$T/format.out"
for i in 1 2 3; do dl_config 3 "$i"; done
DL_N=3
echo "config of h1 ($T/h1/fencelock.conf):"
sed 's/^/    /' "$T/h1/fencelock.conf"

say "Starting fencelockd on h1, h2, h3 (loopback ports $(dl_port 1)-$(dl_port 3)); Raft elects a leader"
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
"$FL" -s "$(dl_sock "$L")" status

say "Three $kind under 'fencelock exec': vm-web and vm-db on h1, vm-cache on h2"
echo "  FENCELOCK_SOCKET=$T/h1/ctl.sock fencelock exec --vm vm-web --volume $T/vol-vm-web.img -- $T/vm.sh vm-web LOG"
dl_exec 1 vm-web; dl_exec 1 vm-db; dl_exec 2 vm-cache
boot=10; [ -n "$DL_VMM" ] && boot=60
for u in vm-web vm-db; do wait_for $boot dl_vm_started_on "$u" 1 || fail "$u did not start"; done
wait_for $boot dl_vm_started_on vm-cache 2 || fail "vm-cache did not start"
sleep 1
"$FL" -s "$(dl_sock 2)" vms
echo "The same volume on another host is refused (a volume lease is held by a live host):"
FENCELOCK_SOCKET=$(dl_sock 3) "$FL" exec --vm vm-web --volume "$T/vol-vm-web.img" -- sleep 100
echo "  -> exit code $?"

ev0=$(dl_json 2 events | dl_py 'max([e["index"] for e in d.get("events", [])] or [0])')
say "CRASH: h1's fencelockd and its VMs killed with SIGKILL (a power loss)"
t0=$(now_ms)
echo "$t0 cl_host_crash 1" >> "$T/timeline.events"   # the timeline drawn at the end
dl_kill 1
dl_kill_host_vms 1
echo "h1 is gone. The others must tell 'dead' from 'cut off but alive': they wait until its"
echo "delta lease on the disk has not changed for D = 6 s, then move its VMs."
done_web='' done_db=''
for s in $(seq $((boot + 10))); do
    sleep 1
    printf '  t+%2ss  %s | %s\n' "$(( ($(now_ms) - t0) / 1000 ))" "$(brief 2 3)" "$(where)"
    for u in web db; do
        var=done_$u
        if [ -z "${!var}" ] && [ "$(grep -c '^start ' "$T/vm-vm-$u.log")" -gt 1 ]; then
            t=$(grep '^start ' "$T/vm-vm-$u.log" | tail -1 | awk '{print $4}')
            printf -v "$var" '%s' "$((t - t0))"
        fi
    done
    [ -n "$done_web" ] && [ -n "$done_db" ] && break
done
[ -n "$done_web" ] && [ -n "$done_db" ] || fail "the VMs of h1 did not come back within $((boot + 10)) s"

say "Recovered: vm-web running again on h$(dl_vm_host vm-web) $done_web ms after the crash, vm-db on h$(dl_vm_host vm-db) after $done_db ms"
echo "(sanlock at the same io_timeout would wait 68 s before another host could take the leases)"
L=$(leader_of_live 2 3)
"$FL" -s "$(dl_sock "$L")" status
"$FL" -s "$(dl_sock "$L")" vms

say "What the cluster decided, from its replicated history: fencelock events --since @$((ev0 + 1))"
"$FL" -s "$(dl_sock "$L")" events --since "@$((ev0 + 1))"

say "h1 comes back: it rejoins and starts nothing (its VMs run elsewhere now)"
echo "$(now_ms) cl_restart 1 fencelockd" >> "$T/timeline.events"
dl_start 1
dl_wait_cluster 20
sleep 1
"$FL" -s "$(dl_sock "$(dl_leader 1)")" hosts
echo "VM instances started on h1 since the crash: $(cat "$T"/vm-*.log | grep '^start' | awk -v t="$t0" '$4 > t' | grep -c "/h1/ctl.sock")"

say "Clean shutdown: the VMs are stopped (their wrappers release the leases), then the daemons (SIGTERM)"
for u in vm-web vm-db vm-cache; do
    for p in $(dl_pids_of_T); do
        { tr '\0' ' ' < "/proc/$p/cmdline" | grep -q "^$FL exec --vm $u " && kill -TERM "$p"; } 2>/dev/null
    done
done
wait_for 10 eval '[ "$(dl_json 2 vms | dl_py "len([v for v in d[\"vms\"] if v[\"state\"] != \"STOPPED\"])")" = 0 ]' ||
    echo "(some VMs did not stop in time)"
"$FL" -s "$(dl_sock 2)" vms
for i in 1 2 3; do kill -TERM "${DPID[$i]}"; done
for i in 1 2 3; do wait "${DPID[$i]}"; DPID[$i]=; grep -h "released\|stopped" "$T/h$i/log" | tail -2; done
# The timeline: the crash, when each host saw h1 go (its daemon's log), and
# each VM's lines by host with the gap between its last line on h1 and its
# first on the new host (tests/cluster/timeline.py).
mkdir -p "$FL_BUILD/cluster"
tl=$FL_BUILD/cluster/timeline-demo
if python3 "$FL_ROOT/tests/cluster/timeline.py" collect-demo --dir "$T" --hosts 3 --vms "vm-web vm-db vm-cache" \
        --title "make demo: h1 crashes ($kind)" > "$tl.json" && command -v gnuplot >/dev/null; then
    python3 "$FL_ROOT/tests/cluster/timeline.py" plot "$tl.json" >/dev/null && echo "timeline: $tl.png (data: $tl.json)"
fi
say "Done: crash to running again elsewhere in ${done_web} / ${done_db} ms (D = 6 s at T = 1 s)."
