/* Unit tests of recovery placement and flap damping (plugin/model/placement.c):
 * spreading over the least-loaded candidates, quarantine and failed hosts
 * excluded, restart=never and "no candidate" reported, determinism, plans
 * that land through the FSM's compare-and-set, and WSFC-style quarantine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/assert.h"
#include "common/rand.h"
#include "fencelock/error.h"
#include "plugin/model/fsm.h"
#include "plugin/model/placement.h"

#define MIN_US (60ull * 1000000ull)
#define HOUR_US (60 * MIN_US)

struct tp {
	struct fsm f;
	struct plc_plan plan;
	struct plc_params pp;
	uint64_t index;
	uint64_t now_us;
	const uint32_t *caps;   /* per-candidate capacities for plan(), NULL: none */
};

static int setup(void **state)
{
	struct tp *t = calloc(1, sizeof(*t));
	struct fsm_limits l;
	fsm_limits_default(&l);
	l.max_hosts = 8;
	l.max_vms = 32;
	l.spec_max_bytes = 64;
	if (t == NULL || fsm_init(&t->f, &l) != 0 || plc_plan_init(&t->plan, &l) != 0)
		return -1;
	plc_params_default(&t->pp);
	t->now_us = 10 * HOUR_US;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tp *t = *state;
	plc_plan_free(&t->plan);
	fsm_free(&t->f);
	free(t);
	return 0;
}

static int apply(struct tp *t, struct fsm_cmd *c)
{
	c->stamp_us = t->now_us;
	return fsm_apply_cmd(&t->f, ++t->index, 1, c);
}

static void hosts(struct tp *t, uint32_t n)
{
	for (uint32_t id = 1; id <= n; id++) {
		struct fsm_cmd c = {.type = FSM_CMD_HOST_ADD, .host_id = id, .role = FSM_ROLE_VOTER};
		snprintf(c.name, sizeof(c.name), "h%u", id);
		strcpy(c.addr, "a");
		assert_int_equal(apply(t, &c), 0);
	}
}

/* Registers VM "<prefix><k>" with restart policy r and places it on host. */
static void vms_on(struct tp *t, const char *prefix, uint32_t n, uint32_t host, uint8_t r)
{
	for (uint32_t k = 0; k < n; k++) {
		struct fsm_cmd c = {.type = FSM_CMD_VM_REGISTER, .restart = r};
		snprintf(c.uid, sizeof(c.uid), "%s%u", prefix, k);
		assert_int_equal(apply(t, &c), 0);
		struct fsm_cmd p = {.type = FSM_CMD_VM_PLACE, .host_id = host};
		memcpy(p.uid, c.uid, sizeof(p.uid));
		if (host != 0)
			assert_int_equal(apply(t, &p), 0);
	}
}

static int plan(struct tp *t, const uint32_t *failed, uint32_t nf, const uint32_t *cand, uint32_t nc)
{
	return plc_compute(&t->plan, &t->f, failed, nf, cand, t->caps, nc, &t->pp, t->now_us);
}

static uint32_t moved_to(const struct tp *t, uint32_t host)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->plan.n_moves; i++)
		n += t->plan.moves[i].to_host == host;
	return n;
}

/* Field by field: the structs have padding, which memcmp would compare. */
static void assert_moves_equal(const struct plc_move *a, const struct plc_move *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(a[i].vm_idx, b[i].vm_idx);
		assert_int_equal(a[i].from_host, b[i].from_host);
		assert_int_equal(a[i].to_host, b[i].to_host);
		assert_true(a[i].incarnation == b[i].incarnation);
	}
}

static void fence(struct tp *t, uint32_t host)
{
	struct fsm_cmd c = {.type = FSM_CMD_FENCE_REQUEST, .host_id = host, .reason = FSM_FENCE_PARTITIONED};
	assert_int_equal(apply(t, &c), 0);
	struct fsm_cmd k = {.type = FSM_CMD_FENCE_CLEAR, .host_id = host};
	assert_int_equal(apply(t, &k), 0);
}

/* ---- start failures ---- */

