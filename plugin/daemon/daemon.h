/* fencelockd's internal interfaces: the daemon object shared by its parts.
 *
 *   main.c     command line, configuration, start-up (device, layout, log
 *              store, TCP transport, arbiter, control socket), signals and
 *              the clean shutdown;
 *   vmrt.c     the VM runtime: the arbiter's struct arb_vm_ops on real
 *              processes (guard files, recover_command or a re-run under
 *              `fencelock exec`, SIGTERM / SIGKILL by the deadline, pidfds
 *              to learn that a process is gone);
 *   backend.c  the control socket's handlers (struct ctl_backend) on top of
 *              the arbiter and the runtime;
 *   status.c   the read-only views: status, hosts, leases, vms, metrics,
 *              vm.inquire, rendered from a snapshot the loop publishes;
 *   events.c   the events op: the FSM's event history, copied and
 *              published beside that snapshot.
 *
 * Threads: everything runs on the epoll loop's thread (the lease loop),
 * which renews the delta lease and so must never block, except: what can
 * block (flushes, file writes, config reloads) goes to the worker thread
 * (plugin/host/worker.h) and comes back as a completion on the loop;
 * logging goes through a ring drained by its own thread; and the control
 * server serves its clients from its own thread (plugin/host/ctl_server.h):
 * it answers the read ops from the snapshot (struct fld_snap, published
 * with liburcu) and hands every other op to the loop through a bounded
 * queue. Not a public header. */
#ifndef FL_PLUGIN_DAEMON_DAEMON_H
#define FL_PLUGIN_DAEMON_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <urcu/urcu-memb.h>
#include "common/latency.h"
#include "common/loop.h"
#include "disklock/layout.h"
#include "plugin/arbiter/arbiter.h"
#include "plugin/host/config.h"
#include "plugin/host/ctl_server.h"
#include "plugin/host/guard.h"
#include "plugin/host/worker.h"
#include "raft/transport.h"

/* VMs this daemon tracks, by the FSM's table index: = the FSM's default
 * max_vms (the VMs of the whole cluster), so every VM of the cluster may run
 * here (docs/operations.md, "Density"; the memory each costs: section 9). */
#define FLD_MAX_VMS FSM_VMS_DEFAULT
#define FLD_FDS_PER_VM 4u           /* descriptors a VM may cost the daemon at most */
#define FLD_WAITERS_MAX 1024u       /* control calls waiting for a commit */
#define FLD_SNAP_PERIOD_US (100ull * FL_US_PER_MS) /* the read views' snapshot, at least this fresh */
#define FLD_POLL_US (20ull * FL_US_PER_MS)
/* Starts (recover_command or re-runs) handed to the workers per poll: a
 * failed host's VMs arrive here by the hundred at once, and each start is a
 * process that wants the CPU for a few milliseconds while the survivors
 * renew their leases (docs/operations.md, "Density"). */
#define FLD_SPAWNS_PER_POLL 16u
#define FLD_COMMIT_TIMEOUT_US (5ull * FL_US_PER_S)
#define FLD_THREAD_STACK_BYTES (256u * 1024u) /* threads the daemon does not size itself */
/* vm.release waits this long for the VM_END commit: less than the 5 s the
 * wrapper waits for its answer. */
#define FLD_END_COMMIT_WAIT_US (3ull * FL_US_PER_S)
#define FLD_ACQUIRE_TIMEOUT_US (15ull * FL_US_PER_S)
#define FLD_RESUBMIT_US FL_US_PER_S
#define FLD_RECOVER_TIMEOUT_US (30ull * FL_US_PER_S) /* recover_command to the VM's acquire */
#define FLD_FLUSH_RETRY_US (5ull * FL_US_PER_S)   /* after a failed flush, the next attempt */
#define FLD_WORKER_QUEUE 1024u      /* jobs waiting for the worker threads */
/* Worker threads: a VM's jobs go to one of them by its uid (worker.h), so
 * this many VMs start (or have their guard files made) at once. */
