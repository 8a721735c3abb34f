/* failover_api: POST /v1/pools/{pool}/failover and /failback at the
 * leader, and the waits of those calls for their outcome (see
 * failover.h). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/failover_internal.h"

/* An API call waiting for a pool to reach an outcome. */
struct failover_wait {
	struct failover_wait *next;
	struct http_request *req;
	char pool[FSM_NAME_LEN];
	int done_state;   /* answer 200 once the pool is in this state */
	int abort_state;  /* answer 409 if it falls back to this one */
	uint64_t epoch;   /* ... with an epoch above this */
	uint64_t deadline_ns;
	bool disaster;    /* commit once the pool's lease ran out */
	bool forced;
	bool moving;      /* the move's first decision was seen applied */
	char who[FSM_WHO_LEN];
};

/* A boolean flag from the body (already read) or the query. */
static bool query_flag(struct http_request *req, const char *name, bool v)
{
	char buf[8];

	if (http_query_param(req, name, buf, sizeof buf) == 0)
		return strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0;
	return v;
}

bool failover_move_flags(struct http_request *req, bool *what_if,
			 bool *disaster, bool *force)
{
	json_error_t jerr;
	json_t *root;
	int w = 0, d = 0, f = 0;

	if (req->body_len > 0) {
		root = json_loadb(req->body, req->body_len,
				  JSON_REJECT_DUPLICATES, &jerr);
		if (root == NULL ||
		    json_unpack_ex(root, &jerr, JSON_STRICT, "{s?b, s?b, s?b}",
				   "what_if", &w, "disaster", &d, "force",
				   &f) != 0) {
			char msg[300];

			snprintf(msg, sizeof msg,
				 "body must be {\"what_if\", \"disaster\", "
				 "\"force\"} (booleans): %s",
				 jerr.text);
			json_decref(root);
			http_respond_error(req, 400, "bad_json", msg);
			return false;
		}
		json_decref(root);
	}
	*what_if = query_flag(req, "what_if", w);
	*disaster = query_flag(req, "disaster", d);
	*force = query_flag(req, "force", f);
	return true;
}

/* The lag of a user set as a report gave it (all null when unknown). */
static json_t *lag_json(const struct failover_lag *rep)
{
	if (rep == NULL)
		return json_pack("{s:n, s:n, s:n}", "records", "bytes",
				 "seconds");
	return json_pack("{s:I, s:I, s:f}", "records",
			 (json_int_t)rep->records, "bytes",
			 (json_int_t)rep->bytes, "seconds",
			 (double)rep->ms / 1000.0);
}

/* ---- the what-if's data at risk ---- */

struct respond {
	struct failover *fo;
	struct http_request *req;
	json_t *answer; /* owned */
};

static void respond_measured(void *arg, const struct risk_figure *r)
{
	struct respond *w = arg;

	if (w->fo->closing) {
		json_decref(w->answer);
		http_respond_error(w->req, 503, "unavailable",
				   "the agent is shutting down");
	} else {
		json_object_set_new(w->answer, "data_at_risk", risk_json(r));
		if (r->error[0] != '\0')
			json_object_set_new(w->answer, "data_at_risk_note",
					    json_string(r->error));
		answer_json(w->req, 200, w->answer); /* takes it */
	}
	free(w);
}

/* Answer req 200 with answer (owned) plus the data at risk of pool
 * (risk_respond()'s answer). */
