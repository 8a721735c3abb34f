/* failover: the leader's decisions on failovers and failbacks: the tick,
 * the moves, the hooks (see failover.h). */
#include "agent/failover.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane.h"
#include "agent/failover_auto.h"
#include "agent/failover_internal.h"
#include "agent/hclient.h"
#include "agent/hooks.h"
#include "agent/log.h"

#define MOD FO_MOD

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

void failover_step_set(struct failover *fo, struct failover_pool *fp, int next)
{
	if (fp->step == next)
		return;
	LOG_INFO(MOD, "%s: %s -> %s", fp->pool, step_name(fp->step),
		 step_name(next));
	fp->step = next;
	fp->step_since_ns = clock_mono_ns(fo->d.clock);
}

struct failover_pool *failover_slot(struct failover *fo, const char *pool)
{
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (strcmp(fo->pools[i].pool, pool) == 0)
			return &fo->pools[i];
	if (fo->n_pools == FSM_MAX_POOLS)
		return NULL;
	memset(&fo->pools[fo->n_pools], 0, sizeof fo->pools[0]);
	snprintf(fo->pools[fo->n_pools].pool, FSM_NAME_LEN, "%s", pool);
	fo->pools[fo->n_pools].owner = fo;
	return &fo->pools[fo->n_pools++];
}

bool failover_moving(const struct failover *fo, const char *pool)
{
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (strcmp(fo->pools[i].pool, pool) == 0)
			return fo->pools[i].step != FO_IDLE;
	return false;
}

const char *failover_refusal(const struct failover *fo, const char *pool)
{
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (strcmp(fo->pools[i].pool, pool) == 0)
			return fo->pools[i].refusal;
	return "";
}

uint64_t failover_alive_ms(const struct failover *fo)
{
	return fo->d.lease_ms;
}

uint64_t failover_down_ms(const struct failover *fo)
{
	return (uint64_t)fo->d.lease_ms + fo->d.grace_ms;
}

static void step_set(struct failover_pool *fp, int next)
{
	failover_step_set(fp->owner, fp, next);
}

/* ---- commands ---- */

struct cmd_ctx failover_cmd_now(const struct failover *fo, const char *who)
{
	return (struct cmd_ctx){.time_ms = clock_wall_ms(fo->d.clock),
				.who = who};
}

struct proposal {
	struct failover *fo;
	char pool[FSM_NAME_LEN];
	char what[64];
};

static void pushed(void *arg, int status)
{
	(void)arg;
	(void)status; /* nothing waits for it: see push_commit() */
}

/* A decision just committed: make every agent apply it now. libraft tells
 * a follower that an entry committed only in its next message to it, the
 * next heartbeat (up to heartbeat_timeout later): the old owner would go
 * on writing, and the new owner would not start, until then. A barrier
 * appends an entry and sends it at once, with the new commit index. */
static void push_commit(struct failover *fo)
{
	char err[128];
	int rv = proposer_barrier(fo->d.proposer, pushed, NULL);

	if (rv != 0)
		LOG_DEBUG(MOD, "no barrier after a decision: %s",
			  proposer_strerror(fo->d.proposer, rv, err,
					    sizeof err));
}

static void proposed(void *arg, int status, const struct fsm_result *res)
{
	struct proposal *p = arg;
	struct failover_pool *fp = failover_slot(p->fo, p->pool);
	char err[128];

	if (status != 0)
		LOG_WARN(MOD, "%s of %s: %s", p->what, p->pool,
			 proposer_strerror(p->fo->d.proposer, status, err,
					   sizeof err));
	else if (res->code != FSM_OK)
		LOG_WARN(MOD, "%s of %s refused: %s", p->what, p->pool,
			 res->reason);
	else
		LOG_INFO(MOD, "%s of %s committed (decision %" PRIu64 ")",
			 p->what, p->pool, res->seq);
	if (status == 0 && res->code == FSM_OK && !p->fo->closing)
		push_commit(p->fo);
	if (fp != NULL && fp->step == FO_PROPOSING)
		step_set(fp, FO_IDLE);
	free(p);
}

