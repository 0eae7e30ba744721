/* Unit tests of the log-store seam and its in-memory implementation, on the
 * simulated clock: completion order and latency, hang, crash semantics
 * (acknowledged writes survive, unacknowledged ones may be lost), the bounded
 * queue and the sticky failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/simloop.h"
#include "fencelock/error.h"
#include "raft/logstore.h"

struct world {
	struct fl_sim sim;
	struct fl_simclock clock;
	struct raft_mem_disk *disk;
	struct raft_logstore *store;
};

struct done_log {
	int order[32];
	int results[32];
	int n;
};

struct tagged_req {
	struct raft_log_req req;
	int tag;
	struct done_log *log;
};

static void on_done(struct raft_log_req *req, int result)
{
	struct tagged_req *t = (struct tagged_req *)req;
	t->log->results[t->log->n] = result;
	t->log->order[t->log->n++] = t->tag;
}

static int setup(void **state)
{
	static struct world w;
	memset(&w, 0, sizeof(w));
	assert_int_equal(fl_sim_init(&w.sim, 7), 0);
	assert_int_equal(fl_simclock_init(&w.clock, &w.sim, 0, 0), 0);
	w.disk = raft_mem_disk_new();
	assert_non_null(w.disk);
	struct raft_logstore_mem_opts o = {.latency_us = 1000, .queue_max = 4};
	assert_int_equal(raft_logstore_mem_open(&w.clock.base, w.disk, &o, &w.store), 0);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	if (w->store != NULL)
		raft_logstore_close(w->store);
	raft_mem_disk_free(w->disk);
	fl_simclock_free(&w->clock);
	fl_sim_free(&w->sim);
	return 0;
}

static void make_entries(struct raft_entry *e, uint8_t *bytes, uint64_t first, uint32_t n, uint64_t term)
{
	for (uint32_t i = 0; i < n; i++) {
		bytes[i] = (uint8_t)(first + i);
		e[i] = (struct raft_entry){.term = term, .index = first + i, .type = 0, .len = 1, .data = &bytes[i]};
	}
}

static void submit_append(struct world *w, struct tagged_req *t, struct raft_entry *e, uint32_t n)
{
	t->req.op = RAFT_LOG_APPEND;
	t->req.append.entries = e;
	t->req.append.n = n;
	t->req.cb = on_done;
	assert_int_equal(raft_logstore_submit(w->store, &t->req), 0);
}

static void load(struct world *w, struct raft_log_loaded *out)
{
	struct done_log log = {.n = 0};
	struct tagged_req t = {.tag = 99, .log = &log};
	t.req.op = RAFT_LOG_LOAD;
	t.req.load.out = out;
	t.req.cb = on_done;
	assert_int_equal(raft_logstore_submit(w->store, &t.req), 0);
	fl_sim_run_until(&w->sim, w->sim.now_us + 10000);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.results[0], 0);
}

static void requests_complete_in_submission_order_after_the_latency(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[3] = {{.tag = 0, .log = &log}, {.tag = 1, .log = &log}, {.tag = 2, .log = &log}};
	struct raft_entry e[3];
	uint8_t b[3];
	make_entries(e, b, 1, 3, 1);
	submit_append(w, &t[0], &e[0], 1);
	t[1].req = (struct raft_log_req){.op = RAFT_LOG_SET_HARD, .hard = {.term = 2, .vote = 3}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &t[1].req), 0);
	submit_append(w, &t[2], &e[1], 2);
	assert_int_equal(log.n, 0); /* never from inside submit */
	fl_sim_run_until(&w->sim, 999);
	assert_int_equal(log.n, 0);
	fl_sim_run_until(&w->sim, 1000);
	assert_int_equal(log.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(log.order[i], i);
		assert_int_equal(log.results[i], 0);
	}
	assert_int_equal(raft_mem_disk_n_entries(w->disk), 3);
}

static void inputs_may_be_reused_as_soon_as_submit_returns(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t = {.tag = 0, .log = &log};
	struct raft_entry e[2];
	uint8_t b[2];
	make_entries(e, b, 1, 2, 1);
	submit_append(w, &t, e, 2);
	b[0] = b[1] = 0xEE;
	memset(e, 0, sizeof(e));
	fl_sim_run_until(&w->sim, 5000);
	struct raft_log_loaded l;
	load(w, &l);
	assert_int_equal(l.n_entries, 2);
	assert_int_equal(l.entries[0].data[0], 1);
	assert_int_equal(l.entries[1].data[0], 2);
	assert_int_equal(l.entries[1].index, 2);
	raft_log_loaded_free(&l);
}

