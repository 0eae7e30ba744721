/* A whole cluster on simulated time (see cluster.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arbiter.h"
#include "raft/node.h"
#include "tests/sim/cluster.h"

_Static_assert(SIMCL_MAX_HOSTS <= ARB_MAX_HOSTS, "the simulator runs clusters the arbiter accepts");
_Static_assert(SIMCL_MAX_HOSTS <= SIMNET_MAX_HOSTS, "the network has a link per host pair");
_Static_assert(SIMCL_MAX_HOSTS <= SIMVM_MAX_HOSTS, "the VM model has a row per host");

#define SIMCL_MAX_APPLIED (1u << 20)

struct simhost;

/* A death reported by the VM model, delivered on the host's own clock (a
 * paused daemon learns of it when it runs again). */
struct simcl_death {
	struct fl_timer t;
	struct simhost *h;
	uint32_t vm;
	uint64_t incarnation;
	struct simcl_death *next, *prev;
};

struct simhost {
	struct simcl *c;
	uint32_t id;
	struct fl_simclock clock;    /* the daemon's clock: paused by SIGSTOP */
	struct fl_simclock kclock;   /* the kernel's: runs the VM guards */
	struct fl_simbdev *bdev;
	struct raft_mem_disk *rdisk;
	struct raft_transport tx;
	struct arb *arb;
	bool up, paused;
	uint32_t vm_table;           /* its FSM's VM table at the next boot; 0: SIMCL_VM_TABLE */
	uint32_t max_vms;            /* its [host] max_vms at the next boot; 0: no limit */
	struct simcl_death *deaths;
};

struct applied_rec {
	uint64_t term;
	uint32_t crc;
	bool set;
	bool ev_set;       /* a host's event history at this FSM index was seen: */
	uint64_t ev_total; /* its length */
	uint32_t ev_crc;   /* and a digest of its newest event */
};

#define SIMCL_MAX_TERMS 65536u

struct simcl {
	struct simcl_params p;
	uint32_t initial;                  /* hosts in the bootstrap configuration */
	struct fl_simclock checker_clock;  /* never paused: runs the checks */
	struct fl_timer checker;
	uint32_t *term_leader;             /* I2 election safety: leader seen per term */
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct lay_layout layout;
	struct simnet *net;
	struct simvm_world *vms;
	struct simhost hosts[SIMCL_MAX_HOSTS + 1];
	struct raft_config boot;
	struct applied_rec *applied;
	uint64_t max_applied;
};

/* ---- transport over simnet ---- */

static int simhost_send(struct raft_transport *t, uint64_t to, const void *payload, uint32_t len)
{
	struct simhost *h = (struct simhost *)((char *)t - offsetof(struct simhost, tx));
	if (to == 0 || to > h->c->p.hosts)
		return -FL_ENOENT;
	simnet_send(h->c->net, h->id, (uint32_t)to, payload, len);
	return 0;
}

static const struct raft_transport_ops simhost_tx_ops = {.send = simhost_send};

static void simcl_deliver(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, uint32_t len)
{
	struct simcl *c = ctx;
	struct simhost *h = &c->hosts[to];
	if (h->up && h->arb)
		arb_receive(h->arb, from, buf, len);
}

/* ---- VM runtime seam ---- */

static uint32_t vol_id(const char *path)
{
	const char *p = strrchr(path, '/');
	return (uint32_t)strtoul(p ? p + 1 : path, NULL, 10);
}

static int simhost_vm_start(void *ctx, uint32_t vm_idx, const struct fsm_vm *vm, uint64_t incarnation)
{
	struct simhost *h = ctx;
	uint32_t vols[SIMVM_MAX_VOLS_PER_VM], n = 0;
	for (uint32_t v = 0; v < vm->nvol && n < SIMVM_MAX_VOLS_PER_VM; v++)
		if (!vm->vol[v].ro)
			vols[n++] = vol_id(vm->vol[v].path);
	if (vm_idx >= SIMVM_MAX_VMS || n == 0)
		return -FL_EINVAL;
	if (vm_idx == 0 && h->id < 32 && (h->c->p.start_fail_hosts & (1u << h->id)))
		return -FL_EIO;
	simvm_define(h->c->vms, vm_idx, vols, n);
	return simvm_start(h->c->vms, h->id, vm_idx, incarnation) ? 0 : -FL_EBUSY;
}

