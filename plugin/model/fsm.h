/* The replicated state machine that Raft carries: the cluster's desired state.
 *
 * Every host applies the same committed commands in the same order, so apply
 * is deterministic and total: a command either applies or is rejected, the
 * same way, on every host, and nothing here reads a clock, allocates after
 * fsm_init(), or depends on anything but the state and the command bytes.
 * Time enters only as data: every command carries a "cluster time" stamp
 * (stamp_us) written by the leader that proposed it. The leader derives
 * cluster time as fsm_clock_us() at the moment it won the election plus its
 * own monotonic time elapsed since; the FSM keeps clock_us = max(clock_us,
 * stamp) so cluster time never goes backwards, and it simply stands still
 * while there is no leader (a quarantine then lasts a little longer: the
 * safe direction). No host ever compares its own clock with this value.
 *
 * State: membership, the VM registry (volumes, opaque spec, desired host,
 * restart policy, per-VM partition tolerance, an incarnation bumped on every
 * placement), the volume-lease slot table, one fence record per host, a
 * short history of fence times per host (for flap damping) and quarantine,
 * and the event ring: the last FSM_EVENTS_MAX decisions, derived in apply
 * from the commands themselves (who proposed and asked, the proposer's wall
 * clock and the cause travel in every command), so every host holds the
 * same history for the same applied index.
 * Capacities (struct fsm_limits) are fixed at start-up, and must be the same
 * on every host: a snapshot records them and is refused by an FSM with other
 * limits, so a misconfigured host fails loudly instead of diverging. */
#ifndef FL_PLUGIN_FSM_H
#define FL_PLUGIN_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"

#define FSM_HOST_ID_MAX 2000u     /* sanlock's host_id range is 1..2000 */
#define FSM_HOSTS_DEFAULT 128u    /* host table of fsm_limits_default (the daemon uses the layout's) */
#define FSM_NAME_MAX 63u          /* host name, bytes (no NUL) */
#define FSM_ADDR_MAX 127u         /* host address, bytes */
#define FSM_UID_MAX 64u           /* VM uid, bytes */
#define FSM_PATH_MAX 255u         /* volume path, bytes */
#define FSM_VOLID_MAX 255u        /* volume identity, bytes (plugin/host/volid.h) */
#define FSM_FAILED_MAX 8u         /* hosts a VM failed to start on, remembered */
#define FSM_VOLS_MAX 8u           /* volumes per VM */
#define FSM_SPEC_MAX 16384u       /* opaque VM spec, bytes */
#define FSM_FENCE_HISTORY 8u      /* fence times remembered per host */
#define FSM_VMS_MAX 65536u
#define FSM_VMS_DEFAULT 10240u    /* VM table of fsm_limits_default: 10,000 VMs and some room */
#define FSM_SLOTS_MAX 65536u
#define FSM_SLOT_NONE UINT32_MAX  /* volume without a lease slot */
#define FSM_SLOT_ANY UINT32_MAX   /* SLOT_ALLOC: the lowest free slot */
/* quarantine_until_us of a drained host: quarantined until an operator
 * undrains it (nothing is placed there; the leader moves its VMs away). */
#define FSM_QUARANTINE_DRAINED UINT64_MAX

#define FSM_CMD_MAGIC 0x31434C46u    /* "FLC1" */
/* 2: vm-register carries the owner uid/gid; 3: and volume identities;
 * 4: every command ends with its origin (struct fsm_origin), and NOTE.
 * Version 3 commands (a log written before) still decode, origin unknown. */
#define FSM_CMD_VERSION 4u
#define FSM_CMD_VERSION_MIN 3u
#define FSM_CMD_HDR_BYTES 24u
#define FSM_ORIGIN_BYTES (8u + 4u + 4u + 1u + 4u + 1u)
/* Largest encoded command (a VM_REGISTER with everything at its maximum). */
#define FSM_CMD_MAX_BYTES \
	(FSM_CMD_HDR_BYTES + 2 + FSM_UID_MAX + 1 + 8 + 4 + 1 + \
	 FSM_VOLS_MAX * (2 + FSM_VOLID_MAX + 2 + FSM_PATH_MAX + 1) + 8 + 4 + FSM_SPEC_MAX + FSM_ORIGIN_BYTES)
