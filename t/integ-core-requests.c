/* integ-core-requests.c - integration tests (t/integ-nginx, t/integ-apache): requests: client
 * errors, request ids, the access log, and the program without a front: plain CGI, a socket
 * inherited on fd 0, config errors. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t/integ.h"
#include "t/integ-core.h"
#include "t/unit.h"

#define PATH_LEN INTEG_PATH_LEN

static const char *
path_to(char out[PATH_LEN], const char *name)
{
	return integ_path(&env, out, name);
}

void
test_client_errors(void)
{
	char url[256];
	struct reply r;
	char h[64];

	get("/api/nothing/here", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 404);
	CU_ASSERT_EQUAL(json_integer_value(at(&r, "error.status")), 404);
	reply_free(&r);
	snprintf(url, sizeof(url), "%s/api/compose/x", env.url);
	CU_ASSERT_FATAL(integ_request("POST", url, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 405);
	CU_ASSERT(integ_header(&r, "Allow", h, sizeof(h)) && strcmp(h, "GET, HEAD") == 0);
	CU_ASSERT_PTR_NOT_NULL(at(&r, "error.message"));
	reply_free(&r);
	/* nginx itself refuses %00 and bad escapes in a path; in a query it passes them on. */
	static const char *const bad[] = { "/api/compose/a%0D%0Ab", "/api/compose/%2E%2E",
		"/api/allow?lang=x%0Ay", "/api/allow?lang=a%00b", "/api/allow?lang=%zz",
		"/api/allow", "/api/allow?lang=a&lang=b", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		get(bad[i], NULL, &r);
		CU_ASSERT_EQUAL(r.status, 400);
		CU_ASSERT_EQUAL(json_integer_value(at(&r, "error.status")), 400);
		reply_free(&r);
	}
	CU_ASSERT_FATAL(integ_request("HEAD", url, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.body.len, 0);
	reply_free(&r);
}

/* The request id is forwarded to every backend and returned; one is made when absent. */
void
test_request_id(void)
{
	const char *headers[] = { "X-Request-Id: test-42", NULL };
	struct reply r;
	char h[128];

	get("/api/compose/id", headers, &r);
	CU_ASSERT(integ_header(&r, "X-Request-Id", h, sizeof(h)) && strcmp(h, "test-42") == 0);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.b.X-Request-Id"), "test-42");
	reply_free(&r);
	get("/api/compose/id", NULL, &r);
	CU_ASSERT(integ_header(&r, "X-Request-Id", h, sizeof(h)) && strlen(h) > 0);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.X-Request-Id"), h);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.c.X-Request-Id"), h);
	reply_free(&r);
}

/* The text access log: one line per request, with its id, answer and every backend. The line is
 * written before the next request is read, so it is there once the answer has come. */
void
test_access_log(void)
{
	const char *headers[] = { "X-Request-Id: log-7", NULL };
	char err_file[PATH_LEN];
	struct buf log = BUF_INIT;
	struct reply r;
	const char *line;

	get("/api/compose/l%0Ag?x=1", headers, &r);	/* a 400: the escaped byte is logged as such */
	CU_ASSERT_EQUAL(r.status, 400);
	reply_free(&r);
	get("/api/compose/bob", headers, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	CU_ASSERT_FATAL(integ_read_file(path_to(err_file, "fanout.err"), &log));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&log), " log-7 GET /api/compose/l%0Ag 400 "));
	line = strstr(buf_str(&log), " log-7 GET /api/compose/bob 200 ");
	CU_ASSERT_FATAL(line != NULL);
	CU_ASSERT(strstr(line, " a=ok/200:") != NULL && strstr(line, " b=ok/200:") != NULL &&
	    strstr(line, " c=ok/200:") != NULL && strstr(line, " c=ok/200:") < strchr(line, '\n'));
	buf_free(&log);
}

/* Runs the program as plain CGI for one request URI, with one more environment variable
 * (NULL: none); out gets what it printed. Returns its exit status. */
static int
run_cgi(const char *uri, const char *var, struct buf *out)
{
	char config[PATH_LEN], out_file[PATH_LEN], err_file[PATH_LEN], uri_var[256];
	char *argv[] = { FANOUT_CGI, "-c", (char *)path_to(config, "fanout.json"), NULL };
	char *envp[] = { "REQUEST_METHOD=GET", uri_var, (char *)var, NULL };
	pid_t pid;
	int rc;

	snprintf(uri_var, sizeof(uri_var), "REQUEST_URI=%s", uri);
	pid = integ_spawn(argv, envp, -1, path_to(out_file, "cgi.out"),
	    path_to(err_file, "cgi.err"));
	if (pid <= 0)
		return -1;
	rc = integ_wait_exit(pid, 10000);
	if (!integ_read_file(out_file, out))
		return -1;
	return rc;
}

