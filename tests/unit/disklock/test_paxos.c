/* Unit tests of volume leases (disk Paxos) on the simulated shared disk:
 * contention between 2..16 hosts over many seeded rounds with random
 * latencies, crashes mid-ballot, torn writes, the takeover rule, shared mode
 * and the inquire/hand-off check. Nothing here reads the real clock.
 * VL_RACE_ROUNDS=<n> sets the rounds per host count of the contention sweep
 * (default 200, i.e. 3000 rounds over 2..16 hosts). */
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
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/paxos.h"
#include "fencelock/error.h"

#define MAXH 16
#define NUM_HOSTS 16
#define AREA_BYTES (1u << 20)

static uint32_t g_sector = 512; /* sector size of the next world */

struct host {
	struct fl_simclock clock;
	struct fl_simbdev *dev;
	struct vl_op op;
	struct fl_rand rand;
	struct fl_timer start;
	struct world *w;
	uint64_t id, gen;
	bool shared, started, done;
	uint64_t acquire_lver;
	int rv;
};

struct world {
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct host h[MAXH + 1];
	enum vl_owner_state state[MAXH + 1];
	uint64_t live_gen[MAXH + 1];
	int n;
};

static enum vl_owner_state owner_cb(void *ctx, uint64_t host_id, uint64_t generation)
{
	struct world *w = ctx;
	assert_true(host_id >= 1 && host_id <= MAXH);
	if (generation != 0 && w->live_gen[host_id] > generation)
		return VL_OWNER_NEWER_GEN;
	return w->state[host_id];
}

static void host_done(struct vl_op *op, void *arg)
{
	struct host *h = arg;
	h->done = true;
	h->rv = op->res.rv;
}

static struct vl_area area_of(struct host *h)
{
	return (struct vl_area){.bdev = fl_simbdev_bdev(h->dev), .offset = 0, .num_hosts_hint = NUM_HOSTS,
				.space_name = "LS", .resource_name = "vol1"};
}

static void host_start_acquire(struct host *h)
{
	struct vl_area a = area_of(h);
	struct vl_acquire_args args = {.host_id = h->id, .generation = h->gen, .shared = h->shared,
				       .acquire_lver = h->acquire_lver, .owner_state = owner_cb,
				       .owner_ctx = h->w, .rand = &h->rand};
	h->done = false;
	h->started = true;
	assert_int_equal(vl_acquire_start(&h->op, &a, &args, host_done, h), 0);
}

static void start_fn(struct fl_timer *t, void *arg)
{
	(void)t;
	host_start_acquire(arg);
}

static void world_init(struct world *w, int n, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->n = n;
	assert_int_equal(fl_sim_init(&w->sim, seed), 0);
	assert_int_equal(fl_simdisk_init(&w->disk, &w->sim, 4u << 20, g_sector), 0);
	for (int i = 1; i <= n; i++) {
		struct host *h = &w->h[i];
		h->w = w;
		h->id = (uint64_t)i;
		h->gen = 1;
		w->state[i] = VL_OWNER_LIVE;
		w->live_gen[i] = 1;
		assert_int_equal(fl_simclock_init(&h->clock, &w->sim, 1000000u * (uint64_t)i, 0), 0);
		char name[16];
		snprintf(name, sizeof(name), "h%d", i);
		h->dev = fl_simbdev_new(&w->disk, &h->clock.base, name, seed * 131 + (uint64_t)i);
		assert_non_null(h->dev);
		fl_rand_seed(&h->rand, seed * 977 + (uint64_t)i);
		fl_timer_init(&h->start, start_fn, h);
	}
}

static void world_free(struct world *w)
{
	for (int i = 1; i <= w->n; i++) {
		struct host *h = &w->h[i];
		fl_timer_cancel(&h->clock.base, &h->start);
		if (h->op.running)
			vl_op_cancel(&h->op);
		fl_bdev_close(fl_simbdev_bdev(h->dev));
		if (!h->op.running)
			vl_op_free(&h->op);
		fl_simclock_free(&h->clock);
	}
	fl_simdisk_free(&w->disk);
	fl_sim_free(&w->sim);
}

static void lease_init(struct world *w)
{
	assert_int_equal(vl_init_sync(fl_simbdev_bdev(w->h[1].dev), 0, AREA_BYTES, "LS", "vol1", NUM_HOSTS,
				      FL_LFL_ALIGN_1M),
			 0);
}

/* Runs the world until every started host is done (bounded). */
static void run_all(struct world *w)
{
	for (uint64_t steps = 0; steps < 2000000; steps++) {
		bool busy = false;
		for (int i = 1; i <= w->n; i++)
			if ((w->h[i].started && !w->h[i].done) || fl_timer_armed(&w->h[i].start))
				busy = true;
		if (!busy)
			return;
		if (!fl_sim_step(&w->sim))
			break;
	}
	fail_msg("simulation did not finish");
}

static int acquire_one(struct world *w, int i)
{
	host_start_acquire(&w->h[i]);
	run_all(w);
	vl_op_free(&w->h[i].op);
	return w->h[i].rv;
}

static struct vl_result inquire(struct world *w, int i)
{
	struct vl_op op;
	struct vl_area a = area_of(&w->h[i]);
	assert_int_equal(vl_inquire_start(&op, &a, NULL, NULL), 0);
	assert_int_equal(vl_wait_sync(&op, fl_simbdev_bdev(w->h[i].dev)), 0);
	struct vl_result r = op.res;
	vl_op_free(&op);
	return r;
}

