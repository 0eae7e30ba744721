/* Unit tests of host-state classification and the arbiter's timing decisions
 * (plugin/model/classify.c): docs/design.md's host-state table row by row, the
 * boundaries at P, D and F, and the safety cases (a blip never yields a
 * takeover, a STORAGE_LOST host waits D, a LEFT host is never taken over).
 * Timings are the defaults at T = 1 s: R 1 s, F 4 s, K 1 s, M 1 s, D 6 s,
 * P 10 s, network silence after 2 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "disklock/lockspace.h"
#include "disklock/timeouts.h"
#include "fencelock/error.h"
#include "plugin/model/classify.h"

#define S 1000000ull
#define MS 1000ull
#define T0 (1000 * S)   /* observer time at which the tests look */

static struct cls_timings tm(void)
{
	struct cls_timings t;
	cls_timings_default(&t, 1 * S, 10 * S);
	return t;
}

/* A host heard 100 ms ago with a lease that changed 500 ms ago. */
static struct cls_obs healthy(void)
{
	struct cls_obs o = {.net_age_us = 100 * MS, .disk = CLS_DISK_LIVE,
			    .disk_change_us = T0 - 500 * MS, .generation = 3};
	return o;
}

static enum cls_state classify(const struct cls_obs *o, uint64_t *ev)
{
	struct cls_timings t = tm();
	uint64_t dummy;
	return cls_classify(o, &t, T0, ev != NULL ? ev : &dummy);
}

/* ---- the table, row by row ---- */

static void heard_with_a_changing_lease_is_up_and_left_alone(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	struct cls_timings t = tm();
	assert_int_equal(classify(&o, NULL), CLS_UP);
	assert_false(cls_may_take_over(CLS_UP, 0, &t, T0));
	assert_false(cls_should_poison_pill(CLS_UP, 0, t.p_us, T0));
}

static void silent_with_a_changing_lease_is_partitioned_since_last_heard(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.net_age_us = 3 * S;
	uint64_t ev;
	assert_int_equal(classify(&o, &ev), CLS_PARTITIONED);
	assert_true(ev == T0 - 3 * S);
}

static void heard_with_a_stale_lease_is_storage_lost_since_its_last_change(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.disk = CLS_DISK_FAIL;
	o.disk_change_us = T0 - 4 * S;
	uint64_t ev;
	assert_int_equal(classify(&o, &ev), CLS_STORAGE_LOST);
	assert_true(ev == T0 - 4 * S);
}

static void silent_with_no_change_for_d_is_dead_and_taken_over_now(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	struct cls_timings t = tm();
	o.net_age_us = 7 * S;
	o.disk = CLS_DISK_DEAD;
	o.disk_change_us = T0 - 6 * S;
	assert_int_equal(classify(&o, NULL), CLS_DEAD);
	assert_true(cls_may_take_over(CLS_DEAD, T0, &t, T0));
}

static void mailbox_fenced_with_any_network_is_fenced_and_taken_over_now(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	uint64_t ages[3] = {0, 5 * S, CLS_NEVER};
	for (int i = 0; i < 3; i++) {
		struct cls_obs o = healthy();
		o.net_age_us = ages[i];
		o.fenced = true;
		assert_int_equal(classify(&o, NULL), CLS_FENCED);
	}
	assert_true(cls_may_take_over(CLS_FENCED, T0, &t, T0));
}

static void left_with_any_network_or_disk_is_left_and_never_taken_over(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	for (int d = CLS_DISK_FREE; d < CLS_DISK_END; d++) {
		struct cls_obs o = healthy();
		o.disk = (enum cls_disk)d;
		o.left = true;
		o.net_age_us = d % 2 ? CLS_NEVER : 0;
		o.fenced = d % 3 == 0;
		assert_int_equal(classify(&o, NULL), CLS_LEFT);
	}
	assert_false(cls_may_take_over(CLS_LEFT, 0, &t, T0));
	assert_false(cls_may_take_over(CLS_LEFT, 0, &t, UINT64_MAX));
}

/* ---- PARTITIONED: wait P, pill, take over only once it is harmless ---- */

