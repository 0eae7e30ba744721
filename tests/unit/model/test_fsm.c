/* Unit tests of the replicated state machine (plugin/model/fsm.c): every command
 * applied and rejected where it must be, compare-and-set placement, snapshot
 * round trips, determinism, and malformed input that must be rejected
 * without a crash. Commands go through encode + fsm_apply() as Raft would
 * deliver them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/crc32c.h"
#include "common/rand.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/model/fsm.h"

struct tf {
	struct fsm f;
	uint64_t index;
	uint64_t stamp_us;
};

static uint8_t g_buf[FSM_CMD_MAX_BYTES];

static int setup_limits(void **state, const struct fsm_limits *l)
{
	struct tf *t = calloc(1, sizeof(*t));
	if (t == NULL || fsm_init(&t->f, l) != 0)
		return -1;
	t->stamp_us = 1000;
	*state = t;
	return 0;
}

static int setup(void **state)
{
	struct fsm_limits l;
	fsm_limits_default(&l);
	l.max_hosts = 4;
	l.max_vms = 8;
	l.max_slots = 4;
	l.spec_max_bytes = 256;
	return setup_limits(state, &l);
}

static int teardown(void **state)
{
	struct tf *t = *state;
	fsm_free(&t->f);
	free(t);
	return 0;
}

/* Encodes c, stamps it with the fixture's cluster time and applies it at the
 * next index, as a committed Raft entry. */
static int submit(struct tf *t, struct fsm_cmd *c)
{
	size_t len = 0;
	c->stamp_us = t->stamp_us;
	assert_int_equal(fsm_cmd_encode(c, g_buf, sizeof(g_buf), &len), 0);
	t->index++;
	int rv = fsm_apply(&t->f, t->index, 1, g_buf, len);
	assert_int_equal(fsm_check(&t->f), 0);
	return rv;
}

static struct fsm_cmd *cmd_new(uint16_t type)
{
	static struct fsm_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = type;
	return &c;
}

static int host_add(struct tf *t, uint32_t id, const char *name)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_HOST_ADD);
	c->host_id = id;
	c->role = FSM_ROLE_VOTER;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->addr, sizeof(c->addr), "10.0.0.%u:7000", id);
	return submit(t, c);
}

static int host_cmd(struct tf *t, uint16_t type, uint32_t id)
{
	struct fsm_cmd *c = cmd_new(type);
	c->host_id = id;
	c->reason = FSM_FENCE_PARTITIONED;
	return submit(t, c);
}

/* Registers uid with one volume /dev/vg/<path> (rw unless ro). */
static int vm_register(struct tf *t, const char *uid, const char *path, bool ro)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_REGISTER);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->restart = FSM_RESTART_ALWAYS;
	c->nvol = 1;
	snprintf(c->vol[0].path, sizeof(c->vol[0].path), "%s", path);
	snprintf(c->vol[0].id, sizeof(c->vol[0].id), "id:%s", path);
	c->vol[0].ro = ro;
	c->owner_uid = 1000u + (uint32_t)strlen(uid); /* distinct per uid length: checked by the snapshot test */
	c->owner_gid = 2000u;
	static const uint8_t spec[] = "{\"vcpu\":2}";
	c->spec = spec;
	c->spec_len = sizeof(spec);
	return submit(t, c);
}

static int vm_place(struct tf *t, const char *uid, uint32_t host, uint64_t expect)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_PLACE);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->host_id = host;
	c->incarnation = expect;
	return submit(t, c);
}

static int vm_report(struct tf *t, const char *uid, uint32_t host, uint64_t inc, bool running)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_REPORT);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->host_id = host;
	c->incarnation = inc;
	c->running = running;
	return submit(t, c);
}

static int slot_alloc(struct tf *t, const char *uid, const char *path, uint32_t slot)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_SLOT_ALLOC);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	snprintf(c->volid, sizeof(c->volid), "id:%s", path);
	c->slot = slot;
	return submit(t, c);
}

/* ---- membership ---- */

static void host_add_makes_a_joined_host(void **state)
{
	struct tf *t = *state;
	assert_int_equal(host_add(t, 7, "node7"), 0);
	const struct fsm_host *h = fsm_host_find(&t->f, 7);
	assert_non_null(h);
	assert_string_equal(h->name, "node7");
	assert_string_equal(h->addr, "10.0.0.7:7000");
	assert_int_equal(h->state, FSM_HOST_JOINED);
	uint32_t ids[4];
	assert_int_equal(fsm_hosts_joined(&t->f, ids, 4), 1);
	assert_int_equal(ids[0], 7);
}

static void host_add_rejects_a_taken_id_or_name(void **state)
{
	struct tf *t = *state;
	assert_int_equal(host_add(t, 1, "a"), 0);
	assert_int_equal(host_add(t, 1, "b"), -FL_EBUSY);
	assert_int_equal(host_add(t, 2, "a"), -FL_EBUSY);
	assert_int_equal(t->f.ctr.applied, 1);
	assert_int_equal(t->f.ctr.rejected, 2);
}

static void host_add_rejects_ids_outside_sanlock_range_and_bad_roles(void **state)
{
	struct tf *t = *state;
	assert_int_equal(host_add(t, 0, "zero"), -FL_EINVAL);
	assert_int_equal(host_add(t, FSM_HOST_ID_MAX + 1, "big"), -FL_EINVAL);
	struct fsm_cmd *c = cmd_new(FSM_CMD_HOST_ADD);
	c->host_id = 3;
	c->role = 9;
	strcpy(c->name, "x");
	strcpy(c->addr, "y");
	assert_int_equal(submit(t, c), -FL_EINVAL);
	assert_null(fsm_host_find(&t->f, 3));
}

static void host_add_beyond_the_table_is_no_space(void **state)
{
	struct tf *t = *state;
	for (uint32_t i = 1; i <= 4; i++) {
		char n[16];
		snprintf(n, sizeof(n), "h%u", i);
		assert_int_equal(host_add(t, i, n), 0);
	}
	assert_int_equal(host_add(t, 5, "h5"), -FL_ENOSPC);
}

static void host_remove_is_refused_while_vms_are_placed_on_it(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	vm_register(t, "vm1", "/dev/vg/a", false);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_REMOVE, 1), -FL_EBUSY);
	assert_int_equal(vm_place(t, "vm1", 0, 1), 0);
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_REMOVE, 1), 0);
	assert_int_equal(fsm_host_find(&t->f, 1)->state, FSM_HOST_LEFT);
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_REMOVE, 1), -FL_ENOENT);
}

