/* Unit tests of the node driver: three real nodes in one process on one epoll
 * loop, each with a file log store in a scratch directory (fsync off for
 * speed) and a TCP transport on 127.0.0.1. Short timeouts (E = 150 ms) keep
 * the run brief; every wait is "until the condition holds", bounded by a
 * round count that a working build never reaches. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/node.h"

#define N 3
#define ROUNDS 3000 /* x at most 10 ms */

struct host {
	int idx;
	struct raft_tcp *tcp;
	struct raft_node *node;
	char dir[64];
	int started;
	uint64_t applied_normal;
	uint64_t last_applied;
	uint32_t last_value;
	int restores;
	struct raft_mem_disk *disk; /* mem-store clusters only */
};

struct cluster {
	struct fl_eloop *el;
	struct host h[N + 1]; /* h[N]: a server that joins later */
	struct raft_config conf;
	uint8_t uuid[16];
	bool use_mem;
};

static void quiet_sink(void *ctx, int level, const char *msg) { (void)ctx; (void)level; (void)msg; }

static void deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct host *h = arg;
	if (h->node != NULL)
		raft_node_receive(h->node, from, payload, len);
}

static void on_started(void *arg, struct raft_node *n, int result)
{
	struct host *h = arg;
	(void)n;
	assert_int_equal(result, 0);
	h->started = 1;
}

static void on_apply(void *arg, struct raft_node *n, const struct raft_entry *e)
{
	struct host *h = arg;
	(void)n;
	assert_true(e->index > h->last_applied);
	h->last_applied = e->index;
	if (e->type == RAFT_ENTRY_NORMAL) {
		h->applied_normal++;
		assert_int_equal(e->len, 4);
		memcpy(&h->last_value, e->data, 4);
	}
}

static void on_restore(void *arg, struct raft_node *n, const struct raft_snapshot *s)
{
	struct host *h = arg;
	(void)n;
	h->restores++;
	h->last_applied = s->index;
}

static void start_node(struct cluster *c, int i)
{
	struct host *h = &c->h[i];
	struct raft_logstore *s;
	char err[256];
	struct raft_logstore_file_opts so = {.queue_max = RAFT_NODE_STORE_QUEUE_MIN, .no_sync = true};
	struct raft_logstore_mem_opts mo = {.latency_us = 100, .queue_max = RAFT_NODE_STORE_QUEUE_MIN};
	if (c->use_mem)
		assert_int_equal(raft_logstore_mem_open(fl_eloop_loop(c->el), h->disk, &mo, &s), 0);
	else
		assert_int_equal(raft_logstore_file_open(c->el, h->dir, &so, &s, err, sizeof(err)), 0);
	struct raft_node_config nc = {.loop = fl_eloop_loop(c->el), .store = s,
				      .transport = raft_tcp_transport(h->tcp), .bootstrap = i < N ? &c->conf : NULL};
	raft_options_default(&nc.opt, (uint64_t)i + 1, 77 + (uint64_t)i);
	nc.opt.election_timeout_us = 150 * FL_US_PER_MS;
	nc.opt.heartbeat_us = 30 * FL_US_PER_MS;
	nc.opt.lease_margin_us = 10 * FL_US_PER_MS;
	nc.opt.snapshot_trailing = 2;
	nc.app = (struct raft_node_app){.started = on_started, .apply = on_apply, .restore = on_restore, .arg = h};
	h->started = 0;
	h->last_applied = 0;
	h->applied_normal = 0;
	assert_int_equal(raft_node_new(&nc, &h->node), 0);
}

static int setup_any(void **state, bool use_mem)
{
	static struct cluster c;
	memset(&c, 0, sizeof(c));
	c.use_mem = use_mem;
	fl_log_set_sink(quiet_sink, NULL);
	c.el = fl_eloop_new();
	assert_non_null(c.el);
	c.conf.n = N;
	for (int i = 0; i < N; i++) {
		struct host *h = &c.h[i];
		h->idx = i;
		h->disk = raft_mem_disk_new();
		snprintf(h->dir, sizeof(h->dir), "/tmp/fl-test-node-XXXXXX");
		assert_non_null(mkdtemp(h->dir));
		c.conf.servers[i] = (struct raft_server){.id = (uint64_t)i + 1, .role = RAFT_VOTER};
		struct raft_tcp_config tc = {.self_id = (uint64_t)i + 1, .listen_addr = "127.0.0.1",
					     .backoff_min_us = 1000, .backoff_max_us = 10000,
					     .deliver = deliver, .deliver_arg = h};
		assert_int_equal(raft_tcp_new(c.el, &tc, &h->tcp, NULL, 0), 0);
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (i != j)
				assert_int_equal(raft_tcp_add_peer(c.h[i].tcp, (uint64_t)j + 1, "127.0.0.1",
								   raft_tcp_port(c.h[j].tcp)), 0);
	for (int i = 0; i < N; i++)
		start_node(&c, i);
	*state = &c;
	return 0;
}

static int setup(void **state) { return setup_any(state, false); }
static int setup_mem(void **state) { return setup_any(state, true); }

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i <= N; i++) {
		raft_node_free(c->h[i].node);
		raft_tcp_free(c->h[i].tcp);
		raft_mem_disk_free(c->h[i].disk);
		rm_dir(c->h[i].dir);
	}
	fl_eloop_free(c->el);
	fl_log_set_sink(NULL, NULL);
	return 0;
}

