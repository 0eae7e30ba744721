# shellcheck shell=bash
# Shared helpers of the cluster scenarios (tests/cluster/t_scen_*.sh):
# source after tests/lib/common.sh and tests/cluster/lib.sh, then sc_begin.
#
#   sc_begin ID TITLE EXPECTED    result bookkeeping, EXIT trap, environment check
#   sc_cluster N [KEY=VALUE...]   N hosts, one formatted shared device, a fencelockd
#                                 on each (T = 1 s, P = 5 s, recover_command =
#                                 scenario_vm.sh), waits until the cluster formed
#   sc_vm_start UID H             a fake VM (fakevm under fencelock exec) on host H,
#                                 its volume a LUN of its own mounted on every host
#   sc_end                        heals every fault, stops every host, runs vmcheck
#                                 on every volume (overlaps must be 0)
#   sc_pass                       the scenario's checks all held: exit 0
# Every scenario prints one line "SCENARIO-RESULT {json}" at exit, pass or
# fail (and appends it to $SC_RESULT_FILE when set): scenario, title,
# expected, observed, detection_ms, failover_ms, overlaps, vmcheck, result,
# duration_s, leftovers, logs. run-scenarios.sh turns those lines into the table.
#
# Times are CLOCK_BOOTTIME milliseconds of this shell (cl_now_ms), taken by
# polling every 100 ms: a measured time is at most ~150 ms late.

# SC_VMM=qemu runs every VM as a real one (QEMU, TCG, the test guest of
# tests/microvm) instead of fakevm as a process: same records, same checks.
SC_VMM=${SC_VMM:-fakevm}
case $SC_VMM in
    fakevm) SC_VM_SCRIPT=$FL_ROOT/tests/cluster/scenario_vm.sh; SC_VM_BOOT_S=15 ;;
    qemu) SC_VM_SCRIPT=$FL_ROOT/tests/cluster/scenario_guest.sh; SC_VM_BOOT_S=60 ;;
# SC_GUEST_FS=1 (the default with real VMs, when mkfs.ext4 and e2fsck exist)
# gives each guest an ext4 second volume; sc_end fails the scenario unless
# e2fsck -fn finds it clean (after replaying its journal, as a mount would).
    *) echo "SC_VMM is fakevm or qemu, not '$SC_VMM'" >&2; exit 2 ;;
esac
SC_GUEST_FS=${SC_GUEST_FS:-1}
command -v mkfs.ext4 >/dev/null && command -v e2fsck >/dev/null && command -v debugfs >/dev/null || SC_GUEST_FS=0
SC_FSCK=""
SC_FLD=$FL_BUILD/fencelockd
SC_ID=""; SC_TITLE=""; SC_EXPECTED=""; SC_OBSERVED=""; SC_WHY=""
SC_DETECT_MS=""; SC_FAILOVER_MS=""; SC_OVERLAPS=""; SC_VMCHECK=""
SC_VERDICT=""; SC_T0=0; SC_LOGS=""; SC_EVENTS=""
SC_VMS=()

# ---- result bookkeeping ------------------------------------------------------

# sc_note TEXT: one fact for the "observed" column (joined with "; ").
sc_note() { SC_OBSERVED=${SC_OBSERVED:+$SC_OBSERVED; }$*; echo "observed: $*"; }

fail() { SC_WHY=$*; echo "FAIL: $*" >&2; exit 1; }
skip() { SC_VERDICT=skip; SC_WHY=$*; echo "skipped: $*"; exit 77; }
sc_pass() { SC_VERDICT=pass; exit 0; }

