/* rebuild: where the rebuild of a pool's copy stands (see rebuild.h). */
#include "agent/rebuild.h"

#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/http.h"

void rebuild_init(struct rebuild *r, const struct rebuild_deps *deps)
{
	r->d = *deps;
}

static json_t *stream_json(const struct members_seed_report *s)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f}", "user_set",
		      s->user_set, "lane", s->lane == 1 ? "content" : "data",
		      "items", (json_int_t)s->items, "items_total",
		      (json_int_t)s->items_total, "bytes", (json_int_t)s->bytes,
		      "bytes_total", (json_int_t)s->bytes_total, "rate_items_s",
		      s->rate_items_s, "rate_bytes_s", s->rate_bytes_s);

	if (o != NULL &&
	    json_object_set_new(
		o, "eta_s",
		s->eta_s < 0 ? json_null()
			     : json_integer((json_int_t)s->eta_s)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Whether the pair's report says the pool's own user set, when the pair
 * sends it, is caught up: every stream of it connected with nothing to
 * acknowledge, and no seed of it. */
static bool own_set_caught_up(const struct fsm_pool *p,
			      const struct members_seen *pair_rep)
{
	for (unsigned i = 0; i < pair_rep->n_sets; i++) {
		const struct members_set_report *s = &pair_rep->sets[i];

		if (s->seeding)
			return false;
		if (strcmp(s->user_set, p->name) == 0 && s->lag_records > 0)
			return false;
	}
	for (unsigned i = 0; i < pair_rep->n_streams; i++) {
		const struct members_stream_report *st = &pair_rep->streams[i];

		if (strcmp(st->user_set, p->name) == 0 &&
		    strcmp(st->state, "steady") != 0)
			return false;
	}
	return true;
}

json_t *rebuild_json(const struct fsm_pool *p,
		     const struct members_seen *pair_rep,
		     const struct members_seen *pool_rep)
{
	const struct members_seed_report *v[2 * MEMBERS_SEEDS];
	unsigned n = 0;
	json_t *streams = json_array();
	json_t *o;

	/* the pair's seeds toward the pool, then the pool's own side of
	 * those the pair did not report */
	for (unsigned i = 0; pair_rep != NULL && i < pair_rep->n_seeds; i++)
		if (!pair_rep->seeds[i].receiver)
			v[n++] = &pair_rep->seeds[i];
	for (unsigned i = 0; pool_rep != NULL && i < pool_rep->n_seeds; i++) {
		const struct members_seed_report *s = &pool_rep->seeds[i];
		unsigned k;

		if (!s->receiver)
			continue;
		for (k = 0; k < n; k++)
			if (v[k]->lane == s->lane &&
			    strcmp(v[k]->user_set, s->user_set) == 0)
				break;
		if (k == n)
			v[n++] = s;
	}
	for (unsigned i = 0; streams != NULL && i < n; i++)
		if (json_array_append_new(streams, stream_json(v[i])) != 0) {
			json_decref(streams);
			streams = NULL;
		}
	if (streams == NULL)
		return NULL;
	o = json_pack(
	    "{s:s, s:o, s:s, s:b, s:o, s:b, s:{s:b, s:b}}", "pool", p->name,
	    "pair", p->pair[0] != '\0' ? json_string(p->pair) : json_null(),
	    "state", fsm_failover_state_name(p->state), "rebuilding", n > 0,
	    "streams", streams, "caught_up",
	    p->pair[0] != '\0' && n == 0 && pair_rep != NULL &&
		own_set_caught_up(p, pair_rep),
	    "heard", "pair", pair_rep != NULL, "pool", pool_rep != NULL);
	return o;
}

void rebuild_route(void *module, struct http_request *req,
		   const struct route_params *params)
{
	struct rebuild *r = module;
	const char *name = route_param(params, "pool");
	const struct fsm_pool *p =
	    strlen(name) < FSM_NAME_LEN ? fsm_pool_find(r->d.fsm, name) : NULL;
	struct members_seen *pair_rep, *pool_rep;
	json_t *body;

	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	pair_rep = calloc(2, sizeof *pair_rep);
	if (pair_rep == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	pool_rep = pair_rep + 1;
	body = rebuild_json(
	    p,
	    p->pair[0] != '\0' && r->d.ops->report(r->d.impl, p->pair, pair_rep)
		? pair_rep
		: NULL,
	    r->d.ops->report(r->d.impl, p->name, pool_rep) ? pool_rep : NULL);
	free(pair_rep);
	if (body == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	answer_json(req, 200, body);
}
