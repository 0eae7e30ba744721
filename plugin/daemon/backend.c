/* fencelockd's control backend: the struct ctl_backend handlers on top of the
 * arbiter (plugin/arbiter/arbiter.h) and the VM runtime (vmrt.c).
 *
 * The cluster's registry lives in the replicated FSM, and arb_submit() is
 * fire and forget: a mutating op proposes its FSM command and then waits
 * (CTL_DEFERRED) until the local FSM shows the effect, polled every
 * FLD_POLL_US, with a bound (FLD_COMMIT_TIMEOUT_US) after which the caller
 * gets an error naming the likely cause. Preconditions the FSM would refuse
 * silently (a read-write volume of another VM, a VM still running) are
 * checked here first so that the caller gets a sentence rather than a
 * timeout. Membership changes (host.add / host.remove) run on the leader:
 * the FSM record first (it carries the address every host's transport needs),
 * then the Raft configuration change (a new host joins as a learner and is
 * promoted once it has caught up). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "plugin/host/volid.h"
#include "raft/node.h"

/* A control request becomes one FSM command field by field: every limit the
 * control protocol accepts is the FSM's, so nothing accepted is refused (or
 * cut) when it is proposed. */
_Static_assert(CTL_UID_MAX == FSM_UID_MAX, "VM uid limit");
_Static_assert(CTL_VOLUMES_MAX == FSM_VOLS_MAX, "volumes per VM");
_Static_assert(CTL_PATH_MAX == FSM_PATH_MAX, "volume path limit");
_Static_assert(CTL_SPEC_MAX == FSM_SPEC_MAX, "VM spec limit");
_Static_assert(VOLID_MAX == FSM_VOLID_MAX, "volume identity limit");
/* Every configured peer is a Raft member at bootstrap (the lowest
 * ARB_VOTERS_MAX voters, the rest learners), plus the disk voter. */
_Static_assert(CFG_PEERS_MAX + 1u <= RAFT_MAX_SERVERS, "all peers plus the disk voter fit a configuration");
/* The Raft transport has a slot for every configured peer. */
_Static_assert(CFG_PEERS_MAX <= RAFT_TCP_MAX_PEERS, "every peer has a transport slot");
/* A host of the largest cluster can name every other host as a peer. */
_Static_assert(CFG_PEERS_MAX + 1u >= ARB_MAX_HOSTS, "every other host of the largest cluster can be a peer");
/* The host list of the largest cluster fits one reply: name, address and
 * at most 1 KiB of JSON fields per host. */
_Static_assert((uint64_t)ARB_MAX_HOSTS * (FSM_NAME_MAX + FSM_ADDR_MAX + 1024u) <= CTL_REPLY_MAX_BYTES,
	       "the host list of the largest cluster fits a control reply");
/* The raw bytes of a register request with every field at its maximum, plus
 * 4 KiB for the JSON around them, fit one request frame. */
_Static_assert(FSM_CMD_MAX_BYTES + 4096u <= CTL_MSG_MAX_BYTES, "a largest register request fits a control frame");

int fld_submit(struct fld *d, struct ctl_call *call, struct fsm_cmd *c)
{
	/* The event history names who asked (kept in c for re-proposals). */
	c->origin.by_op = true;
	c->origin.by_uid = (uint32_t)ctl_call_peer(call)->uid;
	c->origin.cause = FSM_CAUSE_OPERATOR;
	/* Forwarded by another host: that is where the operator asked. */
	if (ctl_call_peer(call)->via_host != 0)
		c->origin.by_host = ctl_call_peer(call)->via_host;
	int rv = arb_submit(d->arb, c);
	if (rv == -FL_ENOTLEADER) {
		ctl_call_errorf(call, "host %u (%s) knows no Raft leader: it is not quorate; try again when "
				"'fencelock status' says quorate", d->cfg.host_id, d->cfg.host_name);
		return -FL_ENOTQUORATE;
	}
	if (rv != 0)
		ctl_call_errorf(call, "proposing %s for %s failed: %s", fsm_cmd_type_name(c->type),
				c->uid[0] ? c->uid : "the cluster", fl_strerror(rv));
	return rv;
}

/* ---- waiting for a commit ---- */

