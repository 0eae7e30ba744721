/* Unit tests of libfencelock (plugin/host/client.c) against the real control
 * server running a test-double backend (test_backend_*) on a loop thread:
 * socket discovery, reply parsing of each call, local validation, error
 * codes and sentences, and the per-request timeout against a backend that
 * never answers (the connection is unusable afterwards). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "common/loop.h"
#include "fencelock/fencelock.h"
#include "plugin/host/client.h"
#include "plugin/host/ctl_server.h"

/* ---- test double backend (runs on the loop thread) ---- */
static struct {
	char last_uid[80];
	int last_pid, last_code, last_signal;
	const char *guard_path;      /* NULL: acquire replies without one */
} tb;

static int test_backend_acquire(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	if (strcmp(req->uid, "hang") == 0)
		return CTL_DEFERRED; /* never finished: the client must time out */
	snprintf(tb.last_uid, sizeof(tb.last_uid), "%s", req->uid);
	tb.last_pid = req->pid;
	if (tb.guard_path != NULL)
		json_object_update_new(ctl_call_reply(call), json_pack("{s:s,s:i,s:i,s:i,s:s}", "guard_path", tb.guard_path,
			"renew_interval_ms", 1000, "fence_after_ms", 4000, "kill_grace_ms", 1000, "kill_path", "/bin/kp"));
	return 0;
}

static int test_backend_inquire(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	if (strcmp(req->uid, "ghost") == 0) {
		ctl_call_errorf(call, "VM ghost is not registered");
		return -FL_ENOENT;
	}
	json_object_set_new(ctl_call_reply(call), "state", json_string("lease-state:0123456789"));
	return 0;
}

static int test_backend_exited(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	tb.last_code = req->exit_code;
	tb.last_signal = req->exit_signal;
	return 0;
}

static int test_backend_status(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	json_object_set_new(ctl_call_reply(call), "quorate", json_false());
	return 0;
}

/* ---- fixture: server on a loop thread ---- */
static struct {
	char dir[64], path[96];
	struct fl_eloop *el;
	struct ctl_server *srv;
	pthread_t thread;
	volatile int stop;
} fx;

