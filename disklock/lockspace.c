/* The lockspace state machine (see lockspace.h): format, delta-lease
 * acquire / renew / release on an fl_loop and an fl_bdev, and the judgement
 * of every other host from what the renewal reads. One fl_io is reused for
 * every step; `step` says what its completion means, `wait_step` what the
 * wait timer means. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "disklock/lockspace.h"
#include "fencelock/error.h"

enum ls_step {
	STEP_NONE = 0,
	STEP_FMT_ZERO,      /* whole area, record 0 with magic 0 */
	STEP_FMT_MAGIC,     /* record 0 with the magic */
	STEP_ACQ_READ,      /* our record, before deciding */
	STEP_ACQ_REREAD,    /* our record after the large wait */
	STEP_ACQ_WRITE,     /* our new record */
	STEP_ACQ_CHECK,     /* whole area after the short wait */
	STEP_RENEW_READ,
	STEP_RENEW_WRITE,
	STEP_RELEASE_WRITE,
};

enum ls_wait { WAIT_NONE = 0, WAIT_LARGE, WAIT_SHORT, WAIT_TS };

struct ls_lockspace {
	struct fl_loop *loop;
	struct fl_bdev *dev;
	struct ls_config cfg;
	ls_event_fn fn;
	void *arg;
	enum ls_state state;
	struct ls_timing timing;      /* ours, from cfg.io_timeout_ms */
	uint64_t ts_unit_us;          /* unit of our timestamps (ls_timestamp_unit_us()) */
	uint32_t sector;
	uint64_t align_bytes;         /* 0 until known */
	uint32_t area_hosts;          /* 0 until known */
	struct fl_io io;
	bool io_busy;
	enum ls_step step;
	enum ls_wait wait_step;
	bool renew_auto;              /* schedule renewals after acquire */
	bool release_pending;
	uint8_t *rbuf;                /* area_hosts sectors */
	uint8_t *wbuf;                /* one sector, or the whole area while formatting */
	struct fl_leader before;      /* our record as read before the large wait */
	bool before_corrupt;          /* it failed its checksum: watched, then replaced */
	uint8_t before_raw[FL_LEADER_SIZE];
	struct fl_leader own;         /* our record as last written (or adopted) */
	uint8_t own_raw[FL_LEADER_SIZE];
	bool have_own;
	uint64_t gen_known;           /* the highest generation we wrote (0: none): survives a failed acquire */
	uint64_t wiped_count;         /* renewals that found our record wiped */
	uint64_t last_written_ts;     /* timestamp of our last write attempt */
	bool last_write_failed;       /* it may have landed torn */
	uint64_t renew_start_us, last_good_us, valid_until_us;
	uint32_t renewals_since_full;
	uint32_t read_hosts;          /* records in the read in progress */
	uint32_t highest_in_use;
	struct fl_timer renew_timer, expiry_timer, wait_timer;
	uint64_t renew_due_us;        /* when the scheduled renewal is due; 0: none scheduled */
	struct fl_lat lateness;       /* renewal start - renew_due_us */
	struct ls_host_obs hosts[LS_MAX_HOSTS];
};

static void ls_io_done(struct fl_io *io, int result);
static void ls_renew_start(struct ls_lockspace *ls);
static void ls_expiry_fired(struct ls_lockspace *ls);

/* ---- pure helpers ---- */

int ls_record_check(const uint8_t *sector, const char *space, uint32_t sector_size, struct fl_leader *l)
{
	char name[FL_NAME_LEN + 1];
	FL_ASSERT(sector != NULL);
	FL_ASSERT(space != NULL);
	FL_ASSERT(l != NULL);
	int rv = fl_leader_decode(sector, FL_DELTA_MAGIC, l);
	if (rv != 0)
		return rv;
	fl_name_get(l->space_name, name);
	if (strcmp(name, space) != 0)
		return -FL_EFOREIGN;
	if (l->sector_size != sector_size)
		return -FL_ESECTOR;
	return 0;
}

const char *ls_record_reason(int rv)
{
	switch (-rv) {
	case 0: return "ok";
	case FL_ECHECKSUM: return "bad checksum";
	case FL_EMAGIC: return "bad magic or uninitialised sector";
	case FL_EVERSION: return "unsupported version";
	case FL_EFOREIGN: return "record of another lockspace";
	case FL_ESECTOR: return "sector size mismatch";
	default: return fl_strerror(rv);
	}
}

const char *ls_host_state_name(enum ls_host_state s)
{
	static const char *const names[] = {"FREE", "UNKNOWN", "LIVE", "FAIL", "DEAD", "ERROR"};
	return (unsigned)s < FL_ARRAY_SIZE(names) ? names[s] : "?";
}

/* T into a record: whole seconds (rounded up) in io_timeout, milliseconds
 * in unused2 when T is not whole seconds (the mark then is FLK2). */
static void ls_record_set_io_timeout(struct fl_leader *l, uint32_t io_timeout_ms)
{
	FL_ASSERT(ls_io_timeout_ms_valid(io_timeout_ms));
	l->io_timeout = (uint16_t)ls_io_timeout_record_s(io_timeout_ms);
	l->unused2 = io_timeout_ms % 1000u == 0 ? 0 : (uint16_t)io_timeout_ms;
	FL_ASSERT(io_timeout_ms % 1000u == 0 || l->unused2 == io_timeout_ms);
}

void ls_record_init_ms(struct fl_leader *l, const char *space, uint32_t sector_size, uint64_t align_bytes,
		       uint32_t io_timeout_ms)
{
	FL_ASSERT(l != NULL);
	FL_ASSERT(fl_align_flag_from_bytes(align_bytes) != 0);
	FL_ASSERT(ls_io_timeout_ms_valid(io_timeout_ms));
	memset(l, 0, sizeof(*l));
	l->magic = FL_DELTA_MAGIC;
	l->version = FL_DELTA_VERSION;
	l->flags = fl_align_flag_from_bytes(align_bytes);
	l->sector_size = sector_size;
	l->max_hosts = 1; /* sanlock's quirk for delta records */
	FL_ASSERT(fl_name_set(l->space_name, space) == 0);
	ls_record_set_io_timeout(l, io_timeout_ms);
}

