/* Raft core: membership changes one server at a time (thesis §4.1), learner
 * catch-up and promotion (§4.2.1), leadership transfer (§3.10), the leader
 * lease (§6.4.1) and the getters.
 *
 * A configuration takes effect on every server as soon as its entry is in the
 * log, committed or not (§4.1); raft__config_refresh() recomputes it after a
 * truncation drops a configuration entry. */
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/core.h"

/* §4.1: one change at a time, and not before the leader committed an entry
 * of its term (the fix to the single-server change bug found in 2015). */
static int change_allowed(const struct raft *r)
{
	uint64_t t = 0;
	if (r->state != RAFT_LEADER)
		return -FL_ENOTLEADER;
	if (r->transfer_target != 0 || r->cfg_index > r->commit)
		return -FL_EBUSY;
	if (!raft__term_known(r, r->commit, &t) || t != r->term)
		return -FL_EBUSY;
	return 0;
}

/* The clock step and the checks every membership change starts with. */
static int change_begin(struct raft *r, uint64_t now_us)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(now_us >= r->now_us);
	r->now_us = now_us;
	return change_allowed(r);
}

static int propose_config(struct raft *r, const struct raft_config *c)
{
	uint8_t buf[1 + 4 + RAFT_MAX_SERVERS * 9];
	int n = raft_config_encode(c, buf, sizeof(buf));
	if (n < 0)
		return n;
	int rv = raft__append(r, r->term, RAFT_ENTRY_CONFIG, buf, (uint32_t)n);
	if (rv != 0)
		return rv;
	FL_ASSERT(r->cfg_index == raft__last_index(r));
	raft__broadcast(r, false);
	raft__maybe_commit(r);
	return 0;
}

int raft_add(struct raft *r, uint64_t now_us, uint64_t id)
{
	int rv = change_begin(r, now_us);
	if (rv != 0)
		return rv;
	if (id == 0 || raft_config_find(&r->cfg, id) >= 0)
		return -FL_EINVAL;
	if (r->cfg.n == RAFT_MAX_SERVERS)
		return -FL_ENOSPC;
	struct raft_config c = r->cfg;
	c.servers[c.n++] = (struct raft_server){.id = id, .role = RAFT_LEARNER};
	return propose_config(r, &c);
}

int raft_remove(struct raft *r, uint64_t now_us, uint64_t id)
{
	int rv = change_begin(r, now_us);
	if (rv != 0)
		return rv;
	int i = raft_config_find(&r->cfg, id);
	if (i < 0)
		return -FL_ENOENT;
	struct raft_config c = r->cfg;
	c.servers[i] = c.servers[c.n - 1];
	c.n--;
	if (raft_config_voters(&c) == 0)
		return -FL_EINVAL;
	return propose_config(r, &c);
}

/* Voter to learner: one voter leaves the voter set, a single-server change
 * like a removal (the old and new majorities overlap), but the server keeps
 * receiving the log. A leader that demotes itself steps down once the change
 * commits (§4.2.2, as for a removal). */
int raft_demote(struct raft *r, uint64_t now_us, uint64_t id)
{
	int rv = change_begin(r, now_us);
	if (rv != 0)
		return rv;
	int i = raft_config_find(&r->cfg, id);
	if (i < 0 || r->cfg.servers[i].role != RAFT_VOTER)
		return -FL_ENOENT;
	struct raft_config c = r->cfg;
	c.servers[i].role = RAFT_LEARNER;
	if (raft_config_voters(&c) == 0)
		return -FL_EINVAL;
	FL_ASSERT(raft_config_voters(&c) + 1 == raft_config_voters(&r->cfg));
	if (r->promote_id == id)
		r->promote_id = 0;
	return propose_config(r, &c);
}

/* Within catch_up_entries of our log, and it has answered at least once: a
 * learner that never replied (not started yet) is not caught up, however
 * short the log. */
