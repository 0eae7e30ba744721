# shellcheck shell=bash
# shellcheck disable=SC2034 # CL_* variables are for the scripts that source this file
# Cluster harness: N simulated hosts on one machine, each in its own network
# namespace (198.18.0.H/24 on a bridge that lives in a namespace of its own),
# each reaching the shared file through its own flstall FUSE mount, with
# network, storage and process faults as shell functions. Sourced by scenario
# scripts (tests/cluster/t_*.sh) after tests/lib/common.sh; every function is
# documented in tests/cluster/README.md.
#
# Safety rules this file keeps: it never touches the root namespace's
# interfaces, routes or firewall (veths are created inside the bridge
# namespace and moved straight into the host namespaces; every nft rule lives
# in a host namespace); addresses are 198.18.0.0/24 only; everything a run
# creates carries its run id (namespaces flb-ID and flhH-ID, run dir
# run-ID, cgroup flcl-ID, a registry entry) so that cl_down, and
# cl_cleanup_stale for a run whose shell was killed, find and remove it all.

CL_NET=198.18.0
CL_MAX_HOSTS=32
CL_REGISTRY=${CL_REGISTRY:-${TMPDIR:-/tmp}/fencelock-cluster}
CL_BUILD=${FL_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
CL_DROP_SIDE=${CL_DROP_SIDE:-receiver}   # receiver | sender: where a directed block drops
CL_ID=${CL_ID:-}
CL_RUN=${CL_RUN:-}
CL_N=0
CL_CGROUP=""
_cl_initialized=0
_cl_down_done=0
_cl_past_runs=()     # run dirs of this shell, removed on a successful exit

_cl_say() { echo "cluster: $*" >&2; }

# ---- identity and layout ----------------------------------------------------

cl_ns() { echo "flh$1-$CL_ID"; }
cl_bridge_ns() { echo "flb-$CL_ID"; }
cl_addr() { echo "$CL_NET.$1"; }
cl_hosts() { seq 1 "$CL_N"; }
# cl_dir H [state|run|log|mnt]: a host's directory (the host's root without a second argument).
cl_dir() { if [ $# -ge 2 ]; then echo "$CL_RUN/h$1/$2"; else echo "$CL_RUN/h$1"; fi; }

# cl_check_env: returns 0 if this machine can run the harness, else 1 with the
# reason in CL_SKIP_REASON (a scenario then exits 77).
cl_check_env() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    CL_SKIP_REASON=""
    if [ "$(id -u)" -ne 0 ]; then CL_SKIP_REASON="needs root (network namespaces, nft, FUSE)"; return 1; fi
    local t
    for t in ip nft nsenter setsid perl timeout; do
        command -v "$t" >/dev/null || { CL_SKIP_REASON="$t missing (apt-get install iproute2 nftables util-linux perl coreutils)"; return 1; }
    done
    if ! ip netns add "flcl-probe-$$" 2>/dev/null; then CL_SKIP_REASON="cannot create network namespaces here"; return 1; fi
    if ! ip netns exec "flcl-probe-$$" nft list tables >/dev/null 2>&1; then
        ip netns del "flcl-probe-$$" 2>/dev/null
        CL_SKIP_REASON="nft does not work inside a network namespace here"; return 1
    fi
    ip netns del "flcl-probe-$$"
    return 0
}

# Start time of a process (field 22 of /proc/PID/stat), empty if gone.
_cl_starttime() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }
    # shellcheck disable=SC2086 # word splitting of the stat fields is the point
    set -- $s
    echo "${20}"
}

# True if PID exists and is not a zombie.
_cl_pid_alive() {
    local s
    [ -n "${1:-}" ] || return 1
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [ "${s:0:1}" != Z ]
}

_cl_cgroup_root() {
    local mnt fs rest
    while read -r _ mnt fs rest; do
        [ "$fs" = cgroup2 ] && { echo "$mnt"; return 0; }
    done </proc/mounts
    return 0
}

# cl_init: picks the run id, creates the run dir and registry entry, installs
# the EXIT/INT/TERM/HUP traps. cl_up calls it; calling it twice is harmless.
cl_init() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    [ "$_cl_initialized" -eq 1 ] && return 0
    if [ -z "$CL_ID" ] || [ "$_cl_down_done" -eq 1 ]; then
        CL_ID=$(printf '%x%04x%02x' "$(date +%s)" "$(( $$ & 0xffff ))" "$(( RANDOM & 0xff ))")
        CL_ID=${CL_ID: -12}
    fi
    CL_RUN=$CL_BUILD/cluster/run-$CL_ID
    mkdir -p "$CL_RUN" "$CL_REGISTRY" || return 1
    local root; root=$(_cl_cgroup_root)
    CL_CGROUP=""
    if [ "${CL_NO_CGROUP:-0}" != 1 ] && [ -n "$root" ] && mkdir -p "$root/flcl-$CL_ID" 2>/dev/null; then
        CL_CGROUP=$root/flcl-$CL_ID
    fi
    printf 'owner=%s start=%s run=%s cgroup=%s\n' "$$" "$(_cl_starttime $$)" "$CL_RUN" "$CL_CGROUP" \
        >"$CL_REGISTRY/$CL_ID"
    _cl_install_traps
    _cl_initialized=1
    _cl_down_done=0
}