#define FSM_SNAP_MAGIC 0x31534C46u   /* "FLS1" */
/* 2: VMs carry the owner uid/gid; 3: identities, paths' host, start
 * failures; 4: the event ring and each host's noted state. A version 3
 * snapshot still restores (no events). */
#define FSM_SNAP_VERSION 4u
#define FSM_SNAP_VERSION_MIN 3u
#define FSM_SNAP_HDR_BYTES 16u
/* A snapshot travels as one Raft message, so the FSM bounds its size: a
 * VM_REGISTER that would let the worst-case snapshot grow past this is
 * refused (-FL_ENOSPC). Each VM is charged its record's largest encoded
 * size (FSM_VM_CHARGE_FIXED + FSM_VOL_CHARGE_FIXED per volume + its
 * strings and spec); hosts and the event ring are charged their maximum
 * at fsm_init (plugin/arbiter checks the relation to the Raft limits). */
#define FSM_SNAP_MAX_BYTES (15u << 20)
#define FSM_SNAP_GLOBALS_BYTES (4u * 4u + 8u * 3u + 8u * 4u)
#define FSM_HOST_REC_MAX_BYTES (4u + 4u + 2u + 2u + FSM_NAME_MAX + 2u + FSM_ADDR_MAX + 3u + 8u * 3u + 4u + \
				FSM_FENCE_HISTORY * 8u + 8u + 2u)
#define FSM_VM_CHARGE_FIXED (4u + 2u + 3u + 4u + 3u + FSM_FAILED_MAX * 4u + 4u + 4u + 8u + 8u + 4u + 4u + 4u)
#define FSM_VOL_CHARGE_FIXED (2u + 2u + 1u + 4u)
/* Specs live in a pool of FSM_SPEC_CHUNK-byte chunks: its size is what the
 * snapshot bound lets all specs together take (plus one partly used chunk
 * per VM), not max_vms full-size specs. */
#define FSM_SPEC_CHUNK 256u
#define FSM_CHUNK_NONE UINT32_MAX

enum fsm_cmd_type {
	FSM_CMD_HOST_ADD = 1,      /* host_id, name, addr, role */
	FSM_CMD_HOST_REMOVE,       /* host_id: state LEFT; refused while VMs are placed on it */
	FSM_CMD_HOST_RENAME,       /* host_id, name */
	FSM_CMD_VM_REGISTER,       /* uid, restart, ptol_us, host_id (whose paths), volumes, spec;
				      a new uid is unplaced; a known uid is updated (spec, policy,
				      paths; other volume identities only while it is unplaced) */
	FSM_CMD_VM_UNREGISTER,     /* uid; refused while running; frees its slots */
	FSM_CMD_VM_PLACE,          /* uid, host_id (0 = unplace), incarnation = expected;
				      refused onto a LEFT, quarantined or fence-pending host */
	FSM_CMD_VM_REPORT,         /* uid, host_id, incarnation, running */
	FSM_CMD_FENCE_REQUEST,     /* host_id, reason */
	FSM_CMD_FENCE_ACK,         /* host_id, fence_index (raft index of the request) */
	FSM_CMD_FENCE_CLEAR,       /* host_id */
	FSM_CMD_QUARANTINE_SET,    /* host_id, until_us (cluster time) */
	FSM_CMD_QUARANTINE_CLEAR,  /* host_id */
	FSM_CMD_SLOT_ALLOC,        /* uid, volid, slot (or FSM_SLOT_ANY) */
	FSM_CMD_SLOT_FREE,         /* slot */
	FSM_CMD_VM_END,            /* uid, host_id, incarnation, flag: the VM ended on host_id and is
				      not to run again by itself: unplaced; flag 1 also unregisters */
	FSM_CMD_VM_START_FAILED,   /* uid, host_id, incarnation: host_id gave up starting it: it is
				      unplaced, pending, and host_id joins its failed_on list */
	FSM_CMD_VM_FAIL,           /* uid, incarnation: every eligible host failed: FAILED */
	FSM_CMD_VM_CLEAR,          /* uid: the operator clears FAILED and the failure history */
	FSM_CMD_NOTE,              /* flag (enum fsm_note), host_id, reason (a host state): what the
				      leader saw, for the event history only; nothing else changes */
	FSM_CMD_HOST_FORGET,       /* host_id: a LEFT host's record is dropped (its id may be added
				      again); refused unless LEFT */
	FSM_CMD_TYPE_END
};

