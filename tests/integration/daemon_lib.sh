# shellcheck shell=bash disable=SC2034,SC2120
# Helpers for the fencelockd suites (t_daemon_*.sh) and the demo: source after
# tests/lib/common.sh. A cluster of real daemons on this machine: loopback
# ports, a file-backed shared device in $T (under the build dir: O_DIRECT
# needs a real filesystem), one directory per host ($T/hN: config, state,
# run dir, control socket, log), and a fake VM ($T/vm.sh) that appends one
# line per 0.2 s to a log, naming the host it runs on (from FENCELOCK_SOCKET).
# Everything started here is ended on exit: the daemons by pid, and every
# process whose command line names $T (the wrappers and fake VMs the daemons
# re-run live in sessions of their own) by pid from /proc.
FLD=$FL_BUILD/fencelockd
command -v python3 >/dev/null || fail "python3 missing (make deps)"
[ -x "$FLD" ] || fail "$FLD not built (make BUILD=$FL_BUILD all)"
[ -x "$FL" ] || fail "$FL not built (make BUILD=$FL_BUILD all)"
DL_IMG=$T/shared.img
DL_BASE_PORT=${DL_BASE_PORT:-$((20000 + ($$ * 13) % 12000))}
declare -a DPID=()
DL_N=0

# Pids of every process whose command line mentions $T (not ourselves).
dl_pids_of_T() {
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
        { tr '\0' ' ' < "/proc/$p/cmdline" | grep -qF "$T/" && echo "$p"; } 2>/dev/null
    done
    return 0
}
dl_cleanup() {
    local i p
    for i in "${!DPID[@]}"; do
        [ -n "${DPID[$i]}" ] && { kill -CONT "${DPID[$i]}"; kill -9 "${DPID[$i]}"; } 2>/dev/null
    done
    for _ in 1 2 3; do
        for p in $(dl_pids_of_T); do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
        sleep 0.1
    done
    return 0 # no bare 'wait': it would also wait for a caller's process substitution
}
on_exit dl_cleanup

