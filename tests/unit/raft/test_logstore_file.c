/* Unit tests of the file log store in a scratch state directory: reload,
 * truncation, hard-state atomicity, crash recovery at every byte of the last
 * write (cut or damaged), refusal of a corrupt middle, snapshots with
 * compaction, segment rollover and the bounded queue. Requests complete
 * through the real epoll loop; the helpers wait for completion events, never
 * for time. Most tests skip fsync (no_sync) to stay fast; one runs with it. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/logstore.h"

struct fx {
	char dir[128];
	struct fl_eloop *el;
	struct raft_logstore *s;
	struct raft_logstore_file_opts opts;
};

struct waiter {
	int n;
	int result;
};

static void on_done(struct raft_log_req *req, int result)
{
	struct waiter *w = req->arg;
	w->n++;
	w->result = result;
}

static void quiet_sink(void *ctx, int level, const char *msg) { (void)ctx; (void)level; (void)msg; }

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/fl-test-logstore-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	f.el = fl_eloop_new();
	assert_non_null(f.el);
	f.opts = (struct raft_logstore_file_opts){.segment_bytes = 1 << 20, .queue_max = 8, .no_sync = true};
	fl_log_set_sink(quiet_sink, NULL);
	*state = &f;
	return 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->s != NULL)
		raft_logstore_close(f->s);
	fl_eloop_free(f->el);
	rm_dir(f->dir);
	fl_log_set_sink(NULL, NULL);
	return 0;
}

/* Submits req and runs the loop until its callback ran; returns its result. */
static int run(struct fx *f, struct raft_log_req *req)
{
	struct waiter w = {0, 0};
	req->cb = on_done;
	req->arg = &w;
	assert_int_equal(raft_logstore_submit(f->s, req), 0);
	for (int i = 0; i < 1000 && w.n == 0; i++)
		assert_int_equal(fl_eloop_run_once(f->el, 10 * FL_US_PER_S), 0);
	assert_int_equal(w.n, 1);
	return w.result;
}

/* (Re)opens the store and loads it; returns the load result. */
static int reopen(struct fx *f, struct raft_log_loaded *l)
{
	if (f->s != NULL)
		raft_logstore_close(f->s);
	char err[256];
	assert_int_equal(raft_logstore_file_open(f->el, f->dir, &f->opts, &f->s, err, sizeof(err)), 0);
	struct raft_log_req r = {.op = RAFT_LOG_LOAD, .load = {l}};
	return run(f, &r);
}

static void append(struct fx *f, uint64_t first, uint32_t n, uint64_t term, uint32_t len)
{
	struct raft_entry e[64];
	uint8_t data[64][256];
	assert_true(n <= 64 && len <= 256);
	for (uint32_t i = 0; i < n; i++) {
		memset(data[i], (int)(first + i), len);
		e[i] = (struct raft_entry){.term = term, .index = first + i, .type = RAFT_ENTRY_NORMAL,
					   .len = len, .data = data[i]};
	}
	struct raft_log_req r = {.op = RAFT_LOG_APPEND, .append = {e, n}};
	assert_int_equal(run(f, &r), 0);
}

/* Checks that l holds entries first..last written by append() with len bytes. */
static void expect_entries(const struct raft_log_loaded *l, uint64_t first, uint64_t last, uint32_t len)
{
	assert_int_equal(l->n_entries, last + 1 - first);
	for (uint64_t i = 0; i < l->n_entries; i++) {
		assert_int_equal(l->entries[i].index, first + i);
		assert_int_equal(l->entries[i].len, len);
		for (uint32_t k = 0; k < len; k++)
			assert_int_equal(l->entries[i].data[k], (uint8_t)(first + i));
	}
}

static void path_of(const struct fx *f, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", f->dir, name);
}

static void seg_path(const struct fx *f, uint64_t first, char *buf, size_t len)
{
	char name[64];
	snprintf(name, sizeof(name), "seg-%016llx.log", (unsigned long long)first);
	path_of(f, name, buf, len);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	uint8_t *b = malloc((size_t)st.st_size + 1);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	*len = fread(b, 1, (size_t)st.st_size, fp);
	fclose(fp);
	return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);
}

