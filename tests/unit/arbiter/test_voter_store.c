/* Unit tests of the disk voter's log store (plugin/arbiter/voter_store.c) on the
 * simulated shared disk: round trips of every request, a reload by another
 * host (the witness moving), what `fencelock direct format` leaves, crashes
 * and torn writes at every step of a random workload over many seeds checked
 * against a reference model, corruption refused, the ring filling up and
 * compaction, stalls, device errors and timeouts, and a raft_node on top. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/assert.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/layout.h"
#include "fencelock/error.h"
#include "plugin/arbiter/voter_store.h"
#include "raft/logstore.h"
#include "raft/node.h"

#define DISK_BYTES (1ull << 20)
#define AREA_OFF 4096ull
#define AREA_BYTES (256ull << 10)
#define SMALL_AREA_BYTES (32ull * 512)
#define RUN_STEPS_MAX 200000u

struct world {
	struct fl_sim sim;
	struct fl_simclock clock;
	struct fl_simdisk disk;
	struct fl_simbdev *sb;
	struct raft_logstore *store;
	uint64_t area_bytes;
	uint64_t host_seed;
};

static struct world W;

static void quiet_sink(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static struct fl_bdev *bdev(struct world *w) { return fl_simbdev_bdev(w->sb); }

static void world_open_store(struct world *w, uint32_t queue_max)
{
	char err[256];
	struct voter_store_opts o = {.queue_max = queue_max, .io_timeout_us = 2 * FL_US_PER_S};
	assert_int_equal(voter_store_open(&w->clock.base, bdev(w), AREA_OFF, w->area_bytes, &o, &w->store, err,
					  sizeof(err)), 0);
}

static void world_init_ss(struct world *w, uint64_t seed, uint64_t disk_bytes, uint64_t area_bytes, uint32_t ss)
{
	memset(w, 0, sizeof(*w));
	fl_log_set_sink(quiet_sink, NULL);
	assert_int_equal(fl_sim_init(&w->sim, seed), 0);
	assert_int_equal(fl_simclock_init(&w->clock, &w->sim, 0, 0), 0);
	assert_int_equal(fl_simdisk_init(&w->disk, &w->sim, disk_bytes, ss), 0);
	w->host_seed = seed * 1000 + 1;
	w->sb = fl_simbdev_new(&w->disk, &w->clock.base, "sim-san", w->host_seed);
	assert_non_null(w->sb);
	w->area_bytes = area_bytes;
}

static void world_init(struct world *w, uint64_t seed, uint64_t disk_bytes, uint64_t area_bytes)
{
	world_init_ss(w, seed, disk_bytes, area_bytes, 512);
}

static int setup(void **state)
{
	world_init(&W, 7, DISK_BYTES, AREA_BYTES);
	world_open_store(&W, 0);
	*state = &W;
	return 0;
}

static int setup_small(void **state)
{
	world_init(&W, 7, DISK_BYTES, SMALL_AREA_BYTES);
	world_open_store(&W, 0);
	*state = &W;
	return 0;
}

static void world_free(struct world *w)
{
	raft_logstore_close(w->store);
	w->store = NULL;
	fl_bdev_close(bdev(w));
	fl_simdisk_free(&w->disk);
	fl_simclock_free(&w->clock);
	fl_sim_free(&w->sim);
}

static int teardown(void **state)
{
	world_free(*state);
	return 0;
}

/* ---- synchronous request helpers ---- */

struct waiter {
	struct raft_log_req req;
	bool done;
	int result;
	int order;
};

static int completions;

static void on_done(struct raft_log_req *req, int result)
{
	struct waiter *wt = (struct waiter *)req;
	assert_false(wt->done);
	wt->done = true;
	wt->result = result;
	wt->order = completions++;
}

static void run_until_done(struct world *w, struct waiter *wt)
{
	for (uint32_t i = 0; i < RUN_STEPS_MAX && !wt->done; i++)
		assert_true(fl_sim_step(&w->sim));
	assert_true(wt->done);
}

static int submit(struct world *w, struct waiter *wt)
{
	wt->done = false;
	wt->req.cb = on_done;
	return raft_logstore_submit(w->store, &wt->req);
}

static int do_req(struct world *w, struct waiter *wt)
{
	int rv = submit(w, wt);
	if (rv != 0)
		return rv;
	run_until_done(w, wt);
	return wt->result;
}

static int do_load(struct world *w, struct raft_log_loaded *out)
{
	struct waiter wt = {.req = {.op = RAFT_LOG_LOAD, .load = {out}}};
	return do_req(w, &wt);
}

static int do_hard(struct world *w, uint64_t term, uint64_t vote)
{
	struct waiter wt = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {term, vote}}};
	return do_req(w, &wt);
}

static int do_truncate(struct world *w, uint64_t from)
{
	struct waiter wt = {.req = {.op = RAFT_LOG_TRUNCATE, .truncate = {from}}};
	return do_req(w, &wt);
}

static int do_append(struct world *w, const struct raft_entry *e, uint32_t n)
{
	struct waiter wt = {.req = {.op = RAFT_LOG_APPEND, .append = {e, n}}};
	return do_req(w, &wt);
}

static int do_snapshot(struct world *w, const struct raft_log_snapshot *s, uint64_t trailing)
{
	struct waiter wt = {.req = {.op = RAFT_LOG_SNAPSHOT, .snapshot = {s, trailing}}};
	return do_req(w, &wt);
}

/* One entry whose data is derived from (index, term): len bytes. */
static void fill_entry(struct raft_entry *e, uint8_t *buf, uint64_t index, uint64_t term, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(index * 31 + term * 7 + i);
	*e = (struct raft_entry){.term = term, .index = index, .type = RAFT_ENTRY_NORMAL, .len = len, .data = buf};
}

static int append_range(struct world *w, uint64_t first, uint32_t n, uint64_t term, uint32_t len)
{
	struct raft_entry e[16];
	static uint8_t bufs[16][512];
	assert_true(n <= 16 && len <= 512);
	for (uint32_t i = 0; i < n; i++)
		fill_entry(&e[i], bufs[i], first + i, term, len);
	return do_append(w, e, n);
}

static void assert_entry(const struct raft_entry *e, uint64_t index, uint64_t term, uint32_t len)
{
	uint8_t buf[512];
	struct raft_entry want;
	fill_entry(&want, buf, index, term, len);
	assert_int_equal(e->index, index);
	assert_int_equal(e->term, term);
	assert_int_equal(e->len, len);
	assert_int_equal(e->type, RAFT_ENTRY_NORMAL);
	if (len > 0)
		assert_memory_equal(e->data, buf, len);
}

/* Another host takes the witness: the old handle and store go away, a new
 * handle with its own seed opens the same area and loads it. */
static int world_move(struct world *w, struct raft_log_loaded *out)
{
	raft_logstore_close(w->store);
	w->store = NULL;
	fl_bdev_close(bdev(w));
	w->sb = fl_simbdev_new(&w->disk, &w->clock.base, "sim-san-next-host", ++w->host_seed);
	assert_non_null(w->sb);
	world_open_store(w, 0);
	return do_load(w, out);
}

static void load_fresh(struct world *w)
{
	struct raft_log_loaded l;
	assert_int_equal(do_load(w, &l), 0);
	raft_log_loaded_free(&l);
}

static void make_snapshot(struct raft_log_snapshot *s, uint8_t *cfg, uint8_t *data, uint64_t index, uint64_t term,
			  uint64_t data_len);

/* ---- empty areas ---- */

static void a_never_written_area_loads_as_an_empty_voter(void **state)
{
	struct world *w = *state;
	struct raft_log_loaded l;
	assert_int_equal(do_load(w, &l), 0);
	assert_int_equal(l.hard.term, 0);
	assert_int_equal(l.hard.vote, 0);
	assert_false(l.have_snapshot);
	assert_int_equal(l.n_entries, 0);
	raft_log_loaded_free(&l);
}

