/* Fuzz target: the on-disk records of the shared device: sanlock-format
 * leader records (delta and paxos), dblocks, mode blocks and request records
 * (disklock/ondisk.c), the lockspace's record check and its judgement of a
 * host from the records it reads (disklock/lockspace.c: ls_record_check,
 * ls_obs_update, ls_obs_state), and mailbox records and whole mailboxes
 * (disklock/mailbox.c).
 *
 * Mode byte: bit 0 recompute the sanlock checksums (leader and dblock) of
 * the fuzzed bytes, bit 1 recompute the mailbox CRCs, bit 2 4096-byte
 * sectors instead of 512, bit 3 decode a whole mailbox (2 * max_hosts + 1
 * sectors) instead of single records.
 *
 * Checks: every decoder returns 0 or a -FL_E code; what decodes re-encodes
 * to exactly the same record bytes (leader, dblock) or to the same value
 * (mode block, request, mailbox record); the lockspace never judges a host
 * FREE from a record that fails its check or that carries a timestamp (a
 * corrupt record is never taken for a free one); a mailbox counts exactly
 * the requests whose sequence is above their acknowledgement. */
#include "common/crc32c.h"
#include "common/le.h"
#include "disklock/lockspace.h"
#include "disklock/mailbox.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPACE "fuzzls"

static void fix_sanlock(uint8_t *s)
{
	fl_put_le32(s + 168, fl_sanlock_crc(s, FL_LEADER_CSUM_LEN));
}

static void check_leader(const uint8_t *s)
{
	static const uint32_t magics[] = {FL_DELTA_MAGIC, FL_PAXOS_MAGIC};
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		struct fl_leader l;
		int rv = fl_leader_decode(s, magics[i], &l);
		FUZZ_CHECK(rv == 0 || rv == -FL_ECHECKSUM || rv == -FL_EMAGIC || rv == -FL_EVERSION,
			   "leader decode returned %d", rv);
		if (rv != 0)
			continue;
		uint8_t out[FL_LEADER_SIZE];
		fl_leader_encode(&l, out);
		FUZZ_CHECK(memcmp(out, s, FL_LEADER_SIZE) == 0, "a decoded leader re-encodes to other bytes");
	}
}

static void check_dblock_mode_request(const uint8_t *s, uint32_t ss)
{
	struct fl_dblock d;
	int rv = fl_dblock_decode(s, &d);
	FUZZ_CHECK(rv == 0 || rv == -FL_ECHECKSUM, "dblock decode returned %d", rv);
	if (rv == 0 && !fl_block_is_zero(s, FL_DBLOCK_SIZE)) {
		uint8_t out[FL_DBLOCK_SIZE];
		fl_dblock_encode(&d, out);
		FUZZ_CHECK(memcmp(out, s, FL_DBLOCK_SIZE) == 0, "a decoded dblock re-encodes to other bytes");
	}
	struct fl_mode_block m, m2;
	fl_mode_decode(s + FL_MODE_OFFSET, &m);
	uint8_t mb[16];
	fl_mode_encode(&m, mb);
	fl_mode_decode(mb, &m2);
	FUZZ_CHECK(m.flags == m2.flags, "a mode block changed in a round trip");
	FUZZ_CHECK(m.generation == m2.generation, "a mode block changed in a round trip");
	struct fl_request r, r2;
	rv = fl_request_decode(s, &r);
	FUZZ_CHECK(rv == 0 || rv == -FL_EMAGIC || rv == -FL_EVERSION, "request decode returned %d", rv);
	if (rv == 0) {
		uint8_t rb[24];
		fl_request_encode(&r, rb);
		FUZZ_CHECK(fl_request_decode(rb, &r2) == 0, "a re-encoded request does not decode");
		FUZZ_CHECK(r.lver == r2.lver, "a request changed in a round trip");
		FUZZ_CHECK(r.force_mode == r2.force_mode, "a request changed in a round trip");
		FUZZ_CHECK(r.version == r2.version, "a request changed in a round trip");
	}
	(void)ss;
}

static void check_mb_record(const uint8_t *s, uint32_t ss)
{
	static const uint32_t magics[] = {MB_REQ_MAGIC, MB_ACK_MAGIC, MB_STATUS_MAGIC};
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		struct mb_record r, r2;
		int rv = mb_record_decode(s, magics[i], &r);
		FUZZ_CHECK(rv == 0 || rv == 1 || rv == -FL_ECHECKSUM || rv == -FL_EMAGIC || rv == -FL_EVERSION,
			   "mailbox record decode returned %d", rv);
		if (rv != 0)
			continue;
		uint8_t *out = malloc(ss);
		FUZZ_CHECK(out != NULL, "out of memory");
		mb_record_encode(&r, out, ss);
		FUZZ_CHECK(mb_record_decode(out, magics[i], &r2) == 0, "a re-encoded mailbox record does not decode");
		/* The encoder writes its own version; every other field must survive. */
		r2.version = r.version;
		FUZZ_CHECK(memcmp(&r, &r2, sizeof(r)) == 0, "a mailbox record changed in a round trip");
		free(out);
	}
}

