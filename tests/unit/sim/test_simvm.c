/* Unit tests of the simulator's VM model: I1 detection, kills, guards on the
 * kernel clock, crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "tests/sim/simvm.h"

struct fx {
	struct fl_sim sim;
	struct fl_simclock kclock[3], daemon[3];
	struct simvm_world *w;
	int died;
};

static void on_died(void *ctx, uint32_t host, uint32_t vm, uint64_t inc)
{
	(void)host; (void)vm; (void)inc;
	((struct fx *)ctx)->died++;
}

static int setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	fl_sim_init(&f->sim, 9);
	f->w = simvm_new(&f->sim, 2, 9);
	for (uint32_t h = 1; h <= 2; h++) {
		fl_simclock_init(&f->kclock[h], &f->sim, 0, 0);
		fl_simclock_init(&f->daemon[h], &f->sim, 0, 0);
		simvm_set_kernel_clock(f->w, h, &f->kclock[h]);
	}
	uint32_t vol_a[] = {10}, vol_b[] = {11, 10}, vol_c[] = {12};
	simvm_define(f->w, 0, vol_a, 1);
	simvm_define(f->w, 1, vol_b, 2);
	simvm_define(f->w, 2, vol_c, 1);
	simvm_set_died_cb(f->w, on_died, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	simvm_free(f->w);
	for (uint32_t h = 1; h <= 2; h++) {
		fl_simclock_free(&f->kclock[h]);
		fl_simclock_free(&f->daemon[h]);
	}
	fl_sim_free(&f->sim);
	test_free(f);
	return 0;
}

static void two_hosts_on_one_volume_is_an_i1_violation(void **state)
{
	struct fx *f = *state;
	const struct simvm_violation *v;
	assert_true(simvm_start(f->w, 1, 0, 1));
	assert_int_equal(simvm_violations(f->w, &v), 0);
	assert_true(simvm_start(f->w, 2, 1, 1)); /* shares volume 10 */
	assert_int_equal(simvm_violations(f->w, &v), 1);
	assert_int_equal(v[0].volume, 10);
	assert_int_equal(v[0].host_running, 1);
	assert_int_equal(v[0].host_starting, 2);
}

static void a_start_after_the_other_died_is_clean(void **state)
{
	struct fx *f = *state;
	const struct simvm_violation *v;
	simvm_start(f->w, 1, 0, 1);
	simvm_kill(f->w, 1, 0, 1000);
	fl_sim_run_until(&f->sim, 2000);
	assert_false(simvm_running(f->w, 1, 0));
	assert_true(simvm_start(f->w, 2, 0, 2));
	assert_int_equal(simvm_violations(f->w, &v), 0);
	assert_int_equal(simvm_starts(f->w, 0), 2);
	assert_int_equal(f->died, 1);
}

static void the_guard_kills_while_the_daemon_is_paused(void **state)
{
	struct fx *f = *state;
	simvm_start(f->w, 1, 0, 1);
	simvm_start(f->w, 1, 2, 1);
	simvm_guard_set(f->w, 1, 4000000, 1000000);
	fl_simclock_pause(&f->daemon[1]);
	fl_sim_run_until(&f->sim, 3999999);
	assert_int_equal(simvm_instances(f->w, 0), 1);
	fl_sim_run_until(&f->sim, 5000000);
	assert_int_equal(simvm_instances(f->w, 0), 0);
	assert_int_equal(simvm_instances(f->w, 2), 0);
	assert_int_equal(simvm_stats(f->w)->guard_kills, 2);
}

static void an_extended_guard_does_not_fire(void **state)
{
	struct fx *f = *state;
	simvm_start(f->w, 1, 0, 1);
	simvm_guard_set(f->w, 1, 4000000, 1000000);
	fl_sim_run_until(&f->sim, 3000000);
	simvm_guard_set(f->w, 1, 7000000, 1000000);
	fl_sim_run_until(&f->sim, 6900000);
	assert_true(simvm_running(f->w, 1, 0));
}

static void a_crash_kills_every_instance_at_once(void **state)
{
	struct fx *f = *state;
	simvm_start(f->w, 2, 0, 1);
	simvm_start(f->w, 2, 2, 1);
	simvm_host_crash(f->w, 2);
	assert_int_equal(simvm_instances(f->w, 0) + simvm_instances(f->w, 2), 0);
	assert_int_equal(f->died, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(two_hosts_on_one_volume_is_an_i1_violation, setup, teardown),
		cmocka_unit_test_setup_teardown(a_start_after_the_other_died_is_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(the_guard_kills_while_the_daemon_is_paused, setup, teardown),
		cmocka_unit_test_setup_teardown(an_extended_guard_does_not_fire, setup, teardown),
		cmocka_unit_test_setup_teardown(a_crash_kills_every_instance_at_once, setup, teardown),
	};
	return cmocka_run_group_tests_name("simvm", tests, NULL, NULL);
}
