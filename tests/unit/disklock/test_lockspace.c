/* Unit tests of the lockspace state machine on the simulated shared disk:
 * every host has its own simulated clock (different start times, so a test
 * that compared clocks across hosts would break) and its own handle on one
 * fl_simdisk; faults are injected per handle. No real time passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/lockspace.h"
#include "fencelock/error.h"

#define S(x) ((uint64_t)(x) * FL_US_PER_S)
#define MS(x) ((uint64_t)(x) * FL_US_PER_MS)
#define MAX_HOSTS 4
#define NEV 8

struct host {
	struct fl_simclock clock;
	struct fl_simbdev *sb;
	struct ls_lockspace *ls;
	unsigned count[NEV];
	int result[NEV];
	uint64_t at_us[NEV];        /* local time of the last event of each kind */
	uint64_t last_ts;
	bool ts_increasing;
};

struct world {
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct host h[MAX_HOSTS];
	unsigned n;
};

static void on_event(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg)
{
	struct host *h = arg;
	h->count[ev]++;
	h->result[ev] = result;
	h->at_us[ev] = fl_now_us(&h->clock.base);
	if (ev == LS_EV_RENEW_OK) {
		uint64_t ts = ls_own_record(ls)->timestamp;
		if (ts <= h->last_ts)
			h->ts_increasing = false;
		h->last_ts = ts;
	}
}

static void quiet(void *ctx, int level, const char *msg) { (void)ctx; (void)level; (void)msg; }

static struct world *world_new(uint32_t sector, uint64_t size_bytes)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	fl_log_set_sink(quiet, NULL);
	assert_int_equal(fl_sim_init(&w->sim, 42), 0);
	assert_int_equal(fl_simdisk_init(&w->disk, &w->sim, size_bytes, sector), 0);
	return w;
}

/* T of the hosts add_host_cfg() creates (a test at another T sets it and
 * puts it back). */
static uint32_t host_t_ms = 1000;

/* Host i with host_id (0: observer), name, T = host_t_ms (1 s); its clock starts at an
 * arbitrary, host-specific local time. */
static struct host *add_host_cfg(struct world *w, uint64_t host_id, const char *name, bool repair)
{
	unsigned i = w->n++;
	struct host *h = &w->h[i];
	assert_true(i < MAX_HOSTS);
	assert_int_equal(fl_simclock_init(&h->clock, &w->sim, S(1000 + 777 * i), 0), 0);
	h->sb = fl_simbdev_new(&w->disk, &h->clock.base, name, 100 + i);
	assert_non_null(h->sb);
	struct ls_config cfg = {.space_name = "LS", .host_id = host_id, .io_timeout_ms = host_t_ms,
				.repair_corrupt_own = repair};
	snprintf(cfg.host_name, sizeof(cfg.host_name), "%s", name);
	assert_int_equal(ls_new(&h->clock.base, fl_simbdev_bdev(h->sb), &cfg, on_event, h, &h->ls), 0);
	h->ts_increasing = true;
	return h;
}

static struct host *add_host(struct world *w, uint64_t host_id, const char *name)
{
	return add_host_cfg(w, host_id, name, false);
}

/* A host that replaces its own corrupt record after watching it (the daemon's mode). */
static struct host *add_host_repairing(struct world *w, uint64_t host_id, const char *name)
{
	return add_host_cfg(w, host_id, name, true);
}

/* A fresh instance for host h (after a crash), same clock and disk handle. */
static void host_restart(struct host *h, uint64_t host_id, const char *name)
{
	ls_free(h->ls);
	memset(h->count, 0, sizeof(h->count));
	struct ls_config cfg = {.space_name = "LS", .host_id = host_id, .io_timeout_ms = 1000};
	snprintf(cfg.host_name, sizeof(cfg.host_name), "%s", name);
	assert_int_equal(ls_new(&h->clock.base, fl_simbdev_bdev(h->sb), &cfg, on_event, h, &h->ls), 0);
}

static void world_free(struct world *w)
{
	for (unsigned i = 0; i < w->n; i++)
		fl_bdev_close(fl_simbdev_bdev(w->h[i].sb));
	for (unsigned i = 0; i < w->n; i++) {
		ls_free(w->h[i].ls);
		fl_simclock_free(&w->h[i].clock);
	}
	fl_simdisk_free(&w->disk);
	fl_sim_free(&w->sim);
	free(w);
	fl_log_set_sink(NULL, NULL);
}

static void run_for(struct world *w, uint64_t us) { fl_sim_run_until(&w->sim, w->sim.now_us + us); }

/* Runs until h saw event ev (count above before) or limit_us passed. */
static bool run_until_event(struct world *w, struct host *h, enum ls_event ev, unsigned before, uint64_t limit_us)
{
	uint64_t end = w->sim.now_us + limit_us;
	while (h->count[ev] <= before && w->sim.now_us < end)
		if (!fl_sim_step(&w->sim))
			break;
	return h->count[ev] > before;
}

