/* Tests of what replication/receiver.c refuses before anything is stored:
 * records and seeds above the committed epoch of their user set (and
 * their acceptance once the committed epoch caught up), connections that
 * never say who they are, and (over TLS) a HELLO for another agent or
 * pool than the certificate's; and of the sender refusing a receiver
 * whose certificate speaks for another pool or agent. A store per pool on
 * one loop, real TCP on loopback, hand-made peers and real senders. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "loop_fixture.h"
#include "pki_fixture.h"
#include "rawc_fixture.h"
#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver.h"
#include "replication/sender.h"
#include "replication/store.h"
#include "tls/tls.h"

#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define MAX_WATCH 4
#define HUGE_EPOCH ((uint64_t)1 << 62)

struct env {
	uv_loop_t loop;
	char dir[64];
	struct store store[2]; /* 0: pool-east (sender), 1: pool-west */
	struct receiver *rx;   /* at pool-west, for pool-east */
	struct sender *tx;     /* at pool-east */
	int pending, errors, closed, want_closed;
	const char *watch[MAX_WATCH];
	int hits[MAX_WATCH];
	uint64_t applied; /* on_apply: pool-east data */
	uint64_t until;	  /* run_until(applied_to) */
};

/* ---- plumbing ------------------------------------------------------------ */

static void on_log(void *arg, int level, const char *msg)
{
	struct env *e = arg;
	int i;

	if (getenv("GUARD_VERBOSE") != NULL)
		printf("# [%d] %s\n", level, msg);
	for (i = 0; i < MAX_WATCH; i++)
		if (e->watch[i] != NULL && strstr(msg, e->watch[i]) != NULL)
			e->hits[i]++;
}

static void on_apply(void *arg, const char *user_set, int lane,
		     uint64_t applied)
{
	struct env *e = arg;

	if (strcmp(user_set, "pool-east") == 0 && lane == LANE_DATA &&
	    applied > e->applied)
		e->applied = applied;
}

struct until {
	struct env *e;
	int (*pred)(struct env *e);
};

static int until_done(void *arg)
{
	struct until *u = arg;

	return u->pred(u->e);
}

static int run_until(struct env *e, int (*pred)(struct env *e),
		     unsigned timeout_ms)
{
	struct until u = {e, pred};

	return loop_until(&e->loop, until_done, &u, timeout_ms);
}

static int nothing_pending(struct env *e) { return e->pending == 0; }
static int all_closed(struct env *e) { return e->closed >= e->want_closed; }
static int applied_to(struct env *e) { return e->applied >= e->until; }

static int refused_thrice(struct env *e)
{
	struct receiver_stats rs;

	receiver_get_stats(e->rx, &rs);
	return rs.errors[RECEIVER_ERR_EPOCH] >= 3;
}

static void env_setup(struct env *e)
{
	static const char *const pools[2] = {"pool-east", "pool-west"};
	char path[128], err[256];
	int i;

	memset(e, 0, sizeof(*e));
	assert_int_equal(uv_loop_init(&e->loop), 0);
	snprintf(e->dir, sizeof(e->dir), "/tmp/pp-guard-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.db", e->dir, pools[i]);
		assert_int_equal(store_open(&e->store[i], &e->loop, path, NULL,
					    err, sizeof(err)),
				 0);
	}
}

static void closed_cb(void *arg)
{
	struct env *e = arg;

	e->closed++;
}

static void store_closed(struct store *s)
{
	struct env *e = s->loop->data;

	e->closed++;
}

static void env_teardown(struct env *e)
{
	e->closed = 0;
	e->want_closed = 0;
	if (e->tx != NULL) {
		sender_close(e->tx, closed_cb, e);
		e->want_closed++;
	}
	if (e->rx != NULL) {
		receiver_close(e->rx, closed_cb, e);
		e->want_closed++;
	}
	assert_true(run_until(e, all_closed, 5000));
	e->closed = 0;
	e->want_closed = 2;
	e->loop.data = e;
	store_close(&e->store[0], store_closed);
	store_close(&e->store[1], store_closed);
	assert_true(run_until(e, all_closed, 5000));
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	db_files_remove(e->dir, "pool-east.db");
	db_files_remove(e->dir, "pool-west.db");
	rmdir(e->dir);
}