void ls_record_encode_sector(struct fl_leader *l, uint8_t *sector, uint32_t sector_size)
{
	FL_ASSERT(l != NULL);
	FL_ASSERT(sector != NULL);
	FL_ASSERT(sector_size >= FL_LEADER_SIZE);
	memset(sector, 0, sector_size);
	l->unused1 = l->timestamp != 0 ? fl_mark_compute(l) : 0;
	fl_leader_encode(l, sector);
}

static void obs_reset(struct ls_host_obs *o, const struct fl_leader *l, uint64_t now_us, bool changed)
{
	o->seen = true;
	o->error = 0;
	o->owner_id = l->owner_id;
	o->generation = l->owner_generation;
	o->timestamp = l->timestamp;
	fl_name_get(l->resource_name, o->name);
	o->first_seen_us = now_us;
	o->changed_us = now_us;
	o->change_seen = changed;
}

void ls_obs_update(struct ls_host_obs *o, const uint8_t *sector, const char *space, uint32_t sector_size,
		   uint64_t now_us)
{
	struct fl_leader l;
	FL_ASSERT(o != NULL);
	FL_ASSERT(sector != NULL);
	int rv = ls_record_check(sector, space, sector_size, &l);
	if (rv != 0) {
		/* Never free: the next valid record starts a new observation. */
		o->error = rv;
		o->seen = false;
		return;
	}
	bool was_valid = o->seen && o->error == 0;
	char name[FL_NAME_LEN + 1];
	fl_name_get(l.resource_name, name);
	if (!was_valid)
		obs_reset(o, &l, now_us, false);
	else if (l.owner_generation != o->generation || l.owner_id != o->owner_id || strcmp(name, o->name) != 0)
		obs_reset(o, &l, now_us, true); /* a new owner or generation: its write is a change */
	else if (l.timestamp != o->timestamp) {
		o->timestamp = l.timestamp;
		o->changed_us = now_us;
		o->change_seen = true;
	}
	o->io_timeout = l.io_timeout;
	o->marked = fl_mark_valid(&l);
	o->io_timeout_ms = fl_leader_io_timeout_ms(&l);
	FL_ASSERT(o->seen);
	FL_ASSERT(o->changed_us <= now_us);
}

void ls_obs_timing_ms(const struct ls_host_obs *o, uint32_t fallback_io_timeout_ms, struct ls_timing *t)
{
	FL_ASSERT(o != NULL);
	FL_ASSERT(t != NULL);
	/* A fencelock record is never judged by a T shorter than the observer's
	 * own (every daemon of a cluster runs at the header's T): a flipped or
	 * forged field in a record can only make its host look alive longer,
	 * never dead sooner. */
	if (o->marked)
		ls_timing_fencelock_ms(FL_MAX(o->io_timeout_ms, fallback_io_timeout_ms), t);
	else
		ls_timing_sanlock(ls_io_timeout_valid(o->io_timeout) ? o->io_timeout
								     : ls_io_timeout_record_s(fallback_io_timeout_ms),
				  t);
}

enum ls_host_state ls_obs_state_ms(const struct ls_host_obs *o, uint64_t now_us, uint32_t fallback_io_timeout_ms)
{
	struct ls_timing t;
	FL_ASSERT(o != NULL);
	if (o->error != 0)
		return LS_HOST_ERROR;
	if (!o->seen)
		return LS_HOST_UNKNOWN;
	if (o->timestamp == 0)
		return LS_HOST_FREE;
	ls_obs_timing_ms(o, fallback_io_timeout_ms, &t);
	uint64_t since = now_us > o->changed_us ? now_us - o->changed_us : 0;
	if (since >= t.dead_us)
		return LS_HOST_DEAD;
	if (since >= t.fail_us)
		return LS_HOST_FAIL;
	return o->change_seen ? LS_HOST_LIVE : LS_HOST_UNKNOWN;
}

/* ---- construction ---- */

static void ls_timer_fn(struct fl_timer *t, void *arg);

int ls_new(struct fl_loop *loop, struct fl_bdev *dev, const struct ls_config *cfg, ls_event_fn fn, void *arg,
	   struct ls_lockspace **out)
{
	FL_ASSERT(loop != NULL);
	FL_ASSERT(dev != NULL);
	FL_ASSERT(cfg != NULL);
	FL_ASSERT(out != NULL);
	FL_ASSERT(dev->loop == loop);
	size_t sl = strnlen(cfg->space_name, sizeof(cfg->space_name));
	if (sl == 0 || sl >= FL_NAME_LEN || !ls_io_timeout_ms_valid(cfg->io_timeout_ms))
		return -FL_EINVAL;
	if (cfg->host_id != 0 && (strnlen(cfg->host_name, sizeof(cfg->host_name)) == 0 ||
				  strnlen(cfg->host_name, sizeof(cfg->host_name)) >= FL_NAME_LEN))
		return -FL_EINVAL;
	if (cfg->align_bytes != 0 && fl_align_flag_from_bytes(cfg->align_bytes) == 0)
		return -FL_EINVAL;
	if (cfg->align_bytes != 0 && cfg->offset % cfg->align_bytes != 0)
		return -FL_EALIGN;
	if (cfg->offset % dev->sector_size != 0 || cfg->offset % (1u << 20) != 0)
		return -FL_EALIGN;
	uint32_t max = cfg->align_bytes ? fl_max_hosts(dev->sector_size, cfg->align_bytes) : LS_MAX_HOSTS;
	if (cfg->host_id > max || cfg->min_read_hosts > LS_MAX_HOSTS)
		return -FL_EINVAL;
	struct ls_lockspace *ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		return -FL_ENOMEM;
	ls->loop = loop;
	ls->dev = dev;
	ls->cfg = *cfg;
	if (ls->cfg.full_scan_every == 0)
		ls->cfg.full_scan_every = LS_FULL_SCAN_EVERY_DEFAULT;
	ls->fn = fn;
	ls->arg = arg;
	ls->sector = dev->sector_size;
	ls_timing_fencelock_ms(cfg->io_timeout_ms, &ls->timing);
	ls->ts_unit_us = ls_timestamp_unit_us(cfg->io_timeout_ms);
	fl_timer_init(&ls->renew_timer, ls_timer_fn, ls);
	fl_timer_init(&ls->expiry_timer, ls_timer_fn, ls);
	fl_timer_init(&ls->wait_timer, ls_timer_fn, ls);
	*out = ls;
	return 0;
}

