/* The operator's commands (docs/operations.md, "Operator commands"): vm.show,
 * quarantine.clear, host.fence / host.unfence, host.drain / host.undrain,
 * vm.move and leader.transfer, handled on the loop.
 *
 * Every change is the leader's decision (plugin/arbiter/arb_trust.c refuses
 * a forwarded fence, quarantine or placement), so these run on the leader:
 * asked on another host, that host's daemon forwards the request to the
 * leader, which runs it here as its own (plugin/daemon/opfwd.c), or says there is no
 * leader. Each is one replicated command whose origin names the caller (the
 * SO_PEERCRED uid the control server read) and is logged at notice with the
 * caller; the reply comes once this host applied it (or the commit timeout
 * says why not). What follows the commit is the cluster's ordinary
 * machinery: a fence goes through the host's mailbox, a drained host's VMs
 * are moved by the recovery placement, a moved VM is stopped by its old host
 * and started by the new one once it wins the volume leases, which the old
 * host releases only after its VM is dead (no overlap). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "raft/node.h"

#define OPS_SCHEMA 1

/* Who asked, for the notice line of every change. */
/* Who asked (and on which host, when another host forwarded it), for the
 * notice line of every change. */
static const char *op_via(const struct ctl_call *call, char *buf, size_t len)
{
	uint32_t via = ctl_call_peer(call)->via_host;
	if (via == 0)
		return "";
	snprintf(buf, len, " on host %u", via);
	return buf;
}

static void op_notice(const struct ctl_call *call, const char *what, uint32_t host_id)
{
	const struct ctl_peer *p = ctl_call_peer(call);
	char via[32];
	fl_notice("operator uid %u (pid %d)%s asks: %s host %u", (unsigned)p->uid, (int)p->pid,
		  op_via(call, via, sizeof(via)), what, host_id);
}

/* 0 on the leader; elsewhere the call is forwarded to it (CTL_DEFERRED) or
 * refused with the reason. */
static int ops_need_leader(struct fld *d, struct ctl_call *call, const struct ctl_req *req)
{
	struct raft_node *n = arb_raft(d->arb);
	struct raft *r = n != NULL ? raft_node_core(n) : NULL;
	if (r != NULL && raft_state(r) == RAFT_LEADER)
		return 0;
	return fld_forward(d, call, req);
}

/* The leader's JOINED host id, or an error on call. */
static const struct fsm_host *member(struct fld *d, struct ctl_call *call, uint32_t id)
{
	const struct fsm_host *h = fsm_host_find(arb_fsm(d->arb), id);
	if (h == NULL || h->state != FSM_HOST_JOINED) {
		ctl_call_errorf(call, "host %u is not a member (see 'fencelock hosts')", id);
		return NULL;
	}
	return h;
}

static int ops_begin(struct fld *d, struct ctl_call *call, const struct ctl_req *req, const char *what,
		     const struct fsm_host **h)
{
	int rv = ops_need_leader(d, call, req);
	if (rv != 0)
		return rv;
	op_notice(call, what, req->host_id);
	*h = member(d, call, req->host_id);
	return *h != NULL ? 0 : -FL_ENOENT;
}

/* ---- waiting for the effect ---- */

static const struct fsm_host *w_host(struct fld *d, const struct fld_waiter *w)
{
	return fsm_host_find(arb_fsm(d->arb), w->host_id);
}

static bool done_unquarantined(struct fld *d, const struct fld_waiter *w)
{
	const struct fsm_host *h = w_host(d, w);
	return h == NULL || h->quarantine_until_us == 0;
}

static bool done_drained(struct fld *d, const struct fld_waiter *w)
{
	const struct fsm_host *h = w_host(d, w);
	return h == NULL || h->quarantine_until_us == FSM_QUARANTINE_DRAINED;
}

static bool done_fence_asked(struct fld *d, const struct fld_waiter *w)
{
	const struct fsm_host *h = w_host(d, w);
	return h == NULL || h->fence.active;
}

static bool done_unfenced(struct fld *d, const struct fld_waiter *w)
{
	const struct fsm_host *h = w_host(d, w);
	return h == NULL || !h->fence.active;
}

static bool done_moved(struct fld *d, const struct fld_waiter *w)
{
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), w->uid, NULL);
	return vm == NULL || vm->desired_host == w->host_id || vm->incarnation != w->cmd.incarnation;
}

