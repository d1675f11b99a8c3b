/* unit-desync.c - unit tests of the registry of backend origins out of step
 * (cgi/backend/desync.h), and of the origin keys (cgi/backend/origin.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/backend/desync.h"
#include "cgi/backend/origin.h"
#include "common/buf.h"
#include "t/unit.h"

/* The key of url's origin (origin_parse() and origin_key()), into key; false if refused. */
static bool
origin_of(const char *url, char *key, size_t size)
{
	struct origin_authority a;
	char *made;

	if (origin_parse(url, &a, NULL) != 0 || (made = origin_key(&a)) == NULL)
		return false;
	snprintf(key, size, "%s", made);
	free(made);
	return true;
}

/* An origin key is scheme, host and port, whatever else the URL says or however it writes
 * them: one parser (the config's) reads them. */
static void
test_origin(void)
{
	static const struct {
		const char *url, *key;
	} good[] = {
		{ "http://127.0.0.1:8081/u/{name}?x=1", "http://127.0.0.1:8081" },
		{ "http://Example.COM/x", "http://example.com:80" },
		{ "https://h", "https://h:443" },
		{ "https://h:/x", "https://h:443" },
		{ "http://user:pw@h:9/x", "http://h:9" },
		{ "http://[::1]:18081/x", "http://[::1]:18081" },
		{ "http://[::1]?q", "http://[::1]:80" },
		{ "http://h:000080/", "http://h:80" },	/* review 8: refused before */
		{ "http://h:0000000000000000000443/", "http://h:443" },
	};
	static const char *const bad[] = { "ftp://h/", "http://", "http://:80/", "http://h:0/",
		"http://h:99999/", "http://h:8a/", "http://[::1/", "http://[::1]x/", "h/x",
		"HTTP://h/" };
	char key[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CU_ASSERT_TRUE(origin_of(good[i].url, key, sizeof(key)));
		CU_ASSERT_STRING_EQUAL(key, good[i].key);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_FALSE(origin_of(bad[i], key, sizeof(key)));
}

/* A mark stops one origin, counts its signs, shows in the metrics, and a reload clears the stop
 * but not the counts. */
static void
test_marks(void)
{
	struct buf out = BUF_INIT;
	struct desync_origin *a = desync_register("http://a:1"), *b = desync_register("http://b:1");

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_EQUAL(desync_register("http://a:1"), a);	/* one entry per origin */
	CU_ASSERT_STRING_EQUAL(desync_key(a), "http://a:1");
	CU_ASSERT_FALSE(desync_stopped_at(a));
	CU_ASSERT_EQUAL(desync_stopped(), 0);
	desync_mark(a, DESYNC_PEEK, "test");
	desync_mark(a, DESYNC_PEEK, "test");
	desync_mark_key("http://a:1", DESYNC_ECHO, "test");
	CU_ASSERT_TRUE(desync_stopped_at(a));
	CU_ASSERT_FALSE(desync_stopped_at(b));
	CU_ASSERT_EQUAL(desync_stopped(), 1);
	CU_ASSERT_EQUAL(desync_render_metrics(&out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out),
	    "fanout_backend_desync_signs_total{origin=\"http://a:1\",sign=\"peek\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out),
	    "fanout_backend_desync_signs_total{origin=\"http://a:1\",sign=\"echo\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out),
	    "fanout_backend_origin_reuse_stopped{origin=\"http://a:1\"} 1\n"));
	CU_ASSERT_PTR_NULL(strstr(buf_str(&out), "reuse_stopped{origin=\"http://b:1\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "fanout_backend_reuse_stopped 1\n"));
	desync_reset();
	CU_ASSERT_FALSE(desync_stopped_at(a));
	CU_ASSERT_EQUAL(desync_stopped(), 0);
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(desync_render_metrics(&out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "sign=\"peek\"} 2\n"));
	CU_ASSERT_PTR_NULL(strstr(buf_str(&out), "fanout_backend_origin_reuse_stopped{"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "fanout_backend_reuse_stopped 0\n"));
	/* An origin no config named (a client's name for it) is registered by its mark. */
	desync_mark_key("http://c:1", DESYNC_IDLE, "test");
	CU_ASSERT_TRUE(desync_stopped_at(desync_register("http://c:1")));
	buf_free(&out);
	desync_free();
}

/* Review 11: however many origins were ever registered, a mark stops its own origin and no
 * other (the registry before had room for 1024, past which every origin stopped); entries never
 * move, so a pointer taken first still reads its own. */
static void
test_many(void)
{
	struct desync_origin *first = desync_register("http://h0:1"), *last = NULL;
	char key[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(first);
	for (int i = 1; i <= 3000; i++) {
		snprintf(key, sizeof(key), "http://h%d:1", i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(last = desync_register(key));
	}
	desync_mark(last, DESYNC_IDLE, "test");
	CU_ASSERT_TRUE(desync_stopped_at(last));
	CU_ASSERT_FALSE(desync_stopped_at(first));
	CU_ASSERT_EQUAL(desync_stopped(), 1);
	desync_mark(first, DESYNC_IDLE, "test");
	CU_ASSERT_TRUE(desync_stopped_at(desync_register("http://h0:1")));
	CU_ASSERT_EQUAL(desync_stopped(), 2);
	desync_reset();
	CU_ASSERT_FALSE(desync_stopped_at(first) || desync_stopped_at(last));
	CU_ASSERT_EQUAL(desync_stopped(), 0);
	desync_free();
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "origin keys", test_origin },
		{ "marks, counts, reset", test_marks },
		{ "many origins, each on its own", test_many },
		{ NULL, NULL },
	};

	return unit_run("backend origins out of step", NULL, NULL, tests);
}