sc_begin() {
    SC_ID=$1 SC_TITLE=$2 SC_EXPECTED=$3
    SC_T0=$(cl_now_ms)
    trap _sc_on_exit EXIT
    echo "scenario $SC_ID: $SC_TITLE; expected: $SC_EXPECTED"
    cl_check_env || skip "$CL_SKIP_REASON"
    [ -x "$SC_FLD" ] || skip "fencelockd not built"
    [ -x "$FL" ] && [ -x "$FL_BUILD/tools/fakevm" ] && [ -x "$FL_BUILD/tools/vmcheck" ] || fail "$FL_BUILD is not built"
    command -v jq >/dev/null || skip "jq missing"
    if [ "$SC_VMM" = qemu ]; then
        # 77: a piece this machine lacks (skip); anything else is a broken build.
        local why rc=0; why=$("$FL_ROOT/tests/microvm/build-guest.sh" "$FL_BUILD" 2>&1) || rc=$?
        [ "$rc" -eq 77 ] && skip "no test guest: $why"
        [ "$rc" -eq 0 ] || fail "the test guest does not build: $why"
        SC_TITLE+=" (real VMs)"
    fi
}

_sc_json_num() { if [[ "${1:-}" =~ ^[0-9]+$ ]]; then echo "$1"; else echo null; fi; }

# Runs last: after lib.sh's trap took the cluster down (it calls us then), or
# directly when no cluster was ever brought up.
_sc_on_exit() {
    local -; set +e +u +o pipefail
    local verdict=${SC_VERDICT:-fail} left="" dur line
    [ "$verdict" = pass ] || [ "$verdict" = skip ] || verdict=fail
    _SC_MARKING=1 # taking the cluster down is not part of the story
    if [ -n "$CL_ID" ]; then
        cl_down >/dev/null 2>&1
        left=$(cl_leftovers "$CL_ID")
        if [ -n "$left" ]; then
            echo "FAIL: run $CL_ID left behind: $left" >&2
            verdict=fail; SC_WHY=${SC_WHY:+$SC_WHY; }"left behind: $(echo "$left" | head -3 | tr '\n' ',')"
        fi
        [ "$verdict" != pass ] && [ -d "$CL_RUN" ] && SC_LOGS=$CL_RUN
    fi
    dur=$(( ($(cl_now_ms) - SC_T0) / 1000 ))
    local tl; tl=$(_sc_timeline); [ -n "$tl" ] || tl=null
    local evj; evj=$(jq -c . <<<"${SC_EVENTS:-null}" 2>/dev/null); [ -n "$evj" ] || evj=null
    # Through files: a large cluster's timeline exceeds the argument size limit.
    local tlf evf; tlf=$(mktemp); evf=$(mktemp)
    printf '%s' "$tl" >"$tlf"; printf '%s' "$evj" >"$evf"
    line=$(jq -cn --slurpfile tl "$tlf" --slurpfile ev "$evf" --arg id "$SC_ID" --arg name "$(basename "$0" .sh)" --arg title "$SC_TITLE" \
        --arg exp "$SC_EXPECTED" --arg obs "$SC_OBSERVED${SC_WHY:+ | ${verdict^^}: $SC_WHY}" \
        --argjson det "$(_sc_json_num "$SC_DETECT_MS")" --argjson fo "$(_sc_json_num "$SC_FAILOVER_MS")" \
        --argjson ov "$(_sc_json_num "$SC_OVERLAPS")" --arg vc "$SC_VMCHECK" --arg res "$verdict" \
        --argjson dur "$dur" --argjson left "$( [ -n "$left" ] && echo "$left" | wc -l || echo 0)" --arg logs "$SC_LOGS" \
        '{scenario: $id, name: $name, title: $title, expected: $exp, observed: $obs, detection_ms: $det,
          failover_ms: $fo, overlaps: $ov, vmcheck: $vc, result: $res, duration_s: $dur, leftovers: $left,
          logs: $logs, timeline: $tl[0], events: $ev[0]}')
    rm -f "$tlf" "$evf"
    echo "SCENARIO-RESULT $line"
    [ -n "${SC_RESULT_FILE:-}" ] && echo "$line" >>"$SC_RESULT_FILE"
    _fl_cleanup
    case $verdict in pass) exit 0 ;; skip) exit 77 ;; *) exit 1 ;; esac
}

# ---- the cluster -----------------------------------------------------------------