static void partitioned_is_poison_pilled_only_after_more_than_p(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	uint64_t since = T0;
	assert_false(cls_should_poison_pill(CLS_PARTITIONED, since, t.p_us, since + t.p_us - 1));
	assert_false(cls_should_poison_pill(CLS_PARTITIONED, since, t.p_us, since + t.p_us));
	assert_true(cls_should_poison_pill(CLS_PARTITIONED, since, t.p_us, since + t.p_us + 1));
}

static void poison_pill_follows_a_per_vm_partition_tolerance(void **state)
{
	(void)state;
	uint64_t since = T0;
	assert_false(cls_should_poison_pill(CLS_PARTITIONED, since, 30 * S, since + 20 * S));
	assert_true(cls_should_poison_pill(CLS_PARTITIONED, since, 30 * S, since + 30 * S + 1));
}

static void partitioned_is_never_taken_over_however_long_it_lasts(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	for (uint64_t dt = 0; dt <= 1000 * S; dt += 7 * S)
		assert_false(cls_may_take_over(CLS_PARTITIONED, T0, &t, T0 + dt));
}

static void partitioned_that_acks_fenced_becomes_fenced(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	o.net_age_us = 12 * S;
	assert_int_equal(cls_update(&r, &o, &t, T0), CLS_PARTITIONED);
	o.net_age_us = 13 * S;
	o.fenced = true;
	assert_int_equal(cls_update(&r, &o, &t, T0 + S), CLS_FENCED);
	assert_true(r.since_us == T0 + S);
	assert_true(cls_may_take_over(CLS_FENCED, r.since_us, &t, T0 + S));
}

static void partitioned_whose_volume_leases_are_free_is_fenced(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.net_age_us = 12 * S;
	o.leases_free = true;
	assert_int_equal(classify(&o, NULL), CLS_FENCED);
	o.leases_free = false;
	assert_int_equal(classify(&o, NULL), CLS_PARTITIONED);
}

/* A 100 ms observer tick through a blip of P - 1 ms: nothing happens. */
static void blip_shorter_than_p_never_yields_a_pill_or_takeover(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	uint64_t last_heard = T0;
	for (int blip = 0; blip < 3; blip++) {
		uint64_t end = last_heard + t.p_us - MS;
		for (uint64_t now = last_heard; now < end; now += 100 * MS) {
			o.net_age_us = now - last_heard;
			o.disk_change_us = now - (now % S);
			enum cls_state s = cls_update(&r, &o, &t, now);
			assert_false(cls_may_take_over(s, r.since_us, &t, now));
			assert_false(cls_should_poison_pill(s, r.since_us, t.p_us, now));
		}
		last_heard = end;   /* heard again: the next blip starts here */
	}
	assert_int_equal(r.state, CLS_PARTITIONED);
}

/* ---- STORAGE_LOST: D after the last change, not before ---- */

static void storage_lost_is_not_taken_over_before_d(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	uint64_t change = T0;
	assert_false(cls_may_take_over(CLS_STORAGE_LOST, change, &t, change + t.d_us - 1));
	assert_true(cls_may_take_over(CLS_STORAGE_LOST, change, &t, change + t.d_us));
}

static void storage_lost_record_dates_from_the_last_disk_change(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	o.disk = CLS_DISK_FAIL;
	o.disk_change_us = T0 - 4 * S;
	assert_int_equal(cls_update(&r, &o, &t, T0), CLS_STORAGE_LOST);
	assert_false(cls_may_take_over(CLS_STORAGE_LOST, r.since_us, &t, T0 + 2 * S - 1));
	assert_true(cls_may_take_over(CLS_STORAGE_LOST, r.since_us, &t, T0 + 2 * S));
}

static void silent_host_with_a_stale_lease_waits_d_like_storage_lost(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_obs o = healthy();
	o.net_age_us = 5 * S;
	o.disk = CLS_DISK_FAIL;
	o.disk_change_us = T0 - 5 * S;
	uint64_t ev;
	assert_int_equal(classify(&o, &ev), CLS_STORAGE_LOST);
	assert_false(cls_may_take_over(CLS_STORAGE_LOST, ev, &t, T0));
	assert_true(cls_may_take_over(CLS_STORAGE_LOST, ev, &t, T0 + S));
}

