/* Raft core: construction, the in-memory log, the durability cycle
 * (raft_ready() / raft_persisted()), the outbox and the getters.
 *
 * The rest of the protocol lives next to this file: elections and time in
 * core_elect.c, replication and snapshots in core_repl.c, membership and
 * leadership transfer in core_member.c. */
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/core.h"
#include "raft/msg.h"

/* A configuration travels as one entry (1 + 4 + 9 bytes per server) and
 * is encoded into a buffer of that size at boot. */
_Static_assert(1u + 4u + RAFT_MAX_SERVERS * 9u <= RAFT_MSG_MAX_ENTRY_BYTES, "a full configuration fits one entry");
/* A leader's round (heartbeats, or appends, to every other server) and the
 * answers of a round of votes fit the outbox twice over. */
_Static_assert(2u * RAFT_MAX_SERVERS <= RAFT_OUTBOX_MAX, "a round to every server fits the outbox");

void raft_options_default(struct raft_options *o, uint64_t id, uint64_t seed)
{
	FL_ASSERT(o != NULL);
	FL_ASSERT(id != 0);
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->seed = seed;
	o->election_timeout_us = 1000000;
	o->heartbeat_us = 100000;
	o->max_drift_ppm = 1000;
	o->lease_margin_us = 50000;
	o->max_inflight = 8;
	o->max_batch_entries = 64;
	o->max_batch_bytes = 1u << 20;
	o->catch_up_entries = 16;
	o->snapshot_trailing = 128;
	o->pre_vote = true;
	o->check_quorum = true;
}

/* ---- invariants ----------------------------------------------------------- */

/* Checked after every event: cheap, and a broken one stops the process. */
void raft__check(const struct raft *r)
{
	uint64_t last = raft__last_index(r);
	FL_ASSERT(r->applied <= r->commit);
	FL_ASSERT(r->commit <= last);
	FL_ASSERT(r->persisted_index <= last);
	FL_ASSERT(r->unissued_from <= last + 1);
	FL_ASSERT(r->log_first <= r->snap.index + 1);
	FL_ASSERT(r->snap.index <= r->commit);
	FL_ASSERT(r->fifo_n <= RAFT_PERSIST_MAX);
	FL_ASSERT(r->outbox_n <= RAFT_OUTBOX_MAX);
	FL_ASSERT(r->acked_seq + r->fifo_n == r->issued_seq);
	FL_ASSERT(r->state != RAFT_LEADER || r->leader == r->opt.id);
	FL_ASSERT(r->state != RAFT_CANDIDATE || r->vote == r->opt.id);
}

/* ---- log ------------------------------------------------------------------ */

uint64_t raft__last_index(const struct raft *r)
{
	return r->log_n ? r->log_first + r->log_n - 1 : r->snap.index;
}

struct raft_entry *raft__entry(const struct raft *r, uint64_t index)
{
	if (index < r->log_first || index >= r->log_first + r->log_n)
		return NULL;
	return &r->log[index - r->log_first];
}

bool raft__term_known(const struct raft *r, uint64_t index, uint64_t *term)
{
	const struct raft_entry *e = raft__entry(r, index);
	if (e != NULL) {
		*term = e->term;
		return true;
	}
	if (index == r->snap.index) {
		*term = r->snap.term;
		return true;
	}
	if (index == 0) {
		*term = 0;
		return true;
	}
	return false;
}

uint64_t raft__last_term(const struct raft *r)
{
	uint64_t t = 0;
	bool ok = raft__term_known(r, raft__last_index(r), &t);
	FL_ASSERT(ok);
	return t;
}

static int log_reserve(struct raft *r, uint64_t n)
{
	if (r->log_n + n <= r->log_cap)
		return 0;
	uint64_t cap = r->log_cap ? r->log_cap * 2 : 64;
	while (cap < r->log_n + n)
		cap *= 2;
	struct raft_entry *p = realloc(r->log, cap * sizeof(*p));
	if (p == NULL)
		return -FL_ENOMEM;
	r->log = p;
	r->log_cap = cap;
	return 0;
}

int raft__append_entry(struct raft *r, const struct raft_entry *e)
{
	FL_ASSERT(e->index == raft__last_index(r) + 1);
	FL_ASSERT(e->term >= raft__last_term(r));
	FL_ASSERT(e->term <= r->term);
	if (log_reserve(r, 1) != 0)
		return -FL_ENOMEM;
	struct raft_entry *dst = &r->log[r->log_n];
	*dst = *e;
	dst->data = NULL;
	if (e->len > 0) {
		dst->data = malloc(e->len);
		if (dst->data == NULL)
			return -FL_ENOMEM;
		memcpy(dst->data, e->data, e->len);
	}
	if (r->log_n == 0)
		r->log_first = e->index;
	r->log_n++;
	if (e->type == RAFT_ENTRY_CONFIG)
		raft__config_refresh(r);
	return 0;
}

