#!/usr/bin/env bash
# Runs the harness self-tests (tests/cluster/t_harness_*.sh) through the suite
# runner: tests/cluster/selftest.sh [BUILD]. Needs root (namespaces, nft, FUSE).
exec "$(dirname "$0")/../lib/suite.sh" "$(dirname "$0")" "$@"
