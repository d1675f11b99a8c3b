/* clock.h - monotonic time in microseconds, the one time base of the project. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC; never goes backwards, unaffected by date changes. */
int64_t clock_now_us(void);

/* The CLOCK_MONOTONIC instant `us` as a timespec, for pthread_cond_timedwait and friends. */
struct timespec clock_timespec(int64_t us);

/* Sleeps for `us` microseconds (restarted on EINTR); does nothing for us <= 0. */
void clock_sleep_us(int64_t us);

#endif
