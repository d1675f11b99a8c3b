/* integ.c - helpers of the integration tests: processes, ports, files and HTTP requests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "t/integ.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

extern char **environ;

/* A TCP socket bound to a port of the kernel's choosing on 127.0.0.1, not listening (so it
 * refuses connections), close-on-exec; -1 on error. */
static int
bind_any(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A readiness probe, not a timing assumption: it polls until the port answers or time is up. */
bool
integ_wait_port(int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int64_t until = clock_now_us() + timeout_ms * 1000LL;

	while (clock_now_us() < until) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return true;
		clock_sleep_us(10000);
	}
	return false;
}

int
integ_listen(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

pid_t
integ_spawn(char *const argv[], char *const envp[], int in_fd, const char *out,
    const char *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	rc = in_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, in_fd, 0) :
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (rc == 0 && out != NULL)
		rc = posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rc == 0 && err != NULL)
		rc = posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rc == 0)
		rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

int
integ_wait_exit(pid_t pid, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			    WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 128 + SIGTERM : -1;
		if (r < 0 || clock_now_us() >= until)
			return -1;
		clock_sleep_us(5000);
	}
}

int
integ_stop(pid_t pid)
{
	int rc;

	if (pid <= 0)
		return -1;
	(void)kill(pid, SIGTERM);
	if ((rc = integ_wait_exit(pid, 5000)) == -1) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
	return rc;
}

long
integ_parse_int(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	end += strspn(end, " \t\r\n");
	return errno != 0 || end == s || *end != '\0' || n < 0 ? -1 : n;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

bool
integ_remove_tree(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

bool
integ_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	bool ok = f != NULL && fputs(text, f) >= 0;

	return f != NULL && fclose(f) == 0 && ok;
}

bool
integ_read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;
	bool ok = f != NULL;

	while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = buf_append(out, chunk, n) == 0;
	if (f != NULL && (ferror(f) || fclose(f) != 0))
		ok = false;
	return ok;
}

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	return buf_append(arg, data, size * n) == 0 ? size * n : 0;
}

bool
integ_request(const char *method, const char *url, const char *const *headers, struct reply *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *list = NULL, *more;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	*r = (struct reply){ .head = BUF_INIT, .body = BUF_INIT };
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((more = curl_slist_append(list, headers[i])) == NULL)
			goto out;
		list = more;
	}
	if (h == NULL)
		goto out;
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	(void)curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
	(void)curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->head);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	(void)curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	if (method != NULL && strcmp(method, "HEAD") == 0)
		(void)curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (method != NULL)
		(void)curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		double secs = 0;

		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		(void)curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs);
		r->ms = secs * 1000;
		r->json = json_loadb(buf_str(&r->body), r->body.len, 0, NULL);
	}
out:
	curl_slist_free_all(list);
	curl_easy_cleanup(h);
	return rc == CURLE_OK;
}

bool
integ_abandon(const char *url, long ms)
{
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (h == NULL)
		return false;
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	return rc == CURLE_OPERATION_TIMEDOUT;
}

bool
integ_header(const struct reply *r, const char *name, char *out, size_t size)
{
	const char *line = buf_str(&r->head);
	size_t nlen = strlen(name);

	for (; *line != '\0'; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != '\0')) {
		size_t len = strcspn(line, "\r\n");

		if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1 + strspn(line + nlen + 1, " ");

			snprintf(out, size, "%.*s", (int)(len - (size_t)(v - line)), v);
			return true;
		}
	}
	return false;
}

void
reply_free(struct reply *r)
{
	buf_free(&r->head);
	buf_free(&r->body);
	json_decref(r->json);
	r->json = NULL;
}
const char integ_nginx_conf[] =
    "worker_processes 1;\n"
    "daemon off;\n"
    "pid @D@/nginx.pid;\n"
    "error_log @D@/nginx-error.log;\n"
    "events { worker_connections 512; }\n"
    "http {\n"
    "  access_log off;\n"
    "  large_client_header_buffers 4 32k;\n"
    "  client_body_temp_path @D@/tmp; fastcgi_temp_path @D@/tmp; proxy_temp_path @D@/tmp;\n"
    "  uwsgi_temp_path @D@/tmp; scgi_temp_path @D@/tmp;\n"
    "  upstream fanout { server 127.0.0.1:@C@; keepalive 4; }\n"
    "  server {\n"
    "    listen 127.0.0.1:@N@;\n"
    "    location /api/ {\n"
    "      include /etc/nginx/fastcgi_params;\n"
    "      fastcgi_pass fanout;\n"
    "      fastcgi_keep_conn on;\n"
    "    }\n"
    "  }\n"
    "}\n";

