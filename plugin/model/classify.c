/* Host-state classification and the arbiter's timing decisions (see
 * classify.h). The rules follow the host-state table of docs/design.md; the
 * cases the table leaves open (a silent host whose lease is stale but not
 * yet dead, a free or unreadable lease record, a host that freed its leases
 * without acking) are resolved here in the direction that never takes over
 * a host that could still be writing, and are explained in docs/design.md. */
#include <stddef.h>
#include "plugin/model/classify.h"
#include "common/assert.h"
#include "disklock/lockspace.h"
#include "disklock/timeouts.h"
#include "fencelock/error.h"

void cls_timings_default(struct cls_timings *t, uint64_t io_timeout_us, uint64_t p_us)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(io_timeout_us > 0);
	FL_ASSERT(p_us > 0);
	t->r_us = LS_RENEW_T * io_timeout_us;
	t->f_us = LS_FAIL_T * io_timeout_us;
	t->k_us = LS_KILL_T * io_timeout_us;
	t->m_us = LS_MARGIN_T * io_timeout_us;
	t->d_us = t->f_us + t->k_us + t->m_us;
	t->p_us = p_us;
	t->h_us = 2 * io_timeout_us;
}

void cls_timings_from_ls(struct cls_timings *t, const struct ls_timing *lt, uint64_t p_us, uint64_t h_us)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(lt != NULL);
	FL_ASSERT(p_us > 0);
	FL_ASSERT(h_us > 0);
	t->r_us = lt->renew_us;
	t->f_us = lt->fail_us;
	t->k_us = lt->kill_us;
	t->m_us = lt->margin_us;
	t->d_us = lt->dead_us;
	t->p_us = p_us;
	t->h_us = h_us;
}

enum cls_disk cls_disk_from_ls(int ls_state)
{
	switch (ls_state) {
	case LS_HOST_FREE: return CLS_DISK_FREE;
	case LS_HOST_UNKNOWN: return CLS_DISK_UNKNOWN;
	case LS_HOST_LIVE: return CLS_DISK_LIVE;
	case LS_HOST_FAIL: return CLS_DISK_FAIL;
	case LS_HOST_DEAD: return CLS_DISK_DEAD;
	default: return CLS_DISK_ERROR;
	}
}

int cls_timings_check(const struct cls_timings *t)
{
	FL_ASSERT(t != NULL);
	if (t->r_us == 0 || t->r_us >= t->f_us || t->p_us == 0 || t->h_us == 0)
		return -FL_EINVAL;
	if (t->f_us > UINT64_MAX / 4 || t->d_us < t->f_us + t->k_us + t->m_us)
		return -FL_EINVAL;
	return 0;
}

/* Time from since to now; 0 if since is in the future. */
static uint64_t elapsed_us(uint64_t since_us, uint64_t now_us)
{
	return now_us > since_us ? now_us - since_us : 0;
}

/* When the host was last heard, or CLS_NEVER. */
static uint64_t last_heard_us(const struct cls_obs *o, uint64_t now_us)
{
	if (o->net_age_us == CLS_NEVER || o->net_age_us > now_us)
		return CLS_NEVER;
	return now_us - o->net_age_us;
}

enum cls_state cls_classify(const struct cls_obs *o, const struct cls_timings *t, uint64_t now_us,
			    uint64_t *evidence_us)
{
	FL_ASSERT(o != NULL);
	FL_ASSERT(t != NULL);
	FL_ASSERT(evidence_us != NULL);
	FL_ASSERT(o->disk < CLS_DISK_END);
	*evidence_us = CLS_NEVER;
	bool silent = o->net_age_us > t->h_us;
	if (o->left)
		return CLS_LEFT;
	/* Its own word that it stopped everything; a DEAD lease says as much. */
	if (o->fenced && o->disk != CLS_DISK_DEAD)
		return CLS_FENCED;
	switch (o->disk) {
	case CLS_DISK_DEAD:
	case CLS_DISK_FREE:
	case CLS_DISK_FAIL:
		/* No lease, or one not renewed: silent and dead (or released)
		 * is DEAD; everything else waits D from the last change. */
		if (silent && o->disk != CLS_DISK_FAIL)
			return CLS_DEAD;
		*evidence_us = o->disk_change_us;
		return CLS_STORAGE_LOST;
	case CLS_DISK_LIVE:
		if (!silent)
			return CLS_UP;
		if (o->leases_free)
			return CLS_FENCED;   /* it fenced itself; the ack may follow */
		*evidence_us = last_heard_us(o, now_us);
		return CLS_PARTITIONED;
	default:
		/* UNKNOWN or ERROR: no disk evidence, so never a takeover. */
		if (!silent)
			return CLS_UP;
		*evidence_us = last_heard_us(o, now_us);
		return CLS_PARTITIONED;
	}
}

