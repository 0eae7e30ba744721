/* The Raft consensus core: a pure state machine, no I/O, no clock of its own.
 *
 * fencelock's network quorum channel (membership, VM registry, decisions, fast
 * failure detection) runs on this core. It follows canonical/raft's and etcd's
 * split: the core takes events in (a message received, time passing, a durable
 * write completed, a snapshot taken) and returns one update out at a time
 * (messages to send, entries and hard state to persist, entries to apply, state
 * changes, a snapshot to install). A driver (the real node over TCP and a log
 * store, or the deterministic test fixture) does the I/O.
 *
 * Time. The driver supplies its monotonic clock in microseconds with every
 * event (raft_step(), raft_tick(), raft_propose(), ...); the value must never
 * go backwards. The core never compares its clock with another host's: the
 * leader lease echoes the leader's own send times back to it.
 *
 * The ready / persisted cycle (how durability is guaranteed before a message
 * that depends on it leaves the host):
 *   1. after any event the driver calls raft_ready(); it returns an update;
 *   2. the driver sends upd.msgs[] (in any order, may drop any), applies
 *      upd.committed[], installs upd.persist.snapshot if set, and hands
 *      upd.persist (hard state, truncation, entries) to the log store, in
 *      update order;
 *   3. when the log store has made one update's persist part durable, the
 *      driver calls raft_persisted(r, upd.persist.last_index,
 *      upd.persist.term) for it, in the order the updates were issued.
 * The core holds back every message that depends on durable state (a vote
 * grant or refusal, an append or snapshot acknowledgement, a real vote
 * request) until the persist item it depends on is acknowledged, so a driver
 * that follows 1-3 can never send a promise it might forget in a crash.
 * A leader's own entries count towards commitment only once persisted
 * (thesis §10.2.1: the leader writes to its disk in parallel with replication).
 *
 * Everything an update points to belongs to the core and stays valid only until
 * the next call of a raft_ function other than the const getters: the driver
 * copies or encodes what it keeps.
 *
 * Not thread-safe: one thread drives one core. */
#ifndef FL_RAFT_RAFT_H
#define FL_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"

/* ---- log entries ---------------------------------------------------------- */

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* application command, opaque to the core */
	RAFT_ENTRY_CONFIG = 2, /* a configuration, encoded by raft_config_encode() */
	RAFT_ENTRY_NOOP = 3,   /* the leader's no-op at the start of its term (§5.4.2, §8) */
};

struct raft_entry {
	uint64_t term;
	uint64_t index;
	uint8_t type; /* RAFT_ENTRY_NORMAL, RAFT_ENTRY_CONFIG, RAFT_ENTRY_NOOP */
	uint32_t len;
	uint8_t *data;
};

/* ---- configuration -------------------------------------------------------- */

/* Voters and learners together, at most this many: fencelock's largest
 * cluster (128 hosts, ARB_MAX_HOSTS: a few voters, the rest learners) plus
 * the disk voter, which an even number of host voters needs
 * (plugin/arbiter/arb_internal.h asserts the relation). */
#define RAFT_MAX_SERVERS 129

enum raft_role_in_config {
	RAFT_VOTER = 1,
	RAFT_LEARNER = 2, /* receives the log, never votes, never counts (§4.2.1) */
};

struct raft_server {
	uint64_t id; /* fencelock host_id, 1..2000; never 0 */
	uint8_t role; /* enum raft_role_in_config */
};

struct raft_config {
	uint32_t n;
	struct raft_server servers[RAFT_MAX_SERVERS];
};

/* Encoded size of a configuration, in bytes. */
size_t raft_config_encoded_size(const struct raft_config *c);
/* Encodes c (versioned, little-endian) into buf of cap bytes. Returns the
 * number of bytes written, or -FL_EINVAL if cap is too small or c invalid. */
