/* The FSM's event history, inside the model module: fsm.c calls these
 * around each apply (fsm_events.c derives the event from the command and
 * the state before and after it). Not part of the FSM's public interface. */
#ifndef FL_PLUGIN_FSM_EV_H
#define FL_PLUGIN_FSM_EV_H

#include <stdbool.h>
#include <stdint.h>
#include "plugin/model/fsm.h"

/* What an event needs of the state before its command applied. */
struct fsm_ev_pre {
	bool vm_known;	  /* the command's VM was registered */
	uint32_t vm_host; /* its desired host */
	uint8_t vm_run;	  /* its run state */
	bool fence_acked; /* the command's host had its fence acked already */
};

/* Before applying c: fills *pre. */
void fsm_ev_before(const struct fsm *f, const struct fsm_cmd *c, struct fsm_ev_pre *pre);
/* After c applied (only then) as entry (index, term): records its event,
 * if it makes one, in f's ring. */
void fsm_ev_after(struct fsm *f, uint64_t index, uint64_t term, const struct fsm_cmd *c,
		  const struct fsm_ev_pre *pre);

#endif
