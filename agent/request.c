/* request: JSON request bodies → encoded poolpair.Command. See request.h. */
#include "agent/request.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control.pb-c.h"

#if JSON_INTEGER_IS_LONG_LONG
#define JINT_MAX LLONG_MAX
#else
#define JINT_MAX LONG_MAX
#endif

#define FIELD_LEN 96 /* "topology.pools[63].backup_pool" and printable keys */

static const char *const editions[] = {"enterprise", "standard", NULL};
static const char *const kinds[] = {"physical", "virtual", NULL};
static const char *const failovers[] = {"auto", "manual", NULL};
static const char *const roles[] = {"voter", "standby", "spare", NULL};

/* ---- errors ---- */

static int fail(struct request_error *err, int rc, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fill err (when non-NULL) and return rc. The status follows rc. */
static int fail(struct request_error *err, int rc, const char *code,
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

static int fail_nomem(struct request_error *err)
{
	return fail(err, -ENOMEM, "internal", "out of memory");
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

/* Format into dst; a longer text is cut (the diff is for humans). */
static void say(char *dst, size_t dstlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		dst[0] = '\0';
}

/* ---- values ---- */

static bool name_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n >= FSM_NAME_LEN)
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
static bool address_ok(const char *s, size_t n)
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
	return name_ok(s, hl);
}

/* Copy `who` into dst (FSM_WHO_LEN bytes) as valid UTF-8 without control
 * characters: a bad byte becomes '?'; the copy stops at a character
 * boundary. */
static void who_copy(char *dst, const char *who)
{
	const unsigned char *s = (const unsigned char *)(who ? who : "");
	size_t o = 0;

	while (*s != '\0') {
		size_t len = 1, i;
		unsigned char c = s[0];
		unsigned cp;

		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else if (c >= 0x80)
			len = 0; /* stray continuation or invalid lead */
		for (i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
		}
		if (len >= 3) {
			cp = len == 3 ? (unsigned)(c & 0x0f) << 12 |
					    (unsigned)(s[1] & 0x3f) << 6
				      : (unsigned)(c & 0x07) << 18 |
					    (unsigned)(s[1] & 0x3f) << 12;
			if ((len == 3 &&
			     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
			    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
				len = 0;
		}
		if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f))) {
			if (o + 1 >= FSM_WHO_LEN)
				break;
			dst[o++] = '?';
			s += 1;
			continue;
		}
		if (o + len >= FSM_WHO_LEN)
			break;
		memcpy(dst + o, s, len);
		o += len;
		s += len;
	}
	dst[o] = '\0';
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
static int parse_body(const char *body, size_t len, json_t **root,
		      struct request_error *err)
{
	json_error_t je;
	char text[JSON_ERROR_TEXT_LENGTH];
	json_t *j;

	*root = NULL;
	if (len > REQUEST_MAX_BODY)
		return fail(err, -EMSGSIZE, "too_large",
			    "request body is larger than %d bytes",
			    REQUEST_MAX_BODY);
	if (body == NULL)
		body = "";
	if (too_deep(body, len))
		return fail(err, -EINVAL, "bad_json",
			    "invalid json: nested deeper than %d levels",
			    REQUEST_MAX_DEPTH);
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return fail_nomem(err);
		printable(text, sizeof(text), je.text, strlen(je.text));
		return fail(err, -EINVAL, "bad_json",
			    "invalid json at line %d column %d (byte %d): %s",
			    je.line, je.column, je.position, text);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return fail(err, -EINVAL, "bad_json",
			    "request body must be a json object");
	}
	*root = j;
	return 0;
}

/* Every key of obj must be one of `allowed` (NULL-terminated). */
static int check_keys(const json_t *obj, const char *where,
		      const char *const *allowed, struct request_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		const char *const *a;
		char f[FIELD_LEN];

		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL) {
			field_name(f, sizeof(f), where, key);
			return fail(err, -EINVAL, "unknown_field",
				    "unknown field '%s'", f);
		}
	}
	return 0;
}

/* Look up key; NULL and 0 when absent and optional. */
static int get_field(const json_t *obj, const char *where, const char *key,
		     bool required, json_t **v, struct request_error *err)
{
	*v = json_object_get(obj, key);
	if (*v == NULL && required)
		return fail(err, -EINVAL, "missing_field",
			    "missing field '%s%s'", where, key);
	return 0;
}

static int bad_type(struct request_error *err, const char *where,
		    const char *key, const char *what)
{
	return fail(err, -EINVAL, "bad_type", "field '%s%s' must be %s", where,
		    key, what);
}

