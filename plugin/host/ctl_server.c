/* Control socket server (see ctl_server.h).
 *
 * Two sides. The client side (the server's own thread, or the owner's loop
 * without own_thread) owns the listening socket and every client slot: it
 * reads, parses, checks credentials, answers read ops at once from
 * read_handlers, and writes replies. The owner side (the owner's loop) runs
 * handlers[]. A call crosses between them through two rings, each guarded by
 * a mutex held for a few instructions only and announced by an eventfd:
 * "in" (client side to owner, bounded by queue_max: when full the caller
 * gets FL_EAGAIN at once) and "done" (owner to client side; it never holds
 * more than the calls in flight, so it is sized like "in"). While a call is
 * with the owner its slot is not reused: a client that disconnects then
 * becomes a zombie whose slot is freed when the call comes back, so the
 * owner never holds a dangling call.
 *
 * Every client owns a read buffer and a write buffer that start empty and
 * grow as a frame needs (a request at most CTL_MSG_MAX_BYTES, pending
 * replies at most CTL_WBUF_MAX_BYTES); an idle client costs its slot (a few
 * hundred bytes) and its socket. epoll interest follows the client's state:
 * EPOLLIN only while no call is pending and the client is not closing,
 * EPOLLOUT only while replies wait to be written. */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include "common/assert.h"
#include "common/pi_mutex.h"
#include "common/errmap.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_server.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#define CTL_RBUF_MAX (CTL_HDR_BYTES + CTL_MSG_MAX_BYTES)
#define CTL_RBUF_MIN 4096u
#define CTL_ACCEPT_BATCH 64
#define CTL_OWNER_BATCH 64            /* calls the owner runs per wake-up */
#define CTL_PEER_GROUPS_MAX 256
#define CTL_LISTEN_BACKLOG 4096
#define CTL_THREAD_STACK_BYTES (1024u * 1024u) /* the control thread's stack (server_start) */

struct ctl_call {
	struct ctl_client *client;
	json_t *msg;                 /* the request; req's strings point into it */
	json_t *reply;
	struct ctl_req req;
	int rv;                      /* the result, set when finished by the owner */
	int pidfd;                   /* vm.acquire: pidfd of the checked req.pid, or -1 */
	struct ctl_call *next_done;  /* owner side: finished, not yet handed back */
	char err[CTL_ERR_MAX];
	/* A remote call (client == NULL): its caller and where it goes when finished. */
	struct ctl_peer rpeer;
	ctl_remote_done_fn rdone;
	void *rctx;
};

struct ctl_client {
	struct ctl_server *srv;
	int fd;                      /* -1 when closed (free or zombie) */
	bool used;                   /* slot taken (open or zombie) */
	bool pending;                /* the call is with the owner */
	bool closing;                /* close once the write buffer is flushed */
	bool overflow;               /* a reply did not fit: it does not read; drop it */
	struct ctl_peer peer;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *wbuf;
	size_t wlen, woff, wcap;
	struct fl_timer idle;        /* no request for idle_timeout */
	struct fl_timer frame;       /* a begun frame not completed in time */
	struct ctl_call call;
};

/* A bounded ring of calls between the two sides. */
struct ctl_ring {
	pthread_mutex_t mu;
	struct ctl_call **items;
	uint32_t cap, head, len;
	int efd;                     /* eventfd: readable while items may wait */
};

struct ctl_uid_count {
	uid_t uid;
	uint32_t n;
};

struct ctl_server {
	struct fl_eloop *owner_el;   /* handlers[] run here */
	struct fl_loop *owner_loop;
	struct fl_eloop *el;         /* the clients are served here */
	struct fl_loop *loop;
	bool threaded;
	pthread_t thread;
	volatile bool stop;          /* written by the owner, read by the server thread */
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_server_opts opts;
	struct ctl_backend backend;
	struct ctl_server_stats stats; /* written by the client side only (atomically) */
	struct ctl_client *clients;  /* opts.max_clients slots */
	uint32_t n_privileged, n_other;
	struct ctl_uid_count *uids;  /* unprivileged uids connected; n_uids used */
	uint32_t n_uids;
	struct ctl_ring in, done;
	struct ctl_call *done_head;  /* owner side: finished calls to hand back */
	struct fl_timer done_flush;  /* owner side: hands them back in one batch */
};

#define STAT_ADD(s, field, v) __atomic_add_fetch(&(s)->stats.field, (v), __ATOMIC_RELAXED)

static void client_on_event(void *arg, uint32_t events);
static void client_update(struct ctl_client *c);
static void client_process(struct ctl_client *c);

/* ---- rings ---- */

static int ring_init(struct ctl_ring *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->efd = -1;
	r->items = calloc(cap, sizeof(*r->items));
	if (r->items == NULL)
		return -FL_ENOMEM;
	r->cap = cap;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0)
		return fl_from_errno(errno);
	fl_pi_mutex_init(&r->mu);
	return 0;
}

static void ring_free(struct ctl_ring *r)
{
	if (r->efd >= 0) {
		close(r->efd);
		pthread_mutex_destroy(&r->mu);
	}
	free(r->items);
	r->items = NULL;
	r->efd = -1;
}

