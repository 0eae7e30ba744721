/* The one place an assertion failure ends the process. */
#include <stdio.h>
#include <stdlib.h>
#include "common/assert.h"

void fl_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "fencelock: assertion failed: %s (%s:%d %s)\n", expr, file, line, func);
	fflush(stderr);
	abort();
}
