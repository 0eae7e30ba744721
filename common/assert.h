/* Assertions on invariants (TigerBeetle / SQLite habits).
 *
 * FL_ASSERT(x): always checked, in release builds too: a broken invariant in a
 * fencing system must stop the process rather than let it go on writing.
 * ALWAYS(x) / NEVER(x): for "impossible" branches that still have a safe
 * fallback; they abort in debug builds (NDEBUG unset) and evaluate to x in
 * release builds, so the fallback runs. */
#ifndef FL_ASSERT_H
#define FL_ASSERT_H

#include <stdnoreturn.h>

noreturn void fl_assert_fail(const char *expr, const char *file, int line, const char *func);

#define FL_ASSERT(x) \
	((x) ? (void)0 : fl_assert_fail(#x, __FILE__, __LINE__, __func__))

#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#else
#define ALWAYS(x) ((x) ? 1 : (fl_assert_fail(#x, __FILE__, __LINE__, __func__), 0))
#define NEVER(x) ((x) ? (fl_assert_fail(#x, __FILE__, __LINE__, __func__), 1) : 0)
#endif

/* Marks a branch no input can reach (a switch default over a closed set):
 * ends the process like a failed FL_ASSERT, naming why. */
#define FL_UNREACHABLE(why) fl_assert_fail("unreachable: " why, __FILE__, __LINE__, __func__)

#define FL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FL_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