static struct fld_waiter *waiter_add(struct fld *d, enum fld_wait_kind kind, struct ctl_call *call, const char *uid,
				     uint64_t for_us)
{
	for (uint32_t i = 0; i < FLD_WAITERS_MAX; i++) {
		struct fld_waiter *w = &d->waiters[i];
		if (w->used)
			continue;
		*w = (struct fld_waiter){.used = true, .kind = (uint8_t)kind, .call = call,
					 .until_us = fl_now_us(d->loop) + for_us};
		snprintf(w->uid, sizeof(w->uid), "%s", uid != NULL ? uid : "");
		return w;
	}
	ctl_call_errorf(call, "too many control requests waiting for a commit (%u); try again", FLD_WAITERS_MAX);
	return NULL;
}

int fld_wait(struct fld *d, enum fld_wait_kind kind, struct ctl_call *call, const char *uid, uint32_t host_id,
	     const struct fsm_cmd *resubmit)
{
	struct fld_waiter *w = waiter_add(d, kind, call, uid, FLD_COMMIT_TIMEOUT_US);
	if (w == NULL)
		return -FL_ENOSPC;
	w->host_id = host_id;
	if (resubmit != NULL) {
		w->have_cmd = true;
		w->cmd = *resubmit;
		w->resubmit_us = fl_now_us(d->loop) + FLD_RESUBMIT_US;
	}
	return CTL_DEFERRED;
}

int fld_wait_fn(struct fld *d, struct ctl_call *call, const char *uid, uint32_t host_id, const struct fsm_cmd *resubmit,
		bool (*done)(struct fld *d, const struct fld_waiter *w), const char *hint)
{
	FL_ASSERT(done != NULL);
	FL_ASSERT(hint != NULL);
	int rv = fld_wait(d, FLW_FN, call, uid, host_id, resubmit);
	for (uint32_t i = 0; rv == CTL_DEFERRED && i < FLD_WAITERS_MAX; i++) {
		struct fld_waiter *w = &d->waiters[i];
		if (w->used && w->call == call && w->kind == FLW_FN && w->done == NULL) {
			w->done = done;
			w->hint = hint;
			return rv;
		}
	}
	FL_ASSERT(rv != CTL_DEFERRED); /* fld_wait took a slot for call */
	return rv;
}

int fld_wait_end(struct fld *d, struct ctl_call *call, const char *uid, uint64_t inc)
{
	FL_ASSERT(inc != 0);
	/* Not re-proposed from here: vmrt_poll re-proposes the VM_END itself. */
	struct fld_waiter *w = waiter_add(d, FLW_END, call, uid, FLD_END_COMMIT_WAIT_US);
	if (w == NULL)
		return 0; /* the leases are released; only the answer comes early */
	w->host_id = d->cfg.host_id;
	w->incarnation = inc;
	return CTL_DEFERRED;
}

static bool vm_matches(const struct fsm *f, const struct fsm_vm *vm, const struct fsm_cmd *c);

static bool waiter_done(struct fld *d, const struct fld_waiter *w)
{
	const struct fsm *f = arb_fsm(d->arb);
	const struct fsm_host *h;
	const struct fsm_vm *vm;
	switch (w->kind) {
	case FLW_REGISTER: return (vm = fsm_vm_find(f, w->uid, NULL)) != NULL && vm_matches(f, vm, &w->cmd);
	case FLW_CLEAR: return (vm = fsm_vm_find(f, w->uid, NULL)) == NULL || (!vm->failed && vm->nfailed == 0);
	case FLW_UNREGISTER: return fsm_vm_find(f, w->uid, NULL) == NULL;
	case FLW_HOST_ADD: return (h = fsm_host_find(f, w->host_id)) != NULL && h->state == FSM_HOST_JOINED;
	case FLW_HOST_REMOVE: return (h = fsm_host_find(f, w->host_id)) == NULL || h->state == FSM_HOST_LEFT;
	case FLW_PLACED:
		return (vm = fsm_vm_find(f, w->uid, NULL)) == NULL || vm->desired_host == 0 ||
		       vm->desired_host == d->cfg.host_id;
	case FLW_END:
		return (vm = fsm_vm_find(f, w->uid, NULL)) == NULL || vm->incarnation != w->incarnation ||
		       vm->desired_host != w->host_id;
	case FLW_FN: return w->done(d, w);
	default: FL_UNREACHABLE("unknown waiter kind"); return true;
	}
}