const char integ_apache_conf[] =
    INTEG_APACHE_MARK "\n"
    "ServerRoot \"@D@\"\n"
    "PidFile @D@/apache.pid\n"
    "DefaultRuntimeDir @D@\n"
    "Listen 127.0.0.1:@N@\n"
    "ServerName 127.0.0.1\n"
    "ErrorLog @D@/apache-error.log\n"
    "LogLevel warn\n"
    "User www-data\n"
    "Group www-data\n"
    "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
    /* One child process, started with the server: none is forked while a test measures time,
     * and one pool of kept connections to fanout-cgi (each child keeps its own). */
    "StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\n"
    "MinSpareThreads 1\nMaxSpareThreads 16\n"
    "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n"
    "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n"
    "LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so\n"
    /* retry=0: one failed connection must not take the only backend out for 60 s. */
    "ProxyPass \"/api/\" \"fcgi://127.0.0.1:@C@/\" enablereuse=on retry=0\n";

const char *
integ_path(const struct integ_stack *st, char out[INTEG_PATH_LEN], const char *name)
{
	snprintf(out, INTEG_PATH_LEN, "%s/%s", st->dir, name);
	return out;
}

/* Replaces @D@ (the directory), @M@, @X@, @C@ and @N@ (ports) in text. */
static bool
expand(const struct integ_stack *env, const char *text, struct buf *out)
{
	for (const char *p = text; *p != '\0'; p++) {
		int rc;

		if (p[0] != '@' || p[1] == '\0' || p[2] != '@')
			rc = buf_append(out, p, 1);
		else {
			rc = p[1] == 'D' ? buf_puts(out, env->dir) :
			    buf_printf(out, "%d", p[1] == 'M' ? env->mock_port : p[1] == 'X' ?
			    env->closed_port : p[1] == 'C' ? env->cgi_port : env->front_port);
			p += 2;
		}
		if (rc != 0)
			return false;
	}
	return true;
}

bool
integ_write_expanded(const struct integ_stack *env, const char *name, const char *text)
{
	char path[INTEG_PATH_LEN];
	struct buf body = BUF_INIT;
	bool ok = expand(env, text, &body) && integ_write_file(integ_path(env, path, name),
	    buf_str(&body));

	buf_free(&body);
	return ok;
}

static bool
start_mock(struct integ_stack *env)
{
	char port_file[INTEG_PATH_LEN], err[INTEG_PATH_LEN];
	char *argv[] = { MOCK, (char *)integ_path(env, port_file, "mock.port"), NULL };
	struct buf port = BUF_INIT;
	int64_t until = clock_now_us() + 5000000;

	if ((env->mock = integ_spawn(argv, NULL, -1, NULL, integ_path(env, err, "mock.err"))) < 0)
		return false;
	/* Readiness: the mock writes its port once it listens. */
	while (env->mock_port == 0 && clock_now_us() < until) {
		buf_truncate(&port, 0);
		if (integ_read_file(port_file, &port) && port.len > 1)
			env->mock_port = (int)integ_parse_int(buf_str(&port));
		else
			clock_sleep_us(10000);
	}
	buf_free(&port);
	return env->mock_port > 0;
}

bool
integ_stack_start_cgi(struct integ_stack *env, const char *const *cgi_args)
{
	char listen[32], config[INTEG_PATH_LEN], err[INTEG_PATH_LEN];
	char *argv[16] = { FANOUT_CGI, "-c", (char *)integ_path(env, config, "fanout.json"),
		"--listen", listen };
	size_t n = 5;

	for (size_t i = 0; cgi_args != NULL && cgi_args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)cgi_args[i];
	argv[n] = NULL;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", env->cgi_port);
	env->cgi = integ_spawn(argv, NULL, -1, NULL, integ_path(env, err, "fanout.err"));
	return env->cgi > 0 && integ_wait_port(env->cgi_port, 5000);
}

const char *
integ_nginx_binary(void)
{
	static const char *const places[] = { "/usr/sbin/nginx", "/usr/local/sbin/nginx",
		"/usr/bin/nginx", NULL };

	for (size_t i = 0; places[i] != NULL; i++)
		if (access(places[i], X_OK) == 0)
			return places[i];
	return NULL;
}

const char *
integ_apache_binary(void)
{
	return access("/usr/sbin/apache2", X_OK) == 0 ? "/usr/sbin/apache2" : NULL;
}

/* The web server in front: nginx, or Apache httpd when the config text is Apache's (it starts
 * with INTEG_APACHE_MARK). Its pid goes to env->front. */
static bool
start_front(struct integ_stack *env, const char *conf_text)
{
	char conf[INTEG_PATH_LEN], log[INTEG_PATH_LEN], out[INTEG_PATH_LEN];
	bool apache = strncmp(conf_text, INTEG_APACHE_MARK, strlen(INTEG_APACHE_MARK)) == 0;
	char *nginx[] = { (char *)integ_nginx_binary(), "-p", env->dir, "-c",
		(char *)integ_path(env, conf, "front.conf"), "-e",
		(char *)integ_path(env, log, "nginx-error.log"), NULL };
	char *httpd[] = { (char *)integ_apache_binary(), "-f", conf, "-DFOREGROUND", NULL };

	env->front = integ_spawn(apache ? httpd : nginx, NULL, -1, NULL,
	    integ_path(env, out, "front.out"));
	return env->front > 0 && integ_wait_port(env->front_port, 5000);
}

