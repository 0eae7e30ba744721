/* The control socket server of fencelockd, on the real epoll loop.
 *
 * It listens on a unix stream socket (mode 0660 by default, optionally owned
 * by the control group), accepts a bounded number of non-blocking clients,
 * reads length-prefixed JSON requests into bounded per-client buffers,
 * validates them with ctl_proto, checks the caller's credentials
 * (SO_PEERCRED / SO_PEERGROUPS: root, the daemon's own uid or members of the
 * control group may use mutating ops; anyone who can connect may read) and
 * hands each request to a backend: a table of handlers, one per op, that
 * the daemon implements on top of the arbiter. A handler answers at once
 * (fields added to the reply object) or defers (disk I/O, Raft commit) and
 * finishes the call later; a client's next request waits until then, so
 * replies keep request order. A malformed request gets an error reply and
 * the connection goes on; an oversized one gets an error reply and the
 * connection is closed; a client that does not read its replies, or idles
 * longer than the idle timeout, is dropped. Nothing a client sends can make
 * the server allocate without bound or stop serving the others. */
#ifndef FL_PLUGIN_CTL_SERVER_H
#define FL_PLUGIN_CTL_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/loop.h"
#include "plugin/host/ctl_proto.h"

#define CTL_CLIENTS_DEFAULT 32u
#define CTL_CLIENTS_MAX 1024u
#define CTL_IDLE_TIMEOUT_DEFAULT_US (30ull * FL_US_PER_S)
/* Pending replies per client: one maximal reply and then some; the buffer
 * is allocated at accept but only touched as far as it is used. */
#define CTL_WBUF_MAX_BYTES (CTL_HDR_BYTES + CTL_REPLY_MAX_BYTES + 256u * 1024u)
/* Handler return value: the backend will call ctl_call_finish() later. */
#define CTL_DEFERRED 1

struct ctl_server;
struct ctl_call;

/* Credentials of a connected client, read once at accept. */
struct ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool may_mutate;
};

/* One handler per op. Returns 0 (reply fields added to ctl_call_reply()),
 * a negative -FL_E code (error reply; message from ctl_call_errorf() or
 * fl_strerror()), or CTL_DEFERRED (the backend keeps call and must call
 * ctl_call_finish() exactly once, from the loop thread). req and its strings
 * stay valid until the call is finished. A NULL handler answers
 * "op not supported by this daemon". */
typedef int (*ctl_handler_fn)(void *ctx, struct ctl_call *call, const struct ctl_req *req);

struct ctl_backend {
	void *ctx;
	ctl_handler_fn handlers[CTL_OP_COUNT];  /* indexed by enum ctl_op */
};

struct ctl_server_opts {
	const char *path;            /* socket path, < 108 bytes */
	mode_t mode;                 /* 0 = 0660 */
	bool have_group;             /* chown the socket to gid and authorise its members */
	gid_t gid;
	uint32_t max_clients;        /* 0 = CTL_CLIENTS_DEFAULT; <= CTL_CLIENTS_MAX */
	uint64_t idle_timeout_us;    /* 0 = CTL_IDLE_TIMEOUT_DEFAULT_US */
};

struct ctl_server_stats {
	uint64_t accepted;           /* connections accepted */
	uint64_t refused_full;       /* connections refused: no free client slot */
	uint64_t requests;           /* requests dispatched to the backend */
	uint64_t errors;             /* error replies sent (any cause) */
	uint64_t refused_perm;       /* mutating requests refused for credentials */
	uint64_t dropped;            /* clients dropped (oversize, slow reader, idle) */
	uint32_t clients;            /* connected now */
};

/* Creates the socket at opts->path (replacing a stale socket file, refusing
 * with -FL_EBUSY if a live server answers there), sets its mode and group,
 * and starts serving on el. The backend table is copied. Returns 0 and
 * *out, or a -FL_E code with a message logged naming the path. */
int ctl_server_new(struct fl_eloop *el, const struct ctl_server_opts *opts,
		   const struct ctl_backend *backend, struct ctl_server **out);

/* Closes every client and the socket, unlinks the path. Deferred calls not
 * yet finished are dropped: the backend must not touch them afterwards. */
void ctl_server_free(struct ctl_server *s);

/* Copies the counters (for metrics and tests). */
void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out);

/* The reply object of a call: {"v":1,"ok":true}; add result fields to it. */
json_t *ctl_call_reply(struct ctl_call *call);

/* The credentials of the caller. */
const struct ctl_peer *ctl_call_peer(const struct ctl_call *call);

/* Sets the error sentence for a failing call (what failed, on what, what to do). */
void ctl_call_errorf(struct ctl_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes a deferred call with rv (0 or a -FL_E code) and sends its reply.
 * If the client has gone meanwhile the reply is discarded. */
void ctl_call_finish(struct ctl_call *call, int rv);

#endif
