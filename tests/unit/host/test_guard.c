/* Unit tests of the per-VM guard: the deadline record and its two slots, the
 * shared file across a writer restart, the guard's decisions over time, and
 * the guard loop on real child processes with short deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/host/guard.h"

#define MS 1000ull

static void a_record_round_trips_through_a_slot(void **state)
{
	(void)state;
	struct guard_rec in = {.seq = 7, .deadline_us = 123456789, .kill_grace_us = 1000000}, out;
	uint8_t slot[GUARD_SLOT_BYTES];
	guard_rec_encode(&in, slot);
	assert_int_equal(guard_rec_decode(slot, &out), 0);
	assert_int_equal(out.seq, 7);
	assert_int_equal(out.deadline_us, 123456789);
	assert_int_equal(out.kill_grace_us, 1000000);
}

static void a_flipped_byte_is_a_checksum_error_and_zeroes_are_unwritten(void **state)
{
	(void)state;
	struct guard_rec in = {.seq = 1, .deadline_us = 5, .kill_grace_us = 1}, out;
	uint8_t slot[GUARD_SLOT_BYTES];
	for (unsigned i = 4; i < GUARD_SLOT_BYTES; i++) {
		guard_rec_encode(&in, slot);
		slot[i] ^= 0x10;
		assert_int_equal(guard_rec_decode(slot, &out), -FL_ECHECKSUM);
	}
	memset(slot, 0, sizeof(slot));
	assert_int_equal(guard_rec_decode(slot, &out), -FL_EMAGIC);
}

static void the_newest_valid_slot_wins_and_a_torn_newest_falls_back(void **state)
{
	(void)state;
	uint8_t two[2 * GUARD_SLOT_BYTES];
	struct guard_rec r1 = {.seq = 1, .deadline_us = 100, .kill_grace_us = 1};
	struct guard_rec r2 = {.seq = 2, .deadline_us = 200, .kill_grace_us = 1}, got;
	guard_rec_encode(&r2, two);
	guard_rec_encode(&r1, two + GUARD_SLOT_BYTES);
	assert_int_equal(guard_rec_pick(two, &got), 0);
	assert_int_equal(got.deadline_us, 200);
	two[20] ^= 0xff; /* the newest is torn */
	assert_int_equal(guard_rec_pick(two, &got), 0);
	assert_int_equal(got.deadline_us, 100);
	two[GUARD_SLOT_BYTES + 20] ^= 0xff;
	assert_int_equal(guard_rec_pick(two, &got), -FL_ECHECKSUM);
}

static void a_restarted_writer_continues_the_sequence_the_reader_sees(void **state)
{
	(void)state;
	char path[] = "/tmp/fl-guard-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct guard_writer w;
	struct guard_reader r;
	struct guard_rec rec;
	assert_int_equal(guard_writer_open(&w, path), 0);
	assert_int_equal(guard_reader_open(&r, path), 0);
	assert_int_equal(guard_reader_get(&r, &rec), -FL_EMAGIC); /* nothing written yet */
	for (uint64_t i = 1; i <= 5; i++)
		guard_writer_set(&w, i * 1000, 77);
	assert_int_equal(guard_reader_get(&r, &rec), 0);
	assert_int_equal(rec.seq, 5);
	assert_int_equal(rec.deadline_us, 5000);
	guard_writer_close(&w); /* the daemon dies */
	assert_int_equal(guard_writer_open(&w, path), 0); /* and restarts */
	assert_int_equal(w.seq, 5);
	guard_writer_set(&w, 9000, 77);
	assert_int_equal(guard_reader_get(&r, &rec), 0);
	assert_int_equal(rec.seq, 6);
	assert_int_equal(rec.deadline_us, 9000);
	guard_writer_close(&w);
	guard_reader_close(&r);
	unlink(path);
}

/* True if /proc/self/maps of the calling process names path. */
static int maps_name(const char *path)
{
	char line[1024];
	FILE *f = fopen("/proc/self/maps", "re");
	int found = 0;
	while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, path) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

