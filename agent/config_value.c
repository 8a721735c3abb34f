/* config_value: the value parsers (duration, host:port) and the typed
 * setters that turn one key's text into its struct config field. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/config.h"
#include "agent/config_internal.h"
#include "agent/log.h"

/* ---- value parsers ------------------------------------------------ */

static bool is_alnum(char ch)
{
	return config_is_digit(ch) || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z');
}

int config_number_start(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return CONFIG_E_EMPTY;
	if (s[0] == '-' && config_is_digit(s[1]))
		return CONFIG_E_NEGATIVE;
	return config_is_digit(s[0]) ? 0 : CONFIG_E_INVALID;
}

/* Unsigned decimal in 0..max: digits only. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool over = false;
	const char *p;

	if (s == NULL || s[0] == '\0')
		return CONFIG_E_EMPTY;
	if (s[0] == '-' && config_is_digit(s[1]))
		return CONFIG_E_NEGATIVE;
	for (p = s; *p != '\0'; p++) {
		if (!config_is_digit(*p))
			return CONFIG_E_INVALID;
		if (!over) {
			unsigned d = (unsigned)(*p - '0');
			if (v > (UINT64_MAX - d) / 10)
				over = true;
			else
				v = v * 10 + d;
		}
	}
	if (over || v > max)
		return CONFIG_E_RANGE;
	*out = v;
	return 0;
}

int config_parse_duration(const char *s, uint32_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
	    {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	uint64_t whole = 0, frac = 0, frac_scale = 1, unit = 0, total;
	bool big = false, has_frac = false;
	const char *p = s;
	size_t i;
	int rv;

	rv = config_number_start(s);
	if (rv != 0)
		return rv;
	for (; config_is_digit(*p); p++) {
		if (!big) {
			whole = whole * 10 + (uint64_t)(*p - '0');
			if (whole > UINT32_MAX)
				big = true;
		}
	}
	if (*p == '.') {
		has_frac = true;
		p++;
		if (!config_is_digit(*p))
			return CONFIG_E_INVALID;
		for (; config_is_digit(*p); p++) {
			if (frac_scale >= 1000000000)
				return CONFIG_E_INVALID; /* finer than 1 ns */
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_scale *= 10;
		}
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(p, units[i].suffix) == 0) {
			unit = units[i].ms;
			break;
		}
	}
	if (unit == 0)
		return CONFIG_E_INVALID;
	if (has_frac && p[0] == '\0')
		return CONFIG_E_INVALID; /* "1.5" would be sub-millisecond */
	if (big)
		return CONFIG_E_OVERFLOW;
	/* frac < 10^9 and unit <= 3.6e6: no overflow in 64 bits. */
	if ((frac * unit) % frac_scale != 0)
		return CONFIG_E_INVALID;
	total = whole * unit + frac * unit / frac_scale;
	if (total > UINT32_MAX)
		return CONFIG_E_OVERFLOW;
	*ms = (uint32_t)total;
	return 0;
}

/* A host name (RFC 1123 labels) or, when it is all digits and dots, an
 * IPv4 literal. */
static int check_host(const char *h, size_t len)
{
	char buf[CONFIG_HOST_LEN];
	struct in_addr a4;
	bool numeric = true;
	size_t i, label = 0;

	if (len == 0)
		return CONFIG_E_BAD_HOST;
	if (len >= sizeof buf)
		return CONFIG_E_TOO_LONG;
	for (i = 0; i < len; i++)
		if (!config_is_digit(h[i]) && h[i] != '.')
			numeric = false;
	if (numeric) {
		memcpy(buf, h, len);
		buf[len] = '\0';
		return inet_pton(AF_INET, buf, &a4) == 1 ? 0
							 : CONFIG_E_BAD_HOST;
	}
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return CONFIG_E_BAD_HOST;
			label = 0;
			continue;
		}
		if (!is_alnum(h[i]) && h[i] != '-')
			return CONFIG_E_BAD_HOST;
		if (h[i] == '-' && label == 0)
			return CONFIG_E_BAD_HOST;
		if (++label > 63)
			return CONFIG_E_BAD_HOST;
	}
	if (label == 0 || h[len - 1] == '-')
		return CONFIG_E_BAD_HOST;
	return 0;
}

