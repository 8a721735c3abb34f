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
 *     set back and verified both copies equal, or is aborted after a
 *     timeout;
 *   - an owner change seen runs the fence and on_owner_change hooks.
 * Before the owner changes, the new owner is asked to stop taking the old
 * owner's records for that user set and to say where its copy stands (the
 * takeover position), so the returning pool can archive exactly its
 * never-shipped tail.
 *
 * The module is three files: failover.c (these decisions: the tick, the
 * moves, the hooks; callable without a running loop), failover_peer.c
 * (the calls to the new owner: takeover, verify before a failback) and
 * failover_api.c (POST /v1/pools/{P}/failover and /failback, each with
 * what_if, answered here at the leader, and the waits of those calls; a
 * move of the CMS alone is cms_move.h's).
 *
 * Everything here: loop thread only. */
#ifndef POOLPAIR_FAILOVER_H
#define POOLPAIR_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/clock.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/risk.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct hclient;
struct hclient_req;

/* What a pool's agent last reported of a user set it sends its pair. */
struct failover_lag {
	uint64_t records; /* not acknowledged by the pair (while seeding, at
			     least the seed's items left, at least 1) */
	uint64_t bytes;
	uint64_t ms;	  /* age of the oldest of them */
	bool drained;	  /* everything written is acknowledged */
	bool seeding;	  /* the pair's copy is being rebuilt (seeded) */
	uint64_t seed_items;	   /* of the seed: items stored */
	uint64_t seed_items_total; /* of that many */
	bool disconnected; /* a stream of it was not connected (the pair's
			      copy is not known to have what was acked) */
};

/* What the writer module says of a local takeover of a pool (all zero,
 * name "", when the pool has no synchronous standby). name borrowed:
 * valid until the next apply. */
struct failover_local {
	const char *name;   /* the synchronous standby, "" none */
	uint64_t silent_ms; /* since it was heard */
	bool positions;	    /* it reported where its copies stand */
	bool inflight;	    /* a local takeover is being committed */
};

/* What the module needs to know from the leader's records of the other
 * agents (members.h) and of this agent's own authority, and the data at
 * risk (risk.h). Bound to the real modules in agent.c; a unit test fakes
 * it. Every operation: loop thread only, answers at once. */
struct failover_liveness_ops {
	/* Milliseconds since an agent of pool was last heard by this leader;
	 * UINT64_MAX when none was heard since it leads. */
	uint64_t (*silence_ms)(void *impl, const char *pool);
	/* The newest report by an agent of pool of user_set, at most
	 * max_age_ms old (UINT64_MAX: any): true with *lag and, when
	 * age_ms is not NULL, *age_ms (its age) filled; false when none. */
	bool (*report)(void *impl, const char *pool, const char *user_set,
		       uint64_t max_age_ms, struct failover_lag *lag,
		       uint64_t *age_ms);
	/* From when (clock_mono_ns) this leader counts the silence of an
	 * agent it has not heard since: when it became leader, or the
	 * earlier bound of the earlier leaders' regimes when its voters
	 * established one (members_regime_since_ns(), lease.h); 0 when it
	 * does not lead. */
	uint64_t (*regime_since_ns)(void *impl);
	/* Whether this agent holds a valid lease (its view may be trusted). */
	bool (*lease_valid)(void *impl);
	/* Measure the data at risk of pool's user set as risk_measure()
	 * does (the same contract: cb once, maybe before this returns;
	 * negative: cb never fires). */
	int (*measure)(void *impl, const char *pool, bool ask_live,
		       risk_cb cb, void *arg);
	/* What a local takeover of p would need (writer.h: the pool's
	 * synchronous standby, how long it is silent, whether its
	 * positions are known, whether a takeover is being committed),
	 * for the hold-off of failover_auto.h. */
	void (*local_takeover)(void *impl, const struct fsm_pool *p,
			       struct failover_local *out);
};

struct failover_liveness {
	const struct failover_liveness_ops *ops; /* static */
	void *impl;				 /* borrowed */
};

/* Everything the module uses; every pointer borrowed, valid until the
 * close callback has run. */
struct failover_deps {
	uv_loop_t *loop;		 /* the tick and the hooks */
	const struct fsm *fsm;		 /* the applied state, read only */
	const struct proposer *proposer; /* decisions go through it */
	struct hclient *calls;		 /* calls to the new owner */
	const struct clock *clock;
	struct failover_liveness liveness;
	/* Who asked, for a command (caller_who(), caller.h). */
	void (*who)(const struct http_request *req, char *out, size_t len);
	/* [failover] of the config */
	uint32_t lease_ms;	   /* alive: heard within the lease */
	uint32_t grace_ms;	   /* down: silent for lease + grace */
	uint32_t hook_timeout_ms;
	const char *pre_failover;  /* hook commands, "" none */
	const char *fence_command;
	const char *on_owner_change;
};

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
	bool holding;               /* held off for a local takeover (logged
				       once when it starts) */
};

