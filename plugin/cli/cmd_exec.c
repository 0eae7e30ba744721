/* `fencelock exec`: runs a VM's process under its volume leases and a guard.
 *
 * Order of events, chosen so that the VM never runs without its leases:
 *   1. describe the VM (uid, volumes) from the options, or from the VMM's
 *      own arguments (Firecracker, Cloud Hypervisor, QEMU: vmspec.h); say
 *      on stderr what the VMM will use that cannot be guarded;
 *   2. register it with the daemon (spec: its volumes and command line, or
 *      the --spec file), so that the cluster can restart it elsewhere;
 *   3. fork the child, which waits on a pipe before it execs CMD: the leases
 *      are acquired on behalf of the child's pid, the one the VMM will have;
 *   4. acquire the leases (refused: the child exits without running CMD);
 *   5. open the guard file the daemon named, check it holds a live deadline,
 *      report the VM started, let the child exec CMD (nothing that can block
 *      on the daemon comes between CMD's exec and its guard);
 *   6. guard: kill CMD by deadline + K if the daemon stops extending the
 *      deadline; forward SIGTERM/SIGINT/SIGHUP/SIGQUIT; wait for the exit;
 *   7. flush the volumes (bounded), report the exit, release the leases
 *      (only if the flush completed), exit with CMD's status (128+N when a
 *      signal N ended it).
 * The child dies with the guard (PR_SET_PDEATHSIG): a VM never outlives its
 * guard. The control connection is not held open while the VM runs: the
 * guard needs nothing from the daemon, and a fresh connection at exit works
 * across a daemon restart. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "common/log.h"
#include "common/loop.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/client.h"
#include "plugin/host/guard.h"
#include "plugin/host/vmspec.h"

#define EXEC_EXIT_TIMEOUT_MS 5000u   /* reports at exit: the daemon may be paused */
#define EXEC_WAIT_DEFAULT_S 10u      /* --wait: how long transient refusals are retried */
#define EXEC_WAIT_MAX_S 3600u
#define EXEC_BACKOFF_MIN_US (20ull * FL_US_PER_MS)
#define EXEC_BACKOFF_MAX_US FL_US_PER_S

enum exec_mode { EXEC_PLAIN = 0, EXEC_FIRECRACKER, EXEC_CLOUD_HYPERVISOR, EXEC_QEMU };

struct exec_args {
	enum exec_mode mode;
	const char *socket;
	const char *spec_file;
	enum fl_restart restart;
	uint32_t wait_s;
	struct vmspec vm;
	int cmd_argc;
	char **cmd_argv;
};

static void exec_usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock exec --vm UID --volume PATH[:ro] ... [options] -- CMD ARGS...\n"
		"       fencelock exec --firecracker [options] -- FIRECRACKER ARGS...\n"
		"       fencelock exec --cloud-hypervisor [--vm UID] [options] -- CLOUD-HYPERVISOR ARGS...\n"
		"       fencelock exec --qemu [--vm UID] [options] -- QEMU ARGS...\n"
		"\n"
		"Registers the VM with fencelockd, acquires its volume leases, runs CMD under a\n"
		"guard that kills it if the daemon stops renewing (hung, paused, dead), and\n"
		"releases the leases when CMD exits.\n"
		"\n"
		"  --vm UID             VM uid (Firecracker: taken from --id)\n"
		"  --volume PATH[:ro][:id=ID]  a volume of the VM (repeatable; added to those found in the\n"
		"                       VMM's config); id=ID names it yourself when fencelock cannot read\n"
		"                       its identity (the same ID on every host that reaches it)\n"
		"  --restart always|on-failure|never|manager   what the cluster does when the VM stops\n"
		"                       without being asked (default always; docs/design.md, VM lifecycle)\n"
		"  --managed            = --restart manager: a VM manager runs it; fencelock never re-runs it\n"
		"  --spec FILE          spec registered for recovery (default: volumes and command line as JSON)\n"
		"  --firecracker        volumes from the 'drives' and 'pmem' of --config-file (or --volume\n"
		"                       in API-socket mode), uid from --id\n"
		"  --cloud-hypervisor   volumes from --disk path=...[,readonly=on] and --pmem file=...; uid\n"
		"                       from --vm, or the UID of an --api-socket .../UID/cloudhypervisor.sock\n"
		"  --qemu               volumes from -drive file=..., -blockdev ...filename=..., -hda..-hdd,\n"
		"                       -cdrom; uid from -name guest=NAME (or -name NAME), else -uuid\n"
		"  -s, --socket SOCKET  control socket (default $FENCELOCK_SOCKET, else %s)\n"
		"  --wait SECONDS       retry transient refusals (daemon busy or restarting, no free\n"
		"                       control slot, host not quorate) with back-off for up to\n"
		"                       SECONDS (default %u; 0: try once)\n"
		"\n"
		"exit codes: CMD's own status, or 128+N if signal N ended it; before CMD ran:\n"
		"  transient (still so after --wait; try again later):\n"
		"  119 daemon busy, no free control slot   120 daemon unreachable\n"
		"  122 host not quorate\n"
		"  permanent (retrying will not help until something changes):\n"
		"  121 a volume is held by another host     123 permission denied by the daemon\n"
		"  124 other refusal        125 bad command line or VM config\n"
		"  126 CMD not executable   127 CMD not found\n"
		"(the other commands' exit codes: fencelock --help)\n",
		FL_DEFAULT_SOCKET, EXEC_WAIT_DEFAULT_S);
}

