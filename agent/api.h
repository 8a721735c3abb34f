/* api: the control-plane handlers of the HTTP API (docs/api.md) on top of
 * the agent, and the API server's entry points. The routes themselves,
 * who may call them and which only the leader answers, are in the table
 * of routes.c (route.h).
 *
 * Reads are answered from the applied state; writes become FSM commands
 * (or Raft configuration changes) proposed to the leader, answered once
 * committed.
 *
 * Loop thread only. */
#ifndef POOLPAIR_API_H
#define POOLPAIR_API_H

#include <stdint.h>

#include "agent/http.h"
#include "agent/route.h"

/* http_handler_fn for the agent's API server; req->data is the struct
 * agent: the request goes to its router. */
void api_handle(struct http_request *req);

/* http_server_config.stream_match for the API server: whether the route
 * of req streams its body (data is the struct agent). */
int api_stream_match(void *data, const struct http_request *req);

/* Called by the HTTP server for every finished request (metrics). */
void api_on_done(void *data, const struct http_request *req, int status,
		 uint64_t duration_ns);

/* Handlers (route_handler_fn); module is the struct agent. */

/* GET /healthz, /metrics, /v1/status, /v1/sites, /v1/pools,
 * /v1/pools/{name}, /v1/pairs, /v1/sbas, /v1/cms, /v1/policy, /v1/members,
 * /v1/history: reads of the applied state. */
void api_route_healthz(void *module, struct http_request *req,
		       const struct route_params *p);
void api_route_metrics(void *module, struct http_request *req,
		       const struct route_params *p);
void api_route_status(void *module, struct http_request *req,
		      const struct route_params *p);
void api_route_sites(void *module, struct http_request *req,
		     const struct route_params *p);
void api_route_pools(void *module, struct http_request *req,
		     const struct route_params *p);
void api_route_pool(void *module, struct http_request *req,
		    const struct route_params *p);
void api_route_pairs(void *module, struct http_request *req,
		     const struct route_params *p);
void api_route_sbas(void *module, struct http_request *req,
		    const struct route_params *p);
void api_route_cms(void *module, struct http_request *req,
		   const struct route_params *p);
void api_route_policy(void *module, struct http_request *req,
		      const struct route_params *p);
void api_route_members(void *module, struct http_request *req,
		       const struct route_params *p);
void api_route_history(void *module, struct http_request *req,
		       const struct route_params *p);

/* POST /v1/sites, /v1/pools, /v1/pairs, /v1/sbas: route arg says which. */
enum api_add { API_ADD_SITE, API_ADD_POOL, API_ADD_PAIR, API_ADD_SBA };
void api_route_add(void *module, struct http_request *req,
		   const struct route_params *p);

/* DELETE /v1/sites/{name}, /v1/pools/{name}, /v1/pairs/{pool},
 * /v1/sbas/{name}: route arg is the enum request_name_op, the route's one
 * parameter the name. */
void api_route_remove(void *module, struct http_request *req,
		      const struct route_params *p);

/* POST /v1/pools/{name}/pause (route arg 1) and /resume (0). */
void api_route_pool_pause(void *module, struct http_request *req,
			  const struct route_params *p);

/* PUT /v1/pairs/{pool}, PUT /v1/policy, POST /v1/topology. */
void api_route_pair_mode(void *module, struct http_request *req,
			 const struct route_params *p);
void api_route_policy_set(void *module, struct http_request *req,
			  const struct route_params *p);
void api_route_topology(void *module, struct http_request *req,
			const struct route_params *p);

#endif