void ls_free(struct ls_lockspace *ls)
{
	if (ls == NULL)
		return;
	/* An I/O still in flight must have been cancelled by closing the device. */
	fl_timer_cancel(ls->loop, &ls->renew_timer);
	fl_timer_cancel(ls->loop, &ls->expiry_timer);
	fl_timer_cancel(ls->loop, &ls->wait_timer);
	free(ls->rbuf);
	free(ls->wbuf);
	free(ls);
}

/* Learns the geometry and allocates the buffers for it. */
static int ls_set_geometry(struct ls_lockspace *ls, uint64_t align_bytes)
{
	FL_ASSERT(fl_align_flag_from_bytes(align_bytes) != 0);
	if (ls->cfg.align_bytes != 0 && ls->cfg.align_bytes != align_bytes)
		return -FL_EFOREIGN;
	if (ls->cfg.offset % align_bytes != 0)
		return -FL_EALIGN;
	uint32_t hosts = fl_max_hosts(ls->sector, align_bytes);
	FL_ASSERT(hosts > 0);
	FL_ASSERT(hosts <= LS_MAX_HOSTS);
	if (ls->cfg.host_id > hosts)
		return -FL_EINVAL;
	if (ls->cfg.offset + (uint64_t)hosts * ls->sector > ls->dev->size_bytes)
		return -FL_ETOOSMALL;
	if (ls->rbuf == NULL || ls->area_hosts != hosts) {
		free(ls->rbuf);
		ls->rbuf = malloc((size_t)hosts * ls->sector);
		if (ls->rbuf == NULL)
			return -FL_ENOMEM;
	}
	if (ls->wbuf == NULL && (ls->wbuf = malloc(ls->sector)) == NULL)
		return -FL_ENOMEM;
	ls->align_bytes = align_bytes;
	ls->area_hosts = hosts;
	return 0;
}

static int ls_submit(struct ls_lockspace *ls, enum fl_io_op op, uint32_t first_record, void *buf, uint32_t len,
		     enum ls_step step)
{
	FL_ASSERT(!ls->io_busy);
	FL_ASSERT(len > 0);
	FL_ASSERT(len % ls->sector == 0);
	ls->io = (struct fl_io){
		.op = op,
		.offset = ls->cfg.offset + (uint64_t)first_record * ls->sector,
		.len = len,
		.buf = buf,
		.timeout_us = ls->timing.io_us,
		.cb = ls_io_done,
		.arg = ls,
	};
	ls->step = step;
	int rv = fl_bdev_submit(ls->dev, &ls->io);
	ls->io_busy = rv == 0;
	return rv;
}

static void ls_emit(struct ls_lockspace *ls, enum ls_event ev, int result)
{
	FL_ASSERT(ev <= LS_EV_RELEASED);
	FL_ASSERT(result <= 0);
	if (ls->fn != NULL)
		ls->fn(ls, ev, result, ls->arg);
}

/* ---- format ---- */

int ls_format(struct ls_lockspace *ls)
{
	FL_ASSERT(ls != NULL);
	if (ls->state != LS_IDLE || ls->io_busy)
		return -FL_EAGAIN;
	uint64_t align = ls->cfg.align_bytes ? ls->cfg.align_bytes : (1ull << 20);
	if (ls->cfg.offset % align != 0)
		return -FL_EALIGN;
	if (ls->cfg.offset + align > ls->dev->size_bytes)
		return -FL_ETOOSMALL;
	int rv = ls_set_geometry(ls, align);
	if (rv != 0)
		return rv;
	uint8_t *area = calloc(1, align);
	if (area == NULL)
		return -FL_ENOMEM;
	struct fl_leader l;
	for (uint32_t i = 0; i < ls->area_hosts; i++) {
		ls_record_init_ms(&l, ls->cfg.space_name, ls->sector, align, ls->cfg.io_timeout_ms);
		if (i == 0)
			l.magic = 0; /* the lockspace appears when record 0 gets its magic */
		ls_record_encode_sector(&l, area + (size_t)i * ls->sector, ls->sector);
	}
	free(ls->wbuf);
	ls->wbuf = area;
	rv = ls_submit(ls, FL_IO_WRITE, 0, area, (uint32_t)align, STEP_FMT_ZERO);
	if (rv == 0)
		ls->state = LS_FORMATTING;
	return rv;
}

static void ls_format_done(struct ls_lockspace *ls, int result)
{
	FL_ASSERT(ls->state == LS_FORMATTING);
	/* Back to a one-sector write buffer. */
	free(ls->wbuf);
	ls->wbuf = malloc(ls->sector);
	if (ls->wbuf == NULL && result == 0)
		result = -FL_ENOMEM;
	ls->state = LS_IDLE;
	ls_emit(ls, LS_EV_FORMATTED, result);
}

static void ls_format_step(struct ls_lockspace *ls, enum ls_step step, int result)
{
	FL_ASSERT(ls->state == LS_FORMATTING);
	FL_ASSERT(step == STEP_FMT_ZERO || step == STEP_FMT_MAGIC);
	if (result != 0 || step == STEP_FMT_MAGIC) {
		ls_format_done(ls, result);
		return;
	}
	struct fl_leader l;
	ls_record_init_ms(&l, ls->cfg.space_name, ls->sector, ls->align_bytes, ls->cfg.io_timeout_ms);
	ls_record_encode_sector(&l, ls->wbuf, ls->sector);
	int rv = ls_submit(ls, FL_IO_WRITE, 0, ls->wbuf, ls->sector, STEP_FMT_MAGIC);
	if (rv != 0)
		ls_format_done(ls, rv);
}

/* ---- acquire ---- */

