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
 * TCP: each host opens one outbound connection per peer and only writes on
 * it (after the handshake); a peer's inbound connection is only read. With
 * cluster keys (the default for the daemon) a connection starts with the
 * handshake of raft/tcp_auth.h, which proves on both sides that the other
 * holds a cluster key and binds the connection to the two host ids; every
 * frame after it is sealed (ChaCha20-Poly1305, counter nonces). Without keys
 * (insecure mode, tests only) frames are plain:
 *   0  u32 magic "FLRT"        24 u64 sender host id
 *   4  u16 version (1)         32 u64 receiver host id
 *   6  u16 header length (48)  40 u32 payload length
 *   8  u8[16] cluster uuid     44 u32 CRC over bytes 0..43 and the payload
 * (all integers little-endian; CRC-32C iSCSI convention).
 *
 * Until it is authenticated (handshake done, or with plain frames a first
 * header naming a configured peer at the source address) an inbound
 * connection costs a few hundred bytes: it sits in a small pool of its own
 * (max_inbound slots, at most max_inbound_per_addr per source address; when
 * either is full the oldest such connection is evicted), it must come from a
 * configured peer's address, it must finish the handshake within
 * handshake_timeout_us, and nothing larger than a handshake message is read
 * before. An authenticated connection moves to the slot its peer owns (one
 * per peer, the newest wins), so unauthenticated ones can never take a
 * peer's place. The receive buffer is allocated after authentication and
 * only as large as the frame announced; a frame begun must end within
 * frame_timeout_us. A frame with a bad magic, version, CRC or seal, a length
 * above the maximum, another cluster, an unknown sender or another receiver
 * drops the connection; every refusal is counted by reason
 * (raft_tcp_stats.rejected) and logged at most once per second per kind
 * with a count of those suppressed. */
#ifndef FL_RAFT_TRANSPORT_H
#define FL_RAFT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"

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
static inline FL_MUST_CHECK int raft_transport_send(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len)
{
	return t->ops->send(t, to, payload, len);
}

/* ---- TCP on the real epoll loop (tcp.c) ---- */

#define RAFT_TCP_FRAME_HEADER_BYTES 48u
#define RAFT_TCP_MAGIC 0x54524C46u /* "FLRT" little-endian */
#define RAFT_TCP_VERSION 1u
#define RAFT_TCP_MAX_PEERS 128u
/* Frames up to this many bytes (header included) come from a free list once
 * written (no allocation on the heartbeat path); larger ones are allocated. */
#define RAFT_TCP_SMALL_FRAME_BYTES 2048u
#define RAFT_TCP_KEY_BYTES 32u
#define RAFT_TCP_MAX_KEYS 2u

struct raft_tcp_config {
	uint8_t cluster_uuid[16];
	uint64_t self_id;          /* nonzero */
	const char *listen_addr;   /* numeric IPv4 ("127.0.0.1"); NULL: do not listen */
	uint16_t listen_port;      /* 0: any free port (see raft_tcp_port()) */
	/* Cluster keys: keys[0] the current one, keys[1] the next (rotation).
	 * n_keys 0: insecure mode, plain frames, anyone who knows the uuid
	 * may speak for any peer (tests only). */
	uint32_t n_keys;
	uint8_t keys[RAFT_TCP_MAX_KEYS][RAFT_TCP_KEY_BYTES];
	uint32_t max_frame_bytes;  /* largest payload sent or accepted; 0: 17 MiB */
	uint32_t queue_max_frames; /* per peer; 0: 256 */
	uint64_t backoff_min_us;   /* first reconnection delay; 0: 5 ms */
	uint64_t backoff_max_us;   /* cap, keep it below the heartbeat; 0: 50 ms */
	uint64_t connect_timeout_us; /* a connect still in progress is abandoned
	                              * and retried after this; 0: 100 ms */
	uint64_t stall_timeout_us;   /* sent data unacknowledged this long drops the
	                              * connection (TCP_USER_TIMEOUT); 0: 1 s */
	uint64_t handshake_timeout_us; /* a connection not authenticated this long
	                                * after it opened is dropped; 0: 1 s */
	uint64_t frame_timeout_us; /* a frame begun and not complete this long
	                            * drops the connection; 0: 5 s */
	uint32_t max_inbound;      /* inbound connections not yet authenticated; 0: 32 */
	uint32_t max_inbound_per_addr; /* of those, from one source address; 0: 8 */
	raft_transport_deliver_fn deliver;
	void *deliver_arg;
};

