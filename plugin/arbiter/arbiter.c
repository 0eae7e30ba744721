/* The arbiter's core: construction, the delta lease's events, the Raft node
 * and its application callbacks, the transport multiplexer, quorum, and the
 * periodic tick that runs the local safety rules, the reconciliation of VMs
 * and, on the leader, the cluster decisions (see arbiter.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"
#include "plugin/arbiter/arb_mutant.h"
#include "raft/msg.h"

/* A snapshot travels as one Raft message: the event ring (the same size on
 * every host) must leave it room for the tables. */
_Static_assert(FSM_EVENTS_MAX_BYTES <= RAFT_MSG_MAX_ENTRY_BYTES / 16, "the FSM event ring crowds the snapshot");
/* The FSM refuses registrations that would let its snapshot outgrow
 * FSM_SNAP_MAX_BYTES; that, with the configuration and the message's own
 * fields, must fit what the transport carries in one message. */
_Static_assert((uint64_t)FSM_SNAP_MAX_BYTES + 1u + 4u + RAFT_MAX_SERVERS * 9u + 64u <= RAFT_MSG_MAX_ENTRY_BYTES,
	       "a largest FSM snapshot fits one Raft message");
/* Even the largest host table and the event ring leave room for VMs. */
_Static_assert((uint64_t)FSM_HOST_ID_MAX * FSM_HOST_REC_MAX_BYTES + FSM_EVENTS_MAX_BYTES + FSM_SNAP_GLOBALS_BYTES +
			       (uint64_t)FSM_VMS_DEFAULT * (FSM_VM_CHARGE_FIXED + FSM_VOL_CHARGE_FIXED * 3u + 3u * 128u) <
		       FSM_SNAP_MAX_BYTES,
	       "the default VM table with 3 volumes of 64-byte identities and paths fits the snapshot bound");

uint64_t arb_now(const struct arb *a) { return fl_now_us(a->loop); }

bool arb_lease_valid(const struct arb *a)
{
	/* A lease on a device that is no longer ours protects nothing. */
	return a->ls_held && !a->hdr.foreign && ls_state(a->ls) == LS_HELD && arb_now(a) < ls_valid_until_us(a->ls);
}

bool arb_is_leader(const struct arb *a)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	return r != NULL && raft_state(r) == RAFT_LEADER;
}

uint64_t arb_cluster_time(const struct arb *a)
{
	return a->ldr.ct_base_us + (arb_now(a) - a->ldr.ct_local_us);
}

void arb_config_defaults(struct arb_config *c, uint64_t host_id, uint64_t p_us)
{
	memset(c, 0, sizeof(*c));
	c->host_id = host_id;
	c->p_us = p_us;
	c->seed = host_id;
	raft_options_default(&c->raft, host_id, host_id);
	fsm_limits_default(&c->limits);
	plc_params_default(&c->plc);
	c->plc.include_unplaced = true;
}

void arb_raft_timing(struct arb_config *c, uint64_t io_timeout_us)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(io_timeout_us > 0);
	uint64_t e = FL_MAX(io_timeout_us, (uint64_t)ARB_RAFT_ELECTION_MIN_US);
	c->raft.election_timeout_us = e;
	c->raft.heartbeat_us = FL_MAX(e / 10, (uint64_t)ARB_RAFT_HEARTBEAT_MIN_US);
	FL_ASSERT(c->raft.heartbeat_us < c->raft.election_timeout_us);
}

/* ---- transport multiplexing ---- */

uint8_t *arb_txbuf(struct arb *a, uint32_t len)
{
	if (len > a->txbuf_len) {
		uint8_t *n = realloc(a->txbuf, len);
		if (n == NULL)
			return NULL;
		a->txbuf = n;
		a->txbuf_len = len;
	}
	return a->txbuf;
}

static int arb_raft_send(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len)
{
	struct arb *a = (struct arb *)((char *)t - offsetof(struct arb, raft_tx));
	if (to == ARB_WITNESS_ID)
		return arb_witness_route(a, payload, len);
	uint8_t *m = arb_txbuf(a, len + 1);
	if (m == NULL)
		return -FL_ENOMEM;
	m[0] = ARB_RAFT_MAGIC;
	memcpy(m + 1, payload, len);
	return raft_transport_send(a->cfg.transport, to, m, len + 1);
}

static const struct raft_transport_ops arb_raft_tx_ops = {.send = arb_raft_send};

static int arb_send_arb(struct arb *a, uint64_t to, const uint8_t *buf, size_t len)
{
	uint8_t *m = arb_txbuf(a, (uint32_t)len + 1);
	if (m == NULL)
		return -FL_ENOMEM;
	m[0] = ARB_FWD_MAGIC;
	memcpy(m + 1, buf, len);
	return raft_transport_send(a->cfg.transport, to, m, (uint32_t)len + 1);
}

