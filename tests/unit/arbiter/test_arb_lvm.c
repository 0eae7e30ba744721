/* The legal edges of a local VM's state (arb_lvm_edge_legal, asserted by
 * arb_lvm_set_state on every change) keep the lease rule: a VM runs only
 * after every volume lease was acquired, and its record goes idle only after
 * every lease was given back. The diagram in docs/pictures.md is compared
 * with the same table by t_docs_diagrams_match_code.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "plugin/arbiter/arb_internal.h"

#define N_STATES (LVM_ABORTING + 1)

static void running_is_entered_only_from_acquiring(void **state)
{
	(void)state;
	for (int s = 0; s < N_STATES; s++)
		assert_int_equal(arb_lvm_edge_legal((enum arb_lvm_state)s, LVM_RUNNING), s == LVM_ACQUIRING);
}

static void idle_is_entered_only_after_the_leases_are_given_back(void **state)
{
	(void)state;
	for (int s = 0; s < N_STATES; s++)
		assert_int_equal(arb_lvm_edge_legal((enum arb_lvm_state)s, LVM_IDLE),
				 s == LVM_RELEASING || s == LVM_ABORTING);
}

static void a_running_vm_never_skips_the_release(void **state)
{
	(void)state;
	assert_false(arb_lvm_edge_legal(LVM_RUNNING, LVM_IDLE));
	assert_false(arb_lvm_edge_legal(LVM_RUNNING, LVM_ABORTING));
	assert_false(arb_lvm_edge_legal(LVM_KILLING, LVM_IDLE));
	assert_false(arb_lvm_edge_legal(LVM_KILLING, LVM_RUNNING));
	assert_false(arb_lvm_edge_legal(LVM_IDLE, LVM_RUNNING));
}

static void no_state_is_its_own_successor(void **state)
{
	(void)state;
	for (int s = 0; s < N_STATES; s++)
		assert_false(arb_lvm_edge_legal((enum arb_lvm_state)s, (enum arb_lvm_state)s));
}

/* Every state is reachable from IDLE and leads back to it (no dead end). */
static void every_state_lies_on_a_cycle_through_idle(void **state)
{
	(void)state;
	bool from_idle[N_STATES] = {[LVM_IDLE] = true}, to_idle[N_STATES] = {[LVM_IDLE] = true};
	for (int round = 0; round < N_STATES; round++)
		for (int a = 0; a < N_STATES; a++)
			for (int b = 0; b < N_STATES; b++) {
				if (!arb_lvm_edge_legal((enum arb_lvm_state)a, (enum arb_lvm_state)b))
					continue;
				from_idle[b] = from_idle[b] || from_idle[a];
				to_idle[a] = to_idle[a] || to_idle[b];
			}
	for (int s = 0; s < N_STATES; s++) {
		assert_true(from_idle[s]);
		assert_true(to_idle[s]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(running_is_entered_only_from_acquiring),
		cmocka_unit_test(idle_is_entered_only_after_the_leases_are_given_back),
		cmocka_unit_test(a_running_vm_never_skips_the_release),
		cmocka_unit_test(no_state_is_its_own_successor),
		cmocka_unit_test(every_state_lies_on_a_cycle_through_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
