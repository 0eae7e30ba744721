/* Unit tests of the FSM's event history (plugin/model/fsm_events.c and the
 * snapshot codec in fsm.c): the events a crash story makes, in order, with
 * who and when from the commands' origin; repeats that make none; the ring's
 * bound and wrap; snapshot round trips; and the version 3 encodings (a
 * snapshot and a command written by the previous code) still decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/crc32c.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/model/fsm.h"
#include "model/fsm_v3_fixture.h"

struct tf {
	struct fsm f;
	uint64_t index;
	uint64_t term;
};

static uint8_t g_buf[FSM_CMD_MAX_BYTES];

static int setup(void **state)
{
	struct tf *t = calloc(1, sizeof(*t));
	struct fsm_limits l;
	fsm_limits_default(&l);
	l.max_hosts = 4;
	l.max_vms = 8;
	l.max_slots = 4;
	l.spec_max_bytes = 256;
	if (t == NULL || fsm_init(&t->f, &l) != 0)
		return -1;
	t->term = 1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tf *t = *state;
	fsm_free(&t->f);
	free(t);
	return 0;
}

/* Encodes c as leader 1 would propose it (wall clock = 1e15 + index s) and
 * applies it at the next index. */
static int submit(struct tf *t, struct fsm_cmd *c)
{
	size_t len = 0;
	c->stamp_us = 1000 + t->index;
	if (c->origin.leader == 0)
		c->origin.leader = 1;
	c->origin.wall_us = 1000000000000000ull + (t->index + 1) * 1000000ull;
	assert_int_equal(fsm_cmd_encode(c, g_buf, sizeof(g_buf), &len), 0);
	t->index++;
	int rv = fsm_apply(&t->f, t->index, t->term, g_buf, len);
	assert_int_equal(fsm_check(&t->f), 0);
	return rv;
}

static struct fsm_cmd *cmd(uint16_t type, uint32_t host, const char *uid)
{
	static struct fsm_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.host_id = host;
	if (uid != NULL)
		snprintf(c.uid, sizeof(c.uid), "%s", uid);
	return &c;
}

static void hosts(struct tf *t, uint32_t n)
{
	for (uint32_t h = 1; h <= n; h++) {
		struct fsm_cmd *c = cmd(FSM_CMD_HOST_ADD, h, NULL);
		c->role = FSM_ROLE_VOTER;
		snprintf(c->name, sizeof(c->name), "h%u", h);
		snprintf(c->addr, sizeof(c->addr), "10.0.0.%u:7000", h);
		assert_int_equal(submit(t, c), 0);
	}
}

static void vm_register(struct tf *t, const char *uid)
{
	struct fsm_cmd *c = cmd(FSM_CMD_VM_REGISTER, 1, uid);
	c->restart = FSM_RESTART_ALWAYS;
	c->nvol = 1;
	snprintf(c->vol[0].path, sizeof(c->vol[0].path), "/dev/vg/%s", uid);
	snprintf(c->vol[0].id, sizeof(c->vol[0].id), "id:%s", uid);
	c->origin.by_op = true;
	c->origin.by_uid = 1234;
	c->origin.by_host = 1;
	c->origin.cause = FSM_CAUSE_OPERATOR;
	assert_int_equal(submit(t, c), 0);
}

static int place(struct tf *t, const char *uid, uint32_t host, uint64_t inc, uint8_t cause)
{
	struct fsm_cmd *c = cmd(FSM_CMD_VM_PLACE, host, uid);
	c->incarnation = inc;
	c->origin.cause = cause;
	return submit(t, c);
}

static int report(struct tf *t, const char *uid, uint32_t host, uint64_t inc, bool running)
{
	struct fsm_cmd *c = cmd(FSM_CMD_VM_REPORT, host, uid);
	c->incarnation = inc;
	c->running = running;
	c->origin.by_host = host;
	return submit(t, c);
}

static int note(struct tf *t, uint8_t kind, uint32_t host, uint8_t state)
{
	struct fsm_cmd *c = cmd(FSM_CMD_NOTE, host, NULL);
	c->flag = kind;
	c->reason = state;
	c->origin.cause = state;
	return submit(t, c);
}

static const struct fsm_event *newest(const struct tf *t, uint64_t back)
{
	assert_true(t->f.ev_total > back);
	return fsm_event_get(&t->f, t->f.ev_total - 1 - back);
}

