/* The leader's duties, run on every tick while this host leads with a valid
 * leader lease (a deposed or minority leader decides nothing):
 *   - membership: every server of the Raft configuration is a host in the FSM;
 *   - volume-lease slots for registered volumes that have none;
 *   - classification of every other host from both channels (classify.h);
 *   - fencing: a host PARTITIONED for longer than P gets a fence request (an
 *     FSM record, then a poison pill in its mailbox); its FENCED answer is
 *     recorded; a fenced host that is back and has nothing left to take over
 *     is cleared; a host that flaps is quarantined (placement.h);
 *   - recovery: the VMs of hosts that may be taken over (DEAD, FENCED,
 *     STORAGE_LOST past D) and unplaced VMs are placed on UP hosts. The new
 *     holder still has to win the volume leases on disk, where a live holder
 *     is never bypassed: a wrong classification costs time, never safety.
 * Proposals are rate-limited per subject: the FSM's compare-and-set rules make
 * a repeated proposal harmless, the limit only saves log entries. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"

/* A proposal is repeated at most once per this many election timeouts. */
#define ARB_RETRY_ELECTIONS 1

static uint64_t retry_us(const struct arb *a) { return ARB_RETRY_ELECTIONS * a->cfg.raft.election_timeout_us; }

/* The role precondition of every leader duty: our Raft node leads (its state
 * callback said so, and arb_leader_became reset a->ldr then). */
static void assert_leader(const struct arb *a)
{
	FL_ASSERT(a->leader);
	FL_ASSERT(a->node != NULL);
}

/* Proposes one of the leader's decisions. A failure changes what the cluster
 * does (a host record, a slot, a fence, a move waits), so it is logged at
 * notice; the caller's due() stamp proposes it again one retry period later. */
static int leader_propose(struct arb *a, struct fsm_cmd *cmd)
{
	int rv = arb_propose_cmd(a, cmd);
	if (rv != 0)
		fl_notice("host %" PRIu64 ": leader: %s (host %u%s%s) not proposed: %s; proposed again later",
			  a->cfg.host_id, fsm_cmd_type_name(cmd->type), cmd->host_id, cmd->uid[0] ? ", VM " : "",
			  cmd->uid, fl_strerror(rv));
	return rv;
}

/* A membership change asked of Raft: -FL_EBUSY (one change at a time, or a
 * transfer) is the normal answer while another is in flight and is tried
 * again next tick; anything else is logged at notice. */
static void leader_member_result(const struct arb *a, const char *what, uint64_t id, int rv)
{
	if (rv == 0)
		fl_info("host %" PRIu64 ": %s %" PRIu64, a->cfg.host_id, what, id);
	else if (rv == -FL_EBUSY)
		fl_debug("host %" PRIu64 ": %s %" PRIu64 ": Raft is busy with another change", a->cfg.host_id, what, id);
	else if (rv != 0)
		fl_notice("host %" PRIu64 ": %s %" PRIu64 " refused by Raft: %s", a->cfg.host_id, what, id,
			  fl_strerror(rv));
}

static bool due(const struct arb *a, uint64_t *last_us)
{
	uint64_t now = arb_now(a);
	if (*last_us != 0 && now - *last_us < retry_us(a))
		return false;
	*last_us = now;
	return true;
}

int arb_leader_init(struct arb *a)
{
	a->ldr.place_proposed_inc = calloc(a->nlvm, sizeof(uint64_t));
	a->ldr.place_proposed_us = calloc(a->nlvm, sizeof(uint64_t));
	if (a->ldr.place_proposed_inc == NULL || a->ldr.place_proposed_us == NULL)
		return -FL_ENOMEM;
	return 0;
}

void arb_leader_free(struct arb *a)
{
	free(a->ldr.place_proposed_inc);
	free(a->ldr.place_proposed_us);
	a->ldr.place_proposed_inc = a->ldr.place_proposed_us = NULL;
}

/* Everything in a->ldr starts afresh with each leadership; the per-VM arrays
 * keep their allocation. Classification starts afresh too: the new leader
 * judges every host from its own observations. */
void arb_leader_became(struct arb *a)
{
	uint64_t *inc = a->ldr.place_proposed_inc, *us = a->ldr.place_proposed_us;
	memset(&a->ldr, 0, sizeof(a->ldr));
	memset(inc, 0, a->nlvm * sizeof(uint64_t));
	memset(us, 0, a->nlvm * sizeof(uint64_t));
	a->ldr.place_proposed_inc = inc;
	a->ldr.place_proposed_us = us;
	a->ldr.ct_base_us = fsm_clock_us(&a->fsm);
	a->ldr.ct_local_us = arb_now(a);
	memset(a->cls, 0, sizeof(a->cls));
	a->join.rejoin_id = 0; /* a rejoin asks again (its HELLO repeats) */
	a->join.rejoin_removed = false;
	fl_info("host %" PRIu64 ": leader", a->cfg.host_id);
}