/* Runs until h's own clock (drift 0) reads local_us. */
static void run_host_until(struct world *w, struct host *h, uint64_t local_us)
{
	uint64_t now = fl_now_us(&h->clock.base);
	assert_true(local_us >= now);
	fl_sim_run_until(&w->sim, w->sim.now_us + (local_us - now));
}

static void format(struct world *w, struct host *h)
{
	assert_int_equal(ls_format(h->ls), 0);
	assert_true(run_until_event(w, h, LS_EV_FORMATTED, 0, S(5)));
	assert_int_equal(h->result[LS_EV_FORMATTED], 0);
}

static void acquire(struct world *w, struct host *h)
{
	unsigned before = h->count[LS_EV_ACQUIRED];
	assert_int_equal(ls_acquire(h->ls), 0);
	assert_true(run_until_event(w, h, LS_EV_ACQUIRED, before, S(100)));
	assert_int_equal(h->result[LS_EV_ACQUIRED], 0);
	assert_int_equal(ls_state(h->ls), LS_HELD);
}

static uint8_t *sector_of(struct world *w, uint64_t host_id)
{
	return w->disk.data + (host_id - 1) * w->disk.sector_size;
}

/* Writes a record for host_id straight onto the disk, as another tool would. */
static void put_record(struct world *w, uint64_t host_id, const char *name, uint64_t gen, uint64_t ts, bool marked,
		       uint16_t io_timeout)
{
	struct fl_leader l;
	ls_record_init_ms(&l, "LS", w->disk.sector_size, 1u << 20, 1000);
	l.owner_id = host_id;
	l.owner_generation = gen;
	l.timestamp = ts;
	l.io_timeout = io_timeout;
	assert_int_equal(fl_name_set(l.resource_name, name), 0);
	ls_record_encode_sector(&l, sector_of(w, host_id), w->disk.sector_size);
	if (!marked) {
		l.unused1 = 0;
		fl_leader_encode(&l, sector_of(w, host_id));
	}
}

/* ---- format ---- */

static void format_makes_the_whole_lockspace_appear_in_its_last_write(void **state)
{
	(void)state;
	struct world *w = world_new(512, 2u << 20);
	struct host *o = add_host(w, 0, "observer");
	struct fl_leader l;
	assert_int_equal(ls_format(o->ls), 0);
	while (w->disk.writes_applied == 0)
		assert_true(fl_sim_step(&w->sim));
	/* After the first write every record but record 0 is valid. */
	assert_int_equal(ls_record_check(sector_of(w, 1), "LS", 512, &l), -FL_EMAGIC);
	assert_int_equal(ls_record_check(sector_of(w, 2), "LS", 512, &l), 0);
	assert_true(run_until_event(w, o, LS_EV_FORMATTED, 0, S(5)));
	for (uint64_t id = 1; id <= 2000; id++) {
		assert_int_equal(ls_record_check(sector_of(w, id), "LS", 512, &l), 0);
		assert_true(l.timestamp == 0 && l.owner_id == 0 && l.flags == FL_LFL_ALIGN_1M && l.io_timeout == 1);
	}
	world_free(w);
}

static void format_with_4k_sectors_and_8m_align_holds_2000_hosts(void **state)
{
	(void)state;
	struct world *w = world_new(4096, 8u << 20);
	struct host *o = add_host(w, 0, "observer");
	struct ls_config cfg = {.space_name = "BIG", .io_timeout_ms = 1000, .align_bytes = 8u << 20};
	struct fl_leader l;
	ls_free(o->ls);
	assert_int_equal(ls_new(&o->clock.base, fl_simbdev_bdev(o->sb), &cfg, on_event, o, &o->ls), 0);
	format(w, o);
	assert_int_equal(ls_area_hosts(o->ls), 2000);
	assert_int_equal(ls_record_check(w->disk.data + 1999 * 4096, "BIG", 4096, &l), 0);
	assert_int_equal(l.flags, FL_LFL_ALIGN_8M);
	world_free(w);
}

static void format_refuses_a_device_too_small_for_the_area(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *o = add_host(w, 0, "observer");
	struct ls_config cfg = {.space_name = "LS", .io_timeout_ms = 1000, .align_bytes = 2u << 20};
	ls_free(o->ls);
	assert_int_equal(ls_new(&o->clock.base, fl_simbdev_bdev(o->sb), &cfg, on_event, o, &o->ls), 0);
	assert_int_equal(ls_format(o->ls), -FL_ETOOSMALL);
	assert_int_equal(w->disk.writes_applied, 0);
	world_free(w);
}

/* ---- acquire ---- */

