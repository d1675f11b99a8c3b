/* watch.h - noticing that a client went away while its request waits for backends. */
#ifndef CGI_WATCH_H
#define CGI_WATCH_H

#include <stdbool.h>

#include "fanout/fanout.h"

/*
 * nginx closes its FastCGI connection when its client aborts; libfcgi would only tell at the
 * next write. One watcher thread polls the connections of the requests that wait for backends
 * (every WATCH_PERIOD_MS, so a request costs it no wake-up) and cancels the fan-out of those whose
 * connection was closed: their backends stop at once and their memory is freed.
 */
#define WATCH_PERIOD_MS 50

struct watch_slot;

/* Starts the watcher thread; -1 on failure. */
int watch_start(void);

/* Stops it (within WATCH_PERIOD_MS). Every slot must be freed before. */
void watch_stop(void);

/* One slot per request thread; NULL if out of memory. */
struct watch_slot *watch_slot_new(void);
void watch_slot_free(struct watch_slot *slot);

/* Watches connection fd while g runs: if the peer closes it, fanout_group_cancel(g). */
void watch_arm(struct watch_slot *slot, int fd, fanout_group *g);

/* Stops watching; after it returns g is no longer touched. True if the peer had closed. */
bool watch_disarm(struct watch_slot *slot);

#endif
