/* The control socket server of fencelockd.
 *
 * It listens on a unix stream socket, accepts non-blocking clients within
 * bounds (a total, a share per unprivileged uid, slots only privileged
 * callers may take and slots they may not, so neither a local user nor a
 * flood of wrappers locks the other out), reads length-prefixed JSON
 * requests into per-client buffers that grow only as a frame needs,
 * validates them with ctl_proto, checks the caller's credentials
 * (SO_PEERCRED / SO_PEERGROUPS: root, the daemon's own uid or members of the
 * control group may use mutating ops; anyone who can connect may read) and
 * hands each request to a backend. The pid vm.acquire names must be the
 * caller's own process or one of its descendants (checked here through
 * /proc, off the owner's loop; pid <= 1 never passes); the handler gets a
 * pidfd of it (ctl_call_take_pidfd), so nothing ever signals a pid a client
 * merely claims.
 *
 * Threads. The server can serve its clients from a thread of its own
 * (opts.own_thread; fencelockd does), so that nothing a client does — a
 * thousand connections, a slow reader, a request trickled byte by byte —
 * costs the owner's loop (the lease loop) anything. A backend has two
 * tables: read_handlers run on the server's thread and must answer at once
 * from data that thread may read (fencelockd: an RCU-published snapshot);
 * handlers run on the owner's loop, reached through a bounded queue and an
 * eventfd, and answer at once or defer (disk I/O, Raft commit) and finish
 * later with ctl_call_finish(); finished calls go back through a second
 * queue. The owner never waits for a client: a full queue is the caller's
 * "busy, retry" (FL_EAGAIN). Without own_thread everything runs on the
 * owner's loop through the same queues (tools and tests).
 *
 * A client's next request waits until its previous call finished, so
 * replies keep request order. A malformed request gets an error reply and
 * the connection goes on; an oversized one gets an error reply and the
 * connection is closed; a client that does not read its replies, idles
 * longer than the idle timeout, or does not complete a frame it began
 * within the frame timeout, is dropped. Nothing a client sends can make the
 * server allocate without bound or stop serving the others. */
#ifndef FL_PLUGIN_CTL_SERVER_H
#define FL_PLUGIN_CTL_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/loop.h"
#include "common/must_check.h"
#include "plugin/host/ctl_proto.h"

#define CTL_CLIENTS_DEFAULT 1024u
#define CTL_CLIENTS_MAX 65536u
#define CTL_PER_UID_DEFAULT 64u        /* connections of one unprivileged uid */
#define CTL_RESERVED_DEFAULT 16u       /* slots kept for privileged / for other callers */
#define CTL_QUEUE_DEFAULT 1024u        /* calls queued to the owner's loop */
#define CTL_IDLE_TIMEOUT_DEFAULT_US (30ull * FL_US_PER_S)
#define CTL_FRAME_TIMEOUT_DEFAULT_US (5ull * FL_US_PER_S)
/* Pending replies per client: one maximal reply and then some; the buffer
 * grows only as far as replies fill it. */
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
	bool privileged;             /* uid 0 or the daemon's own uid */
	int pidfd;                   /* pidfd of the peer taken at accept (SO_PEERPIDFD or
				      * pidfd_open of the SO_PEERCRED pid), -1 if none */
	uint32_t via_host;           /* 0: a client of this socket; else the host that forwarded
				      * the call (uid, gid and pid are the caller's there) */
};

/* One handler per op. Returns 0 (reply fields added to ctl_call_reply()),
 * a negative -FL_E code (error reply; message from ctl_call_errorf() or
 * fl_strerror()), or CTL_DEFERRED (owner-loop handlers only: the backend
 * keeps call and must call ctl_call_finish() exactly once, from the owner's
 * loop thread). req and its strings stay valid until the call is finished.
 * An op with neither handler answers "op not supported by this daemon". */
typedef int (*ctl_handler_fn)(void *ctx, struct ctl_call *call, const struct ctl_req *req);

struct ctl_backend {
	void *ctx;
	ctl_handler_fn handlers[CTL_OP_COUNT];       /* on the owner's loop, by enum ctl_op */
	void *read_ctx;
	ctl_handler_fn read_handlers[CTL_OP_COUNT];  /* on the server's thread; never defer */
	/* Optional, on the owner's loop, before a batch of finished calls is
	 * handed back (fencelockd publishes its snapshot here, so a client that
	 * reads right after a change sees it). */
	void (*before_replies)(void *ctx);
	/* Optional, on the server's own thread as it starts and before it ends
	 * (fencelockd registers it as an RCU reader there). */
	void (*thread_start)(void *read_ctx);
	void (*thread_stop)(void *read_ctx);
};

