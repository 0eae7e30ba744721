/* fencelockd's read-only views: the status, hosts, leases, vms and metrics
 * ops (docs/control-protocol.md gives their JSON shapes), and the metrics
 * file for node_exporter's textfile collector.
 *
 * Host states: every arbiter classifies every host from both channels
 * (arb_host_view); the leader's view is the one it acts on, a follower's is
 * its own observation plus what peers' views relay, and may lag by a tick.
 * Until a host has been classified (just after start) the daemon shows what
 * it can see itself: the leader UP while this host is quorate, another host
 * UP while the Raft transport has a live connection to it, PARTITIONED
 * otherwise. The reply's "view" field says whose view it is ("leader" or
 * "follower"). This host's own state comes from its delta lease
 * and fence status. A host's "voter" flag is its role in the Raft configuration
 * this host uses (a learner added by host.add turns voter once promoted). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "common/latency.h"
#include "plugin/host/safefile.h"
#include "raft/node.h"
#include "raft/transport.h"

#define FLD_VIEW_HOSTS 65u  /* ids 1..64: the arbiter's bound */

/* A follower's own view of each host: the state shown and since when. */
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

static json_t *host_json(const struct fld *d, const struct arb_status *st, uint32_t id, const char *name,
			 const char *addr, bool voter)
{
	uint64_t since = 0, now = fl_now_us(d->loop);
	enum cls_state s = host_state(d, st, id, &since);
	return json_pack("{s:i,s:s,s:s,s:s,s:I,s:b}", "id", (int)id, "name", name, "addr", addr, "state",
			 cls_state_name(s), "since_s", (json_int_t)(since <= now ? (now - since) / FL_US_PER_S : 0),
			 "voter", voter);
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

/* Every member: the FSM's table, or the configured peers before the first commit. */
static json_t *hosts_json(const struct fld *d, const struct arb_status *st)
{
	const struct fsm *f = arb_fsm(d->arb);
	json_t *a = json_array();
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		if (h != NULL)
			json_array_append_new(a, host_json(d, st, h->host_id, h->name, h->addr,
							   raft_voter(d, h->host_id, h->role == FSM_ROLE_VOTER)));
	}
	for (uint32_t i = 0; json_array_size(a) == 0 && i < d->cfg.n_peers; i++) {
		uint32_t id = d->cfg.peers[i].id;
		json_array_append_new(a, host_json(d, st, id, id == d->cfg.host_id ? d->cfg.host_name : "?",
						   d->peer_addrs[id] ? d->peer_addrs[id] : "", true));
	}
	return a;
}

static const char *vm_state(const struct fld *d, const struct fsm_vm *vm, uint32_t idx)
{
	if (vm->desired_host == d->cfg.host_id && idx < FLD_MAX_VMS)
		return d->vms[idx].state == DVM_NONE && d->vms[idx].acquire == NULL ? "PLACED" : vmrt_state_name(&d->vms[idx]);
	if (vm->desired_host == 0)
		return "STOPPED";
	return vm->run_state == FSM_RUN_RUNNING ? "RUNNING" : "PLACED";
}

static json_t *host_or_null(uint32_t id)
{
	return id != 0 ? json_integer(id) : json_null();
}

