/* Raft core, membership: single-server changes (thesis §4.1: one at a time,
 * each server uses the newest configuration in its log, committed or not),
 * learners caught up before promotion (§4.2.1), removing the leader (§4.2.2),
 * and servers that must not disrupt the cluster (§4.2.3): a removed server,
 * a joining non-voter with a higher term. */
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

static int role_of(struct fx *c, uint64_t at, uint64_t id)
{
	const struct raft_config *cfg = raft_configuration(fx_raft(c, at), NULL);
	int i = raft_config_find(cfg, id);
	return i < 0 ? 0 : cfg->servers[i].role;
}

static int add(struct fx *c, uint64_t l, uint64_t id)
{
	int rv = raft_add(fx_raft(c, l), fx_now(c), id);
	fx_drain(c, l);
	return rv;
}

/* Runs until every running server's configuration gives id the role. */
static bool wait_role(struct fx *c, uint32_t n, uint64_t id, int role, uint64_t max_us)
{
	uint64_t end = fx_now(c) + max_us;
	for (;;) {
		bool all = true;
		for (uint64_t s = 1; s <= n; s++)
			if (fx_is_up(c, s) && role_of(c, s, id) != role)
				all = false;
		if (all)
			return true;
		if (fx_now(c) >= end)
			return false;
		fx_step(c);
	}
}

static void a_new_server_joins_as_a_learner_and_receives_the_log(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 41, &l);
	uint64_t s = fx_add_server(c);
	assert_int_equal(add(c, l, s), 0);
	assert_true(wait_role(c, 4, s, RAFT_LEARNER, 5 * SEC));
	uint64_t idx = fx_propose_wait(c, "for the learner", 5 * SEC);
	assert_true(fx_wait_applied(c, s, idx, 5 * SEC));
	assert_int_equal(raft_config_voters(raft_configuration(fx_raft(c, l), NULL)), 3);
	assert_int_equal(raft_state(fx_raft(c, s)), RAFT_FOLLOWER);
	fx_free(c);
}

static void a_learner_never_campaigns(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 42, &l);
	uint64_t s = fx_add_server(c);
	assert_int_equal(add(c, l, s), 0);
	assert_true(wait_role(c, 4, s, RAFT_LEARNER, 5 * SEC));
	fx_isolate(c, s, FX_BOTH);
	uint64_t term = raft_term(fx_raft(c, s));
	fx_run(c, 10 * SEC);
	assert_int_equal(raft_state(fx_raft(c, s)), RAFT_FOLLOWER);
	assert_int_equal(raft_term(fx_raft(c, s)), term);
	fx_free(c);
}

static void a_caught_up_learner_is_promoted_to_voter(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 43, &l);
	uint64_t s = fx_add_server(c);
	assert_int_equal(add(c, l, s), 0);
	assert_true(wait_role(c, 4, s, RAFT_LEARNER, 5 * SEC));
	fx_run(c, 500000);
	assert_int_equal(raft_promote(fx_raft(c, l), fx_now(c), s), 0);
	fx_drain(c, l);
	assert_true(wait_role(c, 4, s, RAFT_VOTER, 5 * SEC));
	assert_int_equal(raft_config_voters(raft_configuration(fx_raft(c, l), NULL)), 4);
	fx_free(c);
}

static void a_learner_that_never_answered_is_not_promoted(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 45, &l);
	uint64_t s = fx_add_server(c);
	fx_isolate(c, s, FX_BOTH);
	assert_int_equal(add(c, l, s), 0);
	fx_run(c, 500000);
	/* The log is far shorter than catch_up_entries, yet s never replied. */
	assert_int_equal(raft_promote(fx_raft(c, l), fx_now(c), s), -FL_EAGAIN);
	fx_drain(c, l);
	fx_run(c, 3 * SEC);
	assert_int_equal(role_of(c, l, s), RAFT_LEARNER);
	assert_int_equal(raft_config_voters(raft_configuration(fx_raft(c, l), NULL)), 3);
	fx_heal(c);
	assert_true(wait_role(c, 4, s, RAFT_VOTER, 8 * SEC));
	fx_free(c);
}