#define FLD_WORKER_THREADS 4u
#define FLD_END_RESUBMIT_FOR_US (30ull * FL_US_PER_S) /* a VM_END is re-proposed this long */
#define FLD_VM_LOG_MAX_BYTES (4ull << 20)  /* a per-VM log is rotated (one .1) past this */
_Static_assert(FLD_MAX_VMS <= FSM_VMS_MAX, "the runtime's table is indexed by the FSM's");
_Static_assert(FLD_MAX_VMS <= GUARD_TABLE_MAX, "every VM this host may run has a guard file entry");
_Static_assert(CFG_MAX_VMS_MAX <= ARB_MAX_VMS_CAP, "[host] max_vms fits the view's 16 bits");

/* A restart policy from the public enum (as a control request carries it)
 * to the replicated state's encoding, where 0 means "none" so that a zeroed
 * record is caught on decode. The two encodings never mix: only these
 * two functions translate between them. */
static inline uint8_t fld_restart_to_fsm(enum fl_restart r)
{
	switch (r) {
	case FL_RESTART_NEVER: return FSM_RESTART_NEVER;
	case FL_RESTART_ON_FAILURE: return FSM_RESTART_ON_FAILURE;
	case FL_RESTART_MANAGER: return FSM_RESTART_MANAGER;
	default: return FSM_RESTART_ALWAYS;
	}
}

/* The public restart policy of a replicated VM record. */
static inline enum fl_restart fld_restart_of_fsm(uint8_t r)
{
	switch (r) {
	case FSM_RESTART_NEVER: return FL_RESTART_NEVER;
	case FSM_RESTART_ON_FAILURE: return FL_RESTART_ON_FAILURE;
	case FSM_RESTART_MANAGER: return FL_RESTART_MANAGER;
	default: return FL_RESTART_ALWAYS;
	}
}

/* What the runtime knows of one VM (by FSM table index). */
enum dvm_state {
	DVM_NONE = 0,     /* nothing of ours runs */
	DVM_SPAWNED,      /* we ran recover_command / a re-run; waiting for its vm.acquire */
	DVM_RUNNING,      /* a wrapper holds the grant: pid known (or adopted after a restart) */
	DVM_KILLING,      /* the arbiter asked us to kill it */
};

struct fld;