static void only_a_left_host_is_forgotten_and_its_id_is_free_again(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_FORGET, 1), -FL_EBUSY);
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_FORGET, 2), -FL_ENOENT);
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_REQUEST, 1), 0);
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_REMOVE, 1), 0);
	assert_int_equal(host_cmd(t, FSM_CMD_HOST_FORGET, 1), 0);
	assert_null(fsm_host_find(&t->f, 1));
	assert_int_equal(fsm_check(&t->f), 0);
	assert_int_equal(host_add(t, 1, "a2"), 0);
	assert_int_equal(fsm_host_find(&t->f, 1)->fence_total, 0); /* a new host: no history */
}

static void left_host_rejoins_in_its_old_record_with_its_fence_history(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_REQUEST, 1), 0);
	host_cmd(t, FSM_CMD_HOST_REMOVE, 1);
	assert_int_equal(host_add(t, 1, "a2"), 0);
	const struct fsm_host *h = fsm_host_find(&t->f, 1);
	assert_int_equal(h->state, FSM_HOST_JOINED);
	assert_string_equal(h->name, "a2");
	assert_int_equal(h->fence_total, 1);
}

static void host_rename_changes_the_name_unless_taken(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	struct fsm_cmd *c = cmd_new(FSM_CMD_HOST_RENAME);
	c->host_id = 1;
	strcpy(c->name, "b");
	assert_int_equal(submit(t, c), -FL_EBUSY);
	c = cmd_new(FSM_CMD_HOST_RENAME);
	c->host_id = 1;
	strcpy(c->name, "c");
	assert_int_equal(submit(t, c), 0);
	assert_string_equal(fsm_host_find(&t->f, 1)->name, "c");
	c = cmd_new(FSM_CMD_HOST_RENAME);
	c->host_id = 9;
	strcpy(c->name, "d");
	assert_int_equal(submit(t, c), -FL_ENOENT);
}

/* ---- VMs ---- */

static void vm_register_stores_volumes_and_spec_unplaced(void **state)
{
	struct tf *t = *state;
	assert_int_equal(vm_register(t, "vm1", "/dev/vg/a", false), 0);
	uint32_t idx = 99;
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", &idx);
	assert_non_null(vm);
	assert_int_equal(idx, 0);
	assert_int_equal(vm->nvol, 1);
	assert_string_equal(vm->vol[0].path, "/dev/vg/a");
	assert_int_equal(vm->vol[0].slot, FSM_SLOT_NONE);
	assert_int_equal(vm->desired_host, 0);
	assert_int_equal(vm->incarnation, 0);
	assert_true(fsm_vm_spec_equal(&t->f, vm, (const uint8_t *)"{\"vcpu\":2}", 11));
}

static void vm_register_of_a_known_uid_updates_its_spec_and_volumes_while_stopped(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(vm_register(t, "vm1", "/dev/vg/a", false), 0);
	assert_int_equal(slot_alloc(t, "vm1", "/dev/vg/a", 2), 0);
	assert_int_equal(vm_register(t, "vm1", "/dev/vg/b", false), 0);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_string_equal(vm->vol[0].id, "id:/dev/vg/b");
	assert_int_equal(vm->vol[0].slot, FSM_SLOT_NONE);   /* a new identity: a new slot */
	assert_int_equal(fsm_check(&t->f), 0);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	assert_int_equal(vm_register(t, "vm1", "/dev/vg/c", false), -FL_EBUSY);   /* placed: volumes stay */
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_REGISTER);
	strcpy(c->uid, "vm1");
	c->restart = FSM_RESTART_NEVER;
	c->nvol = 1;
	strcpy(c->vol[0].path, "/other/path/b");
	strcpy(c->vol[0].id, "id:/dev/vg/b");
	c->host_id = 1;
	assert_int_equal(submit(t, c), 0);   /* same identity, another path, a new policy */
	assert_string_equal(vm->vol[0].path, "/other/path/b");
	assert_int_equal(vm->restart, FSM_RESTART_NEVER);
	assert_int_equal(vm->path_host, 1);
	assert_int_equal(vm->desired_host, 1);
}

static void vm_register_refuses_a_rw_volume_an_active_vm_uses(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(vm_register(t, "vm1", "/dev/vg/a", false), 0);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	assert_int_equal(vm_register(t, "vm2", "/dev/vg/a", false), -FL_EBUSY);
	assert_int_equal(vm_register(t, "vm3", "/dev/vg/a", true), -FL_EBUSY);
}

static void a_stopped_vm_never_blocks_another_vm_on_its_volume(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(vm_register(t, "old", "/dev/vg/a", false), 0);
	assert_int_equal(vm_register(t, "new", "/dev/vg/a", false), 0);
	assert_int_equal(vm_place(t, "new", 1, 0), 0);
	/* Now "new" is active: "old" may not be placed on the same volume. */
	assert_int_equal(vm_place(t, "old", 1, 0), -FL_EBUSY);
}

static void vm_register_lets_vms_share_a_read_only_volume(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(vm_register(t, "vm1", "/dev/vg/base", true), 0);
	assert_int_equal(vm_register(t, "vm2", "/dev/vg/base", true), 0);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	assert_int_equal(vm_place(t, "vm2", 1, 0), 0);
	assert_int_equal(vm_register(t, "vm3", "/dev/vg/base", false), -FL_EBUSY);
}

static int vm_end(struct tf *t, const char *uid, uint32_t host, uint64_t inc, uint8_t unregister)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_END);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->host_id = host;
	c->incarnation = inc;
	c->flag = unregister;
	return submit(t, c);
}

static void vm_end_unplaces_or_unregisters_the_current_incarnation_only(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	vm_register(t, "vm1", "/dev/vg/a", false);
	slot_alloc(t, "vm1", "/dev/vg/a", 2);
	vm_place(t, "vm1", 1, 0);
	vm_report(t, "vm1", 1, 1, true);
	assert_int_equal(vm_end(t, "vm1", 1, 0, 0), -FL_ESTALE);
	assert_int_equal(vm_end(t, "vm1", 2, 1, 0), -FL_ESTALE);
	assert_int_equal(vm_end(t, "vm1", 1, 1, 0), 0);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_int_equal(vm->desired_host, 0);
	assert_int_equal(vm->run_state, FSM_RUN_STOPPED);
	assert_false(fsm_vm_active(vm));
	vm_place(t, "vm1", 1, 2);
	assert_int_equal(vm_end(t, "vm1", 1, 3, 1), 0);
	assert_null(fsm_vm_find(&t->f, "vm1", NULL));
	assert_int_equal(fsm_check(&t->f), 0);
}

