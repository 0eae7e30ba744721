/* The Raft node driver (see node.h): the glue between one consensus core, its
 * log store, its transport and the loop clock.
 *
 * Persist parts are tracked in a ring of RAFT_NODE_PERSIST_MAX items; each
 * holds the up to four store requests of one part and the (last_index, term)
 * pair the core wants back. The store completes requests in submission
 * order, so items complete in ring order and raft_persisted() sees them in
 * issue order. drain() is the only place that reads updates; it is guarded
 * against re-entry (an apply callback that proposes) and bounded per call:
 * leftover work continues on a zero-delay timer so the loop stays fair. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/msg.h"
#include "raft/node.h"

#define NODE_DRAIN_ROUNDS 64u
#define NODE_DEFAULT_MAX_MSG (17u << 20)

struct node_item {
	struct raft_node *node;
	struct raft_log_req req[4];
	uint32_t n_req, n_done;
	uint64_t ack_index, ack_term;
	struct raft_log_snapshot snap;
	uint8_t *config_buf;
};

struct node_snapshot_job {
	bool busy;
	struct raft_log_req req;
	struct raft_log_snapshot snap;
	uint8_t *config_buf;
	uint8_t *data;
	uint64_t len;
};

struct raft_node {
	struct raft_node_config cfg;
	struct raft *r;
	struct raft_log_loaded loaded;
	struct raft_log_req load_req;
	struct fl_timer tick;
	struct fl_timer again;   /* continues a drain that hit its bound */
	bool draining, redrain;
	int failed;
	uint64_t sends_dropped; /* messages the transport did not queue */
	uint8_t *msg_buf;
	size_t msg_cap;
	struct node_item items[RAFT_NODE_PERSIST_MAX];
	uint32_t item_head, item_n;
	struct node_snapshot_job snapjob;
};

static void node_drain(struct raft_node *n);

static void node_fail(struct raft_node *n, int rv, const char *what)
{
	if (n->failed == 0)
		fl_err("raft node %llu: %s failed: %s; the node no longer persists anything and will lose "
		       "leadership; restart it to recover from its state directory",
		       (unsigned long long)n->cfg.opt.id, what, fl_strerror(rv));
	if (n->failed == 0)
		n->failed = rv;
}

/* ---- sending ---- */

static void node_send(struct raft_node *n, const struct raft_msg *m)
{
	size_t len = raft_msg_encoded_size(m);
	if (len == 0 || len > n->cfg.max_msg_bytes) {
		fl_warn("raft node %llu: message type %u to %llu not sent: %zu bytes, maximum %u",
			(unsigned long long)n->cfg.opt.id, m->type, (unsigned long long)m->to, len,
			n->cfg.max_msg_bytes);
		return;
	}
	if (len > n->msg_cap) {
		uint8_t *b = realloc(n->msg_buf, len);
		if (b == NULL)
			return; /* a lost message: Raft retries */
		n->msg_buf = b;
		n->msg_cap = len;
	}
	int rv = raft_msg_encode(m, n->msg_buf, n->msg_cap);
	FL_ASSERT(rv == (int)len);
	/* Loss is tolerated (Raft retries): an unknown peer or a full queue only
	 * drops, and is counted. */
	if (raft_transport_send(n->cfg.transport, m->to, n->msg_buf, (uint32_t)len) != 0)
		n->sends_dropped++;
}

/* ---- persisting ---- */

static void node_item_done(struct raft_log_req *req, int result)
{
	struct node_item *it = req->arg;
	struct raft_node *n = it->node;
	it->n_done++;
	if (result != 0)
		node_fail(n, result, "a log-store write");
	if (it->n_done < it->n_req)
		return;
	FL_ASSERT(&n->items[n->item_head] == it); /* completions in issue order */
	uint64_t idx = it->ack_index, term = it->ack_term;
	free(it->config_buf);
	it->config_buf = NULL;
	n->item_head = (n->item_head + 1) % RAFT_NODE_PERSIST_MAX;
	n->item_n--;
	if (n->failed != 0)
		return; /* never acknowledge what may not be durable */
	int rv = raft_persisted(n->r, idx, term);
	FL_ASSERT(rv == 0);
	node_drain(n);
}

static int node_encode_config(const struct raft_config *c, uint8_t **buf, uint32_t *len)
{
	size_t size = raft_config_encoded_size(c);
	*buf = malloc(size > 0 ? size : 1);
	if (*buf == NULL)
		return -FL_ENOMEM;
	int rv = raft_config_encode(c, *buf, size);
	if (rv < 0) {
		free(*buf);
		*buf = NULL;
		return rv;
	}
	*len = (uint32_t)rv;
	return 0;
}

