/* The fencelock device layout (see layout.h and docs/ondisk.md): offsets,
 * the header and voter-header formats, and the synchronous format. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "disklock/layout.h"
#include "disklock/mailbox.h"
#include "disklock/paxos.h"
#include "disklock/timeouts.h"
#include "fencelock/error.h"

/* Host slots of the layout: every host id a layout may have (up to
 * MB_MAX_HOSTS) has a delta-lease record in the lockspace area, a Disk Paxos
 * record in each volume lease and in the disk voter's lease, whose area (2 +
 * hosts sectors) fits one slot of the align, for both sector sizes. */
_Static_assert(MB_MAX_HOSTS <= FL_PAXOS_MAX_HOSTS, "every layout host id has a lease record");
_Static_assert((2u + MB_MAX_HOSTS) * 512u <= (1u << 20), "a lease of the largest layout fits a 1 MiB slot");
_Static_assert((2u + MB_MAX_HOSTS) * 4096u <= (8u << 20), "a lease of the largest layout fits an 8 MiB slot");
_Static_assert(MB_MAX_HOSTS <= 250u, "4 KiB sectors: 250 delta-lease records per MiB of align (fl_max_hosts)");
_Static_assert(LAY_DEFAULT_MAX_HOSTS <= MB_MAX_HOSTS, "the default host count is a valid one");

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

int lay_compute(const struct lay_params *p, struct lay_layout *l, char *err, size_t errlen)
{
	FL_ASSERT(p != NULL);
	FL_ASSERT(l != NULL);
	memset(l, 0, sizeof(*l));
	if (p->cluster == NULL || strlen(p->cluster) == 0 || strlen(p->cluster) >= FL_NAME_LEN) {
		snprintf(err, errlen, "cluster name must be 1..%d bytes", FL_NAME_LEN - 1);
		return -FL_EINVAL;
	}
	if (p->sector_size != 512 && p->sector_size != 4096) {
		snprintf(err, errlen, "sector size %u: must be 512 or 4096", p->sector_size);
		return -FL_EINVAL;
	}
	if (!ls_io_timeout_ms_valid(p->io_timeout_ms) || p->max_hosts < 1 || p->max_hosts > MB_MAX_HOSTS ||
	    p->volume_slots < 1 || p->volume_slots > LAY_MAX_VOLUME_SLOTS) {
		snprintf(err, errlen,
			 "io_timeout %u ms (%u ms..%u s, whole seconds above %u ms), max_hosts %u (1..%u), "
			 "volume_slots %u (1..%u) out of range",
			 p->io_timeout_ms, LS_IO_TIMEOUT_MIN_MS, LS_IO_TIMEOUT_MAX_S, LS_IO_TIMEOUT_FRACTIONAL_MAX_MS,
			 p->max_hosts, MB_MAX_HOSTS, p->volume_slots, LAY_MAX_VOLUME_SLOTS);
		return -FL_EINVAL;
	}
	snprintf(l->cluster, sizeof(l->cluster), "%s", p->cluster);
	memcpy(l->uuid, p->uuid, LAY_UUID_LEN);
	l->sector_size = p->sector_size;
	l->io_timeout_ms = p->io_timeout_ms;
	l->max_hosts = p->max_hosts;
	l->volume_slots = p->volume_slots;
	/* sanlock's align: 1 MiB holds 2000 512-byte records; 4K sectors need 8 MiB. */
	l->align_bytes = p->sector_size == 512 ? 1ull << 20 : 8ull << 20;
	uint64_t t = (uint64_t)p->io_timeout_ms * 1000u;
	l->renew_us = t, l->fail_us = 4 * t, l->kill_us = t, l->margin_us = t, l->dead_us = 6 * t;
	uint64_t a = l->align_bytes, ss = p->sector_size;
	l->lockspace_offset = 0;
	l->header_offset = a;
	l->mailbox_offset = 2 * a;
	l->mailbox_bytes = (2ull * p->max_hosts + 1) * ss;
	l->witness_offset = round_up(l->mailbox_offset + l->mailbox_bytes * p->max_hosts, a);
	l->voter_offset = l->witness_offset + a;
	l->voter_bytes = round_up(LAY_VOTER_BYTES, a);
	l->slots_offset = l->voter_offset + l->voter_bytes;
	l->slot_bytes = a;
	l->total_bytes = l->slots_offset + (uint64_t)p->volume_slots * l->slot_bytes;
	FL_ASSERT((2 + (uint64_t)p->max_hosts) * ss <= l->slot_bytes);
	FL_ASSERT(l->total_bytes % a == 0);
	FL_ASSERT(l->witness_offset % a == 0);
	return 0;
}

