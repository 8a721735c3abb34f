/* Tests of agent/dataplane_lsync.c: the local synchronous copy at the
 * writer. A write waits for the target's acknowledgement (the committed
 * sync standby, or a caught-up candidate chosen here); a target lost is
 * dropped by asking the leader for none, and the waiting writes are
 * answered only once that is known committed; an unknown outcome keeps
 * them waiting and is asked again; local_sync = false never waits. A
 * fake clock, a fake leader (the asks are recorded, the test answers
 * them), no store, no stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/dataplane_internal.h"
#include "agent/hclient.h"
#include "agent/lsync_client.h"

#define MS 1000000ULL
#define TOKEN 5

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

/* ---- the fake leader: what was asked, answered by the test ---- */

struct leader {
	unsigned asks;
	char pool[FSM_NAME_LEN];
	uint64_t token;
	uint64_t standby;
	char reason[256];
	dataplane_ask_cb cb; /* the ask in flight, or NULL */
	void *arg;
};

static struct leader leader;

static int fake_ask(void *impl, const char *pool, uint64_t writer_token,
		    uint64_t standby, const char *reason, dataplane_ask_cb cb,
		    void *arg)
{
	(void)impl;
	assert_null(leader.cb); /* one at a time */
	leader.asks++;
	snprintf(leader.pool, sizeof leader.pool, "%s", pool);
	leader.token = writer_token;
	leader.standby = standby;
	snprintf(leader.reason, sizeof leader.reason, "%s", reason);
	leader.cb = cb;
	leader.arg = arg;
	return 0;
}

static const struct dataplane_ask_ops fake_ask_ops = {.ask = fake_ask};

static void answer(int outcome, uint64_t standby)
{
	dataplane_ask_cb cb = leader.cb;

	assert_non_null(cb);
	leader.cb = NULL;
	cb(leader.arg, outcome, standby,
	   outcome == DATAPLANE_ASK_REFUSED ? "refused" : "");
}

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

/* The writer of pool east; standbys 2 and 3; committed sync standby as
 * given. */
static struct dataplane *dp_writer(bool local_sync, uint64_t committed)
{
	struct dataplane *dp = calloc(1, sizeof *dp);

	assert_non_null(dp);
	memset(&leader, 0, sizeof leader);
	snprintf(dp->pool, sizeof dp->pool, "east");
	dp->deps.pool = dp->pool;
	dp->deps.clock = &fake_clock;
	dp->deps.local_sync = local_sync;
	dp->deps.local_sync_timeout_ms = 1000;
	dp->deps.ask.ops = &fake_ask_ops;
	dp->state = DP_OPEN;
	now_ns = 10000 * MS;
	dataplane_lsync_follow(dp, true, committed, TOKEN);
	return dp;
}

static const struct dataplane_lsync_standby both_caught_up[] = {
    {3, true, true},
    {2, true, true},
};

static void dp_free(struct dataplane *dp)
{
	dataplane_lsync_release_all(dp);
	free(dp);
}

/* ---- waits ---- */

static void test_write_waits_for_target_ack(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	struct write a = {0}, b = {0}, c = {0};

	(void)state;
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	assert_int_equal(dataplane_lsync_target(dp), 2);
	assert_string_equal(dataplane_lsync_name(dp), "sync");
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	assert_int_equal(dataplane_after_write(dp, "east", 1, 3, released, &b),
			 1);
	assert_int_equal(dp->lsync.n_waiting, 2);
	/* another standby, below the sequence, another lane: nothing */
	dataplane_lsync_on_ack(dp, 3, "east", 0, 100);
	dataplane_lsync_on_ack(dp, 2, "east", 0, 4);
	dataplane_lsync_on_ack(dp, 2, "cms", 0, 100);
	assert_int_equal(a.calls + b.calls, 0);
	/* the target at the sequence: that write, not replicated (the pair
	 * has nothing to do with it) */
	dataplane_lsync_on_ack(dp, 2, "east", 0, 5);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	assert_int_equal(b.calls, 0);
	dataplane_lsync_on_ack(dp, 2, "east", 1, 9);
	assert_int_equal(b.calls, 1);
	assert_int_equal(dp->lsync.n_waiting, 0);
	/* acknowledged before the write's answer got here: no wait */
	assert_int_equal(dataplane_after_write(dp, "east", 1, 8, released, &c),
			 0);
	assert_int_equal(c.calls, 0);
	/* no ask: S is committed and acknowledging */
	dataplane_lsync_check(dp, now_ns + 5000 * MS, both_caught_up, 2);
	assert_int_equal(leader.asks, 0);
	dp_free(dp);
}

