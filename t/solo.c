/* solo.c - fanout-cgi alone on a Unix socket in a directory of its own, started and watched
 * with every wait bounded; t/fcgi-client.h talks to it directly. */
#include "t/solo.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "t/fcgi-client.h"

static const char solo_config[] =
    "{\"admin\": {\"health\": \"/healthz\"},\n"
    " \"endpoints\": [{\"path\": \"/x\", \"backends\": [\n"
    "   {\"name\": \"a\", \"url\": \"http://127.0.0.1:9/\"}]}]}\n";

bool
solo_init(struct solo *s)
{
	char config[INTEG_PATH_LEN];

	snprintf(s->dir, sizeof(s->dir), "/tmp/fanout-solo-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return false;
	snprintf(s->sock, sizeof(s->sock), "%s/fanout.sock", s->dir);
	snprintf(config, sizeof(config), "%s/fanout.json", s->dir);
	return chmod(s->dir, 0755) == 0 && integ_write_file(config, solo_config);
}

pid_t
solo_spawn(const struct solo *s, const char *const *args, const char *err_name)
{
	char config[INTEG_PATH_LEN], err[INTEG_PATH_LEN];
	char *argv[INTEG_ARGV_MAX] = { FANOUT_CGI, "-c", config, "--listen", (char *)s->sock };
	size_t n = 5;

	if (!integ_cgi_args(argv, &n, INTEG_ARGV_MAX, args))
		return -1;
	snprintf(config, sizeof(config), "%s/fanout.json", s->dir);
	snprintf(err, sizeof(err), "%s/%s", s->dir, err_name);
	return integ_spawn(argv, NULL, -1, NULL, err);
}

bool
solo_ready(const struct solo *s, pid_t pid, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;

	while (clock_now_us() < until) {
		siginfo_t info = { .si_pid = 0 };

		/* Exited? Looked at, not reaped: the caller still stops or reaps it. */
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    info.si_pid != 0)
			return false;
		if (fcgi_get(s->sock, "/healthz", 1000) == 200)
			return true;
		clock_sleep_us(10000);
	}
	return false;
}

bool
solo_reaped(pid_t pid, int timeout_ms, int *status)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 || clock_now_us() >= until)
			return false;
		clock_sleep_us(5000);
	}
}

const char *
solo_describe(int status, char *out, size_t size)
{
	if (WIFEXITED(status))
		snprintf(out, size, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, size, "wait status %#x", (unsigned)status);
	return out;
}

bool
solo_file_has(const struct solo *s, const char *name, const char *text)
{
	char path[INTEG_PATH_LEN];
	struct buf content = BUF_INIT;
	bool has;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	has = integ_read_file(path, &content) && strstr(buf_str(&content), text) != NULL;
	buf_free(&content);
	return has;
}

void
solo_cleanup(const struct solo *s, bool keep)
{
	if (keep)
		fprintf(stderr, "solo: files kept in %s\n", s->dir);
	else if (!integ_remove_tree(s->dir))
		fprintf(stderr, "solo: cannot remove %s\n", s->dir);
}
