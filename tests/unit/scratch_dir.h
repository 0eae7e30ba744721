/* A scratch directory for unit tests that need a real file system with
 * O_DIRECT (tmpfs may refuse it): <build>/tmp-TAG-PID, found from the test's
 * own path <build>/tests/<module>/<exe>. */
#ifndef FL_TESTS_UNIT_SCRATCH_DIR_H
#define FL_TESTS_UNIT_SCRATCH_DIR_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates the directory into out[0..cap) (mode 0700). Returns 0, or -1 with
 * errno set. */
static inline int test_scratch_dir(char *out, size_t cap, const char *tag)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (slash == NULL)
			return -1;
		*slash = '\0';
	}
	if ((size_t)snprintf(out, cap, "%s/tmp-%s-%d", exe, tag, (int)getpid()) >= cap)
		return -1;
	return mkdir(out, 0700);
}

#endif
