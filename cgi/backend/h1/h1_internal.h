/* h1_internal.h - what the lean HTTP/1.1 client's files share, each using only those below it:
 * its calls (h1.c), its exchanges (h1_exchange.c), its connections and their pool (h1_conn.c). */
#ifndef CGI_H1_INTERNAL_H
#define CGI_H1_INTERNAL_H

#include <stdint.h>
#include <sys/socket.h>

#include "cgi/backend/h1/h1.h"
#include "cgi/backend/h1/h1parse.h"

/* A backend address, as one origin names it, and its idle connections: two origins (two
 * spellings, "localhost:8081" and "127.0.0.1:8081") of one address keep apart, as curl keeps
 * them, so that the connections of an origin out of step are never another's
 * (cgi/backend/desync.h). It lives while a connection or a transfer holds it (refs). */
struct h1_host {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *origin;		/* the caller's name for it (fetch_request.origin), NULL if none */
	struct h1_conn *idle;	/* most recently used first */
	size_t nidle;
	size_t refs;
	struct h1_host *prev, *next;
};

enum h1_conn_state { H1_CONNECTING, H1_SENDING, H1_READING, H1_IDLE };

struct h1_conn {
	struct loop_io io;	/* its socket, watched all its life */
	struct h1_client *c;
	struct h1_host *host;
	struct h1_transfer *t;	/* the transfer it carries; NULL when idle */
	enum h1_conn_state state;
	bool kept;		/* it came from the pool: its backend may have closed it meanwhile */
	struct h1p parser;
	struct loop_timer idle_timer;
	struct h1_conn *prev, *next;	/* in its host's idle list; next: in the client's dead */
};

struct h1_transfer {
	struct h1_client *c;
	struct fetch_reply *reply;
	void *token;
	struct h1_host *host;
	struct h1_conn *conn;
	struct buf request;	/* the whole request, kept for a second attempt */
	size_t sent;
	size_t max_body;
	size_t received;	/* bytes of the answer read */
	int64_t started_us;
	struct loop_timer timer;	/* the deadline, or "now" to report an end from the loop */
	bool retried;
	bool no_reuse;		/* a connection of its own, closed after the answer */
	char echo_name[FETCH_ECHO_NAME_MAX];	/* the header the reply is to carry, "" for none */
	bool end_pending;	/* ended outside a callback: reported when its timer fires */
	bool ended;		/* in the client's ended list */
	struct h1_transfer *prev, *next;	/* in the list under way, or the ended one */
};

struct h1_client {
	struct loop *l;
	void (*ended)(void *ctx);
	void *ctx;
	struct h1_host *hosts;
	struct h1_transfer *running;
	struct h1_transfer *done, *done_tail;
	struct h1_conn *dead;	/* closed, freed once the loop's batch is dispatched */
	bool dead_deferred;
	bool in_callback;	/* the loop is calling one of the client's callbacks */
	void (*idle_bytes)(void *ctx, const char *origin);	/* h1_client_on_idle_bytes() */
	struct h1_stats stats;
};

/* ---- Connections (h1_conn.c): they return results, and call no transfer ---- */

/* The counts of a client's stats, and of the process's (h1_totals). */
enum h1_count { H1_COUNT_OPENED, H1_COUNT_REUSED, H1_COUNT_STRAY };
void h1_count(struct h1_client *c, enum h1_count which);

/* The host of this address and origin name (NULL: none), made if needed and held for the
 * caller; NULL if out of memory. */
struct h1_host *h1_host_hold(struct h1_client *c, const struct sockaddr_storage *addr,
    socklen_t len, const char *origin);
void h1_host_release(struct h1_client *c, struct h1_host *h);

/* The address as text and port, for messages. */
void h1_addr_text(const struct h1_host *h, char *out, size_t size);

enum h1_open {
	H1_OPEN_CONNECTING,	/* the loop calls ready() when it is connected, or refused */
	H1_OPEN_CONNECTED,	/* at once (loopback) */
	H1_OPEN_FAILED,		/* no socket, or connect() refused: *err says why */
	H1_OPEN_UNWATCHABLE,	/* the loop cannot watch it: *err says why */
};

/* A new connection to h, its socket watched with ready(conn, events), in *out (its parser not
 * yet made: h1p_init it); the others leave *out NULL. */
enum h1_open h1_conn_open(struct h1_client *c, struct h1_host *h,
    void (*ready)(void *conn, uint32_t events), struct h1_conn **out, int *err);

/* A kept connection of h, out of the pool, checked clean (those that are not are closed, and
 * FETCH_SIGN_PEEK added to *signs if bytes waited on one); NULL if none is left. */
struct h1_conn *h1_conn_kept(struct h1_host *h, unsigned *signs);

/* Whether nothing waits on a kept connection: a byte nobody asked for (issue 7, and then
 * *stray is set: a sign that the backend is out of step, issue 18), an end of stream or an
 * error all say it cannot carry a request. Looks without reading. */
bool h1_conn_clean(struct h1_conn *conn, bool *stray);

/* Its answer ended: the connection goes back to the pool if `reusable`, else is closed. */
void h1_conn_release(struct h1_conn *conn, bool reusable);

/* Closes the connection (its transfer, if any, loses it); freed later, from the loop. */
void h1_conn_close(struct h1_conn *conn);

/* ---- Exchanges (h1_exchange.c) ---- */

/* t, set up and in the client's running list, goes out: on a kept connection or a new one. Its
 * failures end it (or send it again once, on a new connection); the client's ended() tells. */
void h1_transfer_go(struct h1_transfer *t);

/* t's timer (loop_timer_init it with this): its deadline, or the report of an end that
 * happened outside the loop's callbacks. */
void h1_transfer_timer(void *ctx);

/* Takes t out of the list at *head (the client's running or ended one). */
void h1_list_unlink(struct h1_transfer **head, struct h1_transfer *t);

#endif
