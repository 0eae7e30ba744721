/* Named whole-cluster scenarios on the deterministic simulator, each a
 * specification of what fencelock does under one fault. Every scenario also
 * requires that no invariant was violated (I1: no two writers on a volume;
 * I2/I5: every host applied the same entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arbiter.h"
#include "raft/node.h"
#include "tests/sim/cluster.h"

#define S(x) ((uint64_t)(x) * 1000000ull)

static struct simcl *cluster(uint32_t hosts, uint32_t vms, uint64_t seed)
{
	struct simcl_params p = {.hosts = hosts, .vms = vms, .seed = seed, .io_timeout_ms = 1000, .p_us = S(10),
				 .max_drift_ppm = 200};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	return c;
}

static void no_violations(struct simcl *c)
{
	const struct simvm_violation *v;
	uint32_t n = simcl_violations(c, &v);
	for (uint32_t i = 0; i < n; i++)
		print_error("violation at %llu us: %s (vm %u, hosts %u/%u)\n", (unsigned long long)v[i].at_us,
			    v[i].what, v[i].vm, v[i].host_running, v[i].host_starting);
	assert_int_equal(n, 0);
}

/* Host running VM vm, asserting it runs exactly once. */
static uint32_t only_host(struct simcl *c, uint32_t vm)
{
	assert_int_equal(simvm_instances(simcl_vms(c), vm), 1);
	return simcl_vm_host(c, vm);
}

/* VMs running on host h (the cluster has nvms). */
static uint32_t vms_on(struct simcl *c, uint32_t h, uint32_t nvms)
{
	assert_int_equal(simcl_params(c)->vms, nvms);
	return simcl_vms_on(c, h, NULL);
}

static void every_vm_runs_once(struct simcl *c, uint32_t nvms)
{
	for (uint32_t v = 0; v < nvms; v++)
		assert_int_equal(simvm_instances(simcl_vms(c), v), 1);
}

/* Runs until no VM runs on host h and all nvms run exactly once; returns
 * the time it took, or fails the test after within_us. */
static uint64_t until_moved_off(struct simcl *c, uint32_t h, uint32_t nvms, uint64_t within_us)
{
	assert_int_equal(simcl_params(c)->vms, nvms);
	uint64_t t = simcl_until_moved_off(c, h, NULL, within_us);
	if (t == 0)
		fail_msg("VMs of host %u not moved within %llu s", h, (unsigned long long)(within_us / 1000000));
	return t;
}

static void a_cluster_forms_and_runs_every_vm_once(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 1);
	simcl_run_for(c, S(20));
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6);
	no_violations(c);
	simcl_free(c);
}

static void a_crashed_hosts_vms_run_elsewhere_once(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 2);
	uint32_t victim = only_host(c, 0);
	uint32_t had = vms_on(c, victim, 6);
	assert_true(had > 0);
	simcl_crash(c, victim);
	uint64_t t = until_moved_off(c, victim, 6, S(30));
	/* D = 6 s with io_timeout 1 s, counted from the last renewal the
	 * others saw, which was at most R = 1 s before the crash. */
	assert_true(t >= S(5));
	assert_true(t <= S(12));
	simcl_run_for(c, S(20));
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6 + had);
	no_violations(c);
	simcl_free(c);
}

/* [host] max_vms 4 on each of 4 hosts with 12 VMs: a crashed host's VMs
 * spread over the survivors up to their capacity, never past it; after a
 * second crash the VMs no host has room for wait (counted by the leader),
 * and none runs twice. */