_cl_install_traps() {
    local prev
    prev=$(trap -p EXIT)
    _cl_prev_exit=""
    if [ -n "$prev" ]; then
        local -a words
        eval "words=( $prev )"
        _cl_prev_exit=${words[2]}
    fi
    [ "$_cl_prev_exit" = _cl_on_exit ] && _cl_prev_exit=${_cl_saved_prev_exit:-}
    _cl_saved_prev_exit=$_cl_prev_exit
    trap '_cl_on_exit' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

_cl_on_exit() {
    local rc=$?   # first: anything before it would replace the script's status
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    cl_down
    local d
    for d in "${_cl_past_runs[@]}"; do
        if [ "$rc" -eq 0 ] && [ "${CL_KEEP:-0}" != 1 ]; then
            rm -rf "$d"
        elif [ -d "$d" ]; then
            _cl_say "ended with status $rc; logs kept in $d"
        fi
    done
    if [ -n "$_cl_prev_exit" ]; then eval "$_cl_prev_exit"; fi
    return "$rc"
}

# ---- bring-up and tear-down ---------------------------------------------------

# cl_up N: N hosts (1..32) on one bridge, loopback up, nft table ready, per-host
# directories, connectivity checked between every pair. Returns 1 on failure.
cl_up() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local n=$1 i br
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$CL_MAX_HOSTS" ]; then
        _cl_say "cl_up: host count must be 1..$CL_MAX_HOSTS, got '$n'"; return 1
    fi
    cl_cleanup_stale
    cl_init || return 1
    br=$(cl_bridge_ns)
    ip netns add "$br" || return 1
    ip -n "$br" link set lo up
    ip -n "$br" link add br0 type bridge || return 1
    ip -n "$br" link set br0 up
    _cl_sysctl_quiet "$br"
    for i in $(seq 1 "$n"); do
        _cl_add_host "$i" || return 1
        CL_N=$i
    done
    _cl_wait_mesh $(( 5 + n * n / 20 )) || return 1 # one handshake per pair
    return 0
}

_cl_sysctl_quiet() {
    # No IPv6 chatter (router solicitations, DAD) inside the test namespaces.
    ip netns exec "$1" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6' 2>/dev/null || true
}

_cl_add_host() {
    local h=$1 ns br d
    ns=$(cl_ns "$h"); br=$(cl_bridge_ns)
    ip netns add "$ns" || return 1
    _cl_sysctl_quiet "$ns"
    ip -n "$ns" link set lo up
    # Created inside the bridge namespace, the host end moved straight into its
    # namespace: no interface ever appears in the root namespace.
    ip -n "$br" link add "vh$h" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$br" link set "vh$h" master br0 up
    ip -n "$ns" addr add "$(cl_addr "$h")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip netns exec "$ns" nft -f - <<'EOF' || return 1
table inet flcl {
    set blocked_from { type ipv4_addr; }
    set blocked_to { type ipv4_addr; }
    chain input { type filter hook input priority 0; policy accept; ip saddr @blocked_from counter drop; }
    chain output { type filter hook output priority 0; policy accept; ip daddr @blocked_to counter drop; }
}
EOF
    for d in state run log mnt procs; do mkdir -p "$CL_RUN/h$h/$d"; done
    if [ -n "$CL_CGROUP" ]; then mkdir -p "$CL_CGROUP/h$h" 2>/dev/null || true; fi
    return 0
}

# Waits until every pair of hosts can talk (TCP handshake), at most T seconds.
_cl_wait_mesh() {
    local t=$1 a b deadline
    deadline=$(( $(date +%s) + t ))
    for a in $(cl_hosts); do
        for b in $(cl_hosts); do
            [ "$a" -lt "$b" ] || continue
            until cl_can_talk "$a" "$b" 0.5; do
                if [ "$(date +%s)" -ge "$deadline" ]; then
                    _cl_say "hosts $a and $b cannot reach each other after ${t}s"; return 1
                fi
            done
        done
    done
    return 0
}

# cl_down: stops flappers, unfreezes storage, SIGKILLs every process of every
# host, unmounts the flstall mounts, deletes the namespaces and the cgroup.
# Idempotent; runs from the EXIT trap.
cl_down() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    [ "$_cl_initialized" -eq 1 ] || return 0
    trap '' INT TERM HUP
    local h
    _cl_flap_stop_all
    for h in $(_cl_known_hosts); do _cl_stall_word "$h" ok 2>/dev/null; done
    for h in $(_cl_known_hosts); do cl_host_crash "$h" >/dev/null 2>&1; done
    for h in $(_cl_known_hosts); do cl_storage_down "$h" 2>/dev/null; done
    cl_cleanup_id "$CL_ID" self
    _cl_down_done=1
    CL_N=0
    _cl_initialized=0
    _cl_past_runs+=("$CL_RUN")
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    return 0
}

_cl_known_hosts() {
    local d
    [ -d "$CL_RUN" ] || return 0
    for d in "$CL_RUN"/h*; do
        [ -d "$d" ] && echo "${d##*/h}"
    done
}

