/* ctlstub — TEST TOOL, not part of fencelock: a stand-in for fencelockd's
 * control socket and guard side, for the CLI and `fencelock exec` suites
 * until the real daemon exists.
 *
 *   ctlstub -s SOCKET -r RUN_DIR [-e EVENTS_FILE] [-S STATUS_JSON_FILE]
 *           [-F FENCE_AFTER_MS] [-K KILL_GRACE_MS] [-R RENEW_MS]
 *           [-b BUSY_VOLUME]... [-n] [-k KILL_PATH] [-a]
 *
 * It serves every op from in-memory state with the real ctl_server, and
 * plays the daemon's renewal: every RENEW_MS it pushes the guard deadline of
 * every held VM to now + FENCE_AFTER_MS. SIGSTOP it and the deadlines stop
 * moving, as when the real daemon is paused. -n: answer as a non-quorate
 * host. -b: acquisitions touching that volume are refused as held by host 2.
 * -S: the status op returns that file's JSON object (fields merged into the
 * reply), so suites can show the CLI any cluster state. Every mutating op
 * appends one line to EVENTS_FILE ("acquire UID PID", "exited UID PID
 * code=N|signal=N", "release UID", ...) for the suites to check. Writes
 * "ready" to stdout once the socket listens. -a: adopt the guard files left
 * in RUN_DIR/guard by a previous instance (as a restarted daemon does) and
 * extend them; each adopted VM is logged as "adopt UID". The guard side
 * uses the daemon's own struct guard_table. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/assert.h"
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_server.h"
#include "plugin/host/guard.h"
#include "common/version.h"

#define STUB_VMS_MAX 16
#define STUB_BUSY_MAX 8

struct stub_vm {
	bool used, held;
	char uid[CTL_UID_MAX + 1];
	int32_t pid;
	uint32_t n_volumes;
	char volumes[CTL_VOLUMES_MAX][CTL_PATH_MAX + 1];
	bool ro[CTL_VOLUMES_MAX];
	char state[32];                 /* RUNNING, STOPPED, ... */
	char guard_path[512];
};

struct stub {
	struct fl_eloop *el;
	const char *run_dir, *events, *status_file, *kill_path;
	uint32_t fence_after_ms, kill_grace_ms, renew_ms;
	bool not_quorate, adopt;
	struct guard_table guards;
	const char *busy[STUB_BUSY_MAX];
	int n_busy;
	struct stub_vm vms[STUB_VMS_MAX];
	struct fl_timer renew;
	volatile bool done;
};

static struct stub S;

static void stub_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void stub_event(const char *fmt, ...)
{
	if (S.events == NULL)
		return;
	FILE *f = fopen(S.events, "a");
	if (f == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static struct stub_vm *stub_find(const char *uid, bool create)
{
	struct stub_vm *free_slot = NULL;
	for (int i = 0; i < STUB_VMS_MAX; i++) {
		if (S.vms[i].used && strcmp(S.vms[i].uid, uid) == 0)
			return &S.vms[i];
		if (!S.vms[i].used && free_slot == NULL)
			free_slot = &S.vms[i];
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	snprintf(free_slot->uid, sizeof(free_slot->uid), "%s", uid);
	snprintf(free_slot->state, sizeof(free_slot->state), "REGISTERED");
	return free_slot;
}

/* A "good renewal" now: every held VM's deadline moves to now + F. */
static void stub_on_renew(struct fl_timer *t, void *arg)
{
	(void)arg;
	guard_table_extend_all(&S.guards, fl_monotonic_us() + S.fence_after_ms * FL_US_PER_MS,
			       S.kill_grace_ms * FL_US_PER_MS);
	fl_timer_after(fl_eloop_loop(S.el), t, S.renew_ms * FL_US_PER_MS);
}

static void stub_adopted(void *ctx, const char *uid)
{
	struct stub_vm *vm = stub_find(uid, true);
	if (vm == NULL)
		return;
	vm->held = true;
	snprintf(vm->state, sizeof(vm->state), "RUNNING");
	stub_event("adopt %s", uid);
}

static int stub_status(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	json_t *r = ctl_call_reply(call);
	json_t *vms = json_array();
	for (int i = 0; i < STUB_VMS_MAX; i++)
		if (S.vms[i].used)
			json_array_append_new(vms, json_pack("{s:s,s:i,s:s}", "uid", S.vms[i].uid, "host", 1,
							     "state", S.vms[i].state));
	json_object_update_new(r, json_pack("{s:s,s:i,s:s,s:b,s:s,s:i,s:i,s:i,s:i,s:b,s:[{s:i,s:s,s:s,s:s,s:i}],s:o}",
		"cluster", "stub", "host_id", 1, "host_name", "h1", "quorate", !S.not_quorate,
		"quorum_reason", S.not_quorate ? "no contact with a leader" : "leader 1 holds a check-quorum lease",
		"leader", 1, "term", 3, "io_timeout_s", 1, "partition_tolerance_s", 10, "lease_valid", 1,
		"hosts", "id", 1, "name", "h1", "addr", "127.0.0.1:7401", "state", "UP", "since_s", 120,
		"vms", vms));
	if (S.status_file != NULL) {
		json_t *over = json_load_file(S.status_file, 0, NULL);
		if (json_is_object(over))
			json_object_update(r, over);
		json_decref(over);
	}
	return 0;
}

static int stub_list(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	json_t *r = ctl_call_reply(call), *list = json_array();
	for (int i = 0; i < STUB_VMS_MAX; i++) {
		const struct stub_vm *vm = &S.vms[i];
		if (!vm->used)
			continue;
		if (req->op == CTL_OP_VMS)
			json_array_append_new(list, json_pack("{s:s,s:i,s:s,s:i,s:i}", "uid", vm->uid, "host", 1,
							      "state", vm->state, "pid", vm->pid, "volumes", vm->n_volumes));
		for (uint32_t v = 0; req->op == CTL_OP_LEASES && v < vm->n_volumes; v++)
			json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:O}", "volume", vm->volumes[v], "vm", vm->uid,
							      "mode", vm->ro[v] ? "ro" : "rw",
							      "holder", vm->held ? json_integer(1) : json_null()));
	}
	if (req->op == CTL_OP_HOSTS)
		json_array_append_new(list, json_pack("{s:i,s:s,s:s,s:s,s:i,s:b}", "id", 1, "name", "h1", "addr",
						      "127.0.0.1:7401", "state", "UP", "since_s", 120, "voter", 1));
	json_object_set_new(r, req->op == CTL_OP_VMS ? "vms" : req->op == CTL_OP_LEASES ? "leases" : "hosts", list);
	return 0;
}