static void two_hosts_racing_for_one_id_exactly_one_wins(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 1, "host-b");
	format(w, a);
	assert_int_equal(ls_acquire(a->ls), 0);
	assert_int_equal(ls_acquire(b->ls), 0);
	run_for(w, S(5));
	assert_int_equal(a->count[LS_EV_ACQUIRED], 1);
	assert_int_equal(b->count[LS_EV_ACQUIRED], 1);
	int ra = a->result[LS_EV_ACQUIRED], rb = b->result[LS_EV_ACQUIRED];
	assert_true((ra == 0 && rb == -FL_EBUSY) || (ra == -FL_EBUSY && rb == 0));
	struct host *winner = ra == 0 ? a : b;
	struct fl_leader l;
	assert_int_equal(ls_record_check(sector_of(w, 1), "LS", 512, &l), 0);
	assert_memory_equal(l.resource_name, ls_own_record(winner->ls)->resource_name, FL_NAME_LEN);
	world_free(w);
}

static void acquiring_an_id_another_host_renews_fails_busy_after_the_large_wait(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *c = add_host(w, 1, "host-c");
	format(w, a);
	acquire(w, a);
	uint64_t start = fl_now_us(&c->clock.base);
	assert_int_equal(ls_acquire(c->ls), 0);
	assert_true(run_until_event(w, c, LS_EV_ACQUIRED, 0, S(30)));
	assert_int_equal(c->result[LS_EV_ACQUIRED], -FL_EBUSY);
	assert_true(c->at_us[LS_EV_ACQUIRED] - start >= S(7)); /* R + 6T for a fencelock record */
	assert_int_equal(ls_state(a->ls), LS_HELD);
	assert_int_equal(a->count[LS_EV_LEASE_LOST], 0);
	world_free(w);
}

static void an_id_whose_holder_died_is_taken_after_the_large_wait_with_a_new_generation(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *c = add_host(w, 1, "host-c");
	format(w, a);
	acquire(w, a);
	fl_simbdev_crash(a->sb);
	fl_simclock_pause(&a->clock); /* a is gone: nothing of it runs */
	uint64_t start = fl_now_us(&c->clock.base);
	acquire(w, c);
	assert_true(c->at_us[LS_EV_ACQUIRED] - start >= S(9)); /* 7 s watch + 2 s check */
	assert_true(ls_own_record(c->ls)->owner_generation == 2);
	world_free(w);
}

static void fast_reacquire_of_our_own_record_skips_the_large_wait(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	run_for(w, S(3));
	fl_simbdev_crash(a->sb); /* the process dies without releasing */
	host_restart(a, 1, "host-a");
	uint64_t start = fl_now_us(&a->clock.base);
	acquire(w, a);
	assert_true(a->at_us[LS_EV_ACQUIRED] - start < S(3)); /* only the 2T check */
	assert_true(ls_own_record(a->ls)->owner_generation == 2);
	world_free(w);
}

static void reacquire_after_release_bumps_the_generation(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	assert_true(ls_own_record(a->ls)->owner_generation == 1);
	assert_int_equal(ls_release(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_RELEASED, 0, S(5)));
	assert_int_equal(ls_state(a->ls), LS_IDLE);
	run_for(w, S(1));
	acquire(w, a);
	assert_true(ls_own_record(a->ls)->owner_generation == 2);
	world_free(w);
}

static void a_corrupt_record_is_never_acquired_as_free(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 3, "host-a");
	format(w, a);
	sector_of(w, 3)[60] ^= 0x01; /* a flipped bit in the space name */
	uint8_t before[512];
	memcpy(before, sector_of(w, 3), sizeof(before));
	assert_int_equal(ls_acquire(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(20)));
	assert_int_equal(a->result[LS_EV_ACQUIRED], -FL_ECHECKSUM);
	assert_memory_equal(before, sector_of(w, 3), sizeof(before));
	world_free(w);
}

static void in_repair_mode_a_corrupt_own_record_is_watched_before_anything_is_written(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	format(w, a);
	sector_of(w, 3)[60] ^= 0x01;
	uint8_t before[512];
	memcpy(before, sector_of(w, 3), sizeof(before));
	assert_int_equal(ls_acquire(a->ls), 0);
	/* Watched for sanlock's dead time (68 s at N = 1) first. */
	assert_false(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(60)));
	assert_memory_equal(before, sector_of(w, 3), sizeof(before));
	world_free(w);
}

static void a_corrupt_own_record_unchanged_for_the_dead_time_is_replaced_with_a_higher_generation(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	format(w, a);
	put_record(w, 3, "host-a", 7, 100, true, 1);
	sector_of(w, 3)[170] ^= 0x40; /* the checksum itself: a torn or rotten sector */
	assert_int_equal(ls_acquire(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(90)));
	assert_int_equal(a->result[LS_EV_ACQUIRED], 0);
	assert_true(ls_own_record(a->ls)->owner_generation == 8);
	struct fl_leader l;
	assert_int_equal(fl_leader_decode(sector_of(w, 3), FL_DELTA_MAGIC, &l), 0);
	world_free(w);
}