static int release_one(struct world *w, int i)
{
	struct vl_op op;
	struct vl_area a = area_of(&w->h[i]);
	assert_int_equal(vl_release_start(&op, &a, w->h[i].id, w->h[i].gen, NULL, NULL), 0);
	int rv = vl_wait_sync(&op, fl_simbdev_bdev(w->h[i].dev));
	vl_op_free(&op);
	return rv;
}

static bool held_now(struct world *w, int i)
{
	struct vl_result r = inquire(w, i);
	return vl_leader_held(&r.leader);
}

static int state_of(struct world *w, int i, char *s)
{
	struct vl_result r = inquire(w, i);
	return vl_state_format(&r.leader, s);
}

static void quiet(void) { fl_log_set_level(getenv("VL_DEBUG") ? LOG_DEBUG : LOG_CRIT); }

/* ---- tests ------------------------------------------------------------------ */

static void free_lease_is_acquired_with_next_lver_and_our_identity(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 2, 1);
	lease_init(&w);
	w.h[1].gen = 7;
	w.live_gen[1] = 7;
	assert_int_equal(acquire_one(&w, 1), 0);
	struct vl_result r = inquire(&w, 2);
	assert_true(r.leader.owner_id == 1 && r.leader.owner_generation == 7 && r.leader.lver == 1);
	assert_true(vl_leader_held(&r.leader) && r.leader.write_id == 1);
	world_free(&w);
}

/* One contention round: n hosts start at random times with random latencies. */
static void race_round(struct world *w, struct fl_rand *r, int *winner_out)
{
	for (int i = 1; i <= w->n; i++) {
		struct fl_simbdev_faults *f = fl_simbdev_faults(w->h[i].dev);
		f->latency_min_us = fl_rand_range(r, 1, 300);
		f->latency_max_us = f->latency_min_us + fl_rand_range(r, 0, 3000);
		w->h[i].started = false;
		w->h[i].done = false;
		fl_timer_after(&w->h[i].clock.base, &w->h[i].start, fl_rand_below(r, 4000));
	}
	run_all(w);
	int winner = 0;
	for (int i = 1; i <= w->n; i++) {
		vl_op_free(&w->h[i].op);
		if (w->h[i].rv == 0) {
			assert_int_equal(winner, 0); /* exactly one winner */
			winner = i;
		} else {
			assert_true(w->h[i].rv == -FL_EBUSY || w->h[i].rv == -FL_EAGAIN);
		}
	}
	struct vl_result res = inquire(w, 1);
	if (winner != 0)
		assert_true(res.leader.owner_id == (uint64_t)winner && vl_leader_held(&res.leader));
	else {
		for (int i = 1; i <= w->n; i++)
			printf("host %d rv %d ballots %u\n", i, w->h[i].rv, w->h[i].op.res.ballots);
		printf("leader owner %llu lver %llu ts %llu writer %llu\n", (unsigned long long)res.leader.owner_id,
		       (unsigned long long)res.leader.lver, (unsigned long long)res.leader.timestamp,
		       (unsigned long long)res.leader.write_id);
		fail_msg("round without a winner");
	}
	*winner_out = winner;
}

static void racing_hosts_elect_exactly_one_winner_every_round(void **state)
{
	(void)state;
	quiet();
	const char *env = getenv("VL_RACE_ROUNDS");
	int rounds = env ? atoi(env) : 200;
	uint64_t total = 0, ballots = 0, wins[MAXH + 1] = {0};
	for (int n = 2; n <= MAXH; n++) {
		struct world w;
		struct fl_rand r;
		world_init(&w, n, 1000u + (uint64_t)n);
		lease_init(&w);
		fl_rand_seed(&r, 77u + (uint64_t)n);
		for (int round = 0; round < rounds; round++) {
			int winner = 0;
			race_round(&w, &r, &winner);
			for (int i = 1; i <= n; i++)
				ballots += w.h[i].op.res.ballots;
			wins[winner]++;
			total++;
			assert_int_equal(release_one(&w, winner), 0);
		}
		world_free(&w);
	}
	printf("paxos race: %llu rounds over 2..%d hosts, %llu winners (one per round), %llu ballots;"
	       " wins by host_id:", (unsigned long long)total, MAXH, (unsigned long long)total,
	       (unsigned long long)ballots);
	for (int i = 1; i <= MAXH; i++)
		printf(" %llu", (unsigned long long)wins[i]);
	printf("\n");
}

static void a_loser_sees_the_winner_as_owner_and_does_not_hold(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 3, 5);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 2), 0);
	assert_int_equal(acquire_one(&w, 3), -FL_EBUSY);
	assert_int_equal(w.h[3].op.res.busy_host_id, 2);
	assert_int_equal(release_one(&w, 3), -FL_ENOENT);
	assert_int_equal(inquire(&w, 1).leader.owner_id, 2);
	world_free(&w);
}

static void takeover_is_refused_while_the_owner_is_live_or_failing(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 6);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	enum vl_owner_state refused[] = {VL_OWNER_LIVE, VL_OWNER_FAIL, VL_OWNER_UNKNOWN};
	for (size_t k = 0; k < FL_ARRAY_SIZE(refused); k++) {
		w.state[1] = refused[k];
		assert_int_equal(acquire_one(&w, 2), -FL_EBUSY);
		assert_int_equal(w.h[2].op.res.busy_state, refused[k]);
	}
	assert_int_equal(inquire(&w, 2).leader.owner_id, 1);
	world_free(&w);
}

