/* Tests of agent/dataplane_sync.c: synchronous mode's waits. A write
 * waits for the pair's acknowledgement at or past its sequence; the pair
 * silent for sync_timeout turns the mode to async (fallback), answering
 * every waiting write not replicated, until it has caught up. A fake
 * clock; no store, no stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/dataplane_internal.h"

#define MS 1000000ULL

static uint64_t now_ns;

static uint64_t fake_wall(void *data)
{
	(void)data;
	return now_ns / MS;
}

static uint64_t fake_mono(void *data)
{
	(void)data;
	return now_ns;
}

static const struct clock fake_clock = {fake_wall, fake_mono, NULL};

/* What a write's release said: 0 not yet, 1 replicated, 2 local (durable
 * here, no acknowledgement of the pair), 3 failed. */
struct write {
	int released;
	int calls;
};

static void released(void *arg, enum dataplane_release how)
{
	struct write *w = arg;

	w->calls++;
	w->released = how == DP_RELEASE_REPLICATED ? 1
		      : how == DP_RELEASE_LOCAL	   ? 2
						   : 3;
}

/* A data plane in sync mode with a 1000 ms timeout. */
static struct dataplane *dp_sync(void)
{
	struct dataplane *dp = calloc(1, sizeof *dp);

	assert_non_null(dp);
	dp->deps.clock = &fake_clock;
	dp->state = DP_OPEN;
	dp->sync = SYNC_OFF;
	dp->sync_timeout_ms = 1000;
	now_ns = 10000 * MS;
	dataplane_sync_follow(dp, true, 1000, "");
	assert_int_equal(dp->sync, SYNC_ON);
	return dp;
}

static void test_ack_at_or_past_seq_releases(void **state)
{
	struct dataplane *dp = dp_sync();
	struct write a = {0}, b = {0}, c = {0};

	(void)state;
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 5, released, &a),
			 1);
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 7, released, &b),
			 1);
	assert_int_equal(dataplane_sync_wait(dp, "east", 1, 2, released, &c),
			 1);
	assert_int_equal(dp->n_waiting, 3);
	/* below the sequence, another lane, another user set: nothing */
	dataplane_sync_acked(dp, "east", 0, 4);
	dataplane_sync_acked(dp, "east", 1, 1);
	dataplane_sync_acked(dp, "west", 0, 100);
	assert_int_equal(a.calls + b.calls + c.calls, 0);
	/* at the sequence: that write only */
	dataplane_sync_acked(dp, "east", 0, 5);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 1);
	assert_int_equal(b.calls, 0);
	assert_int_equal(dp->n_waiting, 2);
	/* past it: the next; a repeated ack releases nothing twice */
	dataplane_sync_acked(dp, "east", 0, 9);
	dataplane_sync_acked(dp, "east", 0, 9);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.released, 1);
	dataplane_sync_acked(dp, "east", 1, 3);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.released, 1);
	assert_int_equal(dp->n_waiting, 0);
	assert_null(dp->waiting);
	/* the queue still works after it emptied (its tail was reset) */
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 10, released, &a),
			 1);
	dataplane_sync_acked(dp, "east", 0, 10);
	assert_int_equal(a.calls, 2);
	free(dp);
}

static void test_timeout_falls_back(void **state)
{
	struct dataplane *dp = dp_sync();
	struct write a = {0}, b = {0}, late = {0};
	uint64_t t0 = now_ns;

	(void)state;
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 1, released, &a),
			 1);
	now_ns += 500 * MS;
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 2, released, &b),
			 1);
	/* the oldest has waited exactly the timeout: still waiting */
	now_ns = t0 + 1000 * MS;
	dataplane_sync_check(dp, now_ns, false);
	assert_int_equal(dp->sync, SYNC_ON);
	assert_int_equal(a.calls, 0);
	/* past it: fallback, every wait answered not replicated, once */
	now_ns = t0 + 1000 * MS + 1;
	dataplane_sync_check(dp, now_ns, false);
	assert_int_equal(dp->sync, SYNC_FALLBACK);
	assert_int_equal(dp->sync_fallbacks, 1);
	assert_string_equal(dataplane_sync_name(dp), "async (fallback)");
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.released, 2);
	assert_int_equal(dp->n_waiting, 0);
	/* in fallback a write is answered at once */
	assert_int_equal(
	    dataplane_sync_wait(dp, "east", 0, 3, released, &late), 0);
	/* a late ack changes nothing */
	dataplane_sync_acked(dp, "east", 0, 3);
	assert_int_equal(late.calls, 0);
	assert_int_equal(a.calls, 1);
	/* back to sync only once the pair has caught up */
	dataplane_sync_check(dp, now_ns + 1000 * MS, false);
	assert_int_equal(dp->sync, SYNC_FALLBACK);
	dataplane_sync_check(dp, now_ns + 2000 * MS, true);
	assert_int_equal(dp->sync, SYNC_ON);
	assert_int_equal(dp->sync_fallbacks, 1);
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 4, released, &late),
			 1);
	dataplane_sync_release_all(dp, DP_RELEASE_LOCAL);
	assert_int_equal(late.calls, 1);
	assert_int_equal(late.released, 2);
	free(dp);
}

/* A seed of the pair's copy: the pair acknowledges nothing before its
 * end, so sync mode falls back at once (not after the timeout), and
 * returns only once caught up. */
