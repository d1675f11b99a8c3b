/* multi.h - the "multi" executor's event driver: the calls of a group as transfers of one fetch
 * cache that run at once, in a request thread of their own or on an event loop's cache. */
#ifndef CGI_MULTI_H
#define CGI_MULTI_H

#include "cgi/backend/curl/fetch.h"
#include "cgi/backend/h1/h1.h"
#include "fanout/fanout.h"

/* The driver of the calling thread (its fetch cache is made on first use and kept, so that its
 * connections are reused by the thread's next requests). NULL if out of memory. */
const struct fanout_driver *multi_driver(void);

/* Frees the calling thread's fetch cache, if it has one: at the end of a request thread. */
void multi_thread_end(void);

/*
 * On an event loop, many groups share the loop's cache, and its lean HTTP/1.1 client (cgi/backend/h1/h1.h)
 * if it has one: each gets a run of its own, whose driver has no wait() (the group is run step
 * by step, fanout_group_begin/advance). A call goes through the lean client when its URL is one
 * the client takes (h1_supports) and its backend is not held to curl ("client": "curl"), else
 * through curl. When the loop has made progress on either's transfers, multi_dispatch() hands
 * each one that ended to its run and calls that run's progress(ctx), where the loop advances the
 * group.
 */
struct multi_run;

/* A run on cache and h1 (NULL: curl only) for one group; NULL if out of memory. */
struct multi_run *multi_run_new(struct fetch_cache *cache, struct h1_client *h1,
    void (*progress)(void *ctx), void *ctx);

/* Its driver, for fanout_group_new_driven(). */
const struct fanout_driver *multi_run_driver(struct multi_run *r);

/* Frees the run, once its group's run is over (the driver then holds nothing of it). */
void multi_run_free(struct multi_run *r);

/* Hands the transfers of cache and of h1 (NULL: none) that ended to their runs, and calls each
 * such run's progress() once. A progress() may free its own run, and no other. */
void multi_dispatch(struct fetch_cache *cache, struct h1_client *h1);

#endif