static void layout_world(struct world *w, struct lay_layout *lay)
{
	char err[256];
	struct lay_params p = {.cluster = "c1", .io_timeout_ms = 1000, .max_hosts = 2, .volume_slots = 1,
			       .sector_size = 512};
	assert_int_equal(lay_compute(&p, lay, err, sizeof(err)), 0);
	world_init(w, 3, lay->total_bytes, lay->voter_bytes);
	assert_int_equal(lay_format_sync(bdev(w), lay, false, err, sizeof(err)), 0);
}

static void layout_open(struct world *w, const struct lay_layout *lay)
{
	char err[256];
	assert_int_equal(voter_store_open(&w->clock.base, bdev(w), lay->voter_offset, lay->voter_bytes, NULL,
					  &w->store, err, sizeof(err)), 0);
}

static void what_lay_format_sync_writes_loads_as_an_empty_voter_that_accepts_writes(void **state)
{
	(void)state;
	struct world w;
	struct lay_layout lay;
	layout_world(&w, &lay);
	layout_open(&w, &lay);
	struct raft_log_loaded l;
	assert_int_equal(do_load(&w, &l), 0);
	assert_int_equal(l.hard.term, 0);
	assert_int_equal(l.n_entries, 0);
	assert_false(l.have_snapshot);
	raft_log_loaded_free(&l);
	assert_int_equal(do_hard(&w, 4, 2), 0);
	assert_int_equal(append_range(&w, 1, 3, 4, 10), 0);
	raft_logstore_close(w.store);
	layout_open(&w, &lay);
	assert_int_equal(do_load(&w, &l), 0);
	assert_int_equal(l.hard.term, 4);
	assert_int_equal(l.n_entries, 3);
	raft_log_loaded_free(&l);
	world_free(&w);
}

static void a_new_lay_format_sync_leaves_nothing_of_the_previous_voter(void **state)
{
	(void)state;
	struct world w;
	struct lay_layout lay;
	char err[256];
	layout_world(&w, &lay);
	layout_open(&w, &lay);
	load_fresh(&w);
	assert_int_equal(do_hard(&w, 8, 1), 0); /* seq 1, in slot 1 */
	raft_logstore_close(w.store);
	assert_int_equal(lay_format_sync(bdev(&w), &lay, true, err, sizeof(err)), 0);
	layout_open(&w, &lay);
	struct raft_log_loaded l;
	assert_int_equal(do_load(&w, &l), 0);
	assert_int_equal(l.hard.term, 0);
	raft_log_loaded_free(&l);
	world_free(&w);
}

static void a_snapshot_larger_than_one_io_is_written_and_read_in_chunks(void **state)
{
	(void)state;
	struct world w;
	struct lay_layout lay;
	struct voter_store_stats st;
	static uint8_t cfg[12], data[3u << 19]; /* 1.5 MiB */
	struct raft_log_snapshot s;
	layout_world(&w, &lay);
	layout_open(&w, &lay);
	load_fresh(&w);
	assert_int_equal(append_range(&w, 1, 4, 1, 10), 0);
	make_snapshot(&s, cfg, data, 3, 1, sizeof(data));
	assert_int_equal(do_snapshot(&w, &s, 0), 0);
	voter_store_get_stats(w.store, &st);
	assert_int_equal(st.writes, 2 + 2 + 1); /* append, two snapshot chunks, metadata */
	raft_logstore_close(w.store);
	layout_open(&w, &lay);
	struct raft_log_loaded l;
	assert_int_equal(do_load(&w, &l), 0);
	voter_store_get_stats(w.store, &st);
	assert_int_equal(st.reads, 1 + 2 + 4); /* slots, snapshot, the 4 MiB ring */
	assert_true(l.have_snapshot);
	assert_int_equal(l.snapshot.data_len, sizeof(data));
	assert_memory_equal(l.snapshot.data, data, sizeof(data));
	assert_int_equal(l.n_entries, 1);
	raft_log_loaded_free(&l);
	world_free(&w);
}

static void a_read_error_during_the_load_fails_the_store(void **state)
{
	struct world *w = *state;
	struct raft_log_loaded l;
	fl_simbdev_faults(w->sb)->error_permille = 1000;
	assert_int_equal(do_load(w, &l), -FL_EIO);
	assert_int_equal(l.n_entries, 0);
	raft_log_loaded_free(&l);
	assert_int_equal(do_hard(w, 1, 1), -FL_EIO);
}

static void format_sync_resets_a_used_area_to_an_empty_voter(void **state)
{
	struct world *w = *state;
	char err[256];
	load_fresh(w);
	assert_int_equal(do_hard(w, 9, 1), 0);
	assert_int_equal(append_range(w, 1, 5, 9, 20), 0);
	assert_int_equal(voter_store_format_sync(bdev(w), AREA_OFF, AREA_BYTES, err, sizeof(err)), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 0);
	assert_int_equal(l.n_entries, 0);
	raft_log_loaded_free(&l);
}

static void an_area_that_is_too_small_or_misaligned_is_refused_at_open(void **state)
{
	struct world *w = *state;
	struct raft_logstore *s = NULL;
	char err[256] = "";
	assert_int_equal(voter_store_open(&w->clock.base, bdev(w), AREA_OFF, 16 * 512, NULL, &s, err, sizeof(err)),
			 -FL_ETOOSMALL);
	assert_non_null(strstr(err, "sim-san"));
	assert_int_equal(voter_store_open(&w->clock.base, bdev(w), AREA_OFF + 100, AREA_BYTES, NULL, &s, err,
					  sizeof(err)), -FL_EALIGN);
	assert_int_equal(voter_store_open(&w->clock.base, bdev(w), DISK_BYTES - 4096, AREA_BYTES, NULL, &s, err,
					  sizeof(err)), -FL_ETOOSMALL);
}

/* ---- round trips ---- */

static void hard_state_survives_a_move_to_another_host(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(do_hard(w, 3, 2), 0);
	assert_int_equal(do_hard(w, 5, 0), 0);
	assert_int_equal(do_hard(w, 5, 3), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 5);
	assert_int_equal(l.hard.vote, 3);
	raft_log_loaded_free(&l);
}

static void an_unchanged_hard_state_completes_without_io(void **state)
{
	struct world *w = *state;
	struct voter_store_stats st;
	load_fresh(w);
	assert_int_equal(do_hard(w, 2, 1), 0);
	voter_store_get_stats(w->store, &st);
	uint64_t writes = st.writes;
	assert_int_equal(do_hard(w, 2, 1), 0);
	voter_store_get_stats(w->store, &st);
	assert_int_equal(st.writes, writes);
	assert_int_equal(st.noops, 1);
}

static void appended_entries_of_every_size_survive_a_move(void **state)
{
	struct world *w = *state;
	static uint8_t big[3000];
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 4, 1, 0), 0);
	assert_int_equal(append_range(w, 5, 16, 1, 100), 0);
	memset(big, 0x5C, sizeof(big));
	struct raft_entry e = {.term = 2, .index = 21, .type = RAFT_ENTRY_CONFIG, .len = sizeof(big), .data = big};
	assert_int_equal(do_append(w, &e, 1), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 21);
	for (uint64_t i = 0; i < 4; i++)
		assert_entry(&l.entries[i], i + 1, 1, 0);
	for (uint64_t i = 4; i < 20; i++)
		assert_entry(&l.entries[i], i + 1, 1, 100);
	assert_int_equal(l.entries[20].type, RAFT_ENTRY_CONFIG);
	assert_int_equal(l.entries[20].len, sizeof(big));
	assert_memory_equal(l.entries[20].data, big, sizeof(big));
	raft_log_loaded_free(&l);
}