static int vm_start_failed(struct tf *t, const char *uid, uint32_t host, uint64_t inc)
{
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_START_FAILED);
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->host_id = host;
	c->incarnation = inc;
	return submit(t, c);
}

static void a_start_failure_unplaces_the_vm_and_remembers_the_host(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_place(t, "vm1", 1, 0);
	assert_int_equal(vm_start_failed(t, "vm1", 2, 1), -FL_ESTALE);
	assert_int_equal(vm_start_failed(t, "vm1", 1, 1), 0);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_int_equal(vm->desired_host, 0);
	assert_true(vm->pending);
	assert_true(fsm_vm_failed_on(vm, 1));
	assert_false(fsm_vm_failed_on(vm, 2));
	assert_int_equal(vm_place(t, "vm1", 2, 2), 0);
	assert_int_equal(vm_report(t, "vm1", 2, 3, true), 0);
	assert_false(fsm_vm_failed_on(vm, 1));   /* it ran: the history is gone */
	assert_int_equal(vm->nfailed, 0);
}

static void a_failed_vm_is_never_placed_until_it_is_cleared(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_place(t, "vm1", 1, 0);
	vm_start_failed(t, "vm1", 1, 1);
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_FAIL);
	strcpy(c->uid, "vm1");
	c->incarnation = 1;
	assert_int_equal(submit(t, c), -FL_ESTALE);
	c = cmd_new(FSM_CMD_VM_FAIL);
	strcpy(c->uid, "vm1");
	c->incarnation = 2;
	assert_int_equal(submit(t, c), 0);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_true(vm->failed);
	assert_false(vm->pending);
	assert_int_equal(vm_place(t, "vm1", 1, 2), -FL_EPERM);
	c = cmd_new(FSM_CMD_VM_CLEAR);
	strcpy(c->uid, "vm1");
	assert_int_equal(submit(t, c), 0);
	assert_false(vm->failed);
	assert_true(vm->pending);
	assert_int_equal(vm->nfailed, 0);
	assert_int_equal(vm_place(t, "vm1", 1, 2), 0);
	c = cmd_new(FSM_CMD_VM_CLEAR);
	strcpy(c->uid, "vm1");
	assert_int_equal(submit(t, c), -FL_ENOENT);   /* nothing to clear */
}

static void vm_register_rejects_relative_paths_bad_policy_and_big_specs(void **state)
{
	struct tf *t = *state;
	assert_int_equal(vm_register(t, "vm1", "dev/vg/a", false), -FL_EINVAL);
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_REGISTER);
	strcpy(c->uid, "vm2");
	c->restart = 0;
	assert_int_equal(submit(t, c), -FL_EINVAL);
	static uint8_t big[257];
	c = cmd_new(FSM_CMD_VM_REGISTER);
	strcpy(c->uid, "vm3");
	c->restart = FSM_RESTART_NEVER;
	c->spec = big;
	c->spec_len = sizeof(big);   /* the fixture's limit is 256 */
	assert_int_equal(submit(t, c), -FL_EINVAL);
	assert_null(fsm_vm_find(&t->f, "vm3", NULL));
}

static void vm_unregister_is_refused_while_running_and_frees_its_slots(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	vm_register(t, "vm1", "/dev/vg/a", false);
	assert_int_equal(slot_alloc(t, "vm1", "/dev/vg/a", FSM_SLOT_ANY), 0);
	vm_place(t, "vm1", 1, 0);
	assert_int_equal(vm_report(t, "vm1", 1, 1, true), 0);
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_UNREGISTER);
	strcpy(c->uid, "vm1");
	assert_int_equal(submit(t, c), -FL_EBUSY);
	assert_int_equal(vm_report(t, "vm1", 1, 1, false), 0);
	c = cmd_new(FSM_CMD_VM_UNREGISTER);
	strcpy(c->uid, "vm1");
	assert_int_equal(submit(t, c), 0);
	assert_null(fsm_vm_find(&t->f, "vm1", NULL));
	assert_int_equal(t->f.slots[0].vm_plus1, 0);
}

static void vm_place_bumps_the_incarnation_and_resets_the_run_state(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	vm_register(t, "vm1", "/dev/vg/a", false);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	vm_report(t, "vm1", 1, 1, true);
	assert_int_equal(vm_place(t, "vm1", 2, 1), 0);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_int_equal(vm->desired_host, 2);
	assert_int_equal(vm->incarnation, 2);
	assert_int_equal(vm->run_state, FSM_RUN_STOPPED);
	assert_int_equal(t->f.ctr.placements, 2);
	uint32_t idx[2];
	assert_int_equal(fsm_vms_on_host(&t->f, 2, idx, 2), 1);
	assert_int_equal(fsm_vms_on_host(&t->f, 1, idx, 2), 0);
}

static void vm_place_with_a_stale_incarnation_is_rejected(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	vm_register(t, "vm1", "/dev/vg/a", false);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	/* Two leaders decided on incarnation 0: only the first decision lands. */
	assert_int_equal(vm_place(t, "vm1", 2, 0), -FL_ESTALE);
	assert_int_equal(fsm_vm_find(&t->f, "vm1", NULL)->desired_host, 1);
	assert_int_equal(fsm_vm_find(&t->f, "vm1", NULL)->incarnation, 1);
}

static void vm_place_refuses_unknown_left_and_quarantined_hosts(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	vm_register(t, "vm1", "/dev/vg/a", false);
	assert_int_equal(vm_place(t, "vm1", 9, 0), -FL_ENOENT);
	host_cmd(t, FSM_CMD_HOST_REMOVE, 2);
	assert_int_equal(vm_place(t, "vm1", 2, 0), -FL_EPERM);
	struct fsm_cmd *c = cmd_new(FSM_CMD_QUARANTINE_SET);
	c->host_id = 1;
	c->until_us = t->stamp_us + 10;
	assert_int_equal(submit(t, c), 0);
	assert_int_equal(vm_place(t, "vm1", 1, 0), -FL_EPERM);
	t->stamp_us += 10;   /* cluster time reaches the end of the quarantine */
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
	assert_int_equal(vm_place(t, "nope", 1, 0), -FL_ENOENT);
}

static void vm_place_refuses_a_host_with_a_pending_fence(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	vm_register(t, "vm1", "/dev/vg/a", false);
	host_cmd(t, FSM_CMD_FENCE_REQUEST, 1);
	assert_int_equal(vm_place(t, "vm1", 1, 0), -FL_EPERM);
	host_cmd(t, FSM_CMD_FENCE_CLEAR, 1);
	assert_int_equal(vm_place(t, "vm1", 1, 0), 0);
}

