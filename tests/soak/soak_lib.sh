# shellcheck shell=bash
# The VM-churn soak: source after tests/lib/common.sh and
# tests/integration/daemon_lib.sh, then call soak_run. Three fencelockd on
# loopback, SOAK_VMS fake VMs (tests/tools/fakevm under `fencelock exec`),
# and SOAK_CYCLES stop/start cycles: each cycle kills one VM's process (its
# wrapper reports the exit and releases the leases) and starts it again under
# `fencelock exec` on the next host; SOAK_PARALLEL VMs (default 4) go through
# their cycle at once, so a run of 10,000 cycles takes hours, not days, and
# SOAK_MAX_SECONDS (0: none) ends a run early, after the warm-up, with the
# cycles done so far. Halfway through the warm-up the leader's
# daemon is stopped (SIGTERM: its VMs run on under their guards) and started
# again, so leadership moves and both roles are soaked. Every SOAK_SAMPLE
# cycles the soak samples each daemon's VmRSS (/proc/PID/status) and the
# bytes in its state_dir into $SOAK_OUT/soak.csv.
#
# The check (why these bounds: docs/operations.md, "Memory and disk bounds"):
# between the warm-up (cycle SOAK_WARMUP) and the end, a daemon's RSS may rise
# above its value at the warm-up by at most SOAK_RSS_SLACK_KB (default 1024),
# and its state_dir may never exceed SOAK_DISK_MAX_KB (default 1024): the
# state directory holds the hard state, at most two snapshots and the log
# segments since the snapshot before last (at most 2 x 1,024 + 128 entries of
# about 200 bytes here), whatever the number of cycles. Leaking 1 KB per
# cycle fails the default 1,000-cycle run.
SOAK_CYCLES=${SOAK_CYCLES:-1000}
SOAK_VMS=${SOAK_VMS:-20}
SOAK_WARMUP=${SOAK_WARMUP:-200}
SOAK_SAMPLE=${SOAK_SAMPLE:-$(( SOAK_CYCLES / 50 > 10 ? SOAK_CYCLES / 50 : 10 ))}
SOAK_RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-1024}
SOAK_DISK_MAX_KB=${SOAK_DISK_MAX_KB:-1024}
SOAK_PARALLEL=${SOAK_PARALLEL:-4}
SOAK_MAX_SECONDS=${SOAK_MAX_SECONDS:-0}
# Starts refused because the new host still saw the VM placed on the old one
# are retried; since the wrapper's exit means the stop is committed (and the
# new host holds such a registration until it catches up) there should be
# none: SOAK_MAX_RETRIES (-1: any number) fails a run with more.
SOAK_MAX_RETRIES=${SOAK_MAX_RETRIES:--1}
SOAK_OUT=${SOAK_OUT:-$FL_BUILD/soak}
SOAK_FAKEVM=$FL_BUILD/tools/fakevm
declare -a SOAK_HOST=() SOAK_EXEC=()
SOAK_RETRIES=0

# soak_exec K H: starts VM K under `fencelock exec` on host H (fakevm writes
# one record a second, so 20 VMs cost little I/O).
soak_exec() {
    local k=$1 h=$2 uid="soak$1"
    # A volume is named by its identity (device and inode for a file), so the
    # file exists before its first registration.
    [ -e "$T/vol-$uid.img" ] || : > "$T/vol-$uid.img"
    FENCELOCK_SOCKET=$(dl_sock "$h") "$FL" exec --vm "$uid" --volume "$T/vol-$uid.img" -- \
        "$SOAK_FAKEVM" --volume "$T/vol-$uid.img" --vm "$uid" --host "$h" --incarnation "$SOAK_C" \
        --interval-ms 1000 --slots 8 > "$T/exec-$uid.out" 2>&1 &
    SOAK_EXEC[$k]=$!
    SOAK_HOST[$k]=$h
}

