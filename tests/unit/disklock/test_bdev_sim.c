/* Unit tests of the simulated shared disk (bdev_sim.h): latency and order,
 * deadlines and late landings, stalls, injected errors, torn writes, crashes,
 * argument checks, and a paused host. Everything runs on simulated time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"

#define DISK_BYTES (1024u * 1024u)
#define SECTOR 512u
#define MAX_CALLS 64

struct fx {
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct fl_simclock host;
	struct fl_simbdev *b;
	struct fl_bdev *dev;
	struct fl_simbdev_faults *faults;
};

/* What the callbacks saw: order, results and host times. */
struct calls {
	int n;
	int tag[MAX_CALLS];
	int result[MAX_CALLS];
	uint64_t at_us[MAX_CALLS];
	struct fl_loop *loop;
	bool in_submit;
	bool ran_inside_submit;
};

struct tagged_io {
	struct fl_io io;
	int tag;
	uint8_t buf[4096];
};

static void record_cb(struct fl_io *io, int result)
{
	struct tagged_io *t = (struct tagged_io *)io;
	struct calls *c = io->arg;
	assert_true(c->n < MAX_CALLS);
	if (c->in_submit)
		c->ran_inside_submit = true;
	c->tag[c->n] = t->tag;
	c->result[c->n] = result;
	c->at_us[c->n] = fl_now_us(c->loop);
	c->n++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(fl_sim_init(&f->sim, 7), 0);
	assert_int_equal(fl_simdisk_init(&f->disk, &f->sim, DISK_BYTES, SECTOR), 0);
	assert_int_equal(fl_simclock_init(&f->host, &f->sim, 0, 0), 0);
	f->b = fl_simbdev_new(&f->disk, &f->host.base, "sim-host1", 42);
	assert_non_null(f->b);
	f->dev = fl_simbdev_bdev(f->b);
	f->faults = fl_simbdev_faults(f->b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->dev != NULL)
		fl_bdev_close(f->dev);
	fl_simclock_free(&f->host);
	fl_simdisk_free(&f->disk);
	fl_sim_free(&f->sim);
	free(f);
	return 0;
}

static void prep(struct tagged_io *t, int tag, enum fl_io_op op, uint64_t offset, uint32_t len, uint8_t fill,
		 struct calls *c)
{
	memset(t, 0, sizeof(*t));
	t->tag = tag;
	memset(t->buf, fill, sizeof(t->buf));
	t->io = (struct fl_io){.op = op, .offset = offset, .len = len, .buf = t->buf, .cb = record_cb, .arg = c};
}

static void fixed_latency(struct fx *f, uint64_t us)
{
	f->faults->latency_min_us = us;
	f->faults->latency_max_us = us;
}

static void an_io_completes_within_the_configured_latency_range(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t[8];
	f->faults->latency_min_us = 300;
	f->faults->latency_max_us = 900;
	for (int i = 0; i < 8; i++) {
		prep(&t[i], i, FL_IO_READ, (uint64_t)i * SECTOR, SECTOR, 0, &c);
		assert_int_equal(fl_bdev_submit(f->dev, &t[i].io), 0);
	}
	fl_sim_run_until(&f->sim, 10000);
	assert_int_equal(c.n, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(c.result[i], 0);
		assert_in_range(c.at_us[i], 300, 900);
		assert_false(t[i].io.inflight);
	}
}

static void ios_of_equal_latency_land_and_complete_in_submission_order(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io a, b, r;
	fixed_latency(f, 1000);
	prep(&a, 1, FL_IO_WRITE, 0, SECTOR, 0xAA, &c);
	prep(&b, 2, FL_IO_WRITE, 0, SECTOR, 0xBB, &c);
	prep(&r, 3, FL_IO_READ, 0, SECTOR, 0x00, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &a.io), 0);
	assert_int_equal(fl_bdev_submit(f->dev, &b.io), 0);
	assert_int_equal(fl_bdev_submit(f->dev, &r.io), 0);
	fl_sim_run_until(&f->sim, 999);
	assert_int_equal(c.n, 0);
	assert_int_equal(f->disk.data[0], 0);
	fl_sim_run_until(&f->sim, 1000);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.tag[0], 1);
	assert_int_equal(c.tag[1], 2);
	assert_int_equal(c.tag[2], 3);
	assert_int_equal(f->disk.data[0], 0xBB);
	assert_int_equal(r.buf[0], 0xBB); /* the read saw the later write */
}

