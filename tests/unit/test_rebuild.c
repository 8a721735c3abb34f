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
	r = rebuild_json(&p, &west, &east, 0);
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
	r = rebuild_json(&p, &west, NULL, 0);
	assert_false(flag(r, "rebuilding"));
	assert_true(flag(r, "caught_up"));
	assert_int_equal(json_array_size(json_object_get(r, "streams")), 0);
	assert_false(flag(json_object_get(r, "heard"), "pool"));
	json_decref(r);

	/* records left of the pool's user set */
	west.sets[0].lag_records = 1;
	r = rebuild_json(&p, &west, NULL, 0);
	assert_false(flag(r, "caught_up"));
	json_decref(r);
	west.sets[0].lag_records = 0;
	/* a stream of it not connected (before the handshake) */
	snprintf(west.streams[1].state, sizeof west.streams[1].state, "final");
	r = rebuild_json(&p, &west, NULL, 0);
	assert_false(flag(r, "caught_up"));
	json_decref(r);
	snprintf(west.streams[1].state, sizeof west.streams[1].state, "steady");
	/* a set that says it seeds, before its seed is in the list */
	west.sets[1].seeding = true;
	r = rebuild_json(&p, &west, NULL, 0);
	assert_false(flag(r, "caught_up"));
	json_decref(r);
	west.sets[1].seeding = false;
	/* no report of the pair: unknown, so not caught up */
	r = rebuild_json(&p, NULL, NULL, 0);
	assert_false(flag(r, "caught_up"));
	assert_false(flag(json_object_get(r, "heard"), "pair"));
	json_decref(r);
	/* the receiver alone reports a seed that runs */
	{
		struct members_seen east;

		memset(&east, 0, sizeof east);
		add_seed(&east, "pool-east", 1, true, 3, 1);
		r = rebuild_json(&p, &west, &east, 0);
		assert_true(flag(r, "rebuilding"));
		assert_false(flag(r, "caught_up"));
		json_decref(r);
	}
}

#define MS 1000000ULL

/* The pair's sender seed s of pool-east's data lane from from_seq at
 * bytes of 1,068,315 (items as bytes / 500) */
static struct members_seed_report *seed_at(struct members_seen *rep,
					   bool receiver, int lane,
					   uint64_t from_seq, uint64_t bytes)
{
	struct members_seed_report *r = &rep->seeds[rep->n_seeds];

	add_seed(rep, "pool-east", lane, receiver, bytes / 500, 3);
	r->from_seq = from_seq;
	r->bytes = bytes;
	r->items_total = 2137;
	r->bytes_total = 1068315;
	return r;
}

static json_t *stream_of(json_t *r, const char *lane)
{
	size_t i;
	json_t *s;

	json_array_foreach (json_object_get(r, "streams"), i, s)
		if (strcmp(json_string_value(json_object_get(s, "lane")),
			   lane) == 0)
			return s;
	return NULL;
}

static json_int_t int_of(json_t *o, const char *key)
{
	assert_true(json_is_integer(json_object_get(o, key)));
	return json_integer_value(json_object_get(o, key));
}

/* The seed of the data lane ended at the pair (answered live there), the
 * pool's last report (east killed since) still shows it running with
 * lower figures: it is over; the content lane's seed, cut, still runs. */
static void test_ended_not_from_stale_receiver(void **state)
{
	struct fsm_pool p = pool("pool-west");
	struct members_seen west, east;
	struct members_seed_report *d;
	uint64_t now = 1000000 * MS;
	json_t *r, *s;

	(void)state;
	memset(&west, 0, sizeof west);
	memset(&east, 0, sizeof east);
	west.last_ns = now;
	east.last_ns = now - 2500 * MS;
	add_set(&west, "pool-east", 10, true);
	add_stream(&west, "pool-east", "error");
	d = seed_at(&west, false, 0, 50020, 1068315);
	d->ended = true;
	seed_at(&west, false, 1, 50020, 4000000)->bytes_total = 9000000;
	seed_at(&east, true, 0, 50020, 519588);
	seed_at(&east, true, 1, 50020, 3000000)->bytes_total = 9000000;
	r = rebuild_json(&p, &west, &east, now);
	assert_non_null(r);
	assert_true(flag(r, "rebuilding"));
	assert_int_equal(json_array_size(json_object_get(r, "streams")), 1);
	assert_null(stream_of(r, "data"));
	s = stream_of(r, "content");
	assert_non_null(s);
	assert_int_equal(int_of(s, "bytes"), 4000000);
	assert_int_equal(int_of(s, "from_seq"), 50020);
	/* how old each side's figures are */
	assert_int_equal(int_of(json_object_get(s, "age_ms"), "sender"), 0);
	assert_int_equal(int_of(json_object_get(s, "age_ms"), "receiver"),
			 2500);
	assert_int_equal(int_of(json_object_get(r, "age_ms"), "pair"), 0);
	assert_int_equal(int_of(json_object_get(r, "age_ms"), "pool"), 2500);
	json_decref(r);

	/* the receiver saw the end, the sender was cut before its last ack:
	 * over as well */
	d->ended = false;
	east.seeds[0].ended = true;
	r = rebuild_json(&p, &west, &east, now);
	assert_null(stream_of(r, "data"));
	json_decref(r);
}