static void *loop_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&fx.stop, __ATOMIC_ACQUIRE))
		fl_eloop_run_once(fx.el, 20000);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	memset(&tb, 0, sizeof(tb));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/fl-cli-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/s.sock", fx.dir);
	fx.el = fl_eloop_new();
	struct ctl_backend be = {0};
	be.handlers[CTL_OP_VM_ACQUIRE] = test_backend_acquire;
	be.handlers[CTL_OP_VM_INQUIRE] = test_backend_inquire;
	be.handlers[CTL_OP_VM_EXITED] = test_backend_exited;
	be.handlers[CTL_OP_STATUS] = test_backend_status;
	struct ctl_server_opts o = {.path = fx.path};
	assert_int_equal(ctl_server_new(fx.el, &o, &be, &fx.srv), 0);
	fx.stop = 0;
	assert_int_equal(pthread_create(&fx.thread, NULL, loop_main, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	__atomic_store_n(&fx.stop, 1, __ATOMIC_RELEASE);
	pthread_join(fx.thread, NULL);
	ctl_server_free(fx.srv);
	fl_eloop_free(fx.el);
	rmdir(fx.dir);
	return 0;
}

static struct fl_client *connect_ok(void)
{
	struct fl_client *c;
	assert_int_equal(fl_connect(fx.path, &c), 0);
	return c;
}

/* ---- tests ---- */
static void the_socket_comes_from_the_environment_when_not_given(void **state)
{
	(void)state;
	setenv(FL_SOCKET_ENV, fx.path, 1);
	struct fl_client *c;
	assert_int_equal(fl_connect(NULL, &c), 0);
	assert_string_equal(fl_client_socket(c), fx.path);
	fl_disconnect(c);
	unsetenv(FL_SOCKET_ENV);
}

static void connecting_where_nobody_listens_is_not_found(void **state)
{
	(void)state;
	struct fl_client *c = (struct fl_client *)1;
	char p[128];
	snprintf(p, sizeof(p), "%s/none.sock", fx.dir);
	assert_int_equal(fl_connect(p, &c), -FL_ENOENT);
	assert_null(c);
}

static void acquire_returns_the_grant_and_reaches_the_backend(void **state)
{
	(void)state;
	tb.guard_path = "/run/fencelock/guard/vm1";
	struct fl_client *c = connect_ok();
	struct fl_lease_grant g;
	/* The pid must be the caller's own (or a descendant's): the server checks. */
	assert_int_equal(fl_vm_acquire(c, "vm1", getpid(), NULL, &g), 0);
	assert_string_equal(g.guard_path, "/run/fencelock/guard/vm1");
	assert_int_equal(g.fence_after_ms, 4000);
	assert_int_equal(g.kill_grace_ms, 1000);
	assert_int_equal(g.renew_interval_ms, 1000);
	assert_string_equal(g.kill_path, "/bin/kp");
	assert_string_equal(fl_client_error(c), "");
	fl_disconnect(c);
	assert_string_equal(tb.last_uid, "vm1");
	assert_int_equal(tb.last_pid, getpid());
}

static void an_acquire_reply_without_a_guard_path_is_refused(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	struct fl_lease_grant g;
	assert_int_equal(fl_vm_acquire(c, "vm1", getpid(), NULL, &g), -FL_ECORRUPT);
	assert_non_null(strstr(fl_client_error(c), "guard_path"));
	fl_disconnect(c);
}

static void invalid_arguments_are_refused_before_sending(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	assert_int_equal(fl_vm_register(c, "vm1", NULL, 0, NULL, FL_RESTART_ALWAYS), -FL_EINVAL);
	struct fl_volume rel = {.path = "disk.img"};
	assert_int_equal(fl_vm_register(c, "vm1", &rel, 1, NULL, FL_RESTART_ALWAYS), -FL_EINVAL);
	assert_non_null(strstr(fl_client_error(c), "must be absolute"));
	assert_int_equal(fl_vm_release(c, "a/b", 0), -FL_EINVAL);
	fl_disconnect(c);
}

static void inquire_copies_the_state_or_says_it_does_not_fit(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	char st[64], tiny[8];
	assert_int_equal(fl_vm_inquire(c, "vm1", st, sizeof(st)), 0);
	assert_string_equal(st, "lease-state:0123456789");
	assert_int_equal(fl_vm_inquire(c, "vm1", tiny, sizeof(tiny)), -FL_ENOSPC);
	assert_int_equal(fl_vm_inquire(c, "ghost", st, sizeof(st)), -FL_ENOENT);
	assert_string_equal(fl_client_error(c), "VM ghost is not registered");
	fl_disconnect(c);
}

static void an_op_the_daemon_lacks_is_an_error_with_its_sentence(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	assert_int_equal(fl_vm_unregister(c, "vm1"), -FL_EINVAL);
	assert_string_equal(fl_client_error(c), "op 'vm.unregister' not supported by this daemon");
	fl_disconnect(c);
}

static void exit_reports_carry_the_code_or_the_signal(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	pid_t p = fork();
	if (p == 0)
		_exit(5);
	int st;
	waitpid(p, &st, 0);
	assert_int_equal(fl_vm_exited(c, "vm1", p, st), 0);
	assert_int_equal(tb.last_code, 5);
	assert_int_equal(tb.last_signal, 0);
	p = fork();
	if (p == 0) {
		pause();
		_exit(0);
	}
	kill(p, SIGKILL);
	waitpid(p, &st, 0);
	assert_int_equal(fl_vm_exited(c, "vm1", p, st), 0);
	assert_int_equal(tb.last_code, -1);
	assert_int_equal(tb.last_signal, SIGKILL);
	fl_disconnect(c);
}

static void raw_requests_return_the_reply_text_also_on_errors(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	char *reply;
	assert_int_equal(fl_request(c, "{\"v\":1,\"op\":\"status\"}", &reply), 0);
	assert_non_null(strstr(reply, "\"quorate\":false"));
	free(reply);
	assert_int_equal(fl_request(c, "{\"v\":1,\"op\":\"hosts\"}", &reply), -FL_EINVAL);
	assert_non_null(strstr(reply, "\"ok\":false"));
	free(reply);
	assert_int_equal(fl_request(c, "[1]", &reply), -FL_EINVAL);
	assert_null(reply);
	char *json;
	assert_int_equal(fl_status(c, &json), 0);
	assert_non_null(strstr(json, "quorate"));
	free(json);
	fl_disconnect(c);
}

static void a_daemon_that_never_answers_costs_at_most_the_timeout(void **state)
{
	(void)state;
	struct fl_client *c = connect_ok();
	fl_client_set_timeout_ms(c, 200);
	struct fl_lease_grant g;
	uint64_t t0 = fl_monotonic_us();
	assert_int_equal(fl_vm_acquire(c, "hang", getpid(), NULL, &g), -FL_ETIMEDOUT);
	uint64_t took = fl_monotonic_us() - t0;
	assert_true(took >= 190000 && took < 2000000);
	assert_non_null(strstr(fl_client_error(c), "did not answer within 200 ms"));
	/* The stream is out of step now: refuse rather than mismatch replies. */
	assert_int_equal(fl_vm_release(c, "vm1", 0), -FL_ESHUTDOWN);
	fl_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_socket_comes_from_the_environment_when_not_given, setup, teardown),
		cmocka_unit_test_setup_teardown(connecting_where_nobody_listens_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(acquire_returns_the_grant_and_reaches_the_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(an_acquire_reply_without_a_guard_path_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(invalid_arguments_are_refused_before_sending, setup, teardown),
		cmocka_unit_test_setup_teardown(inquire_copies_the_state_or_says_it_does_not_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(an_op_the_daemon_lacks_is_an_error_with_its_sentence, setup, teardown),
		cmocka_unit_test_setup_teardown(exit_reports_carry_the_code_or_the_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_requests_return_the_reply_text_also_on_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(a_daemon_that_never_answers_costs_at_most_the_timeout, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
