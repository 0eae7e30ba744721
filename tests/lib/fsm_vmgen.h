/* VM i of the 10,000-VM registry workloads (tests/unit/model/test_fsm_scale.c
 * and bench/registry): 1 + i % 3 volumes with LVM-style paths and
 * identities, a spec of about 330 bytes (a QEMU command line) written to
 * spec[cap]. Returns the spec's length (snprintf's: >= cap if cut). */
#ifndef FENCELOCK_TESTS_LIB_FSM_VMGEN_H
#define FENCELOCK_TESTS_LIB_FSM_VMGEN_H

#include <stdio.h>
#include <string.h>
#include "plugin/model/fsm.h"

static inline int fsm_vmgen_cmd(uint32_t i, struct fsm_cmd *c, char *spec, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->type = FSM_CMD_VM_REGISTER;
	snprintf(c->uid, sizeof(c->uid), "vm-%05u", i);
	c->restart = FSM_RESTART_ALWAYS;
	c->host_id = 1;
	c->nvol = (uint8_t)(1u + i % 3u);
	for (uint32_t k = 0; k < c->nvol; k++) {
		snprintf(c->vol[k].path, sizeof(c->vol[k].path), "/dev/mapper/vg%u-vm%05u-disk%u", i % 7u, i, k);
		snprintf(c->vol[k].id, sizeof(c->vol[k].id), "dm-uuid:LVM-%08x%08x%02u", i * 2654435761u, i, k);
	}
	int n = snprintf(spec, cap,
			 "{\"argv\":[\"/usr/bin/qemu-system-x86_64\",\"-name\",\"%s\",\"-m\",\"%u\",\"-smp\",\"2\","
			 "\"-drive\",\"file=%s,if=virtio,cache=none,format=raw\",\"-nographic\"],"
			 "\"volumes\":%u,\"n\":%u,\"cwd\":\"/var/lib/vms/%s\",\"env\":[\"LANG=C\",\"TZ=UTC\"],"
			 "\"log\":\"/var/log/vms/%s.log\"}",
			 c->uid, 512u + i % 4u * 512u, c->vol[0].path, c->nvol, i, c->uid, c->uid);
	c->spec = (const uint8_t *)spec;
	c->spec_len = n > 0 && (size_t)n < cap ? (uint32_t)n : 0u;
	return n;
}

#endif