static void an_append_of_one_small_entry_writes_two_sectors(void **state)
{
	struct world *w = *state;
	struct voter_store_stats a, b;
	load_fresh(w);
	assert_int_equal(do_hard(w, 1, 1), 0);
	assert_int_equal(append_range(w, 1, 1, 1, 64), 0);
	voter_store_get_stats(w->store, &a);
	for (uint64_t i = 2; i <= 101; i++) {
		/* What the raft_node driver submits per persist part. */
		assert_int_equal(do_hard(w, 1, 1), 0);
		assert_int_equal(append_range(w, i, 1, 1, 64), 0);
	}
	voter_store_get_stats(w->store, &b);
	uint64_t writes = b.writes - a.writes, bytes = b.bytes_written - a.bytes_written;
	print_message("per append of one 64-byte entry: %.2f writes, %.1f bytes (512-byte sectors)\n",
		      (double)writes / 100.0, (double)bytes / 100.0);
	/* One entry sector and one metadata sector; the unchanged hard state is free. */
	assert_int_equal(writes, 200);
	assert_int_equal(bytes, 200 * 512);
}

static void truncate_removes_the_suffix_and_the_space_is_reused(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 10, 1, 30), 0);
	assert_int_equal(do_truncate(w, 6), 0);
	assert_int_equal(do_truncate(w, 50), 0); /* beyond the end: nothing */
	assert_int_equal(append_range(w, 6, 2, 2, 40), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 7);
	for (uint64_t i = 0; i < 5; i++)
		assert_entry(&l.entries[i], i + 1, 1, 30);
	assert_entry(&l.entries[5], 6, 2, 40);
	assert_entry(&l.entries[6], 7, 2, 40);
	raft_log_loaded_free(&l);
}

static void truncating_from_the_first_entry_empties_the_log(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 4, 1, 8), 0);
	assert_int_equal(do_truncate(w, 1), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 0);
	raft_log_loaded_free(&l);
	assert_int_equal(append_range(w, 1, 2, 3, 8), 0);
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 2);
	assert_entry(&l.entries[1], 2, 3, 8);
	raft_log_loaded_free(&l);
}

static void an_append_below_the_last_index_replaces_the_suffix(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 8, 1, 16), 0);
	assert_int_equal(append_range(w, 4, 2, 2, 16), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 5);
	assert_entry(&l.entries[2], 3, 1, 16);
	assert_entry(&l.entries[3], 4, 2, 16);
	assert_entry(&l.entries[4], 5, 2, 16);
	raft_log_loaded_free(&l);
}

static void an_append_that_leaves_a_gap_is_refused_at_submit(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 3, 1, 8), 0);
	assert_int_equal(append_range(w, 5, 1, 1, 8), -FL_EINVAL);
	assert_int_equal(w->store->failed, 0);
	assert_int_equal(append_range(w, 4, 1, 1, 8), 0);
}

static void requests_before_the_load_completed_are_refused(void **state)
{
	struct world *w = *state;
	struct waiter wt = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}}};
	assert_int_equal(submit(w, &wt), -FL_EINVAL);
	struct raft_log_loaded l;
	struct waiter ld = {.req = {.op = RAFT_LOG_LOAD, .load = {&l}}};
	assert_int_equal(submit(w, &ld), 0);
	assert_int_equal(submit(w, &wt), -FL_EINVAL);
	run_until_done(w, &ld);
	assert_int_equal(ld.result, 0);
	raft_log_loaded_free(&l);
	assert_int_equal(do_req(w, &wt), 0);
	struct waiter again = {.req = {.op = RAFT_LOG_LOAD, .load = {&l}}};
	assert_int_equal(submit(w, &again), -FL_EINVAL);
}

static void pipelined_requests_complete_in_submission_order_and_never_inside_submit(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	struct raft_entry e[3];
	uint8_t b[3][8];
	for (int i = 0; i < 3; i++)
		fill_entry(&e[i], b[i], (uint64_t)i + 1, 1, 8);
	struct waiter wt[5] = {
		{.req = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}}},
		{.req = {.op = RAFT_LOG_APPEND, .append = {e, 3}}},
		{.req = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}}}, /* no I/O, still in order */
		{.req = {.op = RAFT_LOG_TRUNCATE, .truncate = {3}}},
		{.req = {.op = RAFT_LOG_SET_HARD, .hard = {2, 0}}},
	};
	completions = 0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(submit(w, &wt[i]), 0);
		assert_false(wt[i].done);
	}
	memset(b, 0xEE, sizeof(b)); /* inputs may be reused at once */
	run_until_done(w, &wt[4]);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(wt[i].result, 0);
		assert_int_equal(wt[i].order, i);
	}
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 2);
	assert_int_equal(l.n_entries, 2);
	assert_entry(&l.entries[1], 2, 1, 8);
	raft_log_loaded_free(&l);
}

static void a_full_queue_refuses_the_next_request(void **state)
{
	struct world *w = *state;
	raft_logstore_close(w->store);
	world_open_store(w, 2);
	load_fresh(w);
	struct waiter wt[3] = {
		{.req = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}}},
		{.req = {.op = RAFT_LOG_SET_HARD, .hard = {2, 1}}},
		{.req = {.op = RAFT_LOG_SET_HARD, .hard = {3, 1}}},
	};
	assert_int_equal(submit(w, &wt[0]), 0);
	assert_int_equal(submit(w, &wt[1]), 0);
	assert_int_equal(submit(w, &wt[2]), -FL_ENOSPC);
	run_until_done(w, &wt[1]);
	assert_int_equal(do_req(w, &wt[2]), 0);
}

/* ---- snapshots ---- */

static void make_snapshot(struct raft_log_snapshot *s, uint8_t *cfg, uint8_t *data, uint64_t index, uint64_t term,
			  uint64_t data_len)
{
	for (uint32_t i = 0; i < 12; i++)
		cfg[i] = (uint8_t)(0xC0 + i + index);
	for (uint64_t i = 0; i < data_len; i++)
		data[i] = (uint8_t)(index + i * 3);
	*s = (struct raft_log_snapshot){.index = index, .term = term, .config_len = 12, .config = cfg,
					.data_len = data_len, .data = data};
}

static void assert_snapshot(const struct raft_log_loaded *l, uint64_t index, uint64_t term, uint64_t data_len)
{
	static uint8_t cfg[12], data[1 << 16];
	struct raft_log_snapshot want;
	make_snapshot(&want, cfg, data, index, term, data_len);
	assert_true(l->have_snapshot);
	assert_int_equal(l->snapshot.index, index);
	assert_int_equal(l->snapshot.term, term);
	assert_int_equal(l->snapshot.config_len, 12);
	assert_memory_equal(l->snapshot.config, cfg, 12);
	assert_int_equal(l->snapshot.data_len, data_len);
	if (data_len > 0)
		assert_memory_equal(l->snapshot.data, data, data_len);
}

static void a_snapshot_survives_a_move_and_compacts_all_but_the_trailing_entries(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[5000];
	struct raft_log_snapshot s;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 10, 1, 50), 0);
	make_snapshot(&s, cfg, data, 8, 1, sizeof(data));
	assert_int_equal(do_snapshot(w, &s, 3), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_snapshot(&l, 8, 1, sizeof(data));
	assert_int_equal(l.n_entries, 5); /* 6..10: 6, 7, 8 trail the snapshot */
	assert_entry(&l.entries[0], 6, 1, 50);
	assert_entry(&l.entries[4], 10, 1, 50);
	raft_log_loaded_free(&l);
}