static void put_u64s(uint8_t *p, const uint64_t *v, int n)
{
	for (int i = 0; i < n; i++)
		fl_put_le64(p + 8 * i, v[i]);
}

void lay_header_encode(const struct lay_layout *l, uint8_t *s, uint32_t sector_size)
{
	FL_ASSERT(sector_size >= 512);
	memset(s, 0, sector_size);
	fl_put_le32(s + 0, LAY_MAGIC);
	fl_put_le32(s + 4, LAY_VERSION);
	fl_put_le32(s + 8, l->sector_size);
	fl_put_le32(s + 12, ls_io_timeout_record_s(l->io_timeout_ms));
	fl_put_le32(s + 16, l->max_hosts);
	fl_put_le32(s + 20, l->volume_slots);
	fl_put_le64(s + 24, l->align_bytes);
	memcpy(s + 32, l->cluster, strlen(l->cluster));
	memcpy(s + 80, l->uuid, LAY_UUID_LEN);
	uint64_t v[] = {l->renew_us, l->fail_us, l->kill_us, l->margin_us, l->dead_us,
			l->lockspace_offset, l->header_offset, l->mailbox_offset, l->mailbox_bytes,
			l->witness_offset, l->voter_offset, l->voter_bytes, l->slots_offset, l->slot_bytes,
			l->total_bytes, l->io_timeout_ms, 0, 0};
	put_u64s(s + 96, v, (int)FL_ARRAY_SIZE(v));
	FL_ASSERT(96 + sizeof(v) <= LAY_HEADER_CSUM_LEN);
	fl_put_le32(s + LAY_HEADER_CSUM_LEN, fl_crc32c_std(s, LAY_HEADER_CSUM_LEN));
}

/* True when every offset and timeout of a decoded header is what
 * lay_compute() gives for the parameters the header records. A header that
 * passes its CRC but says anything else (written by a broken or hostile
 * tool) would send every host's I/O to places no format ever wrote: it is
 * corrupt, however valid its checksum. */
static bool header_consistent(const struct lay_layout *l)
{
	struct lay_params p = {.cluster = l->cluster, .io_timeout_ms = l->io_timeout_ms, .max_hosts = l->max_hosts,
			       .volume_slots = l->volume_slots, .sector_size = l->sector_size};
	memcpy(p.uuid, l->uuid, LAY_UUID_LEN);
	struct lay_layout want;
	char err[160];
	if (lay_compute(&p, &want, err, sizeof(err)) != 0)
		return false;
	const uint64_t got_v[] = {l->align_bytes, l->renew_us, l->fail_us, l->kill_us, l->margin_us, l->dead_us,
				  l->lockspace_offset, l->header_offset, l->mailbox_offset, l->mailbox_bytes,
				  l->witness_offset, l->voter_offset, l->voter_bytes, l->slots_offset,
				  l->slot_bytes, l->total_bytes};
	const uint64_t want_v[] = {want.align_bytes, want.renew_us, want.fail_us, want.kill_us, want.margin_us,
				   want.dead_us, want.lockspace_offset, want.header_offset, want.mailbox_offset,
				   want.mailbox_bytes, want.witness_offset, want.voter_offset, want.voter_bytes,
				   want.slots_offset, want.slot_bytes, want.total_bytes};
	_Static_assert(sizeof(got_v) == sizeof(want_v), "same fields on both sides");
	return memcmp(got_v, want_v, sizeof(got_v)) == 0;
}