static void leader_hosts(struct arb *a)
{
	assert_leader(a);
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	bool missing = false;
	for (uint32_t i = 0; c && i < c->n; i++)
		missing |= c->servers[i].id <= ARB_MAX_HOSTS && fsm_host_find(&a->fsm, (uint32_t)c->servers[i].id) == NULL;
	if (!missing || !due(a, &a->ldr.hosts_proposed_us))
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		uint32_t id = (uint32_t)c->servers[i].id;
		if (fsm_host_find(&a->fsm, id) != NULL || id > ARB_MAX_HOSTS)
			continue;
		/* Role VOTER: the host may be chosen as a voter (the leader
		 * keeps cfg.voters of them in Raft's voter set). */
		struct fsm_cmd cmd = {.type = FSM_CMD_HOST_ADD, .host_id = id, .role = FSM_ROLE_VOTER};
		const struct ls_host_obs *o = ls_host(a->ls, id);
		if (id == a->cfg.host_id)
			snprintf(cmd.name, sizeof(cmd.name), "%s", a->cfg.host_name);
		else if (o != NULL && o->seen && o->name[0])
			snprintf(cmd.name, sizeof(cmd.name), "%s", o->name);
		else
			snprintf(cmd.name, sizeof(cmd.name), "host%u", id);
		const char *addr = id < a->cfg.n_peer_addrs ? a->cfg.peer_addrs[id] : NULL;
		snprintf(cmd.addr, sizeof(cmd.addr), "%s", addr && addr[0] ? addr : "unknown");
		(void)leader_propose(a, &cmd); /* logged; due() retries */
	}
}

/* A host recorded before it was seen got the placeholder name "hostN"
 * (leader_hosts); once its delta lease shows its real name, the record
 * takes it (one rename per retry interval). */
static void leader_rename(struct arb *a)
{
	assert_leader(a);
	for (uint32_t id = 1; id <= a->cfg.layout.max_hosts && id <= ARB_MAX_HOSTS; id++) {
		const struct fsm_host *fh = fsm_host_find(&a->fsm, id);
		const struct ls_host_obs *o = ls_host(a->ls, id);
		char placeholder[FSM_NAME_MAX + 1];
		snprintf(placeholder, sizeof(placeholder), "host%u", id);
		if (fh == NULL || fh->state != FSM_HOST_JOINED || strcmp(fh->name, placeholder) != 0 || o == NULL ||
		    !o->seen || o->name[0] == '\0' || strcmp(o->name, placeholder) == 0)
			continue;
		if (!due(a, &a->ldr.rename_us))
			return;
		struct fsm_cmd cmd = {.type = FSM_CMD_HOST_RENAME, .host_id = id};
		snprintf(cmd.name, sizeof(cmd.name), "%s", o->name);
		(void)leader_propose(a, &cmd); /* logged; due() retries */
		return;
	}
}

/* Proposes SLOT_ALLOC for up to *budget volumes without a slot, of active
 * VMs only (placed or running: they need their leases now) or of all. */
static void slots_propose(struct arb *a, bool active_only, uint32_t *budget)
{
	for (uint32_t i = 0; i < a->nlvm && *budget > 0; i++) {
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, i);
		if (vm == NULL || (active_only && !fsm_vm_active(vm)))
			continue;
		for (uint32_t v = 0; v < vm->nvol && *budget > 0; v++) {
			if (vm->vol[v].slot != FSM_SLOT_NONE)
				continue;
			struct fsm_cmd cmd = {.type = FSM_CMD_SLOT_ALLOC, .slot = FSM_SLOT_ANY};
			snprintf(cmd.uid, sizeof(cmd.uid), "%s", vm->uid);
			memcpy(cmd.volid, vm->vol[v].id, sizeof(cmd.volid));
			(void)leader_propose(a, &cmd); /* logged; due() retries */
			(*budget)--;
		}
	}
}

/* Lease slots for the volumes that have none: active VMs' first, at most
 * ARB_SLOT_ALLOCS_PER_ROUND and never more than are free. */
static void leader_slots(struct arb *a)
{
	assert_leader(a);
	bool needed = false;
	for (uint32_t i = 0; i < a->nlvm && !needed; i++) {
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, i);
		for (uint32_t v = 0; vm && v < vm->nvol; v++)
			needed |= vm->vol[v].slot == FSM_SLOT_NONE;
	}
	uint32_t budget = FL_MIN(fsm_slots_free(&a->fsm), ARB_SLOT_ALLOCS_PER_ROUND);
	if (!needed || budget == 0 || !due(a, &a->ldr.slot_proposed_us))
		return;
	slots_propose(a, true, &budget);
	slots_propose(a, false, &budget);
	FL_ASSERT(budget <= ARB_SLOT_ALLOCS_PER_ROUND);
}

/* The host's mailbox says FENCED, and not the status we already cleared. */
static bool seen_fenced(const struct arb *a, uint32_t h)
{
	const struct arb_mb_seen *s = &a->mb.seen[h];
	return s->valid && s->status == MB_FENCED && s->status_seq > s->cleared_seq;
}

