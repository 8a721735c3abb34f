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

#include "agent/http.h"
#include "agent/route.h"

struct agent;

/* Handlers of the route table (routes.c, route.h); module is the struct
 * agent. PUT is a ROUTE_STREAM route: its body comes streamed (a buffered
 * one, from a server that does not stream it, is stored the same way from
 * its buffered body). */
void content_route_put(void *module, struct http_request *req,
		       const struct route_params *p);
void content_route_get(void *module, struct http_request *req,
		       const struct route_params *p);

#endif
