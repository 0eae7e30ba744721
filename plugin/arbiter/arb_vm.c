/* The arbiter's local VMs: acquiring their volume leases, starting them,
 * stopping them (moved away, self-fence, poison pill, lost storage) and
 * releasing their leases once they are dead.
 *
 * A VM runs here only while this host holds the lease of every one of its
 * volumes, and its leases are released only after it is dead (the runtime
 * reports death after flushing the VM's volumes). Each VM goes
 * IDLE -> ACQUIRING -> RUNNING -> KILLING -> RELEASING -> IDLE; a failed
 * acquire goes ABORTING (release what was acquired) -> IDLE and is retried
 * after one renewal interval. Start conditions (all required): our delta lease
 * is valid, we are quorate and caught up with the leader's commit index, no
 * fence is pending or in force in our mailbox, and the FSM places the VM here
 * with an incarnation we did not give up. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"
#include "plugin/arbiter/arb_mutant.h"

static void lvm_step(struct arb_lvm *l);

enum vl_owner_state arb_owner_state(void *ctx, uint64_t host_id, uint64_t generation)
{
	struct arb *a = ctx;
	if (host_id == a->cfg.host_id)
		return generation < a->generation ? VL_OWNER_NEWER_GEN : VL_OWNER_LIVE;
	const struct ls_host_obs *o = ls_host(a->ls, host_id);
	if (o == NULL)
		return VL_OWNER_UNKNOWN;
	if (o->seen && o->error == 0 && o->generation > generation)
		return VL_OWNER_NEWER_GEN;
	switch (ls_host_state(a->ls, host_id)) {
	case LS_HOST_FREE: return VL_OWNER_FREE;
	case LS_HOST_LIVE: return VL_OWNER_LIVE;
	case LS_HOST_FAIL: return VL_OWNER_FAIL;
	case LS_HOST_DEAD: return VL_OWNER_DEAD;
	default: return VL_OWNER_UNKNOWN;
	}
}

int arb_vms_init(struct arb *a)
{
	a->nlvm = a->cfg.limits.max_vms;
	a->lvm = calloc(a->nlvm, sizeof(*a->lvm));
	if (a->lvm == NULL)
		return -FL_ENOMEM;
	for (uint32_t i = 0; i < a->nlvm; i++) {
		a->lvm[i].a = a;
		a->lvm[i].idx = i;
	}
	return 0;
}

void arb_vms_free(struct arb *a)
{
	if (a->audit.busy)
		vl_op_cancel(&a->audit.op);
	vl_op_free(&a->audit.op);
	for (uint32_t i = 0; a->lvm && i < a->nlvm; i++) {
		if (a->lvm[i].op_busy)
			vl_op_cancel(&a->lvm[i].op);
		vl_op_free(&a->lvm[i].op);
	}
	free(a->lvm);
}

/* The legal edges of enum arb_lvm_state, and nothing else: every change of a
 * local VM's state goes through arb_lvm_set_state(), which asserts it is one
 * of these (the mutant of FL_MUT_REJOIN_RESTARTS alone bypasses it, in
 * arb_mutant.c). docs/pictures.md draws the same edges; the test
 * t_docs_diagrams_match_code.sh compares the two. A VM reaches RUNNING only
 * from ACQUIRING (every volume lease won), and IDLE only through RELEASING or
 * ABORTING (every lease given back): no path skips the leases. */
static const uint8_t lvm_edges[][2] = {
	{LVM_IDLE, LVM_ACQUIRING},      /* placed here, and we may start it */
	{LVM_ACQUIRING, LVM_RUNNING},   /* every volume lease held, the VMM started */
	{LVM_ACQUIRING, LVM_ABORTING},  /* a lease refused, the lease lapsed, a stop or a fence */
	{LVM_ACQUIRING, LVM_RELEASING}, /* every lease held, but the VMM did not start */
	{LVM_ABORTING, LVM_IDLE},       /* what we acquired is released */
	{LVM_RUNNING, LVM_KILLING},     /* moved, no quorum for P, a fence, no lease */
	{LVM_RUNNING, LVM_RELEASING},   /* it exited on its own or failed to start */
	{LVM_KILLING, LVM_RELEASING},   /* the VMM is dead */
	{LVM_RELEASING, LVM_IDLE},      /* every lease released */
};