static void capacity_spreads_a_crashed_hosts_vms_and_the_rest_wait(void **state)
{
	(void)state;
	struct simcl_params p = {.hosts = 4, .vms = 12, .seed = 7, .io_timeout_ms = 1000, .p_us = S(10),
				 .max_drift_ppm = 200};
	struct simcl *c = simcl_new(&p);
	for (uint32_t h = 1; h <= 4; h++)
		simcl_set_max_vms(c, h, 4);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	for (uint32_t h = 1; h <= 4; h++)
		assert_true(vms_on(c, h, 12) <= 4);
	uint32_t v1 = only_host(c, 0);
	assert_true(vms_on(c, v1, 12) > 0);
	simcl_crash(c, v1);
	until_moved_off(c, v1, 12, S(30));
	simcl_run_for(c, S(5));
	every_vm_runs_once(c, 12);
	for (uint32_t h = 1; h <= 4; h++)
		assert_true(h == v1 || vms_on(c, h, 12) == 4); /* 12 VMs on 3 hosts of 4 */
	uint32_t v2 = v1 % 4 + 1;
	simcl_crash(c, v2);
	simcl_run_for(c, S(30));
	uint32_t running = 0;
	for (uint32_t h = 1; h <= 4; h++) {
		if (h == v1 || h == v2)
			continue;
		assert_int_equal(vms_on(c, h, 12), 4);
		running += 4;
	}
	for (uint32_t v = 0; v < 12; v++)
		assert_true(simvm_instances(simcl_vms(c), v) <= 1);
	uint32_t l = simcl_leader(c);
	assert_true(l != 0);
	struct arb_status st;
	arb_status(simcl_arb(c, l), &st);
	assert_int_equal(st.vms_waiting, 12 - running);
	no_violations(c);
	simcl_free(c);
}

static void a_network_blip_shorter_than_p_restarts_nothing(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 3);
	simnet_isolate(simcl_net(c), 1, true, true);
	simcl_run_for(c, S(6)); /* P = 10 s */
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(40));
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->kills, 0);
	no_violations(c);
	simcl_free(c);
}

static void a_partition_longer_than_p_fences_the_host_and_moves_its_vms(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 4);
	uint32_t victim = only_host(c, 1);
	uint32_t had = vms_on(c, victim, 6);
	simnet_isolate(simcl_net(c), victim, true, true);
	uint64_t t = until_moved_off(c, victim, 6, S(40));
	assert_true(t > S(10)); /* it keeps its VMs for P */
	assert_true(simcl_host_fenced(c, victim));
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(40));
	/* Rejoined: it restarts nothing that moved away. */
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6 + had);
	assert_false(simcl_host_fenced(c, victim));
	no_violations(c);
	simcl_free(c);
}

static void lost_storage_kills_vms_by_f_and_moves_them_after_d(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 5);
	uint32_t victim = only_host(c, 2);
	simcl_disk_faults(c, victim)->stalled = true;
	simcl_run_for(c, S(5) + S(1)); /* F + K */
	assert_int_equal(vms_on(c, victim, 6), 0);
	until_moved_off(c, victim, 6, S(30));
	simcl_disk_unstall(c, victim);
	simcl_run_for(c, S(30));
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

static void an_isolated_leader_is_replaced_and_fences_after_p(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 6);
	uint32_t old = simcl_leader(c);
	assert_true(old != 0);
	simnet_isolate(simcl_net(c), old, true, true);
	simcl_run_for(c, S(4));
	uint32_t nl = simcl_leader(c);
	assert_true(nl != 0 && nl != old);
	until_moved_off(c, old, 6, S(40));
	assert_true(simcl_host_fenced(c, old));
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(30));
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

static void a_daemon_paused_longer_than_d_has_its_vms_killed_by_the_guard(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 7);
	uint32_t victim = only_host(c, 3);
	uint32_t had = vms_on(c, victim, 6);
	simcl_pause(c, victim);
	simcl_run_for(c, S(6)); /* F + K: the guard alone must have killed them */
	assert_int_equal(vms_on(c, victim, 6), 0);
	assert_true(simvm_stats(simcl_vms(c))->guard_kills >= had);
	until_moved_off(c, victim, 6, S(30));
	simcl_resume(c, victim);
	simcl_run_for(c, S(30));
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6 + had);
	no_violations(c);
	simcl_free(c);
}

static void an_asymmetric_partition_never_gives_two_writers(void **state)
{
	(void)state;
	for (int dir = 0; dir < 2; dir++) {
		struct simcl *c = cluster(3, 6, 8 + (uint64_t)dir);
		uint32_t victim = only_host(c, 0);
		simnet_isolate(simcl_net(c), victim, dir == 0, dir == 1);
		simcl_run_for(c, S(40));
		simnet_heal(simcl_net(c));
		simcl_run_for(c, S(40));
		every_vm_runs_once(c, 6);
		no_violations(c);
		simcl_free(c);
	}
}

static void a_partial_partition_moves_nothing(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 10);
	simnet_set_link(simcl_net(c), 1, 2, false);
	simnet_set_link(simcl_net(c), 2, 1, false);
	simcl_run_for(c, S(60));
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(10));
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6);
	no_violations(c);
	simcl_free(c);
}