static void start_failed(struct tp *t, const char *uid, uint32_t host)
{
	const struct fsm_vm *vm = fsm_vm_find(&t->f, uid, NULL);
	struct fsm_cmd c = {.type = FSM_CMD_VM_START_FAILED, .host_id = host, .incarnation = vm->incarnation};
	strcpy(c.uid, uid);
	assert_int_equal(apply(t, &c), 0);
}

static void a_vm_that_failed_to_start_is_placed_on_a_host_that_did_not_fail(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "vm", 1, 1, FSM_RESTART_ALWAYS);
	start_failed(t, "vm0", 1);
	uint32_t cand[] = {1, 2, 3};
	assert_int_equal(plan(t, NULL, 0, cand, 3), 0);
	assert_int_equal(t->plan.n_moves, 1);
	assert_int_equal(t->plan.moves[0].to_host, 2);
	assert_int_equal(t->plan.moves[0].from_host, 0);
}

static void a_vm_every_candidate_failed_to_start_is_reported_all_failed(void **state)
{
	struct tp *t = *state;
	hosts(t, 2);
	vms_on(t, "vm", 1, 1, FSM_RESTART_ON_FAILURE);
	start_failed(t, "vm0", 1);
	struct fsm_cmd p = {.type = FSM_CMD_VM_PLACE, .host_id = 2, .incarnation = 2};
	strcpy(p.uid, "vm0");
	assert_int_equal(apply(t, &p), 0);
	start_failed(t, "vm0", 2);
	uint32_t cand[] = {1, 2};
	assert_int_equal(plan(t, NULL, 0, cand, 2), 0);
	assert_int_equal(t->plan.n_moves, 0);
	assert_int_equal(t->plan.n_unplaced, 1);
	assert_int_equal(t->plan.unplaced[0].reason, PLC_ALL_FAILED);
	/* Once FAILED it is left alone. */
	struct fsm_cmd f = {.type = FSM_CMD_VM_FAIL, .incarnation = 4};
	strcpy(f.uid, "vm0");
	assert_int_equal(apply(t, &f), 0);
	assert_int_equal(plan(t, NULL, 0, cand, 2), 0);
	assert_int_equal(t->plan.n_moves + t->plan.n_unplaced, 0);
}

static void a_dead_hosts_vm_avoids_hosts_that_failed_to_start_it(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "vm", 1, 1, FSM_RESTART_ALWAYS);
	start_failed(t, "vm0", 1);
	struct fsm_cmd p = {.type = FSM_CMD_VM_PLACE, .host_id = 3, .incarnation = 2};
	strcpy(p.uid, "vm0");
	assert_int_equal(apply(t, &p), 0);
	uint32_t failed[] = {3}, cand[] = {1, 2};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(t->plan.n_moves, 1);
	assert_int_equal(t->plan.moves[0].to_host, 2);
}

/* ---- spreading ---- */

