/* One message between our own node and the disk voter, both in-process. */
struct arb_wmsg {
	uint64_t from, to;
	uint32_t len;
	uint32_t cap;      /* bytes of data, kept for the slot's next message up to ARB_WQ_KEEP_BYTES */
	uint8_t *data;
};

/* Internal state of the arbiter, shared by arbiter.c (core, quorum, Raft and
 * transport plumbing), arb_vm.c (the local VMs: leases, start, stop,
 * self-fence), arb_leader.c (classification and the leader's decisions) and
 * arb_mailbox.c (asynchronous mailbox work). Not a public header. */
#ifndef FL_PLUGIN_ARB_INTERNAL_H
#define FL_PLUGIN_ARB_INTERNAL_H

#include "common/must_check.h"
#include "common/rand.h"
#include "disklock/lockspace.h"
#include "disklock/mailbox.h"
#include "disklock/paxos.h"
#include "common/latency.h"
#include "plugin/arbiter/arbiter.h"
#include "raft/msg.h"
#include "raft/node.h"

/* ARB_MAX_HOSTS (arbiter.h): hosts a cluster can have (layout max_hosts <= this). */

/* Local VMs acquiring their volume leases at once (one lease operation
 * each): the rest wait their turn, so that a host taking over hundreds of VMs
 * keeps the device's I/O depth (AIO_MAX_DEPTH, shared with the renewals)
 * bounded instead of failing lease operations for want of request slots. */
#define ARB_ACQUIRING_MAX 32u
#define ARB_MB_QUEUE 64u          /* pending mailbox jobs */
#define ARB_MB_MAX_WRITES (1u + ARB_MAX_HOSTS) /* status + one ack per sender */
#define ARB_FWD_MAGIC 'A'         /* payload prefix: arbiter message */
#define ARB_RAFT_MAGIC 'R'        /* payload prefix: Raft message */
#define ARB_VIEW_MAGIC 'V'        /* payload prefix: a host's view (relayed liveness) */
#define ARB_VIEW_QUORATE 0x1u
#define ARB_VIEW_FENCED 0x2u
#define ARB_VIEW_LEASE 0x4u
#define ARB_VIEW_WITNESS 0x8u     /* the sender serves the disk voter */
/* Bits 16..31 of a view's flags: the sender's [host] max_vms (0: no limit).
 * A receiver that predates them tests only its own bits, so they travel
 * without a new message version. */
#define ARB_VIEW_CAP_SHIFT 16u
_Static_assert(ARB_MAX_VMS_CAP == (UINT32_MAX >> ARB_VIEW_CAP_SHIFT), "max_vms fills the view flags' upper bits");
_Static_assert((ARB_VIEW_QUORATE | ARB_VIEW_FENCED | ARB_VIEW_LEASE | ARB_VIEW_WITNESS) < (1u << ARB_VIEW_CAP_SHIFT),
	       "the view's flags stay below its capacity bits");
#define ARB_WITNESS_MAGIC 'W'     /* payload prefix: a message to or from the disk voter */
#define ARB_WITNESS_ID FL_WITNESS_RAFT_ID
#define ARB_OPREQ_MAGIC 'O'       /* payload prefix: an operator's request forwarded to the leader */
#define ARB_OPREP_MAGIC 'o'       /* payload prefix: the leader's answer to one */
#define ARB_PROTO_MAGIC 'P'       /* payload prefix: a host's cluster protocol versions and software version */
#define ARB_PROTO_EVERY_US FL_US_PER_S
#define ARB_PROTO_GRACE_US (3ull * FL_US_PER_S) /* heard this long with no announcement: protocol 2 */
#define ARB_JOIN_MAGIC 'J'        /* payload prefix: join handshake, removal notice (arb_join.c) */
#define ARB_JOIN_HELLO_US (500 * FL_US_PER_MS) /* HELLO and REMOVED, at most this often */
#define ARB_WQ_MAX 256u           /* in-process messages between our node and the disk voter */
#define ARB_WQ_KEEP_BYTES 1024u   /* a queue slot keeps a buffer this small (heartbeats) */
#define ARB_SNAPSHOT_EVERY 1024u  /* applied entries between snapshots (log compaction) */
/* SLOT_ALLOCs the leader proposes per round: a registry of thousands of VMs
 * is given its lease slots a batch at a time, never more than the FSM has
 * free, so the proposals never crowd out the commands of the control socket. */
