#!/usr/bin/env bash
# tests/cluster in `make test`: the five fastest cluster scenarios (about
# 1.5 min) with fake VMs, then scenario 1 (a host crashes) with real VMs
# (QEMU guests, tests/microvm), through run-scenarios.sh (tables, JSON in
# BUILD/cluster/scenarios-fast.json and scenarios-microvm-fast.json). All
# sixteen: `make test-cluster`; the real-VM set: `make test-microvm`.
# Without root (namespaces, nft, FUSE) every scenario is SKIPPED.
#   1 a host crashes            3 a host isolated for longer than P
#   6 the leader is isolated   13 a daemon paused for longer than D
#  16 a host added and another removed
build=${1:-build}
here=$(dirname "$0")
pass=0 failn=0 skipn=0 rc=0
count() {  # adds the "cluster-scenarios: N passed, N failed, N skipped" line of one run
    local line; line=$(grep -E '^cluster-scenarios: ' "$1" | tail -1)
    pass=$((pass + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")))
    failn=$((failn + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
    skipn=$((skipn + $(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")))
}
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$here/run-scenarios.sh" "$build" --json "$build/cluster/scenarios-fast.json" 1 3 6 13 16 | tee "$out"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
count "$out"
SC_VMM=qemu "$here/run-scenarios.sh" "$build" --json "$build/cluster/scenarios-microvm-fast.json" 1 | tee "$out"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
count "$out"
echo "cluster: $pass passed, $failn failed, $skipn skipped"
[ $rc -eq 0 ] && [ $failn -eq 0 ]
