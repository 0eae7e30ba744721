/* Raft core, terms and elections: §5.1 (terms), §5.2 (leader election),
 * §5.4.1 (election restriction), §9.6 (pre-vote), §6.2 (check-quorum),
 * §4.2.3 (disregarding RequestVote while a leader is heard), and durability
 * of votes before they are sent. Bare cores where one exchange is the point,
 * the fixture where the behaviour is the cluster's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include "raft/fixture.h"
#include "fencelock/error.h"
#include "raft/raft.h"

#define SEC 1000000ull
#define T0 SEC /* boot time of bare cores */

static struct fx_outbox ob;

static struct raft_msg vote_req(uint64_t from, uint64_t to, uint64_t term, bool pre,
				uint64_t last_index, uint64_t last_term)
{
	struct raft_msg m = fx_msg(RAFT_MSG_VOTE, from, to, term);
	m.vote.pre = pre;
	m.vote.last_index = last_index;
	m.vote.last_term = last_term;
	return m;
}

static const struct raft_msg *step_and_find(struct raft *r, uint64_t now, struct raft_msg *m,
					    uint8_t type)
{
	ob.n = 0;
	assert_int_equal(raft_step(r, now, m), 0);
	fx_core_pump(r, &ob, true);
	return fx_outbox_find(&ob, type, m->from);
}

/* ---- cluster level -------------------------------------------------------- */

static void a_three_server_cluster_elects_one_stable_leader(void **state)
{
	(void)state;
	struct fx *c = fx_new(3, 1, NULL);
	uint64_t l = fx_wait_leader(c, 10 * SEC);
	assert_true(l != 0);
	uint64_t term = raft_term(fx_raft(c, l));
	fx_run(c, 10 * SEC);
	assert_int_equal(fx_leader(c), l);
	assert_int_equal(raft_term(fx_raft(c, l)), term);
	fx_free(c);
}

static void a_five_server_cluster_elects_a_leader_within_two_election_timeouts(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct fx *c = fx_new(5, seed, NULL);
		uint64_t start = fx_now(c);
		assert_true(fx_wait_leader(c, 10 * SEC) != 0);
		/* first timeout in [E, 2E), then one pre-vote and one vote round */
		assert_true(fx_now(c) - start < 2 * SEC + 200000);
		fx_free(c);
	}
}

static void a_single_server_elects_itself_and_commits(void **state)
{
	(void)state;
	struct fx *c = fx_new(1, 2, NULL);
	assert_int_equal(fx_wait_leader(c, 5 * SEC), 1);
	assert_true(fx_propose_wait(c, "x", 5 * SEC) > 0);
	fx_free(c);
}

static void a_crashed_leader_is_replaced_and_rejoins_as_follower(void **state)
{
	(void)state;
	struct fx *c = fx_new(3, 3, NULL);
	uint64_t l = fx_wait_leader(c, 10 * SEC);
	assert_true(fx_propose_wait(c, "before", 5 * SEC) > 0);
	fx_crash(c, l);
	uint64_t l2 = fx_wait_leader(c, 10 * SEC);
	assert_true(l2 != 0 && l2 != l);
	fx_restart(c, l);
	fx_run(c, 3 * SEC);
	assert_int_equal(fx_leader(c), l2);
	assert_int_equal(raft_leader(fx_raft(c, l)), l2);
	fx_free(c);
}

/* ---- terms (§5.1) --------------------------------------------------------- */

static void a_leader_seeing_a_higher_term_becomes_follower_of_it(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, 7);
	assert_int_equal(raft_step(r, now, &m), 0);
	assert_int_equal(raft_state(r), RAFT_FOLLOWER);
	assert_int_equal(raft_term(r), 7);
	assert_int_equal(raft_vote(r), 0);
	raft_free(r);
}

/* With every combination of pre-vote and check-quorum: a server ahead in
 * term that was cut off from elections (sweep seed 4703, both off) can only
 * rejoin through the stale leader learning its term. */
