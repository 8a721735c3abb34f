/* fsm_failover: the failover decisions (see fsm.h): a pool's failover
 * state machine (failover and failback of its user set) given as ops and
 * a table of transitions, and the one function that applies it and the
 * CMS's (fsm_cms.c).
 *
 * Every decision goes through fo_check(): the op's look-up (the pool and
 * its pair), then the transition of the machine's table for (state, op) —
 * none: refused with the op's refusal — then the transition's guard.
 * fo_apply() then runs the transition's effect and records the
 * transition: the machine enters its next state at the command's time
 * (failover_since_ms of the pool, cms_since_ms of the CMS). The what-if
 * answers (fsm_failover_check, fsm_cms_failover_check) are fo_check()
 * alone, so that they are the decision. */
#include <inttypes.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

/* ---- look-ups and refusals ---- */

static struct fsm_pool *pool_p(struct fsm *f, const struct fo_ctx *c)
{
	return &f->pools[c->pi];
}

static struct fsm_pool *pool_q(struct fsm *f, const struct fo_ctx *c)
{
	return &f->pools[c->qi];
}

/* Pool ops: the pool named and its pair. FSM_E_INVALID, FSM_E_NOT_FOUND
 * or FSM_E_NOT_PAIRED. */
static int lookup_pool(const struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	const char *name = c->a->pool;
	const struct fsm_pool *p;
	char cn[CLIP_LEN];

	if (fsm_check_name(o, "pool name", name))
		return o->code;
	c->pi = fsm_pool_index(f, name);
	if (c->pi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				fsm_clip(cn, name));
	p = &f->pools[c->pi];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED,
				"pool %s is not paired: there is no pool to "
				"take its user set",
				p->name);
	c->qi = fsm_pool_index(f, p->pair);
	if (c->qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pair %s of pool %s is not defined", p->pair,
				p->name);
	return FSM_OK;
}

/* Pool ops in a state without a transition: FSM_E_NOT_FAILED_OVER when
 * the pool is normal, else FSM_E_FAILED_OVER, naming the state wanted. */
static int refuse_pool(const struct fsm *f, struct fo_ctx *c,
		       struct outcome *o);

/* A failover begin of a pool that is not normal. */
static int refuse_begin(const struct fsm *f, struct fo_ctx *c,
			struct outcome *o)
{
	const struct fsm_pool *p = &f->pools[c->pi];

	return fsm_fail(o, FSM_E_FAILED_OVER,
			"pool %s is %s, not normal: its failover is already "
			"under way",
			p->name, fsm_failover_state_name(p->state));
}

/* ---- guards ---- */

/* FSM_E_FULL when the epoch of p (or the CMS epoch, if p hosts the active
 * CMS and cms says it moves) cannot be raised. */
static int epoch_room(const struct fsm *f, const struct fsm_pool *p, bool cms,
		      struct outcome *o)
{
	if (p->epoch == UINT64_MAX)
		return fsm_fail(
		    o, FSM_E_FULL,
		    "the epoch of pool %s cannot be raised any more", p->name);
	if (cms && strcmp(f->cms_active, p->name) == 0 &&
	    f->cms_epoch == UINT64_MAX)
		return fsm_fail(o, FSM_E_FULL,
				"the cms epoch cannot be raised any more");
	return FSM_OK;
}

/* failover_begin: the pool owns its user set, its pair is normal, the
 * epochs can be raised. */
static int guard_failover_begin(const struct fsm *f, struct fo_ctx *c,
				struct outcome *o)
{
	const struct fsm_pool *p = &f->pools[c->pi], *q = &f->pools[c->qi];

	if (strcmp(p->owner, p->name) != 0)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"the user set of %s is owned by %s, not by "
				"itself",
				p->name, p->owner);
	if (q->state != FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_PAIR_DOWN,
				"the pair of %s is %s (%s is %s): it must be "
				"normal to take over",
				p->name, fsm_state_words(q->state), q->name,
				fsm_failover_state_name(q->state));
	return epoch_room(f, p, true, o);
}

static int guard_failover_complete(const struct fsm *f, struct fo_ctx *c,
				   struct outcome *o)
{
	return epoch_room(f, &f->pools[c->pi], true, o);
}

/* failback_begin from failed_over: only forced. */
static int guard_forced(const struct fsm *f, struct fo_ctx *c,
			struct outcome *o)
{
	if (c->a->forced)
		return FSM_OK;
	return fsm_fail(o, FSM_E_FAILED_OVER,
			"pool %s is failed_over, not recovering: it must "
			"report recovering first, or the failback be forced",
			f->pools[c->pi].name);
}

