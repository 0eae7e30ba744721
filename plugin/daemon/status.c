/* fencelockd's read-only views: the status, hosts, leases, vms, metrics and
 * vm.inquire ops (the events op: events.c) (docs/control-protocol.md gives their JSON shapes), and the
 * metrics file for node_exporter's textfile collector.
 *
 * The views are served off the lease loop. The loop copies what they show
 * into a snapshot (struct fld_snap: the arbiter's status, every host's state
 * as this host reports it, every VM with its volumes and what runs here) and
 * publishes it with liburcu (rcu_xchg_pointer; the old one is freed by
 * call_rcu after a grace period): at most every FLD_SNAP_PERIOD_US from the
 * poll tick, and always before the replies of mutating calls are handed
 * back, so that a client reading right after its change sees it. The
 * control server's own thread renders the JSON from the snapshot inside an
 * RCU read-side critical section, so a flood of readers costs the loop
 * nothing but the copy it makes anyway.
 *
 * Host states: every arbiter classifies every host from both channels
 * (arb_host_view); the leader's view is the one it acts on, a follower's is
 * its own observation plus what peers' views relay, and may lag by a tick.
 * Until a host has been classified (just after start) the daemon shows what
 * it can see itself: the leader UP while this host is quorate, another host
 * UP while the Raft transport has a live connection to it, PARTITIONED
 * otherwise. The reply's "view" field says whose view it is ("leader" or
 * "follower"). This host's own state comes from its delta lease and fence
 * status. A host's "voter" flag is its role in the Raft configuration this
 * host uses (a learner added by host.add turns voter once promoted). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "common/latency.h"
#include "common/version.h"
#include "plugin/host/safefile.h"
#include "raft/node.h"
#include "raft/transport.h"

#define FLD_VIEW_HOSTS 65u  /* ids 1..64: the arbiter's bound */

/* A follower's own view of each host: the state shown and since when (loop only). */
static uint8_t local_state[FLD_VIEW_HOSTS];
static uint64_t local_since[FLD_VIEW_HOSTS];

const char *fld_host_name(const struct fld *d, uint32_t id, char *buf, size_t len)
{
	const struct fsm_host *h = fsm_host_find(arb_fsm(d->arb), id);
	snprintf(buf, len, "%s", h != NULL ? h->name : id == d->cfg.host_id ? d->cfg.host_name : "?");
	return buf;
}

static bool is_leader(const struct fld *d)
{
	struct raft_node *n = arb_raft(d->arb);
	struct raft *r = n != NULL ? raft_node_core(n) : NULL;
	return r != NULL && raft_state(r) == RAFT_LEADER;
}

/* ==== the snapshot, built on the loop ==== */

/* The state of host id as this daemon reports it, and since when (loop time). */
static enum cls_state host_state(const struct fld *d, const struct arb_status *st, uint32_t id, uint64_t *since)
{
	const struct fsm_host *fh = fsm_host_find(arb_fsm(d->arb), id);
	uint64_t now = fl_now_us(d->loop);
	enum cls_state s;
	struct arb_host_view hv;
	if (fh != NULL && fh->state == FSM_HOST_LEFT)
		s = CLS_LEFT;
	else if (id == d->cfg.host_id)
		s = st->fenced ? CLS_FENCED : st->lease_valid ? CLS_UP : CLS_STORAGE_LOST;
	else if (arb_host_view(d->arb, id, &hv)) {
		*since = hv.since_us;
		return (enum cls_state)hv.state;
	} else if (id == st->leader)
		s = st->quorate ? CLS_UP : CLS_PARTITIONED;
	else
		s = raft_tcp_connected(d->tcp, id) ? CLS_UP : CLS_PARTITIONED;
	if (id < FLD_VIEW_HOSTS) {
		if (local_state[id] != s) {
			local_state[id] = (uint8_t)s;
			local_since[id] = now;
		}
		*since = local_since[id];
	} else {
		*since = now;
	}
	return s;
}

/* Whether id votes in the Raft configuration this host uses (the FSM's
 * role is what `host add` recorded: a learner until promoted). */
static bool raft_voter(const struct fld *d, uint32_t id, bool fallback)
{
	struct raft_node *n = arb_raft(d->arb);
	struct raft *r = n != NULL ? raft_node_core(n) : NULL;
	const struct raft_config *c = r != NULL ? raft_configuration(r, NULL) : NULL;
	for (uint32_t i = 0; c != NULL && i < c->n; i++)
		if (c->servers[i].id == id)
			return c->servers[i].role == RAFT_VOTER;
	return c != NULL ? false : fallback;
}

static void snap_host(const struct fld *d, struct fld_snap *s, uint32_t id, const char *name, const char *addr,
		      bool voter)
{
	struct fld_snap_host *h = &s->hosts[s->n_hosts++];
	h->id = id;
	h->state = (uint8_t)host_state(d, &s->st, id, &h->since_us);
	h->voter = voter;
	h->heard_us = id != d->cfg.host_id ? arb_host_heard_us(d->arb, id) : fl_now_us(d->loop);
	h->connected = id == d->cfg.host_id || raft_tcp_connected(d->tcp, id);
	h->quarantined = fsm_host_quarantined(arb_fsm(d->arb), id, arb_fsm(d->arb)->clock_us);
	h->max_vms = arb_host_max_vms(d->arb, id);
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->addr, sizeof(h->addr), "%s", addr);
	fld_snap_host_marks(d, h);
}

/* Every member: the FSM's table, or the configured peers before the first commit. */
static int snap_hosts(const struct fld *d, struct fld_snap *s)
{
	const struct fsm *f = arb_fsm(d->arb);
	uint32_t cap = FL_MAX(f->lim.max_hosts, d->cfg.n_peers);
	s->hosts = calloc(cap + 1u, sizeof(*s->hosts));
	if (s->hosts == NULL)
		return -FL_ENOMEM;
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		if (h != NULL)
			snap_host(d, s, h->host_id, h->name, h->addr, raft_voter(d, h->host_id, h->role == FSM_ROLE_VOTER));
	}
	for (uint32_t i = 0; s->n_hosts == 0 && i < d->cfg.n_peers; i++) {
		uint32_t id = d->cfg.peers[i].id;
		snap_host(d, s, id, id == d->cfg.host_id ? d->cfg.host_name : "", /* "": not known yet */
			  d->peer_addrs[id] ? d->peer_addrs[id] : "", true);
	}
	FL_ASSERT(s->n_hosts <= cap);
	return 0;
}