#define ARB_SLOT_ALLOCS_PER_ROUND 64u

/* Every host can be a Raft member, and an even number of host voters adds the
 * disk voter: the largest cluster plus the disk voter must fit a configuration. */
_Static_assert(ARB_MAX_HOSTS + 1u <= RAFT_MAX_SERVERS, "every host plus the disk voter fit a Raft configuration");
/* The bounded voter set: odd, at least 3, fewer than the hosts; the set
 * plus the disk voter fit a configuration. */
_Static_assert(ARB_VOTERS_DEFAULT >= 3u, "the default voter set has at least 3 hosts");
_Static_assert(ARB_VOTERS_DEFAULT % 2u == 1u, "the default voter set is odd");
_Static_assert(ARB_VOTERS_DEFAULT <= ARB_VOTERS_MAX, "the default voter set is within the largest");
_Static_assert(ARB_VOTERS_MAX % 2u == 1u, "the largest voter set is odd");
_Static_assert(ARB_VOTERS_MAX < ARB_MAX_HOSTS, "a cluster can have more hosts than voters");
_Static_assert(ARB_VOTERS_MAX + 1u <= RAFT_MAX_SERVERS, "the voter set and the disk voter fit");
/* The host table of the largest cluster is a small part of a snapshot, which
 * travels in one Raft message (InstallSnapshot is not chunked). */
_Static_assert((uint64_t)ARB_MAX_HOSTS * FSM_HOST_REC_MAX_BYTES <= RAFT_MSG_MAX_ENTRY_BYTES / 64u,
	       "the host table of the largest cluster is a small part of a snapshot");
/* The disk voter's Raft id is no host's id (hosts are 1..ARB_MAX_HOSTS). */
_Static_assert(ARB_WITNESS_ID > ARB_MAX_HOSTS, "the disk voter's id is not a host id");
_Static_assert(ARB_MAX_HOSTS <= FSM_HOST_ID_MAX, "every host id fits the FSM's range");
/* A mailbox has one slot per host id; our writes per pass are bounded by it. */
_Static_assert(ARB_MAX_HOSTS <= MB_MAX_HOSTS, "a mailbox has room for every host");
/* A replicated command travels as one Raft entry. */
_Static_assert(FSM_CMD_MAX_BYTES <= RAFT_MSG_MAX_ENTRY_BYTES, "the largest FSM command fits one Raft entry");
/* The lockspace observes every host of the largest cluster. */
_Static_assert(ARB_MAX_HOSTS <= LS_MAX_HOSTS, "the lockspace has a record for every host");
/* Every Raft id the arbiter uses, the disk voter's included, is one the
 * lease records can carry (sanlock's host_id range). */
_Static_assert(ARB_WITNESS_ID <= FL_PAXOS_MAX_HOSTS, "the disk voter's id is in the host_id range");
/* A layout formatted with the default host count is one the arbiter runs
 * (it refuses layouts above ARB_MAX_HOSTS at start-up). */
_Static_assert(LAY_DEFAULT_MAX_HOSTS <= ARB_MAX_HOSTS, "the default layout's hosts fit the arbiter");
/* The FSM's default host table (the simulator's) holds the largest cluster. */
_Static_assert(FSM_HOSTS_DEFAULT >= ARB_MAX_HOSTS, "the default FSM host table holds every host");

/* Why a local VM is being stopped. */
enum arb_stop_why {
	ARB_STOP_NONE = 0,
	ARB_STOP_MOVED,      /* placed elsewhere or unregistered */
	ARB_STOP_QUORUM,     /* not quorate for longer than its P */
	ARB_STOP_PILL,       /* a fence request in our mailbox */
	ARB_STOP_STORAGE,    /* our delta lease is no longer valid */
	ARB_STOP_EXITED,     /* it exited on its own */
	ARB_STOP_START_FAILED,
};

enum arb_lvm_state {
	LVM_IDLE = 0,
	LVM_ACQUIRING,       /* acquiring volume leases one by one */
	LVM_RUNNING,
	LVM_KILLING,         /* kill requested, waiting for arb_vm_exited */
	LVM_RELEASING,       /* releasing the leases we hold */
	LVM_ABORTING,        /* acquire failed: releasing what we got */
};

/* Whether from -> to is one of the legal edges of enum arb_lvm_state. */
bool arb_lvm_edge_legal(enum arb_lvm_state from, enum arb_lvm_state to);