/* Started as plain CGI, the program serves the one request on stdout and exits; the path
 * cases nginx refuses on its own are checked here, against the program itself. */
void
test_cgi_mode(void)
{
	struct buf out = BUF_INIT;

	CU_ASSERT_EQUAL(run_cgi("/api/compose/cgi", NULL, &out), 0);
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 200 OK\r\n", 16), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "\r\n\r\n{\"data\":{\"a\":"));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(run_cgi("/api/compose/a%00b", NULL, &out), 0);
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 400 Bad Request\r\n", 25), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "path parameter user: CR, LF and NUL"));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(run_cgi("/api/compose/a%zz", NULL, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "path parameter user: bad percent-encoding"));
	buf_truncate(&out, 0);
	/* A forwarded header has one value in the environment; its checks hold there too. */
	CU_ASSERT_EQUAL(run_cgi("/api/repeat", "HTTP_COOKIE=a=1; b=2", &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "\"Cookie\":\"a=1; b=2\""));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(run_cgi("/api/repeat", "HTTP_COOKIE=a=1\nX-Evil: 1", &out), 0);
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 400 Bad Request\r\n", 25), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "Cookie: CR, LF and NUL are not allowed"));
	buf_free(&out);
}

/* Without --listen the program serves the socket it inherits on fd 0, as under spawn-fcgi
 * or mod_fcgid; cgi-fcgi (libfcgi's own FastCGI client) makes the request. */
void
test_inherited_socket(void)
{
	char config[PATH_LEN], err_file[PATH_LEN], out_file[PATH_LEN], connect_to[32];
	char *argv[INTEG_ARGV_MAX] = { FANOUT_CGI, "-c", (char *)path_to(config, "fanout.json") };
	char *client[] = { "/usr/bin/cgi-fcgi", "-bind", "-connect", connect_to, NULL };
	char *envp[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/api/compose/inherited", NULL };
	struct buf out = BUF_INIT;
	int port = 0, fd = integ_listen(&port);
	pid_t server, pid;
	size_t n = 3;

	CU_ASSERT_FATAL(fd >= 0 && integ_cgi_args(argv, &n, INTEG_ARGV_MAX, NULL));
	server = integ_spawn(argv, NULL, fd, NULL, path_to(err_file, "fd0.err"));
	close(fd);
	CU_ASSERT_FATAL(server > 0);
	snprintf(connect_to, sizeof(connect_to), "127.0.0.1:%d", port);
	pid = integ_spawn(client, envp, -1, path_to(out_file, "fd0.out"), NULL);
	CU_ASSERT_EQUAL(integ_wait_exit(pid, 10000), 0);
	CU_ASSERT(integ_read_file(out_file, &out));
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 200 OK\r\n", 16), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "\"path\":\"/echo/inherited\""));
	CU_ASSERT_EQUAL(integ_stop(server), 0);
	buf_free(&out);
}

/* A bad config is refused with the file, the JSON path and the reason; the example config
 * the README documents is valid. */
void
test_config_errors(void)
{
	char example[PATH_MAX];
	const char *srcdir = getenv("srcdir");
	char *check[] = { FANOUT_CGI, "--check-config", example, NULL };

	snprintf(example, sizeof(example), "%s/www/example-config.json", srcdir ? srcdir : ".");
	CU_ASSERT_EQUAL(integ_wait_exit(integ_spawn(check, NULL, -1, "/dev/null", NULL), 5000), 0);

	static const struct {
		const char *text;
		const char *expect;
	} cases[] = {
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\",\n"
		  "  \"url\": \"http://h/{nope}\"}]}]}",
		  "bad.json: endpoints[0].backends[0].url: placeholder {nope} names no parameter" },
		{ "{\"endpoints\": [\n  {\"path\": \"/a\",}\n]}", "bad.json:2:17: " },
	};

	for (size_t i = 0; i < 2; i++) {
		char bad[PATH_LEN], err_file[PATH_LEN];
		char *argv[] = { FANOUT_CGI, "--check-config", (char *)path_to(bad, "bad.json"), NULL };
		char *run[] = { FANOUT_CGI, "-c", bad, "--listen", "127.0.0.1:1", NULL };
		struct buf err = BUF_INIT;
		pid_t pid;

		path_to(err_file, "check.err");
		CU_ASSERT_FATAL(integ_write_file(bad, cases[i].text));
		pid = integ_spawn(argv, NULL, -1, NULL, err_file);
		CU_ASSERT_EQUAL(integ_wait_exit(pid, 5000), 1);
		CU_ASSERT(integ_read_file(err_file, &err));
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&err), cases[i].expect));
		buf_truncate(&err, 0);
		pid = integ_spawn(run, NULL, -1, NULL, err_file);
		CU_ASSERT_EQUAL(integ_wait_exit(pid, 5000), 1);
		CU_ASSERT(integ_read_file(err_file, &err));
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&err), cases[i].expect));
		buf_free(&err);
	}
}
