/* integ-faults-load.c - the fault suite (t/integ-faults): overload (503 at once, threads
 * bounded) and clients that go away (their backend calls cancelled). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "t/integ.h"
#include "t/integ-faults.h"
#include "t/unit.h"

/* More concurrent requests than the bound admits: the excess gets 503 + Retry-After at once,
 * the thread count stays bounded, and afterwards everything is served again. */
static void *
burst_one(void *arg)
{
	struct burst *b = arg;
	struct reply r;
	char h[16];

	if (request(NULL, "/api/wide", NULL, &r)) {
		b->status = r.status;
		b->retry_after = integ_header(&r, "Retry-After", h, sizeof(h));
		b->ms = r.ms;
		reply_free(&r);
	}
	return NULL;
}

static void
overload_once(void)
{
	enum { N = 8 };	/* 8 requests x 3 calls against a bound of 6 calls: 2 requests fit */
	struct burst b[N];
	pthread_t tid[N];
	long threads_max = 0, rejected = 0, ok = 0;
	long bound = 8 + 2 + POOL_THREADS + MAX_INFLIGHT;	/* request, main + watcher, ... */
	double rejected_before = metric("fanout_rejected_total");
	struct reply r;

	memset(b, 0, sizeof(b));
	for (int i = 0; i < N; i++)
		CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, burst_one, &b[i]) == 0);
	for (int i = 0; i < 20; i++) {	/* samples while the burst is served */
		long t = integ_proc_status(env.cgi, "Threads");

		threads_max = t > threads_max ? t : threads_max;
		clock_sleep_us(10000);
	}
	for (int i = 0; i < N; i++) {
		CU_ASSERT_FATAL(pthread_join(tid[i], NULL) == 0);
		if (b[i].status == 503) {
			rejected++;
			CU_ASSERT(b[i].retry_after);
			CU_ASSERT(b[i].ms < 250);	/* at once, not after the backends' 300 ms */
		} else
			ok += b[i].status == 200;
	}
	printf("\n    %ld served, %ld refused with 503, at most %ld threads (bound %ld) ", ok,
	    rejected, threads_max, bound);
	CU_ASSERT(rejected >= 1);
	CU_ASSERT_EQUAL(ok + rejected, N);
	CU_ASSERT(threads_max > 0 && threads_max <= bound);
	CU_ASSERT_EQUAL(metric("fanout_rejected_total"), rejected_before + (double)rejected);
	CU_ASSERT_FATAL(request(NULL, "/api/wide", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
}

/* Concurrent requests fill the caches in an order that varies: which pooled curl handle gets a
 * kept connection of its own depends on which calls overlap, so a burst may still add one long
 * after the others have stopped adding (seen under TSan). After two bursts of warm-up, four more
 * (32 requests) may add at most 2 descriptors; a leak per request would add 32, one per burst 4. */
void
test_overload(void)
{
	int warm;

	overload_once();
	overload_once();
	warm = settled_fds();
	for (int i = 0; i < 4; i++)
		overload_once();
	assert_no_growth("overload", warm + 2);
}

/* A client that goes away: the request's backend call is cancelled at once (multi), or at its
 * blocking transfer's next look, 50 ms at most (threads), and nothing stays in flight. */
void
test_client_gone(void)
{
	static const char *const executors[] = { "multi", "threads" };

	static int first;

	for (size_t n = 0; n < 4; n++) {
		size_t i = n / 2;
		char url[128], series[160];
		double cancelled;
		int64_t t0;

		snprintf(series, sizeof(series), "fanout_backend_calls_total{endpoint="
		    "\"/api/gone/%s\",backend=\"slow\",outcome=\"cancelled\"}", executors[i]);
		cancelled = metric(series);
		snprintf(url, sizeof(url), "%s/api/gone/%s", env.url, executors[i]);
		t0 = clock_now_us();
		CU_ASSERT(integ_abandon(url, 300));
		/* The backend answers after 4 s: both must be gone long before (the client leaves
		 * at 0.3 s; a blocking transfer that looked only once a second took 1.0 s). */
		CU_ASSERT(await_metric(series, (cancelled < 0 ? 0 : cancelled) + 1));
		CU_ASSERT(await_metric_cmp("fanout_backend_calls_in_flight", 0, true));
		printf("\n    %s: cancelled and nothing in flight %.0f ms after the request "
		    "began ", executors[i], (clock_now_us() - t0) / 1000.0);
		CU_ASSERT(clock_now_us() - t0 < 900 * 1000);
		if (n % 2 == 0)
			first = settled_fds();
		else if (i == 0)	/* another thread's first multi handle: its 2 wake-up fds */
			assert_no_growth("client gone, multi", first + 2);
		else
			assert_no_growth("client gone, threads", first);
	}
}
