/* The arbiter: one per host, it fuses the network channel (Raft) and the disk
 * channel (delta lease, volume leases, mailboxes) and decides.
 *
 * It is a state machine on the host's fl_loop, driving that host's lockspace
 * (disklock/lockspace.h), its Raft node (raft/node.h) carrying the replicated
 * state (plugin/model/fsm.h), its volume leases (disklock/paxos.h) and its mailbox
 * (disklock/mailbox.h). The same code runs in the deterministic simulator
 * (tests/sim) and in fencelockd; everything host-specific comes in through
 * struct arb_config: the loop, the shared device, the Raft log store, a
 * transport, and the VM runtime (struct arb_vm_ops).
 *
 * What it does (docs/design.md, "The arbiter", has the decision table):
 *   - renews the host's delta lease; after every good renewal it moves the
 *     guard deadline of the host's VMs to (start of that renewal) + F, so a
 *     hung, paused or dead daemon cannot keep a VM running past F + K;
 *   - quorum: quorate while it is the leader with a valid leader lease, or a
 *     follower that heard from the leader within the election timeout; a
 *     non-quorate host acquires no lease and starts no VM;
 *   - self-fence: not quorate for longer than P (per VM: its own P) -> kill
 *     those VMs, release their leases, write FENCED in its mailbox; lease not
 *     renewed by F -> kill every VM at once, whatever Raft says;
 *   - obeys fence requests found in its mailbox on every renewal, and writes
 *     the FENCED acknowledgement only once its VMs are dead and their leases
 *     released (an early ack would let the leader take over a live writer);
 *   - reconciles: starts the VMs placed on it (after acquiring their volume
 *     leases; a lease held by a live host is never bypassed), stops those
 *     placed elsewhere, never restarts a VM moved away;
 *   - as leader, classifies every host, poison-pills hosts PARTITIONED past P,
 *     commits new placements for the VMs of DEAD / FENCED / STORAGE_LOST-past-D
 *     hosts, clears fences of hosts that came back, and quarantines hosts that
 *     flap. */
#ifndef FL_PLUGIN_ARBITER_H
#define FL_PLUGIN_ARBITER_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/loop.h"
#include "disklock/bdev.h"
#include "disklock/layout.h"
#include "plugin/model/classify.h"
#include "plugin/model/fsm.h"
#include "plugin/model/placement.h"
#include "raft/logstore.h"
#include "raft/raft.h"
#include "raft/transport.h"

struct arb;

/* How the arbiter runs VMs on its host. The simulator models these; the
 * daemon runs `fencelock exec` guards. Calls never block. */
struct arb_vm_ops {
	/* Start VM vm_idx (its volume leases are held). 0, -FL_ECANCELED
	 * when the runtime will not run this incarnation (not a failure: the
	 * leases are released and it is not tried again), or another -FL_E
	 * code: a start failure (released, retried with backoff, given up
	 * after start_fail_max). */
	int (*start)(void *ctx, uint32_t vm_idx, const struct fsm_vm *vm, uint64_t incarnation);
	/* Kill it: must be dead by deadline_us (loop clock); report with
	 * arb_vm_exited() once it is, after flushing its volumes. */
	void (*kill)(void *ctx, uint32_t vm_idx, uint64_t incarnation, uint64_t deadline_us);
	/* Every VM of this host must die by deadline_us + grace_us on its own,
	 * unless the deadline is moved again (the per-VM guard). */
	void (*guard)(void *ctx, uint64_t deadline_us, uint64_t grace_us);
	void *ctx;
};

/* [host] max_vms travels to the leader in the upper 16 bits of the host's
 * view's flags (docs/design.md, "Placement and flap damping"). */
#define ARB_MAX_VMS_CAP 0xFFFFu