/* One VM as this host runs it, by FSM table index. */
struct arb_lvm {
	struct arb *a;
	uint32_t idx;
	uint8_t state;            /* enum arb_lvm_state */
	uint8_t why;              /* enum arb_stop_why of the current stop */
	uint64_t incarnation;     /* being run (valid unless IDLE) */
	uint64_t never_again;     /* an incarnation moved away or fenced: not restarted */
	uint32_t vol_next;
	uint32_t held_mask;       /* bit v: we hold volume v's lease */
	uint64_t retry_at_us;     /* no new attempt before this */
	uint64_t since_us;
	struct vl_op op;
	bool op_busy;
	char res_name[FL_NAME_LEN + 1]; /* the lease op's resource name (it keeps a pointer) */
	uint32_t slot[FSM_VOLS_MAX]; /* the lease slot of volume v, as acquired: released by
				      it even if the VM left the FSM meanwhile (an unregister) */
	char uid[FSM_UID_MAX + 1]; /* the VM this record is about: the FSM reuses table
				      entries, and incarnations of two VMs may coincide */
	uint32_t start_fails;     /* start failures in a row of incarnation fails_inc */
	uint64_t fails_inc;
	uint64_t gave_up_inc;     /* incarnation we gave up on (VM_START_FAILED proposed) */
	uint64_t gave_up_us;      /* when that proposal was last sent */
};

enum arb_mb_job_kind { MBJ_OWN = 1, MBJ_SEND, MBJ_READ };

struct arb_mb_job {
	uint8_t kind;
	uint8_t req;              /* MBJ_SEND: enum mb_kind */
	uint64_t host;            /* MBJ_SEND / MBJ_READ: the mailbox's owner */
};

/* What this host last read in another host's mailbox. */
struct arb_mb_seen {
	bool valid;
	uint32_t status;          /* enum mb_kind of its status sector */
	uint64_t status_seq;
	uint64_t cleared_seq;     /* status seq when we cleared its fence: older FENCED is stale */
	uint64_t our_req_seq;     /* our request sector's sequence there */
	uint32_t our_req_kind;
	uint64_t ack_seq;         /* its ack to us */
	uint32_t ack_kind;
	uint64_t read_us;
};

/* State only the leader's duties read (arb_leader.c), like the per-role
 * union of a Raft server: it means something only while this host leads, and
 * arb_leader_became() resets all of it when this host becomes leader, so a
 * past term's rate limits and clock origin never leak into the next one. */
struct arb_leader_state {
	uint64_t ct_base_us, ct_local_us; /* cluster time origin of our leadership */
	uint64_t proposed_us[ARB_MAX_HOSTS + 1]; /* fence proposals in flight, per host */
	uint64_t *place_proposed_inc;  /* per VM: incarnation a pending VM_PLACE saw */
	uint64_t *place_proposed_us;   /* per VM: when we proposed it */
	uint64_t slot_proposed_us;
	uint64_t member_us;           /* last membership change we proposed */
	uint64_t hosts_proposed_us;
	uint64_t rename_us;             /* last HOST_RENAME of a placeholder name proposed */
	uint64_t transfer_us;         /* last leadership hand-off attempt */
	bool leader_noted;            /* our FSM_NOTE_LEADER is proposed */
	uint32_t vms_waiting;         /* the last plan's VMs with no host that has room */
	uint64_t waiting_noted_us;    /* when we last logged them */
	uint64_t note_us[ARB_MAX_HOSTS + 1]; /* last FSM_NOTE about each host proposed */
};

/* The mailbox engine (arb_mailbox.c): one job at a time, read then write. */
struct arb_mb_engine {
	struct mb_geom geom;
	struct arb_mb_job q[ARB_MB_QUEUE];
	uint32_t q_head, q_len;
	bool busy;
	struct arb_mb_job cur;
	struct fl_io io;
	uint8_t *buf;                 /* one whole mailbox */
	uint8_t *sec;                 /* one sector to write */
	struct mb_box *box;
	uint32_t wsec[ARB_MB_MAX_WRITES]; /* the current job's planned writes: sector */
	struct mb_record wrec[ARB_MB_MAX_WRITES]; /* and record */
	uint32_t wn, wi;              /* planned, done */
	struct arb_mb_seen seen[ARB_MAX_HOSTS + 1]; /* what we last read in each host's box */
};

/* The disk voter (arb_witness.c): the witness lease and, while we serve
 * it, its Raft node and the in-process queue between it and our node. */