static enum cls_state leader_classify(struct arb *a, uint32_t h, uint64_t now)
{
	struct cls_obs o;
	memset(&o, 0, sizeof(o));
	const struct ls_host_obs *lo = ls_host(a->ls, h);
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	uint64_t heard = arb_heard_us(a, h);
	o.net_age_us = heard ? now - heard : CLS_NEVER;
	o.disk = cls_disk_from_ls((int)ls_host_state(a->ls, h));
	o.disk_change_us = lo == NULL ? now : lo->change_seen ? lo->changed_us : lo->first_seen_us;
	o.generation = lo ? lo->generation : 0;
	/* FENCED is believed from the disk only: a view saying so just makes
	 * us read the host's mailbox soon (arb_leader_tick). */
	o.fenced = seen_fenced(a, h);
	o.left = fh != NULL && fh->state == FSM_HOST_LEFT;
	bool had = a->cls[h].valid;
	uint8_t was = a->cls[h].state;
	enum cls_state s = cls_update(&a->cls[h], &o, &a->tim, now);
	/* Each host's own view, one line per change (the cluster scenarios'
	 * timelines read when each host saw a fault from these). */
	if (!had || was != (uint8_t)s)
		fl_notice("host %" PRIu64 ": host %u is %s (was %s)", a->cfg.host_id, h, cls_state_name(s),
			  had ? cls_state_name((enum cls_state)was) : "unknown");
	return s;
}

static uint32_t vms_placed_on(const struct arb *a, uint32_t h)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->nlvm; i++) {
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, i);
		n += vm != NULL && vm->desired_host == h && vm->restart != FSM_RESTART_NEVER;
	}
	return n;
}

/* Hosts other than h that could take VMs now: UP (or us), not quarantined
 * and no fence pending; the same filter placement applies. */
static uint32_t up_hosts_other_than(const struct arb *a, uint32_t h)
{
	uint32_t n = 0;
	uint64_t ct = arb_cluster_time(a);
	for (uint32_t id = 1; id <= a->cfg.layout.max_hosts; id++) {
		const struct fsm_host *fh = fsm_host_find(&a->fsm, id);
		if (id == h || fh == NULL || fh->fence.active || fh->quarantine_until_us > ct)
			continue;
		if (id == a->cfg.host_id || (a->cls[id].valid && a->cls[id].state == CLS_UP))
			n++;
	}
	return n;
}

/* The host states are the causes 1..6 (fsm.h keeps the history's copy). */
_Static_assert(CLS_UP == (int)FSM_CAUSE_UP && CLS_PARTITIONED == (int)FSM_CAUSE_PARTITIONED &&
		       CLS_STORAGE_LOST == (int)FSM_CAUSE_STORAGE_LOST && CLS_DEAD == (int)FSM_CAUSE_DEAD &&
		       CLS_FENCED == (int)FSM_CAUSE_FENCED && CLS_LEFT == (int)FSM_CAUSE_LEFT,
	       "enum fsm_cause 1..6 must be enum cls_state");

/* Why we act on host h: its state as we classify it. */
static uint8_t host_cause(const struct arb *a, uint32_t h)
{
	FL_ASSERT(h <= ARB_MAX_HOSTS);
	return a->cls[h].valid ? a->cls[h].state : FSM_CAUSE_NONE;
}

/* The event history: a host's state as we classify it, once it differs
 * from the one last noted, and never in our first H as leader (a new
 * leader's records start empty: a host it has not heard yet is not news);
 * at most one note per host per retry interval. */
static void leader_note_host(struct arb *a, uint32_t h, enum cls_state s, uint64_t now)
{
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	if (fh == NULL || !a->cls[h].valid || fh->noted_state == (uint8_t)s || now - a->ldr.ct_local_us < a->tim.h_us)
		return;
	if (s == CLS_LEFT && fh->state == FSM_HOST_LEFT)
		return; /* the removal is its own event */
	if (!due(a, &a->ldr.note_us[h]))
		return;
	struct fsm_cmd cmd = {.type = FSM_CMD_NOTE, .flag = FSM_NOTE_HOST_STATE, .host_id = h, .reason = (uint8_t)s};
	cmd.origin.cause = (uint8_t)s;
	(void)leader_propose(a, &cmd); /* due() retries */
}

/* Our election, once per term, and the hosts that became Raft voters. */
static void leader_note_self(struct arb *a)
{
	if (!a->ldr.leader_noted) {
		struct fsm_cmd cmd = {.type = FSM_CMD_NOTE, .flag = FSM_NOTE_LEADER};
		cmd.origin.cause = FSM_CAUSE_ELECTED;
		a->ldr.leader_noted = leader_propose(a, &cmd) == 0;
	}
	uint32_t me = (uint32_t)a->cfg.host_id;
	const struct fsm_host *self = fsm_host_find(&a->fsm, me);
	if (self != NULL && self->noted_state != FSM_CAUSE_UP && self->noted_state != 0 &&
	    due(a, &a->ldr.note_us[me])) {
		struct fsm_cmd cmd = {.type = FSM_CMD_NOTE, .flag = FSM_NOTE_HOST_STATE, .host_id = me,
				      .reason = FSM_CAUSE_UP};
		cmd.origin.cause = FSM_CAUSE_UP;
		(void)leader_propose(a, &cmd); /* due() retries */
	}
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	for (uint32_t i = 0; c && i < c->n; i++) {
		uint64_t id = c->servers[i].id;
		const struct fsm_host *fh = id <= ARB_MAX_HOSTS ? fsm_host_find(&a->fsm, (uint32_t)id) : NULL;
		if (fh == NULL || fh->noted_voter || c->servers[i].role != RAFT_VOTER ||
		    !due(a, &a->ldr.note_us[id]))
			continue;
		struct fsm_cmd cmd = {.type = FSM_CMD_NOTE, .flag = FSM_NOTE_VOTER, .host_id = (uint32_t)id};
		(void)leader_propose(a, &cmd); /* due() retries */
	}
}