# cl_cleanup_id ID [self]: removes every kernel object of run ID (processes in
# its cgroup and namespaces, flstall processes and mounts, namespaces, cgroup,
# registry entry). Used by cl_down and cl_cleanup_stale.
cl_cleanup_id() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local id=$1 ns p mnt cg root pids
    root=$(_cl_cgroup_root)
    cg=""; [ -n "$root" ] && [ -d "$root/flcl-$id" ] && cg=$root/flcl-$id
    # Processes: the run's cgroup, then whatever still lives in its namespaces.
    if [ -n "$cg" ]; then
        for p in "$cg"/h*/cgroup.kill; do [ -e "$p" ] && echo 1 >"$p" 2>/dev/null; done
    fi
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^fl[bh][0-9]*-$id\$"); do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    done
    # flstall servers of this run: unmount, then stop.
    while read -r _ mnt _; do
        case $mnt in */run-"$id"/h*/mnt | */run-"$id"/h*/mnt-*) fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null ;; esac
    done < <(grep -E '^flstall ' /proc/mounts)
    for p in $(_cl_pids_with_arg "/run-$id/"); do kill -TERM "$p" 2>/dev/null; done
    # shellcheck disable=SC2046 # pids
    _cl_wait_gone 3 $(_cl_pids_with_arg "/run-$id/")
    for p in $(_cl_pids_with_arg "/run-$id/"); do kill -KILL "$p" 2>/dev/null; done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^fl[bh][0-9]*-$id\$"); do
        ip netns del "$ns" 2>/dev/null || _cl_say "cannot delete namespace $ns"
    done
    if [ -n "$cg" ]; then
        for p in 1 2 3 4 5 6 7 8 9 10; do
            rmdir "$cg"/h* "$cg" 2>/dev/null
            [ -d "$cg" ] || break
            sleep 0.1
        done
        [ -d "$cg" ] && _cl_say "cgroup $cg still busy"
    fi
    [ "${2:-}" = self ] && _cl_reap_children
    rm -f "$CL_REGISTRY/$id"
    return 0
}

# Pids (other than ours) whose command line contains STRING: finds processes of
# a run even when no pid file survived (a killed shell).
_cl_pids_with_arg() {
    local f pid
    local -a args
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}; pid=${pid%/cmdline}
        [ "$pid" = "$$" ] && continue
        mapfile -d '' args 2>/dev/null <"$f" || continue
        [[ "${args[*]:-}" == *"$1"* ]] && _cl_pid_alive "$pid" && echo "$pid"
    done
    return 0
}

_cl_wait_gone() {
    local secs=$1 p left i
    shift
    for i in $(seq 1 $(( secs * 10 ))); do
        left=0
        for p in "$@"; do _cl_pid_alive "$p" && left=1; done
        [ "$left" -eq 0 ] && return 0
        sleep 0.1
    done
    return 1
}

_cl_reap_children() {
    local p
    # Only the dead ones: a scenario's own background jobs are not ours to wait for.
    for p in $(jobs -p 2>/dev/null); do _cl_pid_alive "$p" || wait "$p" 2>/dev/null; done
    return 0
}

# cl_leftovers ID: prints one line per object of run ID still present
# (namespace, mount, process, cgroup, registry entry); prints nothing when clean.
cl_leftovers() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local id=$1 ns mnt p root
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^fl[bh][0-9]*-$id\$"); do
        echo "namespace $ns"
        for p in $(ip netns pids "$ns" 2>/dev/null); do echo "process $p in $ns"; done
    done
    while read -r _ mnt _; do
        case $mnt in */run-"$id"/*) echo "mount $mnt" ;; esac
    done </proc/mounts
    for p in $(_cl_pids_with_arg "/run-$id/"); do echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
    root=$(_cl_cgroup_root)
    [ -n "$root" ] && [ -d "$root/flcl-$id" ] && echo "cgroup $root/flcl-$id"
    [ -e "$CL_REGISTRY/$id" ] && echo "registry $CL_REGISTRY/$id"
    return 0
}

# cl_cleanup_stale: removes what runs whose owner shell is gone left behind
# (namespaces, mounts, processes, cgroups, registry entries). Never touches a
# run whose owner still lives (two runs side by side are fine).
cl_cleanup_stale() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local ids id ns mnt
    ids=$(
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
            [[ "$ns" =~ ^fl[bh][0-9]*-([0-9a-f]+)$ ]] && echo "${BASH_REMATCH[1]}"
        done
        while read -r _ mnt _; do
            [[ "$mnt" =~ /run-([0-9a-f]+)/h[0-9]+/mnt(-[A-Za-z0-9._]+)?$ ]] && echo "${BASH_REMATCH[1]}"
        done < <(grep -E '^flstall ' /proc/mounts)
        for f in "$CL_REGISTRY"/*; do [ -f "$f" ] && echo "${f##*/}"; done
        root=$(_cl_cgroup_root)
        if [ -n "$root" ]; then for f in "$root"/flcl-*; do [ -d "$f" ] && echo "${f##*/flcl-}"; done; fi
    )
    # A probe namespace of cl_check_env whose shell died between add and del.
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^flcl-probe-[0-9]+$'); do
        _cl_pid_alive "${ns#flcl-probe-}" || ip netns del "$ns" 2>/dev/null
    done
    for id in $(echo "$ids" | sort -u); do
        [ "$id" = "$CL_ID" ] && [ "$_cl_initialized" -eq 1 ] && continue
        _cl_owner_alive "$id" && continue
        _cl_say "removing leftovers of run $id"
        cl_cleanup_id "$id"
    done
    return 0
}

_cl_owner_alive() {
    local f=$CL_REGISTRY/$1 owner start
    [ -f "$f" ] || return 1
    owner=$(sed -n 's/.*owner=\([0-9]*\).*/\1/p' "$f")
    start=$(sed -n 's/.*start=\([0-9]*\).*/\1/p' "$f")
    _cl_pid_alive "$owner" && [ "$(_cl_starttime "$owner")" = "$start" ]
}

# ---- running things in a host ----------------------------------------------

# cl_exec H CMD...: runs CMD in host H's network namespace (same files, same
# pid namespace), in the foreground; returns its status.
cl_exec() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1; shift
    CL_HOST=$h CL_ADDR=$(cl_addr "$h") nsenter --net="/run/netns/$(cl_ns "$h")" -- "$@"
}

