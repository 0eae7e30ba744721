#!/usr/bin/env bash
# tests/cluster in `make test`: the five fastest cluster scenarios of issue 7
# (about 1.5 min), through run-scenarios.sh (table, JSON in
# BUILD/cluster/scenarios-fast.json). All sixteen: `make test-cluster`.
# Without root (namespaces, nft, FUSE) every scenario is SKIPPED.
#   1 a host crashes            3 a host isolated for longer than P
#   6 the leader is isolated   13 a daemon paused for longer than D
#  16 a host added and another removed
build=${1:-build}
exec "$(dirname "$0")/run-scenarios.sh" "$build" --json "$build/cluster/scenarios-fast.json" 1 3 6 13 16