/* One host's fence life cycle (see the file comment). */
static void leader_fence_host(struct arb *a, uint32_t h, enum cls_state s, uint64_t now)
{
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	struct arb_mb_seen *seen = &a->mb.seen[h];
	bool is_fenced = seen_fenced(a, h);
	assert_leader(a);
	FL_ASSERT(h != a->cfg.host_id); /* our own fence is leader_self_clear's */
	FL_ASSERT(h <= ARB_MAX_HOSTS);
	if (fh == NULL || fh->state != FSM_HOST_JOINED)
		return;
	if (!fh->fence.active) {
		bool pill = cls_should_poison_pill(s, a->cls[h].since_us, a->cfg.p_us, now);
		if ((pill || is_fenced) && due(a, &a->ldr.proposed_us[h])) {
			fl_notice("host %" PRIu64 ": fencing host %u (%s)", a->cfg.host_id, h,
				  is_fenced ? "it says FENCED" : "partitioned longer than P");
			struct fsm_cmd cmd = {.type = FSM_CMD_FENCE_REQUEST, .host_id = h,
					      .reason = FSM_FENCE_PARTITIONED};
			cmd.origin.cause = is_fenced ? FSM_CAUSE_FENCED : FSM_CAUSE_PARTITIONED;
			(void)leader_propose(a, &cmd); /* logged; due() retries */
		}
		return;
	}
	if (!fh->fence.acked) {
		bool asked = seen->valid && seen->our_req_kind == MB_FENCE && seen->our_req_seq > seen->ack_seq;
		bool answered = is_fenced || (seen->valid && seen->our_req_kind == MB_FENCE &&
						seen->ack_kind == MB_FENCED && seen->ack_seq == seen->our_req_seq);
		if (answered && due(a, &a->ldr.proposed_us[h])) {
			struct fsm_cmd cmd = {.type = FSM_CMD_FENCE_ACK, .host_id = h,
					      .fence_index = fh->fence.req_index};
			cmd.origin.cause = FSM_CAUSE_FENCED;
			(void)leader_propose(a, &cmd); /* logged; due() retries */
		} else if (!asked && !answered && !arb_mb_queued(a, MBJ_SEND, h)) {
			arb_mb_enqueue(a, MBJ_SEND, h, MB_FENCE);
		}
		if (!arb_mb_queued(a, MBJ_READ, h))
			arb_mb_enqueue(a, MBJ_READ, h, 0);
		return;
	}
	/* Acked: clear once it is back and nothing of it is left to move;
	 * an operator's fence stays until the operator lifts it. */
	if (fh->fence.reason == FSM_FENCE_OPERATOR)
		return;
	bool back = arb_heard_us(a, h) != 0 && now - arb_heard_us(a, h) < a->tim.h_us &&
		    ls_host_state(a->ls, h) == LS_HOST_LIVE && (a->view_flags[h] & ARB_VIEW_QUORATE);
	if (!back || (vms_placed_on(a, h) > 0 && up_hosts_other_than(a, h) > 0))
		return;
	if (!due(a, &a->ldr.proposed_us[h]))
		return;
	fl_notice("host %" PRIu64 ": host %u is back: clearing its fence", a->cfg.host_id, h);
	seen->cleared_seq = seen->status_seq;
	if (!arb_mb_queued(a, MBJ_SEND, h))
		arb_mb_enqueue(a, MBJ_SEND, h, MB_CLEAR);
	struct fsm_cmd cmd = {.type = FSM_CMD_FENCE_CLEAR, .host_id = h};
	cmd.origin.cause = FSM_CAUSE_BACK;
	(void)leader_propose(a, &cmd); /* logged; due() retries */
}

/* Flap damping must not leave VMs down: when the plan has VMs with no
 * candidate while an UP candidate is only held back by its quarantine, the
 * quarantine of the one fenced longest ago is lifted early. */
static bool plan_lacks_candidates(const struct plc_plan *p)
{
	for (uint32_t i = 0; i < p->n_unplaced; i++)
		if (p->unplaced[i].reason == PLC_NO_CANDIDATE)
			return true;
	return false;
}