static void respond_with_risk(struct failover *fo, struct http_request *req,
			      json_t *answer, const char *pool, bool ask_live)
{
	struct respond *w = calloc(1, sizeof *w);

	if (w == NULL || answer == NULL) {
		free(w);
		json_decref(answer);
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	w->fo = fo;
	w->req = req;
	w->answer = answer;
	if (fo->d.liveness.ops->measure(fo->d.liveness.impl, pool, ask_live,
					respond_measured, w) != 0) {
		json_decref(answer);
		free(w);
		http_respond_error(req, 500, "internal", "out of memory");
	}
}

/* ---- waits ---- */

static void wait_add(struct failover *fo, struct http_request *req,
		     const char *pool, int done_state, int abort_state,
		     uint64_t epoch, bool disaster, bool forced,
		     const char *who)
{
	struct failover_wait *w = calloc(1, sizeof *w);

	if (w == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	w->req = req;
	snprintf(w->pool, sizeof w->pool, "%s", pool);
	w->done_state = done_state;
	w->abort_state = abort_state;
	w->epoch = epoch;
	w->disaster = disaster;
	w->forced = forced;
	snprintf(w->who, sizeof w->who, "%s", who);
	w->deadline_ns = clock_mono_ns(fo->d.clock) + FO_WAIT_MAX_MS * FO_MS;
	w->next = fo->waits;
	fo->waits = w;
}

void failover_waits_tick(struct failover *fo)
{
	const struct fsm *f = fo->d.fsm;
	struct failover_wait **pp = &fo->waits;
	uint64_t now = clock_mono_ns(fo->d.clock);

	while (*pp != NULL) {
		struct failover_wait *w = *pp;
		const struct fsm_pool *p = fsm_pool_find(f, w->pool);
		bool done = false;

		if (p != NULL && p->state != w->done_state &&
		    p->state != w->abort_state)
			w->moving = true; /* failing_over / failing_back */
		if (p == NULL) {
			http_respond_error(w->req, 404, "not_found",
					   "the pool is gone");
			done = true;
		} else if (p->state == w->done_state && p->epoch > w->epoch) {
			answer_json(w->req, 200,
				    json_pack("{s:s, s:s, s:s, s:I, s:s}",
					      "pool", p->name, "state",
					      fsm_failover_state_name(p->state),
					      "owner", p->owner, "epoch",
					      (json_int_t)p->epoch, "cms",
					      f->cms_active));
			done = true;
		} else if (w->abort_state >= 0 && p->state == w->abort_state &&
			   p->epoch == w->epoch && w->moving && !w->disaster) {
			/* back where it started after the move had begun (a
			 * begin decision slow to commit is not an abort) */
			http_respond_error(w->req, 409, "aborted",
					   "the move was aborted: see history");
			done = true;
		} else if (now > w->deadline_ns) {
			http_respond_error(w->req, 504, "timeout",
					   "the move did not finish in time; "
					   "it may still: see status");
			done = true;
		} else if (w->disaster && proposer_is_leader(fo->d.proposer) &&
			   failover_disaster(fo, p->name, w->who, w->forced)) {
			w->disaster = false;
		}
		if (done) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

void failover_waits_close(struct failover *fo)
{
	struct failover_wait *w;

	while ((w = fo->waits) != NULL) {
		fo->waits = w->next;
		http_respond_error(w->req, 503, "unavailable",
				   "the agent is shutting down");
		free(w);
	}
}

/* ---- the calls ---- */

static void failover_call(struct failover *fo, struct http_request *req,
			  const char *pool)
{
	const struct fsm *f = fo->d.fsm;
	const struct fsm_pool *p = fsm_pool_find(f, pool);
	bool what_if, disaster, force, cms_moves = false, alive;
	struct fsm_result res;
	uint64_t silent;
	char who[FSM_WHO_LEN];
	int code;

	if (!failover_move_flags(req, &what_if, &disaster, &force))
		return;
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	silent = failover_silence_ms(fo, p->name);
	alive = silent <= failover_alive_ms(fo);
	code = fsm_failover_check(f, p->name, !disaster, &res, &cms_moves);
	if (code == FSM_OK && !alive && !disaster) {
		if (silent == UINT64_MAX)
			snprintf(res.reason, sizeof res.reason,
				 "%s is not reachable (not heard since this "
				 "leader was elected): a failover now is a "
				 "disaster failover (--disaster)",
				 p->name);
		else
			snprintf(res.reason, sizeof res.reason,
				 "%s is not reachable (silent %" PRIu64
				 " ms): a failover now is a disaster failover "
				 "(--disaster)",
				 p->name, silent);
	}
	if (what_if) {
		json_t *answer = json_pack(
		    "{s:s, s:b, s:s, s:s, s:s, s:b, s:b, s:I, s:b}", "pool",
		    p->name, "allowed", code == FSM_OK && (alive || disaster),
		    "code",
		    code == FSM_OK && !alive && !disaster ? "not_reachable"
							  : fsm_code_name(code),
		    "reason", res.reason, "mode",
		    alive && !disaster ? "planned" : "disaster", "cms_moves",
		    cms_moves, "pool_alive", alive, "silent_ms",
		    (json_int_t)(silent == UINT64_MAX ? -1 : (int64_t)silent),
		    "pair_alive",
		    failover_silence_ms(fo, p->pair) <= failover_alive_ms(fo));

		respond_with_risk(fo, req, answer, p->name, alive);
		return;
	}
	if (code != FSM_OK) {
		http_respond_error(req, answer_fsm_status(code),
				   fsm_code_name(code), res.reason);
		return;
	}
	fo->d.who(req, who, sizeof who);
	if (!disaster) {
		struct cmd_ctx ctx = failover_cmd_now(fo, who);
		struct cmd_failover cf = {.pool = p->name,
					  .planned = true,
					  .forced = force,
					  .reason = "planned"};
		struct cmd_buf cmd;
		int packed;

		if (!alive) {
			http_respond_error(req, 409, "not_reachable",
					   res.reason);
			return;
		}
		packed = cmd_failover_begin(&ctx, &cf, &cmd);
		if (failover_propose(fo, p->name, packed, &cmd,
				     "planned failover") != 0) {
			http_respond_error(req, 503, "unavailable",
					   "could not propose the failover");
			return;
		}
		wait_add(fo, req, p->name, FSM_STATE_FAILED_OVER,
			 FSM_STATE_NORMAL, p->epoch, false, false, who);
		return;
	}
	if (alive && !force) {
		http_respond_error(req, 409, "pool_alive",
				   "the pool is alive: a planned failover "
				   "loses nothing (drop --disaster, or add "
				   "--force)");
		return;
	}
	wait_add(fo, req, p->name, FSM_STATE_FAILED_OVER, -1, p->epoch, true,
		 force, who);
}

static void failback_call(struct failover *fo, struct http_request *req,
			  const char *pool)
{
	const struct fsm_pool *p = fsm_pool_find(fo->d.fsm, pool);
	bool what_if, disaster, force, allowed, known;
	struct failover_lag rep;
	char reason[256] = "";
	const char *code = "ok";
	char who[FSM_WHO_LEN];
	struct cmd_ctx ctx;
	struct cmd_buf cmd;
	int packed;

	if (!failover_move_flags(req, &what_if, &disaster, &force))
		return;
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	known = failover_report(fo, p->pair, p->name, failover_alive_ms(fo),
				&rep, NULL);
	if (p->state == FSM_STATE_NORMAL) {
		code = "not_failed_over";
		snprintf(reason, sizeof reason, "%s is not failed over",
			 p->name);
	} else if (p->state != FSM_STATE_RECOVERING &&
		   !(force && p->state == FSM_STATE_FAILED_OVER)) {
		code = "failed_over";
		snprintf(reason, sizeof reason,
			 "%s is %s: it must be recovering (back and catching "
			 "up)",
			 p->name, fsm_failover_state_name(p->state));
	} else if (!force && (!known || rep.records > 0 || rep.seeding ||
			      rep.disconnected)) {
		code = "not_caught_up";
		if (!known)
			snprintf(reason, sizeof reason,
				 "the lag of %s's copy at %s is unknown",
				 p->name, p->name);
		else if (rep.seeding)
			snprintf(reason, sizeof reason,
				 "%s's copy is being rebuilt: %" PRIu64
				 " of %" PRIu64 " items (poolpairctl pool "
				 "rebuild-status %s)",
				 p->name, rep.seed_items, rep.seed_items_total,
				 p->name);
		else if (rep.disconnected)
			snprintf(reason, sizeof reason,
				 "%s's stream of %s's user set to %s is not "
				 "connected: %s has not shown it is caught up",
				 p->pair, p->name, p->name, p->name);
		else
			snprintf(reason, sizeof reason,
				 "%s has not caught up: %" PRIu64
				 " records (%" PRIu64 " bytes, %" PRIu64
				 " ms) behind %s",
				 p->name, rep.records, rep.bytes, rep.ms,
				 p->pair);
	}
	allowed = strcmp(code, "ok") == 0;
	if (what_if) {
		answer_json(req, 200,
			    json_pack("{s:s, s:b, s:s, s:s, s:s, s:o}", "pool",
				      p->name, "allowed", allowed, "code", code,
				      "reason", reason, "mode", "planned",
				      "lag", lag_json(known ? &rep : NULL)));
		return;
	}
	if (!allowed) {
		/* not_failed_over, failed_over, not_caught_up: a conflict
		 * with the pool's state */
		http_respond_error(req, 409, code, reason);
		return;
	}
	fo->d.who(req, who, sizeof who);
	ctx = failover_cmd_now(fo, who);
	packed = cmd_failback_begin(&ctx, p->name, force, &cmd);
	if (failover_propose(fo, p->name, packed, &cmd, "failback") != 0) {
		http_respond_error(req, 503, "unavailable",
				   "could not propose the failback");
		return;
	}
	wait_add(fo, req, p->name, FSM_STATE_NORMAL, FSM_STATE_RECOVERING,
		 p->epoch, false, false, who);
}

/* ---- the handlers of the route table ---- */

/* {pool} of p, or NULL (req answered 404) when longer than a name. */
static const char *pool_param(struct http_request *req,
			      const struct route_params *p)
{
	const char *pool = route_param(p, "pool");

	if (strlen(pool) >= FSM_NAME_LEN) {
		http_respond_error(req, 404, "not_found", "no such path");
		return NULL;
	}
	return pool;
}

void failover_route_failover(void *module, struct http_request *req,
			     const struct route_params *p)
{
	const char *pool = pool_param(req, p);

	if (pool != NULL)
		failover_call(module, req, pool);
}

void failover_route_failback(void *module, struct http_request *req,
			     const struct route_params *p)
{
	const char *pool = pool_param(req, p);

	if (pool != NULL)
		failback_call(module, req, pool);
}