static int exec_parse_opts(int argc, char **argv, struct exec_args *a)
{
	static const struct option longopts[] = {
		{"vm", required_argument, NULL, 'v'}, {"volume", required_argument, NULL, 'V'},
		{"restart", required_argument, NULL, 'r'}, {"spec", required_argument, NULL, 'p'},
		{"firecracker", no_argument, NULL, 'F'}, {"cloud-hypervisor", no_argument, NULL, 'C'},
		{"managed", no_argument, NULL, 'M'}, {"qemu", no_argument, NULL, 'Q'},
		{"socket", required_argument, NULL, 's'}, {"wait", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'}, {0},
	};
	char err[256];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		int rv = 0;
		switch (c) {
		case 'v': rv = vmspec_set_uid(&a->vm, optarg, err, sizeof(err)); break;
		case 'V': rv = vmspec_add_volume_arg(&a->vm, optarg, err, sizeof(err)); break;
		case 'r':
			rv = ctl_restart_parse(optarg, &a->restart);
			if (rv != 0)
				snprintf(err, sizeof(err), "--restart must be always, on-failure, never or manager, got '%s'",
					 optarg);
			break;
		case 'M': a->restart = FL_RESTART_MANAGER; break;
		case 'p': a->spec_file = optarg; break;
		case 'F': a->mode = EXEC_FIRECRACKER; break;
		case 'C': a->mode = EXEC_CLOUD_HYPERVISOR; break;
		case 'Q': a->mode = EXEC_QEMU; break;
		case 's': a->socket = optarg; break;
		case 'w': {
			char *end;
			unsigned long w = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || w > EXEC_WAIT_MAX_S) {
				snprintf(err, sizeof(err), "--wait must be 0..%u seconds, got '%s'", EXEC_WAIT_MAX_S, optarg);
				rv = -FL_EINVAL;
			}
			a->wait_s = (uint32_t)w;
			break;
		}
		case 'h': exec_usage(stdout); exit(0);
		default: return -1;
		}
		if (rv != 0) {
			fprintf(stderr, "fencelock exec: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static int exec_parse(int argc, char **argv, struct exec_args *a)
{
	memset(a, 0, sizeof(*a));
	a->wait_s = EXEC_WAIT_DEFAULT_S;
	if (exec_parse_opts(argc, argv, a) != 0)
		return -1;
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc) {
		fprintf(stderr, "fencelock exec: no command given; put it after '--'\n");
		return -1;
	}
	a->cmd_argc = argc - optind;
	a->cmd_argv = argv + optind;
	char err[512];
	int rv = 0;
	if (a->mode == EXEC_FIRECRACKER)
		rv = vmspec_firecracker_args(&a->vm, a->cmd_argc, a->cmd_argv, err, sizeof(err));
	else if (a->mode == EXEC_CLOUD_HYPERVISOR)
		rv = vmspec_ch_args(&a->vm, a->cmd_argc, a->cmd_argv, err, sizeof(err));
	else if (a->mode == EXEC_QEMU)
		rv = vmspec_qemu_args(&a->vm, a->cmd_argc, a->cmd_argv, err, sizeof(err));
	for (uint32_t i = 0; i < FL_MIN(a->vm.n_warnings, VMSPEC_WARN_MAX); i++)
		fprintf(stderr, "fencelock exec: warning: %s\n", a->vm.warnings[i]);
	if (a->vm.n_warnings > VMSPEC_WARN_MAX)
		fprintf(stderr, "fencelock exec: warning: %u more\n", a->vm.n_warnings - VMSPEC_WARN_MAX);
	if (rv == 0 && a->vm.uid[0] == '\0') {
		snprintf(err, sizeof(err), "no VM uid; pass --vm UID");
		rv = -FL_EINVAL;
	}
	if (rv == 0 && a->vm.n_volumes == 0) {
		snprintf(err, sizeof(err), "no volumes; pass --volume PATH (a VM without volumes needs no lease)");
		rv = -FL_EINVAL;
	}
	if (rv != 0) {
		fprintf(stderr, "fencelock exec: %s\n", err);
		return -1;
	}
	return 0;
}

static const char *exec_mode_name(enum exec_mode m)
{
	switch (m) {
	case EXEC_FIRECRACKER: return "firecracker";
	case EXEC_CLOUD_HYPERVISOR: return "cloud-hypervisor";
	case EXEC_QEMU: return "qemu";
	default: return "plain";
	}
}

/* The default spec: what a recovering host needs to run the VM again. */
static char *exec_spec(const struct exec_args *a)
{
	if (a->spec_file != NULL) {
		FILE *f = fopen(a->spec_file, "re");
		char *buf = malloc(CTL_SPEC_MAX + 1);
		size_t n = f != NULL && buf != NULL ? fread(buf, 1, CTL_SPEC_MAX + 1, f) : CTL_SPEC_MAX + 1;
		if (f != NULL)
			fclose(f);
		if (n > CTL_SPEC_MAX) {
			fprintf(stderr, "fencelock exec: --spec %s: cannot read it, or larger than %u bytes\n",
				a->spec_file, CTL_SPEC_MAX);
			free(buf);
			return NULL;
		}
		buf[n] = '\0';
		return buf;
	}
	json_t *argv = json_array(), *vols = json_array();
	for (int i = 0; i < a->cmd_argc; i++)
		json_array_append_new(argv, json_string(a->cmd_argv[i]));
	for (uint32_t i = 0; i < a->vm.n_volumes; i++) {
		json_t *v = json_pack("{s:s,s:b}", "path", a->vm.volumes[i].path, "ro", a->vm.volumes[i].ro);
		if (a->vm.volumes[i].id[0] != '\0')
			json_object_set_new(v, "id", json_string(a->vm.volumes[i].id));
		json_array_append_new(vols, v);
	}
	char cwd[1024];
	json_t *spec = json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s}", "uid", a->vm.uid, "wrapper", "fencelock exec",
				 "restart", ctl_restart_name(a->restart),
				 "argv", argv, "volumes", vols, "cwd", getcwd(cwd, sizeof(cwd)) ? cwd : "/",
				 "mode", exec_mode_name(a->mode));
	char *text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	if (text != NULL && strlen(text) > CTL_SPEC_MAX) {
		fprintf(stderr, "fencelock exec: the command line makes a spec over %u bytes; pass --spec FILE\n", CTL_SPEC_MAX);
		free(text);
		return NULL;
	}
	return text;
}

