/* Unit tests of volume identity (plugin/host/volid.c) against a fake sysfs
 * tree and a fake mount table built in a temporary directory: the shapes a
 * SAN host shows (SCSI path devices and their multipath map, partitions,
 * kpartx maps, LVM, thin snapshots, NVMe, a virtio disk, loop devices) and
 * files reached by different paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "plugin/host/volid.h"

#define WWN "600A0B800011AB2F000016C94B7BD2A4"

static char root[256];
static char sys[300];
static char mountinfo[300];
static char machine_id[300];
static char err[4096];
static struct volid_env env;

static void put(const char *rel, const char *text)
{
	char p[1024], cmd[1200];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void link_at(const char *target, const char *rel)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static void sh(const char *verb, const char *arg)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "%s '%s'", verb, arg);
	assert_int_equal(system(cmd), 0);
}

/* The fake /sys: sda (a SCSI path of the LUN) with partition sda1, the
 * LUN's multipath map and its kpartx partition, an LVM volume, a thin
 * snapshot without uuid, two NVMe namespaces, a virtio disk, and a device
 * standing for the filesystem the test files live on. */
static void fake_sysfs(const struct stat *fs_st)
{
	put("sys/devices/sda/dev", "8:0\n");
	put("sys/devices/sda/device/wwid", "naa." WWN "\n");
	put("sys/devices/sda/sda1/dev", "8:1\n");
	put("sys/devices/sda/sda1/partition", "1\n");
	put("sys/devices/dm-0/dev", "253:0\n");
	put("sys/devices/dm-0/dm/uuid", "mpath-3" WWN "\n");
	put("sys/devices/dm-0/dm/name", "mpatha\n");
	put("sys/devices/dm-1/dev", "253:1\n");
	put("sys/devices/dm-1/dm/uuid", "\n");
	put("sys/devices/dm-1/dm/name", "flintlock-thinpool-snap-3\n");
	put("sys/devices/dm-2/dev", "253:2\n");
	put("sys/devices/dm-2/dm/uuid", "LVM-AbCdEfGh1234\n");
	put("sys/devices/dm-3/dev", "253:3\n");
	put("sys/devices/dm-3/dm/uuid", "part1-mpath-3" WWN "\n");
	put("sys/devices/nvme0n1/dev", "259:0\n");
	put("sys/devices/nvme0n1/wwid", "eui.0025388B71B1A1E0\n");
	put("sys/devices/nvme1n1/dev", "259:1\n");
	put("sys/devices/nvme1n1/nguid", "01234567-89ab-cdef-0123-456789abcdef\n");
	put("sys/devices/vda/dev", "252:0\n");
	put("sys/devices/vda/serial", "1856633694571841\n");
	put("sys/devices/fsdev/dev", "1:1\n");
	put("sys/devices/fsdev/device/wwid", "naa.11112222\n");
	char d[512];
	snprintf(d, sizeof(d), "%s/sys/dev/block", root);
	sh("mkdir -p", d);
	link_at("../../devices/sda", "sys/dev/block/8:0");
	link_at("../../devices/sda/sda1", "sys/dev/block/8:1");
	const char *dm[] = {"253:0", "253:1", "253:2", "253:3"};
	for (int i = 0; i < 4; i++) {
		char t[64], l[64];
		snprintf(t, sizeof(t), "../../devices/dm-%d", i);
		snprintf(l, sizeof(l), "sys/dev/block/%s", dm[i]);
		link_at(t, l);
	}
	link_at("../../devices/nvme0n1", "sys/dev/block/259:0");
	link_at("../../devices/nvme1n1", "sys/dev/block/259:1");
	link_at("../../devices/vda", "sys/dev/block/252:0");
	char fsdev[64];
	snprintf(fsdev, sizeof(fsdev), "sys/dev/block/%u:%u", major(fs_st->st_dev), minor(fs_st->st_dev));
	link_at("../../devices/fsdev", fsdev);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/fl-volid-XXXXXX");
	assert_non_null(mkdtemp(root));
	struct stat st;
	assert_int_equal(stat(root, &st), 0);
	fake_sysfs(&st);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(mountinfo, sizeof(mountinfo), "%s/mountinfo", root);
	snprintf(machine_id, sizeof(machine_id), "%s/machine-id", root);
	put("machine-id", "0123456789abcdef0123456789abcdef\n");
	/* The test files' filesystem, mounted twice: at / (root "/") and at
	 * ROOT/bind (root "/srv"), as a bind mount would show it. */
	char mi[2048];
	snprintf(mi, sizeof(mi),
		 "26 1 %u:%u / / rw,relatime - ext4 /dev/fake rw\n"
		 "40 26 %u:%u /srv %s/bind rw,relatime shared:5 - ext4 /dev/fake rw\n"
		 "41 26 0:99 / /mnt/nfs rw - nfs4 filer:/export rw\n",
		 major(st.st_dev), minor(st.st_dev), major(st.st_dev), minor(st.st_dev), root);
	put("mountinfo", mi);
	env = (struct volid_env){.sysfs = sys, .mountinfo = mountinfo, .machine_id = machine_id};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("rm -rf", root);
	return 0;
}