static bool caught_up(const struct raft *r, const struct raft_progress *p)
{
	return p->match > 0 && p->match + r->opt.catch_up_entries >= raft__last_index(r);
}

static int promote_now(struct raft *r, uint64_t id)
{
	struct raft_config c = r->cfg;
	int i = raft_config_find(&c, id);
	FL_ASSERT(i >= 0);
	c.servers[i].role = RAFT_VOTER;
	r->promote_id = 0;
	return propose_config(r, &c);
}

int raft_promote(struct raft *r, uint64_t now_us, uint64_t id)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(now_us >= r->now_us);
	r->now_us = now_us;
	if (r->state != RAFT_LEADER)
		return -FL_ENOTLEADER;
	int i = raft_config_find(&r->cfg, id);
	if (i < 0 || r->cfg.servers[i].role != RAFT_LEARNER)
		return -FL_ENOENT;
	/* A leader that demoted itself steps down once that commits; it has
	 * no progress of its own to judge a catch-up by. */
	if (id == r->opt.id)
		return -FL_EINVAL;
	struct raft_progress *p = raft__progress(r, id);
	FL_ASSERT(p != NULL);
	if (caught_up(r, p) && change_allowed(r) == 0)
		return promote_now(r, id);
	r->promote_id = id;
	r->promote_deadline_us = now_us + 10 * r->opt.election_timeout_us;
	return -FL_EAGAIN;
}

static void send_timeout_now(struct raft *r)
{
	struct raft_msg *m = raft__send(r, RAFT_MSG_TIMEOUT_NOW, r->transfer_target, 0);
	if (m != NULL)
		r->transfer_sent = true;
}

int raft_transfer(struct raft *r, uint64_t now_us, uint64_t target)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(now_us >= r->now_us);
	r->now_us = now_us;
	if (r->state != RAFT_LEADER)
		return -FL_ENOTLEADER;
	if (r->transfer_target != 0)
		return -FL_EBUSY;
	if (target == r->opt.id || !raft__is_voter(r, target))
		return -FL_EINVAL;
	struct raft_progress *p = raft__progress(r, target);
	FL_ASSERT(p != NULL);
	r->transfer_target = target;
	r->transfer_deadline_us = now_us + r->opt.election_timeout_us;
	r->transfer_sent = false;
	if (p->match == raft__last_index(r))
		send_timeout_now(r);
	else
		raft__replicate(r, p);
	return 0;
}

void raft__member_on_progress(struct raft *r, struct raft_progress *p)
{
	FL_ASSERT(r->state == RAFT_LEADER);
	if (r->transfer_target == p->id && !r->transfer_sent &&
	    p->match == raft__last_index(r))
		send_timeout_now(r);
	if (r->promote_id == p->id && caught_up(r, p) && change_allowed(r) == 0)
		promote_now(r, p->id);
}

void raft__member_tick(struct raft *r)
{
	FL_ASSERT(r->state == RAFT_LEADER);
	if (r->transfer_target != 0 && r->now_us >= r->transfer_deadline_us) {
		fl_info("raft %llu: leadership transfer to %llu timed out",
			(unsigned long long)r->opt.id, (unsigned long long)r->transfer_target);
		r->transfer_target = 0;
		/* A TimeoutNow still in the network lets its target win votes
		 * without waiting (§3.10): our lease can never be trusted again
		 * in this term, so give the leadership up rather than hold it
		 * without a lease. */
		if (r->transfer_sent) {
			raft__become_follower(r, r->term, 0);
			return;
		}
	}
	if (r->promote_id != 0 && r->now_us >= r->promote_deadline_us)
		r->promote_id = 0;
	if (r->promote_id != 0) {
		struct raft_progress *p = raft__progress(r, r->promote_id);
		if (p == NULL)
			r->promote_id = 0;
		else
			raft__member_on_progress(r, p);
	}
}

