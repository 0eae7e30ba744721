#!/usr/bin/env bash
# The simulator's suite in `make test`: a fixed seed sweep with every nemesis,
# blips only (I4), determinism of a replay, and the mutation check.
exec "$(dirname "$0")/../lib/suite.sh" "$(dirname "$0")" "$@"
