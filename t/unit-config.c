/* unit-config.c - unit tests of the program's config (cgi/config/config.h) and URL templates. */
#include <string.h>

#include "cgi/config/config.h"
#include "cgi/backend/desync.h"
#include "cgi/config/template.h"
#include "common/buf.h"
#include "t/unit.h"

/* Looks values up in a fixed table: name=value pairs. */
static const char *
lookup_table(void *ctx, const struct tpl_part *part, size_t *len, struct buf *err)
{
	const char *const *kv = ctx;

	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], part->text) == 0) {
			*len = strlen(kv[1]);
			return kv[1];
		}
	(void)buf_printf(err, "%s: no value", part->text);
	return NULL;
}

static void
test_template(void)
{
	static const char *const values[] = { "user", "../admin?x=1", "lang", "fr&x=y", "profile",
		"gold", "dots", "..", NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct tpl t;

	CU_ASSERT_EQUAL_FATAL(tpl_parse(&t,
	    "http://h:81/u/{user}/x?l={query.lang}&s={profile./seg/0}", &err), 0);
	CU_ASSERT_EQUAL(t.nparts, 6);
	CU_ASSERT_EQUAL(t.parts[1].kind, TPL_PARAM);
	CU_ASSERT_FALSE(t.parts[1].in_query);
	CU_ASSERT_EQUAL(t.parts[3].kind, TPL_QUERY);
	CU_ASSERT_TRUE(t.parts[3].in_query);
	CU_ASSERT_EQUAL(t.parts[5].kind, TPL_BACKEND);
	CU_ASSERT_STRING_EQUAL(t.parts[5].text, "profile");
	CU_ASSERT_STRING_EQUAL(t.parts[5].pointer, "/seg/0");
	CU_ASSERT_EQUAL(tpl_expand(&t, lookup_table, (void *)values, &out, &err), TPL_EXPANDED);
	CU_ASSERT_STRING_EQUAL(buf_str(&out),
	    "http://h:81/u/..%2Fadmin%3Fx%3D1/x?l=fr%26x%3Dy&s=gold");
	tpl_free(&t);

	/* A dot segment in the path is refused; the same value in the query is fine. */
	CU_ASSERT_EQUAL_FATAL(tpl_parse(&t, "http://h/{dots}?q={dots}", &err), 0);
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(tpl_expand(&t, lookup_table, (void *)values, &out, &err), TPL_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&err), "not allowed in a path"));
	tpl_free(&t);

	static const char *const bad[] = { "ftp://h/x", "http://{host}/x", "http:///x",
		"http://h/{unclosed", "http://h/x}", "http://h/#frag", "http://h/{a b}",
		"http://h/{p.nopointer}", "http://h/?a=1?b", "http://h/{query.}", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		buf_truncate(&err, 0);
		CU_ASSERT_EQUAL(tpl_parse(&t, bad[i], &err), -1);
		CU_ASSERT(err.len > 0);
		CU_ASSERT_EQUAL(t.nparts, 0);
	}
	/* Literal hosts and ports that can work (an empty port is the scheme's, as in curl). */
	static const char *const good[] = { "http://[::1]:18081/x", "http://[fe80::1%25eth0]/",
		"http://h:/x", "http://u:p@h:0080/", "https://127.0.0.1:65535?a={query.q}",
		"http://xn--bcher-kva.example/", "http://h:000080/{query.q}", NULL };
	static const char *const origins[] = { "http://[::1]:18081", "http://[fe80::1%25eth0]:80",
		"http://h:80", "http://h:80", "https://127.0.0.1:65535",
		"http://xn--bcher-kva.example:80", "http://h:80" };
	for (size_t i = 0; good[i] != NULL; i++) {
		buf_truncate(&err, 0);
		CU_ASSERT_EQUAL(tpl_parse(&t, good[i], &err), 0);
		if (err.len > 0)
			fprintf(stderr, "\n    %s: %s", good[i], buf_str(&err));
		CU_ASSERT(t.origin != NULL && strcmp(t.origin, origins[i]) == 0);
		tpl_free(&t);
	}
	buf_truncate(&err, 0);
	CU_ASSERT_EQUAL(tpl_value_check("v", "a\r\nb", 4, &err), -1);
	CU_ASSERT_EQUAL(tpl_value_check("v", "a\0b", 3, &err), -1);
	CU_ASSERT_EQUAL(tpl_value_check("v", "ab", 2, &err), 0);
	buf_free(&out);
	buf_free(&err);
}

