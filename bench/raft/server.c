/* fl-raft-bench-server: one fencelock Raft member for the benchmark
 * (scripts/bench-raft.sh). It runs the real stack, raft/node.c over
 * logstore_file.c with fsync on and the TCP transport on 127.0.0.1, and
 * serves a tiny binary client protocol on a second loopback port:
 *   request  u32 length, u8 op, body         (little-endian)
 *     op 1 PUT     u64 request id, value bytes: proposed as one entry;
 *                  answered once the leader applied it (committed)
 *     op 2 STATUS  no body
 *   reply    u32 length, u8 op, body
 *     PUT     u8 status (0 ok, 1 not leader, 2 failed), u64 request id, u64 leader
 *     STATUS  u8 state, u64 term, u64 leader, u64 id, u32 pid, u64 commit
 * Client connections and outstanding puts are bounded (BENCH_MAX_CLIENTS,
 * BENCH_MAX_PENDING); over either bound the request is refused, not queued. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/node.h"
#include "common/version.h"

#define BENCH_MAX_CLIENTS 256u
#define BENCH_MAX_PENDING 8192u
#define BENCH_IN_BYTES 65536u
#define BENCH_MAX_PEERS 8u

struct bclient {
	int fd;
	uint32_t gen;
	uint32_t in_len;
	uint8_t in[BENCH_IN_BYTES];
};

struct bpending {
	uint64_t index, term, req_id;
	uint32_t slot, gen;
};

struct server {
	struct fl_eloop *el;
	struct raft_tcp *tcp;
	struct raft_node *node;
	uint64_t id;
	int listen_fd;
	struct bclient *clients[BENCH_MAX_CLIENTS];
	uint32_t next_gen;
	struct bpending pending[BENCH_MAX_PENDING];
	uint32_t p_head, p_n;
};

static volatile bool stop_flag;

static void on_signal(int sig) { (void)sig; stop_flag = true; }

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* x86-64/arm64: little-endian */
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void client_close(struct server *s, uint32_t slot)
{
	struct bclient *c = s->clients[slot];
	fl_eloop_del_fd(s->el, c->fd);
	close(c->fd);
	free(c);
	s->clients[slot] = NULL;
}

/* Replies are tiny; a client that does not read them is dropped. */
static void client_send(struct server *s, uint32_t slot, const uint8_t *buf, size_t len)
{
	struct bclient *c = s->clients[slot];
	if (c == NULL)
		return;
	if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		client_close(s, slot);
}

static void reply_put(struct server *s, uint32_t slot, uint8_t status, uint64_t req_id)
{
	uint8_t b[4 + 1 + 17];
	struct raft *r = raft_node_core(s->node);
	put_u32(b, 18);
	b[4] = 1;
	b[5] = status;
	put_u64(b + 6, req_id);
	put_u64(b + 14, r != NULL ? raft_leader(r) : 0);
	client_send(s, slot, b, sizeof(b));
}

static void reply_status(struct server *s, uint32_t slot)
{
	uint8_t b[4 + 1 + 37];
	struct raft *r = raft_node_core(s->node);
	put_u32(b, 38);
	b[4] = 2;
	b[5] = r != NULL ? raft_state(r) : 0;
	put_u64(b + 6, r != NULL ? raft_term(r) : 0);
	put_u64(b + 14, r != NULL ? raft_leader(r) : 0);
	put_u64(b + 22, s->id);
	put_u32(b + 30, (uint32_t)getpid());
	put_u64(b + 34, r != NULL ? raft_commit_index(r) : 0);
	client_send(s, slot, b, sizeof(b));
}

static void handle_put(struct server *s, uint32_t slot, const uint8_t *body, uint32_t len)
{
	uint64_t req_id, index;
	if (len < 8)
		return;
	memcpy(&req_id, body, 8);
	if (s->p_n == BENCH_MAX_PENDING) {
		reply_put(s, slot, 2, req_id);
		return;
	}
	int rv = raft_node_propose(s->node, body + 8, len - 8, &index);
	if (rv != 0) {
		reply_put(s, slot, rv == -FL_ENOTLEADER ? 1 : 2, req_id);
		return;
	}
	struct bpending *p = &s->pending[(s->p_head + s->p_n) % BENCH_MAX_PENDING];
	*p = (struct bpending){.index = index, .term = raft_term(raft_node_core(s->node)), .req_id = req_id,
			       .slot = slot, .gen = s->clients[slot]->gen};
	s->p_n++;
}

