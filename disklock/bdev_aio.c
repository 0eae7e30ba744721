/* The real block device: libaio with O_DIRECT|O_DSYNC, driven by the daemon's
 * epoll loop (see the contract in bdev.h).
 *
 * Finding that shapes this file (measured on Linux 6.18 with libfuse 3.14 and
 * tests/tools/flstall, pinned by tests/integration/t_aio_submit_blocks.sh):
 * io_submit() on a FUSE file opened O_DIRECT does NOT always return at once.
 * libaio itself has no fallback (it is a thin syscall wrapper); the kernel
 * decides. With FUSE async direct I/O (FUSE_CAP_ASYNC_DIO, libfuse's
 * default) and the server frozen, the first 12 io_submit calls return in
 * microseconds, then the 13th sleeps until the server answers: every such
 * request is a FUSE background request and max_background is 12 by default
 * (/sys/fs/fuse/connections/N/); the stack is io_submit_one > aio_read >
 * fuse_direct_IO > fuse_async_req_send > fuse_simple_background >
 * fuse_get_req, a killable wait that ordinary signals do not end. Without
 * async direct I/O (flstall --sync-dio, or an older server) the kernel
 * serves aio synchronously and the very first io_submit blocks. The kernel
 * also makes a direct write that extends the file synchronous, and a block
 * device whose request queue is full (a hung SAN path) can block io_submit
 * too (not measured here). So the
 * event loop never calls io_submit: each device has one submission thread
 * fed through a bounded queue. The loop thread queues a request and arms its
 * deadline; the thread calls io_submit (and may sleep there as long as the
 * device likes); the kernel signals completion on an eventfd that the loop
 * watches, and the loop reaps with io_getevents(timeout 0), so callbacks run
 * on the loop thread only. A request whose deadline passes is answered
 * -FL_ETIMEDOUT at once; if it was still queued it is dropped, otherwise its
 * iocb and bounce buffer stay with the device until the kernel returns them
 * and the slot is then freed without a callback (a slot keeps its bounce
 * buffer for its next request: no allocation per I/O once the buffers are
 * there, within AIO_KEEP_BYTES per device). At most AIO_MAX_DEPTH requests exist
 * per device, timed-out ones included, so a stalled device fills up and
 * further submits fail at once with -FL_ENOSPC rather than growing without
 * bound. close() never frees a buffer the kernel may still write into: if
 * requests are still out after a short bounded wait, the submission thread
 * keeps the device's memory, reaps them whenever the kernel gives them back,
 * then frees everything itself. A callback may close its own device.
 * Geometry: a block device's logical sector size (BLKSSZGET) and size
 * (BLKGETSIZE64); a regular file uses 512-byte sectors unless told, or 4096
 * when statx reports that the filesystem's direct I/O needs that alignment. */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/pi_mutex.h"
#include "common/errmap.h"
#include "common/log.h"
#include "disklock/bdev.h"
#include "fencelock/error.h"

#define AIO_MAX_DEPTH 128u                 /* requests per device, timed-out ones included */
#define AIO_REAP_BATCH 32u
#define AIO_BUF_ALIGN_BYTES 4096u          /* covers 512 and 4096 logical sectors */
#define AIO_DEFAULT_TIMEOUT_US (10 * FL_US_PER_S)
#define AIO_CLOSE_WAIT_US (500 * FL_US_PER_MS)
#define AIO_DRAIN_SLICE_NS 100000000L      /* submission thread re-checks every 100 ms */
#define AIO_SUBMIT_EINTR_RETRIES 16
/* Bounce buffers stay with their slot once allocated (the renewal path then
 * allocates nothing after its first I/O), up to this many bytes over all
 * slots of a device; a slot freed while the device keeps more gives its
 * buffer back. A full lockspace scan is at most 8 MiB (2,000 hosts of 4 KiB). */
#define AIO_KEEP_BYTES (16u << 20)