static const char *waiter_hint(const struct fld_waiter *w)
{
	switch (w->kind) {
	case FLW_REGISTER: return "no quorum, or the cluster refused it (a volume used by another VM, registry full)";
	case FLW_CLEAR: return "no quorum";
	case FLW_UNREGISTER: return "no quorum, or the VM still runs somewhere";
	case FLW_HOST_ADD: return "no quorum, or the id or name is taken";
	case FLW_END: return "its leases are released, and its stop is proposed again for 30 s; until it is committed, "
			     "other hosts refuse to start it (no quorum?)";
	case FLW_FN: return w->hint;
	default: return "no quorum, or VMs are still placed on that host";
	}
}

static void placed_done(struct fld *d, struct fld_waiter *w);
static void placed_refuse(struct fld *d, struct fld_waiter *w);

void fld_waiters_poll(struct fld *d, uint64_t now)
{
	for (uint32_t i = 0; i < FLD_WAITERS_MAX; i++) {
		struct fld_waiter *w = &d->waiters[i];
		if (!w->used)
			continue;
		if (waiter_done(d, w) && w->kind == FLW_PLACED) {
			placed_done(d, w);
		} else if (waiter_done(d, w)) {
			w->used = false;
			ctl_call_finish(w->call, 0);
		} else if (w->have_cmd && now >= w->resubmit_us && now < w->until_us) {
			w->resubmit_us = now + FLD_RESUBMIT_US;
			int rv = arb_submit(d->arb, &w->cmd); /* the FSM refuses a duplicate */
			fl_debug("re-proposing %s: %s", fsm_cmd_type_name(w->cmd.type), rv ? fl_strerror(rv) : "sent");
		} else if (now >= w->until_us && w->kind == FLW_PLACED) {
			placed_refuse(d, w);
		} else if (now >= w->until_us) {
			w->used = false;
			uint64_t waited_us = w->kind == FLW_END ? FLD_END_COMMIT_WAIT_US : FLD_COMMIT_TIMEOUT_US;
			ctl_call_errorf(w->call, "not committed within %u s: %s", (unsigned)(waited_us / FL_US_PER_S),
					waiter_hint(w));
			ctl_call_finish(w->call, -FL_ETIMEDOUT);
		}
	}
}

void fld_waiters_drop(struct fld *d)
{
	memset(d->waiters, 0, sizeof(d->waiters));
}

/* ---- VM registry ---- */

char *fld_vm_spec_dup(const struct fsm *f, const struct fsm_vm *vm)
{
	char *s = malloc((size_t)vm->spec_len + 1u);
	if (s == NULL)
		return NULL;
	fsm_vm_spec(f, vm, (uint8_t *)s, vm->spec_len);
	s[vm->spec_len] = '\0';
	return s;
}

/* True if vm holds exactly the registration c asks for (so the FSM has
 * applied it): policy, volumes in order, spec. */
static bool vm_matches(const struct fsm *f, const struct fsm_vm *vm, const struct fsm_cmd *c)
{
	if (vm->restart != c->restart || vm->nvol != c->nvol || vm->spec_len != c->spec_len ||
	    vm->ptol_us != c->ptol_us || vm->path_host != c->host_id)
		return false;
	for (uint32_t i = 0; i < c->nvol; i++)
		if (strcmp(vm->vol[i].id, c->vol[i].id) != 0 || strcmp(vm->vol[i].path, c->vol[i].path) != 0 ||
		    vm->vol[i].ro != c->vol[i].ro)
			return false;
	return fsm_vm_spec_equal(f, vm, c->spec, c->spec_len);
}

static bool same_identities(const struct fsm_vm *vm, const struct fsm_cmd *c)
{
	if (vm->nvol != c->nvol)
		return false;
	for (uint32_t i = 0; i < c->nvol; i++) {
		bool found = false;
		for (uint32_t k = 0; k < vm->nvol && !found; k++)
			found = strcmp(vm->vol[k].id, c->vol[i].id) == 0 && vm->vol[k].ro == c->vol[i].ro;
		if (!found)
			return false;
	}
	return true;
}

/* A read-write volume belongs to one active VM (the FSM's rule, checked
 * here for a clear answer); a stopped VM holds nothing. */