static void a_child_forked_by_the_daemon_does_not_map_a_guard_file(void **state)
{
	(void)state;
	char path[] = "/tmp/fl-guard-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct guard_writer w;
	struct guard_reader r;
	assert_int_equal(guard_writer_open(&w, path), 0);
	assert_int_equal(guard_reader_open(&r, path), 0);
	assert_true(maps_name(path)); /* the parent maps it */
	pid_t p = fork();
	if (p == 0)
		_exit(maps_name(path) ? 1 : 0); /* a restarted daemon must not take it for a guard */
	int st = -1;
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	guard_writer_close(&w);
	guard_reader_close(&r);
	unlink(path);
}

static struct guard_state start(uint64_t deadline_us, uint64_t k_us)
{
	struct guard_rec first = {.seq = 1, .deadline_us = deadline_us, .kill_grace_us = k_us};
	struct guard_state st;
	guard_state_init(&st, &first);
	return st;
}

static void before_the_deadline_the_guard_only_sleeps_until_it(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	uint64_t wake;
	assert_int_equal(guard_step(&st, 10 * MS, NULL, &wake), GUARD_ACT_NONE);
	assert_int_equal(wake, 1000 * MS);
}

static void an_extension_moves_the_next_wake(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	struct guard_rec ext = {.seq = 2, .deadline_us = 2000 * MS, .kill_grace_us = 100 * MS};
	uint64_t wake;
	assert_int_equal(guard_step(&st, 1000 * MS, &ext, &wake), GUARD_ACT_NONE);
	assert_int_equal(wake, 2000 * MS);
}

static void without_extension_sigterm_at_the_deadline_and_sigkill_after_k(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	struct guard_rec same = {.seq = 1, .deadline_us = 1000 * MS, .kill_grace_us = 100 * MS};
	uint64_t wake;
	assert_int_equal(guard_step(&st, 1000 * MS, &same, &wake), GUARD_ACT_TERM);
	assert_int_equal(wake, 1100 * MS);
	assert_int_equal(guard_step(&st, 1050 * MS, &same, &wake), GUARD_ACT_NONE);
	assert_int_equal(wake, 1100 * MS);
	assert_int_equal(guard_step(&st, 1100 * MS, &same, &wake), GUARD_ACT_KILL);
	assert_int_equal(wake, UINT64_MAX);
	assert_int_equal(guard_step(&st, 5000 * MS, &same, &wake), GUARD_ACT_NONE);
}

static void an_extension_after_sigterm_does_not_stop_the_kill(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	uint64_t wake;
	assert_int_equal(guard_step(&st, 1000 * MS, NULL, &wake), GUARD_ACT_TERM);
	struct guard_rec late = {.seq = 2, .deadline_us = 9000 * MS, .kill_grace_us = 100 * MS};
	assert_int_equal(guard_step(&st, 1100 * MS, &late, &wake), GUARD_ACT_KILL);
}

static void an_unreadable_record_never_extends_the_deadline(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	uint64_t wake;
	assert_int_equal(guard_step(&st, 999 * MS, NULL, &wake), GUARD_ACT_NONE);
	assert_int_equal(guard_step(&st, 1000 * MS, NULL, &wake), GUARD_ACT_TERM);
	assert_int_equal(st.bad_reads, 2);
}

static void an_older_record_is_ignored_and_a_newer_shorter_one_obeyed(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	struct guard_rec newer = {.seq = 5, .deadline_us = 3000 * MS, .kill_grace_us = 100 * MS};
	struct guard_rec older = {.seq = 4, .deadline_us = 9000 * MS, .kill_grace_us = 100 * MS};
	struct guard_rec shorter = {.seq = 6, .deadline_us = 1500 * MS, .kill_grace_us = 100 * MS};
	uint64_t wake;
	guard_step(&st, 1000 * MS, &newer, &wake);
	assert_int_equal(guard_step(&st, 1200 * MS, &older, &wake), GUARD_ACT_NONE);
	assert_int_equal(wake, 3000 * MS);
	assert_int_equal(guard_step(&st, 1300 * MS, &shorter, &wake), GUARD_ACT_NONE);
	assert_int_equal(wake, 1500 * MS);
}

