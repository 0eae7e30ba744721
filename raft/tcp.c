/* The TCP transport for Raft messages on the real epoll loop (see
 * transport.h for the connection rules and the plain frame format, and
 * tcp_auth.h for the handshake and the sealed frames).
 *
 * Everything runs on the loop thread; sockets are non-blocking. Per peer: one
 * outbound connection (connect with exponential back-off from backoff_min_us
 * doubling to backoff_max_us, which must stay below the heartbeat interval,
 * hashicorp/raft #494), its authenticated inbound connection, and a ring of
 * at most queue_max_frames frames that drops its oldest frame when full.
 * With keys the ring holds payloads, sealed one at a time when written (the
 * nonce counter must follow the order on the wire); without, encoded plain
 * frames. Inbound connections wait in a small pool (max_inbound slots) until
 * they authenticate, then move to their peer. Handshake messages are small
 * and sent on fresh sockets, so they are written whole with one send() or
 * the connection is dropped. Every loop is bounded: per readiness event a
 * connection reads at most TCP_FRAMES_PER_EVENT frames and a peer writes at
 * most its queue length; level-triggered epoll brings the rest in the next
 * turn. */
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
#include <sodium.h>
#include "common/errmap.h"
#include "common/le.h"
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/msg.h"
#include "raft/tcp_auth.h"
#include "raft/transport.h"

#define TCP_DEFAULT_MAX_FRAME (17u << 20)
#define TCP_DEFAULT_QUEUE 256u
#define TCP_DEFAULT_BACKOFF_MIN_US (5 * FL_US_PER_MS)
#define TCP_DEFAULT_BACKOFF_MAX_US (50 * FL_US_PER_MS)
#define TCP_DEFAULT_CONNECT_TIMEOUT_US (100 * FL_US_PER_MS)
#define TCP_DEFAULT_STALL_TIMEOUT_US (1000 * FL_US_PER_MS)
#define TCP_DEFAULT_HANDSHAKE_TIMEOUT_US (1000 * FL_US_PER_MS)
#define TCP_DEFAULT_FRAME_TIMEOUT_US (5000 * FL_US_PER_MS)
#define TCP_DEFAULT_MAX_INBOUND 32u
#define TCP_DEFAULT_MAX_INBOUND_PER_ADDR 8u
#define TCP_KEEP_BUF_BYTES (64u * 1024u) /* larger receive buffers are freed after their frame */
#define TCP_FRAMES_PER_EVENT 64u
#define TCP_ACCEPTS_PER_EVENT 16u
#define TCP_LOG_INTERVAL_US FL_US_PER_S
#define TCP_NO_SLOT UINT32_MAX

_Static_assert(RAFT_TCP_KEY_BYTES == TA_KEY_BYTES, "key size");
_Static_assert(RAFT_TCP_MAX_KEYS == TA_MAX_KEYS, "key count");
/* An APPEND carrying one largest entry (the batch limit always lets one entry
 * through), with its message, append and entry headers and the arbiter's
 * one-byte prefix, fits a default frame: 1 MiB of room for the headers. */
_Static_assert(TCP_DEFAULT_MAX_FRAME >= RAFT_MSG_MAX_ENTRY_BYTES + (1u << 20), "a largest entry fits a default frame");

/* Frames whose bytes fit TCP_SMALL_FRAME_BYTES (heartbeats, their answers,
 * views) are allocated at that size and, once written, kept on the
 * transport's free list (at most TCP_FRAME_POOL_MAX) for the next one: the
 * heartbeat path allocates nothing once warm. Larger frames are freed. */
#define TCP_SMALL_FRAME_BYTES RAFT_TCP_SMALL_FRAME_BYTES
#define TCP_FRAME_POOL_MAX 256u

struct tcp_frame {
	struct tcp_frame *next; /* on the free list */
	bool small;             /* allocated with TCP_SMALL_FRAME_BYTES of bytes */
	uint32_t len;           /* plain: header + payload; sealed mode: payload */
	uint8_t bytes[];
};

struct raft_tcp;

enum tcp_conn_state {
	CS_CONNECTING,   /* outbound: connect in progress */
	CS_HELLO_SENT,   /* outbound: waiting for REPLY */
	CS_WAIT_HELLO,   /* inbound: waiting for HELLO (plain mode: for a first header) */
	CS_WAIT_FINISH,  /* inbound: REPLY sent, waiting for FINISH */
	CS_OPEN,         /* authenticated (or plain and identified): frames flow */
};

struct tcp_conn {
	struct raft_tcp *t;
	int fd;
	bool outbound;
	uint8_t state;           /* enum tcp_conn_state */
	struct tcp_peer *peer;   /* outbound: its peer; inbound: once identified */
	uint32_t slot;           /* inbound, unidentified: index in t->inbound */
	uint32_t addr;           /* inbound: source IPv4 address, network order */
	uint64_t opened_us;      /* inbound: accept time (oldest is evicted first) */
	uint64_t from_id;        /* inbound: sender, 0 before identified */
	struct fl_timer deadline; /* inbound: handshake or frame deadline */
	struct ta_hs hs;
	uint8_t hsbuf[TA_REPLY_BYTES]; /* handshake message being read */
	uint32_t hs_got;
	struct ta_session sess;
	uint8_t hdr[RAFT_TCP_FRAME_HEADER_BYTES];
	uint32_t hdr_got;
	uint8_t *buf;            /* inbound payload, allocated once the frame is accepted */
	uint32_t buf_cap, want, got;
	uint8_t *obuf;           /* outbound, sealed mode: the frame being written */
	uint32_t obuf_cap, obuf_len;
};

