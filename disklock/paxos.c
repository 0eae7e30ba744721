/* Volume leases: the Disk Paxos ballot, release, shared mode and inquire as
 * asynchronous state machines (see paxos.h and docs/design.md, "Volume
 * leases, mailboxes and the witness"). Every step is one I/O; its completion
 * decides the next step. The ballot follows Gafni & Lamport's Disk Paxos with
 * one disk, in sanlock's on-disk format: phase 1 writes our dblock with a new
 * mbal and reads every dblock, phase 2 writes bal = mbal with the chosen
 * value and reads them again, and the winner commits the leader record. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "common/mutant.h"
#include "disklock/paxos.h"
#include "fencelock/error.h"

enum {
	P_IDLE = 0,
	P_READ_AREA,      /* leader + request + dblocks */
	P_WAIT_OWNER,     /* timer: re-check a live owner */
	P_BACKOFF,        /* timer: after an aborted ballot */
	P_P1_WRITE,
	P_P1_READ,
	P_P2_WRITE,
	P_P2_READ,
	P_COMMIT,         /* leader write */
	P_SH_MODE,        /* shared: our sector with SHARED + RELEASED */
	P_REL_DBLOCK,     /* our sector with RELEASED */
	P_REL_LEADER,     /* leader with timestamp 0 */
	P_CLEAR_MODE,     /* shared release */
	P_RB_OURS,        /* rebuild: our torn sector rewritten before waiting */
};

enum scan_verdict { SCAN_OK = 0, SCAN_ABORT_MBAL, SCAN_ABORT_LVER, SCAN_CORRUPT };

static void op_step_io(struct fl_io *io, int result);
static void op_evaluate(struct vl_op *op);
static void ballot_start(struct vl_op *op);
static void ballot_start_at(struct vl_op *op, uint64_t lver);
static void committed(struct vl_op *op);
static void rebuild_evaluate(struct vl_op *op);

bool vl_owner_takeable(enum vl_owner_state s)
{
	if (FL_MUTANT_IS(FL_MUT_TAKEOVER_LIVE))
		return true;
	return s == VL_OWNER_FREE || s == VL_OWNER_NEWER_GEN || s == VL_OWNER_DEAD;
}

const char *vl_owner_state_name(enum vl_owner_state s)
{
	static const char *const names[] = {"free", "newer-generation", "dead", "live", "failing", "unknown"};
	return (unsigned)s < FL_ARRAY_SIZE(names) ? names[s] : "invalid";
}

bool vl_leader_held(const struct fl_leader *l) { return l->magic == FL_PAXOS_MAGIC && l->timestamp != 0; }

static uint32_t ss_of(const struct vl_op *op) { return op->area.bdev->sector_size; }

static uint8_t *sector_ptr(const struct vl_op *op, uint64_t sector)
{
	FL_ASSERT(sector < op->buf_sectors);
	return op->buf + sector * ss_of(op);
}

static void op_finish(struct vl_op *op, int rv)
{
	FL_ASSERT(op->running);
	op->running = false;
	op->phase = P_IDLE;
	op->res.rv = rv;
	fl_timer_cancel(op->loop, &op->timer);
	if (op->done)
		op->done(op, op->done_arg);
}

/* A ballot's phases run in Disk Paxos order, each after the one before it
 * completed: the area read, phase 1 (write our dblock with mbal, read every
 * dblock), phase 2 (write bal = mbal with the value chosen, read them all
 * again), then the commit (the leader record). Skipping or repeating one would
 * commit a value no majority of dblocks accepted. Other phases (reads of the
 * area, releases, waits) have no order to keep. */
static void phase_order_check(const struct vl_op *op, int next)
{
	switch (next) {
	case P_P1_WRITE:
		FL_ASSERT(op->phase == P_READ_AREA);
		FL_ASSERT(op->ours.mbal == op->mbal);
		FL_ASSERT(op->ours.lver == op->next_lver);
		break;
	case P_P1_READ: FL_ASSERT(op->phase == P_P1_WRITE); break;
	case P_P2_WRITE:
		FL_ASSERT(op->phase == P_P1_READ);
		FL_ASSERT(op->ours.bal == op->mbal); /* phase 2 accepts at our own ballot */
		break;
	case P_P2_READ: FL_ASSERT(op->phase == P_P2_WRITE); break;
	case P_COMMIT:
		FL_ASSERT(op->phase == P_P2_READ);
		FL_ASSERT(op->res.leader.lver == op->next_lver);
		break;
	default: break;
	}
}

/* Submits one I/O of nsect sectors at sector `sector` of the lease area. */
static int op_submit(struct vl_op *op, int phase, enum fl_io_op kind, uint64_t sector, uint32_t nsect, uint8_t *buf)
{
	FL_ASSERT(nsect > 0);
	FL_ASSERT(buf != NULL);
	phase_order_check(op, phase);
	memset(&op->io, 0, sizeof(op->io));
	op->io.op = kind;
	op->io.offset = op->area.offset + sector * ss_of(op);
	op->io.len = nsect * ss_of(op);
	op->io.buf = buf;
	op->io.cb = op_step_io;
	op->io.arg = op;
	op->phase = phase;
	return fl_bdev_submit(op->area.bdev, &op->io);
}

/* From a callback: submit or finish with the submit error. */
static void op_submit_or_fail(struct vl_op *op, int phase, enum fl_io_op kind, uint64_t sector, uint32_t nsect,
			      uint8_t *buf)
{
	int rv = op_submit(op, phase, kind, sector, nsect, buf);
	if (rv != 0) {
		fl_err("lease %s at %" PRIu64 ": cannot submit I/O: %s", op->area.bdev->name, op->area.offset,
		       fl_strerror(rv));
		op_finish(op, rv);
	}
}

static int ensure_buf(struct vl_op *op, uint32_t sectors)
{
	if (op->buf_sectors >= sectors)
		return 0;
	uint8_t *b = realloc(op->buf, (size_t)sectors * ss_of(op));
	if (b == NULL)
		return -FL_ENOMEM;
	op->buf = b;
	op->buf_sectors = sectors;
	return 0;
}

