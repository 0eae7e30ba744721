/* Mailboxes (see mailbox.h): record encoding and the synchronous read,
 * send and owner-side processing. Each function writes only sectors its
 * caller owns: a sender its request sector, the owner its status and ack
 * sectors. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "disklock/mailbox.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"

const char *mb_kind_name(uint32_t kind)
{
	switch (kind) {
	case MB_NONE: return "none";
	case MB_FENCE: return "fence";
	case MB_CLEAR: return "clear";
	case MB_TEST: return "test";
	case MB_FENCED: return "fenced";
	case MB_CLEARED: return "cleared";
	case MB_TEST_OK: return "test-ok";
	case MB_RUNNING: return "running";
	default: return "invalid";
	}
}

enum mb_kind mb_kind_parse(const char *s)
{
	if (strcmp(s, "fence") == 0)
		return MB_FENCE;
	if (strcmp(s, "clear") == 0)
		return MB_CLEAR;
	if (strcmp(s, "test") == 0)
		return MB_TEST;
	return MB_NONE;
}

void mb_record_encode(const struct mb_record *r, uint8_t *s, uint32_t sector_size)
{
	FL_ASSERT(sector_size >= 512);
	memset(s, 0, sector_size);
	fl_put_le32(s + 0, r->magic);
	fl_put_le32(s + 4, MB_VERSION);
	fl_put_le32(s + 8, r->kind);
	fl_put_le64(s + 12, r->from);
	fl_put_le64(s + 20, r->to);
	fl_put_le64(s + 28, r->seq);
	fl_put_le32(s + 36, (uint32_t)r->time_s);
	fl_put_le32(s + MB_RECORD_CSUM_LEN, fl_crc32c_std(s, MB_RECORD_CSUM_LEN));
}

int mb_record_decode(const uint8_t *s, uint32_t expected_magic, struct mb_record *r)
{
	memset(r, 0, sizeof(*r));
	if (fl_block_is_zero(s, MB_RECORD_CSUM_LEN + 4))
		return 1;
	if (fl_crc32c_std(s, MB_RECORD_CSUM_LEN) != fl_get_le32(s + MB_RECORD_CSUM_LEN))
		return -FL_ECHECKSUM;
	r->magic = fl_get_le32(s);
	r->version = fl_get_le32(s + 4);
	if (r->magic != expected_magic)
		return -FL_EMAGIC;
	if ((r->version & FL_VERSION_MAJOR_MASK) != (MB_VERSION & FL_VERSION_MAJOR_MASK))
		return -FL_EVERSION;
	r->kind = fl_get_le32(s + 8);
	r->from = fl_get_le64(s + 12);
	r->to = fl_get_le64(s + 20);
	r->seq = fl_get_le64(s + 28);
	r->time_s = fl_get_le32(s + 36);
	return 0;
}

bool mb_pending(const struct mb_box *b, uint64_t sender)
{
	FL_ASSERT(sender >= 1);
	FL_ASSERT(sender <= MB_MAX_HOSTS);
	return b->req[sender].seq > b->ack[sender].seq;
}

static int check_geom(const struct mb_geom *g, uint64_t host)
{
	FL_ASSERT(g != NULL);
	FL_ASSERT(g->bdev != NULL);
	if (host < 1 || host > g->max_hosts || g->max_hosts > MB_MAX_HOSTS)
		return -FL_EINVAL;
	if (g->box_bytes < (2ull * g->max_hosts + 1) * g->bdev->sector_size)
		return -FL_EINVAL;
	return 0;
}

uint64_t mb_box_offset(const struct mb_geom *g, uint64_t host) { return g->offset + (host - 1) * g->box_bytes; }

/* Decodes sector i of a mailbox buffer, checking sender and target fields. */
static int decode_slot(const struct mb_geom *g, const uint8_t *buf, uint64_t owner, uint32_t i, uint32_t magic,
		       struct mb_record *r)
{
	int rv = mb_record_decode(buf + (uint64_t)i * g->bdev->sector_size, magic, r);
	if (rv == 1)
		return 0;
	if (rv == 0 && magic == MB_REQ_MAGIC && (r->to != owner || r->from != i))
		rv = -FL_ECORRUPT;
	if (rv != 0)
		fl_err("mailbox of host %" PRIu64 " on %s: sector %u is %s; the writer of that sector must rewrite it",
		       owner, g->bdev->name, i, fl_strerror(rv));
	return rv;
}

