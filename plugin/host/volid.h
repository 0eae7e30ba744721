/* Volume identity: the name under which a volume is registered and leased,
 * the same on every host for the same device and different for different
 * devices, whatever path each host reaches it by.
 *
 * A path is only how one host reaches a volume: /dev/disk/by-id/wwn-... on
 * one host and /dev/mapper/mpatha on another are the same LUN, /x/a.img and
 * /x/./a.img are the same file, and Flintlock's devmapper names repeat on
 * every host for unrelated local devices. So the path is resolved (symlinks,
 * "." and "..") and the identity is read from what the device says about
 * itself (sysfs) or, for a regular file, from the filesystem that holds it
 * plus the file's path inside that filesystem. The rules (docs/design.md,
 * "Volume identity", says why two hosts agree):
 *   block device  sysfs of its MAJ:MIN: a partition is its disk's identity
 *                 plus ":partN"; device-mapper "dm/uuid" (multipath
 *                 "mpath-W" -> "wwid:W", anything else -> "dm:UUID"; no uuid,
 *                 e.g. a thin snapshot made by dmsetup -> refused); a loop
 *                 device is its backing file ("loop/backing_file", plus
 *                 ":off=N" for a non-zero offset); NVMe "wwid" (else
 *                 uuid/nguid/eui); SCSI/FC "device/wwid" with the NAA / EUI
 *                 / T10 prefixes turned into multipath's 3/2/1 so that a
 *                 path device and its multipath map agree. Nothing else
 *                 (a virtio serial, a name) is trusted: refused.
 *   regular file  "file:FS:PATH" where PATH is its path inside the
 *                 filesystem (mount root + path below the mount point) and
 *                 FS the filesystem: "FSTYPE=SOURCE" for a network filesystem
 *                 (nfs, nfs4, cifs, ceph, glusterfs, ...: the mount source as
 *                 written in the mount table), else "dev=ID" with ID the
 *                 identity of the block device under it, else "fsid=HEX"
 *                 (statfs f_fsid: ext4, xfs, btrfs derive it from the
 *                 filesystem UUID), else, for filesystems that only exist on
 *                 one host (tmpfs, ramfs), "host=MACHINE-ID,dev=MAJ:MIN".
 *   operator      "id:ID", given as --volume PATH:id=ID, for anything the
 *                 rules cannot name or that only looks alike.
 * Identities are printable ASCII without spaces, at most VOLID_MAX bytes,
 * and start with one of the namespaces above; characters outside
 * [A-Za-z0-9._:=/+,@~-] in what a device reports are replaced by '_' (that
 * can only make two devices look alike, never one device look like two: the
 * safe direction). Resolution reads sysfs, the mount table and statfs: it
 * runs in the registering process, never on the daemon's lease loop. */
#ifndef FL_PLUGIN_VOLID_H
#define FL_PLUGIN_VOLID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOLID_MAX 255u           /* = FSM_VOLID_MAX */
#define VOLID_OPERATOR_MAX 128u  /* the ID of "id:ID" */
#define VOLID_SYSFS_ENV "FENCELOCK_SYSFS_ROOT"

/* Where the resolver looks; NULL members take the defaults. Tests point
 * these at fake trees. */
struct volid_env {
	const char *sysfs;       /* default $FENCELOCK_SYSFS_ROOT, else "/sys" */
	const char *mountinfo;   /* default "/proc/self/mountinfo" */
	const char *machine_id;  /* default "/etc/machine-id" */
};

/* True if id is a well-formed identity: a known namespace, 1..VOLID_MAX
 * bytes of the allowed characters. */
bool volid_valid(const char *id);

/* Builds "id:" + given into id[0..idlen). 0, or -FL_EINVAL (message in err)
 * when given is empty, longer than VOLID_OPERATOR_MAX or not
 * [A-Za-z0-9._:-]. */
int volid_operator(const char *given, char *id, size_t idlen, char *err, size_t errlen);

/* The identity of block device major:minor from sysfs alone (no device node
 * is opened). 0, or -FL_ENOENT (no such device in sysfs) / -FL_EINVAL (the
 * device has no identity other hosts can share) with a sentence in err. */
int volid_block(const struct volid_env *env, uint32_t major, uint32_t minor, char *id, size_t idlen, char *err,
		size_t errlen);

/* The identity of path (a block device or a regular file): resolves it
 * (realpath), then applies the rules above. canon receives the resolved
 * path (may be NULL). 0, or -FL_ENOENT (path missing), -FL_EINVAL (no
 * identity: err names the path and says to pass --volume PATH:id=ID),
 * -FL_ENAMETOOLONG-like refusals as -FL_EINVAL. */
int volid_resolve(const struct volid_env *env, const char *path, char *id, size_t idlen, char *canon,
		  size_t canonlen, char *err, size_t errlen);

#endif
