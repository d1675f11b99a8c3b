/* conns.c - the sockets of one curl connection cache, so a kept connection is checked before reuse. */
#include "cgi/backend/curl/conns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket and, once it is connected and first looked for, its two ends. */
struct conn {
	int fd;
	bool named;
	bool used;	/* it has carried a request */
	int local_port, peer_port;
	char local_ip[INET6_ADDRSTRLEN], peer_ip[INET6_ADDRSTRLEN];
};

struct conns {
	struct conn *v;
	size_t n, cap;
};

struct conns *
conns_new(void)
{
	return calloc(1, sizeof(struct conns));
}

void
conns_free(struct conns *cs)
{
	if (cs != NULL)
		free(cs->v);
	free(cs);
}

static bool
conns_add(struct conns *cs, int fd)
{
	if (cs->n == cs->cap) {
		size_t cap = cs->cap == 0 ? 8 : cs->cap * 2;
		struct conn *v = reallocarray(cs->v, cap, sizeof(*v));

		if (v == NULL)
			return false;
		cs->v = v;
		cs->cap = cap;
	}
	cs->v[cs->n++] = (struct conn){ .fd = fd };
	return true;
}

int
conns_open(struct conns *cs, int family, int type, int protocol)
{
	int fd = socket(family, type | SOCK_CLOEXEC, protocol);

	if (fd >= 0 && !conns_add(cs, fd)) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	return fd;
}

int
conns_close(struct conns *cs, int fd)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].fd == fd) {
			cs->v[i] = cs->v[--cs->n];
			break;
		}
	return close(fd);
}

/* An address as text and port, as curl writes them; false if it is not IPv4 or IPv6. */
static bool
addr_text(const struct sockaddr_storage *ss, char ip[INET6_ADDRSTRLEN], int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		*port = ntohs(s4->sin_port);
		return inet_ntop(AF_INET, &s4->sin_addr, ip, INET6_ADDRSTRLEN) != NULL;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		*port = ntohs(s6->sin6_port);
		return inet_ntop(AF_INET6, &s6->sin6_addr, ip, INET6_ADDRSTRLEN) != NULL;
	}
	return false;
}

/* Learns c's two ends (once: they do not change while it is connected). */
static bool
conn_name(struct conn *c)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (!c->named && getsockname(c->fd, (struct sockaddr *)&local, &llen) == 0 &&
	    getpeername(c->fd, (struct sockaddr *)&peer, &plen) == 0 &&
	    addr_text(&local, c->local_ip, &c->local_port) &&
	    addr_text(&peer, c->peer_ip, &c->peer_port))
		c->named = true;
	return c->named;
}

static struct conn *
conns_find(struct conns *cs, const char *local_ip, int local_port, const char *peer_ip,
    int peer_port)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct conn *c = &cs->v[i];

		if (conn_name(c) && c->local_port == local_port && c->peer_port == peer_port &&
		    strcmp(c->local_ip, local_ip) == 0 && strcmp(c->peer_ip, peer_ip) == 0)
			return c;
	}
	return NULL;
}

enum conns_state
conns_check(struct conns *cs, const char *local_ip, int local_port, const char *peer_ip,
    int peer_port)
{
	struct conn *c = conns_find(cs, local_ip, local_port, peer_ip, peer_port);
	char byte;
	ssize_t n;

	if (c == NULL)
		return CONNS_UNKNOWN;
	if (!c->used) {
		c->used = true;
		return CONNS_CLEAN;
	}
	/* Nothing may have arrived on a connection nobody has sent anything on since its last
	 * answer ended: a byte, an end of stream (0) or an error all say it is not clean. */
	n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return CONNS_CLEAN;
	return n > 0 ? CONNS_STRAY : CONNS_CLOSED;
}
