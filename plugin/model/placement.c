/* Recovery placement and flap damping (see placement.h). Deterministic: the
 * candidate list is sorted by host_id, loads come from the FSM, VMs are taken
 * in FSM table order (identical on every host, snapshots included), and the
 * only tie-break is the host_id. Every loop is bounded by the FSM's limits,
 * and the plan's arrays, sized at start-up, can hold every VM. */
#include <stdlib.h>
#include <string.h>
#include "plugin/model/placement.h"
#include "common/assert.h"
#include "fencelock/error.h"

#define PLC_HOUR_US (3600ull * 1000000ull)

void plc_params_default(struct plc_params *p)
{
	FL_ASSERT(p != NULL);
	memset(p, 0, sizeof(*p));
	p->flap_fences = 3;
	p->flap_window_us = PLC_HOUR_US;
	p->quarantine_us = 2 * PLC_HOUR_US;
	FL_ASSERT(plc_params_check(p) == 0);
}

int plc_params_check(const struct plc_params *p)
{
	FL_ASSERT(p != NULL);
	if (p->flap_fences == 0 || p->flap_fences > FSM_FENCE_HISTORY ||
	    p->flap_window_us == 0 || p->quarantine_us == 0)
		return -FL_EINVAL;
	return 0;
}

int plc_plan_init(struct plc_plan *p, const struct fsm_limits *l)
{
	FL_ASSERT(p != NULL);
	FL_ASSERT(l != NULL);
	FL_ASSERT(l->max_vms > 0);
	FL_ASSERT(l->max_hosts > 0);
	memset(p, 0, sizeof(*p));
	p->max_vms = l->max_vms;
	p->max_hosts = l->max_hosts;
	p->moves = calloc(l->max_vms, sizeof(*p->moves));
	p->unplaced = calloc(l->max_vms, sizeof(*p->unplaced));
	p->cand = calloc(l->max_hosts, sizeof(*p->cand));
	p->load = calloc(l->max_hosts, sizeof(*p->load));
	p->cap = calloc(l->max_hosts, sizeof(*p->cap));
	if (p->moves == NULL || p->unplaced == NULL || p->cand == NULL || p->load == NULL || p->cap == NULL) {
		plc_plan_free(p);
		return -FL_ENOMEM;
	}
	return 0;
}

void plc_plan_free(struct plc_plan *p)
{
	FL_ASSERT(p != NULL);
	free(p->moves);
	free(p->unplaced);
	free(p->cand);
	free(p->load);
	free(p->cap);
	memset(p, 0, sizeof(*p));
}

