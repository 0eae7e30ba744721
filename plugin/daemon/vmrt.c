/* fencelockd's VM runtime: the arbiter's struct arb_vm_ops on real processes.
 *
 * A VM runs on this host under `fencelock exec` (the wrapper and guard,
 * plugin/cli/cmd_exec.c), which asks for a grant with vm.acquire on behalf of
 * the VM's pid. The arbiter alone decides when a VM may run here: it places
 * it, wins its volume leases on disk and only then calls start(). So a
 * vm.acquire waits (CTL_DEFERRED) until start() runs for that VM, and start()
 * answers it with the guard file; a VM the leader placed here after a
 * failure has no wrapper waiting, and start() runs one: recover_command (uid
 * as argument, spec on stdin, FENCELOCK_SOCKET set) or, without one, the
 * registered command line again under `fencelock exec`, whose vm.acquire then
 * finds the VM started and is granted at once.
 *
 * kill() SIGTERMs the wrapper (it forwards to the VM's process group), and
 * SIGKILLs the VM's group and the wrapper at the deadline. Every signal to a
 * VM or a wrapper goes through a pidfd (pidfd_send_signal): the VM's was
 * taken by the control server from the pid vm.acquire named after checking
 * it is the caller's own descendant, the wrapper's is its connection's
 * (SO_PEERPIDFD); a pid a client merely claims is never signalled, and a
 * pid reused after its process ended is never hit. A VM is reported
 * dead to the arbiter (arb_vm_exited: its leases are then released) only
 * after its volumes were flushed: by the wrapper, which says vm.release after
 * its flush, or by us, when the wrapper vanished without a release (pidfd)
 * and a flush child we started (off the loop, see "the flush after a wrapper
 * died") succeeded. A VM that ends on its own (not
 * killed by us, not by its guard) is unplaced, so it is not started again.
 * guard() writes the arbiter's deadline into every guard file: the loop clock
 * is CLOCK_MONOTONIC microseconds, the guard files' clock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "fencelock/fencelock.h"
#include "plugin/daemon/daemon.h"
#include "plugin/host/vmspec.h"

#define ADOPTED_MAX FLD_MAX_VMS

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Guard files a previous daemon left, and the live wrapper that maps each
 * (found by one /proc scan at start-up, pinned by a pidfd so a reused pid is
 * never taken for it): holder 0 / fd -1 when none maps it. */
struct adopted_vm {
	char uid[CTL_UID_MAX + 1];   /* "" once taken or dropped */
	pid_t holder;
	int fd;
};
static struct adopted_vm adopted[ADOPTED_MAX];
static uint32_t n_adopted;

static void dvm_timer_fn(struct fl_timer *t, void *arg);
static void dvm_report_fn(struct fl_timer *t, void *arg);
static void dvm_flush_timer_fn(struct fl_timer *t, void *arg);
static void guard_release(struct fld *d, const char *uid);

void vmrt_init(struct fld *d)
{
	for (uint32_t i = 0; i < FLD_MAX_VMS; i++) {
		struct dvm *v = &d->vms[i];
		memset(v, 0, sizeof(*v));
		v->d = d;
		v->idx = i;
		v->wrapper_fd = v->spawn_fd = v->flush_fd = v->pid_fd = -1;
		v->acquire_pid_fd = v->acquire_wrapper_fd = -1;
		fl_timer_init(&v->timer, dvm_timer_fn, v);
		fl_timer_init(&v->report, dvm_report_fn, v);
		fl_timer_init(&v->flush_timer, dvm_flush_timer_fn, v);
	}
	vmscope_init();
}

static void adopt_cb(void *ctx, const char *uid)
{
	(void)ctx;
	if (n_adopted < ADOPTED_MAX) {
		struct adopted_vm *a = &adopted[n_adopted++];
		snprintf(a->uid, sizeof(a->uid), "%s", uid);
		a->holder = 0;
		a->fd = -1;
	}
	fl_notice("guard file of VM %s adopted: its wrapper may still run it", uid);
}

/* The adopted VM whose guard file path ends a line of a maps file, or NULL. */
static struct adopted_vm *maps_line_match(const char *line, size_t l, const char *dir, size_t dl)
{
	const char *slash = memrchr(line, '/', l);
	if (slash == NULL || (size_t)(slash - line) < dl || memcmp(slash - dl, dir, dl) != 0)
		return NULL;
	for (uint32_t i = 0; i < n_adopted; i++)
		if (adopted[i].holder == 0 && strcmp(slash + 1, adopted[i].uid) == 0)
			return &adopted[i];
	return NULL;
}

/* One pass over /proc: every process that maps an adopted guard file is
 * that VM's wrapper (after a restart, how a live wrapper is told from a file
 * its dead wrapper left). Run once at start-up, before the arbiter takes the
 * delta lease, never from the loop: a /proc scan costs milliseconds per
 * thousand processes. Each holder found is pinned with a pidfd. */
static void scan_holders(const struct fld *d)
{
	char line[1536];
	const char *dir = d->guards.dir;
	size_t dl = strlen(dir);
	DIR *pd = n_adopted > 0 ? opendir("/proc") : NULL;
	struct dirent *e;
	/* Bounded by the number of processes; each maps file by 100000 lines. */
	while (pd != NULL && (e = readdir(pd)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == getpid())
			continue;
		char maps[64];
		snprintf(maps, sizeof(maps), "/proc/%ld/maps", pid);
		FILE *f = fopen(maps, "re");
		for (uint32_t n = 0; f != NULL && n < 100000 && fgets(line, sizeof(line), f) != NULL; n++) {
			size_t l = strlen(line);
			if (l > 0 && line[l - 1] == '\n')
				line[--l] = '\0';
			struct adopted_vm *a = maps_line_match(line, l, dir, dl);
			if (a == NULL)
				continue;
			int fd = pidfd_open_((pid_t)pid);
			if (fd >= 0) {
				a->holder = (pid_t)pid;
				a->fd = fd;
			}
		}
		if (f != NULL)
			fclose(f);
	}
	if (pd != NULL)
		closedir(pd);
}

int vmrt_adopt(struct fld *d)
{
	n_adopted = 0;
	int rv = guard_table_adopt(&d->guards, adopt_cb, d);
	if (rv > 0)
		scan_holders(d);
	return rv;
}

/* True while the process behind pidfd fd runs (a pidfd turns readable when
 * its process exits). Never blocks. */
static bool pidfd_alive(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return fd >= 0 && poll(&p, 1, 0) == 0;
}

static void adopted_drop(struct adopted_vm *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	a->holder = 0;
	a->uid[0] = '\0';
}

static struct adopted_vm *take_adopted(const char *uid)
{
	for (uint32_t i = 0; i < n_adopted; i++)
		if (adopted[i].uid[0] != '\0' && strcmp(adopted[i].uid, uid) == 0)
			return &adopted[i];
	return NULL;
}

/* Adopted guard files nobody claimed: once this host is quorate (its FSM
 * caught up), a file whose VM is not placed here, or whose wrapper is gone,
 * leaves the table, so no renewal of ours extends it any more. */
void vmrt_forget_unclaimed(struct fld *d)
{
	for (uint32_t i = 0; i < n_adopted; i++) {
		struct adopted_vm *a = &adopted[i];
		if (a->uid[0] == '\0')
			continue;
		const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), a->uid, NULL);
		bool here = vm != NULL && vm->desired_host == d->cfg.host_id;
		if (here && pidfd_alive(a->fd))
			continue;
		fl_notice("guard file of VM %s dropped: %s", a->uid, here ? "no wrapper maps it" : "the VM is not placed here");
		guard_release(d, a->uid);
		adopted_drop(a);
	}
}

struct dvm *vmrt_find(struct fld *d, const char *uid)
{
	uint32_t idx;
	if (fsm_vm_find(arb_fsm(d->arb), uid, &idx) == NULL || idx >= FLD_MAX_VMS)
		return NULL;
	return &d->vms[idx];
}

bool vmrt_any_active(const struct fld *d)
{
	uint32_t end = FL_MIN(fsm_vm_scan_end(arb_fsm(d->arb)), FLD_MAX_VMS);
	for (uint32_t i = 0; i < end; i++)
		if (d->vms[i].state != DVM_NONE)
			return true;
	return false;
}

const char *vmrt_state_name(const struct dvm *v)
{
	static const char *const names[] = {"STOPPED", "STARTING", "RUNNING", "STOPPING"};
	FL_ASSERT(v->state < FL_ARRAY_SIZE(names));
	return v->acquire != NULL ? "ACQUIRING" : names[v->state];
}

/* ---- FSM commands the runtime proposes ---- */

static void report_run(struct fld *d, struct dvm *v, bool running)
{
	struct fsm_cmd c = {.type = FSM_CMD_VM_REPORT, .host_id = d->cfg.host_id, .incarnation = v->incarnation,
			    .running = running ? 1 : 0};
	snprintf(c.uid, sizeof(c.uid), "%s", v->uid);
	int rv = arb_submit(d->arb, &c);
	if (rv != 0)
		fl_info("VM %s: run report not sent: %s", v->uid, fl_strerror(rv));
}