/* A name field into out (FSM_NAME_LEN bytes); "" when absent. */
static int get_name(const json_t *obj, const char *where, const char *key,
		    bool required, char *out, struct request_error *err)
{
	json_t *v;
	int rc;

	out[0] = '\0';
	rc = get_field(obj, where, key, required, &v, err);
	if (rc != 0 || v == NULL)
		return rc;
	if (!json_is_string(v))
		return bad_type(err, where, key, "a string");
	if (!name_ok(json_string_value(v), json_string_length(v)))
		return fail(err, -EINVAL, "invalid",
			    "field '%s%s' must be 1-%d characters of "
			    "[A-Za-z0-9._-]",
			    where, key, FSM_NAME_LEN - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* A string that must be one of `choices` into out (outlen bytes, larger
 * than every choice); "" when absent. */
static int get_choice(const json_t *obj, const char *where, const char *key,
		      bool required, const char *const *choices, char *out,
		      size_t outlen, struct request_error *err)
{
	const char *const *c;
	char list[96] = "";
	size_t used = 0;
	json_t *v;
	int rc;

	out[0] = '\0';
	rc = get_field(obj, where, key, required, &v, err);
	if (rc != 0 || v == NULL)
		return rc;
	if (!json_is_string(v))
		return bad_type(err, where, key, "a string");
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
	return fail(err, -EINVAL, "invalid", "field '%s%s' must be %s", where,
		    key, list);
}

/* An integer in min..max; *present false (and *out untouched) when
 * absent and optional. */
static int get_int(const json_t *obj, const char *where, const char *key,
		   bool required, json_int_t min, json_int_t max,
		   json_int_t *out, bool *present, struct request_error *err)
{
	json_int_t x;
	json_t *v;
	int rc;

	*present = false;
	rc = get_field(obj, where, key, required, &v, err);
	if (rc != 0 || v == NULL)
		return rc;
	if (!json_is_integer(v))
		return bad_type(err, where, key, "an integer");
	x = json_integer_value(v);
	if (x < min || x > max) {
		if (max == JINT_MAX)
			return fail(err, -EINVAL, "invalid",
				    "field '%s%s' must be at least "
				    "%" JSON_INTEGER_FORMAT,
				    where, key, min);
		return fail(err, -EINVAL, "invalid",
			    "field '%s%s' must be between %" JSON_INTEGER_FORMAT
			    " and %" JSON_INTEGER_FORMAT,
			    where, key, min, max);
	}
	*out = x;
	*present = true;
	return 0;
}

/* An optional boolean; *out untouched when absent. */
static int get_bool(const json_t *obj, const char *where, const char *key,
		    bool *out, struct request_error *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return bad_type(err, where, key, "a boolean");
	*out = json_is_true(v);
	return 0;
}

/* ---- objects shared by single requests and the topology ---- */

static int parse_pool(const json_t *o, const char *where, struct fsm_pool *p,
		      struct request_error *err)
{
	static const char *const keys[] = {
	    "name", "site", "edition", "kind", "os", "capacity", NULL};
	json_int_t cap = 0;
	bool present;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = check_keys(o, where, keys, err)) != 0 ||
	    (rc = get_name(o, where, "name", true, p->name, err)) != 0 ||
	    (rc = get_name(o, where, "site", true, p->site, err)) != 0 ||
	    (rc = get_choice(o, where, "edition", true, editions, p->edition,
			     sizeof(p->edition), err)) != 0 ||
	    (rc = get_choice(o, where, "kind", true, kinds, p->kind,
			     sizeof(p->kind), err)) != 0 ||
	    (rc = get_name(o, where, "os", true, p->os, err)) != 0 ||
	    (rc = get_int(o, where, "capacity", false, 0, REQUEST_MAX_CAPACITY,
			  &cap, &present, err)) != 0)
		return rc;
	p->capacity = (uint32_t)cap;
	return 0;
}

struct pair_req {
	char a[FSM_NAME_LEN];
	char b[FSM_NAME_LEN];
	bool force;
};

static int parse_pair(const json_t *o, const char *where, struct pair_req *p,
		      struct request_error *err)
{
	static const char *const keys[] = {"a", "b", "force", NULL};
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = check_keys(o, where, keys, err)) != 0 ||
	    (rc = get_name(o, where, "a", true, p->a, err)) != 0 ||
	    (rc = get_name(o, where, "b", true, p->b, err)) != 0 ||
	    (rc = get_bool(o, where, "force", &p->force, err)) != 0)
		return rc;
	return 0;
}

static int parse_sba(const json_t *o, const char *where, struct fsm_sba *s,
		     struct request_error *err)
{
	static const char *const keys[] = {"name", "site", "backup_pool", NULL};
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = check_keys(o, where, keys, err)) != 0 ||
	    (rc = get_name(o, where, "name", true, s->name, err)) != 0 ||
	    (rc = get_name(o, where, "site", true, s->site, err)) != 0 ||
	    (rc = get_name(o, where, "backup_pool", true, s->backup_pool,
			   err)) != 0)
		return rc;
	return 0;
}

/* Fields present in o replace those of *p. */
static int parse_policy(const json_t *o, const char *where,
			struct fsm_policy *p, struct request_error *err)
{
	static const char *const keys[] = {"failover", "max_lag_on_failover_ms",
					   "cooldown_ms", NULL};
	char failover[sizeof(p->failover)];
	json_int_t lag = 0, cooldown = 0;
	bool has_lag, has_cooldown;
	int rc;

	if ((rc = check_keys(o, where, keys, err)) != 0 ||
	    (rc = get_choice(o, where, "failover", false, failovers, failover,
			     sizeof(failover), err)) != 0 ||
	    (rc = get_int(o, where, "max_lag_on_failover_ms", false, 0,
			  REQUEST_MAX_DURATION_MS, &lag, &has_lag, err)) != 0 ||
	    (rc = get_int(o, where, "cooldown_ms", false, 0,
			  REQUEST_MAX_DURATION_MS, &cooldown, &has_cooldown,
			  err)) != 0)
		return rc;
	if (failover[0] != '\0')
		memcpy(p->failover, failover, sizeof(p->failover));
	if (has_lag)
		p->max_lag_on_failover_ms = (uint32_t)lag;
	if (has_cooldown)
		p->cooldown_ms = (uint32_t)cooldown;
	return 0;
}

/* ---- encoding ---- */

static char *str(const char *s)
{
	return (char *)s; /* protobuf-c fields are not const; only read */
}

static void cmd_init(Poolpair__Command *c, const struct request_ctx *ctx,
		     char *who)
{
	poolpair__command__init(c);
	who_copy(who, ctx->who);
	c->time_ms = ctx->time_ms;
	c->who = who;
}

static int cmd_pack(const Poolpair__Command *c, struct request_cmd *out,
		    struct request_error *err)
{
	size_t len = poolpair__command__get_packed_size(c);
	void *buf = malloc(len > 0 ? len : 1);

	if (buf == NULL)
		return fail_nomem(err);
	out->len = poolpair__command__pack(c, buf);
	out->buf = buf;
	return 0;
}

static void pb_pool(Poolpair__Pool *pb, const struct fsm_pool *p)
{
	poolpair__pool__init(pb);
	pb->name = str(p->name);
	pb->site = str(p->site);
	pb->edition = str(p->edition);
	pb->kind = str(p->kind);
	pb->os = str(p->os);
	pb->capacity = p->capacity;
}