static void takeover_succeeds_from_a_dead_free_or_reborn_owner(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 7);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	w.state[1] = VL_OWNER_DEAD;
	assert_int_equal(acquire_one(&w, 2), 0);
	w.state[2] = VL_OWNER_FREE;
	assert_int_equal(acquire_one(&w, 1), 0);
	w.live_gen[1] = 2; /* host 1 restarted with a new generation */
	assert_int_equal(acquire_one(&w, 2), 0);
	struct vl_result r = inquire(&w, 1);
	assert_true(r.leader.owner_id == 2 && r.leader.lver == 4);
	world_free(&w);
}

static void waiting_acquire_takes_over_once_the_owner_is_dead(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 8);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	w.state[1] = VL_OWNER_FAIL;
	struct host *h = &w.h[2];
	struct vl_area a = area_of(h);
	struct vl_acquire_args args = {.host_id = 2, .generation = 1, .wait_us = 10 * FL_US_PER_S,
				       .poll_us = FL_US_PER_S, .owner_state = owner_cb, .owner_ctx = &w,
				       .rand = &h->rand};
	h->started = true;
	h->done = false;
	assert_int_equal(vl_acquire_start(&h->op, &a, &args, host_done, h), 0);
	fl_sim_run_until(&w.sim, w.sim.now_us + 3 * FL_US_PER_S);
	assert_false(h->done);
	w.state[1] = VL_OWNER_DEAD;
	run_all(&w);
	assert_int_equal(h->rv, 0);
	vl_op_free(&h->op);
	world_free(&w);
}

static void released_lease_is_free_and_keeps_its_lver(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 2, 9);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	assert_int_equal(release_one(&w, 1), 0);
	struct vl_result r = inquire(&w, 2);
	assert_false(vl_leader_held(&r.leader));
	assert_true(r.leader.lver == 1 && r.leader.owner_id == 1);
	assert_int_equal(acquire_one(&w, 2), 0); /* host 1 is live but released it */
	assert_int_equal(inquire(&w, 1).leader.lver, 2);
	world_free(&w);
}

static void a_released_dblock_frees_the_lease_even_if_the_leader_still_names_us(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 2, 10);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	uint8_t leader[512];
	memcpy(leader, w.disk.data, sizeof(leader));
	assert_int_equal(release_one(&w, 1), 0);
	memcpy(w.disk.data, leader, sizeof(leader)); /* as if another host's commit overwrote our release */
	assert_true(held_now(&w, 2));
	assert_int_equal(acquire_one(&w, 2), 0);
	world_free(&w);
}

static void a_holder_crashing_mid_ballot_never_yields_two_owners(void **state)
{
	(void)state;
	quiet();
	struct fl_rand r;
	fl_rand_seed(&r, 4242);
	for (int round = 0; round < 200; round++) {
		struct world w;
		world_init(&w, 3, 5000u + (uint64_t)round);
		lease_init(&w);
		host_start_acquire(&w.h[1]);
		host_start_acquire(&w.h[2]);
		uint64_t crash_after = fl_rand_range(&r, 1, 12);
		for (uint64_t s = 0; s < crash_after && fl_sim_step(&w.sim);)
			s++;
		if (!w.h[1].done) {
			fl_simbdev_crash(w.h[1].dev);
			vl_op_cancel(&w.h[1].op);
			w.h[1].started = false;
			w.state[1] = VL_OWNER_DEAD;
		}
		run_all(&w);
		bool h1_holds = w.h[1].done && w.h[1].rv == 0;
		bool h2_holds = w.h[2].rv == 0;
		assert_false(h1_holds && h2_holds);
		vl_op_free(&w.h[2].op);
		if (!h2_holds && w.state[1] == VL_OWNER_DEAD) {
			/* host 3 finds whatever host 1 left and takes over */
			assert_int_equal(acquire_one(&w, 3), 0);
			h2_holds = false;
		}
		struct vl_result res = inquire(&w, 3);
		assert_true(vl_leader_held(&res.leader));
		if (h2_holds)
			assert_int_equal(res.leader.owner_id, 2);
		world_free(&w);
	}
}

static void torn_writes_fail_the_writer_and_never_make_two_owners(void **state)
{
	(void)state;
	quiet();
	struct fl_rand r;
	fl_rand_seed(&r, 99);
	uint32_t winners = 0;
	for (int round = 0; round < 300; round++) {
		struct world w;
		world_init(&w, 4, 9000u + (uint64_t)round);
		lease_init(&w);
		for (int i = 1; i <= 4; i++)
			fl_simbdev_faults(w.h[i].dev)->torn_permille = 80;
		for (int i = 1; i <= 4; i++)
			fl_timer_after(&w.h[i].clock.base, &w.h[i].start, fl_rand_below(&r, 2000));
		run_all(&w);
		int winner = 0;
		for (int i = 1; i <= 4; i++) {
			vl_op_free(&w.h[i].op);
			if (w.h[i].rv == 0) {
				assert_int_equal(winner, 0);
				winner = i;
			}
		}
		if (winner != 0) {
			winners++;
			struct vl_op op;
			struct vl_area a = area_of(&w.h[1]);
			fl_simbdev_faults(w.h[1].dev)->torn_permille = 0;
			assert_int_equal(vl_inquire_start(&op, &a, NULL, NULL), 0);
			int rv = vl_wait_sync(&op, fl_simbdev_bdev(w.h[1].dev));
			if (rv == 0) /* the winner's commit landed whole */
				assert_int_equal(op.res.leader.owner_id, (uint64_t)winner);
			else
				assert_int_equal(rv, -FL_ECHECKSUM);
			vl_op_free(&op);
		}
		world_free(&w);
	}
	assert_true(winners > 0);
}