static void a_flapping_link_with_short_outages_moves_nothing(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 11);
	for (int i = 0; i < 10; i++) {
		simnet_isolate(simcl_net(c), 2, true, true);
		simcl_run_for(c, S(3));
		simnet_heal(simcl_net(c));
		simcl_run_for(c, S(3));
	}
	simcl_run_for(c, S(10));
	every_vm_runs_once(c, 6);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6);
	no_violations(c);
	simcl_free(c);
}

static void the_whole_cluster_restarted_runs_every_vm_once(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 12);
	for (uint32_t h = 1; h <= 3; h++)
		simcl_crash(c, h);
	simcl_run_for(c, S(5));
	for (uint32_t h = 1; h <= 3; h++)
		simcl_restart(c, h);
	assert_true(simcl_wait_all_running(c, S(60)));
	simcl_run_for(c, S(20));
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

static void a_crashed_host_restarted_rejoins_without_restarting_moved_vms(void **state)
{
	(void)state;
	struct simcl *c = cluster(5, 10, 13);
	uint32_t victim = only_host(c, 0);
	uint32_t had = vms_on(c, victim, 10);
	simcl_crash(c, victim);
	until_moved_off(c, victim, 10, S(30));
	simcl_restart(c, victim);
	simcl_run_for(c, S(30));
	every_vm_runs_once(c, 10);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 10 + had);
	no_violations(c);
	simcl_free(c);
}

/* The host that serves the disk voter, or 0. */
static uint32_t witness_holder(struct simcl *c, uint32_t hosts)
{
	for (uint32_t h = 1; h <= hosts; h++)
		if (simcl_arb(c, h) && arb_witness_raft(simcl_arb(c, h)))
			return h;
	return 0;
}

static void a_two_node_split_keeps_the_side_with_the_disk_voter(void **state)
{
	(void)state;
	struct simcl *c = cluster(2, 4, 21);
	uint32_t w = witness_holder(c, 2), other = 3 - w;
	assert_true(w != 0);
	simnet_isolate(simcl_net(c), other, true, true);
	until_moved_off(c, other, 4, S(40));
	assert_true(simcl_host_fenced(c, other));
	assert_int_equal(vms_on(c, w, 4), 4);
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(40));
	every_vm_runs_once(c, 4);
	no_violations(c);
	simcl_free(c);
}

static void either_node_of_a_two_node_cluster_can_crash(void **state)
{
	(void)state;
	for (int holder = 0; holder < 2; holder++) {
		struct simcl *c = cluster(2, 4, 22 + (uint64_t)holder);
		uint32_t w = witness_holder(c, 2);
		assert_true(w != 0);
		uint32_t victim = holder ? w : 3 - w;
		assert_true(vms_on(c, victim, 4) > 0);
		simcl_crash(c, victim);
		/* The survivor needs the disk voter for a majority: it takes the
		 * witness lease after D if the holder died, then the VMs. */
		uint64_t t = until_moved_off(c, victim, 4, S(40));
		assert_true(t >= S(5)); /* D after the last renewal seen */
		assert_true(witness_holder(c, 2) == 3 - victim);
		simcl_restart(c, victim);
		simcl_run_for(c, S(30));
		every_vm_runs_once(c, 4);
		no_violations(c);
		simcl_free(c);
	}
}

static void a_2_2_split_keeps_the_side_with_the_disk_voter(void **state)
{
	(void)state;
	struct simcl *c = cluster(4, 8, 24);
	uint32_t w = witness_holder(c, 4);
	assert_true(w != 0);
	uint32_t group[4], partner = w == 1 ? 2 : 1;
	for (uint32_t h = 1; h <= 4; h++)
		group[h - 1] = (h == w || h == partner) ? 0 : 1;
	simnet_split(simcl_net(c), group);
	simcl_run_for(c, S(40));
	/* The disk voter's side has 3 of 5 votes: it runs every VM; the other
	 * side fenced itself after P. */
	every_vm_runs_once(c, 8);
	for (uint32_t h = 1; h <= 4; h++)
		if (group[h - 1] == 1) {
			assert_int_equal(vms_on(c, h, 8), 0);
			assert_true(simcl_host_fenced(c, h));
		}
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(40));
	every_vm_runs_once(c, 8);
	no_violations(c);
	simcl_free(c);
}

