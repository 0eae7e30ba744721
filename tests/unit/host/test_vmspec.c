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
	assert_int_equal(vmspec_set_uid(&s, "ch-1", err, sizeof(err)), 0);
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
	assert_int_equal(vmspec_set_uid(&s, "ch-1", err, sizeof(err)), 0);
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

/* Writes text to a fresh temporary file; returns its path (static buffer per call site). */
static void temp_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool warned(const struct vmspec *s, const char *what)
{
	for (uint32_t i = 0; i < s->n_warnings && i < VMSPEC_WARN_MAX; i++)
		if (strstr(s->warnings[i], what) != NULL)
			return true;
	return false;
}

/* Firecracker's own shapes: pmem devices, a vhost-user drive, a null
 * is_read_only, an Unsafe cache (Flintlock's root volume). */
static const char fc_shapes[] =
	"{\"drives\": ["
	"{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/mapper/flintlock-thinpool-snap-3\", \"is_root_device\": true,"
	" \"is_read_only\": false, \"cache_type\": \"Unsafe\"},"
	"{\"drive_id\": \"data\", \"path_on_host\": \"/srv/data.img\", \"is_root_device\": false, \"is_read_only\": null},"
	"{\"drive_id\": \"vu\", \"is_root_device\": false, \"socket\": \"/run/vhost-user-blk.sock\"}],"
	" \"pmem\": [{\"id\": \"pmem0\", \"path_on_host\": \"/srv/rootfs.ext4\", \"root_device\": false, \"read_only\": true},"
	"{\"id\": \"pmem1\", \"path_on_host\": \"/srv/scratch.img\"}]}";

static void firecracker_pmem_null_read_only_vhost_user_and_unsafe_cache(void **state)
{
	(void)state;
	struct vmspec s = {0};
	assert_int_equal(vmspec_firecracker_config(&s, fc_shapes, strlen(fc_shapes), err, sizeof(err)), 0);
	assert_int_equal(s.n_volumes, 4);
	assert_string_equal(s.volumes[0].path, "/dev/mapper/flintlock-thinpool-snap-3");
	assert_false(s.volumes[0].ro);
	assert_string_equal(s.volumes[1].path, "/srv/data.img");
	assert_false(s.volumes[1].ro); /* null: read-write */
	assert_string_equal(s.volumes[2].path, "/srv/rootfs.ext4");
	assert_true(s.volumes[2].ro);
	assert_string_equal(s.volumes[3].path, "/srv/scratch.img");
	assert_false(s.volumes[3].ro);
	assert_int_equal(s.n_warnings, 2);
	assert_true(warned(&s, "'vu' is vhost-user"));
	assert_true(warned(&s, "not a volume fencelock can guard"));
	assert_true(warned(&s, "'rootfs' has cache_type Unsafe"));
	const char *pmem_only = "{\"pmem\":[{\"id\":\"p\",\"path_on_host\":\"/p\",\"read_only\":false}]}";
	struct vmspec t = {0};
	assert_int_equal(vmspec_firecracker_config(&t, pmem_only, strlen(pmem_only), err, sizeof(err)), 0);
	assert_int_equal(t.n_volumes, 1);
	const char *bad_pmem = "{\"pmem\":[{\"id\":\"p\",\"read_only\":true}]}";
	assert_int_equal(vmspec_firecracker_config(&t, bad_pmem, strlen(bad_pmem), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "pmem[0]"));
	const char *neither = "{\"drives\":[{\"drive_id\":\"x\",\"is_read_only\":null}]}";
	assert_int_equal(vmspec_firecracker_config(&t, neither, strlen(neither), err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "neither path_on_host nor socket"));
}

