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

struct agent;

/* Handles @req when its path is a content path; returns false (and does
 * nothing) otherwise. A PUT is expected streamed (content_stream_match);
 * a buffered one (a server without the predicate) is stored the same way
 * from its buffered body. */
bool content_route(struct agent *a, struct http_request *req);

/* http_server_config.stream_match for the API server: true for a PUT to a
 * content path, so its body is streamed. @data (the agent) is unused;
 * @req is only read. */
int content_stream_match(void *data, const struct http_request *req);

#endif
