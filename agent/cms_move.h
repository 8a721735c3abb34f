/* cms_move: moving the active CMS to its standby pool on its own
 * (POST /v1/cms/failover), with the semantics of a pool's failover:
 *   - planned, when the pool hosting the active CMS is alive (heard within
 *     its lease): a committed begin stops its CMS writes (cms_state
 *     failing_over); its agent drains the CMS documents to the pair; once
 *     it reports them drained the leader commits the move (cms epoch + 1):
 *     nothing is lost. A drain that does not end in DRAIN_TIMEOUT is
 *     aborted (the CMS stays, writes resume);
 *   - disaster, when that pool is not alive (disaster: true): once its
 *     lease has surely run out (silent for lease + grace; force does not
 *     wait, and allows it while alive) the leader commits the move at
 *     once, recorded forced with the data at risk of the CMS documents
 *     (records, bytes, seconds not yet acknowledged by the pair, from the
 *     last report of its agent).
 * The what-if (what_if: true) answers from the same function the call
 * uses (cms_move_plan): planned or disaster, allowed or the refusal with
 * its reason, and the data at risk.
 *
 * On the leader a tick also drives a planned move committed earlier (by
 * this leader or another) to its end. Loop thread only. */
#ifndef POOLPAIR_CMS_MOVE_H
#define POOLPAIR_CMS_MOVE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/clock.h"
#include "agent/failover.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct cms_call;

/* Everything the module uses; every pointer borrowed, valid until the
 * close callback has run. */
struct cms_move_deps {
	uv_loop_t *loop;		 /* the tick */
	const struct fsm *fsm;		 /* the applied state, read only */
	const struct proposer *proposer; /* decisions go through it */
	const struct clock *clock;
	/* silences, reports, leadership and lease, as failover.h has them
	 * (measure is not used) */
	struct failover_liveness liveness;
	/* Who asked, for a command (caller_who(), caller.h). */
	void (*who)(const struct http_request *req, char *out, size_t len);
	uint32_t lease_ms; /* alive: heard within the lease */
	uint32_t grace_ms; /* down: silent for lease + grace */
};

/* The leader's own decision in flight (driving a planned move). */
enum cms_move_step {
	CMS_STEP_IDLE,
	CMS_STEP_PROPOSING, /* complete or abort being committed */
};

struct cms_move {
	struct cms_move_deps d; /* copied */
	uv_timer_t tick;
	int step;	     /* enum cms_move_step */
	uint64_t step_since_ns;
	struct cms_call *call; /* the API call waiting for its outcome */
	uint64_t calls;	       /* calls so far: names the one waiting */
	bool closing;
	void (*close_cb)(struct cms_move *);
};

/* What a CMS move asked now would be, and whether it is allowed. */
struct cms_move_plan {
	bool allowed;
	bool planned;	     /* else disaster */
	char code[32];	     /* "ok", an FSM code name, "not_reachable",
				"cms_alive", "busy" */
	char reason[256];    /* "" when allowed */
	char active[FSM_NAME_LEN];
	char standby[FSM_NAME_LEN];
	bool alive;	     /* the active CMS's pool heard within its lease */
	uint64_t silent_ms;  /* since it was heard; UINT64_MAX never */
	bool risk_known;     /* a report of its agent exists (disaster) */
	uint64_t risk_records, risk_bytes, risk_ms; /* 0 when planned */
};

/* Prepare cm from deps (copied): its timer is initialised on deps->loop,
 * not started. Returns 0 or a libuv error (cm then needs no close). */
int cms_move_init(struct cms_move *cm, const struct cms_move_deps *deps);

/* Start the tick. Returns 0 or a libuv error. */
int cms_move_start(struct cms_move *cm);

/* Answer a waiting call (503) and close the timer. Returns 0: cb
 * (required) fires exactly once, later, from the timer's close callback;
 * or -EALREADY when cm was never initialised (zeroed) or is closing
 * already: cb never fires. A proposal still in flight finds cm closing
 * and logs only: cm's memory must stay valid until it has its outcome
 * (it ends with the node). */
int cms_move_close(struct cms_move *cm, void (*cb)(struct cms_move *));

/* Leader only: the plan of a move asked with these flags now. */
void cms_move_plan(struct cms_move *cm, bool disaster, bool force,
		   struct cms_move_plan *plan);

/* Handler of the route table (routes.c, route.h): POST /v1/cms/failover
 * (leader only); module is the struct cms_move. */
void cms_move_route(void *module, struct http_request *req,
		    const struct route_params *p);

#endif