static const char *vm_state(const struct fld *d, const struct fsm_vm *vm, uint32_t idx)
{
	if (vm->failed)
		return "FAILED";
	if (vm->pending)
		return "RECOVERING";
	if (vm->desired_host == d->cfg.host_id && idx < FLD_MAX_VMS)
		return d->vms[idx].state == DVM_NONE && d->vms[idx].acquire == NULL ? "PLACED" : vmrt_state_name(&d->vms[idx]);
	if (vm->desired_host == 0)
		return "STOPPED";
	return vm->run_state == FSM_RUN_RUNNING ? "RUNNING" : "PLACED";
}

/* Copies str to the pool at *pool_len (sized by snap_vms); returns its offset. */
static uint32_t pool_put(char *pool, size_t *pool_len, const char *str)
{
	size_t n = strlen(str) + 1;
	uint32_t off = (uint32_t)*pool_len;
	memcpy(pool + *pool_len, str, n);
	*pool_len += n;
	return off;
}

/* One VM: its fields, its volume paths and identities appended to the pool at *pool_len. */
static void snap_vm(const struct fld *d, struct fld_snap *s, const struct fsm_vm *vm, uint32_t i, size_t *pool_len)
{
	struct fld_snap_vm *o = &s->vms[s->n_vms++];
	bool here = vm->desired_host == d->cfg.host_id && i < FLD_MAX_VMS;
	snprintf(o->uid, sizeof(o->uid), "%s", vm->uid);
	o->desired_host = vm->desired_host;
	o->run_state = vm->run_state;
	o->restart = vm->restart;
	o->incarnation = vm->incarnation;
	o->state = vm_state(d, vm, i);
	o->pid = here ? d->vms[i].pid : 0;
	bool held_here = here && d->vms[i].state != DVM_NONE && arb_vm_running(d->arb, i);
	o->holder = held_here ? d->cfg.host_id : vm->run_state == FSM_RUN_RUNNING ? vm->run_host : 0;
	o->path_host = vm->path_host;
	o->nfailed = FL_MIN(vm->nfailed, (uint8_t)FSM_FAILED_MAX);
	memcpy(o->failed_on, vm->failed_on, o->nfailed * sizeof(o->failed_on[0]));
	o->failed = vm->failed;
	s->n_failed += vm->failed;
	o->nvol = vm->nvol;
	for (uint32_t k = 0; k < vm->nvol; k++) {
		o->vol[k].path_off = pool_put(s->pool, pool_len, vm->vol[k].path);
		o->vol[k].id_off = pool_put(s->pool, pool_len, vm->vol[k].id);
		o->vol[k].ro = vm->vol[k].ro;
		o->vol[k].slot = vm->vol[k].slot;
	}
}

/* A VM still placed on a host this host sees DEAD or FENCED waits for the
 * leader to place it elsewhere: for a moment in a failover, for as long as
 * no host has room ([host] max_vms). */
static void snap_waiting(struct fld_snap *s)
{
	bool gone[CFG_HOST_ID_MAX + 1] = {false};
	for (uint32_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].id <= CFG_HOST_ID_MAX)
			gone[s->hosts[i].id] = s->hosts[i].state == CLS_DEAD || s->hosts[i].state == CLS_FENCED;
	for (uint32_t i = 0; i < s->n_vms; i++) {
		struct fld_snap_vm *vm = &s->vms[i];
		if (vm->desired_host <= CFG_HOST_ID_MAX && gone[vm->desired_host] && !vm->failed &&
		    (strcmp(vm->state, "PLACED") == 0 || strcmp(vm->state, "RUNNING") == 0))
			vm->state = "WAITING";
	}
}

static int snap_vms(const struct fld *d, struct fld_snap *s)
{
	const struct fsm *f = arb_fsm(d->arb);
	uint32_t n = 0, end = fsm_vm_scan_end(f);
	size_t pool = 1;
	for (uint32_t i = 0; i < end; i++) {
		const struct fsm_vm *vm = fsm_vm_at(f, i);
		for (uint32_t k = 0; vm != NULL && k < vm->nvol; k++)
			pool += strlen(vm->vol[k].path) + 1 + strlen(vm->vol[k].id) + 1;
		n += vm != NULL;
	}
	s->vms = calloc(n + 1u, sizeof(*s->vms));
	s->pool = malloc(pool);
	if (s->vms == NULL || s->pool == NULL)
		return -FL_ENOMEM;
	size_t used = 0;
	for (uint32_t i = 0; i < end; i++) {
		const struct fsm_vm *vm = fsm_vm_at(f, i);
		if (vm != NULL)
			snap_vm(d, s, vm, i, &used);
	}
	FL_ASSERT(s->n_vms == n);
	FL_ASSERT(used < pool);
	snap_waiting(s);
	return 0;
}

static void snap_free(struct fld_snap *s)
{
	if (s == NULL)
		return;
	free(s->hosts);
	free(s->vms);
	free(s->pool);
	free(s);
}

static void snap_free_rcu(struct rcu_head *head)
{
	snap_free(caa_container_of(head, struct fld_snap, rcu));
}

void fld_snap_publish(struct fld *d)
{
	struct fld_snap *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return; /* readers keep the previous one */
	s->taken_us = fl_now_us(d->loop);
	arb_status(d->arb, &s->st);
	s->leader = is_leader(d);
	s->m = d->m;
	s->ts = *raft_tcp_get_stats(d->tcp);
	const struct fl_lat *lat = arb_renew_lateness(d->arb);
	s->have_lateness = lat != NULL;
	if (lat != NULL)
		s->lateness = *lat;
	s->latency = *arb_renew_latency(d->arb);
	s->watchdog = d->wd_fd >= 0;
	s->io_timeout_us = d->layout.fail_us / 4u;
	s->p_us = d->cfg.partition_tolerance_ms * 1000u;
	s->have_worker = d->worker != NULL;
	if (d->worker != NULL)
		fl_worker_stats(d->worker, &s->worker);
	s->metrics_skipped = fld_metrics_skipped();
	arb_mem_usage(d->arb, &s->mem);
	fld_snap_quorum(d, s);
	if (snap_hosts(d, s) != 0 || snap_vms(d, s) != 0) {
		snap_free(s);
		return;
	}
	d->snap_published_us = s->taken_us;
	struct fld_snap *old = rcu_xchg_pointer(&d->snap, s);
	if (old != NULL)
		urcu_memb_call_rcu(&old->rcu, snap_free_rcu);
	fld_events_publish(d);
}

void fld_snap_maybe_publish(struct fld *d, uint64_t now)
{
	if (d->snap == NULL || now - d->snap_published_us >= FLD_SNAP_PERIOD_US)
		fld_snap_publish(d);
}

void fld_snap_before_replies(void *ctx)
{
	fld_snap_publish(ctx);
}