static void pb_sba(Poolpair__Sba *pb, const struct fsm_sba *s)
{
	poolpair__sba__init(pb);
	pb->name = str(s->name);
	pb->site = str(s->site);
	pb->backup_pool = str(s->backup_pool);
}

static void pb_policy(Poolpair__Policy *pb, const struct fsm_policy *p)
{
	poolpair__policy__init(pb);
	pb->failover = str(p->failover);
	pb->max_lag_on_failover_ms = p->max_lag_on_failover_ms;
	pb->cooldown_ms = p->cooldown_ms;
}

static void out_clear(struct request_cmd *out)
{
	out->buf = NULL;
	out->len = 0;
}

/* ---- single commands ---- */

int request_site_add(const char *body, size_t len,
		     const struct request_ctx *ctx, struct request_cmd *out,
		     struct request_error *err)
{
	static const char *const keys[] = {"name", NULL};
	Poolpair__CmdAddSite op = POOLPAIR__CMD_ADD_SITE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN], name[FSM_NAME_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = check_keys(root, "", keys, err);
	if (rc == 0)
		rc = get_name(root, "", "name", true, name, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	op.name = name;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
	c.add_site = &op;
	return cmd_pack(&c, out, err);
}

int request_pool_add(const char *body, size_t len,
		     const struct request_ctx *ctx, struct request_cmd *out,
		     struct request_error *err)
{
	Poolpair__CmdAddPool op = POOLPAIR__CMD_ADD_POOL__INIT;
	Poolpair__Pool pool;
	Poolpair__Command c;
	struct fsm_pool p;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = parse_pool(root, "", &p, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	pb_pool(&pool, &p);
	op.pool = &pool;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c.add_pool = &op;
	return cmd_pack(&c, out, err);
}

int request_pair(const char *body, size_t len, const struct request_ctx *ctx,
		 struct request_cmd *out, struct request_error *err)
{
	Poolpair__CmdPair op = POOLPAIR__CMD_PAIR__INIT;
	Poolpair__Command c;
	struct pair_req p;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = parse_pair(root, "", &p, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	op.a = p.a;
	op.b = p.b;
	op.force = p.force;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_PAIR;
	c.pair = &op;
	return cmd_pack(&c, out, err);
}

int request_sba_add(const char *body, size_t len, const struct request_ctx *ctx,
		    struct request_cmd *out, struct request_error *err)
{
	Poolpair__CmdAddSba op = POOLPAIR__CMD_ADD_SBA__INIT;
	Poolpair__Sba sba;
	Poolpair__Command c;
	struct fsm_sba s;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = parse_sba(root, "", &s, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	pb_sba(&sba, &s);
	op.sba = &sba;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SBA;
	c.add_sba = &op;
	return cmd_pack(&c, out, err);
}

int request_policy_set(const char *body, size_t len,
		       const struct fsm_policy *current,
		       const struct request_ctx *ctx, struct request_cmd *out,
		       struct request_error *err)
{
	Poolpair__CmdSetPolicy op = POOLPAIR__CMD_SET_POLICY__INIT;
	Poolpair__Policy pol;
	Poolpair__Command c;
	struct fsm_policy p = *current;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	p.failover[sizeof(p.failover) - 1] = '\0';
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = parse_policy(root, "", &p, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	pb_policy(&pol, &p);
	op.policy = &pol;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
	c.set_policy = &op;
	return cmd_pack(&c, out, err);
}

int request_member_add(const char *body, size_t len, struct request_member *m,
		       struct request_error *err)
{
	static const char *const keys[] = {"id", "address", "role", NULL};
	json_int_t id = 0;
	bool present;
	json_t *root, *v;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	if ((rc = check_keys(root, "", keys, err)) != 0 ||
	    (rc = get_int(root, "", "id", true, 1, JINT_MAX, &id, &present,
			  err)) != 0 ||
	    (rc = get_field(root, "", "address", true, &v, err)) != 0)
		goto out;
	if (!json_is_string(v)) {
		rc = bad_type(err, "", "address", "a string");
		goto out;
	}
	if (!address_ok(json_string_value(v), json_string_length(v))) {
		rc = fail(err, -EINVAL, "invalid",
			  "field 'address' must be host:port with a port of "
			  "1-65535");
		goto out;
	}
	memcpy(m->address, json_string_value(v), json_string_length(v) + 1);
	rc = get_choice(root, "", "role", false, roles, m->role,
			sizeof(m->role), err);
	m->id = (uint64_t)id;
out:
	json_decref(root);
	if (rc != 0)
		memset(m, 0, sizeof(*m));
	return rc;
}

int request_member_add_parse(const char *body, size_t len, uint64_t *id,
			     char *address, size_t addrlen,
			     struct request_error *err)
{
	struct request_member m;
	size_t n;
	int rc;

	*id = 0;
	if (addrlen > 0)
		address[0] = '\0';
	rc = request_member_add(body, len, &m, err);
	if (rc != 0)
		return rc;
	n = strlen(m.address);
	if (n >= addrlen)
		return fail(err, -EINVAL, "invalid",
			    "field 'address' is longer than %zu characters",
			    addrlen > 0 ? addrlen - 1 : 0);
	memcpy(address, m.address, n + 1);
	*id = m.id;
	return 0;
}

int request_cmd_name(int op, const char *name, const struct request_ctx *ctx,
		     struct request_cmd *out, struct request_error *err)
{
	static const char *const nouns[] = {
	    [REQUEST_REMOVE_SITE] = "site", [REQUEST_REMOVE_POOL] = "pool",
	    [REQUEST_UNPAIR] = "pool",	    [REQUEST_REMOVE_SBA] = "sba",
	    [REQUEST_CMS_PLACE] = "pool",
	};
	union {
		Poolpair__CmdRemoveSite remove_site;
		Poolpair__CmdRemovePool remove_pool;
		Poolpair__CmdUnpair unpair;
		Poolpair__CmdRemoveSba remove_sba;
		Poolpair__CmdCmsPlace cms_place;
	} u;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	out_clear(out);
	if (op < REQUEST_REMOVE_SITE || op > REQUEST_CMS_PLACE)
		return fail(err, -EINVAL, "invalid", "unknown operation %d",
			    op);
	if (name == NULL || !name_ok(name, strnlen(name, FSM_NAME_LEN)))
		return fail(err, -EINVAL, "invalid",
			    "%s name must be 1-%d characters of [A-Za-z0-9._-]",
			    nouns[op], FSM_NAME_LEN - 1);
	cmd_init(&c, ctx, who);
	switch (op) {
	case REQUEST_REMOVE_SITE:
		poolpair__cmd_remove_site__init(&u.remove_site);
		u.remove_site.name = str(name);
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_SITE;
		c.remove_site = &u.remove_site;
		break;
	case REQUEST_REMOVE_POOL:
		poolpair__cmd_remove_pool__init(&u.remove_pool);
		u.remove_pool.name = str(name);
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_POOL;
		c.remove_pool = &u.remove_pool;
		break;
	case REQUEST_UNPAIR:
		poolpair__cmd_unpair__init(&u.unpair);
		u.unpair.pool = str(name);
		c.op_case = POOLPAIR__COMMAND__OP_UNPAIR;
		c.unpair = &u.unpair;
		break;
	case REQUEST_REMOVE_SBA:
		poolpair__cmd_remove_sba__init(&u.remove_sba);
		u.remove_sba.name = str(name);
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_SBA;
		c.remove_sba = &u.remove_sba;
		break;
	default: /* REQUEST_CMS_PLACE */
		poolpair__cmd_cms_place__init(&u.cms_place);
		u.cms_place.pool = str(name);
		c.op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
		c.cms_place = &u.cms_place;
		break;
	}
	return cmd_pack(&c, out, err);
}

#define TERMINATED(arr) (memchr((arr), '\0', sizeof(arr)) != NULL)

int request_cmd_register_member(const struct fsm_member *m,
				const struct request_ctx *ctx,
				struct request_cmd *out)
{
	Poolpair__CmdRegisterMember op = POOLPAIR__CMD_REGISTER_MEMBER__INIT;
	Poolpair__Member mb = POOLPAIR__MEMBER__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	out_clear(out);
	if (!TERMINATED(m->name) || !TERMINATED(m->site) ||
	    !TERMINATED(m->pool) || !TERMINATED(m->raft_address) ||
	    !TERMINATED(m->data_address) || !TERMINATED(m->api_address))
		return -EINVAL;
	mb.id = m->id;
	mb.name = str(m->name);
	mb.site = str(m->site);
	mb.pool = str(m->pool);
	mb.raft_address = str(m->raft_address);
	mb.data_address = str(m->data_address);
	mb.api_address = str(m->api_address);
	op.member = &mb;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c.register_member = &op;
	return cmd_pack(&c, out, NULL);
}

int request_cmd_remove_member(uint64_t id, const struct request_ctx *ctx,
			      struct request_cmd *out)
{
	Poolpair__CmdRemoveMember op = POOLPAIR__CMD_REMOVE_MEMBER__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	out_clear(out);
	op.id = id;
	cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_REMOVE_MEMBER;
	c.remove_member = &op;
	return cmd_pack(&c, out, NULL);
}

/* ---- topology ---- */

#define TOPO_MAX_PAIRS (FSM_MAX_POOLS / 2)

/* The wanted topology, validated. */
struct topo {
	bool has_sites, has_cms, has_policy;
	char sites[FSM_MAX_SITES][FSM_NAME_LEN];
	unsigned n_sites;
	struct fsm_pool pools[FSM_MAX_POOLS];
	unsigned n_pools;
	struct pair_req pairs[TOPO_MAX_PAIRS];
	unsigned n_pairs;
	struct fsm_sba sbas[FSM_MAX_SBAS];
	unsigned n_sbas;
	char cms[FSM_NAME_LEN];
	struct fsm_policy policy; /* merged over the current one */
};

enum step_op {
	STEP_UNPAIR,
	STEP_REMOVE_SBA,
	STEP_REMOVE_POOL,
	STEP_REMOVE_SITE,
	STEP_ADD_SITE,
	STEP_ADD_POOL,
	STEP_PAIR,
	STEP_ADD_SBA,
	STEP_CMS_PLACE,
	STEP_SET_POLICY,
};

static const char *const step_names[] = {
    [STEP_UNPAIR] = "unpair",
    [STEP_REMOVE_SBA] = "remove_sba",
    [STEP_REMOVE_POOL] = "remove_pool",
    [STEP_REMOVE_SITE] = "remove_site",
    [STEP_ADD_SITE] = "add_site",
    [STEP_ADD_POOL] = "add_pool",
    [STEP_PAIR] = "pair",
    [STEP_ADD_SBA] = "add_sba",
    [STEP_CMS_PLACE] = "cms_place",
    [STEP_SET_POLICY] = "set_policy",
};

/* One step; pointers borrow from the struct topo or the state. */
struct step {
	enum step_op op;
	const char *name; /* site, pool or SBA; unpair: one pool of the pair */
	const char *b;	  /* pair: second pool */
	bool force;
	const struct fsm_pool *pool;	 /* add_pool */
	const struct fsm_sba *sba;	 /* add_sba */
	const struct fsm_policy *policy; /* set_policy */
};

struct steps {
	struct step *v;
	struct topology_diff_item *items;
	unsigned n, cap;
};

/* Append a step and its diff line; NULL when out of memory. */
static struct topology_diff_item *steps_push(struct steps *s,
					     const struct step *st)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct step *v = realloc(s->v, cap * sizeof(*v));
		struct topology_diff_item *it;

		if (v == NULL)
			return NULL;
		s->v = v;
		it = realloc(s->items, cap * sizeof(*it));
		if (it == NULL)
			return NULL;
		s->items = it;
		s->cap = cap;
	}
	s->v[s->n] = *st;
	memset(&s->items[s->n], 0, sizeof(s->items[s->n]));
	snprintf(s->items[s->n].op, sizeof(s->items[s->n].op), "%s",
		 step_names[st->op]);
	return &s->items[s->n++];
}

static int topo_pool_index(const struct topo *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_pools; i++)
		if (strcmp(t->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct fsm_sba *topo_sba(const struct topo *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_sbas; i++)
		if (strcmp(t->sbas[i].name, name) == 0)
			return &t->sbas[i];
	return NULL;
}

static bool topo_has_site(const struct topo *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_sites; i++)
		if (strcmp(t->sites[i], name) == 0)
			return true;
	return false;
}

static bool topo_has_pair(const struct topo *t, const char *a, const char *b)
{
	unsigned i;

	for (i = 0; i < t->n_pairs; i++) {
		const struct pair_req *p = &t->pairs[i];
		if ((strcmp(p->a, a) == 0 && strcmp(p->b, b) == 0) ||
		    (strcmp(p->a, b) == 0 && strcmp(p->b, a) == 0))
			return true;
	}
	return false;
}

/* True when a pool or SBA of t names the site. */
static bool topo_names_site(const struct topo *t, const char *site)
{
	unsigned i;

	for (i = 0; i < t->n_pools; i++)
		if (strcmp(t->pools[i].site, site) == 0)
			return true;
	for (i = 0; i < t->n_sbas; i++)
		if (strcmp(t->sbas[i].site, site) == 0)
			return true;
	return false;
}

/* State lookups by hand: the state is read, nothing else of fsm is used. */
static const struct fsm_pool *state_pool(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_pools && i < FSM_MAX_POOLS; i++)
		if (strcmp(f->pools[i].name, name) == 0)
			return &f->pools[i];
	return NULL;
}

static const struct fsm_sba *state_sba(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sbas && i < FSM_MAX_SBAS; i++)
		if (strcmp(f->sbas[i].name, name) == 0)
			return &f->sbas[i];
	return NULL;
}

static bool state_has_site(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sites && i < FSM_MAX_SITES; i++)
		if (strcmp(f->sites[i].name, name) == 0)
			return true;
	return false;
}

