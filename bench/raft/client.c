/* fl-raft-bench-client: the load and election-time client of
 * scripts/bench-raft.sh, for two back ends on loopback:
 *   fl    fl-raft-bench-server's binary protocol (bench/raft/server.c);
 *   etcd  etcd 3.4's gRPC-gateway JSON API over HTTP/1.1 keep-alive
 *         (POST /v3/kv/put, POST /v3/maintenance/status).
 * Commands:
 *   load --clients K --n N     K closed-loop clients (one request in flight
 *                              each, one connection each) put N values of
 *                              --value-bytes to the leader; prints latency
 *                              percentiles and throughput;
 *   elect --pids P1,P2,P3      finds the leader, SIGKILLs it, polls the
 *                              survivors until one of them is leader, prints
 *                              the killed member's position and the time;
 *   wait-healthy               waits until every member answers, all agree on
 *                              one leader and a put through it commits.
 * Both back ends are measured the same way: same client, same connection
 * model, same value size. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "common/version.h"

#define MAX_MEMBERS 8
#define MAX_CLIENTS 256
#define CONN_BUF 16384

struct member_status {
	bool ok;
	bool is_leader;
	uint64_t self, leader, term;
};

struct conn {
	int fd;
	uint8_t in[CONN_BUF];
	size_t in_len;
	uint64_t sent_us;
};

struct opts {
	const char *backend;
	int n_members;
	uint16_t port[MAX_MEMBERS];
	int pid[MAX_MEMBERS];
	int clients;
	long n;
	int value_bytes;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool is_etcd(const struct opts *o) { return strcmp(o->backend, "etcd") == 0; }

/* True when fd connected to itself: dialling a member that is down, the
 * kernel may pick the member's own port as our ephemeral one (TCP
 * simultaneous open); that socket would hold the port and the member's
 * restart would fail to bind. Such a connection is closed at once. */
static bool self_connected(int fd)
{
	struct sockaddr_in l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	if (getsockname(fd, (struct sockaddr *)&l, &ll) != 0 || getpeername(fd, (struct sockaddr *)&r, &rl) != 0)
		return false;
	return l.sin_addr.s_addr == r.sin_addr.s_addr && l.sin_port == r.sin_port;
}