static void node_item_add(struct node_item *it, enum raft_log_op op)
{
	struct raft_log_req *r = &it->req[it->n_req++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->cb = node_item_done;
	r->arg = it;
}

/* Builds the requests of one persist part into a fresh item. */
static int node_item_build(struct raft_node *n, struct node_item *it, const struct raft_persist *p)
{
	memset(it, 0, sizeof(*it));
	it->node = n;
	it->ack_index = p->last_index;
	it->ack_term = p->term;
	node_item_add(it, RAFT_LOG_SET_HARD);
	it->req[0].hard = (struct raft_log_hard){.term = p->hard.term, .vote = p->hard.vote};
	if (p->truncate_from != 0) {
		node_item_add(it, RAFT_LOG_TRUNCATE);
		it->req[it->n_req - 1].truncate.from_index = p->truncate_from;
	}
	if (p->snapshot != NULL) {
		const struct raft_snapshot *s = p->snapshot;
		int rv = node_encode_config(&s->config, &it->config_buf, &it->snap.config_len);
		if (rv != 0)
			return rv;
		it->snap = (struct raft_log_snapshot){.index = s->index, .term = s->term,
						      .config_len = it->snap.config_len, .config = it->config_buf,
						      .data_len = s->len, .data = s->data};
		node_item_add(it, RAFT_LOG_SNAPSHOT);
		it->req[it->n_req - 1].snapshot.snap = &it->snap;
	}
	if (p->n_entries > 0) {
		node_item_add(it, RAFT_LOG_APPEND);
		it->req[it->n_req - 1].append.entries = p->entries;
		it->req[it->n_req - 1].append.n = p->n_entries;
	}
	return 0;
}

static void node_persist(struct raft_node *n, const struct raft_persist *p)
{
	FL_ASSERT(n->item_n < RAFT_NODE_PERSIST_MAX);
	struct node_item *it = &n->items[(n->item_head + n->item_n) % RAFT_NODE_PERSIST_MAX];
	int rv = node_item_build(n, it, p);
	n->item_n++;
	/* The store copies inputs at submit; nothing here outlives this call
	 * but the requests themselves. */
	for (uint32_t i = 0; rv == 0 && i < it->n_req; i++) {
		rv = raft_logstore_submit(n->cfg.store, &it->req[i]);
		if (rv != 0)
			it->n_req = i; /* only those submitted will complete */
	}
	if (rv != 0) {
		node_fail(n, rv, "a log-store submit");
		if (it->n_req == 0) {
			free(it->config_buf);
			it->config_buf = NULL;
			n->item_n--;
		}
	}
}

/* ---- the update loop ---- */

static void node_handle_update(struct raft_node *n, const struct raft_update *u)
{
	const struct raft_node_app *app = &n->cfg.app;
	for (uint32_t i = 0; i < u->n_msgs; i++)
		node_send(n, &u->msgs[i]);
	if (u->persist.has_hard_state)
		node_persist(n, &u->persist);
	if (u->persist.snapshot != NULL && app->restore != NULL)
		app->restore(app->arg, n, u->persist.snapshot);
	for (uint32_t i = 0; i < u->n_committed; i++)
		if (app->apply != NULL)
			app->apply(app->arg, n, &u->committed[i]);
	if (u->state_changed && app->state != NULL)
		app->state(app->arg, n, u->state, u->term, u->leader);
}

static void node_drain(struct raft_node *n)
{
	if (n->r == NULL)
		return;
	if (n->draining) {
		n->redrain = true;
		return;
	}
	n->draining = true;
	for (uint32_t round = 0; round < NODE_DRAIN_ROUNDS; round++) {
		struct raft_update u;
		n->redrain = false;
		raft_ready(n->r, &u);
		node_handle_update(n, &u);
		bool idle = u.n_msgs == 0 && !u.persist.has_hard_state && u.n_committed == 0;
		if (idle && !n->redrain) {
			n->draining = false;
			return;
		}
	}
	n->draining = false;
	fl_timer_after(n->cfg.loop, &n->again, 0);
}

static void node_again(struct fl_timer *t, void *arg)
{
	(void)t;
	node_drain(arg);
}

static void node_tick(struct fl_timer *t, void *arg)
{
	struct raft_node *n = arg;
	(void)t;
	int rv = raft_tick(n->r, fl_now_us(n->cfg.loop));
	FL_ASSERT(rv == 0);
	node_drain(n);
	fl_timer_after(n->cfg.loop, &n->tick, n->cfg.tick_us);
}

/* ---- start-up ---- */

static int node_boot(struct raft_node *n)
{
	struct raft_log_loaded *l = &n->loaded;
	struct raft_boot b = {.hard = {.term = l->hard.term, .vote = l->hard.vote},
			      .entries = l->entries, .n_entries = l->n_entries};
	if (l->have_snapshot) {
		b.snapshot = (struct raft_snapshot){.index = l->snapshot.index, .term = l->snapshot.term,
						    .len = l->snapshot.data_len, .data = l->snapshot.data};
		int rv = raft_config_decode(l->snapshot.config, l->snapshot.config_len, &b.snapshot.config);
		if (rv != 0) {
			fl_err("raft node %llu: the configuration in snapshot %llu of %s does not decode; "
			       "restore the state directory from a healthy member",
			       (unsigned long long)n->cfg.opt.id, (unsigned long long)l->snapshot.index,
			       n->cfg.store->name);
			return rv;
		}
	} else if (n->cfg.bootstrap != NULL) {
		b.snapshot.config = *n->cfg.bootstrap;
	}
	int rv = raft_new(&n->cfg.opt, &b, fl_now_us(n->cfg.loop), &n->r);
	if (rv != 0)
		fl_err("raft node %llu: the core refused the state loaded from %s: %s",
		       (unsigned long long)n->cfg.opt.id, n->cfg.store->name, fl_strerror(rv));
	return rv;
}

static void node_loaded(struct raft_log_req *req, int result)
{
	struct raft_node *n = req->arg;
	int rv = result;
	if (rv == 0) {
		rv = node_boot(n);
		if (rv == 0 && n->loaded.have_snapshot && n->cfg.app.restore != NULL) {
			struct raft_snapshot s = {.index = n->loaded.snapshot.index, .term = n->loaded.snapshot.term,
						  .len = n->loaded.snapshot.data_len, .data = n->loaded.snapshot.data};
			int drv = raft_config_decode(n->loaded.snapshot.config, n->loaded.snapshot.config_len, &s.config);
			FL_ASSERT(drv == 0); /* node_boot decoded the same bytes */
			n->cfg.app.restore(n->cfg.app.arg, n, &s);
		}
	}
	raft_log_loaded_free(&n->loaded); /* the core copied what it keeps */
	if (rv != 0)
		node_fail(n, rv, "the start-up load");
	if (n->cfg.app.started != NULL)
		n->cfg.app.started(n->cfg.app.arg, n, rv);
	if (rv != 0)
		return;
	fl_timer_after(n->cfg.loop, &n->tick, n->cfg.tick_us);
	node_drain(n);
}

int raft_node_new(const struct raft_node_config *cfg, struct raft_node **out)
{
	FL_ASSERT(cfg != NULL);
	FL_ASSERT(out != NULL);
	if (cfg->loop == NULL || cfg->store == NULL || cfg->transport == NULL || cfg->opt.id == 0 ||
	    cfg->store->queue_max < RAFT_NODE_STORE_QUEUE_MIN) {
		raft_logstore_close(cfg->store);
		return -FL_EINVAL;
	}
	struct raft_node *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		raft_logstore_close(cfg->store);
		return -FL_ENOMEM;
	}
	n->cfg = *cfg;
	if (n->cfg.tick_us == 0)
		n->cfg.tick_us = FL_MAX(n->cfg.opt.heartbeat_us / 4, 1000u);
	if (n->cfg.max_msg_bytes == 0)
		n->cfg.max_msg_bytes = NODE_DEFAULT_MAX_MSG;
	fl_timer_init(&n->tick, node_tick, n);
	fl_timer_init(&n->again, node_again, n);
	n->load_req = (struct raft_log_req){.op = RAFT_LOG_LOAD, .load = {&n->loaded}, .cb = node_loaded, .arg = n};
	int rv = raft_logstore_submit(n->cfg.store, &n->load_req);
	if (rv != 0) {
		raft_node_free(n);
		return rv;
	}
	*out = n;
	return 0;
}

