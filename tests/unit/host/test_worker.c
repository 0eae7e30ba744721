/* Unit tests of the worker threads (plugin/host/worker.h) and of the file
 * replacement that never follows a planted link (plugin/host/safefile.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/host/safefile.h"
#include "plugin/host/worker.h"

struct job {
	struct fl_work w;
	pthread_t ran_on;
	int order;
	int *done_count;
	int *next_order;
	int sleep_ms;
};

static void job_run(struct fl_work *w)
{
	struct job *j = (struct job *)w;
	j->ran_on = pthread_self();
	if (j->sleep_ms > 0)
		usleep((useconds_t)j->sleep_ms * 1000u);
}

static void job_done(struct fl_work *w)
{
	struct job *j = (struct job *)w;
	j->order = (*j->next_order)++;
	(*j->done_count)++;
}

/* Runs the loop until n jobs are done or 5 s passed. */
static void run_until(struct fl_eloop *el, const int *done, int n)
{
	uint64_t end = fl_monotonic_us() + 5 * FL_US_PER_S;
	while (*done < n && fl_monotonic_us() < end)
		fl_eloop_run_once(el, 10 * FL_US_PER_MS);
}

static void jobs_run_off_the_loop_thread_and_complete_on_it_in_order(void **state)
{
	(void)state;
	struct fl_eloop *el = fl_eloop_new();
	struct fl_worker *wk;
	assert_int_equal(fl_worker_new(el, 8, 1, &wk), 0);
	int done = 0, next = 0;
	struct job j[3];
	for (int i = 0; i < 3; i++) {
		j[i] = (struct job){.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next};
		assert_int_equal(fl_worker_submit(wk, &j[i].w), 0);
	}
	run_until(el, &done, 3);
	assert_int_equal(done, 3);
	for (int i = 0; i < 3; i++) {
		assert_false(pthread_equal(j[i].ran_on, pthread_self()));
		assert_int_equal(j[i].order, i);
		assert_false(j[i].w.queued);
	}
	assert_int_equal(fl_worker_free(wk, FL_US_PER_S), 0);
	fl_eloop_free(el);
}

static void a_full_queue_refuses_at_once_instead_of_waiting(void **state)
{
	(void)state;
	struct fl_eloop *el = fl_eloop_new();
	struct fl_worker *wk;
	assert_int_equal(fl_worker_new(el, 2, 1, &wk), 0);
	int done = 0, next = 0;
	struct job slow = {.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next,
			   .sleep_ms = 300};
	struct job b = {.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next};
	struct job c = b;
	assert_int_equal(fl_worker_submit(wk, &slow.w), 0);
	assert_int_equal(fl_worker_submit(wk, &b.w), 0);
	uint64_t t0 = fl_monotonic_us();
	assert_int_equal(fl_worker_submit(wk, &c.w), -FL_ENOSPC);
	assert_true(fl_monotonic_us() - t0 < 100 * FL_US_PER_MS);
	assert_false(c.w.queued);
	struct fl_worker_stats st;
	fl_worker_stats(wk, &st);
	assert_int_equal(st.refused, 1);
	run_until(el, &done, 2);
	assert_int_equal(done, 2);
	assert_int_equal(fl_worker_submit(wk, &c.w), 0); /* room again */
	run_until(el, &done, 3);
	assert_int_equal(done, 3);
	assert_int_equal(fl_worker_free(wk, FL_US_PER_S), 0);
	fl_eloop_free(el);
}

static void freeing_with_a_job_stuck_returns_after_its_bound(void **state)
{
	(void)state;
	struct fl_eloop *el = fl_eloop_new();
	struct fl_worker *wk;
	assert_int_equal(fl_worker_new(el, 2, 1, &wk), 0);
	int done = 0, next = 0;
	static struct job stuck; /* stays in use by the thread left behind */
	stuck = (struct job){.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next,
			     .sleep_ms = 1500};
	assert_int_equal(fl_worker_submit(wk, &stuck.w), 0);
	usleep(50000);
	uint64_t t0 = fl_monotonic_us();
	assert_int_equal(fl_worker_free(wk, 200 * FL_US_PER_MS), -FL_ETIMEDOUT);
	assert_true(fl_monotonic_us() - t0 < FL_US_PER_S);
	fl_eloop_free(el);
	usleep(1600000); /* let it end before the process does */
}

/* Jobs of one key run one after another in submit order, on one thread,
 * with several threads. */
static void jobs_of_one_key_keep_their_order_on_one_thread(void **state)
{
	(void)state;
	struct fl_eloop *el = fl_eloop_new();
	struct fl_worker *wk;
	assert_int_equal(fl_worker_new(el, 16, 4, &wk), 0);
	int done = 0, next = 0;
	struct job j[4];
	uint32_t key = fl_worker_key("vm-a");
	assert_int_equal(key, fl_worker_key("vm-a"));
	for (int i = 0; i < 4; i++) {
		/* The first is the slowest: an order by speed would differ. */
		j[i] = (struct job){.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next,
				    .sleep_ms = 80 - 20 * i};
		assert_int_equal(fl_worker_submit_key(wk, &j[i].w, key), 0);
	}
	run_until(el, &done, 4);
	assert_int_equal(done, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(j[i].order, i);
		assert_true(pthread_equal(j[i].ran_on, j[0].ran_on));
	}
	assert_int_equal(fl_worker_free(wk, FL_US_PER_S), 0);
	fl_eloop_free(el);
}

