#!/usr/bin/env bash
# Density, small: DN_N (default 40) fake VMs (fakevm, each writing its own
# volume) started at once under `fencelock exec` on h1 of three hosts; then h1
# crashes (its daemon, wrappers and VMs SIGKILLed). Every VM must run again on
# h2 or h3 within D + 3 s (9 s at io_timeout 1 s) of the crash, spread over
# both, with vmcheck finding no overlap on any volume, the survivors' renewal
# lateness p99 under 50 ms meanwhile, and `status` answering every monitoring
# request throughout. make test-density runs the full size (tests/density).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
source "$FL_ROOT/tests/density/density_lib.sh"
n=${DN_N:-40}
[ -x "$DN_FAKEVM" ] || fail "$DN_FAKEVM not built"
t_start=$(now_ms)
dn_setup $((n + 8))
dn_failover "$n"
dn_probe_stop
for i in 1 2 3; do
    read -r c p50 p99 max fails <<< "$(dn_probe_stats "$i" "$t_start")"
    echo "status h$i: $c answers, p50 $p50 ms, p99 $p99 ms, max $max ms, $fails failed"
    [ "$i" = 1 ] && continue # h1 crashed: its requests fail from then on
    [ "$c" -gt 0 ] && [ "$fails" = 0 ] || fail "h$i: $fails of its status requests failed"
done
exit 0