# soak_vm_pid K: prints the pid of VM K's fakevm once its wrapper has exec'ed
# it (the wrapper's child runs fencelock until the leases are held). Only
# bash builtins: it is polled every few milliseconds.
soak_vm_pid() {
    local w=${SOAK_EXEC[$1]} c exe
    c=
    { read -r c _ < "/proc/$w/task/$w/children"; } 2>/dev/null # no newline there: read "fails"
    [ -n "$c" ] || return 1
    exe=$(readlink "/proc/$c/exe" 2>/dev/null) || return 1
    [ "$exe" = "$SOAK_FAKEVM" ] || return 1
    echo "$c"
}

# soak_wait_started K: waits (30 s at most) until VM K's process runs.
soak_wait_started() {
    local k=$1 i
    for i in $(seq 3000); do
        soak_vm_pid "$k" >/dev/null && return 0
        kill -0 "${SOAK_EXEC[$k]}" 2>/dev/null && { sleep 0.01; continue; }
        wait "${SOAK_EXEC[$k]}"
        # A start refused because the new host still saw the VM placed on
        # the old one (counted; SOAK_MAX_RETRIES bounds them): try again.
        grep -qE "stop it (there )?first" "$T/exec-soak$k.out" ||
            fail "cycle $SOAK_C: the wrapper of soak$k on h${SOAK_HOST[$k]} exited: $(tail -5 "$T/exec-soak$k.out")"
        sleep 0.05; SOAK_RETRIES=$((SOAK_RETRIES + 1))
        soak_exec "$k" "${SOAK_HOST[$k]}"
    done
    fail "cycle $SOAK_C: soak$k did not start on h${SOAK_HOST[$k]} within 30 s: $(tail -5 "$T/exec-soak$k.out")"
}

# soak_batch N: cycles SOAK_C+1 .. SOAK_C+N at once, on N different VMs: each
# VM's process is stopped with SIGTERM, as its manager stops it (its wrapper
# reports a clean end and releases the leases; the VM stays registered,
# unplaced), then each VM is started on the next host, which updates its
# registration. Batches keep the
# daemons busy while one start waits for its lease.
soak_batch() {
    local n=$1 j k pid
    local -a ks=()
    for j in $(seq 0 $((n - 1))); do
        k=$(( (SOAK_C + j) % SOAK_VMS )); ks+=("$k")
        pid=$(soak_vm_pid "$k") || fail "cycle $((SOAK_C + j + 1)): soak$k is not running: $(tail -5 "$T/exec-soak$k.out")"
        kill -TERM "$pid"
    done
    for k in "${ks[@]}"; do wait "${SOAK_EXEC[$k]}" 2>/dev/null; done
    for k in "${ks[@]}"; do soak_exec "$k" $(( SOAK_HOST[k] % DL_N + 1 )); done
    for k in "${ks[@]}"; do soak_wait_started "$k"; done
    SOAK_C=$((SOAK_C + n))
}

# soak_next_n: the size of the next batch: SOAK_PARALLEL at most, and no
# batch crosses a sample, the leader move or the warm-up.
soak_next_n() {
    local n=$SOAK_PARALLEL b
    for b in $(( (SOAK_C / SOAK_SAMPLE + 1) * SOAK_SAMPLE )) $((SOAK_WARMUP / 2)) "$SOAK_WARMUP" "$SOAK_CYCLES"; do
        [ "$b" -gt "$SOAK_C" ] && [ $((b - SOAK_C)) -lt "$n" ] && n=$((b - SOAK_C))
    done
    echo "$n"
}

# soak_state_kb I: kilobytes (rounded up) in host I's state_dir (apparent sizes).
soak_state_kb() { du -sk --apparent-size "$T/h$1/state" 2>/dev/null | awk '{print $1}'; }
soak_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/${DPID[$1]}/status" 2>/dev/null; }

# soak_arb_kb I: host I's fencelock_arbiter_bytes metric (the arbiter's own
# accounting: replicated state, Raft log and snapshot, tables, buffers), in KB.
soak_arb_kb() {
    "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk '$1 == "fencelock_arbiter_bytes" {print int($2 / 1024)}'
}

