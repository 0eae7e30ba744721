/* The disk voter: a Raft voter whose term, vote, log and snapshot live in
 * the disk voter area of the shared device (plugin/arbiter/voter_store.h), run by
 * whichever host holds the witness lease.
 *
 * It makes an even number of host voters odd, so a two-node cluster or a 2-2
 * split still has a true majority on the side whose host serves it. Rules:
 *   - a host tries to take the witness lease only while no live host says (in
 *     its view) that it serves the voter; the Disk Paxos takeover rule decides:
 *     a live holder is never bypassed, a dead one is replaced after D;
 *   - the holder runs a second raft_node (id ARB_WITNESS_ID) in-process on the
 *     voter store; messages for it travel to the holder inside a 'W' envelope
 *     and in-process ones go through a small bounded queue;
 *   - the holder stops serving at its self-fence deadline (its delta lease not
 *     valid, or not quorate for longer than P while another host voter may
 *     be alive), exactly as it stops its VMs; since others take the lease
 *     only after D > F, two hosts never serve it at once;
 *   - a host that is not quorate takes it only when every other host voter is
 *     DEAD or FREE on disk: the last survivor of a two-node cluster, never an
 *     isolated host that would take the tie-breaker away from a majority;
 *   - the voter never keeps leadership: if it wins an election it hands
 *     leadership to the best host voter (decisions are made by hosts only). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"
#include "plugin/arbiter/arb_mutant.h"
#include "plugin/arbiter/voter_store.h"

#define W_HDR_BYTES 17u /* 'W', from u64, to u64 */

bool arb_witness_in_config(const struct arb *a)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : a->cfg.bootstrap;
	return c != NULL && raft_config_find(c, ARB_WITNESS_ID) >= 0;
}

/* ---- in-process delivery ---- */

static void local_fire(struct fl_timer *t, void *arg);

static void local_push(struct arb *a, uint64_t from, uint64_t to, const void *p, uint32_t len)
{
	if (a->w.q_len == ARB_WQ_MAX)
		return; /* dropped: Raft tolerates loss */
	struct arb_wmsg *m = &a->w.q[(a->w.q_head + a->w.q_len) % ARB_WQ_MAX];
	if (m->data == NULL || m->cap < len) {
		uint8_t *copy = malloc(len ? len : 1);
		if (copy == NULL)
			return;
		free(m->data);
		m->data = copy;
		m->cap = len ? len : 1;
	}
	memcpy(m->data, p, len);
	m->from = from;
	m->to = to;
	m->len = len;
	a->w.q_len++;
	if (!fl_timer_armed(&a->w.q_timer))
		fl_timer_after(a->loop, &a->w.q_timer, 0);
}

static void local_fire(struct fl_timer *t, void *arg)
{
	struct arb *a = arg;
	(void)t;
	/* Bounded: what these deliveries queue waits for the next round. The
	 * slot stays queued while it is delivered, so what the delivery pushes
	 * goes to other slots and its buffer is not overwritten under it. */
	for (uint32_t n = a->w.q_len; n > 0; n--) {
		FL_ASSERT(a->w.q_len > 0);
		struct arb_wmsg *m = &a->w.q[a->w.q_head];
		if (m->to == ARB_WITNESS_ID && a->w.node)
			raft_node_receive(a->w.node, m->from, m->data, m->len);
		else if (m->to == a->cfg.host_id && a->node)
			raft_node_receive(a->node, m->from, m->data, m->len);
		if (m->cap > ARB_WQ_KEEP_BYTES) {
			free(m->data); /* only small messages (heartbeats) keep their slot's buffer */
			m->data = NULL;
			m->cap = 0;
		}
		a->w.q_head = (a->w.q_head + 1) % ARB_WQ_MAX;
		a->w.q_len--;
	}
	if (a->w.q_len > 0)
		fl_timer_after(a->loop, &a->w.q_timer, 0);
}

