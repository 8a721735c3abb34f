/* fsm: the pure, deterministic state machine that Raft drives (see fsm.h):
 * decoding and applying a command, the dispatch over its operation, the
 * code and state names, and the recorded events. The operations live in
 * fsm_topology.c, fsm_failover.c and fsm_policy.c; the history in
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
    [FSM_E_STALE] = "stale",
    [FSM_E_REFUSED] = "refused",
};

const char *fsm_code_name(int code)
{
	if (code < 0 || code >= FSM_CODE_COUNT)
		return "unknown";
	return code_names[code];
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

/* Apply one decoded command to f. On refusal f is unchanged. */
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
		return fsm_op_failover(f, cmd, o);
	case POOLPAIR__COMMAND__OP_POOL_PAUSE:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "pool pause");
			return fsm_fail(o, FSM_E_INVALID,
					"a pause or resume cannot be a "
					"topology step");
		}
		return fsm_op_pool_pause(f, cmd->pool_pause, o);
	case POOLPAIR__COMMAND__OP_POOL_WRITER:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "pool writer");
			return fsm_fail(o, FSM_E_INVALID,
					"a change of writer cannot be a "
					"topology step");
		}
		return fsm_op_pool_writer(f, cmd->pool_writer, o);
	case POOLPAIR__COMMAND__OP_POOL_SYNC:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "pool sync");
			return fsm_fail(o, FSM_E_INVALID,
					"a change of sync standby cannot be a "
					"topology step");
		}
		return fsm_op_pool_sync(f, cmd->pool_sync, o);
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
	if (o.code == FSM_OK && o.quiet) {
		if (res != NULL)
			memset(res, 0, sizeof(*res));
		goto out_free;
	}
out:
	fsm_history_record(f, sc.time_ms, sc.who, sc.who_len, &o, res);
out_free:
	if (cmd != NULL)
		poolpair__command__free_unpacked(cmd, NULL);
	return o.code;
}
