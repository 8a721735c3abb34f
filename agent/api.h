/* api: the control-plane handlers of the HTTP API (docs/api.md) and the
 * API server's entry points. The routes themselves, who may call them and
 * which only the leader answers, are in the table of routes.c (route.h).
 *
 * Reads are answered from the applied state through the view; writes are
 * parsed by the request module into FSM commands, proposed to the leader
 * and answered once committed (or refused).
 *
 * The module reads the applied state (const struct fsm *), proposes
 * through a proposer, reads the wall clock for its commands, renders
 * through a view, counts in the metrics and hands every request to the
 * router. Each is borrowed and must outlive the module.
 *
 * Loop thread only. */
#ifndef POOLPAIR_API_H
#define POOLPAIR_API_H

#include <stddef.h>
#include <stdint.h>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/http.h"
#include "agent/metrics.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "agent/view.h"
#include "consensus/fsm.h"

struct api_deps {
	const struct fsm *fsm;		 /* borrowed, read only */
	const struct proposer *proposer; /* borrowed: the decisions */
	const struct clock *clock;	 /* borrowed: the commands' time */
	const struct view *view;	 /* borrowed: the renderings */
	struct metrics *metrics;	 /* borrowed: requests, decisions */
	struct router *router;		 /* borrowed: every request */
	/* why this agent runs insecure (config_insecure(), static), shown
	 * on /v1/status as "insecure"; NULL when it does not */
	const char *insecure;
	/* the timing this agent runs with (config.h, "Timing profiles"),
	 * shown on /v1/status as "timing": profile (static) and values */
	const char *profile;
	struct config_timing timing;
	/* the Raft election timeout in effect (members_eto.c), shown in
	 * "timing" as "election_timeout_effective_ms"; NULL: not shown */
	unsigned (*election_timeout)(void *arg);
	void *election_timeout_arg;
	/* Who asked, for a command (caller_who(), caller.h). */
	void (*who)(const struct http_request *req, char *out, size_t len);
};

#define API_POLICY_SLOTS 64

struct api {
	struct api_deps d; /* copied; pointers borrowed */
	/* the policy right after each recent decision, so that the answer
	 * to a policy change shows what that decision made even when a
	 * later one changed it again (slot seq % API_POLICY_SLOTS) */
	struct {
		uint64_t seq;
		struct fsm_policy policy;
		char effective[16]; /* fsm_failover_policy() then */
	} policy_after[API_POLICY_SLOTS];
};

/* Set api up from deps (copied; the pointers borrowed). Returns 0. */
int api_init(struct api *api, const struct api_deps *deps);

/* The module holds no handle (the HTTP server is the agent's, and it
 * answers what is in flight when it closes): cb (may be NULL) is called
 * at once. */
void api_close(struct api *api, void (*cb)(struct api *api));

/* After every applied command: remember the policy it left. */
void api_on_applied(struct api *api);

/* http_handler_fn for the agent's API server; req->data is the struct
 * api: the request goes to its router. */
void api_handle(struct http_request *req);

/* http_server_config.stream_match for the API server: whether the route
 * of req streams its body (data is the struct api). */
int api_stream_match(void *data, const struct http_request *req);

/* http_server_config.on_head for the API server: the router's role check
 * and body limit before the body is read (router_head(); data is the
 * struct api). */
void api_on_head(void *data, const struct http_request *req,
		 struct http_head_verdict *v);

/* Called by the HTTP server for every finished request (metrics); data is
 * the struct api. */
void api_on_done(void *data, const struct http_request *req, int status,
		 uint64_t duration_ns);

/* Handlers (route_handler_fn); module is the struct api. */

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
