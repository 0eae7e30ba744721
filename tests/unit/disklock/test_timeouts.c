/* Unit tests of the timing table: fencelock's R/F/K/M/D from T, sanlock's
 * from N, and which one judges a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "common/loop.h"
#include "disklock/lockspace.h"
#include "disklock/timeouts.h"

#define S(x) ((uint64_t)(x) * FL_US_PER_S)

static void fencelock_timing_derives_from_T(void **state)
{
	(void)state;
	struct ls_timing t;
	ls_timing_fencelock_ms(1000, &t);
	assert_false(t.sanlock);
	assert_true(t.renew_us == S(1) && t.fail_us == S(4) && t.kill_us == S(1));
	assert_true(t.margin_us == S(1) && t.dead_us == S(6));
	ls_timing_fencelock_ms(10000, &t);
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
	ls_timing_for_record_ms(&l, 1000, &t);
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
	ls_timing_for_record_ms(&l, 1000, &t);
	assert_true(t.sanlock);
	assert_true(t.dead_us == S(140));
}

static void a_record_without_io_timeout_uses_the_fallback(void **state)
{
	(void)state;
	struct fl_leader l = {.owner_id = 1, .owner_generation = 1, .timestamp = 5, .io_timeout = 0};
	struct ls_timing t;
	ls_timing_for_record_ms(&l, 3000, &t);
	assert_true(t.sanlock && t.fail_us == S(24));
}

static void acquire_waits_follow_the_records_timing(void **state)
{
	(void)state;
	struct ls_timing t;
	assert_true(ls_acquire_short_wait_us_ms(1000) == S(2));
	assert_true(ls_acquire_short_wait_us_ms(250) == 500000u);
	ls_timing_fencelock_ms(1000, &t);
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
	/* T in milliseconds: 100 ms..300 s, whole seconds above 65535 ms. */
	assert_false(ls_io_timeout_ms_valid(0));
	assert_false(ls_io_timeout_ms_valid(99));
	assert_true(ls_io_timeout_ms_valid(100));
	assert_true(ls_io_timeout_ms_valid(250));
	assert_true(ls_io_timeout_ms_valid(65535));
	assert_false(ls_io_timeout_ms_valid(65536));
	assert_true(ls_io_timeout_ms_valid(66000));
	assert_true(ls_io_timeout_ms_valid(300000));
	assert_false(ls_io_timeout_ms_valid(300001));
	assert_false(ls_io_timeout_ms_valid(301000));
	assert_false(ls_io_timeout_ms_valid(UINT32_MAX));
	/* A record's whole seconds are rounded up: older readers wait longer. */
	assert_int_equal(ls_io_timeout_record_s(100), 1);
	assert_int_equal(ls_io_timeout_record_s(1000), 1);
	assert_int_equal(ls_io_timeout_record_s(1001), 2);
	assert_int_equal(ls_io_timeout_record_s(300000), 300);
	assert_true(ls_timestamp_unit_us(1000) == FL_US_PER_S);
	assert_true(ls_timestamp_unit_us(500) == FL_US_PER_MS);
}

static void sub_second_timing_derives_from_T_in_ms(void **state)
{
	(void)state;
	struct ls_timing t;
	ls_timing_fencelock_ms(250, &t);
	assert_true(t.io_us == 250000u && t.renew_us == 250000u && t.fail_us == S(1));
	assert_true(t.kill_us == 250000u && t.margin_us == 250000u && t.dead_us == 1500000u);
	ls_timing_fencelock_ms(100, &t);
	assert_true(t.dead_us == 600000u);
}

/* A record of a host at T = 500 ms: 1 s rounded up, 500 ms under FLK2. */
static struct fl_leader ms_record(uint16_t ms)
{
	struct fl_leader l = {.owner_id = 3, .owner_generation = 2, .timestamp = 123456, .io_timeout = 1,
			      .unused2 = ms};
	l.unused1 = fl_mark_compute(&l);
	return l;
}