static bool done_not_leader(struct fld *d, const struct fld_waiter *w)
{
	(void)w;
	struct arb_status st;
	arb_status(d->arb, &st);
	return st.leader != 0 && st.leader != d->cfg.host_id;
}

/* ---- quarantine ---- */

static int op_quarantine_clear(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_host *h;
	int rv = ops_begin(d, call, req, "lift the quarantine of", &h);
	if (rv != 0)
		return rv;
	if (h->quarantine_until_us <= fsm_clock_us(arb_fsm(d->arb))) {
		ctl_call_errorf(call, "host %u (%s) is not quarantined", h->host_id, h->name);
		return -FL_ENOENT;
	}
	struct fsm_cmd c = {.type = FSM_CMD_QUARANTINE_CLEAR, .host_id = h->host_id};
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	return fld_wait_fn(d, call, NULL, h->host_id, &c, done_unquarantined, "no quorum?");
}

/* ---- fence ---- */

static int op_host_fence(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_host *h;
	int rv = ops_begin(d, call, req, "fence", &h);
	if (rv != 0)
		return rv;
	if (h->host_id == d->cfg.host_id) {
		ctl_call_errorf(call, "host %u leads the cluster and cannot fence itself: 'fencelock leader transfer' "
				      "first, then fence it from the new leader",
				h->host_id);
		return -FL_EINVAL;
	}
	if (h->fence.active) {
		ctl_call_errorf(call, "host %u (%s) already has a fence in force (%s)", h->host_id, h->name,
				h->fence.acked ? "it answered FENCED" : "requested");
		return -FL_EBUSY;
	}
	struct fsm_cmd c = {.type = FSM_CMD_FENCE_REQUEST, .host_id = h->host_id, .reason = FSM_FENCE_OPERATOR};
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	return fld_wait_fn(d, call, NULL, h->host_id, &c, done_fence_asked, "no quorum?");
}

static int op_host_unfence(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_host *h;
	int rv = ops_begin(d, call, req, "unfence", &h);
	if (rv != 0)
		return rv;
	if (!h->fence.active) {
		ctl_call_errorf(call, "host %u (%s) has no fence in force", h->host_id, h->name);
		return -FL_ENOENT;
	}
	struct fsm_origin o = {.by_op = true, .by_uid = (uint32_t)ctl_call_peer(call)->uid, .cause = FSM_CAUSE_OPERATOR, .by_host = ctl_call_peer(call)->via_host};
	rv = arb_host_unfence(d->arb, h->host_id, &o);
	if (rv != 0) {
		ctl_call_errorf(call, "unfencing host %u failed: %s", h->host_id, fl_strerror(rv));
		return rv;
	}
	return fld_wait_fn(d, call, NULL, h->host_id, NULL, done_unfenced, "no quorum, or the leader changed: retry");
}

/* ---- drain ---- */

static int op_host_drain(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_host *h;
	int rv = ops_begin(d, call, req, "drain", &h);
	if (rv != 0)
		return rv;
	uint32_t placed = fsm_vms_on_host(arb_fsm(d->arb), h->host_id, NULL, 0);
	json_object_set_new(ctl_call_reply(call), "vms_placed", json_integer(placed));
	if (h->quarantine_until_us == FSM_QUARANTINE_DRAINED)
		return 0; /* drained already: its VMs are being moved */
	struct fsm_cmd c = {.type = FSM_CMD_QUARANTINE_SET, .host_id = h->host_id, .until_us = FSM_QUARANTINE_DRAINED};
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	return fld_wait_fn(d, call, NULL, h->host_id, &c, done_drained, "no quorum?");
}

static int op_host_undrain(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_host *h;
	int rv = ops_begin(d, call, req, "undrain", &h);
	if (rv != 0)
		return rv;
	if (h->quarantine_until_us != FSM_QUARANTINE_DRAINED) {
		ctl_call_errorf(call, "host %u (%s) is not drained", h->host_id, h->name);
		return -FL_ENOENT;
	}
	struct fsm_cmd c = {.type = FSM_CMD_QUARANTINE_CLEAR, .host_id = h->host_id};
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	return fld_wait_fn(d, call, NULL, h->host_id, &c, done_unquarantined, "no quorum?");
}

/* ---- move ---- */

