/* failover: failover, failback, cms failover, backup verify and recover
 * (see failover.h). */
#include "agent/ctl/failover.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/ctl/status.h"
#include "agent/ctl/table.h"

/* Raise the client's timeout to at least min_ms; returns the old one for
 * timeout_restore(). */
static long timeout_raise(struct ctl *ctl, long min_ms)
{
	long old = ctl->client->timeout_ms;

	if (old < min_ms)
		ctl->client->timeout_ms = min_ms;
	return old;
}

static void timeout_restore(struct ctl *ctl, long old)
{
	ctl->client->timeout_ms = old;
}

/* "/v1/PREFIX/ESCAPED(name)SUFFIX" (malloc()ed) or NULL out of memory. */
static char *pool_path(const char *prefix, const char *name,
		       const char *suffix)
{
	char *esc = client_escape(name);
	char *path;

	if (esc == NULL)
		return NULL;
	if (asprintf(&path, "%s/%s%s", prefix, esc, suffix) < 0)
		path = NULL;
	free(esc);
	return path;
}

/* Refuse a name that cannot go into a JSON body or path. */
static int name_ok(struct ctl *ctl, const struct ctl_args *a, const char *s)
{
	json_t *v;

	if (s[0] == '\0')
		return ctl_usage_error(ctl, a, "empty pool name");
	v = json_string(s);
	if (v == NULL)
		return ctl_usage_error(ctl, a, "pool name is not valid utf-8");
	json_decref(v);
	return CTL_OK;
}

static const char *str_of(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

static double num_of(json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v)
				  : json_real_value(v);
}

/* "R records, B, S s" of a {records, bytes, seconds} object (borrowed),
 * "unknown" when the numbers are null or absent. */
static void say_amount(struct ctl *ctl, const char *label, json_t *risk)
{
	json_t *r = json_object_get(risk, "records");
	json_t *b = json_object_get(risk, "bytes");
	json_t *s = json_object_get(risk, "seconds");
	char bytes[32];

	if (!json_is_number(r) || !json_is_number(b) || !json_is_number(s)) {
		ctl_say(ctl->out, "  %s: unknown (no report from the pool's "
				  "agent)",
			label);
		return;
	}
	ctl_say(ctl->out, "  %s: %.0f records, %s, %.1f s", label, num_of(r),
		ctl_format_bytes(num_of(b), bytes, sizeof(bytes)),
		num_of(s));
}

/* The data at risk of a failover what-if, with where the figure comes
 * from; planned: the move drains it first. */
static void say_risk(struct ctl *ctl, json_t *risk, bool planned)
{
	const char *source = str_of(risk, "source");
	json_t *age = json_object_get(risk, "report_age_ms");
	json_t *r = json_object_get(risk, "records");

	say_amount(ctl, "data at risk", risk);
	if (source != NULL && strcmp(source, "live") == 0)
		ctl_say(ctl->out, "    (measured at the pool's agent now)");
	else if (source != NULL && strcmp(source, "last_report") == 0 &&
		 json_is_integer(age))
		ctl_say(ctl->out,
			"    (the pool's last report, %" JSON_INTEGER_FORMAT
			" ms old: writes since are not counted)",
			json_integer_value(age));
	if (planned && json_is_integer(r) && json_integer_value(r) > 0)
		ctl_say(ctl->out, "    (a planned failover ships them to the "
				  "pair first and loses none)");
}

/* The first line of a what-if answer and its reason. Returns CTL_OK when
 * allowed, else CTL_FAILED. */
static int say_allowed(struct ctl *ctl, const char *what, json_t *resp)
{
	bool allowed = json_is_true(json_object_get(resp, "allowed"));
	const char *code = str_of(resp, "code");
	const char *reason = str_of(resp, "reason");

	if (allowed)
		ctl_say(ctl->out, "%s: allowed", what);
	else
		ctl_say(ctl->out, "%s: not allowed (%s)", what,
			code != NULL ? code : "refused");
	if (reason != NULL)
		ctl_say(ctl->out, "  why: %s", reason);
	return allowed ? CTL_OK : CTL_FAILED;
}

/* Print resp (owned: released) with --json; returns the exit code. */
static int print_json_owned(struct ctl *ctl, json_t *resp, int rv)
{
	if (ctl_print_json(ctl, resp) != CTL_OK)
		rv = CTL_FAILED;
	json_decref(resp);
	return rv;
}

/* The pool that hosts the active CMS now ("" when unknown; buf holds
 * it). */
