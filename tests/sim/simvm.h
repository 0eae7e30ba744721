/* The simulator's model of VMs, their guards, and invariant I1.
 *
 * A VM instance is a writer on its volumes from the simulated instant it
 * starts until the instant it dies. Starting an instance while another
 * instance (on any host) writes one of the same volumes is a violation of I1,
 * recorded with the time and both hosts. Instances die when their host
 * crashes (at once), when the host's arbiter kills them (after a kill delay
 * up to the grace K), or when their guard fires: each host has a guard
 * deadline on its *kernel* clock, a clock with the host's drift that a paused
 * daemon does not stop, exactly as a guard process outlives a SIGSTOPped
 * daemon. Counters per VM feed I3 (runs exactly once after heal) and I4
 * (a short outage restarts nothing). */
#ifndef FL_SIMVM_H
#define FL_SIMVM_H

#include <stdbool.h>
#include <stdint.h>
#include "common/simloop.h"

#define SIMVM_MAX_VMS 256
#define SIMVM_MAX_VOLS_PER_VM 4
#define SIMVM_MAX_HOSTS 128
#define SIMVM_MAX_VIOLATIONS 64

struct simvm_violation {
	uint64_t at_us;       /* global simulated time */
	uint32_t vm, volume;
	uint32_t host_running, host_starting;
	char what[96];
};

struct simvm_stats {
	uint64_t starts, kills, guard_kills, crash_kills;
};

struct simvm_world;

struct simvm_world *simvm_new(struct fl_sim *sim, uint32_t hosts, uint64_t seed);
void simvm_free(struct simvm_world *w);
/* Registers VM index vm (0-based) with its volume ids. */
void simvm_define(struct simvm_world *w, uint32_t vm, const uint32_t *volumes, uint32_t nvolumes);
/* The clock the host's guards run on (host ids are 1-based). */
void simvm_set_kernel_clock(struct simvm_world *w, uint32_t host, struct fl_simclock *kclock);
/* Callback when an instance has died (killed, guard, crash). */
typedef void (*simvm_died_fn)(void *ctx, uint32_t host, uint32_t vm, uint64_t incarnation);
void simvm_set_died_cb(struct simvm_world *w, simvm_died_fn fn, void *ctx);

/* Starts an instance now; checks I1. Returns false if vm already runs on host. */
bool simvm_start(struct simvm_world *w, uint32_t host, uint32_t vm, uint64_t incarnation);
/* Kills the instance on host after a random delay within max_delay_us. */
void simvm_kill(struct simvm_world *w, uint32_t host, uint32_t vm, uint64_t max_delay_us);
/* Host crash: all its instances die now and its guards are disarmed. */
void simvm_host_crash(struct simvm_world *w, uint32_t host);
/* Guard: instances on host die at kernel-clock time deadline_us (+ up to grace_us). */
void simvm_guard_set(struct simvm_world *w, uint32_t host, uint64_t deadline_us, uint64_t grace_us);

bool simvm_running(const struct simvm_world *w, uint32_t host, uint32_t vm);
/* Number of hosts on which vm currently runs. */
uint32_t simvm_instances(const struct simvm_world *w, uint32_t vm);
uint64_t simvm_starts(const struct simvm_world *w, uint32_t vm);
const struct simvm_stats *simvm_stats(const struct simvm_world *w);
uint32_t simvm_violations(const struct simvm_world *w, const struct simvm_violation **out);
/* Records an externally detected violation (other invariants use the same list). */
void simvm_violation(struct simvm_world *w, const char *what, uint32_t vm, uint32_t host_a, uint32_t host_b);

#endif
