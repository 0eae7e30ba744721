/* Helpers shared by the libFuzzer targets in tests/fuzz/fuzz_*.c.
 *
 * Each target is one LLVMFuzzerTestOneInput() that hands the input to a real
 * decoding entry point of fencelock and checks what must hold for ANY input:
 * no crash, no sanitizer report, a refusal with a -FL_E code for what is not
 * valid, and, where an encoder exists, that what decodes re-encodes to bytes
 * that decode to the same value. An invariant that does not hold aborts
 * (FUZZ_CHECK), which libFuzzer reports as a crash and saves the input.
 *
 * Many records carry a CRC, which a mutating fuzzer almost never gets right,
 * so most of the decoder would stay unexplored behind it. Targets therefore
 * read a first "mode" byte: one bit of it asks the target to recompute the
 * CRC of the fuzzed record before decoding (fuzz_fix_crc), so both the
 * checksum refusal and everything behind it are explored. */
#ifndef FL_TESTS_FUZZ_H
#define FL_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"

/* FSM limits of the fsm target and of its seeds (a snapshot restores only
 * into an FSM with the limits it was taken with): small, so that the tables
 * fill up and every "full" path is reachable. */
#define FUZZ_FSM_MAX_HOSTS 8u
#define FUZZ_FSM_MAX_VMS 8u
#define FUZZ_FSM_MAX_SLOTS 16u
#define FUZZ_FSM_SPEC_MAX 64u

/* Aborts with the failed invariant and a sentence saying which target and
 * what was expected; libFuzzer then keeps the input as crash-<sha1>. */
#define FUZZ_CHECK(cond, ...)                                                                   \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, __LINE__, \
				#cond);                                                         \
			fprintf(stderr, __VA_ARGS__);                                           \
			fputc('\n', stderr);                                                    \
			abort();                                                                \
		}                                                                               \
	} while (0)

/* The input as a stream of typed values: reads past the end give zeros, so a
 * short input is still a complete (if boring) scenario. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (in->n == 0)
		return 0;
	uint8_t v = in->p[0];
	in->p++;
	in->n--;
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t v = fuzz_u8(in);
	return (uint16_t)(v | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v = fuzz_u16(in);
	return v | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = fuzz_u32(in);
	return v | (uint64_t)fuzz_u32(in) << 32;
}

/* Copies up to n bytes of the input into dst and zero-fills the rest;
 * returns how many came from the input. */
static inline size_t fuzz_fill(struct fuzz_in *in, void *dst, size_t n)
{
	size_t k = in->n < n ? in->n : n;
	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	in->p += k;
	in->n -= k;
	return k;
}

/* Keeps the library's log lines (every refused record logs one) out of the
 * fuzzer's output; they cost time and hide libFuzzer's own reports.
 * FUZZ_DEBUG=1 in the environment keeps them all (to replay one input). */
static inline void fuzz_quiet(void)
{
	static bool done;
	if (!done) {
		fl_log_set_level(getenv("FUZZ_DEBUG") != NULL ? LOG_DEBUG : -1);
		done = true;
	}
}

#endif