/* Sync mode with the pair too: answered once both acknowledged, with
 * what the pair said. */
static void test_pair_and_local_both_wait(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	struct write a = {0}, b = {0};
	int dummy = 0;

	(void)state;
	dp->sync = SYNC_ON;
	dp->sender = (struct sender *)&dummy; /* only tested for NULL */
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 6, released, &b),
			 1);
	dataplane_sync_acked(dp, "east", 0, 5);
	assert_int_equal(a.calls, 0);
	dataplane_lsync_on_ack(dp, 2, "east", 0, 5);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 1);
	/* the other order */
	dataplane_lsync_on_ack(dp, 2, "east", 0, 6);
	assert_int_equal(b.calls, 0);
	dataplane_sync_acked(dp, "east", 0, 6);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.released, 1);
	dp->sender = NULL;
	dp_free(dp);
}

/* An upload's last chunk waits for the target alone (the pair's sync
 * mode does not hold uploads). */
static void test_content_waits_for_target_only(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	struct write a = {0};
	int dummy = 0;

	(void)state;
	dp->sync = SYNC_ON;
	dp->sender = (struct sender *)&dummy;
	assert_int_equal(
	    dataplane_after_content(dp, "east", 1, 9, released, &a), 1);
	assert_int_equal(dp->n_waiting, 0);
	dataplane_lsync_on_ack(dp, 2, "east", 1, 9);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	dp->sender = NULL;
	dataplane_lsync_follow(dp, true, 0, TOKEN);
	assert_int_equal(
	    dataplane_after_content(dp, "east", 1, 10, released, &a), 0);
	dp_free(dp);
}

/* ---- the candidate ---- */

static void test_candidate_only_when_caught_up(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);
	const struct dataplane_lsync_standby behind[] = {
	    {2, true, false}, /* connected, behind */
	    {3, false, true}, /* caught up, disconnected */
	};
	struct write a = {0}, b = {0};

	(void)state;
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	assert_int_equal(dataplane_lsync_target(dp), 0);
	assert_string_equal(dataplane_lsync_name(dp), "none");
	/* nobody in sync: answered at once */
	assert_int_equal(dataplane_after_write(dp, "east", 0, 1, released, &a),
			 0);
	dataplane_lsync_check(dp, now_ns, behind, 2);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	assert_int_equal(leader.asks, 0);
	assert_string_equal(dataplane_lsync_name(dp), "fallback");
	/* both caught up: the lowest id, asked for at once */
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	assert_int_equal(dataplane_lsync_target(dp), 2);
	assert_int_equal(leader.asks, 1);
	assert_string_equal(leader.pool, "east");
	assert_int_equal(leader.token, TOKEN);
	assert_int_equal(leader.standby, 2);
	assert_string_equal(leader.reason, "standby member 2 caught up");
	assert_string_equal(dataplane_lsync_name(dp), "sync");
	/* writes wait for it from now on, before the commit */
	assert_int_equal(dataplane_after_write(dp, "east", 0, 2, released, &a),
			 1);
	/* one ask at a time */
	dataplane_lsync_check(dp, now_ns + 100 * MS, both_caught_up, 2);
	assert_int_equal(leader.asks, 1);
	answer(DATAPLANE_ASK_COMMITTED, 2);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	assert_int_equal(dataplane_lsync_target(dp), 2);
	assert_int_equal(a.calls, 0); /* still its acknowledgement */
	dataplane_lsync_on_ack(dp, 2, "east", 0, 2);
	assert_int_equal(a.calls, 1);
	/* the applied state catches up: nothing changes */
	dataplane_lsync_follow(dp, true, 2, TOKEN);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 3, released, &b),
			 1);
	assert_int_equal(dp->lsync.fallbacks, 0);
	dp_free(dp);
}

