/* Deterministic in-memory cluster for the Raft core tests (see fixture.h).
 *
 * One step advances simulated time by step_us and then, in order: delivers
 * the messages now due (ordered by delivery time, then send order), completes
 * the log-store writes now due, ticks every running core, and checks the
 * safety properties. Each event is followed by draining the core's update:
 * messages are encoded onto the simulated wire, persist parts are copied into
 * a per-server write queue, committed entries are applied to a tiny state
 * machine (a hash chain) and checked against the global committed record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/crc32c.h"
#include "common/log.h"
#include "common/rand.h"
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/msg.h"

#define FX_MSG_MAX 200000u
#define FX_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FX_PW_MAX 256u

struct fx_link {
	bool cut;
};

struct fx_wire {
	uint64_t at_us;
	uint64_t seq;
	uint64_t to;
	uint8_t type;
	uint8_t *buf;
	size_t len;
};

/* One persist part handed to the simulated log store, deep-copied. */
struct fx_write {
	uint64_t done_us;
	uint64_t ack_index;
	uint64_t ack_term;
	bool has_hard;
	struct raft_hard_state hard;
	uint64_t truncate_from;
	bool has_snap;
	struct raft_snapshot snap;
	struct raft_entry *entries;
	uint32_t n_entries;
};

struct fx_node {
	uint64_t id;
	bool up;
	struct raft *r;
	/* durable state */
	struct raft_hard_state hard;
	struct raft_snapshot snap; /* data: 16 bytes: applied index, hash */
	struct raft_entry *log;    /* contiguous; log[0].index = first */
	uint64_t log_n, log_cap;
	/* log store queue */
	struct fx_write pw[FX_PW_MAX];
	uint32_t pw_n;
	bool hung;
	/* state machine */
	uint64_t applied;
	uint32_t hash;
	uint64_t slow_out_us, slow_in_us;
	/* what the last check saw, for the commit rule */
	uint64_t seen_term, seen_commit;
	bool seen_leader;
};

struct fx_rec {
	uint64_t term;
	uint32_t crc;
	uint64_t seen_term; /* term of the first server that applied it */
};

struct fx {
	struct fx_opts o;
	uint64_t seed;
	uint32_t n;
	struct fx_node nodes[FX_MAX_NODES + 1];
	struct fx_link link[FX_MAX_NODES + 1][FX_MAX_NODES + 1];
	uint64_t now_us;
	uint64_t steps;
	struct fl_rand rand;
	uint32_t drop_pm, dup_pm;
	struct fx_wire *wire;
	uint32_t wire_n;
	uint64_t wire_seq;
	struct fx_rec *rec; /* rec[i] for committed index i */
	uint64_t rec_n, rec_cap;
	uint64_t *leader_of; /* leader_of[term] */
	uint64_t leader_cap;
	uint64_t elections;
	uint64_t delivered[RAFT_MSG_TYPE_MAX];
};

#define FX_FAIL(c, ...)                                                            \
	do {                                                                       \
		char fx_msg_[512];                                                 \
		snprintf(fx_msg_, sizeof(fx_msg_), __VA_ARGS__);                   \
		fail_msg("seed %llu step %llu t=%llu us: %s",                      \
			 (unsigned long long)(c)->seed, (unsigned long long)(c)->steps, \
			 (unsigned long long)(c)->now_us, fx_msg_);                \
	} while (0)

static struct fx_node *node(struct fx *c, uint64_t id)
{
	assert_true(id >= 1 && id <= c->n);
	return &c->nodes[id];
}

void fx_opts_default(struct fx_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->election_timeout_us = 1000000;
	o->heartbeat_us = 100000;
	o->step_us = 5000;
	o->delay_min_us = 1000;
	o->delay_max_us = 10000;
	o->disk_min_us = 1000;
	o->disk_max_us = 5000;
	o->snapshot_trailing = 8;
	o->pre_vote = true;
	o->check_quorum = true;
}

static uint32_t entry_crc(const struct raft_entry *e)
{
	uint32_t crc = fl_crc32c(0, &e->type, 1);
	return e->len ? fl_crc32c(crc, e->data, e->len) : crc;
}

static void entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len) {
		dst->data = malloc(src->len);
		assert_non_null(dst->data);
		memcpy(dst->data, src->data, src->len);
	}
}

static void snap_copy(struct raft_snapshot *dst, const struct raft_snapshot *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len) {
		dst->data = malloc(src->len);
		assert_non_null(dst->data);
		memcpy(dst->data, src->data, src->len);
	}
}

/* ---- the durable log store ------------------------------------------------ */

static uint64_t dlog_last(const struct fx_node *n)
{
	return n->log_n ? n->log[n->log_n - 1].index : n->snap.index;
}

static void rec_check_drop(struct fx *c, const struct fx_node *n, const struct raft_entry *e)
{
	if (e->index < c->rec_n && c->rec[e->index].term == e->term &&
	    e->index > n->snap.index)
		FX_FAIL(c, "server %llu drops committed entry %llu (term %llu) from its durable log",
			(unsigned long long)n->id, (unsigned long long)e->index,
			(unsigned long long)e->term);
}