# cl_spawn H NAME CMD...: starts CMD in the background in host H's namespace,
# in a new session (its own process group) and in the host's cgroup, output
# appended to $(cl_dir H log)/NAME.log; its pid is in $(cl_pid H NAME).
cl_spawn() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1 name=$2 pf log cg i
    shift 2
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || { _cl_say "cl_spawn: bad name '$name'"; return 1; }
    pf=$CL_RUN/h$h/procs/$name.pid
    if [ -n "$(_cl_pf "$pf")" ]; then
        _cl_say "cl_spawn: $name already runs on host $h (pid $(_cl_pf "$pf"))"; return 1
    fi
    rm -f "$pf" "$pf.new"
    log=$CL_RUN/h$h/log/$name.log
    cg=""; [ -n "$CL_CGROUP" ] && cg=$CL_CGROUP/h$h
    # The wrapper joins the cgroup and writes its pid before exec, so every
    # child the command ever forks is in the cgroup and the pid is the command's.
    # shellcheck disable=SC2016 # expanded by the inner shell
    CL_HOST=$h CL_ADDR=$(cl_addr "$h") nsenter --net="/run/netns/$(cl_ns "$h")" -- \
        setsid bash -c 'if [ -n "$1" ]; then echo $$ >"$1/cgroup.procs" 2>/dev/null; fi; echo $$ >"$2"; shift 2; exec "$@"' \
        cl-spawn "$cg" "$pf.new" "$@" </dev/null >>"$log" 2>&1 &
    disown $!  # bash still reaps it, silently ("Killed" notices would litter the output)
    for i in $(seq 1 100); do
        [ -s "$pf.new" ] && break
        sleep 0.02
    done
    [ -s "$pf.new" ] || { _cl_say "cl_spawn: $name on host $h did not start (see $log)"; return 1; }
    i=$(cat "$pf.new")
    echo "$i $(_cl_starttime "$i")" >"$pf"
    rm -f "$pf.new"
    printf '%q ' "$@" >"$CL_RUN/h$h/procs/$name.cmd"
    return 0
}

# cl_restart H NAME [SECS]: cl_stop, then the same command line again (as
# cl_spawn recorded it); for a daemon restart.
cl_restart() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local cmd
    cmd=$(cat "$CL_RUN/h$1/procs/$2.cmd" 2>/dev/null) || { _cl_say "cl_restart: $2 was never spawned on host $1"; return 1; }
    cl_stop "$1" "$2" "${3:-5}" || return 1
    eval "cl_spawn \"\$1\" \"\$2\" $cmd"
}

# cl_restart_all NAME [SECS]: stops NAME on every host, then starts it again
# on every host (a whole-cluster restart). For a rolling restart, call
# cl_restart host by host.
cl_restart_all() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h cmd
    for h in $(cl_hosts); do [ -e "$CL_RUN/h$h/procs/$1.cmd" ] && { cl_stop "$h" "$1" "${2:-5}" || return 1; }; done
    for h in $(cl_hosts); do
        cmd=$(cat "$CL_RUN/h$h/procs/$1.cmd" 2>/dev/null) || continue
        eval "cl_spawn \"\$h\" \"\$1\" $cmd" || return 1
    done
    return 0
}

# _cl_pf FILE: the pid in a pid file ("PID STARTTIME"), only while that very
# process lives: a recycled pid never gets a signal meant for a dead one.
_cl_pf() {
    local pid start
    read -r pid start 2>/dev/null <"$1" || return 0
    [ -n "$pid" ] && _cl_pid_alive "$pid" && [ "$(_cl_starttime "$pid")" = "$start" ] && echo "$pid"
    return 0
}
# cl_pid H NAME: prints the pid of a spawned process (empty if unknown).
cl_pid() { _cl_pf "$CL_RUN/h$1/procs/$2.pid"; }
# cl_alive H NAME: true if the named process runs (a stopped one counts, a zombie does not).
cl_alive() { _cl_pid_alive "$(cl_pid "$1" "$2")"; }
# cl_kill H NAME [SIG]: sends SIG (default TERM) to the named process only.
cl_kill() { local p; p=$(cl_pid "$1" "$2"); [ -n "$p" ] && kill -"${3:-TERM}" "$p"; }
# cl_pause H NAME / cl_resume H NAME: SIGSTOP / SIGCONT of the named process.
cl_pause() { cl_kill "$1" "$2" STOP; }
cl_resume() { cl_kill "$1" "$2" CONT; }
# cl_wait_exit H NAME SECS: waits until the named process is gone; 1 on timeout.
cl_wait_exit() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local p; p=$(cl_pid "$1" "$2")
    _cl_wait_gone "$3" "$p" || return 1
    wait "$p" 2>/dev/null
    return 0
}
# cl_stop H NAME [SECS]: SIGTERM, up to SECS (default 5) to exit, then SIGKILL of its process group.
cl_stop() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local p; p=$(cl_pid "$1" "$2")
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null
    if ! cl_wait_exit "$1" "$2" "${3:-5}"; then
        kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null
        if ! _cl_wait_gone 5 "$p"; then
            _cl_say "cl_stop: $2 on host $1 (pid $p) survives SIGKILL (blocked in I/O?)"
            mv "$CL_RUN/h$1/procs/$2.pid" "$CL_RUN/h$1/procs/$2.dying"
            return 1
        fi
    fi
    wait "$p" 2>/dev/null
    rm -f "$CL_RUN/h$1/procs/$2.pid"
    return 0
}

