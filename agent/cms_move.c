/* cms_move: planned and disaster moves of the active CMS (see cms_move.h). */
#include "agent/cms_move.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/dataplane.h"
#include "agent/log.h"
#include "consensus/cmd.h"

#define MOD "cms"
#define MS 1000000ULL
#define TICK_MS 50
#define STEP_TIMEOUT_MS 15000 /* a decision that never comes back */
#define DRAIN_TIMEOUT_MS 30000
#define CALL_MAX_MS 60000

/* An API call waiting for its move. */
enum cms_call_state {
	CALL_WAIT_DOWN,	 /* disaster: until the active side's lease ran out */
	CALL_PROPOSING,	 /* its decision is being committed */
	CALL_MOVING,	 /* planned: begun, until the move ends */
};

struct cms_call {
	struct http_request *req;
	uint64_t id;	     /* cm->calls when it came */
	int state;	     /* enum cms_call_state */
	bool planned;
	bool forced;
	char who[FSM_WHO_LEN];
	uint64_t epoch;	     /* cms epoch when asked */
	uint64_t since_ms;   /* planned: time of its begin decision */
	uint64_t deadline_ns;
	uint64_t decision;   /* disaster: its decision */
	struct cms_move_plan plan;
};

static const char *call_state_name(int state)
{
	switch (state) {
	case CALL_WAIT_DOWN:
		return "waiting for the lease to run out";
	case CALL_PROPOSING:
		return "proposing";
	case CALL_MOVING:
		return "draining";
	default:
		return "?";
	}
}

static void call_set(struct cms_call *c, int next)
{
	if (c->state == next)
		return;
	LOG_INFO(MOD, "move asked by %s: %s -> %s", c->who,
		 call_state_name(c->state), call_state_name(next));
	c->state = next;
}

static void step_set(struct cms_move *cm, int next)
{
	if (cm->step == next)
		return;
	LOG_INFO(MOD, "leader step %s -> %s",
		 cm->step == CMS_STEP_IDLE ? "idle" : "proposing",
		 next == CMS_STEP_IDLE ? "idle" : "proposing");
	cm->step = next;
	cm->step_since_ns = clock_mono_ns(cm->d.clock);
}

static uint64_t lease_ms(const struct cms_move *cm)
{
	return cm->d.lease_ms;
}

static uint64_t down_ms(const struct cms_move *cm)
{
	return (uint64_t)cm->d.lease_ms + cm->d.grace_ms;
}

static uint64_t silence_ms(const struct cms_move *cm, const char *pool)
{
	return cm->d.liveness.ops->silence_ms(cm->d.liveness.impl, pool);
}

static bool report(const struct cms_move *cm, const char *pool,
		   const char *user_set, uint64_t max_age_ms,
		   struct failover_lag *lag)
{
	return cm->d.liveness.ops->report(cm->d.liveness.impl, pool, user_set,
					  max_age_ms, lag, NULL);
}

/* ---- the plan: what the what-if says and the call does ---- */

void cms_move_plan(struct cms_move *cm, bool disaster, bool force,
		   struct cms_move_plan *pl)
{
	const struct fsm *f = cm->d.fsm;
	const struct fsm_pool *p = fsm_pool_find(f, f->cms_active);
	struct failover_lag rep;
	struct fsm_result res;
	int code;

	memset(pl, 0, sizeof(*pl));
	pl->planned = !disaster;
	snprintf(pl->active, sizeof(pl->active), "%s", f->cms_active);
	if (p != NULL)
		snprintf(pl->standby, sizeof(pl->standby), "%s", p->pair);
	pl->silent_ms = p != NULL ? silence_ms(cm, p->name) : UINT64_MAX;
	pl->alive = pl->silent_ms <= lease_ms(cm);
	if (pl->planned) {
		pl->risk_known = true; /* drained first: nothing at risk */
	} else if (p != NULL &&
		   report(cm, p->name, DATAPLANE_CMS, UINT64_MAX, &rep)) {
		pl->risk_known = true;
		pl->risk_records = rep.records;
		pl->risk_bytes = rep.bytes;
		pl->risk_ms = rep.ms;
	}
	code = fsm_cms_failover_check(f, pl->planned, force, &res);
	if (code != FSM_OK) {
		snprintf(pl->code, sizeof(pl->code), "%s",
			 fsm_code_name(code));
		snprintf(pl->reason, sizeof(pl->reason), "%s", res.reason);
		return;
	}
	if (cm->call != NULL) {
		snprintf(pl->code, sizeof(pl->code), "busy");
		snprintf(pl->reason, sizeof(pl->reason),
			 "a move of the CMS asked by %s is under way (%s)",
			 cm->call->who, call_state_name(cm->call->state));
		return;
	}
	if (pl->planned && !pl->alive) {
		snprintf(pl->code, sizeof(pl->code), "not_reachable");
		if (pl->silent_ms == UINT64_MAX)
			snprintf(pl->reason, sizeof(pl->reason),
				 "%s, which hosts the active CMS, is not "
				 "reachable (not heard since this leader was "
				 "elected): a move now is a disaster move "
				 "(--disaster)",
				 pl->active);
		else
			snprintf(pl->reason, sizeof(pl->reason),
				 "%s, which hosts the active CMS, is not "
				 "reachable (silent %" PRIu64
				 " ms): a move now is a disaster move "
				 "(--disaster)",
				 pl->active, pl->silent_ms);
		return;
	}
	if (!pl->planned && pl->alive && !force) {
		snprintf(pl->code, sizeof(pl->code), "cms_alive");
		snprintf(pl->reason, sizeof(pl->reason),
			 "%s, which hosts the active CMS, is alive: a planned "
			 "move loses nothing (drop --disaster, or add "
			 "--force)",
			 pl->active);
		return;
	}
	pl->allowed = true;
	snprintf(pl->code, sizeof(pl->code), "ok");
}