/* Maps a daemon refusal to exec's exit code. */
static int exec_exit_for(int rv)
{
	switch (-rv) {
	case FL_EAGAIN: case FL_ENOSPC: return FL_EXEC_EXIT_RETRY;
	case FL_EBUSY: return FL_EXEC_EXIT_BUSY;
	case FL_ENOTQUORATE: return FL_EXEC_EXIT_NOTQUORATE;
	case FL_EPERM: return FL_EXEC_EXIT_PERM;
	case FL_ETIMEDOUT: case FL_ESHUTDOWN: case FL_ECORRUPT: case FL_EVERSION: return FL_EXEC_EXIT_UNREACHABLE;
	case FL_EINVAL: return FL_EXEC_EXIT_USAGE;
	default: return FL_EXEC_EXIT_REFUSED;
	}
}

/* True for refusals that pass by themselves: the daemon busy (its queue or
 * its client slots full), restarting (connection closed), not yet quorate,
 * or a commit that took too long. */
static bool exec_transient(int rv)
{
	switch (-rv) {
	case FL_EAGAIN: case FL_ENOSPC: case FL_ENOTQUORATE: case FL_ETIMEDOUT: case FL_ESHUTDOWN: case FL_EIO:
		return true;
	default:
		return false;
	}
}

/* Back-off over transient refusals until --wait has passed. */
struct exec_retry {
	uint64_t until_us;
	uint64_t delay_us;
	bool said;
};