static void a_torn_leader_is_a_checksum_error_never_free(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 11);
	lease_init(&w);
	w.disk.data[40] ^= 0x10;
	assert_int_equal(acquire_one(&w, 1), -FL_ECHECKSUM);
	world_free(&w);
}

static void shared_holders_coexist_and_block_an_exclusive_acquire(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 12);
	lease_init(&w);
	w.h[1].shared = w.h[2].shared = true;
	assert_int_equal(acquire_one(&w, 1), 0);
	assert_int_equal(acquire_one(&w, 2), 0);
	struct vl_result r = inquire(&w, 3);
	assert_int_equal(r.shared_count, 2);
	assert_false(vl_leader_held(&r.leader));
	assert_int_equal(acquire_one(&w, 3), -FL_EBUSY);
	assert_true(w.h[3].op.res.busy_host_id == 1 || w.h[3].op.res.busy_host_id == 2);
	assert_false(held_now(&w, 1)); /* the refused exclusive let go */
	assert_int_equal(release_one(&w, 1), 0);
	assert_int_equal(release_one(&w, 2), 0);
	assert_int_equal(inquire(&w, 3).shared_count, 0);
	assert_int_equal(acquire_one(&w, 3), 0);
	world_free(&w);
}

static void racing_shared_and_exclusive_acquires_never_overlap(void **state)
{
	(void)state;
	quiet();
	struct fl_rand r;
	fl_rand_seed(&r, 31337);
	uint32_t excl_wins = 0, shared_wins = 0;
	for (int round = 0; round < 400; round++) {
		struct world w;
		int n = (int)fl_rand_range(&r, 2, 6);
		world_init(&w, n, 20000u + (uint64_t)round);
		lease_init(&w);
		for (int i = 1; i <= n; i++) {
			w.h[i].shared = fl_rand_chance(&r, 1, 2);
			fl_simbdev_faults(w.h[i].dev)->latency_max_us = fl_rand_range(&r, 100, 3000);
			fl_timer_after(&w.h[i].clock.base, &w.h[i].start, fl_rand_below(&r, 3000));
		}
		run_all(&w);
		int excl = 0, shared = 0;
		for (int i = 1; i <= n; i++) {
			vl_op_free(&w.h[i].op);
			if (w.h[i].rv == 0)
				w.h[i].shared ? shared++ : excl++;
		}
		assert_true(excl <= 1);
		assert_false(excl == 1 && shared > 0);
		struct vl_result res = inquire(&w, 1);
		assert_int_equal(res.shared_count, (uint32_t)shared);
		assert_int_equal(res.held, excl == 1);
		excl_wins += (uint32_t)excl;
		shared_wins += (uint32_t)shared;
		world_free(&w);
	}
	assert_true(excl_wins > 0 && shared_wins > 0);
}

static void an_exclusive_owner_blocks_a_shared_acquire(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 13);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	w.h[2].shared = true;
	assert_int_equal(acquire_one(&w, 2), -FL_EBUSY);
	world_free(&w);
}

static void a_dead_shared_holder_does_not_block_an_exclusive_acquire(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 14);
	lease_init(&w);
	w.h[1].shared = true;
	assert_int_equal(acquire_one(&w, 1), 0);
	w.state[1] = VL_OWNER_DEAD;
	assert_int_equal(acquire_one(&w, 2), 0);
	world_free(&w);
}

static void handoff_succeeds_when_the_lver_is_unchanged(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 2, 15);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	char s[VL_STATE_STR_LEN];
	assert_int_equal(state_of(&w, 1, s), 0);
	assert_int_equal(release_one(&w, 1), 0);
	uint64_t lver, owner, gen;
	assert_int_equal(vl_state_parse(s, &lver, &owner, &gen), 0);
	assert_true(lver == 1 && owner == 1 && gen == 1);
	w.h[2].acquire_lver = lver;
	assert_int_equal(acquire_one(&w, 2), 0);
	world_free(&w);
}

static void handoff_detects_an_intervening_acquire(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 16);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	char s[VL_STATE_STR_LEN];
	assert_int_equal(state_of(&w, 1, s), 0);
	assert_int_equal(release_one(&w, 1), 0);
	assert_int_equal(acquire_one(&w, 3), 0); /* someone else got in between */
	assert_int_equal(release_one(&w, 3), 0);
	uint64_t lver, owner, gen;
	assert_int_equal(vl_state_parse(s, &lver, &owner, &gen), 0);
	w.h[2].acquire_lver = lver;
	assert_int_equal(acquire_one(&w, 2), -FL_ESTALE);
	world_free(&w);
}

static void a_lockspace_area_is_refused_as_a_lease(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 1, 17);
	struct fl_leader l = {.magic = FL_DELTA_MAGIC, .version = FL_DELTA_VERSION, .sector_size = 512,
			      .max_hosts = 1};
	assert_int_equal(fl_name_set(l.space_name, "LS"), 0);
	assert_int_equal(fl_name_set(l.resource_name, "host1"), 0);
	fl_leader_encode(&l, w.disk.data);
	assert_int_equal(acquire_one(&w, 1), -FL_EMAGIC);
	world_free(&w);
}

