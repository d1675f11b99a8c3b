/* listen.h - the listening socket of fanout-cgi: one named TCP address, or a Unix socket path
 * with the permissions that decide who may connect to it. */
#ifndef CGI_LISTEN_H
#define CGI_LISTEN_H

#include <sys/types.h>

#include "common/buf.h"

/* The mode a Unix socket gets when none is given: its owner and its group may connect, nobody
 * else (libfcgi's parser can be crashed by whoever connects: README, Security). */
#define LISTEN_DEFAULT_MODE 0660

/* What a --listen address is. */
enum listen_kind {
	LISTEN_UNIX,		/* a socket path: starts with '/' or '.' */
	LISTEN_INET,		/* "IP:PORT" or "[IPv6]:PORT" naming one address */
	LISTEN_EVERY,		/* 0.0.0.0, [::] (or [::ffff:0.0.0.0]): every interface; refused */
	LISTEN_BAD,		/* none of these */
};

/* Who may connect to a Unix socket. */
struct listen_perm {
	mode_t mode;		/* permission bits, in place before the socket listens */
	gid_t group;		/* the socket's group; (gid_t)-1: the process's own */
};

/* Says what addr is; for LISTEN_EVERY and LISTEN_BAD the reason it is refused is in err. */
enum listen_kind listen_classify(const char *addr, struct buf *err);

/* Parses an octal mode from 0 to 0777 ("0660", "660"). -1 if s is anything else. */
int listen_parse_mode(const char *s, mode_t *mode);

/* Takes a group name or number. -1 with the reason in err (no such group, lookup failed, not
 * a group number). */
int listen_parse_group(const char *s, gid_t *gid, struct buf *err);

/* Opens the listening socket on addr. A Unix socket gets perm before it listens, so nobody can
 * connect while it has other permissions; a stale socket file (nobody accepts on it) is
 * replaced, a socket a process listens on is not, nor is anything else at that path. perm
 * only applies to a Unix socket. Returns the descriptor, or -1 with the reason, naming the
 * option, in err. */
int listen_open(const char *addr, const struct listen_perm *perm, struct buf *err);

#endif
