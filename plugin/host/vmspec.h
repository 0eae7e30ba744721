/* What a VM is, as far as fencing cares: its uid and its volumes, taken from
 * the command line of `fencelock exec` or from the VMM's own arguments and
 * configuration, so that `fencelock exec --firecracker -- firecracker ...`
 * (Flintlock's --firecracker-bin pointing at a two-line wrapper) and
 * `fencelock exec --cloud-hypervisor --vm UID -- cloud-hypervisor ...` need
 * no second description of the VM.
 *
 * Firecracker: the uid is --id, the volumes are the "drives" of the JSON
 * --config-file ("path_on_host", "is_read_only": true, false or null = read-
 * write) and its "pmem" devices ("path_on_host", "read_only"); a vhost-user
 * drive ("socket", no host path) is a warning: its backend, not Firecracker,
 * opens the storage. Without --config-file (API-socket mode) the volumes are
 * those given with --volume. A config file beside a live API socket (no
 * --no-api) is a warning: PATCH /drives can re-point a drive later.
 * Cloud Hypervisor: the volumes are the values of --disk
 * ("path=...,readonly=on|off|true|false", several values per --disk and
 * several --disk options) and of --pmem ("file=...,discard_writes=on" is
 * read-only to the file); the uid is --vm, or, when the --api-socket is
 * named cloudhypervisor.sock, the name of the directory holding it
 * (Flintlock's STATE/vm/NAMESPACE/NAME/UID/cloudhypervisor.sock); --fs
 * (virtiofs) and vhost-user disks are warnings. QEMU: see vmspec_qemu_args().
 * Relative paths are made absolute against the current directory, as the
 * VMM would open them. Every input is treated as hostile: bounded lengths,
 * a message for every refusal, no partial value taken for a whole one. */
#ifndef FL_PLUGIN_VMSPEC_H
#define FL_PLUGIN_VMSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "plugin/host/ctl_proto.h"
#include "plugin/host/volid.h"

#define VMSPEC_CONFIG_MAX_BYTES (1024u * 1024u)

struct vmspec_volume {
	char path[CTL_PATH_MAX + 1];
	bool ro;
	char id[VOLID_OPERATOR_MAX + 1]; /* operator-given identity (--volume PATH:id=ID), "" if none */
};

#define VMSPEC_WARN_MAX 8u
#define VMSPEC_WARN_LEN 240u

struct vmspec {
	char uid[CTL_UID_MAX + 1];      /* "" when not known */
	uint32_t n_volumes;
	struct vmspec_volume volumes[CTL_VOLUMES_MAX];
	/* What the VMM will use that fencelock cannot guard, one line each
	 * (the caller prints them); more than VMSPEC_WARN_MAX are counted. */
	uint32_t n_warnings;
	char warnings[VMSPEC_WARN_MAX][VMSPEC_WARN_LEN];
};

/* Adds a warning line (printf format). */
void vmspec_warn(struct vmspec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a volume (made absolute against cwd if relative). The same path
 * twice is kept once, read-write if any mention is. Returns 0, or -FL_EINVAL
 * (path too long, empty) / -FL_ENOSPC (more than CTL_VOLUMES_MAX), message in err. */
int vmspec_add_volume(struct vmspec *s, const char *path, bool ro, char *err, size_t errlen);

/* Parses an exec --volume argument "PATH[:ro|:rw][:id=ID]" (the two
 * suffixes in either order) and adds it; ID is checked as volid_operator()
 * does. */
int vmspec_add_volume_arg(struct vmspec *s, const char *arg, char *err, size_t errlen);

/* Sets the uid after checking it with ctl_uid_valid(). */
int vmspec_set_uid(struct vmspec *s, const char *uid, char *err, size_t errlen);

/* Adds the drives of a Firecracker JSON configuration (text, len bytes). */
int vmspec_firecracker_config(struct vmspec *s, const char *text, size_t len, char *err, size_t errlen);

/* Reads Firecracker's argv (argv[0] the binary): --id, --config-file,
 * --api-sock and --no-api, in both "--opt value" and "--opt=value" forms;
 * loads the config file. Without --id the uid must already be set (--vm);
 * without --config-file (drives configured later over the API socket, which
 * fencelock cannot see) the volumes must already be given (--volume). */
int vmspec_firecracker_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen);

