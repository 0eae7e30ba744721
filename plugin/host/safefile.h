/* Replacing a file the daemon writes (the metrics textfile) without ever
 * following a link someone planted.
 *
 * The daemon runs as root and writes into directories that others may be
 * able to write to (a node_exporter textfile directory). A plain
 * fopen(PATH ".tmp", "w") follows a symlink planted at that name, and O_TRUNC
 * truncates whatever a planted hard link points to, so root would overwrite
 * a file of the planter's choosing. Here the temporary name is removed first
 * (unlinking a link never touches its target), created with O_CREAT | O_EXCL
 * | O_NOFOLLOW relative to a descriptor of the directory (so nothing that
 * exists, link or not, is opened), checked to be a fresh regular file, and
 * renamed over the final name (rename replaces a symlink there, it does not
 * follow it). */
#ifndef FL_PLUGIN_SAFEFILE_H
#define FL_PLUGIN_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes n bytes of buf as the new content of path (exactly mode, whatever the umask),
 * through PATH.tmp in the same directory. The directories on the way are
 * the caller's (config) choice and are followed; the final name and the
 * temporary name never are. Blocking (a file write): call it off the lease
 * loop. Returns 0, -FL_EINVAL (path without a file name or too long),
 * -FL_EBUSY (something was planted again at PATH.tmp between the removal
 * and the creation) or the -FL_E code of the failing call. */
int fl_file_replace(const char *path, const void *buf, size_t n, mode_t mode);

#endif
