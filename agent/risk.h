/* risk: the data at risk of moving a pool's user set — the writes the
 * pool's agent acknowledged that its pair has not acknowledged yet
 * (records, bytes, and the age of the oldest).
 *
 * Heartbeat reports carry a pool's lag, but a report is as old as the
 * heartbeat interval and its byte count as old as the sender's last look
 * at the store (about a second): writes made since are missing from it.
 * So a figure for a decision is measured, not remembered, whenever the
 * pool's agent answers:
 *   - the leader asks the pool's agent (GET /v1/internal/lag?user_set=P),
 *     which reads its store now (on the thread pool) and takes the pair's
 *     newest acknowledgement from its sender: every write acknowledged to
 *     a client before the question is counted (never fewer: acknowledged
 *     records not yet trimmed from the outbox only add bytes);
 *   - when the pool's agent does not answer (it is down), the last report
 *     is all there is: the figure says so, with the report's age.
 *
 * Loop thread only. */
#ifndef POOLPAIR_RISK_H
#define POOLPAIR_RISK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/clock.h"
#include "agent/http.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct dataplane;
struct hclient;

enum risk_source {
	RISK_NONE,	  /* no figure: the pool's agent did not answer and
			     no report is known */
	RISK_LIVE,	  /* measured at the pool's agent just now */
	RISK_LAST_REPORT, /* the pool's last heartbeat report */
};

struct risk_figure {
	int source;	  /* enum risk_source */
	uint64_t records; /* unacknowledged records */
	uint64_t bytes;	  /* their key + value bytes */
	uint64_t ms;	  /* age of the oldest of them */
	uint64_t age_ms;  /* RISK_LAST_REPORT: how old the report is */
	char error[128];  /* why the live figure is missing, "" none */
};

/* What the module needs from the leader's records of the other agents
 * (members.h), bound in agent.c. Loop thread only, answers at once. */
struct risk_ops {
	/* The id of the agent of pool heard last by this leader, 0 none. */
	uint64_t (*heard_last)(void *impl, const char *pool);
	/* The newest report of pool's own user set by its agents: true with
	 * r's records, bytes, ms and age_ms filled; false when none. */
	bool (*last_report)(void *impl, const char *pool,
			    struct risk_figure *r);
};

/* Everything the module uses; every pointer borrowed, valid as long as
 * the module is used. */
struct risk_deps {
	const struct fsm *fsm;	   /* the members and their API addresses */
	struct hclient *calls;	   /* the question to the pool's agent */
	const struct clock *clock; /* the age of the oldest write */
	struct dataplane *data;	   /* this agent's store and sender (the
				      lag endpoint, and a pool of its own) */
	uint64_t agent_id;	   /* this agent's member id */
	const struct risk_ops *ops; /* static */
	void *impl;
};

/* The module holds no handle: nothing to close. A question in flight
 * ends with the HTTP client (hclient_close() answers it) or the store. */
struct risk {
	struct risk_deps d; /* copied */
};

void risk_init(struct risk *r, const struct risk_deps *deps);

/* Called exactly once with the figure (borrowed for the call). */
typedef void (*risk_cb)(void *arg, const struct risk_figure *r);

/* The data at risk of pool's user set. ask_live: the pool is alive (heard
 * within the lease), so its agent is asked first (timeout 1 s; this
 * agent's own store when it is the pool's); else, or when that fails, the
 * last report, with the reason in r->error. cb fires exactly once, maybe
 * before this returns (no question asked). Returns 0, or -ENOMEM (cb
 * never fires). Leader only. */
int risk_measure(struct risk *rk, const char *pool, bool ask_live, risk_cb cb,
		 void *arg);

/* {"records", "bytes", "seconds", "source": "live"|"last_report",
 * "report_age_ms"?} or, without a figure, all three null with "source":
 * "none". New reference. */
json_t *risk_json(const struct risk_figure *r);

/* Handler of the route table (routes.c, route.h): GET
 * /v1/internal/lag?user_set=U at a pool agent: {"user_set", "records",
 * "bytes", "ms", "lanes"} of what this agent sends its pair of U, read
 * now. module is the struct risk. */
void risk_route_lag(void *module, struct http_request *req,
		    const struct route_params *p);

#endif