void fld_snap_drop(struct fld *d)
{
	struct fld_snap *old = rcu_xchg_pointer(&d->snap, NULL);
	urcu_memb_barrier(); /* the call_rcu frees queued before */
	urcu_memb_synchronize_rcu();
	snap_free(old);
	fld_events_drop(d);
}

/* ==== rendering, on the control server's thread (or the loop's) ==== */

static json_t *host_or_null(uint32_t id)
{
	return id != 0 ? json_integer(id) : json_null();
}

static json_int_t since_s(uint64_t since_us)
{
	uint64_t now = fl_monotonic_us(); /* the loop's clock: CLOCK_MONOTONIC */
	return (json_int_t)(since_us <= now ? (now - since_us) / FL_US_PER_S : 0);
}

/* When since_us (loop clock) was, on the wall clock, as RFC 3339 UTC. */
static json_t *since_rfc3339(uint64_t since_us)
{
	struct timespec rt;
	struct tm tm;
	char buf[40];
	uint64_t now = fl_monotonic_us();
	clock_gettime(CLOCK_REALTIME, &rt);
	time_t t = rt.tv_sec - (time_t)((since_us <= now ? now - since_us : 0) / FL_US_PER_S);
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

/* A name, or null when it is not known (never a placeholder). */
static json_t *name_or_null(const char *name)
{
	return name != NULL && name[0] != '\0' ? json_string(name) : json_null();
}

/* The name of host id in the snapshot, or null. */
static json_t *host_name_json(const struct fld_snap *s, uint32_t id)
{
	for (uint32_t i = 0; id != 0 && i < s->n_hosts; i++)
		if (s->hosts[i].id == id)
			return name_or_null(s->hosts[i].name);
	return json_null();
}

/* A host's operator marks: quarantine (seconds left, or drained), fence. */
static json_t *host_marks_json(const struct fld_snap_host *h)
{
	static const char *const fence[] = {"none", "requested", "fenced"};
	static const char *const reason[] = {"", "partitioned", "storage", "operator"};
	char flags[96];
	if (h->drained)
		snprintf(flags, sizeof(flags), "drained");
	else if (h->quarantine_left_us > 0)
		snprintf(flags, sizeof(flags), "quarantined %" PRIu64 " s", (uint64_t)(h->quarantine_left_us / FL_US_PER_S));
	else
		flags[0] = '\0';
	if (h->fence != 0) {
		size_t l = strlen(flags);
		snprintf(flags + l, sizeof(flags) - l, "%sfence %s (%s)", l ? ", " : "", fence[h->fence % 3],
			 h->fence_reason < FL_ARRAY_SIZE(reason) ? reason[h->fence_reason] : "?");
	}
	return json_pack("{s:b,s:o,s:b,s:s,s:o,s:s}", "quarantined", h->drained || h->quarantine_left_us > 0,
			 "quarantine_left_s",
			 h->quarantine_left_us > 0 ? json_integer((json_int_t)(h->quarantine_left_us / FL_US_PER_S))
						   : json_null(),
			 "drained", h->drained, "fence", fence[h->fence % 3], "fence_reason",
			 h->fence != 0 && h->fence_reason < FL_ARRAY_SIZE(reason) ? json_string(reason[h->fence_reason])
										  : json_null(),
			 "flags", flags);
}

json_t *fld_host_version_json(const struct fld_snap_host *h)
{
	const struct arb_peer_proto *p = &h->proto;
	return json_pack("{s:o,s:o,s:o,s:o,s:b}", "version", p->version[0] ? json_string(p->version) : json_null(),
			 "protocol", p->used ? json_integer(p->used) : json_null(), "protocol_min",
			 p->announced || p->used ? json_integer(p->min) : json_null(), "protocol_max",
			 p->announced || p->used ? json_integer(p->max) : json_null(), "protocol_refused", p->refused);
}

static json_t *hosts_json(const struct fld_snap *s)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < s->n_hosts; i++) {
		const struct fld_snap_host *h = &s->hosts[i];
		json_t *o = json_pack("{s:i,s:o,s:s,s:s,s:I,s:o,s:b}", "id", (int)h->id, "name", name_or_null(h->name),
				      "addr", h->addr, "state", cls_state_name((enum cls_state)h->state), "since_s",
				      since_s(h->since_us), "since", since_rfc3339(h->since_us), "voter", h->voter);
		json_object_update_new(o, host_marks_json(h));
		json_object_update_new(o, fld_host_version_json(h));
		json_object_set_new(o, "max_vms", h->max_vms != 0 ? json_integer(h->max_vms) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

/* A VM's volumes in the shape of the VM spec ({"path","id","ro"}), and
 * their identities alone (volume_ids, as before). */
static void vm_volumes_json(const struct fld_snap *s, const struct fld_snap_vm *vm, json_t *o)
{
	json_t *vols = json_array(), *ids = json_array();
	for (uint32_t k = 0; k < vm->nvol; k++) {
		json_array_append_new(vols, json_pack("{s:s,s:s,s:b}", "path", s->pool + vm->vol[k].path_off, "id",
						      s->pool + vm->vol[k].id_off, "ro", vm->vol[k].ro));
		json_array_append_new(ids, json_string(s->pool + vm->vol[k].id_off));
	}
	json_object_set_new(o, "volumes", vols);
	json_object_set_new(o, "volume_ids", ids);
}

/* One VM as status (only_here: the short form) or vms lists it. */
static json_t *vm_json(const struct fld_snap *s, const struct fld_snap_vm *vm, bool only_here)
{
	json_t *o = json_pack("{s:s,s:o,s:o,s:s}", "uid", vm->uid, "host", host_or_null(vm->desired_host),
			      "host_name", host_name_json(s, vm->desired_host), "state", vm->state);
	if (!only_here) {
		json_t *failed_on = json_array();
		vm_volumes_json(s, vm, o);
		for (uint32_t k = 0; k < vm->nfailed; k++)
			json_array_append_new(failed_on, json_integer(vm->failed_on[k]));
		json_object_update_new(o, json_pack("{s:o,s:s,s:o,s:o,s:I}", "pid",
			vm->pid > 0 ? json_integer(vm->pid) : json_null(), "restart",
			ctl_restart_name(fld_restart_of_fsm(vm->restart)),
			"paths_of_host", host_or_null(vm->path_host), "failed_on", failed_on,
			"incarnation", (json_int_t)vm->incarnation));
	}
	return o;
}

/* status: the VMs placed on this host. */
static json_t *vms_here_json(const struct fld *d, const struct fld_snap *s)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < s->n_vms; i++)
		if (s->vms[i].desired_host == d->cfg.host_id)
			json_array_append_new(a, vm_json(s, &s->vms[i], true));
	return a;
}

