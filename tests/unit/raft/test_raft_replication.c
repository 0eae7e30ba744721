/* Raft core, log replication and commitment: §5.3 (AppendEntries, the
 * consistency check, conflict hints, overwriting a conflicting suffix), §5.4.2
 * and Figure 8 (only entries of the current term commit by counting; the
 * leader's no-op), thesis §10.2.1 (the leader's own entries count once
 * durable), pipelining and batching with a bounded number in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/raft.h"

#define SEC 1000000ull
#define T0 SEC

static struct fx_outbox ob;

static void fill(struct raft_entry *e, uint64_t from, uint64_t to, uint64_t term)
{
	for (uint64_t i = from; i <= to; i++)
		e[i - from] = (struct raft_entry){.term = term, .index = i, .type = RAFT_ENTRY_NOOP};
}

static struct raft_msg append(uint64_t from, uint64_t term, uint64_t prev, uint64_t prev_term,
			      struct raft_entry *e, uint32_t n, uint64_t commit)
{
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND, from, 1, term);
	m.append.prev_index = prev;
	m.append.prev_term = prev_term;
	m.append.entries = e;
	m.append.n_entries = n;
	m.append.commit = commit;
	return m;
}

static const struct raft_msg *step_resp(struct raft *r, uint64_t now, struct raft_msg *m)
{
	ob.n = 0;
	assert_int_equal(raft_step(r, now, m), 0);
	fx_core_pump(r, &ob, true);
	return fx_outbox_find(&ob, RAFT_MSG_APPEND_RESP, m->from);
}

static void ack(struct raft *r, uint64_t now, uint64_t from, uint64_t match)
{
	struct raft_msg a = fx_msg(RAFT_MSG_APPEND_RESP, from, 1, raft_term(r));
	a.append_resp.success = 1;
	a.append_resp.match_index = match;
	a.append_resp.last_index = match;
	assert_int_equal(raft_step(r, now, &a), 0);
}

/* ---- cluster level -------------------------------------------------------- */

static void a_committed_entry_is_applied_on_every_server(void **state)
{
	(void)state;
	struct fx *c = fx_new(5, 11, NULL);
	uint64_t idx = fx_propose_wait(c, "hello", 10 * SEC);
	assert_true(idx > 0);
	for (uint64_t id = 1; id <= 5; id++)
		assert_true(fx_wait_applied(c, id, idx, 2 * SEC));
	fx_free(c);
}

static void committed_entries_survive_a_crash_of_every_server(void **state)
{
	(void)state;
	struct fx *c = fx_new(3, 12, NULL);
	uint64_t idx = 0;
	char t[16];
	for (int i = 0; i < 20; i++) {
		snprintf(t, sizeof(t), "e%d", i);
		idx = fx_propose_wait(c, t, 10 * SEC);
		assert_true(idx > 0);
	}
	for (uint64_t id = 1; id <= 3; id++)
		fx_crash(c, id);
	for (uint64_t id = 1; id <= 3; id++)
		fx_restart(c, id);
	uint64_t l = fx_wait_leader(c, 10 * SEC);
	assert_true(l != 0);
	assert_true(raft_last_index(fx_raft(c, l)) >= idx);
	assert_true(fx_propose_wait(c, "after", 10 * SEC) > idx);
	fx_free(c);
}

static void replication_survives_loss_duplication_and_reordering(void **state)
{
	(void)state;
	struct fx *c = fx_new(3, 13, NULL);
	fx_set_drop(c, 200);
	fx_set_dup(c, 200);
	fx_set_delay(c, 1000, 80000);
	char t[16];
	uint64_t last = 0;
	for (int i = 0; i < 30; i++) {
		snprintf(t, sizeof(t), "x%d", i);
		uint64_t idx = fx_propose_wait(c, t, 20 * SEC);
		assert_true(idx > last);
		last = idx;
	}
	for (uint64_t id = 1; id <= 3; id++)
		assert_true(fx_wait_applied(c, id, last, 10 * SEC));
	fx_free(c);
}

/* ---- the leader's no-op --------------------------------------------------- */

static void a_new_leader_appends_a_noop_of_its_term(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 3, NULL, 0, true, true, T0);
	fx_core_make_leader(r, T0, &ob);
	const struct raft_entry *e = raft_entry_at(r, raft_last_index(r));
	assert_non_null(e);
	assert_int_equal(e->type, RAFT_ENTRY_NOOP);
	assert_int_equal(e->term, raft_term(r));
	assert_int_equal(raft_term(r), 4);
	raft_free(r);
}

