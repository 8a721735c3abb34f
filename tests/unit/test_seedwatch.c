/* Tests of agent/seedwatch.c: the rate, the time left, the items left, the
 * events and log lines of a seed's life, the JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/seedwatch.h"

static struct seedwatch_sample sender(uint64_t items, uint64_t bytes,
				      bool active, uint64_t done)
{
	return (struct seedwatch_sample){
	    .role = SEEDWATCH_SENDER,
	    .user_set = "pool-east",
	    .lane = 0,
	    .peer = "pool-east",
	    .active = active,
	    .from_seq = 4242,
	    .items = items,
	    .items_total = 200000,
	    .bytes = bytes,
	    .bytes_total = 80000000,
	    .done = done,
	};
}

static void test_remaining(void **state)
{
	(void)state;
	assert_int_equal(seedwatch_remaining(false, 5, 10), 0);
	assert_int_equal(seedwatch_remaining(true, 5, 10), 5);
	/* every item there, the seed not ended: still one to go */
	assert_int_equal(seedwatch_remaining(true, 10, 10), 1);
	assert_int_equal(seedwatch_remaining(true, 12, 10), 1);
	assert_int_equal(seedwatch_remaining(true, 0, 0), 1);
}

static void test_eta(void **state)
{
	(void)state;
	/* from the bytes when they move */
	assert_int_equal(seedwatch_eta_s(0, 100, 20, 100, 0, 10), 8);
	/* rounded up */
	assert_int_equal(seedwatch_eta_s(0, 100, 25, 100, 0, 10), 8);
	/* from the items when the bytes are not known */
	assert_int_equal(seedwatch_eta_s(40, 100, 0, 0, 20, 0), 3);
	/* nothing moves: unknown */
	assert_int_equal(seedwatch_eta_s(40, 100, 10, 100, 0, 0), -1);
	/* everything there */
	assert_int_equal(seedwatch_eta_s(100, 100, 100, 100, 0, 0), 0);
}

static void test_rate_over_the_window(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x;
	char line[320];
	double is, bs;

	(void)state;
	seedwatch_init(&w);
	x = sender(0, 0, true, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 1000, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_int_equal(w.n, 1);
	seedwatch_rate(&w.v[0], &is, &bs);
	assert_true(is == 0 && bs == 0); /* one sample: no rate yet */
	/* 1000 items and 1 MB a second for 10 s, then twice as fast */
	for (uint64_t t = 1; t <= 10; t++) {
		x = sender(1000 * t, 1000000 * t, true, 0);
		seedwatch_sample(&w, &x, 1000 + 1000 * t, line, sizeof line);
	}
	seedwatch_rate(&w.v[0], &is, &bs);
	assert_true(is == 1000.0);
	assert_true(bs == 1e6);
	for (uint64_t t = 1; t <= 5; t++) {
		x = sender(10000 + 2000 * t, 10000000 + 2000000 * t, true, 0);
		seedwatch_sample(&w, &x, 11000 + 1000 * t, line, sizeof line);
	}
	/* the last 5 s only */
	seedwatch_rate(&w.v[0], &is, &bs);
	assert_true(is == 2000.0);
	assert_true(bs == 2e6);
}

static void test_life_and_lines(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x;
	char line[320];
	int ev;

	(void)state;
	seedwatch_init(&w);
	/* a stream that never seeded is not followed */
	x = sender(0, 0, false, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 0, line, sizeof line),
			 SEEDWATCH_NONE);
	assert_int_equal(w.n, 0);
	assert_false(seedwatch_active(&w));

	x = sender(0, 0, true, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 1000, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_string_equal(line, "seed of pool-east data lane to pool-east "
				  "started from seq 4242: 200000 items, "
				  "80.0 MB");
	assert_true(seedwatch_active(&w));
	/* nothing to say before 5 s */
	x = sender(40000, 15000000, true, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 3000, line, sizeof line),
			 SEEDWATCH_NONE);
	assert_string_equal(line, "");
	x = sender(120000, 45100000, true, 0);
	ev = seedwatch_sample(&w, &x, 6000, line, sizeof line);
	assert_int_equal(ev, SEEDWATCH_PROGRESS);
	/* 45.1 MB in 5 s: 9.0 MB/s; 34.9 MB left: 4 s */
	assert_string_equal(line, "seed of pool-east data lane to pool-east: "
				  "120000 of 200000 items, 45.1 of 80.0 MB, "
				  "9.0 MB/s, eta 4 s");
	/* cut: not done (the sender's count did not move) */
	x = sender(120000, 45100000, false, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 7000, line, sizeof line),
			 SEEDWATCH_CUT);
	assert_string_equal(line, "seed of pool-east data lane to pool-east "
				  "cut at 120000 of 200000 items: it resumes "
				  "there when the link is back");
	assert_true(seedwatch_active(&w)); /* unfinished: still rebuilding */
	/* resumed where it stopped */
	x = sender(120000, 45100000, true, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 9000, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_string_equal(line, "seed of pool-east data lane to pool-east "
				  "resumed from seq 4242 at 120000 of 200000 "
				  "items, 45.1 of 80.0 MB");
	/* done: the sender counted it */
	x = sender(200000, 80000000, false, 1);
	assert_int_equal(seedwatch_sample(&w, &x, 14000, line, sizeof line),
			 SEEDWATCH_ENDED);
	/* seen from its middle: 34.9 MB in 5 s */
	assert_string_equal(line, "seed of pool-east data lane to pool-east "
				  "done: 200000 items, 80.0 MB (the last 34.9 "
				  "MB in 5.0 s, 7.0 MB/s)");
	/* nothing more once ended */
	assert_int_equal(seedwatch_sample(&w, &x, 20000, line, sizeof line),
			 SEEDWATCH_NONE);
	assert_int_equal(w.n, 1);
}