static void a_guard_waking_after_deadline_plus_k_kills_at_once(void **state)
{
	(void)state;
	struct guard_state st = start(1000 * MS, 100 * MS);
	uint64_t wake;
	assert_int_equal(guard_step(&st, 1500 * MS, NULL, &wake), GUARD_ACT_TERM_KILL);
	assert_int_equal(st.phase, GUARD_KILL_SENT);
}

/* ---- the daemon's table ---- */
static void collect_uid(void *ctx, const char *uid)
{
	char *seen = ctx;
	strcat(seen, uid);
	strcat(seen, ";");
}

static void the_table_extends_every_vm_and_unlinks_on_close(void **state)
{
	(void)state;
	char dir[] = "/tmp/fl-gt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct guard_table t;
	assert_int_equal(guard_table_init(&t, dir, 4), 0);
	char pa[256], pb[256];
	assert_int_equal(guard_table_open(&t, "vm-a", 1000, 5, pa, sizeof(pa)), 0);
	assert_int_equal(guard_table_open(&t, "vm-b", 1000, 5, pb, sizeof(pb)), 0);
	assert_non_null(strstr(pa, "/guard/vm-a"));
	guard_table_extend_all(&t, 7000, 5);
	struct guard_reader ra, rb;
	struct guard_rec rec;
	assert_int_equal(guard_reader_open(&ra, pa), 0);
	assert_int_equal(guard_reader_open(&rb, pb), 0);
	assert_int_equal(guard_reader_get(&ra, &rec), 0);
	assert_int_equal(rec.deadline_us, 7000);
	assert_int_equal(guard_table_set(&t, "vm-b", 0, 5), 0); /* kill now */
	assert_int_equal(guard_reader_get(&rb, &rec), 0);
	assert_int_equal(rec.deadline_us, 0);
	assert_int_equal(guard_table_close(&t, "vm-a"), 0);
	assert_int_equal(access(pa, F_OK), -1);
	assert_int_equal(guard_table_close(&t, "vm-a"), -FL_ENOENT);
	assert_int_equal(guard_table_set(&t, "vm-a", 1, 1), -FL_ENOENT);
	guard_reader_close(&ra);
	guard_reader_close(&rb);
	guard_table_close(&t, "vm-b");
	guard_table_free(&t);
	char gdir[64];
	snprintf(gdir, sizeof(gdir), "%s/guard", dir);
	rmdir(gdir);
	rmdir(dir);
}

static void a_restarted_daemon_adopts_the_guard_files_and_continues(void **state)
{
	(void)state;
	char dir[] = "/tmp/fl-gt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct guard_table t;
	char p1[256], p2[256], junk[256];
	assert_int_equal(guard_table_init(&t, dir, 4), 0);
	assert_int_equal(guard_table_open(&t, "vm-1", 100, 5, p1, sizeof(p1)), 0);
	assert_int_equal(guard_table_open(&t, "vm-2", 100, 5, p2, sizeof(p2)), 0);
	guard_table_extend_all(&t, 200, 5);
	guard_table_free(&t); /* the daemon dies; the VMs and their files stay */
	snprintf(junk, sizeof(junk), "%s/guard/.tmp-not-a-uid", dir);
	close(open(junk, O_CREAT | O_WRONLY, 0644));
	struct guard_reader r;
	struct guard_rec rec;
	assert_int_equal(guard_reader_open(&r, p1), 0); /* the VM's guard, all along */
	assert_int_equal(guard_table_init(&t, dir, 4), 0);
	char seen[128] = "";
	assert_int_equal(guard_table_adopt(&t, collect_uid, seen), 2);
	assert_true(strstr(seen, "vm-1;") != NULL && strstr(seen, "vm-2;") != NULL);
	guard_table_extend_all(&t, 300, 5);
	assert_int_equal(guard_reader_get(&r, &rec), 0);
	assert_int_equal(rec.deadline_us, 300);
	assert_int_equal(rec.seq, 3); /* the sequence went on */
	guard_reader_close(&r);
	guard_table_close(&t, "vm-1");
	guard_table_close(&t, "vm-2");
	guard_table_free(&t);
	unlink(junk);
	char gdir[64];
	snprintf(gdir, sizeof(gdir), "%s/guard", dir);
	rmdir(gdir);
	rmdir(dir);
}

