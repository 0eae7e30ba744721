/* The Raft log store on local disk: a state directory of segment files, a
 * hard-state file with two alternating slots and snapshot files.
 *
 * Layout of the state directory (all integers little-endian, all CRCs
 * CRC-32C in the iSCSI convention, fl_crc32c_std):
 *   hardstate                 two 512-byte slots; a write goes to the older
 *                             slot (seq & 1) and is fdatasync'ed; load takes
 *                             the valid slot with the higher seq, so a torn
 *                             write leaves the previous term and vote intact;
 *   seg-<first:016x>.log      32-byte header (magic "FLRS", version, first
 *                             index, CRC) then records: a 40-byte header (CRC
 *                             of the header, CRC of the data, length, type,
 *                             term, index, first index of the write that
 *                             carried it) and the data;
 *   snap-<index>-<term>.snap  48-byte header (magic "FLRP", version, index,
 *                             term, lengths, CRC over header and body), the
 *                             configuration, the state-machine data.
 * New files are written as *.tmp, synced, renamed and the directory synced,
 * so a file with its final name always has a complete header. One append
 * request is one write into one segment followed by fdatasync before the
 * acknowledgement; appends queued together are written as one group and
 * share one fdatasync (group commit), and each record carries the first index
 * of its group ("write" below means such a group). A segment rolls over only
 * after the previous write was synced. Hence, at load, damage can only be
 * legitimate in the last write of the last segment: a bad record there, followed by nothing
 * or only by records of that same write, is a torn tail and is cut off; a bad
 * record followed by a record of a later write, damage in an earlier segment,
 * or a gap between segments is a corrupt middle and the load is refused with
 * the file and offset. (Bit rot inside the newest write cannot be told from a
 * torn write; no log format can.)
 *
 * Blocking calls (pwrite, fdatasync, fsync, rename, unlink) run on one worker
 * thread per store. The loop thread encodes requests at submit, so callers
 * may reuse their buffers at once, hands them over through a queue bounded by
 * the seam's queue_max, and receives completions through an eventfd watched
 * by the fl_eloop. All worker-side state below the "worker only" line is
 * touched by the worker thread alone once it runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/errmap.h"
#include "common/le.h"
#include "common/assert.h"
#include "common/pi_mutex.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/logstore.h"

#define SEG_MAGIC 0x53524C46u  /* "FLRS" */
#define SNAP_MAGIC 0x50524C46u /* "FLRP" */
#define HARD_MAGIC 0x48524C46u /* "FLRH" */
#define FILE_VERSION 1u
#define SEG_HDR_BYTES 32u
#define REC_HDR_BYTES 40u
#define SNAP_HDR_BYTES 48u
#define HARD_SLOT_BYTES 512u
#define HARD_REC_BYTES 40u
#define FILE_MAX_SEGMENTS 65536u
#define FILE_MAX_DIR_NAMES (4u * FILE_MAX_SEGMENTS)
#define FILE_DEFAULT_SEGMENT_BYTES (8ull << 20)
#define FILE_DEFAULT_QUEUE 64u
#define FILE_MSG_BYTES 1024u
#define FILE_BATCH_MAX 64u

struct file_seg {
	uint64_t first;
	uint64_t last; /* first - 1 when the segment holds no record */
};

struct file_store {
	struct raft_logstore base;
	struct fl_eloop *el;
	struct raft_logstore_file_opts opts;
	char dir[256];
	int dirfd;
	int efd;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu. */
	struct raft_log_req *todo_head, *todo_tail;
	struct raft_log_req *done_head, *done_tail;
	bool stop;
	bool hold;               /* tests: the worker takes nothing new */
	char errmsg[FILE_MSG_BYTES];
	char notice[FILE_MSG_BYTES];
	/* Loop thread only. */
	char last_error[FILE_MSG_BYTES];
	/* ---- worker only ---- */
	char werr[FILE_MSG_BYTES];
	char wnote[FILE_MSG_BYTES];
	struct file_seg *segs;
	uint32_t n_segs, cap_segs;
	int tail_fd;
	uint64_t tail_bytes;
	int hard_fd;
	bool defer_sync;         /* inside a group commit: sync at its end */
	bool tail_dirty, hard_dirty;
	uint64_t group_first;    /* first index written in this group commit */
	uint64_t hard_seq;
	bool hard_exists;
	uint64_t snap_index, snap_term;
	/* The last snapshot covers entries of the tail segment: the next append
	 * starts a new segment, so that the next snapshot can remove this one
	 * whole. Without it a segment is removed only once it is full
	 * (segment_bytes) and the log on disk grows with every entry until then. */
	bool roll;
	bool loaded;
};

/* ---- little-endian encoding ---- */

/* ---- worker-side helpers ---- */

__attribute__((format(printf, 3, 4))) static int file_fail(struct file_store *f, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->werr, sizeof(f->werr), fmt, ap);
	va_end(ap);
	return rv;
}

static int file_pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	/* Bounded: every round writes at least one byte or fails. */
	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int file_sync(struct file_store *f, int fd, const char *what)
{
	if (f->opts.no_sync)
		return 0;
	if (fdatasync(fd) != 0)
		return file_fail(f, fl_from_errno(errno), "fdatasync of %s/%s failed: %s; check the disk",
				 f->dir, what, strerror(errno));
	return 0;
}

static int file_sync_dir(struct file_store *f)
{
	if (f->opts.no_sync)
		return 0;
	if (fsync(f->dirfd) != 0)
		return file_fail(f, fl_from_errno(errno), "fsync of directory %s failed: %s; check the disk",
				 f->dir, strerror(errno));
	return 0;
}

static void seg_name(char *buf, size_t len, uint64_t first)
{
	snprintf(buf, len, "seg-%016" PRIx64 ".log", first);
}

static void snap_name(char *buf, size_t len, uint64_t index, uint64_t term)
{
	snprintf(buf, len, "snap-%016" PRIx64 "-%016" PRIx64 ".snap", index, term);
}

