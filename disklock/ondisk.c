/* Encoding and verification of sanlock-format records (see ondisk.h). */
#include <string.h>
#include "common/assert.h"
#include "common/crc32c.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"

uint32_t fl_sanlock_crc(const void *buf, size_t len)
{
	return fl_crc32c(FL_SANLOCK_CSUM_SEED, buf, len);
}

void fl_leader_encode(struct fl_leader *l, uint8_t *buf)
{
	memset(buf, 0, FL_LEADER_SIZE);
	fl_put_le32(buf + 0, l->magic);
	fl_put_le32(buf + 4, l->version);
	fl_put_le32(buf + 8, l->flags);
	fl_put_le32(buf + 12, l->sector_size);
	fl_put_le64(buf + 16, l->num_hosts);
	fl_put_le64(buf + 24, l->max_hosts);
	fl_put_le64(buf + 32, l->owner_id);
	fl_put_le64(buf + 40, l->owner_generation);
	fl_put_le64(buf + 48, l->lver);
	memcpy(buf + 56, l->space_name, FL_NAME_LEN);
	memcpy(buf + 104, l->resource_name, FL_NAME_LEN);
	fl_put_le64(buf + 152, l->timestamp);
	fl_put_le64(buf + 160, l->unused1);
	l->checksum = fl_sanlock_crc(buf, FL_LEADER_CSUM_LEN);
	fl_put_le32(buf + 168, l->checksum);
	fl_put_le16(buf + 172, l->unused2);
	fl_put_le16(buf + 174, l->io_timeout);
	fl_put_le64(buf + 176, l->write_id);
	fl_put_le64(buf + 184, l->write_generation);
	fl_put_le64(buf + 192, l->write_timestamp);
}

void fl_leader_decode_raw(const uint8_t *buf, struct fl_leader *l)
{
	l->magic = fl_get_le32(buf + 0);
	l->version = fl_get_le32(buf + 4);
	l->flags = fl_get_le32(buf + 8);
	l->sector_size = fl_get_le32(buf + 12);
	l->num_hosts = fl_get_le64(buf + 16);
	l->max_hosts = fl_get_le64(buf + 24);
	l->owner_id = fl_get_le64(buf + 32);
	l->owner_generation = fl_get_le64(buf + 40);
	l->lver = fl_get_le64(buf + 48);
	memcpy(l->space_name, buf + 56, FL_NAME_LEN);
	memcpy(l->resource_name, buf + 104, FL_NAME_LEN);
	l->timestamp = fl_get_le64(buf + 152);
	l->unused1 = fl_get_le64(buf + 160);
	l->checksum = fl_get_le32(buf + 168);
	l->unused2 = fl_get_le16(buf + 172);
	l->io_timeout = fl_get_le16(buf + 174);
	l->write_id = fl_get_le64(buf + 176);
	l->write_generation = fl_get_le64(buf + 184);
	l->write_timestamp = fl_get_le64(buf + 192);
}

int fl_leader_decode(const uint8_t *buf, uint32_t expected_magic, struct fl_leader *l)
{
	fl_leader_decode_raw(buf, l);
	if (fl_block_is_zero(buf, FL_LEADER_SIZE))
		return -FL_EMAGIC;
	if (fl_sanlock_crc(buf, FL_LEADER_CSUM_LEN) != l->checksum)
		return -FL_ECHECKSUM;
	bool paxos = expected_magic == FL_PAXOS_MAGIC;
	if (l->magic != expected_magic && !(paxos && l->magic == FL_PAXOS_CLEAR_MAGIC))
		return -FL_EMAGIC;
	uint32_t want = expected_magic == FL_DELTA_MAGIC ? FL_DELTA_VERSION : FL_PAXOS_VERSION;
	if ((l->version & FL_VERSION_MAJOR_MASK) != (want & FL_VERSION_MAJOR_MASK))
		return -FL_EVERSION;
	return 0;
}

void fl_dblock_encode(struct fl_dblock *d, uint8_t *buf)
{
	memset(buf, 0, FL_DBLOCK_SIZE);
	fl_put_le64(buf + 0, d->mbal);
	fl_put_le64(buf + 8, d->bal);
	fl_put_le64(buf + 16, d->inp);
	fl_put_le64(buf + 24, d->inp2);
	fl_put_le64(buf + 32, d->inp3);
	fl_put_le64(buf + 40, d->lver);
	d->checksum = fl_sanlock_crc(buf, FL_DBLOCK_CSUM_LEN);
	fl_put_le32(buf + 48, d->checksum);
	fl_put_le32(buf + 52, d->flags);
}