# soak_sample: one line "cycle rss1 rss2 rss3 disk1 disk2 disk3 leader arb1 arb2 arb3" to the CSV.
soak_sample() {
    local i line=$SOAK_C
    for i in $(seq "$DL_N"); do line+=",$(soak_rss_kb "$i")"; done
    for i in $(seq "$DL_N"); do line+=",$(soak_state_kb "$i")"; done
    line+=",$(dl_leader 1)"
    for i in $(seq "$DL_N"); do line+=",$(soak_arb_kb "$i")"; done
    echo "$line" >> "$SOAK_OUT/soak.csv"
}

# soak_move_leader: stops the leader's daemon cleanly and starts it again at
# once; the cluster elects another leader meanwhile.
soak_move_leader() {
    local l; l=$(dl_leader 1)
    [ -n "$l" ] && [ "$l" != 0 ] || fail "cycle $SOAK_C: no leader to move"
    kill -TERM "${DPID[$l]}"; wait "${DPID[$l]}"; DPID[$l]=
    dl_start "$l"
    dl_wait_cluster 30
    local n; n=$(dl_leader 1)
    echo "cycle $SOAK_C: leader h$l restarted, leader now h$n"
}

soak_table() {
    python3 - "$SOAK_OUT/soak.csv" "$SOAK_CYCLES" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r and not r[0].startswith("#")]
