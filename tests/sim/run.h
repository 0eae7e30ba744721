/* One seeded simulator run: a cluster, a nemesis that injects faults one
 * at a time, and the checks of invariants I1-I6 (docs/design.md, "The simulator").
 *
 * The nemesis draws every choice from the seed: which fault, which host, how
 * long. Partition-like faults are either shorter than P (a blip: nothing may
 * restart, I4) or clearly longer (the host must be fenced and its VMs come
 * back elsewhere). After the run everything heals, the cluster settles, and
 * I3 (every VM runs exactly once) is checked. I1 (no two writers) and I2/I5
 * (one leader per term, every host applies the same entries) are checked
 * continuously by the cluster; I6 (a corrupt record is an error, never a
 * crash) holds if the run ends at all with torn writes injected. */
#ifndef FL_SIM_RUN_H
#define FL_SIM_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include "tests/sim/cluster.h"

enum simrun_nemesis {
	NEM_PARTITION = 1u << 0,  /* isolate a host both ways */
	NEM_ASYM = 1u << 1,       /* send-only or receive-only */
	NEM_PARTIAL = 1u << 2,    /* cut one link */
	NEM_SPLIT = 1u << 3,      /* split into two groups */
	NEM_FLAP = 1u << 4,       /* a host's link goes up and down (outages < P) */
	NEM_CRASH = 1u << 5,      /* crash a host, restart it later */
	NEM_PAUSE = 1u << 6,      /* SIGSTOP a daemon */
	NEM_DISK = 1u << 7,       /* stall or fail a host's storage */
	NEM_TORN = 1u << 8,       /* torn writes */
	NEM_DRIFT = 1u << 9,      /* change a clock's rate */
	NEM_MOVE = 1u << 10,      /* operator moves a VM (live placement change) */
	NEM_LOSS = 1u << 11,      /* message loss and duplication */
	NEM_BLIP = 1u << 12,      /* partitions only shorter than P */
	NEM_STALL = 1u << 13,     /* storage stalls and latency spikes shorter than F: change nothing */
	NEM_ALL = ((1u << 12) - 1) | NEM_STALL,
};

struct simrun_params {
	struct simcl_params cl;
	uint64_t duration_us;
	uint32_t nemesis;          /* enum simrun_nemesis bits */
	bool trace;                /* log everything with simulated time */
	/* VM churn: every churn_us one VM is moved to another host (stopped
	 * there, started here), leadership is moved once (a pause of the leader
	 * shorter than P) in the first quarter, the nemesis does not run, and
	 * every host's memory accounting (arb_mem.total), Raft disk and
	 * registry size are sampled; a host whose maximum in the second half of
	 * the run exceeds that of the first half by more than an eighth (plus
	 * 4 KiB) for the variable part (the Raft log and snapshot, buffers), whose
	 * fixed part (tables sized at start) changes at all, or whose registry
	 * holds more VMs in the second half (the moves register nothing), is a
	 * violation: its memory does not level off. 0: no churn, faults every 5-20 s as the nemesis says. */
	uint64_t churn_us;
};

#define SIMRUN_MAX_SAMPLES 64

struct simrun_result {
	uint64_t seed;
	bool formed;               /* the cluster formed and ran every VM */
	uint32_t violations;
	char first_violation[192];
	uint64_t first_violation_us;
	uint32_t faults;
	uint32_t split_brain;      /* I1 violations */
	uint32_t false_failovers;  /* restarts caused by a fault that should restart nothing */
	uint32_t blips;            /* faults that must restart nothing (checked: I4) */
	uint64_t starts;
	uint32_t n_failover, n_handover;
	uint64_t failover_us[SIMRUN_MAX_SAMPLES];  /* crash -> its VMs run elsewhere */
	uint64_t handover_us[SIMRUN_MAX_SAMPLES];  /* partition > P starts -> VMs run elsewhere */
	uint64_t sim_us;           /* simulated time of the run */
	/* Under churn: VM moves submitted, and per host (1-based) the largest
	 * memory accounting (arb_mem.total, what fencelockd reports as
	 * fencelock_arbiter_bytes: FSM tables, the Raft log and snapshot, the
	 * arbiter's tables and buffers), Raft disk bytes and VMs in the
	 * registry in each half of the run (0 for a host that was ever down). */
	uint64_t churn_moves;
	uint32_t churn_leaders[2];  /* the leader paused, and the one elected meanwhile */
	uint64_t mem_max[2][SIMCL_MAX_HOSTS + 1];
	uint64_t disk_max[2][SIMCL_MAX_HOSTS + 1];
	uint32_t reg_max[2][SIMCL_MAX_HOSTS + 1];
	uint64_t var_max[2][SIMCL_MAX_HOSTS + 1];   /* arb_mem.variable: what churn could grow */
	uint64_t fixed_lo[SIMCL_MAX_HOSTS + 1], fixed_hi[SIMCL_MAX_HOSTS + 1]; /* total - variable */
};

/* Parses "partition,crash,..." or "all" / "none" / "blip" into bits; -1 on an unknown name. */
int simrun_nemesis_parse(const char *list, uint32_t *out);
/* Runs one seed; fills r. Returns 0 if no invariant was violated. */
int simrun_one(const struct simrun_params *p, struct simrun_result *r);

#endif