void raft_node_free(struct raft_node *n)
{
	if (n == NULL)
		return;
	fl_timer_cancel(n->cfg.loop, &n->tick);
	fl_timer_cancel(n->cfg.loop, &n->again);
	raft_logstore_close(n->cfg.store); /* abandons callbacks that point into n */
	for (uint32_t i = 0; i < n->item_n; i++)
		free(n->items[(n->item_head + i) % RAFT_NODE_PERSIST_MAX].config_buf);
	free(n->snapjob.config_buf);
	free(n->snapjob.data);
	raft_log_loaded_free(&n->loaded);
	raft_free(n->r);
	free(n->msg_buf);
	free(n);
}

/* ---- events from the application and the network ---- */

void raft_node_receive(struct raft_node *n, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct raft_msg m;
	if (n->r == NULL || raft_msg_decode(payload, len, &m) != 0)
		return;
	if (m.from == from && m.to == n->cfg.opt.id) {
		int rv = raft_step(n->r, fl_now_us(n->cfg.loop), &m);
		if (rv != 0)
			fl_debug("raft node %llu: message type %u from %llu refused: %s",
				 (unsigned long long)n->cfg.opt.id, m.type, (unsigned long long)from, fl_strerror(rv));
	}
	raft_msg_release(&m);
	node_drain(n);
}