static void simhost_vm_kill(void *ctx, uint32_t vm_idx, uint64_t incarnation, uint64_t deadline_us)
{
	struct simhost *h = ctx;
	uint64_t now = fl_now_us(&h->clock.base);
	(void)incarnation;
	simvm_kill(h->c->vms, h->id, vm_idx, deadline_us > now ? deadline_us - now : 0);
}

static void simhost_vm_guard(void *ctx, uint64_t deadline_us, uint64_t grace_us)
{
	struct simhost *h = ctx;
	simvm_guard_set(h->c->vms, h->id, deadline_us, grace_us);
}

static void death_fire(struct fl_timer *t, void *arg)
{
	struct simcl_death *d = arg;
	struct simhost *h = d->h;
	(void)t;
	if (d->prev)
		d->prev->next = d->next;
	else
		h->deaths = d->next;
	if (d->next)
		d->next->prev = d->prev;
	if (h->up && h->arb)
		arb_vm_exited(h->arb, d->vm, d->incarnation);
	free(d);
}

static void simcl_vm_died(void *ctx, uint32_t host, uint32_t vm, uint64_t incarnation)
{
	struct simcl *c = ctx;
	struct simhost *h = &c->hosts[host];
	if (!h->up)
		return;
	struct simcl_death *d = calloc(1, sizeof(*d));
	FL_ASSERT(d != NULL);
	d->h = h;
	d->vm = vm;
	d->incarnation = incarnation;
	d->next = h->deaths;
	if (h->deaths)
		h->deaths->prev = d;
	h->deaths = d;
	fl_timer_init(&d->t, death_fire, d);
	fl_timer_after(&h->clock.base, &d->t, 0);
}

static void simhost_drop_deaths(struct simhost *h)
{
	while (h->deaths) {
		struct simcl_death *d = h->deaths;
		h->deaths = d->next;
		fl_timer_cancel(&h->clock.base, &d->t);
		free(d);
	}
}

/* ---- I2 / I5: every host applies the same entry at every index ---- */

static void simcl_applied(void *ctx, uint64_t host_id, const struct raft_entry *e)
{
	struct simcl *c = ctx;
	if (e->index >= SIMCL_MAX_APPLIED)
		return;
	uint32_t crc = fl_crc32c_std(e->data, e->len) ^ e->type;
	struct applied_rec *r = &c->applied[e->index];
	if (!r->set) {
		*r = (struct applied_rec){.term = e->term, .crc = crc, .set = true};
		c->max_applied = FL_MAX(c->max_applied, e->index);
		return;
	}
	if (r->term != e->term || r->crc != crc) {
		char what[96];
		snprintf(what, sizeof(what), "I2/I5: host applied a different entry at index %" PRIu64, e->index);
		simvm_violation(c->vms, what, 0, 0, (uint32_t)host_id);
	}
}

/* ---- I5: hosts at the same FSM index hold the same event history ---- */

static uint32_t event_digest(const struct fsm *f)
{
	const struct fsm_event *e = f->ev_total ? fsm_event_get(f, f->ev_total - 1) : NULL;
	if (e == NULL)
		return 0;
	uint64_t v[6] = {e->seq, e->index, e->term, e->wall_us, e->value,
			 (uint64_t)e->host_id << 32 | e->from_host};
	uint32_t w[5] = {e->leader, e->by_host, e->by_uid, e->by_op, (uint32_t)e->kind << 16 | (uint32_t)e->state << 8 | e->cause};
	uint32_t crc = fl_crc32c_std(v, sizeof(v)) ^ fl_crc32c_std(w, sizeof(w));
	return crc ^ fl_crc32c_std(e->uid, strlen(e->uid));
}

static void simcl_check_events(struct simcl *c, const struct simhost *h)
{
	const struct fsm *f = arb_fsm(h->arb);
	if (f->last_index >= SIMCL_MAX_APPLIED)
		return;
	struct applied_rec *r = &c->applied[f->last_index];
	uint32_t crc = event_digest(f);
	if (!r->ev_set) {
		r->ev_set = true;
		r->ev_total = f->ev_total;
		r->ev_crc = crc;
	} else if (r->ev_total != f->ev_total || r->ev_crc != crc) {
		simvm_violation(c->vms, "I5: a different event history at the same applied index", 0, 0, h->id);
	}
}

/* ---- I2: at most one leader per term, sampled every 10 ms ---- */

