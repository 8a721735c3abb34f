/* api: the routes of the HTTP API (docs/api.md) on top of the agent.
 *
 * Reads are answered from the applied state; writes become FSM commands
 * (or Raft configuration changes) proposed to the leader, answered once
 * committed. A write at a follower gets 307 to the leader's API.
 *
 * Loop thread only. */
#ifndef POOLPAIR_API_H
#define POOLPAIR_API_H

#include <jansson.h>
#include <stdbool.h>

#include "agent/http.h"

/* http_handler_fn for the agent's API server; req->data is the struct
 * agent. */
void api_handle(struct http_request *req);

struct agent;

/* A write reached a follower: answer 307 to the leader's API (or 503 when
 * no leader is known) and return true; false when this agent leads. */
bool api_redirect_to_leader(struct agent *a, struct http_request *req);

/* Called by the HTTP server for every finished request (metrics). */
void api_on_done(void *data, const struct http_request *req, int status,
		 uint64_t duration_ns);

#endif