static int uid_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct fld_snap_vm *const *)a)->uid, (*(const struct fld_snap_vm *const *)b)->uid);
}

/* A page ends past CTL_PAGE_BYTES, so the VM that ends it must still fit a
 * reply beside it (vm_reply_bytes at its largest). */
_Static_assert(CTL_PAGE_BYTES + 1024u + CTL_VOLUMES_MAX * (4u * (CTL_PATH_MAX + FSM_VOLID_MAX) + 256u) + 4096u <=
		       CTL_REPLY_MAX_BYTES,
	       "a page and the VM that ends it fit one reply");

/* A generous bound on the bytes one VM takes in a vms or leases reply:
 * its paths and identities appear twice and JSON escaping may double them. */
static size_t vm_reply_bytes(const struct fld_snap *s, const struct fld_snap_vm *vm)
{
	size_t n = 1024;
	for (uint32_t k = 0; k < vm->nvol; k++)
		n += 4u * (strlen(s->pool + vm->vol[k].path_off) + strlen(s->pool + vm->vol[k].id_off)) + 256u;
	return n;
}

/* The page a vms or leases request asks for: the VMs after req->after in
 * uid order, at most req->limit of them and CTL_PAGE_BYTES of reply, in
 * page[0..return); *more when VMs follow. page holds s->n_vms entries. */
static uint32_t page_select(const struct fld_snap *s, const struct ctl_req *req, const struct fld_snap_vm **page,
			    bool *more)
{
	uint32_t n = 0, limit = req->limit != 0 ? req->limit : CTL_PAGE_DEFAULT, k = 0;
	for (uint32_t i = 0; i < s->n_vms; i++)
		if (req->after == NULL || strcmp(s->vms[i].uid, req->after) > 0)
			page[n++] = &s->vms[i];
	qsort(page, n, sizeof(*page), uid_cmp);
	size_t bytes = 0;
	for (; k < n && k < limit; k++) {
		bytes += vm_reply_bytes(s, page[k]);
		if (bytes > CTL_PAGE_BYTES && k > 0)
			break;
	}
	FL_ASSERT(k <= CTL_PAGE_MAX);
	*more = k < n;
	return k;
}

/* Appends vm's volume leases to a. */
static void lease_json(const struct fld_snap *s, const struct fld_snap_vm *vm, json_t *a)
{
	for (uint32_t k = 0; k < vm->nvol; k++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:s}", "volume",
			s->pool + vm->vol[k].path_off, "id", s->pool + vm->vol[k].id_off, "path_of_host",
			host_or_null(vm->path_host), "vm", vm->uid, "mode", vm->vol[k].ro ? "ro" : "rw", "slot",
			vm->vol[k].slot == FSM_SLOT_NONE ? json_null() : json_integer(vm->vol[k].slot),
			"holder", host_or_null(vm->holder), "holder_name", host_name_json(s, vm->holder),
			"state", vm->holder ? "HELD" : "FREE"));
}

/* vms, leases: one page of them, "total" VMs registered, and "next" (the
 * uid to ask "after" for the next page) or null on the last page. */
static int read_page(struct fld *d, struct ctl_call *call, const struct ctl_req *req, const struct fld_snap *s)
{
	(void)d;
	const struct fld_snap_vm **page = malloc((s->n_vms + 1u) * sizeof(*page));
	if (page == NULL)
		return -FL_ENOMEM;
	bool more = false;
	uint32_t n = page_select(s, req, page, &more);
	json_t *a = json_array(), *r = ctl_call_reply(call);
	for (uint32_t i = 0; i < n; i++) {
		if (req->op == CTL_OP_LEASES)
			lease_json(s, page[i], a);
		else
			json_array_append_new(a, vm_json(s, page[i], false));
	}
	json_object_set_new(r, req->op == CTL_OP_LEASES ? "leases" : "vms", a);
	json_object_set_new(r, "total", json_integer(s->n_vms));
	json_object_set_new(r, "next", more && n > 0 ? json_string(page[n - 1]->uid) : json_null());
	free(page);
	return 0;
}

static const char *quorum_reason(const struct fld *d, const struct arb_status *st, char *buf, size_t len)
{
	if (st->quorate && st->leader == d->cfg.host_id)
		snprintf(buf, len, "this host leads with a valid check-quorum lease");
	else if (st->quorate)
		snprintf(buf, len, "leader %" PRIu64 " holds a check-quorum lease", st->leader);
	else if (st->leader == 0)
		snprintf(buf, len, "no leader known: election in progress, or no majority reachable");
	else
		snprintf(buf, len, "no recent sign that leader %" PRIu64 " holds a valid lease", st->leader);
	return buf;
}

/* Enters the read-side critical section and returns the current snapshot,
 * or NULL (with the section left and an error set on call) before the first. */
static const struct fld_snap *snap_enter(struct fld *d, struct ctl_call *call)
{
	urcu_memb_read_lock();
	const struct fld_snap *s = rcu_dereference(d->snap);
	if (s == NULL) {
		urcu_memb_read_unlock();
		ctl_call_errorf(call, "fencelockd is starting; retry in a moment");
		return NULL;
	}
	return s;
}

static int read_status(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	char why[128];
	(void)req;
	const struct fld_snap *s = snap_enter(d, call);
	if (s == NULL)
		return -FL_EAGAIN;
	const struct arb_status *st = &s->st;
	json_t *r = ctl_call_reply(call);
	json_object_update_new(r, json_pack("{s:s,s:i,s:s,s:b,s:s,s:o,s:I,s:I,s:b,s:b,s:i,s:i,s:i,s:s}",
		"cluster", d->cfg.cluster_name, "host_id", (int)d->cfg.host_id, "host_name", d->cfg.host_name,
		"quorate", st->quorate, "quorum_reason", quorum_reason(d, st, why, sizeof(why)),
		"leader", host_or_null((uint32_t)st->leader), "term", (json_int_t)st->term,
		"commit", (json_int_t)st->commit, "lease_valid", st->lease_valid, "fenced", st->fenced,
		"io_timeout_s", (int)((d->layout.io_timeout_ms + 999u) / 1000u),
		"io_timeout_ms", (int)d->layout.io_timeout_ms,
		"partition_tolerance_s", (int)(d->cfg.partition_tolerance_ms / 1000),
		"view", s->leader ? "leader" : "follower"));
	json_object_set_new(r, "leader_name", host_name_json(s, (uint32_t)st->leader));
	json_object_set_new(r, "hosts", hosts_json(s));
	json_object_set_new(r, "vms", vms_here_json(d, s));
	json_object_set_new(r, "vms_registered", json_integer(s->n_vms));
	json_object_set_new(r, "vms_waiting", s->leader ? json_integer(st->vms_waiting) : json_null());
	json_t *failed = json_array();
	for (uint32_t i = 0; i < s->n_vms; i++)
		if (s->vms[i].failed)
			json_array_append_new(failed, json_string(s->vms[i].uid));
	json_object_set_new(r, "vms_failed", failed);
	json_object_set_new(r, "quorum", fld_quorum_json(d, s));
	fld_member_json(s, r);
	urcu_memb_read_unlock();
	return 0;
}

