/* Tests of the hot-standby hooks of replication/sender.c and
 * replication/receiver.c: a local copy's sender (no_trim), the limit of a
 * stream (sender_set_limit), receiver_set_peer with an in-site stream
 * (from_pool == to_pool), receiver_set_peer_agent (only the writer) and a
 * receiver in outbox mode whose store then streams the records it kept to the
 * pair. Three stores on one loop (standby_stream_fixture.h); a copy left
 * behind or reset is in test_standby_stream_copy.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "replication/receiver.h"
#include "replication/sender.h"
#include "replication/store.h"
#include "standby_stream_fixture.h"

/* ---- (a) no_trim: the outbox and the store's acked stay ---------------- */

static void test_no_trim_keeps_outbox(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct sender_stats st;
	struct pos_ctx pa, pb;
	int port;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 300);
	write_content(e, a, "deck.pptx", 3 * 1000 + 10, 1000);
	port = start_receiver(e, b, POOL, 1);
	start_sender(e, a, POOL, port, 1);
	assert_true(run_until(e, a_acked, 20000));
	assert_int_equal(a->head[LANE_DATA], 300);
	assert_int_equal(a->head[LANE_CONTENT], 4);
	/* on_ack fired up to the heads */
	assert_int_equal(e->on_ack[LANE_DATA], 300);
	assert_int_equal(e->on_ack[LANE_CONTENT], 4);
	/* a stats refresh later, the view still is the peer's, and the
	 * store's positions and outbox are untouched */
	run_for(e, 200);
	positions(e, a, &pa);
	assert_int_equal(pa.acked[LANE_DATA], 0);
	assert_int_equal(pa.acked[LANE_CONTENT], 0);
	assert_int_equal(pa.lag[LANE_DATA], 300);
	assert_int_equal(pa.lag[LANE_CONTENT], 4);
	assert_int_equal(sender_stats_get(a->tx, POOL, LANE_DATA, &st), 0);
	assert_int_equal(st.acked_seq, 300);
	assert_int_equal(st.lag_records, 300);
	assert_int_equal(st.limit_seq, UINT64_MAX);
	/* B holds the copy and the records in its outbox (outbox mode) */
	positions(e, b, &pb);
	assert_int_equal(pb.head[LANE_DATA], 300);
	assert_int_equal(pb.head[LANE_CONTENT], 4);
	assert_int_equal(pb.lag[LANE_DATA], 300);
	assert_same_copy(e, a, b);

	/* the pair acknowledges up to 120 (its own stream of the same
	 * store): the store trims, the local copy's view stays its own */
	store_ack(e, a, LANE_DATA, 120);
	write_data(e, a, 300, 5);
	sender_notify(a->tx);
	assert_true(run_until(e, a_acked, 10000));
	run_for(e, 200);
	positions(e, a, &pa);
	assert_int_equal(pa.acked[LANE_DATA], 120);
	assert_int_equal(pa.lag[LANE_DATA], 305 - 120);
	assert_int_equal(sender_stats_get(a->tx, POOL, LANE_DATA, &st), 0);
	assert_int_equal(st.acked_seq, 305);
	assert_int_equal(st.reconnects, 0);
	positions(e, a, &pa);
	assert_int_equal(pa.acked[LANE_CONTENT], 0);
	assert_int_equal(pa.lag[LANE_CONTENT], 4);
	env_teardown(e);
	free(e);
}

/* ---- (b) the limit holds records back and releases them --------------- */

static int b_at_90(struct env *e)
{
	return e->rx_applied[1][LANE_DATA] == 90;
}

