/* integ.c - helpers of the integration tests: processes, ports, files and HTTP requests (the
 * stack they start is integ-stack.c's). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "t/integ.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
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
integ_proc_status(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);	/* "VmRSS:   1234 kB" */
	fclose(f);
	return v;
}

int
integ_proc_fds(pid_t pid)
{
	char dir[64];
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 2;	/* . and .. */
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

const char *
integ_server(void)
{
	const char *server = getenv("FANOUT_TEST_SERVER");

	return server != NULL && server[0] != '\0' ? server : NULL;
}

bool
integ_threads_server(void)
{
	const char *server = integ_server();

	return server == NULL || strcmp(server, "threads") == 0;
}

/* Whether arg is an option of the threads server alone (each takes one value). */
static bool
threads_only(const char *arg)
{
	return strcmp(arg, "--threads") == 0 || strcmp(arg, "-t") == 0;
}

bool
integ_cgi_args(char **argv, size_t *n, size_t max, const char *const *args)
{
	size_t at = *n;

	if (integ_server() != NULL) {
		if (at + 2 >= max)
			return false;
		argv[at++] = "--server";
		argv[at++] = (char *)integ_server();
	}
	for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
		if (!integ_threads_server() && threads_only(args[i]) && args[i + 1] != NULL) {
			i++;	/* and its value */
			continue;
		}
		if (at + 1 >= max)
			return false;
		argv[at++] = (char *)args[i];
	}
	argv[at] = NULL;
	*n = at;
	return true;
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

int
integ_backend_start(char *program, const char *dir, const char *name, pid_t *pid)
{
	char port_file[INTEG_PATH_LEN];
	struct buf port = BUF_INIT;
	int64_t until = clock_now_us() + 5000000;
	char *argv[] = { program, port_file, NULL };
	int n = 0;

	snprintf(port_file, sizeof(port_file), "%s/%s", dir, name);
	if ((*pid = integ_spawn(argv, NULL, -1, NULL, NULL)) < 0)
		return 0;
	while (n == 0 && clock_now_us() < until) {
		if (integ_read_file(port_file, &port) && port.len > 1 &&
		    buf_str(&port)[port.len - 1] == '\n')
			n = (int)integ_parse_int(buf_str(&port));
		buf_free(&port);
		if (n <= 0 && integ_wait_exit(*pid, 10) >= 0)
			return 0;	/* it died */
	}
	return n > 0 && integ_wait_port(n, 3000) ? n : 0;
}

int
integ_scratch_backend_start(char *program, char *dir, pid_t *pid)
{
	int port;

	*pid = -1;
	if (mkdtemp(dir) == NULL)
		return 0;
	if ((port = integ_backend_start(program, dir, "port", pid)) <= 0) {
		(void)integ_scratch_backend_stop(*pid, dir);
		*pid = -1;
	}
	return port;
}

bool
integ_scratch_backend_stop(pid_t pid, const char *dir)
{
	bool ok = pid < 0 || integ_stop(pid) == 0;

	return integ_remove_tree(dir) && ok;
}

long
integ_json_long(const char *body, const char *name)
{
	json_t *j = json_loads(body, 0, NULL);
	long v = -1;

	if (json_is_integer(json_object_get(j, name)))
		v = (long)json_integer_value(json_object_get(j, name));
	json_decref(j);
	return v;
}

long
integ_stat(int port, const char *name)
{
	char url[64];
	struct reply r;
	long v = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", port);
	if (integ_request(NULL, url, NULL, &r) && json_is_integer(json_object_get(r.json, name)))
		v = (long)json_integer_value(json_object_get(r.json, name));
	reply_free(&r);
	return v;
}

bool
integ_await_stat(int port, const char *name, long want, pid_t pid)
{
	int64_t until = clock_now_us() + 5000000;

	while (integ_stat(port, name) < want)
		if (clock_now_us() > until || integ_wait_exit(pid, 10) >= 0)
			return false;
	return true;
}