sc_sock() { echo "$(cl_dir "$1" run)/fencelockd.sock"; }
# sc_json H OP: host H's daemon's answer to `fencelock OP -o json`; returns 1
# only when there is none (the CLI's Nagios-style exit code says WARNING or
# CRITICAL when a host is not UP: an answer all the same).
sc_json() { local out; out=$("$FL" -s "$(sc_sock "$1")" "$2" -o json -t 1500 2>/dev/null); [ -n "$out" ] && echo "$out"; }

# sc_events H [ARGS...]: host H's `fencelock events -o json ARGS` (the
# cluster's decision history). sc_story H SINCE KIND V VM...: keeps host H's
# events from Raft index SINCE on in SC_EVENTS (the scenario's JSON:
# "events") and checks that they tell the story KIND (crash, partition) of
# host V and its VMs (tests/cluster/events_story.py); SC_STORY holds the
# story in one line, or what is missing.
sc_events() { "$FL" -s "$(sc_sock "$1")" events -o json -t 3000 "${@:2}" 2>/dev/null; }
SC_STORY=""
sc_story() {
    local h=$1 since=$2; shift 2
    SC_EVENTS=$(sc_events "$h" --since "@$since" | jq -c .)
    [ -n "$SC_EVENTS" ] || { SC_STORY="no fencelock events from h$h"; return 1; }
    SC_STORY=$(python3 "$FL_ROOT/tests/cluster/events_story.py" "$@" <<<"$SC_EVENTS")
}
# sc_events_last H: the index of the last event host H holds (0 if none).
sc_events_last() { sc_events "$1" | jq '[.events[].index] | max // 0'; }

# sc_start_daemon H [KEY=VALUE...]: (re)writes host H's config and starts fencelockd.
sc_start_daemon() {
    local h=$1; shift
    cl_spawn "$h" fencelockd "$SC_FLD" -c "$(cl_write_config "$h" "host.recover_command=$SC_VM_SCRIPT" "$@")" -f ||
        fail "cannot start fencelockd on host $h"
    cl_wait_until 10 test -S "$(sc_sock "$h")" ||
        fail "fencelockd on host $h has no control socket: $(tail -5 "$(cl_dir "$h" log)/fencelockd.log")"
}

# sc_cluster N [KEY=VALUE...]: see the top of this file. Extra keys go to every config.
sc_cluster() {
    local n=$1 h rc; shift
    SC_CFG_EXTRA=("$@")
    cl_up "$n" || fail "cl_up $n"
    truncate -s 64M "$CL_RUN/shared.img"
    "$FL" direct format --device "$CL_RUN/shared.img" --cluster "flcl-$CL_ID" --io-timeout "${CL_IO_TIMEOUT:-1}" --max-hosts "$(( n > 8 ? n : 8 ))" \
        --volume-slots 16 >"$CL_RUN/format.out" 2>&1 || fail "format: $(cat "$CL_RUN/format.out")"
    for h in $(cl_hosts); do
        cl_storage_up "$h" "$CL_RUN/shared.img"; rc=$?
        [ $rc -eq 77 ] && skip "cannot mount FUSE here"
        [ $rc -eq 0 ] || fail "cl_storage_up $h"
    done
    for h in $(cl_hosts); do sc_start_daemon "$h" "$@"; done
    # shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
    sc_wait_formed $(( 30 + n )) $(cl_hosts) || fail "the cluster did not form within $(( 30 + n )) s: $(sc_json 1 status)"
    # shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
    echo "cluster of $n formed in ${CL_WAITED_MS} ms, leader h$(sc_leader $(cl_hosts))"
}

# sc_leader HOSTS...: the leader that the first quorate host of HOSTS follows (0: none).
sc_leader() {
    local h s
    for h in "$@"; do
        s=$(sc_json "$h" status | jq -r 'if .quorate then (.leader // 0) else 0 end' 2>/dev/null)
        [ -n "$s" ] && [ "$s" != 0 ] && { echo "$s"; return 0; }
    done
    echo 0
}

