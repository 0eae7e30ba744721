/* Raft core, leadership transfer (thesis §3.10) and the leader lease used by
 * fencelock's arbiter (§6.4.1): a lease that holds only while a majority
 * acknowledged heartbeats sent within the last E * (1 - 2 * drift) - margin,
 * that ends the moment a transfer starts, and that no other leader can
 * overlap (the fixture checks this after every step of every test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/raft.h"

#define SEC 1000000ull
#define T0 SEC

static struct fx_outbox ob;

static struct fx *cluster(uint32_t n, uint64_t seed, uint64_t *leader)
{
	struct fx *c = fx_new(n, seed, NULL);
	*leader = fx_wait_leader(c, 10 * SEC);
	assert_true(*leader != 0);
	assert_true(fx_propose_wait(c, "warm-up", 5 * SEC) > 0);
	return c;
}

static void heartbeat_ack(struct raft *r, uint64_t now, uint64_t from, uint64_t sent_us)
{
	struct raft_msg a = fx_msg(RAFT_MSG_APPEND_RESP, from, 1, raft_term(r));
	a.append_resp.success = 1;
	a.append_resp.match_index = raft_match_index(r, from);
	a.append_resp.lease_ctx = sent_us;
	assert_int_equal(raft_step(r, now, &a), 0);
}

/* ---- transfer ------------------------------------------------------------- */

static void leadership_transfer_with_pre_vote_and_check_quorum_elects_the_target(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 61, &l);
	uint64_t target = l % 5 + 1;
	uint64_t start = fx_now(c);
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), target), 0);
	fx_drain(c, l);
	while (fx_leader(c) != target) {
		fx_step(c);
		assert_true(fx_now(c) - start < SEC / 2); /* well before any timeout */
	}
	assert_true(fx_propose_wait(c, "under the new leader", 5 * SEC) > 0);
	fx_free(c);
}

static void a_transfer_to_a_lagging_target_first_brings_it_up_to_date(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 62, &l);
	uint64_t target = l % 3 + 1;
	fx_isolate(c, target, FX_BOTH);
	uint64_t idx = 0;
	for (int i = 0; i < 10; i++)
		idx = fx_propose_wait(c, "lag", 5 * SEC);
	fx_heal(c);
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), target), 0);
	fx_drain(c, l);
	fx_run(c, SEC / 2);
	assert_int_equal(fx_leader(c), target);
	assert_true(raft_last_index(fx_raft(c, target)) > idx);
	fx_free(c);
}

static void a_leader_refuses_proposals_while_transferring(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 63, &l);
	uint64_t target = l % 3 + 1;
	fx_isolate(c, target, FX_BOTH); /* the transfer cannot finish */
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), target), 0);
	assert_int_equal(fx_propose(c, l, "no", NULL), -FL_EBUSY);
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), target), -FL_EBUSY);
	fx_free(c);
}

static void a_transfer_to_an_unreachable_lagging_target_is_abandoned(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 64, &l);
	uint64_t target = l % 5 + 1;
	fx_isolate(c, target, FX_BOTH);
	assert_true(fx_propose_wait(c, "target lags", 5 * SEC) > 0);
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), target), 0);
	fx_drain(c, l);
	fx_run(c, SEC + 100000); /* TimeoutNow never sent: keep leading */
	assert_int_equal(fx_leader(c), l);
	assert_int_equal(fx_propose(c, l, "again", NULL), 0);
	fx_run(c, 300000);
	assert_true(raft_leader_lease_valid(fx_raft(c, l), fx_now(c)));
	fx_free(c);
}

static void a_leader_whose_timeout_now_was_lost_steps_down(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 68, &l);
	uint64_t target = l % 5 + 1;
	fx_cut(c, l, target); /* caught up, but TimeoutNow is lost */
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), target), 0);
	fx_drain(c, l);
	fx_run(c, SEC + 100000);
	assert_int_not_equal(raft_state(fx_raft(c, l)), RAFT_LEADER);
	fx_heal(c);
	assert_true(fx_propose_wait(c, "re-elected", 10 * SEC) > 0);
	fx_free(c);
}

static void a_transfer_to_a_non_voter_or_to_itself_is_refused(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 65, &l);
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), l), -FL_EINVAL);
	assert_int_equal(raft_transfer(fx_raft(c, l), fx_now(c), 9), -FL_EINVAL);
	assert_int_equal(raft_transfer(fx_raft(c, l % 3 + 1), fx_now(c), l), -FL_ENOTLEADER);
	fx_free(c);
}

/* ---- the lease ------------------------------------------------------------ */

static void the_lease_holds_with_a_majority_of_recent_acknowledgements(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	assert_false(raft_leader_lease_valid(r, now)); /* nobody answered yet */
	heartbeat_ack(r, now + 5000, 2, now);
	assert_true(raft_leader_lease_valid(r, now + 5000));
	raft_free(r);
}

/* The quorum view's round trip: from the send time an answer echoes,
 * smoothed by 1/8; an older echo than one already seen changes nothing. */
static void the_round_trip_comes_from_the_echoed_send_time(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	assert_int_equal(raft_rtt_us(r, 2), 0);
	heartbeat_ack(r, now + 5000, 2, now);
	assert_int_equal(raft_rtt_us(r, 2), 5000);
	heartbeat_ack(r, now + 13000, 2, now + 10000);
	assert_int_equal(raft_rtt_us(r, 2), (7u * 5000u + 3000u) / 8u);
	heartbeat_ack(r, now + 20000, 2, now + 1000); /* a late answer to an older send */
	assert_int_equal(raft_rtt_us(r, 2), (7u * 5000u + 3000u) / 8u);
	assert_int_equal(raft_rtt_us(r, 3), 0);
	assert_int_equal(raft_rtt_us(r, 1), 0); /* itself */
	raft_free(r);
}

