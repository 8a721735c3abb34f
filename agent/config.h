/* config: the INI configuration file of poolpaird (`poolpaird -c FILE`).
 *
 * Parsed with inih. Every key is known: an unknown section or key, a
 * duplicate key, a line that is neither `[section]` nor `key = value`, or a
 * value that does not fit its type is an error. Errors read
 * `FILE:LINE: message`; only a missing key (or a missing group of keys,
 * such as part of [tls]) reads `FILE: missing [section] key`. The first
 * error wins.
 *
 *   [agent]     name, id, site, pool (omit for a witness), data_dir
 *   [listen]    raft, data (required with pool), api          host:port
 *               insecure (true|false, default false): required when a
 *               listener is not on a loopback address (127.0.0.0/8, ::1,
 *               localhost; any other name counts as not loopback) without
 *               [tls], or with [tls] require = false and raft or data not
 *               on loopback; refused with [tls] requiring TLS (nothing to
 *               allow)
 *   [cluster]   bootstrap = id@host:port, ...  | join = http://host:port
 *               (or https://host:port, only with [tls])
 *               peers = URL, ... (the other members' API, asked on an
 *               empty data_dir: agent/rejoin.h)
 *               election_timeout, heartbeat_timeout, snapshot_threshold,
 *               snapshot_trailing, max_voters
 *   [failover]  profile (default | fast: the timing set, see below),
 *               heartbeat, lease, grace, drift_margin, policy,
 *               max_lag_on_failover, cooldown, pre_failover, fence_command,
 *               on_owner_change, hook_timeout
 *   [tls]       ca, cert, key (all three or none), require (true|false,
 *               default true; needs the other three), crl (optional: the
 *               CA's revocation list; needs the other three)
 *   [log]       level
 *   [replication] local_sync (true|false, default true: a write is
 *               answered once one local standby has it too),
 *               local_sync_timeout_ms (CONFIG_SYNC_WAIT_MIN_MS..
 *               CONFIG_SYNC_WAIT_MAX_MS, default 1000); mode and
 *               sync_timeout, once here, are refused (CONFIG_E_MOVED) with
 *               a pointer to the pair's mode, a property of the pair in
 *               the replicated state (`poolpairctl pair mode`)
 *   [store]     reserve (a size or N%, default 1%: the space kept free on
 *               the filesystem of data_dir, replication/store.h)
 *   [content]   upload_timeout (a duration, default 10m: incomplete
 *               uploads unchanged this long are removed)
 *
 * Syntax (inih): `;` and `#` start a comment line; ` ;` starts a comment
 * after a value (so no value, hook commands included, can hold " ;");
 * leading and trailing blanks are ignored; `key: value` is accepted for
 * `key = value`. There are no continuation lines. A line holds
 * at most CONFIG_LINE_MAX characters (inih's line buffer): a longer line is
 * an error, never cut.
 *
 * Timing profiles: [failover] profile names the set of defaults of the
 * six timing keys, [failover] heartbeat, lease, grace, drift_margin and
 * [cluster] election_timeout, heartbeat_timeout (config_profile.c has the
 * values). A timing key the file sets wins over its profile's default,
 * wherever it stands in the file; the checks across keys (heartbeat <
 * lease, drift_margin < lease, heartbeat_timeout < election_timeout) run
 * on the effective values. An unknown profile is refused.
 *
 * Durations: `250ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare integer meaning
 * milliseconds; a whole number of milliseconds up to UINT32_MAX.
 *
 * Host and port: `HOST:PORT` where HOST is an IPv4 literal, a host name
 * (such as `localhost`) or a bracketed IPv6 literal (`[::1]:7001`), and PORT
 * is 1..65535. The host is stored without brackets.
 *
 * No function here keeps a pointer to its arguments. config_load() reads a
 * file: call it at start, not on the event loop. */
#ifndef POOLPAIR_CONFIG_H
#define POOLPAIR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_NAME_LEN                                                        \
	64 /* agent name, site, pool: 1..63 of [A-Za-z0-9._-]                  \
	    */