static bool state_member_names_site(const struct fsm *f, const char *site)
{
	unsigned i;

	for (i = 0; i < f->n_members && i < FSM_MAX_MEMBERS; i++)
		if (strcmp(f->members[i].site, site) == 0)
			return true;
	return false;
}

/* An array field of TOPO holding at most max entries; NULL when absent. */
static int get_array(const json_t *o, const char *key, size_t max,
		     const char *noun, json_t **out, struct request_error *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return bad_type(err, "topology.", key, "an array");
	if (json_array_size(v) > max)
		return fail(err, -EINVAL, "invalid",
			    "field 'topology.%s' lists %zu %s; the cluster "
			    "holds at most %zu",
			    key, json_array_size(v), noun, max);
	*out = v;
	return 0;
}

/* An array element that must be an object; where receives its prefix. */
static int element_object(json_t *arr, size_t i, const char *key, char *where,
			  size_t wlen, json_t **out, struct request_error *err)
{
	*out = json_array_get(arr, i);
	snprintf(where, wlen, "topology.%s[%zu].", key, i);
	if (!json_is_object(*out))
		return fail(err, -EINVAL, "bad_type",
			    "field 'topology.%s[%zu]' must be an object", key,
			    i);
	return 0;
}

static int parse_topo_sites(json_t *arr, struct topo *t,
			    struct request_error *err)
{
	char where[48];
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		unsigned j;

