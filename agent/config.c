/* config: INI file → struct config, with inih doing the tokenizing.
 *
 * inih (as built by Debian) calls its handler without a line number, so
 * the file is fed through a reader that counts lines, and the handler asks
 * the reader where it is. The reader also checks section headers (inih only
 * reports keys, so an empty unknown section would pass unseen), refuses
 * lines longer than inih's buffer (inih would cut them in two) and strips
 * leading blanks (inih would take an indented line for a continuation). */
#include "agent/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/log.h"

enum section {
	SEC_AGENT,
	SEC_LISTEN,
	SEC_CLUSTER,
	SEC_FAILOVER,
	SEC_TLS,
	SEC_LOG,
	SEC_COUNT,
	SEC_NONE = -1,	  /* before the first header */
	SEC_UNKNOWN = -2, /* after a header that was refused */
};

static const char *const section_names[SEC_COUNT] = {
    [SEC_AGENT] = "agent",     [SEC_LISTEN] = "listen",
    [SEC_CLUSTER] = "cluster", [SEC_FAILOVER] = "failover",
    [SEC_TLS] = "tls",	       [SEC_LOG] = "log",
};

/* How a value is read. */
enum type {
	T_NAME,	    /* [A-Za-z0-9._-]{1,63} */
	T_ID,	    /* 1..CONFIG_ID_MAX */
	T_PATH,	    /* non-empty string */
	T_COMMAND,  /* non-empty string */
	T_ADDR,	    /* host:port into a struct config_addr */
	T_PEERS,    /* [cluster] bootstrap */
	T_URL,	    /* http:// URL */
	T_DURATION, /* milliseconds, may be 0 */
	T_TIMEOUT,  /* milliseconds, more than 0 */
	T_COUNT,    /* uint32_t, 1..UINT32_MAX */
	T_VOTERS,   /* 1, 3 or 5 */
	T_POLICY,   /* auto | manual */
	T_LEVEL,    /* log level name */
};

enum key {
	K_NAME,
	K_ID,
	K_SITE,
	K_POOL,
	K_DATA_DIR,
	K_RAFT,
	K_DATA,
	K_API,
	K_BOOTSTRAP,
	K_JOIN,
	K_ELECTION,
	K_RAFT_HEARTBEAT,
	K_SNAP_THRESHOLD,
	K_SNAP_TRAILING,
	K_MAX_VOTERS,
	K_HEARTBEAT,
	K_LEASE,
	K_GRACE,
	K_DRIFT,
	K_POLICY,
	K_MAX_LAG,
	K_COOLDOWN,
	K_PRE_FAILOVER,
	K_FENCE,
	K_OWNER_CHANGE,
	K_HOOK_TIMEOUT,
	K_TLS_CA,
	K_TLS_CERT,
	K_TLS_KEY,
	K_LOG_LEVEL,
	K_COUNT
};