/* ---- the follower's side of §5.3 ------------------------------------------ */

static void a_follower_appends_entries_after_a_matching_prev(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_entry e[3];
	fill(e, 1, 3, 1);
	struct raft_msg m = append(2, 1, 0, 0, e, 3, 2);
	const struct raft_msg *o = step_resp(r, T0 + 10, &m);
	assert_non_null(o);
	assert_int_equal(o->append_resp.success, 1);
	assert_int_equal(o->append_resp.match_index, 3);
	assert_int_equal(raft_last_index(r), 3);
	assert_int_equal(raft_commit_index(r), 2);
	raft_free(r);
}

static void a_follower_rejects_a_mismatched_prev_with_the_first_index_of_its_term(void **state)
{
	(void)state;
	struct raft_entry e[4];
	fill(e, 1, 2, 1);
	fill(e + 2, 3, 4, 2);
	struct raft *r = fx_core_new(1, 3, 2, e, 4, true, true, T0);
	struct raft_msg m = append(2, 3, 4, 3, NULL, 0, 0);
	const struct raft_msg *o = step_resp(r, T0 + 10, &m);
	assert_non_null(o);
	assert_int_equal(o->append_resp.success, 0);
	assert_int_equal(o->append_resp.reject_index, 4);
	assert_int_equal(o->append_resp.conflict_term, 2);
	assert_int_equal(o->append_resp.conflict_index, 3);
	assert_int_equal(raft_last_index(r), 4);
	raft_free(r);
}

static void a_follower_missing_the_prev_hints_its_last_index(void **state)
{
	(void)state;
	struct raft_entry e[2];
	fill(e, 1, 2, 1);
	struct raft *r = fx_core_new(1, 3, 1, e, 2, true, true, T0);
	struct raft_msg m = append(2, 2, 9, 2, NULL, 0, 0);
	const struct raft_msg *o = step_resp(r, T0 + 10, &m);
	assert_int_equal(o->append_resp.success, 0);
	assert_int_equal(o->append_resp.conflict_term, 0);
	assert_int_equal(o->append_resp.conflict_index, 3);
	raft_free(r);
}

static void a_follower_overwrites_a_conflicting_suffix(void **state)
{
	(void)state;
	struct raft_entry e[3];
	fill(e, 1, 1, 1);
	fill(e + 1, 2, 3, 2);
	struct raft *r = fx_core_new(1, 3, 2, e, 3, true, true, T0);
	struct raft_entry n[1];
	fill(n, 2, 2, 3);
	struct raft_msg m = append(2, 3, 1, 1, n, 1, 0);
	const struct raft_msg *o = step_resp(r, T0 + 10, &m);
	assert_int_equal(o->append_resp.success, 1);
	assert_int_equal(raft_last_index(r), 2);
	uint64_t t = 0;
	assert_int_equal(raft_term_at(r, 2, &t), 0);
	assert_int_equal(t, 3);
	raft_free(r);
}

static void a_stale_duplicate_append_never_truncates_the_log(void **state)
{
	(void)state;
	struct raft_entry e[3];
	fill(e, 1, 3, 1);
	struct raft *r = fx_core_new(1, 3, 1, e, 3, true, true, T0);
	struct raft_msg m = append(2, 1, 0, 0, e, 1, 0); /* an old, shorter copy */
	const struct raft_msg *o = step_resp(r, T0 + 10, &m);
	assert_int_equal(o->append_resp.success, 1);
	assert_int_equal(o->append_resp.match_index, 1);
	assert_int_equal(raft_last_index(r), 3);
	raft_free(r);
}

static void a_follower_commits_only_what_it_has_verified(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_entry e[2];
	fill(e, 1, 2, 1);
	struct raft_msg m = append(2, 1, 0, 0, e, 2, 50);
	step_resp(r, T0 + 10, &m);
	assert_int_equal(raft_commit_index(r), 2);
	raft_free(r);
}

static void a_follower_applies_only_entries_it_has_persisted(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_entry e[2];
	fill(e, 1, 2, 1);
	struct raft_msg m = append(2, 1, 0, 0, e, 2, 2);
	assert_int_equal(raft_step(r, T0 + 10, &m), 0);
	struct raft_update u;
	raft_ready(r, &u);
	assert_int_equal(u.n_committed, 0);
	assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
	raft_ready(r, &u);
	assert_int_equal(u.n_committed, 2);
	assert_int_equal(u.committed[0].index, 1);
	raft_free(r);
}

/* ---- the leader's side ---------------------------------------------------- */

