/* content: the conference content routes of the API,
 * /v1/users/{sip}/conferences/{id}/content/{name} (name may hold '/').
 *
 * PUT streams the body into the store in STORE_CONTENT_CHUNK records
 * (OP_CONTENT_CHUNK), one chunk in memory at a time: the body is read on
 * only once the previous chunk is durable. Accepted only by the agent of
 * the pool that owns the user's user set (421 otherwise, as in users.h);
 * answered 201 once the last chunk is durable. GET streams the stored bytes
 * of a complete item back from any pool agent that holds a copy (own or
 * backup), one piece in memory at a time.
 *
 * Loop thread only. */
#ifndef POOLPAIR_CONTENT_H
#define POOLPAIR_CONTENT_H

#include <stdbool.h>

#include "agent/dataplane.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct content_deps {
	const struct fsm *fsm;		 /* borrowed, read only */
	const struct proposer *proposer; /* borrowed: whether a leader is
					    known (the state still loading) */
	struct dataplane *data;		 /* borrowed: store, write rules */
	const char *pool;		 /* copied: "" for a witness */
};

/* Uploads and downloads in flight hold no handle of their own (each ends
 * with its request and store operation), so the module has nothing to
 * close: it must outlive the API server and the store. */
struct content {
	struct content_deps deps; /* deps.pool points to pool */
	char pool[FSM_NAME_LEN];
};

/* Prepare (deps copied; its pointers must outlive c). Returns 0. */
int content_init(struct content *c, const struct content_deps *deps);

/* Handlers of the route table (routes.c, route.h); module is the struct
 * content. PUT is a ROUTE_STREAM route: its body comes streamed (a buffered
 * one, from a server that does not stream it, is stored the same way from
 * its buffered body). */
void content_route_put(void *module, struct http_request *req,
		       const struct route_params *p);
void content_route_get(void *module, struct http_request *req,
		       const struct route_params *p);

#endif
