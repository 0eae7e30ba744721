# shellcheck shell=bash
# Density runs on three real fencelockd (loopback, io_timeout 1 s): source
# after tests/lib/common.sh and tests/integration/daemon_lib.sh. Used by
# tests/integration/t_daemon_density.sh (small N, in make test), by
# tests/density/density.sh (make test-density: 1,000 VMs on one host and the
# crash of a host with 500) and by bench/density.sh (make bench).
#
# VM kinds (DN_KIND): "sleep" (a copy of sleep(1) named $T/fl-dnvm: nothing
# but a process, to measure what fencelock itself costs per VM) and
# "fakevm" (tests/tools/fakevm writing its volume every DN_INTERVAL_MS ms, one
# log directory per VM, so vmcheck can prove afterwards that no two
# incarnations ever wrote a volume at the same time).
#
# Every VM is started under `fencelock exec --wait DN_WAIT` (transient
# refusals are retried by the wrapper itself), all at once, in the
# background. Status latency: tests/lib/ctl_probe.py asks each daemon for its
# status every DN_PROBE_S seconds over a fresh connection, from start to end,
# into $T/probe-hI.txt.
DN_KIND=${DN_KIND:-fakevm}
DN_INTERVAL_MS=${DN_INTERVAL_MS:-1000}
DN_WAIT=${DN_WAIT:-60}
DN_PROBE_S=${DN_PROBE_S:-0.2}
DN_FAKEVM=$FL_BUILD/tools/fakevm
declare -a DN_W=()

# On failure: the end of every daemon's log and of the first few wrappers'
# outputs (hundreds of them would bury the reason).
fail() {
    local f
    for f in "$T"/h*/log; do echo "--- ${f#$T/}" >&2; grep -v ' info: \| debug: ' "$f" | tail -8 >&2; done
    for f in $(grep -l . "$T"/exec-*.out 2>/dev/null | head -3); do echo "--- ${f#$T/}" >&2; tail -3 "$f" >&2; done
    echo "FAIL: $*" >&2
    exit 1
}

