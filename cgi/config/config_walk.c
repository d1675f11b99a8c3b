/* config_walk.c - the config loader's walk over the JSON document: typed reads that name the path
 * of what is wrong ("endpoints[2].backends[0].url"). */
#include "cgi/config/config_parse.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int
walk_fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed++)
		return -1;
	(void)buf_printf(w->err, "%s: %s: ", w->file, w->path.len ? buf_str(&w->path) : "(top)");
	va_start(ap, fmt);
	(void)buf_vprintf(w->err, fmt, ap);
	va_end(ap);
	return -1;
}

size_t
walk_enter_key(struct walk *w, const char *key)
{
	size_t mark = w->path.len;

	(void)buf_printf(&w->path, mark ? ".%s" : "%s", key);
	return mark;
}

size_t
walk_enter_item(struct walk *w, const char *key, size_t i)
{
	size_t mark = walk_enter_key(w, key);

	(void)buf_printf(&w->path, "[%zu]", i);
	return mark;
}

void
walk_leave(struct walk *w, size_t mark)
{
	buf_truncate(&w->path, mark);
}

int
walk_keys(struct walk *w, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i, mark;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			mark = walk_enter_key(w, key);
			walk_fail(w, "unknown key");
			walk_leave(w, mark);
			return -1;
		}
	}
	return 0;
}

int
walk_string(struct walk *w, json_t *obj, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = walk_enter_key(w, key);
	int rc = 0;

	*out = NULL;
	if (v == NULL && required)
		rc = walk_fail(w, "missing (a string is required)");
	else if (v != NULL && !json_is_string(v))
		rc = walk_fail(w, "must be a string");
	else if (v != NULL && strlen(json_string_value(v)) != json_string_length(v))
		rc = walk_fail(w, "must not contain NUL");
	else if (v != NULL)
		*out = json_string_value(v);
	walk_leave(w, mark);
	return rc;
}

int
walk_int(struct walk *w, json_t *obj, const char *key, long min, long max, long dflt, long *out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = walk_enter_key(w, key);
	int rc = 0;

	*out = dflt;
	if (v != NULL && !json_is_integer(v))
		rc = walk_fail(w, "must be an integer");
	else if (v != NULL && (json_integer_value(v) < min || json_integer_value(v) > max))
		rc = walk_fail(w, "must be between %ld and %ld", min, max);
	else if (v != NULL)
		*out = (long)json_integer_value(v);
	walk_leave(w, mark);
	return rc;
}

int
walk_bool(struct walk *w, json_t *obj, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = walk_enter_key(w, key);
	int rc = 0;

	*out = dflt;
	if (v != NULL && !json_is_boolean(v))
		rc = walk_fail(w, "must be true or false");
	else if (v != NULL)
		*out = json_is_true(v);
	walk_leave(w, mark);
	return rc;
}

int
walk_array(struct walk *w, json_t *obj, const char *key, bool required, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = walk_enter_key(w, key);
	int rc = 0;

	*out = v;
	if (v == NULL && required)
		rc = walk_fail(w, "missing (an array is required)");
	else if (v != NULL && !json_is_array(v))
		rc = walk_fail(w, "must be an array");
	else if (v != NULL && json_array_size(v) == 0)
		rc = walk_fail(w, "must not be empty");
	walk_leave(w, mark);
	return rc;
}

int
walk_choice(struct walk *w, json_t *obj, const char *key, const char *const *names, int dflt,
    int *out)
{
	const char *s;

	*out = dflt;
	if (walk_string(w, obj, key, false, &s) != 0 || s == NULL)
		return w->failed ? -1 : 0;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	{
		size_t mark = walk_enter_key(w, key);
		struct buf all = BUF_INIT;

		for (int i = 0; names[i] != NULL; i++)
			(void)buf_printf(&all, "%s\"%s\"", i ? ", " : "", names[i]);
		walk_fail(w, "\"%s\" is not one of %s", s, buf_str(&all));
		buf_free(&all);
		walk_leave(w, mark);
	}
	return -1;
}

int
walk_names(struct walk *w, json_t *obj, const char *key, bool (*valid)(const char *, size_t),
    const char *what, char ***out, size_t *n)
{
	json_t *arr, *v;
	size_t i;

	if (walk_array(w, obj, key, false, &arr) != 0 || arr == NULL)
		return w->failed ? -1 : 0;
	if ((*out = calloc(json_array_size(arr), sizeof(**out))) == NULL)
		return walk_fail(w, "out of memory");
	json_array_foreach(arr, i, v) {
		size_t mark = walk_enter_item(w, key, i);

		if (!json_is_string(v) || !valid(json_string_value(v), json_string_length(v)))
			walk_fail(w, "must be %s", what);
		for (size_t j = 0; !w->failed && j < *n; j++)
			if (strcmp((*out)[j], json_string_value(v)) == 0)
				walk_fail(w, "\"%s\" is listed twice", (*out)[j]);
		if (!w->failed && ((*out)[*n] = strdup(json_string_value(v))) == NULL)
			walk_fail(w, "out of memory");
		walk_leave(w, mark);
		if (w->failed)
			return -1;
		(*n)++;
	}
	return 0;
}