static int w_envelope_send(struct arb *a, uint64_t via, uint64_t from, uint64_t to, const void *p, uint32_t len)
{
	uint8_t *m = arb_txbuf(a, W_HDR_BYTES + len);
	if (m == NULL)
		return -FL_ENOMEM;
	m[0] = ARB_WITNESS_MAGIC;
	fl_put_le64(m + 1, from);
	fl_put_le64(m + 9, to);
	memcpy(m + W_HDR_BYTES, p, len);
	return raft_transport_send(a->cfg.transport, via, m, W_HDR_BYTES + len);
}

/* Our host node sends to the disk voter: to whoever serves it. */
int arb_witness_route(struct arb *a, const void *payload, uint32_t len)
{
	if (a->w.node) {
		local_push(a, a->cfg.host_id, ARB_WITNESS_ID, payload, len);
		return 0;
	}
	uint64_t now = arb_now(a);
	if (a->w.holder == 0 || now - a->w.holder_us > a->tim.h_us)
		return 0; /* nobody serves it that we know of: dropped */
	return w_envelope_send(a, a->w.holder, a->cfg.host_id, ARB_WITNESS_ID, payload, len);
}

/* The disk voter sends to a host. */
static int w_send(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len)
{
	struct arb *a = (struct arb *)((char *)t - offsetof(struct arb, w.tx));
	if (to == a->cfg.host_id) {
		local_push(a, ARB_WITNESS_ID, to, payload, len);
		return 0;
	}
	return w_envelope_send(a, to, ARB_WITNESS_ID, to, payload, len);
}

static const struct raft_transport_ops w_tx_ops = {.send = w_send};

void arb_witness_receive(struct arb *a, uint64_t via, const uint8_t *b, uint32_t len)
{
	if (len < W_HDR_BYTES - 1)
		return;
	uint64_t from = fl_get_le64(b), to = fl_get_le64(b + 8);
	const uint8_t *p = b + 16;
	uint32_t n = len - 16;
	/* A host speaks to the voter only for itself; the voter speaks only
	 * through the host that serves it, as that host's views say (never as
	 * the envelope claims: any peer could claim it). */
	bool holder = via == a->w.holder && arb_now(a) - a->w.holder_us <= a->tim.h_us;
	if (to == ARB_WITNESS_ID && from == via) {
		if (a->w.node)
			raft_node_receive(a->w.node, from, p, n);
	} else if (to == a->cfg.host_id && from == ARB_WITNESS_ID && holder) {
		if (a->node)
			raft_node_receive(a->node, ARB_WITNESS_ID, p, n);
	} else {
		arb_reject(a, via, true, from == ARB_WITNESS_ID ? "a disk-voter message from a host that does not "
			   "serve the voter" : "a disk-voter message in another host's name");
	}
}

/* ---- serving ---- */

static void w_state(void *arg, struct raft_node *n, uint8_t state, uint64_t term, uint64_t leader)
{
	struct arb *a = arg;
	(void)term;
	(void)leader;
	if (state != RAFT_LEADER)
		return;
	/* Hosts decide; the disk voter only votes. Hand over to the host voter
	 * heard most recently (the transfer first brings it up to date). */
	uint64_t best = 0, best_us = 0;
	const struct raft_config *c = raft_configuration(raft_node_core(n), NULL);
	for (uint32_t i = 0; c && i < c->n; i++) {
		uint64_t h = c->servers[i].id;
		if (h == ARB_WITNESS_ID || h > ARB_MAX_HOSTS || c->servers[i].role != RAFT_VOTER)
			continue;
		uint64_t heard = h == a->cfg.host_id ? arb_now(a) : arb_heard_us(a, (uint32_t)h);
		if (heard > best_us) {
			best_us = heard;
			best = h;
		}
	}
	if (best == 0)
		return;
	int rv = raft_node_transfer(n, best);
	if (rv != 0)
		fl_notice("host %" PRIu64 ": the disk voter leads and could not hand leadership to host %" PRIu64 ": %s",
			  a->cfg.host_id, best, fl_strerror(rv));
}

