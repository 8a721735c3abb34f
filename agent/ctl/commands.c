/* commands: the poolpairctl commands and their table. */
#include "agent/ctl/commands.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/ctl/backup.h"
#include "agent/ctl/conference.h"
#include "agent/ctl/content.h"
#include "agent/ctl/failover.h"
#include "agent/ctl/status.h"
#include "agent/ctl/table.h"
#include "agent/ctl/topology.h"
#include "agent/ctl/users.h"

/* Shared helpers. */

void ctl_say(FILE *f, const char *fmt, ...)
{
	va_list ap;
	char *s;
	const char *p;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		fputs("poolpairctl: out of memory\n", f);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
	fputc('\n', f);
	free(s);
}

int ctl_usage_error(struct ctl *ctl, const struct ctl_args *a, const char *fmt,
		    ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	ctl_say(ctl->err, "poolpairctl: %s", s != NULL ? s : "bad usage");
	free(s);
	if (a != NULL && a->cmd != NULL)
		ctl_say(ctl->err, "usage: poolpairctl %s", a->cmd->usage);
	return CTL_USAGE;
}

int ctl_print_json(struct ctl *ctl, json_t *v)
{
	if (v == NULL)
		return CTL_OK;
	if (json_dumpf(v, ctl->out, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0)
		return CTL_FAILED;
	fputc('\n', ctl->out);
	return ferror(ctl->out) ? CTL_FAILED : CTL_OK;
}

int ctl_call(struct ctl *ctl, const char *method, const char *path,
	     json_t *body, json_t **resp)
{
	char errbuf[512];
	long status = 0;
	json_t *answer = NULL;
	const char *code;
	const char *message;
	int rv;

	*resp = NULL;
	rv = client_request(ctl->client, method, path, body, &status, &answer,
			    errbuf, sizeof(errbuf));
	if (rv != 0) {
		ctl_say(ctl->err, "poolpairctl: %s",
			errbuf[0] ? errbuf : client_strerror(rv));
		return CTL_FAILED;
	}
	if (status >= 200 && status < 300) {
		*resp = answer;
		return CTL_OK;
	}
	code = json_string_value(json_object_get(answer, "error"));
	message = json_string_value(json_object_get(answer, "message"));
	if (code != NULL && message != NULL && message[0] != '\0')
		ctl_say(ctl->err, "poolpairctl: %s: %s", code, message);
	else if (code != NULL)
		ctl_say(ctl->err, "poolpairctl: %s: http %ld", code, status);
	else
		ctl_say(ctl->err, "poolpairctl: http %ld: %s", status,
			answer != NULL ? "answer without an error code"
				       : "empty answer");
	if (ctl->json)
		ctl_print_json(ctl, answer);
	json_decref(answer);
	return CTL_FAILED;
}

/* "PREFIX/ESCAPED(seg)" (malloc()ed) or NULL when out of memory. */
static char *path_join(const char *prefix, const char *seg)
{
	char *esc = client_escape(seg);
	char *path;

	if (esc == NULL)
		return NULL;
	if (asprintf(&path, "%s/%s", prefix, esc) < 0)
		path = NULL;
	free(esc);
	return path;
}

int ctl_out_of_memory(struct ctl *ctl)
{
	ctl_say(ctl->err, "poolpairctl: out of memory");
	return CTL_FAILED;
}

int ctl_bad_answer(struct ctl *ctl, const char *what)
{
	ctl_say(ctl->err, "poolpairctl: bad answer: %s", what);
	return CTL_FAILED;
}

/* Decimal without sign, <= max. Returns 0 and *out, or -1. */
static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A duration: N (milliseconds), Nms, Ns or Nm, with up to three decimals
 * before s or m ("1.5s"), a whole number of ms in 1..max. Returns 0 and
 * *ms, or -1. */
static int parse_duration_ms(const char *s, unsigned long long max,
			     unsigned long long *ms)
{
	unsigned long long whole = 0, frac = 0, scale = 1, unit;
	const char *p = s;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (unsigned long long)(*p - '0');
		if (whole > max)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1000)
				return -1;
			frac = frac * 10 + (unsigned long long)(*p - '0');
			scale *= 10;
		}
		if (scale == 1)
			return -1;
	}
	if (strcmp(p, "") == 0 || strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else
		return -1;
	if ((frac * unit) % scale != 0)
		return -1; /* finer than a millisecond */
	whole = whole * unit + frac * unit / scale;
	if (whole == 0 || whole > max)
		return -1;
	*ms = whole;
	return 0;
}