/* The audit's case: random bytes over a record left a generation of 3.69e18,
 * below the former bound of 2^62, and it was taken. A fresh instance that
 * never wrote the id has nothing else to go by: the record stays an error. */
static void a_random_generation_in_a_corrupt_own_record_is_not_believed(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	format(w, a);
	put_record(w, 3, "host-a", 3690000000000000000ull, 100, true, 1);
	sector_of(w, 3)[170] ^= 0x40;
	uint8_t before[512];
	memcpy(before, sector_of(w, 3), sizeof(before));
	assert_int_equal(ls_acquire(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(90)));
	assert_int_equal(a->result[LS_EV_ACQUIRED], -FL_ECHECKSUM);
	assert_memory_equal(before, sector_of(w, 3), sizeof(before));
	world_free(w);
}

static void a_generation_at_the_plausibility_bound_is_refused_and_just_below_it_taken(void **state)
{
	(void)state;
	for (int below = 0; below <= 1; below++) {
		struct world *w = world_new(512, 1u << 20);
		struct host *a = add_host_repairing(w, 3, "host-a");
		format(w, a);
		put_record(w, 3, "host-a", LS_GEN_PLAUSIBLE_MAX - (below ? 1ull : 0ull), 100, true, 1);
		sector_of(w, 3)[170] ^= 0x40;
		assert_int_equal(ls_acquire(a->ls), 0);
		assert_true(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(90)));
		assert_int_equal(a->result[LS_EV_ACQUIRED], below ? 0 : -FL_ECHECKSUM);
		world_free(w);
	}
}

/* A host that wrote the id itself continues from its own generation when
 * its record turns to random bytes, whatever generation they spell. */
static void random_bytes_over_a_held_record_continue_from_our_own_generation(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	format(w, a);
	acquire(w, a);
	uint64_t gen = ls_own_record(a->ls)->owner_generation;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < 512; i++) { /* xorshift: fixed random bytes */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sector_of(w, 3)[i] = (uint8_t)x;
	}
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(30)));
	assert_int_equal(ls_reset(a->ls), 0);
	unsigned before = a->count[LS_EV_ACQUIRED];
	assert_int_equal(ls_acquire(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_ACQUIRED, before, S(120)));
	assert_int_equal(a->result[LS_EV_ACQUIRED], 0);
	assert_true(ls_own_record(a->ls)->owner_generation == gen + 1);
	world_free(w);
}

static void a_wiped_own_record_voids_the_lease_at_once_and_is_taken_again_higher(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	format(w, a);
	acquire(w, a);
	uint64_t gen = ls_own_record(a->ls)->owner_generation;
	memset(sector_of(w, 3), 0, 512);
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(5)));
	assert_int_equal(a->result[LS_EV_EXPIRED], -FL_ENOENT);
	assert_int_equal(ls_wiped_count(a->ls), 1);
	assert_true(ls_valid_until_us(a->ls) <= fl_now_us(&a->clock.base));
	assert_int_equal(ls_reset(a->ls), 0);
	acquire(w, a);
	assert_true(ls_own_record(a->ls)->owner_generation == gen + 1);
	world_free(w);
}

static void a_reformatted_lockspace_under_a_holder_is_taken_again_above_its_generation(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	struct host *o = add_host(w, 0, "formatter");
	format(w, a);
	acquire(w, a);
	uint64_t gen = ls_own_record(a->ls)->owner_generation;
	format(w, o); /* every record free, generation 0 */
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(5)));
	assert_int_equal(a->result[LS_EV_EXPIRED], -FL_ENOENT);
	assert_int_equal(ls_reset(a->ls), 0);
	acquire(w, a);
	assert_true(ls_own_record(a->ls)->owner_generation == gen + 1);
	world_free(w);
}

static void a_corrupt_record_that_changes_while_watched_is_busy(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host_repairing(w, 3, "host-a");
	format(w, a);
	sector_of(w, 3)[60] ^= 0x01;
	assert_int_equal(ls_acquire(a->ls), 0);
	run_for(w, S(30));
	sector_of(w, 3)[61] ^= 0x01; /* someone is still writing it */
	assert_true(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(90)));
	assert_int_equal(a->result[LS_EV_ACQUIRED], -FL_EBUSY);
	world_free(w);
}

static void a_record_of_another_lockspace_is_foreign(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	struct fl_leader l;
	ls_record_init_ms(&l, "OTHER", 512, 1u << 20, 1000);
	ls_record_encode_sector(&l, sector_of(w, 1), 512);
	assert_int_equal(ls_acquire(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_ACQUIRED, 0, S(20)));
	assert_int_equal(a->result[LS_EV_ACQUIRED], -FL_EFOREIGN);
	world_free(w);
}