static uint8_t *ls_sector_of(struct ls_lockspace *ls, uint64_t host_id)
{
	FL_ASSERT(host_id >= 1);
	FL_ASSERT(host_id <= ls->area_hosts);
	return ls->rbuf + (size_t)(host_id - 1) * ls->sector;
}

static void ls_acquire_done(struct ls_lockspace *ls, int result)
{
	FL_ASSERT(ls->state == LS_ACQUIRING);
	if (result != 0) {
		ls->state = LS_IDLE;
		ls->have_own = false;
		ls_emit(ls, LS_EV_ACQUIRED, result);
		return;
	}
	ls->state = LS_HELD;
	ls->last_good_us = ls->renew_start_us;
	ls->valid_until_us = ls->last_good_us + ls->timing.fail_us;
	fl_timer_arm(ls->loop, &ls->expiry_timer, ls->valid_until_us);
	ls->renew_auto = true;
	/* The first renewal is due R after the acquiring write began. */
	uint64_t at = FL_MAX(ls->last_good_us + ls->timing.renew_us, (ls->last_written_ts + 1) * ls->ts_unit_us);
	fl_timer_arm(ls->loop, &ls->renew_timer, at);
	ls->renew_due_us = FL_MAX(at, fl_now_us(ls->loop)); /* a due time already past is due now */
	ls_emit(ls, LS_EV_ACQUIRED, 0);
}

int ls_acquire(struct ls_lockspace *ls)
{
	FL_ASSERT(ls != NULL);
	FL_ASSERT(ls->cfg.host_id >= 1);
	if (ls->state != LS_IDLE || ls->io_busy)
		return -FL_EAGAIN;
	if (ls->wbuf == NULL && (ls->wbuf = malloc(ls->sector)) == NULL)
		return -FL_ENOMEM;
	int rv = ls_submit(ls, FL_IO_READ, (uint32_t)(ls->cfg.host_id - 1), ls->wbuf, ls->sector, STEP_ACQ_READ);
	if (rv == 0)
		ls->state = LS_ACQUIRING;
	return rv;
}

/* Writes our new record: the old one with a new generation, our name and a
 * fresh timestamp. Waits for the next second if our last write used this one. */
static void ls_acquire_write(struct ls_lockspace *ls)
{
	FL_ASSERT(ls->state == LS_ACQUIRING);
	FL_ASSERT(!ls->io_busy);
	uint64_t now = fl_now_us(ls->loop);
	uint64_t ts = now / ls->ts_unit_us;
	if (ts <= ls->last_written_ts || ts == 0) {
		ls->wait_step = WAIT_TS;
		fl_timer_arm(ls->loop, &ls->wait_timer, (ls->last_written_ts + 1) * ls->ts_unit_us);
		return;
	}
	struct fl_leader l = ls->before;
	l.timestamp = ts;
	l.owner_id = ls->cfg.host_id;
	l.owner_generation++;
	FL_ASSERT(fl_name_set(l.resource_name, ls->cfg.host_name) == 0);
	ls_record_set_io_timeout(&l, ls->cfg.io_timeout_ms);
	ls_record_encode_sector(&l, ls->wbuf, ls->sector);
	FL_ASSERT(fl_mark_valid(&l));
	ls->own = l;
	memcpy(ls->own_raw, ls->wbuf, FL_LEADER_SIZE);
	ls->have_own = true;
	ls->gen_known = FL_MAX(ls->gen_known, l.owner_generation);
	ls->last_written_ts = ts;
	ls->renew_start_us = now;
	int rv = ls_submit(ls, FL_IO_WRITE, (uint32_t)(ls->cfg.host_id - 1), ls->wbuf, ls->sector, STEP_ACQ_WRITE);
	if (rv != 0)
		ls_acquire_done(ls, rv);
}

/* The generation a replaced record continues from (the new one is one
 * above). A generation grows by one per acquire of the id, so a real one
 * stays small: LS_GEN_PLAUSIBLE_MAX (2^32) is an acquire every second for
 * 136 years. The generation field of a record that fails its checksum (or
 * was wiped) is believed only below that bound: a random 64-bit value passes
 * with probability 2^-32, where the former bound of 2^62 let a quarter pass.
 * When this instance wrote the id before (gen_known), only our own writes
 * can have moved it, and by one per acquire: a value below gen_known or more
 * than LS_GEN_STEP_MAX above it is not ours, and gen_known is used. The new
 * generation must exceed every generation under which a volume lease was
 * taken with this id (the takeover rule frees a lease whose owner's
 * generation moved on); both sources are such upper bounds. Returns false
 * when neither is known: the record is an error for the operator. */
static bool ls_gen_base(const struct ls_lockspace *ls, uint64_t raw_gen, uint64_t *base)
{
	if (ls->gen_known != 0) {
		bool ours = raw_gen >= ls->gen_known && raw_gen - ls->gen_known <= LS_GEN_STEP_MAX;
		*base = ours ? raw_gen : ls->gen_known;
		return true;
	}
	if (raw_gen >= LS_GEN_PLAUSIBLE_MAX)
		return false;
	*base = raw_gen;
	return true;
}

/* Our own record fails its checksum: most likely our own write torn by a
 * crash, but that cannot be told from its bytes, so it is never "free". We
 * watch it for sanlock's dead time (its writer may have been any host, of
 * either kind); if not one byte changed, nobody renews it and we write a
 * fresh record, its generation one above ls_gen_base()'s. A torn write
 * leaves either the old or the new generation in place, and a torn acquire
 * never completed, so no lease was taken under a higher one. */