static void unplace(struct fld *d, const char *uid, uint64_t incarnation)
{
	struct fsm_cmd c = {.type = FSM_CMD_VM_PLACE, .host_id = 0, .incarnation = incarnation};
	snprintf(c.uid, sizeof(c.uid), "%s", uid);
	int rv = arb_submit(d->arb, &c);
	fl_info("VM %s: unplacing (incarnation %" PRIu64 "): %s", uid, incarnation, rv ? fl_strerror(rv) : "proposed");
}

/* ---- processes ---- */

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1u << 2)
#endif

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Signals the process of pidfd fd, and its process group when it leads one
 * (the wrapper made the VM a group leader; a VMM's helpers are in it).
 * Nothing happens for fd < 0 or a process already gone. */
static void signal_pidfd(int fd, pid_t pid, int sig, bool group)
{
	if (fd < 0)
		return;
	bool leader = group && pid > 1 && getpgid(pid) == pid;
	bool no_group_flag = false;
	if (leader) {
		if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) == 0)
			return;
		no_group_flag = errno == EINVAL;
	}
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) != 0)
		return; /* gone: its pid may already be another process's */
	if (no_group_flag)
		kill(-pid, sig); /* kernel without PIDFD_SIGNAL_PROCESS_GROUP: the leader was alive just now */
}

static void on_wrapper_fd(void *arg, uint32_t ev);
static void on_spawn_fd(void *arg, uint32_t ev);
static void spawn_failed(struct fld *d, struct dvm *v, const char *why);

/* Watches pidfd fd (taken over: closed on failure) for the process's end. */
static int watch_fd(struct fld *d, int fd, fl_fd_fn fn, void *arg, int *fd_out)
{
	if (fd < 0)
		return -FL_ENOENT;
	int rv = fl_eloop_add_fd(d->el, fd, EPOLLIN, fn, arg);
	if (rv != 0) {
		close(fd);
		return rv;
	}
	*fd_out = fd;
	return 0;
}

static int watch_pid(struct fld *d, pid_t pid, fl_fd_fn fn, void *arg, int *fd_out)
{
	int fd = pidfd_open_(pid);
	if (fd < 0)
		return fl_from_errno(errno);
	return watch_fd(d, fd, fn, arg, fd_out);
}

static void unwatch(struct fld *d, int *fd)
{
	if (*fd < 0)
		return;
	fl_eloop_del_fd(d->el, *fd);
	close(*fd);
	*fd = -1;
}

#define SPAWN_ENV_MAX 256u

/* The daemon's environment with FENCELOCK_SOCKET set to our socket, in
 * envp[SPAWN_ENV_MAX + 2], built before the child exists (it shares our
 * memory until its exec, and must not allocate). */
static void spawn_env(const char *sock, char *buf, size_t len, char **envp)
{
	extern char **environ;
	uint32_t n = 0;
	snprintf(buf, len, "%s=%s", FL_SOCKET_ENV, sock);
	for (char **e = environ; e != NULL && *e != NULL && n < SPAWN_ENV_MAX; e++)
		if (strncmp(*e, FL_SOCKET_ENV "=", sizeof(FL_SOCKET_ENV)) != 0)
			envp[n++] = *e;
	envp[n++] = buf;
	envp[n] = NULL;
}

/* Who a spawned command runs as: a re-run of a registered spec runs as the
 * uid/gid that registered it (with the control group, so its `fencelock
 * exec` may acquire), never as more; recover_command (the operator's own
 * configured command) runs as the daemon. */
struct spawn_ids {
	bool drop;
	uid_t uid;
	gid_t gid;
	uint32_t n_groups;
	gid_t groups[1];
};

/* In the child: gives up root for ids; false if any step fails (then the
 * command must not run at all). Raw system calls: the child shares the
 * daemon's memory and threads' bookkeeping until its exec, and the C
 * library's set*id() would change the credentials of every daemon thread
 * (they act on the whole thread group); a raw call changes the caller's. */
static bool spawn_drop(const struct spawn_ids *ids)
{
	if (!ids->drop)
		return true;
	if (syscall(SYS_setgroups, (long)ids->n_groups, ids->groups) != 0 ||
	    syscall(SYS_setresgid, (long)ids->gid, (long)ids->gid, (long)ids->gid) != 0 ||
	    syscall(SYS_setresuid, (long)ids->uid, (long)ids->uid, (long)ids->uid) != 0)
		return false;
	return ids->uid == 0 || syscall(SYS_setuid, 0L) != 0; /* root is gone for good */
}

/* In the child, before exec: a clean slate (own session and process group,
 * default signals, normal scheduling / OOM score / nice / I/O class, stdout
 * and stderr to the VM's log, nothing else of the daemon's descriptors, the
 * owner's credentials; under systemd its own scope, plugin/daemon/vmscope.c);
 * async-signal-safe calls only. Never returns. */
/* What the daemon runs with and a VM must not: SCHED_RR (reset at fork by
 * SCHED_RESET_ON_FORK, again here in case it was not set), the unit's nice
 * -10, real-time I/O class, OOM score -1000 (the daemon must never be
 * OOM-killed; a VM must stay killable) and the raised descriptor limit
 * (main.c). Memory locks end with fork. */
static void spawn_child_ordinary(void)
{
	struct sched_param sp = {.sched_priority = 0};
	sched_setscheduler(0, SCHED_OTHER, &sp);
	setpriority(PRIO_PROCESS, 0, 0);
	syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 0 /* class none: from nice */);
	setrlimit(RLIMIT_NOFILE, &fld_nofile_orig);
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "0", 1);
		close(fd);
	}
}

/* The paths of the VM's log, built before the fork (the child of a threaded
 * process must not call snprintf). */
struct vm_log {
	char dir[CFG_PATH_MAX + 16];
	char path[CFG_PATH_MAX + 16 + CTL_UID_MAX + 8];
	char old[CFG_PATH_MAX + 16 + CTL_UID_MAX + 10];
	char warn[CFG_PATH_MAX + 16 + CTL_UID_MAX + 8 + CTL_UID_MAX + 96];
};

static int vm_log_open(const struct vm_log *l);

static noreturn void spawn_child(char *const argv[], int stdin_fd, const struct vm_log *log, const char *cwd,
				 char *const envp[], const struct spawn_ids *ids, char *const helper[])
{
	/* Default dispositions before anything is unblocked: a handler of the
	 * daemon's must never run on the child's stack in the daemon's memory. */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	spawn_child_ordinary();
	setsid();
	if (stdin_fd < 0)
		stdin_fd = open("/dev/null", O_RDONLY);
	if (stdin_fd >= 0 && dup2(stdin_fd, 0) < 0)
		_exit(126);
	int log_fd = helper[0] != NULL ? -1 : vm_log_open(log);
	if (log_fd >= 0 && (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0))
		_exit(126);
	if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
		for (int fd = 3; fd < 4096; fd++)
			close(fd);
	/* The log, the owner's ids and the working directory in fencelock
	 * __vm-start, a process of its own: a file system that hangs there
	 * holds that process, never the worker waiting for this exec. */
	if (helper[0] != NULL) {
		execve(helper[0], helper, envp);
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (!spawn_drop(ids))
		_exit(126);
	if (cwd == NULL || chdir(cwd) != 0)
		(void)!chdir("/");
	execve(argv[0], argv, envp);
	_exit(errno == ENOENT ? 127 : 126);
}

/* A memfd holding the VM's spec, for recover_command's stdin. */
static int spec_fd(const struct fsm *f, const struct fsm_vm *vm)
{
	char *spec = fld_vm_spec_dup(f, vm);
	if (spec == NULL)
		return -FL_ENOMEM;
	int fd = memfd_create("fencelock-spec", MFD_CLOEXEC);
	if (fd < 0) {
		int rv = fl_from_errno(errno);
		free(spec);
		return rv;
	}
	size_t off = 0;
	while (off < vm->spec_len) {
		ssize_t n = write(fd, spec + off, vm->spec_len - off);
		if (n <= 0) {
			close(fd);
			free(spec);
			return -FL_EIO;
		}
		off += (size_t)n;
	}
	free(spec);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* ---- starting a VM, off the loop ----
 * The child is created on a worker thread (plugin/host/worker.h), the VM's
 * own (its key is the uid), so starts of many VMs run side by side: the loop
 * prepares a spawn job with everything the child needs (argv, environment,
 * the log's paths, the owner's ids, copied: a SIGHUP may change the config
 * meanwhile) and takes the child's pid back in spawn_done(). The child is a
 * clone that shares the daemon's memory until its exec (CLONE_VM |
 * CLONE_VFORK, as posix_spawn does): no page table of the daemon's (tens of
 * MB, locked) is copied, and the daemon's memory is never write-protected
 * for copy-on-write, so the loop thread takes no fault and no wait on the
 * memory map for a start; the worker waits until the exec. The child opens
 * the VM's log before its exec, so a stalled log directory holds that worker
 * (as a stalled run_dir holds the grants on it). The VM's volume leases are
 * held throughout; a VM killed or given up while its job was queued has its
 * late child killed at once, and a VM being killed is not reported dead (its
 * leases not released) before its job came back. */

