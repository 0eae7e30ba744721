/* The Raft log-store seam: durable term, vote, log and snapshot of one voter.
 *
 * The Raft core does no I/O; the node driver (raft/node.c) hands the store
 * what must become durable and reports completions back to the core. The
 * seam is asynchronous so that one interface fits three back ends:
 *   - logstore_mem.c: in memory, for the deterministic simulator; completes
 *     on loop timers, can hang on command and lose unacknowledged writes on
 *     a simulated crash;
 *   - logstore_file.c: segment files in a local state directory; the blocking
 *     write/fdatasync calls run on one worker thread per store behind a
 *     bounded queue, and completions come back to the loop through an eventfd,
 *     so a disk that hangs in fsync never blocks the loop;
 *   - (later) the disk voter's store in an area of the shared block device,
 *     on the asynchronous fl_bdev seam.
 *
 * Contract of raft_logstore_submit():
 *   - the request is checked and, if accepted, returns 0; the callback then
 *     runs exactly once, on the loop thread, never from inside submit, with 0
 *     or a -FL_E code. An error in the callback means "may or may not have
 *     reached the disk"; the store is then failed and fails everything after;
 *   - requests complete in submission order, and each takes effect after all
 *     earlier ones: a driver may pipeline truncate, append and set-hard-state
 *     without waiting in between;
 *   - the store copies whatever it needs from the request's inputs (entries,
 *     entry data, snapshot bytes) before submit returns: the caller may reuse
 *     them at once. The request object itself must stay valid until its
 *     callback ran;
 *   - a callback may submit further requests but must not close the store;
 *   - at most `queue_max` requests are outstanding; beyond that submit returns
 *     -FL_ENOSPC and the caller retries after a completion (bounded queue);
 *   - an acknowledged append, truncate, hard state or snapshot survives a
 *     crash of the process or of the machine (fdatasync before the callback).
 *
 * Progress: raft_logstore_oldest_pending_us() tells how long the oldest
 * request has been outstanding. The driver compares it with its stall bound
 * and, on a leader, steps down (hashicorp/raft #503: a leader with a hung log
 * store must not keep the cluster hostage). The store itself never cancels a
 * request it handed to the kernel. */
#ifndef FL_RAFT_LOGSTORE_H
#define FL_RAFT_LOGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/loop.h"

#include "raft/raft.h"

/* Term and vote: written together, atomically (never a new term with an old
 * vote or the reverse). vote = 0 means "voted for nobody in this term". */
struct raft_log_hard {
	uint64_t term;
	uint64_t vote;
};

/* A snapshot: the state machine up to and including index, plus the cluster
 * configuration in force at index (opaque bytes encoded by the core). */
struct raft_log_snapshot {
	uint64_t index;
	uint64_t term;
	uint32_t config_len;
	uint8_t *config;
	uint64_t data_len;
	uint8_t *data;
};

/* What a load returns; free with raft_log_loaded_free(). entries[] are
 * contiguous from entries[0].index; when a snapshot exists they may begin at
 * or before snapshot.index (trailing entries kept on purpose) and the caller
 * skips those it does not need. */
struct raft_log_loaded {
	struct raft_log_hard hard;
	bool have_snapshot;
	struct raft_log_snapshot snapshot;
	struct raft_entry *entries;
	uint64_t n_entries;
};

/* Frees what a load allocated and zeroes *l; safe on a zeroed struct. */
void raft_log_loaded_free(struct raft_log_loaded *l);

enum raft_log_op {
	RAFT_LOG_LOAD = 1,     /* read everything back (start-up); fills *load.out */
	RAFT_LOG_APPEND,       /* append entries; an entries[0].index at or below the
	                        * last index first removes the suffix from there */
	RAFT_LOG_TRUNCATE,     /* remove every entry with index >= truncate.from_index */
	RAFT_LOG_SET_HARD,     /* replace term and vote atomically */
	RAFT_LOG_SNAPSHOT,     /* store a snapshot, then compact the log prefix */
};

struct raft_log_req;
typedef void (*raft_log_cb)(struct raft_log_req *req, int result);

struct raft_log_req {
	enum raft_log_op op;
	union {
		struct { struct raft_log_loaded *out; } load;
		struct { const struct raft_entry *entries; uint32_t n; } append;
		struct { uint64_t from_index; } truncate;
		struct raft_log_hard hard;
		struct {
			const struct raft_log_snapshot *snap;
			/* Keep this many entries at and before snap->index
			 * (followers that lag a little need no snapshot). */
			uint64_t trailing;
		} snapshot;
	};
	raft_log_cb cb;
	void *arg;
	/* Private to the store. */
	uint64_t submit_us;
	void *priv;
	size_t priv_len;
	int result;
	struct raft_log_req *next;       /* the seam's FIFO of outstanding requests */
	struct raft_log_req *impl_next;  /* the implementation's own queues */
};