static int read_list(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fld_snap *s = snap_enter(d, call);
	if (s == NULL)
		return -FL_EAGAIN;
	int rv = 0;
	if (req->op == CTL_OP_HOSTS)
		json_object_set_new(ctl_call_reply(call), "hosts", hosts_json(s));
	else
		rv = read_page(d, call, req, s);
	urcu_memb_read_unlock();
	return rv;
}

/* The hand-off state: where the VM is placed and its incarnation (the
 * volume leases follow the placement; a changed incarnation means the VM
 * was moved in between). */
static int read_inquire(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fld_snap *s = snap_enter(d, call);
	if (s == NULL)
		return -FL_EAGAIN;
	const struct fld_snap_vm *vm = NULL;
	for (uint32_t i = 0; i < s->n_vms && vm == NULL; i++)
		if (strcmp(s->vms[i].uid, req->uid) == 0)
			vm = &s->vms[i];
	char state[96];
	if (vm != NULL)
		snprintf(state, sizeof(state), "fsm1:%u:%" PRIu64 ":%s", vm->desired_host, vm->incarnation,
			 vm->run_state == FSM_RUN_RUNNING ? "running" : "stopped");
	urcu_memb_read_unlock();
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered", req->uid);
		return -FL_ENOENT;
	}
	json_object_set_new(ctl_call_reply(call), "state", json_string(state));
	return 0;
}

/* ---- metrics ---- */

struct mbuf {
	char *p;
	size_t len, cap;
};