static void leader_unquarantine(struct arb *a, const uint32_t *cand, uint32_t nc, uint64_t ct)
{
	uint32_t best = 0;
	uint64_t best_stamp = UINT64_MAX;
	if (!plan_lacks_candidates(&a->plan))
		return;
	for (uint32_t i = 0; i < nc; i++) {
		const struct fsm_host *fh = fsm_host_find(&a->fsm, cand[i]);
		if (fh == NULL || fh->quarantine_until_us <= ct || fh->fence.active ||
		    fh->quarantine_until_us == FSM_QUARANTINE_DRAINED)
			continue; /* a drained host stays so until the operator undrains it */
		uint64_t last = fh->fence_total ? fh->fence_stamps_us[(fh->fence_total - 1) % FSM_FENCE_HISTORY] : 0;
		if (last < best_stamp) {
			best_stamp = last;
			best = cand[i];
		}
	}
	if (best == 0 || !due(a, &a->ldr.proposed_us[best]))
		return;
	fl_notice("host %" PRIu64 ": no other host can run the VMs: lifting the quarantine of host %u",
		  a->cfg.host_id, best);
	struct fsm_cmd cmd = {.type = FSM_CMD_QUARANTINE_CLEAR, .host_id = best};
	cmd.origin.cause = FSM_CAUSE_NO_CANDIDATE;
	(void)leader_propose(a, &cmd); /* logged; due() retries */
}

/* VMs every eligible host failed to start are marked FAILED, for the
 * operator (fencelock vm clear) to look at; nothing places them meanwhile. */
static void leader_mark_failed(struct arb *a, uint64_t now, uint64_t ct)
{
	for (uint32_t i = 0; i < a->plan.n_unplaced; i++) {
		const struct plc_unplaced *u = &a->plan.unplaced[i];
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, u->vm_idx);
		if (u->reason != PLC_ALL_FAILED || u->from_host != 0 || vm == NULL)
			continue;
		if (a->ldr.place_proposed_inc[u->vm_idx] == vm->incarnation &&
		    now - a->ldr.place_proposed_us[u->vm_idx] < retry_us(a))
			continue;
		struct fsm_cmd cmd = {.type = FSM_CMD_VM_FAIL, .stamp_us = ct, .incarnation = vm->incarnation};
		memcpy(cmd.uid, vm->uid, sizeof(cmd.uid));
		if (leader_propose(a, &cmd) != 0)
			continue; /* logged; proposed again next tick */
		a->ldr.place_proposed_inc[u->vm_idx] = vm->incarnation;
		a->ldr.place_proposed_us[u->vm_idx] = now;
		fl_notice("host %" PRIu64 ": VM %s failed to start on every eligible host: FAILED until an operator "
			  "clears it", a->cfg.host_id, vm->uid);
	}
}

/* Drained by the operator (FSM_QUARANTINE_DRAINED): its VMs are moved. */
static bool host_drained(const struct arb *a, uint32_t h)
{
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	return fh != NULL && fh->state == FSM_HOST_JOINED && fh->quarantine_until_us == FSM_QUARANTINE_DRAINED;
}

/* VMs of failed hosts (or pending) that no candidate has room for: they
 * wait, counted in the status and logged now and then, never placed over
 * a host's max_vms. */
static void leader_waiting(struct arb *a, uint64_t now)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->plan.n_unplaced; i++)
		n += a->plan.unplaced[i].reason == PLC_NO_CANDIDATE;
	if (n > 0 && (n != a->ldr.vms_waiting || now - a->ldr.waiting_noted_us >= 60u * FL_US_PER_S)) {
		fl_notice("host %" PRIu64 ": %u VMs wait for a host: every candidate is at its max_vms or none is UP",
			  a->cfg.host_id, n);
		a->ldr.waiting_noted_us = now;
	}
	a->ldr.vms_waiting = n;
}

static void leader_place(struct arb *a, const uint32_t *failed, uint32_t nf, const uint32_t *cand, uint32_t nc)
{
	assert_leader(a);
	FL_ASSERT(nc >= 1); /* we are a candidate ourselves */
	FL_ASSERT(cand[0] == a->cfg.host_id);
	uint64_t now = arb_now(a), ct = arb_cluster_time(a);
	uint32_t caps[ARB_MAX_HOSTS + 1];
	FL_ASSERT(nc <= ARB_MAX_HOSTS + 1);
	for (uint32_t i = 0; i < nc; i++) /* [host] max_vms: ours, and what each candidate's view says */
		caps[i] = cand[i] == a->cfg.host_id ? a->cfg.max_vms : a->view_flags[cand[i]] >> ARB_VIEW_CAP_SHIFT;
	if (plc_compute(&a->plan, &a->fsm, failed, nf, cand, caps, nc, &a->cfg.plc, ct) != 0)
		return;
	leader_waiting(a, now);
	leader_unquarantine(a, cand, nc, ct);
	leader_mark_failed(a, now, ct);
	for (uint32_t i = 0; i < a->plan.n_moves; i++) {
		const struct plc_move *m = &a->plan.moves[i];
		if (a->ldr.place_proposed_inc[m->vm_idx] == m->incarnation && now - a->ldr.place_proposed_us[m->vm_idx] <
									     retry_us(a))
			continue;
		struct fsm_cmd cmd;
		plc_move_cmd(&a->fsm, m, ct, &cmd);
		cmd.origin.cause = m->from_host != 0 ? host_cause(a, m->from_host) : FSM_CAUSE_PENDING;
		if (m->from_host != 0 && host_drained(a, m->from_host))
			cmd.origin.cause = FSM_CAUSE_OPERATOR;
		if (leader_propose(a, &cmd) != 0)
			continue; /* logged; proposed again next tick */
		a->ldr.place_proposed_inc[m->vm_idx] = m->incarnation;
		a->ldr.place_proposed_us[m->vm_idx] = now;
		if (m->from_host != 0) {
			a->ctr.takeovers++;
			fl_notice("host %" PRIu64 ": VM %u moves from host %u to host %u", a->cfg.host_id, m->vm_idx,
				  m->from_host, m->to_host);
		}
	}
}