struct tcp_peer {
	bool used;
	uint64_t id;
	struct sockaddr_in addr;
	struct raft_tcp *t;
	struct tcp_conn *conn;   /* outbound connection, NULL when down */
	struct tcp_conn *in;     /* authenticated inbound connection, or NULL */
	struct fl_timer retry;   /* next connect, or the deadline of one in progress */
	uint64_t backoff_us;
	struct tcp_frame **ring; /* queue_max_frames slots */
	uint32_t head, len;
	uint32_t head_sent;      /* wire bytes of ring[head] already written */
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
	struct ta_keys keys;
	bool secure;
	int listen_fd;
	uint16_t port;
	uint32_t src_addr;         /* our listen address (network order): the source of our connections */
	struct tcp_peer peers[RAFT_TCP_MAX_PEERS];
	struct tcp_conn **inbound; /* max_inbound slots: not yet identified */
	struct tcp_ratelimit rl[RAFT_TCP_REJ_END];
	struct raft_tcp_stats stats;
	struct tcp_frame *frame_pool; /* free small frames */
	uint32_t frame_pool_n;
};

const char *raft_tcp_reject_name(enum raft_tcp_reject r)
{
	static const char *const names[RAFT_TCP_REJ_END] = {
		"address", "handshake", "auth", "frame", "oversize", "timeout", "evicted", "self"};
	return (unsigned)r < RAFT_TCP_REJ_END ? names[r] : "?";
}