static const char good_config[] =
    "{\n"
    "  \"limits\": {\"max_inflight\": 64, \"pool_threads\": 4, \"max_connections\": 500,\n"
    "             \"max_pending_output_mb\": 16},\n"
    "  \"endpoints\": [\n"
    "    {\"path\": \"/api/dashboard/{user}\", \"timeout_ms\": 500, \"executor\": \"pool\",\n"
    "     \"query\": [\"lang\"],\n"
    "     \"backends\": [\n"
    "       {\"name\": \"recs\", \"url\": \"http://127.0.0.1:1/r?s={profile./segment}\"},\n"
    "       {\"name\": \"profile\", \"url\": \"http://127.0.0.1:1/p/{user}?l={query.lang}\",\n"
    "        \"timeout_ms\": 200, \"required\": false, \"success\": [200, 404],\n"
    "        \"headers\": [\"Accept-Language\"], \"max_body_bytes\": 4096,\n"
    "        \"keepalive\": false, \"echo_request_id\": \"X-Request-Id\"},\n"
    "       {\"name\": \"motd\", \"url\": \"http://127.0.0.1:1/motd\", \"encoding\": \"text\",\n"
    "        \"client\": \"curl\"}\n"
    "     ]},\n"
    "    {\"path\": \"/\", \"methods\": [\"GET\"], \"backends\": [\n"
    "       {\"name\": \"home\", \"url\": \"https://127.0.0.1:1/\"}]}\n"
    "  ]\n"
    "}\n";

static void
test_config_good(void)
{
	struct buf err = BUF_INIT;
	struct cfg *cfg = NULL;
	const struct cfg_endpoint *ep;
	const struct cfg_backend *recs, *profile;

	CU_ASSERT_EQUAL_FATAL(cfg_load_string(good_config, sizeof(good_config) - 1, "good.json",
	    &cfg, &err), 0);
	CU_ASSERT_EQUAL(cfg->max_inflight, 64);
	CU_ASSERT_EQUAL(cfg->max_connections, 500);
	CU_ASSERT_EQUAL(cfg->max_pending_output_mb, 16);
	CU_ASSERT_EQUAL(cfg->pool_threads, 4);
	CU_ASSERT_EQUAL_FATAL(cfg->nendpoints, 2);
	ep = &cfg->endpoints[0];
	CU_ASSERT_EQUAL(ep->nsegments, 3);
	CU_ASSERT_TRUE(ep->segments[2].is_param);
	CU_ASSERT_STRING_EQUAL(ep->segments[2].text, "user");
	CU_ASSERT_EQUAL(ep->methods, CFG_GET | CFG_HEAD);
	CU_ASSERT_EQUAL(ep->executor, CFG_POOL);
	CU_ASSERT_EQUAL(ep->timeout_ms, 500);
	recs = &ep->backends[0];
	profile = &ep->backends[1];
	CU_ASSERT_EQUAL(recs->timeout_ms, 500);	/* the endpoint's, by default */
	CU_ASSERT_TRUE(recs->required);
	CU_ASSERT_EQUAL(recs->max_body_bytes, 1024 * 1024);
	CU_ASSERT_EQUAL_FATAL(recs->ndeps, 1);
	CU_ASSERT_EQUAL(recs->deps[0], 1);
	CU_ASSERT(cfg_success(recs, 204) && cfg_success(recs, 200) && !cfg_success(recs, 404));
	CU_ASSERT(cfg_success(profile, 404) && !cfg_success(profile, 201));
	CU_ASSERT_FALSE(profile->required);
	CU_ASSERT_STRING_EQUAL(profile->header_params[0], "HTTP_ACCEPT_LANGUAGE");
	CU_ASSERT_EQUAL(ep->backends[2].encoding, CFG_TEXT);
	CU_ASSERT_TRUE(ep->backends[2].force_curl);
	CU_ASSERT_FALSE(recs->force_curl);		/* "auto", by default */
	CU_ASSERT_TRUE(recs->keepalive);
	CU_ASSERT_PTR_NULL(recs->echo_request_id);
	CU_ASSERT_FALSE(profile->keepalive);
	CU_ASSERT_STRING_EQUAL(profile->echo_request_id, "X-Request-Id");
	CU_ASSERT_STRING_EQUAL(desync_key(recs->origin), "http://127.0.0.1:1");
	CU_ASSERT_STRING_EQUAL(desync_key(cfg->endpoints[1].backends[0].origin),
	    "https://127.0.0.1:1");
	CU_ASSERT_EQUAL(cfg->endpoints[1].nsegments, 0);
	CU_ASSERT_EQUAL(cfg->endpoints[1].methods, CFG_GET);
	cfg_unref(cfg);
	buf_free(&err);
}