/* The front's and the program's ports, free when picked, and a closed port held bound for the
 * stack's life: nothing else can listen there, whatever runs beside the test. The front's socket
 * stays bound while the program's port is picked, so the kernel cannot hand out the same port
 * twice (it once did: Apache and fanout-cgi collided). */
static bool
pick_ports(struct integ_stack *env)
{
	int front, cgi;

	if ((env->closed_fd = bind_any(&env->closed_port)) < 0 ||
	    (front = bind_any(&env->front_port)) < 0)
		return false;
	cgi = bind_any(&env->cgi_port);
	close(front);
	if (cgi < 0)
		return false;
	close(cgi);
	snprintf(env->url, sizeof(env->url), "http://127.0.0.1:%d", env->front_port);
	return true;
}

bool
integ_stack_start(struct integ_stack *env, const char *config_text, const char *front_text,
    const char *const *cgi_args)
{
	char tmp[INTEG_PATH_LEN];

	memset(env, 0, sizeof(*env));
	env->closed_fd = -1;
	snprintf(env->dir, sizeof(env->dir), "/tmp/fanout-integ-XXXXXX");
	if (mkdtemp(env->dir) == NULL || chmod(env->dir, 0755) != 0 ||
	    mkdir(integ_path(env, tmp, "tmp"), 0755) != 0)
		return false;
	/* Ports are picked once the mock listens, so that none of them can be the mock's. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !start_mock(env) ||
	    !pick_ports(env) || !integ_write_expanded(env, "fanout.json", config_text) ||
	    !integ_write_expanded(env, "front.conf", front_text) ||
	    !integ_stack_start_cgi(env, cgi_args) || !start_front(env, front_text)) {
		fprintf(stderr, "integ: could not start the stack; see %s\n", env->dir);
		(void)integ_stack_stop(env);	/* CUnit does not call cleanup when init fails */
		return false;
	}
	return true;
}

/* The front's own errors, if it logged any: what a 5xx without X-Request-Id came from. */
static void
print_front_errors(const struct integ_stack *env)
{
	char path[INTEG_PATH_LEN];
	struct buf log = BUF_INIT;
	const char *p;
	size_t len;

	if (!integ_read_file(integ_path(env, path, "apache-error.log"), &log) &&
	    !integ_read_file(integ_path(env, path, "nginx-error.log"), &log))
		return;
	for (p = buf_str(&log); *p != '\0'; p += len + (p[len] == '\n')) {
		const char *error, *crit;

		len = strcspn(p, "\n");
		error = strstr(p, ":error]");	/* Apache */
		crit = strstr(p, "[crit]");	/* nginx */
		if ((error != NULL && error < p + len) || (crit != NULL && crit < p + len))
			fprintf(stderr, "integ: front: %.*s\n", (int)len, p);
	}
	buf_free(&log);
}

bool
integ_stack_stop(struct integ_stack *env)
{
	struct buf err = BUF_INIT;
	char err_file[INTEG_PATH_LEN];
	int failed = 0;

	print_front_errors(env);
	failed |= integ_stop(env->front) != 0;
	failed |= integ_stop(env->cgi) != 0;	/* a clean exit: 0 */
	failed |= integ_stop(env->mock) != 0;
	if (env->closed_fd >= 0)
		close(env->closed_fd);
	/* A sanitizer report in the program's stderr fails the suite. */
	if (integ_read_file(integ_path(env, err_file, "fanout.err"), &err) &&
	    (strstr(buf_str(&err), "Sanitizer") != NULL ||
	    strstr(buf_str(&err), "runtime error") != NULL)) {
		fprintf(stderr, "integ: fanout-cgi reported:\n%s\n", buf_str(&err));
		failed = 1;
	}
	buf_free(&err);
	curl_global_cleanup();
	if (failed)
		fprintf(stderr, "integ: stopping the stack failed; files kept in %s\n", env->dir);
	else if (!integ_remove_tree(env->dir))
		fprintf(stderr, "integ: cannot remove %s\n", env->dir);
	return !failed;
}

double
integ_metric(const struct integ_stack *st, const char *path, const char *series)
{
	char url[INTEG_PATH_LEN];
	size_t len = strlen(series);
	struct reply r;
	double v = -1;

	snprintf(url, sizeof(url), "%s%s", st->url, path);
	if (!integ_request(NULL, url, NULL, &r))
		return -1;
	for (const char *p = buf_str(&r.body); p != NULL && *p != '\0';) {
		if (strncmp(p, series, len) == 0 && p[len] == ' ')
			v = strtod(p + len + 1, NULL);
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	reply_free(&r);
	return v;
}