static void ls_acquire_corrupt(struct ls_lockspace *ls, enum ls_step step)
{
	struct fl_leader raw;
	uint64_t base;
	fl_leader_decode_raw(ls->wbuf, &raw);
	if (!ls_gen_base(ls, raw.owner_generation, &base)) {
		fl_err("lockspace %s: record of host_id %llu is corrupt beyond repair (generation %llu is not "
		       "plausible); reinitialise it with `fencelock direct init`", ls->cfg.space_name,
		       (unsigned long long)ls->cfg.host_id, (unsigned long long)raw.owner_generation);
		ls_acquire_done(ls, -FL_ECHECKSUM);
		return;
	}
	if (step == STEP_ACQ_REREAD && ls->before_corrupt) {
		if (memcmp(ls->wbuf, ls->before_raw, FL_LEADER_SIZE) != 0) {
			ls_acquire_done(ls, -FL_EBUSY);
			return;
		}
		fl_warn("lockspace %s: record of host_id %llu stayed corrupt and unchanged; replacing it "
			"(generation %llu + 1; the record said %llu)", ls->cfg.space_name,
			(unsigned long long)ls->cfg.host_id, (unsigned long long)base,
			(unsigned long long)raw.owner_generation);
		ls_record_init_ms(&ls->before, ls->cfg.space_name, ls->sector, ls->align_bytes, ls->cfg.io_timeout_ms);
		ls->before.owner_generation = base;
		ls->before_corrupt = false;
		ls_acquire_write(ls);
		return;
	}
	fl_warn("lockspace %s: record of host_id %llu has a bad checksum; watching it before replacing it",
		ls->cfg.space_name, (unsigned long long)ls->cfg.host_id);
	struct ls_timing rt;
	ls_timing_sanlock(ls_io_timeout_record_s(ls->cfg.io_timeout_ms), &rt);
	memcpy(ls->before_raw, ls->wbuf, FL_LEADER_SIZE);
	ls->before_corrupt = true;
	ls->wait_step = WAIT_LARGE;
	fl_timer_after(ls->loop, &ls->wait_timer, ls_acquire_large_wait_us(&rt));
}

/* Our record as read at the start (or after the large wait). */
static void ls_acquire_decide(struct ls_lockspace *ls, enum ls_step step)
{
	struct fl_leader l;
	FL_ASSERT(ls->state == LS_ACQUIRING);
	FL_ASSERT(step == STEP_ACQ_READ || step == STEP_ACQ_REREAD);
	int rv = ls_record_check(ls->wbuf, ls->cfg.space_name, ls->sector, &l);
	if (rv == 0 && ls->area_hosts == 0)
		rv = ls_set_geometry(ls, fl_align_bytes_from_flags(l.flags, ls->sector));
	if (rv == -FL_ECHECKSUM && ls->area_hosts == 0 && ls->cfg.align_bytes != 0 &&
	    ls_set_geometry(ls, ls->cfg.align_bytes) != 0)
		rv = -FL_EINVAL;
	if (rv == -FL_ECHECKSUM && ls->area_hosts != 0 && ls->cfg.repair_corrupt_own) {
		ls_acquire_corrupt(ls, step);
		return;
	}
	if (rv == -FL_EMAGIC && ls->area_hosts != 0 && ls->cfg.repair_corrupt_own && ls->gen_known != 0 &&
	    fl_block_is_zero(ls->wbuf, FL_LEADER_SIZE)) {
		/* Our own record, cleared while we held it (ls_wiped): free. */
		ls_record_init_ms(&l, ls->cfg.space_name, ls->sector, ls->align_bytes, ls->cfg.io_timeout_ms);
		rv = 0;
	}
	if (rv != 0) {
		ls_acquire_done(ls, rv);
		return;
	}
	ls->before_corrupt = false;
	/* Never below a generation we wrote: a wiped or re-formatted record
	 * says 0, and volume leases may name our earlier generations. */
	l.owner_generation = FL_MAX(l.owner_generation, ls->gen_known);
	char name[FL_NAME_LEN + 1];
	fl_name_get(l.resource_name, name);
	if (step == STEP_ACQ_REREAD) {
		if (memcmp(ls->wbuf, ls->before_raw, FL_LEADER_SIZE) != 0 && l.timestamp != 0) {
			fl_warn("lockspace %s: host_id %llu is busy: %s (generation %llu) kept writing its record; "
				"choose another host_id", ls->cfg.space_name, (unsigned long long)ls->cfg.host_id, name,
				(unsigned long long)l.owner_generation);
			ls_acquire_done(ls, -FL_EBUSY);
			return;
		}
		ls->before = l;
		ls_acquire_write(ls);
		return;
	}
	ls->before = l;
	/* Free, or ours (same host name: sanlock's fast re-acquire): no wait. */
	if (l.timestamp == 0 || strcmp(name, ls->cfg.host_name) == 0) {
		ls_acquire_write(ls);
		return;
	}
	struct ls_timing rt;
	ls_timing_for_record_ms(&l, ls->cfg.io_timeout_ms, &rt);
	memcpy(ls->before_raw, ls->wbuf, FL_LEADER_SIZE);
	ls->wait_step = WAIT_LARGE;
	fl_timer_after(ls->loop, &ls->wait_timer, ls_acquire_large_wait_us(&rt));
}

static void ls_observe_all(struct ls_lockspace *ls, uint32_t n, uint64_t now_us)
{
	FL_ASSERT(n <= ls->area_hosts);
	for (uint32_t i = 0; i < n; i++) {
		struct ls_host_obs *o = &ls->hosts[i];
		const uint8_t *sec = ls->rbuf + (size_t)i * ls->sector;
		ls_obs_update(o, sec, ls->cfg.space_name, ls->sector, now_us);
		bool used = o->error != 0 ? !fl_block_is_zero(sec, FL_LEADER_SIZE) : o->generation != 0;
		if (used && i + 1 > ls->highest_in_use)
			ls->highest_in_use = i + 1;
	}
}

static void ls_acquire_step(struct ls_lockspace *ls, enum ls_step step, int result)
{
	if (result != 0) {
		if (step == STEP_ACQ_WRITE)
			fl_warn("lockspace %s: acquire write of host_id %llu failed (%s); it may or may not have "
				"landed: retry the acquire", ls->cfg.space_name, (unsigned long long)ls->cfg.host_id,
				fl_strerror(result));
		ls_acquire_done(ls, result);
		return;
	}
	switch (step) {
	case STEP_ACQ_READ:
	case STEP_ACQ_REREAD:
		ls_acquire_decide(ls, step);
		return;
	case STEP_ACQ_WRITE:
		ls->wait_step = WAIT_SHORT;
		fl_timer_after(ls->loop, &ls->wait_timer, ls_acquire_short_wait_us_ms(ls->cfg.io_timeout_ms));
		return;
	default:
		break;
	}
	FL_ASSERT(step == STEP_ACQ_CHECK);
	if (memcmp(ls_sector_of(ls, ls->cfg.host_id), ls->own_raw, FL_LEADER_SIZE) != 0) {
		fl_warn("lockspace %s: host_id %llu was written by another host while we acquired it; "
			"choose another host_id", ls->cfg.space_name, (unsigned long long)ls->cfg.host_id);
		ls_acquire_done(ls, -FL_EBUSY);
		return;
	}
	ls_observe_all(ls, ls->area_hosts, fl_now_us(ls->loop));
	ls->renewals_since_full = 0;
	ls_acquire_done(ls, 0);
}

