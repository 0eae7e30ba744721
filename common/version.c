/* Version and build information (version.h). */
#include "common/version.h"
#include <stdlib.h>
#include <string.h>
#include "fencelock/fencelock.h"

#if defined(__has_include)
#if __has_include("fl_build.h")
#include "fl_build.h"
#endif
#endif
#ifndef FL_BUILD_COMMIT
#define FL_BUILD_COMMIT "unknown"
#endif

const char *fl_build_version(void)
{
	return FENCELOCK_VERSION;
}

const char *fl_build_commit(void)
{
	return FL_BUILD_COMMIT;
}

const char *fl_build_compiler(void)
{
#if defined(__clang__)
	return __VERSION__;
#elif defined(__GNUC__)
	return "gcc " __VERSION__;
#elif defined(__VERSION__)
	return __VERSION__;
#else
	return "unknown";
#endif
}

void fl_print_version(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\ncommit: %s\ncompiler: %s\n", prog, fl_build_version(), fl_build_commit(),
		fl_build_compiler());
}

void fl_version_flag(int argc, char **argv, const char *prog)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		fl_print_version(stdout, prog);
		exit(0);
	}
}