static int count_files(const struct fx *f, const char *prefix)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void an_empty_directory_loads_as_an_empty_log(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	assert_int_equal(reopen(f, &l), 0);
	assert_int_equal(l.n_entries, 0);
	assert_int_equal(l.hard.term, 0);
	assert_int_equal(l.hard.vote, 0);
	assert_false(l.have_snapshot);
}

static void appended_entries_load_back_after_a_restart_with_fsync(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	f->opts.no_sync = false;
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 3, 1, 10);
	append(f, 4, 1, 2, 10);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 4, 10);
	assert_int_equal(l.entries[3].term, 2);
	assert_int_equal(l.entries[3].type, RAFT_ENTRY_NORMAL);
	raft_log_loaded_free(&l);
}

static void a_request_before_the_load_fails_the_store(void **state)
{
	struct fx *f = *state;
	char err[256];
	assert_int_equal(raft_logstore_file_open(f->el, f->dir, &f->opts, &f->s, err, sizeof(err)), 0);
	struct raft_log_req r = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}};
	assert_int_equal(run(f, &r), -FL_EINVAL);
	assert_non_null(strstr(raft_logstore_file_last_error(f->s), "before its load"));
}

static void truncate_removes_the_suffix_durably(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 5, 1, 8);
	struct raft_log_req r = {.op = RAFT_LOG_TRUNCATE, .truncate = {3}};
	assert_int_equal(run(f, &r), 0);
	append(f, 3, 1, 2, 8);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 3, 8);
	assert_int_equal(l.entries[2].term, 2);
	raft_log_loaded_free(&l);
}

static void an_append_at_an_existing_index_replaces_the_suffix(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 6, 1, 4);
	append(f, 2, 2, 3, 4);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 3, 4);
	assert_int_equal(l.entries[1].term, 3);
	raft_log_loaded_free(&l);
}

static void set_hard(struct fx *f, uint64_t term, uint64_t vote)
{
	struct raft_log_req r = {.op = RAFT_LOG_SET_HARD, .hard = {term, vote}};
	assert_int_equal(run(f, &r), 0);
}

static void the_hard_state_loads_back_after_a_restart(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	assert_int_equal(reopen(f, &l), 0);
	set_hard(f, 1, 2);
	set_hard(f, 5, 0);
	set_hard(f, 7, 3);
	assert_int_equal(reopen(f, &l), 0);
	assert_int_equal(l.hard.term, 7);
	assert_int_equal(l.hard.vote, 3);
}

/* A torn hard-state write: the first k bytes of the new slot reached the
 * disk, the rest is still the old slot's content. */