int raft__append(struct raft *r, uint64_t term, uint8_t type, const void *data, uint32_t len)
{
	struct raft_entry e = {.term = term, .index = raft__last_index(r) + 1,
			       .type = type, .len = len, .data = (uint8_t *)data};
	return raft__append_entry(r, &e);
}

/* Removes entries >= from_index (§5.3: a conflicting suffix). Never touches
 * committed entries. Durability cursors and in-flight persist items are
 * clamped: entries they covered are gone. */
void raft__truncate(struct raft *r, uint64_t from_index)
{
	FL_ASSERT(from_index > r->commit);
	FL_ASSERT(from_index >= r->log_first);
	FL_ASSERT(from_index <= raft__last_index(r));
	bool had_config = r->cfg_index >= from_index;
	while (r->log_n > 0 && r->log_first + r->log_n - 1 >= from_index) {
		free(r->log[r->log_n - 1].data);
		r->log_n--;
	}
	if (r->log_n == 0)
		r->log_first = from_index;
	for (uint32_t i = 0; i < r->fifo_n; i++) {
		struct raft_pitem *it = &r->fifo[(r->fifo_head + i) % RAFT_PERSIST_MAX];
		it->eff_index = FL_MIN(it->eff_index, from_index - 1);
	}
	r->persisted_index = FL_MIN(r->persisted_index, from_index - 1);
	if (from_index < r->unissued_from) {
		r->unissued_from = from_index;
		if (r->truncate_pending == 0 || from_index < r->truncate_pending)
			r->truncate_pending = from_index;
	}
	if (had_config)
		raft__config_refresh(r);
}

void raft__set_term(struct raft *r, uint64_t term, uint64_t vote)
{
	FL_ASSERT(term >= r->term);
	FL_ASSERT(term > r->term || r->vote == 0 || r->vote == vote);
	if (term == r->term && vote == r->vote)
		return;
	r->term = term;
	r->vote = vote;
	r->hs_dirty = true;
}

/* ---- configuration -------------------------------------------------------- */

/* The configuration in force at index: the newest CONFIG entry at or before
 * it that is newer than the snapshot, else the snapshot's. */
bool raft__config_at(const struct raft *r, uint64_t index, struct raft_config *out)
{
	uint64_t last = FL_MIN(index, raft__last_index(r));
	for (uint64_t i = last; i > r->snap.index && i >= r->log_first; i--) {
		const struct raft_entry *e = raft__entry(r, i);
		if (e->type != RAFT_ENTRY_CONFIG)
			continue;
		int rv = raft_config_decode(e->data, e->len, out);
		FL_ASSERT(rv == 0); /* checked before it entered the log */
		return true;
	}
	*out = r->snap.config;
	return index >= r->snap.index;
}

void raft__config_refresh(struct raft *r)
{
	uint64_t last = raft__last_index(r);
	r->cfg_index = r->snap.index;
	for (uint64_t i = last; i > r->snap.index && i >= r->log_first; i--) {
		if (raft__entry(r, i)->type == RAFT_ENTRY_CONFIG) {
			r->cfg_index = i;
			break;
		}
	}
	bool ok = raft__config_at(r, last, &r->cfg);
	FL_ASSERT(ok);
	int self = raft_config_find(&r->cfg, r->opt.id);
	if (self >= 0 && r->cfg.servers[self].role == RAFT_LEARNER)
		r->rejoin_learner_seen = true;
	if (r->state == RAFT_LEADER)
		raft__progress_rebuild(r);
}

bool raft__is_voter(const struct raft *r, uint64_t id)
{
	int i = raft_config_find(&r->cfg, id);
	return i >= 0 && r->cfg.servers[i].role == RAFT_VOTER;
}

uint32_t raft__quorum(const struct raft *r)
{
	return raft_config_voters(&r->cfg) / 2 + 1;
}

void raft__reset_election_timer(struct raft *r)
{
	uint64_t e = r->opt.election_timeout_us;
	r->election_deadline_us = r->now_us + fl_rand_range(&r->rand, e, 2 * e - 1);
}

/* ---- durability and the outbox -------------------------------------------- */

static bool persist_work(const struct raft *r)
{
	return r->hs_dirty || r->snap_pending || r->truncate_pending != 0 ||
	       r->unissued_from <= raft__last_index(r);
}

/* Sequence number of the persist item that makes index durable. */
uint64_t raft__need_index(const struct raft *r, uint64_t index)
{
	if (index <= r->persisted_index)
		return 0;
	if (persist_work(r))
		return r->issued_seq + 1;
	return r->issued_seq;
}

uint64_t raft__need_hs(const struct raft *r)
{
	return r->hs_dirty ? r->issued_seq + 1 : r->hs_seq;
}