static void block(uint32_t maj, uint32_t min, char *id)
{
	int rv = volid_block(&env, maj, min, id, VOLID_MAX + 1, err, sizeof(err));
	if (rv != 0)
		fail_msg("%u:%u: %s", maj, min, err);
}

static void a_scsi_path_and_its_multipath_map_have_one_identity(void **state)
{
	(void)state;
	char a[VOLID_MAX + 1], b[VOLID_MAX + 1];
	block(8, 0, a);
	block(253, 0, b);
	assert_string_equal(a, "wwid:3600a0b800011ab2f000016c94b7bd2a4");
	assert_string_equal(a, b);
}

static void a_partition_is_its_disk_plus_its_number_through_kpartx_too(void **state)
{
	(void)state;
	char a[VOLID_MAX + 1], b[VOLID_MAX + 1];
	block(8, 1, a);
	block(253, 3, b);
	assert_string_equal(a, "wwid:3600a0b800011ab2f000016c94b7bd2a4:part1");
	assert_string_equal(a, b);
}

static void a_thin_snapshot_without_uuid_is_refused_by_name(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1];
	assert_int_equal(volid_block(&env, 253, 1, id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "flintlock-thinpool-snap-3"));
	assert_non_null(strstr(err, "no uuid"));
}

static void an_lvm_volume_is_named_by_its_dm_uuid(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1];
	block(253, 2, id);
	assert_string_equal(id, "dm:LVM-AbCdEfGh1234");
}

static void nvme_namespaces_are_named_by_wwid_or_nguid(void **state)
{
	(void)state;
	char a[VOLID_MAX + 1], b[VOLID_MAX + 1];
	block(259, 0, a);
	block(259, 1, b);
	assert_string_equal(a, "wwid:eui.0025388b71b1a1e0");
	assert_string_equal(b, "wwid:eui.0123456789abcdef0123456789abcdef");
}

static void a_disk_with_only_a_serial_is_refused(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1];
	assert_int_equal(volid_block(&env, 252, 0, id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "no identity"));
	assert_int_equal(volid_block(&env, 9, 9, id, sizeof(id), err, sizeof(err)), -FL_ENOENT);
}

static void resolve(const char *rel, char *id)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int rv = volid_resolve(&env, p, id, VOLID_MAX + 1, NULL, 0, err, sizeof(err));
	if (rv != 0)
		fail_msg("%s: %s", p, err);
}

static void a_file_by_symlinks_and_dot_paths_has_one_identity(void **state)
{
	(void)state;
	char a[VOLID_MAX + 1], b[VOLID_MAX + 1], c[VOLID_MAX + 1], want[VOLID_MAX + 64];
	put("x/a.img", "disk");
	link_at("x/a.img", "l2");
	link_at("l2", "l1");
	resolve("x/a.img", a);
	resolve("x/./a.img", b);
	resolve("l1", c);
	snprintf(want, sizeof(want), "file:dev=wwid:311112222:%s/x/a.img", root);
	assert_string_equal(a, want);
	assert_string_equal(b, a);
	assert_string_equal(c, a);
	resolve("x/../x/a.img", b);
	assert_string_equal(b, a);
}

static void unrelated_files_with_the_same_name_differ(void **state)
{
	(void)state;
	char a[VOLID_MAX + 1], b[VOLID_MAX + 1];
	put("h1/disk.img", "1");
	put("h2/disk.img", "2");
	resolve("h1/disk.img", a);
	resolve("h2/disk.img", b);
	assert_string_not_equal(a, b);
}

static void a_file_is_named_by_its_path_inside_its_filesystem(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1];
	put("bind/v/a.img", "bound");
	resolve("bind/v/a.img", id);
	assert_string_equal(id, "file:dev=wwid:311112222:/srv/v/a.img");
}

static void a_loop_device_is_its_backing_file(void **state)
{
	(void)state;
	char file_id[VOLID_MAX + 1], loop_id[VOLID_MAX + 1], p[1024];
	put("x/b.img", "disk");
	snprintf(p, sizeof(p), "%s/x/b.img\n", root);
	put("sys/devices/loop0/dev", "7:0\n");
	put("sys/devices/loop0/loop/backing_file", p);
	put("sys/devices/loop0/loop/offset", "0\n");
	put("sys/devices/loop1/dev", "7:1\n");
	put("sys/devices/loop1/loop/backing_file", p);
	put("sys/devices/loop1/loop/offset", "4096\n");
	link_at("../../devices/loop0", "sys/dev/block/7:0");
	link_at("../../devices/loop1", "sys/dev/block/7:1");
	resolve("x/b.img", file_id);
	block(7, 0, loop_id);
	assert_string_equal(loop_id, file_id);
	block(7, 1, loop_id);
	assert_string_not_equal(loop_id, file_id);
	assert_non_null(strstr(loop_id, ":off=4096"));
}