		snprintf(where, sizeof(where), "topology.sites[%zu]", i);
		if (!json_is_string(v))
			return bad_type(err, where, "", "a string");
		if (!name_ok(json_string_value(v), json_string_length(v)))
			return fail(err, -EINVAL, "invalid",
				    "field '%s' must be 1-%d characters of "
				    "[A-Za-z0-9._-]",
				    where, FSM_NAME_LEN - 1);
		for (j = 0; j < t->n_sites; j++)
			if (strcmp(t->sites[j], json_string_value(v)) == 0)
				return fail(err, -EINVAL, "invalid",
					    "site %s is listed twice",
					    t->sites[j]);
		memcpy(t->sites[t->n_sites++], json_string_value(v),
		       json_string_length(v) + 1);
	}
	return 0;
}

static int parse_topo_pools(json_t *arr, struct topo *t,
			    struct request_error *err)
{
	char where[48];
	json_t *o;
	size_t i;
	int rc;

	for (i = 0; i < json_array_size(arr); i++) {
		struct fsm_pool *p = &t->pools[t->n_pools];
		if ((rc = element_object(arr, i, "pools", where, sizeof(where),
					 &o, err)) != 0 ||
		    (rc = parse_pool(o, where, p, err)) != 0)
			return rc;
		if (topo_pool_index(t, p->name) >= 0)
			return fail(err, -EINVAL, "invalid",
				    "pool %s is listed twice", p->name);
		t->n_pools++;
	}
	return 0;
}

static int parse_topo_pairs(json_t *arr, struct topo *t,
			    struct request_error *err)
{
	char where[48];
	json_t *o;
	size_t i;
	int rc;

	for (i = 0; i < json_array_size(arr); i++) {
		struct pair_req *p = &t->pairs[t->n_pairs];
		const char *pools[2];
		unsigned j, k;

		if ((rc = element_object(arr, i, "pairs", where, sizeof(where),
					 &o, err)) != 0 ||
		    (rc = parse_pair(o, where, p, err)) != 0)
			return rc;
		if (strcmp(p->a, p->b) == 0)
			return fail(err, -EINVAL, "invalid",
				    "pair %s %s pairs a pool with itself", p->a,
				    p->b);
		pools[0] = p->a;
		pools[1] = p->b;
		for (k = 0; k < 2; k++) {
			if (topo_pool_index(t, pools[k]) < 0)
				return fail(err, -EINVAL, "invalid",
					    "pair %s %s names pool %s, which "
					    "is not in topology.pools",
					    p->a, p->b, pools[k]);
			for (j = 0; j < t->n_pairs; j++)
				if (strcmp(t->pairs[j].a, pools[k]) == 0 ||
				    strcmp(t->pairs[j].b, pools[k]) == 0)
					return fail(err, -EINVAL, "invalid",
						    "pool %s is in two pairs",
						    pools[k]);
		}
		t->n_pairs++;
	}
	return 0;
}

