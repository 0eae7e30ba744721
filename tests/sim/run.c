/* One seeded simulator run with its nemesis (see run.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arbiter.h"
#include "tests/sim/run.h"

#define S(x) ((uint64_t)(x) * FL_US_PER_S)

struct run {
	const struct simrun_params *p;
	struct simrun_result *r;
	struct simcl *c;
	struct fl_rand rand;
	uint32_t hosts, vms;
	uint64_t P, D;
	uint64_t lat_min_us, lat_max_us; /* the disk's normal latency, restored after a spike */
};

static const struct {
	const char *name;
	uint32_t bit;
} nemesis_names[] = {
	{"partition", NEM_PARTITION}, {"asym", NEM_ASYM}, {"partial", NEM_PARTIAL}, {"split", NEM_SPLIT},
	{"flap", NEM_FLAP},	      {"crash", NEM_CRASH}, {"pause", NEM_PAUSE},     {"disk", NEM_DISK},
	{"torn", NEM_TORN},	      {"drift", NEM_DRIFT}, {"move", NEM_MOVE},	      {"loss", NEM_LOSS},
	{"blip", NEM_BLIP},	      {"stall", NEM_STALL},
};

int simrun_nemesis_parse(const char *list, uint32_t *out)
{
	char buf[256];
	*out = 0;
	if (strcmp(list, "all") == 0) {
		*out = NEM_ALL;
		return 0;
	}
	if (strcmp(list, "none") == 0)
		return 0;
	if (strncmp(list, "0x", 2) == 0) {
		/* The bits as a replay line prints them. */
		char *end;
		unsigned long v = strtoul(list + 2, &end, 16);
		if (end == list + 2 || *end != '\0' || (v & ~(unsigned long)(NEM_ALL | NEM_BLIP)) != 0)
			return -1;
		*out = (uint32_t)v;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t bit = 0;
		for (size_t i = 0; i < FL_ARRAY_SIZE(nemesis_names); i++)
			if (strcmp(tok, nemesis_names[i].name) == 0)
				bit = nemesis_names[i].bit;
		if (bit == 0)
			return -1;
		*out |= bit;
	}
	if (*out == NEM_BLIP)
		*out |= NEM_PARTITION; /* "blip" alone: short partitions */
	return 0;
}

static uint64_t rnd(struct run *w, uint64_t lo, uint64_t hi) { return fl_rand_range(&w->rand, lo, hi); }

static uint32_t pick_up_host(struct run *w)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t h = (uint32_t)rnd(w, 1, w->hosts);
		if (simcl_is_up(w->c, h) && !simcl_is_paused(w->c, h))
			return h;
	}
	return 0;
}

static void sample(uint64_t *arr, uint32_t *n, uint64_t v)
{
	if (*n < SIMRUN_MAX_SAMPLES)
		arr[(*n)++] = v;
}

/* Every VM runs exactly once: the cluster is steady (no recovery of an
 * earlier fault is still under way, whose starts a new fault must not be
 * blamed for). */
static bool steady(struct run *w)
{
	for (uint32_t v = 0; v < w->vms; v++)
		if (simvm_instances(simcl_vms(w->c), v) != 1)
			return false;
	return true;
}

/* A fault whose outage is shorter than P (network) or F - 2T (storage) hit a
 * steady cluster: nothing may restart (I4). starts_before is UINT64_MAX when
 * the cluster was not steady. */
static void expect_no_restart(struct run *w, uint64_t starts_before, const char *what)
{
	if (starts_before == UINT64_MAX)
		return;
	w->r->blips++;
	uint64_t now = simvm_stats(simcl_vms(w->c))->starts;
	if (now != starts_before) {
		w->r->false_failovers += (uint32_t)(now - starts_before);
		char msg[96];
		snprintf(msg, sizeof(msg), "I4: %s restarted %" PRIu64 " VM(s)", what, now - starts_before);
		simvm_violation(simcl_vms(w->c), msg, 0, 0, 0);
	}
}

