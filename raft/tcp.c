/* The TCP transport for Raft messages on the real epoll loop (see
 * transport.h for the frame format and the connection rules).
 *
 * Everything runs on the loop thread; sockets are non-blocking. Per peer: one
 * outbound connection (connect with exponential back-off from backoff_min_us
 * doubling to backoff_max_us, which must stay below the heartbeat interval,
 * hashicorp/raft #494) and a ring of at most queue_max_frames encoded frames
 * that drops its oldest frame when full. Inbound connections live in a table
 * of max_inbound slots; each reads one frame at a time into a buffer bounded
 * by max_frame_bytes. Every loop is bounded: per readiness event a connection
 * reads at most TCP_FRAMES_PER_EVENT frames and a peer writes at most its
 * queue length; level-triggered epoll brings the rest in the next turn. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/errmap.h"
#include "common/le.h"
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/transport.h"

#define TCP_DEFAULT_MAX_FRAME (17u << 20)
#define TCP_DEFAULT_QUEUE 256u
#define TCP_DEFAULT_BACKOFF_MIN_US (5 * FL_US_PER_MS)
#define TCP_DEFAULT_BACKOFF_MAX_US (50 * FL_US_PER_MS)
#define TCP_DEFAULT_CONNECT_TIMEOUT_US (100 * FL_US_PER_MS)
#define TCP_DEFAULT_STALL_TIMEOUT_US (1000 * FL_US_PER_MS)
#define TCP_FRAMES_PER_EVENT 64u
#define TCP_ACCEPTS_PER_EVENT 16u
#define TCP_LOG_INTERVAL_US FL_US_PER_S

struct tcp_frame {
	uint32_t len; /* header + payload */
	uint8_t bytes[];
};

struct raft_tcp;

struct tcp_conn {
	struct raft_tcp *t;
	int fd;
	struct tcp_peer *peer;   /* outbound: its peer; inbound: NULL */
	bool connecting;
	uint32_t slot;           /* inbound: index in t->inbound */
	uint64_t from_id;        /* inbound: sender of the first frame, 0 before */
	uint8_t hdr[RAFT_TCP_FRAME_HEADER_BYTES];
	uint32_t hdr_got;
	uint8_t *buf;            /* payload buffer, grown up to max_frame_bytes */
	uint32_t buf_cap, want, got;
};

struct tcp_peer {
	bool used;
	uint64_t id;
	struct sockaddr_in addr;
	struct raft_tcp *t;
	struct tcp_conn *conn;   /* outbound connection, NULL when down */
	struct fl_timer retry;   /* next connect, or the deadline of one in progress */
	uint64_t backoff_us;
	struct tcp_frame **ring; /* queue_max_frames slots */
	uint32_t head, len;
	uint32_t head_sent;      /* bytes of ring[head] already written */
	uint64_t queued_bytes;
};

struct tcp_ratelimit {
	uint64_t last_us;
	uint32_t suppressed;
};

struct raft_tcp {
	struct raft_transport base;
	struct fl_eloop *el;
	struct fl_loop *loop;
	struct raft_tcp_config cfg;
	int listen_fd;
	uint16_t port;
	struct tcp_peer peers[RAFT_TCP_MAX_PEERS];
	struct tcp_conn **inbound; /* max_inbound slots */
	struct tcp_ratelimit rl_foreign, rl_unknown, rl_bad, rl_inbound;
	struct raft_tcp_stats stats;
};

__attribute__((format(printf, 3, 4))) static void tcp_ratelog(struct raft_tcp *t, struct tcp_ratelimit *rl,
							      const char *fmt, ...)
{
	uint64_t now = fl_now_us(t->loop);
	if (rl->last_us != 0 && now - rl->last_us < TCP_LOG_INTERVAL_US) {
		rl->suppressed++;
		return;
	}
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl_warn("raft tcp (host %llu): %s (%u similar not logged in the last second)",
		(unsigned long long)t->cfg.self_id, msg, rl->suppressed);
	rl->last_us = now;
	rl->suppressed = 0;
}

