/* failover: the leader's orchestration of failovers and failbacks (see
 * failover.h). */
#include "agent/failover.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/answer.h"
#include "agent/api.h"
#include "agent/failover_auto.h"
#include "agent/hclient.h"
#include "agent/hooks.h"
#include "agent/log.h"
#include "agent/risk.h"
#include "consensus/cmd.h"

#define MOD "failover"
#define MS 1000000ULL
#define STEP_TIMEOUT_MS 15000 /* a takeover or hook that hangs */
#define DRAIN_TIMEOUT_MS 30000
#define VERIFY_TIMEOUT_MS 120000 /* verify and repair before a failback */
#define WAIT_MAX_MS 60000
#define AUTO_RETRY_MS 2000 /* between automatic attempts that fail */

/* An API call waiting for a pool (or the CMS) to reach an outcome. */
struct failover_wait {
	struct failover_wait *next;
	struct http_request *req;
	char pool[FSM_NAME_LEN];
	int done_state;   /* answer 200 once the pool is in this state */
	int abort_state;  /* answer 409 if it falls back to this one */
	uint64_t epoch;   /* ... with an epoch above this */
	uint64_t decision;
	uint64_t deadline_ns;
	bool disaster;    /* commit once the pool's lease ran out */
	bool forced;
	bool moving;      /* the move's first decision was seen applied */
	char who[FSM_WHO_LEN];
};

static const char *step_name(int step)
{
	switch (step) {
	case FO_IDLE:
		return "idle";
	case FO_HOOK:
		return "pre_failover hook";
	case FO_TAKEOVER:
		return "takeover";
	case FO_PROPOSING:
		return "proposing";
	case FO_VERIFY:
		return "verify";
	case FO_MEASURE:
		return "measuring the data at risk";
	default:
		return "?";
	}
}

static void step_set(struct failover_pool *fp, int next)
{
	if (fp->step == next)
		return;
	LOG_INFO(MOD, "%s: %s -> %s", fp->pool, step_name(fp->step),
		 step_name(next));
	fp->step = next;
	fp->step_since_ns = uv_hrtime();
}

static struct failover_pool *slot(struct failover *fo, const char *pool)
{
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (strcmp(fo->pools[i].pool, pool) == 0)
			return &fo->pools[i];
	if (fo->n_pools == FSM_MAX_POOLS)
		return NULL;
	memset(&fo->pools[fo->n_pools], 0, sizeof fo->pools[0]);
	snprintf(fo->pools[fo->n_pools].pool, FSM_NAME_LEN, "%s", pool);
	return &fo->pools[fo->n_pools++];
}

const char *failover_refusal(struct failover *fo, const char *pool)
{
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (strcmp(fo->pools[i].pool, pool) == 0)
			return fo->pools[i].refusal;
	return "";
}

static uint64_t alive_ms(struct failover *fo)
{
	return fo->agent->cfg.lease_ms;
}

static uint64_t down_ms(struct failover *fo)
{
	return (uint64_t)fo->agent->cfg.lease_ms + fo->agent->cfg.grace_ms;
}

/* ---- commands ---- */

/* Who and when of a command proposed now. */
static struct cmd_ctx cmd_now(const char *who)
{
	return (struct cmd_ctx){.time_ms = agent_now_ms(), .who = who};
}

struct proposal {
	struct failover *fo;
	char pool[FSM_NAME_LEN];
	char what[64];
};

static void proposed(void *arg, int status, const struct fsm_result *res)
{
	struct proposal *p = arg;
	struct failover_pool *fp = slot(p->fo, p->pool);

	if (status != 0)
		LOG_WARN(MOD, "%s of %s: %s", p->what, p->pool,
			 node_strerror(status));
	else if (res->code != FSM_OK)
		LOG_WARN(MOD, "%s of %s refused: %s", p->what, p->pool,
			 res->reason);
	else
		LOG_INFO(MOD, "%s of %s committed (decision %" PRIu64 ")",
			 p->what, p->pool, res->seq);
	if (fp != NULL && fp->step == FO_PROPOSING)
		step_set(fp, FO_IDLE);
	free(p);
}

/* Propose the command packed by a cmd_* constructor that returned packed
 * (taken in every case); what names it in the log. */
static int propose(struct failover *fo, const char *pool, int packed,
		   struct cmd_buf *cmd, const char *what)
{
	struct proposal *p;
	int rv;

