/* In-memory log store for the deterministic simulator and the unit tests.
 *
 * The durable image (struct raft_mem_disk) lives apart from the store so that
 * it survives a simulated crash: the simulator closes or crashes the store and
 * opens a new one on the same disk at restart. A request is copied at submit
 * and applied to the disk only when it completes, `latency_us` of loop time
 * later, on a loop timer; a hung store accepts requests but never completes
 * them, and a crash applies only the first keep_n outstanding requests
 * (written but unacknowledged) and loses the rest. Nothing here reads a real
 * clock or a random source, so a simulated run stays a function of its seed. */
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "raft/logstore.h"

#define MEM_QUEUE_DEFAULT 64u

struct raft_mem_disk {
	struct raft_log_hard hard;
	bool have_snapshot;
	struct raft_log_snapshot snapshot;  /* owns config and data */
	struct raft_entry *entries;         /* contiguous; owns each data */
	uint64_t n_entries, cap_entries;
};

struct mem_store {
	struct raft_logstore base;
	struct raft_mem_disk *disk;
	uint64_t latency_us;
	bool hung;
	struct fl_timer timer;
};

/* A request's private copy of its inputs, made at submit. */
struct mem_copy {
	struct raft_entry *entries;
	uint32_t n;
	struct raft_log_snapshot snap;
};

static void *mem_dup(const void *p, uint64_t len)
{
	if (len == 0)
		return NULL;
	void *q = malloc(len);
	if (q != NULL)
		memcpy(q, p, len);
	return q;
}

static void mem_copy_free(struct mem_copy *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		free(c->entries[i].data);
	free(c->entries);
	free(c->snap.config);
	free(c->snap.data);
	free(c);
}

struct raft_mem_disk *raft_mem_disk_new(void)
{
	return calloc(1, sizeof(struct raft_mem_disk));
}

static void mem_disk_drop_entries(struct raft_mem_disk *d, uint64_t from_pos, uint64_t to_pos)
{
	for (uint64_t i = from_pos; i < to_pos; i++)
		free(d->entries[i].data);
}

void raft_mem_disk_free(struct raft_mem_disk *d)
{
	if (d == NULL)
		return;
	mem_disk_drop_entries(d, 0, d->n_entries);
	free(d->entries);
	free(d->snapshot.config);
	free(d->snapshot.data);
	free(d);
}

uint64_t raft_mem_disk_n_entries(const struct raft_mem_disk *d) { return d->n_entries; }

uint64_t raft_mem_disk_bytes(const struct raft_mem_disk *d)
{
	uint64_t n = d->have_snapshot ? d->snapshot.config_len + d->snapshot.data_len : 0;
	for (uint64_t i = 0; i < d->n_entries; i++)
		n += d->entries[i].len;
	return n;
}

static void mem_disk_truncate(struct raft_mem_disk *d, uint64_t from_index)
{
	if (d->n_entries == 0 || from_index > d->entries[d->n_entries - 1].index)
		return;
	uint64_t first = d->entries[0].index;
	uint64_t keep = from_index > first ? from_index - first : 0;
	mem_disk_drop_entries(d, keep, d->n_entries);
	d->n_entries = keep;
}

/* Takes ownership of the copied entries (their data moves to the disk). */
static int mem_disk_append(struct raft_mem_disk *d, struct mem_copy *c)
{
	mem_disk_truncate(d, c->entries[0].index);
	if (d->n_entries > 0 && c->entries[0].index != d->entries[d->n_entries - 1].index + 1)
		return -FL_ECORRUPT; /* a gap: the driver broke the contract */
	if (d->n_entries + c->n > d->cap_entries) {
		uint64_t cap = FL_MAX(d->cap_entries * 2, d->n_entries + c->n);
		struct raft_entry *e = realloc(d->entries, cap * sizeof(*e));
		if (e == NULL)
			return -FL_ENOMEM;
		d->entries = e;
		d->cap_entries = cap;
	}
	memcpy(&d->entries[d->n_entries], c->entries, c->n * sizeof(*c->entries));
	d->n_entries += c->n;
	c->n = 0; /* data now owned by the disk */
	return 0;
}

