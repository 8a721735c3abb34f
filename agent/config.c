/* config: INI file → struct config, with inih doing the tokenizing.
 *
 * inih (as built by Debian) calls its handler without a line number, so
 * the file is fed through a reader that counts lines, and the handler asks
 * the reader where it is. The reader also checks section headers (inih only
 * reports keys, so an empty unknown section would pass unseen), refuses
 * lines longer than inih's buffer (inih would cut them in two) and strips
 * leading blanks (inih would take an indented line for a continuation). */
#include "agent/config.h"
#include "agent/config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/log.h"

const char *const config_section_names[SEC_COUNT] = {
    [SEC_AGENT] = "agent",
    [SEC_LISTEN] = "listen",
    [SEC_CLUSTER] = "cluster",
    [SEC_FAILOVER] = "failover",
    [SEC_TLS] = "tls",
    [SEC_LOG] = "log",
    [SEC_REPLICATION] = "replication",
    [SEC_STORE] = "store",
    [SEC_CONTENT] = "content",
};

#define FIELD(f)                                                               \
	offsetof(struct config, f), sizeof(((struct config *)0)->f), #f

/* Every key is in effect or refused: used_by names the file that acts on
 * the field of a key in effect (tests/unit/test_config.c checks that it
 * does); a key that moved out of the file (T_MOVED) is refused with a
 * message and has none. Any other key is unknown, and refused too. */