struct arb_config {
	uint64_t host_id;                 /* 1..layout.max_hosts */
	char host_name[FL_NAME_LEN + 1];
	/* VMs this host runs at most ([host] max_vms), 0..ARB_MAX_VMS_CAP,
	 * 0 = no limit: the leader places no more here. */
	uint32_t max_vms;
	struct fl_loop *loop;
	struct fl_bdev *bdev;             /* the shared device (its loop is `loop`) */
	struct lay_layout layout;         /* read from the device */
	uint64_t p_us;                    /* partition tolerance P */
	uint64_t seed;
	struct raft_options raft;         /* timings; id must equal host_id */
	struct raft_logstore *store;      /* opened, not loaded; owned from now on */
	struct raft_transport *transport; /* raw: the arbiter multiplexes it */
	const struct raft_config *bootstrap; /* NULL to join an existing cluster */
	/* Optional: peer_addrs[id] is host id's network address ("IP:port"),
	 * recorded in the FSM's membership; NULL entries are "unknown". */
	const char *const *peer_addrs;
	uint32_t n_peer_addrs;            /* entries in peer_addrs (ids 0..n-1) */
	struct fsm_limits limits;
	struct plc_params plc;
	struct arb_vm_ops vm;
	uint64_t tick_us;                 /* 0: R / 4 */
	/* Host voters the leader keeps in the Raft configuration: 0 for
	 * ARB_VOTERS_DEFAULT, else 3, 5 or 7 (ARB_VOTERS_MAX). Every other
	 * host is a learner: it gets the log, runs VMs, and never counts
	 * towards a majority. Must be the same on every host. */
	uint32_t voters;
	/* Recovery contract: a VM that fails to start here is retried after
	 * R, 2R, 4R, ... (at most start_backoff_max_us); after start_fail_max
	 * failures in a row this host gives up on it (VM_START_FAILED) and the
	 * leader places it elsewhere, or marks it FAILED once every eligible
	 * host gave up. */
	uint32_t start_fail_max;          /* 0: 3 */
	uint64_t start_backoff_max_us;    /* 0: 8 R */
	uint64_t snapshot_every;          /* applied entries between snapshots; 0: 1024 */
	/* Optional: sees every committed entry as it is applied (the
	 * simulator's checks of Raft's state-machine safety). */
	void (*applied)(void *ctx, uint64_t host_id, const struct raft_entry *e);
	void *applied_ctx;
	/* Optional: the wall clock (us since the epoch) the leader writes into
	 * each command it proposes, for the event history's times only; never
	 * compared with anything. NULL: 0 ("unknown"). */
	uint64_t (*wall_us)(void *ctx);
	void *wall_ctx;
	/* Optional: an operator's request (reply false) or its answer (reply
	 * true) that host `from` sent with arb_send_op(), as opaque bytes; called
	 * on the loop, only for a sender of the current Raft configuration that
	 * the FSM records as a member (plugin/daemon/opfwd.c reads them). */
	void (*op_msg)(void *ctx, uint64_t from, bool reply, const uint8_t *buf, uint32_t len);
	void *op_ctx;
	/* The cluster protocol versions this host speaks, announced to every
	 * peer (plugin/arbiter/arb_proto.c); 0: ARB_PROTO_MIN and ARB_PROTO_CURRENT (a test may
	 * announce others). version: the software version shown to the peers
	 * (NULL: fl_build_version()). */
	uint16_t proto_min, proto_max;
	const char *version;
	/* Optional: a member said host id listens at addr ("IP:port", the
	 * join handshake of plugin/arbiter/arb_join.c): the driver points its
	 * transport there. */
	void (*peer_learned)(void *ctx, uint32_t id, const char *addr);
	void *peer_learned_ctx;
	/* This host lost its Raft state (started with nothing, bootstrap NULL):
	 * ask the leader to take it back as a fresh member (fencelockd --rejoin). */
	bool rejoin;
};

/* Fills defaults for everything but the host- and device-specific fields:
 * Raft timings from T (election timeout T, heartbeat T / 10), FSM limits,
 * placement parameters. */
void arb_config_defaults(struct arb_config *c, uint64_t host_id, uint64_t p_us);

/* Raft's election timeout E and heartbeat interval for T = io_timeout_us:
 * E = T and heartbeat E / 10, but E never below ARB_RAFT_ELECTION_MIN_US
 * (the leader lease, E less the drift allowance and Raft's 50 ms margin,
 * must stay well above a loaded loop's scheduling delay) and the heartbeat
 * never below ARB_RAFT_HEARTBEAT_MIN_US (a few loop ticks). At T = 1 s: 1 s
 * and 100 ms, as before T had milliseconds. */
#define ARB_RAFT_ELECTION_MIN_US 250000u
#define ARB_RAFT_HEARTBEAT_MIN_US 20000u
void arb_raft_timing(struct arb_config *c, uint64_t io_timeout_us);