static void simcl_check_fn(struct fl_timer *t, void *arg)
{
	struct simcl *c = arg;
	for (uint32_t i = 1; i <= c->p.hosts; i++) {
		struct simhost *h = &c->hosts[i];
		if (!h->up || h->arb == NULL)
			continue;
		simcl_check_events(c, h);
		/* The host's own node, and the disk voter if it serves it. */
		struct raft_node *nodes[2] = {arb_raft(h->arb), arb_witness_raft(h->arb)};
		for (int k = 0; k < 2; k++) {
			struct raft *r = nodes[k] ? raft_node_core(nodes[k]) : NULL;
			if (r == NULL || raft_state(r) != RAFT_LEADER || raft_term(r) >= SIMCL_MAX_TERMS)
				continue;
			uint32_t id = (uint32_t)raft_id(r);
			uint32_t *l = &c->term_leader[raft_term(r)];
			if (*l == 0)
				*l = id;
			else if (*l != id)
				simvm_violation(c->vms, "I2: two leaders in one term", 0, *l, id);
		}
	}
	fl_timer_after(&c->checker_clock.base, t, 10 * FL_US_PER_MS);
}

/* ---- hosts ---- */

static void simhost_boot(struct simcl *c, struct simhost *h)
{
	struct arb_config cfg;
	uint64_t T = (uint64_t)c->p.io_timeout_ms * FL_US_PER_MS;
	arb_config_defaults(&cfg, h->id, c->p.p_us);
	snprintf(cfg.host_name, sizeof(cfg.host_name), "h%u", h->id);
	cfg.loop = &h->clock.base;
	cfg.bdev = fl_simbdev_bdev(h->bdev);
	cfg.layout = c->layout;
	cfg.seed = fl_rand_next(&c->sim.rand);
	cfg.raft.seed = cfg.seed;
	arb_raft_timing(&cfg, T);
	cfg.transport = &h->tx;
	cfg.bootstrap = h->id <= c->initial ? &c->boot : NULL;
	cfg.vm = (struct arb_vm_ops){.start = simhost_vm_start, .kill = simhost_vm_kill,
				     .guard = simhost_vm_guard, .ctx = h};
	/* Tables for the VMs a simulated cluster registers, not the daemon's
	 * 10,240: a 128-host run holds 256 arbiters in one process. */
	cfg.limits.max_vms = h->vm_table != 0 ? h->vm_table : SIMCL_VM_TABLE;
	cfg.max_vms = h->max_vms;
	cfg.limits.spec_max_bytes = SIMCL_SPEC_MAX;
	cfg.snapshot_every = c->p.snapshot_every;
	cfg.voters = c->p.voters;
	if (c->p.snapshot_trailing)
		cfg.raft.snapshot_trailing = c->p.snapshot_trailing;
	cfg.applied = simcl_applied;
	cfg.applied_ctx = c;
	struct raft_logstore_mem_opts mo = {.latency_us = 200, .queue_max = 512};
	FL_ASSERT(raft_logstore_mem_open(&h->clock.base, h->rdisk, &mo, &cfg.store) == 0);
	FL_ASSERT(arb_new(&cfg, &h->arb) == 0);
	FL_ASSERT(arb_start(h->arb) == 0);
	h->up = true;
}

static void simhost_open_disk(struct simcl *c, struct simhost *h)
{
	char name[32];
	snprintf(name, sizeof(name), "sim-h%u", h->id);
	h->bdev = fl_simbdev_new(&c->disk, &h->clock.base, name, fl_rand_next(&c->sim.rand));
	FL_ASSERT(h->bdev != NULL);
	fl_simbdev_bdev(h->bdev)->default_timeout_us = (uint64_t)c->p.io_timeout_ms * FL_US_PER_MS;
}

static void simcl_format(struct simcl *c)
{
	struct lay_params lp = {.cluster = "simcl", .io_timeout_ms = c->p.io_timeout_ms, .max_hosts = c->p.hosts,
				.volume_slots = c->p.vms + 4, .sector_size = 512};
	char err[256];
	memset(lp.uuid, 0x5a, sizeof(lp.uuid));
	FL_ASSERT(lay_compute(&lp, &c->layout, err, sizeof(err)) == 0);
	FL_ASSERT(fl_simdisk_init(&c->disk, &c->sim, c->layout.total_bytes, 512) == 0);
	struct fl_simclock fclock;
	fl_simclock_init(&fclock, &c->sim, 0, 0);
	struct fl_simbdev *fb = fl_simbdev_new(&c->disk, &fclock.base, "format", 1);
	FL_ASSERT(lay_format_sync(fl_simbdev_bdev(fb), &c->layout, false, err, sizeof(err)) == 0);
	fl_bdev_close(fl_simbdev_bdev(fb));
	fl_simclock_free(&fclock);
}