enum req_state {
	REQ_FREE,
	REQ_QUEUED,     /* in the submission queue: the loop may still drop it */
	REQ_SUBMITTED,  /* handed to io_submit: owned by the thread, then the kernel */
	REQ_FAILED,     /* io_submit refused it: on the failed list for the loop */
};

struct aio_dev;

struct aio_req {
	struct iocb iocb;
	struct aio_dev *dev;
	struct fl_io *io;          /* loop thread only; NULL once answered */
	void *buf;                 /* the device's aligned bounce buffer, kept between uses */
	uint32_t cap;              /* bytes of buf */
	uint32_t len;
	enum req_state state;      /* under dev->mu */
	int submit_err;            /* -FL_E code when state == REQ_FAILED */
	struct fl_timer deadline;  /* on the loop */
	struct aio_req *next;      /* free list, submission queue or failed list */
};

struct aio_dev {
	struct fl_bdev base;
	struct fl_eloop *el;
	int fd;
	int efd;                   /* completions (kernel) and refusals (thread) */
	io_context_t ctx;
	bool read_only;
	bool in_callback;          /* loop thread: a callback is running */
	bool close_pending;        /* loop thread: a callback called close() */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;       /* thread: queue non-empty or closing */
	pthread_cond_t drained;    /* close(): thread finished */
	/* Under mu: */
	struct aio_req *free_head;
	struct aio_req *queue_head, *queue_tail;
	struct aio_req *failed_head;
	uint32_t used;             /* slots not free */
	uint32_t in_kernel;        /* REQ_SUBMITTED slots */
	uint64_t kept_bytes;       /* sum of the slots' buffer capacities */
	bool closing;
	bool thread_done;
	bool orphaned;             /* close() gave up waiting: the thread frees the device */
	struct aio_req reqs[AIO_MAX_DEPTH];
};

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	FL_ASSERT(code < 0);
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- request slots (callers hold dev->mu) ---- */

static struct aio_req *req_alloc_locked(struct aio_dev *dev)
{
	struct aio_req *r = dev->free_head;
	if (r == NULL)
		return NULL;
	FL_ASSERT(r->state == REQ_FREE);
	FL_ASSERT(dev->used < AIO_MAX_DEPTH);
	dev->free_head = r->next;
	r->next = NULL;
	dev->used++;
	return r;
}

