/* The per-VM guard (see guard.h): the deadline record, its shared file, the
 * guard's decision function and the guard process loop.
 *
 * The loop is deliberately small and uses nothing but the kernel: a timerfd
 * on CLOCK_MONOTONIC armed with an absolute time, a signalfd, poll() and
 * waitpid(). It allocates nothing after start and asks nobody before it
 * kills, so neither a paused daemon nor memory pressure can delay a kill. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include "common/errmap.h"
#include "common/le.h"
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_proto.h"
#include "plugin/host/guard.h"

_Static_assert(GUARD_UID_MAX == CTL_UID_MAX, "guard file names are VM uids");

/* Slot layout (little-endian):
 *   0 magic u32 | 4 version u32 | 8 seq u64 | 16 deadline_us u64 |
 *  24 kill_grace_us u64 | 32..59 zero | 60 crc32c u32 over bytes 0..59 */
#define SLOT_CRC_OFF 60u

void guard_rec_encode(const struct guard_rec *rec, uint8_t slot[GUARD_SLOT_BYTES])
{
	FL_ASSERT(rec->seq > 0);
	memset(slot, 0, GUARD_SLOT_BYTES);
	fl_put_le32(slot, GUARD_MAGIC);
	fl_put_le32(slot + 4, GUARD_VERSION);
	fl_put_le64(slot + 8, rec->seq);
	fl_put_le64(slot + 16, rec->deadline_us);
	fl_put_le64(slot + 24, rec->kill_grace_us);
	fl_put_le32(slot + SLOT_CRC_OFF, fl_crc32c_std(slot, SLOT_CRC_OFF));
}

int guard_rec_decode(const uint8_t slot[GUARD_SLOT_BYTES], struct guard_rec *rec)
{
	uint8_t copy[GUARD_SLOT_BYTES];
	/* One copy, then every check on the copy: the writer may be mid-write. */
	memcpy(copy, slot, GUARD_SLOT_BYTES);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (fl_get_le32(copy) != GUARD_MAGIC)
		return -FL_EMAGIC;
	if (fl_crc32c_std(copy, SLOT_CRC_OFF) != fl_get_le32(copy + SLOT_CRC_OFF))
		return -FL_ECHECKSUM;
	if (fl_get_le32(copy + 4) != GUARD_VERSION)
		return -FL_EVERSION;
	rec->seq = fl_get_le64(copy + 8);
	rec->deadline_us = fl_get_le64(copy + 16);
	rec->kill_grace_us = fl_get_le64(copy + 24);
	return rec->seq > 0 ? 0 : -FL_ECORRUPT;
}

int guard_rec_pick(const uint8_t *base, struct guard_rec *rec)
{
	struct guard_rec a, b;
	int ra = guard_rec_decode(base, &a);
	int rb = guard_rec_decode(base + GUARD_SLOT_BYTES, &b);
	if (ra != 0 && rb != 0)
		return ra;
	if (ra == 0 && (rb != 0 || a.seq > b.seq))
		*rec = a;
	else
		*rec = b;
	return 0;
}

int guard_file_path(const char *run_dir, const char *uid, char *buf, size_t len)
{
	FL_ASSERT(run_dir != NULL);
	FL_ASSERT(uid != NULL);
	FL_ASSERT(buf != NULL);
	FL_ASSERT(uid[0] != '\0');
	FL_ASSERT(uid[0] != '.');
	FL_ASSERT(strchr(uid, '/') == NULL);
	int n = snprintf(buf, len, "%s/guard/%s", run_dir, uid);
	return n > 0 && (size_t)n < len ? 0 : -FL_EINVAL;
}