/* Port: digits only, 1..65535. */
static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	int rv;

	if (s[0] == '\0')
		return CONFIG_E_NO_PORT;
	rv = parse_uint(s, 65535, &v);
	if (rv == CONFIG_E_INVALID || rv == CONFIG_E_NEGATIVE)
		return CONFIG_E_BAD_PORT;
	if (rv != 0 || v == 0)
		return CONFIG_E_RANGE;
	*port = (uint16_t)v;
	return 0;
}

int config_parse_hostport(const char *s, char *host, size_t hostlen,
			  uint16_t *port)
{
	const char *h, *colon;
	size_t hlen;
	uint16_t p;
	int rv;

	if (s == NULL || s[0] == '\0')
		return CONFIG_E_EMPTY;
	if (s[0] == '[') {
		char buf[CONFIG_HOST_LEN];
		struct in6_addr a6;
		const char *close = strchr(s, ']');

		if (close == NULL)
			return CONFIG_E_BAD_HOST;
		h = s + 1;
		hlen = (size_t)(close - h);
		if (hlen == 0)
			return CONFIG_E_BAD_HOST;
		if (hlen >= sizeof buf)
			return CONFIG_E_TOO_LONG;
		memcpy(buf, h, hlen);
		buf[hlen] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return CONFIG_E_BAD_HOST;
		if (close[1] == '\0')
			return CONFIG_E_NO_PORT;
		if (close[1] != ':')
			return CONFIG_E_BAD_HOST;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return check_host(s, strlen(s)) == 0
				   ? CONFIG_E_NO_PORT
				   : CONFIG_E_BAD_HOST;
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(h, ':', hlen) != NULL)
			return CONFIG_E_BAD_HOST; /* IPv6 needs brackets */
		rv = check_host(h, hlen);
		if (rv != 0)
			return rv;
	}
	rv = parse_port(colon + 1, &p);
	if (rv != 0)
		return rv;
	if (hlen >= hostlen)
		return CONFIG_E_TOO_LONG;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = p;
	return 0;
}

/* ---- typed setters ------------------------------------------------ */

static void *field(struct parse *p, const struct key_def *k)
{
	return (char *)p->c + k->offset;
}

/* "bad [sec] key 'value': why" at the current line. */
static void fail_value(struct parse *p, int code, const struct key_def *k,
		       const char *value, const char *why)
{
	config_fail(p, code, p->lineno, "bad [%s] %s %s: %s",
		    config_section_names[k->section], k->name,
		    config_quote(value).s, why);
}

static void fail_too_long(struct parse *p, const struct key_def *k, size_t max)
{
	config_fail(p, CONFIG_E_TOO_LONG, p->lineno,
		    "bad [%s] %s: longer than %zu characters",
		    config_section_names[k->section], k->name, max);
}

static int set_string(struct parse *p, const struct key_def *k,
		      const char *value)
{
	size_t len = strlen(value);

	if (len >= k->size) {
		fail_too_long(p, k, k->size - 1);
		return CONFIG_E_TOO_LONG;
	}
	memcpy(field(p, k), value, len + 1);
	return 0;
}

static int set_name(struct parse *p, const struct key_def *k, const char *value)
{
	const char *s;

	if (strlen(value) >= k->size) {
		fail_too_long(p, k, k->size - 1);
		return CONFIG_E_TOO_LONG;
	}
	if (value[0] == '-') {
		/* hooks get it in $POOLPAIR_POOL etc.: a script passing it on
		 * would hand a command an option */
		fail_value(p, CONFIG_E_INVALID, k, value,
			   "a name cannot start with '-'");
		return CONFIG_E_INVALID;
	}
	for (s = value; *s != '\0'; s++) {
		if (!is_alnum(*s) && *s != '.' && *s != '_' && *s != '-') {
			fail_value(p, CONFIG_E_INVALID, k, value,
				   "only letters, digits, '.', '_' and '-' "
				   "are allowed");
			return CONFIG_E_INVALID;
		}
	}
	return set_string(p, k, value);
}

