/* The fencelock device layout: one shared device holds a whole cluster.
 *
 * Offset 0 is a sanlock-format lockspace of one align size (sanlock reads
 * it). fencelock's own area follows, every part starting on an align
 * boundary: a header sector (magic, version, cluster name and uuid, T and the
 * timeouts derived from it, max_hosts, volume_slots, the offset of every
 * area, CRC-32C standard), one mailbox per host_id (mailbox.h), the witness
 * lease (a paxos lease area), the disk voter area (reserved here, with a small
 * header; the Raft work fills it) and a table of volume-lease slots, each a
 * sanlock-compatible paxos lease area of one align size. lay_compute() is a
 * pure function of the parameters, so every host derives the same offsets;
 * the header records them so that a reader never has to recompute. Sizes for
 * the defaults are in docs/ondisk.md. */
#ifndef FL_LAYOUT_H
#define FL_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "disklock/bdev.h"
#include "disklock/ondisk.h"

#define LAY_MAGIC 0x31484C46u        /* "FLH1" */
#define LAY_VERSION 0x00010000u      /* major 1, minor 0 */
#define LAY_VOTER_MAGIC 0x3156444Cu  /* "LDV1" */
#define LAY_VOTER_VERSION 0x00010000u
#define LAY_HEADER_CSUM_LEN 248u     /* header bytes covered by the CRC */
#define LAY_VOTER_CSUM_LEN 88u
#define LAY_UUID_LEN 16
#define LAY_DEFAULT_MAX_HOSTS 64u
#define LAY_DEFAULT_VOLUME_SLOTS 128u
#define LAY_DEFAULT_IO_TIMEOUT_MS 1000u
#define LAY_MAX_VOLUME_SLOTS 65536u
#define LAY_VOTER_BYTES (8ull << 20) /* header, log ring, snapshot */
#define LAY_WITNESS_NAME "__witness"

struct lay_params {
	const char *cluster;            /* 1..47 bytes: also the lockspace name */
	uint8_t uuid[LAY_UUID_LEN];
	uint32_t io_timeout_ms;         /* T (ls_io_timeout_ms_valid(): 100 ms..300 s) */
	uint32_t max_hosts;             /* 1..250 (mailboxes are max_hosts^2 sectors) */
	uint32_t volume_slots;          /* 1..LAY_MAX_VOLUME_SLOTS */
	uint32_t sector_size;           /* 512 or 4096 */
};

struct lay_layout {
	char cluster[FL_NAME_LEN + 1];
	uint8_t uuid[LAY_UUID_LEN];
	uint32_t sector_size, max_hosts, volume_slots;
	uint32_t io_timeout_ms;         /* T; the header also carries it rounded up to whole seconds */
	uint64_t align_bytes;
	uint64_t renew_us, fail_us, kill_us, margin_us, dead_us; /* R, F, K, M, D */
	uint64_t lockspace_offset, header_offset;
	uint64_t mailbox_offset, mailbox_bytes;   /* per host_id; host h at offset + (h-1)*bytes */
	uint64_t witness_offset;
	uint64_t voter_offset, voter_bytes;
	uint64_t slots_offset, slot_bytes;
	uint64_t total_bytes;
};

/* Disk voter area header (sector 0 of the voter area; written only by the
 * witness holder). The log ring and snapshot regions follow it. */
struct lay_voter_header {
	uint64_t term, vote;
	uint64_t ring_offset, ring_bytes;        /* relative to the voter area */
	uint64_t ring_first_index, ring_last_index;
	uint64_t snap_offset, snap_bytes;        /* relative to the voter area */
	uint64_t snap_index, snap_term;
};

/* Computes every offset for p. -FL_EINVAL with a reason in err for bad
 * parameters. Postcondition: areas do not overlap and are align-aligned. */
FL_MUST_CHECK int lay_compute(const struct lay_params *p, struct lay_layout *out, char *err, size_t errlen);

/* Header sector <-> layout. decode: -FL_EMAGIC (not a fencelock header),
 * -FL_EVERSION (unknown major), -FL_ECHECKSUM; an all-zero sector is
 * -FL_ENOENT (never formatted); -FL_ECORRUPT for a header whose CRC checks
 * but whose parameters lay_compute() refuses or whose offsets and timeouts
 * are not the ones lay_compute() gives for them. */
void lay_header_encode(const struct lay_layout *l, uint8_t *sector, uint32_t sector_size);
FL_MUST_CHECK int lay_header_decode(const uint8_t *sector, struct lay_layout *out);
void lay_voter_encode(const struct lay_voter_header *v, uint8_t *sector, uint32_t sector_size);
FL_MUST_CHECK int lay_voter_decode(const uint8_t *sector, struct lay_voter_header *v);

/* Byte offset of host_id's mailbox (1..max_hosts) and of volume slot n
 * (0..volume_slots-1). */
uint64_t lay_mailbox_offset(const struct lay_layout *l, uint64_t host_id);
uint64_t lay_slot_offset(const struct lay_layout *l, uint32_t slot);
/* Resource name format for volume slot n ("slot-N"). */
void lay_slot_name(uint32_t slot, char out[FL_NAME_LEN + 1]);

/* Reads and checks the header at l's standard place (after the lockspace's
 * align area, 1 MiB for 512-byte sectors, 8 MiB for 4K without flags). */
FL_MUST_CHECK int lay_read_sync(struct fl_bdev *d, struct lay_layout *out);

/* Formats d with l: lockspace, zeroed mailboxes, witness and slot leases,
 * voter header, and the header sector last. Refuses (-FL_EFOREIGN) a device
 * that already carries a header of another cluster (name or uuid) unless
 * force; a too-small device is -FL_ETOOSMALL with the needed size in err. */
FL_MUST_CHECK int lay_format_sync(struct fl_bdev *d, const struct lay_layout *l, bool force, char *err, size_t errlen);

#endif