void arb_leader_hand_off(struct arb *a)
{
	uint64_t now = arb_now(a), best_age = UINT64_MAX;
	uint32_t best = 0;
	assert_leader(a);
	FL_ASSERT(!arb_lease_valid(a)); /* a leader hands off only without its delta lease */
	if (!due(a, &a->ldr.transfer_us))
		return;
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	for (uint32_t i = 0; c && i < c->n; i++) {
		uint32_t h = (uint32_t)c->servers[i].id;
		if (h == a->cfg.host_id || h > ARB_MAX_HOSTS || c->servers[i].role != RAFT_VOTER)
			continue;
		if (!(a->view_flags[h] & ARB_VIEW_LEASE) || a->last_heard_us[h] == 0)
			continue;
		if (now - a->last_heard_us[h] < best_age) {
			best_age = now - a->last_heard_us[h];
			best = h;
		}
	}
	if (best == 0)
		return;
	fl_notice("host %" PRIu64 ": our delta lease is not valid: handing leadership to host %u", a->cfg.host_id,
		  best);
	int rv = raft_node_transfer(a->node, best);
	if (rv != 0)
		fl_notice("host %" PRIu64 ": handing leadership to host %u failed: %s; tried again later",
			  a->cfg.host_id, best, fl_strerror(rv));
}

/* A quorate leader with a valid lease that is itself fenced clears its own
 * fence: its mailbox status (it fenced itself while cut off, then became
 * leader, e.g. as the survivor of a two-node cluster) and its FSM fence record
 * (a clear proposed by an earlier leader may have been lost in the change of
 * leader; a fence-pending host is no candidate for placement). Its VMs are
 * down, and it is the authority that would clear anyone else's fence. */
static void leader_self_clear(struct arb *a)
{
	uint32_t me = (uint32_t)a->cfg.host_id;
	const struct fsm_host *fh = fsm_host_find(&a->fsm, me);
	bool record = fh != NULL && fh->fence.active;
	assert_leader(a);
	FL_ASSERT(a->quorate);
	FL_ASSERT(arb_lease_valid(a));
	if ((!a->fenced_status && !record) || a->pill || !arb_vms_all_idle(a) || !due(a, &a->ldr.proposed_us[me]))
		return;
	fl_notice("host %u: leader and fenced: clearing our own fence", me);
	if (a->fenced_status && !arb_mb_queued(a, MBJ_SEND, me))
		arb_mb_enqueue(a, MBJ_SEND, me, MB_CLEAR);
	if (record) {
		struct fsm_cmd cmd = {.type = FSM_CMD_FENCE_CLEAR, .host_id = me};
		cmd.origin.cause = FSM_CAUSE_BACK;
		(void)leader_propose(a, &cmd); /* logged; due() retries */
	}
}

int arb_host_add(struct arb *a, uint32_t host_id, const char *name, const char *addr)
{
	if (!arb_is_leader(a))
		return -FL_ENOTLEADER;
	if (host_id == 0 || host_id > a->cfg.layout.max_hosts)
		return -FL_EINVAL;
	if (fsm_host_find(&a->fsm, host_id) == NULL) {
		struct fsm_cmd cmd = {.type = FSM_CMD_HOST_ADD, .host_id = host_id, .role = FSM_ROLE_VOTER};
		snprintf(cmd.name, sizeof(cmd.name), "%s", name && name[0] ? name : "host");
		snprintf(cmd.addr, sizeof(cmd.addr), "%s", addr && addr[0] ? addr : "unknown");
		int rv = arb_propose_cmd(a, &cmd);
		if (rv != 0)
			return rv;
	}
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	if (raft_config_find(c, host_id) < 0) {
		int rv = raft_node_add(a->node, host_id);
		if (rv != 0)
			return rv;
	}
	return 0;
}

int arb_host_remove(struct arb *a, uint32_t host_id)
{
	if (!arb_is_leader(a))
		return -FL_ENOTLEADER;
	if (host_id == 0 || host_id > a->cfg.layout.max_hosts || host_id == a->cfg.host_id)
		return -FL_EINVAL;
	if (vms_placed_on(a, host_id) > 0)
		return -FL_EBUSY;
	const struct raft_config *c = raft_configuration(raft_node_core(a->node), NULL);
	if (raft_config_find(c, host_id) >= 0) {
		int rv = raft_node_remove(a->node, host_id);
		if (rv != 0)
			return rv;
	}
	struct fsm_cmd cmd = {.type = FSM_CMD_HOST_REMOVE, .host_id = host_id};
	return arb_propose_cmd(a, &cmd);
}