static void mput(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mput(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = FL_MIN(b->cap - 1, b->len + (size_t)n);
}

static void metric(struct mbuf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	mput(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

/* A latency recorder as a Prometheus histogram BASE_seconds over the
 * daemon's life and exact quantiles over its last FL_LAT_WINDOW samples as
 * BASE_recent_seconds (quantile 1: their maximum, the number to alert on). */
static void lat_metrics(struct mbuf *b, const char *base, const char *help, const struct fl_lat *l)
{
	mput(b, "# HELP %s_seconds %s.\n# TYPE %s_seconds histogram\n", base, help, base);
	uint64_t cum = 0;
	for (uint32_t i = 0; i + 1 < FL_LAT_BUCKETS; i++) {
		cum += l->bucket[i];
		mput(b, "%s_seconds_bucket{le=\"%.4f\"} %" PRIu64 "\n", base, (double)fl_lat_bounds_us[i] / 1e6, cum);
	}
	mput(b, "%s_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_seconds_sum %.6f\n%s_seconds_count %" PRIu64 "\n", base,
	     l->count, base, (double)l->sum_us / 1e6, base, l->count);
	mput(b, "# HELP %s_recent_seconds %s, over the last %u renewals (quantile 1 is their maximum).\n"
		"# TYPE %s_recent_seconds gauge\n", base, help, FL_LAT_WINDOW, base);
	static const double qs[] = {0.5, 0.99, 1.0};
	for (size_t i = 0; i < FL_ARRAY_SIZE(qs); i++)
		mput(b, "%s_recent_seconds{quantile=\"%g\"} %.6f\n", base, qs[i], (double)fl_lat_quantile(l, qs[i]) / 1e6);
}

/* Renewal lateness (a stalled loop) and renewal duration (slow storage). */
static void renewal_metrics(struct mbuf *b, const struct fld_snap *s)
{
	if (s->have_lateness) {
		lat_metrics(b, "fencelock_renewal_lateness",
			    "How long after its scheduled time each delta-lease renewal started (a stalled loop)",
			    &s->lateness);
		mput(b, "# HELP fencelock_renewal_lateness_max_seconds The latest start of a renewal since the daemon "
			"started.\n# TYPE fencelock_renewal_lateness_max_seconds gauge\n"
			"fencelock_renewal_lateness_max_seconds %.6f\n", (double)s->lateness.max_us / 1e6);
	}
	lat_metrics(b, "fencelock_renewal_latency", "Delta-lease renewal, start to completion", &s->latency);
	mput(b, "# HELP fencelock_renewal_latency_last_seconds The last good renewal, start to completion.\n"
		"# TYPE fencelock_renewal_latency_last_seconds gauge\nfencelock_renewal_latency_last_seconds %.6f\n",
	     (double)s->st.renew_latency_us / 1e6);
}

/* The flushes after dead wrappers and the worker thread that runs them. */
static void metrics_worker(const struct fld_snap *s, struct mbuf *b)
{
	metric(b, "fencelock_volume_flushes_total", "counter", "Flushes of a VM's volumes after its wrapper died.",
	       s->m.flushes);
	metric(b, "fencelock_volume_flush_failures_total", "counter", "Such flushes that failed (leases kept held).",
	       s->m.flush_failures);
	metric(b, "fencelock_volume_flush_timeouts_total", "counter", "Such flushes past their bound (leases kept held).",
	       s->m.flush_timeouts);
	if (s->have_worker) {
		metric(b, "fencelock_worker_queued", "gauge", "Blocking jobs waiting for or running on the worker thread.",
		       s->worker.queued);
		metric(b, "fencelock_worker_refused_total", "counter", "Jobs refused because the worker queue was full.",
		       s->worker.refused);
	}
	metric(b, "fencelock_metrics_file_skipped_total", "counter", "Metrics file rounds skipped (previous write still running).",
	       s->metrics_skipped);
}

static void metrics_hosts(const struct fld_snap *s, struct mbuf *b)
{
	uint32_t count[CLS_STATE_END] = {0};
	for (uint32_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].state < CLS_STATE_END)
			count[s->hosts[i].state]++;
	mput(b, "# HELP fencelock_hosts Hosts per state, as this host sees them.\n# TYPE fencelock_hosts gauge\n");
	for (int st = CLS_UP; st < CLS_STATE_END; st++)
		mput(b, "fencelock_hosts{state=\"%s\"} %u\n", cls_state_name((enum cls_state)st), count[st]);
	uint32_t quarantined = 0, drained = 0, fenced = 0, voters = 0, present = 0;
	for (uint32_t i = 0; i < s->n_hosts; i++) {
		quarantined += s->hosts[i].quarantine_left_us > 0;
		drained += s->hosts[i].drained;
		fenced += s->hosts[i].fence != 0;
	}
	for (uint32_t i = 0; i < s->n_servers; i++) {
		const struct fld_snap_host *h = NULL;
		for (uint32_t k = 0; k < s->n_hosts && h == NULL; k++)
			h = s->hosts[k].id == s->servers[i].id ? &s->hosts[k] : NULL;
		voters += s->servers[i].voter;
		present += s->servers[i].voter && (s->servers[i].id == FL_WITNESS_RAFT_ID ? s->witness_holder != 0
							   : h != NULL && h->state == CLS_UP);
	}
	mput(b, "# HELP fencelock_hosts_marked Hosts quarantined (flapping), drained, or with a fence in force.\n"
		"# TYPE fencelock_hosts_marked gauge\n"
		"fencelock_hosts_marked{mark=\"quarantined\"} %u\nfencelock_hosts_marked{mark=\"drained\"} %u\n"
		"fencelock_hosts_marked{mark=\"fenced\"} %u\n", quarantined, drained, fenced);
	mput(b, "# HELP fencelock_quorum_votes Raft votes: expected (voters), total (present), threshold.\n"
		"# TYPE fencelock_quorum_votes gauge\nfencelock_quorum_votes{which=\"expected\"} %u\n"
		"fencelock_quorum_votes{which=\"total\"} %u\nfencelock_quorum_votes{which=\"threshold\"} %u\n",
	     voters, present, voters / 2 + 1);
}

static void metrics_control(const struct ctl_server_stats *cs, struct mbuf *b)
{
	metric(b, "fencelock_control_requests_total", "counter", "Control requests served.", cs->requests);
	metric(b, "fencelock_control_errors_total", "counter", "Control error replies.", cs->errors);
	metric(b, "fencelock_control_clients", "gauge", "Control clients connected now.", cs->clients);
	mput(b, "# HELP fencelock_control_refused_total Control connections or requests refused, by reason.\n"
		"# TYPE fencelock_control_refused_total counter\n"
		"fencelock_control_refused_total{reason=\"full\"} %" PRIu64 "\n"
		"fencelock_control_refused_total{reason=\"uid_share\"} %" PRIu64 "\n"
		"fencelock_control_refused_total{reason=\"permission\"} %" PRIu64 "\n"
		"fencelock_control_refused_total{reason=\"busy\"} %" PRIu64 "\n",
	     cs->refused_full, cs->refused_uid, cs->refused_perm, cs->refused_busy);
	metric(b, "fencelock_control_dropped_total", "counter",
	       "Control clients dropped (oversized request, slow reader, idle, frame deadline).", cs->dropped);
}

/* Refusals of the Raft transport (by reason) and of the arbiter (messages
 * an authenticated peer may not send). */
static void metrics_transport(struct mbuf *b, const struct raft_tcp_stats *ts, const struct arb_status *st)
{
	metric(b, "fencelock_transport_handshakes_total", "counter", "Inbound Raft connections authenticated.",
	       ts->handshakes);
	mput(b, "# HELP fencelock_transport_rejected_total Raft connections and frames refused, by reason.\n"
		"# TYPE fencelock_transport_rejected_total counter\n");
	for (int r = 0; r < RAFT_TCP_REJ_END; r++)
		mput(b, "fencelock_transport_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
		     raft_tcp_reject_name((enum raft_tcp_reject)r), ts->rejected[r]);
	mput(b, "# HELP fencelock_arbiter_rejected_total Messages from authenticated peers refused, by reason.\n"
		"# TYPE fencelock_arbiter_rejected_total counter\n"
		"fencelock_arbiter_rejected_total{reason=\"forward\"} %" PRIu64 "\n"
		"fencelock_arbiter_rejected_total{reason=\"witness\"} %" PRIu64 "\n",
	     st->rejected_forward, st->rejected_witness);
}

/* Builds the Prometheus text of snapshot s into buf (cap bytes); returns its length. */
/* What the arbiter holds (arb_mem_usage): the total, its parts, and the
 * Raft entries kept in memory. Under VM churn the total levels off (the Raft
 * log is compacted every snapshot); docs/operations.md, "Memory and disk
 * bounds". The process's RSS adds the program, its libraries, the thread
 * stacks and (with lock_memory) every mapped page. */
static void metrics_memory(const struct fld_snap *s, struct mbuf *b)
{
	const struct arb_mem *m = &s->mem;
	metric(b, "fencelock_arbiter_bytes", "gauge",
	       "Bytes held by the arbiter: replicated state, Raft log and snapshot, its tables and buffers.", m->total);
	mput(b, "# HELP fencelock_arbiter_part_bytes The parts of fencelock_arbiter_bytes.\n"
		"# TYPE fencelock_arbiter_part_bytes gauge\n"
		"fencelock_arbiter_part_bytes{part=\"fsm_tables\"} %" PRIu64 "\n"
		"fencelock_arbiter_part_bytes{part=\"raft\"} %" PRIu64 "\n"
		"fencelock_arbiter_part_bytes{part=\"arbiter_tables\"} %" PRIu64 "\n"
		"fencelock_arbiter_part_bytes{part=\"buffers\"} %" PRIu64 "\n",
	     m->fsm_table_bytes, m->raft_bytes, m->arb_table_bytes, m->arb_buf_bytes);
	metric(b, "fencelock_raft_entries_in_memory", "gauge", "Raft log entries held in memory (compacted at snapshots).",
	       m->raft_entries);
	metric(b, "fencelock_vms_registered", "gauge", "VMs in the replicated registry.", m->fsm_vms);
}

/* Per host: link state and last heard (peers), quarantine and UP (all);
 * labelled host (id) and name. */
static void metrics_peers(const struct fld_snap *s, uint32_t self, struct mbuf *b)
{
	uint64_t now = fl_monotonic_us();
	uint32_t quarantined = 0;
	mput(b, "# HELP fencelock_peer_connected 1 while the Raft transport has a live connection to the peer.\n"
		"# TYPE fencelock_peer_connected gauge\n");
	for (uint32_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].id != self)
			mput(b, "fencelock_peer_connected{host=\"%u\",name=\"%s\"} %d\n", s->hosts[i].id, s->hosts[i].name,
			     s->hosts[i].connected);
	mput(b, "# HELP fencelock_peer_last_heard_seconds Seconds since the peer was last heard from, directly or "
		"through another peer (+Inf: never).\n# TYPE fencelock_peer_last_heard_seconds gauge\n");
	for (uint32_t i = 0; i < s->n_hosts; i++) {
		const struct fld_snap_host *h = &s->hosts[i];
		if (h->id == self)
			continue;
		if (h->heard_us == 0)
			mput(b, "fencelock_peer_last_heard_seconds{host=\"%u\",name=\"%s\"} +Inf\n", h->id, h->name);
		else
			mput(b, "fencelock_peer_last_heard_seconds{host=\"%u\",name=\"%s\"} %.3f\n", h->id, h->name,
			     (double)(now > h->heard_us ? now - h->heard_us : 0) / 1e6);
	}
	mput(b, "# HELP fencelock_host_up 1 while the host is UP as this host sees it.\n# TYPE fencelock_host_up gauge\n");
	for (uint32_t i = 0; i < s->n_hosts; i++)
		mput(b, "fencelock_host_up{host=\"%u\",name=\"%s\"} %d\n", s->hosts[i].id, s->hosts[i].name,
		     s->hosts[i].state == CLS_UP);
	mput(b, "# HELP fencelock_host_quarantined 1 while the host is quarantined (fenced too often: no VM is "
		"placed on it).\n# TYPE fencelock_host_quarantined gauge\n");
	for (uint32_t i = 0; i < s->n_hosts; i++) {
		quarantined += s->hosts[i].quarantined;
		mput(b, "fencelock_host_quarantined{host=\"%u\",name=\"%s\"} %d\n", s->hosts[i].id, s->hosts[i].name,
		     s->hosts[i].quarantined);
	}
	metric(b, "fencelock_hosts_quarantined", "gauge", "Hosts quarantined now.", quarantined);
}

/* The versions of every host: the protocol spoken with each peer, its version. */
static void metrics_versions(const struct fld_snap *s, uint32_t self, struct mbuf *b)
{
	mput(b, "# HELP fencelock_peer_protocol The cluster protocol version spoken with the peer (0: not heard, or "
		"refused: no version in common), with the fencelock version it announced.\n"
		"# TYPE fencelock_peer_protocol gauge\n");
	for (uint32_t i = 0; i < s->n_hosts; i++) {
		const struct fld_snap_host *h = &s->hosts[i];
		if (h->id != self)
			mput(b, "fencelock_peer_protocol{host=\"%u\",name=\"%s\",version=\"%s\"} %u\n", h->id, h->name,
			     h->proto.version, (unsigned)h->proto.used);
	}
	for (uint32_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].id == self)
			mput(b, "# HELP fencelock_cluster_protocol The cluster protocol versions this host speaks.\n"
				"# TYPE fencelock_cluster_protocol gauge\n"
				"fencelock_cluster_protocol{bound=\"min\"} %u\nfencelock_cluster_protocol{bound=\"max\"} %u\n",
			     (unsigned)s->hosts[i].proto.min, (unsigned)s->hosts[i].proto.max);
}

