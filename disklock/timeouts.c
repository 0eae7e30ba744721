/* Derivation of every lockspace delay from the io_timeout (see timeouts.h). */
#include "common/assert.h"
#include "common/loop.h"
#include "common/mutant.h"
#include "disklock/timeouts.h"

bool ls_io_timeout_valid(uint32_t io_timeout_s)
{
	return io_timeout_s >= 1 && io_timeout_s <= LS_IO_TIMEOUT_MAX_S;
}

bool ls_io_timeout_ms_valid(uint32_t io_timeout_ms)
{
	if (io_timeout_ms < LS_IO_TIMEOUT_MIN_MS || io_timeout_ms > LS_IO_TIMEOUT_MAX_MS)
		return false;
	return io_timeout_ms <= LS_IO_TIMEOUT_FRACTIONAL_MAX_MS || io_timeout_ms % 1000u == 0;
}

uint32_t ls_io_timeout_record_s(uint32_t io_timeout_ms)
{
	FL_ASSERT(ls_io_timeout_ms_valid(io_timeout_ms));
	uint32_t s = (io_timeout_ms + 999u) / 1000u;
	FL_ASSERT(ls_io_timeout_valid(s));
	return s;
}

uint64_t ls_timestamp_unit_us(uint32_t io_timeout_ms)
{
	return io_timeout_ms % 1000u == 0 ? FL_US_PER_S : FL_US_PER_MS;
}

uint32_t fl_leader_io_timeout_ms(const struct fl_leader *l)
{
	FL_ASSERT(l != NULL);
	if (l->unused2 == 0)
		return ls_io_timeout_valid(l->io_timeout) ? (uint32_t)l->io_timeout * 1000u : 0;
	/* Milliseconds are believed only under the FLK2 mark, which covers
	 * them, and only when the whole seconds beside them agree. */
	uint32_t ms = l->unused2;
	if (!fl_mark_valid(l) || !ls_io_timeout_ms_valid(ms) || ms % 1000u == 0 ||
	    ls_io_timeout_record_s(ms) != l->io_timeout)
		return 0;
	return ms;
}

void ls_timing_fencelock_ms(uint32_t io_timeout_ms, struct ls_timing *t)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(ls_io_timeout_ms_valid(io_timeout_ms));
	uint64_t T = (uint64_t)io_timeout_ms * FL_US_PER_MS;
	t->io_timeout_ms = io_timeout_ms;
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
	t->io_timeout_ms = io_timeout_s * 1000u;
	t->sanlock = true;
	t->io_us = N;
	t->renew_us = 2 * N;
	t->fail_us = 8 * N;
	t->kill_us = 0;
	t->margin_us = 0;
	t->dead_us = 8 * N + (uint64_t)LS_SANLOCK_WATCHDOG_FIRE_S * FL_US_PER_S;
	FL_ASSERT(t->dead_us > t->fail_us);
}

void ls_timing_for_record_ms(const struct fl_leader *l, uint32_t fallback_io_timeout_ms, struct ls_timing *t)
{
	FL_ASSERT(l != NULL);
	FL_ASSERT(t != NULL);
	FL_ASSERT(ls_io_timeout_ms_valid(fallback_io_timeout_ms));
	if (fl_mark_valid(l)) {
		uint32_t ms = fl_leader_io_timeout_ms(l);
		ls_timing_fencelock_ms(ms != 0 ? ms : fallback_io_timeout_ms, t);
		return;
	}
	/* sanlock (or a tool that touched the record) wrote it: sanlock's
	 * whole seconds judge it, never milliseconds it cannot vouch for. */
	uint32_t n = l->io_timeout;
	if (!ls_io_timeout_valid(n))
		n = ls_io_timeout_record_s(fallback_io_timeout_ms);
	ls_timing_sanlock(n, t);
}

uint64_t ls_acquire_short_wait_us_ms(uint32_t io_timeout_ms)
{
	FL_ASSERT(ls_io_timeout_ms_valid(io_timeout_ms));
	return (uint64_t)LS_ACQUIRE_SHORT_T * io_timeout_ms * FL_US_PER_MS;
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
