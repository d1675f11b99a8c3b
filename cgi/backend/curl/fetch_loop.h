/* fetch_loop.h - fetch's own: what fetch.c, fetch_pool.c and fetch_loop.c (a cache driven by an
 * event loop through curl's multi-socket API) tell each other. Only cgi/fetch*.c include it. */
#ifndef CGI_FETCH_LOOP_H
#define CGI_FETCH_LOOP_H

#include <curl/curl.h>

/* A loop's side of a cache: its hooks, the sockets it watches, its timer. */
struct fetch_loop;

/* curl is about to close fd (CURLOPT_CLOSESOCKETFUNCTION): if the loop still watches it, it
 * stops first, so that it never holds a descriptor that may be reused. l may be NULL. */
void fetch_loop_closing(struct fetch_loop *l, int fd);

/* After curl_multi_cleanup: stops every watch and the timer still on, and frees l (NULL: none). */
void fetch_loop_free(struct fetch_loop *l);

/* fetch.c's: the loop could not watch a socket of `easy`'s transfer, which is to end (as
 * FETCH_INTERNAL) at the next fetch_done(). Only records it: it runs inside curl's callback. */
void fetch_transfer_unwatchable(CURL *easy);

#endif