#define CONFIG_PATH_LEN 4096 /* paths: up to 4095 characters */
#define CONFIG_ADDR_LEN 128  /* host:port as written */
#define CONFIG_HOST_LEN 100  /* host alone, without brackets */
#define CONFIG_URL_LEN 256
#define CONFIG_COMMAND_LEN 1024 /* hook command lines */
#define CONFIG_ERRMSG_LEN 512
#define CONFIG_MAX_BOOTSTRAP 16
#define CONFIG_LINE_MAX 197	/* longest line inih's buffer holds */
#define CONFIG_ID_MAX INT64_MAX /* ids fit a signed 64-bit (JSON) integer */
/* [store] reserve: its default and largest percentage. */
#define CONFIG_RESERVE_PERCENT_DEFAULT 1
#define CONFIG_RESERVE_PERCENT_MAX 50
/* [content] upload_timeout: its default (10 minutes). */
#define CONFIG_UPLOAD_TIMEOUT_DEFAULT_MS 600000
/* Bounds of [replication] local_sync_timeout_ms. */
#define CONFIG_SYNC_WAIT_MIN_MS 10
#define CONFIG_SYNC_WAIT_MAX_MS 3600000

/* Error codes: 0 is success; these are negative, in this module's range
 * -5101..-5199 (README, "Error codes"). */
enum config_error {
	CONFIG_E_IO = -5101,	    /* cannot open or read the file */
	CONFIG_E_NOMEM = -5102,	    /* out of memory */
	CONFIG_E_SYNTAX = -5103,    /* not `[section]` nor `key = value`, line
				       too long */
	CONFIG_E_UNKNOWN = -5104,   /* unknown section or key */
	CONFIG_E_DUPLICATE = -5105, /* a key set twice */
	CONFIG_E_MISSING = -5106,   /* a required key is absent */
	CONFIG_E_CONFLICT = -5107,  /* keys that contradict each other */
	CONFIG_E_INVALID = -5108,   /* a value is badly formed */
	CONFIG_E_EMPTY = -5109,	    /* a value is empty */
	CONFIG_E_TOO_LONG = -5110,  /* a value does not fit its buffer */
	CONFIG_E_NEGATIVE = -5111, /* a negative number where none is allowed */
	CONFIG_E_OVERFLOW = -5112, /* a number too large for its type */
	CONFIG_E_RANGE = -5113,	   /* a number outside its allowed range */
	CONFIG_E_NO_PORT = -5114,  /* host:port without a port */
	CONFIG_E_BAD_PORT = -5115, /* port not a number */
	CONFIG_E_BAD_HOST = -5116, /* host empty or not a valid name/address */
	CONFIG_E_MOVED = -5117,	   /* a key that is no longer in the file */
};
#define CONFIG_E_FIRST CONFIG_E_IO
#define CONFIG_E_LAST CONFIG_E_MOVED

/* Lowercase description of a code ("missing port"); "unknown error" for a
 * code that is not one of the above. Static string. */
const char *config_strerror(int code);

enum config_policy {
	CONFIG_POLICY_MANUAL = 0, /* failover only when an operator asks */
	CONFIG_POLICY_AUTO = 1, /* the leader fails over a pool that is down */
};

/* Which of the [failover] policy keys the file sets (struct config
 * failover_keys). They are the cluster's policy, committed through Raft:
 * an agent leading a cluster whose policy was never set proposes the keys
 * its file sets; afterwards a file that disagrees with the committed
 * policy is warned about (agent/policy.h). */
enum config_failover_key {
	CONFIG_HAS_POLICY = 1,	 /* policy */
	CONFIG_HAS_MAX_LAG = 2,	 /* max_lag_on_failover */
	CONFIG_HAS_COOLDOWN = 4, /* cooldown */
};

/* "manual" or "auto" ("?" when out of range). Static string. */
const char *config_policy_name(int policy);

/* [failover] profile: a set of defaults of the timing keys. */
enum config_profile {
	CONFIG_PROFILE_DEFAULT = 0, /* lease 2 s: tolerant, RTO ~2.5 s */
	CONFIG_PROFILE_FAST = 1,    /* lease 500 ms: RTO under 1 s, less
				       tolerant of pauses and WAN jitter */
	CONFIG_PROFILE_COUNT = 2,
};

/* The six timing values a profile sets, in milliseconds. */
struct config_timing {
	uint32_t heartbeat_ms;	       /* [failover] heartbeat */
	uint32_t lease_ms;	       /* [failover] lease */
	uint32_t grace_ms;	       /* [failover] grace */
	uint32_t drift_margin_ms;      /* [failover] drift_margin */
	uint32_t election_timeout_ms;  /* [cluster] election_timeout */
	uint32_t heartbeat_timeout_ms; /* [cluster] heartbeat_timeout */
};

/* "default" or "fast" ("?" when out of range). Static string. */
const char *config_profile_name(int profile);

