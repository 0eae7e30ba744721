/* The arbiter's mailbox work, asynchronous and one job at a time:
 *   MBJ_OWN   read our own mailbox (after every renewal), obey fence requests,
 *             and write our status and acknowledgements;
 *   MBJ_SEND  write a request (fence, clear, test) into another host's box;
 *   MBJ_READ  read another host's box (the leader watching a fence target).
 * Ordering is the point: a FENCE request is acknowledged FENCED, and our
 * status turns FENCED, only once every local VM is dead and its leases are
 * released. A leader that sees FENCED takes the host's VMs over at once, so an
 * early acknowledgement would let it start a second writer. A CLEAR is obeyed
 * only when no FENCE is pending at the same time (a fence wins). Each sector
 * has one writer (disklock/mailbox.h), so nothing here can overwrite a
 * request another host is writing. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"
#include "plugin/arbiter/arb_mutant.h"

static void mb_next_job(struct arb *a);

int arb_mb_init(struct arb *a)
{
	a->mb.geom.bdev = a->cfg.bdev;
	a->mb.geom.offset = a->cfg.layout.mailbox_offset;
	a->mb.geom.box_bytes = a->cfg.layout.mailbox_bytes;
	a->mb.geom.max_hosts = a->cfg.layout.max_hosts;
	uint32_t ss = a->cfg.bdev->sector_size;
	a->mb.buf = calloc(mb_box_sectors(&a->mb.geom), ss);
	a->mb.sec = calloc(1, ss);
	a->mb.box = calloc(1, sizeof(*a->mb.box));
	if (a->mb.buf == NULL || a->mb.sec == NULL || a->mb.box == NULL)
		return -FL_ENOMEM;
	return 0;
}

void arb_mb_free(struct arb *a)
{
	free(a->mb.buf);
	free(a->mb.sec);
	free(a->mb.box);
}

bool arb_mb_queued(const struct arb *a, uint8_t kind, uint64_t host)
{
	if (a->mb.busy && a->mb.cur.kind == kind && a->mb.cur.host == host)
		return true;
	for (uint32_t i = 0; i < a->mb.q_len; i++) {
		const struct arb_mb_job *j = &a->mb.q[(a->mb.q_head + i) % ARB_MB_QUEUE];
		if (j->kind == kind && j->host == host)
			return true;
	}
	return false;
}

void arb_mb_enqueue(struct arb *a, uint8_t kind, uint64_t host, uint8_t req)
{
	FL_ASSERT(host >= 1);
	FL_ASSERT(host <= a->mb.geom.max_hosts);
	/* A job already waiting covers this one (jobs read before they write);
	 * a job already running does not: it may have read too early. */
	for (uint32_t i = 0; i < a->mb.q_len; i++) {
		const struct arb_mb_job *j = &a->mb.q[(a->mb.q_head + i) % ARB_MB_QUEUE];
		if (j->kind == kind && j->host == host && j->req == req)
			return;
	}
	if (a->mb.q_len == ARB_MB_QUEUE) {
		fl_warn("host %" PRIu64 ": mailbox queue full, job dropped", a->cfg.host_id);
		return;
	}
	a->mb.q[(a->mb.q_head + a->mb.q_len) % ARB_MB_QUEUE] = (struct arb_mb_job){.kind = kind, .req = req, .host = host};
	a->mb.q_len++;
	if (!a->mb.busy)
		mb_next_job(a);
}

static void mb_io_done(struct fl_io *io, int result);

static void mb_submit(struct arb *a, enum fl_io_op op, uint64_t offset, void *buf, uint32_t len)
{
	a->mb.io = (struct fl_io){.op = op, .offset = offset, .len = len, .buf = buf,
				  .timeout_us = (uint64_t)a->cfg.layout.io_timeout_ms * FL_US_PER_MS, .cb = mb_io_done, .arg = a};
	int rv = fl_bdev_submit(a->cfg.bdev, &a->mb.io);
	if (rv != 0) {
		fl_warn("host %" PRIu64 ": mailbox I/O on %s: %s", a->cfg.host_id, a->cfg.bdev->name, fl_strerror(rv));
		a->mb.busy = false;
		mb_next_job(a);
	}
}

static void mb_next_job(struct arb *a)
{
	if (a->mb.q_len == 0) {
		a->mb.busy = false;
		return;
	}
	a->mb.cur = a->mb.q[a->mb.q_head];
	a->mb.q_head = (a->mb.q_head + 1) % ARB_MB_QUEUE;
	a->mb.q_len--;
	a->mb.busy = true;
	a->mb.wn = a->mb.wi = 0;
	uint32_t ss = a->cfg.bdev->sector_size;
	mb_submit(a, FL_IO_READ, mb_box_offset(&a->mb.geom, a->mb.cur.host), a->mb.buf, mb_box_sectors(&a->mb.geom) * ss);
}

static void mb_plan(struct arb *a, uint32_t sector, const struct mb_record *r)
{
	FL_ASSERT(a->mb.wn < ARB_MB_MAX_WRITES);
	a->mb.wsec[a->mb.wn] = sector;
	a->mb.wrec[a->mb.wn] = *r;
	a->mb.wn++;
}