static void a_full_table_or_a_bad_uid_is_refused(void **state)
{
	(void)state;
	char dir[] = "/tmp/fl-gt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct guard_table t;
	char p[256];
	assert_int_equal(guard_table_init(&t, dir, 1), 0);
	assert_int_equal(guard_table_open(&t, "../etc", 1, 1, p, sizeof(p)), -FL_EINVAL);
	assert_int_equal(guard_table_open(&t, "one", 1, 1, p, sizeof(p)), 0);
	assert_int_equal(guard_table_open(&t, "one", 2, 1, p, sizeof(p)), 0); /* reused */
	assert_int_equal(guard_table_open(&t, "two", 1, 1, p, sizeof(p)), -FL_ENOSPC);
	guard_table_close(&t, "one");
	guard_table_free(&t);
	char gdir[64];
	snprintf(gdir, sizeof(gdir), "%s/guard", dir);
	rmdir(gdir);
	rmdir(dir);
}

/* The daemon's steps: reserve on its loop, open elsewhere, fill; detach on
 * its loop, drop elsewhere. A reserved entry is invisible to renewals and
 * to a second reservation; a detached file gets no later deadline. */
static void a_reserved_entry_is_filled_or_given_up_and_a_detached_one_dropped(void **state)
{
	(void)state;
	char dir[] = "/tmp/fl-gt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct guard_table t;
	char p[GUARD_PATH_MAX], q[GUARD_PATH_MAX];
	assert_int_equal(guard_table_init(&t, dir, 2), 0);
	assert_int_equal(guard_table_reserve(&t, "../x", p, sizeof(p)), -FL_EINVAL);
	assert_int_equal(guard_table_reserve(&t, "vm-r", p, sizeof(p)), 0);
	assert_non_null(strstr(p, "/guard/vm-r"));
	assert_int_equal(guard_table_reserve(&t, "vm-r", q, sizeof(q)), -FL_EBUSY);
	assert_int_equal(guard_table_reserve(&t, "vm-s", q, sizeof(q)), 0);
	assert_int_equal(guard_table_reserve(&t, "vm-t", q, sizeof(q)), -FL_ENOSPC); /* both taken */
	guard_table_unreserve(&t, "vm-s");
	assert_int_equal(access(q, F_OK), -1); /* nothing was created */
	guard_table_extend_all(&t, 50, 5);      /* skips the reserved entry */
	struct guard_writer w;
	assert_int_equal(guard_writer_open(&w, p), 0);
	guard_table_fill(&t, "vm-r", &w, 100, 5);
	assert_null(w.map); /* taken over */
	assert_int_equal(guard_table_reserve(&t, "vm-r", q, sizeof(q)), 1); /* open already */
	struct guard_reader r;
	struct guard_rec rec;
	assert_int_equal(guard_reader_open(&r, p), 0);
	guard_table_extend_all(&t, 200, 5);
	assert_int_equal(guard_reader_get(&r, &rec), 0);
	assert_int_equal(rec.deadline_us, 200);
	struct guard_writer out;
	char dp[GUARD_PATH_MAX];
	assert_int_equal(guard_table_detach(&t, "vm-r", &out, dp, sizeof(dp)), 0);
	assert_string_equal(dp, p);
	assert_int_equal(guard_table_detach(&t, "vm-r", &out, dp, sizeof(dp)), -FL_ENOENT);
	guard_table_extend_all(&t, 300, 5); /* no longer reaches it */
	assert_int_equal(guard_reader_get(&r, &rec), 0);
	assert_int_equal(rec.deadline_us, 200);
	guard_file_drop(&out, dp);
	assert_int_equal(access(p, F_OK), -1);
	guard_reader_close(&r);
	guard_table_free(&t);
	char gdir[64];
	snprintf(gdir, sizeof(gdir), "%s/guard", dir);
	rmdir(gdir);
	rmdir(dir);
}

