/* json_check: a JSON value checked without building it (see
 * json_check.h). */
#include "agent/json_check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JC_DEPTH 64	 /* deeper: jansson decides */
#define JC_OBJ_KEYS 32	 /* keys of one object checked for duplicates */
#define JC_KEYS 512	 /* keys of the open objects */
#define JC_INT_DIGITS 18 /* within a json_int_t */

struct jc {
	const uint8_t *p, *end;
	int depth;
	size_t n_keys;
	struct {
		const uint8_t *s;
		size_t len;
	} keys[JC_KEYS];
};

static bool value(struct jc *j);

static void ws(struct jc *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' ||
				 *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

/* One UTF-8 sequence at j->p whose lead byte is >= 0x80: well formed, no
 * overlong form, no surrogate, at most U+10FFFF (as jansson checks). */
static bool utf8(struct jc *j)
{
	uint8_t c = *j->p;
	size_t n, i;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return false;
	}
	if ((size_t)(j->end - j->p) < n)
		return false;
	for (i = 1; i < n; i++) {
		if ((j->p[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (j->p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	j->p += n;
	return true;
}

/* A string at j->p (the opening quote); *escaped: it held a backslash. */
static bool string(struct jc *j, bool *escaped)
{
	j->p++;
	*escaped = false;
	while (j->p < j->end) {
		uint8_t c = *j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->end - j->p < 2 ||
			    strchr("\"\\/bfnrt", j->p[1]) == NULL ||
			    j->p[1] == '\0')
				return false; /* \u and bad escapes: jansson */
			*escaped = true;
			j->p += 2;
		} else if (c >= 0x80) {
			if (!utf8(j))
				return false;
		} else {
			j->p++;
		}
	}
	return false;
}

static size_t digits(struct jc *j)
{
	const uint8_t *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return (size_t)(j->p - s);
}

static bool number(struct jc *j)
{
	size_t n;

	if (*j->p == '-')
		j->p++;
	if (j->p == j->end)
		return false;
	if (*j->p == '0')
		j->p++, n = 1;
	else if ((n = digits(j)) == 0)
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (digits(j) == 0 || n > JC_INT_DIGITS)
			return false;
	} else if (n > JC_INT_DIGITS) {
		return false;
	}
	/* an exponent may overflow a double: jansson */
	return j->p == j->end || (*j->p != 'e' && *j->p != 'E');
}

static bool literal(struct jc *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool object(struct jc *j)
{
	size_t first = j->n_keys;

	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		const uint8_t *k;
		size_t klen, i;
		bool esc;

		if (j->p == j->end || *j->p != '"')
			return false;
		k = j->p + 1;
		if (!string(j, &esc) || esc)
			return false;
		klen = (size_t)(j->p - 1 - k);
		if (j->n_keys - first >= JC_OBJ_KEYS || j->n_keys >= JC_KEYS)
			return false;
		for (i = first; i < j->n_keys; i++)
			if (j->keys[i].len == klen &&
			    memcmp(j->keys[i].s, k, klen) == 0)
				return false;
		j->keys[j->n_keys].s = k;
		j->keys[j->n_keys].len = klen;
		j->n_keys++;
		ws(j);
		if (j->p == j->end || *j->p != ':')
			return false;
		j->p++;
		if (!value(j))
			return false;
		ws(j);
		if (j->p == j->end)
			return false;
		if (*j->p == '}') {
			j->p++;
			j->n_keys = first;
			return true;
		}
		if (*j->p != ',')
			return false;
		j->p++;
		ws(j);
	}
}

static bool array(struct jc *j)
{
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return true;
	}
	for (;;) {
		if (!value(j))
			return false;
		ws(j);
		if (j->p == j->end)
			return false;
		if (*j->p == ']') {
			j->p++;
			return true;
		}
		if (*j->p != ',')
			return false;
		j->p++;
	}
}

static bool value(struct jc *j)
{
	bool esc, ok;

	ws(j);
	if (j->p == j->end)
		return false;
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > JC_DEPTH)
			return false;
		ok = *j->p == '{' ? object(j) : array(j);
		j->depth--;
		return ok;
	case '"':
		return string(j, &esc);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	default:
		return number(j);
	}
}

bool json_check_fast(const void *buf, size_t len)
{
	struct jc j;

	if (buf == NULL)
		return false;
	j.p = buf;
	j.end = j.p + len;
	j.depth = 0;
	j.n_keys = 0;
	if (!value(&j))
		return false;
	ws(&j);
	return j.p == j.end;
}

int json_check(const void *buf, size_t len, char *msg, size_t msg_len)
{
	json_error_t jerr;
	json_t *v;

	if (msg_len > 0)
		msg[0] = '\0';
	if (json_check_fast(buf, len))
		return 0;
	v = json_loadb(buf != NULL ? buf : "", buf != NULL ? len : 0,
		       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (v != NULL) {
		json_decref(v);
		return 0;
	}
	snprintf(msg, msg_len, "%s (line %d)", jerr.text, jerr.line);
	return -1;
}