/* The child's stack, on the worker's (plugin/host/worker.c sizes it). */
#define SPAWN_STACK_BYTES (64u * 1024u)
#define SPAWN_HELPER_ARGS 9u /* fencelock __vm-start and its 7 arguments; then "--" */

struct spawn_job {
	struct fl_work w;
	struct dvm *v;
	uint64_t incarnation;
	char uid[CTL_UID_MAX + 1];
	char rc[CFG_PATH_MAX];       /* recover_command, or "" */
	char *rc_argv[3];
	struct vmspec_rerun rerun;   /* without recover_command */
	int stdin_fd;                /* the spec for recover_command, or -1 */
	struct spawn_ids ids;
	/* What the child uses, all built on the loop thread. */
	char *const *run;            /* argv, or scoped[] */
	const char *cwd;
	char *scoped[VMSPEC_ARGV_MAX + 16];
	struct vmscope_names scope;
	char sock_env[CFG_PATH_MAX + 32];
	char *envp[SPAWN_ENV_MAX + 2];
	struct vm_log log;
	/* fencelock __vm-start LOG_DIR LOG_PATH MAX UID GID GROUP CWD -- run...,
	 * or helper[0] NULL without an executable fencelock (see spawn_child) */
	char *helper[VMSPEC_ARGV_MAX + 16 + SPAWN_HELPER_ARGS + 2];
	char helper_num[4][24];
	pid_t pid;                   /* the worker's result: the child, or -1 */
	int err;                     /* errno when pid < 0 */
};

static void vm_log_paths(struct vm_log *l, const char *dir, const char *uid)
{
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	snprintf(l->path, sizeof(l->path), "%s/%s.log", dir, uid);
	snprintf(l->old, sizeof(l->old), "%s.1", l->path);
	snprintf(l->warn, sizeof(l->warn), "fencelockd: VM %s: cannot open its log %s; its output goes to /dev/null\n",
		 uid, l->path);
}

/* In the child, as root, before it becomes the VM's owner: opens the VM's
 * log (appending; one rotation to .1 past FLD_VM_LOG_MAX_BYTES), creating
 * the directory, or /dev/null. The child, not the daemon, waits for a slow
 * or hung file system here (its starter is bounded by the recover timeout).
 * Async-signal-safe calls only. */
static int vm_log_open(const struct vm_log *l)
{
	(void)mkdir(l->dir, 0750);
	struct stat st;
	if (stat(l->path, &st) == 0 && (uint64_t)st.st_size > FLD_VM_LOG_MAX_BYTES)
		(void)rename(l->path, l->old);
	int fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		(void)!write(2, l->warn, strlen(l->warn));
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	return fd;
}

static int spawn_child_main(void *arg)
{
	const struct spawn_job *j = arg;
	spawn_child(j->run, j->stdin_fd, &j->log, j->cwd, j->envp, &j->ids, j->helper);
}

/* Worker thread: the child, on a stack of this thread's; back once it has
 * exec'd or ended (CLONE_VFORK). Nothing of the job is written meanwhile. */
static void spawn_run(struct fl_work *w)
{
	struct spawn_job *j = (struct spawn_job *)((char *)w - offsetof(struct spawn_job, w));
	_Alignas(16) char stack[SPAWN_STACK_BYTES];
	j->pid = clone(spawn_child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, j);
	j->err = errno;
}

static void spawn_job_free(struct spawn_job *j)
{
	if (j->stdin_fd >= 0)
		close(j->stdin_fd);
	if (j->rc[0] == '\0')
		vmspec_rerun_free(&j->rerun);
	free(j);
}

/* A starter that came back after its VM was stopped and that no slot waits
 * for: SIGKILLed (its process group: the wrapper it ran) and reaped when its
 * pidfd says it ended. */
struct late_child {
	struct fld *d;
	pid_t pid;
	int fd;
};

static void on_late_child(void *arg, uint32_t ev)
{
	struct late_child *c = arg;
	int status;
	(void)ev;
	if (waitpid(c->pid, &status, WNOHANG) == 0)
		return;
	unwatch(c->d, &c->fd);
	free(c);
}

static void late_child_kill(struct fld *d, const char *uid, pid_t p)
{
	FL_ASSERT(p > 1);
	fl_notice("VM %s: its starter (pid %d) came after the VM was stopped here: killed", uid, (int)p);
	kill(-p, SIGKILL);
	kill(p, SIGKILL);
	struct late_child *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return; /* a zombie until the daemon ends: nothing unsafe */
	c->d = d;
	c->pid = p;
	c->fd = -1;
	if (watch_pid(d, p, on_late_child, c, &c->fd) != 0)
		free(c);
}

/* Loop thread: the child's pid back from the worker. */
static void spawn_done(struct fl_work *w)
{
	struct spawn_job *j = (struct spawn_job *)((char *)w - offsetof(struct spawn_job, w));
	struct dvm *v = j->v;
	struct fld *d = v->d;
	FL_ASSERT(v->spawn_job == j);
	v->spawn_job = NULL;
	bool current = v->state == DVM_SPAWNED && v->incarnation == j->incarnation && strcmp(v->uid, j->uid) == 0;
	pid_t p = j->pid;
	if (p < 0) {
		if (current)
			spawn_failed(d, v, strerror(j->err));
		else if (v->state == DVM_KILLING)
			fl_timer_after(d->loop, &v->report, 0); /* nothing started: finish the kill */
		spawn_job_free(j);
		return;
	}
	d->m.vm_spawns++;
	if (!current && (v->state != DVM_KILLING || v->spawn_pid != 0 || v->spawn_fd >= 0)) {
		/* Late, and the slot is not waiting for it (a new start, or no
		 * kill): killed and reaped on its own, never taken for the slot's. */
		late_child_kill(d, j->uid, p);
		spawn_job_free(j);
		return;
	}
	v->spawn_pid = p;
	int rv = watch_pid(d, p, on_spawn_fd, v, &v->spawn_fd);
	if (rv != 0) {
		fl_warn("VM %s: cannot watch its starter pid %d: %s", v->uid, (int)p, fl_strerror(rv));
		if (!current) { /* the kill waits for nothing now: SIGKILL below, then finish it */
			v->spawn_pid = 0;
			fl_timer_after(d->loop, &v->report, 0);
		}
	}
	if (current) {
		fl_notice("VM %s incarnation %" PRIu64 ": started %s (pid %d)", v->uid, v->incarnation,
			  j->rc[0] ? "recover_command" : "its command line again under fencelock exec", (int)p);
	} else {
		/* Stopped or given up while its start was queued: what started
		 * holds no grant yet; on_spawn_fd() reaps it (and ends a kill). */
		fl_notice("VM %s: its starter (pid %d) came after the VM was stopped here: killed", j->uid, (int)p);
		kill(-p, SIGKILL);
		kill(p, SIGKILL);
	}
	spawn_job_free(j);
}

/* The child's first exec, fencelock __vm-start (plugin/cli/cmd_vmstart.c),
 * in j->helper: or helper[0] NULL when there is no executable fencelock
 * (then the child opens the log itself, and a hung log directory holds the
 * worker until the starter is killed). */
static void spawn_helper_argv(const struct fld *d, struct spawn_job *j)
{
	static char cmd[] = "__vm-start", dash[] = "-", dashes[] = "--";
	j->helper[0] = NULL;
	if (!d->fencelock_bin_ok)
		return;
	snprintf(j->helper_num[0], sizeof(j->helper_num[0]), "%llu", (unsigned long long)FLD_VM_LOG_MAX_BYTES);
	snprintf(j->helper_num[1], sizeof(j->helper_num[1]), "%u", (unsigned)j->ids.uid);
	snprintf(j->helper_num[2], sizeof(j->helper_num[2]), "%u", (unsigned)j->ids.gid);
	snprintf(j->helper_num[3], sizeof(j->helper_num[3]), "%u", j->ids.n_groups > 0 ? (unsigned)j->ids.groups[0] : 0u);
	char *head[SPAWN_HELPER_ARGS] = {(char *)d->fencelock_bin, cmd, j->log.dir, j->log.path, j->helper_num[0],
					 j->ids.drop ? j->helper_num[1] : dash, j->ids.drop ? j->helper_num[2] : dash,
					 j->ids.drop && j->ids.n_groups > 0 ? j->helper_num[3] : dash, (char *)j->cwd};
	size_t k = 0;
	for (; k < SPAWN_HELPER_ARGS; k++)
		j->helper[k] = head[k];
	j->helper[k++] = dashes;
	for (size_t i = 0; j->run[i] != NULL && k + 1 < FL_ARRAY_SIZE(j->helper); i++)
		j->helper[k++] = j->run[i];
	j->helper[k] = NULL;
}

/* Prepares the start of the VM (recover_command or a re-run) and hands it to
 * the worker; nobody waits for it. */
