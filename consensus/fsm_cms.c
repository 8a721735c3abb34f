/* fsm_cms: the CMS's failover state machine (see fsm.h, fsm_internal.h):
 * a planned move of the active CMS to its standby (drain first: begin,
 * then complete or abort) and a disaster move (at once, forced, with the
 * data at risk), as the ops, guards and effects of its table. The state is
 * fsm.cms_state: normal, or failing_over while a planned move drains. The
 * CMS also moves with a failover of its pool (fsm_failover.c). */
#include <inttypes.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"

/* ---- look-up and refusals ---- */

/* cms_failover: the pool of the active CMS and its pair. FSM_E_NOT_FOUND
 * or FSM_E_NOT_PAIRED. */
static int lookup_cms(const struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	const struct fsm_pool *p;

	if (f->cms_active[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"no CMS is placed: there is nothing to move");
	c->pi = fsm_pool_index(f, f->cms_active);
	if (c->pi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pool %s of the active CMS is not defined",
				f->cms_active);
	p = &f->pools[c->pi];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED,
				"pool %s hosts the active CMS but is not "
				"paired: there is no standby",
				p->name);
	c->qi = fsm_pool_index(f, p->pair);
	if (c->qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pair %s of pool %s is not defined", p->pair,
				p->name);
	return FSM_OK;
}

/* A cms_failover while a planned move is under way. */
static int refuse_cms_moving(const struct fsm *f, struct fo_ctx *c,
			     struct outcome *o)
{
	return fsm_fail(o, FSM_E_CMS_MOVING,
			"a planned move of the CMS from %s to %s is under way",
			f->pools[c->pi].name, f->pools[c->qi].name);
}

/* A CMS complete or abort while no planned move is under way. */
static int refuse_cms_still(const struct fsm *f, struct fo_ctx *c,
			    struct outcome *o)
{
	(void)f;
	(void)c;
	return fsm_fail(o, FSM_E_CMS_MOVING,
			"no planned move of the CMS is under way");
}

/* ---- guards ---- */

/* cms_failover: the pool hosting the CMS is not failing over (its
 * failover moves the CMS), the pair can take it, the epoch can grow. */
static int guard_cms_move(const struct fsm *f, struct fo_ctx *c,
			  struct outcome *o)
{
	const struct fsm_pool *p = &f->pools[c->pi], *q = &f->pools[c->qi];
	bool planned = c->a->op == FSM_OP_CMS_PLANNED;

	if (p->state == FSM_STATE_FAILING_OVER)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"pool %s, which hosts the active CMS, is "
				"failing over: its failover moves the CMS "
				"with it",
				p->name);
	if ((q->state == FSM_STATE_FAILING_OVER ||
	     q->state == FSM_STATE_FAILED_OVER) &&
	    !(c->a->forced && !planned))
		return fsm_fail(
		    o, FSM_E_PAIR_DOWN,
		    "the pair of %s is %s (%s is %s): the CMS moves to it "
		    "only in a forced disaster move",
		    p->name, fsm_state_words(q->state), q->name,
		    fsm_failover_state_name(q->state));
	if (f->cms_epoch == UINT64_MAX)
		return fsm_fail(o, FSM_E_FULL,
				"the cms epoch cannot be raised any more");
	return FSM_OK;
}

/* CMS complete, abort: the planned move named by since_ms is the one
 * under way. */
static int guard_cms_same_move(const struct fsm *f, struct fo_ctx *c,
			       struct outcome *o)
{
	if (f->cms_since_ms != c->a->since_ms)
		return fsm_fail(o, FSM_E_CMS_MOVING,
				"the planned move of the CMS under way began "
				"at %" PRIu64 ", not at %" PRIu64,
				f->cms_since_ms, c->a->since_ms);
	return FSM_OK;
}

/* CMS complete: the same move, the pools still defined, the pair not down,
 * the epoch can grow. */
static int guard_cms_complete(const struct fsm *f, struct fo_ctx *c,
			      struct outcome *o)
{
	const struct fsm_pool *p, *q;

	if (guard_cms_same_move(f, c, o))
		return o->code;
	/* a planned move is only under way on a paired, placed CMS */
	c->pi = fsm_pool_index(f, f->cms_active);
	c->qi = c->pi >= 0 ? fsm_pool_index(f, f->pools[c->pi].pair) : -1;
	if (c->pi < 0 || c->qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"the pool of the CMS or its pair is not "
				"defined");
	p = &f->pools[c->pi];
	q = &f->pools[c->qi];
	if (q->state == FSM_STATE_FAILING_OVER ||
	    q->state == FSM_STATE_FAILED_OVER)
		return fsm_fail(o, FSM_E_PAIR_DOWN,
				"the pair of %s is %s (%s is %s): the CMS "
				"cannot move to it",
				p->name, fsm_state_words(q->state), q->name,
				fsm_failover_state_name(q->state));
	if (f->cms_epoch == UINT64_MAX)
		return fsm_fail(o, FSM_E_FULL,
				"the cms epoch cannot be raised any more");
	return FSM_OK;
}

