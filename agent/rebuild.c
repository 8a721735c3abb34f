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

/* A seed as shown: its figures (merged from both sides when both report
 * it) and the age of each side's report of it (-1: not reported). */
struct shown {
	struct members_seed_report r;
	int64_t sender_ms, receiver_ms;
};

static json_t *age_json(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

static json_t *stream_json(const struct shown *v)
{
	struct members_seed_report c = v->r;
	const struct members_seed_report *s = &c;

	/* never past the totals (the receiver counts its bytes its own way) */
	if (c.items_total > 0 && c.items > c.items_total)
		c.items = c.items_total;
	if (c.bytes_total > 0 && c.bytes > c.bytes_total)
		c.bytes = c.bytes_total;
	json_t *o = json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:{s:o, s:o}}",
	    "user_set", s->user_set, "lane", s->lane == 1 ? "content" : "data",
	    "from_seq", (json_int_t)s->from_seq, "items", (json_int_t)s->items,
	    "items_total", (json_int_t)s->items_total, "bytes",
	    (json_int_t)s->bytes, "bytes_total", (json_int_t)s->bytes_total,
	    "rate_items_s", s->rate_items_s, "rate_bytes_s", s->rate_bytes_s,
	    "age_ms", "sender", age_json(v->sender_ms), "receiver",
	    age_json(v->receiver_ms));

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

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Milliseconds since rep was heard at now_ns; -1 without rep. */
static int64_t age_ms(const struct members_seen *rep, uint64_t now_ns)
{
	if (rep == NULL)
		return -1;
	return now_ns > rep->last_ns
		   ? (int64_t)((now_ns - rep->last_ns) / 1000000ULL)
		   : 0;
}

/* Whether the pair's report has the stream of (user_set, lane) connected:
 * its handshake resumes any seed the pool's copy has in progress, so
 * without a seed of it reported there is none. */
static bool pair_connected(const struct members_seen *pair_rep,
			   const char *user_set, int lane)
{
	for (unsigned i = 0; i < pair_rep->n_streams; i++) {
		const struct members_stream_report *st = &pair_rep->streams[i];

		if (strcmp(st->user_set, user_set) == 0 &&
		    (strcmp(st->category, "content") == 0) == (lane == 1) &&
		    (strcmp(st->state, "steady") == 0 ||
		     strcmp(st->state, "backlog") == 0 ||
		     strcmp(st->state, "seeding") == 0))
			return true;
	}
	return false;
}

/* The one seed of (sender s, receiver r) both reported, the same seed:
 * the figures of the side further on (the two count bytes apart: never
 * mixed), so they never go below either side's, with the rate and time
 * left of the side heard last. */
