/* Memory accounting of an arbiter (arb_mem_usage, arbiter.h): what a host
 * holds as a function of the limits it was started with, the VMs registered
 * and the Raft log kept between snapshots. The simulator samples it over
 * simulated days of VM churn and fails a run whose hosts still grow after
 * the warm-up; the same counts are the basis of the bounds stated in
 * docs/operations.md. Only sizes are read here: nothing is allocated. */
#include <stdint.h>
#include "common/assert.h"
#include "plugin/arbiter/arb_internal.h"

/* Bytes of the tables fsm_init allocated for f's limits (0 for a freed FSM). */
static uint64_t fsm_table_bytes(const struct fsm *f)
{
	if (f->vms == NULL)
		return 0;
	return fsm_mem_bytes(&f->lim);
}

static void add_raft(struct arb_mem *m, struct raft_node *n)
{
	struct raft *r = n ? raft_node_core(n) : NULL;
	struct raft_mem_usage u;
	if (r == NULL)
		return;
	raft_mem_usage(r, &u);
	m->raft_entries += u.entries;
	m->raft_bytes += u.entry_bytes + u.log_array_bytes + u.snapshot_bytes;
}

void arb_mem_usage(const struct arb *a, struct arb_mem *out)
{
	FL_ASSERT(a != NULL);
	FL_ASSERT(out != NULL);
	*out = (struct arb_mem){.fsm_table_bytes = fsm_table_bytes(&a->fsm) + fsm_table_bytes(&a->w.fsm)};
	out->fsm_vms = fsm_vm_count(&a->fsm);
	for (uint32_t i = 0; i < a->fsm.lim.max_hosts; i++)
		out->fsm_hosts += fsm_host_at(&a->fsm, i) != NULL;
	add_raft(out, a->node);
	add_raft(out, a->w.node);
	out->arb_table_bytes = sizeof(*a) + (uint64_t)a->nlvm * (sizeof(*a->lvm) + 2 * sizeof(uint64_t));
	out->arb_buf_bytes = a->txbuf_len;
	for (uint32_t i = 0; i < ARB_WQ_MAX; i++)
		out->arb_buf_bytes += a->w.q[i].cap;
	out->variable = out->raft_bytes + out->arb_buf_bytes;
	out->total = out->fsm_table_bytes + out->arb_table_bytes + out->variable;
}
