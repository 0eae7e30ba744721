/* The events op: the cluster's decision history (the FSM's event ring,
 * plugin/model/fsm_events.c) served off the lease loop.
 *
 * The loop copies the ring, oldest event first, into a struct fld_events
 * when the FSM recorded events since the last copy (at most every
 * FLD_SNAP_PERIOD_US, with the read views' snapshot, and before the replies
 * of mutating calls) and publishes it with liburcu. A copy is at most
 * FSM_EVENTS_MAX events (about 140 KiB), made only when the history grew.
 * The control server's thread renders the reply from the copy and the
 * snapshot's host table (for names) inside one read-side critical section;
 * it never reads the FSM.
 *
 * The reply is bounded: FSM_EVENTS_MAX events of at most EV_JSON_MAX bytes
 * each fit in the control protocol's reply limit with room to spare, so it
 * is never paged; since_index asks for the events of later Raft entries
 * only. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "plugin/host/evview.h"

/* One event's JSON: its numbers (7 of 20 digits), 5 host names, a uid, the
 * time and the keys. */
#define EV_JSON_MAX (7u * 20u + 5u * (FSM_NAME_MAX + 2u) + FSM_UID_MAX + 2u + EV_TIME_MAX + 400u)
_Static_assert(FSM_EVENTS_MAX * EV_JSON_MAX + 4096u < CTL_REPLY_MAX_BYTES,
	       "the whole event history must fit in one control reply");

static void events_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct fld_events, rcu));
}

void fld_events_publish(struct fld *d)
{
	const struct fsm *f = arb_fsm(d->arb);
	const struct fld_events *cur = d->events;
	if (cur != NULL && cur->total == f->ev_total)
		return; /* every host that applied the same entries holds the same events */
	uint32_t n = fsm_events_held(f);
	struct fld_events *e = malloc(sizeof(*e) + n * sizeof(e->ev[0]));
	if (e == NULL)
		return; /* readers keep the previous copy */
	memset(&e->rcu, 0, sizeof(e->rcu));
	e->total = f->ev_total;
	e->n = n;
	for (uint32_t i = 0; i < n; i++) {
		const struct fsm_event *ev = fsm_event_get(f, f->ev_total - n + i);
		FL_ASSERT(ev != NULL);
		e->ev[i] = *ev;
	}
	struct fld_events *old = rcu_xchg_pointer(&d->events, e);
	if (old != NULL)
		urcu_memb_call_rcu(&old->rcu, events_free_rcu);
}

void fld_events_drop(struct fld *d)
{
	struct fld_events *old = rcu_xchg_pointer(&d->events, NULL);
	urcu_memb_barrier();
	urcu_memb_synchronize_rcu();
	free(old);
}

/* ==== rendering, on the control server's thread ==== */

static json_t *id_or_null(uint64_t id)
{
	return id != 0 ? json_integer((json_int_t)id) : json_null();
}

/* Sets key to host id and name_key to its name in the snapshot's table
 * (null when the id is 0 or the name is not known). */
static void set_host(json_t *o, const struct fld_snap *s, const char *key, const char *name_key, uint32_t id)
{
	const char *name = NULL;
	for (uint32_t i = 0; id != 0 && s != NULL && i < s->n_hosts && name == NULL; i++)
		if (s->hosts[i].id == id && s->hosts[i].name[0] != '\0' && strcmp(s->hosts[i].name, "?") != 0)
			name = s->hosts[i].name;
	json_object_set_new(o, key, id_or_null(id));
	json_object_set_new(o, name_key, name != NULL ? json_string(name) : json_null());
}

/* The kind-dependent "state": a host's new state, a joining host's role,
 * why a fence was asked for, a VM ended and unregistered. */
static const char *event_state(const struct fsm_event *e)
{
	static const char *const reasons[FSM_FENCE_REASON_END] = {
		[FSM_FENCE_PARTITIONED] = "partitioned", [FSM_FENCE_STORAGE] = "storage-lost",
		[FSM_FENCE_OPERATOR] = "operator"};
	switch (e->kind) {
	case FSM_EV_HOST_STATE: return fsm_cause_name(e->state);
	case FSM_EV_HOST_ADD: return e->state == FSM_ROLE_LEARNER ? "learner" : "voter";
	case FSM_EV_FENCE_REQUEST: return e->state < FSM_FENCE_REASON_END && reasons[e->state] != NULL ? reasons[e->state] : "?";
	case FSM_EV_VM_END: return e->state == 1 ? "unregistered" : NULL;
	default: return NULL;
	}
}

