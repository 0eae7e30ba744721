/* Unit tests of the TCP transport: two or three transports in one process on
 * one epoll loop, on 127.0.0.1 only, with kernel-chosen ports. The loop runs
 * until the expected event happened (bounded by an iteration count, generous
 * enough never to be reached on a working build): no test depends on timing. */
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

#define LOOP_ROUNDS 5000 /* x at most 10 ms each: the bound, never the expectation */

struct inbox {
	int n;
	uint64_t from[2048];
	uint32_t seq[2048];
	uint32_t len[2048];
};

struct fx {
	struct fl_eloop *el;
	struct raft_tcp *t[3];
	struct inbox in[3];
};

static const uint8_t uuid_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t uuid_b[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

static void deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct inbox *in = arg;
	if (in->n >= 2048)
		return;
	uint32_t seq = 0;
	if (len >= 4)
		memcpy(&seq, payload, 4);
	in->from[in->n] = from;
	in->seq[in->n] = seq;
	in->len[in->n] = len;
	in->n++;
}

static int warnings;

static void quiet_sink(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)msg;
	warnings += level == LOG_WARNING;
}

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	f.el = fl_eloop_new();
	assert_non_null(f.el);
	warnings = 0;
	fl_log_set_sink(quiet_sink, NULL);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 3; i++)
		raft_tcp_free(f->t[i]);
	fl_eloop_free(f->el);
	fl_log_set_sink(NULL, NULL);
	return 0;
}

static struct raft_tcp_config config(struct fx *f, int i, const uint8_t *uuid, uint16_t port)
{
	struct raft_tcp_config c = {
		.self_id = (uint64_t)i + 1,
		.listen_addr = "127.0.0.1",
		.listen_port = port,
		.max_frame_bytes = 64 * 1024,
		.queue_max_frames = 16,
		.backoff_min_us = 1000,
		.backoff_max_us = 20000,
		.deliver = deliver,
		.deliver_arg = &f->in[i],
	};
	memcpy(c.cluster_uuid, uuid, 16);
	return c;
}

static void start(struct fx *f, int i, const struct raft_tcp_config *c)
{
	char err[256];
	int rv = raft_tcp_new(f->el, c, &f->t[i], err, sizeof(err));
	if (rv != 0)
		fail_msg("raft_tcp_new: %s", err);
}

static void connect_peers(struct fx *f, int a, int b)
{
	assert_int_equal(raft_tcp_add_peer(f->t[a], (uint64_t)b + 1, "127.0.0.1", raft_tcp_port(f->t[b])), 0);
}

static void send_seq(struct fx *f, int from, int to, uint32_t seq, uint32_t len)
{
	uint8_t buf[4096] = {0};
	assert_true(len >= 4 && len <= sizeof(buf));
	memcpy(buf, &seq, 4);
	assert_int_equal(raft_tcp_send(f->t[from], (uint64_t)to + 1, buf, len), 0);
}

/* Runs the loop until *counter reaches want (or the round bound). */
static void run_until(struct fx *f, const volatile uint64_t *counter, uint64_t want)
{
	for (int i = 0; i < LOOP_ROUNDS && *counter < want; i++)
		assert_int_equal(fl_eloop_run_once(f->el, 10 * FL_US_PER_MS), 0);
}

static void run_until_n(struct fx *f, const struct inbox *in, int want)
{
	for (int i = 0; i < LOOP_ROUNDS && in->n < want; i++)
		assert_int_equal(fl_eloop_run_once(f->el, 10 * FL_US_PER_MS), 0);
}

static void a_payload_reaches_the_peer_with_the_sender_id(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 42, 100);
	send_seq(f, 1, 0, 43, 4);
	run_until_n(f, &f->in[1], 1);
	run_until_n(f, &f->in[0], 1);
	assert_int_equal(f->in[1].n, 1);
	assert_int_equal(f->in[1].from[0], 1);
	assert_int_equal(f->in[1].seq[0], 42);
	assert_int_equal(f->in[1].len[0], 100);
	assert_int_equal(f->in[0].from[0], 2);
	assert_int_equal(f->in[0].seq[0], 43);
}

static void frames_arrive_in_the_order_they_were_sent(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	/* 16 per batch: the queue never overflows while connected. */
	for (uint32_t b = 0; b < 20; b++) {
		for (uint32_t i = 0; i < 16; i++)
			send_seq(f, 0, 1, b * 16 + i, 4 + (b * 16 + i) % 3000);
		run_until_n(f, &f->in[1], (int)(b + 1) * 16);
	}
	assert_int_equal(f->in[1].n, 320);
	for (int i = 0; i < 320; i++)
		assert_int_equal(f->in[1].seq[i], (uint32_t)i);
	assert_int_equal(raft_tcp_get_stats(f->t[0])->dropped_queue_full, 0);
}