/* T from a header: a header written before T had milliseconds carries 0 in
 * the milliseconds field and whole seconds at offset 12; a newer one carries
 * both, and the seconds must be the milliseconds rounded up (what older
 * readers use). Anything else is corrupt. */
static bool header_io_timeout(uint32_t io_s, uint64_t io_ms, struct lay_layout *l)
{
	if (io_ms == 0) {
		if (!ls_io_timeout_valid(io_s))
			return false;
		l->io_timeout_ms = io_s * 1000u;
		return true;
	}
	if (io_ms > UINT32_MAX || !ls_io_timeout_ms_valid((uint32_t)io_ms) ||
	    ls_io_timeout_record_s((uint32_t)io_ms) != io_s)
		return false;
	l->io_timeout_ms = (uint32_t)io_ms;
	return true;
}

int lay_header_decode(const uint8_t *s, struct lay_layout *l)
{
	memset(l, 0, sizeof(*l));
	if (fl_block_is_zero(s, LAY_HEADER_CSUM_LEN + 4))
		return -FL_ENOENT;
	if (fl_get_le32(s) != LAY_MAGIC)
		return -FL_EMAGIC;
	if (fl_crc32c_std(s, LAY_HEADER_CSUM_LEN) != fl_get_le32(s + LAY_HEADER_CSUM_LEN))
		return -FL_ECHECKSUM;
	if ((fl_get_le32(s + 4) & FL_VERSION_MAJOR_MASK) != (LAY_VERSION & FL_VERSION_MAJOR_MASK))
		return -FL_EVERSION;
	l->sector_size = fl_get_le32(s + 8);
	uint32_t io_s = fl_get_le32(s + 12);
	l->max_hosts = fl_get_le32(s + 16);
	l->volume_slots = fl_get_le32(s + 20);
	l->align_bytes = fl_get_le64(s + 24);
	memcpy(l->cluster, s + 32, FL_NAME_LEN);
	l->cluster[FL_NAME_LEN] = '\0';
	memcpy(l->uuid, s + 80, LAY_UUID_LEN);
	uint64_t *f[] = {&l->renew_us, &l->fail_us, &l->kill_us, &l->margin_us, &l->dead_us,
			 &l->lockspace_offset, &l->header_offset, &l->mailbox_offset, &l->mailbox_bytes,
			 &l->witness_offset, &l->voter_offset, &l->voter_bytes, &l->slots_offset, &l->slot_bytes,
			 &l->total_bytes};
	for (size_t i = 0; i < FL_ARRAY_SIZE(f); i++)
		*f[i] = fl_get_le64(s + 96 + 8 * i);
	return header_io_timeout(io_s, fl_get_le64(s + 96 + 8 * FL_ARRAY_SIZE(f)), l) && header_consistent(l)
		       ? 0
		       : -FL_ECORRUPT;
}

void lay_voter_encode(const struct lay_voter_header *v, uint8_t *s, uint32_t sector_size)
{
	memset(s, 0, sector_size);
	fl_put_le32(s + 0, LAY_VOTER_MAGIC);
	fl_put_le32(s + 4, LAY_VOTER_VERSION);
	uint64_t f[] = {v->term, v->vote, v->ring_offset, v->ring_bytes, v->ring_first_index, v->ring_last_index,
			v->snap_offset, v->snap_bytes, v->snap_index, v->snap_term};
	put_u64s(s + 8, f, (int)FL_ARRAY_SIZE(f));
	fl_put_le32(s + LAY_VOTER_CSUM_LEN, fl_crc32c_std(s, LAY_VOTER_CSUM_LEN));
}