static void vms_of_a_dead_host_spread_evenly_over_candidates(void **state)
{
	struct tp *t = *state;
	hosts(t, 4);
	vms_on(t, "vm", 6, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {2, 3, 4};
	assert_int_equal(plan(t, failed, 1, cand, 3), 0);
	assert_int_equal(t->plan.n_moves, 6);
	assert_int_equal(t->plan.n_unplaced, 0);
	for (uint32_t h = 2; h <= 4; h++)
		assert_int_equal(moved_to(t, h), 2);
	assert_int_equal(t->plan.moves[0].from_host, 1);
	assert_int_equal(t->plan.moves[0].to_host, 2);
}

static void least_loaded_candidate_goes_first_and_ties_go_to_the_lowest_id(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "old", 2, 2, FSM_RESTART_ALWAYS);
	vms_on(t, "vm", 3, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {3, 2};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(t->plan.n_moves, 3);
	assert_int_equal(t->plan.moves[0].to_host, 3);   /* loads 2:2 3:0 */
	assert_int_equal(t->plan.moves[1].to_host, 3);   /* 2:2 3:1 */
	assert_int_equal(t->plan.moves[2].to_host, 2);   /* 2:2 3:2, tie: lowest id */
}

static void candidate_order_and_duplicates_do_not_change_the_plan(void **state)
{
	struct tp *t = *state;
	hosts(t, 5);
	vms_on(t, "vm", 7, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, c1[] = {2, 3, 4, 5}, c2[] = {5, 3, 5, 2, 4, 2};
	assert_int_equal(plan(t, failed, 1, c1, 4), 0);
	struct plc_move a[7];
	assert_int_equal(t->plan.n_moves, 7);
	memcpy(a, t->plan.moves, sizeof(a));
	assert_int_equal(plan(t, failed, 1, c2, 6), 0);
	assert_int_equal(t->plan.n_moves, 7);
	assert_moves_equal(a, t->plan.moves, 7);
}

/* ---- exclusions ---- */

static void a_quarantined_host_receives_nothing(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "vm", 4, 1, FSM_RESTART_ALWAYS);
	struct fsm_cmd q = {.type = FSM_CMD_QUARANTINE_SET, .host_id = 2, .until_us = t->now_us + HOUR_US};
	assert_int_equal(apply(t, &q), 0);
	uint32_t failed[] = {1}, cand[] = {2, 3};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(moved_to(t, 2), 0);
	assert_int_equal(moved_to(t, 3), 4);
	t->now_us += HOUR_US;   /* the quarantine is over */
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(moved_to(t, 2), 2);
}

static void failed_left_and_unknown_hosts_are_never_candidates(void **state)
{
	struct tp *t = *state;
	hosts(t, 4);
	vms_on(t, "a", 2, 1, FSM_RESTART_ALWAYS);
	vms_on(t, "b", 2, 2, FSM_RESTART_ALWAYS);
	struct fsm_cmd rm = {.type = FSM_CMD_HOST_REMOVE, .host_id = 3};
	assert_int_equal(apply(t, &rm), 0);
	uint32_t failed[] = {1, 2}, cand[] = {1, 2, 3, 4, 9};
	assert_int_equal(plan(t, failed, 2, cand, 5), 0);
	assert_int_equal(t->plan.n_moves, 4);
	assert_int_equal(moved_to(t, 4), 4);
}

static void a_host_with_a_pending_fence_receives_nothing(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "vm", 2, 1, FSM_RESTART_ALWAYS);
	struct fsm_cmd c = {.type = FSM_CMD_FENCE_REQUEST, .host_id = 2, .reason = FSM_FENCE_OPERATOR};
	assert_int_equal(apply(t, &c), 0);
	uint32_t failed[] = {1}, cand[] = {2, 3};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(moved_to(t, 2), 0);
	assert_int_equal(moved_to(t, 3), 2);
}