/* A limit the file leaves out stays unset, for fanout to apply its own default. */
static void
test_config_limits_unset(void)
{
	static const char *const texts[] = {
		"{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		"\"http://h/\"}]}]}",
		"{\"limits\": {}, \"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": "
		"\"a\", \"url\": \"http://h/\"}]}]}",
		"{\"limits\": {\"max_inflight\": 7}, \"endpoints\": [{\"path\": \"/a\", "
		"\"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
	};
	static const size_t want_inflight[] = { CFG_UNSET, CFG_UNSET, 7 };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct buf err = BUF_INIT;
		struct cfg *cfg = NULL;

		CU_ASSERT_EQUAL_FATAL(cfg_load_string(texts[i], strlen(texts[i]), "l.json", &cfg,
		    &err), 0);
		CU_ASSERT_EQUAL(cfg->max_inflight, want_inflight[i]);
		CU_ASSERT_EQUAL(cfg->pool_threads, CFG_UNSET);
		CU_ASSERT_EQUAL(cfg->max_connections, CFG_UNSET);
		CU_ASSERT_EQUAL(cfg->max_pending_output_mb, CFG_UNSET);
		cfg_unref(cfg);
		buf_free(&err);
	}
}

/* Review 8: the origin of a backend is what the URL's parser read (a port of leading zeros
 * loads, as curl takes it), and every spelling of one origin is one registry entry, for every
 * backend of every config: a stop seen through one is seen through all. */
static void
test_config_origins(void)
{
	static const char text[] =
	    "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [\n"
	    " {\"name\": \"a\", \"url\": \"http://H:000080/a\"},\n"
	    " {\"name\": \"b\", \"url\": \"http://u@h/b\"},\n"
	    " {\"name\": \"c\", \"url\": \"http://h:81/c\"}]}]}";
	struct buf err = BUF_INIT;
	struct cfg *one = NULL, *two = NULL;

	CU_ASSERT_EQUAL_FATAL(cfg_load_string(text, strlen(text), "o.json", &one, &err), 0);
	CU_ASSERT_EQUAL_FATAL(cfg_load_string(text, strlen(text), "o.json", &two, &err), 0);
	CU_ASSERT_STRING_EQUAL(desync_key(one->endpoints[0].backends[0].origin), "http://h:80");
	CU_ASSERT_PTR_EQUAL(one->endpoints[0].backends[0].origin,
	    one->endpoints[0].backends[1].origin);
	CU_ASSERT_PTR_EQUAL(one->endpoints[0].backends[0].origin,
	    two->endpoints[0].backends[1].origin);
	CU_ASSERT_PTR_NOT_EQUAL(one->endpoints[0].backends[0].origin,
	    one->endpoints[0].backends[2].origin);
	cfg_unref(one);
	cfg_unref(two);
	buf_free(&err);
}

