/* The FSM's event history: each applied command that is a decision worth
 * showing (a host's state, fences, quarantines, membership, a VM placed,
 * started, stopped, given up, FAILED, a new leader) becomes one event in a
 * ring of FSM_EVENTS_MAX, derived from the command and the state around
 * it. Everything an event holds comes from the command (its origin: who
 * proposed and asked, the proposer's wall clock, the cause) or from the
 * replicated state, so every host that applied the same entries holds the
 * same history; nothing here reads a clock. The ring travels in the FSM's
 * snapshot (fsm.c). Repeats that change nothing (a second FENCED ack, a VM
 * reported running again, a registration update) make no event. */
#include <string.h>
#include "plugin/model/fsm.h"
#include "plugin/model/fsm_ev.h"
#include "common/assert.h"

static bool is_vm_cmd(uint16_t type)
{
	switch (type) {
	case FSM_CMD_VM_REGISTER:
	case FSM_CMD_VM_UNREGISTER:
	case FSM_CMD_VM_PLACE:
	case FSM_CMD_VM_REPORT:
	case FSM_CMD_VM_END:
	case FSM_CMD_VM_START_FAILED:
	case FSM_CMD_VM_FAIL:
	case FSM_CMD_VM_CLEAR: return true;
	default: return false;
	}
}

void fsm_ev_before(const struct fsm *f, const struct fsm_cmd *c, struct fsm_ev_pre *pre)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(c != NULL);
	memset(pre, 0, sizeof(*pre));
	if (is_vm_cmd(c->type)) {
		const struct fsm_vm *vm = fsm_vm_find(f, c->uid, NULL);
		pre->vm_known = vm != NULL;
		pre->vm_host = vm != NULL ? vm->desired_host : 0;
		pre->vm_run = vm != NULL ? vm->run_state : FSM_RUN_STOPPED;
	} else if (c->type == FSM_CMD_FENCE_ACK) {
		const struct fsm_host *h = fsm_host_find(f, c->host_id);
		pre->fence_acked = h != NULL && h->fence.active && h->fence.acked;
	}
}

/* The kind of event c makes, 0 for none; sets the kind-dependent fields. */
static uint8_t ev_vm(const struct fsm *f, const struct fsm_cmd *c, const struct fsm_ev_pre *pre,
		     struct fsm_event *e)
{
	const struct fsm_vm *vm = fsm_vm_find(f, c->uid, NULL);
	e->from_host = pre->vm_host;
	switch (c->type) {
	case FSM_CMD_VM_REGISTER: return pre->vm_known ? 0 : FSM_EV_VM_REGISTER;
	case FSM_CMD_VM_UNREGISTER: return FSM_EV_VM_UNREGISTER;
	case FSM_CMD_VM_PLACE:
		e->value = vm != NULL ? vm->incarnation : 0;
		return c->host_id != 0 ? FSM_EV_VM_PLACE : FSM_EV_VM_UNPLACE;
	case FSM_CMD_VM_REPORT:
		e->value = c->incarnation;
		if (c->running == pre->vm_run)
			return 0;
		return c->running ? FSM_EV_VM_START : FSM_EV_VM_STOP;
	case FSM_CMD_VM_END:
		e->state = c->flag;
		e->value = c->incarnation;
		return FSM_EV_VM_END;
	case FSM_CMD_VM_START_FAILED:
		e->value = c->incarnation;
		return FSM_EV_VM_START_FAILED;
	case FSM_CMD_VM_FAIL: return FSM_EV_VM_FAILED;
	case FSM_CMD_VM_CLEAR: return FSM_EV_VM_CLEAR;
	default: FL_UNREACHABLE("not a VM command"); return 0;
	}
}

static uint8_t ev_host(const struct fsm_cmd *c, uint64_t index, uint64_t term, const struct fsm_ev_pre *pre,
		       struct fsm_event *e)
{
	switch (c->type) {
	case FSM_CMD_HOST_ADD: e->state = c->role; return FSM_EV_HOST_ADD;
	case FSM_CMD_HOST_REMOVE: return FSM_EV_HOST_REMOVE;
	case FSM_CMD_HOST_FORGET: return FSM_EV_HOST_FORGET;
	case FSM_CMD_FENCE_REQUEST:
		e->state = c->reason;
		e->value = index;
		return FSM_EV_FENCE_REQUEST;
	case FSM_CMD_FENCE_ACK:
		e->value = c->fence_index;
		return pre->fence_acked ? 0 : FSM_EV_FENCE_ACK;
	case FSM_CMD_FENCE_CLEAR: return FSM_EV_FENCE_CLEAR;
	case FSM_CMD_QUARANTINE_SET: e->value = c->until_us; return FSM_EV_QUARANTINE;
	case FSM_CMD_QUARANTINE_CLEAR: return FSM_EV_QUARANTINE_CLEAR;
	case FSM_CMD_NOTE:
		if (c->flag == FSM_NOTE_LEADER) {
			e->host_id = c->origin.leader;
			e->value = term;
			return FSM_EV_LEADER;
		}
		e->state = c->reason;
		return c->flag == FSM_NOTE_VOTER ? FSM_EV_HOST_VOTER : FSM_EV_HOST_STATE;
	default: return 0; /* renames and lease slots are bookkeeping */
	}
}