/* Sectors of the first read: leader, request, and the hinted dblocks, bounded by the device end. */
static uint32_t first_read_sectors(const struct vl_op *op)
{
	uint64_t hint = op->area.num_hosts_hint ? op->area.num_hosts_hint : VL_MAX_HOSTS;
	uint64_t want = 2 + hint;
	if (op->kind == VL_RELEASE)
		want = FL_MIN(want, 2 + op->args.host_id);
	uint64_t avail = (op->area.bdev->size_bytes - op->area.offset) / ss_of(op);
	return (uint32_t)FL_MAX((uint64_t)1, FL_MIN(want, avail));
}

static int start_read_area(struct vl_op *op, uint32_t sectors)
{
	int rv = ensure_buf(op, sectors);
	if (rv != 0)
		return rv;
	return op_submit(op, P_READ_AREA, FL_IO_READ, 0, sectors, op->buf);
}

/* A leader that fails its checksum may be rebuilt by an acquire (see
 * rebuild_evaluate) only if it still looks like this lease: every leader write
 * (commit, release, shared hand-back) copies magic, version, flags, sector
 * size, num_hosts, max_hosts and the names unchanged and rewrites only lver,
 * owner, timestamp and writer, so a torn write (a prefix of the new record
 * over the old one) leaves those fields intact. A sector that is garbage
 * there, or a lease whose names the caller did not give, is not rebuilt: its
 * num_hosts could not be trusted, and a ballot that reads too few dblocks is
 * unsafe. fencelock and sanlock both write max_hosts 2000, the mbal modulus.
 * A torn write leaves num_hosts intact, but media corruption (flipped bits)
 * can change it too, and a smaller num_hosts would hide a live holder's
 * dblock from the rebuild's ballot: the rebuild therefore also needs the
 * caller to know num_hosts (the hint, from the layout the lease was
 * initialised with) and the record to agree with it. */
static bool leader_rebuildable(const struct vl_op *op)
{
	const struct fl_leader *l = &op->cur;
	const struct vl_area *ar = &op->area;
	char name[FL_NAME_LEN + 1];
	if (op->kind == VL_INQUIRE || ar->space_name == NULL || ar->resource_name == NULL)
		return false;
	if (l->magic != FL_PAXOS_MAGIC ||
	    (l->version & FL_VERSION_MAJOR_MASK) != (FL_PAXOS_VERSION & FL_VERSION_MAJOR_MASK) ||
	    l->sector_size != ss_of(op) || l->max_hosts != VL_MAX_HOSTS || l->num_hosts == 0 ||
	    l->num_hosts > VL_MAX_HOSTS)
		return false;
	if ((ar->bdev->size_bytes - ar->offset) / ss_of(op) < 2 + l->num_hosts)
		return false;
	fl_name_get(l->space_name, name);
	if (strcmp(name, ar->space_name) != 0)
		return false;
	fl_name_get(l->resource_name, name);
	if (strcmp(name, ar->resource_name) != 0)
		return false;
	if (ar->num_hosts_hint == 0 || l->num_hosts != ar->num_hosts_hint) {
		if (ar->num_hosts_hint == 0)
			fl_warn("%s at %" PRIu64 ": torn paxos lease leader and no layout to check its num_hosts "
				"against; not rebuilding it",
				ar->bdev->name, ar->offset);
		else
			fl_warn("%s at %" PRIu64 ": torn paxos lease leader says num_hosts %" PRIu64
				", the layout %" PRIu32 "; not rebuilding from a count that cannot be trusted",
				ar->bdev->name, ar->offset, l->num_hosts, ar->num_hosts_hint);
		return false;
	}
	return true;
}

/* Keeps only the fields of a torn leader that leader_rebuildable() trusts. */
static void leader_keep_static(struct fl_leader *l)
{
	struct fl_leader k = {.magic = l->magic, .version = l->version, .flags = l->flags,
			      .sector_size = l->sector_size, .num_hosts = l->num_hosts, .max_hosts = l->max_hosts};
	memcpy(k.space_name, l->space_name, FL_NAME_LEN);
	memcpy(k.resource_name, l->resource_name, FL_NAME_LEN);
	*l = k;
}

/* Checks that sector 0 is this lease; fills op->cur and op->num_hosts, and
 * sets op->rebuild for a torn leader an acquire may rebuild (or a release may
 * work around, see release_torn). */
static int check_leader(struct vl_op *op)
{
	const char *dev = op->area.bdev->name;
	int rv = fl_leader_decode(op->buf, FL_PAXOS_MAGIC, &op->cur);
	op->rebuild = rv == -FL_ECHECKSUM && leader_rebuildable(op);
	if (op->rebuild) {
		fl_warn("%s at %" PRIu64 ": paxos lease leader fails its checksum (torn write?)%s", dev,
			op->area.offset, op->kind == VL_ACQUIRE ? "; rebuilding it from the dblocks" : "");
		leader_keep_static(&op->cur);
		rv = 0;
	}
	op->res.leader = op->cur;
	if (rv == -FL_EMAGIC && op->cur.magic == FL_DELTA_MAGIC) {
		fl_err("%s at %" PRIu64 " is a lockspace (delta lease), not a resource lease; check the offset",
		       dev, op->area.offset);
		return rv;
	}
	if (rv != 0) {
		fl_err("%s at %" PRIu64 ": no valid paxos lease leader (%s); initialise it with 'fencelock direct init -r'",
		       dev, op->area.offset, fl_strerror(rv));
		return rv;
	}
	if (op->cur.magic == FL_PAXOS_CLEAR_MAGIC) {
		fl_err("%s at %" PRIu64 ": the lease was cleared; initialise it again", dev, op->area.offset);
		return -FL_ENOENT;
	}
	if (op->cur.sector_size != ss_of(op)) {
		fl_err("%s at %" PRIu64 ": lease written for %u-byte sectors, device has %u", dev, op->area.offset,
		       op->cur.sector_size, ss_of(op));
		return -FL_ESECTOR;
	}
	char name[FL_NAME_LEN + 1];
	fl_name_get(op->cur.space_name, name);
	if (op->area.space_name && strcmp(name, op->area.space_name) != 0) {
		fl_err("%s at %" PRIu64 ": lease belongs to lockspace '%s', not '%s'", dev, op->area.offset, name,
		       op->area.space_name);
		return -FL_EFOREIGN;
	}
	fl_name_get(op->cur.resource_name, name);
	if (op->area.resource_name && strcmp(name, op->area.resource_name) != 0) {
		fl_err("%s at %" PRIu64 ": lease is resource '%s', not '%s'", dev, op->area.offset, name,
		       op->area.resource_name);
		return -FL_EFOREIGN;
	}
	if (op->cur.num_hosts == 0 || op->cur.num_hosts > VL_MAX_HOSTS || op->cur.max_hosts == 0 ||
	    op->cur.max_hosts > VL_MAX_HOSTS) {
		fl_err("%s at %" PRIu64 ": leader has num_hosts %" PRIu64 " max_hosts %" PRIu64 "; corrupt", dev,
		       op->area.offset, op->cur.num_hosts, op->cur.max_hosts);
		return -FL_ECORRUPT;
	}
	op->num_hosts = op->cur.num_hosts;
	return 0;
}