enum cls_state cls_update(struct cls_record *r, const struct cls_obs *o, const struct cls_timings *t,
			  uint64_t now_us)
{
	FL_ASSERT(r != NULL);
	FL_ASSERT(o != NULL);
	uint64_t ev;
	enum cls_state s = cls_classify(o, t, now_us, &ev);
	if (ev != CLS_NEVER && ev > now_us)
		ev = now_us;
	if (!r->valid || r->state != s || r->generation != o->generation) {
		r->valid = true;
		r->state = (uint8_t)s;
		r->generation = o->generation;
		r->since_us = ev == CLS_NEVER ? now_us : ev;
	} else if (ev != CLS_NEVER && ev > r->since_us) {
		r->since_us = ev;
	}
	FL_ASSERT(r->since_us <= now_us);
	FL_ASSERT(r->state == s);
	return s;
}

bool cls_may_take_over(enum cls_state s, uint64_t since_us, const struct cls_timings *t, uint64_t now_us)
{
	FL_ASSERT(t != NULL);
	FL_ASSERT(s >= CLS_UP);
	FL_ASSERT(s < CLS_STATE_END);
	switch (s) {
	case CLS_DEAD:
	case CLS_FENCED:
		return true;
	case CLS_STORAGE_LOST:
		/* It killed its VMs by F + K after its last good renewal; D adds M. */
		return since_us <= now_us && elapsed_us(since_us, now_us) >= t->d_us;
	default:
		return false;
	}
}

bool cls_should_poison_pill(enum cls_state s, uint64_t since_us, uint64_t p_us, uint64_t now_us)
{
	FL_ASSERT(s >= CLS_UP);
	FL_ASSERT(s < CLS_STATE_END);
	FL_ASSERT(p_us > 0);
	return s == CLS_PARTITIONED && elapsed_us(since_us, now_us) > p_us;
}

enum cls_self_fence cls_should_self_fence(const struct cls_local *l, const struct cls_timings *t,
					  uint64_t p_us, uint64_t now_us)
{
	FL_ASSERT(l != NULL);
	FL_ASSERT(t != NULL);
	FL_ASSERT(p_us > 0);
	FL_ASSERT(t->f_us > 0);
	if (!l->lease_held)
		return CLS_FENCE_NO_LEASE;
	if (elapsed_us(l->renewal_start_us, now_us) >= t->f_us)
		return CLS_FENCE_RENEWAL;
	if (!l->quorate && elapsed_us(l->quorum_lost_us, now_us) > p_us)
		return CLS_FENCE_QUORUM;
	return CLS_KEEP;
}

bool cls_may_acquire(const struct cls_local *l, const struct cls_timings *t, uint64_t now_us)
{
	FL_ASSERT(l != NULL);
	FL_ASSERT(t != NULL);
	FL_ASSERT(t->f_us > 0);
	return l->quorate && l->lease_held && elapsed_us(l->renewal_start_us, now_us) < t->f_us;
}

const char *cls_state_name(enum cls_state s)
{
	static const char *const names[CLS_STATE_END] = {
		[CLS_UP] = "UP", [CLS_PARTITIONED] = "PARTITIONED",
		[CLS_STORAGE_LOST] = "STORAGE_LOST", [CLS_DEAD] = "DEAD",
		[CLS_FENCED] = "FENCED", [CLS_LEFT] = "LEFT",
	};
	if ((unsigned)s >= CLS_STATE_END || names[s] == NULL)
		return "?";
	return names[s];
}