static struct tcp_peer *tcp_peer_find(struct raft_tcp *t, uint64_t id)
{
	for (uint32_t i = 0; i < RAFT_TCP_MAX_PEERS; i++)
		if (t->peers[i].used && t->peers[i].id == id)
			return &t->peers[i];
	return NULL;
}

/* ---- connections ---- */

static void tcp_conn_free(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	if (c->fd >= 0) {
		fl_eloop_del_fd(t->el, c->fd);
		close(c->fd);
	}
	if (c->peer != NULL) {
		FL_ASSERT(c->peer->conn == c);
		c->peer->conn = NULL;
	} else {
		FL_ASSERT(t->inbound[c->slot] == c);
		t->inbound[c->slot] = NULL;
	}
	free(c->buf);
	free(c);
}

static void tcp_pop_head(struct tcp_peer *p)
{
	FL_ASSERT(p->len > 0);
	struct tcp_frame *f = p->ring[p->head];
	p->queued_bytes -= f->len;
	free(f);
	p->ring[p->head] = NULL;
	p->head = (p->head + 1) % p->t->cfg.queue_max_frames;
	p->len--;
	p->head_sent = 0;
}

static void tcp_schedule_retry(struct tcp_peer *p)
{
	struct raft_tcp *t = p->t;
	fl_timer_after(t->loop, &p->retry, p->backoff_us);
	p->backoff_us = FL_MIN(p->backoff_us * 2, t->cfg.backoff_max_us);
}

/* Drops the outbound connection of p; a frame cut mid-write is dropped too
 * (the new connection must start on a frame boundary). */
static void tcp_peer_disconnect(struct tcp_peer *p, bool retry)
{
	if (p->conn != NULL) {
		p->t->stats.disconnects += !p->conn->connecting;
		tcp_conn_free(p->conn);
	}
	if (p->head_sent > 0)
		tcp_pop_head(p);
	if (retry)
		tcp_schedule_retry(p);
}

static void tcp_out_event(void *arg, uint32_t events);

static int tcp_set_events(struct tcp_conn *c, uint32_t events)
{
	return fl_eloop_mod_fd(c->t->el, c->fd, events, tcp_out_event, c);
}

/* Writes queued frames until the queue is empty or the socket is full. */
static void tcp_flush(struct tcp_peer *p)
{
	struct tcp_conn *c = p->conn;
	struct raft_tcp *t = p->t;
	FL_ASSERT(c != NULL);
	FL_ASSERT(!c->connecting);
	uint32_t bound = p->len;
	for (uint32_t i = 0; i < bound && p->len > 0; i++) {
		struct tcp_frame *f = p->ring[p->head];
		ssize_t n = send(c->fd, f->bytes + p->head_sent, f->len - p->head_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			(void)tcp_set_events(c, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n <= 0) {
			tcp_peer_disconnect(p, true);
			return;
		}
		p->head_sent += (uint32_t)n;
		if (p->head_sent < f->len) {
			(void)tcp_set_events(c, EPOLLIN | EPOLLOUT);
			return;
		}
		t->stats.frames_sent++;
		t->stats.bytes_sent += f->len;
		tcp_pop_head(p);
	}
	if (p->len == 0)
		(void)tcp_set_events(c, EPOLLIN);
	else
		(void)tcp_set_events(c, EPOLLIN | EPOLLOUT);
}

static void tcp_out_event(void *arg, uint32_t events)
{
	struct tcp_conn *c = arg;
	struct tcp_peer *p = c->peer;
	if (c->connecting) {
		int err = 0;
		socklen_t elen = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0 ||
		    (events & (EPOLLERR | EPOLLHUP))) {
			p->t->stats.connect_failures++;
			tcp_peer_disconnect(p, true);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->connecting = false;
		fl_timer_cancel(p->t->loop, &p->retry);
		p->backoff_us = p->t->cfg.backoff_min_us;
		p->t->stats.connects++;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		/* The peer never writes on our outbound connection: readable
		 * means closed or reset. */
		uint8_t junk[256];
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			tcp_peer_disconnect(p, true);
			return;
		}
	}
	tcp_flush(p);
}