static void command_types_have_names_for_the_logs(void **state)
{
	(void)state;
	assert_string_equal(fsm_cmd_type_name(FSM_CMD_VM_PLACE), "vm-place");
	assert_string_equal(fsm_cmd_type_name(FSM_CMD_SLOT_FREE), "slot-free");
	assert_string_equal(fsm_cmd_type_name(0), "?");
	assert_string_equal(fsm_cmd_type_name(FSM_CMD_TYPE_END), "?");
}

static void vm_report_of_another_incarnation_or_host_is_stale(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_place(t, "vm1", 1, 0);
	vm_place(t, "vm1", 2, 1);
	/* The old host reports about the placement that was moved away. */
	assert_int_equal(vm_report(t, "vm1", 1, 1, true), -FL_ESTALE);
	assert_int_equal(vm_report(t, "vm1", 1, 2, true), -FL_ESTALE);
	assert_int_equal(vm_report(t, "vm1", 2, 2, true), 0);
	const struct fsm_vm *vm = fsm_vm_find(&t->f, "vm1", NULL);
	assert_int_equal(vm->run_state, FSM_RUN_RUNNING);
	assert_int_equal(vm->run_host, 2);
}

/* ---- fencing and quarantine ---- */

static void fence_request_records_index_term_and_time_once(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	t->stamp_us = 5000;
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_REQUEST, 1), 0);
	const struct fsm_host *h = fsm_host_find(&t->f, 1);
	assert_true(h->fence.active);
	assert_false(h->fence.acked);
	assert_int_equal(h->fence.req_index, t->index);
	assert_int_equal(h->fence.req_term, 1);
	assert_int_equal(h->fence.req_stamp_us, 5000);
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_REQUEST, 1), -FL_EBUSY);
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_REQUEST, 2), -FL_ENOENT);
	assert_int_equal(t->f.ctr.fences, 1);
}

static void fence_ack_must_name_the_pending_request(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	struct fsm_cmd *c = cmd_new(FSM_CMD_FENCE_ACK);
	c->host_id = 1;
	c->fence_index = 1;
	assert_int_equal(submit(t, c), -FL_ENOENT);
	host_cmd(t, FSM_CMD_FENCE_REQUEST, 1);
	uint64_t req = t->index;
	c = cmd_new(FSM_CMD_FENCE_ACK);
	c->host_id = 1;
	c->fence_index = req - 1;
	assert_int_equal(submit(t, c), -FL_ESTALE);
	c = cmd_new(FSM_CMD_FENCE_ACK);
	c->host_id = 1;
	c->fence_index = req;
	assert_int_equal(submit(t, c), 0);
	assert_true(fsm_host_find(&t->f, 1)->fence.acked);
}

static void fence_clear_ends_the_record_and_allows_a_new_request(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_CLEAR, 1), -FL_ENOENT);
	host_cmd(t, FSM_CMD_FENCE_REQUEST, 1);
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_CLEAR, 1), 0);
	assert_false(fsm_host_find(&t->f, 1)->fence.active);
	assert_int_equal(host_cmd(t, FSM_CMD_FENCE_REQUEST, 1), 0);
	assert_int_equal(fsm_host_find(&t->f, 1)->fence_total, 2);
}

static void fences_since_counts_only_those_in_the_window(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	uint64_t at[4] = {1000, 2000, 3000, 4000};
	for (int i = 0; i < 4; i++) {
		t->stamp_us = at[i];
		host_cmd(t, FSM_CMD_FENCE_REQUEST, 1);
		host_cmd(t, FSM_CMD_FENCE_CLEAR, 1);
	}
	assert_int_equal(fsm_host_fences_since(&t->f, 1, 0), 4);
	assert_int_equal(fsm_host_fences_since(&t->f, 1, 2000), 3);
	assert_int_equal(fsm_host_fences_since(&t->f, 1, 4001), 0);
	assert_int_equal(fsm_host_fences_since(&t->f, 9, 0), 0);
}

static void quarantine_holds_until_its_end_in_cluster_time(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	struct fsm_cmd *c = cmd_new(FSM_CMD_QUARANTINE_SET);
	c->host_id = 1;
	c->until_us = 9000;
	assert_int_equal(submit(t, c), 0);
	assert_true(fsm_host_quarantined(&t->f, 1, 8999));
	assert_false(fsm_host_quarantined(&t->f, 1, 9000));
	assert_int_equal(host_cmd(t, FSM_CMD_QUARANTINE_CLEAR, 1), 0);
	assert_false(fsm_host_quarantined(&t->f, 1, 0));
	assert_int_equal(host_cmd(t, FSM_CMD_QUARANTINE_CLEAR, 5), -FL_ENOENT);
}

static void quarantine_ending_in_the_past_is_rejected(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	struct fsm_cmd *c = cmd_new(FSM_CMD_QUARANTINE_SET);
	c->host_id = 1;
	c->until_us = t->stamp_us;
	assert_int_equal(submit(t, c), -FL_EINVAL);
	assert_false(fsm_host_quarantined(&t->f, 1, 0));
}

static void cluster_clock_never_goes_backwards(void **state)
{
	struct tf *t = *state;
	t->stamp_us = 5000;
	host_add(t, 1, "a");
	t->stamp_us = 3000;   /* a new leader whose estimate lags */
	host_add(t, 2, "b");
	assert_int_equal(fsm_clock_us(&t->f), 5000);
}

/* ---- slots ---- */

