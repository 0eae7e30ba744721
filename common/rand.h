/* Deterministic pseudo-random numbers (xoshiro256**, seeded by splitmix64).
 *
 * Every random choice in fencelock (election timeouts, ballot back-off, the
 * simulator's faults) draws from an fl_rand owned by its module, so one seed
 * replays one simulated run exactly. */
#ifndef FL_RAND_H
#define FL_RAND_H

#include <stdint.h>

struct fl_rand {
	uint64_t s[4];
};

void fl_rand_seed(struct fl_rand *r, uint64_t seed);
uint64_t fl_rand_next(struct fl_rand *r);
/* Uniform in [0, n); n > 0. */
uint64_t fl_rand_below(struct fl_rand *r, uint64_t n);
/* Uniform in [lo, hi]; lo <= hi. */
uint64_t fl_rand_range(struct fl_rand *r, uint64_t lo, uint64_t hi);
/* True with probability num/den. */
int fl_rand_chance(struct fl_rand *r, uint64_t num, uint64_t den);

#endif