int arb_send_op(struct arb *a, uint64_t to, bool reply, const uint8_t *buf, uint32_t len)
{
	if (len > ARB_OP_MSG_MAX || to == 0 || to > ARB_MAX_HOSTS || to == a->cfg.host_id)
		return -FL_EINVAL;
	uint8_t *m = arb_txbuf(a, len + 1);
	if (m == NULL)
		return -FL_ENOMEM;
	m[0] = reply ? ARB_OPREP_MAGIC : ARB_OPREQ_MAGIC;
	memcpy(m + 1, buf, len);
	return raft_transport_send(a->cfg.transport, to, m, len + 1);
}

/* ---- views: relayed liveness ----
 * Every tick each host sends every peer a view: its term and leader, how long
 * ago it last had a sign that the leader holds a valid lease (0 on the leader
 * itself), its own flags (quorate, fenced, lease valid) and whom it heard and
 * how long ago. A host that lost its link to the leader but still reaches a
 * peer that hears the leader stays quorate, and the leader still counts it
 * UP: a partial partition moves nothing. A relayed age is only as fresh as the
 * view's transit (milliseconds); quorum is a liveness matter, never safety.
 * With a bounded voter set, learners do not send views to one another: a
 * view goes to every peer from a host voter or the host serving the disk
 * voter, and to the host voters and the leader from a learner. A learner
 * still hears the leader's sign from every voter, and the leader hears of a
 * learner from every voter that hears it; the traffic grows with voters
 * times hosts, not hosts squared. */
#define VIEW_HDR_BYTES 32u
#define VIEW_ENTRY_BYTES 12u
/* A view about every other host goes in one transport frame (whose default
 * maximum exceeds the largest Raft entry, raft/tcp.c). */
_Static_assert(1u + VIEW_HDR_BYTES + ARB_MAX_HOSTS * VIEW_ENTRY_BYTES <= RAFT_MSG_MAX_ENTRY_BYTES,
	       "a view of the largest cluster fits a frame");
/* Views go to every peer every tick: even at the largest cluster they fit
 * the transport's small frames, which are reused rather than allocated. */
_Static_assert(1u + VIEW_HDR_BYTES + ARB_MAX_HOSTS * VIEW_ENTRY_BYTES + RAFT_TCP_FRAME_HEADER_BYTES <=
		       RAFT_TCP_SMALL_FRAME_BYTES,
	       "a view of the largest cluster is a small frame");

uint64_t arb_heard_us(const struct arb *a, uint32_t h)
{
	return FL_MAX(a->last_heard_us[h], a->relay_heard_us[h]);
}

static void arb_view_receive(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len)
{
	uint64_t now = arb_now(a);
	if (len < VIEW_HDR_BYTES)
		return;
	uint64_t term = fl_get_le64(b), leader = fl_get_le64(b + 8), ok_age = fl_get_le64(b + 16);
	uint32_t flags = fl_get_le32(b + 24), n = fl_get_le32(b + 28);
	if (n > ARB_MAX_HOSTS || len != VIEW_HDR_BYTES + n * VIEW_ENTRY_BYTES)
		return; /* malformed: dropped */
	a->view_flags[from] = flags;
	a->view_us[from] = now;
	if (flags & ARB_VIEW_WITNESS) {
		a->w.holder = (uint32_t)from;
		a->w.holder_us = now;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = b + VIEW_HDR_BYTES + i * VIEW_ENTRY_BYTES;
		uint32_t h = fl_get_le32(e);
		uint64_t age = fl_get_le64(e + 4);
		if (h == 0 || h > ARB_MAX_HOSTS || h == a->cfg.host_id || age > now)
			continue;
		a->relay_heard_us[h] = FL_MAX(a->relay_heard_us[h], now - age);
	}
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	if (r == NULL || leader == 0 || ok_age > now || term < raft_term(r))
		return;
	/* A pre-candidate has forgotten the leader (§9.6): a peer that hears
	 * it with a valid lease still tells us who it is. */
	if (raft_leader(r) != 0 && (leader != raft_leader(r) || term != raft_term(r)))
		return;
	if (leader != a->view_leader || term != a->view_term) {
		a->view_leader = leader;
		a->view_term = term;
		a->leader_ok_us = 0;
	}
	a->leader_ok_us = FL_MAX(a->leader_ok_us, now - ok_age);
}

uint64_t arb_leader_id(const struct arb *a)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	if (r == NULL)
		return 0;
	if (raft_leader(r) != 0)
		return raft_leader(r);
	return a->view_term >= raft_term(r) ? a->view_leader : 0;
}

