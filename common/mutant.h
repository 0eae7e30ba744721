/* Mutation testing: `make sim-mutants` rebuilds a few files with
 * -DFL_MUTANT=N to get deliberately broken variants of fencelock and shows
 * that the simulator catches every one of them (scripts/sim-mutants.sh).
 * Normal builds never define FL_MUTANT, so FL_MUTANT_IS() is a constant 0
 * and the mutated branches compile away. The numbers: */
#ifndef FL_MUTANT_H
#define FL_MUTANT_H

#define FL_MUT_SELF_FENCE_OFF 1   /* a host never stops its own VMs, no guard */
#define FL_MUT_D_EQUALS_F 2       /* observers take leases after F instead of D */
#define FL_MUT_TAKEOVER_LIVE 3    /* the takeover rule ignores a live owner */
#define FL_MUT_FIGURE8_OFF 4      /* Raft commits an old term's entry by counting */
#define FL_MUT_REJOIN_RESTARTS 5  /* a rejoining host restarts its old VMs as if it held their leases */
#define FL_MUT_EARLY_FENCED 6     /* FENCED acknowledged before the VMs are dead */
#define FL_MUT_GUARD_OFF 7        /* no per-VM guard: a paused daemon's VMs run on */
#define FL_MUT_WITNESS_TWICE 8    /* the disk voter served by two hosts at once */
#define FL_MUT_WITNESS_IGNORED 9  /* nobody serves the disk voter: a half split has no majority */

#ifndef FL_MUTANT
#define FL_MUTANT 0
#endif
#define FL_MUTANT_IS(n) (FL_MUTANT == (n))

#endif
