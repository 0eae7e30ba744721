/* fvrec: the on-volume record format shared by fakevm (the writer) and
 * vmcheck (the checker), with explicit little-endian encode/decode and a
 * CRC-32C over the whole sector, so a torn sector is never taken for a record.
 *
 * Volume layout, in sectors of FV_SECTOR (512 or 4096) bytes:
 *   0                      header: magic, geometry, VM uid (written once)
 *   1                      tip: a copy of the newest record of whoever wrote last
 *   2 .. 2+FV_ALARM_SLOTS  alarm area: a writer that saw another writer's tip
 *                          writes its evidence here (slot = nonce % 16), never
 *                          overwritten by ordinary writes
 *   FV_DATA_START ..       nslots data slots, written round-robin (seq % nslots)
 * Why the tip exists, and the whole detection argument, is in
 * tests/tools/fakevm/main.c. A record names its writer by (host, incarnation,
 * nonce): the nonce is random per process, so two processes given the same
 * incarnation number by mistake are still told apart. */
#ifndef FL_TESTS_FVREC_H
#define FL_TESTS_FVREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "common/crc32c.h"

#define FV_MAGIC 0x4d56454b4146464cull /* "LFFAKEVM" read as little-endian bytes */
#define FV_VERSION 1u
#define FV_UID_MAX 64u          /* bytes including the NUL */
#define FV_ALARM_SLOTS 16u
#define FV_DATA_START (2u + FV_ALARM_SLOTS)
#define FV_DEFAULT_SLOTS 256u
#define FV_MAX_SLOTS 65536u
#define FV_REC_BYTES 264u      /* encoded fields; the CRC covers the whole sector */
#define FV_CRC_OFF 260u

enum fv_kind { FV_KIND_HEADER = 1, FV_KIND_DATA = 2, FV_KIND_TIP = 3, FV_KIND_ALARM = 4 };

/* What a read of a sector found. */
enum fv_ref_state { FV_REF_NONE = 0, FV_REF_EMPTY = 1, FV_REF_VALID = 2, FV_REF_TORN = 3 };

/* A reference to one write: who wrote it and its sequence number. */
struct fv_ref {
	uint32_t state;   /* enum fv_ref_state */
	uint32_t host;
	uint64_t inc;
	uint64_t nonce;
	uint64_t seq;
};

#define FV_FLAG_EXPECT_OWN 1u  /* the writer had a successful tip write before this read */
#define FV_FLAG_ALARM 2u       /* alarm/alarm_seq/alarm_count are set (sticky) */

struct fv_rec {
	uint32_t kind;
	char uid[FV_UID_MAX];
	uint32_t host;
	uint32_t flags;
	uint64_t inc, nonce, seq;
	uint32_t slot, nslots, sector_size;
	uint64_t realtime_ns, mono_ns;   /* for reports only, never compared across hosts */
	struct fv_ref seen;   /* what this iteration read in the tip before writing */
	struct fv_ref pred;   /* what the writer's first tip read found (sticky) */
	struct fv_ref alarm;  /* first unexpected tip seen (sticky, if FV_FLAG_ALARM) */
	uint64_t alarm_seq;   /* own seq at which the alarm was first raised */
	uint64_t alarm_count;
};

static inline void fv_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void fv_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t fv_get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t fv_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline void fv_put_ref(uint8_t *p, const struct fv_ref *r)
{
	fv_put32(p, r->state);
	fv_put32(p + 4, r->host);
	fv_put64(p + 8, r->inc);
	fv_put64(p + 16, r->nonce);
	fv_put64(p + 24, r->seq);
}

static inline void fv_get_ref(const uint8_t *p, struct fv_ref *r)
{
	r->state = fv_get32(p);
	r->host = fv_get32(p + 4);
	r->inc = fv_get64(p + 8);
	r->nonce = fv_get64(p + 16);
	r->seq = fv_get64(p + 24);
}

/* Encodes rec into a whole sector of sector_size bytes. The bytes after the
 * fields carry a pattern derived from (nonce, seq), so that a sector torn
 * between two writes fails the CRC wherever the tear falls. */
