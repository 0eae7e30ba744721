/* Unit tests of VM descriptions from exec arguments, Firecracker
 * configurations and Cloud Hypervisor arguments (sample configs inline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "plugin/host/vmspec.h"

static char err[256];

/* A Firecracker config as Flintlock's firecracker provider writes it. */
static const char fc_config[] =
	"{\n"
	"  \"boot-source\": {\"kernel_image_path\": \"/var/lib/flintlock/vm/k\", \"boot_args\": \"console=ttyS0\"},\n"
	"  \"drives\": [\n"
	"    {\"drive_id\": \"root\", \"path_on_host\": \"/dev/mapper/ns1-vm1-root\", \"is_root_device\": true, \"is_read_only\": false},\n"
	"    {\"drive_id\": \"cloudinit\", \"path_on_host\": \"/var/lib/flintlock/vm/ns1/vm1/cloud-init.img\", \"is_root_device\": false, \"is_read_only\": true},\n"
	"    {\"drive_id\": \"vu\", \"socket\": \"/run/vhost.sock\", \"is_root_device\": false}\n"
	"  ],\n"
	"  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 512}\n"
	"}\n";

static void firecracker_drives_become_volumes_with_their_modes(void **state)
{
	(void)state;
	struct vmspec s = {0};
	assert_int_equal(vmspec_firecracker_config(&s, fc_config, strlen(fc_config), err, sizeof(err)), 0);
	assert_int_equal(s.n_volumes, 2);
	assert_string_equal(s.volumes[0].path, "/dev/mapper/ns1-vm1-root");
	assert_false(s.volumes[0].ro);
	assert_string_equal(s.volumes[1].path, "/var/lib/flintlock/vm/ns1/vm1/cloud-init.img");
	assert_true(s.volumes[1].ro);
}

static void a_firecracker_config_without_drives_or_with_bad_types_is_refused(void **state)
{
	(void)state;
	struct vmspec s = {0};
	const char *none = "{\"machine-config\":{}}";
	assert_int_equal(vmspec_firecracker_config(&s, none, strlen(none), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "no \"drives\""));
	const char *bad = "{\"drives\":[{\"path_on_host\":\"/a\",\"is_read_only\":\"yes\"}]}";
	assert_int_equal(vmspec_firecracker_config(&s, bad, strlen(bad), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "drives[0]"));
	assert_int_equal(vmspec_firecracker_config(&s, "{", 1, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "malformed JSON"));
}

static void firecracker_args_give_the_uid_and_read_the_config_file(void **state)
{
	(void)state;
	char path[] = "/tmp/fl-fc-XXXXXX";
	int fd = mkstemp(path);
	assert_int_equal(write(fd, fc_config, strlen(fc_config)), (ssize_t)strlen(fc_config));
	close(fd);
	char cfg_eq[64];
	snprintf(cfg_eq, sizeof(cfg_eq), "--config-file=%s", path);
	char *argv1[] = {"firecracker", "--api-sock", "/run/fc.sock", "--id", "vm1", "--config-file", path, NULL};
	char *argv2[] = {"firecracker", "--id=vm1", cfg_eq, "--no-api", NULL};
	struct vmspec s = {0};
	assert_int_equal(vmspec_firecracker_args(&s, 7, argv1, err, sizeof(err)), 0);
	assert_string_equal(s.uid, "vm1");
	assert_int_equal(s.n_volumes, 2);
	struct vmspec t = {0};
	assert_int_equal(vmspec_firecracker_args(&t, 4, argv2, err, sizeof(err)), 0);
	assert_string_equal(t.uid, "vm1");
	assert_int_equal(t.n_volumes, 2);
	unlink(path);
}

static void firecracker_args_without_id_or_config_are_refused(void **state)
{
	(void)state;
	char *no_cfg[] = {"firecracker", "--id", "vm1", "--api-sock", "/s", NULL};
	char *no_id[] = {"firecracker", "--config-file", "/x.json", NULL};
	struct vmspec s = {0};
	assert_int_equal(vmspec_firecracker_args(&s, 5, no_cfg, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "no --config-file"));
	assert_int_equal(vmspec_firecracker_args(&s, 3, no_id, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "no --id"));
}

static void cloud_hypervisor_disks_are_read_from_every_form(void **state)
{
	(void)state;
	char *argv[] = {"cloud-hypervisor", "--kernel", "/k", "--disk", "path=/dev/sdb,direct=on",
			"path=/img/seed.img,readonly=on", "--cpus", "boot=2",
			"--disk=path=/img/data.img,readonly=false", "--disk", "vhost_user=true,socket=/s", NULL};
	struct vmspec s = {0};
	assert_int_equal(vmspec_ch_args(&s, 11, argv, err, sizeof(err)), 0);
	assert_int_equal(s.n_volumes, 3);
	assert_string_equal(s.volumes[0].path, "/dev/sdb");
	assert_false(s.volumes[0].ro);
	assert_string_equal(s.volumes[1].path, "/img/seed.img");
	assert_true(s.volumes[1].ro);
	assert_string_equal(s.volumes[2].path, "/img/data.img");
	assert_false(s.volumes[2].ro);
}