static void fault_partition(struct run *w, uint32_t kind)
{
	uint32_t h = pick_up_host(w);
	uint8_t mask[SIMCL_MAX_VMS];
	if (h == 0)
		return;
	bool short_one = (w->p->nemesis & NEM_BLIP) || rnd(w, 0, 1) == 0;
	uint64_t dur = short_one ? rnd(w, S(1), w->P - S(2)) : rnd(w, w->P + S(5), w->P + S(30));
	uint64_t starts = steady(w) ? simvm_stats(simcl_vms(w->c))->starts : UINT64_MAX;
	uint32_t had = simcl_vms_on(w->c, h, mask);
	struct simnet *net = simcl_net(w->c);
	uint64_t t0 = simcl_now(w->c);
	if (kind == NEM_ASYM) {
		bool out = rnd(w, 0, 1) == 0;
		simnet_isolate(net, h, out, !out);
	} else if (kind == NEM_SPLIT && w->hosts >= 3) {
		uint32_t group[SIMCL_MAX_HOSTS];
		for (uint32_t i = 0; i < w->hosts; i++)
			group[i] = (uint32_t)rnd(w, 0, 1);
		group[h - 1] = 1;
		simnet_split(net, group);
	} else {
		simnet_isolate(net, h, true, true);
	}
	if (!short_one && kind == NEM_PARTITION && had > 0) {
		uint64_t t = simcl_until_moved_off(w->c, h, mask, dur);
		if (t != 0)
			sample(w->r->handover_us, &w->r->n_handover, t);
	}
	uint64_t spent = simcl_now(w->c) - t0;
	if (spent < dur)
		simcl_run_for(w->c, dur - spent);
	simnet_heal(net);
	simcl_run_for(w->c, S(5));
	if (short_one && kind == NEM_PARTITION)
		expect_no_restart(w, starts, "a partition shorter than P");
}

static void fault_partial(struct run *w)
{
	uint32_t a = pick_up_host(w), b = pick_up_host(w);
	if (a == 0 || b == 0 || a == b)
		return;
	uint64_t starts = steady(w) ? simvm_stats(simcl_vms(w->c))->starts : UINT64_MAX;
	simnet_set_link(simcl_net(w->c), a, b, false);
	simnet_set_link(simcl_net(w->c), b, a, false);
	simcl_run_for(w->c, rnd(w, S(10), S(60)));
	simnet_heal(simcl_net(w->c));
	simcl_run_for(w->c, S(5));
	if (w->hosts >= 3)
		expect_no_restart(w, starts, "a partial partition shorter than P");
}

static void fault_flap(struct run *w)
{
	uint32_t h = pick_up_host(w);
	if (h == 0)
		return;
	uint64_t starts = steady(w) ? simvm_stats(simcl_vms(w->c))->starts : UINT64_MAX;
	uint64_t down_max = FL_MIN(S(3), w->P / 3);
	for (int i = 0; i < 8; i++) {
		simnet_isolate(simcl_net(w->c), h, true, true);
		simcl_run_for(w->c, rnd(w, S(1) / 2, down_max));
		simnet_heal(simcl_net(w->c));
		/* Up long enough to be heard again: outages stay shorter than P. */
		simcl_run_for(w->c, rnd(w, S(2), S(4)));
	}
	simcl_run_for(w->c, S(5));
	expect_no_restart(w, starts, "a flapping link (outages shorter than P)");
}

static void fault_crash(struct run *w)
{
	uint32_t h = pick_up_host(w);
	uint8_t mask[SIMCL_MAX_VMS];
	if (h == 0)
		return;
	uint32_t had = simcl_vms_on(w->c, h, mask);
	simcl_crash(w->c, h);
	if (had > 0) {
		uint64_t t = simcl_until_moved_off(w->c, h, mask, S(60));
		if (t != 0) {
			sample(w->r->failover_us, &w->r->n_failover, t);
		} else {
			/* One host down, everything else healthy: the rest (with
			 * the disk voter when the host count is even) is a
			 * majority and must recover its VMs within a bound. */
			char msg[96];
			snprintf(msg, sizeof(msg), "I3: VMs of crashed host %u not running elsewhere within 60 s", h);
			simvm_violation(simcl_vms(w->c), msg, 0, h, 0);
		}
	}
	simcl_run_for(w->c, rnd(w, 0, S(20)));
	simcl_restart(w->c, h);
}

