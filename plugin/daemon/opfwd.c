/* Operator commands asked on any host (docs/operations.md, "Operator
 * commands"): a change only the leader decides (host fence / unfence /
 * drain / undrain, vm move, leader transfer, quarantine clear, host add /
 * remove), asked on a follower's control socket, is forwarded to the leader
 * over the cluster's authenticated channel (arb_send_op), run there by the
 * same handler as a local request, and its answer comes back to the caller.
 *
 * What crosses the wire is the control request itself (re-encoded from the
 * validated one) and the caller as this host's control socket read it
 * (SO_PEERCRED uid, gid, pid), which this host has already checked may
 * change state. The leader accepts one only from a joined member of the
 * Raft configuration (plugin/arbiter/arb_trust.c) whose transport proved
 * its host id with the cluster key, decodes and validates the request as it
 * would a client's, runs only the ops listed here (none with [cluster]
 * operator_forwarding = no: only its own socket then), records the caller's uid
 * in the committed command and logs the host and uid it came from. A call
 * forwarded once is never forwarded again: a leader that has lost its
 * leadership answers with the new leader's id.
 *
 *   request: u8 version (1)  u64 id  u32 uid  u32 gid  u32 pid  JSON request
 *   answer:  u8 version (1)  u64 id  u64 applied  JSON reply (the control reply, ok or error)
 *
 * The forwarding host keeps each call until the leader's answer with the
 * same id comes from the host it sent it to and it has itself applied the
 * log up to the leader's applied index at the answer (a read right after
 * the answer, here, shows the change, as on the leader), or until
 * FLD_OPFWD_WAIT_US: then the caller is told the leader did not answer (the
 * change may still be committed: 'fencelock status' shows it). */
#include <inttypes.h>
#include <string.h>
#include "common/assert.h"
#include "common/le.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "raft/node.h"

#define OPFWD_VERSION 1u
#define OPFWD_REQ_HDR 21u /* version, id, uid, gid, pid */
#define OPFWD_REP_HDR 17u /* version, id, the leader's applied index */

bool fld_op_forwardable(enum ctl_op op)
{
	switch (op) {
	case CTL_OP_HOST_FENCE:
	case CTL_OP_HOST_UNFENCE:
	case CTL_OP_HOST_DRAIN:
	case CTL_OP_HOST_UNDRAIN:
	case CTL_OP_VM_MOVE:
	case CTL_OP_LEADER_TRANSFER:
	case CTL_OP_QUARANTINE_CLEAR:
	case CTL_OP_HOST_ADD:
	case CTL_OP_HOST_REMOVE:
	case CTL_OP_HOST_FORGET:
		return true;
	default:
		return false;
	}
}

static uint64_t opfwd_applied(const struct fld *d)
{
	struct raft_node *n = arb_raft(d->arb);
	struct raft *r = n != NULL ? raft_node_core(n) : NULL;
	return r != NULL ? raft_applied_index(r) : 0;
}

static void opfwd_arm(struct fld *d)
{
	uint64_t next = UINT64_MAX, now = fl_now_us(d->loop);
	for (uint32_t i = 0; i < FLD_OPFWD_MAX; i++) {
		const struct fld_opfwd_out *o = &d->fwd.out[i];
		if (o->call != NULL)
			next = FL_MIN(next, o->answered ? now + FLD_POLL_US : o->until_us);
	}
	if (next == UINT64_MAX)
		fl_timer_cancel(d->loop, &d->fwd.timer);
	else
		fl_timer_arm(d->loop, &d->fwd.timer, next);
}

/* Finishes the calls the leader answered once this host has applied what
 * the answer reports (so that the caller's next read here shows it; after
 * the deadline, with the leader's answer anyway), and tells the callers
 * whose leader never answered. */
static void opfwd_timeout(struct fl_timer *t, void *arg)
{
	(void)t;
	struct fld *d = arg;
	uint64_t now = fl_now_us(d->loop), applied = opfwd_applied(d);
	for (uint32_t i = 0; i < FLD_OPFWD_MAX; i++) {
		struct fld_opfwd_out *o = &d->fwd.out[i];
		struct ctl_call *call = o->call;
		if (call == NULL || (o->until_us > now && (!o->answered || o->applied > applied)))
			continue;
		o->call = NULL;
		if (o->answered) {
			ctl_call_finish(call, o->rv);
			continue;
		}
		ctl_call_errorf(call, "the leader, host %" PRIu64 ", did not answer within %u s: it may have lost "
				      "its leadership or the link; the change may still have been made: check "
				      "'fencelock status' and retry",
				o->to, (unsigned)(FLD_OPFWD_WAIT_US / FL_US_PER_S));
		ctl_call_finish(call, -FL_ETIMEDOUT);
	}
	opfwd_arm(d);
}

