/* Simulated shared disk (see bdev_sim.h). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "common/assert.h"
#include "disklock/bdev_sim.h"
#include "fencelock/error.h"

/* One accepted I/O. It lives until it has been performed on the disk AND its
 * caller has been answered (or dropped), whichever comes later. */
struct simio {
	struct fl_simbdev *dev;
	struct fl_io *io;          /* NULL once the caller was answered */
	enum fl_io_op op;
	uint64_t offset;
	uint32_t len;
	uint8_t *copy;             /* the device's own buffer */
	struct fl_timer perform;   /* on the disk clock: data moves */
	struct fl_timer deadline;  /* on the host loop: timeout */
	struct fl_timer deliver;   /* on the host loop: completion callback */
	int result;
	bool performed;
	struct simio *next_held;
	struct simio *prev, *next; /* all live simios of the handle */
};

struct fl_simbdev {
	struct fl_bdev base;
	struct fl_simdisk *disk;
	struct fl_simbdev_faults faults;
	struct fl_rand rand;
	struct simio *live;
	struct simio *held_head;   /* held by a stall, in submission order */
	struct simio *held_tail;
	uint32_t inflight;         /* accepted, not yet performed */
};

int fl_simdisk_init(struct fl_simdisk *disk, struct fl_sim *sim, uint64_t size_bytes, uint32_t sector_size)
{
	FL_ASSERT(sector_size == 512 || sector_size == 4096);
	FL_ASSERT(size_bytes % sector_size == 0);
	disk->data = calloc(1, size_bytes);
	if (disk->data == NULL)
		return -FL_ENOMEM;
	disk->size_bytes = size_bytes;
	disk->sector_size = sector_size;
	disk->writes_applied = 0;
	return fl_simclock_init(&disk->clock, sim, 0, 0);
}

void fl_simdisk_free(struct fl_simdisk *disk)
{
	fl_simclock_free(&disk->clock);
	free(disk->data);
	disk->data = NULL;
}

static void simio_free(struct simio *s)
{
	struct fl_simbdev *b = s->dev;
	fl_timer_cancel(&b->disk->clock.base, &s->perform);
	fl_timer_cancel(b->base.loop, &s->deadline);
	fl_timer_cancel(b->base.loop, &s->deliver);
	if (s->prev)
		s->prev->next = s->next;
	else
		b->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s->copy);
	free(s);
}

static void simio_maybe_free(struct simio *s)
{
	if (s->performed && s->io == NULL)
		simio_free(s);
}

static void simio_answer(struct simio *s, int result)
{
	struct fl_io *io = s->io;
	FL_ASSERT(io != NULL);
	s->io = NULL;
	fl_timer_cancel(s->dev->base.loop, &s->deadline);
	fl_timer_cancel(s->dev->base.loop, &s->deliver);
	io->inflight = false;
	if (result == 0 && io->op == FL_IO_READ)
		memcpy(io->buf, s->copy, io->len);
	if (result == -FL_ETIMEDOUT)
		s->dev->base.stats.timeouts++;
	else if (result != 0)
		s->dev->base.stats.errors++;
	io->cb(io, result);
}

static void simio_deliver_fn(struct fl_timer *t, void *arg)
{
	struct simio *s = arg;
	(void)t;
	simio_answer(s, s->result);
	simio_maybe_free(s);
}

static void simio_deadline_fn(struct fl_timer *t, void *arg)
{
	struct simio *s = arg;
	(void)t;
	simio_answer(s, -FL_ETIMEDOUT);
	simio_maybe_free(s);
}

/* Moves the data. A torn write lands a byte prefix that usually ends inside
 * a sector, which is what a power cut mid-write leaves behind. */
static void simio_move(struct simio *s, bool torn)
{
	struct fl_simdisk *disk = s->dev->disk;
	uint8_t *dst = disk->data + s->offset;
	if (s->op == FL_IO_READ) {
		memcpy(s->copy, dst, s->len);
		return;
	}
	uint32_t n = s->len;
	if (torn)
		n = (uint32_t)fl_rand_below(&s->dev->rand, s->len);
	memcpy(dst, s->copy, n);
	disk->writes_applied++;
}

static void simio_perform(struct simio *s)
{
	struct fl_simbdev *b = s->dev;
	const struct fl_simbdev_faults *f = &b->faults;
	FL_ASSERT(!s->performed);
	FL_ASSERT(b->inflight > 0);
	s->performed = true;
	b->inflight--;
	if (f->offline || fl_rand_chance(&b->rand, f->error_permille, 1000)) {
		s->result = -FL_EIO;
	} else if (s->op == FL_IO_WRITE && fl_rand_chance(&b->rand, f->torn_permille, 1000)) {
		simio_move(s, true);
		s->result = -FL_EIO;
	} else {
		simio_move(s, false);
		s->result = 0;
	}
	if (s->io != NULL)
		fl_timer_after(b->base.loop, &s->deliver, 0);
	else
		simio_maybe_free(s);
}

