/* The real event loop: CLOCK_MONOTONIC timers on a heap plus epoll for fds. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "common/loop.h"
#include "fencelock/error.h"

#define ELOOP_MAX_FDS 4096
#define ELOOP_BATCH 64

struct eloop_watch {
	fl_fd_fn fn;
	void *arg;
	bool used;
};

struct fl_eloop {
	struct fl_loop base;
	int epfd;
	bool stop;
	struct fl_timer_heap heap;
	struct eloop_watch *watches; /* indexed by fd, ELOOP_MAX_FDS entries */
};

static uint64_t eloop_now(struct fl_loop *l)
{
	(void)l;
	return fl_monotonic_us();
}

static void eloop_arm(struct fl_loop *l, struct fl_timer *t, uint64_t at_us)
{
	struct fl_eloop *el = (struct fl_eloop *)l;
	fl_theap_remove(&el->heap, t);
	t->at_us = t->key_us = at_us;
	t->loop = l;
	FL_ASSERT(fl_theap_push(&el->heap, t) == 0);
}

static void eloop_cancel(struct fl_loop *l, struct fl_timer *t)
{
	fl_theap_remove(&((struct fl_eloop *)l)->heap, t);
}

static const struct fl_loop_ops eloop_ops = {
	.now_us = eloop_now,
	.timer_arm = eloop_arm,
	.timer_cancel = eloop_cancel,
};

struct fl_eloop *fl_eloop_new(void)
{
	struct fl_eloop *el = calloc(1, sizeof(*el));
	if (el == NULL)
		return NULL;
	el->base.ops = &eloop_ops;
	el->watches = calloc(ELOOP_MAX_FDS, sizeof(*el->watches));
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (el->watches == NULL || el->epfd < 0 || fl_theap_init(&el->heap, 64) != 0) {
		int e = errno;
		if (el->epfd >= 0)
			close(el->epfd);
		free(el->watches);
		free(el);
		errno = e ? e : ENOMEM;
		return NULL;
	}
	return el;
}

void fl_eloop_free(struct fl_eloop *el)
{
	if (el == NULL)
		return;
	close(el->epfd);
	fl_theap_free(&el->heap);
	free(el->watches);
	free(el);
}

struct fl_loop *fl_eloop_loop(struct fl_eloop *el) { return &el->base; }

static int eloop_ctl(struct fl_eloop *el, int op, int fd, uint32_t events, fl_fd_fn fn, void *arg)
{
	if (fd < 0 || fd >= ELOOP_MAX_FDS)
		return -FL_EINVAL;
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(el->epfd, op, fd, &ev) != 0)
		return fl_from_errno(errno);
	el->watches[fd] = (struct eloop_watch){.fn = fn, .arg = arg, .used = true};
	return 0;
}

int fl_eloop_add_fd(struct fl_eloop *el, int fd, uint32_t events, fl_fd_fn fn, void *arg)
{
	return eloop_ctl(el, EPOLL_CTL_ADD, fd, events, fn, arg);
}

int fl_eloop_mod_fd(struct fl_eloop *el, int fd, uint32_t events, fl_fd_fn fn, void *arg)
{
	return eloop_ctl(el, EPOLL_CTL_MOD, fd, events, fn, arg);
}

int fl_eloop_del_fd(struct fl_eloop *el, int fd)
{
	if (fd < 0 || fd >= ELOOP_MAX_FDS)
		return -FL_EINVAL;
	el->watches[fd].used = false;
	if (epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL) != 0)
		return fl_from_errno(errno);
	return 0;
}

static void eloop_fire_due(struct fl_eloop *el)
{
	uint64_t now = fl_monotonic_us();
	/* Bounded: a timer re-armed for "now" by its callback fires next round. */
	uint32_t budget = el->heap.len;
	struct fl_timer *t;
	while (budget-- > 0 && (t = fl_theap_peek(&el->heap)) != NULL && t->key_us <= now) {
		fl_theap_remove(&el->heap, t);
		t->fn(t, t->arg);
	}
}

int fl_eloop_run_once(struct fl_eloop *el, uint64_t max_wait_us)
{
	struct epoll_event evs[ELOOP_BATCH];
	uint64_t wait_us = max_wait_us;
	struct fl_timer *t = fl_theap_peek(&el->heap);
	if (t != NULL) {
		uint64_t now = fl_monotonic_us();
		uint64_t until = t->key_us > now ? t->key_us - now : 0;
		if (until < wait_us)
			wait_us = until;
	}
	int timeout_ms = wait_us == FL_TIME_NEVER ? -1 : (int)FL_MIN(wait_us / 1000 + (wait_us % 1000 != 0), 60000u);
	int n = epoll_wait(el->epfd, evs, ELOOP_BATCH, timeout_ms);
	if (n < 0 && errno != EINTR)
		return fl_from_errno(errno);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		struct eloop_watch *w = &el->watches[fd];
		if (w->used)
			w->fn(w->arg, evs[i].events);
	}
	eloop_fire_due(el);
	return 0;
}

int fl_eloop_run(struct fl_eloop *el, const volatile bool *done)
{
	el->stop = false;
	while (!el->stop && !(done && *done)) {
		int rv = fl_eloop_run_once(el, FL_TIME_NEVER);
		if (rv != 0)
			return rv;
	}
	return 0;
}

void fl_eloop_stop(struct fl_eloop *el) { el->stop = true; }
