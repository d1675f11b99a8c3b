/* integ-hostile.h - private to t/integ-hostile (integ-hostile*.c): hostile FastCGI sent straight
 * to a fresh fanout-cgi per case, the harness that starts it and checks it afterwards, and the
 * cases. */
#ifndef T_INTEG_HOSTILE_H
#define T_INTEG_HOSTILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/buf.h"
#include "t/solo.h"

/*
 * Every wait is bounded by HOSTILE_BOUND_MS. After each case fanout-cgi must still run, answer
 * /healthz with 200 on a fresh connection, and come back to its level at rest (taken after a
 * warm-up): no more descriptors, and an RSS within HOSTILE_RSS_BACK_KB of it. While a case runs
 * its RSS stays within HOSTILE_RSS_PEAK_KB of that level: what the cases send would take far more
 * if the server kept it (10,000 parameters; 2,000 answers of about 40 KB, 80 MB, nobody reads).
 */
#define HOSTILE_BOUND_MS 5000
#define HOSTILE_RSS_BACK_KB (HOSTILE_RSS_SLACK * 8 * 1024)
#define HOSTILE_RSS_PEAK_KB (HOSTILE_RSS_SLACK * 24 * 1024)

/* Under a sanitizer (this tree's fanout-cgi is built as the tests are) the allocator keeps what
 * is freed (ASan's quarantine, TSan's caches) and shadow memory adds to the RSS: twice the
 * margins (TSan: 8.6 MB more after 10,000 parameters, where glibc returns all but 0.5). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOSTILE_RSS_SLACK 2
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HOSTILE_RSS_SLACK 2
#endif
#endif
#ifndef HOSTILE_RSS_SLACK
#define HOSTILE_RSS_SLACK 1
#endif

/* A fresh fanout-cgi for one case, and its level at rest. */
struct victim {
	struct solo s;
	pid_t pid;
	int fds;		/* descriptors open at rest */
	long rss_kb;		/* VmRSS at rest */
};

/* Set when a victim could not even start: the suite then exits 99, a hard error. */
extern bool hostile_broken_setup;

/* Starts a fresh fanout-cgi alone on a Unix socket (config: /healthz, and /metrics, whose
 * answer is about 40 KB), warms it up with one request of each, and takes its level at rest.
 * False, after a failed assertion, if it did not start. */
bool victim_start(struct victim *v);

/* A new connection to the victim; -1 on error. */
int victim_connect(const struct victim *v);

/* The victim's RSS now, in kB; -1 if it is gone. */
long victim_rss(const struct victim *v);

/* Sends records on a new connection and ends our input (shutdown), then waits up to the bound
 * for the server to close that connection, dropping what it answers. True if it closed it. */
bool send_and_end(const struct victim *v, const struct buf *records);

/* Sends the first len bytes of records on a new connection to a fresh victim and closes it at
 * once, then finishes the victim with `what`. */
void sends_and_closes(const char *what, const struct buf *records, size_t len);

/* The end of every case: asserts that the victim still runs, answers /healthz with 200 on a
 * fresh connection, and comes back to its level at rest; then stops it (exit 0, no sanitizer
 * report) and removes its directory. Prints what it saw after `what`, and the victim's stderr
 * if it died or did not answer. */
void victim_finish(struct victim *v, const char *what);

/* The cases, each described where it is defined; main() (integ-hostile.c) runs them. */
/* integ-hostile.c */
void test_get_values(void);
void test_params_length(void);
void test_truncated_header(void);
void test_name_length_max(void);
/* integ-hostile-requests.c */
void test_many_params(void);
void test_second_begin(void);
void test_other_id(void);
void test_close_mid_request(void);
void test_unread_body(void);
void test_large_body_kept(void);
void test_never_reads(void);

#endif
