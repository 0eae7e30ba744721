/* Who may tell a host that it was removed, or where the members are
 * (plugin/arbiter/arb_join.c), on a simulated cluster of three:
 *   - a removal notice is believed from the leader this host follows, in
 *     its term, or, once this host hears no leader, from a member in a term
 *     not below its own; one from another member while a leader is heard,
 *     whatever term it claims, changes nothing (any host holding the
 *     cluster key could otherwise stop a healthy host with one message);
 *   - the notice carries its version byte before the term: a removal in a
 *     term other than 1 (here after a leader transfer) is still understood;
 *   - a host that is a settled member takes no member list (it would point
 *     its transport at the addresses a peer chose). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/le.h"
#include "common/log.h"
#include "common/loop.h"
#include "plugin/arbiter/arb_internal.h"
#include "raft/node.h"
#include "raft/raft.h"
#include "tests/sim/cluster.h"

#define S(x) ((uint64_t)(x)*FL_US_PER_S)

/* Three hosts, with a leader, running no VM (a host with VMs placed on it
 * is not removed). */
static struct simcl *three(uint64_t seed)
{
	struct simcl_params p = {.hosts = 3, .vms = 0, .seed = seed, .io_timeout_ms = 1000, .p_us = S(10), .max_drift_ppm = 200};
	struct simcl *c = simcl_new(&p);
	simcl_start_all(c);
	for (int i = 0; i < 30 && simcl_leader(c) == 0; i++)
		simcl_run_for(c, S(1));
	simcl_run_for(c, S(5));
	assert_int_not_equal(simcl_leader(c), 0);
	return c;
}

static uint64_t term_of(struct simcl *c, uint32_t h)
{
	return raft_term(raft_node_core(arb_raft(simcl_arb(c, h))));
}

static bool removed(struct simcl *c, uint32_t h)
{
	struct arb_status st;
	arb_status(simcl_arb(c, h), &st);
	return st.removed;
}

static void a_removal_notice_from_a_member_that_does_not_lead_is_not_believed(void **state)
{
	(void)state;
	struct simcl *c = three(41);
	uint32_t l = simcl_leader(c), v = l % 3 + 1, o = v % 3 + 1;
	uint64_t t = term_of(c, v);
	/* As the notice was laid out: kind, then the term (its low byte taken
	 * for the version: 257 passes it). */
	uint8_t old[1 + 1 + 8] = {'J', 3};
	fl_put_le64(old + 2, 257);
	arb_receive(simcl_arb(c, v), o, old, sizeof(old));
	/* Kind, version, term: a term far above the host's own. */
	uint8_t now[1 + 2 + 8] = {'J', 3, 1};
	fl_put_le64(now + 3, t + 1000);
	arb_receive(simcl_arb(c, v), o, now, sizeof(now));
	simcl_run_for(c, S(5));
	assert_false(removed(c, v));
	assert_int_equal(simcl_leader(c), l);
	simcl_free(c);
}

static void a_removed_host_is_told_in_any_term(void **state)
{
	(void)state;
	struct simcl *c = three(42);
	uint32_t l = simcl_leader(c), to = l % 3 + 1, chosen = 0;
	assert_int_equal(arb_leader_transfer(simcl_arb(c, l), to, &chosen), 0);
	simcl_run_for(c, S(5));
	l = simcl_leader(c);
	assert_int_equal(l, to);
	assert_true(term_of(c, l) % 256 != 1);
	uint32_t r = l % 3 + 1;
	int rv = -1;
	for (int i = 0; i < 20 && rv != 0; i++) {
		rv = simcl_remove(c, r);
		simcl_run_for(c, S(1));
	}
	assert_int_equal(rv, 0);
	simcl_run_for(c, S(10));
	assert_true(removed(c, r));
	simcl_free(c);
}

static void a_settled_member_takes_no_member_list(void **state)
{
	(void)state;
	struct simcl *c = three(43);
	uint32_t l = simcl_leader(c), v = l % 3 + 1, o = v % 3 + 1;
	assert_true(arb_join_settled(simcl_arb(c, v)));
	const char *addr = "192.0.2.9:4000";
	uint8_t b[1 + 6 + 5 + 16] = {'J', 2, 1};
	fl_put_le32(b + 3, 1);
	fl_put_le32(b + 7, l);
	b[11] = (uint8_t)strlen(addr);
	memcpy(b + 12, addr, strlen(addr));
	arb_receive(simcl_arb(c, v), o, b, (uint32_t)(12 + strlen(addr)));
	assert_string_equal(simcl_arb(c, v)->join.learned[l], "");
	simcl_free(c);
}

int main(void)
{
	fl_log_set_level(getenv("FL_SIM_DEBUG") ? LOG_DEBUG : LOG_CRIT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_removal_notice_from_a_member_that_does_not_lead_is_not_believed),
		cmocka_unit_test(a_removed_host_is_told_in_any_term),
		cmocka_unit_test(a_settled_member_takes_no_member_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