static void the_second_snapshot_goes_to_the_other_region_and_replaces_the_first(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[3000];
	struct raft_log_snapshot s;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(AREA_BYTES, 512, &g), 0);
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 10, 1, 20), 0);
	make_snapshot(&s, cfg, data, 4, 1, 1000);
	assert_int_equal(do_snapshot(w, &s, 0), 0);
	make_snapshot(&s, cfg, data, 9, 1, 3000);
	assert_int_equal(do_snapshot(w, &s, 0), 0);
	/* Region 0 still holds snapshot 4: the write-then-switch copy. */
	assert_int_equal(w->disk.data[AREA_OFF + g.snap_offset[0] + 8], 4);
	assert_int_equal(w->disk.data[AREA_OFF + g.snap_offset[1] + 8], 9);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_snapshot(&l, 9, 1, 3000);
	assert_int_equal(l.n_entries, 1);
	assert_entry(&l.entries[0], 10, 1, 20);
	raft_log_loaded_free(&l);
}

static void a_snapshot_beyond_the_log_drops_the_whole_log(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[100];
	struct raft_log_snapshot s;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 5, 1, 20), 0);
	make_snapshot(&s, cfg, data, 40, 3, 100);
	assert_int_equal(do_snapshot(w, &s, 10), 0);
	assert_int_equal(append_range(w, 42, 1, 3, 20), -FL_EINVAL); /* must continue at 41 */
	assert_int_equal(append_range(w, 41, 2, 3, 20), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_snapshot(&l, 40, 3, 100);
	assert_int_equal(l.n_entries, 2);
	assert_entry(&l.entries[0], 41, 3, 20);
	raft_log_loaded_free(&l);
}

static void a_snapshot_larger_than_its_region_is_refused_without_failing_the_store(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[1 << 16];
	struct raft_log_snapshot s;
	load_fresh(w);
	make_snapshot(&s, cfg, data, 3, 1, sizeof(data)); /* the region is 64 KiB, with the header it overflows */
	assert_int_equal(do_snapshot(w, &s, 0), -FL_ENOSPC);
	assert_int_equal(w->store->failed, 0);
	assert_non_null(strstr(voter_store_last_error(w->store), "snapshot"));
	assert_int_equal(do_hard(w, 1, 1), 0);
}

/* ---- the ring ---- */

static void a_full_ring_refuses_an_append_with_enospc_and_changes_nothing(void **state)
{
	struct world *w = *state;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(SMALL_AREA_BYTES, 512, &g), 0);
	uint64_t sectors = g.ring_bytes / 512;
	load_fresh(w);
	for (uint64_t i = 1; i <= sectors; i++)
		assert_int_equal(append_range(w, i, 1, 1, 100), 0);
	assert_int_equal(append_range(w, sectors + 1, 1, 1, 100), -FL_ENOSPC);
	assert_int_equal(w->store->failed, 0);
	assert_non_null(strstr(voter_store_last_error(w->store), "snapshot"));
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, sectors);
	raft_log_loaded_free(&l);
}

static void a_snapshot_frees_ring_space_for_later_appends(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[64];
	struct raft_log_snapshot s;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(SMALL_AREA_BYTES, 512, &g), 0);
	uint64_t sectors = g.ring_bytes / 512;
	load_fresh(w);
	for (uint64_t i = 1; i <= sectors; i++)
		assert_int_equal(append_range(w, i, 1, 1, 100), 0);
	make_snapshot(&s, cfg, data, sectors - 2, 1, 64);
	assert_int_equal(do_snapshot(w, &s, 0), 0);
	for (uint64_t i = sectors + 1; i <= sectors + 5; i++)
		assert_int_equal(append_range(w, i, 1, 1, 100), 0);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 7);
	assert_entry(&l.entries[0], sectors - 1, 1, 100);
	assert_entry(&l.entries[6], sectors + 5, 1, 100);
	raft_log_loaded_free(&l);
}

static void a_full_ring_first_drops_the_entries_the_snapshot_covers(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[64];
	struct raft_log_snapshot s;
	struct voter_store_stats st;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(SMALL_AREA_BYTES, 512, &g), 0);
	uint64_t sectors = g.ring_bytes / 512;
	load_fresh(w);
	for (uint64_t i = 1; i <= sectors; i++)
		assert_int_equal(append_range(w, i, 1, 1, 100), 0);
	make_snapshot(&s, cfg, data, 5, 1, 64);
	assert_int_equal(do_snapshot(w, &s, 5), 0); /* keeps 1..5 as trailing entries */
	assert_int_equal(append_range(w, sectors + 1, 1, 1, 100), 0);
	voter_store_get_stats(w->store, &st);
	assert_int_equal(st.ring_compactions, 1);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, sectors - 4);
	assert_entry(&l.entries[0], 6, 1, 100);
	raft_log_loaded_free(&l);
}

static void a_batch_larger_than_the_ring_is_refused(void **state)
{
	struct world *w = *state;
	static uint8_t big[8192];
	load_fresh(w);
	struct raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL, .len = sizeof(big), .data = big};
	assert_int_equal(do_append(w, &e, 1), -FL_ENOSPC);
	assert_int_equal(w->store->failed, 0);
}

/* ---- a reference model of the contract, for random workloads ---- */

#define M_MAX_ENTRIES 600u
#define M_MAX_DATA 300u
#define M_SNAP_MAX 1500u

struct m_entry {
	uint64_t index, term;
	uint8_t type;
	uint32_t len;
	uint8_t data[M_MAX_DATA];
};

struct model {
	struct raft_log_hard hard;
	bool have_snap;
	uint64_t si, st, dlen;
	uint8_t cfg[12], data[M_SNAP_MAX];
	uint32_t n;
	struct m_entry e[M_MAX_ENTRIES];
};

struct op {
	struct waiter wt;
	struct raft_entry ent[4];
	uint8_t ebuf[4][M_MAX_DATA];
	struct raft_log_snapshot snap;
	uint8_t cfg[12], sdata[M_SNAP_MAX];
};

static uint64_t m_first(const struct model *m) { return m->n > 0 ? m->e[0].index : 0; }
static uint64_t m_last(const struct model *m) { return m->n > 0 ? m->e[m->n - 1].index : 0; }

static void m_truncate(struct model *m, uint64_t from)
{
	if (m->n == 0 || from > m_last(m))
		return;
	m->n = from <= m_first(m) ? 0 : (uint32_t)(from - m_first(m));
}

static void m_drop_upto(struct model *m, uint64_t upto)
{
	if (m->n == 0 || upto < m_first(m))
		return;
	uint32_t k = (uint32_t)FL_MIN(upto - m_first(m) + 1, (uint64_t)m->n);
	memmove(m->e, m->e + k, (m->n - k) * sizeof(m->e[0]));
	m->n -= k;
}

static void m_apply(struct model *m, const struct op *o)
{
	const struct raft_log_req *r = &o->wt.req;
	switch (r->op) {
	case RAFT_LOG_APPEND:
		m_truncate(m, r->append.entries[0].index);
		for (uint32_t i = 0; i < r->append.n; i++) {
			const struct raft_entry *e = &r->append.entries[i];
			struct m_entry *d = &m->e[m->n++];
			assert_true(m->n <= M_MAX_ENTRIES);
			*d = (struct m_entry){.index = e->index, .term = e->term, .type = e->type, .len = e->len};
			memcpy(d->data, e->data, e->len);
		}
		break;
	case RAFT_LOG_TRUNCATE:
		m_truncate(m, r->truncate.from_index);
		break;
	case RAFT_LOG_SET_HARD:
		m->hard = r->hard;
		break;
	case RAFT_LOG_SNAPSHOT:
		m->have_snap = true;
		m->si = o->snap.index;
		m->st = o->snap.term;
		m->dlen = o->snap.data_len;
		memcpy(m->cfg, o->cfg, sizeof(m->cfg));
		memcpy(m->data, o->sdata, o->snap.data_len);
		if (m->n > 0 && m_last(m) < m->si)
			m->n = 0;
		else if (m->si > r->snapshot.trailing)
			m_drop_upto(m, m->si - r->snapshot.trailing);
		break;
	case RAFT_LOG_LOAD:
		break;
	}
}