/* The lockspace's view of one host_id fed the fuzzed sector several times,
 * with fuzzed time steps: a record that fails its check, or that carries a
 * timestamp, is never judged FREE. */
static void check_observation(struct fuzz_in *in, uint8_t *s, uint32_t ss, bool fix)
{
	struct fl_leader l;
	int rv = ls_record_check(s, SPACE, ss, &l);
	FUZZ_CHECK(rv <= 0, "record check returned %d", rv);
	FUZZ_CHECK(ls_record_reason(rv) != NULL, "no reason for %d", rv);
	struct ls_host_obs o;
	memset(&o, 0, sizeof(o));
	uint64_t now = 1000000;
	for (uint32_t k = 0; k < 8; k++) {
		ls_obs_update(&o, s, SPACE, ss, now);
		rv = ls_record_check(s, SPACE, ss, &l);
		enum ls_host_state st = ls_obs_state_ms(&o, now, 100u * (1u + fuzz_u8(in) % 100u));
		FUZZ_CHECK(st <= LS_HOST_ERROR, "state %d out of range", st);
		FUZZ_CHECK(st != LS_HOST_FREE || (rv == 0 && l.timestamp == 0),
			   "host judged FREE from a record that %s", rv != 0 ? "fails its check" : "is held");
		FUZZ_CHECK(ls_host_state_name(st) != NULL, "no name for state %d", st);
		now += (uint64_t)fuzz_u16(in) * 10000u;
		/* The next read: maybe a changed timestamp or other bytes. */
		uint8_t what = fuzz_u8(in);
		if (what & 1)
			fl_put_le64(s + 152, fl_get_le64(s + 152) + (what >> 1));
		if (what & 0x80)
			s[fuzz_u8(in) % FL_LEADER_SIZE] ^= fuzz_u8(in);
		if (fix)
			fix_sanlock(s);
	}
}

static void single_records(struct fuzz_in *in, uint32_t ss, uint8_t mode)
{
	uint8_t *s = malloc(ss);
	FUZZ_CHECK(s != NULL, "out of memory");
	fuzz_fill(in, s, ss);
	uint8_t *d = malloc(ss); /* a copy with the dblock checksum fixed */
	FUZZ_CHECK(d != NULL, "out of memory");
	memcpy(d, s, ss);
	if (mode & 1) {
		fix_sanlock(s);
		fl_put_le32(d + 48, fl_sanlock_crc(d, FL_DBLOCK_CSUM_LEN));
	}
	check_leader(s);
	check_dblock_mode_request(d, ss);
	uint8_t *m = malloc(ss);
	FUZZ_CHECK(m != NULL, "out of memory");
	memcpy(m, d, ss);
	if (mode & 2)
		fl_put_le32(m + MB_RECORD_CSUM_LEN, fl_crc32c_std(m, MB_RECORD_CSUM_LEN));
	check_mb_record(m, ss);
	check_observation(in, s, ss, (mode & 1) != 0);
	free(m);
	free(d);
	free(s);
}

static void whole_mailbox(struct fuzz_in *in, uint32_t ss, uint8_t mode)
{
	struct fl_bdev dev;
	memset(&dev, 0, sizeof(dev));
	dev.sector_size = ss;
	snprintf(dev.name, sizeof(dev.name), "fuzz");
	struct mb_geom g = {.bdev = &dev, .offset = 0, .max_hosts = 1 + fuzz_u8(in) % 4u};
	g.box_bytes = (2ull * g.max_hosts + 1) * ss;
	uint64_t owner = 1 + fuzz_u8(in) % g.max_hosts;
	uint8_t *buf = malloc(g.box_bytes);
	FUZZ_CHECK(buf != NULL, "out of memory");
	fuzz_fill(in, buf, g.box_bytes);
	for (uint32_t i = 0; (mode & 2) && i < 2 * g.max_hosts + 1; i++) {
		uint8_t *s = buf + (size_t)i * ss;
		if (!fl_block_is_zero(s, MB_RECORD_CSUM_LEN + 4))
			fl_put_le32(s + MB_RECORD_CSUM_LEN, fl_crc32c_std(s, MB_RECORD_CSUM_LEN));
	}
	static struct mb_box box;
	int rv = mb_box_decode(&g, buf, owner, &box);
	FUZZ_CHECK(rv <= 0, "mailbox decode returned %d", rv);
	if (rv == 0) {
		uint32_t pending = 0;
		for (uint32_t s = 1; s <= g.max_hosts; s++) {
			pending += box.req[s].seq > box.ack[s].seq;
			FUZZ_CHECK(box.req[s].seq == 0 || (box.req[s].from == s && box.req[s].to == owner),
				   "request of sender %u accepted with from %llu to %llu", s,
				   (unsigned long long)box.req[s].from, (unsigned long long)box.req[s].to);
		}
		FUZZ_CHECK(pending == box.pending, "mailbox counts %u pending requests, %u are", box.pending, pending);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	uint32_t ss = (mode & 4) ? 4096 : 512;
	struct fuzz_in in = {data + 1, size - 1};
	if (mode & 8)
		whole_mailbox(&in, ss, mode);
	else
		single_records(&in, ss, mode);
	return 0;
}