/* The applied state shows the candidate committed before the answer
 * comes: in sync; the late answer changes nothing. */
static void test_candidate_committed_seen_applied(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);

	(void)state;
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	/* the applied state before the commit: not known yet */
	dataplane_lsync_follow(dp, true, 0, TOKEN);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	dataplane_lsync_follow(dp, true, 2, TOKEN);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	answer(DATAPLANE_ASK_COMMITTED, 2);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	assert_int_equal(dataplane_lsync_target(dp), 2);
	dp_free(dp);
}

static void test_candidate_refused_releases(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);
	struct write a = {0};

	(void)state;
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 2, released, &a),
			 1);
	answer(DATAPLANE_ASK_REFUSED, 0);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	/* not chosen again at once */
	dataplane_lsync_check(dp, now_ns + 100 * MS, both_caught_up, 2);
	assert_int_equal(leader.asks, 1);
	dataplane_lsync_check(dp, now_ns + 1001 * MS, both_caught_up, 2);
	assert_int_equal(leader.asks, 2);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	dp_free(dp);
}

/* An unknown outcome: the writes keep waiting and it is asked again. */
static void test_unknown_outcome_keeps_waiting_and_retries(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);
	struct write a = {0};
	uint64_t t0 = now_ns;

	(void)state;
	dataplane_lsync_check(dp, t0, both_caught_up, 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 2, released, &a),
			 1);
	answer(DATAPLANE_ASK_UNKNOWN, 0);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	assert_int_equal(a.calls, 0);
	/* asked again, not at once */
	dataplane_lsync_check(dp, t0, both_caught_up, 2);
	assert_int_equal(leader.asks, 1);
	now_ns = t0 + 300 * MS;
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(leader.asks, 2);
	assert_int_equal(leader.standby, 2);
	answer(DATAPLANE_ASK_COMMITTED, 2);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	assert_int_equal(a.calls, 0);
	dp_free(dp);
}

/* ---- the fallback ---- */

static void test_fallback_releases_only_once_committed(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	struct write a = {0}, b = {0}, c = {0};
	uint64_t t0 = now_ns;

	(void)state;
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	/* silent exactly the timeout: still waiting, nothing asked */
	dataplane_lsync_check(dp, t0 + 1000 * MS, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	assert_int_equal(leader.asks, 0);
	/* past it: "none" asked, the write still waits */
	now_ns = t0 + 1001 * MS;
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	assert_int_equal(leader.asks, 1);
	assert_int_equal(leader.standby, 0);
	assert_int_equal(leader.token, TOKEN);
	assert_string_equal(leader.reason,
			    "standby member 2 lost: acknowledged nothing of a "
			    "waiting write for 1000 ms");
	assert_int_equal(dp->lsync.fallbacks, 1);
	assert_string_equal(dataplane_lsync_name(dp), "fallback");
	assert_int_equal(a.calls, 0);
	/* still the target meanwhile: a new write waits too */
	assert_int_equal(dataplane_lsync_target(dp), 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 6, released, &b),
			 1);
	/* the outcome unknown: still waiting, asked again later */
	answer(DATAPLANE_ASK_UNKNOWN, 0);
	assert_int_equal(a.calls + b.calls, 0);
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(leader.asks, 1);
	now_ns += 300 * MS;
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(leader.asks, 2);
	assert_int_equal(leader.standby, 0);
	assert_int_equal(dp->lsync.fallbacks, 1); /* counted once */
	/* committed: the writes are answered, durable here */
	answer(DATAPLANE_ASK_COMMITTED, 0);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 2);
	assert_int_equal(b.calls, 1);
	assert_int_equal(dataplane_lsync_target(dp), 0);
	/* the applied state still names it (not applied here yet): not
	 * taken for a new commit of it, and no candidate meanwhile */
	dataplane_lsync_follow(dp, true, 2, TOKEN);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 7, released, &c),
			 0);
	/* applied: a standby caught up is chosen again */
	dataplane_lsync_follow(dp, true, 0, TOKEN);
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	assert_int_equal(leader.standby, 2);
	dp_free(dp);
}