static json_t *plan_risk_json(const struct cms_move_plan *pl)
{
	if (!pl->risk_known)
		return json_pack("{s:n, s:n, s:n}", "records", "bytes",
				 "seconds");
	return json_pack("{s:I, s:I, s:f}", "records",
			 (json_int_t)pl->risk_records, "bytes",
			 (json_int_t)pl->risk_bytes, "seconds",
			 (double)pl->risk_ms / 1000.0);
}

static json_t *plan_json(const struct cms_move_plan *pl)
{
	return json_pack(
	    "{s:b, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:o}", "allowed",
	    pl->allowed, "code", pl->code, "reason", pl->reason, "mode",
	    pl->planned ? "planned" : "disaster", "active", pl->active,
	    "standby", pl->standby, "pool_alive", pl->alive, "silent_ms",
	    (json_int_t)(pl->silent_ms == UINT64_MAX ? -1
						     : (int64_t)pl->silent_ms),
	    "data_at_risk", plan_risk_json(pl));
}

static int plan_status(const char *code)
{
	static const char *const conflicts[] = {"not_reachable", "cms_alive",
						"busy", NULL};

	for (const char *const *c = conflicts; *c != NULL; c++)
		if (strcmp(code, *c) == 0)
			return 409;
	for (int i = 0; i < FSM_CODE_COUNT; i++)
		if (strcmp(code, fsm_code_name(i)) == 0)
			return answer_fsm_status(i);
	return 409;
}

/* ---- proposals ---- */

/* What a proposal is for, to be found again in its callback. */
struct proposal {
	struct cms_move *cm;
	uint64_t call_id; /* 0: the leader's own step */
	uint64_t time_ms; /* of the command */
};

static void call_end(struct cms_move *cm)
{
	free(cm->call);
	cm->call = NULL;
}

/* The answer of a finished move. */
static void call_answer_moved(struct cms_move *cm, uint64_t decision)
{
	const struct fsm *f = cm->d.fsm;
	struct cms_call *c = cm->call;
	const struct fsm_pool *p = fsm_pool_find(f, f->cms_active);
	json_t *body = json_pack(
	    "{s:s, s:s, s:s, s:I, s:s, s:o}", "active", f->cms_active,
	    "standby", p != NULL ? p->pair : "", "from", c->plan.active,
	    "epoch", (json_int_t)f->cms_epoch, "mode",
	    c->planned ? "planned" : "disaster", "data_at_risk",
	    plan_risk_json(&c->plan));

	if (body != NULL && decision != 0)
		json_object_set_new(body, "decision",
				    json_integer((json_int_t)decision));
	answer_json(c->req, 200, body);
	call_end(cm);
}

static void proposed(void *arg, int status, const struct fsm_result *res)
{
	struct proposal *pr = arg;
	struct cms_move *cm = pr->cm;
	struct cms_call *c = cm->call;
	char err[128];

	if (status != 0)
		LOG_WARN(MOD, "cms decision: %s",
			 proposer_strerror(cm->d.proposer, status, err,
					   sizeof err));
	else if (res->code != FSM_OK)
		LOG_WARN(MOD, "cms decision refused: %s", res->reason);
	else
		LOG_INFO(MOD, "cms decision committed (decision %" PRIu64 ")",
			 res->seq);
	if (pr->call_id == 0) {
		if (cm->step == CMS_STEP_PROPOSING)
			step_set(cm, CMS_STEP_IDLE);
	} else if (!cm->closing && c != NULL && c->id == pr->call_id &&
		   c->state == CALL_PROPOSING) {
		if (status != 0) {
			http_respond_error(c->req, 503, "unavailable",
					   status == PROPOSER_E_UNKNOWN
					       ? "leadership lost: the move "
						 "may have been decided, see "
						 "status and history"
					       : err);
			call_end(cm);
		} else if (res->code != FSM_OK) {
			http_respond_error(c->req, answer_fsm_status(res->code),
					   fsm_code_name(res->code),
					   res->reason);
			call_end(cm);
		} else if (!c->planned) {
			call_answer_moved(cm, res->seq);
		} else {
			c->since_ms = pr->time_ms;
			call_set(c, CALL_MOVING);
		}
	}
	free(pr);
}

