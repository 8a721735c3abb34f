/* rejoin_decide: what an agent with an empty Raft directory does, from what
 * the other members' APIs answered. Pure: no I/O, no clock.
 *
 * A voter that lost its log must never vote or bootstrap again with the
 * same id: it could elect a leader that lacks committed entries. So an
 * empty directory bootstraps only when every peer answered and none of
 * them holds a cluster (a first start); a cluster anywhere means this
 * agent comes back through its leader (rejoin: the old incarnation
 * removed, then added back as a spare), or joins as a new member when it
 * was configured to join and the cluster does not know its id. */
#ifndef POOLPAIR_REJOIN_DECIDE_H
#define POOLPAIR_REJOIN_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rejoin_decision {
	REJOIN_WAIT,	  /* ask again later */
	REJOIN_BOOTSTRAP, /* a first start: bootstrap the configured list */
	REJOIN_REJOIN,	  /* the cluster exists: come back through its leader */
	REJOIN_JOIN,	  /* a joiner the cluster does not know: join */
	REJOIN_REFUSE,	  /* nobody to ask: cannot tell a first start */
};

/* What one peer answered (GET /v1/status). */
struct rejoin_answer {
	bool answered;	  /* a status was read from it */
	bool has_cluster; /* it runs Raft with a configuration */
	bool knows_id;	  /* that configuration holds this agent's id */
	uint64_t term;	  /* its Raft term */
};

/* The situation of the agent. */
struct rejoin_situation {
	bool bootstrap;	  /* configured with [cluster] bootstrap (else join) */
	bool alone;	  /* the bootstrap list holds only this agent */
	bool first_start; /* poolpaird --first-start: no peer to ask is fine */
};

/* The decision from n answers (n may be 0: no peers to ask).
 * A configuration in term 0 or 1 is a first start under way, not a
 * cluster: it never elected a leader, so it committed nothing but the
 * bootstrap entry, which this agent's own bootstrap writes identically.
 * - any cluster that knows the id: REJOIN;
 * - any cluster that does not: REJOIN for a bootstrap member (the list
 *   names it: it comes back as a spare), JOIN for a joiner;
 * - no cluster, every peer answered: BOOTSTRAP for a bootstrap member
 *   (n > 0, or alone, or first_start), WAIT for a joiner (nothing to join);
 * - no peers at all: BOOTSTRAP when alone or first_start, else REFUSE
 *   (a bootstrap member); WAIT for a joiner;
 * - otherwise WAIT. */
enum rejoin_decision rejoin_decide(const struct rejoin_situation *s,
				   const struct rejoin_answer *a, size_t n);

/* "wait", "bootstrap", ... (static). */
const char *rejoin_decision_name(enum rejoin_decision d);

#endif