/* Whether host id may take a VM now: a member, not fenced, quarantined or
 * drained, and UP in the leader's view (or the leader itself). */
static int move_target_check(struct fld *d, struct ctl_call *call, uint32_t id)
{
	const struct fsm_host *h = member(d, call, id);
	if (h == NULL)
		return -FL_ENOENT;
	struct arb_host_view hv;
	bool up = id == d->cfg.host_id || (arb_host_view(d->arb, id, &hv) && hv.state == CLS_UP);
	if (h->fence.active || fsm_host_quarantined(arb_fsm(d->arb), id, fsm_clock_us(arb_fsm(d->arb))) || !up) {
		ctl_call_errorf(call, "host %u (%s) cannot take a VM now: %s", id, h->name,
				h->fence.active ? "a fence is in force" : !up ? "it is not UP"
									      : "it is quarantined or drained");
		return -FL_EBUSY;
	}
	uint32_t cap = arb_host_max_vms(d->arb, id), placed = fsm_vms_on_host(arb_fsm(d->arb), id, NULL, 0);
	if (cap != 0 && placed >= cap) {
		ctl_call_errorf(call, "host %u (%s) is at its max_vms: %u VMs placed there, at most %u", id, h->name,
				placed, cap);
		return -FL_EBUSY;
	}
	return 0;
}

static int op_vm_move(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	int rv = ops_need_leader(d, call, req);
	if (rv != 0)
		return rv;
	const struct ctl_peer *p = ctl_call_peer(call);
	char via[32];
	fl_notice("operator uid %u (pid %d)%s asks: move VM %s to host %u", (unsigned)p->uid, (int)p->pid,
		  op_via(call, via, sizeof(via)), req->uid, req->host_id);
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), req->uid, NULL);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered", req->uid);
		return -FL_ENOENT;
	}
	if (vm->desired_host == req->host_id)
		return 0; /* there already */
	if (vm->failed) {
		ctl_call_errorf(call, "VM %s is FAILED: 'fencelock vm clear %s' first", req->uid, req->uid);
		return -FL_EBUSY;
	}
	if ((rv = move_target_check(d, call, req->host_id)) != 0)
		return rv;
	struct fsm_cmd c = {.type = FSM_CMD_VM_PLACE, .host_id = req->host_id, .incarnation = vm->incarnation};
	snprintf(c.uid, sizeof(c.uid), "%s", req->uid);
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	/* Re-proposed harmlessly: a placement is a compare-and-set on this incarnation. */
	return fld_wait_fn(d, call, req->uid, req->host_id, &c, done_moved,
			   "no quorum, or one of its volumes is held by another VM");
}

/* ---- leadership ---- */

static int op_leader_transfer(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	int rv = ops_need_leader(d, call, req);
	if (rv != 0)
		return rv;
	const struct ctl_peer *p = ctl_call_peer(call);
	char via[32];
	fl_notice("operator uid %u (pid %d)%s asks: transfer leadership to %s%u", (unsigned)p->uid, (int)p->pid,
		  op_via(call, via, sizeof(via)), req->host_id != 0 ? "host " : "any voter, asked ", req->host_id);
	uint32_t to = 0;
	rv = arb_leader_transfer(d->arb, req->host_id, &to);
	if (rv == -FL_ENOENT)
		ctl_call_errorf(call, "no other host voter with a valid delta lease to hand leadership to");
	else if (rv == -FL_EINVAL)
		ctl_call_errorf(call, "host %u is not another host voter of the configuration", req->host_id);
	else if (rv != 0)
		ctl_call_errorf(call, "the transfer to host %u was refused: %s (another change in flight?)", to,
				fl_strerror(rv));
	if (rv != 0)
		return rv;
	json_object_set_new(ctl_call_reply(call), "to", json_integer(to));
	return fld_wait_fn(d, call, NULL, to, NULL, done_not_leader, "the target did not take over; this host leads on");
}

/* ---- vm.show ---- */

static const char *show_state(const struct fsm_vm *vm)
{
	if (vm->failed)
		return "FAILED";
	if (vm->pending)
		return "RECOVERING";
	if (vm->desired_host == 0)
		return "STOPPED";
	return vm->run_state == FSM_RUN_RUNNING ? "RUNNING" : "PLACED";
}

/* The spec as JSON when it is JSON (what `fencelock exec` registers), else
 * as a string when it is UTF-8, else null. */
