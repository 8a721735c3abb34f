/* http_util: percent-decoding, query parameters, header lookup and JSON
 * string quoting for the http module. */
#include "agent/http_util.h"
#include "agent/http.h"

#include <string.h>
#include <strings.h>

#include <uv.h>

/* ---- percent-decoding ---- */

static int hex_value(int ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* Decodes the character at in[*i] (a %XX escape, or '+' as a space when
 * @plus), advances *i. Returns the byte 1..255, or -1 when the escape is
 * malformed or decodes to NUL. */
static int pct_next(const char *in, size_t len, size_t *i, int plus)
{
	int ch = (unsigned char)in[*i];

	if (ch == '%') {
		int hi, lo;

		if (len - *i < 3) {
			return -1;
		}
		hi = hex_value((unsigned char)in[*i + 1]);
		lo = hex_value((unsigned char)in[*i + 2]);
		if (hi < 0 || lo < 0) {
			return -1;
		}
		ch = hi * 16 + lo;
		*i += 3;
	} else {
		if (plus && ch == '+') {
			ch = ' ';
		}
		*i += 1;
	}
	return ch == 0 ? -1 : ch;
}

/* Decodes in[0..len) into @out (@outcap bytes), NUL-terminated. Returns 0,
 * UV_EINVAL (malformed or NUL) or UV_ENOBUFS. */
int http_util_pct_decode(const char *in, size_t len, int plus, char *out,
			 size_t outcap)
{
	size_t i = 0, n = 0;

	while (i < len) {
		int ch = pct_next(in, len, &i, plus);

		if (ch < 0) {
			return UV_EINVAL;
		}
		if (n + 1 < outcap) {
			out[n] = (char)ch;
		}
		n++;
	}
	if (outcap > 0) {
		out[n < outcap ? n : 0] = '\0';
	}
	return n < outcap ? 0 : UV_ENOBUFS;
}

int http_util_has_control(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			return 1;
		}
	}
	return 0;
}

int http_util_path_decode(const char *raw, size_t len, char *out,
			  size_t outcap)
{
	int rv = http_util_pct_decode(raw, len, 0, out, outcap);

	if (rv != 0) {
		return rv;
	}
	if (http_util_has_control(raw, len) ||
	    http_util_has_control(out, strlen(out))) {
		if (outcap > 0) {
			out[0] = '\0';
		}
		return UV_EILSEQ;
	}
	return 0;
}

/* Whether in[0..len), percent-decoded with '+' as space, equals @name. */
static int pct_equal(const char *in, size_t len, const char *name)
{
	size_t i = 0, k = 0;

	while (i < len) {
		int ch = pct_next(in, len, &i, 1);

		if (ch < 0 || name[k] == '\0' || (unsigned char)name[k] != ch) {
			return 0;
		}
		k++;
	}
	return name[k] == '\0';
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at @p (a byte >= 0x80), 0 if none. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0) {
			lo = 0xa0; /* overlong */
		} else if (p[0] == 0xed) {
			hi = 0x9f; /* surrogates */
		}
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0) {
			lo = 0x90; /* overlong */
		} else if (p[0] == 0xf4) {
			hi = 0x8f; /* above U+10FFFF */
		}
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			return 0;
		}
	}
	return n;
}

static void quote_put(char *out, size_t outlen, size_t *n, const char *s,
		      size_t len)
{
	size_t i;

	for (i = 0; i < len; i++, (*n)++) {
		if (*n + 1 < outlen) {
			out[*n] = s[i];
		}
	}
}

size_t http_json_quote(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(in ? in : "");
	size_t n = 0;

	quote_put(out, outlen, &n, "\"", 1);
	while (*p != '\0') {
		char esc[7];
		size_t k;

		switch (*p) {
		case '"':
			quote_put(out, outlen, &n, "\\\"", 2);
			break;
		case '\\':
			quote_put(out, outlen, &n, "\\\\", 2);
			break;
		case '\n':
			quote_put(out, outlen, &n, "\\n", 2);
			break;
		case '\r':
			quote_put(out, outlen, &n, "\\r", 2);
			break;
		case '\t':
			quote_put(out, outlen, &n, "\\t", 2);
			break;
		case '\b':
			quote_put(out, outlen, &n, "\\b", 2);
			break;
		case '\f':
			quote_put(out, outlen, &n, "\\f", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 0xf];
				quote_put(out, outlen, &n, esc, 6);
			} else if (*p < 0x80) {
				quote_put(out, outlen, &n, (const char *)p, 1);
			} else if ((k = utf8_len(p)) == 0) {
				quote_put(out, outlen, &n, "\\ufffd", 6);
			} else {
				quote_put(out, outlen, &n, (const char *)p, k);
				p += k - 1;
			}
			break;
		}
		p++;
	}
	quote_put(out, outlen, &n, "\"", 1);
	if (outlen > 0) {
		out[n < outlen ? n : outlen - 1] = '\0';
	}
	return n;
}

/* ---- request accessors ---- */

const char *http_request_header(const struct http_request *req,
				const char *name)
{
	size_t i;

	if (req == NULL || name == NULL) {
		return NULL;
	}
	for (i = 0; i < req->n_headers; i++) {
		if (req->headers[i].name != NULL &&
		    strcasecmp(req->headers[i].name, name) == 0) {
			return req->headers[i].value;
		}
	}
	return NULL;
}

int http_query_param(const struct http_request *req, const char *name,
		     char *out, size_t outlen)
{
	const char *q;

	if (req == NULL || name == NULL || (out == NULL && outlen > 0)) {
		return UV_EINVAL;
	}
	q = req->query;
	while (*q != '\0') {
		const char *amp = strchr(q, '&');
		size_t seg = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', seg);
		size_t name_len = eq ? (size_t)(eq - q) : seg;

		if (pct_equal(q, name_len, name)) {
			const char *v = eq ? eq + 1 : q + seg;
			size_t vlen = (size_t)(q + seg - v);

			return http_util_pct_decode(v, vlen, 1, out, outlen);
		}
		q += seg;
		if (*q == '&') {
			q++;
		}
	}
	return UV_ENOENT;
}