struct raft_msg *raft__send(struct raft *r, uint8_t type, uint64_t to, uint64_t need_seq)
{
	FL_ASSERT(to != 0);
	FL_ASSERT(to != r->opt.id);
	if (r->outbox_n >= RAFT_OUTBOX_MAX) {
		r->outbox_dropped++;
		if (r->outbox_dropped % 1024 == 1)
			fl_warn("raft %llu: outbox full, dropping messages (driver not calling raft_ready?)",
				(unsigned long long)r->opt.id);
		return NULL;
	}
	struct raft_out *o = &r->outbox[r->outbox_n++];
	memset(o, 0, sizeof(*o));
	o->need_seq = need_seq;
	o->m.type = type;
	o->m.from = r->opt.id;
	o->m.to = to;
	o->m.term = r->term;
	return &o->m;
}

/* ---- construction --------------------------------------------------------- */

static int options_check(const struct raft_options *o)
{
	if (o->id == 0 || o->election_timeout_us < 2 || o->heartbeat_us == 0 ||
	    o->heartbeat_us * 2 > o->election_timeout_us || o->max_inflight == 0 ||
	    o->max_inflight > RAFT_INFLIGHT_MAX || o->max_batch_entries == 0 ||
	    o->max_batch_bytes == 0 || o->max_drift_ppm >= 250000)
		return -FL_EINVAL;
	return 0;
}

static int boot_load(struct raft *r, const struct raft_boot *b)
{
	r->snap = b->snapshot;
	r->snap.data = NULL;
	if (b->snapshot.len > 0) {
		r->snap.data = malloc(b->snapshot.len);
		if (r->snap.data == NULL)
			return -FL_ENOMEM;
		memcpy(r->snap.data, b->snapshot.data, b->snapshot.len);
	}
	r->log_first = r->snap.index + 1;
	r->term = FL_MAX(b->hard.term, r->snap.term);
	r->vote = b->hard.term == r->term ? b->hard.vote : 0;
	for (uint64_t i = 0; i < b->n_entries; i++) {
		const struct raft_entry *e = &b->entries[i];
		if (e->index <= raft__last_index(r))
			continue; /* trailing entries the snapshot covers */
		if (e->index != raft__last_index(r) + 1 || e->term < raft__last_term(r) ||
		    e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP)
			return -FL_EINVAL;
		struct raft_config c;
		if (e->type == RAFT_ENTRY_CONFIG && raft_config_decode(e->data, e->len, &c) != 0)
			return -FL_ECORRUPT; /* the log store handed back a bad entry */
		r->term = FL_MAX(r->term, e->term);
		if (raft__append_entry(r, e) != 0)
			return -FL_ENOMEM;
	}
	return 0;
}

int raft_new(const struct raft_options *opt, const struct raft_boot *boot,
	     uint64_t now_us, struct raft **out)
{
	FL_ASSERT(opt != NULL);
	FL_ASSERT(boot != NULL);
	FL_ASSERT(out != NULL);
	uint8_t cbuf[1 + 4 + RAFT_MAX_SERVERS * 9];
	if (options_check(opt) != 0 ||
	    raft_config_encode(&boot->snapshot.config, cbuf, sizeof(cbuf)) < 0)
		return -FL_EINVAL;
	struct raft *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -FL_ENOMEM;
	r->opt = *opt;
	fl_rand_seed(&r->rand, opt->seed ^ (opt->id * 0x9E3779B97F4A7C15ull));
	r->now_us = now_us;
	r->state = RAFT_FOLLOWER;
	r->outbox = calloc(RAFT_OUTBOX_MAX, sizeof(*r->outbox));
	r->ready_msgs = calloc(RAFT_OUTBOX_MAX, sizeof(*r->ready_msgs));
	int rv = (r->outbox && r->ready_msgs) ? boot_load(r, boot) : -FL_ENOMEM;
	if (rv != 0)
		goto err;
	uint64_t last_term = raft__last_term(r);
	if (last_term > r->term) {
		rv = -FL_EINVAL;
		goto err;
	}
	r->hs_dirty = r->term != boot->hard.term || r->vote != boot->hard.vote;
	r->commit = r->applied = r->snap.index;
	r->persisted_index = raft__last_index(r);
	r->unissued_from = r->persisted_index + 1;
	raft__config_refresh(r);
	r->last_leader_us = now_us; /* see raft_new() in raft.h: keep old leases */
	raft__reset_election_timer(r);
	r->last_state = RAFT_FOLLOWER;
	r->last_term = r->term;
	raft__check(r);
	*out = r;
	return 0;
err:
	raft_free(r);
	return rv;
}

void raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	for (uint64_t i = 0; i < r->log_n; i++)
		free(r->log[i].data);
	free(r->log);
	free(r->snap.data);
	free(r->outbox);
	free(r->ready_msgs);
	free(r);
}

