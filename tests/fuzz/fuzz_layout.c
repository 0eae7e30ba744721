/* Fuzz target: the device layout (disklock/layout.c): the header sector
 * every host reads at start (lay_header_decode), the disk voter header
 * (lay_voter_decode), lay_compute() on any parameters, and the voter store's
 * area geometry (voter_store_geometry).
 *
 * Mode byte: bit 0 recompute the header's CRC, bit 1 the voter header's,
 * bit 2 4096-byte sectors; the rest of the input is the sector, then
 * parameters for lay_compute and voter_store_geometry.
 *
 * Checks: a header that decodes is exactly the layout lay_compute() gives for
 * the parameters it records (so no header, however written, can send the
 * daemon's I/O outside the areas of a real layout) and re-encodes to a header
 * that decodes to the same layout; a voter header re-encodes to the same
 * value; lay_compute either refuses or returns aligned, non-overlapping
 * areas in device order; the voter geometry lies inside its area with its
 * parts in order and disjoint. */
#include "common/crc32c.h"
#include "common/le.h"
#include "disklock/layout.h"
#include "fencelock/error.h"
#include "plugin/arbiter/voter_store.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_layout(const struct lay_layout *a, const struct lay_layout *b)
{
	return strcmp(a->cluster, b->cluster) == 0 && memcmp(a->uuid, b->uuid, LAY_UUID_LEN) == 0 &&
	       a->sector_size == b->sector_size && a->io_timeout_ms == b->io_timeout_ms &&
	       a->max_hosts == b->max_hosts && a->volume_slots == b->volume_slots &&
	       a->align_bytes == b->align_bytes && a->renew_us == b->renew_us && a->fail_us == b->fail_us &&
	       a->kill_us == b->kill_us && a->margin_us == b->margin_us && a->dead_us == b->dead_us &&
	       a->lockspace_offset == b->lockspace_offset && a->header_offset == b->header_offset &&
	       a->mailbox_offset == b->mailbox_offset && a->mailbox_bytes == b->mailbox_bytes &&
	       a->witness_offset == b->witness_offset && a->voter_offset == b->voter_offset &&
	       a->voter_bytes == b->voter_bytes && a->slots_offset == b->slots_offset &&
	       a->slot_bytes == b->slot_bytes && a->total_bytes == b->total_bytes;
}

static void check_header(const uint8_t *s, uint32_t ss)
{
	struct lay_layout l;
	int rv = lay_header_decode(s, &l);
	FUZZ_CHECK(rv == 0 || rv == -FL_ENOENT || rv == -FL_EMAGIC || rv == -FL_ECHECKSUM || rv == -FL_EVERSION ||
			   rv == -FL_ECORRUPT,
		   "header decode returned %d", rv);
	if (rv != 0)
		return;
	struct lay_params p = {.cluster = l.cluster, .io_timeout_ms = l.io_timeout_ms, .max_hosts = l.max_hosts,
			       .volume_slots = l.volume_slots, .sector_size = l.sector_size};
	memcpy(p.uuid, l.uuid, LAY_UUID_LEN);
	struct lay_layout want;
	char err[256];
	FUZZ_CHECK(lay_compute(&p, &want, err, sizeof(err)) == 0, "a header decodes with parameters lay_compute "
		   "refuses: %s", err);
	FUZZ_CHECK(same_layout(&l, &want), "a header decodes to offsets lay_compute does not give for its "
		   "parameters");
	uint8_t *out = malloc(ss);
	FUZZ_CHECK(out != NULL, "out of memory");
	lay_header_encode(&l, out, ss);
	struct lay_layout back;
	FUZZ_CHECK(lay_header_decode(out, &back) == 0, "a re-encoded header does not decode");
	FUZZ_CHECK(same_layout(&l, &back), "a header changed in a round trip");
	free(out);
}

static void check_voter_header(const uint8_t *s, uint32_t ss)
{
	struct lay_voter_header v, v2;
	memset(&v, 0, sizeof(v));
	int rv = lay_voter_decode(s, &v);
	FUZZ_CHECK(rv == 0 || rv == -FL_EMAGIC || rv == -FL_ECHECKSUM, "voter header decode returned %d", rv);
	if (rv != 0)
		return;
	uint8_t *out = malloc(ss);
	FUZZ_CHECK(out != NULL, "out of memory");
	lay_voter_encode(&v, out, ss);
	memset(&v2, 0, sizeof(v2));
	FUZZ_CHECK(lay_voter_decode(out, &v2) == 0, "a re-encoded voter header does not decode");
	FUZZ_CHECK(memcmp(&v, &v2, sizeof(v)) == 0, "a voter header changed in a round trip");
	free(out);
}