static int parse_topo_sbas(json_t *arr, struct topo *t,
			   struct request_error *err)
{
	char where[48];
	json_t *o;
	size_t i;
	int rc;

	for (i = 0; i < json_array_size(arr); i++) {
		struct fsm_sba *s = &t->sbas[t->n_sbas];
		if ((rc = element_object(arr, i, "sbas", where, sizeof(where),
					 &o, err)) != 0 ||
		    (rc = parse_sba(o, where, s, err)) != 0)
			return rc;
		if (topo_sba(t, s->name) != NULL)
			return fail(err, -EINVAL, "invalid",
				    "sba %s is listed twice", s->name);
		if (topo_pool_index(t, s->backup_pool) < 0)
			return fail(err, -EINVAL, "invalid",
				    "sba %s names backup pool %s, which is not "
				    "in topology.pools",
				    s->name, s->backup_pool);
		t->n_sbas++;
	}
	return 0;
}

/* Parse and validate TOPO (an object) into t; cross references checked.
 * Pools are parsed before pairs, SBAs and cms, whatever the key order. */
static int parse_topo(const json_t *o, const struct fsm *state, struct topo *t,
		      struct request_error *err)
{
	static const char *const keys[] = {"sites", "pools",  "pairs", "sbas",
					   "cms",   "policy", NULL};
	json_t *sites, *pools, *pairs, *sbas, *policy;
	int rc;

	t->policy = state->policy;
	t->policy.failover[sizeof(t->policy.failover) - 1] = '\0';
	if ((rc = check_keys(o, "topology.", keys, err)) != 0 ||
	    (rc = get_array(o, "sites", FSM_MAX_SITES, "sites", &sites, err)) !=
		0 ||
	    (rc = get_array(o, "pools", FSM_MAX_POOLS, "pools", &pools, err)) !=
		0 ||
	    (rc = get_array(o, "pairs", TOPO_MAX_PAIRS, "pairs", &pairs,
			    err)) != 0 ||
	    (rc = get_array(o, "sbas", FSM_MAX_SBAS, "sbas", &sbas, err)) != 0)
		return rc;
	t->has_sites = sites != NULL;
	if ((sites && (rc = parse_topo_sites(sites, t, err)) != 0) ||
	    (pools && (rc = parse_topo_pools(pools, t, err)) != 0) ||
	    (pairs && (rc = parse_topo_pairs(pairs, t, err)) != 0) ||
	    (sbas && (rc = parse_topo_sbas(sbas, t, err)) != 0))
		return rc;
	if ((rc = get_name(o, "topology.", "cms", false, t->cms, err)) != 0)
		return rc;
	t->has_cms = t->cms[0] != '\0';
	if (t->has_cms && topo_pool_index(t, t->cms) < 0)
		return fail(err, -EINVAL, "invalid",
			    "cms pool %s is not in topology.pools", t->cms);
	policy = json_object_get(o, "policy");
	if (policy != NULL) {
		if (!json_is_object(policy))
			return bad_type(err, "topology.", "policy",
					"an object");
		if ((rc = parse_policy(policy, "topology.policy.", &t->policy,
				       err)) != 0)
			return rc;
		t->has_policy = true;
	}
	return 0;
}

/* A pool of TOPO that exists with other attributes is refused. */
static int check_pool_unchanged(const struct fsm_pool *now,
				const struct fsm_pool *want,
				struct request_error *err)
{
	static const char fmt[] = "pool %s differs from the cluster "
				  "(%s %s \xe2\x86\x92 %s): remove it first";

	if (strcmp(now->site, want->site) != 0)
		return fail(err, -EINVAL, "invalid", fmt, want->name, "site",
			    now->site, want->site);
	if (strcmp(now->edition, want->edition) != 0)
		return fail(err, -EINVAL, "invalid", fmt, want->name, "edition",
			    now->edition, want->edition);
	if (strcmp(now->kind, want->kind) != 0)
		return fail(err, -EINVAL, "invalid", fmt, want->name, "kind",
			    now->kind, want->kind);
	if (strcmp(now->os, want->os) != 0)
		return fail(err, -EINVAL, "invalid", fmt, want->name, "os",
			    now->os, want->os);
	if (now->capacity != want->capacity)
		return fail(err, -EINVAL, "invalid",
			    "pool %s differs from the cluster (capacity %u "
			    "\xe2\x86\x92 %u): remove it first",
			    want->name, (unsigned)now->capacity,
			    (unsigned)want->capacity);
	return 0;
}

static bool sba_same(const struct fsm_sba *a, const struct fsm_sba *b)
{
	return strcmp(a->site, b->site) == 0 &&
	       strcmp(a->backup_pool, b->backup_pool) == 0;
}

static bool policy_same(const struct fsm_policy *a, const struct fsm_policy *b)
{
	return strncmp(a->failover, b->failover, sizeof(a->failover)) == 0 &&
	       a->max_lag_on_failover_ms == b->max_lag_on_failover_ms &&
	       a->cooldown_ms == b->cooldown_ms;
}

static int push_add_pool(struct steps *s, const struct fsm_pool *p)
{
	struct step st = {.op = STEP_ADD_POOL, .name = p->name, .pool = p};
	struct topology_diff_item *it = steps_push(s, &st);
	char cap[32] = "";

	if (it == NULL)
		return -ENOMEM;
	if (p->capacity > 0)
		snprintf(cap, sizeof(cap), ", capacity %u",
			 (unsigned)p->capacity);
	say(it->what, sizeof(it->what), "add pool %s (%s, %s, %s, %s%s)",
	    p->name, p->site, p->edition, p->kind, p->os, cap);
	return 0;
}

