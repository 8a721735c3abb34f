/* Tests of a follower's heartbeats in flight (agent/members_heartbeat.c):
 * several at once, each answer granting from its own send time, the echo
 * of the newest clock, the timeout scaled to the measured round trip; and,
 * over a real hclient to a loopback server that never answers the first
 * heartbeat, a lease renewed by a later one while the first still waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "agent/hclient.h"
#include "members_fixture.h"

#define GRANT "{\"term\":3,\"leader\":9,\"lease_ms\":1000,\"commit_index\":5," \
	      "\"clock_ms\":%u}"

static void answer_clock(struct fixture *x, uint64_t sent_ms, unsigned clock)
{
	char body[128];

	snprintf(body, sizeof body, GRANT, clock);
	x->sent_ns = sent_ms * MS;
	answered(x, body);
}

/* ---- several in flight ---- */

static void test_slots(void **state)
{
	struct fixture *x = *state;
	struct members_hb *h[MEMBERS_HB_INFLIGHT];

	for (unsigned i = 0; i < MEMBERS_HB_INFLIGHT; i++) {
		at_ms(x, 200000 + 100 * i);
		h[i] = members_hb_take(&x->m);
		assert_non_null(h[i]);
		assert_int_equal(h[i]->sent_ns, (200000 + 100 * i) * MS);
		assert_ptr_equal(h[i]->m, &x->m);
		assert_int_equal(x->m.hb_inflight, i + 1);
	}
	/* full: the next tick sends none */
	assert_null(members_hb_take(&x->m));
	/* the oldest answered: its slot serves the next one */
	members_hb_release(h[0]);
	members_hb_release(h[0]); /* ignored */
	assert_int_equal(x->m.hb_inflight, MEMBERS_HB_INFLIGHT - 1);
	at_ms(x, 201000);
	assert_ptr_equal(members_hb_take(&x->m), h[0]);
	assert_int_equal(h[0]->sent_ns, 201000 * MS);
	for (unsigned i = 0; i < MEMBERS_HB_INFLIGHT; i++)
		members_hb_release(h[i]);
	assert_int_equal(x->m.hb_inflight, 0);
}

/* Two heartbeats in flight, answered out of order: each grants from its
 * own send time; the late answer to the older one never extends the lease
 * past what its own send time allows. */
static void test_each_answer_from_its_own_send_time(void **state)
{
	struct fixture *x = *state;
	struct members_hb *h1, *h2;

	at_ms(x, 200000);
	h1 = members_hb_take(&x->m);
	at_ms(x, 200250);
	h2 = members_hb_take(&x->m);
	assert_non_null(h1);
	assert_non_null(h2);
	/* the newer answered first */
	at_ms(x, 200400);
	answer_clock(x, h2->sent_ns / MS, 700);
	members_hb_release(h2);
	assert_int_equal(x->m.lease.until_ns,
			 (200250 + LEASE - DRIFT) * MS);
	/* the older one's answer, late: counts from 200000, extends nothing */
	at_ms(x, 200800);
	answer_clock(x, h1->sent_ns / MS, 650);
	members_hb_release(h1);
	assert_int_equal(x->m.lease.until_ns,
			 (200250 + LEASE - DRIFT) * MS);
	at_ms(x, 200250 + LEASE - DRIFT - 1);
	assert_true(members_lease_valid(&x->m));
	at_ms(x, 200250 + LEASE - DRIFT);
	assert_false(members_lease_valid(&x->m));
}

/* An answer to an old heartbeat arriving after the lease it could grant
 * has ended grants nothing, however long the leader granted. */
static void test_late_answer_grants_nothing_past_its_send(void **state)
{
	struct fixture *x = *state;

	at_ms(x, 300000 + LEASE - DRIFT + 50); /* answered after its end */
	answer_clock(x, 300000, 1);
	assert_int_equal(x->m.lease.until_ns, (300000 + LEASE - DRIFT) * MS);
	assert_false(members_lease_valid(&x->m));
}

/* Answers that cross: the echo keeps the newest clock of the latest term
 * and leader; another term or leader replaces it. */
static void test_echo_keeps_the_newest_clock(void **state)
{
	struct fixture *x = *state;

	at_ms(x, 200500);
	answer_clock(x, 200300, 900);
	answer_clock(x, 200100, 800); /* older, late */
	assert_int_equal(x->m.echo_next.clock_ms, 900);
	answer_clock(x, 200400, 950);
	assert_int_equal(x->m.echo_next.clock_ms, 950);
	x->sent_ns = 200450 * MS;
	answered(x, "{\"term\":4,\"leader\":7,\"lease_ms\":1000,"
		    "\"commit_index\":6,\"clock_ms\":10}");
	assert_int_equal(x->m.echo_next.clock_ms, 10);
	assert_int_equal(x->m.echo_next.term, 4);
	assert_int_equal(x->m.echo_next.leader, 7);
}

