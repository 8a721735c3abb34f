/* pools: the poolpairctl commands on pools, pairs and SBAs (see
 * pools.h). */
#include "agent/ctl/pools.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/status.h"

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

/* ---- pools ------------------------------------------------------------ */

int pools_cmd_add(struct ctl *ctl, const struct ctl_args *a)
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
	if (!ctl_one_of(a->opt[1], editions))
		return ctl_usage_error(ctl, a,
				       "bad --edition '%s' (enterprise or "
				       "standard)",
				       a->opt[1]);
	if (!ctl_one_of(a->opt[2], kinds))
		return ctl_usage_error(
		    ctl, a, "bad --kind '%s' (physical or virtual)", a->opt[2]);
	if (a->opt[4] != NULL &&
	    ctl_parse_uint(a->opt[4], UINT32_MAX, &capacity) != 0)
		return ctl_usage_error(ctl, a,
				       "bad --capacity '%s' (0 to %u users)",
				       a->opt[4], UINT32_MAX);
	if (ctl_args_utf8(ctl, a) != CTL_OK)
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
	rv = ctl_post_owned(ctl, "/v1/pools", body, &resp);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(ctl, resp, "pool %s added", a->pos[0]);
}

int pools_cmd_list(struct ctl *ctl, const struct ctl_args *a)
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

int pools_cmd_remove(struct ctl *ctl, const struct ctl_args *a)
{
	return ctl_delete_named(ctl, "/v1/pools", a->pos[0], "pool %s removed");
}

/* POST /v1/pools/POOL/ACTION with {"reason"?}. */
static int pool_pause(struct ctl *ctl, const struct ctl_args *a,
		      const char *action, const char *done_fmt)
{
	char *pool = ctl_path_join("/v1/pools", a->pos[0]);
	char *path = NULL;
	json_t *resp;
	json_t *body;
	int rv;

	if (ctl_args_utf8(ctl, a) != CTL_OK) {
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
	rv = ctl_post_owned(ctl, path, body, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(ctl, resp, done_fmt, a->pos[0]);
}

int pools_cmd_pause(struct ctl *ctl, const struct ctl_args *a)
{
	return pool_pause(ctl, a, "pause",
			  "pool %s paused: no automatic failover until "
			  "resumed");
}

int pools_cmd_resume(struct ctl *ctl, const struct ctl_args *a)
{
	return pool_pause(ctl, a, "resume",
			  "pool %s resumed: automatic failover as the policy "
			  "says");
}

/* POST /v1/pools/POOL/writer {"member": MEMBER}. */
int pools_cmd_writer(struct ctl *ctl, const struct ctl_args *a)
{
	char *pool = ctl_path_join("/v1/pools", a->pos[0]);
	char *path = NULL;
	json_t *resp, *w;
	int rv;

	if (ctl_args_utf8(ctl, a) != CTL_OK) {
		free(pool);
		return CTL_USAGE;
	}
	if (pool == NULL || asprintf(&path, "%s/writer", pool) < 0) {
		free(pool);
		return ctl_out_of_memory(ctl);
	}
	free(pool);
	rv = ctl_post_owned(ctl, path, json_pack("{s:s}", "member", a->pos[1]),
			    &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	w = json_object_get(resp, "token");
	return ctl_write_done(ctl, resp,
			      "writer of %s: %s, token %" JSON_INTEGER_FORMAT,
			      a->pos[0], a->pos[1],
			      json_is_integer(w) ? json_integer_value(w) : 0);
}

/* ---- pairs ------------------------------------------------------------ */

#define SYNC_TIMEOUT_MAX_MS 3600000ULL

/* "--mode" and "--sync-timeout" (at a->opt[mode_i], a->opt[mode_i + 1])
 * into body, checked. Returns CTL_OK or CTL_USAGE (reported). */
static int mode_options(struct ctl *ctl, const struct ctl_args *a,
			const char *mode, const char *timeout, json_t *body)
{
	static const char *const modes[] = {"async", "sync", NULL};
	unsigned long long ms;

	if (mode != NULL && !ctl_one_of(mode, modes))
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
		snprintf(buf, len,
			 " (sync, timeout %" JSON_INTEGER_FORMAT " ms)",
			 json_integer_value(t));
}

int pools_cmd_pair(struct ctl *ctl, const struct ctl_args *a)
{
	int force = a->opt[0] != NULL;
	json_t *resp;
	json_t *pair;
	json_t *body;
	char mode[64];
	int rv;

	if (ctl_args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	body = json_pack("{s:s, s:s, s:b}", "a", a->pos[0], "b", a->pos[1],
			 "force", force);
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	if (mode_options(ctl, a, a->opt[1], a->opt[2], body) != CTL_OK) {
		json_decref(body);
		return CTL_USAGE;
	}
	rv = ctl_post_owned(ctl, "/v1/pairs", body, &resp);
	if (rv != CTL_OK)
		return rv;
	pair = json_object_get(resp, "pair");
	if (!ctl->json && json_is_false(json_object_get(pair, "supported"))) {
		const char *reason =
		    json_string_value(json_object_get(pair, "reason"));

		ctl_say(ctl->err, "poolpairctl: warning: %s",
			reason != NULL && reason[0] ? reason
						    : "unknown reason");
	}
	mode_words(pair, mode, sizeof(mode));
	return ctl_write_done(ctl, resp, "paired %s with %s%s%s", a->pos[0],
			      a->pos[1],
			      json_is_false(json_object_get(pair, "supported"))
				  ? " as an unsupported pair"
				  : "",
			      mode);
}

int pools_cmd_pair_mode(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	json_t *pair;
	json_t *body;
	char *path;
	int rv;

	if (ctl_args_utf8(ctl, a) != CTL_OK)
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
	path = ctl_path_join("/v1/pairs", a->pos[0]);
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
		return ctl_write_done(
		    ctl, resp, "pair %s %s: replication %s, sync timeout %s ms",
		    pa != NULL ? pa : a->pos[0], pb != NULL ? pb : "-",
		    pm != NULL ? pm : a->pos[1], ms);
	}
}

int pools_cmd_unpair(struct ctl *ctl, const struct ctl_args *a)
{
	return ctl_delete_named(ctl, "/v1/pairs", a->pos[0], "unpaired %s");
}

/* ---- SBAs ------------------------------------------------------------- */

int pools_cmd_sba_add(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	int rv;

	if (a->opt[0] == NULL || a->opt[0][0] == '\0')
		return ctl_usage_error(ctl, a, "missing --site");
	if (a->opt[1] == NULL || a->opt[1][0] == '\0')
		return ctl_usage_error(ctl, a, "missing --backup-pool");
	if (ctl_args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	rv = ctl_post_owned(ctl, "/v1/sbas",
			    json_pack("{s:s, s:s, s:s}", "name", a->pos[0],
				      "site", a->opt[0], "backup_pool",
				      a->opt[1]),
			    &resp);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(ctl, resp, "sba %s added with backup pool %s",
			      a->pos[0], a->opt[1]);
}

int pools_cmd_sba_list(struct ctl *ctl, const struct ctl_args *a)
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

int pools_cmd_sba_remove(struct ctl *ctl, const struct ctl_args *a)
{
	return ctl_delete_named(ctl, "/v1/sbas", a->pos[0], "sba %s removed");
}