static void promotion_waits_until_the_learner_is_within_n_entries(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 44, &l);
	uint64_t s = fx_add_server(c);
	fx_isolate(c, s, FX_BOTH);
	assert_int_equal(add(c, l, s), 0);
	for (int i = 0; i < 40; i++)
		assert_true(fx_propose_wait(c, "lag", 5 * SEC) > 0);
	assert_int_equal(raft_promote(fx_raft(c, l), fx_now(c), s), -FL_EAGAIN);
	fx_drain(c, l);
	fx_run(c, 3 * SEC);
	assert_int_equal(role_of(c, l, s), RAFT_LEARNER); /* queued, not proposed */
	fx_heal(c);
	assert_true(wait_role(c, 4, s, RAFT_VOTER, 8 * SEC));
	fx_free(c);
}

static void promoting_a_server_that_is_not_a_learner_is_refused(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 45, &l);
	uint64_t f = l % 3 + 1;
	assert_int_equal(raft_promote(fx_raft(c, l), fx_now(c), f), -FL_ENOENT);
	assert_int_equal(raft_promote(fx_raft(c, l), fx_now(c), 77), -FL_ENOENT);
	assert_int_equal(raft_promote(fx_raft(c, f), fx_now(c), 77), -FL_ENOTLEADER);
	fx_free(c);
}

static void only_one_membership_change_is_in_flight_at_a_time(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 46, &l);
	uint64_t a = fx_add_server(c), b = fx_add_server(c);
	assert_int_equal(add(c, l, a), 0);
	assert_int_equal(add(c, l, b), -FL_EBUSY);
	assert_true(wait_role(c, 4, a, RAFT_LEARNER, 5 * SEC));
	fx_run(c, 500000); /* the change commits */
	assert_int_equal(add(c, l, b), 0);
	fx_free(c);
}

static void a_new_leader_changes_membership_only_after_its_first_commit(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	assert_int_equal(raft_add(r, now, 9), -FL_EBUSY); /* no-op not committed */
	struct raft_msg a = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, raft_term(r));
	a.append_resp.success = 1;
	a.append_resp.match_index = 1;
	assert_int_equal(raft_step(r, now, &a), 0);
	assert_int_equal(raft_add(r, now, 9), 0);
	raft_free(r);
}

static struct raft_entry config_entry(uint8_t *buf, size_t cap, uint64_t index, uint64_t term,
				      uint32_t n_voters)
{
	struct raft_config cfg = {.n = n_voters};
	for (uint32_t i = 0; i < n_voters; i++)
		cfg.servers[i] = (struct raft_server){i + 1, RAFT_VOTER};
	int len = raft_config_encode(&cfg, buf, cap);
	assert_true(len > 0);
	return (struct raft_entry){.term = term, .index = index, .type = RAFT_ENTRY_CONFIG,
				   .len = (uint32_t)len, .data = buf};
}

static void a_server_uses_the_newest_configuration_before_it_commits(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	uint8_t buf[128];
	struct raft_entry e = config_entry(buf, sizeof(buf), 1, 1, 5);
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	m.append.entries = &e;
	m.append.n_entries = 1;
	assert_int_equal(raft_step(r, T0 + 10, &m), 0);
	assert_int_equal(raft_commit_index(r), 0);
	uint64_t at = 0;
	assert_int_equal(raft_configuration(r, &at)->n, 5);
	assert_int_equal(at, 1);
	raft_free(r);
}

static void a_truncated_configuration_entry_is_rolled_back(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct raft_entry e = config_entry(buf, sizeof(buf), 1, 1, 5);
	struct raft *r = fx_core_new(1, 3, 1, &e, 1, true, true, T0);
	assert_int_equal(raft_configuration(r, NULL)->n, 5);
	struct raft_entry n = {.term = 2, .index = 1, .type = RAFT_ENTRY_NOOP};
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND, 2, 1, 2);
	m.append.entries = &n;
	m.append.n_entries = 1;
	assert_int_equal(raft_step(r, T0 + 10, &m), 0);
	uint64_t at = 9;
	assert_int_equal(raft_configuration(r, &at)->n, 3);
	assert_int_equal(at, 0);
	raft_free(r);
}