static void fault_pause(struct run *w)
{
	uint32_t h = pick_up_host(w);
	if (h == 0)
		return;
	simcl_pause(w->c, h);
	simcl_run_for(w->c, rnd(w, S(1), 2 * w->D));
	simcl_resume(w->c, h);
}

static void fault_disk(struct run *w, bool torn)
{
	uint32_t h = pick_up_host(w);
	struct fl_simbdev_faults *f = h ? simcl_disk_faults(w->c, h) : NULL;
	if (f == NULL)
		return;
	uint64_t F = 4 * (uint64_t)w->p->cl.io_timeout_ms * FL_US_PER_MS;
	if (torn) {
		f->torn_permille = (uint32_t)rnd(w, 100, 500);
	} else if (rnd(w, 0, 1) == 0) {
		f->stalled = true;
	} else {
		f->error_permille = (uint32_t)rnd(w, 50, 500);
	}
	simcl_run_for(w->c, rnd(w, S(1) / 2, 2 * F));
	f = simcl_disk_faults(w->c, h);
	if (f != NULL) {
		f->torn_permille = 0;
		f->error_permille = 0;
		simcl_disk_unstall(w->c, h);
	}
}

/* Storage that stops answering, or answers slowly, for less than F: on one
 * host (its path) or on every host at once (the array), from a steady
 * cluster. Every renewal that falls into a stall waits until its I/O
 * deadline T or the stall's end; the lease, valid F from the start of the
 * last good renewal, must outlive the stall, so nothing may restart (I4).
 * A stall is drawn from T/10 to F - 2T (a renewal can have started up to
 * R = T before the stall and its retry comes up to T/4 after it ends,
 * doc: docs/design.md, "Time"); a latency spike makes every I/O take up to
 * T for up to F - 2T. */
static void fault_stall(struct run *w)
{
	uint64_t T = (uint64_t)w->p->cl.io_timeout_ms * FL_US_PER_MS;
	uint64_t F = 4 * T;
	bool all = rnd(w, 0, 1) == 0, spike = rnd(w, 0, 2) == 0;
	uint32_t h0 = pick_up_host(w);
	if (h0 == 0)
		return;
	uint64_t starts = steady(w) ? simvm_stats(simcl_vms(w->c))->starts : UINT64_MAX;
	uint64_t dur = rnd(w, T / 10, F - 2 * T);
	for (uint32_t h = all ? 1 : h0; h <= (all ? w->hosts : h0); h++) {
		struct fl_simbdev_faults *f = simcl_disk_faults(w->c, h);
		if (f == NULL)
			continue;
		if (spike) {
			f->latency_min_us = T / 4;
			f->latency_max_us = T - T / 8;
		} else {
			f->stalled = true;
		}
	}
	simcl_run_for(w->c, dur);
	for (uint32_t h = 1; h <= w->hosts; h++) {
		struct fl_simbdev_faults *f = simcl_disk_faults(w->c, h);
		if (f == NULL)
			continue;
		f->latency_min_us = w->lat_min_us;
		f->latency_max_us = w->lat_max_us;
		simcl_disk_unstall(w->c, h);
	}
	simcl_run_for(w->c, rnd(w, S(2), S(5)));
	expect_no_restart(w, starts, spike ? "a storage latency spike shorter than F - 2T" : "a storage stall shorter than F - 2T");
}

static void fault_move(struct run *w)
{
	uint32_t v = (uint32_t)rnd(w, 0, w->vms - 1), to = pick_up_host(w);
	uint32_t leader = simcl_leader(w->c);
	struct arb *a = leader ? simcl_arb(w->c, leader) : NULL;
	char uid[16];
	snprintf(uid, sizeof(uid), "vm%u", v);
	uint32_t idx;
	const struct fsm_vm *vm = a ? fsm_vm_find(arb_fsm(a), uid, &idx) : NULL;
	if (vm == NULL || to == 0 || vm->desired_host == to)
		return;
	struct fsm_cmd cmd = {.type = FSM_CMD_VM_PLACE, .host_id = to, .incarnation = vm->incarnation};
	snprintf(cmd.uid, sizeof(cmd.uid), "%s", uid);
	if (arb_submit(a, &cmd) != 0)
		return; /* the leader is changing: no move this time */
	simcl_run_for(w->c, S(10));
}