bool raft_leader_lease_valid(const struct raft *r, uint64_t now_us)
{
	FL_ASSERT(r != NULL);
	if (r->state != RAFT_LEADER || r->transfer_target != 0)
		return false;
	uint64_t e = r->opt.election_timeout_us;
	uint64_t drift_us = (e * 2 * r->opt.max_drift_ppm + 999999) / 1000000;
	uint64_t cut_us = drift_us + r->opt.lease_margin_us;
	uint64_t lease = e > cut_us ? e - cut_us : 0;
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		const struct raft_server *s = &r->cfg.servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		if (s->id == r->opt.id) {
			n++;
			continue;
		}
		const struct raft_progress *p = raft__progress((struct raft *)r, s->id);
		n += p != NULL && p->lease_ack_us != 0 && p->lease_ack_us + lease > now_us;
	}
	return n >= raft__quorum(r);
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x > y ? -1 : x < y;
}

uint64_t raft_quorum_contact_us(const struct raft *r, uint64_t now_us)
{
	FL_ASSERT(r != NULL);
	if (r->state != RAFT_LEADER)
		return 0;
	uint64_t t[RAFT_MAX_SERVERS];
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		const struct raft_server *s = &r->cfg.servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		const struct raft_progress *p = s->id == r->opt.id ? NULL : raft__progress((struct raft *)r, s->id);
		t[n++] = s->id == r->opt.id ? now_us : p != NULL ? p->lease_ack_us
								 : 0;
	}
	uint32_t q = raft__quorum(r);
	if (n < q || q == 0)
		return 0;
	qsort(t, n, sizeof(t[0]), cmp_u64_desc);
	return t[q - 1];
}

/* ---- getters -------------------------------------------------------------- */

uint64_t raft_id(const struct raft *r) { return r->opt.id; }
uint8_t raft_state(const struct raft *r) { return r->state; }
uint64_t raft_term(const struct raft *r) { return r->term; }
uint64_t raft_vote(const struct raft *r) { return r->vote; }
uint64_t raft_leader(const struct raft *r) { return r->leader; }
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_applied_index(const struct raft *r) { return r->applied; }
uint64_t raft_last_index(const struct raft *r) { return raft__last_index(r); }
uint64_t raft_first_index(const struct raft *r) { return r->log_n ? r->log_first : r->snap.index + 1; }
uint64_t raft_snapshot_index(const struct raft *r) { return r->snap.index; }

void raft_mem_usage(const struct raft *r, struct raft_mem_usage *out)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(out != NULL);
	*out = (struct raft_mem_usage){.entries = r->log_n, .log_array_bytes = r->log_cap * sizeof(*r->log), .snapshot_bytes = r->snap.len};
	for (uint64_t i = 0; i < r->log_n; i++)
		out->entry_bytes += r->log[i].len;
}

int raft_term_at(const struct raft *r, uint64_t index, uint64_t *term_out)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(term_out != NULL);
	return raft__term_known(r, index, term_out) ? 0 : -FL_ENOENT;
}

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
	return raft__entry(r, index);
}

const struct raft_config *raft_configuration(const struct raft *r, uint64_t *index_out)
{
	if (index_out != NULL)
		*index_out = r->cfg_index;
	return &r->cfg;
}

uint64_t raft_match_index(const struct raft *r, uint64_t id)
{
	if (r->state != RAFT_LEADER)
		return 0;
	if (id == r->opt.id)
		return r->persisted_index;
	const struct raft_progress *p = raft__progress((struct raft *)r, id);
	return p ? p->match : 0;
}

uint64_t raft_leader_commit(const struct raft *r)
{
	return FL_MAX(r->commit, r->leader_commit);
}

uint64_t raft_rtt_us(const struct raft *r, uint64_t id)
{
	if (r->state != RAFT_LEADER || id == r->opt.id)
		return 0;
	const struct raft_progress *p = raft__progress((struct raft *)r, id);
	return p ? p->rtt_us : 0;
}

const char *raft_state_name(uint8_t state)
{
	switch (state) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_PRE_CANDIDATE: return "pre-candidate";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	default: return "?";
	}
}