static void a_torn_hard_state_write_keeps_the_old_or_the_new_pair(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t len, len2;
	path_of(f, "hardstate", p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	set_hard(f, 1, 1);
	set_hard(f, 2, 2);
	set_hard(f, 3, 3);
	uint8_t *before = slurp(p, &len);
	set_hard(f, 4, 4);
	uint8_t *after = slurp(p, &len2);
	assert_int_equal(len, len2);
	size_t off = 0; /* where the last write went: the first differing byte's slot */
	while (off < len && before[off] == after[off])
		off++;
	assert_true(off < len);
	off -= off % 512;
	for (size_t k = 0; k <= 64; k++) {
		uint8_t *mixed = malloc(len);
		memcpy(mixed, before, len);
		memcpy(mixed + off, after + off, k);
		spit(p, mixed, len);
		free(mixed);
		assert_int_equal(reopen(f, &l), 0);
		assert_true((l.hard.term == 3 && l.hard.vote == 3) || (l.hard.term == 4 && l.hard.vote == 4));
		if (k >= 40)
			assert_int_equal(l.hard.term, 4);
	}
	free(before);
	free(after);
}

static void a_hard_state_file_with_no_valid_slot_is_refused(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t len;
	path_of(f, "hardstate", p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	set_hard(f, 1, 1);
	set_hard(f, 2, 2);
	uint8_t *b = slurp(p, &len);
	b[10] ^= 1;
	b[512 + 10] ^= 1;
	spit(p, b, len);
	free(b);
	assert_int_equal(reopen(f, &l), -FL_ECORRUPT);
	assert_non_null(strstr(raft_logstore_file_last_error(f->s), "hardstate"));
}

/* Cuts the last write at every byte: entries 1..3 (acknowledged) always
 * survive, the second write survives as a prefix of whole entries, and the
 * store accepts appends afterwards. */
static void a_crash_at_every_byte_of_the_last_append_keeps_the_acknowledged_entries(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t acked_len, full_len;
	seg_path(f, 1, p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 3, 1, 20);
	uint8_t *acked = slurp(p, &acked_len);
	append(f, 4, 3, 1, 20);
	uint8_t *full = slurp(p, &full_len);
	free(acked);
	for (size_t cut = acked_len; cut < full_len; cut++) {
		spit(p, full, cut);
		assert_int_equal(reopen(f, &l), 0);
		uint64_t whole = (cut - acked_len) / 60; /* 40-byte header + 20 bytes */
		expect_entries(&l, 1, 3 + whole, 20);
		raft_log_loaded_free(&l);
	}
	append(f, 6, 1, 2, 20);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 6, 20);
	raft_log_loaded_free(&l);
	free(full);
}

/* Damages one byte of the last write at every offset: the damaged entry and
 * everything after it in that write are cut, nothing before is lost. */
static void a_damaged_byte_anywhere_in_the_last_append_is_a_torn_tail(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t acked_len, full_len;
	seg_path(f, 1, p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 2, 1, 20);
	free(slurp(p, &acked_len));
	append(f, 3, 3, 1, 20);
	uint8_t *full = slurp(p, &full_len);
	for (size_t off = acked_len; off < full_len; off++) {
		full[off] ^= 0x5A;
		spit(p, full, full_len);
		full[off] ^= 0x5A;
		assert_int_equal(reopen(f, &l), 0);
		expect_entries(&l, 1, 2 + (off - acked_len) / 60, 20);
		raft_log_loaded_free(&l);
	}
	free(full);
}

/* The page cache may write a later block of an unacknowledged write and lose
 * an earlier one: zeros at the start of the last write, its end intact. */
static void a_lost_block_inside_the_last_append_is_a_torn_tail(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t acked_len, full_len;
	seg_path(f, 1, p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 2, 1, 20);
	free(slurp(p, &acked_len));
	append(f, 3, 4, 1, 20);
	uint8_t *full = slurp(p, &full_len);
	memset(full + acked_len, 0, 70);
	spit(p, full, full_len);
	free(full);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 2, 20);
	raft_log_loaded_free(&l);
}

static void submit_append(struct fx *f, struct raft_log_req *r, struct raft_entry *e, uint8_t (*data)[20],
			  uint64_t first, uint32_t n, struct waiter *w)
{
	for (uint32_t i = 0; i < n; i++) {
		memset(data[i], (int)(first + i), 20);
		e[i] = (struct raft_entry){.term = 1, .index = first + i, .type = RAFT_ENTRY_NORMAL, .len = 20,
					   .data = data[i]};
	}
	*r = (struct raft_log_req){.op = RAFT_LOG_APPEND, .append = {e, n}, .cb = on_done, .arg = w};
	assert_int_equal(raft_logstore_submit(f->s, r), 0);
}

/* Appends queued together share one fdatasync: damage in the group's first
 * append with its second intact is still a torn tail (nothing of the group
 * was acknowledged), not a corrupt middle. */
static void damage_inside_one_group_commit_is_a_torn_tail(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	struct raft_entry e1[1], e2[2];
	uint8_t d1[1][20], d2[2][20];
	struct raft_log_req r1, r2;
	struct waiter w = {0, 0};
	char p[256];
	size_t acked_len, len;
	seg_path(f, 1, p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 2, 1, 20);
	free(slurp(p, &acked_len));
	raft_logstore_file_test_hold(f->s, true);
	submit_append(f, &r1, e1, d1, 3, 1, &w);
	submit_append(f, &r2, e2, d2, 4, 2, &w);
	raft_logstore_file_test_hold(f->s, false);
	for (int i = 0; i < 1000 && w.n < 2; i++)
		assert_int_equal(fl_eloop_run_once(f->el, FL_US_PER_S), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.result, 0);
	uint8_t *b = slurp(p, &len);
	assert_int_equal(len, acked_len + 3 * 60);
	b[acked_len + 45] ^= 1; /* data of entry 3, the group's first */
	spit(p, b, len);
	free(b);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 2, 20);
	raft_log_loaded_free(&l);
}