/* ---- the guard loop on real processes ---- */
struct proc_fix {
	char path[32];
	struct guard_writer w;
	struct guard_reader r;
};

static void proc_fix_open(struct proc_fix *f, uint64_t deadline_in_us, uint64_t k_us)
{
	snprintf(f->path, sizeof(f->path), "/tmp/fl-guard-XXXXXX");
	int fd = mkstemp(f->path);
	close(fd);
	assert_int_equal(guard_writer_open(&f->w, f->path), 0);
	guard_writer_set(&f->w, fl_monotonic_us() + deadline_in_us, k_us);
	assert_int_equal(guard_reader_open(&f->r, f->path), 0);
}

static void proc_fix_close(struct proc_fix *f)
{
	guard_writer_close(&f->w);
	guard_reader_close(&f->r);
	unlink(f->path);
}

/* Forks a child that runs fn after restoring the signal mask. */
static pid_t spawn(void (*fn)(void))
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD); sigaddset(&set, SIGTERM); sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP); sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		setpgid(0, 0);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		fn();
		_exit(0);
	}
	setpgid(p, p);
	return p;
}

static void child_sleeps(void) { for (int i = 0; i < 100; i++) sleep(1); _exit(9); }
static void child_ignores_sigterm(void) { signal(SIGTERM, SIG_IGN); child_sleeps(); }
static void child_exits_3(void) { usleep(50000); _exit(3); }

static void the_guard_sigterms_a_vm_whose_deadline_passes(void **state)
{
	(void)state;
	struct proc_fix f;
	proc_fix_open(&f, 150 * MS, 300 * MS);
	uint64_t t0 = fl_monotonic_us();
	pid_t p = spawn(child_sleeps);
	struct guard_run_opts o = {.child = p, .reader = &f.r, .uid = "vm-t"};
	struct guard_result res;
	assert_int_equal(guard_run(&o, &res), 0);
	uint64_t took = fl_monotonic_us() - t0;
	assert_true(res.killed_by_guard);
	assert_false(res.sigkill_sent);
	assert_true(WIFSIGNALED(res.wait_status) && WTERMSIG(res.wait_status) == SIGTERM);
	assert_true(took >= 140 * MS && took < 2000 * MS);
	proc_fix_close(&f);
}

static void a_vm_ignoring_sigterm_gets_sigkill_after_k(void **state)
{
	(void)state;
	struct proc_fix f;
	proc_fix_open(&f, 100 * MS, 200 * MS);
	uint64_t t0 = fl_monotonic_us();
	pid_t p = spawn(child_ignores_sigterm);
	struct guard_run_opts o = {.child = p, .reader = &f.r, .uid = "vm-k"};
	struct guard_result res;
	assert_int_equal(guard_run(&o, &res), 0);
	uint64_t took = fl_monotonic_us() - t0;
	assert_true(res.sigkill_sent);
	assert_true(WIFSIGNALED(res.wait_status) && WTERMSIG(res.wait_status) == SIGKILL);
	assert_true(took >= 290 * MS && took < 3000 * MS);
	proc_fix_close(&f);
}

static void a_vm_that_exits_in_time_keeps_its_status_and_is_not_killed(void **state)
{
	(void)state;
	struct proc_fix f;
	proc_fix_open(&f, 5000 * MS, 200 * MS);
	pid_t p = spawn(child_exits_3);
	struct guard_run_opts o = {.child = p, .reader = &f.r, .uid = "vm-e"};
	struct guard_result res;
	assert_int_equal(guard_run(&o, &res), 0);
	assert_false(res.killed_by_guard);
	assert_true(WIFEXITED(res.wait_status) && WEXITSTATUS(res.wait_status) == 3);
	proc_fix_close(&f);
}

