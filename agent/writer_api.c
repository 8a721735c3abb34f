/* writer_api: the leader's answers on the writers of pools: POST
 * /v1/internal/pool-sync (a pool's writer names its synchronous standby)
 * and POST /v1/pools/{pool}/writer (the operator moves a pool's writer);
 * see writer.h and docs/api.md. */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/caller.h"
#include "agent/log.h"
#include "agent/writer.h"

#define MOD "writer"

/* An API call waiting for its decision. */
struct writer_op {
	struct writer *w;
	struct http_request *req;
	char pool[FSM_NAME_LEN];
	uint64_t member;       /* the standby asked, or the new writer */
	uint64_t expect_token; /* pool_writer: the token it was made over */
};

static struct writer_op *op_new(struct writer *w, struct http_request *req,
				const char *pool, uint64_t member)
{
	struct writer_op *op = calloc(1, sizeof *op);

	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	op->w = w;
	op->req = req;
	snprintf(op->pool, sizeof op->pool, "%s", pool);
	op->member = member;
	return op;
}

static void who_of(const struct writer *w, const struct http_request *req,
		   char *out, size_t len)
{
	if (w->d.who != NULL)
		w->d.who(req, out, len);
	else
		snprintf(out, len, "api");
}

/* Submit cmd (taken) for op; cb answers it. On an error op is answered
 * and freed here. */
static void submit(struct writer_op *op, struct cmd_buf *cmd, int packed,
		   proposer_cb cb)
{
	int rv;

	if (packed != 0) {
		cmd_buf_free(cmd);
		http_respond_error(op->req, 500, "internal",
				   "cannot encode the decision");
		free(op);
		return;
	}
	rv = proposer_submit(op->w->d.proposer, cmd, cb, op);
	if (rv != 0) {
		answer_proposal_error(op->req, op->w->d.proposer, rv);
		free(op);
	}
}

/* Parse req's body as a JSON object of exactly what fmt unpacks; false
 * after answering 400 bad_json with shape in the message. */
static bool body_unpack(struct http_request *req, const char *shape,
			json_t **root, const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	int rc = -1;

	*root = json_loadb(req->body != NULL ? req->body : "", req->body_len,
			   JSON_REJECT_DUPLICATES, &jerr);
	if (*root != NULL) {
		va_start(ap, fmt);
		rc = json_vunpack_ex(*root, &jerr, JSON_STRICT, fmt, ap);
		va_end(ap);
	}
	if (rc == 0)
		return true;
	{
		char msg[320];

		snprintf(msg, sizeof msg, "body must be %s: %s", shape,
			 jerr.text);
		http_respond_error(req, 400, "bad_json", msg);
	}
	json_decref(*root);
	*root = NULL;
	return false;
}

/* ---- POST /v1/internal/pool-sync ---- */

static void sync_decided(void *arg, int status, const struct fsm_result *res)
{
	struct writer_op *op = arg;
	const struct fsm_pool *p;

	if (status != 0) {
		answer_proposal_error(op->req, op->w->d.proposer, status);
	} else if (res->code == FSM_OK) {
		/* accepted: sync_standby held the asked value when it applied
		 * (a value held already is accepted without a history entry,
		 * decision 0) */
		answer_json(op->req, 200,
			    json_pack("{s:s, s:I, s:I}", "pool", op->pool,
				      "sync_standby", (json_int_t)op->member,
				      "decision", (json_int_t)res->seq));
	} else {
		p = fsm_pool_find(op->w->d.fsm, op->pool);
		answer_json(
		    op->req, 409,
		    json_pack("{s:s, s:s, s:s, s:I}", "error",
			      res->code == FSM_E_STALE ? "stale" : "refused",
			      "message",
			      res->reason[0] != '\0' ? res->reason
						     : fsm_code_name(res->code),
			      "pool", op->pool, "sync_standby",
			      (json_int_t)(p != NULL ? p->sync_standby : 0)));
	}
	free(op);
}

void writer_route_pool_sync(void *module, struct http_request *req,
			    const struct route_params *params)
{
	struct writer *w = module;
	const struct fsm_member *wr;
	const char *pool = NULL, *reason = "";
	json_int_t token = -1, standby = -1;
	char who[FSM_WHO_LEN];
	struct cmd_ctx ctx;
	struct cmd_pool_sync cs;
	struct cmd_buf cmd = {NULL, 0};
	struct writer_op *op;
	json_t *root;
	int packed;

	(void)params;
	if (!body_unpack(req,
			 "{\"pool\": NAME, \"writer_token\": N, \"standby\": "
			 "ID, \"reason\": TEXT}",
			 &root, "{s:s, s:I, s:I, s?s}", "pool", &pool,
			 "writer_token", &token, "standby", &standby, "reason",
			 &reason))
		return;
	if (token < 0 || standby < 0 || strlen(pool) >= FSM_NAME_LEN ||
	    strlen(reason) >= FSM_REASON_LEN) {
		http_respond_error(req, 400, "invalid",
				   "writer_token and standby must be integers "
				   "of at least 0, pool a name and reason a "
				   "text of at most 255 bytes");
		json_decref(root);
		return;
	}
	/* the pool's writer names its synchronous standby (lsync_client.c);
	 * the token fences an old writer, the certificate any other agent */
	wr = fsm_pool_writer(w->d.fsm, pool);
	if (!caller_check(&w->quiet, req, wr != NULL ? wr->id : 0, pool,
			  "only the pool's writer asks a pool-sync")) {
		json_decref(root);
		return;
	}
	op = op_new(w, req, pool, (uint64_t)standby);
	if (op == NULL) {
		json_decref(root);
		return;
	}
	who_of(w, req, who, sizeof who);
	ctx =
	    (struct cmd_ctx){.time_ms = clock_wall_ms(w->d.clock), .who = who};
	cs = (struct cmd_pool_sync){.pool = pool,
				    .writer_token = (uint64_t)token,
				    .standby = (uint64_t)standby,
				    .reason = reason};
	packed = cmd_pool_sync(&ctx, &cs, &cmd);
	json_decref(root);
	submit(op, &cmd, packed, sync_decided);
}

