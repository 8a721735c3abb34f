/* Tests of the hot-standby hooks of replication/sender.c and
 * replication/receiver.c, a local copy's sender (no_trim) once the copy is
 * behind: a copy the pair's acknowledgements left behind (away, or held
 * back by a limit) is seeded again, a copy reset by store_divert_stale is
 * rebuilt. Three stores on one loop (standby_stream_fixture.h). */
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

/* ---- (e) a copy the pair's acks left behind is seeded again ------------ */

static int rx_closed;
static void rx_closed_cb(void *arg)
{
	(void)arg;
	rx_closed = 1;
}

static int rx_is_closed(struct env *e)
{
	(void)e;
	return rx_closed;
}

static int b_at_50(struct env *e)
{
	return e->rx_applied[1][LANE_DATA] == 50 && e->on_ack[LANE_DATA] == 50;
}

/* While the copy is away the view stays what it acknowledged, whatever
 * the pair acknowledges; back, it lacks records the outbox no longer
 * holds and is seeded. */
static void test_no_trim_copy_away(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct sender_stats st;
	uint64_t acked;
	int port;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 50);
	port = start_receiver(e, b, POOL, 1);
	start_sender(e, a, POOL, port, 1);
	assert_true(run_until(e, b_at_50, 10000));
	receiver_close(b->rx, rx_closed_cb, NULL);
	b->rx = NULL;
	rx_closed = 0;
	assert_true(run_until(e, rx_is_closed, 5000));
	write_data(e, a, 50, 30);
	sender_notify(a->tx);
	store_ack(e, a, LANE_DATA, 80); /* the pair has everything */
	run_for(e, 300);		/* stats refreshes */
	assert_int_equal(sender_acked(a->tx, POOL, LANE_DATA, &acked), 0);
	assert_int_equal(acked, 50);
	assert_int_equal(e->on_ack[LANE_DATA], 50);

	/* back: 51..80 are gone from the outbox, the copy is seeded */
	port = start_receiver(e, b, POOL, 1);
	assert_int_equal(sender_set_peer(a->tx, "127.0.0.1", (uint16_t)port),
			 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(sender_stats_get(a->tx, POOL, LANE_DATA, &st), 0);
	assert_int_equal(st.seeds_done, 1);
	assert_same_copy(e, a, b);
	env_teardown(e);
	free(e);
}

/* Streaming, held back by a limit: the pair's acks trim what the copy
 * still lacks; the connection is dropped and the copy seeded. */
