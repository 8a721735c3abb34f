/* api: the routes of the HTTP API (docs/api.md) on top of the agent.
 *
 * Reads are answered from the applied state; writes become FSM commands
 * (or Raft configuration changes) proposed to the leader, answered once
 * committed. A write at a follower gets 307 to the leader's API.
 *
 * Loop thread only. */
#ifndef POOLPAIR_API_H
#define POOLPAIR_API_H

#include "agent/http.h"

/* http_handler_fn for the agent's API server; req->data is the struct
 * agent. */
void api_handle(struct http_request *req);

/* Called by the HTTP server for every finished request (metrics). */
void api_on_done(void *data, const struct http_request *req, int status,
		 uint64_t duration_ns);

#endif