bool arb_lvm_edge_legal(enum arb_lvm_state from, enum arb_lvm_state to)
{
	for (size_t i = 0; i < FL_ARRAY_SIZE(lvm_edges); i++)
		if (lvm_edges[i][0] == from && lvm_edges[i][1] == to)
			return true;
	return false;
}

void arb_lvm_set_state(struct arb_lvm *l, enum arb_lvm_state to)
{
	FL_ASSERT(arb_lvm_edge_legal((enum arb_lvm_state)l->state, to));
	FL_ASSERT(!l->op_busy); /* no lease operation spans a change of state */
	if (l->state == LVM_ACQUIRING) {
		FL_ASSERT(l->a->n_acquiring > 0);
		l->a->n_acquiring--;
	}
	if (to == LVM_ACQUIRING)
		l->a->n_acquiring++;
	FL_ASSERT(l->a->n_acquiring <= ARB_ACQUIRING_MAX);
	if (to == LVM_IDLE)
		FL_ASSERT(l->held_mask == 0);
	if (to == LVM_ACQUIRING)
		FL_ASSERT(l->held_mask == 0);
	if (to == LVM_KILLING)
		FL_ASSERT(l->why != ARB_STOP_NONE);
	l->state = (uint8_t)to;
	l->since_us = arb_now(l->a);
}

/* Fills area for lease slot; the resource name lives in l (the op keeps it). */
static void lvm_area(struct arb_lvm *l, uint32_t slot, struct vl_area *area)
{
	const struct arb *a = l->a;
	lay_slot_name(slot, l->res_name);
	area->bdev = a->cfg.bdev;
	area->offset = lay_slot_offset(&a->cfg.layout, slot);
	area->num_hosts_hint = a->cfg.layout.max_hosts;
	area->space_name = a->cfg.layout.cluster;
	area->resource_name = l->res_name;
}

static void lvm_op_done(struct vl_op *op, void *arg)
{
	struct arb_lvm *l = arg;
	struct arb *a = l->a;
	int rv = op->res.rv;
	l->op_busy = false;
	if (l->state == LVM_ACQUIRING) {
		if (rv == 0) {
			l->held_mask |= 1u << l->vol_next;
			l->vol_next++;
		} else {
			fl_info("host %" PRIu64 ": lease of VM %u volume %u: %s (holder %" PRIu64 ")", a->cfg.host_id,
				l->idx, l->vol_next, fl_strerror(rv), op->res.busy_host_id);
			l->retry_at_us = arb_now(a) + a->tim.r_us + fl_rand_below(&a->rand, a->tim.r_us);
			arb_lvm_set_state(l, LVM_ABORTING);
			l->vol_next = 0;
		}
	} else {
		FL_ASSERT(l->state == LVM_RELEASING || l->state == LVM_ABORTING);
		/* A failed release leaves the lease to expire with our delta
		 * lease; the VM is dead either way, so we go on. */
		if (rv != 0 && rv != -FL_ENOENT)
			fl_warn("host %" PRIu64 ": release of VM %u volume %u: %s", a->cfg.host_id, l->idx,
				l->vol_next, fl_strerror(rv));
		l->held_mask &= ~(1u << l->vol_next);
		l->vol_next++;
	}
	bool was_acquiring = l->state == LVM_ACQUIRING;
	vl_op_free(op);
	lvm_step(l);
	if (was_acquiring && l->state != LVM_ACQUIRING)
		arb_vms_start_waiting(a); /* its turn is over: the next one's begins */
}

