/* The disk voter's log store on the shared device (see voter_store.h; the
 * format is in docs/ondisk.md, "Disk voter area").
 *
 * How durability and crash safety are obtained:
 *   - every request is planned at submit, against the state all earlier
 *     requests leave (st): its records are encoded, placed, and turned into a
 *     list of writes that ends with one metadata-slot write (the commit
 *     point). The executor runs the writes of the oldest request one at a
 *     time and completes the request after its last write, so requests take
 *     effect and complete in submission order;
 *   - the metadata alternates between two slots (seq & 1), so a torn or
 *     interrupted slot write leaves the other slot, the previous acknowledged
 *     state, intact; load takes the valid slot with the higher seq;
 *   - data writes never touch what the current metadata points to: an append
 *     goes to free ring space (an append that overwrites a suffix writes its
 *     records beyond the old ones, which stay intact until its metadata
 *     lands), a snapshot goes to the snapshot region that is not current;
 *     only space that an earlier, already committed request released is
 *     reused;
 *   - entry records carry the ring offset of the previous index's record, so
 *     load follows the chain from the metadata's last record back to its
 *     first one and never mistakes a stale record for a live one; a record
 *     on the chain with a bad CRC is corruption and load refuses;
 *   - a device error or timeout fails the store for good (the seam's sticky
 *     failure): a timed-out write may still land, so the store refuses to
 *     guess; a new open (and load) starts from what is on the disk.
 * When the ring is full, an append first drops the entries the latest
 * snapshot covers (an extra metadata write, so the drop is durable before the
 * space is overwritten); if that is not enough, submit returns -FL_ENOSPC and
 * nothing changes: the driver must take a snapshot. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "disklock/layout.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/arbiter/voter_store.h"

#define VS_META_MAGIC 0x4D564C46u /* "FLVM" */
#define VS_REC_MAGIC 0x45564C46u  /* "FLVE" */
#define VS_SNAP_MAGIC 0x53564C46u /* "FLVS" */
#define VS_VERSION 0x00010000u    /* major 1, minor 0 */
#define VS_META_CSUM_LEN 120u
#define VS_REC_HDR_BYTES 48u
#define VS_SNAP_HDR_BYTES 64u
#define VS_NO_OFF UINT64_MAX
#define VS_FLAG_HAVE_SNAP 0x1u
#define VS_FLAG_SNAP_REGION1 0x2u
#define VS_MSG_BYTES 512u

/* The state as planned: what the disk holds once every submitted request
 * completed. first == 0 means an empty log. Offsets are ring-relative. */
struct vs_state {
	uint64_t seq, term, vote;
	bool have_snap;
	uint32_t snap_region;
	uint64_t snap_index, snap_term, snap_data_len;
	uint32_t snap_config_len, snap_crc;
	uint64_t first, last, first_off, last_off;
	uint64_t head; /* where the next batch goes: sector-aligned, 0..ring_bytes */
};

struct vs_write {
	uint64_t abs_off;
	uint32_t len;
	const uint8_t *src;
};

/* A request's writes, in order; the last one is its metadata slot. */
struct vs_plan {
	uint32_t n, next;
	uint8_t *data;     /* batch or snapshot record */
	uint8_t *meta[2];  /* optional compaction metadata, final metadata */
	struct vs_write w[];
};

struct voter_store;

/* The one device I/O a store has in flight. Heap-allocated with its bounce
 * buffer, so that a store closed while the device still holds the I/O can
 * leave it behind (vs = NULL); the completion then frees it. */
struct vs_io {
	struct fl_io io;
	struct voter_store *vs;
	uint8_t *buf;       /* VOTER_STORE_IO_MAX_BYTES */
	uint8_t *read_dst;  /* where a read's bytes go */
};

struct vs_load {
	int phase;          /* 0 slots, 1 snapshot, 2 ring, 3 done */
	uint8_t *dst;       /* reads of this phase land here */
	uint64_t abs_off, len, done;
	uint8_t *slots, *snap, *ring;
};

struct voter_store {
	struct raft_logstore base;
	struct fl_bdev *bdev;
	struct voter_store_geometry g;
	uint64_t area_off;
	uint64_t io_timeout_us;
	struct vs_state st;
	uint64_t *offs;      /* offs[index % offs_cap]: ring offset of a live record */
	uint64_t offs_cap;
	bool load_submitted, loaded;
	struct vs_io *io;
	bool io_busy;
	struct fl_timer kick_timer;
	bool kicking, rekick;
	struct vs_load load;
	struct voter_store_stats stats;
	char last_error[VS_MSG_BYTES];
};

static const struct raft_logstore_ops vs_ops;

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
static uint64_t rec_bytes(uint32_t len) { return VS_REC_HDR_BYTES + round_up(len, 8); }

__attribute__((format(printf, 3, 4))) static int vs_error(struct voter_store *vs, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vs->last_error, sizeof(vs->last_error), fmt, ap);
	va_end(ap);
	fl_err("disk voter store: %s", vs->last_error);
	return rv;
}

/* ---- geometry ---- */

int voter_store_geometry(uint64_t area_bytes, uint32_t sector_size, struct voter_store_geometry *g)
{
	FL_ASSERT(g != NULL);
	memset(g, 0, sizeof(*g));
	if (sector_size != 512 && sector_size != 4096)
		return -FL_EINVAL;
	if (area_bytes % sector_size != 0)
		return -FL_EALIGN;
	if (area_bytes < (uint64_t)VOTER_STORE_MIN_AREA_SECTORS * sector_size)
		return -FL_ETOOSMALL;
	g->sector_size = sector_size;
	g->area_bytes = area_bytes;
	g->slot_offset[0] = 0;
	g->slot_offset[1] = sector_size;
	g->snap_bytes = area_bytes / 4 / sector_size * sector_size;
	g->snap_offset[0] = area_bytes - 2 * g->snap_bytes;
	g->snap_offset[1] = area_bytes - g->snap_bytes;
	g->ring_offset = 2ull * sector_size;
	g->ring_bytes = g->snap_offset[0] - g->ring_offset;
	FL_ASSERT(g->ring_bytes >= 8ull * sector_size);
	FL_ASSERT(g->snap_bytes >= 8ull * sector_size);
	FL_ASSERT(g->snap_offset[1] + g->snap_bytes == area_bytes);
	return 0;
}

/* ---- metadata slots ---- */