# cl_host_pids H: every live pid of host H: its cgroup, its network namespace,
# the spawned processes and all their descendants.
cl_host_pids() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1 f
    {
        if [ -n "$CL_CGROUP" ] && [ -e "$CL_CGROUP/h$h/cgroup.procs" ]; then cat "$CL_CGROUP/h$h/cgroup.procs"; fi
        # Whatever lives in the host's network namespace is the host's (flstall
        # runs in the root namespace): this catches a double-forked daemon even
        # without a cgroup.
        ip netns pids "$(cl_ns "$h")" 2>/dev/null
        local roots=()
        for f in "$CL_RUN/h$h"/procs/*.pid "$CL_RUN/h$h"/procs/*.dying; do [ -e "$f" ] && roots+=("$(_cl_pf "$f")"); done
        [ ${#roots[@]} -gt 0 ] && _cl_descendants "${roots[@]}"
    } | sort -un | while read -r f; do _cl_pid_alive "$f" && echo "$f"; done
    return 0
}

# Prints the given pids and all their descendants (by parent pid and by session).
_cl_descendants() {
    local -A parent=() sess=() keep=()
    local f s pid changed=1 p
    local -a st
    for p in "$@"; do [ -n "$p" ] && keep[$p]=1; done
    for f in /proc/[0-9]*/stat; do
        read -r s 2>/dev/null <"$f" || continue
        pid=${s%% *}
        read -r -a st <<<"${s##*) }"
        parent[$pid]=${st[1]}; sess[$pid]=${st[3]}
    done
    while [ "$changed" -eq 1 ]; do
        changed=0
        for p in "${!parent[@]}"; do
            [ -n "${keep[$p]:-}" ] && continue
            if [ -n "${keep[${parent[$p]}]:-}" ] || [ -n "${keep[${sess[$p]}]:-}" ]; then keep[$p]=1; changed=1; fi
        done
    done
    for p in "${!keep[@]}"; do echo "$p"; done
}

# cl_host_crash H: SIGKILL of everything the harness started on host H, with
# all descendants (cgroup.kill, then process groups, the process tree and
# every process in the host's network namespace). A process blocked in frozen storage dies only once
# that storage answers, as on a real SAN (D state). Storage stays mounted.
cl_host_crash() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1 f p pids
    if [ -n "$CL_CGROUP" ] && [ -e "$CL_CGROUP/h$h/cgroup.kill" ]; then echo 1 >"$CL_CGROUP/h$h/cgroup.kill"; fi
    local -a roots=()
    for f in "$CL_RUN/h$h"/procs/*.pid "$CL_RUN/h$h"/procs/*.dying; do
        [ -e "$f" ] || continue
        p=$(_cl_pf "$f"); [ -n "$p" ] && roots+=("$p")
    done
    # Stop the groups first so nothing forks between listing and killing.
    for p in "${roots[@]}"; do kill -STOP -- "-$p" 2>/dev/null; done
    pids=$(cl_host_pids "$h")
    for p in "${roots[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    # shellcheck disable=SC2086
    if ! _cl_wait_gone 3 $pids; then
        _cl_say "host $h: still dying (blocked in I/O?): $(for p in $pids; do _cl_pid_alive "$p" && echo -n "$p "; done)"
    fi
    # Reap the dead; one stuck in I/O is kept as NAME.dying (never waited for:
    # that would hang the harness until the storage answers).
    for f in "$CL_RUN/h$h"/procs/*.pid "$CL_RUN/h$h"/procs/*.dying; do
        [ -e "$f" ] || continue
        p=$(_cl_pf "$f")
        if [ -n "$p" ]; then
            [ "${f%.pid}" != "$f" ] && mv "$f" "${f%.pid}.dying"
        else
            rm -f "$f"
        fi
    done
    return 0
}

# ---- storage (flstall) -------------------------------------------------------
# A host may have several flstall mounts (its "LUNs"): the default one (no
# NAME: $(cl_dir H mnt), e.g. the shared lease device) and named ones
# ($(cl_dir H mnt-NAME), e.g. a VM volume). A fault without NAME hits every
# mount of the host, as a stalled SAN path does.

# Paths of host H's mount NAME ("" = default): sets _m (mount dir), _p (pid
# file), _f (FIFO), _l (log).
_cl_st_paths() {
    local sfx=""
    [ -n "${2:-}" ] && sfx=-$2
    _m=$CL_RUN/h$1/mnt$sfx; _p=$CL_RUN/h$1/flstall$sfx.pid
    _f=$CL_RUN/h$1/flstall$sfx.fifo; _l=$CL_RUN/h$1/log/flstall$sfx.log
}

# Names of host H's mounts, one a line ("" for the default one).
_cl_st_names() {
    local f n
    for f in "$CL_RUN/h$1"/flstall*.pid; do
        [ -e "$f" ] || continue
        n=${f##*/flstall}; n=${n%.pid}; echo "${n#-}"
    done
}

# cl_disk H [NAME]: the file host H opens for mount NAME (default: the shared device).
cl_disk() { if [ -n "${2:-}" ]; then echo "$CL_RUN/h$1/mnt-$2/disk"; else echo "$CL_RUN/h$1/mnt/disk"; fi; }