/* ---- the update ----------------------------------------------------------- */

static void ready_persist(struct raft *r, struct raft_update *u)
{
	if (!persist_work(r) || r->fifo_n == RAFT_PERSIST_MAX)
		return; /* a full FIFO holds the work back: the disk is slow */
	struct raft_persist *p = &u->persist;
	uint64_t last = raft__last_index(r);
	p->has_hard_state = true;
	p->hard = (struct raft_hard_state){r->term, r->vote, r->commit};
	p->truncate_from = r->truncate_pending;
	if (r->snap_pending) {
		p->snapshot = &r->snap;
		p->truncate_from = 1;
	}
	if (r->unissued_from <= last) {
		FL_ASSERT(r->unissued_from >= r->log_first);
		p->entries = raft__entry(r, r->unissued_from);
		p->n_entries = (uint32_t)(last - r->unissued_from + 1);
	}
	p->last_index = last;
	p->term = r->term;
	struct raft_pitem *it = &r->fifo[(r->fifo_head + r->fifo_n) % RAFT_PERSIST_MAX];
	*it = (struct raft_pitem){.seq = ++r->issued_seq, .ack_index = last,
				  .ack_term = r->term, .eff_index = last,
				  .issued_us = r->now_us};
	r->fifo_n++;
	r->hs_seq = it->seq;
	r->hs_dirty = false;
	r->snap_pending = false;
	r->truncate_pending = 0;
	r->unissued_from = last + 1;
}

/* Fills an APPEND's entries from the log; false if it became stale. */
static bool ready_fill_append(struct raft *r, struct raft_out *o)
{
	struct raft_msg_append *a = &o->m.append;
	if (r->state != RAFT_LEADER || o->m.term != r->term)
		return false;
	if (a->n_entries == 0)
		return true;
	if (o->from_index < r->log_first ||
	    o->from_index + a->n_entries - 1 > raft__last_index(r))
		return false;
	a->entries = raft__entry(r, o->from_index);
	return true;
}

static void ready_msgs(struct raft *r, struct raft_update *u)
{
	uint32_t kept = 0, n = 0;
	for (uint32_t i = 0; i < r->outbox_n; i++) {
		struct raft_out *o = &r->outbox[i];
		if (o->need_seq > r->acked_seq) {
			r->outbox[kept++] = *o;
			continue;
		}
		if (o->m.type == RAFT_MSG_APPEND && !ready_fill_append(r, o))
			continue;
		if (o->m.type == RAFT_MSG_SNAPSHOT &&
		    (r->state != RAFT_LEADER || o->m.term != r->term))
			continue;
		if (o->m.type == RAFT_MSG_SNAPSHOT)
			o->m.snapshot.data = r->snap.data;
		r->ready_msgs[n++] = o->m;
	}
	r->outbox_n = kept;
	u->msgs = r->ready_msgs;
	u->n_msgs = n;
}

void raft_ready(struct raft *r, struct raft_update *u)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(u != NULL);
	memset(u, 0, sizeof(*u));
	ready_persist(r, u);
	ready_msgs(r, u);
	uint64_t upto = FL_MIN(r->commit, r->persisted_index);
	if (upto > r->applied) {
		FL_ASSERT(r->applied + 1 >= r->log_first);
		u->committed = raft__entry(r, r->applied + 1);
		u->n_committed = (uint32_t)FL_MIN(upto - r->applied, RAFT_APPLY_BATCH);
		r->applied += u->n_committed;
	}
	u->compact_index = r->compact_hint;
	r->compact_hint = 0;
	u->state = r->state;
	u->term = r->term;
	u->leader = r->leader;
	u->state_changed = r->state != r->last_state || r->term != r->last_term ||
			   r->leader != r->last_leader_reported;
	r->last_state = r->state;
	r->last_term = r->term;
	r->last_leader_reported = r->leader;
	raft__check(r);
}

int raft_persisted(struct raft *r, uint64_t last_index, uint64_t term)
{
	FL_ASSERT(r != NULL);
	if (r->fifo_n == 0)
		return -FL_EINVAL;
	struct raft_pitem *it = &r->fifo[r->fifo_head];
	if (it->ack_index != last_index || it->ack_term != term)
		return -FL_EINVAL;
	FL_ASSERT(it->seq == r->acked_seq + 1);
	r->acked_seq = it->seq;
	r->persisted_index = FL_MAX(r->persisted_index, it->eff_index);
	FL_ASSERT(r->persisted_index <= raft__last_index(r));
	r->fifo_head = (r->fifo_head + 1) % RAFT_PERSIST_MAX;
	r->fifo_n--;
	if (r->state == RAFT_LEADER)
		raft__maybe_commit(r);
	raft__check(r);
	return 0;
}
