/* Unit tests of the TCP transport: two or three transports in one process on
 * one epoll loop, on 127.0.0.1 only, with kernel-chosen ports. The loop runs
 * until the expected event happened (bounded by an iteration count, generous
 * enough never to be reached on a working build): no test depends on timing.
 * The common tests run twice: with plain frames (insecure mode) and with a
 * cluster key (handshake and sealed frames); the tests after them speak the
 * handshake by hand (raft/tcp_auth.h) to play a forger, a replayer, a wrong
 * key or a staller. */
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
#include <sys/resource.h>
#include "common/le.h"
#include "raft/tcp_auth.h"
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
static const uint8_t key_a[32] = {0xa1, 0xa2, 0xa3, 0xa4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_b[32] = {0xb1, 0xb2, 0xb3, 0xb4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static bool secure_mode; /* the common tests' pass: with key_a, or plain */

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
	if (secure_mode) {
		c.n_keys = 1;
		memcpy(c.keys[0], key_a, 32);
	}
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
	connect_peers(f, 0, 1); /* host 2 does not know host 1, only host 9 at that address */
	assert_int_equal(raft_tcp_add_peer(f->t[1], 9, "127.0.0.1", 1), 0);
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
	assert_int_equal(raft_tcp_add_peer(f->t[1], 9, "127.0.0.1", 1), 0); /* the address is a peer's */
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

/* ---- the handshake and sealed frames, by hand ---- */

static int raw_connect(uint16_t port, const char *from_ip)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (from_ip != NULL) {
		struct sockaddr_in b = {.sin_family = AF_INET};
		inet_pton(AF_INET, from_ip, &b.sin_addr);
		assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads exactly len bytes from the non-blocking-free socket while running
 * the loop (the transport answers from the loop). Returns false on EOF. */
static bool raw_read(struct fx *f, int fd, uint8_t *b, size_t len)
{
	size_t got = 0;
	for (int i = 0; i < LOOP_ROUNDS && got < len; i++) {
		assert_int_equal(fl_eloop_run_once(f->el, 1 * FL_US_PER_MS), 0);
		ssize_t n = recv(fd, b + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n > 0)
			got += (size_t)n;
	}
	return got == len;
}

/* Plays host init_id's side of the handshake with key on fd. Returns 0
 * with *s ready, or the error of ta_reply_check (or -FL_EIO on EOF). */
static int raw_handshake(struct fx *f, int fd, const uint8_t *key, uint64_t init_id, uint64_t resp_id,
			 struct ta_session *s)
{
	struct ta_hs hs;
	struct ta_keys keys = {.n = 1};
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	memcpy(keys.key[0], key, 32);
	ta_hello_make(&hs, uuid_a, init_id, resp_id, hello);
	assert_int_equal(write(fd, hello, sizeof(hello)), (ssize_t)sizeof(hello));
	if (!raw_read(f, fd, reply, sizeof(reply)))
		return -FL_EIO;
	int rv = ta_reply_check(&hs, &keys, reply, finish, s);
	if (rv != 0) { /* a forger goes on with a FINISH it cannot make right */
		memset(finish, 0x5a, sizeof(finish));
		fl_put_le32(finish, TA_FINISH_MAGIC);
		fl_put_le16(finish + 4, TA_VERSION);
		fl_put_le16(finish + 6, TA_FINISH_BYTES);
		finish[8] = 0;
	}
	assert_int_equal(write(fd, finish, sizeof(finish)), (ssize_t)sizeof(finish));
	return rv;
}

static void secure_pair(struct fx *f, struct raft_tcp_config *c1)
{
	secure_mode = true;
	*c1 = config(f, 1, uuid_a, 0);
	start(f, 1, c1);
	assert_int_equal(raft_tcp_add_peer(f->t[1], 1, "127.0.0.1", 1), 0); /* host 1: address 127.0.0.1 */
}

static void a_peer_with_another_key_cannot_connect(void **state)
{
	struct fx *f = *state;
	secure_mode = true;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	memcpy(c0.keys[0], key_b, 32);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 7, 8);
	const struct raft_tcp_stats *s0 = raft_tcp_get_stats(f->t[0]), *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->rejected[RAFT_TCP_REJ_AUTH], 1);
	run_until(f, &s0->rejected[RAFT_TCP_REJ_AUTH], 1);
	assert_true(s0->rejected[RAFT_TCP_REJ_AUTH] >= 1); /* host 1 sees host 2 fail */
	assert_true(s1->rejected[RAFT_TCP_REJ_AUTH] >= 1); /* and host 2 sees host 1 fail */
	assert_int_equal(f->in[1].n, 0);
	assert_int_equal(s0->connects, 0);
	assert_false(raft_tcp_connected(f->t[0], 2));
}

/* A rotation: host 1 holds (old, new), host 2 already (new) only. */
static void hosts_that_share_the_next_key_connect_during_a_rotation(void **state)
{
	struct fx *f = *state;
	secure_mode = true;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	c0.n_keys = 2;
	memcpy(c0.keys[1], key_b, 32);
	memcpy(c1.keys[0], key_b, 32);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 1, 8);
	send_seq(f, 1, 0, 2, 8);
	run_until_n(f, &f->in[1], 1);
	run_until_n(f, &f->in[0], 1);
	assert_int_equal(f->in[1].seq[0], 1);
	assert_int_equal(f->in[0].seq[0], 2);
	assert_int_equal(raft_tcp_get_stats(f->t[1])->rejected[RAFT_TCP_REJ_AUTH], 0);
}

