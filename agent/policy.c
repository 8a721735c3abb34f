/* policy: the [failover] policy keys of the config file against the
 * cluster's committed policy (see policy.h). */
#include "agent/policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "consensus/cmd.h"

#define MOD "policy"
#define MS 1000000ULL

static bool view_current(const struct policy_watch *pw)
{
	return pw->d.view->current(pw->d.view_impl);
}

static uint64_t leader_since(const struct policy_watch *pw)
{
	return pw->d.view->leader_since_ns(pw->d.view_impl);
}

static void proposed(void *arg, int status, const struct fsm_result *res)
{
	struct policy_watch *pw = arg;
	char err[128];

	pw->proposing = false;
	if (status != 0) {
		LOG_WARN(MOD, "proposing the [failover] keys of %s: %s",
			 pw->d.cfg->path,
			 proposer_strerror(pw->d.proposer, status, err,
					   sizeof err));
		pw->proposed_for = 0; /* ask again */
	} else if (res->code != FSM_OK) {
		LOG_INFO(MOD, "the [failover] keys of %s were not proposed: %s",
			 pw->d.cfg->path, res->reason);
	} else {
		LOG_INFO(MOD,
			 "the [failover] keys of %s are the cluster's policy "
			 "(decision %" PRIu64 ")",
			 pw->d.cfg->path, res->seq);
	}
}

/* Leader, view current, policy never set: propose the keys the file sets,
 * merged, only for a policy still never set when it applies. */
static void propose(struct policy_watch *pw)
{
	const struct config *cfg = pw->d.cfg;
	char who[FSM_WHO_LEN], err[128];
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(pw->d.clock),
			      .who = who};
	struct cmd_policy pol = {
	    .failover = config_policy_name(cfg->policy),
	    .max_lag_on_failover_ms = cfg->max_lag_ms,
	    .cooldown_ms = cfg->cooldown_ms,
	    .merge = true,
	    .has_failover = (cfg->failover_keys & CONFIG_HAS_POLICY) != 0,
	    .has_max_lag = (cfg->failover_keys & CONFIG_HAS_MAX_LAG) != 0,
	    .has_cooldown = (cfg->failover_keys & CONFIG_HAS_COOLDOWN) != 0,
	    .if_never_set = true,
	};
	struct cmd_buf cmd;
	int rv;

	snprintf(who, sizeof who, "agent:%s (config)", cfg->agent_name);
	if (cmd_set_policy(&ctx, &pol, &cmd) != 0)
		return;
	pw->proposed_for = leader_since(pw);
	rv = proposer_submit(pw->d.proposer, &cmd, proposed, pw);
	if (rv != 0) {
		LOG_WARN(MOD, "proposing the [failover] keys of %s: %s",
			 cfg->path,
			 proposer_strerror(pw->d.proposer, rv, err, sizeof err));
		return;
	}
	pw->proposing = true;
	LOG_INFO(MOD,
		 "no failover policy was ever set: proposing the [failover] "
		 "keys of %s",
		 cfg->path);
}

/* One warning per key of the file that the committed policy contradicts. */
static void compare(struct policy_watch *pw, const char *effective)
{
	const struct config *cfg = pw->d.cfg;
	const struct fsm_policy *p = &pw->d.fsm->policy;
	const char *how = "set it with PUT /v1/policy or change the file";

	if ((cfg->failover_keys & CONFIG_HAS_POLICY) &&
	    strcmp(config_policy_name(cfg->policy), effective) != 0) {
		pw->warnings++;
		LOG_WARN(MOD,
			 "%s: [failover] policy = %s disagrees with the "
			 "cluster's committed policy: failover %s%s is in "
			 "effect (%s)",
			 cfg->path, config_policy_name(cfg->policy), effective,
			 p->failover[0] == '\0' ? " (the default)" : "", how);
	}
	if ((cfg->failover_keys & CONFIG_HAS_MAX_LAG) &&
	    cfg->max_lag_ms != p->max_lag_on_failover_ms) {
		pw->warnings++;
		LOG_WARN(MOD,
			 "%s: [failover] max_lag_on_failover = %" PRIu32
			 "ms disagrees with the cluster's committed policy: "
			 "%" PRIu32 "ms is in effect (%s)",
			 cfg->path, cfg->max_lag_ms, p->max_lag_on_failover_ms,
			 how);
	}
	if ((cfg->failover_keys & CONFIG_HAS_COOLDOWN) &&
	    cfg->cooldown_ms != p->cooldown_ms) {
		pw->warnings++;
		LOG_WARN(MOD,
			 "%s: [failover] cooldown = %" PRIu32
			 "ms disagrees with the cluster's committed policy: "
			 "%" PRIu32 "ms is in effect (%s)",
			 cfg->path, cfg->cooldown_ms, p->cooldown_ms, how);
	}
}