/* Decides what our own mailbox says we must do, and what to write back. */
static void mb_own_plan(struct arb *a, const struct mb_box *b)
{
	uint64_t me = a->cfg.host_id, now_s = arb_now(a) / FL_US_PER_S;
	bool fence_req = false, clear_req = false;
	for (uint32_t s = 1; s <= a->mb.geom.max_hosts; s++) {
		fence_req |= mb_pending(b, s) && b->req[s].kind == MB_FENCE;
		clear_req |= mb_pending(b, s) && b->req[s].kind == MB_CLEAR;
	}
	a->pill = fence_req;
	a->fenced_status = b->status.kind == MB_FENCED;
	bool stopped = arb_vms_all_idle(a) || arb_mut_early_fenced();
	bool fenced = a->fenced_status || (stopped && (a->want_fenced_status || fence_req));
	bool cleared = !fence_req && clear_req;
	if (cleared)
		fenced = false;
	uint32_t want = fenced ? MB_FENCED : MB_RUNNING;
	if (want != b->status.kind) {
		struct mb_record st = {.magic = MB_STATUS_MAGIC, .kind = want, .from = me, .to = me,
				       .seq = b->status.seq + 1, .time_s = now_s};
		mb_plan(a, 0, &st);
	}
	for (uint32_t s = 1; s <= a->mb.geom.max_hosts; s++) {
		if (!mb_pending(b, s))
			continue;
		uint32_t k = b->req[s].kind;
		if ((k == MB_FENCE && !fenced) || (k == MB_CLEAR && !cleared))
			continue; /* acknowledged once it is true */
		struct mb_record ack = {.magic = MB_ACK_MAGIC, .kind = mb_ack_for(k), .from = me, .to = s,
					.seq = b->req[s].seq, .time_s = now_s};
		mb_plan(a, a->mb.geom.max_hosts + s, &ack);
	}
}

/* The status write of an MBJ_OWN job landed: what it means for us. */
static void mb_own_status_written(struct arb *a, const struct mb_record *r)
{
	if (r->kind == MB_FENCED) {
		a->fenced_status = true;
		fl_notice("host %" PRIu64 ": FENCED written to our mailbox", a->cfg.host_id);
	} else if (r->kind == MB_RUNNING && a->fenced_status) {
		a->fenced_status = false;
		a->want_fenced_status = false;
		a->quorum_lost_us = 0;
		fl_notice("host %" PRIu64 ": fence cleared, VMs may run here again", a->cfg.host_id);
	}
}

static void mb_seen_update(struct arb *a, const struct mb_box *b)
{
	struct arb_mb_seen *s = &a->mb.seen[b->owner];
	uint64_t me = a->cfg.host_id;
	/* The leader places a host's VMs as soon as it says FENCED. */
	if (a->leader && b->status.kind == MB_FENCED && (!s->valid || s->status != MB_FENCED || s->status_seq != b->status.seq))
		arb_tick_soon(a);
	s->valid = true;
	s->status = b->status.kind;
	s->status_seq = b->status.seq;
	s->our_req_seq = b->req[me].seq;
	s->our_req_kind = b->req[me].kind;
	s->ack_seq = b->ack[me].seq;
	s->ack_kind = b->ack[me].kind;
	s->read_us = arb_now(a);
}

/* Plans the writes of the current job from what was read; false if the
 * mailbox could not be decoded (nothing is written then). */
static bool mb_after_read(struct arb *a)
{
	struct mb_box *b = a->mb.box;
	int rv = mb_box_decode(&a->mb.geom, a->mb.buf, a->mb.cur.host, b);
	if (rv != 0) {
		fl_err("host %" PRIu64 ": mailbox of host %" PRIu64 " unreadable: %s", a->cfg.host_id,
		       a->mb.cur.host, fl_strerror(rv));
		return false;
	}
	if (a->mb.cur.kind == MBJ_OWN) {
		mb_own_plan(a, b);
	} else {
		mb_seen_update(a, b);
		if (a->mb.cur.kind == MBJ_SEND) {
			uint64_t me = a->cfg.host_id;
			struct mb_record r = {.magic = MB_REQ_MAGIC, .kind = a->mb.cur.req, .from = me,
					      .to = a->mb.cur.host,
					      .seq = FL_MAX(b->req[me].seq, b->ack[me].seq) + 1,
					      .time_s = arb_now(a) / FL_US_PER_S};
			mb_plan(a, (uint32_t)me, &r);
		}
	}
	return true;
}

static void mb_write_next(struct arb *a)
{
	if (a->mb.wi == a->mb.wn) {
		mb_next_job(a);
		return;
	}
	uint32_t ss = a->cfg.bdev->sector_size;
	mb_record_encode(&a->mb.wrec[a->mb.wi], a->mb.sec, ss);
	mb_submit(a, FL_IO_WRITE, mb_box_offset(&a->mb.geom, a->mb.cur.host) + (uint64_t)a->mb.wsec[a->mb.wi] * ss,
		  a->mb.sec, ss);
}

static void mb_io_done(struct fl_io *io, int result)
{
	struct arb *a = io->arg;
	if (result != 0) {
		fl_warn("host %" PRIu64 ": mailbox %s of host %" PRIu64 ": %s", a->cfg.host_id,
			io->op == FL_IO_READ ? "read" : "write", a->mb.cur.host, fl_strerror(result));
		mb_next_job(a);
		return;
	}
	if (io->op == FL_IO_READ) {
		if (!mb_after_read(a))
			a->mb.wn = 0;
		mb_write_next(a);
		return;
	}
	const struct mb_record *w = &a->mb.wrec[a->mb.wi];
	if (a->mb.cur.kind == MBJ_OWN && a->mb.wsec[a->mb.wi] == 0)
		mb_own_status_written(a, w);
	if (a->mb.cur.kind == MBJ_SEND) {
		a->mb.seen[a->mb.cur.host].our_req_seq = w->seq;
		a->mb.seen[a->mb.cur.host].our_req_kind = w->kind;
		if (w->kind == MB_FENCE)
			a->ctr.pills++;
	}
	a->mb.wi++;
	mb_write_next(a);
}