static void w_started(void *arg, struct raft_node *n, int result)
{
	struct arb *a = arg;
	(void)n;
	if (result != 0)
		fl_err("host %" PRIu64 ": disk voter failed to start: %s", a->cfg.host_id, fl_strerror(result));
}

/* The voter keeps an FSM replica only to snapshot it: its log lives in a
 * bounded ring on the shared device and must be compacted like any other. */
static void w_apply(void *arg, struct raft_node *n, const struct raft_entry *e)
{
	struct arb *a = arg;
	(void)n;
	if (e->type != RAFT_ENTRY_NORMAL || e->index <= a->w.fsm.last_index || a->snapshot_refused)
		return;
	/* A command the FSM refuses is refused on every replica alike (the
	 * hosts' own FSMs log it); the replica only records the entry's index. */
	int rv = fsm_apply(&a->w.fsm, e->index, e->term, e->data, e->len);
	if (rv != 0)
		fl_debug("host %" PRIu64 ": disk voter: entry %" PRIu64 " refused: %s", a->cfg.host_id, e->index,
			 fl_strerror(rv));
}

static void w_restore(void *arg, struct raft_node *n, const struct raft_snapshot *s)
{
	struct arb *a = arg;
	(void)n;
	int rv = fsm_restore(&a->w.fsm, s->data, s->len);
	if (rv != 0)
		arb_snapshot_refused(a, "disk voter: ", s->index, rv);
	a->w.snap_index = s->index;
}

/* Runs the disk voter here. Its role precondition: we hold the witness lease
 * in our current generation (or the mutant of FL_MUT_WITNESS_TWICE pretends
 * we do), our delta lease is valid, and we do not serve it already: two
 * disk voters would be two votes of one member. */
void arb_witness_serve(struct arb *a)
{
	struct raft_logstore *store = NULL;
	char err[256];
	FL_ASSERT(a->w.held);
	FL_ASSERT(a->w.gen == a->generation);
	FL_ASSERT(a->w.node == NULL);
	FL_ASSERT(arb_lease_valid(a));
	fsm_reset(&a->w.fsm);
	a->w.snap_index = 0;
	struct voter_store_opts vo = {.io_timeout_us = (uint64_t)a->cfg.layout.io_timeout_ms * FL_US_PER_MS};
	int rv = voter_store_open(a->loop, a->cfg.bdev, a->cfg.layout.voter_offset, a->cfg.layout.voter_bytes, &vo,
				  &store, err, sizeof(err));
	if (rv != 0) {
		fl_err("host %" PRIu64 ": disk voter store: %s", a->cfg.host_id, err);
		return;
	}
	struct raft_node_config nc;
	memset(&nc, 0, sizeof(nc));
	nc.opt = a->cfg.raft;
	nc.opt.id = ARB_WITNESS_ID;
	nc.opt.seed = fl_rand_next(&a->rand);
	nc.opt.election_timeout_us = 3 * a->cfg.raft.election_timeout_us; /* hosts usually win */
	nc.loop = a->loop;
	nc.store = store;
	nc.transport = &a->w.tx;
	nc.bootstrap = a->cfg.bootstrap;
	nc.app = (struct raft_node_app){.started = w_started, .apply = w_apply, .restore = w_restore,
				       .state = w_state, .arg = a};
	rv = raft_node_new(&nc, &a->w.node);
	if (rv != 0) {
		fl_err("host %" PRIu64 ": disk voter: %s", a->cfg.host_id, fl_strerror(rv));
		a->w.node = NULL;
		return;
	}
	fl_notice("host %" PRIu64 ": serving the disk voter", a->cfg.host_id);
}

static void w_stop(struct arb *a, const char *why)
{
	if (a->w.node == NULL)
		return;
	fl_notice("host %" PRIu64 ": no longer serving the disk voter: %s", a->cfg.host_id, why);
	raft_node_free(a->w.node);
	a->w.node = NULL;
}

static void w_area(struct arb *a, struct vl_area *area)
{
	area->bdev = a->cfg.bdev;
	area->offset = a->cfg.layout.witness_offset;
	area->num_hosts_hint = a->cfg.layout.max_hosts;
	area->space_name = a->cfg.layout.cluster;
	area->resource_name = LAY_WITNESS_NAME;
}

