/* The clock-and-timer seam every state machine runs on.
 *
 * Core modules (lockspace, volume leases, Raft drivers, the arbiter) never read
 * a clock or sleep: they ask their fl_loop for the time and arm intrusive
 * timers on it. Two implementations exist:
 *   - the real loop (loop_epoll.c): CLOCK_MONOTONIC, epoll for file
 *     descriptors, used by the daemon and the CLI;
 *   - the simulated world (simloop.h): one global simulated time shared by
 *     many per-host views, each with its own clock rate and pauses, so that a
 *     whole cluster runs deterministically in one process.
 * All times are microseconds of the loop's own monotonic clock. */
#ifndef FL_LOOP_H
#define FL_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FL_US_PER_MS 1000ull
#define FL_US_PER_S 1000000ull
#define FL_TIME_NEVER UINT64_MAX

struct fl_loop;
struct fl_timer;
typedef void (*fl_timer_fn)(struct fl_timer *t, void *arg);

/* An intrusive timer: embed it in the owning object, fl_timer_init() once,
 * then arm and cancel freely. A timer fires at most once per arming. */
struct fl_timer {
	fl_timer_fn fn;
	void *arg;
	uint64_t at_us;     /* deadline on the arming loop's clock */
	uint64_t key_us;    /* deadline on the heap's clock (global for the sim) */
	uint64_t seq;       /* arming order: ties fire in arming order */
	struct fl_loop *loop;
	uint32_t heap_index; /* UINT32_MAX when not armed */
};

struct fl_loop_ops {
	uint64_t (*now_us)(struct fl_loop *l);
	void (*timer_arm)(struct fl_loop *l, struct fl_timer *t, uint64_t at_us);
	void (*timer_cancel)(struct fl_loop *l, struct fl_timer *t);
};

struct fl_loop {
	const struct fl_loop_ops *ops;
};

static inline uint64_t fl_now_us(struct fl_loop *l) { return l->ops->now_us(l); }

void fl_timer_init(struct fl_timer *t, fl_timer_fn fn, void *arg);
/* Arms (or re-arms) t to fire at absolute time at_us of loop l. */
static inline void fl_timer_arm(struct fl_loop *l, struct fl_timer *t, uint64_t at_us)
{
	l->ops->timer_arm(l, t, at_us);
}
/* Arms t to fire delay_us from now. */
static inline void fl_timer_after(struct fl_loop *l, struct fl_timer *t, uint64_t delay_us)
{
	l->ops->timer_arm(l, t, l->ops->now_us(l) + delay_us);
}
/* Cancels t if armed; harmless otherwise. */
static inline void fl_timer_cancel(struct fl_loop *l, struct fl_timer *t)
{
	l->ops->timer_cancel(l, t);
}
static inline bool fl_timer_armed(const struct fl_timer *t) { return t->heap_index != UINT32_MAX; }

/* ---- timer heap shared by both implementations ---- */
struct fl_timer_heap {
	struct fl_timer **items;
	uint32_t len, cap;
	uint64_t next_seq;
};

int fl_theap_init(struct fl_timer_heap *h, uint32_t initial_cap);
void fl_theap_free(struct fl_timer_heap *h);
int fl_theap_push(struct fl_timer_heap *h, struct fl_timer *t);
void fl_theap_remove(struct fl_timer_heap *h, struct fl_timer *t);
struct fl_timer *fl_theap_peek(const struct fl_timer_heap *h);

/* ---- real loop ---- */
struct fl_eloop;
typedef void (*fl_fd_fn)(void *arg, uint32_t epoll_events);

/* Creates the real epoll loop; returns NULL on failure (errno set). */
struct fl_eloop *fl_eloop_new(void);
void fl_eloop_free(struct fl_eloop *el);
struct fl_loop *fl_eloop_loop(struct fl_eloop *el);
/* Watches fd for epoll events; fn runs on the loop thread. */
int fl_eloop_add_fd(struct fl_eloop *el, int fd, uint32_t events, fl_fd_fn fn, void *arg);
int fl_eloop_mod_fd(struct fl_eloop *el, int fd, uint32_t events, fl_fd_fn fn, void *arg);
int fl_eloop_del_fd(struct fl_eloop *el, int fd);
/* Runs one iteration: waits at most max_wait_us (or until the next timer),
 * dispatches fd events and due timers. Returns 0 or a -FL_E code. */
int fl_eloop_run_once(struct fl_eloop *el, uint64_t max_wait_us);
/* Runs until fl_eloop_stop() is called or *done becomes true. */
int fl_eloop_run(struct fl_eloop *el, const volatile bool *done);
void fl_eloop_stop(struct fl_eloop *el);

/* CLOCK_MONOTONIC in microseconds (monotonic.c: usable without the loop). */
uint64_t fl_monotonic_us(void);

#endif
