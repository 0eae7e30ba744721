/* Raft core under network partitions, each scenario a named test, all with
 * pre-vote and check-quorum on (as fencelock runs it) unless the name says
 * otherwise. The fixture checks the safety properties after every step; these
 * tests state what must happen for liveness and stability: who leads, whether
 * terms move, whether writes commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/raft.h"

#define SEC 1000000ull

static struct fx *cluster(uint32_t n, uint64_t seed, uint64_t *leader)
{
	struct fx *c = fx_new(n, seed, NULL);
	*leader = fx_wait_leader(c, 10 * SEC);
	assert_true(*leader != 0);
	assert_true(fx_propose_wait(c, "warm-up", 5 * SEC) > 0);
	return c;
}

static uint64_t other_than(uint64_t a, uint64_t b, uint32_t n)
{
	for (uint64_t id = 1; id <= n; id++)
		if (id != a && id != b)
			return id;
	return 0;
}

/* Runs for us and asserts that leader and its term never change. */
static void assert_stable(struct fx *c, uint64_t leader, uint64_t us)
{
	uint64_t term = raft_term(fx_raft(c, leader));
	uint64_t end = fx_now(c) + us;
	while (fx_now(c) < end) {
		fx_step(c);
		assert_int_equal(raft_state(fx_raft(c, leader)), RAFT_LEADER);
		assert_int_equal(raft_term(fx_raft(c, leader)), term);
	}
}

/* ---- the leader isolated -------------------------------------------------- */

static void leader_isolated_both_ways_is_replaced_and_steps_down(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 21, &l);
	fx_isolate(c, l, FX_BOTH);
	fx_run(c, SEC + 200000); /* check-quorum: one election timeout */
	assert_int_not_equal(raft_state(fx_raft(c, l)), RAFT_LEADER);
	uint64_t l2 = fx_wait_leader(c, 5 * SEC);
	assert_true(l2 != 0 && l2 != l);
	assert_true(fx_propose_wait(c, "majority side", 5 * SEC) > 0);
	fx_heal(c);
	fx_run(c, 3 * SEC);
	assert_int_equal(raft_leader(fx_raft(c, l)), fx_leader(c));
	fx_free(c);
}

static void leader_that_can_only_send_steps_down_and_is_replaced(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 22, &l);
	fx_isolate(c, l, FX_IN); /* its heartbeats go out, no answer comes back */
	fx_run(c, SEC + 200000);
	assert_int_not_equal(raft_state(fx_raft(c, l)), RAFT_LEADER);
	uint64_t l2 = fx_wait_leader(c, 5 * SEC);
	assert_true(l2 != 0 && l2 != l);
	assert_true(fx_propose_wait(c, "majority side", 5 * SEC) > 0);
	/* the old leader keeps calling pre-votes nobody grants: no disruption */
	assert_stable(c, l2, 10 * SEC);
	fx_free(c);
}

static void leader_that_can_only_receive_is_replaced_and_follows(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 23, &l);
	fx_isolate(c, l, FX_OUT);
	uint64_t l2 = 0;
	for (int i = 0; i < 100 && (l2 == 0 || l2 == l); i++) {
		fx_run(c, 100000);
		l2 = fx_leader(c);
	}
	assert_true(l2 != 0 && l2 != l);
	fx_run(c, SEC);
	assert_int_equal(raft_state(fx_raft(c, l)), RAFT_FOLLOWER);
	assert_int_equal(raft_leader(fx_raft(c, l)), l2);
	fx_free(c);
}

static void pre_vote_with_check_quorum_still_elects_when_the_leader_is_isolated(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		uint64_t l;
		struct fx *c = cluster(3, 300 + seed, &l);
		uint64_t start = fx_now(c);
		fx_isolate(c, l, FX_BOTH);
		uint64_t l2 = 0;
		while ((l2 = fx_leader(c)) == l || l2 == 0) {
			fx_step(c);
			assert_true(fx_now(c) - start < 4 * SEC);
		}
		fx_free(c);
	}
}

