/* Deterministic in-memory cluster for testing the Raft core.
 *
 * N cores (ids 1..N) under one simulated clock and a simulated network and
 * disk, all driven from one seed: a run replays exactly. Every message goes
 * through raft_msg_encode()/raft_msg_decode(), so the wire codec is exercised
 * by every test. Faults: per directed link cut / drop / duplicate / delay
 * (random delays reorder), partitions, isolation in one or both directions,
 * extra delay on vote traffic, crash and restart (acknowledged writes survive,
 * a random prefix of the unacknowledged ones may, the rest are lost), a log
 * store that hangs.
 *
 * After every step the fixture checks, and fails the running cmocka test with
 * the seed and step if one breaks:
 *   - election safety: at most one leader per term, ever;
 *   - log matching: two logs holding an entry with the same index and term are
 *     identical up to it;
 *   - leader completeness: a leader holds every entry committed in an earlier
 *     term;
 *   - state-machine safety: no two servers apply different entries at one
 *     index (checked on every apply against a global record);
 *   - committed entries are never lost: no durable log ever drops an entry
 *     that was committed;
 *   - the commit rule (Figure 8): a leader advances its commit index only onto
 *     an entry of its own term;
 *   - the leader lease: while a leader holds a valid lease, no server leads a
 *     later term.
 *
 * Replaying a failing seed: FX_TRACE_STATE=1 prints role changes,
 * FX_TRACE_MSG=1 every delivered message, FX_TRACE=1 every log-store write,
 * FX_TRACE_PROPOSE=1 proposals, FX_VERBOSE=1 keeps the core's log messages;
 * fx_dump() prints every server's state. */
#ifndef FL_RAFT_TEST_FIXTURE_H
#define FL_RAFT_TEST_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include "raft/raft.h"

#define FX_MAX_NODES 9

enum fx_dir {
	FX_BOTH = 0, /* neither sends nor receives */
	FX_OUT = 1,  /* its outgoing messages are lost (receive-only) */
	FX_IN = 2,   /* its incoming messages are lost (send-only) */
};

struct fx_opts {
	uint64_t election_timeout_us; /* default 1 s */
	uint64_t heartbeat_us;        /* default 100 ms */
	uint64_t step_us;             /* simulated time per step, default 5 ms */
	uint64_t delay_min_us;        /* network delay, default 1..10 ms */
	uint64_t delay_max_us;
	uint64_t disk_min_us;         /* log store latency, default 1..5 ms */
	uint64_t disk_max_us;
	uint64_t snapshot_every;      /* take a snapshot every this many applied entries (0 = never) */
	uint64_t snapshot_trailing;   /* raft option, default 8 */
	bool pre_vote;                /* default true */
	bool check_quorum;            /* default true */
};

struct fx;

/* Defaults above. */
void fx_opts_default(struct fx_opts *o);
/* A cluster of n bootstrapped voters (ids 1..n). */
struct fx *fx_new(uint32_t n, uint64_t seed, const struct fx_opts *o);
void fx_free(struct fx *c);

/* Time. */
uint64_t fx_now(const struct fx *c);
void fx_step(struct fx *c);
void fx_run(struct fx *c, uint64_t us);

/* Observation. */
struct raft *fx_raft(struct fx *c, uint64_t id);
bool fx_is_up(const struct fx *c, uint64_t id);
/* The leader of the highest term among running servers, or 0. */
uint64_t fx_leader(struct fx *c);
/* Runs until some running server is leader and every running member of its
 * configuration connected to it both ways knows it; returns its id or 0
 * after max_us. */
uint64_t fx_wait_leader(struct fx *c, uint64_t max_us);
/* Runs until server id applied index; false after max_us. */
bool fx_wait_applied(struct fx *c, uint64_t id, uint64_t index, uint64_t max_us);
uint64_t fx_applied(const struct fx *c, uint64_t id);
/* Highest index any server applied (the global committed record). */
uint64_t fx_committed_max(const struct fx *c);
/* Number of leader changes observed (state transitions to leader). */
uint64_t fx_elections(const struct fx *c);
/* Number of messages of a type delivered so far. */
uint64_t fx_delivered(const struct fx *c, uint8_t type);

