/* Device-independent part of the block-device seam: argument checks,
 * statistics and synchronous helpers. */
#include <string.h>
#include "common/assert.h"
#include "disklock/bdev.h"
#include "fencelock/error.h"

int fl_bdev_submit(struct fl_bdev *d, struct fl_io *io)
{
	FL_ASSERT(d != NULL);
	FL_ASSERT(io != NULL);
	FL_ASSERT(io->cb != NULL);
	FL_ASSERT(!io->inflight);
	if (io->len == 0 || io->buf == NULL)
		return -FL_EINVAL;
	if (io->offset % d->sector_size != 0 || io->len % d->sector_size != 0)
		return -FL_EALIGN;
	if (io->offset > d->size_bytes || io->len > d->size_bytes - io->offset)
		return -FL_ETOOSMALL;
	if (io->op == FL_IO_WRITE && d->writes_refused)
		return -FL_EFOREIGN;
	if (io->timeout_us == 0)
		io->timeout_us = d->default_timeout_us;
	if (io->op == FL_IO_READ) {
		d->stats.reads++;
		d->stats.bytes_read += io->len;
	} else {
		d->stats.writes++;
		d->stats.bytes_written += io->len;
	}
	io->inflight = true;
	int rv = d->ops->submit(d, io);
	if (rv != 0)
		io->inflight = false;
	return rv;
}

void fl_bdev_close(struct fl_bdev *d)
{
	if (d != NULL)
		d->ops->close(d);
}

struct sync_wait {
	bool done;
	int result;
};

static void sync_cb(struct fl_io *io, int result)
{
	struct sync_wait *w = io->arg;
	w->done = true;
	w->result = result;
}

static int sync_io(struct fl_bdev *d, enum fl_io_op op, uint64_t offset, void *buf, uint32_t len)
{
	struct sync_wait w = {0};
	struct fl_io io = {.op = op, .offset = offset, .len = len, .buf = buf, .cb = sync_cb, .arg = &w};
	int rv = fl_bdev_submit(d, &io);
	if (rv != 0)
		return rv;
	/* Bounded: the device's deadline guarantees the callback. */
	while (!w.done) {
		rv = d->ops->poll(d, 100 * FL_US_PER_MS);
		if (rv != 0 && !w.done)
			return rv;
	}
	return w.result;
}

int fl_bdev_read_sync(struct fl_bdev *d, uint64_t offset, void *buf, uint32_t len)
{
	return sync_io(d, FL_IO_READ, offset, buf, len);
}

int fl_bdev_write_sync(struct fl_bdev *d, uint64_t offset, const void *buf, uint32_t len)
{
	return sync_io(d, FL_IO_WRITE, offset, (void *)buf, len);
}