static void test_limit_holds_back(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct sender_stats st;
	struct pos_ctx pb;
	int port;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 100);
	port = start_receiver(e, b, POOL, 1);
	start_sender(e, a, POOL, port, 1);
	assert_int_equal(sender_set_limit(a->tx, POOL, LANE_DATA, 40), 0);
	assert_int_equal(sender_set_limit(a->tx, "pool-none", LANE_DATA, 40),
			 STREAM_E_NOT_FOUND);
	assert_int_equal(sender_set_limit(a->tx, POOL, 7, 40),
			 STREAM_E_NOT_FOUND);
	assert_true(run_until(e, b_at_limit, 20000));
	/* new writes and notifies do not pass the limit */
	write_data(e, a, 100, 20);
	sender_notify(a->tx);
	run_for(e, 300);
	assert_int_equal(e->rx_applied[1][LANE_DATA], 40);
	assert_int_equal(sender_stats_get(a->tx, POOL, LANE_DATA, &st), 0);
	assert_int_equal(st.sent_seq, 40);
	assert_int_equal(st.acked_seq, 40);
	assert_int_equal(st.limit_seq, 40);
	positions(e, b, &pb);
	assert_int_equal(pb.head[LANE_DATA], 40);
	/* raised: the next records go at once, up to the new limit */
	assert_int_equal(sender_set_limit(a->tx, POOL, LANE_DATA, 90), 0);
	assert_true(run_until(e, b_at_90, 10000));
	run_for(e, 200);
	assert_int_equal(e->rx_applied[1][LANE_DATA], 90);
	/* none: everything */
	assert_int_equal(
	    sender_set_limit(a->tx, POOL, LANE_DATA, UINT64_MAX), 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 120);
	assert_same_copy(e, a, b);
	env_teardown(e);
	free(e);
}

/* ---- (c) receiver_set_peer --------------------------------------------- */

static void test_set_peer(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct receiver_stats rs;
	static const char *const other[] = {"pool-south"};
	uint64_t hello_errors;
	int port;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 50);
	/* B accepts its pair's pool: its own pool's writer is refused */
	e->watch[0] = "from pool " POOL ", expected " PAIR;
	port = start_receiver(e, b, PAIR, 1);
	start_sender(e, a, POOL, port, 1);
	assert_true(run_until(e, refused_seen, 10000));
	receiver_get_stats(b->rx, &rs);
	assert_int_equal(rs.records_applied, 0);
	/* bad arguments change nothing */
	assert_int_equal(receiver_set_peer(b->rx, "", pool_sets, 1),
			 STREAM_E_ARG);
	assert_int_equal(receiver_set_peer(b->rx, POOL, NULL, 1),
			 STREAM_E_ARG);
	/* its own pool (from_pool == to_pool) is accepted */
	assert_int_equal(receiver_set_peer(b->rx, POOL, pool_sets, 1), 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 50);
	receiver_get_stats(b->rx, &rs);
	hello_errors = rs.errors[RECEIVER_ERR_HELLO];
	assert_true(rs.active >= 1);
	/* same pool, the user set no longer accepted: closed */
	e->watch[1] = "user set " POOL " no longer accepted";
	assert_int_equal(receiver_set_peer(b->rx, POOL, other, 1), 0);
	receiver_get_stats(b->rx, &rs);
	assert_true(rs.errors[RECEIVER_ERR_HELLO] > hello_errors);
	assert_true(e->hits[1] >= 1);
	/* back, then another pool: closed again */
	assert_int_equal(receiver_set_peer(b->rx, POOL, pool_sets, 1), 0);
	write_data(e, a, 50, 10);
	sender_notify(a->tx);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 60);
	e->watch[2] = "pool " POOL " no longer accepted";
	assert_int_equal(receiver_set_peer(b->rx, PAIR, pool_sets, 1), 0);
	/* the data lane's connection (it just carried 51..60) is closed */
	assert_true(e->hits[2] >= 1);
	/* and the next ones are refused: nothing more is applied */
	e->hits[0] = 0;
	write_data(e, a, 60, 5);
	sender_notify(a->tx);
	assert_true(run_until(e, refused_seen, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 60);
	env_teardown(e);
	free(e);
}

/* ---- (c') receiver_set_peer_agent ------------------------------------ */

/* Both of A's lanes are connected to B (the data lane's ACK does not say
 * that the other lane's connection is up yet). */
static int b_both_lanes(struct env *e)
{
	struct receiver_stats rs;

	receiver_get_stats(e->n[1].rx, &rs);
	return rs.active - rs.pending >= 2; /* HELLOs accepted */
}

/* B, a standby of POOL, accepts only the writer of POOL: A's sender
 * (agent 1) is refused while B expects agent 7 (receiver_config), taken
 * once B expects agent 1, closed when B expects agent 2 and refused from
 * then on, and taken again with 0 (any agent). */
