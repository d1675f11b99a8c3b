/* config.c - the config the program reads: reference counting, and the small lookups of
 * cgi/config/config.h. Loading and validation are config_load.c's. */
#include "cgi/config/config.h"

#include <stdlib.h>
#include <string.h>

bool
cfg_success(const struct cfg_backend *b, long status)
{
	return status >= 0 && status < 600 && (b->success[status / 8] >> (status % 8) & 1);
}

long
cfg_backend_find(const struct cfg_endpoint *ep, const char *name, size_t len)
{
	for (size_t i = 0; i < ep->nbackends; i++)
		if (ep->backends[i].name != NULL && strlen(ep->backends[i].name) == len &&
		    memcmp(ep->backends[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

static void
backend_free(struct cfg_backend *b)
{
	free(b->name);
	tpl_free(&b->url);
	free_names(b->headers, b->nheaders);
	free_names(b->header_params, b->nheaders);
	free(b->deps);
	free(b->echo_request_id);
}

void
cfg_ref(struct cfg *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
}

void
cfg_unref(struct cfg *cfg)
{
	if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) > 1)
		return;
	for (size_t i = 0; i < cfg->nendpoints; i++) {
		struct cfg_endpoint *ep = &cfg->endpoints[i];

		free(ep->path);
		for (size_t s = 0; s < ep->nsegments; s++)
			free(ep->segments[s].text);
		free(ep->segments);
		free_names(ep->query, ep->nquery);
		for (size_t b = 0; b < ep->nbackends; b++)
			backend_free(&ep->backends[b]);
		free(ep->backends);
	}
	free(cfg->endpoints);
	free(cfg->file);
	free(cfg->metrics_path);
	free(cfg->health_path);
	free(cfg);
}