enum fsm_role { FSM_ROLE_VOTER = 1, FSM_ROLE_LEARNER = 2 };
enum fsm_host_state { FSM_HOST_FREE = 0, FSM_HOST_JOINED = 1, FSM_HOST_LEFT = 2 };
/* The replicated encoding of the public enum fl_restart (fencelock.h); 0 is
 * no policy. Only the daemon maps one to the other (plugin/daemon/daemon.h).
 * What the cluster does when a VM stops without an operator asking
 * (docs/design.md, "VM lifecycle"): after its host fails, after its VMM
 * fails (non-zero exit, killed by a signal other than TERM/HUP/INT, killed
 * by its guard), after a clean end (exit 0, or TERM/HUP/INT). */
enum fsm_restart {
	FSM_RESTART_ALWAYS = 1,     /* host failure: moved; VMM failure: re-run; clean end: stopped */
	FSM_RESTART_NEVER = 2,      /* host failure: stays; VMM failure: stopped; clean end: unregistered */
	FSM_RESTART_ON_FAILURE = 3, /* host failure: moved; VMM failure: re-run; clean end: unregistered */
	FSM_RESTART_MANAGER = 4,    /* a VM manager runs it: fencelock never re-runs it; host failure:
				       moved, recover_command (if any) called there; VMM failure:
				       stopped; clean end: unregistered */
	FSM_RESTART_END
};
enum fsm_run { FSM_RUN_STOPPED = 0, FSM_RUN_RUNNING = 1 };
enum fsm_fence_reason {
	FSM_FENCE_PARTITIONED = 1, /* poison pill after P */
	FSM_FENCE_STORAGE = 2,
	FSM_FENCE_OPERATOR = 3,
	FSM_FENCE_REASON_END
};

/* Why a decision was taken: 1..6 are the subject host's state as the
 * leader classified it (the values of enum cls_state, plugin/model/classify.h). */
enum fsm_cause {
	FSM_CAUSE_NONE = 0,
	FSM_CAUSE_UP = 1,
	FSM_CAUSE_PARTITIONED = 2,
	FSM_CAUSE_STORAGE_LOST = 3,
	FSM_CAUSE_DEAD = 4,
	FSM_CAUSE_FENCED = 5,
	FSM_CAUSE_LEFT = 6,
	FSM_CAUSE_OPERATOR,        /* an operator's command */
	FSM_CAUSE_PENDING,         /* a VM waiting for a host (new, cleared, or its start failed) */
	FSM_CAUSE_FLAPPING,        /* fenced too often: quarantine */
	FSM_CAUSE_NO_CANDIDATE,    /* quarantine lifted early: no other host can run the VMs */
	FSM_CAUSE_BACK,            /* a fenced host is back: its fence is cleared */
	FSM_CAUSE_ELECTED,         /* a new leader */
	FSM_CAUSE_VM_EXIT,         /* the VM ended (its run-time reported it) */
	FSM_CAUSE_END
};

