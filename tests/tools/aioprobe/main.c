/* aioprobe: drives the real block device (disklock/bdev_aio.c) against a file
 * that can stall, for tests/integration (the file is MOUNT/disk of flstall,
 * the control file MOUNT/ctl). Real time is measured here, with generous
 * bounds, because unit tests may not use the wall clock.
 *   aioprobe stall DISK CTL [TIMEOUT_MS [MARGIN_MS]]
 *       round trip; freeze: a read, a write and enough extra reads to fill
 *       FUSE's background queue each time out within TIMEOUT_MS + MARGIN_MS
 *       while a 10 ms loop timer keeps firing; unfreeze: the late completions
 *       are absorbed without a callback and every slot comes back; fail: EIO;
 *       close while frozen returns promptly. Prints "measure:" lines.
 *   aioprobe rawsubmit DISK CTL
 *       freezes, then calls io_submit directly (no thread) until one call
 *       blocks for a second; unfreezes. Exit 0 and "io_submit blocked at #N"
 *       when a submission blocked, 3 when none did.
 *   aioprobe open PATH SECTOR_SIZE
 *       opens PATH (SECTOR_SIZE 0 = detect) and prints "sector=N size=N" or
 *       the device's error message; exit 0 opened, 1 refused.
 * Exit status: 0 all checks passed, 1 a check failed, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/loop.h"
#include "disklock/bdev.h"
#include "fencelock/error.h"
#include "common/version.h"

#define STALL_EXTRA_READS 20u    /* > FUSE max_background (12): io_submit blocks */
#define STALL_IOS (2u + STALL_EXTRA_READS)
#define HEARTBEAT_US (10 * FL_US_PER_MS)
#define HEARTBEAT_MAX_GAP_US (200 * FL_US_PER_MS)
#define SUBMIT_MAX_US (50 * FL_US_PER_MS)
#define CLOSE_MAX_US (1500 * FL_US_PER_MS)
#define SLOTS 128u
#define RAW_MAX_SUBMITS 64

static int failures;

/* Microseconds as seconds or milliseconds, for messages only (exact below 2^53 us). */
static double us_s(uint64_t us) { return (double)us / 1e6; }
static double us_ms(uint64_t us) { return (double)us / 1e3; }

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (cond) {                                         \
			printf("ok: ");                             \
		} else {                                            \
			printf("FAIL: ");                           \
			failures++;                                 \
		}                                                   \
		printf(__VA_ARGS__);                                \
		printf("\n");                                       \
		fflush(stdout);                                     \
	} while (0)

struct probe {
	struct fl_eloop *el;
	struct fl_bdev *dev;
	const char *disk, *ctl;
	uint64_t timeout_us, margin_us;
	struct fl_timer heartbeat;
	uint64_t last_beat_us, max_gap_us;
	int callbacks;
};

struct probe_io {
	struct fl_io io;
	struct probe *p;
	uint64_t submitted_us, answered_us;
	int result;
	bool answered;
	uint8_t buf[4096];
};

static void ctl_write(const char *ctl, const char *word)
{
	int fd = open(ctl, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, word, strlen(word)) != (ssize_t)strlen(word)) {
		printf("FAIL: control file %s: cannot write '%s': %s\n", ctl, word, strerror(errno));
		exit(1);
	}
	close(fd);
}

static void heartbeat_fn(struct fl_timer *t, void *arg)
{
	struct probe *p = arg;
	uint64_t now = fl_monotonic_us();
	if (p->last_beat_us != 0 && now - p->last_beat_us > p->max_gap_us)
		p->max_gap_us = now - p->last_beat_us;
	p->last_beat_us = now;
	fl_timer_after(fl_eloop_loop(p->el), t, HEARTBEAT_US);
}

static void probe_cb(struct fl_io *io, int result)
{
	struct probe_io *pi = (struct probe_io *)io;
	pi->answered = true;
	pi->result = result;
	pi->answered_us = fl_monotonic_us();
	pi->p->callbacks++;
}

static void run_for(struct probe *p, uint64_t us)
{
	uint64_t end = fl_monotonic_us() + us;
	while (fl_monotonic_us() < end)
		fl_eloop_run_once(p->el, 10 * FL_US_PER_MS);
}

/* Runs until *done or limit; returns true if done. */
static bool run_until_answered(struct probe *p, struct probe_io *ios, uint32_t n, uint64_t limit_us)
{
	uint64_t end = fl_monotonic_us() + limit_us;
	for (;;) {
		uint32_t answered = 0;
		for (uint32_t i = 0; i < n; i++)
			answered += ios[i].answered;
		if (answered == n)
			return true;
		if (fl_monotonic_us() >= end)
			return false;
		fl_eloop_run_once(p->el, 10 * FL_US_PER_MS);
	}
}

