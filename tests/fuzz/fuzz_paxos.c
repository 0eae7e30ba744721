/* Semantic fuzz target: a Disk Paxos volume-lease acquire (disklock/paxos.c)
 * over a fuzzed lease area on the simulated shared device
 * (disklock/bdev_sim.c), with one live host holding the lease.
 *
 * Scenario, all from the input: 2..8 hosts take part in the lease; a few
 * earlier acquires and releases by other hosts leave a history in the
 * dblocks; then host H acquires the lease (exclusive or shared) through the
 * real code and from then on is alive. The area is then damaged within what
 * a real disk can hold while H holds the lease:
 *   - the leader record intact, with bits flipped (media corruption: its
 *     checksum fails), or torn between H's commit and a late commit of the
 *     same ballot by another host that adopted H's value (the only write of
 *     the leader that can be in flight while H holds it); bytes past the
 *     record anything;
 *   - the request record anything;
 *   - every other host's sector anything: raw bytes (a corrupt dblock: its
 *     checksum fails, see corrupt_dblock), a stale but valid dblock of an
 *     older lver, or a valid dblock of H's lver as a ballot of that host
 *     could have left it (Disk Paxos: a dblock of that lver with bal >= H's
 *     bal carries H's value), mode blocks anything;
 *   - H's own dblock and mode block intact (H is alive and wrote them), the
 *     rest of its sector anything.
 * The lockspace's view of every other host is fuzzed (free, dead, live...);
 * of H it is the truth: live at its generation. Host A != H then acquires
 * (exclusive or shared, with a fuzzed lver hand-off, wait, ballot budget and
 * I/O errors and torn writes on A's own device).
 *
 * Checks: A's acquire finishes and never succeeds while H holds the lease
 * exclusively, nor exclusively while H holds it shared (it must never report
 * free a lease a live host holds); A never writes H's sector; a failed
 * acquire never leaves A named as a holding owner in a valid leader record. */
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/paxos.h"
#include "fencelock/error.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 8
#define SS 512u
#define AREA_BYTES (64u * 1024u)
#define DISK_BYTES (2u * AREA_BYTES)

struct host {
	struct fl_simclock clock;
	struct fl_simbdev *dev;
	struct fl_rand rand;
	uint64_t gen;
};

struct world {
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct host h[MAXH + 1];
	uint32_t n;
	enum vl_owner_state state[MAXH + 1]; /* the lockspace's view, by host */
	uint64_t holder, holder_gen;          /* H: live, the truth */
};

static enum vl_owner_state owner_cb(void *ctx, uint64_t host_id, uint64_t generation)
{
	struct world *w = ctx;
	FUZZ_CHECK(host_id >= 1, "owner state asked for host 0");
	if (host_id > w->n)
		return VL_OWNER_FREE;
	if (host_id == w->holder) {
		if (generation != 0 && generation < w->holder_gen)
			return VL_OWNER_NEWER_GEN;
		return VL_OWNER_LIVE;
	}
	return w->state[host_id];
}

static void op_done(struct vl_op *op, void *arg)
{
	(void)op;
	*(bool *)arg = true;
}

static struct vl_area area_of(struct world *w, uint32_t i)
{
	return (struct vl_area){.bdev = fl_simbdev_bdev(w->h[i].dev), .offset = 0, .num_hosts_hint = w->n,
				.space_name = "fuzzls", .resource_name = "slot-0"};
}

/* Runs an acquire by host i to its end; returns res.rv. */
static int acquire(struct world *w, uint32_t i, struct vl_acquire_args *args)
{
	struct vl_op op;
	struct vl_area a = area_of(w, i);
	bool done = false;
	args->host_id = i;
	args->generation = w->h[i].gen;
	args->owner_state = owner_cb;
	args->owner_ctx = w;
	args->rand = &w->h[i].rand;
	FUZZ_CHECK(vl_acquire_start(&op, &a, args, op_done, &done) == 0, "acquire by host %u did not start", i);
	for (uint32_t k = 0; k < 2000000 && !done; k++)
		if (!fl_sim_step(&w->sim))
			break;
	FUZZ_CHECK(done, "acquire by host %u never finished", i);
	int rv = op.res.rv;
	vl_op_free(&op);
	return rv;
}