static void dlog_truncate(struct fx *c, struct fx_node *n, uint64_t from)
{
	while (n->log_n > 0 && n->log[n->log_n - 1].index >= from) {
		struct raft_entry *e = &n->log[n->log_n - 1];
		rec_check_drop(c, n, e);
		free(e->data);
		n->log_n--;
	}
}

static void dlog_append(struct fx *c, struct fx_node *n, const struct raft_entry *e)
{
	if (getenv("FX_TRACE") && e->index <= dlog_last(n))
		fprintf(stderr, "append %llu/%llu over last %llu\n", (unsigned long long)e->index, (unsigned long long)e->term, (unsigned long long)dlog_last(n));
	if (e->index <= dlog_last(n))
		dlog_truncate(c, n, e->index);
	if (e->index != dlog_last(n) + 1)
		FX_FAIL(c, "server %llu: log store gap, appending %llu after %llu",
			(unsigned long long)n->id, (unsigned long long)e->index,
			(unsigned long long)dlog_last(n));
	if (n->log_n == n->log_cap) {
		n->log_cap = n->log_cap ? 2 * n->log_cap : 64;
		n->log = realloc(n->log, n->log_cap * sizeof(*n->log));
		assert_non_null(n->log);
	}
	entry_copy(&n->log[n->log_n++], e);
}

/* Drops durable entries <= upto - trailing (after a durable snapshot). */
static void dlog_compact(struct fx_node *n, uint64_t upto, uint64_t trailing)
{
	uint64_t keep_from = upto + 1 - (upto < trailing ? upto : trailing);
	uint64_t drop = 0;
	while (drop < n->log_n && n->log[drop].index < keep_from)
		free(n->log[drop++].data);
	memmove(n->log, n->log + drop, (n->log_n - drop) * sizeof(*n->log));
	n->log_n -= drop;
}

static void write_free(struct fx_write *w)
{
	for (uint32_t i = 0; i < w->n_entries; i++)
		free(w->entries[i].data);
	free(w->entries);
	if (w->has_snap)
		free(w->snap.data);
	memset(w, 0, sizeof(*w));
}

/* Makes one queued write durable. */
static void write_apply(struct fx *c, struct fx_node *n, struct fx_write *w)
{
	if (w->has_hard)
		n->hard = w->hard;
	if (getenv("FX_TRACE"))
		fprintf(stderr, "t=%llu n%llu write ack=%llu/%llu trunc=%llu snap=%d n=%u first=%llu\n", (unsigned long long)c->now_us, (unsigned long long)n->id, (unsigned long long)w->ack_index, (unsigned long long)w->ack_term, (unsigned long long)w->truncate_from, w->has_snap, w->n_entries, (unsigned long long)(w->n_entries ? w->entries[0].index : 0));
	if (w->has_snap) {
		/* The snapshot covers what it replaces; entries past it conflict. */
		free(n->snap.data);
		snap_copy(&n->snap, &w->snap);
	}
	if (w->truncate_from)
		dlog_truncate(c, n, w->truncate_from);
	for (uint32_t i = 0; i < w->n_entries; i++)
		dlog_append(c, n, &w->entries[i]);
}

static void write_queue(struct fx *c, struct fx_node *n, const struct raft_persist *p)
{
	assert_true(n->pw_n < FX_PW_MAX);
	struct fx_write *w = &n->pw[n->pw_n++];
	memset(w, 0, sizeof(*w));
	uint64_t prev = n->pw_n > 1 ? n->pw[n->pw_n - 2].done_us : 0;
	uint64_t lat = fl_rand_range(&c->rand, c->o.disk_min_us, c->o.disk_max_us);
	w->done_us = c->now_us + lat > prev ? c->now_us + lat : prev;
	w->ack_index = p->last_index;
	w->ack_term = p->term;
	w->has_hard = p->has_hard_state;
	w->hard = p->hard;
	w->truncate_from = p->truncate_from;
	if (p->snapshot) {
		w->has_snap = true;
		snap_copy(&w->snap, p->snapshot);
	}
	if (p->n_entries) {
		w->entries = calloc(p->n_entries, sizeof(*w->entries));
		assert_non_null(w->entries);
		for (uint32_t i = 0; i < p->n_entries; i++)
			entry_copy(&w->entries[i], &p->entries[i]);
		w->n_entries = p->n_entries;
	}
}

/* ---- state machine and the committed record ------------------------------- */

static void rec_note(struct fx *c, struct fx_node *n, const struct raft_entry *e)
{
	if (e->index >= c->rec_cap) {
		uint64_t cap = c->rec_cap ? c->rec_cap : 256;
		while (cap <= e->index)
			cap *= 2;
		c->rec = realloc(c->rec, cap * sizeof(*c->rec));
		assert_non_null(c->rec);
		memset(c->rec + c->rec_cap, 0, (cap - c->rec_cap) * sizeof(*c->rec));
		c->rec_cap = cap;
	}
	struct fx_rec *x = &c->rec[e->index];
	uint32_t crc = entry_crc(e);
	if (x->term == 0) {
		x->term = e->term;
		x->crc = crc;
		x->seen_term = raft_term(n->r);
		if (e->index >= c->rec_n)
			c->rec_n = e->index + 1;
	} else if (x->term != e->term || x->crc != crc) {
		FX_FAIL(c, "state-machine safety: server %llu applies (term %llu) at %llu, "
			   "another applied term %llu",
			(unsigned long long)n->id, (unsigned long long)e->term,
			(unsigned long long)e->index, (unsigned long long)x->term);
	}
}