/* Why an inbound or outbound connection was refused (stats.rejected). */
enum raft_tcp_reject {
	RAFT_TCP_REJ_ADDRESS = 0,  /* source address is no peer's */
	RAFT_TCP_REJ_HANDSHAKE,    /* malformed handshake, other cluster, other host, unknown id */
	RAFT_TCP_REJ_AUTH,         /* the other side does not hold our cluster key */
	RAFT_TCP_REJ_FRAME,        /* forged, altered, replayed or reordered frame; bad CRC */
	RAFT_TCP_REJ_OVERSIZE,     /* frame above the maximum */
	RAFT_TCP_REJ_TIMEOUT,      /* handshake or frame not complete in time */
	RAFT_TCP_REJ_EVICTED,      /* unauthenticated, pushed out of a full pool */
	RAFT_TCP_REJ_SELF,         /* outbound connection connected to itself */
	RAFT_TCP_REJ_END
};

struct raft_tcp_stats {
	uint64_t frames_sent, frames_received, bytes_sent, bytes_received;
	uint64_t dropped_queue_full;   /* oldest frames evicted by newer ones */
	uint64_t dropped_foreign;      /* other cluster or other receiver */
	uint64_t dropped_unknown;      /* sender not a configured peer */
	uint64_t dropped_bad_frame;    /* bad magic, version, CRC, seal or sender change */
	uint64_t dropped_oversize;     /* length above max_frame_bytes */
	uint64_t connects, connect_failures, disconnects, accepts, refused_inbound;
	uint64_t replaced_inbound;     /* older inbound connection of a peer closed */
	uint64_t handshakes;           /* inbound connections authenticated */
	uint64_t rejected[RAFT_TCP_REJ_END];
};

/* "address", "handshake", ... (metrics labels); "?" out of range. */
const char *raft_tcp_reject_name(enum raft_tcp_reject r);

struct fl_eloop;
struct raft_tcp;

/* Creates a transport on el and, if cfg->listen_addr is set, listens there
 * (SO_REUSEADDR, so a restarted host gets its port back). Returns 0 or a -FL_E
 * code, with a one-line reason in err (may be NULL). */
FL_MUST_CHECK int raft_tcp_new(struct fl_eloop *el, const struct raft_tcp_config *cfg, struct raft_tcp **out,
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
FL_MUST_CHECK int raft_tcp_add_peer(struct raft_tcp *t, uint64_t id, const char *addr, uint16_t port);
/* Replaces the cluster keys (n 1 or 2; keys[0] current, keys[1] next):
 * new connections use them; established connections made with a key no
 * longer listed are closed (their peers reconnect at once with a key both
 * hold). -FL_EINVAL for n out of range or on an insecure transport. */
FL_MUST_CHECK int raft_tcp_set_keys(struct raft_tcp *t, uint32_t n, const uint8_t keys[][RAFT_TCP_KEY_BYTES]);

/* Forgets peer id: its queue is dropped, its connections closed. */
FL_MUST_CHECK int raft_tcp_remove_peer(struct raft_tcp *t, uint64_t id);

/* Queues payload for peer `to` (see raft_transport_send()). When the peer's
 * queue is full the OLDEST queued frame that is not being written is dropped
 * (counted in dropped_queue_full): a newer heartbeat or append supersedes an
 * older one, and Raft repairs the gap. */
FL_MUST_CHECK int raft_tcp_send(struct raft_tcp *t, uint64_t to, const void *payload, uint32_t len);

/* Frames queued for peer id (0 for an unknown peer). */
uint32_t raft_tcp_queued(const struct raft_tcp *t, uint64_t id);
/* Bytes held by peer id's queue. */
uint64_t raft_tcp_queued_bytes(const struct raft_tcp *t, uint64_t id);
/* True while the outbound connection to id is established (and, with keys,
 * authenticated). */
bool raft_tcp_connected(const struct raft_tcp *t, uint64_t id);
/* Counters since raft_tcp_new(); valid as long as t. */
const struct raft_tcp_stats *raft_tcp_get_stats(const struct raft_tcp *t);

#endif
