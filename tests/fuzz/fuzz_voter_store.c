/* Fuzz target: loading the disk voter's area (plugin/arbiter/voter_store.c)
 * on the simulated shared device (disklock/bdev_sim.c): metadata slots,
 * entry-record chains in the ring and snapshot records, after any damage.
 *
 * Each input is a scenario. The target formats a small area (32 sectors: a
 * 7 KiB ring that fills and wraps, two 4 KiB snapshot regions), runs a
 * workload the input describes (appends, some replacing a suffix, hard
 * states, snapshots) through the real store, checking each load against a
 * model, then damages the area as the input says (byte patches anywhere;
 * metadata slots optionally with their CRC made valid again, so damage the
 * CRC would catch is not all the fuzzer makes) and loads it again.
 *
 * Checks: a load returns 0 or a -FL_E code, never crashes; without damage it
 * returns exactly what was written (term, vote, every entry still kept,
 * the snapshot); after damage a successful load is internally consistent
 * (entries contiguous, data inside bounds, no gap after the snapshot), and
 * the store then keeps working: a new append and hard state, loaded again by
 * a fresh store, come back with what the first load returned. */
#include "common/crc32c.h"
#include "common/le.h"
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "fencelock/error.h"
#include "plugin/arbiter/voter_store.h"
#include "raft/logstore.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SS 512u
#define AREA_OFF 4096u
#define AREA_BYTES (32u * SS)
#define DISK_BYTES (AREA_OFF + AREA_BYTES + 4096u)
#define MAX_IDX 512u
#define MAX_DATA 96u

struct model {
	uint64_t term, vote;
	uint64_t first, last;          /* entries [first, last]; last < first: none */
	uint64_t eterm[MAX_IDX];
	uint8_t elen[MAX_IDX];
	uint8_t edata[MAX_IDX][MAX_DATA];
	bool snap;
	uint64_t snap_index, snap_term;
	uint8_t snap_data[64];
	uint32_t snap_len;
};

struct world {
	struct fl_sim sim;
	struct fl_simclock clock;
	struct fl_simdisk disk;
	struct fl_simbdev *sb;
	struct raft_logstore *store;
};

struct waiter {
	struct raft_log_req req;
	bool done;
	int result;
};

static void waiter_cb(struct raft_log_req *req, int result)
{
	struct waiter *w = req->arg;
	w->done = true;
	w->result = result;
}

/* Submits and runs the simulated world until the callback ran. Returns the
 * submit error or the completion result. */
static int run_req(struct world *w, struct waiter *wt)
{
	wt->done = false;
	wt->req.cb = waiter_cb;
	wt->req.arg = wt;
	int rv = raft_logstore_submit(w->store, &wt->req);
	if (rv != 0)
		return rv;
	for (uint32_t i = 0; i < 100000 && !wt->done; i++)
		if (!fl_sim_step(&w->sim))
			break;
	FUZZ_CHECK(wt->done, "a voter store request never completed");
	return wt->result;
}

static void open_store(struct world *w)
{
	char err[256];
	struct voter_store_opts o = {.io_timeout_us = 2 * FL_US_PER_S};
	int rv = voter_store_open(&w->clock.base, fl_simbdev_bdev(w->sb), AREA_OFF, AREA_BYTES, &o, &w->store, err,
				  sizeof(err));
	FUZZ_CHECK(rv == 0, "voter_store_open failed: %s", err);
}

static int load(struct world *w, struct raft_log_loaded *out)
{
	struct waiter wt = {.req = {.op = RAFT_LOG_LOAD}};
	memset(out, 0, sizeof(*out));
	wt.req.load.out = out;
	return run_req(w, &wt);
}