static void mem_disk_snapshot(struct raft_mem_disk *d, struct mem_copy *c, uint64_t trailing)
{
	free(d->snapshot.config);
	free(d->snapshot.data);
	d->snapshot = c->snap;
	d->have_snapshot = true;
	memset(&c->snap, 0, sizeof(c->snap));
	uint64_t upto = d->snapshot.index > trailing ? d->snapshot.index - trailing : 0;
	if (d->n_entries > 0 && d->entries[d->n_entries - 1].index < d->snapshot.index)
		upto = d->entries[d->n_entries - 1].index; /* as the file store: a log wholly behind goes */
	if (d->n_entries == 0 || d->entries[0].index > upto)
		return;
	uint64_t drop = FL_MIN(upto - d->entries[0].index + 1, d->n_entries);
	mem_disk_drop_entries(d, 0, drop);
	memmove(d->entries, d->entries + drop, (d->n_entries - drop) * sizeof(*d->entries));
	d->n_entries -= drop;
}

static int mem_disk_load(const struct raft_mem_disk *d, struct raft_log_loaded *out)
{
	memset(out, 0, sizeof(*out));
	out->hard = d->hard;
	out->have_snapshot = d->have_snapshot;
	if (d->have_snapshot) {
		out->snapshot = d->snapshot;
		out->snapshot.config = mem_dup(d->snapshot.config, d->snapshot.config_len);
		out->snapshot.data = mem_dup(d->snapshot.data, d->snapshot.data_len);
	}
	if (d->n_entries > 0) {
		out->entries = calloc(d->n_entries, sizeof(*out->entries));
		if (out->entries == NULL)
			goto err;
	}
	for (uint64_t i = 0; i < d->n_entries; i++) {
		out->entries[i] = d->entries[i];
		out->entries[i].data = mem_dup(d->entries[i].data, d->entries[i].len);
		out->n_entries = i + 1;
		if (d->entries[i].len > 0 && out->entries[i].data == NULL)
			goto err;
	}
	return 0;
err:
	raft_log_loaded_free(out);
	return -FL_ENOMEM;
}

static int mem_apply(struct raft_mem_disk *d, struct raft_log_req *req)
{
	struct mem_copy *c = req->priv;
	switch (req->op) {
	case RAFT_LOG_LOAD:
		return mem_disk_load(d, req->load.out);
	case RAFT_LOG_APPEND:
		return mem_disk_append(d, c);
	case RAFT_LOG_TRUNCATE:
		mem_disk_truncate(d, req->truncate.from_index);
		return 0;
	case RAFT_LOG_SET_HARD:
		d->hard = req->hard;
		return 0;
	case RAFT_LOG_SNAPSHOT:
		mem_disk_snapshot(d, c, req->snapshot.trailing);
		return 0;
	}
	return -FL_EINVAL;
}

static void mem_fire(struct fl_timer *t, void *arg)
{
	struct mem_store *m = arg;
	uint64_t now = fl_now_us(m->base.loop);
	uint32_t budget = m->base.pending; /* requests submitted by callbacks wait a turn */
	struct raft_log_req *req;
	(void)t;
	while (!m->hung && budget-- > 0 && (req = m->base.pending_head) != NULL &&
	       req->submit_us + m->latency_us <= now) {
		int rv = m->base.failed != 0 ? m->base.failed : mem_apply(m->disk, req);
		mem_copy_free(req->priv);
		req->priv = NULL;
		raft_logstore_complete(&m->base, req, rv);
	}
	if (!m->hung && m->base.pending_head != NULL)
		fl_timer_arm(m->base.loop, &m->timer, m->base.pending_head->submit_us + m->latency_us);
}