static int spawn_vm(struct fld *d, struct dvm *v, const struct fsm_vm *vm)
{
	struct spawn_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -FL_ENOMEM;
	j->v = v;
	j->incarnation = v->incarnation;
	j->stdin_fd = -1;
	snprintf(j->uid, sizeof(j->uid), "%s", v->uid);
	char log_dir[CFG_PATH_MAX + 16];
	if (d->cfg.vm_log_dir[0] != '\0')
		snprintf(log_dir, sizeof(log_dir), "%s", d->cfg.vm_log_dir);
	else
		snprintf(log_dir, sizeof(log_dir), "%s/vm-logs", d->cfg.state_dir);
	vm_log_paths(&j->log, log_dir, j->uid);
	spawn_env(d->cfg.control_socket, j->sock_env, sizeof(j->sock_env), j->envp);
	if (d->cfg.recover_command[0] != '\0') {
		snprintf(j->rc, sizeof(j->rc), "%s", d->cfg.recover_command);
		j->rc_argv[0] = j->rc;
		j->rc_argv[1] = j->uid;
		j->stdin_fd = spec_fd(arb_fsm(d->arb), vm);
		if (j->stdin_fd < 0) {
			int rv = j->stdin_fd;
			free(j);
			return rv;
		}
		j->ids.drop = false;
	} else {
		char *spec = fld_vm_spec_dup(arb_fsm(d->arb), vm), err[256];
		if (spec == NULL) {
			free(j);
			return -FL_ENOMEM;
		}
		int rv = vmspec_rerun_build(spec, d->fencelock_bin, &j->rerun, err, sizeof(err));
		free(spec);
		if (rv != 0) {
			fl_err("VM %s cannot be started here: %s; set [host] recover_command", v->uid, err);
			free(j);
			return rv;
		}
		j->ids = (struct spawn_ids){.drop = vm->owner_uid != 0, .uid = (uid_t)vm->owner_uid,
					   .gid = (gid_t)vm->owner_gid, .n_groups = d->cfg.have_control_group ? 1u : 0u,
					   .groups = {d->cfg.control_gid}};
		fl_info("VM %s: its command line runs again as uid %u gid %u, who registered it", v->uid,
			vm->owner_uid, vm->owner_gid);
	}
	j->run = vmscope_wrap(j->uid, j->rc[0] != '\0' ? j->rc_argv : j->rerun.argv, j->scoped,
			      FL_ARRAY_SIZE(j->scoped), &j->scope);
	j->cwd = j->rc[0] != '\0' ? "/" : j->rerun.cwd;
	spawn_helper_argv(d, j);
	j->w.run = spawn_run;
	j->w.done = spawn_done;
	int rv = fl_worker_submit_key(d->worker, &j->w, fl_worker_key(j->uid));
	if (rv != 0) {
		spawn_job_free(j);
		return rv;
	}
	v->spawn_job = j;
	return 0;
}

/* ---- guard files, opened and removed off the loop ---- */

struct guard_drop_job {
	struct fl_work w;
	struct guard_writer gw;
	char path[GUARD_PATH_MAX];
};

static void guard_drop_run(struct fl_work *w)
{
	struct guard_drop_job *j = (struct guard_drop_job *)((char *)w - offsetof(struct guard_drop_job, w));
	guard_file_drop(&j->gw, j->path);
}

static void guard_drop_done(struct fl_work *w)
{
	free((char *)w - offsetof(struct guard_drop_job, w));
}

/* Takes the guard file of uid out of the table at once (no later renewal
 * extends it); the worker closes and unlinks it. */
static void guard_release(struct fld *d, const char *uid)
{
	struct guard_drop_job *j = calloc(1, sizeof(*j));
	if (j == NULL || d->worker == NULL) {
		free(j);
		guard_table_close(&d->guards, uid); /* out of memory: here, once */
		return;
	}
	if (guard_table_detach(&d->guards, uid, &j->gw, j->path, sizeof(j->path)) != 0) {
		free(j);
		return;
	}
	j->w.run = guard_drop_run;
	j->w.done = guard_drop_done;
	if (fl_worker_submit_key(d->worker, &j->w, fl_worker_key(uid)) != 0) {
		fl_warn("VM %s: the worker queue is full; its guard file is removed on the loop", uid);
		guard_file_drop(&j->gw, j->path);
		free(j);
	}
}

/* ---- grants ---- */

/* A grant in two steps: grant() checks, reserves the guard file's entry and
 * hands the file's creation (open, truncate, mmap in run_dir/guard) to the
 * worker; grant_done() on the loop completes it. The call waits meanwhile;
 * a VM killed or given up in between is refused (its wrapper never learns
 * the guard path, so it never runs the VM). */
struct grant_job {
	struct fl_work w;
	struct dvm *v;
	struct ctl_call *call;
	uint64_t incarnation;
	uint64_t kills0;             /* v->kills at grant(): a kill since then cancels it */
	uint8_t state0;              /* the VM's state at grant() */
	bool reuse;                  /* the guard file was open in the table already */
	pid_t pid, wrapper;
	int pid_fd, wrapper_fd;      /* taken over */
	char uid[CTL_UID_MAX + 1];
	char path[GUARD_PATH_MAX];
	struct guard_writer gw;
	int rv;                      /* guard_writer_open()'s */
};

static void grant_run(struct fl_work *w)
{
	struct grant_job *j = (struct grant_job *)((char *)w - offsetof(struct grant_job, w));
	j->rv = j->reuse ? 0 : guard_writer_open(&j->gw, j->path);
}

/* The VM runs from now on: the state a grant gives, and the reply. */
static void grant_apply(struct fld *d, struct dvm *v, struct grant_job *j)
{
	uint64_t grace = d->guard_grace_us;
	if (j->reuse)
		guard_table_set(&d->guards, v->uid, d->guard_deadline_us, grace);
	else
		guard_table_fill(&d->guards, v->uid, &j->gw, d->guard_deadline_us, grace);
	v->have_guard = true;
	v->state = DVM_RUNNING;
	v->pid = j->pid;
	close_fd(&v->pid_fd);
	v->pid_fd = j->pid_fd;
	v->wrapper_pid = j->wrapper;
	v->exited_reported = v->natural_exit = false;
	v->started_us = fl_now_us(d->loop);
	unwatch(d, &v->wrapper_fd);
	if (watch_fd(d, j->wrapper_fd, on_wrapper_fd, v, &v->wrapper_fd) != 0) {
		/* Gone while it waited for us (killed, or gave up): nothing will
		 * run this grant; its VM ended before it began. */
		fl_warn("VM %s: its wrapper pid %d is gone; the grant is withdrawn", v->uid, (int)j->wrapper);
		v->natural_exit = true;
		fl_timer_after(d->loop, &v->report, 0);
	}
	j->pid_fd = j->wrapper_fd = -1;
	fl_timer_cancel(d->loop, &v->timer);
	d->m.vm_starts++;
	json_object_update_new(ctl_call_reply(j->call),
		json_pack("{s:s,s:I,s:I,s:I,s:s}", "guard_path", j->path,
			  "renew_interval_ms", (json_int_t)(d->layout.renew_us / FL_US_PER_MS),
			  "fence_after_ms", (json_int_t)(d->layout.fail_us / FL_US_PER_MS),
			  "kill_grace_ms", (json_int_t)(grace / FL_US_PER_MS), "kill_path", d->cfg.kill_path));
	fl_notice("VM %s incarnation %" PRIu64 ": granted to pid %d (wrapper %d)", v->uid, v->incarnation,
		  (int)j->pid, (int)j->wrapper);
}

static void grant_done(struct fl_work *w)
{
	struct grant_job *j = (struct grant_job *)((char *)w - offsetof(struct grant_job, w));
	struct dvm *v = j->v;
	struct fld *d = v->d;
	FL_ASSERT(v->grant_job == j);
	v->grant_job = NULL;
	/* A kill while the worker made the file cancels the grant whatever
	 * state the VM reached since: the kill may have ended already (nothing
	 * ran, so its leases were released at once) and another host may run
	 * the VM now. */
	bool killed = v->kills != j->kills0;
	bool current = !killed && v->state == j->state0 && v->incarnation == j->incarnation &&
		       strcmp(v->uid, j->uid) == 0;
	int rv = j->rv;
	if (rv != 0) {
		ctl_call_errorf(j->call, "cannot create the guard file of VM %s in %s/guard: %s", j->uid,
				d->cfg.run_dir, fl_strerror(rv));
	} else if (!current) {
		ctl_call_errorf(j->call, "VM %s was stopped on this host before it started", j->uid);
		rv = -FL_ECANCELED;
	} else if (d->guard_deadline_us <= fl_now_us(d->loop)) {
		ctl_call_errorf(j->call, "host %u has no valid delta lease: VM %s cannot be guarded", d->cfg.host_id,
				j->uid);
		rv = -FL_ENOTQUORATE;
	}
	if (rv == 0) {
		FL_ASSERT(!killed);
		grant_apply(d, v, j);
	} else if (!j->reuse) {
		if (j->gw.map != NULL) {
			guard_table_fill(&d->guards, j->uid, &j->gw, 0, 0); /* then out, off the loop */
			guard_release(d, j->uid);
		} else {
			guard_table_unreserve(&d->guards, j->uid);
		}
	}
	close_fd(&j->pid_fd);
	close_fd(&j->wrapper_fd);
	ctl_call_finish(j->call, rv);
	if (rv != 0 && current && j->state0 == DVM_NONE && v->arb_started) {
		v->arb_started = false;
		arb_vm_start_failed(d->arb, v->idx, v->incarnation);
	}
	free(j);
}