static void a_minority_leader_never_confirms_its_lease_or_commits(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 24, &l);
	uint64_t buddy = other_than(l, 0, 5);
	uint64_t mask = (1ull << l) | (1ull << buddy);
	assert_true(raft_leader_lease_valid(fx_raft(c, l), fx_now(c)));
	fx_partition(c, mask);
	uint64_t idx = 0;
	assert_int_equal(fx_propose(c, l, "minority", &idx), 0);
	uint64_t commit = raft_commit_index(fx_raft(c, l));
	uint64_t end = fx_now(c) + SEC;
	while (fx_now(c) < end && raft_state(fx_raft(c, l)) == RAFT_LEADER) {
		fx_step(c);
		assert_true(raft_commit_index(fx_raft(c, l)) < idx);
		/* lease = E - 2 * drift * E - margin = 1 s - 2 ms - 50 ms */
		if (fx_now(c) >= end - SEC + 950000)
			assert_false(raft_leader_lease_valid(fx_raft(c, l), fx_now(c)));
	}
	assert_int_equal(raft_commit_index(fx_raft(c, l)), commit);
	uint64_t l2 = fx_wait_leader(c, 5 * SEC);
	assert_true(l2 != l && l2 != buddy);
	fx_run(c, 300000); /* answers to its first heartbeats */
	assert_true(raft_leader_lease_valid(fx_raft(c, l2), fx_now(c)));
	fx_free(c);
}

/* ---- a follower isolated -------------------------------------------------- */

static void follower_isolated_both_ways_does_not_disrupt_the_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 25, &l);
	uint64_t f = other_than(l, 0, 3);
	fx_isolate(c, f, FX_BOTH);
	assert_stable(c, l, 10 * SEC);
	fx_heal(c);
	assert_stable(c, l, 5 * SEC);
	assert_int_equal(raft_leader(fx_raft(c, f)), l);
	fx_free(c);
}

static void follower_that_can_only_send_does_not_disrupt_the_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 26, &l);
	uint64_t f = other_than(l, 0, 3);
	fx_isolate(c, f, FX_IN); /* it hears nothing, its pre-votes go out */
	assert_stable(c, l, 10 * SEC);
	fx_heal(c);
	assert_stable(c, l, 5 * SEC);
	fx_free(c);
}

static void follower_that_can_only_receive_does_not_disrupt_the_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 27, &l);
	uint64_t f = other_than(l, 0, 3);
	fx_isolate(c, f, FX_OUT);
	assert_stable(c, l, 10 * SEC);
	assert_true(fx_propose_wait(c, "still", 5 * SEC) > 0);
	fx_heal(c);
	assert_stable(c, l, 5 * SEC);
	fx_free(c);
}

static void an_isolated_follower_with_pre_vote_keeps_its_term(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 28, &l);
	uint64_t f = other_than(l, 0, 3);
	uint64_t term = raft_term(fx_raft(c, f));
	fx_isolate(c, f, FX_BOTH);
	fx_run(c, 20 * SEC);
	assert_int_equal(raft_term(fx_raft(c, f)), term);
	assert_int_equal(raft_state(fx_raft(c, f)), RAFT_PRE_CANDIDATE);
	fx_free(c);
}

static void an_isolated_follower_rejoining_with_an_inflated_term_settles_once(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 29, &l);
	uint64_t f = other_than(l, 0, 3);
	fx_isolate(c, f, FX_BOTH);
	uint64_t idx = fx_propose_wait(c, "while away", 5 * SEC);
	assert_true(idx > 0);
	fx_inflate_term(c, f, 50); /* e.g. it ran without pre-vote */
	fx_heal(c);
	uint64_t l2 = fx_wait_leader(c, 10 * SEC);
	assert_true(l2 != 0);
	assert_int_not_equal(l2, f); /* its log lacks "while away" */
	assert_true(raft_term(fx_raft(c, l2)) > 50);
	assert_true(fx_wait_applied(c, f, idx, 5 * SEC));
	assert_stable(c, l2, 10 * SEC);
	fx_free(c);
}

