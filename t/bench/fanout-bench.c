/* fanout-bench.c - cost per call of each executor, and wall time of N sleeping calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/fanout.h"

static int
noop(void *arg)
{
	(void)arg;
	return 0;
}

static int
sleeper(void *arg)
{
	int64_t us = *(const int64_t *)arg;

	/* Interrupted early by a signal, it would only shorten a benchmark run. */
	(void)nanosleep(&(struct timespec){ .tv_sec = (time_t)(us / 1000000),
	    .tv_nsec = (long)(us % 1000000) * 1000 }, NULL);
	return 0;
}

/* Runs `groups` groups of `width` calls of fn; returns the mean wall µs per group, or -1. */
static double
run_groups(enum fanout_executor ex, int groups, int width, int (*fn)(void *), void *arg)
{
	static const char *const names[] = { "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7" };
	int64_t t0 = fanout_now_us();

	for (int n = 0; n < groups; n++) {
		fanout_group *g = fanout_group_new(ex, FANOUT_NO_DEADLINE);
		enum fanout_err err = g == NULL ? FANOUT_ENOMEM : FANOUT_OK;

		for (int i = 0; i < width && err == FANOUT_OK; i++)
			err = fanout_group_add(g, names[i], fn, arg, NULL);
		if (err == FANOUT_OK)
			err = fanout_group_run(g);
		for (size_t i = 0; err == FANOUT_OK && i < fanout_group_size(g); i++)
			if (fanout_group_result(g, i)->state != FANOUT_CALL_OK)
				err = FANOUT_EINVAL;
		fanout_group_free(g);
		if (err != FANOUT_OK) {
			fprintf(stderr, "fanout-bench: group failed: %s\n", fanout_strerror(err));
			return -1;
		}
	}
	return (double)(fanout_now_us() - t0) / groups;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum fanout_executor ex;
	} execs[] = { { "threads", FANOUT_THREADS }, { "pool", FANOUT_POOL },
		{ "serial", FANOUT_SERIAL } };
	int64_t sleep_us = 50 * 1000;
	int groups = 20000, width = 8;
	enum fanout_err err;

	if (argc > 1 && strcmp(argv[1], "--quick") == 0)
		groups = 2000;
	else if (argc > 1) {
		fprintf(stderr, "usage: fanout-bench [--quick]\n");
		return 2;
	}
	if ((err = fanout_init(NULL)) != FANOUT_OK) {
		fprintf(stderr, "fanout-bench: fanout_init: %s\n", fanout_strerror(err));
		return 1;
	}
	printf("%-8s %22s %22s\n", "executor", "no-op call (us/call)", "8 x 50 ms (ms wall)");
	for (size_t e = 0; e < sizeof(execs) / sizeof(execs[0]); e++) {
		double noop_us = run_groups(execs[e].ex, groups, width, noop, NULL);
		double sleep_wall = run_groups(execs[e].ex, 5, width, sleeper, &sleep_us);

		if (noop_us < 0 || sleep_wall < 0)
			return 1;
		printf("%-8s %22.2f %22.1f\n", execs[e].name, noop_us / width, sleep_wall / 1000);
	}
	fanout_shutdown();
	return 0;
}