/* A receiver at pool-west taking pool-east's user set; its committed
 * epoch handed in as the control plane would. Returns its port. */
/* Limits of the receiver start_receiver starts (0: its defaults). */
static struct receiver_config limits;

static int start_receiver(struct env *e, uint64_t committed)
{
	static const char *const sets[] = {"pool-east"};
	struct receiver_config c = limits;

	c.local_pool = "pool-west";
	c.peer_pool = "pool-east";
	c.agent_id = limits.agent_id != 0 ? limits.agent_id : 20;
	c.host = "127.0.0.1";
	c.user_sets = sets;
	c.n_user_sets = 1;
	c.log = on_log;
	c.on_apply = on_apply;
	c.arg = e;
	assert_int_equal(receiver_init(&e->rx, &e->loop, &e->store[1], &c), 0);
	assert_int_equal(receiver_set_epoch(e->rx, "pool-east", committed), 0);
	assert_int_equal(receiver_epoch(e->rx, "pool-east"), committed);
	return receiver_port(e->rx);
}

static void done_cb(void *arg, int status, const char *errmsg)
{
	struct env *e = arg;

	e->pending--;
	if (status != 0) {
		e->errors++;
		printf("# store: %s\n", errmsg);
	}
}

static void write_done(void *arg, int status,
		       const struct store_write_result *res)
{
	struct env *e = arg;

	e->pending--;
	if (status != 0) {
		e->errors++;
		printf("# write: %s\n", res->errmsg);
	}
}

/* count settings records of pool-east at pool-east under epoch. */
static void write_east(struct env *e, uint64_t epoch, int count)
{
	char key[64];
	static const char v[] = "{\"presence\":\"available\"}";
	int i;

	for (i = 0; i < count; i++) {
		struct store_write w = {0};

		snprintf(key, sizeof(key), "sip:user%d@example.com", i);
		w.user_set = "pool-east";
		w.epoch = epoch;
		w.hlc = (uint64_t)(i + 1) << 16;
		w.op = POOLPAIR__REPL__OP__OP_PUT;
		w.kind = POOLPAIR__REPL__KIND__KIND_SETTINGS;
		w.key = key;
		w.value = v;
		w.value_len = sizeof(v) - 1;
		assert_int_equal(store_write(&e->store[0], &w, write_done, e),
				 0);
		e->pending++;
	}
	assert_true(run_until(e, nothing_pending, 10000));
	assert_int_equal(e->errors, 0);
}

/* The epoch and floor the control plane set at both stores. */
static void set_epochs(struct env *e, uint64_t epoch, uint64_t floor)
{
	int i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(store_set_epoch(&e->store[i], "pool-east",
						 epoch, floor, done_cb, e),
				 0);
		e->pending++;
	}
	assert_true(run_until(e, nothing_pending, 5000));
	assert_int_equal(e->errors, 0);
}

struct pos {
	struct env *e;
	int done;
	uint64_t epoch, applied;
};

static void pos_done(void *arg, int status, const struct store_positions *p)
{
	struct pos *c = arg;
	size_t i;

	assert_int_equal(status, 0);
	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].user_set, "pool-east") == 0 &&
		    p->v[i].lane == LANE_DATA) {
			c->epoch = p->v[i].epoch;
			c->applied = p->v[i].applied_seq;
		}
	c->done = 1;
	c->e->pending--;
}

/* pool-east's data stream at pool-west's store. */
static void west_position(struct env *e, struct pos *p)
{
	memset(p, 0, sizeof(*p));
	p->e = e;
	assert_int_equal(store_stream_positions(&e->store[1], pos_done, p), 0);
	e->pending++;
	assert_true(run_until(e, nothing_pending, 5000));
	assert_true(p->done);
}

/* A sender of pool-east's user set to pool-west at port, as agent_id,
 * over TLS with tls (NULL: plain). */