static const char *cms_now(struct ctl *ctl, char *buf, size_t len)
{
	char errbuf[256];
	long status = 0;
	json_t *cms = NULL;
	const char *active;

	buf[0] = '\0';
	if (client_request(ctl->client, "GET", "/v1/cms", NULL, &status, &cms,
			   errbuf, sizeof(errbuf)) != 0)
		return buf;
	active = status == 200 ? str_of(cms, "active") : NULL;
	if (active != NULL)
		snprintf(buf, len, "%s", active);
	json_decref(cms);
	return buf;
}

static json_t *move_body(bool disaster, bool what_if, bool force)
{
	return json_pack("{s:b, s:b, s:b}", "disaster", disaster, "what_if",
			 what_if, "force", force);
}

/* POST body (owned: released) to path with the failover timeout. */
static int post_move(struct ctl *ctl, const char *path, json_t *body,
		     bool wait_note, const char *what, json_t **resp)
{
	long old;
	int rv;

	*resp = NULL;
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	if (wait_note && !ctl->json && isatty(fileno(ctl->err)))
		ctl_say(ctl->err, "waiting for the %s to finish (at most 60 s)",
			what);
	old = timeout_raise(ctl, FAILOVER_CALL_TIMEOUT_MS);
	rv = ctl_call(ctl, "POST", path, body, resp);
	timeout_restore(ctl, old);
	json_decref(body);
	return rv;
}

static void say_what_if_failover(struct ctl *ctl, const char *pool,
				 json_t *resp)
{
	json_t *silent = json_object_get(resp, "silent_ms");
	const char *mode = str_of(resp, "mode");

	ctl_say(ctl->out, "  mode: %s", mode != NULL ? mode : "-");
	if (json_is_boolean(json_object_get(resp, "pool_alive"))) {
		if (json_is_true(json_object_get(resp, "pool_alive")))
			ctl_say(ctl->out, "  %s: alive", pool);
		else if (json_is_integer(silent) &&
			 json_integer_value(silent) >= 0)
			ctl_say(ctl->out,
				"  %s: not heard for %" JSON_INTEGER_FORMAT
				" ms",
				pool, json_integer_value(silent));
		else
			ctl_say(ctl->out, "  %s: never heard", pool);
	}
	if (json_is_false(json_object_get(resp, "pair_alive")))
		ctl_say(ctl->out, "  its pair: not heard within the lease");
	if (json_is_boolean(json_object_get(resp, "cms_moves")))
		ctl_say(ctl->out, "  cms moves: %s",
			json_is_true(json_object_get(resp, "cms_moves"))
			    ? "yes"
			    : "no");
	say_risk(ctl, json_object_get(resp, "data_at_risk"),
		 mode != NULL && strcmp(mode, "planned") == 0);
}

