#!/usr/bin/env bash
# make test-scale (not in make test): SCALE_HOSTS (default 32) real fencelockd,
# each in its own network namespace with its own FUSE path to the shared
# device, five of them Raft voters and the rest learners. Measured over
# SCALE_WINDOW_S (default 20) seconds of a steady cluster, per host: CPU of
# fencelockd, its RSS, the bytes its storage path read and wrote (delta-lease
# renewals and its own mailbox, every R), and the bytes on its network
# interface (Raft and the views); then a learner running two VMs crashes
# (crash -> both writing elsewhere), and a voter crashes (replaced by a
# learner once DEAD). Prints a table (min / median / max over the hosts) and
# keeps it in the scenario's JSON (observed).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
N=${SCALE_HOSTS:-32}
W=${SCALE_WINDOW_S:-20}
WANT=$(( N < 5 ? N : 5 )) # host voters: five, or every host of a smaller cluster
sc_begin "S$N" "$N hosts" "the cluster forms with $WANT voters; per-host cost measured; a crashed learner's VMs run elsewhere after ~D; a dead voter is replaced"

sc_cluster "$N"
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
L=$(sc_leader $(cl_hosts))
voters() { sc_json "$L" status | jq -r '[.hosts[] | select(.voter == true) | .id] | sort | join(" ")'; }
# shellcheck disable=SC2016  # expanded by eval at each poll
sc_watch 20 eval '[ "$(voters | wc -w)" = "$WANT" ]' || fail "the leader h$L does not report $WANT voters: $(voters)"
V0=$(voters)
sc_note "cluster of $N formed, leader h$L, voters $V0"

# Per host: fencelockd CPU ticks, its flstall's rchar/wchar, eth0 rx+tx bytes.
snap() {
    local h pid fs
    for h in $(cl_hosts); do
        pid=$(cl_pid "$h" fencelockd); fs=$(_cl_pf "$CL_RUN/h$h/flstall.pid")
        printf '%s %s %s %s %s\n' "$h" \
            "$(awk '{print $14 + $15}' "/proc/$pid/stat")" \
            "$(awk '/^rchar|^wchar/ {s += $2} END {print s + 0}' "/proc/$fs/io" 2>/dev/null || echo 0)" \
            "$(ip netns exec "$(cl_ns "$h")" cat /proc/net/dev | awk '/eth0:/ {print $2 + $10}')" \
            "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")"
    done
}
[ -n "$(_cl_pf "$CL_RUN/h1/flstall.pid")" ] || fail "no flstall pid recorded for h1"
s0=$(snap); t0=$(cl_now_ms)
sc_hold "$W"
s1=$(snap); t1=$(cl_now_ms)
table=$(python3 - "$t0" "$t1" "$(getconf CLK_TCK)" "$V0" <<PY
import sys, statistics
t0, t1, hz, voters = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), set(sys.argv[4].split())
secs = (t1 - t0) / 1000.0
a = {l.split()[0]: list(map(int, l.split()[1:])) for l in """$s0""".strip().splitlines()}
b = {l.split()[0]: list(map(int, l.split()[1:])) for l in """$s1""".strip().splitlines()}
rows = {"voter": [], "learner": []}
for h in b:
    cpu = (b[h][0] - a[h][0]) / hz / secs * 100.0
    disk = (b[h][1] - a[h][1]) / secs
    net = (b[h][2] - a[h][2]) / secs
    rows["voter" if h in voters else "learner"].append((cpu, b[h][3] / 1024.0, disk, net))
def col(rs, i, fmt):
    v = sorted(r[i] for r in rs)
    return "%s / %s / %s" % (fmt % v[0], fmt % statistics.median(v), fmt % v[-1])
print("%-8s %3s  %-22s %-22s %-28s %s" % ("role", "n", "CPU % (min/med/max)", "RSS MiB", "storage path B/s (r+w)", "network B/s (rx+tx)"))
for role, rs in rows.items():
    if rs:
        print("%-8s %3d  %-22s %-22s %-28s %s" % (role, len(rs), col(rs, 0, "%.1f"), col(rs, 1, "%.1f"), col(rs, 2, "%.0f"), col(rs, 3, "%.0f")))
PY
)
echo "$table"
sc_note "$(echo "$table" | tail -n +2 | tr -s ' ' | tr '\n' ';')"

# A learner with two VMs crashes (in a cluster of five or fewer: a voter that
# does not lead).
V=$N
[ "$V" = "$L" ] && V=$((N - 1))
sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"
sc_hold 2
survivors=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')
t0=$(cl_now_ms)
cl_host_crash "$V"
# shellcheck disable=SC2016  # expanded by eval at each poll
sc_watch 40 eval 'sc_vm_moved vm1 "$V" && sc_vm_moved vm2 "$V"' || fail "VMs of h$V not running elsewhere 40 s after the crash: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_note "host h$V crashed: vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms"
[ "$SC_FAILOVER_MS" -ge $(( 4 * $(cl_t_ms) )) ] || fail "VMs moved only $SC_FAILOVER_MS ms after the crash: before D could have passed"

# A voter other than the leader crashes: a learner takes its place (only
# where there are learners).
if [ "$N" -le 5 ]; then
    sc_hold 3
    sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
    sc_end
    sc_pass
fi
# shellcheck disable=SC2086
L=$(sc_leader $survivors)
X=""; for x in $V0; do [ "$x" != "$L" ] && [ -z "$X" ] && X=$x; done
t0=$(cl_now_ms)
cl_host_crash "$X"
# shellcheck disable=SC2016  # expanded by eval at each poll
sc_watch 40 eval 'v=$(voters); [ "$(wc -w <<<"$v")" = 5 ] && [[ " $v " != *" $X "* ]]' ||
    fail "voter h$X not replaced 40 s after its crash: voters $(voters)"
sc_note "voter h$X crashed: replaced after $(( $(cl_now_ms) - t0 )) ms, voters now $(voters)"
sc_hold 3
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
sc_end
sc_pass