/* The steps, in the documented order. */
static int plan_steps(const struct fsm *f, const struct topo *t,
		      struct steps *s)
{
	unsigned n_pools =
	    f->n_pools < FSM_MAX_POOLS ? f->n_pools : FSM_MAX_POOLS;
	unsigned n_sbas = f->n_sbas < FSM_MAX_SBAS ? f->n_sbas : FSM_MAX_SBAS;
	unsigned n_sites =
	    f->n_sites < FSM_MAX_SITES ? f->n_sites : FSM_MAX_SITES;
	const char *first_added = NULL;
	struct topology_diff_item *it;
	int cms_first = -1;
	unsigned i;

	/* unpair: each current pair once, from its first pool */
	for (i = 0; i < n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		const struct fsm_pool *q;
		struct step st = {.op = STEP_UNPAIR, .name = p->name};

		if (p->pair[0] == '\0')
			continue;
		q = state_pool(f, p->pair);
		if (q != NULL && q < p && strcmp(q->pair, p->name) == 0)
			continue; /* listed with q */
		if (topo_has_pair(t, p->name, p->pair))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "unpair %s %s", p->name,
		    p->pair);
	}
	/* remove SBAs gone or changed */
	for (i = 0; i < n_sbas; i++) {
		const struct fsm_sba *now = &f->sbas[i];
		const struct fsm_sba *want = topo_sba(t, now->name);
		struct step st = {.op = STEP_REMOVE_SBA, .name = now->name};

		if (want != NULL && sba_same(now, want))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "remove sba %s", now->name);
	}
	/* remove pools gone */
	for (i = 0; i < n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		struct step st = {.op = STEP_REMOVE_POOL, .name = p->name};

		if (topo_pool_index(t, p->name) >= 0)
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "remove pool %s", p->name);
	}
	/* remove sites: only with a "sites" key, never a member's site */
	for (i = 0; t->has_sites && i < n_sites; i++) {
		const char *name = f->sites[i].name;
		struct step st = {.op = STEP_REMOVE_SITE, .name = name};

		if (topo_has_site(t, name) || topo_names_site(t, name) ||
		    state_member_names_site(f, name))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "remove site %s", name);
	}
	/* add sites listed and absent */
	for (i = 0; i < t->n_sites; i++) {
		struct step st = {.op = STEP_ADD_SITE, .name = t->sites[i]};

		if (state_has_site(f, t->sites[i]))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "add site %s", t->sites[i]);
	}
	/* add pools; with no CMS placed the first pool added hosts it, so
	 * the wanted CMS pool goes first */
	if (f->cms_active[0] == '\0' && t->has_cms &&
	    state_pool(f, t->cms) == NULL) {
		cms_first = topo_pool_index(t, t->cms);
		if (push_add_pool(s, &t->pools[cms_first]) != 0)
			return -ENOMEM;
		first_added = t->cms;
	}
	for (i = 0; i < t->n_pools; i++) {
		if ((int)i == cms_first || state_pool(f, t->pools[i].name))
			continue;
		if (push_add_pool(s, &t->pools[i]) != 0)
			return -ENOMEM;
		if (first_added == NULL)
			first_added = t->pools[i].name;
	}
	/* pair what is not paired exactly so now */
	for (i = 0; i < t->n_pairs; i++) {
		const struct pair_req *p = &t->pairs[i];
		const struct fsm_pool *a = state_pool(f, p->a);
		struct step st = {.op = STEP_PAIR,
				  .name = p->a,
				  .b = p->b,
				  .force = p->force};

		if (a != NULL && strcmp(a->pair, p->b) == 0)
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "pair %s %s%s", p->a, p->b,
		    p->force ? " (forced)" : "");
	}
	/* add SBAs new or changed */
	for (i = 0; i < t->n_sbas; i++) {
		const struct fsm_sba *want = &t->sbas[i];
		const struct fsm_sba *now = state_sba(f, want->name);
		struct step st = {
		    .op = STEP_ADD_SBA, .name = want->name, .sba = want};

		if (now != NULL && sba_same(now, want))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "add sba %s (%s, backup %s)",
		    want->name, want->site, want->backup_pool);
	}
	/* cms: compare with where it will be after the steps above */
	if (t->has_cms) {
		const char *cms =
		    f->cms_active[0] != '\0' ? f->cms_active : first_added;
		struct step st = {.op = STEP_CMS_PLACE, .name = t->cms};

		if (cms == NULL || strncmp(cms, t->cms, FSM_NAME_LEN) != 0) {
			if ((it = steps_push(s, &st)) == NULL)
				return -ENOMEM;
			say(it->what, sizeof(it->what), "place cms on %s",
			    t->cms);
		}
	}
	if (t->has_policy && !policy_same(&f->policy, &t->policy)) {
		struct step st = {.op = STEP_SET_POLICY, .policy = &t->policy};

		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what),
		    "set policy failover %s, max lag %u ms, cooldown %u ms",
		    t->policy.failover,
		    (unsigned)t->policy.max_lag_on_failover_ms,
		    (unsigned)t->policy.cooldown_ms);
	}
	return 0;
}

/* Protobuf storage of one step. */
struct pb_step {
	Poolpair__Command cmd;
	union {
		Poolpair__CmdUnpair unpair;
		Poolpair__CmdRemoveSba remove_sba;
		Poolpair__CmdRemovePool remove_pool;
		Poolpair__CmdRemoveSite remove_site;
		Poolpair__CmdAddSite add_site;
		Poolpair__CmdAddPool add_pool;
		Poolpair__CmdPair pair;
		Poolpair__CmdAddSba add_sba;
		Poolpair__CmdCmsPlace cms_place;
		Poolpair__CmdSetPolicy set_policy;
	} u;
	Poolpair__Pool pool;
	Poolpair__Sba sba;
	Poolpair__Policy policy;
};

