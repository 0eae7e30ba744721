/* What an authenticated peer may ask of this host's arbiter.
 *
 * The transport (raft/tcp.c) proves who sent a message: a host that holds
 * the cluster key, speaking for its own id. This file decides what each
 * sender may ask. Forwarded FSM commands are what a follower's control
 * plane and VM runtime propose through the leader (plugin/daemon): VM
 * registrations and removals (an operator on any host), a placement on the
 * sender itself of a VM placed nowhere (`fencelock exec` there), the unplacement of a VM
 * the sender runs or that runs nowhere, run reports, ends and given-up
 * starts about the sender's own VMs, and an operator's clear of a FAILED
 * VM. Everything else (membership, fence requests and acks, fence
 * clears, quarantine, lease slots) only the leader decides, so a forwarded
 * one is refused: a peer cannot move a running VM elsewhere, fence a host,
 * or speak for another host's VMs. An operator's command asked on a
 * follower is not a forwarded FSM command: the follower's daemon sends the
 * operator's request itself (the control request, the caller's uid, gid and
 * pid as its control socket read them) and the leader's daemon runs it as
 * it runs its own operators' requests, with the same checks, logging the
 * host and uid it came from (plugin/daemon/opfwd.c); only a joined member
 * of the configuration may send one (arb_op_peer_allowed). Disk-voter envelopes are checked in
 * arb_witness.c. Refusals are counted (arb_status) and logged at most once
 * a second. */
#include <inttypes.h>
#include "common/log.h"
#include "plugin/arbiter/arb_internal.h"

static bool in_configuration(const struct arb *a, uint64_t from)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : NULL;
	return c != NULL && raft_config_find(c, from) >= 0;
}

bool arb_forward_allowed(const struct arb *a, uint64_t from, const struct fsm_cmd *c)
{
	if (from == 0 || from > ARB_MAX_HOSTS || !in_configuration(a, from))
		return false;
	const struct fsm_vm *vm;
	switch (c->type) {
	case FSM_CMD_VM_REGISTER:
	case FSM_CMD_VM_UNREGISTER:
	case FSM_CMD_VM_CLEAR:
		return true;
	case FSM_CMD_VM_PLACE:
		/* Onto itself only what is unplaced or already its own (its
		 * daemon asks for nothing else: acquire_checks()); off itself
		 * its own VM, or one that runs nowhere (unregister). */
		vm = fsm_vm_find(&a->fsm, c->uid, NULL);
		if (vm == NULL)
			return false;
		if (c->host_id == from)
			return vm->desired_host == 0 || vm->desired_host == from;
		return c->host_id == 0 &&
		       (vm->desired_host == from || vm->run_host == from || vm->run_state != FSM_RUN_RUNNING);
	case FSM_CMD_VM_REPORT:
	case FSM_CMD_VM_END:
	case FSM_CMD_VM_START_FAILED:
		return c->host_id == from;   /* its own VMs (the FSM checks the placement) */
	default:
		return false;
	}
}

bool arb_op_peer_allowed(const struct arb *a, uint64_t from)
{
	if (from == 0 || from > ARB_MAX_HOSTS || from == a->cfg.host_id || !in_configuration(a, from))
		return false;
	const struct fsm_host *h = fsm_host_find(&a->fsm, (uint32_t)from);
	return h != NULL && h->state == FSM_HOST_JOINED;
}

void arb_reject(struct arb *a, uint64_t from, bool witness, const char *what)
{
	uint64_t now = arb_now(a);
	if (witness)
		a->ctr.rejected_witness++;
	else
		a->ctr.rejected_forward++;
	if (a->reject_log_us != 0 && now - a->reject_log_us < FL_US_PER_S)
		return;
	a->reject_log_us = now;
	fl_warn("host %" PRIu64 ": refused %s%s from host %" PRIu64 " (a host may ask only about itself and its own "
		"VMs; %" PRIu64 " forwarded and %" PRIu64 " voter messages refused so far)", a->cfg.host_id,
		witness ? "" : "a forwarded ", what, from, a->ctr.rejected_forward, a->ctr.rejected_witness);
}
