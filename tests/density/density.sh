#!/usr/bin/env bash
# make test-density: the full-size density runs on three real fencelockd
# (loopback, io_timeout 1 s), not part of make test (minutes, and the whole
# machine). Usage: tests/density/density.sh BUILD [dense|failover]...
#   dense     DN_DENSE_N (default 1000) guarded VMs (sleep) on one host, the
#             first DN_FIRST_N (default 200) started at once within 10 s, the
#             rest at once after; status answering in < 100 ms throughout on
#             every host; per-VM costs printed (docs/operations.md, "Density");
#   failover  DN_FAILOVER_N (default 500) fakevm VMs on one host, which
#             crashes: all run on the two others within D + 3 s, no overlap on
#             any volume (vmcheck), survivors' renewal lateness p99 < 50 ms.
set -uo pipefail
build=${1:-build}; shift || true
FL_BUILD=$(cd "$build" && pwd) || exit 2
FL_ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
export FL_BUILD FL_ROOT
parts=("$@"); [ ${#parts[@]} -gt 0 ] || parts=(dense failover)
rc=0
for p in "${parts[@]}"; do
    echo "== density: $p"
    bash -c '
    source "$FL_ROOT/tests/lib/common.sh"
    source "$FL_ROOT/tests/integration/daemon_lib.sh"
    source "$FL_ROOT/tests/density/density_lib.sh"
    case $1 in
    dense) dn_dense "${DN_DENSE_N:-1000}" "${DN_FIRST_N:-200}" ;;
    failover) DN_KIND=fakevm; n=${DN_FAILOVER_N:-500}; dn_setup $((n + 16)); dn_failover "$n" ;;
    *) fail "unknown part $1 (dense, failover)" ;;
    esac' _ "$p" || rc=1
done
exit $rc
