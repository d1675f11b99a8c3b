/* integ-core.c - integration tests: curl -> nginx or Apache httpd -> fanout-cgi -> mock backends.
 * Built twice: t/integ-nginx runs every test behind nginx, t/integ-apache (INTEG_APACHE) the
 * request tests that do not depend on the front's own handling of paths and connections. This
 * part holds the stack's config, the request helpers and the runner; the tests are in
 * integ-core-{compose,values,requests}.c. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "t/integ.h"
#include "t/integ-core.h"
#include "t/unit.h"

struct integ_stack env;

/* The config: @M@ is the mock's port, @X@ a port where nothing listens. */
static const char config_text[] =
    "{\"limits\": {\"max_inflight\": 12, \"pool_threads\": 8},\n"
    " \"endpoints\": [\n"
    "  {\"path\": \"/api/compose/{user}\", \"timeout_ms\": 2000, \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/echo/{user}?delay=30\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=10\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=20\"}]},\n"
    "  {\"path\": \"/api/allow\", \"query\": [\"lang\"], \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/allow?lang={query.lang}\",\n"
    "     \"headers\": [\"Accept-Language\"]}]},\n"
    "  {\"path\": \"/api/repeat\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/repeat\",\n"
    "     \"headers\": [\"Accept-Language\", \"Cookie\"]}]},\n"
    "  {\"path\": \"/api/threads\", \"executor\": \"threads\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/pool\", \"executor\": \"pool\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/serial\", \"executor\": \"serial\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/multi\", \"executor\": \"multi\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/multi-chain\", \"executor\": \"multi\", \"backends\": [\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?seg={a./value}\"},\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?value=gold&delay=20\"},\n"
    "    {\"name\": \"bad\", \"url\": \"http://127.0.0.1:@M@/x?body=invalid\",\n"
    "     \"required\": false}]},\n"
    "  {\"path\": \"/api/multi-late\", \"executor\": \"multi\", \"timeout_ms\": 200,\n"
    "   \"backends\": [\n"
    "    {\"name\": \"slow\", \"url\": \"http://127.0.0.1:@M@/s?delay=2000\"},\n"
    "    {\"name\": \"fast\", \"url\": \"http://127.0.0.1:@M@/f\"}]},\n"
  "  {\"path\": \"/api/chain\", \"expose_timing\": true, \"backends\": [\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?seg={a./value}\"},\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?value=gold&delay=20\"}]},\n"
    "  {\"path\": \"/api/given\", \"query\": [\"json\"], \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/x?body=given&json={query.json}\"}]},\n"
    "  {\"path\": \"/api/given-used\", \"query\": [\"json\"], \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/x?body=given&json={query.json}\"},\n"
    "    {\"name\": \"y\", \"url\": \"http://127.0.0.1:@M@/y?v={x./v}\", \"required\": false}]},\n"
    "  {\"path\": \"/api/partial\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a\"},\n"
    "    {\"name\": \"opt\", \"url\": \"http://127.0.0.1:@M@/o?status=500\", \"required\": false}]},\n"
    "  {\"path\": \"/api/broken\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?status=503\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b\"},\n"
    "    {\"name\": \"after_a\", \"url\": \"http://127.0.0.1:@M@/x?v={a./value}\"}]},\n"
    "  {\"path\": \"/api/late\", \"timeout_ms\": 200, \"backends\": [\n"
    "    {\"name\": \"slow\", \"url\": \"http://127.0.0.1:@M@/s?delay=2000\"},\n"
    "    {\"name\": \"fast\", \"url\": \"http://127.0.0.1:@M@/f\"}]},\n"
    "  {\"path\": \"/api/wide\", \"timeout_ms\": 3000, \"backends\": [\n"
    "    {\"name\": \"w1\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w2\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w3\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w4\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w5\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w6\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w7\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w8\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"}]},\n"
    "  {\"path\": \"/api/faults\", \"backends\": [\n"
    "    {\"name\": \"inv\", \"url\": \"http://127.0.0.1:@M@/i?body=invalid\", \"required\": false},\n"
    "    {\"name\": \"big\", \"url\": \"http://127.0.0.1:@M@/g?body=big&size=5000\",\n"
    "     \"max_body_bytes\": 1000, \"required\": false},\n"
    "    {\"name\": \"chunked\", \"url\": \"http://127.0.0.1:@M@/g?body=big&size=5000&chunked=1\",\n"
    "     \"max_body_bytes\": 1000, \"required\": false},\n"
    "    {\"name\": \"refused\", \"url\": \"http://127.0.0.1:@X@/\", \"required\": false},\n"
    "    {\"name\": \"text\", \"url\": \"http://127.0.0.1:@M@/t?body=text\", \"encoding\": \"text\"},\n"
    "    {\"name\": \"nonutf8\", \"url\": \"http://127.0.0.1:@M@/n?body=nonutf8\",\n"
    "     \"encoding\": \"text\", \"required\": false},\n"
    "    {\"name\": \"redirect\", \"url\": \"http://127.0.0.1:@M@/r?status=302&location=/a\",\n"
    "     \"required\": false},\n"
    "    {\"name\": \"reset\", \"url\": \"http://127.0.0.1:@M@/x?reset=1\", \"required\": false},\n"
    "    {\"name\": \"deep\", \"url\": \"http://127.0.0.1:@M@/d?body=deep&size=2000\",\n"
    "     \"required\": false},\n"
    "    {\"name\": \"deep_ok\", \"url\": \"http://127.0.0.1:@M@/d?body=deep&size=200\"},\n"
    "    {\"name\": \"nocontent\", \"url\": \"http://127.0.0.1:@M@/z?status=204&body=empty\"}]}\n"
    " ]}\n";