static void arb_view_send(struct arb *a, uint64_t now)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : NULL;
	uint8_t buf[1 + VIEW_HDR_BYTES + ARB_MAX_HOSTS * VIEW_ENTRY_BYTES];
	uint32_t n = 0;
	if (c == NULL)
		return;
	uint64_t ok_age = UINT64_MAX;
	if (arb_is_leader(a) && raft_leader_lease_valid(r, now))
		ok_age = 0;
	else if (arb_leader_id(a) != 0 && a->leader_ok_us != 0)
		ok_age = now - a->leader_ok_us;
	uint32_t flags = (a->quorate ? ARB_VIEW_QUORATE : 0) | (arb_lease_valid(a) ? ARB_VIEW_LEASE : 0) |
			 (a->fenced_status || a->want_fenced_status ? ARB_VIEW_FENCED : 0) |
			 (a->w.node ? ARB_VIEW_WITNESS : 0) | a->cfg.max_vms << ARB_VIEW_CAP_SHIFT;
	for (uint32_t h = 1; h <= a->cfg.layout.max_hosts; h++) {
		if (h == a->cfg.host_id || a->last_heard_us[h] == 0)
			continue;
		uint8_t *e = buf + 1 + VIEW_HDR_BYTES + n * VIEW_ENTRY_BYTES;
		fl_put_le32(e, h);
		fl_put_le64(e + 4, now - a->last_heard_us[h]);
		n++;
	}
	buf[0] = ARB_VIEW_MAGIC;
	fl_put_le64(buf + 1, raft_term(r));
	fl_put_le64(buf + 9, arb_leader_id(a));
	fl_put_le64(buf + 17, ok_age);
	fl_put_le32(buf + 25, flags);
	fl_put_le32(buf + 29, n);
	/* A view is sent every tick: one that is not queued (a peer without an
	 * address yet, a full queue) is a lost datagram, counted; the next tick
	 * sends a fresher one. */
	int me = raft_config_find(c, a->cfg.host_id);
	bool to_all = (me >= 0 && c->servers[me].role == RAFT_VOTER) || a->w.node != NULL;
	uint64_t leader = arb_leader_id(a);
	for (uint32_t i = 0; i < c->n; i++) {
		uint64_t id = c->servers[i].id;
		if (id == a->cfg.host_id || id > ARB_MAX_HOSTS)
			continue;
		if (!to_all && c->servers[i].role != RAFT_VOTER && id != leader)
			continue;
		if (raft_transport_send(a->cfg.transport, id, buf, 1 + VIEW_HDR_BYTES + n * VIEW_ENTRY_BYTES) != 0)
			a->ctr.views_unsent++;
	}
}

void arb_receive(struct arb *a, uint64_t from, const uint8_t *payload, uint32_t len)
{
	if (len < 1 || from == 0 || from > ARB_MAX_HOSTS || !a->started)
		return;
	if (payload[0] == ARB_PROTO_MAGIC) {
		arb_proto_receive(a, from, payload + 1, len - 1);
		return;
	}
	if (arb_proto_drop(a, from, payload[0], arb_now(a)))
		return; /* no protocol version in common: as if partitioned */
	a->last_heard_us[from] = arb_now(a);
	arb_join_heard(a, from);
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	if (r != NULL && raft_leader(r) == from && payload[0] == ARB_RAFT_MAGIC) {
		a->leader_ok_us = arb_now(a);
		a->view_leader = from;
		a->view_term = raft_term(r);
	}
	if (payload[0] == ARB_VIEW_MAGIC) {
		arb_view_receive(a, from, payload + 1, len - 1);
		return;
	}
	if (payload[0] == ARB_WITNESS_MAGIC) {
		arb_witness_receive(a, from, payload + 1, len - 1);
		return;
	}
	if (payload[0] == ARB_JOIN_MAGIC) {
		arb_join_receive(a, from, payload + 1, len - 1);
		return;
	}
	if (payload[0] == ARB_RAFT_MAGIC) {
		if (a->node)
			raft_node_receive(a->node, from, payload + 1, len - 1);
		return;
	}
	if (payload[0] == ARB_OPREQ_MAGIC || payload[0] == ARB_OPREP_MAGIC) {
		if (!arb_op_peer_allowed(a, from))
			arb_reject(a, from, false, "operator request");
		else if (a->cfg.op_msg != NULL)
			a->cfg.op_msg(a->cfg.op_ctx, from, payload[0] == ARB_OPREP_MAGIC, payload + 1, len - 1);
		return;
	}
	if (payload[0] != ARB_FWD_MAGIC)
		return; /* unknown kind: dropped */
	struct fsm_cmd c;
	if (fsm_cmd_decode(payload + 1, len - 1, &c) != 0) {
		fl_warn("host %" PRIu64 ": malformed forwarded command from host %" PRIu64 " dropped",
			a->cfg.host_id, from);
		return;
	}
	if (!arb_is_leader(a))
		return;
	c.origin.by_host = (uint32_t)from; /* who asked is who sent it, whatever it says */
	if (!arb_forward_allowed(a, from, &c)) {
		arb_reject(a, from, false, fsm_cmd_type_name(c.type));
		return;
	}
	/* The sender proposes it again until it sees the effect; a failure here
	 * (a change of leader, a full log) delays what it asked for. */
	int rv = arb_propose_cmd(a, &c);
	if (rv != 0)
		fl_notice("host %" PRIu64 ": %s forwarded by host %" PRIu64 " not proposed: %s", a->cfg.host_id,
			  fsm_cmd_type_name(c.type), from, fl_strerror(rv));
}

/* ---- proposals ---- */

