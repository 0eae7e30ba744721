/* Seeded random sweep of the Raft core in the deterministic fixture.
 *
 * Each seed builds a cluster of 3 or 5 servers and, for 30 simulated seconds,
 * mixes a write load with random faults: partitions, isolation in one or both
 * directions, message loss, duplication and reordering, crashes and restarts,
 * a hung log store, snapshots, leader crashes right after a write,
 * leadership transfers and (with five servers) membership changes. The fixture checks election safety, log
 * matching, leader completeness, state-machine safety and durability of
 * committed entries after every step. Then the network heals and every server
 * restarts: a leader must be elected and a new entry applied everywhere within
 * a bound. FL_RAFT_SEEDS=a..b (or =n for 1..n) runs a different range; the
 * default 1..200 keeps `make test` near a minute on two cores. FL_RAFT_SLOW=us
 * prints the seeds whose election after healing took longer than that. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/rand.h"
#include "fencelock/error.h"
#include "raft/fixture.h"
#include "raft/raft.h"

#define SEC 1000000ull

static uint64_t seed_lo = 1, seed_hi = 200;
static uint64_t worst_leader_us;

static void crash_or_restart(struct fx *c, uint64_t id, uint32_t n, uint32_t *crashed)
{
	if (fx_is_up(c, id) && *crashed < (n - 1) / 2 + 1) {
		fx_crash(c, id);
		(*crashed)++;
	} else if (!fx_is_up(c, id)) {
		fx_restart(c, id);
		(*crashed)--;
	}
}

/* Membership churn: remove or demote a voter (never below three voters) or
 * bring a removed server back as a learner; learners get promoted. */
static void membership_change(struct fx *c, struct fl_rand *r, uint32_t n)
{
	uint64_t l = fx_leader(c);
	if (l == 0)
		return;
	struct raft *lr = fx_raft(c, l);
	const struct raft_config *cfg = raft_configuration(lr, NULL);
	uint64_t id = 1 + fl_rand_below(r, n);
	int i = raft_config_find(cfg, id);
	int rv;
	if (i < 0)
		rv = raft_add(lr, fx_now(c), id);
	else if (cfg->servers[i].role == RAFT_LEARNER)
		rv = raft_promote(lr, fx_now(c), id);
	else if (raft_config_voters(cfg) > 3 && fl_rand_chance(r, 1, 2))
		rv = raft_remove(lr, fx_now(c), id);
	else if (raft_config_voters(cfg) > 3)
		rv = raft_demote(lr, fx_now(c), id);
	else
		return;
	(void)rv; /* busy or not caught up: fine, the sweep moves on */
	fx_drain(c, l);
}

static void random_fault(struct fx *c, struct fl_rand *r, uint32_t n, uint32_t *crashed)
{
	uint64_t id = 1 + fl_rand_below(r, n), l = fx_leader(c);
	switch (fl_rand_below(r, 12)) {
	case 0: fx_partition(c, fl_rand_below(r, 1u << (n + 1)) & ~1ull); break;
	case 1: fx_isolate(c, id, (enum fx_dir)fl_rand_below(r, 3)); break;
	case 2: fx_cut(c, id, 1 + fl_rand_below(r, n)); break;
	case 3: fx_heal(c); break;
	case 4: fx_set_drop(c, (uint32_t)fl_rand_below(r, 300)); break;
	case 5: fx_set_dup(c, (uint32_t)fl_rand_below(r, 200)); break;
	case 6: crash_or_restart(c, id, n, crashed); break;
	case 7:
		if (fx_is_up(c, id))
			fx_disk_hang(c, id, fl_rand_chance(r, 1, 2));
		break;
	case 8: /* the leader right after a write: Figure 8 material */
		if (l != 0) {
			(void)fx_propose(c, l, "doomed?", NULL);
			fx_run(c, fl_rand_below(r, 20000));
			if (fx_is_up(c, l))
				crash_or_restart(c, l, n, crashed);
		}
		break;
	case 9:
		if (l != 0 && id != l) {
			/* A nemesis step: a transfer refused (one in flight, a
			 * learner target) is as valid an outcome as one started. */
			int rv = raft_transfer(fx_raft(c, l), fx_now(c), id);
			assert_true(rv == 0 || rv == -FL_EBUSY || rv == -FL_EINVAL || rv == -FL_ENOTLEADER);
			fx_drain(c, l);
		}
		break;
	case 10:
		if (n == 5)
			membership_change(c, r, n);
		break;
	default: break;
	}
}