static void tcp_connect(struct tcp_peer *p)
{
	struct raft_tcp *t = p->t;
	FL_ASSERT(p->conn == NULL);
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		tcp_schedule_retry(p);
		return;
	}
	c->t = t;
	c->peer = p;
	c->connecting = true;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->conn = c;
	int one = 1;
	/* Unacknowledged data older than this aborts the connection (a peer
	 * gone without FIN or RST): we reconnect instead of waiting for TCP's
	 * retransmission back-off, which grows to minutes. */
	unsigned int user_timeout_ms = (unsigned int)(t->cfg.stall_timeout_us / FL_US_PER_MS);
	if (c->fd >= 0)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
	if (c->fd < 0 || setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    (connect(c->fd, (struct sockaddr *)&p->addr, sizeof(p->addr)) != 0 && errno != EINPROGRESS) ||
	    fl_eloop_add_fd(t->el, c->fd, EPOLLOUT | EPOLLIN, tcp_out_event, c) != 0) {
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -1;
		}
		p->conn = NULL;
		free(c);
		t->stats.connect_failures++;
		tcp_schedule_retry(p);
		return;
	}
	/* A peer that is off the network answers no SYN: without a deadline the
	 * kernel's SYN retries (1 s, 3 s, 7 s...) would outlast elections. */
	fl_timer_after(t->loop, &p->retry, t->cfg.connect_timeout_us);
}

static void tcp_retry_fire(struct fl_timer *timer, void *arg)
{
	struct tcp_peer *p = arg;
	(void)timer;
	if (!p->used)
		return;
	if (p->conn != NULL && p->conn->connecting) {
		p->t->stats.connect_failures++;
		tcp_peer_disconnect(p, false);
	}
	if (p->conn == NULL)
		tcp_connect(p);
}

/* ---- inbound ---- */

static void tcp_in_event(void *arg, uint32_t events);

/* Checks a complete header; returns false (connection to be dropped) on a
 * broken stream: bad magic, version, header length or an oversize frame. */
static bool tcp_header_ok(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	uint32_t len = fl_get_le32(c->hdr + 40);
	if (fl_get_le32(c->hdr) != RAFT_TCP_MAGIC || fl_get_le16(c->hdr + 4) != RAFT_TCP_VERSION ||
	    fl_get_le16(c->hdr + 6) != RAFT_TCP_FRAME_HEADER_BYTES) {
		t->stats.dropped_bad_frame++;
		tcp_ratelog(t, &t->rl_bad, "inbound connection sent a frame with a bad magic or version; "
			    "dropping it (is a non-fencelock client connecting to the Raft port?)");
		return false;
	}
	if (len > t->cfg.max_frame_bytes) {
		t->stats.dropped_oversize++;
		tcp_ratelog(t, &t->rl_bad, "host %llu sent a %u-byte frame, above the maximum of %u; dropping "
			    "the connection (check max_frame_bytes on both hosts)",
			    (unsigned long long)fl_get_le64(c->hdr + 24), len, t->cfg.max_frame_bytes);
		return false;
	}
	if (len > c->buf_cap) {
		uint8_t *b = realloc(c->buf, len);
		if (b == NULL)
			return false;
		c->buf = b;
		c->buf_cap = len;
	}
	c->want = len;
	c->got = 0;
	return true;
}

/* One inbound connection per peer, the newest: an older one is from before
 * the peer restarted or reconnected, possibly half-open after a partition,
 * and would hold its slot forever. */