int arb_propose_cmd(struct arb *a, struct fsm_cmd *c)
{
	/* The arbiter's own buffer; a proposal made from inside another one
	 * (raft_node_propose may apply at once, and what is applied may propose)
	 * gets a buffer of its own. */
	bool own = !a->prop_busy;
	uint8_t *buf = own ? a->prop_buf : malloc(FSM_CMD_MAX_BYTES);
	size_t len;
	uint64_t index;
	if (buf == NULL)
		return -FL_ENOMEM;
	a->prop_busy = true;
	if (c->origin.by_host == 0)
		c->origin.by_host = (uint32_t)a->cfg.host_id;
	if (arb_is_leader(a)) {
		c->stamp_us = arb_cluster_time(a);
		c->origin.leader = (uint32_t)a->cfg.host_id;
		c->origin.wall_us = a->cfg.wall_us != NULL ? a->cfg.wall_us(a->cfg.wall_ctx) : 0;
	}
	int rv = fsm_cmd_encode(c, buf, FSM_CMD_MAX_BYTES, &len);
	if (rv == 0) {
		if (arb_is_leader(a)) {
			rv = raft_node_propose(a->node, buf, (uint32_t)len, &index);
		} else {
			uint64_t leader = arb_leader_id(a);
			rv = leader ? arb_send_arb(a, leader, buf, len) : -FL_ENOTLEADER;
		}
	}
	if (own)
		a->prop_busy = false;
	else
		free(buf);
	FL_ASSERT(a->prop_busy != own);
	if (rv != 0)
		fl_debug("host %" PRIu64 ": proposal of command %u failed: %s", a->cfg.host_id, c->type,
			 fl_strerror(rv));
	return rv;
}

int arb_submit(struct arb *a, const struct fsm_cmd *c)
{
	struct fsm_cmd copy = *c;
	return arb_propose_cmd(a, &copy);
}

/* ---- Raft application callbacks ---- */

void arb_maybe_snapshot(const struct arb *a, struct raft_node *n, const struct fsm *f, uint64_t *last_index)
{
	struct raft *r = n ? raft_node_core(n) : NULL;
	if (r == NULL || raft_applied_index(r) < *last_index + a->cfg.snapshot_every)
		return;
	if (a->snapshot_refused)
		return; /* f is not the cluster's state: it must never replace a snapshot, here or on a peer */
	uint64_t index = raft_applied_index(r);
	size_t cap = fsm_snapshot_size(f), len;
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return;
	/* Every entry up to `index` was applied to f (apply is synchronous). */
	if (fsm_snapshot(f, buf, cap, &len) == 0 && raft_node_snapshot(n, index, buf, len) == 0)
		*last_index = index;
	free(buf);
}

static void arb_raft_started(void *arg, struct raft_node *n, int result)
{
	struct arb *a = arg;
	(void)n;
	if (result != 0)
		fl_err("host %" PRIu64 ": Raft node failed to start: %s", a->cfg.host_id, fl_strerror(result));
}

void arb_snapshot_refused(struct arb *a, const char *whose, uint64_t index, int rv)
{
	FL_ASSERT(rv != 0);
	if (!a->snapshot_refused)
		fl_err("host %" PRIu64 ": %ssnapshot of the replicated state at index %" PRIu64 " refused: %s%s; "
		       "this host's copy of the cluster state is no longer the cluster's: it applies, snapshots and "
		       "decides nothing more, and must stop",
		       a->cfg.host_id, whose, index, fl_strerror(rv),
		       rv == -FL_EFOREIGN ? " (its VM, host or slot tables differ in size from this build's: it was "
					     "written by another fencelock version)"
					   : "");
	a->snapshot_refused = true;
	a->snapshot_refused_index = index;
	a->snapshot_refused_rv = rv;
}

static void arb_raft_apply(void *arg, struct raft_node *n, const struct raft_entry *e)
{
	struct arb *a = arg;
	(void)n;
	if (a->cfg.applied)
		a->cfg.applied(a->cfg.applied_ctx, a->cfg.host_id, e);
	if (e->type != RAFT_ENTRY_NORMAL)
		return;
	if (e->index <= a->fsm.last_index)
		return; /* replayed below our snapshot */
	if (a->snapshot_refused)
		return; /* our FSM lacks what the refused snapshot held: applying more would diverge */
	uint64_t ev0 = a->fsm.ev_total;
	int rv = fsm_apply(&a->fsm, e->index, e->term, e->data, e->len);
	if (rv != 0)
		fl_debug("host %" PRIu64 ": entry %" PRIu64 " rejected: %s", a->cfg.host_id, e->index,
			 fl_strerror(rv));
	/* A VM placed here starts acquiring its leases now, not at the next
	 * tick: a hand-over waits for it. */
	for (uint64_t s = ev0; s < a->fsm.ev_total; s++) {
		const struct fsm_event *ev = fsm_event_get(&a->fsm, s);
		if (ev != NULL && ev->kind == FSM_EV_VM_PLACE && ev->host_id == a->cfg.host_id)
			arb_tick_soon(a);
	}
}

void arb_tick_soon(struct arb *a)
{
	/* Unarmed while the tick runs (it re-arms itself at its end) or
	 * before the start: nothing to move then. */
	if (fl_timer_armed(&a->tick))
		fl_timer_after(a->loop, &a->tick, 0);
}

