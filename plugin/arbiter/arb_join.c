/* Membership that heals: the join handshake, the removal notice and the
 * rejoin of a host that lost its Raft state (docs/operations.md,
 * "Replacing a host" and "Lost state_dir").
 *
 * Join handshake. A joining host (started with nothing to found) that is not settled (its own Raft configuration
 * does not name it, or its replicated state holds no JOINED record of it)
 * sends HELLO every ARB_JOIN_HELLO_US to every host its transport may know
 * ([peers], and what members told it). Any member that knows it as JOINED
 * answers MEMBERS: the id and address of every JOINED host of its replicated
 * state. The driver points its transport at them (cfg.peer_learned), so that
 * the leader's appends are accepted and answered: [peers] of a joining host
 * needs one reachable member, not the whole cluster.
 *
 * Removal notice. The leader, holding a valid Raft leader lease, answers any
 * message of a host its replicated state records as LEFT with REMOVED
 * (at most once per ARB_JOIN_HELLO_US and host). A removed host is not told
 * by Raft itself: the leader stops sending to it as soon as the
 * configuration without it is in its log. A host that reads REMOVED (whose
 * term is not below its own) or applies its own removal is removed: the
 * driver logs it, releases the delta lease and stops.
 *
 * Rejoin. A host whose state_dir was lost starts with nothing (as a joiner)
 * and sets HELLO's rejoin flag with a number drawn at start (the boot
 * nonce). The leader takes it back as a fresh member: it removes the id from
 * the Raft configuration (once that is committed, no vote the host gave
 * before losing its state counts for anything: only a candidate whose log
 * lacks the removal could count it, and a majority that has the removal
 * refuses such a candidate), then adds it as a learner, which is promoted
 * once caught up, as any new host. The nonce makes a HELLO that arrives
 * after the rejoin completed harmless. A host that never voted with its
 * lost state is safe at once: a server whose own configuration does not
 * name it as a voter grants no vote (raft/core_elect.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "common/assert.h"
#include "common/le.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"

enum { JOIN_HELLO = 1, JOIN_MEMBERS = 2, JOIN_REMOVED = 3 };
#define JOIN_FLAG_REJOIN 0x1u
#define JOIN_HELLO_BYTES (1u + 1u + 1u + 8u)
#define JOIN_REMOVED_BYTES (1u + 1u + 8u) /* kind, version, the leader's term */
#define JOIN_ENTRY_MAX (4u + 1u + FSM_ADDR_MAX)
#define JOIN_MEMBERS_MAX (1u + 1u + 4u + ARB_MAX_HOSTS * JOIN_ENTRY_MAX)

bool arb_join_settled(const struct arb *a)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : NULL;
	const struct fsm_host *h = fsm_host_find(&a->fsm, (uint32_t)a->cfg.host_id);
	return c != NULL && raft_config_find(c, a->cfg.host_id) >= 0 && h != NULL && h->state == FSM_HOST_JOINED;
}

static void join_send(struct arb *a, uint64_t to, const uint8_t *b, uint32_t len)
{
	uint8_t *m = arb_txbuf(a, len + 1);
	if (m == NULL)
		return;
	m[0] = ARB_JOIN_MAGIC;
	memcpy(m + 1, b, len);
	/* Best effort: a host the transport does not know (yet) refuses it, and
	 * HELLO and REMOVED are sent again. */
	int rv = raft_transport_send(a->cfg.transport, to, m, len + 1);
	(void)rv;
}

static void join_hello(struct arb *a, uint64_t now)
{
	if (a->cfg.bootstrap != NULL || arb_join_settled(a) || a->join.removed ||
	    now < a->join.hello_us + ARB_JOIN_HELLO_US)
		return;
	a->join.hello_us = now;
	uint8_t b[JOIN_HELLO_BYTES] = {JOIN_HELLO, 1, a->cfg.rejoin ? JOIN_FLAG_REJOIN : 0};
	fl_put_le64(b + 3, a->join.nonce);
	for (uint32_t h = 1; h <= a->cfg.layout.max_hosts; h++)
		if (h != a->cfg.host_id)
			join_send(a, h, b, sizeof(b));
	if (now >= a->join.log_us + 10 * ARB_JOIN_HELLO_US) {
		a->join.log_us = now;
		fl_notice("host %" PRIu64 ": not yet a member here (%s): asking the hosts of [peers] for the "
			  "members; 'fencelock host add' on the leader admits a new host",
			  a->cfg.host_id, a->cfg.rejoin ? "rejoining after a lost state_dir" : "joining");
	}
}