/* Creates the arbiter (nothing runs until arb_start). -FL_EINVAL for an
 * inconsistent configuration, -FL_ENOMEM. The store is owned from now on. */
FL_MUST_CHECK int arb_new(const struct arb_config *cfg, struct arb **out);
/* Starts: acquires the delta lease and starts the Raft node. */
FL_MUST_CHECK int arb_start(struct arb *a);
/* Stops everything at once, as a crash would: nothing is written. */
void arb_free(struct arb *a);

/* Memory an arbiter holds, for accounting (the simulator checks it levels
 * off under VM churn; docs/operations.md states the bounds). The FSM tables
 * and the per-VM arrays are fixed at arb_new by the limits; what varies is
 * the Raft log in memory (at most snapshot_every + snapshot_trailing
 * entries) and the snapshot copy. The disk voter's node and FSM replica
 * count while this host serves it. */
struct arb_mem {
	uint64_t fsm_table_bytes;   /* FSM tables (and the voter's replica) */
	uint32_t fsm_vms;           /* VMs registered in the FSM */
	uint32_t fsm_hosts;         /* host records in the FSM (LEFT ones count) */
	uint64_t raft_entries;      /* Raft log entries in memory (with the voter's) */
	uint64_t raft_bytes;        /* their data, the log arrays and the snapshot copies */
	uint64_t arb_table_bytes;   /* the arbiter and its per-VM arrays (fixed) */
	uint64_t arb_buf_bytes;     /* its transmit buffer and queued voter messages */
	uint64_t variable;          /* raft_bytes + arb_buf_bytes: what churn could grow */
	uint64_t total;             /* the sum of the byte counts above (variable once) */
};
void arb_mem_usage(const struct arb *a, struct arb_mem *out);

/* A payload that arrived from host `from` on the transport. */
void arb_receive(struct arb *a, uint64_t from, const uint8_t *payload, uint32_t len);
/* The VM runtime reports that VM vm_idx (incarnation) is dead. */
void arb_vm_exited(struct arb *a, uint32_t vm_idx, uint64_t incarnation);
/* As arb_vm_exited(), for a VM that ended for good under its policy (the
 * runtime proposed VM_END): this incarnation is never started again here,
 * even before VM_END is applied. */
void arb_vm_ended(struct arb *a, uint32_t vm_idx, uint64_t incarnation);
/* The VM runtime reports that starting VM vm_idx (incarnation) failed after
 * start() had returned 0 (the command it ran died before the VM asked for
 * its leases): counted as a start failure (backoff, then give up). */
void arb_vm_start_failed(struct arb *a, uint32_t vm_idx, uint64_t incarnation);

/* Submits an FSM command: proposed here if leader, else forwarded to the
 * leader (fire and forget: the outcome shows in the FSM once applied).
 * -FL_ENOTLEADER when no leader is known. */
FL_MUST_CHECK int arb_submit(struct arb *a, const struct fsm_cmd *c);

/* Sends host `to` an operator's request (reply false) or an answer (reply
 * true): opaque bytes (at most ARB_OP_MSG_MAX) for its op_msg callback, over
 * the authenticated transport. Fire and forget: the sender keeps its own
 * deadline. */
#define ARB_OP_MSG_MAX 4096u
FL_MUST_CHECK int arb_send_op(struct arb *a, uint64_t to, bool reply, const uint8_t *buf, uint32_t len);

/* ---- cluster protocol versions (plugin/arbiter/arb_proto.c) ----
 * Every host announces, over the authenticated channel, the range of
 * cluster protocol versions it speaks and its software version ('P'
 * messages, about once a second to each peer of the configuration). Two
 * hosts speak the highest version both know; a peer whose range does not
 * meet this host's is refused: its messages are dropped (it looks
 * partitioned) and a warning says why. A peer that announces nothing is a
 * fencelock from before announcements: protocol ARB_PROTO_LEGACY.
 *   2  the protocol of fencelock up to the announcements
 *   3  announcements ('P'), and operator commands a follower forwards to
 *      the leader ('O' requests and answers)
 * This build speaks 3 only: its replicated state (VM table of 10,240 entries,
 * new commands) is not what a protocol-2 build applies, so a cluster cannot
 * mix them; hosts from before announcements are refused once the grace
 * period passes, and the upgrade from them stops the whole cluster. */