static void lvm_acquire_next(struct arb_lvm *l, const struct fsm_vm *vm)
{
	struct arb *a = l->a;
	struct vl_area area;
	l->slot[l->vol_next] = vm->vol[l->vol_next].slot;
	lvm_area(l, l->slot[l->vol_next], &area);
	struct vl_acquire_args args = {.host_id = a->cfg.host_id, .generation = a->generation,
				       .shared = vm->vol[l->vol_next].ro, .owner_state = arb_owner_state,
				       .owner_ctx = a, .rand = &a->rand};
	l->op_busy = true;
	int rv = vl_acquire_start(&l->op, &area, &args, lvm_op_done, l);
	if (rv != 0) {
		l->op_busy = false;
		l->retry_at_us = arb_now(a) + a->tim.r_us;
		arb_lvm_set_state(l, LVM_ABORTING);
		l->vol_next = 0;
		lvm_step(l);
	}
}

static void lvm_release_next(struct arb_lvm *l)
{
	struct arb *a = l->a;
	struct vl_area area;
	FL_ASSERT(l->vol_next < FSM_VOLS_MAX);
	lvm_area(l, l->slot[l->vol_next], &area);
	l->op_busy = true;
	int rv = vl_release_start(&l->op, &area, a->cfg.host_id, a->generation, lvm_op_done, l);
	if (rv != 0) {
		l->op_busy = false;
		l->held_mask &= ~(1u << l->vol_next);
		l->vol_next++;
		lvm_step(l);
	}
}

/* One more failed start of l's incarnation: retry after R, 2R, 4R, ...
 * (bounded), and after start_fail_max failures in a row give it up so the
 * leader places it on another host (VM_START_FAILED, re-proposed by
 * arb_vms_reconcile until applied). */
static void lvm_start_failure(struct arb_lvm *l, const char *uid)
{
	struct arb *a = l->a;
	if (l->fails_inc != l->incarnation) {
		l->fails_inc = l->incarnation;
		l->start_fails = 0;
	}
	l->start_fails++;
	a->ctr.start_failures++;
	uint32_t shift = FL_MIN(l->start_fails - 1, 16u);
	uint64_t delay = FL_MIN(a->tim.r_us << shift, a->cfg.start_backoff_max_us);
	l->retry_at_us = arb_now(a) + delay;
	FL_ASSERT(l->start_fails > 0);
	if (l->start_fails < a->cfg.start_fail_max) {
		fl_warn("host %" PRIu64 ": start %u of VM %s failed; next try in %" PRIu64 " ms", a->cfg.host_id,
			l->start_fails, uid, delay / 1000);
		return;
	}
	fl_warn("host %" PRIu64 ": VM %s failed to start %u times here: giving it up to another host", a->cfg.host_id,
		uid, l->start_fails);
	a->ctr.start_give_ups++;
	l->gave_up_inc = l->never_again = l->incarnation;
	l->gave_up_us = 0;
}

/* A fence is asked of us, in force, or on its way: nothing starts. */
static bool arb_fencing(const struct arb *a)
{
	return a->pill || a->fenced_status || a->want_fenced_status;
}

/* Whether we hold the lease of every volume vm has now, in the slot it has now
 * (a re-registration may change the volumes while we acquire). */
static bool lvm_holds_all(const struct arb_lvm *l, const struct fsm_vm *vm)
{
	for (uint32_t v = 0; v < vm->nvol; v++)
		if (!(l->held_mask & (1u << v)) || l->slot[v] != vm->vol[v].slot)
			return false;
	return vm->nvol > 0;
}

/* What must hold the moment a VM is started here: it is placed here, we hold
 * the lease of each of its volumes, our delta lease is valid, and no fence
 * is asked of us or in force (lvm_step checked each just before). */
static void lvm_assert_may_run(const struct arb_lvm *l, const struct fsm_vm *vm)
{
	const struct arb *a = l->a;
	FL_ASSERT(l->state == LVM_ACQUIRING);
	FL_ASSERT(l->why == ARB_STOP_NONE);
	FL_ASSERT(vm->desired_host == a->cfg.host_id);
	FL_ASSERT(lvm_holds_all(l, vm));
	FL_ASSERT(arb_lease_valid(a));
	FL_ASSERT(!a->pill);
	FL_ASSERT(!a->fenced_status);
	FL_ASSERT(!a->want_fenced_status);
}

