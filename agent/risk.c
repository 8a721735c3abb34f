/* risk: the data at risk of moving a pool's user set (see risk.h). */
#include "agent/risk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/dataplane.h"
#include "agent/hclient.h"
#include "agent/log.h"
#include "replication/hlc.h"
#include "replication/sender.h"

#define MOD "risk"
#define ASK_TIMEOUT_MS 1000

/* ---- at the pool's agent: read the figures now ---- */

void risk_init(struct risk *rk, const struct risk_deps *deps)
{
	rk->d = *deps;
}

struct lag_read {
	struct risk *rk;
	char user_set[FSM_NAME_LEN];
	void (*done)(struct lag_read *lr, int status);
	void *arg;
	/* results */
	uint64_t records, bytes, ms;
	uint64_t head[2], acked[2];
};

static void lag_positions(void *arg, int status,
			  const struct store_positions *ps)
{
	struct lag_read *lr = arg;
	struct dataplane *dp = lr->rk->d.data;
	uint64_t now = clock_wall_ms(lr->rk->d.clock), oldest = 0;

	if (status == 0) {
		for (size_t i = 0; i < ps->n; i++) {
			const struct store_position *pos = &ps->v[i];
			uint64_t acked = pos->acked_seq, live = 0;
			int lane = pos->lane;

			if (strcmp(pos->user_set, lr->user_set) != 0 ||
			    lane < 0 || lane > 1)
				continue;
			/* the pair's newest acknowledgement, not yet in the
			 * store */
			if (dp->sender != NULL &&
			    sender_acked(dp->sender, lr->user_set, lane,
					 &live) == 0 &&
			    live > acked)
				acked = live;
			lr->head[lane] = pos->head_seq;
			lr->acked[lane] = acked;
			if (pos->head_seq <= acked)
				continue;
			lr->records += pos->head_seq - acked;
			lr->bytes += pos->lag_bytes;
			if (pos->oldest_unacked_hlc != 0 &&
			    (oldest == 0 || pos->oldest_unacked_hlc < oldest))
				oldest = pos->oldest_unacked_hlc;
		}
		if (lr->records > 0 && oldest != 0 && hlc_ms(oldest) < now)
			lr->ms = now - hlc_ms(oldest);
	}
	lr->done(lr, status);
}

/* Start reading user_set's figures from the store; done fires once,
 * later. Returns 0 or a negative error (done never fires, lr is the
 * caller's to free). */
static int lag_read_start(struct lag_read *lr)
{
	struct dataplane *dp = lr->rk->d.data;

	if (dp->state != DP_OPEN)
		return -EAGAIN;
	return store_stream_positions(&dp->store, lag_positions, lr);
}

static void route_done(struct lag_read *lr, int status)
{
	struct http_request *req = lr->arg;

	if (status != 0)
		http_respond_error(req, 503, "unavailable",
				   "the store could not be read");
	else
		answer_json(req, 200,
			json_pack("{s:s, s:I, s:I, s:I, s:[{s:i, s:I, s:I}, "
				  "{s:i, s:I, s:I}]}",
				  "user_set", lr->user_set, "records",
				  (json_int_t)lr->records, "bytes",
				  (json_int_t)lr->bytes, "ms",
				  (json_int_t)lr->ms, "lanes", "lane", 0,
				  "head_seq", (json_int_t)lr->head[0],
				  "acked_seq", (json_int_t)lr->acked[0], "lane",
				  1, "head_seq", (json_int_t)lr->head[1],
				  "acked_seq", (json_int_t)lr->acked[1]));
	free(lr);
}