static void sm_apply(struct fx *c, struct fx_node *n, const struct raft_entry *e)
{
	if (e->index != n->applied + 1)
		FX_FAIL(c, "server %llu applies %llu after %llu", (unsigned long long)n->id,
			(unsigned long long)e->index, (unsigned long long)n->applied);
	rec_note(c, n, e);
	uint32_t crc = entry_crc(e);
	n->hash = fl_crc32c(n->hash, &crc, sizeof(crc));
	n->applied = e->index;
}

static void sm_snapshot_data(const struct fx_node *n, uint8_t out[16])
{
	memcpy(out, &n->applied, 8);
	memcpy(out + 8, &n->hash, 4);
	memset(out + 12, 0, 4);
}

static void sm_restore(struct fx_node *n, const struct raft_snapshot *s)
{
	n->applied = s->index;
	n->hash = 0;
	if (s->len == 16) {
		uint64_t idx;
		memcpy(&idx, s->data, 8);
		memcpy(&n->hash, s->data + 8, 4);
		assert_int_equal(idx, s->index);
	}
}

/* The application takes a snapshot every snapshot_every entries: durable
 * first (the log store), then the core is told (raft_snapshot_taken). */
static void maybe_snapshot(struct fx *c, struct fx_node *n)
{
	if (c->o.snapshot_every == 0 || n->applied < n->snap.index + c->o.snapshot_every)
		return;
	if (n->applied > dlog_last(n))
		return; /* not durable here yet */
	uint8_t data[16];
	sm_snapshot_data(n, data);
	uint64_t term = 0;
	assert_int_equal(raft_term_at(n->r, n->applied, &term), 0);
	uint64_t cfg_idx;
	const struct raft_config *cfg = raft_configuration(n->r, &cfg_idx);
	if (cfg_idx > n->applied)
		return; /* keep it simple: snapshot only under the newest config */
	free(n->snap.data);
	n->snap = (struct raft_snapshot){.index = n->applied, .term = term, .config = *cfg,
					 .len = 16, .data = malloc(16)};
	assert_non_null(n->snap.data);
	memcpy(n->snap.data, data, 16);
	dlog_compact(n, n->snap.index, c->o.snapshot_trailing);
	assert_int_equal(raft_snapshot_taken(n->r, n->applied, data, 16), 0);
}

/* ---- the wire ------------------------------------------------------------- */

static bool link_open(const struct fx *c, uint64_t from, uint64_t to)
{
	return !c->link[from][to].cut;
}

static void wire_put(struct fx *c, const struct raft_msg *m, const uint8_t *buf, size_t len,
		     uint64_t delay_us)
{
	if (c->wire_n == FX_MSG_MAX)
		return;
	struct fx_wire *w = &c->wire[c->wire_n++];
	w->at_us = c->now_us + delay_us;
	w->seq = c->wire_seq++;
	w->to = m->to;
	w->type = m->type;
	w->buf = malloc(len);
	assert_non_null(w->buf);
	memcpy(w->buf, buf, len);
	w->len = len;
}

static void wire_send(struct fx *c, const struct raft_msg *m)
{
	assert_true(m->to >= 1 && m->to <= c->n);
	size_t len = raft_msg_encoded_size(m);
	assert_true(len > 0);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(raft_msg_encode(m, buf, len), (int)len);
	if (link_open(c, m->from, m->to) && !fl_rand_chance(&c->rand, c->drop_pm, 1000)) {
		uint64_t extra = 0;
		if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_VOTE_RESP)
			extra = c->nodes[m->from].slow_out_us + c->nodes[m->to].slow_in_us;
		int copies = 1 + fl_rand_chance(&c->rand, c->dup_pm, 1000);
		for (int i = 0; i < copies; i++)
			wire_put(c, m, buf, len, extra + fl_rand_range(&c->rand, c->o.delay_min_us,
								     c->o.delay_max_us));
	}
	free(buf);
}

/* ---- draining updates ----------------------------------------------------- */

static void drain(struct fx *c, struct fx_node *n)
{
	for (int round = 0; round < 64; round++) {
		struct raft_update u;
		raft_ready(n->r, &u);
		for (uint32_t i = 0; i < u.n_msgs; i++)
			wire_send(c, &u.msgs[i]);
		if (u.persist.has_hard_state)
			write_queue(c, n, &u.persist);
		if (u.persist.snapshot != NULL)
			sm_restore(n, u.persist.snapshot);
		for (uint32_t i = 0; i < u.n_committed; i++)
			sm_apply(c, n, &u.committed[i]);
		if (u.state_changed && u.state == RAFT_LEADER)
			c->elections++;
		if (u.state_changed && getenv("FX_TRACE_STATE"))
			fprintf(stderr, "t=%llu %llu: %s term %llu leader %llu last %llu/%llu\n",
				(unsigned long long)c->now_us, (unsigned long long)n->id,
				raft_state_name(u.state), (unsigned long long)u.term,
				(unsigned long long)u.leader, (unsigned long long)raft_last_index(n->r),
				(unsigned long long)raft_commit_index(n->r));
		if (u.n_committed > 0)
			maybe_snapshot(c, n);
		if (u.n_msgs == 0 && u.n_committed == 0 && !u.persist.has_hard_state)
			return;
	}
}

