/* h1_internal.h - what the two halves of the lean HTTP/1.1 client share: its transfers (h1.c)
 * and its connections and their pool (h1_conn.c). */
#ifndef CGI_H1_INTERNAL_H
#define CGI_H1_INTERNAL_H

#include <sys/socket.h>

#include "cgi/backend/h1/h1.h"
#include "cgi/backend/h1/h1parse.h"

/* A backend address and its idle connections. It lives while a connection or a transfer
 * holds it (refs). */
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
	char echo_name[72];	/* the header the reply is to carry, "" for none */
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

/* Connections (h1_conn.c). The failures are the transfer's: each ends it through
 * h1_transfer_fail(), which may send it again on a new connection. */

/* The host of this address, made if needed and held for the caller; NULL if out of memory. */
struct h1_host *h1_host_hold(struct h1_client *c, const struct sockaddr_storage *addr,
    socklen_t len, const char *origin);
void h1_host_release(struct h1_client *c, struct h1_host *h);

/* Puts t on a connection of its host, kept (checked first) or new, and sends its request. */
void h1_conn_take(struct h1_transfer *t, bool fresh);

/* t's answer ended: its connection goes back to the pool if `reusable`, else is closed. */
void h1_conn_release(struct h1_conn *conn, bool reusable);

/* Closes the connection (its transfer, if any, loses it); freed later, from the loop. */
void h1_conn_close(struct h1_conn *conn);

/* Transfers (h1.c). */

/* t failed: it goes out again on a new connection if `may_retry` and it may (a kept connection,
 * nothing of the answer read, not retried yet), else ends with kind and the message. */
void h1_transfer_fail(struct h1_transfer *t, enum fetch_kind kind, bool may_retry,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* t's answer has been read whole. */
void h1_transfer_complete(struct h1_transfer *t, bool reusable);

/* The end of one of the client's callbacks from the loop: ended() is called if a transfer has
 * ended. */
void h1_callback_exit(struct h1_client *c);

/* The address as text and port, for messages. */
void h1_addr_text(const struct h1_host *h, char *out, size_t size);

#endif