static void a_stalled_io_times_out_at_its_deadline(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t;
	f->faults->stalled = true;
	prep(&t, 1, FL_IO_READ, 0, SECTOR, 0, &c);
	t.io.timeout_us = 5000;
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), 0);
	fl_sim_run_until(&f->sim, 4999);
	assert_int_equal(c.n, 0);
	fl_sim_run_until(&f->sim, 100000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.result[0], -FL_ETIMEDOUT);
	assert_true(c.at_us[0] == 5000);
	assert_true(f->dev->stats.timeouts == 1);
	assert_false(t.io.inflight);
	assert_int_equal(fl_simbdev_inflight(f->b), 1); /* still held by the stalled path */
}

static void a_timed_out_write_still_lands_after_unstall_without_a_second_callback(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t;
	f->faults->stalled = true;
	prep(&t, 1, FL_IO_WRITE, SECTOR * 4, SECTOR, 0x5A, &c);
	t.io.timeout_us = 2000;
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), 0);
	fl_sim_run_until(&f->sim, 50000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.result[0], -FL_ETIMEDOUT);
	memset(t.buf, 0, sizeof(t.buf)); /* the caller may reuse its buffer at once */
	assert_int_equal(f->disk.data[SECTOR * 4], 0);
	fl_simbdev_unstall(f->b);
	fl_sim_run_until(&f->sim, 100000);
	assert_int_equal(f->disk.data[SECTOR * 4], 0x5A);
	assert_int_equal(f->disk.data[SECTOR * 5 - 1], 0x5A);
	assert_int_equal(c.n, 1);
	assert_int_equal(fl_simbdev_inflight(f->b), 0);
}

static void stall_holds_io_until_unstall_then_completes_it(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t;
	fixed_latency(f, 100);
	f->faults->stalled = true;
	prep(&t, 1, FL_IO_WRITE, 0, SECTOR, 0x11, &c);
	t.io.timeout_us = 10 * FL_US_PER_S;
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), 0);
	fl_sim_run_until(&f->sim, 3 * FL_US_PER_S);
	assert_int_equal(c.n, 0);
	assert_int_equal(f->disk.data[0], 0);
	assert_int_equal(fl_simbdev_inflight(f->b), 1);
	fl_simbdev_unstall(f->b);
	assert_false(f->faults->stalled);
	fl_sim_run_until(&f->sim, 4 * FL_US_PER_S);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.result[0], 0);
	assert_true(c.at_us[0] == 3 * FL_US_PER_S + 100); /* a fresh latency after unstall */
	assert_int_equal(f->disk.data[0], 0x11);
}

static void io_held_by_a_stall_lands_in_submission_order_after_unstall(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t[3];
	fixed_latency(f, 100);
	f->faults->stalled = true;
	for (int i = 0; i < 3; i++) {
		prep(&t[i], i, FL_IO_WRITE, 0, SECTOR, (uint8_t)(0xA0 + i), &c);
		t[i].io.timeout_us = 10 * FL_US_PER_S;
		assert_int_equal(fl_bdev_submit(f->dev, &t[i].io), 0);
	}
	fl_sim_run_until(&f->sim, 1000);
	fl_simbdev_unstall(f->b);
	fl_sim_run_until(&f->sim, 5000);
	assert_int_equal(c.n, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(c.tag[i], i);
	assert_int_equal(f->disk.data[0], 0xA2); /* the last write wins, as submitted */
}

static void injected_errors_fail_io_and_leave_the_disk_unchanged(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io w, r;
	f->faults->error_permille = 1000;
	prep(&w, 1, FL_IO_WRITE, 0, SECTOR, 0x77, &c);
	prep(&r, 2, FL_IO_READ, 0, SECTOR, 0x00, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &w.io), 0);
	assert_int_equal(fl_bdev_submit(f->dev, &r.io), 0);
	fl_sim_run_until(&f->sim, 10000);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.result[0], -FL_EIO);
	assert_int_equal(c.result[1], -FL_EIO);
	assert_int_equal(f->disk.data[0], 0);
	assert_true(f->dev->stats.errors == 2);
}