static struct sender_config tx_config(struct env *e, int port,
				      uint64_t agent_id, struct tls_ctx *tls)
{
	static const char *const sets[] = {"pool-east"};
	struct sender_config tc = {0};

	tc.local_pool = "pool-east";
	tc.peer_pool = "pool-west";
	tc.agent_id = agent_id;
	tc.host = "127.0.0.1";
	tc.port = (uint16_t)port;
	tc.user_sets = sets;
	tc.n_user_sets = 1;
	tc.backoff_min_ms = 20;
	tc.backoff_max_ms = 100;
	tc.log = on_log;
	tc.arg = e;
	tc.tls = tls;
	return tc;
}

/* ---- a hand-made sender ----------------------------------------------- */

/* A record of pool-east's data lane. */
static void record(Poolpair__Repl__ChangeRecord *r, uint64_t seq,
		   uint64_t epoch)
{
	static const char v[] = "{\"presence\":\"busy\"}";

	poolpair__repl__change_record__init(r);
	r->user_set = "pool-east";
	r->epoch = epoch;
	r->seq = seq;
	r->hlc = seq << 16;
	r->op = POOLPAIR__REPL__OP__OP_PUT;
	r->kind = POOLPAIR__REPL__KIND__KIND_SETTINGS;
	r->lane = LANE_DATA;
	r->key = "sip:alice@example.com";
	r->value.data = (uint8_t *)v;
	r->value.len = sizeof(v) - 1;
}

/* Send the n records at r as one frame of type (RECORDS, SEED_RECORDS). */
static void rawc_send_batch(struct rawc *c, uint8_t type,
			    Poolpair__Repl__ChangeRecord *r, size_t n)
{
	const Poolpair__Repl__ChangeRecord *p[8];
	void *payload;
	size_t len, i;
	uint16_t flags;

	assert_true(n <= 8);
	for (i = 0; i < n; i++)
		p[i] = &r[i];
	assert_int_equal(batch_encode(p, n, &payload, &len, &flags, NULL), 0);
	assert_int_equal(stream_write_frame_owned((uv_stream_t *)&c->tcp, type,
						  flags, payload, len),
			 0);
}

/* ---- committed epochs (issue 19, item 6) ----------------------------- */

/* A forged record far above the committed epoch is refused: nothing
 * stored, the stored epoch stays, the peer is told why; the legitimate
 * records after it are applied, none archived as stale. */
static void test_forged_epoch_refused(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(1, sizeof(*c));
	Poolpair__Repl__ChangeRecord r[2];
	struct receiver_stats rs;
	struct pos p;
	int port;

	(void)state;
	env_setup(e);
	set_epochs(e, 1, 1);
	e->watch[0] = "user set pool-east: record 1 of epoch "
		      "4611686018427387904, above its committed epoch 1";
	port = start_receiver(e, 1);

	rawc_open(&e->loop, c, port, 7, 0);
	record(&r[0], 1, 1);
	record(&r[1], 2, HUGE_EPOCH);
	rawc_send_batch(c, FRAME_RECORDS, r, 2);
	assert_true(rawc_wait(&e->loop, &c->eof, 5000));
	assert_int_equal(c->acks, 0);
	assert_int_equal(c->errors, 1);
	assert_non_null(strstr(c->error, "4611686018427387904"));
	assert_non_null(strstr(c->error, "committed epoch 1"));
	assert_int_equal(e->hits[0], 1);
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_EPOCH], 1);
	assert_int_equal(rs.records_applied, 0);
	assert_string_equal(receiver_reason_name(RECEIVER_ERR_EPOCH), "epoch");
	rawc_close(&e->loop, c);
	west_position(e, &p);
	assert_true(p.epoch <= 1); /* not raised (no row yet: 0) */
	assert_int_equal(p.applied, 0);

	/* the real sender's records go on as before */
	rawc_open(&e->loop, c, port, 7, 0);
	record(&r[0], 1, 1);
	record(&r[1], 2, 1);
	rawc_send_batch(c, FRAME_RECORDS, r, 2);
	assert_true(rawc_wait(&e->loop, &c->acks, 5000));
	rawc_close(&e->loop, c);
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.records_applied, 2);
	assert_int_equal(rs.archived, 0);
	west_position(e, &p);
	assert_int_equal(p.epoch, 1);
	assert_int_equal(p.applied, 2);
	env_teardown(e);
	free(c);
	free(e);
}