static uint64_t file_last_index(const struct file_store *f)
{
	return f->n_segs > 0 ? f->segs[f->n_segs - 1].last : 0;
}

/* Writes buf as tmp_name, syncs it and renames it to name; returns the open fd
 * in *fd_out (or closes it when fd_out is NULL). */
static int file_write_new(struct file_store *f, const char *tmp_name, const char *name,
			  const uint8_t *buf, size_t len, int *fd_out)
{
	int fd = openat(f->dirfd, tmp_name, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return file_fail(f, fl_from_errno(errno), "cannot create %s/%s: %s", f->dir, tmp_name, strerror(errno));
	int rv = file_pwrite_all(fd, buf, len, 0);
	if (rv != 0) {
		rv = file_fail(f, fl_from_errno(-rv), "write of %s/%s failed: %s", f->dir, tmp_name, strerror(-rv));
		goto err;
	}
	if ((rv = file_sync(f, fd, tmp_name)) != 0)
		goto err;
	if (renameat(f->dirfd, tmp_name, f->dirfd, name) != 0) {
		rv = file_fail(f, fl_from_errno(errno), "rename of %s/%s to %s failed: %s", f->dir, tmp_name, name,
			       strerror(errno));
		goto err;
	}
	if ((rv = file_sync_dir(f)) != 0)
		goto err;
	if (fd_out != NULL)
		*fd_out = fd;
	else
		close(fd);
	return 0;
err:
	close(fd);
	return rv;
}

static int file_unlink(struct file_store *f, const char *name)
{
	if (unlinkat(f->dirfd, name, 0) != 0 && errno != ENOENT)
		return file_fail(f, fl_from_errno(errno), "cannot remove %s/%s: %s", f->dir, name, strerror(errno));
	return 0;
}

/* ---- hard state ---- */

static void hard_encode(uint8_t *p, uint64_t seq, const struct raft_log_hard *h)
{
	memset(p, 0, HARD_REC_BYTES);
	fl_put_le32(p, HARD_MAGIC);
	fl_put_le16(p + 4, FILE_VERSION);
	fl_put_le64(p + 8, seq);
	fl_put_le64(p + 16, h->term);
	fl_put_le64(p + 24, h->vote);
	fl_put_le32(p + 32, fl_crc32c_std(p, 32));
}

static bool hard_decode(const uint8_t *p, uint64_t *seq, struct raft_log_hard *h)
{
	if (fl_get_le32(p) != HARD_MAGIC || fl_get_le16(p + 4) != FILE_VERSION || fl_get_le32(p + 32) != fl_crc32c_std(p, 32))
		return false;
	*seq = fl_get_le64(p + 8);
	h->term = fl_get_le64(p + 16);
	h->vote = fl_get_le64(p + 24);
	return true;
}

static int file_do_hard(struct file_store *f, const struct raft_log_hard *h)
{
	uint8_t slot[HARD_SLOT_BYTES];
	uint64_t seq = f->hard_seq + 1;
	if (!f->hard_exists) {
		/* First write: both slots in a new file (slot 1 blank). */
		uint8_t file[2 * HARD_SLOT_BYTES] = {0};
		hard_encode(file, seq, h);
		int rv = file_write_new(f, "hardstate.tmp", "hardstate", file, sizeof(file), NULL);
		if (rv != 0)
			return rv;
		f->hard_exists = true;
		f->hard_seq = seq;
		return 0;
	}
	if (f->hard_fd < 0)
		f->hard_fd = openat(f->dirfd, "hardstate", O_RDWR | O_CLOEXEC);
	if (f->hard_fd < 0)
		return file_fail(f, fl_from_errno(errno), "cannot open %s/hardstate: %s", f->dir, strerror(errno));
	memset(slot, 0, sizeof(slot));
	hard_encode(slot, seq, h);
	/* One unsynced slot write at most: a group commit writes only its
	 * newest hard state, and syncs it before the next batch starts. */
	FL_ASSERT(!f->hard_dirty);
	int rv = file_pwrite_all(f->hard_fd, slot, HARD_REC_BYTES, (seq & 1) * HARD_SLOT_BYTES);
	if (rv != 0)
		rv = file_fail(f, fl_from_errno(-rv), "write of %s/hardstate failed: %s", f->dir, strerror(-rv));
	else if (f->defer_sync)
		f->hard_dirty = true;
	else
		rv = file_sync(f, f->hard_fd, "hardstate");
	if (rv == 0)
		f->hard_seq = seq;
	return rv;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static int file_load_hard(struct file_store *f, struct raft_log_hard *out)
{
	uint8_t buf[2 * HARD_SLOT_BYTES] = {0};
	int fd = openat(f->dirfd, "hardstate", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* never voted: term 0, vote 0 */
	if (fd < 0)
		return file_fail(f, fl_from_errno(errno), "cannot open %s/hardstate: %s", f->dir, strerror(errno));
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	int e = errno;
	close(fd);
	if (n < 0)
		return file_fail(f, fl_from_errno(e), "read of %s/hardstate failed: %s", f->dir, strerror(e));
	struct raft_log_hard h[2] = {{0, 0}, {0, 0}};
	uint64_t seq[2] = {0, 0};
	bool ok[2];
	for (size_t i = 0; i < 2; i++)
		ok[i] = hard_decode(buf + i * HARD_SLOT_BYTES, &seq[i], &h[i]);
	if (!ok[0] && !ok[1])
		return file_fail(f, -FL_ECORRUPT,
				 "%s/hardstate holds no valid slot (both CRCs bad%s); refusing to start: "
				 "remove the state directory and rejoin as a new member",
				 f->dir, all_zero(buf, sizeof(buf)) ? ", file blank" : "");
	int pick = (!ok[0] || (ok[1] && seq[1] > seq[0])) ? 1 : 0;
	*out = h[pick];
	f->hard_seq = seq[pick];
	f->hard_exists = true;
	return 0;
}

/* ---- segments: encoding and writing ---- */

static void seg_header_encode(uint8_t *p, uint64_t first)
{
	memset(p, 0, SEG_HDR_BYTES);
	fl_put_le32(p, SEG_MAGIC);
	fl_put_le16(p + 4, FILE_VERSION);
	fl_put_le16(p + 6, SEG_HDR_BYTES);
	fl_put_le64(p + 8, first);
	fl_put_le32(p + 24, fl_crc32c_std(p, 24));
}

static int seg_push(struct file_store *f, uint64_t first)
{
	if (f->n_segs == f->cap_segs) {
		if (f->cap_segs >= FILE_MAX_SEGMENTS)
			return file_fail(f, -FL_ENOSPC, "%s holds %u segments, the maximum; take snapshots more often",
					 f->dir, FILE_MAX_SEGMENTS);
		uint32_t cap = f->cap_segs ? FL_MIN(f->cap_segs * 2, FILE_MAX_SEGMENTS) : 16;
		struct file_seg *s = realloc(f->segs, cap * sizeof(*s));
		if (s == NULL)
			return file_fail(f, -FL_ENOMEM, "out of memory for the segment table of %s", f->dir);
		f->segs = s;
		f->cap_segs = cap;
	}
	f->segs[f->n_segs++] = (struct file_seg){.first = first, .last = first - 1};
	return 0;
}

static void file_close_tail(struct file_store *f)
{
	if (f->tail_fd >= 0)
		close(f->tail_fd);
	f->tail_fd = -1;
	f->tail_bytes = 0;
	f->tail_dirty = false; /* callers sync first unless the file is gone */
}

/* Ends a group commit: hard state first, then the log, so that durable
 * entries never come with an older term than theirs. */
static int file_flush_deferred(struct file_store *f)
{
	int rv = 0;
	if (f->hard_dirty && (rv = file_sync(f, f->hard_fd, "hardstate")) != 0)
		return rv;
	f->hard_dirty = false;
	if (f->tail_dirty && f->tail_fd >= 0 && (rv = file_sync(f, f->tail_fd, "tail segment")) != 0)
		return rv;
	f->tail_dirty = false;
	return 0;
}

static int file_open_tail(struct file_store *f)
{
	char name[64];
	struct stat st;
	file_close_tail(f);
	if (f->n_segs == 0)
		return 0;
	seg_name(name, sizeof(name), f->segs[f->n_segs - 1].first);
	f->tail_fd = openat(f->dirfd, name, O_RDWR | O_CLOEXEC);
	if (f->tail_fd < 0 || fstat(f->tail_fd, &st) != 0)
		return file_fail(f, fl_from_errno(errno), "cannot open %s/%s: %s", f->dir, name, strerror(errno));
	f->tail_bytes = (uint64_t)st.st_size;
	return 0;
}

static int file_new_segment(struct file_store *f, uint64_t first)
{
	uint8_t hdr[SEG_HDR_BYTES];
	char name[64];
	int fd = -1;
	seg_header_encode(hdr, first);
	seg_name(name, sizeof(name), first);
	int rv = f->tail_dirty ? file_sync(f, f->tail_fd, "tail segment") : 0;
	if (rv == 0)
		rv = seg_push(f, first);
	if (rv != 0)
		return rv;
	rv = file_write_new(f, "seg.tmp", name, hdr, sizeof(hdr), &fd);
	if (rv != 0) {
		f->n_segs--;
		return rv;
	}
	file_close_tail(f);
	f->tail_fd = fd;
	f->tail_bytes = SEG_HDR_BYTES;
	f->roll = false;
	return 0;
}

/* Offset of the record with index `index` in the tail segment, found by
 * walking the record headers (they were verified at load or written by us). */
static int file_find_offset(struct file_store *f, uint64_t index, uint64_t *off)
{
	const struct file_seg *s = &f->segs[f->n_segs - 1];
	uint64_t pos = SEG_HDR_BYTES;
	uint8_t hdr[REC_HDR_BYTES];
	FL_ASSERT(index >= s->first);
	FL_ASSERT(index <= s->last);
	for (uint64_t i = s->first; i < index; i++) {
		if (pread(f->tail_fd, hdr, sizeof(hdr), (off_t)pos) != (ssize_t)sizeof(hdr))
			return file_fail(f, -FL_EIO, "read of a record header in the tail segment of %s at offset %" PRIu64
					 " failed", f->dir, pos);
		FL_ASSERT(fl_get_le64(hdr + 24) == i);
		pos += REC_HDR_BYTES + fl_get_le32(hdr + 8);
	}
	*off = pos;
	return 0;
}

static int file_do_truncate(struct file_store *f, uint64_t from)
{
	char name[64];
	bool unlinked = false;
	int rv;
	if (f->n_segs == 0 || from > file_last_index(f))
		return 0;
	/* Newest first: a crash in between leaves a prefix of the log. */
	while (f->n_segs > 0 && f->segs[f->n_segs - 1].first >= from) {
		file_close_tail(f);
		seg_name(name, sizeof(name), f->segs[f->n_segs - 1].first);
		if ((rv = file_unlink(f, name)) != 0)
			return rv;
		f->n_segs--;
		unlinked = true;
	}
	if (unlinked && ((rv = file_sync_dir(f)) != 0 || (rv = file_open_tail(f)) != 0))
		return rv;
	if (f->n_segs == 0 || f->segs[f->n_segs - 1].last < from)
		return 0;
	uint64_t off = 0;
	if ((rv = file_find_offset(f, from, &off)) != 0)
		return rv;
	if (ftruncate(f->tail_fd, (off_t)off) != 0)
		return file_fail(f, fl_from_errno(errno), "truncation of the tail segment of %s at offset %" PRIu64
				 " failed: %s", f->dir, off, strerror(errno));
	if ((rv = file_sync(f, f->tail_fd, "tail segment")) != 0)
		return rv;
	f->tail_bytes = off;
	f->segs[f->n_segs - 1].last = from - 1;
	return 0;
}

/* Within a group commit every record carries the group's first index, so
 * that a load tells one unsynced write (the group) from an earlier one. */
static void file_mark_group(struct file_store *f, uint8_t *buf, uint32_t n, uint64_t first)
{
	if (f->group_first == 0 || first < f->group_first)
		f->group_first = first; /* lower only after a truncation synced the rest */
	if (f->group_first == first)
		return;
	uint8_t *p = buf;
	for (uint32_t i = 0; i < n; i++) {
		fl_put_le64(p + 32, f->group_first);
		fl_put_le32(p, fl_crc32c_std(p + 4, REC_HDR_BYTES - 4));
		p += REC_HDR_BYTES + fl_get_le32(p + 8);
	}
}

static int file_do_append(struct file_store *f, struct raft_log_req *req)
{
	uint8_t *buf = req->priv;
	uint64_t first = fl_get_le64(buf + 24);
	uint64_t last = first + req->append.n - 1;
	int rv;
	FL_ASSERT(req->append.n > 0);
	FL_ASSERT(req->priv_len >= (size_t)req->append.n * REC_HDR_BYTES);
	if ((rv = file_do_truncate(f, first)) != 0)
		return rv;
	if (f->defer_sync)
		file_mark_group(f, buf, req->append.n, first);
	if (f->n_segs > 0 && first != file_last_index(f) + 1)
		return file_fail(f, -FL_EINVAL, "append of entry %" PRIu64 " to %s would leave a gap after entry %" PRIu64
				 " (driver bug)", first, f->dir, file_last_index(f));
	bool full = f->tail_bytes > SEG_HDR_BYTES && (f->roll || f->tail_bytes + req->priv_len > f->opts.segment_bytes);
	if ((f->n_segs == 0 || full) && (rv = file_new_segment(f, first)) != 0)
		return rv;
	rv = file_pwrite_all(f->tail_fd, buf, req->priv_len, f->tail_bytes);
	if (rv != 0)
		return file_fail(f, fl_from_errno(-rv), "write of entries %" PRIu64 "-%" PRIu64 " to %s at offset %" PRIu64
				 " failed: %s", first, last, f->dir, f->tail_bytes, strerror(-rv));
	if (f->defer_sync)
		f->tail_dirty = true;
	else if ((rv = file_sync(f, f->tail_fd, "tail segment")) != 0)
		return rv;
	f->tail_bytes += req->priv_len;
	f->segs[f->n_segs - 1].last = last;
	FL_ASSERT(file_last_index(f) == last);
	FL_ASSERT(f->tail_bytes > SEG_HDR_BYTES);
	return 0;
}

/* ---- snapshots ---- */

static int file_do_snapshot(struct file_store *f, struct raft_log_req *req)
{
	const uint8_t *buf = req->priv;
	uint64_t index = fl_get_le64(buf + 8), term = fl_get_le64(buf + 16);
	uint64_t trailing = req->snapshot.trailing;
	char name[96], old[96];
	int rv;
	snap_name(name, sizeof(name), index, term);
	if ((rv = file_write_new(f, "snap.tmp", name, buf, req->priv_len, NULL)) != 0)
		return rv;
	if (f->snap_index != 0 && (f->snap_index != index || f->snap_term != term)) {
		snap_name(old, sizeof(old), f->snap_index, f->snap_term);
		if ((rv = file_unlink(f, old)) != 0)
			return rv;
	}
	f->snap_index = index;
	f->snap_term = term;
	uint64_t upto = index > trailing ? index - trailing : 0;
	bool drop_all = file_last_index(f) < index;
	uint32_t drop = 0;
	/* Oldest first: what remains always starts at or before upto + 1. */
	while (drop < f->n_segs && (drop_all || f->segs[drop].last <= upto)) {
		if (drop == f->n_segs - 1)
			file_close_tail(f);
		seg_name(old, sizeof(old), f->segs[drop].first);
		if ((rv = file_unlink(f, old)) != 0)
			return rv;
		drop++;
	}
	if (drop > 0)
		memmove(f->segs, f->segs + drop, (f->n_segs - drop) * sizeof(*f->segs));
	f->n_segs -= drop;
	/* Disk per store: the snapshot plus the entries since the previous one. */
	f->roll = f->n_segs > 0 && f->segs[f->n_segs - 1].first <= upto;
	return file_sync_dir(f);
}

/* ---- load ---- */

struct load_acc {
	struct raft_log_loaded *out;
	uint64_t cap;
};

static int acc_push(struct file_store *f, struct load_acc *a, const uint8_t *rec)
{
	struct raft_log_loaded *o = a->out;
	if (o->n_entries == a->cap) {
		uint64_t cap = a->cap ? a->cap * 2 : 256;
		struct raft_entry *e = realloc(o->entries, cap * sizeof(*e));
		if (e == NULL)
			return file_fail(f, -FL_ENOMEM, "out of memory loading the log of %s", f->dir);
		o->entries = e;
		a->cap = cap;
	}
	struct raft_entry *e = &o->entries[o->n_entries];
	e->len = fl_get_le32(rec + 8);
	e->type = rec[12];
	e->term = fl_get_le64(rec + 16);
	e->index = fl_get_le64(rec + 24);
	e->data = NULL;
	if (e->len > 0) {
		e->data = malloc(e->len);
		if (e->data == NULL)
			return file_fail(f, -FL_ENOMEM, "out of memory loading the log of %s", f->dir);
		memcpy(e->data, rec + REC_HDR_BYTES, e->len);
	}
	o->n_entries++;
	return 0;
}

/* A complete record with both CRCs right at pos? */
static bool rec_valid(const uint8_t *buf, uint64_t size, uint64_t pos)
{
	if (size - pos < REC_HDR_BYTES)
		return false;
	const uint8_t *r = buf + pos;
	if (fl_get_le32(r) != fl_crc32c_std(r + 4, REC_HDR_BYTES - 4))
		return false;
	uint32_t len = fl_get_le32(r + 8);
	if (size - pos - REC_HDR_BYTES < len)
		return false;
	return fl_get_le32(r + 4) == fl_crc32c_std(r + REC_HDR_BYTES, len);
}

/* After a bad record at bad_pos (expected to hold index `expect`): is there
 * a valid record of a later write? Returns its offset, or 0 if none (the
 * damage is a torn tail). Byte-by-byte: this runs only on damaged files. */
static uint64_t find_later_write(const uint8_t *buf, uint64_t size, uint64_t bad_pos, uint64_t expect)
{
	for (uint64_t pos = bad_pos + 1; pos + REC_HDR_BYTES <= size; pos++) {
		if (!rec_valid(buf, size, pos))
			continue;
		const uint8_t *r = buf + pos;
		if (fl_get_le64(r + 32) > expect || fl_get_le64(r + 24) < expect)
			return pos;
		pos += REC_HDR_BYTES + fl_get_le32(r + 8) - 1;
	}
	return 0;
}

static int read_file(struct file_store *f, const char *name, uint8_t **buf, uint64_t *size)
{
	struct stat st;
	int fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return file_fail(f, fl_from_errno(e), "cannot open %s/%s: %s", f->dir, name, strerror(e));
	}
	*size = (uint64_t)st.st_size;
	*buf = malloc(*size + 1);
	ssize_t n = *buf != NULL ? pread(fd, *buf, *size, 0) : -1;
	int e = *buf != NULL ? errno : ENOMEM;
	close(fd);
	if (n != (ssize_t)*size) {
		free(*buf);
		*buf = NULL;
		return file_fail(f, fl_from_errno(n < 0 ? e : EIO), "read of %s/%s failed", f->dir, name);
	}
	return 0;
}

static int file_cut_tail(struct file_store *f, const char *name, uint64_t pos, uint64_t size, uint64_t expect)
{
	int fd = openat(f->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)pos) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return file_fail(f, fl_from_errno(e), "cannot cut the torn tail of %s/%s at offset %" PRIu64 ": %s",
				 f->dir, name, pos, strerror(e));
	}
	int rv = file_sync(f, fd, name);
	close(fd);
	snprintf(f->wnote, sizeof(f->wnote), "%s/%s: cut a torn tail of %" PRIu64 " bytes at offset %" PRIu64
		 " (entry %" PRIu64 " on was never acknowledged)", f->dir, name, size - pos, pos, expect);
	return rv;
}