static void tcp_replace_inbound(struct raft_tcp *t, const struct tcp_conn *keep, uint64_t from)
{
	for (uint32_t i = 0; i < t->cfg.max_inbound; i++) {
		struct tcp_conn *o = t->inbound[i];
		if (o != NULL && o != keep && o->from_id == from) {
			t->stats.replaced_inbound++;
			tcp_conn_free(o);
		}
	}
}

/* Checks a complete frame and delivers it. Returns false to drop the conn. */
static bool tcp_frame_done(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	uint64_t from = fl_get_le64(c->hdr + 24), to = fl_get_le64(c->hdr + 32);
	uint32_t crc = fl_crc32c(~0u, c->hdr, 44);
	crc = ~fl_crc32c(crc, c->buf, c->want);
	if (crc != fl_get_le32(c->hdr + 44) || (c->from_id != 0 && from != c->from_id)) {
		t->stats.dropped_bad_frame++;
		tcp_ratelog(t, &t->rl_bad, "frame from host %llu has a bad CRC or changed sender; dropping the "
			    "connection", (unsigned long long)from);
		return false;
	}
	if (memcmp(c->hdr + 8, t->cfg.cluster_uuid, 16) != 0 || to != t->cfg.self_id) {
		t->stats.dropped_foreign++;
		tcp_ratelog(t, &t->rl_foreign, "dropped a frame from host %llu to host %llu of another cluster or "
			    "host; check the cluster uuid and peer addresses in its configuration",
			    (unsigned long long)from, (unsigned long long)to);
		return false;
	}
	if (tcp_peer_find(t, from) == NULL) {
		t->stats.dropped_unknown++;
		tcp_ratelog(t, &t->rl_unknown, "dropped a frame from host %llu, which is not a configured peer",
			    (unsigned long long)from);
		return false;
	}
	if (c->from_id == 0)
		tcp_replace_inbound(t, c, from);
	c->from_id = from;
	c->hdr_got = 0;
	t->stats.frames_received++;
	t->stats.bytes_received += RAFT_TCP_FRAME_HEADER_BYTES + c->want;
	t->cfg.deliver(t->cfg.deliver_arg, from, c->buf, c->want);
	return true;
}

/* Reads what is available into the current frame. Returns 1 when a frame is
 * complete, 0 when the socket has no more data, -1 to drop the connection. */
static int tcp_read_some(struct tcp_conn *c)
{
	uint8_t *dst;
	size_t room;
	if (c->hdr_got < RAFT_TCP_FRAME_HEADER_BYTES) {
		dst = c->hdr + c->hdr_got;
		room = RAFT_TCP_FRAME_HEADER_BYTES - c->hdr_got;
	} else {
		dst = c->buf + c->got;
		room = c->want - c->got;
	}
	ssize_t n = room > 0 ? recv(c->fd, dst, room, MSG_DONTWAIT) : 0;
	if (room > 0 && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (room > 0 && n <= 0)
		return -1;
	if (c->hdr_got < RAFT_TCP_FRAME_HEADER_BYTES) {
		c->hdr_got += (uint32_t)n;
		if (c->hdr_got < RAFT_TCP_FRAME_HEADER_BYTES)
			return 0;
		if (!tcp_header_ok(c))
			return -1;
		return c->want == 0 ? 1 : 2;
	}
	c->got += (uint32_t)n;
	return c->got == c->want ? 1 : 0;
}

static void tcp_in_event(void *arg, uint32_t events)
{
	struct tcp_conn *c = arg;
	uint32_t frames = 0;
	(void)events;
	/* Bounded: at most TCP_FRAMES_PER_EVENT frames, and every round either
	 * consumes bytes or stops. Level-triggered epoll calls us again. */
	for (uint32_t rounds = 0; rounds < 4 * TCP_FRAMES_PER_EVENT && frames < TCP_FRAMES_PER_EVENT; rounds++) {
		int rv = tcp_read_some(c);
		if (rv == 0)
			return;
		if (rv == 2)
			continue; /* header complete, read the payload */
		if (rv < 0 || !tcp_frame_done(c)) {
			tcp_conn_free(c);
			return;
		}
		frames++;
	}
}

static void tcp_accept_one(struct raft_tcp *t, int fd)
{
	uint32_t slot = 0;
	while (slot < t->cfg.max_inbound && t->inbound[slot] != NULL)
		slot++;
	struct tcp_conn *c = slot < t->cfg.max_inbound ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL) {
		t->stats.refused_inbound++;
		tcp_ratelog(t, &t->rl_inbound, "refused an inbound connection: all %u slots in use",
			    t->cfg.max_inbound);
		close(fd);
		return;
	}
	c->t = t;
	c->fd = fd;
	c->slot = slot;
	t->inbound[slot] = c;
	if (fl_eloop_add_fd(t->el, fd, EPOLLIN, tcp_in_event, c) != 0) {
		c->fd = -1;
		close(fd);
		tcp_conn_free(c);
		return;
	}
	t->stats.accepts++;
}

