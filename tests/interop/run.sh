#!/usr/bin/env bash
exec "$(dirname "$0")/../lib/suite.sh" "$(dirname "$0")" "$@"
