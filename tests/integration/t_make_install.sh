#!/usr/bin/env bash
# `make install DESTDIR=... PREFIX=/usr` lays out a complete package: the
# programs, the unit with ExecStart in PREFIX/bin, the example configuration
# naming the recover helper that is installed there (and which re-runs a
# spec under `fencelock exec` with every argument intact), bash completion
# that completes commands and -o values, the man pages covering every
# command `fencelock --help` lists, the Prometheus rules, the Grafana
# dashboard, the documentation and pkg-config. The example configuration is
# accepted by fencelockd's parser (its start fails later, on the device).
source "$FL_ROOT/tests/lib/common.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

root=$T/root
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -C "$FL_ROOT" BUILD="$FL_BUILD" \
    DESTDIR="$root" PREFIX=/usr install > "$T/install.out" 2>&1 || fail "make install: $(cat "$T/install.out")"
for f in usr/bin/fencelock usr/bin/fencelockd usr/libexec/fencelock/recover; do
    [ -x "$root/$f" ] || fail "$f missing or not executable"
done
for f in usr/lib/systemd/system/fencelockd.service etc/fencelock/fencelock.conf.example \
         usr/share/bash-completion/completions/fencelock usr/share/bash-completion/completions/fencelockd \
         usr/share/man/man1/fencelock.1 usr/share/man/man8/fencelockd.8 \
         usr/share/fencelock/prometheus/fencelock-alerts.yml usr/share/fencelock/grafana/fencelock-dashboard.json \
         usr/share/doc/fencelock/operations.md usr/share/doc/fencelock/README.md usr/lib/pkgconfig/fencelock.pc; do
    [ -e "$root/$f" ] || fail "$f not installed: $(cd "$root" && find . | sort)"
done
[ ! -e "$root/etc/fencelock/fencelock.conf" ] || fail "make install wrote a live configuration"
unit=$root/usr/lib/systemd/system/fencelockd.service
grep -qx 'ExecStart=/usr/bin/fencelockd -c /etc/fencelock/fencelock.conf -f' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
ex=$root/etc/fencelock/fencelock.conf.example
grep -qx 'recover_command = /usr/libexec/fencelock/recover' "$ex" || fail "example config: $(grep recover "$ex")"
grep -q '@[A-Z]*@' "$ex" "$root/usr/libexec/fencelock/recover" "$unit" && fail "an unsubstituted @...@ is installed"
grep -q '/usr/bin/fencelock' "$root/usr/libexec/fencelock/recover" || fail "recover helper does not name /usr/bin/fencelock"
json_pp < "$root/usr/share/fencelock/grafana/fencelock-dashboard.json" > /dev/null 2>&1 ||
    jq . "$root/usr/share/fencelock/grafana/fencelock-dashboard.json" > /dev/null || fail "dashboard is not JSON"

# The example configuration parses: with a real key, fencelockd gets past the
# parser and fails on the (absent) device, naming it.
"$FL" keygen --key-file "$T/authkey" > /dev/null || fail "keygen"
sed -e "s|^key_file = .*|key_file = $T/authkey|" -e "s|^state_dir = .*|state_dir = $T/state|" \
    -e "s|^run_dir = .*|run_dir = $T/run|" -e "s|^control_socket = .*|control_socket = $T/ctl.sock|" "$ex" > "$T/fl.conf"
out=$("$root/usr/bin/fencelockd" -c "$T/fl.conf" -f 2>&1); rc=$?
[ "$rc" = 1 ] || fail "fencelockd on the example config exited $rc: $out"
grep -q 'wwn-0x5000c500a1b2c3d4' <<<"$out" || fail "fencelockd did not get to the device: $out"
grep -qE 'fl\.conf:[0-9]+:' <<<"$out" && fail "the example config has an error: $out"

# The recover helper re-runs a spec with every argument intact (a stub fencelock records them).
printf '#!/bin/sh\nfor a; do printf "[%%s]" "$a"; done; echo\n' > "$T/flstub"; chmod +x "$T/flstub"
spec='{"uid":"vm1","wrapper":"fencelock exec","restart":"never","argv":["/bin/vm","a b","*"],
       "volumes":[{"path":"/dev/x y","ro":true,"id":"wwn:1"},{"path":"/d2","ro":false}],"cwd":"/","mode":"plain"}'
FENCELOCK_BIN=$T/flstub FENCELOCK_RECOVER_DIR=$T/none FENCELOCK_RECOVER_LOG_DIR=$T/log \
    "$root/usr/libexec/fencelock/recover" vm1 <<<"$spec" || fail "recover helper failed"
want='[exec][--vm][vm1][--restart][never][--volume][/dev/x y:ro:id=wwn:1][--volume][/d2][--][/bin/vm][a b][*]'
for _ in $(seq 50); do [ -s "$T/log/vm1.log" ] && break; sleep 0.1; done
[ "$(cat "$T/log/vm1.log")" = "$want" ] || fail "recover ran: $(cat "$T/log/vm1.log" 2>&1)"
mkdir -p "$T/hooks"; printf '#!/bin/sh\necho "hook $1 $(cat)" > %s/hook.out\n' "$T" > "$T/hooks/vm2"; chmod +x "$T/hooks/vm2"
FENCELOCK_RECOVER_DIR=$T/hooks "$root/usr/libexec/fencelock/recover" vm2 <<<'{}' || fail "hook failed"
[ "$(cat "$T/hook.out")" = "hook vm2 {}" ] || fail "recover.d hook: $(cat "$T/hook.out")"

# Bash completion: commands, then -o values, from the installed binary.
# shellcheck disable=SC1091
complete_words() { bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _fencelock; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$root/usr/share/bash-completion/completions/fencelock" "$@"; }
got=$(complete_words "$root/usr/bin/fencelock" st)
grep -qx status <<<"$got" || fail "completion of 'st': $got"
got=$(complete_words "$root/usr/bin/fencelock" hosts -o "")
[ "$(sort <<<"$got" | tr '\n' ' ')" = "json text wide " ] || fail "completion of -o: $got"
got=$(complete_words "$root/usr/bin/fencelock" direct fo)
grep -qx format <<<"$got" || fail "completion of 'direct fo': $got"

# The man page names every command `fencelock --help` lists.
man1=$root/usr/share/man/man1/fencelock.1
cmds=$("$FL" --help | sed -n 's/^  \([a-z][a-z|]*\) .*/\1/p' | tr '|' '\n' | sort -u | grep -vx help)
for c in $cmds; do
    grep -qE "^\.(B|BR|BI|SS) .*\b$c\b|^\.B fencelock $c\b" "$man1" || fail "fencelock(1) does not describe '$c'"
done
for w in "host add" "host remove" "vm inquire" "vm release" "vm unregister" "vm clear" "\\-\\-version"; do
    grep -qF -- "$w" "$man1" || fail "fencelock(1) lacks '$w'"
done
exit 0
