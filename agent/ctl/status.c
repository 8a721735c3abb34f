/* status: the status command and the rendering it shares with the other
 * commands (see status.h). */
#include "agent/ctl/status.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/ctl.h"
#include "agent/ctl/table.h"

const char *ctl_format_bytes(double n, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%.0f B", n < 0 ? 0.0 : n);
		return buf;
	}
	n /= 1024;
	while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, n < 10 ? "%.2f %s" : "%.1f %s", n, units[u]);
	return buf;
}

/* Text of a JSON value for a cell: strings as they are ("" as "-"),
 * numbers, booleans as yes/no, null or absent as "-". */
void ctl_cell_json(struct table *t, json_t *v)
{
	if (json_is_string(v))
		table_cell(t,
			   json_string_length(v) ? json_string_value(v) : "-");
	else if (json_is_integer(v))
		table_cellf(t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		table_cellf(t, "%g", json_real_value(v));
	else if (json_is_true(v))
		table_cell(t, "yes");
	else if (json_is_false(v))
		table_cell(t, "no");
	else if (v == NULL || json_is_null(v))
		table_cell(t, "-");
	else
		table_cell(t, "?");
}

void ctl_cell_key(struct table *t, json_t *obj, const char *key)
{
	ctl_cell_json(t, json_object_get(obj, key));
}

/* Text of a JSON scalar for a sentence ("-" when absent). buf is used for
 * numbers; the result is valid while v and buf are. */
static const char *text_of(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_length(v) ? json_string_value(v) : "-";
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "yes";
	if (json_is_false(v))
		return "no";
	return "-";
}

int ctl_render(struct ctl *ctl, struct table *t)
{
	if (t->err != 0) {
		table_close(t);
		return ctl_out_of_memory(ctl);
	}
	table_render(t, ctl->out);
	table_close(t);
	return CTL_OK;
}

/* Tables shared by status and the list commands. */

int ctl_render_members(struct ctl *ctl, json_t *members)
{
	static const char *const hdr[] = {"ID",	  "NAME", "SITE", "POOL",
					  "ROLE", "RAFT", "API",  "REACHABLE"};
	struct table t;
	json_t *m;
	size_t i;

	if (table_init(&t, 8, hdr) != 0)
		return ctl_out_of_memory(ctl);
	json_array_foreach (members, i, m) {
		table_row(&t);
		ctl_cell_key(&t, m, "id");
		ctl_cell_key(&t, m, "name");
		ctl_cell_key(&t, m, "site");
		ctl_cell_key(&t, m, "pool");
		ctl_cell_key(&t, m, "role");
		ctl_cell_key(&t, m, "raft");
		ctl_cell_key(&t, m, "api");
		ctl_cell_key(&t, m, "reachable");
	}
	return ctl_render(ctl, &t);
}

/* Under the pools table, per pool when the answer has them: the
 * replication mode of its pair when sync, why its last failover was made,
 * and why an automatic failover is not made now. */
/* A pool of several agents: "POOL: writer NAME (member ID, token T),
 * standbys A (STATE, lag N records, M ms), B (...); local sync L, sync
 * standby S" ("no writer" while it has none; a standby's figures only
 * when the writer's are known; "sync standby none" without one); nothing
 * for a pool of one agent or none. */
static void say_writer(struct ctl *ctl, const char *name, json_t *p)
{
	json_t *w = json_object_get(p, "writer");
	json_t *standbys = json_object_get(p, "standbys");
	const char *wname = json_string_value(json_object_get(w, "name"));
	json_int_t id = json_integer_value(json_object_get(w, "id"));
	json_int_t token = json_integer_value(json_object_get(w, "token"));
	const char *local = json_string_value(json_object_get(p, "local_sync"));
	const char *sync = json_string_value(
	    json_object_get(json_object_get(p, "sync_standby"), "name"));
	char list[1024] = "";
	size_t n = 0, i;
	json_t *s;

	if (json_array_size(standbys) == 0)
		return;
	json_array_foreach (standbys, i, s) {
		const char *sn = json_string_value(json_object_get(s, "name"));
		const char *st =
		    json_string_value(json_object_get(s, "state"));
		json_t *records = json_object_get(s, "lag_records");
		json_t *ms = json_object_get(s, "lag_ms");

		if (sn == NULL || n >= sizeof(list))
			continue;
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      i > 0 ? ", " : "", sn);
		if (st != NULL && n < sizeof(list))
			n += (size_t)snprintf(
			    list + n, sizeof(list) - n,
			    " (%s, lag %" JSON_INTEGER_FORMAT
			    " records, %" JSON_INTEGER_FORMAT " ms)",
			    st, json_integer_value(records),
			    json_integer_value(ms));
	}
	if (id > 0 && wname != NULL)
		ctl_say(ctl->out,
			"%s: writer %s (member %" JSON_INTEGER_FORMAT
			", token %" JSON_INTEGER_FORMAT "), standbys %s",
			name, wname, id, token, list);
	else
		ctl_say(ctl->out, "%s: no writer (token %" JSON_INTEGER_FORMAT
				  "), standbys %s",
			name, token, list);
	if (local != NULL)
		ctl_say(ctl->out, "%s: local sync %s, sync standby %s", name,
			local, sync != NULL && sync[0] != '\0' ? sync : "none");
}