static void ring_kick(struct ctl_ring *r)
{
	uint64_t one = 1;
	ssize_t n = write(r->efd, &one, sizeof(one));
	(void)n; /* a counter at its maximum is still readable: nothing lost */
}

/* Appends call; false when the ring is full. Never blocks on a client. */
static bool ring_push(struct ctl_ring *r, struct ctl_call *call)
{
	pthread_mutex_lock(&r->mu);
	bool ok = r->len < r->cap;
	if (ok)
		r->items[(r->head + r->len++) % r->cap] = call;
	pthread_mutex_unlock(&r->mu);
	return ok;
}

/* Takes up to max calls into out; returns how many. */
static uint32_t ring_pop(struct ctl_ring *r, struct ctl_call **out, uint32_t max)
{
	pthread_mutex_lock(&r->mu);
	uint32_t n = FL_MIN(max, r->len);
	for (uint32_t i = 0; i < n; i++) {
		out[i] = r->items[r->head];
		r->head = (r->head + 1) % r->cap;
	}
	r->len -= n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static void ring_drain_efd(struct ctl_ring *r)
{
	uint64_t v;
	ssize_t n = read(r->efd, &v, sizeof(v));
	(void)n;
}

/* ---- per-uid accounting (client side) ---- */

static struct ctl_uid_count *uid_entry(struct ctl_server *s, uid_t uid)
{
	for (uint32_t i = 0; i < s->n_uids; i++)
		if (s->uids[i].uid == uid)
			return &s->uids[i];
	return NULL;
}

static void uid_account(struct ctl_server *s, const struct ctl_peer *p, int delta)
{
	if (p->privileged) {
		s->n_privileged = (uint32_t)((int)s->n_privileged + delta);
		return;
	}
	s->n_other = (uint32_t)((int)s->n_other + delta);
	struct ctl_uid_count *e = uid_entry(s, p->uid);
	if (e == NULL) {
		FL_ASSERT(delta > 0);
		FL_ASSERT(s->n_uids < s->opts.max_clients);
		e = &s->uids[s->n_uids++];
		*e = (struct ctl_uid_count){.uid = p->uid};
	}
	e->n = (uint32_t)((int)e->n + delta);
	if (e->n == 0)
		*e = s->uids[--s->n_uids];
}

/* Why a new client with these credentials may not have a slot, or NULL.
 * Each side (privileged; everyone else) may use every slot except the
 * `reserved` kept for the other side, less those the other side uses now;
 * an unprivileged uid has at most max_per_uid. */
static const char *admit_refusal(struct ctl_server *s, const struct ctl_peer *p)
{
	uint32_t used = s->n_privileged + s->n_other;
	uint32_t other_side = p->privileged ? s->n_other : s->n_privileged;
	uint32_t kept = s->opts.reserved > other_side ? s->opts.reserved - other_side : 0;
	FL_ASSERT(kept < s->opts.max_clients);
	if (used >= s->opts.max_clients - kept)
		return "too many control clients; retry later";
	if (p->privileged)
		return NULL;
	struct ctl_uid_count *e = uid_entry(s, p->uid);
	if (e != NULL && e->n >= s->opts.max_per_uid)
		return "too many control connections from this uid; close some or retry later";
	return NULL;
}

/* ---- clients ---- */

static void client_release_slot(struct ctl_client *c)
{
	struct ctl_server *s = c->srv;
	FL_ASSERT(c->fd < 0);
	FL_ASSERT(!c->pending);
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->rcap = c->wcap = 0;
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	c->peer.pidfd = -1;
	uid_account(s, &c->peer, -1);
	c->used = false;
	__atomic_sub_fetch(&s->stats.clients, 1, __ATOMIC_RELAXED);
}

static void client_close(struct ctl_client *c)
{
	FL_ASSERT(c->used);
	FL_ASSERT(c->fd >= 0);
	fl_eloop_del_fd(c->srv->el, c->fd);
	close(c->fd);
	c->fd = -1;
	fl_timer_cancel(c->srv->loop, &c->idle);
	fl_timer_cancel(c->srv->loop, &c->frame);
	if (!c->pending)
		client_release_slot(c); /* else: zombie until the call comes back */
}

static void client_drop(struct ctl_client *c, const char *why)
{
	fl_info("control socket %s: dropping client pid %d uid %u: %s", c->srv->path,
		(int)c->peer.pid, (unsigned)c->peer.uid, why);
	STAT_ADD(c->srv, dropped, 1);
	client_close(c);
}

/* Makes room for need more bytes in the write buffer; false beyond the bound. */
static bool wbuf_reserve(struct ctl_client *c, size_t need)
{
	if (c->woff > 0 && c->wlen + need > c->wcap) { /* drop what is sent */
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + need <= c->wcap)
		return true;
	if (c->wlen + need > CTL_WBUF_MAX_BYTES)
		return false;
	size_t cap = FL_MAX(c->wcap * 2, FL_MAX(c->wlen + need, (size_t)CTL_RBUF_MIN));
	cap = FL_MIN(cap, (size_t)CTL_WBUF_MAX_BYTES);
	uint8_t *p = realloc(c->wbuf, cap);
	if (p == NULL)
		return false;
	c->wbuf = p;
	c->wcap = cap;
	return true;
}

/* Appends one framed message to the write buffer; false if it cannot. */
static bool client_queue(struct ctl_client *c, const json_t *msg)
{
	uint8_t *frame;
	size_t len;
	int rv = ctl_frame_pack(msg, CTL_REPLY_MAX_BYTES, &frame, &len);
	if (rv == -FL_ENOSPC) {
		json_t *e = ctl_resp_error(-FL_ENOSPC, "reply larger than the protocol limit; ask for less");
		rv = e == NULL ? -FL_ENOMEM : ctl_frame_pack(e, CTL_REPLY_MAX_BYTES, &frame, &len);
		json_decref(e);
	}
	if (rv != 0)
		return false;
	bool fits = wbuf_reserve(c, len);
	if (fits) {
		memcpy(c->wbuf + c->wlen, frame, len);
		c->wlen += len;
	}
	free(frame);
	return fits;
}

static void client_reply_error(struct ctl_client *c, int code, const char *msg)
{
	STAT_ADD(c->srv, errors, 1);
	json_t *e = ctl_resp_error(code, msg);
	if (e == NULL || !client_queue(c, e))
		c->overflow = true;
	json_decref(e);
}

static void call_reset(struct ctl_call *call)
{
	if (call->pidfd >= 0)
		close(call->pidfd);
	call->pidfd = -1;
	json_decref(call->msg);
	json_decref(call->reply);
	call->msg = call->reply = NULL;
	call->err[0] = '\0';
}

/* Sends the reply of a finished call (or drops it for a zombie). */
static void call_complete(struct ctl_call *call, int rv)
{
	struct ctl_client *c = call->client;
	FL_ASSERT(rv <= 0);
	if (c->fd >= 0) {
		if (rv == 0) {
			if (!client_queue(c, call->reply))
				c->overflow = true;
		} else {
			client_reply_error(c, rv, call->err[0] != '\0' ? call->err : NULL);
		}
	}
	call_reset(call);
}

/* True if pid is ancestor or descends from it, following the parent links
 * of /proc/PID/stat (bounded: a chain longer than 256 is refused). */
static bool pid_descends_from(pid_t pid, pid_t ancestor)
{
	for (int depth = 0; depth < 256; depth++) {
		if (pid == ancestor)
			return true;
		if (pid <= 1)
			return false;
		char path[64], buf[1024];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		FILE *f = fopen(path, "re");
		size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f != NULL)
			fclose(f);
		buf[n] = '\0';
		/* "PID (COMM) STATE PPID ...": COMM may hold anything, even ") ". */
		const char *close_paren = strrchr(buf, ')');
		int ppid;
		if (close_paren == NULL || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
			return false;
		pid = (pid_t)ppid;
	}
	return false;
}

/* vm.acquire names the process the daemon will guard and, at a kill,
 * signal: it must be the caller or one of its descendants, never a pid the
 * caller merely claims. Checked here, off the owner's loop (it reads /proc);
 * on success the call carries a pidfd of that very process (taken before
 * the check and confirmed alive after it, so a reused pid cannot slip in). */
static int check_target_pid(struct ctl_client *c, struct ctl_call *call)
{
	pid_t pid = call->req.pid;
	if (pid <= 1) {
		snprintf(call->err, sizeof(call->err), "pid %d cannot be guarded: name the VM's own process", (int)pid);
		return -FL_EPERM;
	}
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		snprintf(call->err, sizeof(call->err), "pid %d: no such process", (int)pid);
		return -FL_ENOENT;
	}
	bool caller_alive = c->peer.pidfd < 0 || syscall(SYS_pidfd_send_signal, c->peer.pidfd, 0, NULL, 0) == 0;
	if (!caller_alive || !pid_descends_from(pid, c->peer.pid) ||
	    syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) != 0) {
		close(pfd);
		snprintf(call->err, sizeof(call->err),
			 "pid %d is neither the caller (pid %d) nor one of its descendants; a client may only name its own processes",
			 (int)pid, (int)c->peer.pid);
		return -FL_EPERM;
	}
	call->pidfd = pfd;
	return 0;
}