/* What the file's reader needs to trust it: the build, and when it was written. */
static void metrics_meta(const struct fld_snap *s, struct mbuf *b)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	mput(b, "# HELP fencelock_build_info The running fencelockd's version and build (value 1).\n"
		"# TYPE fencelock_build_info gauge\n"
		"fencelock_build_info{version=\"%s\",commit=\"%s\",protocol=\"%d\"} 1\n",
	     fl_build_version(), fl_build_commit(), CTL_PROTO_VERSION);
	metric(b, "fencelock_witness_holder", "gauge", "Host id serving the disk voter (holding the witness lease), 0 when "
	       "none is known.", s->st.witness_holder);
	metric(b, "fencelock_witness_held", "gauge", "1 while this host holds the witness lease.", s->st.witness_held);
	metric(b, "fencelock_watchdog_armed", "gauge", "1 while this host's hardware watchdog is open and armed.",
	       s->watchdog);
	mput(b, "# HELP fencelock_io_timeout_seconds io_timeout T of the cluster (from the device header).\n"
		"# TYPE fencelock_io_timeout_seconds gauge\nfencelock_io_timeout_seconds %.3f\n"
		"# HELP fencelock_partition_tolerance_seconds partition_tolerance P of this host.\n"
		"# TYPE fencelock_partition_tolerance_seconds gauge\nfencelock_partition_tolerance_seconds %.3f\n",
	     (double)s->io_timeout_us / 1e6, (double)s->p_us / 1e6);
	mput(b, "# HELP fencelock_metrics_updated_timestamp_seconds When these metrics were rendered (Unix time); "
		"a file older than a few seconds comes from a daemon that stopped.\n"
		"# TYPE fencelock_metrics_updated_timestamp_seconds gauge\n"
		"fencelock_metrics_updated_timestamp_seconds %lld.%03ld\n", (long long)rt.tv_sec, rt.tv_nsec / 1000000);
}

