/* integ-core.h - private to t/integ-nginx and t/integ-apache (integ-core*.c): their stack, the
 * request helpers and the tests. */
#ifndef T_INTEG_CORE_H
#define T_INTEG_CORE_H

#include <jansson.h>
#include <stdbool.h>

#include "t/integ.h"

/* The stack every test talks to, started by the suite's init (integ-core.c). */
extern struct integ_stack env;

#ifdef INTEG_APACHE
static const bool behind_apache = true;
#else
static const bool behind_apache = false;
#endif

/* GET env.url + path; fails the test if no HTTP exchange took place. */
void get(const char *path, const char *const *headers, struct reply *r);

/* The value at a dotted path of object keys ("data.a.query.lang") in r's JSON, or NULL. */
json_t *at(const struct reply *r, const char *pointer_path);

/* The string at that path, or "(none)". */
const char *str_at(const struct reply *r, const char *path);

/* The error entry of backend `name`, or NULL; its kind, or "(none)". */
json_t *error_of(const struct reply *r, const char *name);
const char *kind_of(const struct reply *r, const char *name);

/* The tests, each described where it is defined; main() (integ-core.c) runs them. */
/* integ-core-compose.c */
void test_composition(void);
void test_overlap(void);
void test_multi(void);
void test_chain(void);
void test_optional_failure(void);
void test_required_failure(void);
void test_timeout(void);
void test_fault_kinds(void);
void test_keep_alive(void);
void test_bound(void);
/* integ-core-values.c */
void test_values_as_written(void);
void test_allowlists(void);
void test_long_query(void);
void test_repeated_headers(void);
void test_percent_encoding(void);
/* integ-core-requests.c */
void test_client_errors(void);
void test_request_id(void);
void test_access_log(void);
void test_cgi_mode(void);
void test_inherited_socket(void);
void test_config_errors(void);

#endif