#define ARB_PROTO_LEGACY 2u
#define ARB_PROTO_MIN 3u
#define ARB_PROTO_CURRENT 3u
#define ARB_PROTO_OPFWD 3u     /* the first version that takes forwarded operator commands */
#define ARB_VERSION_MAX 31u

struct arb_peer_proto {
	bool announced;          /* it announced its versions (else: protocol 2, or not heard) */
	bool refused;            /* no version in common: its messages are dropped */
	uint16_t min, max;       /* what it announced */
	uint16_t used;           /* the version spoken with it (0: refused or not heard) */
	char version[ARB_VERSION_MAX + 1]; /* its software version ("" unknown) */
};
/* What host `id` announced and the version this host speaks with it. */
void arb_peer_proto(const struct arb *a, uint32_t id, struct arb_peer_proto *out);
/* This host's own range and software version. */
void arb_self_proto(const struct arb *a, uint16_t *min, uint16_t *max, const char **version);

/* Membership (leader only; -FL_ENOTLEADER elsewhere). Adding records the
 * host in the FSM (name, address), then adds it to Raft as a learner; the
 * leader promotes it to voter once it has caught up (thesis §4.2.1) if the
 * cluster has fewer host voters than cfg.voters. Removing is refused with
 * -FL_EBUSY while VMs are placed on the host: move them first (a dead host's
 * VMs move by themselves). The leader keeps the voter set at cfg.voters
 * hosts (fewer while there are fewer hosts), one change at a time: a voter
 * that failed (DEAD, FENCED, storage lost past D, LEFT) is demoted to
 * learner when a healthy learner can take its place, which is promoted next.
 * The disk voter follows: the leader keeps it a voter exactly while the
 * number of host voters is even. */
FL_MUST_CHECK int arb_host_add(struct arb *a, uint32_t host_id, const char *name, const char *addr);
FL_MUST_CHECK int arb_host_remove(struct arb *a, uint32_t host_id);

/* The operator's commands (arb_ops.c; leader only, -FL_ENOTLEADER
 * elsewhere). A fence is an FSM_CMD_FENCE_REQUEST with reason
 * FSM_FENCE_OPERATOR, proposed like any command: the leader then writes it
 * into the host's mailbox and never clears it by itself. Unfencing writes
 * CLEAR into the host's mailbox and proposes the FENCE_CLEAR (origin o).
 * A transfer goes to target, or (0) to the host voter heard from most
 * recently with a valid delta lease (*chosen); -FL_ENOENT when there is
 * none, -FL_EINVAL when target is not another host voter. */
FL_MUST_CHECK int arb_host_unfence(struct arb *a, uint32_t host_id, const struct fsm_origin *o);
FL_MUST_CHECK int arb_leader_transfer(struct arb *a, uint32_t target, uint32_t *chosen);
/* The host serving the disk voter as this host last heard within H (this
 * host's id while it serves it), 0 if none. */
uint32_t arb_witness_holder(const struct arb *a);

/* Clean stop, when no VM runs here: stops the tick (nothing is started or
 * re-acquired any more) and releases the delta lease (timestamp 0: the
 * others see this host leave at once). The caller drives the loop until
 * arb_released() or its own deadline, then frees the arbiter. -FL_EBUSY while
 * a VM runs or is being started or stopped, -FL_ENOENT if no lease is held. */
FL_MUST_CHECK int arb_release(struct arb *a);
bool arb_released(const struct arb *a);

/* ---- status ---- */
struct arb_host_view {
	uint32_t host_id;
	uint8_t state;        /* enum cls_state */
	uint64_t since_us;
};