/* FSM_CMD_NOTE's kinds. */
enum fsm_note {
	FSM_NOTE_LEADER = 1,       /* the proposer leads this term */
	FSM_NOTE_HOST_STATE = 2,   /* host_id entered state `reason` (an enum fsm_cause 1..6) */
	FSM_NOTE_VOTER = 3,        /* host_id is a Raft voter now */
	FSM_NOTE_END
};

/* Who and when, carried by every command (version 4): the leader fills
 * wall_us and leader as it proposes; by_host is the host that asked (the
 * leader sets it to the sender of a forwarded command); by_uid is the
 * caller's uid (SO_PEERCRED) when an operator asked through the control
 * socket (by_op). cause says why (enum fsm_cause). */
struct fsm_origin {
	uint64_t wall_us;          /* the proposing leader's wall clock, us since the epoch; 0 unknown */
	uint32_t leader;           /* the host that proposed it to Raft */
	uint32_t by_host;          /* the host that asked; 0 unknown */
	bool by_op;                /* an operator asked, as by_uid */
	uint32_t by_uid;
	uint8_t cause;             /* enum fsm_cause */
};

/* The event history: a ring of the last FSM_EVENTS_MAX events. Its encoded
 * size must stay a small part of a snapshot (the Raft transport carries at
 * most 16 MiB per frame; the default limits' snapshot is about 5 MiB). */
#define FSM_EVENTS_MAX 1024u
#define FSM_EVENT_MAX_BYTES (8u * 5u + 4u * 5u + 4u + 2u + FSM_UID_MAX)
#define FSM_EVENTS_MAX_BYTES (8u + 4u + FSM_EVENTS_MAX * FSM_EVENT_MAX_BYTES)
_Static_assert(FSM_EVENTS_MAX_BYTES <= (1u << 20), "the event ring must stay under 1 MiB of a snapshot");

enum fsm_ev_kind {
	FSM_EV_LEADER = 1,         /* host_id leads term */
	FSM_EV_HOST_STATE,         /* host_id entered state (enum fsm_cause 1..6) */
	FSM_EV_HOST_ADD,           /* host_id joined (state: its role) */
	FSM_EV_HOST_REMOVE,        /* host_id LEFT */
	FSM_EV_HOST_VOTER,         /* host_id became a Raft voter */
	FSM_EV_FENCE_REQUEST,      /* host_id, state: enum fsm_fence_reason, value: the request's index */
	FSM_EV_FENCE_ACK,          /* host_id answered FENCED */
	FSM_EV_FENCE_CLEAR,        /* host_id's fence cleared */
	FSM_EV_QUARANTINE,         /* host_id quarantined until value (cluster time) */
	FSM_EV_QUARANTINE_CLEAR,
	FSM_EV_VM_REGISTER,        /* uid */
	FSM_EV_VM_UNREGISTER,
	FSM_EV_VM_PLACE,           /* uid placed on host_id (from from_host), value: the new incarnation */
	FSM_EV_VM_UNPLACE,         /* uid unplaced (from from_host) */
	FSM_EV_VM_START,           /* uid reported running on host_id */
	FSM_EV_VM_STOP,            /* uid reported stopped on host_id */
	FSM_EV_VM_END,             /* uid ended on host_id; state 1: and unregistered */
	FSM_EV_VM_START_FAILED,    /* host_id gave up starting uid */
	FSM_EV_VM_FAILED,          /* every eligible host failed: FAILED */
	FSM_EV_VM_CLEAR,           /* the operator cleared FAILED */
	FSM_EV_HOST_FORGET,        /* host_id's LEFT record was dropped */
	FSM_EV_KIND_END
};

