/* What a VM is, as far as fencing cares: its uid and its volumes, taken from
 * the command line of `fencelock exec` or from the VMM's own arguments and
 * configuration, so that `fencelock exec --firecracker -- firecracker ...`
 * (Flintlock's --firecracker-bin pointing at a two-line wrapper) and
 * `fencelock exec --cloud-hypervisor --vm UID -- cloud-hypervisor ...` need
 * no second description of the VM.
 *
 * Firecracker: the uid is --id, the volumes are the "drives" of the JSON
 * --config-file ("path_on_host", "is_read_only"; vhost-user drives without a
 * host path are skipped). Cloud Hypervisor: the volumes are the values of
 * --disk ("path=...,readonly=on|off|true|false", several values per --disk
 * and several --disk options); it has no uid of its own. Relative paths are
 * made absolute against the current directory, as the VMM would open them. */
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

struct vmspec {
	char uid[CTL_UID_MAX + 1];      /* "" when not known */
	uint32_t n_volumes;
	struct vmspec_volume volumes[CTL_VOLUMES_MAX];
};

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

/* Reads Firecracker's argv (argv[0] the binary): --id and --config-file, in
 * both "--opt value" and "--opt=value" forms; loads the config file. Fails
 * with a message if either is missing (drives configured later over the API
 * socket cannot be seen, so they cannot be guarded). */
int vmspec_firecracker_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen);

/* Adds one Cloud Hypervisor --disk value "path=...,readonly=...,...". */
int vmspec_ch_disk(struct vmspec *s, const char *value, char *err, size_t errlen);

/* Reads Cloud Hypervisor's argv for --disk values. Fails if there is none. */
int vmspec_ch_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen);

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
 * --cloud-hypervisor] --volume PATH[:ro]... -- ARGV... Returns 0, or
 * -FL_EINVAL with a message if the spec was not written by fencelock exec or
 * is malformed (then a recover_command is needed), -FL_ENOMEM. */
int vmspec_rerun_build(const char *spec, const char *fencelock_bin, struct vmspec_rerun *out,
		       char *err, size_t errlen);

/* Frees what vmspec_rerun_build() allocated. */
void vmspec_rerun_free(struct vmspec_rerun *r);

#endif