static void ls_wait_fired(struct ls_lockspace *ls)
{
	enum ls_wait w = ls->wait_step;
	ls->wait_step = WAIT_NONE;
	FL_ASSERT(ls->state == LS_ACQUIRING);
	int rv = 0;
	if (w == WAIT_LARGE)
		rv = ls_submit(ls, FL_IO_READ, (uint32_t)(ls->cfg.host_id - 1), ls->wbuf, ls->sector, STEP_ACQ_REREAD);
	else if (w == WAIT_SHORT)
		rv = ls_submit(ls, FL_IO_READ, 0, ls->rbuf, ls->area_hosts * ls->sector, STEP_ACQ_CHECK);
	else if (ALWAYS(w == WAIT_TS))
		ls_acquire_write(ls);
	if (rv != 0)
		ls_acquire_done(ls, rv);
}

/* ---- adopt, renew, expiry ---- */

int ls_adopt(struct ls_lockspace *ls, const struct fl_leader *own)
{
	FL_ASSERT(ls != NULL);
	FL_ASSERT(own != NULL);
	FL_ASSERT(ls->cfg.host_id >= 1);
	if (ls->state != LS_IDLE || ls->io_busy)
		return -FL_EAGAIN;
	if (own->owner_id != ls->cfg.host_id || own->timestamp == 0)
		return -FL_EINVAL;
	int rv = ls_set_geometry(ls, fl_align_bytes_from_flags(own->flags, ls->sector));
	if (rv != 0)
		return rv;
	ls->own = *own;
	ls->gen_known = FL_MAX(ls->gen_known, own->owner_generation);
	uint8_t sec[FL_LEADER_SIZE];
	fl_leader_encode(&ls->own, sec);
	memcpy(ls->own_raw, sec, FL_LEADER_SIZE);
	ls->have_own = true;
	/* A timestamp ahead of our clock was written on another host's clock:
	 * ours only has to differ from it, not follow it. */
	uint64_t now_ts = fl_now_us(ls->loop) / ls->ts_unit_us;
	ls->last_written_ts = own->timestamp <= now_ts + 1 ? own->timestamp : 0;
	ls->state = LS_HELD;
	ls->renew_auto = false;
	return 0;
}

uint32_t ls_renew_read_hosts(const struct ls_lockspace *ls)
{
	FL_ASSERT(ls != NULL);
	if (ls->area_hosts == 0)
		return 0;
	uint64_t n = FL_MAX(FL_MAX((uint64_t)ls->highest_in_use, ls->cfg.host_id), (uint64_t)ls->cfg.min_read_hosts);
	uint64_t bytes = n * ls->sector;
	bytes = (bytes + LS_READ_ROUND_BYTES - 1) / LS_READ_ROUND_BYTES * LS_READ_ROUND_BYTES;
	n = FL_MIN(bytes / ls->sector, (uint64_t)ls->area_hosts);
	FL_ASSERT(n >= 1);
	FL_ASSERT(n <= ls->area_hosts);
	return (uint32_t)n;
}

int ls_renew_once(struct ls_lockspace *ls)
{
	FL_ASSERT(ls != NULL);
	if (ls->state != LS_HELD || ls->io_busy)
		return -FL_EAGAIN;
	uint64_t earliest = (ls->last_written_ts + 1) * ls->ts_unit_us;
	if (fl_now_us(ls->loop) < earliest) {
		/* Timestamps strictly increase between our writes. */
		fl_timer_arm(ls->loop, &ls->renew_timer, earliest);
		return 0;
	}
	ls_renew_start(ls);
	return 0;
}

static void ls_schedule_renewal(struct ls_lockspace *ls, bool failed)
{
	if (!ls->renew_auto || ls->state != LS_HELD)
		return;
	uint64_t now = fl_now_us(ls->loop);
	FL_ASSERT(ls->renew_start_us <= now); /* monotonic clock */
	uint64_t at = failed ? now + ls->timing.renew_us / 4 : ls->renew_start_us + ls->timing.renew_us;
	at = FL_MAX(at, (ls->last_written_ts + 1) * ls->ts_unit_us);
	fl_timer_arm(ls->loop, &ls->renew_timer, at);
	ls->renew_due_us = FL_MAX(at, fl_now_us(ls->loop)); /* a due time already past is due now */
}

static void ls_renew_start(struct ls_lockspace *ls)
{
	FL_ASSERT(ls->state == LS_HELD);
	FL_ASSERT(!ls->io_busy);
	bool full = ls->renewals_since_full + 1 >= ls->cfg.full_scan_every;
	ls->read_hosts = full ? ls->area_hosts : ls_renew_read_hosts(ls);
	ls->renew_start_us = fl_now_us(ls->loop);
	int rv = ls_submit(ls, FL_IO_READ, 0, ls->rbuf, ls->read_hosts * ls->sector, STEP_RENEW_READ);
	if (rv != 0) {
		ls_emit(ls, LS_EV_RENEW_FAILED, rv);
		ls_schedule_renewal(ls, true);
	}
}

static void ls_renew_failed(struct ls_lockspace *ls, int result)
{
	FL_ASSERT(result < 0);
	FL_ASSERT(ls->state == LS_HELD);
	fl_warn("lockspace %s: renewal of host_id %llu failed: %s; lease valid for %lld ms more",
		ls->cfg.space_name, (unsigned long long)ls->cfg.host_id, fl_strerror(result),
		(long long)(ls->valid_until_us - FL_MIN(ls->valid_until_us, fl_now_us(ls->loop))) / 1000);
	ls_emit(ls, LS_EV_RENEW_FAILED, result);
	ls_schedule_renewal(ls, true);
}