static void a_loop_device_over_a_deleted_file_is_refused(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1];
	put("sys/devices/loop2/dev", "7:2\n");
	put("sys/devices/loop2/loop/backing_file", "/gone/c.img (deleted)\n");
	link_at("../../devices/loop2", "sys/dev/block/7:2");
	assert_int_equal(volid_block(&env, 7, 2, id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "deleted"));
}

static void a_refusal_names_the_path_and_offers_an_operator_id(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1], p[1024];
	snprintf(p, sizeof(p), "%s/sys", root); /* a directory */
	assert_int_equal(volid_resolve(&env, p, id, sizeof(id), NULL, 0, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, ":id=ID"));
	assert_int_equal(volid_resolve(&env, "relative.img", id, sizeof(id), NULL, 0, err, sizeof(err)), -FL_EINVAL);
	snprintf(p, sizeof(p), "%s/missing.img", root);
	assert_int_equal(volid_resolve(&env, p, id, sizeof(id), NULL, 0, err, sizeof(err)), -FL_ENOENT);
}

static void hostile_paths_are_refused_cleanly(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1];
	size_t n = 10000;
	char *huge = malloc(n + 1);
	assert_non_null(huge);
	huge[0] = '/';
	memset(huge + 1, 'a', n - 1);
	huge[n] = '\0';
	assert_int_equal(volid_resolve(&env, huge, id, sizeof(id), NULL, 0, err, sizeof(err)), -FL_EINVAL);
	for (size_t i = 1; i + 3 < n; i += 3)
		memcpy(huge + i, "../", 3);
	huge[n - 1] = '\0';
	assert_int_not_equal(volid_resolve(&env, huge, id, sizeof(id), NULL, 0, err, sizeof(err)), 0);
	free(huge);
	/* A loop of symlinks. */
	link_at("loopa", "loopb");
	link_at("loopb", "loopa");
	char p[1024];
	snprintf(p, sizeof(p), "%s/loopa", root);
	assert_int_equal(volid_resolve(&env, p, id, sizeof(id), NULL, 0, err, sizeof(err)), -FL_EINVAL);
}

static void a_file_whose_identity_is_too_long_is_refused(void **state)
{
	(void)state;
	char rel[600], id[VOLID_MAX + 1], p[1024];
	snprintf(rel, sizeof(rel), "long/%0200d/%0100d.img", 0, 0);
	put(rel, "x");
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(volid_resolve(&env, p, id, sizeof(id), NULL, 0, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "longer than"));
}

static void operator_ids_are_namespaced_and_checked(void **state)
{
	(void)state;
	char id[VOLID_MAX + 1], big[VOLID_OPERATOR_MAX + 2];
	assert_int_equal(volid_operator("san1-lun7", id, sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "id:san1-lun7");
	assert_int_equal(volid_operator("", id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(volid_operator("a b", id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(volid_operator("../x", id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(volid_operator(big, id, sizeof(id), err, sizeof(err)), -FL_EINVAL);
}

static void only_well_formed_identities_are_valid(void **state)
{
	(void)state;
	char big[VOLID_MAX + 8];
	assert_true(volid_valid("wwid:3600a0b8"));
	assert_true(volid_valid("file:fsid=00000000deadbeef:/x/a.img"));
	assert_false(volid_valid("wwid:"));
	assert_false(volid_valid("/dev/sda"));
	assert_false(volid_valid("id:has space"));
	assert_false(volid_valid("id:nl\n"));
	assert_false(volid_valid(""));
	assert_false(volid_valid(NULL));
	memcpy(big, "id:", 3);
	memset(big + 3, 'a', sizeof(big) - 4);
	big[sizeof(big) - 1] = '\0';
	assert_false(volid_valid(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_scsi_path_and_its_multipath_map_have_one_identity),
		cmocka_unit_test(a_partition_is_its_disk_plus_its_number_through_kpartx_too),
		cmocka_unit_test(a_thin_snapshot_without_uuid_is_refused_by_name),
		cmocka_unit_test(an_lvm_volume_is_named_by_its_dm_uuid),
		cmocka_unit_test(nvme_namespaces_are_named_by_wwid_or_nguid),
		cmocka_unit_test(a_disk_with_only_a_serial_is_refused),
		cmocka_unit_test(a_file_by_symlinks_and_dot_paths_has_one_identity),
		cmocka_unit_test(unrelated_files_with_the_same_name_differ),
		cmocka_unit_test(a_file_is_named_by_its_path_inside_its_filesystem),
		cmocka_unit_test(a_loop_device_is_its_backing_file),
		cmocka_unit_test(a_loop_device_over_a_deleted_file_is_refused),
		cmocka_unit_test(a_refusal_names_the_path_and_offers_an_operator_id),
		cmocka_unit_test(hostile_paths_are_refused_cleanly),
		cmocka_unit_test(a_file_whose_identity_is_too_long_is_refused),
		cmocka_unit_test(operator_ids_are_namespaced_and_checked),
		cmocka_unit_test(only_well_formed_identities_are_valid),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