static void test_no_trim_trimmed_past(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct sender_stats st;
	uint64_t acked;
	int port;

	(void)state;
	env_setup(e);
	e->watch[0] = "past the seq 40 sent here: seed again";
	write_data(e, a, 0, 100);
	port = start_receiver(e, b, POOL, 1);
	start_sender(e, a, POOL, port, 1);
	assert_int_equal(sender_set_limit(a->tx, POOL, LANE_DATA, 40), 0);
	assert_true(run_until(e, b_at_limit, 10000));
	store_ack(e, a, LANE_DATA, 90);
	assert_true(run_until(e, refused_seen, 5000));
	assert_int_equal(sender_acked(a->tx, POOL, LANE_DATA, &acked), 0);
	assert_int_equal(acked, 40);
	assert_int_equal(
	    sender_set_limit(a->tx, POOL, LANE_DATA, UINT64_MAX), 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(sender_stats_get(a->tx, POOL, LANE_DATA, &st), 0);
	assert_int_equal(st.seeds_done, 1);
	assert_same_copy(e, a, b);
	env_teardown(e);
	free(e);
}

/* The same found by the outbox read itself (no stats refresh comes in
 * between): the read that starts past what the copy needs drops the
 * connection, and the copy is seeded. */
static void test_no_trim_trimmed_past_read(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct sender_stats st;
	int port;

	(void)state;
	env_setup(e);
	e->watch[0] = "outbox starts at seq 91, the copy needs 41: seed again";
	write_data(e, a, 0, 100);
	port = start_receiver(e, b, POOL, 1);
	sender_stats_ms = 600000;
	start_sender(e, a, POOL, port, 1);
	sender_stats_ms = 0;
	assert_int_equal(sender_set_limit(a->tx, POOL, LANE_DATA, 40), 0);
	assert_true(run_until(e, b_at_limit, 10000));
	store_ack(e, a, LANE_DATA, 90);
	assert_int_equal(
	    sender_set_limit(a->tx, POOL, LANE_DATA, UINT64_MAX), 0);
	assert_true(run_until(e, refused_seen, 5000));
	assert_true(run_until(e, a_acked, 10000));
	assert_int_equal(sender_stats_get(a->tx, POOL, LANE_DATA, &st), 0);
	assert_int_equal(st.seeds_done, 1);
	assert_same_copy(e, a, b);
	env_teardown(e);
	free(e);
}

/* ---- (f) a copy reset by store_divert_stale is rebuilt ----------------- */

static void diverted(void *arg, int status, uint64_t n, const char *errmsg)
{
	uint64_t *out = arg;

	if (status != 0)
		printf("# divert: %s\n", errmsg);
	assert_int_equal(status, 0);
	*out = n + 1;
}

static uint64_t *divert_wait;
static int divert_done(struct env *e)
{
	(void)e;
	return *divert_wait != 0;
}

static int b_handshaken(struct env *e)
{
	struct receiver_stats rs;

	receiver_get_stats(e->n[1].rx, &rs);
	return rs.handshakes >= 2; /* both lanes */
}

/* B's stream is reset (its records were never shipped under the new
 * epoch); connected again, the local sender's view falls to what B holds
 * (nothing), and B is rebuilt from the writer's outbox. */
static void test_no_trim_copy_reset(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct node *a = &e->n[0], *b = &e->n[1];
	struct pos_ctx pb;
	uint64_t acked, n = 0;
	int port;

	(void)state;
	env_setup(e);
	write_data(e, a, 0, 50);
	port = start_receiver(e, b, POOL, 1);
	start_sender(e, a, POOL, port, 1);
	assert_true(run_until(e, b_at_50, 10000));
	receiver_close(b->rx, rx_closed_cb, NULL);
	b->rx = NULL;
	rx_closed = 0;
	assert_true(run_until(e, rx_is_closed, 5000));
	assert_int_equal(store_divert_stale(&b->store, POOL, LANE_DATA, 0, 2,
					    diverted, &n),
			 0);
	divert_wait = &n;
	assert_true(run_until(e, divert_done, 5000));
	assert_int_equal(n, 50 + 1);
	/* held at 0 to look at the view right after the handshake */
	assert_int_equal(sender_set_limit(a->tx, POOL, LANE_DATA, 0), 0);
	port = start_receiver(e, b, POOL, 1);
	assert_int_equal(sender_set_peer(a->tx, "127.0.0.1", (uint16_t)port),
			 0);
	assert_true(run_until(e, b_handshaken, 10000));
	assert_int_equal(sender_acked(a->tx, POOL, LANE_DATA, &acked), 0);
	assert_int_equal(acked, 0);
	assert_int_equal(
	    sender_set_limit(a->tx, POOL, LANE_DATA, UINT64_MAX), 0);
	assert_true(run_until(e, a_acked, 10000));
	assert_same_copy(e, a, b);
	positions(e, b, &pb);
	assert_int_equal(pb.head[LANE_DATA], 50);
	assert_int_equal(pb.lag[LANE_DATA], 50);
	env_teardown(e);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_trim_copy_away),
	    cmocka_unit_test(test_no_trim_trimmed_past),
	    cmocka_unit_test(test_no_trim_trimmed_past_read),
	    cmocka_unit_test(test_no_trim_copy_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