static void arb_raft_restore(void *arg, struct raft_node *n, const struct raft_snapshot *s)
{
	struct arb *a = arg;
	(void)n;
	int rv = fsm_restore(&a->fsm, s->data, s->len);
	a->snap_index = s->index;
	if (rv != 0)
		arb_snapshot_refused(a, "", s->index, rv);
	else
		fl_info("host %" PRIu64 ": snapshot at %" PRIu64 " installed: %" PRIu64 " bytes, %" PRIu64 " VMs",
			a->cfg.host_id, s->index, (uint64_t)s->len, (uint64_t)fsm_vm_count(&a->fsm));
}

static void arb_raft_state(void *arg, struct raft_node *n, uint8_t state, uint64_t term, uint64_t leader)
{
	struct arb *a = arg;
	(void)n;
	(void)term;
	(void)leader;
	bool was = a->leader;
	a->leader = state == RAFT_LEADER;
	if (a->leader && !was)
		arb_leader_became(a);
}

/* ---- the delta lease ---- */

static void arb_ls_event(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg)
{
	struct arb *a = arg;
	switch (ev) {
	case LS_EV_ACQUIRED:
		if (result == -FL_EBUSY) { /* another host, under another name, keeps renewing our host_id */
			a->host_id_taken = true;
			fl_err("host %" PRIu64 ": host_id %" PRIu64 " is held by another live host on the shared device: "
			       "two hosts have the same [host] id", a->cfg.host_id, a->cfg.host_id);
			return;
		}
		if (result != 0) {
			fl_warn("host %" PRIu64 ": acquiring host_id failed: %s; retrying", a->cfg.host_id,
				fl_strerror(result));
			return;
		}
		a->ls_held = true;
		a->generation = ls_own_record(ls)->owner_generation;
		__attribute__((fallthrough)); /* an acquire is a good renewal */
	case LS_EV_RENEW_OK: {
		uint64_t lat = arb_now(a) - ls_last_good_renewal_us(ls);
		a->ctr.renewals++;
		if (ev == LS_EV_RENEW_OK) { /* an acquire waits 2T on purpose: not a renewal's latency */
			a->ctr.renew_latency_us = lat;
			a->ctr.renew_latency_max_us = FL_MAX(a->ctr.renew_latency_max_us, lat);
			fl_lat_add(&a->renew_latency, lat);
		}
		if (!arb_mut_no_guard())
			a->cfg.vm.guard(a->cfg.vm.ctx, ls_valid_until_us(ls), a->tim.k_us);
		arb_mb_enqueue(a, MBJ_OWN, a->cfg.host_id, 0);
		break;
	}
	case LS_EV_RENEW_FAILED:
		a->ctr.renewal_failures++;
		break;
	case LS_EV_EXPIRED:
	case LS_EV_LEASE_LOST:
		fl_warn("host %" PRIu64 ": delta lease %s: stopping every VM", a->cfg.host_id,
			ev == LS_EV_EXPIRED ? "expired" : "lost");
		a->ls_held = false;
		if (arb_vms_running(a) > 0)
			a->ctr.fences_storage++;
		arb_vms_kill_all(a, ARB_STOP_STORAGE);
		break;
	case LS_EV_RELEASED:
		a->ls_held = false;
		a->released = result == 0;
		if (result != 0)
			fl_warn("host %" PRIu64 ": releasing the delta lease failed: %s; it expires on its own",
				a->cfg.host_id, fl_strerror(result));
		break;
	case LS_EV_FORMATTED:
		break;
	}
}

/* ---- quorum and the tick ---- */

bool arb_others_alive(const struct arb *a)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : NULL;
	for (uint32_t i = 0; c && i < c->n; i++) {
		uint64_t h = c->servers[i].id;
		if (h == a->cfg.host_id || h > ARB_MAX_HOSTS || c->servers[i].role != RAFT_VOTER)
			continue;
		enum ls_host_state s = ls_host_state(a->ls, h);
		if (s != LS_HOST_DEAD && s != LS_HOST_FREE)
			return true;
	}
	return c == NULL; /* no configuration yet: assume others */
}

/* Takes the delta lease (again). After an expiry only once every VM run
 * under the old generation is dead and F + K have passed since the lease
 * stopped being valid: the new generation makes the old volume leases free
 * for others at once. A LOST lease (another host wrote our id) is a
 * misconfiguration: it stays down and says so. */
static void arb_lease_recover(struct arb *a, uint64_t now)
{
	enum ls_state st = ls_state(a->ls);
	if (st == LS_EXPIRED && arb_vms_all_idle(a) && now >= ls_valid_until_us(a->ls) + a->tim.k_us) {
		/* Refused while a write of the old lease is still in flight: next tick. */
		if (ls_reset(a->ls) != 0)
			return;
		fl_notice("host %" PRIu64 ": every VM is down; taking our host_id again", a->cfg.host_id);
		st = LS_IDLE;
	}
	if (!a->ls_held && st == LS_IDLE) {
		/* Errors of the acquire itself come as LS_EV_ACQUIRED; this is a
		 * refusal to start one (an I/O in flight, no memory, a submit error). */
		int rv = ls_acquire(a->ls);
		if (rv == -FL_EAGAIN)
			fl_debug("host %" PRIu64 ": host_id acquire not started yet: an I/O is in flight", a->cfg.host_id);
		else if (rv != 0)
			fl_warn("host %" PRIu64 ": cannot start acquiring our host_id: %s; trying again next tick",
				a->cfg.host_id, fl_strerror(rv));
	}
}