static void slot_alloc_takes_the_lowest_free_slot(void **state)
{
	struct tf *t = *state;
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_register(t, "vm2", "/dev/vg/b", false);
	assert_int_equal(slot_alloc(t, "vm1", "/dev/vg/a", 0), 0);
	assert_int_equal(slot_alloc(t, "vm2", "/dev/vg/b", FSM_SLOT_ANY), 0);
	uint32_t s = 99;
	assert_int_equal(fsm_volume_slot(&t->f, "vm2", "id:/dev/vg/b", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(fsm_volume_slot(&t->f, "vm2", "id:/dev/vg/x", &s), -FL_ENOENT);
}

static void slot_alloc_rejects_taken_out_of_range_and_unknown(void **state)
{
	struct tf *t = *state;
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_register(t, "vm2", "/dev/vg/b", false);
	assert_int_equal(slot_alloc(t, "vm1", "/dev/vg/a", 2), 0);
	assert_int_equal(slot_alloc(t, "vm1", "/dev/vg/a", 3), -FL_EBUSY);   /* has one */
	assert_int_equal(slot_alloc(t, "vm2", "/dev/vg/b", 2), -FL_EBUSY);   /* slot taken */
	assert_int_equal(slot_alloc(t, "vm2", "/dev/vg/b", 4), -FL_EINVAL);  /* past the table */
	assert_int_equal(slot_alloc(t, "vm2", "/dev/vg/zz", 1), -FL_ENOENT);
	assert_int_equal(slot_alloc(t, "vm9", "/dev/vg/b", 1), -FL_ENOENT);
}

static void slot_alloc_in_a_full_table_is_no_space(void **state)
{
	struct tf *t = *state;
	const char *p[5] = {"/d/0", "/d/1", "/d/2", "/d/3", "/d/4"};
	for (int i = 0; i < 5; i++) {
		char uid[16];
		snprintf(uid, sizeof(uid), "vm%d", i);
		vm_register(t, uid, p[i], false);
		assert_int_equal(slot_alloc(t, uid, p[i], FSM_SLOT_ANY), i < 4 ? 0 : -FL_ENOSPC);
	}
}

static void slot_free_releases_unless_the_vm_runs(void **state)
{
	struct tf *t = *state;
	host_add(t, 1, "a");
	vm_register(t, "vm1", "/dev/vg/a", false);
	slot_alloc(t, "vm1", "/dev/vg/a", 1);
	vm_place(t, "vm1", 1, 0);
	vm_report(t, "vm1", 1, 1, true);
	struct fsm_cmd *c = cmd_new(FSM_CMD_SLOT_FREE);
	c->slot = 1;
	assert_int_equal(submit(t, c), -FL_EBUSY);
	vm_report(t, "vm1", 1, 1, false);
	c = cmd_new(FSM_CMD_SLOT_FREE);
	c->slot = 1;
	assert_int_equal(submit(t, c), 0);
	uint32_t s;
	assert_int_equal(fsm_volume_slot(&t->f, "vm1", "/dev/vg/a", &s), -FL_ENOENT);
	c = cmd_new(FSM_CMD_SLOT_FREE);
	c->slot = 1;
	assert_int_equal(submit(t, c), -FL_ENOENT);
}

/* ---- encoding ---- */

static void every_command_type_round_trips_through_encode_and_decode(void **state)
{
	(void)state;
	for (uint16_t type = 1; type < FSM_CMD_TYPE_END; type++) {
		struct fsm_cmd c = {.type = type, .stamp_us = 77, .host_id = 3, .role = 1,
				    .restart = 1, .running = 1, .reason = 2, .nvol = 2,
				    .ptol_us = 5, .incarnation = 6, .fence_index = 7,
				    .until_us = 8, .slot = 9, .spec_len = 3,
				    .spec = (const uint8_t *)"abc"};
		strcpy(c.name, "n");
		strcpy(c.addr, "a b");
		strcpy(c.uid, "u");
		strcpy(c.volid, "id:p");
		strcpy(c.vol[0].path, "/v0");
		strcpy(c.vol[1].path, "/v1");
		strcpy(c.vol[0].id, "id:v0");
		strcpy(c.vol[1].id, "id:v1");
		c.vol[1].ro = true;
		size_t len;
		assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), 0);
		struct fsm_cmd d;
		assert_int_equal(fsm_cmd_decode(g_buf, len, &d), 0);
		assert_int_equal(d.type, type);
		assert_true(d.stamp_us == 77);
		size_t len2;
		static uint8_t again[FSM_CMD_MAX_BYTES];
		assert_int_equal(fsm_cmd_encode(&d, again, sizeof(again), &len2), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(again, g_buf, len);
	}
}

static void encode_refuses_fields_over_their_bounds(void **state)
{
	(void)state;
	struct fsm_cmd c = {.type = FSM_CMD_VM_UNREGISTER};
	memset(c.uid, 'x', FSM_UID_MAX + 1);   /* 65 bytes, no NUL within the bound */
	size_t len;
	assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), -FL_EINVAL);
	memset(c.uid, 0, sizeof(c.uid));
	strcpy(c.uid, "has space");
	assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), -FL_EINVAL);
	strcpy(c.uid, "ok");
	assert_int_equal(fsm_cmd_encode(&c, g_buf, FSM_CMD_HDR_BYTES + 3, &len), -FL_ENOSPC);
	c.type = 999;
	assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), -FL_EINVAL);
}

static size_t encode_place(uint8_t *buf)
{
	struct fsm_cmd c = {.type = FSM_CMD_VM_PLACE, .host_id = 1, .incarnation = 0};
	strcpy(c.uid, "vm1");
	size_t len;
	assert_int_equal(fsm_cmd_encode(&c, buf, FSM_CMD_MAX_BYTES, &len), 0);
	return len;
}

static void decode_names_what_is_wrong_with_the_header(void **state)
{
	(void)state;
	struct fsm_cmd c;
	size_t len = encode_place(g_buf);
	g_buf[0] ^= 1;
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), -FL_EMAGIC);
	g_buf[0] ^= 1;
	g_buf[4] = FSM_CMD_VERSION + 1;
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), -FL_EVERSION);
	g_buf[4] = FSM_CMD_VERSION;
	g_buf[len - 1] ^= 0x40;
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), -FL_ECHECKSUM);
	g_buf[len - 1] ^= 0x40;
	assert_int_equal(fsm_cmd_decode(g_buf, len - 1, &c), -FL_EINVAL);
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), 0);
}

static void decode_rejects_trailing_bytes_even_with_a_good_crc(void **state)
{
	(void)state;
	size_t len = encode_place(g_buf);
	g_buf[len] = 0;
	len++;
	fl_put_le32(g_buf + 8, (uint32_t)(len - FSM_CMD_HDR_BYTES));
	uint32_t crc = ~fl_crc32c(fl_crc32c(0xFFFFFFFFu, g_buf, 12), g_buf + 16, len - 16);
	fl_put_le32(g_buf + 12, crc);
	struct fsm_cmd c;
	assert_int_equal(fsm_cmd_decode(g_buf, len, &c), -FL_EINVAL);
}

static void every_truncation_and_bit_flip_of_a_command_is_rejected(void **state)
{
	struct tf *t = *state;
	static uint8_t good[FSM_CMD_MAX_BYTES];
	size_t len = encode_place(good);
	for (size_t n = 0; n < len; n++) {
		t->index++;
		assert_true(fsm_apply(&t->f, t->index, 1, good, n) < 0);
	}
	for (size_t bit = 0; bit < len * 8; bit++) {
		memcpy(g_buf, good, len);
		g_buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		t->index++;
		assert_true(fsm_apply(&t->f, t->index, 1, g_buf, len) < 0);
	}
	assert_int_equal(t->f.ctr.applied, 0);
	assert_int_equal(t->f.ctr.rejected, len + len * 8);
	assert_int_equal(t->f.last_index, t->index);
}