int guard_writer_open(struct guard_writer *w, const char *path)
{
	FL_ASSERT(w != NULL);
	FL_ASSERT(path != NULL);
	*w = (struct guard_writer){.fd = -1};
	w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (w->fd < 0)
		return fl_from_errno(errno);
	struct stat st;
	if (fstat(w->fd, &st) != 0 || (st.st_size < GUARD_FILE_BYTES && ftruncate(w->fd, GUARD_FILE_BYTES) != 0))
		goto err;
	void *m = mmap(NULL, GUARD_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
	if (m == MAP_FAILED)
		goto err;
	/* A child the daemon forks (recover_command) must not carry the mapping
	 * into its life before exec: a restarted daemon finds a VM's live
	 * guard by who maps its file, and would take that child for it. */
	if (madvise(m, GUARD_FILE_BYTES, MADV_DONTFORK) != 0) {
		munmap(m, GUARD_FILE_BYTES);
		goto err;
	}
	w->map = m;
	struct guard_rec cur;
	if (guard_rec_pick(w->map, &cur) == 0)
		w->seq = cur.seq; /* a restarted daemon continues the sequence */
	return 0;
err:;
	int rv = fl_from_errno(errno);
	close(w->fd);
	w->fd = -1;
	return rv;
}

int guard_writer_set(struct guard_writer *w, uint64_t deadline_us, uint64_t kill_grace_us)
{
	FL_ASSERT(w->map != NULL);
	struct guard_rec rec = {.seq = w->seq + 1, .deadline_us = deadline_us, .kill_grace_us = kill_grace_us};
	uint8_t slot[GUARD_SLOT_BYTES];
	guard_rec_encode(&rec, slot);
	uint8_t *dst = w->map + (rec.seq % 2) * GUARD_SLOT_BYTES;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(dst, slot, GUARD_SLOT_BYTES);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	w->seq = rec.seq;
	return 0;
}

void guard_writer_close(struct guard_writer *w)
{
	if (w->map != NULL)
		munmap(w->map, GUARD_FILE_BYTES);
	if (w->fd >= 0)
		close(w->fd);
	*w = (struct guard_writer){.fd = -1};
}

int guard_reader_open(struct guard_reader *r, const char *path)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(path != NULL);
	*r = (struct guard_reader){.fd = -1};
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fl_from_errno(errno);
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < GUARD_FILE_BYTES) {
		close(fd);
		return -FL_ETOOSMALL;
	}
	void *m = mmap(NULL, GUARD_FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED || madvise(m, GUARD_FILE_BYTES, MADV_DONTFORK) != 0) {
		int rv = fl_from_errno(errno);
		if (m != MAP_FAILED)
			munmap(m, GUARD_FILE_BYTES);
		close(fd);
		return rv;
	}
	r->fd = fd;
	r->map = m;
	return 0;
}

int guard_reader_get(const struct guard_reader *r, struct guard_rec *rec)
{
	FL_ASSERT(r->map != NULL);
	return guard_rec_pick(r->map, rec);
}

void guard_reader_close(struct guard_reader *r)
{
	if (r->map != NULL)
		munmap((void *)r->map, GUARD_FILE_BYTES);
	if (r->fd >= 0)
		close(r->fd);
	*r = (struct guard_reader){.fd = -1};
}

void guard_state_init(struct guard_state *st, const struct guard_rec *first)
{
	FL_ASSERT(first->seq > 0);
	*st = (struct guard_state){.phase = GUARD_WATCHING, .deadline_us = first->deadline_us,
				   .kill_grace_us = first->kill_grace_us, .seq = first->seq};
}

enum guard_action guard_step(struct guard_state *st, uint64_t now_us, const struct guard_rec *rec,
			     uint64_t *wake_us)
{
	if (st->phase == GUARD_WATCHING) {
		if (rec == NULL)
			st->bad_reads++;
		else if (rec->seq > st->seq) {
			st->seq = rec->seq;
			st->deadline_us = rec->deadline_us;
			st->kill_grace_us = rec->kill_grace_us;
		}
		if (now_us < st->deadline_us) {
			*wake_us = st->deadline_us;
			return GUARD_ACT_NONE;
		}
		st->kill_at_us = st->deadline_us + st->kill_grace_us;
		if (now_us >= st->kill_at_us) {
			st->phase = GUARD_KILL_SENT;
			*wake_us = UINT64_MAX;
			return GUARD_ACT_TERM_KILL;
		}
		st->phase = GUARD_TERM_SENT;
		*wake_us = st->kill_at_us;
		return GUARD_ACT_TERM;
	}
	if (st->phase == GUARD_TERM_SENT) {
		/* Once the kill has started no extension stops it. */
		if (now_us < st->kill_at_us) {
			*wake_us = st->kill_at_us;
			return GUARD_ACT_NONE;
		}
		st->phase = GUARD_KILL_SENT;
		*wake_us = UINT64_MAX;
		return GUARD_ACT_KILL;
	}
	FL_ASSERT(st->phase == GUARD_KILL_SENT);
	*wake_us = UINT64_MAX;
	return GUARD_ACT_NONE;
}

