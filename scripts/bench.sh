#!/usr/bin/env bash
# make bench: every benchmark side by side with the system it is compared to,
# printing numbers and ratios. Not part of `make test` (timings on a shared
# machine are not assertions). Sections:
#   1. delta-lease renewal I/O per renewal by hosts in use (2 to 2,000), fencelock vs
#      sanlock's 1 MiB read (CSV and plot build/bench/renewal-bytes.png);
#   2. uncontended volume-lease acquire, fencelock vs `sanlock direct acquire`;
#   3. failover and hand-over times of the whole-cluster simulator (T = 1 s, P = 10 s);
#   4. Raft commit latency, throughput and re-election, fencelock vs etcd 3.4
#      (CSV and plot build/bench/raft-vs-etcd.png)
#      (skip with BENCH_SKIP_RAFT=1; about 75 s);
#   5. renewal lateness of a real fencelockd, p50/p99/max: idle, 20 dead wrappers
#      with unflushable volumes, 1,000 control clients, a slowloris (bench/lateness.sh;
#      skip with BENCH_SKIP_LATENESS=1; about 3 min; needs FUSE for the second);
#   6. density: N = 10, 100, 500 VMs started at once on one host, its RSS and CPU
#      with them, its crash and the time until all run elsewhere; 1,000 VMs on
#      one host (bench/density.sh; table and plot in BUILD/bench; skip with
#      BENCH_SKIP_DENSITY=1; about 4 min);
#   7. crash -> running elsewhere at io_timeout T = 1 s, 500 ms and 250 ms, in the
#      simulator and with three real daemons (bench/failover_t.sh; table, CSV and
#      plot in BUILD/bench; skip with BENCH_SKIP_FAILOVER_T=1, the real daemons
#      alone with FO_SKIP_REAL=1; about 4 min), and the renewal lateness of a
#      daemon at T = 500 ms and 250 ms (bench/lateness.sh, idle and 1,000 control
#      clients);
#   8. the replicated registry at 10,000 VMs (1-3 volumes each): apply time per
#      VM, snapshot size, snapshot write and install time, memory per VM
#      (build/fl-bench-registry; a second);
#   9. failover after a crash and hand-over after a partition against the number
#      of hosts (3, 16, 64, 128) in the simulator (bench/failover_hosts.sh; table,
#      CSV and plot in BUILD/bench; skip with BENCH_SKIP_HOSTS=1; about 5 min),
#      and with 3, 16 and 32 real daemons in network namespaces (root; FH_SKIP_REAL=1
#      skips them; about 4 min more);
#  10. mass failover: N = 1, 10, 50, 100 fake VMs on one host of three real
#      daemons, the host crashed, the time until every VM runs elsewhere
#      (bench/mass_failover.sh; table, CSV and plot build/bench/mass-failover.png;
#      skip with BENCH_SKIP_MASS=1; about 4 min).
set -uo pipefail
build=${1:-build}
B=$(cd "$build" && pwd)
cd "$(dirname "$0")/.." || exit 1
echo "== 1. renewal I/O (one renewal, 512-byte sectors, 1 MiB align)"
mkdir -p "$B/bench"
"$B/fl-bench-renewal" "$B/bench/renewal-bytes.csv"
if command -v gnuplot >/dev/null; then
    gnuplot <<EOF
set terminal pngcairo size 800,500
set output "$B/bench/renewal-bytes.png"
set datafile separator ","
set logscale xy
set xlabel "hosts in use in the lockspace"
set ylabel "bytes read per renewal"
set title "delta-lease renewal: bytes read, fencelock vs sanlock (whole 1 MiB area)"
set key left top
plot "$B/bench/renewal-bytes.csv" using 1:2 with linespoints title "fencelock", \
     "" using 1:4 with lines dashtype 2 title "sanlock"
EOF
    echo "(plot: $B/bench/renewal-bytes.png)"
fi
echo
echo "== 2. uncontended volume-lease acquire on an O_DIRECT file"
bash bench/paxos_acquire.sh "$build" 10 || echo "(skipped: needs sanlock and strace)"
echo
echo "== 3. simulator: failover after a crash, hand-over after a partition longer than P"
mkdir -p "$B/bench"
fo=() ho=()
for n in 2 3 5; do
    printf 'hosts %s: ' "$n"
    "$B/fencelock-sim" --seeds 1..300 --hosts "$n" -o json | python3 -c '