static void a_bad_record_followed_by_a_later_write_is_refused_with_file_and_offset(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t len;
	seg_path(f, 1, p, sizeof(p));
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 1, 1, 20);
	append(f, 2, 1, 1, 20);
	append(f, 3, 1, 1, 20);
	uint8_t *b = slurp(p, &len);
	b[32 + 60 + 45] ^= 1; /* data of entry 2 */
	spit(p, b, len);
	free(b);
	assert_int_equal(reopen(f, &l), -FL_ECORRUPT);
	const char *e = raft_logstore_file_last_error(f->s);
	assert_non_null(strstr(e, "seg-0000000000000001.log"));
	assert_non_null(strstr(e, "offset 92"));
	assert_non_null(strstr(e, "entry 2"));
}

static void fill_segments(struct fx *f, uint64_t n)
{
	struct raft_log_loaded l;
	f->opts.segment_bytes = 256; /* 32-byte header + 3 records of 60 bytes */
	assert_int_equal(reopen(f, &l), 0);
	for (uint64_t i = 1; i <= n; i++)
		append(f, i, 1, 1, 20);
}

static void the_log_rolls_over_to_new_segments_and_loads_back(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	fill_segments(f, 10);
	assert_int_equal(count_files(f, "seg-"), 4);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 10, 20);
	raft_log_loaded_free(&l);
	char p[256];
	seg_path(f, 4, p, sizeof(p));
	assert_int_equal(access(p, F_OK), 0);
}

static void damage_in_an_earlier_segment_is_refused(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t len;
	fill_segments(f, 7);
	seg_path(f, 4, p, sizeof(p));
	uint8_t *b = slurp(p, &len);
	spit(p, b, len - 1); /* torn tail, but not in the last segment */
	free(b);
	assert_int_equal(reopen(f, &l), -FL_ECORRUPT);
	assert_non_null(strstr(raft_logstore_file_last_error(f->s), "seg-0000000000000004.log"));
}

static void a_missing_segment_is_refused_as_a_gap(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	fill_segments(f, 10);
	seg_path(f, 4, p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(reopen(f, &l), -FL_ECORRUPT);
	assert_non_null(strstr(raft_logstore_file_last_error(f->s), "gap"));
}

static void truncate_across_segments_removes_the_later_ones(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	fill_segments(f, 10);
	struct raft_log_req r = {.op = RAFT_LOG_TRUNCATE, .truncate = {5}};
	assert_int_equal(run(f, &r), 0);
	assert_int_equal(count_files(f, "seg-"), 2);
	append(f, 5, 1, 2, 20);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 5, 20);
	raft_log_loaded_free(&l);
}

/* Truncation removes whole segments newest first: a crash in between leaves
 * a shorter, contiguous log (the truncation was not acknowledged). */
static void a_crash_between_segment_removals_leaves_a_loadable_prefix(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	fill_segments(f, 10);
	seg_path(f, 10, p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 9, 20);
	raft_log_loaded_free(&l);
	append(f, 10, 1, 2, 20);
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 10, 20);
	raft_log_loaded_free(&l);
}

/* New files are written as *.tmp and renamed: a crash before the rename
 * leaves a *.tmp that the load removes and otherwise ignores. */
static void interrupted_file_creations_leave_tmp_files_that_load_removes(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	const char *names[3] = {"seg.tmp", "snap.tmp", "hardstate.tmp"};
	assert_int_equal(reopen(f, &l), 0);
	append(f, 1, 2, 1, 20);
	set_hard(f, 3, 1);
	for (int i = 0; i < 3; i++) {
		path_of(f, names[i], p, sizeof(p));
		spit(p, (const uint8_t *)"partial", 7);
	}
	assert_int_equal(reopen(f, &l), 0);
	expect_entries(&l, 1, 2, 20);
	assert_int_equal(l.hard.term, 3);
	assert_false(l.have_snapshot);
	raft_log_loaded_free(&l);
	for (int i = 0; i < 3; i++) {
		path_of(f, names[i], p, sizeof(p));
		assert_int_not_equal(access(p, F_OK), 0);
	}
}