static const char *hostport_why(int rv)
{
	switch (rv) {
	case CONFIG_E_NO_PORT:
		return "missing port";
	case CONFIG_E_BAD_PORT:
		return "port is not a number";
	case CONFIG_E_RANGE:
		return "port out of range 1..65535";
	case CONFIG_E_TOO_LONG:
		return "host name too long";
	default:
		return "expected host:port with an IPv4 address, a host name "
		       "or a bracketed IPv6 address";
	}
}

static int set_addr(struct parse *p, const struct key_def *k, const char *value)
{
	struct config_addr *a = field(p, k);
	struct config_addr tmp = {0};
	int rv;

	if (strlen(value) >= sizeof tmp.address) {
		fail_too_long(p, k, sizeof tmp.address - 1);
		return CONFIG_E_TOO_LONG;
	}
	rv = config_parse_hostport(value, tmp.host, sizeof tmp.host, &tmp.port);
	if (rv != 0) {
		fail_value(p, rv, k, value, hostport_why(rv));
		return rv;
	}
	strcpy(tmp.address, value);
	*a = tmp;
	return 0;
}

static int set_id(struct parse *p, const struct key_def *k, const char *value)
{
	uint64_t v;
	int rv = parse_uint(value, CONFIG_ID_MAX, &v);

	if (rv == 0 && v == 0)
		rv = CONFIG_E_RANGE;
	if (rv == CONFIG_E_RANGE || rv == CONFIG_E_NEGATIVE) {
		fail_value(p, CONFIG_E_RANGE, k, value,
			   "must be 1..9223372036854775807");
		return CONFIG_E_RANGE;
	}
	if (rv != 0) {
		fail_value(p, rv, k, value, "not a number");
		return rv;
	}
	*(uint64_t *)field(p, k) = v;
	return 0;
}

static int set_count(struct parse *p, const struct key_def *k,
		     const char *value)
{
	uint64_t v;
	int rv = parse_uint(value, UINT32_MAX, &v);

	if (rv == 0 && v == 0)
		rv = CONFIG_E_RANGE;
	if (rv == CONFIG_E_RANGE || rv == CONFIG_E_NEGATIVE) {
		fail_value(p, CONFIG_E_RANGE, k, value,
			   "must be 1..4294967295");
		return CONFIG_E_RANGE;
	}
	if (rv != 0) {
		fail_value(p, rv, k, value, "not a number");
		return rv;
	}
	*(uint32_t *)field(p, k) = (uint32_t)v;
	return 0;
}

static int set_voters(struct parse *p, const struct key_def *k,
		      const char *value)
{
	if (strcmp(value, "1") != 0 && strcmp(value, "3") != 0 &&
	    strcmp(value, "5") != 0) {
		fail_value(p, CONFIG_E_INVALID, k, value, "expected 1, 3 or 5");
		return CONFIG_E_INVALID;
	}
	*(unsigned *)field(p, k) = (unsigned)(value[0] - '0');
	return 0;
}

static int set_duration(struct parse *p, const struct key_def *k,
			const char *value)
{
	uint32_t ms;
	int rv = config_parse_duration(value, &ms);

	switch (rv) {
	case 0:
		break;
	case CONFIG_E_NEGATIVE:
		fail_value(p, rv, k, value, "negative duration");
		return rv;
	case CONFIG_E_OVERFLOW:
		fail_value(p, rv, k, value, "too large (max 4294967295ms)");
		return rv;
	default:
		fail_value(p, rv, k, value,
			   "expected a duration such as 250ms, 2s, 1.5s or 1m");
		return rv;
	}
	if (k->type == T_TIMEOUT && ms == 0) {
		fail_value(p, CONFIG_E_RANGE, k, value, "must be more than 0");
		return CONFIG_E_RANGE;
	}
	if (k->type == T_SYNC_WAIT &&
	    (ms < CONFIG_SYNC_WAIT_MIN_MS || ms > CONFIG_SYNC_WAIT_MAX_MS)) {
		fail_value(p, CONFIG_E_RANGE, k, value, "must be 10..3600000 ms");
		return CONFIG_E_RANGE;
	}
	*(uint32_t *)field(p, k) = ms;
	return 0;
}