# cl_storage_up H BACKING [NAME]: mounts an flstall instance for host H
# serving BACKING as $(cl_disk H [NAME]). Returns 77 if FUSE cannot mount here.
cl_storage_up() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1 backing=$2 name=${3:-} fl i _m _p _f _l
    fl=$CL_BUILD/tools/flstall
    [ -x "$fl" ] || { _cl_say "$fl not built (make BUILD=$CL_BUILD all)"; return 1; }
    [ -e /dev/fuse ] && command -v fusermount3 >/dev/null || return 77
    [ -f "$backing" ] || { _cl_say "cl_storage_up: backing file $backing missing (truncate -s 64M FILE)"; return 1; }
    if [ -n "$name" ] && ! [[ "$name" =~ ^[A-Za-z0-9._]+$ ]]; then _cl_say "cl_storage_up: bad name '$name'"; return 1; fi
    _cl_st_paths "$h" "$name"
    [ -n "$(_cl_pf "$_p")" ] && { _cl_say "cl_storage_up: host $h already has mount '${name}'"; return 1; }
    mkdir -p "$_m"
    setsid "$fl" "$_m" --backing "$backing" --ctl "$_f" -f </dev/null >>"$_l" 2>&1 &
    echo "$! $(_cl_starttime $!)" >"$_p"
    disown $!
    for i in $(seq 1 100); do
        [ -e "$_m/disk" ] && return 0
        [ -n "$(_cl_pf "$_p")" ] || break
        sleep 0.05
    done
    if grep -qiE 'fuse: device not found|permission denied|not permitted' "$_l"; then
        rm -f "$_p"; return 77
    fi
    _cl_say "flstall for host $h did not mount: $(tail -3 "$_l")"
    return 1
}

# Sends a control word to host H's mount NAME, or to all its mounts without
# NAME: the synchronous ctl file first, the FIFO when the ctl file cannot be
# served (every flstall thread held by frozen requests).
_cl_stall_word() {
    local -; set +e +u +o pipefail
    local h=$1 w=$2 n rc=0 _m _p _f _l
    local -a names
    if [ $# -ge 3 ]; then names=("$3"); else mapfile -t names < <(_cl_st_names "$h"); fi
    for n in "${names[@]}"; do
        _cl_st_paths "$h" "$n"
        # shellcheck disable=SC2016 # expanded by the inner shell
        timeout 3 bash -c 'echo "$1" >"$2/ctl"' _ "$w" "$_m" 2>/dev/null && continue
        # shellcheck disable=SC2016
        timeout 3 bash -c 'echo "$1" >"$2"' _ "$w" "$_f" || rc=1
    done
    return $rc
}
# cl_storage_freeze|unfreeze|fail|ok H [NAME]: one mount, or all of the host's.
cl_storage_freeze() { _cl_stall_word "$1" freeze "${@:2}"; }
cl_storage_unfreeze() { _cl_stall_word "$1" unfreeze "${@:2}"; }
cl_storage_fail() { _cl_stall_word "$1" fail "${@:2}"; }
cl_storage_ok() { _cl_stall_word "$1" ok "${@:2}"; }
# cl_storage_state H [NAME]: "mode=ok|frozen|fail blocked=N served=N".
cl_storage_state() { local _m _p _f _l; _cl_st_paths "$1" "${2:-}"; timeout 3 cat "$_m/ctl"; }

# cl_storage_down H [NAME]: unmounts (lazily if busy) and stops one mount of
# host H, or all of them.
cl_storage_down() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1 n p _m _p _f _l
    local -a names
    if [ $# -ge 2 ]; then names=("$2"); else mapfile -t names < <(_cl_st_names "$h"); fi
    for n in "${names[@]}"; do
        _cl_st_paths "$h" "$n"
        [ -e "$_p" ] || continue
        p=$(_cl_pf "$_p")
        _cl_stall_word "$h" ok "$n" 2>/dev/null
        if grep -q " $_m " /proc/mounts; then
            fusermount3 -u "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
        fi
        if [ -n "$p" ]; then
            kill -TERM "$p" 2>/dev/null
            _cl_wait_gone 5 "$p" || kill -KILL "$p" 2>/dev/null
            _cl_wait_gone 2 "$p"
        fi
        rm -f "$_p"
    done
    return 0
}

# ---- network faults -----------------------------------------------------------
# Every fault is a set of directed blocks "packets from S do not reach D". By
# default (CL_DROP_SIDE=receiver) D's input hook drops them: the sender's stack
# sees nothing, as when a switch loses them. With CL_DROP_SIDE=sender, S's
# output hook drops them instead (the sender's send then fails with EPERM).

# cl_block S D / cl_unblock S D: one direction of one link.
cl_block() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    if [ "$CL_DROP_SIDE" = sender ]; then
        ip netns exec "$(cl_ns "$1")" nft add element inet flcl blocked_to "{ $(cl_addr "$2") }"
    else
        ip netns exec "$(cl_ns "$2")" nft add element inet flcl blocked_from "{ $(cl_addr "$1") }"
    fi
}
cl_unblock() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    if [ "$CL_DROP_SIDE" = sender ]; then
        ip netns exec "$(cl_ns "$1")" nft delete element inet flcl blocked_to "{ $(cl_addr "$2") }" 2>/dev/null
    else
        ip netns exec "$(cl_ns "$2")" nft delete element inet flcl blocked_from "{ $(cl_addr "$1") }" 2>/dev/null
    fi
    return 0
}
# cl_isolate H: H neither sends to nor receives from any other host.
cl_isolate() { local x; for x in $(cl_hosts); do [ "$x" != "$1" ] && { cl_block "$1" "$x"; cl_block "$x" "$1"; }; done; return 0; }
# cl_isolate_out H: H receives but nothing it sends arrives ("cannot send").
cl_isolate_out() { local x; for x in $(cl_hosts); do [ "$x" != "$1" ] && cl_block "$1" "$x"; done; return 0; }
# cl_isolate_in H: what H sends arrives, but nothing reaches H ("cannot receive").
cl_isolate_in() { local x; for x in $(cl_hosts); do [ "$x" != "$1" ] && cl_block "$x" "$1"; done; return 0; }
# cl_cut A B: the link between A and B only, both directions.
cl_cut() { cl_block "$1" "$2" && cl_block "$2" "$1"; }
cl_uncut() { cl_unblock "$1" "$2"; cl_unblock "$2" "$1"; }
# cl_split "1 2" "3 4" [...]: no traffic between hosts of different groups.
cl_split() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local -a groups=("$@")
    local i j a b
    for i in "${!groups[@]}"; do
        for j in "${!groups[@]}"; do
            [ "$i" -lt "$j" ] || continue
            for a in ${groups[$i]}; do for b in ${groups[$j]}; do cl_cut "$a" "$b" || return 1; done; done
        done
    done
    return 0
}
# cl_heal: removes every network fault (stops flappers too).
cl_heal() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h ns
    _cl_flap_stop_all
    for h in $(cl_hosts); do
        ns=$(cl_ns "$h")
        ip netns exec "$ns" nft flush set inet flcl blocked_from
        ip netns exec "$ns" nft flush set inet flcl blocked_to
    done
    return 0
}
# cl_net_rules H: prints host H's nft table (for logs).
cl_net_rules() { ip netns exec "$(cl_ns "$1")" nft list table inet flcl; }