/* ---- renewal ---- */

static void renewal_under_latency_below_T_keeps_the_lease_valid(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	struct fl_simbdev_faults *f = fl_simbdev_faults(a->sb);
	f->latency_min_us = MS(200);
	f->latency_max_us = MS(800);
	for (int i = 0; i < 300; i++) { /* 30 s, checked every 100 ms */
		run_for(w, MS(100));
		assert_true(fl_now_us(&a->clock.base) < ls_valid_until_us(a->ls));
	}
	assert_int_equal(a->count[LS_EV_EXPIRED], 0);
	assert_int_equal(a->count[LS_EV_RENEW_FAILED], 0);
	assert_true(a->count[LS_EV_RENEW_OK] >= 15);
	assert_true(a->ts_increasing);
	world_free(w);
}

static void renewals_write_strictly_increasing_timestamps_a_second_apart(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	run_for(w, S(20));
	assert_true(a->count[LS_EV_RENEW_OK] >= 18 && a->count[LS_EV_RENEW_OK] <= 21);
	assert_true(a->ts_increasing);
	world_free(w);
}

static void a_stall_longer_than_F_expires_the_lease_and_observers_see_fail_then_dead(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 2, "host-b");
	format(w, a);
	acquire(w, a);
	acquire(w, b);
	run_for(w, S(5));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	fl_simbdev_faults(a->sb)->stalled = true;
	uint64_t stall_global = w->sim.now_us;
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(10)));
	uint64_t expired_global = w->sim.now_us;
	/* The event fires exactly at valid-until = last good renewal start + F. */
	assert_true(a->at_us[LS_EV_EXPIRED] == ls_valid_until_us(a->ls));
	assert_true(ls_valid_until_us(a->ls) - ls_last_good_renewal_us(a->ls) == S(4));
	assert_true(expired_global - stall_global <= S(4));
	assert_int_equal(ls_state(a->ls), LS_EXPIRED);
	/* b judges on its own clock from when it last saw a's timestamp change. */
	uint64_t c = ls_host(b->ls, 1)->changed_us;
	run_host_until(w, b, c + S(4) - MS(1));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	run_host_until(w, b, c + S(4));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_FAIL);
	run_host_until(w, b, c + S(6) - MS(1));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_FAIL);
	run_host_until(w, b, c + S(6));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_DEAD);
	/* Dead to b at least K + M after a's lease expired. */
	assert_true(w->sim.now_us - expired_global >= S(2));
	world_free(w);
}

/* At T = 250 ms: renewals every R = 250 ms, each changing the timestamp
 * (milliseconds), the record marked FLK2 with T in milliseconds, a stall
 * shorter than F - 2T changes nothing, a longer one expires the lease at
 * F = 1 s and observers see FAIL at F and DEAD at D = 1.5 s. */
static void a_quarter_second_T_renews_every_R_and_observers_use_it(void **state)
{
	(void)state;
	host_t_ms = 250;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 2, "host-b");
	host_t_ms = 1000;
	format(w, a);
	acquire(w, a);
	acquire(w, b);
	unsigned before = a->count[LS_EV_RENEW_OK];
	run_for(w, S(10));
	unsigned renewals = a->count[LS_EV_RENEW_OK] - before;
	assert_true(renewals >= 38);
	assert_true(renewals <= 41);
	assert_int_equal(a->count[LS_EV_EXPIRED], 0);
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	struct fl_leader l;
	fl_leader_decode_raw(sector_of(w, 1), &l);
	assert_true(fl_mark_valid(&l));
	assert_true(l.unused1 >> 32 == FL_MARK2_MAGIC);
	assert_int_equal(l.unused2, 250);
	assert_int_equal(l.io_timeout, 1);
	assert_int_equal(fl_leader_io_timeout_ms(&l), 250);
	/* A stall of F - 2T = 500 ms: nothing expires. */
	fl_simbdev_faults(a->sb)->stalled = true;
	run_for(w, MS(500));
	fl_simbdev_unstall(a->sb);
	run_for(w, S(2));
	assert_int_equal(a->count[LS_EV_EXPIRED], 0);
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	/* A stall longer than F. */
	fl_simbdev_faults(a->sb)->stalled = true;
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(3)));
	assert_true(ls_valid_until_us(a->ls) - ls_last_good_renewal_us(a->ls) == S(1));
	uint64_t c = ls_host(b->ls, 1)->changed_us;
	run_host_until(w, b, c + S(1) - MS(1));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	run_host_until(w, b, c + S(1));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_FAIL);
	run_host_until(w, b, c + MS(1500) - MS(1));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_FAIL);
	run_host_until(w, b, c + MS(1500));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_DEAD);
	world_free(w);
}

