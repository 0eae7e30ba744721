/* Unit tests of the common layer: CRC-32C, PRNG, timer heap, simulated clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/crc32c.h"
#include "common/loop.h"
#include "common/rand.h"
#include "common/simloop.h"
#include "fencelock/error.h"

static void crc32c_matches_the_iscsi_check_value(void **state)
{
	(void)state;
	/* RFC 3720 B.4: CRC-32C("123456789") = 0xE3069283. */
	assert_int_equal(fl_crc32c_std("123456789", 9), 0xE3069283u);
	uint8_t zeros[32] = {0};
	assert_int_equal(fl_crc32c_std(zeros, 32), 0x8A9136AAu);
}

static void crc32c_slicing_equals_bytewise_at_every_length(void **state)
{
	(void)state;
	uint8_t buf[300];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t len = 0; len < sizeof(buf); len++) {
		uint32_t a = fl_crc32c(0x12345678u, buf, len);
		uint32_t b = 0x12345678u;
		for (size_t k = 0; k < len; k++)
			b = fl_crc32c(b, buf + k, 1);
		assert_int_equal(a, b);
	}
}

static void rand_is_reproducible_from_its_seed(void **state)
{
	(void)state;
	struct fl_rand a, b;
	fl_rand_seed(&a, 42);
	fl_rand_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		assert_true(fl_rand_next(&a) == fl_rand_next(&b));
	for (int i = 0; i < 1000; i++) {
		uint64_t x = fl_rand_range(&a, 5, 9);
		assert_true(x >= 5 && x <= 9);
	}
}

struct fired {
	int order[16];
	int n;
};

static void record_fire(struct fl_timer *t, void *arg)
{
	struct fired *f = arg;
	f->order[f->n++] = (int)(t->at_us / 1000);
}

static void sim_fires_timers_in_time_then_arming_order(void **state)
{
	(void)state;
	struct fl_sim sim;
	struct fl_simclock c;
	struct fl_timer t[5];
	struct fired f = {.n = 0};
	assert_int_equal(fl_sim_init(&sim, 1), 0);
	assert_int_equal(fl_simclock_init(&c, &sim, 0, 0), 0);
	uint64_t at[5] = {5000, 1000, 3000, 1000, 2000};
	for (int i = 0; i < 5; i++) {
		fl_timer_init(&t[i], record_fire, &f);
		fl_timer_arm(&c.base, &t[i], at[i]);
	}
	fl_timer_cancel(&c.base, &t[2]);
	fl_sim_run_until(&sim, 10000);
	assert_int_equal(f.n, 4);
	int want[4] = {1, 1, 2, 5};
	for (int i = 0; i < 4; i++)
		assert_int_equal(f.order[i], want[i]);
	assert_true(sim.now_us == 10000);
	fl_simclock_free(&c);
	fl_sim_free(&sim);
}

static void paused_clock_fires_nothing_but_keeps_time(void **state)
{
	(void)state;
	struct fl_sim sim;
	struct fl_simclock c;
	struct fl_timer t;
	struct fired f = {.n = 0};
	fl_sim_init(&sim, 1);
	fl_simclock_init(&c, &sim, 0, 0);
	fl_timer_init(&t, record_fire, &f);
	fl_timer_arm(&c.base, &t, 2000);
	fl_sim_run_until(&sim, 1000);
	fl_simclock_pause(&c);
	fl_sim_run_until(&sim, 9000);
	assert_int_equal(f.n, 0);
	/* Like CLOCK_MONOTONIC of a SIGSTOPped process: time goes on. */
	assert_true(fl_now_us(&c.base) == 9000);
	fl_simclock_resume(&c);
	fl_sim_run_until(&sim, 9000);
	assert_int_equal(f.n, 1);
	assert_true(fl_now_us(&c.base) == 9000);
	fl_simclock_free(&c);
	fl_sim_free(&sim);
}

static void drifting_clock_runs_at_its_rate(void **state)
{
	(void)state;
	struct fl_sim sim;
	struct fl_simclock fast, slow;
	fl_sim_init(&sim, 1);
	fl_simclock_init(&fast, &sim, 0, 1000);   /* +0.1 % */
	fl_simclock_init(&slow, &sim, 0, -1000);
	fl_sim_run_until(&sim, 10 * FL_US_PER_S);
	assert_true(fl_now_us(&fast.base) == 10010000);
	assert_true(fl_now_us(&slow.base) == 9990000);
	fl_simclock_free(&fast);
	fl_simclock_free(&slow);
	fl_sim_free(&sim);
}

static void error_codes_have_text_in_either_sign(void **state)
{
	(void)state;
	assert_string_equal(fl_strerror(-FL_ECHECKSUM), "bad checksum");
	assert_string_equal(fl_strerror(FL_ECHECKSUM), "bad checksum");
	assert_string_equal(fl_strerror(-9999), "unknown error");
	for (int i = 0; i < FL_ERRNO_MAX; i++)
		assert_string_not_equal(fl_strerror(i), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_matches_the_iscsi_check_value),
		cmocka_unit_test(crc32c_slicing_equals_bytewise_at_every_length),
		cmocka_unit_test(rand_is_reproducible_from_its_seed),
		cmocka_unit_test(sim_fires_timers_in_time_then_arming_order),
		cmocka_unit_test(paused_clock_fires_nothing_but_keeps_time),
		cmocka_unit_test(drifting_clock_runs_at_its_rate),
		cmocka_unit_test(error_codes_have_text_in_either_sign),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