static void pb_step(struct pb_step *p, const struct step *st,
		    const struct request_ctx *ctx, char *who)
{
	Poolpair__Command *c = &p->cmd;

	poolpair__command__init(c);
	c->time_ms = ctx->time_ms;
	c->who = who;
	switch (st->op) {
	case STEP_UNPAIR:
		poolpair__cmd_unpair__init(&p->u.unpair);
		p->u.unpair.pool = str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_UNPAIR;
		c->unpair = &p->u.unpair;
		break;
	case STEP_REMOVE_SBA:
		poolpair__cmd_remove_sba__init(&p->u.remove_sba);
		p->u.remove_sba.name = str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_REMOVE_SBA;
		c->remove_sba = &p->u.remove_sba;
		break;
	case STEP_REMOVE_POOL:
		poolpair__cmd_remove_pool__init(&p->u.remove_pool);
		p->u.remove_pool.name = str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_REMOVE_POOL;
		c->remove_pool = &p->u.remove_pool;
		break;
	case STEP_REMOVE_SITE:
		poolpair__cmd_remove_site__init(&p->u.remove_site);
		p->u.remove_site.name = str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_REMOVE_SITE;
		c->remove_site = &p->u.remove_site;
		break;
	case STEP_ADD_SITE:
		poolpair__cmd_add_site__init(&p->u.add_site);
		p->u.add_site.name = str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
		c->add_site = &p->u.add_site;
		break;
	case STEP_ADD_POOL:
		poolpair__cmd_add_pool__init(&p->u.add_pool);
		pb_pool(&p->pool, st->pool);
		p->u.add_pool.pool = &p->pool;
		c->op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
		c->add_pool = &p->u.add_pool;
		break;
	case STEP_PAIR:
		poolpair__cmd_pair__init(&p->u.pair);
		p->u.pair.a = str(st->name);
		p->u.pair.b = str(st->b);
		p->u.pair.force = st->force;
		c->op_case = POOLPAIR__COMMAND__OP_PAIR;
		c->pair = &p->u.pair;
		break;
	case STEP_ADD_SBA:
		poolpair__cmd_add_sba__init(&p->u.add_sba);
		pb_sba(&p->sba, st->sba);
		p->u.add_sba.sba = &p->sba;
		c->op_case = POOLPAIR__COMMAND__OP_ADD_SBA;
		c->add_sba = &p->u.add_sba;
		break;
	case STEP_CMS_PLACE:
		poolpair__cmd_cms_place__init(&p->u.cms_place);
		p->u.cms_place.pool = str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
		c->cms_place = &p->u.cms_place;
		break;
	case STEP_SET_POLICY:
		poolpair__cmd_set_policy__init(&p->u.set_policy);
		pb_policy(&p->policy, st->policy);
		p->u.set_policy.policy = &p->policy;
		c->op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
		c->set_policy = &p->u.set_policy;
		break;
	}
}

/* One Command of op topology holding every step. */
static int pack_topology(const struct steps *s, const struct request_ctx *ctx,
			 struct request_cmd *out, struct request_error *err)
{
	Poolpair__CmdTopology op = POOLPAIR__CMD_TOPOLOGY__INIT;
	Poolpair__Command c, **ptrs;
	struct pb_step *pb;
	char who[FSM_WHO_LEN];
	unsigned i;
	int rc;

	pb = calloc(s->n, sizeof(*pb));
	ptrs = calloc(s->n, sizeof(*ptrs));
	if (pb == NULL || ptrs == NULL) {
		free(pb);
		free(ptrs);
		return fail_nomem(err);
	}
	cmd_init(&c, ctx, who);
	for (i = 0; i < s->n; i++) {
		pb_step(&pb[i], &s->v[i], ctx, who);
		ptrs[i] = &pb[i].cmd;
	}
	op.n_steps = s->n;
	op.steps = ptrs;
	c.op_case = POOLPAIR__COMMAND__OP_TOPOLOGY;
	c.topology = &op;
	rc = cmd_pack(&c, out, err);
	free(ptrs);
	free(pb);
	return rc;
}

int request_topology(const char *body, size_t len, const struct fsm *state,
		     const struct request_ctx *ctx, struct topology_plan *plan,
		     struct request_error *err)
{
	static const char *const keys[] = {"topology", "dry_run", NULL};
	struct steps s = {0};
	struct topo *t = NULL;
	json_t *root, *v;
	bool dry_run = false;
	unsigned i;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if ((rc = parse_body(body, len, &root, err)) != 0)
		return rc;
	if ((rc = check_keys(root, "", keys, err)) != 0 ||
	    (rc = get_field(root, "", "topology", true, &v, err)) != 0 ||
	    (rc = get_bool(root, "", "dry_run", &dry_run, err)) != 0)
		goto err_after_root;
	if (!json_is_object(v)) {
		rc = bad_type(err, "", "topology", "an object");
		goto err_after_root;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = fail_nomem(err);
		goto err_after_root;
	}
	if ((rc = parse_topo(v, state, t, err)) != 0)
		goto err_after_topo;
	for (i = 0; i < t->n_pools; i++) {
		const struct fsm_pool *now =
		    state_pool(state, t->pools[i].name);
		if (now != NULL &&
		    (rc = check_pool_unchanged(now, &t->pools[i], err)) != 0)
			goto err_after_topo;
	}
	if (plan_steps(state, t, &s) != 0) {
		rc = fail_nomem(err);
		goto err_after_steps;
	}
	if (s.n > FSM_MAX_TOPOLOGY_STEPS) {
		rc = fail(err, -EINVAL, "invalid",
			  "the topology needs %u steps; one decision holds at "
			  "most %d",
			  s.n, FSM_MAX_TOPOLOGY_STEPS);
		goto err_after_steps;
	}
	if (s.n > 0 && (rc = pack_topology(&s, ctx, &plan->cmd, err)) != 0)
		goto err_after_steps;
	plan->items = s.items;
	plan->n = s.n;
	plan->dry_run = dry_run;
	free(s.v);
	free(t);
	json_decref(root);
	return 0;

err_after_steps:
	free(s.v);
	free(s.items);
err_after_topo:
	free(t);
err_after_root:
	json_decref(root);
	return rc;
}

void topology_plan_free(struct topology_plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->items);
	free(plan->cmd.buf);
	memset(plan, 0, sizeof(*plan));
}