import json, sys
r = json.load(sys.stdin)
f, h = r["failover"], r["handover"]
print("%d seeds, %d violations; failover p50 %.1f s p99 %.1f s max %.1f s (n=%d); hand-over p50 %.1f s p99 %.1f s (n=%d)"
      % (r["seeds"], r["violations"], f["p50_s"], f["p99_s"], f["max_s"], f["count"], h["p50_s"], h["p99_s"], h["count"]))
for key, path in (("failover", sys.argv[1]), ("handover", sys.argv[2])):
    open(path, "w").write("".join("%g\n" % x for x in r[key].get("samples_s", [])))' \
        "$B/bench/failover-h$n.txt" "$B/bench/handover-h$n.txt"
    fo+=("$n hosts=$B/bench/failover-h$n.txt"); ho+=("$n hosts=$B/bench/handover-h$n.txt")
done
echo "(sanlock: a dead host's leases after 8N + 60 s: 68 s at N = 1 s, 140 s at its default N = 10 s)"
# The distributions, drawn as the cluster timelines are (tests/cluster/timeline.py):
# a histogram and a CDF per host count.
if command -v gnuplot >/dev/null; then
    python3 tests/cluster/timeline.py hist --out "$B/bench/failover.png" --xlabel "seconds from the crash to the VM running elsewhere" \
        --title "simulator: failover after a host crash (T = 1 s; sanlock: 68 s at N = 1 s)" "${fo[@]}"
    python3 tests/cluster/timeline.py hist --out "$B/bench/handover.png" --xlabel "seconds from the partition to the VM running elsewhere" \
        --title "simulator: hand-over after a partition longer than P (T = 1 s, P = 10 s)" "${ho[@]}"
else
    echo "(gnuplot missing: make deps; no distribution plots)"
fi
echo
if [ "${BENCH_SKIP_RAFT:-0}" != 1 ]; then
    echo "== 4. Raft vs etcd 3.4"
    scripts/bench-raft.sh "$build"
fi
if [ "${BENCH_SKIP_LATENESS:-0}" != 1 ]; then
    echo
    echo "== 5. renewal lateness (time past the scheduled renewal), one fencelockd, io_timeout 1 s"
    bash bench/lateness.sh "$build"  # timing: run make bench under flock /tmp/fl-heavy.lock
fi
if [ "${BENCH_SKIP_DENSITY:-0}" != 1 ]; then
    echo
    echo "== 6. density: N VMs on one host of three, started at once, then the host crashes"
    bash bench/density.sh "$build"
fi
if [ "${BENCH_SKIP_FAILOVER_T:-0}" != 1 ]; then
    echo
    echo "== 7. crash -> running elsewhere by io_timeout T (simulator and three real daemons)"
    bash bench/failover_t.sh "$build"  # timing: run make bench under flock /tmp/fl-heavy.lock
    if [ "${BENCH_SKIP_LATENESS:-0}" != 1 ]; then
        for t in 500ms 250ms; do
            echo "renewal lateness at T = $t:"
            DL_T=$t bash bench/lateness.sh "$build" idle control-clients
        done
    fi
fi
echo
echo "== 8. registry at 10,000 VMs: apply, snapshot size, snapshot write and install (build/fl-bench-registry)"
"$build/fl-bench-registry" 10000
if [ "${BENCH_SKIP_HOSTS:-0}" != 1 ]; then
    echo
    echo "== 9. failover and hand-over vs hosts in the simulator: 3, 16, 64, 128 hosts"
    bash bench/failover_hosts.sh "$build"
fi
if [ "${BENCH_SKIP_MASS:-0}" != 1 ]; then
    echo
    echo "== 10. mass failover: crash -> every VM running elsewhere, by VMs on the crashed host (1, 10, 50, 100)"
    bash bench/mass_failover.sh "$build"  # timing: run make bench under flock /tmp/fl-heavy.lock
fi