static void an_offline_device_fails_every_io(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t[4];
	f->faults->offline = true;
	for (int i = 0; i < 4; i++) {
		prep(&t[i], i, i % 2 ? FL_IO_WRITE : FL_IO_READ, (uint64_t)i * SECTOR, SECTOR, 0x33, &c);
		assert_int_equal(fl_bdev_submit(f->dev, &t[i].io), 0);
	}
	fl_sim_run_until(&f->sim, 10000);
	assert_int_equal(c.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(c.result[i], -FL_EIO);
	assert_true(fl_block_is_zero(f->disk.data, 4 * SECTOR));
}

static void make_record(uint8_t *sector, uint64_t owner, uint64_t timestamp, const char *name)
{
	struct fl_leader l = {.magic = FL_DELTA_MAGIC, .version = FL_DELTA_VERSION, .flags = FL_LFL_ALIGN_1M,
			      .sector_size = SECTOR, .max_hosts = 1, .owner_id = owner,
			      .owner_generation = owner, .timestamp = timestamp, .io_timeout = 1};
	memset(sector, 0, SECTOR);
	assert_int_equal(fl_name_set(l.space_name, "LS"), 0);
	assert_int_equal(fl_name_set(l.resource_name, name), 0);
	fl_leader_encode(&l, sector);
}

/* Every torn write of record B over record A leaves A, B, or a sector whose
 * checksum fails: never a third valid record. Across seeds, some tear lands
 * inside the checksummed bytes and is caught as -FL_ECHECKSUM. */
static void a_torn_write_leaves_a_partial_sector_that_fails_its_checksum(void **state)
{
	struct fx *f = *state;
	uint8_t a[SECTOR], b[SECTOR];
	int checksum_failures = 0;
	make_record(a, 1, 100, "host-one-aaaaaaaaaaaaaaaaaaaaaaaaaaa");
	make_record(b, 2, 200, "host-two-bbbbbbbbbbbbbbbbbbbbbbbbbbb");
	for (uint64_t seed = 1; seed <= 32; seed++) {
		struct calls c = {.loop = &f->host.base};
		struct tagged_io t;
		struct fl_simbdev *h = fl_simbdev_new(&f->disk, &f->host.base, "torn", seed);
		fl_simbdev_faults(h)->torn_permille = 1000;
		memcpy(f->disk.data, a, SECTOR);
		prep(&t, 1, FL_IO_WRITE, 0, SECTOR, 0, &c);
		memcpy(t.buf, b, SECTOR);
		assert_int_equal(fl_bdev_submit(fl_simbdev_bdev(h), &t.io), 0);
		fl_sim_run_until(&f->sim, f->sim.now_us + 10000);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.result[0], -FL_EIO);
		struct fl_leader l;
		int rv = fl_leader_decode(f->disk.data, FL_DELTA_MAGIC, &l);
		if (rv == 0)
			assert_true(l.owner_id == 1 || l.owner_id == 2);
		else
			assert_int_equal(rv, -FL_ECHECKSUM);
		checksum_failures += rv == -FL_ECHECKSUM;
		fl_bdev_close(fl_simbdev_bdev(h));
	}
	assert_true(checksum_failures > 0);
}

static void a_crash_drops_callbacks_and_lands_writes_whole_torn_or_not_at_all(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	static struct tagged_io t[16];
	fixed_latency(f, 1000);
	for (int i = 0; i < 16; i++) {
		prep(&t[i], i, FL_IO_WRITE, (uint64_t)i * SECTOR, SECTOR, (uint8_t)(0x80 + i), &c);
		assert_int_equal(fl_bdev_submit(f->dev, &t[i].io), 0);
	}
	fl_sim_run_until(&f->sim, 500);
	fl_simbdev_crash(f->b);
	assert_int_equal(fl_simbdev_inflight(f->b), 0);
	fl_sim_run_until(&f->sim, 100000);
	assert_int_equal(c.n, 0);
	int whole = 0, none = 0, torn = 0;
	for (int i = 0; i < 16; i++) {
		const uint8_t *s = f->disk.data + (size_t)i * SECTOR;
		uint32_t n = 0;
		while (n < SECTOR && s[n] == (uint8_t)(0x80 + i))
			n++;
		assert_true(fl_block_is_zero(s + n, SECTOR - n)); /* a prefix of the write, then old bytes */
		assert_false(t[i].io.inflight);
		whole += n == SECTOR;
		none += n == 0;
		torn += n > 0 && n < SECTOR;
	}
	assert_true(whole > 0 && none > 0 && torn > 0); /* seed 42 draws all three fates */
}

static void misaligned_or_out_of_bounds_io_is_refused_without_a_callback(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t;
	prep(&t, 1, FL_IO_READ, 100, SECTOR, 0, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), -FL_EALIGN);
	prep(&t, 2, FL_IO_WRITE, 0, 700, 0, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), -FL_EALIGN);
	prep(&t, 3, FL_IO_READ, DISK_BYTES, SECTOR, 0, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), -FL_ETOOSMALL);
	prep(&t, 4, FL_IO_WRITE, DISK_BYTES - SECTOR, 2 * SECTOR, 0, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), -FL_ETOOSMALL);
	prep(&t, 5, FL_IO_READ, 0, 0, 0, &c);
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), -FL_EINVAL);
	assert_false(t.io.inflight);
	fl_sim_run_until(&f->sim, 100000);
	assert_int_equal(c.n, 0);
	assert_int_equal(fl_simbdev_inflight(f->b), 0);
}