	if (packed != 0) {
		cmd_buf_free(cmd);
		return -ENOMEM;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL) {
		cmd_buf_free(cmd);
		return -ENOMEM;
	}
	p->fo = fo;
	snprintf(p->pool, sizeof p->pool, "%s", pool);
	snprintf(p->what, sizeof p->what, "%s", what);
	rv = node_apply(&fo->agent->node, cmd->buf, cmd->len, proposed, p);
	cmd->buf = NULL;
	if (rv != 0) {
		LOG_WARN(MOD, "%s of %s: %s", what, pool, node_strerror(rv));
		free(p);
	}
	return rv;
}

/* ---- the takeover position at the new owner, then the decision ---- */

static void takeover_answer(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct failover_pool *fp = arg;
	struct failover *fo;
	struct cmd_ctx ctx;
	struct cmd_risk risk;
	struct cmd_takeover at;
	struct cmd_buf cmd;
	json_t *root;
	int packed;
	json_int_t data_seq = -1, content_seq = -1;

	fp->req = NULL;
	fo = fp->owner;
	if (fo->closing)
		return;
	if (err != 0 || resp->status != 200) {
		LOG_WARN(MOD, "%s: takeover at the pair failed: %s", fp->pool,
			 err != 0 ? hclient_strerror(err) : resp->body);
		snprintf(fp->refusal, sizeof fp->refusal,
			 "the pair did not confirm the takeover: %s",
			 err != 0 ? hclient_strerror(err) : "refused");
		step_set(fp, FO_IDLE);
		return;
	}
	root = json_loadb(resp->body, resp->body_len, 0, NULL);
	{
		const char *by = NULL;
		const struct fsm_pool *p = fsm_pool_find(&fo->agent->fsm,
							 fp->pool);

		if (root == NULL ||
		    json_unpack(root, "{s:I, s:I, s:s}", "data_seq", &data_seq,
				"content_seq", &content_seq, "pool", &by) != 0 ||
		    data_seq < 0 || content_seq < 0 || p == NULL ||
		    strcmp(by, p->pair) != 0) {
			LOG_WARN(MOD, "%s: bad takeover answer: %.*s", fp->pool,
				 (int)(resp->body_len > 200 ? 200
							    : resp->body_len),
				 resp->body);
			json_decref(root);
			step_set(fp, FO_IDLE);
			return;
		}
		LOG_INFO(MOD,
			 "%s: %s took over at data %" PRId64 ", content %" PRId64,
			 fp->pool, by, (int64_t)data_seq, (int64_t)content_seq);
	}
	json_decref(root);
	ctx = cmd_now(fp->who);
	risk = (struct cmd_risk){fp->risk_records, fp->risk_bytes, fp->risk_ms};
	at = (struct cmd_takeover){(uint64_t)data_seq, (uint64_t)content_seq};
	if (fp->complete) {
		packed = cmd_failover_complete(&ctx, fp->pool, &risk, &at, &cmd);
	} else {
		struct cmd_failover f = {
		    .pool = fp->pool,
		    .planned = false,
		    .forced = fp->forced,
		    .automatic = fp->automatic,
		    .reason = fp->reason,
		    .risk = risk,
		    .takeover = at,
		};

		packed = cmd_failover_begin(&ctx, &f, &cmd);
	}
	step_set(fp, FO_PROPOSING);
	if (propose(fo, fp->pool, packed, &cmd,
		    fp->complete ? "failover" : "disaster failover") != 0)
		step_set(fp, FO_IDLE);
}

/* Ask the agent of pool's pair to take the user set over. */
static void takeover(struct failover *fo, struct failover_pool *fp,
		     const struct fsm_pool *p)
{
	struct agent *a = fo->agent;
	const char *api = NULL;
	char host[HCLIENT_HOST_MAX];
	char url[FSM_ADDR_LEN + 16];
	char body[FSM_NAME_LEN + 32];
	uint16_t port;

	for (unsigned i = 0; i < a->fsm.n_members; i++)
		if (strcmp(a->fsm.members[i].pool, p->pair) == 0 &&
		    a->fsm.members[i].api_address[0] != '\0')
			api = a->fsm.members[i].api_address;
	if (api == NULL) {
		snprintf(fp->refusal, sizeof fp->refusal,
			 "no agent of %s is registered", p->pair);
		step_set(fp, FO_IDLE);
		return;
	}
	snprintf(url, sizeof url, "http://%s/", api);
	if (hclient_parse_url(url, host, sizeof host, &port, NULL, 0) != 0) {
		step_set(fp, FO_IDLE);
		return;
	}
	snprintf(body, sizeof body, "{\"user_set\":\"%s\"}", p->name);
	fp->owner = fo;
	step_set(fp, FO_TAKEOVER);
	if (hclient_request(&a->calls, "POST", host, port,
			    "/v1/internal/takeover", NULL, body, strlen(body),
			    5000, takeover_answer, fp, &fp->req) != 0) {
		fp->req = NULL;
		step_set(fp, FO_IDLE);
	}
}