struct dvm {
	struct fld *d;
	uint32_t idx;
	uint8_t state;               /* enum dvm_state */
	char uid[CTL_UID_MAX + 1];
	bool arb_started;            /* the arbiter's start op ran for incarnation */
	uint64_t incarnation;
	bool adopted;                /* guard file found at start-up, process unknown */
	bool have_guard;             /* our guard_table holds its file */
	pid_t pid;                   /* the VM process (vm.acquire's pid, checked: the caller's descendant) */
	int pid_fd;                  /* its pidfd: every signal to the VM goes through it; -1 if none */
	pid_t wrapper_pid;           /* the `fencelock exec` that asked (SO_PEERCRED) */
	int wrapper_fd;              /* pidfd of wrapper_pid (the connection's own, SO_PEERPIDFD), or -1 */
	bool spawn_due;              /* SPAWNED, its command not run yet (vmrt_poll runs it) */
	pid_t spawn_pid;             /* our own child: recover_command or re-run */
	int spawn_fd;                /* its pidfd, or -1 */
	struct spawn_job *spawn_job; /* its start, on the worker thread (vmrt.c), or NULL */
	struct grant_job *grant_job; /* a grant whose guard file the worker opens, or NULL */
	uint64_t kills;              /* kill ops received: a grant asked before the last one never applies */
	bool exited_reported;        /* the wrapper said vm.exited */
	bool natural_exit;           /* it ended on its own: unplace it */
	uint64_t cancelled_inc;      /* an incarnation whose acquire we gave up */
	uint64_t kill_deadline_us;
	uint64_t started_us;         /* loop time the grant was given */
	struct fl_timer timer;       /* kill deadline, spawn timeout */
	struct fl_timer report;      /* deferred arb_vm_exited */
	struct ctl_call *acquire;    /* a vm.acquire waiting for the start op */
	pid_t acquire_pid;
	int acquire_pid_fd;          /* pidfd of acquire_pid, owned until the grant */
	pid_t acquire_wrapper;
	int acquire_wrapper_fd;      /* pidfd of the asking wrapper, owned until the grant */
	uint64_t acquire_until_us;
	bool acquire_placed;         /* we proposed its placement here (re-proposed until applied) */
	uint64_t acquire_place_inc;  /* the incarnation that proposal expects */
	uint64_t acquire_resubmit_us;
	/* The flush of its volumes after its wrapper died without a release:
	 * its leases stay held until a flush succeeds (docs/design.md). */
	bool flush_needed;
	bool flush_timed_out;        /* the child passed its bound: SIGKILLed */
	struct fl_work flush_work;   /* forks the flush child on the worker */
	int flush_rv;                /* set by the worker: guard_flush_start()'s result */
	pid_t flush_pid;             /* the flush child, 0 when none */
	int flush_fd;                /* its pidfd, or -1 */
	uint32_t flush_attempts;
	uint32_t flush_n;
	char flush_paths[FSM_VOLS_MAX][FSM_PATH_MAX + 1];
	struct fl_timer flush_timer; /* the running flush's bound, or the next attempt */
	bool have_exit;              /* vm.exited told how the VMM ended */
	int32_t exit_code, exit_signal;
	uint64_t end_inc;            /* a VM_END we proposed for this incarnation (0: none) */
	char end_uid[CTL_UID_MAX + 1]; /* of this VM (the FSM reuses table entries) */
	bool end_unregister;
	uint64_t end_resubmit_us, end_until_us;
};

/* FLW_PLACED: a registration held while this host's view places the VM on
 * another host (a stop there may be committed but not yet applied here);
 * FLW_END: a vm.release answered once the VM_END it led to is applied here. */
/* FLW_FN: done when its done() says so (the operator's commands, ops.c). */
enum fld_wait_kind { FLW_REGISTER = 1, FLW_UNREGISTER, FLW_HOST_ADD, FLW_HOST_REMOVE, FLW_CLEAR, FLW_PLACED, FLW_END,
		     FLW_FN };

/* A control call waiting for the FSM to show its effect. */
struct fld_waiter {
	bool used;
	uint8_t kind;                /* enum fld_wait_kind */
	struct ctl_call *call;
	char uid[CTL_UID_MAX + 1];
	uint32_t host_id;
	uint64_t incarnation;        /* FLW_END: the incarnation that ended here */
	uint64_t until_us;
	/* Re-proposed every FLD_RESUBMIT_US until applied: a command forwarded
	 * to a leader that is handing over (or just lost) is dropped there. */
	bool have_cmd;
	struct fsm_cmd cmd;
	uint64_t resubmit_us;
	/* FLW_FN: whether the FSM shows the effect, and what to say if it does not. */
	bool (*done)(struct fld *d, const struct fld_waiter *w);
	const char *hint;
};

struct fld_metrics {
	uint64_t vm_starts, vm_spawns, vm_kills, guard_kills, natural_exits;
	uint64_t recovered;          /* starts of a VM whose previous incarnation ran elsewhere */
	uint64_t flushes, flush_failures, flush_timeouts; /* our flushes after a wrapper died */
};