static const struct key_def keys[K_COUNT] = {
    [K_NAME] = {SEC_AGENT, "name", T_NAME, FIELD(agent_name), true,
		"agent/agent.c"},
    [K_ID] = {SEC_AGENT, "id", T_ID, FIELD(agent_id), true,
	      "agent/agent.c"},
    [K_SITE] = {SEC_AGENT, "site", T_NAME, FIELD(site), true,
		"agent/agent.c"},
    [K_POOL] = {SEC_AGENT, "pool", T_NAME, FIELD(pool), false,
		"agent/agent.c"},
    [K_DATA_DIR] = {SEC_AGENT, "data_dir", T_PATH, FIELD(data_dir), true,
		    "agent/agent.c"},
    [K_RAFT] = {SEC_LISTEN, "raft", T_ADDR, FIELD(listen_raft), true,
		"agent/agent.c"},
    [K_DATA] = {SEC_LISTEN, "data", T_ADDR, FIELD(listen_data), false,
		"agent/agent_bind.c"},
    [K_API] = {SEC_LISTEN, "api", T_ADDR, FIELD(listen_api), true,
	       "agent/agent.c"},
    [K_INSECURE] = {SEC_LISTEN, "insecure", T_BOOL, FIELD(insecure), false,
		    "agent/agent.c"},
    [K_BOOTSTRAP] = {SEC_CLUSTER, "bootstrap", T_PEERS, FIELD(bootstrap),
		     false, "agent/agent.c"},
    [K_JOIN] = {SEC_CLUSTER, "join", T_URL, FIELD(join), false,
		"agent/agent.c"},
    [K_PEERS] = {SEC_CLUSTER, "peers", T_URLS, FIELD(peers), false,
		 "agent/rejoin.c"},
    [K_ELECTION] = {SEC_CLUSTER, "election_timeout", T_TIMEOUT,
		    FIELD(election_timeout_ms), false, "agent/agent.c"},
    [K_RAFT_HEARTBEAT] = {SEC_CLUSTER, "heartbeat_timeout", T_TIMEOUT,
			  FIELD(heartbeat_timeout_ms), false, "agent/agent.c"},
    [K_SNAP_THRESHOLD] = {SEC_CLUSTER, "snapshot_threshold", T_COUNT,
			  FIELD(snapshot_threshold), false, "agent/agent.c"},
    [K_SNAP_TRAILING] = {SEC_CLUSTER, "snapshot_trailing", T_COUNT,
			 FIELD(snapshot_trailing), false, "agent/agent.c"},
    [K_MAX_VOTERS] = {SEC_CLUSTER, "max_voters", T_VOTERS, FIELD(max_voters),
		      false, "agent/agent.c"},
    /* the defaults of the six timing keys (config_profile.c); the agent
     * shows it on /v1/status */
    [K_PROFILE] = {SEC_FAILOVER, "profile", T_PROFILE, FIELD(profile), false,
		   "agent/agent_bind.c"},
    [K_HEARTBEAT] = {SEC_FAILOVER, "heartbeat", T_TIMEOUT, FIELD(heartbeat_ms),
		     false, "agent/agent_bind.c"},
    [K_LEASE] = {SEC_FAILOVER, "lease", T_TIMEOUT, FIELD(lease_ms), false,
		 "agent/agent_bind.c"},
    [K_GRACE] = {SEC_FAILOVER, "grace", T_DURATION, FIELD(grace_ms), false,
		 "agent/agent_bind.c"},
    [K_DRIFT] = {SEC_FAILOVER, "drift_margin", T_DURATION,
		 FIELD(drift_margin_ms), false, "agent/agent_bind.c"},
    [K_POLICY] = {SEC_FAILOVER, "policy", T_POLICY, FIELD(policy), false,
		  "agent/policy.c"},
    [K_MAX_LAG] = {SEC_FAILOVER, "max_lag_on_failover", T_DURATION,
		   FIELD(max_lag_ms), false, "agent/policy.c"},
    [K_COOLDOWN] = {SEC_FAILOVER, "cooldown", T_DURATION, FIELD(cooldown_ms),
		    false, "agent/policy.c"},
    [K_PRE_FAILOVER] = {SEC_FAILOVER, "pre_failover", T_COMMAND,
			FIELD(pre_failover), false, "agent/agent_bind.c"},
    [K_FENCE] = {SEC_FAILOVER, "fence_command", T_COMMAND, FIELD(fence_command),
		 false, "agent/agent_bind.c"},
    [K_OWNER_CHANGE] = {SEC_FAILOVER, "on_owner_change", T_COMMAND,
			FIELD(on_owner_change), false, "agent/agent_bind.c"},
    [K_HOOK_TIMEOUT] = {SEC_FAILOVER, "hook_timeout", T_TIMEOUT,
			FIELD(hook_timeout_ms), false, "agent/agent_bind.c"},
    [K_TLS_CA] = {SEC_TLS, "ca", T_PATH, FIELD(tls_ca), false,
		  "agent/agent.c"},
    [K_TLS_CERT] = {SEC_TLS, "cert", T_PATH, FIELD(tls_cert), false,
		    "agent/agent.c"},
    [K_TLS_KEY] = {SEC_TLS, "key", T_PATH, FIELD(tls_key), false,
		   "agent/agent.c"},
    [K_TLS_REQUIRE] = {SEC_TLS, "require", T_BOOL, FIELD(tls_require), false,
		       "agent/agent.c"},
    [K_TLS_CRL] = {SEC_TLS, "crl", T_PATH, FIELD(tls_crl), false,
		   "agent/agent.c"},
    [K_LOG_LEVEL] = {SEC_LOG, "level", T_LEVEL, FIELD(log_level), false,
		     "agent/main.c"},
    /* the replication mode is the pair's, in the replicated state: the
     * keys are refused (T_MOVED), and have no consumer */
    [K_REPL_MODE] = {SEC_REPLICATION, "mode", T_MOVED, 0, 0, NULL, false,
		     NULL},
    [K_SYNC_TIMEOUT] = {SEC_REPLICATION, "sync_timeout", T_MOVED, 0, 0, NULL,
			false, NULL},
    /* the copy of every write at one local standby (agent/dataplane.h) */
    [K_LOCAL_SYNC] = {SEC_REPLICATION, "local_sync", T_BOOL, FIELD(local_sync),
		      false, "agent/agent_bind_data.c"},
    [K_LOCAL_SYNC_TIMEOUT] = {SEC_REPLICATION, "local_sync_timeout_ms",
			      T_SYNC_WAIT, FIELD(local_sync_timeout_ms), false,
			      "agent/agent_bind_data.c"},
    /* the reserve of the store's disk, incomplete uploads */
    [K_STORE_RESERVE] = {SEC_STORE, "reserve", T_RESERVE,
			 FIELD(store_reserve), false,
			 "agent/agent_bind_data.c"},
    [K_UPLOAD_TIMEOUT] = {SEC_CONTENT, "upload_timeout", T_TIMEOUT,
			  FIELD(upload_timeout_ms), false,
			  "agent/agent_bind_data.c"},
};

unsigned config_key_count(void) { return K_COUNT; }

int config_key_get(unsigned i, struct config_key_info *out)
{
	if (i >= K_COUNT)
		return -1;
	out->section = config_section_names[keys[i].section];
	out->name = keys[i].name;
	out->field = keys[i].field;
	out->used_by = keys[i].used_by;
	out->refused = keys[i].type == T_MOVED;
	return 0;
}