struct arb_witness_state {
	struct raft_node *node;       /* non-NULL while we serve it */
	struct fsm fsm;               /* its replica of the FSM, for its snapshots */
	uint64_t snap_index;
	struct raft_transport tx;
	struct vl_op op;
	bool op_busy, held;           /* witness lease operation; we hold the lease */
	uint64_t gen;                 /* our delta generation when we took it */
	uint64_t try_us;
	uint32_t holder;              /* who serves it, as last heard */
	uint64_t holder_us;
	struct arb_wmsg q[ARB_WQ_MAX];
	uint32_t q_head, q_len;
	struct fl_timer q_timer;
};

/* The start-up audit (arb_vm.c): volume leases that name us. */
struct arb_audit {
	bool done, busy;
	uint32_t vm, vol;
	uint32_t unaccounted;
	struct vl_op op;
	char res[FL_NAME_LEN + 1];
};

struct arb {
	struct arb_config cfg;
	struct fl_loop *loop;
	struct fl_rand rand;
	struct cls_timings tim;
	struct ls_lockspace *ls;
	struct raft_node *node;
	struct fsm fsm;
	struct plc_plan plan;
	/* The encoding buffer of arb_propose_cmd, reused: a failed host's VMs
	 * are placed by the hundred, one proposal each. prop_busy: in use (a
	 * proposal made from inside another one gets a buffer of its own). */
	uint8_t prop_buf[FSM_CMD_MAX_BYTES];
	bool prop_busy;
	bool started, ls_held;
	bool released;                /* arb_release() completed */
	uint64_t snap_index;          /* raft index of our last snapshot */
	uint64_t generation;          /* of our delta lease */

	/* transport multiplexing and what peers' views tell us */
	struct raft_transport raft_tx; /* what the node sends through */
	uint8_t *txbuf;
	uint32_t txbuf_len;
	uint64_t last_heard_us[ARB_MAX_HOSTS + 1];  /* any message from the host itself */
	uint64_t relay_heard_us[ARB_MAX_HOSTS + 1]; /* a peer's view said it heard the host then */
	uint64_t leader_ok_us;        /* last sign that our leader holds a valid lease */
	uint64_t view_leader;         /* the leader as peers' views name it (we may know none) */
	uint64_t view_term;
	uint32_t view_flags[ARB_MAX_HOSTS + 1];     /* ARB_VIEW_* from each host's last view */
	uint64_t view_us[ARB_MAX_HOSTS + 1];        /* when that view arrived */
	/* plugin/arbiter/arb_proto.c: what each peer announced, and our announcements */
	struct arb_proto_peer {
		bool announced, refused;
		uint16_t min, max;
		uint64_t first_us;        /* first message heard with no announcement yet */
		char version[ARB_VERSION_MAX + 1];
	} proto[ARB_MAX_HOSTS + 1];
	uint64_t proto_sent_us;
	/* Every host classifies every other host for its status (arb_host_view);
	 * only the leader acts on it, and it starts afresh on becoming leader. */
	struct cls_record cls[ARB_MAX_HOSTS + 1];

	/* quorum and fencing of this host */
	bool quorate;
	uint64_t quorum_lost_us;      /* last provable contact with a quorum (arb_quorum_lost_at) */
	uint64_t quorate_us;          /* the last tick we were quorate */
	bool pill;                    /* a fence request is pending in our mailbox */
	bool fenced_status;           /* our mailbox status says FENCED */
	bool want_fenced_status;

	/* local VMs, by FSM index */
	struct arb_lvm *lvm;
	uint32_t nlvm;
	uint32_t n_acquiring;        /* local VMs in LVM_ACQUIRING (at most ARB_ACQUIRING_MAX) */
	bool starting;               /* arb_vms_start_waiting runs (no re-entry) */

	bool leader;                  /* our Raft node leads (its state callback) */
	struct arb_leader_state ldr;  /* meaningful only while leader */
	struct arb_mb_engine mb;
	struct arb_witness_state w;
	struct arb_audit audit;
	struct arb_header_check {    /* arb_header.c */
		struct fl_io io;
		uint8_t *buf;        /* one sector */
		bool busy;
		bool foreign;        /* the device is not ours any more: nothing is written */
		uint32_t bad_reads;  /* in a row */
		uint64_t next_us;
	} hdr;