static void meta_encode(const struct voter_store_geometry *g, const struct vs_state *st, uint8_t *p)
{
	uint32_t flags = (st->have_snap ? VS_FLAG_HAVE_SNAP : 0) | (st->snap_region ? VS_FLAG_SNAP_REGION1 : 0);
	FL_ASSERT(st->first <= st->last);
	FL_ASSERT((st->first == 0) == (st->last == 0));
	memset(p, 0, g->sector_size);
	fl_put_le32(p + 0, VS_META_MAGIC);
	fl_put_le32(p + 4, VS_VERSION);
	fl_put_le64(p + 8, st->seq);
	fl_put_le64(p + 16, st->term);
	fl_put_le64(p + 24, st->vote);
	fl_put_le64(p + 32, g->area_bytes);
	fl_put_le32(p + 40, g->sector_size);
	fl_put_le32(p + 44, flags);
	fl_put_le64(p + 48, st->first);
	fl_put_le64(p + 56, st->first_off);
	fl_put_le64(p + 64, st->last);
	fl_put_le64(p + 72, st->last_off);
	fl_put_le64(p + 80, st->snap_index);
	fl_put_le64(p + 88, st->snap_term);
	fl_put_le64(p + 96, st->snap_data_len);
	fl_put_le32(p + 104, st->snap_config_len);
	fl_put_le32(p + 108, st->snap_crc);
	fl_put_le32(p + VS_META_CSUM_LEN, fl_crc32c_std(p, VS_META_CSUM_LEN));
}

enum vs_slot_kind { SLOT_ZERO, SLOT_META, SLOT_LEGACY, SLOT_BAD };

/* Classifies slot i; fills st for SLOT_META and SLOT_LEGACY (term and vote
 * of lay_format_sync's header, an empty log). */
static enum vs_slot_kind slot_decode(const uint8_t *p, uint32_t ss, int i, struct vs_state *st)
{
	struct lay_voter_header lv;
	memset(st, 0, sizeof(*st));
	if (fl_block_is_zero(p, ss))
		return SLOT_ZERO;
	if (i == 0 && fl_get_le32(p) == LAY_VOTER_MAGIC && lay_voter_decode(p, &lv) == 0) {
		st->term = lv.term;
		st->vote = lv.vote;
		return lv.ring_last_index == 0 && lv.snap_index == 0 ? SLOT_LEGACY : SLOT_BAD;
	}
	if (fl_get_le32(p) != VS_META_MAGIC || fl_get_le32(p + VS_META_CSUM_LEN) != fl_crc32c_std(p, VS_META_CSUM_LEN))
		return SLOT_BAD;
	uint32_t flags = fl_get_le32(p + 44);
	*st = (struct vs_state){.seq = fl_get_le64(p + 8), .term = fl_get_le64(p + 16), .vote = fl_get_le64(p + 24),
				.have_snap = (flags & VS_FLAG_HAVE_SNAP) != 0,
				.snap_region = (flags & VS_FLAG_SNAP_REGION1) ? 1 : 0,
				.first = fl_get_le64(p + 48), .first_off = fl_get_le64(p + 56),
				.last = fl_get_le64(p + 64), .last_off = fl_get_le64(p + 72),
				.snap_index = fl_get_le64(p + 80), .snap_term = fl_get_le64(p + 88),
				.snap_data_len = fl_get_le64(p + 96), .snap_config_len = fl_get_le32(p + 104),
				.snap_crc = fl_get_le32(p + 108)};
	return SLOT_META;
}

/* Checks what a valid slot claims against the geometry. */
static int meta_check(struct voter_store *vs, const uint8_t *p, const struct vs_state *st, int i)
{
	const struct voter_store_geometry *g = &vs->g;
	if ((fl_get_le32(p + 4) & FL_VERSION_MAJOR_MASK) != (VS_VERSION & FL_VERSION_MAJOR_MASK))
		return vs_error(vs, -FL_EVERSION, "%s: disk voter slot %d has format version 0x%08x, this build reads "
				"0x%08x; upgrade fencelock on this host", vs->bdev->name, i, fl_get_le32(p + 4), VS_VERSION);
	if (fl_get_le64(p + 32) != g->area_bytes || fl_get_le32(p + 40) != g->sector_size)
		return vs_error(vs, -FL_ECORRUPT, "%s: disk voter slot %d was written for an area of %" PRIu64
				" bytes with %u-byte sectors, the layout says %" PRIu64 "/%u; check the device header",
				vs->bdev->name, i, fl_get_le64(p + 32), fl_get_le32(p + 40), g->area_bytes, g->sector_size);
	bool log_ok = (st->first == 0 && st->last == 0) ||
		      (st->first != 0 && st->first <= st->last && st->last - st->first < vs->offs_cap - 1 &&
		       st->first_off < g->ring_bytes && st->last_off < g->ring_bytes);
	bool snap_ok = !st->have_snap || (st->snap_index != 0 &&
		       VS_SNAP_HDR_BYTES + (uint64_t)st->snap_config_len + st->snap_data_len <= g->snap_bytes);
	bool seq_ok = (st->seq & 1) == (uint64_t)i;
	if (!log_ok || !snap_ok || !seq_ok)
		return vs_error(vs, -FL_ECORRUPT, "%s: disk voter slot %d (seq %" PRIu64 ") has a valid CRC but "
				"impossible contents (%s); refusing to load: rebuild the disk voter (remove it from the "
				"configuration, format the area, add it again)", vs->bdev->name, i, st->seq,
				!log_ok ? "log bounds" : !snap_ok ? "snapshot size" : "seq in the wrong slot");
	return 0;
}

