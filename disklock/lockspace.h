/* The lockspace: sanlock-compatible delta leases, one per (lockspace, host).
 *
 * A lockspace is one align-size area of the shared device holding one
 * leader_record per host_id (host N at offset + (N-1) * sector_size). A
 * struct ls_lockspace is the state machine of one host in one lockspace: it
 * formats the area, acquires a host_id with sanlock's delta-lease algorithm
 * (read, wait, write, wait, re-read), renews it every R on its fl_loop,
 * releases it, and, from every renewal read, observes every other host's
 * record and judges it FREE / UNKNOWN / LIVE / FAIL / DEAD / ERROR on its own
 * clock only. It never blocks and never reads a clock: time comes from the
 * fl_loop, I/O goes through the fl_bdev and completes in callbacks; results
 * come back as events. Only one operation is outstanding at a time.
 *
 * Validity: a holder's lease is valid until (start of its last good renewal)
 * + F (timeouts.h); at that point the arbiter kills the host's VMs. The
 * EXPIRED event fires then, and the lockspace stops renewing (it must be
 * acquired again). A renewal that finds our own record rewritten by another
 * owner raises LEASE_LOST, which is fatal for this lockspace.
 *
 * Renewal reads only the used part of the area: sectors 0 .. n-1 where n
 * covers the highest host_id ever seen in use, our own id and
 * min_read_hosts, rounded up to LS_READ_ROUND_BYTES; the whole area is read
 * at acquire and every full_scan_every renewals (docs/design.md). */
#ifndef FL_LOCKSPACE_H
#define FL_LOCKSPACE_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/latency.h"
#include "common/loop.h"
#include "disklock/bdev.h"
#include "disklock/ondisk.h"
#include "disklock/timeouts.h"

#define LS_MAX_HOSTS 2000u
#define LS_READ_ROUND_BYTES 4096u
#define LS_FULL_SCAN_EVERY_DEFAULT 60u
/* Plausibility of a generation read from a record that cannot be trusted
 * (lockspace.c, ls_gen_base): below 2^32, and within this many acquires
 * above the last generation this instance wrote. */
#define LS_GEN_PLAUSIBLE_MAX (1ull << 32)
#define LS_GEN_STEP_MAX 16u

enum ls_state {
	LS_IDLE = 0,     /* nothing held */
	LS_FORMATTING,
	LS_ACQUIRING,
	LS_HELD,         /* acquired, renewing */
	LS_EXPIRED,      /* no good renewal for F: stopped renewing */
	LS_LOST,         /* our record was overwritten by another owner */
	LS_RELEASING,
};

enum ls_event {
	LS_EV_FORMATTED = 0,  /* result: 0 or -FL_E */
	LS_EV_ACQUIRED,       /* result: 0 or -FL_E (-FL_EBUSY: another host renews it) */
	LS_EV_RENEW_OK,
	LS_EV_RENEW_FAILED,   /* result: the failure; the lease may still be valid */
	LS_EV_EXPIRED,        /* valid-until passed without a good renewal */
	LS_EV_LEASE_LOST,     /* fatal: another owner wrote our record */
	LS_EV_RELEASED,       /* result: 0 or -FL_E */
};

enum ls_host_state {
	LS_HOST_FREE = 0,  /* timestamp 0: released or never acquired */
	LS_HOST_UNKNOWN,   /* seen, not yet watched long enough to judge */
	LS_HOST_LIVE,      /* timestamp seen to change within the fail time */
	LS_HOST_FAIL,      /* no change for F (fencelock) or 8N (sanlock) */
	LS_HOST_DEAD,      /* no change for D (fencelock) or 8N + 60 s (sanlock) */
	LS_HOST_ERROR,     /* corrupt / foreign / uninitialised record: never free */
};

/* What one observer knows of one host_id's record. All *_us times are on the
 * observer's own clock; the record's timestamp is only compared with earlier
 * values of itself. */
