/* sanlock-compatible on-disk records: explicit little-endian encoding.
 *
 * fencelock writes its lockspace and its Paxos leases in sanlock 3.8's format,
 * so `sanlock direct dump` reads what fencelock writes and the reverse (the
 * format, field by field: docs/ondisk.md). The in-memory structs
 * below are never written as-is: fl_leader_encode() / fl_leader_decode()
 * convert field by field, and decode verifies magic, major version and
 * checksum, so a corrupt or foreign record is an error, never "free". */
#ifndef FL_ONDISK_H
#define FL_ONDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/le.h"

#define FL_DELTA_MAGIC 0x12212010u
#define FL_PAXOS_MAGIC 0x06152010u
#define FL_PAXOS_CLEAR_MAGIC 0x11282016u
#define FL_REQUEST_MAGIC 0x08292011u
#define FL_DELTA_VERSION 0x00030004u
#define FL_PAXOS_VERSION 0x00060004u
#define FL_REQUEST_VERSION 0x00010001u
#define FL_VERSION_MAJOR_MASK 0xFFFF0000u

#define FL_LFL_SHORT_HOLD 0x1u
#define FL_LFL_ALIGN_1M 0x10u
#define FL_LFL_ALIGN_2M 0x20u
#define FL_LFL_ALIGN_4M 0x40u
#define FL_LFL_ALIGN_8M 0x80u
#define FL_LFL_ALIGN_MASK 0xF0u

#define FL_NAME_LEN 48
#define FL_LEADER_SIZE 200
#define FL_LEADER_CSUM_LEN 168      /* bytes covered by the checksum */
#define FL_DBLOCK_SIZE 56
#define FL_DBLOCK_CSUM_LEN 48
#define FL_DBLOCK_RELEASED 0x1u
#define FL_MODE_SHARED 0x1u
#define FL_MODE_OFFSET 128          /* mode block inside a dblock's sector */
#define FL_PAXOS_MAX_HOSTS 2000u
#define FL_HOST_BITMAP_OFFSET 256   /* delta sector: request bitmap of 2048 bits */
#define FL_HOST_BITMAP_BYTES 256
#define FL_SANLOCK_CSUM_SEED 0xFFFFFFFEu

/* fencelock marks the delta records it writes (docs/ondisk.md): unused1 holds
 * FL_MARK_MAGIC in its high half and, in its low half, a CRC-32C over
 * (owner_id, owner_generation, timestamp). sanlock copies unused1 unchanged
 * when it rewrites a record, but always changes the generation or timestamp,
 * so a record sanlock touched no longer carries a valid mark and is judged by
 * sanlock's slower timing. */
#define FL_MARK_MAGIC 0x464C4B31u  /* "FLK1" */
/* A host whose T is not whole seconds writes T in milliseconds into unused2
 * (0 otherwise: byte for byte the FLK1 record) and marks the record FLK2,
 * whose CRC also covers unused2 and io_timeout (sanlock's checksum covers
 * neither). A reader believes the milliseconds only under a valid FLK2 mark;
 * an FLK1 record, or one sanlock rewrote, keeps its whole seconds. */
#define FL_MARK2_MAGIC 0x464C4B32u /* "FLK2" */

struct fl_leader {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t sector_size;
	uint64_t num_hosts;
	uint64_t max_hosts;
	uint64_t owner_id;
	uint64_t owner_generation;
	uint64_t lver;
	char space_name[FL_NAME_LEN];    /* NUL-padded, not necessarily terminated */
	char resource_name[FL_NAME_LEN];
	uint64_t timestamp;
	uint64_t unused1;
	uint32_t checksum;
	uint16_t unused2;
	uint16_t io_timeout;
	uint64_t write_id;
	uint64_t write_generation;
	uint64_t write_timestamp;
};

struct fl_dblock {
	uint64_t mbal;
	uint64_t bal;
	uint64_t inp;   /* proposed owner host_id */
	uint64_t inp2;  /* proposed owner generation */
	uint64_t inp3;  /* proposer's monotonic time */
	uint64_t lver;
	uint32_t checksum;
	uint32_t flags;
};

struct fl_mode_block {
	uint32_t flags;
	uint64_t generation;
};

struct fl_request {
	uint32_t magic;
	uint32_t version;
	uint64_t lver;
	uint32_t force_mode;
};

/* CRC as sanlock computes it: seed ~1, no final XOR. */
uint32_t fl_sanlock_crc(const void *buf, size_t len);

/* Encodes l into buf[0..FL_LEADER_SIZE), computing the checksum (which is
 * also stored back into l). Bytes past the record are left untouched. */
void fl_leader_encode(struct fl_leader *l, uint8_t *buf);
/* Decodes buf without checks. */
void fl_leader_decode_raw(const uint8_t *buf, struct fl_leader *l);
/* Decodes and verifies: checksum (-FL_ECHECKSUM), magic (-FL_EMAGIC: neither
 * expected_magic nor, for paxos, the cleared magic), major version
 * (-FL_EVERSION). An all-zero record is returned as -FL_EMAGIC too: callers
 * that allow "never initialised" check fl_block_is_zero() first. */
FL_MUST_CHECK int fl_leader_decode(const uint8_t *buf, uint32_t expected_magic, struct fl_leader *l);

void fl_dblock_encode(struct fl_dblock *d, uint8_t *buf);
/* All-zero dblocks are valid (a host that never took part). */
FL_MUST_CHECK int fl_dblock_decode(const uint8_t *buf, struct fl_dblock *d);
void fl_mode_encode(const struct fl_mode_block *m, uint8_t *buf);
void fl_mode_decode(const uint8_t *buf, struct fl_mode_block *m);
void fl_request_encode(const struct fl_request *r, uint8_t *buf);
FL_MUST_CHECK int fl_request_decode(const uint8_t *buf, struct fl_request *r);

bool fl_block_is_zero(const uint8_t *buf, size_t len);

/* Align flags <-> bytes. Returns 0 for an unknown flag value. */
uint64_t fl_align_bytes_from_flags(uint32_t flags, uint32_t sector_size);
uint32_t fl_align_flag_from_bytes(uint64_t align_bytes);
/* Maximum host_ids a lockspace of this geometry holds (sanlock's table). */
uint32_t fl_max_hosts(uint32_t sector_size, uint64_t align_bytes);

/* Copies a name into a NUL-padded field; returns -FL_EINVAL if too long
 * (names must leave room for a terminating NUL, as sanlock requires). */
FL_MUST_CHECK int fl_name_set(char field[FL_NAME_LEN], const char *name);
/* Copies a field into a C string of FL_NAME_LEN + 1 bytes. */
void fl_name_get(const char field[FL_NAME_LEN], char out[FL_NAME_LEN + 1]);

/* fencelock's record mark (see FL_MARK_MAGIC). */
uint64_t fl_mark_compute(const struct fl_leader *l);
bool fl_mark_valid(const struct fl_leader *l);

#endif
