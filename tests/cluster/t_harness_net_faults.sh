#!/usr/bin/env bash
# Network faults do what they say, checked with real packets in both
# directions: a TCP handshake (needs both ways) and a UDP datagram (one way):
# isolate, isolate_out (can receive, cannot send), isolate_in (can send, cannot
# receive), cut (one link only), split into groups, flap (down, then up, then
# done), and heal (every host talks to every host again). Also with the drop
# on the sender's side (CL_DROP_SIDE=sender).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
set -e  # the harness must work under set -euo pipefail too
cl_check_env || skip "$CL_SKIP_REASON"

NO=0.3  # seconds a probe that must fail waits
talk() { cl_can_talk "$1" "$2" || fail "$3: $1 and $2 cannot talk"; }
no_talk() { cl_can_talk "$1" "$2" "$NO" && fail "$3: $1 and $2 can still talk"; return 0; }
sends() { cl_can_send "$1" "$2" || fail "$3: a datagram from $1 does not reach $2"; }
no_send() { cl_can_send "$1" "$2" "$NO" && fail "$3: a datagram from $1 still reaches $2"; return 0; }
all_talk() { local a b; for a in $(cl_hosts); do for b in $(cl_hosts); do [ "$a" -lt "$b" ] && talk "$a" "$b" "$1"; done; done; return 0; }

cl_up 4 || fail "cl_up 4 failed"

cl_isolate 1
no_talk 1 2 isolate; no_send 1 3 isolate; no_send 4 1 isolate; talk 2 3 isolate; talk 3 4 isolate
cl_heal; all_talk "heal after isolate"

cl_isolate_out 1
no_send 1 2 isolate_out; sends 2 1 isolate_out; no_talk 1 3 isolate_out; talk 2 4 isolate_out
cl_heal

cl_isolate_in 1
sends 1 2 isolate_in; no_send 3 1 isolate_in; no_talk 4 1 isolate_in; talk 2 3 isolate_in
cl_heal

cl_cut 1 2
no_talk 1 2 cut; no_send 2 1 cut; talk 1 3 cut; talk 2 3 cut; talk 1 4 cut
cl_heal

cl_split "1 2" "3 4"
talk 1 2 split; talk 3 4 split; no_talk 1 3 split; no_talk 2 4 split; no_send 4 1 split
cl_heal; all_talk "heal after split"
echo "isolate, isolate_out, isolate_in, cut, split, heal: as specified"

# Flap: 0.8 s down, 0.8 s up, twice; the link is down at first, up in between, up at the end.
cl_flap 1 2 800 800 2
sleep 0.2; no_talk 1 2 "flap (down phase)"; talk 1 3 "flap (other link)"
sleep 0.6; talk 1 2 "flap (up phase)"
cl_flap_wait; talk 1 2 "after the flaps"
cl_flap 3 4 5000 5000 100
sleep 0.2; no_talk 3 4 "second flapper"
cl_heal; talk 3 4 "heal stops a flapper"
echo "flap: down, up, done; heal stops it"

# The other drop side: the sender's output hook.
CL_DROP_SIDE=sender
cl_isolate_out 2
no_send 2 1 "isolate_out (sender side)"; sends 1 2 "isolate_out (sender side)"
cl_heal; all_talk "heal (sender side)"
echo "CL_DROP_SIDE=sender: as specified"
exit 0