int mb_box_decode(const struct mb_geom *g, const uint8_t *buf, uint64_t host, struct mb_box *out)
{
	int rv = check_geom(g, host);
	if (rv != 0)
		return rv;
	memset(out, 0, sizeof(*out));
	out->owner = host;
	rv = decode_slot(g, buf, host, 0, MB_STATUS_MAGIC, &out->status);
	for (uint32_t s = 1; rv == 0 && s <= g->max_hosts; s++) {
		rv = decode_slot(g, buf, host, s, MB_REQ_MAGIC, &out->req[s]);
		if (rv == 0)
			rv = decode_slot(g, buf, host, g->max_hosts + s, MB_ACK_MAGIC, &out->ack[s]);
		if (rv == 0 && mb_pending(out, s))
			out->pending++;
	}
	return rv;
}

int mb_read_sync(const struct mb_geom *g, uint64_t host, struct mb_box *out)
{
	int rv = check_geom(g, host);
	if (rv != 0)
		return rv;
	uint32_t ss = g->bdev->sector_size;
	uint32_t n = 2 * g->max_hosts + 1;
	uint8_t *buf = malloc((size_t)n * ss);
	if (buf == NULL)
		return -FL_ENOMEM;
	rv = fl_bdev_read_sync(g->bdev, mb_box_offset(g, host), buf, n * ss);
	if (rv == 0)
		rv = mb_box_decode(g, buf, host, out);
	free(buf);
	return rv;
}

static int write_record(const struct mb_geom *g, uint64_t box_host, uint32_t sector, const struct mb_record *r)
{
	uint32_t ss = g->bdev->sector_size;
	uint8_t *s = malloc(ss);
	if (s == NULL)
		return -FL_ENOMEM;
	mb_record_encode(r, s, ss);
	int rv = fl_bdev_write_sync(g->bdev, mb_box_offset(g, box_host) + (uint64_t)sector * ss, s, ss);
	free(s);
	return rv;
}

int mb_send_sync(const struct mb_geom *g, uint64_t from, uint64_t to, enum mb_kind kind, uint64_t now_s,
		 uint64_t *seq_out)
{
	FL_ASSERT(kind == MB_FENCE || kind == MB_CLEAR || kind == MB_TEST);
	int rv = check_geom(g, to);
	if (rv == 0)
		rv = check_geom(g, from);
	if (rv != 0)
		return rv;
	struct mb_box *b = malloc(sizeof(*b));
	if (b == NULL)
		return -FL_ENOMEM;
	/* Our previous request fixes the sequence: we are that sector's only writer. */
	rv = mb_read_sync(g, to, b);
	if (rv == 0) {
		struct mb_record r = {.magic = MB_REQ_MAGIC, .kind = kind, .from = from, .to = to,
				      .seq = FL_MAX(b->req[from].seq, b->ack[from].seq) + 1, .time_s = now_s};
		rv = write_record(g, to, (uint32_t)from, &r);
		if (rv == 0 && seq_out)
			*seq_out = r.seq;
	}
	free(b);
	return rv;
}

uint32_t mb_ack_for(uint32_t kind)
{
	return kind == MB_FENCE ? MB_FENCED : kind == MB_CLEAR ? MB_CLEARED : MB_TEST_OK;
}

int mb_process_sync(const struct mb_geom *g, uint64_t owner, uint64_t now_s, struct mb_box *out, bool *fence_out)
{
	int rv = mb_read_sync(g, owner, out);
	if (rv != 0)
		return rv;
	bool fenced = out->status.kind == MB_FENCED;
	bool fence_req = false, clear_req = false;
	for (uint32_t s = 1; s <= g->max_hosts; s++) {
		if (mb_pending(out, s) && out->req[s].kind == MB_FENCE)
			fence_req = true;
		if (mb_pending(out, s) && out->req[s].kind == MB_CLEAR)
			clear_req = true;
	}
	/* A fence wins over a clear that is pending at the same time (safety first). */
	if (fence_req)
		fenced = true;
	else if (clear_req)
		fenced = false;
	struct mb_record st = {.magic = MB_STATUS_MAGIC, .kind = fenced ? MB_FENCED : MB_RUNNING, .from = owner,
			       .to = owner, .seq = out->status.seq + 1, .time_s = now_s};
	if (out->pending > 0 || out->status.kind != st.kind)
		rv = write_record(g, owner, 0, &st);
	for (uint32_t s = 1; rv == 0 && s <= g->max_hosts; s++) {
		if (!mb_pending(out, s))
			continue;
		struct mb_record a = {.magic = MB_ACK_MAGIC, .kind = mb_ack_for(out->req[s].kind), .from = owner, .to = s,
				      .seq = out->req[s].seq, .time_s = now_s};
		rv = write_record(g, owner, g->max_hosts + s, &a);
		if (rv == 0)
			out->ack[s] = a;
	}
	if (rv == 0) {
		out->status = st;
		out->pending = 0;
	}
	*fence_out = fenced;
	return rv;
}
