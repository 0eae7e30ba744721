/* The arbiter's limits against Raft's: every host of the largest cluster
 * (ARB_MAX_HOSTS, an even number) is a Raft member, a few of them voters and
 * the rest learners, and an even number of host voters needs the disk voter
 * as one more member, so a configuration must hold ARB_MAX_HOSTS + 1
 * servers. The static assertions in arb_internal.h pin the constants; these
 * tests pin the behaviour: such a configuration boots, encodes and decodes,
 * a leader of a full host set can still add the disk voter, the bootstrap
 * configuration bounds the voters, and learners never make a majority. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/assert.h"
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

/* One round: drains r's updates (persisting at once) and steps the answer
 * of hosts 2..1 + n_others and of `also` to what r sent: votes granted,
 * appends acknowledged up to r's last index. Returns how many answered. */
static uint32_t answer_round(struct raft *r, uint64_t now, uint32_t n_others, uint64_t also)
{
	static struct raft_msg out[RAFT_MAX_SERVERS * 8];
	uint32_t n = 0, answered = 0;
	for (int round = 0; round < 64; round++) {
		struct raft_update u;
		raft_ready(r, &u);
		for (uint32_t i = 0; i < u.n_msgs && n < FL_ARRAY_SIZE(out); i++) {
			out[n] = u.msgs[i];
			out[n].append.entries = NULL; /* not kept past this update */
			n++;
		}
		if (u.persist.has_hard_state)
			assert_int_equal(raft_persisted(r, u.persist.last_index, u.persist.term), 0);
		if (!u.persist.has_hard_state && u.n_committed == 0 && u.n_msgs == 0)
			break;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct raft_msg *m = &out[i];
		if (!((m->to >= 2 && m->to <= 1 + n_others) || (also != 0 && m->to == also)))
			continue;
		struct raft_msg a = {.from = m->to, .to = m->from, .term = m->term};
		if (m->type == RAFT_MSG_VOTE) {
			a.type = RAFT_MSG_VOTE_RESP;
			a.vote_resp.pre = m->vote.pre;
			a.vote_resp.granted = 1;
		} else if (m->type == RAFT_MSG_APPEND) {
			a.type = RAFT_MSG_APPEND_RESP;
			a.append_resp.success = 1;
			a.append_resp.match_index = raft_last_index(r);
		} else {
			continue;
		}
		assert_int_equal(raft_step(r, now, &a), 0);
		answered++;
	}
	return answered;
}

/* Rounds until r sends nothing more that needs an answer (bounded). */
static void answer(struct raft *r, uint64_t now, uint32_t n_others, uint64_t also)
{
	for (int i = 0; i < 16 && answer_round(r, now, n_others, also) > 0; i++)
		;
}

/* The largest even cluster: ARB_MAX_HOSTS host voters. Host 1 is elected by
 * the smallest majority (itself and ARB_MAX_HOSTS / 2 others), adds the disk
 * voter as a learner, commits that with the same majority, promotes it once
 * caught up, and commits the configuration of ARB_MAX_HOSTS + 1 voters, whose
 * majority is the same number of servers: the disk voter breaks a tie of two
 * halves without making a majority harder to reach. */
static void an_even_cluster_of_the_largest_size_adds_and_promotes_the_disk_voter(void **state)
{
	(void)state;
	const uint32_t half = ARB_MAX_HOSTS / 2;
	struct raft_config c;
	hosts_config(&c, ARB_MAX_HOSTS);
	assert_int_equal(raft_config_voters(&c), ARB_MAX_HOSTS);
	assert_int_equal(ARB_MAX_HOSTS % 2, 0);
	uint64_t now = SEC;
	struct raft *r = boot(&c, now);
	for (int i = 0; i < 10 && raft_state(r) != RAFT_LEADER; i++) {
		now += 3 * SEC;
		assert_int_equal(raft_tick(r, now), 0);
		answer(r, now, half, 0);
	}
	assert_int_equal(raft_state(r), RAFT_LEADER);
	/* The leader's first entry commits with half of the others. */
	for (int i = 0; i < 4 && raft_commit_index(r) < raft_last_index(r); i++)
		answer(r, now, half, 0);
	assert_int_equal(raft_commit_index(r), raft_last_index(r));
	assert_int_equal(raft_add(r, now, ARB_WITNESS_ID), 0);
	/* One host fewer than half of the others (and the learner) is no majority. */
	answer(r, now, half - 1, ARB_WITNESS_ID);
	assert_true(raft_commit_index(r) < raft_last_index(r));
	for (int i = 0; i < 8 && raft_commit_index(r) < raft_last_index(r); i++) {
		now += SEC / 10; /* the next heartbeat reaches the host that did not answer */
		assert_int_equal(raft_tick(r, now), 0);
		answer(r, now, half, ARB_WITNESS_ID);
	}
	uint64_t added_at = 0;
	const struct raft_config *got = raft_configuration(r, &added_at);
	assert_int_equal(got->n, ARB_MAX_HOSTS + 1);
	assert_true(raft_commit_index(r) >= added_at);
	assert_int_equal(raft_promote(r, now, ARB_WITNESS_ID), 0);
	for (int i = 0; i < 8 && (raft_config_voters(raft_configuration(r, NULL)) != ARB_MAX_HOSTS + 1 ||
				  raft_commit_index(r) < raft_last_index(r)); i++) {
		now += SEC / 10;
		assert_int_equal(raft_tick(r, now), 0);
		answer(r, now, half, ARB_WITNESS_ID);
	}
	uint64_t promoted_at = 0;
	got = raft_configuration(r, &promoted_at);
	assert_int_equal(got->n, ARB_MAX_HOSTS + 1);
	assert_int_equal(raft_config_voters(got), ARB_MAX_HOSTS + 1);
	assert_int_equal(got->servers[raft_config_find(got, ARB_WITNESS_ID)].role, RAFT_VOTER);
	assert_true(promoted_at > added_at);
	assert_true(raft_commit_index(r) >= promoted_at);
	assert_int_equal(raft_state(r), RAFT_LEADER);
	raft_free(r);
}