static int leader_of(struct cluster *c)
{
	for (int i = 0; i < N; i++) {
		struct raft *r = c->h[i].node != NULL ? raft_node_core(c->h[i].node) : NULL;
		if (r != NULL && raft_state(r) == RAFT_LEADER)
			return i;
	}
	return -1;
}

static int wait_leader(struct cluster *c)
{
	for (int k = 0; k < ROUNDS && leader_of(c) < 0; k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	return leader_of(c);
}

static bool all_applied(struct cluster *c, uint64_t want)
{
	for (int i = 0; i < N; i++)
		if (c->h[i].node == NULL || c->h[i].applied_normal < want)
			return false;
	return true;
}

/* Proposes values first..first+n-1 on the current leader, retrying while
 * leadership settles, then waits until every host applied them. */
static void propose_and_wait(struct cluster *c, uint32_t first, uint32_t n, uint64_t want_total)
{
	for (uint32_t v = first; v < first + n; v++) {
		uint64_t index;
		int rv = -1;
		for (int k = 0; k < ROUNDS && rv != 0; k++) {
			int l = wait_leader(c);
			assert_true(l >= 0);
			rv = raft_node_propose(c->h[l].node, &v, sizeof(v), &index);
			if (rv != 0)
				assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
		}
		assert_int_equal(rv, 0);
	}
	for (int k = 0; k < ROUNDS && !all_applied(c, want_total); k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_true(all_applied(c, want_total));
}

static void a_cluster_elects_a_leader_and_applies_a_proposal_everywhere(void **state)
{
	struct cluster *c = *state;
	int l = wait_leader(c);
	assert_true(l >= 0);
	propose_and_wait(c, 100, 1, 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(c->h[i].last_value, 100);
	assert_int_equal(raft_node_failed(c->h[l].node), 0);
	assert_true(raft_node_store(c->h[l].node)->stats.entries_appended >= 2); /* no-op + proposal */
}

static void a_follower_proposal_is_refused_as_not_leader(void **state)
{
	struct cluster *c = *state;
	int l = wait_leader(c);
	assert_true(l >= 0);
	uint32_t v = 1;
	uint64_t index;
	assert_int_equal(raft_node_propose(c->h[(l + 1) % N].node, &v, sizeof(v), &index), -FL_ENOTLEADER);
}

static void a_restarted_follower_reloads_its_log_and_catches_up(void **state)
{
	struct cluster *c = *state;
	propose_and_wait(c, 1, 5, 5);
	int f = (leader_of(c) + 1) % N;
	raft_node_free(c->h[f].node);
	c->h[f].node = NULL;
	start_node(c, f);
	propose_and_wait(c, 6, 5, 10);
	assert_int_equal(c->h[f].last_value, 10);
}

static void a_snapshot_is_stored_and_loaded_at_restart(void **state)
{
	struct cluster *c = *state;
	propose_and_wait(c, 1, 6, 6);
	int f = (leader_of(c) + 1) % N;
	struct raft *r = raft_node_core(c->h[f].node);
	uint64_t upto = raft_applied_index(r);
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(raft_node_snapshot(c->h[f].node, upto, data, sizeof(data)), 0);
	for (int k = 0; k < ROUNDS && raft_snapshot_index(r) != upto; k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(raft_snapshot_index(r), upto);
	raft_node_free(c->h[f].node);
	c->h[f].restores = 0;
	start_node(c, f);
	for (int k = 0; k < ROUNDS && !c->h[f].started; k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(c->h[f].restores, 1);
	assert_int_equal(raft_snapshot_index(raft_node_core(c->h[f].node)), upto);
	propose_and_wait(c, 7, 1, 1);
	assert_int_equal(c->h[f].last_value, 7);
}

static void a_leadership_transfer_moves_the_leader_to_the_target(void **state)
{
	struct cluster *c = *state;
	propose_and_wait(c, 1, 1, 1);
	int l = leader_of(c), target = (l + 1) % N;
	assert_int_equal(raft_node_transfer(c->h[l].node, (uint64_t)target + 1), 0);
	for (int k = 0; k < ROUNDS && leader_of(c) != target; k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(leader_of(c), target);
	propose_and_wait(c, 2, 1, 2);
}

/* Creates host N (id N + 1), known to every transport, with an empty state
 * directory and no bootstrap configuration: it learns all from the leader. */
static void add_host(struct cluster *c)
{
	struct host *h = &c->h[N];
	h->idx = N;
	h->disk = raft_mem_disk_new();
	snprintf(h->dir, sizeof(h->dir), "/tmp/fl-test-node-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	struct raft_tcp_config tc = {.self_id = N + 1, .listen_addr = "127.0.0.1", .backoff_min_us = 1000,
				     .backoff_max_us = 10000, .deliver = deliver, .deliver_arg = h};
	assert_int_equal(raft_tcp_new(c->el, &tc, &h->tcp, NULL, 0), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(raft_tcp_add_peer(h->tcp, (uint64_t)i + 1, "127.0.0.1", raft_tcp_port(c->h[i].tcp)), 0);
		assert_int_equal(raft_tcp_add_peer(c->h[i].tcp, N + 1, "127.0.0.1", raft_tcp_port(h->tcp)), 0);
	}
	start_node(c, N);
}

static bool is_voter(struct cluster *c, int host, uint64_t id)
{
	uint64_t index;
	const struct raft_config *conf = raft_configuration(raft_node_core(c->h[host].node), &index);
	int k = raft_config_find(conf, id);
	return k >= 0 && conf->servers[k].role == RAFT_VOTER && raft_commit_index(raft_node_core(c->h[host].node)) >= index;
}

static void a_new_server_joins_as_learner_catches_up_and_is_promoted(void **state)
{
	struct cluster *c = *state;
	propose_and_wait(c, 1, 3, 3);
	add_host(c);
	int l = leader_of(c);
	assert_int_equal(raft_node_add(c->h[l].node, N + 1), 0);
	for (int k = 0; k < ROUNDS && c->h[N].applied_normal < 3; k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(c->h[N].applied_normal, 3);
	assert_false(is_voter(c, l, N + 1));
	int rv = -FL_EBUSY;
	for (int k = 0; k < ROUNDS && rv == -FL_EBUSY; k++) {
		rv = raft_node_promote(c->h[l].node, N + 1);
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	}
	assert_true(rv == 0 || rv == -FL_EAGAIN);
	for (int k = 0; k < ROUNDS && !is_voter(c, l, N + 1); k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_true(is_voter(c, l, N + 1));
	propose_and_wait(c, 4, 1, 4);
	for (int k = 0; k < ROUNDS && c->h[N].last_value != 4; k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_int_equal(c->h[N].last_value, 4);
}

/* hashicorp/raft #503: a leader whose disk hangs must not hold the cluster.
 * The driver keeps the loop running; the core steps down once its oldest
 * write is older than E, and the others elect a new leader. */
static void a_leader_whose_store_hangs_steps_down_and_another_is_elected(void **state)
{
	struct cluster *c = *state;
	propose_and_wait(c, 1, 1, 1);
	int l = leader_of(c);
	raft_logstore_mem_set_hung(raft_node_store(c->h[l].node), true);
	uint32_t v = 2;
	uint64_t index;
	assert_int_equal(raft_node_propose(c->h[l].node, &v, sizeof(v), &index), 0);
	struct raft *old = raft_node_core(c->h[l].node);
	for (int k = 0; k < ROUNDS && (raft_state(old) == RAFT_LEADER || leader_of(c) < 0); k++)
		assert_int_equal(fl_eloop_run_once(c->el, 10 * FL_US_PER_MS), 0);
	assert_int_not_equal(raft_state(old), RAFT_LEADER);
	assert_true(leader_of(c) >= 0);
	assert_int_not_equal(leader_of(c), l);
	assert_true(raft_logstore_oldest_pending_us(raft_node_store(c->h[l].node)) != FL_TIME_NEVER);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(a_cluster_elects_a_leader_and_applies_a_proposal_everywhere),
		T(a_follower_proposal_is_refused_as_not_leader),
		T(a_restarted_follower_reloads_its_log_and_catches_up),
		T(a_snapshot_is_stored_and_loaded_at_restart),
		T(a_leadership_transfer_moves_the_leader_to_the_target),
		T(a_new_server_joins_as_learner_catches_up_and_is_promoted),
		cmocka_unit_test_setup_teardown(a_leader_whose_store_hangs_steps_down_and_another_is_elected,
						setup_mem, teardown),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