static void a_conflicting_term_is_skipped_in_one_round_trip(void **state)
{
	(void)state;
	struct raft_entry e[20];
	fill(e, 1, 10, 1);
	fill(e + 10, 11, 20, 2);
	struct raft *r = fx_core_new(1, 3, 3, e, 20, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob); /* term 4, no-op at 21 */
	const struct raft_msg *p = fx_outbox_find(&ob, RAFT_MSG_APPEND, 2);
	assert_non_null(p);
	assert_int_equal(p->append.prev_index, 20);
	/* follower 2 holds 11..30 of term 3 */
	struct raft_msg rej = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, 4);
	rej.append_resp.reject_index = 20;
	rej.append_resp.conflict_term = 3;
	rej.append_resp.conflict_index = 11;
	rej.append_resp.last_index = 30;
	ob.n = 0;
	assert_int_equal(raft_step(r, now, &rej), 0);
	fx_core_pump(r, &ob, true);
	p = fx_outbox_find(&ob, RAFT_MSG_APPEND, 2);
	assert_non_null(p);
	assert_int_equal(p->append.prev_index, 10);
	assert_int_equal(p->append.n_entries, 11);
	raft_free(r);
}

static void a_follower_missing_a_suffix_is_found_in_one_round_trip(void **state)
{
	(void)state;
	struct raft_entry e[100];
	fill(e, 1, 100, 1);
	struct raft *r = fx_core_new(1, 3, 1, e, 100, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	struct raft_msg rej = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, raft_term(r));
	rej.append_resp.reject_index = 100;
	rej.append_resp.conflict_index = 41;
	rej.append_resp.last_index = 40;
	ob.n = 0;
	assert_int_equal(raft_step(r, now, &rej), 0);
	fx_core_pump(r, &ob, true);
	const struct raft_msg *p = fx_outbox_find(&ob, RAFT_MSG_APPEND, 2);
	assert_non_null(p);
	assert_int_equal(p->append.prev_index, 40);
	raft_free(r);
}

static void a_leader_pipelines_appends_up_to_the_in_flight_bound(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	ack(r, now, 2, 1); /* follower 2 matched the no-op: replicate mode */
	ob.n = 0;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(raft_propose(r, now, "p", 1, NULL), 0);
		fx_core_pump(r, &ob, true);
	}
	uint32_t to2 = 0;
	for (uint32_t i = 0; i < ob.n; i++)
		to2 += ob.m[i].type == RAFT_MSG_APPEND && ob.m[i].to == 2 && ob.m[i].append.n_entries > 0;
	assert_int_equal(to2, 8); /* default max_inflight */
	raft_free(r);
}

static void entries_waiting_behind_a_full_pipeline_leave_in_one_batch(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	ack(r, now, 2, 1);
	fx_core_pump(r, &ob, true);
	for (int i = 0; i < 40; i++)
		assert_int_equal(raft_propose(r, now, "p", 1, NULL), 0);
	fx_core_pump(r, &ob, true);
	ack(r, now, 2, 9); /* the first 8 single-entry appends landed */
	ob.n = 0;
	fx_core_pump(r, &ob, true);
	const struct raft_msg *p = fx_outbox_find(&ob, RAFT_MSG_APPEND, 2);
	assert_non_null(p);
	assert_int_equal(p->append.prev_index, 9);
	assert_int_equal(p->append.n_entries, 32); /* the 32 that waited */
	raft_free(r);
}

static void a_leader_counts_its_own_entry_only_once_durable(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	ack(r, now, 2, 1);
	assert_int_equal(raft_commit_index(r), 1);
	uint64_t idx = 0;
	assert_int_equal(raft_propose(r, now, "x", 1, &idx), 0);
	struct raft_update u;
	raft_ready(r, &u);
	assert_int_equal(u.persist.n_entries, 1);
	ack(r, now, 2, idx); /* only 2 of 3 with us not durable: not yet */
	assert_int_equal(raft_commit_index(r), 1);
	assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
	assert_int_equal(raft_commit_index(r), idx);
	raft_free(r);
}

/* Figure 8 (c): S1 leads term 4 holding index 2 of term 2; it reaches a
 * majority with index 2 before its own no-op (index 3, term 4) does. Counting
 * replicas of index 2 must not commit it: S5 (term 3 at index 2) could still
 * win an election and overwrite it. */