static int stub_metrics(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	json_object_set_new(ctl_call_reply(call), "text", json_string(
		"# HELP fencelock_raft_term Current Raft term.\n# TYPE fencelock_raft_term gauge\nfencelock_raft_term 3\n"
		"# HELP fencelock_lease_valid 1 while this host's delta lease is valid.\n# TYPE fencelock_lease_valid gauge\n"
		"fencelock_lease_valid 1\n"));
	return 0;
}

static int stub_register(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct stub_vm *vm = stub_find(req->uid, true);
	if (vm == NULL) {
		ctl_call_errorf(call, "registry full (test stub holds %d VMs)", STUB_VMS_MAX);
		return -FL_ENOSPC;
	}
	vm->n_volumes = req->n_volumes;
	for (uint32_t i = 0; i < req->n_volumes; i++) {
		snprintf(vm->volumes[i], sizeof(vm->volumes[i]), "%s", req->volumes[i].path);
		vm->ro[i] = req->volumes[i].ro;
	}
	stub_event("register %s volumes=%u restart=%s", req->uid, req->n_volumes,
		   ctl_restart_name(req->restart));
	if (strchr(req->spec, '\n') == NULL)
		stub_event("spec %s %s", req->uid, req->spec);
	return 0;
}

static int stub_acquire(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct stub_vm *vm = stub_find(req->uid, false);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered; register it first", req->uid);
		return -FL_ENOENT;
	}
	if (S.not_quorate) {
		ctl_call_errorf(call, "host 1 is not quorate (no contact with a leader); no new VM may start here");
		return -FL_ENOTQUORATE;
	}
	for (uint32_t v = 0; v < vm->n_volumes; v++)
		for (int b = 0; b < S.n_busy; b++)
			if (strcmp(vm->volumes[v], S.busy[b]) == 0) {
				ctl_call_errorf(call, "volume %s of VM %s is held by host 2 (h2); stop the VM there first",
						vm->volumes[v], vm->uid);
				return -FL_EBUSY;
			}
	if (guard_table_open(&S.guards, vm->uid, fl_monotonic_us() + S.fence_after_ms * FL_US_PER_MS,
			     S.kill_grace_ms * FL_US_PER_MS, vm->guard_path, sizeof(vm->guard_path)) != 0) {
		ctl_call_errorf(call, "cannot create the guard file of VM %s in %s/guard", vm->uid, S.run_dir);
		return -FL_EIO;
	}
	vm->held = true;
	vm->pid = req->pid;
	stub_event("acquire %s %d", vm->uid, (int)req->pid);
	json_object_update_new(ctl_call_reply(call), json_pack("{s:s,s:i,s:i,s:i,s:s}", "guard_path", vm->guard_path,
		"renew_interval_ms", S.renew_ms, "fence_after_ms", S.fence_after_ms, "kill_grace_ms", S.kill_grace_ms,
		"kill_path", S.kill_path != NULL ? S.kill_path : ""));
	return 0;
}