/* ---- hooks ---- */

struct hook_ctx {
	struct failover *fo;
	char pool[FSM_NAME_LEN];
	bool pre; /* pre_failover: go on with the takeover when it passes */
};

static void hook_env(const struct fsm_pool *p, const char *hook,
		     const char *reason, const struct failover_pool *fp,
		     struct hook_env *env, char vals[][64], size_t *n)
{
	*n = 0;
	(void)hook; /* POOLPAIR_HOOK is set by hooks_run itself */
	env[(*n)++] = (struct hook_env){"POOLPAIR_POOL", p->name};
	env[(*n)++] = (struct hook_env){"POOLPAIR_PAIR", p->pair};
	env[(*n)++] = (struct hook_env){"POOLPAIR_OWNER", p->owner};
	snprintf(vals[0], 64, "%" PRIu64, p->epoch);
	env[(*n)++] = (struct hook_env){"POOLPAIR_EPOCH", vals[0]};
	env[(*n)++] = (struct hook_env){"POOLPAIR_STATE",
					fsm_failover_state_name(p->state)};
	env[(*n)++] = (struct hook_env){"POOLPAIR_REASON", reason};
	if (fp != NULL) {
		snprintf(vals[1], 64, "%" PRIu64, fp->risk_records);
		env[(*n)++] =
		    (struct hook_env){"POOLPAIR_DATA_AT_RISK_RECORDS", vals[1]};
		snprintf(vals[2], 64, "%" PRIu64, fp->risk_bytes);
		env[(*n)++] =
		    (struct hook_env){"POOLPAIR_DATA_AT_RISK_BYTES", vals[2]};
		snprintf(vals[3], 64, "%" PRIu64, fp->risk_ms);
		env[(*n)++] =
		    (struct hook_env){"POOLPAIR_DATA_AT_RISK_MS", vals[3]};
	}
}

/* The outcome of a hook goes into the history (leader only). */
static void record_hook(struct failover *fo, const char *pool,
			const struct hook_outcome *o, const char *summary)
{
	struct cmd_ctx ctx = cmd_now("leader:hooks");
	char what[FSM_WHAT_LEN];
	struct cmd_event e = {
	    .what = what, .detail = summary, .ok = hooks_outcome_ok(o)};
	struct cmd_buf cmd;
	int packed;

	if (!node_is_leader(&fo->agent->node))
		return;
	snprintf(what, sizeof what, "hook %s for %s", o->name, pool);
	packed = cmd_record_event(&ctx, &e, &cmd);
	propose(fo, pool, packed, &cmd, "hook record");
}

static void hook_done(void *arg, const struct hook_outcome *o)
{
	struct hook_ctx *h = arg;
	struct failover *fo = h->fo;
	struct failover_pool *fp = slot(fo, h->pool);
	char summary[200];

	hooks_outcome_summary(o, summary, sizeof summary);
	snprintf(fo->last_hook, sizeof fo->last_hook, "%s for %s: %s", o->name,
		 h->pool, summary);
	if (hooks_outcome_ok(o))
		LOG_INFO(MOD, "hook %s", fo->last_hook);
	else
		LOG_WARN(MOD, "hook %s", fo->last_hook);
	if (!fo->closing)
		record_hook(fo, h->pool, o, summary);
	if (h->pre && fp != NULL && fp->step == FO_HOOK && !fo->closing) {
		const struct fsm_pool *p = fsm_pool_find(&fo->agent->fsm,
							 h->pool);

		if (!hooks_outcome_ok(o) || p == NULL) {
			snprintf(fp->refusal, sizeof fp->refusal,
				 "pre_failover hook refused: %s", summary);
			/* ask the hook again later, not at every tick */
			fp->retry_after_ms = agent_now_ms() + 5000;
			step_set(fp, FO_IDLE);
		} else {
			takeover(fo, fp, p);
		}
	}
	free(h);
}

/* Run a configured hook; pre: go on with the takeover after it. Returns
 * 0 when started. */
static int run_hook(struct failover *fo, const char *name, const char *command,
		    const struct fsm_pool *p, const char *reason,
		    struct failover_pool *fp, bool pre)
{
	struct hook_env env[16];
	char vals[4][64];
	size_t n;
	struct hook_ctx *h;
	int rv;

