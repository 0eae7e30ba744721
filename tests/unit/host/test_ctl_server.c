/* Unit tests of the control socket server on the real epoll loop, with a
 * test-double backend (test_backend_*): request dispatch, error replies for
 * malformed and oversized requests while the server keeps serving,
 * credentials (an unprivileged uid may read but not change state; a member
 * of the control group may), deferred calls and their ordering, client
 * limits and idle clients. Clients run in this process, non-blocking, while
 * the test pumps the loop; the credential tests run their client in a
 * forked child that drops to uid 65534 with setresuid(). The tests of the
 * server's own thread (own_thread) never pump the owner's loop unless they
 * say so: what they check must not need it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_server.h"

/* ---- test double backend ---- */
struct test_backend {
	int status_calls;
	struct ctl_call *deferred;
	int order[8];
	int norder;
};

static int test_backend_status(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct test_backend *b = ctx;
	(void)req;
	b->status_calls++;
	json_object_set_new(ctl_call_reply(call), "quorate", json_true());
	json_object_set_new(ctl_call_reply(call), "uid_seen", json_integer(ctl_call_peer(call)->uid));
	return 0;
}

static int test_backend_acquire(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct test_backend *b = ctx;
	if (strcmp(req->uid, "busy") == 0) {
		ctl_call_errorf(call, "volume /dev/sdb of VM busy is held by host 2");
		return -FL_EBUSY;
	}
	if (strcmp(req->uid, "slow") == 0) {
		b->deferred = call;
		return CTL_DEFERRED;
	}
	json_object_set_new(ctl_call_reply(call), "guard_path", json_string("/run/fencelock/guard/x"));
	return 0;
}

/* Metrics of the size the test asks for (big_reply_bytes). */
static size_t big_reply_bytes;

static int test_backend_metrics(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	char *text = malloc(big_reply_bytes + 1);
	memset(text, 'm', big_reply_bytes);
	text[big_reply_bytes] = '\0';
	json_object_set_new(ctl_call_reply(call), "text", json_string(text));
	free(text);
	return 0;
}

static struct test_backend tb;
static const struct ctl_backend test_backend = {
	.ctx = &tb,
	.handlers = {[CTL_OP_STATUS] = test_backend_status, [CTL_OP_VM_ACQUIRE] = test_backend_acquire,
		     [CTL_OP_METRICS] = test_backend_metrics},
};

/* ---- fixture ---- */
struct fix {
	char dir[64];
	char path[96];
	struct fl_eloop *el;
	struct ctl_server *srv;
};

static struct fix *fix_new(const struct ctl_server_opts *extra)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/fl-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755);
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->el = fl_eloop_new();
	assert_non_null(f->el);
	struct ctl_server_opts o = extra != NULL ? *extra : (struct ctl_server_opts){0};
	o.path = f->path;
	memset(&tb, 0, sizeof(tb));
	assert_int_equal(ctl_server_new(f->el, &o, &test_backend, &f->srv), 0);
	return f;
}

static void fix_free(struct fix *f)
{
	ctl_server_free(f->srv);
	fl_eloop_free(f->el);
	rmdir(f->dir);
	free(f);
}