static void short_io_errors_fail_renewals_without_expiring_the_lease(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	run_for(w, S(3));
	fl_simbdev_faults(a->sb)->error_permille = 1000;
	run_for(w, S(2));
	assert_true(a->count[LS_EV_RENEW_FAILED] >= 1);
	fl_simbdev_faults(a->sb)->error_permille = 0;
	run_for(w, S(10));
	assert_int_equal(a->count[LS_EV_EXPIRED], 0);
	assert_int_equal(ls_state(a->ls), LS_HELD);
	assert_true(fl_now_us(&a->clock.base) < ls_valid_until_us(a->ls));
	world_free(w);
}

static void an_observer_with_a_fast_clock_still_declares_dead_only_after_the_holder_expired(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 2, "host-b");
	fl_simclock_set_drift(&a->clock, -50000);  /* the holder's clock runs 5% slow */
	fl_simclock_set_drift(&b->clock, 200000);  /* the observer's 20% fast */
	format(w, a);
	acquire(w, a);
	acquire(w, b);
	run_for(w, S(5));
	fl_simbdev_faults(a->sb)->stalled = true;
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(10)));
	uint64_t expired_global = w->sim.now_us;
	while (ls_host_state(b->ls, 1) != LS_HOST_DEAD)
		assert_true(fl_sim_step(&w->sim));
	/* M = T absorbs the drift: DEAD comes after the holder's expiry. */
	assert_true(w->sim.now_us > expired_global);
	world_free(w);
}

static void a_device_offline_longer_than_F_expires_the_lease(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	run_for(w, S(2));
	fl_simbdev_faults(a->sb)->offline = true;
	assert_true(run_until_event(w, a, LS_EV_EXPIRED, 0, S(10)));
	assert_true(a->count[LS_EV_RENEW_FAILED] >= 2);
	assert_true(fl_now_us(&a->clock.base) >= ls_valid_until_us(a->ls));
	world_free(w);
}

static void torn_writes_show_as_errors_to_observers_and_are_repaired_by_the_next_renewal(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 2, "host-b");
	format(w, a);
	acquire(w, a);
	acquire(w, b);
	run_for(w, S(3));
	fl_simbdev_faults(a->sb)->torn_permille = 1000;
	assert_true(run_until_event(w, a, LS_EV_RENEW_FAILED, 0, S(3)));
	struct fl_leader l;
	if (ls_record_check(sector_of(w, 1), "LS", 512, &l) != 0) {
		run_for(w, S(1)); /* b's next renewal reads the torn record */
		if (ls_record_check(sector_of(w, 1), "LS", 512, &l) != 0)
			assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_ERROR);
	}
	assert_int_not_equal(ls_host_state(b->ls, 1), LS_HOST_FREE);
	fl_simbdev_faults(a->sb)->torn_permille = 0;
	run_for(w, S(3));
	assert_int_equal(ls_state(a->ls), LS_HELD);
	assert_int_equal(ls_record_check(sector_of(w, 1), "LS", 512, &l), 0);
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	world_free(w);
}

static void a_renewal_that_finds_our_record_overwritten_loses_the_lease(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	put_record(w, 1, "intruder", 7, 12345, true, 1);
	assert_true(run_until_event(w, a, LS_EV_LEASE_LOST, 0, S(3)));
	assert_int_equal(a->result[LS_EV_LEASE_LOST], -FL_ESTALE);
	assert_int_equal(ls_state(a->ls), LS_LOST);
	uint64_t writes = w->disk.writes_applied;
	run_for(w, S(5));
	assert_true(w->disk.writes_applied == writes); /* it stopped writing */
	world_free(w);
}

static void a_paused_holder_expires_on_resume_and_never_writes_over_the_new_owner(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *c = add_host(w, 1, "host-c");
	format(w, a);
	acquire(w, a);
	run_for(w, S(2));
	fl_simclock_pause(&a->clock); /* SIGSTOP: its clock runs on, its code does not */
	acquire(w, c);
	assert_true(ls_own_record(c->ls)->owner_generation == 2);
	uint8_t taken[512];
	memcpy(taken, sector_of(w, 1), sizeof(taken));
	unsigned ok = a->count[LS_EV_RENEW_OK];
	fl_simclock_resume(&a->clock);
	run_for(w, S(5));
	assert_int_equal(a->count[LS_EV_EXPIRED], 1);
	assert_int_equal(a->count[LS_EV_RENEW_OK], ok); /* no renewal after the lease lapsed */
	assert_int_equal(ls_state(a->ls), LS_EXPIRED);
	struct fl_leader l;
	assert_int_equal(ls_record_check(sector_of(w, 1), "LS", 512, &l), 0);
	assert_true(l.owner_generation == 2 && strcmp(l.resource_name, "host-c") == 0);
	assert_int_equal(ls_state(c->ls), LS_HELD);
	assert_int_equal(c->count[LS_EV_LEASE_LOST], 0);
	assert_memory_not_equal(taken, sector_of(w, 1), sizeof(taken)); /* c kept renewing */
	world_free(w);
}