/* Decodes host h's dblock and mode block from the read buffer. */
static int read_host(const struct vl_op *op, uint64_t h, struct fl_dblock *d, struct fl_mode_block *m)
{
	FL_ASSERT(h >= 1);
	FL_ASSERT(h <= op->num_hosts);
	const uint8_t *p = sector_ptr(op, h + 1);
	fl_mode_decode(p + FL_MODE_OFFSET, m);
	return fl_dblock_decode(p, d);
}

static void encode_our_sector(struct vl_op *op)
{
	memset(op->sec, 0, ss_of(op));
	fl_dblock_encode(&op->ours, op->sec);
	fl_mode_encode(&op->our_mode, op->sec + FL_MODE_OFFSET);
}

/* ---- acquire -------------------------------------------------------------- */

/* Smallest mbal above floor that is ours: mbal = host_id (mod max_hosts). */
static uint64_t next_mbal(uint64_t host_id, uint64_t modulus, uint64_t floor)
{
	FL_ASSERT(host_id >= 1);
	FL_ASSERT(host_id <= modulus);
	uint64_t m = floor - floor % modulus + host_id % modulus;
	while (m <= floor)
		m += modulus;
	FL_ASSERT(m % modulus == host_id % modulus);
	FL_ASSERT(m > floor);
	return m;
}

static void set_busy(struct vl_op *op, uint64_t host, enum vl_owner_state st)
{
	op->res.busy_host_id = host;
	op->res.busy_state = st;
}

/* A lease we may not take yet: wait (bounded) or fail -FL_EBUSY. */
static void owner_blocks(struct vl_op *op, uint64_t host, enum vl_owner_state st)
{
	set_busy(op, host, st);
	if (fl_now_us(op->loop) < op->wait_deadline_us) {
		op->phase = P_WAIT_OWNER;
		fl_timer_after(op->loop, &op->timer, op->args.poll_us);
		return;
	}
	fl_info("lease %s at %" PRIu64 ": held by %s host %" PRIu64, op->area.bdev->name, op->area.offset,
		vl_owner_state_name(st), host);
	op_finish(op, -FL_EBUSY);
}

/* The owner let go through its dblock: either it set RELEASED for this lver
 * (its leader write may have been overwritten by a late commit of the same
 * ballot), or it has since run a ballot for a later lver, which a host does
 * only for a lease it does not hold (op_evaluate never re-runs a ballot on a
 * lease we hold). */
static bool owner_released(const struct vl_op *op, const struct fl_leader *l)
{
	struct fl_dblock d;
	struct fl_mode_block m;
	if (l->owner_id < 1 || l->owner_id > op->num_hosts)
		return false;
	if (read_host(op, l->owner_id, &d, &m) != 0)
		return false;
	return d.lver > l->lver || ((d.flags & FL_DBLOCK_RELEASED) && d.lver == l->lver);
}

/* Loads our dblock and mode block from the area read; false if our sector
 * was torn (it is then restarted from zero). */
static bool load_ours(struct vl_op *op)
{
	uint64_t me = op->args.host_id;
	if (me > op->num_hosts || read_host(op, me, &op->ours, &op->our_mode) != 0) {
		/* Our own sector was torn (we are its only writer): start it afresh.
		 * (A host_id above num_hosts is refused by ballot_start_at.) */
		if (me <= op->num_hosts)
			fl_warn("lease %s at %" PRIu64 ": our dblock (host %" PRIu64 ") is corrupt; rewriting it",
				op->area.bdev->name, op->area.offset, me);
		memset(&op->ours, 0, sizeof(op->ours));
		memset(&op->our_mode, 0, sizeof(op->our_mode));
		return false;
	}
	return true;
}

/* After reading the area: may we run a ballot? (sanlock's owner checks) */
static void op_evaluate(struct vl_op *op)
{
	const struct fl_leader *l = &op->cur;
	const struct vl_acquire_args *a = &op->args;
	load_ours(op);
	if (op->next_lver != 0 && l->lver == op->next_lver && l->owner_id == a->host_id &&
	    l->owner_generation == a->generation && l->timestamp != 0) {
		op->res.leader = *l; /* another host committed the value we proposed */
		committed(op);
		return;
	}
	if (a->acquire_lver != 0 && l->lver != a->acquire_lver) {
		fl_err("lease %s at %" PRIu64 ": lver is %" PRIu64 ", hand-off expected %" PRIu64
		       "; another host took the lease in between",
		       op->area.bdev->name, op->area.offset, l->lver, a->acquire_lver);
		op_finish(op, -FL_ESTALE);
		return;
	}
	if (!vl_leader_held(l) || owner_released(op, l)) {
		ballot_start(op);
		return;
	}
	if (l->owner_id == a->host_id && l->owner_generation == a->generation) {
		if (a->shared) {
			ballot_start(op);
			return;
		}
		op->res.leader = *l; /* already ours: nothing to do */
		op_finish(op, 0);
		return;
	}
	enum vl_owner_state st = a->owner_state(a->owner_ctx, l->owner_id, l->owner_generation);
	if (vl_owner_takeable(st)) {
		fl_notice("lease %s at %" PRIu64 ": taking over from host %" PRIu64 " gen %" PRIu64 " (%s)",
			  op->area.bdev->name, op->area.offset, l->owner_id, l->owner_generation,
			  vl_owner_state_name(st));
		ballot_start(op);
		return;
	}
	owner_blocks(op, l->owner_id, st);
}

static void ballot_start(struct vl_op *op) { ballot_start_at(op, op->cur.lver + 1); }