static void a_hung_store_completes_nothing_and_reports_its_oldest_request(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t = {.tag = 0, .log = &log};
	struct raft_entry e[1];
	uint8_t b[1];
	make_entries(e, b, 1, 1, 1);
	assert_true(raft_logstore_oldest_pending_us(w->store) == FL_TIME_NEVER);
	raft_logstore_mem_set_hung(w->store, true);
	fl_sim_run_until(&w->sim, 500);
	submit_append(w, &t, e, 1);
	fl_sim_run_until(&w->sim, 1000000);
	assert_int_equal(log.n, 0);
	assert_int_equal(raft_logstore_oldest_pending_us(w->store), 500);
	raft_logstore_mem_set_hung(w->store, false);
	fl_sim_run_until(&w->sim, 1000001);
	assert_int_equal(log.n, 1);
	assert_true(raft_logstore_oldest_pending_us(w->store) == FL_TIME_NEVER);
}

static void a_crash_keeps_acknowledged_writes_and_loses_the_rest(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[3] = {{.tag = 0, .log = &log}, {.tag = 1, .log = &log}, {.tag = 2, .log = &log}};
	struct raft_entry e[3];
	uint8_t b[3];
	make_entries(e, b, 1, 3, 1);
	submit_append(w, &t[0], &e[0], 1);
	fl_sim_run_until(&w->sim, 2000);
	assert_int_equal(log.n, 1);
	submit_append(w, &t[1], &e[1], 1);
	submit_append(w, &t[2], &e[2], 1);
	raft_logstore_mem_crash(w->store, 1); /* entry 2 reached the disk unacknowledged */
	assert_int_equal(raft_logstore_mem_open(&w->clock.base, w->disk, NULL, &w->store), 0);
	fl_sim_run_until(&w->sim, 1000000);
	assert_int_equal(log.n, 1); /* abandoned callbacks never run */
	struct raft_log_loaded l;
	load(w, &l);
	assert_int_equal(l.n_entries, 2);
	assert_int_equal(l.entries[1].index, 2);
	raft_log_loaded_free(&l);
}

static void a_full_queue_refuses_the_next_request(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[5];
	struct raft_entry e[5];
	uint8_t b[5];
	make_entries(e, b, 1, 5, 1);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct tagged_req){.tag = i, .log = &log};
		submit_append(w, &t[i], &e[i], 1);
	}
	t[4] = (struct tagged_req){.tag = 4, .log = &log};
	t[4].req = (struct raft_log_req){.op = RAFT_LOG_APPEND, .append = {&e[4], 1}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &t[4].req), -FL_ENOSPC);
	fl_sim_run_until(&w->sim, 2000);
	assert_int_equal(log.n, 4);
	assert_int_equal(raft_logstore_submit(w->store, &t[4].req), 0);
	fl_sim_run_until(&w->sim, 4000);
	assert_int_equal(log.n, 5);
}

static void malformed_requests_are_refused_at_submit(void **state)
{
	struct world *w = *state;
	struct raft_entry e[2];
	uint8_t b[2];
	make_entries(e, b, 1, 2, 1);
	e[1].index = 3; /* not contiguous */
	struct raft_log_req r = {.op = RAFT_LOG_APPEND, .append = {e, 2}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &r), -FL_EINVAL);
	r = (struct raft_log_req){.op = RAFT_LOG_TRUNCATE, .truncate = {0}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &r), -FL_EINVAL);
	r = (struct raft_log_req){.op = RAFT_LOG_SET_HARD, .cb = NULL};
	assert_int_equal(raft_logstore_submit(w->store, &r), -FL_EINVAL);
	assert_int_equal(w->store->pending, 0);
}