/* ---- the snapshot the read ops are served from (status.c) ---- */
struct fld_snap_host {
	uint32_t id;
	uint8_t state;               /* enum cls_state, as this host reports it */
	bool voter;
	uint64_t since_us;           /* loop clock (CLOCK_MONOTONIC) */
	uint64_t heard_us;           /* last heard from, directly or relayed (loop clock; 0: never) */
	bool connected;              /* the Raft transport has a live connection to it */
	bool quarantined;            /* placement avoids it (fenced too often) */
	char name[FSM_NAME_MAX + 1];
	char addr[FSM_ADDR_MAX + 1];
	/* The quorum view's per-peer facts and the host's operator marks. */
	uint32_t queued;             /* frames queued to it */
	bool drained;                /* quarantined until undrained (FSM_QUARANTINE_DRAINED) */
	uint64_t quarantine_left_us; /* cluster time left in its quarantine, 0 none */
	uint8_t fence;               /* 0 none, 1 requested, 2 answered FENCED */
	uint8_t fence_reason;        /* enum fsm_fence_reason */
	/* Its versions: what it announced (this host: its own) and the cluster
	 * protocol spoken with it (0: not heard, or refused). */
	struct arb_peer_proto proto;
	uint32_t max_vms;            /* its [host] max_vms as last heard (arb_host_max_vms), 0 none */
};

/* A server of the Raft configuration this host uses (hosts and the disk voter). */
struct fld_snap_server {
	uint32_t id;                 /* a host id, or FL_WITNESS_RAFT_ID */
	bool voter;
	uint64_t match;              /* leader only: its match index, else 0 */
	uint64_t rtt_us;             /* leader only: smoothed Raft round trip, 0 unknown */
};

struct fld_snap_vm {
	char uid[FSM_UID_MAX + 1];
	uint32_t desired_host;
	uint32_t holder;             /* host holding its volume leases, 0 = none known */
	uint8_t run_state, restart, nvol;
	const char *state;           /* a static string */
	int32_t pid;                 /* the VM process here, 0 if none */
	uint64_t incarnation;
	uint32_t path_host;          /* the host whose paths vol[].path_off are */
	bool failed;                 /* FAILED: every eligible host failed to start it */
	uint8_t nfailed;
	uint32_t failed_on[FSM_FAILED_MAX]; /* hosts that gave up starting it */
	struct {
		uint32_t path_off;   /* into the snapshot's pool */
		uint32_t id_off;     /* the volume's identity, likewise */
		uint32_t slot;
		bool ro;
	} vol[FSM_VOLS_MAX];
};

struct fld_snap {
	struct rcu_head rcu;
	uint64_t taken_us;
	struct arb_status st;
	bool leader;
	uint32_t n_hosts, n_vms;
	struct fld_snap_host *hosts;
	struct fld_snap_vm *vms;
	char *pool;                  /* volume paths and identities, NUL-terminated */
	uint32_t n_failed;           /* VMs marked FAILED */
	struct fld_metrics m;
	struct raft_tcp_stats ts;
	bool have_lateness, have_worker;
	struct fl_lat lateness;      /* renewal lateness (the arbiter's) */
	struct fl_lat latency;       /* renewal duration, start to completion (the arbiter's) */
	bool watchdog;               /* the hardware watchdog is open and armed */
	uint64_t io_timeout_us, p_us; /* T (F / 4) and P, for the metrics alerts compare with */
	struct fl_worker_stats worker;
	uint64_t metrics_skipped;
	struct arb_mem mem;          /* the arbiter's memory accounting (arb_mem_usage) */
	/* The quorum view (status.c): the Raft configuration, the disk voter's
	 * host, and configured peers never heard from. */
	uint32_t n_servers;
	struct fld_snap_server servers[RAFT_MAX_SERVERS];
	uint64_t last_index;
	uint32_t witness_holder;     /* 0 none heard */
	uint32_t n_never;
	uint32_t never[CFG_PEERS_MAX];
};

/* The event history as the events op serves it (events.c): the FSM's
 * ring copied oldest first, published with liburcu beside the snapshot
 * (its own pointer, copied again only when an event was added). */
struct fld_events {
	struct rcu_head rcu;
	uint64_t total;              /* events the FSM ever recorded */
	uint32_t n;                  /* held: ev[0] is number total - n */
	struct fsm_event ev[];
};