struct failover_wait;

struct failover {
	struct failover_deps d;	    /* copied */
	uv_timer_t tick;
	struct failover_pool pools[FSM_MAX_POOLS];
	unsigned n_pools;
	struct failover_wait *waits; /* API calls waiting for an outcome */
	uint64_t automatic;         /* automatic failovers attempted */
	char last_hook[256];        /* outcome of the last hook run */
	bool closing;
	void (*close_cb)(struct failover *);
};

/* Prepare fo from deps (copied; what it points to is borrowed): its
 * timer is initialised on deps->loop, not started. Returns 0 or a libuv
 * error (fo then needs no close). */
int failover_init(struct failover *fo, const struct failover_deps *deps);

/* Start the tick (every 50 ms). Returns 0 or a libuv error. */
int failover_start(struct failover *fo);

/* Stop: cancel calls in flight, answer waiting API calls 503, close the
 * timer. Returns 0: cb (required) fires exactly once, later, from the
 * timer's close callback; or -EALREADY when fo was never initialised
 * (zeroed) or is closing already: cb never fires. Proposals and hooks
 * still in flight find fo closing and do nothing more: fo's memory must
 * stay valid until they have ended (they end with the node and the hooks'
 * processes). */
int failover_close(struct failover *fo, void (*cb)(struct failover *));

/* One tick of the leader's decisions: the waits of API calls, then, when
 * this agent leads, is established (regime_since_ns) and holds a lease,
 * the hooks of owner changes and each pool's step as described at the
 * top. What the timer runs; a unit test calls it itself. */
void failover_tick(struct failover *fo);

/* A disaster failover of pool asked by who (leader only): once the
 * pool's lease has surely run out (silent for lease + grace), or at once
 * when forced, measure the data at risk, take over at the pair and commit
 * the begin, recorded forced. Nothing when the pool is unknown, not
 * normal, or a step of it is in progress here, or a local takeover of
 * it is being committed (writer.h), or (not forced) it was heard too
 * recently. Returns true when the move started. */
bool failover_disaster(struct failover *fo, const char *pool, const char *who,
		       bool forced);

/* Whether a step of pool (a move to or from its pair, its hook, its
 * decision) is under way here: a local takeover (writer.h) waits. */
bool failover_moving(const struct failover *fo, const char *pool);

/* Handlers of the route table (routes.c, route.h): POST
 * /v1/pools/{pool}/failover and /failback (leader only); module is the
 * struct failover. */
void failover_route_failover(void *module, struct http_request *req,
			     const struct route_params *p);
void failover_route_failback(void *module, struct http_request *req,
			     const struct route_params *p);

/* The flags of a request to move a user set or the CMS (failover,
 * failback, cms failover): an optional JSON body {what_if?, disaster?,
 * force?} of booleans, then query parameters of the same names ("true" or
 * "1" set one, anything else clears it). Returns false after answering
 * 400 bad_json. */
bool failover_move_flags(struct http_request *req, bool *what_if,
			 bool *disaster, bool *force);

/* For status: why an automatic failover of pool is not made ("" none). */
const char *failover_refusal(const struct failover *fo, const char *pool);

#endif