static void a_removed_voter_no_longer_counts_towards_the_majority(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 47, &l);
	uint64_t f = l % 3 + 1, g = f % 3 + 1;
	if (g == l)
		g = g % 3 + 1;
	assert_int_equal(raft_remove(fx_raft(c, l), fx_now(c), f), 0);
	fx_drain(c, l);
	fx_run(c, SEC);
	fx_crash(c, f);
	/* two voters left, both needed */
	assert_true(fx_propose_wait(c, "pair", 5 * SEC) > 0);
	fx_crash(c, g);
	uint64_t idx = 0;
	assert_int_equal(fx_propose(c, l, "alone", &idx), 0);
	fx_run(c, 500000);
	assert_true(raft_commit_index(fx_raft(c, l)) < idx);
	fx_free(c);
}

static void a_removed_leader_steps_down_once_the_change_commits(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 48, &l);
	assert_int_equal(raft_remove(fx_raft(c, l), fx_now(c), l), 0);
	fx_drain(c, l);
	fx_run(c, SEC);
	assert_int_not_equal(raft_state(fx_raft(c, l)), RAFT_LEADER);
	uint64_t l2 = 0; /* the removed server never hears of it: no fx_wait_leader */
	for (int i = 0; i < 50 && (l2 = fx_leader(c)) == 0; i++)
		fx_run(c, 100000);
	assert_true(l2 != 0 && l2 != l);
	assert_int_equal(role_of(c, l2, l), 0);
	fx_run(c, 10 * SEC); /* the removed server never campaigns again */
	assert_int_equal(fx_leader(c), l2);
	fx_free(c);
}

static void a_removed_server_cannot_disrupt_the_cluster(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(4, 49, &l);
	uint64_t x = l % 4 + 1;
	fx_isolate(c, x, FX_BOTH); /* it never learns it was removed */
	assert_int_equal(raft_remove(fx_raft(c, l), fx_now(c), x), 0);
	fx_drain(c, l);
	fx_run(c, SEC);
	assert_int_equal(role_of(c, x, x), RAFT_VOTER);
	fx_heal(c);
	uint64_t term = raft_term(fx_raft(c, l));
	for (int i = 0; i < 300; i++) {
		fx_run(c, 100000);
		assert_int_equal(fx_leader(c), l);
		assert_int_equal(raft_term(fx_raft(c, l)), term);
	}
	assert_int_not_equal(raft_state(fx_raft(c, x)), RAFT_LEADER);
	fx_free(c);
}

static void a_demoted_voter_keeps_the_log_and_no_longer_counts_towards_the_majority(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 51, &l);
	uint64_t f = l % 3 + 1, g = f % 3 + 1;
	if (g == l)
		g = g % 3 + 1;
	assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), f), 0);
	fx_drain(c, l);
	assert_true(wait_role(c, 3, f, RAFT_LEARNER, 5 * SEC));
	assert_int_equal(raft_config_voters(raft_configuration(fx_raft(c, l), NULL)), 2);
	/* still a member: it receives and applies the log */
	uint64_t idx = fx_propose_wait(c, "for the learner", 5 * SEC);
	assert_true(idx > 0);
	assert_true(fx_wait_applied(c, f, idx, 5 * SEC));
	/* it never campaigns, and the leader and g alone are a majority */
	fx_isolate(c, f, FX_BOTH);
	uint64_t term = raft_term(fx_raft(c, f));
	assert_true(fx_propose_wait(c, "pair", 5 * SEC) > 0);
	fx_run(c, 5 * SEC);
	assert_int_equal(raft_state(fx_raft(c, f)), RAFT_FOLLOWER);
	assert_int_equal(raft_term(fx_raft(c, f)), term);
	/* with g gone, f's answers cannot commit anything */
	fx_heal(c);
	fx_crash(c, g);
	assert_int_equal(fx_propose(c, l, "alone", &idx), 0);
	fx_run(c, SEC);
	assert_true(raft_commit_index(fx_raft(c, l)) < idx);
	assert_true(raft_last_index(fx_raft(c, f)) >= idx); /* f holds it, and does not count */
	fx_free(c);
}