/* ---- invariants ----------------------------------------------------------- */

static void check_election_safety(struct fx *c, struct fx_node *n)
{
	uint64_t t = raft_term(n->r);
	if (t >= c->leader_cap) {
		uint64_t cap = c->leader_cap ? c->leader_cap : 64;
		while (cap <= t)
			cap *= 2;
		c->leader_of = realloc(c->leader_of, cap * sizeof(*c->leader_of));
		assert_non_null(c->leader_of);
		memset(c->leader_of + c->leader_cap, 0, (cap - c->leader_cap) * sizeof(uint64_t));
		c->leader_cap = cap;
	}
	if (c->leader_of[t] != 0 && c->leader_of[t] != n->id)
		FX_FAIL(c, "election safety: servers %llu and %llu both lead term %llu",
			(unsigned long long)c->leader_of[t], (unsigned long long)n->id,
			(unsigned long long)t);
	c->leader_of[t] = n->id;
}

static bool mem_term(struct raft *r, uint64_t i, uint64_t *t)
{
	return raft_term_at(r, i, t) == 0;
}

/* Log matching (§5.3): from the highest index where both logs hold the same
 * term, everything below that both hold is identical. */
static void check_log_matching(struct fx *c, struct fx_node *a, struct fx_node *b)
{
	uint64_t lo = raft_first_index(a->r) > raft_first_index(b->r) ? raft_first_index(a->r)
									  : raft_first_index(b->r);
	uint64_t hi = raft_last_index(a->r) < raft_last_index(b->r) ? raft_last_index(a->r)
								     : raft_last_index(b->r);
	bool matched = false;
	for (uint64_t i = hi; i >= lo && i > 0; i--) {
		uint64_t ta, tb;
		if (!mem_term(a->r, i, &ta) || !mem_term(b->r, i, &tb))
			break;
		if (!matched && ta != tb)
			continue;
		matched = true;
		const struct raft_entry *ea = raft_entry_at(a->r, i), *eb = raft_entry_at(b->r, i);
		if (ta != tb || (ea && eb && entry_crc(ea) != entry_crc(eb)))
			FX_FAIL(c, "log matching: servers %llu and %llu differ at %llu",
				(unsigned long long)a->id, (unsigned long long)b->id,
				(unsigned long long)i);
	}
}

static void check_leader_completeness(struct fx *c, struct fx_node *n)
{
	uint64_t term = raft_term(n->r);
	uint64_t snap = raft_snapshot_index(n->r);
	for (uint64_t i = snap + 1; i < c->rec_n; i++) {
		const struct fx_rec *x = &c->rec[i];
		if (x->term == 0 || x->seen_term >= term)
			continue;
		uint64_t t = 0;
		if (!mem_term(n->r, i, &t) || t != x->term)
			FX_FAIL(c, "leader completeness: leader %llu of term %llu lacks committed %llu",
				(unsigned long long)n->id, (unsigned long long)term,
				(unsigned long long)i);
	}
}

/* The leader lease: while a leader's lease holds, no server leads a later
 * term (the fixture's clocks do not drift, so one clock judges both). */
static void check_lease(struct fx *c, struct fx_node *a)
{
	if (!raft_leader_lease_valid(a->r, c->now_us))
		return;
	for (uint32_t j = 1; j <= c->n; j++) {
		struct fx_node *b = &c->nodes[j];
		if (b->up && b != a && raft_state(b->r) == RAFT_LEADER &&
		    raft_term(b->r) > raft_term(a->r))
			FX_FAIL(c, "lease: %llu leads term %llu while %llu holds the lease of term %llu",
				(unsigned long long)b->id, (unsigned long long)raft_term(b->r),
				(unsigned long long)a->id, (unsigned long long)raft_term(a->r));
	}
}

/* §5.4.2 / Figure 8: a leader moves its commit index only onto an entry of
 * its own term (older entries commit indirectly). */
static void check_commit_rule(struct fx *c, struct fx_node *a)
{
	struct raft *r = a->r;
	bool leader = raft_state(r) == RAFT_LEADER;
	uint64_t commit = raft_commit_index(r), t = 0;
	if (leader && a->seen_leader && a->seen_term == raft_term(r) && commit > a->seen_commit &&
	    (raft_term_at(r, commit, &t) != 0 || t != raft_term(r)))
		FX_FAIL(c, "commit rule: leader %llu of term %llu commits %llu of term %llu by counting",
			(unsigned long long)a->id, (unsigned long long)raft_term(r),
			(unsigned long long)commit, (unsigned long long)t);
	a->seen_leader = leader;
	a->seen_term = raft_term(r);
	a->seen_commit = commit;
}