# cl_flap A B DOWN_MS UP_MS COUNT: in the background, COUNT times: cut A-B for
# DOWN_MS, heal it for UP_MS. Bounded: COUNT <= 1000, each phase <= 600000 ms.
# cl_flap_wait waits for every flapper; cl_heal stops them.
cl_flap() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local a=$1 b=$2 down=$3 up=$4 count=$5
    for v in "$down" "$up" "$count"; do [[ "$v" =~ ^[0-9]+$ ]] || { _cl_say "cl_flap: numbers only"; return 1; }; done
    if [ "$count" -gt 1000 ] || [ "$down" -gt 600000 ] || [ "$up" -gt 600000 ]; then
        _cl_say "cl_flap: at most 1000 flaps of at most 600000 ms per phase"; return 1
    fi
    (
        trap '' INT
        trap 'kill "$sp" 2>/dev/null; cl_uncut "$a" "$b"; exit 0' TERM
        sp=""
        for _ in $(seq 1 "$count"); do
            cl_cut "$a" "$b"
            sleep "$(_cl_ms "$down")" & sp=$!; wait "$sp"
            cl_uncut "$a" "$b"
            sleep "$(_cl_ms "$up")" & sp=$!; wait "$sp"
        done
    ) &
    echo $! >>"$CL_RUN/flap.pids"
    return 0
}
_cl_ms() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }
cl_flap_wait() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local p pids
    [ -e "$CL_RUN/flap.pids" ] || return 0
    mapfile -t pids <"$CL_RUN/flap.pids"
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -f "$CL_RUN/flap.pids"
    return 0
}
_cl_flap_stop_all() {
    local p pids
    [ -e "$CL_RUN/flap.pids" ] || return 0
    mapfile -t pids <"$CL_RUN/flap.pids"
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -f "$CL_RUN/flap.pids"
    return 0
}

# ---- waiting and timing ---------------------------------------------------------

# cl_now_ms: milliseconds of CLOCK_BOOTTIME (from /proc/uptime, 10 ms
# resolution): monotonic, for measuring detection and failover times.
cl_now_ms() {
    local up
    read -r up _ </proc/uptime
    echo $(( ${up%.*} * 1000 + 10#${up#*.} * 10 ))
}

# cl_t_ms: the io_timeout T of the cluster in milliseconds (CL_IO_TIMEOUT, a
# duration as the configuration takes it: 1, 2s, 500ms; default 1 s).
cl_t_ms() {
    local t=${CL_IO_TIMEOUT:-1}
    case $t in
        *ms) echo "${t%ms}" ;;
        *s) echo $(( ${t%s} * 1000 )) ;;
        *) echo $(( t * 1000 )) ;;
    esac
}

# Seconds ("2", "0.25") to milliseconds.
_cl_secs_to_ms() {
    local int=${1%%.*} frac=000
    [[ "$1" == *.* ]] && frac=${1#*.}000
    echo $(( 10#${int:-0} * 1000 + 10#${frac:0:3} ))
}

# cl_wait_until SECS CMD...: runs CMD every 50 ms until it succeeds (0) or SECS
# pass (1). CL_WAITED_MS holds the time waited, for a scenario's report.
cl_wait_until() {
    local -; set +e +u +o pipefail
    local secs=$1 start deadline now
    shift
    start=$(cl_now_ms); deadline=$(( start + $(_cl_secs_to_ms "$secs") ))
    while :; do
        if "$@"; then CL_WAITED_MS=$(( $(cl_now_ms) - start )); return 0; fi
        now=$(cl_now_ms)
        if [ "$now" -ge "$deadline" ]; then CL_WAITED_MS=$(( now - start )); return 1; fi
        sleep 0.05
    done
}

# ---- probes ---------------------------------------------------------------------

# cl_can_talk A B [SECS]: true if a TCP handshake from A to B completes within
# SECS (default 1): a refused connection counts, as it needs both directions.
cl_can_talk() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local out rc
    # shellcheck disable=SC2016
    out=$(cl_exec "$1" timeout "${3:-1}" bash -c 'exec 3<>"/dev/tcp/$1/1"' _ "$(cl_addr "$2")" 2>&1); rc=$?
    [ "$rc" -eq 0 ] || [[ "$out" == *"Connection refused"* ]]
}

# cl_can_send A B [SECS]: true if a UDP datagram from A reaches a listener on B
# within SECS (default 1): one direction only.
cl_can_send() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local a=$1 b=$2 secs=${3:-1} port token rc rx tx
    port=$(( 20000 + RANDOM % 20000 )); token=flcl$RANDOM$RANDOM
    # The listener gives up after SECS (in 50 ms select slices: perl-base has no HiRes alarm).
    # shellcheck disable=SC2016
    cl_exec "$b" perl -MIO::Socket::INET -MIO::Select -e '
        my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => $ARGV[1], Proto => "udp") or exit 2;
        open(my $r, ">", $ARGV[4]) and close($r);
        my $sel = IO::Select->new($s);
        for (my $i = 0; $i < $ARGV[3] * 20; $i++) {
            next unless $sel->can_read(0.05);
            my $m = ""; $s->recv($m, 256); exit 0 if $m =~ /\Q$ARGV[2]\E/;
        }
        exit 1;' "$(cl_addr "$b")" "$port" "$token" "$secs" "$CL_RUN/.udp-ready-$port" &
    rx=$!
    for _ in $(seq 1 100); do [ -e "$CL_RUN/.udp-ready-$port" ] && break; sleep 0.01; done
    # shellcheck disable=SC2016
    cl_exec "$a" timeout "$secs" bash -c 'while :; do echo "$3" >"/dev/udp/$1/$2"; sleep 0.05; done 2>/dev/null' \
        _ "$(cl_addr "$b")" "$port" "$token" &
    tx=$!
    wait "$rx"; rc=$?
    kill "$tx" 2>/dev/null; wait "$tx" 2>/dev/null
    rm -f "$CL_RUN/.udp-ready-$port"
    [ "$rc" -eq 0 ]
}

