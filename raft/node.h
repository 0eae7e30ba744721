/* The Raft node driver: one consensus core (raft.h) run on a loop, with a log
 * store (logstore.h) and a transport (transport.h).
 *
 * The driver owns no global state, so a process can run several nodes side
 * by side on one loop (the daemon runs its own voter and, while it holds the
 * witness lease, the disk voter on a block-device log store). It follows the
 * core's ready / persisted cycle (raft.h): after every event (a message, a
 * tick of the loop clock, a proposal, a store completion) it drains the
 * core's updates, in order:
 *   - sends each message, encoded with raft/msg.h, through the transport;
 *   - hands the persist part to the store as up to four requests (hard state,
 *     truncation, snapshot, entries) and calls raft_persisted() when the last
 *     of them completed (completions come in submission order);
 *   - restores an installed snapshot and applies committed entries through
 *     the application's callbacks.
 * The driver never waits for the store: a stalled store only delays
 * raft_persisted(), and the core steps a leader down once its oldest
 * unacknowledged write is older than the election timeout. A store error is
 * sticky: the node keeps running (it can no longer promise anything durable,
 * so it sends no vote or acknowledgement) and raft_node_failed() reports it. */
#ifndef FL_RAFT_NODE_H
#define FL_RAFT_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include "common/must_check.h"
#include "common/loop.h"
#include "raft/logstore.h"
#include "raft/raft.h"
#include "raft/transport.h"

/* Outstanding persist parts (the core never issues more). */
#define RAFT_NODE_PERSIST_MAX 64u
/* Log-store requests the node may have outstanding at once. */
#define RAFT_NODE_STORE_QUEUE_MIN (4u * RAFT_NODE_PERSIST_MAX + 2u)

struct raft_node;

/* Application callbacks; all run on the loop thread. They may propose but
 * must not free the node. */
struct raft_node_app {
	/* The core started (result 0) or could not (load failed, bad state). */
	void (*started)(void *arg, struct raft_node *n, int result);
	/* A committed entry, in index order, every type (NORMAL, CONFIG, NOOP). */
	void (*apply)(void *arg, struct raft_node *n, const struct raft_entry *e);
	/* The leader sent a snapshot: replace the state machine with it. */
	void (*restore)(void *arg, struct raft_node *n, const struct raft_snapshot *s);
	/* Role, term or known leader changed (optional). */
	void (*state)(void *arg, struct raft_node *n, uint8_t state, uint64_t term, uint64_t leader);
	void *arg;
};

struct raft_node_config {
	struct raft_options opt;
	struct fl_loop *loop;
	/* Opened but not loaded, with queue_max >= RAFT_NODE_STORE_QUEUE_MIN;
	 * the node loads it, owns it from now on and closes it. */
	struct raft_logstore *store;
	struct raft_transport *transport;
	/* The configuration of a brand-new cluster, used when the store holds
	 * no snapshot (the same on every initial voter); NULL to join as an
	 * empty server that learns everything from the leader. */
	const struct raft_config *bootstrap;
	uint64_t tick_us;        /* 0: heartbeat_us / 4 */
	uint32_t max_msg_bytes;  /* largest encoded message; 0: 17 MiB */
	struct raft_node_app app;
};

/* Creates the node and submits the load of its store; the core starts when
 * the load completes (app.started). Returns 0, -FL_EINVAL (bad config, store
 * queue too short), -FL_ENOMEM, or the store's submit error (the store is
 * closed on every error). */
FL_MUST_CHECK int raft_node_new(const struct raft_node_config *cfg, struct raft_node **out);

/* Stops the node, closes its store (outstanding writes are abandoned, their
 * callbacks never run) and frees it. Safe on NULL. */
void raft_node_free(struct raft_node *n);

/* A payload from the transport (a raft_transport_deliver_fn body): decodes
 * it and steps the core. Messages whose sender does not match `from`, that
 * do not decode, or that arrive before the core started are dropped. */
void raft_node_receive(struct raft_node *n, uint64_t from, const uint8_t *payload, uint32_t len);

/* Proposes a NORMAL entry (leader only). Returns 0 with its index in
 * *index_out; -FL_ENOTLEADER, -FL_EBUSY, -FL_ENOSPC as raft_propose();
 * -FL_EAGAIN before the core started. The entry is applied through
 * app.apply once committed. */
FL_MUST_CHECK int raft_node_propose(struct raft_node *n, const void *data, uint32_t len, uint64_t *index_out);

/* Leadership transfer to target (raft_transfer(), thesis §3.10): the
 * arbiter hands leadership away when its own delta lease is not valid.
 * -FL_EAGAIN before the core started, else raft_transfer()'s result. */
FL_MUST_CHECK int raft_node_transfer(struct raft_node *n, uint64_t target);

/* Membership (leader only), as raft_add(), raft_remove(), raft_promote() and raft_demote()
 * of raft.h, on the loop clock, followed by a drain so the resulting
 * messages and writes go out at once. Return -FL_EAGAIN before the core
 * started, else the core's result. */
FL_MUST_CHECK int raft_node_add(struct raft_node *n, uint64_t id);
FL_MUST_CHECK int raft_node_remove(struct raft_node *n, uint64_t id);
FL_MUST_CHECK int raft_node_promote(struct raft_node *n, uint64_t id);
FL_MUST_CHECK int raft_node_demote(struct raft_node *n, uint64_t id);

/* The application saved the state machine up to index (<= applied): the
 * node stores the snapshot (data copied) and, once durable, tells the core,
 * which compacts its log. -FL_EBUSY while a previous snapshot is being
 * written, -FL_EINVAL for an index beyond the applied one. */
FL_MUST_CHECK int raft_node_snapshot(struct raft_node *n, uint64_t index, const void *data, uint64_t len);

/* The core (for its const getters), or NULL before it started. */
struct raft *raft_node_core(struct raft_node *n);
/* The store's sticky error, or 0. */
FL_MUST_CHECK int raft_node_failed(const struct raft_node *n);
/* The log store (for its statistics). */
struct raft_logstore *raft_node_store(struct raft_node *n);

#endif