# dn_kill_mono PID...: SIGKILLs every PID at once and prints CLOCK_MONOTONIC
# in ms right after (fakevm's log stamps are on that clock).
dn_kill_mono() { python3 -c 'import os, signal, sys, time
for p in sys.argv[1:]:
    try: os.kill(int(p), signal.SIGKILL)
    except OSError: pass
print(time.monotonic_ns() // 1000000)' "$@"; }

# dn_setup SLOTS: three daemons (metrics files on) around a device with SLOTS
# volume-lease slots; a formed cluster and the status probes running.
dn_setup() {
    local slots=$1 i
    DL_VOLUME_SLOTS=$slots
    DL_IMG_MB=$(( slots * 11 / 10 + 64 )) # about 1.06 MiB a slot at 8 hosts; a sparse file
    DL_LOG_LEVEL=${DL_LOG_LEVEL:-notice}
    DL_N=3
    dl_format
    for i in 1 2 3; do dl_config 3 "$i" "metrics_file = $T/h$i/metrics.prom"; done
    dl_start_all
    dl_wait_cluster 30
    # DN_KEEP=DIR: the daemons' directories (logs, metrics) are copied there at the end.
    [ -n "${DN_KEEP:-}" ] && on_exit "mkdir -p '$DN_KEEP' && cp -r '$T'/h1 '$T'/h2 '$T'/h3 '$DN_KEEP'/"
    mkdir -p "$T/fv"
    cp "$(command -v sleep)" "$T/fl-dnvm"
    : > "$T/probe.on"
    for i in 1 2 3; do
        python3 "$FL_ROOT/tests/lib/ctl_probe.py" "$(dl_sock "$i")" "$T/probe-h$i.txt" "$DN_PROBE_S" "$T/probe.on" &
    done
}
dn_probe_stop() { rm -f "$T/probe.on"; }

# dn_exec H K: VM dK under `fencelock exec` on host H, in the background
# (wrapper pid in DN_W[K], output in $T/exec-dK.out).
dn_exec() {
    local h=$1 uid="d$2" vol="$T/vol-d$2.img"
    local -a cmd
    [ -e "$vol" ] || truncate -s 64K "$vol" # a volume is named by its identity: the file exists first
    if [ "$DN_KIND" = sleep ]; then
        cmd=("$T/fl-dnvm" 1000000)
    else
        mkdir -p "$T/fv/$uid"
        cmd=("$DN_FAKEVM" --volume "$vol" --vm "$uid" --host "$h" --incarnation 1 --interval-ms "$DN_INTERVAL_MS"
             --slots 8 --log-dir "$T/fv/$uid")
    fi
    FENCELOCK_SOCKET=$(dl_sock "$h") "$FL" exec --vm "$uid" --volume "$vol" --wait "$DN_WAIT" -- "${cmd[@]}" \
        > "$T/exec-$uid.out" 2>&1 &
    DN_W[$2]=$!
    disown "$!" # no job notice when a crash kills it
}

# dn_running: how many VMs of this run have a process running: for sleep VMs
# the copies of sleep alive; for fakevm VMs the VMs with a log (in
# $T/fv/UID) newer than the file $1 that holds a first record (the VM ran
# and wrote its volume).
dn_running() {
    if [ "$DN_KIND" = sleep ]; then
        pgrep -c -f "^$T/fl-dnvm " || true
    else
        find "$T/fv" -name '*.log' -newer "$1" -print0 | xargs -0 -r awk 'FNR == 2 {print FILENAME; nextfile}' |
            sed 's|/[^/]*$||' | sort -u | wc -l
    fi
}

# dn_last_first_record MARK: the monotonic ms of the first record of every
# fakevm log newer than MARK; prints the latest (the last VM to run).
dn_last_first_record() {
    find "$T/fv" -name '*.log' -newer "$1" -print0 |
        xargs -0 -r awk 'FNR == 2 {for (i = 1; i <= NF; i++) if ($i ~ /^mono_ns=/) {
            split($i, a, "="); printf "%d\n", a[2] / 1000000}; nextfile}' | sort -n | tail -1
}

# dn_start_all H FROM TO SECONDS: starts VMs dFROM..dTO on host H at once;
# sets DN_START_S to the seconds until all run (with a tenth), fails after
# SECONDS.
dn_start_all() {
    local h=$1 from=$2 to=$3 lim=$4 n=$(( $3 - $2 + 1 )) k t0 t1 mark="$T/mark-start-$2"
    : > "$mark"; sleep 0.01
    t0=$(now_ms)
    for k in $(seq "$from" "$to"); do dn_exec "$h" "$k"; done
    local got=0
    while [ $(( $(now_ms) - t0 )) -lt $(( lim * 1000 )) ]; do
        got=$(dn_running "$mark")
        [ "$got" -ge "$n" ] && break
        sleep 0.1
    done
    t1=$(now_ms)
    [ "$got" -ge "$n" ] || fail "only $got of $n VMs run on h$h after $lim s: $(cat "$T"/exec-d*.out | sort | uniq -c | sort -rn | head -5)"
    DN_START_S="$(( (t1 - t0) / 1000 )).$(( (t1 - t0) % 1000 / 100 ))"
}

# dn_rss_kb PID / dn_pss_kb PID / dn_fds PID / dn_cpu_ticks PID
dn_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
dn_pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
dn_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
dn_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

# dn_wrapper_costs FROM TO: "RSS_KB PSS_KB FDS" averaged over the wrappers of
# dFROM..dTO (the `fencelock exec` processes, guards of running VMs).
dn_wrapper_costs() {
    local k r p f n=0 sr=0 sp=0 sf=0
    for k in $(seq "$1" "$2"); do
        r=$(dn_rss_kb "${DN_W[$k]}"); p=$(dn_pss_kb "${DN_W[$k]}"); f=$(dn_fds "${DN_W[$k]}")
        [ -n "$r" ] && [ -n "$p" ] || continue
        n=$((n + 1)); sr=$((sr + r)); sp=$((sp + p)); sf=$((sf + f))
    done
    [ "$n" -gt 0 ] || { echo "0 0 0"; return; }
    echo "$((sr / n)) $((sp / n)) $((sf / n))"
}