static void firecracker_api_mode_takes_the_volumes_given_and_a_live_api_beside_a_config_is_a_warning(void **state)
{
	(void)state;
	/* API-socket mode: no config file, the volumes come from --volume. */
	char *api[] = {"firecracker", "--api-sock", "/run/fc-vm1.sock", "--id", "vm1", NULL};
	struct vmspec s = {0};
	assert_int_equal(vmspec_add_volume_arg(&s, "/dev/sdx", err, sizeof(err)), 0);
	assert_int_equal(vmspec_firecracker_args(&s, 5, api, err, sizeof(err)), 0);
	assert_string_equal(s.uid, "vm1");
	assert_int_equal(s.n_volumes, 1);
	assert_int_equal(s.n_warnings, 0);
	/* A config file with the API left on: a PATCH could re-point a drive. */
	char path[] = "/tmp/fl-fc-XXXXXX";
	temp_file(path, fc_config);
	char *live[] = {"firecracker", "--api-sock", "/run/fc-vm1.sock", "--id", "vm1", "--config-file", path, NULL};
	struct vmspec t = {0};
	assert_int_equal(vmspec_firecracker_args(&t, 7, live, err, sizeof(err)), 0);
	assert_true(warned(&t, "API socket /run/fc-vm1.sock stays live"));
	/* Without --api-sock Firecracker still listens on its default socket. */
	char *dflt[] = {"firecracker", "--id", "vm1", "--config-file", path, NULL};
	struct vmspec u = {0};
	assert_int_equal(vmspec_firecracker_args(&u, 5, dflt, err, sizeof(err)), 0);
	assert_true(warned(&u, "/run/firecracker.socket"));
	/* Flintlock's command line: --no-api, no warning about the API. */
	char *flintlock[] = {"firecracker", "--id", "01HZ", "--boot-timer", "--no-api", "--config-file", path,
			     "--metadata", "/var/lib/flintlock/vm/ns/n/01HZ/metadata.json", NULL};
	struct vmspec v = {0};
	assert_int_equal(vmspec_firecracker_args(&v, 9, flintlock, err, sizeof(err)), 0);
	assert_string_equal(v.uid, "01HZ");
	assert_false(warned(&v, "API socket"));
	unlink(path);
}