static int volume_conflict(struct fld *d, struct ctl_call *call, const struct fsm_cmd *c)
{
	const struct fsm *f = arb_fsm(d->arb);
	uint32_t self = UINT32_MAX;
	(void)fsm_vm_find(f, c->uid, &self);
	for (uint32_t j = 0; j < c->nvol; j++) {
		const struct fsm_vm *o = fsm_volume_holder(f, c->vol[j].id, c->vol[j].ro, self);
		if (o == NULL)
			continue;
		char name[FSM_NAME_MAX + 1];
		uint32_t h = o->desired_host != 0 ? o->desired_host : o->run_host;
		ctl_call_errorf(call, "volume %s (identity %s) is held by VM %s on host %u (%s), which may reach it by "
				"another path; stop that VM first", c->vol[j].path, c->vol[j].id, o->uid, h,
				fld_host_name(d, h, name, sizeof(name)));
		return -FL_EBUSY;
	}
	return 0;
}

/* What may stop a (re-)registration of a known uid: new volumes while it
 * is placed or runs. A placement on another host is checked by the caller. */
static int register_update_check(struct ctl_call *call, const struct fsm_cmd *c, const struct fsm_vm *vm)
{
	if (fsm_vm_active(vm) && !same_identities(vm, c)) {
		ctl_call_errorf(call, "VM %s runs or is placed with other volumes; stop it before changing its volumes",
				c->uid);
		return -FL_EBUSY;
	}
	return 0;
}

/* The registration, once no other host's placement stands in its way:
 * proposed and waited for (or 0 at once if registered exactly so). */
static int register_submit(struct fld *d, struct ctl_call *call, struct fsm_cmd *c)
{
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), c->uid, NULL);
	int rv = vm != NULL ? register_update_check(call, c, vm) : 0;
	if (rv == 0)
		rv = volume_conflict(d, call, c);
	if (rv != 0)
		return rv;
	if (vm != NULL && vm_matches(arb_fsm(d->arb), vm, c))
		return 0; /* registered exactly so already (a re-run, a restart) */
	if ((rv = fld_submit(d, call, c)) != 0)
		return rv;
	return fld_wait(d, FLW_REGISTER, call, c->uid, 0, c);
}

/* A registration this host's view says is placed on another host: held for
 * up to T while this host may lag behind the cluster (the wrapper there has
 * seen the stop committed, but the commit reaches a follower with the
 * leader's next message), then refused if the placement stands. */
static int register_hold(struct fld *d, struct ctl_call *call, const struct fsm_cmd *c)
{
	struct fld_waiter *w = NULL;
	for (uint32_t i = 0; i < FLD_WAITERS_MAX && w == NULL; i++)
		w = d->waiters[i].used ? NULL : &d->waiters[i];
	if (w == NULL) {
		ctl_call_errorf(call, "too many control requests waiting for a commit (%u); try again", FLD_WAITERS_MAX);
		return -FL_ENOSPC;
	}
	*w = (struct fld_waiter){.used = true, .kind = FLW_PLACED, .call = call, .cmd = *c,
				 .until_us = fl_now_us(d->loop) + (uint64_t)d->layout.io_timeout_ms * FL_US_PER_MS};
	snprintf(w->uid, sizeof(w->uid), "%s", c->uid);
	return CTL_DEFERRED;
}

static void placed_done(struct fld *d, struct fld_waiter *w)
{
	FL_ASSERT(w->kind == FLW_PLACED);
	struct fsm_cmd c = w->cmd;
	struct ctl_call *call = w->call;
	w->used = false; /* register_submit may take this slot again */
	int rv = register_submit(d, call, &c);
	if (rv != CTL_DEFERRED)
		ctl_call_finish(call, rv);
}

static void placed_refuse(struct fld *d, struct fld_waiter *w)
{
	FL_ASSERT(w->kind == FLW_PLACED);
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), w->uid, NULL);
	FL_ASSERT(vm != NULL); /* else placed_done ran */
	char name[FSM_NAME_MAX + 1];
	w->used = false;
	ctl_call_errorf(w->call, "VM %s is placed on host %u (%s); register it there, or stop it first", w->uid,
			vm->desired_host, fld_host_name(d, vm->desired_host, name, sizeof(name)));
	ctl_call_finish(w->call, -FL_EBUSY);
}