static void lvm_started(struct arb_lvm *l, const struct fsm_vm *vm)
{
	struct arb *a = l->a;
	lvm_assert_may_run(l, vm);
	int rv = a->cfg.vm.start(a->cfg.vm.ctx, l->idx, vm, l->incarnation);
	if (rv == -FL_ECANCELED) {   /* the runtime will not run this incarnation: no failure */
		fl_info("host %" PRIu64 ": VM %s incarnation %" PRIu64 " not started here", a->cfg.host_id, vm->uid,
			l->incarnation);
		l->never_again = l->incarnation;
		l->why = ARB_STOP_START_FAILED;
		arb_lvm_set_state(l, LVM_RELEASING);
		l->vol_next = 0;
		lvm_step(l);
		return;
	}
	if (rv != 0) {
		fl_warn("host %" PRIu64 ": start of VM %s failed: %s", a->cfg.host_id, vm->uid, fl_strerror(rv));
		l->why = ARB_STOP_START_FAILED;
		lvm_start_failure(l, vm->uid);
		arb_lvm_set_state(l, LVM_RELEASING);
		l->vol_next = 0;
		lvm_step(l);
		return;
	}
	fl_info("host %" PRIu64 ": VM %s incarnation %" PRIu64 " running", a->cfg.host_id, vm->uid, l->incarnation);
	arb_lvm_set_state(l, LVM_RUNNING);
}

/* Advances l after an operation finished (or to start the next one). */
static void lvm_step(struct arb_lvm *l)
{
	struct arb *a = l->a;
	const struct fsm_vm *vm = fsm_vm_at(&a->fsm, l->idx);
	if (l->op_busy)
		return;
	if (l->state == LVM_ACQUIRING) {
		if (vm == NULL || vm->desired_host != a->cfg.host_id || !arb_lease_valid(a) ||
		    l->why != ARB_STOP_NONE || arb_fencing(a)) {
			arb_lvm_set_state(l, LVM_ABORTING);
			l->vol_next = 0;
		} else if (l->vol_next < vm->nvol) {
			lvm_acquire_next(l, vm);
			return;
		} else if (!lvm_holds_all(l, vm)) {
			fl_notice("host %" PRIu64 ": VM %s changed its volumes while we acquired them: starting over",
				  a->cfg.host_id, vm->uid);
			l->retry_at_us = arb_now(a);
			arb_lvm_set_state(l, LVM_ABORTING);
			l->vol_next = 0;
		} else {
			lvm_started(l, vm);
			return;
		}
	}
	if (l->state == LVM_RELEASING || l->state == LVM_ABORTING) {
		while (l->vol_next < FSM_VOLS_MAX && !(l->held_mask & (1u << l->vol_next)))
			l->vol_next++;
		if (l->held_mask != 0 && l->vol_next < FSM_VOLS_MAX) {
			lvm_release_next(l);
			return;
		}
		FL_ASSERT(l->held_mask == 0);
		arb_lvm_set_state(l, LVM_IDLE);
		if (a->want_fenced_status && arb_vms_all_idle(a))
			arb_mb_enqueue(a, MBJ_OWN, a->cfg.host_id, 0);
	}
}

static void lvm_stop(struct arb_lvm *l, enum arb_stop_why why, uint64_t deadline_us)
{
	struct arb *a = l->a;
	if (l->state == LVM_RUNNING) {
		l->why = (uint8_t)why;
		arb_lvm_set_state(l, LVM_KILLING);
		a->cfg.vm.kill(a->cfg.vm.ctx, l->idx, l->incarnation, deadline_us);
	} else if (l->state == LVM_ACQUIRING) {
		l->why = (uint8_t)why; /* lvm_step aborts it when the op finishes */
		if (!l->op_busy) {
			arb_lvm_set_state(l, LVM_ABORTING);
			l->vol_next = 0;
			lvm_step(l);
		}
	}
	if (why == ARB_STOP_MOVED)
		l->never_again = l->incarnation;
	arb_mut_vm_stopping(l, (int)why);
}