/* A seed above the committed epoch is refused the same way: its
 * SEED_BEGIN, or an item state in its SEED_RECORDS. */
static void test_forged_seed_epoch_refused(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(1, sizeof(*c));
	Poolpair__Repl__SeedBegin sb = POOLPAIR__REPL__SEED_BEGIN__INIT;
	Poolpair__Repl__ChangeRecord r[1];
	struct receiver_stats rs;
	struct pos p;
	int port;

	(void)state;
	env_setup(e);
	set_epochs(e, 3, 3);
	port = start_receiver(e, 3);

	rawc_open(&e->loop, c, port, 7, 0);
	sb.user_set = "pool-east";
	sb.lane = LANE_DATA;
	sb.from_seq = 10;
	sb.epoch = HUGE_EPOCH;
	assert_int_equal(stream_write_message((uv_stream_t *)&c->tcp,
					      FRAME_SEED_BEGIN, &sb.base),
			 0);
	assert_true(rawc_wait(&e->loop, &c->eof, 5000));
	assert_non_null(strstr(c->error, "user set pool-east: seed begin of "
					 "epoch 4611686018427387904, above "
					 "its committed epoch 3"));
	rawc_close(&e->loop, c);
	assert_int_equal(receiver_seeds(e->rx, NULL, 0), 0);

	/* a seed of the committed epoch begins; a forged item state in it
	 * is refused */
	rawc_open(&e->loop, c, port, 7, 0);
	sb.epoch = 3;
	assert_int_equal(stream_write_message((uv_stream_t *)&c->tcp,
					      FRAME_SEED_BEGIN, &sb.base),
			 0);
	record(&r[0], 4, 4);
	rawc_send_batch(c, FRAME_SEED_RECORDS, r, 1);
	assert_true(rawc_wait(&e->loop, &c->eof, 5000));
	assert_non_null(strstr(c->error, "seed record 0 of epoch 4, above its "
					 "committed epoch 3"));
	rawc_close(&e->loop, c);
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_EPOCH], 2);
	assert_int_equal(receiver_seeds(e->rx, NULL, 0), 1); /* begun */
	west_position(e, &p);
	assert_true(p.epoch <= 3);
	env_teardown(e);
	free(c);
	free(e);
}

/* Right after a change of owner the new owner's records (epoch 2) may
 * come before this agent applied the commit: refused while the committed
 * epoch is 1, then, once it is handed in, the sender's next attempt
 * (after its backoff) is accepted: every record applied, none archived. */
static void test_epoch_ahead_accepted_once_committed(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct receiver_stats rs;
	struct pos p;
	int port;

	(void)state;
	env_setup(e);
	set_epochs(e, 2, 2); /* at pool-east: the commit is applied */
	write_east(e, 2, 50);
	e->watch[0] = "refused 127.0.0.1:";
	e->watch[1] = "(epoch): user set pool-east: record 0 of epoch 2, "
		      "above its committed epoch 1";
	port = start_receiver(e, 1); /* pool-west: not yet */

	tc = tx_config(e, port, 7, NULL);
	assert_int_equal(sender_init(&e->tx, &e->loop, &e->store[0], &tc), 0);
	/* refused again and again: the same warning logged once */
	assert_true(run_until(e, refused_thrice, 10000));
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.records_applied, 0);
	assert_int_equal(e->applied, 0);
	assert_int_equal(e->hits[0], 1);
	assert_int_equal(e->hits[1], 1);

	/* this agent's view caught up */
	assert_int_equal(receiver_set_epoch(e->rx, "pool-east", 2), 0);
	set_epochs(e, 2, 2);
	e->until = 50;
	assert_true(run_until(e, applied_to, 10000));
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.records_applied, 50);
	assert_int_equal(rs.archived, 0);
	west_position(e, &p);
	assert_int_equal(p.epoch, 2);
	assert_int_equal(p.applied, 50);
	env_teardown(e);
	free(e);
}

/* ---- limits before the HELLO (issue 19, item 4) ---------------------- */

