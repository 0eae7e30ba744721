/* VM instances, guards and the I1 check of the simulator (see simvm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "tests/sim/simvm.h"

struct simvm_inst {
	bool running;
	uint64_t incarnation;
	uint64_t started_us;
	struct fl_timer death;       /* pending kill, on the global clock */
	struct simvm_world *w;
	uint32_t host, vm;
};

struct simvm_def {
	bool defined;
	uint32_t volumes[SIMVM_MAX_VOLS_PER_VM];
	uint32_t nvolumes;
	uint64_t starts;
};

struct simvm_guard {
	struct fl_timer timer;       /* on the host's kernel clock */
	struct fl_simclock *kclock;
	uint64_t grace_us;
	struct simvm_world *w;
	uint32_t host;
};

struct simvm_world {
	struct fl_sim *sim;
	struct fl_simclock clock;    /* global-rate clock for kill delays */
	uint32_t hosts;
	struct fl_rand rand;
	struct simvm_def defs[SIMVM_MAX_VMS];
	struct simvm_inst inst[SIMVM_MAX_HOSTS + 1][SIMVM_MAX_VMS];
	struct simvm_guard guards[SIMVM_MAX_HOSTS + 1];
	struct simvm_violation violations[SIMVM_MAX_VIOLATIONS];
	uint32_t nviolations;
	struct simvm_stats stats;
	simvm_died_fn died;
	void *died_ctx;
};

static void inst_die(struct simvm_inst *in)
{
	struct simvm_world *w = in->w;
	if (!in->running)
		return;
	in->running = false;
	fl_timer_cancel(&w->clock.base, &in->death);
	if (w->died)
		w->died(w->died_ctx, in->host, in->vm, in->incarnation);
}

static void inst_death_fn(struct fl_timer *t, void *arg)
{
	(void)t;
	inst_die(arg);
}

static void guard_fire_fn(struct fl_timer *t, void *arg)
{
	struct simvm_guard *g = arg;
	struct simvm_world *w = g->w;
	(void)t;
	for (uint32_t vm = 0; vm < SIMVM_MAX_VMS; vm++) {
		struct simvm_inst *in = &w->inst[g->host][vm];
		if (!in->running || fl_timer_armed(&in->death))
			continue;
		w->stats.guard_kills++;
		fl_timer_after(&w->clock.base, &in->death, fl_rand_range(&w->rand, 0, g->grace_us));
	}
}

struct simvm_world *simvm_new(struct fl_sim *sim, uint32_t hosts, uint64_t seed)
{
	FL_ASSERT(hosts >= 1);
	FL_ASSERT(hosts <= SIMVM_MAX_HOSTS);
	struct simvm_world *w = calloc(1, sizeof(*w));
	FL_ASSERT(w != NULL);
	w->sim = sim;
	w->hosts = hosts;
	fl_rand_seed(&w->rand, seed);
	FL_ASSERT(fl_simclock_init(&w->clock, sim, 0, 0) == 0);
	for (uint32_t h = 1; h <= hosts; h++) {
		struct simvm_guard *g = &w->guards[h];
		g->w = w;
		g->host = h;
		fl_timer_init(&g->timer, guard_fire_fn, g);
		for (uint32_t vm = 0; vm < SIMVM_MAX_VMS; vm++) {
			struct simvm_inst *in = &w->inst[h][vm];
			in->w = w;
			in->host = h;
			in->vm = vm;
			fl_timer_init(&in->death, inst_death_fn, in);
		}
	}
	return w;
}

void simvm_free(struct simvm_world *w)
{
	if (w == NULL)
		return;
	for (uint32_t h = 1; h <= w->hosts; h++) {
		if (w->guards[h].kclock)
			fl_timer_cancel(&w->guards[h].kclock->base, &w->guards[h].timer);
		for (uint32_t vm = 0; vm < SIMVM_MAX_VMS; vm++)
			fl_timer_cancel(&w->clock.base, &w->inst[h][vm].death);
	}
	fl_simclock_free(&w->clock);
	free(w);
}

void simvm_define(struct simvm_world *w, uint32_t vm, const uint32_t *volumes, uint32_t nvolumes)
{
	FL_ASSERT(vm < SIMVM_MAX_VMS);
	FL_ASSERT(nvolumes >= 1);
	FL_ASSERT(nvolumes <= SIMVM_MAX_VOLS_PER_VM);
	struct simvm_def *d = &w->defs[vm];
	d->defined = true;
	d->nvolumes = nvolumes;
	memcpy(d->volumes, volumes, nvolumes * sizeof(*volumes));
}