	if (command[0] == '\0')
		return -ENOENT;
	h = calloc(1, sizeof *h);
	if (h == NULL)
		return -ENOMEM;
	h->fo = fo;
	h->pre = pre;
	snprintf(h->pool, sizeof h->pool, "%s", p->name);
	hook_env(p, name, reason, fp, env, vals, &n);
	rv = hooks_run(fo->agent->loop, name, command, env, n,
		       fo->agent->cfg.hook_timeout_ms, hook_done, h, NULL);
	if (rv != 0) {
		LOG_WARN(MOD, "hook %s: cannot start: %s", name,
			 uv_strerror(rv));
		free(h);
	}
	return rv;
}

/* ---- the tick ---- */

/* The data at risk of a move was measured (risk.h): on to the takeover. */
static void move_measured(void *arg, const struct risk_figure *r)
{
	struct failover_pool *fp = arg;
	struct failover *fo = fp->owner;
	const struct fsm_pool *p;
	size_t n;

	if (fo->closing || fp->step != FO_MEASURE)
		return; /* timed out meanwhile: the tick gave up on it */
	fp->risk_records = r->records;
	fp->risk_bytes = r->bytes;
	fp->risk_ms = r->ms;
	n = strlen(fp->reason);
	if (r->source == RISK_LAST_REPORT && n < sizeof fp->reason)
		snprintf(fp->reason + n, sizeof fp->reason - n,
			 "; data at risk as last reported, %" PRIu64
			 " ms before",
			 r->age_ms);
	else if (r->source == RISK_NONE && n < sizeof fp->reason)
		snprintf(fp->reason + n, sizeof fp->reason - n,
			 "; data at risk unknown");
	p = fsm_pool_find(&fo->agent->fsm, fp->pool);
	if (p == NULL) {
		step_set(fp, FO_IDLE);
		return;
	}
	takeover(fo, fp, p);
}

/* Start a disaster move of p to its pair (measure the data at risk, then
 * takeover and decision). */
static void start_move(struct failover *fo, struct failover_pool *fp,
		       const struct fsm_pool *p, bool complete,
		       const char *who, const char *reason, bool forced)
{
	bool alive = members_pool_silence_ms(&fo->agent->members, p->name,
					     NULL) <= alive_ms(fo);

	fp->complete = complete;
	fp->forced = forced;
	fp->automatic = false;
	fp->risk_records = fp->risk_bytes = fp->risk_ms = 0;
	snprintf(fp->who, sizeof fp->who, "%s", who);
	snprintf(fp->reason, sizeof fp->reason, "%s", reason);
	fp->owner = fo;
	step_set(fp, FO_MEASURE);
	if (risk_measure(fo->agent, p->name, alive, move_measured, fp) != 0)
		step_set(fp, FO_IDLE);
}

static void auto_check(struct failover *fo, struct failover_pool *fp,
		       const struct fsm_pool *p, uint64_t now_ms)
{
	struct agent *a = fo->agent;
	const struct members_set_report *rep;
	struct auto_facts facts;
	struct fsm_result res;
	uint64_t age = 0;
	int verdict;

	rep = members_set_report_aged(&a->members, p->name, p->name,
				      UINT64_MAX, &age);
	memset(&facts, 0, sizeof facts);
	facts.pool = p->name;
	facts.pair = p->pair;
	facts.silent_ms = members_pool_silence_ms(&a->members, p->name, NULL);
	facts.pair_silent_ms =
	    members_pool_silence_ms(&a->members, p->pair, NULL);
	facts.alive_ms = alive_ms(fo);
	facts.down_ms = down_ms(fo);
	facts.leading_ms = (uv_hrtime() - a->members.leader_since_ns) / MS;
	facts.paused = p->paused;
	facts.paused_since_ms = p->paused_since_ms;
	facts.pause_reason = p->pause_reason;
	facts.lag_known = rep != NULL;
	facts.lag_ms = rep != NULL ? rep->lag_ms : 0;
	facts.lag_age_ms = age;
	facts.max_lag_ms = a->fsm.policy.max_lag_on_failover_ms;
	facts.now_ms = now_ms;
	facts.last_auto_ms = p->last_auto_failover_ms;
	facts.cooldown_ms = a->fsm.policy.cooldown_ms;
	facts.retry_after_ms = fp->retry_after_ms;
	verdict = failover_auto_gate(&facts, fp->refusal, sizeof fp->refusal);
	if (verdict != AUTO_GO)
		return;
	if (fsm_failover_check(&a->fsm, p->name, false, &res, NULL) !=
	    FSM_OK) {
		snprintf(fp->refusal, sizeof fp->refusal, "%s", res.reason);
		return;
	}
	/* an attempt that fails (hook, takeover) is not made again at once;
	 * one that commits starts the cooldown in the FSM */
	fp->retry_after_ms = now_ms + AUTO_RETRY_MS;
	fo->automatic++;
	if (facts.silent_ms == UINT64_MAX) {
		snprintf(fp->reason, sizeof fp->reason,
			 "automatic: %s not heard since this leader was "
			 "elected",
			 p->name);
		LOG_WARN(MOD, "%s is down (not heard since this leader was "
			      "elected): failing over to %s",
			 p->name, p->pair);
	} else {
		snprintf(fp->reason, sizeof fp->reason,
			 "automatic: %s silent for %" PRIu64 " ms", p->name,
			 facts.silent_ms);
		LOG_WARN(MOD,
			 "%s is down (silent %" PRIu64
			 " ms): failing over to %s",
			 p->name, facts.silent_ms, p->pair);
	}
	fp->complete = false;
	fp->forced = true;
	fp->automatic = true;
	/* the pool is down: its last report is all there is */
	fp->risk_records = rep->lag_records;
	fp->risk_bytes = rep->lag_bytes;
	fp->risk_ms = rep->lag_ms;
	{
		size_t n = strlen(fp->reason);

		if (n < sizeof fp->reason)
			snprintf(fp->reason + n, sizeof fp->reason - n,
				 "; data at risk as last reported, %" PRIu64
				 " ms before",
				 age);
	}
	snprintf(fp->who, sizeof fp->who, "leader:auto");
	if (a->cfg.pre_failover[0] != '\0') {
		step_set(fp, FO_HOOK);
		if (run_hook(fo, "pre_failover", a->cfg.pre_failover, p,
			     fp->reason, fp, true) != 0) {
			snprintf(fp->refusal, sizeof fp->refusal,
				 "the pre_failover hook cannot start");
			fp->retry_after_ms = now_ms + 5000;
			step_set(fp, FO_IDLE);
		}
		return;
	}
	takeover(fo, fp, p);
}