static void tcp_listen_event(void *arg, uint32_t events)
{
	struct raft_tcp *t = arg;
	(void)events;
	for (uint32_t i = 0; i < TCP_ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or an error the next turn retries */
		tcp_accept_one(t, fd);
	}
}

/* ---- public ---- */

static int tcp_send_op(struct raft_transport *base, uint64_t to, const void *payload, uint32_t len)
{
	return raft_tcp_send((struct raft_tcp *)base, to, payload, len);
}

static const struct raft_transport_ops tcp_ops = {.send = tcp_send_op};

static struct tcp_frame *tcp_encode(const struct raft_tcp *t, uint64_t to, const void *payload, uint32_t len)
{
	struct tcp_frame *f = malloc(sizeof(*f) + RAFT_TCP_FRAME_HEADER_BYTES + len);
	if (f == NULL)
		return NULL;
	uint8_t *h = f->bytes;
	f->len = RAFT_TCP_FRAME_HEADER_BYTES + len;
	fl_put_le32(h, RAFT_TCP_MAGIC);
	fl_put_le16(h + 4, RAFT_TCP_VERSION);
	fl_put_le16(h + 6, RAFT_TCP_FRAME_HEADER_BYTES);
	memcpy(h + 8, t->cfg.cluster_uuid, 16);
	fl_put_le64(h + 24, t->cfg.self_id);
	fl_put_le64(h + 32, to);
	fl_put_le32(h + 40, len);
	if (len > 0)
		memcpy(h + RAFT_TCP_FRAME_HEADER_BYTES, payload, len);
	uint32_t crc = fl_crc32c(~0u, h, 44);
	crc = ~fl_crc32c(crc, h + RAFT_TCP_FRAME_HEADER_BYTES, len);
	fl_put_le32(h + 44, crc);
	return f;
}

/* Makes room for one frame: evicts the oldest frame not being written, or
 * returns false when the only frame is the one being written. */
static bool tcp_make_room(struct tcp_peer *p)
{
	uint32_t cap = p->t->cfg.queue_max_frames;
	if (p->len < cap)
		return true;
	p->t->stats.dropped_queue_full++;
	if (p->head_sent == 0) {
		tcp_pop_head(p);
		return true;
	}
	if (cap == 1)
		return false;
	/* Evict the second-oldest: move the head into its slot. */
	uint32_t second = (p->head + 1) % cap;
	p->queued_bytes -= p->ring[second]->len;
	free(p->ring[second]);
	p->ring[second] = p->ring[p->head];
	p->ring[p->head] = NULL;
	p->head = second;
	p->len--;
	return true;
}