static const char *const error_messages[] = {
    [CONFIG_E_FIRST - CONFIG_E_IO] = "cannot read file",
    [CONFIG_E_FIRST - CONFIG_E_NOMEM] = "out of memory",
    [CONFIG_E_FIRST - CONFIG_E_SYNTAX] = "syntax error",
    [CONFIG_E_FIRST - CONFIG_E_UNKNOWN] = "unknown section or key",
    [CONFIG_E_FIRST - CONFIG_E_DUPLICATE] = "duplicate key",
    [CONFIG_E_FIRST - CONFIG_E_MISSING] = "missing required key",
    [CONFIG_E_FIRST - CONFIG_E_CONFLICT] = "conflicting keys",
    [CONFIG_E_FIRST - CONFIG_E_INVALID] = "invalid value",
    [CONFIG_E_FIRST - CONFIG_E_EMPTY] = "empty value",
    [CONFIG_E_FIRST - CONFIG_E_TOO_LONG] = "value too long",
    [CONFIG_E_FIRST - CONFIG_E_NEGATIVE] = "negative value",
    [CONFIG_E_FIRST - CONFIG_E_OVERFLOW] = "value too large",
    [CONFIG_E_FIRST - CONFIG_E_RANGE] = "value out of range",
    [CONFIG_E_FIRST - CONFIG_E_NO_PORT] = "missing port",
    [CONFIG_E_FIRST - CONFIG_E_BAD_PORT] = "port is not a number",
    [CONFIG_E_FIRST - CONFIG_E_BAD_HOST] = "bad host",
    [CONFIG_E_FIRST - CONFIG_E_MOVED] = "key moved out of the file",
};

