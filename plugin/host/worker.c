/* The daemon's worker threads (see worker.h): a FIFO of jobs per thread, all
 * guarded by one mutex, a condition variable per thread that wakes it, and an
 * eventfd that wakes the loop when jobs are done. The mutex is only ever held
 * around list operations, on either side, and inherits the loop's priority
 * (common/pi_mutex.h), so the loop waits for it at most for a few pointer
 * moves of a worker; run() and the eventfd write are never under it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include "common/assert.h"
#include "common/pi_mutex.h"
#include "common/errmap.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/host/worker.h"

struct fl_worker;

struct fl_worker_thread {
	struct fl_worker *wk;
	pthread_t thread;
	pthread_cond_t cv;
	bool started, joined;
	struct fl_work *head, *tail;     /* waiting (under wk->mu) */
};

struct fl_worker {
	struct fl_eloop *el;
	int efd;
	pthread_mutex_t mu;
	/* under mu */
	struct fl_worker_thread th[FL_WORKER_THREADS_MAX];
	struct fl_work *done_head, *done_tail;
	uint32_t n;                      /* waiting + running + done not yet handed back */
	bool stop;
	/* loop thread only */
	uint32_t nth;
	uint32_t queue_max;
	struct fl_worker_stats st;
};

static void list_push(struct fl_work **head, struct fl_work **tail, struct fl_work *w)
{
	w->next = NULL;
	if (*tail != NULL)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

static void *worker_main(void *arg)
{
	struct fl_worker_thread *t = arg;
	struct fl_worker *wk = t->wk;
	pthread_mutex_lock(&wk->mu);
	for (;;) {
		while (t->head == NULL && !wk->stop)
			pthread_cond_wait(&t->cv, &wk->mu);
		if (wk->stop)
			break;
		struct fl_work *w = t->head;
		t->head = w->next;
		if (t->head == NULL)
			t->tail = NULL;
		pthread_mutex_unlock(&wk->mu);
		w->run(w); /* may block: nothing of the loop's waits for it */
		pthread_mutex_lock(&wk->mu);
		list_push(&wk->done_head, &wk->done_tail, w);
		pthread_mutex_unlock(&wk->mu);
		uint64_t one = 1;
		/* Outside the lock: the write wakes the loop, which takes the
		 * lock next. An eventfd counter cannot overflow from this: it
		 * saturates only after 2^64 - 2 writes without a read. */
		(void)!write(wk->efd, &one, sizeof(one));
		pthread_mutex_lock(&wk->mu);
	}
	pthread_mutex_unlock(&wk->mu);
	return NULL;
}

static void on_event(void *arg, uint32_t ev)
{
	struct fl_worker *wk = arg;
	uint64_t cnt;
	(void)ev;
	(void)!read(wk->efd, &cnt, sizeof(cnt));
	pthread_mutex_lock(&wk->mu);
	struct fl_work *w = wk->done_head;
	wk->done_head = wk->done_tail = NULL;
	/* Their room in the queue is free again before any done() runs (one
	 * may resubmit); bounded by queue_max: each job was queued once. */
	for (const struct fl_work *x = w; x != NULL; x = x->next) {
		FL_ASSERT(wk->n > 0);
		wk->n--;
	}
	pthread_mutex_unlock(&wk->mu);
	while (w != NULL) {
		struct fl_work *next = w->next;
		w->queued = false;
		wk->st.completed++;
		w->done(w); /* may resubmit w */
		w = next;
	}
}

/* A small stack (the daemon locks its memory: an 8 MiB default stack would
 * be 8 MiB of locked RAM for a thread that needs a few KiB; a VM's start
 * takes 64 KiB of it for the child's stack, plugin/daemon/vmrt.c). */
static int fl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256u * 1024u);
	int rv = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return rv;
}

/* Joins every started thread by until; false if one is still inside a run(). */
static bool join_all(struct fl_worker *wk, const struct timespec *until)
{
	bool all = true;
	for (uint32_t i = 0; i < wk->nth; i++) {
		struct fl_worker_thread *t = &wk->th[i];
		if (!t->started || t->joined)
			continue;
		if (until == NULL ? pthread_join(t->thread, NULL) == 0 : pthread_timedjoin_np(t->thread, NULL, until) == 0)
			t->joined = true;
		else
			all = false;
	}
	return all;
}