/* ---- VM churn and memory accounting ---- */

/* One VM moved to another host at once (no wait: the next move may find it
 * still moving, and is then refused like an operator's stale request). */
static void churn_move(struct run *w)
{
	uint32_t v = (uint32_t)rnd(w, 0, w->vms - 1), to = pick_up_host(w);
	uint32_t leader = simcl_leader(w->c);
	struct arb *a = leader ? simcl_arb(w->c, leader) : NULL;
	char uid[16];
	uint32_t idx;
	snprintf(uid, sizeof(uid), "vm%u", v);
	const struct fsm_vm *vm = a ? fsm_vm_find(arb_fsm(a), uid, &idx) : NULL;
	if (vm == NULL || to == 0 || vm->desired_host == to)
		return;
	struct fsm_cmd cmd = {.type = FSM_CMD_VM_PLACE, .host_id = to, .incarnation = vm->incarnation};
	snprintf(cmd.uid, sizeof(cmd.uid), "%s", uid);
	if (arb_submit(a, &cmd) == 0)
		w->r->churn_moves++;
}

/* Samples every host into the half of the run `half` (0 or 1); a host seen
 * down is left out of the check (a restart starts its memory anew). */
static void churn_sample(struct run *w, uint32_t half, bool *was_down)
{
	for (uint32_t h = 1; h <= w->hosts; h++) {
		struct arb *a = simcl_arb(w->c, h);
		if (a == NULL || !simcl_is_up(w->c, h)) {
			was_down[h] = true;
			continue;
		}
		struct arb_mem m;
		arb_mem_usage(a, &m);
		uint64_t mem = m.total, disk = simcl_disk_bytes(w->c, h);
		FL_ASSERT(m.total >= m.variable);
		w->r->mem_max[half][h] = FL_MAX(w->r->mem_max[half][h], mem);
		w->r->disk_max[half][h] = FL_MAX(w->r->disk_max[half][h], disk);
		w->r->reg_max[half][h] = FL_MAX(w->r->reg_max[half][h], m.fsm_vms);
		w->r->var_max[half][h] = FL_MAX(w->r->var_max[half][h], m.variable);
		uint64_t fixed = m.total - m.variable;
		w->r->fixed_lo[h] = w->r->fixed_lo[h] == 0 ? fixed : FL_MIN(w->r->fixed_lo[h], fixed);
		w->r->fixed_hi[h] = FL_MAX(w->r->fixed_hi[h], fixed);
	}
}

static bool grows(uint64_t first, uint64_t second) { return second > first + first / 8 + 4096; }

/* The levelling-off check at the end of a churn run. */
static void churn_check(struct run *w, const bool *was_down)
{
	char what[96];
	for (uint32_t h = 1; h <= w->hosts; h++) {
		uint64_t *m0 = &w->r->mem_max[0][h], *m1 = &w->r->mem_max[1][h];
		uint64_t *d0 = &w->r->disk_max[0][h], *d1 = &w->r->disk_max[1][h];
		uint32_t *r0 = &w->r->reg_max[0][h], *r1 = &w->r->reg_max[1][h];
		if (was_down[h]) {
			*m0 = *m1 = *d0 = *d1 = 0;
			*r0 = *r1 = 0;
			continue;
		}
		bool var_grows = grows(w->r->var_max[0][h], w->r->var_max[1][h]);
		if (var_grows || grows(*d0, *d1) || *r1 > *r0 || w->r->fixed_hi[h] != w->r->fixed_lo[h]) {
			snprintf(what, sizeof(what), "host memory grows under churn: %" PRIu64 "->%" PRIu64 " B, disk %" PRIu64
				 "->%" PRIu64 " B, registry %u->%u VMs", *m0, *m1, *d0, *d1, *r0, *r1);
			simvm_violation(simcl_vms(w->c), what, 0, h, h);
		}
	}
}

/* Moves leadership: pauses the leader for 3 io_timeouts (longer than the
 * election timeout T, shorter than P, so it is a blip that restarts nothing)
 * and resumes it. */