/* Flintlock's cloud-hypervisor command line (its buildArgs). */
static void cloud_hypervisor_flintlock_shape_uid_from_the_socket_fs_warned_pmem_leased(void **state)
{
	(void)state;
	char *argv[] = {"cloud-hypervisor", "--api-socket", "/var/lib/flintlock/vm/ns1/vm1/01HZX4/cloudhypervisor.sock",
			"--log-file", "/var/lib/flintlock/vm/ns1/vm1/01HZX4/cloudhypervisor.log", "-v",
			"--cmdline", "console=hvc0 root=/dev/vda", "--kernel", "/k/vmlinux", "--cpus", "boot=2",
			"--memory", "size=2048M,shared=on", "--disk", "path=/dev/mapper/flintlock-thinpool-snap-3",
			"path=/var/lib/flintlock/vm/ns1/vm1/01HZX4/cloud-init.img,readonly=on",
			"--fs", "tag=user,socket=/var/lib/flintlock/vm/ns1/vm1/01HZX4/virtiofs.sock,num_queues=1",
			"--pmem", "file=/srv/pm.img,discard_writes=on", "--net", "tap=tap0,mac=aa:bb:cc:dd:ee:ff", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	struct vmspec s = {0};
	assert_int_equal(vmspec_ch_args(&s, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(s.uid, "01HZX4");
	assert_int_equal(s.n_volumes, 3);
	assert_false(s.volumes[0].ro);
	assert_true(s.volumes[1].ro);
	assert_string_equal(s.volumes[2].path, "/srv/pm.img");
	assert_true(s.volumes[2].ro);
	assert_true(warned(&s, "--fs tag=user"));
	assert_true(warned(&s, "virtiofs"));
	/* --vm wins over the socket; other socket names give no uid. */
	struct vmspec t = {0};
	assert_int_equal(vmspec_set_uid(&t, "given", err, sizeof(err)), 0);
	assert_int_equal(vmspec_ch_args(&t, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(t.uid, "given");
	char uid[CTL_UID_MAX + 1];
	assert_int_equal(vmspec_ch_socket_uid("path=/run/ch/u-7/cloudhypervisor.sock", uid, sizeof(uid)), 0);
	assert_string_equal(uid, "u-7");
	assert_int_equal(vmspec_ch_socket_uid("/run/ch.sock", uid, sizeof(uid)), -FL_EINVAL);
	assert_int_equal(vmspec_ch_socket_uid("/cloudhypervisor.sock", uid, sizeof(uid)), -FL_EINVAL);
	assert_int_equal(vmspec_ch_socket_uid("fd=3", uid, sizeof(uid)), -FL_EINVAL);
	char *no_uid[] = {"cloud-hypervisor", "--api-socket", "/run/ch.sock", "--disk", "path=/dev/sdb", NULL};
	struct vmspec u = {0};
	assert_int_equal(vmspec_ch_args(&u, 5, no_uid, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "--vm UID"));
	struct vmspec w = {0};
	assert_int_equal(vmspec_ch_disk(&w, "vhost_user=true,socket=/s", err, sizeof(err)), 0);
	assert_true(warned(&w, "vhost-user"));
	assert_int_equal(vmspec_ch_pmem(&w, "size=1G", err, sizeof(err)), -FL_EINVAL);
}

/* qemu-system-x86_64 as the test guest, libvirt and a hand-written command line run it. */
static void qemu_drives_blockdevs_and_legacy_disks_become_volumes(void **state)
{
	(void)state;
	char *argv[] = {"qemu-system-x86_64", "-name", "guest=vm-7,debug-threads=on", "-uuid",
			"5b1f8a9e-0c3d-4b8e-9f00-123456789abc", "-M", "pc", "-accel", "tcg", "-m", "128",
			"-drive", "id=d0,file=/srv/a,,b.img,format=raw,if=none,cache=none,aio=native,file.locking=off",
			"-device", "virtio-blk-pci,drive=d0",
			"-drive", "file=/srv/seed.iso,media=cdrom,if=ide",
			"-drive", "file=/srv/ro.img,readonly=on,if=virtio",
			"-drive", "if=none,id=empty",
			"-blockdev", "driver=file,node-name=f0,filename=/dev/mapper/mpatha,cache.direct=on",
			"-blockdev", "driver=raw,node-name=r0,file=f0",
			"-blockdev", "driver=qcow2,node-name=q1,read-only=on,file.driver=file,file.filename=/srv/base.qcow2",
			"-blockdev", "{\"driver\":\"raw\",\"node-name\":\"j0\",\"file\":{\"driver\":\"host_device\","
			"\"filename\":\"/dev/disk/by-id/wwn-0x5000\",\"read-only\":false}}",
			"-hda", "/srv/hda.img", "-cdrom", "/srv/install.iso", "-append", "-drive file=/not/a/drive", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	struct vmspec s = {0};
	assert_int_equal(vmspec_qemu_args(&s, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(s.uid, "vm-7");
	const char *paths[] = {"/srv/a,b.img", "/srv/seed.iso", "/srv/ro.img", "/dev/mapper/mpatha",
			       "/srv/base.qcow2", "/dev/disk/by-id/wwn-0x5000", "/srv/hda.img", "/srv/install.iso"};
	const bool ro[] = {false, true, true, false, true, false, false, true};
	assert_int_equal(s.n_volumes, 8);
	for (uint32_t i = 0; i < s.n_volumes; i++) {
		assert_string_equal(s.volumes[i].path, paths[i]);
		assert_int_equal(s.volumes[i].ro, ro[i]);
	}
	assert_int_equal(s.n_warnings, 0);
}

static void qemu_uid_snapshot_protocols_and_refusals(void **state)
{
	(void)state;
	char *named[] = {"qemu", "-name", "web1,process=qemu-web1", "-drive", "file=/v/a", "-snapshot", NULL};
	struct vmspec s = {0};
	assert_int_equal(vmspec_qemu_args(&s, 6, named, err, sizeof(err)), 0);
	assert_string_equal(s.uid, "web1");
	assert_true(s.volumes[0].ro); /* -snapshot: writes go to a temporary overlay */
	char *uuid[] = {"qemu", "-uuid", "5b1f8a9e-0c3d", "-name", "bad name", "-hda", "/v/b", NULL};
	struct vmspec t = {0};
	assert_int_equal(vmspec_qemu_args(&t, 7, uuid, err, sizeof(err)), 0);
	assert_string_equal(t.uid, "5b1f8a9e-0c3d");
	struct vmspec u = {0};
	assert_int_equal(vmspec_set_uid(&u, "given", err, sizeof(err)), 0);
	assert_int_equal(vmspec_qemu_args(&u, 7, uuid, err, sizeof(err)), 0);
	assert_string_equal(u.uid, "given");
	char *none[] = {"qemu", "-drive", "file=/v/c", NULL};
	struct vmspec v = {0};
	assert_int_equal(vmspec_qemu_args(&v, 3, none, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "--vm UID"));
	char *net[] = {"qemu", "-name", "n", "-drive", "file=nbd:192.0.2.1:10809,format=raw", "-blockdev",
		       "driver=iscsi,transport=tcp,portal=192.0.2.2,target=iqn.x,lun=0,node-name=i0",
		       "-drive", "file=json:{\"driver\":\"file\",,\"filename\":\"/v/j\"}", "-virtfs",
		       "local,path=/srv/share,mount_tag=share,security_model=none", "--drive",
		       "file=file:/srv/proto.img,format=raw", NULL};
	struct vmspec w = {0};
	assert_int_equal(vmspec_qemu_args(&w, 13, net, err, sizeof(err)), 0);
	assert_int_equal(w.n_volumes, 2);
	assert_string_equal(w.volumes[0].path, "/v/j");
	assert_string_equal(w.volumes[1].path, "/srv/proto.img");
	assert_true(warned(&w, "network storage (nbd)"));
	assert_true(warned(&w, "network storage (iscsi)"));
	assert_true(warned(&w, "shares a host directory"));
	struct vmspec x = {0};
	assert_int_equal(vmspec_qemu_drive(&x, "file=weird:thing", false, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "unknown protocol 'weird'"));
	assert_int_equal(vmspec_qemu_drive(&x, "file=/v/d,readonly=maybe", false, err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(vmspec_qemu_blockdev(&x, "{\"driver\":", false, err, sizeof(err)), -FL_EINVAL);
	char deep[256] = "";
	for (int i = 0; i < 12; i++)
		strcat(deep, "{\"file\":");
	strcat(deep, "{}");
	for (int i = 0; i < 12; i++)
		strcat(deep, "}");
	assert_int_equal(vmspec_qemu_blockdev(&x, deep, false, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "nest deeper"));
	char longv[400];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	memcpy(longv, "file=/", 6);
	assert_int_equal(vmspec_qemu_drive(&x, longv, false, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "longer than"));
	char *dangling[] = {"qemu", "-name", "n", "-drive", NULL};
	assert_int_equal(vmspec_qemu_args(&x, 4, dangling, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "has no value"));
	char *novol[] = {"qemu", "-name", "n", "-kernel", "/k", NULL};
	assert_int_equal(vmspec_qemu_args(&x, 5, novol, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "nothing to guard"));
	assert_int_equal(x.n_volumes, 0);
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
		cmocka_unit_test(firecracker_pmem_null_read_only_vhost_user_and_unsafe_cache),
		cmocka_unit_test(firecracker_api_mode_takes_the_volumes_given_and_a_live_api_beside_a_config_is_a_warning),
		cmocka_unit_test(cloud_hypervisor_flintlock_shape_uid_from_the_socket_fs_warned_pmem_leased),
		cmocka_unit_test(qemu_drives_blockdevs_and_legacy_disks_become_volumes),
		cmocka_unit_test(qemu_uid_snapshot_protocols_and_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
