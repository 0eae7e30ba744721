/* Control socket server (see ctl_server.h).
 *
 * Every client owns a fixed read buffer (one maximal request) and a write
 * buffer bounded by CTL_WBUF_MAX_BYTES (one maximal reply and some), both
 * allocated at accept; the large write buffer costs address space, and
 * memory only as far as replies fill it. epoll
 * interest follows the client's state: EPOLLIN only while no call is pending
 * and the client is not closing, EPOLLOUT only while replies wait to be
 * written. A client whose call is pending when it disconnects becomes a
 * zombie: its fd is closed, and the slot is freed when the backend finishes
 * the call, so a backend never holds a dangling call. */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_server.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#define CTL_RBUF_BYTES (CTL_HDR_BYTES + CTL_MSG_MAX_BYTES)
#define CTL_ACCEPT_BATCH 16
#define CTL_PEER_GROUPS_MAX 256

struct ctl_call {
	struct ctl_client *client;
	json_t *msg;                 /* the request; req's strings point into it */
	json_t *reply;
	struct ctl_req req;
	char err[CTL_ERR_MAX];
};

struct ctl_client {
	struct ctl_server *srv;
	int fd;                      /* -1 when closed (free or zombie) */
	bool used;                   /* slot taken (open or zombie) */
	bool pending;                /* a deferred call is out with the backend */
	bool closing;                /* close once the write buffer is flushed */
	bool overflow;               /* a reply did not fit: it does not read; drop it */
	struct ctl_peer peer;
	uint8_t *rbuf;
	size_t rlen;
	uint8_t *wbuf;
	size_t wlen, woff;
	struct fl_timer idle;
	struct ctl_call call;
};

struct ctl_server {
	struct fl_eloop *el;
	struct fl_loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_server_opts opts;
	struct ctl_backend backend;
	struct ctl_server_stats stats;
	struct ctl_client *clients;  /* opts.max_clients slots */
};

static void client_on_event(void *arg, uint32_t events);

static void client_release_slot(struct ctl_client *c)
{
	FL_ASSERT(c->fd < 0);
	FL_ASSERT(!c->pending);
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->used = false;
	c->srv->stats.clients--;
}

static void client_close(struct ctl_client *c)
{
	FL_ASSERT(c->used);
	FL_ASSERT(c->fd >= 0);
	fl_eloop_del_fd(c->srv->el, c->fd);
	close(c->fd);
	c->fd = -1;
	fl_timer_cancel(c->srv->loop, &c->idle);
	if (!c->pending)
		client_release_slot(c); /* else: zombie until ctl_call_finish() */
}