/* Starts the grant of a vm.acquire: CTL_DEFERRED (grant_done() finishes
 * call), or an error (call not kept). pid_fd and wrapper_fd (pidfds of the
 * VM and of the asking wrapper) are taken over either way. */
static int grant(struct fld *d, struct dvm *v, struct ctl_call *call, pid_t pid, int pid_fd, pid_t wrapper,
		 int wrapper_fd)
{
	FL_ASSERT(v->state == DVM_NONE || v->state == DVM_SPAWNED);
	FL_ASSERT(pid > 1);
	FL_ASSERT(v->grant_job == NULL);
	struct grant_job *j = calloc(1, sizeof(*j));
	int rv = j == NULL ? -FL_ENOMEM : 0;
	if (rv == 0 && d->guard_deadline_us <= fl_now_us(d->loop)) {
		ctl_call_errorf(call, "host %u has no valid delta lease: VM %s cannot be guarded", d->cfg.host_id, v->uid);
		rv = -FL_ENOTQUORATE;
	} else if (rv == 0 && (rv = guard_table_reserve(&d->guards, v->uid, j->path, sizeof(j->path))) < 0) {
		ctl_call_errorf(call, "cannot create the guard file of VM %s in %s/guard: %s", v->uid,
				d->cfg.run_dir, fl_strerror(rv));
	}
	if (rv >= 0) {
		j->reuse = rv == 1;
		j->v = v;
		j->call = call;
		j->incarnation = v->incarnation;
		j->kills0 = v->kills;
		j->state0 = v->state;
		j->pid = pid;
		j->wrapper = wrapper;
		j->pid_fd = pid_fd;
		j->wrapper_fd = wrapper_fd;
		j->gw.fd = -1;
		snprintf(j->uid, sizeof(j->uid), "%s", v->uid);
		j->w.run = grant_run;
		j->w.done = grant_done;
		if ((rv = fl_worker_submit_key(d->worker, &j->w, fl_worker_key(j->uid))) == 0) {
			v->grant_job = j;
			return CTL_DEFERRED;
		}
		ctl_call_errorf(call, "VM %s: the daemon's worker queue is full; try again", v->uid);
		if (!j->reuse)
			guard_table_unreserve(&d->guards, v->uid);
	}
	free(j);
	close_fd(&pid_fd);
	close_fd(&wrapper_fd);
	return rv;
}

/* ---- the end of a VM ---- */

/* What a VM that stopped without being asked leaves behind, by policy
 * (enum fsm_restart): run again here, stopped (unplaced, registered), or
 * unregistered. */
enum dvm_end { END_RERUN = 0, END_STOP, END_UNREGISTER };

/* A clean end: exit 0, or ended by SIGTERM / SIGHUP / SIGINT (what a VM
 * manager sends, forwarded by the wrapper), as a signal or as 128+N. */
static bool exit_clean(const struct dvm *v)
{
	static const int sigs[] = {SIGTERM, SIGHUP, SIGINT};
	if (!v->have_exit)
		return false;
	for (size_t i = 0; i < FL_ARRAY_SIZE(sigs); i++)
		if (v->exit_signal == sigs[i] || (v->exit_signal == 0 && v->exit_code == 128 + sigs[i]))
			return true;
	return v->exit_signal == 0 && v->exit_code == 0;
}

static enum dvm_end end_policy(uint8_t restart, bool clean)
{
	switch (restart) {
	case FSM_RESTART_ALWAYS: return clean ? END_STOP : END_RERUN;
	case FSM_RESTART_ON_FAILURE: return clean ? END_UNREGISTER : END_RERUN;
	default: return clean ? END_UNREGISTER : END_STOP; /* never, manager */
	}
}

static void end_submit(struct fld *d, struct dvm *v)
{
	struct fsm_cmd c = {.type = FSM_CMD_VM_END, .host_id = d->cfg.host_id, .incarnation = v->end_inc,
			    .flag = v->end_unregister ? 1 : 0};
	c.origin.cause = FSM_CAUSE_VM_EXIT;
	snprintf(c.uid, sizeof(c.uid), "%s", v->end_uid);
	int rv = arb_submit(d->arb, &c);
	fl_info("VM %s incarnation %" PRIu64 ": %s proposed: %s", v->uid, v->end_inc,
		v->end_unregister ? "unregistering" : "stopping", rv ? fl_strerror(rv) : "sent");
}

/* Proposes the VM's end (re-proposed by vmrt_poll until applied). */
static void end_propose(struct fld *d, struct dvm *v, bool unregister)
{
	uint64_t now = fl_now_us(d->loop);
	v->end_inc = v->incarnation;
	snprintf(v->end_uid, sizeof(v->end_uid), "%s", v->uid);
	v->end_unregister = unregister;
	v->end_resubmit_us = now + FLD_RESUBMIT_US;
	v->end_until_us = now + FLD_END_RESUBMIT_FOR_US;
	end_submit(d, v);
}

/* The VM is dead and flushed: release its guard file, apply its policy,
 * tell the arbiter. A VM we were asked to kill is the arbiter's business
 * (moved, fenced); one that stopped on its own or was killed by its guard
 * goes by its restart policy. */
static void finish_exit(struct fld *d, struct dvm *v)
{
	FL_ASSERT(v->state == DVM_RUNNING || v->state == DVM_KILLING);
	if (v->flush_needed) {
		/* Never before the flush: on_flush_fd() comes back here. */
		fl_debug("VM %s: release waits for the flush of its volumes", v->uid);
		return;
	}
	bool natural = v->state == DVM_RUNNING && v->natural_exit;
	bool unasked = v->state == DVM_RUNNING;
	fl_timer_cancel(d->loop, &v->timer);
	unwatch(d, &v->wrapper_fd);
	if (v->have_guard)
		guard_release(d, v->uid);
	v->have_guard = false;
	const struct fsm_vm *vm = fsm_vm_at(arb_fsm(d->arb), v->idx);
	bool clean = natural && exit_clean(v);
	enum dvm_end end = unasked && vm != NULL ? end_policy(vm->restart, clean) : END_RERUN;
	d->m.natural_exits += natural;
	if (end != END_RERUN)
		end_propose(d, v, end == END_UNREGISTER);
	v->state = DVM_NONE;
	v->pid = v->wrapper_pid = 0;
	close_fd(&v->pid_fd);
	v->adopted = v->have_exit = false;
	fl_info("VM %s incarnation %" PRIu64 ": %s", v->uid, v->incarnation,
		!unasked ? "dead; its leases are released"
		: end == END_RERUN ? "failed; its policy runs it again"
		: end == END_STOP ? "ended; stopped (its policy does not run it again)" : "ended; unregistered");
	if (v->arb_started) {
		v->arb_started = false;
		if (end == END_RERUN)
			arb_vm_exited(d->arb, v->idx, v->incarnation);
		else
			arb_vm_ended(d->arb, v->idx, v->incarnation);
	}
}

/* The command we ran to start the VM (recover_command, or a re-run) failed
 * before the VM asked for its leases: a start failure for the arbiter. */
static void spawn_failed(struct fld *d, struct dvm *v, const char *why)
{
	FL_ASSERT(v->state == DVM_SPAWNED);
	fl_warn("VM %s incarnation %" PRIu64 ": start failed: %s (its output: the VM's log in %s)", v->uid,
		v->incarnation, why, d->cfg.vm_log_dir[0] ? d->cfg.vm_log_dir : "state_dir/vm-logs");
	fl_timer_cancel(d->loop, &v->timer);
	v->state = DVM_NONE;
	v->pid = v->wrapper_pid = 0;
	v->have_exit = false;
	if (v->arb_started) {
		v->arb_started = false;
		arb_vm_start_failed(d->arb, v->idx, v->incarnation);
	}
}

/* A VM that ended while it was not being killed: on its own, or by its
 * guard because our deadline passed (then the cluster restarts it). */
static void note_exit(struct fld *d, struct dvm *v)
{
	uint64_t now = fl_now_us(d->loop);
	if (v->state != DVM_RUNNING)
		return;
	if (d->guard_deadline_us != 0 && d->guard_deadline_us <= now) {
		d->m.guard_kills++;
		v->natural_exit = false;
		fl_warn("VM %s was killed by its guard: the deadline passed", v->uid);
	} else {
		v->natural_exit = true;
	}
}

/* ---- the flush after a wrapper died ----
 * The wrapper flushes a VM's volumes itself before it says vm.release; one
 * that died without a release cannot, so we do: in a child process (a hung
 * device holds it, never us) that the worker thread forks, watched here with
 * a pidfd and bounded by min(K, 1 s). The leases stay held until a flush
 * succeeds: a killed VMM may leave dirty pages that the kernel writes later,
 * and once the lease is released another host may write the volume. A flush
 * that fails or passes its bound is tried again FLD_FLUSH_RETRY_US after its
 * child is gone (one child per VM at a time: a child stuck in D state is not
 * joined by more). */

static void flush_run(struct fl_work *w)
{
	struct dvm *v = (struct dvm *)((char *)w - offsetof(struct dvm, flush_work));
	const char *paths[FSM_VOLS_MAX];
	for (uint32_t i = 0; i < v->flush_n; i++)
		paths[i] = v->flush_paths[i];
	v->flush_rv = guard_flush_start(paths, v->flush_n, &v->flush_pid, &v->flush_fd);
}

