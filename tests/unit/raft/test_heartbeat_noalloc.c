/* The Raft heartbeat path allocates nothing once warmed up: three real Raft
 * nodes (raft/node.c over in-memory log stores) talk over the real TCP
 * transport on 127.0.0.1 with a cluster key (handshake, sealed frames), on
 * the real epoll loop, and elect a leader; then, with no proposal, the
 * leader's heartbeats and the followers' answers run for a second while
 * every malloc, calloc, realloc, posix_memalign and aligned_alloc of the
 * project's code is counted (tests/unit/alloc_count.h; the Makefile links
 * this test with ALLOC_WRAP). A window in which the term changed (an
 * election on a loaded machine) is measured again, at most three times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_count.h"
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/logstore.h"
#include "raft/node.h"
#include "raft/transport.h"

#define N 3
#define HEARTBEAT_US (50u * FL_US_PER_MS)
#define ELECTION_US (1000u * FL_US_PER_MS)

static const uint8_t uuid[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
static const uint8_t key[32] = {0x4b, 0x45, 0x59, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct member {
	struct raft_tcp *tcp;
	struct raft_mem_disk *disk;
	struct raft_node *node;
	bool started;
	uint64_t leader;
};

static struct member m[N];

static void deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct member *x = arg;
	if (x->node != NULL)
		raft_node_receive(x->node, from, payload, len);
}

static void on_started(void *arg, struct raft_node *n, int result)
{
	struct member *x = arg;
	(void)n;
	assert_int_equal(result, 0);
	x->started = true;
}

static void on_apply(void *arg, struct raft_node *n, const struct raft_entry *e)
{
	(void)arg;
	(void)n;
	(void)e;
}

static void on_state(void *arg, struct raft_node *n, uint8_t state, uint64_t term, uint64_t leader)
{
	struct member *x = arg;
	(void)n;
	(void)state;
	(void)term;
	x->leader = leader;
}

static void quiet(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static void start_transports(struct fl_eloop *el)
{
	for (int i = 0; i < N; i++) {
		struct raft_tcp_config c = {.self_id = (uint64_t)i + 1,
					    .listen_addr = "127.0.0.1",
					    .backoff_min_us = 5 * FL_US_PER_MS,
					    .backoff_max_us = HEARTBEAT_US / 2,
					    .deliver = deliver,
					    .deliver_arg = &m[i],
					    .n_keys = 1};
		memcpy(c.cluster_uuid, uuid, 16);
		memcpy(c.keys[0], key, 32);
		char err[256];
		if (raft_tcp_new(el, &c, &m[i].tcp, err, sizeof(err)) != 0)
			fail_msg("raft_tcp_new: %s", err);
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (i != j)
				assert_int_equal(
					raft_tcp_add_peer(m[i].tcp, (uint64_t)j + 1, "127.0.0.1", raft_tcp_port(m[j].tcp)),
					0);
}

static void start_nodes(struct fl_eloop *el)
{
	static struct raft_config conf;
	conf.n = 0;
	for (int i = 0; i < N; i++)
		conf.servers[conf.n++] = (struct raft_server){.id = (uint64_t)i + 1, .role = RAFT_VOTER};
	for (int i = 0; i < N; i++) {
		struct raft_logstore *store = NULL;
		struct raft_logstore_mem_opts so = {.queue_max = RAFT_NODE_STORE_QUEUE_MIN};
		m[i].disk = raft_mem_disk_new();
		assert_non_null(m[i].disk);
		assert_int_equal(raft_logstore_mem_open(fl_eloop_loop(el), m[i].disk, &so, &store), 0);
		struct raft_node_config nc = {.loop = fl_eloop_loop(el),
					      .store = store,
					      .transport = raft_tcp_transport(m[i].tcp),
					      .bootstrap = &conf};
		raft_options_default(&nc.opt, (uint64_t)i + 1, 42u + (uint64_t)i);
		nc.opt.heartbeat_us = HEARTBEAT_US;
		nc.opt.election_timeout_us = ELECTION_US;
		nc.app = (struct raft_node_app){
			.started = on_started, .apply = on_apply, .state = on_state, .arg = &m[i]};
		assert_int_equal(raft_node_new(&nc, &m[i].node), 0);
	}
}

/* Runs the loop for us of real time. */
static void run_for(struct fl_eloop *el, uint64_t us)
{
	uint64_t end = fl_monotonic_us() + us;
	while (fl_monotonic_us() < end)
		assert_int_equal(fl_eloop_run_once(el, 5 * FL_US_PER_MS), 0);
}

static bool agreed_leader(void)
{
	for (int i = 0; i < N; i++)
		if (!m[i].started || m[i].leader == 0 || m[i].leader != m[0].leader)
			return false;
	return true;
}

static uint64_t terms(void)
{
	uint64_t sum = 0;
	for (int i = 0; i < N; i++)
		sum += raft_term(raft_node_core(m[i].node));
	return sum;
}

static void heartbeats_allocate_nothing_after_warm_up(void **state)
{
	(void)state;
	if (getenv("NOALLOC_LOG") == NULL)
		fl_log_set_sink(quiet, NULL);
	struct fl_eloop *el = fl_eloop_new();
	assert_non_null(el);
	memset(m, 0, sizeof(m));
	start_transports(el);
	start_nodes(el);
	uint64_t end = fl_monotonic_us() + 20 * FL_US_PER_S;
	while (!agreed_leader() && fl_monotonic_us() < end)
		assert_int_equal(fl_eloop_run_once(el, 5 * FL_US_PER_MS), 0);
	assert_true(agreed_leader());
	uint64_t leader = m[0].leader;
	run_for(el, 500 * FL_US_PER_MS); /* warm-up: connections, buffers, frame pools */

	unsigned allocs = 0;
	uint64_t sent = 0;
	bool stable = false;
	for (int attempt = 0; attempt < 3 && !stable; attempt++) {
		uint64_t t0 = terms();
		const struct raft_tcp_stats *s = raft_tcp_get_stats(m[leader - 1].tcp);
		uint64_t f0 = s->frames_sent;
		alloc_count_start();
		run_for(el, FL_US_PER_S);
		allocs = alloc_count_stop();
		sent = s->frames_sent - f0;
		stable = terms() == t0 && agreed_leader();
	}
	assert_true(stable);
	/* Heartbeats did run: one per follower per period, and their answers. */
	assert_true(sent >= (N - 1) * (FL_US_PER_S / HEARTBEAT_US) / 2);
	print_message("%u allocations in 1 s of heartbeats (%llu frames sent by the leader)\n", allocs,
		      (unsigned long long)sent);
	if (allocs != 0)
		fail_msg("%u allocations on the heartbeat path (want 0)", allocs);
	for (int i = 0; i < N; i++) {
		raft_node_free(m[i].node);
		raft_tcp_free(m[i].tcp);
		raft_mem_disk_free(m[i].disk);
	}
	fl_eloop_free(el);
	fl_log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heartbeats_allocate_nothing_after_warm_up),
	};
	return cmocka_run_group_tests_name("heartbeat_noalloc", tests, NULL, NULL);
}