/* The leader's answer to a host its replicated state records as LEFT. */
static bool join_tell_removed(struct arb *a, uint64_t to, uint64_t now)
{
	const struct fsm_host *h = fsm_host_find(&a->fsm, (uint32_t)to);
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	if (h == NULL || h->state != FSM_HOST_LEFT || r == NULL || !a->leader || !raft_leader_lease_valid(r, now))
		return h != NULL && h->state == FSM_HOST_LEFT;
	if (a->join.told_us[to] != 0 && now < a->join.told_us[to] + ARB_JOIN_HELLO_US)
		return true;
	if (a->join.told_us[to] == 0)
		fl_notice("host %" PRIu64 ": host %" PRIu64 " (%s), which was removed, is still running: telling it",
			  a->cfg.host_id, to, h->name);
	a->join.told_us[to] = now;
	uint8_t b[JOIN_REMOVED_BYTES] = {JOIN_REMOVED, 1};
	fl_put_le64(b + 2, raft_term(r));
	join_send(a, to, b, sizeof(b));
	return true;
}

void arb_join_heard(struct arb *a, uint64_t from)
{
	FL_ASSERT(from >= 1);
	FL_ASSERT(from <= ARB_MAX_HOSTS);
	(void)join_tell_removed(a, from, arb_now(a));
}

static void join_members(struct arb *a, uint64_t to)
{
	uint8_t b[JOIN_MEMBERS_MAX];
	uint32_t len = 6, n = 0;
	b[0] = JOIN_MEMBERS;
	b[1] = 1;
	for (uint32_t i = 0; i < a->fsm.lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(&a->fsm, i);
		size_t al = h != NULL ? strlen(h->addr) : 0;
		if (h == NULL || h->state != FSM_HOST_JOINED || h->host_id > ARB_MAX_HOSTS || al == 0 ||
		    strcmp(h->addr, "unknown") == 0 || len + JOIN_ENTRY_MAX > sizeof(b))
			continue;
		FL_ASSERT(al <= FSM_ADDR_MAX);
		fl_put_le32(b + len, h->host_id);
		b[len + 4] = (uint8_t)al;
		memcpy(b + len + 5, h->addr, al);
		len += 5 + (uint32_t)al;
		n++;
	}
	fl_put_le32(b + 2, n);
	join_send(a, to, b, len);
}

/* A HELLO from host `from`: the members if it is one of them; a rejoin
 * request goes to the leader's state machine. */
static void join_on_hello(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len)
{
	if (len != JOIN_HELLO_BYTES)
		return;
	uint8_t flags = b[2];
	uint64_t nonce = fl_get_le64(b + 3);
	if (join_tell_removed(a, from, arb_now(a)))
		return;
	const struct fsm_host *h = fsm_host_find(&a->fsm, (uint32_t)from);
	if (h == NULL || h->state != FSM_HOST_JOINED)
		return; /* not admitted (yet): 'fencelock host add' first */
	join_members(a, from);
	if ((flags & JOIN_FLAG_REJOIN) && a->leader && a->join.rejoin_id == 0 && nonce != 0 &&
	    nonce != a->join.rejoin_done[from]) {
		a->join.rejoin_id = (uint32_t)from;
		a->join.rejoin_nonce = nonce;
		fl_notice("host %" PRIu64 ": host %" PRIu64 " (%s) lost its Raft state and asks to rejoin: it is removed "
			  "from the Raft configuration and added again as a learner",
			  a->cfg.host_id, from, h->name);
	}
}

static void join_on_members(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len)
{
	/* Only a host that asked (a joiner: HELLO goes out only while it is not
	 * settled) takes a member list: a settled member learns addresses from
	 * the replicated state, and a list from a peer would point its
	 * transport wherever that peer chose. */
	if (len < 6 || arb_join_settled(a))
		return;
	uint32_t n = fl_get_le32(b + 2), off = 6;
	for (uint32_t i = 0; i < n && i < ARB_MAX_HOSTS; i++) {
		if (off + 5 > len)
			return;
		uint32_t id = fl_get_le32(b + off);
		uint32_t al = b[off + 4];
		if (off + 5 + al > len || al == 0 || al > FSM_ADDR_MAX)
			return; /* malformed: the rest dropped */
		char addr[FSM_ADDR_MAX + 1];
		memcpy(addr, b + off + 5, al);
		addr[al] = '\0';
		off += 5 + al;
		if (id == 0 || id > a->cfg.layout.max_hosts || id == a->cfg.host_id || memchr(addr, '\0', al) != NULL)
			continue;
		if (strcmp(a->join.learned[id], addr) == 0)
			continue;
		snprintf(a->join.learned[id], sizeof(a->join.learned[id]), "%s", addr);
		fl_notice("host %" PRIu64 ": host %" PRIu64 " says host %u is at %s", a->cfg.host_id, from, id, addr);
		if (a->cfg.peer_learned != NULL)
			a->cfg.peer_learned(a->cfg.peer_learned_ctx, id, addr);
	}
}