/* Verifies one segment and adds its entries; *expect is the next index. */
static int file_load_segment(struct file_store *f, struct load_acc *a, uint32_t i, uint64_t *expect)
{
	char name[64];
	uint8_t *buf = NULL;
	uint64_t size, pos = SEG_HDR_BYTES;
	bool is_last = i + 1 == f->n_segs;
	seg_name(name, sizeof(name), f->segs[i].first);
	int rv = read_file(f, name, &buf, &size);
	if (rv != 0)
		return rv;
	if (size < SEG_HDR_BYTES || fl_get_le32(buf) != SEG_MAGIC || fl_get_le32(buf + 24) != fl_crc32c_std(buf, 24) ||
	    fl_get_le64(buf + 8) != f->segs[i].first) {
		rv = file_fail(f, -FL_ECORRUPT, "%s/%s has a bad header (magic, CRC or first index); refusing to start: "
			       "restore the state directory from a healthy member", f->dir, name);
		goto out;
	}
	if (fl_get_le16(buf + 4) != FILE_VERSION) {
		rv = file_fail(f, -FL_EVERSION, "%s/%s has format version %u, this build reads %u", f->dir, name,
			       fl_get_le16(buf + 4), FILE_VERSION);
		goto out;
	}
	if (*expect != 0 && f->segs[i].first != *expect) {
		rv = file_fail(f, -FL_ECORRUPT, "%s/%s starts at entry %" PRIu64 " but entry %" PRIu64
			       " was expected (a gap in the log); refusing to start", f->dir, name, f->segs[i].first, *expect);
		goto out;
	}
	*expect = f->segs[i].first;
	/* Bounded: every valid record advances pos by at least its header. */
	while (pos < size && rec_valid(buf, size, pos) && fl_get_le64(buf + pos + 24) == *expect) {
		if ((rv = acc_push(f, a, buf + pos)) != 0)
			goto out;
		pos += REC_HDR_BYTES + fl_get_le32(buf + pos + 8);
		(*expect)++;
	}
	f->segs[i].last = *expect - 1;
	FL_ASSERT(pos <= size);
	if (pos < size) {
		/* A valid record with the wrong index is never a torn write. */
		bool misplaced = rec_valid(buf, size, pos);
		uint64_t later = is_last && !misplaced ? find_later_write(buf, size, pos, *expect) : 0;
		if (!is_last || misplaced || later != 0) {
			rv = file_fail(f, -FL_ECORRUPT, "%s/%s is corrupt at offset %" PRIu64 " (entry %" PRIu64 "): a bad "
				       "record followed by %s; refusing to start: restore the state directory from a "
				       "healthy member", f->dir, name, pos, *expect,
				       misplaced ? "a record out of sequence" : is_last ? "a record of a later write" : "a later segment");
			goto out;
		}
		rv = file_cut_tail(f, name, pos, size, *expect);
	}
out:
	free(buf);
	return rv;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Lists seg-* first indexes (sorted), the newest snapshot, and removes *.tmp. */
static int file_scan_dir(struct file_store *f, uint64_t *snap_index, uint64_t *snap_term)
{
	int fd = dup(f->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return file_fail(f, fl_from_errno(errno), "cannot list %s: %s", f->dir, strerror(errno));
	}
	rewinddir(d);
	struct dirent *de;
	uint32_t names = 0;
	int rv = 0;
	while (rv == 0 && (de = readdir(d)) != NULL && names++ < FILE_MAX_DIR_NAMES) {
		uint64_t a, b;
		char tail[8];
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0)
			rv = file_unlink(f, de->d_name);
		else if (sscanf(de->d_name, "seg-%16" SCNx64 ".lo%1s", &a, tail) == 2 && strcmp(tail, "g") == 0)
			rv = seg_push(f, a);
		else if (sscanf(de->d_name, "snap-%16" SCNx64 "-%16" SCNx64 ".sna%1s", &a, &b, tail) == 3 &&
			 (a > *snap_index || (a == *snap_index && b > *snap_term))) {
			*snap_index = a;
			*snap_term = b;
		}
	}
	closedir(d);
	if (rv == 0 && names > FILE_MAX_DIR_NAMES)
		rv = file_fail(f, -FL_ENOSPC, "%s holds more than %u names; clean it up", f->dir, FILE_MAX_DIR_NAMES);
	/* struct file_seg starts with `first`: sort on it. */
	if (f->n_segs > 1)
		qsort(f->segs, f->n_segs, sizeof(*f->segs), cmp_u64);
	return rv;
}