struct fsm_event {
	uint64_t seq;              /* its number: events ever recorded before it */
	uint64_t index;            /* the Raft entry it came from */
	uint64_t term;
	uint64_t wall_us;          /* the proposer's wall clock (0 unknown: a version 3 command) */
	uint64_t value;            /* kind-dependent (see enum fsm_ev_kind) */
	uint32_t host_id;          /* the host it is about (VMs: the host it is placed or runs on) */
	uint32_t from_host;        /* VM_PLACE / VM_UNPLACE: where it was placed before; 0 none */
	uint32_t leader;           /* the proposer */
	uint32_t by_host;          /* who asked (0 unknown) */
	uint32_t by_uid;           /* with by_op: the operator's uid */
	bool by_op;
	uint8_t kind;              /* enum fsm_ev_kind */
	uint8_t state;             /* kind-dependent */
	uint8_t cause;             /* enum fsm_cause */
	char uid[FSM_UID_MAX + 1]; /* the VM, "" for host events */
};

struct fsm_limits {
	uint32_t max_hosts;        /* 1..FSM_HOST_ID_MAX host records (LEFT ones count) */
	uint32_t max_vms;          /* 1..FSM_VMS_MAX */
	uint32_t max_slots;        /* 1..FSM_SLOTS_MAX volume-lease slots on the device */
	uint32_t spec_max_bytes;   /* 0..FSM_SPEC_MAX */
};

struct fsm_fence {
	bool active;
	bool acked;
	uint8_t reason;
	uint64_t req_index;        /* raft index/term of the committed request */
	uint64_t req_term;
	uint64_t req_stamp_us;     /* cluster time of the request */
};

struct fsm_host {
	uint32_t host_id;          /* 0 in an unused entry */
	uint8_t role;
	uint8_t state;
	char name[FSM_NAME_MAX + 1];
	char addr[FSM_ADDR_MAX + 1];
	struct fsm_fence fence;
	uint32_t fence_total;      /* fence requests ever; also the ring's write position */
	uint64_t fence_stamps_us[FSM_FENCE_HISTORY];
	uint64_t quarantine_until_us; /* cluster time; 0 = not quarantined */
	uint8_t noted_state;       /* the last FSM_NOTE_HOST_STATE (enum fsm_cause 1..6), 0 none */
	bool noted_voter;          /* FSM_NOTE_VOTER seen */
};

struct fsm_volume {
	char id[FSM_VOLID_MAX + 1]; /* identity: what conflicts and leases are about */
	char path[FSM_PATH_MAX + 1]; /* the path host path_host registered it by */
	bool ro;
	uint32_t slot;             /* FSM_SLOT_NONE until SLOT_ALLOC */
};

struct fsm_vm {
	bool used;
	char uid[FSM_UID_MAX + 1];
	uint8_t restart;
	uint8_t run_state;         /* as reported by run_host for this incarnation */
	uint8_t nvol;
	struct fsm_volume vol[FSM_VOLS_MAX];
	uint32_t desired_host;     /* 0 = unplaced */
	uint32_t run_host;         /* 0 unless reported running */
	uint64_t incarnation;      /* bumped by every successful VM_PLACE */
	uint64_t ptol_us;          /* partition tolerance override; 0 = cluster P */
	uint32_t owner_uid;        /* who registered it (the registering host's SO_PEERCRED): */
	uint32_t owner_gid;        /* a re-run of its spec runs as them, never as more */
	uint32_t path_host;        /* the host whose paths vol[].path are (0: unknown) */
	bool pending;              /* unplaced but to be placed again (start failed, cleared) */
	bool failed;               /* FAILED: every eligible host failed to start it */
	uint8_t nfailed;           /* hosts in failed_on */
	uint32_t failed_on[FSM_FAILED_MAX]; /* hosts that gave up starting it, since it last ran */
	uint32_t spec_len;
	uint32_t spec_chunk;       /* its first chunk in the FSM's spec pool (fsm_vm_spec()) */
	uint32_t charge;           /* bytes charged against the snapshot bound (FSM_SNAP_MAX_BYTES) */
};

struct fsm_slot {
	uint32_t vm_plus1;         /* VM index + 1; 0 = free */
	uint8_t vol;
};

struct fsm_counters {
	uint64_t applied;
	uint64_t rejected;
	uint64_t placements;
	uint64_t fences;
};

