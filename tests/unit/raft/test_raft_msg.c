/* Wire codec of Raft messages and configurations (raft/msg.h) and the core's
 * defence against malformed messages: every type round-trips; every
 * truncation, every trailing byte, a wrong version, counts over their bounds
 * are refused with an error; random and mutated buffers never crash the
 * decoder, and whatever decodes never crashes a core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/rand.h"
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/msg.h"
#include "raft/raft.h"

#define SEC 1000000ull
#define T0 SEC

static uint8_t data_a[5] = {1, 2, 3, 4, 5};

static struct raft_entry ents[2] = {
	{.term = 3, .index = 8, .type = RAFT_ENTRY_NORMAL, .len = 5, .data = data_a},
	{.term = 3, .index = 9, .type = RAFT_ENTRY_NOOP, .len = 0, .data = NULL},
};

/* One message of each type, with every field set. */
static struct raft_msg sample(uint8_t type)
{
	struct raft_msg m = fx_msg(type, 7, 9, 3);
	switch (type) {
	case RAFT_MSG_APPEND:
		m.append = (struct raft_msg_append){.prev_index = 7, .prev_term = 2, .commit = 6,
						    .lease_ctx = 123456, .n_entries = 2,
						    .entries = ents};
		break;
	case RAFT_MSG_APPEND_RESP:
		m.append_resp = (struct raft_msg_append_resp){0, 1, 5, 4, 2, 11, 99};
		break;
	case RAFT_MSG_VOTE:
		m.vote = (struct raft_msg_vote){.pre = 1, .transfer = 0, .last_index = 9,
						.last_term = 3};
		break;
	case RAFT_MSG_VOTE_RESP:
		m.vote_resp = (struct raft_msg_vote_resp){.pre = 1, .granted = 1};
		break;
	case RAFT_MSG_SNAPSHOT:
		m.snapshot.index = 40;
		m.snapshot.snap_term = 2;
		m.snapshot.lease_ctx = 77;
		m.snapshot.config.n = 2;
		m.snapshot.config.servers[0] = (struct raft_server){7, RAFT_VOTER};
		m.snapshot.config.servers[1] = (struct raft_server){9, RAFT_LEARNER};
		m.snapshot.len = 5;
		m.snapshot.data = data_a;
		break;
	default:
		break;
	}
	return m;
}

static size_t encode(const struct raft_msg *m, uint8_t *buf, size_t cap)
{
	int n = raft_msg_encode(m, buf, cap);
	assert_true(n > 0);
	assert_int_equal((size_t)n, raft_msg_encoded_size(m));
	return (size_t)n;
}

static void every_message_type_round_trips(void **state)
{
	(void)state;
	for (uint8_t t = 1; t < RAFT_MSG_TYPE_MAX; t++) {
		struct raft_msg m = sample(t), d;
		uint8_t buf[512], again[512];
		size_t n = encode(&m, buf, sizeof(buf));
		assert_int_equal(raft_msg_decode(buf, n, &d), 0);
		assert_int_equal(d.type, t);
		assert_int_equal(d.from, 7);
		assert_int_equal(d.to, 9);
		assert_int_equal(d.term, 3);
		assert_int_equal(encode(&d, again, sizeof(again)), n);
		assert_memory_equal(buf, again, n);
		if (t == RAFT_MSG_APPEND) {
			assert_int_equal(d.append.n_entries, 2);
			assert_memory_equal(d.append.entries[0].data, data_a, 5);
			assert_null(d.append.entries[1].data);
		}
		if (t == RAFT_MSG_SNAPSHOT)
			assert_int_equal(d.snapshot.config.servers[1].role, RAFT_LEARNER);
		raft_msg_release(&d);
	}
}

static void every_truncation_of_a_message_is_refused(void **state)
{
	(void)state;
	for (uint8_t t = 1; t < RAFT_MSG_TYPE_MAX; t++) {
		struct raft_msg m = sample(t), d;
		uint8_t buf[512];
		size_t n = encode(&m, buf, sizeof(buf));
		for (size_t k = 0; k < n; k++) {
			uint8_t *cut = malloc(k ? k : 1); /* exact size: ASan sees over-reads */
			memcpy(cut, buf, k);
			assert_int_equal(raft_msg_decode(cut, k, &d), -FL_EINVAL);
			free(cut);
		}
	}
}

static void trailing_bytes_are_refused(void **state)
{
	(void)state;
	struct raft_msg m = sample(RAFT_MSG_VOTE), d;
	uint8_t buf[512];
	size_t n = encode(&m, buf, sizeof(buf));
	buf[n] = 0;
	assert_int_equal(raft_msg_decode(buf, n + 1, &d), -FL_EINVAL);
}