/* Validates the request and its rights; 0, or an error code with call->err set. */
static int dispatch_check(struct ctl_client *c, struct ctl_call *call)
{
	struct ctl_server *s = c->srv;
	int rv = ctl_req_decode(call->msg, &call->req, call->err, sizeof(call->err));
	if (rv != 0)
		return rv;
	if (ctl_op_mutates(call->req.op) && !c->peer.may_mutate) {
		STAT_ADD(s, refused_perm, 1);
		snprintf(call->err, sizeof(call->err),
			 "op '%s' changes state and needs root or the control group; uid %u may only read",
			 ctl_op_name(call->req.op), (unsigned)c->peer.uid);
		return -FL_EPERM;
	}
	if (s->backend.read_handlers[call->req.op] == NULL && s->backend.handlers[call->req.op] == NULL) {
		snprintf(call->err, sizeof(call->err), "op '%s' not supported by this daemon",
			 ctl_op_name(call->req.op));
		return -FL_EINVAL;
	}
	if (call->req.op == CTL_OP_VM_ACQUIRE && (rv = check_target_pid(c, call)) != 0)
		return rv;
	call->reply = ctl_resp_ok();
	return call->reply == NULL ? -FL_ENOMEM : 0;
}

static void client_dispatch(struct ctl_client *c, json_t *msg)
{
	struct ctl_call *call = &c->call;
	struct ctl_server *s = c->srv;
	FL_ASSERT(call->msg == NULL);
	FL_ASSERT(!c->pending);
	call->msg = msg;
	int rv = dispatch_check(c, call);
	if (rv == 0) {
		STAT_ADD(s, requests, 1);
		ctl_handler_fn rd = s->backend.read_handlers[call->req.op];
		if (rd != NULL) {
			rv = rd(s->backend.read_ctx, call, &call->req);
			FL_ASSERT(rv != CTL_DEFERRED); /* read handlers answer at once */
		} else if (ring_push(&s->in, call)) {
			c->pending = true;
			ring_kick(&s->in);
			return;
		} else {
			STAT_ADD(s, refused_busy, 1);
			snprintf(call->err, sizeof(call->err), "fencelockd is busy (%u requests queued); retry shortly",
				 s->opts.queue_max);
			rv = -FL_EAGAIN;
		}
	}
	call_complete(call, rv);
}