void fld_opfwd_init(struct fld *d)
{
	memset(&d->fwd, 0, sizeof(d->fwd));
	d->fwd.next_id = 1;
	fl_timer_init(&d->fwd.timer, opfwd_timeout, d);
	struct ctl_backend be;
	fld_backend(d, &be);
	memcpy(d->fwd.handlers, be.handlers, sizeof(d->fwd.handlers));
}

void fld_opfwd_stop(struct fld *d)
{
	fl_timer_cancel(d->loop, &d->fwd.timer);
	/* Client calls were dropped with the control server; remote ones are ours. */
	for (uint32_t i = 0; i < FLD_OPFWD_MAX; i++) {
		d->fwd.out[i].call = NULL;
		ctl_call_remote_free(d->fwd.in[i]);
		d->fwd.in[i] = NULL;
	}
}

/* ---- the forwarding host ---- */

static int opfwd_send_req(struct fld *d, struct ctl_call *call, const struct ctl_req *req, uint64_t leader,
			  uint64_t id)
{
	char err[CTL_ERR_MAX];
	json_t *msg;
	int rv = ctl_req_encode(req, &msg, err, sizeof(err));
	if (rv != 0) {
		ctl_call_errorf(call, "cannot forward the request to the leader: %s", err);
		return rv;
	}
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	size_t tlen = text != NULL ? strlen(text) : 0;
	uint8_t buf[ARB_OP_MSG_MAX];
	if (text == NULL || OPFWD_REQ_HDR + tlen > sizeof(buf)) {
		free(text);
		ctl_call_errorf(call, "the request is too large to forward to the leader");
		return text == NULL ? -FL_ENOMEM : -FL_EINVAL;
	}
	const struct ctl_peer *p = ctl_call_peer(call);
	buf[0] = OPFWD_VERSION;
	fl_put_le64(buf + 1, id);
	fl_put_le32(buf + 9, (uint32_t)p->uid);
	fl_put_le32(buf + 13, (uint32_t)p->gid);
	fl_put_le32(buf + 17, (uint32_t)p->pid);
	memcpy(buf + OPFWD_REQ_HDR, text, tlen);
	free(text);
	rv = arb_send_op(d->arb, leader, false, buf, (uint32_t)(OPFWD_REQ_HDR + tlen));
	if (rv != 0)
		ctl_call_errorf(call, "cannot reach the leader, host %" PRIu64 ", to forward the request: %s", leader,
				fl_strerror(rv));
	return rv;
}

int fld_forward(struct fld *d, struct ctl_call *call, const struct ctl_req *req)
{
	struct arb_status st;
	arb_status(d->arb, &st);
	const struct ctl_peer *p = ctl_call_peer(call);
	/* A leader this host does not hear from (it keeps the last one's id
	 * until a new one wins) would never answer: said at once. */
	if (st.leader == 0 || st.leader == d->cfg.host_id || !st.quorate) {
		ctl_call_errorf(call, "no leader is known: host %u is not quorate; try again when 'fencelock status' "
				      "says quorate",
				d->cfg.host_id);
		return -FL_ENOTLEADER;
	}
	if (p->via_host != 0) {
		ctl_call_errorf(call, "host %u no longer leads (the leader is host %" PRIu64 "): retry",
				d->cfg.host_id, st.leader);
		return -FL_ENOTLEADER;
	}
	struct arb_peer_proto lp;
	arb_peer_proto(d->arb, (uint32_t)st.leader, &lp);
	if (!fld_op_forwardable(req->op) || lp.used < ARB_PROTO_OPFWD) {
		ctl_call_errorf(call, "the leader decides this: run it on host %" PRIu64 " (the leader%s%s%s)", st.leader,
				lp.used != 0 && lp.used < ARB_PROTO_OPFWD ? ", whose fencelock " : "",
				lp.used != 0 && lp.used < ARB_PROTO_OPFWD ? (lp.version[0] ? lp.version : "of protocol 2") : "",
				lp.used != 0 && lp.used < ARB_PROTO_OPFWD ? " takes no forwarded commands" : "");
		return -FL_ENOTLEADER;
	}
	struct fld_opfwd_out *o = NULL;
	for (uint32_t i = 0; i < FLD_OPFWD_MAX && o == NULL; i++)
		if (d->fwd.out[i].call == NULL)
			o = &d->fwd.out[i];
	if (o == NULL) {
		ctl_call_errorf(call, "%u requests are already waiting for the leader's answer; retry shortly",
				FLD_OPFWD_MAX);
		return -FL_EAGAIN;
	}
	uint64_t id = d->fwd.next_id++;
	int rv = opfwd_send_req(d, call, req, st.leader, id);
	if (rv != 0)
		return rv;
	fl_notice("operator uid %u (pid %d) asks %s: forwarded to the leader, host %" PRIu64, (unsigned)p->uid,
		  (int)p->pid, ctl_op_name(req->op), st.leader);
	*o = (struct fld_opfwd_out){.call = call, .id = id, .to = st.leader, .until_us = fl_now_us(d->loop) + FLD_OPFWD_WAIT_US};
	opfwd_arm(d);
	return CTL_DEFERRED;
}

