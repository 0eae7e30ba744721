/* Unit tests of the timing table: fencelock's R/F/K/M/D from T, sanlock's
 * from N, and which one judges a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "common/loop.h"
#include "disklock/timeouts.h"

#define S(x) ((uint64_t)(x) * FL_US_PER_S)

static void fencelock_timing_derives_from_T(void **state)
{
	(void)state;
	struct ls_timing t;
	ls_timing_fencelock(1, &t);
	assert_false(t.sanlock);
	assert_true(t.renew_us == S(1) && t.fail_us == S(4) && t.kill_us == S(1));
	assert_true(t.margin_us == S(1) && t.dead_us == S(6));
	ls_timing_fencelock(10, &t);
	assert_true(t.renew_us == S(10) && t.fail_us == S(40) && t.dead_us == S(60));
}

static void sanlock_timing_is_2N_8N_and_8N_plus_60(void **state)
{
	(void)state;
	struct ls_timing t;
	ls_timing_sanlock(10, &t);
	assert_true(t.sanlock);
	assert_true(t.renew_us == S(20) && t.fail_us == S(80) && t.dead_us == S(140));
	ls_timing_sanlock(1, &t);
	assert_true(t.dead_us == S(68));
}

static void a_marked_record_is_judged_by_fencelock_timing(void **state)
{
	(void)state;
	struct fl_leader l = {.owner_id = 3, .owner_generation = 2, .timestamp = 1000, .io_timeout = 2};
	struct ls_timing t;
	l.unused1 = fl_mark_compute(&l);
	ls_timing_for_record(&l, 1, &t);
	assert_false(t.sanlock);
	assert_true(t.dead_us == S(12));
}

static void an_unmarked_record_is_judged_by_sanlock_timing(void **state)
{
	(void)state;
	struct fl_leader l = {.owner_id = 3, .owner_generation = 2, .timestamp = 1000, .io_timeout = 10};
	struct ls_timing t;
	l.unused1 = fl_mark_compute(&l);
	l.timestamp++; /* sanlock renewed it, copying unused1 */
	ls_timing_for_record(&l, 1, &t);
	assert_true(t.sanlock);
	assert_true(t.dead_us == S(140));
}

static void a_record_without_io_timeout_uses_the_fallback(void **state)
{
	(void)state;
	struct fl_leader l = {.owner_id = 1, .owner_generation = 1, .timestamp = 5, .io_timeout = 0};
	struct ls_timing t;
	ls_timing_for_record(&l, 3, &t);
	assert_true(t.sanlock && t.fail_us == S(24));
}

static void acquire_waits_follow_the_records_timing(void **state)
{
	(void)state;
	struct ls_timing t;
	assert_true(ls_acquire_short_wait_us(1) == S(2));
	ls_timing_fencelock(1, &t);
	assert_true(ls_acquire_large_wait_us(&t) == S(7)); /* R + 6T > D */
	ls_timing_sanlock(1, &t);
	assert_true(ls_acquire_large_wait_us(&t) == S(68));
}

static void io_timeout_bounds(void **state)
{
	(void)state;
	assert_false(ls_io_timeout_valid(0));
	assert_true(ls_io_timeout_valid(1));
	assert_true(ls_io_timeout_valid(LS_IO_TIMEOUT_MAX_S));
	assert_false(ls_io_timeout_valid(LS_IO_TIMEOUT_MAX_S + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fencelock_timing_derives_from_T),
		cmocka_unit_test(sanlock_timing_is_2N_8N_and_8N_plus_60),
		cmocka_unit_test(a_marked_record_is_judged_by_fencelock_timing),
		cmocka_unit_test(an_unmarked_record_is_judged_by_sanlock_timing),
		cmocka_unit_test(a_record_without_io_timeout_uses_the_fallback),
		cmocka_unit_test(acquire_waits_follow_the_records_timing),
		cmocka_unit_test(io_timeout_bounds),
	};
	return cmocka_run_group_tests_name("timeouts", tests, NULL, NULL);
}
