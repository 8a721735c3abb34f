/* api: HTTP routes of the agent (see api.h, docs/api.md). */
#include "agent/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/log.h"
#include "agent/request.h"
#include "agent/view.h"

#define MOD "api"

/* What a pending write answers with once its decision is known. */
enum api_op_kind {
	OP_PLAIN,     /* {"decision": N} */
	OP_SITE,      /* 201 {"site", "decision"} */
	OP_POOL,      /* 201 {"pool", "decision"} */
	OP_PAIR,      /* 201 {"pair", "decision"} */
	OP_PAIR_MODE, /* 200 {"pair", "decision"} */
	OP_SBA,	      /* 201 {"sba", "decision"} */
	OP_POLICY,    /* 200 {"policy", "decision"} */
	OP_TOPOLOGY,  /* 200 {"diff", "applied", "decision"} */
	OP_PAUSE,     /* 200 {"pool", "decision"} */
};

struct api_op {
	struct api *api;
	struct http_request *req;
	int kind;
	char name[FSM_NAME_LEN];
	char name2[FSM_NAME_LEN];
	json_t *diff; /* OP_TOPOLOGY: owned */
};

/* ---- the module ---- */

int api_init(struct api *api, const struct api_deps *deps)
{
	memset(api, 0, sizeof *api);
	api->d = *deps;
	return 0;
}

void api_close(struct api *api, void (*cb)(struct api *api))
{
	if (cb != NULL)
		cb(api);
}

void api_on_applied(struct api *api)
{
	const struct fsm *f = api->d.fsm;
	unsigned slot = (unsigned)(f->decisions % API_POLICY_SLOTS);

	api->policy_after[slot].seq = f->decisions;
	api->policy_after[slot].policy = f->policy;
	snprintf(api->policy_after[slot].effective,
		 sizeof api->policy_after[slot].effective, "%s",
		 fsm_failover_policy(f));
}

/* ---- answers ---- */

/* A proposal failed: answer it (and count an unknown outcome). */
static void respond_node_error(struct api *api, struct http_request *req,
			       int rv)
{
	metrics_decided(api->d.metrics, rv, NULL);
	answer_proposal_error(req, api->d.proposer, rv);
}

static void request_context(struct api *api, struct http_request *req,
			    char *who, size_t wholen, struct request_ctx *ctx)
{
	api->d.who(req, who, wholen);
	ctx->time_ms = clock_wall_ms(api->d.clock);
	ctx->who = who;
}

/* ---- decisions ---- */

static void op_free(struct api_op *op)
{
	json_decref(op->diff);
	free(op);
}