static void release(struct world *w, uint32_t i)
{
	struct vl_op op;
	struct vl_area a = area_of(w, i);
	bool done = false;
	FUZZ_CHECK(vl_release_start(&op, &a, i, w->h[i].gen, op_done, &done) == 0, "release did not start");
	for (uint32_t k = 0; k < 2000000 && !done; k++)
		if (!fl_sim_step(&w->sim))
			break;
	FUZZ_CHECK(done, "release by host %u never finished", i);
	vl_op_free(&op);
}

static void world_init(struct world *w, uint32_t n, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->n = n;
	FUZZ_CHECK(fl_sim_init(&w->sim, seed) == 0, "sim init failed");
	FUZZ_CHECK(fl_simdisk_init(&w->disk, &w->sim, DISK_BYTES, SS) == 0, "disk init failed");
	for (uint32_t i = 1; i <= n; i++) {
		struct host *h = &w->h[i];
		h->gen = 1;
		FUZZ_CHECK(fl_simclock_init(&h->clock, &w->sim, 1000000u * i, 0) == 0, "clock init failed");
		h->dev = fl_simbdev_new(&w->disk, &h->clock.base, "h", seed * 131 + i);
		FUZZ_CHECK(h->dev != NULL, "bdev failed");
		fl_rand_seed(&h->rand, seed * 977 + i);
		w->state[i] = VL_OWNER_DEAD;
	}
}

static void world_free(struct world *w)
{
	for (uint32_t i = 1; i <= w->n; i++) {
		fl_bdev_close(fl_simbdev_bdev(w->h[i].dev));
		fl_simclock_free(&w->h[i].clock);
	}
	fl_simdisk_free(&w->disk);
	fl_sim_free(&w->sim);
}

/* A dblock host x could have left, given H's dblock hd (see the header). */
static void plausible_dblock(struct fuzz_in *in, uint32_t x, const struct fl_dblock *hd, uint8_t *sector)
{
	struct fl_dblock d;
	memset(&d, 0, sizeof(d));
	d.mbal = (uint64_t)(fuzz_u8(in) % 8u) * VL_MAX_HOSTS + x;
	if (fuzz_u8(in) & 1) {
		/* A ballot at H's lver. */
		d.lver = hd->lver;
		d.bal = d.mbal - (fuzz_u8(in) & 1 ? 0 : x);
		if (d.bal >= hd->bal) {
			d.inp = hd->inp, d.inp2 = hd->inp2, d.inp3 = hd->inp3;
		} else {
			d.inp = fuzz_u8(in) % (MAXH + 1), d.inp2 = fuzz_u8(in), d.inp3 = fuzz_u32(in);
		}
	} else {
		/* A stale ballot of an older lver. */
		d.lver = hd->lver > 0 ? fuzz_u64(in) % hd->lver : 0;
		d.bal = fuzz_u8(in) & 1 ? d.mbal : 0;
		d.inp = fuzz_u8(in) % (MAXH + 1), d.inp2 = fuzz_u8(in), d.inp3 = fuzz_u32(in);
	}
	d.flags = fuzz_u8(in) & FL_DBLOCK_RELEASED;
	fl_dblock_encode(&d, sector);
}

/* Raw bytes in place of a dblock: media corruption, so its checksum fails.
 * libFuzzer copies compared values into its inputs and forges valid
 * checksums within minutes; a well-formed dblock of any lver is a write no
 * host makes (a byzantine disk writer, against which no lease protocol on a
 * shared disk can stand: it could write the leader as well), so one that
 * decodes gets a bit flipped. Valid dblocks a host can leave behind come
 * from plausible_dblock(). */