/* Random bodies behind a valid header and CRC reach the field parser; it
 * must reject or accept cleanly, and whatever it accepts must apply without
 * breaking an invariant. */
static void random_bodies_with_valid_crc_never_crash_or_corrupt(void **state)
{
	struct tf *t = *state;
	struct fl_rand r;
	fl_rand_seed(&r, 0xF5);
	host_add(t, 1, "a");
	for (int iter = 0; iter < 20000; iter++) {
		size_t body = (size_t)fl_rand_below(&r, 64);
		size_t len = FSM_CMD_HDR_BYTES + body;
		for (size_t k = 0; k < len; k++)
			g_buf[k] = (uint8_t)fl_rand_next(&r);
		/* Small numbers make short strings, so some bodies parse. */
		for (size_t k = FSM_CMD_HDR_BYTES; k < len; k++)
			if (fl_rand_chance(&r, 1, 2))
				g_buf[k] = (uint8_t)fl_rand_below(&r, 4);
		fl_put_le32(g_buf, FSM_CMD_MAGIC);
		fl_put_le16(g_buf + 4, FSM_CMD_VERSION);
		fl_put_le16(g_buf + 6, (uint16_t)fl_rand_below(&r, FSM_CMD_TYPE_END + 1));
		fl_put_le32(g_buf + 8, (uint32_t)body);
		uint32_t crc = ~fl_crc32c(fl_crc32c(0xFFFFFFFFu, g_buf, 12), g_buf + 16, len - 16);
		fl_put_le32(g_buf + 12, crc);
		t->index++;
		int rv = fsm_apply(&t->f, t->index, 1, g_buf, len);
		assert_true(rv <= 0 && rv > -FL_ERRNO_MAX);
		assert_int_equal(fsm_check(&t->f), 0);
	}
	assert_int_equal(t->f.ctr.applied + t->f.ctr.rejected, 20001);
}

static void random_bytes_are_rejected_without_a_crash(void **state)
{
	struct tf *t = *state;
	struct fl_rand r;
	fl_rand_seed(&r, 7);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)fl_rand_below(&r, 200);
		for (size_t k = 0; k < len; k++)
			g_buf[k] = (uint8_t)fl_rand_next(&r);
		t->index++;
		assert_true(fsm_apply(&t->f, t->index, 1, g_buf, len) < 0);
	}
	t->index++;
	assert_true(fsm_apply(&t->f, t->index, 1, NULL, 0) < 0);
	assert_int_equal(t->f.ctr.applied, 0);
}

/* ---- snapshots and determinism ---- */

static void populate(struct tf *t)
{
	host_add(t, 1, "a");
	host_add(t, 2, "b");
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_register(t, "vm2", "/dev/vg/b", false);
	vm_register(t, "vm3", "/dev/vg/c", true);
	slot_alloc(t, "vm1", "/dev/vg/a", FSM_SLOT_ANY);
	slot_alloc(t, "vm3", "/dev/vg/c", 3);
	vm_place(t, "vm1", 1, 0);
	vm_place(t, "vm2", 2, 0);
	vm_report(t, "vm1", 1, 1, true);
	struct fsm_cmd *c = cmd_new(FSM_CMD_VM_UNREGISTER);
	strcpy(c->uid, "vm2");   /* leaves a hole in the VM table */
	submit(t, c);
	host_cmd(t, FSM_CMD_FENCE_REQUEST, 2);
	c = cmd_new(FSM_CMD_QUARANTINE_SET);
	c->host_id = 2;
	c->until_us = 1u << 30;
	submit(t, c);
}

static uint8_t *snap(const struct fsm *f, size_t *len)
{
	size_t cap = fsm_snapshot_size(f);
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	assert_int_equal(fsm_snapshot(f, buf, cap, len), 0);
	assert_int_equal(*len, cap);
	return buf;
}