/* The loaded state must be what the model says was written. */
static void check_loaded_equals_model(const struct raft_log_loaded *l, const struct model *m)
{
	FUZZ_CHECK(l->hard.term == m->term, "loaded term %llu, wrote %llu", (unsigned long long)l->hard.term,
		   (unsigned long long)m->term);
	FUZZ_CHECK(l->hard.vote == m->vote, "loaded vote differs from the one written");
	FUZZ_CHECK(l->have_snapshot == m->snap, "snapshot presence differs");
	if (m->snap) {
		FUZZ_CHECK(l->snapshot.index == m->snap_index, "snapshot index differs");
		FUZZ_CHECK(l->snapshot.term == m->snap_term, "snapshot term differs");
		FUZZ_CHECK(l->snapshot.data_len == m->snap_len, "snapshot length differs");
		FUZZ_CHECK(m->snap_len == 0 || memcmp(l->snapshot.data, m->snap_data, m->snap_len) == 0,
			   "snapshot data differs");
	}
	uint64_t last = l->n_entries ? l->entries[l->n_entries - 1].index : (m->snap ? m->snap_index : 0);
	uint64_t want_last = m->last >= m->first ? m->last : (m->snap ? m->snap_index : 0);
	FUZZ_CHECK(last == want_last || (l->n_entries == 0 && m->last < m->first),
		   "loaded log ends at %llu, wrote up to %llu", (unsigned long long)last, (unsigned long long)want_last);
	for (uint64_t i = 0; i < l->n_entries; i++) {
		const struct raft_entry *e = &l->entries[i];
		FUZZ_CHECK(e->index >= m->first, "loaded entry %llu was never written", (unsigned long long)e->index);
		FUZZ_CHECK(e->index <= m->last, "loaded entry %llu was never written", (unsigned long long)e->index);
		FUZZ_CHECK(e->term == m->eterm[e->index], "entry %llu has another term", (unsigned long long)e->index);
		FUZZ_CHECK(e->len == m->elen[e->index], "entry %llu has another length", (unsigned long long)e->index);
		FUZZ_CHECK(e->len == 0 || memcmp(e->data, m->edata[e->index], e->len) == 0,
			   "entry %llu has other data", (unsigned long long)e->index);
	}
}

/* Whatever the damage, a load that succeeds is a usable Raft log. */
static void check_loaded_consistent(const struct raft_log_loaded *l)
{
	for (uint64_t i = 0; i < l->n_entries; i++) {
		const struct raft_entry *e = &l->entries[i];
		FUZZ_CHECK(e->index == l->entries[0].index + i, "loaded entries are not contiguous at %llu",
			   (unsigned long long)i);
		FUZZ_CHECK(e->index > 0, "loaded entry with index 0");
		FUZZ_CHECK(e->len == 0 || e->data != NULL, "entry %llu without data", (unsigned long long)e->index);
	}
	if (l->have_snapshot && l->n_entries > 0)
		FUZZ_CHECK(l->entries[0].index <= l->snapshot.index + 1, "a gap between the snapshot and the log");
	if (l->have_snapshot)
		FUZZ_CHECK(l->snapshot.data_len == 0 || l->snapshot.data != NULL, "snapshot without data");
}

static void model_append(struct model *m, uint64_t at, uint32_t n, const struct raft_entry *e)
{
	if (m->last < m->first)
		m->first = at;
	for (uint32_t k = 0; k < n; k++) {
		m->eterm[at + k] = e[k].term;
		m->elen[at + k] = (uint8_t)e[k].len;
		memcpy(m->edata[at + k], e[k].data, e[k].len);
	}
	m->last = at + n - 1;
}

/* Workload step: appends 1..4 entries at an index in [low, next] (overwriting
 * a suffix, as a follower does); false when the index runs out of range. */
static bool step_append(struct world *w, struct model *m, struct fuzz_in *in, uint64_t low, uint64_t next)
{
	struct waiter wt;
	memset(&wt, 0, sizeof(wt));
	uint32_t n = 1 + fuzz_u8(in) % 4u;
	uint64_t at = next - (fuzz_u8(in) % (next - low + 1));
	if (at + n >= MAX_IDX)
		return false;
	static uint8_t bytes[4][MAX_DATA];
	struct raft_entry e[4];
	uint64_t t = at > 1 && at - 1 >= m->first && at - 1 <= m->last ? m->eterm[at - 1] : m->snap_term;
	for (uint32_t k = 0; k < n; k++) {
		t += fuzz_u8(in) % 2u;
		e[k] = (struct raft_entry){.term = t ? t : 1, .index = at + k, .type = RAFT_ENTRY_NORMAL,
					   .len = fuzz_u8(in) % MAX_DATA, .data = bytes[k]};
		memset(bytes[k], (int)(at + k), e[k].len);
	}
	wt.req.op = RAFT_LOG_APPEND;
	wt.req.append.entries = e;
	wt.req.append.n = n;
	int rv = run_req(w, &wt);
	FUZZ_CHECK(rv == 0 || rv == -FL_ENOSPC, "append of %u at %llu failed: %d", n, (unsigned long long)at, rv);
	if (rv == 0)
		model_append(m, at, n, e);
	return true;
}