/* Phase 1 of a ballot at lver: the next one (ballot_start), or, to rebuild a
 * torn leader, the highest lver in the dblocks (rebuild_evaluate). */
static void ballot_start_at(struct vl_op *op, uint64_t lver)
{
	const struct vl_acquire_args *a = &op->args;
	FL_ASSERT(lver >= 1);
	if (a->host_id > op->num_hosts) {
		fl_err("lease %s at %" PRIu64 ": host_id %" PRIu64 " above the lease's num_hosts %" PRIu64,
		       op->area.bdev->name, op->area.offset, a->host_id, op->num_hosts);
		op_finish(op, -FL_EINVAL);
		return;
	}
	op->next_lver = lver;
	uint64_t floor = FL_MAX(op->ours.mbal, op->max_mbal_seen);
	op->mbal = floor == 0 ? a->host_id : next_mbal(a->host_id, op->cur.max_hosts, floor);
	/* A rebuild keeps our RELEASED flag for its lver: the value it re-chooses
	 * may be a hold of ours that we released, and acquirers must still see
	 * that (see rebuild_committed). */
	uint32_t keep = op->rebuild && op->ours.lver == lver ? op->ours.flags & FL_DBLOCK_RELEASED : 0;
	if (op->ours.lver != op->next_lver) {
		/* Values accepted for an older lver do not carry over. */
		op->ours.bal = op->ours.inp = op->ours.inp2 = op->ours.inp3 = 0;
	}
	op->ours.mbal = op->mbal;
	op->ours.lver = op->next_lver;
	op->ours.flags = keep;
	if (!a->shared)
		memset(&op->our_mode, 0, sizeof(op->our_mode));
	op->res.ballots++;
	encode_our_sector(op);
	op_submit_or_fail(op, P_P1_WRITE, FL_IO_WRITE, a->host_id + 1, 1, op->sec);
}

/* A torn dblock (its writer crashed mid-write) is skipped only once its
 * host is dead or its host_id free: such a sector never holds the only copy
 * of a chosen value, because a host that completes phase 2 commits without
 * running another ballot for that lver, and anyone who adopted its value
 * wrote it into a dblock of its own. A live host's torn sector is retried
 * (its host rewrites it on its next ballot). Generation 0 asks about the
 * host_id regardless of generation. */
static bool corrupt_host_gone(const struct vl_op *op, uint64_t h)
{
	enum vl_owner_state st = op->args.owner_state(op->args.owner_ctx, h, 0);
	return st == VL_OWNER_FREE || st == VL_OWNER_DEAD;
}

/* Reads every other dblock after a phase write; returns the verdict and,
 * for phase 1, the highest accepted value of this lver in *best. */
static enum scan_verdict scan_dblocks(struct vl_op *op, struct fl_dblock *best)
{
	FL_ASSERT(op->num_hosts <= VL_MAX_HOSTS);
	for (uint64_t h = 1; h <= op->num_hosts; h++) {
		struct fl_dblock d;
		struct fl_mode_block m;
		if (h == op->args.host_id)
			continue;
		if (read_host(op, h, &d, &m) != 0) {
			if (corrupt_host_gone(op, h))
				continue;
			fl_debug("lease %s: dblock of host %" PRIu64 " corrupt during ballot", op->area.bdev->name, h);
			return SCAN_CORRUPT;
		}
		if (d.lver > op->next_lver)
			return SCAN_ABORT_LVER;
		if (d.lver < op->next_lver)
			continue;
		op->max_mbal_seen = FL_MAX(op->max_mbal_seen, d.mbal);
		if (d.mbal > op->mbal)
			return SCAN_ABORT_MBAL;
		if (best != NULL && d.bal > best->bal)
			*best = d;
	}
	return SCAN_OK;
}

static void backoff_fn(struct fl_timer *t, void *arg)
{
	struct vl_op *op = arg;
	(void)t;
	FL_ASSERT(op->running);
	int rv = start_read_area(op, (uint32_t)FL_MIN(2 + op->num_hosts, first_read_sectors(op)));
	if (rv != 0)
		op_finish(op, rv);
}

/* A ballot aborted: back off for a random time and start over, bounded. */
static void ballot_retry(struct vl_op *op, enum scan_verdict why)
{
	op->restarts++;
	uint32_t max = op->args.max_ballots;
	if (op->restarts >= max) {
		int rv = why == SCAN_CORRUPT ? -FL_ECHECKSUM : -FL_EAGAIN;
		const char *what = why != SCAN_CORRUPT ? "contention"
				   : op->rebuild ? "the leader fails its checksum and a live host's dblock stays "
						   "corrupt: it cannot be rebuilt until that host rewrites its dblock"
						 : "a dblock stays corrupt: a host's write was torn and not redone";
		fl_warn("lease %s at %" PRIu64 ": gave up after %u ballots (%s)", op->area.bdev->name,
			op->area.offset, op->restarts, what);
		op_finish(op, rv);
		return;
	}
	uint64_t delay = fl_rand_range(op->args.rand, 1, FL_MAX((uint64_t)1, op->args.backoff_max_us));
	op->phase = P_BACKOFF;
	fl_timer_after(op->loop, &op->timer, delay);
}

static void phase1_done(struct vl_op *op)
{
	/* Our own earlier acceptance for this lver counts like anyone's. */
	struct fl_dblock best = op->ours.lver == op->next_lver ? op->ours : (struct fl_dblock){0};
	enum scan_verdict v = scan_dblocks(op, &best);
	if (v != SCAN_OK) {
		ballot_retry(op, v);
		return;
	}
	if (best.bal != 0) {
		op->chosen = best;  /* Disk Paxos: carry the highest accepted value */
	} else {
		op->chosen.inp = op->args.host_id;
		op->chosen.inp2 = op->args.generation;
		op->chosen.inp3 = FL_MAX((uint64_t)1, fl_now_us(op->loop) / FL_US_PER_S);
	}
	op->ours.bal = op->mbal;
	op->ours.inp = op->chosen.inp;
	op->ours.inp2 = op->chosen.inp2;
	op->ours.inp3 = op->chosen.inp3;
	encode_our_sector(op);
	op_submit_or_fail(op, P_P2_WRITE, FL_IO_WRITE, op->args.host_id + 1, 1, op->sec);
}

