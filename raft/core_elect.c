/* Raft core: roles, terms and elections (§5.1, §5.2, §9.6 pre-vote, §6.2
 * check-quorum, §4.2.3 disruptive servers), message dispatch and time.
 *
 * Term rules in one place (raft_step()): a message with a higher term makes
 * us a follower of that term, except a (pre)vote request that arrives while
 * we still hear from a live leader (§4.2.3: ignored entirely), a pre-vote
 * request (answered without changing term, §9.6), and a granted pre-vote
 * answer (it carries the term we would campaign in; canonical/raft once
 * dropped these for term reasons and lost elections). */
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/core.h"

void raft__become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
	FL_ASSERT(term >= r->term);
	if (term > r->term)
		raft__set_term(r, term, 0);
	if (r->state != RAFT_FOLLOWER)
		fl_debug("raft %llu: follower in term %llu", (unsigned long long)r->opt.id,
			 (unsigned long long)term);
	r->state = RAFT_FOLLOWER;
	r->leader = leader;
	r->transfer_target = 0;
	r->promote_id = 0;
	r->n_granted = r->n_refused = 0;
	raft__reset_election_timer(r);
}

static void become_leader(struct raft *r)
{
	FL_ASSERT(r->state == RAFT_CANDIDATE);
	r->state = RAFT_LEADER;
	r->leader = r->opt.id;
	r->became_leader_us = r->now_us;
	r->transfer_target = 0;
	r->n_prog = 0;
	raft__progress_rebuild(r);
	/* §8 / thesis §6.4: a no-op of our own term lets us commit (Figure 8). */
	int rv = raft__append(r, r->term, RAFT_ENTRY_NOOP, NULL, 0);
	FL_ASSERT(rv == 0);
	r->heartbeat_due_us = r->now_us;
	fl_debug("raft %llu: leader of term %llu", (unsigned long long)r->opt.id,
		 (unsigned long long)r->term);
	raft__broadcast(r, false);
	raft__maybe_commit(r);
}

static bool record_vote(struct raft *r, uint64_t from, bool granted)
{
	uint64_t *set = granted ? r->granted : r->refused;
	uint32_t *n = granted ? &r->n_granted : &r->n_refused;
	if (!raft__is_voter(r, from))
		return false;
	for (uint32_t i = 0; i < *n; i++)
		if (set[i] == from)
			return false;
	FL_ASSERT(*n < RAFT_MAX_SERVERS);
	set[(*n)++] = from;
	return true;
}

static void send_vote_requests(struct raft *r, bool pre, bool transfer)
{
	uint64_t need = pre ? 0 : raft__need_hs(r);
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		const struct raft_server *s = &r->cfg.servers[i];
		if (s->id == r->opt.id || s->role != RAFT_VOTER)
			continue;
		struct raft_msg *m = raft__send(r, RAFT_MSG_VOTE, s->id, need);
		if (m == NULL)
			continue;
		m->term = pre ? r->term + 1 : r->term;
		m->vote = (struct raft_msg_vote){.pre = pre, .transfer = transfer,
						 .last_index = raft__last_index(r),
						 .last_term = raft__last_term(r)};
	}
}

static void check_tally(struct raft *r);

static void become_candidate(struct raft *r, bool transfer)
{
	FL_ASSERT(r->state != RAFT_LEADER);
	r->state = RAFT_CANDIDATE;
	r->leader = 0;
	r->n_granted = r->n_refused = 0;
	raft__set_term(r, r->term + 1, r->opt.id);
	raft__reset_election_timer(r);
	record_vote(r, r->opt.id, true);
	send_vote_requests(r, false, transfer);
	check_tally(r);
}

/* Starts a pre-vote round (§9.6) or, without pre-vote or on TimeoutNow, a
 * real election (§5.2). Only voters of our newest configuration campaign. */
void raft__campaign(struct raft *r, bool transfer)
{
	FL_ASSERT(r->state != RAFT_LEADER);
	if (!raft__is_voter(r, r->opt.id)) {
		raft__reset_election_timer(r);
		return;
	}
	if (!r->opt.pre_vote || transfer) {
		become_candidate(r, transfer);
		return;
	}
	r->state = RAFT_PRE_CANDIDATE;
	r->leader = 0; /* a known leader is forgotten (etcd: becomePreCandidate) */
	r->n_granted = r->n_refused = 0;
	raft__reset_election_timer(r);
	record_vote(r, r->opt.id, true);
	send_vote_requests(r, true, false);
	check_tally(r);
}

