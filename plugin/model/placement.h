/* Recovery placement: where the VMs of failed hosts go, and flap damping.
 *
 * The leader calls plc_compute() with the hosts it may take over (DEAD,
 * FENCED, or STORAGE_LOST past D: classify.h's cls_may_take_over()) and the
 * quorate UP hosts it may place on. The plan is a pure function of the FSM
 * state, those two sets and the parameters: every VM of a failed host with
 * a restart policy other than never, and every pending VM (unplaced after a
 * host gave up starting it, or cleared by the operator), goes to the
 * least-loaded candidate (ties: lowest host_id), never onto a quarantined,
 * LEFT, fence-pending or failed host, never onto a host that already failed
 * to start it (the VM's failed_on list), never past the per-host limit; a
 * VM with restart=never stays where it is and is reported, as is one for
 * which no candidate is left (PLC_ALL_FAILED when every candidate failed to
 * start it: the leader then marks it FAILED). FAILED VMs are left alone. The leader turns each move into a
 * VM_PLACE command carrying the incarnation the plan saw, so a plan made on
 * a stale view is refused by the FSM rather than applied twice.
 *
 * Flap damping (WSFC-style): a host fenced flap_fences times within
 * flap_window_us of cluster time is quarantined for quarantine_us;
 * plc_flap_check() builds the QUARANTINE_SET command the leader proposes.
 * All times are cluster time (fsm.h). */
#ifndef FL_PLUGIN_PLACEMENT_H
#define FL_PLUGIN_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "plugin/model/fsm.h"

struct plc_params {
	uint32_t max_vms_per_host;  /* 0 = no limit, for every host (each may have its own: plc_compute's caps) */
	bool include_unplaced;      /* also place restart=always VMs with no host */
	uint32_t flap_fences;       /* N: quarantine at N fences in the window (1..FSM_FENCE_HISTORY) */
	uint64_t flap_window_us;    /* the window (1 h) */
	uint64_t quarantine_us;     /* how long a quarantine lasts (2 h) */
};

enum plc_reason {
	PLC_NEVER_RESTART = 1,      /* restart=never: not moved */
	PLC_NO_CANDIDATE,           /* no candidate host, or all at their limit */
	PLC_ALL_FAILED,             /* every candidate already failed to start it: FAILED */
	PLC_VOLUME_HELD,            /* a volume is held by another active VM */
};

struct plc_move {
	uint32_t vm_idx;            /* FSM VM table index */
	uint32_t from_host;         /* 0 for a VM that had no host */
	uint32_t to_host;
	uint64_t incarnation;       /* the VM's incarnation the plan saw (CAS) */
};

struct plc_unplaced {
	uint32_t vm_idx;
	uint32_t from_host;
	uint8_t reason;             /* enum plc_reason */
};

/* A plan and its scratch, sized once at start-up for the FSM's limits. */
struct plc_plan {
	uint32_t max_vms;
	uint32_t max_hosts;
	uint32_t n_moves;
	uint32_t n_unplaced;
	struct plc_move *moves;         /* [max_vms] */
	struct plc_unplaced *unplaced;  /* [max_vms] */
	uint32_t *cand;                 /* [max_hosts] candidate ids, ascending */
	uint32_t *load;                 /* [max_hosts] VMs placed on cand[i] */
	uint32_t *cap;                  /* [max_hosts] VMs cand[i] takes at most, 0 = no limit of its own */
	uint32_t n_cand;
};

/* Defaults: no per-host limit, unplaced VMs left alone, 3 fences in 1 h
 * quarantine a host for 2 h. */
void plc_params_default(struct plc_params *p);
/* 0 if *p is usable, -FL_EINVAL otherwise. */
FL_MUST_CHECK int plc_params_check(const struct plc_params *p);

/* Allocates a plan for an FSM with limits l. Returns 0 or -FL_ENOMEM. */
FL_MUST_CHECK int plc_plan_init(struct plc_plan *p, const struct fsm_limits *l);
/* Frees what plc_plan_init() allocated; p may be zeroed or already freed. */
void plc_plan_free(struct plc_plan *p);

/* Plans the recovery of the VMs whose desired host is in failed[0..n_failed)
 * onto candidates[0..n_cand) (any order, duplicates ignored; candidates that
 * are not JOINED, have a fence pending, are quarantined at now_us, or are
 * also failed are dropped: the FSM would refuse them). VMs are taken in FSM table order. Fills p (previous contents
 * discarded). caps (NULL: none) gives each candidate's own capacity, caps[i]
 * for candidates[i], 0 = no limit ([host] max_vms): a candidate with as many
 * VMs placed as its capacity (or pp->max_vms_per_host, the smaller) is
 * skipped, and a VM no candidate has room for is left unplaced
 * (PLC_NO_CANDIDATE), never put over a limit. Returns 0, or -FL_EINVAL for
 * sets larger than the host table or bad parameters. */
FL_MUST_CHECK int plc_compute(struct plc_plan *p, const struct fsm *f, const uint32_t *failed, uint32_t n_failed,
		const uint32_t *candidates, const uint32_t *caps, uint32_t n_cand, const struct plc_params *pp,
		uint64_t now_us);

/* Builds the VM_PLACE command for move m of a plan computed on f. */
void plc_move_cmd(const struct fsm *f, const struct plc_move *m, uint64_t stamp_us, struct fsm_cmd *out);

/* If host_id has been fenced at least pp->flap_fences times in the window
 * ending at now_us and is not already quarantined, builds the
 * QUARANTINE_SET command (until now_us + quarantine_us) in *out and returns
 * true; false otherwise. */
bool plc_flap_check(const struct fsm *f, uint32_t host_id, const struct plc_params *pp, uint64_t now_us,
		    struct fsm_cmd *out);

#endif