/* Removes snapshots older than the one loaded (left by a crash between
 * writing a new snapshot and removing the previous one). */
static int file_remove_old_snapshots(struct file_store *f)
{
	char keep[96];
	int fd = dup(f->dirfd), rv = 0;
	bool removed = false;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return file_fail(f, fl_from_errno(errno), "cannot list %s: %s", f->dir, strerror(errno));
	}
	snap_name(keep, sizeof(keep), f->snap_index, f->snap_term);
	rewinddir(d);
	struct dirent *de;
	for (uint32_t names = 0; rv == 0 && names < FILE_MAX_DIR_NAMES && (de = readdir(d)) != NULL; names++) {
		if (strncmp(de->d_name, "snap-", 5) != 0 || strcmp(de->d_name, keep) == 0)
			continue;
		rv = file_unlink(f, de->d_name);
		removed = true;
	}
	closedir(d);
	return rv == 0 && removed ? file_sync_dir(f) : rv;
}

static int file_load_snapshot(struct file_store *f, struct raft_log_loaded *out)
{
	char name[96];
	uint8_t *buf = NULL;
	uint64_t size;
	snap_name(name, sizeof(name), f->snap_index, f->snap_term);
	int rv = read_file(f, name, &buf, &size);
	if (rv != 0)
		return rv;
	uint64_t clen = size >= SNAP_HDR_BYTES ? fl_get_le32(buf + 24) : 0;
	uint64_t dlen = size >= SNAP_HDR_BYTES ? fl_get_le64(buf + 32) : 0;
	if (size < SNAP_HDR_BYTES || fl_get_le32(buf) != SNAP_MAGIC || SNAP_HDR_BYTES + clen + dlen != size ||
	    fl_get_le64(buf + 8) != f->snap_index || fl_get_le64(buf + 16) != f->snap_term) {
		rv = file_fail(f, -FL_ECORRUPT, "snapshot %s/%s has a bad header; refusing to start: restore the "
			       "state directory from a healthy member", f->dir, name);
		goto out;
	}
	uint32_t want = fl_get_le32(buf + 40);
	fl_put_le32(buf + 40, 0);
	if (fl_crc32c_std(buf, size) != want) {
		rv = file_fail(f, -FL_ECHECKSUM, "snapshot %s/%s has a bad CRC; refusing to start: restore the state "
			       "directory from a healthy member", f->dir, name);
		goto out;
	}
	out->have_snapshot = true;
	out->snapshot = (struct raft_log_snapshot){.index = f->snap_index, .term = f->snap_term,
						   .config_len = (uint32_t)clen, .data_len = dlen};
	out->snapshot.config = clen ? malloc(clen) : NULL;
	out->snapshot.data = dlen ? malloc(dlen) : NULL;
	if ((clen && !out->snapshot.config) || (dlen && !out->snapshot.data)) {
		rv = file_fail(f, -FL_ENOMEM, "out of memory loading snapshot %s/%s", f->dir, name);
		goto out;
	}
	if (clen)
		memcpy(out->snapshot.config, buf + SNAP_HDR_BYTES, clen);
	if (dlen)
		memcpy(out->snapshot.data, buf + SNAP_HDR_BYTES + clen, dlen);
out:
	free(buf);
	return rv;
}