/* Sleeps before the next attempt (jittered, doubling up to 1 s, the last
 * one at --wait) and returns true, or false once --wait has passed. Says
 * once, on the first refusal, that it waits. */
static bool exec_retry_wait(struct exec_retry *r, const struct exec_args *a, const char *why)
{
	uint64_t now = fl_monotonic_us();
	if (now >= r->until_us)
		return false;
	if (!r->said)
		fprintf(stderr, "fencelock exec: VM %s: %s; retrying for up to %u s\n", a->vm.uid, why, a->wait_s);
	r->said = true;
	uint64_t sleep_us = r->delay_us / 2 + (uint64_t)rand() % (r->delay_us / 2 + 1);
	usleep((useconds_t)FL_MIN(sleep_us, r->until_us - now));
	r->delay_us = FL_MIN(r->delay_us * 2, EXEC_BACKOFF_MAX_US);
	return true;
}

static int exec_register(struct fl_client *c, const struct exec_args *a, const char *spec)
{
	struct fl_volume_id vols[CTL_VOLUMES_MAX];
	for (uint32_t i = 0; i < a->vm.n_volumes; i++)
		vols[i] = (struct fl_volume_id){.path = a->vm.volumes[i].path, .read_only = a->vm.volumes[i].ro,
						.id = a->vm.volumes[i].id[0] != '\0' ? a->vm.volumes[i].id : NULL};
	return fl_vm_register_ids(c, a->vm.uid, vols, a->vm.n_volumes, spec, a->restart);
}

/* Connects and registers, retrying transient refusals. Returns 0 with *out
 * connected, or an exit code after one line on stderr. */
static int exec_connect_register(const struct exec_args *a, struct exec_retry *r, struct fl_client **out)
{
	char *spec = exec_spec(a);
	if (spec == NULL)
		return FL_EXEC_EXIT_USAGE;
	const char *path = a->socket != NULL ? a->socket : getenv(FL_SOCKET_ENV);
	char why[CTL_ERR_MAX + 64];
	for (;;) {
		struct fl_client *c = NULL;
		int rv = fl_connect(a->socket, &c);
		bool connected = rv == 0;
		if (connected)
			rv = exec_register(c, a, spec);
		if (rv == 0) {
			free(spec);
			*out = c;
			return 0;
		}
		if (connected)
			snprintf(why, sizeof(why), "registering failed: %s", fl_client_error(c));
		else
			snprintf(why, sizeof(why), "fencelockd unreachable at %s: %s",
				 path != NULL ? path : FL_DEFAULT_SOCKET, fl_strerror(rv));
		fl_disconnect(c);
		/* A refused connection (no listener: the daemon restarts) passes too. */
		bool transient = connected ? exec_transient(rv) : rv == -FL_ENOENT;
		if (transient && exec_retry_wait(r, a, why))
			continue;
		fprintf(stderr, "fencelock exec: VM %s not started: %s\n", a->vm.uid, why);
		free(spec);
		return connected ? exec_exit_for(rv) : FL_EXEC_EXIT_UNREACHABLE;
	}
}

/* Acquires the leases for the child, retrying transient refusals (on a new
 * connection: the daemon may have closed the old one). 0, or a -FL_E code
 * after one line on stderr. */
static int exec_acquire(const struct exec_args *a, struct exec_retry *r, struct fl_client **c, pid_t child,
			struct fl_lease_grant *g)
{
	for (;;) {
		int rv = *c != NULL ? fl_vm_acquire(*c, a->vm.uid, child, NULL, g) : -FL_ESHUTDOWN;
		if (rv == 0)
			return 0;
		char why[CTL_ERR_MAX + 64];
		snprintf(why, sizeof(why), "%s", *c != NULL ? fl_client_error(*c) : "fencelockd unreachable");
		if (!exec_transient(rv) || !exec_retry_wait(r, a, why)) {
			fprintf(stderr, "fencelock exec: VM %s not started: %s\n", a->vm.uid, why);
			return rv;
		}
		fl_disconnect(*c);
		*c = NULL;
		if (fl_connect(a->socket, c) != 0)
			*c = NULL;
	}
}

struct exec_child {
	pid_t pid;
	int go_fd;    /* parent writes one byte: exec now; closes: give up */
	int err_fd;   /* child writes errno if exec fails; EOF = exec succeeded */
};

static const int exec_sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};

static void exec_sigset(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < FL_ARRAY_SIZE(exec_sigs); i++)
		sigaddset(set, exec_sigs[i]);
}