	struct fl_timer tick;
	struct fl_timer p_timer;     /* fires when P has passed since quorum_lost_us */
	struct arb_status_counters {
		uint64_t fences, takeovers, pills;
		uint64_t renewals, renewal_failures, renew_latency_us, renew_latency_max_us;
		uint64_t fences_quorum, fences_pill, fences_storage;
		uint64_t rejected_forward, rejected_witness; /* arb_trust.c */
		uint64_t start_failures, start_give_ups;
		uint64_t header_checks, header_foreign; /* arb_header.c */
		uint64_t views_unsent; /* views the transport did not queue (best effort) */
	} ctr;
	struct fl_lat renew_latency;  /* good renewals, start to completion */
	bool host_id_taken;           /* acquiring our host_id found another live host on it */
	/* A snapshot of the replicated state (ours on disk, or the leader's)
	 * that fsm_restore() refused: our FSM is not the cluster's from then
	 * on, so nothing more is applied to it, snapshotted from it or decided
	 * on it, and the host gives up leading (arb_status tells the daemon,
	 * which stops). */
	bool snapshot_refused;
	uint64_t snapshot_refused_index;
	int snapshot_refused_rv;
	struct arb_join_state {       /* arb_join.c */
		uint64_t nonce;           /* drawn at start: names this boot in a rejoin request */
		uint64_t hello_us, log_us;
		bool removed;             /* the leader said so, or we applied our own removal */
		uint32_t removed_by;      /* the leader that said so (0: our own FSM) */
		char learned[ARB_MAX_HOSTS + 1][FSM_ADDR_MAX + 1]; /* addresses members told us */
		uint64_t told_us[ARB_MAX_HOSTS + 1];   /* leader: REMOVED last sent to each host */
		uint32_t rejoin_id;       /* leader: the host being taken back, 0 none */
		uint64_t rejoin_nonce;
		bool rejoin_removed;      /* its removal from the configuration is proposed */
		uint64_t rejoin_done[ARB_MAX_HOSTS + 1]; /* nonce of each host's completed rejoin */
	} join;
	uint64_t reject_log_us;       /* last refusal logged (arb_trust.c) */
};

/* Records that the snapshot at index (whose: "" ours, or "disk voter: ")
 * failed fsm_restore() with rv, and logs why once (arbiter.c). */
void arb_snapshot_refused(struct arb *a, const char *whose, uint64_t index, int rv);
/* arb_ops.c: hands leadership to the voter heard from most recently (as
 * arb_leader_transfer() with no target), for a host that must not lead;
 * why goes into the notice. */
void arb_leader_step_aside(struct arb *a, const char *why);

/* arb_trust.c: what an authenticated peer may ask of us. */
/* Whether the leader may propose command c that host `from` forwarded:
 * from must be in the Raft configuration, and may ask only what a host's
 * own control plane or VM runtime asks (docs/operations.md, "Security"):
 * register or unregister a VM, place on itself a VM placed nowhere (or
 * already there), unplace a VM that is its own or runs nowhere, report its own VMs' run state. Membership, fences,
 * quarantine and lease slots are the leader's own decisions: refused. */
bool arb_forward_allowed(const struct arb *a, uint64_t from, const struct fsm_cmd *c);
/* Whether host `from` may send operator requests and answers: a host of the
 * Raft configuration that the FSM records as a joined member. */
bool arb_op_peer_allowed(const struct arb *a, uint64_t from);
/* plugin/arbiter/arb_proto.c: announces our versions to the configuration (at most every
 * ARB_PROTO_EVERY_US); takes a peer's announcement; whether a message of
 * host `from` (of kind `kind`) is to be dropped: a peer with no version in
 * common with ours. */
void arb_proto_tick(struct arb *a, uint64_t now);
void arb_proto_receive(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len);
bool arb_proto_drop(struct arb *a, uint64_t from, uint8_t kind, uint64_t now);
/* Counts a refused message of peer `from` (kind "forward" or "witness") and
 * logs it at most once per second. */
void arb_reject(struct arb *a, uint64_t from, bool witness, const char *what);

/* arb_join.c */
/* Whether our own configuration names us and our replicated state records
 * us as JOINED. */
bool arb_join_settled(const struct arb *a);
/* A message of kind ARB_JOIN_MAGIC (without its prefix) from host `from`. */
void arb_join_receive(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len);
/* Any message from host `from`: the leader tells a removed host so. */
void arb_join_heard(struct arb *a, uint64_t from);
/* Once per tick: HELLO while not settled, our own removal, the leader's
 * rejoin steps. */