static int file_do_load(struct file_store *f, struct raft_log_loaded *out)
{
	struct load_acc acc = {.out = out, .cap = 0};
	uint64_t expect = 0;
	int rv;
	memset(out, 0, sizeof(*out));
	if (f->loaded)
		return file_fail(f, -FL_EINVAL, "log store %s was already loaded", f->dir);
	if ((rv = file_scan_dir(f, &f->snap_index, &f->snap_term)) != 0 || (rv = file_load_hard(f, &out->hard)) != 0)
		goto err;
	if (f->snap_index != 0 &&
	    ((rv = file_load_snapshot(f, out)) != 0 || (rv = file_remove_old_snapshots(f)) != 0))
		goto err;
	for (uint32_t i = 0; i < f->n_segs; i++)
		if ((rv = file_load_segment(f, &acc, i, &expect)) != 0)
			goto err;
	uint64_t first = f->n_segs > 0 ? f->segs[0].first : 0;
	if (first != 0 && first > f->snap_index + 1) {
		rv = file_fail(f, -FL_ECORRUPT, "%s: the log starts at entry %" PRIu64 " but the snapshot ends at %" PRIu64
			       " (entries missing); refusing to start", f->dir, first, f->snap_index);
		goto err;
	}
	if ((rv = file_open_tail(f)) != 0)
		goto err;
	f->loaded = true;
	return 0;
err:
	raft_log_loaded_free(out);
	return rv;
}