static void cloud_hypervisor_without_disks_or_with_bad_values_is_refused(void **state)
{
	(void)state;
	char *none[] = {"cloud-hypervisor", "--kernel", "/k", NULL};
	struct vmspec s = {0};
	assert_int_equal(vmspec_ch_args(&s, 3, none, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "no --disk"));
	assert_int_equal(vmspec_ch_disk(&s, "path=/a,readonly=maybe", err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(vmspec_ch_disk(&s, "path=/a,junk", err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "not key=value"));
}

static void volume_args_take_an_optional_mode_and_become_absolute(void **state)
{
	(void)state;
	struct vmspec s = {0};
	assert_int_equal(vmspec_add_volume_arg(&s, "/dev/sdc:ro", err, sizeof(err)), 0);
	assert_int_equal(vmspec_add_volume_arg(&s, "/dev/sdd", err, sizeof(err)), 0);
	assert_int_equal(vmspec_add_volume_arg(&s, "disk.img:rw", err, sizeof(err)), 0);
	assert_true(s.volumes[0].ro);
	assert_false(s.volumes[1].ro);
	assert_true(s.volumes[2].path[0] == '/');
	assert_non_null(strstr(s.volumes[2].path, "/disk.img"));
}

static void the_same_volume_twice_is_kept_once_and_read_write_wins(void **state)
{
	(void)state;
	struct vmspec s = {0};
	assert_int_equal(vmspec_add_volume(&s, "/v", true, err, sizeof(err)), 0);
	assert_int_equal(vmspec_add_volume(&s, "/v", false, err, sizeof(err)), 0);
	assert_int_equal(s.n_volumes, 1);
	assert_false(s.volumes[0].ro);
}

static void more_volumes_than_the_limit_are_refused(void **state)
{
	(void)state;
	struct vmspec s = {0};
	char p[32];
	for (unsigned i = 0; i < CTL_VOLUMES_MAX; i++) {
		snprintf(p, sizeof(p), "/v%u", i);
		assert_int_equal(vmspec_add_volume(&s, p, false, err, sizeof(err)), 0);
	}
	assert_int_equal(vmspec_add_volume(&s, "/one-more", false, err, sizeof(err)), -FL_ENOSPC);
}

static void an_invalid_uid_is_refused(void **state)
{
	(void)state;
	struct vmspec s = {0};
	assert_int_equal(vmspec_set_uid(&s, "../x", err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(vmspec_set_uid(&s, "", err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(vmspec_set_uid(&s, "ns1:vm-1", err, sizeof(err)), 0);
}

static void a_spec_from_exec_rebuilds_the_command_that_runs_the_vm_again(void **state)
{
	(void)state;
	const char *spec = "{\"uid\":\"fc-1\",\"wrapper\":\"fencelock exec\",\"mode\":\"firecracker\","
		"\"argv\":[\"/usr/bin/firecracker\",\"--id\",\"fc-1\",\"--config-file\",\"vm.json\"],"
		"\"cwd\":\"/var/lib/vms/fc-1\",\"volumes\":[{\"path\":\"/dev/sdb\",\"ro\":false},{\"path\":\"/img/s\",\"ro\":true}]}";
	struct vmspec_rerun r;
	assert_int_equal(vmspec_rerun_build(spec, "/usr/bin/fencelock", &r, err, sizeof(err)), 0);
	const char *want[] = {"/usr/bin/fencelock", "exec", "--vm", "fc-1", "--firecracker", "--volume", "/dev/sdb",
			      "--volume", "/img/s:ro", "--", "/usr/bin/firecracker", "--id", "fc-1", "--config-file", "vm.json"};
	assert_int_equal(r.argc, sizeof(want) / sizeof(want[0]));
	for (int i = 0; i < r.argc; i++)
		assert_string_equal(r.argv[i], want[i]);
	assert_null(r.argv[r.argc]);
	assert_string_equal(r.cwd, "/var/lib/vms/fc-1");
	vmspec_rerun_free(&r);
}

static void a_foreign_or_malformed_spec_needs_a_recover_command(void **state)
{
	(void)state;
	struct vmspec_rerun r;
	assert_int_equal(vmspec_rerun_build("{\"flintlock\":{}}", "/f", &r, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "configure recover_command"));
	assert_int_equal(vmspec_rerun_build("not json", "/f", &r, err, sizeof(err)), -FL_EINVAL);
	const char *no_argv = "{\"uid\":\"a\",\"wrapper\":\"fencelock exec\",\"cwd\":\"/\",\"argv\":[],"
		"\"volumes\":[{\"path\":\"/v\"}]}";
	assert_int_equal(vmspec_rerun_build(no_argv, "/f", &r, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "'argv'"));
	const char *rel = "{\"uid\":\"a\",\"wrapper\":\"fencelock exec\",\"cwd\":\"/\",\"argv\":[\"x\"],"
		"\"volumes\":[{\"path\":\"v\"}]}";
	assert_int_equal(vmspec_rerun_build(rel, "/f", &r, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "volumes[0].path"));
	assert_null(r.argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(firecracker_drives_become_volumes_with_their_modes),
		cmocka_unit_test(a_firecracker_config_without_drives_or_with_bad_types_is_refused),
		cmocka_unit_test(firecracker_args_give_the_uid_and_read_the_config_file),
		cmocka_unit_test(firecracker_args_without_id_or_config_are_refused),
		cmocka_unit_test(cloud_hypervisor_disks_are_read_from_every_form),
		cmocka_unit_test(cloud_hypervisor_without_disks_or_with_bad_values_is_refused),
		cmocka_unit_test(volume_args_take_an_optional_mode_and_become_absolute),
		cmocka_unit_test(the_same_volume_twice_is_kept_once_and_read_write_wins),
		cmocka_unit_test(more_volumes_than_the_limit_are_refused),
		cmocka_unit_test(an_invalid_uid_is_refused),
		cmocka_unit_test(a_spec_from_exec_rebuilds_the_command_that_runs_the_vm_again),
		cmocka_unit_test(a_foreign_or_malformed_spec_needs_a_recover_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
