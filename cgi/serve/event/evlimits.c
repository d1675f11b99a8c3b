/* evlimits.c - the event server's budget on answers its FastCGI connections hold for peers
 * that do not take them (limits.max_pending_output_mb): the count, and who stops being read. */
#include "cgi/serve/event/evlimits.h"

#include <stdatomic.h>

#include "cgi/request/metrics.h"

void
evlimits_count(struct evlimits *lim, struct evlimits_conn *c, size_t now)
{
	if (now == c->counted)
		return;
	if (now > c->counted)
		atomic_fetch_add_explicit(&lim->pending, now - c->counted, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&lim->pending, c->counted - now, memory_order_relaxed);
	c->counted = now;
}

bool
evlimits_over_share(struct evlimits *lim, const struct evlimits_conn *c)
{
	size_t conns = atomic_load_explicit(&lim->conns, memory_order_relaxed);
	size_t share = lim->max_pending / 2 / (conns > 0 ? conns : 1);

	return atomic_load_explicit(&lim->pending, memory_order_relaxed) >= lim->max_pending / 2 &&
	    c->counted >= (share > 0 ? share : 1);
}

void
evlimits_update(struct evlimits *lim, struct evlimits_conn *c, size_t now)
{
	bool held;

	evlimits_count(lim, c, now);
	held = evlimits_over_share(lim, c);
	if (held && !c->held)
		metrics_fastcgi_connection_held();
	c->held = held;
}

void
evlimits_conn_closed(struct evlimits *lim, struct evlimits_conn *c)
{
	atomic_fetch_sub_explicit(&lim->pending, c->counted, memory_order_relaxed);
	c->counted = 0;
	atomic_fetch_sub(&lim->conns, 1);
}