int lay_voter_decode(const uint8_t *s, struct lay_voter_header *v)
{
	if (fl_get_le32(s) != LAY_VOTER_MAGIC)
		return -FL_EMAGIC;
	if (fl_crc32c_std(s, LAY_VOTER_CSUM_LEN) != fl_get_le32(s + LAY_VOTER_CSUM_LEN))
		return -FL_ECHECKSUM;
	uint64_t *f[] = {&v->term, &v->vote, &v->ring_offset, &v->ring_bytes, &v->ring_first_index,
			 &v->ring_last_index, &v->snap_offset, &v->snap_bytes, &v->snap_index, &v->snap_term};
	for (size_t i = 0; i < FL_ARRAY_SIZE(f); i++)
		*f[i] = fl_get_le64(s + 8 + 8 * i);
	return 0;
}

uint64_t lay_mailbox_offset(const struct lay_layout *l, uint64_t host_id)
{
	FL_ASSERT(host_id >= 1);
	FL_ASSERT(host_id <= l->max_hosts);
	return l->mailbox_offset + (host_id - 1) * l->mailbox_bytes;
}

uint64_t lay_slot_offset(const struct lay_layout *l, uint32_t slot)
{
	FL_ASSERT(slot < l->volume_slots);
	return l->slots_offset + (uint64_t)slot * l->slot_bytes;
}

void lay_slot_name(uint32_t slot, char out[FL_NAME_LEN + 1]) { snprintf(out, FL_NAME_LEN + 1, "slot-%u", slot); }

int lay_read_sync(struct fl_bdev *d, struct lay_layout *out)
{
	uint32_t ss = d->sector_size;
	uint64_t at = ss == 512 ? 1ull << 20 : 8ull << 20;
	if (d->size_bytes < at + ss)
		return -FL_ENOENT;
	uint8_t *s = malloc(ss);
	if (s == NULL)
		return -FL_ENOMEM;
	int rv = fl_bdev_read_sync(d, at, s, ss);
	if (rv == 0)
		rv = lay_header_decode(s, out);
	free(s);
	return rv;
}

/* The lockspace as `sanlock direct init -s` writes it: every record free,
 * record 0 first with magic 0, then sector 0 again with the magic. */
static int format_lockspace(struct fl_bdev *d, const struct lay_layout *l, uint8_t *buf)
{
	uint32_t ss = l->sector_size;
	uint32_t n = fl_max_hosts(ss, l->align_bytes);
	memset(buf, 0, l->align_bytes);
	struct fl_leader r = {.magic = FL_DELTA_MAGIC, .version = FL_DELTA_VERSION,
			      .flags = fl_align_flag_from_bytes(l->align_bytes), .sector_size = ss, .max_hosts = 1,
			      .io_timeout = (uint16_t)ls_io_timeout_record_s(l->io_timeout_ms),
			      .unused2 = l->io_timeout_ms % 1000u == 0 ? 0 : (uint16_t)l->io_timeout_ms};
	FL_ASSERT(fl_name_set(r.space_name, l->cluster) == 0);
	for (uint32_t i = 0; i < n; i++)
		fl_leader_encode(&r, buf + (uint64_t)i * ss);
	struct fl_leader r0 = r;
	r0.magic = 0;
	fl_leader_encode(&r0, buf);
	int rv = fl_bdev_write_sync(d, l->lockspace_offset, buf, (uint32_t)l->align_bytes);
	if (rv != 0)
		return rv;
	fl_leader_encode(&r, buf);
	return fl_bdev_write_sync(d, l->lockspace_offset, buf, ss);
}

static int format_check_existing(struct fl_bdev *d, const struct lay_layout *l, bool force, char *err,
				 size_t errlen)
{
	struct lay_layout old;
	int rv = lay_read_sync(d, &old);
	if (rv == -FL_ENOENT || rv == -FL_EMAGIC)
		return 0;
	if (rv != 0 && !force) {
		snprintf(err, errlen, "%s carries a damaged fencelock header (%s); use --force to overwrite it", d->name,
			 fl_strerror(rv));
		return -FL_EFOREIGN;
	}
	if (rv == 0 && !force && (strcmp(old.cluster, l->cluster) != 0 || memcmp(old.uuid, l->uuid, LAY_UUID_LEN))) {
		snprintf(err, errlen, "%s is formatted for cluster '%s'; refusing to overwrite it (use --force)",
			 d->name, old.cluster);
		return -FL_EFOREIGN;
	}
	return 0;
}