static int rx_pending_is(struct env *e, uint64_t n)
{
	struct receiver_stats rs;

	receiver_get_stats(e->rx, &rs);
	return rs.pending == n;
}
static int pending_4(struct env *e) { return rx_pending_is(e, 4); }
static int pending_0(struct env *e) { return rx_pending_is(e, 0); }

/* Connections that never send a HELLO: at most 4 from one address, and
 * they do not count against max_conns, so the pair's sender (another
 * address) still gets in, on both of its connections. */
static void test_anonymous_connections_capped(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(7, sizeof(*c));
	struct receiver_stats rs;
	int port, i;

	(void)state;
	env_setup(e);
	memset(&limits, 0, sizeof(limits));
	limits.max_conns = 2;
	e->watch[0] = "refused 127.0.0.1:";
	e->watch[1] = "too many connections from 127.0.0.1 waiting for "
		      "their hello (4)";
	port = start_receiver(e, 1);
	for (i = 0; i < 5; i++)
		rawc_connect(&e->loop, &c[i], port, "127.0.0.1");
	assert_true(run_until(e, pending_4, 5000));
	/* the fifth: closed at once, without an answer */
	assert_true(rawc_wait(&e->loop, &c[4].eof, 5000));
	assert_int_equal(c[4].errors, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(c[i].eof, 0);
	/* the same again: counted, not logged again */
	rawc_close(&e->loop, &c[4]);
	rawc_connect(&e->loop, &c[4], port, "127.0.0.1");
	assert_true(rawc_wait(&e->loop, &c[4].eof, 5000));
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_HELLO], 2);
	assert_int_equal(e->hits[0], 1);
	assert_int_equal(e->hits[1], 1);

	/* the sender, from its own address: both lanes' HELLOs accepted */
	rawc_connect(&e->loop, &c[5], port, "127.0.0.2");
	rawc_hello(&c[5], 7, 0);
	assert_true(rawc_wait(&e->loop, &c[5].hellos, 5000));
	rawc_connect(&e->loop, &c[6], port, "127.0.0.2");
	rawc_hello(&c[6], 7, 0); /* replaces c[5]: the same stream */
	assert_true(rawc_wait(&e->loop, &c[6].hellos, 5000));
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.handshakes, 2);
	assert_int_equal(rs.pending, 4);
	for (i = 0; i < 7; i++)
		rawc_close(&e->loop, &c[i]);
	assert_true(run_until(e, pending_0, 5000));
	env_teardown(e);
	memset(&limits, 0, sizeof(limits));
	free(c);
	free(e);
}

struct trickle {
	uv_timer_t t;
	struct rawc *c;
};

static void trickle_byte(uv_timer_t *t)
{
	struct trickle *tr = t->data;
	static char byte[1] = {0};
	uv_buf_t b = uv_buf_init(byte, 1);

	if (!tr->c->eof)
		(void)uv_try_write((uv_stream_t *)&tr->c->tcp, &b, 1);
}

static void trickle_ping(uv_timer_t *t)
{
	struct trickle *tr = t->data;

	if (!tr->c->eof)
		(void)stream_write_frame((uv_stream_t *)&tr->c->tcp, FRAME_PING,
					 0, NULL, 0);
}

/* The HELLO deadline runs from accept: a peer that sends a byte now and
 * then (never silent for long) is dropped all the same. */