static void snapshot_restores_to_an_identical_state(void **state)
{
	struct tf *t = *state;
	populate(t);
	size_t len, len2;
	uint8_t *a = snap(&t->f, &len);
	struct tf *u = NULL;
	assert_int_equal(setup((void **)&u), 0);
	assert_int_equal(fsm_restore(&u->f, a, len), 0);
	uint8_t *b = snap(&u->f, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(a, b, len);
	assert_int_equal(u->f.last_index, t->index);
	uint32_t s;
	assert_int_equal(fsm_volume_slot(&u->f, "vm3", "id:/dev/vg/c", &s), 0);
	assert_int_equal(s, 3);
	assert_true(fsm_host_quarantined(&u->f, 2, 5000));
	assert_true(fsm_vm_spec_equal(&u->f, fsm_vm_find(&u->f, "vm1", NULL), (const uint8_t *)"{\"vcpu\":2}", 11));
	/* Who registered it survives: a re-run anywhere runs as them. */
	assert_int_equal(fsm_vm_find(&u->f, "vm1", NULL)->owner_uid, 1003u);
	assert_int_equal(fsm_vm_find(&u->f, "vm1", NULL)->owner_gid, 2000u);
	free(a);
	free(b);
	void *us = u;
	teardown(&us);
}

static void snapshot_too_small_a_buffer_is_no_space(void **state)
{
	struct tf *t = *state;
	populate(t);
	size_t need = fsm_snapshot_size(&t->f), len;
	uint8_t *buf = malloc(need);
	assert_int_equal(fsm_snapshot(&t->f, buf, need - 1, &len), -FL_ENOSPC);
	free(buf);
}

static void corrupt_or_truncated_snapshot_is_refused_and_state_kept(void **state)
{
	struct tf *t = *state;
	populate(t);
	size_t len;
	uint8_t *a = snap(&t->f, &len);
	struct tf *u = NULL;
	assert_int_equal(setup((void **)&u), 0);
	host_add(u, 4, "keep");
	for (size_t k = 0; k < len; k++) {
		a[k] ^= 0x10;
		assert_true(fsm_restore(&u->f, a, len) < 0);
		a[k] ^= 0x10;
		assert_non_null(fsm_host_find(&u->f, 4));
	}
	for (size_t n = 0; n < len; n++)
		assert_true(fsm_restore(&u->f, a, n) < 0);
	assert_non_null(fsm_host_find(&u->f, 4));
	free(a);
	void *us = u;
	teardown(&us);
}

/* A snapshot of smaller tables restores into larger ones (an upgrade that
 * raised a table size), keeping every entry and index; one of larger
 * tables is foreign to smaller ones. */
static void a_snapshot_restores_into_larger_tables_never_into_smaller(void **state)
{
	struct tf *t = *state;
	populate(t);
	size_t len, len2;
	uint8_t *a = snap(&t->f, &len);
	struct fsm_limits l;
	fsm_limits_default(&l);
	struct tf *u = NULL;
	assert_int_equal(setup_limits((void **)&u, &l), 0);
	assert_int_equal(fsm_restore(&u->f, a, len), 0);
	assert_int_equal(fsm_vm_count(&u->f), fsm_vm_count(&t->f));
	for (uint32_t i = 0; i < t->f.lim.max_vms; i++) {
		const struct fsm_vm *v = fsm_vm_at(&t->f, i), *w = fsm_vm_at(&u->f, i);
		assert_true((v == NULL) == (w == NULL));
		if (v != NULL)
			assert_string_equal(v->uid, w->uid);
	}
	assert_int_equal(fsm_check(&u->f), 0);
	uint8_t *b = snap(&u->f, &len2); /* and the other way: foreign */
	assert_int_equal(fsm_restore(&t->f, b, len2), -FL_EFOREIGN);
	assert_int_equal(fsm_check(&t->f), 0);
	free(a);
	free(b);
	void *us = u;
	teardown(&us);
}

static void snapshot_with_good_crc_but_colliding_slots_is_corrupt_and_empties(void **state)
{
	struct tf *t = *state;
	vm_register(t, "vm1", "/dev/vg/a", false);
	vm_register(t, "vm2", "/dev/vg/b", false);
	slot_alloc(t, "vm1", "/dev/vg/a", 2);
	slot_alloc(t, "vm2", "/dev/vg/b", 1);
	size_t len;
	uint8_t *a = snap(&t->f, &len);
	/* Find vm2's slot (u32 1 right after its path "/dev/vg/b" and ro byte)
	 * and make it collide with vm1's slot 2, then fix the CRC. */
	uint8_t *p = memmem(a, len, "/dev/vg/b", 9);   /* its identity, "id:/dev/vg/b" */
	assert_non_null(p);
	p = memmem(p + 9, len - (size_t)(p + 9 - a), "/dev/vg/b", 9);   /* then its path */
	assert_non_null(p);
	assert_int_equal(fl_get_le32(p + 10), 1);
	fl_put_le32(p + 10, 2);
	fl_put_le32(a + 12, fl_crc32c_std(a + FSM_SNAP_HDR_BYTES, len - FSM_SNAP_HDR_BYTES));
	assert_int_equal(fsm_restore(&t->f, a, len), -FL_ECORRUPT);
	assert_null(fsm_vm_find(&t->f, "vm1", NULL));
	assert_int_equal(t->f.last_index, 0);
	free(a);
}

/* A random but plausible command stream: small id and name spaces so that
 * commands collide, apply and get rejected in every way. */
static void random_command(struct fl_rand *r, struct fsm_cmd *c, uint64_t stamp_us)
{
	static const uint8_t spec[4] = {1, 2, 3, 4};
	memset(c, 0, sizeof(*c));
	c->type = (uint16_t)fl_rand_range(r, 1, FSM_CMD_TYPE_END - 1);
	c->stamp_us = stamp_us;
	c->host_id = (uint32_t)fl_rand_range(r, 1, 3);
	c->role = (uint8_t)fl_rand_range(r, 1, 2);
	c->restart = (uint8_t)fl_rand_range(r, 1, FSM_RESTART_END - 1);
	c->flag = (uint8_t)fl_rand_below(r, 2);
	c->running = (uint8_t)fl_rand_below(r, 2);
	c->reason = (uint8_t)fl_rand_range(r, 1, 3);
	snprintf(c->name, sizeof(c->name), "n%u", (unsigned)fl_rand_below(r, 6));
	strcpy(c->addr, "addr");
	snprintf(c->uid, sizeof(c->uid), "vm%u", (unsigned)fl_rand_below(r, 6));
	snprintf(c->volid, sizeof(c->volid), "id:d%u", (unsigned)fl_rand_below(r, 12));
	c->nvol = (uint8_t)fl_rand_below(r, 3);
	for (uint32_t i = 0; i < c->nvol; i++) {
		snprintf(c->vol[i].path, sizeof(c->vol[i].path), "/d/%u", (unsigned)fl_rand_below(r, 12));
		snprintf(c->vol[i].id, sizeof(c->vol[i].id), "id:d%u", (unsigned)fl_rand_below(r, 12));
		c->vol[i].ro = fl_rand_chance(r, 1, 3);
	}
	c->incarnation = fl_rand_below(r, 3);
	c->fence_index = fl_rand_below(r, 3000);
	c->until_us = stamp_us + fl_rand_below(r, 5000);
	c->slot = fl_rand_chance(r, 1, 2) ? FSM_SLOT_ANY : (uint32_t)fl_rand_below(r, 5);
	c->spec = spec;
	c->spec_len = (uint32_t)fl_rand_below(r, 5);
}

/* Half the time, aims the command at a VM as it stands (its uid, current
 * incarnation and host), so reports and CAS placements often apply. */
static void random_command_on(struct fl_rand *r, const struct fsm *f, struct fsm_cmd *c, uint64_t stamp_us)
{
	random_command(r, c, stamp_us);
	const struct fsm_vm *vm = fsm_vm_at(f, (uint32_t)fl_rand_below(r, f->lim.max_vms));
	if (vm == NULL || fl_rand_chance(r, 1, 2))
		return;
	memcpy(c->uid, vm->uid, sizeof(c->uid));
	c->incarnation = vm->incarnation;
	if (c->type == FSM_CMD_VM_REPORT && vm->desired_host != 0)
		c->host_id = vm->desired_host;
}

static void same_command_stream_gives_byte_identical_snapshots(void **state)
{
	struct tf *t = *state;
	struct tf *u = NULL;
	assert_int_equal(setup((void **)&u), 0);
	struct fl_rand r;
	fl_rand_seed(&r, 2026);
	struct fsm_cmd c;
	size_t len;
	for (int i = 0; i < 3000; i++) {
		random_command_on(&r, &t->f, &c, (uint64_t)i * 100);
		assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), 0);
		int ra = fsm_apply(&t->f, (uint64_t)i + 1, 1 + (uint64_t)i / 500, g_buf, len);
		int rb = fsm_apply(&u->f, (uint64_t)i + 1, 1 + (uint64_t)i / 500, g_buf, len);
		assert_int_equal(ra, rb);
		assert_int_equal(fsm_check(&t->f), 0);
	}
	assert_true(t->f.ctr.applied > 300 && t->f.ctr.rejected > 300);
	size_t la, lb;
	uint8_t *a = snap(&t->f, &la);
	uint8_t *b = snap(&u->f, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	void *us = u;
	teardown(&us);
}

