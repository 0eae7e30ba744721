#!/usr/bin/env bash
# A re-run of a registered spec runs as the uid that registered it, never as
# root: uid 65534, a member of the control group, starts a VM under
# `fencelock exec`; the daemon is stopped (SIGTERM: it leaves its VMs to
# their guards) and the wrapper killed (the VM dies with it), and the daemon
# started again finds the VM placed here with no wrapper: it runs the
# registered command line again, and that run is uid 65534 (the VM writes
# its uid), not 0, in a transient scope of its own (systemd-run --scope; a
# stand-in here).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to run a client as another uid"
command -v setpriv >/dev/null || skip "setpriv missing (util-linux)"
as_member() { setpriv --reuid=65534 --regid=65534 --groups=4242 "$@"; }
chmod 0755 "$T"
as_member test -x "$FL" || skip "$FL is not executable by uid 65534 here"

dl_format
DL_N=1
dl_config 1 1 "control_group = 4242"
dl_start 1
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 not quorate alone"
touch "$T/vol-o.img" "$T/owner.log"
chmod 0666 "$T/vol-o.img" "$T/owner.log"
cat > "$T/vm-o.sh" <<EOS
#!/bin/sh
echo "run \$(id -u)" >> "$T/owner.log"
exec sleep 600
EOS
chmod 0755 "$T/vm-o.sh"
# setpriv itself (not the function, whose subshell would be $!) becomes the wrapper.
FENCELOCK_SOCKET=$(dl_sock 1) setpriv --reuid=65534 --regid=65534 --groups=4242 \
    "$FL" exec --vm vm-o --volume "$T/vol-o.img" -- "$T/vm-o.sh" > "$T/exec-o.out" 2>&1 &
W=$!
wait_for 10 grep -q "^run 65534$" "$T/owner.log" || fail "vm-o did not start as 65534: $(cat "$T/exec-o.out" "$T/owner.log")"
dl_kill 1 TERM
kill -9 "$W"; wait "$W" 2>/dev/null
# The re-run goes through systemd-run --scope (a stand-in here: systemd is not
# PID 1 in the test host); it records its arguments and execs the command.
touch "$T/scope.log"; chmod 0666 "$T/scope.log"
cat > "$T/systemd-run" <<EOS
#!/bin/sh
echo "\$*" >> "$T/scope.log"
while [ \$# -gt 0 ] && [ "\$1" != -- ]; do shift; done
shift
exec "\$@"
EOS
chmod 0755 "$T/systemd-run"
FENCELOCK_SYSTEMD_RUN=$T/systemd-run dl_start 1
wait_for 60 eval '[ "$(grep -c "^run " "$T/owner.log")" -ge 2 ]' ||
    fail "vm-o was not run again: $(grep -v "debug" "$T/h1/log" | tail -30)"
grep -q "runs again as uid 65534 gid 65534" "$T/h1/log" || fail "no re-run as the owner in the log"
grep -qE -- "^--scope --quiet --collect --slice=machine.slice --unit=fencelock-vm-vm-o-[0-9]+-[0-9]+ --description=fencelock VM vm-o -- $FL exec --vm vm-o " "$T/scope.log" ||
    fail "the re-run did not go through systemd-run --scope: $(cat "$T/scope.log")"
[ "$(grep -c "^run 65534$" "$T/owner.log")" -eq "$(grep -c "^run " "$T/owner.log")" ] ||
    fail "a run as another uid: $(cat "$T/owner.log")"
exit 0
