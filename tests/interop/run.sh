#!/usr/bin/env bash
# Interop suite: fencelock against the real sanlock (Debian's /usr/sbin/sanlock),
# plus the CLI's bad-input checks. Usage: tests/interop/run.sh BUILD
exec "$(dirname "$0")/../lib/suite.sh" "$(dirname "$0")" "$@"
