/* Fuzz target: the replicated state machine's codecs and apply
 * (plugin/model/fsm.c): fsm_cmd_decode, fsm_apply, fsm_snapshot and
 * fsm_restore.
 *
 * The first input byte picks a mode (bits 0-1) and whether the target
 * recomputes the CRC of the fuzzed record (bit 2: fsm records carry a
 * CRC-32C that mutations almost never keep right):
 *   0  one encoded command: decode; a command that decodes re-encodes to
 *      exactly its bytes and applies to an FSM without breaking fsm_check;
 *   1  a sequence of commands built from the input's bytes (small id and uid
 *      ranges so that they collide, fill the tables and hit every rejection)
 *      encoded with the real encoder and applied to two FSMs in lockstep;
 *   2  a u16 length, an encoded snapshot of that length to restore into a
 *      populated FSM, then generated commands (as in mode 1) applied after;
 *   3  a sequence of raw encoded commands (u16 length before each).
 * Checks: fsm_check() holds after every apply and every restore; apply
 * consumes every entry (last_index advances, applied + rejected counts it)
 * and cluster time never goes back; two FSMs fed the same entries have
 * byte-identical snapshots; snapshot -> restore -> snapshot gives the same
 * bytes; a refused restore with a header error leaves the state untouched,
 * an inconsistent one leaves it empty; commands applied after any accepted
 * restore keep fsm_check. */
#include "common/crc32c.h"
#include "common/le.h"
#include "fencelock/error.h"
#include "plugin/model/fsm.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fsm_limits k_limits = {
	.max_hosts = FUZZ_FSM_MAX_HOSTS,
	.max_vms = FUZZ_FSM_MAX_VMS,
	.max_slots = FUZZ_FSM_MAX_SLOTS,
	.spec_max_bytes = FUZZ_FSM_SPEC_MAX,
};

static uint8_t *g_snap_a, *g_snap_b;
static size_t g_snap_cap;
/* Allocated once and emptied with fsm_reset() per input: allocating the
 * tables per input would cost more than the work under test. */
static struct fsm g_f, g_g, g_h;
static bool g_init;

/* Snapshot into *buf (g_snap_a or g_snap_b, grown as needed); returns its length. */
static size_t snap(const struct fsm *f, uint8_t **buf)
{
	size_t need = fsm_snapshot_size(f);
	if (need > g_snap_cap) {
		g_snap_a = realloc(g_snap_a, need);
		g_snap_b = realloc(g_snap_b, need);
		FUZZ_CHECK(g_snap_a != NULL, "out of memory");
		FUZZ_CHECK(g_snap_b != NULL, "out of memory");
		g_snap_cap = need;
	}
	size_t len = 0;
	int rv = fsm_snapshot(f, *buf, g_snap_cap, &len);
	FUZZ_CHECK(rv == 0, "snapshot of %zu bytes failed (%d)", need, rv);
	FUZZ_CHECK(len == need, "snapshot wrote %zu bytes, size said %zu", len, need);
	return len;
}

/* Applies one entry and checks what apply promises whatever it decides. */
static void apply_checked(struct fsm *f, const uint8_t *buf, size_t len)
{
	uint64_t index = f->last_index + 1, clock = f->clock_us;
	uint64_t counted = f->ctr.applied + f->ctr.rejected;
	int rv = fsm_apply(f, index, 1, buf, len);
	FUZZ_CHECK(rv <= 0, "apply returned %d", rv);
	FUZZ_CHECK(f->last_index == index, "apply did not consume entry %llu", (unsigned long long)index);
	FUZZ_CHECK(f->ctr.applied + f->ctr.rejected == counted + 1, "apply counted the entry %llu times",
		   (unsigned long long)(f->ctr.applied + f->ctr.rejected - counted));
	FUZZ_CHECK(f->clock_us >= clock, "cluster time went back");
	FUZZ_CHECK(fsm_check(f) == 0, "state inconsistent after applying a %s (rv %d)",
		   len >= 8 ? fsm_cmd_type_name((uint16_t)(buf[6] | buf[7] << 8)) : "?", rv);
}

