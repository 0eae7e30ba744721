/* Simulated network (see simnet.h). */
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "tests/sim/simnet.h"

struct simmsg {
	struct simnet *net;
	uint32_t from, to, len;
	struct fl_timer arrive;   /* global (network) clock: reaches the host */
	struct fl_timer deliver;  /* receiver's clock: the host reads it */
	struct simmsg *prev, *next;
	uint8_t data[];
};

struct simnet {
	struct fl_sim *sim;
	struct fl_simclock netclock;  /* the wire's clock: never paused */
	uint32_t n;
	struct fl_simclock *clocks[SIMNET_MAX_HOSTS];
	bool up[SIMNET_MAX_HOSTS][SIMNET_MAX_HOSTS];
	struct fl_rand rand;
	struct simnet_params params;
	struct simnet_stats stats;
	simnet_deliver_fn deliver;
	void *ctx;
	struct simmsg *inflight;
	uint32_t inflight_count;
};

struct simnet *simnet_new(struct fl_sim *sim, uint32_t n, struct fl_simclock *const *clocks, uint64_t seed,
			  simnet_deliver_fn deliver, void *ctx)
{
	FL_ASSERT(n >= 1);
	FL_ASSERT(n <= SIMNET_MAX_HOSTS);
	struct simnet *net = calloc(1, sizeof(*net));
	if (net == NULL)
		return NULL;
	net->sim = sim;
	net->n = n;
	for (uint32_t i = 0; i < n; i++)
		net->clocks[i] = clocks[i];
	if (fl_simclock_init(&net->netclock, sim, 0, 0) != 0) {
		free(net);
		return NULL;
	}
	fl_rand_seed(&net->rand, seed);
	net->params = (struct simnet_params){.delay_min_us = 200, .delay_max_us = 2000};
	net->deliver = deliver;
	net->ctx = ctx;
	simnet_heal(net);
	return net;
}

static void simmsg_free(struct simmsg *m)
{
	struct simnet *net = m->net;
	fl_timer_cancel(&net->netclock.base, &m->arrive);
	fl_timer_cancel(&net->clocks[m->to - 1]->base, &m->deliver);
	if (m->prev)
		m->prev->next = m->next;
	else
		net->inflight = m->next;
	if (m->next)
		m->next->prev = m->prev;
	net->inflight_count--;
	free(m);
}

void simnet_free(struct simnet *net)
{
	if (net == NULL)
		return;
	while (net->inflight)
		simmsg_free(net->inflight);
	fl_simclock_free(&net->netclock);
	free(net);
}

struct simnet_params *simnet_params(struct simnet *net) { return &net->params; }
const struct simnet_stats *simnet_stats(const struct simnet *net) { return &net->stats; }

static void simmsg_deliver_fn(struct fl_timer *t, void *arg)
{
	struct simmsg *m = arg;
	struct simnet *net = m->net;
	(void)t;
	if (!net->up[m->from - 1][m->to - 1]) {
		net->stats.dropped_cut++;
	} else {
		net->stats.delivered++;
		net->deliver(net->ctx, m->from, m->to, m->data, m->len);
	}
	simmsg_free(m);
}

static void simmsg_arrive_fn(struct fl_timer *t, void *arg)
{
	struct simmsg *m = arg;
	(void)t;
	/* Hand over to the receiver's clock: held while the receiver is paused. */
	fl_timer_after(&m->net->clocks[m->to - 1]->base, &m->deliver, 0);
}

static void simnet_enqueue(struct simnet *net, uint32_t from, uint32_t to, const uint8_t *buf, uint32_t len)
{
	if (net->inflight_count >= SIMNET_MAX_INFLIGHT) {
		net->stats.dropped_full++;
		return;
	}
	struct simmsg *m = malloc(sizeof(*m) + len);
	FL_ASSERT(m != NULL);
	m->net = net;
	m->from = from;
	m->to = to;
	m->len = len;
	memcpy(m->data, buf, len);
	fl_timer_init(&m->arrive, simmsg_arrive_fn, m);
	fl_timer_init(&m->deliver, simmsg_deliver_fn, m);
	m->prev = NULL;
	m->next = net->inflight;
	if (net->inflight)
		net->inflight->prev = m;
	net->inflight = m;
	net->inflight_count++;
	uint64_t lo = net->params.delay_min_us, hi = FL_MAX(lo, net->params.delay_max_us);
	fl_timer_after(&net->netclock.base, &m->arrive, fl_rand_range(&net->rand, lo, hi));
}

void simnet_send(struct simnet *net, uint32_t from, uint32_t to, const uint8_t *buf, uint32_t len)
{
	FL_ASSERT(from >= 1);
	FL_ASSERT(from <= net->n);
	FL_ASSERT(to >= 1);
	FL_ASSERT(to <= net->n);
	FL_ASSERT(len <= SIMNET_MAX_MSG_BYTES);
	net->stats.sent++;
	if (!net->up[from - 1][to - 1]) {
		net->stats.dropped_cut++;
		return;
	}
	if (fl_rand_chance(&net->rand, net->params.loss_permille, 1000)) {
		net->stats.dropped_loss++;
		return;
	}
	simnet_enqueue(net, from, to, buf, len);
	if (fl_rand_chance(&net->rand, net->params.dup_permille, 1000)) {
		net->stats.duplicated++;
		simnet_enqueue(net, from, to, buf, len);
	}
}

void simnet_set_link(struct simnet *net, uint32_t from, uint32_t to, bool up)
{
	FL_ASSERT(from >= 1);
	FL_ASSERT(from <= net->n);
	FL_ASSERT(to >= 1);
	FL_ASSERT(to <= net->n);
	net->up[from - 1][to - 1] = up;
}

bool simnet_link_up(const struct simnet *net, uint32_t from, uint32_t to)
{
	return net->up[from - 1][to - 1];
}

void simnet_isolate(struct simnet *net, uint32_t h, bool out, bool in)
{
	for (uint32_t o = 1; o <= net->n; o++) {
		if (o == h)
			continue;
		if (out)
			simnet_set_link(net, h, o, false);
		if (in)
			simnet_set_link(net, o, h, false);
	}
}

void simnet_split(struct simnet *net, const uint32_t *group_of)
{
	for (uint32_t a = 0; a < net->n; a++)
		for (uint32_t b = 0; b < net->n; b++)
			net->up[a][b] = group_of[a] == group_of[b];
}

void simnet_heal(struct simnet *net)
{
	for (uint32_t a = 0; a < net->n; a++)
		for (uint32_t b = 0; b < net->n; b++)
			net->up[a][b] = true;
}

void simnet_drop_host(struct simnet *net, uint32_t h)
{
	struct simmsg *m = net->inflight;
	while (m != NULL) {
		struct simmsg *next = m->next;
		if (m->from == h || m->to == h)
			simmsg_free(m);
		m = next;
	}
}
