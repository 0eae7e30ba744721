/* The host's monotonic clock in microseconds (declared in loop.h). Apart from
 * the epoll loop so that code that only needs the time (the client library's
 * request deadlines, guard files) does not link the loop and its timer heap. */
#include <time.h>
#include "common/loop.h"

uint64_t fl_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * FL_US_PER_S + (uint64_t)ts.tv_nsec / 1000u;
}