static void a_gap_fails_the_store_and_every_later_request(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[3] = {{.tag = 0, .log = &log}, {.tag = 1, .log = &log}, {.tag = 2, .log = &log}};
	struct raft_entry e[3];
	uint8_t b[3];
	make_entries(e, b, 1, 3, 1);
	submit_append(w, &t[0], &e[0], 1);
	submit_append(w, &t[1], &e[2], 1); /* index 3 after 1 */
	fl_sim_run_until(&w->sim, 2000);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.results[1], -FL_ECORRUPT);
	t[2].req = (struct raft_log_req){.op = RAFT_LOG_SET_HARD, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &t[2].req), -FL_ECORRUPT);
}

static void truncate_and_overwrite_replace_the_suffix(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[3] = {{.tag = 0, .log = &log}, {.tag = 1, .log = &log}, {.tag = 2, .log = &log}};
	struct raft_entry e[4], f[1];
	uint8_t b[4], c[1];
	make_entries(e, b, 1, 4, 1);
	make_entries(f, c, 3, 1, 2);
	submit_append(w, &t[0], e, 4);
	submit_append(w, &t[1], f, 1); /* entry 3 of term 2 replaces 3 and 4 */
	t[2].req = (struct raft_log_req){.op = RAFT_LOG_TRUNCATE, .truncate = {3}, .cb = on_done};
	fl_sim_run_until(&w->sim, 2000);
	struct raft_log_loaded l;
	load(w, &l);
	assert_int_equal(l.n_entries, 3);
	assert_int_equal(l.entries[2].term, 2);
	raft_log_loaded_free(&l);
	assert_int_equal(raft_logstore_submit(w->store, &t[2].req), 0);
	fl_sim_run_until(&w->sim, 20000);
	assert_int_equal(raft_mem_disk_n_entries(w->disk), 2);
}

static void a_snapshot_compacts_the_prefix_but_keeps_the_trailing_entries(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[2] = {{.tag = 0, .log = &log}, {.tag = 1, .log = &log}};
	struct raft_entry e[10];
	uint8_t b[10], data[3] = {9, 8, 7}, conf[2] = {1, 2};
	make_entries(e, b, 1, 10, 1);
	submit_append(w, &t[0], e, 10);
	struct raft_log_snapshot sn = {.index = 8, .term = 1, .config_len = 2, .config = conf,
				       .data_len = 3, .data = data};
	t[1].req = (struct raft_log_req){.op = RAFT_LOG_SNAPSHOT, .snapshot = {&sn, 2}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &t[1].req), 0);
	fl_sim_run_until(&w->sim, 2000);
	struct raft_log_loaded l;
	load(w, &l);
	assert_true(l.have_snapshot);
	assert_int_equal(l.snapshot.index, 8);
	assert_memory_equal(l.snapshot.data, data, 3);
	assert_int_equal(l.n_entries, 4);
	assert_int_equal(l.entries[0].index, 7);
	raft_log_loaded_free(&l);
}

static void a_snapshot_beyond_the_log_discards_the_whole_log(void **state)
{
	struct world *w = *state;
	struct done_log log = {.n = 0};
	struct tagged_req t[2] = {{.tag = 0, .log = &log}, {.tag = 1, .log = &log}};
	struct raft_entry e[3];
	uint8_t b[3];
	make_entries(e, b, 1, 3, 1);
	submit_append(w, &t[0], e, 3);
	struct raft_log_snapshot sn = {.index = 50, .term = 2};
	t[1].req = (struct raft_log_req){.op = RAFT_LOG_SNAPSHOT, .snapshot = {&sn, 10}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(w->store, &t[1].req), 0);
	fl_sim_run_until(&w->sim, 2000);
	assert_int_equal(log.n, 2);
	assert_int_equal(raft_mem_disk_n_entries(w->disk), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(requests_complete_in_submission_order_after_the_latency, setup, teardown),
		cmocka_unit_test_setup_teardown(inputs_may_be_reused_as_soon_as_submit_returns, setup, teardown),
		cmocka_unit_test_setup_teardown(a_hung_store_completes_nothing_and_reports_its_oldest_request, setup, teardown),
		cmocka_unit_test_setup_teardown(a_crash_keeps_acknowledged_writes_and_loses_the_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_queue_refuses_the_next_request, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_requests_are_refused_at_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(a_gap_fails_the_store_and_every_later_request, setup, teardown),
		cmocka_unit_test_setup_teardown(truncate_and_overwrite_replace_the_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_compacts_the_prefix_but_keeps_the_trailing_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_beyond_the_log_discards_the_whole_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
