/* Unit tests of the real block device (bdev_aio.c) on regular files under the
 * build directory, driven by the real epoll loop. Stalls and timeouts need a
 * device that can hang, so they live in tests/integration (flstall). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/loop.h"
#include "disklock/bdev.h"
#include "scratch_dir.h"
#include "fencelock/error.h"

#define DEV_BYTES (1024u * 1024u)
#define MANY_IOS 128u

static char scratch_dir[PATH_MAX + 64];

struct fx {
	struct fl_eloop *el;
	struct fl_bdev *dev;
	char path[PATH_MAX + 96];
	char err[512];
};

struct counter {
	int calls;
	int last;
	bool in_submit;
	bool ran_inside_submit;
};

static void count_cb(struct fl_io *io, int result)
{
	struct counter *c = io->arg;
	c->calls++;
	c->last = result;
	if (c->in_submit)
		c->ran_inside_submit = true;
}

/* Runs the loop until *calls reaches want or 5 s passed (a hung device
 * fails the test instead of hanging it). */
static void run_until(struct fx *f, const int *calls, int want)
{
	uint64_t end = fl_monotonic_us() + 5 * FL_US_PER_S;
	while (*calls < want && fl_monotonic_us() < end)
		assert_int_equal(fl_eloop_run_once(f->el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(*calls, want);
}

static int open_dev(struct fx *f, const char *name, const struct fl_bdev_aio_opts *o)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", scratch_dir, name);
	f->err[0] = '\0';
	return fl_bdev_aio_open(f->el, f->path, o, &f->dev, f->err, sizeof(f->err));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->el = fl_eloop_new();
	assert_non_null(f->el);
	struct fl_bdev_aio_opts o = {.create = true, .create_size_bytes = DEV_BYTES};
	int rv = open_dev(f, "dev.img", &o);
	if (rv != 0)
		fail_msg("cannot open a test device under %s: %s (%s); these tests need a "
			 "filesystem with O_DIRECT (not an old tmpfs)", scratch_dir, f->err, fl_strerror(rv));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fl_bdev_close(f->dev);
	unlink(f->path);
	fl_eloop_free(f->el);
	free(f);
	return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31);
}

static void write_then_read_returns_the_same_bytes_from_an_unaligned_buffer(void **state)
{
	struct fx *f = *state;
	static uint8_t wbuf[8192 + 1], rbuf[8192 + 1];
	fill(wbuf + 1, 8192, 7);
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(fl_bdev_write_sync(f->dev, 4096, wbuf + 1, 8192), 0);
	assert_int_equal(fl_bdev_read_sync(f->dev, 4096, rbuf + 1, 8192), 0);
	assert_memory_equal(wbuf + 1, rbuf + 1, 8192);
	assert_true(f->dev->stats.writes == 1 && f->dev->stats.reads == 1);
	assert_true(f->dev->stats.bytes_written == 8192 && f->dev->stats.bytes_read == 8192);
}

static void data_reaches_the_file_itself(void **state)
{
	struct fx *f = *state;
	uint8_t w[512], r[512];
	fill(w, sizeof(w), 99);
	assert_int_equal(fl_bdev_write_sync(f->dev, 512 * 9, w, sizeof(w)), 0);
	int fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, sizeof(r), 512 * 9), (ssize_t)sizeof(r));
	close(fd);
	assert_memory_equal(w, r, sizeof(r));
}

static void unaligned_offset_or_length_is_refused_and_never_called_back(void **state)
{
	struct fx *f = *state;
	uint8_t buf[1024];
	struct counter c = {0};
	struct fl_io a = {.op = FL_IO_READ, .offset = 100, .len = 512, .buf = buf, .cb = count_cb, .arg = &c};
	struct fl_io b = {.op = FL_IO_WRITE, .offset = 512, .len = 700, .buf = buf, .cb = count_cb, .arg = &c};
	assert_int_equal(fl_bdev_submit(f->dev, &a), -FL_EALIGN);
	assert_int_equal(fl_bdev_submit(f->dev, &b), -FL_EALIGN);
	assert_false(a.inflight || b.inflight);
	fl_eloop_run_once(f->el, 50 * FL_US_PER_MS);
	assert_int_equal(c.calls, 0);
}