/* ---- the daemon's table ---- */

int guard_table_init(struct guard_table *t, const char *run_dir, uint32_t cap)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(run_dir != NULL);
	FL_ASSERT(cap >= 1);
	FL_ASSERT(cap <= GUARD_TABLE_MAX);
	memset(t, 0, sizeof(*t));
	int n = snprintf(t->dir, sizeof(t->dir), "%s/guard", run_dir);
	if (n < 0 || (size_t)n >= sizeof(t->dir) - GUARD_UID_MAX - 2)
		return -FL_EINVAL;
	if (mkdir(t->dir, 0755) != 0 && errno != EEXIST)
		return fl_from_errno(errno);
	t->e = calloc(cap, sizeof(*t->e));
	if (t->e == NULL)
		return -FL_ENOMEM;
	t->cap = cap;
	return 0;
}

void guard_table_free(struct guard_table *t)
{
	for (uint32_t i = 0; t->e != NULL && i < t->cap; i++)
		if (t->e[i].used)
			guard_writer_close(&t->e[i].w);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static struct guard_entry *table_find(struct guard_table *t, const char *uid)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->e[i].used && strcmp(t->e[i].uid, uid) == 0)
			return &t->e[i];
	return NULL;
}

static struct guard_entry *table_find_reserved(struct guard_table *t, const char *uid)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->e[i].reserved && strcmp(t->e[i].uid, uid) == 0)
			return &t->e[i];
	return NULL;
}

/* Opens the writer of uid into a free entry. */
static int table_add(struct guard_table *t, const char *uid, struct guard_entry **out)
{
	if (!ctl_uid_valid(uid))
		return -FL_EINVAL;
	struct guard_entry *e = NULL;
	for (uint32_t i = 0; i < t->cap && e == NULL; i++)
		if (!t->e[i].used && !t->e[i].reserved)
			e = &t->e[i];
	if (e == NULL)
		return -FL_ENOSPC;
	char path[sizeof(t->dir) + GUARD_UID_MAX + 2];
	snprintf(path, sizeof(path), "%s/%s", t->dir, uid);
	int rv = guard_writer_open(&e->w, path);
	if (rv != 0)
		return rv;
	e->used = true;
	snprintf(e->uid, sizeof(e->uid), "%s", uid);
	t->n++;
	*out = e;
	return 0;
}

int guard_table_adopt(struct guard_table *t, void (*fn)(void *ctx, const char *uid), void *ctx)
{
	DIR *d = opendir(t->dir);
	if (d == NULL)
		return fl_from_errno(errno);
	int adopted = 0, rv = 0;
	struct dirent *de;
	/* Bounded by the directory's size; each entry is looked at once. */
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (!ctl_uid_valid(de->d_name) || table_find(t, de->d_name) != NULL ||
		    table_find_reserved(t, de->d_name) != NULL)
			continue;
		struct guard_entry *e;
		rv = table_add(t, de->d_name, &e);
		if (rv == 0) {
			adopted++;
			if (fn != NULL)
				fn(ctx, e->uid);
		}
	}
	closedir(d);
	return rv != 0 ? rv : adopted;
}

int guard_table_reserve(struct guard_table *t, const char *uid, char *path, size_t len)
{
	if (!ctl_uid_valid(uid))
		return -FL_EINVAL;
	struct guard_entry *e = NULL;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct guard_entry *o = &t->e[i];
		if ((o->used || o->reserved) && strcmp(o->uid, uid) == 0) {
			e = o;
			break;
		}
		if (e == NULL && !o->used && !o->reserved)
			e = o;
	}
	if (e == NULL)
		return -FL_ENOSPC;
	if (e->reserved)
		return -FL_EBUSY;
	int n = snprintf(path, len, "%s/%s", t->dir, uid);
	if (n < 0 || (size_t)n >= len)
		return -FL_EINVAL;
	if (e->used)
		return 1;
	e->reserved = true;
	snprintf(e->uid, sizeof(e->uid), "%s", uid);
	return 0;
}