# dn_probe_stats I FROM_MS: "COUNT P50 P99 MAX FAILS" of host I's status
# latencies (ms) since epoch ms FROM_MS.
dn_probe_stats() {
    local fails; fails=$(awk -v from="$2" '$1 >= from && $2 == "fail"' "$T/probe-h$1.txt" | wc -l)
    awk -v from="$2" '$1 >= from && $2 != "fail" {print $2}' "$T/probe-h$1.txt" | sort -n | awk -v f="$fails" '
        { v[NR] = $1 } END { if (NR == 0) { print "0 - - - " f; exit }
            i50 = int(NR * 0.5); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR
            print NR, v[i50], v[i99], v[NR], f }'
}

# dn_lat_snap I FILE: host I's renewal-lateness histogram (cumulative
# "bound count" lines) into FILE.
dn_lat_snap() { awk '/^fencelock_renewal_lateness_seconds_bucket/ {
    b = $1; sub(/.*le="/, "", b); sub(/".*/, "", b); print b, $2}' "$T/h$1/metrics.prom" > "$2"; }
# dn_lat_p99 BEFORE AFTER: "N P99_MS": the renewals between the two snapshots
# and the upper bound (ms) of the bucket that holds their 99th percentile.
dn_lat_p99() {
    paste -d' ' "$1" "$2" | awk '{ b[NR] = $1; c[NR] = $4 - $2 } END {
        n = c[NR]; if (n == 0) { print "0 0"; exit }
        for (i = 1; i <= NR; i++) if (c[i] >= n * 0.99) { printf "%d %s\n", n, (b[i] == "+Inf" ? "inf" : b[i] * 1000); exit } }'
}

# dn_crash H FROM TO: SIGKILLs host H's daemon and the wrappers of VMs
# dFROM..dTO with their VMs (all pids read first, then one kill(1)), as a
# power loss does; sets DN_T0 to the monotonic ms of the crash.
dn_crash() {
    local h=$1 k w c
    local -a pids=("${DPID[$h]}")
    for k in $(seq "$2" "$3"); do
        w=${DN_W[$k]}; pids+=("$w"); c=
        { read -r c _ < "/proc/$w/task/$w/children"; } 2>/dev/null
        [ -n "$c" ] && pids+=("$c")
    done
    DN_T0=$(dn_kill_mono "${pids[@]}")
    wait "${DPID[$h]}" 2>/dev/null; DPID[$h]=
    dl_kill_host_vms "$h" # anything of h's left (none expected)
}

# dn_vms_on I: the VMs host I reports RUNNING here.
dn_vms_on() { dl_json "$1" status | dl_py 'len([v for v in d.get("vms", []) if v["state"] == "RUNNING"])'; }

