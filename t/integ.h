/* integ.h - helpers of the integration tests: processes, ports, files and HTTP requests
 * (integ.c), and the private stack of mock, fanout-cgi and web server (integ-stack.c). */
#ifndef T_INTEG_H
#define T_INTEG_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/buf.h"

/* Waits until 127.0.0.1:port accepts connections; false after timeout_ms. */
bool integ_wait_port(int port, int timeout_ms);

/* Starts argv[0] with stdin from in_fd (-1: /dev/null), stdout and stderr to files (NULL:
 * inherited) and env (NULL: ours). Returns the pid, or -1. */
pid_t integ_spawn(char *const argv[], char *const envp[], int in_fd, const char *out,
    const char *err);

/* A listening TCP socket on 127.0.0.1:*port (0: any free port, written back), or -1. */
int integ_listen(int *port);

/* Starts a backend (t/mock-backend, t/stray-backend) that writes its port to dir/name: its
 * port once it accepts connections, or 0 (*pid is then -1 or the pid to stop). */
int integ_backend_start(char *program, const char *dir, const char *name, pid_t *pid);

/* The same in a scratch directory made from the template dir ("/tmp/NAME-XXXXXX", rewritten in
 * place), the port written to dir/port: its port, or 0 with nothing left running or behind
 * (*pid -1). integ_scratch_backend_stop() stops it (pid < 0: none) and removes the directory:
 * true if both went well. */
int integ_scratch_backend_start(char *program, char *dir, pid_t *pid);
bool integ_scratch_backend_stop(pid_t pid, const char *dir);

/* The integer `name` of the JSON object in body (a backend's /stats), or -1. */
long integ_json_long(const char *body, const char *name);

/* The counter `name` of GET http://127.0.0.1:port/stats (a backend's), or -1. */
long integ_stat(int port, const char *name);

/* Waits up to 5 s until that counter reaches want; false then, or if pid (the backend) died. */
bool integ_await_stat(int port, const char *name, long want, pid_t pid);

/* Sends SIGTERM and waits up to 5 s (then SIGKILL). Returns the exit status, or -1 if the
 * process did not exit by itself or died of a signal other than SIGTERM. */
int integ_stop(pid_t pid);

/* Waits up to timeout_ms for pid to exit; returns its exit status, or -1. */
int integ_wait_exit(pid_t pid, int timeout_ms);

/* A number field of /proc/PID/status ("VmRSS": kB, "Threads"), or -1. */
long integ_proc_status(pid_t pid, const char *field);

/* How many descriptors process pid has open (/proc/PID/fd), or -1. */
int integ_proc_fds(pid_t pid);

/* The decimal number s (surrounding white space allowed), or -1. */
long integ_parse_int(const char *s);

/* Removes a directory tree the tests made; false on error. */
bool integ_remove_tree(const char *dir);

/* Writes text to path; false on error. Reads a whole file into out; false on error. */
bool integ_write_file(const char *path, const char *text);
bool integ_read_file(const char *path, struct buf *out);

/* One HTTP exchange made with libcurl. */
struct reply {
	long status;
	struct buf head;	/* the response's header lines */
	struct buf body;
	json_t *json;		/* the body parsed, or NULL */
	double ms;		/* total time of the exchange */
};

/* Makes a request (method NULL: GET) to url with extra header lines (NULL-terminated, or
 * NULL). False if no HTTP exchange took place. */
bool integ_request(const char *method, const char *url, const char *const *headers,
    struct reply *r);

/* A GET to url that the client abandons after ms; true if it was abandoned (timed out). */
bool integ_abandon(const char *url, long ms);

/* The value of response header `name` (case-insensitive), copied into out; false if absent. */
bool integ_header(const struct reply *r, const char *name, char *out, size_t size);

void reply_free(struct reply *r);

/* The server the suite runs fanout-cgi with: FANOUT_TEST_SERVER ("threads" or "event"; t/server.sh
 * sets it when `make check` runs a suite once per server), or NULL when unset: fanout-cgi's
 * default, the threads server. */
const char *integ_server(void);

/* Whether that is the threads server (libfcgi, a thread per connection): what --threads and the
 * cases about request threads apply to. */
bool integ_threads_server(void);

/* Appends fanout-cgi's options to argv from argv[*n]: --server SERVER when one is chosen, then
 * args (NULL-terminated, or NULL) but those another server does not have (--threads N goes to
 * the threads server only), then the NULL that ends argv; *n counts them. False if that would
 * not fit in max entries (argv is then not to be used). */
bool integ_cgi_args(char **argv, size_t *n, size_t max, const char *const *args);
#define INTEG_ARGV_MAX 24	/* entries of a fanout-cgi argv the tests build, NULL included */

/* Programs, relative to the build directory where `make check` runs the tests. */
#define FANOUT_CGI "./fanout-cgi"
#define MOCK "./t/mock-backend"
#define INTEG_PATH_LEN 128

/* A private stack on 127.0.0.1 in a fresh directory: the mock backend, fanout-cgi and a web server
 * in front of it (nginx or Apache httpd). */
struct integ_stack {
	char dir[64];
	int front_port, cgi_port, mock_port, closed_port;	/* closed: nothing listens */
	int closed_fd;		/* holds closed_port bound */
	pid_t mock, cgi, front;
	char url[64];		/* http://127.0.0.1:FRONT_PORT: the web server in front */
};

/* nginx in front of fanout-cgi: /api/ goes to it over kept-alive FastCGI connections (at most
 * 4 idle). Its header buffers are larger than fanout-cgi's 8 KiB URI limit, so that its own 414
 * is what a long URI meets. */
extern const char integ_nginx_conf[];

/* Apache httpd in front instead: mod_proxy_fcgi passes /api/ on, reusing connections. */
#define INTEG_APACHE_MARK "# apache"
extern const char integ_apache_conf[];

/* Starts the stack: config_text and front_text (nginx's or Apache's) are written to fanout.json
 * and front.conf with
 * @D@ (the directory), @M@ (mock), @X@ (closed), @C@ (fanout-cgi) and @N@ (the front) replaced;
 * fanout-cgi gets cgi_args (NULL-terminated) after its own, as integ_cgi_args gives them.
 * False, with everything started stopped again, if a part did not start. */
bool integ_stack_start(struct integ_stack *st, const char *config_text, const char *front_text,
    const char *const *cgi_args);

/* Stops everything by pid. False if a part did not exit cleanly (fanout-cgi must exit 0) or
 * fanout-cgi's stderr holds a sanitizer report; the directory is then kept. */
bool integ_stack_stop(struct integ_stack *st);

/* Starts fanout-cgi alone again (after a test stopped it), with cgi_args as integ_stack_start;
 * false if it does not listen. */
bool integ_stack_start_cgi(struct integ_stack *st, const char *const *cgi_args);

/* The value of the metric line that starts with `series` (name and labels) in what the stack's
 * front answers at `path` (the config's admin.metrics), or -1. */
double integ_metric(const struct integ_stack *st, const char *path, const char *series);

/* out = the stack's directory + "/" + name. */
const char *integ_path(const struct integ_stack *st, char out[INTEG_PATH_LEN], const char *name);

/* Writes text to the file `name` of the stack's directory, @X@ markers replaced. */
bool integ_write_expanded(const struct integ_stack *st, const char *name, const char *text);

/* The nginx and Apache httpd binaries, or NULL. */
const char *integ_nginx_binary(void);
const char *integ_apache_binary(void);

#endif