/* A host that may take a voter's place: this leader, or a JOINED host the
 * FSM allows to vote (role VOTER), with no fence and no quarantine, that
 * the leader classified UP and whose recent view says quorate with a valid
 * delta lease (the placement candidates' rule). */
static bool member_healthy(const struct arb *a, uint32_t h, uint64_t now)
{
	if (h == a->cfg.host_id)
		return true;
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	uint32_t need = ARB_VIEW_QUORATE | ARB_VIEW_LEASE;
	if (fh == NULL || fh->state != FSM_HOST_JOINED || fh->role != FSM_ROLE_VOTER || fh->fence.active ||
	    fh->quarantine_until_us != 0)
		return false;
	return a->cls[h].valid && a->cls[h].state == CLS_UP && (a->view_flags[h] & need) == need &&
	       !(a->view_flags[h] & ARB_VIEW_FENCED) && a->view_us[h] != 0 && now - a->view_us[h] < a->tim.h_us;
}

/* A voter that should make room: LEFT in the FSM, or classified as a host
 * whose VMs may be taken over (DEAD, FENCED, storage lost past D). Never
 * this leader. */
static bool member_failed(const struct arb *a, uint32_t h, uint64_t now)
{
	if (h == a->cfg.host_id)
		return false;
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	if (fh != NULL && fh->state == FSM_HOST_LEFT)
		return true;
	return a->cls[h].valid && cls_may_take_over((enum cls_state)a->cls[h].state, a->cls[h].since_us, &a->tim, now);
}

struct member_plan {
	uint32_t host_voters;  /* host voters in the configuration */
	uint32_t failed;       /* a failed host voter (0: none) */
	uint32_t spare;        /* the voter to demote when there are too many (0: none) */
	uint32_t learner;      /* the healthy learner to promote (0: none) */
	int witness;           /* the disk voter's index in the configuration, or -1 */
};

static void member_plan(const struct arb *a, const struct raft_config *c, uint64_t now, struct member_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->witness = raft_config_find(c, ARB_WITNESS_ID);
	bool spare_healthy = true;
	for (uint32_t i = 0; i < c->n; i++) {
		uint64_t id = c->servers[i].id;
		if (id > ARB_MAX_HOSTS)
			continue;
		uint32_t h = (uint32_t)id;
		bool healthy = member_healthy(a, h, now);
		if (c->servers[i].role == RAFT_LEARNER) {
			if (healthy && (p->learner == 0 || h < p->learner))
				p->learner = h;
			continue;
		}
		p->host_voters++;
		if (member_failed(a, h, now) && p->failed == 0)
			p->failed = h;
		/* Too many voters: a failed one first, then one that is not
		 * healthy, then the highest id; never ourselves. */
		if (h == a->cfg.host_id)
			continue;
		if (p->spare == 0 || (spare_healthy && !healthy) || (spare_healthy == healthy && h > p->spare)) {
			p->spare = h;
			spare_healthy = healthy;
		}
	}
	if (p->failed != 0)
		p->spare = p->failed;
}

/* Keeps cfg.voters host voters, replacing failed ones with healthy learners,
 * and the disk voter a voter exactly while the number of host voters is
 * even. Raft takes one single-server change at a time (it answers
 * -FL_EBUSY meanwhile): each tick tries the next one, in this order:
 *   1. a failed voter is demoted, but only when a healthy learner can take
 *      its place (a cluster without spare hosts keeps its voters as before);
 *      demoting first lowers the majority a dead voter was part of;
 *   2. voters beyond cfg.voters are demoted (after a bootstrap with more);
 *   3. a healthy learner is promoted while there are fewer than cfg.voters
 *      (raft_promote waits until it has caught up with the log);
 *   4. the disk voter follows the parity of the host voters.
 * A learner never counts towards a majority (Raft's rule), so the cluster's
 * quorum is always a majority of the voters of its newest configuration;
 * a demotion or promotion is one voter in or out, so any two successive
 * majorities overlap and no committed entry is lost (thesis §4.1). */
static void leader_membership(struct arb *a)
{
	assert_leader(a);
	struct raft *r = raft_node_core(a->node);
	const struct raft_config *c = raft_configuration(r, NULL);
	struct member_plan p;
	member_plan(a, c, arb_now(a), &p);
	FL_ASSERT(p.host_voters >= 1); /* we lead, so we are a voter */
	FL_ASSERT(p.spare != a->cfg.host_id);
	if (p.failed != 0 && p.learner != 0 && p.host_voters > 1) {
		leader_member_result(a, "demoting failed voter", p.failed, raft_node_demote(a->node, p.failed));
		return;
	}
	if (p.host_voters > a->cfg.voters && p.spare != 0) {
		leader_member_result(a, "demoting voter beyond the voter set", p.spare, raft_node_demote(a->node, p.spare));
		return;
	}
	if (p.host_voters < a->cfg.voters && p.learner != 0) {
		int rv = raft_node_promote(a->node, p.learner);
		if (rv != -FL_EAGAIN) /* queued until it catches up: nothing else meanwhile */
			leader_member_result(a, "promoting host", p.learner, rv);
		return;
	}
	bool want = p.host_voters % 2 == 0;
	if (!due(a, &a->ldr.member_us))
		return;
	if (want && p.witness < 0)
		leader_member_result(a, "adding the disk voter", ARB_WITNESS_ID, raft_node_add(a->node, ARB_WITNESS_ID));
	else if (want && c->servers[p.witness].role == RAFT_LEARNER)
		leader_member_result(a, "promoting the disk voter", ARB_WITNESS_ID,
				     raft_node_promote(a->node, ARB_WITNESS_ID));
	else if (!want && p.witness >= 0)
		leader_member_result(a, "removing the disk voter", ARB_WITNESS_ID,
				     raft_node_remove(a->node, ARB_WITNESS_ID));
}

