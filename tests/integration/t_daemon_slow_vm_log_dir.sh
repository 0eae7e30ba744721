#!/usr/bin/env bash
# A hung VM log directory never stalls the lease loop: vm_log_dir is on a
# FUSE directory that freezes every request (tests/tools/flstall --dir), and
# three VMs with --restart always are SIGKILLed, so the daemon starts each
# again and every starter meets the frozen directory (it opens the VM's log
# before it execs). Meanwhile the daemon keeps renewing its delta lease on
# time (renewals counted, the latest one late by less than 500 ms where a
# stalled loop would renew nothing), and once the directory thaws the three
# VMs run again.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
source "$FL_ROOT/tests/lib/flstall.sh"
metric() { "$FL" -s "$(dl_sock 1)" metrics -t 3000 2>/dev/null | awk -v k="$1" '$1 == k {print $2}'; }
runs() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
runs_is() { [ "$(runs "$1")" = "$2" ]; }

mkdir -p "$T/logback"; mount_flstall --dir "$T/logback"
DL_N=1; dl_format; dl_config 1 1 "vm_log_dir = $MNT/dir/logs"; dl_start 1
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 is not quorate"
printf '#!/bin/bash\necho $$ >> "$1"; exec sleep 100000\n' > "$T/vmp.sh"; chmod +x "$T/vmp.sh"
for i in 1 2 3; do
    truncate -s 1M "$T/v$i.img"
    FENCELOCK_SOCKET=$(dl_sock 1) "$FL" exec --vm "vm-s$i" --restart always --volume "$T/v$i.img" -- \
        "$T/vmp.sh" "$T/p$i" > "$T/exec$i.out" 2>&1 &
done
for i in 1 2 3; do wait_for 20 runs_is "$T/p$i" 1 || fail "vm-s$i did not start: $(cat "$T/exec$i.out")"; done

echo freeze > "$MNT/ctl"
for i in 1 2 3; do kill -9 "$(head -1 "$T/p$i")"; done
wait_for 15 eval '[ "$(grep -c "started its command line again" "$T/h1/log")" -ge 3 ]' ||
    fail "the daemon did not start the killed VMs again: $(tail -5 "$T/h1/log")"
r0=$(metric fencelock_renewals_total)
wait_for 10 eval '[ "$(metric fencelock_renewals_total)" -ge $((r0 + 4)) ]' ||
    fail "renewals stalled while the log directory hung: $r0 -> $(metric fencelock_renewals_total)"
grep -q "blocked=[1-9]" "$MNT/ctl" || fail "no starter waits in the frozen directory: $(cat "$MNT/ctl")"
for i in 1 2 3; do [ "$(runs "$T/p$i")" = 1 ] || fail "vm-s$i ran again through a frozen log directory"; done
late=$(metric 'fencelock_renewal_lateness_recent_seconds{quantile="1"}')
awk -v l="$late" 'BEGIN {exit !(l < 0.5)}' || fail "a renewal started $late s late while the log directory hung"
echo "renewals $r0 -> $(metric fencelock_renewals_total) while frozen, latest lateness max ${late} s; $(cat "$MNT/ctl")"

echo ok > "$MNT/ctl"
for i in 1 2 3; do wait_for 20 runs_is "$T/p$i" 2 || fail "vm-s$i did not run again after the thaw"; done
for i in 1 2 3; do [ -e "$T/logback/logs/vm-s$i.log" ] || fail "no log of vm-s$i in the thawed directory"; done
exit 0