int failover_cmd_failover(struct ctl *ctl, const struct ctl_args *a)
{
	const char *pool = a->pos[0];
	bool disaster = a->opt[0] != NULL;
	bool what_if = a->opt[1] != NULL;
	bool force = a->opt[2] != NULL;
	char before[128];
	char what[160];
	json_t *resp;
	char *path;
	int rv;

	if (name_ok(ctl, a, pool) != CTL_OK)
		return CTL_USAGE;
	path = pool_path("/v1/pools", pool, "/failover");
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	if (!what_if)
		cms_now(ctl, before, sizeof(before));
	rv = post_move(ctl, path, move_body(disaster, what_if, force),
		       !what_if, disaster ? "disaster failover" : "failover",
		       &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	if (what_if) {
		rv = json_is_true(json_object_get(resp, "allowed")) ? CTL_OK
								   : CTL_FAILED;
		if (ctl->json)
			return print_json_owned(ctl, resp, rv);
		snprintf(what, sizeof(what), "failover of %s", pool);
		rv = say_allowed(ctl, what, resp);
		say_what_if_failover(ctl, pool, resp);
		json_decref(resp);
		return rv;
	}
	if (ctl->json)
		return print_json_owned(ctl, resp, CTL_OK);
	{
		const char *owner = str_of(resp, "owner");
		const char *cms = str_of(resp, "cms");
		json_t *epoch = json_object_get(resp, "epoch");
		char ep[32] = "-";
		char tail[192] = "";

		if (json_is_integer(epoch))
			snprintf(ep, sizeof(ep), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(epoch));
		if (cms != NULL && before[0] != '\0' && strcmp(before, cms))
			snprintf(tail, sizeof(tail), "; the CMS moved to %s",
				 cms);
		else if (cms != NULL)
			snprintf(tail, sizeof(tail), "; the CMS is on %s", cms);
		ctl_say(ctl->out, "%s failed over to %s (%sepoch %s)%s", pool,
			owner != NULL ? owner : "its pair",
			disaster ? "disaster, " : "", ep, tail);
	}
	json_decref(resp);
	return CTL_OK;
}

int failover_cmd_failback(struct ctl *ctl, const struct ctl_args *a)
{
	const char *pool = a->pos[0];
	bool what_if = a->opt[0] != NULL;
	bool force = a->opt[1] != NULL;
	char what[160];
	json_t *resp;
	char *path;
	int rv;

	if (name_ok(ctl, a, pool) != CTL_OK)
		return CTL_USAGE;
	path = pool_path("/v1/pools", pool, "/failback");
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = post_move(ctl, path, move_body(false, what_if, force), !what_if,
		       "failback", &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	if (what_if) {
		const char *mode = str_of(resp, "mode");

		rv = json_is_true(json_object_get(resp, "allowed")) ? CTL_OK
								   : CTL_FAILED;
		if (ctl->json)
			return print_json_owned(ctl, resp, rv);
		snprintf(what, sizeof(what), "failback of %s", pool);
		rv = say_allowed(ctl, what, resp);
		ctl_say(ctl->out, "  mode: %s", mode != NULL ? mode : "-");
		say_amount(ctl, "lag of its copy",
			   json_object_get(resp, "lag"));
		json_decref(resp);
		return rv;
	}
	if (ctl->json)
		return print_json_owned(ctl, resp, CTL_OK);
	{
		const char *owner = str_of(resp, "owner");
		const char *cms = str_of(resp, "cms");
		json_t *epoch = json_object_get(resp, "epoch");
		char ep[32] = "-";

		if (json_is_integer(epoch))
			snprintf(ep, sizeof(ep), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(epoch));
		ctl_say(ctl->out, "%s failed back: %s owns its user set again "
				  "(epoch %s); the CMS is on %s",
			pool, owner != NULL ? owner : pool, ep,
			cms != NULL ? cms : "-");
	}
	json_decref(resp);
	return CTL_OK;
}

int failover_cmd_cms(struct ctl *ctl, const struct ctl_args *a)
{
	bool what_if = a->opt[0] != NULL;
	bool force = a->opt[1] != NULL;
	bool disaster = a->opt[2] != NULL;
	json_t *resp;
	int rv;

	rv = post_move(ctl, "/v1/cms/failover",
		       move_body(disaster, what_if, force), !what_if,
		       disaster ? "disaster move of the CMS"
				: "move of the CMS",
		       &resp);
	if (rv != CTL_OK)
		return rv;
	if (what_if) {
		const char *active = str_of(resp, "active");
		const char *standby = str_of(resp, "standby");

		rv = json_is_true(json_object_get(resp, "allowed")) ? CTL_OK
								   : CTL_FAILED;
		if (ctl->json)
			return print_json_owned(ctl, resp, rv);
		rv = say_allowed(ctl, "cms failover", resp);
		ctl_say(ctl->out, "  moves from %s to %s",
			active != NULL ? active : "-",
			standby != NULL ? standby : "-");
		say_what_if_failover(ctl, active != NULL ? active : "-", resp);
		json_decref(resp);
		return rv;
	}
	if (ctl->json)
		return print_json_owned(ctl, resp, CTL_OK);
	{
		const char *active = str_of(resp, "active");
		const char *from = str_of(resp, "from");
		const char *mode = str_of(resp, "mode");
		json_t *epoch = json_object_get(resp, "epoch");
		json_t *decision = json_object_get(resp, "decision");
		char ep[32] = "-";
		char dec[48] = "";

		if (json_is_integer(epoch))
			snprintf(ep, sizeof(ep), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(epoch));
		if (json_is_integer(decision))
			snprintf(dec, sizeof(dec),
				 " (decision %" JSON_INTEGER_FORMAT ")",
				 json_integer_value(decision));
		ctl_say(ctl->out, "the CMS moved from %s to %s (%s, cms epoch "
				  "%s)%s",
			from != NULL ? from : "-",
			active != NULL ? active : "-",
			mode != NULL ? mode : "-", ep, dec);
		if (mode != NULL && strcmp(mode, "disaster") == 0)
			say_amount(ctl, "data at risk",
				   json_object_get(resp, "data_at_risk"));
	}
	json_decref(resp);
	return CTL_OK;
}

/* backup verify */

/* Report a failed answer (status, answer borrowed) as ctl_call does. */
static int verify_failed(struct ctl *ctl, long status, json_t *answer)
{
	const char *code = str_of(answer, "error");
	const char *message = str_of(answer, "message");

	if (code != NULL && message != NULL)
		ctl_say(ctl->err, "poolpairctl: %s: %s", code, message);
	else if (code != NULL)
		ctl_say(ctl->err, "poolpairctl: %s: http %ld", code, status);
	else
		ctl_say(ctl->err, "poolpairctl: http %ld: %s", status,
			answer != NULL ? "answer without an error code"
				       : "empty answer");
	if (ctl->json)
		ctl_print_json(ctl, answer);
	return CTL_FAILED;
}

/* POST path at the --api agent; a 421 naming the owner's API is repeated
 * there once. On CTL_OK *resp is the answer (owned by the caller). */
static int verify_send(struct ctl *ctl, const char *path, json_t **resp)
{
	char errbuf[512];
	long status = 0;
	json_t *answer = NULL;
	const char *api;
	struct client owner;
	struct client *mine = ctl->client;
	char *base;
	int rv;

	*resp = NULL;
	rv = client_request(ctl->client, "POST", path, NULL, &status, &answer,
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
	api = status == 421 ? str_of(answer, "owner_api") : NULL;
	if (api == NULL) {
		rv = verify_failed(ctl, status, answer);
		json_decref(answer);
		return rv;
	}
	/* the owner's agent speaks as ours does: https with [tls] */
	if (asprintf(&base, "%s://%s",
		     strncmp(mine->base, "https://", 8) == 0 ? "https" : "http",
		     api) < 0) {
		json_decref(answer);
		return ctl_out_of_memory(ctl);
	}
	ctl_say(ctl->err, "poolpairctl: %s owns the user set: asking its "
			  "agent at %s",
		str_of(answer, "owner") != NULL ? str_of(answer, "owner")
						: "another pool",
		api);
	json_decref(answer);
	rv = client_init(&owner, base, mine->timeout_ms);
	free(base);
	if (rv == 0) {
		rv = client_set_tls(&owner, mine->tls_ca, mine->tls_cert,
				    mine->tls_key);
		if (rv != 0)
			client_close(&owner);
	}
	if (rv != 0) {
		ctl_say(ctl->err, "poolpairctl: bad owner api in the answer");
		return CTL_FAILED;
	}
	ctl->client = &owner;
	rv = ctl_call(ctl, "POST", path, NULL, resp);
	ctl->client = mine;
	client_close(&owner);
	return rv;
}

static int render_diffs(struct ctl *ctl, json_t *diffs)
{
	static const char *const hdr[] = {"KIND", "KEY", "PROBLEM",
					  "REPAIRED", "NOTE"};
	struct table t;
	json_t *d;
	size_t i;

	if (table_init(&t, 5, hdr) != 0)
		return ctl_out_of_memory(ctl);
	json_array_foreach (diffs, i, d) {
		json_t *key = json_object_get(d, "key");

		table_row(&t);
		ctl_cell_key(&t, d, "kind");
		if (json_is_string(key))
			ctl_cell_json(&t, key);
		else
			table_cellf(&t, "base64:%s",
				    str_of(d, "key_b64") != NULL
					? str_of(d, "key_b64")
					: "-");
		ctl_cell_key(&t, d, "problem");
		ctl_cell_key(&t, d, "repaired");
		ctl_cell_key(&t, d, "note");
	}
	return ctl_render(ctl, &t);
}

/* Exit code of a verify report: CTL_OK only when it completed, nothing
 * was left unrepaired and the copies are equal. */
static int verify_outcome(json_t *r)
{
	json_int_t total =
	    json_integer_value(json_object_get(r, "differences_total"));
	json_int_t repaired =
	    json_integer_value(json_object_get(r, "repaired"));

	if (!json_is_true(json_object_get(r, "complete")) ||
	    !json_is_true(json_object_get(r, "equal_after")) ||
	    total > repaired)
		return CTL_FAILED;
	return CTL_OK;
}

int failover_cmd_verify(struct ctl *ctl, const struct ctl_args *a)
{
	const char *pool = a->pos[0];
	bool repair = a->opt[0] == NULL;
	json_t *r;
	json_t *diffs;
	json_int_t total, repaired;
	char *path;
	long old;
	int rv;

	if (name_ok(ctl, a, pool) != CTL_OK)
		return CTL_USAGE;
	path = pool_path("/v1/backup", pool,
			 repair ? "/verify" : "/verify?repair=false");
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	if (!ctl->json && isatty(fileno(ctl->err)))
		ctl_say(ctl->err, "comparing both copies of %s (this may take "
				  "a while)",
			pool);
	old = timeout_raise(ctl, VERIFY_CALL_TIMEOUT_MS);
	rv = verify_send(ctl, path, &r);
	timeout_restore(ctl, old);
	free(path);
	if (rv != CTL_OK)
		return rv;
	if (!json_is_object(r)) {
		json_decref(r);
		return ctl_bad_answer(ctl, "verify report is not an object");
	}
	rv = verify_outcome(r);
	if (ctl->json)
		return print_json_owned(ctl, r, rv);
	total = json_integer_value(json_object_get(r, "differences_total"));
	repaired = json_integer_value(json_object_get(r, "repaired"));
	ctl_say(ctl->out, "user set %s (epoch %" JSON_INTEGER_FORMAT ")",
		str_of(r, "user_set") != NULL ? str_of(r, "user_set") : pool,
		json_integer_value(json_object_get(r, "epoch")));
	ctl_say(ctl->out,
		"items: %" JSON_INTEGER_FORMAT " at owner %s, "
		"%" JSON_INTEGER_FORMAT " at backup %s",
		json_integer_value(json_object_get(r, "items_owner")),
		str_of(r, "owner") != NULL ? str_of(r, "owner") : "-",
		json_integer_value(json_object_get(r, "items_backup")),
		str_of(r, "backup") != NULL ? str_of(r, "backup") : "-");
	ctl_say(ctl->out, "buckets differing: %" JSON_INTEGER_FORMAT,
		json_integer_value(json_object_get(r, "buckets_differing")));
	ctl_say(ctl->out,
		"differences: %" JSON_INTEGER_FORMAT ", repaired: "
		"%" JSON_INTEGER_FORMAT "%s",
		total, repaired, repair ? "" : " (repair off)");
	diffs = json_object_get(r, "differences");
	if (json_array_size(diffs) > 0) {
		int trv = render_diffs(ctl, diffs);

		if (trv != CTL_OK) {
			json_decref(r);
			return trv;
		}
		if (json_is_true(json_object_get(r, "truncated")))
			ctl_say(ctl->out, "(only the first %zu of "
					  "%" JSON_INTEGER_FORMAT " listed)",
				json_array_size(diffs), total);
	}
	if (!json_is_true(json_object_get(r, "outbox_drained")))
		ctl_say(ctl->out, "note: the outbox did not drain first "
				  "(%" JSON_INTEGER_FORMAT " records in flight)",
			json_integer_value(json_object_get(r, "outbox_lag")));
	if (!json_is_true(json_object_get(r, "complete")))
		ctl_say(ctl->out, "incomplete: the time limit was reached");
	ctl_say(ctl->out, "equal after: %s",
		json_is_true(json_object_get(r, "equal_after")) ? "yes" : "no");
	if (rv != CTL_OK)
		ctl_say(ctl->err, "poolpairctl: the copies of %s still differ",
			pool);
	json_decref(r);
	return rv;
}

/* recover */

int failover_cmd_recover(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *body;
	json_t *resp;
	const char *msg;
	int rv;

	if (a->opt[0] == NULL)
		return ctl_usage_error(ctl, a,
				       "recover rewrites the raft "
				       "configuration: give --force-quorum");
	ctl_say(ctl->err,
		"poolpairctl: WARNING: forcing a quorum makes a new raft "
		"configuration from the members this agent hears; decisions "
		"the lost majority committed but this agent never received "
		"are gone for good, and old voters that come back must be "
		"removed or re-added by hand");
	body = json_pack("{s:b}", "force_quorum", 1);
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "POST", "/v1/recover", body, &resp);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json)
		return print_json_owned(ctl, resp, CTL_OK);
	msg = str_of(resp, "message");
	if (msg != NULL)
		ctl_say(ctl->out, "%s", msg);
	else
		ctl_say(ctl->out, "recovery accepted: the agent restarts with "
				  "the new configuration");
	if (json_is_array(json_object_get(resp, "members"))) {
		json_t *m;
		size_t i;

		json_array_foreach (json_object_get(resp, "members"), i, m) {
			if (json_is_object(m))
				ctl_say(ctl->out, "  voter %s",
					str_of(m, "name") != NULL
					    ? str_of(m, "name")
					    : "-");
			else if (json_is_integer(m))
				ctl_say(ctl->out,
					"  voter %" JSON_INTEGER_FORMAT,
					json_integer_value(m));
		}
	}
	json_decref(resp);
	return CTL_OK;
}
