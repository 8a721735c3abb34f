/* fsm: the pure, deterministic state machine that Raft drives (see fsm.h):
 * decoding and applying a command, the dispatch over its operation, the
 * code and state names. The operations live in fsm_topology.c,
 * fsm_policy.c and the failover decisions below; the history in
 * fsm_history.c; snapshots in fsm_snapshot.c. */
#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"

#define FSM_MAX_COMMAND_BYTES (1u << 20)

static const char *const code_names[FSM_CODE_COUNT] = {
    [FSM_OK] = "ok",
    [FSM_E_MALFORMED] = "malformed",
    [FSM_E_INVALID] = "invalid",
    [FSM_E_EXISTS] = "exists",
    [FSM_E_NOT_FOUND] = "not_found",
    [FSM_E_FULL] = "full",
    [FSM_E_IN_USE] = "in_use",
    [FSM_E_PAIR_EDITION] = "pair_edition",
    [FSM_E_PAIR_KIND] = "pair_kind",
    [FSM_E_PAIR_OS] = "pair_os",
    [FSM_E_PAIR_SITE] = "pair_site",
    [FSM_E_PAIR_ALREADY] = "pair_already",
    [FSM_E_PAIR_SELF] = "pair_self",
    [FSM_E_FAILED_OVER] = "failed_over",
    [FSM_E_NOT_PAIRED] = "not_paired",
    [FSM_E_NESTED] = "nested",
    [FSM_E_PAIR_DOWN] = "pair_down",
    [FSM_E_NOT_FAILED_OVER] = "not_failed_over",
    [FSM_E_REFUSED_EVENT] = "event_failed",
    [FSM_E_CMS_MOVING] = "cms_moving",
};

const char *fsm_code_name(int code)
{
	if (code < 0 || code >= FSM_CODE_COUNT)
		return "unknown";
	return code_names[code];
}

int fsm_code_http(int code)
{
	switch (code) {
	case FSM_OK:
		return 0;
	case FSM_E_MALFORMED:
	case FSM_E_INVALID:
	case FSM_E_NESTED:
		return 400;
	case FSM_E_NOT_FOUND:
		return 404;
	case FSM_E_FULL:
		return 507;
	case FSM_E_EXISTS:
	case FSM_E_IN_USE:
	case FSM_E_PAIR_EDITION:
	case FSM_E_PAIR_KIND:
	case FSM_E_PAIR_OS:
	case FSM_E_PAIR_SITE:
	case FSM_E_PAIR_ALREADY:
	case FSM_E_PAIR_SELF:
	case FSM_E_FAILED_OVER:
	case FSM_E_NOT_PAIRED:
	case FSM_E_PAIR_DOWN:
	case FSM_E_NOT_FAILED_OVER:
	case FSM_E_REFUSED_EVENT:
	case FSM_E_CMS_MOVING:
		return 409;
	default:
		return 400;
	}
}

const char *fsm_failover_state_name(int state)
{
	switch (state) {
	case FSM_STATE_NORMAL:
		return "normal";
	case FSM_STATE_FAILING_OVER:
		return "failing_over";
	case FSM_STATE_FAILED_OVER:
		return "failed_over";
	case FSM_STATE_RECOVERING:
		return "recovering";
	case FSM_STATE_FAILING_BACK:
		return "failing_back";
	default:
		return "unknown";
	}
}

const char *fsm_repl_mode_name(int mode)
{
	switch (mode) {
	case FSM_REPL_ASYNC:
		return "async";
	case FSM_REPL_SYNC:
		return "sync";
	default:
		return "unknown";
	}
}

uint32_t fsm_pool_sync_timeout_ms(const struct fsm_pool *p)
{
	return p->sync_timeout_ms != 0 ? p->sync_timeout_ms
				       : FSM_SYNC_TIMEOUT_DEFAULT_MS;
}

void fsm_init(struct fsm *f)
{
	memset(f, 0, sizeof(*f));
	f->policy.max_lag_on_failover_ms = 1000;
	f->policy.cooldown_ms = 60000;
}


/* ---- failover decisions ---- */

/* The pool a failover decision names and its pair, as indexes into f's
 * pools. Returns 0, or FSM_E_INVALID, FSM_E_NOT_FOUND or FSM_E_NOT_PAIRED
 * with o filled in. */