/* Exit status when another live host holds our host id (the unit's
 * RestartPreventExitStatus: restarting cannot help). */
#define FLD_EXIT_CONFLICT 3
/* Exit status of a host removed from the cluster ('fencelock host remove'):
 * it released its delta lease; the unit does not restart it either. */
#define FLD_EXIT_REMOVED 4

/* ---- plugin/daemon/opfwd.c: operator commands asked on a follower, run by the leader ---- */
#define FLD_OPFWD_MAX 16u            /* forwarded calls in flight, each way */
#define FLD_OPFWD_WAIT_US (FLD_COMMIT_TIMEOUT_US + 3ull * FL_US_PER_S) /* the leader's answer */
struct fld_opfwd_out {
	struct ctl_call *call;       /* NULL: free */
	uint64_t id, to, until_us;
	bool answered;               /* the leader answered rv (reply or error set on call) ... */
	int rv;
	uint64_t applied;            /* ... at its applied index: finished once this host applied it too */
};
struct fld_opfwd {
	uint64_t next_id;
	struct fld_opfwd_out out[FLD_OPFWD_MAX];   /* sent to the leader, waiting for its answer */
	struct ctl_call *in[FLD_OPFWD_MAX];        /* the leader: running for another host */
	uint64_t in_id[FLD_OPFWD_MAX];
	struct fl_timer timer;
	ctl_handler_fn handlers[CTL_OP_COUNT];    /* the owner-loop handlers (fld_backend) */
};

struct fld {
	int exit_code;               /* main's return after the loop (0, FLD_EXIT_CONFLICT, FLD_EXIT_REMOVED) */
	bool removed_said;           /* the removal was logged */
	struct fl_config cfg;
	const char *config_path;
	struct fl_eloop *el;
	struct fl_loop *loop;
	struct fl_bdev *bdev;
	struct lay_layout layout;
	struct raft_tcp *tcp;
	struct arb *arb;
	struct ctl_server *ctl;
	struct fl_worker *worker;    /* the blocking steps, off the loop */
	struct guard_table guards;
	uint64_t guard_deadline_us;  /* last deadline the arbiter published */
	uint64_t guard_grace_us;
	char fencelock_bin[1024];
	bool fencelock_bin_ok;       /* executable at start: VM starts exec its __vm-start first */
	char peer_addr_buf[CFG_PEERS_MAX][32];
	const char *peer_addrs[CFG_HOST_ID_MAX + 1];
	struct dvm vms[FLD_MAX_VMS];
	struct fld_waiter waiters[FLD_WAITERS_MAX];
	struct fl_timer poll;
	struct fl_timer housekeeping;
	uint64_t started_us;
	int wd_fd;                   /* the watchdog, -1 when not used */
	bool wd_auto_missing;        /* watchdog = auto found no device (warned once started) */
	struct fld_metrics m;
	struct fld_snap *snap;       /* RCU-published by the loop; read by the control thread */
	uint64_t snap_published_us;
	struct fld_events *events;   /* RCU-published by the loop; read by the control thread */
	struct fld_opfwd fwd;
	volatile bool done;
};

/* Whether op is an operator's change a follower forwards to the leader. */
bool fld_op_forwardable(enum ctl_op op);
/* On a host that does not lead: forwards call to the leader (CTL_DEFERRED:
 * finished with the leader's answer), or fails with the reason on call (no
 * leader, a call that was forwarded already, an op that is not forwarded). */
int fld_forward(struct fld *d, struct ctl_call *call, const struct ctl_req *req);
/* The arbiter's op_msg callback (ctx is the fld). */
void fld_opfwd_msg(void *ctx, uint64_t from, bool reply, const uint8_t *buf, uint32_t len);
void fld_opfwd_init(struct fld *d);
/* At shutdown, after the control server is gone: drops every forwarded call. */
void fld_opfwd_stop(struct fld *d);

