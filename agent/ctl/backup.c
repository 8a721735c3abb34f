/* backup: `backup status` and `divergence list`. */
#include "agent/ctl/backup.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "agent/ctl/status.h"
#include "agent/ctl/table.h"

#define BACKUP_VALUE_CELL 32 /* bytes of an archived value shown */

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
		table_cell(t, ctl_format_bytes(number(v), buf, sizeof(buf)));
	else
		ctl_cell_json(t, v);
}

/* The state of stream d: "seeding N of M" (items) while it seeds the
 * pair's copy, else its state as the agent says it. */
static void cell_state(struct table *t, json_t *d)
{
	json_t *items = json_object_get(d, "seed_items");
	json_t *total = json_object_get(d, "seed_items_total");

	if (json_is_true(json_object_get(d, "seeding")) &&
	    json_is_integer(items) && json_is_integer(total))
		table_cellf(t, "seeding %lld of %lld",
			    (long long)json_integer_value(items),
			    (long long)json_integer_value(total));
	else
		ctl_cell_key(t, d, "state");
}

int backup_cmd_status(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const hdr[] = {
	    "FROM",	  "TO",	    "USER-SET",   "CATEGORY", "STATE",
	    "HEAD",	  "ACKED",  "LAG(REC)",   "LAG(BYTES)", "LAG(S)",
	    "REC/S",	  "RATIO",  "ERROR"};
	struct table t;
	json_t *resp;
	json_t *list;
	json_t *d;
	size_t i;
	int rv = ctl_get_list(ctl, "/v1/backup", "backup", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0) {
		ctl_say(ctl->out, "no backup directions (no paired pools)");
		json_decref(resp);
		return CTL_OK;
	}
	if (table_init(&t, 13, hdr) != 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	json_array_foreach (list, i, d) {
		table_row(&t);
		ctl_cell_key(&t, d, "from");
		ctl_cell_key(&t, d, "to");
		/* after a failover a pool sends two user sets: the category
		 * alone would name two rows alike */
		ctl_cell_key(&t, d, "user_set");
		ctl_cell_key(&t, d, "category");
		cell_state(&t, d);
		ctl_cell_key(&t, d, "head_seq");
		ctl_cell_key(&t, d, "acked_seq");
		ctl_cell_key(&t, d, "lag_records");
		cell_bytes(&t, json_object_get(d, "lag_bytes"));
		cell_number(&t, d, "lag_seconds", "%.1f");
		cell_number(&t, d, "records_per_second", "%.0f");
		cell_number(&t, d, "compression_ratio", "%.2f");
		/* the last error of the connection, while it is down (once
		 * streaming again it is history) */
		if (json_is_string(json_object_get(d, "connection")) &&
		    strcmp(json_string_value(json_object_get(d, "connection")),
			   "streaming") == 0)
			table_cell(&t, "-");
		else
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
	rv = ctl_get_list(ctl, path, "divergence", &resp, &list);
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

/* Records of user_set not yet acknowledged, from GET /v1/backup at the
 * agent answering; -1 when it cannot be read. */
static long long backup_lag(struct ctl *ctl, const char *user_set)
{
	json_t *resp = NULL;
	json_t *list = NULL;
	json_t *d;
	size_t i;
	long long lag = 0;
	bool any = false;

	if (ctl_get_list(ctl, "/v1/backup", "backup", &resp, &list) != CTL_OK ||
	    list == NULL) {
		json_decref(resp);
		return -1;
	}
	json_array_foreach (list, i, d) {
		const char *us = json_string_value(json_object_get(d, "user_set"));

		if (us == NULL || strcmp(us, user_set) != 0)
			continue;
		any = true;
		lag += (long long)json_integer_value(
		    json_object_get(d, "lag_records"));
	}
	json_decref(resp);
	return any ? lag : -1;
}

static void sync_progress(FILE *f, long long first, long long lag)
{
	int width = 30, done;
	double frac = first > 0 ? (double)(first - lag) / (double)first : 1.0;

	if (frac < 0)
		frac = 0;
	done = (int)(frac * width);
	fprintf(f, "\r[");
	for (int i = 0; i < width; i++)
		fputc(i < done ? '#' : '.', f);
	fprintf(f, "] %3.0f%%  %lld records left   ", frac * 100.0, lag);
	fflush(f);
}

int backup_cmd_sync(struct ctl *ctl, const struct ctl_args *a)
{
	const char *pool = a->pos[0];
	unsigned long timeout_s = 60;
	char *esc;
	char path[512];
	json_t *resp = NULL;
	long long first, lag;
	bool tty = isatty(fileno(ctl->err));
	int rv;

	if (a->opt[0] != NULL && parse_limit(a->opt[0], 600, &timeout_s) != 0)
		return ctl_usage_error(ctl, a,
				       "--wait must be 1..600 seconds");
	esc = client_escape(pool);
	if (esc == NULL)
		return ctl_out_of_memory(ctl);
	/* flush, without waiting: the answer carries the lag now */
	snprintf(path, sizeof path, "/v1/backup/%s/sync?wait=false", esc);
	rv = ctl_call(ctl, "POST", path, NULL, &resp);
	if (rv != CTL_OK) {
		free(esc);
		return rv;
	}
	first = (long long)json_integer_value(json_object_get(resp, "lag_records"));
	json_decref(resp);
	resp = NULL;
	/* progress while the agent ships the rest */
	for (lag = first; lag > 0;) {
		if (tty && !ctl->json)
			sync_progress(ctl->err, first, lag);
		usleep(100000);
		lag = backup_lag(ctl, pool);
		if (lag < 0)
			break;
		if (lag > first)
			first = lag;
	}
	if (tty && !ctl->json && first > 0) {
		sync_progress(ctl->err, first, lag < 0 ? first : lag);
		fputc('\n', ctl->err);
	}
	/* the agent's word that the pair has everything */
	snprintf(path, sizeof path, "/v1/backup/%s/sync?timeout=%lu", esc,
		 timeout_s);
	free(esc);
	rv = ctl_call(ctl, "POST", path, NULL, &resp);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json)
		rv = ctl_print_json(ctl, resp);
	else
		ctl_say(ctl->out, "%s: the pair has every change (lag 0)", pool);
	json_decref(resp);
	return rv;
}