static void op_decided(void *arg, int status, const struct fsm_result *res)
{
	struct api_op *op = arg;
	struct api *api = op->api;
	struct http_request *req = op->req;
	json_t *body = NULL;
	int code = 200;

	if (status != 0) {
		respond_node_error(api, req, status);
		op_free(op);
		return;
	}
	if (res->code != FSM_OK) {
		char msg[FSM_REASON_LEN + 64];

		metrics_decided(api->d.metrics, 0, res);
		snprintf(msg, sizeof msg, "%s",
			 res->reason[0] != '\0' ? res->reason
						: fsm_code_name(res->code));
		LOG_INFO(MOD, "refused decision %" PRIu64 ": %s: %s", res->seq,
			 fsm_code_name(res->code), msg);
		answer_fsm_refusal(req, res->code, msg);
		op_free(op);
		return;
	}
	metrics_decided(api->d.metrics, 0, res);
	switch (op->kind) {
	case OP_SITE:
		code = 201;
		body = json_pack("{s:s, s:I}", "site", op->name, "decision",
				 (json_int_t)res->seq);
		break;
	case OP_POOL: {
		const struct fsm_pool *p = fsm_pool_find(api->d.fsm, op->name);

		code = 201;
		body = json_pack("{s:o, s:I}", "pool",
				 p != NULL ? view_pool(api->d.view, p)
					   : json_null(),
				 "decision", (json_int_t)res->seq);
		break;
	}
	case OP_PAIR:
	case OP_PAIR_MODE: {
		const struct fsm_pool *p = fsm_pool_find(api->d.fsm, op->name);

		code = op->kind == OP_PAIR ? 201 : 200;
		body = json_pack("{s:o, s:I}", "pair",
				 p != NULL && p->pair[0] != '\0'
				     ? view_pair(p)
				     : json_pack("{s:s, s:s}", "a", op->name,
						 "b", op->name2),
				 "decision", (json_int_t)res->seq);
		break;
	}
	case OP_SBA: {
		const struct fsm_sba *s = fsm_sba_find(api->d.fsm, op->name);

		code = 201;
		body = json_pack("{s:{s:s, s:s, s:s}, s:I}", "sba", "name",
				 op->name, "site", s != NULL ? s->site : "",
				 "backup_pool", s != NULL ? s->backup_pool : "",
				 "decision", (json_int_t)res->seq);
		break;
	}
	case OP_POLICY: {
		/* the policy this decision made, not a later one */
		unsigned slot = (unsigned)(res->seq % API_POLICY_SLOTS);
		if (api->policy_after[slot].seq == res->seq) {
			body = json_pack(
			    "{s:o, s:I}", "policy",
			    view_policy(&api->policy_after[slot].policy,
					api->policy_after[slot].effective),
			    "decision", (json_int_t)res->seq);
		} else {
			body = json_pack(
			    "{s:o, s:I}", "policy",
			    view_policy(&api->d.fsm->policy,
					fsm_failover_policy(api->d.fsm)),
			    "decision", (json_int_t)res->seq);
		}
		break;
	}
	case OP_PAUSE: {
		const struct fsm_pool *p = fsm_pool_find(api->d.fsm, op->name);

		body = json_pack("{s:o, s:I}", "pool",
				 p != NULL ? view_pool(api->d.view, p)
					   : json_null(),
				 "decision", (json_int_t)res->seq);
		break;
	}
	case OP_TOPOLOGY:
		body = json_pack("{s:O, s:b, s:I}", "diff", op->diff, "applied",
				 1, "decision", (json_int_t)res->seq);
		break;
	default:
		body = json_pack("{s:I}", "decision", (json_int_t)res->seq);
		break;
	}
	answer_json_headers(req, code, body, NULL);
	op_free(op);
}

static struct api_op *op_new(struct api *api, struct http_request *req,
			     int kind)
{
	struct api_op *op = calloc(1, sizeof *op);

	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	op->api = api;
	op->req = req;
	op->kind = kind;
	return op;
}

/* Propose cmd (ownership taken) and answer when decided. */
static void propose(struct api *api, struct api_op *op, struct request_cmd *cmd)
{
	struct cmd_buf b = {.buf = cmd->buf, .len = cmd->len};
	int rv = proposer_submit(api->d.proposer, &b, op_decided, op);

	cmd->buf = NULL;
	if (rv != 0) {
		respond_node_error(api, op->req, rv);
		op_free(op);
	}
}

/* Copy "name" from a validated JSON body into op->name (best effort, for
 * the answer). */
static void body_string(const struct http_request *req, const char *key,
			char *out, size_t len)
{
	json_t *root = json_loadb(req->body, req->body_len, 0, NULL);
	json_t *v = root != NULL ? json_object_get(root, key) : NULL;

	out[0] = '\0';
	if (json_is_string(v))
		snprintf(out, len, "%s", json_string_value(v));
	json_decref(root);
}

typedef int (*body_parser)(const char *body, size_t len,
			   const struct request_ctx *ctx,
			   struct request_cmd *out, struct request_error *err);

/* Answer a parse failure, or propose the parsed command. */
static void submit_parsed(struct api *api, struct http_request *req, int rv,
			  struct request_cmd *cmd,
			  const struct request_error *err, int kind,
			  const char *key1, const char *key2)
{
	struct api_op *op;

	if (rv != 0) {
		answer_request_error(req, err);
		return;
	}
	op = op_new(api, req, kind);
	if (op == NULL) {
		free(cmd->buf);
		return;
	}
	if (key1 != NULL)
		body_string(req, key1, op->name, sizeof op->name);
	if (key2 != NULL)
		body_string(req, key2, op->name2, sizeof op->name2);
	propose(api, op, cmd);
}