struct raft_logstore;
struct raft_logstore_ops {
	int (*submit)(struct raft_logstore *s, struct raft_log_req *req);
	/* Stops the store. Outstanding requests are abandoned: their callbacks
	 * never run (used for shutdown and for simulated crashes). */
	void (*close)(struct raft_logstore *s);
};

struct raft_logstore_stats {
	uint64_t submitted, completed, failed;
	uint64_t entries_appended, bytes_written, syncs;
};

struct raft_logstore {
	const struct raft_logstore_ops *ops;
	struct fl_loop *loop;
	char name[256];            /* state dir or simulated name, for messages */
	uint32_t queue_max;        /* outstanding requests allowed */
	uint32_t pending;          /* outstanding now */
	struct raft_log_req *pending_head, *pending_tail; /* FIFO, oldest first */
	int failed;                /* first error; then every request fails with it */
	struct raft_logstore_stats stats;
};

/* Checks req (op known, callback set, append entries contiguous and
 * non-empty, indexes > 0) and submits it (see the contract above). Returns 0,
 * -FL_EINVAL for a malformed request, -FL_ENOSPC when queue_max requests are
 * outstanding, or the store's sticky error once it failed. */
FL_MUST_CHECK int raft_logstore_submit(struct raft_logstore *s, struct raft_log_req *req);

/* Closes the store; outstanding callbacks never run. s is freed. */
void raft_logstore_close(struct raft_logstore *s);

/* Submit time (loop clock, us) of the oldest outstanding request, or
 * FL_TIME_NEVER when nothing is outstanding. */
uint64_t raft_logstore_oldest_pending_us(const struct raft_logstore *s);

/* ---- shared by the implementations (not for drivers) ---- */

/* Initialises the common part of a store. */
void raft_logstore_init_base(struct raft_logstore *s, const struct raft_logstore_ops *ops,
			     struct fl_loop *loop, const char *name, uint32_t queue_max);
/* Pops the oldest outstanding request, which must be req, and runs its
 * callback with result; records a failure as the store's sticky error. */
void raft_logstore_complete(struct raft_logstore *s, struct raft_log_req *req, int result);

/* ---- in-memory store (logstore_mem.c) ---- */

/* The "disk" of a simulated host: survives raft_logstore_close() (a crash)
 * and is handed to the next raft_logstore_mem_open() (the restart). */
struct raft_mem_disk;

/* An empty disk (term 0, no vote, no log, no snapshot), or NULL. */
struct raft_mem_disk *raft_mem_disk_new(void);
/* Frees d; no store may still be open on it. */
void raft_mem_disk_free(struct raft_mem_disk *d);
/* Number of entries on the disk (for tests and the simulator's checkers). */
uint64_t raft_mem_disk_n_entries(const struct raft_mem_disk *d);
/* Bytes the disk holds (entries' data and the snapshot), for the simulator's
 * accounting of what a host keeps on disk. */
uint64_t raft_mem_disk_bytes(const struct raft_mem_disk *d);

struct raft_logstore_mem_opts {
	uint64_t latency_us;   /* loop time from submit to completion (0: next turn) */
	uint32_t queue_max;    /* 0: 64 */
};

/* Opens a store on d driven by loop (simulated or real). Returns 0 or a
 * -FL_E code. Completions are loop timers, so a run is deterministic. */
FL_MUST_CHECK int raft_logstore_mem_open(struct fl_loop *loop, struct raft_mem_disk *d,
			   const struct raft_logstore_mem_opts *opts, struct raft_logstore **out);
/* While hung, requests are accepted but nothing completes (a stuck disk). */
void raft_logstore_mem_set_hung(struct raft_logstore *s, bool hung);
/* Simulated crash: the first keep_n outstanding requests reach the disk (a
 * write may land without being acknowledged), the rest are lost; then the
 * store is closed like raft_logstore_close(). */
void raft_logstore_mem_crash(struct raft_logstore *s, uint32_t keep_n);

/* ---- file store (logstore_file.c) ---- */

struct fl_eloop;
struct raft_logstore_file_opts {
	uint64_t segment_bytes; /* roll over to a new segment above this; 0: 8 MiB */
	uint32_t queue_max;     /* 0: 64 */
	bool no_sync;           /* tests only: skip fdatasync/fsync (NOT durable) */
};

/* Opens (creating if needed) the state directory dir and starts the store's
 * worker thread; completions are dispatched by el. Nothing is read until a
 * RAFT_LOG_LOAD request, which must come first. On error returns a -FL_E
 * code and writes a one-line reason into err (may be NULL). */
FL_MUST_CHECK int raft_logstore_file_open(struct fl_eloop *el, const char *dir, const struct raft_logstore_file_opts *opts,
			    struct raft_logstore **out, char *err, size_t errlen);

/* Tests only: while held, the worker thread starts no new request, so that
 * requests submitted meanwhile form one group commit once released. */
void raft_logstore_file_test_hold(struct raft_logstore *s, bool hold);

/* The last error message of a file store (what failed, on which file, at
 * which offset, what to do), or "" when none. */
const char *raft_logstore_file_last_error(const struct raft_logstore *s);

#endif