static void fix_cmd_crc(uint8_t *buf, size_t len)
{
	if (len < FSM_CMD_HDR_BYTES)
		return;
	fl_put_le32(buf + 8, (uint32_t)(len - FSM_CMD_HDR_BYTES));
	uint32_t crc = fl_crc32c(0xFFFFFFFFu, buf, 12);
	fl_put_le32(buf + 12, ~fl_crc32c(crc, buf + 16, len - 16));
}

/* Mode 0: one raw command. */
static void one_command(struct fsm *f, uint8_t *buf, size_t len, bool fix)
{
	if (fix)
		fix_cmd_crc(buf, len);
	struct fsm_cmd c;
	int rv = fsm_cmd_decode(buf, len, &c);
	FUZZ_CHECK(rv <= 0, "decode returned %d", rv);
	if (rv == 0) {
		static uint8_t out[FSM_CMD_MAX_BYTES];
		size_t n = 0;
		rv = fsm_cmd_encode(&c, out, sizeof(out), &n);
		FUZZ_CHECK(rv == 0, "a decoded %s does not re-encode (%d)", fsm_cmd_type_name(c.type), rv);
		FUZZ_CHECK(n == len, "a decoded %s re-encodes to %zu bytes, not %zu", fsm_cmd_type_name(c.type),
			   n, len);
		FUZZ_CHECK(memcmp(out, buf, len) == 0, "a decoded %s re-encodes to other bytes",
			   fsm_cmd_type_name(c.type));
	}
	apply_checked(f, buf, len);
}

/* One command from the input's bytes, with ids, uids and paths in small
 * ranges so that commands collide and tables fill up. */
static void gen_cmd(struct fuzz_in *in, struct fsm_cmd *c, uint64_t *clock)
{
	memset(c, 0, sizeof(*c));
	c->type = (uint16_t)(1 + fuzz_u8(in) % (FSM_CMD_TYPE_END - 1));
	*clock += (uint64_t)fuzz_u8(in) * 100000u;
	c->stamp_us = *clock;
	uint8_t h = fuzz_u8(in);
	c->host_id = h == 255 ? fuzz_u32(in) : h % (FUZZ_FSM_MAX_HOSTS + 2);
	c->role = (uint8_t)(fuzz_u8(in) % 4);
	c->restart = (uint8_t)(fuzz_u8(in) % (FSM_RESTART_END + 1));
	c->flag = (uint8_t)(fuzz_u8(in) % 3);
	c->running = (uint8_t)(fuzz_u8(in) % 3);
	c->reason = (uint8_t)(fuzz_u8(in) % 5);
	snprintf(c->name, sizeof(c->name), "h%u", fuzz_u8(in) % 12u);
	snprintf(c->addr, sizeof(c->addr), "198.18.0.%u:7000", fuzz_u8(in) % 12u);
	snprintf(c->uid, sizeof(c->uid), "vm%u", fuzz_u8(in) % (FUZZ_FSM_MAX_VMS + 2));
	snprintf(c->volid, sizeof(c->volid), "id:v%u", fuzz_u8(in) % 12u);
	c->nvol = (uint8_t)(fuzz_u8(in) % (FSM_VOLS_MAX + 1));
	for (uint32_t i = 0; i < c->nvol; i++) {
		snprintf(c->vol[i].path, sizeof(c->vol[i].path), "/dev/v%u", fuzz_u8(in) % 12u);
		snprintf(c->vol[i].id, sizeof(c->vol[i].id), "id:v%u", fuzz_u8(in) % 12u);
		c->vol[i].ro = fuzz_u8(in) & 1;
	}
	c->ptol_us = (uint64_t)fuzz_u8(in) * 1000000u;
	c->incarnation = fuzz_u8(in) % 6u;
	c->fence_index = fuzz_u8(in) % 64u;
	c->until_us = *clock + (uint64_t)fuzz_u8(in) * 1000000u;
	uint8_t s = fuzz_u8(in);
	c->slot = s == 255 ? FSM_SLOT_ANY : s % (FUZZ_FSM_MAX_SLOTS + 2);
	c->origin.wall_us = *clock + fuzz_u8(in);
	c->origin.leader = fuzz_u8(in) % (FUZZ_FSM_MAX_HOSTS + 2);
	c->origin.by_host = fuzz_u8(in) % (FUZZ_FSM_MAX_HOSTS + 2);
	c->origin.by_op = fuzz_u8(in) & 1;
	c->origin.by_uid = fuzz_u8(in);
	c->origin.cause = (uint8_t)(fuzz_u8(in) % FSM_CAUSE_END);
	if (c->type == FSM_CMD_NOTE) { /* kinds and host states in range, sometimes out */
		c->flag = (uint8_t)(fuzz_u8(in) % (FSM_NOTE_END + 1));
		c->reason = (uint8_t)(fuzz_u8(in) % (FSM_CAUSE_LEFT + 2));
	}
	c->spec_len = fuzz_u8(in) % (FUZZ_FSM_SPEC_MAX + 8);
	if (c->spec_len > in->n)
		c->spec_len = (uint32_t)in->n;
	c->spec = in->p;
	in->p += c->spec_len;
	in->n -= c->spec_len;
}