/* Picks the current state from the two slots (see docs/ondisk.md). */
static int slots_choose(struct voter_store *vs, const uint8_t *buf, struct vs_state *out)
{
	uint32_t ss = vs->g.sector_size;
	struct vs_state st[2];
	enum vs_slot_kind k[2];
	for (int i = 0; i < 2; i++) {
		k[i] = slot_decode(buf + (size_t)i * ss, ss, i, &st[i]);
		int rv = k[i] == SLOT_META ? meta_check(vs, buf + (size_t)i * ss, &st[i], i) : 0;
		if (rv != 0)
			return rv;
	}
	if (k[0] == SLOT_META && k[1] == SLOT_META) {
		uint64_t hi = FL_MAX(st[0].seq, st[1].seq), lo = FL_MIN(st[0].seq, st[1].seq);
		if (hi - lo != 1)
			return vs_error(vs, -FL_ECORRUPT, "%s: disk voter slots hold seq %" PRIu64 " and %" PRIu64
					", which were never written one after the other (an interrupted format?); "
					"refusing to load: format the area again", vs->bdev->name, st[0].seq, st[1].seq);
		*out = st[st[1].seq > st[0].seq ? 1 : 0];
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (k[i] != SLOT_META)
			continue;
		/* The other slot is torn (its write was never acknowledged) or, for
		 * the first two writes, blank or lay_format_sync's header. */
		if (k[1 - i] != SLOT_BAD && st[i].seq > 1)
			break;
		*out = st[i];
		return 0;
	}
	bool empty = (k[0] == SLOT_ZERO || k[0] == SLOT_LEGACY) && (k[1] == SLOT_ZERO || k[1] == SLOT_BAD);
	if (empty) {
		*out = st[0]; /* seq 0: the next write goes to slot 1 */
		out->seq = 0;
		return 0;
	}
	return vs_error(vs, -FL_ECORRUPT, "%s: the disk voter area at offset %" PRIu64 " holds no consistent "
			"metadata (slot 0 %s, slot 1 %s); refusing to load, never starting as an empty voter: rebuild the "
			"disk voter (remove it from the configuration, format the area, add it again)", vs->bdev->name,
			vs->area_off, k[0] == SLOT_BAD ? "damaged" : k[0] == SLOT_ZERO ? "blank" : "valid",
			k[1] == SLOT_BAD ? "damaged" : k[1] == SLOT_ZERO ? "blank" : "valid");
}

/* ---- entry records and snapshot records ---- */

static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *data, uint32_t len)
{
	static const uint8_t zero[4] = {0};
	uint32_t c = fl_crc32c(0xFFFFFFFFu, hdr, 4);
	c = fl_crc32c(c, zero, 4);
	c = fl_crc32c(c, hdr + 8, VS_REC_HDR_BYTES - 8);
	if (len > 0)
		c = fl_crc32c(c, data, len);
	return ~c;
}

static void rec_encode(uint8_t *p, const struct raft_entry *e, uint64_t prev_off)
{
	FL_ASSERT(e->index > 0);
	FL_ASSERT(e->len == 0 || e->data != NULL);
	memset(p, 0, rec_bytes(e->len));
	fl_put_le32(p + 0, VS_REC_MAGIC);
	fl_put_le64(p + 8, e->index);
	fl_put_le64(p + 16, e->term);
	fl_put_le64(p + 24, prev_off);
	fl_put_le32(p + 32, e->len);
	p[36] = e->type;
	if (e->len > 0)
		memcpy(p + VS_REC_HDR_BYTES, e->data, e->len);
	fl_put_le32(p + 4, rec_crc(p, p + VS_REC_HDR_BYTES, e->len));
	FL_ASSERT(fl_get_le64(p + 8) == e->index);
	FL_ASSERT(fl_get_le32(p + 32) == e->len);
}

/* The record for `index` at ring offset off, fully checked. */
static int rec_check(struct voter_store *vs, const uint8_t *ring, uint64_t off, uint64_t index)
{
	uint64_t rb = vs->g.ring_bytes;
	const uint8_t *p = ring + off;
	const char *why = NULL;
	int rv = -FL_ECORRUPT;
	if (off % 8 != 0 || off + VS_REC_HDR_BYTES > rb)
		why = "offset outside the ring";
	else if (fl_get_le32(p) != VS_REC_MAGIC)
		why = "bad magic";
	else if (fl_get_le32(p + 32) > rb - off - VS_REC_HDR_BYTES)
		why = "length beyond the ring";
	else if (fl_get_le32(p + 4) != rec_crc(p, p + VS_REC_HDR_BYTES, fl_get_le32(p + 32)))
		why = "bad CRC", rv = -FL_ECHECKSUM;
	else if (fl_get_le64(p + 8) != index)
		why = "wrong index";
	if (why == NULL)
		return 0;
	return vs_error(vs, rv,
			"%s: disk voter entry %" PRIu64 " at device offset %" PRIu64 " is damaged (%s) although the "
			"metadata says entries %" PRIu64 "-%" PRIu64 " are durable; refusing to load: rebuild the disk "
			"voter (remove it from the configuration, format the area, add it again)", vs->bdev->name,
			index, vs->area_off + vs->g.ring_offset + off, why, vs->st.first, vs->st.last);
}

static uint32_t snap_crc(const uint8_t *rec, uint64_t total)
{
	static const uint8_t zero[4] = {0};
	uint32_t c = fl_crc32c(0xFFFFFFFFu, rec, 28);
	c = fl_crc32c(c, zero, 4);
	return ~fl_crc32c(c, rec + 32, total - 32);
}

/* Encodes the snapshot record into a sector-padded buffer of *len bytes. */
static uint8_t *snap_encode(const struct raft_log_snapshot *sn, uint32_t ss, uint64_t *len, uint32_t *crc)
{
	uint64_t total = VS_SNAP_HDR_BYTES + (uint64_t)sn->config_len + sn->data_len;
	FL_ASSERT(ss >= 512);
	FL_ASSERT(sn->index > 0);
	*len = round_up(total, ss);
	uint8_t *p = calloc(1, *len);
	if (p == NULL)
		return NULL;
	fl_put_le32(p + 0, VS_SNAP_MAGIC);
	fl_put_le32(p + 4, VS_VERSION);
	fl_put_le64(p + 8, sn->index);
	fl_put_le64(p + 16, sn->term);
	fl_put_le32(p + 24, sn->config_len);
	fl_put_le64(p + 32, sn->data_len);
	if (sn->config_len > 0)
		memcpy(p + VS_SNAP_HDR_BYTES, sn->config, sn->config_len);
	if (sn->data_len > 0)
		memcpy(p + VS_SNAP_HDR_BYTES + sn->config_len, sn->data, sn->data_len);
	*crc = snap_crc(p, total);
	fl_put_le32(p + 28, *crc);
	return p;
}

/* ---- planning (at submit, against the planned state) ---- */

/* Finds ring space for a batch of b bytes that overlaps nothing st's
 * metadata points to: the live region runs from the sector of the first
 * record to head, possibly wrapping once. */