static json_t *vms_json(const struct fld *d, bool only_here)
{
	const struct fsm *f = arb_fsm(d->arb);
	json_t *a = json_array();
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		const struct fsm_vm *vm = fsm_vm_at(f, i);
		if (vm == NULL || (only_here && vm->desired_host != d->cfg.host_id))
			continue;
		json_t *o = json_pack("{s:s,s:o,s:s}", "uid", vm->uid, "host", host_or_null(vm->desired_host), "state",
				      vm_state(d, vm, i));
		if (!only_here) {
			json_t *vols = json_array();
			for (uint32_t k = 0; k < vm->nvol; k++)
				json_array_append_new(vols, json_string(vm->vol[k].path));
			pid_t pid = i < FLD_MAX_VMS && vm->desired_host == d->cfg.host_id ? d->vms[i].pid : 0;
			json_object_update_new(o, json_pack("{s:o,s:s,s:o,s:I}", "pid", pid > 0 ? json_integer(pid) : json_null(),
				"restart", ctl_restart_name(fld_restart_of_fsm(vm->restart)), "volumes", vols,
				"incarnation", (json_int_t)vm->incarnation));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *leases_json(const struct fld *d)
{
	const struct fsm *f = arb_fsm(d->arb);
	json_t *a = json_array();
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		const struct fsm_vm *vm = fsm_vm_at(f, i);
		bool here = vm != NULL && vm->desired_host == d->cfg.host_id && i < FLD_MAX_VMS &&
			    d->vms[i].state != DVM_NONE && arb_vm_running(d->arb, i);
		uint32_t holder = here ? d->cfg.host_id : vm != NULL && vm->run_state == FSM_RUN_RUNNING ? vm->run_host : 0;
		for (uint32_t k = 0; vm != NULL && k < vm->nvol; k++)
			json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:o,s:o,s:s}", "volume", vm->vol[k].path, "vm",
				vm->uid, "mode", vm->vol[k].ro ? "ro" : "rw", "slot",
				vm->vol[k].slot == FSM_SLOT_NONE ? json_null() : json_integer(vm->vol[k].slot),
				"holder", host_or_null(holder), "state", holder ? "HELD" : "FREE"));
	}
	return a;
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

int fld_status(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	struct arb_status st;
	char why[128];
	(void)req;
	arb_status(d->arb, &st);
	json_t *r = ctl_call_reply(call);
	json_object_update_new(r, json_pack("{s:s,s:i,s:s,s:b,s:s,s:o,s:I,s:I,s:b,s:b,s:i,s:i,s:s}",
		"cluster", d->cfg.cluster_name, "host_id", (int)d->cfg.host_id, "host_name", d->cfg.host_name,
		"quorate", st.quorate, "quorum_reason", quorum_reason(d, &st, why, sizeof(why)),
		"leader", host_or_null((uint32_t)st.leader), "term", (json_int_t)st.term,
		"commit", (json_int_t)st.commit, "lease_valid", st.lease_valid, "fenced", st.fenced,
		"io_timeout_s", (int)d->layout.io_timeout_s,
		"partition_tolerance_s", (int)(d->cfg.partition_tolerance_ms / 1000),
		"view", is_leader(d) ? "leader" : "follower"));
	json_object_set_new(r, "hosts", hosts_json(d, &st));
	json_object_set_new(r, "vms", vms_json(d, true));
	return 0;
}