/* Why our own record, as just read, is wiped rather than ours or another
 * owner's: all zeros (the sector was cleared), or a free record of our
 * lockspace with generation 0 (the area was formatted again). NULL if not. */
static const char *ls_wiped_reason(const uint8_t *mine, int rv, const struct fl_leader *l)
{
	if (rv == -FL_EMAGIC && fl_block_is_zero(mine, FL_LEADER_SIZE))
		return "it reads as all zeros (the sector was cleared)";
	if (rv == 0 && l->timestamp == 0 && l->owner_generation == 0)
		return "it reads as a free record with generation 0 (the lockspace was formatted again)";
	return NULL;
}

/* Our record is gone: others now see host_id free, so the volume leases we
 * hold under it may be taken over at once. The lease is void from now (it
 * counts as expired: the arbiter stops every VM at once), and, once they are
 * down, the arbiter takes the id again (ls_reset + ls_acquire) with a
 * generation above every one we wrote (ls_gen_base). */
static void ls_wiped(struct ls_lockspace *ls, const char *why)
{
	uint64_t now = fl_now_us(ls->loop);
	fl_err("lockspace %s: our record (host_id %llu, generation %llu) was wiped: %s; our delta lease is void "
	       "now: stopping everything it protects, then taking host_id %llu again with a higher generation",
	       ls->cfg.space_name, (unsigned long long)ls->cfg.host_id, (unsigned long long)ls->own.owner_generation,
	       why, (unsigned long long)ls->cfg.host_id);
	ls->wiped_count++;
	ls->valid_until_us = FL_MIN(ls->valid_until_us, now);
	ls->state = LS_EXPIRED;
	fl_timer_cancel(ls->loop, &ls->renew_timer);
	fl_timer_cancel(ls->loop, &ls->expiry_timer);
	ls_emit(ls, LS_EV_EXPIRED, -FL_ENOENT);
}

static void ls_renew_read_done(struct ls_lockspace *ls)
{
	struct fl_leader l;
	/* The read range always holds our own record. */
	FL_ASSERT(ls->read_hosts >= ls->cfg.host_id);
	FL_ASSERT(ls->read_hosts <= ls->area_hosts);
	const uint8_t *mine = ls_sector_of(ls, ls->cfg.host_id);
	int rv = ls_record_check(mine, ls->cfg.space_name, ls->sector, &l);
	const char *wiped = ls_wiped_reason(mine, rv, &l);
	if (wiped != NULL) {
		ls_wiped(ls, wiped);
		return;
	}
	if (rv == -FL_ECHECKSUM && ls->last_write_failed) {
		/* Most likely our own torn write: rewrite our record. A racing
		 * acquirer's torn write is overwritten too, and its re-read then
		 * finds our record, so it backs off. */
		fl_warn("lockspace %s: our record (host_id %llu) has a bad checksum after a failed write; "
			"rewriting it", ls->cfg.space_name, (unsigned long long)ls->cfg.host_id);
		l = ls->own;
	} else if (rv != 0) {
		ls_renew_failed(ls, rv);
		return;
	}
	if (l.owner_id != ls->own.owner_id || l.owner_generation != ls->own.owner_generation ||
	    memcmp(l.resource_name, ls->own.resource_name, FL_NAME_LEN) != 0) {
		char name[FL_NAME_LEN + 1];
		fl_name_get(l.resource_name, name);
		fl_err("lockspace %s: host_id %llu lost: our record (generation %llu) was overwritten by %s "
		       "(owner %llu, generation %llu); stop everything this lease protects",
		       ls->cfg.space_name, (unsigned long long)ls->cfg.host_id,
		       (unsigned long long)ls->own.owner_generation, name, (unsigned long long)l.owner_id,
		       (unsigned long long)l.owner_generation);
		ls->state = LS_LOST;
		fl_timer_cancel(ls->loop, &ls->renew_timer);
		fl_timer_cancel(ls->loop, &ls->expiry_timer);
		ls_emit(ls, LS_EV_LEASE_LOST, -FL_ESTALE);
		return;
	}
	uint64_t now = fl_now_us(ls->loop);
	if (ls->renew_auto && now >= ls->valid_until_us) {
		/* Lapsed while we waited (a paused process): write nothing. */
		ls_expiry_fired(ls);
		return;
	}
	ls_observe_all(ls, ls->read_hosts, now);
	if (ls->read_hosts == ls->area_hosts)
		ls->renewals_since_full = 0;
	else
		ls->renewals_since_full++;
	uint64_t ts = now / ls->ts_unit_us;
	FL_ASSERT(ts > ls->last_written_ts);
	l = ls->own;
	l.timestamp = ts;
	ls_record_encode_sector(&l, ls->wbuf, ls->sector);
	ls->last_written_ts = ts;
	ls->own = l;
	memcpy(ls->own_raw, ls->wbuf, FL_LEADER_SIZE);
	rv = ls_submit(ls, FL_IO_WRITE, (uint32_t)(ls->cfg.host_id - 1), ls->wbuf, ls->sector, STEP_RENEW_WRITE);
	if (rv != 0)
		ls_renew_failed(ls, rv);
}

static void ls_renew_step(struct ls_lockspace *ls, enum ls_step step, int result)
{
	if (ls->state != LS_HELD)
		return; /* expired or lost meanwhile: the result no longer matters */
	if (result != 0) {
		if (step == STEP_RENEW_WRITE)
			ls->last_write_failed = true;
		ls_renew_failed(ls, result);
		return;
	}
	if (step == STEP_RENEW_READ) {
		ls_renew_read_done(ls);
		return;
	}
	FL_ASSERT(step == STEP_RENEW_WRITE);
	ls->last_write_failed = false;
	ls->last_good_us = ls->renew_start_us;
	ls->valid_until_us = ls->last_good_us + ls->timing.fail_us;
	fl_timer_arm(ls->loop, &ls->expiry_timer, ls->valid_until_us);
	ls_emit(ls, LS_EV_RENEW_OK, 0);
	ls_schedule_renewal(ls, false);
}

