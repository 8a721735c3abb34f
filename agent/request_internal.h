/* request_internal: what the files of the request module share: errors,
 * JSON field readers and the name and address rules (request_json.c),
 * shared object parsers and Command encoding (request.c), used by
 * request.c, request_pause.c and request_topology.c. Not part of the
 * module's interface: only those files include it. */
#ifndef POOLPAIR_AGENT_REQUEST_INTERNAL_H
#define POOLPAIR_AGENT_REQUEST_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/request.h"
#include "consensus/cmd.h"
#include "consensus/fsm.h"
#include "control.pb-c.h"

#if JSON_INTEGER_IS_LONG_LONG
#define REQUEST_JINT_MAX LLONG_MAX
#else
#define REQUEST_JINT_MAX LONG_MAX
#endif

/* ---- errors ---- */

/* Fill err (when non-NULL) with code and the formatted message and return
 * rc. The status follows rc: 413 for -EMSGSIZE, 500 for -ENOMEM, 400
 * otherwise. */
int request_fail(struct request_error *err, int rc, const char *code,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* request_fail with -ENOMEM, "internal", "out of memory". */
int request_fail_nomem(struct request_error *err);

/* ---- values ---- */

/* s[0..n) is a valid name: 1..FSM_NAME_LEN-1 bytes of [A-Za-z0-9._-], not
 * starting with '-'. */
bool request_name_ok(const char *s, size_t n);

/* s[0..n) is host:port: host a name or IPv4 of [A-Za-z0-9._-] or a
 * bracketed IPv6 literal, port 1..65535 in decimal; shorter than
 * FSM_ADDR_LEN, no NUL inside. */
bool request_address_ok(const char *s, size_t n);

/* ---- JSON ----
 * `where` is the prefix shown before a key in messages ("" or
 * "topology.pools[3]."); every reader returns 0 or a negative code with
 * err filled in by request_fail. */

/* Parse a body of len bytes (body may be NULL when len is 0) into a JSON
 * object; on success *root is owned by the caller (json_decref). */
int request_parse_body(const char *body, size_t len, json_t **root,
		       struct request_error *err);

/* Every key of obj must be one of `allowed` (NULL-terminated). */
int request_check_keys(const json_t *obj, const char *where,
		       const char *const *allowed, struct request_error *err);

/* Look up key into *v (borrowed from obj); *v is NULL and 0 is returned
 * when the key is absent and not required. */
int request_get_field(const json_t *obj, const char *where, const char *key,
		      bool required, json_t **v, struct request_error *err);

/* Refuse field where+key as "must be <what>". Returns -EINVAL. */
int request_bad_type(struct request_error *err, const char *where,
		     const char *key, const char *what);

/* A name field into out (FSM_NAME_LEN bytes); "" when absent. */
int request_get_name(const json_t *obj, const char *where, const char *key,
		     bool required, char *out, struct request_error *err);

/* Optional "mode" (async|sync) and "sync_timeout_ms" (1..
 * REQUEST_MAX_DURATION_MS) of a pair: *has_mode says whether the mode was
 * given, *mode gets it (async when absent), *timeout_ms the timeout (0
 * when absent). */
int request_get_repl_mode(const json_t *obj, const char *where,
			  bool *has_mode, int *mode, uint32_t *timeout_ms,
			  struct request_error *err);

/* A string that must be one of `choices` (NULL-terminated) into out
 * (outlen bytes, larger than every choice); "" when absent. */
int request_get_choice(const json_t *obj, const char *where, const char *key,
		       bool required, const char *const *choices, char *out,
		       size_t outlen, struct request_error *err);

/* An integer in min..max into *out; *present false (and *out untouched)
 * when absent and optional. */
int request_get_int(const json_t *obj, const char *where, const char *key,
		    bool required, json_int_t min, json_int_t max,
		    json_int_t *out, bool *present, struct request_error *err);

/* An optional boolean; *out untouched when absent. */
int request_get_bool(const json_t *obj, const char *where, const char *key,
		     bool *out, struct request_error *err);

/* ---- objects shared by single requests and the topology ---- */

struct pair_req {
	char a[FSM_NAME_LEN];
	char b[FSM_NAME_LEN];
	bool force;
	bool has_mode;		  /* "mode" given */
	int mode;		  /* enum fsm_repl_mode (async when absent) */
	uint32_t sync_timeout_ms; /* 0 when absent */
};

/* {name, site, edition, kind, os, capacity?} into *p (zeroed first). */
int request_parse_pool(const json_t *o, const char *where, struct fsm_pool *p,
		       struct request_error *err);

/* {a, b, force?, mode?, sync_timeout_ms?} into *p (zeroed first). */
int request_parse_pair(const json_t *o, const char *where, struct pair_req *p,
		       struct request_error *err);

/* {name, site, backup_pool} into *s (zeroed first). */
int request_parse_sba(const json_t *o, const char *where, struct fsm_sba *s,
		      struct request_error *err);

/* Fields present in o replace those of *p. */
int request_parse_policy(const json_t *o, const char *where,
			 struct fsm_policy *p, struct request_error *err);

/* As request_parse_policy, also telling which fields were present:
 * has[0] failover, has[1] max_lag_on_failover_ms, has[2] cooldown_ms. */
int request_parse_policy_fields(const json_t *o, const char *where,
				struct fsm_policy *p, bool has[3],
				struct request_error *err);

/* ---- encoding ---- */

/* protobuf-c string fields are not const; the encoders only read them. */
static inline char *request_str(const char *s) { return (char *)s; }

/* Initialise c with ctx's time and who; who (FSM_WHO_LEN bytes, owned by
 * the caller and alive until c is packed) receives the cleaned-up who. */
void request_cmd_init(Poolpair__Command *c, const struct request_ctx *ctx,
		      char *who);

/* Pack c into out->buf (malloc()ed, owned by the caller) and out->len. */
int request_cmd_pack(const Poolpair__Command *c, struct request_cmd *out,
		     struct request_error *err);

/* Fill the protobuf message from the struct; strings are borrowed from
 * the struct, which must outlive the message. */
void request_pb_pool(Poolpair__Pool *pb, const struct fsm_pool *p);
void request_pb_sba(Poolpair__Sba *pb, const struct fsm_sba *s);
void request_pb_policy(Poolpair__Policy *pb, const struct fsm_policy *p);

#endif