static void removing_a_key_closes_its_sessions_and_peers_reconnect_with_the_other(void **state)
{
	struct fx *f = *state;
	secure_mode = true;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	c0.n_keys = c1.n_keys = 2;
	memcpy(c0.keys[1], key_b, 32);
	memcpy(c1.keys[1], key_b, 32);
	start(f, 0, &c0);
	start(f, 1, &c1);
	connect_peers(f, 0, 1);
	connect_peers(f, 1, 0);
	send_seq(f, 0, 1, 1, 8);
	run_until_n(f, &f->in[1], 1);
	const uint8_t only_b[1][32] = {{0xb1, 0xb2, 0xb3, 0xb4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}};
	assert_int_equal(raft_tcp_set_keys(f->t[1], 1, only_b), 0); /* closes host 1's session (key a) */
	const struct raft_tcp_stats *s0 = raft_tcp_get_stats(f->t[0]);
	run_until(f, &s0->connects, 2);
	assert_int_equal(s0->connects, 2); /* back, with key b */
	send_seq(f, 0, 1, 2, 8);
	run_until_n(f, &f->in[1], 2);
	assert_int_equal(f->in[1].seq[1], 2);
}

static void a_forged_frame_is_rejected_and_counted(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c1;
	secure_pair(f, &c1);
	int fd = raw_connect(raft_tcp_port(f->t[1]), NULL);
	struct ta_session s;
	assert_int_equal(raw_handshake(f, fd, key_b, 1, 2, &s), -FL_EPERM); /* without the key: no session */
	close(fd);
	/* The attacker knows the uuid and speaks the old plain frame instead. */
	fd = raw_connect(raft_tcp_port(f->t[1]), NULL);
	uint8_t plain[RAFT_TCP_FRAME_HEADER_BYTES + 4] = {0};
	fl_put_le32(plain, RAFT_TCP_MAGIC);
	fl_put_le16(plain + 4, RAFT_TCP_VERSION);
	fl_put_le16(plain + 6, RAFT_TCP_FRAME_HEADER_BYTES);
	memcpy(plain + 8, uuid_a, 16);
	fl_put_le64(plain + 24, 1);
	fl_put_le64(plain + 32, 2);
	fl_put_le32(plain + 40, 4);
	assert_int_equal(write(fd, plain, sizeof(plain)), (ssize_t)sizeof(plain));
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->rejected[RAFT_TCP_REJ_HANDSHAKE], 1);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_HANDSHAKE], 1);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_AUTH], 1);
	assert_int_equal(f->in[1].n, 0);
	close(fd);
}

