#!/usr/bin/env bash
# 10,000 VMs registered and listed through the control protocol (MV_N, default
# 10000): three daemons; h3 is stopped, MV_N VMs with 1-3 volumes each are
# registered on h1 by 32 clients at once (tests/integration/ctl_register_many.py);
# `fencelock vms` lists every one (page after page, in uid order, none twice),
# `vms --limit --after` gives one page and the cursor to the next, `leases`
# every volume; `status` answers in under 100 ms (9 of 10 calls, the whole CLI
# process timed, on a machine other jobs share) on the leader and a follower
# while they hold them; h3, started again, is behind the leader's compacted
# log and catches up through a snapshot holding every VM. Prints the times and
# the daemons' resident memory.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
nvm=${MV_N:-10000}
dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_kill 3 TERM
python3 "$FL_ROOT/tests/integration/ctl_register_many.py" "$(dl_sock 1)" "$nvm" 32 > "$T/reg.out" 2>&1 ||
    fail "registration: $(cat "$T/reg.out")"
cat "$T/reg.out"

# Every VM, page after page; uids unique and in order.
"$FL" -s "$(dl_sock 1)" vms -o json -t 10000 > "$T/vms.json" || fail "fencelock vms failed"
got=$(dl_py '"%d %d %d %s" % (d["total"], len(d["vms"]), len(set(v["uid"] for v in d["vms"])),
    [v["uid"] for v in d["vms"]] == sorted(v["uid"] for v in d["vms"]))' < "$T/vms.json")
[ "$got" = "$nvm $nvm $nvm True" ] || fail "vms: total, listed, distinct, sorted = $got (want $nvm $nvm $nvm True)"
rows=$("$FL" -s "$(dl_sock 2)" vms -t 10000 | grep -c '^| vm-')
[ "$rows" = "$nvm" ] || fail "vms text on h2: $rows rows, want $nvm"

# One page: n / 10 VMs from the middle on, and the cursor to the next.
k=$((nvm / 10)) h=$((nvm / 2))
page=$("$FL" -s "$(dl_sock 1)" vms --limit "$k" --after "vm-$(printf %05d $((h - 1)))" -o json | dl_py \
    '"%d %s %s" % (len(d["vms"]), d["vms"][0]["uid"], d["next"])')
[ "$page" = "$k vm-$(printf %05d "$h") vm-$(printf %05d $((h + k - 1)))" ] || fail "vms --limit $k --after: $page"
last=$("$FL" -s "$(dl_sock 1)" vms --limit 5 --after "vm-$(printf %05d $((nvm - 3)))" -o json | dl_py \
    '"%d %s" % (len(d["vms"]), d["next"])')
[ "$last" = "2 None" ] || fail "the last page: $last"
expect_rc 2 "$FL" -s "$(dl_sock 1)" vms --limit 0
expect_rc 2 "$FL" -s "$(dl_sock 1)" hosts --limit 5

want=$(python3 -c "print(sum(1 + i % 3 for i in range($nvm)))")
leases=$("$FL" -s "$(dl_sock 1)" leases -o json -t 10000 | dl_py 'len(d["leases"])')
[ "$leases" = "$want" ] || fail "leases: $leases, want $want"

# status stays fast with them: the slowest of 20 on the leader and a follower.
L=$(dl_leader 1)
# Each time is the whole `fencelock status -o json` process, start to exit.
for i in 1 2; do
    : > "$T/times"
    for _ in $(seq 20); do
        t0=$(now_ms)
        dl_json "$i" status > "$T/status.json"
        echo $(( $(now_ms) - t0 )) >> "$T/times"
        got=$(dl_py 'd.get("vms_registered")' < "$T/status.json")
        [ "$got" = "$nvm" ] || fail "status on h$i: $got VMs registered, want $nvm"
    done
    read -r p50 p90 max <<< "$(sort -n "$T/times" | awk '{a[NR] = $1} END {print a[10], a[18], a[20]}')"
    echo "status on h$i ($([ "$i" = "$L" ] && echo leader || echo follower)), $nvm VMs registered: p50 $p50 ms, p90 $p90 ms, max $max ms (20 calls)"
    [ "$p90" -lt 100 ] || fail "status on h$i: p90 $p90 ms with $nvm VMs registered (goal < 100 ms)"
done

# h3 rejoins behind the compacted log: a snapshot brings every VM.
t0=$(now_ms)
dl_start 3
h3_has_all() { [ "$(dl_json 3 status | dl_py 'd.get("vms_registered")')" = "$nvm" ]; }
wait_for 30 h3_has_all || fail "h3 did not catch up in 30 s: $(dl_json 3 status | dl_py 'd.get("vms_registered")') VMs"
echo "h3 restarted and holds all $nvm VMs after $(( $(now_ms) - t0 )) ms"
# (Fewer than a snapshot period of entries behind, a log replay is enough;
# the snapshot holds what the leader had applied when it took it.)
if [ "$nvm" -gt 2048 ]; then
    snap=$(grep -o "snapshot at [0-9]* installed: [0-9]* bytes, [0-9]* VMs" "$T/h3/log" | tail -1)
    [ "$(awk '{print $7}' <<< "$snap")" -gt $((nvm - 1100)) ] 2>/dev/null ||
        fail "h3 caught up without a snapshot of most of the $nvm VMs: $(grep -i snapshot "$T/h3/log" | tail -3)"
    echo "h3: $snap"
fi
for i in 1 2 3; do
    lat=$("$FL" -s "$(dl_sock "$i")" metrics | awk -F'[ "]' '/^fencelock_renewal_lateness_recent_seconds\{quantile="(0.99|1)"\}/ {
        printf "%s%.1f", sep, $NF * 1000; sep = " / " }')
    echo "h$i: $(awk '/^VmRSS/ {print $2 / 1024 " MB resident"}' "/proc/${DPID[$i]}/status"), renewal lateness p99 / max of the last renewals: $lat ms"
done
exit 0