/* Mode 1: generated commands applied to f and to a copy of it in lockstep. */
static void command_sequence(struct fsm *f, struct fuzz_in *in)
{
	struct fsm *g = &g_g;
	fsm_reset(g);
	size_t la = snap(f, &g_snap_a);
	FUZZ_CHECK(fsm_restore(g, g_snap_a, la) == 0, "an FSM's own snapshot does not restore");
	uint64_t clock = f->clock_us;
	static uint8_t buf[FSM_CMD_MAX_BYTES];
	for (uint32_t k = 0; k < 256 && in->n > 0; k++) {
		struct fsm_cmd c;
		gen_cmd(in, &c, &clock);
		size_t len = 0;
		if (fsm_cmd_encode(&c, buf, sizeof(buf), &len) != 0)
			continue;
		apply_checked(f, buf, len);
		apply_checked(g, buf, len);
	}
	la = snap(f, &g_snap_a);
	size_t lb = snap(g, &g_snap_b);
	FUZZ_CHECK(la == lb, "two FSMs fed the same entries differ");
	FUZZ_CHECK(memcmp(g_snap_a, g_snap_b, la) == 0, "two FSMs fed the same entries differ");
	fsm_reset(g);
	FUZZ_CHECK(fsm_restore(g, g_snap_a, la) == 0, "an FSM's own snapshot does not restore");
	FUZZ_CHECK(fsm_check(g) == 0, "a restored own snapshot is inconsistent");
	lb = snap(g, &g_snap_b);
	FUZZ_CHECK(la == lb, "snapshot -> restore -> snapshot differs");
	FUZZ_CHECK(memcmp(g_snap_a, g_snap_b, la) == 0, "snapshot -> restore -> snapshot differs");
}

/* Some content for a restore to replace: two hosts and a placed VM. */
static void populate(struct fsm *f)
{
	struct fsm_cmd c[4];
	memset(c, 0, sizeof(c));
	for (uint32_t i = 0; i < 2; i++) {
		c[i].type = FSM_CMD_HOST_ADD;
		c[i].host_id = i + 1;
		c[i].role = FSM_ROLE_VOTER;
		snprintf(c[i].name, sizeof(c[i].name), "h%u", i + 1);
		snprintf(c[i].addr, sizeof(c[i].addr), "198.18.0.%u:7000", i + 1);
	}
	c[2].type = FSM_CMD_VM_REGISTER;
	snprintf(c[2].uid, sizeof(c[2].uid), "vm0");
	c[2].restart = FSM_RESTART_ALWAYS;
	c[2].nvol = 1;
	snprintf(c[2].vol[0].path, sizeof(c[2].vol[0].path), "/dev/v0");
	snprintf(c[2].vol[0].id, sizeof(c[2].vol[0].id), "id:v0");
	c[3].type = FSM_CMD_VM_PLACE;
	snprintf(c[3].uid, sizeof(c[3].uid), "vm0");
	c[3].host_id = 1;
	for (uint32_t i = 0; i < 4; i++) {
		static uint8_t buf[FSM_CMD_MAX_BYTES];
		size_t len = 0;
		FUZZ_CHECK(fsm_cmd_encode(&c[i], buf, sizeof(buf), &len) == 0, "populate: encode failed");
		FUZZ_CHECK(fsm_apply(f, f->last_index + 1, 1, buf, len) == 0, "populate: command %u refused", i);
	}
}