static int op_register(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	size_t spec_len = strlen(req->spec);
	if (spec_len > arb_fsm(d->arb)->lim.spec_max_bytes) {
		ctl_call_errorf(call, "spec of VM %s is %zu bytes; at most %u", req->uid, spec_len,
				arb_fsm(d->arb)->lim.spec_max_bytes);
		return -FL_EINVAL;
	}
	struct fsm_cmd c = {.type = FSM_CMD_VM_REGISTER, .nvol = (uint8_t)req->n_volumes,
			    .restart = fld_restart_to_fsm(req->restart), .host_id = d->cfg.host_id,
			    .spec = (const uint8_t *)req->spec, .spec_len = (uint32_t)spec_len};
	snprintf(c.uid, sizeof(c.uid), "%s", req->uid);
	/* Who registers it is who a re-run of its spec will run as. */
	c.owner_uid = (uint32_t)ctl_call_peer(call)->uid;
	c.owner_gid = (uint32_t)ctl_call_peer(call)->gid;
	for (uint32_t i = 0; i < req->n_volumes; i++) {
		snprintf(c.vol[i].path, sizeof(c.vol[i].path), "%s", req->volumes[i].path);
		snprintf(c.vol[i].id, sizeof(c.vol[i].id), "%s", req->volumes[i].id);
		c.vol[i].ro = req->volumes[i].ro;
	}
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), req->uid, NULL);
	if (vm != NULL && vm->desired_host != 0 && vm->desired_host != d->cfg.host_id)
		return register_hold(d, call, &c);
	return register_submit(d, call, &c);
}

static int op_unregister(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), req->uid, NULL);
	const struct dvm *v = vmrt_find(d, req->uid);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered", req->uid);
		return -FL_ENOENT;
	}
	if ((v != NULL && v->state != DVM_NONE) || vm->run_state == FSM_RUN_RUNNING) {
		uint32_t h = vm->run_host ? vm->run_host : vm->desired_host;
		ctl_call_errorf(call, "VM %s still runs (host %u); stop it first", req->uid, h);
		return h == d->cfg.host_id || h == 0 ? -FL_EBUSY : -FL_ENOTHELD;
	}
	int rv;
	if (vm->desired_host != 0) {
		struct fsm_cmd p = {.type = FSM_CMD_VM_PLACE, .host_id = 0, .incarnation = vm->incarnation};
		snprintf(p.uid, sizeof(p.uid), "%s", req->uid);
		if ((rv = fld_submit(d, call, &p)) != 0)
			return rv;
	}
	struct fsm_cmd c = {.type = FSM_CMD_VM_UNREGISTER};
	snprintf(c.uid, sizeof(c.uid), "%s", req->uid);
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	return fld_wait(d, FLW_UNREGISTER, call, req->uid, 0, &c);
}

static int op_clear(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	const struct fsm_vm *vm = fsm_vm_find(arb_fsm(d->arb), req->uid, NULL);
	if (vm == NULL) {
		ctl_call_errorf(call, "VM %s is not registered", req->uid);
		return -FL_ENOENT;
	}
	if (!vm->failed && vm->nfailed == 0) {
		ctl_call_errorf(call, "VM %s is not FAILED and has no failed starts to clear", req->uid);
		return -FL_ENOENT;
	}
	struct fsm_cmd c = {.type = FSM_CMD_VM_CLEAR};
	snprintf(c.uid, sizeof(c.uid), "%s", req->uid);
	int rv = fld_submit(d, call, &c);
	if (rv != 0)
		return rv;
	return fld_wait(d, FLW_CLEAR, call, req->uid, 0, &c);
}

static int op_acquire(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	return vmrt_acquire(ctx, call, req);
}

static int op_started(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	return vmrt_started(ctx, call, req);
}

static int op_exited(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	return vmrt_exited(ctx, call, req);
}

static int op_release(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	return vmrt_release(ctx, call, req);
}

/* ---- membership ---- */

/* 0 on the leader; elsewhere the call is forwarded to it (CTL_DEFERRED,
 * plugin/daemon/opfwd.c) or refused with the reason. */
static int need_leader(struct fld *d, struct ctl_call *call, const struct ctl_req *req, struct raft_node **node)
{
	*node = arb_raft(d->arb);
	struct raft *r = *node != NULL ? raft_node_core(*node) : NULL;
	if (r != NULL && raft_state(r) == RAFT_LEADER)
		return 0;
	return fld_forward(d, call, req);
}

/* Who asked, for the notice line of every membership change. */
static void member_notice(const struct ctl_call *call, const char *what, uint32_t host_id)
{
	const struct ctl_peer *p = ctl_call_peer(call);
	fl_notice("operator uid %u (pid %d) asks: %s host %u", (unsigned)p->uid, (int)p->pid, what, host_id);
}

