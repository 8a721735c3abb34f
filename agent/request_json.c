/* request_json: the JSON side of the request module: errors, field
 * readers, name and address rules (see request_internal.h). */
#include "agent/request.h"
#include "agent/request_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define FIELD_LEN 96 /* "topology.pools[63].backup_pool" and printable keys */

/* ---- errors ---- */

/* Fill err (when non-NULL) and return rc. The status follows rc. */
int request_fail(struct request_error *err, int rc, const char *code,
		 const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return rc;
	switch (rc) {
	case -EMSGSIZE:
		err->status = 413;
		break;
	case -ENOMEM:
		err->status = 500;
		break;
	default:
		err->status = 400;
		break;
	}
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

int request_fail_nomem(struct request_error *err)
{
	return request_fail(err, -ENOMEM, "internal", "out of memory");
}

/* Copy at most n bytes of src into dst (size dstlen) keeping printable
 * ASCII only; anything else becomes '?', a cut is marked with "...". */
static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < n && dstlen >= 4) {
		o = o > dstlen - 4 ? dstlen - 4 : o;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* Printable "where" + "key" as shown in messages. */
static void field_name(char *dst, size_t dstlen, const char *where,
		       const char *key)
{
	char k[FIELD_LEN];

	printable(k, sizeof(k), key, strlen(key));
	if (snprintf(dst, dstlen, "%.*s%s", (int)(dstlen / 2), where, k) < 0)
		dst[0] = '\0';
}

/* ---- values ---- */

bool request_name_ok(const char *s, size_t n)
{
	size_t i;

	/* hooks get pool and site names in their environment: a script
	 * passing one on would hand a command an option */
	if (n < 1 || n >= FSM_NAME_LEN || s[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* host:port; host is a name or IPv4 of [A-Za-z0-9._-] or a bracketed
 * IPv6 literal; port 1..65535 in decimal. */
bool request_address_ok(const char *s, size_t n)
{
	const char *colon;
	size_t hl, pl, i;
	unsigned long port = 0;

	if (n == 0 || n >= FSM_ADDR_LEN || memchr(s, '\0', n) != NULL)
		return false;
	colon = memrchr(s, ':', n);
	if (colon == NULL)
		return false;
	hl = (size_t)(colon - s);
	pl = n - hl - 1;
	if (pl < 1 || pl > 5)
		return false;
	for (i = 0; i < pl; i++) {
		char c = colon[1 + i];
		if (c < '0' || c > '9')
			return false;
		port = port * 10 + (unsigned long)(c - '0');
	}
	if (port < 1 || port > 65535)
		return false;
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		if (hl < 4) /* "[::]" at least */
			return false;
		for (i = 1; i + 1 < hl; i++) {
			char c = s[i];
			if (!((c >= '0' && c <= '9') ||
			      (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
				return false;
		}
		return true;
	}
	return request_name_ok(s, hl);
}

/* ---- JSON ---- */

/* Nesting depth of the text, strings skipped; malformed text is left to
 * the parser. True when deeper than REQUEST_MAX_DEPTH. */
static bool too_deep(const char *s, size_t n)
{
	bool in_str = false, esc = false;
	int depth = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > REQUEST_MAX_DEPTH)
				return true;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return false;
}

/* Parse a body into a JSON object (owned by the caller). */
int request_parse_body(const char *body, size_t len, json_t **root,
		       struct request_error *err)
{
	json_error_t je;
	char text[JSON_ERROR_TEXT_LENGTH];
	json_t *j;

	*root = NULL;
	if (len > REQUEST_MAX_BODY)
		return request_fail(err, -EMSGSIZE, "too_large",
				    "request body is larger than %d bytes",
				    REQUEST_MAX_BODY);
	if (body == NULL)
		body = "";
	if (too_deep(body, len))
		return request_fail(
		    err, -EINVAL, "bad_json",
		    "invalid json: nested deeper than %d levels",
		    REQUEST_MAX_DEPTH);
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return request_fail_nomem(err);
		printable(text, sizeof(text), je.text, strlen(je.text));
		return request_fail(
		    err, -EINVAL, "bad_json",
		    "invalid json at line %d column %d (byte %d): %s", je.line,
		    je.column, je.position, text);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return request_fail(err, -EINVAL, "bad_json",
				    "request body must be a json object");
	}
	*root = j;
	return 0;
}

/* Every key of obj must be one of `allowed` (NULL-terminated). */
int request_check_keys(const json_t *obj, const char *where,
		       const char *const *allowed, struct request_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		const char *const *a;
		char f[FIELD_LEN];

		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL) {
			field_name(f, sizeof(f), where, key);
			return request_fail(err, -EINVAL, "unknown_field",
					    "unknown field '%s'", f);
		}
	}
	return 0;
}

/* Look up key; NULL and 0 when absent and optional. */
int request_get_field(const json_t *obj, const char *where, const char *key,
		      bool required, json_t **v, struct request_error *err)
{
	*v = json_object_get(obj, key);
	if (*v == NULL && required)
		return request_fail(err, -EINVAL, "missing_field",
				    "missing field '%s%s'", where, key);
	return 0;
}

int request_bad_type(struct request_error *err, const char *where,
		     const char *key, const char *what)
{
	return request_fail(err, -EINVAL, "bad_type", "field '%s%s' must be %s",
			    where, key, what);
}

/* A name field into out (FSM_NAME_LEN bytes); "" when absent. */
int request_get_name(const json_t *obj, const char *where, const char *key,
		     bool required, char *out, struct request_error *err)
{
	json_t *v;
	int rc;

	out[0] = '\0';
	rc = request_get_field(obj, where, key, required, &v, err);
	if (rc != 0 || v == NULL)
		return rc;
	if (!json_is_string(v))
		return request_bad_type(err, where, key, "a string");
	if (!request_name_ok(json_string_value(v), json_string_length(v)))
		return request_fail(err, -EINVAL, "invalid",
				    "field '%s%s' must be 1-%d characters of "
				    "[A-Za-z0-9._-], not starting with '-'",
				    where, key, FSM_NAME_LEN - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* A string that must be one of `choices` into out (outlen bytes, larger
 * than every choice); "" when absent. */
int request_get_choice(const json_t *obj, const char *where, const char *key,
		       bool required, const char *const *choices, char *out,
		       size_t outlen, struct request_error *err)
{
	const char *const *c;
	char list[96] = "";
	size_t used = 0;
	json_t *v;
	int rc;

	out[0] = '\0';
	rc = request_get_field(obj, where, key, required, &v, err);
	if (rc != 0 || v == NULL)
		return rc;
	if (!json_is_string(v))
		return request_bad_type(err, where, key, "a string");
	for (c = choices; *c != NULL; c++) {
		if (strlen(*c) == json_string_length(v) &&
		    strcmp(*c, json_string_value(v)) == 0) {
			snprintf(out, outlen, "%s", *c);
			return 0;
		}
	}
	for (c = choices; *c != NULL && used < sizeof(list); c++) {
		const char *sep = c == choices	 ? ""
				  : c[1] == NULL ? " or "
						 : ", ";
		int n =
		    snprintf(list + used, sizeof(list) - used, "%s%s", sep, *c);
		used += n > 0 ? (size_t)n : 0;
	}
	return request_fail(err, -EINVAL, "invalid", "field '%s%s' must be %s",
			    where, key, list);
}

/* An integer in min..max; *present false (and *out untouched) when
 * absent and optional. */
int request_get_int(const json_t *obj, const char *where, const char *key,
		    bool required, json_int_t min, json_int_t max,
		    json_int_t *out, bool *present, struct request_error *err)
{
	json_int_t x;
	json_t *v;
	int rc;

	*present = false;
	rc = request_get_field(obj, where, key, required, &v, err);
	if (rc != 0 || v == NULL)
		return rc;
	if (!json_is_integer(v))
		return request_bad_type(err, where, key, "an integer");
	x = json_integer_value(v);
	if (x < min || x > max) {
		if (max == REQUEST_JINT_MAX)
			return request_fail(err, -EINVAL, "invalid",
					    "field '%s%s' must be at least "
					    "%" JSON_INTEGER_FORMAT,
					    where, key, min);
		return request_fail(
		    err, -EINVAL, "invalid",
		    "field '%s%s' must be between %" JSON_INTEGER_FORMAT
		    " and %" JSON_INTEGER_FORMAT,
		    where, key, min, max);
	}
	*out = x;
	*present = true;
	return 0;
}

/* An optional boolean; *out untouched when absent. */
int request_get_bool(const json_t *obj, const char *where, const char *key,
		     bool *out, struct request_error *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return request_bad_type(err, where, key, "a boolean");
	*out = json_is_true(v);
	return 0;
}