/* Does l hold m? With compaction allowed, l may miss a prefix of entries
 * that m's snapshot covers (the ring dropped them to make room). */
static bool m_matches(const struct model *m, const struct raft_log_loaded *l, bool compaction)
{
	if (l->hard.term != m->hard.term || l->hard.vote != m->hard.vote || l->have_snapshot != m->have_snap)
		return false;
	if (m->have_snap && (l->snapshot.index != m->si || l->snapshot.term != m->st ||
			     l->snapshot.data_len != m->dlen || l->snapshot.config_len != 12 ||
			     memcmp(l->snapshot.config, m->cfg, 12) != 0 ||
			     (m->dlen > 0 && memcmp(l->snapshot.data, m->data, m->dlen) != 0)))
		return false;
	uint32_t skip = 0;
	if (compaction && l->n_entries < m->n) {
		skip = m->n - (uint32_t)l->n_entries;
		if (!m->have_snap || m->e[skip - 1].index > m->si)
			return false;
	}
	if (l->n_entries != m->n - skip)
		return false;
	for (uint32_t i = 0; i < l->n_entries; i++) {
		const struct m_entry *a = &m->e[i + skip];
		const struct raft_entry *b = &l->entries[i];
		if (a->index != b->index || a->term != b->term || a->type != b->type || a->len != b->len ||
		    (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
			return false;
	}
	return true;
}

/* A random request that is valid against m (the driver's contract). */
static void gen_op(struct fl_rand *r, const struct model *m, struct op *o, uint32_t max_len)
{
	uint64_t first = m_first(m), last = m_last(m);
	uint64_t next = m->n > 0 ? last + 1 : (m->have_snap ? m->si : 0) + 1;
	uint64_t low = FL_MAX(first, m->have_snap ? m->si + 1 : 1); /* never below the snapshot */
	uint64_t term = FL_MAX(m->hard.term, 1);
	uint64_t dice = fl_rand_below(r, 100);
	memset(&o->wt, 0, sizeof(o->wt));
	if (dice < 45) {
		uint32_t n = 1 + (uint32_t)fl_rand_below(r, 4);
		uint64_t s = next;
		if (m->n > 0 && low <= last && fl_rand_below(r, 6) == 0)
			s = fl_rand_range(r, low, last);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = (uint32_t)fl_rand_below(r, max_len + 1);
			for (uint32_t k = 0; k < len; k++)
				o->ebuf[i][k] = (uint8_t)fl_rand_next(r);
			o->ent[i] = (struct raft_entry){.term = term, .index = s + i,
							.type = (uint8_t)(1 + fl_rand_below(r, 3)), .len = len,
							.data = o->ebuf[i]};
		}
		o->wt.req = (struct raft_log_req){.op = RAFT_LOG_APPEND, .append = {o->ent, n}};
	} else if (dice < 65) {
		o->wt.req = (struct raft_log_req){.op = RAFT_LOG_SET_HARD,
						  .hard = {m->hard.term + fl_rand_below(r, 2), fl_rand_below(r, 4)}};
	} else if (dice < 75) {
		uint64_t from = m->n > 0 && low <= last + 1 ? fl_rand_range(r, low, last + 1) : next;
		o->wt.req = (struct raft_log_req){.op = RAFT_LOG_TRUNCATE, .truncate = {from}};
	} else {
		uint64_t idx = m->n > 0 && low <= last ? fl_rand_range(r, low, last) : next;
		if (fl_rand_below(r, 8) == 0)
			idx = next + fl_rand_below(r, 3); /* a snapshot from the leader, beyond the log */
		uint64_t dlen = fl_rand_below(r, M_SNAP_MAX + 1);
		for (uint32_t k = 0; k < 12; k++)
			o->cfg[k] = (uint8_t)fl_rand_next(r);
		for (uint64_t k = 0; k < dlen; k++)
			o->sdata[k] = (uint8_t)fl_rand_next(r);
		o->snap = (struct raft_log_snapshot){.index = idx, .term = term, .config_len = 12, .config = o->cfg,
						     .data_len = dlen, .data = o->sdata};
		o->wt.req = (struct raft_log_req){.op = RAFT_LOG_SNAPSHOT,
						  .snapshot = {&o->snap, fl_rand_below(r, 4)}};
	}
}

/* ---- many requests over the small ring: it wraps many times ---- */

static void the_ring_wraps_many_times_and_every_reload_matches_the_model(void **state)
{
	struct world *w = *state;
	static struct model m;
	static struct op o;
	struct fl_rand r;
	struct voter_store_stats st;
	memset(&m, 0, sizeof(m));
	fl_rand_seed(&r, 99);
	load_fresh(w);
	uint32_t refused = 0;
	uint64_t compactions = 0, ring_bytes = 0;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(SMALL_AREA_BYTES, 512, &g), 0);
	for (uint32_t i = 0; i < 1500; i++) {
		gen_op(&r, &m, &o, 120);
		if (o.wt.req.op == RAFT_LOG_SNAPSHOT && fl_rand_below(&r, 3) != 0)
			continue; /* fewer snapshots: the ring fills up now and then */
		if (o.wt.req.op == RAFT_LOG_SNAPSHOT && o.snap.data_len > 1000)
			o.snap.data_len = 1000; /* the small area's snapshot region is 4 KiB */
		int rv = do_req(w, &o.wt);
		voter_store_get_stats(w->store, &st);
		if (rv == -FL_ENOSPC) {
			refused++;
			continue; /* the driver would snapshot; nothing changed */
		}
		assert_int_equal(rv, 0);
		m_apply(&m, &o);
		if (i % 100 == 99) {
			struct raft_log_loaded l;
			compactions += st.ring_compactions;
			ring_bytes += st.append_bytes;
			assert_int_equal(world_move(w, &l), 0);
			assert_true(m_matches(&m, &l, true));
			raft_log_loaded_free(&l);
		}
	}
	print_message("1500 random requests on a 7 KiB ring: %" PRIu64 " laps, %u refused for space, %" PRIu64
		      " compactions\n", ring_bytes / g.ring_bytes, refused, compactions);
	/* The workload does exercise the full ring. */
	assert_true(ring_bytes / g.ring_bytes > 20 && compactions > 0 && refused > 0);
}

/* ---- random device faults: every failure is followed by a new holder ---- */

static void random_torn_writes_and_errors_never_lose_an_acknowledged_request(void **state)
{
	struct world *w = *state;
	static struct model m, applied;
	static struct op o;
	struct fl_rand r;
	uint32_t failures = 0, landed = 0;
	memset(&m, 0, sizeof(m));
	fl_rand_seed(&r, 4242);
	load_fresh(w);
	for (uint32_t i = 0; i < 3000; i++) {
		gen_op(&r, &m, &o, 120);
		if (o.wt.req.op == RAFT_LOG_SNAPSHOT && o.snap.data_len > 1000)
			o.snap.data_len = 1000;
		fl_simbdev_faults(w->sb)->torn_permille = 40;
		fl_simbdev_faults(w->sb)->error_permille = 20;
		int rv = do_req(w, &o.wt);
		if (rv == -FL_ENOSPC && w->store->failed == 0)
			continue;
		applied = m;
		m_apply(&applied, &o);
		if (rv == 0) {
			m = applied;
			continue;
		}
		assert_int_equal(rv, -FL_EIO);
		failures++;
		struct raft_log_loaded l;
		assert_int_equal(world_move(w, &l), 0);
		bool new_state = m_matches(&applied, &l, true);
		assert_true(new_state || m_matches(&m, &l, true));
		if (new_state) {
			m = applied;
			landed++;
		}
		raft_log_loaded_free(&l);
	}
	print_message("3000 requests: %u device failures, %u of the failed writes had landed\n", failures, landed);
	assert_true(failures > 20 && landed > 0 && landed < failures);
}

