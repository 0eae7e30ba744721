/* Host-state classification from both channels, and the arbiter's decisions.
 *
 * Pure functions over observations an observer already holds: how long ago
 * it last heard a host over the network (directly or through the Raft
 * leader's view), what its lockspace watch says of the host's delta lease,
 * what the host's mailbox says, and whether membership says it left. They
 * map to the host states of docs/design.md (UP, PARTITIONED, STORAGE_LOST, DEAD,
 * FENCED, LEFT) with the time the host entered the state, kept in a small
 * per-host record (struct cls_record) so that a state is reported with its
 * entry time rather than re-stamped on every tick. The decision helpers
 * ("may take over its VMs", "poison-pill it", "self-fence", "may acquire")
 * are functions of (state, since, timings, now) only. All times are
 * microseconds of the observer's own monotonic clock; no value here is ever
 * compared with another host's clock. */
#ifndef FL_PLUGIN_CLASSIFY_H
#define FL_PLUGIN_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"

#define CLS_NEVER UINT64_MAX   /* net_age_us of a host never heard */

/* docs/design.md "Time", in the arbiter's terms. cls_timings_from_ls()
 * takes the lockspace's values (disklock/timeouts.h) so both modules judge by
 * the same numbers; for a host whose record is judged by sanlock's slower
 * timing, build them from that record's ls_timing (K = M = 0, D = 8N + 60 s). */
struct cls_timings {
	uint64_t r_us;   /* R: delta-lease renewal interval (T) */
	uint64_t f_us;   /* F: no completed renewal for F since the last good start: kill VMs (4T) */
	uint64_t k_us;   /* K: kill grace, VMs dead by F + K (T) */
	uint64_t m_us;   /* M: drift and scheduling margin (T) */
	uint64_t d_us;   /* D: no change seen for D: its leases may be taken (F + K + M) */
	uint64_t p_us;   /* P: partition tolerance (cluster default; VMs may override) */
	uint64_t h_us;   /* heartbeat silence after which the network counts as silent (2T) */
};

/* disklock's enum ls_host_state, as the arbiter sees it (cls_disk_from_ls()). */
enum cls_disk {
	CLS_DISK_FREE = 0,  /* timestamp 0: released or never acquired */
	CLS_DISK_UNKNOWN,   /* seen, not yet watched long enough to judge */
	CLS_DISK_LIVE,      /* timestamp seen to change within F */
	CLS_DISK_FAIL,      /* no change for F */
	CLS_DISK_DEAD,      /* no change for D */
	CLS_DISK_ERROR,     /* corrupt or foreign record: never "free" */
	CLS_DISK_END
};

enum cls_state {
	CLS_UP = 1,
	CLS_PARTITIONED,
	CLS_STORAGE_LOST,
	CLS_DEAD,
	CLS_FENCED,
	CLS_LEFT,
	CLS_STATE_END
};

/* What an observer knows of one other host at one instant. */
struct cls_obs {
	uint64_t net_age_us;     /* since last heard; CLS_NEVER if never */
	enum cls_disk disk;
	uint64_t disk_change_us; /* observer time the record last changed (or watching began) */
	uint64_t generation;     /* delta-lease generation: a new one is a new life of the host */
	bool fenced;             /* mailbox: FENCED ack for the current fence request */
	bool leases_free;        /* every volume lease the host held is seen free on disk */
	bool left;               /* membership: the host left the cluster */
};

/* Per-host record: the state last reported and when it was entered. */
struct cls_record {
	bool valid;
	uint8_t state;           /* enum cls_state */
	uint64_t since_us;
	uint64_t generation;
};

/* What the local host knows of itself. */
struct cls_local {
	bool quorate;
	uint64_t quorum_lost_us;   /* when it stopped being quorate (valid if !quorate) */
	bool lease_held;           /* it holds its delta lease */
	uint64_t renewal_start_us; /* start of its last good renewal (valid if lease_held) */
};

enum cls_self_fence {
	CLS_KEEP = 0,              /* nothing to do */
	CLS_FENCE_QUORUM,          /* not quorate for longer than P */
	CLS_FENCE_RENEWAL,         /* no renewal completed by F after the last good start */
	CLS_FENCE_NO_LEASE,        /* no delta lease at all: no VM may run */
};

struct ls_timing;

/* Fills *t from io_timeout T and partition tolerance P (both > 0, in us). */
void cls_timings_default(struct cls_timings *t, uint64_t io_timeout_us, uint64_t p_us);
/* Fills *t from the lockspace's timing lt (R, F, K, M, D), P and the
 * network silence threshold h (both > 0, in us). */
void cls_timings_from_ls(struct cls_timings *t, const struct ls_timing *lt, uint64_t p_us, uint64_t h_us);
/* 0 if *t is coherent (0 < R < F, D >= F + K + M, P > 0, H > 0; K and M
 * may be 0, as in sanlock's timing), -FL_EINVAL otherwise. */
FL_MUST_CHECK int cls_timings_check(const struct cls_timings *t);
/* The lockspace watch's judgement (an enum ls_host_state value, passed as
 * int to keep disklock's headers out of this one) as a cls_disk; an unknown
 * value maps to CLS_DISK_ERROR (never "free"). */
enum cls_disk cls_disk_from_ls(int ls_state);

/* Classifies o at now_us (the rules and their reasons are in
 * docs/design.md, "The arbiter"). *evidence_us gets the entry time the
 * observation itself proves (PARTITIONED: last heard; STORAGE_LOST: last
 * disk change), or CLS_NEVER when it proves none. */
enum cls_state cls_classify(const struct cls_obs *o, const struct cls_timings *t, uint64_t now_us,
			    uint64_t *evidence_us);
/* Classifies o and updates r: on a change of state or generation (or a
 * fresh record) since = the evidence, else now_us; while the state holds,
 * since only moves forward to newer evidence (a blip the observer missed
 * restarts the clock: the safe direction). Returns the state; r->since_us
 * is its entry time, never after now_us. */
enum cls_state cls_update(struct cls_record *r, const struct cls_obs *o, const struct cls_timings *t,
			  uint64_t now_us);

/* True if the quorate side may take over the host's VMs now: DEAD and
 * FENCED at once, STORAGE_LOST once now - since >= D (since = the last disk
 * change), never UP, PARTITIONED (it must first ack FENCED or free its
 * leases, which makes it FENCED) or LEFT. */
bool cls_may_take_over(enum cls_state s, uint64_t since_us, const struct cls_timings *t, uint64_t now_us);
/* True if the leader should write a fence request into the host's mailbox:
 * PARTITIONED for longer than p_us (strictly: a host keeps its VMs for P). */
bool cls_should_poison_pill(enum cls_state s, uint64_t since_us, uint64_t p_us, uint64_t now_us);
/* For the local host: why it must fence itself now, or CLS_KEEP. Quorum:
 * not quorate for longer than p_us (strictly). Renewal: now -
 * renewal_start >= F. */
enum cls_self_fence cls_should_self_fence(const struct cls_local *l, const struct cls_timings *t,
					  uint64_t p_us, uint64_t now_us);
/* For the local host: true if it may acquire new volume leases (start VMs):
 * quorate, holding its delta lease, and now - renewal_start < F. */
bool cls_may_acquire(const struct cls_local *l, const struct cls_timings *t, uint64_t now_us);

/* "UP", "PARTITIONED", ... for logs and the CLI; "?" for anything else. */
const char *cls_state_name(enum cls_state s);

#endif