/* ---- partial connectivity ------------------------------------------------- */

/* Cloudflare, November 2020: one node cut from the leader keeps calling
 * elections while another still hears the leader and votes. With pre-vote
 * and check-quorum the cut node never gets a vote and the leader stays. */
static void partial_connectivity_keeps_a_stable_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 30, &l);
	uint64_t b = other_than(l, 0, 3);
	fx_cut(c, l, b);
	fx_cut(c, b, l);
	assert_stable(c, l, 30 * SEC);
	assert_true(fx_propose_wait(c, "through the middle", 5 * SEC) > 0);
	fx_free(c);
}

static void partial_connectivity_in_five_keeps_a_stable_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 31, &l);
	uint64_t a = other_than(l, 0, 5), b = other_than(l, a, 5);
	fx_cut(c, l, a);
	fx_cut(c, a, l);
	fx_cut(c, l, b);
	fx_cut(c, b, l);
	assert_stable(c, l, 30 * SEC); /* l still reaches two others: 3 of 5 */
	fx_free(c);
}

/* ---- rejoining, flapping, slow votes -------------------------------------- */

static void a_stale_node_rejoining_as_the_leader_dies_is_not_elected(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		uint64_t l;
		struct fx *c = cluster(5, 400 + seed, &l);
		uint64_t s = other_than(l, 0, 5);
		fx_isolate(c, s, FX_BOTH);
		uint64_t idx = 0;
		for (int i = 0; i < 5; i++)
			idx = fx_propose_wait(c, "progress", 5 * SEC);
		assert_true(idx > 0);
		fx_heal(c);
		fx_crash(c, l);
		uint64_t l2 = fx_wait_leader(c, 10 * SEC);
		assert_true(l2 != 0 && l2 != s && l2 != l);
		assert_true(raft_last_index(fx_raft(c, l2)) >= idx);
		assert_true(fx_wait_applied(c, s, idx, 5 * SEC));
		fx_free(c);
	}
}

static void flapping_links_leave_a_stable_leader_once_they_settle(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 32, &l);
	for (int i = 0; i < 60; i++) {
		uint64_t a = 1 + (uint64_t)(i % 5), b = 1 + (uint64_t)((i * 3 + 1) % 5);
		if (a != b) {
			fx_cut(c, a, b);
			fx_cut(c, b, a);
		}
		fx_run(c, 150000);
		fx_heal(c);
		fx_run(c, 150000);
	}
	uint64_t l2 = fx_wait_leader(c, 5 * SEC);
	assert_true(l2 != 0);
	assert_stable(c, l2, 10 * SEC);
	assert_true(fx_propose_wait(c, "settled", 5 * SEC) > 0);
	fx_free(c);
}

static void slow_vote_send_and_receive_still_elect_a_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 33, &l);
	for (uint64_t id = 1; id <= 5; id++)
		if (id != l)
			fx_slow_votes(c, id, id % 2 ? 300000 : 0, id % 2 ? 0 : 300000);
	fx_crash(c, l);
	uint64_t l2 = fx_wait_leader(c, 15 * SEC);
	assert_true(l2 != 0);
	assert_true(fx_propose_wait(c, "slow", 5 * SEC) > 0);
	fx_free(c);
}