/* Submits and returns how long submit took (the loop must never block). */
static uint64_t submit_timed(struct probe *p, struct probe_io *pi, enum fl_io_op op, uint64_t offset, int *rv)
{
	memset(pi, 0, sizeof(*pi));
	pi->p = p;
	pi->io = (struct fl_io){.op = op, .offset = offset, .len = 4096, .buf = pi->buf, .cb = probe_cb};
	memset(pi->buf, op == FL_IO_WRITE ? 0xB5 : 0, sizeof(pi->buf));
	pi->submitted_us = fl_monotonic_us();
	*rv = fl_bdev_submit(p->dev, &pi->io);
	return fl_monotonic_us() - pi->submitted_us;
}

static void round_trip(struct probe *p, uint64_t offset, uint8_t seed, const char *when)
{
	uint8_t w[4096], r[4096];
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(seed + i);
	int rv = fl_bdev_write_sync(p->dev, offset, w, sizeof(w));
	CHECK(rv == 0, "%s: write at %llu: %s", when, (unsigned long long)offset, fl_strerror(rv));
	rv = fl_bdev_read_sync(p->dev, offset, r, sizeof(r));
	CHECK(rv == 0 && memcmp(w, r, sizeof(r)) == 0, "%s: read back at %llu: %s, data %s", when,
	      (unsigned long long)offset, fl_strerror(rv), memcmp(w, r, sizeof(r)) == 0 ? "equal" : "DIFFERENT");
}

static void stall_phase_freeze(struct probe *p, struct probe_io *ios)
{
	uint64_t worst_submit_us = 0, worst_late_us = 0, earliest_us = UINT64_MAX;
	ctl_write(p->ctl, "freeze");
	p->max_gap_us = 0;
	p->last_beat_us = 0;
	for (uint32_t i = 0; i < STALL_IOS; i++) {
		int rv;
		enum fl_io_op op = i == 1 ? FL_IO_WRITE : FL_IO_READ;
		uint64_t took = submit_timed(p, &ios[i], op, 8192 + (uint64_t)i * 4096, &rv);
		if (rv != 0)
			CHECK(false, "frozen: submit #%u: %s", i, fl_strerror(rv));
		worst_submit_us = FL_MAX(worst_submit_us, took);
	}
	bool all = run_until_answered(p, ios, STALL_IOS, p->timeout_us + p->margin_us + FL_US_PER_S);
	CHECK(all, "frozen: all %u I/Os answered", STALL_IOS);
	uint32_t timeouts = 0;
	for (uint32_t i = 0; i < STALL_IOS; i++) {
		if (!ios[i].answered)
			continue;
		timeouts += ios[i].result == -FL_ETIMEDOUT;
		uint64_t after = ios[i].answered_us - ios[i].submitted_us;
		worst_late_us = FL_MAX(worst_late_us, after);
		earliest_us = FL_MIN(earliest_us, after);
	}
	CHECK(timeouts == STALL_IOS, "frozen: %u of %u I/Os (read, write, %u extra reads) reported -FL_ETIMEDOUT",
	      timeouts, STALL_IOS, STALL_EXTRA_READS);
	CHECK(earliest_us + 5 * FL_US_PER_MS >= p->timeout_us && worst_late_us <= p->timeout_us + p->margin_us,
	      "frozen: timeouts reported between %.3f and %.3f s (deadline %.3f s, margin %.3f s)",
	      us_s(earliest_us), us_s(worst_late_us), us_s(p->timeout_us), us_s(p->margin_us));
	CHECK(worst_submit_us <= SUBMIT_MAX_US, "frozen: slowest fl_bdev_submit took %.3f ms",
	      us_ms(worst_submit_us));
	CHECK(p->max_gap_us <= HEARTBEAT_MAX_GAP_US, "frozen: loop stayed responsive, largest gap between 10 ms "
	      "timer firings %.1f ms", us_ms(p->max_gap_us));
	printf("measure: timeout_latency_max_us=%llu submit_max_us=%llu heartbeat_max_gap_us=%llu\n",
	       (unsigned long long)worst_late_us, (unsigned long long)worst_submit_us,
	       (unsigned long long)p->max_gap_us);
}

