/* Raft core, §5.1-§5.2 and §9.6: terms, elections, pre-vote, check-quorum,
 * randomized timeouts, driven through the deterministic fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "raft/fixture.h"
#include "raft/raft.h"

#define SEC 1000000ull

static void a_three_server_cluster_elects_one_leader(void **state)
{
	(void)state;
	struct fx *c = fx_new(3, 1, NULL);
	uint64_t l = fx_wait_leader(c, 10 * SEC);
	assert_true(l != 0);
	fx_run(c, 5 * SEC);
	assert_int_equal(fx_leader(c), l);
	fx_free(c);
}

static void a_single_server_elects_itself_and_commits(void **state)
{
	(void)state;
	struct fx *c = fx_new(1, 2, NULL);
	assert_int_equal(fx_wait_leader(c, 5 * SEC), 1);
	assert_true(fx_propose_wait(c, "x", 5 * SEC) > 0);
	fx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_three_server_cluster_elects_one_leader),
		cmocka_unit_test(a_single_server_elects_itself_and_commits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
