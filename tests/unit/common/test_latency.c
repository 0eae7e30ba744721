/* Unit tests of the latency recorder (common/latency.h): quantiles by
 * nearest rank over the recent window, buckets, maximum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/latency.h"

static void quantiles_are_nearest_rank_over_the_samples(void **state)
{
	(void)state;
	static struct fl_lat l;
	memset(&l, 0, sizeof(l));
	assert_int_equal(fl_lat_quantile(&l, 0.99), 0);
	for (uint64_t i = 100; i >= 1; i--) /* out of order on purpose */
		fl_lat_add(&l, i * 1000);
	assert_int_equal(fl_lat_quantile(&l, 0.5), 50000);
	assert_int_equal(fl_lat_quantile(&l, 0.99), 99000);
	assert_int_equal(fl_lat_quantile(&l, 1.0), 100000);
	assert_int_equal(fl_lat_quantile(&l, 0.0), 1000);
	assert_int_equal(l.max_us, 100000);
	assert_int_equal(l.count, 100);
}

static void the_window_forgets_old_samples_but_the_maximum_stays(void **state)
{
	(void)state;
	static struct fl_lat l;
	memset(&l, 0, sizeof(l));
	fl_lat_add(&l, 7000000);
	for (uint32_t i = 0; i < FL_LAT_WINDOW; i++)
		fl_lat_add(&l, 10);
	assert_int_equal(fl_lat_quantile(&l, 1.0), 10);
	assert_int_equal(l.max_us, 7000000);
	assert_int_equal(l.win_len, FL_LAT_WINDOW);
}

static void each_sample_lands_in_the_first_bucket_that_holds_it(void **state)
{
	(void)state;
	static struct fl_lat l;
	memset(&l, 0, sizeof(l));
	fl_lat_add(&l, 0);
	fl_lat_add(&l, 100);    /* bounds are inclusive */
	fl_lat_add(&l, 101);
	fl_lat_add(&l, 49999);
	fl_lat_add(&l, UINT64_MAX / 2);
	assert_int_equal(l.bucket[0], 2);
	assert_int_equal(l.bucket[1], 1);
	assert_int_equal(l.bucket[8], 1);       /* <= 50 ms */
	assert_int_equal(l.bucket[FL_LAT_BUCKETS - 1], 1);
	assert_int_equal(fl_lat_quantile(&l, 1.0), UINT32_MAX); /* saturated in the window */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quantiles_are_nearest_rank_over_the_samples),
		cmocka_unit_test(the_window_forgets_old_samples_but_the_maximum_stays),
		cmocka_unit_test(each_sample_lands_in_the_first_bucket_that_holds_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