static void the_callback_never_runs_inside_submit(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t;
	fixed_latency(f, 0);
	prep(&t, 1, FL_IO_READ, 0, SECTOR, 0, &c);
	c.in_submit = true;
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), 0);
	c.in_submit = false;
	assert_int_equal(c.n, 0);
	fl_sim_run_until(&f->sim, 10);
	assert_int_equal(c.n, 1);
	assert_false(c.ran_inside_submit);
}

static void a_paused_host_delays_its_callbacks_but_not_the_landing(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t;
	fixed_latency(f, 1000);
	prep(&t, 1, FL_IO_WRITE, 0, SECTOR, 0x66, &c);
	t.io.timeout_us = 5000;
	assert_int_equal(fl_bdev_submit(f->dev, &t.io), 0);
	fl_simclock_pause(&f->host);
	fl_sim_run_until(&f->sim, 20000); /* well past latency and deadline */
	assert_int_equal(f->disk.data[0], 0x66);
	assert_int_equal(c.n, 0);
	fl_simclock_resume(&f->host);
	fl_sim_run_until(&f->sim, 20001);
	assert_int_equal(c.n, 1);
	/* The completion came due before the deadline; both were held while the
	 * host was stopped, and on resume they run in deadline order, as the
	 * real loop sees the eventfd before its timers: the write succeeded,
	 * and the host learns it only when it runs again (its clock ran on). */
	assert_int_equal(c.result[0], 0);
	assert_true(c.at_us[0] >= 20000);
}

static void another_host_reads_what_one_host_wrote(void **state)
{
	struct fx *f = *state;
	struct fl_simclock host2;
	uint8_t w[SECTOR], r[SECTOR];
	assert_int_equal(fl_simclock_init(&host2, &f->sim, 123456, 100), 0);
	struct fl_simbdev *b2 = fl_simbdev_new(&f->disk, &host2.base, "sim-host2", 43);
	memset(w, 0x3C, sizeof(w));
	assert_int_equal(fl_bdev_write_sync(f->dev, SECTOR * 8, w, SECTOR), 0);
	assert_int_equal(fl_bdev_read_sync(fl_simbdev_bdev(b2), SECTOR * 8, r, SECTOR), 0);
	assert_memory_equal(w, r, SECTOR);
	assert_true(f->disk.writes_applied == 1);
	fl_bdev_close(fl_simbdev_bdev(b2));
	fl_simclock_free(&host2);
}

static void close_cancels_pending_callbacks_and_releases_the_ios(void **state)
{
	struct fx *f = *state;
	struct calls c = {.loop = &f->host.base};
	struct tagged_io t[3];
	f->faults->stalled = true;
	for (int i = 0; i < 3; i++) {
		prep(&t[i], i, FL_IO_WRITE, (uint64_t)i * SECTOR, SECTOR, 0x12, &c);
		assert_int_equal(fl_bdev_submit(f->dev, &t[i].io), 0);
	}
	fl_sim_run_until(&f->sim, 1000);
	fl_bdev_close(f->dev);
	f->dev = NULL;
	fl_sim_run_until(&f->sim, 60 * FL_US_PER_S);
	assert_int_equal(c.n, 0);
	for (int i = 0; i < 3; i++)
		assert_false(t[i].io.inflight); /* the caller may submit them elsewhere */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(an_io_completes_within_the_configured_latency_range, setup, teardown),
		cmocka_unit_test_setup_teardown(ios_of_equal_latency_land_and_complete_in_submission_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_stalled_io_times_out_at_its_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(a_timed_out_write_still_lands_after_unstall_without_a_second_callback,
						setup, teardown),
		cmocka_unit_test_setup_teardown(stall_holds_io_until_unstall_then_completes_it, setup, teardown),
		cmocka_unit_test_setup_teardown(io_held_by_a_stall_lands_in_submission_order_after_unstall, setup,
						teardown),
		cmocka_unit_test_setup_teardown(injected_errors_fail_io_and_leave_the_disk_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(an_offline_device_fails_every_io, setup, teardown),
		cmocka_unit_test_setup_teardown(a_torn_write_leaves_a_partial_sector_that_fails_its_checksum, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_crash_drops_callbacks_and_lands_writes_whole_torn_or_not_at_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(misaligned_or_out_of_bounds_io_is_refused_without_a_callback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(the_callback_never_runs_inside_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(a_paused_host_delays_its_callbacks_but_not_the_landing, setup, teardown),
		cmocka_unit_test_setup_teardown(another_host_reads_what_one_host_wrote, setup, teardown),
		cmocka_unit_test_setup_teardown(close_cancels_pending_callbacks_and_releases_the_ios, setup, teardown),
	};
	return cmocka_run_group_tests_name("bdev_sim", tests, NULL, NULL);
}