static int ring_alloc(const struct voter_store *vs, const struct vs_state *st, uint64_t b, uint64_t *at)
{
	uint64_t rb = vs->g.ring_bytes, h = st->head;
	FL_ASSERT(h <= rb);
	FL_ASSERT(h % vs->g.sector_size == 0);
	FL_ASSERT(b > 0);
	FL_ASSERT(b % vs->g.sector_size == 0);
	if (st->first == 0) {
		*at = h + b <= rb ? h : 0;
		return b <= rb ? 0 : -FL_ENOSPC;
	}
	uint64_t tail = st->first_off / vs->g.sector_size * vs->g.sector_size;
	if (h > tail && h + b <= rb)
		*at = h;
	else if (h > tail && b <= tail)
		*at = 0;
	else if (h < tail && h + b <= tail)
		*at = h;
	else
		return -FL_ENOSPC; /* h == tail with a non-empty log: full */
	FL_ASSERT(*at % vs->g.sector_size == 0);
	FL_ASSERT(*at + b <= rb);
	return 0;
}

static struct vs_plan *plan_new(uint32_t n)
{
	struct vs_plan *p = calloc(1, sizeof(*p) + (size_t)n * sizeof(p->w[0]));
	return p;
}

static void plan_free(struct vs_plan *p)
{
	if (p == NULL)
		return;
	free(p->data);
	free(p->meta[0]);
	free(p->meta[1]);
	free(p);
}

static uint32_t plan_count(bool pre, uint64_t data_len)
{
	return (pre ? 1u : 0u) + (uint32_t)((data_len + VOTER_STORE_IO_MAX_BYTES - 1) / VOTER_STORE_IO_MAX_BYTES) + 1u;
}

/* Fills p (of plan_count() writes) with [pre metadata], the data in chunks
 * and the final metadata; the buffers move into the plan. */
static void plan_fill(const struct voter_store *vs, struct vs_plan *p, uint8_t *pre, uint8_t *data,
		      uint64_t data_abs, uint64_t data_len, uint8_t *meta)
{
	uint32_t ss = vs->g.sector_size;
	FL_ASSERT(p->n == 0);
	FL_ASSERT(meta != NULL);
	p->data = data;
	p->meta[0] = pre;
	p->meta[1] = meta;
	if (pre != NULL)
		p->w[p->n++] = (struct vs_write){vs->area_off + (fl_get_le64(pre + 8) & 1) * ss, ss, pre};
	for (uint64_t done = 0; done < data_len; done += VOTER_STORE_IO_MAX_BYTES) {
		uint64_t len = FL_MIN(data_len - done, (uint64_t)VOTER_STORE_IO_MAX_BYTES);
		p->w[p->n++] = (struct vs_write){data_abs + done, (uint32_t)len, data + done};
	}
	p->w[p->n++] = (struct vs_write){vs->area_off + (fl_get_le64(meta + 8) & 1) * ss, ss, meta};
	FL_ASSERT(p->n == plan_count(pre != NULL, data_len));
}

/* Allocates and fills a plan; frees the buffers on failure. */
static struct vs_plan *plan_build(const struct voter_store *vs, uint8_t *data, uint64_t data_abs, uint64_t data_len,
				  uint8_t *meta)
{
	struct vs_plan *p = meta != NULL ? plan_new(plan_count(false, data_len)) : NULL;
	if (p == NULL) {
		free(data);
		free(meta);
		return NULL;
	}
	plan_fill(vs, p, NULL, data, data_abs, data_len, meta);
	return p;
}

/* The metadata sector of st after bumping its seq. */
static uint8_t *meta_next(const struct voter_store *vs, struct vs_state *st)
{
	struct vs_state back;
	uint8_t *m = malloc(vs->g.sector_size);
	if (m == NULL)
		return NULL;
	st->seq++;
	meta_encode(&vs->g, st, m);
	/* Pair the encoding with its read-back. */
	FL_ASSERT(slot_decode(m, vs->g.sector_size, (int)(st->seq & 1), &back) == SLOT_META);
	FL_ASSERT(back.seq == st->seq);
	FL_ASSERT(back.last == st->last);
	FL_ASSERT(back.last_off == st->last_off);
	return m;
}

/* Drops entries up to and including upto (all of them if upto >= last). */
static void state_drop_prefix(const struct voter_store *vs, struct vs_state *st, uint64_t upto)
{
	FL_ASSERT(st->first <= st->last);
	FL_ASSERT((st->first == 0) == (st->last == 0));
	if (st->first == 0 || upto < st->first)
		return;
	if (upto >= st->last) {
		st->first = st->last = st->first_off = st->last_off = 0;
		return;
	}
	st->first = upto + 1;
	st->first_off = vs->offs[st->first % vs->offs_cap];
	FL_ASSERT(st->first <= st->last);
	FL_ASSERT(st->first_off < vs->g.ring_bytes);
}

static int plan_hard(struct voter_store *vs, struct raft_log_req *req)
{
	struct vs_state nst = vs->st;
	FL_ASSERT(req->op == RAFT_LOG_SET_HARD);
	FL_ASSERT(vs->loaded);
	if (req->hard.term == nst.term && req->hard.vote == nst.vote)
		return 0; /* already durable: no I/O */
	nst.term = req->hard.term;
	nst.vote = req->hard.vote;
	uint8_t *m = meta_next(vs, &nst);
	struct vs_plan *p = plan_build(vs, NULL, 0, 0, m);
	if (p == NULL)
		return -FL_ENOMEM;
	req->priv = p;
	vs->st = nst;
	return 0;
}

static int plan_truncate(struct voter_store *vs, struct raft_log_req *req)
{
	struct vs_state nst = vs->st;
	uint64_t from = req->truncate.from_index;
	FL_ASSERT(req->op == RAFT_LOG_TRUNCATE);
	FL_ASSERT(from > 0);
	if (nst.first == 0 || from > nst.last)
		return 0; /* nothing to remove: no I/O */
	if (from <= nst.first) {
		nst.first = nst.last = nst.first_off = nst.last_off = 0;
	} else {
		/* Space from the removed records on is free once this lands. */
		uint64_t cut = vs->offs[from % vs->offs_cap];
		nst.last = from - 1;
		nst.last_off = vs->offs[nst.last % vs->offs_cap];
		nst.head = round_up(cut, vs->g.sector_size);
	}
	FL_ASSERT(nst.last < from);
	FL_ASSERT(nst.head <= vs->g.ring_bytes);
	uint8_t *m = meta_next(vs, &nst);
	struct vs_plan *p = plan_build(vs, NULL, 0, 0, m);
	if (p == NULL)
		return -FL_ENOMEM;
	req->priv = p;
	vs->st = nst;
	return 0;
}

/* Ring space for b bytes in nst, dropping snapshot-covered entries below
 * `first_new` if the ring is full; *pre is then the metadata of the drop. */