static noreturn void exec_child_main(const struct exec_args *a, int go_rd, int err_wr, pid_t guard)
{
	sigset_t set;
	char b;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != guard)
		_exit(FL_EXEC_EXIT_REFUSED); /* the guard died before we armed the death signal */
	if (read(go_rd, &b, 1) != 1)
		_exit(FL_EXEC_EXIT_REFUSED); /* leases not acquired: never run CMD */
	close(go_rd);
	/* The signals the guard forwards must reach CMD even if our caller
	 * ignored them (a background job of a shell ignores SIGINT/SIGQUIT). */
	for (size_t i = 0; i < FL_ARRAY_SIZE(exec_sigs); i++)
		signal(exec_sigs[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL); /* the guard ignores it; CMD gets the default */
	exec_sigset(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	execvp(a->cmd_argv[0], a->cmd_argv);
	int e = errno;
	ssize_t n = write(err_wr, &e, sizeof(e));
	(void)n;
	_exit(e == ENOENT ? FL_EXEC_EXIT_NOTFOUND : FL_EXEC_EXIT_NOEXEC);
}

static int exec_fork(const struct exec_args *a, struct exec_child *ch)
{
	int go[2], er[2];
	if (pipe2(go, O_CLOEXEC) != 0)
		return fl_from_errno(errno);
	if (pipe2(er, O_CLOEXEC) != 0) {
		close(go[0]);
		close(go[1]);
		return fl_from_errno(errno);
	}
	sigset_t set;
	exec_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL); /* before fork: no SIGCHLD lost to the guard */
	pid_t guard = getpid();
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		close(go[1]);
		close(er[0]);
		exec_child_main(a, go[0], er[1], guard);
	}
	close(go[0]);
	close(er[1]);
	if (p < 0) {
		close(go[1]);
		close(er[0]);
		return fl_from_errno(errno);
	}
	setpgid(p, p);
	*ch = (struct exec_child){.pid = p, .go_fd = go[1], .err_fd = er[0]};
	return 0;
}

/* Lets the child exec CMD; returns 0, or the exit code if exec failed. */
static int exec_release_child(struct exec_child *ch, const char *cmd)
{
	char b = 'x';
	ssize_t n = write(ch->go_fd, &b, 1);
	close(ch->go_fd);
	ch->go_fd = -1;
	int e = 0;
	n = n == 1 ? read(ch->err_fd, &e, sizeof(e)) : -1;
	close(ch->err_fd);
	if (n == 0)
		return 0;
	int status;
	waitpid(ch->pid, &status, 0);
	fprintf(stderr, "fencelock exec: cannot run %s: %s\n", cmd, n > 0 ? strerror(e) : "child vanished");
	return e == ENOENT ? FL_EXEC_EXIT_NOTFOUND : FL_EXEC_EXIT_NOEXEC;
}

/* Abandons a child that must not run CMD. */
static void exec_abandon_child(struct exec_child *ch)
{
	int status;
	if (ch->go_fd >= 0)
		close(ch->go_fd);
	close(ch->err_fd);
	waitpid(ch->pid, &status, 0);
}

/* Checks the grant's guard file holds a live deadline; opens its reader. */
static int exec_open_guard(const struct fl_lease_grant *g, const char *uid, struct guard_reader *rd)
{
	int rv = guard_reader_open(rd, g->guard_path);
	struct guard_rec rec;
	if (rv == 0)
		rv = guard_reader_get(rd, &rec);
	if (rv == 0 && rec.deadline_us <= fl_monotonic_us())
		rv = -FL_ETIMEDOUT;
	if (rv != 0) {
		fprintf(stderr, "fencelock exec: VM %s not started: guard file %s has no live deadline (%s)\n",
			uid, g->guard_path, fl_strerror(rv));
		if (rd->map != NULL)
			guard_reader_close(rd);
	}
	return rv;
}

/* Steps 1-5: everything up to a running CMD whose guard file holds a live
 * deadline (the caller starts guarding at once). Returns 0 or an exit code. */