static void restart_never_vms_are_reported_and_stay(void **state)
{
	struct tp *t = *state;
	hosts(t, 2);
	vms_on(t, "keep", 1, 1, FSM_RESTART_NEVER);
	vms_on(t, "vm", 1, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {2};
	assert_int_equal(plan(t, failed, 1, cand, 1), 0);
	assert_int_equal(t->plan.n_moves, 1);
	assert_int_equal(t->plan.n_unplaced, 1);
	assert_int_equal(t->plan.unplaced[0].reason, PLC_NEVER_RESTART);
	assert_string_equal(fsm_vm_at(&t->f, t->plan.unplaced[0].vm_idx)->uid, "keep0");
	assert_int_equal(t->plan.unplaced[0].from_host, 1);
}

static void with_no_candidate_vms_stay_unplaced_and_are_reported(void **state)
{
	struct tp *t = *state;
	hosts(t, 2);
	vms_on(t, "vm", 3, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {1};
	assert_int_equal(plan(t, failed, 1, cand, 1), 0);
	assert_int_equal(t->plan.n_moves, 0);
	assert_int_equal(t->plan.n_unplaced, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(t->plan.unplaced[i].reason, PLC_NO_CANDIDATE);
	assert_int_equal(plan(t, failed, 1, NULL, 0), 0);
	assert_int_equal(t->plan.n_unplaced, 3);
}

static void per_host_limit_is_respected_and_the_overflow_reported(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "old", 1, 2, FSM_RESTART_ALWAYS);
	vms_on(t, "vm", 4, 1, FSM_RESTART_ALWAYS);
	t->pp.max_vms_per_host = 2;
	uint32_t failed[] = {1}, cand[] = {2, 3};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(moved_to(t, 2), 1);
	assert_int_equal(moved_to(t, 3), 2);
	assert_int_equal(t->plan.n_unplaced, 1);
	assert_int_equal(t->plan.unplaced[0].reason, PLC_NO_CANDIDATE);
}

/* [host] max_vms: each candidate's own capacity, counting what it runs
 * already; the VMs spread over the hosts with room and the rest wait. */
static void each_host_capacity_is_respected_and_the_rest_wait(void **state)
{
	struct tp *t = *state;
	hosts(t, 4);
	vms_on(t, "old", 2, 2, FSM_RESTART_ALWAYS);
	vms_on(t, "vm", 10, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {4, 2, 3}, caps[] = {3, 3, 0};
	t->caps = caps; /* host 2 holds 2 of its 3, host 4 3, host 3 no limit */
	assert_int_equal(plan(t, failed, 1, cand, 3), 0);
	assert_int_equal(moved_to(t, 2), 1);
	assert_int_equal(moved_to(t, 4), 3);
	assert_int_equal(moved_to(t, 3), 6);
	assert_int_equal(t->plan.n_unplaced, 0);
	/* Every host with a limit: what does not fit waits (no candidate), none is put over a limit. */
	uint32_t caps2[] = {3, 3, 2};
	t->caps = caps2;
	assert_int_equal(plan(t, failed, 1, cand, 3), 0);
	assert_int_equal(moved_to(t, 2), 1);
	assert_int_equal(moved_to(t, 4), 3);
	assert_int_equal(moved_to(t, 3), 2);
	assert_int_equal(t->plan.n_moves, 6);
	assert_int_equal(t->plan.n_unplaced, 4);
	for (uint32_t i = 0; i < t->plan.n_unplaced; i++) {
		assert_int_equal(t->plan.unplaced[i].reason, PLC_NO_CANDIDATE);
		assert_int_equal(t->plan.unplaced[i].from_host, 1);
	}
	/* The cluster's limit and a host's own: the smaller counts. */
	t->pp.max_vms_per_host = 1;
	assert_int_equal(plan(t, failed, 1, cand, 3), 0);
	assert_int_equal(moved_to(t, 2), 0); /* holds 2 already */
	assert_int_equal(moved_to(t, 4), 1);
	assert_int_equal(moved_to(t, 3), 1);
	/* A host at capacity is skipped even when it is the least loaded by id order. */
	t->pp.max_vms_per_host = 0;
	uint32_t caps3[] = {0, 2, 0};
	t->caps = caps3;
	assert_int_equal(plan(t, failed, 1, cand, 3), 0);
	assert_int_equal(moved_to(t, 2), 0);
	assert_int_equal(moved_to(t, 3) + moved_to(t, 4), 10);
	assert_true(moved_to(t, 3) == 5 && moved_to(t, 4) == 5);
}

static void vms_on_healthy_hosts_are_not_touched(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "a", 2, 2, FSM_RESTART_ALWAYS);
	vms_on(t, "none", 1, 0, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {2, 3};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(t->plan.n_moves, 0);
	assert_int_equal(t->plan.n_unplaced, 0);
}

static void unplaced_vms_are_placed_only_when_asked(void **state)
{
	struct tp *t = *state;
	hosts(t, 2);
	vms_on(t, "new", 2, 0, FSM_RESTART_ALWAYS);
	vms_on(t, "idle", 1, 0, FSM_RESTART_NEVER);
	uint32_t cand[] = {1, 2};
	t->pp.include_unplaced = true;
	assert_int_equal(plan(t, NULL, 0, cand, 2), 0);
	assert_int_equal(t->plan.n_moves, 2);
	assert_int_equal(t->plan.moves[0].from_host, 0);
	assert_int_equal(t->plan.n_unplaced, 0);   /* restart=never without a host is left alone */
}

static void oversized_sets_and_bad_parameters_are_invalid(void **state)
{
	struct tp *t = *state;
	uint32_t many[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	assert_int_equal(plan(t, many, 9, many, 1), -FL_EINVAL);
	assert_int_equal(plan(t, many, 1, many, 9), -FL_EINVAL);
	t->pp.flap_fences = FSM_FENCE_HISTORY + 1;
	assert_int_equal(plan(t, many, 1, many, 1), -FL_EINVAL);
}

/* ---- through the FSM ---- */

static void a_plan_lands_through_the_fsm_once_and_only_once(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "vm", 4, 1, FSM_RESTART_ALWAYS);
	uint32_t failed[] = {1}, cand[] = {2, 3};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	struct fsm_cmd c;
	for (uint32_t i = 0; i < t->plan.n_moves; i++) {
		plc_move_cmd(&t->f, &t->plan.moves[i], t->now_us, &c);
		assert_int_equal(fsm_apply_cmd(&t->f, ++t->index, 1, &c), 0);
	}
	assert_int_equal(fsm_vms_on_host(&t->f, 1, NULL, 0), 0);
	assert_int_equal(fsm_vms_on_host(&t->f, 2, NULL, 0), 2);
	/* A second leader proposing the same (now stale) plan changes nothing. */
	for (uint32_t i = 0; i < t->plan.n_moves; i++) {
		plc_move_cmd(&t->f, &t->plan.moves[i], t->now_us, &c);
		c.host_id = 1 + (c.host_id % 3);
		assert_int_equal(fsm_apply_cmd(&t->f, ++t->index, 1, &c), -FL_ESTALE);
	}
	assert_int_equal(fsm_vms_on_host(&t->f, 2, NULL, 0), 2);
}

static void identical_states_give_identical_plans(void **state)
{
	struct tp *a = *state;
	struct tp *b = NULL;
	assert_int_equal(setup((void **)&b), 0);
	struct tp *both[2] = {a, b};
	for (int k = 0; k < 2; k++) {
		hosts(both[k], 6);
		vms_on(both[k], "x", 5, 1, FSM_RESTART_ALWAYS);
		vms_on(both[k], "y", 4, 2, FSM_RESTART_ALWAYS);
		vms_on(both[k], "z", 3, 3, FSM_RESTART_NEVER);
		vms_on(both[k], "w", 2, 4, FSM_RESTART_ALWAYS);
	}
	uint32_t failed[] = {1, 3}, ca[] = {2, 4, 5, 6}, cb[] = {6, 5, 4, 2};
	assert_int_equal(plan(a, failed, 2, ca, 4), 0);
	assert_int_equal(plan(b, failed, 2, cb, 4), 0);
	assert_int_equal(a->plan.n_moves, 5);
	assert_int_equal(b->plan.n_moves, 5);
	assert_moves_equal(a->plan.moves, b->plan.moves, 5);
	assert_int_equal(a->plan.n_unplaced, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(a->plan.unplaced[i].vm_idx, b->plan.unplaced[i].vm_idx);
		assert_int_equal(a->plan.unplaced[i].reason, b->plan.unplaced[i].reason);
	}
	void *bs = b;
	teardown(&bs);
}

/* A random cluster: 8 hosts, up to 30 VMs on random hosts, some hosts
 * quarantined, fence-pending or gone; random failed and candidate sets. */
static void random_cluster(struct tp *t, struct fl_rand *r, uint32_t *failed, uint32_t *nf,
			   uint32_t *cand, uint32_t *nc)
{
	hosts(t, 8);
	uint32_t nvm = (uint32_t)fl_rand_below(r, 31);
	for (uint32_t k = 0; k < nvm; k++) {
		char uid[16];
		snprintf(uid, sizeof(uid), "v%u", k);
		vms_on(t, uid, 1, (uint32_t)fl_rand_below(r, 9), fl_rand_chance(r, 1, 5) ? FSM_RESTART_NEVER
											 : FSM_RESTART_ALWAYS);
	}
	for (uint32_t id = 1; id <= 8; id++) {
		struct fsm_cmd c = {.host_id = id, .reason = FSM_FENCE_OPERATOR, .until_us = t->now_us + HOUR_US};
		uint64_t dice = fl_rand_below(r, 6);
		c.type = dice == 0 ? FSM_CMD_QUARANTINE_SET : dice == 1 ? FSM_CMD_FENCE_REQUEST
			 : dice == 2 ? FSM_CMD_HOST_REMOVE : 0;
		if (c.type != 0)
			apply(t, &c);   /* HOST_REMOVE is refused while VMs are placed: fine */
	}
	*nf = *nc = 0;
	for (uint32_t id = 1; id <= 9; id++) {
		if (fl_rand_chance(r, 1, 3))
			failed[(*nf)++] = id;
		if (fl_rand_chance(r, 1, 2) && *nc < 8)
			cand[(*nc)++] = id;
	}
	if (*nf > 8)
		*nf = 8;
}

static bool usable(const struct tp *t, uint32_t id, const uint32_t *failed, uint32_t nf,
		   const uint32_t *cand, uint32_t nc)
{
	const struct fsm_host *h = fsm_host_find(&t->f, id);
	bool in_cand = false, in_failed = false;
	for (uint32_t i = 0; i < nc; i++)
		in_cand |= cand[i] == id;
	for (uint32_t i = 0; i < nf; i++)
		in_failed |= failed[i] == id;
	return h != NULL && in_cand && !in_failed && h->state == FSM_HOST_JOINED && !h->fence.active &&
	       !fsm_host_quarantined(&t->f, id, t->now_us);
}

/* Checks one random plan: every VM of a failed host is accounted for once,
 * targets are usable, the spread is greedy-balanced, and the FSM takes it. */
static void check_random_plan(struct tp *t, const uint32_t *failed, uint32_t nf, const uint32_t *cand,
			      uint32_t nc)
{
	uint32_t seen[32] = {0}, expect = 0, n_usable = 0, min_load = UINT32_MAX;
	for (uint32_t i = 0; i < t->f.lim.max_vms; i++) {
		const struct fsm_vm *vm = fsm_vm_at(&t->f, i);
		for (uint32_t k = 0; vm != NULL && k < nf; k++)
			expect += vm->desired_host == failed[k];
	}
	for (uint32_t i = 0; i < t->plan.n_moves; i++) {
		const struct plc_move *m = &t->plan.moves[i];
		assert_true(usable(t, m->to_host, failed, nf, cand, nc));
		assert_int_equal(fsm_vm_at(&t->f, m->vm_idx)->restart, FSM_RESTART_ALWAYS);
		seen[m->vm_idx]++;
	}
	for (uint32_t i = 0; i < t->plan.n_unplaced; i++)
		seen[t->plan.unplaced[i].vm_idx]++;
	assert_int_equal(t->plan.n_moves + t->plan.n_unplaced, expect);
	for (uint32_t i = 0; i < 32; i++)
		assert_true(seen[i] <= 1);
	for (uint32_t id = 1; id <= 8; id++) {
		if (!usable(t, id, failed, nf, cand, nc))
			continue;
		n_usable++;
		min_load = FL_MIN(min_load, fsm_vms_on_host(&t->f, id, NULL, 0) + moved_to(t, id));
	}
	for (uint32_t i = 0; i < t->plan.n_unplaced; i++)
		assert_true(t->plan.unplaced[i].reason == PLC_NEVER_RESTART || n_usable == 0);
	for (uint32_t id = 1; id <= 8; id++)
		if (moved_to(t, id) > 0)
			assert_true(fsm_vms_on_host(&t->f, id, NULL, 0) + moved_to(t, id) <= min_load + 1);
	for (uint32_t i = 0; i < t->plan.n_moves; i++) {
		struct fsm_cmd c;
		plc_move_cmd(&t->f, &t->plan.moves[i], t->now_us, &c);
		assert_int_equal(fsm_apply_cmd(&t->f, ++t->index, 1, &c), 0);
	}
}

static void random_plans_account_for_every_vm_and_stay_balanced(void **state)
{
	struct tp *t = *state;
	struct fl_rand r;
	fl_rand_seed(&r, 77);
	uint32_t moves = 0, stuck = 0;
	for (int round = 0; round < 300; round++) {
		fsm_reset(&t->f);
		t->index = 0;
		uint32_t failed[9], cand[9], nf, nc;
		random_cluster(t, &r, failed, &nf, cand, &nc);
		assert_int_equal(plan(t, failed, nf, cand, nc), 0);
		moves += t->plan.n_moves;
		for (uint32_t i = 0; i < t->plan.n_unplaced; i++)
			stuck += t->plan.unplaced[i].reason == PLC_NO_CANDIDATE;
		check_random_plan(t, failed, nf, cand, nc);
	}
	assert_true(moves > 300 && stuck > 10);   /* both paths were exercised */
}

/* ---- flap damping ---- */

static void third_fence_within_an_hour_quarantines_for_two_hours(void **state)
{
	struct tp *t = *state;
	hosts(t, 2);
	struct fsm_cmd q;
	fence(t, 1);
	t->now_us += 20 * MIN_US;
	fence(t, 1);
	assert_false(plc_flap_check(&t->f, 1, &t->pp, t->now_us, &q));
	t->now_us += 20 * MIN_US;
	fence(t, 1);
	assert_true(plc_flap_check(&t->f, 1, &t->pp, t->now_us, &q));
	assert_int_equal(q.type, FSM_CMD_QUARANTINE_SET);
	assert_int_equal(q.host_id, 1);
	assert_true(q.until_us == t->now_us + 2 * HOUR_US);
	assert_int_equal(apply(t, &q), 0);
	assert_true(fsm_host_quarantined(&t->f, 1, t->now_us + 2 * HOUR_US - 1));
	assert_false(fsm_host_quarantined(&t->f, 1, t->now_us + 2 * HOUR_US));
	/* Already quarantined: nothing more to propose. */
	assert_false(plc_flap_check(&t->f, 1, &t->pp, t->now_us, &q));
}

static void fences_spread_over_more_than_the_window_do_not_quarantine(void **state)
{
	struct tp *t = *state;
	hosts(t, 1);
	struct fsm_cmd q;
	for (int i = 0; i < 5; i++) {
		fence(t, 1);
		assert_false(plc_flap_check(&t->f, 1, &t->pp, t->now_us, &q));
		t->now_us += 31 * MIN_US;
	}
	assert_false(plc_flap_check(&t->f, 9, &t->pp, t->now_us, &q));
}

static void a_flapping_host_is_kept_out_of_the_next_plan(void **state)
{
	struct tp *t = *state;
	hosts(t, 3);
	vms_on(t, "vm", 2, 1, FSM_RESTART_ALWAYS);
	for (int i = 0; i < 3; i++)
		fence(t, 2);
	struct fsm_cmd q;
	assert_true(plc_flap_check(&t->f, 2, &t->pp, t->now_us, &q));
	assert_int_equal(apply(t, &q), 0);
	uint32_t failed[] = {1}, cand[] = {2, 3};
	assert_int_equal(plan(t, failed, 1, cand, 2), 0);
	assert_int_equal(moved_to(t, 3), 2);
	assert_int_equal(moved_to(t, 2), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(vms_of_a_dead_host_spread_evenly_over_candidates),
		T(least_loaded_candidate_goes_first_and_ties_go_to_the_lowest_id),
		T(candidate_order_and_duplicates_do_not_change_the_plan),
		T(a_quarantined_host_receives_nothing),
		T(failed_left_and_unknown_hosts_are_never_candidates),
		T(a_host_with_a_pending_fence_receives_nothing),
		T(restart_never_vms_are_reported_and_stay),
		T(with_no_candidate_vms_stay_unplaced_and_are_reported),
		T(per_host_limit_is_respected_and_the_overflow_reported),
		T(each_host_capacity_is_respected_and_the_rest_wait),
		T(vms_on_healthy_hosts_are_not_touched),
		T(unplaced_vms_are_placed_only_when_asked),
		T(oversized_sets_and_bad_parameters_are_invalid),
		T(a_plan_lands_through_the_fsm_once_and_only_once),
		T(identical_states_give_identical_plans),
		T(random_plans_account_for_every_vm_and_stay_balanced),
		T(third_fence_within_an_hour_quarantines_for_two_hours),
		T(fences_spread_over_more_than_the_window_do_not_quarantine),
		T(a_flapping_host_is_kept_out_of_the_next_plan),
		T(a_vm_that_failed_to_start_is_placed_on_a_host_that_did_not_fail),
		T(a_vm_every_candidate_failed_to_start_is_reported_all_failed),
		T(a_dead_hosts_vm_avoids_hosts_that_failed_to_start_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
