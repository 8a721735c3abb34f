/* Tests of agent/rebuild.c: the answer of GET /v1/pools/{pool}/rebuild
 * from the pair's and the pool's reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/rebuild.h"

static struct fsm_pool pool(const char *state_pair)
{
	struct fsm_pool p;

	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "pool-east");
	snprintf(p.pair, sizeof p.pair, "%s", state_pair);
	snprintf(p.owner, sizeof p.owner, "pool-west");
	p.state = FSM_STATE_RECOVERING;
	return p;
}

static void add_set(struct members_seen *s, const char *us, uint64_t lag,
		    bool seeding)
{
	struct members_set_report *r = &s->sets[s->n_sets++];

	snprintf(r->user_set, sizeof r->user_set, "%s", us);
	r->lag_records = lag;
	r->seeding = seeding;
}

static void add_stream(struct members_seen *s, const char *us,
		       const char *state)
{
	struct members_stream_report *r = &s->streams[s->n_streams++];

	snprintf(r->user_set, sizeof r->user_set, "%s", us);
	snprintf(r->state, sizeof r->state, "%s", state);
}

static void add_seed(struct members_seen *s, const char *us, int lane,
		     bool receiver, uint64_t items, int64_t eta)
{
	struct members_seed_report *r = &s->seeds[s->n_seeds++];

	memset(r, 0, sizeof *r);
	snprintf(r->user_set, sizeof r->user_set, "%s", us);
	r->lane = lane;
	r->receiver = receiver;
	r->items = items;
	r->items_total = 200000;
	r->bytes = items * 400;
	r->bytes_total = 80000000;
	r->rate_items_s = 1000;
	r->rate_bytes_s = 400000;
	r->eta_s = eta;
}

static bool flag(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static void test_being_rebuilt(void **state)
{
	struct fsm_pool p = pool("pool-west");
	struct members_seen west, east;
	json_t *r, *s;

	(void)state;
	memset(&west, 0, sizeof west);
	memset(&east, 0, sizeof east);
	add_set(&west, "pool-east", 80000, true);
	add_stream(&west, "pool-east", "backlog");
	add_seed(&west, "pool-east", 0, false, 120000, 7);
	/* the receiver's side of the same stream, and one only it reports */
	add_seed(&east, "pool-east", 0, true, 119000, 8);
	add_seed(&east, "pool-west", 1, true, 5, -1);
	/* a seed east sends (to west) is not east's rebuild */
	add_seed(&east, "cms", 0, false, 1, 1);
	r = rebuild_json(&p, &west, &east);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "pool")),
			    "pool-east");
	assert_string_equal(json_string_value(json_object_get(r, "pair")),
			    "pool-west");
	assert_string_equal(json_string_value(json_object_get(r, "state")),
			    "recovering");
	assert_true(flag(r, "rebuilding"));
	assert_false(flag(r, "caught_up"));
	assert_int_equal(json_array_size(json_object_get(r, "streams")), 2);
	/* the sender's figures where both sides reported */
	s = json_array_get(json_object_get(r, "streams"), 0);
	assert_string_equal(json_string_value(json_object_get(s, "user_set")),
			    "pool-east");
	assert_string_equal(json_string_value(json_object_get(s, "lane")),
			    "data");
	assert_int_equal(json_integer_value(json_object_get(s, "items")),
			 120000);
	assert_int_equal(json_integer_value(json_object_get(s, "items_total")),
			 200000);
	assert_int_equal(json_integer_value(json_object_get(s, "bytes_total")),
			 80000000);
	assert_true(json_real_value(json_object_get(s, "rate_bytes_s")) ==
		    400000);
	assert_int_equal(json_integer_value(json_object_get(s, "eta_s")), 7);
	s = json_array_get(json_object_get(r, "streams"), 1);
	assert_string_equal(json_string_value(json_object_get(s, "user_set")),
			    "pool-west");
	assert_string_equal(json_string_value(json_object_get(s, "lane")),
			    "content");
	assert_true(json_is_null(json_object_get(s, "eta_s")));
	assert_true(flag(json_object_get(r, "heard"), "pair"));
	assert_true(flag(json_object_get(r, "heard"), "pool"));
	json_decref(r);
}

static void test_caught_up(void **state)
{
	struct fsm_pool p = pool("pool-west");
	struct members_seen west;
	json_t *r;

	(void)state;
	memset(&west, 0, sizeof west);
	add_set(&west, "pool-east", 0, false);
	add_set(&west, "pool-west", 3, false); /* its own: not waited for */
	add_stream(&west, "pool-east", "steady");
	add_stream(&west, "pool-east", "steady");
	r = rebuild_json(&p, &west, NULL);
	assert_false(flag(r, "rebuilding"));
	assert_true(flag(r, "caught_up"));
	assert_int_equal(json_array_size(json_object_get(r, "streams")), 0);
	assert_false(flag(json_object_get(r, "heard"), "pool"));
	json_decref(r);

	/* records left of the pool's user set */
	west.sets[0].lag_records = 1;
	r = rebuild_json(&p, &west, NULL);
	assert_false(flag(r, "caught_up"));
	json_decref(r);
	west.sets[0].lag_records = 0;
	/* a stream of it not connected (before the handshake) */
	snprintf(west.streams[1].state, sizeof west.streams[1].state, "final");
	r = rebuild_json(&p, &west, NULL);
	assert_false(flag(r, "caught_up"));
	json_decref(r);
	snprintf(west.streams[1].state, sizeof west.streams[1].state, "steady");
	/* a set that says it seeds, before its seed is in the list */
	west.sets[1].seeding = true;
	r = rebuild_json(&p, &west, NULL);
	assert_false(flag(r, "caught_up"));
	json_decref(r);
	west.sets[1].seeding = false;
	/* no report of the pair: unknown, so not caught up */
	r = rebuild_json(&p, NULL, NULL);
	assert_false(flag(r, "caught_up"));
	assert_false(flag(json_object_get(r, "heard"), "pair"));
	json_decref(r);
	/* the receiver alone reports a seed that runs */
	{
		struct members_seen east;

		memset(&east, 0, sizeof east);
		add_seed(&east, "pool-east", 1, true, 3, 1);
		r = rebuild_json(&p, &west, &east);
		assert_true(flag(r, "rebuilding"));
		assert_false(flag(r, "caught_up"));
		json_decref(r);
	}
}

static void test_unpaired(void **state)
{
	struct fsm_pool p = pool("");
	json_t *r;

	(void)state;
	p.state = FSM_STATE_NORMAL;
	r = rebuild_json(&p, NULL, NULL);
	assert_true(json_is_null(json_object_get(r, "pair")));
	assert_string_equal(json_string_value(json_object_get(r, "state")),
			    "normal");
	assert_false(flag(r, "rebuilding"));
	assert_false(flag(r, "caught_up"));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_being_rebuilt),
	    cmocka_unit_test(test_caught_up),
	    cmocka_unit_test(test_unpaired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
