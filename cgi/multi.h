/* multi.h - the "multi" executor's event driver: one fetch cache per request thread, whose
 * transfers run at once in that thread. */
#ifndef CGI_MULTI_H
#define CGI_MULTI_H

#include "fanout/fanout.h"

/* The driver of the calling thread (its fetch cache is made on first use and kept, so that its
 * connections are reused by the thread's next requests). NULL if out of memory. */
const struct fanout_driver *multi_driver(void);

/* Frees the calling thread's fetch cache, if it has one: at the end of a request thread. */
void multi_thread_end(void);

#endif
