/* Raft core: log replication (§5.3), the commit rule (§5.4.2, Figure 8),
 * proposals, snapshots and InstallSnapshot (thesis ch. 5).
 *
 * Flow control per follower, after etcd: PROBE sends one APPEND and waits for
 * its answer (finding the match point, with the §5.3 conflict hints so a
 * follower far behind costs one round trip per term, not per entry);
 * REPLICATE pipelines up to max_inflight batches and advances next
 * optimistically; SNAPSHOT waits for an InstallSnapshot to land. A rejection
 * or a heartbeat period without progress falls back to PROBE, so a lost
 * message costs one heartbeat, never a stall. */
#include <stdlib.h>
#include <string.h>
#include "common/mutant.h"
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/core.h"

struct raft_progress *raft__progress(struct raft *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->n_prog; i++)
		if (r->prog[i].id == id)
			return &r->prog[i];
	return NULL;
}

/* One progress per other server of the newest configuration; servers that
 * stay keep theirs (a configuration change must not reset replication). */
void raft__progress_rebuild(struct raft *r)
{
	struct raft_progress old[RAFT_MAX_SERVERS];
	uint32_t n_old = r->n_prog;
	memcpy(old, r->prog, sizeof(old[0]) * n_old);
	r->n_prog = 0;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		uint64_t id = r->cfg.servers[i].id;
		if (id == r->opt.id)
			continue;
		struct raft_progress *p = &r->prog[r->n_prog++];
		uint32_t j = 0;
		while (j < n_old && old[j].id != id)
			j++;
		if (j < n_old) {
			*p = old[j];
			continue;
		}
		memset(p, 0, sizeof(*p));
		p->id = id;
		p->next = raft__last_index(r) + 1;
		p->mode = PMODE_PROBE;
		p->last_resp_us = r->now_us; /* check-quorum grace */
	}
	FL_ASSERT(r->n_prog <= RAFT_MAX_SERVERS);
}

static void send_snapshot(struct raft *r, struct raft_progress *p)
{
	struct raft_msg *m = raft__send(r, RAFT_MSG_SNAPSHOT, p->id, 0);
	if (m == NULL)
		return;
	m->snapshot.index = r->snap.index;
	m->snapshot.snap_term = r->snap.term;
	m->snapshot.lease_ctx = r->now_us;
	m->snapshot.config = r->snap.config;
	m->snapshot.len = r->snap.len;
	p->mode = PMODE_SNAPSHOT;
	p->snapshot_index = r->snap.index;
	p->inflight = 0;
	p->last_send_us = p->snapshot_sent_us = r->now_us;
}

static void send_append_at(struct raft *r, struct raft_progress *p, uint64_t next, bool empty)
{
	uint64_t prev = next - 1, prev_term = 0;
	if (!raft__term_known(r, prev, &prev_term) ||
	    (next < r->log_first && next <= raft__last_index(r))) {
		send_snapshot(r, p);
		return;
	}
	uint64_t last = raft__last_index(r);
	uint32_t n = 0;
	uint64_t bytes = 0;
	while (!empty && next + n <= last && n < r->opt.max_batch_entries) {
		uint32_t len = raft__entry(r, next + n)->len;
		if (n > 0 && bytes + len > r->opt.max_batch_bytes)
			break;
		bytes += len;
		n++;
	}
	struct raft_msg *m = raft__send(r, RAFT_MSG_APPEND, p->id, 0);
	if (m == NULL)
		return;
	((struct raft_out *)m)->from_index = next;
	m->append = (struct raft_msg_append){.prev_index = prev, .prev_term = prev_term,
					     .commit = r->commit, .lease_ctx = r->now_us,
					     .n_entries = n};
	p->last_send_us = r->now_us;
	if (p->mode == PMODE_REPLICATE && n > 0) {
		p->next = next + n;
		p->inflight_last[(p->inflight_head + p->inflight) % RAFT_INFLIGHT_MAX] = next + n - 1;
		p->inflight++;
	} else if (p->mode == PMODE_PROBE) {
		p->probe_sent = true;
	}
}

void raft__send_append(struct raft *r, struct raft_progress *p)
{
	send_append_at(r, p, p->next, false);
}

/* Sends what flow control allows to one follower. */
void raft__replicate(struct raft *r, struct raft_progress *p)
{
	FL_ASSERT(r->state == RAFT_LEADER);
	if (p->mode == PMODE_PROBE) {
		if (!p->probe_sent)
			raft__send_append(r, p);
		return;
	}
	uint32_t bound = RAFT_INFLIGHT_MAX;
	while (p->mode == PMODE_REPLICATE && p->inflight < r->opt.max_inflight &&
	       p->next <= raft__last_index(r) && bound-- > 0)
		raft__send_append(r, p);
}

