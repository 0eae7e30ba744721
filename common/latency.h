/* A latency recorder: count, sum, maximum, cumulative buckets (for a
 * Prometheus histogram) and a window of the most recent samples (for exact
 * percentiles over recent history).
 *
 * The daemon keeps one for renewal lateness: how long after its scheduled
 * time a delta-lease renewal actually started. Lateness is what a stalled
 * loop costs the lease (the renewal interval is planned so that a renewal
 * that starts on time finishes long before F); the I/O time itself is
 * recorded separately. Pure: no clock, no allocation, no locks. */
#ifndef FL_LATENCY_H
#define FL_LATENCY_H

#include <stdint.h>

#define FL_LAT_WINDOW 1024u
#define FL_LAT_BUCKETS 17u

/* Upper bounds (microseconds, inclusive) of the buckets; the last one is
 * UINT64_MAX (+Inf). */
extern const uint64_t fl_lat_bounds_us[FL_LAT_BUCKETS];

struct fl_lat {
	uint64_t count, sum_us, max_us;
	uint64_t bucket[FL_LAT_BUCKETS];   /* not cumulative: samples <= bound and > the previous bound */
	uint32_t win_len, win_pos;
	uint32_t win[FL_LAT_WINDOW];       /* microseconds, saturated at UINT32_MAX */
};

/* Records one sample of us microseconds. */
void fl_lat_add(struct fl_lat *l, uint64_t us);

/* The q-quantile (0 <= q <= 1, nearest rank) of the window's samples, in
 * microseconds; 0 when there is none. */
uint64_t fl_lat_quantile(const struct fl_lat *l, double q);

#endif