static void a_lease_of_another_resource_is_foreign(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 1, 18);
	assert_int_equal(vl_init_sync(fl_simbdev_bdev(w.h[1].dev), 0, AREA_BYTES, "LS", "other", NUM_HOSTS, 0), 0);
	assert_int_equal(acquire_one(&w, 1), -FL_EFOREIGN);
	world_free(&w);
}

static void a_stalled_disk_times_out_and_never_claims_the_lease(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 21);
	lease_init(&w);
	fl_simbdev_faults(w.h[1].dev)->stalled = true;
	assert_int_equal(acquire_one(&w, 1), -FL_ETIMEDOUT);
	fl_simbdev_unstall(w.h[1].dev);
	fl_sim_run_until(&w.sim, w.sim.now_us + FL_US_PER_S);
	assert_false(held_now(&w, 2));
	assert_int_equal(acquire_one(&w, 2), 0);
	world_free(&w);
}

static void an_owner_acquiring_again_keeps_its_lver(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 1, 22);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 1), 0);
	uint64_t writes = fl_simbdev_bdev(w.h[1].dev)->stats.writes;
	assert_int_equal(acquire_one(&w, 1), 0);
	assert_true(fl_simbdev_bdev(w.h[1].dev)->stats.writes == writes);
	assert_int_equal(inquire(&w, 1).leader.lver, 1);
	world_free(&w);
}

static void leases_work_on_4k_sector_devices(void **state)
{
	(void)state;
	quiet();
	g_sector = 4096;
	struct world w;
	world_init(&w, 3, 23);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 3), 0);
	assert_int_equal(acquire_one(&w, 2), -FL_EBUSY);
	assert_int_equal(release_one(&w, 3), 0);
	assert_int_equal(acquire_one(&w, 2), 0);
	struct fl_dblock d;
	assert_int_equal(fl_dblock_decode(w.disk.data + 4 * 4096, &d), 0); /* host 3 at sector 4 */
	assert_true(d.lver == 1 && (d.flags & FL_DBLOCK_RELEASED));
	world_free(&w);
	g_sector = 512;
}

static void mbal_stays_congruent_to_host_id_across_ballots(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 19);
	lease_init(&w);
	for (int k = 0; k < 5; k++) {
		assert_int_equal(acquire_one(&w, 2), 0);
		assert_int_equal(release_one(&w, 2), 0);
	}
	struct fl_dblock d;
	assert_int_equal(fl_dblock_decode(w.disk.data + 3 * 512, &d), 0);
	assert_true(d.mbal % VL_MAX_HOSTS == 2 && d.mbal > 2);
	assert_true(d.lver == 5 && (d.flags & FL_DBLOCK_RELEASED));
	world_free(&w);
}

/* ---- torn leader records: rebuilt from the dblocks ---------------------------- */

/* What a torn write of new over old leaves in sector 0: new[0..n) + old[n..). */
static void tear_leader(struct world *w, const uint8_t *old_sec, const uint8_t *new_sec, uint32_t n)
{
	memcpy(w->disk.data, new_sec, n);
	memcpy(w->disk.data + n, old_sec + n, w->disk.sector_size - n);
}

static int leader_state(struct world *w)
{
	struct fl_leader l;
	return fl_leader_decode(w->disk.data, FL_PAXOS_MAGIC, &l);
}

static int inquire_rv(struct world *w, int i)
{
	struct vl_op op;
	struct vl_area a = area_of(&w->h[i]);
	assert_int_equal(vl_inquire_start(&op, &a, NULL, NULL), 0);
	int rv = vl_wait_sync(&op, fl_simbdev_bdev(w->h[i].dev));
	vl_op_free(&op);
	return rv;
}

/* Host 1 acquires; its commit then loses bytes n.. (an acknowledged write the
 * device tore in a power cut): the leader is the init record's tail behind the
 * commit's head. */
static void acquire_then_tear(struct world *w, uint32_t n)
{
	uint8_t old_sec[4096], new_sec[4096];
	memcpy(old_sec, w->disk.data, w->disk.sector_size);
	assert_int_equal(acquire_one(w, 1), 0);
	memcpy(new_sec, w->disk.data, w->disk.sector_size);
	tear_leader(w, old_sec, new_sec, n);
}

static void a_torn_leader_is_rebuilt_and_a_live_owner_keeps_the_lease(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 30);
	lease_init(&w);
	acquire_then_tear(&w, 100);
	assert_int_equal(leader_state(&w), -FL_ECHECKSUM);
	assert_int_equal(inquire_rv(&w, 2), -FL_ECHECKSUM); /* read-leader reports it until repaired */
	assert_int_equal(acquire_one(&w, 2), -FL_EBUSY);
	assert_int_equal(w.h[2].op.res.busy_host_id, 1);
	assert_int_equal(w.h[2].op.res.busy_state, VL_OWNER_LIVE);
	assert_int_equal(w.h[2].op.res.rebuilds, 1);
	struct vl_result r = inquire(&w, 3); /* rebuilt at the same lver, same owner */
	assert_true(r.leader.lver == 1 && r.leader.owner_id == 1 && r.leader.owner_generation == 1 && r.held);
	assert_int_equal(r.leader.write_id, 2);
	assert_int_equal(acquire_one(&w, 1), 0); /* the owner still holds it */
	assert_int_equal(inquire(&w, 3).leader.lver, 1);
	assert_int_equal(acquire_one(&w, 3), -FL_EBUSY);
	world_free(&w);
}

