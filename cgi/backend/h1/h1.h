/* h1.h - a lean HTTP/1.1 client on an event loop, for http:// backends. */
#ifndef CGI_H1_H
#define CGI_H1_H

#include <stdbool.h>

#include "cgi/backend/reply.h"
#include "cgi/loop/loop.h"

/*
 * Why: libcurl costs three times what a GET on a kept connection needs (issue 14). This client
 * does only that: per client (one per loop), per backend address, a pool of kept-alive
 * non-blocking connections (at most H1_IDLE_MAX idle ones, each closed after H1_IDLE_MS idle:
 * less than the keep-alive timeouts of common servers, nginx's 75 s, Apache's 5 s aside, so that
 * the backend rarely closes one as it is reused); a connect of its own within the request's
 * time; the request in one send; the answer parsed as it arrives (cgi/backend/h1/h1parse.h: strict
 * framing). A connection carries another request only when its answer ended at the last byte
 * read, it said nothing against keep-alive, and a look before reuse finds nothing waiting;
 * bytes that nobody asked for close it (issue 7). A GET that fails on a kept connection before
 * any byte of its answer (the backend closed it meanwhile) goes out again once, on a new one.
 *
 * The results are those of fetch.h's curl transfers: the same fetch_reply kinds and caps.
 * Everything runs in the loop's thread; nothing blocks it (hence numeric hosts only).
 */
#define H1_IDLE_MAX 256		/* idle connections kept per backend origin and address */
#define H1_IDLE_MS 30000	/* an idle connection is closed after this */

struct h1_client;
struct h1_transfer;

/* A client on loop l; ended(ctx) is called from the loop (never from inside an h1_* call) when
 * some transfers have ended: read them with h1_done(). ended() may call h1_done, h1_start and
 * h1_cancel, not h1_client_free. NULL if out of memory. */
struct h1_client *h1_client_new(struct loop *l, void (*ended)(void *ctx), void *ctx);

/* Bytes nobody asked for arrived on an idle connection the client kept (the connection is
 * closed): idle_bytes(ctx, origin) is told, from the loop, with the ctx of h1_client_new and
 * the fetch_request.origin of the transfers that opened it (NULL if they gave none: connections
 * are kept per origin and address, never shared between two origins). No call is
 * under way to carry this sign (fetch_reply.signs): the caller's to judge. Optional. */
void h1_client_on_idle_bytes(struct h1_client *c, void (*idle_bytes)(void *ctx,
    const char *origin));

/* Closes every connection; transfers under way or not collected are cancelled (their replies
 * are to be discarded). Not from a callback of the loop: once its loop_run() has returned. */
void h1_client_free(struct h1_client *c);

/* Whether the client can do this URL: "http://", a numeric IPv4 host, a bracketed IPv6 one or
 * "localhost" (127.0.0.1; resolving another name could block the loop), an optional port (as
 * origin_parse() reads it, as the config does), a path of printable ASCII, no user info, no
 * fragment. Any other URL is curl's. */
bool h1_supports(const char *url);

/* Sets the GET up and puts it under way (the URL as h1_supports() says; the request's header
 * lines are sent as they are, after Host and User-Agent); `token` (not NULL) names it in
 * h1_done(). reply must stay until then. NULL if it cannot start: reply says why
 * (FETCH_INTERNAL). */
struct h1_transfer *h1_start(struct h1_client *c, const struct fetch_request *req,
    struct fetch_reply *reply, void *token);

/* The token of a transfer that has ended, its reply filled and the transfer gone; NULL if
 * none. */
void *h1_done(struct h1_client *c);

/* Ends a transfer under way, or ended and not yet collected, at once (nobody wants its answer):
 * its reply is to be discarded. */
void h1_cancel(struct h1_client *c, struct h1_transfer *t);

struct h1_stats {
	unsigned long opened;		/* connections opened */
	unsigned long reused;		/* requests sent on a kept connection */
	unsigned long stray_refused;	/* kept connections closed because bytes nobody asked
					 * for were waiting on them (issue 7) */
};

/* The client's counts so far. */
struct h1_stats h1_stats(const struct h1_client *c);

/* The counts of every client of the process so far; from any thread. */
struct h1_stats h1_totals(void);

#endif