static int exec_start(const struct exec_args *a, struct exec_child *ch, struct fl_lease_grant *g,
		      struct guard_reader *rd)
{
	struct fl_client *c = NULL;
	struct exec_retry r = {.until_us = fl_monotonic_us() + (uint64_t)a->wait_s * FL_US_PER_S,
			       .delay_us = EXEC_BACKOFF_MIN_US};
	srand((unsigned)getpid() ^ (unsigned)fl_monotonic_us());
	int rv = exec_connect_register(a, &r, &c);
	if (rv != 0)
		return rv;
	if ((rv = exec_fork(a, ch)) != 0)
		fprintf(stderr, "fencelock exec: cannot fork: %s\n", fl_strerror(rv));
	else if ((rv = exec_acquire(a, &r, &c, ch->pid, g)) != 0) {
		exec_abandon_child(ch);
	} else if ((rv = exec_open_guard(g, a->vm.uid, rd)) != 0) {
		exec_abandon_child(ch);
		fl_vm_release(c, a->vm.uid, ch->pid);
		rv = -FL_ECANCELED;
	}
	if (rv != 0) {
		fl_disconnect(c);
		return exec_exit_for(rv);
	}
	/* Reported before CMD runs: once it runs, nothing may stand between it
	 * and its guard, not even a reply from a hung daemon. */
	if (fl_vm_started(c, a->vm.uid, ch->pid) != 0)
		fl_warn("fencelock exec: reporting VM %s started failed: %s", a->vm.uid, fl_client_error(c));
	int code = exec_release_child(ch, a->cmd_argv[0]);
	if (code != 0) {
		fl_client_set_timeout_ms(c, EXEC_EXIT_TIMEOUT_MS);
		fl_vm_exited(c, a->vm.uid, ch->pid, W_EXITCODE(code, 0));
		fl_vm_release(c, a->vm.uid, ch->pid);
		guard_reader_close(rd);
	}
	fl_disconnect(c);
	return code;
}

/* Step 7: flush, report, release. */
static void exec_finish(const struct exec_args *a, pid_t pid, const struct guard_result *res,
			const struct fl_lease_grant *g)
{
	const char *paths[CTL_VOLUMES_MAX];
	for (uint32_t i = 0; i < a->vm.n_volumes; i++)
		paths[i] = a->vm.volumes[i].path;
	uint64_t flush_us = (uint64_t)FL_MAX(g->kill_grace_ms, 1000u) * FL_US_PER_MS;
	int flushed = guard_flush_volumes(paths, a->vm.n_volumes, flush_us);
	if (flushed != 0)
		fprintf(stderr, "fencelock exec: flushing the volumes of VM %s failed (%s); NOT releasing its leases: they expire on their own\n",
			a->vm.uid, fl_strerror(flushed));
	struct fl_client *c = NULL;
	int rv = fl_connect(a->socket, &c);
	if (rv == 0) {
		fl_client_set_timeout_ms(c, EXEC_EXIT_TIMEOUT_MS);
		rv = fl_vm_exited(c, a->vm.uid, pid, res->wait_status);
		if (rv == 0 && flushed == 0)
			rv = fl_vm_release(c, a->vm.uid, pid);
		if (rv == -FL_ENOTHELD)
			rv = 0; /* the daemon already counted it dead (it saw the VM stop) */
	}
	if (rv != 0)
		fprintf(stderr, "fencelock exec: reporting the exit of VM %s to fencelockd failed: %s\n", a->vm.uid,
			c != NULL ? fl_client_error(c) : fl_strerror(rv));
	fl_disconnect(c);
}

int fl_cli_exec(int argc, char **argv)
{
	struct exec_args a;
	/* A write to a vanished child or daemon is an error to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (exec_parse(argc, argv, &a) != 0) {
		fprintf(stderr, "run 'fencelock exec --help' for usage\n");
		return FL_EXEC_EXIT_USAGE;
	}
	struct exec_child ch = {.pid = -1, .go_fd = -1, .err_fd = -1};
	struct fl_lease_grant grant;
	struct guard_reader rd = {.fd = -1};
	int code = exec_start(&a, &ch, &grant, &rd);
	if (code != 0)
		return code;
	struct guard_run_opts o = {.child = ch.pid, .reader = &rd, .uid = a.vm.uid, .kill_path = grant.kill_path};
	struct guard_result res;
	int rv = guard_run(&o, &res);
	guard_reader_close(&rd);
	if (rv != 0)
		fprintf(stderr, "fencelock exec: guard of VM %s failed (%s); the VM was killed\n", a.vm.uid, fl_strerror(rv));
	if (res.killed_by_guard)
		fprintf(stderr, "fencelock exec: VM %s killed by its guard: fencelockd did not extend its deadline\n", a.vm.uid);
	exec_finish(&a, ch.pid, &res, &grant);
	if (WIFSIGNALED(res.wait_status))
		return 128 + WTERMSIG(res.wait_status);
	return WEXITSTATUS(res.wait_status);
}