void arb_vm_exited(struct arb *a, uint32_t vm_idx, uint64_t incarnation)
{
	if (vm_idx >= a->nlvm)
		return;
	struct arb_lvm *l = &a->lvm[vm_idx];
	if ((l->state != LVM_RUNNING && l->state != LVM_KILLING) || l->incarnation != incarnation)
		return;
	if (l->state == LVM_RUNNING) {
		l->why = ARB_STOP_EXITED;
		l->retry_at_us = arb_now(a) + a->tim.r_us;
	}
	arb_lvm_set_state(l, LVM_RELEASING);
	l->vol_next = 0;
	lvm_step(l);
}

void arb_vm_ended(struct arb *a, uint32_t vm_idx, uint64_t incarnation)
{
	if (vm_idx >= a->nlvm)
		return;
	a->lvm[vm_idx].never_again = incarnation;
	arb_vm_exited(a, vm_idx, incarnation);
}

void arb_vm_start_failed(struct arb *a, uint32_t vm_idx, uint64_t incarnation)
{
	if (vm_idx >= a->nlvm)
		return;
	struct arb_lvm *l = &a->lvm[vm_idx];
	if (l->state != LVM_RUNNING || l->incarnation != incarnation)
		return arb_vm_exited(a, vm_idx, incarnation);
	const struct fsm_vm *vm = fsm_vm_at(&a->fsm, vm_idx);
	l->why = ARB_STOP_START_FAILED;
	lvm_start_failure(l, vm != NULL ? vm->uid : "?");
	arb_lvm_set_state(l, LVM_RELEASING);
	l->vol_next = 0;
	lvm_step(l);
}

/* Sends (again) the VM_START_FAILED of an incarnation we gave up, while
 * the FSM still places it here with that incarnation. */
static void lvm_give_up_send(struct arb_lvm *l, const struct fsm_vm *vm, uint64_t now)
{
	struct arb *a = l->a;
	if (l->gave_up_inc == 0 || vm == NULL || vm->incarnation != l->gave_up_inc ||
	    vm->desired_host != a->cfg.host_id || l->state != LVM_IDLE)
		return;
	if (l->gave_up_us != 0 && now - l->gave_up_us < a->cfg.raft.election_timeout_us)
		return;
	l->gave_up_us = now;
	struct fsm_cmd c = {.type = FSM_CMD_VM_START_FAILED, .host_id = (uint32_t)a->cfg.host_id,
			    .incarnation = l->gave_up_inc};
	memcpy(c.uid, vm->uid, sizeof(c.uid));
	int rv = arb_submit(a, &c);
	if (rv != 0)
		fl_info("host %" PRIu64 ": giving up VM %s: not proposed yet: %s", a->cfg.host_id, vm->uid,
			fl_strerror(rv));
}

void arb_vms_kill_all(struct arb *a, enum arb_stop_why why)
{
	uint64_t deadline = arb_now(a) + a->tim.k_us;
	for (uint32_t i = 0; i < a->nlvm; i++)
		lvm_stop(&a->lvm[i], why, deadline);
}

bool arb_vms_all_idle(const struct arb *a)
{
	for (uint32_t i = 0; i < a->nlvm; i++)
		if (a->lvm[i].state != LVM_IDLE)
			return false;
	return true;
}

uint32_t arb_vms_running(const struct arb *a)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->nlvm; i++)
		n += a->lvm[i].state == LVM_RUNNING;
	return n;
}

bool arb_vm_running(const struct arb *a, uint32_t vm_idx)
{
	return vm_idx < a->nlvm && a->lvm[vm_idx].state == LVM_RUNNING;
}

static bool arb_caught_up(const struct arb *a)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	return r != NULL && raft_applied_index(r) >= raft_commit_index(r) && a->fsm.last_index > 0;
}

static bool vm_has_slots(const struct fsm_vm *vm)
{
	for (uint32_t v = 0; v < vm->nvol; v++)
		if (vm->vol[v].slot == FSM_SLOT_NONE)
			return false;
	return vm->nvol > 0;
}

