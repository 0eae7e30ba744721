/* The version of the programs and how they were built: for --version of
 * every program and the fencelock_build_info metric. The commit is taken
 * from git at build time (build/gen/fl_build.h, rewritten by the Makefile
 * only when it changes); a build outside a git checkout says "unknown". */
#ifndef FL_VERSION_H
#define FL_VERSION_H

#include <stdio.h>

/* "MAJOR.MINOR.PATCH", the version of include/fencelock/fencelock.h. */
const char *fl_build_version(void);
/* `git describe --always --dirty` of the source tree, or "unknown". */
const char *fl_build_commit(void);
/* The compiler that built this program (its __VERSION__). */
const char *fl_build_compiler(void);

/* Prints "PROG VERSION" and the build lines (commit, compiler) to f:
 * the text of every program's --version. */
void fl_print_version(FILE *f, const char *prog);

/* For the test and benchmark programs: when argv[1] is --version, prints
 * fl_print_version(stdout, prog) and exits 0; otherwise returns. */
void fl_version_flag(int argc, char **argv, const char *prog);

#endif