/* ---- failback: the owner repairs the returning pool's copy first ---- */

/* The API address of an agent of pool, or NULL. */
static const char *pool_api(const struct agent *a, const char *pool)
{
	const char *api = NULL;

	for (unsigned i = 0; i < a->fsm.n_members; i++)
		if (strcmp(a->fsm.members[i].pool, pool) == 0 &&
		    a->fsm.members[i].api_address[0] != '\0')
			api = a->fsm.members[i].api_address;
	return api;
}

static void verify_answer(void *arg, int err,
			  const struct hclient_response *resp)
{
	struct failover_pool *fp = arg;
	struct failover *fo = fp->owner;
	json_t *root = NULL;
	json_int_t repaired = 0, differences = 0;
	int equal = 0;
	struct cmd_ctx ctx;
	struct cmd_buf cmd;
	int packed;

	fp->req = NULL;
	if (fo->closing)
		return;
	if (err == 0 && resp->status == 200)
		root = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (root == NULL ||
	    json_unpack(root, "{s:b, s:I, s:I}", "equal_after", &equal,
			"repaired", &repaired, "differences_total",
			&differences) != 0 ||
	    !equal) {
		LOG_WARN(MOD,
			 "%s: verify before the failback did not leave both "
			 "copies equal (%s); trying again",
			 fp->pool,
			 err != 0 ? hclient_strerror(err)
			 : root == NULL ? "no answer"
					: "copies still differ");
		json_decref(root);
		fp->retry_after_ms = agent_now_ms() + 1000;
		step_set(fp, FO_IDLE);
		return;
	}
	json_decref(root);
	LOG_INFO(MOD,
		 "%s: copies verified before the failback: %" PRId64
		 " differences, %" PRId64 " repaired from the owner",
		 fp->pool, (int64_t)differences, (int64_t)repaired);
	ctx = cmd_now("leader:drained");
	packed = cmd_failback_complete(&ctx, fp->pool, &cmd);
	step_set(fp, FO_PROPOSING);
	if (propose(fo, fp->pool, packed, &cmd, "failback") != 0)
		step_set(fp, FO_IDLE);
}

/* Drained back: before the owner changes, the current owner (the pair)
 * digests both copies and repairs the returning pool's copy from its own.
 * Whatever the returning pool kept of its never-shipped tail (archived,
 * but still in its copy) or missed is put right here, so both copies are
 * equal when it owns its users again. */