static void a_flk2_record_is_judged_by_its_milliseconds(void **state)
{
	(void)state;
	struct fl_leader l = ms_record(500);
	struct ls_timing t;
	assert_true(l.unused1 >> 32 == FL_MARK2_MAGIC);
	assert_true(fl_mark_valid(&l));
	assert_int_equal(fl_leader_io_timeout_ms(&l), 500);
	ls_timing_for_record_ms(&l, 1000, &t);
	assert_false(t.sanlock);
	assert_true(t.dead_us == S(3));
	/* Whole seconds keep FLK1, byte for byte what older fencelock wrote. */
	struct fl_leader w = {.owner_id = 3, .owner_generation = 2, .timestamp = 9, .io_timeout = 2};
	w.unused1 = fl_mark_compute(&w);
	assert_true(w.unused1 >> 32 == FL_MARK_MAGIC);
	assert_int_equal(fl_leader_io_timeout_ms(&w), 2000);
}

static void hostile_milliseconds_are_never_believed(void **state)
{
	(void)state;
	struct ls_timing t;
	/* A flipped unused2 (not covered by sanlock's checksum) breaks the
	 * mark: the record is judged by sanlock's slower whole seconds. */
	struct fl_leader l = ms_record(500);
	l.unused2 = 100;
	assert_false(fl_mark_valid(&l));
	ls_timing_for_record_ms(&l, 1000, &t);
	assert_true(t.sanlock && t.dead_us == S(68));
	/* Flipped seconds beside them too. */
	l = ms_record(500);
	l.io_timeout = 2;
	assert_false(fl_mark_valid(&l));
	/* Milliseconds under an FLK1 magic: not a valid mark. */
	l = ms_record(500);
	l.unused1 = (uint64_t)FL_MARK_MAGIC << 32 | (l.unused1 & 0xffffffffu);
	assert_false(fl_mark_valid(&l));
	/* A validly marked but impossible value (below 100 ms, whole seconds,
	 * or seconds that are not its rounding) names no T: the fallback. */
	static const uint16_t bad[] = {1, 99, 2000, 65535};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = ms_record(bad[i]);
		assert_true(fl_mark_valid(&l));
		assert_int_equal(fl_leader_io_timeout_ms(&l), 0);
		ls_timing_for_record_ms(&l, 1000, &t);
		assert_false(t.sanlock);
		assert_true(t.dead_us == S(6));
	}
	/* sanlock rewrote a 500 ms record (new timestamp, unused fields
	 * copied): sanlock's timing by its whole second. */
	l = ms_record(500);
	l.timestamp++;
	ls_timing_for_record_ms(&l, 1000, &t);
	assert_true(t.sanlock && t.dead_us == S(68));
}

/* An observer judges a fencelock record by the longer of its T and the
 * record's: a record claiming a shorter T (a flipped or forged field) cannot
 * make its host look dead sooner. */
static void an_observer_never_judges_a_record_by_a_shorter_t_than_its_own(void **state)
{
	(void)state;
	struct ls_host_obs o = {.seen = true, .marked = true, .timestamp = 9, .io_timeout = 1, .io_timeout_ms = 500};
	struct ls_timing t;
	ls_obs_timing_ms(&o, 1000, &t);
	assert_false(t.sanlock);
	assert_true(t.dead_us == S(6));
	ls_obs_timing_ms(&o, 500, &t);
	assert_true(t.dead_us == S(3));
	o.io_timeout = 2;
	o.io_timeout_ms = 2000;
	ls_obs_timing_ms(&o, 1000, &t);
	assert_true(t.dead_us == S(12));
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
		cmocka_unit_test(sub_second_timing_derives_from_T_in_ms),
		cmocka_unit_test(a_flk2_record_is_judged_by_its_milliseconds),
		cmocka_unit_test(hostile_milliseconds_are_never_believed),
		cmocka_unit_test(an_observer_never_judges_a_record_by_a_shorter_t_than_its_own),
	};
	return cmocka_run_group_tests_name("timeouts", tests, NULL, NULL);
}
