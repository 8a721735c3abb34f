/* fsm_cms: decisions that move the active CMS to its standby (see fsm.h):
 * a planned move (drain first: begin, then complete or abort) and a
 * disaster move (at once, forced, with the data at risk). */
#include <inttypes.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"

/* The checks of a cms_failover, shared by apply and
 * fsm_cms_failover_check() so that the what-if answer is the decision.
 * *pi and *qi receive the pools of the active CMS and of its pair. */
static int cms_check(const struct fsm *f, bool planned, bool forced,
		     struct outcome *o, int *pi, int *qi)
{
	const struct fsm_pool *p, *q;

	if (f->cms_active[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"no CMS is placed: there is nothing to move");
	*pi = fsm_pool_index(f, f->cms_active);
	if (*pi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pool %s of the active CMS is not defined",
				f->cms_active);
	p = &f->pools[*pi];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED,
				"pool %s hosts the active CMS but is not "
				"paired: there is no standby",
				p->name);
	*qi = fsm_pool_index(f, p->pair);
	if (*qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pair %s of pool %s is not defined", p->pair,
				p->name);
	q = &f->pools[*qi];
	if (f->cms_state != FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_CMS_MOVING,
				"a planned move of the CMS from %s to %s is "
				"under way",
				p->name, q->name);
	if (p->state == FSM_STATE_FAILING_OVER)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"pool %s, which hosts the active CMS, is "
				"failing over: its failover moves the CMS "
				"with it",
				p->name);
	if ((q->state == FSM_STATE_FAILING_OVER ||
	     q->state == FSM_STATE_FAILED_OVER) &&
	    !(forced && !planned))
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

int fsm_cms_failover_check(const struct fsm *f, bool planned, bool forced,
			   struct fsm_result *res)
{
	struct outcome o;
	int pi = -1, qi = -1;

	memset(&o, 0, sizeof(o));
	cms_check(f, planned, forced, &o, &pi, &qi);
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o.code;
		if (o.code != FSM_OK)
			strcpy(res->reason, o.reason);
	}
	return o.code;
}

/* The move itself: active = q, cms epoch + 1, state normal. */
static void cms_move(struct fsm *f, const struct fsm_pool *q, uint64_t now)
{
	fsm_name_set(f->cms_active, q->name);
	f->cms_epoch++;
	f->cms_state = FSM_STATE_NORMAL;
	f->cms_since_ms = now;
}

int fsm_op_cms_failover(struct fsm *f, const Poolpair__CmdCmsFailover *c,
			struct outcome *o)
{
	char from[FSM_NAME_LEN], risk[96];
	const struct fsm_pool *q;
	int pi, qi;

	if (c->planned) {
		o->forced = false;
		fsm_fmt(o->what, sizeof(o->what), "begin planned cms failover%s",
			c->forced ? " (forced)" : "");
	} else {
		o->risk_records = c->data_at_risk_records;
		o->risk_bytes = c->data_at_risk_bytes;
		o->risk_ms = c->data_at_risk_ms;
		fsm_risk_text(risk, sizeof(risk), o);
		fsm_fmt(o->what, sizeof(o->what), "cms failover (disaster, %s)",
			risk);
	}
	if (cms_check(f, c->planned, c->forced, o, &pi, &qi))
		return o->code;
	q = &f->pools[qi];
	strcpy(from, f->cms_active);
	fsm_reason_set(o->reason, c->reason);
	if (c->planned) {
		o->forced = c->forced;
		f->cms_state = FSM_STATE_FAILING_OVER;
		f->cms_since_ms = o->now;
		fsm_fmt(o->what, sizeof(o->what),
			"begin planned cms failover %s to %s%s", from, q->name,
			c->forced ? " (forced)" : "");
		return FSM_OK;
	}
	o->forced = true;
	cms_move(f, q, o->now);
	fsm_fmt(o->what, sizeof(o->what), "cms failover %s to %s (disaster, %s)",
		from, q->name, risk);
	return FSM_OK;
}

/* The planned move named by since_ms is the one under way: 0, or
 * FSM_E_CMS_MOVING. */
static int cms_same_move(const struct fsm *f, uint64_t since_ms,
			 struct outcome *o)
{
	if (f->cms_state == FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_CMS_MOVING,
				"no planned move of the CMS is under way");
	if (f->cms_since_ms != since_ms)
		return fsm_fail(o, FSM_E_CMS_MOVING,
				"the planned move of the CMS under way began "
				"at %" PRIu64 ", not at %" PRIu64,
				f->cms_since_ms, since_ms);
	return FSM_OK;
}

int fsm_op_cms_failover_complete(struct fsm *f,
				 const Poolpair__CmdCmsFailoverComplete *c,
				 struct outcome *o)
{
	char from[FSM_NAME_LEN];
	const struct fsm_pool *p, *q;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "complete cms failover");
	if (cms_same_move(f, c->since_ms, o))
		return o->code;
	/* a planned move is only under way on a paired, placed CMS */
	pi = fsm_pool_index(f, f->cms_active);
	qi = pi >= 0 ? fsm_pool_index(f, f->pools[pi].pair) : -1;
	if (pi < 0 || qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"the pool of the CMS or its pair is not "
				"defined");
	p = &f->pools[pi];
	q = &f->pools[qi];
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
	strcpy(from, p->name);
	cms_move(f, q, o->now);
	fsm_fmt(o->what, sizeof(o->what),
		"cms failover %s to %s (planned, drained: nothing at risk)",
		from, q->name);
	return FSM_OK;
}

int fsm_op_cms_failover_abort(struct fsm *f,
			      const Poolpair__CmdCmsFailoverAbort *c,
			      struct outcome *o)
{
	fsm_fmt(o->what, sizeof(o->what), "abort cms failover");
	if (cms_same_move(f, c->since_ms, o))
		return o->code;
	f->cms_state = FSM_STATE_NORMAL;
	f->cms_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "abort cms failover of %s",
		f->cms_active);
	fsm_reason_set(o->reason, c->reason);
	return FSM_OK;
}
