/* users: the data-plane routes of the API (docs/api.md, "Data plane"):
 * users, their data and conferences, locations, divergence.
 *
 * A write is accepted only by the agent of the pool that owns the user
 * set of the user's home pool (421 with the owner's API otherwise) and is
 * answered once durable, with the epoch and sequence it was stored under.
 *
 * Loop thread only. */
#ifndef POOLPAIR_USERS_H
#define POOLPAIR_USERS_H

#include <stdbool.h>

#include "agent/http.h"
#include "agent/route.h"

struct agent;
struct fsm_pool;

/* Handlers of the route table (routes.c, route.h); module is the struct
 * agent. */

/* GET /v1/divergence?limit=N */
void users_route_divergence(void *module, struct http_request *req,
			    const struct route_params *p);
/* GET and PUT /v1/cms/documents/{name} */
void users_route_cms_document(void *module, struct http_request *req,
			      const struct route_params *p);
/* POST /v1/internal/takeover {"user_set"} */
void users_route_takeover(void *module, struct http_request *req,
			  const struct route_params *p);
/* GET /v1/backup, POST /v1/backup/{pool}/sync */
void users_route_backup(void *module, struct http_request *req,
			const struct route_params *p);
void users_route_backup_sync(void *module, struct http_request *req,
			     const struct route_params *p);
/* POST /v1/users, POST /v1/users/batch, DELETE /v1/users/{sip},
 * GET /v1/users/{sip}/location, GET and PUT
 * /v1/users/{sip}/conferences/{id} and /v1/users/{sip}/{kind} (kind:
 * profile, contacts or settings; another is 404). */
void users_route_enable(void *module, struct http_request *req,
			const struct route_params *p);
void users_route_batch(void *module, struct http_request *req,
		       const struct route_params *p);
void users_route_disable(void *module, struct http_request *req,
			 const struct route_params *p);
void users_route_locate(void *module, struct http_request *req,
			const struct route_params *p);
void users_route_conference(void *module, struct http_request *req,
			    const struct route_params *p);
void users_route_data(void *module, struct http_request *req,
		      const struct route_params *p);

/* "sip:user@host" with user and host of [A-Za-z0-9._+~-], at most 255
 * characters in all. */
bool users_sip_valid(const char *sip);

/* Shutting down: answer every pending backup sync (503) and close its
 * timer (through the agent's pending_closes). */
void users_close(struct agent *a);

/* True when this agent's store serves requests; otherwise answers 503 and
 * returns false. */
bool users_ready(struct agent *a, struct http_request *req);

#endif