/* Handles every complete frame in the read buffer while no call is pending. */
static void client_process(struct ctl_client *c)
{
	size_t off = 0;
	/* Bounded: each round consumes at least one header's worth of bytes. */
	while (!c->pending && !c->closing && !c->overflow && c->fd >= 0) {
		size_t used;
		json_t *msg;
		char err[CTL_ERR_MAX];
		int rv = ctl_frame_parse(c->rbuf + off, c->rlen - off, CTL_MSG_MAX_BYTES, &used, &msg, err, sizeof(err));
		if (rv == -FL_ENOSPC) {
			client_reply_error(c, rv, err);
			STAT_ADD(c->srv, dropped, 1);
			c->closing = true;
			break;
		}
		if (used == 0)
			break;
		off += used;
		if (rv != 0)
			client_reply_error(c, rv, err);
		else
			client_dispatch(c, msg);
	}
	if (c->fd < 0)
		return;
	FL_ASSERT(off <= c->rlen);
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	/* The frame deadline runs while part of a frame waits to be completed
	 * by the client (not while a call of its is with the owner). */
	if (c->rlen == 0 || c->pending)
		fl_timer_cancel(c->srv->loop, &c->frame);
	else if (!fl_timer_armed(&c->frame))
		fl_timer_after(c->srv->loop, &c->frame, c->srv->opts.frame_timeout_us);
}

static void client_flush(struct ctl_client *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
		if (c->wcap > CTL_MSG_MAX_BYTES) { /* a large reply went out: give the memory back */
			free(c->wbuf);
			c->wbuf = NULL;
			c->wcap = 0;
		}
	}
}

static void client_update(struct ctl_client *c)
{
	if (c->fd < 0)
		return;
	if (c->overflow) {
		client_drop(c, "it does not read its replies");
		return;
	}
	client_flush(c);
	if (c->fd < 0)
		return;
	if (c->closing && c->wlen == 0) {
		client_close(c);
		return;
	}
	uint32_t ev = (c->pending || c->closing ? 0 : EPOLLIN) | (c->wlen > 0 ? EPOLLOUT : 0);
	if (fl_eloop_mod_fd(c->srv->el, c->fd, ev, client_on_event, c) != 0)
		client_drop(c, "epoll_ctl failed");
}

/* Room to read into: what the frame being received needs, at most one
 * maximal request; the buffer grows only as the client sends. */
static bool rbuf_room(struct ctl_client *c)
{
	size_t want = CTL_RBUF_MIN;
	if (c->rlen >= CTL_HDR_BYTES) {
		size_t body = (size_t)c->rbuf[0] | (size_t)c->rbuf[1] << 8 | (size_t)c->rbuf[2] << 16 |
			      (size_t)c->rbuf[3] << 24;
		want = CTL_HDR_BYTES + FL_MIN(body, (size_t)CTL_MSG_MAX_BYTES);
	}
	want = FL_MAX(want, c->rlen + 1);
	want = FL_MIN(want, (size_t)CTL_RBUF_MAX);
	if (c->rcap >= want)
		return true;
	size_t cap = FL_MIN(FL_MAX(want, c->rcap * 2), (size_t)CTL_RBUF_MAX);
	uint8_t *p = realloc(c->rbuf, cap);
	if (p == NULL)
		return false;
	c->rbuf = p;
	c->rcap = cap;
	return true;
}