static void repeated_leader_partitions_under_a_write_load_lose_no_acknowledged_write(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 34, &l);
	uint64_t acked[64];
	uint32_t n_acked = 0;
	char t[32];
	for (int round = 0; round < 8; round++) {
		for (int k = 0; k < 4; k++) {
			snprintf(t, sizeof(t), "w%d.%d", round, k);
			uint64_t idx = fx_propose_wait(c, t, 10 * SEC);
			assert_true(idx > 0);
			acked[n_acked++] = idx;
		}
		l = fx_leader(c);
		fx_isolate(c, l, FX_BOTH);
		(void)fx_propose(c, l, "lost?", NULL); /* may or may not survive */
		uint64_t l2 = 0;
		for (int i = 0; i < 100 && ((l2 = fx_leader(c)) == l || l2 == 0); i++)
			fx_run(c, 100000);
		assert_true(l2 != 0 && l2 != l);
		fx_heal(c);
	}
	uint64_t last = fx_propose_wait(c, "end", 10 * SEC);
	assert_true(last > 0);
	/* every server applied past every acknowledged index, and the fixture's
	 * state-machine check proved those are the same entries everywhere */
	for (uint64_t id = 1; id <= 5; id++) {
		assert_true(fx_wait_applied(c, id, last, 5 * SEC));
		for (uint32_t i = 0; i < n_acked; i++)
			assert_true(fx_applied(c, id) >= acked[i]);
	}
	fx_free(c);
}

static void a_three_way_split_without_a_majority_commits_nothing_and_heals(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(5, 37, &l);
	uint8_t group[6] = {0, 1, 1, 2, 2, 3};
	fx_run(c, SEC); /* every commit index caught up */
	fx_split(c, group);
	uint64_t commit[6];
	for (uint64_t id = 1; id <= 5; id++)
		commit[id] = raft_commit_index(fx_raft(c, id));
	uint64_t end = fx_now(c) + 10 * SEC;
	while (fx_now(c) < end) {
		uint64_t x = fx_leader(c);
		if (x != 0)
			(void)fx_propose(c, x, "split", NULL);
		fx_run(c, 100000);
	}
	for (uint64_t id = 1; id <= 5; id++) {
		assert_int_equal(raft_commit_index(fx_raft(c, id)), commit[id]);
		assert_int_not_equal(raft_state(fx_raft(c, id)), RAFT_LEADER);
	}
	fx_heal(c);
	assert_true(fx_propose_wait(c, "whole again", 10 * SEC) > 0);
	fx_free(c);
}

static void a_hung_log_store_on_the_leader_leads_to_a_new_leader(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 35, &l);
	fx_disk_hang(c, l, true);
	(void)fx_propose(c, l, "stuck", NULL);
	fx_run(c, SEC + 100000);
	assert_int_not_equal(raft_state(fx_raft(c, l)), RAFT_LEADER);
	uint64_t l2 = fx_wait_leader(c, 5 * SEC);
	assert_true(l2 != 0 && l2 != l);
	assert_true(fx_propose_wait(c, "moving on", 5 * SEC) > 0);
	/* the hung server can never get elected: its vote requests wait for the disk */
	assert_stable(c, l2, 5 * SEC);
	fx_disk_hang(c, l, false);
	fx_run(c, 2 * SEC);
	assert_int_equal(raft_leader(fx_raft(c, l)), l2);
	fx_free(c);
}

static void a_hung_log_store_on_a_follower_does_not_stop_commits(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 36, &l);
	fx_disk_hang(c, other_than(l, 0, 3), true);
	for (int i = 0; i < 5; i++)
		assert_true(fx_propose_wait(c, "w", 5 * SEC) > 0);
	assert_stable(c, l, 5 * SEC);
	fx_free(c);
}

/* ---- every combination of pre-vote and check-quorum ---------------------- */

static struct fx *cluster_with(uint32_t n, uint64_t seed, bool pv, bool cq, uint64_t *leader)
{
	struct fx_opts o;
	fx_opts_default(&o);
	o.pre_vote = pv;
	o.check_quorum = cq;
	struct fx *c = fx_new(n, seed, &o);
	*leader = fx_wait_leader(c, 10 * SEC);
	assert_true(*leader != 0);
	return c;
}

