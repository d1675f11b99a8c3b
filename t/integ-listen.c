/* integ-listen.c - where fanout-cgi listens: the Unix socket's mode and group, a second instance
 * on a socket in use, a stale socket, and the listening options it refuses. */
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t/fcgi-client.h"
#include "t/solo.h"
#include "t/unit.h"

#define ARGS_MAX 16

/* Runs argv (NULL-terminated), where "@C" stands for the config and "@S" for the socket path;
 * waits up to 5 s for it to exit. Returns its exit status, or -1 if it did not exit by itself
 * (it is stopped then) or died of a signal; stderr goes to DIR/err_name. */
static int
run_argv(const struct solo *s, const char *const *args, const char *err_name)
{
	char config[INTEG_PATH_LEN], err[INTEG_PATH_LEN];
	char *argv[ARGS_MAX];
	size_t n = 0;
	pid_t pid;
	int rc;

	snprintf(config, sizeof(config), "%s/fanout.json", s->dir);
	snprintf(err, sizeof(err), "%s/%s", s->dir, err_name);
	for (; *args != NULL && n < ARGS_MAX - 1; args++)
		argv[n++] = strcmp(*args, "@C") == 0 ? config : strcmp(*args, "@S") == 0 ?
		    (char *)s->sock : (char *)*args;
	argv[n] = NULL;
	if ((pid = integ_spawn(argv, NULL, -1, NULL, err)) < 0)
		return -1;
	if ((rc = integ_wait_exit(pid, 5000)) == -1)
		(void)integ_stop(pid);
	return rc;
}

/* The same with fanout-cgi, the server under test and args (integ_cgi_args). */
static int
run(const struct solo *s, const char *const *args, const char *err_name)
{
	char *argv[ARGS_MAX] = { FANOUT_CGI };
	size_t n = 1;

	if (!integ_cgi_args(argv, &n, ARGS_MAX, args))
		return -1;
	return run_argv(s, (const char *const *)argv, err_name);
}

/* The socket's mode bits and group; false if it is not a socket. */
static bool
sock_perm(const struct solo *s, mode_t *mode, gid_t *gid)
{
	struct stat st;

	if (lstat(s->sock, &st) != 0 || !S_ISSOCK(st.st_mode))
		return false;
	*mode = st.st_mode & 07777;
	*gid = st.st_gid;
	return true;
}

/* Without --socket-mode the socket is 0660, whatever the umask, in the process's group. */
static void
test_default_mode(void)
{
	struct solo s;
	pid_t pid;
	mode_t mode = 0;
	gid_t gid = 0;
	mode_t old = umask(0);	/* the most open umask: the socket must not inherit it */

	CU_ASSERT_FATAL(solo_init(&s));
	pid = solo_spawn(&s, NULL, "fanout.err");
	(void)umask(old);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT(solo_ready(&s, pid, 5000));
	CU_ASSERT(sock_perm(&s, &mode, &gid));
	CU_ASSERT_EQUAL(mode, 0660);
	CU_ASSERT_EQUAL(gid, getegid());
	CU_ASSERT_EQUAL(integ_stop(pid), 0);
	solo_cleanup(&s, false);
}

/* The group by name and by number, and another mode. */
static void
test_mode_and_group(void)
{
	const struct group *own = getgrgid(getegid());
	char number[24];
	/* root may give any group; anyone else only one of their own */
	gid_t other = geteuid() == 0 ? 65534 : getegid();
	const char *by_name[] = { "--socket-mode", "0600", "--socket-group", NULL, NULL };
	const char *by_number[] = { "--socket-group", number, NULL };
	struct solo s;
	mode_t mode = 0;
	gid_t gid = 0;
	pid_t pid;

	CU_ASSERT_FATAL(own != NULL && solo_init(&s));
	by_name[3] = own->gr_name;
	pid = solo_spawn(&s, by_name, "name.err");
	CU_ASSERT(pid > 0 && solo_ready(&s, pid, 5000));
	CU_ASSERT(sock_perm(&s, &mode, &gid));
	CU_ASSERT_EQUAL(mode, 0600);
	CU_ASSERT_EQUAL(gid, getegid());
	CU_ASSERT_EQUAL(integ_stop(pid), 0);

	snprintf(number, sizeof(number), "%lu", (unsigned long)other);
	pid = solo_spawn(&s, by_number, "number.err");
	CU_ASSERT(pid > 0 && solo_ready(&s, pid, 5000));
	CU_ASSERT(sock_perm(&s, &mode, &gid));
	CU_ASSERT_EQUAL(mode, 0660);
	CU_ASSERT_EQUAL(gid, other);
	CU_ASSERT_EQUAL(integ_stop(pid), 0);
	solo_cleanup(&s, false);
}