static void out_of_bounds_is_refused_and_never_called_back(void **state)
{
	struct fx *f = *state;
	uint8_t buf[1024];
	struct counter c = {0};
	struct fl_io a = {.op = FL_IO_READ, .offset = DEV_BYTES, .len = 512, .buf = buf, .cb = count_cb, .arg = &c};
	struct fl_io b = {.op = FL_IO_WRITE, .offset = DEV_BYTES - 512, .len = 1024, .buf = buf, .cb = count_cb,
			  .arg = &c};
	assert_int_equal(fl_bdev_submit(f->dev, &a), -FL_ETOOSMALL);
	assert_int_equal(fl_bdev_submit(f->dev, &b), -FL_ETOOSMALL);
	fl_eloop_run_once(f->el, 50 * FL_US_PER_MS);
	assert_int_equal(c.calls, 0);
}

static void missing_file_is_enoent_and_the_message_names_it(void **state)
{
	struct fx *f = *state;
	struct fl_bdev *d = NULL;
	struct fl_bdev_aio_opts o = {0};
	char path[PATH_MAX + 96];
	snprintf(path, sizeof(path), "%s/no-such-dir/disk", scratch_dir);
	assert_int_equal(fl_bdev_aio_open(f->el, path, &o, &d, f->err, sizeof(f->err)), -FL_ENOENT);
	assert_null(d);
	char want[PATH_MAX + 160];
	snprintf(want, sizeof(want), "open %s: No such file or directory", path);
	assert_string_equal(f->err, want);
}

static void a_write_on_a_read_only_open_is_refused_and_reads_work(void **state)
{
	struct fx *f = *state;
	struct fl_bdev *ro = NULL;
	struct fl_bdev_aio_opts o = {.read_only = true};
	uint8_t w[512], r[512];
	fill(w, sizeof(w), 3);
	assert_int_equal(fl_bdev_write_sync(f->dev, 0, w, sizeof(w)), 0);
	assert_int_equal(fl_bdev_aio_open(f->el, f->path, &o, &ro, f->err, sizeof(f->err)), 0);
	assert_int_equal(fl_bdev_write_sync(ro, 0, w, sizeof(w)), -FL_EPERM);
	assert_int_equal(fl_bdev_read_sync(ro, 0, r, sizeof(r)), 0);
	assert_memory_equal(w, r, sizeof(r));
	fl_bdev_close(ro);
}

static void a_regular_file_defaults_to_512_byte_sectors_and_honours_4096(void **state)
{
	struct fx *f = *state;
	assert_int_equal(f->dev->sector_size, 512);
	assert_true(f->dev->size_bytes == DEV_BYTES);
	struct fl_bdev *d4 = NULL;
	struct fl_bdev_aio_opts o = {.sector_size = 4096};
	assert_int_equal(fl_bdev_aio_open(f->el, f->path, &o, &d4, f->err, sizeof(f->err)), 0);
	assert_int_equal(d4->sector_size, 4096);
	uint8_t buf[512];
	struct counter c = {0};
	struct fl_io io = {.op = FL_IO_READ, .offset = 512, .len = 512, .buf = buf, .cb = count_cb, .arg = &c};
	assert_int_equal(fl_bdev_submit(d4, &io), -FL_EALIGN);
	fl_bdev_close(d4);
}

static void an_unsupported_sector_size_is_refused_with_a_reason(void **state)
{
	struct fx *f = *state;
	struct fl_bdev *d = NULL;
	struct fl_bdev_aio_opts o = {.sector_size = 1024};
	assert_int_equal(fl_bdev_aio_open(f->el, f->path, &o, &d, f->err, sizeof(f->err)), -FL_EINVAL);
	assert_null(d);
	assert_non_null(strstr(f->err, "sector size 1024 is not supported"));
}

static void a_file_smaller_than_a_sector_is_too_small(void **state)
{
	struct fx *f = *state;
	struct fx g = {.el = f->el};
	snprintf(g.path, sizeof(g.path), "%s/tiny.img", scratch_dir);
	int fd = open(g.path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(fl_bdev_aio_open(f->el, g.path, NULL, &g.dev, g.err, sizeof(g.err)), -FL_ETOOSMALL);
	char want[PATH_MAX + 160];
	snprintf(want, sizeof(want), "%s: 3 bytes, too small", g.path);
	assert_memory_equal(g.err, want, strlen(want));
	unlink(g.path);
}

static void create_makes_a_file_of_the_requested_size(void **state)
{
	struct fx *f = *state;
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size == DEV_BYTES);
}

static void sync_helpers_return_refusals_and_device_errors(void **state)
{
	struct fx *f = *state;
	uint8_t buf[1024] = {0};
	assert_int_equal(fl_bdev_write_sync(f->dev, 100, buf, 512), -FL_EALIGN);
	assert_int_equal(fl_bdev_read_sync(f->dev, DEV_BYTES, buf, 512), -FL_ETOOSMALL);
	assert_int_equal(truncate(f->path, 512), 0);
	assert_int_equal(fl_bdev_read_sync(f->dev, 512, buf, 512), -FL_EIO);
	assert_int_equal(fl_bdev_read_sync(f->dev, 0, buf, 512), 0);
}

