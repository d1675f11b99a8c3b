/* listen.c - the listening socket of fanout-cgi: one named TCP address, or a Unix socket path
 * with the permissions that decide who may connect to it. */
#include "cgi/serve/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The listen queue: as long as the kernel allows (net.core.somaxconn, which listen() applies
 * to anything larger; 4096 by default since Linux 5.4). A burst of connections beyond a fixed
 * 1024 was refused with EAGAIN (nginx: 502) while the accepting loops were busy. */
#define BACKLOG INT_MAX
#define GROUP_BUF_MAX (1024 * 1024)	/* getgrnam_r's buffer: grown up to this */

/* Splits "IP:PORT" or "[IPv6]:PORT" into an address; -1 if it is neither. */
static int
parse_inet(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(addr, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t hlen;
	char *end;
	long port;

	if (colon == NULL || (hlen = (size_t)(colon - addr)) == 0 || hlen >= sizeof(host))
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return -1;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
		    &s4->sin_addr) == 1 ? 0 : -1;
	}
}

/* The unspecified address, which binds every interface: 0.0.0.0, ::, and ::ffff:0.0.0.0 (the
 * IPv4 one, as a dual-stack socket takes it). */
static bool
is_every_interface(const struct sockaddr_storage *ss)
{
	static const unsigned char mapped_any[16] = { [10] = 0xff, [11] = 0xff };

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr) ||
	    memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, mapped_any, 16) == 0;
}

enum listen_kind
listen_classify(const char *addr, struct buf *err)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (addr[0] == '/' || addr[0] == '.')
		return LISTEN_UNIX;
	if (parse_inet(addr, &ss, &len) != 0) {
		(void)buf_printf(err, "--listen %s: give IP:PORT (127.0.0.1:9000, [::1]:9000) or a "
		    "socket path (/run/fanout-cgi/fanout.sock)", addr);
		return LISTEN_BAD;
	}
	if (is_every_interface(&ss)) {
		(void)buf_printf(err, "--listen %s: that is every interface, and whoever can connect "
		    "can send it any request, or crash --server threads with one FastCGI record "
		    "(README, section Security); use a "
		    "Unix socket (/run/fanout-cgi/fanout.sock) or name one address (127.0.0.1:9000)",
		    addr);
		return LISTEN_EVERY;
	}
	return LISTEN_INET;
}

int
listen_parse_mode(const char *s, mode_t *mode)
{
	size_t n = strlen(s);
	unsigned v = 0;

	if (n == 0 || n > 4 || strspn(s, "01234567") != n)
		return -1;
	for (; *s != '\0'; s++)
		v = v * 8 + (unsigned)(*s - '0');
	if (v > 0777)
		return -1;
	*mode = (mode_t)v;
	return 0;
}

/* A group name looked up in the group database; -1 with the reason in err. */
static int
lookup_group(const char *name, gid_t *gid, struct buf *err)
{
	struct group gr, *found = NULL;
	size_t size = 4096;
	char *mem = NULL, *more;
	int rc;

	do {
		if ((more = realloc(mem, size)) == NULL) {
			free(mem);
			return buf_printf(err, "--socket-group %s: out of memory", name), -1;
		}
		mem = more;
		rc = getgrnam_r(name, &gr, mem, size, &found);
		size *= 2;
	} while (rc == ERANGE && size <= GROUP_BUF_MAX);
	if (rc == 0 && found != NULL)
		*gid = found->gr_gid;
	free(mem);
	if (rc != 0)
		return buf_printf(err, "--socket-group %s: cannot look the group up: %s", name,
		    strerror(rc)), -1;
	if (found == NULL)
		return buf_printf(err, "--socket-group %s: no such group", name), -1;
	return 0;
}

int
listen_parse_group(const char *s, gid_t *gid, struct buf *err)
{
	size_t n = strlen(s);
	unsigned long v;
	char *end;

	if (n == 0 || strspn(s, "0123456789") != n)
		return lookup_group(s, gid, err);
	errno = 0;
	v = strtoul(s, &end, 10);
	/* (gid_t)-1 means "no change" to chown(): not a group. */
	if (errno != 0 || *end != '\0' || v >= (unsigned long)(gid_t)-1)
		return buf_printf(err, "--socket-group %s: not a group number", s), -1;
	*gid = (gid_t)v;
	return 0;
}

/* Makes room at the socket path: nothing there is fine; a socket nobody accepts on (connect()
 * refused: its process is gone) is removed; a socket a process listens on, or anything else,
 * stays and start-up fails. */
static int
clear_stale(const char *path, const struct sockaddr_un *sa, struct buf *err)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : (buf_printf(err, "--listen %s: %s", path,
		    strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode))
		return buf_printf(err, "--listen %s: exists and is not a socket", path), -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return buf_printf(err, "socket: %s", strerror(errno)), -1;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : errno;
	close(fd);
	/* EAGAIN: a listener whose backlog is full, alive all the same. */
	if (rc == 0 || rc == EAGAIN)
		return buf_printf(err, "--listen %s: a running process listens there", path), -1;
	if (rc != ECONNREFUSED)
		return buf_printf(err, "--listen %s: cannot tell whether a process listens there: "
		    "%s", path, strerror(rc)), -1;
	if (unlink(path) != 0)
		return buf_printf(err, "--listen %s: cannot remove the stale socket: %s", path,
		    strerror(errno)), -1;
	return 0;
}

/* Gives the bound socket's file its group and mode. The group first: between the two a
 * connect() is refused anyway, the socket does not listen yet. */
static int
set_perm(const char *path, const struct listen_perm *perm, struct buf *err)
{
	if (perm->group != (gid_t)-1 && lchown(path, (uid_t)-1, perm->group) != 0)
		return buf_printf(err, "--socket-group %lu: cannot give %s that group: %s",
		    (unsigned long)perm->group, path, strerror(errno)), -1;
	if (chmod(path, perm->mode) != 0)
		return buf_printf(err, "--socket-mode %04o: cannot set the mode of %s: %s",
		    (unsigned)perm->mode, path, strerror(errno)), -1;
	return 0;
}

/* A Unix socket: bound, given its permissions, and only then listening, so that nobody can
 * connect while the file has the mode the umask gave it. */
static int
listen_unix(const char *path, const struct listen_perm *perm, struct buf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(sa.sun_path))
		return buf_printf(err, "--listen %s: socket path too long", path), -1;
	memcpy(sa.sun_path, path, len + 1);
	if (clear_stale(path, &sa, err) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return buf_printf(err, "socket: %s", strerror(errno)), -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		(void)buf_printf(err, "--listen %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (set_perm(path, perm, err) != 0)
		goto fail;
	if (listen(fd, BACKLOG) != 0) {
		(void)buf_printf(err, "--listen %s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	(void)unlink(path);	/* ours: bound just now */
	return -1;
}

int
listen_open(const char *addr, const struct listen_perm *perm, struct buf *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	switch (listen_classify(addr, err)) {
	case LISTEN_UNIX:
		return listen_unix(addr, perm, err);
	case LISTEN_INET:
		break;
	default:
		return -1;
	}
	(void)parse_inet(addr, &ss, &len);	/* classified: it parses */
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return buf_printf(err, "socket: %s", strerror(errno)), -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, BACKLOG) != 0) {
		(void)buf_printf(err, "--listen %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
