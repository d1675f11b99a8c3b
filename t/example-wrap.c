/* example-wrap.c - the README's example: wrapping existing blocking functions with fanout/. */
/* It builds with the .c files of fanout/ alone (-I fanout -pthread), as a program that vendors
 * fanout/ would; t/fanout-alone.sh checks that. */
#define _POSIX_C_SOURCE 200809L	/* nanosleep under -std=c11 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout.h"

/* Stand-ins for a blocking client library: each waits, then fills `out`. */
static void
wait_ms(long ms)
{
	/* Cut short by a signal, the stand-in only answers sooner. */
	(void)nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 },
	    NULL);
}

struct profile { char segment[16]; };
struct recs { char items[64]; };

static int
profile_get(const char *user, int timeout_ms, struct profile *out)
{
	if (timeout_ms < 40)
		return -1;	/* would not make it in time */
	wait_ms(40);
	snprintf(out->segment, sizeof(out->segment), "%s", user[0] == 'a' ? "gold" : "basic");
	return 0;
}

static int
orders_get(const char *user, int *count)
{
	wait_ms(70);
	*count = (int)strlen(user);
	return 0;
}

static int
recs_get(const char *segment, struct recs *out)
{
	wait_ms(30);
	snprintf(out->items, sizeof(out->items), "offers for %s", segment);
	return 0;
}

/* The wrappers: one argument struct per call, one `int fn(void *)` per blocking function. */
struct profile_call { const char *user; struct profile out; };
struct orders_call { const char *user; int count; };
struct recs_call { const struct profile_call *profile; struct recs out; };

static int
profile_fn(void *arg)
{
	struct profile_call *p = arg;
	int64_t left_ms = fanout_time_left_us() / 1000;	/* stay within the deadline */

	return profile_get(p->user, left_ms > INT_MAX ? INT_MAX : (int)left_ms, &p->out);
}

static int
orders_fn(void *arg)
{
	struct orders_call *o = arg;

	return orders_get(o->user, &o->count);
}

static int
recs_fn(void *arg)
{
	struct recs_call *r = arg;

	/* Runs only after "profile" succeeded; its arg lives as long as the group. */
	return recs_get(r->profile->out.segment, &r->out);
}

/* Adds a call, or frees its arg if the group could not take it. */
static int
add(fanout_group *g, const char *name, fanout_fn fn, void *arg)
{
	if (arg == NULL || fanout_group_add(g, name, fn, arg, free) != FANOUT_OK) {
		free(arg);
		return -1;
	}
	return 0;
}

/* Fetches the three in 300 ms at most; returns an HTTP-like status. */
static int
dashboard(const char *user)
{
	fanout_group *g = fanout_group_new(FANOUT_THREADS, fanout_now_us() + 300 * 1000);
	struct profile_call *p = calloc(1, sizeof(*p));
	struct orders_call *o = calloc(1, sizeof(*o));
	struct recs_call *r = calloc(1, sizeof(*r));
	int status = 200;

	if (g == NULL || p == NULL || o == NULL || r == NULL) {
		fanout_group_free(g);
		free(p), free(o), free(r);
		return 500;
	}
	p->user = o->user = user;
	r->profile = p;
	if (add(g, "profile", profile_fn, p) || add(g, "orders", orders_fn, o) ||
	    add(g, "recs", recs_fn, r) || fanout_group_after(g, "recs", "profile")) {
		fanout_group_free(g);	/* frees the args it took */
		return 500;
	}
	switch (fanout_group_run(g)) {
	case FANOUT_OK:
		break;
	case FANOUT_EBUSY:
		status = 503;	/* overloaded: nothing ran */
		break;
	default:
		status = 500;
		break;
	}
	for (size_t i = 0; status == 200 && i < fanout_group_size(g); i++) {
		const struct fanout_result *res = fanout_group_result(g, i);

		printf("%-8s %-8s start %3lld ms, took %3lld ms\n", res->name,
		    fanout_state_name(res->state), (long long)res->start_us / 1000,
		    (long long)res->duration_us / 1000);
		if (res->state != FANOUT_CALL_OK)
			status = 502;
	}
	/* Args of calls that finished are stable: read them before freeing the group. */
	if (status == 200)
		printf("segment %s, %d orders, %s\n", p->out.segment, o->count, r->out.items);
	fanout_group_free(g);	/* never blocks; a late call frees the args when it returns */
	return status;
}

int
main(void)
{
	int64_t t0;
	int status;

	if (fanout_init(NULL) != FANOUT_OK)
		return 1;
	t0 = fanout_now_us();
	status = dashboard("alice");
	printf("status %d in %lld ms (serially: 140 ms)\n", status,
	    (long long)(fanout_now_us() - t0) / 1000);
	fanout_shutdown();
	/* 40 + 30 on the critical path, orders' 70 beside it: well under the serial 140 ms. */
	return status == 200 && fanout_now_us() - t0 < 120 * 1000 ? 0 : 1;
}