static void join_on_removed(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len)
{
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	if (len != JOIN_REMOVED_BYTES || r == NULL || a->join.removed)
		return;
	uint64_t term = fl_get_le64(b + 2);
	if (term < raft_term(r))
		return; /* from a deposed leader: not believed */
	/* Believed from the leader we follow, in its term; or, once we hear no
	 * leader (a removed host gets no appends), from a member of our state.
	 * Never from another host while a leader is heard, whatever term it
	 * claims: one message would stop a healthy host. */
	const struct fsm_host *h = fsm_host_find(&a->fsm, (uint32_t)from);
	bool from_leader = raft_leader(r) == from && term == raft_term(r);
	bool member = h != NULL && h->state == FSM_HOST_JOINED;
	if (!from_leader && (a->quorate || !member)) {
		arb_reject(a, from, false, "removal notice");
		return;
	}
	a->join.removed = true;
	a->join.removed_by = (uint32_t)from;
	fl_notice("host %" PRIu64 ": the leader (host %" PRIu64 ", term %" PRIu64 ") says this host was removed from "
		  "the cluster",
		  a->cfg.host_id, from, term);
}

void arb_join_receive(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len)
{
	if (len < 2 || b[1] != 1)
		return; /* unknown kind or version: dropped */
	switch (b[0]) {
	case JOIN_HELLO: join_on_hello(a, from, b, len); break;
	case JOIN_MEMBERS: join_on_members(a, from, b, len); break;
	case JOIN_REMOVED: join_on_removed(a, from, b, len); break;
	default: break;
	}
}

/* The leader's rejoin: remove the id from the configuration, then add it
 * again as a learner (promoted by leader_membership once caught up). Raft
 * takes one change at a time: each tick tries the next step. */
static void join_rejoin_step(struct arb *a)
{
	uint32_t id = a->join.rejoin_id;
	const struct fsm_host *h = fsm_host_find(&a->fsm, id);
	if (h == NULL || h->state != FSM_HOST_JOINED || id == a->cfg.host_id) {
		a->join.rejoin_id = 0;
		return;
	}
	struct raft *r = raft_node_core(a->node);
	uint64_t cfg_index = 0;
	const struct raft_config *c = raft_configuration(r, &cfg_index);
	int rv;
	if (a->join.rejoin_removed && raft_config_find(c, id) < 0 && cfg_index <= raft_commit_index(r)) {
		rv = raft_node_add(a->node, id);
		if (rv == 0) {
			rv = raft_node_promote(a->node, id); /* -FL_EAGAIN: once it has caught up */
			fl_notice("host %" PRIu64 ": host %u (%s) added again as a learner (rejoin); promotion %s",
				  a->cfg.host_id, id, h->name, rv == 0 ? "proposed" : "once it has caught up");
			a->join.rejoin_done[id] = a->join.rejoin_nonce;
			a->join.rejoin_id = 0;
			a->join.rejoin_removed = false;
		}
		return;
	}
	if (raft_config_find(c, id) >= 0 && !a->join.rejoin_removed) {
		rv = raft_node_remove(a->node, id);
		if (rv == 0) {
			a->join.rejoin_removed = true;
			fl_notice("host %" PRIu64 ": host %u (%s) removed from the Raft configuration (rejoin)",
				  a->cfg.host_id, id, h->name);
		}
		return;
	}
	if (raft_config_find(c, id) < 0)
		a->join.rejoin_removed = true; /* not in it (a previous leader removed it) */
}

void arb_join_tick(struct arb *a, uint64_t now)
{
	join_hello(a, now);
	const struct fsm_host *self = fsm_host_find(&a->fsm, (uint32_t)a->cfg.host_id);
	if (!a->join.removed && self != NULL && self->state == FSM_HOST_LEFT) {
		a->join.removed = true;
		fl_notice("host %" PRIu64 ": this host was removed from the cluster (applied its removal)",
			  a->cfg.host_id);
	}
	if (a->leader && a->quorate && a->join.rejoin_id != 0)
		join_rejoin_step(a);
}
