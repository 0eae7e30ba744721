/* fl_file_replace() (see safefile.h): dir fd, unlinkat, openat with
 * O_CREAT | O_EXCL | O_NOFOLLOW, write, renameat. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "fencelock/error.h"
#include "plugin/host/safefile.h"

#define SAFEFILE_PATH_MAX 4096u

/* Splits path into its directory (opened) and file name. */
static int open_parent(const char *path, char *base, size_t baselen)
{
	char dir[SAFEFILE_PATH_MAX];
	size_t l = strlen(path);
	if (l == 0 || l >= sizeof(dir) || path[l - 1] == '/')
		return -FL_EINVAL;
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	if (strlen(name) + 5 > NAME_MAX || strlen(name) >= baselen || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -FL_EINVAL;
	snprintf(base, baselen, "%s", name);
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd >= 0 ? fd : fl_from_errno(errno);
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	/* Bounded by n: each round writes at least one byte or fails. */
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? fl_from_errno(errno) : -FL_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fl_file_replace(const char *path, const void *buf, size_t n, mode_t mode)
{
	FL_ASSERT(path != NULL);
	FL_ASSERT(buf != NULL || n == 0);
	char base[NAME_MAX + 1], tmp[NAME_MAX + 8];
	int dfd = open_parent(path, base, sizeof(base));
	if (dfd < 0)
		return dfd;
	snprintf(tmp, sizeof(tmp), "%s.tmp", base);
	int rv = 0;
	if (unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT)
		rv = fl_from_errno(errno);
	int fd = rv != 0 ? -1 : openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (rv == 0 && fd < 0)
		rv = errno == EEXIST ? -FL_EBUSY : fl_from_errno(errno);
	struct stat st;
	if (rv == 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1))
		rv = -FL_EBUSY; /* not the file we just created */
	if (rv == 0 && fchmod(fd, mode) != 0) /* exactly mode: the daemon's umask does not narrow it */
		rv = fl_from_errno(errno);
	if (rv == 0)
		rv = write_all(fd, buf, n);
	if (fd >= 0 && close(fd) != 0 && rv == 0)
		rv = fl_from_errno(errno);
	if (rv == 0 && renameat(dfd, tmp, dfd, base) != 0)
		rv = fl_from_errno(errno);
	if (rv != 0 && fd >= 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rv;
}