static void demoting_is_refused_for_a_learner_the_last_voter_and_while_busy(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 52, &l);
	uint64_t s = fx_add_server(c);
	assert_int_equal(add(c, l, s), 0);
	assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), s), -FL_EBUSY); /* the add is in flight */
	assert_true(wait_role(c, 4, s, RAFT_LEARNER, 5 * SEC));
	fx_run(c, SEC);
	assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), s), -FL_ENOENT);
	assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), 99), -FL_ENOENT);
	uint64_t f = l % 3 + 1;
	assert_int_equal(raft_demote(fx_raft(c, f), fx_now(c), l), -FL_ENOTLEADER);
	/* down to the leader alone, then the last voter stays */
	for (uint64_t v = 1; v <= 3; v++) {
		if (v == l)
			continue;
		assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), v), 0);
		fx_drain(c, l);
		assert_true(wait_role(c, 4, v, RAFT_LEARNER, 5 * SEC));
		fx_run(c, SEC);
	}
	assert_int_equal(raft_config_voters(raft_configuration(fx_raft(c, l), NULL)), 1);
	assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), l), -FL_EINVAL);
	assert_true(fx_propose_wait(c, "alone", 5 * SEC) > 0);
	fx_free(c);
}

static void a_demoted_leader_steps_down_and_a_voter_takes_over(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 53, &l);
	assert_int_equal(raft_demote(fx_raft(c, l), fx_now(c), l), 0);
	fx_drain(c, l);
	fx_run(c, SEC);
	assert_int_not_equal(raft_state(fx_raft(c, l)), RAFT_LEADER);
	uint64_t l2 = fx_wait_leader(c, 10 * SEC);
	assert_true(l2 != 0 && l2 != l);
	assert_int_equal(role_of(c, l2, l), RAFT_LEARNER);
	uint64_t idx = fx_propose_wait(c, "after", 5 * SEC);
	assert_true(idx > 0);
	assert_true(fx_wait_applied(c, l, idx, 5 * SEC));
	fx_run(c, 5 * SEC); /* the learner never campaigns */
	assert_int_equal(fx_leader(c), l2);
	fx_free(c);
}

static void a_non_voter_with_a_higher_term_joining_leaves_a_stable_cluster(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(3, 50, &l);
	uint64_t s = fx_add_server(c);
	fx_inflate_term(c, s, 40);
	uint64_t idx = fx_propose_wait(c, "before", 5 * SEC);
	assert_int_equal(add(c, l, s), 0);
	uint64_t l2 = fx_wait_leader(c, 10 * SEC);
	fx_run(c, 3 * SEC);
	l2 = fx_wait_leader(c, 10 * SEC);
	assert_true(l2 != 0 && l2 != s);
	assert_true(raft_term(fx_raft(c, l2)) > 40);
	assert_true(fx_wait_applied(c, s, idx, 5 * SEC));
	uint64_t term = raft_term(fx_raft(c, l2));
	fx_run(c, 10 * SEC);
	assert_int_equal(fx_leader(c), l2);
	assert_int_equal(raft_term(fx_raft(c, l2)), term);
	fx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_server_joins_as_a_learner_and_receives_the_log),
		cmocka_unit_test(a_learner_never_campaigns),
		cmocka_unit_test(a_caught_up_learner_is_promoted_to_voter),
		cmocka_unit_test(a_learner_that_never_answered_is_not_promoted),
		cmocka_unit_test(promotion_waits_until_the_learner_is_within_n_entries),
		cmocka_unit_test(promoting_a_server_that_is_not_a_learner_is_refused),
		cmocka_unit_test(only_one_membership_change_is_in_flight_at_a_time),
		cmocka_unit_test(a_new_leader_changes_membership_only_after_its_first_commit),
		cmocka_unit_test(a_server_uses_the_newest_configuration_before_it_commits),
		cmocka_unit_test(a_truncated_configuration_entry_is_rolled_back),
		cmocka_unit_test(a_removed_voter_no_longer_counts_towards_the_majority),
		cmocka_unit_test(a_removed_leader_steps_down_once_the_change_commits),
		cmocka_unit_test(a_removed_server_cannot_disrupt_the_cluster),
		cmocka_unit_test(a_non_voter_with_a_higher_term_joining_leaves_a_stable_cluster),
		cmocka_unit_test(a_demoted_voter_keeps_the_log_and_no_longer_counts_towards_the_majority),
		cmocka_unit_test(demoting_is_refused_for_a_learner_the_last_voter_and_while_busy),
		cmocka_unit_test(a_demoted_leader_steps_down_and_a_voter_takes_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