static void stall_phase_unfreeze(struct probe *p, struct probe_io *ios)
{
	int before = p->callbacks;
	ctl_write(p->ctl, "unfreeze");
	run_for(p, 1500 * FL_US_PER_MS);
	CHECK(p->callbacks == before, "unfrozen: late completions absorbed, %d extra callbacks",
	      p->callbacks - before);
	/* Every slot must be free again: fill all of them. */
	static struct probe_io many[SLOTS];
	uint32_t accepted = 0;
	for (uint32_t i = 0; i < SLOTS; i++) {
		int rv;
		submit_timed(p, &many[i], FL_IO_READ, (uint64_t)i * 4096, &rv);
		accepted += rv == 0;
		if (rv != 0)
			many[i].answered = true;
	}
	CHECK(accepted == SLOTS, "unfrozen: %u of %u slots accepted I/O again", accepted, SLOTS);
	bool all = run_until_answered(p, many, SLOTS, 5 * FL_US_PER_S);
	CHECK(all, "unfrozen: the %u reads completed", accepted);
	uint8_t r[4096];
	int rv = fl_bdev_read_sync(p->dev, 8192 + 4096, r, sizeof(r));
	printf("info: the timed-out write %s the disk after unfreeze (read: %s)\n",
	       rv == 0 && r[0] == 0xB5 ? "reached" : "did not reach", fl_strerror(rv));
	round_trip(p, 0, 0x42, "unfrozen");
	(void)ios;
}

static void stall_phase_fail(struct probe *p)
{
	uint8_t buf[4096] = {0};
	ctl_write(p->ctl, "fail");
	int rv = fl_bdev_read_sync(p->dev, 0, buf, sizeof(buf));
	CHECK(rv == -FL_EIO, "fail: read reports %s (want %s)", fl_strerror(rv), fl_strerror(-FL_EIO));
	rv = fl_bdev_write_sync(p->dev, 0, buf, sizeof(buf));
	CHECK(rv == -FL_EIO, "fail: write reports %s (want %s)", fl_strerror(rv), fl_strerror(-FL_EIO));
	ctl_write(p->ctl, "ok");
	round_trip(p, 4096, 0x17, "ok again");
}

static int open_probe(struct probe *p)
{
	char err[512] = "";
	struct fl_bdev_aio_opts o = {.timeout_us = p->timeout_us};
	int rv = fl_bdev_aio_open(p->el, p->disk, &o, &p->dev, err, sizeof(err));
	if (rv != 0)
		printf("FAIL: %s (%s)\n", err, fl_strerror(rv));
	return rv;
}

static void stall_phase_close(struct probe *p)
{
	static struct probe_io ios[4];
	ctl_write(p->ctl, "freeze");
	for (uint32_t i = 0; i < 4; i++) {
		int rv;
		submit_timed(p, &ios[i], i % 2 ? FL_IO_WRITE : FL_IO_READ, (uint64_t)i * 4096, &rv);
	}
	run_for(p, 100 * FL_US_PER_MS);
	uint64_t t0 = fl_monotonic_us();
	fl_bdev_close(p->dev);
	uint64_t took = fl_monotonic_us() - t0;
	p->dev = NULL;
	CHECK(took <= CLOSE_MAX_US, "frozen: close with 4 I/Os held returned in %.3f s", us_s(took));
	ctl_write(p->ctl, "unfreeze");
	run_for(p, 1000 * FL_US_PER_MS);
	int answered = 0;
	for (uint32_t i = 0; i < 4; i++)
		answered += ios[i].answered;
	CHECK(answered == 0, "closed: %d of 4 cancelled I/Os were called back", answered);
	if (open_probe(p) == 0)
		round_trip(p, 0, 0x99, "reopened");
}

static int cmd_stall(const char *disk, const char *ctl, uint64_t timeout_ms, uint64_t margin_ms)
{
	static struct probe_io ios[STALL_IOS];
	struct probe p = {.disk = disk, .ctl = ctl, .timeout_us = timeout_ms * FL_US_PER_MS,
			  .margin_us = margin_ms * FL_US_PER_MS};
	p.el = fl_eloop_new();
	if (p.el == NULL || open_probe(&p) != 0)
		return 1;
	printf("info: %s: sector %u bytes, size %llu bytes, deadline %llu ms\n", disk, p.dev->sector_size,
	       (unsigned long long)p.dev->size_bytes, (unsigned long long)timeout_ms);
	fl_timer_init(&p.heartbeat, heartbeat_fn, &p);
	fl_timer_after(fl_eloop_loop(p.el), &p.heartbeat, HEARTBEAT_US);
	round_trip(&p, 0, 0x11, "normal");
	stall_phase_freeze(&p, ios);
	stall_phase_unfreeze(&p, ios);
	stall_phase_fail(&p);
	stall_phase_close(&p);
	fl_timer_cancel(fl_eloop_loop(p.el), &p.heartbeat);
	fl_bdev_close(p.dev);
	fl_eloop_free(p.el);
	printf("%s: %d check(s) failed\n", failures ? "FAILED" : "PASSED", failures);
	return failures ? 1 : 0;
}

