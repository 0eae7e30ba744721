/* Simulated world and per-host drifting, pausable clocks (see simloop.h). */
#include "common/assert.h"
#include "common/simloop.h"
#include "fencelock/error.h"

#define PPM 1000000ll

static struct fl_simclock *to_clock(struct fl_loop *l) { return (struct fl_simclock *)l; }

static uint64_t clock_local_at(const struct fl_simclock *c, uint64_t global_us)
{
	FL_ASSERT(global_us >= c->global_base_us);
	__int128 d = (__int128)(global_us - c->global_base_us) * (PPM + c->drift_ppm) / PPM;
	return c->local_base_us + (uint64_t)d;
}

/* Earliest global time at which the local clock reads at least local_us. */
static uint64_t clock_global_for(const struct fl_simclock *c, uint64_t local_us)
{
	if (local_us <= c->local_base_us)
		return c->global_base_us;
	__int128 d = (__int128)(local_us - c->local_base_us) * PPM;
	__int128 rate = PPM + c->drift_ppm;
	return c->global_base_us + (uint64_t)((d + rate - 1) / rate);
}

static uint64_t simclock_now(struct fl_loop *l)
{
	struct fl_simclock *c = to_clock(l);
	return clock_local_at(c, c->sim->now_us);
}

static void simclock_cancel(struct fl_loop *l, struct fl_timer *t)
{
	struct fl_simclock *c = to_clock(l);
	if (t->heap_index == UINT32_MAX)
		return;
	/* The timer is either in the global heap or held by this paused clock. */
	if (t->heap_index < c->held.len && c->held.items[t->heap_index] == t)
		fl_theap_remove(&c->held, t);
	else
		fl_theap_remove(&c->sim->heap, t);
}

static void simclock_arm(struct fl_loop *l, struct fl_timer *t, uint64_t at_us)
{
	struct fl_simclock *c = to_clock(l);
	simclock_cancel(l, t);
	t->loop = l;
	t->at_us = at_us;
	t->key_us = FL_MAX(clock_global_for(c, at_us), c->sim->now_us);
	if (c->jitter_max_us > 0)
		t->key_us += fl_rand_next(&c->jitter_rand) % (c->jitter_max_us + 1);
	FL_ASSERT(fl_theap_push(&c->sim->heap, t) == 0);
}

static const struct fl_loop_ops simclock_ops = {
	.now_us = simclock_now,
	.timer_arm = simclock_arm,
	.timer_cancel = simclock_cancel,
};

int fl_sim_init(struct fl_sim *sim, uint64_t seed)
{
	sim->now_us = 0;
	sim->steps = 0;
	fl_rand_seed(&sim->rand, seed);
	return fl_theap_init(&sim->heap, 1024);
}

void fl_sim_free(struct fl_sim *sim) { fl_theap_free(&sim->heap); }

bool fl_sim_step(struct fl_sim *sim)
{
	struct fl_timer *t = fl_theap_peek(&sim->heap);
	if (t == NULL)
		return false;
	fl_theap_remove(&sim->heap, t);
	FL_ASSERT(t->key_us >= sim->now_us);
	sim->now_us = t->key_us;
	struct fl_simclock *c = to_clock(t->loop);
	if (c->paused) {
		/* Held until resume: a paused process runs nothing. */
		t->key_us = t->at_us;
		FL_ASSERT(fl_theap_push(&c->held, t) == 0);
		return true;
	}
	if (clock_local_at(c, sim->now_us) < t->at_us) {
		/* The clock's rate changed since arming: re-key, fire later. */
		t->key_us = FL_MAX(clock_global_for(c, t->at_us), sim->now_us + 1);
		FL_ASSERT(fl_theap_push(&sim->heap, t) == 0);
		return true;
	}
	sim->steps++;
	t->fn(t, t->arg);
	return true;
}

void fl_sim_run_until(struct fl_sim *sim, uint64_t until_us)
{
	struct fl_timer *t;
	while ((t = fl_theap_peek(&sim->heap)) != NULL && t->key_us <= until_us)
		fl_sim_step(sim);
	if (sim->now_us < until_us)
		sim->now_us = until_us;
}

int fl_simclock_init(struct fl_simclock *c, struct fl_sim *sim, uint64_t local_start_us, int32_t drift_ppm)
{
	FL_ASSERT(drift_ppm > -(int32_t)PPM);
	c->base.ops = &simclock_ops;
	c->sim = sim;
	c->drift_ppm = drift_ppm;
	c->paused = false;
	c->local_base_us = local_start_us;
	c->global_base_us = sim->now_us;
	c->jitter_max_us = 0;
	return fl_theap_init(&c->held, 16);
}

void fl_simclock_free(struct fl_simclock *c) { fl_theap_free(&c->held); }

static void simclock_rebase(struct fl_simclock *c)
{
	c->local_base_us = clock_local_at(c, c->sim->now_us);
	c->global_base_us = c->sim->now_us;
}

void fl_simclock_pause(struct fl_simclock *c) { c->paused = true; }

void fl_simclock_resume(struct fl_simclock *c)
{
	if (!c->paused)
		return;
	c->paused = false;
	struct fl_timer *t;
	while ((t = fl_theap_peek(&c->held)) != NULL) {
		fl_theap_remove(&c->held, t);
		simclock_arm(&c->base, t, t->at_us);
	}
}

void fl_simclock_set_jitter(struct fl_simclock *c, uint64_t max_us, uint64_t seed)
{
	c->jitter_max_us = max_us;
	fl_rand_seed(&c->jitter_rand, seed);
}

void fl_simclock_set_drift(struct fl_simclock *c, int32_t drift_ppm)
{
	FL_ASSERT(drift_ppm > -(int32_t)PPM);
	simclock_rebase(c);
	c->drift_ppm = drift_ppm;
}