static bool has_incarnation(uint8_t kind)
{
	return kind == FSM_EV_VM_PLACE || kind == FSM_EV_VM_START || kind == FSM_EV_VM_STOP || kind == FSM_EV_VM_END ||
	       kind == FSM_EV_VM_START_FAILED;
}

/* A VM's start has no cause of its own (the host running it reports it):
 * it is the cause of the placement it carries out, the latest vm-placed of
 * the same VM and incarnation before it, while that event is held. */
static uint8_t start_cause(const struct fld_events *ev, uint32_t i)
{
	const struct fsm_event *e = &ev->ev[i];
	FL_ASSERT(e->kind == FSM_EV_VM_START);
	while (i-- > 0) {
		const struct fsm_event *p = &ev->ev[i];
		if (p->kind == FSM_EV_VM_PLACE && p->value == e->value && strcmp(p->uid, e->uid) == 0)
			return p->cause;
	}
	return FSM_CAUSE_NONE;
}

static json_t *event_json(const struct fld_snap *s, const struct fsm_event *e, uint8_t cause)
{
	char t[EV_TIME_MAX];
	bool have_time = ev_time_format(e->wall_us, t, sizeof(t));
	const char *state = event_state(e);
	bool vm = e->uid[0] != '\0';
	bool moved = e->kind == FSM_EV_VM_PLACE || e->kind == FSM_EV_VM_UNPLACE;
	bool fence = e->kind == FSM_EV_FENCE_REQUEST || e->kind == FSM_EV_FENCE_ACK;
	json_t *o = json_pack("{s:I,s:I,s:I,s:o,s:o,s:s}", "seq", (json_int_t)e->seq, "index", (json_int_t)e->index,
			      "term", (json_int_t)e->term, "time", have_time ? json_string(t) : json_null(), "wall_us",
			      have_time ? json_integer((json_int_t)e->wall_us) : json_null(), "type",
			      fsm_ev_kind_name(e->kind));
	if (o == NULL)
		return NULL;
	set_host(o, s, "host", "host_name", e->host_id);
	json_object_set_new(o, "vm", vm ? json_string(e->uid) : json_null());
	set_host(o, s, "from_host", "from_host_name", moved ? e->from_host : 0);
	json_object_set_new(o, "state", state != NULL ? json_string(state) : json_null());
	json_object_set_new(o, "incarnation", has_incarnation(e->kind) ? json_integer((json_int_t)e->value) : json_null());
	json_object_set_new(o, "fence_index", fence && e->value != 0 ? json_integer((json_int_t)e->value) : json_null());
	json_object_set_new(o, "cause", cause != FSM_CAUSE_NONE ? json_string(fsm_cause_name(cause)) : json_null());
	set_host(o, s, "leader", "leader_name", e->leader);
	set_host(o, s, "by_host", "by_host_name", e->by_host);
	json_object_set_new(o, "by_uid", e->by_op ? json_integer(e->by_uid) : json_null());
	return o;
}

int fld_read_events(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	urcu_memb_read_lock();
	const struct fld_snap *s = rcu_dereference(d->snap);
	const struct fld_events *ev = rcu_dereference(d->events);
	if (s == NULL || ev == NULL) {
		urcu_memb_read_unlock();
		ctl_call_errorf(call, "fencelockd is starting; retry in a moment");
		return -FL_EAGAIN;
	}
	json_t *r = ctl_call_reply(call);
	json_t *a = json_array();
	for (uint32_t i = 0; a != NULL && i < ev->n; i++) {
		const struct fsm_event *e = &ev->ev[i];
		if (e->index < req->since_index)
			continue;
		uint8_t cause = e->kind == FSM_EV_VM_START && e->cause == FSM_CAUSE_NONE ? start_cause(ev, i) : e->cause;
		json_array_append_new(a, event_json(s, e, cause));
	}
	json_object_update_new(r, json_pack("{s:i,s:s,s:I,s:i,s:I,s:i}", "host_id", (int)d->cfg.host_id, "host_name",
					    d->cfg.host_name, "total", (json_int_t)ev->total, "held", (int)ev->n,
					    "commit", (json_int_t)s->st.commit, "capacity", (int)FSM_EVENTS_MAX));
	urcu_memb_read_unlock();
	if (a == NULL)
		return -FL_ENOMEM;
	json_object_set_new(r, "events", a);
	return 0;
}