/* Adds one Cloud Hypervisor --disk value "path=...,readonly=...,...". */
int vmspec_ch_disk(struct vmspec *s, const char *value, char *err, size_t errlen);

/* Adds one Cloud Hypervisor --pmem value "file=...,discard_writes=...,...". */
int vmspec_ch_pmem(struct vmspec *s, const char *value, char *err, size_t errlen);

/* Reads Cloud Hypervisor's argv: --disk and --pmem values, --api-socket
 * (uid when none is set yet), --fs (a warning). Fails if no volume results
 * (with those given before) or no uid can be found. */
int vmspec_ch_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen);

/* The uid Flintlock's layout gives a Cloud Hypervisor API socket: the name
 * of the directory holding a socket named cloudhypervisor.sock ("path=" and
 * plain forms). 0 with uid set, or -FL_EINVAL (another name, no valid uid). */
int vmspec_ch_socket_uid(const char *value, char *uid, size_t uidlen);

/* ---- QEMU (vmspec_qemu.c) ----
 * Reads qemu-system-*'s argv ("-opt value" or "--opt value"):
 *   -drive    file=PATH (or file.filename=PATH; "file:PATH",
 *             "host_device:PATH" prefixes), read-only when readonly=on,
 *             read-only=on, media=cdrom or snapshot=on; if=, format=,
 *             cache=, aio=, id= and the rest are tolerated; a drive without
 *             a file is empty; "json:{...}" is read as -blockdev JSON;
 *             another "PROTOCOL:" (nbd:, iscsi:, rbd:, ...) is a warning
 *   -blockdev keyval (driver=file|host_device|host_cdrom, filename=PATH,
 *             dotted children such as file.filename=PATH) or JSON
 *             ({"driver":"raw","file":{"driver":"file","filename":PATH}});
 *             read-only=on applies to the node and its children; network
 *             drivers (nbd, iscsi, rbd, gluster, nfs, ssh, http...) are warnings
 *   -hda..-hdd, -cdrom (read-only), -snapshot (every drive read-only)
 *   uid       -name guest=NAME,... or -name NAME[,...], else -uuid U, unless
 *             one is set already (--vm)
 * Values follow QEMU's option syntax: items split at ',', ",," is a comma
 * inside a value. Fails with a message on a malformed value, an over-long
 * one, no volume or no uid. */
#define VMSPEC_QEMU_JSON_DEPTH 8u
int vmspec_qemu_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen);

/* Adds the volumes of one -drive value. */
int vmspec_qemu_drive(struct vmspec *s, const char *value, bool all_ro, char *err, size_t errlen);

/* Adds the volumes of one -blockdev value (keyval or JSON). */
int vmspec_qemu_blockdev(struct vmspec *s, const char *value, bool all_ro, char *err, size_t errlen);

/* ---- running a registered VM again (recovery without recover_command) ---- */
#define VMSPEC_ARGV_MAX 512u

/* A command line rebuilt from a spec; argv is NULL-terminated. */
struct vmspec_rerun {
	char **argv;                    /* FENCELOCK_BIN exec --vm UID ... -- ARGV... */
	int argc;
	char cwd[CTL_PATH_MAX + 1];     /* where the VM ran; its relative paths need it */
};

/* Rebuilds, from the spec `fencelock exec` registered (docs/control-protocol.md,
 * "The spec fencelock exec registers"), the command that runs the VM again
 * under `fencelock exec`: fencelock_bin exec --vm UID [--firecracker |
 * --cloud-hypervisor | --qemu] --volume PATH[:ro]... -- ARGV... Returns 0, or
 * -FL_EINVAL with a message if the spec was not written by fencelock exec or
 * is malformed (then a recover_command is needed), -FL_ENOMEM. */
int vmspec_rerun_build(const char *spec, const char *fencelock_bin, struct vmspec_rerun *out,
		       char *err, size_t errlen);

/* Frees what vmspec_rerun_build() allocated. */
void vmspec_rerun_free(struct vmspec_rerun *r);

#endif