static void phase2_done(struct vl_op *op)
{
	enum scan_verdict v = scan_dblocks(op, NULL);
	if (v != SCAN_OK) {
		ballot_retry(op, v);
		return;
	}
	struct fl_leader nl = op->cur;
	nl.lver = op->next_lver;
	nl.owner_id = op->ours.inp;
	nl.owner_generation = op->ours.inp2;
	nl.timestamp = op->ours.inp3;
	nl.write_id = op->args.host_id;
	nl.write_generation = op->args.generation;
	nl.write_timestamp = FL_MAX((uint64_t)1, fl_now_us(op->loop) / FL_US_PER_S);
	memset(op->sec, 0, ss_of(op));
	fl_leader_encode(&nl, op->sec);
	op->res.leader = nl;
	op_submit_or_fail(op, P_COMMIT, FL_IO_WRITE, 0, 1, op->sec);
}

/* Exclusive: a live shared holder (another host's SHARED mode block) blocks
 * us. Uses the phase-2 read, which is recent enough: a shared holder sets
 * its mode block before it releases the lver we had to wait for. */
static uint64_t live_shared_holder(struct vl_op *op, enum vl_owner_state *st)
{
	for (uint64_t h = 1; h <= op->num_hosts; h++) {
		struct fl_dblock d;
		struct fl_mode_block m;
		if (h == op->args.host_id)
			continue;
		(void)read_host(op, h, &d, &m);
		if (!(m.flags & FL_MODE_SHARED))
			continue;
		*st = op->args.owner_state(op->args.owner_ctx, h, m.generation);
		if (!vl_owner_takeable(*st))
			return h;
	}
	return 0;
}

/* Writes our sector with RELEASED, then (if we wrote it) the leader with timestamp 0. */
static void release_exclusive(struct vl_op *op, int final_rv)
{
	op->final_rv = final_rv;
	op->ours.flags |= FL_DBLOCK_RELEASED;
	encode_our_sector(op);
	op_submit_or_fail(op, P_REL_DBLOCK, FL_IO_WRITE, op->args.host_id + 1, 1, op->sec);
}

static void committed(struct vl_op *op)
{
	const struct fl_leader *l = &op->res.leader;
	fl_debug("lease %s: host %" PRIu64 " sees lver %" PRIu64 " committed to host %" PRIu64 " by %" PRIu64,
		 op->area.bdev->name, op->args.host_id, l->lver, l->owner_id, l->write_id);
	if (l->owner_id != op->args.host_id || l->owner_generation != op->args.generation) {
		set_busy(op, l->owner_id, VL_OWNER_UNKNOWN);
		fl_info("lease %s at %" PRIu64 ": ballot for lver %" PRIu64 " chose host %" PRIu64,
			op->area.bdev->name, op->area.offset, l->lver, l->owner_id);
		op_finish(op, -FL_EBUSY);
		return;
	}
	if (op->args.shared) {
		op->our_mode.flags = FL_MODE_SHARED;
		op->our_mode.generation = op->args.generation;
		op->ours.flags |= FL_DBLOCK_RELEASED;
		op->final_rv = 0;
		encode_our_sector(op);
		op_submit_or_fail(op, P_SH_MODE, FL_IO_WRITE, op->args.host_id + 1, 1, op->sec);
		return;
	}
	enum vl_owner_state st = VL_OWNER_UNKNOWN;
	uint64_t h = live_shared_holder(op, &st);
	if (h != 0) {
		set_busy(op, h, st);
		fl_info("lease %s at %" PRIu64 ": shared holder host %" PRIu64 " is %s; exclusive refused",
			op->area.bdev->name, op->area.offset, h, vl_owner_state_name(st));
		release_exclusive(op, -FL_EBUSY);
		return;
	}
	op_finish(op, 0);
}

static void write_free_leader(struct vl_op *op)
{
	struct fl_leader nl = op->res.leader;
	nl.timestamp = 0;
	nl.write_id = op->args.host_id;
	nl.write_generation = op->args.generation;
	nl.write_timestamp = FL_MAX((uint64_t)1, fl_now_us(op->loop) / FL_US_PER_S);
	memset(op->sec, 0, ss_of(op));
	fl_leader_encode(&nl, op->sec);
	op->res.leader = nl;
	op_submit_or_fail(op, P_REL_LEADER, FL_IO_WRITE, 0, 1, op->sec);
}

/* ---- rebuilding a torn leader ------------------------------------------------
 *
 * A torn write (a crash or device fault mid-write) can leave the leader
 * record failing its checksum; sanlock then refuses the lease until an
 * operator runs init. In Disk Paxos the leader only caches the value decided
 * at its lver: the consensus state is in the dblocks, each with its own
 * checksum and a single writer. An acquire therefore rebuilds the leader from
 * them with a real ballot (never by calling the lease free). Facts used:
 *  (1) A dblock at lver L is written only by a ballot at L, which runs after a
 *      leader at L - 1 was read and its owner found released or takeable (or,
 *      for a rebuild, when a dblock at L already exists). So the highest lver
 *      in the dblocks, top, is the lver of the last commit or the one after
 *      it, never beyond.
 *  (2) A value is chosen at L only by a completed phase 2: it is then in the
 *      dblock (bal != 0) of its proposer and of every host that adopted it,
 *      and a host rewrites its dblock at the same lver only keeping bal/inp
 *      (a retried phase 1, RELEASED).
 * A ballot at top reads every dblock like any ballot, so if a value was chosen
 * at top it re-chooses that value (Paxos: a later ballot of the same instance
 * proposes the highest-bal value it sees); a ballot at top + 1 could instead
 * choose us over a live host's hold at top. If nothing was accepted at top, no
 * leader at top was ever committed: the instance is open, and the host that
 * opened it found the previous owner released or takeable, a verdict that
 * does not go back (a dead generation stays dead, a free host_id returns with
 * a newer generation, RELEASED is only replaced by a later lver); proposing
 * ourselves is what that host's own ballot could do. The outcome is committed
 * like any commit, at lver top, and the acquire goes on from it by the normal
 * rules (rebuild_committed).
 * The dblocks cannot tell, and the acquire fails with -FL_ECHECKSUM (never
 * guessing) when no valid dblock has an lver (nothing to re-choose: the lease
 * was not acquired since init, or every dblock is lost), or a dblock fails its
 * checksum and its host is not DEAD or FREE (it may hold the only copy of a
 * chosen value; retried as in a ballot, since its host rewrites it on its
 * next ballot). A corrupt dblock of a dead or free host is skipped as in
 * scan_dblocks: whatever it won is takeable anyway. Our own corrupt dblock is
 * restarted as in op_evaluate, and rewritten before we wait for another's, so
 * that two live hosts with torn dblocks do not wait for each other forever.
 * Never rebuilt: a leader that is not recognisably this lease (see
 * leader_rebuildable), and nothing but an acquire rebuilds (inquire keeps
 * reporting the bad checksum; a release only sets our RELEASED, release_torn). */