static int pool_and_pair(const struct fsm *f, const char *name,
			 struct outcome *o, int *pi, int *qi)
{
	const struct fsm_pool *p;
	char cn[CLIP_LEN];

	if (fsm_check_name(o, "pool name", name))
		return o->code;
	*pi = fsm_pool_index(f, name);
	if (*pi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				fsm_clip(cn, name));
	p = &f->pools[*pi];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED,
				"pool %s is not paired: there is no pool to "
				"take its user set",
				p->name);
	*qi = fsm_pool_index(f, p->pair);
	if (*qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pair %s of pool %s is not defined", p->pair,
				p->name);
	return FSM_OK;
}

/* Refuse, for an operation that needs pool p in state want, with
 * FSM_E_NOT_FAILED_OVER when p is normal and FSM_E_FAILED_OVER otherwise;
 * 0 when p is in state want. */
static int need_state(const struct fsm_pool *p, int want, struct outcome *o)
{
	if (p->state == want)
		return 0;
	if (p->state == FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_NOT_FAILED_OVER,
				"pool %s is normal, not %s: it has not failed "
				"over",
				p->name, fsm_failover_state_name(want));
	return fsm_fail(o, FSM_E_FAILED_OVER, "pool %s is %s, not %s", p->name,
			fsm_failover_state_name(p->state),
			fsm_failover_state_name(want));
}

/* Refuse with FSM_E_FULL when the epoch of p (or the CMS epoch, if p hosts
 * the active CMS and cms says it moves) cannot be raised. */
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

/* The checks of a failover begin, shared by apply and fsm_failover_check()
 * so that the what-if answer is the decision. */
static int failover_begin_check(const struct fsm *f, const char *name,
				struct outcome *o, int *pi, int *qi)
{
	const struct fsm_pool *p, *q;

	if (pool_and_pair(f, name, o, pi, qi))
		return o->code;
	p = &f->pools[*pi];
	q = &f->pools[*qi];
	if (p->state != FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"pool %s is %s, not normal: its failover is "
				"already under way",
				p->name, fsm_failover_state_name(p->state));
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

/* The owner change of a failover: the CMS first if p hosts it, then the
 * user set. Returns whether the CMS moved. */
static bool fail_over(struct fsm *f, struct fsm_pool *p,
		      const struct fsm_pool *q, uint64_t now,
		      uint64_t takeover_data, uint64_t takeover_content)
{
	bool cms = strcmp(f->cms_active, p->name) == 0;

	p->takeover_seq[0] = takeover_data;
	p->takeover_seq[1] = takeover_content;
	if (cms) {
		fsm_name_set(f->cms_active, q->name);
		f->cms_epoch++;
		/* a planned CMS move under way ends here: it moved */
		if (f->cms_state != FSM_STATE_NORMAL) {
			f->cms_state = FSM_STATE_NORMAL;
			f->cms_since_ms = now;
		}
	}
	fsm_name_set(p->owner, q->name);
	p->epoch++;
	p->state = FSM_STATE_FAILED_OVER;
	p->failover_since_ms = now;
	return cms;
}

static int op_failover_begin(struct fsm *f, const Poolpair__CmdFailoverBegin *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN], risk[96];
	struct fsm_pool *p;
	int pi, qi;
	bool cms;

	o->risk_records = c->data_at_risk_records;
	o->risk_bytes = c->data_at_risk_bytes;
	o->risk_ms = c->data_at_risk_ms;
	fsm_risk_text(risk, sizeof(risk), o);
	fsm_clip(cn, name);
	if (c->planned)
		fsm_fmt(o->what, sizeof(o->what), "begin planned failover %s%s",
			cn, c->forced ? " (forced)" : "");
	else
		fsm_fmt(o->what, sizeof(o->what), "failover %s (disaster, %s)",
			cn, risk);
	if (failover_begin_check(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	o->forced = c->forced || !c->planned;
	fsm_reason_set(p->last_failover_reason, c->reason);
	strcpy(o->reason, p->last_failover_reason);
	if (c->planned) {
		p->state = FSM_STATE_FAILING_OVER;
		p->failover_since_ms = o->now;
		fsm_fmt(o->what, sizeof(o->what),
			"begin planned failover %s to %s (%s)%s", p->name,
			f->pools[qi].name, risk, c->forced ? " (forced)" : "");
		return FSM_OK;
	}
	cms = fail_over(f, p, &f->pools[qi], o->now, c->takeover_data_seq,
			c->takeover_content_seq);
	if (c->automatic)
		p->last_auto_failover_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "%sfailover %s to %s%s (disaster, %s)",
		c->automatic ? "automatic " : "", p->name, f->pools[qi].name,
		cms ? " with the cms" : "", risk);
	return FSM_OK;
}

static int op_failover_complete(struct fsm *f,
				const Poolpair__CmdFailoverComplete *c,
				struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN], risk[96];
	struct fsm_pool *p;
	int pi, qi;
	bool cms;

