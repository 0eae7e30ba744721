/* Wire encoding of Raft messages and configurations (see raft/msg.h).
 *
 * A cursor (struct wbuf / struct rbuf) does every bounds check in one place:
 * a read past the end sets a sticky error flag and yields zeros, so decoders
 * read straight through and check the flag once, and no input can make them
 * read outside the buffer. */
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "raft/msg.h"

#define RAFT_CONFIG_VERSION 1

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t off;
	int err;
};

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;
};

static void put_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n > w->cap - w->off) {
		w->err = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->off, src, n);
	w->off += n;
}

static void put_u8(struct wbuf *w, uint8_t v) { put_bytes(w, &v, 1); }

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, 8);
}

static const uint8_t *get_bytes(struct rbuf *r, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static uint8_t get_u8(struct rbuf *r)
{
	const uint8_t *p = get_bytes(r, 1);
	return p ? p[0] : 0;
}

static uint32_t get_u32(struct rbuf *r)
{
	const uint8_t *p = get_bytes(r, 4);
	uint32_t v = 0;
	for (int i = 0; p && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_u64(struct rbuf *r)
{
	const uint8_t *p = get_bytes(r, 8);
	uint64_t v = 0;
	for (int i = 0; p && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- configurations ------------------------------------------------------- */

int raft_config_find(const struct raft_config *c, uint64_t id)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(c->n <= RAFT_MAX_SERVERS);
	for (uint32_t i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return (int)i;
	return -1;
}

uint32_t raft_config_voters(const struct raft_config *c)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(c->n <= RAFT_MAX_SERVERS);
	uint32_t n = 0;
	for (uint32_t i = 0; i < c->n; i++)
		n += c->servers[i].role == RAFT_VOTER;
	return n;
}

static int config_valid(const struct raft_config *c)
{
	if (c->n > RAFT_MAX_SERVERS)
		return 0;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		if (s->id == 0 || (s->role != RAFT_VOTER && s->role != RAFT_LEARNER))
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (c->servers[j].id == s->id)
				return 0;
	}
	return 1;
}

size_t raft_config_encoded_size(const struct raft_config *c)
{
	FL_ASSERT(c != NULL);
	return 1 + 4 + (size_t)c->n * 9;
}

static void config_put(struct wbuf *w, const struct raft_config *c)
{
	put_u8(w, RAFT_CONFIG_VERSION);
	put_u32(w, c->n);
	for (uint32_t i = 0; i < c->n && i < RAFT_MAX_SERVERS; i++) {
		put_u64(w, c->servers[i].id);
		put_u8(w, c->servers[i].role);
	}
}

static void config_get(struct rbuf *r, struct raft_config *c)
{
	if (get_u8(r) != RAFT_CONFIG_VERSION)
		r->err = 1;
	uint32_t n = get_u32(r);
	if (n > RAFT_MAX_SERVERS)
		r->err = 1;
	c->n = 0;
	for (uint32_t i = 0; i < n && !r->err; i++) {
		c->servers[i].id = get_u64(r);
		c->servers[i].role = get_u8(r);
		c->n = i + 1;
	}
	if (!r->err && !config_valid(c))
		r->err = 1;
}

int raft_config_encode(const struct raft_config *c, uint8_t *buf, size_t cap)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(buf != NULL);
	if (!config_valid(c))
		return -FL_EINVAL;
	struct wbuf w = {.p = buf, .cap = cap};
	config_put(&w, c);
	if (w.err)
		return -FL_EINVAL;
	FL_ASSERT(w.off == raft_config_encoded_size(c));
	return (int)w.off;
}

int raft_config_decode(const uint8_t *buf, size_t len, struct raft_config *out)
{
	FL_ASSERT(out != NULL);
	if (buf == NULL)
		return -FL_EINVAL;
	struct rbuf r = {.p = buf, .len = len};
	config_get(&r, out);
	if (r.err || r.off != len)
		return -FL_EINVAL;
	return 0;
}

/* ---- messages ------------------------------------------------------------- */

size_t raft_msg_encoded_size(const struct raft_msg *m)
{
	FL_ASSERT(m != NULL);
	size_t n = 4 + 1 + 1 + 8 * 3;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		if (m->append.n_entries > RAFT_MSG_MAX_ENTRIES)
			return 0;
		n += 8 * 4 + 4;
		for (uint32_t i = 0; i < m->append.n_entries; i++) {
			if (m->append.entries[i].len > RAFT_MSG_MAX_ENTRY_BYTES)
				return 0;
			n += 8 + 8 + 1 + 4 + m->append.entries[i].len;
		}
		return n;
	case RAFT_MSG_APPEND_RESP: return n + 1 + 8 * 6;
	case RAFT_MSG_VOTE: return n + 2 + 8 * 2;
	case RAFT_MSG_VOTE_RESP: return n + 2;
	case RAFT_MSG_SNAPSHOT:
		return n + 8 * 3 + raft_config_encoded_size(&m->snapshot.config) + 8 +
		       (size_t)m->snapshot.len;
	case RAFT_MSG_TIMEOUT_NOW: return n;
	default: return 0;
	}
}

static void body_put(struct wbuf *w, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND: {
		const struct raft_msg_append *a = &m->append;
		put_u64(w, a->prev_index);
		put_u64(w, a->prev_term);
		put_u64(w, a->commit);
		put_u64(w, a->lease_ctx);
		put_u32(w, a->n_entries);
		for (uint32_t i = 0; i < a->n_entries; i++) {
			const struct raft_entry *e = &a->entries[i];
			put_u64(w, e->term);
			put_u64(w, e->index);
			put_u8(w, e->type);
			put_u32(w, e->len);
			put_bytes(w, e->data, e->len);
		}
		break;
	}
	case RAFT_MSG_APPEND_RESP: {
		const struct raft_msg_append_resp *a = &m->append_resp;
		put_u8(w, a->success);
		put_u64(w, a->match_index);
		put_u64(w, a->reject_index);
		put_u64(w, a->conflict_index);
		put_u64(w, a->conflict_term);
		put_u64(w, a->last_index);
		put_u64(w, a->lease_ctx);
		break;
	}
	case RAFT_MSG_VOTE:
		put_u8(w, m->vote.pre);
		put_u8(w, m->vote.transfer);
		put_u64(w, m->vote.last_index);
		put_u64(w, m->vote.last_term);
		break;
	case RAFT_MSG_VOTE_RESP:
		put_u8(w, m->vote_resp.pre);
		put_u8(w, m->vote_resp.granted);
		break;
	case RAFT_MSG_SNAPSHOT:
		put_u64(w, m->snapshot.index);
		put_u64(w, m->snapshot.snap_term);
		put_u64(w, m->snapshot.lease_ctx);
		config_put(w, &m->snapshot.config);
		put_u64(w, m->snapshot.len);
		put_bytes(w, m->snapshot.data, (size_t)m->snapshot.len);
		break;
	default:
		break;
	}
}

int raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap)
{
	FL_ASSERT(m != NULL);
	FL_ASSERT(buf != NULL);
	size_t need = raft_msg_encoded_size(m);
	if (need == 0 || need > cap || need > INT32_MAX)
		return -FL_EINVAL;
	if (m->type == RAFT_MSG_SNAPSHOT && !config_valid(&m->snapshot.config))
		return -FL_EINVAL;
	struct wbuf w = {.p = buf, .cap = cap};
	put_u32(&w, RAFT_MSG_MAGIC);
	put_u8(&w, RAFT_MSG_VERSION);
	put_u8(&w, m->type);
	put_u64(&w, m->from);
	put_u64(&w, m->to);
	put_u64(&w, m->term);
	body_put(&w, m);
	FL_ASSERT(!w.err);
	FL_ASSERT(w.off == need);
	return (int)w.off;
}

static void append_get(struct rbuf *r, struct raft_msg_append *a)
{
	a->prev_index = get_u64(r);
	a->prev_term = get_u64(r);
	a->commit = get_u64(r);
	a->lease_ctx = get_u64(r);
	uint32_t n = get_u32(r);
	/* Each entry needs at least 21 bytes: bound n before allocating. */
	if (r->err || n > RAFT_MSG_MAX_ENTRIES || n > (r->len - r->off) / 21) {
		r->err = 1;
		return;
	}
	if (n == 0)
		return;
	a->entries = calloc(n, sizeof(*a->entries));
	if (a->entries == NULL) {
		r->err = 1;
		return;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		struct raft_entry *e = &a->entries[i];
		e->term = get_u64(r);
		e->index = get_u64(r);
		e->type = get_u8(r);
		e->len = get_u32(r);
		if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP ||
		    e->len > RAFT_MSG_MAX_ENTRY_BYTES)
			r->err = 1;
		e->data = (uint8_t *)get_bytes(r, e->len);
		if (e->len == 0)
			e->data = NULL;
		a->n_entries = i + 1;
	}
}