static void client_read(struct ctl_client *c)
{
	FL_ASSERT(c->rlen < CTL_RBUF_MAX);
	if (!rbuf_room(c)) {
		client_drop(c, "out of memory for its request");
		return;
	}
	ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c); /* EOF or error: the client is gone */
		return;
	}
	c->rlen += (size_t)n;
	fl_timer_after(c->srv->loop, &c->idle, c->srv->opts.idle_timeout_us);
	client_process(c);
}

static void client_on_event(void *arg, uint32_t events)
{
	struct ctl_client *c = arg;
	FL_ASSERT(c->used);
	FL_ASSERT(c->fd >= 0);
	if ((events & EPOLLIN) != 0 && !c->pending && !c->closing)
		client_read(c);
	else if ((events & (EPOLLHUP | EPOLLERR)) != 0 && (events & EPOLLOUT) == 0) {
		client_close(c);
		return;
	}
	client_update(c);
}

static void client_on_idle(struct fl_timer *t, void *arg)
{
	struct ctl_client *c = arg;
	(void)t;
	if (c->fd < 0)
		return;
	if (c->pending) { /* the backend is working for it: not idle */
		fl_timer_after(c->srv->loop, &c->idle, c->srv->opts.idle_timeout_us);
		return;
	}
	client_drop(c, "idle for longer than the idle timeout");
}

static void client_on_frame_deadline(struct fl_timer *t, void *arg)
{
	struct ctl_client *c = arg;
	(void)t;
	if (c->fd < 0 || c->pending)
		return;
	STAT_ADD(c->srv, frame_timeouts, 1);
	client_drop(c, "it began a request and did not complete it within the frame deadline");
}

/* ---- accepting ---- */

static bool peer_in_group(int fd, gid_t gid)
{
	gid_t groups[CTL_PEER_GROUPS_MAX];
	socklen_t len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* A pidfd for the peer: SO_PEERPIDFD names the very process that connected;
 * older kernels get pidfd_open() of the SO_PEERCRED pid, taken while the
 * peer's connection is open. -1 if neither works. */
static int peer_pidfd(int fd, pid_t pid)
{
	int pfd = -1;
	socklen_t len = sizeof(pfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) == 0 && pfd >= 0)
		return pfd;
	return pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
}

static int client_creds(struct ctl_server *s, int fd, struct ctl_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return fl_from_errno(errno);
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->privileged = cred.uid == 0 || cred.uid == geteuid();
	peer->may_mutate = peer->privileged ||
			   (s->opts.have_group && (cred.gid == s->opts.gid || peer_in_group(fd, s->opts.gid)));
	peer->pidfd = -1;
	return 0;
}

static struct ctl_client *server_free_slot(struct ctl_server *s)
{
	for (uint32_t i = 0; i < s->opts.max_clients; i++)
		if (!s->clients[i].used)
			return &s->clients[i];
	return NULL;
}

/* Refuses a connection with a best-effort error frame. */
static void server_refuse(struct ctl_server *s, int fd, const char *why)
{
	json_t *e = ctl_resp_error(-FL_ENOSPC, why);
	uint8_t *frame;
	size_t len;
	if (e != NULL && ctl_frame_pack(e, CTL_REPLY_MAX_BYTES, &frame, &len) == 0) {
		ssize_t n = send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
		free(frame);
	}
	json_decref(e);
	close(fd);
}

static void server_accept_one(struct ctl_server *s, int fd)
{
	struct ctl_peer peer;
	if (client_creds(s, fd, &peer) != 0) {
		close(fd);
		STAT_ADD(s, dropped, 1);
		return;
	}
	const char *why = admit_refusal(s, &peer);
	struct ctl_client *c = why == NULL ? server_free_slot(s) : NULL;
	if (c == NULL) {
		bool uid_share = why != NULL && strstr(why, "uid") != NULL;
		if (uid_share)
			STAT_ADD(s, refused_uid, 1);
		else
			STAT_ADD(s, refused_full, 1);
		server_refuse(s, fd, why != NULL ? why : "too many control clients; retry later");
		return;
	}
	*c = (struct ctl_client){.srv = s, .fd = fd, .used = true, .peer = peer};
	c->call.client = c;
	c->call.pidfd = -1;
	c->peer.pidfd = peer_pidfd(fd, peer.pid);
	fl_timer_init(&c->idle, client_on_idle, c);
	fl_timer_init(&c->frame, client_on_frame_deadline, c);
	uid_account(s, &c->peer, +1);
	__atomic_add_fetch(&s->stats.clients, 1, __ATOMIC_RELAXED);
	if (fl_eloop_add_fd(s->el, fd, EPOLLIN, client_on_event, c) != 0) {
		close(fd);
		c->fd = -1;
		client_release_slot(c);
		STAT_ADD(s, dropped, 1);
		return;
	}
	STAT_ADD(s, accepted, 1);
	fl_timer_after(s->loop, &c->idle, s->opts.idle_timeout_us);
}