static void corrupt_dblock(struct fuzz_in *in, uint8_t *sector)
{
	struct fl_dblock d;
	fuzz_fill(in, sector, FL_DBLOCK_SIZE);
	if (fl_dblock_decode(sector, &d) == 0)
		sector[0] ^= 1u;
	FUZZ_CHECK(fl_dblock_decode(sector, &d) != 0, "a corrupted dblock still decodes");
}

/* Tears the leader between H's commit and the same value committed again by
 * another host x (another write id and time): both name H. */
static void tear_leader(struct world *w, struct fuzz_in *in)
{
	uint8_t *area = w->disk.data;
	struct fl_leader l;
	FUZZ_CHECK(fl_leader_decode(area, FL_PAXOS_MAGIC, &l) == 0, "the holder's leader does not decode");
	FUZZ_CHECK(l.owner_id == w->holder, "the leader does not name the holder");
	uint8_t late[SS];
	memcpy(late, area, SS);
	l.write_id = 1 + fuzz_u8(in) % w->n;
	l.write_timestamp += 1 + fuzz_u8(in);
	fl_leader_encode(&l, late);
	uint32_t cut = fuzz_u8(in) % FL_LEADER_SIZE;
	if (fuzz_u8(in) & 1)
		memcpy(area + cut, late + cut, SS - cut);
	else
		memcpy(area, late, cut);
}

/* Damages the area as the header describes. */
static void damage(struct world *w, struct fuzz_in *in)
{
	uint8_t *area = w->disk.data;
	uint8_t *hs = area + (w->holder + 1) * SS;
	struct fl_dblock hd;
	FUZZ_CHECK(fl_dblock_decode(hs, &hd) == 0, "the holder's own dblock does not decode");
	uint8_t keep_d[FL_DBLOCK_SIZE], keep_m[16];
	memcpy(keep_d, hs, sizeof(keep_d));
	memcpy(keep_m, hs + FL_MODE_OFFSET, sizeof(keep_m));
	uint8_t what = fuzz_u8(in);
	if ((what & 3) == 1) {
		for (uint32_t k = 1 + fuzz_u8(in) % 4u; k > 0; k--)
			area[fuzz_u8(in) % FL_LEADER_SIZE] ^= (uint8_t)(1u << (fuzz_u8(in) % 8u));
	} else if ((what & 3) == 2) {
		tear_leader(w, in);
	}
	if (what & 4)
		fuzz_fill(in, area + FL_LEADER_SIZE, 32);
	if (what & 8)
		fuzz_fill(in, area + SS, 64);
	for (uint32_t x = 1; x <= w->n; x++) {
		uint8_t *s = area + (x + 1) * SS;
		uint8_t how = fuzz_u8(in);
		if (x == w->holder) {
			if (how & 1)
				fuzz_fill(in, s + FL_DBLOCK_SIZE, FL_MODE_OFFSET - FL_DBLOCK_SIZE);
			continue;
		}
		if ((how & 3) == 1)
			corrupt_dblock(in, s);
		else if ((how & 3) == 2)
			plausible_dblock(in, x, &hd, s);
		if (how & 4)
			fuzz_fill(in, s + FL_MODE_OFFSET, 16);
		w->state[x] = (enum vl_owner_state)((how >> 3) % (VL_OWNER_UNKNOWN + 1));
	}
	FUZZ_CHECK(memcmp(hs, keep_d, sizeof(keep_d)) == 0, "damage touched the holder's dblock");
	FUZZ_CHECK(memcmp(hs + FL_MODE_OFFSET, keep_m, sizeof(keep_m)) == 0, "damage touched the holder's mode block");
}