static void churn_move_leader(struct run *w)
{
	uint32_t l = simcl_leader(w->c);
	if (l == 0)
		return;
	simcl_pause(w->c, l);
	simcl_run_for(w->c, 3 * (uint64_t)w->p->cl.io_timeout_ms * FL_US_PER_MS);
	w->r->churn_leaders[0] = l;
	w->r->churn_leaders[1] = simcl_leader(w->c);
	simcl_resume(w->c, l);
	w->r->faults++;
}

/* The run's body under churn (the nemesis does not run: its checks expect
 * VMs to stay where they are): a move every churn_us, leadership moved once
 * in the first half, memory sampled after every step. */
static void churn_run(struct run *w, uint64_t end)
{
	bool was_down[SIMCL_MAX_HOSTS + 1] = {false}, moved = false;
	uint64_t start = simcl_now(w->c), half = start + (end - start) / 2;
	while (simcl_now(w->c) < end) {
		simcl_run_for(w->c, w->p->churn_us);
		churn_move(w);
		if (!moved && simcl_now(w->c) >= start + (end - start) / 4) {
			churn_move_leader(w);
			moved = true;
		}
		churn_sample(w, simcl_now(w->c) >= half, was_down);
	}
	churn_check(w, was_down);
}

static void fault_loss(struct run *w)
{
	struct simnet_params *np = simnet_params(simcl_net(w->c));
	np->loss_permille = (uint32_t)rnd(w, 20, 300);
	np->dup_permille = (uint32_t)rnd(w, 0, 100);
	simcl_run_for(w->c, rnd(w, S(10), S(60)));
	np->loss_permille = 0;
	np->dup_permille = 0;
}

static void one_fault(struct run *w)
{
	uint32_t kinds[16], n = 0;
	for (uint32_t bit = 1; bit < NEM_BLIP; bit <<= 1)
		if (w->p->nemesis & bit)
			kinds[n++] = bit;
	if (w->p->nemesis & NEM_STALL)
		kinds[n++] = NEM_STALL;
	if (n == 0)
		return;
	uint32_t k = kinds[rnd(w, 0, n - 1)];
	w->r->faults++;
	switch (k) {
	case NEM_PARTITION: case NEM_ASYM: case NEM_SPLIT: fault_partition(w, k); break;
	case NEM_PARTIAL: fault_partial(w); break;
	case NEM_FLAP: fault_flap(w); break;
	case NEM_CRASH: fault_crash(w); break;
	case NEM_PAUSE: fault_pause(w); break;
	case NEM_DISK: fault_disk(w, false); break;
	case NEM_TORN: fault_disk(w, true); break;
	case NEM_DRIFT: {
		uint32_t h = pick_up_host(w);
		int32_t m = w->p->cl.max_drift_ppm;
		if (h && m > 0)
			simcl_set_drift(w->c, h, (int32_t)rnd(w, 0, 2 * (uint64_t)m) - m);
		break;
	}
	case NEM_MOVE: fault_move(w); break;
	case NEM_LOSS: fault_loss(w); break;
	case NEM_STALL: fault_stall(w); break;
	default: break;
	}
}

static void heal_all(struct run *w)
{
	simnet_heal(simcl_net(w->c));
	struct simnet_params *np = simnet_params(simcl_net(w->c));
	np->loss_permille = np->dup_permille = 0;
	for (uint32_t h = 1; h <= w->hosts; h++) {
		if (!simcl_is_up(w->c, h))
			simcl_restart(w->c, h);
		simcl_resume(w->c, h);
		struct fl_simbdev_faults *f = simcl_disk_faults(w->c, h);
		if (f) {
			f->torn_permille = f->error_permille = 0;
			simcl_disk_unstall(w->c, h);
		}
	}
}

static void check_i3(struct run *w)
{
	for (uint32_t v = 0; v < w->vms; v++) {
		uint32_t n = simvm_instances(simcl_vms(w->c), v);
		if (n != 1) {
			char msg[96];
			snprintf(msg, sizeof(msg), "I3: after healing, vm%u runs %u times", v, n);
			simvm_violation(simcl_vms(w->c), msg, v, 0, 0);
		}
	}
}

static struct simcl *trace_cluster;