static void heard_host_with_a_dead_lease_is_storage_lost_past_d(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_obs o = healthy();
	o.disk = CLS_DISK_DEAD;
	o.disk_change_us = T0 - 6 * S;
	uint64_t ev;
	assert_int_equal(classify(&o, &ev), CLS_STORAGE_LOST);
	assert_true(cls_may_take_over(CLS_STORAGE_LOST, ev, &t, T0));
}

/* ---- the cases the table leaves open ---- */

static void released_lease_and_silent_is_dead(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.net_age_us = CLS_NEVER;
	o.disk = CLS_DISK_FREE;
	assert_int_equal(classify(&o, NULL), CLS_DEAD);
}

static void released_lease_but_heard_waits_d_from_the_release(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.disk = CLS_DISK_FREE;
	o.disk_change_us = T0 - S;
	uint64_t ev;
	assert_int_equal(classify(&o, &ev), CLS_STORAGE_LOST);
	assert_true(ev == T0 - S);
}

static void unknown_or_unreadable_lease_never_allows_a_takeover(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	enum cls_disk d[2] = {CLS_DISK_UNKNOWN, CLS_DISK_ERROR};
	for (int i = 0; i < 2; i++) {
		struct cls_obs o = healthy();
		o.disk = d[i];
		assert_int_equal(classify(&o, NULL), CLS_UP);
		o.net_age_us = CLS_NEVER;
		assert_int_equal(classify(&o, NULL), CLS_PARTITIONED);
		assert_false(cls_may_take_over(CLS_PARTITIONED, 0, &t, T0));
	}
}

static void fenced_ack_with_a_dead_lease_is_dead(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.net_age_us = CLS_NEVER;
	o.disk = CLS_DISK_DEAD;
	o.fenced = true;
	assert_int_equal(classify(&o, NULL), CLS_DEAD);
}

static void network_silence_starts_after_the_heartbeat_threshold(void **state)
{
	(void)state;
	struct cls_obs o = healthy();
	o.net_age_us = 2 * S;
	assert_int_equal(classify(&o, NULL), CLS_UP);
	o.net_age_us = 2 * S + 1;
	assert_int_equal(classify(&o, NULL), CLS_PARTITIONED);
}

/* ---- the per-host record ---- */

static void record_keeps_the_entry_time_while_the_state_holds(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	assert_int_equal(cls_update(&r, &o, &t, T0), CLS_UP);
	assert_int_equal(cls_update(&r, &o, &t, T0 + 5 * S), CLS_UP);
	assert_true(r.since_us == T0);
	o.net_age_us = 3 * S;
	assert_int_equal(cls_update(&r, &o, &t, T0 + 6 * S), CLS_PARTITIONED);
	assert_true(r.since_us == T0 + 3 * S);
}

static void record_restarts_on_a_new_generation(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	o.disk = CLS_DISK_FAIL;
	o.disk_change_us = T0 - S;
	cls_update(&r, &o, &t, T0);
	o.generation++;
	o.disk_change_us = T0 + S;   /* the new life's first write */
	assert_int_equal(cls_update(&r, &o, &t, T0 + 2 * S), CLS_STORAGE_LOST);
	assert_true(r.since_us == T0 + S);
	assert_true(r.generation == o.generation);
}

static void record_moves_forward_when_a_missed_blip_shows_in_the_evidence(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	o.net_age_us = 3 * S;
	cls_update(&r, &o, &t, T0);          /* silent since T0 - 3 s */
	o.net_age_us = 3 * S;                /* heard at T0 + 5 s, between two looks */
	cls_update(&r, &o, &t, T0 + 8 * S);
	assert_true(r.since_us == T0 + 5 * S);
	assert_false(cls_should_poison_pill(CLS_PARTITIONED, r.since_us, t.p_us, T0 + 14 * S));
}

static void never_heard_host_counts_from_when_it_was_first_classified(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_record r = {0};
	struct cls_obs o = healthy();
	o.net_age_us = CLS_NEVER;
	assert_int_equal(cls_update(&r, &o, &t, T0), CLS_PARTITIONED);
	assert_true(r.since_us == T0);
	assert_int_equal(cls_update(&r, &o, &t, T0 + 9 * S), CLS_PARTITIONED);
	assert_false(cls_should_poison_pill(CLS_PARTITIONED, r.since_us, t.p_us, T0 + 10 * S));
	assert_true(cls_should_poison_pill(CLS_PARTITIONED, r.since_us, t.p_us, T0 + 10 * S + 1));
}