/* ---- crashes at every step ---- */

#define CRASH_SEEDS 60u
#define CRASH_OPS_MAX 4u

struct crash_run {
	struct model pre;       /* acknowledged before the crash phase */
	struct op ops[CRASH_OPS_MAX];
	uint32_t n_ops;
};

/* Builds the seed's state with acknowledged requests, then submits the
 * crash phase's requests pipelined. */
static void crash_prepare(struct world *w, uint64_t seed, struct crash_run *cr)
{
	struct fl_rand r;
	static struct op o;
	static struct model next;
	fl_rand_seed(&r, seed);
	memset(&cr->pre, 0, sizeof(cr->pre));
	load_fresh(w);
	uint32_t n_pre = 3 + (uint32_t)fl_rand_below(&r, 25);
	for (uint32_t i = 0; i < n_pre; i++) {
		gen_op(&r, &cr->pre, &o, M_MAX_DATA);
		assert_int_equal(do_req(w, &o.wt), 0);
		m_apply(&cr->pre, &o);
	}
	cr->n_ops = 1 + (uint32_t)fl_rand_below(&r, CRASH_OPS_MAX);
	next = cr->pre;
	for (uint32_t i = 0; i < cr->n_ops; i++) {
		gen_op(&r, &next, &cr->ops[i], M_MAX_DATA);
		m_apply(&next, &cr->ops[i]);
		assert_int_equal(submit(w, &cr->ops[i].wt), 0);
	}
}

/* After the crash: the load holds every acknowledged request and, of the
 * unacknowledged ones, a prefix. Returns the number acknowledged. */
static uint32_t crash_check(struct world *w, struct crash_run *cr)
{
	static struct model m;
	uint32_t acked = 0;
	while (acked < cr->n_ops && cr->ops[acked].wt.done) {
		assert_int_equal(cr->ops[acked].wt.result, 0);
		acked++;
	}
	for (uint32_t i = acked; i < cr->n_ops; i++)
		assert_false(cr->ops[i].wt.done); /* completions come in order */
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	m = cr->pre;
	bool found = false;
	for (uint32_t j = 0; j <= cr->n_ops && !found; j++) {
		if (j >= acked)
			found = m_matches(&m, &l, false);
		if (j < cr->n_ops)
			m_apply(&m, &cr->ops[j]);
	}
	raft_log_loaded_free(&l);
	assert_true(found);
	/* The next holder continues the same voter. */
	assert_int_equal(do_hard(w, 1000, 7), 0);
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 1000);
	raft_log_loaded_free(&l);
	return acked;
}

static void crash_sweep(uint32_t ss, uint64_t seeds)
{
	static struct crash_run cr;
	uint64_t runs = 0, partial = 0;
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		bool all_done = false;
		for (uint32_t steps = 0; !all_done && steps < 5000; steps++) {
			struct world w;
			world_init_ss(&w, seed, DISK_BYTES, AREA_BYTES, ss);
			world_open_store(&w, 0);
			crash_prepare(&w, seed, &cr);
			for (uint32_t i = 0; i < steps && !cr.ops[cr.n_ops - 1].wt.done; i++)
				assert_true(fl_sim_step(&w.sim));
			all_done = cr.ops[cr.n_ops - 1].wt.done;
			fl_simbdev_crash(w.sb);
			uint32_t acked = crash_check(&w, &cr);
			partial += acked > 0 && acked < cr.n_ops;
			runs++;
			world_free(&w);
		}
		assert_true(all_done);
	}
	print_message("%u-byte sectors: %" PRIu64 " crash points over %" PRIu64 " seeds (%" PRIu64 " between two "
		      "acknowledgements)\n", ss, runs, seeds, partial);
	assert_true(partial > 0);
}

static void a_crash_at_any_step_keeps_every_acknowledged_request(void **state)
{
	(void)state;
	crash_sweep(512, CRASH_SEEDS);
}

static void a_crash_at_any_step_on_4k_sectors_keeps_every_acknowledged_request(void **state)
{
	(void)state;
	crash_sweep(4096, CRASH_SEEDS / 2);
}

static void a_crash_at_any_step_of_a_compacting_append_keeps_the_acknowledged_log(void **state)
{
	(void)state;
	static struct model before, after;
	static struct op fill, snap, app;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(SMALL_AREA_BYTES, 512, &g), 0);
	uint64_t sectors = g.ring_bytes / 512;
	bool all_done = false;
	uint32_t compacted_only = 0;
	for (uint32_t steps = 0; !all_done && steps < 1000; steps++) {
		struct world w;
		world_init(&w, 5 + steps, DISK_BYTES, SMALL_AREA_BYTES);
		world_open_store(&w, 0);
		load_fresh(&w);
		memset(&before, 0, sizeof(before));
		for (uint64_t i = 1; i <= sectors; i++) {
			fill.wt = (struct waiter){0};
			fill_entry(&fill.ent[0], fill.ebuf[0], i, 1, 100);
			fill.wt.req = (struct raft_log_req){.op = RAFT_LOG_APPEND, .append = {fill.ent, 1}};
			assert_int_equal(do_req(&w, &fill.wt), 0);
			m_apply(&before, &fill);
		}
		make_snapshot(&snap.snap, snap.cfg, snap.sdata, 5, 1, 64);
		snap.wt = (struct waiter){.req = {.op = RAFT_LOG_SNAPSHOT, .snapshot = {&snap.snap, 5}}};
		assert_int_equal(do_req(&w, &snap.wt), 0);
		m_apply(&before, &snap);
		after = before;
		fill_entry(&app.ent[0], app.ebuf[0], sectors + 1, 1, 100);
		app.wt = (struct waiter){.req = {.op = RAFT_LOG_APPEND, .append = {app.ent, 1}}};
		m_apply(&after, &app);
		assert_int_equal(submit(&w, &app.wt), 0);
		for (uint32_t i = 0; i < steps && !app.wt.done; i++)
			assert_true(fl_sim_step(&w.sim));
		all_done = app.wt.done;
		fl_simbdev_crash(w.sb);
		struct raft_log_loaded l;
		assert_int_equal(world_move(&w, &l), 0);
		bool old = m_matches(&before, &l, false), mid = m_matches(&before, &l, true) && !old;
		assert_true(old || mid || m_matches(&after, &l, true));
		assert_true(!all_done || m_matches(&after, &l, true));
		compacted_only += mid;
		raft_log_loaded_free(&l);
		world_free(&w);
	}
	assert_true(all_done);
	assert_true(compacted_only > 0); /* some crash fell between the two metadata writes */
}

/* ---- torn writes and corruption ---- */

