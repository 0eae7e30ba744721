#!/usr/bin/env bash
# Mass failover vs the VMs on the crashed host: three real daemons on loopback
# (io_timeout 1 s, so D = 6 s and the goal D + 2 s = 8 s), for each N in
# MF_NS (default "1 10 50 100") N fake VMs (fakevm, each writing its own
# volume) run on h1, which crashes (daemon, wrappers and VMs SIGKILLed); the
# time from the crash until every VM runs on h2 or h3, how they spread,
# the survivors' renewal lateness p99 meanwhile and vmcheck's verdict on
# every volume (tests/density/density_lib.sh, dn_failover). Table on stdout,
# BUILD/bench/mass-failover.csv and, with gnuplot, mass-failover.png, beside
# sanlock's 68 s at the same timeout. make bench, section 10.
# Usage: bench/mass_failover.sh BUILD. Timing: run under flock /tmp/fl-heavy.lock.
set -uo pipefail
build=${1:-build}
FL_ROOT=$(cd "$(dirname "$0")/.." && pwd); export FL_ROOT
FL_BUILD=$(cd "$build" && pwd); export FL_BUILD
out=$FL_BUILD/bench; mkdir -p "$out"
csv=$out/mass-failover.csv
echo "# vms_on_crashed_host,crash_to_all_s,h2,h3,lat_p99_ms_h2,lat_p99_ms_h3,overlaps" > "$csv"
printf '%8s %16s %11s %17s %9s %20s\n' "VMs" "crash_to_all_s" "h2/h3" "lateness_p99" overlaps "sanlock (T = 1 s)"
for n in ${MF_NS:-1 10 50 100}; do
    line=$(bash -c '
    source "$FL_ROOT/tests/lib/common.sh"
    source "$FL_ROOT/tests/integration/daemon_lib.sh"
    source "$FL_ROOT/tests/density/density_lib.sh"
    DN_KIND=fakevm DN_FAILOVER_MAX_MS=60000 DN_LAT_P99_MAX_MS=100000
    dn_setup $(($1 + 16)); dn_failover "$1"' _ "$n" 2>&1 | grep '^failover ') || true
    [ -n "$line" ] || { printf '%8s  (failed: FL_SUITE_GLOB=t_daemon_density* tests/integration/run.sh shows why)\n' "$n"; continue; }
    v() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    took=$(awk -v m="$(v crash_to_all_ms)" 'BEGIN { printf "%.1f", m / 1000 }'); lat=$(v lat_p99_ms)
    printf '%8s %16s %11s %17s %9s %20s\n' "$n" "$took" "$(v h2)/$(v h3)" "${lat%/*} / ${lat#*/} ms" "$(v overlaps)" "68 s"
    echo "$n,$took,$(v h2),$(v h3),${lat%/*},${lat#*/},$(v overlaps)" >> "$csv"
done
echo "(goal: every VM running elsewhere within D + 2 s = 8 s of the crash; sanlock frees a dead host's leases"
echo " after 8N + 60 s = 68 s at io_timeout 1 s, whatever the number of VMs)"
command -v gnuplot >/dev/null || { echo "gnuplot missing (make deps): no plot"; exit 0; }
gnuplot <<EOF2 2>/dev/null || echo "gnuplot failed: no plot"
set terminal png size 1000,600 noenhanced
set output "$out/mass-failover.png"
set datafile separator ","
set title "crash -> every VM running elsewhere, by VMs on the crashed host (3 hosts, io_timeout 1 s)"
set xlabel "VMs on the crashed host"
set logscale x
set xrange [0.8:150]
set ylabel "seconds"
set yrange [0:20]
set key top left
plot "$csv" using 1:2 with linespoints lw 2 title "fencelock: crash -> all running elsewhere", \
     8 with lines dt 2 title "goal: D + 2 s", \
     6 with lines dt 3 title "D (6 s)"
EOF2
[ -s "$out/mass-failover.png" ] && echo "plot: $out/mass-failover.png (sanlock's 68 s is off this scale)"
exit 0