# ---- fencelockd configuration -------------------------------------------------

# cl_write_config H [SECTION.KEY=VALUE...]: writes $(cl_dir H)/fencelock.conf
# for host H in the format of plugin/host/config.h and prints its path: device =
# the host's flstall disk, T = 1 s, P = 5 s (CL_IO_TIMEOUT, CL_P override),
# port CL_PORT (7401), every host of the run as a peer, the run's cluster key
# ($CL_RUN/authkey, made on first use; cluster.insecure=yes goes without). Extra keys, e.g.
# host.recover_command=/path or cluster.partition_tolerance=3, are added to
# (or replace the default of) their section.
cl_write_config() {
    local -; set +e +u +o pipefail  # callers may run with set -euo pipefail
    local h=$1 port=${CL_PORT:-7401} x f kv sec key val
    shift
    local -A extra=()
    local -a order=()
    for kv in "$@"; do
        [[ "$kv" =~ ^(cluster|host)\.([a-z_]+)=(.*)$ ]] || { _cl_say "cl_write_config: '$kv' is not SECTION.KEY=VALUE"; return 1; }
        extra["${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"]=${BASH_REMATCH[3]}
        order+=("${BASH_REMATCH[1]}.${BASH_REMATCH[2]}")
    done
    f=$CL_RUN/h$h/fencelock.conf
    if [ ${#CL_RUN} -gt 70 ]; then
        _cl_say "warning: $CL_RUN/h$h/run/fencelockd.sock may exceed the 107-byte unix socket path limit"
    fi
    # _cl_cfg_line SECTION KEY DEFAULT: the default unless an extra key replaces it.
    _cl_cfg_line() {
        local k="$1.$2"
        if [ -n "${extra[$k]+x}" ]; then echo "$2 = ${extra[$k]}"; unset "extra[$k]"; else echo "$2 = $3"; fi
    }
    {
        echo "[cluster]"
        _cl_cfg_line cluster name "flcl-$CL_ID"
        _cl_cfg_line cluster device "$(cl_disk "$h")"
        _cl_cfg_line cluster io_timeout "${CL_IO_TIMEOUT:-1}"
        _cl_cfg_line cluster partition_tolerance "${CL_P:-5}"
        # One cluster key per run (fencelock keygen), unless the test asks for insecure mode.
        if [ -z "${extra[cluster.insecure]+x}" ]; then
            [ -f "$CL_RUN/authkey" ] || "$CL_BUILD/fencelock" keygen --key-file "$CL_RUN/authkey" >/dev/null ||
                { _cl_say "cl_write_config: fencelock keygen failed"; return 1; }
            _cl_cfg_line cluster key_file "$CL_RUN/authkey"
        fi
        for kv in "${order[@]}"; do
            sec=${kv%%.*}; key=${kv#*.}
            [ "$sec" = cluster ] && [ -n "${extra[$kv]+x}" ] && { echo "$key = ${extra[$kv]}"; unset "extra[$kv]"; }
        done
        echo
        echo "[host]"
        _cl_cfg_line host id "$h"
        _cl_cfg_line host name "h$h"
        _cl_cfg_line host listen "$(cl_addr "$h"):$port"
        _cl_cfg_line host control_socket "$CL_RUN/h$h/run/fencelockd.sock"
        _cl_cfg_line host state_dir "$CL_RUN/h$h/state"
        _cl_cfg_line host run_dir "$CL_RUN/h$h/run"
        _cl_cfg_line host watchdog off
        _cl_cfg_line host log_level debug
        for kv in "${order[@]}"; do
            sec=${kv%%.*}; key=${kv#*.}; val=${extra[$kv]-}
            [ "$sec" = host ] && [ -n "${extra[$kv]+x}" ] && { echo "$key = $val"; unset "extra[$kv]"; }
        done
        echo
        echo "[peers]"
        for x in $(cl_hosts); do echo "$x = $(cl_addr "$x"):$port"; done
    } >"$f"
    echo "$f"
}