/* Highest lver among the dblocks (ours as loaded) and the highest mbal at it;
 * SCAN_CORRUPT with *bad set for a corrupt dblock of a host that may be live. */
static enum scan_verdict rebuild_scan(struct vl_op *op, uint64_t *top, uint64_t *top_mbal, uint64_t *bad)
{
	*top = op->ours.lver;
	*top_mbal = op->ours.mbal;
	for (uint64_t h = 1; h <= op->num_hosts; h++) {
		struct fl_dblock d;
		struct fl_mode_block m;
		if (h == op->args.host_id)
			continue;
		if (read_host(op, h, &d, &m) != 0) {
			if (corrupt_host_gone(op, h))
				continue;
			*bad = h;
			return SCAN_CORRUPT;
		}
		if (d.lver > *top) {
			*top = d.lver;
			*top_mbal = 0;
		}
		if (d.lver == *top)
			*top_mbal = FL_MAX(*top_mbal, d.mbal);
	}
	return SCAN_OK;
}

/* The area read found a torn leader (op->rebuild): ballot at the top lver. */
static void rebuild_evaluate(struct vl_op *op)
{
	const struct vl_acquire_args *a = &op->args;
	const char *dev = op->area.bdev->name;
	uint64_t top = 0, top_mbal = 0, bad = 0;
	bool ours_ok = load_ours(op);
	if (op->res.rebuilds >= a->max_ballots) {
		fl_warn("lease %s at %" PRIu64 ": leader torn again after %u rebuilds; giving up", dev,
			op->area.offset, op->res.rebuilds);
		op_finish(op, -FL_EAGAIN);
		return;
	}
	if (rebuild_scan(op, &top, &top_mbal, &bad) != SCAN_OK) {
		fl_warn("lease %s at %" PRIu64 ": leader fails its checksum and the dblock of host %" PRIu64
			" (not dead) is corrupt too: waiting for it to be rewritten",
			dev, op->area.offset, bad);
		if (!ours_ok && a->host_id <= op->num_hosts) {
			/* That host may be waiting for ours: rewrite it (zero, as
			 * op_evaluate would restart it) so that it can go on. */
			encode_our_sector(op);
			op_submit_or_fail(op, P_RB_OURS, FL_IO_WRITE, a->host_id + 1, 1, op->sec);
			return;
		}
		ballot_retry(op, SCAN_CORRUPT);
		return;
	}
	FL_ASSERT(top >= op->ours.lver);
	if (top == 0) {
		fl_err("%s at %" PRIu64 ": no valid paxos lease leader (bad checksum) and no dblock records a "
		       "ballot to rebuild it from; initialise it with 'fencelock direct init -r'",
		       dev, op->area.offset);
		op_finish(op, -FL_ECHECKSUM);
		return;
	}
	if (a->acquire_lver != 0 && top != a->acquire_lver && top != a->acquire_lver + 1) {
		fl_err("lease %s at %" PRIu64 ": leader torn and the dblocks are at lver %" PRIu64
		       ", hand-off expected %" PRIu64 "; the lease moved",
		       dev, op->area.offset, top, a->acquire_lver);
		op_finish(op, -FL_ESTALE);
		return;
	}
	op->res.rebuilds++;
	op->max_mbal_seen = FL_MAX(op->max_mbal_seen, top_mbal);
	fl_notice("lease %s at %" PRIu64 ": rebuilding the leader with a ballot at lver %" PRIu64
		  " (the highest in the dblocks)",
		  dev, op->area.offset, top);
	ballot_start_at(op, top);
}

/* The rebuilt leader is on disk. If it names us and our dblock does not say
 * we released it, our value was chosen at top (by this ballot or an earlier
 * one of ours that failed before or during its commit): we won top like any
 * ballot, and committed() does the rest (shared-holder check, shared
 * hand-back). Otherwise read the area again and let op_evaluate judge the
 * rebuilt leader as any other: a live owner -> -FL_EBUSY; released or
 * takeable (or us with an older generation) -> a ballot at top + 1. next_lver
 * is cleared so that op_evaluate's "our value was committed" shortcut does not
 * skip its checks; the rebuild kept our RELEASED flag at top (ballot_start_at)
 * so that a hold of ours we released is not revived. */
static void rebuild_committed(struct vl_op *op)
{
	const struct fl_leader *l = &op->res.leader;
	FL_ASSERT(op->rebuild);
	FL_ASSERT(l->lver == op->next_lver);
	op->rebuild = false;
	fl_notice("lease %s at %" PRIu64 ": leader rebuilt at lver %" PRIu64 ": owner %" PRIu64 " generation %" PRIu64,
		  op->area.bdev->name, op->area.offset, l->lver, l->owner_id, l->owner_generation);
	if (l->owner_id == op->args.host_id && l->owner_generation == op->args.generation &&
	    !(op->ours.flags & FL_DBLOCK_RELEASED)) {
		committed(op);
		return;
	}
	op->next_lver = 0;
	int rv = start_read_area(op, (uint32_t)(2 + op->num_hosts));
	if (rv != 0)
		op_finish(op, rv);
}

/* ---- release and inquire --------------------------------------------------- */

/* Exclusive release under a torn leader: our dblock alone says whether we
 * hold it (our value accepted at its lver and not released). RELEASED is all
 * a release needs (acquirers, the rebuild included, read it in the owner's
 * dblock); the leader is left for the next acquire to rebuild. Setting it
 * when the chosen value is not ours is harmless: only the owner's flag counts. */