static void worker_destroy(struct fl_worker *wk)
{
	close(wk->efd);
	for (uint32_t i = 0; i < wk->nth; i++)
		pthread_cond_destroy(&wk->th[i].cv);
	pthread_mutex_destroy(&wk->mu);
	free(wk);
}

/* Starts the threads; on a failure stops those already started. */
static int start_threads(struct fl_worker *wk)
{
	for (uint32_t i = 0; i < wk->nth; i++) {
		struct fl_worker_thread *t = &wk->th[i];
		int rv = fl_thread_start(&t->thread, worker_main, t);
		if (rv == 0) {
			t->started = true;
			continue;
		}
		pthread_mutex_lock(&wk->mu);
		wk->stop = true;
		for (uint32_t k = 0; k < i; k++)
			pthread_cond_signal(&wk->th[k].cv);
		pthread_mutex_unlock(&wk->mu);
		(void)join_all(wk, NULL); /* no job was queued: each returns at once */
		return fl_from_errno(rv);
	}
	return 0;
}

int fl_worker_new(struct fl_eloop *el, uint32_t queue_max, uint32_t threads, struct fl_worker **out)
{
	FL_ASSERT(el != NULL);
	FL_ASSERT(out != NULL);
	if (queue_max == 0 || queue_max > FL_WORKER_QUEUE_MAX || threads == 0 || threads > FL_WORKER_THREADS_MAX)
		return -FL_EINVAL;
	struct fl_worker *wk = calloc(1, sizeof(*wk));
	if (wk == NULL)
		return -FL_ENOMEM;
	wk->el = el;
	wk->queue_max = queue_max;
	wk->nth = threads;
	wk->st.threads = threads;
	wk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wk->efd < 0) {
		int rv = fl_from_errno(errno);
		free(wk);
		return rv;
	}
	fl_pi_mutex_init(&wk->mu);
	for (uint32_t i = 0; i < threads; i++) {
		wk->th[i].wk = wk;
		pthread_cond_init(&wk->th[i].cv, NULL);
	}
	int rv = fl_eloop_add_fd(el, wk->efd, EPOLLIN, on_event, wk);
	if (rv == 0 && (rv = start_threads(wk)) != 0)
		fl_eloop_del_fd(el, wk->efd);
	if (rv != 0) {
		worker_destroy(wk);
		return rv;
	}
	*out = wk;
	return 0;
}

uint32_t fl_worker_key(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

int fl_worker_submit_key(struct fl_worker *wk, struct fl_work *w, uint32_t key)
{
	FL_ASSERT(w->run != NULL);
	FL_ASSERT(w->done != NULL);
	FL_ASSERT(!w->queued);
	struct fl_worker_thread *t = &wk->th[key % wk->nth];
	pthread_mutex_lock(&wk->mu);
	if (wk->n >= wk->queue_max) {
		pthread_mutex_unlock(&wk->mu);
		wk->st.refused++;
		return -FL_ENOSPC;
	}
	wk->n++;
	uint32_t n = wk->n;
	w->queued = true;
	list_push(&t->head, &t->tail, w);
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&wk->mu);
	wk->st.submitted++;
	wk->st.queued_max = n > wk->st.queued_max ? n : wk->st.queued_max;
	return 0;
}

int fl_worker_submit(struct fl_worker *wk, struct fl_work *w)
{
	return fl_worker_submit_key(wk, w, 0);
}

int fl_worker_free(struct fl_worker *wk, uint64_t wait_us)
{
	if (wk == NULL)
		return 0;
	fl_eloop_del_fd(wk->el, wk->efd);
	pthread_mutex_lock(&wk->mu);
	wk->stop = true;
	for (uint32_t i = 0; i < wk->nth; i++)
		pthread_cond_signal(&wk->th[i].cv);
	pthread_mutex_unlock(&wk->mu);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(wait_us / FL_US_PER_S);
	until.tv_nsec += (long)(wait_us % FL_US_PER_S) * 1000;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (!join_all(wk, &until)) {
		/* Still inside a run(): it owns wk's lock and lists; leave them. */
		fl_warn("worker thread: a job still runs after %llu ms (blocked in the kernel); leaving it",
			(unsigned long long)(wait_us / FL_US_PER_MS));
		return -FL_ETIMEDOUT;
	}
	worker_destroy(wk);
	return 0;
}

void fl_worker_stats(struct fl_worker *wk, struct fl_worker_stats *out)
{
	*out = wk->st;
	pthread_mutex_lock(&wk->mu);
	out->queued = wk->n;
	pthread_mutex_unlock(&wk->mu);
}