static void failback_verify(struct failover *fo, struct failover_pool *fp,
			    const struct fsm_pool *p, uint64_t now_ms)
{
	struct agent *a = fo->agent;
	const char *api = pool_api(a, p->pair);
	char host[HCLIENT_HOST_MAX];
	char url[FSM_ADDR_LEN + 16];
	char path[FSM_NAME_LEN + 48];
	uint16_t port;

	snprintf(url, sizeof url, "http://%s/", api != NULL ? api : "");
	if (api == NULL ||
	    hclient_parse_url(url, host, sizeof host, &port, NULL, 0) != 0) {
		fp->retry_after_ms = now_ms + 1000;
		return;
	}
	snprintf(path, sizeof path, "/v1/backup/%s/verify?repair=true&remove_users=true",
		 p->name);
	fp->owner = fo;
	step_set(fp, FO_VERIFY);
	if (hclient_request(&a->calls, "POST", host, port, path, NULL, NULL, 0,
			    VERIFY_TIMEOUT_MS, verify_answer, fp,
			    &fp->req) != 0) {
		fp->req = NULL;
		fp->retry_after_ms = now_ms + 1000;
		step_set(fp, FO_IDLE);
	}
}

static void pool_tick(struct failover *fo, const struct fsm_pool *p,
		      uint64_t now_ms)
{
	struct agent *a = fo->agent;
	struct failover_pool *fp = slot(fo, p->name);
	const struct members_set_report *rep;
	struct cmd_ctx ctx;
	struct cmd_buf cmd;
	int packed;

	if (fp == NULL)
		return;
	if (fp->step != FO_IDLE) {
		uint64_t limit = fp->step == FO_VERIFY ? VERIFY_TIMEOUT_MS
						       : STEP_TIMEOUT_MS;

		if (uv_hrtime() - fp->step_since_ns > limit * MS) {
			LOG_WARN(MOD, "%s: %s timed out", p->name,
				 step_name(fp->step));
			if (fp->req != NULL)
				hclient_cancel(fp->req);
			step_set(fp, FO_IDLE);
		}
		return;
	}
	switch (p->state) {
	case FSM_STATE_NORMAL:
		if (p->pair[0] != '\0' && strcmp(p->owner, p->name) == 0 &&
		    strcmp(fsm_failover_policy(&a->fsm), "auto") == 0)
			auto_check(fo, fp, p, now_ms);
		break;
	case FSM_STATE_FAILING_OVER:
		rep = members_set_report(&a->members, p->name, p->name,
					 alive_ms(fo));
		/* the CMS documents drain too when the CMS moves with it */
		if (rep != NULL && rep->drained &&
		    strcmp(a->fsm.cms_active, p->name) == 0) {
			const struct members_set_report *cms =
			    members_set_report(&a->members, p->name,
					       DATAPLANE_CMS, alive_ms(fo));

			if (cms != NULL && !cms->drained)
				rep = NULL;
		}
		if (rep != NULL && rep->drained) {
			start_move(fo, fp, p, true, "leader:drained",
				   "planned: drained", false);
		} else if (now_ms - p->failover_since_ms > DRAIN_TIMEOUT_MS) {
			ctx = cmd_now("leader:timeout");
			packed = cmd_failover_abort(
			    &ctx, p->name, "the drain did not finish in time",
			    &cmd);
			step_set(fp, FO_PROPOSING);
			if (propose(fo, p->name, packed, &cmd,
				    "failover abort") != 0)
				step_set(fp, FO_IDLE);
		}
		break;
	case FSM_STATE_FAILED_OVER:
		if (members_pool_silence_ms(&a->members, p->name, NULL) <
		    alive_ms(fo)) {
			ctx = cmd_now("leader:heard");
			packed = cmd_pool_recovering(&ctx, p->name, &cmd);
			step_set(fp, FO_PROPOSING);
			if (propose(fo, p->name, packed, &cmd, "recovering") !=
			    0)
				step_set(fp, FO_IDLE);
		}
		break;
	case FSM_STATE_FAILING_BACK:
		rep = members_set_report(&a->members, p->pair, p->name,
					 alive_ms(fo));
		if (rep != NULL && rep->drained) {
			if (now_ms >= fp->retry_after_ms)
				failback_verify(fo, fp, p, now_ms);
		} else if (now_ms - p->failover_since_ms > DRAIN_TIMEOUT_MS) {
			ctx = cmd_now("leader:timeout");
			packed = cmd_failback_abort(
			    &ctx, p->name,
			    "the drain back did not finish in time", &cmd);
			step_set(fp, FO_PROPOSING);
			if (propose(fo, p->name, packed, &cmd,
				    "failback abort") != 0)
				step_set(fp, FO_IDLE);
		}
		break;
	default:
		break;
	}
}