static void child_leaves_a_helper_behind(void)
{
	if (fork() == 0) { /* same process group, outlives its parent */
		for (int i = 0; i < 100; i++)
			sleep(1);
		_exit(0);
	}
	_exit(4);
}

static void what_is_left_of_the_vm_process_group_is_killed_at_its_exit(void **state)
{
	(void)state;
	struct proc_fix f;
	proc_fix_open(&f, 5000 * MS, 200 * MS);
	/* Orphans come to us, not to a PID 1 that may never reap them. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	pid_t p = spawn(child_leaves_a_helper_behind);
	struct guard_run_opts o = {.child = p, .reader = &f.r, .uid = "vm-h"};
	struct guard_result res;
	assert_int_equal(guard_run(&o, &res), 0);
	assert_true(WIFEXITED(res.wait_status) && WEXITSTATUS(res.wait_status) == 4);
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			; /* reap the killed helper */
		gone = kill(-p, 0) != 0;
		if (!gone)
			usleep(10000);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	assert_true(gone);
	proc_fix_close(&f);
}

static void flushing_a_file_volume_succeeds_and_an_unreadable_one_fails(void **state)
{
	(void)state;
	char path[] = "/tmp/fl-vol-XXXXXX";
	int fd = mkstemp(path);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	const char *ok[] = {path};
	assert_int_equal(guard_flush_volumes(ok, 1, 2000 * MS), 0);
	const char *gone[] = {path, "/nonexistent/volume"};
	assert_int_equal(guard_flush_volumes(gone, 2, 2000 * MS), 0);
	const char *bad[] = {path, "/proc/self/mem/x"};
	assert_int_equal(guard_flush_volumes(bad, 2, 2000 * MS), -FL_EIO);
	unlink(path);
}

static void the_guard_file_of_a_vm_lives_in_the_run_dir(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(guard_file_path("/run/fencelock", "vm-1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/fencelock/guard/vm-1");
	assert_int_equal(guard_file_path("/run/fencelock", "vm-1", buf, 10), -FL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_guard_file_of_a_vm_lives_in_the_run_dir),
		cmocka_unit_test(a_record_round_trips_through_a_slot),
		cmocka_unit_test(a_flipped_byte_is_a_checksum_error_and_zeroes_are_unwritten),
		cmocka_unit_test(the_newest_valid_slot_wins_and_a_torn_newest_falls_back),
		cmocka_unit_test(a_restarted_writer_continues_the_sequence_the_reader_sees),
		cmocka_unit_test(a_child_forked_by_the_daemon_does_not_map_a_guard_file),
		cmocka_unit_test(the_table_extends_every_vm_and_unlinks_on_close),
		cmocka_unit_test(a_restarted_daemon_adopts_the_guard_files_and_continues),
		cmocka_unit_test(a_full_table_or_a_bad_uid_is_refused),
		cmocka_unit_test(a_reserved_entry_is_filled_or_given_up_and_a_detached_one_dropped),
		cmocka_unit_test(before_the_deadline_the_guard_only_sleeps_until_it),
		cmocka_unit_test(an_extension_moves_the_next_wake),
		cmocka_unit_test(without_extension_sigterm_at_the_deadline_and_sigkill_after_k),
		cmocka_unit_test(an_extension_after_sigterm_does_not_stop_the_kill),
		cmocka_unit_test(an_unreadable_record_never_extends_the_deadline),
		cmocka_unit_test(an_older_record_is_ignored_and_a_newer_shorter_one_obeyed),
		cmocka_unit_test(a_guard_waking_after_deadline_plus_k_kills_at_once),
		cmocka_unit_test(the_guard_sigterms_a_vm_whose_deadline_passes),
		cmocka_unit_test(a_vm_ignoring_sigterm_gets_sigkill_after_k),
		cmocka_unit_test(a_vm_that_exits_in_time_keeps_its_status_and_is_not_killed),
		cmocka_unit_test(what_is_left_of_the_vm_process_group_is_killed_at_its_exit),
		cmocka_unit_test(flushing_a_file_volume_succeeds_and_an_unreadable_one_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