static void a_replayed_or_altered_frame_is_rejected_and_counted(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c1;
	secure_pair(f, &c1);
	int fd = raw_connect(raft_tcp_port(f->t[1]), NULL);
	struct ta_session s;
	assert_int_equal(raw_handshake(f, fd, key_a, 1, 2, &s), 0);
	uint8_t payload[8] = {9, 0, 0, 0, 1, 2, 3, 4}, wire[4 + 8 + 16];
	ta_seal(&s, payload, sizeof(payload), wire);
	assert_int_equal(write(fd, wire, sizeof(wire)), (ssize_t)sizeof(wire));
	run_until_n(f, &f->in[1], 1);
	assert_int_equal(f->in[1].n, 1);
	assert_int_equal(f->in[1].seq[0], 9);
	assert_int_equal(write(fd, wire, sizeof(wire)), (ssize_t)sizeof(wire)); /* the same bytes again */
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->rejected[RAFT_TCP_REJ_FRAME], 1);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_FRAME], 1);
	assert_int_equal(f->in[1].n, 1);
	uint8_t c;
	assert_false(raw_read(f, fd, &c, 1)); /* and the connection is gone */
	close(fd);
	/* A new session: one flipped bit in a frame. */
	fd = raw_connect(raft_tcp_port(f->t[1]), NULL);
	assert_int_equal(raw_handshake(f, fd, key_a, 1, 2, &s), 0);
	ta_seal(&s, payload, sizeof(payload), wire);
	wire[6] ^= 1;
	assert_int_equal(write(fd, wire, sizeof(wire)), (ssize_t)sizeof(wire));
	run_until(f, &s1->rejected[RAFT_TCP_REJ_FRAME], 2);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_FRAME], 2);
	assert_int_equal(f->in[1].n, 1);
	close(fd);
}

static void a_handshake_claiming_an_id_at_another_address_is_refused(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c1;
	secure_pair(f, &c1);
	assert_int_equal(raft_tcp_add_peer(f->t[1], 3, "127.0.0.3", 1), 0);
	int fd = raw_connect(raft_tcp_port(f->t[1]), "127.0.0.1"); /* claims host 3 from 127.0.0.1 */
	struct ta_session s;
	assert_int_equal(raw_handshake(f, fd, key_a, 3, 2, &s), -FL_EIO);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_ADDRESS], 1);
	close(fd);
	fd = raw_connect(raft_tcp_port(f->t[1]), "127.0.0.9"); /* no peer lives there */
	uint8_t c;
	assert_false(raw_read(f, fd, &c, 1));
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_ADDRESS], 2);
	close(fd);
}

static void a_stalled_handshake_and_a_stalled_frame_are_dropped_at_their_deadlines(void **state)
{
	struct fx *f = *state;
	secure_mode = true;
	struct raft_tcp_config c1 = config(f, 1, uuid_a, 0);
	c1.handshake_timeout_us = 30 * FL_US_PER_MS;
	c1.frame_timeout_us = 30 * FL_US_PER_MS;
	start(f, 1, &c1);
	assert_int_equal(raft_tcp_add_peer(f->t[1], 1, "127.0.0.1", 1), 0);
	int idle = raw_connect(raft_tcp_port(f->t[1]), NULL);
	uint8_t half[TA_HELLO_BYTES / 2] = {0x46, 0x4c, 0x48, 0x53};
	int slow = raw_connect(raft_tcp_port(f->t[1]), NULL);
	assert_int_equal(write(slow, half, sizeof(half)), (ssize_t)sizeof(half));
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->rejected[RAFT_TCP_REJ_TIMEOUT], 2);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_TIMEOUT], 2);
	int fd = raw_connect(raft_tcp_port(f->t[1]), NULL);
	struct ta_session s;
	assert_int_equal(raw_handshake(f, fd, key_a, 1, 2, &s), 0);
	uint8_t hdr[4];
	fl_put_le32(hdr, 60000); /* announces a frame, then sends nothing more */
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	run_until(f, &s1->rejected[RAFT_TCP_REJ_TIMEOUT], 3);
	assert_int_equal(s1->rejected[RAFT_TCP_REJ_TIMEOUT], 3);
	close(idle);
	close(slow);
	close(fd);
}