/* A crash story: vm1 runs on h2, h2 is DEAD, vm1 is placed on h3 and runs. */
static void test_crash_story(void **state)
{
	struct tf *t = *state;
	assert_int_equal(note(t, FSM_NOTE_LEADER, 0, 0), 0);
	hosts(t, 3);
	vm_register(t, "vm1");
	assert_int_equal(place(t, "vm1", 2, 0, FSM_CAUSE_PENDING), 0);
	assert_int_equal(report(t, "vm1", 2, 1, true), 0);
	assert_int_equal(note(t, FSM_NOTE_HOST_STATE, 2, FSM_CAUSE_DEAD), 0);
	assert_int_equal(place(t, "vm1", 3, 1, FSM_CAUSE_DEAD), 0);
	assert_int_equal(report(t, "vm1", 3, 2, true), 0);
	static const uint8_t kinds[] = {FSM_EV_LEADER, FSM_EV_HOST_ADD, FSM_EV_HOST_ADD, FSM_EV_HOST_ADD,
					FSM_EV_VM_REGISTER, FSM_EV_VM_PLACE, FSM_EV_VM_START, FSM_EV_HOST_STATE,
					FSM_EV_VM_PLACE, FSM_EV_VM_START};
	assert_int_equal(t->f.ev_total, sizeof(kinds));
	assert_int_equal(fsm_events_held(&t->f), sizeof(kinds));
	uint64_t last_index = 0;
	for (uint64_t s = 0; s < sizeof(kinds); s++) {
		const struct fsm_event *e = fsm_event_get(&t->f, s);
		assert_non_null(e);
		assert_int_equal(e->kind, kinds[s]);
		assert_int_equal(e->seq, s);
		assert_true(e->index > last_index);
		assert_int_equal(e->wall_us, 1000000000000000ull + e->index * 1000000ull);
		assert_int_equal(e->leader, 1);
		last_index = e->index;
	}
	const struct fsm_event *e = fsm_event_get(&t->f, 0);
	assert_int_equal(e->host_id, 1); /* the leader names itself */
	assert_int_equal(e->cause, FSM_CAUSE_NONE);
	e = fsm_event_get(&t->f, 4);
	assert_string_equal(e->uid, "vm1");
	assert_true(e->by_op);
	assert_int_equal(e->by_uid, 1234);
	assert_int_equal(e->cause, FSM_CAUSE_OPERATOR);
	e = newest(t, 1); /* placed on h3 from h2, because h2 is DEAD */
	assert_int_equal(e->host_id, 3);
	assert_int_equal(e->from_host, 2);
	assert_int_equal(e->cause, FSM_CAUSE_DEAD);
	assert_int_equal(e->value, 2);
	assert_false(e->by_op);
	e = newest(t, 2);
	assert_int_equal(e->host_id, 2);
	assert_int_equal(e->state, FSM_CAUSE_DEAD);
	e = newest(t, 0);
	assert_int_equal(e->host_id, 3);
	assert_int_equal(e->by_host, 3);
	assert_null(fsm_event_get(&t->f, t->f.ev_total));
	assert_string_equal(fsm_ev_kind_name(FSM_EV_VM_PLACE), "vm-placed");
	assert_string_equal(fsm_cause_name(FSM_CAUSE_DEAD), "DEAD");
}

