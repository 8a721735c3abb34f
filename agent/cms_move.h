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

#include "agent/http.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct agent;
struct cms_call;

/* The leader's own decision in flight (driving a planned move). */
enum cms_move_step {
	CMS_STEP_IDLE,
	CMS_STEP_PROPOSING, /* complete or abort being committed */
};

struct cms_move {
	struct agent *agent; /* borrowed: the owner */
	uv_timer_t tick;
	int step;	     /* enum cms_move_step */
	uint64_t step_since_ns;
	struct cms_call *call; /* the API call waiting for its outcome */
	uint64_t calls;	       /* calls so far: names the one waiting */
	bool closing;
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

int cms_move_init(struct cms_move *cm, struct agent *a);
int cms_move_start(struct cms_move *cm);
/* Answer a waiting call (503) and close the timer (pending_closes). */
void cms_move_close(struct cms_move *cm);

/* Leader only: the plan of a move asked with these flags now. */
void cms_move_plan(struct cms_move *cm, bool disaster, bool force,
		   struct cms_move_plan *plan);

/* Handler of the route table (routes.c, route.h): POST /v1/cms/failover
 * (leader only); module is the struct cms_move. */
void cms_move_route(void *module, struct http_request *req,
		    const struct route_params *p);

#endif