static void test_peer_agent(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct receiver_stats rs;
	uint64_t hello_errors;
	int port;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 50);
	e->watch[0] = "hello refused: agent 1 is not the writer of " POOL;
	rx_peer_agent = 7;
	port = start_receiver(e, b, POOL, 1);
	rx_peer_agent = 0;
	start_sender(e, a, POOL, port, 1);
	assert_true(run_until(e, refused_seen, 10000));
	receiver_get_stats(b->rx, &rs);
	assert_int_equal(rs.records_applied, 0);
	assert_int_equal(rs.handshakes, 0);
	assert_true(rs.errors[RECEIVER_ERR_HELLO] >= 1);
	assert_int_equal(e->rx_applied[1][LANE_DATA], 0);
	/* the writer is agent 1: streamed */
	assert_int_equal(receiver_set_peer_agent(b->rx, 1), 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 50);
	assert_true(run_until(e, b_both_lanes, 10000));
	/* the same again closes nothing */
	receiver_get_stats(b->rx, &rs);
	hello_errors = rs.errors[RECEIVER_ERR_HELLO];
	assert_int_equal(receiver_set_peer_agent(b->rx, 1), 0);
	receiver_get_stats(b->rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_HELLO], hello_errors);
	assert_true(rs.active >= 1);
	/* the writer changes: A's open connections are closed */
	e->watch[1] = "agent 1 is not the writer of " POOL;
	assert_int_equal(receiver_set_peer_agent(b->rx, 2), 0);
	receiver_get_stats(b->rx, &rs);
	assert_true(rs.errors[RECEIVER_ERR_HELLO] >= hello_errors + 2);
	assert_true(e->hits[1] >= 2); /* both lanes */
	/* and A's next ones are refused: nothing more is applied */
	e->hits[0] = 0;
	write_data(e, a, 50, 5);
	sender_notify(a->tx);
	assert_true(run_until(e, refused_seen, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 50);
	/* any agent again */
	assert_int_equal(receiver_set_peer_agent(b->rx, 0), 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(e->rx_applied[1][LANE_DATA], 55);
	env_teardown(e);
	free(e);
}

/* ---- (d) outbox mode: B's outbox streams on to the pair ---------------- */

static int c_has_all(struct env *e)
{
	struct sender_stats st;
	int lane;

	for (lane = 0; lane < 2; lane++) {
		if (sender_stats_get(e->n[1].tx, POOL, lane, &st) != 0 ||
		    st.acked_seq != e->n[0].head[lane])
			return 0;
	}
	return 1;
}

static void test_outbox_round_trip(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1], *c = &e->n[2];
	struct sender_stats st;
	struct receiver_stats rs;
	struct pos_ctx pb, pc;
	int port, lane;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 400);
	write_content(e, a, "deck.pptx", 5 * 1000 + 10, 1000);
	port = start_receiver(e, b, POOL, 1);
	start_sender(e, a, POOL, port, 1);
	assert_true(run_until(e, a_acked, 20000));
	/* B is the writer now: its sender streams to the pair from the
	 * records B kept, the pair never saw A */
	port = start_receiver(e, c, POOL, 0);
	start_sender(e, b, PAIR, port, 0);
	assert_true(run_until(e, c_has_all, 20000));
	for (lane = 0; lane < 2; lane++) {
		assert_int_equal(sender_stats_get(b->tx, POOL, lane, &st), 0);
		assert_false(st.seeding);
		assert_int_equal(st.seeds_done, 0);
		assert_int_equal(st.records_sent, a->head[lane]);
	}
	assert_int_equal(receiver_seeds(c->rx, NULL, 0), 0);
	receiver_get_stats(c->rx, &rs);
	assert_int_equal(rs.records_applied, 400 + 6);
	assert_same_copy(e, a, c);
	run_for(e, 200);
	/* the pair's acks trimmed B's outbox */
	positions(e, b, &pb);
	positions(e, c, &pc);
	for (lane = 0; lane < 2; lane++) {
		assert_int_equal(pb.head[lane], a->head[lane]);
		assert_int_equal(pb.acked[lane], a->head[lane]);
		assert_int_equal(pb.lag[lane], 0);
		assert_int_equal(pc.applied[lane], a->head[lane]);
	}
	env_teardown(e);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_trim_keeps_outbox),
	    cmocka_unit_test(test_limit_holds_back),
	    cmocka_unit_test(test_set_peer),
	    cmocka_unit_test(test_peer_agent),
	    cmocka_unit_test(test_outbox_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