static bool arb_compute_quorate(struct arb *a, uint64_t now)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	if (r == NULL)
		return false;
	if (raft_state(r) == RAFT_LEADER)
		return raft_leader_lease_valid(r, now);
	uint64_t l = arb_leader_id(a);
	if (l == 0 || l > ARB_MAX_HOSTS || a->leader_ok_us == 0)
		return false;
	return now - a->leader_ok_us < a->cfg.raft.election_timeout_us;
}

/* When we lose quorum, P counts from the last moment we were provably in
 * contact with a quorum, not from when we noticed: a leader's is the send
 * time of the newest append a majority acknowledged, a follower's its last
 * sign of a valid-lease leader (direct or relayed). Never earlier than E
 * before the last tick we were quorate (a quorate follower had such a sign
 * within E, a leader's lease is shorter than E), so a stale time can never
 * make a short outage look like a long one. */
static uint64_t arb_quorum_lost_at(const struct arb *a, uint64_t now)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	uint64_t contact = r == NULL ? 0 : raft_state(r) == RAFT_LEADER ? raft_quorum_contact_us(r, now) : a->leader_ok_us;
	uint64_t e = a->cfg.raft.election_timeout_us;
	uint64_t floor = a->quorate_us > e ? a->quorate_us - e : 0;
	if (contact == 0 || contact > now)
		return now;
	FL_ASSERT(FL_MAX(contact, floor) <= now);
	return FL_MAX(contact, floor);
}

/* P after the last contact, the tick that fences us runs at once rather than
 * up to a tick later. */
static void arb_p_timer_fn(struct fl_timer *t, void *arg)
{
	(void)t;
	arb_tick_soon(arg);
}

static void arb_update_quorum(struct arb *a, uint64_t now)
{
	bool q = arb_compute_quorate(a, now);
	if (a->quorate && !q) {
		a->quorum_lost_us = arb_quorum_lost_at(a, now);
		fl_timer_arm(a->loop, &a->p_timer, a->quorum_lost_us + a->cfg.p_us + 1);
	}
	if (q) {
		fl_timer_cancel(a->loop, &a->p_timer);
		a->quorate_us = now;
	}
	if (!a->quorate && !q && a->quorum_lost_us == 0)
		a->quorum_lost_us = now;
	a->quorate = q;
}

static void arb_tick_fn(struct fl_timer *t, void *arg)
{
	struct arb *a = arg;
	uint64_t now = arb_now(a);
	(void)t;
	arb_lease_recover(a, now);
	arb_update_quorum(a, now);
	arb_maybe_snapshot(a, a->node, &a->fsm, &a->snap_index);
	/* Nothing is decided on a state that is not the cluster's: no VM
	 * started or stopped by it, no leader's decision. */
	if (!a->snapshot_refused)
		arb_vms_reconcile(a);
	if (a->snapshot_refused) {
		if (a->leader)
			arb_leader_step_aside(a, "its copy of the cluster state was refused");
	} else if (a->leader && a->quorate) {
		if (arb_lease_valid(a))
			arb_leader_tick(a);
		else
			arb_leader_hand_off(a);
	} else {
		arb_classify_all(a);
	}
	if (!arb_mut_witness_ignored())
		arb_witness_tick(a, now);
	arb_view_send(a, now);
	arb_proto_tick(a, now);
	arb_join_tick(a, now);
	arb_header_tick(a, now);
	fl_timer_after(a->loop, &a->tick, a->cfg.tick_us);
}

/* ---- life cycle ---- */

static int arb_check_config(const struct arb_config *c)
{
	if (c->loop == NULL || c->bdev == NULL || c->store == NULL || c->transport == NULL)
		return -FL_EINVAL;
	if (c->vm.start == NULL || c->vm.kill == NULL || c->vm.guard == NULL)
		return -FL_EINVAL;
	if (c->host_id == 0 || c->host_id > c->layout.max_hosts || c->layout.max_hosts > ARB_MAX_HOSTS)
		return -FL_EINVAL;
	if (c->raft.id != c->host_id || c->p_us == 0)
		return -FL_EINVAL;
	if (c->voters != 0 && (c->voters < 3 || c->voters > ARB_VOTERS_MAX || c->voters % 2 == 0))
		return -FL_EINVAL;
	if (c->max_vms > ARB_MAX_VMS_CAP)
		return -FL_EINVAL;
	return 0;
}