static void ls_expiry_fired(struct ls_lockspace *ls)
{
	if (ls->state != LS_HELD || !ls->renew_auto)
		return;
	FL_ASSERT(fl_now_us(ls->loop) >= ls->valid_until_us);
	fl_err("lockspace %s: host_id %llu expired: no good renewal since %llu us (F = %llu us); "
	       "its VMs must be stopped now", ls->cfg.space_name, (unsigned long long)ls->cfg.host_id,
	       (unsigned long long)ls->last_good_us, (unsigned long long)ls->timing.fail_us);
	ls->state = LS_EXPIRED;
	fl_timer_cancel(ls->loop, &ls->renew_timer);
	ls_emit(ls, LS_EV_EXPIRED, -FL_ETIMEDOUT);
}

/* ---- release ---- */

static int ls_release_start(struct ls_lockspace *ls)
{
	FL_ASSERT(ls->have_own);
	FL_ASSERT(!ls->io_busy);
	FL_ASSERT(ls->state == LS_HELD || ls->state == LS_EXPIRED);
	struct fl_leader l = ls->own;
	l.timestamp = 0;
	ls_record_encode_sector(&l, ls->wbuf, ls->sector);
	fl_timer_cancel(ls->loop, &ls->renew_timer);
	fl_timer_cancel(ls->loop, &ls->expiry_timer);
	ls->release_pending = false;
	int rv = ls_submit(ls, FL_IO_WRITE, (uint32_t)(ls->cfg.host_id - 1), ls->wbuf, ls->sector, STEP_RELEASE_WRITE);
	if (rv == 0) {
		ls->own = l;
		ls->state = LS_RELEASING;
	}
	return rv;
}

int ls_reset(struct ls_lockspace *ls)
{
	FL_ASSERT(ls != NULL);
	if (ls->state != LS_EXPIRED || ls->io_busy)
		return -FL_EINVAL;
	ls->state = LS_IDLE;
	return 0;
}

int ls_release(struct ls_lockspace *ls)
{
	FL_ASSERT(ls != NULL);
	if (ls->state != LS_HELD && ls->state != LS_EXPIRED)
		return -FL_EINVAL;
	if (ls->io_busy) {
		ls->release_pending = true; /* after the I/O in flight */
		return 0;
	}
	return ls_release_start(ls);
}

static void ls_release_step(struct ls_lockspace *ls, int result)
{
	FL_ASSERT(ls->state == LS_RELEASING);
	ls->state = result == 0 ? LS_IDLE : LS_HELD;
	if (result != 0)
		ls->renew_auto = false; /* the caller decides: retry the release */
	ls_emit(ls, LS_EV_RELEASED, result);
}

/* ---- dispatch ---- */

static void ls_io_done(struct fl_io *io, int result)
{
	struct ls_lockspace *ls = io->arg;
	FL_ASSERT(ls->io_busy);
	enum ls_step step = ls->step;
	ls->io_busy = false;
	ls->step = STEP_NONE;
	switch (step) {
	case STEP_FMT_ZERO: case STEP_FMT_MAGIC: ls_format_step(ls, step, result); break;
	case STEP_ACQ_READ: case STEP_ACQ_REREAD: case STEP_ACQ_WRITE: case STEP_ACQ_CHECK:
		ls_acquire_step(ls, step, result);
		break;
	case STEP_RENEW_READ: case STEP_RENEW_WRITE: ls_renew_step(ls, step, result); break;
	case STEP_RELEASE_WRITE: ls_release_step(ls, result); break;
	default: FL_UNREACHABLE("completion without a step");
	}
	if (ls->release_pending && !ls->io_busy && (ls->state == LS_HELD || ls->state == LS_EXPIRED)) {
		int rv = ls_release_start(ls);
		if (rv != 0)
			ls_emit(ls, LS_EV_RELEASED, rv);
	}
}

static void ls_timer_fn(struct fl_timer *t, void *arg)
{
	struct ls_lockspace *ls = arg;
	if (t == &ls->wait_timer) {
		ls_wait_fired(ls);
	} else if (t == &ls->expiry_timer) {
		ls_expiry_fired(ls);
	} else {
		FL_ASSERT(t == &ls->renew_timer);
		if (ls->state == LS_HELD && !ls->io_busy) {
			uint64_t now = fl_now_us(ls->loop);
			if (ls->renew_due_us != 0)
				fl_lat_add(&ls->lateness, now > ls->renew_due_us ? now - ls->renew_due_us : 0);
			ls->renew_due_us = 0;
			ls_renew_start(ls);
		}
		else if (ls->state == LS_HELD)
			fl_timer_after(ls->loop, t, ls->timing.renew_us / 4);
	}
}

/* ---- accessors ---- */

enum ls_state ls_state(const struct ls_lockspace *ls) { return ls->state; }
uint64_t ls_valid_until_us(const struct ls_lockspace *ls) { return ls->valid_until_us; }
uint64_t ls_last_good_renewal_us(const struct ls_lockspace *ls) { return ls->last_good_us; }
const struct fl_leader *ls_own_record(const struct ls_lockspace *ls) { return ls->have_own ? &ls->own : NULL; }
uint32_t ls_area_hosts(const struct ls_lockspace *ls) { return ls->area_hosts; }
const struct fl_lat *ls_renew_lateness(const struct ls_lockspace *ls) { return &ls->lateness; }
uint64_t ls_wiped_count(const struct ls_lockspace *ls) { return ls->wiped_count; }

const struct ls_host_obs *ls_host(const struct ls_lockspace *ls, uint64_t host_id)
{
	FL_ASSERT(ls != NULL);
	if (host_id == 0 || host_id > ls->area_hosts)
		return NULL;
	return &ls->hosts[host_id - 1];
}

enum ls_host_state ls_host_state(const struct ls_lockspace *ls, uint64_t host_id)
{
	const struct ls_host_obs *o = ls_host(ls, host_id);
	if (o == NULL)
		return LS_HOST_UNKNOWN;
	return ls_obs_state_ms(o, fl_now_us(ls->loop), ls->cfg.io_timeout_ms);
}