static int append_place(struct voter_store *vs, struct vs_state *nst, uint64_t first_new, uint64_t b, uint64_t *at,
			uint8_t **pre)
{
	*pre = NULL;
	int rv = ring_alloc(vs, nst, b, at);
	if (rv == 0 || !nst->have_snap || nst->first == 0)
		return rv;
	uint64_t upto = FL_MIN(nst->snap_index, first_new - 1);
	if (upto < nst->first)
		return rv;
	struct vs_state c = *nst;
	state_drop_prefix(vs, &c, upto);
	if (ring_alloc(vs, &c, b, at) != 0)
		return -FL_ENOSPC;
	if ((*pre = meta_next(vs, &c)) == NULL)
		return -FL_ENOMEM;
	*nst = c;
	return 0;
}

static int plan_append(struct voter_store *vs, struct raft_log_req *req)
{
	const struct raft_entry *e = req->append.entries;
	uint32_t n = req->append.n, ss = vs->g.sector_size;
	struct vs_state nst = vs->st;
	uint64_t s = e[0].index, b = 0, at = 0;
	uint64_t next = nst.first != 0 ? nst.last + 1 : (nst.have_snap ? nst.snap_index : 0) + 1;
	if (s > next)
		return vs_error(vs, -FL_EINVAL, "%s: append of entry %" PRIu64 " would leave a gap after entry %" PRIu64
				" (driver bug)", vs->base.name, s, next - 1);
	for (uint32_t i = 0; i < n; i++)
		b += rec_bytes(e[i].len);
	b = round_up(b, ss);
	uint8_t *pre = NULL;
	int rv = b <= vs->g.ring_bytes ? append_place(vs, &nst, s, b, &at, &pre) : -FL_ENOSPC;
	if (rv == -FL_ENOSPC)
		return vs_error(vs, rv, "%s: the disk voter's log ring (%" PRIu64 " bytes) has no room for %u entries "
				"(%" PRIu64 " bytes) from %" PRIu64 "; take a snapshot to compact the log", vs->base.name,
				vs->g.ring_bytes, n, b, s);
	if (rv != 0)
		return rv;
	/* Allocate everything first: nothing below may fail once offs[] changes. */
	uint8_t *data = calloc(1, b), *m = malloc(ss);
	struct vs_plan *p = plan_new(plan_count(pre != NULL, b));
	if (data == NULL || m == NULL || p == NULL) {
		free(data);
		free(m);
		free(p);
		free(pre);
		return vs_error(vs, -FL_ENOMEM, "%s: out of memory planning an append of %" PRIu64 " bytes",
				vs->base.name, b);
	}
	uint64_t pos = 0, prev = nst.first != 0 && s > nst.first ? vs->offs[(s - 1) % vs->offs_cap] : VS_NO_OFF;
	for (uint32_t i = 0; i < n; i++) {
		rec_encode(data + pos, &e[i], prev);
		prev = at + pos;
		vs->offs[e[i].index % vs->offs_cap] = prev;
		pos += rec_bytes(e[i].len);
	}
	if (nst.first == 0 || s <= nst.first) {
		nst.first = s;
		nst.first_off = at;
	}
	nst.last = s + n - 1;
	nst.last_off = prev;
	nst.head = at + b;
	FL_ASSERT(nst.last - nst.first < vs->offs_cap - 1);
	nst.seq++;
	meta_encode(&vs->g, &nst, m);
	plan_fill(vs, p, pre, data, vs->area_off + vs->g.ring_offset + at, b, m);
	if (pre != NULL)
		vs->stats.ring_compactions++;
	req->priv = p;
	vs->st = nst;
	return 0;
}

static int plan_snapshot(struct voter_store *vs, struct raft_log_req *req)
{
	const struct raft_log_snapshot *sn = req->snapshot.snap;
	uint64_t total = VS_SNAP_HDR_BYTES + (uint64_t)sn->config_len + sn->data_len, len = 0;
	uint32_t crc = 0;
	FL_ASSERT(req->op == RAFT_LOG_SNAPSHOT);
	FL_ASSERT(sn->index > 0);
	if (total > vs->g.snap_bytes)
		return vs_error(vs, -FL_ENOSPC, "%s: snapshot %" PRIu64 " needs %" PRIu64 " bytes, a disk voter "
				"snapshot region holds %" PRIu64 "; the layout needs a larger voter area",
				vs->base.name, sn->index, total, vs->g.snap_bytes);
	struct vs_state nst = vs->st;
	/* Write-then-switch: the region that is not current. */
	uint32_t region = nst.have_snap ? 1u - nst.snap_region : 0u;
	uint8_t *data = snap_encode(sn, vs->g.sector_size, &len, &crc);
	if (data == NULL)
		return -FL_ENOMEM;
	nst.have_snap = true;
	nst.snap_region = region;
	nst.snap_index = sn->index;
	nst.snap_term = sn->term;
	nst.snap_config_len = sn->config_len;
	nst.snap_data_len = sn->data_len;
	nst.snap_crc = crc;
	uint64_t trailing = req->snapshot.trailing;
	if (nst.first != 0 && nst.last < sn->index)
		state_drop_prefix(vs, &nst, nst.last); /* the log is behind: drop it all */
	else if (sn->index > trailing)
		state_drop_prefix(vs, &nst, sn->index - trailing);
	uint8_t *m = meta_next(vs, &nst);
	struct vs_plan *p = plan_build(vs, data, vs->area_off + vs->g.snap_offset[region], len, m);
	if (p == NULL)
		return -FL_ENOMEM;
	req->priv = p;
	vs->st = nst;
	return 0;
}

/* ---- execution: one device I/O at a time, requests in order ---- */

static void vs_kick(struct voter_store *vs);
static void vs_load_step(struct voter_store *vs, struct raft_log_req *req);

static void vs_complete(struct voter_store *vs, struct raft_log_req *req, int result)
{
	struct vs_plan *p = req->op != RAFT_LOG_LOAD ? req->priv : NULL;
	FL_ASSERT(vs->base.pending_head == req);
	FL_ASSERT(!vs->io_busy);
	if (result == 0 && p != NULL && req->op == RAFT_LOG_APPEND) {
		vs->stats.appends++;
		vs->base.stats.entries_appended += req->append.n;
		for (uint32_t i = 0; i < p->n; i++) {
			vs->stats.append_writes++;
			vs->stats.append_bytes += p->w[i].len;
		}
	}
	if (result == 0 && p == NULL && req->op != RAFT_LOG_LOAD)
		vs->stats.noops++;
	plan_free(p);
	req->priv = NULL;
	raft_logstore_complete(&vs->base, req, result);
}