int failover_propose(struct failover *fo, const char *pool, int packed,
		     struct cmd_buf *cmd, const char *what)
{
	struct proposal *p;
	char err[128];
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
	rv = proposer_submit(fo->d.proposer, cmd, proposed, p);
	if (rv != 0) {
		LOG_WARN(MOD, "%s of %s: %s", what, pool,
			 proposer_strerror(fo->d.proposer, rv, err,
					   sizeof err));
		free(p);
	}
	return rv;
}

/* ---- hooks ---- */

struct hook_ctx {
	struct failover *fo;
	char pool[FSM_NAME_LEN];
	bool pre; /* pre_failover: go on with the takeover when it passes */
};

static void hook_env(const struct fsm_pool *p, const char *reason,
		     const struct failover_pool *fp, struct hook_env *env,
		     char vals[][64], size_t *n)
{
	*n = 0;
	/* POOLPAIR_HOOK is set by hooks_run itself */
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
	struct cmd_ctx ctx = failover_cmd_now(fo, "leader:hooks");
	char what[FSM_WHAT_LEN];
	struct cmd_event e = {
	    .what = what, .detail = summary, .ok = hooks_outcome_ok(o)};
	struct cmd_buf cmd;
	int packed;

	if (!proposer_is_leader(fo->d.proposer))
		return;
	snprintf(what, sizeof what, "hook %s for %s", o->name, pool);
	packed = cmd_record_event(&ctx, &e, &cmd);
	failover_propose(fo, pool, packed, &cmd, "hook record");
}

static void hook_done(void *arg, const struct hook_outcome *o)
{
	struct hook_ctx *h = arg;
	struct failover *fo = h->fo;
	struct failover_pool *fp = failover_slot(fo, h->pool);
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
		const struct fsm_pool *p = fsm_pool_find(fo->d.fsm, h->pool);

		if (!hooks_outcome_ok(o) || p == NULL) {
			snprintf(fp->refusal, sizeof fp->refusal,
				 "pre_failover hook refused: %s", summary);
			/* ask the hook again later, not at every tick */
			fp->retry_after_ms = clock_wall_ms(fo->d.clock) + 5000;
			step_set(fp, FO_IDLE);
		} else {
			failover_takeover(fo, fp, p);
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

	if (command == NULL || command[0] == '\0')
		return -ENOENT;
	h = calloc(1, sizeof *h);
	if (h == NULL)
		return -ENOMEM;
	h->fo = fo;
	h->pre = pre;
	snprintf(h->pool, sizeof h->pool, "%s", p->name);
	hook_env(p, reason, fp, env, vals, &n);
	rv = hooks_run(fo->d.loop, name, command, env, n,
		       fo->d.hook_timeout_ms, hook_done, h, NULL);
	if (rv != 0) {
		LOG_WARN(MOD, "hook %s: cannot start: %s", name,
			 uv_strerror(rv));
		free(h);
	}
	return rv;
}

/* Owner changes seen on the leader: fence and on_owner_change hooks. */
static void owner_hooks(struct failover *fo, const struct fsm_pool *p)
{
	struct failover_pool *fp = failover_slot(fo, p->name);

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
		run_hook(fo, "fence", fo->d.fence_command, p,
			 "the user set moved away from this pool", fp, false);
	run_hook(fo, "on_owner_change", fo->d.on_owner_change, p,
		 "the owner changed", fp, false);
}

/* ---- moves ---- */

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
	p = fsm_pool_find(fo->d.fsm, fp->pool);
	if (p == NULL) {
		step_set(fp, FO_IDLE);
		return;
	}
	failover_takeover(fo, fp, p);
}

