/* Semantic fuzz target: a delta-lease acquire (disklock/lockspace.c) over a
 * fuzzed lockspace on the simulated shared device (disklock/bdev_sim.c),
 * against one live host that holds the contended host_id.
 *
 * Scenario, all from the input: the lockspace is formatted; the records of
 * other host_ids are filled with anything (raw bytes, or valid records of
 * any owner, generation, time and name); the contended host_id X starts
 * free or with a stale record of an earlier owner. Host H acquires X through
 * the real state machine (T of 1..3 s) and renews it on its own loop, with
 * fuzzed I/O errors on its device; after a fuzzed time, host A (another
 * host: another name, maybe another T, repairing its own corrupt record or
 * not) acquires X too. Optionally a bit of X's record flips (media
 * corruption) while A watches it.
 *
 * Checks: A's acquire ends within bounded simulated time; it never succeeds
 * while H's lease is valid (H HELD and its valid-until not passed on its own
 * clock): a lockspace must never report free a host_id a live host holds;
 * when A fails and nothing was injected on H's side, H still holds X. */
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/lockspace.h"
#include "fencelock/error.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* T in milliseconds: whole seconds (FLK1 records) and fractions (FLK2). */
#define FUZZ_T_N 7u
static const uint32_t fuzz_ts[FUZZ_T_N] = {1000, 2000, 3000, 100, 250, 500, 1500};

static uint32_t fuzz_t_ms(uint8_t b)
{
	return fuzz_ts[b % FUZZ_T_N];
}

#define SS 512u
#define AREA (1u << 20)
#define NEV 8
#define SPACE "fuzzls"

struct world;

struct host {
	struct world *w;
	struct fl_simclock clock;
	struct fl_simbdev *sb;
	struct ls_lockspace *ls;
	unsigned count[NEV];
	int result[NEV];
};

struct world {
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct host h, a;
	uint64_t x;                /* the contended host_id */
	bool a_won_while_h_valid;  /* seen at A's ACQUIRED event */
	struct fl_timer flip;
	uint32_t flip_byte;
	uint8_t flip_mask;
};

static void on_event(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg)
{
	struct host *h = arg;
	(void)ls;
	h->count[ev]++;
	h->result[ev] = result;
	struct world *w = h->w;
	if (h == &w->a && ev == LS_EV_ACQUIRED && result == 0) {
		struct host *H = &w->h;
		uint64_t now = fl_now_us(&H->clock.base);
		if (ls_state(H->ls) == LS_HELD && now < ls_valid_until_us(H->ls))
			w->a_won_while_h_valid = true;
	}
}

static void host_new(struct world *w, struct host *h, uint64_t id, const char *name, uint32_t t, bool repair,
		     uint64_t seed)
{
	h->w = w;
	FUZZ_CHECK(fl_simclock_init(&h->clock, &w->sim, 1000000u * seed, 0) == 0, "clock init failed");
	h->sb = fl_simbdev_new(&w->disk, &h->clock.base, name, seed);
	FUZZ_CHECK(h->sb != NULL, "bdev failed");
	struct ls_config cfg = {.space_name = SPACE, .host_id = id, .io_timeout_ms = t, .repair_corrupt_own = repair};
	snprintf(cfg.host_name, sizeof(cfg.host_name), "%s", name);
	FUZZ_CHECK(ls_new(&h->clock.base, fl_simbdev_bdev(h->sb), &cfg, on_event, h, &h->ls) == 0, "ls_new failed");
}

static bool run_until(struct world *w, struct host *h, enum ls_event ev, unsigned before, uint64_t limit_us)
{
	uint64_t end = w->sim.now_us + limit_us;
	while (h->count[ev] <= before && w->sim.now_us < end)
		if (!fl_sim_step(&w->sim))
			break;
	return h->count[ev] > before;
}

static void flip_fn(struct fl_timer *t, void *arg)
{
	(void)t;
	struct world *w = arg;
	w->disk.data[(w->x - 1) * SS + w->flip_byte] ^= w->flip_mask;
}

/* Other host_ids' records: raw bytes or valid records of anything. */
static void fill_others(struct world *w, struct fuzz_in *in)
{
	uint32_t n = fuzz_u8(in) % 12u;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t id = 1 + fuzz_u8(in) % 16u;
		if (id == w->x)
			continue;
		uint8_t *s = w->disk.data + (id - 1) * SS;
		if (fuzz_u8(in) & 1) {
			fuzz_fill(in, s, FL_LEADER_SIZE);
			continue;
		}
		struct fl_leader l;
		ls_record_init_ms(&l, SPACE, SS, AREA, fuzz_t_ms(fuzz_u8(in)));
		l.owner_id = fuzz_u8(in) & 1 ? id : fuzz_u8(in);
		l.owner_generation = fuzz_u8(in);
		l.timestamp = fuzz_u16(in);
		FUZZ_CHECK(fl_name_set(l.resource_name, fuzz_u8(in) & 1 ? "hostH" : "other") == 0, "name too long");
		ls_record_encode_sector(&l, s, SS);
	}
}

/* Formats the area through an observer of H's device (host_id 0). A
 * format writes the whole 1 MiB area, slow under ASan: it runs once per T
 * and later inputs start from a copy of its result. */