/* The profile named name (enum config_profile), or -1 when none is. */
int config_profile_find(const char *name);

/* Fill *out with the timing set of profile and return 0; -1 (and *out
 * untouched) when profile is out of range. */
int config_profile_timing(int profile, struct config_timing *out);

/* A host:port as written and split. */
struct config_addr {
	char address[CONFIG_ADDR_LEN]; /* as written, "" when not set */
	char host[CONFIG_HOST_LEN];    /* IPv6 without brackets */
	uint16_t port;		       /* 0 when not set */
};

/* One entry of [cluster] bootstrap: `id@host:port`. */
struct config_peer {
	uint64_t id;
	char address[CONFIG_ADDR_LEN]; /* host:port as written */
	char host[CONFIG_HOST_LEN];
	uint16_t port;
};

/* The whole configuration. Plain data: copy it freely. Optional strings are
 * "" when not set. */
struct config {
	char path[CONFIG_PATH_LEN]; /* the file it was loaded from */

	/* [agent] */
	char agent_name[CONFIG_NAME_LEN];
	uint64_t agent_id; /* 1..CONFIG_ID_MAX */
	char site[CONFIG_NAME_LEN];
	char pool[CONFIG_NAME_LEN]; /* "" for a witness */
	char data_dir[CONFIG_PATH_LEN];

	/* [listen] */
	struct config_addr listen_raft;
	struct config_addr listen_data; /* unset (port 0) for a witness */
	struct config_addr listen_api;
	int insecure; /* 1: links without authentication allowed where not
			 on loopback (see config_insecure()) */

	/* [cluster]: exactly one of bootstrap (n_bootstrap > 0) and join */
	struct config_peer bootstrap[CONFIG_MAX_BOOTSTRAP];
	unsigned n_bootstrap;
	char join[CONFIG_URL_LEN]; /* http:// or https:// URL of a member's API
				    */
	/* the API URLs of the other members, asked on an empty data_dir
	 * whether a cluster already exists (agent/rejoin.h) */
	char peers[CONFIG_MAX_BOOTSTRAP][CONFIG_URL_LEN];
	unsigned n_peers;
	/* not a key: `poolpaird --first-start` (a bootstrap member with no
	 * peers may bootstrap an empty Raft directory) */
	int first_start; /* 1: given */
	uint32_t election_timeout_ms;  /* default 500 */
	uint32_t heartbeat_timeout_ms; /* default 100, < election */
	uint32_t snapshot_threshold;   /* default 4096 */
	uint32_t snapshot_trailing;    /* default 8192 */
	unsigned max_voters;	       /* 1, 3 or 5; default 5 */

	/* [failover] */
	int profile;		  /* enum config_profile, default "default":
				     the defaults of the six timing keys */
	uint32_t heartbeat_ms;	  /* default 250, < lease */
	uint32_t lease_ms;	  /* default 2000 */
	uint32_t grace_ms;	  /* default 500 */
	uint32_t drift_margin_ms; /* default 100, < lease */
	/* the cluster's policy as this file wants it, each only with its
	 * flag in failover_keys (the defaults are the FSM's) */
	int policy;		  /* enum config_policy */
	uint32_t max_lag_ms;	  /* max_lag_on_failover, 1000 */
	uint32_t cooldown_ms;	  /* 60000 */
	unsigned failover_keys;	  /* enum config_failover_key flags */
	char pre_failover[CONFIG_COMMAND_LEN];
	char fence_command[CONFIG_COMMAND_LEN];
	char on_owner_change[CONFIG_COMMAND_LEN];
	uint32_t hook_timeout_ms; /* default 10000 */

	/* [tls]: all three or none */
	char tls_ca[CONFIG_PATH_LEN];
	char tls_cert[CONFIG_PATH_LEN];
	char tls_key[CONFIG_PATH_LEN];
	int tls_require; /* 1 (default): every link TLS; 0: plain peers
			    also accepted on incoming links (migration) */
	char tls_crl[CONFIG_PATH_LEN]; /* "" or the CA's CRL (PEM) */

	/* [log] */
	int log_level; /* enum log_level, default info */

	/* [replication] */
	int local_sync;		       /* 1 (default): writes wait for one
					  local standby; 0: never */
	uint32_t local_sync_timeout_ms; /* default 1000: the standby silent
					   this long is dropped */