static void release_torn(struct vl_op *op)
{
	const struct vl_acquire_args *a = &op->args;
	const struct fl_dblock *d = &op->ours;
	if (d->bal == 0 || d->inp != a->host_id || d->inp2 != a->generation || (d->flags & FL_DBLOCK_RELEASED)) {
		fl_err("lease %s at %" PRIu64 ": leader fails its checksum and our dblock (lver %" PRIu64
		       ") shows no hold of host %" PRIu64 " generation %" PRIu64,
		       op->area.bdev->name, op->area.offset, d->lver, a->host_id, a->generation);
		op_finish(op, -FL_ENOENT);
		return;
	}
	op->res.leader = op->cur; /* write_id 0: the leader is not rewritten */
	release_exclusive(op, 0);
}

static void release_evaluate(struct vl_op *op)
{
	const struct vl_acquire_args *a = &op->args;
	if (read_host(op, a->host_id, &op->ours, &op->our_mode) != 0) {
		fl_err("lease %s at %" PRIu64 ": our dblock (host %" PRIu64 ") is corrupt", op->area.bdev->name,
		       op->area.offset, a->host_id);
		op_finish(op, -FL_ECHECKSUM);
		return;
	}
	if ((op->our_mode.flags & FL_MODE_SHARED) && op->our_mode.generation == a->generation) {
		memset(&op->our_mode, 0, sizeof(op->our_mode));
		encode_our_sector(op);
		op_submit_or_fail(op, P_CLEAR_MODE, FL_IO_WRITE, a->host_id + 1, 1, op->sec);
		return;
	}
	if (op->rebuild) {
		release_torn(op);
		return;
	}
	const struct fl_leader *l = &op->cur;
	if (!vl_leader_held(l) || l->owner_id != a->host_id || l->owner_generation != a->generation) {
		fl_err("lease %s at %" PRIu64 ": not held by host %" PRIu64 " generation %" PRIu64
		       " (owner %" PRIu64 " generation %" PRIu64 "%s)",
		       op->area.bdev->name, op->area.offset, a->host_id, a->generation, l->owner_id,
		       l->owner_generation, l->timestamp ? "" : ", free");
		op_finish(op, -FL_ENOENT);
		return;
	}
	op->res.leader = *l;
	release_exclusive(op, 0);
}

static void inquire_fill(struct vl_op *op)
{
	op->res.held = vl_leader_held(&op->cur) && !owner_released(op, &op->cur);
	op->res.shared_count = 0;
	op->res.corrupt_dblocks = 0;
	for (uint64_t h = 1; h <= op->num_hosts; h++) {
		struct fl_dblock d;
		struct fl_mode_block m;
		if (read_host(op, h, &d, &m) != 0)
			op->res.corrupt_dblocks++;
		if (!(m.flags & FL_MODE_SHARED))
			continue;
		uint32_t i = op->res.shared_count++;
		if (i < VL_MAX_SHARED) {
			op->res.shared_host[i] = h;
			op->res.shared_gen[i] = m.generation;
		}
	}
	op_finish(op, 0);
}

/* ---- dispatch ---------------------------------------------------------------- */

static void area_read_done(struct vl_op *op)
{
	int rv = check_leader(op);
	if (rv != 0) {
		op_finish(op, rv);
		return;
	}
	uint64_t need = op->kind == VL_RELEASE ? 2 + op->args.host_id : 2 + op->num_hosts;
	if (op->kind == VL_RELEASE && op->args.host_id > op->num_hosts) {
		op_finish(op, -FL_EINVAL);
		return;
	}
	if (op->io.len / ss_of(op) < need) {
		/* The hint was short: read the whole area once more. */
		rv = start_read_area(op, (uint32_t)need);
		if (rv != 0)
			op_finish(op, rv);
		return;
	}
	if (op->kind == VL_ACQUIRE && op->rebuild)
		rebuild_evaluate(op);
	else if (op->kind == VL_ACQUIRE)
		op_evaluate(op);
	else if (op->kind == VL_RELEASE)
		release_evaluate(op);
	else
		inquire_fill(op);
}

static void op_step_io(struct fl_io *io, int result)
{
	struct vl_op *op = io->arg;
	FL_ASSERT(io == &op->io);
	if (!op->running)
		return; /* cancelled while this I/O was in flight */
	if (result != 0) {
		fl_err("lease %s at %" PRIu64 ": %s of %u bytes at %" PRIu64 " failed: %s", op->area.bdev->name,
		       op->area.offset, io->op == FL_IO_READ ? "read" : "write", io->len, io->offset,
		       fl_strerror(result));
		op_finish(op, result);
		return;
	}
	uint32_t ss = ss_of(op);
	switch (op->phase) {
	case P_READ_AREA: area_read_done(op); break;
	case P_P1_WRITE:
	case P_P2_WRITE:
		op_submit_or_fail(op, op->phase == P_P1_WRITE ? P_P1_READ : P_P2_READ, FL_IO_READ, 2,
				  (uint32_t)op->num_hosts, op->buf + 2 * ss);
		break;
	case P_P1_READ: phase1_done(op); break;
	case P_P2_READ: phase2_done(op); break;
	case P_COMMIT:
		if (op->rebuild)
			rebuild_committed(op);
		else
			committed(op);
		break;
	case P_SH_MODE:
	case P_REL_DBLOCK:
		if (op->res.leader.write_id == op->args.host_id)
			write_free_leader(op);
		else
			op_finish(op, op->final_rv);
		break;
	case P_REL_LEADER:
	case P_CLEAR_MODE: op_finish(op, op->final_rv); break;
	case P_RB_OURS: ballot_retry(op, SCAN_CORRUPT); break;
	default: FL_UNREACHABLE("vl_op: I/O completion in a non-I/O phase");
	}
}

static void wait_owner_fn(struct fl_timer *t, void *arg)
{
	struct vl_op *op = arg;
	(void)t;
	FL_ASSERT(op->running);
	FL_ASSERT(op->phase == P_WAIT_OWNER);
	int rv = start_read_area(op, (uint32_t)(2 + op->num_hosts));
	if (rv != 0)
		op_finish(op, rv);
}

static void timer_fn(struct fl_timer *t, void *arg)
{
	struct vl_op *op = arg;
	if (op->phase == P_BACKOFF)
		backoff_fn(t, arg);
	else
		wait_owner_fn(t, arg);
}

