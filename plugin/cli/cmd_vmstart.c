/* `fencelock __vm-start`: the first program a VM the daemon starts itself
 * runs (a re-run, or recover_command; plugin/daemon/vmrt.c). The daemon's
 * child shares the daemon's memory until it execs, and the daemon's worker
 * thread waits until then, so that child touches no file system that may
 * hang: it execs this, from the daemon's own installation, at once. Here, a
 * process of its own, the steps that may wait for a file system run: the
 * VM's log is opened (as root, creating the directory; one rotation to .1
 * past MAX_BYTES) as stdout and stderr, root is given up for the VM's owner,
 * the working directory is entered, and the command is exec'd in place (same
 * pid: the daemon watches it by that pid). Not for operators: the daemon
 * builds the command line.
 *
 *   fencelock __vm-start LOG_DIR LOG_PATH MAX_BYTES UID GID GROUP CWD -- ARGV...
 *
 * UID, GID and GROUP are numbers, or "-" (UID: run as the daemon does;
 * GROUP: no supplementary group). Exit 126 (a step failed, the command did
 * not run) or 127 (the command was not found) otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "plugin/cli/cmd_ops.h"

#define VMSTART_ARGS 8 /* __vm-start and its 7 fixed arguments */

/* A number for an id, or -1 for "-" / a malformed one (then *bad). */
static long vmstart_id(const char *s, int *bad)
{
	if (strcmp(s, "-") == 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX - 1u) {
		*bad = 1;
		return -1;
	}
	return (long)v;
}

/* The VM's log as stdout and stderr, or /dev/null (with a warning on the
 * daemon's stderr, which this process still has). */
static void vmstart_log(const char *dir, const char *path, unsigned long long max)
{
	char old[4200];
	struct stat st;
	(void)mkdir(dir, 0750);
	snprintf(old, sizeof(old), "%s.1", path);
	if (stat(path, &st) == 0 && (unsigned long long)st.st_size > max)
		(void)rename(path, old);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		fprintf(stderr, "fencelockd: cannot open the VM's log %s (%s); its output goes to /dev/null\n", path,
			strerror(errno));
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	if (fd >= 0 && (dup2(fd, 1) < 0 || dup2(fd, 2) < 0))
		_exit(FL_EXEC_EXIT_NOEXEC);
	if (fd > 2)
		close(fd);
}

/* Root given up for good for uid / gid (+ group); false if a step failed. */
static int vmstart_drop(long uid, long gid, long group)
{
	if (uid < 0)
		return 1;
	gid_t g = (gid_t)group;
	if (setgroups(group >= 0 ? 1u : 0u, &g) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0 ||
	    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)
		return 0;
	return uid == 0 || setuid(0) != 0;
}

int fl_cli_vm_start(int argc, char **argv)
{
	if (argc < VMSTART_ARGS + 2 || strcmp(argv[VMSTART_ARGS], "--") != 0) {
		fprintf(stderr, "fencelock __vm-start: for fencelockd only\n");
		return FL_EXEC_EXIT_USAGE;
	}
	int bad = 0;
	char *end;
	unsigned long long max = strtoull(argv[3], &end, 10);
	long uid = vmstart_id(argv[4], &bad), gid = vmstart_id(argv[5], &bad), group = vmstart_id(argv[6], &bad);
	if (bad || *end != '\0' || (uid >= 0 && gid < 0)) {
		fprintf(stderr, "fencelock __vm-start: malformed ids or log size\n");
		return FL_EXEC_EXIT_USAGE;
	}
	vmstart_log(argv[1], argv[2], max);
	if (!vmstart_drop(uid, gid, group))
		_exit(FL_EXEC_EXIT_NOEXEC);
	if (chdir(argv[7]) != 0)
		(void)!chdir("/");
	char **cmd = argv + VMSTART_ARGS + 1;
	execv(cmd[0], cmd);
	_exit(errno == ENOENT ? FL_EXEC_EXIT_NOTFOUND : FL_EXEC_EXIT_NOEXEC);
}