static int format_areas(struct fl_bdev *d, const struct lay_layout *l, uint8_t *buf)
{
	uint32_t ss = l->sector_size;
	int rv = 0;
	memset(buf, 0, l->align_bytes);
	/* Mailboxes: all-zero sectors mean "never written". */
	for (uint64_t off = l->mailbox_offset; rv == 0 && off < l->witness_offset; off += l->align_bytes)
		rv = fl_bdev_write_sync(d, off, buf, (uint32_t)l->align_bytes);
	if (rv == 0)
		rv = vl_init_sync(d, l->witness_offset, l->align_bytes, l->cluster, LAY_WITNESS_NAME, l->max_hosts,
				  fl_align_flag_from_bytes(l->align_bytes));
	/* Marks an empty voter; the voter store's own metadata supersedes it
	 * (plugin/arbiter/voter_store.h). Sized by sectors, so it is sane for every
	 * align size (8 MiB of align would not fit in half the area). */
	FL_ASSERT(l->voter_bytes >= 8ull * ss);
	struct lay_voter_header v = {.ring_offset = 2ull * ss, .ring_bytes = l->voter_bytes / 2 - 2ull * ss,
				     .snap_offset = l->voter_bytes / 2, .snap_bytes = l->voter_bytes / 2};
	lay_voter_encode(&v, buf, ss);
	/* Sector 1 blank too: the disk voter store's second metadata slot, so
	 * that no state of an earlier format survives (plugin/arbiter/voter_store.h). */
	if (rv == 0)
		rv = fl_bdev_write_sync(d, l->voter_offset, buf, 2 * ss);
	for (uint32_t i = 0; rv == 0 && i < l->volume_slots; i++) {
		char name[FL_NAME_LEN + 1];
		lay_slot_name(i, name);
		rv = vl_init_sync(d, lay_slot_offset(l, i), l->slot_bytes, l->cluster, name, l->max_hosts,
				  fl_align_flag_from_bytes(l->align_bytes));
	}
	return rv;
}

int lay_format_sync(struct fl_bdev *d, const struct lay_layout *l, bool force, char *err, size_t errlen)
{
	FL_ASSERT(d != NULL);
	FL_ASSERT(l != NULL);
	FL_ASSERT(l->total_bytes > 0);
	if (d->sector_size != l->sector_size) {
		snprintf(err, errlen, "%s has %u-byte sectors, layout wants %u", d->name, d->sector_size, l->sector_size);
		return -FL_ESECTOR;
	}
	if (d->size_bytes < l->total_bytes) {
		snprintf(err, errlen, "%s is %" PRIu64 " bytes; this layout needs %" PRIu64 " bytes (%" PRIu64 " MiB)",
			 d->name, d->size_bytes, l->total_bytes, l->total_bytes >> 20);
		return -FL_ETOOSMALL;
	}
	int rv = format_check_existing(d, l, force, err, errlen);
	if (rv != 0)
		return rv;
	uint8_t *buf = malloc(l->align_bytes);
	if (buf == NULL)
		return -FL_ENOMEM;
	rv = format_lockspace(d, l, buf);
	if (rv == 0)
		rv = format_areas(d, l, buf);
	if (rv == 0) {
		lay_header_encode(l, buf, l->sector_size);
		rv = fl_bdev_write_sync(d, l->header_offset, buf, l->sector_size);
	}
	if (rv != 0)
		snprintf(err, errlen, "formatting %s failed: %s", d->name, fl_strerror(rv));
	free(buf);
	return rv;
}
