/* integ-stack.c - the integration tests' private stack on 127.0.0.1: the mock backend,
 * fanout-cgi and nginx or Apache httpd in front (their configs), started and stopped by pid. */
#include "t/integ.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"

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
	char *argv[INTEG_ARGV_MAX] = { FANOUT_CGI, "-c",
		(char *)integ_path(env, config, "fanout.json"), "--listen", listen };
	size_t n = 5;

	if (!integ_cgi_args(argv, &n, INTEG_ARGV_MAX, cgi_args))
		return false;
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