static void vs_io_done(struct fl_io *io, int result);

/* Issues one device I/O through the bounce buffer. */
static int vs_issue(struct voter_store *vs, enum fl_io_op op, uint64_t abs_off, uint32_t len, const uint8_t *src,
		    uint8_t *dst)
{
	struct vs_io *x = vs->io;
	FL_ASSERT(!vs->io_busy);
	FL_ASSERT(len > 0);
	FL_ASSERT(len <= VOTER_STORE_IO_MAX_BYTES);
	FL_ASSERT(abs_off >= vs->area_off);
	FL_ASSERT(abs_off + len <= vs->area_off + vs->g.area_bytes);
	x->io = (struct fl_io){.op = op, .offset = abs_off, .len = len, .buf = x->buf,
			       .timeout_us = vs->io_timeout_us, .cb = vs_io_done, .arg = x};
	x->read_dst = dst;
	if (op == FL_IO_WRITE)
		memcpy(x->buf, src, len);
	int rv = fl_bdev_submit(vs->bdev, &x->io);
	if (rv != 0)
		return vs_error(vs, rv, "%s: %s of %u bytes at offset %" PRIu64 " refused: %s", vs->bdev->name,
				op == FL_IO_WRITE ? "write" : "read", len, abs_off, fl_strerror(rv));
	vs->io_busy = true;
	if (op == FL_IO_WRITE) {
		vs->stats.writes++;
		vs->stats.bytes_written += len;
		vs->base.stats.bytes_written += len;
		vs->base.stats.syncs++; /* O_DSYNC: every write is a sync */
		vs->stats.meta_writes += len == vs->g.sector_size && (abs_off - vs->area_off) < vs->g.ring_offset;
	} else {
		vs->stats.reads++;
		vs->stats.bytes_read += len;
	}
	return 0;
}

static void vs_io_done(struct fl_io *io, int result)
{
	struct vs_io *x = io->arg;
	struct voter_store *vs = x->vs;
	if (vs == NULL) { /* the store was closed while the device held this I/O */
		free(x->buf);
		free(x);
		return;
	}
	FL_ASSERT(vs->io_busy);
	FL_ASSERT(vs->base.pending_head != NULL);
	vs->io_busy = false;
	struct raft_log_req *req = vs->base.pending_head;
	if (result != 0) {
		vs_error(vs, result, "%s: %s of %u bytes at offset %" PRIu64 " failed: %s; the disk voter store refuses "
			 "further use (a %s may still land): stop serving the disk voter and reopen it from the disk",
			 vs->bdev->name, io->op == FL_IO_WRITE ? "write" : "read", io->len, io->offset,
			 fl_strerror(result), io->op == FL_IO_WRITE ? "timed-out write" : "pending write");
		vs_complete(vs, req, result);
	} else if (io->op == FL_IO_READ) {
		memcpy(x->read_dst, x->buf, io->len);
		vs->load.done += io->len;
	} else {
		((struct vs_plan *)req->priv)->next++;
	}
	vs_kick(vs);
}

/* Moves the oldest request on by one step: an I/O or its completion. */
static void vs_step(struct voter_store *vs, struct raft_log_req *req)
{
	FL_ASSERT(req == vs->base.pending_head);
	FL_ASSERT(!vs->io_busy);
	if (vs->base.failed != 0) {
		vs_complete(vs, req, vs->base.failed);
		return;
	}
	if (req->op == RAFT_LOG_LOAD) {
		vs_load_step(vs, req);
		return;
	}
	struct vs_plan *p = req->priv;
	if (p == NULL || p->next == p->n) {
		vs_complete(vs, req, 0);
		return;
	}
	const struct vs_write *w = &p->w[p->next];
	int rv = vs_issue(vs, FL_IO_WRITE, w->abs_off, w->len, w->src, NULL);
	if (rv != 0)
		vs_complete(vs, req, rv);
}

static void vs_kick(struct voter_store *vs)
{
	FL_ASSERT(!vs->kicking); /* device callbacks never run inside submit */
	vs->kicking = true;
	/* Bounded: callbacks may queue more; leftovers continue on the timer. */
	for (uint32_t i = 0; i <= vs->base.queue_max && !vs->io_busy && vs->base.pending_head != NULL; i++)
		vs_step(vs, vs->base.pending_head);
	vs->kicking = false;
	if (!vs->io_busy && vs->base.pending_head != NULL)
		fl_timer_after(vs->base.loop, &vs->kick_timer, 0);
}

static void vs_kick_fn(struct fl_timer *t, void *arg)
{
	(void)t;
	vs_kick(arg);
}

/* ---- load ---- */

static void load_free(struct vs_load *L)
{
	free(L->slots);
	free(L->snap);
	free(L->ring);
	memset(L, 0, sizeof(*L));
}

static int load_snapshot(struct voter_store *vs, struct raft_log_loaded *out)
{
	const struct vs_state *st = &vs->st;
	const uint8_t *p = vs->load.snap;
	uint64_t total = VS_SNAP_HDR_BYTES + (uint64_t)st->snap_config_len + st->snap_data_len;
	uint64_t abs_off = vs->area_off + vs->g.snap_offset[st->snap_region];
	if (fl_get_le32(p) != VS_SNAP_MAGIC || fl_get_le64(p + 8) != st->snap_index ||
	    fl_get_le64(p + 16) != st->snap_term || fl_get_le32(p + 24) != st->snap_config_len ||
	    fl_get_le64(p + 32) != st->snap_data_len || fl_get_le32(p + 28) != st->snap_crc ||
	    snap_crc(p, total) != st->snap_crc)
		return vs_error(vs, -FL_ECHECKSUM, "%s: the current disk voter snapshot %" PRIu64 " at offset %" PRIu64
				" is damaged (header or CRC does not match the metadata); refusing to load: rebuild the "
				"disk voter (remove it from the configuration, format the area, add it again)",
				vs->bdev->name, st->snap_index, abs_off);
	struct raft_log_snapshot *s = &out->snapshot;
	*s = (struct raft_log_snapshot){.index = st->snap_index, .term = st->snap_term,
					.config_len = st->snap_config_len, .data_len = st->snap_data_len};
	s->config = s->config_len > 0 ? malloc(s->config_len) : NULL;
	s->data = s->data_len > 0 ? malloc(s->data_len) : NULL;
	out->have_snapshot = true;
	if ((s->config_len > 0 && s->config == NULL) || (s->data_len > 0 && s->data == NULL))
		return -FL_ENOMEM;
	if (s->config_len > 0)
		memcpy(s->config, p + VS_SNAP_HDR_BYTES, s->config_len);
	if (s->data_len > 0)
		memcpy(s->data, p + VS_SNAP_HDR_BYTES + s->config_len, s->data_len);
	return 0;
}