const char *config_strerror(int code)
{
	if (code <= CONFIG_E_FIRST && code >= CONFIG_E_LAST)
		return error_messages[CONFIG_E_FIRST - code];
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

/* The timing values of c's profile into every timing key the file did not
 * set (p NULL: into all of them). */
static void apply_profile(struct config *c, const struct parse *p)
{
	struct config_timing t;

	if (config_profile_timing(c->profile, &t) != 0)
		return; /* never: the value was checked when read */
	if (p == NULL || p->key_line[K_HEARTBEAT] == 0)
		c->heartbeat_ms = t.heartbeat_ms;
	if (p == NULL || p->key_line[K_LEASE] == 0)
		c->lease_ms = t.lease_ms;
	if (p == NULL || p->key_line[K_GRACE] == 0)
		c->grace_ms = t.grace_ms;
	if (p == NULL || p->key_line[K_DRIFT] == 0)
		c->drift_margin_ms = t.drift_margin_ms;
	if (p == NULL || p->key_line[K_ELECTION] == 0)
		c->election_timeout_ms = t.election_timeout_ms;
	if (p == NULL || p->key_line[K_RAFT_HEARTBEAT] == 0)
		c->heartbeat_timeout_ms = t.heartbeat_timeout_ms;
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->profile = CONFIG_PROFILE_DEFAULT;
	apply_profile(c, NULL);
	c->snapshot_threshold = 4096;
	c->snapshot_trailing = 8192;
	c->max_voters = 5;
	c->policy = CONFIG_POLICY_MANUAL; /* only with CONFIG_HAS_POLICY */
	c->max_lag_ms = 1000;
	c->cooldown_ms = 60000;
	c->hook_timeout_ms = 10000;
	c->log_level = LOG_LEVEL_INFO;
	c->tls_require = 1;
	c->local_sync = 1;
	c->local_sync_timeout_ms = 1000;
	c->store_reserve_percent = CONFIG_RESERVE_PERCENT_DEFAULT;
	c->upload_timeout_ms = CONFIG_UPLOAD_TIMEOUT_DEFAULT_MS;
}

/* ---- parse context ------------------------------------------------ */

void config_fail(struct parse *p, int code, unsigned line, const char *fmt, ...)
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

struct quoted config_quote(const char *v)
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
		config_fail(p, CONFIG_E_SYNTAX, p->lineno,
			    "bad section header, expected '[name]'");
		return;
	}
	len = (size_t)(close - line - 1);
	for (i = 0; i < SEC_COUNT; i++) {
		if (strlen(config_section_names[i]) == len &&
		    memcmp(config_section_names[i], line + 1, len) == 0) {
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
	config_fail(p, CONFIG_E_UNKNOWN, p->lineno, "unknown section [%s]",
		    name);
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
		config_fail(p, CONFIG_E_SYNTAX, p->lineno,
			    "line contains a nul byte");
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
		config_fail(p, CONFIG_E_SYNTAX, p->lineno,
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
		config_fail(p, CONFIG_E_SYNTAX, p->lineno,
			    "key %s outside of any section",
			    config_quote(name).s);
		return 0;
	}
	for (i = 0; i < K_COUNT; i++)
		if (keys[i].section == p->section &&
		    strcmp(keys[i].name, name) == 0)
			break;
	if (i == K_COUNT) {
		config_fail(p, CONFIG_E_UNKNOWN, p->lineno,
			    "unknown key %s in [%s]", config_quote(name).s,
			    config_section_names[p->section]);
		return 0;
	}
	if (p->key_line[i] != 0) {
		config_fail(p, CONFIG_E_DUPLICATE, p->lineno,
			    "duplicate key '%s' in [%s], first set on line %u",
			    keys[i].name, config_section_names[p->section],
			    p->key_line[i]);
		return 0;
	}
	p->key_line[i] = p->lineno;
	return config_set_value(p, &keys[i], value) == 0;
}

/* ---- checks across keys ------------------------------------------- */

static unsigned later(const struct parse *p, int a, int b)
{
	return p->key_line[a] > p->key_line[b] ? p->key_line[a]
					       : p->key_line[b];
}

/* ", profile NAME" when key k has its value from a profile the file
 * names, "" otherwise. */
static void from_profile(const struct parse *p, int k, char *buf, size_t len)
{
	buf[0] = '\0';
	if (p->key_line[k] == 0 && p->key_line[K_PROFILE] != 0)
		snprintf(buf, len, ", profile %s",
			 config_profile_name(p->c->profile));
}

static void check_less(struct parse *p, int small, int big, uint32_t sv,
		       uint32_t bv)
{
	char sf[32], bf[32];

	if (sv < bv)
		return;
	from_profile(p, small, sf, sizeof sf);
	from_profile(p, big, bf, sizeof bf);
	config_fail(p, CONFIG_E_CONFLICT, later(p, small, big),
		    "[%s] %s (%ums%s) must be less than %s (%ums%s)",
		    config_section_names[keys[small].section], keys[small].name,
		    sv, sf, keys[big].name, bv, bf);
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
		config_fail(
		    p, CONFIG_E_CONFLICT, p->key_line[K_BOOTSTRAP],
		    "[cluster] bootstrap does not list this agent's id %llu",
		    (unsigned long long)c->agent_id);
		return;
	}
	if (self->port != c->listen_raft.port ||
	    strcasecmp(self->host, c->listen_raft.host) != 0)
		config_fail(p, CONFIG_E_CONFLICT, p->key_line[K_BOOTSTRAP],
			    "[cluster] bootstrap lists id %llu at %s, not at "
			    "[listen] raft %s",
			    (unsigned long long)self->id, self->address,
			    c->listen_raft.address);
}

int config_host_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0; /* another name: what it resolves to is not known here */
}

const char *config_insecure(const struct config *c)
{
	if (!c->insecure)
		return NULL;
	if (c->tls_ca[0] == '\0')
		return "no [tls]: raft, replication and the API are neither "
		       "authenticated nor encrypted";
	return "[tls] require = false: raft and replication accept plain "
	       "peers, neither authenticated nor encrypted";
}

/* The first of raft, data and api (data and api only when in, bits 1 and
 * 2) that is not on a loopback address, its key in *k; NULL when none. */
static const struct config_addr *open_listener(const struct parse *p,
					       unsigned in, int *k)
{
	static const int order[] = {K_RAFT, K_DATA, K_API};
	const struct config_addr *a[] = {&p->c->listen_raft,
					 &p->c->listen_data,
					 &p->c->listen_api};

	for (unsigned i = 0; i < 3; i++) {
		if (i > 0 && !(in & (1u << i)))
			continue;
		if (p->key_line[order[i]] != 0 &&
		    !config_host_loopback(a[i]->host)) {
			*k = order[i];
			return a[i];
		}
	}
	return NULL;
}

/* Without [tls], or with [tls] require = false (plain raft and replication
 * peers accepted; the API requires TLS all the same), a listener that is
 * not on a loopback address needs [listen] insecure = true; with [tls]
 * requiring TLS on every link the key has nothing to allow, and is
 * refused. */