static void figure_8_an_old_term_entry_is_not_committed_by_counting(void **state)
{
	(void)state;
	struct raft_entry e[2];
	fill(e, 1, 1, 1);
	fill(e + 1, 2, 2, 2);
	struct raft *r = fx_core_new(1, 5, 3, e, 2, true, true, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	assert_int_equal(raft_term(r), 4);
	assert_int_equal(raft_last_index(r), 3);
	ack(r, now, 2, 2);
	ack(r, now, 3, 2);
	assert_int_equal(raft_commit_index(r), 0); /* 3 of 5 hold index 2: still no */
	ack(r, now, 2, 3);
	ack(r, now, 3, 3);
	assert_int_equal(raft_commit_index(r), 3); /* the no-op commits both */
	raft_free(r);
}

static void figure_8_in_a_cluster_the_old_entry_commits_only_with_the_new_term(void **state)
{
	(void)state;
	/* S1 leads, writes index k with only S2 reachable; S1 crashes; a leader of
	 * a later term without k is elected, then S1 returns and leads again:
	 * k is committed only after an entry of S1's new term is. The fixture's
	 * checks (leader completeness, state-machine safety) watch every step. */
	for (uint64_t seed = 1; seed <= 10; seed++) {
		struct fx *c = fx_new(5, 200 + seed, NULL);
		uint64_t l = fx_wait_leader(c, 10 * SEC);
		assert_true(fx_propose_wait(c, "base", 10 * SEC) > 0);
		uint64_t peer = l % 5 + 1;
		fx_isolate(c, l, FX_BOTH);
		fx_mend(c, l, peer);
		fx_mend(c, peer, l);
		uint64_t k = 0;
		assert_int_equal(fx_propose(c, l, "k", &k), 0);
		fx_run(c, 200000);
		fx_crash(c, l);
		fx_heal(c);
		fx_isolate(c, peer, FX_BOTH);
		assert_true(fx_propose_wait(c, "other", 10 * SEC) > 0);
		fx_heal(c);
		fx_restart(c, l);
		assert_true(fx_propose_wait(c, "after", 10 * SEC) > 0);
		fx_free(c);
	}
}

static void a_proposal_to_a_follower_is_refused(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	uint64_t idx = 0;
	assert_int_equal(raft_propose(r, T0, "x", 1, &idx), -FL_ENOTLEADER);
	assert_int_equal(raft_last_index(r), 0);
	raft_free(r);
}

static void uncommitted_entries_are_bounded(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 0, NULL, 0, true, false, T0);
	uint64_t now = fx_core_make_leader(r, T0, &ob);
	uint32_t accepted = 0;
	int rv = 0;
	while ((rv = raft_propose(r, now, "p", 1, NULL)) == 0 && accepted < 100000) {
		accepted++;
		ob.n = 0;
		fx_core_pump(r, &ob, true);
	}
	assert_int_equal(rv, -FL_ENOSPC); /* nobody acknowledges: no commit */
	assert_true(accepted > 1000 && accepted < 100000);
	raft_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_committed_entry_is_applied_on_every_server),
		cmocka_unit_test(committed_entries_survive_a_crash_of_every_server),
		cmocka_unit_test(replication_survives_loss_duplication_and_reordering),
		cmocka_unit_test(a_new_leader_appends_a_noop_of_its_term),
		cmocka_unit_test(a_follower_appends_entries_after_a_matching_prev),
		cmocka_unit_test(a_follower_rejects_a_mismatched_prev_with_the_first_index_of_its_term),
		cmocka_unit_test(a_follower_missing_the_prev_hints_its_last_index),
		cmocka_unit_test(a_follower_overwrites_a_conflicting_suffix),
		cmocka_unit_test(a_stale_duplicate_append_never_truncates_the_log),
		cmocka_unit_test(a_follower_commits_only_what_it_has_verified),
		cmocka_unit_test(a_follower_applies_only_entries_it_has_persisted),
		cmocka_unit_test(a_conflicting_term_is_skipped_in_one_round_trip),
		cmocka_unit_test(a_follower_missing_a_suffix_is_found_in_one_round_trip),
		cmocka_unit_test(a_leader_pipelines_appends_up_to_the_in_flight_bound),
		cmocka_unit_test(entries_waiting_behind_a_full_pipeline_leave_in_one_batch),
		cmocka_unit_test(a_leader_counts_its_own_entry_only_once_durable),
		cmocka_unit_test(figure_8_an_old_term_entry_is_not_committed_by_counting),
		cmocka_unit_test(figure_8_in_a_cluster_the_old_entry_commits_only_with_the_new_term),
		cmocka_unit_test(a_proposal_to_a_follower_is_refused),
		cmocka_unit_test(uncommitted_entries_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
