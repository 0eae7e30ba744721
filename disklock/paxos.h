/* Volume leases: sanlock-format Disk Paxos leases on the shared device.
 *
 * A lease area holds a leader record (sector 0), a request record (sector 1)
 * and one dblock per host_id N at sector N+1, whose sector also carries that
 * host's mode block at byte 128 (shared holders). Each host writes only its
 * own dblock sector; the leader record is written by whoever commits a
 * ballot. Operations here are asynchronous state machines on an fl_loop and
 * an fl_bdev: start one with vl_acquire_start() / vl_release_start() /
 * vl_inquire_start(), and its done callback runs exactly once, never inside
 * the start call. A lease is valid while the owner's delta lease is valid:
 * there is no per-lease renewal. Whether a foreign owner may be displaced is
 * asked through vl_owner_fn, which the daemon answers from its lockspace
 * observations and the CLI from a short observation of the delta lease.
 * Randomness (ballot back-off) comes from the caller's fl_rand, time from the
 * loop, so a simulated run replays from its seed. */
#ifndef FL_PAXOS_H
#define FL_PAXOS_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/loop.h"
#include "common/rand.h"
#include "disklock/bdev.h"
#include "disklock/ondisk.h"

#define VL_MAX_HOSTS FL_PAXOS_MAX_HOSTS  /* mbal modulus and host_id bound */
#define VL_DEFAULT_MAX_BALLOTS 64u
#define VL_DEFAULT_BACKOFF_MAX_US (50u * FL_US_PER_MS)
#define VL_STATE_STR_LEN 160

/* What the lockspace says about the host that a lease names as its owner
 * (or shared holder), given its host_id and the generation on the lease. */
enum vl_owner_state {
	VL_OWNER_FREE = 0,     /* delta lease free: the host_id is not in use */
	VL_OWNER_NEWER_GEN,    /* the host_id is held with a newer generation */
	VL_OWNER_DEAD,         /* no change in its delta lease for D */
	VL_OWNER_LIVE,         /* its delta lease is being renewed */
	VL_OWNER_FAIL,         /* renewals stopped, D not yet elapsed */
	VL_OWNER_UNKNOWN,      /* not observed long enough to tell */
};

/* Returns the owner's state; must not block for long (it may read the disk).
 * generation 0 asks about the host_id whatever its generation (a torn dblock
 * shows none): only FREE and DEAD count then. */
typedef enum vl_owner_state (*vl_owner_fn)(void *ctx, uint64_t host_id, uint64_t generation);

/* True for the three states that allow taking over the host's lease. */
bool vl_owner_takeable(enum vl_owner_state s);
const char *vl_owner_state_name(enum vl_owner_state s);

/* Where a lease lives. num_hosts_hint: how many dblocks to read with the
 * leader in the first I/O (0: sanlock's 2000); a wrong hint costs one read.
 * It is also the num_hosts the lease was initialised with as far as the
 * caller knows: an acquire rebuilds a leader that fails its checksum only
 * when the record's num_hosts equals a non-zero hint. */
struct vl_area {
	struct fl_bdev *bdev;
	uint64_t offset;
	uint32_t num_hosts_hint;
	const char *space_name;     /* NULL: not checked */
	const char *resource_name;  /* NULL: not checked */
};

struct vl_acquire_args {
	uint64_t host_id;           /* 1..num_hosts of the lease */
	uint64_t generation;        /* of our delta lease, > 0 */
	bool shared;
	uint64_t acquire_lver;      /* != 0: fail -FL_ESTALE unless the leader's lver equals it */
	uint64_t wait_us;           /* how long to wait for a live owner to go away; 0: fail at once */
	uint64_t poll_us;           /* owner re-check interval while waiting; 0: 1 s */
	uint32_t max_ballots;       /* 0: VL_DEFAULT_MAX_BALLOTS */
	uint64_t backoff_max_us;    /* 0: VL_DEFAULT_BACKOFF_MAX_US */
	vl_owner_fn owner_state;    /* required */
	void *owner_ctx;
	struct fl_rand *rand;       /* required: ballot back-off */
};

#define VL_MAX_SHARED 64
/* The outcome of an operation, filled before the done callback. */
struct vl_result {
	int rv;                     /* 0 or -FL_E... */
	struct fl_leader leader;    /* last leader read or written */
	uint64_t busy_host_id;      /* -FL_EBUSY: the host that holds it */
	enum vl_owner_state busy_state;
	uint32_t ballots;           /* ballots run */
	uint32_t shared_count;      /* inquire: shared holders (first VL_MAX_SHARED listed) */
	uint64_t shared_host[VL_MAX_SHARED];
	uint64_t shared_gen[VL_MAX_SHARED];
	uint32_t corrupt_dblocks;   /* inquire: dblocks with a bad checksum */
	bool held;                  /* inquire: leader names an owner who has not released it
				       through its dblock (a leader with timestamp != 0 can be
				       released that way, see vl_release_start) */
	uint32_t rebuilds;          /* acquire: ballots run to rebuild a leader record that
				       failed its checksum (see vl_acquire_start) */
};

struct vl_op;
typedef void (*vl_done_fn)(struct vl_op *op, void *arg);