struct ctl_server_opts {
	const char *path;            /* socket path, < 108 bytes */
	mode_t mode;                 /* 0 = 0660 */
	bool have_group;             /* chown the socket to gid and authorise its members */
	gid_t gid;
	bool own_thread;             /* serve clients from a thread of the server's own */
	uint32_t max_clients;        /* 0 = CTL_CLIENTS_DEFAULT; <= CTL_CLIENTS_MAX */
	uint32_t max_per_uid;        /* unprivileged uid; 0 = CTL_PER_UID_DEFAULT */
	uint32_t reserved;           /* 0 = CTL_RESERVED_DEFAULT, each way; < max_clients / 2 */
	uint32_t queue_max;          /* 0 = CTL_QUEUE_DEFAULT */
	uint64_t idle_timeout_us;    /* 0 = CTL_IDLE_TIMEOUT_DEFAULT_US */
	uint64_t frame_timeout_us;   /* a frame begun must be complete by then; 0 = default */
};

struct ctl_server_stats {
	uint64_t accepted;           /* connections accepted */
	uint64_t refused_full;       /* connections refused: no free client slot */
	uint64_t refused_uid;        /* connections refused: the uid's share is used */
	uint64_t requests;           /* requests dispatched to the backend */
	uint64_t errors;             /* error replies sent (any cause) */
	uint64_t refused_perm;       /* mutating requests refused for credentials */
	uint64_t refused_busy;       /* requests refused: the owner's queue was full */
	uint64_t dropped;            /* clients dropped (oversize, slow reader, idle, frame deadline) */
	uint64_t frame_timeouts;     /* of which: a frame not completed in time */
	uint32_t clients;            /* connected now */
};

/* Creates the socket at opts->path (replacing a stale socket file, refusing
 * with -FL_EBUSY if a live server answers there), sets its mode and group,
 * and starts serving: on el, or on a thread of its own with opts->own_thread
 * (el is then only the owner's loop, where handlers[] run). The backend
 * table is copied. Returns 0 and *out, or a -FL_E code with a message logged
 * naming the path. Call from the owner's loop thread. */
int ctl_server_new(struct fl_eloop *el, const struct ctl_server_opts *opts,
		   const struct ctl_backend *backend, struct ctl_server **out);

/* Stops the server's thread (if any), closes every client and the socket,
 * unlinks the path. Deferred calls not yet finished are dropped: the backend
 * must not touch them afterwards. From the owner's loop thread. */
void ctl_server_free(struct ctl_server *s);

/* Copies the counters (for metrics and tests); from any thread. */
void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out);

/* The reply object of a call: {"v":1,"ok":true}; add result fields to it. */
json_t *ctl_call_reply(struct ctl_call *call);

/* The credentials of the caller (valid until the call is finished). */
const struct ctl_peer *ctl_call_peer(const struct ctl_call *call);

/* vm.acquire: the pidfd of req->pid, which the server checked is the caller
 * or one of its descendants (never a pid merely claimed); the caller owns it
 * from now on. -1 for other ops, or if already taken. */
int ctl_call_take_pidfd(struct ctl_call *call);

/* The server's counters, from a handler (read handlers included). */
void ctl_call_server_stats(const struct ctl_call *call, struct ctl_server_stats *out);

/* Sets the error sentence for a failing call (what failed, on what, what to do). */
void ctl_call_errorf(struct ctl_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes a deferred call with rv (0 or a -FL_E code); its reply is sent
 * from the server's side. If the client has gone meanwhile the reply is
 * discarded. From the owner's loop thread. */
void ctl_call_finish(struct ctl_call *call, int rv);

/* ---- remote calls ----
 * A call that no client of this server made: an operator's request that
 * another host's daemon forwarded over the cluster's authenticated channel
 * (fencelockd, plugin/daemon/opfwd.c). msg is the request as a client sends
 * it (taken over: decoded and validated with ctl_req_decode, as any
 * request), peer the caller as the forwarding host recorded it (via_host
 * set). A handler runs it like any call; ctl_call_finish() hands it to
 * done(ctx, call, rv) instead of a client, on the owner's loop, and done
 * frees it with ctl_call_remote_free(). 0 and *out, or a -FL_E code with
 * the reason in err. */
typedef void (*ctl_remote_done_fn)(void *ctx, struct ctl_call *call, int rv);
FL_MUST_CHECK int ctl_call_remote_new(json_t *msg, const struct ctl_peer *peer, ctl_remote_done_fn done, void *ctx,
				      struct ctl_call **out, char *err, size_t errlen);
const struct ctl_req *ctl_call_req(const struct ctl_call *call);
/* The error sentence set by ctl_call_errorf() ("" if none). */
const char *ctl_call_error(const struct ctl_call *call);
void ctl_call_remote_free(struct ctl_call *call);

#endif
