/* evloop.c - when a loop of the event server may end: once closing, with no connection open and
 * no request in flight. Below the connections and requests, which report to it. */
#include "cgi/serve/event/evloop.h"

void
evloop_check_done(struct evloop *ev)
{
	if (ev->closing && ev->nconns == 0 && ev->requests == 0)
		loop_stop(ev->loop);
}

void
evloop_request_begins(struct evloop *ev)
{
	ev->requests++;
}

void
evloop_request_ends(struct evloop *ev)
{
	ev->requests--;
	evloop_check_done(ev);
}