static void say_pool_notes(struct ctl *ctl, json_t *pools)
{
	json_t *p;
	size_t i;

	json_array_foreach (pools, i, p) {
		const char *name =
		    json_string_value(json_object_get(p, "name"));
		const char *last =
		    json_string_value(json_object_get(p, "last_failover_reason"));
		const char *refusal = json_string_value(
		    json_object_get(p, "auto_failover_refusal"));
		const char *mode =
		    json_string_value(json_object_get(p, "replication_mode"));
		const char *pair =
		    json_string_value(json_object_get(p, "pair"));
		json_t *timeout = json_object_get(p, "sync_timeout_ms");
		char tbuf[32] = "";
		const char *why =
		    json_string_value(json_object_get(p, "pause_reason"));
		json_t *since = json_object_get(p, "paused_since");

		if (json_is_integer(timeout))
			snprintf(tbuf, sizeof(tbuf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(timeout));
		if (name == NULL)
			continue;
		/* async is the default: a pair in sync mode is named */
		if (mode != NULL && strcmp(mode, "sync") == 0)
			ctl_say(ctl->out,
				"%s: replication sync with %s (sync timeout "
				"%s ms)",
				name, pair != NULL ? pair : "-",
				json_is_integer(timeout) ? tbuf : "-");
		if (last != NULL && last[0] != '\0')
			ctl_say(ctl->out, "%s: last failover: %s", name, last);
		if (json_is_true(json_object_get(p, "paused")))
			ctl_say(ctl->out,
				"%s: paused since %s%s%s%s: no automatic "
				"failover until resumed",
				name,
				json_is_string(since) ? json_string_value(since)
						      : "?",
				why != NULL && why[0] != '\0' ? " (" : "",
				why != NULL ? why : "",
				why != NULL && why[0] != '\0' ? ")" : "");
		if (refusal != NULL && refusal[0] != '\0')
			ctl_say(ctl->out, "%s: no automatic failover: %s", name,
				refusal);
		say_writer(ctl, name, p);
	}
}

/* cms (borrowed, may be NULL): the CMS object of a status, to also mark
 * the standby pool. */
int ctl_render_pools(struct ctl *ctl, json_t *pools, json_t *cms)
{
	static const char *const hdr[] = {
	    "POOL",  "SITE",  "EDITION", "KIND",    "OS",  "PAIR",
	    "STATE", "OWNER", "EPOCH",	 "HEALTHY", "CMS", "SUPPORTED"};
	const char *standby =
	    json_string_value(json_object_get(cms, "standby"));
	struct table t;
	json_t *p;
	size_t i;
	int rv;

	if (table_init(&t, 12, hdr) != 0)
		return ctl_out_of_memory(ctl);
	json_array_foreach (pools, i, p) {
		const char *name =
		    json_string_value(json_object_get(p, "name"));
		const char *pair =
		    json_string_value(json_object_get(p, "pair"));
		json_t *supported = json_object_get(p, "supported");
		const char *reason =
		    json_string_value(json_object_get(p, "unsupported_reason"));

		table_row(&t);
		ctl_cell_key(&t, p, "name");
		ctl_cell_key(&t, p, "site");
		ctl_cell_key(&t, p, "edition");
		ctl_cell_key(&t, p, "kind");
		ctl_cell_key(&t, p, "os");
		ctl_cell_key(&t, p, "pair");
		ctl_cell_key(&t, p, "state");
		ctl_cell_key(&t, p, "owner");
		ctl_cell_key(&t, p, "epoch");
		ctl_cell_key(&t, p, "healthy");
		if (json_is_true(json_object_get(p, "hosts_cms")))
			table_cell(&t, "active");
		else if (name != NULL && standby != NULL &&
			 standby[0] != '\0' && strcmp(name, standby) == 0)
			table_cell(&t, "standby");
		else
			table_cell(&t, "-");
		if (pair == NULL || pair[0] == '\0' || supported == NULL)
			table_cell(&t, "-");
		else if (json_is_false(supported))
			table_cellf(&t, "no (%s)",
				    reason != NULL && reason[0] != '\0'
					? reason
					: "unknown reason");
		else
			ctl_cell_json(&t, supported);
	}
	rv = ctl_render(ctl, &t);
	if (rv == CTL_OK)
		say_pool_notes(ctl, pools);
	return rv;
}

/* "yes", "no" or "-" of a boolean member; with the reason when there is
 * one. */
static void cell_flag(struct table *t, json_t *obj, const char *key,
		      const char *why_key)
{
	json_t *v = json_object_get(obj, key);
	const char *why = json_string_value(json_object_get(obj, why_key));

	if (json_is_true(v) && why != NULL && why[0] != '\0')
		table_cellf(t, "yes (%s)", why);
	else
		ctl_cell_json(t, v);
}

int ctl_render_sbas(struct ctl *ctl, json_t *sbas)
{
	static const char *const hdr[] = {"SBA", "SITE", "BACKUP",
					  "BACKUP_DOWN", "RESILIENCY"};
	struct table t;
	json_t *s;
	size_t i;

	if (table_init(&t, 5, hdr) != 0)
		return ctl_out_of_memory(ctl);
	json_array_foreach (sbas, i, s) {
		table_row(&t);
		ctl_cell_key(&t, s, "name");
		ctl_cell_key(&t, s, "site");
		ctl_cell_key(&t, s, "backup_pool");
		cell_flag(&t, s, "backup_pool_down", "backup_pool_down_reason");
		if (json_is_true(json_object_get(s, "resiliency_mode")))
			table_cell(&t, "resiliency mode");
		else if (json_is_false(json_object_get(s, "resiliency_mode")))
			table_cell(&t, "normal");
		else
			table_cell(&t, "-");
	}
	return ctl_render(ctl, &t);
}

/* Where a status row's figures come from: "NAME (live)", "NAME, 0.3 s
 * ago", "NAME, 12.0 s ago (stale)", or "-". */
static void cell_source(struct table *t, json_t *b)
{
	const char *name = json_string_value(json_object_get(b, "source"));
	json_t *age = json_object_get(b, "age_seconds");
	double secs = json_is_number(age) ? json_number_value(age) : -1;
	bool stale = json_is_true(json_object_get(b, "stale"));

	if (name == NULL || name[0] == '\0')
		table_cell(t, "-");
	else if (secs < 0)
		table_cell(t, name);
	else if (secs == 0 && !stale)
		table_cellf(t, "%s (live)", name);
	else
		table_cellf(t, "%s, %.1f s ago%s", name, secs,
			    stale ? " (stale)" : "");
}

static int render_backup(struct ctl *ctl, json_t *backup)
{
	static const char *const hdr[] = {
	    "FROM",	 "TO",		"USER_SET",    "CATEGORY",
	    "STATE",	 "HEAD",	"ACKED",       "LAG_RECORDS",
	    "LAG_BYTES", "LAG_SECONDS", "REPORTED_BY"};
	static const char *const keys[] = {"from",	"to",
					   "user_set",	"category",
					   "state",	"head_seq",
					   "acked_seq", "lag_records"};
	struct table t;
	json_t *b;
	size_t i;
	size_t k;

	if (table_init(&t, 11, hdr) != 0)
		return ctl_out_of_memory(ctl);
	json_array_foreach (backup, i, b) {
		json_t *bytes = json_object_get(b, "lag_bytes");
		json_t *secs = json_object_get(b, "lag_seconds");
		char buf[32];

		table_row(&t);
		for (k = 0; k < 8; k++)
			ctl_cell_key(&t, b, keys[k]);
		if (json_is_number(bytes))
			table_cell(&t, ctl_format_bytes(
					   json_number_value(bytes), buf,
					   sizeof(buf)));
		else
			ctl_cell_json(&t, bytes);
		if (json_is_number(secs))
			table_cellf(&t, "%.1f", json_number_value(secs));
		else
			ctl_cell_json(&t, secs);
		cell_source(&t, b);
	}
	return ctl_render(ctl, &t);
}

void ctl_say_cms(struct ctl *ctl, const char *prefix, json_t *cms)
{
	char b1[32];
	char b2[32];
	char b3[32];

	const char *state = json_string_value(json_object_get(cms, "state"));

	ctl_say(ctl->out, "%sactive %s, standby %s, epoch %s%s", prefix,
		text_of(json_object_get(cms, "active"), b1, sizeof(b1)),
		text_of(json_object_get(cms, "standby"), b2, sizeof(b2)),
		text_of(json_object_get(cms, "epoch"), b3, sizeof(b3)),
		state != NULL && strcmp(state, "failing_over") == 0
		    ? "; moving to the standby (writes stopped while its "
		      "documents drain)"
		    : "");
}

/* status */

/* "a, b, c" of the strings of arr (malloc()ed), or NULL out of memory. */
static char *join_strings(json_t *arr)
{
	char *out = strdup("");
	json_t *v;
	size_t i;

	json_array_foreach (arr, i, v) {
		char buf[32];
		char *next;

		if (out == NULL)
			return NULL;
		if (asprintf(&next, "%s%s%s", out, i ? ", " : "",
			     text_of(v, buf, sizeof(buf))) < 0)
			next = NULL;
		free(out);
		out = next;
	}
	return out;
}

static void say_cluster(struct ctl *ctl, json_t *st)
{
	json_t *self = json_object_get(st, "self");
	json_t *cl = json_object_get(st, "cluster");
	json_t *leader = json_object_get(cl, "leader");
	char b[6][32];
	char *lead = NULL;

	if (json_is_object(leader) &&
	    asprintf(&lead, "%s (id %s, api %s)",
		     text_of(json_object_get(leader, "name"), b[0], 32),
		     text_of(json_object_get(leader, "id"), b[1], 32),
		     text_of(json_object_get(leader, "api"), b[2], 32)) < 0)
		lead = NULL;
	ctl_say(ctl->out, "cluster: leader %s, term %s, commit %s, applied %s",
		lead != NULL ? lead : "none known",
		text_of(json_object_get(cl, "term"), b[3], 32),
		text_of(json_object_get(cl, "commit_index"), b[4], 32),
		text_of(json_object_get(cl, "applied_index"), b[5], 32));
	free(lead);
	if (json_is_object(self))
		ctl_say(ctl->out, "answered by: %s (id %s, %s)",
			text_of(json_object_get(self, "name"), b[0], 32),
			text_of(json_object_get(self, "id"), b[1], 32),
			text_of(json_object_get(self, "state"), b[2], 32));
	/* the agent answering runs without authentication ([listen]
	 * insecure = true): say why, as it does */
	if (json_is_string(json_object_get(st, "insecure")))
		ctl_say(ctl->out, "INSECURE: %s",
			json_string_value(json_object_get(st, "insecure")));
}

/* A titled section: "TITLE: none" or "TITLE:" and its table. */
static int status_section(struct ctl *ctl, const char *title, json_t *list,
			  int (*fn)(struct ctl *, json_t *))
{
	ctl_say(ctl->out, "%s", "");
	if (json_array_size(list) == 0) {
		ctl_say(ctl->out, "%s: none", title);
		return CTL_OK;
	}
	ctl_say(ctl->out, "%s:", title);
	return fn(ctl, list);
}

int ctl_cmd_status(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *st;
	json_t *cms;
	json_t *pol;
	json_t *v;
	char *sites;
	char b[3][32];
	int rv = ctl_call(ctl, "GET", "/v1/status", NULL, &st);

	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		rv = ctl_print_json(ctl, st);
		json_decref(st);
		return rv;
	}
	if (!json_is_object(st)) {
		json_decref(st);
		return ctl_bad_answer(ctl, "status is not an object");
	}
	say_cluster(ctl, st);
	rv = status_section(
	    ctl, "members",
	    json_object_get(json_object_get(st, "cluster"), "members"),
	    ctl_render_members);
	if (rv != CTL_OK)
		goto out;

	sites = join_strings(json_object_get(st, "sites"));
	if (sites == NULL) {
		rv = ctl_out_of_memory(ctl);
		goto out;
	}
	ctl_say(ctl->out, "%s", "");
	ctl_say(ctl->out, "sites: %s", sites[0] ? sites : "none");
	free(sites);

	cms = json_object_get(st, "cms");
	v = json_object_get(st, "pools");
	ctl_say(ctl->out, "%s", "");
	if (json_array_size(v) == 0) {
		ctl_say(ctl->out, "pools: none");
	} else {
		ctl_say(ctl->out, "pools:");
		rv = ctl_render_pools(ctl, v, cms);
		if (rv != CTL_OK)
			goto out;
	}
	rv = status_section(ctl, "sbas", json_object_get(st, "sbas"),
			    ctl_render_sbas);
	if (rv != CTL_OK)
		goto out;
	v = json_object_get(st, "backup");
	if (json_array_size(v) > 0) {
		rv = status_section(ctl, "backup", v, render_backup);
		if (rv != CTL_OK)
			goto out;
	}

	ctl_say(ctl->out, "%s", "");
	if (json_is_object(cms))
		ctl_say_cms(ctl, "cms: ", cms);
	else
		ctl_say(ctl->out, "cms: not placed");
	pol = json_object_get(st, "policy");
	ctl_say(
	    ctl->out,
	    "policy: failover %s%s, max lag on failover %s ms, "
	    "cooldown %s ms",
	    text_of(json_object_get(pol, "failover"), b[0], 32),
	    json_is_true(json_object_get(pol, "failover_default"))
		? " (default)"
		: "",
	    text_of(json_object_get(pol, "max_lag_on_failover_ms"), b[1], 32),
	    text_of(json_object_get(pol, "cooldown_ms"), b[2], 32));
out:
	json_decref(st);
	return rv;
}
