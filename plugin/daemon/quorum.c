/* The quorum view (`fencelock quorum`, and the "quorum" object of
 * `status`): what corosync-quorumtool shows, for fencelock's Raft quorum.
 *
 *   expected votes  the voters of the Raft configuration this host uses:
 *                   the host voters and, while their number is even, the
 *                   disk voter (served by whichever host holds the witness
 *                   lease);
 *   total votes     of those, the ones present: a host voter this host
 *                   reports UP, the disk voter while a host is heard to
 *                   serve it;
 *   threshold       the majority of the expected votes (quorum);
 *   learners        servers receiving the log that do not vote yet (a host
 *                   being added), with their match index and lag behind the
 *                   commit index (known on the leader only: null elsewhere);
 *   peers           per member: last heard (directly or through a peer's
 *                   view), the Raft link (connected or down), frames queued,
 *                   and the Raft round trip (rtt_ms: on the leader, from the
 *                   send time its followers' answers echo; null elsewhere);
 *   never seen      configured peers ([peers]) never heard from.
 *
 * The loop copies these facts into the published snapshot (fld_snap_quorum);
 * the control thread renders them from it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "raft/node.h"
#include "raft/transport.h"

#define FLD_QUORUM_SCHEMA 1
/* A voter whose commit index trails the leader's by more than this is
 * reported catching up (WARNING): more than a burst of proposals in flight. */
#define FLD_CATCHUP_WARN_ENTRIES 256u

/* ==== on the loop ==== */

/* heard_us and connected are snap_host's (status.c). */
void fld_snap_host_marks(const struct fld *d, struct fld_snap_host *h)
{
	const struct fsm *f = arb_fsm(d->arb);
	const struct fsm_host *fh = fsm_host_find(f, h->id);
	h->queued = h->id != d->cfg.host_id ? raft_tcp_queued(d->tcp, h->id) : 0;
	if (h->id == d->cfg.host_id) {
		const char *v;
		memset(&h->proto, 0, sizeof(h->proto));
		arb_self_proto(d->arb, &h->proto.min, &h->proto.max, &v);
		h->proto.announced = true;
		h->proto.used = h->proto.max;
		snprintf(h->proto.version, sizeof(h->proto.version), "%s", v);
	} else {
		arb_peer_proto(d->arb, h->id, &h->proto);
	}
	if (fh == NULL)
		return;
	h->drained = fh->quarantine_until_us == FSM_QUARANTINE_DRAINED;
	uint64_t now = fsm_clock_us(f);
	h->quarantine_left_us = !h->drained && fh->quarantine_until_us > now ? fh->quarantine_until_us - now : 0;
	h->fence = fh->fence.active ? (fh->fence.acked ? 2 : 1) : 0;
	h->fence_reason = fh->fence.reason;
}

void fld_snap_quorum(const struct fld *d, struct fld_snap *s)
{
	struct raft_node *n = arb_raft(d->arb);
	struct raft *r = n != NULL ? raft_node_core(n) : NULL;
	const struct raft_config *c = r != NULL ? raft_configuration(r, NULL) : NULL;
	bool leader = r != NULL && raft_state(r) == RAFT_LEADER;
	s->n_servers = 0;
	for (uint32_t i = 0; c != NULL && i < c->n && i < RAFT_MAX_SERVERS; i++) {
		struct fld_snap_server *o = &s->servers[s->n_servers++];
		o->id = (uint32_t)c->servers[i].id;
		o->voter = c->servers[i].role == RAFT_VOTER;
		o->match = leader ? raft_match_index(r, c->servers[i].id) : 0;
		o->rtt_us = leader ? raft_rtt_us(r, c->servers[i].id) : 0;
	}
	s->last_index = r != NULL ? raft_last_index(r) : 0;
	s->witness_holder = arb_witness_holder(d->arb);
	s->n_never = 0;
	for (uint32_t i = 0; i < d->cfg.n_peers && s->n_never < CFG_PEERS_MAX; i++) {
		uint32_t id = d->cfg.peers[i].id;
		if (id != d->cfg.host_id && arb_host_heard_us(d->arb, id) == 0)
			s->never[s->n_never++] = id;
	}
}

