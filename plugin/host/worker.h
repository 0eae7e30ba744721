/* A worker thread for the blocking steps the daemon's loop must never take.
 *
 * The lease loop (the epoll loop that renews the delta lease) must not wait
 * for anything: not a flush of a VM's volumes, a file write on a slow file
 * system, a name-service lookup or a fork. Such a step is wrapped in a job:
 * its run() executes on the worker thread (and may block there), its done()
 * on the loop thread afterwards, signalled through an eventfd the loop
 * watches. The queue is bounded: a submit to a full queue fails at once with
 * -FL_ENOSPC, it never waits. The only lock is held for a list operation,
 * never while a job runs, so the loop's share of a job is a few pointer moves.
 *
 * Jobs are intrusive: the caller owns the struct fl_work (embedded in its own
 * object) from submit until done() has run, and must not submit it twice. A
 * job whose run() can block for ever (a hung device) must not be given to
 * the worker: it would hold every later job. Such steps (a flush) run in a
 * child process instead, which a job may fork, and which the loop then
 * watches with a pidfd and a deadline. */
#ifndef FL_PLUGIN_WORKER_H
#define FL_PLUGIN_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include "common/loop.h"

#define FL_WORKER_QUEUE_MAX 4096u

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
	uint32_t queued;                        /* waiting or running now */
	uint32_t queued_max;                    /* the most ever at once */
};

/* Starts the worker thread for loop el, with room for queue_max (1 ..
 * FL_WORKER_QUEUE_MAX) jobs waiting or running. The calling thread must have
 * blocked the signals it handles through a signalfd: the new thread inherits
 * the mask. Returns 0 or -FL_EINVAL / -FL_ENOMEM / an errno code. */
int fl_worker_new(struct fl_eloop *el, uint32_t queue_max, struct fl_worker **out);

/* Queues w (run and done set, not queued). Never blocks: 0, or -FL_ENOSPC
 * when queue_max jobs wait already (w is untouched). */
int fl_worker_submit(struct fl_worker *wk, struct fl_work *w);

/* Stops the thread. A job running at that moment gets at most wait_us to
 * end; if it does not (it blocks in the kernel), the thread is left behind
 * (the process is about to exit) and -FL_ETIMEDOUT returned. done() runs for
 * no job after this call. Returns 0 otherwise. */
int fl_worker_free(struct fl_worker *wk, uint64_t wait_us);

/* Counters (loop thread). */
void fl_worker_stats(struct fl_worker *wk, struct fl_worker_stats *out);

#endif