static int guard_failback_complete(const struct fsm *f, struct fo_ctx *c,
				   struct outcome *o)
{
	return epoch_room(f, &f->pools[c->pi], false, o);
}

/* ---- effects ---- */

/* The owner change of a failover: the CMS first if p hosts it (which ends
 * a planned CMS move under way: it moved), then the user set. Returns
 * whether the CMS moved. */
static bool fail_over(struct fsm *f, struct fo_ctx *c, uint64_t now)
{
	struct fsm_pool *p = pool_p(f, c), *q = pool_q(f, c);
	bool cms = strcmp(f->cms_active, p->name) == 0;

	p->takeover_seq[0] = c->a->takeover_seq[0];
	p->takeover_seq[1] = c->a->takeover_seq[1];
	if (cms) {
		fsm_name_set(f->cms_active, q->name);
		f->cms_epoch++;
		f->cms_floor_epoch = f->cms_epoch;
		if (f->cms_state != FSM_STATE_NORMAL) {
			f->cms_state = FSM_STATE_NORMAL;
			f->cms_since_ms = now;
		}
	}
	fsm_name_set(p->owner, q->name);
	p->epoch++;
	p->floor_epoch = p->epoch;
	return cms;
}

/* The reason of the command as the pool's last failover reason and the
 * outcome's. */
static void keep_reason(struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	struct fsm_pool *p = pool_p(f, c);

	fsm_reason_set(p->last_failover_reason, c->a->reason);
	strcpy(o->reason, p->last_failover_reason);
}

static void effect_failover_planned(struct fsm *f, struct fo_ctx *c,
				    struct outcome *o)
{
	o->forced = c->a->forced;
	keep_reason(f, c, o);
	fsm_fmt(o->what, sizeof(o->what),
		"begin planned failover %s to %s (%s)%s", pool_p(f, c)->name,
		pool_q(f, c)->name, c->risk, c->a->forced ? " (forced)" : "");
}

static void effect_failover_disaster(struct fsm *f, struct fo_ctx *c,
				     struct outcome *o)
{
	struct fsm_pool *p = pool_p(f, c);
	bool cms;

	o->forced = true;
	keep_reason(f, c, o);
	cms = fail_over(f, c, o->now);
	if (c->a->automatic)
		p->last_auto_failover_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what),
		"%sfailover %s to %s%s (disaster, %s)",
		c->a->automatic ? "automatic " : "", p->name,
		pool_q(f, c)->name, cms ? " with the cms" : "", c->risk);
}

static void effect_failover_complete(struct fsm *f, struct fo_ctx *c,
				     struct outcome *o)
{
	bool cms = fail_over(f, c, o->now);

	fsm_fmt(o->what, sizeof(o->what), "complete failover %s to %s%s (%s)",
		pool_p(f, c)->name, pool_q(f, c)->name,
		cms ? " with the cms" : "", c->risk);
}

static void effect_recovering(struct fsm *f, struct fo_ctx *c,
			      struct outcome *o)
{
	fsm_fmt(o->what, sizeof(o->what), "pool %s recovering (owner stays %s)",
		pool_p(f, c)->name, pool_p(f, c)->owner);
}

static void effect_failback_begin(struct fsm *f, struct fo_ctx *c,
				  struct outcome *o)
{
	o->forced = c->a->forced;
	fsm_fmt(o->what, sizeof(o->what), "begin failback %s from %s%s",
		pool_p(f, c)->name, pool_p(f, c)->owner,
		c->a->forced ? " (forced)" : "");
}

static void effect_failback_complete(struct fsm *f, struct fo_ctx *c,
				     struct outcome *o)
{
	struct fsm_pool *p = pool_p(f, c);
	char from[FSM_NAME_LEN];

	strcpy(from, p->owner);
	fsm_name_set(p->owner, p->name);
	p->epoch++;
	p->floor_epoch = p->epoch;
	fsm_fmt(o->what, sizeof(o->what), "complete failback %s from %s",
		p->name, from);
}

/* ---- a pool's machine: its ops (what they say before anything is
 * checked) and its table ---- */

static void say_failover_planned(const struct fsm *f, struct fo_ctx *c,
				 struct outcome *o)
{
	char cn[CLIP_LEN];

	(void)f;
	fsm_fmt(o->what, sizeof(o->what), "begin planned failover %s%s",
		fsm_clip(cn, c->a->pool), c->a->forced ? " (forced)" : "");
}

static void say_failover_disaster(const struct fsm *f, struct fo_ctx *c,
				  struct outcome *o)
{
	char cn[CLIP_LEN];

