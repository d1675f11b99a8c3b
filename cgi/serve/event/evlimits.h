/* evlimits.h - the event server's budget on answers its FastCGI connections hold for peers
 * that do not take them (limits.max_pending_output_mb): the count, and who stops being read. */
#ifndef CGI_EVLIMITS_H
#define CGI_EVLIMITS_H

#include <stdbool.h>

struct evconn;

/* Brings the process-wide count of answers waiting (evlimits.pending, and its metric) up to
 * date with c's output: after c's output grew or was written. */
void evlimits_count(struct evconn *c);

/*
 * Whether c holds more than its share of the budget: past half the budget, a connection that
 * holds more than half of it divided among the connections open is not read until its answers
 * drain below that. The others, under their share, hold at most the other half together, so
 * the whole stays within the budget (give or take what one read of requests answers per
 * connection), and a peer that takes its answers is not held up by those that do not. c's
 * count as evlimits_count() left it.
 */
bool evlimits_over_share(const struct evconn *c);

/* evlimits_count(), and the metric of connections held when c comes to be (c->held). */
void evlimits_update(struct evconn *c);

/* c is closed: its answers and itself leave the counts. */
void evlimits_conn_closed(struct evconn *c);

#endif