/* 100 connections that never authenticate: the pool evicts its oldest, and
 * the real peer connects and delivers as if they were not there. */
static void unauthenticated_connections_never_keep_a_peer_out(void **state)
{
	struct fx *f = *state;
	secure_mode = true;
	struct raft_tcp_config c0 = config(f, 0, uuid_a, 0), c1 = config(f, 1, uuid_a, 0);
	start(f, 1, &c1);
	assert_int_equal(raft_tcp_add_peer(f->t[1], 1, "127.0.0.1", 1), 0);
	int fds[100];
	for (int i = 0; i < 100; i++) {
		fds[i] = raw_connect(raft_tcp_port(f->t[1]), NULL);
		(void)fl_eloop_run_once(f->el, 0);
	}
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	run_until(f, &s1->accepts, 100);
	assert_int_equal(s1->accepts, 100);
	assert_true(s1->rejected[RAFT_TCP_REJ_EVICTED] >= 100 - 8); /* 8 per address stay */
	start(f, 0, &c0);
	connect_peers(f, 0, 1);
	send_seq(f, 0, 1, 5, 8);
	run_until_n(f, &f->in[1], 1);
	assert_int_equal(f->in[1].n, 1);
	assert_int_equal(f->in[1].seq[0], 5);
	for (int i = 0; i < 100; i++)
		close(fds[i]);
}

/* A peer in the middle of its handshake (HELLO sent, REPLY read) while 100
 * silent connections from its own address arrive: the silent ones are
 * evicted, never the peer's, and its FINISH still authenticates it. */
static void a_handshake_in_progress_is_evicted_after_every_silent_connection(void **state)
{
	struct fx *f = *state;
	struct raft_tcp_config c1;
	secure_pair(f, &c1);
	const struct raft_tcp_stats *s1 = raft_tcp_get_stats(f->t[1]);
	struct ta_hs hs;
	struct ta_keys keys = {.n = 1};
	struct ta_session sess;
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	memcpy(keys.key[0], key_a, 32);
	int peer = raw_connect(raft_tcp_port(f->t[1]), NULL);
	ta_hello_make(&hs, uuid_a, 1, 2, hello);
	assert_int_equal(write(peer, hello, sizeof(hello)), (ssize_t)sizeof(hello));
	assert_true(raw_read(f, peer, reply, sizeof(reply)));
	int fds[100];
	for (int i = 0; i < 100; i++) {
		fds[i] = raw_connect(raft_tcp_port(f->t[1]), NULL);
		(void)fl_eloop_run_once(f->el, 0);
	}
	run_until(f, &s1->accepts, 101);
	assert_int_equal(s1->accepts, 101);
	assert_true(s1->rejected[RAFT_TCP_REJ_EVICTED] >= 100 - 7); /* the address's share is 8, the peer's one of them */
	assert_int_equal(ta_reply_check(&hs, &keys, reply, finish, &sess), 0);
	assert_int_equal(write(peer, finish, sizeof(finish)), (ssize_t)sizeof(finish));
	run_until(f, &s1->handshakes, 1);
	assert_int_equal(s1->handshakes, 1);
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	close(peer);
}

/* ---- tcp_auth, without sockets ---- */