static void restored_fsm_goes_on_exactly_like_the_original(void **state)
{
	struct tf *t = *state;
	struct fl_rand r;
	fl_rand_seed(&r, 99);
	struct fsm_cmd c;
	size_t len;
	uint64_t i = 0;
	for (; i < 1500; i++) {
		random_command_on(&r, &t->f, &c, i * 100);
		assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), 0);
		/* A random command may be refused: the index is applied either way. */
		assert_true(fsm_apply(&t->f, i + 1, 1, g_buf, len) <= 0);
	}
	size_t sl;
	uint8_t *s = snap(&t->f, &sl);
	struct tf *u = NULL;
	assert_int_equal(setup((void **)&u), 0);
	assert_int_equal(fsm_restore(&u->f, s, sl), 0);
	for (; i < 3000; i++) {
		random_command_on(&r, &t->f, &c, i * 100);
		assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), 0);
		assert_int_equal(fsm_apply(&t->f, i + 1, 1, g_buf, len),
				 fsm_apply(&u->f, i + 1, 1, g_buf, len));
	}
	size_t la, lb;
	uint8_t *a = snap(&t->f, &la);
	uint8_t *b = snap(&u->f, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(s);
	free(a);
	free(b);
	void *us = u;
	teardown(&us);
}

/* Apply checks everything before it changes anything: after a rejection the
 * tables are byte for byte what they were (only the globals at the head of
 * the snapshot body, index, clock and counters, move). */
static void a_rejected_command_leaves_the_tables_untouched(void **state)
{
	struct tf *t = *state;
	const size_t globals = FSM_SNAP_HDR_BYTES + 4 * 4 + 3 * 8 + 4 * 8;
	struct fl_rand r;
	fl_rand_seed(&r, 4242);
	struct fsm_cmd c;
	size_t len;
	uint64_t rejected = 0;
	for (uint64_t i = 0; i < 2000; i++) {
		size_t lb, la;
		uint8_t *before = snap(&t->f, &lb);
		random_command_on(&r, &t->f, &c, i * 100);
		assert_int_equal(fsm_cmd_encode(&c, g_buf, sizeof(g_buf), &len), 0);
		int rv = fsm_apply(&t->f, i + 1, 1, g_buf, len);
		uint8_t *after = snap(&t->f, &la);
		if (rv != 0) {
			rejected++;
			assert_int_equal(la, lb);
			assert_memory_equal(before + globals, after + globals, la - globals);
		}
		free(before);
		free(after);
	}
	assert_true(rejected > 200);
}

static void init_refuses_limits_out_of_range(void **state)
{
	(void)state;
	struct fsm f;
	struct fsm_limits l;
	fsm_limits_default(&l);
	l.max_hosts = FSM_HOST_ID_MAX + 1;
	assert_int_equal(fsm_init(&f, &l), -FL_EINVAL);
	fsm_limits_default(&l);
	l.spec_max_bytes = FSM_SPEC_MAX + 1;
	assert_int_equal(fsm_init(&f, &l), -FL_EINVAL);
	fsm_limits_default(&l);
	assert_int_equal(fsm_init(&f, &l), 0);
	fsm_free(&f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(host_add_makes_a_joined_host),
		T(host_add_rejects_a_taken_id_or_name),
		T(host_add_rejects_ids_outside_sanlock_range_and_bad_roles),
		T(host_add_beyond_the_table_is_no_space),
		T(host_remove_is_refused_while_vms_are_placed_on_it),
		T(only_a_left_host_is_forgotten_and_its_id_is_free_again),
		T(left_host_rejoins_in_its_old_record_with_its_fence_history),
		T(host_rename_changes_the_name_unless_taken),
		T(vm_register_stores_volumes_and_spec_unplaced),
		T(vm_register_of_a_known_uid_updates_its_spec_and_volumes_while_stopped),
		T(a_stopped_vm_never_blocks_another_vm_on_its_volume),
		T(vm_end_unplaces_or_unregisters_the_current_incarnation_only),
		T(a_start_failure_unplaces_the_vm_and_remembers_the_host),
		T(a_failed_vm_is_never_placed_until_it_is_cleared),
		T(vm_register_refuses_a_rw_volume_an_active_vm_uses),
		T(vm_register_lets_vms_share_a_read_only_volume),
		T(vm_register_rejects_relative_paths_bad_policy_and_big_specs),
		T(vm_unregister_is_refused_while_running_and_frees_its_slots),
		T(vm_place_bumps_the_incarnation_and_resets_the_run_state),
		T(vm_place_with_a_stale_incarnation_is_rejected),
		T(vm_place_refuses_unknown_left_and_quarantined_hosts),
		T(vm_place_refuses_a_host_with_a_pending_fence),
		T(command_types_have_names_for_the_logs),
		T(vm_report_of_another_incarnation_or_host_is_stale),
		T(fence_request_records_index_term_and_time_once),
		T(fence_ack_must_name_the_pending_request),
		T(fence_clear_ends_the_record_and_allows_a_new_request),
		T(fences_since_counts_only_those_in_the_window),
		T(quarantine_holds_until_its_end_in_cluster_time),
		T(quarantine_ending_in_the_past_is_rejected),
		T(cluster_clock_never_goes_backwards),
		T(slot_alloc_takes_the_lowest_free_slot),
		T(slot_alloc_rejects_taken_out_of_range_and_unknown),
		T(slot_alloc_in_a_full_table_is_no_space),
		T(slot_free_releases_unless_the_vm_runs),
		T(every_command_type_round_trips_through_encode_and_decode),
		T(encode_refuses_fields_over_their_bounds),
		T(decode_names_what_is_wrong_with_the_header),
		T(decode_rejects_trailing_bytes_even_with_a_good_crc),
		T(every_truncation_and_bit_flip_of_a_command_is_rejected),
		T(random_bodies_with_valid_crc_never_crash_or_corrupt),
		T(random_bytes_are_rejected_without_a_crash),
		T(snapshot_restores_to_an_identical_state),
		T(snapshot_too_small_a_buffer_is_no_space),
		T(corrupt_or_truncated_snapshot_is_refused_and_state_kept),
		T(a_snapshot_restores_into_larger_tables_never_into_smaller),
		T(snapshot_with_good_crc_but_colliding_slots_is_corrupt_and_empties),
		T(same_command_stream_gives_byte_identical_snapshots),
		T(restored_fsm_goes_on_exactly_like_the_original),
		T(a_rejected_command_leaves_the_tables_untouched),
		T(init_refuses_limits_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