/* ---- effects ---- */

/* The CMS to the pair: active = q, cms epoch + 1. */
static void cms_move(struct fsm *f, const struct fsm_pool *q)
{
	fsm_name_set(f->cms_active, q->name);
	f->cms_epoch++;
	f->cms_floor_epoch = f->cms_epoch;
}

static void effect_cms_planned(struct fsm *f, struct fo_ctx *c,
			       struct outcome *o)
{
	fsm_reason_set(o->reason, c->a->reason);
	o->forced = c->a->forced;
	fsm_fmt(o->what, sizeof(o->what),
		"begin planned cms failover %s to %s%s", f->cms_active,
		f->pools[c->qi].name, c->a->forced ? " (forced)" : "");
}

static void effect_cms_disaster(struct fsm *f, struct fo_ctx *c,
				struct outcome *o)
{
	char from[FSM_NAME_LEN];

	strcpy(from, f->cms_active);
	fsm_reason_set(o->reason, c->a->reason);
	o->forced = true;
	cms_move(f, &f->pools[c->qi]);
	fsm_fmt(o->what, sizeof(o->what),
		"cms failover %s to %s (disaster, %s)", from,
		f->pools[c->qi].name, c->risk);
}

static void effect_cms_complete(struct fsm *f, struct fo_ctx *c,
				struct outcome *o)
{
	char from[FSM_NAME_LEN];

	strcpy(from, f->pools[c->pi].name);
	cms_move(f, &f->pools[c->qi]);
	fsm_fmt(o->what, sizeof(o->what),
		"cms failover %s to %s (planned, drained: nothing at risk)",
		from, f->pools[c->qi].name);
}

static void effect_cms_abort(struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	fsm_fmt(o->what, sizeof(o->what), "abort cms failover of %s",
		f->cms_active);
	fsm_reason_set(o->reason, c->a->reason);
}

/* ---- the machine ---- */

static void say_cms(const struct fsm *f, struct fo_ctx *c, struct outcome *o)
{
	(void)f;
	switch (c->a->op) {
	case FSM_OP_CMS_PLANNED:
		o->forced = false;
		fsm_fmt(o->what, sizeof(o->what),
			"begin planned cms failover%s",
			c->a->forced ? " (forced)" : "");
		break;
	case FSM_OP_CMS_DISASTER:
		fsm_fmt(o->what, sizeof(o->what), "cms failover (disaster, %s)",
			c->risk);
		break;
	case FSM_OP_CMS_COMPLETE:
		fsm_fmt(o->what, sizeof(o->what), "complete cms failover");
		break;
	default:
		fsm_fmt(o->what, sizeof(o->what), "abort cms failover");
		break;
	}
}

/* cms_ops[] is indexed from the machine's first op */
#define OP(name) [FSM_OP_##name - FSM_OP_CMS_PLANNED]

static const struct fo_op cms_ops[] = {
    OP(CMS_PLANNED) = {"cms_planned", say_cms, lookup_cms, refuse_cms_moving,
		       0},
    OP(CMS_DISASTER) = {"cms_disaster", say_cms, lookup_cms, refuse_cms_moving,
			0},
    OP(CMS_COMPLETE) = {"cms_complete", say_cms, NULL, refuse_cms_still, 0},
    OP(CMS_ABORT) = {"cms_abort", say_cms, NULL, refuse_cms_still, 0},
};

#undef OP

#define N FSM_STATE_NORMAL
#define FO FSM_STATE_FAILING_OVER

static const struct fo_transition cms_table[] = {
    {N, FSM_OP_CMS_PLANNED, FO, guard_cms_move, effect_cms_planned},
    {N, FSM_OP_CMS_DISASTER, N, guard_cms_move, effect_cms_disaster},
    {FO, FSM_OP_CMS_COMPLETE, N, guard_cms_complete, effect_cms_complete},
    {FO, FSM_OP_CMS_ABORT, N, guard_cms_same_move, effect_cms_abort},
};

#undef N
#undef FO

static int cms_state(const struct fsm *f, const struct fo_ctx *c)
{
	(void)c;
	return f->cms_state;
}

static void cms_enter(struct fsm *f, const struct fo_ctx *c, int next,
		      uint64_t now)
{
	(void)c;
	f->cms_state = next;
	f->cms_since_ms = now;
}

const struct fo_machine fsm_cms_machine = {
    .first_op = FSM_OP_CMS_PLANNED,
    .n_ops = sizeof(cms_ops) / sizeof(cms_ops[0]),
    .ops = cms_ops,
    .table = cms_table,
    .n_transitions = sizeof(cms_table) / sizeof(cms_table[0]),
    .state = cms_state,
    .enter = cms_enter,
};
