/* Unit tests of the mailboxes on the simulated disk: request, ack and
 * clear; a request to a dead host stays pending and visible; concurrent
 * requests from two senders are both kept; a corrupt sector is an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/mailbox.h"
#include "fencelock/error.h"

#define HOSTS 4

struct fx {
	struct fl_sim sim;
	struct fl_simclock clock;
	struct fl_simdisk disk;
	struct fl_simbdev *dev;
	struct mb_geom g;
	struct mb_box box;
};

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	fl_log_set_level(LOG_CRIT);
	assert_int_equal(fl_sim_init(&f.sim, 3), 0);
	assert_int_equal(fl_simclock_init(&f.clock, &f.sim, 0, 0), 0);
	assert_int_equal(fl_simdisk_init(&f.disk, &f.sim, 1u << 20, 512), 0);
	f.dev = fl_simbdev_new(&f.disk, &f.clock.base, "sim", 3);
	f.g = (struct mb_geom){.bdev = fl_simbdev_bdev(f.dev), .offset = 4096, .box_bytes = (2 * HOSTS + 1) * 512,
			       .max_hosts = HOSTS};
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fl_bdev_close(fl_simbdev_bdev(f->dev));
	fl_simdisk_free(&f->disk);
	fl_simclock_free(&f->clock);
	fl_sim_free(&f->sim);
	return 0;
}

static void a_fence_request_is_acked_fenced_by_the_owner(void **state)
{
	struct fx *f = *state;
	uint64_t seq = 0;
	bool fence = false;
	assert_int_equal(mb_send_sync(&f->g, 1, 3, MB_FENCE, 10, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(mb_read_sync(&f->g, 3, &f->box), 0);
	assert_true(mb_pending(&f->box, 1) && f->box.pending == 1 && f->box.req[1].kind == MB_FENCE);
	assert_int_equal(mb_process_sync(&f->g, 3, 11, &f->box, &fence), 0);
	assert_true(fence);
	assert_int_equal(mb_read_sync(&f->g, 3, &f->box), 0);
	assert_false(mb_pending(&f->box, 1));
	assert_true(f->box.ack[1].kind == MB_FENCED && f->box.ack[1].seq == 1 && f->box.status.kind == MB_FENCED);
}

static void a_clear_request_returns_the_host_to_running(void **state)
{
	struct fx *f = *state;
	bool fence = true;
	assert_int_equal(mb_send_sync(&f->g, 2, 3, MB_CLEAR, 20, NULL), 0);
	assert_int_equal(mb_process_sync(&f->g, 3, 21, &f->box, &fence), 0);
	assert_false(fence);
	assert_true(f->box.status.kind == MB_RUNNING && f->box.ack[2].kind == MB_CLEARED);
}

static void a_test_request_is_answered_test_ok_without_fencing(void **state)
{
	struct fx *f = *state;
	bool fence = true;
	assert_int_equal(mb_send_sync(&f->g, 1, 2, MB_TEST, 30, NULL), 0);
	assert_int_equal(mb_process_sync(&f->g, 2, 31, &f->box, &fence), 0);
	assert_false(fence);
	assert_int_equal(f->box.ack[1].kind, MB_TEST_OK);
}

static void a_request_to_a_dead_host_stays_pending_and_visible(void **state)
{
	struct fx *f = *state;
	uint64_t seq;
	assert_int_equal(mb_send_sync(&f->g, 1, 4, MB_FENCE, 40, &seq), 0);
	assert_int_equal(mb_send_sync(&f->g, 1, 4, MB_FENCE, 41, &seq), 0); /* resent: next sequence */
	assert_int_equal(seq, 2);
	assert_int_equal(mb_read_sync(&f->g, 4, &f->box), 0);
	assert_true(mb_pending(&f->box, 1) && f->box.req[1].seq == 2 && f->box.ack[1].seq == 0);
}

static void concurrent_requests_from_two_senders_are_both_kept_and_acked(void **state)
{
	struct fx *f = *state;
	bool fence = false;
	/* Both in flight at once: each lands in its sender's own sector. */
	assert_int_equal(mb_send_sync(&f->g, 1, 2, MB_FENCE, 50, NULL), 0);
	assert_int_equal(mb_send_sync(&f->g, 3, 2, MB_TEST, 50, NULL), 0);
	assert_int_equal(mb_read_sync(&f->g, 2, &f->box), 0);
	assert_int_equal(f->box.pending, 2);
	assert_int_equal(mb_process_sync(&f->g, 2, 51, &f->box, &fence), 0);
	assert_true(fence && f->box.ack[1].kind == MB_FENCED && f->box.ack[3].kind == MB_TEST_OK);
	/* A request written after the owner read, before its ack, is not lost. */
	assert_int_equal(mb_send_sync(&f->g, 1, 2, MB_FENCE, 52, NULL), 0);
	assert_int_equal(mb_read_sync(&f->g, 2, &f->box), 0);
	assert_true(mb_pending(&f->box, 1));
}

static void a_corrupt_sector_is_an_error_never_empty(void **state)
{
	struct fx *f = *state;
	assert_int_equal(mb_send_sync(&f->g, 1, 1, MB_TEST, 60, NULL), 0);
	f->disk.data[f->g.offset + 512 + 20] ^= 0x40; /* host 1's own request sector in its box */
	assert_int_equal(mb_read_sync(&f->g, 1, &f->box), -FL_ECHECKSUM);
}

static void records_round_trip_and_reject_a_foreign_magic(void **state)
{
	(void)state;
	uint8_t s[512];
	struct mb_record r = {.magic = MB_ACK_MAGIC, .kind = MB_FENCED, .from = 2, .to = 1, .seq = 9}, q;
	mb_record_encode(&r, s, 512);
	assert_int_equal(mb_record_decode(s, MB_ACK_MAGIC, &q), 0);
	assert_true(q.seq == 9 && q.kind == MB_FENCED && q.from == 2);
	assert_int_equal(mb_record_decode(s, MB_REQ_MAGIC, &q), -FL_EMAGIC);
	memset(s, 0, sizeof(s));
	assert_int_equal(mb_record_decode(s, MB_REQ_MAGIC, &q), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_fence_request_is_acked_fenced_by_the_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(a_clear_request_returns_the_host_to_running, setup, teardown),
		cmocka_unit_test_setup_teardown(a_test_request_is_answered_test_ok_without_fencing, setup, teardown),
		cmocka_unit_test_setup_teardown(a_request_to_a_dead_host_stays_pending_and_visible, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_requests_from_two_senders_are_both_kept_and_acked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_corrupt_sector_is_an_error_never_empty, setup, teardown),
		cmocka_unit_test(records_round_trip_and_reject_a_foreign_magic),
	};
	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