static void simio_perform_fn(struct fl_timer *t, void *arg)
{
	struct simio *s = arg;
	(void)t;
	if (s->dev->faults.stalled) {
		/* FIFO: a stalled path releases its I/O in the order it took it. */
		struct fl_simbdev *b = s->dev;
		s->next_held = NULL;
		if (b->held_tail != NULL)
			b->held_tail->next_held = s;
		else
			b->held_head = s;
		b->held_tail = s;
		return;
	}
	simio_perform(s);
}

static void simio_schedule(struct simio *s)
{
	struct fl_simbdev *b = s->dev;
	uint64_t lo = b->faults.latency_min_us;
	uint64_t hi = FL_MAX(lo, b->faults.latency_max_us);
	fl_timer_after(&b->disk->clock.base, &s->perform, fl_rand_range(&b->rand, lo, hi));
}

static int simbdev_submit(struct fl_bdev *d, struct fl_io *io)
{
	struct fl_simbdev *b = (struct fl_simbdev *)d;
	struct simio *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -FL_ENOMEM;
	s->copy = malloc(io->len);
	if (s->copy == NULL) {
		free(s);
		return -FL_ENOMEM;
	}
	s->dev = b;
	s->io = io;
	s->op = io->op;
	s->offset = io->offset;
	s->len = io->len;
	if (io->op == FL_IO_WRITE)
		memcpy(s->copy, io->buf, io->len);
	fl_timer_init(&s->perform, simio_perform_fn, s);
	fl_timer_init(&s->deadline, simio_deadline_fn, s);
	fl_timer_init(&s->deliver, simio_deliver_fn, s);
	s->next = b->live;
	if (b->live)
		b->live->prev = s;
	b->live = s;
	b->inflight++;
	fl_timer_after(b->base.loop, &s->deadline, io->timeout_us);
	simio_schedule(s);
	return 0;
}

static int simbdev_poll(struct fl_bdev *d, uint64_t max_wait_us)
{
	struct fl_simbdev *b = (struct fl_simbdev *)d;
	(void)max_wait_us;
	return fl_sim_step(b->disk->clock.sim) ? 0 : -FL_ETIMEDOUT;
}

static void simbdev_close(struct fl_bdev *d)
{
	struct fl_simbdev *b = (struct fl_simbdev *)d;
	/* Cancelled I/O is no longer in flight: its caller may submit it again. */
	while (b->live) {
		if (b->live->io != NULL)
			b->live->io->inflight = false;
		simio_free(b->live);
	}
	free(b);
}

static const struct fl_bdev_ops simbdev_ops = {
	.submit = simbdev_submit,
	.poll = simbdev_poll,
	.close = simbdev_close,
};

struct fl_simbdev *fl_simbdev_new(struct fl_simdisk *disk, struct fl_loop *host_loop, const char *name,
				  uint64_t seed)
{
	struct fl_simbdev *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->base.ops = &simbdev_ops;
	b->base.loop = host_loop;
	snprintf(b->base.name, sizeof(b->base.name), "%s", name);
	b->base.sector_size = disk->sector_size;
	b->base.size_bytes = disk->size_bytes;
	b->base.default_timeout_us = 10 * FL_US_PER_S;
	b->disk = disk;
	b->faults.latency_min_us = 100;
	b->faults.latency_max_us = 500;
	fl_rand_seed(&b->rand, seed);
	return b;
}

struct fl_bdev *fl_simbdev_bdev(struct fl_simbdev *b) { return &b->base; }
struct fl_simbdev_faults *fl_simbdev_faults(struct fl_simbdev *b) { return &b->faults; }
uint32_t fl_simbdev_inflight(const struct fl_simbdev *b) { return b->inflight; }

void fl_simbdev_unstall(struct fl_simbdev *b)
{
	b->faults.stalled = false;
	struct simio *s = b->held_head;
	b->held_head = b->held_tail = NULL;
	/* Bounded by the number of held I/Os; each performs after a fresh latency. */
	while (s != NULL) {
		struct simio *next = s->next_held;
		s->next_held = NULL;
		simio_schedule(s);
		s = next;
	}
}

void fl_simbdev_crash(struct fl_simbdev *b)
{
	/* Answer nobody; resolve unperformed writes whole, torn or not at all. */
	b->held_head = b->held_tail = NULL;
	while (b->live) {
		struct simio *s = b->live;
		if (!s->performed && s->op == FL_IO_WRITE) {
			uint64_t fate = fl_rand_below(&b->rand, 3);
			if (fate != 2)
				simio_move(s, fate == 1);
		}
		if (s->io)
			s->io->inflight = false;
		simio_free(s);
	}
	b->inflight = 0;
}