	(void)f;
	fsm_fmt(o->what, sizeof(o->what), "failover %s (disaster, %s)",
		fsm_clip(cn, c->a->pool), c->risk);
}

static void say_pool(const struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	const char *pool = c->a->pool;
	char cn[CLIP_LEN];

	(void)f;
	fsm_clip(cn, pool);
	switch (c->a->op) {
	case FSM_OP_FAILOVER_COMPLETE:
		fsm_fmt(o->what, sizeof(o->what), "complete failover %s (%s)",
			cn, c->risk);
		break;
	case FSM_OP_FAILOVER_ABORT:
		fsm_fmt(o->what, sizeof(o->what), "abort failover %s", cn);
		break;
	case FSM_OP_POOL_RECOVERING:
		fsm_fmt(o->what, sizeof(o->what), "pool %s recovering", cn);
		break;
	case FSM_OP_FAILBACK_BEGIN:
		fsm_fmt(o->what, sizeof(o->what), "begin failback %s%s", cn,
			c->a->forced ? " (forced)" : "");
		break;
	case FSM_OP_FAILBACK_COMPLETE:
		fsm_fmt(o->what, sizeof(o->what), "complete failback %s", cn);
		break;
	default:
		fsm_fmt(o->what, sizeof(o->what), "abort failback %s", cn);
		break;
	}
}

/* pool_ops[] is indexed from the machine's first op */
#define OP(name) [FSM_OP_##name - FSM_OP_FAILOVER_PLANNED]

static const struct fo_op pool_ops[] = {
    OP(FAILOVER_PLANNED) = {"failover_planned", say_failover_planned,
			    lookup_pool, refuse_begin, FSM_STATE_NORMAL},
    OP(FAILOVER_DISASTER) = {"failover_disaster", say_failover_disaster,
			     lookup_pool, refuse_begin, FSM_STATE_NORMAL},
    OP(FAILOVER_COMPLETE) = {"failover_complete", say_pool, lookup_pool,
			     refuse_pool, FSM_STATE_FAILING_OVER},
    OP(FAILOVER_ABORT) = {"failover_abort", say_pool, lookup_pool, refuse_pool,
			  FSM_STATE_FAILING_OVER},
    OP(POOL_RECOVERING) = {"pool_recovering", say_pool, lookup_pool,
			   refuse_pool, FSM_STATE_FAILED_OVER},
    OP(FAILBACK_BEGIN) = {"failback_begin", say_pool, lookup_pool, refuse_pool,
			  FSM_STATE_RECOVERING},
    OP(FAILBACK_COMPLETE) = {"failback_complete", say_pool, lookup_pool,
			     refuse_pool, FSM_STATE_FAILING_BACK},
    OP(FAILBACK_ABORT) = {"failback_abort", say_pool, lookup_pool, refuse_pool,
			  FSM_STATE_FAILING_BACK},
};

#undef OP

static int refuse_pool(const struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	const struct fsm_pool *p = &f->pools[c->pi];
	int want = pool_ops[c->a->op - FSM_OP_FAILOVER_PLANNED].want;

	if (p->state == FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_NOT_FAILED_OVER,
				"pool %s is normal, not %s: it has not failed "
				"over",
				p->name, fsm_failover_state_name(want));
	return fsm_fail(o, FSM_E_FAILED_OVER, "pool %s is %s, not %s", p->name,
			fsm_failover_state_name(p->state),
			fsm_failover_state_name(want));
}

#define N FSM_STATE_NORMAL
#define FO FSM_STATE_FAILING_OVER
#define FD FSM_STATE_FAILED_OVER
#define RC FSM_STATE_RECOVERING
#define FB FSM_STATE_FAILING_BACK

static const struct fo_transition pool_table[] = {
    {N, FSM_OP_FAILOVER_PLANNED, FO, guard_failover_begin,
     effect_failover_planned},
    {N, FSM_OP_FAILOVER_DISASTER, FD, guard_failover_begin,
     effect_failover_disaster},
    {FO, FSM_OP_FAILOVER_COMPLETE, FD, guard_failover_complete,
     effect_failover_complete},
    {FO, FSM_OP_FAILOVER_ABORT, N, NULL, keep_reason},
    {FD, FSM_OP_POOL_RECOVERING, RC, NULL, effect_recovering},
    {RC, FSM_OP_FAILBACK_BEGIN, FB, NULL, effect_failback_begin},
    {FD, FSM_OP_FAILBACK_BEGIN, FB, guard_forced, effect_failback_begin},
    {FB, FSM_OP_FAILBACK_COMPLETE, N, guard_failback_complete,
     effect_failback_complete},
    {FB, FSM_OP_FAILBACK_ABORT, RC, NULL, keep_reason},
};