/* Whether s can be a JSON string (valid UTF-8). */
static int utf8_valid(const char *s)
{
	json_t *v = json_string(s);
	int ok = v != NULL;

	json_decref(v);
	return ok;
}

/* Refuse arguments that cannot go into a JSON body. Returns CTL_OK or
 * CTL_USAGE (reported). */
static int args_utf8(struct ctl *ctl, const struct ctl_args *a)
{
	size_t i;

	for (i = 0; i < a->npos; i++)
		if (!utf8_valid(a->pos[i]))
			return ctl_usage_error(
			    ctl, a, "argument %zu is not valid utf-8", i + 1);
	for (i = 0; i < CTL_MAX_OPTS; i++)
		if (a->opt[i] != NULL && !utf8_valid(a->opt[i]))
			return ctl_usage_error(
			    ctl, a, "option --%.*s is not valid utf-8",
			    (int)strcspn(a->cmd->opts[i], "="),
			    a->cmd->opts[i]);
	return CTL_OK;
}

static int one_of(const char *s, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(s, *allowed) == 0)
			return 1;
	return 0;
}

/* Print a finished write: with --json the answer, else the sentence and
 * " (decision N)" when the answer names one. */
static int write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
{
	json_t *decision = json_object_get(resp, "decision");
	va_list ap;
	char *s;

	if (ctl->json) {
		int rv = ctl_print_json(ctl, resp);

		json_decref(resp);
		return rv;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	if (json_is_integer(decision))
		ctl_say(ctl->out, "%s (decision %" JSON_INTEGER_FORMAT ")", s,
			json_integer_value(decision));
	else
		ctl_say(ctl->out, "%s", s);
	free(s);
	json_decref(resp);
	return CTL_OK;
}

int ctl_get_list(struct ctl *ctl, const char *path, const char *key,
		    json_t **resp, json_t **list)
{
	int rv = ctl_call(ctl, "GET", path, NULL, resp);

	*list = NULL;
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		rv = ctl_print_json(ctl, *resp);
		json_decref(*resp);
		*resp = NULL;
		return rv;
	}
	*list = json_object_get(*resp, key);
	if (!json_is_array(*list)) {
		json_decref(*resp);
		*resp = NULL;
		ctl_say(ctl->err, "poolpairctl: bad answer: no '%s' list", key);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* members */

static int cmd_member_list(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	json_t *list;
	int rv = ctl_get_list(ctl, "/v1/members", "members", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0)
		ctl_say(ctl->out, "no members");
	else
		rv = ctl_render_members(ctl, list);
	json_decref(resp);
	return rv;
}

static int parse_member_id(const char *s, unsigned long long *id)
{
	return parse_uint(s, INT64_MAX, id) != 0 || *id == 0 ? -1 : 0;
}

static int cmd_member_add(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const roles[] = {"voter", "standby", "spare", NULL};
	const char *role = a->opt[0];
	unsigned long long id;
	json_t *body;
	json_t *resp;
	int rv;

	if (parse_member_id(a->pos[0], &id) != 0)
		return ctl_usage_error(
		    ctl, a, "bad member id '%s' (a number > 0)", a->pos[0]);
	if (a->pos[1][0] == '\0')
		return ctl_usage_error(ctl, a, "empty address");
	if (args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (role != NULL && !one_of(role, roles))
		return ctl_usage_error(ctl, a,
				       "bad --role '%s' (voter, standby or "
				       "spare)",
				       role);
	body =
	    json_pack("{s:I, s:s}", "id", (json_int_t)id, "address", a->pos[1]);
	if (body != NULL && role != NULL &&
	    json_object_set_new(body, "role", json_string(role)) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "POST", "/v1/members", body, &resp);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp,
			  "member %llu (%s) added; it becomes %s once it has "
			  "caught up",
			  id, a->pos[1],
			  role != NULL ? role : "voter or standby");
}

static int cmd_member_remove(struct ctl *ctl, const struct ctl_args *a)
{
	unsigned long long id;
	char path[64];
	json_t *resp;
	int rv;

	if (parse_member_id(a->pos[0], &id) != 0)
		return ctl_usage_error(
		    ctl, a, "bad member id '%s' (a number > 0)", a->pos[0]);
	snprintf(path, sizeof(path), "/v1/members/%llu", id);
	rv = ctl_call(ctl, "DELETE", path, NULL, &resp);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "member %llu removed", id);
}

/* Simple writes: DELETE PREFIX/NAME and say what was done. */
static int delete_named(struct ctl *ctl, const char *prefix, const char *name,
			const char *done_fmt)
{
	char *path = path_join(prefix, name);
	json_t *resp;
	int rv;

	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "DELETE", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, done_fmt, name);
}

