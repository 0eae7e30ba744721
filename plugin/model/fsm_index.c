/* The FSM's lookup indexes and spec pool (fsm_ix.h). Every loop is bounded
 * by a table size fixed at fsm_init; nothing is allocated afterwards. */
#include <stdlib.h>
#include <string.h>
#include "plugin/model/fsm_ix.h"
#include "common/assert.h"
#include "fencelock/error.h"

_Static_assert(FSM_VMS_MAX <= UINT32_MAX / FSM_VOLS_MAX - 1u, "volume index entries fit a u32");
_Static_assert((FSM_SPEC_MAX / FSM_SPEC_CHUNK) * FSM_SPEC_CHUNK == FSM_SPEC_MAX, "a full spec fills whole chunks");

/* FNV-1a: spreads uids and identities that differ in one character. */
static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The smallest power of two >= 2n (n <= FSM_VMS_MAX * FSM_VOLS_MAX). */
static uint32_t buckets_for(uint32_t n)
{
	uint32_t b = 16;
	while (b < 2u * n)
		b *= 2;
	return b;
}

/* Chunks the pool needs: every spec at its maximum, or what the snapshot
 * bound lets all specs take plus one partly used chunk per VM, whichever
 * is smaller. */
static uint32_t pool_chunks(const struct fsm *f)
{
	uint64_t full = (uint64_t)f->lim.max_vms * fsm_ix_chunks(f->lim.spec_max_bytes);
	uint64_t bound = f->charge_max / FSM_SPEC_CHUNK + (f->lim.spec_max_bytes > 0 ? f->lim.max_vms : 0u);
	uint64_t n = full < bound ? full : bound;
	FL_ASSERT(n <= UINT32_MAX - 1u);
	return (uint32_t)n;
}

int fsm_ix_alloc(struct fsm *f)
{
	struct fsm_index *ix = &f->ix;
	uint32_t nv = f->lim.max_vms * FSM_VOLS_MAX;
	ix->uid_mask = buckets_for(f->lim.max_vms) - 1u;
	ix->vol_mask = buckets_for(nv) - 1u;
	ix->n_chunks = pool_chunks(f);
	ix->uid_head = calloc((size_t)ix->uid_mask + 1u, sizeof(uint32_t));
	ix->uid_next = calloc(f->lim.max_vms, sizeof(uint32_t));
	ix->vol_head = calloc((size_t)ix->vol_mask + 1u, sizeof(uint32_t));
	ix->vol_next = calloc(nv, sizeof(uint32_t));
	ix->chunks = calloc((size_t)ix->n_chunks + 1u, FSM_SPEC_CHUNK);
	ix->chunk_next = calloc((size_t)ix->n_chunks + 1u, sizeof(uint32_t));
	if (ix->uid_head == NULL || ix->uid_next == NULL || ix->vol_head == NULL || ix->vol_next == NULL ||
	    ix->chunks == NULL || ix->chunk_next == NULL)
		return -FL_ENOMEM;
	return 0;
}

void fsm_ix_free(struct fsm *f)
{
	struct fsm_index *ix = &f->ix;
	free(ix->uid_head);
	free(ix->uid_next);
	free(ix->vol_head);
	free(ix->vol_next);
	free(ix->chunks);
	free(ix->chunk_next);
	memset(ix, 0, sizeof(*ix));
}

void fsm_ix_reset(struct fsm *f)
{
	struct fsm_index *ix = &f->ix;
	memset(ix->uid_head, 0, ((size_t)ix->uid_mask + 1u) * sizeof(uint32_t));
	memset(ix->uid_next, 0, f->lim.max_vms * sizeof(uint32_t));
	memset(ix->vol_head, 0, ((size_t)ix->vol_mask + 1u) * sizeof(uint32_t));
	memset(ix->vol_next, 0, (size_t)f->lim.max_vms * FSM_VOLS_MAX * sizeof(uint32_t));
	for (uint32_t c = 0; c < ix->n_chunks; c++)
		ix->chunk_next[c] = c + 1u < ix->n_chunks ? c + 1u : FSM_CHUNK_NONE;
	ix->free_head = ix->n_chunks > 0 ? 0 : FSM_CHUNK_NONE;
	ix->free_n = ix->n_chunks;
	ix->vm_lo = 0;
	ix->n_vms = 0;
}