static void server_on_accept(void *arg, uint32_t events)
{
	struct ctl_server *s = arg;
	(void)events;
	for (int i = 0; i < CTL_ACCEPT_BATCH; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				fl_warn("control socket %s: accept failed: %s", s->path, strerror(errno));
			return;
		}
		server_accept_one(s, fd);
	}
}

/* ---- the owner side ---- */

/* Runs queued calls on the owner's loop, a bounded batch per wake-up so a
 * burst of requests never holds the loop for long. */
static void owner_on_in(void *arg, uint32_t events)
{
	struct ctl_server *s = arg;
	struct ctl_call *batch[CTL_OWNER_BATCH];
	(void)events;
	ring_drain_efd(&s->in);
	uint32_t n = ring_pop(&s->in, batch, CTL_OWNER_BATCH);
	for (uint32_t i = 0; i < n; i++) {
		struct ctl_call *call = batch[i];
		ctl_handler_fn fn = s->backend.handlers[call->req.op];
		FL_ASSERT(fn != NULL);
		int rv = fn(s->backend.ctx, call, &call->req);
		if (rv != CTL_DEFERRED)
			ctl_call_finish(call, rv);
	}
	if (n == CTL_OWNER_BATCH)
		ring_kick(&s->in); /* more may wait: come back on the next iteration */
}

/* Hands the finished calls back to the client side, in one batch. */
static void owner_flush_done(struct fl_timer *t, void *arg)
{
	struct ctl_server *s = arg;
	(void)t;
	if (s->done_head == NULL)
		return;
	if (s->backend.before_replies != NULL)
		s->backend.before_replies(s->backend.ctx);
	bool pushed = false;
	while (s->done_head != NULL) {
		struct ctl_call *call = s->done_head;
		if (!ring_push(&s->done, call))
			break; /* cannot happen: one call per client fits; retry later anyway */
		s->done_head = call->next_done;
		call->next_done = NULL;
		pushed = true;
	}
	if (pushed)
		ring_kick(&s->done);
	if (s->done_head != NULL)
		fl_timer_after(s->owner_loop, &s->done_flush, FL_US_PER_MS);
}

/* Client side: finished calls come back; send their replies. */
static void server_on_done(void *arg, uint32_t events)
{
	struct ctl_server *s = arg;
	struct ctl_call *batch[CTL_OWNER_BATCH];
	uint32_t n;
	(void)events;
	ring_drain_efd(&s->done);
	while ((n = ring_pop(&s->done, batch, CTL_OWNER_BATCH)) > 0) {
		for (uint32_t i = 0; i < n; i++) {
			struct ctl_client *c = batch[i]->client;
			FL_ASSERT(c->used);
			FL_ASSERT(c->pending);
			c->pending = false;
			call_complete(&c->call, c->call.rv);
			if (c->fd < 0) {
				client_release_slot(c);
				continue;
			}
			client_process(c); /* requests that arrived meanwhile */
			client_update(c);
		}
	}
}

/* ---- the server's thread ---- */

static void *server_thread(void *arg)
{
	struct ctl_server *s = arg;
	/* Signals belong to the daemon's signalfd, not to this thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (s->backend.thread_start != NULL)
		s->backend.thread_start(s->backend.read_ctx);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		fl_eloop_run_once(s->el, 500 * FL_US_PER_MS);
	if (s->backend.thread_stop != NULL)
		s->backend.thread_stop(s->backend.read_ctx);
	return NULL;
}

/* ---- set-up ---- */

/* Removes a stale socket file; -FL_EBUSY if a live server answers on it. */
static int server_clear_path(const struct sockaddr_un *sa)
{
	struct stat st;
	if (lstat(sa->sun_path, &st) != 0)
		return errno == ENOENT ? 0 : fl_from_errno(errno);
	if (!S_ISSOCK(st.st_mode))
		return -FL_EBUSY;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fl_from_errno(errno);
	int live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	if (live)
		return -FL_EBUSY;
	return unlink(sa->sun_path) == 0 ? 0 : fl_from_errno(errno);
}

static int server_listen(struct ctl_server *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(s->opts.path) >= sizeof(sa.sun_path))
		return -FL_EINVAL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->opts.path);
	int rv = server_clear_path(&sa);
	if (rv != 0)
		return rv;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return fl_from_errno(errno);
	/* Bind under a strict umask, then widen: never more open than asked. */
	mode_t old = umask(0177);
	rv = bind(s->fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rv != 0)
		return fl_from_errno(errno);
	if (s->opts.have_group && chown(sa.sun_path, (uid_t)-1, s->opts.gid) != 0)
		return fl_from_errno(errno);
	if (chmod(sa.sun_path, s->opts.mode) != 0 || listen(s->fd, CTL_LISTEN_BACKLOG) != 0)
		return fl_from_errno(errno);
	return fl_eloop_add_fd(s->el, s->fd, EPOLLIN, server_on_accept, s);
}

