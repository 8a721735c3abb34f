/* policy: the [failover] policy keys of the config file against the
 * cluster's committed policy.
 *
 * The failover policy (failover auto|manual, max_lag_on_failover,
 * cooldown) belongs to the cluster: it is committed through Raft (PUT
 * /v1/policy, a topology file) and every agent acts on the committed one.
 * The keys policy, max_lag_on_failover and cooldown of a config file act
 * on it in two ways:
 *   - bootstrap: while no policy was ever committed, an agent that leads
 *     (its view of the decisions current) proposes the keys its file sets,
 *     merged, marked to apply only to a policy never set; once per
 *     leadership;
 *   - afterwards: whenever the committed policy was set and differs from a
 *     key of the file, a warning names the key, the file's value and the
 *     committed value; checked once the view is current after start and
 *     again after every change of the committed policy (a leadership gain
 *     included). If no policy gets committed although this file sets keys
 *     (the leader's file sets none), that is warned about too, once the
 *     view has been current for 2 × (lease + grace).
 *
 * Loop thread only. */
#ifndef POOLPAIR_POLICY_H
#define POOLPAIR_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/proposer.h"
#include "consensus/fsm.h"

/* What the watch needs to know of this agent's place (members.h), bound
 * in agent.c. Loop thread only, answers at once. */
struct policy_view_ops {
	/* Whether this agent's view of the decisions is current (it holds a
	 * lease). */
	bool (*current)(void *impl);
	/* The monotonic time (clock_mono_ns) this agent became leader, 0
	 * when it does not lead. */
	uint64_t (*leader_since_ns)(void *impl);
};

/* Everything the watch uses; every pointer borrowed, valid until the
 * close callback has run. */
struct policy_deps {
	uv_loop_t *loop;
	const struct config *cfg;	 /* the file: path, agent_name, the
					    [failover] keys, lease, grace */
	const struct fsm *fsm;		 /* the committed policy */
	const struct proposer *proposer; /* the bootstrap proposal */
	const struct clock *clock;
	const struct policy_view_ops *view; /* static */
	void *view_impl;
};

struct policy_watch {
	struct policy_deps d;	 /* copied */
	uv_timer_t tick;
	bool closing;
	void (*close_cb)(struct policy_watch *);
	bool proposing;		 /* the bootstrap proposal is in flight */
	uint64_t proposed_for;	 /* leader_since_ns of the last proposal */
	uint64_t current_since;	 /* clock_mono_ns when the view became
				    current */
	bool compared;		 /* seen holds what was last compared */
	struct fsm_policy seen;	 /* the committed policy then */
	char seen_effective[16]; /* and the failover policy in effect */
	bool unset_warned;	 /* the "never committed" warning was given */
	uint64_t warnings;	 /* disagreements logged so far */
};

/* Prepare pw from deps (copied): its timer is initialised on deps->loop,
 * not started. Returns 0 or a libuv error (pw then needs no close). */
int policy_init(struct policy_watch *pw, const struct policy_deps *deps);

/* Start the tick (every 50 ms): policy_tick(). Returns 0 or a libuv
 * error. */
int policy_start(struct policy_watch *pw);

/* Close the timer. Returns 0: cb (required) fires exactly once, later,
 * from the timer's close callback; or -EALREADY when pw was never
 * initialised (zeroed) or is closing already: cb never fires. A proposal
 * still in flight finds pw closing and logs only: pw's memory must stay
 * valid until it has its outcome (it ends with the node). */
int policy_close(struct policy_watch *pw, void (*cb)(struct policy_watch *));

/* Propose or compare as described above; cheap when nothing changed.
 * What the timer runs. */
void policy_tick(struct policy_watch *pw);

#endif