static uint32_t learners(const struct raft_config *c)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < c->n; i++)
		n += c->servers[i].role == RAFT_LEARNER;
	return n;
}

static void the_bootstrap_configuration_has_at_most_seven_voters_and_the_disk_voter_at_even_counts(void **state)
{
	(void)state;
	uint32_t ids[ARB_MAX_HOSTS + 1];
	struct raft_config c;
	for (uint32_t i = 0; i < ARB_MAX_HOSTS; i++)
		ids[i] = ARB_MAX_HOSTS - i; /* any order */
	assert_int_equal(arb_bootstrap_config(ids, ARB_MAX_HOSTS, &c), 0);
	assert_int_equal(c.n, ARB_MAX_HOSTS);
	assert_int_equal(raft_config_voters(&c), ARB_VOTERS_MAX);
	assert_int_equal(learners(&c), ARB_MAX_HOSTS - ARB_VOTERS_MAX);
	assert_true(raft_config_find(&c, ARB_WITNESS_ID) < 0); /* seven is odd */
	for (uint32_t h = 1; h <= ARB_VOTERS_MAX; h++)
		assert_int_equal(c.servers[raft_config_find(&c, h)].role, RAFT_VOTER); /* the lowest ids */
	/* Every host count up to the largest: the voters are min(n, 7), plus
	 * the disk voter exactly when that is even. */
	for (uint32_t n = 1; n <= ARB_MAX_HOSTS; n++) {
		for (uint32_t i = 0; i < n; i++)
			ids[i] = i + 1;
		assert_int_equal(arb_bootstrap_config(ids, n, &c), 0);
		uint32_t hv = n < ARB_VOTERS_MAX ? n : ARB_VOTERS_MAX;
		bool w = hv % 2 == 0;
		assert_int_equal(c.n, n + (w ? 1 : 0));
		assert_int_equal(raft_config_voters(&c), hv + (w ? 1 : 0));
		assert_int_equal(raft_config_find(&c, ARB_WITNESS_ID) >= 0, w);
		assert_true(raft_config_voters(&c) % 2 == 1); /* never an even number of voters */
	}
	ids[0] = 0;
	assert_int_equal(arb_bootstrap_config(ids, 3, &c), -FL_EINVAL);
	ids[0] = ARB_MAX_HOSTS + 1;
	assert_int_equal(arb_bootstrap_config(ids, 3, &c), -FL_EINVAL);
	ids[0] = 2;
	assert_int_equal(arb_bootstrap_config(ids, 3, &c), -FL_EINVAL); /* a duplicate */
	assert_int_equal(c.n, 0);
	for (uint32_t i = 0; i <= ARB_MAX_HOSTS; i++)
		ids[i] = i + 1;
	assert_int_equal(arb_bootstrap_config(ids, ARB_MAX_HOSTS + 1, &c), -FL_EINVAL);
}

/* Five voters of ARB_MAX_HOSTS members: every learner acknowledging an entry
 * commits nothing without a majority of the voters. */
static void learners_never_make_a_majority(void **state)
{
	(void)state;
	struct raft_config c;
	hosts_config(&c, ARB_VOTERS_DEFAULT);
	uint64_t now = SEC;
	struct raft *r = boot(&c, now);
	for (int i = 0; i < 10 && raft_state(r) != RAFT_LEADER; i++) {
		now += 3 * SEC;
		assert_int_equal(raft_tick(r, now), 0);
		answer(r, now, 2, 0); /* hosts 2 and 3: a majority of five */
	}
	assert_int_equal(raft_state(r), RAFT_LEADER);
	for (int i = 0; i < 4 && raft_commit_index(r) < raft_last_index(r); i++)
		answer(r, now, 2, 0);
	assert_int_equal(raft_commit_index(r), raft_last_index(r));
	uint64_t idx = 0;
	assert_int_equal(raft_propose(r, now, "x", 1, &idx), 0);
	/* Host 2 (a voter) and every learner answer: two of five voters. */
	for (int i = 0; i < 4; i++) {
		now += SEC / 10;
		assert_int_equal(raft_tick(r, now), 0);
		answer_round(r, now, 1, 0);
		for (uint64_t l = ARB_VOTERS_DEFAULT + 1; l <= ARB_MAX_HOSTS; l++)
			answer_round(r, now, 0, l);
	}
	assert_true(raft_commit_index(r) < idx);
	assert_int_equal(raft_state(r), RAFT_LEADER);
	/* A third voter commits it. */
	for (int i = 0; i < 4 && raft_commit_index(r) < idx; i++) {
		now += SEC / 10;
		assert_int_equal(raft_tick(r, now), 0);
		answer(r, now, 2, 0);
	}
	assert_true(raft_commit_index(r) >= idx);
	raft_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_host_set_plus_the_disk_voter_is_a_valid_configuration),
		cmocka_unit_test(a_leader_of_a_full_host_set_can_add_the_disk_voter),
		cmocka_unit_test(an_even_cluster_of_the_largest_size_adds_and_promotes_the_disk_voter),
		cmocka_unit_test(the_bootstrap_configuration_has_at_most_seven_voters_and_the_disk_voter_at_even_counts),
		cmocka_unit_test(learners_never_make_a_majority),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