/* Processes the complete requests in a client's buffer. */
static void client_parse(struct server *s, uint32_t slot)
{
	struct bclient *c = s->clients[slot];
	uint32_t off = 0;
	while (c != NULL && c->in_len - off >= 5) {
		uint32_t len;
		memcpy(&len, c->in + off, 4);
		if (len < 1 || len > BENCH_IN_BYTES - 4) {
			client_close(s, slot);
			return;
		}
		if (c->in_len - off < 4 + len)
			break;
		uint8_t op = c->in[off + 4];
		if (op == 1)
			handle_put(s, slot, c->in + off + 5, len - 1);
		else if (op == 2)
			reply_status(s, slot);
		off += 4 + len;
		c = s->clients[slot];
	}
	if (c != NULL && off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

struct slot_arg {
	struct server *s;
	uint32_t slot;
};
static struct slot_arg slot_args[BENCH_MAX_CLIENTS];

static void client_event(void *arg, uint32_t events)
{
	struct slot_arg *a = arg;
	struct bclient *c = a->s->clients[a->slot];
	(void)events;
	if (c == NULL)
		return;
	ssize_t n = recv(c->fd, c->in + c->in_len, BENCH_IN_BYTES - c->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(a->s, a->slot);
		return;
	}
	if (n > 0) {
		c->in_len += (uint32_t)n;
		client_parse(a->s, a->slot);
	}
}

static void listen_event(void *arg, uint32_t events)
{
	struct server *s = arg;
	(void)events;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	uint32_t slot = 0;
	while (slot < BENCH_MAX_CLIENTS && s->clients[slot] != NULL)
		slot++;
	struct bclient *c = slot < BENCH_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL) {
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->gen = ++s->next_gen;
	s->clients[slot] = c;
	slot_args[slot] = (struct slot_arg){s, slot};
	if (fl_eloop_add_fd(s->el, fd, EPOLLIN, client_event, &slot_args[slot]) != 0)
		client_close(s, slot);
}

/* ---- node callbacks ---- */

static void fail_pending(struct server *s, uint8_t status)
{
	while (s->p_n > 0) {
		struct bpending *p = &s->pending[s->p_head];
		if (s->clients[p->slot] != NULL && s->clients[p->slot]->gen == p->gen)
			reply_put(s, p->slot, status, p->req_id);
		s->p_head = (s->p_head + 1) % BENCH_MAX_PENDING;
		s->p_n--;
	}
}

static void on_apply(void *arg, struct raft_node *n, const struct raft_entry *e)
{
	struct server *s = arg;
	(void)n;
	/* Bounded by the pending ring. */
	while (s->p_n > 0 && s->pending[s->p_head].index <= e->index) {
		struct bpending *p = &s->pending[s->p_head];
		uint8_t status = p->index == e->index && p->term == e->term ? 0 : 2;
		if (s->clients[p->slot] != NULL && s->clients[p->slot]->gen == p->gen)
			reply_put(s, p->slot, status, p->req_id);
		s->p_head = (s->p_head + 1) % BENCH_MAX_PENDING;
		s->p_n--;
	}
}

static void on_state(void *arg, struct raft_node *n, uint8_t state, uint64_t term, uint64_t leader)
{
	struct server *s = arg;
	(void)n;
	fl_notice("bench server %llu: %s in term %llu, leader %llu", (unsigned long long)s->id,
		  raft_state_name(state), (unsigned long long)term, (unsigned long long)leader);
	if (state != RAFT_LEADER)
		fail_pending(s, 1);
}

static void on_started(void *arg, struct raft_node *n, int result)
{
	(void)arg;
	(void)n;
	if (result != 0) {
		fl_err("bench server: start-up failed: %s", fl_strerror(result));
		stop_flag = true;
	}
}

static void deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct server *s = arg;
	if (s->node != NULL)
		raft_node_receive(s->node, from, payload, len);
}

/* ---- set-up ---- */

/* Reads a 32-byte cluster key. Returns 0 or -1. */
static int read_key(const char *path, uint8_t key[RAFT_TCP_KEY_BYTES])
{
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return -1;
	size_t n = fread(key, 1, RAFT_TCP_KEY_BYTES, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	return n == RAFT_TCP_KEY_BYTES && !more ? 0 : -1;
}

struct args {
	uint64_t id;
	const char *dir;
	uint16_t raft_port, client_port;
	uint64_t heartbeat_ms, election_ms;
	uint32_t n_peers;
	uint64_t peer_id[BENCH_MAX_PEERS];
	uint16_t peer_port[BENCH_MAX_PEERS];
	bool no_sync;
	const char *key_file;  /* cluster key (32 bytes, as fencelock keygen writes); NULL: plain frames */
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},        {"dir", required_argument, NULL, 'd'},
		{"raft-port", required_argument, NULL, 'r'}, {"client-port", required_argument, NULL, 'c'},
		{"peer", required_argument, NULL, 'p'},      {"heartbeat-ms", required_argument, NULL, 'h'},
		{"election-ms", required_argument, NULL, 'e'}, {"no-sync", no_argument, NULL, 'n'},
		{"key-file", required_argument, NULL, 'k'}, {NULL, 0, NULL, 0}};
	int c;
	*a = (struct args){.heartbeat_ms = 100, .election_ms = 1000};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long long x, y;
		switch (c) {
		case 'i': a->id = strtoull(optarg, NULL, 10); break;
		case 'd': a->dir = optarg; break;
		case 'r': a->raft_port = (uint16_t)atoi(optarg); break;
		case 'c': a->client_port = (uint16_t)atoi(optarg); break;
		case 'h': a->heartbeat_ms = strtoull(optarg, NULL, 10); break;
		case 'e': a->election_ms = strtoull(optarg, NULL, 10); break;
		case 'n': a->no_sync = true; break;
		case 'k': a->key_file = optarg; break;
		case 'p':
			if (a->n_peers == BENCH_MAX_PEERS || sscanf(optarg, "%llu=%llu", &x, &y) != 2)
				return -1;
			a->peer_id[a->n_peers] = x;
			a->peer_port[a->n_peers++] = (uint16_t)y;
			break;
		default: return -1;
		}
	}
	return a->id && a->dir && a->raft_port && a->client_port ? 0 : -1;
}

