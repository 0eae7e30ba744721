/* All lockspace timing in one place.
 *
 * fencelock derives every delay from one number, the io_timeout T in
 * milliseconds, 100 ms to 300 s (docs/design.md, "Time"): renew every R = T, a host that has not completed
 * a renewal for F = 4T since the start of its last good one stops its VMs, by
 * F + K (K = T) they are dead, M = T covers clock-rate drift, and an observer
 * that saw no change of a host's timestamp for D = F + K + M = 6T may take its
 * leases. A record that does not carry a valid fencelock mark was written by
 * sanlock (or touched by it), whose hosts only promise to be gone after
 * sanlock's own, slower timing: fail after 8N, dead after 8N + 60 s, with N
 * the io_timeout written in the record. ls_timing_for_record() picks the
 * timing an observer must judge a record by. Everything is in microseconds. */
#ifndef FL_TIMEOUTS_H
#define FL_TIMEOUTS_H

#include <stdbool.h>
#include <stdint.h>
#include "disklock/ondisk.h"

#define LS_IO_TIMEOUT_DEFAULT_S 1u
#define LS_IO_TIMEOUT_MAX_S 300u
/* fencelock's T in milliseconds. A record carries T in whole seconds (its
 * io_timeout field, rounded up: what sanlock and older fencelock read) and,
 * when T is not whole seconds, T in milliseconds in its 16-bit unused2 field
 * under the FLK2 mark (ondisk.h); so a T that is not whole seconds must fit
 * 16 bits (LS_IO_TIMEOUT_FRACTIONAL_MAX_MS). */
#define LS_IO_TIMEOUT_DEFAULT_MS 1000u
#define LS_IO_TIMEOUT_MIN_MS 100u
#define LS_IO_TIMEOUT_MAX_MS (LS_IO_TIMEOUT_MAX_S * 1000u)
#define LS_IO_TIMEOUT_FRACTIONAL_MAX_MS 65535u

/* fencelock's delays in multiples of T (ls_timing_fencelock(); the model's
 * cls_timings_default() uses the same). */
#define LS_RENEW_T 1u   /* R */
#define LS_FAIL_T 4u    /* F */
#define LS_KILL_T 1u    /* K */
#define LS_MARGIN_T 1u  /* M */
#define LS_DEAD_T (LS_FAIL_T + LS_KILL_T + LS_MARGIN_T) /* D */
#define LS_ACQUIRE_SHORT_T 2u /* the wait after writing our record */
/* A host renews several times before it gives up: a single slow renewal
 * (one I/O at its deadline T) must not stop its VMs. */
_Static_assert(2u * LS_RENEW_T < LS_FAIL_T, "at least two renewals fit before F");
/* The VMs are stopped at F and dead by F + K; an observer waits longer still
 * (M covers clock-rate drift) before it takes a lease: R < F < F + K < D. */
_Static_assert(LS_RENEW_T < LS_FAIL_T, "R < F");
_Static_assert(LS_KILL_T > 0u, "F < F + K");
_Static_assert(LS_MARGIN_T > 0u, "F + K < D");
_Static_assert(LS_DEAD_T == 6u, "D = 6T, as docs/design.md gives it");
/* A racing writer's record lands within one I/O deadline; the short wait
 * covers it and a renewal period, and is shorter than D. */
_Static_assert(LS_ACQUIRE_SHORT_T > LS_RENEW_T, "the short wait outlasts one renewal");
_Static_assert(LS_ACQUIRE_SHORT_T < LS_DEAD_T, "the short wait is shorter than D");

/* sanlock 3.8.5's fixed watchdog fire time, part of its host_dead. */
#define LS_SANLOCK_WATCHDOG_FIRE_S 60u

/* The T a record asks to be judged by (ms), or 0 if it names none: its
 * whole seconds, or, under a valid FLK2 mark, its milliseconds. */
uint32_t fl_leader_io_timeout_ms(const struct fl_leader *l);

struct ls_timing {
	uint32_t io_timeout_ms;  /* T (fencelock) or N (sanlock; whole seconds) */
	bool sanlock;            /* true: sanlock's timing (unmarked record) */
	uint64_t io_us;          /* per-I/O deadline */
	uint64_t renew_us;       /* R = T; sanlock 2N */
	uint64_t fail_us;        /* F = 4T; sanlock 8N */
	uint64_t kill_us;        /* K = T; sanlock: none beyond fail */
	uint64_t margin_us;      /* M = T */
	uint64_t dead_us;        /* D = F + K + M = 6T; sanlock 8N + 60 s */
};

/* fencelock's timing for T = io_timeout_ms (ls_io_timeout_ms_valid()). */
void ls_timing_fencelock_ms(uint32_t io_timeout_ms, struct ls_timing *t);
/* sanlock's timing for a record carrying io_timeout_s (1..LS_IO_TIMEOUT_MAX_S):
 * sanlock's whole seconds, whatever fencelock's T is. */
void ls_timing_sanlock(uint32_t io_timeout_s, struct ls_timing *t);
/* The timing an observer judges record l by: fencelock's (from the record's
 * T, fl_leader_io_timeout_ms()) if l carries a valid mark, sanlock's (from
 * its whole seconds) otherwise. A record without a usable T (written by an
 * old tool) is judged with fallback_io_timeout_ms (rounded up to whole
 * seconds for sanlock's timing). */
void ls_timing_for_record_ms(const struct fl_leader *l, uint32_t fallback_io_timeout_ms, struct ls_timing *t);

/* Acquire waits (sanlock's delta-lease algorithm): after writing our record
 * we wait 2T and re-read (a racing writer must have landed by then); before
 * writing over a record that is neither free nor ours we watch it for
 * max(dead time, renewal + 6 I/O timeouts) of the record's timing (it must
 * not change): 7T for a fencelock record, 8N + 60 s for a sanlock one. */
uint64_t ls_acquire_short_wait_us_ms(uint32_t io_timeout_ms);
uint64_t ls_acquire_large_wait_us(const struct ls_timing *record_timing);

/* True if io_timeout_s is usable as a record's whole-second io_timeout
 * (1..LS_IO_TIMEOUT_MAX_S). */
bool ls_io_timeout_valid(uint32_t io_timeout_s);
/* True if io_timeout_ms is usable as fencelock's T: LS_IO_TIMEOUT_MIN_MS to
 * LS_IO_TIMEOUT_MAX_MS, and whole seconds above
 * LS_IO_TIMEOUT_FRACTIONAL_MAX_MS. */
bool ls_io_timeout_ms_valid(uint32_t io_timeout_ms);
/* The whole seconds a record carries for T (rounded up, so sanlock and
 * older fencelock, which read only them, wait at least as long). */
uint32_t ls_io_timeout_record_s(uint32_t io_timeout_ms);
/* The unit of the timestamps a host at T writes into its record: seconds
 * for whole-second T (sanlock's unit), milliseconds otherwise, so that a
 * renewal every R < 1 s still changes the timestamp. Observers only compare
 * a timestamp with its earlier values, never with a clock. */
uint64_t ls_timestamp_unit_us(uint32_t io_timeout_ms);

#endif