static bool id_in(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Keeps the usable candidates, sorted by host_id, with their capacity and
 * current load. */
static void candidates_build(struct plc_plan *p, const struct fsm *f, const uint32_t *failed, uint32_t n_failed,
			     const uint32_t *candidates, const uint32_t *caps, uint32_t n_cand, uint64_t now_us)
{
	p->n_cand = 0;
	for (uint32_t i = 0; i < n_cand; i++) {
		uint32_t id = candidates[i];
		const struct fsm_host *h = fsm_host_find(f, id);
		if (h == NULL || h->state != FSM_HOST_JOINED || h->fence.active ||
		    fsm_host_quarantined(f, id, now_us) ||
		    id_in(failed, n_failed, id) || id_in(p->cand, p->n_cand, id))
			continue;
		FL_ASSERT(p->n_cand < p->max_hosts);
		uint32_t k = p->n_cand++;
		for (; k > 0 && p->cand[k - 1] > id; k--) {  /* insertion sort: ascending ids */
			p->cand[k] = p->cand[k - 1];
			p->cap[k] = p->cap[k - 1];
		}
		p->cand[k] = id;
		p->cap[k] = caps != NULL ? caps[i] : 0;
	}
	for (uint32_t i = 0; i < p->n_cand; i++)
		p->load[i] = fsm_vms_on_host(f, p->cand[i], NULL, 0);
}

/* What candidate i takes at most: the smaller of its own capacity and the
 * cluster's per-host limit; 0 = no limit. */
static uint32_t cand_limit(const struct plc_plan *p, uint32_t max_per_host, uint32_t i)
{
	if (p->cap[i] == 0)
		return max_per_host;
	return max_per_host == 0 ? p->cap[i] : FL_MIN(p->cap[i], max_per_host);
}

/* The least-loaded candidate under its limit that has not already failed
 * to start vm (ties: lowest id), or -1. */
static int candidate_pick(const struct plc_plan *p, uint32_t max_per_host, const struct fsm_vm *vm)
{
	int best = -1;
	for (uint32_t i = 0; i < p->n_cand; i++) {
		uint32_t limit = cand_limit(p, max_per_host, i);
		if ((limit != 0 && p->load[i] >= limit) || fsm_vm_failed_on(vm, p->cand[i]))
			continue;
		if (best < 0 || p->load[i] < p->load[best])
			best = (int)i;
	}
	return best;
}

/* True if there are candidates and vm failed to start on every one. */
static bool all_candidates_failed(const struct plc_plan *p, const struct fsm_vm *vm)
{
	for (uint32_t i = 0; i < p->n_cand; i++)
		if (!fsm_vm_failed_on(vm, p->cand[i]))
			return false;
	return p->n_cand > 0;
}

/* Why vm gets no candidate. */
static uint8_t unplaced_reason(const struct plc_plan *p, const struct fsm *f, const struct fsm_vm *vm, uint32_t i)
{
	if (vm->restart == FSM_RESTART_NEVER)
		return PLC_NEVER_RESTART;
	if (all_candidates_failed(p, vm))
		return PLC_ALL_FAILED;
	for (uint32_t k = 0; k < vm->nvol; k++)
		if (fsm_volume_holder(f, vm->vol[k].id, vm->vol[k].ro, i) != NULL)
			return PLC_VOLUME_HELD;
	return PLC_NO_CANDIDATE;
}

int plc_compute(struct plc_plan *p, const struct fsm *f, const uint32_t *failed, uint32_t n_failed,
		const uint32_t *candidates, const uint32_t *caps, uint32_t n_cand, const struct plc_params *pp,
		uint64_t now_us)
{
	FL_ASSERT(p != NULL);
	FL_ASSERT(f != NULL);
	FL_ASSERT(pp != NULL);
	FL_ASSERT(p->max_vms == f->lim.max_vms);
	FL_ASSERT(p->max_hosts == f->lim.max_hosts);
	p->n_moves = 0;
	p->n_unplaced = 0;
	p->n_cand = 0;
	if (n_failed > f->lim.max_hosts || n_cand > f->lim.max_hosts || plc_params_check(pp) != 0 ||
	    (n_failed > 0 && failed == NULL) || (n_cand > 0 && candidates == NULL))
		return -FL_EINVAL;
	candidates_build(p, f, failed, n_failed, candidates, caps, n_cand, now_us);
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		const struct fsm_vm *vm = fsm_vm_at(f, i);
		if (vm == NULL || vm->failed)
			continue;
		bool orphan = vm->desired_host == 0 && vm->restart != FSM_RESTART_NEVER &&
			      (vm->pending || (pp->include_unplaced && vm->restart == FSM_RESTART_ALWAYS));
		if (!orphan && (vm->desired_host == 0 || !id_in(failed, n_failed, vm->desired_host)))
			continue;
		uint8_t why = unplaced_reason(p, f, vm, i);
		int c = why == PLC_NEVER_RESTART || (orphan && why == PLC_VOLUME_HELD)
				? -1 : candidate_pick(p, pp->max_vms_per_host, vm);
		if (c < 0) {
			p->unplaced[p->n_unplaced++] = (struct plc_unplaced){
				.vm_idx = i, .from_host = vm->desired_host, .reason = why};
			continue;
		}
		p->moves[p->n_moves++] = (struct plc_move){.vm_idx = i, .from_host = vm->desired_host,
							   .to_host = p->cand[c], .incarnation = vm->incarnation};
		p->load[c]++;
		FL_ASSERT(cand_limit(p, pp->max_vms_per_host, (uint32_t)c) == 0 ||
			  p->load[c] <= cand_limit(p, pp->max_vms_per_host, (uint32_t)c));
	}
	FL_ASSERT(p->n_moves + p->n_unplaced <= p->max_vms);
	return 0;
}

void plc_move_cmd(const struct fsm *f, const struct plc_move *m, uint64_t stamp_us, struct fsm_cmd *out)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(m != NULL);
	FL_ASSERT(out != NULL);
	const struct fsm_vm *vm = fsm_vm_at(f, m->vm_idx);
	FL_ASSERT(vm != NULL);
	FL_ASSERT(m->to_host != 0);
	memset(out, 0, sizeof(*out));
	out->type = FSM_CMD_VM_PLACE;
	out->stamp_us = stamp_us;
	memcpy(out->uid, vm->uid, sizeof(out->uid));
	out->host_id = m->to_host;
	out->incarnation = m->incarnation;
}

bool plc_flap_check(const struct fsm *f, uint32_t host_id, const struct plc_params *pp, uint64_t now_us,
		    struct fsm_cmd *out)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(pp != NULL);
	FL_ASSERT(out != NULL);
	FL_ASSERT(plc_params_check(pp) == 0);
	if (fsm_host_find(f, host_id) == NULL || fsm_host_quarantined(f, host_id, now_us))
		return false;
	uint64_t since = now_us > pp->flap_window_us ? now_us - pp->flap_window_us : 0;
	if (fsm_host_fences_since(f, host_id, since) < pp->flap_fences)
		return false;
	memset(out, 0, sizeof(*out));
	out->type = FSM_CMD_QUARANTINE_SET;
	out->stamp_us = now_us;
	out->host_id = host_id;
	out->until_us = now_us + pp->quarantine_us;
	return true;
}