int raft_node_propose(struct raft_node *n, const void *data, uint32_t len, uint64_t *index_out)
{
	if (n->r == NULL)
		return -FL_EAGAIN;
	int rv = raft_propose(n->r, fl_now_us(n->cfg.loop), data, len, index_out);
	if (rv == 0)
		node_drain(n);
	return rv;
}

int raft_node_transfer(struct raft_node *n, uint64_t target)
{
	if (n->r == NULL)
		return -FL_EAGAIN;
	int rv = raft_transfer(n->r, fl_now_us(n->cfg.loop), target);
	if (rv == 0)
		node_drain(n);
	return rv;
}

enum node_change { NODE_ADD, NODE_REMOVE, NODE_PROMOTE, NODE_DEMOTE };

static int node_change(struct raft_node *n, enum node_change what, uint64_t id)
{
	if (n->r == NULL)
		return -FL_EAGAIN;
	uint64_t now = fl_now_us(n->cfg.loop);
	int rv = -FL_EINVAL;
	switch (what) {
	case NODE_ADD: rv = raft_add(n->r, now, id); break;
	case NODE_REMOVE: rv = raft_remove(n->r, now, id); break;
	case NODE_PROMOTE: rv = raft_promote(n->r, now, id); break;
	case NODE_DEMOTE: rv = raft_demote(n->r, now, id); break;
	}
	node_drain(n);
	return rv;
}

int raft_node_add(struct raft_node *n, uint64_t id) { return node_change(n, NODE_ADD, id); }
int raft_node_remove(struct raft_node *n, uint64_t id) { return node_change(n, NODE_REMOVE, id); }
int raft_node_promote(struct raft_node *n, uint64_t id) { return node_change(n, NODE_PROMOTE, id); }
int raft_node_demote(struct raft_node *n, uint64_t id) { return node_change(n, NODE_DEMOTE, id); }

static void node_snapshot_done(struct raft_log_req *req, int result)
{
	struct raft_node *n = req->arg;
	struct node_snapshot_job *j = &n->snapjob;
	if (result != 0)
		node_fail(n, result, "a snapshot write");
	else if (raft_snapshot_taken(n->r, j->snap.index, j->data, j->len) != 0)
		fl_warn("raft node %llu: the core refused snapshot %llu", (unsigned long long)n->cfg.opt.id,
			(unsigned long long)j->snap.index);
	free(j->config_buf);
	free(j->data);
	j->config_buf = j->data = NULL;
	j->busy = false;
	node_drain(n);
}

int raft_node_snapshot(struct raft_node *n, uint64_t index, const void *data, uint64_t len)
{
	struct node_snapshot_job *j = &n->snapjob;
	uint64_t term = 0, cfg_index = 0;
	if (n->r == NULL || j->busy)
		return n->r == NULL ? -FL_EAGAIN : -FL_EBUSY;
	if (index == 0 || index > raft_applied_index(n->r) || raft_term_at(n->r, index, &term) != 0)
		return -FL_EINVAL;
	/* The configuration in force at index: the newest one, if not newer. */
	const struct raft_config *c = raft_configuration(n->r, &cfg_index);
	if (cfg_index > index)
		return -FL_EBUSY; /* try again once the change is applied */
	int rv = node_encode_config(c, &j->config_buf, &j->snap.config_len);
	j->data = len > 0 ? malloc(len) : NULL;
	if (rv != 0 || (len > 0 && j->data == NULL)) {
		free(j->config_buf);
		free(j->data);
		j->config_buf = j->data = NULL;
		return rv != 0 ? rv : -FL_ENOMEM;
	}
	if (len > 0)
		memcpy(j->data, data, len);
	j->len = len;
	j->snap = (struct raft_log_snapshot){.index = index, .term = term, .config_len = j->snap.config_len,
					     .config = j->config_buf, .data_len = len, .data = j->data};
	j->req = (struct raft_log_req){.op = RAFT_LOG_SNAPSHOT, .snapshot = {&j->snap, n->cfg.opt.snapshot_trailing},
				       .cb = node_snapshot_done, .arg = n};
	rv = raft_logstore_submit(n->cfg.store, &j->req);
	if (rv != 0) {
		free(j->config_buf);
		free(j->data);
		j->config_buf = j->data = NULL;
		return rv;
	}
	j->busy = true;
	return 0;
}

struct raft *raft_node_core(struct raft_node *n) { return n->r; }
int raft_node_failed(const struct raft_node *n) { return n->failed; }
struct raft_logstore *raft_node_store(struct raft_node *n) { return n->cfg.store; }