int arb_bootstrap_config(const uint32_t *ids, uint32_t n, struct raft_config *boot)
{
	bool seen[ARB_MAX_HOSTS + 1] = {false};
	memset(boot, 0, sizeof(*boot));
	if (n > ARB_MAX_HOSTS)
		return -FL_EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] == 0 || ids[i] > ARB_MAX_HOSTS || seen[ids[i]])
			return -FL_EINVAL;
		seen[ids[i]] = true;
	}
	uint32_t voters = 0;
	for (uint32_t h = 1; h <= ARB_MAX_HOSTS; h++) {
		if (!seen[h])
			continue;
		bool v = voters < ARB_VOTERS_MAX;
		boot->servers[boot->n++] = (struct raft_server){.id = h, .role = v ? RAFT_VOTER : RAFT_LEARNER};
		voters += v;
	}
	if (voters > 0 && voters % 2 == 0)
		boot->servers[boot->n++] = (struct raft_server){.id = FL_WITNESS_RAFT_ID, .role = RAFT_VOTER};
	FL_ASSERT(boot->n == n + (voters > 0 && voters % 2 == 0));
	FL_ASSERT(boot->n <= RAFT_MAX_SERVERS);
	return 0;
}

static int arb_init_lockspace(struct arb *a)
{
	struct ls_config lc;
	memset(&lc, 0, sizeof(lc));
	snprintf(lc.space_name, sizeof(lc.space_name), "%s", a->cfg.layout.cluster);
	snprintf(lc.host_name, sizeof(lc.host_name), "%s", a->cfg.host_name);
	lc.host_id = a->cfg.host_id;
	lc.offset = a->cfg.layout.lockspace_offset;
	lc.align_bytes = a->cfg.layout.align_bytes;
	lc.io_timeout_ms = a->cfg.layout.io_timeout_ms;
	lc.min_read_hosts = a->cfg.layout.max_hosts;
	lc.repair_corrupt_own = true;
	return ls_new(a->loop, a->cfg.bdev, &lc, arb_ls_event, a, &a->ls);
}

int arb_new(const struct arb_config *cfg, struct arb **out)
{
	int rv = arb_check_config(cfg);
	if (rv != 0)
		return rv;
	struct arb *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -FL_ENOMEM;
	a->cfg = *cfg;
	if (a->cfg.voters == 0)
		a->cfg.voters = ARB_VOTERS_DEFAULT;
	a->loop = cfg->loop;
	if (a->cfg.tick_us == 0)
		a->cfg.tick_us = cfg->layout.renew_us / 4;
	if (a->cfg.snapshot_every == 0)
		a->cfg.snapshot_every = ARB_SNAPSHOT_EVERY;
	if (a->cfg.start_fail_max == 0)
		a->cfg.start_fail_max = 3;
	if (a->cfg.start_backoff_max_us == 0)
		a->cfg.start_backoff_max_us = 8 * cfg->layout.renew_us;
	fl_rand_seed(&a->rand, cfg->seed);
	a->join.nonce = fl_rand_next(&a->rand) | 1u; /* never 0: 0 is "none" */
	struct ls_timing lt;
	ls_timing_fencelock_ms(cfg->layout.io_timeout_ms, &lt);
	cls_timings_from_ls(&a->tim, &lt, cfg->p_us, 2 * lt.renew_us);
	a->raft_tx.ops = &arb_raft_tx_ops;
	fl_timer_init(&a->tick, arb_tick_fn, a);
	fl_timer_init(&a->p_timer, arb_p_timer_fn, a);
	rv = fsm_init(&a->fsm, &cfg->limits);
	if (rv == 0)
		rv = plc_plan_init(&a->plan, &cfg->limits);
	if (rv == 0)
		rv = arb_init_lockspace(a);
	if (rv == 0)
		rv = arb_vms_init(a);
	if (rv == 0)
		rv = arb_leader_init(a);
	if (rv == 0)
		rv = arb_mb_init(a);
	if (rv == 0)
		rv = arb_header_init(a);
	if (rv == 0)
		rv = arb_witness_init(a);
	if (rv != 0) {
		raft_logstore_close(cfg->store);
		a->cfg.store = NULL;
		arb_free(a);
		return rv;
	}
	*out = a;
	return 0;
}

int arb_start(struct arb *a)
{
	FL_ASSERT(!a->started);
	struct raft_node_config nc;
	memset(&nc, 0, sizeof(nc));
	nc.opt = a->cfg.raft;
	nc.loop = a->loop;
	nc.store = a->cfg.store;
	nc.transport = &a->raft_tx;
	nc.bootstrap = a->cfg.bootstrap;
	nc.app = (struct raft_node_app){.started = arb_raft_started, .apply = arb_raft_apply,
				       .restore = arb_raft_restore, .state = arb_raft_state, .arg = a};
	a->cfg.store = NULL; /* the node owns it from now on, even on error */
	int rv = raft_node_new(&nc, &a->node);
	if (rv != 0)
		return rv;
	a->started = true;
	rv = ls_acquire(a->ls);
	if (rv != 0)
		return rv;
	fl_timer_after(a->loop, &a->tick, a->cfg.tick_us);
	return 0;
}

void arb_free(struct arb *a)
{
	if (a == NULL)
		return;
	fl_timer_cancel(a->loop, &a->tick);
	fl_timer_cancel(a->loop, &a->p_timer);
	arb_witness_free(a);
	arb_mb_free(a);
	arb_header_free(a);
	arb_vms_free(a);
	arb_leader_free(a);
	arb_mut_forget(a);
	raft_node_free(a->node);
	if (a->cfg.store)
		raft_logstore_close(a->cfg.store);
	if (a->ls)
		ls_free(a->ls);
	plc_plan_free(&a->plan);
	fsm_free(&a->fsm);
	free(a->txbuf);
	free(a);
}