	o->risk_records = c->data_at_risk_records;
	o->risk_bytes = c->data_at_risk_bytes;
	o->risk_ms = c->data_at_risk_ms;
	fsm_risk_text(risk, sizeof(risk), o);
	fsm_fmt(o->what, sizeof(o->what), "complete failover %s (%s)",
		fsm_clip(cn, name), risk);
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_OVER, o) ||
	    epoch_room(f, p, true, o))
		return o->code;
	cms = fail_over(f, p, &f->pools[qi], o->now, c->takeover_data_seq,
			c->takeover_content_seq);
	fsm_fmt(o->what, sizeof(o->what), "complete failover %s to %s%s (%s)",
		p->name, f->pools[qi].name, cms ? " with the cms" : "", risk);
	return FSM_OK;
}

static int op_failover_abort(struct fsm *f, const Poolpair__CmdFailoverAbort *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "abort failover %s",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_OVER, o))
		return o->code;
	p->state = FSM_STATE_NORMAL;
	p->failover_since_ms = o->now;
	fsm_reason_set(p->last_failover_reason, c->reason);
	strcpy(o->reason, p->last_failover_reason);
	return FSM_OK;
}

static int op_pool_recovering(struct fsm *f,
			      const Poolpair__CmdPoolRecovering *c,
			      struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "pool %s recovering",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILED_OVER, o))
		return o->code;
	p->state = FSM_STATE_RECOVERING;
	p->failover_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "pool %s recovering (owner stays %s)",
		p->name, p->owner);
	return FSM_OK;
}

static int op_failback_begin(struct fsm *f, const Poolpair__CmdFailbackBegin *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "begin failback %s%s",
		fsm_clip(cn, name), c->forced ? " (forced)" : "");
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (p->state == FSM_STATE_FAILED_OVER && !c->forced)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"pool %s is failed_over, not recovering: it "
				"must report recovering first, or the failback "
				"be forced",
				p->name);
	if (p->state != FSM_STATE_FAILED_OVER &&
	    need_state(p, FSM_STATE_RECOVERING, o))
		return o->code;
	o->forced = c->forced;
	p->state = FSM_STATE_FAILING_BACK;
	p->failover_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "begin failback %s from %s%s",
		p->name, p->owner, c->forced ? " (forced)" : "");
	return FSM_OK;
}

static int op_failback_complete(struct fsm *f,
				const Poolpair__CmdFailbackComplete *c,
				struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN], from[FSM_NAME_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "complete failback %s",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_BACK, o) ||
	    epoch_room(f, p, false, o))
		return o->code;
	strcpy(from, p->owner);
	fsm_name_set(p->owner, p->name);
	p->epoch++;
	p->state = FSM_STATE_NORMAL;
	p->failover_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "complete failback %s from %s",
		p->name, from);
	return FSM_OK;
}

static int op_failback_abort(struct fsm *f, const Poolpair__CmdFailbackAbort *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "abort failback %s",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_BACK, o))
		return o->code;
	p->state = FSM_STATE_RECOVERING;
	p->failover_since_ms = o->now;
	fsm_reason_set(p->last_failover_reason, c->reason);
	strcpy(o->reason, p->last_failover_reason);
	return FSM_OK;
}

static int op_record_event(struct fsm *f, const Poolpair__CmdRecordEvent *c,
			   struct outcome *o)
{
	(void)f;
	if (fsm_str(c->detail)[0] != '\0' && c->ok)
		fsm_fmt(o->what, sizeof(o->what), "%s: %s", fsm_str(c->what),
			fsm_str(c->detail));
	else
		fsm_fmt(o->what, sizeof(o->what), "%s", fsm_str(c->what));
	if (fsm_str(c->what)[0] == '\0')
		return fsm_fail(o, FSM_E_INVALID, "an event needs a what");
	if (!c->ok)
		return fsm_fail(o, FSM_E_REFUSED_EVENT, "%s",
				fsm_str(c->detail)[0] ? fsm_str(c->detail)
						      : "failed");
	o->forced = c->forced;
	o->keep = c->keep;
	return FSM_OK;
}

