/* Raft core, snapshots and log compaction (thesis ch. 5): the application
 * hands a snapshot at an applied index, the core compacts keeping trailing
 * entries, a follower that lags beyond them gets InstallSnapshot, a follower
 * within them does not, and servers restart from snapshot plus log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/raft.h"

#define SEC 1000000ull
#define T0 SEC

static struct fx_outbox ob;

/* A single-voter leader that applied entries 1..n (term 1) and its no-op. */
static struct raft *applied_leader(uint64_t n, uint64_t *now)
{
	struct raft_entry *e = calloc(n, sizeof(*e));
	for (uint64_t i = 0; i < n; i++)
		e[i] = (struct raft_entry){.term = 1, .index = i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft *r = fx_core_new(1, 1, 1, e, n, true, true, T0);
	free(e);
	*now = fx_core_make_leader(r, T0, &ob);
	assert_int_equal(raft_applied_index(r), n + 1);
	return r;
}

static struct fx *cluster(uint64_t seed, uint64_t *leader)
{
	struct fx_opts o;
	fx_opts_default(&o);
	o.snapshot_every = 10;
	o.snapshot_trailing = 8;
	struct fx *c = fx_new(3, seed, &o);
	*leader = fx_wait_leader(c, 10 * SEC);
	assert_true(*leader != 0);
	return c;
}

static void a_snapshot_compacts_the_log_keeping_trailing_entries(void **state)
{
	(void)state;
	uint64_t now;
	struct raft *r = applied_leader(300, &now);
	assert_int_equal(raft_snapshot_taken(r, 300, "state", 5), 0);
	assert_int_equal(raft_snapshot_index(r), 300);
	assert_int_equal(raft_first_index(r), 300 + 1 - 128); /* default trailing */
	assert_int_equal(raft_last_index(r), 301);
	struct raft_update u;
	raft_ready(r, &u);
	assert_int_equal(u.compact_index, 300);
	raft_ready(r, &u);
	assert_int_equal(u.compact_index, 0); /* said once */
	raft_free(r);
}

/* The memory accounting follows compaction: the entries held drop to the
 * trailing ones, the snapshot copy is counted, and the log array stays at
 * the largest log held (it is reused, not grown again). */
static void memory_accounting_drops_to_the_trailing_entries_after_a_snapshot(void **state)
{
	(void)state;
	uint64_t now;
	struct raft *r = applied_leader(300, &now);
	struct raft_mem_usage before, after;
	raft_mem_usage(r, &before);
	assert_int_equal(before.entries, 301);
	assert_true(before.log_array_bytes >= 301 * sizeof(struct raft_entry));
	assert_int_equal(before.snapshot_bytes, 0);
	assert_int_equal(raft_snapshot_taken(r, 300, "state", 5), 0);
	raft_mem_usage(r, &after);
	assert_int_equal(after.entries, 128 + 1); /* default trailing, and entry 301 */
	assert_int_equal(after.snapshot_bytes, 5);
	assert_int_equal(after.log_array_bytes, before.log_array_bytes);
	assert_true(after.entry_bytes <= before.entry_bytes);
	raft_free(r);
}

static void a_snapshot_past_the_applied_index_is_refused(void **state)
{
	(void)state;
	uint64_t now;
	struct raft *r = applied_leader(10, &now);
	assert_int_equal(raft_snapshot_taken(r, 12, "s", 1), -FL_EINVAL);
	assert_int_equal(raft_snapshot_taken(r, 5, "s", 1), 0);
	assert_int_equal(raft_snapshot_taken(r, 5, "s", 1), -FL_EINVAL); /* not newer */
	raft_free(r);
}

static void installing_a_snapshot_replaces_a_conflicting_log(void **state)
{
	(void)state;
	struct raft_entry e[5];
	for (int i = 0; i < 5; i++)
		e[i] = (struct raft_entry){.term = 1, .index = (uint64_t)i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft *r = fx_core_new(1, 3, 1, e, 5, true, true, T0);
	struct raft_msg m = fx_msg(RAFT_MSG_SNAPSHOT, 2, 1, 2);
	m.snapshot.index = 10;
	m.snapshot.snap_term = 2;
	m.snapshot.config = *raft_configuration(r, NULL);
	m.snapshot.len = 3;
	m.snapshot.data = (uint8_t *)"abc";
	assert_int_equal(raft_step(r, T0 + 10, &m), 0);
	struct raft_update u;
	raft_ready(r, &u);
	assert_non_null(u.persist.snapshot);
	assert_int_equal(u.persist.snapshot->index, 10);
	assert_int_equal(u.persist.truncate_from, 1);
	assert_int_equal(u.n_msgs, 0); /* acknowledged only once durable */
	assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
	raft_ready(r, &u);
	assert_int_equal(u.n_msgs, 1);
	assert_int_equal(u.msgs[0].append_resp.success, 1);
	assert_int_equal(u.msgs[0].append_resp.match_index, 10);
	assert_int_equal(raft_last_index(r), 10);
	assert_int_equal(raft_commit_index(r), 10);
	assert_int_equal(raft_applied_index(r), 10);
	raft_free(r);
}

static void a_snapshot_of_entries_already_held_keeps_the_log(void **state)
{
	(void)state;
	struct raft_entry e[5];
	for (int i = 0; i < 5; i++)
		e[i] = (struct raft_entry){.term = 1, .index = (uint64_t)i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft *r = fx_core_new(1, 3, 1, e, 5, true, true, T0);
	struct raft_msg m = fx_msg(RAFT_MSG_SNAPSHOT, 2, 1, 1);
	m.snapshot.index = 3;
	m.snapshot.snap_term = 1;
	m.snapshot.config = *raft_configuration(r, NULL);
	assert_int_equal(raft_step(r, T0 + 10, &m), 0);
	assert_int_equal(raft_last_index(r), 5);
	assert_int_equal(raft_commit_index(r), 3);
	assert_int_equal(raft_snapshot_index(r), 0);
	raft_free(r);
}

static void a_lagging_follower_receives_a_snapshot_and_catches_up(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(71, &l);
	uint64_t f = l % 3 + 1;
	fx_isolate(c, f, FX_BOTH);
	uint64_t idx = 0;
	for (int i = 0; i < 50; i++)
		idx = fx_propose_wait(c, "lots", 5 * SEC);
	assert_true(raft_first_index(fx_raft(c, l)) > raft_last_index(fx_raft(c, f)) + 1);
	fx_heal(c);
	assert_true(fx_wait_applied(c, f, idx, 5 * SEC));
	assert_true(fx_delivered(c, RAFT_MSG_SNAPSHOT) > 0);
	assert_true(raft_snapshot_index(fx_raft(c, f)) > 0);
	fx_free(c);
}

static void a_follower_within_the_trailing_entries_needs_no_snapshot(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(72, &l);
	for (int i = 0; i < 12; i++)
		assert_true(fx_propose_wait(c, "x", 5 * SEC) > 0);
	fx_run(c, SEC);
	uint64_t f = l % 3 + 1;
	fx_isolate(c, f, FX_BOTH);
	uint64_t idx = 0;
	for (int i = 0; i < 3; i++)
		idx = fx_propose_wait(c, "few", 5 * SEC);
	fx_heal(c);
	assert_true(fx_wait_applied(c, f, idx, 5 * SEC));
	assert_int_equal(fx_delivered(c, RAFT_MSG_SNAPSHOT), 0);
	fx_free(c);
}

static void a_server_restarts_from_its_snapshot_and_log(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(73, &l);
	uint64_t idx = 0;
	for (int i = 0; i < 35; i++)
		idx = fx_propose_wait(c, "y", 5 * SEC);
	uint64_t f = l % 3 + 1;
	assert_true(fx_wait_applied(c, f, idx, 5 * SEC));
	fx_crash(c, f);
	fx_restart(c, f);
	assert_true(raft_snapshot_index(fx_raft(c, f)) >= 30);
	assert_true(raft_last_index(fx_raft(c, f)) >= raft_snapshot_index(fx_raft(c, f)));
	uint64_t more = fx_propose_wait(c, "after restart", 5 * SEC);
	assert_true(fx_wait_applied(c, f, more, 5 * SEC));
	fx_free(c);
}

static void a_whole_cluster_restarts_from_snapshots(void **state)
{
	(void)state;
	uint64_t l;
	struct fx *c = cluster(74, &l);
	uint64_t idx = 0;
	for (int i = 0; i < 25; i++)
		idx = fx_propose_wait(c, "z", 5 * SEC);
	fx_run(c, SEC);
	for (uint64_t id = 1; id <= 3; id++)
		fx_crash(c, id);
	for (uint64_t id = 1; id <= 3; id++)
		fx_restart(c, id);
	uint64_t more = fx_propose_wait(c, "again", 10 * SEC);
	assert_true(more > idx);
	fx_free(c);
}

static void an_installed_snapshot_brings_its_configuration(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg m = fx_msg(RAFT_MSG_SNAPSHOT, 2, 1, 2);
	m.snapshot.index = 20;
	m.snapshot.snap_term = 2;
	m.snapshot.config.n = 4;
	for (uint32_t i = 0; i < 4; i++)
		m.snapshot.config.servers[i] = (struct raft_server){i + 1, RAFT_VOTER};
	m.snapshot.config.servers[3].role = RAFT_LEARNER;
	assert_int_equal(raft_step(r, T0 + 10, &m), 0);
	uint64_t at = 0;
	const struct raft_config *cfg = raft_configuration(r, &at);
	assert_int_equal(cfg->n, 4);
	assert_int_equal(at, 20);
	assert_int_equal(raft_config_voters(cfg), 3);
	raft_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_snapshot_compacts_the_log_keeping_trailing_entries),
		cmocka_unit_test(memory_accounting_drops_to_the_trailing_entries_after_a_snapshot),
		cmocka_unit_test(a_snapshot_past_the_applied_index_is_refused),
		cmocka_unit_test(installing_a_snapshot_replaces_a_conflicting_log),
		cmocka_unit_test(a_snapshot_of_entries_already_held_keeps_the_log),
		cmocka_unit_test(a_lagging_follower_receives_a_snapshot_and_catches_up),
		cmocka_unit_test(a_follower_within_the_trailing_entries_needs_no_snapshot),
		cmocka_unit_test(a_server_restarts_from_its_snapshot_and_log),
		cmocka_unit_test(a_whole_cluster_restarts_from_snapshots),
		cmocka_unit_test(an_installed_snapshot_brings_its_configuration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