/* ---- worker thread and completions ---- */

static int file_execute(struct file_store *f, struct raft_log_req *req)
{
	if (req->op != RAFT_LOG_LOAD && !f->loaded)
		return file_fail(f, -FL_EINVAL, "log store %s used before its load request", f->dir);
	switch (req->op) {
	case RAFT_LOG_LOAD:
		return file_do_load(f, req->load.out);
	case RAFT_LOG_APPEND:
		return file_do_append(f, req);
	case RAFT_LOG_TRUNCATE:
		return file_do_truncate(f, req->truncate.from_index);
	case RAFT_LOG_SET_HARD:
		return file_do_hard(f, &req->hard);
	case RAFT_LOG_SNAPSHOT:
		return file_do_snapshot(f, req);
	}
	return -FL_EINVAL;
}

static bool file_batchable(const struct raft_log_req *r)
{
	return r->op == RAFT_LOG_APPEND || r->op == RAFT_LOG_SET_HARD;
}

/* Under mu: takes a run of appends and hard-state writes (a group commit)
 * or a single other request from the head of the queue. */
static uint32_t file_take_batch(struct file_store *f, struct raft_log_req **batch)
{
	uint32_t n = 0;
	while (f->todo_head != NULL && n < FILE_BATCH_MAX) {
		struct raft_log_req *r = f->todo_head;
		if (n > 0 && !file_batchable(r))
			break;
		f->todo_head = r->impl_next;
		if (f->todo_head == NULL)
			f->todo_tail = NULL;
		batch[n++] = r;
		if (!file_batchable(r))
			break;
	}
	return n;
}

