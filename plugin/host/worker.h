/* Worker threads for the blocking steps the daemon's loop must never take.
 *
 * The lease loop (the epoll loop that renews the delta lease) must not wait
 * for anything: not a flush of a VM's volumes, a file write on a slow file
 * system, a name-service lookup or a fork. Such a step is wrapped in a job:
 * its run() executes on a worker thread (and may block there), its done()
 * on the loop thread afterwards, signalled through an eventfd the loop
 * watches. The queue is bounded: a submit to a full queue fails at once with
 * -FL_ENOSPC, it never waits. The only lock is held for a list operation,
 * never while a job runs, so the loop's share of a job is a few pointer moves.
 *
 * A worker has 1 .. FL_WORKER_THREADS_MAX threads, each with a FIFO of its
 * own: a job goes to the thread its key names (key modulo the thread count),
 * so jobs of one key (one VM: its guard file's creation and removal, its
 * start) run one after another in the order submitted, and jobs of other
 * keys run beside them (the start of one VM never waits for another's).
 * done() calls come back in the order the jobs ended.
 *
 * Jobs are intrusive: the caller owns the struct fl_work (embedded in its own
 * object) from submit until done() has run, and must not submit it twice. A
 * job whose run() can block for ever (a hung device) must not be given to
 * a worker: it would hold every later job of its thread. Such steps (a
 * flush) run in a child process instead, which a job may fork, and which the
 * loop then watches with a pidfd and a deadline. */
#ifndef FL_PLUGIN_WORKER_H
#define FL_PLUGIN_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include "common/loop.h"
#include "common/must_check.h"

#define FL_WORKER_QUEUE_MAX 4096u
#define FL_WORKER_THREADS_MAX 16u

struct fl_work;
typedef void (*fl_work_fn)(struct fl_work *w);

struct fl_work {
	fl_work_fn run;          /* worker thread: the blocking step */
	fl_work_fn done;         /* loop thread, after run(); may resubmit w */
	struct fl_work *next;    /* the worker's own */
	bool queued;             /* between submit and done(): do not submit again */
};

struct fl_worker;

struct fl_worker_stats {
	uint64_t submitted, completed, refused; /* refused: the queue was full */
	uint32_t threads;
	uint32_t queued;                        /* waiting or running now */
	uint32_t queued_max;                    /* the most ever at once */
};

/* Starts threads (1 .. FL_WORKER_THREADS_MAX) worker threads for loop el,
 * with room for queue_max (1 .. FL_WORKER_QUEUE_MAX) jobs waiting or running
 * in all. The calling thread must have blocked the signals it handles
 * through a signalfd: the new threads inherit the mask. Returns 0 or
 * -FL_EINVAL / -FL_ENOMEM / an errno code. */
FL_MUST_CHECK int fl_worker_new(struct fl_eloop *el, uint32_t queue_max, uint32_t threads, struct fl_worker **out);

/* Queues w (run and done set, not queued) on the thread of key. Never
 * blocks: 0, or -FL_ENOSPC when queue_max jobs wait already (w is
 * untouched). fl_worker_submit() is key 0. */
FL_MUST_CHECK int fl_worker_submit_key(struct fl_worker *wk, struct fl_work *w, uint32_t key);
FL_MUST_CHECK int fl_worker_submit(struct fl_worker *wk, struct fl_work *w);

/* The key of a name (a VM's uid): the same name, the same key. */
uint32_t fl_worker_key(const char *name);

/* Stops the threads. A job running at that moment gets at most wait_us to
 * end; if one does not (it blocks in the kernel), its thread is left behind
 * (the process is about to exit) and -FL_ETIMEDOUT returned. done() runs for
 * no job after this call. Returns 0 otherwise. */
int fl_worker_free(struct fl_worker *wk, uint64_t wait_us);

/* Counters (loop thread). */
void fl_worker_stats(struct fl_worker *wk, struct fl_worker_stats *out);

#endif