void simvm_set_kernel_clock(struct simvm_world *w, uint32_t host, struct fl_simclock *kclock)
{
	FL_ASSERT(host >= 1);
	FL_ASSERT(host <= w->hosts);
	w->guards[host].kclock = kclock;
}

void simvm_set_died_cb(struct simvm_world *w, simvm_died_fn fn, void *ctx)
{
	w->died = fn;
	w->died_ctx = ctx;
}

void simvm_violation(struct simvm_world *w, const char *what, uint32_t vm, uint32_t host_a, uint32_t host_b)
{
	if (w->nviolations >= SIMVM_MAX_VIOLATIONS)
		return;
	struct simvm_violation *v = &w->violations[w->nviolations++];
	v->at_us = w->sim->now_us;
	v->vm = vm;
	v->volume = 0;
	v->host_running = host_a;
	v->host_starting = host_b;
	snprintf(v->what, sizeof(v->what), "%s", what);
}

static bool shares_volume(const struct simvm_def *a, const struct simvm_def *b, uint32_t *vol)
{
	for (uint32_t i = 0; i < a->nvolumes; i++)
		for (uint32_t j = 0; j < b->nvolumes; j++)
			if (a->volumes[i] == b->volumes[j]) {
				*vol = a->volumes[i];
				return true;
			}
	return false;
}

/* I1: no volume is written by two instances at the same instant. */
static void check_i1(struct simvm_world *w, uint32_t host, uint32_t vm)
{
	const struct simvm_def *d = &w->defs[vm];
	for (uint32_t h = 1; h <= w->hosts; h++)
		for (uint32_t o = 0; o < SIMVM_MAX_VMS; o++) {
			uint32_t vol;
			if (!w->inst[h][o].running || !w->defs[o].defined || !shares_volume(d, &w->defs[o], &vol))
				continue;
			simvm_violation(w, "I1: two writers on one volume", vm, h, host);
			w->violations[w->nviolations - 1].volume = vol;
		}
}

bool simvm_start(struct simvm_world *w, uint32_t host, uint32_t vm, uint64_t incarnation)
{
	FL_ASSERT(host >= 1);
	FL_ASSERT(host <= w->hosts);
	FL_ASSERT(vm < SIMVM_MAX_VMS);
	FL_ASSERT(w->defs[vm].defined);
	struct simvm_inst *in = &w->inst[host][vm];
	if (in->running)
		return false;
	check_i1(w, host, vm);
	in->running = true;
	in->incarnation = incarnation;
	in->started_us = w->sim->now_us;
	w->defs[vm].starts++;
	w->stats.starts++;
	return true;
}

void simvm_kill(struct simvm_world *w, uint32_t host, uint32_t vm, uint64_t max_delay_us)
{
	struct simvm_inst *in = &w->inst[host][vm];
	if (!in->running || fl_timer_armed(&in->death))
		return;
	w->stats.kills++;
	fl_timer_after(&w->clock.base, &in->death, fl_rand_range(&w->rand, 0, max_delay_us));
}

void simvm_host_crash(struct simvm_world *w, uint32_t host)
{
	struct simvm_guard *g = &w->guards[host];
	if (g->kclock)
		fl_timer_cancel(&g->kclock->base, &g->timer);
	for (uint32_t vm = 0; vm < SIMVM_MAX_VMS; vm++)
		if (w->inst[host][vm].running) {
			w->stats.crash_kills++;
			inst_die(&w->inst[host][vm]);
		}
}

void simvm_guard_set(struct simvm_world *w, uint32_t host, uint64_t deadline_us, uint64_t grace_us)
{
	struct simvm_guard *g = &w->guards[host];
	FL_ASSERT(g->kclock != NULL);
	g->grace_us = grace_us;
	fl_timer_arm(&g->kclock->base, &g->timer, deadline_us);
}

bool simvm_running(const struct simvm_world *w, uint32_t host, uint32_t vm)
{
	return w->inst[host][vm].running;
}

uint32_t simvm_instances(const struct simvm_world *w, uint32_t vm)
{
	uint32_t n = 0;
	for (uint32_t h = 1; h <= w->hosts; h++)
		n += w->inst[h][vm].running;
	return n;
}

uint64_t simvm_starts(const struct simvm_world *w, uint32_t vm) { return w->defs[vm].starts; }
const struct simvm_stats *simvm_stats(const struct simvm_world *w) { return &w->stats; }

uint32_t simvm_violations(const struct simvm_world *w, const struct simvm_violation **out)
{
	*out = w->violations;
	return w->nviolations;
}