void guard_table_fill(struct guard_table *t, const char *uid, struct guard_writer *w, uint64_t deadline_us,
		      uint64_t kill_grace_us)
{
	struct guard_entry *e = table_find_reserved(t, uid);
	FL_ASSERT(e != NULL);
	FL_ASSERT(w->map != NULL);
	e->reserved = false;
	e->used = true;
	e->w = *w;
	*w = (struct guard_writer){.fd = -1};
	t->n++;
	guard_writer_set(&e->w, deadline_us, kill_grace_us);
}

void guard_table_unreserve(struct guard_table *t, const char *uid)
{
	struct guard_entry *e = table_find_reserved(t, uid);
	if (e != NULL)
		e->reserved = false;
}

int guard_table_detach(struct guard_table *t, const char *uid, struct guard_writer *out, char *path, size_t len)
{
	struct guard_entry *e = table_find(t, uid);
	if (e == NULL)
		return -FL_ENOENT;
	snprintf(path, len, "%s/%s", t->dir, e->uid);
	*out = e->w;
	e->w = (struct guard_writer){.fd = -1};
	e->used = false;
	FL_ASSERT(t->n > 0);
	t->n--;
	return 0;
}

void guard_file_drop(struct guard_writer *w, const char *path)
{
	guard_writer_close(w);
	unlink(path);
}

int guard_table_open(struct guard_table *t, const char *uid, uint64_t deadline_us,
		     uint64_t kill_grace_us, char *path, size_t len)
{
	struct guard_entry *e = table_find(t, uid);
	int rv = e != NULL ? 0 : table_add(t, uid, &e);
	if (rv != 0)
		return rv;
	int n = snprintf(path, len, "%s/%s", t->dir, e->uid);
	if (n < 0 || (size_t)n >= len)
		return -FL_EINVAL;
	return guard_writer_set(&e->w, deadline_us, kill_grace_us);
}

void guard_table_extend_all(struct guard_table *t, uint64_t deadline_us, uint64_t kill_grace_us)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->e[i].used)
			guard_writer_set(&t->e[i].w, deadline_us, kill_grace_us);
}

int guard_table_set(struct guard_table *t, const char *uid, uint64_t deadline_us, uint64_t kill_grace_us)
{
	struct guard_entry *e = table_find(t, uid);
	if (e == NULL)
		return -FL_ENOENT;
	return guard_writer_set(&e->w, deadline_us, kill_grace_us);
}

int guard_table_close(struct guard_table *t, const char *uid)
{
	struct guard_entry *e = table_find(t, uid);
	if (e == NULL)
		return -FL_ENOENT;
	char path[sizeof(t->dir) + GUARD_UID_MAX + 2];
	snprintf(path, sizeof(path), "%s/%s", t->dir, e->uid);
	guard_writer_close(&e->w);
	unlink(path);
	e->used = false;
	FL_ASSERT(t->n > 0);
	t->n--;
	return 0;
}

/* ---- the guard process ---- */

struct guard_proc {
	const struct guard_run_opts *o;
	int tfd, sfd;
	pid_t kill_path_pid;          /* 0 when none running */
	struct guard_state st;
	struct guard_result *res;
	bool exited;
};

static void guard_signal_group(const struct guard_proc *g, int sig)
{
	/* The group first (helpers of the VMM), then the child itself in case
	 * it left the group. */
	if (kill(-g->o->child, sig) != 0 && errno != ESRCH)
		fl_warn("guard of VM %s: kill(-%d, %d) failed: %s", g->o->uid, (int)g->o->child, sig, strerror(errno));
	kill(g->o->child, sig);
}

static void guard_run_kill_path(struct guard_proc *g)
{
	const char *kp = g->o->kill_path;
	if (kp == NULL || kp[0] == '\0' || g->kill_path_pid > 0)
		return;
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)g->o->child);
	pid_t p = fork();
	if (p == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(kp, kp, g->o->uid, pid, (char *)NULL);
		_exit(127);
	}
	if (p < 0)
		fl_err("guard of VM %s: cannot run kill path %s: %s", g->o->uid, kp, strerror(errno));
	else
		g->kill_path_pid = p;
}