static void handshake(const struct ta_keys *ki, const struct ta_keys *kr, struct ta_session *si,
		      struct ta_session *sr, int *rv_i, int *rv_r)
{
	struct ta_hs hi, hr;
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	uint64_t from = 0;
	ta_hello_make(&hi, uuid_a, 1, 2, hello);
	assert_int_equal(ta_hello_check(hello, uuid_a, 2, &from), 0);
	assert_int_equal(from, 1);
	ta_reply_make(&hr, kr, hello, reply);
	*rv_i = ta_reply_check(&hi, ki, reply, finish, si);
	*rv_r = *rv_i == 0 ? ta_finish_check(&hr, kr, finish, sr) : *rv_i;
}

static void the_handshake_gives_both_sides_matching_session_keys(void **state)
{
	(void)state;
	assert_int_equal(ta_init(), 0);
	struct ta_keys k = {.n = 1};
	memcpy(k.key[0], key_a, 32);
	struct ta_session si, sr;
	int ri, rr;
	handshake(&k, &k, &si, &sr, &ri, &rr);
	assert_int_equal(ri, 0);
	assert_int_equal(rr, 0);
	assert_memory_equal(si.tx, sr.rx, 32);
	assert_memory_equal(si.rx, sr.tx, 32);
	assert_memory_not_equal(si.tx, si.rx, 32); /* one key per direction */
	assert_memory_not_equal(si.tx, key_a, 32);
	struct ta_session si2, sr2;
	handshake(&k, &k, &si2, &sr2, &ri, &rr);
	assert_memory_not_equal(si.tx, si2.tx, 32); /* fresh per connection */
}

static void a_hello_of_another_cluster_or_for_another_host_is_refused(void **state)
{
	(void)state;
	struct ta_hs h;
	uint8_t hello[TA_HELLO_BYTES];
	uint64_t from;
	ta_hello_make(&h, uuid_a, 1, 2, hello);
	assert_int_equal(ta_hello_check(hello, uuid_b, 2, &from), -FL_EFOREIGN);
	assert_int_equal(ta_hello_check(hello, uuid_a, 3, &from), -FL_EFOREIGN);
	hello[0] ^= 1;
	assert_int_equal(ta_hello_check(hello, uuid_a, 2, &from), -FL_EMAGIC);
}

static void a_reply_or_finish_under_another_key_or_altered_ids_fails(void **state)
{
	(void)state;
	struct ta_keys ka = {.n = 1}, kb = {.n = 1};
	memcpy(ka.key[0], key_a, 32);
	memcpy(kb.key[0], key_b, 32);
	struct ta_session si, sr;
	int ri, rr;
	handshake(&ka, &kb, &si, &sr, &ri, &rr);
	assert_int_equal(ri, -FL_EPERM);
	/* A man in the middle rewrites the initiator id in HELLO. */
	struct ta_hs hi, hr;
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	ta_hello_make(&hi, uuid_a, 1, 2, hello);
	fl_put_le64(hello + 24, 3);
	ta_reply_make(&hr, &ka, hello, reply);
	assert_int_equal(ta_reply_check(&hi, &ka, reply, finish, &si), -FL_EPERM);
	/* A FINISH whose MAC was altered. */
	ta_hello_make(&hi, uuid_a, 1, 2, hello);
	ta_reply_make(&hr, &ka, hello, reply);
	assert_int_equal(ta_reply_check(&hi, &ka, reply, finish, &si), 0);
	finish[20] ^= 0x80;
	assert_int_equal(ta_finish_check(&hr, &ka, finish, &sr), -FL_EPERM);
}