struct simcl *simcl_new(const struct simcl_params *p)
{
	FL_ASSERT(p->hosts >= 1);
	FL_ASSERT(p->hosts <= SIMCL_MAX_HOSTS);
	FL_ASSERT(p->vms <= SIMCL_MAX_VMS);
	struct simcl *c = calloc(1, sizeof(*c));
	FL_ASSERT(c != NULL);
	c->p = *p;
	c->applied = calloc(SIMCL_MAX_APPLIED, sizeof(*c->applied));
	c->term_leader = calloc(SIMCL_MAX_TERMS, sizeof(*c->term_leader));
	FL_ASSERT(c->applied != NULL);
	FL_ASSERT(c->term_leader != NULL);
	FL_ASSERT(fl_sim_init(&c->sim, p->seed) == 0);
	fl_simclock_init(&c->checker_clock, &c->sim, 0, 0);
	fl_timer_init(&c->checker, simcl_check_fn, c);
	fl_timer_after(&c->checker_clock.base, &c->checker, 10 * FL_US_PER_MS);
	simcl_format(c);
	struct fl_simclock *clocks[SIMCL_MAX_HOSTS];
	c->initial = p->initial_hosts ? p->initial_hosts : p->hosts;
	uint32_t boot_ids[SIMCL_MAX_HOSTS];
	for (uint32_t i = 1; i <= p->hosts; i++) {
		struct simhost *h = &c->hosts[i];
		int32_t drift = p->max_drift_ppm
					? (int32_t)fl_rand_range(&c->sim.rand, 0, 2 * (uint64_t)p->max_drift_ppm) -
						  p->max_drift_ppm
					: 0;
		uint64_t start = fl_rand_range(&c->sim.rand, 1, 1000) * FL_US_PER_S;
		h->c = c;
		h->id = i;
		fl_simclock_init(&h->clock, &c->sim, start, drift);
		fl_simclock_init(&h->kclock, &c->sim, start, drift);
		if (p->jitter_us > 0) {
			/* Drawn from their own generators: the run's other draws
			 * stay what they are without jitter. */
			fl_simclock_set_jitter(&h->clock, p->jitter_us, p->seed ^ (0x6a6974746572ull + 2 * i));
			fl_simclock_set_jitter(&h->kclock, p->jitter_us, p->seed ^ (0x6a6974746572ull + 2 * i + 1));
		}
		h->tx.ops = &simhost_tx_ops;
		h->rdisk = raft_mem_disk_new();
		clocks[i - 1] = &h->clock;
		if (i <= c->initial)
			boot_ids[i - 1] = i;
	}
	/* The daemon's bootstrap: the lowest ARB_VOTERS_MAX hosts vote (the disk
	 * voter makes an even number of them odd), the others are learners. */
	int brv = arb_bootstrap_config(boot_ids, c->initial, &c->boot);
	FL_ASSERT(brv == 0);
	c->net = simnet_new(&c->sim, p->hosts, clocks, fl_rand_next(&c->sim.rand), simcl_deliver, c);
	c->vms = simvm_new(&c->sim, p->hosts, fl_rand_next(&c->sim.rand));
	simvm_set_died_cb(c->vms, simcl_vm_died, c);
	for (uint32_t i = 1; i <= p->hosts; i++)
		simvm_set_kernel_clock(c->vms, i, &c->hosts[i].kclock);
	return c;
}

void simcl_free(struct simcl *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 1; i <= c->p.hosts; i++) {
		struct simhost *h = &c->hosts[i];
		simhost_drop_deaths(h);
		/* The device first: it cancels I/O whose fl_io lives in the arbiter. */
		if (h->bdev)
			fl_bdev_close(fl_simbdev_bdev(h->bdev));
		arb_free(h->arb);
		raft_mem_disk_free(h->rdisk);
	}
	fl_timer_cancel(&c->checker_clock.base, &c->checker);
	fl_simclock_free(&c->checker_clock);
	simvm_free(c->vms);
	simnet_free(c->net);
	for (uint32_t i = 1; i <= c->p.hosts; i++) {
		fl_simclock_free(&c->hosts[i].clock);
		fl_simclock_free(&c->hosts[i].kclock);
	}
	fl_simdisk_free(&c->disk);
	fl_sim_free(&c->sim);
	free(c->applied);
	free(c->term_leader);
	free(c);
}