/* Dispatch one failover decision (cmd->op_case is one of them). */
static int apply_failover_op(struct fsm *f, const Poolpair__Command *cmd,
			     struct outcome *o)
{
	switch (cmd->op_case) {
	case POOLPAIR__COMMAND__OP_FAILOVER_BEGIN:
		return op_failover_begin(f, cmd->failover_begin, o);
	case POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE:
		return op_failover_complete(f, cmd->failover_complete, o);
	case POOLPAIR__COMMAND__OP_FAILOVER_ABORT:
		return op_failover_abort(f, cmd->failover_abort, o);
	case POOLPAIR__COMMAND__OP_POOL_RECOVERING:
		return op_pool_recovering(f, cmd->pool_recovering, o);
	case POOLPAIR__COMMAND__OP_FAILBACK_BEGIN:
		return op_failback_begin(f, cmd->failback_begin, o);
	case POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE:
		return op_failback_complete(f, cmd->failback_complete, o);
	case POOLPAIR__COMMAND__OP_FAILBACK_ABORT:
		return op_failback_abort(f, cmd->failback_abort, o);
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER:
		return fsm_op_cms_failover(f, cmd->cms_failover, o);
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE:
		return fsm_op_cms_failover_complete(f, cmd->cms_failover_complete,
						    o);
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT:
		return fsm_op_cms_failover_abort(f, cmd->cms_failover_abort, o);
	default:
		fsm_fmt(o->what, sizeof(o->what), "malformed command");
		return fsm_fail(o, FSM_E_MALFORMED, "command has no operation");
	}
}

int fsm_failover_check(const struct fsm *f, const char *pool, bool planned,
		       struct fsm_result *res, bool *cms_moves)
{
	struct outcome o;
	int pi = -1, qi = -1;

	(void)planned; /* both kinds need the same state */
	memset(&o, 0, sizeof(o));
	failover_begin_check(f, fsm_str(pool), &o, &pi, &qi);
	if (cms_moves != NULL)
		*cms_moves = o.code == FSM_OK &&
			     strcmp(f->cms_active, f->pools[pi].name) == 0;
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o.code;
		if (o.code != FSM_OK)
			strcpy(res->reason, o.reason);
	}
	return o.code;
}

