/* The FSM at the scale of a large cluster (plugin/model/fsm.c): 10,000 VMs
 * with 1-3 volumes each registered, looked up, listed, snapshotted and
 * restored; the snapshot bound (FSM_SNAP_MAX_BYTES) refusing registrations
 * before a snapshot could outgrow one Raft message; the spec pool giving
 * back what an update or an unregister frees. Costs about a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "plugin/model/fsm.h"
#include "tests/lib/fsm_vmgen.h"

#define N_VMS 10000u

static uint8_t g_buf[FSM_CMD_MAX_BYTES];

struct tf {
	struct fsm f;
	uint64_t index;
};

static int apply(struct tf *t, const struct fsm_cmd *c)
{
	size_t len = 0;
	struct fsm_cmd e = *c;
	e.stamp_us = 1000u + t->index;
	assert_int_equal(fsm_cmd_encode(&e, g_buf, sizeof(g_buf), &len), 0);
	t->index++;
	return fsm_apply(&t->f, t->index, 1, g_buf, len);
}

/* VM i: 1 + i % 3 volumes, a spec of about 330 bytes (a command line). */
static void vm_cmd(uint32_t i, struct fsm_cmd *c, char *spec, size_t cap)
{
	int n = fsm_vmgen_cmd(i, c, spec, cap);
	assert_true(n > 0 && (size_t)n < cap);
}