static void a_short_transfer_is_an_io_error(void **state)
{
	struct fx *f = *state;
	uint8_t buf[1024];
	/* The file shrinks under the open device: a read past the new end
	 * transfers nothing, which must not pass for success. */
	assert_int_equal(truncate(f->path, 4096), 0);
	assert_int_equal(fl_bdev_read_sync(f->dev, 8192, buf, sizeof(buf)), -FL_EIO);
	assert_true(f->dev->stats.errors == 1);
	assert_int_equal(fl_bdev_read_sync(f->dev, 3072, buf, sizeof(buf)), 0);
}

static void the_callback_never_runs_inside_submit(void **state)
{
	struct fx *f = *state;
	uint8_t buf[512] = {0};
	struct counter c = {0};
	struct fl_io io = {.op = FL_IO_READ, .offset = 0, .len = 512, .buf = buf, .cb = count_cb, .arg = &c};
	c.in_submit = true;
	assert_int_equal(fl_bdev_submit(f->dev, &io), 0);
	c.in_submit = false;
	assert_int_equal(c.calls, 0);
	run_until(f, &c.calls, 1);
	assert_false(c.ran_inside_submit);
	assert_int_equal(c.last, 0);
	assert_false(io.inflight);
}

static void many_concurrent_writes_and_reads_all_complete(void **state)
{
	struct fx *f = *state;
	static struct fl_io ios[MANY_IOS];
	static uint8_t bufs[MANY_IOS][512], back[MANY_IOS][512];
	struct counter c = {0};
	for (uint32_t i = 0; i < MANY_IOS; i++) {
		fill(bufs[i], 512, (uint8_t)i);
		ios[i] = (struct fl_io){.op = FL_IO_WRITE, .offset = (uint64_t)i * 512, .len = 512, .buf = bufs[i],
					.cb = count_cb, .arg = &c};
		assert_int_equal(fl_bdev_submit(f->dev, &ios[i]), 0);
	}
	run_until(f, &c.calls, MANY_IOS);
	assert_int_equal(c.last, 0);
	c.calls = 0;
	for (uint32_t i = 0; i < MANY_IOS; i++) {
		ios[i] = (struct fl_io){.op = FL_IO_READ, .offset = (uint64_t)i * 512, .len = 512, .buf = back[i],
					.cb = count_cb, .arg = &c};
		assert_int_equal(fl_bdev_submit(f->dev, &ios[i]), 0);
	}
	run_until(f, &c.calls, MANY_IOS);
	for (uint32_t i = 0; i < MANY_IOS; i++)
		assert_memory_equal(bufs[i], back[i], 512);
}

static void submits_beyond_the_depth_bound_are_refused_with_enospc(void **state)
{
	struct fx *f = *state;
	static struct fl_io ios[MANY_IOS + 1];
	static uint8_t bufs[MANY_IOS + 1][512];
	struct counter c = {0};
	for (uint32_t i = 0; i < MANY_IOS; i++) {
		ios[i] = (struct fl_io){.op = FL_IO_READ, .offset = (uint64_t)i * 512, .len = 512, .buf = bufs[i],
					.cb = count_cb, .arg = &c};
		assert_int_equal(fl_bdev_submit(f->dev, &ios[i]), 0);
	}
	ios[MANY_IOS] = (struct fl_io){.op = FL_IO_READ, .offset = 0, .len = 512, .buf = bufs[MANY_IOS],
				       .cb = count_cb, .arg = &c};
	assert_int_equal(fl_bdev_submit(f->dev, &ios[MANY_IOS]), -FL_ENOSPC);
	assert_false(ios[MANY_IOS].inflight);
	run_until(f, &c.calls, MANY_IOS);
	assert_int_equal(fl_bdev_submit(f->dev, &ios[MANY_IOS]), 0); /* slots come back */
	run_until(f, &c.calls, MANY_IOS + 1);
}