static void body_get(struct rbuf *r, struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		append_get(r, &m->append);
		break;
	case RAFT_MSG_APPEND_RESP: {
		struct raft_msg_append_resp *a = &m->append_resp;
		a->success = get_u8(r);
		a->match_index = get_u64(r);
		a->reject_index = get_u64(r);
		a->conflict_index = get_u64(r);
		a->conflict_term = get_u64(r);
		a->last_index = get_u64(r);
		a->lease_ctx = get_u64(r);
		if (a->success > 1)
			r->err = 1;
		break;
	}
	case RAFT_MSG_VOTE:
		m->vote.pre = get_u8(r);
		m->vote.transfer = get_u8(r);
		m->vote.last_index = get_u64(r);
		m->vote.last_term = get_u64(r);
		if (m->vote.pre > 1 || m->vote.transfer > 1)
			r->err = 1;
		break;
	case RAFT_MSG_VOTE_RESP:
		m->vote_resp.pre = get_u8(r);
		m->vote_resp.granted = get_u8(r);
		if (m->vote_resp.pre > 1 || m->vote_resp.granted > 1)
			r->err = 1;
		break;
	case RAFT_MSG_SNAPSHOT:
		m->snapshot.index = get_u64(r);
		m->snapshot.snap_term = get_u64(r);
		m->snapshot.lease_ctx = get_u64(r);
		config_get(r, &m->snapshot.config);
		m->snapshot.len = get_u64(r);
		if (m->snapshot.len > r->len) {
			r->err = 1;
			break;
		}
		m->snapshot.data = (uint8_t *)get_bytes(r, (size_t)m->snapshot.len);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		break;
	default:
		r->err = 1;
	}
}

int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *out)
{
	FL_ASSERT(out != NULL);
	memset(out, 0, sizeof(*out));
	if (buf == NULL)
		return -FL_EINVAL;
	struct rbuf r = {.p = buf, .len = len};
	uint32_t magic = get_u32(&r);
	uint8_t version = get_u8(&r);
	if (r.err || magic != RAFT_MSG_MAGIC)
		return -FL_EINVAL;
	if (version != RAFT_MSG_VERSION)
		return -FL_EVERSION;
	out->type = get_u8(&r);
	out->from = get_u64(&r);
	out->to = get_u64(&r);
	out->term = get_u64(&r);
	if (out->from == 0 || out->to == 0)
		r.err = 1;
	body_get(&r, out);
	if (r.err || r.off != len) {
		raft_msg_release(out);
		memset(out, 0, sizeof(*out));
		return -FL_EINVAL;
	}
	return 0;
}

void raft_msg_release(struct raft_msg *m)
{
	FL_ASSERT(m != NULL);
	if (m->type == RAFT_MSG_APPEND) {
		free(m->append.entries);
		m->append.entries = NULL;
		m->append.n_entries = 0;
	}
}