static int guard_arm(const struct guard_proc *g, uint64_t wake_us)
{
	struct itimerspec its = {0};
	if (wake_us != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(wake_us / FL_US_PER_S);
		its.it_value.tv_nsec = (long)(wake_us % FL_US_PER_S) * 1000;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1; /* zero would disarm */
	}
	return timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0 ? 0 : fl_from_errno(errno);
}

static void guard_act(struct guard_proc *g, enum guard_action act)
{
	if (act == GUARD_ACT_NONE)
		return;
	g->res->killed_by_guard = true;
	if (act == GUARD_ACT_TERM || act == GUARD_ACT_TERM_KILL) {
		fl_err("guard of VM %s: deadline passed without extension from fencelockd; sending SIGTERM to pid %d (SIGKILL in %llu ms)",
		       g->o->uid, (int)g->o->child, (unsigned long long)(g->st.kill_grace_us / 1000));
		guard_signal_group(g, SIGTERM);
		guard_run_kill_path(g);
	}
	if (act == GUARD_ACT_KILL || act == GUARD_ACT_TERM_KILL) {
		fl_err("guard of VM %s: kill grace over; sending SIGKILL to pid %d", g->o->uid, (int)g->o->child);
		guard_signal_group(g, SIGKILL);
		g->res->sigkill_sent = true;
	}
}

/* The timer fired (or we are starting): re-read the record and decide. */
static int guard_on_timer(struct guard_proc *g)
{
	uint64_t expirations;
	ssize_t n = read(g->tfd, &expirations, sizeof(expirations));
	(void)n; /* EAGAIN when called without an expiry: fine */
	struct guard_rec rec;
	int rv = guard_reader_get(g->o->reader, &rec);
	if (rv != 0)
		fl_warn("guard of VM %s: deadline record unreadable (%s); keeping deadline in force",
			g->o->uid, fl_strerror(rv));
	uint64_t wake_us;
	enum guard_action act = guard_step(&g->st, fl_monotonic_us(), rv == 0 ? &rec : NULL, &wake_us);
	guard_act(g, act);
	return guard_arm(g, wake_us);
}

static void guard_on_signal(struct guard_proc *g)
{
	struct signalfd_siginfo si;
	/* Bounded: the signalfd holds at most one pending instance per signal. */
	for (int i = 0; i < 64 && read(g->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si); i++) {
		if (si.ssi_signo != SIGCHLD) {
			fl_info("guard of VM %s: forwarding signal %u to pid %d", g->o->uid, si.ssi_signo, (int)g->o->child);
			guard_signal_group(g, (int)si.ssi_signo);
		}
	}
	/* Every child that has ended, looked at before it is reaped: the VM may
	 * end at any moment, also after a first look found it running, so a
	 * blind reap of "strays" could take the VM's own status and leave the
	 * guard waiting for it forever. The VM is never reaped before the rest
	 * of its group is killed: while its zombie exists its process group id
	 * cannot be reused, so the helpers that may still hold a volume open
	 * are killed safely before the release. */
	for (int i = 0; i < 1024; i++) {
		siginfo_t si_child = {0};
		if (waitid(P_ALL, 0, &si_child, WEXITED | WNOHANG | WNOWAIT) != 0 || si_child.si_pid == 0)
			break;
		pid_t p = si_child.si_pid;
		if (p == g->o->child)
			kill(-g->o->child, SIGKILL);
		int status;
		if (waitpid(p, &status, 0) != p)
			break;
		if (p == g->o->child) {
			g->res->wait_status = status;
			g->exited = true;
		} else if (p == g->kill_path_pid) {
			g->kill_path_pid = 0;
		}
	}
}