/* ---- observation ---- */

static void a_reader_seeing_a_corrupt_record_reports_an_error_not_free(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *b = add_host(w, 2, "host-b");
	format(w, b);
	put_record(w, 3, "host-c", 1, 500, true, 1);
	sector_of(w, 3)[152] ^= 0x10; /* the timestamp: checksum now wrong */
	memset(sector_of(w, 4), 0, 512); /* an uninitialised sector */
	acquire(w, b);
	assert_int_equal(ls_host_state(b->ls, 3), LS_HOST_ERROR);
	assert_int_equal(ls_host(b->ls, 3)->error, -FL_ECHECKSUM);
	assert_int_equal(ls_host_state(b->ls, 4), LS_HOST_ERROR);
	assert_int_equal(ls_host(b->ls, 4)->error, -FL_EMAGIC);
	assert_int_equal(ls_host_state(b->ls, 5), LS_HOST_FREE);
	world_free(w);
}

static void a_new_host_is_unknown_then_live_once_its_timestamp_changes(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 2, "host-b");
	format(w, a);
	acquire(w, a);
	assert_int_equal(ls_acquire(b->ls), 0);
	assert_true(run_until_event(w, b, LS_EV_ACQUIRED, 0, S(5)));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_UNKNOWN);
	run_for(w, S(2));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	world_free(w);
}

static void a_sanlock_record_is_judged_dead_only_after_8N_plus_60(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *b = add_host(w, 2, "host-b");
	format(w, b);
	put_record(w, 5, "sanlock-host", 1, 500, false, 1);
	acquire(w, b);
	put_record(w, 5, "sanlock-host", 1, 501, false, 1); /* one sanlock renewal */
	run_for(w, S(2));
	assert_int_equal(ls_host_state(b->ls, 5), LS_HOST_LIVE);
	assert_false(ls_host(b->ls, 5)->marked);
	uint64_t c = ls_host(b->ls, 5)->changed_us;
	run_host_until(w, b, c + S(8) - MS(1));
	assert_int_equal(ls_host_state(b->ls, 5), LS_HOST_LIVE);
	run_host_until(w, b, c + S(8));
	assert_int_equal(ls_host_state(b->ls, 5), LS_HOST_FAIL);
	run_host_until(w, b, c + S(67));
	assert_int_equal(ls_host_state(b->ls, 5), LS_HOST_FAIL); /* a fencelock host would be DEAD at 6 s */
	run_host_until(w, b, c + S(68));
	assert_int_equal(ls_host_state(b->ls, 5), LS_HOST_DEAD);
	world_free(w);
}

static void release_makes_the_host_free_to_observers(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	struct host *b = add_host(w, 2, "host-b");
	format(w, a);
	acquire(w, a);
	acquire(w, b);
	run_for(w, S(3));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_LIVE);
	assert_int_equal(ls_release(a->ls), 0);
	assert_true(run_until_event(w, a, LS_EV_RELEASED, 0, S(5)));
	assert_int_equal(a->result[LS_EV_RELEASED], 0);
	run_for(w, S(2));
	assert_int_equal(ls_host_state(b->ls, 1), LS_HOST_FREE);
	world_free(w);
}

/* ---- what a renewal costs ---- */

static void measure(unsigned in_use, uint64_t *read_bytes, uint64_t *written_bytes)
{
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	for (unsigned id = 2; id <= in_use; id++)
		put_record(w, id, "peer", 1, 100 + id, true, 1);
	acquire(w, a);
	run_for(w, S(2)); /* past the first renewal */
	assert_true(run_until_event(w, a, LS_EV_RENEW_OK, a->count[LS_EV_RENEW_OK], S(2)));
	struct fl_bdev *d = fl_simbdev_bdev(a->sb);
	struct fl_bdev_stats s0 = d->stats; /* between two renewals */
	unsigned ok = a->count[LS_EV_RENEW_OK];
	assert_true(run_until_event(w, a, LS_EV_RENEW_OK, ok, S(2)));
	*read_bytes = d->stats.bytes_read - s0.bytes_read;
	*written_bytes = d->stats.bytes_written - s0.bytes_written;
	assert_int_equal(d->stats.reads - s0.reads, 1);
	assert_int_equal(d->stats.writes - s0.writes, 1);
	world_free(w);
}