/* Workload step: snapshots at an index the log holds, keeping 0..3 trailing entries. */
static void step_snapshot(struct world *w, struct model *m, struct fuzz_in *in)
{
	if (m->last < m->first)
		return;
	uint64_t idx = m->last - fuzz_u8(in) % (m->last - m->first + 1);
	if (m->snap && idx <= m->snap_index)
		return;
	struct waiter wt;
	memset(&wt, 0, sizeof(wt));
	struct raft_log_snapshot s = {.index = idx, .term = m->eterm[idx], .data_len = fuzz_u8(in) % 64u};
	uint8_t sd[64];
	memset(sd, 0x5a, sizeof(sd));
	s.data = sd;
	wt.req.op = RAFT_LOG_SNAPSHOT;
	wt.req.snapshot.snap = &s;
	wt.req.snapshot.trailing = fuzz_u8(in) % 4u;
	int rv = run_req(w, &wt);
	FUZZ_CHECK(rv == 0 || rv == -FL_ENOSPC, "snapshot at %llu failed: %d", (unsigned long long)idx, rv);
	if (rv != 0)
		return;
	m->snap = true;
	m->snap_index = idx;
	m->snap_term = s.term;
	m->snap_len = (uint32_t)s.data_len;
	memcpy(m->snap_data, sd, s.data_len);
	/* The store may drop entries the snapshot covers; the model keeps
	 * them, so a loaded entry is checked against what was written. */
}

/* One workload step from the input; returns false when the input ran out. */
static bool workload_step(struct world *w, struct model *m, struct fuzz_in *in)
{
	if (in->n == 0)
		return false;
	uint8_t op = fuzz_u8(in);
	uint64_t low = m->snap ? m->snap_index + 1 : 1, next = m->last >= m->first ? m->last + 1 : low;
	if (m->last >= m->first && m->first > low)
		low = m->first;
	switch (op % 4) {
	case 0:
	case 1:
		return step_append(w, m, in, low, next);
	case 2: {
		struct waiter wt;
		memset(&wt, 0, sizeof(wt));
		wt.req.op = RAFT_LOG_SET_HARD;
		wt.req.hard.term = m->term + fuzz_u8(in) % 3u;
		wt.req.hard.vote = fuzz_u8(in) % 4u;
		FUZZ_CHECK(run_req(w, &wt) == 0, "set hard state failed");
		m->term = wt.req.hard.term;
		m->vote = wt.req.hard.vote;
		return true;
	}
	default:
		step_snapshot(w, m, in);
		return true;
	}
}

/* Byte patches anywhere in the area; metadata slots optionally re-CRC'd.
 * Returns whether there was any. */
static bool damage(struct world *w, struct fuzz_in *in)
{
	uint8_t *area = w->disk.data + AREA_OFF;
	uint32_t n = fuzz_u8(in) % 8u;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t sector = fuzz_u8(in) % (AREA_BYTES / SS);
		uint32_t off = fuzz_u16(in) % SS, len = 1 + fuzz_u8(in) % 16u;
		uint8_t flags = fuzz_u8(in);
		for (uint32_t b = 0; b < len && off + b < SS; b++)
			area[sector * SS + off + b] = (flags & 2) ? 0 : fuzz_u8(in);
		if ((flags & 1) && sector < 2)
			fl_put_le32(area + sector * SS + 120, fl_crc32c_std(area + sector * SS, 120));
	}
	return n > 0;
}

static void world_free(struct world *w)
{
	if (w->store != NULL)
		raft_logstore_close(w->store);
	fl_bdev_close(fl_simbdev_bdev(w->sb));
	fl_simdisk_free(&w->disk);
	fl_simclock_free(&w->clock);
	fl_sim_free(&w->sim);
}

/* After a good load of a damaged area: one more append and hard state, then
 * a fresh store must load the first load's state plus those. */
