/* integ-faults-backends.c - the fault suite (t/integ-faults): broken backends and hostile or
 * malformed requests, each with its exact answer and nothing leaked. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "t/integ.h"
#include "t/integ-faults.h"
#include "t/unit.h"

static const char *
error_kind(const struct reply *r)
{
	json_t *e = json_array_get(json_object_get(r->json, "errors"), 0);

	return json_string_value(json_object_get(e, "kind"));
}

struct backend_fault {
	const char *path;	/* under each endpoint directory */
	long status;		/* fanout-cgi's answer */
	const char *kind;	/* errors[0].kind, NULL: no error */
	long backend_status;	/* errors[0].status, 0: none, -1: either (a timeout may come
				 * from curl's own limit, after the head, or from the deadline) */
};

/* Each broken backend gives its exact answer and leaves nothing behind. */
void
test_backend_faults(void)
{
	static const struct backend_fault faults[] = {
		{ "refused", 502, "connect", 0 },
		{ "unknown_host", 502, "connect", 0 },
		{ "timeout", 504, "timeout", -1 },
		{ "reset", 502, "body", 0 },
		{ "drip", 504, "timeout", -1 },
		{ "big_length", 502, "too_large", 200 },
		{ "big_chunked", 502, "too_large", 200 },
		{ "big_close", 502, "too_large", 200 },
		{ "invalid", 502, "invalid_json", 200 },
		{ "nonutf8", 502, "body", 200 },
		{ "status", 502, "status", 503 },
		{ "nocontent", 200, NULL, 0 },
		{ "redirect", 502, "status", 302 },
		{ "hang", 504, "timeout", -1 },	/* the head comes, the body never ends */
	};
	/* Blocking curl, and the multi executor (the lean client under the event server). */
	static const char *const dirs[] = { "/api/f/", "/api/fm/" };
	const size_t nfaults = sizeof(faults) / sizeof(faults[0]);

	for (size_t n = 0; n < 2 * 2 * nfaults; n++) {
		const struct backend_fault *f = &faults[n / 2 % nfaults];
		static int first;
		struct reply r;
		char path[64];

		snprintf(path, sizeof(path), "%s%s", dirs[n / 2 / nfaults], f->path);
		CU_ASSERT_FATAL(request(NULL, path, NULL, &r));
		if (r.status != f->status || (f->kind != NULL && (error_kind(&r) == NULL ||
		    strcmp(error_kind(&r), f->kind) != 0)))
			printf("\n    %s: %ld %s ", path, r.status, buf_str(&r.body));
		CU_ASSERT_EQUAL(r.status, f->status);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json, "status")), 0);
		if (f->kind != NULL) {
			json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);

			CU_ASSERT(error_kind(&r) != NULL && strcmp(error_kind(&r), f->kind) == 0);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "backend")), "x");
			if (f->backend_status >= 0)
				CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "status")),
				    f->backend_status);
			CU_ASSERT(json_is_null(json_object_get(json_object_get(r.json, "data"), "x")));
		} else {
			CU_ASSERT_PTR_NULL(json_object_get(r.json, "errors"));
			CU_ASSERT(json_is_null(json_object_get(json_object_get(r.json, "data"), "x")));
		}
		reply_free(&r);
		if (n % 2 == 0)
			first = settled_fds();
		else
			assert_no_growth(path, first);
	}
}

struct request_fault {
	const char *method;
	const char *path;
	long status;
	bool ours;		/* answered by fanout-cgi (a JSON error), not by nginx */
};

/* Hostile or malformed requests get a 4xx; nothing reaches a backend. */
void
test_request_faults(void)
{
	static char long_path[12000], long_query[12000], long_value[5000];
	const char *header_big[] = { NULL, NULL };
	static char big_header[40000];
	const struct request_fault faults[] = {
		{ NULL, long_path, 414, true },
		{ NULL, long_query, 414, true },
		{ NULL, "/api/p/a%0D%0Ab", 400, true },
		{ NULL, "/api/p/x?q=a%00b", 400, true },
		{ NULL, "/api/p/x?q=a%0Ab", 400, true },
		{ NULL, "/api/p/%2E%2E?q=1", 400, true },
		{ NULL, "/api/p/x?q=1&q=2", 400, true },
		{ NULL, "/api/p/x", 400, true },		/* q missing */
		{ "BREW", "/api/p/x?q=1", 405, true },
		{ "DELETE", "/api/p/x?q=1", 405, true },
		{ NULL, "/api/p/a%00b?q=1", 400, false },	/* nginx refuses %00 in a path */
		{ NULL, "/api/nothing", 404, true },
	};
	struct reply r;
	int first = 0;

	memset(long_path, 0, sizeof(long_path));
	snprintf(long_path, sizeof(long_path), "/api/p/");
	memset(long_path + 7, 'a', 10000);
	snprintf(long_query, sizeof(long_query), "/api/p/x?q=");
	memset(long_query + 11, 'b', 10000);
	snprintf(long_value, sizeof(long_value), "/api/p/x?q=");
	memset(long_value + 11, 'c', 4000);
	snprintf(big_header, sizeof(big_header), "X-Big: ");
	memset(big_header + 7, 'h', 36000);
	header_big[0] = big_header;
	for (int round = 0; round < 2; round++) {
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		CU_ASSERT_FATAL(request(faults[i].method, faults[i].path, NULL, &r));
		if (r.status != faults[i].status)
			printf("\n    %.60s: %ld ", faults[i].path, r.status);
		CU_ASSERT_EQUAL(r.status, faults[i].status);
		if (faults[i].ours)
			CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r.json,
			    "error"), "status")), faults[i].status);
		reply_free(&r);
	}
	/* A long value within the limits is passed on whole. */
	CU_ASSERT_FATAL(request(NULL, long_value, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	/* A header larger than nginx's buffers: nginx answers 400 and fanout-cgi sees nothing. */
	CU_ASSERT_FATAL(request(NULL, "/api/p/x?q=1", header_big, &r));
	CU_ASSERT_EQUAL(r.status, 400);
	reply_free(&r);
	if (round == 0)
		first = settled_fds();
	else
		assert_no_growth("hostile requests", first);
	}
}