static void trace_sink(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	fprintf(stderr, "[%9.3f] %s\n", trace_cluster ? (double)simcl_now(trace_cluster) / 1e6 : 0.0, msg);
}

/* In trace mode: one line per host with what its arbiter believes. */
static void trace_hosts(struct run *w, const char *when)
{
	if (!w->p->trace)
		return;
	fl_log(LOG_INFO, "---- %s", when);
	for (uint32_t h = 1; h <= w->hosts; h++) {
		struct arb *a = simcl_arb(w->c, h);
		struct arb_status st;
		if (a == NULL) {
			fl_log(LOG_INFO, "  host %u down", h);
			continue;
		}
		arb_status(a, &st);
		char view[256] = "";
		size_t off = 0;
		for (uint32_t o = 1; o <= w->hosts && off < sizeof(view) - 32; o++) {
			struct arb_host_view hv;
			if (o != h && arb_host_view(a, o, &hv))
				off += (size_t)snprintf(view + off, sizeof(view) - off, " h%u=%s", o,
							cls_state_name((enum cls_state)hv.state));
		}
		fl_log(LOG_INFO, "  host %u%s quorate=%d lease=%d fenced=%d leader=%" PRIu64 " term=%" PRIu64
			   " commit=%" PRIu64 " vms=%u%s", h, simcl_is_paused(w->c, h) ? " (paused)" : "", st.quorate,
		       st.lease_valid, st.fenced, st.leader, st.term, st.commit, st.vms_running, view);
	}
}

static void collect(struct run *w)
{
	const struct simvm_violation *v;
	struct simrun_result *r = w->r;
	r->violations = simcl_violations(w->c, &v);
	for (uint32_t i = 0; i < r->violations; i++)
		r->split_brain += strncmp(v[i].what, "I1", 2) == 0;
	if (r->violations > 0) {
		snprintf(r->first_violation, sizeof(r->first_violation), "%s (vm %u, hosts %u/%u)", v[0].what,
			 v[0].vm, v[0].host_running, v[0].host_starting);
		r->first_violation_us = v[0].at_us;
	}
	r->starts = simvm_stats(simcl_vms(w->c))->starts;
	r->sim_us = simcl_now(w->c);
}

int simrun_one(const struct simrun_params *p, struct simrun_result *r)
{
	struct run w = {.p = p, .r = r, .hosts = p->cl.hosts, .vms = p->cl.vms, .P = p->cl.p_us,
			.D = 6 * (uint64_t)p->cl.io_timeout_ms * FL_US_PER_MS};
	memset(r, 0, sizeof(*r));
	r->seed = p->cl.seed;
	fl_rand_seed(&w.rand, p->cl.seed ^ 0x6e656d65736973ull);
	w.c = simcl_new(&p->cl);
	if (p->trace) {
		trace_cluster = w.c;
		fl_log_set_sink(trace_sink, NULL);
		fl_log_set_level(LOG_INFO);
	}
	simcl_start_all(w.c);
	struct fl_simbdev_faults *f1 = simcl_disk_faults(w.c, 1);
	FL_ASSERT(f1 != NULL);
	w.lat_min_us = f1->latency_min_us;
	w.lat_max_us = f1->latency_max_us;
	r->formed = simcl_register_vms(w.c, S(60)) && simcl_wait_all_running(w.c, S(60));
	if (!r->formed)
		simvm_violation(simcl_vms(w.c), "cluster did not form and run every VM within 120 s", 0, 0, 0);
	uint64_t end = simcl_now(w.c) + p->duration_us;
	if (r->formed && p->churn_us > 0)
		churn_run(&w, end);
	while (r->formed && p->churn_us == 0 && simcl_now(w.c) < end) {
		simcl_run_for(w.c, rnd(&w, S(5), S(20)));
		one_fault(&w);
		trace_hosts(&w, "after a fault");
	}
	heal_all(&w);
	simcl_run_for(w.c, 2 * w.P + S(120));
	trace_hosts(&w, "healed and settled");
	check_i3(&w);
	collect(&w);
	if (p->trace) {
		fl_log_set_sink(NULL, NULL);
		trace_cluster = NULL;
	}
	simcl_free(w.c);
	return r->violations ? -1 : 0;
}