static int set_policy(struct parse *p, const struct key_def *k,
		      const char *value)
{
	int policy;

	if (strcmp(value, "auto") == 0) {
		policy = CONFIG_POLICY_AUTO;
	} else if (strcmp(value, "manual") == 0) {
		policy = CONFIG_POLICY_MANUAL;
	} else {
		fail_value(p, CONFIG_E_INVALID, k, value,
			   "expected auto or manual");
		return CONFIG_E_INVALID;
	}
	*(int *)field(p, k) = policy;
	return 0;
}

static int set_profile(struct parse *p, const struct key_def *k,
		       const char *value)
{
	int profile = config_profile_find(value);

	if (profile < 0) {
		fail_value(p, CONFIG_E_INVALID, k, value,
			   "expected default or fast");
		return CONFIG_E_INVALID;
	}
	*(int *)field(p, k) = profile;
	return 0;
}

static int set_bool(struct parse *p, const struct key_def *k, const char *value)
{
	int b;

	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0) {
		b = 1;
	} else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0) {
		b = 0;
	} else {
		fail_value(p, CONFIG_E_INVALID, k, value,
			   "expected true or false");
		return CONFIG_E_INVALID;
	}
	*(int *)field(p, k) = b;
	return 0;
}

static int set_level(struct parse *p, const struct key_def *k,
		     const char *value)
{
	int level = log_level_parse(value);

	if (level < 0) {
		fail_value(p, CONFIG_E_INVALID, k, value,
			   "expected error, warn, info or debug");
		return CONFIG_E_INVALID;
	}
	*(int *)field(p, k) = level;
	return 0;
}