/* ---- the timeout ---- */

static void test_timeout_scales_with_the_round_trip(void **state)
{
	struct fixture *x = *state;

	/* no sample: 4 heartbeat intervals (heartbeat_ms 100) */
	assert_int_equal(members_hb_timeout_ms(&x->m), 400);
	/* loopback round trips: still the floor */
	members_hb_rtt(&x->m, 1 * MS);
	assert_int_equal(x->m.hb_srtt_ns, 1 * MS);
	assert_int_equal(x->m.hb_rttvar_ns, MS / 2);
	assert_int_equal(members_hb_timeout_ms(&x->m), 400);
	/* a WAN: 4 (srtt + 4 rttvar) */
	memset(&x->m.hb_srtt_ns, 0, sizeof x->m.hb_srtt_ns);
	members_hb_rtt(&x->m, 50 * MS); /* srtt 50, rttvar 25 */
	assert_int_equal(members_hb_timeout_ms(&x->m), 600);
	members_hb_rtt(&x->m, 90 * MS); /* rttvar 28.75, srtt 55 */
	assert_int_equal(x->m.hb_srtt_ns, 55 * MS);
	assert_int_equal(x->m.hb_rttvar_ns, 28750000);
	assert_int_equal(members_hb_timeout_ms(&x->m), 680);
	/* a slower one: never past the lease less the drift margin, after
	 * which no answer can extend the lease */
	members_hb_rtt(&x->m, 2000 * MS);
	assert_int_equal(members_hb_timeout_ms(&x->m), LEASE - DRIFT);
}

/* ---- over a real client: the oldest stalled, renewed by a later one ---- */

/* A loopback HTTP server: the first connection gets no answer ever, every
 * later one answers each request with a lease of 1000 ms. */
struct srv {
	uv_tcp_t listener;
	uv_tcp_t conns[8];
	char buf[8][8192];
	size_t len[8];
	unsigned n_conns;
	unsigned requests[8]; /* requests complete on each connection */
	unsigned answered;
	int port;
};

static struct srv *srv_of(uv_handle_t *h)
{
	return h->data;
}

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct srv *s = srv_of(h);
	unsigned i = (unsigned)((uv_tcp_t *)h - s->conns);

	(void)hint;
	*buf = uv_buf_init(s->buf[i] + s->len[i],
			   (unsigned)(sizeof s->buf[i] - s->len[i]));
}

static void srv_written(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static const char ANSWER[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    "Content-Length: 80\r\n\r\n"
    "{\"term\":3,\"leader\":9,\"lease_ms\":1000,\"commit_index\":5,"
    "\"clock_ms\":123456789}     ";

/* Whether buf[len] holds a whole request (headers and Content-Length
 * bytes of body); its length in *n. */
static bool whole_request(const char *buf, size_t len, size_t *n)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *cl;
	size_t head, body = 0;

	if (end == NULL)
		return false;
	head = (size_t)(end - buf) + 4;
	cl = memmem(buf, head, "Content-Length: ", 16);
	if (cl != NULL)
		body = strtoul(cl + 16, NULL, 10);
	if (len < head + body)
		return false;
	*n = head + body;
	return true;
}

static void srv_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct srv *s = srv_of((uv_handle_t *)st);
	unsigned i = (unsigned)((uv_tcp_t *)st - s->conns);
	size_t n;

	(void)buf;
	if (nread < 0) {
		uv_read_stop(st);
		return;
	}
	s->len[i] += (size_t)nread;
	while (whole_request(s->buf[i], s->len[i], &n)) {
		memmove(s->buf[i], s->buf[i] + n, s->len[i] - n);
		s->len[i] -= n;
		s->requests[i]++;
		if (i == 0)
			continue; /* the stalled connection: never answered */
		uv_write_t *w = malloc(sizeof *w);
		uv_buf_t b = uv_buf_init((char *)ANSWER, sizeof ANSWER - 1);

		assert_non_null(w);
		assert_int_equal(uv_write(w, st, &b, 1, srv_written), 0);
		s->answered++;
	}
}

static void srv_accept(uv_stream_t *l, int status)
{
	struct srv *s = srv_of((uv_handle_t *)l);
	uv_tcp_t *c;

	assert_int_equal(status, 0);
	assert_true(s->n_conns < 8);
	c = &s->conns[s->n_conns++];
	assert_int_equal(uv_tcp_init(l->loop, c), 0);
	c->data = s;
	assert_int_equal(uv_accept(l, (uv_stream_t *)c), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)c, srv_alloc, srv_read),
			 0);
}