static void check_tally(struct raft *r)
{
	uint32_t q = raft__quorum(r);
	if (r->n_granted >= q) {
		if (r->state == RAFT_PRE_CANDIDATE)
			become_candidate(r, false);
		else if (r->state == RAFT_CANDIDATE)
			become_leader(r);
	} else if (r->n_refused >= q) {
		raft__become_follower(r, r->term, 0);
	}
}

/* §4.2.3: within the minimum election timeout of hearing from a leader, a
 * server disregards RequestVote. A leader with check-quorum does too: it steps
 * down by itself when it loses its majority. */
static bool in_leader_lease(const struct raft *r, const struct raft_msg *m)
{
	if (m->vote.transfer)
		return false;
	if (r->state == RAFT_LEADER)
		return r->opt.check_quorum;
	return r->now_us < r->last_leader_us + r->opt.election_timeout_us;
}

static bool log_up_to_date(const struct raft *r, const struct raft_msg *m)
{
	uint64_t lt = raft__last_term(r);
	return m->vote.last_term > lt ||
	       (m->vote.last_term == lt && m->vote.last_index >= raft__last_index(r));
}

int raft__step_vote(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->vote.pre;
	/* A server whose configuration does not name it (a joining host that
	 * has learned nothing yet, or one that lost its state and rejoins)
	 * grants nothing: its term and vote may be younger than ones it gave
	 * before, and a vote must never be given twice in a term. A host that
	 * rejoins under its old id waits until the leader has removed the old
	 * voter and named it a learner (opt.rejoining). */
	bool member = raft_config_find(&r->cfg, r->opt.id) >= 0 && (!r->opt.rejoining || r->rejoin_learner_seen);
	bool can = member && ((r->vote == m->from) || (r->vote == 0 && r->leader == 0) || (pre && m->term > r->term));
	bool grant = can && m->term >= r->term && log_up_to_date(r, m) &&
		     (!pre || m->term > r->term || r->vote == m->from);
	if (grant && !pre) {
		raft__set_term(r, r->term, m->from);
		raft__reset_election_timer(r);
	}
	struct raft_msg *o = raft__send(r, RAFT_MSG_VOTE_RESP, m->from,
					pre ? 0 : raft__need_hs(r));
	if (o == NULL)
		return 0;
	o->term = (grant && pre) ? m->term : r->term;
	o->vote_resp.pre = pre;
	o->vote_resp.granted = grant;
	return 0;
}

int raft__step_vote_resp(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->vote_resp.pre;
	/* A pre-vote grant carries the term we would campaign in, a refusal
	 * the voter's own term (a higher one already made us a follower). */
	uint64_t want = (pre && m->vote_resp.granted) ? r->term + 1 : r->term;
	if (pre && (r->state != RAFT_PRE_CANDIDATE || m->term != want))
		return 0;
	if (!pre && (r->state != RAFT_CANDIDATE || m->term != r->term))
		return 0;
	record_vote(r, m->from, m->vote_resp.granted);
	check_tally(r);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

static int step_lower_term(struct raft *r, const struct raft_msg *m)
{
	/* §5.1: answer a stale leader with our term so it steps down. etcd does
	 * so only with check-quorum or pre-vote; we always do, because our
	 * voters always disregard vote requests while they hear a leader
	 * (§4.2.3), so a server that got ahead in term can only rejoin through
	 * the stale leader learning its term. Answer a stale pre-candidate so
	 * it learns it is behind. */
	if (m->type == RAFT_MSG_APPEND) {
		struct raft_msg *o = raft__send(r, RAFT_MSG_APPEND_RESP, m->from, raft__need_hs(r));
		if (o != NULL)
			o->append_resp.last_index = raft__last_index(r);
	} else if (m->type == RAFT_MSG_VOTE && m->vote.pre) {
		struct raft_msg *o = raft__send(r, RAFT_MSG_VOTE_RESP, m->from, 0);
		if (o != NULL)
			o->vote_resp.pre = 1;
	}
	return 0;
}

/* Indexes and terms far beyond any real log: refused, so that no arithmetic
 * on a hostile value (index + 1, a log offset) can wrap. */
#define RAFT_SANE_MAX (1ull << 60)

static bool msg_sane(const struct raft_msg *m)
{
	uint64_t x = m->term;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		x |= m->append.prev_index | m->append.prev_term | m->append.commit;
		break;
	case RAFT_MSG_APPEND_RESP:
		x |= m->append_resp.match_index | m->append_resp.reject_index |
		     m->append_resp.conflict_index | m->append_resp.conflict_term |
		     m->append_resp.last_index;
		break;
	case RAFT_MSG_VOTE:
		x |= m->vote.last_index | m->vote.last_term;
		break;
	case RAFT_MSG_SNAPSHOT:
		x |= m->snapshot.index | m->snapshot.snap_term;
		break;
	default:
		break;
	}
	return x < RAFT_SANE_MAX;
}