/* Lookup indexes, rebuilt from the tables (never replicated): uid -> VM,
 * volume identity -> (VM, volume), both hash chains of table indexes + 1;
 * and the spec pool's chunk chains. */
struct fsm_index {
	uint32_t uid_mask;         /* buckets - 1 (a power of two) */
	uint32_t *uid_head;        /* [buckets] first VM index + 1 */
	uint32_t *uid_next;        /* [max_vms] */
	uint32_t vol_mask;
	uint32_t *vol_head;        /* [buckets] first (VM index * FSM_VOLS_MAX + volume) + 1 */
	uint32_t *vol_next;        /* [max_vms * FSM_VOLS_MAX] */
	uint32_t n_chunks;
	uint8_t *chunks;           /* [n_chunks * FSM_SPEC_CHUNK] */
	uint32_t *chunk_next;      /* [n_chunks] next chunk of the same spec, or the free list */
	uint32_t free_head;
	uint32_t free_n;
	uint32_t vm_lo;            /* every VM entry below this is used */
	uint32_t vm_hw;            /* every entry used since the FSM was made is below this (kept by a restore) */
	uint32_t n_vms;            /* VMs registered */
};

struct fsm {
	struct fsm_limits lim;
	struct fsm_host *hosts;
	struct fsm_vm *vms;
	struct fsm_slot *slots;
	struct fsm_index ix;
	uint64_t charged;          /* sum of the VMs' charge */
	uint64_t charge_max;       /* what VMs may be charged: FSM_SNAP_MAX_BYTES less hosts, events */
	uint64_t last_index;
	uint64_t last_term;
	uint64_t clock_us;         /* cluster time: max stamp applied */
	struct fsm_counters ctr;
	struct fsm_event *ev;      /* the event ring, FSM_EVENTS_MAX entries */
	uint64_t ev_total;         /* events ever recorded: the next one's seq */
};

struct fsm_cmd_volume {
	char id[FSM_VOLID_MAX + 1];
	char path[FSM_PATH_MAX + 1];
	bool ro;
};

/* A decoded command: one flat struct, the fields used depend on type (see
 * enum fsm_cmd_type). Strings are NUL-terminated copies; spec points into the
 * encoded buffer it was decoded from (or the caller's bytes when encoding). */
struct fsm_cmd {
	uint16_t type;
	uint64_t stamp_us;
	uint32_t host_id;
	uint8_t role;
	uint8_t restart;
	uint8_t running;
	uint8_t reason;
	uint8_t flag;
	uint8_t nvol;
	char name[FSM_NAME_MAX + 1];
	char addr[FSM_ADDR_MAX + 1];
	char uid[FSM_UID_MAX + 1];
	char volid[FSM_VOLID_MAX + 1];
	struct fsm_cmd_volume vol[FSM_VOLS_MAX];
	uint64_t ptol_us;
	uint64_t incarnation;
	uint64_t fence_index;
	uint64_t until_us;
	uint32_t slot;
	uint32_t owner_uid, owner_gid; /* vm-register: the registering caller */
	uint32_t spec_len;
	const uint8_t *spec;
	struct fsm_origin origin;      /* version 4; decoding a version 3 command leaves it zero */
};

/* Fills *l with the defaults (64 hosts, FSM_VMS_DEFAULT VMs, 1024 slots, 16 KiB specs). */
void fsm_limits_default(struct fsm_limits *l);

/* Allocates every table for limits *l (all allocation happens here) and
 * leaves an empty state. Returns 0, -FL_EINVAL for limits out of range, or
 * -FL_ENOMEM. */
FL_MUST_CHECK int fsm_init(struct fsm *f, const struct fsm_limits *l);
/* Frees what fsm_init() allocated; f may be zeroed or already freed. */
void fsm_free(struct fsm *f);
/* Empties the state (as after fsm_init) without reallocating. */
void fsm_reset(struct fsm *f);