/* ---- quorum.c: the quorum view ---- */
/* On the loop: host h's per-peer facts and operator marks (h->id set). */
void fld_snap_host_marks(const struct fld *d, struct fld_snap_host *h);
/* On the loop: the Raft configuration, disk voter host, peers never seen. */
void fld_snap_quorum(const struct fld *d, struct fld_snap *s);
/* The quorum view of snapshot s (a new reference, NULL without memory). */
json_t *fld_quorum_json(const struct fld *d, const struct fld_snap *s);
/* Sets "member" (voter, learner, joining, removed: this host in its own
 * view) and "member_reason" (why it does not vote, or null) on o. */
void fld_member_json(const struct fld_snap *s, json_t *o);
/* The quorum op's read handler (control thread). */
int fld_read_quorum(void *ctx, struct ctl_call *call, const struct ctl_req *req);

/* A host's "version", "protocol" (the one spoken with it), "protocol_min",
 * "protocol_max" and "protocol_refused", as JSON fields (status.c). */
json_t *fld_host_version_json(const struct fld_snap_host *h);

/* ---- ops.c: the operator's commands (owner loop handlers) ---- */
void fld_ops_backend(struct fld *d, struct ctl_backend *be);

/* ---- watchdog.c ---- */
/* Opens and arms the watchdog when configured (timeout F); 0, or -1 with a
 * one-line reason in err (it cannot be opened, or is not a watchdog). */
int fld_watchdog_open(struct fld *d, char *err, size_t errlen);
/* After a good renewal. */
void fld_watchdog_pet(struct fld *d);
/* Clean stop: disarms it (magic close). */
void fld_watchdog_close(struct fld *d);
/* The loud warning when `watchdog = auto` found no device; after start-up. */
void fld_watchdog_warn(const struct fld *d);

/* ---- main.c ---- */
/* RLIMIT_NOFILE as the daemon was started with (main.c raises its soft
 * limit; children get this back). */
extern struct rlimit fld_nofile_orig;

/* ---- vmrt.c ---- */
void vmrt_init(struct fld *d);

/* plugin/daemon/vmscope.c: VMs the daemon starts run in a transient systemd scope when
 * systemd is PID 1. vmscope_init() looks once (and says which); vmscope_wrap()
 * returns argv prefixed with systemd-run --scope ... -- in out[0..n) (its
 * unit and description options in names), or argv itself when there is no
 * scope to make. Loop thread, before the child exists. */
struct vmscope_names {
	char unit[CTL_UID_MAX + 80];
	char desc[CTL_UID_MAX + 64];
};
void vmscope_init(void);
/* Logs what vmscope_init found (called once the daemon has started). */
void vmscope_log(void);
char *const *vmscope_wrap(const char *uid, char *const argv[], char *out[], size_t n, struct vmscope_names *names);
/* Reopens the guard files a previous instance left (after guard_table_init). */
int vmrt_adopt(struct fld *d);
struct arb_vm_ops vmrt_ops(struct fld *d);
/* The runtime record of uid, by the FSM's index, or NULL if unknown. */
struct dvm *vmrt_find(struct fld *d, const char *uid);
/* True while anything of ours runs (a VM, a spawned command). */
bool vmrt_any_active(const struct fld *d);
/* vm.acquire: answers at once (0 / -FL_E), or CTL_DEFERRED. */
int vmrt_acquire(struct fld *d, struct ctl_call *call, const struct ctl_req *req);
int vmrt_started(struct fld *d, struct ctl_call *call, const struct ctl_req *req);
int vmrt_exited(struct fld *d, struct ctl_call *call, const struct ctl_req *req);
int vmrt_release(struct fld *d, struct ctl_call *call, const struct ctl_req *req);
/* Every tick: acquire timeouts. */
void vmrt_poll(struct fld *d, uint64_t now);
const char *vmrt_state_name(const struct dvm *v);
void vmrt_shutdown(struct fld *d);
/* Drops adopted guard files no VM of ours claims (once quorate). */
void vmrt_forget_unclaimed(struct fld *d);

