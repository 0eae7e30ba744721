/* Derivation of every lockspace delay from the io_timeout (see timeouts.h). */
#include "common/assert.h"
#include "common/loop.h"
#include "common/mutant.h"
#include "disklock/timeouts.h"

bool ls_io_timeout_valid(uint32_t io_timeout_s)
{
	return io_timeout_s >= 1 && io_timeout_s <= LS_IO_TIMEOUT_MAX_S;
}

void ls_timing_fencelock(uint32_t io_timeout_s, struct ls_timing *t)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(ls_io_timeout_valid(io_timeout_s));
	uint64_t T = (uint64_t)io_timeout_s * FL_US_PER_S;
	t->io_timeout_s = io_timeout_s;
	t->sanlock = false;
	t->io_us = T;
	t->renew_us = LS_RENEW_T * T;
	t->fail_us = LS_FAIL_T * T;
	t->kill_us = LS_KILL_T * T;
	t->margin_us = LS_MARGIN_T * T;
	t->dead_us = t->fail_us + t->kill_us + t->margin_us;
	FL_ASSERT(t->dead_us == LS_DEAD_T * T);
	if (FL_MUTANT_IS(FL_MUT_D_EQUALS_F))
		t->dead_us = t->fail_us;
}

void ls_timing_sanlock(uint32_t io_timeout_s, struct ls_timing *t)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(ls_io_timeout_valid(io_timeout_s));
	uint64_t N = (uint64_t)io_timeout_s * FL_US_PER_S;
	t->io_timeout_s = io_timeout_s;
	t->sanlock = true;
	t->io_us = N;
	t->renew_us = 2 * N;
	t->fail_us = 8 * N;
	t->kill_us = 0;
	t->margin_us = 0;
	t->dead_us = 8 * N + (uint64_t)LS_SANLOCK_WATCHDOG_FIRE_S * FL_US_PER_S;
	FL_ASSERT(t->dead_us > t->fail_us);
}

void ls_timing_for_record(const struct fl_leader *l, uint32_t fallback_io_timeout_s, struct ls_timing *t)
{
	FL_ASSERT(l != NULL);
	FL_ASSERT(t != NULL);
	FL_ASSERT(ls_io_timeout_valid(fallback_io_timeout_s));
	uint32_t n = l->io_timeout;
	if (!ls_io_timeout_valid(n))
		n = fallback_io_timeout_s;
	if (fl_mark_valid(l))
		ls_timing_fencelock(n, t);
	else
		ls_timing_sanlock(n, t);
}

uint64_t ls_acquire_short_wait_us(uint32_t io_timeout_s)
{
	FL_ASSERT(ls_io_timeout_valid(io_timeout_s));
	return (uint64_t)LS_ACQUIRE_SHORT_T * io_timeout_s * FL_US_PER_S;
}

uint64_t ls_acquire_large_wait_us(const struct ls_timing *record_timing)
{
	FL_ASSERT(record_timing != NULL);
	FL_ASSERT(record_timing->dead_us > 0);
	/* sanlock waits max(host_dead, renewal + 6 io_timeouts): the paper's
	 * bound (a renewal period plus the I/O delays of a racing acquirer)
	 * and the time after which the old owner provably stopped. For
	 * fencelock timing that is 7T, for sanlock's 8N + 60 s. */
	uint64_t paper = record_timing->renew_us + 6 * record_timing->io_us;
	return FL_MAX(record_timing->dead_us, paper);
}