/* The leader's answer: the call it answers gets the leader's reply, and is
 * finished once this host has applied as far as the leader had. */
static void opfwd_answer(struct fld *d, uint64_t from, const uint8_t *buf, uint32_t len)
{
	if (len < OPFWD_REP_HDR || buf[0] != OPFWD_VERSION)
		return;
	uint64_t id = fl_get_le64(buf + 1);
	struct fld_opfwd_out *o = NULL;
	for (uint32_t i = 0; i < FLD_OPFWD_MAX && o == NULL; i++)
		if (d->fwd.out[i].call != NULL && !d->fwd.out[i].answered && d->fwd.out[i].id == id &&
		    d->fwd.out[i].to == from)
			o = &d->fwd.out[i];
	if (o == NULL)
		return; /* late (timed out), repeated, or not ours */
	struct ctl_call *call = o->call;
	char err[CTL_ERR_MAX];
	json_t *r = json_loadb((const char *)buf + OPFWD_REP_HDR, len - OPFWD_REP_HDR, JSON_REJECT_DUPLICATES, NULL);
	int rv = r != NULL ? ctl_resp_check(r, err, sizeof(err)) : -FL_EINVAL;
	if (r == NULL)
		ctl_call_errorf(call, "the leader, host %" PRIu64 ", sent a malformed answer", from);
	else if (rv != 0)
		ctl_call_errorf(call, "%s", err);
	else if (json_object_update(ctl_call_reply(call), r) != 0)
		rv = -FL_ENOMEM;
	json_decref(r);
	o->answered = true;
	o->rv = rv;
	o->applied = rv == 0 ? fl_get_le64(buf + 9) : 0;
	o->until_us = FL_MIN(o->until_us, fl_now_us(d->loop) + FLD_COMMIT_TIMEOUT_US);
	opfwd_timeout(&d->fwd.timer, d);
}

/* ---- the leader ---- */

static void opfwd_send_answer(struct fld *d, uint64_t to, uint64_t id, json_t *reply)
{
	uint8_t buf[ARB_OP_MSG_MAX];
	char *text = reply != NULL ? json_dumps(reply, JSON_COMPACT) : NULL;
	size_t tlen = text != NULL ? strlen(text) : 0;
	if (text == NULL || OPFWD_REP_HDR + tlen > sizeof(buf)) {
		free(text);
		json_t *e = ctl_resp_error(-FL_ENOMEM, "the leader's answer did not fit a message");
		text = e != NULL ? json_dumps(e, JSON_COMPACT) : NULL;
		json_decref(e);
		tlen = text != NULL ? strlen(text) : 0;
		if (text == NULL || OPFWD_REP_HDR + tlen > sizeof(buf)) {
			free(text);
			return; /* the caller's deadline answers it */
		}
	}
	buf[0] = OPFWD_VERSION;
	fl_put_le64(buf + 1, id);
	fl_put_le64(buf + 9, opfwd_applied(d));
	memcpy(buf + OPFWD_REP_HDR, text, tlen);
	free(text);
	int rv = arb_send_op(d->arb, to, true, buf, (uint32_t)(OPFWD_REP_HDR + tlen));
	if (rv != 0)
		fl_warn("the answer to host %" PRIu64 "'s forwarded request was not sent: %s", to, fl_strerror(rv));
}

static void opfwd_refuse(struct fld *d, uint64_t to, uint64_t id, int rv, const char *msg)
{
	json_t *e = ctl_resp_error(rv, msg);
	opfwd_send_answer(d, to, id, e);
	json_decref(e);
}