/* Encodes c into buf[0..cap): header (magic, version, type, body length,
 * CRC-32C, stamp) and a little-endian body. Sets *len. Returns 0, or
 * -FL_EINVAL if a field does not fit its bound (string too long, unknown
 * type, spec over FSM_SPEC_MAX), -FL_ENOSPC if cap is too small. */
FL_MUST_CHECK int fsm_cmd_encode(const struct fsm_cmd *c, uint8_t *buf, size_t cap, size_t *len);
/* Decodes and checks buf[0..len) into *c: magic (-FL_EMAGIC), version
 * (-FL_EVERSION), lengths, CRC (-FL_ECHECKSUM), every field's bound and no
 * trailing bytes (-FL_EINVAL). Never reads outside buf. c->spec points into
 * buf. */
FL_MUST_CHECK int fsm_cmd_decode(const uint8_t *buf, size_t len, struct fsm_cmd *c);

/* Applies the committed entry (index, term) holding buf[0..len). index must
 * be greater than the last one applied. Returns 0 when applied, or the
 * negative code of the deterministic rejection: malformed (as decode),
 * -FL_EINVAL (bad field value), -FL_ENOENT (no such host / VM / slot),
 * -FL_EBUSY (exists, in use, or running), -FL_ESTALE (incarnation or fence
 * index mismatch), -FL_ENOSPC (table full), -FL_EPERM (quarantined or LEFT
 * target). Either way the entry is consumed: last_index advances and the
 * applied/rejected counters count it. */
FL_MUST_CHECK int fsm_apply(struct fsm *f, uint64_t index, uint64_t term, const uint8_t *buf, size_t len);
/* As fsm_apply() for an already decoded command: c must satisfy what
 * fsm_cmd_decode() checks (strings terminated within their arrays, nvol and
 * spec within bounds; asserted). Commands built in memory and never encoded
 * skip decode's character checks, so replicated commands always go through
 * fsm_apply(). */
FL_MUST_CHECK int fsm_apply_cmd(struct fsm *f, uint64_t index, uint64_t term, const struct fsm_cmd *c);

/* Bytes fsm_snapshot() needs for the current state. */
size_t fsm_snapshot_size(const struct fsm *f);
/* Serialises the whole state, in table order, to buf[0..cap); sets *len.
 * Two FSMs with equal state give byte-identical snapshots. Returns 0 or
 * -FL_ENOSPC. */
FL_MUST_CHECK int fsm_snapshot(const struct fsm *f, uint8_t *buf, size_t cap, size_t *len);
/* Replaces the state with the snapshot in buf[0..len). Magic, version,
 * length and CRC are checked before anything changes (-FL_EMAGIC,
 * -FL_EVERSION, -FL_EINVAL, -FL_ECHECKSUM; -FL_EFOREIGN for other limits):
 * the state is then untouched. A snapshot that passes its CRC but is
 * inconsistent (-FL_ECORRUPT) leaves the state empty, never half-restored. */
FL_MUST_CHECK int fsm_restore(struct fsm *f, const uint8_t *buf, size_t len);
/* Checks the cross-table invariants (unique ids and uids, slot table and
 * volumes agree, placements name known hosts). Returns 0 or -FL_ECORRUPT. */
FL_MUST_CHECK int fsm_check(const struct fsm *f);

/* "always", "never", "on-failure", "manager"; "?" for anything else. */
const char *fsm_restart_name(uint8_t restart);

/* "dead", "operator", ...; "?" for anything else ("" for FSM_CAUSE_NONE). */
const char *fsm_cause_name(uint8_t cause);
/* "vm-placed", "fence-requested", ...; "?" for anything else. */
const char *fsm_ev_kind_name(uint8_t kind);

/* "vm-place", ... for logs; "?" for an unknown type. */
const char *fsm_cmd_type_name(uint16_t type);

/* ---- queries ---- */
/* Cluster time: the largest stamp applied so far (never decreases). A new
 * leader stamps its commands with this value at its election plus its own
 * monotonic time elapsed since. */
