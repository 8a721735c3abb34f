/* failover: moving a user set between paired pools.
 *
 * On the leader, a tick drives every pool's failover state (committed in
 * the FSM, never merely hoped):
 *   - automatic failover (the failover policy in effect is auto): a pool
 *     silent for lease + grace, not paused, whose pair is heard and whose
 *     last reported lag was within max_lag_on_failover moves to its pair
 *     (pre_failover hook first, a cooldown after the pool's last automatic
 *     failover as committed in the FSM, never an automatic failback); the
 *     gates are agent/failover_auto.h;
 *   - a planned failover (failing_over) completes once the pool reports
 *     its changes drained to the pair, or is aborted after a timeout;
 *   - a failed-over pool heard again becomes recovering;
 *   - a failback (failing_back) completes once the pair drained the user
 *     set back.
 * Before the owner changes, the new owner is asked to stop taking the old
 * owner's records for that user set and to say where its copy stands (the
 * takeover position), so the returning pool can archive exactly its
 * never-shipped tail.
 *
 * The API calls POST /v1/pools/{P}/failover and /v1/pools/{P}/failback
 * (each with what_if) are answered here, at the leader; a move of the CMS
 * alone is cms_move.h's.
 *
 * Loop thread only. */
#ifndef POOLPAIR_FAILOVER_H
#define POOLPAIR_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/http.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct agent;
struct hclient_req;
struct hook_run;

enum failover_step {
	FO_IDLE,       /* nothing in progress for this pool */
	FO_HOOK,       /* pre_failover hook running */
	FO_TAKEOVER,   /* asking the new owner for its takeover position */
	FO_PROPOSING,  /* the decision is being committed */
	FO_VERIFY,     /* failback: the owner verifies and repairs the
			  returning pool's copy before the move */
	FO_MEASURE,    /* measuring the data at risk (agent/risk.h) */
};

struct failover_pool {
	char pool[FSM_NAME_LEN];
	int step;                   /* enum failover_step */
	bool planned;               /* the decision being prepared */
	bool complete;              /* FailoverComplete rather than Begin */
	bool forced;
	char who[FSM_WHO_LEN];
	char reason[FSM_REASON_LEN];
	uint64_t risk_records, risk_bytes, risk_ms;
	bool automatic;             /* the decision being prepared is an
				       automatic failover */
	uint64_t step_since_ns;
	char refusal[256];          /* why an automatic move is not made */
	struct hclient_req *req;
	struct failover *owner;     /* back pointer for callbacks */
	uint64_t seen_epoch;        /* leader: epoch last seen (hooks) */
	uint64_t retry_after_ms;    /* no automatic attempt before (wall) */
};

struct failover {
	struct agent *agent;        /* borrowed: the owner */
	uv_timer_t tick;
	struct failover_pool pools[FSM_MAX_POOLS];
	unsigned n_pools;
	struct failover_wait *waits; /* API calls waiting for an outcome */
	uint64_t automatic;         /* automatic failovers committed */
	char last_hook[256];        /* outcome of the last hook run */
	bool closing;
};

/* Prepare (the timer is started by failover_start). */
int failover_init(struct failover *fo, struct agent *a);
int failover_start(struct failover *fo);
void failover_close(struct failover *fo);

/* Handlers of the route table (routes.c, route.h): POST
 * /v1/pools/{pool}/failover and /failback (leader only); module is the
 * struct failover. */
void failover_route_failover(void *module, struct http_request *req,
			     const struct route_params *p);
void failover_route_failback(void *module, struct http_request *req,
			     const struct route_params *p);

/* For status: why an automatic failover of pool is not made ("" none). */
const char *failover_refusal(struct failover *fo, const char *pool);

#endif
