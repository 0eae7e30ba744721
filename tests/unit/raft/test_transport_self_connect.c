/* The TCP transport drops a connection that connected to itself.
 *
 * A member that is down leaves its port free; when it lies in the ephemeral
 * range (ip_local_port_range), the kernel may give that very port to a
 * peer's outbound socket, and a TCP connect to one's own address and port
 * succeeds (simultaneous open). Kept, that connection would hold the port, so
 * the restarted member could not bind it. This test provokes it for real: a
 * transport (listening on 127.0.0.1, so it binds its outbound sockets there
 * before connecting, and the kernel picks their ports at bind time among the
 * odd ones of the ephemeral range) dials, with a 1 us back-off, an odd
 * ephemeral port on which nobody listens, until the kernel hands it that port
 * (about 1 in 14,000 tries; bounded at 300,000 or 120 s). The transport must
 * count the self-connection as rejected and close it, and a member started
 * on that port afterwards must bind it and receive what the first one sends. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/transport.h"

#define MAX_TRIES 300000u
#define MAX_SECONDS 120u

static const uint8_t uuid[16] = {7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1};
static const uint8_t key[32] = {0x5e, 0x1f, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct inbox {
	int n;
	uint64_t from;
	uint32_t len;
};

static void deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct inbox *in = arg;
	(void)payload;
	in->n++;
	in->from = from;
	in->len = len;
}

static void quiet(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static struct raft_tcp *start(struct fl_eloop *el, uint64_t id, uint16_t port, struct inbox *in)
{
	struct raft_tcp_config c = {
		.self_id = id,
		.listen_addr = "127.0.0.1",
		.listen_port = port,
		.max_frame_bytes = 64 * 1024,
		.queue_max_frames = 16,
		.backoff_min_us = 1,
		.backoff_max_us = 1,
		.deliver = deliver,
		.deliver_arg = in,
		.n_keys = 1,
	};
	memcpy(c.cluster_uuid, uuid, 16);
	memcpy(c.keys[0], key, 32);
	struct raft_tcp *t = NULL;
	char err[256];
	int rv = raft_tcp_new(el, &c, &t, err, sizeof(err));
	if (rv != 0)
		fail_msg("raft_tcp_new on port %u: %s", port, err);
	return t;
}

/* A port of 127.0.0.1 nobody listens on, of the kind the kernel gives a
 * socket bound to port 0 (odd, in the ephemeral range): it just gave it to us. */
static uint16_t free_ephemeral_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void a_connection_to_itself_is_dropped_and_the_port_stays_free(void **state)
{
	(void)state;
	fl_log_set_sink(quiet, NULL);
	struct fl_eloop *el = fl_eloop_new();
	assert_non_null(el);
	struct inbox in0 = {0}, in1 = {0};
	struct raft_tcp *t0 = start(el, 1, 0, &in0);
	uint16_t port = free_ephemeral_port();
	assert_int_equal(raft_tcp_add_peer(t0, 2, "127.0.0.1", port), 0);
	const struct raft_tcp_stats *s = raft_tcp_get_stats(t0);
	uint64_t end = fl_monotonic_us() + MAX_SECONDS * FL_US_PER_S;
	/* Busy: a wait of even 1 ms per try would make this minutes long. */
	while (s->rejected[RAFT_TCP_REJ_SELF] == 0 && s->connect_failures < MAX_TRIES && fl_monotonic_us() < end)
		assert_int_equal(fl_eloop_run_once(el, 0), 0);
	print_message("port %u: self-connected after %llu refused connects\n", port,
		      (unsigned long long)s->connect_failures);
	if (s->rejected[RAFT_TCP_REJ_SELF] == 0)
		fail_msg("no self-connection to port %u in %llu tries", port, (unsigned long long)s->connect_failures);
	/* Dropped: never counted as a connection, and the port is free for the
	 * member that owns it, which then receives what host 1 sends. */
	assert_int_equal(s->connects, 0);
	struct raft_tcp *t1 = start(el, 2, port, &in1);
	assert_int_equal(raft_tcp_add_peer(t1, 1, "127.0.0.1", raft_tcp_port(t0)), 0);
	uint8_t msg[16] = {1, 2, 3};
	assert_int_equal(raft_tcp_send(t0, 2, msg, sizeof(msg)), 0);
	for (int i = 0; i < 5000 && in1.n == 0; i++)
		assert_int_equal(fl_eloop_run_once(el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(in1.n, 1);
	assert_int_equal(in1.from, 1);
	assert_int_equal(in1.len, sizeof(msg));
	raft_tcp_free(t1);
	raft_tcp_free(t0);
	fl_eloop_free(el);
	fl_log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_connection_to_itself_is_dropped_and_the_port_stays_free),
	};
	return cmocka_run_group_tests_name("transport self-connect", tests, NULL, NULL);
}
