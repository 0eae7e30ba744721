/* The delta-lease renewal allocates nothing once warmed up: the real
 * lockspace state machine renews its lease on the real block device (libaio,
 * O_DIRECT) over a regular file under the build directory, driven by the
 * real epoll loop, while every malloc, calloc, realloc, posix_memalign and
 * aligned_alloc of the project's code is counted (tests/unit/alloc_count.h;
 * the Makefile links this test with ALLOC_WRAP). The loop's clock is the
 * monotonic clock plus an offset the test moves forward by one renewal
 * period between renewals (--wrap=fl_monotonic_us), only while no I/O is in
 * flight, so that many renewals take milliseconds rather than seconds and no
 * I/O deadline is ever crossed by the jump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc_count.h"
#include "common/log.h"
#include "common/loop.h"
#include "disklock/bdev.h"
#include "scratch_dir.h"
#include "disklock/lockspace.h"
#include "fencelock/error.h"

#define DEV_BYTES (2u << 20)
#define ALIGN_BYTES (1u << 20)
#define WARMUP_RENEWALS 2u
#define COUNTED_RENEWALS 12u
#define FULL_SCAN_EVERY 4u /* full area reads among the counted renewals too */

static char scratch_dir[PATH_MAX + 64];
static uint64_t clock_offset_us;

uint64_t __real_fl_monotonic_us(void);
uint64_t __wrap_fl_monotonic_us(void);
uint64_t __wrap_fl_monotonic_us(void) { return __real_fl_monotonic_us() + clock_offset_us; }

struct fx {
	struct fl_eloop *el;
	struct fl_bdev *dev;
	struct ls_lockspace *ls;
	unsigned events[LS_EV_RELEASED + 1];
	int last_result;
	char path[PATH_MAX + 96];
};

static void on_event(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg)
{
	struct fx *f = arg;
	(void)ls;
	f->events[ev]++;
	f->last_result = result;
}

/* Runs the loop until events[ev] reaches want, at most 10 s of real time. */
static void run_until(struct fx *f, enum ls_event ev, unsigned want)
{
	uint64_t end = __real_fl_monotonic_us() + 10 * FL_US_PER_S;
	while (f->events[ev] < want && __real_fl_monotonic_us() < end)
		assert_int_equal(fl_eloop_run_once(f->el, 10 * FL_US_PER_MS), 0);
	if (f->events[ev] != want)
		fail_msg("event %d: %u of %u (renew_ok %u failed %u expired %u result %d)", (int)ev, f->events[ev], want,
			 f->events[LS_EV_RENEW_OK], f->events[LS_EV_RENEW_FAILED], f->events[LS_EV_EXPIRED], f->last_result);
	assert_int_equal(f->last_result, 0);
}

/* One renewal. The last one ended (its write completed, nothing in flight,
 * the next one is due R after it began), so the clock may jump by R. */
static void renew_once(struct fx *f)
{
	unsigned ok = f->events[LS_EV_RENEW_OK];
	clock_offset_us += FL_US_PER_S; /* R = T = 1 s */
	run_until(f, LS_EV_RENEW_OK, ok + 1);
	if (f->events[LS_EV_RENEW_FAILED] != 0)
		fail_msg("renewal failed: %s", fl_strerror(f->last_result));
	assert_int_equal(f->events[LS_EV_EXPIRED], 0);
}