static void a_stale_leader_is_answered_with_the_current_term(void **state)
{
	(void)state;
	for (int combo = 0; combo < 4; combo++) {
		struct raft *r = fx_core_new(1, 3, 5, NULL, 0, combo & 1, combo & 2, T0);
		struct raft_msg m = fx_msg(RAFT_MSG_APPEND, 2, 1, 3);
		const struct raft_msg *o = step_and_find(r, T0 + 10, &m, RAFT_MSG_APPEND_RESP);
		assert_non_null(o);
		assert_int_equal(o->term, 5);
		assert_int_equal(o->append_resp.success, 0);
		assert_int_equal(raft_term(r), 5);
		assert_int_equal(raft_leader(r), 0);
		raft_free(r);
	}
}

static void a_term_survives_restart_even_if_only_the_log_recorded_it(void **state)
{
	(void)state;
	struct raft_entry e[2] = {{.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
				  {.term = 4, .index = 2, .type = RAFT_ENTRY_NOOP}};
	struct raft *r = fx_core_new(1, 3, 2, e, 2, true, true, T0);
	assert_int_equal(raft_term(r), 4);
	assert_int_equal(raft_last_index(r), 2);
	raft_free(r);
}

/* ---- votes (§5.2, §5.4.1) ------------------------------------------------- */

static void a_voter_grants_at_most_one_vote_per_term(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	uint64_t now = T0 + 2 * SEC; /* out of the boot-time lease */
	struct raft_msg a = vote_req(2, 1, 2, false, 0, 0), b = vote_req(3, 1, 2, false, 0, 0);
	const struct raft_msg *o = step_and_find(r, now, &a, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	assert_int_equal(o->vote_resp.granted, 1);
	o = step_and_find(r, now, &b, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	assert_int_equal(o->vote_resp.granted, 0);
	assert_int_equal(raft_vote(r), 2);
	/* a repeated request from the same candidate is granted again */
	o = step_and_find(r, now, &a, RAFT_MSG_VOTE_RESP);
	assert_int_equal(o->vote_resp.granted, 1);
	raft_free(r);
}

static void a_candidate_with_an_older_last_term_is_refused(void **state)
{
	(void)state;
	struct raft_entry e[2] = {{.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
				  {.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP}};
	struct raft *r = fx_core_new(1, 3, 2, e, 2, true, true, T0);
	struct raft_msg m = vote_req(2, 1, 3, false, 5, 1); /* longer but older */
	const struct raft_msg *o = step_and_find(r, T0 + 2 * SEC, &m, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	assert_int_equal(o->vote_resp.granted, 0);
	raft_free(r);
}

static void a_candidate_with_a_shorter_log_of_the_same_term_is_refused(void **state)
{
	(void)state;
	struct raft_entry e[2] = {{.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
				  {.term = 1, .index = 2, .type = RAFT_ENTRY_NOOP}};
	struct raft *r = fx_core_new(1, 3, 1, e, 2, true, true, T0);
	struct raft_msg m = vote_req(2, 1, 2, false, 1, 1);
	const struct raft_msg *o = step_and_find(r, T0 + 2 * SEC, &m, RAFT_MSG_VOTE_RESP);
	assert_int_equal(o->vote_resp.granted, 0);
	struct raft_msg ok = vote_req(3, 1, 2, false, 2, 1);
	o = step_and_find(r, T0 + 2 * SEC, &ok, RAFT_MSG_VOTE_RESP);
	assert_int_equal(o->vote_resp.granted, 1);
	raft_free(r);
}

static void a_vote_grant_leaves_only_after_the_vote_is_durable(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg m = vote_req(2, 1, 2, false, 0, 0);
	assert_int_equal(raft_step(r, T0 + 2 * SEC, &m), 0);
	struct raft_update u;
	raft_ready(r, &u);
	assert_true(u.persist.has_hard_state);
	assert_int_equal(u.persist.hard.term, 2);
	assert_int_equal(u.persist.hard.vote, 2);
	assert_int_equal(u.n_msgs, 0); /* held back */
	assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
	raft_ready(r, &u);
	assert_int_equal(u.n_msgs, 1);
	assert_int_equal(u.msgs[0].type, RAFT_MSG_VOTE_RESP);
	assert_int_equal(u.msgs[0].vote_resp.granted, 1);
	raft_free(r);
}

/* A core for id with the configuration servers[0..n) in its bootstrap
 * snapshot and opt.rejoining as given. */
static struct raft *core_with(uint64_t id, const struct raft_server *servers, uint32_t n, bool rejoining)
{
	struct raft_options o;
	raft_options_default(&o, id, 42 + id);
	o.rejoining = rejoining;
	struct raft_boot b;
	memset(&b, 0, sizeof(b));
	b.snapshot.config.n = n;
	for (uint32_t i = 0; i < n; i++)
		b.snapshot.config.servers[i] = servers[i];
	struct raft *r = NULL;
	assert_int_equal(raft_new(&o, &b, T0, &r), 0);
	return r;
}

static bool grants(struct raft *r, bool pre)
{
	struct raft_msg m = vote_req(2, raft_id(r), 2, pre, 0, 0);
	const struct raft_msg *o = step_and_find(r, T0 + 3 * SEC, &m, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	return o->vote_resp.granted;
}

/* A joining server with nothing (no configuration yet) may have voted with
 * a state it lost: it grants no vote, real or pre-vote, with its empty log. */
static void a_server_its_configuration_does_not_name_grants_no_vote(void **state)
{
	(void)state;
	const struct raft_server three[] = {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}};
	struct raft *r = core_with(4, NULL, 0, false);
	assert_false(grants(r, true));
	assert_false(grants(r, false));
	raft_free(r);
	r = core_with(4, three, 3, false);
	assert_false(grants(r, false));
	raft_free(r);
	r = core_with(3, three, 3, false); /* the control: a member grants */
	assert_true(grants(r, false));
	raft_free(r);
}

/* A server rejoining under its old id after losing its state: a
 * configuration naming it as a voter (a stale leader's, from before the
 * removal) is not enough; once one names it a learner (the leader removed
 * the old voter and added it back), it votes. */
static void a_rejoining_server_votes_only_once_named_a_learner(void **state)
{
	(void)state;
	const struct raft_server voter[] = {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}};
	const struct raft_server learner[] = {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_LEARNER}};
	struct raft *r = core_with(3, voter, 3, true);
	assert_false(grants(r, false));
	raft_free(r);
	r = core_with(3, learner, 3, true);
	assert_true(grants(r, false));
	raft_free(r);
}

static void an_acknowledgement_out_of_order_is_refused(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg m = vote_req(2, 1, 2, false, 0, 0);
	assert_int_equal(raft_step(r, T0 + 2 * SEC, &m), 0);
	struct raft_update u;
	raft_ready(r, &u);
	assert_int_equal(raft_persisted(r, u.persist.last_index + 1, u.persist.term), -FL_EINVAL);
	assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
	assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), -FL_EINVAL);
	raft_free(r);
}

/* ---- timeouts ------------------------------------------------------------- */

static uint64_t first_timeout_us(uint64_t id)
{
	struct raft *r = fx_core_new(id, 40, 0, NULL, 0, true, true, T0);
	uint64_t t = T0;
	while (raft_state(r) == RAFT_FOLLOWER) {
		t += 1000;
		assert_int_equal(raft_tick(r, t), 0);
		assert_true(t < T0 + 3 * SEC);
	}
	raft_free(r);
	return t - T0;
}

static void election_timeouts_are_randomized_between_e_and_2e(void **state)
{
	(void)state;
	uint64_t seen[40];
	uint32_t distinct = 0;
	for (uint64_t id = 1; id <= 40; id++) {
		uint64_t t = first_timeout_us(id);
		assert_true(t >= SEC && t <= 2 * SEC);
		bool dup = false;
		for (uint32_t k = 0; k < distinct; k++)
			dup |= seen[k] == t;
		if (!dup)
			seen[distinct++] = t;
	}
	assert_true(distinct >= 30);
}

/* ---- pre-vote (§9.6) ------------------------------------------------------ */

static void a_pre_candidate_keeps_its_term_and_asks_for_the_next(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 4, NULL, 0, true, true, T0);
	assert_int_equal(raft_tick(r, T0 + 2 * SEC + 1), 0);
	ob.n = 0;
	fx_core_pump(r, &ob, true);
	assert_int_equal(raft_state(r), RAFT_PRE_CANDIDATE);
	assert_int_equal(raft_term(r), 4);
	const struct raft_msg *v = fx_outbox_find(&ob, RAFT_MSG_VOTE, 2);
	assert_non_null(v);
	assert_int_equal(v->vote.pre, 1);
	assert_int_equal(v->term, 5);
	raft_free(r);
}

static void a_pre_vote_request_changes_no_term_on_the_voter(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 4, NULL, 0, true, true, T0);
	struct raft_msg m = vote_req(2, 1, 9, true, 0, 0);
	const struct raft_msg *o = step_and_find(r, T0 + 2 * SEC, &m, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	assert_int_equal(o->vote_resp.granted, 1);
	assert_int_equal(o->term, 9); /* the grant carries the asked term */
	assert_int_equal(raft_term(r), 4);
	assert_int_equal(raft_vote(r), 0);
	raft_free(r);
}

static void a_granted_pre_vote_reply_with_the_next_term_is_counted(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 4, NULL, 0, true, true, T0);
	assert_int_equal(raft_tick(r, T0 + 2 * SEC + 1), 0);
	ob.n = 0;
	fx_core_pump(r, &ob, true);
	struct raft_msg g = fx_msg(RAFT_MSG_VOTE_RESP, 2, 1, 5);
	g.vote_resp.pre = 1;
	g.vote_resp.granted = 1;
	assert_int_equal(raft_step(r, T0 + 2 * SEC + 2, &g), 0);
	assert_int_equal(raft_state(r), RAFT_CANDIDATE); /* canonical/raft dropped it */
	assert_int_equal(raft_term(r), 5);
	raft_free(r);
}

