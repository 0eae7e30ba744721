/* The part of the log-store seam shared by every implementation: request
 * validation, the bounded FIFO of outstanding requests that gives completion
 * order and stall detection, the sticky failure, and freeing a load result.
 * Implementations only move requests to the disk and call
 * raft_logstore_complete() in submission order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "raft/logstore.h"

void raft_log_loaded_free(struct raft_log_loaded *l)
{
	if (l == NULL)
		return;
	for (uint64_t i = 0; i < l->n_entries; i++)
		free(l->entries[i].data);
	free(l->entries);
	free(l->snapshot.config);
	free(l->snapshot.data);
	memset(l, 0, sizeof(*l));
}

void raft_logstore_init_base(struct raft_logstore *s, const struct raft_logstore_ops *ops,
			     struct fl_loop *loop, const char *name, uint32_t queue_max)
{
	FL_ASSERT(ops != NULL);
	FL_ASSERT(ops->submit != NULL);
	FL_ASSERT(ops->close != NULL);
	FL_ASSERT(queue_max > 0);
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->loop = loop;
	s->queue_max = queue_max;
	snprintf(s->name, sizeof(s->name), "%s", name);
}

static int logstore_check_append(const struct raft_log_req *req)
{
	if (req->append.n == 0 || req->append.entries == NULL)
		return -FL_EINVAL;
	/* Bounded by the request's own count. */
	for (uint32_t i = 0; i < req->append.n; i++) {
		const struct raft_entry *e = &req->append.entries[i];
		if (e->index == 0 || e->term == 0 || (e->len > 0 && e->data == NULL))
			return -FL_EINVAL;
		if (i > 0 && e->index != req->append.entries[i - 1].index + 1)
			return -FL_EINVAL;
	}
	return 0;
}

static int logstore_check(const struct raft_log_req *req)
{
	if (req->cb == NULL)
		return -FL_EINVAL;
	switch (req->op) {
	case RAFT_LOG_LOAD:
		return req->load.out != NULL ? 0 : -FL_EINVAL;
	case RAFT_LOG_APPEND:
		return logstore_check_append(req);
	case RAFT_LOG_TRUNCATE:
		return req->truncate.from_index > 0 ? 0 : -FL_EINVAL;
	case RAFT_LOG_SET_HARD:
		return 0;
	case RAFT_LOG_SNAPSHOT: {
		const struct raft_log_snapshot *sn = req->snapshot.snap;
		if (sn == NULL || sn->index == 0 || sn->term == 0)
			return -FL_EINVAL;
		if ((sn->config_len > 0 && sn->config == NULL) || (sn->data_len > 0 && sn->data == NULL))
			return -FL_EINVAL;
		return 0;
	}
	}
	return -FL_EINVAL;
}

int raft_logstore_submit(struct raft_logstore *s, struct raft_log_req *req)
{
	FL_ASSERT(s != NULL);
	FL_ASSERT(req != NULL);
	int rv = logstore_check(req);
	if (rv != 0)
		return rv;
	if (s->failed != 0)
		return s->failed;
	if (s->pending >= s->queue_max)
		return -FL_ENOSPC;
	req->submit_us = fl_now_us(s->loop);
	req->result = 0;
	req->priv = NULL;
	req->priv_len = 0;
	req->next = NULL;
	rv = s->ops->submit(s, req);
	if (rv != 0)
		return rv;
	if (s->pending_tail != NULL)
		s->pending_tail->next = req;
	else
		s->pending_head = req;
	s->pending_tail = req;
	s->pending++;
	s->stats.submitted++;
	FL_ASSERT(s->pending <= s->queue_max);
	return 0;
}

void raft_logstore_complete(struct raft_logstore *s, struct raft_log_req *req, int result)
{
	FL_ASSERT(s->pending > 0);
	FL_ASSERT(s->pending_head == req); /* completions keep submission order */
	s->pending_head = req->next;
	if (s->pending_head == NULL)
		s->pending_tail = NULL;
	s->pending--;
	req->next = NULL;
	if (result == 0 && s->failed != 0)
		result = s->failed;
	if (result != 0) {
		s->stats.failed++;
		if (s->failed == 0) {
			s->failed = result;
			fl_err("raft log store %s failed: %s; the node must stop using it "
			       "(restart to recover from the durable state)", s->name, fl_strerror(result));
		}
	} else {
		s->stats.completed++;
	}
	req->cb(req, result);
}

void raft_logstore_close(struct raft_logstore *s)
{
	if (s != NULL)
		s->ops->close(s);
}

uint64_t raft_logstore_oldest_pending_us(const struct raft_logstore *s)
{
	return s->pending_head != NULL ? s->pending_head->submit_us : FL_TIME_NEVER;
}