/* Propose the packed command (taken in every case) made at time_ms.
 * Returns 0 or a negative code (the callback then never fires). */
static int propose(struct cms_move *cm, uint64_t call_id, uint64_t time_ms,
		   int packed, struct cmd_buf *cmd)
{
	struct proposal *pr;
	char err[128];
	int rv;

	if (packed != 0) {
		cmd_buf_free(cmd);
		return -ENOMEM;
	}
	pr = calloc(1, sizeof(*pr));
	if (pr == NULL) {
		cmd_buf_free(cmd);
		return -ENOMEM;
	}
	pr->cm = cm;
	pr->call_id = call_id;
	pr->time_ms = time_ms;
	rv = proposer_submit(cm->d.proposer, cmd, proposed, pr);
	if (rv != 0) {
		LOG_WARN(MOD, "cms decision: %s",
			 proposer_strerror(cm->d.proposer, rv, err,
					   sizeof err));
		free(pr);
	}
	return rv;
}

/* The decision a call asks for: a planned begin, or the disaster move
 * with the data at risk measured now. */
static void call_propose(struct cms_move *cm)
{
	struct cms_call *c = cm->call;
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(cm->d.clock),
			      .who = c->who};
	struct cmd_risk risk = {0};
	struct cmd_buf cmd;
	const char *why = "planned";
	char reason[FSM_REASON_LEN];
	int packed;
	uint64_t silent = silence_ms(cm, c->plan.active);
	struct failover_lag rep;

	if (!c->planned) {
		if (report(cm, c->plan.active, DATAPLANE_CMS, UINT64_MAX,
			   &rep)) {
			c->plan.risk_known = true;
			c->plan.risk_records = rep.records;
			c->plan.risk_bytes = rep.bytes;
			c->plan.risk_ms = rep.ms;
		}
		risk.records = c->plan.risk_records;
		risk.bytes = c->plan.risk_bytes;
		risk.ms = c->plan.risk_ms;
		if (silent == UINT64_MAX)
			snprintf(reason, sizeof(reason),
				 "disaster: %s not heard since this leader "
				 "was elected%s",
				 c->plan.active, c->forced ? " (forced)" : "");
		else
			snprintf(reason, sizeof(reason),
				 "disaster: %s silent for %" PRIu64 " ms%s",
				 c->plan.active, silent,
				 c->forced ? " (forced)" : "");
		why = reason;
	}
	packed = cmd_cms_failover(&ctx, c->planned, c->forced, &risk, why, &cmd);
	call_set(c, CALL_PROPOSING);
	if (propose(cm, c->id, ctx.time_ms, packed, &cmd) != 0) {
		http_respond_error(c->req, 503, "unavailable",
				   "could not propose the move of the CMS");
		call_end(cm);
	}
}

/* ---- the tick ---- */

static void call_tick(struct cms_move *cm)
{
	const struct fsm *f = cm->d.fsm;
	struct cms_call *c = cm->call;

	if (c == NULL)
		return;
	if (c->state == CALL_MOVING) {
		if (f->cms_epoch > c->epoch) {
			call_answer_moved(cm, 0);
			return;
		}
		if (f->cms_state == FSM_STATE_NORMAL ||
		    f->cms_since_ms != c->since_ms) {
			http_respond_error(c->req, 409, "aborted",
					   "the move of the CMS was aborted: "
					   "see history");
			call_end(cm);
			return;
		}
	}
	if (clock_mono_ns(cm->d.clock) > c->deadline_ns) {
		http_respond_error(c->req, 504, "timeout",
				   "the move of the CMS did not finish in time; "
				   "it may still: see status");
		call_end(cm);
		return;
	}
	if (c->state != CALL_WAIT_DOWN)
		return;
	if (!proposer_is_leader(cm->d.proposer)) {
		http_respond_error(c->req, 503, "unavailable",
				   "this agent no longer leads: ask again");
		call_end(cm);
		return;
	}
	if (c->forced || silence_ms(cm, c->plan.active) > down_ms(cm))
		call_propose(cm);
}