static void req_free_locked(struct aio_dev *dev, struct aio_req *r)
{
	FL_ASSERT(r->state != REQ_FREE);
	FL_ASSERT(dev->used > 0);
	FL_ASSERT(dev->kept_bytes >= r->cap);
	if (dev->kept_bytes > AIO_KEEP_BYTES) {
		dev->kept_bytes -= r->cap;
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
	r->io = NULL;
	r->state = REQ_FREE;
	r->next = dev->free_head;
	dev->free_head = r;
	dev->used--;
}

static void req_free(struct aio_dev *dev, struct aio_req *r)
{
	pthread_mutex_lock(&dev->mu);
	req_free_locked(dev, r);
	pthread_mutex_unlock(&dev->mu);
}

/* Gives slot r (taken, not yet queued) a bounce buffer of at least len
 * bytes; the one it kept from an earlier request when that is large enough. */
static int req_buf_locked(struct aio_dev *dev, struct aio_req *r, uint32_t len)
{
	if (r->buf != NULL && r->cap >= len)
		return 0;
	void *buf = NULL;
	if (posix_memalign(&buf, AIO_BUF_ALIGN_BYTES, len) != 0)
		return -FL_ENOMEM;
	FL_ASSERT(dev->kept_bytes >= r->cap);
	dev->kept_bytes = dev->kept_bytes - r->cap + len;
	free(r->buf);
	r->buf = buf;
	r->cap = len;
	return 0;
}

/* Removes r from the submission queue if it is still there. */
static bool queue_remove_locked(struct aio_dev *dev, struct aio_req *r)
{
	struct aio_req *prev = NULL;
	struct aio_req *q = dev->queue_head;
	/* Bounded: the queue holds at most AIO_MAX_DEPTH requests. */
	for (uint32_t i = 0; q != NULL && i < AIO_MAX_DEPTH; i++, prev = q, q = q->next) {
		if (q != r)
			continue;
		if (prev != NULL)
			prev->next = q->next;
		else
			dev->queue_head = q->next;
		if (dev->queue_tail == q)
			dev->queue_tail = prev;
		q->next = NULL;
		return true;
	}
	return false;
}

/* ---- answering the caller (loop thread) ---- */

static void close_now(struct aio_dev *dev);

/* Runs a caller's callback. Returns false when the callback closed the
 * device: the caller must then touch nothing of dev but finish the close. */
static bool dispatch(struct aio_dev *dev, struct fl_io *io, int result)
{
	FL_ASSERT(!dev->in_callback);
	FL_ASSERT(io->inflight);
	io->inflight = false;
	io->priv = NULL;
	dev->in_callback = true;
	io->cb(io, result);
	dev->in_callback = false;
	return !dev->close_pending;
}

/* Answers r's caller (if it still waits) and frees r; false as dispatch(). */
static bool req_finish(struct aio_dev *dev, struct aio_req *r, int result)
{
	struct fl_io *io = r->io;
	FL_ASSERT(r->state == REQ_SUBMITTED || r->state == REQ_FAILED);
	if (io == NULL) {
		/* Timed out earlier: the kernel gave the buffer back; nobody waits. */
		req_free(dev, r);
		return true;
	}
	fl_timer_cancel(dev->base.loop, &r->deadline);
	if (result == 0 && io->op == FL_IO_READ)
		memcpy(io->buf, r->buf, io->len);
	req_free(dev, r);
	if (result != 0)
		dev->base.stats.errors++;
	return dispatch(dev, io, result);
}

static void req_deadline_fn(struct fl_timer *t, void *arg)
{
	struct aio_req *r = arg;
	struct aio_dev *dev = r->dev;
	struct fl_io *io = r->io;
	(void)t;
	FL_ASSERT(io != NULL);
	r->io = NULL;
	pthread_mutex_lock(&dev->mu);
	FL_ASSERT(r->state != REQ_FREE);
	/* Not yet handed to the kernel: drop it, it will never reach the disk. */
	if (r->state == REQ_QUEUED && queue_remove_locked(dev, r))
		req_free_locked(dev, r);
	pthread_mutex_unlock(&dev->mu);
	dev->base.stats.timeouts++;
	if (!dispatch(dev, io, -FL_ETIMEDOUT))
		close_now(dev);
}

static int event_result(const struct aio_req *r, const struct io_event *ev)
{
	long res = (long)ev->res;
	if (res < 0)
		return fl_from_errno((int)-res);
	if ((unsigned long)res != r->len)
		return -FL_EIO; /* short transfer: past the end of a shrunken device */
	return 0;
}

/* Reaps completed iocbs without waiting. Returns false when a callback
 * closed the device; events reaped but not yet handled are freed first. */
static bool reap_completions(struct aio_dev *dev)
{
	struct io_event evs[AIO_REAP_BATCH];
	struct timespec zero = {0, 0};
	/* Bounded: at most AIO_MAX_DEPTH requests are in the kernel. */
	for (uint32_t round = 0; round <= AIO_MAX_DEPTH / AIO_REAP_BATCH; round++) {
		int n = io_getevents(dev->ctx, 0, AIO_REAP_BATCH, evs, &zero);
		bool open = true;
		for (int i = 0; i < n; i++) {
			struct aio_req *r = evs[i].data;
			FL_ASSERT(r != NULL);
			FL_ASSERT(r->dev == dev);
			pthread_mutex_lock(&dev->mu);
			FL_ASSERT(r->state == REQ_SUBMITTED);
			FL_ASSERT(dev->in_kernel > 0);
			dev->in_kernel--;
			if (!open)
				req_free_locked(dev, r);
			pthread_mutex_unlock(&dev->mu);
			if (open)
				open = req_finish(dev, r, event_result(r, &evs[i]));
		}
		if (!open)
			return false;
		if (n < (int)AIO_REAP_BATCH)
			break;
	}
	return true;
}

/* Hands back failed requests not yet answered (a callback closed the device). */
static void requeue_failed(struct aio_dev *dev, struct aio_req *rest)
{
	pthread_mutex_lock(&dev->mu);
	for (uint32_t i = 0; rest != NULL && i < AIO_MAX_DEPTH; i++) {
		struct aio_req *next = rest->next;
		rest->next = dev->failed_head;
		dev->failed_head = rest;
		rest = next;
	}
	pthread_mutex_unlock(&dev->mu);
}

static void on_eventfd(void *arg, uint32_t events)
{
	struct aio_dev *dev = arg;
	uint64_t count;
	(void)events;
	/* Reset the counter first, so a completion racing with the reap below
	 * signals the eventfd again rather than being missed. */
	if (read(dev->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		fl_warn("bdev %s: read of completion eventfd: %s", dev->base.name, strerror(errno));
	pthread_mutex_lock(&dev->mu);
	struct aio_req *failed = dev->failed_head;
	dev->failed_head = NULL;
	pthread_mutex_unlock(&dev->mu);
	for (uint32_t i = 0; failed != NULL && i < AIO_MAX_DEPTH; i++) {
		struct aio_req *next = failed->next;
		if (!req_finish(dev, failed, failed->submit_err)) {
			requeue_failed(dev, next);
			close_now(dev);
			return;
		}
		failed = next;
	}
	if (!reap_completions(dev))
		close_now(dev);
}

/* ---- submission thread ---- */

static void notify_loop(struct aio_dev *dev)
{
	uint64_t one = 1;
	if (write(dev->efd, &one, sizeof(one)) < 0)
		fl_warn("bdev %s: write of completion eventfd: %s", dev->base.name, strerror(errno));
}

/* Hands r to the kernel; may sleep as long as the device does. Called
 * without the lock; r is REQ_SUBMITTED and counted in in_kernel already, so a
 * completion that overtakes our return from io_submit finds it consistent. */
static void thread_submit_one(struct aio_dev *dev, struct aio_req *r)
{
	struct iocb *cbs[1] = {&r->iocb};
	int rv = -EINTR;
	for (int i = 0; i < AIO_SUBMIT_EINTR_RETRIES && rv == -EINTR; i++)
		rv = io_submit(dev->ctx, 1, cbs);
	if (rv == 1)
		return;
	pthread_mutex_lock(&dev->mu);
	FL_ASSERT(r->state == REQ_SUBMITTED);
	FL_ASSERT(dev->in_kernel > 0);
	dev->in_kernel--;
	r->state = REQ_FAILED;
	r->submit_err = rv < 0 ? fl_from_errno(-rv) : -FL_EIO;
	r->next = dev->failed_head;
	dev->failed_head = r;
	pthread_mutex_unlock(&dev->mu);
	notify_loop(dev);
}

/* After close(): drops queued requests and waits until the kernel returned
 * every submitted one. Unbounded in time by necessity (a buffer the kernel
 * still owns must not be freed), bounded in work per slice. Holds mu. */
static void thread_drain_locked(struct aio_dev *dev)
{
	struct io_event evs[AIO_REAP_BATCH];
	while (dev->queue_head != NULL) {
		struct aio_req *r = dev->queue_head;
		dev->queue_head = r->next;
		req_free_locked(dev, r);
	}
	dev->queue_tail = NULL;
	while (dev->failed_head != NULL) {
		struct aio_req *r = dev->failed_head;
		dev->failed_head = r->next;
		req_free_locked(dev, r);
	}
	while (dev->in_kernel > 0) {
		pthread_mutex_unlock(&dev->mu);
		struct timespec slice = {0, AIO_DRAIN_SLICE_NS};
		int n = io_getevents(dev->ctx, 1, AIO_REAP_BATCH, evs, &slice);
		pthread_mutex_lock(&dev->mu);
		for (int i = 0; i < n; i++) {
			struct aio_req *r = evs[i].data;
			FL_ASSERT(r->state == REQ_SUBMITTED);
			dev->in_kernel--;
			req_free_locked(dev, r);
		}
	}
	FL_ASSERT(dev->used == 0);
}

static void dev_release(struct aio_dev *dev);

static void *submit_thread_main(void *arg)
{
	struct aio_dev *dev = arg;
	pthread_mutex_lock(&dev->mu);
	for (;;) {
		while (dev->queue_head == NULL && !dev->closing)
			pthread_cond_wait(&dev->work, &dev->mu);
		if (dev->closing)
			break;
		struct aio_req *r = dev->queue_head;
		dev->queue_head = r->next;
		if (dev->queue_head == NULL)
			dev->queue_tail = NULL;
		r->next = NULL;
		FL_ASSERT(r->state == REQ_QUEUED);
		r->state = REQ_SUBMITTED;
		dev->in_kernel++;
		pthread_mutex_unlock(&dev->mu);
		thread_submit_one(dev, r);
		pthread_mutex_lock(&dev->mu);
	}
	thread_drain_locked(dev);
	dev->thread_done = true;
	bool orphaned = dev->orphaned;
	pthread_cond_signal(&dev->drained);
	pthread_mutex_unlock(&dev->mu);
	if (orphaned) {
		fl_notice("bdev %s: the kernel returned the last stalled request; device memory released",
			  dev->base.name);
		dev_release(dev);
	}
	return NULL;
}

/* ---- fl_bdev ops ---- */

static int aio_submit(struct fl_bdev *d, struct fl_io *io)
{
	struct aio_dev *dev = (struct aio_dev *)d;
	FL_ASSERT(io->inflight);
	FL_ASSERT(io->timeout_us > 0);
	if (io->op == FL_IO_WRITE && dev->read_only)
		return -FL_EPERM;
	pthread_mutex_lock(&dev->mu);
	FL_ASSERT(!dev->closing);
	struct aio_req *r = req_alloc_locked(dev);
	if (r == NULL) {
		pthread_mutex_unlock(&dev->mu);
		return -FL_ENOSPC;
	}
	r->state = REQ_QUEUED; /* until queued below, owned by this thread alone */
	if (req_buf_locked(dev, r, io->len) != 0) {
		req_free_locked(dev, r);
		pthread_mutex_unlock(&dev->mu);
		return -FL_ENOMEM;
	}
	void *buf = r->buf;
	if (io->op == FL_IO_WRITE)
		memcpy(buf, io->buf, io->len);
	r->io = io;
	r->len = io->len;
	if (io->op == FL_IO_READ)
		io_prep_pread(&r->iocb, dev->fd, buf, io->len, (long long)io->offset);
	else
		io_prep_pwrite(&r->iocb, dev->fd, buf, io->len, (long long)io->offset);
	io_set_eventfd(&r->iocb, dev->efd);
	r->iocb.data = r;
	if (dev->queue_tail != NULL)
		dev->queue_tail->next = r;
	else
		dev->queue_head = r;
	dev->queue_tail = r;
	pthread_cond_signal(&dev->work);
	pthread_mutex_unlock(&dev->mu);
	io->priv = r;
	fl_timer_after(dev->base.loop, &r->deadline, io->timeout_us);
	return 0;
}

static int aio_poll(struct fl_bdev *d, uint64_t max_wait_us)
{
	struct aio_dev *dev = (struct aio_dev *)d;
	return fl_eloop_run_once(dev->el, max_wait_us);
}

/* Frees everything; the thread has finished and nothing is in the kernel. */
static void dev_release(struct aio_dev *dev)
{
	FL_ASSERT(dev->thread_done);
	FL_ASSERT(dev->in_kernel == 0);
	for (uint32_t i = 0; i < AIO_MAX_DEPTH; i++)
		free(dev->reqs[i].buf);
	io_destroy(dev->ctx);
	close(dev->efd);
	close(dev->fd);
	pthread_cond_destroy(&dev->drained);
	pthread_cond_destroy(&dev->work);
	pthread_mutex_destroy(&dev->mu);
	free(dev);
}

/* Waits for the thread at most AIO_CLOSE_WAIT_US; true when it finished. */
static bool close_wait_locked(struct aio_dev *dev)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	uint64_t ns = (uint64_t)until.tv_nsec + AIO_CLOSE_WAIT_US * 1000u;
	until.tv_sec += (time_t)(ns / 1000000000u);
	until.tv_nsec = (long)(ns % 1000000000u);
	while (!dev->thread_done) {
		if (pthread_cond_timedwait(&dev->drained, &dev->mu, &until) == ETIMEDOUT)
			break;
	}
	return dev->thread_done;
}

/* Cancels every caller's answer; the slots themselves go to the thread. */
static void cancel_answers(struct aio_dev *dev)
{
	for (uint32_t i = 0; i < AIO_MAX_DEPTH; i++) {
		struct aio_req *r = &dev->reqs[i];
		fl_timer_cancel(dev->base.loop, &r->deadline);
		if (r->io != NULL) {
			r->io->inflight = false;
			r->io->priv = NULL;
			r->io = NULL;
		}
	}
}

static void close_now(struct aio_dev *dev)
{
	FL_ASSERT(!dev->in_callback);
	fl_eloop_del_fd(dev->el, dev->efd);
	cancel_answers(dev);
	pthread_mutex_lock(&dev->mu);
	dev->closing = true;
	pthread_cond_signal(&dev->work);
	bool done = close_wait_locked(dev);
	pthread_t thread = dev->thread;
	if (!done) {
		/* From the unlock on, the thread owns dev and may free it at once. */
		dev->orphaned = true;
		fl_warn("bdev %s: closed with %u request(s) still held by a stalled device; "
			"their buffers are released when the kernel returns them",
			dev->base.name, dev->in_kernel);
	}
	pthread_mutex_unlock(&dev->mu);
	if (!done) {
		pthread_detach(thread);
		return;
	}
	pthread_join(thread, NULL);
	dev_release(dev);
}

static void aio_close(struct fl_bdev *d)
{
	struct aio_dev *dev = (struct aio_dev *)d;
	FL_ASSERT(!dev->close_pending);
	if (dev->in_callback) {
		/* From inside an I/O callback: the dispatcher finishes the close
		 * as soon as the callback returns. No other callback runs. */
		cancel_answers(dev);
		dev->close_pending = true;
		return;
	}
	close_now(dev);
}

static const struct fl_bdev_ops aio_ops = {
	.submit = aio_submit,
	.poll = aio_poll,
	.close = aio_close,
};

/* ---- open ---- */

/* Opens the file; explains ENOENT and a filesystem without O_DIRECT. */
static int open_path(const char *path, const struct fl_bdev_aio_opts *o, int *fd_out, char *err, size_t errlen)
{
	int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_DSYNC | O_CLOEXEC;
	if (o->create && !o->read_only)
		flags |= O_CREAT;
	int fd = open(path, flags, 0600);
	if (fd >= 0) {
		*fd_out = fd;
		return 0;
	}
	int e = errno;
	if (e == EINVAL) {
		int probe = open(path, flags & ~O_DIRECT & ~O_CREAT);
		if (probe >= 0) {
			close(probe);
			return set_err(err, errlen, -FL_EINVAL,
				       "open %s: the filesystem does not support O_DIRECT (tmpfs or ramfs?); "
				       "use a block device or a file on a disk filesystem such as ext4 or xfs",
				       path);
		}
	}
	return set_err(err, errlen, fl_from_errno(e), "open %s: %s", path, strerror(e));
}

/* Regular files: 512 unless told; refuses a size the filesystem's direct
 * I/O alignment does not allow. */
static int probe_file(int fd, const char *path, uint32_t want, uint32_t *sector, char *err, size_t errlen)
{
	*sector = want != 0 ? want : 512;
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
		if (sx.stx_dio_offset_align == 0)
			return set_err(err, errlen, -FL_EINVAL,
				       "%s: the filesystem does not support direct I/O; use a block device "
				       "or a file on a disk filesystem such as ext4 or xfs",
				       path);
		uint32_t need = sx.stx_dio_offset_align;
		if (need > *sector && (want != 0 || need > 4096))
			return set_err(err, errlen, -FL_ESECTOR,
				       "%s: sector size %u, but direct I/O on this filesystem needs "
				       "%u-byte alignment; use sector size 4096 or a block device",
				       path, *sector, need);
		if (need > *sector)
			*sector = 4096;
	}
#else
	(void)fd;
	(void)path;
	(void)err;
	(void)errlen;
#endif
	return 0;
}

/* Block devices: the logical sector size must match what was asked for. */
static int probe_blockdev(int fd, const char *path, uint32_t want, uint32_t *sector, uint64_t *size,
			  char *err, size_t errlen)
{
	int lss = 0;
	if (ioctl(fd, BLKSSZGET, &lss) != 0)
		return set_err(err, errlen, fl_from_errno(errno), "%s: BLKSSZGET: %s", path, strerror(errno));
	if (ioctl(fd, BLKGETSIZE64, size) != 0)
		return set_err(err, errlen, fl_from_errno(errno), "%s: BLKGETSIZE64: %s", path, strerror(errno));
	if (lss != 512 && lss != 4096)
		return set_err(err, errlen, -FL_ESECTOR, "%s: logical sector size %d is not supported (512 or 4096)",
			       path, lss);
	if (want != 0 && want != (uint32_t)lss)
		return set_err(err, errlen, -FL_ESECTOR,
			       "%s: sector size %u requested, but the device's logical sector size is %d; "
			       "use %d (or 0 to detect it)",
			       path, want, lss, lss);
	*sector = (uint32_t)lss;
	return 0;
}

/* Finds sector size and usable size; grows a freshly created test file. */
static int probe_geometry(int fd, const char *path, const struct fl_bdev_aio_opts *o, uint32_t *sector,
			  uint64_t *size, char *err, size_t errlen)
{
	struct stat st;
	if (o->sector_size != 0 && o->sector_size != 512 && o->sector_size != 4096)
		return set_err(err, errlen, -FL_EINVAL, "%s: sector size %u is not supported (512 or 4096)", path,
			       o->sector_size);
	if (fstat(fd, &st) != 0)
		return set_err(err, errlen, fl_from_errno(errno), "stat %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode))
		return probe_blockdev(fd, path, o->sector_size, sector, size, err, errlen);
	if (!S_ISREG(st.st_mode))
		return set_err(err, errlen, -FL_EINVAL, "%s: not a block device or a regular file", path);
	if (o->create && st.st_size == 0 && o->create_size_bytes > 0) {
		if (ftruncate(fd, (off_t)o->create_size_bytes) != 0)
			return set_err(err, errlen, fl_from_errno(errno), "grow %s to %llu bytes: %s", path,
				       (unsigned long long)o->create_size_bytes, strerror(errno));
		st.st_size = (off_t)o->create_size_bytes;
	}
	*size = (uint64_t)st.st_size;
	return probe_file(fd, path, o->sector_size, sector, err, errlen);
}

/* Context, eventfd, loop registration and thread; unwinds on failure. */
static int dev_start(struct aio_dev *dev, char *err, size_t errlen)
{
	int rv = io_setup((int)AIO_MAX_DEPTH, &dev->ctx);
	if (rv != 0)
		return set_err(err, errlen, fl_from_errno(-rv), "io_setup(%u) for %s: %s; raise fs.aio-max-nr",
			       AIO_MAX_DEPTH, dev->base.name, strerror(-rv));
	dev->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dev->efd < 0) {
		rv = set_err(err, errlen, fl_from_errno(errno), "eventfd for %s: %s", dev->base.name,
			     strerror(errno));
		goto err_ctx;
	}
	rv = fl_eloop_add_fd(dev->el, dev->efd, EPOLLIN, on_eventfd, dev);
	if (rv != 0) {
		set_err(err, errlen, rv, "watch eventfd of %s on the event loop: %s", dev->base.name,
			fl_strerror(rv));
		goto err_efd;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread takes no signals */
	int prv = pthread_create(&dev->thread, NULL, submit_thread_main, dev);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prv != 0) {
		rv = set_err(err, errlen, fl_from_errno(prv), "start submission thread for %s: %s", dev->base.name,
			     strerror(prv));
		fl_eloop_del_fd(dev->el, dev->efd);
		goto err_efd;
	}
	return 0;
err_efd:
	close(dev->efd);
err_ctx:
	io_destroy(dev->ctx);
	return rv;
}

static struct aio_dev *dev_new(struct fl_eloop *el, const char *path, const struct fl_bdev_aio_opts *o)
{
	struct aio_dev *dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return NULL;
	dev->base.ops = &aio_ops;
	dev->base.loop = fl_eloop_loop(el);
	snprintf(dev->base.name, sizeof(dev->base.name), "%s", path);
	dev->base.default_timeout_us = o->timeout_us != 0 ? o->timeout_us : AIO_DEFAULT_TIMEOUT_US;
	dev->el = el;
	dev->fd = dev->efd = -1;
	dev->read_only = o->read_only;
	fl_pi_mutex_init(&dev->mu);
	pthread_cond_init(&dev->work, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* close's bounded wait ignores clock steps */
	pthread_cond_init(&dev->drained, &ca);
	pthread_condattr_destroy(&ca);
	for (uint32_t i = AIO_MAX_DEPTH; i-- > 0;) {
		struct aio_req *r = &dev->reqs[i];
		r->dev = dev;
		r->state = REQ_FREE;
		fl_timer_init(&r->deadline, req_deadline_fn, r);
		r->next = dev->free_head;
		dev->free_head = r;
	}
	return dev;
}

int fl_bdev_aio_open(struct fl_eloop *el, const char *path, const struct fl_bdev_aio_opts *opts,
		     struct fl_bdev **out, char *err, size_t errlen)
{
	static const struct fl_bdev_aio_opts defaults;
	const struct fl_bdev_aio_opts *o = opts != NULL ? opts : &defaults;
	FL_ASSERT(el != NULL);
	FL_ASSERT(path != NULL);
	FL_ASSERT(out != NULL);
	*out = NULL;
	int fd = -1;
	int rv = open_path(path, o, &fd, err, errlen);
	if (rv != 0)
		return rv;
	uint32_t sector = 0;
	uint64_t size = 0;
	rv = probe_geometry(fd, path, o, &sector, &size, err, errlen);
	if (rv == 0 && size < sector)
		rv = set_err(err, errlen, -FL_ETOOSMALL, "%s: %llu bytes, too small (less than one %u-byte sector)",
			     path, (unsigned long long)size, sector);
	struct aio_dev *dev = rv == 0 ? dev_new(el, path, o) : NULL;
	if (rv == 0 && dev == NULL)
		rv = set_err(err, errlen, -FL_ENOMEM, "open %s: out of memory", path);
	if (rv != 0) {
		close(fd);
		return rv;
	}
	dev->fd = fd;
	dev->base.sector_size = sector;
	dev->base.size_bytes = size - size % sector;
	rv = dev_start(dev, err, errlen);
	if (rv != 0) {
		close(fd);
		pthread_cond_destroy(&dev->drained);
		pthread_cond_destroy(&dev->work);
		pthread_mutex_destroy(&dev->mu);
		free(dev);
		return rv;
	}
	FL_ASSERT(dev->base.sector_size == 512 || dev->base.sector_size == 4096);
	*out = &dev->base;
	return 0;
}