static int
suite_init(void)
{
	static const char *const args[] = { "--threads", "16", NULL };

	return integ_stack_start(&env, config_text, behind_apache ? integ_apache_conf :
	    integ_nginx_conf, args) ? 0 : -1;
}

static int
suite_cleanup(void)
{
	return integ_stack_stop(&env) ? 0 : -1;
}

/* GET env.url + path; fails the test if no HTTP exchange took place. A 5xx the program did not
 * write (no X-Request-Id: the front's own) is shown, to tell the front's trouble from ours. */
void
get(const char *path, const char *const *headers, struct reply *r)
{
	char url[8448], id[8];	/* room for a path up to the 8 KiB URI limit */

	snprintf(url, sizeof(url), "%s%s", env.url, path);
	CU_ASSERT_FATAL(integ_request(NULL, url, headers, r));
	if (r->status >= 500 && !integ_header(r, "X-Request-Id", id, sizeof(id)))
		printf("\n    %s: %ld from the front: %.200s ", path, r->status, buf_str(&r->body));
}

json_t *
at(const struct reply *r, const char *pointer_path)
{
	json_t *v = r->json;
	char key[64];

	/* A dotted path of object keys: "data.a.query.lang". */
	for (const char *p = pointer_path; v != NULL && *p != '\0';) {
		size_t len = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int)len, p);
		v = json_object_get(v, key);
		p += len + (p[len] == '.');
	}
	return v;
}

const char *
str_at(const struct reply *r, const char *path)
{
	const char *s = json_string_value(at(r, path));

	return s != NULL ? s : "(none)";
}

/* The error entry of backend `name`, or NULL. */
json_t *
error_of(const struct reply *r, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(at(r, "errors"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "backend")), name) == 0)
			return e;
	return NULL;
}

const char *
kind_of(const struct reply *r, const char *name)
{
	const char *k = json_string_value(json_object_get(error_of(r, name), "kind"));

	return k != NULL ? k : "(none)";
}

/* Appends the NULL-terminated list `from` to `to`, which holds n tests and room for max. */
static size_t
tests_append(struct unit_test *to, size_t n, size_t max, const struct unit_test *from)
{
	for (; from->name != NULL && n + 1 < max; from++)
		to[n++] = *from;
	to[n] = (struct unit_test){ NULL, NULL };
	return n;
}

int
main(void)
{
	static const struct unit_test core[] = {
		{ "composition, order, Server-Timing", test_composition },
		{ "3 x 100 ms: threads, pool, multi overlap; serial adds up", test_overlap },
		{ "chain: b uses a value of a", test_chain },
		{ "values as written, one JSON with or without dependants", test_values_as_written },
		{ "multi executor: chain, failure, deadline", test_multi },
		{ "optional failure: 200 with errors", test_optional_failure },
		{ "required failure: 502, dependants skipped", test_required_failure },
		{ "deadline: 504 on time", test_timeout },
		{ "query and header allowlists", test_allowlists },
		{ "repeated headers combined", test_repeated_headers },
		{ "a long query echoed whole", test_long_query },
		{ "request id forwarded or made", test_request_id },
		{ "backend fault kinds", test_fault_kinds },
		{ NULL, NULL },
	};
	/* These depend on nginx's own handling of paths and connections, or on no front at all. */
	static const struct unit_test nginx_only[] = {
		{ "404, 405, 400, HEAD", test_client_errors },
		{ "percent-encoding of parameters", test_percent_encoding },
		{ "access log, text format", test_access_log },
		{ "keep-alive to backends", test_keep_alive },
		{ "fan-out bound: 503", test_bound },
		{ "plain CGI mode", test_cgi_mode },
		{ "socket inherited on fd 0", test_inherited_socket },
		{ "config errors name path and reason", test_config_errors },
		{ NULL, NULL },
	};
	static struct unit_test tests[32];
	size_t n = tests_append(tests, 0, 32, core);
	const char *binary = behind_apache ? integ_apache_binary() : integ_nginx_binary();

	if (binary == NULL) {
		fprintf(stderr, "%s: SKIP: %s is not installed (t/check.sh installs it)\n",
		    behind_apache ? "integ-apache" : "integ-nginx", behind_apache ? "apache2" : "nginx");
		return 77;
	}
	if (!behind_apache)
		(void)tests_append(tests, n, 32, nginx_only);
	return unit_run(behind_apache ? "integration behind Apache httpd" :
	    "integration behind nginx", suite_init, suite_cleanup, tests);
}
