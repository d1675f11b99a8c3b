/* site.c - the config in force, replaced whole by a reload. */
#include "cgi/config/site.h"

#include <pthread.h>
#include <stddef.h>

static struct {
	pthread_mutex_t mu;	/* held only to swap or take a reference: a few instructions */
	struct cfg *cfg;
} site = { .mu = PTHREAD_MUTEX_INITIALIZER };

void
site_set(struct cfg *cfg)
{
	struct cfg *old;

	pthread_mutex_lock(&site.mu);
	old = site.cfg;
	site.cfg = cfg;
	pthread_mutex_unlock(&site.mu);
	cfg_unref(old);
}

struct cfg *
site_get(void)
{
	struct cfg *cfg;

	pthread_mutex_lock(&site.mu);
	if ((cfg = site.cfg) != NULL)
		cfg_ref(cfg);
	pthread_mutex_unlock(&site.mu);
	return cfg;
}