/* Bad listening options are usage errors (exit 2) that name the option, and leave nothing at
 * the socket path. */
static void
test_option_errors(void)
{
	static const struct {
		const char *args[8];
		const char *expect;
	} cases[] = {
		{ { "-c", "@C", "--listen", "0.0.0.0:9000", NULL },
		  "--listen 0.0.0.0:9000: that is every interface, and whoever can connect can send it "
		  "any request, or crash --server threads with one FastCGI record (README, section "
		  "Security)" },
		{ { "-c", "@C", "--listen", "[::]:9000", NULL }, "--listen [::]:9000: that is every "
		  "interface" },
		{ { "-c", "@C", "--listen", "[::ffff:0.0.0.0]:9000", NULL }, "every interface" },
		{ { "-c", "@C", "--listen", "@S", "--socket-mode", "0888", NULL },
		  "--socket-mode takes an octal mode from 0 to 0777" },
		{ { "-c", "@C", "--listen", "@S", "--socket-mode", "01777", NULL },
		  "--socket-mode takes an octal mode" },
		{ { "-c", "@C", "--listen", "@S", "--socket-mode", "", NULL },
		  "--socket-mode takes an octal mode" },
		{ { "-c", "@C", "--listen", "@S", "--socket-group", "no-such-group-fanout", NULL },
		  "--socket-group no-such-group-fanout: no such group" },
		{ { "-c", "@C", "--listen", "@S", "--socket-group", "4294967295", NULL },
		  "--socket-group 4294967295: not a group number" },
		{ { "-c", "@C", "--listen", "127.0.0.1:9000", "--socket-mode", "0660", NULL },
		  "--socket-mode and --socket-group apply to a Unix socket (--listen /path.sock), not "
		  "to 127.0.0.1:9000" },
		{ { "-c", "@C", "--socket-group", "0", NULL }, "not to the socket inherited on fd 0" },
	};
	struct solo s;

	CU_ASSERT_FATAL(solo_init(&s));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run(&s, cases[i].args, "usage.err");
		bool said = solo_file_has(&s, "usage.err", cases[i].expect);

		if (rc != 2 || !said)
			printf("\n    case %zu: exit %d, expected 2 with \"%s\" ", i, rc,
			    cases[i].expect);
		CU_ASSERT_EQUAL(rc, 2);
		CU_ASSERT(said);
		CU_ASSERT(access(s.sock, F_OK) != 0);
	}
	solo_cleanup(&s, false);
}

/* A group the process may not give the socket: a start-up error naming --socket-group, and
 * no socket left behind. As root (who may give any), the program runs as nobody. */
