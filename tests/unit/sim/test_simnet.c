/* Unit tests of the simulated network: cuts per direction, loss,
 * duplication, reordering, paused receivers, crashes, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "tests/sim/simnet.h"

#define N 3

struct world {
	struct fl_sim sim;
	struct fl_simclock clocks[N];
	struct fl_simclock *cp[N];
	struct simnet *net;
	uint32_t got[N + 1][N + 1];
	uint8_t last[N + 1][64];
	uint32_t order[64];
	uint32_t norder;
};

static void on_deliver(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, uint32_t len)
{
	struct world *w = ctx;
	w->got[from][to]++;
	memcpy(w->last[to], buf, len < 64 ? len : 64);
	if (w->norder < 64 && len >= 1)
		w->order[w->norder++] = buf[0];
}

static struct world *world_new(uint64_t seed)
{
	struct world *w = test_calloc(1, sizeof(*w));
	fl_sim_init(&w->sim, seed);
	for (int i = 0; i < N; i++) {
		fl_simclock_init(&w->clocks[i], &w->sim, 0, 0);
		w->cp[i] = &w->clocks[i];
	}
	w->net = simnet_new(&w->sim, N, w->cp, seed, on_deliver, w);
	return w;
}

static void world_free(struct world *w)
{
	simnet_free(w->net);
	for (int i = 0; i < N; i++)
		fl_simclock_free(&w->clocks[i]);
	fl_sim_free(&w->sim);
	test_free(w);
}

static void a_message_arrives_within_the_delay_bounds(void **state)
{
	(void)state;
	struct world *w = world_new(1);
	uint8_t msg[] = "hello";
	simnet_send(w->net, 1, 2, msg, sizeof(msg));
	fl_sim_run_until(&w->sim, 199);
	assert_int_equal(w->got[1][2], 0);
	fl_sim_run_until(&w->sim, 2000);
	assert_int_equal(w->got[1][2], 1);
	assert_string_equal((char *)w->last[2], "hello");
	world_free(w);
}

static void a_cut_link_drops_only_its_direction(void **state)
{
	(void)state;
	struct world *w = world_new(2);
	uint8_t m = 7;
	simnet_set_link(w->net, 1, 2, false);
	simnet_send(w->net, 1, 2, &m, 1);
	simnet_send(w->net, 2, 1, &m, 1);
	fl_sim_run_until(&w->sim, 10000);
	assert_int_equal(w->got[1][2], 0);
	assert_int_equal(w->got[2][1], 1);
	world_free(w);
}

static void cutting_a_link_loses_what_is_in_flight(void **state)
{
	(void)state;
	struct world *w = world_new(3);
	uint8_t m = 7;
	simnet_send(w->net, 1, 3, &m, 1);
	simnet_isolate(w->net, 3, false, true);
	fl_sim_run_until(&w->sim, 10000);
	assert_int_equal(w->got[1][3], 0);
	simnet_heal(w->net);
	simnet_send(w->net, 1, 3, &m, 1);
	fl_sim_run_until(&w->sim, 20000);
	assert_int_equal(w->got[1][3], 1);
	world_free(w);
}

static void a_split_separates_groups_and_keeps_links_inside(void **state)
{
	(void)state;
	struct world *w = world_new(4);
	uint32_t groups[N] = {0, 0, 1};
	uint8_t m = 1;
	simnet_split(w->net, groups);
	simnet_send(w->net, 1, 2, &m, 1);
	simnet_send(w->net, 1, 3, &m, 1);
	simnet_send(w->net, 3, 2, &m, 1);
	fl_sim_run_until(&w->sim, 10000);
	assert_int_equal(w->got[1][2], 1);
	assert_int_equal(w->got[1][3], 0);
	assert_int_equal(w->got[3][2], 0);
	world_free(w);
}

static void a_paused_receiver_gets_messages_only_after_resume(void **state)
{
	(void)state;
	struct world *w = world_new(5);
	uint8_t m = 1;
	fl_simclock_pause(&w->clocks[1]);
	simnet_send(w->net, 1, 2, &m, 1);
	fl_sim_run_until(&w->sim, 50000);
	assert_int_equal(w->got[1][2], 0);
	fl_simclock_resume(&w->clocks[1]);
	fl_sim_run_until(&w->sim, 50001);
	assert_int_equal(w->got[1][2], 1);
	world_free(w);
}

static void loss_and_duplication_follow_their_rates(void **state)
{
	(void)state;
	struct world *w = world_new(6);
	uint8_t m = 1;
	simnet_params(w->net)->loss_permille = 500;
	for (int i = 0; i < 1000; i++)
		simnet_send(w->net, 1, 2, &m, 1);
	fl_sim_run_until(&w->sim, 100000);
	assert_in_range(w->got[1][2], 400, 600);
	simnet_params(w->net)->loss_permille = 0;
	simnet_params(w->net)->dup_permille = 1000;
	simnet_send(w->net, 2, 3, &m, 1);
	fl_sim_run_until(&w->sim, 200000);
	assert_int_equal(w->got[2][3], 2);
	world_free(w);
}

static void messages_reorder_and_runs_replay_from_the_seed(void **state)
{
	(void)state;
	uint32_t first[64], n1;
	for (int run = 0; run < 2; run++) {
		struct world *w = world_new(7);
		for (uint8_t i = 0; i < 20; i++)
			simnet_send(w->net, 1, 2, &i, 1);
		fl_sim_run_until(&w->sim, 100000);
		assert_int_equal(w->norder, 20);
		if (run == 0) {
			memcpy(first, w->order, sizeof(first));
			n1 = w->norder;
			int inversions = 0;
			for (uint32_t i = 1; i < n1; i++)
				inversions += first[i] < first[i - 1];
			assert_true(inversions > 0);
		} else {
			assert_memory_equal(first, w->order, n1 * sizeof(uint32_t));
		}
		world_free(w);
	}
}

static void a_crashed_host_loses_its_in_flight_messages(void **state)
{
	(void)state;
	struct world *w = world_new(8);
	uint8_t m = 1;
	simnet_send(w->net, 1, 2, &m, 1);
	simnet_send(w->net, 3, 1, &m, 1);
	simnet_send(w->net, 3, 2, &m, 1);
	simnet_drop_host(w->net, 1);
	fl_sim_run_until(&w->sim, 10000);
	assert_int_equal(w->got[1][2] + w->got[3][1], 0);
	assert_int_equal(w->got[3][2], 1);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_message_arrives_within_the_delay_bounds),
		cmocka_unit_test(a_cut_link_drops_only_its_direction),
		cmocka_unit_test(cutting_a_link_loses_what_is_in_flight),
		cmocka_unit_test(a_split_separates_groups_and_keeps_links_inside),
		cmocka_unit_test(a_paused_receiver_gets_messages_only_after_resume),
		cmocka_unit_test(loss_and_duplication_follow_their_rates),
		cmocka_unit_test(messages_reorder_and_runs_replay_from_the_seed),
		cmocka_unit_test(a_crashed_host_loses_its_in_flight_messages),
	};
	return cmocka_run_group_tests_name("simnet", tests, NULL, NULL);
}