static bool msg_valid(const struct raft *r, const struct raft_msg *m)
{
	if (m->to != r->opt.id || m->from == 0 || m->from == r->opt.id || !msg_sane(m))
		return false;
	if (m->type == 0 || m->type >= RAFT_MSG_TYPE_MAX)
		return false;
	if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0 && m->append.entries == NULL)
		return false;
	return true;
}

int raft_step(struct raft *r, uint64_t now_us, const struct raft_msg *m)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(m != NULL);
	FL_ASSERT(now_us >= r->now_us);
	r->now_us = now_us;
	if (!msg_valid(r, m))
		return -FL_EINVAL;
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_VOTE && in_leader_lease(r, m))
			return 0;
		bool keep = (m->type == RAFT_MSG_VOTE && m->vote.pre) ||
			    (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.pre &&
			     m->vote_resp.granted);
		if (!keep) {
			bool from_leader = m->type == RAFT_MSG_APPEND ||
					   m->type == RAFT_MSG_SNAPSHOT ||
					   m->type == RAFT_MSG_TIMEOUT_NOW;
			bool was_follower = r->state == RAFT_FOLLOWER;
			uint64_t deadline_us = r->election_deadline_us;
			raft__become_follower(r, m->term, from_leader ? m->from : 0);
			/* §5.2: only a live leader or a granted vote resets the
			 * timer; a candidate we may refuse (a stale log that keeps
			 * raising the term) must not keep up-to-date servers from
			 * campaigning. */
			if (m->type == RAFT_MSG_VOTE && was_follower)
				r->election_deadline_us = deadline_us;
		}
	} else if (m->term < r->term) {
		return step_lower_term(r, m);
	}
	int rv = 0;
	switch (m->type) {
	case RAFT_MSG_VOTE: rv = raft__step_vote(r, m); break;
	case RAFT_MSG_VOTE_RESP: rv = raft__step_vote_resp(r, m); break;
	case RAFT_MSG_APPEND: rv = raft__step_append(r, m); break;
	case RAFT_MSG_APPEND_RESP: rv = raft__step_append_resp(r, m); break;
	case RAFT_MSG_SNAPSHOT: rv = raft__step_snapshot(r, m); break;
	case RAFT_MSG_TIMEOUT_NOW:
		if (r->state == RAFT_FOLLOWER && m->from == r->leader)
			raft__campaign(r, true);
		break;
	default: rv = -FL_EINVAL;
	}
	raft__check(r);
	return rv;
}

/* ---- time ----------------------------------------------------------------- */

static bool quorum_active(struct raft *r)
{
	uint64_t since = r->now_us - FL_MIN(r->now_us, r->opt.election_timeout_us);
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		const struct raft_server *s = &r->cfg.servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		if (s->id == r->opt.id) {
			n++;
			continue;
		}
		const struct raft_progress *p = raft__progress(r, s->id);
		n += p != NULL && p->last_resp_us >= since;
	}
	return n >= raft__quorum(r);
}

static bool log_store_stalled(const struct raft *r)
{
	return r->fifo_n > 0 &&
	       r->now_us >= r->fifo[r->fifo_head].issued_us + r->opt.election_timeout_us;
}

void raft__tick_leader(struct raft *r)
{
	FL_ASSERT(r->state == RAFT_LEADER);
	uint64_t e = r->opt.election_timeout_us;
	if (r->opt.check_quorum && r->now_us >= r->became_leader_us + e && !quorum_active(r)) {
		fl_info("raft %llu: no live majority for an election timeout, stepping down",
			(unsigned long long)r->opt.id);
		raft__become_follower(r, r->term, 0);
		return;
	}
	if (log_store_stalled(r)) {
		fl_warn("raft %llu: log store made no progress for %llu us, stepping down",
			(unsigned long long)r->opt.id, (unsigned long long)e);
		raft__become_follower(r, r->term, 0);
		return;
	}
	raft__member_tick(r);
	if (r->state == RAFT_LEADER && r->now_us >= r->heartbeat_due_us) {
		r->heartbeat_due_us = r->now_us + r->opt.heartbeat_us;
		raft__broadcast(r, true);
	}
}

int raft_tick(struct raft *r, uint64_t now_us)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(now_us >= r->now_us);
	r->now_us = now_us;
	if (r->state == RAFT_LEADER)
		raft__tick_leader(r);
	else if (now_us >= r->election_deadline_us)
		raft__campaign(r, false);
	raft__check(r);
	return 0;
}