/* ---- POST /v1/pools/{pool}/writer ---- */

static void writer_decided(void *arg, int status, const struct fsm_result *res)
{
	struct writer_op *op = arg;
	const struct fsm_member *m;

	if (status != 0) {
		answer_proposal_error(op->req, op->w->d.proposer, status);
	} else if (res->code != FSM_OK) {
		LOG_INFO(MOD, "writer of %s: the operator's move refused: %s",
			 op->pool, res->reason);
		answer_fsm_refusal(op->req, res->code, res->reason);
	} else {
		m = fsm_member_find(op->w->d.fsm, op->member);
		LOG_INFO(
		    MOD,
		    "writer of %s: %s (member %" PRIu64 ") as the operator "
		    "asked (decision %" PRIu64 ")",
		    op->pool, m != NULL ? m->name : "?", op->member, res->seq);
		answer_json(op->req, 200,
			    json_pack("{s:s, s:{s:I, s:s}, s:I, s:I}", "pool",
				      op->pool, "writer", "id",
				      (json_int_t)op->member, "name",
				      m != NULL ? m->name : "", "token",
				      (json_int_t)(op->expect_token + 1),
				      "decision", (json_int_t)res->seq));
	}
	free(op);
}

static const struct fsm_member *member_named(const struct fsm *f,
					     const char *name)
{
	for (unsigned i = 0; i < f->n_members; i++)
		if (strcmp(f->members[i].name, name) == 0)
			return &f->members[i];
	return NULL;
}

void writer_route_pool_writer(void *module, struct http_request *req,
			      const struct route_params *params)
{
	struct writer *w = module;
	const struct fsm *f = w->d.fsm;
	const char *pool = route_param(params, "pool"), *name = NULL;
	struct cmd_writer_seq seqs[FSM_MAX_OWNED_SETS];
	char who[FSM_WHO_LEN], reason[FSM_REASON_LEN], why[FSM_REASON_LEN];
	const struct fsm_member *m, *cur;
	const struct fsm_pool *p;
	struct fsm_result res;
	struct cmd_buf cmd = {NULL, 0};
	struct cmd_ctx ctx;
	struct cmd_writer cw;
	struct writer_op *op;
	json_t *root;
	size_t n = 0;
	int code, packed;

	if (!body_unpack(req, "{\"member\": NAME}", &root, "{s:s}", "member",
			 &name))
		return;
	p = fsm_pool_find(f, pool);
	m = member_named(f, name);
	if (p == NULL || m == NULL) {
		char msg[FSM_NAME_LEN * 2 + 64];

		snprintf(msg, sizeof msg,
			 p == NULL ? "pool %.*s is not defined"
				   : "no member is named %.*s",
			 FSM_NAME_LEN, p == NULL ? pool : name);
		http_respond_error(req, 404, "not_found", msg);
		json_decref(root);
		return;
	}
	json_decref(root);
	code = fsm_pool_writer_check(f, p->name, m->id, &res);
	if (code != FSM_OK) {
		answer_fsm_refusal(req, code, res.reason);
		return;
	}
	/* a local takeover names where the new writer's copies stand */
	if (p->writer != 0 && strcmp(p->owner, p->name) == 0 &&
	    writer_positions(w, p, m->id, seqs, &n, why, sizeof why) != 0) {
		http_respond_error(req, 503, "unavailable", why);
		return;
	}
	op = op_new(w, req, p->name, m->id);
	if (op == NULL)
		return;
	op->expect_token = p->writer_token;
	cur = p->writer != 0 ? fsm_member_find(f, p->writer) : NULL;
	who_of(w, req, who, sizeof who);
	snprintf(reason, sizeof reason,
		 "operator: writer of %s moved from %s to %s", p->name,
		 cur != NULL ? cur->name : "none", m->name);
	ctx =
	    (struct cmd_ctx){.time_ms = clock_wall_ms(w->d.clock), .who = who};
	cw = (struct cmd_writer){.pool = p->name,
				 .member_id = m->id,
				 .expect_token = p->writer_token,
				 .reason = reason,
				 .seqs = seqs,
				 .n_seqs = n};
	LOG_INFO(MOD, "writer of %s: %s asks %s (member %" PRIu64 ")", p->name,
		 who, m->name, m->id);
	packed = cmd_pool_writer(&ctx, &cw, &cmd);
	submit(op, &cmd, packed, writer_decided);
}
