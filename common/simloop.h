/* The simulated world: one global simulated time, many per-host clocks.
 *
 * A struct fl_sim owns the global timer heap. Each simulated host gets a
 * struct fl_simclock, an fl_loop whose clock runs at its own rate (drift in
 * parts per million, bounded by the simulator) and can be paused: while a
 * host is paused its timers do not fire (it runs no code), but its clock
 * goes on, exactly as CLOCK_MONOTONIC goes on for a SIGSTOPped process, which
 * sees the jump when it is continued. Nothing here reads the real clock; a run
 * is a pure function of the seed. */
#ifndef FL_SIMLOOP_H
#define FL_SIMLOOP_H

#include "common/loop.h"
#include "common/rand.h"

struct fl_sim {
	uint64_t now_us;          /* global simulated time */
	struct fl_timer_heap heap;
	struct fl_rand rand;
	uint64_t steps;           /* timers fired so far */
};

struct fl_simclock {
	struct fl_loop base;
	struct fl_sim *sim;
	int32_t drift_ppm;        /* local clock runs at (1 + drift_ppm/1e6) x global */
	bool paused;
	uint64_t local_base_us;   /* local time at global_base_us */
	uint64_t global_base_us;
	/* Timers that came due while paused, re-armed on resume. */
	struct fl_timer_heap held;
	/* Scheduling jitter: every timer fires up to jitter_max_us late (drawn
	 * uniformly from jitter_rand), as a loaded host's loop wakes late. */
	uint64_t jitter_max_us;
	struct fl_rand jitter_rand;
};

int fl_sim_init(struct fl_sim *sim, uint64_t seed);
void fl_sim_free(struct fl_sim *sim);
/* Fires the next due timer, advancing global time. Returns false when no timer is armed. */
bool fl_sim_step(struct fl_sim *sim);
/* Runs timers until global time would pass until_us; leaves now_us = until_us. */
void fl_sim_run_until(struct fl_sim *sim, uint64_t until_us);

int fl_simclock_init(struct fl_simclock *c, struct fl_sim *sim, uint64_t local_start_us, int32_t drift_ppm);
void fl_simclock_free(struct fl_simclock *c);
/* Pause: the host's timers stop firing (its clock runs on). Resume: every
 * timer that came due meanwhile fires at once, in deadline order. */
void fl_simclock_pause(struct fl_simclock *c);
void fl_simclock_resume(struct fl_simclock *c);
/* Every timer armed from now on fires up to max_us late (0: on time). */
void fl_simclock_set_jitter(struct fl_simclock *c, uint64_t max_us, uint64_t seed);
/* Changes the drift rate from now on. */
void fl_simclock_set_drift(struct fl_simclock *c, int32_t drift_ppm);

#endif