int arb_release(struct arb *a)
{
	if (!arb_vms_all_idle(a))
		return -FL_EBUSY;
	fl_timer_cancel(a->loop, &a->tick);
	fl_timer_cancel(a->loop, &a->p_timer);
	enum ls_state st = ls_state(a->ls);
	if (st != LS_HELD && st != LS_EXPIRED)
		return -FL_ENOENT;
	return ls_release(a->ls);
}

bool arb_released(const struct arb *a) { return a->released; }

/* ---- status ---- */

const struct fl_lat *arb_renew_lateness(const struct arb *a)
{
	return a->ls != NULL ? ls_renew_lateness(a->ls) : NULL;
}

const struct fl_lat *arb_renew_latency(const struct arb *a)
{
	return &a->renew_latency;
}

uint64_t arb_host_heard_us(const struct arb *a, uint32_t host_id)
{
	return host_id >= 1 && host_id <= ARB_MAX_HOSTS ? arb_heard_us(a, host_id) : 0;
}

void arb_status(const struct arb *a, struct arb_status *out)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	memset(out, 0, sizeof(*out));
	out->quorate = a->quorate;
	out->lease_valid = arb_lease_valid(a);
	out->fenced = a->fenced_status || a->want_fenced_status || a->pill;
	out->leader = arb_leader_id(a);
	out->term = r ? raft_term(r) : 0;
	out->commit = r ? raft_commit_index(r) : 0;
	out->leader_commit = r ? raft_leader_commit(r) : 0;
	out->valid_until_us = a->ls ? ls_valid_until_us(a->ls) : 0;
	out->vms_running = arb_vms_running(a);
	out->vms_waiting = arb_is_leader(a) ? a->ldr.vms_waiting : 0;
	out->fences = a->ctr.fences;
	out->takeovers = a->ctr.takeovers;
	out->pills = a->ctr.pills;
	out->unaccounted = a->audit.unaccounted;
	out->renewals = a->ctr.renewals;
	out->renewal_failures = a->ctr.renewal_failures;
	out->renew_latency_us = a->ctr.renew_latency_us;
	out->renew_latency_max_us = a->ctr.renew_latency_max_us;
	out->fences_quorum = a->ctr.fences_quorum;
	out->fences_pill = a->ctr.fences_pill;
	out->fences_storage = a->ctr.fences_storage;
	out->rejected_forward = a->ctr.rejected_forward;
	out->rejected_witness = a->ctr.rejected_witness;
	out->start_failures = a->ctr.start_failures;
	out->start_give_ups = a->ctr.start_give_ups;
	out->audited = a->audit.done;
	out->header_foreign = a->hdr.foreign;
	out->header_checks = a->ctr.header_checks;
	out->witness_holder = a->w.held ? (uint32_t)a->cfg.host_id : a->w.holder;
	out->witness_held = a->w.held;
	out->host_id_taken = a->host_id_taken;
	out->snapshot_refused = a->snapshot_refused;
	out->snapshot_refused_index = a->snapshot_refused_index;
	out->snapshot_refused_rv = a->snapshot_refused_rv;
	out->removed = a->join.removed;
	out->removed_by = a->join.removed_by;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : NULL;
	int i = c ? raft_config_find(c, a->cfg.host_id) : -1;
	if (a->join.removed)
		out->member = ARB_MEMBER_REMOVED;
	else if (i < 0 || (!arb_join_settled(a) && a->cfg.bootstrap == NULL))
		out->member = ARB_MEMBER_JOINING; /* a founder its bootstrap names is what it names, quorate or not */
	else
		out->member = c->servers[i].role == RAFT_VOTER ? ARB_MEMBER_VOTER : ARB_MEMBER_LEARNER;
}

const char *arb_member_name(uint8_t member)
{
	switch (member) {
	case ARB_MEMBER_JOINING: return "joining";
	case ARB_MEMBER_LEARNER: return "learner";
	case ARB_MEMBER_VOTER: return "voter";
	case ARB_MEMBER_REMOVED: return "removed";
	default: return "?";
	}
}

bool arb_host_view(const struct arb *a, uint32_t host_id, struct arb_host_view *out)
{
	if (host_id == 0 || host_id > ARB_MAX_HOSTS || !a->cls[host_id].valid)
		return false;
	out->host_id = host_id;
	out->state = a->cls[host_id].state;
	out->since_us = a->cls[host_id].since_us;
	return true;
}

uint32_t arb_host_max_vms(const struct arb *a, uint32_t host_id)
{
	if (host_id == a->cfg.host_id)
		return a->cfg.max_vms;
	if (host_id == 0 || host_id > ARB_MAX_HOSTS || a->view_us[host_id] == 0)
		return 0;
	return a->view_flags[host_id] >> ARB_VIEW_CAP_SHIFT;
}

const struct fsm *arb_fsm(const struct arb *a) { return &a->fsm; }
struct raft_node *arb_raft(const struct arb *a) { return a->node; }
struct raft_node *arb_witness_raft(const struct arb *a) { return a->w.node; }
