/* A mutex shared by the lease loop thread (SCHED_RR) and a helper thread of
 * the ordinary policy (a worker, the log store, the device's I/O thread):
 * with priority inheritance, a helper preempted while it holds the mutex runs
 * at the loop's priority until it lets go, so the loop waits for a few
 * pointer moves, never for the CPU share of an ordinary thread on a busy host
 * (priority inversion). Falls back to an ordinary mutex where the system
 * offers no priority inheritance. */
#ifndef FL_PI_MUTEX_H
#define FL_PI_MUTEX_H

#include <pthread.h>

static inline void fl_pi_mutex_init(pthread_mutex_t *mu)
{
	pthread_mutexattr_t a;
	if (pthread_mutexattr_init(&a) == 0) {
		if (pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT) == 0 && pthread_mutex_init(mu, &a) == 0) {
			pthread_mutexattr_destroy(&a);
			return;
		}
		pthread_mutexattr_destroy(&a);
	}
	pthread_mutex_init(mu, NULL);
}

#endif