/* The pair, heard after the pool, has the stream connected without a
 * seed: the pool's older report of one does not show it running. */
static void test_connected_pair_overrides_older_receiver(void **state)
{
	struct fsm_pool p = pool("pool-west");
	struct members_seen west, east;
	uint64_t now = 1000000 * MS;
	json_t *r;

	(void)state;
	memset(&west, 0, sizeof west);
	memset(&east, 0, sizeof east);
	west.last_ns = now - 100 * MS;
	east.last_ns = now - 2000 * MS;
	add_set(&west, "pool-east", 0, false);
	add_stream(&west, "pool-east", "steady");
	snprintf(west.streams[0].category, sizeof west.streams[0].category,
		 "user_data");
	seed_at(&east, true, 0, 50020, 519588);
	r = rebuild_json(&p, &west, &east, now);
	assert_false(flag(r, "rebuilding"));
	assert_int_equal(json_array_size(json_object_get(r, "streams")), 0);
	json_decref(r);

	/* the pool heard last: its seed runs (the pair's handshake is yet
	 * to come) */
	east.last_ns = now;
	r = rebuild_json(&p, &west, &east, now);
	assert_true(flag(r, "rebuilding"));
	assert_non_null(stream_of(r, "data"));
	json_decref(r);
	/* a stream of another lane connected says nothing of this one */
	east.last_ns = now - 2000 * MS;
	snprintf(west.streams[0].category, sizeof west.streams[0].category,
		 "content");
	r = rebuild_json(&p, &west, &east, now);
	assert_true(flag(r, "rebuilding"));
	json_decref(r);
}

/* One seed reported by both sides: its figures never go back, whichever
 * side was heard last; two seeds: the one heard last. */
static void test_same_seed_never_backwards(void **state)
{
	struct fsm_pool p = pool("pool-west");
	struct members_seen west, east;
	struct members_seed_report *sw, *se;
	uint64_t now = 1000000 * MS;
	json_t *r, *s;

	(void)state;
	memset(&west, 0, sizeof west);
	memset(&east, 0, sizeof east);
	west.last_ns = now - 2000 * MS;
	east.last_ns = now - 100 * MS;
	add_set(&west, "pool-east", 10, true);
	add_stream(&west, "pool-east", "backlog");
	sw = seed_at(&west, false, 0, 50020, 1009692);
	se = seed_at(&east, true, 0, 50020, 519588);
	se->eta_s = 9;
	r = rebuild_json(&p, &west, &east, now);
	s = stream_of(r, "data");
	assert_non_null(s);
	assert_int_equal(int_of(s, "bytes"), 1009692);
	assert_int_equal(int_of(s, "items"), 1009692 / 500);
	assert_int_equal(int_of(s, "bytes_total"), 1068315);
	assert_int_equal(int_of(s, "eta_s"), 9); /* the side heard last */
	json_decref(r);
	/* the other way round */
	sw->bytes = 519588;
	sw->items = 519588 / 500;
	se->bytes = 1009692;
	se->items = 1009692 / 500;
	west.last_ns = now;
	east.last_ns = now - 2000 * MS;
	r = rebuild_json(&p, &west, &east, now);
	assert_int_equal(int_of(stream_of(r, "data"), "bytes"), 1009692);
	json_decref(r);
	/* a new seed at the receiver (another position), heard last: its
	 * figures, not the older one's */
	se->from_seq = 60000;
	se->bytes = 1000;
	se->items = 2;
	east.last_ns = now;
	west.last_ns = now - 2000 * MS;
	r = rebuild_json(&p, &west, &east, now);
	s = stream_of(r, "data");
	assert_int_equal(int_of(s, "from_seq"), 60000);
	assert_int_equal(int_of(s, "bytes"), 1000);
	json_decref(r);
	/* the same, the sender heard last */
	east.last_ns = now - 2000 * MS;
	west.last_ns = now;
	r = rebuild_json(&p, &west, &east, now);
	s = stream_of(r, "data");
	assert_int_equal(int_of(s, "from_seq"), 50020);
	assert_int_equal(int_of(s, "bytes"), 519588);
	json_decref(r);
	/* the receiver counts its bytes its own way (past the sender's
	 * total): the figures of one side, never past the totals */
	se->from_seq = 50020;
	sw->items = 0;
	sw->bytes = 0;
	se->items = 1;
	se->bytes = 900124;
	sw->items_total = se->items_total = 1;
	sw->bytes_total = se->bytes_total = 900031;
	r = rebuild_json(&p, &west, &east, now);
	s = stream_of(r, "data");
	assert_int_equal(int_of(s, "items"), 1);
	assert_int_equal(int_of(s, "bytes"), 900031);
	json_decref(r);
}

static void test_unpaired(void **state)
{
	struct fsm_pool p = pool("");
	json_t *r;

	(void)state;
	p.state = FSM_STATE_NORMAL;
	r = rebuild_json(&p, NULL, NULL, 0);
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
	    cmocka_unit_test(test_ended_not_from_stale_receiver),
	    cmocka_unit_test(test_connected_pair_overrides_older_receiver),
	    cmocka_unit_test(test_same_seed_never_backwards),
	    cmocka_unit_test(test_unpaired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