static void client_drop(struct ctl_client *c, const char *why)
{
	fl_info("control socket %s: dropping client pid %d uid %u: %s", c->srv->path,
		(int)c->peer.pid, (unsigned)c->peer.uid, why);
	c->srv->stats.dropped++;
	client_close(c);
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
	if (c->woff > 0 && c->wlen + len > CTL_WBUF_MAX_BYTES) { /* drop what is sent */
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	bool fits = c->wlen + len <= CTL_WBUF_MAX_BYTES;
	if (fits) {
		memcpy(c->wbuf + c->wlen, frame, len);
		c->wlen += len;
	}
	free(frame);
	return fits;
}

static void client_reply_error(struct ctl_client *c, int code, const char *msg)
{
	c->srv->stats.errors++;
	json_t *e = ctl_resp_error(code, msg);
	if (e == NULL || !client_queue(c, e))
		c->overflow = true;
	json_decref(e);
}

static void call_reset(struct ctl_call *call)
{
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

static void client_dispatch(struct ctl_client *c, json_t *msg)
{
	struct ctl_call *call = &c->call;
	struct ctl_server *s = c->srv;
	FL_ASSERT(call->msg == NULL);
	FL_ASSERT(!c->pending);
	call->msg = msg;
	int rv = ctl_req_decode(msg, &call->req, call->err, sizeof(call->err));
	if (rv == 0 && ctl_op_mutates(call->req.op) && !c->peer.may_mutate) {
		s->stats.refused_perm++;
		snprintf(call->err, sizeof(call->err),
			 "op '%s' changes state and needs root or the control group; uid %u may only read",
			 ctl_op_name(call->req.op), (unsigned)c->peer.uid);
		rv = -FL_EPERM;
	}
	ctl_handler_fn fn = rv == 0 ? s->backend.handlers[call->req.op] : NULL;
	if (rv == 0 && fn == NULL) {
		snprintf(call->err, sizeof(call->err), "op '%s' not supported by this daemon",
			 ctl_op_name(call->req.op));
		rv = -FL_EINVAL;
	}
	if (rv == 0) {
		call->reply = ctl_resp_ok();
		s->stats.requests++;
		rv = call->reply == NULL ? -FL_ENOMEM : fn(s->backend.ctx, call, &call->req);
	}
	if (rv == CTL_DEFERRED) {
		c->pending = true;
		return;
	}
	FL_ASSERT(rv <= 0);
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
			c->srv->stats.dropped++;
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
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
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

static void client_read(struct ctl_client *c)
{
	FL_ASSERT(c->rlen < CTL_RBUF_BYTES);
	ssize_t n = recv(c->fd, c->rbuf + c->rlen, CTL_RBUF_BYTES - c->rlen, MSG_DONTWAIT);
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
	if (c->fd >= 0 && c->wlen > CTL_WBUF_MAX_BYTES / 2 && (events & EPOLLOUT) == 0 && c->woff == 0)
		fl_debug("control client pid %d is slow to read its replies", (int)c->peer.pid);
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

static int client_creds(struct ctl_server *s, int fd, struct ctl_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return fl_from_errno(errno);
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->may_mutate = cred.uid == 0 || cred.uid == geteuid() ||
			   (s->opts.have_group && (cred.gid == s->opts.gid || peer_in_group(fd, s->opts.gid)));
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
static void server_refuse(struct ctl_server *s, int fd)
{
	s->stats.refused_full++;
	json_t *e = ctl_resp_error(-FL_ENOSPC, "too many control clients; retry later");
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
	struct ctl_client *c = server_free_slot(s);
	if (c == NULL) {
		server_refuse(s, fd);
		return;
	}
	*c = (struct ctl_client){.srv = s, .fd = fd, .used = true};
	c->call.client = c;
	c->rbuf = malloc(CTL_RBUF_BYTES);
	c->wbuf = malloc(CTL_WBUF_MAX_BYTES);
	fl_timer_init(&c->idle, client_on_idle, c);
	s->stats.clients++;
	if (c->rbuf == NULL || c->wbuf == NULL || client_creds(s, fd, &c->peer) != 0 ||
	    fl_eloop_add_fd(s->el, fd, EPOLLIN, client_on_event, c) != 0) {
		close(fd);
		c->fd = -1;
		client_release_slot(c);
		s->stats.dropped++;
		return;
	}
	s->stats.accepted++;
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
	if (chmod(sa.sun_path, s->opts.mode) != 0 || listen(s->fd, 64) != 0)
		return fl_from_errno(errno);
	return fl_eloop_add_fd(s->el, s->fd, EPOLLIN, server_on_accept, s);
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
	if (opts->max_clients > CTL_CLIENTS_MAX)
		return -FL_EINVAL;
	struct ctl_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -FL_ENOMEM;
	s->el = el;
	s->loop = fl_eloop_loop(el);
	s->fd = -1;
	s->opts = *opts;
	s->opts.mode = opts->mode != 0 ? opts->mode : 0660;
	s->opts.max_clients = opts->max_clients != 0 ? opts->max_clients : CTL_CLIENTS_DEFAULT;
	s->opts.idle_timeout_us = opts->idle_timeout_us != 0 ? opts->idle_timeout_us : CTL_IDLE_TIMEOUT_DEFAULT_US;
	snprintf(s->path, sizeof(s->path), "%s", opts->path);
	s->opts.path = s->path;
	s->backend = *backend;
	s->clients = calloc(s->opts.max_clients, sizeof(*s->clients));
	int rv = s->clients == NULL ? -FL_ENOMEM : server_listen(s);
	if (rv != 0) {
		if (rv == -FL_EBUSY)
			fl_err("control socket %s: another process listens there, or the path is not a socket; stop the other fencelockd or change control_socket",
			       opts->path);
		else
			fl_err("control socket %s: cannot listen: %s; check the directory exists and is writable",
			       opts->path, fl_strerror(rv));
		if (s->fd >= 0)
			close(s->fd);
		free(s->clients);
		free(s);
		return rv;
	}
	*out = s;
	return 0;
}

void ctl_server_free(struct ctl_server *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->opts.max_clients; i++) {
		struct ctl_client *c = &s->clients[i];
		if (!c->used)
			continue;
		if (c->fd >= 0) {
			fl_eloop_del_fd(s->el, c->fd);
			close(c->fd);
			fl_timer_cancel(s->loop, &c->idle);
		}
		call_reset(&c->call);
		free(c->rbuf);
		free(c->wbuf);
	}
	fl_eloop_del_fd(s->el, s->fd);
	close(s->fd);
	unlink(s->path);
	free(s->clients);
	free(s);
}

void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out)
{
	*out = s->stats;
}

json_t *ctl_call_reply(struct ctl_call *call)
{
	FL_ASSERT(call->reply != NULL);
	return call->reply;
}

const struct ctl_peer *ctl_call_peer(const struct ctl_call *call)
{
	return &call->client->peer;
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
	FL_ASSERT(c->used);
	FL_ASSERT(c->pending);
	FL_ASSERT(rv <= 0);
	c->pending = false;
	call_complete(call, rv);
	if (c->fd < 0) {
		client_release_slot(c);
		return;
	}
	client_process(c); /* requests that arrived meanwhile */
	client_update(c);
}