void risk_route_lag(void *module, struct http_request *req,
		    const struct route_params *p)
{
	struct risk *rk = module;
	struct lag_read *lr;
	char us[FSM_NAME_LEN];
	int rv;

	if (http_query_param(req, "user_set", us, sizeof us) != 0 ||
	    us[0] == '\0') {
		http_respond_error(req, 400, "invalid",
				   "query parameter user_set is required");
		return;
	}
	lr = calloc(1, sizeof *lr);
	if (lr == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	lr->rk = rk;
	snprintf(lr->user_set, sizeof lr->user_set, "%s", us);
	lr->done = route_done;
	lr->arg = req;
	rv = lag_read_start(lr);
	if (rv != 0) {
		free(lr);
		http_respond_error(req, 503, "unavailable",
				   "this agent has no open store");
	}
}

/* ---- at the leader ---- */

/* The figure from the last report only, at once (no question asked). */
static void last_report(struct risk *rk, const char *pool,
			struct risk_figure *r)
{
	memset(r, 0, sizeof *r);
	if (!rk->d.ops->last_report(rk->d.impl, pool, r)) {
		memset(r, 0, sizeof *r);
		r->source = RISK_NONE;
		return;
	}
	r->source = RISK_LAST_REPORT;
}

struct measure {
	struct risk *rk;
	char pool[FSM_NAME_LEN];
	risk_cb cb;
	void *arg;
	struct lag_read lr; /* when this agent is the pool's */
};

/* The live figure could not be had: the last report, and why. */
static void measure_fallback(struct measure *m, const char *why)
{
	struct risk_figure r;

	last_report(m->rk, m->pool, &r);
	snprintf(r.error, sizeof r.error, "%s", why);
	LOG_INFO(MOD, "%s: no live figure (%s): the last report counts",
		 m->pool, why);
	m->cb(m->arg, &r);
	free(m);
}

static void measured_here(struct lag_read *lr, int status)
{
	struct measure *m = lr->arg;
	struct risk_figure r;

	if (status != 0) {
		measure_fallback(m, "the store could not be read");
		return;
	}
	memset(&r, 0, sizeof r);
	r.source = RISK_LIVE;
	r.records = lr->records;
	r.bytes = lr->bytes;
	r.ms = lr->ms;
	m->cb(m->arg, &r);
	free(m);
}

static void measured_there(void *arg, int err,
			   const struct hclient_response *resp)
{
	struct measure *m = arg;
	struct risk_figure r;
	json_int_t records = -1, bytes = -1, ms = -1;
	json_t *root = NULL;
	char why[128];

	if (err != 0 || resp->status != 200) {
		snprintf(why, sizeof why, "the pool's agent did not answer: %s",
			 err != 0 ? hclient_strerror(err) : "refused");
		measure_fallback(m, why);
		return;
	}
	root = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (root == NULL ||
	    json_unpack(root, "{s:I, s:I, s:I}", "records", &records, "bytes",
			&bytes, "ms", &ms) != 0 ||
	    records < 0 || bytes < 0 || ms < 0) {
		json_decref(root);
		measure_fallback(m, "the pool's agent gave a bad answer");
		return;
	}
	json_decref(root);
	memset(&r, 0, sizeof r);
	r.source = RISK_LIVE;
	r.records = (uint64_t)records;
	r.bytes = (uint64_t)bytes;
	r.ms = (uint64_t)ms;
	m->cb(m->arg, &r);
	free(m);
}

/* The API address of the agent of pool heard last (NULL: none known). */
static const struct fsm_member *pool_agent(struct risk *rk, const char *pool)
{
	const struct fsm *f = rk->d.fsm;
	const struct fsm_member *fm = NULL;
	uint64_t id = rk->d.ops->heard_last(rk->d.impl, pool);

	if (id != 0)
		fm = fsm_member_find(f, id);
	for (unsigned i = 0; fm == NULL && i < f->n_members; i++)
		if (strcmp(f->members[i].pool, pool) == 0 &&
		    f->members[i].id == rk->d.agent_id)
			fm = &f->members[i];
	return fm;
}

int risk_measure(struct risk *rk, const char *pool, bool ask_live, risk_cb cb,
		 void *arg)
{
	const struct fsm_member *fm;
	struct measure *m;
	char host[HCLIENT_HOST_MAX], url[FSM_ADDR_LEN + 16];
	char path[FSM_NAME_LEN + 40];
	uint16_t port;
	int rv;

	m = calloc(1, sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->rk = rk;
	snprintf(m->pool, sizeof m->pool, "%s", pool);
	m->cb = cb;
	m->arg = arg;
	fm = ask_live ? pool_agent(rk, pool) : NULL;
	if (fm != NULL && fm->id == rk->d.agent_id) {
		m->lr.rk = rk;
		snprintf(m->lr.user_set, sizeof m->lr.user_set, "%s", pool);
		m->lr.done = measured_here;
		m->lr.arg = m;
		if (lag_read_start(&m->lr) == 0)
			return 0;
		measure_fallback(m, "this agent's store cannot be read");
		return 0;
	}
	if (fm == NULL) {
		measure_fallback(m, ask_live ? "no agent of the pool is known"
					     : "the pool is not alive");
		return 0;
	}
	snprintf(url, sizeof url, "http://%s/", fm->api_address);
	snprintf(path, sizeof path, "/v1/internal/lag?user_set=%s", pool);
	if (hclient_parse_url(url, host, sizeof host, &port, NULL, 0) != 0) {
		measure_fallback(m, "the pool's agent has a bad address");
		return 0;
	}
	rv = hclient_request(rk->d.calls, "GET", host, port, path, NULL, NULL, 0,
			     ASK_TIMEOUT_MS, measured_there, m, NULL);
	if (rv != 0)
		measure_fallback(m, "the pool's agent cannot be asked");
	return 0;
}

json_t *risk_json(const struct risk_figure *r)
{
	json_t *o;

	if (r->source == RISK_NONE)
		return json_pack("{s:n, s:n, s:n, s:s}", "records", "bytes",
				 "seconds", "source", "none");
	o = json_pack("{s:I, s:I, s:f, s:s}", "records",
		      (json_int_t)r->records, "bytes", (json_int_t)r->bytes,
		      "seconds", (double)r->ms / 1000.0, "source",
		      r->source == RISK_LIVE ? "live" : "last_report");
	if (o != NULL && r->source == RISK_LAST_REPORT)
		json_object_set_new(o, "report_age_ms",
				    json_integer((json_int_t)r->age_ms));
	return o;
}