int fsm_apply_op(struct fsm *f, const Poolpair__Command *cmd, bool is_step,
		 struct outcome *o)
{
	o->code = FSM_OK;
	switch (cmd->op_case) {
	case POOLPAIR__COMMAND__OP_REGISTER_MEMBER:
		return fsm_op_register_member(f, cmd->register_member, o);
	case POOLPAIR__COMMAND__OP_REMOVE_MEMBER:
		return fsm_op_remove_member(f, cmd->remove_member, o);
	case POOLPAIR__COMMAND__OP_ADD_SITE:
		return fsm_op_add_site(f, cmd->add_site, o);
	case POOLPAIR__COMMAND__OP_REMOVE_SITE:
		return fsm_op_remove_site(f, cmd->remove_site, o);
	case POOLPAIR__COMMAND__OP_ADD_POOL:
		return fsm_op_add_pool(f, cmd->add_pool, o);
	case POOLPAIR__COMMAND__OP_REMOVE_POOL:
		return fsm_op_remove_pool(f, cmd->remove_pool, o);
	case POOLPAIR__COMMAND__OP_PAIR:
		return fsm_op_pair(f, cmd->pair, o);
	case POOLPAIR__COMMAND__OP_UNPAIR:
		return fsm_op_unpair(f, cmd->unpair, o);
	case POOLPAIR__COMMAND__OP_PAIR_MODE:
		return fsm_op_pair_mode(f, cmd->pair_mode, o);
	case POOLPAIR__COMMAND__OP_ADD_SBA:
		return fsm_op_add_sba(f, cmd->add_sba, o);
	case POOLPAIR__COMMAND__OP_REMOVE_SBA:
		return fsm_op_remove_sba(f, cmd->remove_sba, o);
	case POOLPAIR__COMMAND__OP_SET_POLICY:
		return fsm_op_set_policy(f, cmd->set_policy, o);
	case POOLPAIR__COMMAND__OP_CMS_PLACE:
		return fsm_op_cms_place(f, cmd->cms_place, o);
	case POOLPAIR__COMMAND__OP_FAILOVER_BEGIN:
	case POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE:
	case POOLPAIR__COMMAND__OP_FAILOVER_ABORT:
	case POOLPAIR__COMMAND__OP_POOL_RECOVERING:
	case POOLPAIR__COMMAND__OP_FAILBACK_BEGIN:
	case POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE:
	case POOLPAIR__COMMAND__OP_FAILBACK_ABORT:
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER:
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE:
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "failover decision");
			return fsm_fail(o, FSM_E_INVALID,
					"a failover decision cannot be a "
					"topology step");
		}
		return apply_failover_op(f, cmd, o);
	case POOLPAIR__COMMAND__OP_POOL_PAUSE:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "pool pause");
			return fsm_fail(o, FSM_E_INVALID,
					"a pause or resume cannot be a "
					"topology step");
		}
		return fsm_op_pool_pause(f, cmd->pool_pause, o);
	case POOLPAIR__COMMAND__OP_RECORD_EVENT:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "event");
			return fsm_fail(o, FSM_E_INVALID,
					"an event cannot be a topology step");
		}
		return op_record_event(f, cmd->record_event, o);
	case POOLPAIR__COMMAND__OP_TOPOLOGY:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "topology");
			return fsm_fail(o, FSM_E_NESTED,
					"a topology step cannot itself be a "
					"topology");
		}
		return fsm_op_topology(f, cmd->topology, o);
	default:
		fsm_fmt(o->what, sizeof(o->what), "malformed command");
		return fsm_fail(o, FSM_E_MALFORMED, "command has no operation");
	}
}

/* ---- apply ---- */

int fsm_apply(struct fsm *f, const void *buf, size_t len,
	      struct fsm_result *res)
{
	static const uint8_t empty[1];
	Poolpair__Command *cmd = NULL;
	struct outcome o;
	struct scan sc;
	enum scan_result r;

	memset(&o, 0, sizeof(o));
	memset(&sc, 0, sizeof(sc));
	sc.who = "";
	fsm_fmt(o.what, sizeof(o.what), "malformed command");
	if (buf == NULL && len > 0) {
		fsm_fail(&o, FSM_E_MALFORMED, "command has no bytes");
		goto out;
	}
	if (len > FSM_MAX_COMMAND_BYTES) {
		fsm_fail(&o, FSM_E_MALFORMED,
			 "command is %zu bytes, at most %u", len,
			 FSM_MAX_COMMAND_BYTES);
		goto out;
	}
	if (buf == NULL)
		buf = empty;
	r = fsm_scan_command(buf, len, 0, &sc);
	if (r == SCAN_BROKEN) {
		sc.time_ms = 0;
		sc.who = "";
		sc.who_len = 0;
		fsm_fail(&o, FSM_E_MALFORMED,
			 "command is not a decodable poolpair.Command");
		goto out;
	}
	if (r == SCAN_DEEP) {
		fsm_fmt(o.what, sizeof(o.what), "topology");
		fsm_fail(&o, FSM_E_NESTED,
			 "a topology step cannot itself be a topology (nested "
			 "%d or more levels deep)",
			 FSM_MAX_COMMAND_DEPTH);
		goto out;
	}
	cmd = poolpair__command__unpack(NULL, len, buf);
	if (cmd == NULL) {
		sc.time_ms = 0;
		sc.who = "";
		sc.who_len = 0;
		fsm_fail(&o, FSM_E_MALFORMED,
			 "command is not a decodable poolpair.Command");
		goto out;
	}
	sc.time_ms = cmd->time_ms;
	sc.who = fsm_str(cmd->who);
	sc.who_len = strlen(sc.who);
	o.now = cmd->time_ms;
	fsm_apply_op(f, cmd, false, &o);
out:
	fsm_history_record(f, sc.time_ms, sc.who, sc.who_len, &o, res);
	if (cmd != NULL)
		poolpair__command__free_unpacked(cmd, NULL);
	return o.code;
}