FL_MUST_CHECK int raft_config_encode(const struct raft_config *c, uint8_t *buf, size_t cap);
/* Decodes a configuration; -FL_EINVAL on any malformed or truncated input,
 * on a duplicate or zero id, or on an unknown role. Never crashes. */
FL_MUST_CHECK int raft_config_decode(const uint8_t *buf, size_t len, struct raft_config *out);
/* Index of id in c, or -1. */
FL_MUST_CHECK int raft_config_find(const struct raft_config *c, uint64_t id);
/* Number of voters in c. */
uint32_t raft_config_voters(const struct raft_config *c);

/* ---- messages ------------------------------------------------------------- */

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,      /* AppendEntries (§5.3); no entries = heartbeat */
	RAFT_MSG_APPEND_RESP = 2, /* reply to APPEND and to SNAPSHOT */
	RAFT_MSG_VOTE = 3,        /* RequestVote (§5.2) or pre-vote (§9.6) */
	RAFT_MSG_VOTE_RESP = 4,
	RAFT_MSG_SNAPSHOT = 5,    /* InstallSnapshot (§5.1 of the thesis ch. 5), one chunk */
	RAFT_MSG_TIMEOUT_NOW = 6, /* leadership transfer (§3.10) */
	RAFT_MSG_TYPE_MAX
};

struct raft_msg_append {
	uint64_t prev_index;
	uint64_t prev_term;
	uint64_t commit;
	uint64_t lease_ctx; /* leader's clock at send time, echoed back (lease) */
	uint32_t n_entries;
	struct raft_entry *entries;
};

struct raft_msg_append_resp {
	uint8_t success;
	uint64_t match_index;    /* success: last index known to match the leader */
	uint64_t reject_index;   /* failure: the prev_index that was refused */
	uint64_t conflict_index; /* failure: first index of conflict_term in the
	                          * follower's log, or its last index + 1 (§5.3 hint) */
	uint64_t conflict_term;  /* failure: term at reject_index, 0 if none */
	uint64_t last_index;     /* follower's last log index */
	uint64_t lease_ctx;      /* echoed from the APPEND or SNAPSHOT */
};

struct raft_msg_vote {
	uint8_t pre;       /* pre-vote: nobody changes term (§9.6) */
	uint8_t transfer;  /* sent after TimeoutNow: voters skip the leader-lease check */
	uint64_t last_index;
	uint64_t last_term;
};

struct raft_msg_vote_resp {
	uint8_t pre;
	uint8_t granted;
};

struct raft_msg_snapshot {
	uint64_t index; /* last index covered by the snapshot */
	uint64_t snap_term;
	uint64_t lease_ctx;
	struct raft_config config; /* configuration in force at index */
	uint64_t len;
	uint8_t *data;
};

struct raft_msg {
	uint8_t type; /* enum raft_msg_type */
	uint64_t from;
	uint64_t to;
	uint64_t term;
	union {
		struct raft_msg_append append;
		struct raft_msg_append_resp append_resp;
		struct raft_msg_vote vote;
		struct raft_msg_vote_resp vote_resp;
		struct raft_msg_snapshot snapshot;
	};
};

/* ---- durable state -------------------------------------------------------- */

struct raft_hard_state {
	uint64_t term;
	uint64_t vote;   /* 0 = none in this term */
	uint64_t commit; /* informative: need not be persisted */
};

struct raft_snapshot {
	uint64_t index; /* 0 with an empty log: "bootstrap configuration" */
	uint64_t term;
	struct raft_config config;
	uint64_t len;
	uint8_t *data;
};

/* What the driver loaded from its log store at start-up. A brand-new cluster
 * is bootstrapped by giving every initial voter the same snapshot with index 0,
 * term 0 and the initial configuration, and no entries. A host that joins an
 * existing cluster starts with an empty configuration and learns everything
 * from the leader. entries[] are contiguous and may start at or before
 * snapshot.index + 1 (trailing entries); the core skips those it already has. */
