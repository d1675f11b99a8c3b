/* evlimits.c - the event server's budget on answers its FastCGI connections hold for peers
 * that do not take them (limits.max_pending_output_mb): the count, and who stops being read. */
#include "cgi/serve/event/evlimits.h"

#include <stdatomic.h>

#include "cgi/serve/event/evconn.h"
#include "cgi/request/metrics.h"

void
evlimits_count(struct evconn *c)
{
	size_t now = c->out.len - c->out_off;
	struct evlimits *lim = c->ev->limits;

	if (now == c->counted)
		return;
	if (now > c->counted)
		atomic_fetch_add_explicit(&lim->pending, now - c->counted, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&lim->pending, c->counted - now, memory_order_relaxed);
	metrics_fastcgi_output_pending((long)now - (long)c->counted);
	c->counted = now;
}

bool
evlimits_over_share(const struct evconn *c)
{
	struct evlimits *lim = c->ev->limits;
	size_t conns = atomic_load_explicit(&lim->conns, memory_order_relaxed);
	size_t share = lim->max_pending / 2 / (conns > 0 ? conns : 1);

	return atomic_load_explicit(&lim->pending, memory_order_relaxed) >= lim->max_pending / 2 &&
	    c->counted >= (share > 0 ? share : 1);
}

void
evlimits_update(struct evconn *c)
{
	bool held;

	evlimits_count(c);
	held = evlimits_over_share(c);
	if (held && !c->held)
		metrics_fastcgi_connection_held();
	c->held = held;
}

void
evlimits_conn_closed(struct evconn *c)
{
	struct evlimits *lim = c->ev->limits;

	atomic_fetch_sub_explicit(&lim->pending, c->counted, memory_order_relaxed);
	metrics_fastcgi_output_pending(-(long)c->counted);
	c->counted = 0;
	atomic_fetch_sub(&lim->conns, 1);
}