/* A slow job of one key does not hold a job of another key: with two
 * threads, keys 0 and 1 run side by side, and the quick one is back first. */
static void a_slow_job_does_not_hold_another_keys_job(void **state)
{
	(void)state;
	struct fl_eloop *el = fl_eloop_new();
	struct fl_worker *wk;
	assert_int_equal(fl_worker_new(el, 8, 2, &wk), 0);
	int done = 0, next = 0;
	struct job slow = {.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next,
			   .sleep_ms = 800};
	struct job quick = {.w = {.run = job_run, .done = job_done}, .done_count = &done, .next_order = &next};
	assert_int_equal(fl_worker_submit_key(wk, &slow.w, 0), 0);
	assert_int_equal(fl_worker_submit_key(wk, &quick.w, 1), 0);
	run_until(el, &done, 1);
	assert_int_equal(done, 1);
	assert_int_equal(quick.order, 0);
	assert_false(quick.w.queued);
	assert_true(slow.w.queued);
	run_until(el, &done, 2);
	assert_int_equal(slow.order, 1);
	assert_false(pthread_equal(slow.ran_on, quick.ran_on));
	struct fl_worker_stats st;
	fl_worker_stats(wk, &st);
	assert_int_equal(st.threads, 2);
	assert_int_equal(st.completed, 2);
	assert_int_equal(fl_worker_free(wk, FL_US_PER_S), 0);
	fl_eloop_free(el);
}

static void a_bad_thread_count_is_refused(void **state)
{
	(void)state;
	struct fl_eloop *el = fl_eloop_new();
	struct fl_worker *wk = NULL;
	assert_int_equal(fl_worker_new(el, 8, 0, &wk), -FL_EINVAL);
	assert_int_equal(fl_worker_new(el, 8, FL_WORKER_THREADS_MAX + 1, &wk), -FL_EINVAL);
	assert_null(wk);
	fl_eloop_free(el);
}

static char *scratch(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/fl-safefile-XXXXXX");
	assert_non_null(mkdtemp(buf));
	return buf;
}

static void slurp(const char *path, char *buf, size_t len)
{
	memset(buf, 0, len);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, len - 1) >= 0);
	close(fd);
}

static void a_symlink_planted_at_the_tmp_name_is_not_followed(void **state)
{
	(void)state;
	char dir[64], victim[128], path[128], tmp[140], got[64];
	scratch(dir, sizeof(dir));
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/metrics.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(victim, "w");
	fputs("precious", f);
	fclose(f);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(fl_file_replace(path, "m 1\n", 4, 0644), 0);
	slurp(victim, got, sizeof(got));
	assert_string_equal(got, "precious");
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "m 1\n");
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(lstat(tmp, &st), -1); /* the planted link is gone */
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

static void a_hard_link_planted_at_the_tmp_name_is_not_truncated(void **state)
{
	(void)state;
	char dir[64], victim[128], path[128], tmp[140], got[64];
	scratch(dir, sizeof(dir));
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/m", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(victim, "w");
	fputs("precious", f);
	fclose(f);
	assert_int_equal(link(victim, tmp), 0);
	assert_int_equal(fl_file_replace(path, "new", 3, 0644), 0);
	slurp(victim, got, sizeof(got));
	assert_string_equal(got, "precious");
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "new");
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

static void a_symlink_at_the_final_name_is_replaced_not_followed(void **state)
{
	(void)state;
	char dir[64], victim[128], path[128], got[64];
	scratch(dir, sizeof(dir));
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/m", dir);
	FILE *f = fopen(victim, "w");
	fputs("precious", f);
	fclose(f);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(fl_file_replace(path, "new", 3, 0644), 0);
	slurp(victim, got, sizeof(got));
	assert_string_equal(got, "precious");
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

static void a_path_without_a_file_name_is_refused(void **state)
{
	(void)state;
	assert_int_equal(fl_file_replace("/tmp/", "x", 1, 0644), -FL_EINVAL);
	assert_int_equal(fl_file_replace("", "x", 1, 0644), -FL_EINVAL);
	assert_int_equal(fl_file_replace("/nonexistent-dir-fl/m", "x", 1, 0644), -FL_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jobs_run_off_the_loop_thread_and_complete_on_it_in_order),
		cmocka_unit_test(a_full_queue_refuses_at_once_instead_of_waiting),
		cmocka_unit_test(freeing_with_a_job_stuck_returns_after_its_bound),
		cmocka_unit_test(jobs_of_one_key_keep_their_order_on_one_thread),
		cmocka_unit_test(a_slow_job_does_not_hold_another_keys_job),
		cmocka_unit_test(a_bad_thread_count_is_refused),
		cmocka_unit_test(a_symlink_planted_at_the_tmp_name_is_not_followed),
		cmocka_unit_test(a_hard_link_planted_at_the_tmp_name_is_not_truncated),
		cmocka_unit_test(a_symlink_at_the_final_name_is_replaced_not_followed),
		cmocka_unit_test(a_path_without_a_file_name_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