/* Owner changes seen on the leader: fence and on_owner_change hooks. */
static void owner_hooks(struct failover *fo, const struct fsm_pool *p)
{
	struct agent *a = fo->agent;
	struct failover_pool *fp = slot(fo, p->name);

	if (fp == NULL)
		return;
	if (fp->seen_epoch == 0) {
		fp->seen_epoch = p->epoch; /* first look: nothing changed */
		return;
	}
	if (p->epoch <= fp->seen_epoch)
		return;
	fp->seen_epoch = p->epoch;
	if (strcmp(p->owner, p->name) != 0)
		run_hook(fo, "fence", a->cfg.fence_command, p,
			 "the user set moved away from this pool", fp, false);
	run_hook(fo, "on_owner_change", a->cfg.on_owner_change, p,
		 "the owner changed", fp, false);
}

static void waits_tick(struct failover *fo);

static void tick(uv_timer_t *t)
{
	struct failover *fo = t->data;
	struct agent *a = fo->agent;
	uint64_t now_ms = agent_now_ms();

	if (fo->closing)
		return;
	policy_tick(&a->policy);
	waits_tick(fo);
	if (!node_is_leader(&a->node) || a->members.leader_since_ns == 0 ||
	    !members_lease_valid(&a->members)) {
		for (unsigned i = 0; i < fo->n_pools; i++)
			fo->pools[i].seen_epoch = 0;
		return;
	}
	for (unsigned i = 0; i < a->fsm.n_pools; i++) {
		owner_hooks(fo, &a->fsm.pools[i]);
		pool_tick(fo, &a->fsm.pools[i], now_ms);
	}
}

int failover_init(struct failover *fo, struct agent *a)
{
	int rv;

	memset(fo, 0, sizeof *fo);
	fo->agent = a;
	rv = uv_timer_init(a->loop, &fo->tick);
	fo->tick.data = fo;
	return rv;
}

int failover_start(struct failover *fo)
{
	return uv_timer_start(&fo->tick, tick, 50, 50);
}

static void tick_closed(uv_handle_t *h)
{
	struct failover *fo = h->data;

	fo->agent->pending_closes--;
	agent_closed_one(fo->agent);
}

void failover_close(struct failover *fo)
{
	struct failover_wait *w;

	if (fo->agent == NULL || fo->closing)
		return;
	fo->closing = true;
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (fo->pools[i].req != NULL) {
			hclient_cancel(fo->pools[i].req);
			fo->pools[i].req = NULL;
		}
	while ((w = fo->waits) != NULL) {
		fo->waits = w->next;
		http_respond_error(w->req, 503, "unavailable",
				   "the agent is shutting down");
		free(w);
	}
	fo->agent->pending_closes++;
	uv_close((uv_handle_t *)&fo->tick, tick_closed);
}

/* ---- API ---- */

/* Optional JSON body {what_if?, disaster?, force?}; query parameters of the
 * same names also count. Returns false after answering 400. */
static bool flags(struct http_request *req, bool *what_if, bool *disaster,
		  bool *force)
{
	json_error_t jerr;
	json_t *root;
	int w = 0, d = 0, f = 0;
	char buf[8];

	*what_if = *disaster = *force = false;
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
	*what_if = w;
	*disaster = d;
	*force = f;
	if (http_query_param(req, "what_if", buf, sizeof buf) == 0)
		*what_if = strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0;
	if (http_query_param(req, "disaster", buf, sizeof buf) == 0)
		*disaster = strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0;
	if (http_query_param(req, "force", buf, sizeof buf) == 0)
		*force = strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0;
	return true;
}

/* The lag of a user set as a report gave it (all null when unknown). */
static json_t *lag_json(const struct members_set_report *rep)
{
	if (rep == NULL)
		return json_pack("{s:n, s:n, s:n}", "records", "bytes",
				 "seconds");
	return json_pack("{s:I, s:I, s:f}", "records",
			 (json_int_t)rep->lag_records, "bytes",
			 (json_int_t)rep->lag_bytes, "seconds",
			 (double)rep->lag_ms / 1000.0);
}

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
	w->deadline_ns = uv_hrtime() + WAIT_MAX_MS * MS;
	w->next = fo->waits;
	fo->waits = w;
}