static void heal_everything(struct fx *c, uint32_t n)
{
	fx_heal(c);
	for (uint64_t id = 1; id <= n; id++) {
		if (!fx_is_up(c, id))
			fx_restart(c, id);
		fx_disk_hang(c, id, false);
	}
}

static void run_seed(uint64_t seed)
{
	struct fl_rand r;
	fl_rand_seed(&r, seed * 31 + 7);
	uint32_t n = fl_rand_chance(&r, 1, 2) ? 3 : 5;
	struct fx_opts o;
	fx_opts_default(&o);
	o.step_us = 10000;
	o.snapshot_every = fl_rand_chance(&r, 1, 2) ? 16 : 0;
	o.delay_max_us = 1000 + fl_rand_below(&r, 30000);
	o.disk_max_us = 2000 + fl_rand_below(&r, 150000); /* wide crash windows */
	/* every combination of pre-vote and check-quorum (etcd #8243, #9586);
	 * fencelock's own setting, both on, gets half of the seeds */
	uint64_t combo = fl_rand_below(&r, 6);
	o.pre_vote = combo != 4 && combo != 5;
	o.check_quorum = combo != 3 && combo != 5;
	struct fx *c = fx_new(n, seed, &o);
	uint32_t crashed = 0;
	char text[32];
	for (int round = 0; round < 60; round++) {
		if (fl_rand_chance(&r, 1, 3))
			random_fault(c, &r, n, &crashed);
		for (int k = 0; k < 3; k++) {
			uint64_t l = fx_leader(c);
			snprintf(text, sizeof(text), "s%llu-r%d-%d", (unsigned long long)seed, round, k);
			if (l != 0)
				(void)fx_propose(c, l, text, NULL);
		}
		fx_run(c, 500000);
	}
	heal_everything(c, n);
	/* Liveness after healing: a leader within 10 s (restarted servers
	 * ignore votes for E, a hung disk needs E to be noticed, a few election
	 * rounds), then a new entry applied by every member of its
	 * configuration. */
	uint64_t healed_us = fx_now(c);
	if (fx_wait_leader(c, 10 * SEC) == 0 && (fx_dump(c), 1))
		fail_msg("seed %llu: no leader within 10 s of healing", (unsigned long long)seed);
	uint64_t took_us = fx_now(c) - healed_us;
	if (took_us > worst_leader_us)
		worst_leader_us = took_us;
	if (getenv("FL_RAFT_SLOW") && took_us > strtoull(getenv("FL_RAFT_SLOW"), NULL, 10))
		printf("seed %llu: %llu ms to a leader after healing\n", (unsigned long long)seed,
		       (unsigned long long)(took_us / 1000));
	uint64_t idx = fx_propose_wait(c, "after-heal", 15 * SEC);
	if (idx == 0 && (fx_dump(c), 1))
		fail_msg("seed %llu: no leader committed an entry within 15 s of healing",
			 (unsigned long long)seed);
	uint64_t l = fx_wait_leader(c, 10 * SEC);
	if (l == 0 && (fx_dump(c), 1))
		fail_msg("seed %llu: no stable leader after healing", (unsigned long long)seed);
	const struct raft_config *cfg = raft_configuration(fx_raft(c, l), NULL);
	for (uint32_t i = 0; i < cfg->n; i++) {
		uint64_t id = cfg->servers[i].id;
		if (!fx_wait_applied(c, id, idx, 10 * SEC) && (fx_dump(c), 1))
			fail_msg("seed %llu: server %llu did not apply %llu within 10 s of healing",
				 (unsigned long long)seed, (unsigned long long)id,
				 (unsigned long long)idx);
	}
	fx_free(c);
}

static void random_faults_never_break_safety_and_a_healed_cluster_recovers(void **state)
{
	(void)state;
	for (uint64_t s = seed_lo; s <= seed_hi; s++)
		run_seed(s);
	printf("[ INFO     ] swept seeds %llu..%llu; slowest election after healing %llu ms\n",
	       (unsigned long long)seed_lo, (unsigned long long)seed_hi,
	       (unsigned long long)(worst_leader_us / 1000));
}

int main(void)
{
	const char *env = getenv("FL_RAFT_SEEDS");
	if (env != NULL) {
		const char *dots = strstr(env, "..");
		if (dots != NULL) {
			seed_lo = strtoull(env, NULL, 10);
			seed_hi = strtoull(dots + 2, NULL, 10);
		} else {
			seed_hi = strtoull(env, NULL, 10);
		}
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_faults_never_break_safety_and_a_healed_cluster_recovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