static inline void fv_encode(const struct fv_rec *rec, uint8_t *sec, uint32_t sector_size)
{
	memset(sec, 0, sector_size);
	fv_put64(sec, FV_MAGIC);
	fv_put32(sec + 8, FV_VERSION);
	fv_put32(sec + 12, rec->kind);
	memcpy(sec + 16, rec->uid, FV_UID_MAX);
	sec[16 + FV_UID_MAX - 1] = 0;
	fv_put32(sec + 80, rec->host);
	fv_put32(sec + 84, rec->flags);
	fv_put64(sec + 88, rec->inc);
	fv_put64(sec + 96, rec->nonce);
	fv_put64(sec + 104, rec->seq);
	fv_put32(sec + 112, rec->slot);
	fv_put32(sec + 116, rec->nslots);
	fv_put32(sec + 120, rec->sector_size);
	fv_put64(sec + 128, rec->realtime_ns);
	fv_put64(sec + 136, rec->mono_ns);
	fv_put_ref(sec + 144, &rec->seen);
	fv_put_ref(sec + 176, &rec->pred);
	fv_put_ref(sec + 208, &rec->alarm);
	fv_put64(sec + 240, rec->alarm_seq);
	fv_put64(sec + 248, rec->alarm_count);
	uint64_t x = rec->nonce ^ (rec->seq * 0x9e3779b97f4a7c15ull);
	for (uint32_t off = FV_REC_BYTES; off + 8 <= sector_size; off += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		fv_put64(sec + off, x);
	}
	fv_put32(sec + FV_CRC_OFF, fl_crc32c_std(sec, sector_size));
}

/* True if every byte of the sector is zero (never written). */
static inline bool fv_is_zero(const uint8_t *sec, uint32_t sector_size)
{
	for (uint32_t i = 0; i < sector_size; i++)
		if (sec[i] != 0)
			return false;
	return true;
}

/* Decodes a sector. Returns FV_REF_EMPTY (all zero), FV_REF_VALID (rec
 * filled) or FV_REF_TORN (wrong magic, version or CRC: never a record). */
static inline enum fv_ref_state fv_decode(uint8_t *sec, uint32_t sector_size, struct fv_rec *rec)
{
	if (fv_is_zero(sec, sector_size))
		return FV_REF_EMPTY;
	if (fv_get64(sec) != FV_MAGIC || fv_get32(sec + 8) != FV_VERSION)
		return FV_REF_TORN;
	uint32_t want = fv_get32(sec + FV_CRC_OFF);
	fv_put32(sec + FV_CRC_OFF, 0);
	uint32_t got = fl_crc32c_std(sec, sector_size);
	fv_put32(sec + FV_CRC_OFF, want);
	if (got != want)
		return FV_REF_TORN;
	memset(rec, 0, sizeof(*rec));
	rec->kind = fv_get32(sec + 12);
	memcpy(rec->uid, sec + 16, FV_UID_MAX);
	rec->uid[FV_UID_MAX - 1] = 0;
	rec->host = fv_get32(sec + 80);
	rec->flags = fv_get32(sec + 84);
	rec->inc = fv_get64(sec + 88);
	rec->nonce = fv_get64(sec + 96);
	rec->seq = fv_get64(sec + 104);
	rec->slot = fv_get32(sec + 112);
	rec->nslots = fv_get32(sec + 116);
	rec->sector_size = fv_get32(sec + 120);
	rec->realtime_ns = fv_get64(sec + 128);
	rec->mono_ns = fv_get64(sec + 136);
	fv_get_ref(sec + 144, &rec->seen);
	fv_get_ref(sec + 176, &rec->pred);
	fv_get_ref(sec + 208, &rec->alarm);
	rec->alarm_seq = fv_get64(sec + 240);
	rec->alarm_count = fv_get64(sec + 248);
	return FV_REF_VALID;
}

/* Two refs name the same process (incarnation and nonce; host for safety). */
static inline bool fv_same_writer(const struct fv_ref *a, uint32_t host, uint64_t inc, uint64_t nonce)
{
	return a->state == FV_REF_VALID && a->host == host && a->inc == inc && a->nonce == nonce;
}

static inline bool fv_ref_equal(const struct fv_ref *a, const struct fv_ref *b)
{
	if (a->state != b->state)
		return false;
	if (a->state != FV_REF_VALID)
		return true;
	return a->host == b->host && a->inc == b->inc && a->nonce == b->nonce && a->seq == b->seq;
}

/* Log lines (one file per process, append-only): "fakevm-log 1 ..." header,
 * then one "it ..." line per completed iteration and "alarm ..." lines. A ref
 * is written as STATE:HOST:INC:NONCE(hex):SEQ with STATE one of n e v t. */
static inline char fv_state_char(uint32_t s)
{
	return s == FV_REF_EMPTY ? 'e' : s == FV_REF_VALID ? 'v' : s == FV_REF_TORN ? 't' : 'n';
}

static inline uint32_t fv_state_from_char(char c)
{
	return c == 'e' ? FV_REF_EMPTY : c == 'v' ? FV_REF_VALID : c == 't' ? FV_REF_TORN : FV_REF_NONE;
}

#endif