# sc_formed HOSTS...: every host listed is quorate and follows one leader (one
# of them), and that leader sees every one of them UP.
sc_formed() {
    local l h s
    l=$(sc_json "$1" status | jq -r '.leader // 0' 2>/dev/null)
    [ -n "$l" ] && [ "$l" != 0 ] || return 1
    [[ " $* " == *" $l "* ]] || return 1
    for h in "$@"; do
        s=$(sc_json "$h" status | jq -r '"\(.quorate) \(.leader)"' 2>/dev/null)
        [ "$s" = "true $l" ] || return 1
    done
    s=$(sc_json "$l" status) || return 1
    for h in "$@"; do
        [ "$(jq -r --argjson h "$h" '.hosts[] | select(.id == $h) | .state' <<<"$s")" = UP ] || return 1
    done
}
sc_wait_formed() { local secs=$1; shift; cl_wait_until "$secs" sc_formed "$@"; }

# sc_state OBSERVER H: host H's state as OBSERVER's daemon reports it.
sc_state() {
    sc_json "$1" status | jq -r --argjson h "$2" '.hosts[]? | select(.id == $h) | .state' 2>/dev/null
}
# sc_leader_sees H STATE HOSTS...: the leader (found through HOSTS) reports H in STATE.
sc_leader_sees() {
    local h=$1 want=$2 l; shift 2
    l=$(sc_leader "$@"); [ "$l" != 0 ] || return 1
    [ "$(sc_state "$l" "$h")" = "$want" ]
}
# sc_fenced H: host H's own daemon reports itself fenced.
sc_fenced() { [ "$(sc_json "$1" status | jq -r '.fenced' 2>/dev/null)" = true ]; }
sc_quorate() { [ "$(sc_json "$1" status | jq -r '.quorate' 2>/dev/null)" = true ]; }

# ---- fake VMs ----------------------------------------------------------------------

# sc_vm_start UID H: UID's volume ($CL_RUN/UID.img, 4 MiB) mounted on every
# host as mount UID, then the VM started on host H; waits until it writes there.
sc_vm_start() {
    local uid=$1 h=$2 x rc
    [[ "$uid" =~ ^[A-Za-z0-9]+$ ]] || fail "sc_vm_start: uid '$uid' must be alphanumeric (it names a mount)"
    truncate -s 4M "$CL_RUN/$uid.img"
    for x in $(cl_hosts); do
        cl_storage_up "$x" "$CL_RUN/$uid.img" "$uid"; rc=$?
        [ $rc -eq 0 ] || fail "cl_storage_up $x $uid ($rc)"
    done
    if [ "$SC_VMM" = qemu ] && [ "$SC_GUEST_FS" = 1 ]; then
        # The guest's second volume: ext4 it keeps rewriting (sc_end fscks it).
        truncate -s 16M "$CL_RUN/${uid}fs.img"
        mkfs.ext4 -q -F "$CL_RUN/${uid}fs.img" || fail "mkfs.ext4 of ${uid}fs"
        for x in $(cl_hosts); do
            cl_storage_up "$x" "$CL_RUN/${uid}fs.img" "${uid}fs"; rc=$?
            [ $rc -eq 0 ] || fail "cl_storage_up $x ${uid}fs ($rc)"
        done
    fi
    SC_VMS+=("$uid")
    cl_spawn "$h" "vm-$uid" env "FENCELOCK_SOCKET=$(sc_sock "$h")" "$SC_VM_SCRIPT" "$uid" || fail "spawn $uid on $h"
    cl_wait_until "$SC_VM_BOOT_S" sc_vm_writing "$uid" "$h" ||
        fail "VM $uid did not start on host $h: $(tail -5 "$(cl_dir "$h" log)/vm-$uid.log")"
}