static void opfwd_done(void *ctx, struct ctl_call *call, int rv)
{
	struct fld *d = ctx;
	const struct ctl_peer *p = ctl_call_peer(call);
	uint64_t id = 0;
	for (uint32_t i = 0; i < FLD_OPFWD_MAX; i++)
		if (d->fwd.in[i] == call) {
			id = d->fwd.in_id[i];
			d->fwd.in[i] = NULL;
		}
	FL_ASSERT(id != 0);
	fld_snap_publish(d); /* this host's own reads show it too, as after a local call */
	if (rv == 0) {
		opfwd_send_answer(d, p->via_host, id, ctl_call_reply(call));
	} else {
		const char *e = ctl_call_error(call);
		opfwd_refuse(d, p->via_host, id, rv, e[0] != '\0' ? e : NULL);
	}
	ctl_call_remote_free(call);
}

static int opfwd_take(struct fld *d, uint64_t from, uint64_t id, const uint8_t *buf, uint32_t len,
		      struct ctl_call **call, char *err, size_t errlen)
{
	uint32_t slot = FLD_OPFWD_MAX;
	for (uint32_t i = 0; i < FLD_OPFWD_MAX && slot == FLD_OPFWD_MAX; i++)
		if (d->fwd.in[i] == NULL)
			slot = i;
	if (slot == FLD_OPFWD_MAX) {
		snprintf(err, errlen, "the leader, host %u, is busy with %u forwarded requests; retry shortly",
			 d->cfg.host_id, FLD_OPFWD_MAX);
		return -FL_EAGAIN;
	}
	json_t *msg = json_loadb((const char *)buf + OPFWD_REQ_HDR, len - OPFWD_REQ_HDR, JSON_REJECT_DUPLICATES, NULL);
	if (msg == NULL) {
		snprintf(err, errlen, "malformed forwarded request");
		return -FL_EINVAL;
	}
	struct ctl_peer peer = {.uid = (uid_t)fl_get_le32(buf + 9), .gid = (gid_t)fl_get_le32(buf + 13), .pid = (pid_t)fl_get_le32(buf + 17), .may_mutate = true, .pidfd = -1, .via_host = (uint32_t)from};
	int rv = ctl_call_remote_new(msg, &peer, opfwd_done, d, call, err, errlen);
	if (rv != 0)
		return rv;
	if (!fld_op_forwardable(ctl_call_req(*call)->op)) {
		snprintf(err, errlen, "op '%s' is not one another host may forward", ctl_op_name(ctl_call_req(*call)->op));
		ctl_call_remote_free(*call);
		return -FL_EPERM;
	}
	d->fwd.in[slot] = *call;
	d->fwd.in_id[slot] = id;
	return 0;
}

static void opfwd_request(struct fld *d, uint64_t from, const uint8_t *buf, uint32_t len)
{
	if (len < OPFWD_REQ_HDR || buf[0] != OPFWD_VERSION)
		return;
	uint64_t id = fl_get_le64(buf + 1);
	if (id == 0)
		return;
	char err[CTL_ERR_MAX];
	struct raft_node *n = arb_raft(d->arb);
	struct raft *r = n != NULL ? raft_node_core(n) : NULL;
	if (r == NULL || raft_state(r) != RAFT_LEADER) {
		struct arb_status st;
		arb_status(d->arb, &st);
		snprintf(err, sizeof(err), "host %u does not lead (the leader is %s%" PRIu64 "): retry", d->cfg.host_id,
			 st.leader != 0 ? "host " : "unknown, ", st.leader);
		opfwd_refuse(d, from, id, -FL_ENOTLEADER, err);
		return;
	}
	if (!d->cfg.operator_forwarding) {
		snprintf(err, sizeof(err), "host %u, the leader, takes operator commands only on its own control socket "
					   "([cluster] operator_forwarding = no): run it there",
			 d->cfg.host_id);
		fl_warn("refused an operator request forwarded by host %" PRIu64 ": operator_forwarding = no", from);
		opfwd_refuse(d, from, id, -FL_EPERM, err);
		return;
	}
	struct ctl_call *call;
	int rv = opfwd_take(d, from, id, buf, len, &call, err, sizeof(err));
	if (rv != 0) {
		fl_warn("refused an operator request forwarded by host %" PRIu64 ": %s", from, err);
		opfwd_refuse(d, from, id, rv, err);
		return;
	}
	const struct ctl_req *req = ctl_call_req(call);
	FL_ASSERT(d->fwd.handlers[req->op] != NULL);
	rv = d->fwd.handlers[req->op](d, call, req);
	if (rv != CTL_DEFERRED)
		ctl_call_finish(call, rv); /* answers and frees it */
}

void fld_opfwd_msg(void *ctx, uint64_t from, bool reply, const uint8_t *buf, uint32_t len)
{
	struct fld *d = ctx;
	if (reply)
		opfwd_answer(d, from, buf, len);
	else
		opfwd_request(d, from, buf, len);
}