static void test_hello_deadline(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(1, sizeof(*c));
	struct trickle tr;
	struct receiver_stats rs;
	int port;

	(void)state;
	env_setup(e);
	memset(&limits, 0, sizeof(limits));
	limits.timeout_ms = 60000; /* silence alone would take a minute */
	limits.hello_timeout_ms = 400;
	e->watch[0] = "(timeout): no hello within 400 ms";
	port = start_receiver(e, 1);
	rawc_connect(&e->loop, c, port, NULL);
	/* the header of a HELLO whose payload then comes a byte at a time */
	{
		static uint8_t payload[60000];
		uint8_t hdr[FRAME_HEADER_LEN];
		uv_buf_t b = uv_buf_init((char *)hdr, sizeof(hdr));

		assert_int_equal(frame_encode_header(hdr, FRAME_HELLO, 0,
						     payload, sizeof(payload)),
				 0);
		assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1),
				 (int)sizeof(hdr));
	}
	tr.c = c;
	tr.t.data = &tr;
	uv_timer_init(&e->loop, &tr.t);
	uv_timer_start(&tr.t, trickle_byte, 50, 50);
	assert_true(rawc_wait(&e->loop, &c->eof, 10000));
	uv_close((uv_handle_t *)&tr.t, NULL);
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_TIMEOUT], 1);
	assert_int_equal(rs.pending, 0);
	assert_int_equal(e->hits[0], 1);
	rawc_close(&e->loop, c);

	/* a HELLO in time: streams, and its deadline no longer applies */
	rawc_open(&e->loop, c, port, 7, 0);
	e->hits[0] = 0;
	tr.t.data = &tr;
	uv_timer_init(&e->loop, &tr.t);
	uv_timer_start(&tr.t, trickle_ping, 100, 100);
	assert_false(rawc_wait(&e->loop, &c->eof, 1500));
	uv_close((uv_handle_t *)&tr.t, NULL);
	assert_int_equal(e->hits[0], 0);
	rawc_close(&e->loop, c);
	env_teardown(e);
	memset(&limits, 0, sizeof(limits));
	free(c);
	free(e);
}

/* A frame larger than a HELLO can be, before the HELLO: bad input. */
static void test_large_frame_before_hello(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(1, sizeof(*c));
	uint8_t hdr[FRAME_HEADER_LEN];
	static uint8_t big[RECEIVER_HELLO_MAX_PAYLOAD + 1];
	uv_buf_t b;
	struct receiver_stats rs;
	int port;

	(void)state;
	env_setup(e);
	port = start_receiver(e, 1);
	rawc_connect(&e->loop, c, port, NULL);
	assert_int_equal(
	    frame_encode_header(hdr, FRAME_HELLO, 0, big, sizeof(big)), 0);
	b = uv_buf_init((char *)hdr, sizeof(hdr));
	assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1),
			 (int)sizeof(hdr));
	assert_true(rawc_wait(&e->loop, &c->eof, 5000));
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_FRAME], 1);
	rawc_close(&e->loop, c);
	env_teardown(e);
	free(c);
	free(e);
}

/* ---- identity over TLS (issue 19, item 1) ----------------------------- */

static int tls_group_setup(void **state)
{
	(void)state;
	if (pki_open("guard-tls") != 0)
		return -1;
	pki_ca("a", "");
	/* pool-east's writer, the receiver at pool-west */
	pki_issue("a", "east7", "--role agent --agent-id 7 --pool pool-east");
	pki_issue("a", "west20", "--role agent --agent-id 20 --pool pool-west");
	/* another agent of pool-east, a witness, a receiver of another pool */
	pki_issue("a", "east3", "--role agent --agent-id 3 --pool pool-east");
	pki_issue("a", "witness9", "--role agent --agent-id 9");
	pki_issue("a", "x20", "--role agent --agent-id 20 --pool pool-x");
	return 0;
}

static int tls_group_teardown(void **state)
{
	(void)state;
	pki_close();
	return 0;
}

static int watched(struct env *e) { return e->hits[0] > 0; }

static void close_sender(struct env *e, struct sender **s)
{
	e->closed = 0;
	e->want_closed = 1;
	sender_close(*s, closed_cb, e);
	*s = NULL;
	assert_true(run_until(e, all_closed, 5000));
}

/* A HELLO claiming another agent or pool than the certificate's is
 * refused, and does not replace the real writer's connections, which go
 * on streaming. */