static int cli_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void cli_send_raw(int fd, const void *body, uint32_t len, uint32_t announced)
{
	uint8_t hdr[4] = {(uint8_t)announced, (uint8_t)(announced >> 8), (uint8_t)(announced >> 16),
			  (uint8_t)(announced >> 24)};
	assert_int_equal(send(fd, hdr, 4, MSG_NOSIGNAL), 4);
	if (len > 0)
		assert_int_equal(send(fd, body, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void cli_send(int fd, const char *json)
{
	cli_send_raw(fd, json, (uint32_t)strlen(json), (uint32_t)strlen(json));
}

/* vm.acquire of uid for pid (the caller's own pid, or another to test the check). */
static void cli_send_acquire(int fd, const char *uid, pid_t pid)
{
	char req[160];
	snprintf(req, sizeof(req), "{\"v\":1,\"op\":\"vm.acquire\",\"uid\":\"%s\",\"pid\":%d}", uid, (int)pid);
	cli_send(fd, req);
}

/* Pumps the loop (if any) until a whole reply arrives; NULL on EOF/timeout.
 * Reads exactly one frame (header, then body) so pipelined replies stay. */
static json_t *cli_recv(struct fix *f, int fd)
{
	static uint8_t buf[CTL_HDR_BYTES + CTL_REPLY_MAX_BYTES];
	size_t len = 0, want = CTL_HDR_BYTES;
	for (int i = 0; i < 500; i++) { /* 5 s */
		if (f != NULL)
			fl_eloop_run_once(f->el, 10000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, f != NULL ? 0 : 10) <= 0)
			continue;
		ssize_t n = recv(fd, buf + len, want - len, 0);
		if (n <= 0)
			return NULL;
		len += (size_t)n;
		if (len == CTL_HDR_BYTES && want == CTL_HDR_BYTES)
			want += (size_t)buf[0] | (size_t)buf[1] << 8 | (size_t)buf[2] << 16;
		size_t used;
		json_t *m;
		char err[CTL_ERR_MAX];
		if (len == want && ctl_frame_parse(buf, len, CTL_REPLY_MAX_BYTES, &used, &m, err, sizeof(err)) == 0 && m != NULL)
			return m;
		if (len == want)
			return NULL;
		i--; /* progress: not a timeout round */
	}
	return NULL;
}

/* True if the server closed fd (EOF) within 5 s of pumping. */
static bool cli_sees_eof(struct fix *f, int fd)
{
	char c;
	for (int i = 0; i < 500; i++) {
		fl_eloop_run_once(f->el, 10000);
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 0)
			return true;
	}
	return false;
}

static int reply_code(json_t *r)
{
	char err[CTL_ERR_MAX];
	return ctl_resp_check(r, err, sizeof(err));
}

/* ---- tests ---- */
static void a_status_request_is_answered_by_the_backend(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(f, fd);
	assert_non_null(r);
	assert_int_equal(reply_code(r), 0);
	assert_true(json_is_true(json_object_get(r, "quorate")));
	assert_int_equal(json_integer_value(json_object_get(r, "uid_seen")), getuid());
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void the_socket_is_created_with_mode_0660(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	fix_free(f);
}

static void a_second_server_on_a_live_socket_is_refused_and_a_stale_one_replaced(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	struct ctl_server *other;
	struct ctl_server_opts o = {.path = f->path};
	assert_int_equal(ctl_server_new(f->el, &o, &test_backend, &other), -FL_EBUSY);
	/* A stale socket file (no listener) is replaced. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char stale[96];
	snprintf(stale, sizeof(stale), "%s/stale.sock", f->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", stale);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	o.path = stale;
	assert_int_equal(ctl_server_new(f->el, &o, &test_backend, &other), 0);
	ctl_server_free(other);
	fix_free(f);
}

static void malformed_requests_get_errors_and_the_connection_keeps_serving(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	static const char *bad[] = {"{\"v\":1,\"op\"", "[1,2]", "{\"v\":1,\"op\":\"vm.acquire\",\"uid\":\"a\"}",
				    "{\"v\":9,\"op\":\"status\"}", "\xff\xfe"};
	static const int want[] = {FL_EINVAL, FL_EINVAL, FL_EINVAL, FL_EVERSION, FL_EINVAL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cli_send(fd, bad[i]);
		json_t *r = cli_recv(f, fd);
		assert_non_null(r);
		assert_int_equal(reply_code(r), -want[i]);
		assert_true(json_is_string(json_object_get(r, "error")));
		json_decref(r);
	}
	cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(f, fd);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void an_oversized_request_is_refused_and_others_are_still_served(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int other = cli_connect(f->path);
	int fd = cli_connect(f->path);
	cli_send_raw(fd, NULL, 0, 16u * 1024u * 1024u);
	json_t *r = cli_recv(f, fd);
	assert_non_null(r);
	assert_int_equal(reply_code(r), -FL_ENOSPC);
	json_decref(r);
	assert_true(cli_sees_eof(f, fd));
	close(fd);
	cli_send(other, "{\"v\":1,\"op\":\"status\"}");
	r = cli_recv(f, other);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	close(other);
	struct ctl_server_stats st;
	ctl_server_get_stats(f->srv, &st);
	assert_int_equal(st.dropped, 1);
	fix_free(f);
}

static void a_reply_beyond_the_request_limit_is_delivered_and_one_beyond_its_own_refused(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	big_reply_bytes = 300u * 1024u; /* a large cluster's listing */
	cli_send(fd, "{\"v\":1,\"op\":\"metrics\"}");
	json_t *r = cli_recv(f, fd);
	assert_non_null(r);
	assert_int_equal(reply_code(r), 0);
	assert_int_equal(json_string_length(json_object_get(r, "text")), big_reply_bytes);
	json_decref(r);
	big_reply_bytes = CTL_REPLY_MAX_BYTES + 1;
	cli_send(fd, "{\"v\":1,\"op\":\"metrics\"}");
	r = cli_recv(f, fd);
	assert_int_equal(reply_code(r), -FL_ENOSPC);
	json_decref(r);
	cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
	r = cli_recv(f, fd);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void a_client_that_never_reads_its_replies_is_dropped(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int slow = cli_connect(f->path);
	int other = cli_connect(f->path);
	big_reply_bytes = 1024u * 1024u;
	for (int i = 0; i < 12; i++) /* 12 MiB of replies, never read */
		cli_send(slow, "{\"v\":1,\"op\":\"metrics\"}");
	struct ctl_server_stats st = {0};
	for (int i = 0; i < 300 && st.dropped == 0; i++) {
		fl_eloop_run_once(f->el, 10000);
		ctl_server_get_stats(f->srv, &st);
	}
	assert_int_equal(st.dropped, 1);
	cli_send(other, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(f, other);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	close(slow);
	close(other);
	fix_free(f);
}

static void an_op_without_a_handler_is_answered_as_unsupported(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	cli_send(fd, "{\"v\":1,\"op\":\"leases\"}");
	json_t *r = cli_recv(f, fd);
	assert_int_equal(reply_code(r), -FL_EINVAL);
	assert_string_equal(json_string_value(json_object_get(r, "error")), "op 'leases' not supported by this daemon");
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void a_backend_error_carries_its_code_and_sentence(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	cli_send_acquire(fd, "busy", getpid());
	json_t *r = cli_recv(f, fd);
	assert_int_equal(reply_code(r), -FL_EBUSY);
	assert_string_equal(json_string_value(json_object_get(r, "error")), "volume /dev/sdb of VM busy is held by host 2");
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void a_deferred_call_answers_when_finished_and_replies_keep_request_order(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	cli_send_acquire(fd, "slow", getpid());
	cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
	for (int i = 0; i < 20 && tb.deferred == NULL; i++)
		fl_eloop_run_once(f->el, 10000);
	assert_non_null(tb.deferred);
	for (int i = 0; i < 5; i++)
		fl_eloop_run_once(f->el, 10000);
	assert_int_equal(tb.status_calls, 0); /* waits behind the pending call */
	json_object_set_new(ctl_call_reply(tb.deferred), "guard_path", json_string("/g"));
	ctl_call_finish(tb.deferred, 0);
	json_t *r = cli_recv(f, fd);
	assert_string_equal(json_string_value(json_object_get(r, "guard_path")), "/g");
	json_decref(r);
	r = cli_recv(f, fd);
	assert_true(json_is_true(json_object_get(r, "quorate")));
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void a_client_gone_during_a_deferred_call_is_harmless(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	cli_send_acquire(fd, "slow", getpid());
	for (int i = 0; i < 20 && tb.deferred == NULL; i++)
		fl_eloop_run_once(f->el, 10000);
	assert_non_null(tb.deferred);
	close(fd);
	for (int i = 0; i < 5; i++)
		fl_eloop_run_once(f->el, 10000);
	struct ctl_server_stats st;
	ctl_server_get_stats(f->srv, &st);
	assert_int_equal(st.clients, 1); /* zombie until finished */
	ctl_call_errorf(tb.deferred, "cancelled");
	ctl_call_finish(tb.deferred, -FL_ECANCELED);
	for (int i = 0; i < 20 && st.clients != 0; i++) {
		fl_eloop_run_once(f->el, 10000);
		ctl_server_get_stats(f->srv, &st);
	}
	assert_int_equal(st.clients, 0);
	fix_free(f);
}

static void clients_beyond_the_limit_are_refused_with_an_error(void **state)
{
	(void)state;
	struct ctl_server_opts o = {.max_clients = 2};
	struct fix *f = fix_new(&o);
	int a = cli_connect(f->path), b = cli_connect(f->path), c = cli_connect(f->path);
	json_t *r = cli_recv(f, c);
	assert_non_null(r);
	assert_int_equal(reply_code(r), -FL_ENOSPC);
	json_decref(r);
	cli_send(b, "{\"v\":1,\"op\":\"status\"}");
	r = cli_recv(f, b);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	close(a); close(b); close(c);
	fix_free(f);
}

static void an_idle_client_is_dropped(void **state)
{
	(void)state;
	struct ctl_server_opts o = {.idle_timeout_us = 200000};
	struct fix *f = fix_new(&o);
	int fd = cli_connect(f->path);
	assert_true(cli_sees_eof(f, fd));
	close(fd);
	fix_free(f);
}

/* Runs a client in a child with the given uid and supplementary group (or
 * none): status must succeed; vm.acquire must give want_acquire (0 or -code). */
static void run_as(struct fix *f, uid_t uid, gid_t group, bool with_group, int want_acquire)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if ((with_group ? setgroups(1, &group) : setgroups(0, NULL)) != 0 ||
		    setresgid(65534, 65534, 65534) != 0 || setresuid(uid, uid, uid) != 0)
			_exit(10);
		int fd = cli_connect(f->path);
		if (fd < 0)
			_exit(11);
		cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
		json_t *r = cli_recv(NULL, fd);
		if (r == NULL || reply_code(r) != 0)
			_exit(12);
		cli_send_acquire(fd, "vm1", getpid());
		r = cli_recv(NULL, fd);
		if (r == NULL)
			_exit(13);
		_exit(reply_code(r) == want_acquire ? 0 : 14);
	}
	int st = 0;
	for (int i = 0; i < 1000 && waitpid(pid, &st, WNOHANG) == 0; i++)
		fl_eloop_run_once(f->el, 10000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void an_unprivileged_uid_may_read_but_not_change_state(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct ctl_server_opts o = {.mode = 0666};
	struct fix *f = fix_new(&o);
	run_as(f, 65534, 0, false, -FL_EPERM);
	struct ctl_server_stats st;
	ctl_server_get_stats(f->srv, &st);
	assert_int_equal(st.refused_perm, 1);
	fix_free(f);
}

static void a_member_of_the_control_group_may_change_state(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct ctl_server_opts o = {.have_group = true, .gid = 4242};
	struct fix *f = fix_new(&o);
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_gid, 4242);
	run_as(f, 65534, 4242, true, 0);
	fix_free(f);
}

static void without_the_group_an_unprivileged_uid_cannot_connect_at_all(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct fix *f = fix_new(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(10);
		int fd = cli_connect(f->path);
		_exit(fd < 0 && errno == EACCES ? 0 : 11);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	assert_int_equal(WEXITSTATUS(st), 0);
	fix_free(f);
}

static void acquire_for_pid_1_or_a_foreign_pid_is_refused_and_never_reaches_the_backend(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	int fd = cli_connect(f->path);
	pid_t foreign[] = {1, getppid()};
	for (size_t i = 0; i < 2; i++) {
		cli_send_acquire(fd, "vm1", foreign[i]);
		json_t *r = cli_recv(f, fd);
		assert_non_null(r);
		assert_int_equal(reply_code(r), -FL_EPERM);
		json_decref(r);
	}
	assert_null(tb.deferred);
	close(fd);
	fix_free(f);
}

static void acquire_for_a_child_of_the_caller_is_accepted_with_its_pidfd(void **state)
{
	(void)state;
	struct fix *f = fix_new(NULL);
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	int fd = cli_connect(f->path);
	cli_send_acquire(fd, "slow", child);
	for (int i = 0; i < 50 && tb.deferred == NULL; i++)
		fl_eloop_run_once(f->el, 10000);
	assert_non_null(tb.deferred);
	int pfd = ctl_call_take_pidfd(tb.deferred);
	assert_true(pfd >= 0);
	assert_int_equal(ctl_call_take_pidfd(tb.deferred), -1); /* taken once */
	kill(child, SIGKILL);
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1); /* the pidfd is the child's: it reports its exit */
	close(pfd);
	waitpid(child, NULL, 0);
	ctl_call_finish(tb.deferred, 0);
	json_t *r = cli_recv(f, fd);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	close(fd);
	fix_free(f);
}

/* ---- the server on its own thread ---- */

static int read_status(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	(void)ctx;
	(void)req;
	json_object_set_new(ctl_call_reply(call), "from", json_string("snapshot"));
	return 0;
}

static struct ctl_backend threaded_backend(void)
{
	struct ctl_backend be = test_backend;
	be.read_handlers[CTL_OP_STATUS] = read_status;
	return be;
}

static struct fix *fix_threaded(struct ctl_server_opts o)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/fl-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755);
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->el = fl_eloop_new();
	o.path = f->path;
	o.own_thread = true;
	memset(&tb, 0, sizeof(tb));
	struct ctl_backend be = threaded_backend();
	assert_int_equal(ctl_server_new(f->el, &o, &be, &f->srv), 0);
	return f;
}

static void read_ops_are_answered_while_the_owner_loop_never_runs(void **state)
{
	(void)state;
	struct fix *f = fix_threaded((struct ctl_server_opts){0});
	int fd[50];
	for (int i = 0; i < 50; i++) {
		fd[i] = cli_connect(f->path);
		assert_true(fd[i] >= 0);
		cli_send(fd[i], "{\"v\":1,\"op\":\"status\"}");
	}
	for (int i = 0; i < 50; i++) {
		json_t *r = cli_recv(NULL, fd[i]);
		assert_non_null(r);
		assert_string_equal(json_string_value(json_object_get(r, "from")), "snapshot");
		json_decref(r);
		close(fd[i]);
	}
	assert_int_equal(tb.status_calls, 0);
	fix_free(f);
}

static void a_mutating_op_runs_on_the_owner_loop_and_its_reply_comes_back(void **state)
{
	(void)state;
	struct fix *f = fix_threaded((struct ctl_server_opts){0});
	int fd = cli_connect(f->path);
	cli_send_acquire(fd, "vm1", getpid());
	json_t *r = cli_recv(f, fd); /* pumps the owner loop */
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "guard_path")), "/run/fencelock/guard/x");
	json_decref(r);
	close(fd);
	fix_free(f);
}

static void a_full_owner_queue_answers_busy_at_once(void **state)
{
	(void)state;
	struct fix *f = fix_threaded((struct ctl_server_opts){.queue_max = 1});
	int a = cli_connect(f->path), b = cli_connect(f->path);
	cli_send_acquire(a, "vm1", getpid());
	usleep(100000); /* a's call sits in the queue: the owner loop does not run */
	cli_send_acquire(b, "vm2", getpid());
	json_t *r = cli_recv(NULL, b);
	assert_non_null(r);
	assert_int_equal(reply_code(r), -FL_EAGAIN);
	json_decref(r);
	r = cli_recv(f, a);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	struct ctl_server_stats st;
	ctl_server_get_stats(f->srv, &st);
	assert_int_equal(st.refused_busy, 1);
	close(a);
	close(b);
	fix_free(f);
}

static void a_client_trickling_a_frame_is_dropped_at_the_frame_deadline_and_others_are_served(void **state)
{
	(void)state;
	struct fix *f = fix_threaded((struct ctl_server_opts){.frame_timeout_us = 300000});
	int slow = cli_connect(f->path), other = cli_connect(f->path);
	static const char req[] = "\x16\x00\x00\x00{\"v\":1,\"op\":\"status\"}";
	bool eof = false;
	/* One byte every 50 ms: the idle timer is reset by each, the frame deadline is not. */
	for (size_t i = 0; i < sizeof(req) - 1 && !eof; i++) {
		if (send(slow, &req[i], 1, MSG_NOSIGNAL) != 1)
			eof = true;
		usleep(50000);
		char c;
		eof = eof || recv(slow, &c, 1, MSG_DONTWAIT) == 0;
	}
	assert_true(eof);
	cli_send(other, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(NULL, other);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	struct ctl_server_stats st;
	ctl_server_get_stats(f->srv, &st);
	assert_int_equal(st.frame_timeouts, 1);
	close(slow);
	close(other);
	fix_free(f);
}

/* In a child as uid 65534: opens `n` connections; returns 0 if the last one
 * was refused for the uid's share (want_refused: the refusal arrives
 * unasked) or answers a status request (!want_refused). */
static int uid_child(const char *path, int n, bool want_refused)
{
	if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
		return 10;
	int fd = -1;
	for (int i = 0; i < n; i++)
		fd = cli_connect(path);
	if (fd < 0)
		return 11;
	if (!want_refused)
		cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(NULL, fd);
	if (r == NULL)
		return 12;
	const char *e = json_string_value(json_object_get(r, "error"));
	bool refused = reply_code(r) == -FL_ENOSPC && e != NULL && strstr(e, "uid") != NULL;
	return refused == want_refused ? 0 : 13;
}

static void one_uid_beyond_its_share_is_refused_and_root_is_still_served(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct fix *f = fix_threaded((struct ctl_server_opts){.mode = 0666, .max_clients = 16, .max_per_uid = 3,
								 .reserved = 2});
	pid_t pid = fork();
	if (pid == 0) {
		int rc = uid_child(f->path, 4, true);
		sleep(1); /* keep its connections while root connects */
		_exit(rc);
	}
	usleep(300000);
	int fd = cli_connect(f->path);
	cli_send(fd, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(NULL, fd);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	int st = 0;
	waitpid(pid, &st, 0);
	assert_int_equal(WEXITSTATUS(st), 0);
	struct ctl_server_stats ss;
	ctl_server_get_stats(f->srv, &ss);
	assert_int_equal(ss.refused_uid, 1);
	close(fd);
	fix_free(f);
}

static void slots_reserved_for_root_stay_free_when_users_fill_the_rest(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	/* 8 slots, 2 kept for root: six of uid 65534 fit, the seventh does not. */
	struct fix *f = fix_threaded((struct ctl_server_opts){.mode = 0666, .max_clients = 8, .max_per_uid = 8,
								 .reserved = 2});
	pid_t pid = fork();
	if (pid == 0) {
		int rc = uid_child(f->path, 6, false);
		int extra = rc == 0 ? cli_connect(f->path) : -1;
		json_t *r = extra >= 0 ? cli_recv(NULL, extra) : NULL;
		rc = rc != 0 ? rc : r != NULL && reply_code(r) == -FL_ENOSPC ? 0 : 14;
		sleep(1);
		_exit(rc);
	}
	usleep(400000);
	int a = cli_connect(f->path), b = cli_connect(f->path);
	cli_send(b, "{\"v\":1,\"op\":\"status\"}");
	json_t *r = cli_recv(NULL, b);
	assert_int_equal(reply_code(r), 0);
	json_decref(r);
	int st = 0;
	waitpid(pid, &st, 0);
	assert_int_equal(WEXITSTATUS(st), 0);
	close(a);
	close(b);
	fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_status_request_is_answered_by_the_backend),
		cmocka_unit_test(the_socket_is_created_with_mode_0660),
		cmocka_unit_test(a_second_server_on_a_live_socket_is_refused_and_a_stale_one_replaced),
		cmocka_unit_test(malformed_requests_get_errors_and_the_connection_keeps_serving),
		cmocka_unit_test(an_oversized_request_is_refused_and_others_are_still_served),
		cmocka_unit_test(a_reply_beyond_the_request_limit_is_delivered_and_one_beyond_its_own_refused),
		cmocka_unit_test(a_client_that_never_reads_its_replies_is_dropped),
		cmocka_unit_test(an_op_without_a_handler_is_answered_as_unsupported),
		cmocka_unit_test(a_backend_error_carries_its_code_and_sentence),
		cmocka_unit_test(a_deferred_call_answers_when_finished_and_replies_keep_request_order),
		cmocka_unit_test(a_client_gone_during_a_deferred_call_is_harmless),
		cmocka_unit_test(clients_beyond_the_limit_are_refused_with_an_error),
		cmocka_unit_test(an_idle_client_is_dropped),
		cmocka_unit_test(an_unprivileged_uid_may_read_but_not_change_state),
		cmocka_unit_test(a_member_of_the_control_group_may_change_state),
		cmocka_unit_test(without_the_group_an_unprivileged_uid_cannot_connect_at_all),
		cmocka_unit_test(acquire_for_pid_1_or_a_foreign_pid_is_refused_and_never_reaches_the_backend),
		cmocka_unit_test(acquire_for_a_child_of_the_caller_is_accepted_with_its_pidfd),
		cmocka_unit_test(read_ops_are_answered_while_the_owner_loop_never_runs),
		cmocka_unit_test(a_mutating_op_runs_on_the_owner_loop_and_its_reply_comes_back),
		cmocka_unit_test(a_full_owner_queue_answers_busy_at_once),
		cmocka_unit_test(a_client_trickling_a_frame_is_dropped_at_the_frame_deadline_and_others_are_served),
		cmocka_unit_test(one_uid_beyond_its_share_is_refused_and_root_is_still_served),
		cmocka_unit_test(slots_reserved_for_root_stay_free_when_users_fill_the_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