static void a_torn_metadata_write_fails_the_store_and_loads_the_old_or_the_new_state(void **state)
{
	(void)state;
	uint32_t seen_old = 0, seen_new = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct world w;
		world_init(&w, seed, DISK_BYTES, AREA_BYTES);
		world_open_store(&w, 0);
		load_fresh(&w);
		assert_int_equal(do_hard(&w, 4, 1), 0);
		assert_int_equal(append_range(&w, 1, 2, 4, 10), 0);
		fl_simbdev_faults(w.sb)->torn_permille = 1000;
		assert_int_equal(do_hard(&w, 5, 2), -FL_EIO);
		assert_int_equal(do_hard(&w, 6, 2), -FL_EIO); /* sticky: refused at submit */
		struct raft_log_loaded l;
		assert_int_equal(world_move(&w, &l), 0);
		/* A prefix that covers the record is the whole write. */
		assert_true((l.hard.term == 4 && l.hard.vote == 1) || (l.hard.term == 5 && l.hard.vote == 2));
		seen_old += l.hard.term == 4;
		seen_new += l.hard.term == 5;
		assert_int_equal(l.n_entries, 2);
		raft_log_loaded_free(&l);
		world_free(&w);
	}
	assert_true(seen_old > 0 && seen_new > 0);
}

static void a_damaged_newest_slot_loads_the_previous_state(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(do_hard(w, 4, 1), 0); /* seq 1: slot 1 */
	assert_int_equal(do_hard(w, 5, 2), 0); /* seq 2: slot 0 */
	memset(w->disk.data + AREA_OFF + 60, 0x3C, 100); /* as a torn write leaves it */
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 4);
	assert_int_equal(l.hard.vote, 1);
	raft_log_loaded_free(&l);
}

static void a_torn_entry_write_leaves_the_previous_log(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 3, 1, 200), 0);
	fl_simbdev_faults(w->sb)->torn_permille = 1000;
	assert_int_equal(append_range(w, 4, 4, 1, 300), -FL_EIO);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 3);
	assert_entry(&l.entries[2], 3, 1, 200);
	raft_log_loaded_free(&l);
}

static void a_damaged_entry_the_metadata_covers_is_refused_never_skipped(void **state)
{
	struct world *w = *state;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(AREA_BYTES, 512, &g), 0);
	load_fresh(w);
	for (uint64_t i = 1; i <= 10; i++)
		assert_int_equal(append_range(w, i, 1, 1, 40), 0); /* one sector each, from ring offset 0 */
	w->disk.data[AREA_OFF + g.ring_offset + 4 * 512 + 60] ^= 0x01; /* entry 5's data */
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), -FL_ECHECKSUM);
	assert_int_equal(l.n_entries, 0);
	assert_non_null(strstr(voter_store_last_error(w->store), "entry 5"));
}

static void a_damaged_newest_entry_is_refused_too(void **state)
{
	struct world *w = *state;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(AREA_BYTES, 512, &g), 0);
	load_fresh(w);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(append_range(w, i, 1, 1, 40), 0);
	w->disk.data[AREA_OFF + g.ring_offset + 2 * 512 + 8] ^= 0x01; /* entry 3's index */
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), -FL_ECHECKSUM);
}

static void a_damaged_current_snapshot_is_refused(void **state)
{
	struct world *w = *state;
	static uint8_t cfg[12], data[700];
	struct raft_log_snapshot s;
	struct voter_store_geometry g;
	assert_int_equal(voter_store_geometry(AREA_BYTES, 512, &g), 0);
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 4, 1, 40), 0);
	make_snapshot(&s, cfg, data, 3, 1, sizeof(data));
	assert_int_equal(do_snapshot(w, &s, 0), 0);
	w->disk.data[AREA_OFF + g.snap_offset[0] + 500] ^= 0x80;
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), -FL_ECHECKSUM);
	assert_non_null(strstr(voter_store_last_error(w->store), "snapshot 3"));
}

static void two_damaged_metadata_slots_are_corruption_not_an_empty_voter(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(do_hard(w, 2, 1), 0);
	assert_int_equal(do_hard(w, 3, 1), 0);
	w->disk.data[AREA_OFF + 20] ^= 0x01;
	w->disk.data[AREA_OFF + 512 + 20] ^= 0x01;
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), -FL_ECORRUPT);
	assert_non_null(strstr(voter_store_last_error(w->store), "refusing"));
}

static void a_damaged_older_slot_is_harmless(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(do_hard(w, 2, 1), 0); /* seq 1: slot 1 */
	assert_int_equal(do_hard(w, 3, 1), 0); /* seq 2: slot 0 */
	w->disk.data[AREA_OFF + 512 + 20] ^= 0x01;
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 3);
	raft_log_loaded_free(&l);
}

/* ---- stalls, errors and timeouts ---- */

static void a_stalled_device_holds_requests_without_callbacks_until_it_recovers(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	fl_simbdev_faults(w->sb)->stalled = true;
	struct waiter a = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {7, 1}}};
	struct waiter b = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {7, 1}}};
	uint64_t t0 = fl_now_us(&w->clock.base);
	assert_int_equal(submit(w, &a), 0);
	assert_int_equal(submit(w, &b), 0);
	fl_sim_run_until(&w->sim, w->sim.now_us + FL_US_PER_S);
	assert_false(a.done);
	assert_false(b.done);
	assert_int_equal(w->store->pending, 2);
	assert_int_equal(raft_logstore_oldest_pending_us(w->store), t0);
	assert_true(fl_now_us(&w->clock.base) - raft_logstore_oldest_pending_us(w->store) >= FL_US_PER_S);
	fl_simbdev_unstall(w->sb);
	run_until_done(w, &b);
	assert_int_equal(a.result, 0);
	assert_int_equal(b.result, 0);
	assert_int_equal(raft_logstore_oldest_pending_us(w->store), FL_TIME_NEVER);
}

static void a_write_that_times_out_fails_the_store_and_may_land_later(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(do_hard(w, 1, 1), 0);
	fl_simbdev_faults(w->sb)->stalled = true;
	struct waiter a = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {2, 2}}};
	struct waiter b = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {3, 3}}};
	assert_int_equal(submit(w, &a), 0);
	assert_int_equal(submit(w, &b), 0);
	run_until_done(w, &b); /* the 2 s I/O deadline passes */
	assert_int_equal(a.result, -FL_ETIMEDOUT);
	assert_int_equal(b.result, -FL_ETIMEDOUT);
	assert_int_equal(do_hard(w, 4, 4), -FL_ETIMEDOUT);
	fl_simbdev_unstall(w->sb);
	fl_sim_run_until(&w->sim, w->sim.now_us + FL_US_PER_S); /* the late write lands */
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 2); /* it did land: never term 3, which was never written */
	raft_log_loaded_free(&l);
}

static void a_device_error_fails_every_queued_and_later_request(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(append_range(w, 1, 2, 1, 10), 0);
	fl_simbdev_faults(w->sb)->error_permille = 1000;
	struct raft_entry e[1];
	uint8_t buf[10];
	fill_entry(&e[0], buf, 3, 1, 10);
	struct waiter a = {.req = {.op = RAFT_LOG_APPEND, .append = {e, 1}}};
	struct waiter b = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}}};
	assert_int_equal(submit(w, &a), 0);
	assert_int_equal(submit(w, &b), 0);
	run_until_done(w, &b);
	assert_int_equal(a.result, -FL_EIO);
	assert_int_equal(b.result, -FL_EIO);
	assert_int_equal(do_truncate(w, 1), -FL_EIO);
	assert_non_null(strstr(voter_store_last_error(w->store), "refuses further use"));
	fl_simbdev_faults(w->sb)->error_permille = 0;
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.n_entries, 2);
	raft_log_loaded_free(&l);
}

static void a_store_closed_with_a_write_in_flight_leaves_a_consistent_area(void **state)
{
	struct world *w = *state;
	load_fresh(w);
	assert_int_equal(do_hard(w, 1, 1), 0);
	struct waiter a = {.req = {.op = RAFT_LOG_SET_HARD, .hard = {2, 1}}};
	assert_int_equal(submit(w, &a), 0);
	while (fl_simbdev_inflight(w->sb) == 0)
		assert_true(fl_sim_step(&w->sim));
	raft_logstore_close(w->store); /* the device still holds the write */
	w->store = NULL;
	fl_sim_run_until(&w->sim, w->sim.now_us + FL_US_PER_S);
	assert_false(a.done);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, 2);
	raft_log_loaded_free(&l);
}