int raft_tcp_send(struct raft_tcp *t, uint64_t to, const void *payload, uint32_t len)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(payload != NULL || len == 0);
	struct tcp_peer *p = tcp_peer_find(t, to);
	if (p == NULL)
		return -FL_ENOENT;
	if (len > t->cfg.max_frame_bytes)
		return -FL_EINVAL;
	if (!tcp_make_room(p))
		return 0; /* dropped: the newest yields to a frame being written */
	struct tcp_frame *f = tcp_encode(t, to, payload, len);
	if (f == NULL)
		return -FL_ENOMEM;
	uint32_t cap = t->cfg.queue_max_frames;
	p->ring[(p->head + p->len) % cap] = f;
	p->len++;
	p->queued_bytes += f->len;
	FL_ASSERT(p->len <= cap);
	if (p->conn != NULL && !p->conn->connecting)
		tcp_flush(p);
	else if (p->conn == NULL && !fl_timer_armed(&p->retry))
		tcp_connect(p);
	return 0;
}

static int tcp_listen(struct raft_tcp *t, char *err, size_t errlen)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(t->cfg.listen_port)};
	if (inet_pton(AF_INET, t->cfg.listen_addr, &a.sin_addr) != 1) {
		snprintf(err, errlen, "listen address %s is not a numeric IPv4 address", t->cfg.listen_addr);
		return -FL_EINVAL;
	}
	int one = 1;
	socklen_t alen = sizeof(a);
	t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->listen_fd < 0 || setsockopt(t->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(t->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(t->listen_fd, 64) != 0 ||
	    getsockname(t->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s:%u: %s; is another process using the port?",
			 t->cfg.listen_addr, t->cfg.listen_port, strerror(e));
		return fl_from_errno(e);
	}
	t->port = ntohs(a.sin_port);
	int rv = fl_eloop_add_fd(t->el, t->listen_fd, EPOLLIN, tcp_listen_event, t);
	if (rv != 0)
		snprintf(err, errlen, "cannot watch the listening socket: %s", fl_strerror(rv));
	return rv;
}

static void tcp_apply_defaults(struct raft_tcp_config *c)
{
	if (c->max_frame_bytes == 0)
		c->max_frame_bytes = TCP_DEFAULT_MAX_FRAME;
	if (c->queue_max_frames == 0)
		c->queue_max_frames = TCP_DEFAULT_QUEUE;
	if (c->backoff_min_us == 0)
		c->backoff_min_us = TCP_DEFAULT_BACKOFF_MIN_US;
	if (c->backoff_max_us == 0)
		c->backoff_max_us = TCP_DEFAULT_BACKOFF_MAX_US;
	if (c->backoff_max_us < c->backoff_min_us)
		c->backoff_max_us = c->backoff_min_us;
	if (c->max_inbound == 0)
		c->max_inbound = 2 * RAFT_TCP_MAX_PEERS;
	if (c->connect_timeout_us == 0)
		c->connect_timeout_us = TCP_DEFAULT_CONNECT_TIMEOUT_US;
	if (c->stall_timeout_us == 0)
		c->stall_timeout_us = TCP_DEFAULT_STALL_TIMEOUT_US;
}

int raft_tcp_new(struct fl_eloop *el, const struct raft_tcp_config *cfg, struct raft_tcp **out,
		 char *err, size_t errlen)
{
	char scratch[8];
	FL_ASSERT(el != NULL);
	FL_ASSERT(cfg != NULL);
	FL_ASSERT(out != NULL);
	if (err == NULL) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	if (cfg->self_id == 0 || cfg->deliver == NULL) {
		snprintf(err, errlen, "raft tcp: self_id and deliver callback are required");
		return -FL_EINVAL;
	}
	struct raft_tcp *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -FL_ENOMEM;
	t->base.ops = &tcp_ops;
	t->el = el;
	t->loop = fl_eloop_loop(el);
	t->cfg = *cfg;
	t->listen_fd = -1;
	tcp_apply_defaults(&t->cfg);
	t->inbound = calloc(t->cfg.max_inbound, sizeof(*t->inbound));
	int rv = t->inbound == NULL ? -FL_ENOMEM : 0;
	if (rv == 0 && t->cfg.listen_addr != NULL)
		rv = tcp_listen(t, err, errlen);
	if (rv != 0) {
		raft_tcp_free(t);
		return rv;
	}
	t->cfg.listen_addr = NULL; /* not owned; no longer needed */
	*out = t;
	return 0;
}