static void a_refused_pre_vote_with_a_higher_term_makes_the_pre_candidate_follow(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 4, NULL, 0, true, true, T0);
	assert_int_equal(raft_tick(r, T0 + 2 * SEC + 1), 0);
	fx_core_pump(r, &ob, true);
	struct raft_msg g = fx_msg(RAFT_MSG_VOTE_RESP, 2, 1, 8);
	g.vote_resp.pre = 1;
	assert_int_equal(raft_step(r, T0 + 2 * SEC + 2, &g), 0);
	assert_int_equal(raft_state(r), RAFT_FOLLOWER);
	assert_int_equal(raft_term(r), 8);
	raft_free(r);
}

static void a_known_leader_is_forgotten_on_becoming_pre_candidate(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg hb = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	assert_int_equal(raft_step(r, T0 + 10, &hb), 0);
	assert_int_equal(raft_leader(r), 2);
	assert_int_equal(raft_tick(r, T0 + 3 * SEC), 0);
	assert_int_equal(raft_state(r), RAFT_PRE_CANDIDATE);
	assert_int_equal(raft_leader(r), 0);
	raft_free(r);
}

/* ---- disregarding RequestVote (§4.2.3) ------------------------------------ */

static void a_follower_hearing_its_leader_ignores_vote_and_pre_vote_requests(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg hb = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	uint64_t heard = T0 + 2 * SEC;
	assert_int_equal(raft_step(r, heard, &hb), 0);
	fx_core_pump(r, &ob, true);
	struct raft_msg pv = vote_req(3, 1, 2, true, 0, 0), v = vote_req(3, 1, 2, false, 0, 0);
	assert_null(step_and_find(r, heard + SEC / 2, &pv, RAFT_MSG_VOTE_RESP));
	assert_null(step_and_find(r, heard + SEC / 2, &v, RAFT_MSG_VOTE_RESP));
	assert_int_equal(raft_term(r), 1);
	assert_int_equal(raft_leader(r), 2);
	/* one minimum election timeout later the leader is presumed gone */
	const struct raft_msg *o = step_and_find(r, heard + SEC, &v, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	assert_int_equal(o->vote_resp.granted, 1);
	raft_free(r);
}

static void a_restarted_server_grants_no_vote_for_one_election_timeout(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg v = vote_req(3, 1, 2, false, 0, 0);
	assert_null(step_and_find(r, T0 + SEC - 1, &v, RAFT_MSG_VOTE_RESP));
	assert_non_null(step_and_find(r, T0 + SEC, &v, RAFT_MSG_VOTE_RESP));
	raft_free(r);
}

static void a_vote_request_after_timeout_now_bypasses_the_leader_check(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg hb = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	assert_int_equal(raft_step(r, T0 + 10, &hb), 0);
	struct raft_msg v = vote_req(3, 1, 2, false, 0, 0);
	v.vote.transfer = 1;
	const struct raft_msg *o = step_and_find(r, T0 + 20, &v, RAFT_MSG_VOTE_RESP);
	assert_non_null(o);
	assert_int_equal(o->vote_resp.granted, 1);
	raft_free(r);
}

/* ---- check-quorum (§6.2) -------------------------------------------------- */

static void a_leader_without_answers_for_an_election_timeout_steps_down(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	assert_int_equal(raft_tick(r, now + SEC - 1), 0);
	assert_int_equal(raft_state(r), RAFT_LEADER);
	assert_int_equal(raft_tick(r, now + SEC + 1000), 0);
	assert_int_equal(raft_state(r), RAFT_FOLLOWER);
	raft_free(r);
}

static void a_leader_answered_by_a_majority_stays_leader(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	for (uint64_t t = now; t < now + 5 * SEC; t += 100000) {
		struct raft_msg a = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, raft_term(r));
		a.append_resp.success = 1;
		a.append_resp.match_index = raft_match_index(r, 2);
		assert_int_equal(raft_step(r, t, &a), 0);
		assert_int_equal(raft_tick(r, t), 0);
		fx_core_pump(r, &ob, true);
		ob.n = 0;
	}
	assert_int_equal(raft_state(r), RAFT_LEADER);
	raft_free(r);
}