struct raft_boot {
	struct raft_hard_state hard;
	struct raft_snapshot snapshot;
	const struct raft_entry *entries;
	uint64_t n_entries;
};

/* ---- options -------------------------------------------------------------- */

struct raft_options {
	uint64_t id;                  /* this server's id, nonzero */
	uint64_t seed;                /* seeds the election-timeout PRNG */
	uint64_t election_timeout_us; /* E: minimum; each timeout is drawn in [E, 2E) */
	uint64_t heartbeat_us;        /* leader's heartbeat period, < E / 2 */
	/* Assumed bound on clock-rate drift between hosts, in parts per million.
	 * The leader lease lasts E * (1 - 2 * drift) - lease_margin_us. */
	uint64_t max_drift_ppm;
	uint64_t lease_margin_us;
	uint32_t max_inflight;       /* APPEND messages in flight per follower (pipelining) */
	uint32_t max_batch_entries;  /* entries per APPEND */
	uint32_t max_batch_bytes;    /* entry bytes per APPEND (at least one entry is sent) */
	uint64_t catch_up_entries;   /* a learner within this many entries may be promoted */
	uint64_t snapshot_trailing;  /* entries kept before a snapshot for slow followers */
	bool pre_vote;               /* §9.6 */
	bool check_quorum;           /* §6.2: leader steps down without a live majority */
	/* This server lost its durable state and rejoins under its old id: it
	 * grants no vote until a configuration has named it as a learner (the
	 * leader removed the old voter and added it back; plugin/arbiter/arb_join.c). */
	bool rejoining;
};

/* Fills o with fencelock's defaults for io_timeout-derived timings:
 * E = 1 s, heartbeat = 100 ms, drift 1000 ppm, margin 50 ms, pre-vote and
 * check-quorum on, 8 in flight, 64 entries / 1 MiB per APPEND, learners
 * promotable within 16 entries, 128 trailing entries. */
void raft_options_default(struct raft_options *o, uint64_t id, uint64_t seed);

/* ---- the update ----------------------------------------------------------- */

enum raft_state {
	RAFT_FOLLOWER = 1,
	RAFT_PRE_CANDIDATE = 2,
	RAFT_CANDIDATE = 3,
	RAFT_LEADER = 4,
};

struct raft_persist {
	bool has_hard_state;          /* hard state below must be written */
	struct raft_hard_state hard;
	/* Non-NULL on a follower that received InstallSnapshot: the whole log
	 * is replaced (truncate_from is then 1: delete every entry), store the
	 * snapshot and restore the state machine from it. Order of a persist
	 * part: hard state, truncation, snapshot, entries. */
	const struct raft_snapshot *snapshot;
	uint64_t truncate_from;        /* nonzero: delete entries >= this first */
	const struct raft_entry *entries; /* then append these (contiguous) */
	uint32_t n_entries;
	/* The update has a persist part iff has_hard_state is true (every part
	 * carries the hard state). The driver passes these two values back to
	 * raft_persisted() once everything above is durable. */
	uint64_t last_index;
	uint64_t term;
};

struct raft_update {
	/* Messages ready to leave: their durable preconditions are met. */
	const struct raft_msg *msgs;
	uint32_t n_msgs;
	struct raft_persist persist;
	/* Committed entries to apply, in order (§5.3); contiguous. */
	const struct raft_entry *committed;
	uint32_t n_committed;
	/* The log may be compacted up to and including this index (0 = no hint):
	 * a snapshot covers it (raft_snapshot_taken()). */
	uint64_t compact_index;
	/* State, and whether it changed since the previous update. */
	bool state_changed;
	uint8_t state;   /* enum raft_state */
	uint64_t term;
	uint64_t leader; /* 0 = unknown */
};

/* ---- the core ------------------------------------------------------------- */

struct raft;

