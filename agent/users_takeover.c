/* users_takeover: POST /v1/internal/takeover, asked by the leader before
 * it decides an owner change: this agent's copy of the pair's user set
 * stops taking records and reports its position (see users.h). */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>

#include "agent/answer.h"
#include "agent/caller.h"
#include "agent/log.h"
#include "agent/users_internal.h"

#define MOD "users"

struct takeover_ask {
	struct users *u;
	struct http_request *req;
};

static void taken_over(void *arg, int status, uint64_t data_seq,
		       uint64_t content_seq)
{
	struct takeover_ask *t = arg;
	struct http_request *req = t->req;
	struct users *u = t->u;

	free(t);
	if (status != 0) {
		answer_store_error(req, status, NULL);
		return;
	}
	LOG_INFO(MOD, "takeover position: data %" PRIu64 ", content %" PRIu64,
		 data_seq, content_seq);
	answer_json(req, 200,
		    json_pack("{s:I, s:I, s:s}", "data_seq",
			      (json_int_t)data_seq, "content_seq",
			      (json_int_t)content_seq, "pool", u->pool));
}

static void takeover_call(struct users *u, struct http_request *req)
{
	json_error_t jerr;
	json_t *root;
	const char *user_set = NULL;
	struct takeover_ask *t;
	int rv;

	root =
	    json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || json_unpack_ex(root, &jerr, JSON_STRICT, "{s:s}",
					   "user_set", &user_set) != 0) {
		json_decref(root);
		http_respond_error(req, 400, "bad_json",
				   "body must be {\"user_set\": POOL}");
		return;
	}
	/* the leader asks it (failover_peer.c), before it decides an owner
	 * change: no other agent may stop this copy taking records */
	if (!caller_check(&u->quiet, req,
			  proposer_leader(u->deps.proposer, NULL), NULL,
			  "only the leader asks a takeover")) {
		json_decref(root);
		return;
	}
	if (!users_ready(u->deps.data, req)) {
		json_decref(root);
		return;
	}
	t = malloc(sizeof *t);
	if (t == NULL) {
		json_decref(root);
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	t->u = u;
	t->req = req;
	rv = dataplane_takeover(u->deps.data, user_set, taken_over, t);
	json_decref(root);
	if (rv != 0)
		free(t);
	if (rv == STORE_E_INVALID)
		http_respond_error(req, 409, "not_pair",
				   "this agent's pool is not the pair of that "
				   "user set");
	else if (rv != 0)
		answer_store_error(req, rv, NULL);
}

void users_route_takeover(void *module, struct http_request *req,
			  const struct route_params *p)
{
	(void)p;
	takeover_call(module, req);
}