static int dial(uint16_t port, int timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	if (self_connected(fd)) {
		/* Closed with RST: a normal close would leave the port in TIME_WAIT,
		 * where the member's listener could not bind it for a minute. */
		struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- HTTP/1.1 for etcd ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64(char *out, const uint8_t *in, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static size_t http_post(char *out, size_t cap, const char *path, const char *body)
{
	return (size_t)snprintf(out, cap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
				"Content-Length: %zu\r\n\r\n%s", path, strlen(body), body);
}

/* Length of a complete HTTP response at the start of buf (0: incomplete;
 * -1: malformed); *status gets the status code, *body the body. */
static long http_complete(const uint8_t *buf, size_t len, int *status, const char **body, size_t *body_len)
{
	const char *s = (const char *)buf;
	const char *end = memmem(s, len, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	size_t hdr = (size_t)(end - s) + 4;
	if (sscanf(s, "HTTP/1.%*d %d", status) != 1)
		return -1;
	const char *cl = memmem(s, hdr, "Content-Length:", 15);
	if (cl == NULL)
		cl = memmem(s, hdr, "content-length:", 15);
	if (cl != NULL) {
		size_t blen = strtoul(cl + 15, NULL, 10);
		if (len < hdr + blen)
			return 0;
		*body = s + hdr;
		*body_len = blen;
		return (long)(hdr + blen);
	}
	/* Chunked: the bodies here are small; take everything up to 0\r\n\r\n. */
	const char *last = memmem(s + hdr, len - hdr, "\r\n0\r\n\r\n", 7);
	if (last == NULL)
		return 0;
	*body = s + hdr;
	*body_len = (size_t)(last - (s + hdr));
	return (long)((last - s) + 7);
}

static uint64_t json_u64(const char *body, size_t len, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = memmem(body, len, pat, strlen(pat));
	if (p == NULL)
		return 0;
	p += strlen(pat);
	while (*p == '"' || *p == ' ')
		p++;
	return strtoull(p, NULL, 10);
}

/* ---- requests ---- */

static size_t fmt_put(const struct opts *o, char *out, size_t cap, uint64_t req_id)
{
	uint8_t value[1024];
	memset(value, 'v', sizeof(value));
	memcpy(value, &req_id, 8);
	if (is_etcd(o)) {
		char key[64], kb[128], vb[1500], body[1800];
		int klen = snprintf(key, sizeof(key), "bench/%llu", (unsigned long long)req_id);
		base64(kb, (const uint8_t *)key, (size_t)klen);
		base64(vb, value, (size_t)o->value_bytes);
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", kb, vb);
		return http_post(out, cap, "/v3/kv/put", body);
	}
	/* Same payload as etcd's: key and value. */
	char key[64];
	int klen = snprintf(key, sizeof(key), "bench/%llu", (unsigned long long)req_id);
	uint32_t len = 1 + 8 + (uint32_t)klen + (uint32_t)o->value_bytes;
	memcpy(out, &len, 4);
	out[4] = 1;
	memcpy(out + 5, &req_id, 8);
	memcpy(out + 13, key, (size_t)klen);
	memcpy(out + 13 + klen, value, (size_t)o->value_bytes);
	return 4 + len;
}

/* Consumes one complete put reply from c; returns 1 (ok), 0 (incomplete),
 * -1 (failed or malformed). */
static int take_put_reply(const struct opts *o, struct conn *c)
{
	long used;
	int ok;
	if (is_etcd(o)) {
		int status = 0;
		const char *body;
		size_t blen;
		used = http_complete(c->in, c->in_len, &status, &body, &blen);
		ok = status == 200;
	} else {
		uint32_t len = 0;
		if (c->in_len >= 4)
			memcpy(&len, c->in, 4);
		used = c->in_len >= 4 && c->in_len >= 4 + len ? (long)(4 + len) : 0;
		ok = used > 5 && c->in[4] == 1 && c->in[5] == 0;
	}
	if (used <= 0)
		return (int)used;
	memmove(c->in, c->in + used, c->in_len - (size_t)used);
	c->in_len -= (size_t)used;
	return ok ? 1 : -1;
}

static int fl_status(uint16_t port, struct member_status *st)
{
	uint8_t req[5] = {1, 0, 0, 0, 2}, rep[42] = {0};
	int fd = dial(port, 200);
	if (fd < 0)
		return -1;
	ssize_t got = 0;
	if (write(fd, req, sizeof(req)) == (ssize_t)sizeof(req))
		while (got < (ssize_t)sizeof(rep)) {
			ssize_t n = read(fd, rep + got, sizeof(rep) - (size_t)got);
			if (n <= 0)
				break;
			got += n;
		}
	close(fd);
	if (got != (ssize_t)sizeof(rep) || rep[4] != 2)
		return -1;
	st->is_leader = rep[5] == 4; /* RAFT_LEADER */
	memcpy(&st->term, rep + 6, 8);
	memcpy(&st->leader, rep + 14, 8);
	memcpy(&st->self, rep + 22, 8);
	st->ok = true;
	return 0;
}

static int etcd_status(uint16_t port, struct member_status *st)
{
	char req[512];
	uint8_t rep[8192];
	size_t len = http_post(req, sizeof(req), "/v3/maintenance/status", "{}"), got = 0;
	int fd = dial(port, 200), status = 0;
	const char *body = NULL;
	size_t blen = 0;
	long done = 0;
	if (fd < 0)
		return -1;
	if (write(fd, req, len) == (ssize_t)len)
		while (done == 0 && got < sizeof(rep) - 1) {
			ssize_t n = read(fd, rep + got, sizeof(rep) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
			done = http_complete(rep, got, &status, &body, &blen);
		}
	close(fd);
	if (done <= 0 || status != 200)
		return -1;
	st->self = json_u64(body, blen, "member_id");
	st->leader = json_u64(body, blen, "leader");
	st->term = json_u64(body, blen, "raft_term");
	st->is_leader = st->self != 0 && st->self == st->leader;
	st->ok = true;
	return 0;
}

static int member_status(const struct opts *o, int i, struct member_status *st)
{
	memset(st, 0, sizeof(*st));
	return is_etcd(o) ? etcd_status(o->port[i], st) : fl_status(o->port[i], st);
}

static int find_leader(const struct opts *o, struct member_status *st)
{
	for (int i = 0; i < o->n_members; i++)
		if (member_status(o, i, &st[i]) == 0 && st[i].is_leader)
			return i;
	return -1;
}

/* ---- load ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int send_put(const struct opts *o, struct conn *c, uint64_t req_id)
{
	char buf[4096];
	size_t len = fmt_put(o, buf, sizeof(buf), req_id);
	c->sent_us = now_us();
	return write(c->fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Reads replies on c; sends the next put after each; returns -1 on error. */
static int on_readable(const struct opts *o, struct conn *c, uint32_t *lat, long *done, long *issued)
{
	ssize_t n = read(c->fd, c->in + c->in_len, CONN_BUF - c->in_len);
	if (n <= 0)
		return -1;
	c->in_len += (size_t)n;
	int rv;
	while ((rv = take_put_reply(o, c)) == 1) {
		lat[(*done)++] = (uint32_t)(now_us() - c->sent_us);
		if (*issued < o->n && send_put(o, c, (uint64_t)(*issued)++) != 0)
			return -1;
	}
	return rv < 0 ? -1 : 0;
}

static int cmd_load(const struct opts *o)
{
	struct member_status st[MAX_MEMBERS];
	int l = find_leader(o, st);
	if (l < 0 || o->clients < 1 || o->clients > MAX_CLIENTS || o->n < o->clients) {
		fprintf(stderr, "load: no leader found or bad --clients/--n\n");
		return 1;
	}
	static struct conn conns[MAX_CLIENTS];
	struct pollfd pfd[MAX_CLIENTS];
	uint32_t *lat = calloc((size_t)o->n, sizeof(*lat));
	long done = 0, issued = 0;
	for (int i = 0; i < o->clients; i++) {
		conns[i] = (struct conn){.fd = dial(o->port[l], 5000)};
		if (conns[i].fd < 0 || send_put(o, &conns[i], (uint64_t)issued++) != 0) {
			fprintf(stderr, "load: cannot reach the leader on port %u\n", o->port[l]);
			return 1;
		}
		pfd[i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
	}
	uint64_t t0 = now_us();
	while (done < o->n) {
		if (poll(pfd, (nfds_t)o->clients, 10000) <= 0) {
			fprintf(stderr, "load: no reply for 10 s after %ld puts\n", done);
			return 1;
		}
		for (int i = 0; i < o->clients; i++)
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    on_readable(o, &conns[i], lat, &done, &issued) != 0) {
				fprintf(stderr, "load: put failed after %ld puts (leader change?)\n", done);
				return 1;
			}
	}
	double secs = (double)(now_us() - t0) / 1e6;
	qsort(lat, (size_t)done, sizeof(*lat), cmp_u32);
	double sum = 0;
	for (long i = 0; i < done; i++)
		sum += lat[i];
	printf("ops=%ld clients=%d secs=%.3f ops_per_s=%.0f p50_us=%u p99_us=%u mean_us=%.0f\n", done, o->clients,
	       secs, (double)done / secs, lat[done / 2], lat[(done * 99) / 100], sum / (double)done);
	for (int i = 0; i < o->clients; i++)
		close(conns[i].fd);
	free(lat);
	return 0;
}

/* ---- elections ---- */

static int cmd_elect(const struct opts *o)
{
	struct member_status st[MAX_MEMBERS], s;
	int l = find_leader(o, st);
	if (l < 0 || o->pid[l] <= 0) {
		fprintf(stderr, "elect: no leader found\n");
		return 1;
	}
	uint64_t old = st[l].self;
	uint64_t t0 = now_us();
	if (kill(o->pid[l], SIGKILL) != 0) {
		perror("elect: kill");
		return 1;
	}
	/* Bounded: 60 s of polling, a sweep every 2 ms. */
	while (now_us() - t0 < 60u * 1000000u) {
		for (int i = 0; i < o->n_members; i++) {
			if (i == l || member_status(o, i, &s) != 0)
				continue;
			bool elected = is_etcd(o) ? (s.leader != 0 && s.leader != old) : s.is_leader;
			if (elected) {
				printf("killed=%d new=%d ms=%.1f\n", l, i, (double)(now_us() - t0) / 1000.0);
				return 0;
			}
		}
		usleep(2000);
	}
	fprintf(stderr, "elect: no new leader within 60 s\n");
	return 1;
}

static bool healthy(const struct opts *o)
{
	struct member_status st[MAX_MEMBERS];
	int leaders = 0, l = -1;
	for (int i = 0; i < o->n_members; i++) {
		if (member_status(o, i, &st[i]) != 0 || st[i].leader == 0)
			return false;
		if (st[i].leader != st[0].leader)
			return false;
		if (st[i].is_leader) {
			leaders++;
			l = i;
		}
	}
	if (leaders != 1)
		return false;
	struct conn *c = calloc(1, sizeof(*c));
	c->fd = dial(o->port[l], 2000);
	bool ok = c->fd >= 0 && send_put(o, c, 999999999) == 0;
	int rv = 0;
	while (ok && rv == 0) {
		ssize_t n = read(c->fd, c->in + c->in_len, CONN_BUF - c->in_len);
		if (n <= 0)
			break;
		c->in_len += (size_t)n;
		rv = take_put_reply(o, c);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return ok && rv == 1;
}

static int cmd_wait_healthy(const struct opts *o)
{
	uint64_t t0 = now_us();
	while (now_us() - t0 < 60u * 1000000u) {
		if (healthy(o)) {
			printf("healthy after %.1f ms\n", (double)(now_us() - t0) / 1000.0);
			return 0;
		}
		usleep(20000);
	}
	fprintf(stderr, "wait-healthy: cluster not healthy within 60 s\n");
	return 1;
}

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;
	while (s != NULL && *s != '\0' && n < max) {
		out[n++] = atoi(s);
		s = strchr(s, ',');
		s = s != NULL ? s + 1 : NULL;
	}
	return n;
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "fl-raft-bench-client");
	static const struct option lo[] = {
		{"backend", required_argument, NULL, 'b'}, {"ports", required_argument, NULL, 'p'},
		{"pids", required_argument, NULL, 'k'},    {"clients", required_argument, NULL, 'c'},
		{"n", required_argument, NULL, 'n'},       {"value-bytes", required_argument, NULL, 'v'},
		{NULL, 0, NULL, 0}};
	struct opts o = {.backend = "fl", .clients = 1, .n = 1000, .value_bytes = 64};
	int ports[MAX_MEMBERS], c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b': o.backend = optarg; break;
		case 'p':
			o.n_members = parse_list(optarg, ports, MAX_MEMBERS);
			for (int i = 0; i < o.n_members; i++)
				o.port[i] = (uint16_t)ports[i];
			break;
		case 'k': parse_list(optarg, o.pid, MAX_MEMBERS); break;
		case 'c': o.clients = atoi(optarg); break;
		case 'n': o.n = atol(optarg); break;
		case 'v': o.value_bytes = atoi(optarg); break;
		default: return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	const char *cmd = optind < argc ? argv[optind] : "";
	if (o.n_members == 0 || o.value_bytes < 8 || o.value_bytes > 1024) {
		fprintf(stderr, "usage: %s --backend fl|etcd --ports P1,P2,P3 [--pids ...] [--clients K] [--n N] "
			"[--value-bytes 8..1024] load|elect|wait-healthy\n", argv[0]);
		return 2;
	}
	if (strcmp(cmd, "load") == 0)
		return cmd_load(&o);
	if (strcmp(cmd, "elect") == 0)
		return cmd_elect(&o);
	if (strcmp(cmd, "wait-healthy") == 0)
		return cmd_wait_healthy(&o);
	fprintf(stderr, "unknown command '%s'\n", cmd);
	return 2;
}