/* ---- backend.c ---- */
void fld_backend(struct fld *d, struct ctl_backend *be);
/* Adds a waiter; -FL_ENOSPC when full. */
int fld_wait(struct fld *d, enum fld_wait_kind kind, struct ctl_call *call, const char *uid, uint32_t host_id,
	     const struct fsm_cmd *resubmit);
/* As fld_wait(), done once done(d, w) says so; hint ends the timeout's message. */
int fld_wait_fn(struct fld *d, struct ctl_call *call, const char *uid, uint32_t host_id, const struct fsm_cmd *resubmit,
		bool (*done)(struct fld *d, const struct fld_waiter *w), const char *hint);
/* vm.release of a VM whose end (VM_END of incarnation inc) was proposed:
 * answered once this host applied it, so that the wrapper's exit means the
 * stop is committed (another host may start the VM at once); after
 * FLD_END_COMMIT_WAIT_US an error says the stop is still being proposed. */
int fld_wait_end(struct fld *d, struct ctl_call *call, const char *uid, uint64_t inc);
void fld_waiters_poll(struct fld *d, uint64_t now);
void fld_waiters_drop(struct fld *d);
/* Submits an FSM command for an operator (its origin names the caller), mapping
 * "no leader" to a clear sentence on call. */
int fld_submit(struct fld *d, struct ctl_call *call, struct fsm_cmd *c);

/* A NUL-terminated copy of vm's spec (free() it), or NULL without memory. */
char *fld_vm_spec_dup(const struct fsm *f, const struct fsm_vm *vm);

/* ---- status.c ---- */
/* Fills the read side of be: status, hosts, leases, vms, metrics and
 * vm.inquire answered on the control server's thread from d->snap, the
 * thread's RCU registration, and the publish-before-replies hook. */
void fld_read_backend(struct fld *d, struct ctl_backend *be);
/* On the loop (a registered RCU thread): copies the arbiter's view into a
 * new snapshot and publishes it; the previous one is freed after a grace
 * period. On allocation failure the previous one stays. */
void fld_snap_publish(struct fld *d);
/* On the loop: publishes when the snapshot is older than FLD_SNAP_PERIOD_US. */
void fld_snap_maybe_publish(struct fld *d, uint64_t now);
/* The ctl_backend before_replies hook (ctx is the struct fld). */
void fld_snap_before_replies(void *ctx);
/* At shutdown, after the control server is gone: frees every snapshot. */
void fld_snap_drop(struct fld *d);
/* Rewrites cfg.metrics_file if set: renders the text from the snapshot here
 * and hands the write to the worker (skipped while the previous write still runs). */
void fld_write_metrics_file(struct fld *d);
/* At a clean stop, once the worker has stopped (worker_stopped false: it
 * did not in time): removes the metrics file, so that node_exporter stops
 * exporting what no daemon stands behind any more. A daemon that was killed
 * leaves its file; fencelock_metrics_updated_timestamp_seconds dates it. */
void fld_remove_metrics_file(struct fld *d, bool worker_stopped);
/* Rounds of the metrics file skipped so far. */
uint64_t fld_metrics_skipped(void);
const char *fld_host_name(const struct fld *d, uint32_t id, char *buf, size_t len);

/* ---- events.c ---- */
/* On the loop, from fld_snap_publish: copies the FSM's event ring into a
 * new struct fld_events and publishes it when events were added since the
 * last copy; the previous one is freed after a grace period. */
void fld_events_publish(struct fld *d);
/* At shutdown, after the control server is gone and a grace period. */
void fld_events_drop(struct fld *d);
/* The events op, on the control server's thread (a read handler). */
int fld_read_events(void *ctx, struct ctl_call *call, const struct ctl_req *req);

#endif