static void another_version_is_refused_as_such(void **state)
{
	(void)state;
	struct raft_msg m = sample(RAFT_MSG_VOTE), d;
	uint8_t buf[512];
	size_t n = encode(&m, buf, sizeof(buf));
	buf[4] = RAFT_MSG_VERSION + 1;
	assert_int_equal(raft_msg_decode(buf, n, &d), -FL_EVERSION);
	buf[4] = RAFT_MSG_VERSION;
	buf[0] ^= 0xff; /* magic */
	assert_int_equal(raft_msg_decode(buf, n, &d), -FL_EINVAL);
}

static void an_entry_count_beyond_the_buffer_is_refused_before_allocating(void **state)
{
	(void)state;
	struct raft_msg m = sample(RAFT_MSG_APPEND), d;
	uint8_t buf[512];
	size_t n = encode(&m, buf, sizeof(buf));
	size_t count_at = 4 + 1 + 1 + 24 + 32;
	buf[count_at + 3] = 0x7f; /* 2 -> ~2^30 entries */
	assert_int_equal(raft_msg_decode(buf, n, &d), -FL_EINVAL);
}

static void an_encoder_refuses_a_buffer_too_small_or_an_unknown_type(void **state)
{
	(void)state;
	struct raft_msg m = sample(RAFT_MSG_APPEND);
	uint8_t buf[512];
	size_t n = raft_msg_encoded_size(&m);
	assert_int_equal(raft_msg_encode(&m, buf, n - 1), -FL_EINVAL);
	m.type = 42;
	assert_int_equal(raft_msg_encode(&m, buf, sizeof(buf)), -FL_EINVAL);
}

static void a_configuration_round_trips_and_bad_ones_are_refused(void **state)
{
	(void)state;
	struct raft_config c = {.n = 3}, d;
	for (uint32_t i = 0; i < 3; i++)
		c.servers[i] = (struct raft_server){.id = 100 + i, .role = RAFT_VOTER};
	c.servers[2].role = RAFT_LEARNER;
	uint8_t buf[256];
	int n = raft_config_encode(&c, buf, sizeof(buf));
	assert_int_equal(n, (int)raft_config_encoded_size(&c));
	assert_int_equal(raft_config_decode(buf, (size_t)n, &d), 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(d.servers[i].id, c.servers[i].id);
		assert_int_equal(d.servers[i].role, c.servers[i].role);
	}
	assert_int_equal(raft_config_voters(&d), 2);
	for (int k = 0; k < n; k++)
		assert_int_equal(raft_config_decode(buf, (size_t)k, &d), -FL_EINVAL);
	c.servers[1].id = 100; /* duplicate */
	assert_int_equal(raft_config_encode(&c, buf, sizeof(buf)), -FL_EINVAL);
	c.servers[1].id = 0;
	assert_int_equal(raft_config_encode(&c, buf, sizeof(buf)), -FL_EINVAL);
	c.servers[1].id = 101;
	c.servers[1].role = 9;
	assert_int_equal(raft_config_encode(&c, buf, sizeof(buf)), -FL_EINVAL);
}

static void random_bytes_never_crash_the_decoder(void **state)
{
	(void)state;
	struct fl_rand r;
	fl_rand_seed(&r, 5);
	uint32_t ok = 0;
	for (int i = 0; i < 200000; i++) {
		size_t len = fl_rand_below(&r, 200);
		uint8_t *buf = malloc(len ? len : 1);
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)fl_rand_next(&r);
		if (len >= 5 && fl_rand_chance(&r, 1, 2)) { /* get past the magic */
			uint32_t magic = RAFT_MSG_MAGIC;
			memcpy(buf, &magic, 4);
			buf[4] = RAFT_MSG_VERSION;
		}
		struct raft_msg d;
		int rv = raft_msg_decode(buf, len, &d);
		assert_true(rv == 0 || rv == -FL_EINVAL || rv == -FL_EVERSION);
		ok += rv == 0;
		raft_msg_release(&d);
		free(buf);
	}
	(void)ok;
}

/* Mutated valid messages: whatever decodes is handed to a core, which must
 * answer 0 or -FL_EINVAL and keep its invariants. */