/* POST body (owned: released here) to path. */
static int post_owned(struct ctl *ctl, const char *path, json_t *body,
		      json_t **resp)
{
	int rv;

	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "POST", path, body, resp);
	json_decref(body);
	return rv;
}

/* sites */

static int cmd_site_add(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	int rv;

	if (args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	rv = post_owned(ctl, "/v1/sites", json_pack("{s:s}", "name", a->pos[0]),
			&resp);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "site %s added", a->pos[0]);
}

static int cmd_site_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const hdr[] = {"SITE"};
	struct table t;
	json_t *resp;
	json_t *list;
	json_t *v;
	size_t i;
	int rv = ctl_get_list(ctl, "/v1/sites", "sites", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0) {
		ctl_say(ctl->out, "no sites");
		json_decref(resp);
		return CTL_OK;
	}
	if (table_init(&t, 1, hdr) != 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	json_array_foreach (list, i, v) {
		table_row(&t);
		ctl_cell_json(&t, v);
	}
	rv = ctl_render(ctl, &t);
	json_decref(resp);
	return rv;
}

static int cmd_site_remove(struct ctl *ctl, const struct ctl_args *a)
{
	return delete_named(ctl, "/v1/sites", a->pos[0], "site %s removed");
}

/* pools */

static int cmd_pool_add(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const editions[] = {"enterprise", "standard", NULL};
	static const char *const kinds[] = {"physical", "virtual", NULL};
	static const char *const required[] = {"--site", "--edition", "--kind",
					       "--os"};
	unsigned long long capacity = 0;
	json_t *body;
	json_t *resp;
	size_t i;
	int rv;

	for (i = 0; i < 4; i++)
		if (a->opt[i] == NULL || a->opt[i][0] == '\0')
			return ctl_usage_error(ctl, a, "missing %s",
					       required[i]);
	if (!one_of(a->opt[1], editions))
		return ctl_usage_error(ctl, a,
				       "bad --edition '%s' (enterprise or "
				       "standard)",
				       a->opt[1]);
	if (!one_of(a->opt[2], kinds))
		return ctl_usage_error(
		    ctl, a, "bad --kind '%s' (physical or virtual)", a->opt[2]);
	if (a->opt[4] != NULL &&
	    parse_uint(a->opt[4], UINT32_MAX, &capacity) != 0)
		return ctl_usage_error(ctl, a,
				       "bad --capacity '%s' (0 to %u users)",
				       a->opt[4], UINT32_MAX);
	if (args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", a->pos[0], "site",
			 a->opt[0], "edition", a->opt[1], "kind", a->opt[2],
			 "os", a->opt[3]);
	if (body != NULL && a->opt[4] != NULL &&
	    json_object_set_new(body, "capacity",
				json_integer((json_int_t)capacity)) != 0) {
		json_decref(body);
		body = NULL;
	}
	rv = post_owned(ctl, "/v1/pools", body, &resp);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "pool %s added", a->pos[0]);
}