/* Counts a refusal and logs it, at most once per second per reason. */
__attribute__((format(printf, 3, 4))) static void tcp_reject(struct raft_tcp *t, enum raft_tcp_reject why,
							     const char *fmt, ...)
{
	FL_ASSERT((unsigned)why < RAFT_TCP_REJ_END);
	t->stats.rejected[why]++;
	struct tcp_ratelimit *rl = &t->rl[why];
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

static bool tcp_addr_is_peer(const struct raft_tcp *t, uint32_t addr)
{
	for (uint32_t i = 0; i < RAFT_TCP_MAX_PEERS; i++)
		if (t->peers[i].used && t->peers[i].addr.sin_addr.s_addr == addr)
			return true;
	return false;
}

/* ---- connections ---- */

static void tcp_conn_free(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	if (c->fd >= 0) {
		fl_eloop_del_fd(t->el, c->fd);
		close(c->fd);
	}
	fl_timer_cancel(t->loop, &c->deadline);
	if (c->outbound) {
		FL_ASSERT(c->peer->conn == c);
		c->peer->conn = NULL;
	} else if (c->slot != TCP_NO_SLOT) {
		FL_ASSERT(t->inbound[c->slot] == c);
		t->inbound[c->slot] = NULL;
	} else {
		FL_ASSERT(c->peer != NULL);
		FL_ASSERT(c->peer->in == c);
		c->peer->in = NULL;
	}
	free(c->buf);
	free(c->obuf);
	sodium_memzero(&c->hs, sizeof(c->hs));
	sodium_memzero(&c->sess, sizeof(c->sess));
	free(c);
}

/* A frame of at least need bytes: a small one from the free list if it fits. */
static struct tcp_frame *tcp_frame_get(struct raft_tcp *t, uint32_t need)
{
	bool small = need <= TCP_SMALL_FRAME_BYTES;
	struct tcp_frame *f = small ? t->frame_pool : NULL;
	if (f != NULL) {
		FL_ASSERT(t->frame_pool_n > 0);
		FL_ASSERT(f->small);
		t->frame_pool = f->next;
		t->frame_pool_n--;
	} else {
		f = malloc(sizeof(*f) + (small ? TCP_SMALL_FRAME_BYTES : need));
		if (f == NULL)
			return NULL;
	}
	f->next = NULL;
	f->small = small;
	f->len = need;
	return f;
}

static void tcp_frame_put(struct raft_tcp *t, struct tcp_frame *f)
{
	if (!f->small || t->frame_pool_n >= TCP_FRAME_POOL_MAX) {
		free(f);
		return;
	}
	f->next = t->frame_pool;
	t->frame_pool = f;
	t->frame_pool_n++;
}

/* Whether ring[head] has started on the wire (its bytes, or its nonce). */
static bool tcp_head_busy(const struct tcp_peer *p)
{
	return p->head_sent > 0 || (p->conn != NULL && p->conn->obuf_len > 0);
}

static void tcp_pop_head(struct tcp_peer *p)
{
	FL_ASSERT(p->len > 0);
	struct tcp_frame *f = p->ring[p->head];
	p->queued_bytes -= f->len;
	tcp_frame_put(p->t, f);
	p->ring[p->head] = NULL;
	p->head = (p->head + 1) % p->t->cfg.queue_max_frames;
	p->len--;
	p->head_sent = 0;
	if (p->conn != NULL)
		p->conn->obuf_len = 0;
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
	if (p->head_sent > 0)
		tcp_pop_head(p);
	if (p->conn != NULL) {
		p->t->stats.disconnects += p->conn->state == CS_OPEN;
		tcp_conn_free(p->conn);
	}
	if (retry)
		tcp_schedule_retry(p);
}

static void tcp_out_event(void *arg, uint32_t events);

static int tcp_set_events(struct tcp_conn *c, uint32_t events)
{
	return fl_eloop_mod_fd(c->t->el, c->fd, events, tcp_out_event, c);
}

/* Writes a whole handshake message; false when the socket took less (a fresh
 * socket's buffer always holds ~100 bytes: anything else is a broken peer). */
static bool tcp_send_all(int fd, const uint8_t *b, size_t len)
{
	ssize_t n = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n == (ssize_t)len;
}

/* The wire bytes of ring[head]: the plain frame, or its sealed form (sealed
 * on first use, so nonces follow the order frames hit the wire). */
static const uint8_t *tcp_wire(struct tcp_peer *p, uint32_t *len)
{
	struct tcp_conn *c = p->conn;
	struct tcp_frame *f = p->ring[p->head];
	if (!p->t->secure) {
		*len = f->len;
		return f->bytes;
	}
	uint64_t need = ta_sealed_bytes(f->len);
	if (c->obuf_len == 0) {
		if (need > c->obuf_cap || (c->obuf_cap > TCP_KEEP_BUF_BYTES && need <= TCP_KEEP_BUF_BYTES)) {
			free(c->obuf);
			c->obuf = malloc(need);
			c->obuf_cap = c->obuf != NULL ? (uint32_t)need : 0;
			if (c->obuf == NULL)
				return NULL;
		}
		ta_seal(&c->sess, f->bytes, f->len, c->obuf);
		c->obuf_len = (uint32_t)need;
	}
	*len = c->obuf_len;
	return c->obuf;
}

/* Writes queued frames until the queue is empty or the socket is full. */
static void tcp_flush(struct tcp_peer *p)
{
	struct tcp_conn *c = p->conn;
	struct raft_tcp *t = p->t;
	FL_ASSERT(c != NULL);
	FL_ASSERT(c->state == CS_OPEN);
	uint32_t bound = p->len;
	for (uint32_t i = 0; i < bound && p->len > 0; i++) {
		uint32_t wlen;
		const uint8_t *w = tcp_wire(p, &wlen);
		if (w == NULL)
			break; /* out of memory: the next send or readiness retries */
		ssize_t n = send(c->fd, w + p->head_sent, wlen - p->head_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			(void)tcp_set_events(c, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n <= 0) {
			tcp_peer_disconnect(p, true);
			return;
		}
		p->head_sent += (uint32_t)n;
		if (p->head_sent < wlen) {
			(void)tcp_set_events(c, EPOLLIN | EPOLLOUT);
			return;
		}
		t->stats.frames_sent++;
		t->stats.bytes_sent += wlen;
		tcp_pop_head(p);
	}
	(void)tcp_set_events(c, p->len == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

/* An outbound connection is up: frames may flow. */
static void tcp_out_open(struct tcp_peer *p)
{
	struct raft_tcp *t = p->t;
	p->conn->state = CS_OPEN;
	fl_timer_cancel(t->loop, &p->retry);
	p->backoff_us = t->cfg.backoff_min_us;
	t->stats.connects++;
	tcp_flush(p);
}

/* True when a just-connected socket is connected to itself (TCP
 * simultaneous open on the port we dialled: a peer on this machine that is
 * down, and the kernel picked its port as our ephemeral one). Such a
 * connection would hold the peer's port when it restarts
 * (tests/unit/raft/test_transport_self_connect.c provokes one). */
static bool tcp_self_connected(int fd)
{
	struct sockaddr_in a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);
	if (getsockname(fd, (struct sockaddr *)&a, &al) != 0 || getpeername(fd, (struct sockaddr *)&b, &bl) != 0)
		return false;
	return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

/* The connect finished: checks it, then starts the handshake (or, plain,
 * opens at once). Returns false when p's connection was dropped. */
static bool tcp_out_connected(struct tcp_peer *p, uint32_t events)
{
	struct tcp_conn *c = p->conn;
	struct raft_tcp *t = p->t;
	int err = 0;
	socklen_t elen = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0 ||
	    (events & (EPOLLERR | EPOLLHUP))) {
		t->stats.connect_failures++;
		tcp_peer_disconnect(p, true);
		return false;
	}
	if (!(events & EPOLLOUT))
		return true;
	if (tcp_self_connected(c->fd)) {
		/* Closed abortively (RST): a normal close would leave the port in
		 * TIME_WAIT for a minute, and a listener cannot bind a port held
		 * by a TIME_WAIT socket that had no SO_REUSEADDR. */
		struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		tcp_reject(t, RAFT_TCP_REJ_SELF, "connection to host %llu connected to itself (the host is down); "
			   "closed so that its port stays free", (unsigned long long)p->id);
		t->stats.connect_failures++;
		tcp_peer_disconnect(p, true);
		return false;
	}
	if (!t->secure) {
		tcp_out_open(p);
		return p->conn != NULL;
	}
	uint8_t hello[TA_HELLO_BYTES];
	ta_hello_make(&c->hs, t->cfg.cluster_uuid, t->cfg.self_id, p->id, hello);
	if (!tcp_send_all(c->fd, hello, sizeof(hello)) || tcp_set_events(c, EPOLLIN) != 0) {
		tcp_peer_disconnect(p, true);
		return false;
	}
	c->state = CS_HELLO_SENT;
	fl_timer_after(t->loop, &p->retry, t->cfg.handshake_timeout_us);
	return true;
}

/* Reads into the handshake buffer up to want bytes: 1 when complete, 0 for
 * more later, -1 when the connection closed or failed. */
static int tcp_read_hs(struct tcp_conn *c, uint32_t want)
{
	FL_ASSERT(want <= sizeof(c->hsbuf));
	FL_ASSERT(c->hs_got < want);
	ssize_t n = recv(c->fd, c->hsbuf + c->hs_got, want - c->hs_got, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->hs_got += (uint32_t)n;
	return c->hs_got == want ? 1 : 0;
}

/* Initiator: REPLY arrived (or is arriving). */
static void tcp_out_reply(struct tcp_peer *p)
{
	struct tcp_conn *c = p->conn;
	struct raft_tcp *t = p->t;
	int rv = tcp_read_hs(c, TA_REPLY_BYTES);
	if (rv == 0)
		return;
	uint8_t finish[TA_FINISH_BYTES];
	if (rv > 0 && (rv = ta_reply_check(&c->hs, &t->keys, c->hsbuf, finish, &c->sess)) != 0) {
		tcp_reject(t, rv == -FL_EPERM ? RAFT_TCP_REJ_AUTH : RAFT_TCP_REJ_HANDSHAKE,
			   "host %llu failed the handshake (%s): %s", (unsigned long long)p->id, fl_strerror(rv),
			   rv == -FL_EPERM ? "it holds another cluster key, or it is not that host; check "
					     "[cluster] key_file on both" : "is it a fencelock of this version?");
	}
	sodium_memzero(&c->hs, sizeof(c->hs));
	if (rv != 0 || !tcp_send_all(c->fd, finish, sizeof(finish))) {
		tcp_peer_disconnect(p, true);
		return;
	}
	tcp_out_open(p);
}

static void tcp_out_event(void *arg, uint32_t events)
{
	struct tcp_conn *c = arg;
	struct tcp_peer *p = c->peer;
	if (c->state == CS_CONNECTING && !tcp_out_connected(p, events))
		return;
	if (c->state == CS_CONNECTING)
		return;
	if (c->state == CS_HELLO_SENT) {
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			tcp_out_reply(p);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		/* The peer never writes on our open outbound connection:
		 * readable means closed or reset. */
		uint8_t junk[256];
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n != 0 && (n > 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			tcp_flush(p);
			return;
		}
		tcp_peer_disconnect(p, true);
		return;
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
	c->outbound = true;
	c->state = CS_CONNECTING;
	c->slot = TCP_NO_SLOT;
	fl_timer_init(&c->deadline, NULL, NULL);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->conn = c;
	int one = 1;
	/* Unacknowledged data older than this aborts the connection (a peer
	 * gone without FIN or RST): we reconnect instead of waiting for TCP's
	 * retransmission back-off, which grows to minutes. */
	unsigned int user_timeout_ms = (unsigned int)(t->cfg.stall_timeout_us / FL_US_PER_MS);
	if (c->fd >= 0)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
	/* From the address we listen on: it is the one our peers have for us,
	 * and they accept connections from nothing else. */
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = t->src_addr};
	if (c->fd >= 0 && t->src_addr != htonl(INADDR_ANY))
		(void)bind(c->fd, (struct sockaddr *)&src, sizeof(src));
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
	if (p->conn != NULL && p->conn->state != CS_OPEN) {
		p->t->stats.connect_failures++;
		if (p->conn->state == CS_HELLO_SENT)
			tcp_reject(p->t, RAFT_TCP_REJ_TIMEOUT, "host %llu did not answer the handshake in time",
				   (unsigned long long)p->id);
		tcp_peer_disconnect(p, false);
	}
	if (p->conn == NULL)
		tcp_connect(p);
}

/* ---- inbound ---- */

static void tcp_in_event(void *arg, uint32_t events);

static void tcp_deadline_fire(struct fl_timer *timer, void *arg)
{
	struct tcp_conn *c = arg;
	(void)timer;
	tcp_reject(c->t, RAFT_TCP_REJ_TIMEOUT, "%s did not complete in time; connection dropped",
		   c->state == CS_OPEN ? (c->from_id ? "a frame" : "a first frame") : "a handshake");
	tcp_conn_free(c);
}

/* The connection has proved who it is (from): it leaves the pool for its
 * peer's slot. One inbound connection per peer, the newest: an older one is
 * from before the peer restarted or reconnected, possibly half-open after a
 * partition, and would be read forever. */
static void tcp_in_identified(struct tcp_conn *c, struct tcp_peer *p)
{
	struct raft_tcp *t = c->t;
	FL_ASSERT(c->slot != TCP_NO_SLOT);
	FL_ASSERT(t->inbound[c->slot] == c);
	t->inbound[c->slot] = NULL;
	c->slot = TCP_NO_SLOT;
	if (p->in != NULL) {
		t->stats.replaced_inbound++;
		tcp_conn_free(p->in);
	}
	p->in = c;
	c->peer = p;
	c->from_id = p->id;
	c->state = CS_OPEN;
	fl_timer_cancel(t->loop, &c->deadline);
}

/* Checks a claimed sender: a configured peer, at the connection's source
 * address. Returns the peer or NULL (counted). */
static struct tcp_peer *tcp_in_sender(struct tcp_conn *c, uint64_t from)
{
	struct raft_tcp *t = c->t;
	struct tcp_peer *p = tcp_peer_find(t, from);
	if (p == NULL) {
		t->stats.dropped_unknown++;
		tcp_reject(t, RAFT_TCP_REJ_HANDSHAKE, "dropped a connection from host %llu, which is not a configured peer",
			   (unsigned long long)from);
		return NULL;
	}
	if (p->addr.sin_addr.s_addr != c->addr) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &c->addr, ip, sizeof(ip));
		tcp_reject(t, RAFT_TCP_REJ_ADDRESS, "a connection from %s claimed to be host %llu, which is configured "
			   "at another address; dropped", ip, (unsigned long long)from);
		return NULL;
	}
	return p;
}

/* Responder: HELLO, then FINISH. Returns 1 when the connection may go on
 * reading, 0 to wait for data, -1 to drop it. */
static int tcp_in_handshake(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	bool hello = c->state == CS_WAIT_HELLO;
	int rv = tcp_read_hs(c, hello ? TA_HELLO_BYTES : TA_FINISH_BYTES);
	if (rv == 0 && c->hs_got >= 4 && fl_get_le32(c->hsbuf) != (hello ? TA_HELLO_MAGIC : TA_FINISH_MAGIC))
		rv = 1; /* not a handshake: refused now, not at the deadline */
	if (rv <= 0)
		return rv;
	c->hs_got = 0;
	if (hello) {
		uint64_t from = 0;
		rv = ta_hello_check(c->hsbuf, t->cfg.cluster_uuid, t->cfg.self_id, &from);
		if (rv != 0) {
			if (rv == -FL_EFOREIGN)
				t->stats.dropped_foreign++;
			else
				t->stats.dropped_bad_frame++;
			tcp_reject(t, RAFT_TCP_REJ_HANDSHAKE, "inbound handshake refused (%s): another cluster, another "
				   "host, or not a fencelock of this version", fl_strerror(rv));
			return -1;
		}
		struct tcp_peer *p = tcp_in_sender(c, from);
		uint8_t reply[TA_REPLY_BYTES];
		if (p == NULL)
			return -1;
		c->from_id = 0;
		ta_reply_make(&c->hs, &t->keys, c->hsbuf, reply);
		c->state = CS_WAIT_FINISH;
		return tcp_send_all(c->fd, reply, sizeof(reply)) ? 1 : -1;
	}
	struct tcp_peer *p = tcp_peer_find(t, c->hs.init_id);
	rv = ta_finish_check(&c->hs, &t->keys, c->hsbuf, &c->sess);
	sodium_memzero(&c->hs, sizeof(c->hs));
	if (rv != 0 || p == NULL) {
		tcp_reject(t, rv == -FL_EPERM ? RAFT_TCP_REJ_AUTH : RAFT_TCP_REJ_HANDSHAKE,
			   "inbound connection failed the handshake (%s): it does not hold our cluster key; check "
			   "[cluster] key_file on the host at that address", fl_strerror(rv ? rv : -FL_ENOENT));
		return -1;
	}
	t->stats.handshakes++;
	tcp_in_identified(c, p);
	return 1;
}

/* Plain mode: checks a complete header (magic, version, length, cluster,
 * receiver, sender at its address) before a byte of payload is allocated.
 * Returns false (connection to be dropped) on any problem. */
static bool tcp_plain_header_ok(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	uint64_t from = fl_get_le64(c->hdr + 24), to = fl_get_le64(c->hdr + 32);
	if (fl_get_le32(c->hdr) != RAFT_TCP_MAGIC || fl_get_le16(c->hdr + 4) != RAFT_TCP_VERSION ||
	    fl_get_le16(c->hdr + 6) != RAFT_TCP_FRAME_HEADER_BYTES) {
		t->stats.dropped_bad_frame++;
		tcp_reject(t, RAFT_TCP_REJ_HANDSHAKE, "inbound connection sent a frame with a bad magic or version; "
			   "dropping it (is a non-fencelock client, or a host with cluster keys, connecting?)");
		return false;
	}
	if (memcmp(c->hdr + 8, t->cfg.cluster_uuid, 16) != 0 || to != t->cfg.self_id) {
		t->stats.dropped_foreign++;
		tcp_reject(t, RAFT_TCP_REJ_HANDSHAKE, "dropped a frame from host %llu to host %llu of another cluster "
			   "or host; check the cluster uuid and peer addresses in its configuration",
			   (unsigned long long)from, (unsigned long long)to);
		return false;
	}
	if (c->from_id != 0 && from != c->from_id) {
		t->stats.dropped_bad_frame++;
		tcp_reject(t, RAFT_TCP_REJ_FRAME, "host %llu's connection changed its sender to %llu; dropped",
			   (unsigned long long)c->from_id, (unsigned long long)from);
		return false;
	}
	if (c->from_id == 0) {
		struct tcp_peer *p = tcp_in_sender(c, from);
		if (p == NULL)
			return false;
		tcp_in_identified(c, p);
	}
	return true;
}

/* A complete header: checks it and makes room for exactly its payload. */
static bool tcp_header_ok(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	int64_t len;
	if (t->secure) {
		len = ta_frame_len(c->hdr, t->cfg.max_frame_bytes);
	} else {
		if (!tcp_plain_header_ok(c))
			return false;
		len = fl_get_le32(c->hdr + 40);
		if (len > t->cfg.max_frame_bytes)
			len = -1;
	}
	if (len < 0) {
		t->stats.dropped_oversize++;
		tcp_reject(t, RAFT_TCP_REJ_OVERSIZE, "host %llu sent a frame above the maximum of %u bytes; dropping "
			   "the connection (check max_frame_bytes on both hosts)", (unsigned long long)c->from_id,
			   t->cfg.max_frame_bytes);
		return false;
	}
	if ((uint64_t)len > c->buf_cap) {
		free(c->buf);
		c->buf = malloc((size_t)len);
		c->buf_cap = c->buf != NULL ? (uint32_t)len : 0;
		if (c->buf == NULL)
			return false;
	}
	c->want = (uint32_t)len;
	c->got = 0;
	return true;
}

/* Checks a complete frame and delivers it. Returns false to drop the conn. */
static bool tcp_frame_done(struct tcp_conn *c)
{
	struct raft_tcp *t = c->t;
	uint32_t len = c->want;
	if (t->secure && ta_open(&c->sess, c->hdr, c->buf, c->want) != 0) {
		t->stats.dropped_bad_frame++;
		tcp_reject(t, RAFT_TCP_REJ_FRAME, "frame from host %llu failed authentication (forged, altered, "
			   "replayed or out of order); dropping the connection", (unsigned long long)c->from_id);
		return false;
	}
	if (t->secure) {
		len -= TA_TAG_BYTES;
	} else {
		uint32_t crc = fl_crc32c(~0u, c->hdr, 44);
		crc = ~fl_crc32c(crc, c->buf, c->want);
		if (crc != fl_get_le32(c->hdr + 44)) {
			t->stats.dropped_bad_frame++;
			tcp_reject(t, RAFT_TCP_REJ_FRAME, "frame from host %llu has a bad CRC; dropping the connection",
				   (unsigned long long)c->from_id);
			return false;
		}
	}
	fl_timer_cancel(t->loop, &c->deadline);
	c->hdr_got = 0;
	t->stats.frames_received++;
	t->stats.bytes_received += (t->secure ? TA_FRAME_HDR_BYTES : RAFT_TCP_FRAME_HEADER_BYTES) + c->want;
	t->cfg.deliver(t->cfg.deliver_arg, c->from_id, c->buf, len);
	if (c->buf_cap > TCP_KEEP_BUF_BYTES) {
		free(c->buf);
		c->buf = NULL;
		c->buf_cap = 0;
	}
	return true;
}

/* Reads what is available into the current frame. Returns 1 when a frame is
 * complete, 2 when its header is, 0 when the socket has no more data, -1 to
 * drop the connection. */
static int tcp_read_some(struct tcp_conn *c)
{
	uint32_t hdr_bytes = c->t->secure ? TA_FRAME_HDR_BYTES : RAFT_TCP_FRAME_HEADER_BYTES;
	uint8_t *dst;
	size_t room;
	if (c->hdr_got < hdr_bytes) {
		dst = c->hdr + c->hdr_got;
		room = hdr_bytes - c->hdr_got;
	} else {
		dst = c->buf + c->got;
		room = c->want - c->got;
	}
	ssize_t n = room > 0 ? recv(c->fd, dst, room, MSG_DONTWAIT) : 0;
	if (room > 0 && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (room > 0 && n <= 0)
		return -1;
	if (c->hdr_got < hdr_bytes) {
		/* A frame begun must end in time (a stalled peer holds nothing). */
		if (c->hdr_got == 0 && !fl_timer_armed(&c->deadline))
			fl_timer_after(c->t->loop, &c->deadline, c->t->cfg.frame_timeout_us);
		c->hdr_got += (uint32_t)n;
		if (c->hdr_got < hdr_bytes)
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
		int rv;
		if (c->t->secure && c->state != CS_OPEN) {
			rv = tcp_in_handshake(c);
			if (rv == 0)
				return;
			if (rv < 0) {
				tcp_conn_free(c);
				return;
			}
			continue;
		}
		rv = tcp_read_some(c);
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

/* The victim among two candidates: the one still before its HELLO ([0]),
 * else the one further in its handshake ([1]). */
static uint32_t tcp_pool_pick(const uint32_t cand[2])
{
	return cand[0] != TCP_NO_SLOT ? cand[0] : cand[1];
}

/* Makes room in the pool for a connection from addr: when that address has
 * its share, or the pool is full, its oldest connection that has not sent a
 * HELLO goes, and only when none is left the oldest of those further in the
 * handshake (a real peer sends its HELLO with its connect and finishes in
 * one round trip; what lingers silent or half-sent is what stalls).
 * Authenticated connections are never here: they hold their peer's slot.
 * Returns a free slot. */
static uint32_t tcp_pool_slot(struct raft_tcp *t, uint32_t addr)
{
	uint32_t free_slot = TCP_NO_SLOT, same = 0;
	uint32_t oldest[2] = {TCP_NO_SLOT, TCP_NO_SLOT}, oldest_same[2] = {TCP_NO_SLOT, TCP_NO_SLOT};
	for (uint32_t i = 0; i < t->cfg.max_inbound; i++) {
		struct tcp_conn *o = t->inbound[i];
		if (o == NULL) {
			free_slot = free_slot == TCP_NO_SLOT ? i : free_slot;
			continue;
		}
		FL_ASSERT(o->state != CS_OPEN || !t->secure); /* the pool holds no authenticated connection */
		uint32_t k = o->state == CS_WAIT_HELLO ? 0 : 1;
		if (oldest[k] == TCP_NO_SLOT || o->opened_us < t->inbound[oldest[k]]->opened_us)
			oldest[k] = i;
		if (o->addr != addr)
			continue;
		same++;
		if (oldest_same[k] == TCP_NO_SLOT || o->opened_us < t->inbound[oldest_same[k]]->opened_us)
			oldest_same[k] = i;
	}
	uint32_t victim = same >= t->cfg.max_inbound_per_addr ? tcp_pool_pick(oldest_same)
			  : free_slot == TCP_NO_SLOT ? tcp_pool_pick(oldest) : TCP_NO_SLOT;
	if (victim == TCP_NO_SLOT)
		return free_slot;
	tcp_reject(t, RAFT_TCP_REJ_EVICTED, "too many unauthenticated connections (%u from one address, %u in all); "
		   "the oldest was closed", same, t->cfg.max_inbound);
	tcp_conn_free(t->inbound[victim]);
	return victim;
}

static void tcp_accept_one(struct raft_tcp *t, int fd, const struct sockaddr_in *from)
{
	uint32_t addr = from->sin_addr.s_addr;
	if (!tcp_addr_is_peer(t, addr)) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &from->sin_addr, ip, sizeof(ip));
		t->stats.refused_inbound++;
		tcp_reject(t, RAFT_TCP_REJ_ADDRESS, "refused an inbound connection from %s: no configured peer has "
			   "that address", ip);
		close(fd);
		return;
	}
	uint32_t slot = tcp_pool_slot(t, addr);
	FL_ASSERT(slot < t->cfg.max_inbound);
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->t = t;
	c->fd = fd;
	c->slot = slot;
	c->addr = addr;
	c->opened_us = fl_now_us(t->loop);
	c->state = CS_WAIT_HELLO;
	fl_timer_init(&c->deadline, tcp_deadline_fire, c);
	t->inbound[slot] = c;
	if (fl_eloop_add_fd(t->el, fd, EPOLLIN, tcp_in_event, c) != 0) {
		c->fd = -1;
		close(fd);
		tcp_conn_free(c);
		return;
	}
	/* With keys the handshake has a deadline; a plain connection may stay
	 * idle (an outbound connection opens before its first frame) and
	 * only its frames have one, and the pool's eviction bounds both. */
	if (t->secure)
		fl_timer_after(t->loop, &c->deadline, t->cfg.handshake_timeout_us);
	t->stats.accepts++;
}

static void tcp_listen_event(void *arg, uint32_t events)
{
	struct raft_tcp *t = arg;
	(void)events;
	for (uint32_t i = 0; i < TCP_ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		int fd = accept4(t->listen_fd, (struct sockaddr *)&from, &flen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or an error the next turn retries */
		if (flen != sizeof(from) || from.sin_family != AF_INET) {
			close(fd);
			continue;
		}
		tcp_accept_one(t, fd, &from);
	}
}

/* ---- public ---- */

static int tcp_send_op(struct raft_transport *base, uint64_t to, const void *payload, uint32_t len)
{
	return raft_tcp_send((struct raft_tcp *)base, to, payload, len);
}

static const struct raft_transport_ops tcp_ops = {.send = tcp_send_op};

/* The ring's form of a frame: the payload (sealed when written) with keys,
 * the whole plain frame without. */
static struct tcp_frame *tcp_encode(struct raft_tcp *t, uint64_t to, const void *payload, uint32_t len)
{
	uint32_t hdr = t->secure ? 0 : RAFT_TCP_FRAME_HEADER_BYTES;
	struct tcp_frame *f = tcp_frame_get(t, hdr + len);
	if (f == NULL)
		return NULL;
	uint8_t *h = f->bytes;
	if (len > 0)
		memcpy(h + hdr, payload, len);
	if (t->secure)
		return f;
	fl_put_le32(h, RAFT_TCP_MAGIC);
	fl_put_le16(h + 4, RAFT_TCP_VERSION);
	fl_put_le16(h + 6, RAFT_TCP_FRAME_HEADER_BYTES);
	memcpy(h + 8, t->cfg.cluster_uuid, 16);
	fl_put_le64(h + 24, t->cfg.self_id);
	fl_put_le64(h + 32, to);
	fl_put_le32(h + 40, len);
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
	if (!tcp_head_busy(p)) {
		tcp_pop_head(p);
		return true;
	}
	if (cap == 1)
		return false;
	/* Evict the second-oldest: move the head into its slot. */
	uint32_t second = (p->head + 1) % cap;
	p->queued_bytes -= p->ring[second]->len;
	tcp_frame_put(p->t, p->ring[second]);
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
	if (p->conn != NULL && p->conn->state == CS_OPEN)
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
	t->src_addr = a.sin_addr.s_addr;
	int rv = fl_eloop_add_fd(t->el, t->listen_fd, EPOLLIN, tcp_listen_event, t);
	if (rv != 0)
		snprintf(err, errlen, "cannot watch the listening socket: %s", fl_strerror(rv));
	return rv;
}

#define TCP_DEFAULT(field, value) \
	do { \
		if (c->field == 0) \
			c->field = (value); \
	} while (0)

static void tcp_apply_defaults(struct raft_tcp_config *c)
{
	TCP_DEFAULT(max_frame_bytes, TCP_DEFAULT_MAX_FRAME);
	TCP_DEFAULT(queue_max_frames, TCP_DEFAULT_QUEUE);
	TCP_DEFAULT(backoff_min_us, TCP_DEFAULT_BACKOFF_MIN_US);
	TCP_DEFAULT(backoff_max_us, TCP_DEFAULT_BACKOFF_MAX_US);
	if (c->backoff_max_us < c->backoff_min_us)
		c->backoff_max_us = c->backoff_min_us;
	TCP_DEFAULT(max_inbound, TCP_DEFAULT_MAX_INBOUND);
	TCP_DEFAULT(max_inbound_per_addr, TCP_DEFAULT_MAX_INBOUND_PER_ADDR);
	TCP_DEFAULT(connect_timeout_us, TCP_DEFAULT_CONNECT_TIMEOUT_US);
	TCP_DEFAULT(stall_timeout_us, TCP_DEFAULT_STALL_TIMEOUT_US);
	TCP_DEFAULT(handshake_timeout_us, TCP_DEFAULT_HANDSHAKE_TIMEOUT_US);
	TCP_DEFAULT(frame_timeout_us, TCP_DEFAULT_FRAME_TIMEOUT_US);
}

static void tcp_store_keys(struct raft_tcp *t, uint32_t n, const uint8_t keys[][RAFT_TCP_KEY_BYTES])
{
	sodium_memzero(&t->keys, sizeof(t->keys));
	t->keys.n = n;
	for (uint32_t i = 0; i < n; i++)
		memcpy(t->keys.key[i], keys[i], TA_KEY_BYTES);
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
	if (cfg->self_id == 0 || cfg->deliver == NULL || cfg->n_keys > RAFT_TCP_MAX_KEYS) {
		snprintf(err, errlen, "raft tcp: self_id, the deliver callback and at most %u keys are required",
			 RAFT_TCP_MAX_KEYS);
		return -FL_EINVAL;
	}
	if (cfg->n_keys > 0 && ta_init() != 0) {
		snprintf(err, errlen, "raft tcp: libsodium failed to initialise");
		return -FL_ENOMEM;
	}
	struct raft_tcp *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -FL_ENOMEM;
	t->base.ops = &tcp_ops;
	t->el = el;
	t->loop = fl_eloop_loop(el);
	t->cfg = *cfg;
	t->secure = cfg->n_keys > 0;
	tcp_store_keys(t, cfg->n_keys, cfg->keys);
	sodium_memzero(t->cfg.keys, sizeof(t->cfg.keys)); /* one copy: t->keys */
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
	if (p->in != NULL)
		tcp_conn_free(p->in);
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
	while (t->frame_pool != NULL) {
		struct tcp_frame *f = t->frame_pool;
		t->frame_pool = f->next;
		free(f);
	}
	sodium_memzero(&t->keys, sizeof(t->keys));
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
	return 0;
}

static bool tcp_key_listed(const struct raft_tcp *t, const uint8_t id[TA_KEY_ID_BYTES])
{
	for (uint32_t i = 0; i < t->keys.n; i++) {
		uint8_t k[TA_KEY_ID_BYTES];
		ta_key_id(t->keys.key[i], k);
		if (memcmp(k, id, TA_KEY_ID_BYTES) == 0)
			return true;
	}
	return false;
}

int raft_tcp_set_keys(struct raft_tcp *t, uint32_t n, const uint8_t keys[][RAFT_TCP_KEY_BYTES])
{
	if (!t->secure || n < 1 || n > RAFT_TCP_MAX_KEYS)
		return -FL_EINVAL;
	tcp_store_keys(t, n, keys);
	/* Sessions made with a key no longer held end now: a removed key is
	 * a key that must not speak any more. */
	for (uint32_t i = 0; i < RAFT_TCP_MAX_PEERS; i++) {
		struct tcp_peer *p = &t->peers[i];
		if (!p->used)
			continue;
		if (p->in != NULL && !tcp_key_listed(t, p->in->sess.key_id))
			tcp_conn_free(p->in);
		if (p->conn != NULL && p->conn->state == CS_OPEN && !tcp_key_listed(t, p->conn->sess.key_id)) {
			tcp_peer_disconnect(p, false);
			tcp_connect(p);
		}
	}
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
	return p != NULL && p->conn != NULL && p->conn->state == CS_OPEN;
}

const struct raft_tcp_stats *raft_tcp_get_stats(const struct raft_tcp *t) { return &t->stats; }