n = int(rows[-1][0])
marks = sorted({n * i // 10 for i in range(11)})
keep = []
for t in marks:
    below = [r for r in rows if int(r[0]) <= t]
    if below and below[-1] not in keep:
        keep.append(below[-1])
print("| cycles | h1 RSS | h2 RSS | h3 RSS | h1 state_dir | h2 state_dir | h3 state_dir | leader | arbiter h1/h2/h3 |")
print("|---|---|---|---|---|---|---|---|---|")
for r in keep:
    rss = ["%.1f MB" % (int(x) / 1024) for x in r[1:4]]
    disk = ["%d KB" % int(x) for x in r[4:7]]
    arb = "/".join(x or "?" for x in r[8:11]) + " KB" if len(r) >= 11 else "-"
    print("| %s | %s | %s | h%s | %s |" % (r[0], " | ".join(rss), " | ".join(disk), r[7], arb))
PY
}

# soak_check: the bounds above, for every host; prints one verdict line per host.
soak_check() {
    python3 - "$SOAK_OUT/soak.csv" "$SOAK_WARMUP" "$SOAK_RSS_SLACK_KB" "$SOAK_DISK_MAX_KB" <<'PY'
import csv, sys
rows = [[int(x) for x in r[:8]] for r in csv.reader(open(sys.argv[1])) if r and not r[0].startswith("#")]
warm, slack, dmax = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
after = [r for r in rows if r[0] >= warm]
bad = 0
for h in range(3):
    base = after[0][1 + h]
    top = max(r[1 + h] for r in after)
    dtop = max(r[4 + h] for r in rows)
    ok = top - base <= slack and dtop <= dmax
    bad += not ok
    print("h%d: RSS %d KB at cycle %d, at most %d KB after (+%d KB, bound +%d KB); state_dir at most %d KB (bound %d KB): %s"
          % (h + 1, base, after[0][0], top, top - base, slack, dtop, dmax, "ok" if ok else "GROWS"))
sys.exit(1 if bad else 0)
PY
}

soak_plot() {
    command -v gnuplot >/dev/null || { echo "gnuplot missing (make deps): no plot"; return 0; }
    gnuplot <<EOF 2>/dev/null || echo "gnuplot failed: no plot"
set terminal png noenhanced size 1000,600
set output "$SOAK_OUT/soak.png"
set datafile separator ","
set title "fencelockd under VM churn ($SOAK_VMS VMs, 3 hosts)"
set xlabel "stop/start cycles"
set ylabel "RSS (MB)"
set y2label "state_dir (KB)"
set y2tics
set ytics nomirror
set key top left
plot "$SOAK_OUT/soak.csv" using 1:(\$2/1024) with lines title "h1 RSS", \
     "" using 1:(\$3/1024) with lines title "h2 RSS", \
     "" using 1:(\$4/1024) with lines title "h3 RSS", \
     "" using 1:5 axes x1y2 with lines dt 2 title "h1 state_dir", \
     "" using 1:6 axes x1y2 with lines dt 2 title "h2 state_dir", \
     "" using 1:7 axes x1y2 with lines dt 2 title "h3 state_dir"
EOF
    [ -s "$SOAK_OUT/soak.png" ] && echo "plot: $SOAK_OUT/soak.png"
}

# soak_run: the whole soak; fails (exit 1) when a bound is broken.
soak_run() {
    [ -x "$SOAK_FAKEVM" ] || fail "$SOAK_FAKEVM not built (make BUILD=$FL_BUILD all)"
    [ "$SOAK_WARMUP" -lt "$SOAK_CYCLES" ] || fail "SOAK_WARMUP ($SOAK_WARMUP) must be below SOAK_CYCLES ($SOAK_CYCLES)"
    [ "$SOAK_PARALLEL" -ge 1 ] && [ "$SOAK_PARALLEL" -le "$SOAK_VMS" ] || fail "SOAK_PARALLEL must be 1..SOAK_VMS"
    mkdir -p "$SOAK_OUT"
    echo "# cycle,h1_rss_kb,h2_rss_kb,h3_rss_kb,h1_state_kb,h2_state_kb,h3_state_kb,leader,h1_arbiter_kb,h2_arbiter_kb,h3_arbiter_kb" > "$SOAK_OUT/soak.csv"
    DL_LOG_LEVEL=${DL_LOG_LEVEL:-notice}
    DL_VOLUME_SLOTS=$(( SOAK_VMS * 2 )) DL_IMG_MB=128
    dl_setup 3
    dl_start_all
    dl_wait_cluster 30
    local k start; SOAK_C=0
    for k in $(seq 0 $((SOAK_VMS - 1))); do soak_exec "$k" $(( k % DL_N + 1 )); done
    for k in $(seq 0 $((SOAK_VMS - 1))); do soak_wait_started "$k"; done
    soak_sample
    start=$(date +%s)
    while [ "$SOAK_C" -lt "$SOAK_CYCLES" ]; do
        soak_batch "$(soak_next_n)"
        [ "$SOAK_C" -eq $(( SOAK_WARMUP / 2 )) ] && soak_move_leader
        if [ "$SOAK_MAX_SECONDS" -gt 0 ] && [ $(( $(date +%s) - start )) -ge "$SOAK_MAX_SECONDS" ] &&
           [ "$SOAK_C" -gt "$SOAK_WARMUP" ]; then
            echo "time budget of $SOAK_MAX_SECONDS s used up: the soak ends after $SOAK_C of $SOAK_CYCLES cycles"
            SOAK_CYCLES=$SOAK_C
        fi
        if [ $(( SOAK_C % SOAK_SAMPLE )) -eq 0 ] || [ "$SOAK_C" -eq "$SOAK_CYCLES" ] || [ "$SOAK_C" -eq "$SOAK_WARMUP" ]; then
            soak_sample
        fi
    done
    echo "$SOAK_CYCLES cycles in $(( $(date +%s) - start )) s ($SOAK_VMS VMs, $SOAK_PARALLEL at a time, 3 hosts;" \
         "$SOAK_RETRIES starts refused at first and retried)"
    soak_table
    soak_plot
    soak_check || return 1
    if [ "$SOAK_MAX_RETRIES" -ge 0 ] && [ "$SOAK_RETRIES" -gt "$SOAK_MAX_RETRIES" ]; then
        echo "$SOAK_RETRIES starts were refused at first (at most $SOAK_MAX_RETRIES allowed): a stop was not" \
             "committed, or not seen by the new host, when its wrapper exited"
        return 1
    fi
}