/* ==== rendering, on the control thread ==== */

static const struct fld_snap_host *snap_host_find(const struct fld_snap *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].id == id)
			return &s->hosts[i];
	return NULL;
}

static json_t *str_or_null(const char *v)
{
	return v != NULL && v[0] != '\0' ? json_string(v) : json_null();
}

static json_t *id_or_null(uint32_t id)
{
	return id != 0 ? json_integer(id) : json_null();
}

/* One voter: a host, or the disk voter with the host serving it. */
static json_t *voter_json(const struct fld_snap *s, const struct fld_snap_server *sv, bool *present)
{
	const struct fld_snap_host *h = snap_host_find(s, sv->id);
	bool disk = sv->id == FL_WITNESS_RAFT_ID;
	*present = disk ? s->witness_holder != 0 : h != NULL && h->state == CLS_UP;
	return json_pack("{s:i,s:s,s:o,s:i,s:b,s:o,s:o,s:o}", "id", (int)sv->id, "kind", disk ? "disk" : "host",
			 "name", str_or_null(disk || h == NULL ? NULL : h->name), "votes", 1, "present", *present,
			 "state", disk || h == NULL ? json_null() : json_string(cls_state_name((enum cls_state)h->state)),
			 "served_by", disk ? id_or_null(s->witness_holder) : json_null(), "match_index",
			 s->leader ? json_integer((json_int_t)sv->match) : json_null());
}

static json_t *learner_json(const struct fld_snap *s, const struct fld_snap_server *sv)
{
	const struct fld_snap_host *h = snap_host_find(s, sv->id);
	uint64_t commit = s->st.commit;
	json_t *lag = s->leader ? json_integer((json_int_t)(commit > sv->match ? commit - sv->match : 0)) : json_null();
	return json_pack("{s:i,s:o,s:o,s:o}", "id", (int)sv->id, "name",
			 str_or_null(h != NULL ? h->name : sv->id == FL_WITNESS_RAFT_ID ? "disk voter"
											: NULL),
			 "match_index", s->leader ? json_integer((json_int_t)sv->match) : json_null(), "lag", lag);
}

/* The leader's smoothed Raft round trip to host id, in ms; null if unknown. */
static json_t *rtt_json(const struct fld_snap *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_servers; i++)
		if (s->servers[i].id == id && s->servers[i].rtt_us != 0)
			return json_real((double)s->servers[i].rtt_us / 1000.0);
	return json_null();
}

static json_t *peers_json(const struct fld *d, const struct fld_snap *s)
{
	json_t *a = json_array();
	uint64_t now = fl_monotonic_us();
	for (uint32_t i = 0; i < s->n_hosts; i++) {
		const struct fld_snap_host *h = &s->hosts[i];
		bool self = h->id == d->cfg.host_id;
		json_t *heard = h->heard_us == 0 ? json_null()
						 : json_integer((json_int_t)(now > h->heard_us ? (now - h->heard_us) / 1000u : 0));
		json_t *o = json_pack("{s:i,s:o,s:o,s:s,s:o,s:s,s:o,s:i}", "id", (int)h->id, "name", str_or_null(h->name),
				      "addr", str_or_null(h->addr), "state", cls_state_name((enum cls_state)h->state),
				      "last_heard_ms", self ? json_integer(0) : heard, "link",
				      self ? "self" : h->connected ? "connected"
								   : "down",
				      "rtt_ms", self ? json_null() : rtt_json(s, h->id), "queued",
				      (int)h->queued);
		json_object_update_new(o, fld_host_version_json(h));
		json_array_append_new(a, o);
	}
	return a;
}

