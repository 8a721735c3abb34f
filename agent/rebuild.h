/* rebuild: GET /v1/pools/{pool}/rebuild, where the rebuild of a pool's
 * copy from its pair stands (a store seeded from the pair,
 * replication/store_seed.h), answered by any agent from the reports it
 * holds: the pair's (its sender side: the seeds it sends the pool, the
 * lag of what it sends) and the pool's (its receiver side: the seeds of
 * its copy). An agent of either pool answers its own side live.
 *
 * Answer: {"pool", "pair" (null while unpaired), "state" (the pool's
 * failover state), "rebuilding": a seed toward the pool runs, "streams":
 * [{"user_set", "lane", "from_seq", "items", "items_total", "bytes",
 * "bytes_total", "rate_items_s", "rate_bytes_s", "eta_s" (null:
 * unknown), "age_ms": {"sender", "receiver"} (how old each side's report
 * of it is, null when that side did not report it)}] (the seeds that
 * run), "caught_up", "heard": {"pair", "pool"} (whether a report of each
 * is held, at most lease + grace old), "age_ms": {"pair", "pool"} (how
 * old each report is, null when none)}.
 *
 * The freshest evidence decides, a seed per (user set, lane): when both
 * sides report the same seed (the same from_seq), it is over once either
 * saw its end, else its figures are those of the side further on (they
 * never go back; never past the totals), its rate and time left the
 * side heard last; when they
 * report different seeds, the one heard last; the receiver's report
 * alone does not show a seed when the pair's, heard since, has that
 * stream connected without one (its handshake would have resumed it). caught_up: the pair's report is held,
 * no seed toward the pool runs, and, when the pair sends the pool's own
 * user set (after a failover), every stream of it is connected with
 * nothing left to acknowledge: what a failback waits for.
 *
 * Loop thread only. */
#ifndef POOLPAIR_REBUILD_H
#define POOLPAIR_REBUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/members.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct http_request;

/* What the module reads of the others. Loop thread only, never NULL. */
struct rebuild_sources_ops {
	/* The newest report of an agent of pool at most lease + grace old
	 * (this agent's own figures, live, when it is of pool) into *out:
	 * its sets, streams and seeds. false when none is held. */
	bool (*report)(void *impl, const char *pool, struct members_seen *out);
	/* Now on the clock of members_seen.last_ns (monotonic, ns). */
	uint64_t (*now_ns)(void *impl);
};

struct rebuild_deps {
	const struct fsm *fsm;		       /* borrowed, read only */
	const struct rebuild_sources_ops *ops; /* static */
	void *impl;			       /* borrowed */
};

struct rebuild {
	struct rebuild_deps d; /* copied; pointers borrowed */
};

/* Set r up from deps (copied). */
void rebuild_init(struct rebuild *r, const struct rebuild_deps *deps);

/* The answer for pool p (borrowed) from the pair's report pair_rep and
 * the pool's pool_rep (each NULL when none is held) at now_ns (the clock
 * of their last_ns). A new reference, NULL out of memory. Pure. */
json_t *rebuild_json(const struct fsm_pool *p,
		     const struct members_seen *pair_rep,
		     const struct members_seen *pool_rep, uint64_t now_ns);

/* GET /v1/pools/{pool}/rebuild (routes.c; module is the struct rebuild):
 * 200 as above, 404 not_found for an unknown pool. */
void rebuild_route(void *module, struct http_request *req,
		   const struct route_params *p);

#endif