static void check_all(struct fx *c)
{
	for (uint32_t i = 1; i <= c->n; i++) {
		struct fx_node *a = &c->nodes[i];
		if (!a->up)
			continue;
		if (raft_commit_index(a->r) > raft_last_index(a->r) ||
		    raft_applied_index(a->r) > raft_commit_index(a->r))
			FX_FAIL(c, "server %llu: applied <= commit <= last broken", (unsigned long long)a->id);
		check_commit_rule(c, a);
		if (raft_state(a->r) == RAFT_LEADER) {
			check_election_safety(c, a);
			check_leader_completeness(c, a);
			check_lease(c, a);
		}
		for (uint32_t j = i + 1; j <= c->n; j++)
			if (c->nodes[j].up)
				check_log_matching(c, a, &c->nodes[j]);
	}
}

/* ---- events --------------------------------------------------------------- */

static int wire_cmp(const void *x, const void *y)
{
	const struct fx_wire *a = x, *b = y;
	if (a->at_us != b->at_us)
		return a->at_us < b->at_us ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void deliver(struct fx *c, struct fx_wire *w)
{
	struct fx_node *n = &c->nodes[w->to];
	struct raft_msg m;
	int rv = raft_msg_decode(w->buf, w->len, &m);
	if (rv != 0)
		FX_FAIL(c, "wire: a message we encoded does not decode (%d)", rv);
	if (getenv("FX_TRACE_MSG"))
		fprintf(stderr, "t=%llu %llu->%llu type %u term %llu a.prev=%llu a.n=%u r.ok=%u r.match=%llu r.rej=%llu %s\n",
			(unsigned long long)c->now_us, (unsigned long long)m.from, (unsigned long long)m.to, m.type,
			(unsigned long long)m.term, (unsigned long long)m.append.prev_index, m.append.n_entries,
			m.append_resp.success, (unsigned long long)m.append_resp.match_index,
			(unsigned long long)m.append_resp.reject_index,
			n->up && link_open(c, m.from, m.to) ? "" : "LOST");
	if (n->up && link_open(c, m.from, m.to)) {
		rv = raft_step(n->r, c->now_us, &m);
		if (rv != 0)
			FX_FAIL(c, "server %llu refuses a well-formed message type %u: %d",
				(unsigned long long)n->id, m.type, rv);
		c->delivered[m.type]++;
		drain(c, n);
	}
	raft_msg_release(&m);
}

static void deliver_due(struct fx *c)
{
	uint32_t due = 0;
	for (uint32_t i = 0; i < c->wire_n; i++) {
		if (c->wire[i].at_us <= c->now_us) {
			struct fx_wire t = c->wire[due];
			c->wire[due++] = c->wire[i];
			c->wire[i] = t;
		}
	}
	if (due == 0)
		return;
	struct fx_wire *batch = malloc(due * sizeof(*batch));
	assert_non_null(batch);
	memcpy(batch, c->wire, due * sizeof(*batch));
	memmove(c->wire, c->wire + due, (c->wire_n - due) * sizeof(*c->wire));
	c->wire_n -= due;
	qsort(batch, due, sizeof(*batch), wire_cmp);
	for (uint32_t i = 0; i < due; i++) {
		deliver(c, &batch[i]);
		free(batch[i].buf);
	}
	free(batch);
}

static void complete_writes(struct fx *c, struct fx_node *n)
{
	uint32_t done = 0;
	while (done < n->pw_n && !n->hung && n->pw[done].done_us <= c->now_us) {
		struct fx_write *w = &n->pw[done++];
		write_apply(c, n, w);
		int rv = raft_persisted(n->r, w->ack_index, w->ack_term);
		if (rv != 0)
			FX_FAIL(c, "server %llu: raft_persisted(%llu, %llu) = %d", (unsigned long long)n->id,
				(unsigned long long)w->ack_index, (unsigned long long)w->ack_term, rv);
		write_free(w);
		drain(c, n);
	}
	memmove(n->pw, n->pw + done, (n->pw_n - done) * sizeof(*n->pw));
	n->pw_n -= done;
}

void fx_step(struct fx *c)
{
	c->now_us += c->o.step_us;
	c->steps++;
	deliver_due(c);
	for (uint32_t i = 1; i <= c->n; i++) {
		struct fx_node *n = &c->nodes[i];
		if (!n->up)
			continue;
		complete_writes(c, n);
		assert_int_equal(raft_tick(n->r, c->now_us), 0);
		drain(c, n);
	}
	check_all(c);
}

void fx_run(struct fx *c, uint64_t us)
{
	uint64_t end = c->now_us + us;
	while (c->now_us < end)
		fx_step(c);
}

/* ---- construction, crash and restart -------------------------------------- */

static void node_start(struct fx *c, struct fx_node *n)
{
	struct raft_options o;
	raft_options_default(&o, n->id, c->seed * 1000003u + n->id * 7919u + c->steps);
	o.election_timeout_us = c->o.election_timeout_us;
	o.heartbeat_us = c->o.heartbeat_us;
	o.snapshot_trailing = c->o.snapshot_trailing;
	o.pre_vote = c->o.pre_vote;
	o.check_quorum = c->o.check_quorum;
	o.lease_margin_us = c->o.election_timeout_us / 20;
	struct raft_boot b = {.hard = n->hard, .snapshot = n->snap, .entries = n->log,
			      .n_entries = n->log_n};
	int rv = raft_new(&o, &b, c->now_us, &n->r);
	if (rv != 0)
		FX_FAIL(c, "server %llu does not restart from its durable state: %d",
			(unsigned long long)n->id, rv);
	n->up = true;
	sm_restore(n, &n->snap);
	drain(c, n);
}

static void node_init(struct fx *c, uint64_t id, const struct raft_config *cfg)
{
	struct fx_node *n = &c->nodes[id];
	memset(n, 0, sizeof(*n));
	n->id = id;
	if (cfg != NULL)
		n->snap.config = *cfg;
	node_start(c, n);
}

struct fx *fx_new(uint32_t n, uint64_t seed, const struct fx_opts *o)
{
	assert_true(n >= 1 && n <= FX_MAX_NODES);
	struct fx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	if (o != NULL)
		c->o = *o;
	else
		fx_opts_default(&c->o);
	c->seed = seed;
	c->n = n;
	if (getenv("FX_VERBOSE") == NULL)
		fl_log_set_level(LOG_ERR);
	c->now_us = 1000000;
	fl_rand_seed(&c->rand, seed);
	c->wire = calloc(FX_MSG_MAX, sizeof(*c->wire));
	assert_non_null(c->wire);
	struct raft_config cfg = {.n = n};
	for (uint32_t i = 0; i < n; i++)
		cfg.servers[i] = (struct raft_server){.id = i + 1, .role = RAFT_VOTER};
	for (uint32_t i = 1; i <= n; i++)
		node_init(c, i, &cfg);
	return c;
}

uint64_t fx_add_server(struct fx *c)
{
	assert_true(c->n < FX_MAX_NODES);
	c->n++;
	node_init(c, c->n, NULL);
	return c->n;
}

static void node_stop(struct fx_node *n)
{
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->seen_leader = false;
}

void fx_crash(struct fx *c, uint64_t id)
{
	struct fx_node *n = node(c, id);
	assert_true(n->up);
	/* A random prefix of the writes in flight reached the disk. */
	uint32_t k = n->hung ? 0 : (uint32_t)fl_rand_below(&c->rand, n->pw_n + 1);
	for (uint32_t i = 0; i < n->pw_n; i++) {
		if (i < k)
			write_apply(c, n, &n->pw[i]);
		write_free(&n->pw[i]);
	}
	n->pw_n = 0;
	node_stop(n);
}

void fx_restart(struct fx *c, uint64_t id)
{
	struct fx_node *n = node(c, id);
	assert_false(n->up);
	n->hung = false;
	node_start(c, n);
}

void fx_free(struct fx *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 1; i <= c->n; i++) {
		struct fx_node *n = &c->nodes[i];
		for (uint32_t k = 0; k < n->pw_n; k++)
			write_free(&n->pw[k]);
		if (n->up)
			node_stop(n);
		for (uint64_t k = 0; k < n->log_n; k++)
			free(n->log[k].data);
		free(n->log);
		free(n->snap.data);
	}
	for (uint32_t i = 0; i < c->wire_n; i++)
		free(c->wire[i].buf);
	free(c->wire);
	free(c->rec);
	free(c->leader_of);
	free(c);
}

