/* evlimits.h - the event server's budget on answers its FastCGI connections hold for peers
 * that do not take them (limits.max_pending_output_mb): the count, and who stops being read. */
#ifndef CGI_EVLIMITS_H
#define CGI_EVLIMITS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* What every loop shares, process-wide: the bounds on connections and on answers not taken. */
struct evlimits {
	size_t max_conns;		/* FastCGI connections open (limits.max_connections) */
	size_t max_pending;		/* bytes of answers waiting for their peer, all connections
					 * together (limits.max_pending_output_mb) */
	atomic_size_t conns;
	atomic_size_t pending;
};

/* A connection's part in the budget; the connection embeds it, zeroed, and owns its loop's
 * only use of it. */
struct evlimits_conn {
	size_t counted;			/* of what waits, the bytes counted in pending */
	bool held;			/* not read: it holds more than its share of the budget */
};

/* Brings the process-wide count of answers waiting (lim->pending, which its metric reads) up to
 * date with c's output, of which `waiting` bytes wait for the peer: after it grew or was written. */
void evlimits_count(struct evlimits *lim, struct evlimits_conn *c, size_t waiting);

/*
 * Whether c holds more than its share of the budget: past half the budget, a connection that
 * holds more than half of it divided among the connections open is not read until its answers
 * drain below that. The others, under their share, hold at most the other half together, so
 * the whole stays within the budget (give or take what one read of requests answers per
 * connection), and a peer that takes its answers is not held up by those that do not. c's
 * count as evlimits_count() left it.
 */
bool evlimits_over_share(struct evlimits *lim, const struct evlimits_conn *c);

/* evlimits_count(), and the metric of connections held when c comes to be (c->held). */
void evlimits_update(struct evlimits *lim, struct evlimits_conn *c, size_t waiting);

/* c is closed: its answers and itself leave the counts. */
void evlimits_conn_closed(struct evlimits *lim, struct evlimits_conn *c);

#endif