static void mutated_messages_never_crash_the_decoder_or_a_core(void **state)
{
	(void)state;
	struct fl_rand r;
	fl_rand_seed(&r, 6);
	struct raft_entry boot[3] = {{.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
				     {.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP},
				     {.term = 3, .index = 3, .type = RAFT_ENTRY_NOOP}};
	struct fx_outbox ob;
	uint32_t stepped = 0;
	for (int i = 0; i < 20000; i++) {
		struct raft *core = fx_core_new(9, 9, 3, boot, 3, i % 2, i % 3 != 0, T0);
		if (i % 4 == 0)
			fx_core_make_leader(core, T0, &ob);
		struct raft_msg m = sample((uint8_t)(1 + fl_rand_below(&r, RAFT_MSG_TYPE_MAX - 1))), d;
		uint8_t buf[512];
		size_t n = encode(&m, buf, sizeof(buf));
		for (int k = 0, flips = 1 + (int)fl_rand_below(&r, 4); k < flips; k++)
			buf[6 + fl_rand_below(&r, n - 6)] = (uint8_t)fl_rand_next(&r);
		if (raft_msg_decode(buf, n, &d) == 0) {
			int rv = raft_step(core, 10 * SEC, &d);
			assert_true(rv == 0 || rv == -FL_EINVAL);
			ob.n = 0;
			fx_core_pump(core, &ob, true);
			assert_true(raft_commit_index(core) <= raft_last_index(core));
			stepped += rv == 0;
			raft_msg_release(&d);
		}
		raft_free(core);
	}
	assert_true(stepped > 1000);
}

static void a_core_refuses_a_message_not_addressed_to_it(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND, 2, 3, 1);
	assert_int_equal(raft_step(r, T0, &m), -FL_EINVAL);
	m = fx_msg(RAFT_MSG_APPEND, 1, 1, 1); /* from itself */
	assert_int_equal(raft_step(r, T0, &m), -FL_EINVAL);
	m = fx_msg(0, 2, 1, 1);
	assert_int_equal(raft_step(r, T0, &m), -FL_EINVAL);
	raft_free(r);
}

static void a_core_refuses_an_append_with_a_malformed_configuration(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	uint8_t junk[7] = {1, 9, 9, 9, 9, 9, 9};
	struct raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .len = 7,
			       .data = junk};
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	m.append.entries = &e;
	m.append.n_entries = 1;
	assert_int_equal(raft_step(r, T0, &m), -FL_EINVAL);
	assert_int_equal(raft_last_index(r), 0);
	assert_int_equal(raft_configuration(r, NULL)->n, 3);
	raft_free(r);
}

static void a_core_refuses_entries_that_are_not_contiguous_or_from_the_future(void **state)
{
	(void)state;
	struct raft *r = fx_core_new(1, 3, 1, NULL, 0, true, true, T0);
	struct raft_entry e[2] = {{.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
				  {.term = 1, .index = 3, .type = RAFT_ENTRY_NOOP}};
	struct raft_msg m = fx_msg(RAFT_MSG_APPEND, 2, 1, 1);
	m.append.entries = e;
	m.append.n_entries = 2;
	assert_int_equal(raft_step(r, T0, &m), -FL_EINVAL);
	e[1].index = 2;
	e[1].term = 5; /* newer than the message's term */
	assert_int_equal(raft_step(r, T0, &m), -FL_EINVAL);
	assert_int_equal(raft_last_index(r), 0);
	raft_free(r);
}

static void a_core_refuses_to_start_from_a_corrupt_or_inconsistent_log(void **state)
{
	(void)state;
	struct raft_options o;
	raft_options_default(&o, 1, 1);
	uint8_t junk[3] = {9, 9, 9};
	struct raft_entry e[2] = {{.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
				  {.term = 1, .index = 2, .type = RAFT_ENTRY_CONFIG, .len = 3,
				   .data = junk}};
	struct raft_boot b = {.entries = e, .n_entries = 2};
	b.snapshot.config.n = 1;
	b.snapshot.config.servers[0] = (struct raft_server){1, RAFT_VOTER};
	struct raft *r = NULL;
	assert_int_equal(raft_new(&o, &b, T0, &r), -FL_ECORRUPT);
	e[1] = (struct raft_entry){.term = 1, .index = 3, .type = RAFT_ENTRY_NOOP}; /* gap */
	assert_int_equal(raft_new(&o, &b, T0, &r), -FL_EINVAL);
	e[1] = (struct raft_entry){.term = 1, .index = 2, .type = 77};
	assert_int_equal(raft_new(&o, &b, T0, &r), -FL_EINVAL);
	b.n_entries = 0;
	b.snapshot.config.servers[0].role = 5; /* bad configuration */
	assert_int_equal(raft_new(&o, &b, T0, &r), -FL_EINVAL);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_message_type_round_trips),
		cmocka_unit_test(every_truncation_of_a_message_is_refused),
		cmocka_unit_test(trailing_bytes_are_refused),
		cmocka_unit_test(another_version_is_refused_as_such),
		cmocka_unit_test(an_entry_count_beyond_the_buffer_is_refused_before_allocating),
		cmocka_unit_test(an_encoder_refuses_a_buffer_too_small_or_an_unknown_type),
		cmocka_unit_test(a_configuration_round_trips_and_bad_ones_are_refused),
		cmocka_unit_test(random_bytes_never_crash_the_decoder),
		cmocka_unit_test(mutated_messages_never_crash_the_decoder_or_a_core),
		cmocka_unit_test(a_core_refuses_a_message_not_addressed_to_it),
		cmocka_unit_test(a_core_refuses_an_append_with_a_malformed_configuration),
		cmocka_unit_test(a_core_refuses_entries_that_are_not_contiguous_or_from_the_future),
		cmocka_unit_test(a_core_refuses_to_start_from_a_corrupt_or_inconsistent_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