static void heartbeat(struct raft *r, struct raft_progress *p)
{
	if (p->mode == PMODE_SNAPSHOT) {
		if (r->now_us >= p->snapshot_sent_us + r->opt.election_timeout_us)
			send_snapshot(r, p); /* lost: send again */
		else
			send_append_at(r, p, p->snapshot_index + 1, true);
		return;
	}
	if (p->mode == PMODE_REPLICATE && p->inflight > 0 && p->match == p->hb_match) {
		p->mode = PMODE_PROBE; /* no progress for a heartbeat: resend */
		p->next = p->match + 1;
		p->inflight = 0;
	}
	p->hb_match = p->match;
	if (p->mode == PMODE_PROBE) {
		p->probe_sent = false;
		raft__send_append(r, p);
		return;
	}
	uint64_t t;
	if (raft__term_known(r, p->match, &t))
		send_append_at(r, p, p->match + 1, true);
	else
		send_snapshot(r, p);
}

void raft__broadcast(struct raft *r, bool hb)
{
	for (uint32_t i = 0; i < r->n_prog; i++) {
		if (hb)
			heartbeat(r, &r->prog[i]);
		else
			raft__replicate(r, &r->prog[i]);
	}
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* §5.3/§5.4.2: the highest index stored on a majority of voters (our own
 * entries only once durable) commits, if it is of the current term. */
void raft__maybe_commit(struct raft *r)
{
	FL_ASSERT(r->state == RAFT_LEADER);
	uint64_t match[RAFT_MAX_SERVERS];
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		const struct raft_server *s = &r->cfg.servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		const struct raft_progress *p = raft__progress(r, s->id);
		match[n++] = s->id == r->opt.id ? r->persisted_index : (p ? p->match : 0);
	}
	if (n == 0)
		return;
	qsort(match, n, sizeof(match[0]), cmp_u64_desc);
	uint64_t idx = match[raft__quorum(r) - 1], t = 0;
	if (idx <= r->commit || !raft__term_known(r, idx, &t) || (t != r->term && !FL_MUTANT_IS(FL_MUT_FIGURE8_OFF)))
		return; /* Figure 8: never commit an old term's entry by counting */
	r->commit = idx;
	FL_ASSERT(r->commit <= raft__last_index(r));
	/* §4.2.2: a leader removed by a committed configuration steps down. */
	if (r->cfg_index <= r->commit && !raft__is_voter(r, r->opt.id)) {
		raft__broadcast(r, true); /* tell the others about the commit */
		raft__become_follower(r, r->term, 0);
		return;
	}
	raft__broadcast(r, false);
}

int raft_propose(struct raft *r, uint64_t now_us, const void *data, uint32_t len,
		 uint64_t *index_out)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(now_us >= r->now_us);
	FL_ASSERT(data != NULL || len == 0);
	r->now_us = now_us;
	if (r->state != RAFT_LEADER)
		return -FL_ENOTLEADER;
	if (r->transfer_target != 0)
		return -FL_EBUSY;
	if (raft__last_index(r) - r->commit >= RAFT_UNCOMMITTED_MAX)
		return -FL_ENOSPC;
	int rv = raft__append(r, r->term, RAFT_ENTRY_NORMAL, data, len);
	if (rv != 0)
		return rv;
	if (index_out != NULL)
		*index_out = raft__last_index(r);
	raft__broadcast(r, false);
	raft__maybe_commit(r);
	return 0;
}

/* ---- follower side -------------------------------------------------------- */

static void heard_from_leader(struct raft *r, const struct raft_msg *m)
{
	if (r->state != RAFT_FOLLOWER)
		raft__become_follower(r, r->term, m->from);
	r->leader = m->from;
	r->last_leader_us = r->now_us;
	raft__reset_election_timer(r);
}

static void reply_append(struct raft *r, const struct raft_msg *m, uint64_t match,
			 uint64_t lease_ctx)
{
	uint64_t need = FL_MAX(raft__need_hs(r), raft__need_index(r, match));
	struct raft_msg *o = raft__send(r, RAFT_MSG_APPEND_RESP, m->from, need);
	if (o == NULL)
		return;
	o->append_resp.success = 1;
	o->append_resp.match_index = match;
	o->append_resp.last_index = raft__last_index(r);
	o->append_resp.lease_ctx = lease_ctx;
}

