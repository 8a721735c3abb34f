/* history: the poolpairctl history command (see history.h). */
#include "agent/ctl/history.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/ctl/status.h"
#include "agent/ctl/table.h"

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
	table_cellf(
	    t, "%" JSON_INTEGER_FORMAT " rec, %s, %.1f s",
	    json_integer_value(r),
	    ctl_format_bytes(json_number_value(b), bytes, sizeof(bytes)),
	    json_number_value(s));
}

int history_cmd(struct ctl *ctl, const struct ctl_args *a)
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
	    (ctl_parse_uint(a->opt[0], 1000, &limit) != 0 || limit == 0))
		return ctl_usage_error(ctl, a, "bad --limit '%s' (1 to 1000)",
				       a->opt[0]);
	if (a->opt[1] != NULL &&
	    (ctl_parse_uint(a->opt[1], UINT64_MAX, &before) != 0 ||
	     before == 0))
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