/* The applied state saying S is no longer the sync standby is as good
 * as the answer; a refusal is not. */
static void test_fallback_known_from_applied_state(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	const struct dataplane_lsync_standby gone[] = {{3, true, false}};
	struct write a = {0};
	uint64_t t0 = now_ns;

	(void)state;
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	/* no longer streamed to (disconnected): lost after the timeout */
	dataplane_lsync_check(dp, t0, gone, 1);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	dataplane_lsync_check(dp, t0 + 1001 * MS, gone, 1);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	assert_string_equal(leader.reason, "standby member 2 lost: not "
					   "streamed to for 1000 ms");
	answer(DATAPLANE_ASK_REFUSED, 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	dataplane_lsync_follow(dp, true, 2, TOKEN);
	assert_int_equal(a.calls, 0);
	dataplane_lsync_follow(dp, true, 0, TOKEN);
	assert_int_equal(a.calls, 1);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	dp_free(dp);
}

static void test_disconnected_target_dropped(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	const struct dataplane_lsync_standby down[] = {{2, false, false},
						       {3, true, false}};
	uint64_t t0 = now_ns;

	(void)state;
	/* nothing waits, but the target is down for the timeout */
	dataplane_lsync_check(dp, t0, down, 2);
	dataplane_lsync_check(dp, t0 + 1000 * MS, down, 2);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	/* back in time: the count starts again */
	dataplane_lsync_check(dp, t0 + 1000 * MS, both_caught_up, 2);
	dataplane_lsync_check(dp, t0 + 1500 * MS, down, 2);
	dataplane_lsync_check(dp, t0 + 2400 * MS, down, 2);
	assert_int_equal(dp->lsync.state, LSYNC_SYNC);
	dataplane_lsync_check(dp, t0 + 2501 * MS, down, 2);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	assert_string_equal(leader.reason, "standby member 2 lost: "
					   "disconnected for 1000 ms");
	dp_free(dp);
}

/* A candidate lost before its commit is known: the writes wait for the
 * outcome; committed, it is dropped like a sync standby. */
static void test_candidate_lost_waits_for_outcome(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);
	const struct dataplane_lsync_standby down[] = {{2, false, true}};
	struct write a = {0};
	uint64_t t0 = now_ns;

	(void)state;
	dataplane_lsync_check(dp, t0, both_caught_up, 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	dataplane_lsync_check(dp, t0 + 10 * MS, down, 1);
	dataplane_lsync_check(dp, t0 + 1100 * MS, down, 1);
	assert_int_equal(dp->lsync.state, LSYNC_CANDIDATE);
	assert_true(dp->lsync.lost);
	assert_int_equal(leader.asks, 1);
	assert_int_equal(a.calls, 0);
	/* the commit landed: now drop it */
	answer(DATAPLANE_ASK_COMMITTED, 2);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	assert_int_equal(leader.asks, 2);
	assert_int_equal(leader.standby, 0);
	assert_int_equal(a.calls, 0);
	answer(DATAPLANE_ASK_COMMITTED, 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	dp_free(dp);
}

static void test_candidate_lost_refused_releases(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);
	const struct dataplane_lsync_standby down[] = {{2, false, true}};
	struct write a = {0};
	uint64_t t0 = now_ns;

	(void)state;
	dataplane_lsync_check(dp, t0, both_caught_up, 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	dataplane_lsync_check(dp, t0 + 10 * MS, down, 1);
	dataplane_lsync_check(dp, t0 + 1100 * MS, down, 1);
	assert_true(dp->lsync.lost);
	answer(DATAPLANE_ASK_REFUSED, 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(dp->lsync.state, LSYNC_NONE);
	assert_int_equal(leader.asks, 1);
	dp_free(dp);
}

/* Lost and the outcome unknown: it may have been committed; committing
 * "none" settles it. */
static void test_candidate_lost_unknown_asks_none(void **state)
{
	struct dataplane *dp = dp_writer(true, 0);
	const struct dataplane_lsync_standby down[] = {{2, false, true}};
	struct write a = {0};
	uint64_t t0 = now_ns;

	(void)state;
	dataplane_lsync_check(dp, t0, both_caught_up, 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	dataplane_lsync_check(dp, t0 + 10 * MS, down, 1);
	dataplane_lsync_check(dp, t0 + 1100 * MS, down, 1);
	answer(DATAPLANE_ASK_UNKNOWN, 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	assert_int_equal(leader.asks, 2);
	assert_int_equal(leader.standby, 0);
	answer(DATAPLANE_ASK_COMMITTED, 0);
	assert_int_equal(a.calls, 1);
	dp_free(dp);
}

/* ---- off ---- */

static void test_local_sync_off_never_waits(void **state)
{
	struct dataplane *dp = dp_writer(false, 2);
	struct write a = {0};

	(void)state;
	assert_int_equal(dp->lsync.state, LSYNC_OFF);
	assert_string_equal(dataplane_lsync_name(dp), "off");
	assert_int_equal(dataplane_lsync_target(dp), 0);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 1, released, &a),
			 0);
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	dataplane_lsync_check(dp, now_ns + 60000 * MS, both_caught_up, 2);
	assert_int_equal(leader.asks, 0);
	assert_int_equal(a.calls, 0);
	dp_free(dp);
}

static void test_not_writer_releases(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	struct write a = {0}, b = {0};

	(void)state;
	assert_int_equal(dataplane_after_write(dp, "east", 0, 1, released, &a),
			 1);
	dataplane_lsync_follow(dp, false, 2, TOKEN + 1);
	assert_int_equal(dp->lsync.state, LSYNC_OFF);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 3); /* not acknowledged: failed */
	assert_int_equal(dataplane_after_write(dp, "east", 0, 2, released, &b),
			 0);
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(leader.asks, 0);
	dp_free(dp);
}

/* Cut off from the leader with writes waiting (the standby silent, "none"
 * asked, its outcome unknown), the agent comes back to an applied state
 * naming another writer (a local takeover): every waiting write, alone,
 * joint with the pair's wait, or an upload's, is released FAILED, not as
 * a success: the new writer's copy may lack them. A fallback known
 * committed is a success (LOCAL). Closing fails the waits too. */
static void test_writer_changed_while_waiting_fails(void **state)
{
	struct dataplane *dp = dp_writer(true, 2);
	struct write a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
	uint64_t t0 = now_ns;
	int dummy = 0;

	(void)state;
	assert_int_equal(dataplane_after_write(dp, "east", 0, 5, released, &a),
			 1);
	assert_int_equal(
	    dataplane_after_content(dp, "east", 1, 3, released, &b), 1);
	/* sync mode with the pair too: the pair acknowledges, the local
	 * standby does not */
	dp->sync = SYNC_ON;
	dp->sender = (struct sender *)&dummy; /* only tested for NULL */
	assert_int_equal(dataplane_after_write(dp, "east", 0, 6, released, &c),
			 1);
	dataplane_sync_acked(dp, "east", 0, 6);
	assert_int_equal(c.calls, 0);
	/* the standby silent: dropped, "none" asked, the leader unreachable */
	now_ns = t0 + 1001 * MS;
	dataplane_lsync_check(dp, now_ns, both_caught_up, 2);
	assert_int_equal(dp->lsync.state, LSYNC_DROPPING);
	answer(DATAPLANE_ASK_UNKNOWN, 0);
	assert_int_equal(a.calls + b.calls + c.calls, 0);
	/* back: the applied state names the standby the writer */
	dataplane_lsync_follow(dp, false, 0, TOKEN + 1);
	assert_int_equal(dp->lsync.state, LSYNC_OFF);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.released, 3);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.released, 3);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.released, 3); /* the pair's ack does not save it */
	assert_int_equal(dp->lsync.n_waiting, 0);
	dp->sync = SYNC_OFF;
	dp->sender = NULL;
	/* the writer again, with the standby: a fallback known committed
	 * answers as a success */
	dataplane_lsync_follow(dp, true, 2, TOKEN + 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 7, released, &d),
			 1);
	dataplane_lsync_follow(dp, true, 0, TOKEN + 2);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.released, 2);
	/* closing with a write waiting: failed */
	dataplane_lsync_follow(dp, true, 3, TOKEN + 2);
	assert_int_equal(dataplane_after_write(dp, "east", 0, 8, released, &e),
			 1);
	dataplane_lsync_release_all(dp);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.released, 3);
	dp_free(dp);
}