static void on_flush_fd(void *arg, uint32_t ev);

static void flush_retry_later(struct fld *d, struct dvm *v)
{
	fl_timer_after(d->loop, &v->flush_timer, FLD_FLUSH_RETRY_US);
}

static void flush_started(struct fl_work *w)
{
	struct dvm *v = (struct dvm *)((char *)w - offsetof(struct dvm, flush_work));
	struct fld *d = v->d;
	if (v->flush_rv != 0) {
		d->m.flush_failures++;
		fl_err("VM %s: cannot start the flush of its volumes (%s): its leases stay held; trying again in %llu s",
		       v->uid, fl_strerror(v->flush_rv), (unsigned long long)(FLD_FLUSH_RETRY_US / FL_US_PER_S));
		v->flush_pid = 0;
		v->flush_fd = -1;
		flush_retry_later(d, v);
		return;
	}
	int rv = fl_eloop_add_fd(d->el, v->flush_fd, EPOLLIN, on_flush_fd, v);
	FL_ASSERT(rv == 0); /* a fresh pidfd: only ENOMEM could refuse it */
	v->flush_timed_out = false;
	fl_timer_after(d->loop, &v->flush_timer, FL_MIN(d->layout.kill_us, FL_US_PER_S));
}

/* Hands the flush of v's writable volumes to the worker. */
static void flush_begin(struct fld *d, struct dvm *v)
{
	if (v->flush_pid > 0 || v->flush_work.queued)
		return; /* one at a time */
	const struct fsm_vm *vm = fsm_vm_at(arb_fsm(d->arb), v->idx);
	v->flush_n = 0;
	/* The registered paths are those of the host that registered last:
	 * ours when our wrapper registered it (it does before every start). */
	for (uint32_t i = 0; vm != NULL && vm->path_host == d->cfg.host_id && i < vm->nvol && i < FSM_VOLS_MAX; i++)
		if (!vm->vol[i].ro)
			snprintf(v->flush_paths[v->flush_n++], sizeof(v->flush_paths[0]), "%s", vm->vol[i].path);
	v->flush_attempts++;
	v->flush_work.run = flush_run;
	v->flush_work.done = flush_started;
	if (fl_worker_submit_key(d->worker, &v->flush_work, fl_worker_key(v->uid)) != 0) {
		fl_warn("VM %s: the worker queue is full; the flush of its volumes waits (its leases stay held)", v->uid);
		flush_retry_later(d, v);
	}
}

static void on_flush_fd(void *arg, uint32_t ev)
{
	struct dvm *v = arg;
	struct fld *d = v->d;
	(void)ev;
	int rv = guard_flush_reap(v->flush_pid);
	if (rv == -FL_EAGAIN)
		return;
	unwatch(d, &v->flush_fd);
	v->flush_pid = 0;
	fl_timer_cancel(d->loop, &v->flush_timer);
	if (rv == 0 && !v->flush_timed_out && v->flush_needed) {
		d->m.flushes++;
		v->flush_needed = false;
		fl_notice("VM %s: volumes flushed after its wrapper died (attempt %u)", v->uid, v->flush_attempts);
		if (v->state == DVM_RUNNING || v->state == DVM_KILLING)
			finish_exit(d, v);
		return;
	}
	if (!v->flush_timed_out) {
		d->m.flush_failures++;
		fl_err("VM %s: flushing its volumes failed: its leases stay held; trying again in %llu s", v->uid,
		       (unsigned long long)(FLD_FLUSH_RETRY_US / FL_US_PER_S));
	}
	flush_retry_later(d, v);
}

static void dvm_flush_timer_fn(struct fl_timer *t, void *arg)
{
	struct dvm *v = arg;
	struct fld *d = v->d;
	(void)t;
	if (!v->flush_needed)
		return;
	if (v->flush_pid == 0) {
		flush_begin(d, v); /* the next attempt */
		return;
	}
	d->m.flush_timeouts++;
	v->flush_timed_out = true;
	fl_err("VM %s: flushing its volumes did not finish within %llu ms (a hung device?): its leases stay held; "
	       "trying again once the flush process is gone", v->uid,
	       (unsigned long long)(FL_MIN(d->layout.kill_us, FL_US_PER_S) / FL_US_PER_MS));
	kill(v->flush_pid, SIGKILL); /* in D state it dies when its I/O ends; on_flush_fd reaps it */
}

/* The wrapper is gone without a release: kill what is left of the VM, then
 * flush its volumes (above); finish_exit() follows the flush. */
static void on_wrapper_fd(void *arg, uint32_t ev)
{
	struct dvm *v = arg;
	struct fld *d = v->d;
	(void)ev;
	FL_ASSERT(v->wrapper_fd >= 0);
	unwatch(d, &v->wrapper_fd);
	if (v->state != DVM_RUNNING && v->state != DVM_KILLING)
		return;
	if (!v->exited_reported)
		note_exit(d, v);
	signal_pidfd(v->pid_fd, v->pid, SIGKILL, true);
	fl_notice("VM %s: wrapper pid %d gone without a release; flushing its volumes before releasing its leases",
		  v->uid, (int)v->wrapper_pid);
	v->wrapper_pid = 0; /* gone: its pid may be reused, never signal it again */
	v->flush_needed = true;
	v->flush_attempts = 0;
	flush_begin(d, v);
}