struct key_def {
	int section;
	const char *name;
	int type;
	size_t offset; /* of the field in struct config */
	size_t size;   /* of that field */
	bool required;
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct key_def keys[K_COUNT] = {
    [K_NAME] = {SEC_AGENT, "name", T_NAME, FIELD(agent_name), true},
    [K_ID] = {SEC_AGENT, "id", T_ID, FIELD(agent_id), true},
    [K_SITE] = {SEC_AGENT, "site", T_NAME, FIELD(site), true},
    [K_POOL] = {SEC_AGENT, "pool", T_NAME, FIELD(pool), false},
    [K_DATA_DIR] = {SEC_AGENT, "data_dir", T_PATH, FIELD(data_dir), true},
    [K_RAFT] = {SEC_LISTEN, "raft", T_ADDR, FIELD(listen_raft), true},
    [K_DATA] = {SEC_LISTEN, "data", T_ADDR, FIELD(listen_data), false},
    [K_API] = {SEC_LISTEN, "api", T_ADDR, FIELD(listen_api), true},
    [K_BOOTSTRAP] = {SEC_CLUSTER, "bootstrap", T_PEERS, FIELD(bootstrap),
		     false},
    [K_JOIN] = {SEC_CLUSTER, "join", T_URL, FIELD(join), false},
    [K_ELECTION] = {SEC_CLUSTER, "election_timeout", T_TIMEOUT,
		    FIELD(election_timeout_ms), false},
    [K_RAFT_HEARTBEAT] = {SEC_CLUSTER, "heartbeat_timeout", T_TIMEOUT,
			  FIELD(heartbeat_timeout_ms), false},
    [K_SNAP_THRESHOLD] = {SEC_CLUSTER, "snapshot_threshold", T_COUNT,
			  FIELD(snapshot_threshold), false},
    [K_SNAP_TRAILING] = {SEC_CLUSTER, "snapshot_trailing", T_COUNT,
			 FIELD(snapshot_trailing), false},
    [K_MAX_VOTERS] = {SEC_CLUSTER, "max_voters", T_VOTERS, FIELD(max_voters),
		      false},
    [K_HEARTBEAT] = {SEC_FAILOVER, "heartbeat", T_TIMEOUT, FIELD(heartbeat_ms),
		     false},
    [K_LEASE] = {SEC_FAILOVER, "lease", T_TIMEOUT, FIELD(lease_ms), false},
    [K_GRACE] = {SEC_FAILOVER, "grace", T_DURATION, FIELD(grace_ms), false},
    [K_DRIFT] = {SEC_FAILOVER, "drift_margin", T_DURATION,
		 FIELD(drift_margin_ms), false},
    [K_POLICY] = {SEC_FAILOVER, "policy", T_POLICY, FIELD(policy), false},
    [K_MAX_LAG] = {SEC_FAILOVER, "max_lag_on_failover", T_DURATION,
		   FIELD(max_lag_ms), false},
    [K_COOLDOWN] = {SEC_FAILOVER, "cooldown", T_DURATION, FIELD(cooldown_ms),
		    false},
    [K_PRE_FAILOVER] = {SEC_FAILOVER, "pre_failover", T_COMMAND,
			FIELD(pre_failover), false},
    [K_FENCE] = {SEC_FAILOVER, "fence_command", T_COMMAND, FIELD(fence_command),
		 false},
    [K_OWNER_CHANGE] = {SEC_FAILOVER, "on_owner_change", T_COMMAND,
			FIELD(on_owner_change), false},
    [K_HOOK_TIMEOUT] = {SEC_FAILOVER, "hook_timeout", T_TIMEOUT,
			FIELD(hook_timeout_ms), false},
    [K_TLS_CA] = {SEC_TLS, "ca", T_PATH, FIELD(tls_ca), false},
    [K_TLS_CERT] = {SEC_TLS, "cert", T_PATH, FIELD(tls_cert), false},
    [K_TLS_KEY] = {SEC_TLS, "key", T_PATH, FIELD(tls_key), false},
    [K_LOG_LEVEL] = {SEC_LOG, "level", T_LEVEL, FIELD(log_level), false},
};

static const char *const error_messages[] = {
    [-CONFIG_E_IO] = "cannot read file",
    [-CONFIG_E_NOMEM] = "out of memory",
    [-CONFIG_E_SYNTAX] = "syntax error",
    [-CONFIG_E_UNKNOWN] = "unknown section or key",
    [-CONFIG_E_DUPLICATE] = "duplicate key",
    [-CONFIG_E_MISSING] = "missing required key",
    [-CONFIG_E_CONFLICT] = "conflicting keys",
    [-CONFIG_E_INVALID] = "invalid value",
    [-CONFIG_E_EMPTY] = "empty value",
    [-CONFIG_E_TOO_LONG] = "value too long",
    [-CONFIG_E_NEGATIVE] = "negative value",
    [-CONFIG_E_OVERFLOW] = "value too large",
    [-CONFIG_E_RANGE] = "value out of range",
    [-CONFIG_E_NO_PORT] = "missing port",
    [-CONFIG_E_BAD_PORT] = "port is not a number",
    [-CONFIG_E_BAD_HOST] = "bad host",
};

const char *config_strerror(int code)
{
	if (code < 0 &&
	    -code < (int)(sizeof error_messages / sizeof error_messages[0]) &&
	    error_messages[-code] != NULL)
		return error_messages[-code];
	return "unknown error";
}

const char *config_policy_name(int policy)
{
	switch (policy) {
	case CONFIG_POLICY_MANUAL:
		return "manual";
	case CONFIG_POLICY_AUTO:
		return "auto";
	default:
		return "?";
	}
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->election_timeout_ms = 1000;
	c->heartbeat_timeout_ms = 100;
	c->snapshot_threshold = 4096;
	c->snapshot_trailing = 8192;
	c->max_voters = 5;
	c->heartbeat_ms = 250;
	c->lease_ms = 2000;
	c->grace_ms = 1000;
	c->drift_margin_ms = 100;
	c->policy = CONFIG_POLICY_MANUAL;
	c->max_lag_ms = 1000;
	c->cooldown_ms = 60000;
	c->hook_timeout_ms = 10000;
	c->log_level = LOG_LEVEL_INFO;
}

/* ---- value parsers ------------------------------------------------ */

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static bool is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z');
}