uint32_t fsm_ix_vm_free(const struct fsm *f)
{
	uint32_t i = f->ix.vm_lo;
	while (i < f->lim.max_vms && f->vms[i].used)
		i++;
	return i;
}

int fsm_ix_uid_find(const struct fsm *f, const char *uid)
{
	const struct fsm_index *ix = &f->ix;
	uint32_t steps = 0;
	for (uint32_t e = ix->uid_head[hash_str(uid) & ix->uid_mask]; e != 0; e = ix->uid_next[e - 1u]) {
		FL_ASSERT(++steps <= f->lim.max_vms);
		if (f->vms[e - 1u].used && strcmp(f->vms[e - 1u].uid, uid) == 0)
			return (int)(e - 1u);
	}
	return -1;
}

void fsm_ix_uid_add(struct fsm *f, uint32_t idx)
{
	FL_ASSERT(idx < f->lim.max_vms);
	FL_ASSERT(f->vms[idx].used);
	uint32_t *head = &f->ix.uid_head[hash_str(f->vms[idx].uid) & f->ix.uid_mask];
	f->ix.uid_next[idx] = *head;
	*head = idx + 1u;
	f->ix.n_vms++;
	if (idx >= f->ix.vm_hw)
		f->ix.vm_hw = idx + 1u;
	if (idx == f->ix.vm_lo)
		f->ix.vm_lo = fsm_ix_vm_free(f);
}

/* Unlinks value v from the chain at *head whose links are next[]. */
static void chain_del(uint32_t *head, uint32_t *next, uint32_t v, uint32_t bound)
{
	uint32_t steps = 0;
	for (uint32_t *p = head; *p != 0; p = &next[*p - 1u]) {
		FL_ASSERT(++steps <= bound);
		if (*p == v) {
			*p = next[v - 1u];
			next[v - 1u] = 0;
			return;
		}
	}
	FL_UNREACHABLE("the entry was indexed");
}

void fsm_ix_uid_del(struct fsm *f, uint32_t idx)
{
	FL_ASSERT(idx < f->lim.max_vms);
	if (idx < f->ix.vm_lo)
		f->ix.vm_lo = idx;
	FL_ASSERT(f->ix.n_vms > 0);
	f->ix.n_vms--;
	chain_del(&f->ix.uid_head[hash_str(f->vms[idx].uid) & f->ix.uid_mask], f->ix.uid_next, idx + 1u,
		  f->lim.max_vms);
}

void fsm_ix_vols_add(struct fsm *f, uint32_t idx)
{
	const struct fsm_vm *vm = &f->vms[idx];
	FL_ASSERT(vm->nvol <= FSM_VOLS_MAX);
	for (uint32_t k = 0; k < vm->nvol; k++) {
		uint32_t e = idx * FSM_VOLS_MAX + k;
		uint32_t *head = &f->ix.vol_head[hash_str(vm->vol[k].id) & f->ix.vol_mask];
		f->ix.vol_next[e] = *head;
		*head = e + 1u;
	}
}

void fsm_ix_vols_del(struct fsm *f, uint32_t idx)
{
	const struct fsm_vm *vm = &f->vms[idx];
	FL_ASSERT(vm->nvol <= FSM_VOLS_MAX);
	for (uint32_t k = 0; k < vm->nvol; k++)
		chain_del(&f->ix.vol_head[hash_str(vm->vol[k].id) & f->ix.vol_mask], f->ix.vol_next,
			  idx * FSM_VOLS_MAX + k + 1u, f->lim.max_vms * FSM_VOLS_MAX);
}