static void frequent_snapshots_compact_logs_and_catch_up_a_restarted_host(void **state)
{
	(void)state;
	struct simcl_params p = {.hosts = 3, .vms = 6, .seed = 30, .io_timeout_ms = 1000, .p_us = S(10),
				 .max_drift_ppm = 200, .snapshot_every = 8, .snapshot_trailing = 1};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	uint32_t victim = simcl_vm_host(c, 0);
	simcl_crash(c, victim);
	until_moved_off(c, victim, 6, S(30));
	/* Enough new entries that the leader's log no longer reaches back. */
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t l = simcl_leader(c);
		struct fsm_cmd cmd = {.type = FSM_CMD_VM_REGISTER, .restart = FSM_RESTART_NEVER, .nvol = 1};
		snprintf(cmd.uid, sizeof(cmd.uid), "extra%u", i);
		snprintf(cmd.vol[0].path, sizeof(cmd.vol[0].path), "/vol/%u", 100 + i);
		snprintf(cmd.vol[0].id, sizeof(cmd.vol[0].id), "id:vol-%u", 100 + i);
		assert_int_equal(arb_submit(simcl_arb(c, l), &cmd), 0);
		simcl_run_for(c, S(3));
	}
	uint64_t before = raft_snapshot_index(raft_node_core(arb_raft(simcl_arb(c, simcl_leader(c)))));
	simcl_restart(c, victim);
	simcl_run_for(c, S(30));
	/* It could not have caught up from the leader's log alone. */
	assert_true(before > 8);
	const struct fsm *f = arb_fsm(simcl_arb(c, victim));
	assert_non_null(fsm_vm_find(f, "extra3", NULL));
	assert_true(raft_snapshot_index(raft_node_core(arb_raft(simcl_arb(c, victim)))) > 0);
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

/* A cluster whose VM 0 cannot start on the hosts of fail_mask (bit h). */
static struct simcl *cluster_failing_starts(uint32_t fail_mask, uint64_t seed)
{
	struct simcl_params p = {.hosts = 3, .vms = 3, .seed = seed, .io_timeout_ms = 1000, .p_us = S(10),
				 .max_drift_ppm = 200, .start_fail_hosts = fail_mask};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	return c;
}

static const struct fsm_vm *leader_vm(struct simcl *c, const char *uid)
{
	uint32_t l = simcl_leader(c);
	assert_int_not_equal(l, 0);
	return fsm_vm_find(arb_fsm(simcl_arb(c, l)), uid, NULL);
}

static void a_vm_whose_start_fails_on_two_hosts_runs_on_the_third(void **state)
{
	(void)state;
	struct simcl *c = cluster_failing_starts((1u << 1) | (1u << 2), 50);
	for (int i = 0; i < 240 && simcl_vm_host(c, 0) == 0; i++)
		simcl_run_for(c, S(1));
	assert_int_equal(only_host(c, 0), 3);
	every_vm_runs_once(c, 3);
	const struct fsm_vm *vm = leader_vm(c, "vm0");
	assert_false(vm->failed);
	assert_int_equal(vm->desired_host, 3);
	no_violations(c);
	simcl_free(c);
}

static void a_vm_whose_start_fails_everywhere_is_failed_until_cleared(void **state)
{
	(void)state;
	struct simcl *c = cluster_failing_starts((1u << 1) | (1u << 2) | (1u << 3), 51);
	const struct fsm_vm *vm = NULL;
	for (int i = 0; i < 240 && (vm == NULL || !vm->failed); i++) {
		simcl_run_for(c, S(1));
		vm = simcl_leader(c) ? leader_vm(c, "vm0") : NULL;
	}
	assert_non_null(vm);
	assert_true(vm->failed);
	assert_int_equal(vm->desired_host, 0);
	assert_int_equal(vm->nfailed, 3);
	assert_int_equal(simvm_instances(simcl_vms(c), 0), 0);
	for (uint32_t v = 1; v < 3; v++)
		assert_int_equal(simvm_instances(simcl_vms(c), v), 1);
	/* It stays FAILED: nothing places it meanwhile. */
	simcl_run_for(c, S(60));
	vm = leader_vm(c, "vm0");
	assert_true(vm->failed);
	/* The operator clears it: the cluster tries again (and fails again). */
	struct fsm_cmd clr = {.type = FSM_CMD_VM_CLEAR};
	strcpy(clr.uid, "vm0");
	assert_int_equal(arb_submit(simcl_arb(c, simcl_leader(c)), &clr), 0);
	simcl_run_for(c, S(2));
	vm = leader_vm(c, "vm0");
	assert_false(vm->failed);
	assert_true(vm->desired_host != 0 || vm->pending);
	no_violations(c);
	simcl_free(c);
}

