/* backup: `backup status` and `divergence list`. */
#include "agent/ctl/backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/ctl/status.h"
#include "agent/ctl/table.h"
#include "agent/ctl/users.h"

#define BACKUP_VALUE_CELL 32 /* bytes of an archived value shown */

/* GET path; with --json print the answer and set *list NULL; else *list
 * is the array under key, owned by *resp. */
static int get_list(struct ctl *ctl, const char *path, const char *key,
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

/* The first of the members named (NULL-terminated) that obj has. */
static json_t *member(json_t *obj, const char *const *keys)
{
	for (; *keys != NULL; keys++) {
		json_t *v = json_object_get(obj, *keys);

		if (v != NULL && !json_is_null(v))
			return v;
	}
	return NULL;
}

static double number(json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v)
				  : json_real_value(v);
}

/* A number of obj's member key with printf format fmt, or "-". */
static void cell_number(struct table *t, json_t *obj, const char *key,
			const char *fmt)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_number(v))
		table_cellf(t, fmt, number(v));
	else
		ctl_cell_json(t, v);
}

static void cell_bytes(struct table *t, json_t *v)
{
	char buf[32];

	if (json_is_number(v))
		table_cell(t, users_format_bytes(number(v), buf, sizeof(buf)));
	else
		ctl_cell_json(t, v);
}

int backup_cmd_status(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const hdr[] = {
	    "FROM",	 "TO",	       "CATEGORY", "STATE",
	    "HEAD",	 "ACKED",      "LAG(REC)", "LAG(BYTES)",
	    "LAG(S)", "REC/S",     "RATIO",	   "ERROR"};
	struct table t;
	json_t *resp;
	json_t *list;
	json_t *d;
	size_t i;
	int rv = get_list(ctl, "/v1/backup", "backup", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0) {
		ctl_say(ctl->out, "no backup directions (no paired pools)");
		json_decref(resp);
		return CTL_OK;
	}
	if (table_init(&t, 12, hdr) != 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	json_array_foreach (list, i, d) {
		table_row(&t);
		ctl_cell_key(&t, d, "from");
		ctl_cell_key(&t, d, "to");
		ctl_cell_key(&t, d, "category");
		ctl_cell_key(&t, d, "state");
		ctl_cell_key(&t, d, "head_seq");
		ctl_cell_key(&t, d, "acked_seq");
		ctl_cell_key(&t, d, "lag_records");
		cell_bytes(&t, json_object_get(d, "lag_bytes"));
		cell_number(&t, d, "lag_seconds", "%.1f");
		cell_number(&t, d, "records_per_second", "%.0f");
		cell_number(&t, d, "compression_ratio", "%.2f");
		ctl_cell_key(&t, d, "error");
	}
	rv = ctl_render(ctl, &t);
	json_decref(resp);
	return rv;
}

/* Decimal 1..max. Returns 0 and *out, or -1. */
static int parse_limit(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

/* The archive time: a string as it is, milliseconds since the epoch as
 * UTC. */
static void cell_archived(struct table *t, json_t *e)
{
	static const char *const keys[] = {"archived", "archived_at_ms",
					   "archived_at", NULL};
	json_t *v = member(e, keys);
	char buf[32];
	struct tm tm;
	time_t secs;

	if (!json_is_integer(v)) {
		ctl_cell_json(t, v);
		return;
	}
	secs = (time_t)(json_integer_value(v) / 1000);
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		ctl_cell_json(t, v);
	else
		table_cell(t, buf);
}

/* The archived value: a string cut to BACKUP_VALUE_CELL bytes (on a
 * UTF-8 boundary) with "..." when longer; other JSON as ctl_cell_json. */
static void cell_value(struct table *t, json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (s == NULL || n <= BACKUP_VALUE_CELL) {
		ctl_cell_json(t, v);
		return;
	}
	n = BACKUP_VALUE_CELL;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	table_cellf(t, "%.*s...", (int)n, s);
}

int backup_cmd_divergence_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const hdr[] = {"ID",	   "USER-SET", "EPOCH",
					  "SEQ",   "KEY",      "VALUE",
					  "ARCHIVED", "REASON"};
	char path[64] = "/v1/divergence";
	unsigned long limit;
	struct table t;
	json_t *resp;
	json_t *list;
	json_t *e;
	size_t i;
	int rv;

	if (a->opt[0] != NULL) {
		if (parse_limit(a->opt[0], BACKUP_MAX_LIMIT, &limit) != 0)
			return ctl_usage_error(ctl, a,
					       "bad --limit '%s' (1 to %d)",
					       a->opt[0], BACKUP_MAX_LIMIT);
		snprintf(path, sizeof(path), "/v1/divergence?limit=%lu",
			 limit);
	}
	rv = get_list(ctl, path, "divergence", &resp, &list);
	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0) {
		ctl_say(ctl->out, "no diverged writes");
		json_decref(resp);
		return CTL_OK;
	}
	if (table_init(&t, 8, hdr) != 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	json_array_foreach (list, i, e) {
		table_row(&t);
		ctl_cell_key(&t, e, "id");
		ctl_cell_key(&t, e, "user_set");
		ctl_cell_key(&t, e, "epoch");
		ctl_cell_key(&t, e, "seq");
		ctl_cell_key(&t, e, "key");
		cell_value(&t, json_object_get(e, "value"));
		cell_archived(&t, e);
		ctl_cell_key(&t, e, "reason");
	}
	rv = ctl_render(ctl, &t);
	json_decref(resp);
	return rv;
}