static void check_insecure(struct parse *p)
{
	const struct config *c = p->c;
	const struct config_addr *a;
	int k = K_RAFT;

	if (c->tls_ca[0] != '\0' && c->tls_require) {
		if (c->insecure)
			config_fail(p, CONFIG_E_CONFLICT,
				    p->key_line[K_INSECURE],
				    "[listen] insecure = true, but [tls] "
				    "requires TLS on every link: nothing is "
				    "insecure; remove the key");
		return;
	}
	if (c->insecure)
		return;
	if (c->tls_ca[0] == '\0') {
		a = open_listener(p, 6, &k);
		if (a != NULL)
			config_fail(p, CONFIG_E_CONFLICT, p->key_line[k],
				    "[listen] %s %s is not a loopback address "
				    "and there is no [tls] section: nothing "
				    "on it would be authenticated; add [tls] "
				    "or set [listen] insecure = true",
				    keys[k].name, a->address);
		return;
	}
	a = open_listener(p, 2, &k);
	if (a != NULL)
		config_fail(p, CONFIG_E_CONFLICT, p->key_line[K_TLS_REQUIRE],
			    "[tls] require = false accepts plain peers on "
			    "[listen] %s %s, which is not a loopback address: "
			    "set [listen] insecure = true to allow it",
			    keys[k].name, a->address);
}

static void check(struct parse *p)
{
	const struct config *c = p->c;
	int i;

	for (i = 0; i < K_COUNT; i++)
		if (keys[i].required && p->key_line[i] == 0)
			config_fail(p, CONFIG_E_MISSING, 0, "missing [%s] %s",
				    config_section_names[keys[i].section],
				    keys[i].name);
	if (c->pool[0] != '\0' && p->key_line[K_DATA] == 0)
		config_fail(
		    p, CONFIG_E_MISSING, 0,
		    "missing [listen] data (required when [agent] pool is "
		    "set)");
	if (p->key_line[K_BOOTSTRAP] == 0 && p->key_line[K_JOIN] == 0)
		config_fail(p, CONFIG_E_MISSING, 0,
			    "missing [cluster] bootstrap or join");
	if (p->key_line[K_TLS_CA] != 0 || p->key_line[K_TLS_CERT] != 0 ||
	    p->key_line[K_TLS_KEY] != 0 || p->key_line[K_TLS_REQUIRE] != 0 ||
	    p->key_line[K_TLS_CRL] != 0)
		for (i = K_TLS_CA; i <= K_TLS_KEY; i++)
			if (p->key_line[i] == 0)
				config_fail(
				    p, CONFIG_E_MISSING, 0,
				    "missing [tls] %s (ca, cert and key go "
				    "together)",
				    keys[i].name);
	if (p->key_line[K_JOIN] != 0 && p->key_line[K_TLS_CA] == 0 &&
	    strncmp(c->join, "https://", 8) == 0)
		config_fail(p, CONFIG_E_CONFLICT, p->key_line[K_JOIN],
			    "[cluster] join %s is https but there is no [tls] "
			    "section",
			    c->join);
	if (p->key_line[K_PEERS] != 0 && p->key_line[K_TLS_CA] == 0)
		for (i = 0; (unsigned)i < c->n_peers; i++)
			if (strncmp(c->peers[i], "https://", 8) == 0) {
				config_fail(p, CONFIG_E_CONFLICT,
					    p->key_line[K_PEERS],
					    "[cluster] peers %s is https but "
					    "there is no [tls] section",
					    c->peers[i]);
				break;
			}
	if (p->key_line[K_BOOTSTRAP] != 0 && p->key_line[K_JOIN] != 0)
		config_fail(
		    p, CONFIG_E_CONFLICT, later(p, K_BOOTSTRAP, K_JOIN),
		    "[cluster] bootstrap and join are mutually exclusive");
	if (p->key_line[K_BOOTSTRAP] != 0)
		check_bootstrap(p);
	check_insecure(p);
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
		config_fail(&p, CONFIG_E_SYNTAX, (unsigned)rv,
			    "expected '[section]' or 'key = value'");
	}
	if (p.err == 0) {
		/* a profile set anywhere in the file: its defaults, under the
		 * keys the file sets, before the checks across keys */
		apply_profile(p.c, &p);
		check(&p);
	}
	p.c->failover_keys = (p.key_line[K_POLICY] ? CONFIG_HAS_POLICY : 0) |
			     (p.key_line[K_MAX_LAG] ? CONFIG_HAS_MAX_LAG : 0) |
			     (p.key_line[K_COOLDOWN] ? CONFIG_HAS_COOLDOWN : 0);
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