static void opts_defaults(struct ctl_server_opts *o)
{
	o->mode = o->mode != 0 ? o->mode : 0660;
	o->max_clients = o->max_clients != 0 ? o->max_clients : CTL_CLIENTS_DEFAULT;
	o->max_per_uid = o->max_per_uid != 0 ? o->max_per_uid : CTL_PER_UID_DEFAULT;
	o->reserved = o->reserved != 0 ? o->reserved : FL_MIN(CTL_RESERVED_DEFAULT, o->max_clients / 4);
	o->queue_max = o->queue_max != 0 ? o->queue_max : CTL_QUEUE_DEFAULT;
	o->idle_timeout_us = o->idle_timeout_us != 0 ? o->idle_timeout_us : CTL_IDLE_TIMEOUT_DEFAULT_US;
	o->frame_timeout_us = o->frame_timeout_us != 0 ? o->frame_timeout_us : CTL_FRAME_TIMEOUT_DEFAULT_US;
}

/* The rings, the client side's loop and the wake-ups; 0 or a -FL_E code. */
static int server_wire(struct ctl_server *s)
{
	int rv = ring_init(&s->in, s->opts.queue_max);
	if (rv == 0)
		rv = ring_init(&s->done, s->opts.max_clients); /* one call per client at most */
	if (rv != 0)
		return rv;
	if (s->threaded) {
		s->el = fl_eloop_new();
		if (s->el == NULL)
			return fl_from_errno(errno);
	} else {
		s->el = s->owner_el;
	}
	s->loop = fl_eloop_loop(s->el);
	fl_timer_init(&s->done_flush, owner_flush_done, s);
	rv = fl_eloop_add_fd(s->owner_el, s->in.efd, EPOLLIN, owner_on_in, s);
	if (rv == 0)
		rv = fl_eloop_add_fd(s->el, s->done.efd, EPOLLIN, server_on_done, s);
	return rv;
}

static void server_destroy(struct ctl_server *s)
{
	if (s->in.efd >= 0)
		fl_eloop_del_fd(s->owner_el, s->in.efd);
	fl_timer_cancel(s->owner_loop, &s->done_flush);
	if (s->el != NULL && s->fd >= 0)
		fl_eloop_del_fd(s->el, s->fd);
	if (s->fd >= 0)
		close(s->fd);
	if (s->el != NULL && s->done.efd >= 0)
		fl_eloop_del_fd(s->el, s->done.efd);
	if (s->threaded && s->el != NULL)
		fl_eloop_free(s->el);
	ring_free(&s->in);
	ring_free(&s->done);
	free(s->clients);
	free(s->uids);
	free(s);
}

static int server_start(struct ctl_server *s)
{
	int rv = server_wire(s);
	if (rv == 0)
		rv = server_listen(s);
	if (rv != 0 || !s->threaded)
		return rv;
	/* No stop wake-up of its own: ctl_server_free() kicks the done eventfd. */
	/* 1 MiB: room for jansson's recursive parse of a request nested to its
	 * depth limit (2,048), yet not the 8 MiB default that lock_memory's
	 * mlockall would fault in and pin. */
	pthread_attr_t a;
	rv = pthread_attr_init(&a);
	if (rv == 0) {
		rv = pthread_attr_setstacksize(&a, CTL_THREAD_STACK_BYTES);
		if (rv == 0)
			rv = pthread_create(&s->thread, &a, server_thread, s);
		pthread_attr_destroy(&a);
	}
	return rv != 0 ? fl_from_errno(rv) : 0;
}

int ctl_server_new(struct fl_eloop *el, const struct ctl_server_opts *opts,
		   const struct ctl_backend *backend, struct ctl_server **out)
{
	FL_ASSERT(el != NULL);
	FL_ASSERT(opts != NULL);
	FL_ASSERT(opts->path != NULL);
	FL_ASSERT(backend != NULL);
	FL_ASSERT(out != NULL);
	*out = NULL;
	if (opts->max_clients > CTL_CLIENTS_MAX ||
	    (opts->max_clients != 0 && opts->reserved != 0 && opts->reserved >= opts->max_clients / 2))
		return -FL_EINVAL;
	struct ctl_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -FL_ENOMEM;
	s->owner_el = el;
	s->owner_loop = fl_eloop_loop(el);
	s->fd = s->in.efd = s->done.efd = -1;
	s->opts = *opts;
	opts_defaults(&s->opts);
	s->threaded = opts->own_thread;
	snprintf(s->path, sizeof(s->path), "%s", opts->path);
	s->opts.path = s->path;
	s->backend = *backend;
	s->clients = calloc(s->opts.max_clients, sizeof(*s->clients));
	s->uids = calloc(s->opts.max_clients, sizeof(*s->uids));
	int rv = s->clients == NULL || s->uids == NULL ? -FL_ENOMEM : server_start(s);
	if (rv != 0) {
		if (rv == -FL_EBUSY)
			fl_err("control socket %s: another process listens there, or the path is not a socket; stop the other fencelockd or change control_socket",
			       opts->path);
		else
			fl_err("control socket %s: cannot listen: %s; check the directory exists and is writable",
			       opts->path, fl_strerror(rv));
		bool listening = s->fd >= 0;
		server_destroy(s);
		if (listening && rv != -FL_EBUSY)
			unlink(opts->path);
		return rv;
	}
	*out = s;
	return 0;
}

