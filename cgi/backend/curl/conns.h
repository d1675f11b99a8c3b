/* conns.h - the sockets of one curl connection cache, so a kept connection is checked before reuse. */
#ifndef CGI_CONNS_H
#define CGI_CONNS_H

/*
 * Why: curl before 8.0 (Debian 12 ships 7.88) reuses a kept connection on which the backend has
 * sent bytes after the end of its answer (curl's issue 10690): those bytes would be read as the
 * answer to the next request sent on it, one user's data served to another. curl opens and
 * closes its sockets through these functions, so that just before a request is sent on a
 * connection (CURLOPT_PREREQFUNCTION), its socket can be found and checked for such bytes.
 *
 * A set belongs to one connection cache (one curl multi handle), which one thread uses at a
 * time; it needs no lock.
 */
struct conns;

/* A new, empty set; NULL if out of memory. */
struct conns *conns_new(void);

/* Frees the set, once curl has closed every socket in it (after curl_multi_cleanup). */
void conns_free(struct conns *cs);

/* Opens a socket for curl (CURLOPT_OPENSOCKETFUNCTION) and adds it to the set: the descriptor,
 * or -1 (errno set) if out of descriptors or memory. */
int conns_open(struct conns *cs, int family, int type, int protocol);

/* Closes a socket of the set for curl (CURLOPT_CLOSESOCKETFUNCTION): close()'s result. */
int conns_close(struct conns *cs, int fd);

enum conns_state {
	CONNS_CLEAN,	/* nothing pending (or its first request): the next bytes read are the
			 * answer to what is sent */
	CONNS_STRAY,	/* bytes are waiting that nobody asked for: not reusable */
	CONNS_CLOSED,	/* the peer closed or reset it: not reusable either */
	CONNS_UNKNOWN,	/* no socket of the set has these addresses */
};

/* The state of the connection with these addresses (as curl reports them to the pre-request
 * callback), which is about to carry a request. A new connection, on its first request, is
 * clean without a look: it cannot hold an answer to an earlier one, and what a TLS server
 * sends unasked after the handshake (session tickets) is not an answer. On a kept one it looks
 * without reading: the bytes stay for curl, which closes the connection. With TLS these are
 * TLS records: a late ticket or a key update also costs a new connection, which is safe. */
enum conns_state conns_check(struct conns *cs, const char *local_ip, int local_port,
    const char *peer_ip, int peer_port);

#endif