static void check_compute(struct fuzz_in *in)
{
	char name[FL_NAME_LEN + 8];
	size_t n = fuzz_u8(in) % sizeof(name);
	fuzz_fill(in, name, n);
	name[n] = '\0';
	struct lay_params p = {.cluster = name, .io_timeout_ms = fuzz_u32(in) % 320000u,
			       .max_hosts = fuzz_u16(in) % 260u, .volume_slots = fuzz_u32(in) % 70000u,
			       .sector_size = (fuzz_u8(in) & 1) ? 4096 : 512};
	fuzz_fill(in, p.uuid, LAY_UUID_LEN);
	struct lay_layout l;
	char err[256];
	if (lay_compute(&p, &l, err, sizeof(err)) != 0)
		return;
	uint64_t a = l.align_bytes;
	FUZZ_CHECK(l.header_offset >= l.lockspace_offset + a, "header inside the lockspace");
	FUZZ_CHECK(l.mailbox_offset >= l.header_offset + l.sector_size, "mailboxes overlap the header");
	FUZZ_CHECK(l.witness_offset >= l.mailbox_offset + l.mailbox_bytes * l.max_hosts, "witness overlaps mailboxes");
	FUZZ_CHECK(l.voter_offset >= l.witness_offset + a, "voter area overlaps the witness");
	FUZZ_CHECK(l.slots_offset >= l.voter_offset + l.voter_bytes, "slots overlap the voter area");
	FUZZ_CHECK(l.total_bytes == l.slots_offset + (uint64_t)l.volume_slots * l.slot_bytes, "total size wrong");
	FUZZ_CHECK(l.witness_offset % a == 0, "an area is not align-aligned");
	FUZZ_CHECK(l.voter_offset % a == 0, "an area is not align-aligned");
	FUZZ_CHECK(l.slots_offset % a == 0, "an area is not align-aligned");
	FUZZ_CHECK(l.mailbox_bytes >= (2ull * l.max_hosts + 1) * l.sector_size, "mailbox too small");
	uint8_t *s = malloc(l.sector_size);
	FUZZ_CHECK(s != NULL, "out of memory");
	lay_header_encode(&l, s, l.sector_size);
	struct lay_layout back;
	FUZZ_CHECK(lay_header_decode(s, &back) == 0, "the header of a computed layout does not decode");
	FUZZ_CHECK(same_layout(&l, &back), "a computed layout changed through its header");
	free(s);
}

static void check_voter_geometry(struct fuzz_in *in)
{
	uint64_t area = fuzz_u32(in);
	uint32_t ss = (fuzz_u8(in) & 1) ? 4096 : 512;
	if (fuzz_u8(in) & 1)
		area = area / ss * ss;
	struct voter_store_geometry g;
	int rv = voter_store_geometry(area, ss, &g);
	FUZZ_CHECK(rv == 0 || rv == -FL_EALIGN || rv == -FL_ETOOSMALL || rv == -FL_EINVAL,
		   "geometry returned %d", rv);
	if (rv != 0)
		return;
	FUZZ_CHECK(g.slot_offset[0] == 0, "metadata slots misplaced");
	FUZZ_CHECK(g.slot_offset[1] == ss, "metadata slots misplaced");
	FUZZ_CHECK(g.ring_offset >= 2ull * ss, "ring overlaps the metadata");
	FUZZ_CHECK(g.ring_bytes > 0, "ring overlaps the metadata");
	FUZZ_CHECK(g.snap_offset[0] >= g.ring_offset + g.ring_bytes, "snapshot region overlaps the ring");
	FUZZ_CHECK(g.snap_offset[1] >= g.snap_offset[0] + g.snap_bytes, "snapshot regions overlap");
	FUZZ_CHECK(g.snap_offset[1] + g.snap_bytes <= area, "snapshot region outside the area");
	FUZZ_CHECK(g.ring_offset % ss == 0, "a part is not sector-aligned");
	FUZZ_CHECK(g.ring_bytes % ss == 0, "a part is not sector-aligned");
	FUZZ_CHECK(g.snap_offset[0] % ss == 0, "a part is not sector-aligned");
	FUZZ_CHECK(g.snap_offset[1] % ss == 0, "a part is not sector-aligned");
	FUZZ_CHECK(g.snap_bytes % ss == 0, "a part is not sector-aligned");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	uint32_t ss = (mode & 4) ? 4096 : 512;
	struct fuzz_in in = {data + 1, size - 1};
	uint8_t *s = malloc(ss);
	FUZZ_CHECK(s != NULL, "out of memory");
	fuzz_fill(&in, s, 512);
	memset(s + 512, 0, ss - 512);
	uint8_t *v = malloc(ss);
	FUZZ_CHECK(v != NULL, "out of memory");
	memcpy(v, s, ss);
	if (mode & 1)
		fl_put_le32(s + LAY_HEADER_CSUM_LEN, fl_crc32c_std(s, LAY_HEADER_CSUM_LEN));
	if (mode & 2)
		fl_put_le32(v + LAY_VOTER_CSUM_LEN, fl_crc32c_std(v, LAY_VOTER_CSUM_LEN));
	check_header(s, ss);
	check_voter_header(v, ss);
	check_compute(&in);
	check_voter_geometry(&in);
	free(v);
	free(s);
	return 0;
}