/* Unsigned decimal in 0..max: digits only. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool over = false;
	const char *p;

	if (s == NULL || s[0] == '\0')
		return CONFIG_E_EMPTY;
	if (s[0] == '-' && is_digit(s[1]))
		return CONFIG_E_NEGATIVE;
	for (p = s; *p != '\0'; p++) {
		if (!is_digit(*p))
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

	if (s == NULL || s[0] == '\0')
		return CONFIG_E_EMPTY;
	if (s[0] == '-' && is_digit(s[1]))
		return CONFIG_E_NEGATIVE;
	if (!is_digit(*p))
		return CONFIG_E_INVALID;
	for (; is_digit(*p); p++) {
		if (!big) {
			whole = whole * 10 + (uint64_t)(*p - '0');
			if (whole > UINT32_MAX)
				big = true;
		}
	}
	if (*p == '.') {
		has_frac = true;
		p++;
		if (!is_digit(*p))
			return CONFIG_E_INVALID;
		for (; is_digit(*p); p++) {
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
		if (!is_digit(h[i]) && h[i] != '.')
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

/* ---- parse context ------------------------------------------------ */

struct parse {
	struct config
	    *c; /* the configuration being built (owned by config_load) */
	FILE *f;
	char *line; /* getline() buffer */
	size_t line_cap;
	unsigned lineno;	    /* line last handed to inih */
	int section;		    /* enum section of the current header */
	int io_errno;		    /* errno of a read error, 0 if none */
	unsigned key_line[K_COUNT]; /* where each key was set, 0 if not */
	/* The first error found by the reader, the handler or the checks. */
	int err;
	unsigned err_line;
	char err_text[CONFIG_ERRMSG_LEN];
};

static void fail(struct parse *p, int code, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct parse *p, int code, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (p->err != 0)
		return;
	p->err = code;
	p->err_line = line;
	va_start(ap, fmt);
	vsnprintf(p->err_text, sizeof p->err_text, fmt, ap);
	va_end(ap);
}

/* A value quoted in a message: at most 64 characters shown, control
 * characters shown as '?'. */
struct quoted {
	char s[72];
};

static struct quoted quote(const char *v)
{
	struct quoted q;
	size_t len = strlen(v), i;

	if (len <= 64)
		snprintf(q.s, sizeof q.s, "'%s'", v);
	else
		snprintf(q.s, sizeof q.s, "'%.61s...'", v);
	for (i = 0; q.s[i] != '\0'; i++)
		if ((unsigned char)q.s[i] < 0x20 || q.s[i] == 0x7f)
			q.s[i] = '?';
	return q;
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
	fail(p, code, p->lineno, "bad [%s] %s %s: %s",
	     section_names[k->section], k->name, quote(value).s, why);
}