static int mem_copy_inputs(struct raft_log_req *req)
{
	if (req->op != RAFT_LOG_APPEND && req->op != RAFT_LOG_SNAPSHOT)
		return 0;
	struct mem_copy *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -FL_ENOMEM;
	req->priv = c;
	if (req->op == RAFT_LOG_SNAPSHOT) {
		const struct raft_log_snapshot *sn = req->snapshot.snap;
		c->snap = *sn;
		c->snap.config = mem_dup(sn->config, sn->config_len);
		c->snap.data = mem_dup(sn->data, sn->data_len);
		if ((sn->config_len > 0 && c->snap.config == NULL) || (sn->data_len > 0 && c->snap.data == NULL))
			goto nomem;
		return 0;
	}
	c->entries = calloc(req->append.n, sizeof(*c->entries));
	if (c->entries == NULL)
		goto nomem;
	for (uint32_t i = 0; i < req->append.n; i++) {
		const struct raft_entry *e = &req->append.entries[i];
		c->entries[i] = *e;
		c->entries[i].data = mem_dup(e->data, e->len);
		c->n = i + 1;
		if (e->len > 0 && c->entries[i].data == NULL)
			goto nomem;
	}
	return 0;
nomem:
	mem_copy_free(c);
	req->priv = NULL;
	return -FL_ENOMEM;
}

static int mem_submit(struct raft_logstore *s, struct raft_log_req *req)
{
	struct mem_store *m = (struct mem_store *)s;
	int rv = mem_copy_inputs(req);
	if (rv != 0)
		return rv;
	/* The base links req after we return; the timer only fires from the loop. */
	if (!m->hung && !fl_timer_armed(&m->timer)) {
		uint64_t at = m->base.pending_head != NULL ? m->base.pending_head->submit_us : req->submit_us;
		fl_timer_arm(s->loop, &m->timer, at + m->latency_us);
	}
	return 0;
}

static void mem_abandon(struct mem_store *m, uint32_t keep_n)
{
	struct raft_log_req *req = m->base.pending_head;
	uint32_t bound = m->base.pending;
	fl_timer_cancel(m->base.loop, &m->timer);
	for (uint32_t i = 0; i < bound && req != NULL; i++, req = req->next) {
		if (i < keep_n && req->op != RAFT_LOG_LOAD)
			(void)mem_apply(m->disk, req);
		mem_copy_free(req->priv);
		req->priv = NULL;
	}
}

static void mem_close(struct raft_logstore *s)
{
	struct mem_store *m = (struct mem_store *)s;
	mem_abandon(m, 0);
	free(m);
}

static const struct raft_logstore_ops mem_ops = {
	.submit = mem_submit,
	.close = mem_close,
};

int raft_logstore_mem_open(struct fl_loop *loop, struct raft_mem_disk *d,
			   const struct raft_logstore_mem_opts *opts, struct raft_logstore **out)
{
	FL_ASSERT(loop != NULL);
	FL_ASSERT(d != NULL);
	FL_ASSERT(out != NULL);
	struct mem_store *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -FL_ENOMEM;
	uint32_t qmax = opts != NULL && opts->queue_max > 0 ? opts->queue_max : MEM_QUEUE_DEFAULT;
	raft_logstore_init_base(&m->base, &mem_ops, loop, "mem", qmax);
	m->disk = d;
	m->latency_us = opts != NULL ? opts->latency_us : 0;
	fl_timer_init(&m->timer, mem_fire, m);
	*out = &m->base;
	return 0;
}

void raft_logstore_mem_set_hung(struct raft_logstore *s, bool hung)
{
	struct mem_store *m = (struct mem_store *)s;
	FL_ASSERT(s->ops == &mem_ops);
	m->hung = hung;
	if (hung)
		fl_timer_cancel(s->loop, &m->timer);
	else if (s->pending_head != NULL)
		fl_timer_arm(s->loop, &m->timer, s->pending_head->submit_us + m->latency_us);
}

void raft_logstore_mem_crash(struct raft_logstore *s, uint32_t keep_n)
{
	struct mem_store *m = (struct mem_store *)s;
	FL_ASSERT(s->ops == &mem_ops);
	mem_abandon(m, keep_n);
	free(m);
}