static void the_lease_runs_from_the_send_time_not_the_answer_time(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	heartbeat_ack(r, now + 400000, 2, now); /* a slow answer */
	/* lease = 1 s - 2 ms (1000 ppm both ways) - 50 ms margin = 948 ms */
	assert_true(raft_leader_lease_valid(r, now + 947999));
	assert_false(raft_leader_lease_valid(r, now + 948000));
	raft_free(r);
}

static void the_lease_is_shorter_than_the_minimum_election_timeout(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	heartbeat_ack(r, now, 2, now);
	assert_false(raft_leader_lease_valid(r, now + SEC)); /* E: a rival may exist */
	raft_free(r);
}

static void the_lease_ends_as_soon_as_a_transfer_starts(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	heartbeat_ack(r, now, 2, now);
	assert_true(raft_leader_lease_valid(r, now));
	assert_int_equal(raft_transfer(r, now, 3), 0);
	assert_false(raft_leader_lease_valid(r, now));
	raft_free(r);
}

static void acknowledgements_from_a_learner_do_not_keep_the_lease(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 67, &l);
	uint64_t s = fx_add_server(c);
	assert_int_equal(raft_add(fx_raft(c, l), fx_now(c), s), 0);
	fx_drain(c, l);
	fx_run(c, SEC);
	assert_true(raft_leader_lease_valid(fx_raft(c, l), fx_now(c)));
	fx_partition(c, (1ull << l) | (1ull << s)); /* only the learner answers */
	fx_run(c, 960000);
	assert_false(raft_leader_lease_valid(fx_raft(c, l), fx_now(c)));
	fx_free(c);
}

static void a_follower_never_holds_the_lease(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 66, &l);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(raft_leader_lease_valid(fx_raft(c, id), fx_now(c)), id == l);
	fx_free(c);
}

/* The lease against a voter that just lost its leader: L holds its lease
 * through B's acknowledgements; then L can no longer reach B, and C, which
 * has been campaigning in isolation, reaches B. B must not vote before E has
 * passed since it last heard L, by which time L's lease is over. The fixture
 * fails the step at which a leader of a later term coexists with a valid
 * lease. */
static void a_voter_that_just_lost_its_leader_waits_out_the_lease(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		uint64_t l;
		struct fx *c = cluster(3, 700 + seed, &l);
		uint64_t b = l % 3 + 1, x = b % 3 + 1;
		fx_isolate(c, x, FX_BOTH);
		fx_run(c, 3 * SEC + seed * 37000); /* x campaigns alone, out of phase */
		fx_heal(c);
		fx_cut(c, l, b); /* b's answers still reach l: l keeps its lease */
		fx_cut(c, l, x);
		fx_cut(c, x, l);
		uint64_t end = fx_now(c) + 4 * SEC;
		while (fx_now(c) < end && fx_leader(c) == l)
			fx_step(c);
		fx_run(c, 2 * SEC);
		assert_int_not_equal(fx_leader(c), 0);
		fx_free(c);
	}
}

/* The same with a voter that crashes and restarts at once: it forgot when
 * it last heard L, so it counts its start-up as such. */
static void a_restarted_voter_waits_out_the_lease(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		uint64_t l;
		struct fx *c = cluster(3, 800 + seed, &l);
		uint64_t b = l % 3 + 1, x = b % 3 + 1;
		fx_isolate(c, x, FX_BOTH);
		fx_run(c, 3 * SEC + seed * 37000);
		fx_heal(c);
		fx_cut(c, l, x);
		fx_cut(c, x, l);
		fx_cut(c, l, b);
		fx_crash(c, b);
		fx_restart(c, b);
		uint64_t end = fx_now(c) + 4 * SEC;
		while (fx_now(c) < end && fx_leader(c) == l)
			fx_step(c);
		fx_run(c, 2 * SEC);
		assert_int_not_equal(fx_leader(c), 0);
		fx_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leadership_transfer_with_pre_vote_and_check_quorum_elects_the_target),
		cmocka_unit_test(a_transfer_to_a_lagging_target_first_brings_it_up_to_date),
		cmocka_unit_test(a_leader_refuses_proposals_while_transferring),
		cmocka_unit_test(a_transfer_to_an_unreachable_lagging_target_is_abandoned),
		cmocka_unit_test(a_leader_whose_timeout_now_was_lost_steps_down),
		cmocka_unit_test(a_transfer_to_a_non_voter_or_to_itself_is_refused),
		cmocka_unit_test(the_lease_holds_with_a_majority_of_recent_acknowledgements),
		cmocka_unit_test(the_round_trip_comes_from_the_echoed_send_time),
		cmocka_unit_test(the_lease_runs_from_the_send_time_not_the_answer_time),
		cmocka_unit_test(the_lease_is_shorter_than_the_minimum_election_timeout),
		cmocka_unit_test(the_lease_ends_as_soon_as_a_transfer_starts),
		cmocka_unit_test(acknowledgements_from_a_learner_do_not_keep_the_lease),
		cmocka_unit_test(a_follower_never_holds_the_lease),
		cmocka_unit_test(a_voter_that_just_lost_its_leader_waits_out_the_lease),
		cmocka_unit_test(a_restarted_voter_waits_out_the_lease),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