/* Repeats that change nothing make no event; rejected commands make none. */
static void test_repeats_make_none(void **state)
{
	struct tf *t = *state;
	hosts(t, 2);
	vm_register(t, "vm1");
	vm_register(t, "vm1"); /* an update */
	assert_int_equal(place(t, "vm1", 2, 0, FSM_CAUSE_PENDING), 0);
	assert_int_equal(report(t, "vm1", 2, 1, true), 0);
	assert_int_equal(report(t, "vm1", 2, 1, true), 0);
	assert_int_equal(place(t, "vm1", 1, 0, FSM_CAUSE_PENDING), -FL_ESTALE);
	assert_int_equal(note(t, FSM_NOTE_HOST_STATE, 2, FSM_CAUSE_PARTITIONED), 0);
	assert_int_equal(note(t, FSM_NOTE_HOST_STATE, 2, FSM_CAUSE_PARTITIONED), -FL_EBUSY);
	assert_int_equal(note(t, FSM_NOTE_HOST_STATE, 2, FSM_CAUSE_ELECTED), -FL_EINVAL);
	assert_int_equal(note(t, FSM_NOTE_HOST_STATE, 9, FSM_CAUSE_UP), -FL_ENOENT);
	assert_int_equal(note(t, FSM_NOTE_VOTER, 2, 0), 0);
	assert_int_equal(note(t, FSM_NOTE_VOTER, 2, 0), -FL_EBUSY);
	struct fsm_cmd *c = cmd(FSM_CMD_FENCE_REQUEST, 2, NULL);
	c->reason = FSM_FENCE_PARTITIONED;
	assert_int_equal(submit(t, c), 0);
	uint64_t req = t->index;
	for (int i = 0; i < 2; i++) {
		c = cmd(FSM_CMD_FENCE_ACK, 2, NULL);
		c->fence_index = req;
		assert_int_equal(submit(t, c), 0);
	}
	/* 2 hosts, register, place, start, state, voter, fence request, ack */
	assert_int_equal(t->f.ev_total, 9);
	assert_int_equal(newest(t, 0)->kind, FSM_EV_FENCE_ACK);
	assert_int_equal(newest(t, 0)->value, req);
	assert_int_equal(newest(t, 1)->kind, FSM_EV_FENCE_REQUEST);
	assert_int_equal(newest(t, 1)->state, FSM_FENCE_PARTITIONED);
}

/* Alternating host states: every note is an event. */
static void churn(struct tf *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(note(t, FSM_NOTE_HOST_STATE, 1 + i % 2, i % 4 < 2 ? FSM_CAUSE_UP : FSM_CAUSE_PARTITIONED),
				 0);
}

static void test_ring_bound_and_wrap(void **state)
{
	struct tf *t = *state;
	hosts(t, 2);
	churn(t, FSM_EVENTS_MAX + 300);
	uint64_t total = 2 + FSM_EVENTS_MAX + 300;
	assert_int_equal(t->f.ev_total, total);
	assert_int_equal(fsm_events_held(&t->f), FSM_EVENTS_MAX);
	assert_null(fsm_event_get(&t->f, total - FSM_EVENTS_MAX - 1));
	assert_null(fsm_event_get(&t->f, 0));
	uint64_t prev = 0;
	for (uint64_t s = total - FSM_EVENTS_MAX; s < total; s++) {
		const struct fsm_event *e = fsm_event_get(&t->f, s);
		assert_non_null(e);
		assert_int_equal(e->seq, s);
		assert_true(e->index > prev);
		prev = e->index;
	}
	assert_int_equal(prev, t->index);
}

static size_t snap(const struct fsm *f, uint8_t **out)
{
	size_t cap = fsm_snapshot_size(f), len = 0;
	*out = malloc(cap);
	assert_non_null(*out);
	assert_int_equal(fsm_snapshot(f, *out, cap, &len), 0);
	assert_int_equal(len, cap);
	return len;
}

static void roundtrip(struct tf *t)
{
	uint8_t *a, *b;
	size_t la = snap(&t->f, &a);
	assert_int_equal(fl_get_le16(a + 4), FSM_SNAP_VERSION);
	struct fsm g;
	assert_int_equal(fsm_init(&g, &t->f.lim), 0);
	assert_int_equal(fsm_restore(&g, a, la), 0);
	assert_int_equal(g.ev_total, t->f.ev_total);
	assert_int_equal(fsm_events_held(&g), fsm_events_held(&t->f));
	for (uint64_t s = t->f.ev_total - fsm_events_held(&t->f); s < t->f.ev_total; s++)
		assert_memory_equal(fsm_event_get(&g, s), fsm_event_get(&t->f, s), sizeof(struct fsm_event));
	for (uint32_t h = 1; h <= 2 && fsm_host_find(&g, h) != NULL; h++) {
		assert_int_equal(fsm_host_find(&g, h)->noted_state, fsm_host_find(&t->f, h)->noted_state);
		assert_int_equal(fsm_host_find(&g, h)->noted_voter, fsm_host_find(&t->f, h)->noted_voter);
	}
	size_t lb = snap(&g, &b);
	assert_int_equal(lb, la);
	assert_memory_equal(a, b, la); /* equal states, byte-identical snapshots */
	fsm_free(&g);
	free(a);
	free(b);
}