static void format(struct world *w, uint32_t t)
{
	static uint8_t *done[FUZZ_T_N]; /* one formatted area per T */
	uint32_t k = 0;
	while (k < FUZZ_T_N && fuzz_ts[k] != t)
		k++;
	FUZZ_CHECK(k < FUZZ_T_N, "T %u ms", t);
	if (done[k] != NULL) {
		memcpy(w->disk.data, done[k], AREA);
		return;
	}
	struct ls_config fc = {.space_name = SPACE, .io_timeout_ms = t};
	struct host f = {.w = w};
	FUZZ_CHECK(ls_new(&w->h.clock.base, fl_simbdev_bdev(w->h.sb), &fc, on_event, &f, &f.ls) == 0,
		   "observer failed");
	FUZZ_CHECK(ls_format(f.ls) == 0, "format did not start");
	FUZZ_CHECK(run_until(w, &f, LS_EV_FORMATTED, 0, 10 * FL_US_PER_S), "format never finished");
	FUZZ_CHECK(f.result[LS_EV_FORMATTED] == 0, "format failed");
	ls_free(f.ls);
	done[k] = malloc(AREA);
	FUZZ_CHECK(done[k] != NULL, "out of memory");
	memcpy(done[k], w->disk.data, AREA);
}

static void world_free(struct world *w)
{
	fl_timer_cancel(&w->h.clock.base, &w->flip);
	fl_bdev_close(fl_simbdev_bdev(w->h.sb));
	fl_bdev_close(fl_simbdev_bdev(w->a.sb));
	ls_free(w->h.ls);
	ls_free(w->a.ls);
	fl_simclock_free(&w->h.clock);
	fl_simclock_free(&w->a.clock);
	fl_simdisk_free(&w->disk);
	fl_sim_free(&w->sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	struct fuzz_in in = {data, size};
	static struct world w;
	memset(&w, 0, sizeof(w));
	FUZZ_CHECK(fl_sim_init(&w.sim, 1 + fuzz_u8(&in)) == 0, "sim init failed");
	FUZZ_CHECK(fl_simdisk_init(&w.disk, &w.sim, AREA, SS) == 0, "disk init failed");
	w.x = 1 + fuzz_u8(&in) % 8u;
	uint32_t th = fuzz_t_ms(fuzz_u8(&in)), ta = fuzz_t_ms(fuzz_u8(&in));
	host_new(&w, &w.h, w.x, "hostH", th, true, 1);
	uint8_t opts = fuzz_u8(&in);
	host_new(&w, &w.a, w.x, opts & 1 ? "hostA" : "other", ta, opts & 2, 2);
	fl_timer_init(&w.flip, flip_fn, &w);
	format(&w, th);
	fill_others(&w, &in);
	if (opts & 4) {
		/* X held earlier by a host now gone. */
		struct fl_leader l;
		ls_record_init_ms(&l, SPACE, SS, AREA, fuzz_t_ms(fuzz_u8(&in)));
		l.owner_id = w.x;
		l.owner_generation = 1 + fuzz_u8(&in);
		l.timestamp = 1;
		FUZZ_CHECK(fl_name_set(l.resource_name, "gone") == 0, "name too long");
		ls_record_encode_sector(&l, w.disk.data + (w.x - 1) * SS, SS);
	}
	FUZZ_CHECK(ls_acquire(w.h.ls) == 0, "H's acquire did not start");
	if (!run_until(&w, &w.h, LS_EV_ACQUIRED, 0, 300 * FL_US_PER_S) || w.h.result[LS_EV_ACQUIRED] != 0) {
		world_free(&w); /* H did not get X: nothing held, nothing to check */
		return 0;
	}
	uint8_t faults = fuzz_u8(&in);
	fl_simbdev_faults(w.h.sb)->error_permille = (faults & 3) * 30u;
	fl_sim_run_until(&w.sim, w.sim.now_us + (uint64_t)(fuzz_u8(&in) % 32u) * FL_US_PER_S);
	bool flip = opts & 8;
	if (flip) {
		w.flip_byte = fuzz_u8(&in) % FL_LEADER_SIZE;
		w.flip_mask = (uint8_t)(1u << (fuzz_u8(&in) % 8u));
		fl_timer_after(&w.h.clock.base, &w.flip, (uint64_t)(fuzz_u8(&in) % 64u) * FL_US_PER_S / 4);
	}
	FUZZ_CHECK(ls_acquire(w.a.ls) == 0, "A's acquire did not start");
	bool ended = run_until(&w, &w.a, LS_EV_ACQUIRED, 0, 1200 * FL_US_PER_S);
	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "fuzz: host_id %llu, A's acquire: %d after %llu s simulated, %llu steps\n",
			(unsigned long long)w.x, w.a.result[LS_EV_ACQUIRED],
			(unsigned long long)(w.sim.now_us / FL_US_PER_S), (unsigned long long)w.sim.steps);
	FUZZ_CHECK(ended, "A's acquire did not end in 1200 s of simulated time");
	FUZZ_CHECK(!w.a_won_while_h_valid, "host A acquired host_id %llu while host H held it with a valid lease",
		   (unsigned long long)w.x);
	if (w.a.result[LS_EV_ACQUIRED] != 0 && (faults & 3) == 0 && !flip)
		FUZZ_CHECK(ls_state(w.h.ls) == LS_HELD, "a failed acquire by A cost H its lease (state %d)",
			   ls_state(w.h.ls));
	world_free(&w);
	return 0;
}