static void write_from_body(struct api *api, struct http_request *req,
			    body_parser parse, int kind, const char *key1,
			    const char *key2)
{
	struct request_cmd cmd = {0};
	struct request_error err;
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	int rv;

	request_context(api, req, who, sizeof who, &ctx);
	rv = parse(req->body, req->body_len, &ctx, &cmd, &err);
	submit_parsed(api, req, rv, &cmd, &err, kind, key1, key2);
}

static void policy_set(struct api *api, struct http_request *req)
{
	struct request_cmd cmd = {0};
	struct request_error err;
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	int rv;

	request_context(api, req, who, sizeof who, &ctx);
	rv = request_policy_set(req->body, req->body_len, &api->d.fsm->policy,
				&ctx, &cmd, &err);
	submit_parsed(api, req, rv, &cmd, &err, OP_POLICY, NULL, NULL);
}

/* POST /v1/pools/{pool}/pause and /resume. */
static void pool_pause(struct api *api, struct http_request *req,
		       const char *pool, bool paused)
{
	struct request_cmd cmd = {0};
	struct request_error err;
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	struct api_op *op;
	int rv;

	request_context(api, req, who, sizeof who, &ctx);
	rv = request_pool_pause(pool, paused, req->body, req->body_len, &ctx,
				&cmd, &err);
	if (rv != 0) {
		answer_request_error(req, &err);
		return;
	}
	op = op_new(api, req, OP_PAUSE);
	if (op == NULL) {
		free(cmd.buf);
		return;
	}
	snprintf(op->name, sizeof op->name, "%s", pool);
	propose(api, op, &cmd);
}

static void write_by_name(struct api *api, struct http_request *req,
			  int op_kind, const char *name)
{
	struct request_cmd cmd = {0};
	struct request_error err;
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	struct api_op *op;

	request_context(api, req, who, sizeof who, &ctx);
	if (request_cmd_name(op_kind, name, &ctx, &cmd, &err) != 0) {
		answer_request_error(req, &err);
		return;
	}
	op = op_new(api, req, OP_PLAIN);
	if (op == NULL) {
		free(cmd.buf);
		return;
	}
	propose(api, op, &cmd);
}

/* PUT /v1/pairs/{pool}: the replication mode of the pair. */
static void pair_mode(struct api *api, struct http_request *req,
		      const char *pool)
{
	struct request_cmd cmd = {0};
	struct request_error err;
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	struct api_op *op;

	request_context(api, req, who, sizeof who, &ctx);
	if (request_pair_mode(pool, req->body, req->body_len, &ctx, &cmd,
			      &err) != 0) {
		answer_request_error(req, &err);
		return;
	}
	op = op_new(api, req, OP_PAIR_MODE);
	if (op == NULL) {
		free(cmd.buf);
		return;
	}
	snprintf(op->name, sizeof op->name, "%s", pool);
	propose(api, op, &cmd);
}