/* Start a move of p to its pair: measure the data at risk, then takeover
 * and decision (complete: the planned failover's complete, else a
 * disaster begin). */
static void start_move(struct failover *fo, struct failover_pool *fp,
		       const struct fsm_pool *p, bool complete,
		       const char *who, const char *reason, bool forced)
{
	bool alive = failover_silence_ms(fo, p->name) <= failover_alive_ms(fo);

	fp->complete = complete;
	fp->forced = forced;
	fp->automatic = false;
	fp->risk_records = fp->risk_bytes = fp->risk_ms = 0;
	snprintf(fp->who, sizeof fp->who, "%s", who);
	snprintf(fp->reason, sizeof fp->reason, "%s", reason);
	step_set(fp, FO_MEASURE);
	if (fo->d.liveness.ops->measure(fo->d.liveness.impl, p->name, alive,
					move_measured, fp) != 0)
		step_set(fp, FO_IDLE);
}

bool failover_disaster(struct failover *fo, const char *pool, const char *who,
		       bool forced)
{
	const struct fsm_pool *p = fsm_pool_find(fo->d.fsm, pool);
	struct failover_local local;
	struct failover_pool *fp;
	char reason[96];
	uint64_t silent;

	if (p == NULL || p->state != FSM_STATE_NORMAL)
		return false;
	fp = failover_slot(fo, p->name);
	if (fp == NULL || fp->step != FO_IDLE)
		return false;
	/* a local takeover being committed comes first (writer.h) */
	fo->d.liveness.ops->local_takeover(fo->d.liveness.impl, p, &local);
	if (local.inflight)
		return false;
	/* commit once the pool's lease has surely run out */
	silent = failover_silence_ms(fo, p->name);
	if (silent <= failover_down_ms(fo) && !forced)
		return false;
	if (silent == UINT64_MAX)
		snprintf(reason, sizeof reason,
			 "disaster: %s not heard since this leader was elected",
			 p->name);
	else
		snprintf(reason, sizeof reason,
			 "disaster: %s silent for %" PRIu64 " ms", p->name,
			 silent);
	start_move(fo, fp, p, false, who, reason, true);
	return true;
}

