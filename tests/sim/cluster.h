/* A whole fencelock cluster in one process, on simulated time.
 *
 * N hosts, each with its own drifting, pausable clock (plus a never-paused
 * "kernel" clock with the same drift for its VM guards), its own handle on
 * one simulated shared disk formatted with the fencelock layout, its own
 * in-memory Raft log disk that survives crashes, and the real arbiter
 * (plugin/arbiter/arbiter.h) driving the real lockspace, volume leases, mailboxes
 * and Raft node. Messages travel over the simulated network (simnet.h); VMs
 * are writers in the VM model (simvm.h), which checks I1 at every start.
 * The cluster also records every applied Raft entry to check state-machine
 * safety (I2) and that nothing committed is lost (I5). Faults are applied
 * through the functions below (the nemesis in run.c schedules them). */
#ifndef FL_SIM_CLUSTER_H
#define FL_SIM_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/layout.h"
#include "tests/sim/simnet.h"
#include "tests/sim/simvm.h"

#define SIMCL_MAX_HOSTS 128 /* ARB_MAX_HOSTS: the largest cluster the arbiter runs */
#define SIMCL_MAX_VMS 256
#define SIMCL_VM_TABLE 1024u /* each arbiter's FSM VM table (fsm_limits.max_vms) */
#define SIMCL_SPEC_MAX 1024u /* and spec size: the simulator registers no spec */
_Static_assert(SIMCL_MAX_VMS <= SIMCL_VM_TABLE, "every simulated VM fits the FSM's table");
_Static_assert(SIMVM_MAX_VMS <= SIMCL_VM_TABLE, "every VM a simulated host runs fits the FSM's table");

struct simcl_params {
	uint32_t hosts;
	uint32_t vms;
	uint64_t seed;
	uint32_t io_timeout_ms;    /* T (ls_io_timeout_ms_valid()) */
	uint64_t jitter_us;        /* every host timer fires up to this late (scheduling jitter) */
	uint64_t p_us;
	int32_t max_drift_ppm;
	uint64_t snapshot_every;   /* 0: the arbiter's default */
	uint64_t snapshot_trailing; /* 0: Raft's default */
	uint32_t initial_hosts;    /* hosts of the bootstrap configuration; 0: all */
	uint32_t voters;           /* host voters the leader keeps (3, 5, 7); 0: the arbiter's default */
	uint32_t start_fail_hosts; /* bit h: starting VM 0 always fails on host h (a config
				      file local to another host, a missing image) */
};

struct simcl;

struct simcl *simcl_new(const struct simcl_params *p);
void simcl_free(struct simcl *c);
struct fl_sim *simcl_sim(struct simcl *c);
struct simnet *simcl_net(struct simcl *c);
struct simvm_world *simcl_vms(struct simcl *c);
const struct lay_layout *simcl_layout(const struct simcl *c);

/* Starts every host (bootstrapping the cluster). */
void simcl_start_all(struct simcl *c);
/* Registers the VMs through the leader; false if no leader appeared. */
bool simcl_register_vms(struct simcl *c, uint64_t within_us);
/* Runs until every VM runs exactly once, or within_us passed. */
bool simcl_wait_all_running(struct simcl *c, uint64_t within_us);
void simcl_run_for(struct simcl *c, uint64_t us);

/* Faults. Host ids are 1-based. */
void simcl_crash(struct simcl *c, uint32_t h);
void simcl_restart(struct simcl *c, uint32_t h);
/* Host h boots next with an FSM VM table of max_vms entries (0: the usual
 * SIMCL_VM_TABLE), as a build with other table sizes would: the snapshots
 * of the others' FSMs are foreign to it. */
void simcl_set_vm_table(struct simcl *c, uint32_t h, uint32_t max_vms);
/* Host h boots next with [host] max_vms = max_vms (0: no limit). */
void simcl_set_max_vms(struct simcl *c, uint32_t h, uint32_t max_vms);
/* Starts host h (not in the bootstrap configuration) empty and has the
 * leader add it: a host joining a running cluster. false without a leader. */
bool simcl_join(struct simcl *c, uint32_t h);
/* The leader removes host h from the cluster. */
int simcl_remove(struct simcl *c, uint32_t h);
bool simcl_is_up(const struct simcl *c, uint32_t h);
void simcl_pause(struct simcl *c, uint32_t h);
void simcl_resume(struct simcl *c, uint32_t h);
bool simcl_is_paused(const struct simcl *c, uint32_t h);
struct fl_simbdev_faults *simcl_disk_faults(struct simcl *c, uint32_t h);
void simcl_disk_unstall(struct simcl *c, uint32_t h);
void simcl_set_drift(struct simcl *c, uint32_t h, int32_t ppm);

/* Observations. */
struct arb;
struct arb *simcl_arb(struct simcl *c, uint32_t h);   /* NULL when down */
const struct simcl_params *simcl_params(const struct simcl *c);
uint32_t simcl_leader(const struct simcl *c);          /* 0 if none */
uint32_t simcl_vm_host(const struct simcl *c, uint32_t vm); /* host running vm, 0 if none */
/* VMs running on host h; mask (may be NULL) gets which ones. */
uint32_t simcl_vms_on(const struct simcl *c, uint32_t h, uint8_t *mask);
/* Runs until no VM of mask (NULL: every VM) runs on h and each of them runs
 * exactly once; returns the simulated time it took (at least 1 us), or 0 if
 * that did not happen within within_us. */
uint64_t simcl_until_moved_off(struct simcl *c, uint32_t h, const uint8_t *mask, uint64_t within_us);
bool simcl_host_fenced(const struct simcl *c, uint32_t h);
uint32_t simcl_violations(const struct simcl *c, const struct simvm_violation **out);
uint64_t simcl_now(const struct simcl *c);
/* Bytes host h's Raft disk holds (log entries and snapshot). */
uint64_t simcl_disk_bytes(const struct simcl *c, uint32_t h);

#endif
