/* clock.c - monotonic time in microseconds. */
#include "common/clock.h"

#include <errno.h>

int64_t
clock_now_us(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec
clock_timespec(int64_t us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

void
clock_sleep_us(int64_t us)
{
	struct timespec left;

	if (us <= 0)
		return;
	left.tv_sec = (time_t)(us / 1000000);
	left.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		;
}

int
clock_lock_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(cv, &ca) == 0 ? 0 : -1;
	pthread_condattr_destroy(&ca);
	if (rc == 0 && pthread_mutex_init(mu, NULL) != 0) {
		pthread_cond_destroy(cv);
		rc = -1;
	}
	return rc;
}
