/* The FSM's lookup indexes and spec pool, inside the model module: fsm.c
 * keeps them in step with the VM table (struct fsm_index, fsm.h). They are
 * never replicated: a restore rebuilds them from the tables, so nothing a
 * host decides depends on their layout. Not part of the FSM's public
 * interface. */
#ifndef FL_PLUGIN_FSM_IX_H
#define FL_PLUGIN_FSM_IX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "plugin/model/fsm.h"

/* Allocates the indexes and the pool for f->lim (f->ix zeroed before).
 * Returns 0 or -FL_ENOMEM. */
FL_MUST_CHECK int fsm_ix_alloc(struct fsm *f);
void fsm_ix_free(struct fsm *f);
/* Empties every index and puts every chunk on the free list. */
void fsm_ix_reset(struct fsm *f);

/* The lowest unused VM entry (max_vms when the table is full). */
uint32_t fsm_ix_vm_free(const struct fsm *f);
/* The used VM with this uid, or -1. */
int fsm_ix_uid_find(const struct fsm *f, const char *uid);
/* VM idx (used, uid set) joins / leaves the uid index. */
void fsm_ix_uid_add(struct fsm *f, uint32_t idx);
void fsm_ix_uid_del(struct fsm *f, uint32_t idx);
/* VM idx's volumes (vol[0..nvol)) join / leave the volume index. */
void fsm_ix_vols_add(struct fsm *f, uint32_t idx);
void fsm_ix_vols_del(struct fsm *f, uint32_t idx);
/* Calls fn(f, vm index, volume, arg) for every indexed volume whose identity
 * is id, until fn returns true; returns that VM index, or -1. */
int fsm_ix_vol_scan(const struct fsm *f, const char *id,
		    bool (*fn)(const struct fsm *f, uint32_t idx, uint32_t vol, const void *arg), const void *arg);

/* Chunks a spec of len bytes takes. */
static inline uint32_t fsm_ix_chunks(uint32_t len) { return (len + FSM_SPEC_CHUNK - 1u) / FSM_SPEC_CHUNK; }
/* Stores spec[0..len) in free chunks (there must be enough: checked by the
 * caller); returns the first chunk, FSM_CHUNK_NONE for len 0. */
uint32_t fsm_ix_spec_store(struct fsm *f, const uint8_t *spec, uint32_t len);
/* Returns the chain starting at first (FSM_CHUNK_NONE: nothing) to the free list. */
void fsm_ix_spec_free(struct fsm *f, uint32_t first);
/* True if the chain at first holds exactly spec[0..len). */
bool fsm_ix_spec_equal(const struct fsm *f, uint32_t first, const uint8_t *spec, uint32_t len);
/* Copies len bytes of the chain at first into buf. */
void fsm_ix_spec_copy(const struct fsm *f, uint32_t first, uint32_t len, uint8_t *buf);

#endif