static int op_host_add(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	struct raft_node *node;
	struct sockaddr_in sa;
	int rv = need_leader(d, call, req, &node);
	if (rv != 0)
		return rv;
	member_notice(call, "add", req->host_id);
	if (fsm_host_find(arb_fsm(d->arb), req->host_id) != NULL) {
		ctl_call_errorf(call, "host id %u is already a member (or left: ids are never reused)", req->host_id);
		return -FL_EBUSY;
	}
	const struct fsm *f = arb_fsm(d->arb);
	/* This host's own name, also before the cluster has recorded it (a
	 * host first seen on the disk takes its name a moment later). */
	if (strcmp(d->cfg.host_name, req->host_name) == 0) {
		ctl_call_errorf(call, "host name %s is already used by host %u: names are unique in the cluster",
				req->host_name, d->cfg.host_id);
		return -FL_EBUSY;
	}
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		if (h != NULL && h->state != FSM_HOST_LEFT && strcmp(h->name, req->host_name) == 0) {
			ctl_call_errorf(call, "host name %s is already used by host %u: names are unique in the cluster",
					req->host_name, h->host_id);
			return -FL_EBUSY;
		}
	}
	if (!cfg_name_valid(req->host_name) || cfg_parse_ipv4_port(req->host_addr, &sa) != 0 ||
	    req->host_id > d->layout.max_hosts) {
		ctl_call_errorf(call, "host %u: name must be 1..47 of [A-Za-z0-9._-], address IPv4:PORT, id at most %u "
				"(the device's max_hosts)", req->host_id, d->layout.max_hosts);
		return -FL_EINVAL;
	}
	/* Recorded as a voter to be: the leader keeps promoting it (Raft does
	 * once it has answered and caught up), however late its daemon starts. */
	struct fsm_cmd c = {.type = FSM_CMD_HOST_ADD, .host_id = req->host_id, .role = FSM_ROLE_VOTER};
	snprintf(c.name, sizeof(c.name), "%s", req->host_name);
	snprintf(c.addr, sizeof(c.addr), "%s", req->host_addr);
	/* The transport learns the address first: a host it cannot reach is
	 * refused before anything about it is proposed. */
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	rv = raft_tcp_add_peer(d->tcp, req->host_id, ip, ntohs(sa.sin_port));
	if (rv != 0) {
		ctl_call_errorf(call, "host %u: the transport cannot add %s: %s", req->host_id, req->host_addr,
				fl_strerror(rv));
		return rv;
	}
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	rv = raft_node_add(node, req->host_id);
	if (rv != 0) {
		ctl_call_errorf(call, "Raft refused to add host %u: %s (a previous change not yet committed?)",
				req->host_id, fl_strerror(rv));
		return rv;
	}
	rv = raft_node_promote(node, req->host_id);
	fl_notice("host %u (%s, %s) added as a learner; promotion %s", req->host_id, req->host_name, req->host_addr,
		  rv == 0 ? "proposed" : rv == -FL_EAGAIN ? "once it has caught up" : fl_strerror(rv));
	return fld_wait(d, FLW_HOST_ADD, call, NULL, req->host_id, &c);
}

static int op_host_remove(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	struct raft_node *node;
	int rv = need_leader(d, call, req, &node);
	if (rv != 0)
		return rv;
	member_notice(call, "remove", req->host_id);
	if (req->host_id == d->cfg.host_id) {
		ctl_call_errorf(call, "the leader cannot remove itself; run this on another host once it leads");
		return -FL_EINVAL;
	}
	const struct fsm_host *h = fsm_host_find(arb_fsm(d->arb), req->host_id);
	if (h == NULL || h->state != FSM_HOST_JOINED) {
		ctl_call_errorf(call, "host %u is not a member", req->host_id);
		return -FL_ENOENT;
	}
	if (fsm_vms_on_host(arb_fsm(d->arb), req->host_id, NULL, 0) > 0) {
		ctl_call_errorf(call, "VMs are still placed on host %u; stop or move them first", req->host_id);
		return -FL_EBUSY;
	}
	struct fsm_cmd c = {.type = FSM_CMD_HOST_REMOVE, .host_id = req->host_id};
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	rv = raft_node_remove(node, req->host_id);
	if (rv != 0)
		fl_warn("Raft refused to remove host %u: %s", req->host_id, fl_strerror(rv));
	return fld_wait(d, FLW_HOST_REMOVE, call, NULL, req->host_id, &c);
}