static void a_restarted_peer_is_reconnected_and_receives_again(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 1, 8);
	run_until_n(f, &f->in[1], 1);
	assert_int_equal(f->in[1].n, 1);
	f->in[1].n = 0;
	uint16_t port = raft_tcp_port(f->t[1]);
	raft_tcp_free(f->t[1]);
	f->t[1] = NULL;
	/* Let host 1 notice the closed connection before the restart. */
	const struct raft_tcp_stats *s0 = raft_tcp_get_stats(f->t[0]);
	run_until(f, &s0->disconnects, 1);
	assert_int_equal(s0->disconnects, 1);
	c1.listen_port = port;
	start(f, 1, &c1);
	connect_peers(f, 1, 0);
	run_until(f, &s0->connects, 2);
	assert_int_equal(s0->connects, 2);
	send_seq(f, 0, 1, 2, 8);
	run_until_n(f, &f->in[1], 1);
	assert_int_equal(f->in[1].n, 1);
	assert_int_equal(f->in[1].from[0], 1);
	assert_int_equal(f->in[1].seq[0], 2);
}

static void a_frame_from_another_cluster_is_dropped(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_b, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 7, 8);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->dropped_foreign, 1);
	assert_int_equal(s1->dropped_foreign, 1);
	assert_int_equal(f->in[1].n, 0);
	assert_int_equal(s1->frames_received, 0);
}

/* Drops are logged at most once a second per kind, with a count. */
static void repeated_foreign_frames_are_logged_rate_limited(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_b, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	/* A frame per turn: some die with the connection that is being closed. */
	for (uint32_t seq = 0; seq < LOOP_ROUNDS && s1->dropped_foreign < 5; seq++) {
		send_seq(f, 0, 1, seq, 8);
		assert_int_equal(fl_eloop_run_once(f->el, 10 * FL_US_PER_MS), 0);
	}
	assert_true(s1->dropped_foreign >= 5);
	assert_true(warnings >= 1);
	assert_true((uint64_t)warnings < s1->dropped_foreign);
}

static void a_frame_from_a_host_that_is_not_a_peer_is_dropped(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1); /* host 2 does not know host 1 */
	send_seq(f, 0, 1, 7, 8);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->dropped_unknown, 1);
	assert_int_equal(s1->dropped_unknown, 1);
	assert_int_equal(f->in[1].n, 0);
}

static void a_frame_addressed_to_another_host_is_dropped(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 1, 0);
	/* Host 1 believes host 3 listens where host 2 does. */
	assert_int_equal(raft_tcp_add_peer(f->t[0], 3, "127.0.0.1", raft_tcp_port(f->t[1])), 0);
	uint32_t seq = 5;
	assert_int_equal(raft_tcp_send(f->t[0], 3, &seq, sizeof(seq)), 0);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->dropped_foreign, 1);
	assert_int_equal(s1->dropped_foreign, 1);
	assert_int_equal(f->in[1].n, 0);
}

static void an_oversize_frame_drops_the_connection_but_not_the_peer(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	c1.max_frame_bytes = 1024;
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 1, 2048);
	const struct raft_tcp_stats *s0 = raft_tcp_get_stats(f->t[0]);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->dropped_oversize, 1);
	assert_int_equal(s1->dropped_oversize, 1);
	run_until(f, &s0->disconnects, 1);
	assert_int_equal(s0->disconnects, 1);
	run_until(f, &s0->connects, 2);
	send_seq(f, 0, 1, 2, 16);
	run_until_n(f, &f->in[1], 1);
	assert_int_equal(f->in[1].n, 1);
	assert_int_equal(f->in[1].len[0], 16);
}