/* Earlier acquires and releases by hosts other than H (everyone else dead). */
static void history(struct world *w, struct fuzz_in *in)
{
	uint32_t steps = fuzz_u8(in) % 5u;
	for (uint32_t k = 0; k < steps; k++) {
		uint32_t x = 1 + fuzz_u8(in) % w->n;
		if (x == w->holder)
			continue;
		struct vl_acquire_args a = {.shared = fuzz_u8(in) & 1, .max_ballots = 8};
		w->h[x].gen++;
		if (acquire(w, x, &a) == 0 && (fuzz_u8(in) & 1))
			release(w, x);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	struct fuzz_in in = {data, size};
	static struct world w;
	uint32_t n = 2 + fuzz_u8(&in) % (MAXH - 1);
	world_init(&w, n, 1 + fuzz_u8(&in));
	FUZZ_CHECK(vl_init_sync(fl_simbdev_bdev(w.h[1].dev), 0, AREA_BYTES, "fuzzls", "slot-0", n, FL_LFL_ALIGN_1M) == 0,
		   "lease init failed");
	w.holder = 1 + fuzz_u8(&in) % n;
	history(&w, &in);
	bool h_shared = fuzz_u8(&in) & 1;
	w.h[w.holder].gen += 1 + fuzz_u8(&in) % 3u;
	w.holder_gen = w.h[w.holder].gen;
	struct vl_acquire_args ha = {.shared = h_shared};
	if (acquire(&w, (uint32_t)w.holder, &ha) != 0) {
		world_free(&w); /* H could not take it (ballots exhausted): no holder, nothing to check */
		return 0;
	}
	damage(&w, &in);
	uint32_t a = 1 + fuzz_u8(&in) % n;
	if (a == w.holder)
		a = a % n + 1;
	uint8_t hsec[SS];
	memcpy(hsec, w.disk.data + (w.holder + 1) * SS, SS);
	struct fl_simbdev_faults *f = fl_simbdev_faults(w.h[a].dev);
	uint8_t faults = fuzz_u8(&in);
	f->error_permille = (faults & 3) * 50u;
	f->torn_permille = ((faults >> 2) & 3) * 50u;
	uint8_t lv = fuzz_u8(&in);
	struct vl_acquire_args aa = {.shared = fuzz_u8(&in) & 1, .acquire_lver = lv & 1 ? lv >> 1 : 0,
				     .wait_us = (uint64_t)(fuzz_u8(&in) % 4u) * FL_US_PER_S, .poll_us = 300000,
				     .max_ballots = 1 + fuzz_u8(&in) % 16u};
	w.h[a].gen += fuzz_u8(&in) & 1; /* the same incarnation, or a new one */
	int rv = acquire(&w, a, &aa);
	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "fuzz: %u hosts, holder %llu gen %llu (%s), host %u gen %llu acquires %s: %d\n", n,
			(unsigned long long)w.holder, (unsigned long long)w.holder_gen, h_shared ? "shared" : "exclusive",
			a, (unsigned long long)w.h[a].gen, aa.shared ? "shared" : "exclusive", rv);
	FUZZ_CHECK(rv <= 0, "acquire returned %d", rv);
	FUZZ_CHECK(rv != 0 || (h_shared && aa.shared),
		   "host %u acquired the lease (%s) while live host %llu holds it %s", a,
		   aa.shared ? "shared" : "exclusive", (unsigned long long)w.holder, h_shared ? "shared" : "exclusively");
	FUZZ_CHECK(memcmp(hsec, w.disk.data + (w.holder + 1) * SS, SS) == 0, "host %u wrote the holder's sector", a);
	struct fl_leader l;
	/* With I/O errors injected, the clean-up write itself may fail. */
	if (rv != 0 && faults % 16u == 0 && fl_leader_decode(w.disk.data, FL_PAXOS_MAGIC, &l) == 0)
		FUZZ_CHECK(!(l.owner_id == a && l.owner_generation == w.h[a].gen && vl_leader_held(&l)) ||
				   (w.disk.data[(a + 1) * SS + 52] & FL_DBLOCK_RELEASED),
			   "a failed acquire left host %u as the holding owner", a);
	world_free(&w);
	return 0;
}