/* Follows the back pointers from the last record to the first one. */
static int load_entries(struct voter_store *vs, struct raft_log_loaded *out)
{
	struct vs_state *st = &vs->st;
	const uint8_t *ring = vs->load.ring;
	uint64_t n = st->last - st->first + 1, off = st->last_off;
	FL_ASSERT(st->first != 0);
	FL_ASSERT(n < vs->offs_cap);
	out->entries = calloc(n, sizeof(*out->entries));
	if (out->entries == NULL)
		return -FL_ENOMEM;
	out->n_entries = n;
	for (uint64_t i = n; i-- > 0;) {
		uint64_t index = st->first + i;
		int rv = rec_check(vs, ring, off, index);
		if (rv != 0)
			return rv;
		const uint8_t *p = ring + off;
		struct raft_entry *e = &out->entries[i];
		*e = (struct raft_entry){.term = fl_get_le64(p + 16), .index = index, .type = p[36],
					 .len = fl_get_le32(p + 32)};
		if (e->len > 0 && (e->data = malloc(e->len)) == NULL)
			return -FL_ENOMEM;
		if (e->len > 0)
			memcpy(e->data, p + VS_REC_HDR_BYTES, e->len);
		vs->offs[index % vs->offs_cap] = off;
		if (i == 0 && off != st->first_off)
			return vs_error(vs, -FL_ECORRUPT, "%s: the disk voter log chain reaches entry %" PRIu64 " at ring "
					"offset %" PRIu64 " but the metadata says %" PRIu64 "; refusing to load",
					vs->bdev->name, index, off, st->first_off);
		off = fl_get_le64(p + 24);
	}
	const struct raft_entry *last = &out->entries[n - 1];
	st->head = round_up(st->last_off + rec_bytes(last->len), vs->g.sector_size);
	return 0;
}

static int load_finish(struct voter_store *vs, struct raft_log_loaded *out)
{
	const struct vs_state *st = &vs->st;
	int rv = 0;
	memset(out, 0, sizeof(*out));
	out->hard = (struct raft_log_hard){.term = st->term, .vote = st->vote};
	if (st->have_snap)
		rv = load_snapshot(vs, out);
	if (rv == 0 && st->first != 0 && st->have_snap && st->first > st->snap_index + 1)
		rv = vs_error(vs, -FL_ECORRUPT, "%s: the disk voter log starts at entry %" PRIu64 " but its snapshot "
			      "ends at %" PRIu64 " (entries missing); refusing to load", vs->bdev->name, st->first,
			      st->snap_index);
	if (rv == 0 && st->first != 0)
		rv = load_entries(vs, out);
	if (rv != 0)
		raft_log_loaded_free(out);
	return rv;
}

/* Sets up the reads of the next phase; returns the phase it moved to. */
static int load_next_phase(struct voter_store *vs)
{
	struct vs_load *L = &vs->load;
	const struct vs_state *st = &vs->st;
	FL_ASSERT(L->done == L->len);
	FL_ASSERT(L->phase < 3);
	if (L->phase == 0 && st->have_snap) {
		L->len = round_up(VS_SNAP_HDR_BYTES + (uint64_t)st->snap_config_len + st->snap_data_len,
				  vs->g.sector_size);
		L->abs_off = vs->area_off + vs->g.snap_offset[st->snap_region];
		L->dst = L->snap = malloc(L->len);
		L->phase = 1;
	} else if (L->phase <= 1 && st->first != 0) {
		L->len = vs->g.ring_bytes;
		L->abs_off = vs->area_off + vs->g.ring_offset;
		L->dst = L->ring = malloc(L->len);
		L->phase = 2;
	} else {
		L->phase = 3;
		return 3;
	}
	L->done = 0;
	return L->dst != NULL ? L->phase : -FL_ENOMEM;
}

static void vs_load_step(struct voter_store *vs, struct raft_log_req *req)
{
	struct vs_load *L = &vs->load;
	int rv = 0;
	FL_ASSERT(req->op == RAFT_LOG_LOAD);
	FL_ASSERT(!vs->loaded);
	if (L->done < L->len) {
		uint32_t len = (uint32_t)FL_MIN(L->len - L->done, (uint64_t)VOTER_STORE_IO_MAX_BYTES);
		rv = vs_issue(vs, FL_IO_READ, L->abs_off + L->done, len, NULL, L->dst + L->done);
		if (rv == 0)
			return;
	} else if (L->phase == 0) {
		rv = slots_choose(vs, L->slots, &vs->st);
		if (rv == 0)
			rv = load_next_phase(vs) < 0 ? -FL_ENOMEM : 0;
	} else if (L->phase < 3) {
		rv = load_next_phase(vs) < 0 ? -FL_ENOMEM : 0;
	}
	if (rv == 0 && L->phase < 3)
		return; /* the next step reads */
	if (rv == 0)
		rv = load_finish(vs, req->load.out);
	load_free(L);
	if (rv == 0)
		vs->loaded = true;
	else
		memset(&vs->st, 0, sizeof(vs->st));
	vs_complete(vs, req, rv);
}

/* ---- the seam ---- */

static int vs_submit(struct raft_logstore *s, struct raft_log_req *req)
{
	struct voter_store *vs = (struct voter_store *)s;
	int rv;
	FL_ASSERT(s->ops == &vs_ops);
	FL_ASSERT(req->priv == NULL);
	if (req->op == RAFT_LOG_LOAD) {
		if (vs->load_submitted)
			return vs_error(vs, -FL_EINVAL, "%s: a second load request (driver bug)", s->name);
		memset(req->load.out, 0, sizeof(*req->load.out)); /* freeable whatever happens */
		vs->load = (struct vs_load){.len = 2ull * vs->g.sector_size, .abs_off = vs->area_off};
		vs->load.dst = vs->load.slots = malloc(vs->load.len);
		if (vs->load.dst == NULL)
			return -FL_ENOMEM;
		vs->load_submitted = true;
		rv = 0;
	} else if (!vs->loaded) {
		return vs_error(vs, -FL_EINVAL, "%s: a request before the load completed (driver bug)", s->name);
	} else if (req->op == RAFT_LOG_APPEND) {
		rv = plan_append(vs, req);
	} else if (req->op == RAFT_LOG_TRUNCATE) {
		rv = plan_truncate(vs, req);
	} else if (req->op == RAFT_LOG_SET_HARD) {
		rv = plan_hard(vs, req);
	} else {
		FL_ASSERT(req->op == RAFT_LOG_SNAPSHOT);
		rv = plan_snapshot(vs, req);
	}
	/* The base links req after we return; the executor runs from the loop. */
	if (rv == 0 && !vs->io_busy && !fl_timer_armed(&vs->kick_timer))
		fl_timer_after(s->loop, &vs->kick_timer, 0);
	return rv;
}