/* Group commit: the newest hard state, every append, then one sync per
 * file; every request of the batch completes with the same result. */
static int file_execute_batch(struct file_store *f, struct raft_log_req **b, uint32_t n)
{
	if (n == 1 && !file_batchable(b[0]))
		return file_execute(f, b[0]);
	if (!f->loaded)
		return file_fail(f, -FL_EINVAL, "log store %s used before its load request", f->dir);
	const struct raft_log_hard *h = NULL;
	for (uint32_t i = 0; i < n; i++)
		if (b[i]->op == RAFT_LOG_SET_HARD)
			h = &b[i]->hard;
	f->defer_sync = true;
	f->group_first = 0;
	int rv = h != NULL ? file_do_hard(f, h) : 0;
	for (uint32_t i = 0; rv == 0 && i < n; i++)
		if (b[i]->op == RAFT_LOG_APPEND)
			rv = file_do_append(f, b[i]);
	f->defer_sync = false;
	return rv != 0 ? rv : file_flush_deferred(f);
}

static void *file_worker(void *arg)
{
	struct file_store *f = arg;
	struct raft_log_req *batch[FILE_BATCH_MAX];
	int failed = 0;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while ((f->todo_head == NULL || f->hold) && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop)
			break;
		uint32_t n = file_take_batch(f, batch);
		pthread_mutex_unlock(&f->mu);
		f->werr[0] = f->wnote[0] = '\0';
		/* After a failure the disk state is unknown: fail everything after. */
		int rv = failed != 0 ? failed : file_execute_batch(f, batch, n);
		if (rv != 0 && failed == 0)
			failed = rv;
		pthread_mutex_lock(&f->mu);
		if (f->werr[0] != '\0')
			memcpy(f->errmsg, f->werr, sizeof(f->errmsg));
		if (f->wnote[0] != '\0')
			memcpy(f->notice, f->wnote, sizeof(f->notice));
		for (uint32_t i = 0; i < n; i++) {
			batch[i]->result = rv;
			batch[i]->impl_next = NULL;
			if (f->done_tail != NULL)
				f->done_tail->impl_next = batch[i];
			else
				f->done_head = batch[i];
			f->done_tail = batch[i];
		}
		/* The write wakes the loop, which takes the lock next: outside it. */
		pthread_mutex_unlock(&f->mu);
		uint64_t one = 1;
		ssize_t w = write(f->efd, &one, sizeof(one));
		(void)w; /* the counter cannot overflow: queue_max is small */
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void file_on_event(void *arg, uint32_t events)
{
	struct file_store *f = arg;
	uint64_t count;
	char note[FILE_MSG_BYTES], err[FILE_MSG_BYTES];
	(void)events;
	ssize_t n = read(f->efd, &count, sizeof(count));
	(void)n;
	pthread_mutex_lock(&f->mu);
	struct raft_log_req *req = f->done_head;
	f->done_head = f->done_tail = NULL;
	memcpy(note, f->notice, sizeof(note));
	memcpy(err, f->errmsg, sizeof(err));
	f->notice[0] = '\0';
	pthread_mutex_unlock(&f->mu);
	if (note[0] != '\0')
		fl_warn("raft log store: %s", note);
	if (err[0] != '\0' && f->last_error[0] == '\0') {
		memcpy(f->last_error, err, sizeof(err));
		fl_err("raft log store: %s", err);
	}
	uint32_t bound = f->base.pending;
	for (uint32_t i = 0; req != NULL && i < bound; i++) {
		struct raft_log_req *next = req->impl_next;
		if (req->op == RAFT_LOG_APPEND && req->result == 0) {
			f->base.stats.entries_appended += req->append.n;
			f->base.stats.bytes_written += req->priv_len;
		}
		free(req->priv);
		req->priv = NULL;
		raft_logstore_complete(&f->base, req, req->result);
		req = next;
	}
	FL_ASSERT(req == NULL);
}

/* ---- submit: encode on the loop thread ---- */

static uint8_t *file_encode_append(const struct raft_log_req *req, size_t *len)
{
	size_t total = 0;
	for (uint32_t i = 0; i < req->append.n; i++)
		total += REC_HDR_BYTES + req->append.entries[i].len;
	uint8_t *buf = malloc(total), *p = buf;
	if (buf == NULL)
		return NULL;
	uint64_t batch_first = req->append.entries[0].index;
	for (uint32_t i = 0; i < req->append.n; i++) {
		const struct raft_entry *e = &req->append.entries[i];
		memset(p, 0, REC_HDR_BYTES);
		fl_put_le32(p + 4, fl_crc32c_std(e->data, e->len));
		fl_put_le32(p + 8, e->len);
		p[12] = e->type;
		fl_put_le64(p + 16, e->term);
		fl_put_le64(p + 24, e->index);
		fl_put_le64(p + 32, batch_first);
		fl_put_le32(p, fl_crc32c_std(p + 4, REC_HDR_BYTES - 4));
		if (e->len > 0)
			memcpy(p + REC_HDR_BYTES, e->data, e->len);
		p += REC_HDR_BYTES + e->len;
	}
	FL_ASSERT((size_t)(p - buf) == total);
	*len = total;
	return buf;
}

static uint8_t *file_encode_snapshot(const struct raft_log_snapshot *sn, size_t *len)
{
	size_t total = SNAP_HDR_BYTES + sn->config_len + sn->data_len;
	uint8_t *buf = malloc(total);
	if (buf == NULL)
		return NULL;
	memset(buf, 0, SNAP_HDR_BYTES);
	fl_put_le32(buf, SNAP_MAGIC);
	fl_put_le16(buf + 4, FILE_VERSION);
	fl_put_le16(buf + 6, SNAP_HDR_BYTES);
	fl_put_le64(buf + 8, sn->index);
	fl_put_le64(buf + 16, sn->term);
	fl_put_le32(buf + 24, sn->config_len);
	fl_put_le64(buf + 32, sn->data_len);
	if (sn->config_len)
		memcpy(buf + SNAP_HDR_BYTES, sn->config, sn->config_len);
	if (sn->data_len)
		memcpy(buf + SNAP_HDR_BYTES + sn->config_len, sn->data, sn->data_len);
	fl_put_le32(buf + 40, fl_crc32c_std(buf, total));
	*len = total;
	return buf;
}

static int file_submit(struct raft_logstore *s, struct raft_log_req *req)
{
	struct file_store *f = (struct file_store *)s;
	if (req->op == RAFT_LOG_APPEND || req->op == RAFT_LOG_SNAPSHOT) {
		req->priv = req->op == RAFT_LOG_APPEND ? file_encode_append(req, &req->priv_len)
						       : file_encode_snapshot(req->snapshot.snap, &req->priv_len);
		if (req->priv == NULL)
			return -FL_ENOMEM;
	}
	pthread_mutex_lock(&f->mu);
	req->impl_next = NULL;
	if (f->todo_tail != NULL)
		f->todo_tail->impl_next = req;
	else
		f->todo_head = req;
	f->todo_tail = req;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void file_free(struct file_store *f)
{
	if (f->thread_started) {
		pthread_mutex_lock(&f->mu);
		f->stop = true;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->thread, NULL); /* waits for an fsync in progress */
	}
	for (struct raft_log_req *r = f->base.pending_head; r != NULL; r = r->next) {
		free(r->priv);
		r->priv = NULL;
	}
	if (f->efd >= 0) {
		fl_eloop_del_fd(f->el, f->efd);
		close(f->efd);
	}
	file_close_tail(f);
	if (f->hard_fd >= 0)
		close(f->hard_fd);
	if (f->dirfd >= 0)
		close(f->dirfd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->segs);
	free(f);
}

static void file_close(struct raft_logstore *s) { file_free((struct file_store *)s); }

static const struct raft_logstore_ops file_ops = {
	.submit = file_submit,
	.close = file_close,
};

void raft_logstore_file_test_hold(struct raft_logstore *s, bool hold)
{
	struct file_store *f = (struct file_store *)s;
	FL_ASSERT(s->ops == &file_ops);
	pthread_mutex_lock(&f->mu);
	f->hold = hold;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

const char *raft_logstore_file_last_error(const struct raft_logstore *s)
{
	FL_ASSERT(s->ops == &file_ops);
	return ((const struct file_store *)s)->last_error;
}

static int file_open_dir(struct file_store *f, const char *dir, char *err, size_t errlen)
{
	if (strlen(dir) >= sizeof(f->dir)) {
		snprintf(err, errlen, "state directory path %s is too long", dir);
		return -FL_EINVAL;
	}
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state directory %s: %s", dir, strerror(errno));
		return fl_from_errno(errno);
	}
	f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		snprintf(err, errlen, "cannot open state directory %s: %s", dir, strerror(errno));
		return fl_from_errno(errno);
	}
	return 0;
}