static size_t metrics_text(const struct fld_snap *s, uint32_t self, const struct ctl_server_stats *cs, char *buf,
			   size_t cap)
{
	struct mbuf b = {.p = buf, .cap = cap};
	const struct arb_status *st = &s->st;
	uint64_t now = fl_monotonic_us();
	buf[0] = '\0';
	metric(&b, "fencelock_lease_valid", "gauge", "1 while this host's delta lease is valid.", st->lease_valid);
	metric(&b, "fencelock_lease_valid_remaining_seconds", "gauge", "Seconds until the delta lease expires without a renewal.",
	       st->valid_until_us > now ? (st->valid_until_us - now) / FL_US_PER_S : 0);
	metric(&b, "fencelock_device_header_foreign", "gauge",
	       "1 once the device header no longer shows this cluster (nothing is written to it; restart needed).",
	       st->header_foreign);
	metric(&b, "fencelock_device_header_checks_total", "counter", "Device header re-reads.", st->header_checks);
	metric(&b, "fencelock_quorate", "gauge", "1 while this host is quorate.", st->quorate);
	metric(&b, "fencelock_fenced", "gauge", "1 while this host is fenced.", st->fenced);
	metric(&b, "fencelock_raft_term", "gauge", "Current Raft term.", st->term);
	metric(&b, "fencelock_raft_leader", "gauge", "Leader's host id, 0 when none.", st->leader);
	metric(&b, "fencelock_raft_commit_index", "gauge", "Raft commit index.", st->commit);
	metrics_hosts(s, &b);
	metric(&b, "fencelock_vms_running", "gauge", "VMs running on this host.", st->vms_running);
	metric(&b, "fencelock_fences_total", "counter", "Self-fences of this host (quorum lost, renewal failed, poison pill).", st->fences);
	mput(&b, "# HELP fencelock_self_fences_total Self-fences of this host by reason.\n"
		 "# TYPE fencelock_self_fences_total counter\n"
		 "fencelock_self_fences_total{reason=\"quorum\"} %" PRIu64 "\n"
		 "fencelock_self_fences_total{reason=\"poison_pill\"} %" PRIu64 "\n"
		 "fencelock_self_fences_total{reason=\"storage\"} %" PRIu64 "\n",
	     st->fences_quorum, st->fences_pill, st->fences_storage);
	renewal_metrics(&b, s);
	metric(&b, "fencelock_renewals_total", "counter", "Good delta-lease renewals.", st->renewals);
	metric(&b, "fencelock_renewal_failures_total", "counter", "Failed delta-lease renewals (I/O error or timeout).",
	       st->renewal_failures);
	metric(&b, "fencelock_takeovers_total", "counter", "VM moves this host decided as leader.", st->takeovers);
	metric(&b, "fencelock_poison_pills_total", "counter", "Fence requests this host wrote as leader.", st->pills);
	metric(&b, "fencelock_failovers_total", "counter", "VMs recovered on this host from a failed host.", s->m.recovered);
	metric(&b, "fencelock_guard_kills_total", "counter", "VMs killed by their guard (deadline passed).", s->m.guard_kills);
	metric(&b, "fencelock_vms_failed", "gauge", "VMs marked FAILED (every eligible host failed to start them).",
	       s->n_failed);
	metric(&b, "fencelock_start_failures_total", "counter", "VM starts that failed on this host.", st->start_failures);
	metric(&b, "fencelock_start_give_ups_total", "counter", "VMs this host gave up starting (placed elsewhere).",
	       st->start_give_ups);
	metric(&b, "fencelock_vm_starts_total", "counter", "VM grants given on this host.", s->m.vm_starts);
	metric(&b, "fencelock_vm_kills_total", "counter", "VM kills the arbiter asked for on this host.", s->m.vm_kills);
	metrics_worker(s, &b);
	metrics_control(cs, &b);
	metric(&b, "fencelock_raft_frames_sent_total", "counter", "Transport frames sent.", s->ts.frames_sent);
	metric(&b, "fencelock_raft_frames_received_total", "counter", "Transport frames received.", s->ts.frames_received);
	metric(&b, "fencelock_raft_disconnects_total", "counter", "Transport connections lost.", s->ts.disconnects);
	metrics_transport(&b, &s->ts, st);
	metrics_memory(s, &b);
	metrics_peers(s, self, &b);
	metrics_versions(s, self, &b);
	metrics_meta(s, &b);
	return b.len;
}

#define FLD_METRICS_MAX (64u * 1024u)

static int read_metrics(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	struct ctl_server_stats cs;
	(void)req;
	char *buf = malloc(FLD_METRICS_MAX);
	if (buf == NULL)
		return -FL_ENOMEM;
	ctl_call_server_stats(call, &cs);
	const struct fld_snap *s = snap_enter(d, call);
	if (s == NULL) {
		free(buf);
		return -FL_EAGAIN;
	}
	metrics_text(s, d->cfg.host_id, &cs, buf, FLD_METRICS_MAX);
	urcu_memb_read_unlock();
	json_object_set_new(ctl_call_reply(call), "text", json_string(buf));
	free(buf);
	return 0;
}

static void read_thread_start(void *ctx)
{
	(void)ctx;
	urcu_memb_register_thread();
}

static void read_thread_stop(void *ctx)
{
	(void)ctx;
	urcu_memb_unregister_thread();
}

void fld_read_backend(struct fld *d, struct ctl_backend *be)
{
	be->read_ctx = d;
	be->read_handlers[CTL_OP_STATUS] = read_status;
	be->read_handlers[CTL_OP_HOSTS] = be->read_handlers[CTL_OP_LEASES] = be->read_handlers[CTL_OP_VMS] = read_list;
	be->read_handlers[CTL_OP_METRICS] = read_metrics;
	be->read_handlers[CTL_OP_VM_INQUIRE] = read_inquire;
	be->read_handlers[CTL_OP_EVENTS] = fld_read_events;
	be->read_handlers[CTL_OP_QUORUM] = fld_read_quorum;
	be->thread_start = read_thread_start;
	be->thread_stop = read_thread_stop;
	be->before_replies = fld_snap_before_replies;
}

/* The metrics file is written by the worker thread (a file system may
 * block a write for seconds); the loop only renders the text, from the
 * snapshot it published, into the job's buffer. One write in flight at a
 * time: while one is, later rounds are skipped (counted), never queued
 * behind it. */
static struct metrics_job {
	struct fl_work w;
	char path[CFG_PATH_MAX];
	char buf[FLD_METRICS_MAX];
	size_t n;
	int rv, last_rv;
	uint64_t skipped;
} mjob;

static void metrics_job_run(struct fl_work *w)
{
	struct metrics_job *j = (struct metrics_job *)w;
	j->rv = fl_file_replace(j->path, j->buf, j->n, 0644);
}

static void metrics_job_done(struct fl_work *w)
{
	struct metrics_job *j = (struct metrics_job *)w;
	/* Said once per change, not every second. */
	if (j->rv != 0 && j->rv != j->last_rv)
		fl_warn("cannot write the metrics file %s: %s (a link planted at %s.tmp is removed, never followed)",
			j->path, fl_strerror(j->rv), j->path);
	j->last_rv = j->rv;
}

uint64_t fld_metrics_skipped(void)
{
	return mjob.skipped;
}

void fld_write_metrics_file(struct fld *d)
{
	struct ctl_server_stats cs = {0};
	if (d->cfg.metrics_file[0] == '\0' || d->worker == NULL || d->snap == NULL)
		return;
	if (mjob.w.queued) {
		mjob.skipped++;
		return;
	}
	if (d->ctl != NULL)
		ctl_server_get_stats(d->ctl, &cs);
	snprintf(mjob.path, sizeof(mjob.path), "%s", d->cfg.metrics_file);
	/* The loop publishes d->snap: its own latest needs no read lock. */
	mjob.n = metrics_text(d->snap, d->cfg.host_id, &cs, mjob.buf, sizeof(mjob.buf));
	mjob.w.run = metrics_job_run;
	mjob.w.done = metrics_job_done;
	if (fl_worker_submit(d->worker, &mjob.w) != 0)
		mjob.skipped++;
}

void fld_remove_metrics_file(struct fld *d, bool worker_stopped)
{
	if (d->cfg.metrics_file[0] == '\0')
		return;
	if (!worker_stopped)
		fl_warn("a metrics file write was still running at shutdown; %s may reappear, stale (see "
			"fencelock_metrics_updated_timestamp_seconds)", d->cfg.metrics_file);
	if (unlink(d->cfg.metrics_file) != 0 && errno != ENOENT)
		fl_warn("cannot remove the metrics file %s at shutdown: %s", d->cfg.metrics_file, strerror(errno));
}
