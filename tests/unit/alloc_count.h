/* Counts heap allocations, for tests that assert a path allocates nothing.
 *
 * A test that includes this header (once per binary) is linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
 * (the Makefile's ALLOC_WRAP): every call to these from the test and from the
 * project's static libraries then goes through the wrappers below, which
 * count it while alloc_counting is set and pass it on to the C library.
 * Calls made inside shared libraries (libc itself, libaio, cmocka) are not
 * seen; the project's own code is. The count is atomic: the block device's
 * submission thread runs our code too. */
#ifndef FL_TESTS_ALLOC_COUNT_H
#define FL_TESTS_ALLOC_COUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

static atomic_bool alloc_counting;
static atomic_uint alloc_calls;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

static void alloc_note(void)
{
	if (atomic_load(&alloc_counting))
		atomic_fetch_add(&alloc_calls, 1u);
}

void *__wrap_malloc(size_t n)
{
	alloc_note();
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	alloc_note();
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	alloc_note();
	return __real_realloc(p, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	alloc_note();
	return __real_posix_memalign(p, align, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	alloc_note();
	return __real_aligned_alloc(align, n);
}

/* Starts counting from zero. */
static inline void alloc_count_start(void)
{
	atomic_store(&alloc_calls, 0u);
	atomic_store(&alloc_counting, true);
}

/* Stops counting; returns the allocations since alloc_count_start(). */
static inline unsigned alloc_count_stop(void)
{
	atomic_store(&alloc_counting, false);
	return atomic_load(&alloc_calls);
}

#endif
