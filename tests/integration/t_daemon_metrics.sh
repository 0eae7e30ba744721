#!/usr/bin/env bash
# Monitoring: the metrics file carries the time it was written and the build
# (fencelock_build_info), renewal latency as a histogram and its maximum over
# the recent window, per-peer link state and last heard, quarantine, witness
# and watchdog; its mode is 0644 under the unit's umask 0027 so a monitoring
# user can read it; a clean stop removes it, a SIGKILL leaves it (dated).
# The shipped alert rules and Grafana dashboard (dist/) name only metrics
# and labels the daemon really exports (checked against this daemon's output,
# and with `promtool check rules` when promtool is installed).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml missing (make deps)"

dl_format
DL_N=2
dl_config 2 1 "metrics_file = $T/h1/fencelock.prom"
dl_config 2 2
# The unit's UMask=0027: the file must still be readable by others.
old_umask=$(umask)
umask 0027
dl_start 1
umask "$old_umask"
M=$T/h1/fencelock.prom
wait_for 10 grep -qx "fencelock_quorate 1" "$M" 2>/dev/null || fail "h1 never quorate in its metrics file: $(head -5 "$M" 2>&1)"
[ "$(stat -c %a "$M")" = 644 ] || fail "metrics file mode $(stat -c %a "$M") under umask 0027, expected 644"

# Fresh: the file says when it was written, within a few seconds of now.
ts=$(sed -n 's/^fencelock_metrics_updated_timestamp_seconds \([0-9.]*\)$/\1/p' "$M")
[ -n "$ts" ] || fail "no fencelock_metrics_updated_timestamp_seconds: $(cat "$M")"
age=$(echo "$(date +%s.%N) - $ts" | bc)
[ "$(echo "$age < 5 && $age > -1" | bc)" = 1 ] || fail "metrics timestamp $ts is $age s off now"
ver=$("$FLD" --version | head -1 | cut -d' ' -f2)
grep -qE "^fencelock_build_info\{version=\"$ver\",commit=\"[^\"]+\",protocol=\"1\"\} 1$" "$M" ||
    fail "build_info: $(grep build_info "$M")"
grep -qx 'fencelock_watchdog_armed 0' "$M" || fail "watchdog metric: $(grep watchdog "$M")"
grep -qx 'fencelock_io_timeout_seconds 1.000' "$M" || fail "io_timeout metric: $(grep io_timeout "$M")"
# Host 2 is down: its link is down, never heard (+Inf); host 1 is UP; nobody quarantined.
grep -qE '^fencelock_peer_connected\{host="2",name="[^"]*"\} 0$' "$M" || fail "peer 2 link: $(grep peer_ "$M")"
grep -qE '^fencelock_peer_last_heard_seconds\{host="2",name="[^"]*"\} \+Inf$' "$M" || fail "peer 2 heard: $(grep peer_ "$M")"
grep -q '^fencelock_host_up{host="1",name="h1"} 1$' "$M" || fail "host_up: $(grep host_up "$M")"
grep -qx 'fencelock_hosts_quarantined 0' "$M" || fail "quarantine: $(grep quarantin "$M")"

# Host 2 joins: the peer is connected and heard within a second or two.
dl_start 2
wait_for 15 grep -qE '^fencelock_peer_connected\{host="2",name="[^"]*"\} 1$' "$M" || fail "peer 2 never connected: $(grep peer_ "$M")"
wait_for 10 eval "grep -qE '^fencelock_peer_last_heard_seconds\{host=\"2\",name=\"[^\"]*\"\} [0-2]\.[0-9]+$' '$M'" ||
    fail "peer 2 not heard recently: $(grep peer_ "$M")"
wait_for 10 grep -qx 'fencelock_witness_holder [12]' "$M" || fail "no witness holder with 2 hosts: $(grep witness "$M")"

# Renewal latency: histogram consistent with its count, recent max and last below T.
metrics=$(cat "$M")
python3 - "$metrics" <<'PY' || fail "renewal latency metrics: $(grep renewal_latency "$M")"
import re, sys
m = sys.argv[1]
g = lambda rx: re.search(rx, m, re.M).group(1)
count = int(g(r'^fencelock_renewal_latency_seconds_count (\d+)$'))
buckets = [int(v) for v in re.findall(r'^fencelock_renewal_latency_seconds_bucket\{le="[^"]+"\} (\d+)$', m, re.M)]
rmax = float(g(r'^fencelock_renewal_latency_recent_seconds\{quantile="1"\} ([0-9.]+)$'))
last = float(g(r'^fencelock_renewal_latency_last_seconds ([0-9.]+)$'))
assert count > 0 and buckets == sorted(buckets) and buckets[-1] == count, (count, buckets)
assert 0 < last <= rmax < 1.0, (last, rmax)
assert not re.search(r'which="max"', m)
PY

# The shipped rules and dashboard against these metrics (and the control socket's).
"$FL" -s "$(dl_sock 1)" metrics > "$T/metrics.txt" || fail "fencelock metrics failed"
python3 "$FL_ROOT/tests/lib/check_metric_rules.py" "$T/metrics.txt" "$FL_ROOT/dist/prometheus/fencelock-alerts.yml" \
    "$FL_ROOT/dist/grafana/fencelock-dashboard.json" > "$T/check.out" 2>&1 || fail "rules/dashboard: $(cat "$T/check.out")"
# ... and the check can fail: a rule naming a metric that does not exist.
sed 's/fencelock_quorate == 0/fencelock_quorum_ok == 0/' "$FL_ROOT/dist/prometheus/fencelock-alerts.yml" > "$T/bad.yml"
python3 "$FL_ROOT/tests/lib/check_metric_rules.py" "$T/metrics.txt" "$T/bad.yml" \
    "$FL_ROOT/dist/grafana/fencelock-dashboard.json" > "$T/bad.out" 2>&1 && fail "a rule with an unknown metric passed"
grep -q 'fencelock_quorum_ok is not a metric' "$T/bad.out" || fail "bad rule not named: $(cat "$T/bad.out")"
if command -v promtool >/dev/null; then
    promtool check rules "$FL_ROOT/dist/prometheus/fencelock-alerts.yml" > "$T/promtool.out" 2>&1 ||
        fail "promtool: $(cat "$T/promtool.out")"
else
    echo "promtool missing (Debian's prometheus package; scripts/deps.sh installs it): rules not checked by promtool"
fi

# A SIGKILLed daemon leaves its file (dated); a clean stop removes it.
dl_kill 1 KILL
[ -f "$M" ] || fail "the file of a killed daemon is gone (nothing to date it by)"
dl_start 1
wait_for 10 eval "[ \"\$(sed -n 's/^fencelock_metrics_updated_timestamp_seconds \\([0-9]*\\).*/\\1/p' '$M')\" -ge $(date +%s) ]" ||
    fail "restarted h1 does not refresh its metrics file"
dl_kill 1 TERM
[ ! -e "$M" ] || fail "metrics file still there after a clean stop: $(head -3 "$M")"
grep -q "cannot remove the metrics file" "$T/h1/log" && fail "removal failed: $(grep metrics "$T/h1/log")"
exit 0