void fx_inflate_term(struct fx *c, uint64_t id, uint64_t term)
{
	struct fx_node *n = node(c, id);
	bool was_up = n->up;
	if (was_up)
		fx_crash(c, id);
	assert_true(term >= n->hard.term);
	n->hard.term = term;
	n->hard.vote = 0;
	if (was_up)
		fx_restart(c, id);
}

/* ---- observation ---------------------------------------------------------- */

uint64_t fx_now(const struct fx *c) { return c->now_us; }
uint64_t fx_elections(const struct fx *c) { return c->elections; }
uint64_t fx_committed_max(const struct fx *c) { return c->rec_n ? c->rec_n - 1 : 0; }
uint64_t fx_delivered(const struct fx *c, uint8_t type) { return c->delivered[type]; }

struct raft *fx_raft(struct fx *c, uint64_t id)
{
	struct fx_node *n = node(c, id);
	assert_true(n->up);
	return n->r;
}

bool fx_is_up(const struct fx *c, uint64_t id) { return c->nodes[id].up; }
uint64_t fx_applied(const struct fx *c, uint64_t id) { return c->nodes[id].applied; }
uint32_t fx_disk_pending(const struct fx *c, uint64_t id) { return c->nodes[id].pw_n; }

uint64_t fx_leader(struct fx *c)
{
	uint64_t best = 0, best_term = 0;
	for (uint32_t i = 1; i <= c->n; i++) {
		struct fx_node *n = &c->nodes[i];
		if (n->up && raft_state(n->r) == RAFT_LEADER && raft_term(n->r) >= best_term) {
			best = n->id;
			best_term = raft_term(n->r);
		}
	}
	return best;
}

/* Every running member of l's configuration that l reaches both ways
 * follows l (a removed server never hears of the new leader). */