static void tcp_peer_clear(struct tcp_peer *p)
{
	fl_timer_cancel(p->t->loop, &p->retry);
	if (p->conn != NULL)
		tcp_conn_free(p->conn);
	p->head_sent = 0;
	while (p->len > 0)
		tcp_pop_head(p);
	free(p->ring);
	p->ring = NULL;
	p->used = false;
}

void raft_tcp_free(struct raft_tcp *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < RAFT_TCP_MAX_PEERS; i++)
		if (t->peers[i].used)
			tcp_peer_clear(&t->peers[i]);
	for (uint32_t i = 0; t->inbound != NULL && i < t->cfg.max_inbound; i++)
		if (t->inbound[i] != NULL)
			tcp_conn_free(t->inbound[i]);
	if (t->listen_fd >= 0) {
		fl_eloop_del_fd(t->el, t->listen_fd);
		close(t->listen_fd);
	}
	free(t->inbound);
	free(t);
}

struct raft_transport *raft_tcp_transport(struct raft_tcp *t) { return &t->base; }
uint16_t raft_tcp_port(const struct raft_tcp *t) { return t->port; }

int raft_tcp_add_peer(struct raft_tcp *t, uint64_t id, const char *addr, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (id == 0 || id == t->cfg.self_id || port == 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return -FL_EINVAL;
	struct tcp_peer *p = tcp_peer_find(t, id);
	if (p != NULL) {
		p->addr = a;
		tcp_peer_disconnect(p, false);
		fl_timer_cancel(t->loop, &p->retry);
		p->backoff_us = t->cfg.backoff_min_us;
		tcp_connect(p);
		return 0;
	}
	for (uint32_t i = 0; i < RAFT_TCP_MAX_PEERS && p == NULL; i++)
		if (!t->peers[i].used)
			p = &t->peers[i];
	if (p == NULL)
		return -FL_ENOSPC;
	memset(p, 0, sizeof(*p));
	p->ring = calloc(t->cfg.queue_max_frames, sizeof(*p->ring));
	if (p->ring == NULL)
		return -FL_ENOMEM;
	p->used = true;
	p->id = id;
	p->addr = a;
	p->t = t;
	p->backoff_us = t->cfg.backoff_min_us;
	fl_timer_init(&p->retry, tcp_retry_fire, p);
	tcp_connect(p);
	return 0;
}

int raft_tcp_remove_peer(struct raft_tcp *t, uint64_t id)
{
	struct tcp_peer *p = tcp_peer_find(t, id);
	if (p == NULL)
		return -FL_ENOENT;
	tcp_peer_clear(p);
	for (uint32_t i = 0; i < t->cfg.max_inbound; i++)
		if (t->inbound[i] != NULL && t->inbound[i]->from_id == id)
			tcp_conn_free(t->inbound[i]);
	return 0;
}

uint32_t raft_tcp_queued(const struct raft_tcp *t, uint64_t id)
{
	const struct tcp_peer *p = tcp_peer_find((struct raft_tcp *)t, id);
	return p != NULL ? p->len : 0;
}

uint64_t raft_tcp_queued_bytes(const struct raft_tcp *t, uint64_t id)
{
	const struct tcp_peer *p = tcp_peer_find((struct raft_tcp *)t, id);
	return p != NULL ? p->queued_bytes : 0;
}

bool raft_tcp_connected(const struct raft_tcp *t, uint64_t id)
{
	const struct tcp_peer *p = tcp_peer_find((struct raft_tcp *)t, id);
	return p != NULL && p->conn != NULL && !p->conn->connecting;
}

const struct raft_tcp_stats *raft_tcp_get_stats(const struct raft_tcp *t) { return &t->stats; }