# dn_stop_fakevms: SIGTERM to every fakevm of this run (each finishes its
# iteration; its wrapper releases the leases), then waits for them to end.
dn_stop_fakevms() {
    local p
    local -a vms=()
    for p in $(pgrep -f "^$DN_FAKEVM --volume $T/"); do vms+=("$p"); done
    [ ${#vms[@]} -gt 0 ] && kill -TERM "${vms[@]}" 2>/dev/null
    wait_for 30 eval '! pgrep -f "^$DN_FAKEVM --volume $T/" >/dev/null' || true
}

# dn_vmcheck FROM TO: vmcheck on every volume dFROM..dTO with its logs;
# prints "OVERLAPS CORRUPT".
dn_vmcheck() {
    local k o=0 c=0 rc
    for k in $(seq "$1" "$2"); do
        "$FL_BUILD/tools/vmcheck" --volume "$T/vol-d$k.img" --logs "$T/fv/d$k" > "$T/vmcheck-d$k.out" 2>&1
        rc=$?
        [ "$rc" -eq 1 ] && o=$((o + 1))
        [ "$rc" -eq 2 ] && c=$((c + 1))
    done
    echo "$o $c"
}

# dn_failover N ROUNDS_LIMIT_S: N fakevm VMs on h1, which then crashes; every
# VM must run on h2 or h3 within DN_FAILOVER_MAX_MS (default D + 3 s = 9 s)
# of the crash, with no overlap on any volume and survivors' renewal
# lateness p99 under DN_LAT_P99_MAX_MS (default 50). Prints one result line:
# "failover N=.. start_s=.. crash_to_all_ms=.. h2=.. h3=.. lat_p99_ms=h2/h3 overlaps=.. corrupt=..
# h1_rss_kb=BEFORE/WITH_N h1_cpu_pct=.." (h1 with its N VMs running, before the crash).
dn_failover() {
    local n=$1 st t0 tl mark="$T/mark-crash" got=0 i
    local max_ms=${DN_FAILOVER_MAX_MS:-9000} lat_max=${DN_LAT_P99_MAX_MS:-50}
    local r0 r1 c0 c1 hz; hz=$(getconf CLK_TCK)
    r0=$(dn_rss_kb "${DPID[1]}")
    dn_start_all 1 1 "$n" "${DN_START_LIMIT_S:-120}"; st=$DN_START_S
    c0=$(dn_cpu_ticks "${DPID[1]}")
    sleep 4 # every VM a few records in; h1's CPU with its N VMs meanwhile
    c1=$(dn_cpu_ticks "${DPID[1]}"); r1=$(dn_rss_kb "${DPID[1]}")
    for i in 2 3; do dn_lat_snap "$i" "$T/lat-before-h$i"; done
    : > "$mark"; sleep 0.01
    # DN_PERF=DIR: where the survivors' loop threads block or are switched
    # out during the failover (perf sched_switch with stacks, 10 s).
    if [ -n "${DN_PERF:-}" ]; then
        for i in 2 3; do perf record -q -e sched:sched_switch --call-graph dwarf,16384 -t "${DPID[$i]}" -o "$DN_PERF/perf-h$i.data" -- sleep 10 >/dev/null 2>&1 & done
    fi
    dn_crash 1 1 "$n"; t0=$DN_T0
    local lim=$(( max_ms / 1000 + 20 ))
    for _ in $(seq $((lim * 5))); do
        got=$(dn_running "$mark")
        [ "$got" -ge "$n" ] && break
        sleep 0.2
    done
    [ "$got" -ge "$n" ] || fail "$got of $n VMs run again $lim s after h1 crashed"
    tl=$(dn_last_first_record "$mark")
    local took=$(( tl - t0 ))
    sleep 2.5 # the metrics file is rewritten every second or so
    local l2 l3 h2 h3
    for i in 2 3; do dn_lat_snap "$i" "$T/lat-after-h$i"; done
    l2=$(dn_lat_p99 "$T/lat-before-h2" "$T/lat-after-h2" | cut -d' ' -f2)
    l3=$(dn_lat_p99 "$T/lat-before-h3" "$T/lat-after-h3" | cut -d' ' -f2)
    h2=$(dn_vms_on 2); h3=$(dn_vms_on 3)
    dn_stop_fakevms
    local oc; oc=$(dn_vmcheck 1 "$n")
    echo "failover N=$n start_s=$st crash_to_all_ms=$took h2=$h2 h3=$h3 lat_p99_ms=$l2/$l3 overlaps=${oc% *} corrupt=${oc#* }" \
         "h1_rss_kb=$r0/$r1 h1_cpu_pct=$(( (c1 - c0) * 100 / hz / 4 ))"
    [ "${oc% *}" = 0 ] || fail "overlaps on ${oc% *} volumes: $(grep -l OVERLAP "$T"/vmcheck-d*.out | head -3)"
    [ "$took" -le "$max_ms" ] || fail "the last VM ran $took ms after the crash (bound $max_ms ms)"
    [ "$h2" -gt 0 ] && [ "$h3" -gt 0 ] || fail "not spread over the survivors: h2 $h2, h3 $h3"
    awk -v a="$l2" -v b="$l3" -v m="$lat_max" 'BEGIN { exit !(a != "inf" && b != "inf" && a + 0 < m && b + 0 < m) }' ||
        fail "survivors' renewal lateness p99 h2 $l2 ms, h3 $l3 ms (bound $lat_max ms)"
}

# dn_dense N FIRST: N sleep VMs on h1 of three hosts: FIRST of them started
# at once (DN_FIRST_MAX_S bounds their start, default 10 s), then the rest at
# once; the daemons' memory, descriptors and CPU before and with the VMs,
# the wrappers' RSS / PSS / descriptors, and the status latency of all three
# hosts throughout. Prints "key=value" lines (bench/density.sh reads them).
dn_dense() {
    local n=$1 first=$2 i t_start r0 f0 r1 f1 c0 c1 s1 s2 hz
    DN_KIND="sleep"
    dn_setup $((n + 16))
    sleep 2
    r0=$(dn_rss_kb "${DPID[1]}"); f0=$(dn_fds "${DPID[1]}")
    local r0o; r0o=$(dn_rss_kb "${DPID[2]}")
    dn_lat_snap 1 "$T/lat-before-h1"
    t_start=$(now_ms)
    dn_start_all 1 1 "$first" "${DN_FIRST_MAX_S:-10}"; s1=$DN_START_S
    echo "start_first n=$first seconds=$s1"
    if [ "$n" -gt "$first" ]; then
        dn_start_all 1 $((first + 1)) "$n" "${DN_REST_MAX_S:-120}"; s2=$DN_START_S
        echo "start_rest n=$((n - first)) seconds=$s2"
    fi
    sleep 2.5
    dn_lat_snap 1 "$T/lat-after-h1"
    echo "lateness_h1 $(dn_lat_p99 "$T/lat-before-h1" "$T/lat-after-h1" | awk '{print "renewals=" $1 " p99_ms_at_most=" $2}')"
    sleep 0.5
    [ "$(dn_vms_on 1)" = "$n" ] || fail "h1 reports $(dn_vms_on 1) VMs RUNNING, not $n"
    r1=$(dn_rss_kb "${DPID[1]}"); f1=$(dn_fds "${DPID[1]}")
    hz=$(getconf CLK_TCK)
    c0=$(dn_cpu_ticks "${DPID[1]}"); sleep 10; c1=$(dn_cpu_ticks "${DPID[1]}")
    read -r wr wp wf <<< "$(dn_wrapper_costs 1 "$n")"
    echo "daemon_h1 vms=$n rss_kb_before=$r0 rss_kb=$r1 fds_before=$f0 fds=$f1 cpu_pct=$(( (c1 - c0) * 100 / hz / 10 )).$(( (c1 - c0) * 1000 / hz / 10 % 10 ))"
    echo "daemon_h2 rss_kb_before=$r0o rss_kb=$(dn_rss_kb "${DPID[2]}")"
    echo "per_vm daemon_kb=$(( (r1 - r0) / n )) daemon_fds=$(( (f1 - f0) / n )).$(( (f1 - f0) * 10 / n % 10 )) wrapper_rss_kb=$wr wrapper_pss_kb=$wp wrapper_fds=$wf vm_pss_kb=$(dn_pss_kb "$(pgrep -f "^$T/fl-dnvm " | head -1)")"
    for i in 1 2 3; do
        read -r c p50 p99 max fails <<< "$(dn_probe_stats "$i" "$t_start")"
        echo "status_h$i answers=$c p50_ms=$p50 p99_ms=$p99 max_ms=$max failed=$fails"
        [ "$fails" = 0 ] || fail "h$i: $fails status requests failed"
        awk -v m="$max" -v b="${DN_STATUS_MAX_MS:-100}" 'BEGIN { exit !(m + 0 < b) }' ||
            fail "h$i: status took $max ms at worst (bound ${DN_STATUS_MAX_MS:-100} ms)"
    done
}