struct fl_sim *simcl_sim(struct simcl *c) { return &c->sim; }
struct simnet *simcl_net(struct simcl *c) { return c->net; }
struct simvm_world *simcl_vms(struct simcl *c) { return c->vms; }
const struct lay_layout *simcl_layout(const struct simcl *c) { return &c->layout; }
uint64_t simcl_now(const struct simcl *c) { return c->sim.now_us; }
uint64_t simcl_disk_bytes(const struct simcl *c, uint32_t h)
{
	return c->hosts[h].rdisk ? raft_mem_disk_bytes(c->hosts[h].rdisk) : 0;
}

void simcl_start_all(struct simcl *c)
{
	for (uint32_t i = 1; i <= c->initial; i++) {
		simhost_open_disk(c, &c->hosts[i]);
		simhost_boot(c, &c->hosts[i]);
	}
}

void simcl_run_for(struct simcl *c, uint64_t us) { fl_sim_run_until(&c->sim, c->sim.now_us + us); }

uint32_t simcl_leader(const struct simcl *c)
{
	for (uint32_t i = 1; i <= c->p.hosts; i++) {
		const struct simhost *h = &c->hosts[i];
		if (!h->up || h->paused || h->arb == NULL)
			continue;
		struct arb_status st;
		arb_status(h->arb, &st);
		if (st.leader == i && st.quorate)
			return i;
	}
	return 0;
}

bool simcl_register_vms(struct simcl *c, uint64_t within_us)
{
	uint64_t end = c->sim.now_us + within_us;
	uint32_t leader = 0;
	while (c->sim.now_us < end && (leader = simcl_leader(c)) == 0)
		simcl_run_for(c, 100 * FL_US_PER_MS);
	if (leader == 0)
		return false;
	for (uint32_t v = 0; v < c->p.vms; v++) {
		struct fsm_cmd cmd = {.type = FSM_CMD_VM_REGISTER, .restart = FSM_RESTART_ALWAYS, .nvol = 1};
		snprintf(cmd.uid, sizeof(cmd.uid), "vm%u", v);
		snprintf(cmd.vol[0].path, sizeof(cmd.vol[0].path), "/vol/%u", v + 1);
		snprintf(cmd.vol[0].id, sizeof(cmd.vol[0].id), "id:vol-%u", v + 1);
		if (arb_submit(c->hosts[leader].arb, &cmd) != 0)
			return false;
	}
	return true;
}

uint32_t simcl_vm_host(const struct simcl *c, uint32_t vm)
{
	for (uint32_t h = 1; h <= c->p.hosts; h++)
		if (simvm_running(c->vms, h, vm))
			return h;
	return 0;
}

uint32_t simcl_vms_on(const struct simcl *c, uint32_t h, uint8_t *mask)
{
	uint32_t n = 0;
	for (uint32_t v = 0; v < c->p.vms; v++) {
		bool on = simvm_running(c->vms, h, v);
		if (mask)
			mask[v] = on;
		n += on;
	}
	return n;
}

uint64_t simcl_until_moved_off(struct simcl *c, uint32_t h, const uint8_t *mask, uint64_t within_us)
{
	uint64_t t0 = c->sim.now_us;
	while (c->sim.now_us - t0 < within_us) {
		bool done = true;
		for (uint32_t v = 0; v < c->p.vms && done; v++)
			if (mask == NULL || mask[v])
				done = simvm_instances(c->vms, v) == 1 && !simvm_running(c->vms, h, v);
		if (done)
			return FL_MAX(c->sim.now_us - t0, 1);
		simcl_run_for(c, 100 * FL_US_PER_MS);
	}
	return 0;
}

bool simcl_wait_all_running(struct simcl *c, uint64_t within_us)
{
	uint64_t end = c->sim.now_us + within_us;
	for (;;) {
		uint32_t ok = 0;
		for (uint32_t v = 0; v < c->p.vms; v++)
			ok += simvm_instances(c->vms, v) == 1;
		if (ok == c->p.vms)
			return true;
		if (c->sim.now_us >= end)
			return false;
		simcl_run_for(c, 100 * FL_US_PER_MS);
	}
}