static void auto_check(struct failover *fo, struct failover_pool *fp,
		       const struct fsm_pool *p, uint64_t now_ms)
{
	const struct fsm *f = fo->d.fsm;
	struct failover_lag rep = {0};
	bool rep_known;
	struct auto_facts facts;
	struct failover_local local;
	struct fsm_result res;
	uint64_t age = 0;
	int verdict;

	rep_known = failover_report(fo, p->name, p->name, UINT64_MAX, &rep,
				    &age);
	memset(&facts, 0, sizeof facts);
	facts.pool = p->name;
	facts.pair = p->pair;
	facts.silent_ms = failover_silence_ms(fo, p->name);
	facts.pair_silent_ms = failover_silence_ms(fo, p->pair);
	facts.alive_ms = failover_alive_ms(fo);
	facts.down_ms = failover_down_ms(fo);
	facts.regime_ms = (clock_mono_ns(fo->d.clock) -
			   fo->d.liveness.ops->regime_since_ns(
			       fo->d.liveness.impl)) /
			  FO_MS;
	facts.paused = p->paused;
	facts.paused_since_ms = p->paused_since_ms;
	facts.pause_reason = p->pause_reason;
	facts.lag_known = rep_known;
	facts.lag_ms = rep_known ? rep.ms : 0;
	facts.seeding = rep_known && rep.seeding;
	facts.seed_items = rep.seed_items;
	facts.seed_items_total = rep.seed_items_total;
	facts.lag_age_ms = age;
	facts.max_lag_ms = f->policy.max_lag_on_failover_ms;
	facts.now_ms = now_ms;
	facts.last_auto_ms = p->last_auto_failover_ms;
	facts.cooldown_ms = f->policy.cooldown_ms;
	facts.retry_after_ms = fp->retry_after_ms;
	fo->d.liveness.ops->local_takeover(fo->d.liveness.impl, p, &local);
	facts.sync_standby = local.name;
	facts.sync_silent_ms = local.silent_ms;
	facts.sync_positions = local.positions;
	facts.local_takeover = local.inflight;
	verdict = failover_auto_gate(&facts, fp->refusal, sizeof fp->refusal);
	if (verdict == AUTO_HOLD && !fp->holding)
		LOG_WARN(MOD, "%s", fp->refusal);
	else if (verdict != AUTO_HOLD && fp->holding)
		LOG_INFO(MOD, "%s: no longer held for a local takeover (%s)",
			 p->name, failover_auto_verdict_name(verdict));
	fp->holding = verdict == AUTO_HOLD;
	if (verdict != AUTO_GO)
		return;
	if (fsm_failover_check(f, p->name, false, &res, NULL) != FSM_OK) {
		snprintf(fp->refusal, sizeof fp->refusal, "%s", res.reason);
		return;
	}
	/* an attempt that fails (hook, takeover) is not made again at once;
	 * one that commits starts the cooldown in the FSM */
	fp->retry_after_ms = now_ms + FO_AUTO_RETRY_MS;
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
	fp->risk_records = rep.records;
	fp->risk_bytes = rep.bytes;
	fp->risk_ms = rep.ms;
	{
		size_t n = strlen(fp->reason);

		if (n < sizeof fp->reason)
			snprintf(fp->reason + n, sizeof fp->reason - n,
				 "; data at risk as last reported, %" PRIu64
				 " ms before",
				 age);
	}
	snprintf(fp->who, sizeof fp->who, "leader:auto");
	if (fo->d.pre_failover != NULL && fo->d.pre_failover[0] != '\0') {
		step_set(fp, FO_HOOK);
		if (run_hook(fo, "pre_failover", fo->d.pre_failover, p,
			     fp->reason, fp, true) != 0) {
			snprintf(fp->refusal, sizeof fp->refusal,
				 "the pre_failover hook cannot start");
			fp->retry_after_ms = now_ms + 5000;
			step_set(fp, FO_IDLE);
		}
		return;
	}
	failover_takeover(fo, fp, p);
}

/* Propose what a cmd_* constructor packed, as pool's FO_PROPOSING step. */
static void decide(struct failover *fo, struct failover_pool *fp, int packed,
		   struct cmd_buf *cmd, const char *what)
{
	step_set(fp, FO_PROPOSING);
	if (failover_propose(fo, fp->pool, packed, cmd, what) != 0)
		step_set(fp, FO_IDLE);
}

/* A planned failover drained? Its own user set, and the CMS documents
 * too when the CMS moves with it. */
static bool planned_drained(struct failover *fo, const struct fsm_pool *p)
{
	struct failover_lag rep;

	if (!failover_report(fo, p->name, p->name, failover_alive_ms(fo), &rep,
			     NULL) ||
	    !rep.drained)
		return false;
	if (strcmp(fo->d.fsm->cms_active, p->name) == 0 &&
	    failover_report(fo, p->name, DATAPLANE_CMS, failover_alive_ms(fo),
			    &rep, NULL) &&
	    !rep.drained)
		return false;
	return true;
}

