#!/usr/bin/env bash
# Scenario 5: a host that can receive but not send (cl_isolate_out: cannot send: it receives everything, nothing it sends arrives),
# for longer than P -> never two writers: the host is fenced (by itself on
# losing quorum, or by the leader's poison pill in its mailbox) and FENCED in
# the leader's view, its VMs run on the others, once; the rest of the cluster
# keeps its leader. After the heal it rejoins and starts none of them again.
# Detection: fault -> the leader shows the host not UP; failover: fault ->
# the last of its VMs writes on its new host.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_one_way_cut 5 "a host that can receive but not send" cl_isolate_out