enum vl_kind { VL_ACQUIRE = 1, VL_RELEASE, VL_INQUIRE };

/* One operation in flight. Embed or allocate; fields are private. */
struct vl_op {
	enum vl_kind kind;
	int phase;
	struct vl_area area;
	struct vl_acquire_args args;
	vl_done_fn done;
	void *done_arg;
	struct fl_loop *loop;
	struct fl_io io;
	struct fl_timer timer;
	uint8_t *buf;               /* leader + request + dblock sectors */
	uint32_t buf_sectors;
	uint8_t *sec;               /* one sector for writes */
	uint64_t num_hosts;         /* dblocks that take part (from the leader) */
	struct fl_leader cur;       /* leader the ballot started from */
	struct fl_dblock ours;      /* our dblock as last written/read */
	struct fl_mode_block our_mode;
	struct fl_dblock chosen;    /* value carried into phase 2 */
	uint64_t next_lver, mbal, max_mbal_seen;
	uint64_t wait_deadline_us;
	uint32_t restarts;
	int final_rv;               /* result to report after a clean-up write */
	bool rebuild;               /* acquire: the last area read found a torn leader, op->cur
				       holds its trusted (static) fields only */
	bool running;
	struct vl_result res;
};

/* Starts an exclusive or shared acquire (Disk Paxos ballot, see
 * docs/design.md). Success (res.rv == 0): the leader names us with a new lver
 * (exclusive), or our mode block says SHARED (shared). Errors: -FL_EBUSY held
 * by a live owner or a live shared holder (res.busy_host_id), -FL_ESTALE lver
 * moved (acquire_lver), -FL_EAGAIN ballots exhausted, -FL_EMAGIC / -FL_EFOREIGN
 * for a record that is not this lease, or an I/O error. A leader record that
 * fails its checksum but whose magic, version, sector size, geometry and names
 * are intact (what a torn write leaves) is rebuilt, when the dblocks allow it,
 * by a ballot at the highest lver in the dblocks (res.rebuilds); the acquire
 * then goes on from the rebuilt leader. -FL_ECHECKSUM: the leader is corrupt
 * and cannot be rebuilt (no dblock records a ballot, a live host's dblock stays
 * corrupt, or the record is not recognisable). A failed acquire never leaves
 * us as owner. Returns 0 (done will run) or an immediate -FL_EINVAL /
 * -FL_ENOMEM (done will not run). */
FL_MUST_CHECK int vl_acquire_start(struct vl_op *op, const struct vl_area *area, const struct vl_acquire_args *args,
		     vl_done_fn done, void *arg);

/* Starts a release by host_id/generation of an exclusive or shared hold.
 * Exclusive: our dblock gets the RELEASED flag, then, if we wrote the current
 * leader, the leader gets timestamp 0 (as sanlock does). Shared: our mode
 * block is cleared. -FL_ENOENT if we hold it in neither way. A leader that
 * fails its checksum (as vl_acquire_start would rebuild it) is not rewritten:
 * our dblock alone then says whether we hold it, and gets RELEASED. */
FL_MUST_CHECK int vl_release_start(struct vl_op *op, const struct vl_area *area, uint64_t host_id, uint64_t generation,
		     vl_done_fn done, void *arg);

/* Starts a read of the leader, every dblock and mode block: fills res.leader
 * and the shared holders. */
FL_MUST_CHECK int vl_inquire_start(struct vl_op *op, const struct vl_area *area, vl_done_fn done, void *arg);

/* Cancels an operation in flight (its done callback will not run); the
 * device may still complete a write already issued. The op and its buffers
 * must stay valid until that I/O has called back (op->io.inflight false) or
 * the device was closed; only then call vl_op_free(). */
void vl_op_cancel(struct vl_op *op);
/* Frees the op's buffers; call after done ran or after vl_op_cancel(). */
void vl_op_free(struct vl_op *op);

/* True when the leader says the lease is held exclusively (timestamp != 0). */
bool vl_leader_held(const struct fl_leader *l);

/* Writes a fresh lease area: leader (free, lver 0, num_hosts dblocks taking
 * part, sanlock's max_hosts 2000), request record and zeroed dblocks, of
 * area_bytes (>= (2 + num_hosts) sectors). The dblocks are written first and
 * the leader last, so a torn init never looks like a valid lease. Synchronous
 * (for format/init tools): drives the device until done. */
FL_MUST_CHECK int vl_init_sync(struct fl_bdev *bdev, uint64_t offset, uint64_t area_bytes, const char *space_name,
		 const char *resource_name, uint32_t num_hosts, uint32_t align_flag);

/* Runs an op started on bdev to completion by polling the device (CLI use). */
FL_MUST_CHECK int vl_wait_sync(struct vl_op *op, struct fl_bdev *bdev);

/* Inquire state string for a migration hand-off: "fl1:LVER:OWNER:GEN:SPACE:RES".
 * The receiver passes the lver to acquire_lver; a changed lver means another
 * host took the lease in between. */
FL_MUST_CHECK int vl_state_format(const struct fl_leader *l, char out[VL_STATE_STR_LEN]);
FL_MUST_CHECK int vl_state_parse(const char *s, uint64_t *lver, uint64_t *owner_id, uint64_t *generation);

#endif
