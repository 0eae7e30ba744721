/* The simulated network of the whole-cluster simulator.
 *
 * Hosts 1..n exchange opaque datagrams. Each message is delayed by a random
 * latency (so messages reorder), may be lost or duplicated, and is dropped if
 * the link from sender to receiver is cut at send time or at delivery time
 * (a cut link loses what was in flight, as a TCP reset would). Links are cut
 * per direction, so symmetric, asymmetric (send-only / receive-only) and
 * partial partitions are all expressible. Delivery happens on the receiver's
 * clock: a paused host receives nothing until it resumes. All randomness
 * comes from the net's own seeded PRNG. */
#ifndef FL_SIMNET_H
#define FL_SIMNET_H

#include <stdbool.h>
#include <stdint.h>
#include "common/simloop.h"

#define SIMNET_MAX_HOSTS 128
#define SIMNET_MAX_INFLIGHT 65536
#define SIMNET_MAX_MSG_BYTES (1u << 20)

typedef void (*simnet_deliver_fn)(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, uint32_t len);

struct simnet_params {
	uint64_t delay_min_us, delay_max_us;
	uint32_t loss_permille;
	uint32_t dup_permille;
};

struct simnet_stats {
	uint64_t sent, delivered, dropped_cut, dropped_loss, dropped_full, duplicated;
};

struct simnet;

/* Creates a network for n hosts (1..n); clocks[i] is host i+1's loop. */
struct simnet *simnet_new(struct fl_sim *sim, uint32_t n, struct fl_simclock *const *clocks, uint64_t seed,
			  simnet_deliver_fn deliver, void *ctx);
void simnet_free(struct simnet *net);
struct simnet_params *simnet_params(struct simnet *net);
const struct simnet_stats *simnet_stats(const struct simnet *net);

/* Sends a copy of buf from one host to another (1-based ids). */
void simnet_send(struct simnet *net, uint32_t from, uint32_t to, const uint8_t *buf, uint32_t len);

/* Link control; ids are 1-based. */
void simnet_set_link(struct simnet *net, uint32_t from, uint32_t to, bool up);
bool simnet_link_up(const struct simnet *net, uint32_t from, uint32_t to);
/* Cuts host h off: out (it cannot send), in (it cannot receive), or both. */
void simnet_isolate(struct simnet *net, uint32_t h, bool out, bool in);
/* Splits hosts into groups: group_of[h-1] is h's group; links between groups cut. */
void simnet_split(struct simnet *net, const uint32_t *group_of);
void simnet_heal(struct simnet *net);
/* Drops every message in flight to or from h (the host crashed). */
void simnet_drop_host(struct simnet *net, uint32_t h);

#endif