void arb_join_tick(struct arb *a, uint64_t now);

/* arbiter.c */
uint64_t arb_now(const struct arb *a);
/* Runs the tick as soon as the loop gets to it (a VM placed here, a fence
 * target's FENCED status seen): it re-arms itself afterwards as usual. */
void arb_tick_soon(struct arb *a);
/* Latest time host h was heard from, directly or through a peer's view. */
uint64_t arb_heard_us(const struct arb *a, uint32_t h);
/* Whether another host voter may be alive: its delta lease is neither DEAD
 * nor FREE in our observation (UNKNOWN and ERROR count as alive). */
bool arb_others_alive(const struct arb *a);
/* The leader: Raft's if it knows one, else the one peers' views name. */
uint64_t arb_leader_id(const struct arb *a);
bool arb_lease_valid(const struct arb *a);
/* arb_header.c: the periodic re-check of the device header. */
FL_MUST_CHECK int arb_header_init(struct arb *a);
void arb_header_free(struct arb *a);
void arb_header_tick(struct arb *a, uint64_t now);
uint64_t arb_cluster_time(const struct arb *a);
FL_MUST_CHECK int arb_propose_cmd(struct arb *a, struct fsm_cmd *c);
/* The arbiter's send buffer, grown to at least len bytes (NULL: out of
 * memory): what goes to the transport is built there, which copies it. */
uint8_t *arb_txbuf(struct arb *a, uint32_t len);
bool arb_is_leader(const struct arb *a);
/* Snapshots f into node n once ARB_SNAPSHOT_EVERY entries were applied
 * since *last_index (log compaction). */
void arb_maybe_snapshot(const struct arb *a, struct raft_node *n, const struct fsm *f, uint64_t *last_index);

/* arb_vm.c */
FL_MUST_CHECK int arb_vms_init(struct arb *a);
void arb_vms_free(struct arb *a);
void arb_vms_reconcile(struct arb *a);
/* Begins the lease acquisitions of idle VMs placed here, as far as
 * ARB_ACQUIRING_MAX allows (after one ended; arb_vms_reconcile does it too). */
void arb_vms_start_waiting(struct arb *a);
/* Start-up audit: reads the volume leases of every registered VM once and
 * reports those that name this host for a VM placed elsewhere. */
void arb_vms_audit(struct arb *a);
void arb_vms_kill_all(struct arb *a, enum arb_stop_why why);
bool arb_vms_all_idle(const struct arb *a);
uint32_t arb_vms_running(const struct arb *a);
enum vl_owner_state arb_owner_state(void *ctx, uint64_t host_id, uint64_t generation);

/* arb_leader.c */
/* Moves l to state to, asserting the edge is legal (arb_lvm_edge_legal), no
 * lease operation is in flight, no lease is held when it enters IDLE or
 * ACQUIRING, and a stop has a reason when it enters KILLING. */
void arb_lvm_set_state(struct arb_lvm *l, enum arb_lvm_state to);

/* Allocates the leader's per-VM state (a->nlvm entries); -FL_ENOMEM. */
FL_MUST_CHECK int arb_leader_init(struct arb *a);
void arb_leader_free(struct arb *a);
void arb_leader_tick(struct arb *a);
void arb_classify_all(struct arb *a);
void arb_leader_became(struct arb *a);
/* A leader whose own delta lease is not valid hands leadership to an UP voter. */
void arb_leader_hand_off(struct arb *a);

/* arb_witness.c */
FL_MUST_CHECK int arb_witness_init(struct arb *a);
void arb_witness_free(struct arb *a);
void arb_witness_tick(struct arb *a, uint64_t now);
bool arb_witness_in_config(const struct arb *a);
/* Starts the disk voter's Raft node on the voter store; the caller holds
 * the witness lease under our current delta generation. */
void arb_witness_serve(struct arb *a);
FL_MUST_CHECK int arb_witness_route(struct arb *a, const void *payload, uint32_t len);
void arb_witness_receive(struct arb *a, uint64_t via, const uint8_t *b, uint32_t len);

/* arb_mailbox.c */
FL_MUST_CHECK int arb_mb_init(struct arb *a);
void arb_mb_free(struct arb *a);
void arb_mb_enqueue(struct arb *a, uint8_t kind, uint64_t host, uint8_t req);
bool arb_mb_queued(const struct arb *a, uint8_t kind, uint64_t host);

#endif
