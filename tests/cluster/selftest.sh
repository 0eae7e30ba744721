#!/usr/bin/env bash
# Runs the harness self-tests (tests/cluster/t_harness_*.sh) through the suite
# runner: tests/cluster/selftest.sh [BUILD]. Needs root (namespaces, nft, FUSE).
FL_SUITE_GLOB='t_harness_*.sh' exec "$(dirname "$0")/../lib/suite.sh" "$(dirname "$0")" "$@"