int fsm_ix_vol_scan(const struct fsm *f, const char *id,
		    bool (*fn)(const struct fsm *f, uint32_t idx, uint32_t vol, const void *arg), const void *arg)
{
	const struct fsm_index *ix = &f->ix;
	uint32_t steps = 0;
	for (uint32_t e = ix->vol_head[hash_str(id) & ix->vol_mask]; e != 0; e = ix->vol_next[e - 1u]) {
		FL_ASSERT(++steps <= f->lim.max_vms * FSM_VOLS_MAX);
		uint32_t idx = (e - 1u) / FSM_VOLS_MAX, k = (e - 1u) % FSM_VOLS_MAX;
		FL_ASSERT(idx < f->lim.max_vms);
		if (k < f->vms[idx].nvol && strcmp(f->vms[idx].vol[k].id, id) == 0 && fn(f, idx, k, arg))
			return (int)idx;
	}
	return -1;
}

uint32_t fsm_ix_spec_store(struct fsm *f, const uint8_t *spec, uint32_t len)
{
	struct fsm_index *ix = &f->ix;
	uint32_t need = fsm_ix_chunks(len), first = FSM_CHUNK_NONE, *link = &first;
	FL_ASSERT(need <= ix->free_n);
	for (uint32_t k = 0; k < need; k++) {
		uint32_t c = ix->free_head;
		FL_ASSERT(c < ix->n_chunks);
		ix->free_head = ix->chunk_next[c];
		ix->free_n--;
		uint32_t n = len - k * FSM_SPEC_CHUNK < FSM_SPEC_CHUNK ? len - k * FSM_SPEC_CHUNK : FSM_SPEC_CHUNK;
		memcpy(ix->chunks + (size_t)c * FSM_SPEC_CHUNK, spec + (size_t)k * FSM_SPEC_CHUNK, n);
		*link = c;
		link = &ix->chunk_next[c];
	}
	*link = FSM_CHUNK_NONE;
	return first;
}

void fsm_ix_spec_free(struct fsm *f, uint32_t first)
{
	struct fsm_index *ix = &f->ix;
	uint32_t steps = 0;
	while (first != FSM_CHUNK_NONE) {
		FL_ASSERT(first < ix->n_chunks);
		FL_ASSERT(++steps <= ix->n_chunks);
		uint32_t next = ix->chunk_next[first];
		ix->chunk_next[first] = ix->free_head;
		ix->free_head = first;
		ix->free_n++;
		first = next;
	}
	FL_ASSERT(ix->free_n <= ix->n_chunks);
}

bool fsm_ix_spec_equal(const struct fsm *f, uint32_t first, const uint8_t *spec, uint32_t len)
{
	const struct fsm_index *ix = &f->ix;
	uint32_t off = 0, c = first;
	while (off < len) {
		FL_ASSERT(c < ix->n_chunks);
		uint32_t n = len - off < FSM_SPEC_CHUNK ? len - off : FSM_SPEC_CHUNK;
		if (memcmp(spec + off, ix->chunks + (size_t)c * FSM_SPEC_CHUNK, n) != 0)
			return false;
		off += n;
		c = ix->chunk_next[c];
	}
	return true;
}

void fsm_ix_spec_copy(const struct fsm *f, uint32_t first, uint32_t len, uint8_t *buf)
{
	const struct fsm_index *ix = &f->ix;
	uint32_t off = 0, c = first;
	while (off < len) {
		FL_ASSERT(c < ix->n_chunks);
		uint32_t n = len - off < FSM_SPEC_CHUNK ? len - off : FSM_SPEC_CHUNK;
		memcpy(buf + off, ix->chunks + (size_t)c * FSM_SPEC_CHUNK, n);
		off += n;
		c = ix->chunk_next[c];
	}
}
