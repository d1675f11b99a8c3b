/* integ-faults.h - private to t/integ-faults (integ-faults*.c): its stack, the helpers its parts
 * share, and its tests. */
#ifndef T_INTEG_FAULTS_H
#define T_INTEG_FAULTS_H

#include <stdbool.h>

#include "t/integ.h"

/*
 * Every case runs twice and asserts the exact answer each time, then that fanout-cgi is still
 * healthy (its health check answers 200) and that after the second run it holds no more file
 * descriptors than after the first: caches fill in the first run (kept connections to backends
 * and from nginx, a thread's first curl multi handle), so a leak is what still grows in the
 * second. Cleanup that may trail the answer (a thread whose call timed out closing its
 * connection) is waited for, up to SETTLE_MS.
 */
#define SETTLE_MS 3000
#define THREADS "8"		/* request threads */
#define MAX_INFLIGHT 6		/* limits.max_inflight */
#define POOL_THREADS 4

/* The stack every test talks to, started by the suite's init (integ-faults.c), with its config
 * and fanout-cgi's arguments (to start it again). */
extern struct integ_stack env;
extern const char config_text[];
extern const char *const cgi_args[];

/* A request (method NULL: GET) to the front at path; false if no HTTP exchange took place. */
bool request(const char *method, const char *path, const char *const *headers, struct reply *r);

/* The value of a metric line that starts with `series` (name and labels), or -1. */
double metric(const char *series);

/* Polls until the metric reaches want (or more; with at_most, want or less); false after
 * SETTLE_MS. await_metric: at least want. */
bool await_metric_cmp(const char *series, double want, bool at_most);
bool await_metric(const char *series, double want);

/* Healthy, and the descriptor count once it has settled (what trails the answer is done). */
int settled_fds(void);

/* After the second run of a case: no more descriptors than after the first. */
void assert_no_growth(const char *name, int first);

/* What one of several concurrent requests got. */
struct burst {
	long status;
	bool retry_after;
	double ms;
};

/* The tests, each described where it is defined; main() (integ-faults.c) runs them. */
/* integ-faults-backends.c */
void test_backend_faults(void);
void test_request_faults(void);
/* integ-faults-load.c */
void test_overload(void);
void test_client_gone(void);
/* integ-faults-ops.c */
void test_metrics_and_log(void);
void test_reload(void);
void test_reload_in_flight(void);
void test_sigterm_under_load(void);

#endif