int fl_dblock_decode(const uint8_t *buf, struct fl_dblock *d)
{
	d->mbal = fl_get_le64(buf + 0);
	d->bal = fl_get_le64(buf + 8);
	d->inp = fl_get_le64(buf + 16);
	d->inp2 = fl_get_le64(buf + 24);
	d->inp3 = fl_get_le64(buf + 32);
	d->lver = fl_get_le64(buf + 40);
	d->checksum = fl_get_le32(buf + 48);
	d->flags = fl_get_le32(buf + 52);
	if (fl_block_is_zero(buf, FL_DBLOCK_SIZE))
		return 0;
	return fl_sanlock_crc(buf, FL_DBLOCK_CSUM_LEN) == d->checksum ? 0 : -FL_ECHECKSUM;
}

void fl_mode_encode(const struct fl_mode_block *m, uint8_t *buf)
{
	memset(buf, 0, 16);
	fl_put_le32(buf + 0, m->flags);
	fl_put_le64(buf + 8, m->generation);
}

void fl_mode_decode(const uint8_t *buf, struct fl_mode_block *m)
{
	m->flags = fl_get_le32(buf + 0);
	m->generation = fl_get_le64(buf + 8);
}

void fl_request_encode(const struct fl_request *r, uint8_t *buf)
{
	memset(buf, 0, 24);
	fl_put_le32(buf + 0, r->magic);
	fl_put_le32(buf + 4, r->version);
	fl_put_le64(buf + 8, r->lver);
	fl_put_le32(buf + 16, r->force_mode);
}

int fl_request_decode(const uint8_t *buf, struct fl_request *r)
{
	r->magic = fl_get_le32(buf + 0);
	r->version = fl_get_le32(buf + 4);
	r->lver = fl_get_le64(buf + 8);
	r->force_mode = fl_get_le32(buf + 16);
	if (r->magic != FL_REQUEST_MAGIC)
		return -FL_EMAGIC;
	if ((r->version & FL_VERSION_MAJOR_MASK) != (FL_REQUEST_VERSION & FL_VERSION_MAJOR_MASK))
		return -FL_EVERSION;
	return 0;
}

bool fl_block_is_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 0)
			return false;
	return true;
}

uint64_t fl_align_bytes_from_flags(uint32_t flags, uint32_t sector_size)
{
	switch (flags & FL_LFL_ALIGN_MASK) {
	case FL_LFL_ALIGN_1M: return 1ull << 20;
	case FL_LFL_ALIGN_2M: return 2ull << 20;
	case FL_LFL_ALIGN_4M: return 4ull << 20;
	case FL_LFL_ALIGN_8M: return 8ull << 20;
	case 0: /* old format: implied by the sector size */
		return sector_size == 4096 ? 8ull << 20 : 1ull << 20;
	default: return 0;
	}
}

uint32_t fl_align_flag_from_bytes(uint64_t align_bytes)
{
	switch (align_bytes) {
	case 1ull << 20: return FL_LFL_ALIGN_1M;
	case 2ull << 20: return FL_LFL_ALIGN_2M;
	case 4ull << 20: return FL_LFL_ALIGN_4M;
	case 8ull << 20: return FL_LFL_ALIGN_8M;
	default: return 0;
	}
}

uint32_t fl_max_hosts(uint32_t sector_size, uint64_t align_bytes)
{
	/* sanlock's table: 512 -> 2000 per MiB of align (capped), 4096 -> 250 per MiB. */
	uint64_t mib = align_bytes >> 20;
	if (mib == 0 || (sector_size != 512 && sector_size != 4096))
		return 0;
	uint64_t n = mib * (sector_size == 512 ? 2000u : 250u);
	return (uint32_t)FL_MIN(n, (uint64_t)FL_PAXOS_MAX_HOSTS);
}

int fl_name_set(char field[FL_NAME_LEN], const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= FL_NAME_LEN)
		return -FL_EINVAL;
	memset(field, 0, FL_NAME_LEN);
	memcpy(field, name, n);
	return 0;
}

void fl_name_get(const char field[FL_NAME_LEN], char out[FL_NAME_LEN + 1])
{
	memcpy(out, field, FL_NAME_LEN);
	out[FL_NAME_LEN] = '\0';
}

uint64_t fl_mark_compute(const struct fl_leader *l)
{
	uint8_t b[28];
	fl_put_le64(b, l->owner_id);
	fl_put_le64(b + 8, l->owner_generation);
	fl_put_le64(b + 16, l->timestamp);
	if (l->unused2 == 0)
		return (uint64_t)FL_MARK_MAGIC << 32 | fl_crc32c_std(b, 24);
	/* FLK2: T in milliseconds in unused2; the CRC covers both T fields,
	 * which sanlock's checksum does not. */
	fl_put_le16(b + 24, l->unused2);
	fl_put_le16(b + 26, l->io_timeout);
	return (uint64_t)FL_MARK2_MAGIC << 32 | fl_crc32c_std(b, sizeof(b));
}

bool fl_mark_valid(const struct fl_leader *l)
{
	return l->timestamp != 0 && l->unused1 == fl_mark_compute(l);
}
