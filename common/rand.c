/* xoshiro256** by Blackman and Vigna (public domain algorithm). */
#include "common/assert.h"
#include "common/rand.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void fl_rand_seed(struct fl_rand *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t fl_rand_next(struct fl_rand *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t fl_rand_below(struct fl_rand *r, uint64_t n)
{
	FL_ASSERT(n > 0);
	/* Rejection sampling avoids modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do {
		x = fl_rand_next(r);
	} while (x >= limit);
	return x % n;
}

uint64_t fl_rand_range(struct fl_rand *r, uint64_t lo, uint64_t hi)
{
	FL_ASSERT(lo <= hi);
	if (hi - lo == UINT64_MAX)
		return fl_rand_next(r);
	return lo + fl_rand_below(r, hi - lo + 1);
}

int fl_rand_chance(struct fl_rand *r, uint64_t num, uint64_t den)
{
	FL_ASSERT(den > 0);
	return fl_rand_below(r, den) < num;
}
