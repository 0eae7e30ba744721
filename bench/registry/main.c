/* fl-bench-registry: the replicated registry (plugin/model/fsm.c) at cluster
 * scale. Registers N VMs (default 10,000) with 1-3 volumes and a ~330-byte
 * spec each, places half of them on 3 hosts, then measures: apply time per
 * registration, the snapshot's size and the time to write it, and the time
 * to install it (fsm_restore into a second FSM, what a follower does with
 * an InstallSnapshot), against the Raft message limit. `make bench`,
 * section 8; docs/design.md quotes its numbers.
 *
 *   fl-bench-registry [N] [ROUNDS]   (N <= the default table, 10,240) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/loop.h"
#include "fencelock/error.h"
#include "plugin/model/fsm.h"
#include "tests/lib/fsm_vmgen.h"

static uint8_t g_buf[FSM_CMD_MAX_BYTES];
static uint64_t g_index;

static int apply(struct fsm *f, const struct fsm_cmd *c)
{
	size_t len = 0;
	struct fsm_cmd e = *c;
	e.stamp_us = 1000u + g_index;
	if (fsm_cmd_encode(&e, g_buf, sizeof(g_buf), &len) != 0)
		return -FL_EINVAL;
	return fsm_apply(f, ++g_index, 1, g_buf, len);
}

static void vm_cmd(uint32_t i, struct fsm_cmd *c, char *spec, size_t cap)
{
	(void)fsm_vmgen_cmd(i, c, spec, cap);
}

static int populate(struct fsm *f, uint32_t n, uint64_t *us)
{
	for (uint32_t h = 1; h <= 3; h++) {
		struct fsm_cmd c = {.type = FSM_CMD_HOST_ADD, .host_id = h, .role = FSM_ROLE_VOTER};
		snprintf(c.name, sizeof(c.name), "h%u", h);
		snprintf(c.addr, sizeof(c.addr), "10.0.0.%u:7000", h);
		if (apply(f, &c) != 0)
			return -1;
	}
	char spec[512];
	struct fsm_cmd c;
	uint64_t t0 = fl_monotonic_us();
	for (uint32_t i = 0; i < n; i++) {
		vm_cmd(i, &c, spec, sizeof(spec));
		if (apply(f, &c) != 0)
			return -1;
		if (i % 2 == 0) {
			struct fsm_cmd p = {.type = FSM_CMD_VM_PLACE, .host_id = 1u + i % 3u};
			memcpy(p.uid, c.uid, sizeof(p.uid));
			if (apply(f, &p) != 0)
				return -1;
		}
	}
	*us = fl_monotonic_us() - t0;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 10000u;
	uint32_t rounds = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 9u;
	struct fsm_limits l;
	fsm_limits_default(&l);
	if (n == 0 || n > l.max_vms || rounds == 0 || rounds > 1000) {
		fprintf(stderr, "usage: fl-bench-registry [N (1..%u)] [ROUNDS (1..1000)]\n", l.max_vms);
		return 2;
	}
	struct fsm f, g;
	uint64_t reg_us = 0;
	if (fsm_init(&f, &l) != 0 || fsm_init(&g, &l) != 0 || populate(&f, n, &reg_us) != 0) {
		fprintf(stderr, "fl-bench-registry: setting up %u VMs failed\n", n);
		return 1;
	}
	size_t cap = fsm_snapshot_size(&f), len = 0;
	uint8_t *buf = malloc(cap);
	uint64_t *snap_us = calloc(rounds, sizeof(uint64_t)), *inst_us = calloc(rounds, sizeof(uint64_t));
	if (buf == NULL || snap_us == NULL || inst_us == NULL)
		return 1;
	for (uint32_t r = 0; r < rounds; r++) {
		uint64_t t0 = fl_monotonic_us();
		if (fsm_snapshot(&f, buf, cap, &len) != 0)
			return 1;
		uint64_t t1 = fl_monotonic_us();
		if (fsm_restore(&g, buf, len) != 0)
			return 1;
		snap_us[r] = t1 - t0;
		inst_us[r] = fl_monotonic_us() - t1;
	}
	qsort(snap_us, rounds, sizeof(uint64_t), cmp_u64);
	qsort(inst_us, rounds, sizeof(uint64_t), cmp_u64);
	printf("%-44s %14s   %s\n", "registry at scale", "fencelock", "bound");
	printf("%-44s %14u   %u (FSM_VMS_DEFAULT)\n", "VMs registered (1-3 volumes, ~330 B spec)", n, l.max_vms);
	printf("%-44s %14.1f   -\n", "apply, us per VM (register + place half)", (double)reg_us / n);
	printf("%-44s %14zu   %u (FSM_SNAP_MAX_BYTES; Raft message 16 MiB)\n", "snapshot, bytes", len,
	       FSM_SNAP_MAX_BYTES);
	printf("%-44s %14.1f   -\n", "snapshot, bytes per VM", (double)len / n);
	printf("%-44s %14.1f   -\n", "snapshot write, ms (median)", (double)snap_us[rounds / 2] / 1000.0);
	printf("%-44s %14.1f   -\n", "snapshot install (fsm_restore), ms (median)", (double)inst_us[rounds / 2] / 1000.0);
	printf("%-44s %14.1f   -\n", "snapshot install, ms (max)", (double)inst_us[rounds - 1] / 1000.0);
	printf("%-44s %14.1f   -\n", "FSM memory, MiB (tables + spec pool)", (double)fsm_mem_bytes(&l) / 1048576.0);
	printf("%-44s %14zu   -\n", "FSM memory per VM slot, bytes", fsm_mem_per_vm());
	free(buf);
	free(snap_us);
	free(inst_us);
	fsm_free(&f);
	fsm_free(&g);
	return 0;
}