int raft_logstore_file_open(struct fl_eloop *el, const char *dir, const struct raft_logstore_file_opts *opts,
			    struct raft_logstore **out, char *err, size_t errlen)
{
	char scratch[8];
	FL_ASSERT(el != NULL);
	FL_ASSERT(dir != NULL);
	FL_ASSERT(out != NULL);
	if (err == NULL) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	struct file_store *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -FL_ENOMEM;
	f->opts = opts != NULL ? *opts : (struct raft_logstore_file_opts){0};
	if (f->opts.segment_bytes == 0)
		f->opts.segment_bytes = FILE_DEFAULT_SEGMENT_BYTES;
	uint32_t qmax = f->opts.queue_max > 0 ? f->opts.queue_max : FILE_DEFAULT_QUEUE;
	raft_logstore_init_base(&f->base, &file_ops, fl_eloop_loop(el), dir, qmax);
	f->el = el;
	f->dirfd = f->efd = f->tail_fd = f->hard_fd = -1;
	fl_pi_mutex_init(&f->mu);
	pthread_cond_init(&f->cv, NULL);
	int rv = file_open_dir(f, dir, err, errlen);
	if (rv != 0)
		goto err;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0 || (rv = fl_eloop_add_fd(el, f->efd, EPOLLIN, file_on_event, f)) != 0) {
		rv = rv != 0 ? rv : fl_from_errno(errno);
		snprintf(err, errlen, "cannot set up the completion eventfd for %s: %s", dir, fl_strerror(rv));
		goto err;
	}
	if (pthread_create(&f->thread, NULL, file_worker, f) != 0) {
		rv = -FL_ENOMEM;
		snprintf(err, errlen, "cannot start the I/O thread for %s", dir);
		goto err;
	}
	f->thread_started = true;
	*out = &f->base;
	return 0;
err:
	file_free(f);
	return rv;
}