static void vs_free(struct voter_store *vs)
{
	if (vs->io != NULL && vs->io_busy && vs->io->io.inflight) {
		/* The device still holds it: its completion frees it. (Closing
		 * the device first cancels that completion: the I/O and its
		 * buffer then stay allocated until the process exits.) */
		vs->io->vs = NULL;
	} else if (vs->io != NULL) {
		free(vs->io->buf);
		free(vs->io);
	}
	/* Bounded by the queue: abandoned requests' plans. */
	for (struct raft_log_req *r = vs->base.pending_head; r != NULL; r = r->next) {
		if (r->op != RAFT_LOG_LOAD)
			plan_free(r->priv);
		r->priv = NULL;
	}
	load_free(&vs->load);
	free(vs->offs);
	free(vs);
}

static void vs_close(struct raft_logstore *s)
{
	struct voter_store *vs = (struct voter_store *)s;
	FL_ASSERT(s->ops == &vs_ops);
	FL_ASSERT(!vs->kicking);
	fl_timer_cancel(s->loop, &vs->kick_timer);
	vs_free(vs);
}

static const struct raft_logstore_ops vs_ops = {
	.submit = vs_submit,
	.close = vs_close,
};

static int vs_check_area(struct fl_bdev *bdev, uint64_t area_offset, uint64_t area_bytes,
			 struct voter_store_geometry *g, char *err, size_t errlen)
{
	int rv = voter_store_geometry(area_bytes, bdev->sector_size, g);
	if (rv == 0 && area_offset % bdev->sector_size != 0)
		rv = -FL_EALIGN;
	if (rv == 0 && (area_offset > bdev->size_bytes || area_bytes > bdev->size_bytes - area_offset))
		rv = -FL_ETOOSMALL;
	if (rv != 0)
		snprintf(err, errlen, "disk voter area [%" PRIu64 ", +%" PRIu64 ") on %s (%" PRIu64 " bytes, %u-byte "
			 "sectors) is unusable: %s (it needs at least %u sectors, sector-aligned, inside the device); "
			 "check the device header", area_offset, area_bytes, bdev->name, bdev->size_bytes,
			 bdev->sector_size, fl_strerror(rv), VOTER_STORE_MIN_AREA_SECTORS);
	return rv;
}

int voter_store_open(struct fl_loop *loop, struct fl_bdev *bdev, uint64_t area_offset, uint64_t area_bytes,
		     const struct voter_store_opts *opts, struct raft_logstore **out, char *err, size_t errlen)
{
	char scratch[8], name[256];
	FL_ASSERT(loop != NULL);
	FL_ASSERT(bdev != NULL);
	FL_ASSERT(out != NULL);
	if (err == NULL) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	struct voter_store_geometry g;
	int rv = vs_check_area(bdev, area_offset, area_bytes, &g, err, errlen);
	if (rv != 0)
		return rv;
	struct voter_store *vs = calloc(1, sizeof(*vs));
	if (vs == NULL)
		return -FL_ENOMEM;
	uint32_t qmax = opts != NULL && opts->queue_max > 0 ? opts->queue_max : VOTER_STORE_DEFAULT_QUEUE;
	snprintf(name, sizeof(name), "%.200s@%" PRIu64, bdev->name, area_offset);
	raft_logstore_init_base(&vs->base, &vs_ops, loop, name, qmax);
	vs->bdev = bdev;
	vs->g = g;
	vs->area_off = area_offset;
	vs->io_timeout_us = opts != NULL ? opts->io_timeout_us : 0;
	vs->offs_cap = g.ring_bytes / VS_REC_HDR_BYTES + 1;
	vs->offs = calloc(vs->offs_cap, sizeof(*vs->offs));
	vs->io = calloc(1, sizeof(*vs->io));
	if (vs->io != NULL) {
		vs->io->vs = vs;
		vs->io->buf = malloc(VOTER_STORE_IO_MAX_BYTES);
	}
	fl_timer_init(&vs->kick_timer, vs_kick_fn, vs);
	if (vs->offs == NULL || vs->io == NULL || vs->io->buf == NULL) {
		snprintf(err, errlen, "out of memory opening the disk voter store on %s", bdev->name);
		vs_free(vs);
		return -FL_ENOMEM;
	}
	*out = &vs->base;
	return 0;
}

int voter_store_format_sync(struct fl_bdev *bdev, uint64_t area_offset, uint64_t area_bytes, char *err,
			    size_t errlen)
{
	char scratch[8];
	struct voter_store_geometry g;
	if (err == NULL) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	int rv = vs_check_area(bdev, area_offset, area_bytes, &g, err, errlen);
	if (rv != 0)
		return rv;
	uint8_t *buf = calloc(2, g.sector_size);
	if (buf == NULL)
		return -FL_ENOMEM;
	struct vs_state empty = {0};
	meta_encode(&g, &empty, buf); /* slot 0: seq 0; slot 1 blank */
	rv = fl_bdev_write_sync(bdev, area_offset, buf, 2 * g.sector_size);
	if (rv != 0)
		snprintf(err, errlen, "formatting the disk voter area at offset %" PRIu64 " of %s failed: %s; "
			 "run the format again", area_offset, bdev->name, fl_strerror(rv));
	free(buf);
	return rv;
}

void voter_store_get_stats(const struct raft_logstore *s, struct voter_store_stats *out)
{
	FL_ASSERT(s != NULL);
	FL_ASSERT(s->ops == &vs_ops);
	*out = ((const struct voter_store *)s)->stats;
}

const char *voter_store_last_error(const struct raft_logstore *s)
{
	FL_ASSERT(s != NULL);
	FL_ASSERT(s->ops == &vs_ops);
	return ((const struct voter_store *)s)->last_error;
}