/* ---- faults ---- */

void simcl_crash(struct simcl *c, uint32_t h)
{
	struct simhost *s = &c->hosts[h];
	if (!s->up)
		return;
	s->up = false;
	simhost_drop_deaths(s);
	/* The device first: its in-flight I/O (whose fl_io lives in the
	 * arbiter) lands or not, and no callback runs; then the process goes. */
	fl_simbdev_crash(s->bdev);
	fl_bdev_close(fl_simbdev_bdev(s->bdev));
	s->bdev = NULL;
	arb_free(s->arb);
	s->arb = NULL;
	simnet_drop_host(c->net, h);
	simvm_host_crash(c->vms, h);
	if (s->paused) {
		fl_simclock_resume(&s->clock);
		s->paused = false;
	}
}

void simcl_set_vm_table(struct simcl *c, uint32_t h, uint32_t max_vms)
{
	FL_ASSERT(h >= 1);
	FL_ASSERT(h <= c->p.hosts);
	FL_ASSERT(max_vms == 0 || max_vms >= SIMCL_MAX_VMS);
	c->hosts[h].vm_table = max_vms;
}

void simcl_set_max_vms(struct simcl *c, uint32_t h, uint32_t max_vms)
{
	FL_ASSERT(h >= 1);
	FL_ASSERT(h <= c->p.hosts);
	FL_ASSERT(max_vms <= ARB_MAX_VMS_CAP);
	c->hosts[h].max_vms = max_vms;
}

void simcl_restart(struct simcl *c, uint32_t h)
{
	struct simhost *s = &c->hosts[h];
	if (s->up)
		return;
	simhost_open_disk(c, s);
	simhost_boot(c, s);
}

bool simcl_is_up(const struct simcl *c, uint32_t h) { return c->hosts[h].up; }

bool simcl_join(struct simcl *c, uint32_t h)
{
	uint32_t l = simcl_leader(c);
	char name[16];
	if (l == 0)
		return false;
	snprintf(name, sizeof(name), "h%u", h);
	if (arb_host_add(c->hosts[l].arb, h, name, "sim") != 0)
		return false;
	simcl_restart(c, h);
	return true;
}

int simcl_remove(struct simcl *c, uint32_t h)
{
	uint32_t l = simcl_leader(c);
	return l == 0 ? -FL_ENOTLEADER : arb_host_remove(c->hosts[l].arb, h);
}

void simcl_pause(struct simcl *c, uint32_t h)
{
	struct simhost *s = &c->hosts[h];
	if (!s->up || s->paused)
		return;
	s->paused = true;
	fl_simclock_pause(&s->clock);
}

void simcl_resume(struct simcl *c, uint32_t h)
{
	struct simhost *s = &c->hosts[h];
	if (!s->paused)
		return;
	s->paused = false;
	fl_simclock_resume(&s->clock);
}

bool simcl_is_paused(const struct simcl *c, uint32_t h) { return c->hosts[h].paused; }

struct fl_simbdev_faults *simcl_disk_faults(struct simcl *c, uint32_t h)
{
	return c->hosts[h].bdev ? fl_simbdev_faults(c->hosts[h].bdev) : NULL;
}

void simcl_disk_unstall(struct simcl *c, uint32_t h)
{
	if (c->hosts[h].bdev)
		fl_simbdev_unstall(c->hosts[h].bdev);
}

void simcl_set_drift(struct simcl *c, uint32_t h, int32_t ppm)
{
	fl_simclock_set_drift(&c->hosts[h].clock, ppm);
	fl_simclock_set_drift(&c->hosts[h].kclock, ppm);
}

bool simcl_host_fenced(const struct simcl *c, uint32_t h)
{
	struct arb_status st;
	if (!c->hosts[h].up || c->hosts[h].arb == NULL)
		return false;
	arb_status(c->hosts[h].arb, &st);
	return st.fenced;
}

uint32_t simcl_violations(const struct simcl *c, const struct simvm_violation **out)
{
	return simvm_violations(c->vms, out);
}

struct arb *simcl_arb(struct simcl *c, uint32_t h) { return c->hosts[h].arb; }
const struct simcl_params *simcl_params(const struct simcl *c) { return &c->p; }