# Live writers of UID, one line each: "PID HOST": fakevm processes, or QEMU
# processes whose disk is UID's volume on host H (a process stuck in frozen
# I/O counts: it may still write).
sc_vm_procs() {
    local pid rest
    pgrep -af -- "^$FL_BUILD/tools/fakevm --volume $CL_RUN/h[0-9]+/mnt-$1/disk |^qemu-system-x86_64 .*file=$CL_RUN/h[0-9]+/mnt-$1/disk," 2>/dev/null |
        while read -r pid rest; do
            if [[ "$rest" =~ --host\ ([0-9]+) ]]; then echo "$pid ${BASH_REMATCH[1]}"
            elif [[ "$rest" =~ file=$CL_RUN/h([0-9]+)/mnt- ]]; then echo "$pid ${BASH_REMATCH[1]}"; fi
        done
}
# sc_vm_hosts UID: the hosts on which UID runs, space-separated, sorted (may repeat).
sc_vm_hosts() { sc_vm_procs "$1" | awk '{print $2}' | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# sc_vm_on UID H: UID runs on H and nowhere else.
sc_vm_on() { [ "$(sc_vm_hosts "$1")" = "$2" ]; }
# sc_vm_writing UID H: UID runs on H only and has written a record there.
sc_vm_writing() {
    sc_vm_on "$1" "$2" || return 1
    grep -qs '^it ' "$(cl_dir "$2")"/fakevm/fakevm-"$1"-h"$2"-*.log
}
# sc_vm_writing_now UID H: UID runs on H only and its newest start there has
# written (an older run's records on H do not count: after a restart on the
# same host, a real VM may still be booting).
sc_vm_writing_now() {
    local f
    sc_vm_on "$1" "$2" || return 1
    f=$(ls -t "$(cl_dir "$2")"/fakevm/fakevm-"$1"-h"$2"-*.log 2>/dev/null | head -1)
    [ -n "$f" ] && grep -qs '^it ' "$f"
}
# sc_vm_starts UID [H]: fakevm processes ever started for UID (on H).
sc_vm_starts() {
    local d n=0 f
    for d in "$CL_RUN"/h*/fakevm; do
        for f in "$d"/fakevm-"$1"-h${2:-[0-9]*}-*.log; do [ -e "$f" ] && n=$((n + 1)); done
    done
    echo "$n"
}
# sc_vm_moved UID FROM: UID runs exactly once, on a host other than FROM, and writes.
sc_vm_moved() {
    local h; h=$(sc_vm_hosts "$1")
    [[ "$h" =~ ^[0-9]+$ ]] && [ "$h" != "$2" ] && sc_vm_writing "$1" "$h"
}
# sc_all_vms_once: every VM started so far runs exactly once (on any host).
sc_all_vms_once() {
    local u
    for u in "${SC_VMS[@]}"; do [[ "$(sc_vm_hosts "$u")" =~ ^[0-9]+$ ]] || return 1; done
}
# sc_placement: "uid@host ..." for every VM (for notes and logs).
sc_placement() { local u s=""; for u in "${SC_VMS[@]}"; do s+="$u@h$(sc_vm_hosts "$u" | tr ' ' ',') "; done; echo "${s% }"; }
# sc_total_starts: fakevm processes ever started, over every VM.
sc_total_starts() { local u n=0; for u in "${SC_VMS[@]}"; do n=$((n + $(sc_vm_starts "$u"))); done; echo "$n"; }

# sc_no_second_writer: fails the scenario the moment any VM runs on two hosts.
sc_no_second_writer() {
    local u c
    for u in "${SC_VMS[@]}"; do
        c=$(sc_vm_procs "$u" | wc -l)
        [ "$c" -le 1 ] || fail "VM $u runs $c times at once: on hosts $(sc_vm_hosts "$u")"
    done
}

# sc_watch SECS CMD...: like cl_wait_until, but checks sc_no_second_writer at
# every poll (100 ms); CL_WAITED_MS holds the time waited.
sc_watch() {
    local secs=$1 start deadline now
    shift
    start=$(cl_now_ms); deadline=$(( start + $(_cl_secs_to_ms "$secs") ))
    while :; do
        sc_no_second_writer
        if "$@"; then CL_WAITED_MS=$(( $(cl_now_ms) - start )); return 0; fi
        now=$(cl_now_ms)
        if [ "$now" -ge "$deadline" ]; then CL_WAITED_MS=$(( now - start )); return 1; fi
        sleep 0.1
    done
}
# sc_hold SECS: SECS of watching (no VM may run twice meanwhile).
sc_hold() { sc_watch "$1" false; return 0; }
# sc_hold_until MS: watching until cl_now_ms reaches MS.
sc_hold_until() {
    local left=$(( $1 - $(cl_now_ms) ))
    [ "$left" -gt 0 ] && sc_hold "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
    return 0
}

# ---- the end -------------------------------------------------------------------------

# sc_end: heals the network, unfreezes every mount (writes held in a frozen
# path land now: vmcheck must see them), SIGKILLs every host, then vmcheck on
# every VM volume with every host's fakevm logs. Sets SC_OVERLAPS and
# SC_VMCHECK; fails the scenario on any overlap or corrupt sector.
sc_end() {
    local h u out v n total=0 bad=""
    local -a logs=()
    cl_heal
    for h in $(cl_hosts); do cl_storage_ok "$h" 2>/dev/null; done
    sleep 0.3
    for h in $(cl_hosts); do cl_host_crash "$h" >/dev/null 2>&1; done
    for h in $(cl_hosts); do [ -d "$(cl_dir "$h")/fakevm" ] && logs+=("$(cl_dir "$h")/fakevm"); done
    SC_VMCHECK=""
    for u in "${SC_VMS[@]}"; do
        out=$("$FL_BUILD/tools/vmcheck" --volume "$CL_RUN/$u.img" --logs "${logs[@]}" -o json 2>"$CL_RUN/vmcheck-$u.err")
        v=$(jq -r '.verdict' <<<"$out" 2>/dev/null); n=$(jq -r '.overlap_count' <<<"$out" 2>/dev/null)
        [[ "$n" =~ ^[0-9]+$ ]] || { n=0; v=${v:-error}; }
        total=$((total + n))
        SC_VMCHECK+="$u:${v:-error}($(jq -r '.writers | length' <<<"$out" 2>/dev/null)w) "
        echo "$out" >"$CL_RUN/vmcheck-$u.json"
        [ "$v" = clean ] || bad+="$u: $v $(jq -c '[.overlaps[]?.evidence, .corrupt[]?] | .[0:2]' <<<"$out" 2>/dev/null) $(head -c 300 "$CL_RUN/vmcheck-$u.err") "
    done
    SC_VMCHECK=${SC_VMCHECK% }
    SC_OVERLAPS=$total
    echo "vmcheck: $SC_VMCHECK; overlaps $total"
    [ -z "$bad" ] || fail "vmcheck: $bad"
    sc_fsck
}

# sc_fsck: every guest's ext4 volume (SC_GUEST_FS) as a new host would mount
# it: a copy, its journal replayed, then e2fsck -fn must find it clean and
# the guest's files there (it wrote). Sets SC_FSCK; fails on the first bad one.
sc_fsck() {
    local u img c rc files
    for u in "${SC_VMS[@]}"; do
        img=$CL_RUN/${u}fs.img
        [ -e "$img" ] || continue
        c=$CL_RUN/fsck-$u.img
        cp --sparse=always "$img" "$c"
        e2fsck -E journal_only -y "$c" >"$CL_RUN/fsck-$u.log" 2>&1
        e2fsck -fn "$c" >>"$CL_RUN/fsck-$u.log" 2>&1; rc=$?
        files=$(debugfs -R 'ls /' "$c" 2>/dev/null | grep -oE '\bf[0-7]\b' | wc -l)
        SC_FSCK+="$u:$([ $rc = 0 ] && echo clean || echo "rc=$rc"),${files}f "
        rm -f "$c"
        [ "$rc" = 0 ] || { SC_FSCK=${SC_FSCK% }; sc_note "fsck: $SC_FSCK"; fail "e2fsck -fn of ${u}fs: rc $rc: $(grep -vE '^(Pass|e2fsck|$)' "$CL_RUN/fsck-$u.log" | head -5 | tr '\n' ' ')"; }
        [ "$files" -gt 0 ] || { sc_note "fsck: $SC_FSCK"; fail "the guest of $u never wrote its ext4 volume"; }
    done
    SC_FSCK=${SC_FSCK% }
    [ -z "$SC_FSCK" ] || sc_note "fsck after the failovers: $SC_FSCK"
}

# ---- the common shape: a victim host with two VMs, a bystander with one ----------

# sc_victim_setup leader|follower: a cluster of 3, V = the leader or a
# follower, O = another host; vm1 and vm2 on V, vm3 on O. Sets V, O, OTHERS
# (every host but V), SC_STARTS0 (fakevm starts so far).
sc_victim_setup() {
    sc_cluster 3
    local l; l=$(sc_leader 1 2 3)
    if [ "$1" = leader ]; then V=$l; else V=$(( l % 3 + 1 )); fi
    O=$(( V % 3 + 1 )); [ "$O" = "$l" ] && [ "$1" != leader ] && O=$(( O % 3 + 1 ))
    sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"; sc_vm_start vm3 "$O"
    sc_hold 1
    OTHERS=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')
    SC_STARTS0=$(sc_total_starts)
}
# sc_victim_vms_moved: vm1 and vm2 run once each, not on V.
sc_victim_vms_moved() { sc_vm_moved vm1 "$V" && sc_vm_moved vm2 "$V"; }
# sc_victim_rejoined SECS: after the fault ended, every host is UP and
# quorate within SECS, V is not fenced, and over 4 more seconds V starts no
# moved VM again, every VM runs once, vm3 stayed on O. Notes the time.
sc_victim_rejoined() {
    # shellcheck disable=SC2046
    # shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
    sc_watch "$1" sc_formed $(cl_hosts) || fail "h$V did not rejoin within $1 s: $(sc_json "$V" status | jq -c '{quorate,fenced,lease_valid,leader}')"
    local back=$CL_WAITED_MS
    sc_watch 10 eval '! sc_fenced "$V"' || fail "h$V still fenced 10 s after it rejoined"
    sc_hold 4
    [ "$(sc_vm_starts vm1 "$V")" -le 1 ] && [ "$(sc_vm_starts vm2 "$V")" -le 1 ] || fail "h$V started a moved VM again"
    sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
    sc_vm_on vm3 "$O" || fail "vm3 moved from h$O: $(sc_placement)"
    sc_note "h$V rejoined after $back ms, started nothing; $(sc_placement)"
}

# sc_witness: the host holding the witness lease (the disk voter's server),
# read from the shared device with `fencelock direct dump` (0: none).
sc_witness() {
    local w
    w=$("$FL" direct dump "$CL_RUN/shared.img" -o json 2>/dev/null |
        jq -r '[.fencelock.leases_in_use[]? | select(.name == "__witness" and .held) | .owner_id][0] // 0' 2>/dev/null)
    echo "${w:-0}"
}

# Scenarios 4 and 5: a host cut off in one direction (ISOLATE is cl_isolate_in
# or cl_isolate_out) for longer than P. Never two writers: it is fenced (by
# itself on losing quorum, or by the leader's poison pill) and FENCED in the
# leader's view, its VMs run on the others once, the rest keeps its leader;
# after the heal it rejoins and starts none of them again.
# sc_one_way_cut NUM TITLE ISOLATE
sc_one_way_cut() {
	sc_begin "$1" "$2" "fenced after P (FENCED seen by the leader), its VMs move once, no second writer; rejoins, restarts nothing"

	sc_victim_setup follower
	L0=$(sc_leader 1 2 3)
	not_up() { local s; s=$(sc_state "$(sc_leader $OTHERS)" "$V"); [ -n "$s" ] && [ "$s" != UP ]; }
	t0=$(cl_now_ms)
	"$3" "$V"
	sc_watch 10 not_up || fail "the leader still sees h$V UP 10 s into the fault"
	SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
	seen=$(sc_state "$(sc_leader $OTHERS)" "$V")
	# shellcheck disable=SC2086
	sc_watch 25 sc_leader_sees "$V" FENCED $OTHERS || fail "h$V not FENCED in the leader's view: $(sc_json "$(sc_leader $OTHERS)" status | jq -c .hosts)"
	fenced_ms=$(( $(cl_now_ms) - t0 ))
	sc_watch 25 sc_victim_vms_moved || fail "VMs of h$V not running elsewhere: $(sc_placement)"
	SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
	L1=$(sc_leader $OTHERS)
	sc_note "leader saw h$V $seen after $SC_DETECT_MS ms, FENCED after $fenced_ms ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms; leader h$L0 -> h$L1"
	[ "$SC_FAILOVER_MS" -ge 5000 ] || fail "VMs moved after $SC_FAILOVER_MS ms: sooner than P"
	cl_heal
	sc_victim_rejoined 30
	sc_end
	sc_pass
}

# ---- the timeline ------------------------------------------------------------------
# Every fault a scenario injects or heals through lib.sh is noted with its
# time in $CL_RUN/timeline.events ("BOOTTIME_MS FUNCTION ARGS"); at exit,
# tests/cluster/timeline.py reads it with the daemons' logs (when each host
# saw what) and the fakevm logs (each VM's writes) into the scenario's JSON
# ("timeline") and $FL_BUILD/cluster/timeline-NAME.json, which
# run-scenarios.sh draws after the run (build/cluster/timeline-NAME.png).
# Calls nested in a noted one (cl_isolate's blocks, sc_end's crashes) are not
# noted again.
_SC_MARKING=0
_sc_mark() {
    [ -n "${CL_RUN:-}" ] && [ -d "$CL_RUN" ] || return 0
    echo "$(cl_now_ms) $*" >>"$CL_RUN/timeline.events"
}
_sc_wrap_marked() {
    local f
    for f in "$@"; do
        declare -F "$f" >/dev/null || continue
        eval "_sc_orig_$(declare -f "$f")"
        eval "$f() { local _rc; if [ \"\$_SC_MARKING\" = 0 ]; then _sc_mark $f \"\$*\"; fi
                     _SC_MARKING=\$((_SC_MARKING + 1)); _sc_orig_$f \"\$@\"; _rc=\$?
                     _SC_MARKING=\$((_SC_MARKING - 1)); return \$_rc; }"
    done
}
_sc_wrap_marked cl_host_crash cl_isolate cl_isolate_in cl_isolate_out cl_cut cl_uncut cl_split cl_heal \
    cl_flap cl_storage_freeze cl_storage_unfreeze cl_storage_fail cl_storage_ok cl_storage_down \
    cl_pause cl_resume cl_restart cl_restart_all cl_stop sc_end