void ctl_server_free(struct ctl_server *s)
{
	if (s == NULL)
		return;
	if (s->threaded) {
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		ring_kick(&s->done);
		pthread_join(s->thread, NULL);
	}
	for (uint32_t i = 0; i < s->opts.max_clients; i++) {
		struct ctl_client *c = &s->clients[i];
		if (!c->used)
			continue;
		if (c->fd >= 0) {
			fl_eloop_del_fd(s->el, c->fd);
			close(c->fd);
			fl_timer_cancel(s->loop, &c->idle);
			fl_timer_cancel(s->loop, &c->frame);
		}
		if (c->peer.pidfd >= 0)
			close(c->peer.pidfd);
		call_reset(&c->call);
		free(c->rbuf);
		free(c->wbuf);
	}
	unlink(s->path);
	server_destroy(s);
}

void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out)
{
	const struct ctl_server_stats *st = &s->stats;
	out->accepted = __atomic_load_n(&st->accepted, __ATOMIC_RELAXED);
	out->refused_full = __atomic_load_n(&st->refused_full, __ATOMIC_RELAXED);
	out->refused_uid = __atomic_load_n(&st->refused_uid, __ATOMIC_RELAXED);
	out->requests = __atomic_load_n(&st->requests, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&st->errors, __ATOMIC_RELAXED);
	out->refused_perm = __atomic_load_n(&st->refused_perm, __ATOMIC_RELAXED);
	out->refused_busy = __atomic_load_n(&st->refused_busy, __ATOMIC_RELAXED);
	out->dropped = __atomic_load_n(&st->dropped, __ATOMIC_RELAXED);
	out->frame_timeouts = __atomic_load_n(&st->frame_timeouts, __ATOMIC_RELAXED);
	out->clients = __atomic_load_n(&st->clients, __ATOMIC_RELAXED);
}

json_t *ctl_call_reply(struct ctl_call *call)
{
	FL_ASSERT(call->reply != NULL);
	return call->reply;
}

const struct ctl_peer *ctl_call_peer(const struct ctl_call *call)
{
	return call->client != NULL ? &call->client->peer : &call->rpeer;
}

void ctl_call_server_stats(const struct ctl_call *call, struct ctl_server_stats *out)
{
	if (call->client == NULL)
		memset(out, 0, sizeof(*out));
	else
		ctl_server_get_stats(call->client->srv, out);
}

int ctl_call_take_pidfd(struct ctl_call *call)
{
	int fd = call->pidfd;
	call->pidfd = -1;
	return fd;
}

void ctl_call_errorf(struct ctl_call *call, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->err, sizeof(call->err), fmt, ap);
	va_end(ap);
}

void ctl_call_finish(struct ctl_call *call, int rv)
{
	struct ctl_client *c = call->client;
	if (c == NULL) {
		FL_ASSERT(call->rdone != NULL);
		FL_ASSERT(rv <= 0);
		call->rv = rv;
		call->rdone(call->rctx, call, rv);
		return;
	}
	struct ctl_server *s = c->srv;
	FL_ASSERT(c->used);
	FL_ASSERT(c->pending);
	FL_ASSERT(rv <= 0);
	FL_ASSERT(call->next_done == NULL);
	call->rv = rv;
	/* Batched: every call finished in this loop iteration goes back at once,
	 * after one before_replies(). Order among calls does not matter: each
	 * client has at most one call out. */
	call->next_done = s->done_head;
	s->done_head = call;
	if (!fl_timer_armed(&s->done_flush))
		fl_timer_after(s->owner_loop, &s->done_flush, 0);
}

/* ---- remote calls ---- */

int ctl_call_remote_new(json_t *msg, const struct ctl_peer *peer, ctl_remote_done_fn done, void *ctx,
			struct ctl_call **out, char *err, size_t errlen)
{
	FL_ASSERT(done != NULL);
	FL_ASSERT(peer->via_host != 0);
	*out = NULL;
	struct ctl_call *call = calloc(1, sizeof(*call));
	if (call == NULL) {
		json_decref(msg);
		snprintf(err, errlen, "out of memory");
		return -FL_ENOMEM;
	}
	call->msg = msg;
	call->pidfd = -1;
	call->rpeer = *peer;
	call->rpeer.pidfd = -1;
	call->rdone = done;
	call->rctx = ctx;
	int rv = ctl_req_decode(call->msg, &call->req, err, errlen);
	if (rv == 0 && (call->reply = ctl_resp_ok()) == NULL)
		rv = -FL_ENOMEM;
	if (rv != 0) {
		ctl_call_remote_free(call);
		return rv;
	}
	*out = call;
	return 0;
}

const struct ctl_req *ctl_call_req(const struct ctl_call *call)
{
	return &call->req;
}

const char *ctl_call_error(const struct ctl_call *call)
{
	return call->err;
}

void ctl_call_remote_free(struct ctl_call *call)
{
	if (call == NULL)
		return;
	FL_ASSERT(call->client == NULL);
	call_reset(call);
	free(call);
}