static void w_op_done(struct vl_op *op, void *arg)
{
	struct arb *a = arg;
	int rv = op->res.rv;
	bool acquiring = op->kind == VL_ACQUIRE;
	a->w.op_busy = false;
	vl_op_free(op);
	if (!acquiring) {
		a->w.held = false;
		return;
	}
	if (rv != 0) {
		a->w.try_us = arb_now(a) + a->tim.r_us + fl_rand_below(&a->rand, a->tim.r_us);
		return;
	}
	a->w.held = true;
	a->w.gen = a->generation;
	if (arb_lease_valid(a))
		arb_witness_serve(a);
}

/* Whether a live host other than us says it serves the voter. */
static bool someone_serves(const struct arb *a, uint64_t now)
{
	for (uint32_t h = 1; h <= a->cfg.layout.max_hosts; h++)
		if (h != a->cfg.host_id && (a->view_flags[h] & ARB_VIEW_WITNESS) && now - a->view_us[h] < a->tim.h_us)
			return true;
	return false;
}

void arb_witness_tick(struct arb *a, uint64_t now)
{
	arb_maybe_snapshot(a, a->w.node, &a->w.fsm, &a->w.snap_index);
	bool valid = arb_lease_valid(a);
	bool past_p = !a->quorate && a->quorum_lost_us != 0 && now - a->quorum_lost_us > a->cfg.p_us;
	bool alive = arb_others_alive(a);
	if (a->w.node && (!valid || a->w.gen != a->generation || (past_p && alive)))
		w_stop(a, !valid ? "our delta lease is not valid" : "not quorate for longer than P");
	if (a->w.held && !a->w.node && !a->w.op_busy && arb_lease_valid(a) && a->w.gen == a->generation &&
	    !arb_mut_witness_twice()) {
		/* Release it so the quorate side need not wait D for it. */
		struct vl_area area;
		w_area(a, &area);
		a->w.op_busy = true;
		if (vl_release_start(&a->w.op, &area, a->cfg.host_id, a->generation, w_op_done, a) != 0)
			a->w.op_busy = a->w.held = false;
		return;
	}
	if (a->w.gen != a->generation)
		a->w.held = false; /* a lease of a past generation is not ours any more */
	bool may_take = valid && (a->quorate || !alive);
	if (!arb_witness_in_config(a) || a->w.held || a->w.op_busy || !may_take || now < a->w.try_us)
		return;
	if (someone_serves(a, now)) {
		(void)arb_mut_witness_serve(a, now); /* mutant 8 serves it all the same */
		return;
	}
	struct vl_area area;
	w_area(a, &area);
	struct vl_acquire_args args = {.host_id = a->cfg.host_id, .generation = a->generation,
				       .owner_state = arb_owner_state, .owner_ctx = a, .rand = &a->rand};
	a->w.op_busy = true;
	if (vl_acquire_start(&a->w.op, &area, &args, w_op_done, a) != 0) {
		a->w.op_busy = false;
		a->w.try_us = now + a->tim.r_us;
	}
}

int arb_witness_init(struct arb *a)
{
	a->w.tx.ops = &w_tx_ops;
	fl_timer_init(&a->w.q_timer, local_fire, a);
	return fsm_init(&a->w.fsm, &a->cfg.limits);
}

void arb_witness_free(struct arb *a)
{
	fl_timer_cancel(a->loop, &a->w.q_timer);
	if (a->w.op_busy)
		vl_op_cancel(&a->w.op);
	vl_op_free(&a->w.op);
	raft_node_free(a->w.node);
	a->w.node = NULL;
	fsm_free(&a->w.fsm);
	for (uint32_t i = 0; i < ARB_WQ_MAX; i++) {
		free(a->w.q[i].data);
		a->w.q[i] = (struct arb_wmsg){0};
	}
	a->w.q_head = a->w.q_len = 0;
}