struct arb_status {
	bool quorate;
	bool lease_valid;
	bool fenced;              /* self-fenced or obeying a fence request */
	uint64_t leader, term, commit;
	uint64_t leader_commit;   /* the highest commit index a leader announced (raft_leader_commit) */
	uint64_t valid_until_us;
	uint32_t vms_running;
	uint64_t fences, takeovers, pills;
	uint32_t unaccounted;     /* volume leases naming us for VMs placed elsewhere (start-up audit) */
	uint64_t renewals, renewal_failures;
	uint64_t renew_latency_us;      /* the last good renewal, start to completion */
	uint64_t renew_latency_max_us;
	uint64_t fences_quorum, fences_pill, fences_storage; /* self-fences by reason */
	uint64_t rejected_forward;  /* forwarded commands a peer may not ask (refused) */
	uint64_t rejected_witness;  /* disk-voter messages not from its holder (refused) */
	uint64_t start_failures;  /* starts that failed here */
	uint64_t start_give_ups;  /* VMs this host gave up starting (moved on) */
	bool audited;             /* the start-up audit has run */
	bool header_foreign;      /* the device header no longer shows our cluster: nothing is written */
	uint64_t header_checks;   /* device header re-reads done */
	uint32_t witness_holder;  /* the host serving the disk voter, as last heard (0: none known) */
	bool witness_held;        /* this host holds the witness lease */
	bool host_id_taken;       /* another live host renews our host_id: a duplicate [host] id */
	/* A snapshot of the replicated state this build cannot restore (tables
	 * of another size, or corrupt): nothing is applied or decided here any
	 * more; the host must stop. Its index and fsm_restore()'s error. */
	bool snapshot_refused;
	uint64_t snapshot_refused_index;
	int snapshot_refused_rv;
	uint8_t member;           /* enum arb_member: this host's own membership */
	bool removed;             /* this host was removed from the cluster (told, or applied) */
	uint32_t removed_by;      /* the leader that told us (0: we applied it ourselves) */
	/* Leader: VMs the last placement round found no host with room for
	 * (every candidate at its max_vms); they wait. 0 on a follower. */
	uint32_t vms_waiting;
};

/* What this host is in its own view (arb_status's member). */
enum arb_member {
	ARB_MEMBER_JOINING = 0,  /* its configuration or replicated state does not name it yet */
	ARB_MEMBER_LEARNER = 1,  /* receives the log, does not vote (catching up) */
	ARB_MEMBER_VOTER = 2,
	ARB_MEMBER_REMOVED = 3,
};
const char *arb_member_name(uint8_t member);

void arb_status(const struct arb *a, struct arb_status *out);
/* Classification of host_id as this arbiter last saw it (leader's view is
 * authoritative; followers keep their own). */
bool arb_host_view(const struct arb *a, uint32_t host_id, struct arb_host_view *out);
/* host_id's [host] max_vms: ours from the configuration, another host's
 * from its last view; 0 when it has none or we have not heard it. */
uint32_t arb_host_max_vms(const struct arb *a, uint32_t host_id);
const struct fsm *arb_fsm(const struct arb *a);
/* The disk voter's Raft node while this host serves it, else NULL. */
struct raft_node *arb_witness_raft(const struct arb *a);
/* The disk voter's Raft id, for bootstrap configurations (a voter iff the
 * number of host voters is even). */
#define FL_WITNESS_RAFT_ID 2000u
/* Hosts a cluster can have: a layout with more max_hosts is refused at start. */
#define ARB_MAX_HOSTS 128u
/* Host voters (arb_config.voters): the default and the largest. A cluster
 * bootstraps with its lowest ARB_VOTERS_MAX host ids as voters (the same
 * configuration on every host whatever its setting); the leader then
 * demotes or promotes hosts to reach cfg.voters. */
#define ARB_VOTERS_DEFAULT 5u
#define ARB_VOTERS_MAX 7u
/* Fills boot with the bootstrap configuration of the hosts ids[0..n-1] (any
 * order): the lowest ARB_VOTERS_MAX ids are voters, the others learners, and
 * the disk voter is a voter iff the number of host voters is even. Returns
 * 0, or -FL_EINVAL for an id outside 1..ARB_MAX_HOSTS, a duplicate, or more
 * than ARB_MAX_HOSTS ids (boot is then empty). */
FL_MUST_CHECK int arb_bootstrap_config(const uint32_t *ids, uint32_t n, struct raft_config *boot);
struct raft_node *arb_raft(const struct arb *a);
bool arb_vm_running(const struct arb *a, uint32_t vm_idx);
/* Lateness of this host's delta-lease renewals (see common/latency.h), or
 * NULL before the lockspace exists. */
const struct fl_lat *arb_renew_lateness(const struct arb *a);
/* Duration of this host's good delta-lease renewals, start to completion. */
const struct fl_lat *arb_renew_latency(const struct arb *a);
/* When host_id was last heard from (arbiter clock), directly or through a
 * peer's view; 0 if never. */
uint64_t arb_host_heard_us(const struct arb *a, uint32_t host_id);

#endif