static inline uint64_t fsm_clock_us(const struct fsm *f) { return f->clock_us; }
/* The host with this id, or NULL. */
const struct fsm_host *fsm_host_find(const struct fsm *f, uint32_t host_id);
/* Host table entry i < lim.max_hosts, or NULL if unused. */
const struct fsm_host *fsm_host_at(const struct fsm *f, uint32_t i);
/* Writes the ids of JOINED hosts (table order) into ids[0..cap); returns the
 * number of such hosts (may exceed cap: only cap are written). */
uint32_t fsm_hosts_joined(const struct fsm *f, uint32_t *ids, uint32_t cap);
/* The VM with this uid, or NULL; its table index in *idx if idx != NULL. */
const struct fsm_vm *fsm_vm_find(const struct fsm *f, const char *uid, uint32_t *idx);
/* VM table entry i < lim.max_vms, or NULL if unused. */
const struct fsm_vm *fsm_vm_at(const struct fsm *f, uint32_t i);
/* Volume-lease slots not taken. */
uint32_t fsm_slots_free(const struct fsm *f);
/* VMs registered. */
uint32_t fsm_vm_count(const struct fsm *f);
/* A bound for scans of the VM table: every entry used since the FSM was
 * made, a restore included, is below it (derived, never replicated). */
uint32_t fsm_vm_scan_end(const struct fsm *f);
/* Copies vm's spec (vm->spec_len bytes, cap >= that) out of the pool into buf. */
void fsm_vm_spec(const struct fsm *f, const struct fsm_vm *vm, uint8_t *buf, size_t cap);
/* True if vm's spec is exactly spec[0..len). */
bool fsm_vm_spec_equal(const struct fsm *f, const struct fsm_vm *vm, const uint8_t *spec, uint32_t len);
/* Bytes fsm_init() allocates for limits *l (the tables, indexes and spec
 * pool), and the part of it that grows with max_vms, per VM. */
size_t fsm_mem_bytes(const struct fsm_limits *l);
size_t fsm_mem_per_vm(void);
/* Writes the table indexes of the VMs whose desired host is host_id into
 * idx[0..cap); returns how many there are (may exceed cap). */
uint32_t fsm_vms_on_host(const struct fsm *f, uint32_t host_id, uint32_t *idx, uint32_t cap);
/* The lease slot of the volume with identity volid of VM uid in *slot: 0,
 * or -FL_ENOENT (no such VM or volume, or no slot yet). */
FL_MUST_CHECK int fsm_volume_slot(const struct fsm *f, const char *uid, const char *volid, uint32_t *slot);
/* True if host_id is in vm's failed_on list. */
bool fsm_vm_failed_on(const struct fsm_vm *vm, uint32_t host_id);
/* True if vm is "active": placed on a host or running. Only active VMs
 * hold their volumes: a stopped VM never blocks another one. */
bool fsm_vm_active(const struct fsm_vm *vm);
/* The active VM other than except_idx whose volume conflicts with volume
 * (id, ro) (the same identity, not both read-only), or NULL. */
const struct fsm_vm *fsm_volume_holder(const struct fsm *f, const char *id, bool ro, uint32_t except_idx);
/* Events held: min(ev_total, FSM_EVENTS_MAX); the oldest is seq
 * ev_total - held. */
uint32_t fsm_events_held(const struct fsm *f);
/* The event numbered seq, or NULL if it is not held (too old, or not yet). */
const struct fsm_event *fsm_event_get(const struct fsm *f, uint64_t seq);
/* True if host_id is quarantined at cluster time now_us. */
bool fsm_host_quarantined(const struct fsm *f, uint32_t host_id, uint64_t now_us);
/* Fence requests against host_id stamped at or after since_us (cluster
 * time), counting at most the last FSM_FENCE_HISTORY. */
uint32_t fsm_host_fences_since(const struct fsm *f, uint32_t host_id, uint64_t since_us);

#endif