/* ---- the local host ---- */

static struct cls_local local_ok(void)
{
	struct cls_local l = {.quorate = true, .lease_held = true, .renewal_start_us = T0};
	return l;
}

static void not_quorate_self_fences_only_after_more_than_p(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_local l = local_ok();
	l.quorate = false;
	l.quorum_lost_us = T0;
	l.renewal_start_us = T0 + 10 * S;   /* renewals keep succeeding */
	assert_int_equal(cls_should_self_fence(&l, &t, t.p_us, T0 + t.p_us), CLS_KEEP);
	assert_int_equal(cls_should_self_fence(&l, &t, t.p_us, T0 + t.p_us + 1), CLS_FENCE_QUORUM);
	l.quorate = true;
	assert_int_equal(cls_should_self_fence(&l, &t, t.p_us, T0 + t.p_us + 1), CLS_KEEP);
}

static void renewal_not_completed_by_f_self_fences(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_local l = local_ok();
	assert_int_equal(cls_should_self_fence(&l, &t, t.p_us, T0 + t.f_us - 1), CLS_KEEP);
	assert_int_equal(cls_should_self_fence(&l, &t, t.p_us, T0 + t.f_us), CLS_FENCE_RENEWAL);
}

static void no_delta_lease_means_no_vm_may_run(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_local l = local_ok();
	l.lease_held = false;
	assert_int_equal(cls_should_self_fence(&l, &t, t.p_us, T0), CLS_FENCE_NO_LEASE);
	assert_false(cls_may_acquire(&l, &t, T0));
}

static void new_leases_need_quorum_and_a_valid_lease(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	struct cls_local l = local_ok();
	assert_true(cls_may_acquire(&l, &t, T0 + S));
	assert_false(cls_may_acquire(&l, &t, T0 + t.f_us));
	l.quorate = false;
	l.quorum_lost_us = T0;
	assert_false(cls_may_acquire(&l, &t, T0 + S));
}

/* ---- timings ---- */

static void default_timings_follow_the_architecture(void **state)
{
	(void)state;
	struct cls_timings t = tm();
	assert_int_equal(cls_timings_check(&t), 0);
	assert_true(t.f_us == 4 * S && t.d_us == 6 * S && t.p_us == 10 * S);
	t.d_us = t.f_us + t.k_us + t.m_us - 1;
	assert_int_equal(cls_timings_check(&t), -FL_EINVAL);
	t = tm();
	t.r_us = t.f_us;
	assert_int_equal(cls_timings_check(&t), -FL_EINVAL);
}

static void timings_from_the_lockspace_are_the_same_numbers(void **state)
{
	(void)state;
	struct ls_timing lt = {.renew_us = 1 * S, .fail_us = 4 * S, .kill_us = 1 * S,
			       .margin_us = 1 * S, .dead_us = 6 * S};
	struct cls_timings t, d = tm();
	cls_timings_from_ls(&t, &lt, 10 * S, 2 * S);
	assert_memory_equal(&t, &d, sizeof(t));
}

static void sanlock_timing_is_coherent_and_waits_its_longer_d(void **state)
{
	(void)state;
	/* sanlock at N = 10 s: renew 2N, fail 8N, dead 8N + 60 s, no K or M. */
	struct ls_timing lt = {.renew_us = 20 * S, .fail_us = 80 * S, .dead_us = 140 * S};
	struct cls_timings t;
	cls_timings_from_ls(&t, &lt, 10 * S, 2 * S);
	assert_int_equal(cls_timings_check(&t), 0);
	assert_false(cls_may_take_over(CLS_STORAGE_LOST, T0, &t, T0 + 139 * S));
	assert_true(cls_may_take_over(CLS_STORAGE_LOST, T0, &t, T0 + 140 * S));
}

