/* The arbiter's limits against Raft's: the largest cluster (ARB_MAX_HOSTS
 * hosts, all of them voters, an even number) needs the disk voter as one more
 * member, so a configuration must hold ARB_MAX_HOSTS + 1 servers. The static
 * assertion in arb_internal.h pins the constants; these tests pin the
 * behaviour: such a configuration boots, encodes and decodes, and a leader of
 * a full host set can still add the disk voter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"
#include "raft/raft.h"

#define SEC 1000000ull

/* Hosts 1..ARB_MAX_HOSTS; voters the first n_voters of them, the rest learners. */
static void hosts_config(struct raft_config *c, uint32_t n_voters)
{
	memset(c, 0, sizeof(*c));
	for (uint32_t h = 1; h <= ARB_MAX_HOSTS; h++)
		c->servers[c->n++] = (struct raft_server){.id = h, .role = h <= n_voters ? RAFT_VOTER : RAFT_LEARNER};
}

static struct raft *boot(const struct raft_config *c, uint64_t now_us)
{
	struct raft_options o;
	raft_options_default(&o, 1, 7);
	struct raft_boot b;
	memset(&b, 0, sizeof(b));
	b.snapshot.config = *c;
	struct raft *r = NULL;
	assert_int_equal(raft_new(&o, &b, now_us, &r), 0);
	return r;
}

/* Acknowledges every persist part at once; messages to others are dropped. */
static void pump(struct raft *r)
{
	for (int round = 0; round < 64; round++) {
		struct raft_update u;
		raft_ready(r, &u);
		if (!u.persist.has_hard_state && u.n_committed == 0 && u.n_msgs == 0)
			return;
		if (u.persist.has_hard_state)
			assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
	}
}

static void a_full_host_set_plus_the_disk_voter_is_a_valid_configuration(void **state)
{
	(void)state;
	struct raft_config c, back;
	hosts_config(&c, ARB_MAX_HOSTS);
	assert_int_equal(ARB_MAX_HOSTS % 2, 0); /* an even voter count: the disk voter is needed */
	c.servers[c.n++] = (struct raft_server){.id = ARB_WITNESS_ID, .role = RAFT_VOTER};
	assert_int_equal(c.n, ARB_MAX_HOSTS + 1);
	uint8_t buf[1 + 4 + RAFT_MAX_SERVERS * 9];
	int n = raft_config_encode(&c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(raft_config_decode(buf, (size_t)n, &back), 0);
	assert_int_equal(back.n, ARB_MAX_HOSTS + 1);
	assert_int_equal(raft_config_voters(&back), ARB_MAX_HOSTS + 1);
	raft_free(boot(&c, SEC));
}

static void a_leader_of_a_full_host_set_can_add_the_disk_voter(void **state)
{
	(void)state;
	struct raft_config c;
	hosts_config(&c, 1); /* host 1 votes alone, so it elects itself */
	uint64_t now = SEC;
	struct raft *r = boot(&c, now);
	for (int i = 0; i < 10 && raft_state(r) != RAFT_LEADER; i++) {
		now += 3 * SEC;
		assert_int_equal(raft_tick(r, now), 0);
		pump(r);
	}
	assert_int_equal(raft_state(r), RAFT_LEADER);
	pump(r);
	assert_int_equal(raft_add(r, now, ARB_WITNESS_ID), 0);
	pump(r);
	const struct raft_config *got = raft_configuration(r, NULL);
	assert_int_equal(got->n, ARB_MAX_HOSTS + 1);
	assert_true(raft_config_find(got, ARB_WITNESS_ID) >= 0);
	/* The configuration is full now: the limit is where it should be. */
	if (RAFT_MAX_SERVERS == ARB_MAX_HOSTS + 1)
		assert_int_equal(raft_add(r, now, ARB_WITNESS_ID + 1), -FL_ENOSPC);
	raft_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_host_set_plus_the_disk_voter_is_a_valid_configuration),
		cmocka_unit_test(a_leader_of_a_full_host_set_can_add_the_disk_voter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