static void a_torn_leader_of_a_dead_owner_is_taken_over_with_the_next_lver(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 31);
	lease_init(&w);
	acquire_then_tear(&w, 44); /* mid-lver: owner new, lver half new */
	w.state[1] = VL_OWNER_DEAD;
	assert_int_equal(acquire_one(&w, 2), 0);
	assert_int_equal(w.h[2].op.res.rebuilds, 1);
	struct vl_result r = inquire(&w, 3);
	assert_true(r.leader.lver == 2 && r.leader.owner_id == 2 && r.held);
	assert_int_equal(acquire_one(&w, 3), -FL_EBUSY);
	world_free(&w);
}

/* The owner's own acquire after its commit was torn finds its value chosen. */
static void the_owner_whose_commit_was_torn_gets_its_lease(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 2, 32);
	lease_init(&w);
	acquire_then_tear(&w, 170); /* inside the checksum */
	assert_int_equal(acquire_one(&w, 1), 0);
	struct vl_result r = inquire(&w, 2);
	assert_true(r.leader.lver == 1 && r.leader.owner_id == 1 && r.held);
	world_free(&w);
}

/* A torn release (RELEASED written, the free leader torn) is not revived:
 * the owner acquiring again gets a new lver, as does a hand-off. */
static void a_torn_release_stays_released(void **state)
{
	(void)state;
	quiet();
	for (int who = 1; who <= 2; who++) {
		struct world w;
		world_init(&w, 2, 33);
		lease_init(&w);
		assert_int_equal(acquire_one(&w, 1), 0);
		uint8_t old_sec[512], new_sec[512];
		memcpy(old_sec, w.disk.data, 512);
		assert_int_equal(release_one(&w, 1), 0);
		memcpy(new_sec, w.disk.data, 512);
		tear_leader(&w, old_sec, new_sec, 160); /* timestamp 0 landed, checksum did not */
		assert_int_equal(leader_state(&w), -FL_ECHECKSUM);
		w.h[who].acquire_lver = who == 2 ? 1 : 0; /* host 2: a migration hand-off from lver 1 */
		assert_int_equal(acquire_one(&w, who), 0);
		struct vl_result r = inquire(&w, 3 - who);
		assert_true(r.leader.lver == 2 && r.leader.owner_id == (uint64_t)who && r.held);
		world_free(&w);
	}
}

/* The owner can release across a torn leader (its dblock gets RELEASED, the
 * leader is left alone); the next acquirer then rebuilds and takes it. */
static void an_owner_releases_across_a_torn_leader(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 37);
	lease_init(&w);
	acquire_then_tear(&w, 120);
	uint8_t torn[512];
	memcpy(torn, w.disk.data, sizeof(torn));
	assert_int_equal(release_one(&w, 2), -FL_ENOENT);
	assert_int_equal(release_one(&w, 1), 0);
	assert_memory_equal(w.disk.data, torn, sizeof(torn));
	assert_int_equal(release_one(&w, 1), -FL_ENOENT); /* already released */
	assert_int_equal(acquire_one(&w, 3), 0);          /* host 1 is live but released it */
	struct vl_result r = inquire(&w, 2);
	assert_true(r.leader.lver == 2 && r.leader.owner_id == 3 && r.held);
	world_free(&w);
}

static void a_hand_off_across_a_torn_leader_detects_a_moved_lease(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 34);
	lease_init(&w);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(acquire_one(&w, 1), 0);
		assert_int_equal(release_one(&w, 1), 0);
	}
	acquire_then_tear(&w, 60); /* lver 4 */
	uint8_t torn[512];
	memcpy(torn, w.disk.data, sizeof(torn));
	w.h[2].acquire_lver = 1;
	assert_int_equal(acquire_one(&w, 2), -FL_ESTALE);
	assert_memory_equal(w.disk.data, torn, sizeof(torn)); /* refused before any write */
	world_free(&w);
}

/* Nothing to rebuild from: a clear -FL_ECHECKSUM, never "free". */
static void a_torn_leader_without_usable_dblocks_stays_a_checksum_error(void **state)
{
	(void)state;
	quiet();
	for (int variant = 0; variant < 4; variant++) {
		struct world w;
		world_init(&w, 2, 35u + (uint64_t)variant);
		lease_init(&w);
		if (variant == 3) {
			struct fl_rand r;
			fl_rand_seed(&r, 5);
			for (uint32_t i = 0; i < 512; i++) /* an all-garbage sector */
				w.disk.data[i] = (uint8_t)fl_rand_below(&r, 256);
		} else {
			acquire_then_tear(&w, 100);
			w.disk.data[2 * 512 + 8] ^= 0x40; /* host 1's dblock fails its checksum too */
			w.state[1] = variant == 0 ? VL_OWNER_DEAD : variant == 1 ? VL_OWNER_LIVE : VL_OWNER_UNKNOWN;
		}
		uint8_t before[512];
		memcpy(before, w.disk.data, sizeof(before));
		assert_int_equal(acquire_one(&w, 2), -FL_ECHECKSUM);
		assert_int_equal(w.h[2].op.res.rebuilds, 0);
		assert_memory_equal(w.disk.data, before, sizeof(before));
		assert_int_equal(inquire_rv(&w, 2), -FL_ECHECKSUM);
		world_free(&w);
	}
}

/* Media corruption can flip bits of the leader's num_hosts as well, and a
 * rebuild that trusted a smaller count would not read a live holder's dblock:
 * host 3 holds lver 2 while the leader says "2 hosts"; host 1 must not win
 * lver 2. The rebuild only trusts a num_hosts that the layout (hint) agrees
 * with; otherwise the acquire reports the checksum error and writes nothing. */