static void waits_tick(struct failover *fo)
{
	struct agent *a = fo->agent;
	struct failover_wait **pp = &fo->waits;
	uint64_t now = uv_hrtime();

	while (*pp != NULL) {
		struct failover_wait *w = *pp;
		const struct fsm_pool *p = fsm_pool_find(&a->fsm, w->pool);
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
				json_pack("{s:s, s:s, s:s, s:I, s:s}", "pool",
					  p->name, "state",
					  fsm_failover_state_name(p->state),
					  "owner", p->owner, "epoch",
					  (json_int_t)p->epoch, "cms",
					  a->fsm.cms_active));
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
		} else if (w->disaster && node_is_leader(&a->node)) {
			/* commit once the pool's lease has surely run out */
			struct failover_pool *fp = slot(fo, p->name);
			uint64_t silent = members_pool_silence_ms(
			    &a->members, p->name, NULL);

			if (fp != NULL && fp->step == FO_IDLE &&
			    p->state == FSM_STATE_NORMAL &&
			    (silent > down_ms(fo) || w->forced)) {
				char reason[96];

				if (silent == UINT64_MAX)
					snprintf(reason, sizeof reason,
						 "disaster: %s not heard since "
						 "this leader was elected",
						 p->name);
				else
					snprintf(reason, sizeof reason,
						 "disaster: %s silent for %" PRIu64
						 " ms",
						 p->name, silent);
				w->disaster = false;
				start_move(fo, fp, p, false, w->who, reason,
					   true);
			}
		}
		if (done) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

static void failover_call(struct failover *fo, struct http_request *req,
			  const char *pool)
{
	struct agent *a = fo->agent;
	const struct fsm_pool *p = fsm_pool_find(&a->fsm, pool);
	bool what_if, disaster, force, cms_moves = false, alive;
	struct fsm_result res;
	uint64_t silent;
	char who[FSM_WHO_LEN];
	int code;

	if (!flags(req, &what_if, &disaster, &force))
		return;
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	silent = members_pool_silence_ms(&a->members, p->name, NULL);
	alive = silent <= alive_ms(fo);
	code = fsm_failover_check(&a->fsm, p->name, !disaster, &res,
				  &cms_moves);
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
		    members_pool_silence_ms(&a->members, p->pair, NULL) <=
			alive_ms(fo));

		risk_respond(a, req, answer, p->name, alive);
		return;
	}
	if (code != FSM_OK) {
		http_respond_error(req, answer_fsm_status(code), fsm_code_name(code),
				   res.reason);
		return;
	}
	agent_who(req, who, sizeof who);
	if (!disaster) {
		struct cmd_ctx ctx = cmd_now(who);
		struct cmd_failover f = {
		    .pool = p->name, .planned = true, .forced = force,
		    .reason = "planned"};
		struct cmd_buf cmd;
		int packed;

		if (!alive) {
			http_respond_error(req, 409, "not_reachable",
					   res.reason);
			return;
		}
		packed = cmd_failover_begin(&ctx, &f, &cmd);
		if (propose(fo, p->name, packed, &cmd, "planned failover") !=
		    0) {
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
	struct agent *a = fo->agent;
	const struct fsm_pool *p = fsm_pool_find(&a->fsm, pool);
	bool what_if, disaster, force, allowed;
	const struct members_set_report *rep;
	char reason[256] = "";
	const char *code = "ok";
	char who[FSM_WHO_LEN];
	struct cmd_ctx ctx;
	struct cmd_buf cmd;
	int packed;

	if (!flags(req, &what_if, &disaster, &force))
		return;
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	rep = members_set_report(&a->members, p->pair, p->name, alive_ms(fo));
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
	} else if (!force && (rep == NULL || rep->lag_records > 0)) {
		code = "not_caught_up";
		if (rep == NULL)
			snprintf(reason, sizeof reason,
				 "the lag of %s's copy at %s is unknown",
				 p->name, p->name);
		else
			snprintf(reason, sizeof reason,
				 "%s has not caught up: %" PRIu64
				 " records (%" PRIu64 " bytes, %" PRIu64
				 " ms) behind %s",
				 p->name, rep->lag_records, rep->lag_bytes,
				 rep->lag_ms, p->pair);
	}
	allowed = strcmp(code, "ok") == 0;
	if (what_if) {
		answer_json(req, 200,
			json_pack("{s:s, s:b, s:s, s:s, s:s, s:o}", "pool",
				  p->name, "allowed", allowed, "code", code,
				  "reason", reason, "mode", "planned", "lag",
				  lag_json(rep)));
		return;
	}
	if (!allowed) {
		http_respond_error(req, strcmp(code, "not_failed_over") == 0 ||
						strcmp(code, "failed_over") == 0 ||
						strcmp(code, "not_caught_up") == 0
					    ? 409
					    : 400,
				   code, reason);
		return;
	}
	agent_who(req, who, sizeof who);
	ctx = cmd_now(who);
	packed = cmd_failback_begin(&ctx, p->name, force, &cmd);
	if (propose(fo, p->name, packed, &cmd, "failback") != 0) {
		http_respond_error(req, 503, "unavailable",
				   "could not propose the failback");
		return;
	}
	wait_add(fo, req, p->name, FSM_STATE_NORMAL, FSM_STATE_RECOVERING,
		 p->epoch, false, false, who);
}

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