static void on_spawn_fd(void *arg, uint32_t ev)
{
	struct dvm *v = arg;
	struct fld *d = v->d;
	int status = 0;
	(void)ev;
	pid_t p = waitpid(v->spawn_pid, &status, WNOHANG);
	if (p == 0)
		return;
	unwatch(d, &v->spawn_fd);
	v->spawn_pid = 0;
	bool ok = p > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (v->state == DVM_SPAWNED && (!ok || d->cfg.recover_command[0] == '\0')) {
		char why[96];
		snprintf(why, sizeof(why), "its starter exited (%s %d) before the VM asked for its leases",
			 WIFSIGNALED(status) ? "signal" : "code", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		spawn_failed(d, v, why);
	} else if (v->state == DVM_KILLING && v->wrapper_pid == 0) {
		finish_exit(d, v);
	}
}

static void dvm_timer_fn(struct fl_timer *t, void *arg)
{
	struct dvm *v = arg;
	struct fld *d = v->d;
	(void)t;
	if (v->state == DVM_SPAWNED) {
		fl_warn("VM %s: recover_command started nothing that asked for the leases within %" PRIu64 " s",
			v->uid, (uint64_t)(FLD_RECOVER_TIMEOUT_US / FL_US_PER_S));
		if (v->spawn_pid > 0)
			kill(-v->spawn_pid, SIGKILL);
		spawn_failed(d, v, "nothing asked for the leases in time");
	} else if (v->state == DVM_KILLING) {
		fl_warn("VM %s: kill deadline reached: SIGKILL", v->uid);
		signal_pidfd(v->pid_fd, v->pid, SIGKILL, true);
		signal_pidfd(v->wrapper_fd, v->wrapper_pid, SIGKILL, false);
		if (v->spawn_pid > 0)
			kill(-v->spawn_pid, SIGKILL);
		if (v->wrapper_fd < 0 && v->spawn_fd < 0 && v->spawn_job == NULL) /* nothing to wait for (adopted) */
			finish_exit(d, v);
	}
}

static void dvm_report_fn(struct fl_timer *t, void *arg)
{
	struct dvm *v = arg;
	(void)t;
	if (v->state == DVM_KILLING && v->wrapper_fd < 0 && v->spawn_fd < 0 && v->spawn_job == NULL && !v->adopted)
		finish_exit(v->d, v);
	else if (v->state == DVM_RUNNING && v->wrapper_fd < 0 && !v->adopted && v->natural_exit)
		finish_exit(v->d, v);
}

/* ---- the arbiter's ops ---- */

static int op_start(void *ctx, uint32_t idx, const struct fsm_vm *vm, uint64_t incarnation)
{
	struct fld *d = ctx;
	if (idx >= FLD_MAX_VMS)
		return -FL_ENOSPC;
	FL_ASSERT(idx < fsm_vm_scan_end(arb_fsm(d->arb))); /* the polls scan no further */
	struct dvm *v = &d->vms[idx];
	FL_ASSERT(incarnation > 0);
	FL_ASSERT(vm != NULL);
	if (v->cancelled_inc == incarnation && strcmp(v->uid, vm->uid) == 0)
		return -FL_ECANCELED;
	if (v->state == DVM_KILLING)
		return -FL_EBUSY;
	/* An older grant still on the worker (to be refused): wait, as for a kill. */
	if (v->grant_job != NULL && (v->grant_job->incarnation != incarnation || v->grant_job->kills0 != v->kills))
		return -FL_EBUSY;
	bool was_elsewhere = vm->run_host != 0 && vm->run_host != d->cfg.host_id;
	snprintf(v->uid, sizeof(v->uid), "%s", vm->uid);
	v->incarnation = incarnation;
	v->arb_started = true;
	if (v->acquire != NULL) {
		struct ctl_call *call = v->acquire;
		v->acquire = NULL;
		int rv = grant(d, v, call, v->acquire_pid, v->acquire_pid_fd, v->acquire_wrapper, v->acquire_wrapper_fd);
		v->acquire_pid_fd = v->acquire_wrapper_fd = -1; /* taken over by grant() */
		if (rv == CTL_DEFERRED)
			return 0; /* grant_done() answers the call (and reports a failure) */
		ctl_call_finish(call, rv);
		v->arb_started = false;
		return rv;
	}
	if (v->state == DVM_RUNNING || v->state == DVM_SPAWNED || v->grant_job != NULL)
		return 0; /* already ours (re-placed here), or being granted */
	struct adopted_vm *a = take_adopted(vm->uid);
	if (a != NULL) {
		if (pidfd_alive(a->fd) && fl_eloop_add_fd(d->el, a->fd, EPOLLIN, on_wrapper_fd, v) == 0) {
			v->state = DVM_RUNNING;
			v->adopted = v->have_guard = true;
			v->pid = 0;
			v->wrapper_pid = a->holder;
			v->wrapper_fd = a->fd; /* the pidfd moves to the runtime */
			a->fd = -1;
			fl_notice("VM %s: adopted from the previous daemon (wrapper pid %d still guards it)", vm->uid,
				  (int)a->holder);
			adopted_drop(a);
			return 0;
		}
		fl_notice("VM %s: the guard file left by the previous daemon has no wrapper: starting it", vm->uid);
		guard_release(d, vm->uid);
		adopted_drop(a);
	}
	if (vm->restart == FSM_RESTART_MANAGER && d->cfg.recover_command[0] == '\0') {
		/* Its manager runs it, not us: stopped, for the manager to start
		 * wherever it likes (its fencelock exec places it there). */
		fl_notice("VM %s (managed) placed here after a failure: no recover_command, left to its manager",
			  vm->uid);
		end_propose(d, v, false);
		v->arb_started = false;
		return -FL_ECANCELED;
	}
	/* Run by vmrt_poll, a few per poll, so that a host taking over the VMs
	 * of a failed one does not fork hundreds of times in one turn of the
	 * loop that renews its lease. */
	if (was_elsewhere)
		d->m.recovered++;
	v->state = DVM_SPAWNED;
	v->spawn_due = true;
	fl_timer_after(d->loop, &v->timer, FLD_RECOVER_TIMEOUT_US);
	return 0;
}

/* The starts op_start left to us: at most FLD_SPAWNS_PER_POLL per call. */
static void spawn_due_vms(struct fld *d)
{
	uint32_t n = 0, end = FL_MIN(fsm_vm_scan_end(arb_fsm(d->arb)), FLD_MAX_VMS);
	for (uint32_t i = 0; i < end && n < FLD_SPAWNS_PER_POLL; i++) {
		struct dvm *v = &d->vms[i];
		if (!v->spawn_due || v->spawn_job != NULL)
			continue; /* not due, or a start of an earlier incarnation still on the worker */
		v->spawn_due = false;
		const struct fsm_vm *vm = fsm_vm_at(arb_fsm(d->arb), i);
		if (v->state != DVM_SPAWNED || v->spawn_pid != 0)
			continue; /* killed (or granted) before its turn */
		if (vm == NULL || strcmp(vm->uid, v->uid) != 0 || vm->desired_host != d->cfg.host_id) {
			spawn_failed(d, v, "no longer placed here");
			continue;
		}
		n++;
		int rv = spawn_vm(d, v, vm);
		if (rv != 0)
			spawn_failed(d, v, fl_strerror(rv));
	}
}

static void op_kill(void *ctx, uint32_t idx, uint64_t incarnation, uint64_t deadline_us)
{
	struct fld *d = ctx;
	if (idx >= FLD_MAX_VMS)
		return;
	FL_ASSERT(idx < fsm_vm_scan_end(arb_fsm(d->arb))); /* the polls scan no further */
	struct dvm *v = &d->vms[idx];
	uint64_t now = fl_now_us(d->loop);
	d->m.vm_kills++;
	v->kills++; /* a grant on the worker now can never apply (grant_done) */
	v->incarnation = incarnation;
	fl_notice("VM %s incarnation %" PRIu64 ": kill requested (dead within %" PRIu64 " ms)", v->uid, incarnation,
		  (uint64_t)(deadline_us > now ? (deadline_us - now) / FL_US_PER_MS : 0));
	if (v->acquire != NULL) {
		ctl_call_errorf(v->acquire, "VM %s was stopped on this host before it started", v->uid);
		ctl_call_finish(v->acquire, -FL_ECANCELED);
		v->acquire = NULL;
		close_fd(&v->acquire_pid_fd);
		close_fd(&v->acquire_wrapper_fd);
	}
	if (v->state == DVM_NONE) {
		v->state = DVM_KILLING;
		v->arb_started = true;
		fl_timer_after(d->loop, &v->report, 0);
		return;
	}
	if (v->state == DVM_KILLING)
		return;
	v->state = DVM_KILLING;
	v->kill_deadline_us = deadline_us;
	uint64_t at = deadline_us;
	if (v->have_guard) {
		/* Its deadline moves to now and never again (the file leaves the
		 * table, so no later renewal extends it); a guard asleep on an
		 * older deadline acts by then at the latest. */
		guard_table_set(&d->guards, v->uid, now, deadline_us > now ? deadline_us - now : 0);
		guard_release(d, v->uid);
		v->have_guard = false;
		if (v->adopted)
			at = FL_MAX(at, d->guard_deadline_us + d->guard_grace_us + 200 * FL_US_PER_MS);
	}
	if (v->wrapper_fd >= 0)
		signal_pidfd(v->wrapper_fd, v->wrapper_pid, SIGTERM, false);
	else if (v->spawn_pid > 0)
		kill(-v->spawn_pid, SIGTERM);
	fl_timer_arm(d->loop, &v->timer, at);
}

static void op_guard(void *ctx, uint64_t deadline_us, uint64_t grace_us)
{
	struct fld *d = ctx;
	uint64_t grace = grace_us;
	if (d->cfg.vm_kill_grace_ms != 0)
		grace = FL_MIN(grace, (uint64_t)d->cfg.vm_kill_grace_ms * FL_US_PER_MS);
	d->guard_deadline_us = deadline_us;
	d->guard_grace_us = grace;
	guard_table_extend_all(&d->guards, deadline_us, grace);
	fld_watchdog_pet(d); /* called only after a good renewal */
}

struct arb_vm_ops vmrt_ops(struct fld *d)
{
	return (struct arb_vm_ops){.start = op_start, .kill = op_kill, .guard = op_guard, .ctx = d};
}

/* ---- control ops from wrappers ---- */

static int acquire_checks(struct fld *d, struct ctl_call *call, const struct ctl_req *req,
			  const struct fsm_vm **vm_out, uint32_t *idx)
{
	struct arb_status st;
	arb_status(d->arb, &st);
	if (!st.quorate || !st.lease_valid || st.fenced) {
		ctl_call_errorf(call, "host %u (%s) is not quorate%s; no new VM may start here", d->cfg.host_id,
				d->cfg.host_name, !st.lease_valid ? " (its delta lease is not valid)"
						  : st.fenced ? " (it is fenced)" : "");
		return -FL_ENOTQUORATE;
	}
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), req->uid, idx);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered; register it first", req->uid);
		return -FL_ENOENT;
	}
	if (*idx >= FLD_MAX_VMS) {
		ctl_call_errorf(call, "VM %s: this daemon tracks %u VMs at most", req->uid, FLD_MAX_VMS);
		return -FL_ENOSPC;
	}
	const struct fsm_host *self = fsm_host_find(arb_fsm(d->arb), d->cfg.host_id);
	if (vm->desired_host != d->cfg.host_id && self != NULL && self->quarantine_until_us > fsm_clock_us(arb_fsm(d->arb))) {
		ctl_call_errorf(call, "host %u (%s) is %s: no VM is placed here%s", d->cfg.host_id, d->cfg.host_name,
				self->quarantine_until_us == FSM_QUARANTINE_DRAINED ? "drained" : "quarantined (it flapped)",
				self->quarantine_until_us == FSM_QUARANTINE_DRAINED ? " until 'fencelock host undrain'"
										      : "; see 'fencelock quarantine list'");
		return -FL_EBUSY;
	}
	if (vm->desired_host != 0 && vm->desired_host != d->cfg.host_id) {
		char name[FSM_NAME_MAX + 1];
		ctl_call_errorf(call, "VM %s is placed on host %u (%s)%s: its volume leases are held there; stop it "
				"there first", req->uid, vm->desired_host, fld_host_name(d, vm->desired_host, name,
				sizeof(name)), vm->run_state == FSM_RUN_RUNNING ? " and runs there" : "");
		return -FL_EBUSY;
	}
	*vm_out = vm;
	return 0;
}

/* A pidfd of our own for the caller (its connection's, duplicated), or -1. */
static int peer_pidfd(const struct ctl_call *call)
{
	int fd = ctl_call_peer(call)->pidfd;
	return fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
}