static void lockspace_judgements_map_one_to_one_and_unknown_is_error(void **state)
{
	(void)state;
	assert_int_equal(cls_disk_from_ls(LS_HOST_FREE), CLS_DISK_FREE);
	assert_int_equal(cls_disk_from_ls(LS_HOST_UNKNOWN), CLS_DISK_UNKNOWN);
	assert_int_equal(cls_disk_from_ls(LS_HOST_LIVE), CLS_DISK_LIVE);
	assert_int_equal(cls_disk_from_ls(LS_HOST_FAIL), CLS_DISK_FAIL);
	assert_int_equal(cls_disk_from_ls(LS_HOST_DEAD), CLS_DISK_DEAD);
	assert_int_equal(cls_disk_from_ls(LS_HOST_ERROR), CLS_DISK_ERROR);
	assert_int_equal(cls_disk_from_ls(77), CLS_DISK_ERROR);
}

static void state_names_are_the_architecture_names(void **state)
{
	(void)state;
	assert_string_equal(cls_state_name(CLS_STORAGE_LOST), "STORAGE_LOST");
	assert_string_equal(cls_state_name(CLS_LEFT), "LEFT");
	assert_string_equal(cls_state_name((enum cls_state)0), "?");
	assert_string_equal(cls_state_name(CLS_STATE_END), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heard_with_a_changing_lease_is_up_and_left_alone),
		cmocka_unit_test(silent_with_a_changing_lease_is_partitioned_since_last_heard),
		cmocka_unit_test(heard_with_a_stale_lease_is_storage_lost_since_its_last_change),
		cmocka_unit_test(silent_with_no_change_for_d_is_dead_and_taken_over_now),
		cmocka_unit_test(mailbox_fenced_with_any_network_is_fenced_and_taken_over_now),
		cmocka_unit_test(left_with_any_network_or_disk_is_left_and_never_taken_over),
		cmocka_unit_test(partitioned_is_poison_pilled_only_after_more_than_p),
		cmocka_unit_test(poison_pill_follows_a_per_vm_partition_tolerance),
		cmocka_unit_test(partitioned_is_never_taken_over_however_long_it_lasts),
		cmocka_unit_test(partitioned_that_acks_fenced_becomes_fenced),
		cmocka_unit_test(partitioned_whose_volume_leases_are_free_is_fenced),
		cmocka_unit_test(blip_shorter_than_p_never_yields_a_pill_or_takeover),
		cmocka_unit_test(storage_lost_is_not_taken_over_before_d),
		cmocka_unit_test(storage_lost_record_dates_from_the_last_disk_change),
		cmocka_unit_test(silent_host_with_a_stale_lease_waits_d_like_storage_lost),
		cmocka_unit_test(heard_host_with_a_dead_lease_is_storage_lost_past_d),
		cmocka_unit_test(released_lease_and_silent_is_dead),
		cmocka_unit_test(released_lease_but_heard_waits_d_from_the_release),
		cmocka_unit_test(unknown_or_unreadable_lease_never_allows_a_takeover),
		cmocka_unit_test(fenced_ack_with_a_dead_lease_is_dead),
		cmocka_unit_test(network_silence_starts_after_the_heartbeat_threshold),
		cmocka_unit_test(record_keeps_the_entry_time_while_the_state_holds),
		cmocka_unit_test(record_restarts_on_a_new_generation),
		cmocka_unit_test(record_moves_forward_when_a_missed_blip_shows_in_the_evidence),
		cmocka_unit_test(never_heard_host_counts_from_when_it_was_first_classified),
		cmocka_unit_test(not_quorate_self_fences_only_after_more_than_p),
		cmocka_unit_test(renewal_not_completed_by_f_self_fences),
		cmocka_unit_test(no_delta_lease_means_no_vm_may_run),
		cmocka_unit_test(new_leases_need_quorum_and_a_valid_lease),
		cmocka_unit_test(default_timings_follow_the_architecture),
		cmocka_unit_test(timings_from_the_lockspace_are_the_same_numbers),
		cmocka_unit_test(sanlock_timing_is_coherent_and_waits_its_longer_d),
		cmocka_unit_test(lockspace_judgements_map_one_to_one_and_unknown_is_error),
		cmocka_unit_test(state_names_are_the_architecture_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