static int cmd_pool_list(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	json_t *list;
	int rv = ctl_get_list(ctl, "/v1/pools", "pools", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0)
		ctl_say(ctl->out, "no pools");
	else
		rv = ctl_render_pools(ctl, list, NULL);
	json_decref(resp);
	return rv;
}

static int cmd_pool_remove(struct ctl *ctl, const struct ctl_args *a)
{
	return delete_named(ctl, "/v1/pools", a->pos[0], "pool %s removed");
}

/* POST /v1/pools/POOL/ACTION with {"reason"?}. */
static int pool_pause(struct ctl *ctl, const struct ctl_args *a,
		      const char *action, const char *done_fmt)
{
	char *pool = path_join("/v1/pools", a->pos[0]);
	char *path = NULL;
	json_t *resp;
	json_t *body;
	int rv;

	if (args_utf8(ctl, a) != CTL_OK) {
		free(pool);
		return CTL_USAGE;
	}
	if (pool == NULL || asprintf(&path, "%s/%s", pool, action) < 0) {
		free(pool);
		return ctl_out_of_memory(ctl);
	}
	free(pool);
	body = a->opt[0] != NULL ? json_pack("{s:s}", "reason", a->opt[0])
				 : json_object();
	rv = post_owned(ctl, path, body, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, done_fmt, a->pos[0]);
}

static int cmd_pool_pause(struct ctl *ctl, const struct ctl_args *a)
{
	return pool_pause(ctl, a, "pause",
			  "pool %s paused: no automatic failover until "
			  "resumed");
}

static int cmd_pool_resume(struct ctl *ctl, const struct ctl_args *a)
{
	return pool_pause(ctl, a, "resume",
			  "pool %s resumed: automatic failover as the policy "
			  "says");
}

/* pairs */

#define SYNC_TIMEOUT_MAX_MS 3600000ULL

/* "--mode" and "--sync-timeout" (at a->opt[mode_i], a->opt[mode_i + 1])
 * into body, checked. Returns CTL_OK or CTL_USAGE (reported). */
static int mode_options(struct ctl *ctl, const struct ctl_args *a,
			const char *mode, const char *timeout, json_t *body)
{
	static const char *const modes[] = {"async", "sync", NULL};
	unsigned long long ms;

	if (mode != NULL && !one_of(mode, modes))
		return ctl_usage_error(ctl, a, "bad mode '%s' (async or sync)",
				       mode);
	if (timeout != NULL &&
	    parse_duration_ms(timeout, SYNC_TIMEOUT_MAX_MS, &ms) != 0)
		return ctl_usage_error(
		    ctl, a,
		    "bad --sync-timeout '%s' (a duration such as 1500ms or 2s, "
		    "up to 1h)",
		    timeout);
	if (mode != NULL)
		json_object_set_new(body, "mode", json_string(mode));
	if (timeout != NULL)
		json_object_set_new(body, "sync_timeout_ms",
				    json_integer((json_int_t)ms));
	return CTL_OK;
}

/* " (sync, 2000 ms)" of a pair object, or "" when async. */
static void mode_words(json_t *pair, char *buf, size_t len)
{
	const char *mode = json_string_value(json_object_get(pair, "mode"));
	json_t *t = json_object_get(pair, "sync_timeout_ms");

	buf[0] = '\0';
	if (mode != NULL && strcmp(mode, "sync") == 0 && json_is_integer(t))
		snprintf(buf, len, " (sync, timeout %" JSON_INTEGER_FORMAT
			 " ms)", json_integer_value(t));
}