/* The sender is seen seeding before its count is in (totals 0): no
 * "0 items, 0.0 MB" start line, no time left of 0 s; the line comes with
 * the totals. */
static void test_start_waits_for_the_totals(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x;
	char line[320];
	json_t *o;

	(void)state;
	seedwatch_init(&w);
	x = sender(0, 0, true, 0);
	x.from_seq = 50020;
	x.items_total = 0;
	x.bytes_total = 0;
	assert_int_equal(seedwatch_sample(&w, &x, 1000, line, sizeof line),
			 SEEDWATCH_NONE);
	assert_string_equal(line, "");
	assert_true(seedwatch_active(&w)); /* followed meanwhile */
	o = seedwatch_json(&w.v[0]);
	assert_true(json_is_null(json_object_get(o, "eta_s")));
	json_decref(o);
	assert_int_equal(seedwatch_eta_s(0, 0, 0, 0, 0, 0), -1);
	assert_int_equal(seedwatch_eta_s(0, 0, 0, 0, 10, 10), -1);
	/* still counting 6 s on: no progress line either */
	assert_int_equal(seedwatch_sample(&w, &x, 7000, line, sizeof line),
			 SEEDWATCH_NONE);
	assert_string_equal(line, "");
	/* the count is in */
	x.items_total = 2137;
	x.bytes_total = 1068315;
	assert_int_equal(seedwatch_sample(&w, &x, 7100, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_string_equal(line, "seed of pool-east data lane to pool-east "
				  "started from seq 50020: 2137 items, 1.1 "
				  "MB");
	/* once only */
	x.items = 10;
	x.bytes = 5000;
	assert_int_equal(seedwatch_sample(&w, &x, 7200, line, sizeof line),
			 SEEDWATCH_NONE);
	/* a resumed seed counted again: "resumed" once the totals are in */
	x.active = false;
	assert_int_equal(seedwatch_sample(&w, &x, 7300, line, sizeof line),
			 SEEDWATCH_CUT);
	x.active = true;
	x.items_total = 0;
	x.bytes_total = 0;
	assert_int_equal(seedwatch_sample(&w, &x, 7400, line, sizeof line),
			 SEEDWATCH_NONE);
	x.items_total = 2137;
	x.bytes_total = 1068315;
	assert_int_equal(seedwatch_sample(&w, &x, 7500, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_non_null(strstr(line, " resumed from seq 50020 at 10 of 2137"));
	/* an empty user set: its seed ends with totals 0, the end line
	 * alone */
	seedwatch_init(&w);
	x = sender(0, 0, true, 0);
	x.items_total = 0;
	x.bytes_total = 0;
	assert_int_equal(seedwatch_sample(&w, &x, 1000, line, sizeof line),
			 SEEDWATCH_NONE);
	x.active = false;
	x.done = 1;
	assert_int_equal(seedwatch_sample(&w, &x, 2000, line, sizeof line),
			 SEEDWATCH_ENDED);
	assert_non_null(strstr(line, " done: 0 items, 0.0 MB in 1.0 s"));
}

static void test_receiver_side(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x = {
	    .role = SEEDWATCH_RECEIVER,
	    .user_set = "pool-west",
	    .lane = 1,
	    .peer = "pool-west",
	    .active = true,
	    .from_seq = 9,
	    .items = 0,
	    .items_total = 3,
	    .bytes = 0,
	    .bytes_total = 3000000,
	};
	char line[320];

	(void)state;
	seedwatch_init(&w);
	assert_int_equal(seedwatch_sample(&w, &x, 0, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_string_equal(line, "seed of pool-west content lane from "
				  "pool-west started from seq 9: 3 items, "
				  "3.0 MB");
	/* a receiver's seed that is no longer active ended (caught up) */
	x.active = false;
	x.items = 3;
	x.bytes = 3000000;
	assert_int_equal(seedwatch_sample(&w, &x, 2000, line, sizeof line),
			 SEEDWATCH_ENDED);
	assert_non_null(strstr(line, " done: 3 items, 3.0 MB in 2.0 s"));
	/* a receiver closed in the middle of a seed: cut, not done */
	x.active = true;
	x.from_seq = 10;
	x.items = 1;
	assert_int_equal(seedwatch_sample(&w, &x, 3000, line, sizeof line),
			 SEEDWATCH_STARTED);
	x.active = false;
	x.gone = true;
	assert_int_equal(seedwatch_sample(&w, &x, 4000, line, sizeof line),
			 SEEDWATCH_CUT);
	assert_non_null(strstr(line, " cut at 1 of 3 items"));
}

/* A cut seed is unfinished (the copy still lacks items) until it resumes
 * and ends, or a connection streams without a seed; it keeps its last
 * figures meanwhile. */
static void test_cut_is_unfinished(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x = sender(0, 0, true, 0);
	const struct seedwatch_stream *st;
	char line[320];
	json_t *o;

	(void)state;
	seedwatch_init(&w);
	seedwatch_sample(&w, &x, 0, line, sizeof line);
	x = sender(50, 5000, true, 0);
	seedwatch_sample(&w, &x, 1000, line, sizeof line);
	x = sender(50, 5000, false, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 2000, line, sizeof line),
			 SEEDWATCH_CUT);
	st = seedwatch_find(&w, SEEDWATCH_SENDER, "pool-east", 0);
	assert_non_null(st);
	assert_true(st->unfinished);
	assert_true(seedwatch_active(&w));
	assert_null(seedwatch_find(&w, SEEDWATCH_RECEIVER, "pool-east", 0));
	assert_null(seedwatch_find(&w, SEEDWATCH_SENDER, "pool-east", 1));
	/* a sender made anew reports nothing of it: the figures stay */
	x = sender(0, 0, false, 0);
	x.items_total = 0;
	assert_int_equal(seedwatch_sample(&w, &x, 3000, line, sizeof line),
			 SEEDWATCH_NONE);
	assert_int_equal(st->items, 50);
	assert_int_equal(st->items_total, 200000);
	assert_true(st->unfinished);
	o = seedwatch_json(st);
	assert_false(json_is_true(json_object_get(o, "active")));
	assert_true(json_is_null(json_object_get(o, "eta_s")));
	json_decref(o);
	/* settled by a connection without a seed */
	seedwatch_settled(&w, SEEDWATCH_SENDER, "pool-east", 0);
	assert_false(st->unfinished);
	assert_false(seedwatch_active(&w));
	/* cut again, then resumed and ended */
	x = sender(60, 6000, true, 0);
	seedwatch_sample(&w, &x, 4000, line, sizeof line);
	x = sender(60, 6000, false, 0);
	seedwatch_sample(&w, &x, 5000, line, sizeof line);
	assert_true(st->unfinished);
	x = sender(60, 6000, true, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 6000, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_false(st->unfinished);
	x = sender(200000, 80000000, false, 1);
	assert_int_equal(seedwatch_sample(&w, &x, 7000, line, sizeof line),
			 SEEDWATCH_ENDED);
	assert_false(st->unfinished);
	assert_false(seedwatch_active(&w));
}

/* A seed first seen with items stored that was not seen cut there is
 * under way, not resumed (quicker than the samples, or begun before this
 * agent started); one cut at another position is not resumed either. */
static void test_under_way(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x = sender(4096, 1000000, true, 0);
	char line[320];

	(void)state;
	seedwatch_init(&w);
	assert_int_equal(seedwatch_sample(&w, &x, 0, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_string_equal(line, "seed of pool-east data lane to pool-east "
				  "under way from seq 4242 at 4096 of 200000 "
				  "items, 1.0 of 80.0 MB");
	x = sender(5000, 2000000, false, 0);
	assert_int_equal(seedwatch_sample(&w, &x, 500, line, sizeof line),
			 SEEDWATCH_CUT);
	x = sender(5000, 2000000, true, 0);
	x.from_seq = 9999;
	seedwatch_sample(&w, &x, 1000, line, sizeof line);
	assert_non_null(strstr(line, " under way from seq 9999 at 5000 "));
}

/* A seed that starts over from another position is a new seed. */
static void test_new_position_restarts(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x = sender(0, 0, true, 0);
	char line[320];

	(void)state;
	seedwatch_init(&w);
	seedwatch_sample(&w, &x, 0, line, sizeof line);
	x = sender(50, 50, true, 0);
	seedwatch_sample(&w, &x, 1000, line, sizeof line);
	x = sender(0, 0, true, 0);
	x.from_seq = 5000;
	assert_int_equal(seedwatch_sample(&w, &x, 2000, line, sizeof line),
			 SEEDWATCH_STARTED);
	assert_non_null(strstr(line, "started from seq 5000"));
	assert_int_equal(w.v[0].n, 1);
}

static void test_slots(void **state)
{
	struct seedwatch w;
	char line[320];
	char name[32];

	(void)state;
	seedwatch_init(&w);
	for (int i = 0; i < SEEDWATCH_MAX; i++) {
		struct seedwatch_sample x = sender(0, 0, true, 0);

		snprintf(name, sizeof name, "us%d", i);
		x.user_set = name;
		assert_int_equal(
		    seedwatch_sample(&w, &x, (uint64_t)i, line, sizeof line),
		    SEEDWATCH_STARTED);
	}
	/* full of running seeds: one more is not followed */
	{
		struct seedwatch_sample x = sender(0, 0, true, 0);

		x.user_set = "late";
		assert_int_equal(
		    seedwatch_sample(&w, &x, 100, line, sizeof line),
		    SEEDWATCH_NONE);
	}
	/* the one that ended first gives its place */
	for (int i = 0; i < 2; i++) {
		struct seedwatch_sample x = sender(0, 0, false, 1);

		snprintf(name, sizeof name, "us%d", 5 - i);
		x.user_set = name;
		seedwatch_sample(&w, &x, (uint64_t)(200 + i), line,
				 sizeof line);
	}
	{
		struct seedwatch_sample x = sender(0, 0, true, 0);

		x.user_set = "late";
		assert_int_equal(
		    seedwatch_sample(&w, &x, 300, line, sizeof line),
		    SEEDWATCH_STARTED);
		assert_string_equal(w.v[5].user_set, "late");
		assert_string_equal(w.v[4].user_set, "us4");
	}
}

static void test_json(void **state)
{
	struct seedwatch w;
	struct seedwatch_sample x = sender(0, 0, true, 0);
	char line[320];
	json_t *o;

	(void)state;
	seedwatch_init(&w);
	seedwatch_sample(&w, &x, 0, line, sizeof line);
	o = seedwatch_json(&w.v[0]);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "role")),
			    "sender");
	assert_string_equal(json_string_value(json_object_get(o, "lane")),
			    "data");
	assert_true(json_is_true(json_object_get(o, "active")));
	assert_int_equal(json_integer_value(json_object_get(o, "items_total")),
			 200000);
	/* no rate yet: the time left is unknown */
	assert_true(json_is_null(json_object_get(o, "eta_s")));
	json_decref(o);
	x = sender(100000, 40000000, true, 0);
	seedwatch_sample(&w, &x, 2000, line, sizeof line);
	o = seedwatch_json(&w.v[0]);
	assert_true(json_real_value(json_object_get(o, "rate_bytes_s")) == 2e7);
	assert_true(json_real_value(json_object_get(o, "rate_items_s")) == 5e4);
	assert_int_equal(json_integer_value(json_object_get(o, "eta_s")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "from_seq")),
			 4242);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_remaining),
	    cmocka_unit_test(test_eta),
	    cmocka_unit_test(test_start_waits_for_the_totals),
	    cmocka_unit_test(test_rate_over_the_window),
	    cmocka_unit_test(test_life_and_lines),
	    cmocka_unit_test(test_receiver_side),
	    cmocka_unit_test(test_cut_is_unfinished),
	    cmocka_unit_test(test_under_way),
	    cmocka_unit_test(test_new_position_restarts),
	    cmocka_unit_test(test_slots),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