static void a_corrupt_num_hosts_never_hides_a_live_holder_from_a_rebuild(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 38);
	lease_init(&w);
	assert_int_equal(acquire_one(&w, 2), 0);
	assert_int_equal(release_one(&w, 2), 0);
	assert_int_equal(acquire_one(&w, 3), 0); /* lver 2, host 3 live */
	w.disk.data[16] = 2;                     /* num_hosts: NUM_HOSTS -> 2, checksum now fails */
	assert_int_equal(leader_state(&w), -FL_ECHECKSUM);
	uint8_t before[512];
	memcpy(before, w.disk.data, sizeof(before));
	assert_int_equal(acquire_one(&w, 1), -FL_ECHECKSUM);
	assert_int_equal(w.h[1].op.res.rebuilds, 0);
	assert_memory_equal(w.disk.data, before, sizeof(before));
	assert_int_equal(acquire_one(&w, 3), -FL_ECHECKSUM); /* the holder too: an operator repairs it */
	world_free(&w);
}

/* Two live hosts with torn dblocks and a torn leader: neither can tell on its
 * own, but each rewrites its own sector, so the second attempt goes through. */
static void torn_dblocks_of_live_hosts_do_not_block_the_rebuild_forever(void **state)
{
	(void)state;
	quiet();
	struct world w;
	world_init(&w, 3, 36);
	lease_init(&w);
	acquire_then_tear(&w, 100);
	w.disk.data[3 * 512 + 50] ^= 1; /* host 2's sector */
	w.disk.data[4 * 512 + 50] ^= 1; /* host 3's sector */
	assert_int_equal(acquire_one(&w, 2), -FL_ECHECKSUM);
	assert_int_equal(acquire_one(&w, 3), -FL_EBUSY); /* host 2's sector is readable again */
	assert_int_equal(w.h[3].op.res.busy_host_id, 1);
	assert_int_equal(acquire_one(&w, 2), -FL_EBUSY);
	assert_int_equal(inquire(&w, 2).leader.owner_id, 1);
	world_free(&w);
}

/* Every tear offset of the leader sector, after a commit or after a release
 * by host 1, live or dead, three seeds each; then hosts 2..4 race from the
 * torn leader with random latencies: never two owners, never a lost live hold,
 * and the next owner gets the next lver. */
static void torn_leaders_at_every_offset_never_make_two_owners(void **state)
{
	(void)state;
	quiet();
	struct fl_rand r;
	fl_rand_seed(&r, 2718);
	uint32_t rebuilt = 0;
	for (uint32_t n = 0; n < 512; n++) {
		for (int sc = 0; sc < 12; sc++) { /* 4 scenarios x 3 seeds */
			bool release = sc & 1, dead = sc & 2;
			struct world w;
			world_init(&w, 4, 40000u + n * 12 + (uint64_t)sc);
			lease_init(&w);
			assert_int_equal(acquire_one(&w, 1), 0);
			uint8_t old_sec[512], new_sec[512];
			memcpy(old_sec, w.disk.data, 512);
			if (release) {
				assert_int_equal(release_one(&w, 1), 0);
			} else { /* host 1's commit of lver 2 over host 2's released lver 1 */
				assert_int_equal(release_one(&w, 1), 0);
				assert_int_equal(acquire_one(&w, 2), 0);
				assert_int_equal(release_one(&w, 2), 0);
				memcpy(old_sec, w.disk.data, 512);
				assert_int_equal(acquire_one(&w, 1), 0);
			}
			memcpy(new_sec, w.disk.data, 512);
			uint64_t lver = release ? 1 : 3;
			tear_leader(&w, old_sec, new_sec, n);
			if (dead)
				w.state[1] = VL_OWNER_DEAD;
			for (int i = 2; i <= 4; i++) {
				struct fl_simbdev_faults *f = fl_simbdev_faults(w.h[i].dev);
				f->latency_min_us = fl_rand_range(&r, 1, 300);
				f->latency_max_us = f->latency_min_us + fl_rand_range(&r, 0, 3000);
				fl_timer_after(&w.h[i].clock.base, &w.h[i].start, fl_rand_below(&r, 4000));
			}
			run_all(&w);
			int winner = 0;
			for (int i = 2; i <= 4; i++) {
				vl_op_free(&w.h[i].op);
				rebuilt += w.h[i].op.res.rebuilds;
				if (w.h[i].rv == 0) {
					assert_int_equal(winner, 0);
					winner = i;
				} else {
					assert_true(w.h[i].rv == -FL_EBUSY || w.h[i].rv == -FL_EAGAIN);
				}
			}
			struct vl_result res = inquire(&w, 1);
			if (!release && !dead) { /* host 1 holds lver 3 and keeps it */
				assert_int_equal(winner, 0);
				assert_true(res.leader.owner_id == 1 && res.leader.lver == lver && res.held);
				assert_int_equal(acquire_one(&w, 1), 0);
			} else {
				assert_int_not_equal(winner, 0);
				assert_true(res.leader.owner_id == (uint64_t)winner && res.leader.lver == lver + 1);
				assert_true(res.held);
				if (!dead)
					assert_int_equal(acquire_one(&w, 1), -FL_EBUSY);
			}
			world_free(&w);
		}
	}
	assert_true(rebuilt > 0);
	printf("torn leader at every offset: 6144 races, %u rebuild ballots\n", rebuilt);
}

