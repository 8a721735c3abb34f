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

#include "consensus/fsm.h"

struct agent;

struct policy_watch {
	struct agent *agent;	 /* borrowed: the owner */
	bool proposing;		 /* the bootstrap proposal is in flight */
	uint64_t proposed_for;	 /* leader_since_ns of the last proposal */
	uint64_t current_since;	 /* uv_hrtime when the view became current */
	bool compared;		 /* seen holds what was last compared */
	struct fsm_policy seen;	 /* the committed policy then */
	char seen_effective[16]; /* and the failover policy in effect */
	bool unset_warned;	 /* the "never committed" warning was given */
	uint64_t warnings;	 /* disagreements logged so far */
};

void policy_init(struct policy_watch *pw, struct agent *a);

/* Propose or compare as described above; cheap when nothing changed.
 * Called often (every failover tick). */
void policy_tick(struct policy_watch *pw);

#endif