	/* [store] reserve: a percentage of the filesystem holding data_dir
	 * (store_reserve_percent, 1..CONFIG_RESERVE_PERCENT_MAX, default
	 * CONFIG_RESERVE_PERCENT_DEFAULT) or bytes (store_reserve, with
	 * store_reserve_percent 0; 0: no reserve) */
	uint64_t store_reserve;
	unsigned store_reserve_percent;
	/* [content] upload_timeout: an incomplete content item unchanged
	 * this long is removed (agent/content.h) */
	uint32_t upload_timeout_ms;

	char errmsg[CONFIG_ERRMSG_LEN]; /* first error of config_load() */
};

/* The key table, for tests and documentation: one entry per key the
 * file may hold. Strings are static. */
struct config_key_info {
	const char *section; /* "failover" */
	const char *name;    /* "lease" */
	const char *field;   /* the struct config member it sets: "lease_ms" */
	const char *used_by; /* the source file acting on that member, from
				the top of the tree: "agent/members.c" */
	int refused;	     /* 1: the key is refused (it moved out of the
				file); field and used_by are NULL */
};

/* Number of keys; config_key_get() fills *out for key i < that count
 * and returns 0, or returns -1. */
unsigned config_key_count(void);
int config_key_get(unsigned i, struct config_key_info *out);

/* 1 when host (as stored, without brackets) is a loopback address:
 * "localhost" (any case), an IPv4 literal in 127.0.0.0/8, "::1" or an
 * IPv4-mapped 127.x.y.z; 0 for anything else, other host names included
 * (0.0.0.0 and :: listen everywhere). */
int config_host_loopback(const char *host);

/* Why this agent runs insecure, a static string for logs and /v1/status
 * ("no [tls]: ..." or "[tls] require = false: ..."); NULL when
 * [listen] insecure is not set (a loaded config never sets it with [tls]
 * requiring TLS). */
const char *config_insecure(const struct config *c);

/* Fill *c with the defaults above: every string empty, no bootstrap, ids
 * and ports 0. Never fails. */
void config_defaults(struct config *c);

/* The effective timing values of c. */
void config_timing_of(const struct config *c, struct config_timing *out);

/* One line naming c's profile and its effective timing values (the file's
 * keys included), for `poolpaird --check` and the start-up log:
 * "profile fast: heartbeat 100ms, lease 500ms, ...". Returns what
 * snprintf returns. */
int config_timing_describe(const struct config *c, char *buf, size_t len);

/* Load `path` (borrowed) into *c: defaults, then the file, then checks
 * across keys. Returns 0, or a negative enum config_error with c->errmsg
 * set to "FILE:LINE: message" (FILE being `path` as given). On error every
 * field of *c but errmsg is left as it was. Blocking file I/O. */
int config_load(struct config *c, const char *path);

/* Parse a duration (see above) into *ms. Returns 0, or CONFIG_E_EMPTY,
 * CONFIG_E_NEGATIVE, CONFIG_E_OVERFLOW (more than UINT32_MAX ms) or
 * CONFIG_E_INVALID (anything else, including sub-millisecond precision);
 * *ms is untouched on error. s may be NULL (CONFIG_E_EMPTY). */
int config_parse_duration(const char *s, uint32_t *ms);

/* Parse a size: decimal bytes, optionally followed by K, KiB, M, MiB, G,
 * GiB, T or TiB (powers of 1024), into *bytes (*percent set to 0 when not
 * NULL); or, when percent is not NULL, "N%" with N in
 * 1..CONFIG_RESERVE_PERCENT_MAX into *percent (*bytes set to 0). Returns
 * 0, or CONFIG_E_EMPTY, CONFIG_E_NEGATIVE, CONFIG_E_OVERFLOW (more than
 * 2^64 - 1 bytes), CONFIG_E_RANGE (a percentage out of bounds) or
 * CONFIG_E_INVALID; the outputs are untouched on error. */
int config_parse_size(const char *s, uint64_t *bytes, unsigned *percent);

/* Split "HOST:PORT" (see above). host receives the host, without brackets,
 * NUL-terminated, in hostlen bytes. Returns 0, or CONFIG_E_EMPTY,
 * CONFIG_E_NO_PORT (no ":PORT"), CONFIG_E_BAD_PORT (not digits),
 * CONFIG_E_RANGE (port 0 or above 65535), CONFIG_E_BAD_HOST (empty host,
 * bad name or literal), CONFIG_E_TOO_LONG (host does not fit hostlen).
 * host and *port are untouched on error. */
int config_parse_hostport(const char *s, char *host, size_t hostlen,
			  uint16_t *port);

#endif
