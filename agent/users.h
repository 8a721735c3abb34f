/* users: the data-plane routes of the API (docs/api.md, "Data plane"),
 * one module over this agent's data plane (dataplane.h), in files by
 * concern:
 * - users.c: users, their data and conferences (one write or a batch),
 *   locations; the takeover asked by the leader;
 * - cms_docs.c: the CMS documents (a user set of their own, "cms");
 * - backup_sync.c: GET /v1/backup and POST /v1/backup/{pool}/sync (flush
 *   and wait until the pair has everything);
 * - divergence.c: GET /v1/divergence, the archive of writes that never
 *   reached the pair before a failover.
 *
 * A write is accepted only by the writer of the pool that owns the user
 * set of the user's home pool (421 not_owner with the owner's API from
 * another pool's agent, 421 not_writer with the writer's from a standby;
 * the rules: dataplane_may_write(), users_ready()) and is answered once
 * durable (in sync mode once the pair has it), with the epoch and
 * sequence it was stored under.
 *
 * Loop thread only. */
#ifndef POOLPAIR_USERS_H
#define POOLPAIR_USERS_H

#include <stdbool.h>

#include <uv.h>

#include "agent/clock.h"
#include "agent/dataplane.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct users_deps {
	uv_loop_t *loop;		 /* borrowed: backup sync timers */
	const struct fsm *fsm;		 /* borrowed, read only */
	const struct proposer *proposer; /* borrowed: whether a leader is
					    known (the state still loading) */
	const struct clock *clock;	 /* borrowed */
	struct dataplane *data;		 /* borrowed: store, write rules */
	const char *pool;		 /* copied: "" for a witness */
};

struct bsync;
struct users;
typedef void (*users_close_cb)(struct users *u);

struct users {
	struct users_deps deps; /* deps.pool points to pool */
	char pool[FSM_NAME_LEN];
	struct bsync *bsyncs; /* backup syncs waiting (backup_sync.c) */
	int closes;	      /* timers closing, + 1 while users_close runs */
	users_close_cb close_cb;
	bool closing;
	struct tls_quiet quiet; /* takeovers refused (caller.h) */
};

/* Prepare (deps copied; its pointers must outlive u). Returns 0. */
int users_init(struct users *u, const struct users_deps *deps);

/* Shutting down: answer every pending backup sync (503) and close its
 * timer; cb fires exactly once when they are closed (synchronously when
 * none was pending). Idempotent. */
void users_close(struct users *u, users_close_cb cb);

/* Handlers of the route table (routes.c, route.h); module is the struct
 * users. */

/* POST /v1/internal/takeover {"user_set"} */
void users_route_takeover(void *module, struct http_request *req,
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

/* cms_docs.c: GET and PUT /v1/cms/documents/{name} */
void cms_docs_route(void *module, struct http_request *req,
		    const struct route_params *p);

/* backup_sync.c: GET /v1/backup, POST /v1/backup/{pool}/sync */
void backup_sync_route_status(void *module, struct http_request *req,
			      const struct route_params *p);
void backup_sync_route_sync(void *module, struct http_request *req,
			    const struct route_params *p);

/* divergence.c: GET /v1/divergence?limit=N */
void divergence_route_list(void *module, struct http_request *req,
			   const struct route_params *p);

/* "sip:user@host" with user and host of [A-Za-z0-9._+~-], at most 255
 * characters in all. */
bool users_sip_valid(const char *sip);

/* True when dp's store serves requests; otherwise answers req and
 * returns false: 421 not_writer when this agent is a standby of its pool
 * (answer_not_writer(): the writer takes its writes and reads), 503 for a
 * witness (no_store) or a store not open (unavailable with why). */
bool users_ready(const struct dataplane *dp, struct http_request *req);

/* As users_ready() for a read of user data: a standby holding a copy
 * (dataplane_standby_copy()) serves it too. */
bool users_ready_read(const struct dataplane *dp, struct http_request *req);

/* The "copy" a read answers with: "standby" at a standby, else "own"
 * when this agent's pool owns user_set, "backup" when its pair does.
 * Static string. */
const char *users_copy_name(const struct dataplane *dp, const struct fsm *f,
			    const char *user_set);

/* At a standby, a read of a user set its pool does not own (it keeps no
 * copy of it): answers req 421 not_writer and returns true; false
 * otherwise (nothing answered). */
bool users_copy_refused(const struct dataplane *dp, const char *user_set,
			struct http_request *req);

#endif