/* ---- candidacy and the log store ------------------------------------------ */

static void candidacy_while_a_log_write_is_in_flight_waits_for_it(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, false, true, T0);
	struct raft_entry e[3];
	for (int i = 0; i < 3; i++)
		e[i] = (struct raft_entry){.term = 1, .index = (uint64_t)i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft_msg ap = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	ap.append.n_entries = 3;
	ap.append.entries = e;
	assert_int_equal(raft_step(r, T0 + 10, &ap), 0);
	struct raft_update u;
	raft_ready(r, &u); /* the entries go to the log store, which is slow */
	assert_int_equal(u.persist.n_entries, 3);
	uint64_t li1 = u.persist.last_index, t1 = u.persist.term;
	assert_int_equal(raft_tick(r, T0 + 3 * SEC), 0);
	assert_int_equal(raft_state(r), RAFT_CANDIDATE);
	raft_ready(r, &u);
	assert_int_equal(u.persist.hard.term, 2);
	assert_int_equal(u.n_msgs, 0); /* no vote request before both writes land */
	uint64_t li2 = u.persist.last_index, t2 = u.persist.term;
	assert_int_equal(raft_persisted(r, li1, t1), 0);
	raft_ready(r, &u); /* only the old append acknowledgement may leave */
	for (uint32_t i = 0; i < u.n_msgs; i++)
		assert_int_not_equal(u.msgs[i].type, RAFT_MSG_VOTE);
	assert_int_equal(raft_persisted(r, li2, t2), 0);
	raft_ready(r, &u);
	assert_int_equal(u.n_msgs, 2);
	assert_int_equal(u.msgs[0].type, RAFT_MSG_VOTE);
	assert_int_equal(u.msgs[0].vote.last_index, 3);
	assert_int_equal(u.msgs[0].vote.last_term, 1);
	raft_free(r);
}

