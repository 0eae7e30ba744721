/* The latency recorder (see latency.h). */
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/latency.h"

const uint64_t fl_lat_bounds_us[FL_LAT_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, UINT64_MAX,
};

void fl_lat_add(struct fl_lat *l, uint64_t us)
{
	FL_ASSERT(l != NULL);
	l->count++;
	l->sum_us += us;
	l->max_us = us > l->max_us ? us : l->max_us;
	uint32_t b = 0;
	while (us > fl_lat_bounds_us[b]) /* ends: the last bound is UINT64_MAX */
		b++;
	l->bucket[b]++;
	l->win[l->win_pos] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	l->win_pos = (l->win_pos + 1) % FL_LAT_WINDOW;
	if (l->win_len < FL_LAT_WINDOW)
		l->win_len++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t fl_lat_quantile(const struct fl_lat *l, double q)
{
	FL_ASSERT(q >= 0.0);
	FL_ASSERT(q <= 1.0);
	if (l->win_len == 0)
		return 0;
	uint32_t s[FL_LAT_WINDOW];
	memcpy(s, l->win, l->win_len * sizeof(s[0]));
	qsort(s, l->win_len, sizeof(s[0]), cmp_u32);
	/* Nearest rank: the smallest sample with at least q of them at or below it. */
	double r = q * (double)l->win_len;
	uint32_t rank = (uint32_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	return s[rank - 1];
}