/* ---- a raft_node on the store ---- */

struct node_obs {
	bool started;
	int result;
	uint8_t state;
	uint64_t term, applied;
};

static void obs_started(void *arg, struct raft_node *n, int result)
{
	struct node_obs *o = arg;
	(void)n;
	o->started = true;
	o->result = result;
}

static void obs_apply(void *arg, struct raft_node *n, const struct raft_entry *e)
{
	struct node_obs *o = arg;
	(void)n;
	o->applied = e->index;
}

static void obs_state(void *arg, struct raft_node *n, uint8_t st, uint64_t term, uint64_t leader)
{
	struct node_obs *o = arg;
	(void)n;
	(void)leader;
	o->state = st;
	o->term = term;
}

static int drop_send(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len)
{
	(void)t;
	(void)to;
	(void)payload;
	(void)len;
	return 0;
}

static const struct raft_transport_ops drop_ops = {.send = drop_send};

static struct raft_node *start_node(struct world *w, struct node_obs *o, struct raft_transport *t,
				    const struct raft_config *boot)
{
	struct raft_node_config nc = {.loop = &w->clock.base, .store = w->store, .transport = t, .bootstrap = boot,
				      .app = {.started = obs_started, .apply = obs_apply, .state = obs_state, .arg = o}};
	raft_options_default(&nc.opt, 1, 11);
	nc.opt.election_timeout_us = 150 * FL_US_PER_MS;
	nc.opt.heartbeat_us = 30 * FL_US_PER_MS;
	nc.opt.lease_margin_us = 10 * FL_US_PER_MS;
	struct raft_node *n = NULL;
	assert_int_equal(raft_node_new(&nc, &n), 0);
	w->store = NULL; /* the node owns it now */
	fl_sim_run_until(&w->sim, w->sim.now_us + 2 * FL_US_PER_S);
	assert_true(o->started);
	assert_int_equal(o->result, 0);
	assert_int_equal(o->state, RAFT_LEADER);
	return n;
}

static void a_raft_node_on_the_store_persists_its_term_vote_and_log_across_a_move(void **state)
{
	struct world *w = *state;
	struct raft_transport t = {.ops = &drop_ops};
	struct raft_config boot = {.n = 1, .servers = {{.id = 1, .role = RAFT_VOTER}}};
	struct node_obs o1 = {0}, o2 = {0};
	struct raft_node *n = start_node(w, &o1, &t, &boot);
	uint64_t idx = 0;
	assert_int_equal(raft_node_propose(n, "witness", 7, &idx), 0);
	fl_sim_run_until(&w->sim, w->sim.now_us + FL_US_PER_S);
	assert_int_equal(o1.applied, idx);
	assert_int_equal(raft_node_failed(n), 0);
	raft_node_free(n);
	struct raft_log_loaded l;
	assert_int_equal(world_move(w, &l), 0);
	assert_int_equal(l.hard.term, o1.term);
	assert_int_equal(l.hard.vote, 1);
	assert_int_equal(l.n_entries, idx);
	assert_int_equal(l.entries[idx - 1].len, 7);
	assert_memory_equal(l.entries[idx - 1].data, "witness", 7);
	raft_log_loaded_free(&l);
	/* The next holder runs the same voter from the disk. */
	raft_logstore_close(w->store);
	world_open_store(w, 0);
	n = start_node(w, &o2, &t, &boot);
	assert_true(o2.term > o1.term);
	raft_node_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_never_written_area_loads_as_an_empty_voter, setup, teardown),
		cmocka_unit_test(what_lay_format_sync_writes_loads_as_an_empty_voter_that_accepts_writes),
		cmocka_unit_test(a_new_lay_format_sync_leaves_nothing_of_the_previous_voter),
		cmocka_unit_test(a_snapshot_larger_than_one_io_is_written_and_read_in_chunks),
		cmocka_unit_test_setup_teardown(a_read_error_during_the_load_fails_the_store, setup, teardown),
		cmocka_unit_test_setup_teardown(format_sync_resets_a_used_area_to_an_empty_voter, setup, teardown),
		cmocka_unit_test_setup_teardown(an_area_that_is_too_small_or_misaligned_is_refused_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(hard_state_survives_a_move_to_another_host, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unchanged_hard_state_completes_without_io, setup, teardown),
		cmocka_unit_test_setup_teardown(appended_entries_of_every_size_survive_a_move, setup, teardown),
		cmocka_unit_test_setup_teardown(an_append_of_one_small_entry_writes_two_sectors, setup, teardown),
		cmocka_unit_test_setup_teardown(truncate_removes_the_suffix_and_the_space_is_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(truncating_from_the_first_entry_empties_the_log, setup, teardown),
		cmocka_unit_test_setup_teardown(an_append_below_the_last_index_replaces_the_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(an_append_that_leaves_a_gap_is_refused_at_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(requests_before_the_load_completed_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelined_requests_complete_in_submission_order_and_never_inside_submit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_queue_refuses_the_next_request, setup, teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_survives_a_move_and_compacts_all_but_the_trailing_entries,
						setup, teardown),
		cmocka_unit_test_setup_teardown(the_second_snapshot_goes_to_the_other_region_and_replaces_the_first,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_beyond_the_log_drops_the_whole_log, setup, teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_larger_than_its_region_is_refused_without_failing_the_store,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_ring_refuses_an_append_with_enospc_and_changes_nothing,
						setup_small, teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_frees_ring_space_for_later_appends, setup_small, teardown),
		cmocka_unit_test_setup_teardown(a_full_ring_first_drops_the_entries_the_snapshot_covers, setup_small,
						teardown),
		cmocka_unit_test_setup_teardown(a_batch_larger_than_the_ring_is_refused, setup_small, teardown),
		cmocka_unit_test_setup_teardown(the_ring_wraps_many_times_and_every_reload_matches_the_model, setup_small,
						teardown),
		cmocka_unit_test_setup_teardown(random_torn_writes_and_errors_never_lose_an_acknowledged_request,
						setup_small, teardown),
		cmocka_unit_test(a_crash_at_any_step_keeps_every_acknowledged_request),
		cmocka_unit_test(a_crash_at_any_step_on_4k_sectors_keeps_every_acknowledged_request),
		cmocka_unit_test(a_crash_at_any_step_of_a_compacting_append_keeps_the_acknowledged_log),
		cmocka_unit_test(a_torn_metadata_write_fails_the_store_and_loads_the_old_or_the_new_state),
		cmocka_unit_test_setup_teardown(a_damaged_newest_slot_loads_the_previous_state, setup, teardown),
		cmocka_unit_test_setup_teardown(a_torn_entry_write_leaves_the_previous_log, setup, teardown),
		cmocka_unit_test_setup_teardown(a_damaged_entry_the_metadata_covers_is_refused_never_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_damaged_newest_entry_is_refused_too, setup, teardown),
		cmocka_unit_test_setup_teardown(a_damaged_current_snapshot_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(two_damaged_metadata_slots_are_corruption_not_an_empty_voter, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_damaged_older_slot_is_harmless, setup, teardown),
		cmocka_unit_test_setup_teardown(a_stalled_device_holds_requests_without_callbacks_until_it_recovers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_write_that_times_out_fails_the_store_and_may_land_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_device_error_fails_every_queued_and_later_request, setup, teardown),
		cmocka_unit_test_setup_teardown(a_store_closed_with_a_write_in_flight_leaves_a_consistent_area, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_raft_node_on_the_store_persists_its_term_vote_and_log_across_a_move,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
