/* The state and behaviour of the arbiter's mutants (arb_mutant.h): compiled
 * to nothing in a normal build, and with -DFL_MUTANT=N by
 * scripts/sim-mutants.sh, which links it ahead of the arbiter library. What a
 * mutant remembers is kept here, keyed by arbiter, rather than in the
 * arbiter's own structures. */
#include "plugin/arbiter/arb_mutant.h"

#if FL_MUTANT
#include <stdlib.h>
#include "common/assert.h"
#include "plugin/arbiter/arb_internal.h"

/* Mutant 5: the incarnation a fence stopped, per (arbiter, VM). */
struct mut_fenced {
	const struct arb *a;
	uint32_t idx;
	uint64_t inc;
};

static struct mut_fenced *fenced;
static size_t n_fenced, cap_fenced;

static struct mut_fenced *fenced_find(const struct arb *a, uint32_t idx, bool add)
{
	for (size_t i = 0; i < n_fenced; i++)
		if (fenced[i].a == a && fenced[i].idx == idx)
			return &fenced[i];
	if (!add)
		return NULL;
	if (n_fenced == cap_fenced) {
		size_t cap = cap_fenced ? 2 * cap_fenced : 64;
		struct mut_fenced *p = realloc(fenced, cap * sizeof(*p));
		FL_ASSERT(p != NULL); /* a mutant run out of memory has nothing to show */
		fenced = p;
		cap_fenced = cap;
	}
	fenced[n_fenced] = (struct mut_fenced){.a = a, .idx = idx, .inc = 0};
	return &fenced[n_fenced++];
}

void arb_mut_vm_stopping(struct arb_lvm *l, int why)
{
	if (FL_MUTANT_IS(FL_MUT_REJOIN_RESTARTS) && (why == ARB_STOP_QUORUM || why == ARB_STOP_PILL))
		fenced_find(l->a, l->idx, true)->inc = l->incarnation;
}

bool arb_mut_vm_restart(struct arb *a, struct arb_lvm *l, const struct fsm_vm *vm, bool may_start)
{
	if (!FL_MUTANT_IS(FL_MUT_REJOIN_RESTARTS) || l->state != LVM_IDLE || vm == NULL || !may_start)
		return false;
	struct mut_fenced *f = fenced_find(a, l->idx, false);
	if (f == NULL || f->inc == 0)
		return false;
	/* The bug: "we still hold its leases", restart it as it was. */
	l->incarnation = f->inc;
	f->inc = 0;
	if (a->cfg.vm.start(a->cfg.vm.ctx, l->idx, vm, l->incarnation) == 0) {
		/* Bypasses arb_lvm_set_state on purpose: IDLE -> RUNNING without
		 * a lease is the bug this mutant plants (its assertion would stop
		 * the run before the checker could see the harm). */
		l->state = LVM_RUNNING;
		l->since_us = arb_now(a);
	}
	return true;
}

bool arb_mut_witness_serve(struct arb *a, uint64_t now)
{
	(void)now;
	if (!FL_MUTANT_IS(FL_MUT_WITNESS_TWICE))
		return false;
	/* The bug: serve it without the lease because "the holder looks slow". */
	a->w.held = true;
	a->w.gen = a->generation;
	arb_witness_serve(a);
	return true;
}

void arb_mut_forget(const struct arb *a)
{
	for (size_t i = 0; i < n_fenced;)
		if (fenced[i].a == a)
			fenced[i] = fenced[--n_fenced];
		else
			i++;
}
#endif