static bool leader_known(struct fx *c, uint64_t l)
{
	const struct raft_config *cfg = raft_configuration(c->nodes[l].r, NULL);
	for (uint32_t i = 1; i <= c->n; i++) {
		struct fx_node *n = &c->nodes[i];
		if (!n->up || n->id == l || !link_open(c, l, n->id) || !link_open(c, n->id, l) ||
		    raft_config_find(cfg, n->id) < 0)
			continue;
		if (raft_leader(n->r) != l || raft_term(n->r) != raft_term(c->nodes[l].r))
			return false;
	}
	return true;
}

uint64_t fx_wait_leader(struct fx *c, uint64_t max_us)
{
	uint64_t end = c->now_us + max_us;
	for (;;) {
		uint64_t l = fx_leader(c);
		if (l != 0 && leader_known(c, l))
			return l;
		if (c->now_us >= end)
			return 0;
		fx_step(c);
	}
}

bool fx_wait_applied(struct fx *c, uint64_t id, uint64_t index, uint64_t max_us)
{
	uint64_t end = c->now_us + max_us;
	while (c->nodes[id].applied < index) {
		if (c->now_us >= end)
			return false;
		fx_step(c);
	}
	return true;
}

/* ---- input ---------------------------------------------------------------- */

void fx_drain(struct fx *c, uint64_t id)
{
	struct fx_node *n = node(c, id);
	assert_true(n->up);
	drain(c, n);
}

int fx_propose(struct fx *c, uint64_t id, const char *text, uint64_t *index_out)
{
	struct fx_node *n = node(c, id);
	assert_true(n->up);
	int rv = raft_propose(n->r, c->now_us, text, (uint32_t)strlen(text), index_out);
	drain(c, n);
	return rv;
}

uint64_t fx_propose_wait(struct fx *c, const char *text, uint64_t max_us)
{
	uint64_t end = c->now_us + max_us;
	while (c->now_us < end) {
		uint64_t l = fx_wait_leader(c, end - c->now_us), idx = 0;
		if (l == 0)
			return 0;
		int prv = fx_propose(c, l, text, &idx);
		if (getenv("FX_TRACE_PROPOSE"))
			fprintf(stderr, "t=%llu propose on %llu: %d idx %llu\n", (unsigned long long)c->now_us,
				(unsigned long long)l, prv, (unsigned long long)idx);
		if (prv != 0) {
			fx_step(c);
			continue;
		}
		uint64_t term = raft_term(c->nodes[l].r);
		while (c->now_us < end && c->nodes[l].up && raft_term(c->nodes[l].r) == term &&
		       raft_state(c->nodes[l].r) == RAFT_LEADER && c->nodes[l].applied < idx)
			fx_step(c);
		uint64_t t = 0;
		if (c->nodes[l].up && c->nodes[l].applied >= idx && idx < c->rec_n &&
		    raft_term_at(c->nodes[l].r, idx, &t) == 0 && t == term &&
		    c->rec[idx].term == term)
			return idx;
	}
	return 0;
}

/* ---- faults --------------------------------------------------------------- */

void fx_cut(struct fx *c, uint64_t from, uint64_t to) { c->link[from][to].cut = true; }
void fx_mend(struct fx *c, uint64_t from, uint64_t to) { c->link[from][to].cut = false; }

void fx_isolate(struct fx *c, uint64_t id, enum fx_dir dir)
{
	for (uint32_t i = 1; i <= FX_MAX_NODES; i++) {
		if (i == id)
			continue;
		if (dir == FX_BOTH || dir == FX_OUT)
			c->link[id][i].cut = true;
		if (dir == FX_BOTH || dir == FX_IN)
			c->link[i][id].cut = true;
	}
}

void fx_partition(struct fx *c, uint64_t mask)
{
	for (uint32_t a = 1; a <= FX_MAX_NODES; a++)
		for (uint32_t b = 1; b <= FX_MAX_NODES; b++)
			if (((mask >> a) & 1) != ((mask >> b) & 1))
				c->link[a][b].cut = true;
}

void fx_split(struct fx *c, const uint8_t *group)
{
	for (uint32_t a = 1; a <= c->n; a++)
		for (uint32_t b = 1; b <= c->n; b++)
			if (group[a] != group[b])
				c->link[a][b].cut = true;
}

void fx_heal(struct fx *c)
{
	memset(c->link, 0, sizeof(c->link));
	c->drop_pm = c->dup_pm = 0;
}

void fx_set_drop(struct fx *c, uint32_t permille) { c->drop_pm = permille; }
void fx_set_dup(struct fx *c, uint32_t permille) { c->dup_pm = permille; }

void fx_set_delay(struct fx *c, uint64_t min_us, uint64_t max_us)
{
	assert_true(min_us <= max_us);
	c->o.delay_min_us = min_us;
	c->o.delay_max_us = max_us;
}

void fx_slow_votes(struct fx *c, uint64_t id, uint64_t out_us, uint64_t in_us)
{
	node(c, id)->slow_out_us = out_us;
	node(c, id)->slow_in_us = in_us;
}

void fx_disk_hang(struct fx *c, uint64_t id, bool hung)
{
	struct fx_node *n = node(c, id);
	n->hung = hung;
	if (!hung)
		for (uint32_t i = 0; i < n->pw_n; i++)
			if (n->pw[i].done_us < c->now_us)
				n->pw[i].done_us = c->now_us;
}

