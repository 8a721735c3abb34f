/* divergence: GET /v1/divergence (see users.h): the archive of the writes
 * a pool took and never shipped to its pair before a failover, moved aside
 * when the pool came back (dataplane_stream.c), newest first. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/users_internal.h"
#include "agent/view.h"

static void divergence_listed(void *arg, int status,
			      const struct store_divergence_list *l)
{
	struct http_request *req = arg;
	json_t *arr;
	char when[40];

	if (status != 0) {
		answer_store_error(req, status, l != NULL ? l->errmsg : NULL);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < l->n; i++) {
		const struct store_divergence *d = &l->v[i];

		view_time_iso((uint64_t)d->archived_at_ms, when, sizeof when);
		json_array_append_new(
		    arr,
		    json_pack("{s:I, s:s, s:I, s:I, s:s, s:s%, s:s, s:s}", "id",
			      (json_int_t)d->id, "user_set", d->user_set,
			      "epoch", (json_int_t)d->epoch, "seq",
			      (json_int_t)d->seq, "key", d->key, "value",
			      (const char *)d->value, d->value_len, "archived",
			      when, "reason", d->reason));
	}
	answer_json(req, 200, json_pack("{s:o}", "divergence", arr));
}

void divergence_route_list(void *module, struct http_request *req,
			   const struct route_params *p)
{
	struct users *u = module;
	struct dataplane *dp = u->deps.data;
	char buf[16];
	unsigned long limit = 100;

	if (http_query_param(req, "limit", buf, sizeof buf) == 0) {
		char *end;

		errno = 0;
		limit = strtoul(buf, &end, 10);
		if (errno || *end || buf[0] == '-' || limit == 0 ||
		    limit > 10000) {
			http_respond_error(req, 400, "invalid",
					   "limit must be 1..10000");
			return;
		}
	}
	/* the archive is this agent's own: a standby (even one whose copy
	 * is being rebuilt) answers from its store as the writer does */
	if (dp->state != DP_OPEN && !users_ready(dp, req))
		return;
	if (store_divergence_list(&dp->store, 0, limit, divergence_listed,
				  req) != 0)
		http_respond_error(req, 503, "unavailable", "store closing");
}