static void
test_group_refused(void)
{
	static const char *const as_nobody[] = { "/usr/bin/setpriv", "--reuid=65534",
		"--regid=65534", "--clear-groups", FANOUT_CGI, "-c", "@C", "--listen", "@S",
		"--socket-group", "0", NULL };
	static const char *const as_self[] = { FANOUT_CGI, "-c", "@C", "--listen", "@S",
		"--socket-group", "0", NULL };
	bool root = geteuid() == 0;
	struct solo s;

	if (root && access(as_nobody[0], X_OK) != 0) {
		printf("\n    not run: as root it needs %s to run as nobody ", as_nobody[0]);
		return;
	}
	if (!root && getegid() == 0) {
		printf("\n    not run: the group root (0) is this user's own ");
		return;
	}
	CU_ASSERT_FATAL(solo_init(&s));
	/* nobody must be able to make the socket: only the group is refused */
	CU_ASSERT_FATAL(!root || chmod(s.dir, 0777) == 0);
	CU_ASSERT_EQUAL(run_argv(&s, root ? as_nobody : as_self, "group.err"), 1);
	CU_ASSERT(solo_file_has(&s, "group.err", "--socket-group 0: cannot give "));
	CU_ASSERT(solo_file_has(&s, "group.err", "that group: Operation not permitted"));
	CU_ASSERT(access(s.sock, F_OK) != 0);
	solo_cleanup(&s, false);
}

/* Finding 9: a second instance on the socket of a running one refuses to start, and the first
 * keeps it; a stale socket (its process killed) is replaced. */
static void
test_second_instance(void)
{
	struct solo s;
	struct stat before, after;
	pid_t first, third;
	int status;

	CU_ASSERT_FATAL(solo_init(&s));
	first = solo_spawn(&s, NULL, "first.err");
	CU_ASSERT_FATAL(first > 0);
	CU_ASSERT(solo_ready(&s, first, 5000));
	CU_ASSERT(lstat(s.sock, &before) == 0);
	{
		static const char *const args[] = { "-c", "@C", "--listen", "@S", NULL };
		char expect[INTEG_PATH_LEN + 64];

		snprintf(expect, sizeof(expect), "--listen %s: a running process listens there",
		    s.sock);
		CU_ASSERT_EQUAL(run(&s, args, "second.err"), 1);
		CU_ASSERT(solo_file_has(&s, "second.err", expect));
	}
	CU_ASSERT(lstat(s.sock, &after) == 0 && after.st_ino == before.st_ino);
	CU_ASSERT_EQUAL(fcgi_get(s.sock, "/healthz", 5000), 200);

	/* Killed, the first leaves its socket behind: stale, refusing connections. */
	CU_ASSERT_FATAL(kill(first, SIGKILL) == 0);
	CU_ASSERT(solo_reaped(first, 5000, &status));
	CU_ASSERT(access(s.sock, F_OK) == 0);
	third = solo_spawn(&s, NULL, "third.err");
	CU_ASSERT_FATAL(third > 0);
	CU_ASSERT(solo_ready(&s, third, 5000));
	CU_ASSERT_EQUAL(integ_stop(third), 0);
	solo_cleanup(&s, false);
}

/* Anything at the path that is not a socket stays, and start-up fails. */
static void
test_not_a_socket(void)
{
	static const char *const args[] = { "-c", "@C", "--listen", "@S", NULL };
	struct solo s;
	struct buf kept = BUF_INIT;

	CU_ASSERT_FATAL(solo_init(&s));
	CU_ASSERT_FATAL(integ_write_file(s.sock, "precious\n"));
	CU_ASSERT_EQUAL(run(&s, args, "file.err"), 1);
	CU_ASSERT(solo_file_has(&s, "file.err", ": exists and is not a socket"));
	CU_ASSERT(integ_read_file(s.sock, &kept) && strcmp(buf_str(&kept), "precious\n") == 0);
	buf_free(&kept);
	solo_cleanup(&s, false);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "Unix socket: 0660 by default, whatever the umask", test_default_mode },
		{ "--socket-mode, --socket-group by name and number", test_mode_and_group },
		{ "bad listening options: exit 2, named (0.0.0.0, [::] too)", test_option_errors },
		{ "a group that cannot be given: exit 1, no socket left", test_group_refused },
		{ "second instance on a live socket refused; stale one replaced",
		  test_second_instance },
		{ "not a socket at the path: refused, left alone", test_not_a_socket },
		{ NULL, NULL },
	};

	return unit_run("listening socket", NULL, NULL, tests);
}