/* The local safety rules: they run first, whatever the FSM says. */
static void arb_vms_safety(struct arb *a, uint64_t now)
{
	if (arb_mut_no_self_fence())
		return;
	if (!arb_lease_valid(a)) {
		arb_vms_kill_all(a, ARB_STOP_STORAGE);
		return;
	}
	if (a->pill) {
		if (!a->want_fenced_status) {
			fl_notice("host %" PRIu64 ": fence request in our mailbox: stopping every VM", a->cfg.host_id);
			a->ctr.fences++;
			a->ctr.fences_pill++;
		}
		a->want_fenced_status = true;
		arb_vms_kill_all(a, ARB_STOP_PILL);
		return;
	}
	/* Without quorum a host keeps its VMs for P, so that the quorate side can
	 * take them over after that. When every other host voter is DEAD or FREE
	 * on disk there is nobody to hand them to (they hold no lease, and ours
	 * stay live): the last survivor keeps its VMs and takes the disk voter. */
	if (a->quorate || !arb_others_alive(a))
		return;
	uint64_t out_us = now - a->quorum_lost_us;
	for (uint32_t i = 0; i < a->nlvm; i++) {
		struct arb_lvm *l = &a->lvm[i];
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, i);
		if (l->state != LVM_RUNNING && l->state != LVM_ACQUIRING)
			continue;
		uint64_t p = vm && vm->ptol_us ? vm->ptol_us : a->cfg.p_us;
		if (out_us > p) {
			if (!a->want_fenced_status) {
				fl_notice("host %" PRIu64 ": not quorate for %" PRIu64 " ms: fencing ourselves",
					  a->cfg.host_id, out_us / 1000);
				a->ctr.fences++;
				a->ctr.fences_quorum++;
			}
			a->want_fenced_status = true;
			lvm_stop(l, ARB_STOP_QUORUM, now + a->tim.k_us);
		}
	}
}

/* ---- start-up audit ----
 * After a restart a host may find volume leases that still name it (an old
 * generation) for VMs the cluster has since placed elsewhere: their new
 * holder had not taken them over yet. The host cannot account for them, so it
 * reports them (log, status, metrics) and leaves them alone: it neither
 * releases them (the new holder's takeover rule lets it through, our old
 * generation being superseded) nor starts the VM. */
static void audit_next(struct arb *a);

static void audit_done_fn(struct vl_op *op, void *arg)
{
	struct arb *a = arg;
	const struct fl_leader *l = &op->res.leader;
	const struct fsm_vm *vm = fsm_vm_at(&a->fsm, a->audit.vm);
	a->audit.busy = false;
	if (op->res.rv == 0 && vm != NULL && vl_leader_held(l) && l->owner_id == a->cfg.host_id &&
	    vm->desired_host != a->cfg.host_id) {
		a->audit.unaccounted++;
		fl_warn("host %" PRIu64 ": the lease of VM %s volume %s names this host (generation %" PRIu64
			") but the VM is placed on host %u: reported, left to its new holder", a->cfg.host_id,
			vm->uid, vm->vol[a->audit.vol].path, l->owner_generation, vm->desired_host);
	}
	vl_op_free(op);
	a->audit.vol++;
	audit_next(a);
}

static void audit_next(struct arb *a)
{
	for (; a->audit.vm < a->nlvm; a->audit.vm++, a->audit.vol = 0) {
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, a->audit.vm);
		for (; vm != NULL && a->audit.vol < vm->nvol; a->audit.vol++) {
			if (vm->vol[a->audit.vol].slot == FSM_SLOT_NONE)
				continue;
			struct vl_area area = {.bdev = a->cfg.bdev,
					       .offset = lay_slot_offset(&a->cfg.layout, vm->vol[a->audit.vol].slot),
					       .num_hosts_hint = a->cfg.layout.max_hosts,
					       .space_name = a->cfg.layout.cluster,
					       .resource_name = a->audit.res};
			lay_slot_name(vm->vol[a->audit.vol].slot, a->audit.res);
			a->audit.busy = true;
			if (vl_inquire_start(&a->audit.op, &area, audit_done_fn, a) == 0)
				return;
			a->audit.busy = false;
		}
	}
	a->audit.done = true;
	if (a->audit.unaccounted)
		fl_warn("host %" PRIu64 ": %u volume lease(s) name this host for VMs placed elsewhere",
			a->cfg.host_id, a->audit.unaccounted);
}

