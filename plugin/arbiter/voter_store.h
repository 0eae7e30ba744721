/* The disk voter's Raft log store: term, vote, log and snapshot of the disk
 * voter (the witness) in the disk voter area of the shared device.
 *
 * Whichever host holds the witness lease runs the disk voter in-process, on
 * the same raft_node driver as its own voter, with this store instead of a
 * state directory; when that host dies, the next holder opens the same area
 * and continues the SAME voter. The store is a struct raft_logstore (see
 * raft/logstore.h for the contract of every request) over the asynchronous
 * fl_bdev seam: every request is planned at submit (encoded, placed in the
 * area, checked for space) and then executed as a chain of sector-aligned
 * device I/Os, one at a time, in submission order; a request's callback runs
 * after its last write completed (the real device is opened O_DSYNC).
 *
 * Area format (docs/ondisk.md, "Disk voter area"; all integers
 * little-endian, CRCs CRC-32C standard): two one-sector metadata slots at the
 * start of the area, written alternately (slot = seq & 1) with a sequence
 * number, term, vote, the log's first and last index with the ring offsets of
 * their records, and the current snapshot; a ring of entry records (each with
 * a back pointer to the record of the previous index, so load walks the chain
 * the metadata points to and never trusts stale records); two snapshot
 * regions at the end of the area, written alternately. Every request writes
 * its data first and its metadata slot last, so a crash or a torn write at
 * any step leaves the previous acknowledged state loadable.
 *
 * An area that lay_format_sync() formatted (the "LDV1" voter header in
 * sector 0, sector 1 blank) or that was never written (both slots all-zero)
 * loads as an empty voter. voter_store_format_sync() writes the empty state
 * in this store's own format. */
#ifndef FL_PLUGIN_VOTER_STORE_H
#define FL_PLUGIN_VOTER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/loop.h"
#include "disklock/bdev.h"
#include "raft/logstore.h"

/* Smallest area the store accepts, in sectors (two slots, a ring and two
 * snapshot regions of a few sectors each). */
#define VOTER_STORE_MIN_AREA_SECTORS 32u
/* Default bound on outstanding requests: enough for a raft_node driver
 * (RAFT_NODE_STORE_QUEUE_MIN). */
#define VOTER_STORE_DEFAULT_QUEUE 512u
/* Largest single device I/O the store issues; bigger writes and reads are
 * split into chunks of this size, issued one after the other. */
#define VOTER_STORE_IO_MAX_BYTES (1u << 20)

struct voter_store_opts {
	uint32_t queue_max;     /* 0: VOTER_STORE_DEFAULT_QUEUE */
	uint64_t io_timeout_us; /* deadline of every device I/O; 0: the device's default */
};

/* Where the parts of an area of area_bytes live (offsets relative to the
 * area). A pure function of area_bytes and sector_size, so every host that
 * reads the layout header derives the same geometry. */
struct voter_store_geometry {
	uint32_t sector_size;
	uint64_t area_bytes;
	uint64_t slot_offset[2];      /* metadata slots: sectors 0 and 1 */
	uint64_t ring_offset, ring_bytes;
	uint64_t snap_offset[2], snap_bytes;
};

/* Computes the geometry. -FL_EALIGN if area_bytes is not a multiple of the
 * sector size, -FL_ETOOSMALL below VOTER_STORE_MIN_AREA_SECTORS sectors,
 * -FL_EINVAL for a sector size other than 512 or 4096. */
FL_MUST_CHECK int voter_store_geometry(uint64_t area_bytes, uint32_t sector_size, struct voter_store_geometry *out);

/* Per-store counters, on top of the seam's raft_logstore_stats. */
struct voter_store_stats {
	uint64_t reads, writes;             /* device I/Os issued */
	uint64_t bytes_read, bytes_written;
	uint64_t meta_writes;               /* metadata slot writes */
	uint64_t appends, append_writes, append_bytes; /* APPEND requests and their writes */
	uint64_t noops;                     /* requests that needed no I/O */
	uint64_t ring_compactions;          /* appends that first dropped snapshot-covered entries */
};

/* Opens the store on [area_offset, area_offset + area_bytes) of bdev, with
 * completions on loop (the loop bdev delivers on). Nothing is read until the
 * RAFT_LOG_LOAD request, which must be submitted first and must complete
 * before any other request is submitted (-FL_EINVAL otherwise); the store
 * plans each request at submit against the state the earlier ones leave.
 * Requests that cannot be placed are refused at submit and change nothing
 * (the store does not fail): -FL_ENOSPC for an append that does not fit in
 * the ring even after dropping the entries the current snapshot covers (take
 * a snapshot, then retry) and for a snapshot larger than a snapshot region;
 * -FL_EINVAL for an append that would leave a gap. A set-hard-state that
 * changes nothing and a truncation that removes nothing complete without
 * I/O (still in order, never inside submit).
 * Returns 0, or -FL_EALIGN / -FL_ETOOSMALL / -FL_EINVAL for an area that is
 * misaligned, too small or outside the device, -FL_ENOMEM; on error writes a
 * one-line reason into err (may be NULL). Only one host may have the area
 * open for writing at a time: the holder of the witness lease. A write of a
 * previous holder that is still stuck in the SAN when the next holder starts
 * writing can land over the new holder's data; the witness takeover delay
 * (D) is what must make that impossible, as for every lease-protected area. */
FL_MUST_CHECK int voter_store_open(struct fl_loop *loop, struct fl_bdev *bdev, uint64_t area_offset, uint64_t area_bytes,
		     const struct voter_store_opts *opts, struct raft_logstore **out, char *err, size_t errlen);

/* Writes an empty voter (term 0, no vote, no log, no snapshot) to the area:
 * both metadata slots in one write. Synchronous (fl_bdev_write_sync): for the
 * CLI and tests only. Resetting the disk voter of a running cluster makes it
 * forget its votes and log: do it only for a new cluster or after the disk
 * voter was removed from the configuration. Returns 0 or a -FL_E code with a
 * reason in err (may be NULL). */
FL_MUST_CHECK int voter_store_format_sync(struct fl_bdev *bdev, uint64_t area_offset, uint64_t area_bytes, char *err,
			    size_t errlen);

/* Counters of a store opened by voter_store_open(). */
void voter_store_get_stats(const struct raft_logstore *s, struct voter_store_stats *out);

/* The last error of the store (what failed, where, what to do), or "". */
const char *voter_store_last_error(const struct raft_logstore *s);

#endif
