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
#include <cmocka.h>
#include "common/log.h"
#include "tests/sim/cluster.h"

#define S(x) ((uint64_t)(x) * 1000000ull)

static struct simcl *cluster(uint32_t hosts, uint32_t vms, uint64_t seed)
{
	struct simcl_params p = {.hosts = hosts, .vms = vms, .seed = seed, .io_timeout_s = 1, .p_us = S(10),
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

static void a_cluster_forms_and_runs_every_vm_once(void **state)
{
	(void)state;
	struct simcl *c = cluster(3, 6, 1);
	simcl_run_for(c, S(20));
	for (uint32_t v = 0; v < 6; v++)
		assert_int_equal(simvm_instances(simcl_vms(c), v), 1);
	assert_int_equal(simvm_stats(simcl_vms(c))->starts, 6);
	no_violations(c);
	simcl_free(c);
}

int main(void)
{
	fl_log_set_level(getenv("FL_SIM_DEBUG") ? LOG_DEBUG : LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_cluster_forms_and_runs_every_vm_once),
	};
	return cmocka_run_group_tests_name("scenarios", tests, NULL, NULL);
}