/* Prints every server's state to stderr (for a failing seed). */
void fx_dump(struct fx *c);

/* Input. */
/* Drains id's core after a test called a raft_ function on it directly. */
void fx_drain(struct fx *c, uint64_t id);
int fx_propose(struct fx *c, uint64_t id, const char *text, uint64_t *index_out);
/* Proposes on whoever is leader, retrying across elections; returns the
 * index or 0 if not applied by the leader within max_us. */
uint64_t fx_propose_wait(struct fx *c, const char *text, uint64_t max_us);

/* Network faults. */
void fx_cut(struct fx *c, uint64_t from, uint64_t to);   /* one direction */
void fx_mend(struct fx *c, uint64_t from, uint64_t to);
void fx_isolate(struct fx *c, uint64_t id, enum fx_dir dir);
/* Two groups: servers whose bit (1 << id) is in mask vs all the others. */
void fx_partition(struct fx *c, uint64_t mask);
/* Any number of groups: group[id] labels server id (ids 1..n); links between
 * different labels are cut both ways. */
void fx_split(struct fx *c, const uint8_t *group);
void fx_heal(struct fx *c);
void fx_set_drop(struct fx *c, uint32_t permille);
void fx_set_dup(struct fx *c, uint32_t permille);
void fx_set_delay(struct fx *c, uint64_t min_us, uint64_t max_us);
/* Extra delay on VOTE / VOTE_RESP sent (out) or received (in) by id. */
void fx_slow_votes(struct fx *c, uint64_t id, uint64_t out_us, uint64_t in_us);

/* Node faults. */
void fx_crash(struct fx *c, uint64_t id);
void fx_restart(struct fx *c, uint64_t id);
void fx_disk_hang(struct fx *c, uint64_t id, bool hung);
/* Pending (unacknowledged) writes of id's log store. */
uint32_t fx_disk_pending(const struct fx *c, uint64_t id);
/* Sets id's term (and clears its vote) as if it had campaigned alone,
 * durably: a server "with an inflated term". */
void fx_inflate_term(struct fx *c, uint64_t id, uint64_t term);

/* Membership: a new, empty server (not in any configuration) joins the
 * simulation; returns its id. */
uint64_t fx_add_server(struct fx *c);

/* ---- bare cores, for tests of single message exchanges ------------------- */

/* Messages an update released; entry arrays are not kept (n_entries is). */
struct fx_outbox {
	struct raft_msg m[512];
	uint32_t n;
};

/* A core with id among voters 1..n_voters, durable term hard_term (vote 0)
 * and entries e[0..n_e) after an empty bootstrap snapshot. E = 1 s,
 * heartbeat = 100 ms; pre_vote / check_quorum as given. */
struct raft *fx_core_new(uint64_t id, uint32_t n_voters, uint64_t hard_term,
			 const struct raft_entry *e, uint64_t n_e, bool pre_vote,
			 bool check_quorum, uint64_t now_us);
/* Drains updates into ob (appending), acknowledging every persist part at
 * once when ack is true. Returns the number of messages added. */
uint32_t fx_core_pump(struct raft *r, struct fx_outbox *ob, bool ack);
/* Finds the first message of a type to a server (to = 0: any) in ob. */
const struct raft_msg *fx_outbox_find(const struct fx_outbox *ob, uint8_t type, uint64_t to);
uint32_t fx_outbox_count(const struct fx_outbox *ob, uint8_t type);
/* Makes r leader at now_us + 3 s: times out, collects grants from every
 * other voter for its pre-vote and vote. Returns the new time. */
uint64_t fx_core_make_leader(struct raft *r, uint64_t now_us, struct fx_outbox *ob);
/* Builds a message header. */
struct raft_msg fx_msg(uint8_t type, uint64_t from, uint64_t to, uint64_t term);

#endif