/* Creates a core from options and the durable state the driver loaded.
 * Returns 0 and sets *out, -FL_EINVAL on inconsistent options or boot state
 * (a gap in the entries, terms going down, an invalid configuration),
 * -FL_ECORRUPT if a configuration entry does not decode, -FL_ENOMEM. Start-up counts as having heard from a leader at now_us, so a
 * restarted server grants no vote for one election timeout: the leader lease
 * of the previous leader survives our crash (thesis §6.4.1 leases). */
FL_MUST_CHECK int raft_new(const struct raft_options *opt, const struct raft_boot *boot,
	     uint64_t now_us, struct raft **out);
void raft_free(struct raft *r);

/* Event: a message arrived (§5.1: any message with a higher term first makes
 * us a follower of that term, except the cases of §4.2.3 and §9.6).
 * -FL_EINVAL if the message is malformed or not addressed to us. */
FL_MUST_CHECK int raft_step(struct raft *r, uint64_t now_us, const struct raft_msg *m);

/* Event: time passed. Drives election timeouts (§5.2), heartbeats, check-quorum
 * (§6.2), the transfer timeout (§3.10) and the log-store stall check: a leader
 * whose oldest unacknowledged persist item is older than E steps down
 * (hashicorp/raft #503). Call at least every heartbeat_us / 2. */
FL_MUST_CHECK int raft_tick(struct raft *r, uint64_t now_us);

/* Event: the persist part of an update is durable; pass that update's
 * persist.last_index and persist.term, in issue order. -FL_EINVAL if the pair
 * does not match the oldest unacknowledged update. */
FL_MUST_CHECK int raft_persisted(struct raft *r, uint64_t last_index, uint64_t term);

/* Returns the next update (and forgets what it returned before). */
void raft_ready(struct raft *r, struct raft_update *upd);

/* Proposes a command (leader only). Returns 0 and the entry's index in
 * *index_out, -FL_ENOTLEADER, -FL_EBUSY during a leadership transfer,
 * -FL_ENOSPC if too many entries are not yet committed. */
FL_MUST_CHECK int raft_propose(struct raft *r, uint64_t now_us, const void *data, uint32_t len,
		 uint64_t *index_out);

/* Membership, one server at a time (thesis §4.1): a change is refused with
 * -FL_EBUSY while a previous one is uncommitted or before the leader has
 * committed an entry of its own term. Every server uses the newest
 * configuration in its log, committed or not. A new server joins as learner
 * (§4.2.1); raft_promote() makes it a voter once it has caught up. */
FL_MUST_CHECK int raft_add(struct raft *r, uint64_t now_us, uint64_t id);
FL_MUST_CHECK int raft_remove(struct raft *r, uint64_t now_us, uint64_t id);
/* Promotes learner id to voter when its match index is within
 * catch_up_entries of the leader's log: returns 0 if the change was proposed,
 * -FL_EAGAIN if it was queued (proposed automatically once caught up, dropped
 * after 10 election timeouts), -FL_ENOENT if id is not a learner, -FL_EINVAL
 * if id is the leader itself (a leader that demoted itself). */
FL_MUST_CHECK int raft_promote(struct raft *r, uint64_t now_us, uint64_t id);
/* Makes voter id a learner (it keeps receiving the log and never counts
 * towards a majority again): -FL_ENOENT if id is not a voter, -FL_EINVAL if
 * it is the last voter, -FL_EBUSY / -FL_ENOTLEADER as for every change. */
FL_MUST_CHECK int raft_demote(struct raft *r, uint64_t now_us, uint64_t id);

/* Leadership transfer (§3.10): the leader stops accepting proposals, brings
 * target up to date and sends it TimeoutNow; gives up after one election
 * timeout. The leader lease is invalid from this call on. If the transfer
 * times out after TimeoutNow was sent, the leader steps down: a delayed
 * TimeoutNow could still start an election that skips the voters' lease
 * check, so its lease could never be trusted again in this term. */
FL_MUST_CHECK int raft_transfer(struct raft *r, uint64_t now_us, uint64_t target);