static void test_snapshot_round_trip(void **state)
{
	struct tf *t = *state;
	roundtrip(t); /* empty */
	hosts(t, 2);
	vm_register(t, "vm1");
	assert_int_equal(note(t, FSM_NOTE_VOTER, 2, 0), 0);
	roundtrip(t); /* a few */
	churn(t, FSM_EVENTS_MAX + 7);
	roundtrip(t); /* wrapped */
}

/* A snapshot whose event section lies (more held than recorded) is refused. */
static void test_snapshot_bad_events(void **state)
{
	struct tf *t = *state;
	hosts(t, 2);
	uint8_t *a;
	size_t la = snap(&t->f, &a);
	/* The event section ends the snapshot: two host-added events of
	 * 8*5 + 4*5 + 4 + 2 bytes each after (total u64, held u32). */
	size_t ev = la - 2 * (8 * 5 + 4 * 5 + 4 + 2) - 12;
	assert_int_equal(fl_get_le64(a + ev), 2);
	fl_put_le32(a + ev + 8, 3);
	fl_put_le32(a + 12, fl_crc32c_std(a + FSM_SNAP_HDR_BYTES, la - FSM_SNAP_HDR_BYTES));
	assert_int_equal(fsm_restore(&t->f, a, la), -FL_ECORRUPT);
	assert_int_equal(t->f.ev_total, 0);
	free(a);
}

/* What the version 3 code wrote still restores and decodes. */
static void test_v3_snapshot_restores(void **state)
{
	struct tf *t = *state;
	struct fsm_limits l = {.max_hosts = 8, .max_vms = 8, .max_slots = 16, .spec_max_bytes = 64};
	fsm_free(&t->f);
	assert_int_equal(fsm_init(&t->f, &l), 0);
	assert_int_equal(fl_get_le16(k_v3_snapshot + 4), 3);
	assert_int_equal(fsm_restore(&t->f, k_v3_snapshot, sizeof(k_v3_snapshot)), 0);
	assert_int_equal(fsm_check(&t->f), 0);
	assert_int_equal(t->f.last_index, 5);
	assert_int_equal(fsm_events_held(&t->f), 0);
	assert_string_equal(fsm_host_find(&t->f, 2)->name, "h2");
	assert_true(fsm_host_find(&t->f, 1)->fence.active);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_non_null(vm);
	assert_int_equal(vm->desired_host, 2);
	assert_int_equal(vm->incarnation, 1);
	/* It goes on from there, now with a history. */
	t->index = t->f.last_index;
	assert_int_equal(report(t, "vm1", 2, 1, true), 0);
	assert_int_equal(t->f.ev_total, 1);
	roundtrip(t);
}

static void test_v3_command_decodes(void **state)
{
	struct tf *t = *state;
	struct fsm_cmd c;
	assert_int_equal(fl_get_le16(k_v3_place + 4), 3);
	assert_int_equal(fsm_cmd_decode(k_v3_place, sizeof(k_v3_place), &c), 0);
	assert_int_equal(c.type, FSM_CMD_VM_PLACE);
	assert_int_equal(c.host_id, 2);
	assert_int_equal(c.origin.leader, 0);
	assert_int_equal(c.origin.wall_us, 0);
	hosts(t, 2);
	vm_register(t, "vm1");
	t->index++;
	assert_int_equal(fsm_apply(&t->f, t->index, 1, k_v3_place, sizeof(k_v3_place)), 0);
	assert_int_equal(newest(t, 0)->kind, FSM_EV_VM_PLACE);
	assert_int_equal(newest(t, 0)->wall_us, 0); /* unknown, not invented */
	/* A NOTE is version 4 only. */
	struct fsm_cmd *n = cmd(FSM_CMD_NOTE, 1, NULL);
	n->flag = FSM_NOTE_VOTER;
	size_t len;
	assert_int_equal(fsm_cmd_encode(n, g_buf, sizeof(g_buf), &len), 0);
	fl_put_le16(g_buf + 4, 3);
	uint32_t crc = ~fl_crc32c(fl_crc32c(0xFFFFFFFFu, g_buf, 12), g_buf + 16, len - 16);
	fl_put_le32(g_buf + 12, crc);
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), -FL_EINVAL);
	fl_put_le16(g_buf + 4, FSM_CMD_VERSION + 1);
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), -FL_EVERSION);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_crash_story),
		T(test_repeats_make_none),
		T(test_ring_bound_and_wrap),
		T(test_snapshot_round_trip),
		T(test_snapshot_bad_events),
		T(test_v3_snapshot_restores),
		T(test_v3_command_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