/* Every host classifies every other host, for its status; only the leader
 * acts on it. A follower's view of the network is its own plus what peers'
 * views relay, so it may lag the leader's by a tick. */
void arb_classify_all(struct arb *a)
{
	uint64_t now = arb_now(a);
	for (uint32_t h = 1; h <= a->cfg.layout.max_hosts; h++)
		if (h != a->cfg.host_id && fsm_host_find(&a->fsm, h) != NULL)
			leader_classify(a, h, now);
}

/* How often the leader reads the mailbox of a host that is not UP: every R,
 * but every tick once a FENCED answer is due (a fence requested and not
 * acknowledged, or PARTITIONED for P less R, when the host fences itself):
 * the hand-over after a partition waits for that read. */
static uint64_t mailbox_read_every(const struct arb *a, uint32_t h, enum cls_state s, uint64_t now)
{
	const struct fsm_host *fh = fsm_host_find(&a->fsm, h);
	bool due_soon = (fh != NULL && fh->fence.active && !fh->fence.acked) ||
			(s == CLS_PARTITIONED && a->cls[h].since_us + a->cfg.p_us <= now + a->tim.r_us);
	return due_soon ? a->cfg.tick_us : a->tim.r_us;
}

/* The leader's duties, once per tick. Only a quorate leader with a valid
 * delta lease decides for the cluster (arb_tick_fn calls us only then). */
void arb_leader_tick(struct arb *a)
{
	uint64_t now = arb_now(a);
	assert_leader(a);
	FL_ASSERT(a->quorate);
	FL_ASSERT(arb_lease_valid(a));
	leader_self_clear(a);
	leader_membership(a);
	leader_note_self(a);
	uint32_t failed[ARB_MAX_HOSTS], cand[ARB_MAX_HOSTS + 1], nf = 0, nc = 0;
	leader_hosts(a);
	leader_rename(a);
	leader_slots(a);
	cand[nc++] = (uint32_t)a->cfg.host_id;
	if (host_drained(a, (uint32_t)a->cfg.host_id) && vms_placed_on(a, (uint32_t)a->cfg.host_id) > 0)
		failed[nf++] = (uint32_t)a->cfg.host_id; /* placement drops us as a candidate */
	for (uint32_t h = 1; h <= a->cfg.layout.max_hosts; h++) {
		if (h == a->cfg.host_id || fsm_host_find(&a->fsm, h) == NULL)
			continue;
		enum cls_state s = leader_classify(a, h, now);
		bool says_fenced = (a->view_flags[h] & ARB_VIEW_FENCED) != 0;
		if ((s != CLS_UP || says_fenced) && s != CLS_LEFT && !arb_mb_queued(a, MBJ_READ, h) &&
		    now - a->mb.seen[h].read_us >= mailbox_read_every(a, h, s, now))
			arb_mb_enqueue(a, MBJ_READ, h, 0);
		leader_fence_host(a, h, s, now);
		FL_ASSERT(nc <= ARB_MAX_HOSTS);
		FL_ASSERT(nf < ARB_MAX_HOSTS);
		/* A candidate must be UP, say it is quorate with a valid lease, and
		 * not be fenced: a host that cannot hear us cannot start a VM. */
		uint32_t need = ARB_VIEW_QUORATE | ARB_VIEW_LEASE;
		if (s == CLS_UP && (a->view_flags[h] & need) == need && !says_fenced &&
		    now - a->view_us[h] < a->tim.h_us)
			cand[nc++] = h;
		else if (cls_may_take_over(s, a->cls[h].since_us, &a->tim, now) && vms_placed_on(a, h) > 0)
			failed[nf++] = h;
		if (host_drained(a, h) && vms_placed_on(a, h) > 0 && (nf == 0 || failed[nf - 1] != h))
			failed[nf++] = h; /* a candidate too, but placement drops it (quarantined) */
		struct fsm_cmd q;
		if (plc_flap_check(&a->fsm, h, &a->cfg.plc, arb_cluster_time(a), &q) && due(a, &a->ldr.proposed_us[h])) {
			q.origin.cause = FSM_CAUSE_FLAPPING;
			(void)leader_propose(a, &q); /* logged; due() retries */
		}
		leader_note_host(a, h, s, now);
	}
	leader_place(a, failed, nf, cand, nc);
}