static bool same_policy(const struct fsm_policy *a, const struct fsm_policy *b)
{
	return strcmp(a->failover, b->failover) == 0 &&
	       a->max_lag_on_failover_ms == b->max_lag_on_failover_ms &&
	       a->cooldown_ms == b->cooldown_ms && a->set == b->set;
}

void policy_tick(struct policy_watch *pw)
{
	const struct config *cfg = pw->d.cfg;
	const struct fsm *f = pw->d.fsm;
	const struct fsm_policy *p = &f->policy;
	const char *effective;
	uint64_t now = clock_mono_ns(pw->d.clock);

	if (cfg->failover_keys == 0)
		return;
	if (!view_current(pw)) {
		pw->current_since = 0;
		return;
	}
	if (pw->current_since == 0)
		pw->current_since = now;
	if (!p->set) {
		uint64_t wait = 2 * ((uint64_t)cfg->lease_ms + cfg->grace_ms);

		if (proposer_is_leader(pw->d.proposer) &&
		    leader_since(pw) != 0 && !pw->proposing &&
		    pw->proposed_for != leader_since(pw))
			propose(pw);
		if (!pw->unset_warned && !proposer_is_leader(pw->d.proposer) &&
		    now - pw->current_since > wait * MS) {
			pw->unset_warned = true;
			pw->warnings++;
			LOG_WARN(MOD,
				 "%s: the cluster never committed a failover "
				 "policy (the leader's file sets no [failover] "
				 "policy keys): the keys of this file are not "
				 "in effect, the defaults are (failover %s, "
				 "max lag %" PRIu32 "ms, cooldown %" PRIu32
				 "ms); set it with PUT /v1/policy",
				 cfg->path, fsm_failover_policy(f),
				 p->max_lag_on_failover_ms, p->cooldown_ms);
		}
		return;
	}
	effective = fsm_failover_policy(f);
	if (pw->compared && same_policy(&pw->seen, p) &&
	    strcmp(pw->seen_effective, effective) == 0)
		return;
	pw->compared = true;
	pw->seen = *p;
	snprintf(pw->seen_effective, sizeof pw->seen_effective, "%s",
		 effective);
	compare(pw, effective);
}

static void on_tick(uv_timer_t *t)
{
	struct policy_watch *pw = t->data;

	if (!pw->closing)
		policy_tick(pw);
}

int policy_init(struct policy_watch *pw, const struct policy_deps *deps)
{
	int rv;

	memset(pw, 0, sizeof *pw);
	rv = uv_timer_init(deps->loop, &pw->tick);
	if (rv != 0)
		return rv;
	pw->d = *deps;
	pw->tick.data = pw;
	return 0;
}

int policy_start(struct policy_watch *pw)
{
	return uv_timer_start(&pw->tick, on_tick, 50, 50);
}

static void tick_closed(uv_handle_t *h)
{
	struct policy_watch *pw = h->data;

	pw->close_cb(pw);
}

int policy_close(struct policy_watch *pw, void (*cb)(struct policy_watch *))
{
	if (pw->d.loop == NULL || pw->closing)
		return -EALREADY;
	pw->closing = true;
	pw->close_cb = cb;
	uv_close((uv_handle_t *)&pw->tick, tick_closed);
	return 0;
}