static bool done_forgotten(struct fld *d, const struct fld_waiter *w)
{
	return fsm_host_find(arb_fsm(d->arb), w->host_id) == NULL;
}

/* host-forget is a command a fencelock from before it would refuse to apply
 * while this build applies it: during a rolling upgrade (a member runs
 * another version, or has announced none) it is refused. */
static int forget_versions_agree(struct fld *d, struct ctl_call *call)
{
	uint16_t lo, hi;
	const char *mine;
	arb_self_proto(d->arb, &lo, &hi, &mine);
	const struct fsm *f = arb_fsm(d->arb);
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		struct arb_peer_proto pp;
		if (h == NULL || h->state != FSM_HOST_JOINED || h->host_id == d->cfg.host_id)
			continue;
		arb_peer_proto(d->arb, h->host_id, &pp);
		if (strcmp(pp.version, mine) != 0) {
			ctl_call_errorf(call, "host %u (%s) runs fencelock %s, this host %s: forget a host once every member "
					      "runs the same version",
					h->host_id, h->name, pp.version[0] ? pp.version : "(unknown)", mine);
			return -FL_EBUSY;
		}
	}
	return 0;
}

/* A LEFT host's record goes (its row leaves hosts, status and quorum; its
 * id may be added again). Refused while it is still heard from: a removed
 * host that runs is told to stop only while its record says LEFT. */
static int op_host_forget(void *ctx, struct ctl_call *call, const struct ctl_req *req)
{
	struct fld *d = ctx;
	struct raft_node *node;
	int rv = need_leader(d, call, req, &node);
	if (rv != 0)
		return rv;
	member_notice(call, "forget", req->host_id);
	const struct fsm_host *h = fsm_host_find(arb_fsm(d->arb), req->host_id);
	if (h == NULL || h->state != FSM_HOST_LEFT) {
		ctl_call_errorf(call, "host %u is %s: only a removed (LEFT) host can be forgotten ('fencelock host remove "
				      "%u' first)",
				req->host_id, h == NULL ? "not known" : "a member", req->host_id);
		return h == NULL ? -FL_ENOENT : -FL_EBUSY;
	}
	uint64_t heard = arb_host_heard_us(d->arb, req->host_id), now = fl_now_us(d->loop);
	if (heard != 0 && now < heard + 2 * (uint64_t)d->layout.io_timeout_ms * FL_US_PER_MS) {
		ctl_call_errorf(call, "host %u (%s) still runs (heard %" PRIu64 " ms ago): it stops by itself once told "
				      "it was removed; retry when it is gone",
				req->host_id, h->name, (uint64_t)((now - heard) / FL_US_PER_MS));
		return -FL_EBUSY;
	}
	if ((rv = forget_versions_agree(d, call)) != 0)
		return rv;
	struct fsm_cmd c = {.type = FSM_CMD_HOST_FORGET, .host_id = req->host_id};
	if ((rv = fld_submit(d, call, &c)) != 0)
		return rv;
	return fld_wait_fn(d, call, NULL, req->host_id, &c, done_forgotten, "no quorum?");
}

void fld_backend(struct fld *d, struct ctl_backend *be)
{
	memset(be, 0, sizeof(*be));
	be->ctx = d;
	fld_read_backend(d, be); /* the read ops: on the control thread, from the snapshot */
	be->handlers[CTL_OP_VM_REGISTER] = op_register;
	be->handlers[CTL_OP_VM_UNREGISTER] = op_unregister;
	be->handlers[CTL_OP_VM_ACQUIRE] = op_acquire;
	be->handlers[CTL_OP_VM_RELEASE] = op_release;
	be->handlers[CTL_OP_VM_STARTED] = op_started;
	be->handlers[CTL_OP_VM_EXITED] = op_exited;
	be->handlers[CTL_OP_HOST_ADD] = op_host_add;
	be->handlers[CTL_OP_HOST_REMOVE] = op_host_remove;
	be->handlers[CTL_OP_HOST_FORGET] = op_host_forget;
	be->handlers[CTL_OP_VM_CLEAR] = op_clear;
	fld_ops_backend(d, be);
}