#undef N
#undef FO
#undef FD
#undef RC
#undef FB

static int pool_state(const struct fsm *f, const struct fo_ctx *c)
{
	return f->pools[c->pi].state;
}

static void pool_enter(struct fsm *f, const struct fo_ctx *c, int next,
		       uint64_t now)
{
	f->pools[c->pi].state = next;
	f->pools[c->pi].failover_since_ms = now;
}

static const struct fo_machine pool_machine = {
    .first_op = FSM_OP_FAILOVER_PLANNED,
    .n_ops = sizeof(pool_ops) / sizeof(pool_ops[0]),
    .ops = pool_ops,
    .table = pool_table,
    .n_transitions = sizeof(pool_table) / sizeof(pool_table[0]),
    .state = pool_state,
    .enter = pool_enter,
};

/* ---- the one function that applies both machines ---- */

/* The machine of op, or NULL for none. */
static const struct fo_machine *fo_machine_of(int op)
{
	static const struct fo_machine *const machines[] = {
	    &pool_machine,
	    &fsm_cms_machine,
	};
	size_t i;

	for (i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		if (op >= machines[i]->first_op &&
		    op < machines[i]->first_op + machines[i]->n_ops)
			return machines[i];
	return NULL;
}

static const struct fo_transition *fo_find(const struct fo_machine *m,
					   int state, int op)
{
	size_t i;

	for (i = 0; i < m->n_transitions; i++)
		if (m->table[i].state == state && m->table[i].op == op)
			return &m->table[i];
	return NULL;
}

int fsm_failover_next(int op, int state)
{
	const struct fo_machine *m = fo_machine_of(op);
	const struct fo_transition *t =
	    m != NULL ? fo_find(m, state, op) : NULL;

	return t != NULL ? t->next : -1;
}

const char *fsm_failover_op_name(int op)
{
	const struct fo_machine *m = fo_machine_of(op);

	return m != NULL ? m->ops[op - m->first_op].name : "unknown";
}

/* Everything a decision is checked for, in its order. Returns the
 * transition to take, or NULL with o->code and o->reason set. f is not
 * changed. c->a->op is a valid op. */
static const struct fo_transition *fo_check(const struct fsm *f,
					    struct fo_ctx *c, struct outcome *o)
{
	const struct fo_machine *m = fo_machine_of(c->a->op);
	const struct fo_op *d = &m->ops[c->a->op - m->first_op];
	const struct fo_transition *t;

	d->describe(f, c, o);
	if (d->lookup != NULL && d->lookup(f, c, o))
		return NULL;
	t = fo_find(m, m->state(f, c), c->a->op);
	if (t == NULL) {
		d->refuse(f, c, o);
		return NULL;
	}
	if (t->guard != NULL && t->guard(f, c, o))
		return NULL;
	return t;
}

/* The one place a failover decision changes f: check it, run the
 * transition's effect, and record the transition: the machine enters
 * next, since the command's time. */
static int fo_apply(struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	const struct fo_transition *t = fo_check(f, c, o);

	if (t == NULL)
		return o->code;
	if (t->effect != NULL)
		t->effect(f, c, o);
	fo_machine_of(t->op)->enter(f, c, t->next, o->now);
	return FSM_OK;
}

/* ---- from the commands ---- */

/* The data at risk the command names, in o and as text. */
static void take_risk(struct fo_ctx *c, struct outcome *o, uint64_t records,
		      uint64_t bytes, uint64_t ms)
{
	o->risk_records = records;
	o->risk_bytes = bytes;
	o->risk_ms = ms;
	fsm_risk_text(c->risk, sizeof(c->risk), o);
}

/* The decision of cmd (one of the failover ops) into a and the data at
 * risk it names into o. Returns false when cmd is not a failover
 * decision. */
static bool fo_args_of(const Poolpair__Command *cmd, struct fo_args *a,
		       struct fo_ctx *c, struct outcome *o)
{
	memset(a, 0, sizeof(*a));
	switch (cmd->op_case) {
	case POOLPAIR__COMMAND__OP_FAILOVER_BEGIN: {
		const Poolpair__CmdFailoverBegin *b = cmd->failover_begin;

		a->op = b->planned ? FSM_OP_FAILOVER_PLANNED
				   : FSM_OP_FAILOVER_DISASTER;
		a->pool = fsm_str(b->pool);
		a->forced = b->forced;
		a->automatic = b->automatic;
		a->reason = b->reason;
		a->takeover_seq[0] = b->takeover_data_seq;
		a->takeover_seq[1] = b->takeover_content_seq;
		take_risk(c, o, b->data_at_risk_records, b->data_at_risk_bytes,
			  b->data_at_risk_ms);
		return true;
	}
	case POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE: {
		const Poolpair__CmdFailoverComplete *b = cmd->failover_complete;

		a->op = FSM_OP_FAILOVER_COMPLETE;
		a->pool = fsm_str(b->pool);
		a->takeover_seq[0] = b->takeover_data_seq;
		a->takeover_seq[1] = b->takeover_content_seq;
		take_risk(c, o, b->data_at_risk_records, b->data_at_risk_bytes,
			  b->data_at_risk_ms);
		return true;
	}
	case POOLPAIR__COMMAND__OP_FAILOVER_ABORT:
		a->op = FSM_OP_FAILOVER_ABORT;
		a->pool = fsm_str(cmd->failover_abort->pool);
		a->reason = cmd->failover_abort->reason;
		return true;
	case POOLPAIR__COMMAND__OP_POOL_RECOVERING:
		a->op = FSM_OP_POOL_RECOVERING;
		a->pool = fsm_str(cmd->pool_recovering->pool);
		return true;
	case POOLPAIR__COMMAND__OP_FAILBACK_BEGIN:
		a->op = FSM_OP_FAILBACK_BEGIN;
		a->pool = fsm_str(cmd->failback_begin->pool);
		a->forced = cmd->failback_begin->forced;
		return true;
	case POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE:
		a->op = FSM_OP_FAILBACK_COMPLETE;
		a->pool = fsm_str(cmd->failback_complete->pool);
		return true;
	case POOLPAIR__COMMAND__OP_FAILBACK_ABORT:
		a->op = FSM_OP_FAILBACK_ABORT;
		a->pool = fsm_str(cmd->failback_abort->pool);
		a->reason = cmd->failback_abort->reason;
		return true;
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER: {
		const Poolpair__CmdCmsFailover *b = cmd->cms_failover;

		a->op = b->planned ? FSM_OP_CMS_PLANNED : FSM_OP_CMS_DISASTER;
		a->forced = b->forced;
		a->reason = b->reason;
		if (!b->planned)
			take_risk(c, o, b->data_at_risk_records,
				  b->data_at_risk_bytes, b->data_at_risk_ms);
		return true;
	}
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE:
		a->op = FSM_OP_CMS_COMPLETE;
		a->since_ms = cmd->cms_failover_complete->since_ms;
		return true;
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT:
		a->op = FSM_OP_CMS_ABORT;
		a->since_ms = cmd->cms_failover_abort->since_ms;
		a->reason = cmd->cms_failover_abort->reason;
		return true;
	default:
		return false;
	}
}

int fsm_op_failover(struct fsm *f, const Poolpair__Command *cmd,
		    struct outcome *o)
{
	struct fo_args a;
	struct fo_ctx c = {.a = &a, .pi = -1, .qi = -1};

	if (!fo_args_of(cmd, &a, &c, o)) {
		fsm_fmt(o->what, sizeof(o->what), "malformed command");
		return fsm_fail(o, FSM_E_MALFORMED, "command has no operation");
	}
	return fo_apply(f, &c, o);
}

/* ---- what-if ---- */

/* fo_check of a alone, its answer into res (may be NULL). */
static int fo_what_if(const struct fsm *f, const struct fo_args *a,
		      struct fsm_result *res, int *pi)
{
	struct fo_ctx c = {.a = a, .pi = -1, .qi = -1};
	struct outcome o;

	memset(&o, 0, sizeof(o));
	fo_check(f, &c, &o);
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o.code;
		if (o.code != FSM_OK)
			strcpy(res->reason, o.reason);
	}
	if (pi != NULL)
		*pi = c.pi;
	return o.code;
}

int fsm_failover_check(const struct fsm *f, const char *pool, bool planned,
		       struct fsm_result *res, bool *cms_moves)
{
	struct fo_args a = {
	    .op = planned ? FSM_OP_FAILOVER_PLANNED : FSM_OP_FAILOVER_DISASTER,
	    .pool = fsm_str(pool),
	};
	int pi = -1;
	int code = fo_what_if(f, &a, res, &pi);

	if (cms_moves != NULL)
		*cms_moves = code == FSM_OK &&
			     strcmp(f->cms_active, f->pools[pi].name) == 0;
	return code;
}

int fsm_cms_failover_check(const struct fsm *f, bool planned, bool forced,
			   struct fsm_result *res)
{
	struct fo_args a = {
	    .op = planned ? FSM_OP_CMS_PLANNED : FSM_OP_CMS_DISASTER,
	    .forced = forced,
	};

	return fo_what_if(f, &a, res, NULL);
}
