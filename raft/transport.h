/* The Raft message transport: opaque payloads between host ids.
 *
 * The node driver encodes Raft messages (raft/msg.h) and hands the bytes to a
 * struct raft_transport; whatever arrives is delivered to a callback with the
 * sender's id. Raft tolerates loss, duplication and reordering of messages,
 * so a transport may drop: it never blocks and never queues without bound.
 * Two implementations are planned: TCP on the real loop (tcp.c, below) and
 * the simulated network of the deterministic simulator; the daemon may also
 * route messages for an in-process voter (the disk voter) without a socket.
 *
 * TCP framing (all integers little-endian; CRC-32C iSCSI convention):
 *   0  u32 magic "FLRT"        24 u64 sender host id
 *   4  u16 version (1)         32 u64 receiver host id
 *   6  u16 header length (48)  40 u32 payload length
 *   8  u8[16] cluster uuid     44 u32 CRC over bytes 0..43 and the payload
 * then the payload. Each host opens one outbound connection per peer and
 * only writes on it; a peer's inbound connection is identified by the sender
 * id of its first frame and is only read; when a peer's new connection
 * identifies itself, its older one is closed (one inbound per peer). A frame with a bad magic, version
 * or CRC, a length above the maximum, or a sender that changes mid-stream
 * drops the connection (the stream cannot be trusted any more). A frame of
 * another cluster, from a host that is not a configured peer, or addressed to
 * another host is dropped and the connection closed; such events are logged
 * at most once per second per kind with a count of those suppressed. */
#ifndef FL_RAFT_TRANSPORT_H
#define FL_RAFT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called on the loop thread for every frame accepted. payload is valid only
 * during the call. The callback may send but must not free the transport
 * nor remove peers. */
typedef void (*raft_transport_deliver_fn)(void *arg, uint64_t from, const uint8_t *payload, uint32_t len);

struct raft_transport;
struct raft_transport_ops {
	int (*send)(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len);
};

struct raft_transport {
	const struct raft_transport_ops *ops;
};

/* Queues payload (copied) for host `to`. Returns 0 when queued (delivery is
 * not guaranteed), -FL_ENOENT for an unknown host, -FL_EINVAL for a payload
 * above the transport's maximum. Never blocks. */
static inline int raft_transport_send(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len)
{
	return t->ops->send(t, to, payload, len);
}

/* ---- TCP on the real epoll loop (tcp.c) ---- */

#define RAFT_TCP_FRAME_HEADER_BYTES 48u
#define RAFT_TCP_MAGIC 0x54524C46u /* "FLRT" little-endian */
#define RAFT_TCP_VERSION 1u
#define RAFT_TCP_MAX_PEERS 64u

struct raft_tcp_config {
	uint8_t cluster_uuid[16];
	uint64_t self_id;          /* nonzero */
	const char *listen_addr;   /* numeric IPv4 ("127.0.0.1"); NULL: do not listen */
	uint16_t listen_port;      /* 0: any free port (see raft_tcp_port()) */
	uint32_t max_frame_bytes;  /* largest payload sent or accepted; 0: 17 MiB */
	uint32_t queue_max_frames; /* per peer; 0: 256 */
	uint64_t backoff_min_us;   /* first reconnection delay; 0: 5 ms */
	uint64_t backoff_max_us;   /* cap, keep it below the heartbeat; 0: 50 ms */
	uint64_t connect_timeout_us; /* a connect still in progress is abandoned
	                              * and retried after this; 0: 100 ms */
	uint64_t stall_timeout_us;   /* sent data unacknowledged this long drops the
	                              * connection (TCP_USER_TIMEOUT); 0: 1 s */
	uint32_t max_inbound;      /* simultaneous inbound connections; 0: 2 * RAFT_TCP_MAX_PEERS */
	raft_transport_deliver_fn deliver;
	void *deliver_arg;
};

struct raft_tcp_stats {
	uint64_t frames_sent, frames_received, bytes_sent, bytes_received;
	uint64_t dropped_queue_full;   /* oldest frames evicted by newer ones */
	uint64_t dropped_foreign;      /* other cluster or other receiver */
	uint64_t dropped_unknown;      /* sender not a configured peer */
	uint64_t dropped_bad_frame;    /* bad magic, version, CRC or sender change */
	uint64_t dropped_oversize;     /* length above max_frame_bytes */
	uint64_t connects, connect_failures, disconnects, accepts, refused_inbound;
	uint64_t replaced_inbound;     /* older inbound connection of a peer closed */
};

struct fl_eloop;
struct raft_tcp;

/* Creates a transport on el and, if cfg->listen_addr is set, listens there
 * (SO_REUSEADDR, so a restarted host gets its port back). Returns 0 or a -FL_E
 * code, with a one-line reason in err (may be NULL). */
int raft_tcp_new(struct fl_eloop *el, const struct raft_tcp_config *cfg, struct raft_tcp **out,
		 char *err, size_t errlen);
/* Closes every connection, drops queued frames, frees t. */
void raft_tcp_free(struct raft_tcp *t);
/* The generic seam backed by t (for the node driver). */
struct raft_transport *raft_tcp_transport(struct raft_tcp *t);
/* The port actually listened on (useful with listen_port 0), or 0. */
uint16_t raft_tcp_port(const struct raft_tcp *t);

/* Adds (or re-addresses) peer id at a numeric IPv4 address and starts
 * connecting to it. -FL_EINVAL for a bad address or id, -FL_ENOSPC when
 * RAFT_TCP_MAX_PEERS peers exist. */
int raft_tcp_add_peer(struct raft_tcp *t, uint64_t id, const char *addr, uint16_t port);
/* Forgets peer id: its queue is dropped, its connections closed. */
int raft_tcp_remove_peer(struct raft_tcp *t, uint64_t id);

/* Queues payload for peer `to` (see raft_transport_send()). When the peer's
 * queue is full the OLDEST queued frame that is not being written is dropped
 * (counted in dropped_queue_full): a newer heartbeat or append supersedes an
 * older one, and Raft repairs the gap. */
int raft_tcp_send(struct raft_tcp *t, uint64_t to, const void *payload, uint32_t len);

/* Frames queued for peer id (0 for an unknown peer). */
uint32_t raft_tcp_queued(const struct raft_tcp *t, uint64_t id);
/* Bytes held by peer id's queue. */
uint64_t raft_tcp_queued_bytes(const struct raft_tcp *t, uint64_t id);
/* True while the outbound connection to id is established. */
bool raft_tcp_connected(const struct raft_tcp *t, uint64_t id);
/* Counters since raft_tcp_new(); valid as long as t. */
const struct raft_tcp_stats *raft_tcp_get_stats(const struct raft_tcp *t);

#endif