struct ls_host_obs {
	bool seen;               /* a valid record was read at least once */
	int error;               /* 0, or the -FL_E code of the last read record */
	uint64_t owner_id, generation, timestamp;
	char name[FL_NAME_LEN + 1];
	uint16_t io_timeout;     /* whole seconds, as the record says */
	uint32_t io_timeout_ms;  /* fl_leader_io_timeout_ms(): 0 if none */
	bool marked;             /* carries a valid fencelock mark */
	uint64_t first_seen_us;  /* this (owner, generation, name) first read */
	uint64_t changed_us;     /* read that last saw the record change */
	bool change_seen;        /* a change was seen since first_seen_us */
};

struct ls_config {
	char space_name[FL_NAME_LEN + 1];
	uint64_t host_id;            /* 1..max hosts; 0 for format / observe only */
	char host_name[FL_NAME_LEN + 1];
	uint64_t offset;             /* byte offset of the area: a multiple of align */
	uint64_t align_bytes;        /* 1M/2M/4M/8M; 0: format 1M, acquire from the record */
	uint32_t io_timeout_ms;      /* T (ls_io_timeout_ms_valid()) */
	uint32_t min_read_hosts;     /* renewal reads at least this many records */
	uint32_t full_scan_every;    /* renewals between full reads; 0: default */
	/* Acquire replaces our own record when it fails its checksum and stays
	 * unchanged for sanlock's dead time (the daemon's choice); off, such a
	 * record is an error for the operator (the CLI's). */
	bool repair_corrupt_own;
};

struct ls_lockspace;
typedef void (*ls_event_fn)(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg);

/* Creates the state machine for cfg on loop and dev (dev->loop must be
 * loop). Checks the configuration: names 1..47 bytes, T valid, align one of
 * the four sizes (or 0), offset aligned, host_id within the geometry;
 * returns -FL_EINVAL / -FL_EALIGN / -FL_ENOMEM. Nothing is read or written. */
FL_MUST_CHECK int ls_new(struct fl_loop *loop, struct fl_bdev *dev, const struct ls_config *cfg, ls_event_fn fn, void *arg,
	   struct ls_lockspace **out);
/* Cancels timers; I/O in flight must have completed (state not busy) or the
 * device must be closed first. */
void ls_free(struct ls_lockspace *ls);

/* Writes a fresh lockspace over the area as `sanlock direct init -s` does:
 * every record free, record 0 first written with magic 0 and then rewritten
 * with the magic so the lockspace appears in one write. -> LS_EV_FORMATTED. */
FL_MUST_CHECK int ls_format(struct ls_lockspace *ls);
/* Acquires cfg.host_id (state IDLE). -> LS_EV_ACQUIRED with 0 and state
 * HELD (renewals start), or with an error and state IDLE: -FL_EBUSY if
 * another host kept writing it, -FL_ECHECKSUM/-FL_EMAGIC/-FL_EFOREIGN/
 * -FL_ESECTOR for a record that cannot be trusted (never taken as free). */
FL_MUST_CHECK int ls_acquire(struct ls_lockspace *ls);
/* Takes own as our current record without acquiring (for the CLI's renew-id
 * and release-id of a record read from disk); state becomes HELD with no
 * renewal scheduled. own must be for cfg.host_id and this lockspace. */
FL_MUST_CHECK int ls_adopt(struct ls_lockspace *ls, const struct fl_leader *own);
/* One renewal now (state HELD, none in progress) without scheduling more.
 * -> LS_EV_RENEW_OK / RENEW_FAILED / LEASE_LOST. */
FL_MUST_CHECK int ls_renew_once(struct ls_lockspace *ls);
/* Forgets an expired lease without writing (state EXPIRED, no I/O in
 * flight): state IDLE, so ls_acquire() can take the id again with a new
 * generation. The caller must know that nothing it ran under the old
 * generation still runs. -FL_EINVAL in any other state. */