static void garbage_on_the_port_drops_the_connection(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c1 = config(f, 1, uuid_a, 0);
	start(f, 1, &c1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(raft_tcp_port(f->t[1]))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	char junk[64];
	memset(junk, 'G', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->dropped_bad_frame, 1);
	assert_int_equal(s1->dropped_bad_frame, 1);
	char c;
	assert_true(read(fd, &c, 1) <= 0); /* closed (or reset: unread junk) by the transport */
	close(fd);
}

static void a_full_queue_keeps_the_newest_frames_within_its_bound(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 1, &c1);
	uint16_t port = raft_tcp_port(f->t[1]);
	raft_tcp_free(f->t[1]); /* nobody listens on port now */
	f->t[1] = NULL;
	start(f, 0, &c0);
	assert_int_equal(raft_tcp_add_peer(f->t[0], 2, "127.0.0.1", port), 0);
	for (uint32_t seq = 0; seq < 1000; seq++) {
		send_seq(f, 0, 1, seq, 100);
		assert_true(raft_tcp_queued(f->t[0], 2) <= 16);
		assert_true(raft_tcp_queued_bytes(f->t[0], 2) <= 16 * (100 + RAFT_TCP_FRAME_HEADER_BYTES));
	}
	assert_int_equal(raft_tcp_queued(f->t[0], 2), 16);
	assert_int_equal(raft_tcp_get_stats(f->t[0])->dropped_queue_full, 1000 - 16);
	c1.listen_port = port;
	start(f, 1, &c1);
	connect_peers(f, 1, 0);
	run_until_n(f, &f->in[1], 16);
	assert_int_equal(f->in[1].n, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(f->in[1].seq[i], 1000 - 16 + (uint32_t)i);
}

static void a_peer_s_new_connection_replaces_its_old_one(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	struct raft_tcp_config c2 = config(f, 0, uuid_a, 0); /* host 1 again, restarted elsewhere */
	c2.deliver_arg = &f->in[2];
	start(f, 0, &c0);
	start(f, 1, &c1);
	start(f, 2, &c2);
	connect_peers(f, 1, 0);
	connect_peers(f, 0, 1);
	assert_int_equal(raft_tcp_add_peer(f->t[2], 2, "127.0.0.1", raft_tcp_port(f->t[1])), 0);
	send_seq(f, 0, 1, 1, 8);
	run_until_n(f, &f->in[1], 1);
	send_seq(f, 2, 1, 2, 8);
	run_until_n(f, &f->in[1], 2);
	assert_int_equal(f->in[1].n, 2);
	const struct raft_tcp_stats *s0 = raft_tcp_get_stats(f->t[0]);
	assert_int_equal(raft_tcp_get_stats(f->t[1])->replaced_inbound, 1);
	run_until(f, &s0->disconnects, 1); /* the old sender sees its connection closed */
	assert_int_equal(s0->disconnects, 1);
}

/* A listener whose accept queue is full drops SYNs, like a host that is off
 * the network: the connect must be abandoned after connect_timeout_us and
 * retried, not left to the kernel's SYN retries (seconds). */
static void a_connect_that_gets_no_answer_is_abandoned_and_retried(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0);
	c0.connect_timeout_us = 20 * FL_US_PER_MS;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	for (int i = 0; i < 4; i++) { /* fill the queue; later ones hang */
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	start(f, 0, &c0);
	assert_int_equal(raft_tcp_add_peer(f->t[0], 2, "127.0.0.1", ntohs(a.sin_port)), 0);
	const struct raft_tcp_stats *s0 = raft_tcp_get_stats(f->t[0]);
	run_until(f, &s0->connect_failures, 3);
	assert_true(s0->connect_failures >= 3);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

static void send_refuses_unknown_hosts_and_oversize_payloads(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0);
	start(f, 0, &c0);
	uint8_t big[1];
	assert_int_equal(raft_tcp_send(f->t[0], 9, big, 1), -FL_ENOENT);
	assert_int_equal(raft_tcp_add_peer(f->t[0], 2, "127.0.0.1", 1), 0);
	uint8_t *huge = calloc(1, 64 * 1024 + 1);
	assert_int_equal(raft_tcp_send(f->t[0], 2, huge, 64 * 1024 + 1), -FL_EINVAL);
	free(huge);
	assert_int_equal(raft_tcp_add_peer(f->t[0], 3, "not-an-ip", 1), -FL_EINVAL);
	assert_int_equal(raft_tcp_add_peer(f->t[0], 1, "127.0.0.1", 1), -FL_EINVAL); /* itself */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(a_payload_reaches_the_peer_with_the_sender_id),
		T(frames_arrive_in_the_order_they_were_sent),
		T(a_restarted_peer_is_reconnected_and_receives_again),
		T(a_frame_from_another_cluster_is_dropped),
		T(repeated_foreign_frames_are_logged_rate_limited),
		T(a_frame_from_a_host_that_is_not_a_peer_is_dropped),
		T(a_frame_addressed_to_another_host_is_dropped),
		T(an_oversize_frame_drops_the_connection_but_not_the_peer),
		T(garbage_on_the_port_drops_the_connection),
		T(a_full_queue_keeps_the_newest_frames_within_its_bound),
		T(a_peer_s_new_connection_replaces_its_old_one),
		T(a_connect_that_gets_no_answer_is_abandoned_and_retried),
		T(send_refuses_unknown_hosts_and_oversize_payloads),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
