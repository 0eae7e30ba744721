/* Mutation-testing hooks of the arbiter (common/mutant.h). `make sim-mutants`
 * rebuilds the arbiter with -DFL_MUTANT=N to get deliberately broken variants
 * and shows that the simulator catches each one. The safety code calls these
 * hooks at the points a mutant changes; in a normal build every hook is a
 * constant that compiles away, so no mutant-only field or branch lives in the
 * safety code, and the mutants' state lives in arb_mutant.c, which a normal
 * build compiles to nothing. Not a public header. */
#ifndef FL_PLUGIN_ARB_MUTANT_H
#define FL_PLUGIN_ARB_MUTANT_H

#include <stdbool.h>
#include <stdint.h>
#include "common/mutant.h"

struct arb;
struct arb_lvm;
struct fsm_vm;

/* Mutant 1: the host never stops its own VMs (no self-fence). */
static inline bool arb_mut_no_self_fence(void) { return FL_MUTANT_IS(FL_MUT_SELF_FENCE_OFF); }
/* Mutants 1 and 7: the per-VM guard is never armed. */
static inline bool arb_mut_no_guard(void)
{
	return FL_MUTANT_IS(FL_MUT_SELF_FENCE_OFF) || FL_MUTANT_IS(FL_MUT_GUARD_OFF);
}
/* Mutant 6: FENCED is acknowledged before the VMs are dead. */
static inline bool arb_mut_early_fenced(void) { return FL_MUTANT_IS(FL_MUT_EARLY_FENCED); }
/* Mutant 9: nobody serves the disk voter. */
static inline bool arb_mut_witness_ignored(void) { return FL_MUTANT_IS(FL_MUT_WITNESS_IGNORED); }
/* Mutant 8: the disk voter is taken although a live host serves it. */
static inline bool arb_mut_witness_twice(void) { return FL_MUTANT_IS(FL_MUT_WITNESS_TWICE); }

#if FL_MUTANT
/* Mutant 5: l is being stopped for `why`; remembers a fenced incarnation. */
void arb_mut_vm_stopping(struct arb_lvm *l, int why);
/* Mutant 5: restarts an idle VM that was fenced "as if it still held its
 * leases"; true if it did something with l (the caller skips it then). */
bool arb_mut_vm_restart(struct arb *a, struct arb_lvm *l, const struct fsm_vm *vm, bool may_start);
/* Mutant 8: serves the disk voter without its lease while someone else
 * serves it; true if it did (the caller's tick is over then). */
bool arb_mut_witness_serve(struct arb *a, uint64_t now);
/* Forgets what the hooks remember about a (arb_free). */
void arb_mut_forget(const struct arb *a);
#else
static inline void arb_mut_vm_stopping(struct arb_lvm *l, int why) { (void)l; (void)why; }
static inline bool arb_mut_vm_restart(struct arb *a, struct arb_lvm *l, const struct fsm_vm *vm, bool may_start)
{
	(void)a;
	(void)l;
	(void)vm;
	(void)may_start;
	return false;
}
static inline bool arb_mut_witness_serve(struct arb *a, uint64_t now)
{
	(void)a;
	(void)now;
	return false;
}
static inline void arb_mut_forget(const struct arb *a) { (void)a; }
#endif

#endif
