/* config_internal: types and helpers shared by the two parts of the config
 * module, the loader (config.c) and the value setters (config_value.c). Not
 * part of the module's interface: only those files include it. */
#ifndef POOLPAIR_AGENT_CONFIG_INTERNAL_H
#define POOLPAIR_AGENT_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/config.h"

enum section {
	SEC_AGENT,
	SEC_LISTEN,
	SEC_CLUSTER,
	SEC_FAILOVER,
	SEC_TLS,
	SEC_LOG,
	SEC_REPLICATION,
	SEC_STORE,
	SEC_CONTENT,
	SEC_COUNT,
	SEC_NONE = -1,	  /* before the first header */
	SEC_UNKNOWN = -2, /* after a header that was refused */
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
	T_URLS,	    /* URL, URL, ... ([cluster] peers) */
	T_DURATION, /* milliseconds, may be 0 */
	T_TIMEOUT,  /* milliseconds, more than 0 */
	T_COUNT,    /* uint32_t, 1..UINT32_MAX */
	T_VOTERS,   /* 1, 3 or 5 */
	T_POLICY,   /* auto | manual */
	T_LEVEL,    /* log level name */
	T_MOVED,     /* refused: the key moved out of the file */
	T_BOOL,	     /* true | false (int 1 | 0) */
	T_SYNC_WAIT, /* milliseconds, CONFIG_SYNC_WAIT_MIN_MS..MAX_MS */
	T_RESERVE,   /* a size or a percentage (config_size.c) */
	T_PROFILE,   /* a timing profile name (config_profile.c) */
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
	K_INSECURE,
	K_BOOTSTRAP,
	K_JOIN,
	K_PEERS,
	K_ELECTION,
	K_RAFT_HEARTBEAT,
	K_SNAP_THRESHOLD,
	K_SNAP_TRAILING,
	K_MAX_VOTERS,
	K_PROFILE,
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
	K_TLS_REQUIRE,
	K_TLS_CRL,
	K_LOG_LEVEL,
	K_REPL_MODE,
	K_SYNC_TIMEOUT,
	K_LOCAL_SYNC,
	K_LOCAL_SYNC_TIMEOUT,
	K_STORE_RESERVE,
	K_UPLOAD_TIMEOUT,
	K_COUNT
};

/* One key of the table in config.c: where it lives, how its value is read,
 * which struct config field receives it and which source file acts on it
 * (see config_key_get()). */
struct key_def {
	int section;
	const char *name;
	int type;
	size_t offset;	     /* of the field in struct config */
	size_t size;	     /* of that field */
	const char *field;   /* its name */
	bool required;
	const char *used_by; /* "agent/members.c": reads the field */
};

/* State of one config_load(), passed to every helper. */
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

/* A value quoted in a message: at most 64 characters shown, control
 * characters shown as '?'. */
struct quoted {
	char s[72];
};

/* "[agent]" etc. by enum section (config.c). */
extern const char *const config_section_names[SEC_COUNT];

/* Record the first error of the parse: code, line and the formatted text;
 * later calls do nothing (config.c). */
void config_fail(struct parse *p, int code, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* v (not NULL) quoted for a message (config.c). */
struct quoted config_quote(const char *v);

/* Set the field of key k from value, the text after '=' at p->lineno
 * (config_value.c). Returns 0, or a negative CONFIG_E_* code after
 * config_fail has recorded why. */
int config_set_value(struct parse *p, const struct key_def *k,
		     const char *value);

/* Set [store] reserve (store_reserve and store_reserve_percent) from
 * value (config_size.c); same contract as config_set_value. */
int config_set_reserve(struct parse *p, const struct key_def *k,
		       const char *value);

static inline bool config_is_digit(char c) { return c >= '0' && c <= '9'; }

/* The start every number value shares (config_value.c): 0 when s begins
 * with a digit, else CONFIG_E_EMPTY (NULL or ""), CONFIG_E_NEGATIVE ("-"
 * then a digit) or CONFIG_E_INVALID. */
int config_number_start(const char *s);

#endif
