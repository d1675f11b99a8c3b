/* clock.c - fanout's own clock: the one every deadline of the API is an instant of. */
#include "internal.h"

int64_t
fanout_now_us(void)
{
	struct timespec ts;

	/* A monotonic clock cannot fail on Linux with a valid pointer. */
	(void)clock_gettime(FANOUT_CLOCK, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