static int client_listen(struct server *s, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->listen_fd, 128) != 0)
		return -1;
	return fl_eloop_add_fd(s->el, s->listen_fd, EPOLLIN, listen_event, s);
}

static int start_node(struct server *s, const struct args *a)
{
	static struct raft_config conf;
	struct raft_logstore *store;
	char err[512];
	struct raft_logstore_file_opts so = {.queue_max = RAFT_NODE_STORE_QUEUE_MIN, .no_sync = a->no_sync};
	int rv = raft_logstore_file_open(s->el, a->dir, &so, &store, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "bench server: %s\n", err);
		return rv;
	}
	conf.n = 0;
	conf.servers[conf.n++] = (struct raft_server){.id = a->id, .role = RAFT_VOTER};
	for (uint32_t i = 0; i < a->n_peers; i++)
		conf.servers[conf.n++] = (struct raft_server){.id = a->peer_id[i], .role = RAFT_VOTER};
	struct raft_node_config nc = {.loop = fl_eloop_loop(s->el), .store = store,
				      .transport = raft_tcp_transport(s->tcp), .bootstrap = &conf};
	raft_options_default(&nc.opt, a->id, fl_monotonic_us() ^ a->id);
	nc.opt.heartbeat_us = a->heartbeat_ms * FL_US_PER_MS;
	nc.opt.election_timeout_us = a->election_ms * FL_US_PER_MS;
	nc.app = (struct raft_node_app){.started = on_started, .apply = on_apply, .state = on_state, .arg = s};
	return raft_node_new(&nc, &s->node);
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "fl-raft-bench-server");
	static struct server s;
	struct args a;
	char err[512];
	if (parse_args(argc, argv, &a) != 0) {
		fprintf(stderr, "usage: %s --id N --dir DIR --raft-port P --client-port P [--peer ID=PORT]... "
			"[--heartbeat-ms 100] [--election-ms 1000] [--no-sync] [--key-file PATH]\n", argv[0]);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	s.id = a.id;
	s.el = fl_eloop_new();
	struct raft_tcp_config tc = {.self_id = a.id, .listen_addr = "127.0.0.1", .listen_port = a.raft_port,
				     .backoff_min_us = 5 * FL_US_PER_MS, .backoff_max_us = a.heartbeat_ms * FL_US_PER_MS / 2,
				     .deliver = deliver, .deliver_arg = &s};
	if (a.key_file != NULL && read_key(a.key_file, tc.keys[0]) != 0) {
		fprintf(stderr, "bench server %llu: %s: not a readable 32-byte key file\n", (unsigned long long)a.id,
			a.key_file);
		return 1;
	}
	tc.n_keys = a.key_file != NULL ? 1 : 0;
	if (s.el == NULL || raft_tcp_new(s.el, &tc, &s.tcp, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench server %llu: %s\n", (unsigned long long)a.id, err);
		return 1;
	}
	for (uint32_t i = 0; i < a.n_peers; i++)
		if (raft_tcp_add_peer(s.tcp, a.peer_id[i], "127.0.0.1", a.peer_port[i]) != 0) {
			fprintf(stderr, "bench server %llu: cannot add peer %llu\n", (unsigned long long)a.id,
				(unsigned long long)a.peer_id[i]);
			return 1;
		}
	if (client_listen(&s, a.client_port) != 0) {
		fprintf(stderr, "bench server %llu: cannot listen on client port %u: %s\n", (unsigned long long)a.id,
			a.client_port, strerror(errno));
		return 1;
	}
	int rv = start_node(&s, &a);
	if (rv != 0) {
		fprintf(stderr, "bench server %llu: cannot start the node on %s: %s\n", (unsigned long long)a.id,
			a.dir, fl_strerror(rv));
		return 1;
	}
	rv = fl_eloop_run(s.el, &stop_flag);
	raft_node_free(s.node);
	raft_tcp_free(s.tcp);
	for (uint32_t i = 0; i < BENCH_MAX_CLIENTS; i++)
		if (s.clients[i] != NULL)
			client_close(&s, i);
	fl_eloop_free(s.el);
	return rv == 0 ? 0 : 1;
}
