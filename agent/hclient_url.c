/* hclient: checks of request arguments, and hclient_parse_url(). */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "agent/hclient_internal.h"

static bool hclient__is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool hclient__is_tchar(char c)
{
	return hclient__is_alnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool hclient__valid_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!hclient__is_tchar(s[i])) {
			return false;
		}
	}
	return true;
}

/* Visible ASCII only: no space, control, DEL or non-ASCII byte. */
static bool hclient__visible(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f) {
			return false;
		}
	}
	return true;
}

bool hclient__valid_target(const char *s, size_t n)
{
	return n > 0 && s[0] == '/' && hclient__visible(s, n);
}

bool hclient__valid_extra(const char *s, bool *has_type)
{
	static const char *const reserved[] = {
	    "host", "content-length", "connection", "transfer-encoding"};
	const char *line = s;
	const char *eol;
	const char *colon;
	size_t name_len;
	size_t i;

	*has_type = false;
	if (s == NULL) {
		return true;
	}
	while (*line != '\0') {
		eol = strstr(line, "\r\n");
		if (eol == NULL) {
			return false;
		}
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL) {
			return false;
		}
		name_len = (size_t)(colon - line);
		if (!hclient__valid_token(line, name_len)) {
			return false;
		}
		for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
			if (strlen(reserved[i]) == name_len &&
			    strncasecmp(line, reserved[i], name_len) == 0) {
				return false;
			}
		}
		if (name_len == 12 &&
		    strncasecmp(line, "content-type", name_len) == 0) {
			*has_type = true;
		}
		for (colon++; colon < eol; colon++) {
			unsigned char c = (unsigned char)*colon;
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				return false;
			}
		}
		line = eol + 2;
	}
	return true;
}

int hclient__host(const char *host, char *name, enum hclient_host_kind *kind)
{
	struct sockaddr_in6 in6;
	struct sockaddr_in in;
	size_t len = strlen(host);
	size_t i;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
		if (memchr(host, ':', len) == NULL) {
			return UV_EINVAL;
		}
	}
	if (len == 0 || len >= HCLIENT_HOST_MAX) {
		return UV_EINVAL;
	}
	memcpy(name, host, len);
	name[len] = '\0';

	if (strchr(name, ':') != NULL) {
		for (i = 0; i < len; i++) {
			if (name[i] == '%') {
				break; /* zone id: checked by uv_ip6_addr */
			}
			if (!hclient__is_alnum(name[i]) && name[i] != ':' &&
			    name[i] != '.') {
				return UV_EINVAL;
			}
		}
		*kind = HCLIENT_HOST_V6;
		return uv_ip6_addr(name, 0, &in6) == 0 ? 0 : UV_EINVAL;
	}
	if (uv_ip4_addr(name, 0, &in) == 0) {
		*kind = HCLIENT_HOST_V4;
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (!hclient__is_alnum(name[i]) && name[i] != '.' &&
		    name[i] != '-' && name[i] != '_') {
			return UV_EINVAL;
		}
	}
	*kind = HCLIENT_HOST_NAME;
	return 0;
}

/* Scheme per RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static bool hclient__valid_scheme(const char *s, size_t n)
{
	size_t i;

	if (n == 0 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
		return false;
	}
	for (i = 1; i < n; i++) {
		if (!hclient__is_alnum(s[i]) && s[i] != '+' && s[i] != '-' &&
		    s[i] != '.') {
			return false;
		}
	}
	return true;
}

int hclient_parse_url(const char *url, char *host, size_t hostlen,
		      uint16_t *port, char *path, size_t pathlen)
{
	struct http_parser_url u;
	enum hclient_host_kind kind;
	char name[HCLIENT_HOST_MAX];
	char plain[HCLIENT_HOST_MAX];
	const char *sep;
	size_t h_off;
	size_t h_len;
	size_t t_off;
	size_t t_end;
	bool bracketed;
	bool slash;
	uint16_t port_num;
	int rv;

	if (url == NULL || host == NULL || port == NULL) {
		return UV_EINVAL;
	}
	sep = strstr(url, "://");
	if (sep == NULL || !hclient__valid_scheme(url, (size_t)(sep - url))) {
		return UV_EINVAL;
	}
	if (sep - url == 4 && strncasecmp(url, "http", 4) == 0) {
		port_num = 80;
	} else if (sep - url == 5 && strncasecmp(url, "https", 5) == 0) {
		port_num = 443;
	} else {
		return UV_EPROTONOSUPPORT;
	}

	http_parser_url_init(&u);
	if (http_parser_parse_url(url, strlen(url), 0, &u) != 0) {
		return UV_EINVAL;
	}
	if ((u.field_set & (1 << UF_USERINFO)) != 0 ||
	    (u.field_set & (1 << UF_HOST)) == 0) {
		return UV_EINVAL;
	}
	h_off = u.field_data[UF_HOST].off;
	h_len = u.field_data[UF_HOST].len;
	if (h_len == 0 || h_len >= sizeof name) {
		return UV_EINVAL;
	}
	bracketed = h_off > 0 && url[h_off - 1] == '[';
	memcpy(name, url + h_off, h_len);
	name[h_len] = '\0';
	if ((u.field_set & (1 << UF_PORT)) != 0) {
		if (u.field_data[UF_PORT].len == 0 || u.port == 0) {
			return UV_EINVAL;
		}
		port_num = u.port;
	}
	rv = hclient__host(name, plain, &kind);
	if (rv != 0 || (kind == HCLIENT_HOST_V6) != bracketed) {
		return UV_EINVAL;
	}

	/* Target: path and query, without the fragment; "/" if no path. */
	slash = (u.field_set & (1 << UF_PATH)) == 0;
	if (!slash) {
		t_off = u.field_data[UF_PATH].off;
		t_end = t_off + u.field_data[UF_PATH].len;
	} else if ((u.field_set & (1 << UF_QUERY)) != 0) {
		t_off = u.field_data[UF_QUERY].off - 1U; /* the '?' */
		t_end = t_off;
	} else {
		t_off = t_end = 0;
	}
	if ((u.field_set & (1 << UF_QUERY)) != 0) {
		t_end = (size_t)u.field_data[UF_QUERY].off +
			u.field_data[UF_QUERY].len;
	}
	if (!hclient__visible(url + t_off, t_end - t_off)) {
		return UV_EINVAL;
	}
	if (h_len + 1 > hostlen ||
	    (path != NULL && (slash ? 1 : 0) + t_end - t_off + 1 > pathlen)) {
		return UV_ENOBUFS;
	}
	memcpy(host, name, h_len + 1);
	if (path != NULL) {
		if (slash) {
			*path++ = '/';
		}
		memcpy(path, url + t_off, t_end - t_off);
		path[t_end - t_off] = '\0';
	}
	*port = port_num;
	return 0;
}
