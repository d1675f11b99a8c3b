/* integ-hostile.c - hostile FastCGI records sent straight to fanout-cgi: after each, the server
 * must still run and answer a well-formed request. Expected to fail while libfcgi parses
 * FastCGI (Makefile.am: XFAIL_TESTS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t/fcgi-client.h"
#include "t/solo.h"
#include "t/unit.h"

#define XFAIL_REASON \
    "integ-hostile: expected to fail on the libfcgi server: one FCGI_GET_VALUES record naming " \
    "FCGI_MAX_CONNS eight times overflows char response[64] in libfcgi's " \
    "ProcessManagementRecord, and a PARAMS name length of 0x7ffffffe overflows nameLen + " \
    "valueLen + 2 in its ReadParams (Malloc asserts): each kills the process (issue 11 items 2 " \
    "and 3); passes once the own codec serves"

/* Exit status 99 is a hard error for automake, never an expected failure: a case that could
 * not even start the server or get its first answer proves nothing about the records. */
#define HARD_ERROR 99

static bool broken_setup;

/* What fanout-cgi wrote on stderr: why it died. */
static void
print_stderr(const struct solo *s)
{
	char path[INTEG_PATH_LEN];
	struct buf err = BUF_INIT;

	snprintf(path, sizeof(path), "%s/fanout.err", s->dir);
	if (integ_read_file(path, &err))
		for (const char *p = buf_str(&err); *p != '\0';) {
			size_t len = strcspn(p, "\n");

			printf("\n      stderr| %.*s", (int)len, p);
			p += len + (p[len] == '\n');
		}
	printf("\n    ");
	buf_free(&err);
}

/* Sends records on one connection to a fresh fanout-cgi and ends its input, waits until the
 * server closed that connection (or 5 s), then asserts that the process still runs and answers its health check
 * on a new connection. */
static void
survives(const char *what, const struct buf *records)
{
	struct solo s;
	pid_t pid = -1;
	int fd, status, health;
	bool closed, exited;
	char how[64];

	if (!solo_init(&s) || (pid = solo_spawn(&s, NULL, "fanout.err")) < 0 ||
	    !solo_ready(&s, pid, 5000)) {
		broken_setup = true;
		CU_FAIL("fanout-cgi did not start and answer its health check");
		if (pid > 0)
			(void)integ_stop(pid);
		solo_cleanup(&s, true);
		return;
	}
	fd = fcgi_connect_unix(s.sock);
	CU_ASSERT(fd >= 0 && fcgi_send(fd, records->data, records->len, 2000) &&
	    shutdown(fd, SHUT_WR) == 0);
	/* The end of the input makes the server finish with the records (libfcgi answers the
	 * GET_VALUES record and crashes only once its next read returns), and it has done so once
	 * it closed the connection, or crashed; asked sooner, another thread could answer the
	 * health check before the crash. */
	closed = fd >= 0 && fcgi_await_closed(&fd, 1, 5000);
	if (fd >= 0)
		close(fd);
	health = fcgi_get(s.sock, "/healthz", 5000);
	exited = solo_reaped(pid, health == 200 ? 0 : 5000, &status);
	printf("\n    %s: connection %s; then /healthz %d, fanout-cgi %s ", what,
	    closed ? "closed by the server" : "still open after 5 s", health,
	    exited ? solo_describe(status, how, sizeof(how)) : "running");
	CU_ASSERT(!exited);
	CU_ASSERT_EQUAL(health, 200);
	if (!exited)
		CU_ASSERT_EQUAL(integ_stop(pid), 0);	/* and a clean exit */
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "Sanitizer"));
	if (exited || health != 200)
		print_stderr(&s);
	solo_cleanup(&s, false);	/* not kept: this fails in every run, for now */
}

/* Finding 2: one FCGI_GET_VALUES record (management: request id 0) asking for FCGI_MAX_CONNS
 * eight times; libfcgi writes 17 bytes of answer per name into 56. The record is padded (as
 * the specification allows): libfcgi sees where it ends only with bytes after its content in
 * hand, and would otherwise wait for more before it answers. */
static void
test_get_values(void)
{
	struct buf content = BUF_INIT, record = BUF_INIT;
	bool ok = true;

	for (int i = 0; i < 8; i++)
		ok = ok && fcgi_pair(&content, "FCGI_MAX_CONNS", "");
	ok = ok && fcgi_record(&record, FCGI_TYPE_GET_VALUES, 0, content.data, content.len, 8);
	CU_ASSERT_FATAL(ok);
	survives("GET_VALUES x 8 FCGI_MAX_CONNS", &record);
	buf_free(&content);
	buf_free(&record);
}

/* Finding 3: a request whose PARAMS record starts a pair with the four-byte name length
 * 0x7ffffffe and value length 0; libfcgi computes nameLen + valueLen + 2 in an int. */
static void
test_params_length(void)
{
	static const unsigned char pair[5] = { 0xff, 0xff, 0xff, 0xfe, 0x00 };
	struct buf records = BUF_INIT;

	CU_ASSERT_FATAL(fcgi_begin(&records, false) &&
	    fcgi_record(&records, FCGI_TYPE_PARAMS, 1, pair, sizeof(pair), 0));
	survives("PARAMS name length 0x7ffffffe", &records);
	buf_free(&records);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "GET_VALUES naming FCGI_MAX_CONNS 8 times: survives, answers", test_get_values },
		{ "PARAMS name length 0x7ffffffe: survives, answers", test_params_length },
		{ NULL, NULL },
	};
	int rc;

	puts(XFAIL_REASON);
	fflush(stdout);
	rc = unit_run("hostile FastCGI records, straight to fanout-cgi", NULL, NULL, tests);
	return broken_setup ? HARD_ERROR : rc;
}