static int op_init(struct vl_op *op, enum vl_kind kind, const struct vl_area *area, vl_done_fn done, void *arg)
{
	FL_ASSERT(op != NULL);
	FL_ASSERT(area != NULL);
	FL_ASSERT(area->bdev != NULL);
	struct fl_bdev *d = area->bdev;
	if (area->offset % d->sector_size != 0)
		return -FL_EALIGN;
	if (area->offset >= d->size_bytes || d->size_bytes - area->offset < 2ull * d->sector_size)
		return -FL_ETOOSMALL;
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->area = *area;
	op->done = done;
	op->done_arg = arg;
	op->loop = d->loop;
	fl_timer_init(&op->timer, timer_fn, op);
	op->sec = calloc(1, d->sector_size);
	return op->sec == NULL ? -FL_ENOMEM : 0;
}

static int op_begin(struct vl_op *op)
{
	op->running = true;
	int rv = start_read_area(op, first_read_sectors(op));
	if (rv != 0) {
		op->running = false;
		vl_op_free(op);
	}
	return rv;
}

int vl_acquire_start(struct vl_op *op, const struct vl_area *area, const struct vl_acquire_args *args,
		     vl_done_fn done, void *arg)
{
	FL_ASSERT(args != NULL);
	FL_ASSERT(args->owner_state != NULL);
	FL_ASSERT(args->rand != NULL);
	if (args->host_id == 0 || args->host_id > VL_MAX_HOSTS || args->generation == 0)
		return -FL_EINVAL;
	int rv = op_init(op, VL_ACQUIRE, area, done, arg);
	if (rv != 0)
		return rv;
	op->args = *args;
	if (op->args.max_ballots == 0)
		op->args.max_ballots = VL_DEFAULT_MAX_BALLOTS;
	if (op->args.backoff_max_us == 0)
		op->args.backoff_max_us = VL_DEFAULT_BACKOFF_MAX_US;
	if (op->args.poll_us == 0)
		op->args.poll_us = FL_US_PER_S;
	op->wait_deadline_us = fl_now_us(op->loop) + args->wait_us;
	return op_begin(op);
}

int vl_release_start(struct vl_op *op, const struct vl_area *area, uint64_t host_id, uint64_t generation,
		     vl_done_fn done, void *arg)
{
	if (host_id == 0 || host_id > VL_MAX_HOSTS || generation == 0)
		return -FL_EINVAL;
	int rv = op_init(op, VL_RELEASE, area, done, arg);
	if (rv != 0)
		return rv;
	op->args.host_id = host_id;
	op->args.generation = generation;
	return op_begin(op);
}

int vl_inquire_start(struct vl_op *op, const struct vl_area *area, vl_done_fn done, void *arg)
{
	int rv = op_init(op, VL_INQUIRE, area, done, arg);
	return rv != 0 ? rv : op_begin(op);
}

void vl_op_cancel(struct vl_op *op)
{
	if (!op->running)
		return;
	op->running = false;
	op->done = NULL;
	fl_timer_cancel(op->loop, &op->timer);
	/* An I/O in flight still calls back: keep the op valid until then. */
}

void vl_op_free(struct vl_op *op)
{
	FL_ASSERT(!op->running);
	free(op->buf);
	free(op->sec);
	op->buf = op->sec = NULL;
	op->buf_sectors = 0;
}

int vl_wait_sync(struct vl_op *op, struct fl_bdev *bdev)
{
	uint32_t idle = 0;
	/* Bounded: every step has a device deadline or a bounded timer. */
	while (op->running) {
		int rv = bdev->ops->poll(bdev, 100 * FL_US_PER_MS);
		if (rv != 0 && op->running && ++idle > 10000) {
			vl_op_cancel(op);
			return rv;
		}
	}
	return op->res.rv;
}

/* ---- init and state strings ------------------------------------------------ */

int vl_init_sync(struct fl_bdev *bdev, uint64_t offset, uint64_t area_bytes, const char *space_name,
		 const char *resource_name, uint32_t num_hosts, uint32_t align_flag)
{
	uint32_t ss = bdev->sector_size;
	FL_ASSERT(num_hosts >= 1);
	FL_ASSERT(num_hosts <= VL_MAX_HOSTS);
	if (area_bytes < (2ull + num_hosts) * ss || area_bytes % ss != 0 || offset % ss != 0)
		return -FL_EINVAL;
	if (offset > bdev->size_bytes || bdev->size_bytes - offset < area_bytes)
		return -FL_ETOOSMALL;
	struct fl_leader l = {.magic = FL_PAXOS_MAGIC, .version = FL_PAXOS_VERSION, .flags = align_flag,
			      .sector_size = ss, .num_hosts = num_hosts, .max_hosts = VL_MAX_HOSTS};
	if (fl_name_set(l.space_name, space_name) != 0 || fl_name_set(l.resource_name, resource_name) != 0)
		return -FL_EINVAL;
	uint8_t *zero = calloc(1, (size_t)area_bytes - ss);
	uint8_t *sec = calloc(1, ss);
	int rv = -FL_ENOMEM;
	if (zero == NULL || sec == NULL)
		goto out;
	struct fl_request rq = {.magic = FL_REQUEST_MAGIC, .version = FL_REQUEST_VERSION};
	fl_request_encode(&rq, zero);
	rv = fl_bdev_write_sync(bdev, offset + ss, zero, (uint32_t)(area_bytes - ss));
	if (rv != 0)
		goto out;
	fl_leader_encode(&l, sec);
	rv = fl_bdev_write_sync(bdev, offset, sec, ss);
out:
	free(zero);
	free(sec);
	return rv;
}

int vl_state_format(const struct fl_leader *l, char out[VL_STATE_STR_LEN])
{
	char sp[FL_NAME_LEN + 1], rs[FL_NAME_LEN + 1];
	fl_name_get(l->space_name, sp);
	fl_name_get(l->resource_name, rs);
	int n = snprintf(out, VL_STATE_STR_LEN, "fl1:%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%s:%s", l->lver,
			 l->owner_id, l->owner_generation, sp, rs);
	return n > 0 && n < VL_STATE_STR_LEN ? 0 : -FL_EINVAL;
}

int vl_state_parse(const char *s, uint64_t *lver, uint64_t *owner_id, uint64_t *generation)
{
	unsigned long long a, b, c;
	int used = 0;
	if (sscanf(s, "fl1:%llu:%llu:%llu:%n", &a, &b, &c, &used) != 3 || used == 0)
		return -FL_EINVAL;
	*lver = a;
	*owner_id = b;
	*generation = c;
	return 0;
}