/* ---- rawsubmit: the finding behind bdev_aio's submission thread ---- */

static volatile int raw_done;
static const char *raw_ctl;

static void *raw_watchdog(void *arg)
{
	volatile int *submitted = arg;
	int last = -1;
	uint64_t since = fl_monotonic_us();
	while (!raw_done) {
		usleep(10000);
		if (*submitted != last) {
			last = *submitted;
			since = fl_monotonic_us();
		} else if (fl_monotonic_us() - since > FL_US_PER_S) {
			printf("io_submit blocked at #%d for %.1f s with the FUSE server frozen; unfreezing\n",
			       last, us_s(fl_monotonic_us() - since));
			fflush(stdout);
			ctl_write(raw_ctl, "unfreeze");
			return (void *)1;
		}
	}
	return NULL;
}

static int cmd_rawsubmit(const char *disk, const char *ctl)
{
	static struct iocb cbs[RAW_MAX_SUBMITS];
	static struct io_event evs[RAW_MAX_SUBMITS];
	volatile int submitted = 0;
	io_context_t ctx = 0;
	void *buf = NULL;
	int fd = open(disk, O_RDONLY | O_DIRECT);
	if (fd < 0 || io_setup(RAW_MAX_SUBMITS, &ctx) != 0 ||
	    posix_memalign(&buf, 4096, 4096u * RAW_MAX_SUBMITS) != 0) {
		printf("FAIL: rawsubmit setup on %s: %s\n", disk, strerror(errno));
		return 1;
	}
	raw_ctl = ctl;
	ctl_write(ctl, "freeze");
	pthread_t wd;
	void *blocked = NULL;
	pthread_create(&wd, NULL, raw_watchdog, (void *)&submitted);
	for (int i = 0; i < RAW_MAX_SUBMITS; i++) {
		struct iocb *one = &cbs[i];
		io_prep_pread(one, fd, (char *)buf + 4096 * i, 4096, 4096LL * i);
		if (io_submit(ctx, 1, &one) != 1)
			break;
		submitted = i + 1;
	}
	raw_done = 1;
	pthread_join(wd, &blocked);
	ctl_write(ctl, "unfreeze");
	int got = io_getevents(ctx, submitted, RAW_MAX_SUBMITS, evs, NULL);
	printf("%d submission(s), %d completion(s) after unfreeze\n", submitted, got);
	io_destroy(ctx);
	close(fd);
	free(buf);
	if (blocked == NULL)
		printf("io_submit never blocked in %d submissions\n", submitted);
	return blocked != NULL ? 0 : 3;
}

static int cmd_open(const char *path, uint32_t sector)
{
	struct fl_eloop *el = fl_eloop_new();
	struct fl_bdev *d = NULL;
	char err[512] = "";
	struct fl_bdev_aio_opts o = {.sector_size = sector};
	if (el == NULL)
		return 1;
	int rv = fl_bdev_aio_open(el, path, &o, &d, err, sizeof(err));
	if (rv == 0)
		printf("sector=%u size=%llu\n", d->sector_size, (unsigned long long)d->size_bytes);
	else
		printf("error=%d %s\n", rv, err);
	fl_bdev_close(d);
	fl_eloop_free(el);
	return rv == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "aioprobe");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[1], "stall") == 0) {
		uint64_t timeout_ms = argc > 4 ? strtoull(argv[4], NULL, 10) : 1000;
		uint64_t margin_ms = argc > 5 ? strtoull(argv[5], NULL, 10) : 500;
		return cmd_stall(argv[2], argv[3], timeout_ms, margin_ms);
	}
	if (argc == 4 && strcmp(argv[1], "open") == 0)
		return cmd_open(argv[2], (uint32_t)strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "rawsubmit") == 0)
		return cmd_rawsubmit(argv[2], argv[3]);
	fprintf(stderr, "usage: aioprobe stall DISK CTL [TIMEOUT_MS [MARGIN_MS]]\n"
			"       aioprobe rawsubmit DISK CTL\n"
			"       aioprobe open PATH SECTOR_SIZE\n");
	return 2;
}