static int stub_vm_op(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct stub_vm *vm = stub_find(req->uid, false);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered", req->uid);
		return -FL_ENOENT;
	}
	switch (req->op) {
	case CTL_OP_VM_STARTED:
		snprintf(vm->state, sizeof(vm->state), "RUNNING");
		stub_event("started %s %d", vm->uid, (int)req->pid);
		break;
	case CTL_OP_VM_EXITED:
		snprintf(vm->state, sizeof(vm->state), "STOPPED");
		if (req->exit_signal > 0)
			stub_event("exited %s %d signal=%d", vm->uid, (int)req->pid, (int)req->exit_signal);
		else
			stub_event("exited %s %d code=%d", vm->uid, (int)req->pid, (int)req->exit_code);
		break;
	case CTL_OP_VM_RELEASE:
		if (vm->held)
			guard_table_close(&S.guards, vm->uid);
		vm->held = false;
		stub_event("release %s", vm->uid);
		break;
	case CTL_OP_VM_INQUIRE:
		json_object_set_new(ctl_call_reply(call), "state", json_string(vm->held ? "stub:held:1" : "stub:free"));
		break;
	case CTL_OP_VM_UNREGISTER:
		if (vm->held) {
			ctl_call_errorf(call, "VM %s still holds its leases; release them first", vm->uid);
			return -FL_EBUSY;
		}
		vm->used = false;
		stub_event("unregister %s", req->uid);
		break;
	default:
		return -FL_EINVAL;
	}
	return 0;
}

static int stub_host(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	stub_event("%s %u", ctl_op_name(req->op), req->host_id);
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	S.done = true;
}

static int stub_parse(int argc, char **argv, const char **sock)
{
	int c;
	while ((c = getopt(argc, argv, "s:r:e:S:F:K:R:b:nk:a")) != -1) {
		switch (c) {
		case 's': *sock = optarg; break;
		case 'r': S.run_dir = optarg; break;
		case 'e': S.events = optarg; break;
		case 'S': S.status_file = optarg; break;
		case 'F': S.fence_after_ms = (uint32_t)atoi(optarg); break;
		case 'K': S.kill_grace_ms = (uint32_t)atoi(optarg); break;
		case 'R': S.renew_ms = (uint32_t)atoi(optarg); break;
		case 'b': if (S.n_busy < STUB_BUSY_MAX) S.busy[S.n_busy++] = optarg; break;
		case 'n': S.not_quorate = true; break;
		case 'k': S.kill_path = optarg; break;
		case 'a': S.adopt = true; break;
		default: return -1;
		}
	}
	return *sock != NULL && S.run_dir != NULL ? 0 : -1;
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "ctlstub");
	const char *sock = NULL;
	S.fence_after_ms = 4000;
	S.kill_grace_ms = 1000;
	S.renew_ms = 1000;
	if (stub_parse(argc, argv, &sock) != 0 || S.renew_ms == 0) {
		fprintf(stderr, "usage: ctlstub -s SOCKET -r RUN_DIR [-e EVENTS] [-S STATUS_JSON] [-F ms] [-K ms] [-R ms] [-b VOLUME]... [-n] [-k KILL_PATH]\n");
		return 2;
	}
	if (guard_table_init(&S.guards, S.run_dir, STUB_VMS_MAX) != 0 ||
	    (S.adopt && guard_table_adopt(&S.guards, stub_adopted, NULL) < 0)) {
		fprintf(stderr, "ctlstub: cannot set up %s/guard\n", S.run_dir);
		return 1;
	}
	/* A restarted daemon extends what it adopted at once, before a deadline passes. */
	guard_table_extend_all(&S.guards, fl_monotonic_us() + S.fence_after_ms * FL_US_PER_MS,
			       S.kill_grace_ms * FL_US_PER_MS);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	S.el = fl_eloop_new();
	struct ctl_backend be = {.ctx = &S};
	be.handlers[CTL_OP_STATUS] = stub_status;
	be.handlers[CTL_OP_HOSTS] = be.handlers[CTL_OP_LEASES] = be.handlers[CTL_OP_VMS] = stub_list;
	be.handlers[CTL_OP_METRICS] = stub_metrics;
	be.handlers[CTL_OP_VM_REGISTER] = stub_register;
	be.handlers[CTL_OP_VM_ACQUIRE] = stub_acquire;
	be.handlers[CTL_OP_VM_RELEASE] = be.handlers[CTL_OP_VM_STARTED] = be.handlers[CTL_OP_VM_EXITED] = stub_vm_op;
	be.handlers[CTL_OP_VM_INQUIRE] = be.handlers[CTL_OP_VM_UNREGISTER] = stub_vm_op;
	be.handlers[CTL_OP_HOST_ADD] = be.handlers[CTL_OP_HOST_REMOVE] = stub_host;
	struct ctl_server_opts o = {.path = sock, .mode = 0666};
	struct ctl_server *srv;
	if (S.el == NULL || ctl_server_new(S.el, &o, &be, &srv) != 0)
		return 1;
	fl_timer_init(&S.renew, stub_on_renew, NULL);
	fl_timer_after(fl_eloop_loop(S.el), &S.renew, S.renew_ms * FL_US_PER_MS);
	printf("ready\n");
	fflush(stdout);
	fl_eloop_run(S.el, &S.done);
	ctl_server_free(srv);
	fl_eloop_free(S.el);
	guard_table_free(&S.guards);
	return 0;
}