static void srv_start(struct srv *s, uv_loop_t *loop)
{
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof got;

	memset(s, 0, sizeof *s);
	assert_int_equal(uv_tcp_init(loop, &s->listener), 0);
	s->listener.data = s;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
	assert_int_equal(
	    uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 8, srv_accept),
			 0);
	assert_int_equal(uv_tcp_getsockname(&s->listener,
					    (struct sockaddr *)&got, &len),
			 0);
	s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void srv_stop(struct srv *s)
{
	uv_close((uv_handle_t *)&s->listener, NULL);
	for (unsigned i = 0; i < s->n_conns; i++)
		uv_close((uv_handle_t *)&s->conns[i], NULL);
}

/* A guard against a hang (not a timing asserted): the loop stops after
 * 15 s whatever happened. */
static void guard_fired(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs x's loop until done(x, s) or the guard fires. */
static void run_until(struct fixture *x, struct srv *s,
		      bool (*done)(struct fixture *, struct srv *))
{
	uv_timer_t guard;
	bool fired = false;

	assert_int_equal(uv_timer_init(&x->loop, &guard), 0);
	guard.data = &fired;
	assert_int_equal(uv_timer_start(&guard, guard_fired, 15000, 0), 0);
	while (!fired && !done(x, s))
		uv_run(&x->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&x->loop, UV_RUN_NOWAIT);
}

static bool first_stalled(struct fixture *x, struct srv *s)
{
	(void)x;
	return s->n_conns >= 1 && s->requests[0] == 1;
}

static bool renewed(struct fixture *x, struct srv *s)
{
	(void)s;
	return members_lease_valid(&x->m);
}

static void client_closed(struct hclient *c)
{
	(void)c;
}

static void test_stalled_heartbeat_does_not_hold_renewal(void **state)
{
	struct fixture *x = *state;
	struct hclient client;
	struct srv s;
	char api[64];
	unsigned inflight_first, stalled, inflight, inflight_closed;
	bool valid_first, valid;
	struct lease l;
	uint64_t failed, sent, echo;

	srv_start(&s, &x->loop);
	snprintf(api, sizeof api, "127.0.0.1:%d", s.port);
	assert_int_equal(hclient_init(&client, &x->loop, NULL), 0);
	x->m.d.calls = &client;
	x->f.leader_id = 9;
	x->f.leader_api = api;
	/* a first heartbeat that waits far longer than this test runs (its
	 * timeout: 4 heartbeat intervals at least), so that only the second
	 * can renew the lease: a lease of 20 s, a heartbeat every 5 s */
	x->m.d.cfg.lease_ms = 20000;
	x->m.d.cfg.heartbeat_ms = 5000;
	at_ms(x, 200000);

	/* the first heartbeat reaches the leader and is never answered */
	members_heartbeat_tick(&x->m);
	inflight_first = x->m.hb_inflight;
	run_until(x, &s, first_stalled);
	stalled = s.requests[0];
	valid_first = members_lease_valid(&x->m);

	/* the next tick sends another, on a connection of its own, which is
	 * answered: the lease is renewed while the first still waits */
	at_ms(x, 200100);
	members_heartbeat_tick(&x->m);
	run_until(x, &s, renewed);
	valid = members_lease_valid(&x->m);
	l = x->m.lease;
	inflight = x->m.hb_inflight;
	failed = x->m.heartbeats_failed;
	sent = x->m.heartbeats_sent;
	echo = x->m.echo_next.clock_ms;

	/* closing the client ends the stalled one (its slot is freed); all
	 * closed before any assertion, so that a failure leaves no handle */
	hclient_close(&client, client_closed);
	inflight_closed = x->m.hb_inflight;
	x->m.d.calls = NULL;
	srv_stop(&s);
	uv_run(&x->loop, UV_RUN_DEFAULT);

	assert_int_equal(inflight_first, 1);
	assert_int_equal(stalled, 1);
	assert_false(valid_first);
	assert_true(valid);
	assert_int_equal(l.granted_by, 9);
	assert_int_equal(l.until_ns, (200100 + 1000 - DRIFT) * MS);
	assert_int_equal(inflight, 1); /* the stalled one */
	assert_int_equal(failed, 0);
	assert_int_equal(s.n_conns, 2);
	assert_int_equal(s.requests[1], 1);
	assert_int_equal(s.answered, 1);
	assert_int_equal(sent, 2);
	assert_int_equal(echo, 123456789);
	assert_int_equal(inflight_closed, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_slots),
	    T(test_each_answer_from_its_own_send_time),
	    T(test_late_answer_grants_nothing_past_its_send),
	    T(test_echo_keeps_the_newest_clock),
	    T(test_timeout_scales_with_the_round_trip),
	    T(test_stalled_heartbeat_does_not_hold_renewal),
	};

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