static void check_restore_outcome(struct fsm *f, int rv, size_t before)
{
	if (rv == -FL_ECORRUPT) {
		for (uint32_t i = 0; i < k_limits.max_hosts; i++)
			FUZZ_CHECK(fsm_host_at(f, i) == NULL, "an inconsistent snapshot left host entry %u", i);
		for (uint32_t i = 0; i < k_limits.max_vms; i++)
			FUZZ_CHECK(fsm_vm_at(f, i) == NULL, "an inconsistent snapshot left VM entry %u", i);
	} else if (rv != 0) {
		size_t after = snap(f, &g_snap_b);
		FUZZ_CHECK(after == before, "a refused snapshot (%d) changed the state", rv);
		FUZZ_CHECK(memcmp(g_snap_a, g_snap_b, before) == 0, "a refused snapshot (%d) changed the state", rv);
	} else {
		size_t s1 = snap(f, &g_snap_a);
		fsm_reset(&g_h);
		FUZZ_CHECK(fsm_restore(&g_h, g_snap_a, s1) == 0, "the snapshot of a restored state does not restore");
		size_t s2 = snap(&g_h, &g_snap_b);
		FUZZ_CHECK(s1 == s2, "restore -> snapshot is not stable");
		FUZZ_CHECK(memcmp(g_snap_a, g_snap_b, s1) == 0, "restore -> snapshot is not stable");
	}
}

/* Mode 2: a fuzzed snapshot restored over a state with some content, then
 * generated commands: whatever state a snapshot leaves must apply safely. */
static void restore_snapshot(struct fsm *f, struct fuzz_in *in, bool fix)
{
	populate(f);
	size_t len = fuzz_u16(in);
	if (len > in->n)
		len = in->n;
	uint8_t *buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	fuzz_fill(in, buf, len);
	if (fix && len >= FSM_SNAP_HDR_BYTES) {
		fl_put_le32(buf + 8, (uint32_t)(len - FSM_SNAP_HDR_BYTES));
		fl_put_le32(buf + 12, fl_crc32c_std(buf + FSM_SNAP_HDR_BYTES, len - FSM_SNAP_HDR_BYTES));
	}
	size_t before = snap(f, &g_snap_a);
	int rv = fsm_restore(f, buf, len);
	free(buf);
	FUZZ_CHECK(rv <= 0, "restore returned %d", rv);
	FUZZ_CHECK(fsm_check(f) == 0, "state inconsistent after restore (rv %d)", rv);
	check_restore_outcome(f, rv, before);
	command_sequence(f, in);
}

/* Mode 3: raw commands, each preceded by its u16 length. */
static void raw_sequence(struct fsm *f, struct fuzz_in *in, bool fix)
{
	static uint8_t buf[FSM_CMD_MAX_BYTES + 1];
	while (in->n > 0) {
		size_t len = fuzz_u16(in);
		if (len > sizeof(buf))
			len = sizeof(buf);
		len = fuzz_fill(in, buf, len);
		if (fix)
			fix_cmd_crc(buf, len);
		apply_checked(f, buf, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	bool fix = (mode & 4) != 0;
	if (!g_init) {
		FUZZ_CHECK(fsm_init(&g_f, &k_limits) == 0, "fsm_init failed");
		FUZZ_CHECK(fsm_init(&g_g, &k_limits) == 0, "fsm_init failed");
		FUZZ_CHECK(fsm_init(&g_h, &k_limits) == 0, "fsm_init failed");
		g_init = true;
	}
	struct fsm *f = &g_f;
	fsm_reset(f);
	struct fuzz_in in = {data + 1, size - 1};
	switch (mode & 3) {
	case 0: {
		uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
		FUZZ_CHECK(copy != NULL, "out of memory");
		memcpy(copy, data + 1, size - 1);
		one_command(f, copy, size - 1, fix);
		free(copy);
		break;
	}
	case 1:
		command_sequence(f, &in);
		break;
	case 2:
		restore_snapshot(f, &in, fix);
		break;
	default:
		raw_sequence(f, &in, fix);
		break;
	}
	return 0;
}