static int cmd_pair(struct ctl *ctl, const struct ctl_args *a)
{
	int force = a->opt[0] != NULL;
	json_t *resp;
	json_t *pair;
	json_t *body;
	char mode[64];
	int rv;

	if (args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	body = json_pack("{s:s, s:s, s:b}", "a", a->pos[0], "b", a->pos[1],
			 "force", force);
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	if (mode_options(ctl, a, a->opt[1], a->opt[2], body) != CTL_OK) {
		json_decref(body);
		return CTL_USAGE;
	}
	rv = post_owned(ctl, "/v1/pairs", body, &resp);
	if (rv != CTL_OK)
		return rv;
	pair = json_object_get(resp, "pair");
	if (!ctl->json && json_is_false(json_object_get(pair, "supported"))) {
		const char *reason =
		    json_string_value(json_object_get(pair, "reason"));

		ctl_say(
		    ctl->err, "poolpairctl: warning: %s",
		    reason != NULL && reason[0] ? reason : "unknown reason");
	}
	mode_words(pair, mode, sizeof(mode));
	return write_done(ctl, resp, "paired %s with %s%s%s", a->pos[0],
			  a->pos[1],
			  json_is_false(json_object_get(pair, "supported"))
			      ? " as an unsupported pair"
			      : "",
			  mode);
}

static int cmd_pair_mode(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	json_t *pair;
	json_t *body;
	char *path;
	int rv;

	if (args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (a->pos[0][0] == '\0')
		return ctl_usage_error(ctl, a, "empty pool name");
	body = json_object();
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	if (mode_options(ctl, a, a->pos[1], a->opt[0], body) != CTL_OK) {
		json_decref(body);
		return CTL_USAGE;
	}
	path = path_join("/v1/pairs", a->pos[0]);
	if (path == NULL) {
		json_decref(body);
		return ctl_out_of_memory(ctl);
	}
	rv = ctl_call(ctl, "PUT", path, body, &resp);
	free(path);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	pair = json_object_get(resp, "pair");
	{
		const char *pa = json_string_value(json_object_get(pair, "a"));
		const char *pb = json_string_value(json_object_get(pair, "b"));
		const char *pm =
		    json_string_value(json_object_get(pair, "mode"));
		json_t *t = json_object_get(pair, "sync_timeout_ms");
		char ms[32] = "-";

		if (json_is_integer(t))
			snprintf(ms, sizeof(ms), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(t));
		return write_done(
		    ctl, resp,
		    "pair %s %s: replication %s, sync timeout %s ms",
		    pa != NULL ? pa : a->pos[0], pb != NULL ? pb : "-",
		    pm != NULL ? pm : a->pos[1], ms);
	}
}

static int cmd_unpair(struct ctl *ctl, const struct ctl_args *a)
{
	return delete_named(ctl, "/v1/pairs", a->pos[0], "unpaired %s");
}

/* sbas */

static int cmd_sba_add(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	int rv;

	if (a->opt[0] == NULL || a->opt[0][0] == '\0')
		return ctl_usage_error(ctl, a, "missing --site");
	if (a->opt[1] == NULL || a->opt[1][0] == '\0')
		return ctl_usage_error(ctl, a, "missing --backup-pool");
	if (args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	rv = post_owned(ctl, "/v1/sbas",
			json_pack("{s:s, s:s, s:s}", "name", a->pos[0], "site",
				  a->opt[0], "backup_pool", a->opt[1]),
			&resp);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "sba %s added with backup pool %s",
			  a->pos[0], a->opt[1]);
}

static int cmd_sba_list(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	json_t *list;
	int rv = ctl_get_list(ctl, "/v1/sbas", "sbas", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0)
		ctl_say(ctl->out, "no sbas");
	else
		rv = ctl_render_sbas(ctl, list);
	json_decref(resp);
	return rv;
}

static int cmd_sba_remove(struct ctl *ctl, const struct ctl_args *a)
{
	return delete_named(ctl, "/v1/sbas", a->pos[0], "sba %s removed");
}

/* cms */

static int cmd_cms_show(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *cms;
	int rv = ctl_call(ctl, "GET", "/v1/cms", NULL, &cms);

	if (rv != CTL_OK)
		return rv;
	if (ctl->json)
		rv = ctl_print_json(ctl, cms);
	else if (!json_is_object(cms))
		rv = ctl_bad_answer(ctl, "cms is not an object");
	else
		ctl_say_cms(ctl, "cms: ", cms);
	json_decref(cms);
	return rv;
}

/* history */

/* TIME cell: the server's ISO 8601 "time", else time_ms formatted. */
static void cell_time(struct table *t, json_t *h)
{
	json_t *iso = json_object_get(h, "time");
	json_t *ms = json_object_get(h, "time_ms");
	char buf[64];
	struct tm tm;
	time_t sec;

	if (json_is_string(iso) && json_string_length(iso) > 0) {
		table_cell(t, json_string_value(iso));
		return;
	}
	if (!json_is_integer(ms) || json_integer_value(ms) < 0) {
		table_cell(t, "-");
		return;
	}
	sec = (time_t)(json_integer_value(ms) / 1000);
	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		table_cell(t, "-");
		return;
	}
	table_cell(t, buf);
}

static void cell_result(struct table *t, json_t *h)
{
	const char *result = json_string_value(json_object_get(h, "result"));
	const char *code = json_string_value(json_object_get(h, "code"));
	const char *reason = json_string_value(json_object_get(h, "reason"));
	const char *forced =
	    json_is_true(json_object_get(h, "forced")) ? " (forced)" : "";

	if (result != NULL && strcmp(result, "refused") == 0)
		table_cellf(t, "refused %s: %s%s",
			    code != NULL && code[0] ? code : "-",
			    reason != NULL && reason[0] ? reason : "-", forced);
	else
		table_cellf(t, "%s%s",
			    result != NULL && result[0] ? result : "-", forced);
}

/* DATA AT RISK cell: "R rec, B, S s" of the entry's data_at_risk object
 * (present only on failovers that named a loss), else "-". */
static void cell_risk(struct table *t, json_t *h)
{
	json_t *risk = json_object_get(h, "data_at_risk");
	json_t *r = json_object_get(risk, "records");
	json_t *b = json_object_get(risk, "bytes");
	json_t *s = json_object_get(risk, "seconds");
	char bytes[32];

	if (!json_is_integer(r) || !json_is_number(b) || !json_is_number(s)) {
		table_cell(t, "-");
		return;
	}
	table_cellf(t, "%" JSON_INTEGER_FORMAT " rec, %s, %.1f s",
		    json_integer_value(r),
		    ctl_format_bytes(json_number_value(b), bytes,
				       sizeof(bytes)),
		    json_number_value(s));
}

static int cmd_history(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const hdr[] = {"SEQ",  "TIME",   "WHO",
					  "WHAT", "RESULT", "DATA AT RISK"};
	unsigned long long limit = 50, before = 0;
	char path[96];
	struct table t;
	json_t *resp;
	json_t *list;
	json_t *h;
	size_t i, n;
	int risk = 0;
	int rv;

	if (a->opt[0] != NULL &&
	    (parse_uint(a->opt[0], 1000, &limit) != 0 || limit == 0))
		return ctl_usage_error(ctl, a, "bad --limit '%s' (1 to 1000)",
				       a->opt[0]);
	if (a->opt[1] != NULL &&
	    (parse_uint(a->opt[1], UINT64_MAX, &before) != 0 || before == 0))
		return ctl_usage_error(
		    ctl, a, "bad --before '%s' (a decision number from 1)",
		    a->opt[1]);
	if (before != 0)
		snprintf(path, sizeof(path),
			 "/v1/history?limit=%llu&before=%llu", limit, before);
	else
		snprintf(path, sizeof(path), "/v1/history?limit=%llu", limit);
	rv = ctl_get_list(ctl, path, "history", &resp, &list);
	if (rv != CTL_OK || list == NULL)
		return rv;
	n = json_array_size(list);
	if (n == 0) {
		if (before != 0)
			ctl_say(ctl->out, "no decisions before %llu", before);
		else
			ctl_say(ctl->out, "no decisions yet");
		json_decref(resp);
		return CTL_OK;
	}
	json_array_foreach (list, i, h)
		if (json_is_object(json_object_get(h, "data_at_risk")))
			risk = 1;
	if (table_init(&t, risk ? 6 : 5, hdr) != 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	/* the server answers newest first; shown oldest first */
	for (i = n; i-- > 0;) {
		h = json_array_get(list, i);
		table_row(&t);
		ctl_cell_key(&t, h, "seq");
		cell_time(&t, h);
		ctl_cell_key(&t, h, "who");
		ctl_cell_key(&t, h, "what");
		cell_result(&t, h);
		if (risk)
			cell_risk(&t, h);
	}
	rv = ctl_render(ctl, &t);
	json_decref(resp);
	return rv;
}

/* The table. Option indexes in a->opt follow the order of opts. */
static const struct ctl_command ctl_commands[] = {
    {"status", 0, 0, {NULL}, ctl_cmd_status, "status"},
    {"member list", 0, 0, {NULL}, cmd_member_list, "member list"},
    {"member add",
     2,
     2,
     {"role=", NULL},
     cmd_member_add,
     "member add ID ADDRESS [--role voter|standby|spare]"},
    {"member remove", 1, 1, {NULL}, cmd_member_remove, "member remove ID"},
    {"pool add",
     1,
     1,
     {"site=", "edition=", "kind=", "os=", "capacity=", NULL},
     cmd_pool_add,
     "pool add NAME --site S --edition enterprise|standard "
     "--kind physical|virtual --os OS [--capacity N]"},
    {"pool list", 0, 0, {NULL}, cmd_pool_list, "pool list"},
    {"pool remove", 1, 1, {NULL}, cmd_pool_remove, "pool remove NAME"},
    {"pool pause",
     1,
     1,
     {"reason=", NULL},
     cmd_pool_pause,
     "pool pause NAME [--reason TEXT]"},
    {"pool resume",
     1,
     1,
     {"reason=", NULL},
     cmd_pool_resume,
     "pool resume NAME [--reason TEXT]"},
    {"site add", 1, 1, {NULL}, cmd_site_add, "site add NAME"},
    {"site list", 0, 0, {NULL}, cmd_site_list, "site list"},
    {"site remove", 1, 1, {NULL}, cmd_site_remove, "site remove NAME"},
    /* before "pair": "pair mode" is its own command */
    {"pair mode",
     2,
     2,
     {"sync-timeout=", NULL},
     cmd_pair_mode,
     "pair mode POOL async|sync [--sync-timeout D]"},
    {"pair",
     2,
     2,
     {"force", "mode=", "sync-timeout=", NULL},
     cmd_pair,
     "pair A B [--force] [--mode async|sync] [--sync-timeout D]"},
    {"unpair", 1, 1, {NULL}, cmd_unpair, "unpair POOL"},
    {"sba add",
     1,
     1,
     {"site=", "backup-pool=", NULL},
     cmd_sba_add,
     "sba add NAME --site S --backup-pool POOL"},
    {"sba list", 0, 0, {NULL}, cmd_sba_list, "sba list"},
    {"sba remove", 1, 1, {NULL}, cmd_sba_remove, "sba remove NAME"},
    {"cms show", 0, 0, {NULL}, cmd_cms_show, "cms show"},
    {"cms failover",
     0,
     0,
     {"what-if", "force", "disaster", NULL},
     failover_cmd_cms,
     "cms failover [--disaster] [--what-if] [--force]"},
    {"failover",
     1,
     1,
     {"disaster", "what-if", "force", NULL},
     failover_cmd_failover,
     "failover POOL [--disaster] [--what-if] [--force]"},
    {"failback",
     1,
     1,
     {"what-if", "force", NULL},
     failover_cmd_failback,
     "failback POOL [--what-if] [--force]"},
    {"recover",
     0,
     0,
     {"force-quorum", NULL},
     failover_cmd_recover,
     "recover --force-quorum"},
    {"topology apply",
     1,
     1,
     {"dry-run", NULL},
     topology_apply,
     "topology apply FILE|- [--dry-run]"},
    {"history",
     0,
     0,
     {"limit=", "before=", NULL},
     cmd_history,
     "history [--limit N] [--before SEQ]"},
    {"backup status", 0, 0, {NULL}, backup_cmd_status, "backup status"},
    {"backup sync",
     1,
     1,
     {"wait=", NULL},
     backup_cmd_sync,
     "backup sync POOL [--wait SECONDS]"},
    {"backup verify",
     1,
     1,
     {"no-repair", NULL},
     failover_cmd_verify,
     "backup verify POOL [--no-repair]"},
    {"divergence list",
     0,
     0,
     {"limit=", NULL},
     backup_cmd_divergence_list,
     "divergence list [--limit N]"},
    {"user enable",
     1,
     1,
     {"pool=", NULL},
     users_cmd_enable,
     "user enable SIP --pool POOL"},
    {"user disable", 1, 1, {NULL}, users_cmd_disable, "user disable SIP"},
    {"user set",
     2,
     2,
     {"value=", "file=", NULL},
     users_cmd_set,
     "user set SIP profile|contacts|settings (--value JSON | --file "
     "FILE|-)"},
    {"user get",
     2,
     2,
     {NULL},
     users_cmd_get,
     "user get SIP profile|contacts|settings"},
    {"user locate", 1, 1, {NULL}, users_cmd_locate, "user locate SIP"},
    {"conference schedule",
     2,
     2,
     {"value=", "file=", NULL},
     conference_cmd_schedule,
     "conference schedule SIP ID (--value JSON | --file FILE|-)"},
    {"conference get",
     2,
     2,
     {NULL},
     conference_cmd_get,
     "conference get SIP ID"},
    {"content upload",
     4,
     4,
     {NULL},
     content_cmd_upload,
     "content upload SIP CONF NAME FILE"},
    {"content download",
     4,
     4,
     {NULL},
     content_cmd_download,
     "content download SIP CONF NAME FILE|-"},
};

#define CTL_NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/* Length of the first word of name. */
static size_t first_word_len(const char *name)
{
	const char *sp = strchr(name, ' ');

	return sp != NULL ? (size_t)(sp - name) : strlen(name);
}

const struct ctl_command *ctl_command_find(int argc, char *const argv[],
					   int *words)
{
	size_t i;

	if (argc < 1)
		return NULL;
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		const char *name = ctl_commands[i].name;
		size_t n = first_word_len(name);

		if (strlen(argv[0]) != n || strncmp(name, argv[0], n) != 0)
			continue;
		if (name[n] == '\0') {
			*words = 1;
			return &ctl_commands[i];
		}
		if (argc >= 2 && strcmp(name + n + 1, argv[1]) == 0) {
			*words = 2;
			return &ctl_commands[i];
		}
	}
	return NULL;
}

int ctl_command_usages(FILE *out, const char *group)
{
	int lines = 0;
	size_t i;

	for (i = 0; i < CTL_NCOMMANDS; i++) {
		const char *name = ctl_commands[i].name;
		size_t n = first_word_len(name);

		if (group != NULL &&
		    (strlen(group) != n || strncmp(name, group, n) != 0))
			continue;
		if (out != NULL)
			fprintf(out, "usage: poolpairctl %s\n",
				ctl_commands[i].usage);
		lines++;
	}
	return lines;
}