void fsm_ev_after(struct fsm *f, uint64_t index, uint64_t term, const struct fsm_cmd *c,
		  const struct fsm_ev_pre *pre)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->ev != NULL);
	struct fsm_event e;
	memset(&e, 0, sizeof(e));
	e.host_id = c->host_id;
	uint8_t kind;
	if (is_vm_cmd(c->type)) {
		memcpy(e.uid, c->uid, sizeof(e.uid));
		kind = ev_vm(f, c, pre, &e);
	} else {
		kind = ev_host(c, index, term, pre, &e);
	}
	if (kind == 0)
		return;
	e.kind = kind;
	e.seq = f->ev_total;
	e.index = index;
	e.term = term;
	e.wall_us = c->origin.wall_us;
	e.leader = c->origin.leader;
	e.by_host = c->origin.by_host;
	e.by_op = c->origin.by_op;
	e.by_uid = c->origin.by_op ? c->origin.by_uid : 0;
	e.cause = c->origin.cause;
	f->ev[f->ev_total % FSM_EVENTS_MAX] = e;
	f->ev_total++;
	FL_ASSERT(fsm_event_get(f, e.seq) != NULL);
}

uint32_t fsm_events_held(const struct fsm *f)
{
	FL_ASSERT(f != NULL);
	return f->ev_total < FSM_EVENTS_MAX ? (uint32_t)f->ev_total : FSM_EVENTS_MAX;
}

const struct fsm_event *fsm_event_get(const struct fsm *f, uint64_t seq)
{
	FL_ASSERT(f != NULL);
	if (seq >= f->ev_total || f->ev_total - seq > FSM_EVENTS_MAX)
		return NULL;
	const struct fsm_event *e = &f->ev[seq % FSM_EVENTS_MAX];
	FL_ASSERT(e->seq == seq);
	return e;
}

const char *fsm_cause_name(uint8_t cause)
{
	static const char *const names[FSM_CAUSE_END] = {
		[FSM_CAUSE_NONE] = "",
		[FSM_CAUSE_UP] = "UP",
		[FSM_CAUSE_PARTITIONED] = "PARTITIONED",
		[FSM_CAUSE_STORAGE_LOST] = "STORAGE_LOST",
		[FSM_CAUSE_DEAD] = "DEAD",
		[FSM_CAUSE_FENCED] = "FENCED",
		[FSM_CAUSE_LEFT] = "LEFT",
		[FSM_CAUSE_OPERATOR] = "operator",
		[FSM_CAUSE_PENDING] = "pending",
		[FSM_CAUSE_FLAPPING] = "flapping",
		[FSM_CAUSE_NO_CANDIDATE] = "no-candidate",
		[FSM_CAUSE_BACK] = "back",
		[FSM_CAUSE_ELECTED] = "elected",
		[FSM_CAUSE_VM_EXIT] = "vm-exit",
	};
	return cause < FSM_CAUSE_END ? names[cause] : "?";
}

const char *fsm_ev_kind_name(uint8_t kind)
{
	static const char *const names[FSM_EV_KIND_END] = {
		[FSM_EV_LEADER] = "leader",
		[FSM_EV_HOST_STATE] = "host-state",
		[FSM_EV_HOST_ADD] = "host-added",
		[FSM_EV_HOST_REMOVE] = "host-removed",
		[FSM_EV_HOST_VOTER] = "host-voter",
		[FSM_EV_FENCE_REQUEST] = "fence-requested",
		[FSM_EV_FENCE_ACK] = "fence-acked",
		[FSM_EV_FENCE_CLEAR] = "fence-cleared",
		[FSM_EV_QUARANTINE] = "quarantined",
		[FSM_EV_QUARANTINE_CLEAR] = "quarantine-lifted",
		[FSM_EV_VM_REGISTER] = "vm-registered",
		[FSM_EV_VM_UNREGISTER] = "vm-unregistered",
		[FSM_EV_VM_PLACE] = "vm-placed",
		[FSM_EV_VM_UNPLACE] = "vm-unplaced",
		[FSM_EV_VM_START] = "vm-started",
		[FSM_EV_VM_STOP] = "vm-stopped",
		[FSM_EV_VM_END] = "vm-ended",
		[FSM_EV_VM_START_FAILED] = "vm-start-given-up",
		[FSM_EV_VM_FAILED] = "vm-failed",
		[FSM_EV_VM_CLEAR] = "vm-cleared",
		[FSM_EV_HOST_FORGET] = "host-forgotten",
	};
	return kind > 0 && kind < FSM_EV_KIND_END ? names[kind] : "?";
}