static void topology(struct api *api, struct http_request *req)
{
	struct topology_plan plan = {0};
	struct request_error err;
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	struct api_op *op;
	json_t *diff;

	request_context(api, req, who, sizeof who, &ctx);
	if (request_topology(req->body, req->body_len, api->d.fsm, &ctx, &plan,
			     &err) != 0) {
		answer_request_error(req, &err);
		return;
	}
	diff = json_array();
	for (unsigned i = 0; diff != NULL && i < plan.n; i++)
		json_array_append_new(diff, json_pack("{s:s, s:s}", "op",
						      plan.items[i].op, "what",
						      plan.items[i].what));
	if (diff == NULL) {
		topology_plan_free(&plan);
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	if (plan.dry_run || plan.cmd.buf == NULL) {
		answer_json_headers(req, 200,
				    json_pack("{s:o, s:b, s:n}", "diff", diff,
					      "applied", 0, "decision"),
				    NULL);
		topology_plan_free(&plan);
		return;
	}
	op = op_new(api, req, OP_TOPOLOGY);
	if (op == NULL) {
		json_decref(diff);
		topology_plan_free(&plan);
		return;
	}
	op->diff = diff;
	propose(api, op, &plan.cmd);
	topology_plan_free(&plan);
}

/* ---- reads ---- */

/* Query parameter name as a decimal in 1..max into *out (left as it is
 * when absent). false when present but not such a number. */
static bool query_uint(const struct http_request *req, const char *name,
		       unsigned long long max, unsigned long long *out)
{
	char buf[32];
	char *end;
	unsigned long long v;

	if (http_query_param(req, name, buf, sizeof buf) != 0)
		return true;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0' || buf[0] < '0' || buf[0] > '9' ||
	    v == 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* GET /v1/history?limit=N&before=SEQ */
static void history(struct api *api, struct http_request *req)
{
	unsigned long long limit = VIEW_HISTORY_DEFAULT, before = 0;

	if (!query_uint(req, "limit", VIEW_HISTORY_MAX, &limit)) {
		http_respond_error(req, 400, "invalid",
				   "limit must be an integer from 1 to 1000");
		return;
	}
	if (!query_uint(req, "before", UINT64_MAX, &before)) {
		http_respond_error(req, 400, "invalid",
				   "before must be a decision number (an "
				   "integer from 1)");
		return;
	}
	answer_json_headers(
	    req, 200, view_history(api->d.view, before, (size_t)limit), NULL);
}

/* ---- the handlers of the route table (routes.c) ---- */

void api_route_healthz(void *module, struct http_request *req,
		       const struct route_params *p)
{
	http_respond(req, 200, "text/plain", "ok\n", 3, NULL);
}

void api_route_metrics(void *module, struct http_request *req,
		       const struct route_params *p)
{
	struct api *api = module;
	size_t len;
	char *text = metrics_render(api->d.metrics, &len);

	if (text == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	http_respond(req, 200, "text/plain; version=0.0.4", text, len, NULL);
	free(text);
}

void api_route_status(void *module, struct http_request *req,
		      const struct route_params *p)
{
	const struct api *api = module;
	json_t *st = view_status(api->d.view);
	const struct config_timing *t = &api->d.timing;

	/* absent when secure */
	if (st != NULL && api->d.insecure != NULL)
		json_object_set_new(st, "insecure",
				    json_string(api->d.insecure));
	/* this agent's own timing: every agent should show the same */
	if (st != NULL && api->d.profile != NULL)
		json_object_set_new(
		    st, "timing",
		    json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "profile",
			      api->d.profile, "heartbeat_ms",
			      (json_int_t)t->heartbeat_ms, "lease_ms",
			      (json_int_t)t->lease_ms, "grace_ms",
			      (json_int_t)t->grace_ms, "drift_margin_ms",
			      (json_int_t)t->drift_margin_ms,
			      "election_timeout_ms",
			      (json_int_t)t->election_timeout_ms,
			      "heartbeat_timeout_ms",
			      (json_int_t)t->heartbeat_timeout_ms));
	/* and the election timeout in effect, scaled to the round trip */
	if (st != NULL && api->d.election_timeout != NULL &&
	    json_object_get(st, "timing") != NULL)
		json_object_set_new(
		    json_object_get(st, "timing"),
		    "election_timeout_effective_ms",
		    json_integer((json_int_t)api->d.election_timeout(
			api->d.election_timeout_arg)));
	answer_json(req, 200, st);
}

void api_route_sites(void *module, struct http_request *req,
		     const struct route_params *p)
{
	answer_json(req, 200,
		    json_pack("{s:o}", "sites",
			      view_sites(((struct api *)module)->d.view)));
}

void api_route_pools(void *module, struct http_request *req,
		     const struct route_params *p)
{
	answer_json(req, 200,
		    json_pack("{s:o}", "pools",
			      view_pools(((struct api *)module)->d.view)));
}

void api_route_pool(void *module, struct http_request *req,
		    const struct route_params *p)
{
	struct api *api = module;
	const struct fsm_pool *pool =
	    fsm_pool_find(api->d.fsm, route_param(p, "name"));

	if (pool == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	answer_json(req, 200,
		    json_pack("{s:o}", "pool", view_pool(api->d.view, pool)));
}

void api_route_pairs(void *module, struct http_request *req,
		     const struct route_params *p)
{
	answer_json(req, 200,
		    json_pack("{s:o}", "pairs",
			      view_pairs(((struct api *)module)->d.view)));
}

void api_route_sbas(void *module, struct http_request *req,
		    const struct route_params *p)
{
	answer_json(req, 200,
		    json_pack("{s:o}", "sbas",
			      view_sbas(((struct api *)module)->d.view)));
}

void api_route_cms(void *module, struct http_request *req,
		   const struct route_params *p)
{
	answer_json(req, 200, view_cms(((struct api *)module)->d.view));
}

void api_route_policy(void *module, struct http_request *req,
		      const struct route_params *p)
{
	struct api *api = module;

	answer_json(req, 200,
		    json_pack("{s:o}", "policy",
			      view_policy(&api->d.fsm->policy,
					  fsm_failover_policy(api->d.fsm))));
}

void api_route_members(void *module, struct http_request *req,
		       const struct route_params *p)
{
	answer_json(req, 200,
		    json_pack("{s:o}", "members",
			      view_members(((struct api *)module)->d.view)));
}

void api_route_history(void *module, struct http_request *req,
		       const struct route_params *p)
{
	history(module, req);
}

/* What each API_ADD_* parses and answers with. */
static const struct {
	body_parser parse;
	int kind;
	const char *key1, *key2; /* body fields named in the answer */
} adds[] = {
    [API_ADD_SITE] = {request_site_add, OP_SITE, "name", NULL},
    [API_ADD_POOL] = {request_pool_add, OP_POOL, "name", NULL},
    [API_ADD_PAIR] = {request_pair, OP_PAIR, "a", "b"},
    [API_ADD_SBA] = {request_sba_add, OP_SBA, "name", NULL},
};

void api_route_add(void *module, struct http_request *req,
		   const struct route_params *p)
{
	int i = p->arg;

	write_from_body(module, req, adds[i].parse, adds[i].kind, adds[i].key1,
			adds[i].key2);
}

void api_route_remove(void *module, struct http_request *req,
		      const struct route_params *p)
{
	/* the route's one parameter: {name}, or a pair's {pool} */
	write_by_name(module, req, p->arg, p->p[0].value);
}

void api_route_pool_pause(void *module, struct http_request *req,
			  const struct route_params *p)
{
	pool_pause(module, req, route_param(p, "name"), p->arg != 0);
}

void api_route_pair_mode(void *module, struct http_request *req,
			 const struct route_params *p)
{
	pair_mode(module, req, route_param(p, "pool"));
}

void api_route_policy_set(void *module, struct http_request *req,
			  const struct route_params *p)
{
	policy_set(module, req);
}

void api_route_topology(void *module, struct http_request *req,
			const struct route_params *p)
{
	topology(module, req);
}

/* ---- the server's entry points ---- */

void api_handle(struct http_request *req)
{
	struct api *api = req->data;

	router_dispatch(api->d.router, req);
}

int api_stream_match(void *data, const struct http_request *req)
{
	struct api *api = data;

	return router_streams(api->d.router, req);
}

void api_on_head(void *data, const struct http_request *req,
		 struct http_head_verdict *v)
{
	struct api *api = data;

	router_head(api->d.router, req, v);
}

void api_on_done(void *data, const struct http_request *req, int status,
		 uint64_t duration_ns)
{
	struct api *api = data;

	metrics_observe(api->d.metrics, req->method, status, duration_ns);
}