static void test_tls_forged_hello_refused(void **state)
{
	static const struct {
		const char *cert;
		uint64_t claims;
		const char *says;
	} forged[] = {
	    {"east3", 7,
	     "(hello): hello refused: certificate speaks for "
	     "agent 3, not 7"},
	    {"witness9", 9,
	     "(hello): hello refused: certificate speaks for "
	     "pool (none), not pool-east"},
	};
	struct env *e = calloc(1, sizeof(*e));
	struct tls_ctx west, east, f;
	struct sender *fake = NULL;
	struct sender_config tc;
	struct receiver_stats rs;
	struct sender_stats st;
	size_t i;
	int port;

	(void)state;
	env_setup(e);
	pki_ctx(&west, "a", "west20");
	pki_ctx(&east, "a", "east7");
	set_epochs(e, 1, 1);
	write_east(e, 1, 20);
	memset(&limits, 0, sizeof(limits));
	limits.tls = &west;
	limits.tls_require = 1;
	port = start_receiver(e, 1);
	tc = tx_config(e, port, 7, &east);
	assert_int_equal(sender_init(&e->tx, &e->loop, &e->store[0], &tc), 0);
	e->until = 20;
	assert_true(run_until(e, applied_to, 10000));

	for (i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		e->watch[0] = forged[i].says;
		e->hits[0] = 0;
		pki_ctx(&f, "a", forged[i].cert);
		tc = tx_config(e, port, forged[i].claims, &f);
		assert_int_equal(
		    sender_init(&fake, &e->loop, &e->store[0], &tc), 0);
		assert_true(run_until(e, watched, 10000));
		close_sender(e, &fake);
		tls_ctx_close(&f);
	}
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.handshakes, 2); /* the writer's two lanes only */
	assert_true(rs.errors[RECEIVER_ERR_HELLO] >= 2);
	/* the writer's connections were not replaced: it streams on */
	write_east(e, 1, 30);
	sender_notify(e->tx);
	e->until = 30;
	assert_true(run_until(e, applied_to, 10000));
	assert_int_equal(sender_stats_get(e->tx, "pool-east", LANE_DATA, &st),
			 0);
	assert_int_equal(st.reconnects, 0);
	receiver_get_stats(e->rx, &rs);
	assert_int_equal(rs.handshakes, 2);
	env_teardown(e);
	memset(&limits, 0, sizeof(limits));
	tls_ctx_close(&west);
	tls_ctx_close(&east);
	free(e);
}

/* The sender streams only to a receiver whose certificate speaks for the
 * pair's pool, and for the agent its HELLO answer names. */
static void test_tls_sender_checks_receiver(void **state)
{
	static const struct {
		const char *cert;
		uint64_t answers_as;
		const char *says;
	} cases[] = {
	    {"x20", 20,
	     "the receiver's certificate speaks for pool pool-x, "
	     "not pool-west"},
	    {"west20", 21,
	     "the receiver's certificate speaks for agent 20, "
	     "not 21"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct env *e = calloc(1, sizeof(*e));
		struct tls_ctx rx, east;
		struct sender_config tc;
		struct receiver_stats rs;
		int port;

		env_setup(e);
		pki_ctx(&rx, "a", cases[i].cert);
		pki_ctx(&east, "a", "east7");
		write_east(e, 1, 5);
		memset(&limits, 0, sizeof(limits));
		limits.tls = &rx;
		limits.tls_require = 1;
		limits.agent_id = cases[i].answers_as;
		port = start_receiver(e, 1);
		e->watch[0] = cases[i].says;
		tc = tx_config(e, port, 7, &east);
		assert_int_equal(
		    sender_init(&e->tx, &e->loop, &e->store[0], &tc), 0);
		if (!run_until(e, watched, 10000))
			fail_msg("case %zu: no '%s'", i, cases[i].says);
		receiver_get_stats(e->rx, &rs);
		assert_int_equal(rs.records_applied, 0);
		env_teardown(e);
		memset(&limits, 0, sizeof(limits));
		tls_ctx_close(&rx);
		tls_ctx_close(&east);
		free(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forged_epoch_refused),
	    cmocka_unit_test(test_forged_seed_epoch_refused),
	    cmocka_unit_test(test_epoch_ahead_accepted_once_committed),
	    cmocka_unit_test(test_anonymous_connections_capped),
	    cmocka_unit_test(test_hello_deadline),
	    cmocka_unit_test(test_large_frame_before_hello),
	};

	const struct CMUnitTest tls_tests[] = {
	    cmocka_unit_test(test_tls_forged_hello_refused),
	    cmocka_unit_test(test_tls_sender_checks_receiver),
	};
	int failed;

	/* a peer that closes first (a refused one) must not kill the test
	 * with SIGPIPE: poolpaird ignores it too */
	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("tls", tls_tests, tls_group_setup,
					      tls_group_teardown);
	return failed;
}
