/* Internal state of the Raft core, shared by raft/core*.c only.
 *
 * The core keeps the log since the last snapshot in memory (fencelock's
 * control-plane log is small and compacted by snapshots); the log store keeps
 * the durable copy. Three cursors tie the two together:
 *   persisted_index  entries <= it are durable (acknowledged by the driver);
 *   unissued_from    entries >= it have not been handed to the driver yet;
 *   the persist FIFO items handed out but not yet acknowledged, in order.
 * Outgoing messages wait in the outbox with the persist sequence number they
 * depend on; raft_ready() releases only those whose item is acknowledged. */
#ifndef FL_RAFT_CORE_H
#define FL_RAFT_CORE_H

#include "common/must_check.h"
#include "common/rand.h"
#include "raft/raft.h"

#define RAFT_OUTBOX_MAX 1024u
#define RAFT_PERSIST_MAX 64u
#define RAFT_INFLIGHT_MAX 64u
#define RAFT_APPLY_BATCH 1024u
#define RAFT_UNCOMMITTED_MAX 8192u

enum raft_pmode { PMODE_PROBE = 1, PMODE_REPLICATE, PMODE_SNAPSHOT };

/* What the leader knows about one other server (§5.3 nextIndex/matchIndex). */
struct raft_progress {
	uint64_t id;
	uint64_t next;
	uint64_t match;
	uint8_t mode;
	bool probe_sent;          /* PROBE: one APPEND out, wait for its answer */
	uint32_t inflight;        /* REPLICATE: APPENDs not yet acknowledged */
	uint64_t inflight_last[RAFT_INFLIGHT_MAX]; /* last index of each, ring */
	uint32_t inflight_head;
	uint64_t hb_match;        /* match at the previous heartbeat */
	uint64_t snapshot_index;  /* SNAPSHOT: index being installed */
	uint64_t snapshot_sent_us;
	uint64_t last_send_us;
	uint64_t last_resp_us;    /* check-quorum: last answer, our clock */
	uint64_t lease_ack_us;    /* lease: newest echoed send time */
	uint64_t rtt_us;          /* smoothed round trip (1/8 per sample), 0 until one */
};

struct raft_out {
	struct raft_msg m;
	uint64_t need_seq;   /* persist item this message waits for (0 = none) */
	uint64_t from_index; /* APPEND: entries [from_index, from_index + n) */
};

struct raft_pitem {
	uint64_t seq;
	uint64_t ack_index; /* what the driver reports back */
	uint64_t ack_term;
	uint64_t eff_index; /* how far it makes the log durable (clamped) */
	uint64_t issued_us;
};

struct raft {
	struct raft_options opt;
	bool rejoin_learner_seen; /* opt.rejoining: a configuration named us as a learner */
	struct fl_rand rand;
	uint64_t now_us;

	/* Persistent state (§5.1 Figure 2) and volatile state. */
	uint64_t term;
	uint64_t vote;
	uint64_t commit;
	uint64_t leader_commit; /* highest commit index a leader announced to us (display only) */
	uint64_t applied;
	uint8_t state;
	uint64_t leader;

	/* Log [log_first, log_first + log_n), snapshot at snap_index. */
	struct raft_entry *log;
	uint64_t log_n;
	uint64_t log_cap;
	uint64_t log_first;
	struct raft_snapshot snap;
	uint64_t compact_hint;

	/* Newest configuration in the log (§4.1) and its index. */
	struct raft_config cfg;
	uint64_t cfg_index;

	/* Durability bookkeeping (see the top of this file). */
	uint64_t persisted_index;
	uint64_t unissued_from;
	uint64_t truncate_pending;
	bool snap_pending;
	bool hs_dirty;
	uint64_t hs_seq;
	uint64_t issued_seq;
	uint64_t acked_seq;
	struct raft_pitem fifo[RAFT_PERSIST_MAX];
	uint32_t fifo_head;
	uint32_t fifo_n;

	/* Timers, on the driver's clock. */
	uint64_t election_deadline_us;
	uint64_t last_leader_us;   /* heard from a leader (or booted) */
	uint64_t heartbeat_due_us;
	uint64_t became_leader_us;

	/* Elections: servers that granted / refused in this round. */
	uint64_t granted[RAFT_MAX_SERVERS];
	uint32_t n_granted;
	uint64_t refused[RAFT_MAX_SERVERS];
	uint32_t n_refused;

	/* Leader. */
	struct raft_progress prog[RAFT_MAX_SERVERS];
	uint32_t n_prog;
	uint64_t transfer_target;
	uint64_t transfer_deadline_us;
	bool transfer_sent;
	uint64_t promote_id;
	uint64_t promote_deadline_us;

	/* Outbox and what the last update handed out. */
	struct raft_out *outbox;
	uint32_t outbox_n;
	uint64_t outbox_dropped;
	struct raft_msg *ready_msgs;
	uint8_t last_state;
	uint64_t last_term;
	uint64_t last_leader_reported;
};

/* core.c: log and durability */
void raft__check(const struct raft *r);
uint64_t raft__last_index(const struct raft *r);
uint64_t raft__last_term(const struct raft *r);
bool raft__term_known(const struct raft *r, uint64_t index, uint64_t *term);
struct raft_entry *raft__entry(const struct raft *r, uint64_t index);
FL_MUST_CHECK int raft__append(struct raft *r, uint64_t term, uint8_t type, const void *data, uint32_t len);
FL_MUST_CHECK int raft__append_entry(struct raft *r, const struct raft_entry *e);
void raft__truncate(struct raft *r, uint64_t from_index);
void raft__set_term(struct raft *r, uint64_t term, uint64_t vote);
void raft__config_refresh(struct raft *r);
bool raft__config_at(const struct raft *r, uint64_t index, struct raft_config *out);
uint64_t raft__need_index(const struct raft *r, uint64_t index);
uint64_t raft__need_hs(const struct raft *r);
struct raft_msg *raft__send(struct raft *r, uint8_t type, uint64_t to, uint64_t need_seq);
bool raft__is_voter(const struct raft *r, uint64_t id);
uint32_t raft__quorum(const struct raft *r);
void raft__reset_election_timer(struct raft *r);

/* core_elect.c: roles, elections, ticks */
void raft__become_follower(struct raft *r, uint64_t term, uint64_t leader);
void raft__campaign(struct raft *r, bool transfer);
FL_MUST_CHECK int raft__step_vote(struct raft *r, const struct raft_msg *m);
FL_MUST_CHECK int raft__step_vote_resp(struct raft *r, const struct raft_msg *m);
void raft__tick_leader(struct raft *r);

/* core_repl.c: replication, commitment, snapshots */
void raft__progress_rebuild(struct raft *r);
struct raft_progress *raft__progress(struct raft *r, uint64_t id);
void raft__send_append(struct raft *r, struct raft_progress *p);
void raft__replicate(struct raft *r, struct raft_progress *p);
void raft__broadcast(struct raft *r, bool heartbeat);
void raft__maybe_commit(struct raft *r);
FL_MUST_CHECK int raft__step_append(struct raft *r, const struct raft_msg *m);
FL_MUST_CHECK int raft__step_append_resp(struct raft *r, const struct raft_msg *m);
FL_MUST_CHECK int raft__step_snapshot(struct raft *r, const struct raft_msg *m);

/* core_member.c: membership, promotion, transfer */
void raft__member_on_progress(struct raft *r, struct raft_progress *p);
void raft__member_tick(struct raft *r);

#endif