/* Leader: take a planned move committed earlier to its end. */
static void drive(struct cms_move *cm, uint64_t now_ms)
{
	const struct fsm *f = cm->d.fsm;
	struct failover_lag rep;
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(cm->d.clock)};
	struct cmd_buf cmd;
	int packed;

	if (cm->step != CMS_STEP_IDLE) {
		if (clock_mono_ns(cm->d.clock) - cm->step_since_ns >
		    STEP_TIMEOUT_MS * MS)
			step_set(cm, CMS_STEP_IDLE);
		return;
	}
	if (f->cms_state != FSM_STATE_FAILING_OVER)
		return;
	if (report(cm, f->cms_active, DATAPLANE_CMS, lease_ms(cm), &rep) &&
	    rep.drained) {
		LOG_INFO(MOD, "the CMS documents of %s are drained: moving it",
			 f->cms_active);
		ctx.who = "leader:drained";
		packed = cmd_cms_failover_complete(&ctx, f->cms_since_ms, &cmd);
	} else if (now_ms > f->cms_since_ms &&
		   now_ms - f->cms_since_ms > DRAIN_TIMEOUT_MS) {
		LOG_WARN(MOD, "the CMS documents of %s did not drain in time: "
			      "aborting the move",
			 f->cms_active);
		ctx.who = "leader:timeout";
		packed = cmd_cms_failover_abort(
		    &ctx, f->cms_since_ms,
		    "the drain of the CMS documents did not finish in time",
		    &cmd);
	} else {
		return;
	}
	step_set(cm, CMS_STEP_PROPOSING);
	if (propose(cm, 0, ctx.time_ms, packed, &cmd) != 0)
		step_set(cm, CMS_STEP_IDLE);
}

static void tick(uv_timer_t *t)
{
	struct cms_move *cm = t->data;
	const struct failover_liveness *l = &cm->d.liveness;

	if (cm->closing)
		return;
	call_tick(cm);
	if (!proposer_is_leader(cm->d.proposer) ||
	    l->ops->regime_since_ns(l->impl) == 0 ||
	    !l->ops->lease_valid(l->impl)) {
		cm->step = CMS_STEP_IDLE;
		return;
	}
	drive(cm, clock_wall_ms(cm->d.clock));
}

int cms_move_init(struct cms_move *cm, const struct cms_move_deps *deps)
{
	int rv;

	memset(cm, 0, sizeof(*cm));
	rv = uv_timer_init(deps->loop, &cm->tick);
	if (rv != 0)
		return rv;
	cm->d = *deps;
	cm->tick.data = cm;
	return 0;
}

int cms_move_start(struct cms_move *cm)
{
	return uv_timer_start(&cm->tick, tick, TICK_MS, TICK_MS);
}

static void tick_closed(uv_handle_t *h)
{
	struct cms_move *cm = h->data;

	cm->close_cb(cm);
}

int cms_move_close(struct cms_move *cm, void (*cb)(struct cms_move *))
{
	if (cm->d.loop == NULL || cm->closing)
		return -EALREADY;
	cm->closing = true;
	cm->close_cb = cb;
	if (cm->call != NULL) {
		http_respond_error(cm->call->req, 503, "unavailable",
				   "the agent is shutting down");
		call_end(cm);
	}
	uv_close((uv_handle_t *)&cm->tick, tick_closed);
	return 0;
}

/* ---- API ---- */

static void call(struct cms_move *cm, struct http_request *req)
{
	bool what_if, disaster, force;
	struct cms_move_plan plan;
	struct cms_call *c;

	if (!failover_move_flags(req, &what_if, &disaster, &force))
		return;
	cms_move_plan(cm, disaster, force, &plan);
	if (what_if) {
		answer_json(req, 200, plan_json(&plan));
		return;
	}
	if (!plan.allowed) {
		http_respond_error(req, plan_status(plan.code), plan.code,
				   plan.reason);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	c->req = req;
	c->id = ++cm->calls;
	c->planned = plan.planned;
	c->forced = force;
	c->epoch = cm->d.fsm->cms_epoch;
	c->deadline_ns = clock_mono_ns(cm->d.clock) + CALL_MAX_MS * MS;
	c->plan = plan;
	c->state = CALL_WAIT_DOWN;
	cm->d.who(req, c->who, sizeof c->who);
	cm->call = c;
	LOG_INFO(MOD, "%s move of the CMS from %s to %s asked by %s%s",
		 plan.planned ? "planned" : "disaster", plan.active,
		 plan.standby, c->who, force ? " (forced)" : "");
	if (plan.planned || force)
		call_propose(cm);
	/* else the tick proposes once the lease has surely run out */
}

void cms_move_route(void *module, struct http_request *req,
		    const struct route_params *p)
{
	call(module, req);
}
