/* site.h - the config in force, replaced whole by a reload. */
#ifndef CGI_SITE_H
#define CGI_SITE_H

#include "cgi/config/config.h"

/* Makes cfg the config in force (taking its reference) and drops the one it replaces, which
 * lives on while requests still hold it. */
void site_set(struct cfg *cfg);

/* A new reference to the config in force (NULL before site_set); cfg_unref() it when done. */
struct cfg *site_get(void);

#endif