static void check_keeps_working(struct world *w, const struct raft_log_loaded *l)
{
	uint64_t last = l->n_entries ? l->entries[l->n_entries - 1].index : (l->have_snapshot ? l->snapshot.index : 0);
	uint64_t term = l->n_entries ? l->entries[l->n_entries - 1].term : (l->have_snapshot ? l->snapshot.term : 1);
	uint8_t byte = 0x77;
	struct raft_entry e = {.term = term ? term : 1, .index = last + 1, .type = RAFT_ENTRY_NORMAL, .len = 1,
			       .data = &byte};
	struct waiter wt;
	memset(&wt, 0, sizeof(wt));
	wt.req.op = RAFT_LOG_APPEND;
	wt.req.append.entries = &e;
	wt.req.append.n = 1;
	int rv = run_req(w, &wt);
	if (rv == -FL_ENOSPC)
		return;
	FUZZ_CHECK(rv == 0, "append after a good load of a damaged area failed: %d", rv);
	memset(&wt, 0, sizeof(wt));
	wt.req.op = RAFT_LOG_SET_HARD;
	wt.req.hard.term = l->hard.term + 1;
	wt.req.hard.vote = 3;
	FUZZ_CHECK(run_req(w, &wt) == 0, "set hard state after a good load of a damaged area failed");
	raft_logstore_close(w->store);
	open_store(w);
	struct raft_log_loaded l2;
	FUZZ_CHECK(load(w, &l2) == 0, "the store's own writes after a damaged load do not load");
	FUZZ_CHECK(l2.hard.term == l->hard.term + 1, "hard state lost");
	FUZZ_CHECK(l2.hard.vote == 3, "vote lost");
	FUZZ_CHECK(l2.n_entries > 0, "appended entry lost");
	const struct raft_entry *t = &l2.entries[l2.n_entries - 1];
	FUZZ_CHECK(t->index == last + 1, "appended entry lost");
	FUZZ_CHECK(t->len == 1, "appended entry changed");
	FUZZ_CHECK(t->data[0] == 0x77, "appended entry changed");
	for (uint64_t i = 0; i < l->n_entries; i++) {
		const struct raft_entry *a = &l->entries[i];
		if (l2.n_entries == 0 || a->index < l2.entries[0].index)
			continue;
		const struct raft_entry *b = &l2.entries[a->index - l2.entries[0].index];
		FUZZ_CHECK(b->term == a->term, "entry %llu changed across a reload", (unsigned long long)a->index);
		FUZZ_CHECK(b->len == a->len, "entry %llu changed across a reload", (unsigned long long)a->index);
	}
	raft_log_loaded_free(&l2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	static struct world w;
	static struct model m;
	memset(&w, 0, sizeof(w));
	memset(&m, 0, sizeof(m));
	m.first = 1;
	FUZZ_CHECK(fl_sim_init(&w.sim, 1) == 0, "sim init failed");
	FUZZ_CHECK(fl_simclock_init(&w.clock, &w.sim, 0, 0) == 0, "clock init failed");
	FUZZ_CHECK(fl_simdisk_init(&w.disk, &w.sim, DISK_BYTES, SS) == 0, "disk init failed");
	w.sb = fl_simbdev_new(&w.disk, &w.clock.base, "fuzz-san", 1);
	FUZZ_CHECK(w.sb != NULL, "bdev failed");
	FUZZ_CHECK(voter_store_format_sync(fl_simbdev_bdev(w.sb), AREA_OFF, AREA_BYTES, NULL, 0) == 0, "format failed");
	open_store(&w);
	struct raft_log_loaded l;
	FUZZ_CHECK(load(&w, &l) == 0, "a formatted area does not load");
	raft_log_loaded_free(&l);
	struct fuzz_in in = {data, size};
	uint32_t steps = fuzz_u8(&in) % 48u;
	for (uint32_t k = 0; k < steps && workload_step(&w, &m, &in); k++)
		;
	raft_logstore_close(w.store);
	/* Opening a store costs a 1 MiB I/O buffer, slow under ASan: the
	 * undamaged round trip is checked when the input asks for no damage. */
	bool damaged = damage(&w, &in);
	open_store(&w);
	int rv = load(&w, &l);
	FUZZ_CHECK(rv <= 0, "load returned %d", rv);
	if (!damaged) {
		FUZZ_CHECK(rv == 0, "an undamaged area does not load (%d)", rv);
		check_loaded_equals_model(&l, &m);
	} else if (rv == 0) {
		check_loaded_consistent(&l);
		check_keeps_working(&w, &l);
	}
	raft_log_loaded_free(&l);
	world_free(&w);
	return 0;
}