void arb_vms_audit(struct arb *a)
{
	if (a->audit.done || a->audit.busy || !arb_lease_valid(a) || !arb_caught_up(a))
		return;
	a->audit.vm = a->audit.vol = 0;
	audit_next(a);
}

/* An idle record whose table entry now holds another VM (unregistered, a
 * new one registered in its place) forgets what it knew of the old one. */
static void lvm_follow_uid(struct arb_lvm *l, const struct fsm_vm *vm)
{
	if (l->state != LVM_IDLE || vm == NULL || strcmp(l->uid, vm->uid) == 0)
		return;
	memcpy(l->uid, vm->uid, sizeof(l->uid));
	l->never_again = l->gave_up_inc = l->fails_inc = 0;
	l->start_fails = 0;
	l->retry_at_us = 0;
}

/* Whether this host may begin to start VMs now. Nothing starts before the
 * start-up audit has looked at the leases. */
static bool arb_may_start(const struct arb *a)
{
	return arb_lease_valid(a) && a->quorate && arb_caught_up(a) && !a->pill && !a->fenced_status &&
	       !a->want_fenced_status && a->audit.done;
}

/* Begins acquiring the leases of l, an idle VM the FSM places here, if its
 * turn has come (ARB_ACQUIRING_MAX). */
static void lvm_begin(struct arb_lvm *l, const struct fsm_vm *vm, uint64_t now)
{
	struct arb *a = l->a;
	if (l->state != LVM_IDLE || vm == NULL || vm->desired_host != a->cfg.host_id || now < l->retry_at_us)
		return;
	if (vm->incarnation == l->never_again || !vm_has_slots(vm) || a->n_acquiring >= ARB_ACQUIRING_MAX)
		return;
	l->incarnation = vm->incarnation;
	l->why = ARB_STOP_NONE;
	l->vol_next = 0;
	l->held_mask = 0;
	arb_lvm_set_state(l, LVM_ACQUIRING);
	lvm_step(l);
}

void arb_vms_start_waiting(struct arb *a)
{
	if (a->starting || a->n_acquiring >= ARB_ACQUIRING_MAX || !arb_may_start(a))
		return;
	a->starting = true;
	uint64_t now = arb_now(a);
	for (uint32_t i = 0; i < a->nlvm && a->n_acquiring < ARB_ACQUIRING_MAX; i++)
		lvm_begin(&a->lvm[i], fsm_vm_at(&a->fsm, i), now);
	a->starting = false;
}

void arb_vms_reconcile(struct arb *a)
{
	uint64_t now = arb_now(a);
	arb_vms_safety(a, now);
	bool may_start = arb_may_start(a);
	arb_vms_audit(a);
	for (uint32_t i = 0; i < a->nlvm; i++) {
		struct arb_lvm *l = &a->lvm[i];
		const struct fsm_vm *vm = fsm_vm_at(&a->fsm, i);
		lvm_follow_uid(l, vm);
		bool ours = vm != NULL && vm->desired_host == a->cfg.host_id;
		if (arb_mut_vm_restart(a, l, vm, may_start))
			continue;
		if ((l->state == LVM_RUNNING || l->state == LVM_ACQUIRING) && !ours && arb_caught_up(a)) {
			lvm_stop(l, ARB_STOP_MOVED, now + a->tim.k_us);
			continue;
		}
		if (l->state == LVM_RUNNING && ours && vm->incarnation != l->incarnation)
			l->incarnation = vm->incarnation; /* re-placed here: same run */
		if (l->start_fails != 0 && vm != NULL && vm->run_state == FSM_RUN_RUNNING &&
		    vm->run_host == a->cfg.host_id && vm->incarnation == l->fails_inc)
			l->start_fails = 0; /* it runs: the failures before count no more */
		lvm_give_up_send(l, vm, now);
		if (may_start)
			lvm_begin(l, vm, now);
	}
}