/* The application saved a snapshot covering entries up to index (<= applied)
 * and it is durable (the driver wrote it to the log store);
 * the core keeps a copy of data for lagging followers (InstallSnapshot) and
 * compacts its log, keeping snapshot_trailing entries. */
FL_MUST_CHECK int raft_snapshot_taken(struct raft *r, uint64_t index, const void *data, uint64_t len);

/* The leader lease, for the arbiter: true iff we are leader, no transfer is
 * under way, and a majority of voters (us included) acknowledged an APPEND we
 * sent at a time t > now_us - lease, lease = E * (1 - 2 * max_drift) -
 * lease_margin. Safe because a voter that heard from us ignores vote requests
 * for E of its own clock (§4.2.3), so no other leader can exist before then,
 * given clock rates differ by at most max_drift_ppm. */
bool raft_leader_lease_valid(const struct raft *r, uint64_t now_us);
/* Leader only: the latest send time t (leader's clock) such that a majority
 * of the voters, us included, acknowledged a message we sent at or after t:
 * the last moment we were provably in contact with a quorum. now_us while
 * we are the only voter; 0 when not leader or no majority ever answered. */
uint64_t raft_quorum_contact_us(const struct raft *r, uint64_t now_us);

/* ---- getters -------------------------------------------------------------- */
/* Pure reads of the core's state; they never change it and may be called
 * between any two events. */

uint64_t raft_id(const struct raft *r);
/* enum raft_state. */
uint8_t raft_state(const struct raft *r);
/* currentTerm and votedFor (Figure 2), as the core holds them: possibly
 * ahead of what is durable until the next persist part is acknowledged. */
uint64_t raft_term(const struct raft *r);
uint64_t raft_vote(const struct raft *r);
/* The leader we follow in the current term, 0 if unknown (forgotten on
 * becoming pre-candidate). */
uint64_t raft_leader(const struct raft *r);
/* commitIndex and the last index handed out in upd.committed. */
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_applied_index(const struct raft *r);
/* Index of the last entry in the log (or of the snapshot if the log is empty). */
uint64_t raft_last_index(const struct raft *r);
/* First index held in memory (snapshot.index + 1 or earlier if trailing). */
uint64_t raft_first_index(const struct raft *r);
uint64_t raft_snapshot_index(const struct raft *r);
/* Term of the entry at index; 0 for index 0; -FL_ENOENT if compacted or absent. */
FL_MUST_CHECK int raft_term_at(const struct raft *r, uint64_t index, uint64_t *term_out);
/* The entry at index, or NULL. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
/* The newest configuration in the log (§4.1), and its index. */
const struct raft_config *raft_configuration(const struct raft *r, uint64_t *index_out);
/* What the core holds in memory for its log, for memory accounting: the
 * entries in memory (compaction keeps at most snapshot_trailing before the
 * last snapshot), their data bytes, the log array (it grows to the largest
 * log held and stays) and the copy of the last snapshot. */
struct raft_mem_usage {
	uint64_t entries;
	uint64_t entry_bytes;
	uint64_t log_array_bytes;
	uint64_t snapshot_bytes;
};
void raft_mem_usage(const struct raft *r, struct raft_mem_usage *out);
/* The highest commit index known in the cluster: ours on a leader, else
 * the highest a leader announced to us (at least our own). How far behind a
 * follower is, for the operator's view; no decision reads it. */
uint64_t raft_leader_commit(const struct raft *r);
/* Leader only: match index of server id, or 0. */
uint64_t raft_match_index(const struct raft *r, uint64_t id);
/* Leader only: smoothed round trip to server id in us, from the send time
 * its answers echo (a heartbeat's, or an APPEND's once the follower has
 * written its entries); 0 if unknown, not the leader, or id is us. */
uint64_t raft_rtt_us(const struct raft *r, uint64_t id);
const char *raft_state_name(uint8_t state);

#endif
