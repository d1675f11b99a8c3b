/* clock.h - monotonic time in microseconds, the one time base of the project. fanout/ reads
 * the same clock through its own fanout_now_us() (it builds alone, without common/): cgi/ reads
 * this one, and the deadlines it hands fanout are instants of both (t/unit-loop checks). */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC; never goes backwards, unaffected by date changes. */
int64_t clock_now_us(void);

/* The CLOCK_MONOTONIC instant `us` as a timespec, for pthread_cond_timedwait and friends. */
struct timespec clock_timespec(int64_t us);

/* A mutex and a condition variable whose timed waits take clock_timespec() instants; -1 (nothing
 * made) if pthreads refuses. */
int clock_lock_init(pthread_mutex_t *mu, pthread_cond_t *cv);

/* Sleeps for `us` microseconds (restarted on EINTR); does nothing for us <= 0. */
void clock_sleep_us(int64_t us);

#endif