int fld_list(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	struct arb_status st;
	arb_status(d->arb, &st);
	json_t *r = ctl_call_reply(call);
	if (req->op == CTL_OP_HOSTS)
		json_object_set_new(r, "hosts", hosts_json(d, &st));
	else if (req->op == CTL_OP_LEASES)
		json_object_set_new(r, "leases", leases_json(d));
	else
		json_object_set_new(r, "vms", vms_json(d, false));
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

/* Renewal lateness: a histogram over the daemon's life and exact quantiles
 * over the last FL_LAT_WINDOW renewals. */
static void lateness_metrics(struct mbuf *b, const struct fl_lat *l)
{
	if (l == NULL)
		return;
	mput(b, "# HELP fencelock_renewal_lateness_seconds How long after its scheduled time each delta-lease "
		"renewal started (a stalled loop).\n# TYPE fencelock_renewal_lateness_seconds histogram\n");
	uint64_t cum = 0;
	for (uint32_t i = 0; i + 1 < FL_LAT_BUCKETS; i++) {
		cum += l->bucket[i];
		mput(b, "fencelock_renewal_lateness_seconds_bucket{le=\"%.4f\"} %" PRIu64 "\n",
		     (double)fl_lat_bounds_us[i] / 1e6, cum);
	}
	mput(b, "fencelock_renewal_lateness_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		"fencelock_renewal_lateness_seconds_sum %.6f\nfencelock_renewal_lateness_seconds_count %" PRIu64 "\n",
	     l->count, (double)l->sum_us / 1e6, l->count);
	mput(b, "# HELP fencelock_renewal_lateness_recent_seconds Renewal lateness over the last %u renewals "
		"(quantile 1 is their maximum).\n# TYPE fencelock_renewal_lateness_recent_seconds gauge\n", FL_LAT_WINDOW);
	static const double qs[] = {0.5, 0.99, 1.0};
	for (size_t i = 0; i < FL_ARRAY_SIZE(qs); i++)
		mput(b, "fencelock_renewal_lateness_recent_seconds{quantile=\"%g\"} %.6f\n", qs[i],
		     (double)fl_lat_quantile(l, qs[i]) / 1e6);
	mput(b, "# HELP fencelock_renewal_lateness_max_seconds The latest start of a renewal since the daemon "
		"started.\n# TYPE fencelock_renewal_lateness_max_seconds gauge\n"
		"fencelock_renewal_lateness_max_seconds %.6f\n", (double)l->max_us / 1e6);
}

static void metrics_hosts(struct fld *d, struct mbuf *b, const struct arb_status *st)
{
	uint32_t count[CLS_STATE_END] = {0};
	const struct fsm *f = arb_fsm(d->arb);
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		uint64_t since;
		if (h != NULL)
			count[host_state(d, st, h->host_id, &since)]++;
	}
	mput(b, "# HELP fencelock_hosts Hosts per state, as this host sees them.\n# TYPE fencelock_hosts gauge\n");
	for (int s = CLS_UP; s < CLS_STATE_END; s++)
		mput(b, "fencelock_hosts{state=\"%s\"} %u\n", cls_state_name((enum cls_state)s), count[s]);
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

/* Builds the Prometheus text into buf (cap bytes); returns its length. */
static size_t metrics_text(struct fld *d, char *buf, size_t cap)
{
	struct mbuf b = {.p = buf, .cap = cap};
	struct arb_status st;
	struct ctl_server_stats cs;
	arb_status(d->arb, &st);
	ctl_server_get_stats(d->ctl, &cs);
	uint64_t now = fl_now_us(d->loop);
	buf[0] = '\0';
	metric(&b, "fencelock_lease_valid", "gauge", "1 while this host's delta lease is valid.", st.lease_valid);
	metric(&b, "fencelock_lease_valid_remaining_seconds", "gauge", "Seconds until the delta lease expires without a renewal.",
	       st.valid_until_us > now ? (st.valid_until_us - now) / FL_US_PER_S : 0);
	metric(&b, "fencelock_quorate", "gauge", "1 while this host is quorate.", st.quorate);
	metric(&b, "fencelock_fenced", "gauge", "1 while this host is fenced.", st.fenced);
	metric(&b, "fencelock_raft_term", "gauge", "Current Raft term.", st.term);
	metric(&b, "fencelock_raft_leader", "gauge", "Leader's host id, 0 when none.", st.leader);
	metric(&b, "fencelock_raft_commit_index", "gauge", "Raft commit index.", st.commit);
	metrics_hosts(d, &b, &st);
	metric(&b, "fencelock_vms_running", "gauge", "VMs running on this host.", st.vms_running);
	metric(&b, "fencelock_fences_total", "counter", "Self-fences of this host (quorum lost, renewal failed, poison pill).", st.fences);
	mput(&b, "# HELP fencelock_self_fences_total Self-fences of this host by reason.\n"
		 "# TYPE fencelock_self_fences_total counter\n"
		 "fencelock_self_fences_total{reason=\"quorum\"} %" PRIu64 "\n"
		 "fencelock_self_fences_total{reason=\"poison_pill\"} %" PRIu64 "\n"
		 "fencelock_self_fences_total{reason=\"storage\"} %" PRIu64 "\n",
	     st.fences_quorum, st.fences_pill, st.fences_storage);
	mput(&b, "# HELP fencelock_renewal_latency_seconds Delta-lease renewal, start to completion: the last and the largest.\n"
		 "# TYPE fencelock_renewal_latency_seconds gauge\n"
		 "fencelock_renewal_latency_seconds{which=\"last\"} %.6f\n"
		 "fencelock_renewal_latency_seconds{which=\"max\"} %.6f\n",
	     (double)st.renew_latency_us / 1e6, (double)st.renew_latency_max_us / 1e6);
	lateness_metrics(&b, arb_renew_lateness(d->arb));
	metric(&b, "fencelock_renewals_total", "counter", "Good delta-lease renewals.", st.renewals);
	metric(&b, "fencelock_renewal_failures_total", "counter", "Failed delta-lease renewals (I/O error or timeout).",
	       st.renewal_failures);
	metric(&b, "fencelock_takeovers_total", "counter", "VM moves this host decided as leader.", st.takeovers);
	metric(&b, "fencelock_poison_pills_total", "counter", "Fence requests this host wrote as leader.", st.pills);
	metric(&b, "fencelock_failovers_total", "counter", "VMs recovered on this host from a failed host.", d->m.recovered);
	metric(&b, "fencelock_guard_kills_total", "counter", "VMs killed by their guard (deadline passed).", d->m.guard_kills);
	metric(&b, "fencelock_vm_starts_total", "counter", "VM grants given on this host.", d->m.vm_starts);
	metric(&b, "fencelock_vm_kills_total", "counter", "VM kills the arbiter asked for on this host.", d->m.vm_kills);
	metric(&b, "fencelock_volume_flushes_total", "counter", "Flushes of a VM's volumes after its wrapper died.",
	       d->m.flushes);
	metric(&b, "fencelock_volume_flush_failures_total", "counter", "Such flushes that failed (leases kept held).",
	       d->m.flush_failures);
	metric(&b, "fencelock_volume_flush_timeouts_total", "counter", "Such flushes past their bound (leases kept held).",
	       d->m.flush_timeouts);
	if (d->worker != NULL) {
		struct fl_worker_stats ws;
		fl_worker_stats(d->worker, &ws);
		metric(&b, "fencelock_worker_queued", "gauge", "Blocking jobs waiting for or running on the worker thread.",
		       ws.queued);
		metric(&b, "fencelock_worker_refused_total", "counter", "Jobs refused because the worker queue was full.",
		       ws.refused);
	}
	metric(&b, "fencelock_metrics_file_skipped_total", "counter", "Metrics file rounds skipped (previous write still running).",
	       fld_metrics_skipped());
	metric(&b, "fencelock_control_requests_total", "counter", "Control requests served.", cs.requests);
	metric(&b, "fencelock_control_errors_total", "counter", "Control error replies.", cs.errors);
	const struct raft_tcp_stats *ts = raft_tcp_get_stats(d->tcp);
	metric(&b, "fencelock_raft_frames_sent_total", "counter", "Transport frames sent.", ts->frames_sent);
	metric(&b, "fencelock_raft_frames_received_total", "counter", "Transport frames received.", ts->frames_received);
	metric(&b, "fencelock_raft_disconnects_total", "counter", "Transport connections lost.", ts->disconnects);
	metrics_transport(&b, ts, &st);
	return b.len;
}

#define FLD_METRICS_MAX (64u * 1024u)

int fld_metrics_op(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	static char buf[FLD_METRICS_MAX];
	(void)req;
	metrics_text(ctx, buf, sizeof(buf));
	json_object_set_new(ctl_call_reply(call), "text", json_string(buf));
	return 0;
}

/* The metrics file is written by the worker thread (a file system may
 * block a write for seconds); the loop only renders the text into the job's
 * buffer. One write in flight at a time: while one is, later rounds are
 * skipped (counted), never queued behind it. */
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
	if (d->cfg.metrics_file[0] == '\0' || d->worker == NULL)
		return;
	if (mjob.w.queued) {
		mjob.skipped++;
		return;
	}
	snprintf(mjob.path, sizeof(mjob.path), "%s", d->cfg.metrics_file);
	mjob.n = metrics_text(d, mjob.buf, sizeof(mjob.buf));
	mjob.w.run = metrics_job_run;
	mjob.w.done = metrics_job_done;
	if (fl_worker_submit(d->worker, &mjob.w) != 0)
		mjob.skipped++;
}
