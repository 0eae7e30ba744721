/* Cluster protocol versions (arbiter.h, "cluster protocol versions").
 *
 * A 'P' message: u16 min  u16 max  u8 n  n bytes of software version. It
 * travels over the authenticated channel like everything else, so only a
 * host holding the cluster key can announce anything, and only for its own
 * id. A fencelock from before announcements drops 'P' as an unknown kind
 * and sends none: a peer heard for ARB_PROTO_GRACE_US with no announcement
 * speaks ARB_PROTO_LEGACY. Refusing a peer drops its messages, which to
 * every protocol above looks like a partition: safe by construction. */
#include <inttypes.h>
#include <string.h>
#include "common/assert.h"
#include "common/le.h"
#include "common/log.h"
#include "common/version.h"
#include "plugin/arbiter/arb_internal.h"

#define PROTO_HDR 5u

static uint16_t self_min(const struct arb *a)
{
	return a->cfg.proto_min != 0 ? a->cfg.proto_min : (uint16_t)ARB_PROTO_MIN;
}

static uint16_t self_max(const struct arb *a)
{
	return a->cfg.proto_max != 0 ? a->cfg.proto_max : (uint16_t)ARB_PROTO_CURRENT;
}

static const char *self_version(const struct arb *a)
{
	return a->cfg.version != NULL ? a->cfg.version : fl_build_version();
}

void arb_self_proto(const struct arb *a, uint16_t *min, uint16_t *max, const char **version)
{
	*min = self_min(a);
	*max = self_max(a);
	*version = self_version(a);
}

/* The version both speak, 0 when none. */
static uint16_t proto_common(const struct arb *a, uint16_t pmin, uint16_t pmax)
{
	uint16_t hi = FL_MIN(self_max(a), pmax), lo = FL_MAX(self_min(a), pmin);
	return hi >= lo ? hi : 0;
}

void arb_proto_tick(struct arb *a, uint64_t now)
{
	if (a->proto_sent_us != 0 && now - a->proto_sent_us < ARB_PROTO_EVERY_US)
		return;
	a->proto_sent_us = now;
	struct raft *r = a->node ? raft_node_core(a->node) : NULL;
	const struct raft_config *c = r ? raft_configuration(r, NULL) : NULL;
	const char *v = self_version(a);
	size_t n = FL_MIN(strlen(v), (size_t)ARB_VERSION_MAX);
	uint8_t buf[1 + PROTO_HDR + ARB_VERSION_MAX];
	buf[0] = ARB_PROTO_MAGIC;
	fl_put_le16(buf + 1, self_min(a));
	fl_put_le16(buf + 3, self_max(a));
	buf[5] = (uint8_t)n;
	memcpy(buf + 1 + PROTO_HDR, v, n);
	/* One not queued is sent again within a second, as views are. */
	for (uint32_t i = 0; c != NULL && i < c->n; i++)
		if (c->servers[i].id != a->cfg.host_id && c->servers[i].id <= ARB_MAX_HOSTS &&
		    raft_transport_send(a->cfg.transport, c->servers[i].id, buf, (uint32_t)(1 + PROTO_HDR + n)) != 0)
			a->ctr.views_unsent++;
}

static void proto_refuse_log(const struct arb *a, uint64_t from, const struct arb_proto_peer *p)
{
	if (p->announced)
		fl_warn("host %" PRIu64 ": refusing host %" PRIu64 ": it speaks cluster protocol %u..%u (fencelock %s), "
			"this host %u..%u (fencelock %s): no version in common; upgrade one host at a time, across "
			"one protocol version (docs/operations.md, \"Upgrading one host at a time\")",
			a->cfg.host_id, from, p->min, p->max, p->version[0] ? p->version : "?", self_min(a), self_max(a),
			self_version(a));
	else
		fl_warn("host %" PRIu64 ": refusing host %" PRIu64 ": it announces no cluster protocol (a fencelock "
			"before announcements: protocol %u), this host speaks %u..%u; upgrade it first",
			a->cfg.host_id, from, ARB_PROTO_LEGACY, self_min(a), self_max(a));
}

void arb_proto_receive(struct arb *a, uint64_t from, const uint8_t *b, uint32_t len)
{
	if (len < PROTO_HDR || b[4] > ARB_VERSION_MAX || len != PROTO_HDR + b[4])
		return; /* malformed: dropped */
	struct arb_proto_peer *p = &a->proto[from];
	uint16_t pmin = fl_get_le16(b), pmax = fl_get_le16(b + 2);
	if (pmin == 0 || pmax < pmin)
		return;
	bool changed = !p->announced || p->min != pmin || p->max != pmax;
	p->announced = true;
	p->min = pmin;
	p->max = pmax;
	memcpy(p->version, b + PROTO_HDR, b[4]);
	p->version[b[4]] = '\0';
	for (uint32_t i = 0; i < b[4]; i++)
		if (p->version[i] < 0x20 || p->version[i] > 0x7e || p->version[i] == '"' || p->version[i] == '\\')
			p->version[i] = '?'; /* shown in logs, JSON and metric labels: printable, no quoting */
	uint16_t used = proto_common(a, pmin, pmax);
	bool was_refused = p->refused;
	p->refused = used == 0;
	if (p->refused && (changed || !was_refused))
		proto_refuse_log(a, from, p);
	else if (!p->refused && (changed || was_refused))
		fl_notice("host %" PRIu64 ": host %" PRIu64 " speaks cluster protocol %u..%u (fencelock %s): "
			  "using protocol %u with it",
			  a->cfg.host_id, from, pmin, pmax, p->version, used);
}

bool arb_proto_drop(struct arb *a, uint64_t from, uint8_t kind, uint64_t now)
{
	struct arb_proto_peer *p = &a->proto[from];
	(void)kind;
	if (p->announced)
		return p->refused;
	if (self_min(a) <= ARB_PROTO_LEGACY)
		return false;
	/* A peer that has not announced yet: given a moment (its first
	 * announcement may follow its first message), then protocol 2. */
	if (p->first_us == 0)
		p->first_us = now;
	if (now - p->first_us < ARB_PROTO_GRACE_US)
		return false;
	if (!p->refused)
		proto_refuse_log(a, from, p);
	p->refused = true;
	return true;
}

void arb_peer_proto(const struct arb *a, uint32_t id, struct arb_peer_proto *out)
{
	memset(out, 0, sizeof(*out));
	if (id == 0 || id > ARB_MAX_HOSTS)
		return;
	const struct arb_proto_peer *p = &a->proto[id];
	out->announced = p->announced;
	out->refused = p->refused;
	out->min = p->announced ? p->min : (uint16_t)ARB_PROTO_LEGACY;
	out->max = p->announced ? p->max : (uint16_t)ARB_PROTO_LEGACY;
	if (!p->refused && (p->announced || a->last_heard_us[id] != 0))
		out->used = proto_common(a, out->min, out->max);
	snprintf(out->version, sizeof(out->version), "%s", p->version);
}