static void split_votes_among_pre_candidates_resolve_to_one_leader(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		struct fx *c = fx_new(5, 100 + seed, NULL);
		uint64_t l = fx_wait_leader(c, 10 * SEC);
		uint64_t term = raft_term(fx_raft(c, l));
		fx_crash(c, l);
		/* the four others split 2-2: every pre-vote round fails */
		uint64_t mask = 0;
		int k = 0;
		for (uint64_t id = 1; id <= 5; id++)
			if (id != l && k++ < 2)
				mask |= 1ull << id;
		fx_partition(c, mask);
		fx_run(c, 6 * SEC);
		assert_int_equal(fx_leader(c), 0);
		for (uint64_t id = 1; id <= 5; id++)
			if (id != l)
				assert_int_equal(raft_term(fx_raft(c, id)), term); /* no inflation */
		fx_heal(c);
		assert_true(fx_wait_leader(c, 5 * SEC) != 0);
		fx_free(c);
	}
}

/* §5.2: the election timer restarts on a granted vote or a live leader, not
 * on a refused candidate whose higher term we adopt; otherwise a stale server
 * that keeps campaigning holds every up-to-date one back (sweep seed 627). */
static void a_refused_candidate_does_not_restart_the_election_timer(void **state)
{
	(void)state;
	struct raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP};
	for (uint64_t id = 1; id <= 40; id++) {
		struct raft *a = fx_core_new(id, 40, 1, &e, 1, false, false, T0);
		uint64_t t = T0;
		while (raft_state(a) == RAFT_FOLLOWER)
			assert_int_equal(raft_tick(a, t += 1000), 0);
		raft_free(a);
		if (t < T0 + SEC * 3 / 2)
			continue; /* want room between the boot lease and the timeout */
		struct raft *b = fx_core_new(id, 40, 1, &e, 1, false, false, T0);
		uint64_t cand = id % 40 + 1;
		struct raft_msg v = vote_req(cand, id, 9, false, 0, 0); /* stale log */
		const struct raft_msg *o = step_and_find(b, T0 + SEC + (t - T0 - SEC) / 2, &v,
							 RAFT_MSG_VOTE_RESP);
		assert_non_null(o);
		assert_int_equal(o->vote_resp.granted, 0);
		assert_int_equal(raft_term(b), 9);
		assert_int_equal(raft_tick(b, t), 0);
		assert_int_equal(raft_state(b), RAFT_CANDIDATE); /* on its old schedule */
		raft_free(b);
		return;
	}
	fail_msg("no server with a late enough first timeout");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_three_server_cluster_elects_one_stable_leader),
		cmocka_unit_test(a_five_server_cluster_elects_a_leader_within_two_election_timeouts),
		cmocka_unit_test(a_single_server_elects_itself_and_commits),
		cmocka_unit_test(a_crashed_leader_is_replaced_and_rejoins_as_follower),
		cmocka_unit_test(a_leader_seeing_a_higher_term_becomes_follower_of_it),
		cmocka_unit_test(a_stale_leader_is_answered_with_the_current_term),
		cmocka_unit_test(a_term_survives_restart_even_if_only_the_log_recorded_it),
		cmocka_unit_test(a_voter_grants_at_most_one_vote_per_term),
		cmocka_unit_test(a_candidate_with_an_older_last_term_is_refused),
		cmocka_unit_test(a_candidate_with_a_shorter_log_of_the_same_term_is_refused),
		cmocka_unit_test(a_vote_grant_leaves_only_after_the_vote_is_durable),
		cmocka_unit_test(a_server_its_configuration_does_not_name_grants_no_vote),
		cmocka_unit_test(a_rejoining_server_votes_only_once_named_a_learner),
		cmocka_unit_test(an_acknowledgement_out_of_order_is_refused),
		cmocka_unit_test(election_timeouts_are_randomized_between_e_and_2e),
		cmocka_unit_test(a_refused_candidate_does_not_restart_the_election_timer),
		cmocka_unit_test(a_pre_candidate_keeps_its_term_and_asks_for_the_next),
		cmocka_unit_test(a_pre_vote_request_changes_no_term_on_the_voter),
		cmocka_unit_test(a_granted_pre_vote_reply_with_the_next_term_is_counted),
		cmocka_unit_test(a_refused_pre_vote_with_a_higher_term_makes_the_pre_candidate_follow),
		cmocka_unit_test(a_known_leader_is_forgotten_on_becoming_pre_candidate),
		cmocka_unit_test(a_follower_hearing_its_leader_ignores_vote_and_pre_vote_requests),
		cmocka_unit_test(a_restarted_server_grants_no_vote_for_one_election_timeout),
		cmocka_unit_test(a_vote_request_after_timeout_now_bypasses_the_leader_check),
		cmocka_unit_test(a_leader_without_answers_for_an_election_timeout_steps_down),
		cmocka_unit_test(a_leader_answered_by_a_majority_stays_leader),
		cmocka_unit_test(candidacy_while_a_log_write_is_in_flight_waits_for_it),
		cmocka_unit_test(split_votes_among_pre_candidates_resolve_to_one_leader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