static void during_a_rotation_any_shared_key_is_chosen(void **state)
{
	(void)state;
	struct ta_keys old_new = {.n = 2}, new_only = {.n = 1}, new_old = {.n = 2};
	memcpy(old_new.key[0], key_a, 32);
	memcpy(old_new.key[1], key_b, 32);
	memcpy(new_only.key[0], key_b, 32);
	memcpy(new_old.key[0], key_b, 32);
	memcpy(new_old.key[1], key_a, 32);
	struct ta_session si, sr;
	int ri, rr;
	handshake(&old_new, &new_only, &si, &sr, &ri, &rr);
	assert_int_equal(rr, 0);
	assert_memory_equal(si.tx, sr.rx, 32);
	handshake(&new_only, &old_new, &si, &sr, &ri, &rr);
	assert_int_equal(rr, 0);
	handshake(&old_new, &new_old, &si, &sr, &ri, &rr);
	assert_int_equal(rr, 0);
	assert_memory_equal(si.key_id, sr.key_id, TA_KEY_ID_BYTES); /* both took the initiator's current */
	uint8_t id_a[TA_KEY_ID_BYTES];
	ta_key_id(key_a, id_a);
	assert_memory_equal(si.key_id, id_a, TA_KEY_ID_BYTES);
}

static void sealed_frames_open_once_and_in_order_only(void **state)
{
	(void)state;
	struct ta_keys k = {.n = 1};
	memcpy(k.key[0], key_a, 32);
	struct ta_session si, sr;
	int ri, rr;
	handshake(&k, &k, &si, &sr, &ri, &rr);
	uint8_t m1[5] = "one!", m2[5] = "two!", w1[4 + 5 + 16], w2[4 + 5 + 16], buf[5 + 16];
	ta_seal(&si, m1, 5, w1);
	ta_seal(&si, m2, 5, w2);
	assert_int_equal(ta_frame_len(w2, 1024), 5 + 16);
	assert_int_equal(ta_frame_len(w2, 4), -FL_EINVAL);
	memcpy(buf, w2 + 4, sizeof(buf));
	assert_int_equal(ta_open(&sr, w2, buf, sizeof(buf)), -FL_EPERM); /* reordered */
	memcpy(buf, w1 + 4, sizeof(buf));
	assert_int_equal(ta_open(&sr, w1, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, "one!", 5);
	memcpy(buf, w1 + 4, sizeof(buf));
	assert_int_equal(ta_open(&sr, w1, buf, sizeof(buf)), -FL_EPERM); /* replayed */
	memcpy(buf, w2 + 4, sizeof(buf));
	uint8_t hdr[4];
	memcpy(hdr, w2, 4);
	hdr[0] ^= 1; /* the length is authenticated too */
	assert_int_equal(ta_open(&sr, hdr, buf, sizeof(buf)), -FL_EPERM);
	memcpy(buf, w2 + 4, sizeof(buf));
	assert_int_equal(ta_open(&sr, w2, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, "two!", 5);
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
	const struct CMUnitTest secure_tests[] = {
		T(a_peer_with_another_key_cannot_connect),
		T(hosts_that_share_the_next_key_connect_during_a_rotation),
		T(removing_a_key_closes_its_sessions_and_peers_reconnect_with_the_other),
		T(a_forged_frame_is_rejected_and_counted),
		T(a_replayed_or_altered_frame_is_rejected_and_counted),
		T(a_handshake_claiming_an_id_at_another_address_is_refused),
		T(a_stalled_handshake_and_a_stalled_frame_are_dropped_at_their_deadlines),
		T(unauthenticated_connections_never_keep_a_peer_out),
		T(a_handshake_in_progress_is_evicted_after_every_silent_connection),
		cmocka_unit_test(the_handshake_gives_both_sides_matching_session_keys),
		cmocka_unit_test(a_hello_of_another_cluster_or_for_another_host_is_refused),
		cmocka_unit_test(a_reply_or_finish_under_another_key_or_altered_ids_fails),
		cmocka_unit_test(during_a_rotation_any_shared_key_is_chosen),
		cmocka_unit_test(sealed_frames_open_once_and_in_order_only),
	};
#undef T
	int failed = cmocka_run_group_tests_name("plain frames", tests, NULL, NULL);
	secure_mode = true;
	failed += cmocka_run_group_tests_name("with a cluster key", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("handshake and sealed frames", secure_tests, NULL, NULL);
	return failed;
}