/* A config of one backend with this URL (JSON-escaped), and the error it must give. */
#define URL_CASE(url, why) { "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": " \
	"\"a\", \"url\": \"" url "\"}]}]}", "c.json: endpoints[0].backends[0].url: " why }

/* Every bad config is refused with the JSON path and the reason. */
static void
test_config_errors(void)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "{\"endpoints\": [}", "c.json:1:16: " },
		{ "{\"endpoints\": [], \"x\": 1}", "c.json: x: unknown key" },
		{ "{\"endpoints\": []}", "c.json: endpoints: must not be empty" },
		{ "{}", "c.json: endpoints: missing" },
		{ "[]", "c.json: (top): the document must be an object" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/{usr}\"}]}]}",
		  "c.json: endpoints[0].backends[0].url: placeholder {usr} names no parameter" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/\", \"tiemout_ms\": 5}]}]}",
		  "c.json: endpoints[0].backends[0].tiemout_ms: unknown key" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/?q={query.q}\"}]}]}",
		  "c.json: endpoints[0].backends[0].url: placeholder {query.q}: \"q\" is not in" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		  "\"http://h/{b./x}\"}, {\"name\": \"b\", \"url\": \"http://h/{a./y}\"}]}]}",
		  "c.json: endpoints[0].backends: dependency cycle: a -> b -> a" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		  "\"http://h/\"}, {\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: endpoints[0].backends[1]: name \"a\" is used twice" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/\", \"client\": \"h2\"}]}]}",
		  "c.json: endpoints[0].backends[0].client: \"h2\" is not one of \"auto\", \"curl\"" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/\", \"client\": true}]}]}",
		  "c.json: endpoints[0].backends[0].client: must be a string" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/\", \"keepalive\": \"no\"}]}]}",
		  "c.json: endpoints[0].backends[0].keepalive: must be true or false" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/\", \"echo_request_id\": \"X Id\"}]}]}",
		  "c.json: endpoints[0].backends[0].echo_request_id: \"X Id\": must be a header name" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\", \"url\": "
		  "\"http://h/\", \"echo_request_id\": 1}]}]}",
		  "c.json: endpoints[0].backends[0].echo_request_id: must be a string" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"executor\": \"fibers\", \"backends\": "
		  "[{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: endpoints[0].executor: \"fibers\" is not one of" },
		{ "{\"endpoints\": [{\"path\": \"/a/{x}\", \"backends\": [{\"name\": \"a\", "
		  "\"url\": \"http://h/\"}]}, {\"path\": \"/a/{y}\", \"backends\": [{\"name\": "
		  "\"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: endpoints[1]: path /a/{y} overlaps endpoints[0]" },
		{ "{\"endpoints\": [{\"path\": \"/a/b{x}\", \"backends\": [{\"name\": \"a\", "
		  "\"url\": \"http://h/\"}]}]}",
		  "c.json: endpoints[0].path: \"/a/b{x}\": a {parameter} must be a whole segment" },
		{ "{\"endpoints\": [{\"path\": \"/a//b\", \"backends\": [{\"name\": \"a\", "
		  "\"url\": \"http://h/\"}]}]}", "c.json: endpoints[0].path: \"/a//b\": empty" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"timeout_ms\": 0, \"backends\": [{\"name\": "
		  "\"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: endpoints[0].timeout_ms: must be between 1 and 600000" },
		{ "{\"limits\": {\"max_connections\": 0}, \"endpoints\": [{\"path\": \"/a\", "
		  "\"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: limits.max_connections: must be between 1 and 1000000" },
		{ "{\"limits\": {\"max_pending_output_mb\": \"64\"}, \"endpoints\": [{\"path\": "
		  "\"/a\", \"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: limits.max_pending_output_mb: must be an integer" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		  "\"http://h/\", \"headers\": [\"Host\"]}]}]}",
		  "c.json: endpoints[0].backends[0].headers[0]: must be a header name" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		  "\"http://h/\", \"headers\": [\"X-A\", \"Accept\", \"x-a\"]}]}]}",
		  "c.json: endpoints[0].backends[0].headers[2]: \"x-a\" is \"X-A\" (headers[0]) again" },
		URL_CASE("http://h/a\\rb", "byte 0x0d at offset 10: no control character, space"),
		URL_CASE("http://h/a\\nb", "byte 0x0a at offset 10"),
		URL_CASE("http://h/a b", "byte 0x20 at offset 10"),
		URL_CASE("http://h/a\\tb", "byte 0x09 at offset 10"),
		URL_CASE("http://h/a\\u007fb", "byte 0x7f at offset 10"),
		URL_CASE("http://h/?q=\\u0001", "byte 0x01 at offset 12"),
		URL_CASE("http://a b/", "byte 0x20 at offset 8"),
		URL_CASE("http://h:0/", "port 0: must be from 1 to 65535"),
		URL_CASE("http://h:99999/", "port 99999: must be from 1 to 65535"),
		URL_CASE("http://h:8o/", "port \"8o\": must be a number from 1 to 65535"),
		URL_CASE("http://h:80:90/", "port \"80:90\": must be a number"),
		URL_CASE("http://[::1:18081/", "host \"[::1:18081\": the IPv6 address's '['"
		    " is never closed"),
		URL_CASE("http://[::g]/", "host \"[::g]\" is not an IPv6 address"),
		URL_CASE("http://[::1]x/", "host \"[::1]x\": 'x' after the IPv6 address"),
		URL_CASE("http://::1:80/", "no host"),
		URL_CASE("http://h_(1)/", "host \"h_(1)\": '(' is not allowed in a host name"),
		URL_CASE("http://h:{p}/", "a placeholder cannot stand in the host or port"),
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		  "\"http://h/\", \"success\": [200, 700]}]}]}",
		  "c.json: endpoints[0].backends[0].success[1]: must be an HTTP status" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"t\", \"url\": "
		  "\"http://h/\", \"encoding\": \"text\"}, {\"name\": \"u\", \"url\": "
		  "\"http://h/{t./x}\"}]}]}",
		  "c.json: endpoints[0].backends[1].url: placeholder {t./x}: backend t is text" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"a\", \"url\": "
		  "\"http://h/\"}]}], \"endpoints\": []}", "c.json:1:" },
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"query\", \"url\": "
		  "\"http://h/\"}]}]}", "c.json: endpoints[0].backends[0].name: \"query\"" },
		{ "{\"admin\": {\"metrics\": \"metrics\"}, \"endpoints\": [{\"path\": \"/a\", "
		  "\"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: admin.metrics: must start with '/'" },
		{ "{\"admin\": {\"health\": true}, \"endpoints\": [{\"path\": \"/a\", "
		  "\"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: admin.health: must be a path" },
		{ "{\"admin\": {\"health\": \"/a\"}, \"endpoints\": [{\"path\": \"/a\", "
		  "\"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: admin.health: /a is also the path of endpoints[0]" },
		{ "{\"admin\": {\"health\": \"/m\", \"metrics\": \"/m\"}, \"endpoints\": [{\"path\": "
		  "\"/a\", \"backends\": [{\"name\": \"a\", \"url\": \"http://h/\"}]}]}",
		  "c.json: admin: metrics and health have the same path /m" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		struct cfg *cfg = NULL;

		CU_ASSERT_EQUAL(cfg_load_string(cases[i].text, strlen(cases[i].text), "c.json", &cfg,
		    &err), -1);
		CU_ASSERT_PTR_NULL(cfg);
		if (strncmp(buf_str(&err), cases[i].message, strlen(cases[i].message)) != 0) {
			fprintf(stderr, "\n    case %zu: got \"%s\"\n    wanted \"%s...\"", i,
			    buf_str(&err), cases[i].message);
			CU_FAIL("config error message");
		}
		buf_free(&err);
	}
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "URL templates", test_template },
		{ "config: a full valid file", test_config_good },
		{ "config: limits not set are left to fanout", test_config_limits_unset },
		{ "config: one origin however written", test_config_origins },
		{ "config: errors name path and reason", test_config_errors },
		{ NULL, NULL },
	};

	return unit_run("config", NULL, NULL, tests);
}