# _sc_timeline_save: reads this run's timeline (after cl_down, before lib.sh
# removes the run directory) into $SC_TL_FILE and
# $FL_BUILD/cluster/timeline-NAME.json.
SC_TL_FILE=${T:-/tmp}/sc-timeline.$$.json
_sc_timeline_save() {
    [ -n "${CL_RUN:-}" ] && [ -d "$CL_RUN" ] || return 0
    local name; name=$(basename "$0" .sh)
    [ "$SC_VMM" = qemu ] && name+=-microvm
    timeout 20 python3 "$FL_ROOT/tests/cluster/timeline.py" collect --run "$CL_RUN" \
        --hosts "$(find "$CL_RUN" -maxdepth 1 -name 'h[0-9]*' -type d | wc -l)" --vms "${SC_VMS[*]}" \
        >"$SC_TL_FILE" 2>"$CL_RUN/timeline.err" || { rm -f "$SC_TL_FILE"; return 0; }
    mkdir -p "$FL_BUILD/cluster"
    jq -c --arg id "$SC_ID" --arg title "$SC_TITLE" '{scenario: $id, title: $title, timeline: .}' "$SC_TL_FILE" \
        >"$FL_BUILD/cluster/timeline-$name.json" 2>/dev/null || rm -f "$SC_TL_FILE"
}
eval "_sc_orig_$(declare -f cl_down)"
cl_down() {
    local rc; _SC_MARKING=$((_SC_MARKING + 1)) # taking the cluster down is not part of the story
    _sc_orig_cl_down; rc=$?
    _SC_MARKING=$((_SC_MARKING - 1))
    _sc_timeline_save
    return $rc
}
# _sc_timeline: the saved timeline as JSON (nothing when there was no cluster).
_sc_timeline() { [ -s "$SC_TL_FILE" ] && jq -c . "$SC_TL_FILE" 2>/dev/null; rm -f "$SC_TL_FILE"; return 0; }