static void pool_tick(struct failover *fo, const struct fsm_pool *p,
		      uint64_t now_ms)
{
	struct failover_pool *fp = failover_slot(fo, p->name);
	struct failover_lag rep;
	struct cmd_ctx ctx;
	struct cmd_buf cmd;
	int packed;

	if (fp == NULL)
		return;
	if (fp->step != FO_IDLE) {
		uint64_t limit = fp->step == FO_VERIFY ? FO_VERIFY_TIMEOUT_MS
						       : FO_STEP_TIMEOUT_MS;

		if (clock_mono_ns(fo->d.clock) - fp->step_since_ns >
		    limit * FO_MS) {
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
		    strcmp(fsm_failover_policy(fo->d.fsm), "auto") == 0)
			auto_check(fo, fp, p, now_ms);
		break;
	case FSM_STATE_FAILING_OVER:
		if (planned_drained(fo, p)) {
			start_move(fo, fp, p, true, "leader:drained",
				   "planned: drained", false);
		} else if (now_ms - p->failover_since_ms > FO_DRAIN_TIMEOUT_MS) {
			ctx = failover_cmd_now(fo, "leader:timeout");
			packed = cmd_failover_abort(
			    &ctx, p->name, "the drain did not finish in time",
			    &cmd);
			decide(fo, fp, packed, &cmd, "failover abort");
		}
		break;
	case FSM_STATE_FAILED_OVER:
		if (failover_silence_ms(fo, p->name) < failover_alive_ms(fo)) {
			ctx = failover_cmd_now(fo, "leader:heard");
			packed = cmd_pool_recovering(&ctx, p->name, &cmd);
			decide(fo, fp, packed, &cmd, "recovering");
		}
		break;
	case FSM_STATE_FAILING_BACK:
		if (failover_report(fo, p->pair, p->name, failover_alive_ms(fo),
				    &rep, NULL) &&
		    rep.drained && !rep.seeding) {
			if (now_ms >= fp->retry_after_ms)
				failover_failback_verify(fo, fp, p, now_ms);
		} else if (now_ms - p->failover_since_ms > FO_DRAIN_TIMEOUT_MS) {
			ctx = failover_cmd_now(fo, "leader:timeout");
			packed = cmd_failback_abort(
			    &ctx, p->name,
			    "the drain back did not finish in time", &cmd);
			decide(fo, fp, packed, &cmd, "failback abort");
		}
		break;
	default:
		break;
	}
}

/* ---- the tick and the life of the module ---- */

void failover_tick(struct failover *fo)
{
	const struct fsm *f = fo->d.fsm;
	const struct failover_liveness *l = &fo->d.liveness;
	uint64_t now_ms = clock_wall_ms(fo->d.clock);

	if (fo->closing)
		return;
	failover_waits_tick(fo);
	if (!proposer_is_leader(fo->d.proposer) ||
	    l->ops->regime_since_ns(l->impl) == 0 ||
	    !l->ops->lease_valid(l->impl)) {
		for (unsigned i = 0; i < fo->n_pools; i++)
			fo->pools[i].seen_epoch = 0;
		return;
	}
	for (unsigned i = 0; i < f->n_pools; i++) {
		owner_hooks(fo, &f->pools[i]);
		pool_tick(fo, &f->pools[i], now_ms);
	}
}

static void on_tick(uv_timer_t *t)
{
	failover_tick(t->data);
}

int failover_init(struct failover *fo, const struct failover_deps *deps)
{
	int rv;

	memset(fo, 0, sizeof *fo);
	rv = uv_timer_init(deps->loop, &fo->tick);
	if (rv != 0)
		return rv;
	fo->d = *deps;
	fo->tick.data = fo;
	return 0;
}

int failover_start(struct failover *fo)
{
	return uv_timer_start(&fo->tick, on_tick, 50, 50);
}

static void tick_closed(uv_handle_t *h)
{
	struct failover *fo = h->data;

	fo->close_cb(fo);
}

int failover_close(struct failover *fo, void (*cb)(struct failover *))
{
	if (fo->d.loop == NULL || fo->closing)
		return -EALREADY;
	fo->closing = true;
	fo->close_cb = cb;
	for (unsigned i = 0; i < fo->n_pools; i++)
		if (fo->pools[i].req != NULL) {
			hclient_cancel(fo->pools[i].req);
			fo->pools[i].req = NULL;
		}
	failover_waits_close(fo);
	uv_close((uv_handle_t *)&fo->tick, tick_closed);
	return 0;
}