/* ---- the answers of the leader's endpoint ---- */

static void test_client_outcomes(void **state)
{
	struct hclient_response r = {0};
	uint64_t sb = 99;
	char msg[128];

	(void)state;
	r.status = 200;
	r.body = "{\"sync_standby\": 7}";
	r.body_len = strlen(r.body);
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_COMMITTED);
	assert_int_equal(sb, 7);
	r.body = "{\"sync_standby\": 0}";
	r.body_len = strlen(r.body);
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_COMMITTED);
	assert_int_equal(sb, 0);
	/* 200 without the value: not known */
	r.body = "{}";
	r.body_len = 2;
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_UNKNOWN);
	r.status = 409;
	r.body = "{\"error\": \"refused\", \"message\": \"stale writer "
		 "token\"}";
	r.body_len = strlen(r.body);
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_REFUSED);
	assert_string_equal(msg, "HTTP 409: stale writer token");
	/* a leader without the endpoint proposed nothing */
	r.status = 404;
	r.body = "{\"error\": \"not_found\", \"message\": \"no such path\"}";
	r.body_len = strlen(r.body);
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_REFUSED);
	r.status = 503;
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_UNKNOWN);
	r.status = 307;
	assert_int_equal(lsync_client_outcome(0, &r, &sb, msg, sizeof msg),
			 DATAPLANE_ASK_UNKNOWN);
	assert_int_equal(
	    lsync_client_outcome(UV_ETIMEDOUT, NULL, &sb, msg, sizeof msg),
	    DATAPLANE_ASK_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_waits_for_target_ack),
	    cmocka_unit_test(test_pair_and_local_both_wait),
	    cmocka_unit_test(test_content_waits_for_target_only),
	    cmocka_unit_test(test_candidate_only_when_caught_up),
	    cmocka_unit_test(test_candidate_committed_seen_applied),
	    cmocka_unit_test(test_candidate_refused_releases),
	    cmocka_unit_test(test_unknown_outcome_keeps_waiting_and_retries),
	    cmocka_unit_test(test_fallback_releases_only_once_committed),
	    cmocka_unit_test(test_fallback_known_from_applied_state),
	    cmocka_unit_test(test_disconnected_target_dropped),
	    cmocka_unit_test(test_candidate_lost_waits_for_outcome),
	    cmocka_unit_test(test_candidate_lost_refused_releases),
	    cmocka_unit_test(test_candidate_lost_unknown_asks_none),
	    cmocka_unit_test(test_local_sync_off_never_waits),
	    cmocka_unit_test(test_not_writer_releases),
	    cmocka_unit_test(test_writer_changed_while_waiting_fails),
	    cmocka_unit_test(test_client_outcomes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
