/* The block-device seam: sector-aligned asynchronous reads and writes, each
 * with a deadline.
 *
 * All shared-disk access in fencelock goes through this interface, so that
 * the lockspace, the volume leases, the mailboxes and the disk voter run
 * unchanged on a real device (bdev_aio.c: libaio + O_DIRECT) and on the
 * simulated disk (bdev_sim.c: in memory, with latency, stalls, errors and
 * torn writes injected on command).
 *
 * Contract of fl_bdev_submit():
 *   - offset and len are multiples of the device's sector size, len > 0, and
 *     the range lies inside the device; otherwise -FL_EALIGN / -FL_EINVAL is
 *     returned at once and the callback is never called;
 *   - otherwise the callback runs exactly once, never from inside submit,
 *     with 0 or a -FL_E code (-FL_ETIMEDOUT when the deadline passed first);
 *   - buf may have any alignment; the device copies through buffers of its
 *     own, so once the callback ran the caller may reuse or free buf even if
 *     the kernel still holds the timed-out request: the device keeps its own
 *     buffer until the kernel gives it back;
 *   - a write that timed out may still reach the disk later: callers treat a
 *     timed-out write as "may or may not have happened". */
#ifndef FL_BDEV_H
#define FL_BDEV_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/loop.h"

enum fl_io_op { FL_IO_READ = 0, FL_IO_WRITE = 1 };

struct fl_io;
typedef void (*fl_io_cb)(struct fl_io *io, int result);

struct fl_io {
	enum fl_io_op op;
	uint64_t offset;      /* bytes from the start of the device */
	uint32_t len;         /* bytes */
	void *buf;
	uint64_t timeout_us;  /* 0: the device's default timeout */
	fl_io_cb cb;
	void *arg;
	/* Private to the device implementation. */
	void *priv;
	bool inflight;
};

struct fl_bdev_stats {
	uint64_t reads, writes;
	uint64_t bytes_read, bytes_written;
	uint64_t timeouts, errors;
};

struct fl_bdev;
struct fl_bdev_ops {
	int (*submit)(struct fl_bdev *d, struct fl_io *io);
	/* Drives completions: waits at most max_wait_us for progress. */
	int (*poll)(struct fl_bdev *d, uint64_t max_wait_us);
	void (*close)(struct fl_bdev *d);
};

struct fl_bdev {
	const struct fl_bdev_ops *ops;
	struct fl_loop *loop;
	char name[256];            /* path or simulated name, for messages */
	uint32_t sector_size;      /* 512 or 4096 */
	uint64_t size_bytes;
	uint64_t default_timeout_us;
	bool writes_refused;       /* set by the owner once the device is not the one it
				      opened (a foreign header): writes fail at submit */
	struct fl_bdev_stats stats;
};

/* Validates and submits io (see the contract above); a write to a device
 * whose writes_refused is set is -FL_EFOREIGN at once. */
FL_MUST_CHECK int fl_bdev_submit(struct fl_bdev *d, struct fl_io *io);
/* Closes the device; pending I/O is cancelled (callbacks do not run). */
void fl_bdev_close(struct fl_bdev *d);

/* Synchronous helpers for the CLI and tests: submit, then drive the device's
 * loop until the callback ran. Return 0 or a -FL_E code. */
FL_MUST_CHECK int fl_bdev_read_sync(struct fl_bdev *d, uint64_t offset, void *buf, uint32_t len);
FL_MUST_CHECK int fl_bdev_write_sync(struct fl_bdev *d, uint64_t offset, const void *buf, uint32_t len);

/* ---- real device: libaio + O_DIRECT (bdev_aio.c) ---- */
struct fl_eloop;
struct fl_bdev_aio_opts {
	uint32_t sector_size;   /* 0: detect (BLKSSZGET; 512 for regular files) */
	uint64_t timeout_us;    /* default per-I/O deadline; 0 = 10 s */
	bool read_only;
	bool create;            /* create a regular file if missing (tests) */
	uint64_t create_size_bytes;
};
/* Opens path with O_DIRECT|O_DSYNC; on error returns a -FL_E code and writes
 * a one-line reason (what and where) into err (may be NULL). */
FL_MUST_CHECK int fl_bdev_aio_open(struct fl_eloop *el, const char *path, const struct fl_bdev_aio_opts *opts,
		     struct fl_bdev **out, char *err, size_t errlen);

#endif