static json_t *spec_json(const struct fsm *f, const struct fsm_vm *vm)
{
	if (vm->spec_len == 0)
		return json_null();
	char *spec = fld_vm_spec_dup(f, vm);
	if (spec == NULL)
		return json_null();
	json_t *j = json_loadb(spec, vm->spec_len, JSON_DECODE_ANY, NULL);
	if (j == NULL)
		j = json_stringn(spec, vm->spec_len);
	free(spec);
	return j != NULL ? j : json_null();
}

static json_t *show_volumes(const struct fsm_vm *vm)
{
	json_t *a = json_array();
	for (uint32_t k = 0; k < vm->nvol && k < FSM_VOLS_MAX; k++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:o}", "path", vm->vol[k].path, "id", vm->vol[k].id,
						   "ro", vm->vol[k].ro, "slot",
						   vm->vol[k].slot == FSM_SLOT_NONE ? json_null()
										    : json_integer(vm->vol[k].slot)));
	return a;
}

/* Events of the history about uid, and the last one's kind. */
static uint32_t show_history(const struct fsm *f, const char *uid, const char **last)
{
	uint32_t n = 0, held = fsm_events_held(f);
	*last = NULL;
	for (uint64_t seq = f->ev_total - held; seq < f->ev_total; seq++) {
		const struct fsm_event *e = fsm_event_get(f, seq);
		if (e != NULL && strcmp(e->uid, uid) == 0) {
			n++;
			*last = fsm_ev_kind_name(e->kind);
		}
	}
	return n;
}

static int op_vm_show(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm *f = arb_fsm(d->arb);
	const struct fsm_vm *vm = fsm_vm_find(f, req->uid, NULL);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered", req->uid);
		return -FL_ENOENT;
	}
	char name[FSM_NAME_MAX + 1];
	const char *last;
	uint32_t events = show_history(f, vm->uid, &last);
	json_t *failed_on = json_array();
	for (uint32_t k = 0; k < vm->nfailed && k < FSM_FAILED_MAX; k++)
		json_array_append_new(failed_on, json_integer(vm->failed_on[k]));
	json_t *o = json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:I,s:s,s:i,s:i,s:o,s:o,s:o,s:o,s:i,s:o}", "schema_version",
			      OPS_SCHEMA, "uid", vm->uid, "state", show_state(vm), "host",
			      vm->desired_host ? json_integer(vm->desired_host) : json_null(), "host_name",
			      vm->desired_host ? json_string(fld_host_name(d, vm->desired_host, name, sizeof(name))) : json_null(),
			      "run_host", vm->run_host ? json_integer(vm->run_host) : json_null(), "incarnation",
			      (json_int_t)vm->incarnation, "restart", ctl_restart_name(fld_restart_of_fsm(vm->restart)), "owner_uid",
			      (int)vm->owner_uid, "owner_gid", (int)vm->owner_gid, "partition_tolerance_ms",
			      vm->ptol_us ? json_integer((json_int_t)(vm->ptol_us / 1000u)) : json_null(), "paths_of_host",
			      vm->path_host ? json_integer(vm->path_host) : json_null(), "volumes", show_volumes(vm), "failed_on",
			      failed_on, "history_events", (int)events, "last_event", last != NULL ? json_string(last) : json_null());
	if (o == NULL)
		return -FL_ENOMEM;
	json_object_set_new(o, "spec", spec_json(arb_fsm(d->arb), vm));
	json_object_update_new(ctl_call_reply(call), o);
	return 0;
}

void fld_ops_backend(struct fld *d, struct ctl_backend *be)
{
	(void)d;
	be->handlers[CTL_OP_VM_SHOW] = op_vm_show;
	be->handlers[CTL_OP_QUARANTINE_CLEAR] = op_quarantine_clear;
	be->handlers[CTL_OP_HOST_FENCE] = op_host_fence;
	be->handlers[CTL_OP_HOST_UNFENCE] = op_host_unfence;
	be->handlers[CTL_OP_HOST_DRAIN] = op_host_drain;
	be->handlers[CTL_OP_HOST_UNDRAIN] = op_host_undrain;
	be->handlers[CTL_OP_VM_MOVE] = op_vm_move;
	be->handlers[CTL_OP_LEADER_TRANSFER] = op_leader_transfer;
}