static void merge_same(struct shown *v, const struct members_seed_report *s,
		       const struct members_seed_report *r, bool r_fresher)
{
	const struct members_seed_report *ahead =
	    r->items > s->items || (r->items == s->items && r->bytes > s->bytes)
		? r
		: s;
	const struct members_seed_report *fresh = r_fresher ? r : s;

	v->r = *fresh;
	v->r.from_seq = max_u64(s->from_seq, r->from_seq);
	v->r.items = ahead->items;
	v->r.bytes = ahead->bytes;
	v->r.items_total = max_u64(s->items_total, r->items_total);
	v->r.bytes_total = max_u64(s->bytes_total, r->bytes_total);
	if ((v->r.items_total > 0 || v->r.bytes_total > 0) &&
	    v->r.items >= v->r.items_total && v->r.bytes >= v->r.bytes_total)
		v->r.eta_s = 0;
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

/* Decide what to show of the seed of (user set, lane) from the sender's
 * report s (the pair's, NULL when none) and the receiver's r (the
 * pool's, NULL when none), each side's report ms old. Returns whether it
 * runs, with its figures in *v. */
static bool decide(struct shown *v, const struct members_seed_report *s,
		   int64_t s_ms, const struct members_seed_report *r,
		   int64_t r_ms, const struct members_seen *pair_rep)
{
	bool r_fresher = r != NULL && (s == NULL || r_ms < s_ms);

	memset(v, 0, sizeof *v);
	v->sender_ms = s != NULL ? s_ms : -1;
	v->receiver_ms = r != NULL ? r_ms : -1;
	if (s != NULL && r != NULL) {
		/* the same seed when both name its position (or one of them
		 * does not say it): it is over once either side saw its end */
		if (s->from_seq == r->from_seq || s->from_seq == 0 ||
		    r->from_seq == 0) {
			if (s->ended || r->ended)
				return false;
			merge_same(v, s, r, r_fresher);
			return true;
		}
		/* two seeds: the one of the report heard last */
		v->r = r_fresher ? *r : *s;
		return !v->r.ended;
	}
	if (s != NULL) {
		v->r = *s;
		return !s->ended;
	}
	/* the receiver's side alone: not from a report older than the
	 * pair's whose stream is connected without that seed */
	if (r->ended || (pair_rep != NULL && s_ms >= 0 && s_ms < r_ms &&
			 pair_connected(pair_rep, r->user_set, r->lane)))
		return false;
	v->r = *r;
	return true;
}

/* The seed of (user_set, lane) of role in rep, or NULL. */
static const struct members_seed_report *seed_of(const struct members_seen *rep,
						 bool receiver,
						 const char *user_set, int lane)
{
	for (unsigned i = 0; rep != NULL && i < rep->n_seeds; i++) {
		const struct members_seed_report *x = &rep->seeds[i];

		if (x->receiver == receiver && x->lane == lane &&
		    strcmp(x->user_set, user_set) == 0)
			return x;
	}
	return NULL;
}

json_t *rebuild_json(const struct fsm_pool *p,
		     const struct members_seen *pair_rep,
		     const struct members_seen *pool_rep, uint64_t now_ns)
{
	struct shown v[2 * MEMBERS_SEEDS];
	unsigned n = 0;
	int64_t pair_ms = age_ms(pair_rep, now_ns);
	int64_t pool_ms = age_ms(pool_rep, now_ns);
	json_t *streams = json_array();
	json_t *o;

	/* the pair's seeds toward the pool, then the pool's own side of
	 * those the pair did not report */
	for (unsigned i = 0; pair_rep != NULL && i < pair_rep->n_seeds; i++) {
		const struct members_seed_report *s = &pair_rep->seeds[i];

		if (s->receiver)
			continue;
		if (decide(&v[n], s, pair_ms,
			   seed_of(pool_rep, true, s->user_set, s->lane),
			   pool_ms, pair_rep))
			n++;
	}
	for (unsigned i = 0; pool_rep != NULL && i < pool_rep->n_seeds; i++) {
		const struct members_seed_report *r = &pool_rep->seeds[i];

		if (!r->receiver ||
		    seed_of(pair_rep, false, r->user_set, r->lane) != NULL)
			continue;
		if (decide(&v[n], NULL, pair_ms, r, pool_ms, pair_rep))
			n++;
	}
	for (unsigned i = 0; streams != NULL && i < n; i++)
		if (json_array_append_new(streams, stream_json(&v[i])) != 0) {
			json_decref(streams);
			streams = NULL;
		}
	if (streams == NULL)
		return NULL;
	o = json_pack(
	    "{s:s, s:o, s:s, s:b, s:o, s:b, s:{s:b, s:b}, s:{s:o, s:o}}",
	    "pool", p->name, "pair",
	    p->pair[0] != '\0' ? json_string(p->pair) : json_null(), "state",
	    fsm_failover_state_name(p->state), "rebuilding", n > 0, "streams",
	    streams, "caught_up",
	    p->pair[0] != '\0' && n == 0 && pair_rep != NULL &&
		own_set_caught_up(p, pair_rep),
	    "heard", "pair", pair_rep != NULL, "pool", pool_rep != NULL,
	    "age_ms", "pair", age_json(pair_ms), "pool", age_json(pool_ms));
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
	    r->d.ops->report(r->d.impl, p->name, pool_rep) ? pool_rep : NULL,
	    r->d.ops->now_ns(r->d.impl));
	free(pair_rep);
	if (body == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	answer_json(req, 200, body);
}
