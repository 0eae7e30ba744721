/* The non-blocking log sink (see asynclog.h): a ring of FL_ALOG_RING fixed
 * slots, a mutex and a condition variable, one writer thread. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "common/assert.h"
#include "common/pi_mutex.h"
#include "common/errmap.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/host/asynclog.h"

struct alog_slot {
	int level;
	struct timespec ts;
	char msg[FL_ALOG_MSG_MAX];
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	fl_alog_out_fn out;
	void *ctx;
	uint32_t head, len;              /* under mu */
	uint64_t dropped, dropped_told;  /* under mu */
	struct alog_slot ring[FL_ALOG_RING];
} A = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *alog_main(void *arg)
{
	static struct alog_slot cur; /* this thread's only */
	(void)arg;
	pthread_mutex_lock(&A.mu);
	for (;;) {
		while (A.len == 0 && !A.stop)
			pthread_cond_wait(&A.cv, &A.mu);
		if (A.len == 0)
			break;
		cur = A.ring[A.head];
		A.head = (A.head + 1) % FL_ALOG_RING;
		A.len--;
		uint64_t lost = A.dropped - A.dropped_told;
		A.dropped_told = A.dropped;
		pthread_mutex_unlock(&A.mu);
		if (lost > 0) {
			char note[96];
			snprintf(note, sizeof(note), "%llu log messages dropped: the log output was not read fast enough",
				 (unsigned long long)lost);
			A.out(A.ctx, LOG_WARNING, &cur.ts, note);
		}
		A.out(A.ctx, cur.level, &cur.ts, cur.msg); /* may block: only this thread waits */
		pthread_mutex_lock(&A.mu);
	}
	pthread_mutex_unlock(&A.mu);
	return NULL;
}

/* A small stack (the daemon locks its memory: an 8 MiB default stack would
 * be 8 MiB of locked RAM for a thread that needs a few KiB). */
static int fl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256u * 1024u);
	int rv = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return rv;
}

int fl_alog_start(fl_alog_out_fn out, void *ctx)
{
	FL_ASSERT(out != NULL);
	FL_ASSERT(!A.running);
	A.out = out;
	A.ctx = ctx;
	A.stop = false;
	/* No other thread logs yet: the lock becomes one with priority
	 * inheritance (the loop logs through it, common/pi_mutex.h). */
	pthread_mutex_destroy(&A.mu);
	fl_pi_mutex_init(&A.mu);
	int rv = fl_thread_start(&A.thread, alog_main, NULL);
	if (rv != 0)
		return fl_from_errno(rv);
	pthread_mutex_lock(&A.mu);
	A.running = true;
	pthread_mutex_unlock(&A.mu);
	return 0;
}

void fl_alog_sink(void *ctx, int level, const char *msg)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&A.mu);
	if (!A.running) {
		pthread_mutex_unlock(&A.mu);
		if (A.out != NULL)
			A.out(A.ctx, level, &ts, msg);
		return;
	}
	if (A.len == FL_ALOG_RING) {
		A.dropped++;
		pthread_mutex_unlock(&A.mu);
		return;
	}
	struct alog_slot *s = &A.ring[(A.head + A.len) % FL_ALOG_RING];
	s->level = level;
	s->ts = ts;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	A.len++;
	pthread_cond_signal(&A.cv);
	pthread_mutex_unlock(&A.mu);
}

void fl_alog_stop(unsigned wait_ms)
{
	pthread_mutex_lock(&A.mu);
	if (!A.running) {
		pthread_mutex_unlock(&A.mu);
		return;
	}
	A.stop = true;
	pthread_cond_signal(&A.cv);
	pthread_mutex_unlock(&A.mu);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000u;
	until.tv_nsec += (long)(wait_ms % 1000u) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(A.thread, NULL, &until) != 0)
		return; /* its writer is stuck: leave it, the process is ending */
	pthread_mutex_lock(&A.mu);
	A.running = false;
	pthread_mutex_unlock(&A.mu);
}

uint64_t fl_alog_dropped(void)
{
	pthread_mutex_lock(&A.mu);
	uint64_t n = A.dropped;
	pthread_mutex_unlock(&A.mu);
	return n;
}
