/* The operator's commands that need more of the arbiter than one proposed
 * FSM command, and the facts the quorum view shows (arbiter.h).
 *
 * A fence an operator asks for is an FSM fence request like the leader's
 * own (reason FSM_FENCE_OPERATOR): the leader's tick writes the FENCE into
 * the host's mailbox, the host obeys (its VMs die, their leases are
 * released, it answers FENCED) and its VMs are taken over; it is never
 * cleared by itself. Lifting it is this file's arb_host_unfence: a CLEAR in
 * the host's mailbox and the FENCE_CLEAR committed, as the leader does for
 * a fenced host that came back. A drained host is quarantined without end
 * (FSM_QUARANTINE_DRAINED): nothing is placed on it, and the leader's tick
 * moves its VMs with the recovery placement (arb_leader.c). */
#include <inttypes.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"

uint32_t arb_witness_holder(const struct arb *a)
{
	if (a->w.node != NULL)
		return (uint32_t)a->cfg.host_id;
	if (a->w.holder == 0 || arb_now(a) - a->w.holder_us > a->tim.h_us)
		return 0;
	return a->w.holder;
}

int arb_host_unfence(struct arb *a, uint32_t host_id, const struct fsm_origin *o)
{
	FL_ASSERT(o != NULL);
	if (!arb_is_leader(a))
		return -FL_ENOTLEADER;
	if (host_id == 0 || host_id > ARB_MAX_HOSTS || host_id > a->cfg.layout.max_hosts)
		return -FL_EINVAL;
	const struct fsm_host *fh = fsm_host_find(&a->fsm, host_id);
	if (fh == NULL)
		return -FL_ENOENT;
	struct fsm_cmd cmd = {.type = FSM_CMD_FENCE_CLEAR, .host_id = host_id, .origin = *o};
	int rv = arb_propose_cmd(a, &cmd);
	if (rv != 0)
		return rv;
	/* The host obeys the CLEAR once no FENCE is pending in its box. */
	struct arb_mb_seen *seen = &a->mb.seen[host_id];
	seen->cleared_seq = seen->status_seq;
	if (!arb_mb_queued(a, MBJ_SEND, host_id))
		arb_mb_enqueue(a, MBJ_SEND, host_id, MB_CLEAR);
	fl_notice("host %" PRIu64 ": host %u unfenced by the operator (uid %u): CLEAR written to its mailbox",
		  a->cfg.host_id, host_id, o->by_uid);
	return 0;
}

/* The host voter other than us heard from most recently, with a valid
 * delta lease in its view; 0 if none. */
static uint32_t transfer_pick(const struct arb *a, const struct raft_config *c)
{
	uint64_t now = arb_now(a), best_age = UINT64_MAX;
	uint32_t best = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		uint64_t id = c->servers[i].id;
		if (id == a->cfg.host_id || id > ARB_MAX_HOSTS || c->servers[i].role != RAFT_VOTER)
			continue;
		uint64_t heard = a->last_heard_us[id];
		if (!(a->view_flags[id] & ARB_VIEW_LEASE) || heard == 0 || now - heard >= best_age)
			continue;
		best_age = now - heard;
		best = (uint32_t)id;
	}
	return best;
}

void arb_leader_step_aside(struct arb *a, const char *why)
{
	if (!arb_is_leader(a))
		return;
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	FL_ASSERT(c != NULL);
	uint32_t to = transfer_pick(a, c);
	if (to == 0)
		return; /* no voter to hand it to yet: asked again next tick */
	if (raft_node_transfer(a->node, to) == 0)
		fl_notice("host %" PRIu64 ": transferring leadership to host %u: %s", a->cfg.host_id, to, why);
}

int arb_leader_transfer(struct arb *a, uint32_t target, uint32_t *chosen)
{
	FL_ASSERT(chosen != NULL);
	*chosen = 0;
	if (!arb_is_leader(a))
		return -FL_ENOTLEADER;
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	FL_ASSERT(c != NULL);
	if (target == 0)
		target = transfer_pick(a, c);
	if (target == 0)
		return -FL_ENOENT;
	int i = raft_config_find(c, target);
	if (target == a->cfg.host_id || target > ARB_MAX_HOSTS || i < 0 || c->servers[i].role != RAFT_VOTER)
		return -FL_EINVAL;
	*chosen = target;
	fl_notice("host %" PRIu64 ": transferring leadership to host %u as the operator asked", a->cfg.host_id, target);
	return raft_node_transfer(a->node, target);
}