static void fail_too_long(struct parse *p, const struct key_def *k, size_t max)
{
	fail(p, CONFIG_E_TOO_LONG, p->lineno,
	     "bad [%s] %s: longer than %zu characters",
	     section_names[k->section], k->name, max);
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
	struct config_addr tmp;
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

static int set_url(struct parse *p, const struct key_def *k, const char *value)
{
	static const char scheme[] = "http://";
	const char *auth = value + sizeof scheme - 1, *end, *s;
	char buf[CONFIG_URL_LEN], host[CONFIG_URL_LEN];
	size_t alen;
	uint16_t port;
	int rv;

	if (strlen(value) >= k->size) {
		fail_too_long(p, k, k->size - 1);
		return CONFIG_E_TOO_LONG;
	}
	if (strncmp(value, scheme, sizeof scheme - 1) != 0)
		goto bad;
	for (s = value; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			goto bad;
	end = auth + strcspn(auth, "/?#");
	alen = (size_t)(end - auth);
	memcpy(buf, auth, alen);
	buf[alen] = '\0';
	/* With or without a port (default 80). */
	rv = config_parse_hostport(buf, host, sizeof host, &port);
	if (rv == CONFIG_E_NO_PORT)
		rv = 0;
	if (rv != 0)
		goto bad;
	return set_string(p, k, value);
bad:
	fail_value(p, CONFIG_E_INVALID, k, value,
		   "expected an http://host:port URL");
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
			fail(p, CONFIG_E_INVALID, p->lineno,
			     "bad [cluster] bootstrap: empty entry, expected "
			     "id@host:port, ...");
			return CONFIG_E_INVALID;
		}
		if (n == CONFIG_MAX_BOOTSTRAP) {
			fail(p, CONFIG_E_RANGE, p->lineno,
			     "bad [cluster] bootstrap: more than %d entries",
			     CONFIG_MAX_BOOTSTRAP);
			return CONFIG_E_RANGE;
		}
		if (len >= sizeof entry) {
			fail(p, CONFIG_E_TOO_LONG, p->lineno,
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
			fail(p, CONFIG_E_INVALID, p->lineno,
			     "bad [cluster] bootstrap entry %s: expected "
			     "id@host:port",
			     quote(entry).s);
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
			fail(p, rv, p->lineno,
			     "bad [cluster] bootstrap entry %s: id must be "
			     "1..9223372036854775807",
			     quote(entry).s);
			return rv;
		}
		addr = at + 1;
		if (strlen(addr) >= sizeof peer->address) {
			fail(p, CONFIG_E_TOO_LONG, p->lineno,
			     "bad [cluster] bootstrap entry %u: address longer "
			     "than %zu characters",
			     n + 1, sizeof peer->address - 1);
			return CONFIG_E_TOO_LONG;
		}
		rv = config_parse_hostport(addr, peer->host, sizeof peer->host,
					   &peer->port);
		if (rv != 0) {
			fail(p, rv, p->lineno,
			     "bad [cluster] bootstrap entry %s: %s",
			     quote(entry).s, hostport_why(rv));
			return rv;
		}
		strcpy(peer->address, addr);
		for (i = 0; i < n; i++) {
			if (peers[i].id == peer->id) {
				fail(p, CONFIG_E_DUPLICATE, p->lineno,
				     "bad [cluster] bootstrap: duplicate id "
				     "%llu",
				     (unsigned long long)peer->id);
				return CONFIG_E_DUPLICATE;
			}
			if (peers[i].port == peer->port &&
			    strcasecmp(peers[i].host, peer->host) == 0) {
				fail(p, CONFIG_E_DUPLICATE, p->lineno,
				     "bad [cluster] bootstrap: duplicate "
				     "address %s",
				     quote(peer->address).s);
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

static int set_value(struct parse *p, const struct key_def *k,
		     const char *value)
{
	if (value[0] == '\0') {
		fail(p, CONFIG_E_EMPTY, p->lineno, "bad [%s] %s: empty value",
		     section_names[k->section], k->name);
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
	case T_DURATION:
	case T_TIMEOUT:
		return set_duration(p, k, value);
	case T_COUNT:
		return set_count(p, k, value);
	case T_VOTERS:
		return set_voters(p, k, value);
	case T_POLICY:
		return set_policy(p, k, value);
	case T_LEVEL:
		return set_level(p, k, value);
	default:
		fail(p, CONFIG_E_INVALID, p->lineno, "internal: key type %d",
		     k->type);
		return CONFIG_E_INVALID;
	}
}

/* ---- inih callbacks ----------------------------------------------- */

/* Check a "[name]" line (leading blanks already gone) and make it the
 * current section. */
static void enter_section(struct parse *p, const char *line)
{
	const char *close = strchr(line, ']');
	const char *after = close != NULL ? close + 1 : line;
	char name[CONFIG_NAME_LEN];
	size_t len;
	int i;

	p->section = SEC_UNKNOWN;
	while (*after == ' ' || *after == '\t')
		after++;
	if (close == NULL ||
	    (*after != '\0' && *after != ';' && *after != '#')) {
		fail(p, CONFIG_E_SYNTAX, p->lineno,
		     "bad section header, expected '[name]'");
		return;
	}
	len = (size_t)(close - line - 1);
	for (i = 0; i < SEC_COUNT; i++) {
		if (strlen(section_names[i]) == len &&
		    memcmp(section_names[i], line + 1, len) == 0) {
			p->section = i;
			return;
		}
	}
	if (len >= sizeof name) {
		memcpy(name, line + 1, sizeof name - 4);
		memcpy(name + sizeof name - 4, "...", 4);
	} else {
		memcpy(name, line + 1, len);
		name[len] = '\0';
	}
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = '?';
	fail(p, CONFIG_E_UNKNOWN, p->lineno, "unknown section [%s]", name);
}

/* fgets-like reader for inih: one whole line per call, counted. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	ssize_t n;
	const char *s;
	size_t len;

	errno = 0;
	n = getline(&p->line, &p->line_cap, p->f);
	if (n < 0) {
		if (ferror(p->f))
			p->io_errno = errno != 0 ? errno : EIO;
		return NULL;
	}
	p->lineno++;
	s = p->line;
	len = (size_t)n;
	if (p->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3; /* UTF-8 byte order mark */
		len -= 3;
	}
	if (memchr(s, '\0', len) != NULL) {
		fail(p, CONFIG_E_SYNTAX, p->lineno, "line contains a nul byte");
		len = 0;
	}
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
			   s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (num < 3 || len > (size_t)num - 3) {
		fail(p, CONFIG_E_SYNTAX, p->lineno,
		     "line too long (max %d characters)", num - 3);
		len = 0;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	if (len > 0 && str[0] == '[')
		enter_section(p, str);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int handle_key(void *user, const char *section, const char *name,
		      const char *value)
{
	struct parse *p = user;
	int i;

	(void)section; /* the reader tracks it, with its line */
	if (p->section == SEC_UNKNOWN)
		return 0; /* already reported at the header */
	if (p->section == SEC_NONE) {
		fail(p, CONFIG_E_SYNTAX, p->lineno,
		     "key %s outside of any section", quote(name).s);
		return 0;
	}
	for (i = 0; i < K_COUNT; i++)
		if (keys[i].section == p->section &&
		    strcmp(keys[i].name, name) == 0)
			break;
	if (i == K_COUNT) {
		fail(p, CONFIG_E_UNKNOWN, p->lineno, "unknown key %s in [%s]",
		     quote(name).s, section_names[p->section]);
		return 0;
	}
	if (p->key_line[i] != 0) {
		fail(p, CONFIG_E_DUPLICATE, p->lineno,
		     "duplicate key '%s' in [%s], first set on line %u",
		     keys[i].name, section_names[p->section], p->key_line[i]);
		return 0;
	}
	p->key_line[i] = p->lineno;
	return set_value(p, &keys[i], value) == 0;
}

/* ---- checks across keys ------------------------------------------- */

static unsigned later(const struct parse *p, int a, int b)
{
	return p->key_line[a] > p->key_line[b] ? p->key_line[a]
					       : p->key_line[b];
}

static void check_less(struct parse *p, int small, int big, uint32_t sv,
		       uint32_t bv)
{
	if (sv < bv)
		return;
	fail(p, CONFIG_E_CONFLICT, later(p, small, big),
	     "[%s] %s (%ums) must be less than %s (%ums)",
	     section_names[keys[small].section], keys[small].name, sv,
	     keys[big].name, bv);
}

static void check_bootstrap(struct parse *p)
{
	const struct config *c = p->c;
	const struct config_peer *self = NULL;
	unsigned i;

	for (i = 0; i < c->n_bootstrap; i++)
		if (c->bootstrap[i].id == c->agent_id)
			self = &c->bootstrap[i];
	if (self == NULL) {
		fail(p, CONFIG_E_CONFLICT, p->key_line[K_BOOTSTRAP],
		     "[cluster] bootstrap does not list this agent's id %llu",
		     (unsigned long long)c->agent_id);
		return;
	}
	if (self->port != c->listen_raft.port ||
	    strcasecmp(self->host, c->listen_raft.host) != 0)
		fail(p, CONFIG_E_CONFLICT, p->key_line[K_BOOTSTRAP],
		     "[cluster] bootstrap lists id %llu at %s, not at "
		     "[listen] raft %s",
		     (unsigned long long)self->id, self->address,
		     c->listen_raft.address);
}

static void check(struct parse *p)
{
	const struct config *c = p->c;
	int i;

	for (i = 0; i < K_COUNT; i++)
		if (keys[i].required && p->key_line[i] == 0)
			fail(p, CONFIG_E_MISSING, 0, "missing [%s] %s",
			     section_names[keys[i].section], keys[i].name);
	if (c->pool[0] != '\0' && p->key_line[K_DATA] == 0)
		fail(p, CONFIG_E_MISSING, 0,
		     "missing [listen] data (required when [agent] pool is "
		     "set)");
	if (p->key_line[K_BOOTSTRAP] == 0 && p->key_line[K_JOIN] == 0)
		fail(p, CONFIG_E_MISSING, 0,
		     "missing [cluster] bootstrap or join");
	if (p->key_line[K_TLS_CA] != 0 || p->key_line[K_TLS_CERT] != 0 ||
	    p->key_line[K_TLS_KEY] != 0)
		for (i = K_TLS_CA; i <= K_TLS_KEY; i++)
			if (p->key_line[i] == 0)
				fail(p, CONFIG_E_MISSING, 0,
				     "missing [tls] %s (ca, cert and key go "
				     "together)",
				     keys[i].name);
	if (p->key_line[K_BOOTSTRAP] != 0 && p->key_line[K_JOIN] != 0)
		fail(p, CONFIG_E_CONFLICT, later(p, K_BOOTSTRAP, K_JOIN),
		     "[cluster] bootstrap and join are mutually exclusive");
	if (p->key_line[K_BOOTSTRAP] != 0)
		check_bootstrap(p);
	check_less(p, K_RAFT_HEARTBEAT, K_ELECTION, c->heartbeat_timeout_ms,
		   c->election_timeout_ms);
	check_less(p, K_HEARTBEAT, K_LEASE, c->heartbeat_ms, c->lease_ms);
	check_less(p, K_DRIFT, K_LEASE, c->drift_margin_ms, c->lease_ms);
}

/* ---- load --------------------------------------------------------- */

/* "PATH:LINE: text" (or "PATH: text" for line 0) into c->errmsg; a
 * message that does not fit ends in "...". */
static void set_errmsg(struct config *c, const char *path, unsigned line,
		       const char *text)
{
	size_t size = sizeof c->errmsg;
	int n;

	if (line > 0)
		n = snprintf(c->errmsg, size, "%s:%u: %s", path, line, text);
	else
		n = snprintf(c->errmsg, size, "%s: %s", path, text);
	if (n < 0)
		snprintf(c->errmsg, size, "config: cannot format error");
	else if ((size_t)n >= size)
		memcpy(c->errmsg + size - 4, "...", 4);
}

int config_load(struct config *c, const char *path)
{
	struct parse p;
	char ebuf[128];
	int rv;

	if (path == NULL || path[0] == '\0') {
		snprintf(c->errmsg, sizeof c->errmsg, "config: empty path");
		return CONFIG_E_IO;
	}
	if (strlen(path) >= sizeof c->path) {
		snprintf(c->errmsg, sizeof c->errmsg,
			 "config: path longer than %zu characters",
			 sizeof c->path - 1);
		return CONFIG_E_IO;
	}
	memset(&p, 0, sizeof p);
	p.section = SEC_NONE;
	p.c = malloc(sizeof *p.c);
	if (p.c == NULL) {
		set_errmsg(c, path, 0, "out of memory");
		return CONFIG_E_NOMEM;
	}
	config_defaults(p.c);
	strcpy(p.c->path, path);

	p.f = fopen(path, "re");
	if (p.f == NULL) {
		snprintf(p.err_text, sizeof p.err_text, "cannot open: %s",
			 strerror_r(errno, ebuf, sizeof ebuf));
		set_errmsg(c, path, 0, p.err_text);
		rv = CONFIG_E_IO;
		goto err_after_alloc;
	}

	rv = ini_parse_stream(read_line, &p, handle_key, &p);
	if (p.io_errno != 0) {
		snprintf(p.err_text, sizeof p.err_text, "cannot read: %s",
			 strerror_r(p.io_errno, ebuf, sizeof ebuf));
		set_errmsg(c, path, 0, p.err_text);
		rv = CONFIG_E_IO;
		goto err_after_open;
	}
	if (rv == -2) {
		set_errmsg(c, path, 0, "out of memory");
		rv = CONFIG_E_NOMEM;
		goto err_after_open;
	}
	/* inih reports the first line it refused; if that is before the
	 * first error seen here, it is a line that is not key = value. */
	if (rv > 0 && (p.err == 0 || (unsigned)rv < p.err_line)) {
		p.err = 0;
		fail(&p, CONFIG_E_SYNTAX, (unsigned)rv,
		     "expected '[section]' or 'key = value'");
	}
	if (p.err == 0)
		check(&p);
	if (p.err != 0) {
		set_errmsg(c, path, p.err_line, p.err_text);
		rv = p.err;
		goto err_after_open;
	}

	fclose(p.f);
	free(p.line);
	*c = *p.c;
	c->errmsg[0] = '\0';
	free(p.c);
	return 0;

err_after_open:
	fclose(p.f);
	free(p.line);
err_after_alloc:
	free(p.c);
	return rv;
}
