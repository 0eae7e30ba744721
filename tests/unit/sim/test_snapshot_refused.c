/* A host that cannot restore a snapshot of the replicated state (one written
 * by a build with larger FSM tables: fsm_restore() says foreign)
 * must not go on applying the log to the state it has: from that snapshot on
 * its FSM would not be the cluster's, it would snapshot that state over the
 * good one and, as leader, send it to others and decide on it. It applies,
 * snapshots and decides nothing more, says so in arb_status (the daemon then
 * stops), and the cluster carries on without it. Both ways in: its own
 * snapshot at a restart (an upgrade in place), and the leader's snapshot
 * sent to a host that joins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arbiter.h"
#include "plugin/model/fsm.h"
#include "raft/node.h"
#include "raft/raft.h"
#include "tests/sim/cluster.h"
#include "tests/sim/simvm.h"

#define S(x) ((uint64_t)(x)*FL_US_PER_S)
#define OTHER_TABLE 512u /* a VM table smaller than the others' (a downgrade): their snapshots do not fit it */

static void no_violations(struct simcl *c)
{
	const struct simvm_violation *v;
	uint32_t n = simcl_violations(c, &v);
	for (uint32_t i = 0; i < n; i++)
		print_error("violation at %llu us: %s (vm %u, hosts %u/%u)\n", (unsigned long long)v[i].at_us,
			    v[i].what, v[i].vm, v[i].host_running, v[i].host_starting);
	assert_int_equal(n, 0);
}

static void every_vm_runs_once(struct simcl *c)
{
	for (uint32_t v = 0; v < simcl_params(c)->vms; v++)
		assert_int_equal(simvm_instances(simcl_vms(c), v), 1);
}

/* Registers `n` more VMs (no placement wanted) through the leader, one every
 * second: entries enough for the others to take snapshots. */
static void more_entries(struct simcl *c, uint32_t first, uint32_t n)
{
	for (uint32_t i = first; i < first + n; i++) {
		uint32_t l = simcl_leader(c);
		assert_int_not_equal(l, 0);
		struct fsm_cmd cmd = {.type = FSM_CMD_VM_REGISTER, .restart = FSM_RESTART_NEVER, .nvol = 1};
		snprintf(cmd.uid, sizeof(cmd.uid), "extra%u", i);
		snprintf(cmd.vol[0].path, sizeof(cmd.vol[0].path), "/vol/x%u", i);
		snprintf(cmd.vol[0].id, sizeof(cmd.vol[0].id), "id:x%u", i);
		assert_int_equal(arb_submit(simcl_arb(c, l), &cmd), 0);
		simcl_run_for(c, S(1));
	}
}

static uint64_t snap_index(struct simcl *c, uint32_t h)
{
	return raft_snapshot_index(raft_node_core(arb_raft(simcl_arb(c, h))));
}

/* The refused host's state: nothing applied past the refused snapshot, no
 * snapshot of its own taken since, the refusal reported; the others agree
 * on the cluster's state and run every VM once. */
static void refused_and_inert(struct simcl *c, uint32_t h)
{
	struct arb_status st;
	arb_status(simcl_arb(c, h), &st);
	assert_true(st.snapshot_refused);
	assert_int_equal(st.snapshot_refused_rv, -FL_EFOREIGN);
	assert_true(st.snapshot_refused_index > 0);
	uint64_t refused_at = st.snapshot_refused_index;
	more_entries(c, 100, 24); /* three times snapshot_every */
	simcl_run_for(c, S(10));
	arb_status(simcl_arb(c, h), &st);
	assert_int_equal(st.snapshot_refused_index, refused_at);
	assert_true(arb_fsm(simcl_arb(c, h))->last_index <= refused_at);
	assert_null(fsm_vm_find(arb_fsm(simcl_arb(c, h)), "extra123", NULL));
	assert_int_equal(snap_index(c, h), refused_at);
	uint32_t l = simcl_leader(c);
	assert_int_not_equal(l, 0);
	assert_non_null(fsm_vm_find(arb_fsm(simcl_arb(c, l)), "extra123", NULL));
	every_vm_runs_once(c);
	no_violations(c);
}

static void a_restarted_host_that_cannot_restore_its_own_snapshot_applies_nothing_more(void **state)
{
	(void)state;
	struct simcl_params p = {.hosts = 3, .vms = 6, .seed = 31, .io_timeout_ms = 1000, .p_us = S(10), .max_drift_ppm = 200, .snapshot_every = 8, .snapshot_trailing = 1};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	more_entries(c, 0, 12);
	uint32_t victim = simcl_leader(c) == 1 ? 2 : 1;
	assert_true(snap_index(c, victim) > 0); /* it has a snapshot of its own on its disk */
	simcl_crash(c, victim);
	assert_true(simcl_until_moved_off(c, victim, NULL, S(40)) > 0);
	/* Replaced in place by a build with a smaller VM table (a downgrade). */
	simcl_set_vm_table(c, victim, OTHER_TABLE);
	simcl_restart(c, victim);
	simcl_run_for(c, S(10));
	refused_and_inert(c, victim);
	simcl_free(c);
}

static void a_joining_host_that_cannot_restore_the_leaders_snapshot_applies_nothing_more(void **state)
{
	(void)state;
	struct simcl_params p = {.hosts = 4, .vms = 6, .seed = 32, .io_timeout_ms = 1000, .p_us = S(10), .max_drift_ppm = 200, .snapshot_every = 8, .snapshot_trailing = 1, .initial_hosts = 3};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	more_entries(c, 0, 12);
	assert_true(snap_index(c, simcl_leader(c)) > 0); /* the log no longer reaches back to 1 */
	simcl_set_vm_table(c, 4, OTHER_TABLE);
	assert_true(simcl_join(c, 4));
	simcl_run_for(c, S(10));
	refused_and_inert(c, 4);
	simcl_free(c);
}

int main(void)
{
	fl_log_set_level(getenv("FL_SIM_DEBUG") ? LOG_DEBUG : LOG_CRIT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_restarted_host_that_cannot_restore_its_own_snapshot_applies_nothing_more),
		cmocka_unit_test(a_joining_host_that_cannot_restore_the_leaders_snapshot_applies_nothing_more),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