static void snapshot(struct fx *f, uint64_t index, uint64_t term, uint64_t trailing)
{
	uint8_t conf[4] = {1, 2, 3, 4}, data[100];
	memset(data, (int)index, sizeof(data));
	struct raft_log_snapshot sn = {.index = index, .term = term, .config_len = 4, .config = conf,
				       .data_len = sizeof(data), .data = data};
	struct raft_log_req r = {.op = RAFT_LOG_SNAPSHOT, .snapshot = {&sn, trailing}};
	assert_int_equal(run(f, &r), 0);
}

static void a_restart_loads_the_snapshot_and_the_entries_after_it(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	fill_segments(f, 10);
	snapshot(f, 7, 1, 0);
	/* Segments 1-3 and 4-6 lie wholly before the snapshot; 7-9 holds entry 7. */
	assert_int_equal(count_files(f, "seg-"), 2);
	assert_int_equal(count_files(f, "snap-"), 1);
	snapshot(f, 8, 1, 0);
	assert_int_equal(count_files(f, "snap-"), 1);
	assert_int_equal(reopen(f, &l), 0);
	assert_true(l.have_snapshot);
	assert_int_equal(l.snapshot.index, 8);
	assert_int_equal(l.snapshot.config_len, 4);
	assert_int_equal(l.snapshot.data_len, 100);
	assert_int_equal(l.snapshot.data[99], 8);
	expect_entries(&l, 7, 10, 20);
	raft_log_loaded_free(&l);
}

/* Bytes in the store's directory (every file). */
static uint64_t dir_bytes(struct fx *f)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	struct stat st;
	char p[512];
	uint64_t n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		if (de->d_name[0] != '.' && stat(p, &st) == 0)
			n += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

/* Segments far larger than what is logged between two snapshots: each
 * snapshot still lets the next one remove the entries it covers, so the log
 * on disk stays at about two snapshot intervals however long it runs. */
static void the_log_on_disk_stays_bounded_when_segments_never_fill(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	assert_int_equal(reopen(f, &l), 0); /* 1 MiB segments: these rounds never fill one */
	raft_log_loaded_free(&l);
	uint64_t next = 1, top = 0;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 40; i++, next++)
			append(f, next, 1, 1, 200);
		snapshot(f, next - 10, 1, 5);
		assert_true(count_files(f, "seg-") <= 2);
		if (round >= 2)
			top = dir_bytes(f) > top ? dir_bytes(f) : top;
	}
	/* Two rounds of 40 records of 240 bytes, the snapshot and the hard state. */
	assert_true(top < 2 * 40 * 240 + 2 * 1024);
	path_of(f, "seg-0000000000000001.log", p, sizeof(p));
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_equal(reopen(f, &l), 0);
	assert_int_equal(l.snapshot.index, next - 10);
	expect_entries(&l, l.entries[0].index, next - 1, 200);
	assert_true(l.entries[0].index <= next - 16);
	raft_log_loaded_free(&l);
}

/* A crash between writing a snapshot and removing the previous one leaves
 * both: the load uses the newest and removes the other. */
static void a_leftover_older_snapshot_is_removed_at_load(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256], q[256];
	size_t len;
	fill_segments(f, 5);
	snapshot(f, 3, 1, 0);
	path_of(f, "snap-0000000000000003-0000000000000001.snap", p, sizeof(p));
	path_of(f, "snap-0000000000000002-0000000000000001.snap", q, sizeof(q));
	uint8_t *b = slurp(p, &len);
	spit(q, b, len); /* name says 2; never read, only removed */
	free(b);
	assert_int_equal(count_files(f, "snap-"), 2);
	assert_int_equal(reopen(f, &l), 0);
	assert_int_equal(l.snapshot.index, 3);
	assert_int_equal(count_files(f, "snap-"), 1);
	assert_int_equal(access(p, F_OK), 0);
	raft_log_loaded_free(&l);
}

static void a_snapshot_beyond_the_log_replaces_the_whole_log(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	fill_segments(f, 5);
	snapshot(f, 100, 3, 0);
	assert_int_equal(count_files(f, "seg-"), 0);
	append(f, 101, 1, 3, 20);
	assert_int_equal(reopen(f, &l), 0);
	assert_int_equal(l.snapshot.index, 100);
	expect_entries(&l, 101, 101, 20);
	raft_log_loaded_free(&l);
}