/* Whether value is an http://host[:port] or https://host[:port] URL. */
static bool url_ok(const char *value)
{
	static const char http[] = "http://", https[] = "https://";
	const char *auth, *end, *s;
	char buf[CONFIG_URL_LEN], host[CONFIG_URL_LEN];
	size_t alen;
	uint16_t port;
	int rv;

	if (strlen(value) >= CONFIG_URL_LEN)
		return false;
	/* https:// needs [tls], checked once the whole file is read. */
	if (strncmp(value, http, sizeof http - 1) == 0)
		auth = value + sizeof http - 1;
	else if (strncmp(value, https, sizeof https - 1) == 0)
		auth = value + sizeof https - 1;
	else
		return false;
	for (s = value; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	end = auth + strcspn(auth, "/?#");
	alen = (size_t)(end - auth);
	memcpy(buf, auth, alen);
	buf[alen] = '\0';
	/* With or without a port (default 80, 443 for https). */
	rv = config_parse_hostport(buf, host, sizeof host, &port);
	if (rv == CONFIG_E_NO_PORT)
		rv = 0;
	return rv == 0;
}

static int set_url(struct parse *p, const struct key_def *k, const char *value)
{
	if (strlen(value) >= k->size) {
		fail_too_long(p, k, k->size - 1);
		return CONFIG_E_TOO_LONG;
	}
	if (url_ok(value))
		return set_string(p, k, value);
	fail_value(p, CONFIG_E_INVALID, k, value,
		   "expected an http://host:port or https://host:port URL");
	return CONFIG_E_INVALID;
}

static void trim(const char **start, const char **end)
{
	while (*start < *end && (**start == ' ' || **start == '\t'))
		(*start)++;
	while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
}

/* id@host:port, id@host:port, ... */
static int set_peers(struct parse *p, const struct key_def *k,
		     const char *value)
{
	struct config_peer peers[CONFIG_MAX_BOOTSTRAP];
	const char *s = value;
	unsigned n = 0, i;
	int rv;

	memset(peers, 0, sizeof peers);
	for (;;) {
		const char *comma = strchr(s, ',');
		const char *start = s, *end = comma ? comma : s + strlen(s);
		char entry[CONFIG_ADDR_LEN + 32], idbuf[32];
		struct config_peer *peer;
		const char *at, *addr;
		size_t len;

		trim(&start, &end);
		len = (size_t)(end - start);
		if (len == 0) {
			config_fail(
			    p, CONFIG_E_INVALID, p->lineno,
			    "bad [cluster] bootstrap: empty entry, expected "
			    "id@host:port, ...");
			return CONFIG_E_INVALID;
		}
		if (n == CONFIG_MAX_BOOTSTRAP) {
			config_fail(
			    p, CONFIG_E_RANGE, p->lineno,
			    "bad [cluster] bootstrap: more than %d entries",
			    CONFIG_MAX_BOOTSTRAP);
			return CONFIG_E_RANGE;
		}
		if (len >= sizeof entry) {
			config_fail(
			    p, CONFIG_E_TOO_LONG, p->lineno,
			    "bad [cluster] bootstrap: entry %u longer than "
			    "%zu characters",
			    n + 1, sizeof entry - 1);
			return CONFIG_E_TOO_LONG;
		}
		memcpy(entry, start, len);
		entry[len] = '\0';
		peer = &peers[n];

		at = strchr(entry, '@');
		if (at == NULL) {
			config_fail(
			    p, CONFIG_E_INVALID, p->lineno,
			    "bad [cluster] bootstrap entry %s: expected "
			    "id@host:port",
			    config_quote(entry).s);
			return CONFIG_E_INVALID;
		}
		if ((size_t)(at - entry) >= sizeof idbuf) {
			rv = CONFIG_E_RANGE;
		} else {
			memcpy(idbuf, entry, (size_t)(at - entry));
			idbuf[at - entry] = '\0';
			rv = parse_uint(idbuf, CONFIG_ID_MAX, &peer->id);
			if (rv == 0 && peer->id == 0)
				rv = CONFIG_E_RANGE;
		}
		if (rv != 0) {
			config_fail(
			    p, rv, p->lineno,
			    "bad [cluster] bootstrap entry %s: id must be "
			    "1..9223372036854775807",
			    config_quote(entry).s);
			return rv;
		}
		addr = at + 1;
		if (strlen(addr) >= sizeof peer->address) {
			config_fail(
			    p, CONFIG_E_TOO_LONG, p->lineno,
			    "bad [cluster] bootstrap entry %u: address longer "
			    "than %zu characters",
			    n + 1, sizeof peer->address - 1);
			return CONFIG_E_TOO_LONG;
		}
		rv = config_parse_hostport(addr, peer->host, sizeof peer->host,
					   &peer->port);
		if (rv != 0) {
			config_fail(p, rv, p->lineno,
				    "bad [cluster] bootstrap entry %s: %s",
				    config_quote(entry).s, hostport_why(rv));
			return rv;
		}
		strcpy(peer->address, addr);
		for (i = 0; i < n; i++) {
			if (peers[i].id == peer->id) {
				config_fail(
				    p, CONFIG_E_DUPLICATE, p->lineno,
				    "bad [cluster] bootstrap: duplicate id "
				    "%llu",
				    (unsigned long long)peer->id);
				return CONFIG_E_DUPLICATE;
			}
			if (peers[i].port == peer->port &&
			    strcasecmp(peers[i].host, peer->host) == 0) {
				config_fail(
				    p, CONFIG_E_DUPLICATE, p->lineno,
				    "bad [cluster] bootstrap: duplicate "
				    "address %s",
				    config_quote(peer->address).s);
				return CONFIG_E_DUPLICATE;
			}
		}
		n++;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	memcpy(p->c->bootstrap, peers, sizeof peers);
	p->c->n_bootstrap = n;
	(void)k;
	return 0;
}

/* URL, URL, ... ([cluster] peers): at most CONFIG_MAX_BOOTSTRAP, each an
 * http:// or https:// URL, no duplicates. */
static int set_urls(struct parse *p, const struct key_def *k,
		    const char *value)
{
	char urls[CONFIG_MAX_BOOTSTRAP][CONFIG_URL_LEN];
	const char *s = value;
	unsigned n = 0;

	memset(urls, 0, sizeof urls);
	for (;;) {
		const char *comma = strchr(s, ',');
		const char *start = s, *end = comma ? comma : s + strlen(s);
		size_t len;

		trim(&start, &end);
		len = (size_t)(end - start);
		if (len == 0) {
			config_fail(p, CONFIG_E_INVALID, p->lineno,
				    "bad [cluster] %s: empty entry, expected "
				    "http://host:port, ...",
				    k->name);
			return CONFIG_E_INVALID;
		}
		if (n == CONFIG_MAX_BOOTSTRAP) {
			config_fail(p, CONFIG_E_INVALID, p->lineno,
				    "bad [cluster] %s: more than %d entries",
				    k->name, CONFIG_MAX_BOOTSTRAP);
			return CONFIG_E_INVALID;
		}
		if (len >= CONFIG_URL_LEN) {
			config_fail(p, CONFIG_E_TOO_LONG, p->lineno,
				    "bad [cluster] %s: entry %u longer than "
				    "%d characters",
				    k->name, n + 1, CONFIG_URL_LEN - 1);
			return CONFIG_E_TOO_LONG;
		}
		memcpy(urls[n], start, len);
		urls[n][len] = '\0';
		if (!url_ok(urls[n])) {
			config_fail(p, CONFIG_E_INVALID, p->lineno,
				    "bad [cluster] %s entry %s: expected an "
				    "http://host:port or https://host:port URL",
				    k->name, config_quote(urls[n]).s);
			return CONFIG_E_INVALID;
		}
		for (unsigned i = 0; i < n; i++)
			if (strcmp(urls[i], urls[n]) == 0) {
				config_fail(p, CONFIG_E_INVALID, p->lineno,
					    "bad [cluster] %s: duplicate "
					    "entry %s",
					    k->name, config_quote(urls[n]).s);
				return CONFIG_E_INVALID;
			}
		n++;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	memcpy(p->c->peers, urls, sizeof urls);
	p->c->n_peers = n;
	return 0;
}

int config_set_value(struct parse *p, const struct key_def *k,
		     const char *value)
{
	if (k->type == T_MOVED) {
		config_fail(p, CONFIG_E_MOVED, p->lineno,
			    "[%s] %s is no longer a key of this file: the "
			    "replication mode is a property of the pair, set "
			    "for both pools with 'poolpairctl pair mode POOL "
			    "sync|async [--sync-timeout D]' (PUT "
			    "/v1/pairs/POOL)",
			    config_section_names[k->section], k->name);
		return CONFIG_E_MOVED;
	}
	if (value[0] == '\0') {
		config_fail(p, CONFIG_E_EMPTY, p->lineno,
			    "bad [%s] %s: empty value",
			    config_section_names[k->section], k->name);
		return CONFIG_E_EMPTY;
	}
	switch (k->type) {
	case T_NAME:
		return set_name(p, k, value);
	case T_ID:
		return set_id(p, k, value);
	case T_PATH:
	case T_COMMAND:
		return set_string(p, k, value);
	case T_ADDR:
		return set_addr(p, k, value);
	case T_PEERS:
		return set_peers(p, k, value);
	case T_URL:
		return set_url(p, k, value);
	case T_URLS:
		return set_urls(p, k, value);
	case T_DURATION:
	case T_TIMEOUT:
	case T_SYNC_WAIT:
		return set_duration(p, k, value);
	case T_COUNT:
		return set_count(p, k, value);
	case T_VOTERS:
		return set_voters(p, k, value);
	case T_POLICY:
		return set_policy(p, k, value);
	case T_LEVEL:
		return set_level(p, k, value);
	case T_BOOL:
		return set_bool(p, k, value);
	case T_RESERVE:
		return config_set_reserve(p, k, value);
	case T_PROFILE:
		return set_profile(p, k, value);
	default:
		config_fail(p, CONFIG_E_INVALID, p->lineno,
			    "internal: key type %d", k->type);
		return CONFIG_E_INVALID;
	}
}