int vmrt_acquire(struct fld *d, struct ctl_call *call, const struct ctl_req *req)
{
	const struct fsm_vm *vm;
	uint32_t idx;
	int rv = acquire_checks(d, call, req, &vm, &idx);
	if (rv != 0)
		return rv;
	struct dvm *v = &d->vms[idx];
	pid_t wrapper = ctl_call_peer(call)->pid;
	if (v->acquire != NULL || v->grant_job != NULL) {
		ctl_call_errorf(call, "another vm.acquire of VM %s is waiting on this host", req->uid);
		return -FL_EBUSY;
	}
	if (v->state == DVM_SPAWNED)
		return grant(d, v, call, req->pid, ctl_call_take_pidfd(call), wrapper, peer_pidfd(call));
	if (v->state == DVM_RUNNING) {
		ctl_call_errorf(call, "VM %s already runs on this host (pid %d)", req->uid, (int)v->pid);
		return -FL_EBUSY;
	}
	if (v->state == DVM_KILLING) {
		ctl_call_errorf(call, "VM %s is being stopped on this host; try again in a few seconds", req->uid);
		return -FL_EBUSY;
	}
	snprintf(v->uid, sizeof(v->uid), "%s", req->uid);
	if (vm->desired_host != d->cfg.host_id || v->cancelled_inc == vm->incarnation) {
		struct fsm_cmd c = {.type = FSM_CMD_VM_PLACE, .host_id = d->cfg.host_id, .incarnation = vm->incarnation};
		snprintf(c.uid, sizeof(c.uid), "%s", req->uid);
		if ((rv = fld_submit(d, call, &c)) != 0)
			return rv;
	}
	v->acquire_placed = vm->desired_host != d->cfg.host_id || v->cancelled_inc == vm->incarnation;
	v->acquire_place_inc = vm->incarnation;
	v->acquire_resubmit_us = fl_now_us(d->loop) + FLD_RESUBMIT_US;
	v->cancelled_inc = 0;
	v->acquire = call;
	v->acquire_pid = req->pid;
	v->acquire_wrapper = wrapper;
	close_fd(&v->acquire_pid_fd);
	close_fd(&v->acquire_wrapper_fd);
	v->acquire_pid_fd = ctl_call_take_pidfd(call);
	v->acquire_wrapper_fd = peer_pidfd(call);
	v->acquire_until_us = fl_now_us(d->loop) + FLD_ACQUIRE_TIMEOUT_US;
	return CTL_DEFERRED;
}

int vmrt_started(struct fld *d, struct ctl_call *call, const struct ctl_req *req)
{
	struct dvm *v = vmrt_find(d, req->uid);
	if (v == NULL || (v->state != DVM_RUNNING && v->state != DVM_KILLING)) {
		ctl_call_errorf(call, "VM %s holds no grant on this host", req->uid);
		return -FL_ENOENT;
	}
	report_run(d, v, true);
	return 0;
}

int vmrt_exited(struct fld *d, struct ctl_call *call, const struct ctl_req *req)
{
	struct dvm *v = vmrt_find(d, req->uid);
	if (v == NULL || (v->state != DVM_RUNNING && v->state != DVM_KILLING))
		return 0; /* nothing held here: nothing to do */
	if (!v->exited_reported)
		note_exit(d, v);
	v->exited_reported = true;
	v->have_exit = true;
	v->exit_code = req->exit_code;
	v->exit_signal = req->exit_signal;
	report_run(d, v, false);
	fl_info("VM %s (pid %d) exited: %s %d", v->uid, (int)req->pid, req->exit_signal ? "signal" : "code",
		req->exit_signal ? (int)req->exit_signal : (int)req->exit_code);
	return 0;
}

int vmrt_release(struct fld *d, struct ctl_call *call, const struct ctl_req *req)
{
	struct dvm *v = vmrt_find(d, req->uid);
	if (v == NULL || (v->state != DVM_RUNNING && v->state != DVM_KILLING)) {
		ctl_call_errorf(call, "VM %s holds no lease on host %u (%s): nothing to release here", req->uid,
				d->cfg.host_id, d->cfg.host_name);
		return -FL_ENOTHELD;
	}
	if (req->pid != 0 && v->pid != 0 && req->pid != v->pid) {
		ctl_call_errorf(call, "the leases of VM %s are held here for pid %d, not %d", req->uid, (int)v->pid,
				(int)req->pid);
		return -FL_EPERM;
	}
	/* Only its wrapper releases a VM it still guards: leases released under
	 * a running VMM would let another host start a second writer. */
	if (v->wrapper_fd >= 0 && ctl_call_peer(call)->pid != v->wrapper_pid) {
		ctl_call_errorf(call, "VM %s still runs here under its wrapper (pid %d); stop the VM, its wrapper "
				"releases the leases", req->uid, (int)v->wrapper_pid);
		return -FL_EBUSY;
	}
	if (v->flush_needed) {
		ctl_call_errorf(call, "VM %s: its wrapper died and its volumes are being flushed; its leases are "
				"released once a flush succeeds", req->uid);
		return -FL_EBUSY;
	}
	if (!v->exited_reported)
		note_exit(d, v);
	uint64_t inc = v->incarnation;
	finish_exit(d, v);
	/* A stop (or unregistration) by policy: the answer waits for its
	 * commit, so that when the wrapper exits the VM may start elsewhere. */
	if (v->end_inc != 0 && v->end_inc == inc)
		return fld_wait_end(d, call, v->end_uid, inc);
	return 0;
}

/* Our placement proposal, again, while the FSM still shows the incarnation
 * it expects (a duplicate is refused by the FSM's compare-and-set). */
static void acquire_resubmit(struct fld *d, struct dvm *v, const struct fsm_vm *vm, uint64_t now)
{
	if (!v->acquire_placed || vm == NULL || vm->incarnation != v->acquire_place_inc || now < v->acquire_resubmit_us)
		return;
	v->acquire_resubmit_us = now + FLD_RESUBMIT_US;
	struct fsm_cmd c = {.type = FSM_CMD_VM_PLACE, .host_id = d->cfg.host_id, .incarnation = vm->incarnation};
	snprintf(c.uid, sizeof(c.uid), "%s", vm->uid);
	int rv = arb_submit(d->arb, &c);
	fl_debug("VM %s: placement here proposed again: %s", vm->uid, rv ? fl_strerror(rv) : "sent");
}

/* Our VM_END again while the FSM still places that incarnation here. */
static void end_resubmit(struct fld *d, struct dvm *v, const struct fsm_vm *vm, uint64_t now)
{
	if (v->end_inc == 0)
		return;
	if (vm == NULL || vm->incarnation != v->end_inc || vm->desired_host != d->cfg.host_id ||
	    strcmp(vm->uid, v->end_uid) != 0 || now >= v->end_until_us) {
		v->end_inc = 0; /* applied, superseded, or given up (the VM stays stopped here) */
		return;
	}
	if (now < v->end_resubmit_us)
		return;
	v->end_resubmit_us = now + FLD_RESUBMIT_US;
	end_submit(d, v);
}

void vmrt_poll(struct fld *d, uint64_t now)
{
	spawn_due_vms(d);
	/* Runtime state exists only at entries the FSM has used: the 20 ms poll
	 * scans those, not the whole 10,240-entry table. */
	uint32_t end = FL_MIN(fsm_vm_scan_end(arb_fsm(d->arb)), FLD_MAX_VMS);
	for (uint32_t i = 0; i < end; i++) {
		struct dvm *v = &d->vms[i];
		const struct fsm_vm *vm = fsm_vm_at(arb_fsm(d->arb), i);
		end_resubmit(d, v, vm, now);
		if (v->acquire == NULL)
			continue;
		if (now < v->acquire_until_us) {
			acquire_resubmit(d, v, vm, now);
			continue;
		}
		ctl_call_errorf(v->acquire, "the volume leases of VM %s were not acquired within %" PRIu64 " s: a volume "
				"is held by another host (see 'fencelock leases'), or this host lost quorum", v->uid,
				(uint64_t)(FLD_ACQUIRE_TIMEOUT_US / FL_US_PER_S));
		ctl_call_finish(v->acquire, -FL_EBUSY);
		v->acquire = NULL;
		close_fd(&v->acquire_pid_fd);
		close_fd(&v->acquire_wrapper_fd);
		if (vm != NULL && vm->desired_host == d->cfg.host_id) {
			v->cancelled_inc = vm->incarnation;
			unplace(d, vm->uid, vm->incarnation);
		}
	}
}

void vmrt_shutdown(struct fld *d)
{
	for (uint32_t i = 0; i < FLD_MAX_VMS; i++) {
		struct dvm *v = &d->vms[i];
		fl_timer_cancel(d->loop, &v->timer);
		fl_timer_cancel(d->loop, &v->report);
		unwatch(d, &v->wrapper_fd);
		unwatch(d, &v->spawn_fd);
		unwatch(d, &v->flush_fd); /* a flush child left running ends on its own */
		fl_timer_cancel(d->loop, &v->flush_timer);
		v->acquire = NULL; /* the control server drops unfinished calls */
		close_fd(&v->acquire_pid_fd);
		close_fd(&v->acquire_wrapper_fd);
		close_fd(&v->pid_fd);
	}
}