static void quiet(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static struct fx *fx_new(uint32_t sector)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	if (getenv("NOALLOC_LOG") == NULL)
		fl_log_set_sink(quiet, NULL);
	f->el = fl_eloop_new();
	assert_non_null(f->el);
	snprintf(f->path, sizeof(f->path), "%s/renew-%u.img", scratch_dir, sector);
	struct fl_bdev_aio_opts o = {.create = true, .create_size_bytes = DEV_BYTES, .sector_size = sector};
	char err[512] = "";
	int rv = fl_bdev_aio_open(f->el, f->path, &o, &f->dev, err, sizeof(err));
	if (rv != 0)
		fail_msg("cannot open a test device: %s (%s); this test needs a filesystem with O_DIRECT", err,
			 fl_strerror(rv));
	struct ls_config cfg = {.space_name = "NOALLOC", .host_id = 3, .host_name = "h3"};
	cfg.align_bytes = ALIGN_BYTES;
	cfg.io_timeout_ms = 1000;
	cfg.full_scan_every = FULL_SCAN_EVERY;
	assert_int_equal(ls_new(fl_eloop_loop(f->el), f->dev, &cfg, on_event, f, &f->ls), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	fl_bdev_close(f->dev);
	ls_free(f->ls);
	unlink(f->path);
	fl_eloop_free(f->el);
	free(f);
	fl_log_set_sink(NULL, NULL);
}

static void renewals_allocate_nothing_after_warm_up(uint32_t sector)
{
	struct fx *f = fx_new(sector);
	assert_int_equal(ls_format(f->ls), 0);
	run_until(f, LS_EV_FORMATTED, 1);
	assert_int_equal(ls_acquire(f->ls), 0);
	run_until(f, LS_EV_ACQUIRED, 1); /* the acquire's short wait passes in real time (2 s) */
	/* The first renewal was due during that wait: it runs at once, and the
	 * clock may jump only after it ended. */
	run_until(f, LS_EV_RENEW_OK, 1);
	for (unsigned i = 0; i < WARMUP_RENEWALS; i++)
		renew_once(f);
	uint64_t ts0 = ls_own_record(f->ls)->timestamp;
	struct fl_bdev_stats s0 = f->dev->stats;

	alloc_count_start();
	for (unsigned i = 0; i < COUNTED_RENEWALS; i++)
		renew_once(f);
	unsigned allocs = alloc_count_stop();

	/* The renewals were real: one read and one write each, full reads among
	 * them, and our record on the disk moved on by at least a second each. */
	assert_int_equal(f->dev->stats.reads - s0.reads, COUNTED_RENEWALS);
	assert_int_equal(f->dev->stats.writes - s0.writes, COUNTED_RENEWALS);
	uint64_t partial = (uint64_t)ls_renew_read_hosts(f->ls) * sector;
	uint64_t full = (uint64_t)ls_area_hosts(f->ls) * sector;
	assert_true(full > partial);
	assert_true(f->dev->stats.bytes_read - s0.bytes_read >= (COUNTED_RENEWALS / FULL_SCAN_EVERY) * full);
	assert_true(ls_own_record(f->ls)->timestamp >= ts0 + COUNTED_RENEWALS);
	if (allocs != 0)
		fail_msg("%u allocations in %u renewals on %u-byte sectors (want 0)", allocs, COUNTED_RENEWALS, sector);
	print_message("%u-byte sectors: %u allocations in %u renewals\n", sector, allocs, COUNTED_RENEWALS);
	fx_free(f);
}

static void renewals_on_512_byte_sectors_allocate_nothing(void **state)
{
	(void)state;
	renewals_allocate_nothing_after_warm_up(512);
}

static void renewals_on_4096_byte_sectors_allocate_nothing(void **state)
{
	(void)state;
	renewals_allocate_nothing_after_warm_up(4096);
}

/* The counter itself sees an allocation made by the project's code. */
static void the_counter_sees_an_allocation(void **state)
{
	(void)state;
	alloc_count_start();
	struct fl_eloop *el = fl_eloop_new(); /* common/loop_epoll.c: calloc */
	unsigned n = alloc_count_stop();
	assert_non_null(el);
	fl_eloop_free(el);
	assert_true(n >= 1);
}

int main(void)
{
	if (test_scratch_dir(scratch_dir, sizeof(scratch_dir), "renew-noalloc") != 0) {
		fprintf(stderr, "test_renew_noalloc: cannot create a scratch directory under the build directory: %s\n",
			strerror(errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_counter_sees_an_allocation),
		cmocka_unit_test(renewals_on_512_byte_sectors_allocate_nothing),
		cmocka_unit_test(renewals_on_4096_byte_sectors_allocate_nothing),
	};
	int rv = cmocka_run_group_tests_name("renew_noalloc", tests, NULL, NULL);
	rmdir(scratch_dir);
	return rv;
}
