/* Mailboxes: SBD-style poison pills on the shared device, one per host_id.
 *
 * Every sector has exactly one writer, so a fence request can never be lost
 * to a concurrent acknowledgement. Host t's mailbox (2 * max_hosts + 1
 * sectors) holds:
 *   sector 0                 status, written by t: running or fenced;
 *   sector s (1..max_hosts)  the request from sender s, written only by s;
 *   sector max_hosts + s     t's acknowledgement to sender s, written only by t.
 * A request carries a sequence number per (sender, target); it is pending
 * while the matching ack sector carries a smaller one. A sender bumps its
 * sequence number on every request; the owner reads its whole mailbox on
 * every renewal and acks each pending request (fence -> fenced, test ->
 * test-ok, clear -> cleared). Records carry magic, version, sender, target,
 * sequence and a CRC-32C (standard); an all-zero sector is "never written",
 * anything else that does not check is -FL_ECHECKSUM / -FL_EMAGIC. */
#ifndef FL_MAILBOX_H
#define FL_MAILBOX_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "disklock/bdev.h"

#define MB_REQ_MAGIC 0x31524D46u    /* "FMR1" */
#define MB_ACK_MAGIC 0x31414D46u    /* "FMA1" */
#define MB_STATUS_MAGIC 0x31534D46u /* "FMS1" */
#define MB_VERSION 0x00010000u
#define MB_RECORD_CSUM_LEN 40u
#define MB_MAX_HOSTS 250u

enum mb_kind {
	MB_NONE = 0,
	MB_FENCE = 1,    /* request: stop your VMs, release their leases, say fenced */
	MB_CLEAR = 2,    /* request: the fence is over, you may run VMs again */
	MB_TEST = 3,     /* request: answer test-ok */
	MB_FENCED = 11,  /* ack of FENCE; also the status of a fenced host */
	MB_CLEARED = 12, /* ack of CLEAR */
	MB_TEST_OK = 13, /* ack of TEST */
	MB_RUNNING = 20, /* status of a host that is not fenced */
};

/* One record (request, ack or status), 44 bytes on disk. */
struct mb_record {
	uint32_t magic, version;
	uint32_t kind;
	uint64_t from, to, seq;
	uint64_t time_s;     /* writer's monotonic seconds, informational */
};

struct mb_geom {
	struct fl_bdev *bdev;
	uint64_t offset;       /* of host 1's mailbox */
	uint64_t box_bytes;    /* per host, >= (2 * max_hosts + 1) sectors */
	uint32_t max_hosts;
};

/* One host's mailbox as read. empty[] marks never-written sectors. */
struct mb_box {
	uint64_t owner;
	struct mb_record status;
	struct mb_record req[MB_MAX_HOSTS + 1];   /* by sender */
	struct mb_record ack[MB_MAX_HOSTS + 1];   /* by sender */
	uint32_t pending;                         /* requests not yet acked */
};

const char *mb_kind_name(uint32_t kind);
/* Parses "fence" / "clear" / "test"; returns MB_NONE otherwise. */
enum mb_kind mb_kind_parse(const char *s);

/* Sector <-> record. decode: 0 (record), 1 (all-zero: never written),
 * -FL_EMAGIC (not expected_magic), -FL_EVERSION, -FL_ECHECKSUM. */
void mb_record_encode(const struct mb_record *r, uint8_t *sector, uint32_t sector_size);
FL_MUST_CHECK int mb_record_decode(const uint8_t *sector, uint32_t expected_magic, struct mb_record *r);

/* True when sender s's request in b is not acknowledged yet. */
bool mb_pending(const struct mb_box *b, uint64_t sender);

/* Byte offset of host's mailbox and its size in sectors (2 * max_hosts + 1). */
uint64_t mb_box_offset(const struct mb_geom *g, uint64_t host);
static inline uint32_t mb_box_sectors(const struct mb_geom *g) { return 2 * g->max_hosts + 1; }
/* Decodes a whole mailbox of host read into buf (mb_box_sectors() sectors):
 * the parsing behind mb_read_sync(), for callers doing their own I/O. */
FL_MUST_CHECK int mb_box_decode(const struct mb_geom *g, const uint8_t *buf, uint64_t host, struct mb_box *out);
/* The acknowledgement kind that answers request kind. */
uint32_t mb_ack_for(uint32_t kind);

/* Reads host's whole mailbox into *out (one read). -FL_ECHECKSUM etc. for a
 * corrupt sector, naming it in the log. */
FL_MUST_CHECK int mb_read_sync(const struct mb_geom *g, uint64_t host, struct mb_box *out);

/* Sender `from` writes request kind into `to`'s mailbox with the next
 * sequence number (its previous request's + 1); *seq_out gets it. */
FL_MUST_CHECK int mb_send_sync(const struct mb_geom *g, uint64_t from, uint64_t to, enum mb_kind kind, uint64_t now_s,
		 uint64_t *seq_out);

/* The owner reads its mailbox, acks every pending request and updates its
 * status (fence -> fenced, clear -> running). *fence_out says whether the
 * host must now be (or stay) fenced. Writes only the owner's own sectors. */
FL_MUST_CHECK int mb_process_sync(const struct mb_geom *g, uint64_t owner, uint64_t now_s, struct mb_box *out, bool *fence_out);

#endif