/* §5.3 hint: the first index of the term at prev_index, or our last + 1. */
static void reject_append(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_append *a = &m->append;
	struct raft_msg *o = raft__send(r, RAFT_MSG_APPEND_RESP, m->from, raft__need_hs(r));
	if (o == NULL)
		return;
	struct raft_msg_append_resp *x = &o->append_resp;
	x->reject_index = a->prev_index;
	x->last_index = raft__last_index(r);
	x->lease_ctx = a->lease_ctx;
	uint64_t t = 0;
	if (a->prev_index > x->last_index || !raft__term_known(r, a->prev_index, &t)) {
		x->conflict_index = x->last_index + 1;
		return;
	}
	x->conflict_term = t;
	uint64_t i = a->prev_index;
	while (i > r->log_first && raft__entry(r, i - 1)->term == t)
		i--;
	x->conflict_index = FL_MAX(i, r->commit + 1);
}

int raft__step_append(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_append *a = &m->append;
	struct raft_config c;
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];
		if (e->index != a->prev_index + 1 + i || e->term > m->term || e->term == 0 ||
		    (i > 0 && e->term < a->entries[i - 1].term) ||
		    (e->len > 0 && e->data == NULL) ||
		    (e->type == RAFT_ENTRY_CONFIG && raft_config_decode(e->data, e->len, &c) != 0))
			return -FL_EINVAL;
	}
	if (a->n_entries > 0 && a->entries[0].term < a->prev_term)
		return -FL_EINVAL;
	heard_from_leader(r, m);
	r->leader_commit = FL_MAX(r->leader_commit, a->commit);
	if (a->prev_index < r->commit) {
		reply_append(r, m, r->commit, a->lease_ctx); /* stale or duplicate */
		return 0;
	}
	uint64_t t = 0;
	if (!raft__term_known(r, a->prev_index, &t) || t != a->prev_term) {
		reject_append(r, m);
		return 0;
	}
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];
		if (raft__term_known(r, e->index, &t)) {
			if (t == e->term)
				continue; /* already have it (log matching) */
			raft__truncate(r, e->index);
		}
		int rv = raft__append_entry(r, e);
		if (rv != 0)
			return rv;
	}
	uint64_t last_new = a->prev_index + a->n_entries;
	if (a->commit > r->commit)
		r->commit = FL_MAX(r->commit, FL_MIN(a->commit, last_new));
	reply_append(r, m, last_new, a->lease_ctx);
	return 0;
}

static void discard_log(struct raft *r)
{
	for (uint64_t i = 0; i < r->log_n; i++)
		free(r->log[i].data);
	r->log_n = 0;
}

/* InstallSnapshot (thesis §5.1 ch. 5): replace the log by the snapshot unless
 * we already hold its last entry. */
int raft__step_snapshot(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_snapshot *s = &m->snapshot;
	heard_from_leader(r, m);
	uint64_t t = 0;
	if (s->index <= r->commit ||
	    (raft__term_known(r, s->index, &t) && t == s->snap_term)) {
		uint64_t match = FL_MAX(r->commit, s->index);
		if (s->index > r->commit && s->index <= raft__last_index(r))
			r->commit = s->index;
		reply_append(r, m, FL_MIN(match, raft__last_index(r)), s->lease_ctx);
		return 0;
	}
	uint8_t *copy = NULL;
	if (s->len > 0 && (copy = malloc(s->len)) == NULL)
		return -FL_ENOMEM;
	if (s->len > 0)
		memcpy(copy, s->data, s->len);
	discard_log(r);
	free(r->snap.data);
	r->snap = (struct raft_snapshot){.index = s->index, .term = s->snap_term,
					 .config = s->config, .len = s->len, .data = copy};
	r->log_first = s->index + 1;
	for (uint32_t i = 0; i < r->fifo_n; i++) {
		struct raft_pitem *it = &r->fifo[(r->fifo_head + i) % RAFT_PERSIST_MAX];
		it->eff_index = FL_MIN(it->eff_index, FL_MIN(r->persisted_index, r->commit));
	}
	r->persisted_index = FL_MIN(r->persisted_index, r->commit);
	r->commit = r->applied = s->index;
	r->snap_pending = true;
	r->truncate_pending = 0;
	r->unissued_from = s->index + 1;
	raft__config_refresh(r);
	reply_append(r, m, s->index, s->lease_ctx);
	FL_ASSERT(raft__need_index(r, s->index) == r->issued_seq + 1);
	return 0;
}

/* ---- leader side ---------------------------------------------------------- */