static void a_host_fenced_three_times_in_an_hour_is_quarantined(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 31);
	uint32_t victim = only_host(c, 0);
	for (int i = 0; i < 3; i++) {
		simnet_isolate(simcl_net(c), victim, true, true);
		simcl_run_for(c, S(25)); /* > P: it fences itself, its VMs move */
		simnet_heal(simcl_net(c));
		simcl_run_for(c, S(30));
	}
	uint32_t l = simcl_leader(c);
	const struct fsm *f = arb_fsm(simcl_arb(c, l));
	const struct fsm_host *fh = fsm_host_find(f, victim);
	assert_non_null(fh);
	assert_true(fh->fence_total >= 3);
	assert_true(fh->quarantine_until_us > fsm_clock_us(f));
	/* Quarantined: when another host crashes, its VMs avoid the victim. */
	uint32_t other = 0;
	for (uint32_t h = 1; h <= 3 && other == 0; h++)
		if (h != victim && vms_on(c, h, 6) > 0)
			other = h;
	assert_true(other != 0);
	simcl_crash(c, other);
	until_moved_off(c, other, 6, S(30));
	assert_int_equal(vms_on(c, victim, 6), 0);
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

static void a_host_joins_a_running_cluster_and_the_disk_voter_follows_parity(void **state)
{
	(void)state;
	struct simcl_params p = {.hosts = 4, .vms = 6, .seed = 32, .io_timeout_ms = 1000, .p_us = S(10),
				 .max_drift_ppm = 200, .initial_hosts = 3};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	assert_true(simcl_join(c, 4));
	simcl_run_for(c, S(30));
	/* Four host voters: the disk voter joined as the fifth. */
	const struct raft_config *cfg = raft_configuration(raft_node_core(arb_raft(simcl_arb(c, simcl_leader(c)))), NULL);
	int w = raft_config_find(cfg, FL_WITNESS_RAFT_ID), h4 = raft_config_find(cfg, 4);
	assert_true(h4 >= 0 && cfg->servers[h4].role == RAFT_VOTER);
	assert_true(w >= 0 && cfg->servers[w].role == RAFT_VOTER);
	assert_true(witness_holder(c, 4) != 0);
	/* The new host takes VMs: crash one that has some. */
	uint32_t victim = simcl_vm_host(c, 0);
	simcl_crash(c, victim);
	until_moved_off(c, victim, 6, S(30));
	simcl_restart(c, victim);
	simcl_run_for(c, S(20));
	/* Removing host 4 (once it runs nothing) makes the voters odd again. */
	uint32_t tries = 0;
	while (simcl_remove(c, 4) == -FL_EBUSY && tries++ < 1) {
		simcl_crash(c, 4); /* its VMs move away */
		until_moved_off(c, 4, 6, S(30));
	}
	simcl_run_for(c, S(20));
	cfg = raft_configuration(raft_node_core(arb_raft(simcl_arb(c, simcl_leader(c)))), NULL);
	assert_true(raft_config_find(cfg, 4) < 0);
	assert_true(raft_config_find(cfg, FL_WITNESS_RAFT_ID) < 0);
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

/* The leader's Raft configuration: host voters, learners, and whether the
 * disk voter votes; every host voter must be up unless down_ok. */
struct voters_seen {
	uint32_t voters, learners;
	bool witness;
	uint32_t voter[8];
};

static struct voters_seen voters_of(struct simcl *c)
{
	struct voters_seen v;
	memset(&v, 0, sizeof(v));
	uint32_t l = simcl_leader(c);
	assert_true(l != 0);
	const struct raft_config *cfg = raft_configuration(raft_node_core(arb_raft(simcl_arb(c, l))), NULL);
	for (uint32_t i = 0; i < cfg->n; i++) {
		if (cfg->servers[i].id == FL_WITNESS_RAFT_ID) {
			v.witness = cfg->servers[i].role == RAFT_VOTER;
			continue;
		}
		if (cfg->servers[i].role == RAFT_LEARNER) {
			v.learners++;
			continue;
		}
		assert_true(v.voters < 8);
		v.voter[v.voters++] = (uint32_t)cfg->servers[i].id;
	}
	return v;
}

static bool is_voter(const struct voters_seen *v, uint32_t h)
{
	for (uint32_t i = 0; i < v->voters; i++)
		if (v->voter[i] == h)
			return true;
	return false;
}

/* Runs until the leader's configuration has `want` host voters, all up,
 * none of them `not`; false after within_us. */
static bool until_voters(struct simcl *c, uint32_t want, uint32_t not, uint64_t within_us)
{
	for (uint64_t t = 0; t < within_us; t += S(1) / 4) {
		simcl_run_for(c, S(1) / 4);
		if (simcl_leader(c) == 0)
			continue;
		struct voters_seen v = voters_of(c);
		bool ok = v.voters == want && !is_voter(&v, not);
		for (uint32_t i = 0; i < v.voters && ok; i++)
			ok = simcl_is_up(c, v.voter[i]);
		if (ok)
			return true;
	}
	return false;
}

static struct simcl *cluster_voters(uint32_t hosts, uint32_t voters, uint64_t seed)
{
	struct simcl_params p = {.hosts = hosts, .vms = hosts, .seed = seed, .io_timeout_ms = 1000, .p_us = S(10),
				 .max_drift_ppm = 200, .voters = voters};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	assert_true(simcl_register_vms(c, S(30)));
	assert_true(simcl_wait_all_running(c, S(30)));
	return c;
}

/* Twelve hosts bootstrap with seven voters; the leader keeps five and makes
 * the rest learners (no disk voter: five is odd). A crashed voter, then the
 * crashed leader, are replaced by learners once they are DEAD, one change
 * at a time, and every VM still runs exactly once. */
static void a_large_cluster_keeps_five_voters_and_replaces_dead_ones(void **state)
{
	(void)state;
	struct simcl *c = cluster_voters(12, 0, 41);
	assert_true(until_voters(c, 5, 0, S(10)));
	struct voters_seen v = voters_of(c);
	assert_int_equal(v.learners, 7);
	assert_false(v.witness);
	uint32_t l = simcl_leader(c), victim = v.voter[0] == l ? v.voter[1] : v.voter[0];
	simcl_crash(c, victim);
	/* DEAD after D (6 s), then demoted and a learner promoted. */
	assert_true(until_voters(c, 5, victim, S(20)));
	v = voters_of(c);
	assert_int_equal(v.learners, 7);
	assert_false(v.witness);
	simcl_restart(c, victim);
	simcl_run_for(c, S(20));
	v = voters_of(c);
	assert_int_equal(v.voters, 5);
	assert_false(is_voter(&v, victim)); /* back as a learner: the set is full */
	simcl_crash(c, l);
	assert_true(until_voters(c, 5, l, S(30)));
	assert_true(simcl_leader(c) != l);
	simcl_run_for(c, S(20));
	every_vm_runs_once(c, 12);
	no_violations(c);
	simcl_free(c);
}

/* voters = 3: three host voters; a learner cut off from everyone keeps its
 * VMs for P, fences itself, and its VMs move (judged by its delta lease and
 * its mailbox, as for a voter); the voters do not change. */
static void an_isolated_learner_fences_itself_after_p_and_its_vms_move(void **state)
{
	(void)state;
	struct simcl *c = cluster_voters(8, 3, 42);
	assert_true(until_voters(c, 3, 0, S(10)));
	struct voters_seen v = voters_of(c);
	assert_int_equal(v.learners, 5);
	uint32_t victim = 0;
	for (uint32_t h = 1; h <= 8 && victim == 0; h++)
		if (!is_voter(&v, h) && simcl_vms_on(c, h, NULL) > 0)
			victim = h;
	assert_true(victim != 0);
	uint64_t starts = simvm_stats(simcl_vms(c))->starts;
	uint32_t had = simcl_vms_on(c, victim, NULL);
	simnet_isolate(simcl_net(c), victim, true, true);
	uint64_t t = until_moved_off(c, victim, 8, S(40));
	assert_true(t > S(10));
	assert_true(simcl_host_fenced(c, victim));
	struct voters_seen after = voters_of(c);
	assert_int_equal(after.voters, 3);
	assert_false(is_voter(&after, victim));
	simnet_heal(simcl_net(c));
	simcl_run_for(c, S(40));
	every_vm_runs_once(c, 8);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, starts + had);
	no_violations(c);
	simcl_free(c);
}