static int setup(void **state)
{
	struct tf *t = calloc(1, sizeof(*t));
	struct fsm_limits l;
	fsm_limits_default(&l);
	if (t == NULL || fsm_init(&t->f, &l) != 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tf *t = *state;
	fsm_free(&t->f);
	free(t);
	return 0;
}

static void hosts_add(struct tf *t, uint32_t n)
{
	for (uint32_t h = 1; h <= n; h++) {
		struct fsm_cmd c = {.type = FSM_CMD_HOST_ADD, .host_id = h, .role = FSM_ROLE_VOTER};
		snprintf(c.name, sizeof(c.name), "h%u", h);
		snprintf(c.addr, sizeof(c.addr), "10.0.0.%u:7000", h);
		assert_int_equal(apply(t, &c), 0);
	}
}

/* Registers N_VMS and places every other one on hosts 1..3. */
static void register_all(struct tf *t)
{
	char spec[512];
	struct fsm_cmd c;
	for (uint32_t i = 0; i < N_VMS; i++) {
		vm_cmd(i, &c, spec, sizeof(spec));
		assert_int_equal(apply(t, &c), 0);
		if (i % 2 == 0) {
			struct fsm_cmd p = {.type = FSM_CMD_VM_PLACE, .host_id = 1u + i % 3u};
			memcpy(p.uid, c.uid, sizeof(p.uid));
			assert_int_equal(apply(t, &p), 0);
		}
	}
}

static void ten_thousand_vms_register_list_snapshot_restore(void **state)
{
	struct tf *t = *state;
	hosts_add(t, 3);
	register_all(t);
	assert_int_equal(fsm_check(&t->f), 0);
	uint32_t n = 0, vols = 0;
	for (uint32_t i = 0; i < t->f.lim.max_vms; i++) {
		const struct fsm_vm *vm = fsm_vm_at(&t->f, i);
		n += vm != NULL;
		vols += vm != NULL ? vm->nvol : 0u;
	}
	assert_int_equal(n, N_VMS);
	assert_int_equal(vols, N_VMS / 3u * 6u + 1u); /* 1, 2, 3, 1, 2, 3, ..., 1 */
	uint32_t on = fsm_vms_on_host(&t->f, 1, NULL, 0) + fsm_vms_on_host(&t->f, 2, NULL, 0) +
		      fsm_vms_on_host(&t->f, 3, NULL, 0);
	assert_int_equal(on, N_VMS / 2u);
	/* Every uid and every volume is found through the indexes. */
	char spec[512];
	struct fsm_cmd c;
	for (uint32_t i = 0; i < N_VMS; i++) {
		vm_cmd(i, &c, spec, sizeof(spec));
		uint32_t idx = UINT32_MAX;
		const struct fsm_vm *vm = fsm_vm_find(&t->f, c.uid, &idx);
		assert_non_null(vm);
		assert_int_equal(idx, i);
		assert_true(fsm_vm_spec_equal(&t->f, vm, c.spec, c.spec_len));
		const struct fsm_vm *h = fsm_volume_holder(&t->f, c.vol[c.nvol - 1u].id, false, UINT32_MAX);
		assert_true(i % 2 == 0 ? h == vm : h == NULL);
	}
	/* A new VM on a placed VM's volume is refused; on a stopped one's, not. */
	vm_cmd(4, &c, spec, sizeof(spec));
	snprintf(c.uid, sizeof(c.uid), "intruder");
	assert_int_equal(apply(t, &c), -FL_EBUSY);
	/* The snapshot stays under its bound and restores to the same bytes. */
	size_t cap = fsm_snapshot_size(&t->f), len = 0, len2 = 0;
	assert_true(cap <= FSM_SNAP_MAX_BYTES);
	print_message("10,000 VMs: snapshot %zu bytes\n", cap);
	uint8_t *a = malloc(cap), *b = malloc(cap);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(fsm_snapshot(&t->f, a, cap, &len), 0);
	struct fsm g;
	assert_int_equal(fsm_init(&g, &t->f.lim), 0);
	assert_int_equal(fsm_restore(&g, a, len), 0);
	assert_int_equal(fsm_snapshot(&g, b, cap, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(a, b, len);
	assert_non_null(fsm_vm_find(&g, "vm-09999", NULL));
	assert_int_equal(g.charged, t->f.charged);
	assert_int_equal(g.ix.free_n, t->f.ix.free_n);
	fsm_free(&g);
	free(a);
	free(b);
}

/* Unregistering gives the spec chunks and the snapshot charge back; the
 * same VMs register again in the entries they left. */
static void unregister_and_register_again_reuses_pool(void **state)
{
	struct tf *t = *state;
	hosts_add(t, 1);
	char spec[512];
	struct fsm_cmd c;
	uint32_t free0 = t->f.ix.free_n;
	for (uint32_t i = 0; i < 3000; i++) {
		vm_cmd(i, &c, spec, sizeof(spec));
		assert_int_equal(apply(t, &c), 0);
	}
	uint64_t charged = t->f.charged;
	uint32_t free1 = t->f.ix.free_n;
	assert_true(free1 < free0);
	for (uint32_t i = 0; i < 3000; i += 2) {
		struct fsm_cmd u = {.type = FSM_CMD_VM_UNREGISTER};
		snprintf(u.uid, sizeof(u.uid), "vm-%05u", i);
		assert_int_equal(apply(t, &u), 0);
	}
	assert_true(t->f.charged < charged);
	for (uint32_t i = 0; i < 3000; i += 2) {
		vm_cmd(i, &c, spec, sizeof(spec));
		assert_int_equal(apply(t, &c), 0);
		uint32_t idx = 0;
		assert_non_null(fsm_vm_find(&t->f, c.uid, &idx));
		assert_int_equal(idx, i);
	}
	assert_int_equal(t->f.charged, charged);
	assert_int_equal(t->f.ix.free_n, free1);
	/* An update to a shorter spec frees chunks; back to the old one takes them again. */
	vm_cmd(7, &c, spec, sizeof(spec));
	c.spec_len = 10;
	assert_int_equal(apply(t, &c), 0);
	assert_true(t->f.ix.free_n > free1);
	vm_cmd(7, &c, spec, sizeof(spec));
	assert_int_equal(apply(t, &c), 0);
	assert_int_equal(t->f.ix.free_n, free1);
	assert_int_equal(fsm_check(&t->f), 0);
}

/* fsm_vm_scan_end() bounds the daemon's per-tick scans: every entry used
 * since the FSM was made is below it, through unregistrations and a restore
 * of a snapshot with fewer VMs; it is not the whole table. */
static void scan_end_covers_every_entry_ever_used(void **state)
{
	struct tf *t = *state;
	hosts_add(t, 1);
	assert_int_equal(fsm_vm_scan_end(&t->f), 0);
	char spec[512];
	struct fsm_cmd c;
	for (uint32_t i = 0; i < 100; i++) {
		vm_cmd(i, &c, spec, sizeof(spec));
		assert_int_equal(apply(t, &c), 0);
	}
	assert_int_equal(fsm_vm_scan_end(&t->f), 100);
	size_t cap = fsm_snapshot_size(&t->f), len = 0;
	uint8_t *snap = malloc(cap);
	assert_non_null(snap);
	for (uint32_t i = 0; i < 100; i++) { /* a snapshot of the VMs in entries 50..99 */
		if (i == 50)
			assert_int_equal(fsm_snapshot(&t->f, snap, cap, &len), 0);
		struct fsm_cmd u = {.type = FSM_CMD_VM_UNREGISTER};
		snprintf(u.uid, sizeof(u.uid), "vm-%05u", i);
		assert_int_equal(apply(t, &u), 0);
	}
	assert_int_equal(fsm_vm_count(&t->f), 0);
	assert_int_equal(fsm_vm_scan_end(&t->f), 100); /* unregistering does not lower it */
	assert_int_equal(fsm_restore(&t->f, snap, len), 0);
	assert_int_equal(fsm_vm_scan_end(&t->f), 100); /* nor does a restore */
	struct fsm g;				       /* a fresh replica restored from it covers the restored entries */
	assert_int_equal(fsm_init(&g, &t->f.lim), 0);
	assert_int_equal(fsm_restore(&g, snap, len), 0);
	assert_int_equal(fsm_vm_count(&g), 50);
	assert_int_equal(fsm_vm_scan_end(&g), 100);
	for (uint32_t i = fsm_vm_scan_end(&g); i < g.lim.max_vms; i++)
		assert_null(fsm_vm_at(&g, i));
	fsm_free(&g);
	free(snap);
}

/* Registrations with full-size specs stop at the snapshot bound, before
 * the table is full, and the largest snapshot still fits it. */
static void snapshot_bound_refuses_what_would_not_fit(void **state)
{
	struct tf *t = *state;
	hosts_add(t, 1);
	static uint8_t big[FSM_SPEC_MAX];
	memset(big, 'x', sizeof(big));
	char spec[512];
	struct fsm_cmd c;
	uint32_t n = 0;
	int rv = 0;
	for (; n < t->f.lim.max_vms && rv == 0; n++) {
		vm_cmd(n, &c, spec, sizeof(spec));
		c.spec = big;
		c.spec_len = sizeof(big);
		rv = apply(t, &c);
	}
	assert_int_equal(rv, -FL_ENOSPC);
	assert_true(n < t->f.lim.max_vms);
	assert_true(n > 800); /* 15 MiB of 16 KiB specs */
	assert_true(fsm_snapshot_size(&t->f) <= FSM_SNAP_MAX_BYTES);
	assert_true(t->f.charged <= t->f.charge_max);
	assert_null(fsm_vm_find(&t->f, c.uid, NULL));
	/* An update that grows an existing VM's spec is refused likewise... */
	vm_cmd(0, &c, spec, sizeof(spec));
	assert_int_equal(apply(t, &c), 0); /* shrinks vm 0 */
	vm_cmd(0, &c, spec, sizeof(spec));
	c.spec = big;
	c.spec_len = sizeof(big);
	assert_int_equal(apply(t, &c), 0); /* back to what it was: fits */
	vm_cmd(n, &c, spec, sizeof(spec));
	c.spec = big;
	c.spec_len = sizeof(big);
	assert_int_equal(apply(t, &c), -FL_ENOSPC);
	/* ... and what an unregister frees is usable again. */
	struct fsm_cmd u = {.type = FSM_CMD_VM_UNREGISTER};
	snprintf(u.uid, sizeof(u.uid), "vm-%05u", 3u);
	assert_int_equal(apply(t, &u), 0);
	assert_int_equal(apply(t, &c), 0);
	assert_int_equal(fsm_check(&t->f), 0);
}

static void memory_per_vm_is_stated(void **state)
{
	(void)state;
	struct fsm_limits l;
	fsm_limits_default(&l);
	size_t total = fsm_mem_bytes(&l), per = fsm_mem_per_vm();
	print_message("FSM tables for %u VMs: %zu bytes (%zu per VM slot + spec pool)\n", l.max_vms, total, per);
	assert_true(per >= sizeof(struct fsm_vm));
	assert_true(total > (size_t)l.max_vms * per);
	/* The spec pool is the snapshot bound's, not max_vms full-size specs. */
	assert_true(total < (size_t)l.max_vms * per + FSM_SNAP_MAX_BYTES + (size_t)l.max_vms * 2u * FSM_SPEC_CHUNK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ten_thousand_vms_register_list_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(unregister_and_register_again_reuses_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(scan_end_covers_every_entry_ever_used, setup, teardown),
		cmocka_unit_test_setup_teardown(snapshot_bound_refuses_what_would_not_fit, setup, teardown),
		cmocka_unit_test(memory_per_vm_is_stated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
