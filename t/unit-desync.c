/* unit-desync.c - unit tests of the registry of backend origins out of step (cgi/backend/desync.h). */
#include <string.h>

#include "cgi/backend/desync.h"
#include "common/buf.h"
#include "t/unit.h"

/* An origin key is scheme, host and port, whatever else the URL says. */
static void
test_origin(void)
{
	static const struct {
		const char *url, *key;
	} good[] = {
		{ "http://127.0.0.1:8081/u/{name}?x=1", "http://127.0.0.1:8081" },
		{ "HTTP://Example.COM/x", "http://example.com:80" },
		{ "https://h", "https://h:443" },
		{ "https://h:/x", "https://h:443" },
		{ "http://user:pw@h:9/x", "http://h:9" },
		{ "http://[::1]:18081/x", "http://[::1]:18081" },
		{ "http://[::1]?q", "http://[::1]:80" },
	};
	static const char *const bad[] = { "ftp://h/", "http://", "http://:80/", "http://h:0/",
		"http://h:99999/", "http://h:8a/", "http://[::1/", "http://[::1]x/", "h/x" };
	char key[DESYNC_ORIGIN_MAX], small[12];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CU_ASSERT_EQUAL(desync_origin(good[i].url, key, sizeof(key)), 0);
		CU_ASSERT_STRING_EQUAL(key, good[i].key);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(desync_origin(bad[i], key, sizeof(key)), -1);
	CU_ASSERT_EQUAL(desync_origin("http://longer-host/", small, sizeof(small)), -1);
}

/* A mark stops one origin, counts its signs, shows in the metrics and the health list, and a
 * reload clears the stop but not the counts. */
static void
test_marks(void)
{
	struct buf out = BUF_INIT;

	CU_ASSERT_FALSE(desync_marked("http://a:1"));
	CU_ASSERT_EQUAL(desync_stopped(), 0);
	desync_mark("http://a:1", DESYNC_PEEK, "test");
	desync_mark("http://a:1", DESYNC_PEEK, "test");
	desync_mark("http://a:1", DESYNC_ECHO, "test");
	CU_ASSERT_TRUE(desync_marked("http://a:1"));
	CU_ASSERT_FALSE(desync_marked("http://b:1"));
	CU_ASSERT_EQUAL(desync_stopped(), 1);
	CU_ASSERT_EQUAL(desync_render_json(&out), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&out), "[\"http://a:1\"]");
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(desync_render_metrics(&out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out),
	    "fanout_backend_desync_signs_total{origin=\"http://a:1\",sign=\"peek\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out),
	    "fanout_backend_desync_signs_total{origin=\"http://a:1\",sign=\"echo\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "fanout_backend_reuse_stopped 1\n"));
	desync_reset();
	CU_ASSERT_FALSE(desync_marked("http://a:1"));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(desync_render_json(&out), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&out), "[]");
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(desync_render_metrics(&out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "sign=\"peek\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "fanout_backend_reuse_stopped 0\n"));
	buf_free(&out);
	desync_free();
}

/* Past DESYNC_ORIGINS_MAX origins a mark is not lost: every origin stops. */
static void
test_overflow(void)
{
	char key[64];

	for (int i = 0; i <= DESYNC_ORIGINS_MAX; i++) {
		snprintf(key, sizeof(key), "http://h%d:1", i);
		desync_mark(key, DESYNC_IDLE, "test");
	}
	CU_ASSERT_TRUE(desync_marked("http://never-seen:1"));
	desync_reset();
	CU_ASSERT_FALSE(desync_marked("http://never-seen:1"));
	CU_ASSERT_FALSE(desync_marked("http://h0:1"));
	desync_free();
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "origin keys", test_origin },
		{ "marks, counts, reset", test_marks },
		{ "more origins than the registry holds", test_overflow },
		{ NULL, NULL },
	};

	return unit_run("backend origins out of step", NULL, NULL, tests);
}