/* Four hosts with five voters wanted: all four vote and the disk voter
 * makes them odd, as before the voter set was bounded. */
static void a_small_cluster_keeps_every_host_a_voter_and_the_disk_voter(void **state)
{
	(void)state;
	struct simcl *c = cluster_voters(4, 0, 43);
	simcl_run_for(c, S(10));
	struct voters_seen v = voters_of(c);
	assert_int_equal(v.voters, 4);
	assert_int_equal(v.learners, 0);
	assert_true(v.witness);
	no_violations(c);
	simcl_free(c);
}

static void a_restarted_host_reports_leases_it_cannot_account_for(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 33);
	uint32_t victim = only_host(c, 0);
	uint32_t target = victim % 3 + 1, leader = simcl_leader(c);
	if (target == leader)
		target = target % 3 + 1;
	if (target == victim)
		target = target % 3 + 1;
	simcl_crash(c, victim);
	/* vm0 is placed on a host that cannot take its lease yet (paused). */
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(simcl_arb(c, leader)), "vm0", NULL);
	struct fsm_cmd cmd = {.type = FSM_CMD_VM_PLACE, .host_id = target, .incarnation = vm->incarnation};
	snprintf(cmd.uid, sizeof(cmd.uid), "vm0");
	assert_int_equal(arb_submit(simcl_arb(c, leader), &cmd), 0);
	simcl_run_for(c, S(1) / 2);
	simcl_pause(c, target);
	simcl_restart(c, victim);
	simcl_run_for(c, S(4));
	struct arb_status st;
	arb_status(simcl_arb(c, victim), &st);
	assert_true(st.audited);
	assert_true(st.unaccounted >= 1);
	assert_false(simvm_running(simcl_vms(c), victim, 0)); /* reported, not started */
	simcl_resume(c, target);
	simcl_run_for(c, S(30));
	every_vm_runs_once(c, 6);
	no_violations(c);
	simcl_free(c);
}