static int guard_setup(struct guard_proc *g)
{
	sigset_t set;
	sigemptyset(&set);
	int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
	for (size_t i = 0; i < FL_ARRAY_SIZE(sigs); i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return fl_from_errno(errno);
	g->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (g->sfd < 0 || g->tfd < 0)
		return fl_from_errno(errno);
	struct guard_rec first;
	int rv = guard_reader_get(g->o->reader, &first);
	if (rv != 0)
		return rv;
	guard_state_init(&g->st, &first);
	return 0;
}

int guard_run(const struct guard_run_opts *opts, struct guard_result *res)
{
	FL_ASSERT(opts != NULL);
	FL_ASSERT(opts->child > 0);
	FL_ASSERT(opts->reader != NULL);
	FL_ASSERT(res != NULL);
	memset(res, 0, sizeof(*res));
	struct guard_proc g = {.o = opts, .tfd = -1, .sfd = -1, .res = res};
	int rv = guard_setup(&g);
	if (rv == 0)
		rv = guard_on_timer(&g);
	if (rv != 0) {
		fl_err("guard of VM %s: cannot watch its deadline (%s); killing pid %d", opts->uid,
		       fl_strerror(rv), (int)opts->child);
		guard_signal_group(&g, SIGKILL);
		waitpid(opts->child, &res->wait_status, 0);
	}
	/* Bounded by the child's life: SIGKILL is sent by deadline + K. */
	while (rv == 0 && !g.exited) {
		struct pollfd p[2] = {{.fd = g.tfd, .events = POLLIN}, {.fd = g.sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			rv = fl_from_errno(errno);
			break;
		}
		if (p[1].revents & POLLIN)
			guard_on_signal(&g);
		if (!g.exited && (p[0].revents & POLLIN))
			rv = guard_on_timer(&g);
	}
	res->deadline_us = g.st.deadline_us;
	res->kill_grace_us = g.st.kill_grace_us;
	if (g.tfd >= 0)
		close(g.tfd);
	if (g.sfd >= 0)
		close(g.sfd);
	return rv;
}

static int flush_one(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1; /* gone: nothing can reach it through this path */
	struct stat st;
	int rv = fsync(fd);
	if (rv == 0 && fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
		rv = ioctl(fd, BLKFLSBUF, 0);
	close(fd);
	return rv;
}

int guard_flush_start(const char *const *paths, size_t n, pid_t *pid, int *pidfd)
{
	FL_ASSERT(n <= GUARD_VOLUMES_MAX);
	FL_ASSERT(pid != NULL);
	FL_ASSERT(pidfd != NULL);
	pid_t p = fork();
	if (p < 0)
		return fl_from_errno(errno);
	if (p == 0) {
		int failed = 0;
		for (size_t i = 0; i < n; i++)
			failed |= flush_one(paths[i]) != 0;
		_exit(failed ? 1 : 0);
	}
	/* Our unreaped child cannot go away before this: its pid stays ours. */
	int fd = (int)syscall(SYS_pidfd_open, p, 0);
	if (fd < 0) {
		int rv = fl_from_errno(errno);
		kill(p, SIGKILL);
		return rv;
	}
	*pid = p;
	*pidfd = fd;
	return 0;
}

int guard_flush_reap(pid_t pid)
{
	int status;
	pid_t w;
	do
		w = waitpid(pid, &status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == 0)
		return -FL_EAGAIN;
	if (w != pid)
		return -FL_EIO; /* not ours to judge: count it as not flushed */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -FL_EIO;
}

int guard_flush_volumes(const char *const *paths, size_t n, uint64_t timeout_us)
{
	pid_t p;
	int fd;
	int rv = guard_flush_start(paths, n, &p, &fd);
	if (rv != 0)
		return rv;
	uint64_t until = fl_monotonic_us() + timeout_us;
	/* Bounded by timeout_us: poll() sleeps until the child exits or the
	 * time left runs out. */
	for (;;) {
		uint64_t now = fl_monotonic_us();
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int ms = now >= until ? 0 : (int)FL_MIN((until - now + 999) / 1000, (uint64_t)INT32_MAX);
		int r = poll(&pf, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		rv = guard_flush_reap(p);
		if (rv != -FL_EAGAIN || now >= until)
			break;
	}
	close(fd);
	if (rv == -FL_EAGAIN) {
		kill(p, SIGKILL); /* may sit in D state on a dead device: do not wait */
		return -FL_ETIMEDOUT;
	}
	return rv;
}