# On failure, the end of every daemon's log and of every exec's output (the
# suite runner shows the last lines of a failing test).
fail() {
    local f
    for f in "$T"/h*/log "$T"/exec-*.out; do
        [ -s "$f" ] || continue
        echo "--- ${f#$T/}" >&2
        grep -v ' info: .*lease of \| debug: ' "$f" | tail -8 >&2
    done
    echo "FAIL: $*" >&2
    exit 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# wait_for SECONDS CMD...: polls CMD every 0.1 s; fails after SECONDS.
wait_for() { local s=$1; shift; local n=$((s * 10))
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

# dl_format [NAME]: a formatted shared device for cluster NAME (default "t"),
# with DL_VOLUME_SLOTS volume lease slots (default 16) on DL_IMG_MB MiB (default 32),
# and io_timeout DL_T (default 1 s; a duration: 1, 1s, 500ms).
dl_format() {
    rm -f "$DL_IMG"; truncate -s "${DL_IMG_MB:-32}M" "$DL_IMG"
    "$FL" direct format --device "$DL_IMG" --cluster "${1:-t}" --io-timeout "${DL_T:-1}" --max-hosts 8 --volume-slots "${DL_VOLUME_SLOTS:-16}" \
        > "$T/format.out" 2>&1 || fail "format failed: $(cat "$T/format.out")"
}

dl_port() { echo $((DL_BASE_PORT + $1)); }
dl_sock() { echo "$T/h$1/ctl.sock"; }

# dl_key PATH: a cluster key at PATH (fencelock keygen), made once.
DL_KEY=${DL_KEY:-$T/authkey}
dl_key() { [ -f "$1" ] || "$FL" keygen --key-file "$1" > /dev/null || fail "fencelock keygen --output $1 failed"; }

# dl_config N I [extra [host] lines]: writes $T/hI/fencelock.conf for host I of N,
# with the cluster key $DL_KEY.
dl_config() {
    local n=$1 i=$2; shift 2
    mkdir -p "$T/h$i"
    dl_key "$DL_KEY"
    { echo "[cluster]"; echo "name = ${DL_CLUSTER:-t}"; echo "device = $DL_IMG"
      echo "io_timeout = ${DL_T:-1}"; echo "partition_tolerance = ${DL_P:-5}"
      echo "key_file = $DL_KEY"
      echo "[host]"; echo "id = $i"; echo "name = h$i"; echo "listen = 127.0.0.1:$(dl_port "$i")"
      echo "control_socket = $(dl_sock "$i")"; echo "state_dir = $T/h$i/state"; echo "run_dir = $T/h$i/run"
      echo "log_level = ${DL_LOG_LEVEL:-info}"
      for l in "$@"; do echo "$l"; done
      echo "[peers]"
      for j in $(seq "$n"); do echo "$j = 127.0.0.1:$(dl_port "$j")"; done
    } > "$T/h$i/fencelock.conf"
}

# dl_setup N: format the device and write N configs.
dl_setup() { DL_N=$1; dl_format; for i in $(seq "$1"); do dl_config "$1" "$i"; done; }

# dl_start I: starts host I's daemon in the foreground (log in $T/hI/log).
dl_start() {
    local i=$1
    "$FLD" -c "$T/h$i/fencelock.conf" -f >> "$T/h$i/log" 2>&1 &
    DPID[$i]=$!
    wait_for 10 test -S "$(dl_sock "$i")" || fail "fencelockd h$i did not start: $(tail -5 "$T/h$i/log")"
}
dl_start_all() { for i in $(seq "$DL_N"); do dl_start "$i"; done; }
# dl_kill I [SIG]: signals host I's daemon (default SIGKILL) and, for SIGKILL/SIGTERM, waits for it.
dl_kill() { local i=$1 sig=${2:-KILL}; kill "-$sig" "${DPID[$i]}" 2>/dev/null
    case $sig in KILL|TERM|9|15) wait "${DPID[$i]}" 2>/dev/null; DPID[$i]=;; esac; }

# dl_json I OP [-o json]: the daemon's answer to `fencelock OP -o json`.
dl_json() { "$FL" -s "$(dl_sock "$1")" "$2" -o json -t 3000 2>/dev/null; }
# dl_py EXPR: evaluates the Python expression EXPR on the JSON object read from
# stdin (bound to d) and prints it (python3 is in scripts/deps.sh; the suites
# also use jq, the demo only this).
dl_py() { python3 -c 'import json,sys
try: d = json.load(sys.stdin)
except ValueError: d = {}
print(eval(sys.argv[1]))' "$1" 2>/dev/null; }
dl_leader() { dl_json "$1" status | dl_py 'd.get("leader") or 0'; }
# dl_wait_cluster SECONDS: every host quorate with the same leader and a valid delta
# lease, and the leader sees all UP.
dl_cluster_ok() {
    local l i; l=$(dl_leader 1); [ "$l" != 0 ] && [ -n "$l" ] || return 1
    for i in $(seq "$DL_N"); do
        [ "$(dl_json "$i" status | dl_py '"%s %s %s" % (d.get("quorate"), d.get("leader"), d.get("lease_valid"))')" = "True $l True" ] ||
            return 1
    done
    [ "$(dl_json "$l" status | dl_py 'len([h for h in d.get("hosts", []) if h["state"] == "UP"])')" = "$DL_N" ]
}
dl_wait_cluster() { wait_for "${1:-20}" dl_cluster_ok || fail "cluster did not form within ${1:-20} s: $(dl_json 1 status)"; }

# The fake VM: dl_vm_script writes $T/vm.sh; its log is $T/vm-UID.log.
# DL_VMM=qemu makes it a real VM: QEMU (TCG) with the test guest of
# tests/microvm writing its volume through virtio-blk; the lines then mark the
# guest's own writes ("start" at its first), read from its serial log.
dl_vm_script() {
    if [ "${DL_VMM:-}" = qemu ]; then
        "$FL_ROOT/tests/microvm/build-guest.sh" "$FL_BUILD" >/dev/null || return 1
        cat > "$T/vm.sh" <<EOF
#!/bin/bash
# Real VM: "start|beat UID HOST_SOCKET EPOCH_MS" into LOG as the guest writes.
uid=\$1 log=\$2
ms() { echo \$(( \$(date +%s%N) / 1000000 )); }
h=\$(echo "\${FENCELOCK_SOCKET:-}" | sed -n 's|.*/h\([0-9]*\)/ctl.sock|\1|p')
glog=$T/guest-\$uid-\$\$.log
"$FL_ROOT/tests/microvm/qemu_guest.sh" --guest "$FL_BUILD/microvm" --vm "\$uid" --host "\${h:-0}" \\
    --disk "$T/vol-\$uid.img" --log "\$glog" --console "$T/console-\$uid-\$\$.log" &
q=\$!
trap 'kill -TERM \$q 2>/dev/null; wait \$q; exit 0' TERM INT
n=0 what=start
while kill -0 \$q 2>/dev/null; do
    m=\$(grep -c '^it ' "\$glog" 2>/dev/null); m=\${m:-0}
    if [ "\$m" -gt "\$n" ]; then echo "\$what \$uid \${FENCELOCK_SOCKET:-?} \$(ms)" >> "\$log"; what=beat; n=\$m; fi
    sleep 0.2
done
wait \$q
EOF
    else
        cat > "$T/vm.sh" <<'EOF'
#!/bin/sh
# Fake VM: "start|beat UID HOST_SOCKET EPOCH_MS" every 0.2 s into LOG.
uid=$1 log=$2
ms() { echo $(( $(date +%s%N) / 1000000 )); }
echo "start $uid ${FENCELOCK_SOCKET:-?} $(ms)" >> "$log"
while :; do sleep 0.2; echo "beat $uid ${FENCELOCK_SOCKET:-?} $(ms)" >> "$log"; done
EOF
    fi
    chmod +x "$T/vm.sh"
}
# dl_exec I UID [exec options...]: runs the fake VM UID under `fencelock exec` on host I
# (background; its output in $T/exec-UID-hI.out; pid in $EXEC_PID).
dl_exec() {
    local i=$1 uid=$2; shift 2
    [ -x "$T/vm.sh" ] || dl_vm_script
    truncate -s 4M "$T/vol-$uid.img"   # room for a guest's records (DL_VMM=qemu)
    FENCELOCK_SOCKET=$(dl_sock "$i") "$FL" exec --vm "$uid" --volume "$T/vol-$uid.img" "$@" -- \
        "$T/vm.sh" "$uid" "$T/vm-$uid.log" > "$T/exec-$uid-h$i.out" 2>&1 &
    EXEC_PID=$!
}
# dl_vm_host UID: the host whose VM UID wrote the last line (from its socket path).
dl_vm_host() { tail -1 "$T/vm-$1.log" 2>/dev/null | awk '{print $3}' | sed -n 's|.*/h\([0-9]*\)/ctl.sock|\1|p'; }
# dl_vm_started_on UID I: VM UID has a "start" line from host I.
dl_vm_started_on() { grep -q "^start $1 $(dl_sock "$2") " "$T/vm-$1.log" 2>/dev/null; }
# dl_vm_alive_on UID I: a beat from host I within the last second.
dl_vm_alive_on() { local last; last=$(grep " $(dl_sock "$2") " "$T/vm-$1.log" 2>/dev/null | tail -1 | awk '{print $4}')
    [ -n "$last" ] && [ $(( $(now_ms) - last )) -lt 1000 ]; }
# dl_kill_host_vms I: SIGKILL every wrapper and fake VM of host I (their command line or
# environment names host I's socket).
dl_kill_host_vms() {
    local p s; s=$(dl_sock "$1")
    for p in $(dl_pids_of_T); do
        { tr '\0' '\n' < "/proc/$p/environ" | grep -qx "FENCELOCK_SOCKET=$s" && kill -9 "$p"; } 2>/dev/null
    done
    return 0
}

# dl_crash_recovering UID SCRIPT: a cluster of three with recover_command =
# SCRIPT on every host, VM UID started on h1, then h1 crashed (its daemon and
# its VMs SIGKILLed): what follows is the recovery of UID by SCRIPT.
dl_crash_recovering() {
    local uid=$1 script=$2 i
    DL_N=3
    for i in 1 2 3; do dl_config 3 "$i" "recover_command = $script"; done
    dl_start_all
    dl_wait_cluster 20
    dl_exec 1 "$uid"
    wait_for 10 dl_vm_started_on "$uid" 1 || fail "$uid did not start on h1"
    dl_kill 1
    dl_kill_host_vms 1
}
