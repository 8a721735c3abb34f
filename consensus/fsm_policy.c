/* fsm_policy: the failover policy (chosen or default) and the maintenance
 * pause of automatic failover, as FSM operations (see fsm.h). */
#include <inttypes.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

/* A witness: a member without a pool in a site that hosts no pool (a
 * poolless member in a pool's site adds no third site). */
static bool is_witness(const struct fsm *f, const struct fsm_member *m)
{
	if (m->pool[0] != '\0')
		return false;
	for (unsigned i = 0; i < f->n_pools; i++)
		if (strcmp(f->pools[i].site, m->site) == 0)
			return false;
	return true;
}

const char *fsm_failover_policy(const struct fsm *f)
{
	if (f->policy.failover[0] != '\0')
		return f->policy.failover;
	for (unsigned i = 0; i < f->n_members; i++)
		if (is_witness(f, &f->members[i]))
			return "auto";
	return "manual";
}

int fsm_op_set_policy(struct fsm *f, const Poolpair__CmdSetPolicy *c,
		      struct outcome *o)
{
	const Poolpair__Policy *p = c->policy;
	struct fsm_policy next = f->policy;
	char cf[CLIP_LEN];

	if (p == NULL) {
		fsm_fmt(o->what, sizeof(o->what), "set policy");
		return fsm_fail(o, FSM_E_INVALID, "set_policy has no policy");
	}
	if (c->if_never_set && f->policy.set) {
		fsm_fmt(o->what, sizeof(o->what), "set policy");
		return fsm_fail(o, FSM_E_EXISTS,
				"a policy was set already: this one was only "
				"for a cluster whose policy was never set");
	}
	if (!c->merge || c->has_failover) {
		const char *failover = fsm_str(p->failover);

		fsm_clip(cf, failover);
		if (failover[0] != '\0' && !fsm_failover_ok(failover)) {
			fsm_fmt(o->what, sizeof(o->what), "set policy");
			return fsm_fail(o, FSM_E_INVALID,
					"policy failover \"%s\" is not auto, "
					"manual or \"\" (the default)",
					cf);
		}
		memset(next.failover, 0, sizeof(next.failover));
		strcpy(next.failover, failover);
	}
	if (!c->merge || c->has_max_lag)
		next.max_lag_on_failover_ms = p->max_lag_on_failover_ms;
	if (!c->merge || c->has_cooldown)
		next.cooldown_ms = p->cooldown_ms;
	next.set = true;
	fsm_fmt(o->what, sizeof(o->what),
		"set policy failover %s, max lag %" PRIu32
		" ms, cooldown %" PRIu32 " ms",
		next.failover[0] != '\0' ? next.failover : "default",
		next.max_lag_on_failover_ms, next.cooldown_ms);
	f->policy = next;
	return FSM_OK;
}

int fsm_op_pool_pause(struct fsm *f, const Poolpair__CmdPoolPause *c,
		      struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	const char *reason = fsm_str(c->reason);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int i;

	fsm_fmt(o->what, sizeof(o->what), "%s pool %s",
		c->paused ? "pause" : "resume", fsm_clip(cn, name));
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	p = &f->pools[i];
	if (!c->paused) {
		if (!p->paused) {
			fsm_fmt(o->what, sizeof(o->what),
				"resume pool %s (it was not paused)", p->name);
			return FSM_OK;
		}
		p->paused = false;
		p->paused_since_ms = 0;
		memset(p->pause_reason, 0, sizeof(p->pause_reason));
		fsm_text_copy(o->reason, sizeof(o->reason), reason,
			      strlen(reason));
		fsm_fmt(o->what, sizeof(o->what),
			"resume pool %s: automatic failover again", p->name);
		return FSM_OK;
	}
	if (!p->paused)
		p->paused_since_ms = o->now;
	p->paused = true;
	memset(p->pause_reason, 0, sizeof(p->pause_reason));
	fsm_text_copy(p->pause_reason, sizeof(p->pause_reason), reason,
		      strlen(reason));
	strcpy(o->reason, p->pause_reason);
	fsm_fmt(o->what, sizeof(o->what),
		"pause pool %s: no automatic failover until resumed", p->name);
	return FSM_OK;
}