static void test_seed_falls_back_at_once(void **state)
{
	struct dataplane *dp = dp_sync();
	struct write a = {0};

	(void)state;
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 1, released, &a),
			 1);
	dataplane_sync_seeding(dp);
	assert_int_equal(dp->sync, SYNC_FALLBACK);
	assert_int_equal(dp->sync_fallbacks, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	/* again: nothing more */
	dataplane_sync_seeding(dp);
	assert_int_equal(dp->sync_fallbacks, 1);
	dataplane_sync_check(dp, now_ns, true);
	assert_int_equal(dp->sync, SYNC_ON);
	/* async mode is left alone */
	dataplane_sync_follow(dp, false, 1000, "the pair's mode is async");
	dataplane_sync_seeding(dp);
	assert_int_equal(dp->sync, SYNC_OFF);
	free(dp);
}

/* The lag of a stream that seeds is at least what the seed has left. */
static void test_seed_lag(void **state)
{
	struct sender_stats st;

	(void)state;
	memset(&st, 0, sizeof st);
	st.lag_records = 3;
	st.lag_bytes = 30;
	dataplane_seed_lag(&st); /* no seed: as it was */
	assert_int_equal(st.lag_records, 3);
	assert_int_equal(st.lag_bytes, 30);
	st.seeding = true;
	st.seed_items = 120000;
	st.seed_items_total = 200000;
	st.seed_bytes = 45100000;
	st.seed_bytes_total = 80000000;
	dataplane_seed_lag(&st);
	assert_int_equal(st.lag_records, 80000);
	assert_int_equal(st.lag_bytes, 34900000);
	/* every item stored, the seed not ended: still not caught up */
	memset(&st, 0, sizeof st);
	st.seeding = true;
	st.seed_items = st.seed_items_total = 7;
	dataplane_seed_lag(&st);
	assert_int_equal(st.lag_records, 1);
	/* a larger lag stays */
	st.lag_records = 10;
	dataplane_seed_lag(&st);
	assert_int_equal(st.lag_records, 10);
}

/* A seed cut before its end (the link lost) still counts: the stream is
 * seeding with the seed's last figures until a connection settles it. */
static void test_cut_seed_still_seeds(void **state)
{
	struct dataplane *dp = dp_sync();
	struct seedwatch_sample x = {
	    .role = SEEDWATCH_SENDER,
	    .user_set = "east",
	    .lane = 0,
	    .peer = "west",
	    .active = true,
	    .from_seq = 9,
	    .items = 40,
	    .items_total = 100,
	    .bytes = 400,
	    .bytes_total = 1000,
	};
	struct sender_stats st;
	char line[320];

	(void)state;
	seedwatch_sample(&dp->seeds, &x, 0, line, sizeof line);
	x.active = false;
	assert_int_equal(
	    seedwatch_sample(&dp->seeds, &x, 500, line, sizeof line),
	    SEEDWATCH_CUT);
	memset(&st, 0, sizeof st);
	snprintf(st.user_set, sizeof st.user_set, "east");
	st.lane = 1; /* another lane: nothing */
	dataplane_seed_unfinished(dp, &st);
	assert_false(st.seeding);
	st.lane = 0;
	dataplane_seed_unfinished(dp, &st);
	assert_true(st.seeding);
	assert_int_equal(st.seed_items, 40);
	assert_int_equal(st.seed_items_total, 100);
	dataplane_seed_lag(&st);
	assert_int_equal(st.lag_records, 60);
	assert_int_equal(st.lag_bytes, 600);
	seedwatch_settled(&dp->seeds, SEEDWATCH_SENDER, "east", 0);
	memset(&st, 0, sizeof st);
	snprintf(st.user_set, sizeof st.user_set, "east");
	dataplane_seed_unfinished(dp, &st);
	assert_false(st.seeding);
	free(dp);
}

static void test_no_wait_no_fallback(void **state)
{
	struct dataplane *dp = dp_sync();

	(void)state;
	/* nothing waiting: a silent pair is no reason to fall back */
	dataplane_sync_check(dp, now_ns + 60000 * MS, false);
	assert_int_equal(dp->sync, SYNC_ON);
	assert_int_equal(dp->sync_fallbacks, 0);
	free(dp);
}

static void test_async_answers_at_once(void **state)
{
	struct dataplane *dp = dp_sync();
	struct write a = {0}, b = {0};

	(void)state;
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 1, released, &a),
			 1);
	/* the pair's mode turns async: the waiting write is answered */
	dataplane_sync_follow(dp, false, 1000, "the pair's mode is async");
	assert_int_equal(dp->sync, SYNC_OFF);
	assert_string_equal(dataplane_sync_name(dp), "async");
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	assert_int_equal(dp->sync_fallbacks, 0);
	assert_int_equal(dataplane_sync_wait(dp, "east", 0, 2, released, &b),
			 0);
	assert_int_equal(b.calls, 0);
	/* the timeout follows the pair's */
	dataplane_sync_follow(dp, true, 250, "");
	assert_int_equal(dp->sync, SYNC_ON);
	assert_int_equal(dp->sync_timeout_ms, 250);
	free(dp);
}

static void test_unpaired_answers_at_once(void **state)
{
	struct dataplane *dp = dp_sync();
	struct write a = {0};

	(void)state;
	/* sync mode, but no sender (the streams are not up): not held */
	assert_null(dp->sender);
	assert_int_equal(
	    dataplane_after_write(dp, "east", 0, 1, released, &a), 0);
	assert_int_equal(dp->n_waiting, 0);
	free(dp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ack_at_or_past_seq_releases),
	    cmocka_unit_test(test_timeout_falls_back),
	    cmocka_unit_test(test_no_wait_no_fallback),
	    cmocka_unit_test(test_seed_falls_back_at_once),
	    cmocka_unit_test(test_seed_lag),
	    cmocka_unit_test(test_cut_seed_still_seeds),
	    cmocka_unit_test(test_async_answers_at_once),
	    cmocka_unit_test(test_unpaired_answers_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