void fx_dump(struct fx *c)
{
	fprintf(stderr, "-- t=%llu us, %u messages in flight\n", (unsigned long long)c->now_us, c->wire_n);
	for (uint32_t i = 1; i <= c->n; i++) {
		struct fx_node *n = &c->nodes[i];
		if (!n->up) {
			fprintf(stderr, "  %u: down\n", i);
			continue;
		}
		struct raft *r = n->r;
		uint64_t ci;
		const struct raft_config *cfg = raft_configuration(r, &ci);
		fprintf(stderr, "  %u: %s term %llu vote %llu leader %llu commit %llu applied %llu "
				"first %llu last %llu snap %llu cfg@%llu n=%u pending writes %u%s\n",
			i, raft_state_name(raft_state(r)), (unsigned long long)raft_term(r),
			(unsigned long long)raft_vote(r), (unsigned long long)raft_leader(r),
			(unsigned long long)raft_commit_index(r), (unsigned long long)n->applied,
			(unsigned long long)raft_first_index(r), (unsigned long long)raft_last_index(r),
			(unsigned long long)raft_snapshot_index(r), (unsigned long long)ci, cfg->n,
			n->pw_n, n->hung ? " HUNG" : "");
		if (raft_state(r) == RAFT_LEADER)
			for (uint32_t k = 0; k < cfg->n; k++)
				fprintf(stderr, "     match[%llu] = %llu\n",
					(unsigned long long)cfg->servers[k].id,
					(unsigned long long)raft_match_index(r, cfg->servers[k].id));
	}
}

/* ---- bare cores ----------------------------------------------------------- */

struct raft *fx_core_new(uint64_t id, uint32_t n_voters, uint64_t hard_term,
			 const struct raft_entry *e, uint64_t n_e, bool pre_vote,
			 bool check_quorum, uint64_t now_us)
{
	struct raft_options o;
	raft_options_default(&o, id, 42 + id);
	o.pre_vote = pre_vote;
	o.check_quorum = check_quorum;
	struct raft_boot b;
	memset(&b, 0, sizeof(b));
	b.hard.term = hard_term;
	b.snapshot.config.n = n_voters;
	for (uint32_t i = 0; i < n_voters; i++)
		b.snapshot.config.servers[i] = (struct raft_server){i + 1, RAFT_VOTER};
	b.entries = e;
	b.n_entries = n_e;
	struct raft *r = NULL;
	assert_int_equal(raft_new(&o, &b, now_us, &r), 0);
	return r;
}

uint32_t fx_core_pump(struct raft *r, struct fx_outbox *ob, bool ack)
{
	uint32_t added = 0;
	for (int round = 0; round < 64; round++) {
		struct raft_update u;
		raft_ready(r, &u);
		for (uint32_t i = 0; i < u.n_msgs && ob->n < FX_LEN(ob->m); i++) {
			ob->m[ob->n] = u.msgs[i];
			if (u.msgs[i].type == RAFT_MSG_APPEND)
				ob->m[ob->n].append.entries = NULL;
			if (u.msgs[i].type == RAFT_MSG_SNAPSHOT)
				ob->m[ob->n].snapshot.data = NULL;
			ob->n++;
			added++;
		}
		bool more = u.n_msgs > 0 || u.n_committed > 0;
		if (u.persist.has_hard_state && ack) {
			assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
			more = true;
		}
		if (!more)
			break;
	}
	return added;
}

const struct raft_msg *fx_outbox_find(const struct fx_outbox *ob, uint8_t type, uint64_t to)
{
	for (uint32_t i = 0; i < ob->n; i++)
		if (ob->m[i].type == type && (to == 0 || ob->m[i].to == to))
			return &ob->m[i];
	return NULL;
}

uint32_t fx_outbox_count(const struct fx_outbox *ob, uint8_t type)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < ob->n; i++)
		n += ob->m[i].type == type;
	return n;
}

struct raft_msg fx_msg(uint8_t type, uint64_t from, uint64_t to, uint64_t term)
{
	struct raft_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.from = from;
	m.to = to;
	m.term = term;
	return m;
}

static void grant_all(struct raft *r, uint64_t now_us, struct fx_outbox *ob)
{
	uint32_t n = ob->n;
	for (uint32_t i = 0; i < n; i++) {
		const struct raft_msg *v = &ob->m[i];
		if (v->type != RAFT_MSG_VOTE)
			continue;
		struct raft_msg g = fx_msg(RAFT_MSG_VOTE_RESP, v->to, v->from, v->term);
		g.vote_resp.pre = v->vote.pre;
		g.vote_resp.granted = 1;
		assert_int_equal(raft_step(r, now_us, &g), 0);
	}
}

uint64_t fx_core_make_leader(struct raft *r, uint64_t now_us, struct fx_outbox *ob)
{
	now_us += 3000000;
	assert_int_equal(raft_tick(r, now_us), 0);
	for (int round = 0; round < 3 && raft_state(r) != RAFT_LEADER; round++) {
		ob->n = 0;
		fx_core_pump(r, ob, true);
		grant_all(r, now_us, ob);
	}
	ob->n = 0;
	fx_core_pump(r, ob, true);
	assert_int_equal(raft_state(r), RAFT_LEADER);
	return now_us;
}