static void close_with_io_in_flight_runs_no_callback(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4096];
	struct counter c = {0};
	struct fl_io io = {.op = FL_IO_WRITE, .offset = 0, .len = 4096, .buf = buf, .cb = count_cb, .arg = &c};
	fill(buf, sizeof(buf), 1);
	assert_int_equal(fl_bdev_submit(f->dev, &io), 0);
	fl_bdev_close(f->dev);
	f->dev = NULL;
	assert_false(io.inflight);
	fl_eloop_run_once(f->el, 50 * FL_US_PER_MS);
	assert_int_equal(c.calls, 0);
	struct fl_bdev_aio_opts o = {0};
	assert_int_equal(fl_bdev_aio_open(f->el, f->path, &o, &f->dev, f->err, sizeof(f->err)), 0);
}

struct closer {
	struct fl_bdev **dev;
	int calls;
};

static void close_on_first_cb(struct fl_io *io, int result)
{
	struct closer *c = io->arg;
	(void)result;
	c->calls++;
	fl_bdev_close(*c->dev);
	*c->dev = NULL;
}

static void a_callback_may_close_the_device_and_no_other_callback_runs(void **state)
{
	struct fx *f = *state;
	static struct fl_io ios[16];
	static uint8_t bufs[16][512];
	struct closer c = {.dev = &f->dev};
	for (uint32_t i = 0; i < 16; i++) {
		ios[i] = (struct fl_io){.op = FL_IO_READ, .offset = (uint64_t)i * 512, .len = 512, .buf = bufs[i],
					.cb = close_on_first_cb, .arg = &c};
		assert_int_equal(fl_bdev_submit(f->dev, &ios[i]), 0);
	}
	run_until(f, &c.calls, 1);
	for (int i = 0; i < 20; i++)
		fl_eloop_run_once(f->el, 5 * FL_US_PER_MS);
	assert_int_equal(c.calls, 1);
	assert_null(f->dev);
	for (uint32_t i = 0; i < 16; i++)
		assert_false(ios[i].inflight);
	struct fl_bdev_aio_opts o = {0};
	assert_int_equal(fl_bdev_aio_open(f->el, f->path, &o, &f->dev, f->err, sizeof(f->err)), 0);
}

static void the_device_default_timeout_applies_when_the_io_gives_none(void **state)
{
	struct fx *f = *state;
	struct fl_bdev *d = NULL;
	struct fl_bdev_aio_opts o = {.timeout_us = 1500 * FL_US_PER_MS};
	assert_int_equal(f->dev->default_timeout_us, 10 * FL_US_PER_S);
	assert_int_equal(fl_bdev_aio_open(f->el, f->path, &o, &d, f->err, sizeof(f->err)), 0);
	assert_int_equal(d->default_timeout_us, 1500 * FL_US_PER_MS);
	uint8_t buf[512];
	struct counter c = {0};
	struct fl_io io = {.op = FL_IO_READ, .offset = 0, .len = 512, .buf = buf, .cb = count_cb, .arg = &c};
	assert_int_equal(fl_bdev_submit(d, &io), 0);
	assert_int_equal(io.timeout_us, 1500 * FL_US_PER_MS);
	run_until(f, &c.calls, 1);
	fl_bdev_close(d);
}

int main(void)
{
	if (test_scratch_dir(scratch_dir, sizeof(scratch_dir), "bdev-aio") != 0) {
		fprintf(stderr, "test_bdev_aio: cannot create a scratch directory under the build directory: %s\n",
			strerror(errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_then_read_returns_the_same_bytes_from_an_unaligned_buffer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(data_reaches_the_file_itself, setup, teardown),
		cmocka_unit_test_setup_teardown(unaligned_offset_or_length_is_refused_and_never_called_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(out_of_bounds_is_refused_and_never_called_back, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_file_is_enoent_and_the_message_names_it, setup, teardown),
		cmocka_unit_test_setup_teardown(a_write_on_a_read_only_open_is_refused_and_reads_work, setup, teardown),
		cmocka_unit_test_setup_teardown(a_regular_file_defaults_to_512_byte_sectors_and_honours_4096, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_unsupported_sector_size_is_refused_with_a_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(a_file_smaller_than_a_sector_is_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(create_makes_a_file_of_the_requested_size, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_helpers_return_refusals_and_device_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(a_short_transfer_is_an_io_error, setup, teardown),
		cmocka_unit_test_setup_teardown(the_callback_never_runs_inside_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(many_concurrent_writes_and_reads_all_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(submits_beyond_the_depth_bound_are_refused_with_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(close_with_io_in_flight_runs_no_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(a_callback_may_close_the_device_and_no_other_callback_runs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(the_device_default_timeout_applies_when_the_io_gives_none, setup,
						teardown),
	};
	int rv = cmocka_run_group_tests_name("bdev_aio", tests, NULL, NULL);
	rmdir(scratch_dir);
	return rv;
}
