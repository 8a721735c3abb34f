/* backup_sync: the Backup Service's routes of a pool agent (see users.h):
 * GET /v1/backup, this agent's streams to its pair, and POST
 * /v1/backup/{pool}/sync, a flush that waits (polling every 20 ms, up to
 * its timeout) until the pair acknowledged every record of the pool's
 * user set. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/backup.h"
#include "agent/users_internal.h"

/* ---- backup sync: flush and wait until the pair has everything ---- */

struct bsync {
	struct bsync *next;
	struct users *u;
	struct http_request *req;
	char user_set[FSM_NAME_LEN];
	uv_timer_t timer;
	uint64_t start_ns;
	uint64_t deadline_ns;
};

static void bsync_closed(uv_handle_t *h)
{
	struct bsync *b = h->data;
	struct users *u = b->u;
	struct bsync **pp;

	for (pp = &u->bsyncs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	free(b);
	users_closed_one(u);
}

static void bsync_end(struct bsync *b)
{
	uv_timer_stop(&b->timer);
	uv_close((uv_handle_t *)&b->timer, bsync_closed);
}

void backup_sync_close(struct users *u)
{
	for (struct bsync *b = u->bsyncs; b != NULL; b = b->next) {
		if (uv_is_closing((uv_handle_t *)&b->timer))
			continue;
		http_respond_error(b->req, 503, "unavailable",
				   "the agent is shutting down");
		bsync_end(b);
	}
}

static void bsync_tick(uv_timer_t *t)
{
	struct bsync *b = t->data;
	unsigned streams;
	uint64_t lag =
	    dataplane_user_set_lag(b->u->deps.data, b->user_set, &streams);
	uint64_t now = clock_mono_ns(b->u->deps.clock);

	if (lag == 0 && streams > 0) {
		answer_json(
		    b->req, 200,
		    json_pack("{s:s, s:I, s:I}", "user_set", b->user_set,
			      "lag_records", (json_int_t)0, "waited_ms",
			      (json_int_t)((now - b->start_ns) / 1000000)));
	} else if (now >= b->deadline_ns) {
		char msg[128];

		snprintf(msg, sizeof msg,
			 "%" PRIu64 " records of %s still not acknowledged by "
			 "the pair",
			 lag, b->user_set);
		answer_json(b->req, 504,
			    json_pack("{s:s, s:s, s:I}", "error", "timeout",
				      "message", msg, "lag_records",
				      (json_int_t)lag));
	} else {
		return;
	}
	bsync_end(b);
}

static void backup_sync(struct users *u, struct http_request *req,
			const char *pool_name)
{
	struct dataplane *dp = u->deps.data;
	const struct fsm_pool *p = fsm_pool_find(u->deps.fsm, pool_name);
	char buf[16];
	unsigned long timeout_s = 30;
	bool wait = true;
	struct bsync *b;
	unsigned streams;
	uint64_t lag;

	if (http_query_param(req, "timeout", buf, sizeof buf) == 0) {
		char *end;

		errno = 0;
		timeout_s = strtoul(buf, &end, 10);
		if (errno || *end || buf[0] == '-' || timeout_s == 0 ||
		    timeout_s > 600) {
			http_respond_error(req, 400, "invalid",
					   "timeout must be 1..600 seconds");
			return;
		}
	}
	if (http_query_param(req, "wait", buf, sizeof buf) == 0) {
		if (strcmp(buf, "false") == 0)
			wait = false;
		else if (strcmp(buf, "true") != 0) {
			http_respond_error(req, 400, "invalid",
					   "wait must be true or false");
			return;
		}
	}
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	if (p->pair[0] == '\0') {
		http_respond_error(req, 409, "not_paired",
				   "the pool has no pair to back it up");
		return;
	}
	if (strcmp(p->owner, u->pool) != 0) {
		answer_not_owner(req, u->deps.fsm, p);
		return;
	}
	if (!users_ready(dp, req))
		return;
	dataplane_written(dp); /* flush: wake the sender */
	lag = dataplane_user_set_lag(dp, p->name, &streams);
	if (!wait || (lag == 0 && streams > 0)) {
		answer_json(req, 200,
			    json_pack("{s:s, s:I, s:I}", "user_set", p->name,
				      "lag_records", (json_int_t)lag,
				      "waited_ms", (json_int_t)0));
		return;
	}
	b = calloc(1, sizeof *b);
	if (b == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	b->u = u;
	b->req = req;
	snprintf(b->user_set, sizeof b->user_set, "%s", p->name);
	b->start_ns = clock_mono_ns(u->deps.clock);
	b->deadline_ns = b->start_ns + (uint64_t)timeout_s * 1000000000ULL;
	uv_timer_init(u->deps.loop, &b->timer);
	b->timer.data = b;
	b->next = u->bsyncs;
	u->bsyncs = b;
	u->closes++;
	uv_timer_start(&b->timer, bsync_tick, 20, 20);
}

void backup_sync_route_status(void *module, struct http_request *req,
			      const struct route_params *p)
{
	struct users *u = module;
	struct dataplane *dp = u->deps.data;

	answer_json(req, 200,
		    json_pack("{s:o, s:o, s:s, s:I, s:I}", "backup",
			      backup_local(dp), "received",
			      dataplane_receiver_status(dp), "mode",
			      dataplane_sync_name(dp), "sync_timeout_ms",
			      (json_int_t)dp->sync_timeout_ms, "sync_fallbacks",
			      (json_int_t)dp->sync_fallbacks));
}

void backup_sync_route_sync(void *module, struct http_request *req,
			    const struct route_params *p)
{
	const char *pool = route_param(p, "pool");

	if (strlen(pool) >= FSM_NAME_LEN) {
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	backup_sync(module, req, pool);
}