int main(void)
{
	fl_log_set_level(getenv("FL_SIM_DEBUG") ? LOG_DEBUG : LOG_CRIT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_cluster_forms_and_runs_every_vm_once),
		cmocka_unit_test(a_crashed_hosts_vms_run_elsewhere_once),
		cmocka_unit_test(capacity_spreads_a_crashed_hosts_vms_and_the_rest_wait),
		cmocka_unit_test(a_network_blip_shorter_than_p_restarts_nothing),
		cmocka_unit_test(a_partition_longer_than_p_fences_the_host_and_moves_its_vms),
		cmocka_unit_test(lost_storage_kills_vms_by_f_and_moves_them_after_d),
		cmocka_unit_test(an_isolated_leader_is_replaced_and_fences_after_p),
		cmocka_unit_test(a_daemon_paused_longer_than_d_has_its_vms_killed_by_the_guard),
		cmocka_unit_test(an_asymmetric_partition_never_gives_two_writers),
		cmocka_unit_test(a_partial_partition_moves_nothing),
		cmocka_unit_test(a_flapping_link_with_short_outages_moves_nothing),
		cmocka_unit_test(the_whole_cluster_restarted_runs_every_vm_once),
		cmocka_unit_test(a_crashed_host_restarted_rejoins_without_restarting_moved_vms),
		cmocka_unit_test(a_two_node_split_keeps_the_side_with_the_disk_voter),
		cmocka_unit_test(either_node_of_a_two_node_cluster_can_crash),
		cmocka_unit_test(a_2_2_split_keeps_the_side_with_the_disk_voter),
		cmocka_unit_test(frequent_snapshots_compact_logs_and_catch_up_a_restarted_host),
		cmocka_unit_test(a_host_fenced_three_times_in_an_hour_is_quarantined),
		cmocka_unit_test(a_vm_whose_start_fails_on_two_hosts_runs_on_the_third),
		cmocka_unit_test(a_vm_whose_start_fails_everywhere_is_failed_until_cleared),
		cmocka_unit_test(a_host_joins_a_running_cluster_and_the_disk_voter_follows_parity),
		cmocka_unit_test(a_restarted_host_reports_leases_it_cannot_account_for),
		cmocka_unit_test(a_large_cluster_keeps_five_voters_and_replaces_dead_ones),
		cmocka_unit_test(an_isolated_learner_fences_itself_after_p_and_its_vms_move),
		cmocka_unit_test(a_small_cluster_keeps_every_host_a_voter_and_the_disk_voter),
	};
	return cmocka_run_group_tests_name("scenarios", tests, NULL, NULL);
}