static void a_renewal_reads_only_the_part_of_the_lockspace_in_use(void **state)
{
	(void)state;
	static const unsigned counts[] = {4, 64, 2000};
	static const uint64_t want[] = {4096, 32768, 1024000};
	for (unsigned i = 0; i < 3; i++) {
		uint64_t r, wr;
		measure(counts[i], &r, &wr);
		printf("renewal with %4u hosts in use (512-byte sectors): read %7llu bytes, wrote %llu bytes "
		       "(sanlock reads 1048576)\n", counts[i], (unsigned long long)r, (unsigned long long)wr);
		assert_true(r == want[i]);
		assert_true(wr == 512);
	}
}

static void a_host_that_joins_above_the_read_range_is_found_by_the_slow_full_scan(void **state)
{
	(void)state;
	struct world *w = world_new(512, 1u << 20);
	struct host *a = add_host(w, 1, "host-a");
	format(w, a);
	acquire(w, a);
	assert_int_equal(ls_renew_read_hosts(a->ls), 8);
	put_record(w, 1500, "far", 1, 100, true, 1);
	run_for(w, S(5));
	assert_int_equal(ls_host_state(a->ls, 1500), LS_HOST_FREE); /* not read yet */
	run_for(w, S(LS_FULL_SCAN_EVERY_DEFAULT));
	assert_int_not_equal(ls_host_state(a->ls, 1500), LS_HOST_FREE);
	assert_int_equal(ls_renew_read_hosts(a->ls), 1504);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_makes_the_whole_lockspace_appear_in_its_last_write),
		cmocka_unit_test(format_with_4k_sectors_and_8m_align_holds_2000_hosts),
		cmocka_unit_test(format_refuses_a_device_too_small_for_the_area),
		cmocka_unit_test(two_hosts_racing_for_one_id_exactly_one_wins),
		cmocka_unit_test(acquiring_an_id_another_host_renews_fails_busy_after_the_large_wait),
		cmocka_unit_test(an_id_whose_holder_died_is_taken_after_the_large_wait_with_a_new_generation),
		cmocka_unit_test(fast_reacquire_of_our_own_record_skips_the_large_wait),
		cmocka_unit_test(reacquire_after_release_bumps_the_generation),
		cmocka_unit_test(a_corrupt_record_is_never_acquired_as_free),
		cmocka_unit_test(in_repair_mode_a_corrupt_own_record_is_watched_before_anything_is_written),
		cmocka_unit_test(a_corrupt_own_record_unchanged_for_the_dead_time_is_replaced_with_a_higher_generation),
		cmocka_unit_test(a_corrupt_record_that_changes_while_watched_is_busy),
		cmocka_unit_test(a_random_generation_in_a_corrupt_own_record_is_not_believed),
		cmocka_unit_test(a_generation_at_the_plausibility_bound_is_refused_and_just_below_it_taken),
		cmocka_unit_test(random_bytes_over_a_held_record_continue_from_our_own_generation),
		cmocka_unit_test(a_wiped_own_record_voids_the_lease_at_once_and_is_taken_again_higher),
		cmocka_unit_test(a_reformatted_lockspace_under_a_holder_is_taken_again_above_its_generation),
		cmocka_unit_test(a_record_of_another_lockspace_is_foreign),
		cmocka_unit_test(renewal_under_latency_below_T_keeps_the_lease_valid),
		cmocka_unit_test(renewals_write_strictly_increasing_timestamps_a_second_apart),
		cmocka_unit_test(a_stall_longer_than_F_expires_the_lease_and_observers_see_fail_then_dead),
		cmocka_unit_test(a_quarter_second_T_renews_every_R_and_observers_use_it),
		cmocka_unit_test(short_io_errors_fail_renewals_without_expiring_the_lease),
		cmocka_unit_test(an_observer_with_a_fast_clock_still_declares_dead_only_after_the_holder_expired),
		cmocka_unit_test(a_device_offline_longer_than_F_expires_the_lease),
		cmocka_unit_test(torn_writes_show_as_errors_to_observers_and_are_repaired_by_the_next_renewal),
		cmocka_unit_test(a_renewal_that_finds_our_record_overwritten_loses_the_lease),
		cmocka_unit_test(a_paused_holder_expires_on_resume_and_never_writes_over_the_new_owner),
		cmocka_unit_test(a_reader_seeing_a_corrupt_record_reports_an_error_not_free),
		cmocka_unit_test(a_new_host_is_unknown_then_live_once_its_timestamp_changes),
		cmocka_unit_test(a_sanlock_record_is_judged_dead_only_after_8N_plus_60),
		cmocka_unit_test(release_makes_the_host_free_to_observers),
		cmocka_unit_test(a_renewal_reads_only_the_part_of_the_lockspace_in_use),
		cmocka_unit_test(a_host_that_joins_above_the_read_range_is_found_by_the_slow_full_scan),
	};
	return cmocka_run_group_tests_name("lockspace", tests, NULL, NULL);
}