static void progress_acked(struct raft *r, struct raft_progress *p, uint64_t match)
{
	if (match > p->match)
		p->match = match;
	if (p->next <= p->match)
		p->next = p->match + 1;
	while (p->inflight > 0 && p->inflight_last[p->inflight_head] <= p->match) {
		p->inflight_head = (p->inflight_head + 1) % RAFT_INFLIGHT_MAX;
		p->inflight--;
	}
	if (p->mode == PMODE_PROBE ||
	    (p->mode == PMODE_SNAPSHOT && p->match >= p->snapshot_index)) {
		p->mode = PMODE_REPLICATE;
		p->next = p->match + 1;
		p->inflight = 0;
		p->probe_sent = false;
	}
}

/* §5.3 with the conflict hint: skip the whole conflicting term at once. */
static void progress_rejected(struct raft *r, struct raft_progress *p,
			      const struct raft_msg_append_resp *x)
{
	if (x->reject_index <= p->match || p->mode == PMODE_SNAPSHOT)
		return; /* stale, or a heartbeat racing an InstallSnapshot */
	if (p->mode == PMODE_PROBE && x->reject_index != p->next - 1)
		return; /* answer to an older probe */
	uint64_t next = x->conflict_index;
	if (x->conflict_term != 0) {
		uint64_t i = FL_MIN(x->reject_index, raft__last_index(r)), t = 0;
		uint32_t bound = 1u << 20;
		while (i > 0 && bound-- > 0 && raft__term_known(r, i, &t) && t > x->conflict_term)
			i--;
		if (raft__term_known(r, i, &t) && t == x->conflict_term)
			next = i + 1;
	}
	next = FL_MIN(next, x->reject_index);
	next = FL_MIN(next, x->last_index + 1);
	next = FL_MIN(next, raft__last_index(r) + 1);
	p->next = FL_MAX(next, p->match + 1);
	p->mode = PMODE_PROBE;
	p->inflight = 0;
	p->probe_sent = false;
}

int raft__step_append_resp(struct raft *r, const struct raft_msg *m)
{
	if (r->state != RAFT_LEADER)
		return 0;
	struct raft_progress *p = raft__progress(r, m->from);
	if (p == NULL)
		return 0;
	const struct raft_msg_append_resp *x = &m->append_resp;
	p->last_resp_us = r->now_us;
	if (x->lease_ctx > p->lease_ack_us && x->lease_ctx <= r->now_us) {
		p->lease_ack_us = x->lease_ctx;
		/* The answer echoes its APPEND's send time: a round trip, for
		 * the operator's quorum view only (no decision reads it). */
		uint64_t sample = r->now_us - x->lease_ctx;
		p->rtt_us = p->rtt_us == 0 ? FL_MAX(sample, (uint64_t)1) : (7u * p->rtt_us + sample) / 8u;
	}
	if (x->success) {
		if (x->match_index > raft__last_index(r))
			return -FL_EINVAL;
		progress_acked(r, p, x->match_index);
		raft__maybe_commit(r);
		if (r->state != RAFT_LEADER)
			return 0;
		raft__member_on_progress(r, p);
	} else {
		progress_rejected(r, p, x);
	}
	raft__replicate(r, p);
	return 0;
}

/* ---- snapshots taken by the application ----------------------------------- */

int raft_snapshot_taken(struct raft *r, uint64_t index, const void *data, uint64_t len)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(data != NULL || len == 0);
	uint64_t t = 0;
	if (index > r->applied || index <= r->snap.index || !raft__term_known(r, index, &t))
		return -FL_EINVAL;
	struct raft_config cfg;
	bool ok = raft__config_at(r, index, &cfg);
	FL_ASSERT(ok);
	uint8_t *copy = NULL;
	if (len > 0 && (copy = malloc(len)) == NULL)
		return -FL_ENOMEM;
	if (len > 0)
		memcpy(copy, data, len);
	free(r->snap.data);
	r->snap = (struct raft_snapshot){.index = index, .term = t, .config = cfg,
					 .len = len, .data = copy};
	/* Keep snapshot_trailing entries before index for slow followers. */
	uint64_t keep_from = index + 1 - FL_MIN(index, r->opt.snapshot_trailing);
	if (keep_from > r->log_first) {
		uint64_t drop = FL_MIN(keep_from - r->log_first, r->log_n);
		for (uint64_t i = 0; i < drop; i++)
			free(r->log[i].data);
		memmove(r->log, r->log + drop, (r->log_n - drop) * sizeof(*r->log));
		r->log_n -= drop;
		r->log_first += drop;
	}
	r->compact_hint = index;
	FL_ASSERT(r->log_first <= r->snap.index + 1);
	return 0;
}