static void a_snapshot_with_a_bad_crc_is_refused(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	size_t len;
	fill_segments(f, 3);
	snapshot(f, 2, 1, 0);
	path_of(f, "snap-0000000000000002-0000000000000001.snap", p, sizeof(p));
	uint8_t *b = slurp(p, &len);
	b[len - 1] ^= 0x80;
	spit(p, b, len);
	free(b);
	assert_int_equal(reopen(f, &l), -FL_ECHECKSUM);
	assert_non_null(strstr(raft_logstore_file_last_error(f->s), "snap-0000000000000002"));
}

static void a_full_queue_refuses_the_next_request(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	struct waiter w = {0, 0};
	struct raft_log_req r[9];
	assert_int_equal(reopen(f, &l), 0);
	for (int i = 0; i < 9; i++)
		r[i] = (struct raft_log_req){.op = RAFT_LOG_SET_HARD, .hard = {1, 1}, .cb = on_done, .arg = &w};
	for (int i = 0; i < 8; i++)
		assert_int_equal(raft_logstore_submit(f->s, &r[i]), 0);
	assert_int_equal(raft_logstore_submit(f->s, &r[8]), -FL_ENOSPC);
	assert_int_equal(f->s->pending, 8);
	for (int i = 0; i < 1000 && w.n < 8; i++)
		assert_int_equal(fl_eloop_run_once(f->el, FL_US_PER_S), 0);
	assert_int_equal(w.n, 8);
	assert_int_equal(f->s->pending, 0);
}

static void a_failed_write_fails_the_request_and_every_later_one(void **state)
{
	struct fx *f = *state;
	struct raft_log_loaded l;
	char p[256];
	assert_int_equal(reopen(f, &l), 0);
	path_of(f, "hardstate", p, sizeof(p));
	assert_int_equal(mkdir(p, 0700), 0); /* the rename onto it must fail */
	struct raft_log_req r = {.op = RAFT_LOG_SET_HARD, .hard = {1, 1}};
	int rv = run(f, &r);
	assert_true(rv < 0);
	assert_non_null(strstr(raft_logstore_file_last_error(f->s), "hardstate"));
	struct raft_entry e = {.term = 1, .index = 1, .len = 0};
	struct raft_log_req a = {.op = RAFT_LOG_APPEND, .append = {&e, 1}, .cb = on_done};
	assert_int_equal(raft_logstore_submit(f->s, &a), rv); /* sticky */
	assert_int_equal(rmdir(p), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(an_empty_directory_loads_as_an_empty_log),
		T(appended_entries_load_back_after_a_restart_with_fsync),
		T(a_request_before_the_load_fails_the_store),
		T(truncate_removes_the_suffix_durably),
		T(an_append_at_an_existing_index_replaces_the_suffix),
		T(the_hard_state_loads_back_after_a_restart),
		T(a_torn_hard_state_write_keeps_the_old_or_the_new_pair),
		T(a_hard_state_file_with_no_valid_slot_is_refused),
		T(a_crash_at_every_byte_of_the_last_append_keeps_the_acknowledged_entries),
		T(a_damaged_byte_anywhere_in_the_last_append_is_a_torn_tail),
		T(a_lost_block_inside_the_last_append_is_a_torn_tail),
		T(damage_inside_one_group_commit_is_a_torn_tail),
		T(a_bad_record_followed_by_a_later_write_is_refused_with_file_and_offset),
		T(the_log_rolls_over_to_new_segments_and_loads_back),
		T(damage_in_an_earlier_segment_is_refused),
		T(a_missing_segment_is_refused_as_a_gap),
		T(truncate_across_segments_removes_the_later_ones),
		T(a_crash_between_segment_removals_leaves_a_loadable_prefix),
		T(interrupted_file_creations_leave_tmp_files_that_load_removes),
		T(a_restart_loads_the_snapshot_and_the_entries_after_it),
		T(the_log_on_disk_stays_bounded_when_segments_never_fill),
		T(a_leftover_older_snapshot_is_removed_at_load),
		T(a_snapshot_beyond_the_log_replaces_the_whole_log),
		T(a_snapshot_with_a_bad_crc_is_refused),
		T(a_full_queue_refuses_the_next_request),
		T(a_failed_write_fails_the_request_and_every_later_one),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