FL_MUST_CHECK int ls_reset(struct ls_lockspace *ls);
/* Writes our record with timestamp 0 (state HELD or EXPIRED). -> LS_EV_RELEASED;
 * state IDLE on success. */
FL_MUST_CHECK int ls_release(struct ls_lockspace *ls);

enum ls_state ls_state(const struct ls_lockspace *ls);
/* Loop time until which our lease is valid (last good renewal start + F);
 * 0 when nothing was ever held. */
uint64_t ls_valid_until_us(const struct ls_lockspace *ls);
uint64_t ls_last_good_renewal_us(const struct ls_lockspace *ls);
/* Our last written record (valid in HELD / EXPIRED / after release). */
const struct fl_leader *ls_own_record(const struct ls_lockspace *ls);
/* Records the next renewal reads (sectors from the start of the area). */
uint32_t ls_renew_read_hosts(const struct ls_lockspace *ls);
/* Lateness of the scheduled renewals: how long after its due time each
 * started (a late start is a stalled loop or a paused process). */
const struct fl_lat *ls_renew_lateness(const struct ls_lockspace *ls);
/* Renewals that found our own record wiped (all zeros, or a free record of a
 * new format): each voided the lease at once (LS_EV_EXPIRED with -FL_ENOENT,
 * state EXPIRED), so that ls_reset + ls_acquire take the id again. */
uint64_t ls_wiped_count(const struct ls_lockspace *ls);
/* Records the area holds for this geometry (after acquire/format). */
uint32_t ls_area_hosts(const struct ls_lockspace *ls);
/* Observation of host_id (1..ls_area_hosts) and its state judged now. */
const struct ls_host_obs *ls_host(const struct ls_lockspace *ls, uint64_t host_id);
enum ls_host_state ls_host_state(const struct ls_lockspace *ls, uint64_t host_id);

/* ---- pure helpers, shared with the CLI ---- */

/* Decodes and checks one delta record: checksum, magic, major version
 * (ondisk.h), space_name == space (-FL_EFOREIGN) and sector_size ==
 * sector_size (-FL_ESECTOR). An all-zero sector is -FL_EMAGIC. */
FL_MUST_CHECK int ls_record_check(const uint8_t *sector, const char *space, uint32_t sector_size, struct fl_leader *l);
/* Short reason for a record check error ("bad checksum", ...). */
const char *ls_record_reason(int rv);
/* Updates o with the record sector read at observer time now_us. */
void ls_obs_update(struct ls_host_obs *o, const uint8_t *sector, const char *space, uint32_t sector_size,
		   uint64_t now_us);
/* Judges o at observer time now_us: a marked record by fencelock's timing
 * at the record's T, an unmarked one by sanlock's at its whole seconds;
 * fallback_io_timeout_ms is used for records without a usable T. */
struct ls_timing;
/* The timing o is judged by (what ls_obs_state_ms() uses). */
void ls_obs_timing_ms(const struct ls_host_obs *o, uint32_t fallback_io_timeout_ms, struct ls_timing *t);
enum ls_host_state ls_obs_state_ms(const struct ls_host_obs *o, uint64_t now_us, uint32_t fallback_io_timeout_ms);
const char *ls_host_state_name(enum ls_host_state s);
/* Fills a free record of the lockspace (what format writes for every id)
 * for T = io_timeout_ms: its whole seconds rounded up in io_timeout, and
 * the milliseconds in unused2 when T is not whole seconds. */
void ls_record_init_ms(struct fl_leader *l, const char *space, uint32_t sector_size, uint64_t align_bytes,
		       uint32_t io_timeout_ms);
/* Encodes l into a whole zero-filled sector (mark set when l->timestamp != 0). */
void ls_record_encode_sector(struct fl_leader *l, uint8_t *sector, uint32_t sector_size);

#endif