void fld_member_json(const struct fld_snap *s, json_t *o)
{
	const struct arb_status *st = &s->st;
	char why[256];
	switch (st->member) {
	case ARB_MEMBER_JOINING:
		snprintf(why, sizeof(why), "this host is not yet a member of the configuration it knows (commit %" PRIu64 "): waiting for 'fencelock host add' on the leader, for a member to answer (a reachable host "
					   "in [peers]), or catching up",
			 st->commit);
		break;
	case ARB_MEMBER_LEARNER:
		snprintf(why, sizeof(why), "this host is a learner catching up (commit %" PRIu64 "): it does not vote "
					   "until the leader promotes it",
			 st->commit);
		break;
	case ARB_MEMBER_REMOVED:
		snprintf(why, sizeof(why), "this host was removed from the cluster: it stops once no VM runs here");
		break;
	default:
		why[0] = '\0';
		/* A voter far behind the leader's commit is not caught up either. */
		if (st->leader_commit > st->commit + FLD_CATCHUP_WARN_ENTRIES)
			snprintf(why, sizeof(why), "this voter is catching up: commit %" PRIu64 ", the leader's %" PRIu64,
				 st->commit, st->leader_commit);
		break;
	}
	json_object_set_new(o, "member", json_string(arb_member_name(st->member)));
	json_object_set_new(o, "member_reason", why[0] != '\0' ? json_string(why) : json_null());
}

json_t *fld_quorum_json(const struct fld *d, const struct fld_snap *s)
{
	json_t *voters = json_array(), *learners = json_array(), *never = json_array();
	uint32_t expected = 0, total = 0;
	for (uint32_t i = 0; i < s->n_servers; i++) {
		const struct fld_snap_server *sv = &s->servers[i];
		bool present = false;
		if (!sv->voter) {
			json_array_append_new(learners, learner_json(s, sv));
			continue;
		}
		json_array_append_new(voters, voter_json(s, sv, &present));
		expected++;
		total += present;
	}
	for (uint32_t i = 0; i < s->n_never; i++) {
		uint32_t id = s->never[i];
		const char *addr = id < FL_ARRAY_SIZE(d->peer_addrs) ? d->peer_addrs[id] : NULL;
		json_array_append_new(never, json_pack("{s:i,s:o}", "id", (int)id, "addr", str_or_null(addr)));
	}
	FL_ASSERT(total <= expected);
	return json_pack("{s:i,s:s,s:i,s:s,s:b,s:o,s:I,s:I,s:I,s:i,s:i,s:i,s:o,s:o,s:o,s:o,s:o}", "schema_version",
			 FLD_QUORUM_SCHEMA, "cluster", d->cfg.cluster_name, "host_id", (int)d->cfg.host_id, "view",
			 s->leader ? "leader" : "follower", "quorate", s->st.quorate, "leader",
			 id_or_null((uint32_t)s->st.leader), "term", (json_int_t)s->st.term, "commit",
			 (json_int_t)s->st.commit, "last_index", (json_int_t)s->last_index, "expected_votes",
			 (int)expected, "total_votes", (int)total, "threshold", (int)(expected / 2 + 1), "voters", voters,
			 "witness_holder", id_or_null(s->witness_holder), "learners", learners, "peers",
			 peers_json(d, s), "never_seen", never);
}

int fld_read_quorum(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	(void)req;
	urcu_memb_read_lock();
	const struct fld_snap *s = rcu_dereference(d->snap);
	if (s == NULL) {
		urcu_memb_read_unlock();
		ctl_call_errorf(call, "fencelockd is starting; retry in a moment");
		return -FL_EAGAIN;
	}
	json_t *q = fld_quorum_json(d, s);
	if (q != NULL)
		fld_member_json(s, q);
	urcu_memb_read_unlock();
	if (q == NULL)
		return -FL_ENOMEM;
	json_object_update_new(ctl_call_reply(call), q);
	return 0;
}