/* Racing hosts on a disk that tears writes (the leader commit among them);
 * then, with the faults gone, every host acquires in turn (all live, nobody
 * releases): at most one host ever holds the lease, and it is the race's
 * winner if there was one; a torn leader is repaired, not fatal. */
static void a_torn_leader_in_a_commit_race_is_repaired_with_one_owner(void **state)
{
	(void)state;
	quiet();
	struct fl_rand r;
	fl_rand_seed(&r, 161);
	uint32_t torn_after_race = 0;
	for (int round = 0; round < 1500; round++) {
		struct world w;
		world_init(&w, 3, 60000u + (uint64_t)round);
		lease_init(&w);
		for (int i = 1; i <= 3; i++) {
			struct fl_simbdev_faults *f = fl_simbdev_faults(w.h[i].dev);
			f->torn_permille = 300;
			f->latency_max_us = fl_rand_range(&r, 50, 2000);
			fl_timer_after(&w.h[i].clock.base, &w.h[i].start, fl_rand_below(&r, 1500));
		}
		run_all(&w);
		int holder = 0;
		for (int i = 1; i <= 3; i++) {
			vl_op_free(&w.h[i].op);
			fl_simbdev_faults(w.h[i].dev)->torn_permille = 0;
			if (w.h[i].rv == 0) {
				assert_int_equal(holder, 0);
				holder = i;
			}
		}
		if (leader_state(&w) == -FL_ECHECKSUM)
			torn_after_race++;
		for (int pass = 0; pass < 3; pass++) {
			for (int i = 1; i <= 3; i++) {
				int rv = acquire_one(&w, i);
				if (rv == 0) {
					assert_true(holder == 0 || holder == i);
					holder = i;
				} else if (rv == -FL_EBUSY) {
					assert_true(holder == 0 || w.h[i].op.res.busy_host_id == (uint64_t)holder);
				} else {
					assert_int_equal(rv, -FL_ECHECKSUM);
				}
			}
		}
		assert_int_not_equal(holder, 0);
		struct vl_result res = inquire(&w, 1);
		assert_true(res.leader.owner_id == (uint64_t)holder && res.held);
		world_free(&w);
	}
	printf("commit race with torn writes: 1500 rounds, %u left a torn leader, all repaired\n", torn_after_race);
	assert_true(torn_after_race > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(free_lease_is_acquired_with_next_lver_and_our_identity),
		cmocka_unit_test(racing_hosts_elect_exactly_one_winner_every_round),
		cmocka_unit_test(a_loser_sees_the_winner_as_owner_and_does_not_hold),
		cmocka_unit_test(takeover_is_refused_while_the_owner_is_live_or_failing),
		cmocka_unit_test(takeover_succeeds_from_a_dead_free_or_reborn_owner),
		cmocka_unit_test(waiting_acquire_takes_over_once_the_owner_is_dead),
		cmocka_unit_test(released_lease_is_free_and_keeps_its_lver),
		cmocka_unit_test(a_released_dblock_frees_the_lease_even_if_the_leader_still_names_us),
		cmocka_unit_test(a_holder_crashing_mid_ballot_never_yields_two_owners),
		cmocka_unit_test(torn_writes_fail_the_writer_and_never_make_two_owners),
		cmocka_unit_test(a_torn_leader_is_a_checksum_error_never_free),
		cmocka_unit_test(a_torn_leader_is_rebuilt_and_a_live_owner_keeps_the_lease),
		cmocka_unit_test(a_torn_leader_of_a_dead_owner_is_taken_over_with_the_next_lver),
		cmocka_unit_test(the_owner_whose_commit_was_torn_gets_its_lease),
		cmocka_unit_test(a_torn_release_stays_released),
		cmocka_unit_test(an_owner_releases_across_a_torn_leader),
		cmocka_unit_test(a_hand_off_across_a_torn_leader_detects_a_moved_lease),
		cmocka_unit_test(a_torn_leader_without_usable_dblocks_stays_a_checksum_error),
		cmocka_unit_test(a_corrupt_num_hosts_never_hides_a_live_holder_from_a_rebuild),
		cmocka_unit_test(torn_dblocks_of_live_hosts_do_not_block_the_rebuild_forever),
		cmocka_unit_test(torn_leaders_at_every_offset_never_make_two_owners),
		cmocka_unit_test(a_torn_leader_in_a_commit_race_is_repaired_with_one_owner),
		cmocka_unit_test(shared_holders_coexist_and_block_an_exclusive_acquire),
		cmocka_unit_test(racing_shared_and_exclusive_acquires_never_overlap),
		cmocka_unit_test(an_exclusive_owner_blocks_a_shared_acquire),
		cmocka_unit_test(a_dead_shared_holder_does_not_block_an_exclusive_acquire),
		cmocka_unit_test(handoff_succeeds_when_the_lver_is_unchanged),
		cmocka_unit_test(handoff_detects_an_intervening_acquire),
		cmocka_unit_test(a_lockspace_area_is_refused_as_a_lease),
		cmocka_unit_test(a_lease_of_another_resource_is_foreign),
		cmocka_unit_test(a_stalled_disk_times_out_and_never_claims_the_lease),
		cmocka_unit_test(an_owner_acquiring_again_keeps_its_lver),
		cmocka_unit_test(leases_work_on_4k_sector_devices),
		cmocka_unit_test(mbal_stays_congruent_to_host_id_across_ballots),
	};
	return cmocka_run_group_tests_name("paxos", tests, NULL, NULL);
}