static void every_combination_of_pre_vote_and_check_quorum_replaces_an_isolated_leader(void **state)
{
	(void)state;
	for (int combo = 0; combo < 4; combo++) {
		uint64_t l;
		struct fx *c = cluster_with(5, 500 + (uint64_t)combo, combo & 1, combo & 2, &l);
		fx_isolate(c, l, FX_BOTH);
		uint64_t l2 = 0;
		for (int i = 0; i < 60 && ((l2 = fx_leader(c)) == l || l2 == 0); i++)
			fx_run(c, 100000);
		assert_true(l2 != 0 && l2 != l);
		assert_true(fx_propose_wait(c, "majority", 5 * SEC) > 0);
		fx_heal(c);
		uint64_t idx = fx_propose_wait(c, "healed", 10 * SEC);
		assert_true(idx > 0);
		for (uint64_t id = 1; id <= 5; id++)
			assert_true(fx_wait_applied(c, id, idx, 5 * SEC));
		fx_free(c);
	}
}

static void every_combination_survives_a_follower_that_can_only_send(void **state)
{
	(void)state;
	for (int combo = 0; combo < 4; combo++) {
		uint64_t l;
		struct fx *c = cluster_with(3, 510 + (uint64_t)combo, combo & 1, combo & 2, &l);
		fx_isolate(c, other_than(l, 0, 3), FX_IN);
		fx_run(c, 5 * SEC);
		fx_heal(c);
		assert_true(fx_propose_wait(c, "ok", 10 * SEC) > 0);
		fx_free(c);
	}
}

static void without_pre_vote_an_isolated_follower_inflates_its_term(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster_with(3, 520, false, true, &l);
	uint64_t f = other_than(l, 0, 3);
	uint64_t term = raft_term(fx_raft(c, f));
	fx_isolate(c, f, FX_BOTH);
	fx_run(c, 10 * SEC);
	assert_true(raft_term(fx_raft(c, f)) > term + 2); /* what pre-vote prevents */
	fx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leader_isolated_both_ways_is_replaced_and_steps_down),
		cmocka_unit_test(leader_that_can_only_send_steps_down_and_is_replaced),
		cmocka_unit_test(leader_that_can_only_receive_is_replaced_and_follows),
		cmocka_unit_test(pre_vote_with_check_quorum_still_elects_when_the_leader_is_isolated),
		cmocka_unit_test(a_minority_leader_never_confirms_its_lease_or_commits),
		cmocka_unit_test(follower_isolated_both_ways_does_not_disrupt_the_leader),
		cmocka_unit_test(follower_that_can_only_send_does_not_disrupt_the_leader),
		cmocka_unit_test(follower_that_can_only_receive_does_not_disrupt_the_leader),
		cmocka_unit_test(an_isolated_follower_with_pre_vote_keeps_its_term),
		cmocka_unit_test(an_isolated_follower_rejoining_with_an_inflated_term_settles_once),
		cmocka_unit_test(partial_connectivity_keeps_a_stable_leader),
		cmocka_unit_test(partial_connectivity_in_five_keeps_a_stable_leader),
		cmocka_unit_test(a_stale_node_rejoining_as_the_leader_dies_is_not_elected),
		cmocka_unit_test(flapping_links_leave_a_stable_leader_once_they_settle),
		cmocka_unit_test(slow_vote_send_and_receive_still_elect_a_leader),
		cmocka_unit_test(repeated_leader_partitions_under_a_write_load_lose_no_acknowledged_write),
		cmocka_unit_test(a_three_way_split_without_a_majority_commits_nothing_and_heals),
		cmocka_unit_test(a_hung_log_store_on_the_leader_leads_to_a_new_leader),
		cmocka_unit_test(a_hung_log_store_on_a_follower_does_not_stop_commits),
		cmocka_unit_test(every_combination_of_pre_vote_and_check_quorum_replaces_an_isolated_leader),
		cmocka_unit_test(every_combination_survives_a_follower_that_can_only_send),
		cmocka_unit_test(without_pre_vote_an_isolated_follower_inflates_its_term),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
