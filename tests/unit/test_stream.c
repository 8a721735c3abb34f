/* Tests of replication/sender.c and replication/receiver.c: two stores on
 * one loop, real TCP on loopback, a byte-mangling proxy. */
#include <signal.h>
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

#include "rawc_fixture.h"
#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver.h"
#include "replication/sender.h"
#include "replication/store.h"
#include "tls/tls.h"

#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT
#define MAX_WATCH 6

struct node {
	const char *pool;
	struct store store;
	int store_open;
	struct sender *tx;
	struct receiver *rx;
	uint64_t head[2]; /* last seq written per lane, own user set */
};

struct env {
	uv_loop_t loop;
	char dir[64];
	struct node n[2];
	int writes_pending;
	int write_errors;
	int closed;
	int timed_out;
	const char *watch[MAX_WATCH];
	int hits[MAX_WATCH];
	int verbose;
	/* test (f): content position when the data lane completed */
	uint64_t data_done_content_applied;
	int data_done;
	uint64_t rx_applied[2];
};

/* ---- plumbing ------------------------------------------------------------ */

static void on_log(void *arg, int level, const char *msg)
{
	struct env *e = arg;
	int i;

	if (e->verbose || level <= STREAM_LOG_ERROR)
		printf("# [%d] %s\n", level, msg);
	for (i = 0; i < MAX_WATCH; i++)
		if (e->watch[i] != NULL && strstr(msg, e->watch[i]) != NULL)
			e->hits[i]++;
}

static void guard_fired(uv_timer_t *t)
{
	struct env *e = t->data;

	e->timed_out = 1;
}

/* Run the loop until pred(e) holds or timeout_ms passes. */
static int run_until(struct env *e, int (*pred)(struct env *e),
		     unsigned timeout_ms)
{
	uv_timer_t guard;
	int ok;

	e->timed_out = 0;
	guard.data = e;
	uv_timer_init(&e->loop, &guard);
	uv_timer_start(&guard, guard_fired, timeout_ms, 0);
	while (!(ok = pred(e)) && !e->timed_out)
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	return ok;
}

static int writes_done(struct env *e)
{
	return e->writes_pending == 0;
}

static void env_setup(struct env *e, const char *a, const char *b)
{
	char path[128], err[256];
	int i;

	memset(e, 0, sizeof(*e));
	e->verbose = getenv("STREAM_VERBOSE") != NULL;
	assert_int_equal(uv_loop_init(&e->loop), 0);
	snprintf(e->dir, sizeof(e->dir), "/tmp/pp-stream-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	e->n[0].pool = a;
	e->n[1].pool = b;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.db", e->dir, e->n[i].pool);
		assert_int_equal(store_open(&e->n[i].store, &e->loop, path,
					    NULL, err, sizeof(err)),
				 0);
		e->n[i].store_open = 1;
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

static int all_closed_pred_n;
static int all_closed(struct env *e)
{
	return e->closed >= all_closed_pred_n;
}

/* Close every module, then the stores; assert the loop ends empty. */
static void env_teardown(struct env *e)
{
	char path[160];
	int i, want = 0;

	e->closed = 0;
	for (i = 0; i < 2; i++) {
		if (e->n[i].tx != NULL) {
			sender_close(e->n[i].tx, closed_cb, e);
			e->n[i].tx = NULL;
			want++;
		}
		if (e->n[i].rx != NULL) {
			receiver_close(e->n[i].rx, closed_cb, e);
			e->n[i].rx = NULL;
			want++;
		}
	}
	all_closed_pred_n = want;
	assert_true(run_until(e, all_closed, 5000));
	e->closed = 0;
	e->loop.data = e;
	for (i = 0; i < 2; i++)
		store_close(&e->n[i].store, store_closed);
	all_closed_pred_n = 2;
	assert_true(run_until(e, all_closed, 5000));
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	for (i = 0; i < 2; i++) {
		const char *sfx[] = {"", "-wal", "-shm"};
		int k;
		for (k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%s.db%s", e->dir,
				 e->n[i].pool, sfx[k]);
			unlink(path);
		}
	}
	rmdir(e->dir);
}

struct write_ctx {
	struct env *e;
	struct node *n;
};

static void write_done(void *arg, int status,
		       const struct store_write_result *res)
{
	struct write_ctx *w = arg;

	w->e->writes_pending--;
	if (status != 0) {
		w->e->write_errors++;
		printf("# write: %s\n", res->errmsg);
	} else if (res->seq > w->n->head[res->lane]) {
		w->n->head[res->lane] = res->seq;
	}
	free(w);
}

static void queue_write(struct env *e, struct node *n,
			const struct store_write *w)
{
	struct write_ctx *c = malloc(sizeof(*c));

	assert_non_null(c);
	c->e = e;
	c->n = n;
	assert_int_equal(store_write(&n->store, w, write_done, c), 0);
	e->writes_pending++;
}

/* count user-data records of node n's own user set, keys from first. */
static void write_data(struct env *e, struct node *n, int first, int count)
{
	static const int kinds[] = {
		POOLPAIR__REPL__KIND__KIND_PROFILE,
		POOLPAIR__REPL__KIND__KIND_CONTACTS,
		POOLPAIR__REPL__KIND__KIND_SETTINGS,
	};
	char key[64], value[256];
	int i;

	for (i = first; i < first + count; i++) {
		struct store_write w = {0};
		snprintf(key, sizeof(key), "sip:user%d@example.com", i % 1500);
		snprintf(value, sizeof(value),
			 "{\"contacts\":[\"sip:friend%d@example.com\","
			 "\"sip:friend%d@example.com\"],\"note\":\"rev %d\"}",
			 i * 7, i * 13, i);
		w.user_set = n->pool;
		w.epoch = 1;
		w.hlc = (uint64_t)(i + 1) << 16;
		w.op = POOLPAIR__REPL__OP__OP_PUT;
		w.kind = kinds[i % 3];
		w.key = key;
		w.value = value;
		w.value_len = strlen(value);
		queue_write(e, n, &w);
	}
	assert_true(run_until(e, writes_done, 30000));
	assert_int_equal(e->write_errors, 0);
}

/* One content item of total bytes in chunk-byte chunks. Waits only when
 * wait is set. */
static void write_content(struct env *e, struct node *n, const char *name,
			  size_t total, size_t chunk, int wait)
{
	char key[256];
	uint8_t *buf = malloc(chunk);
	size_t off, i;

	assert_non_null(buf);
	assert_int_equal(store_key_content(key, sizeof(key),
					   "sip:user1@example.com", "conf1",
					   name),
			 0);
	for (off = 0; off < total; off += chunk) {
		struct store_write w = {0};
		size_t len = total - off < chunk ? total - off : chunk;
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)((off + i) * 31 + (off + i) / 4099);
		w.user_set = n->pool;
		w.epoch = 1;
		w.hlc = ((uint64_t)1 << 40) + off;
		w.op = POOLPAIR__REPL__OP__OP_CONTENT_CHUNK;
		w.kind = POOLPAIR__REPL__KIND__KIND_CONTENT;
		w.key = key;
		w.value = buf;
		w.value_len = len;
		w.offset = off;
		w.total = total;
		queue_write(e, n, &w);
	}
	free(buf);
	if (wait) {
		assert_true(run_until(e, writes_done, 60000));
		assert_int_equal(e->write_errors, 0);
	}
}

static void on_apply(void *arg, const char *user_set, int lane,
		     uint64_t applied)
{
	struct env *e = arg;

	(void)user_set;
	if (lane >= 0 && lane < 2 && applied > e->rx_applied[lane])
		e->rx_applied[lane] = applied;
	if (lane == LANE_DATA && !e->data_done &&
	    e->n[0].head[LANE_DATA] > 0 &&
	    applied == e->n[0].head[LANE_DATA]) {
		e->data_done = 1;
		e->data_done_content_applied = e->rx_applied[LANE_CONTENT];
	}
}

static struct sender_config tx_config(struct env *e, struct node *from,
				      struct node *to, int port)
{
	static const char *sets[2][1];
	struct sender_config c = {0};
	int i = from == &e->n[0] ? 0 : 1;

	sets[i][0] = from->pool;
	c.local_pool = from->pool;
	c.peer_pool = to->pool;
	c.agent_id = (uint64_t)i + 1;
	c.host = "127.0.0.1";
	c.port = (uint16_t)port;
	c.user_sets = sets[i];
	c.n_user_sets = 1;
	c.backoff_min_ms = 20;
	c.backoff_max_ms = 200;
	c.stats_ms = 50;
	c.log = on_log;
	c.arg = e;
	return c;
}

static int start_receiver_opt(struct env *e, struct node *at,
			      struct node *from, int port, int dict_off)
{
	static const char *sets[2][1];
	struct receiver_config c = {0};
	int i = at == &e->n[0] ? 0 : 1;

	sets[i][0] = from->pool;
	c.local_pool = at->pool;
	c.peer_pool = from->pool;
	c.agent_id = (uint64_t)i + 10;
	c.host = "127.0.0.1";
	c.port = (uint16_t)port;
	c.user_sets = sets[i];
	c.n_user_sets = 1;
	c.log = on_log;
	c.on_apply = on_apply;
	c.arg = e;
	c.lz4_dict_off = dict_off;
	assert_int_equal(receiver_init(&at->rx, &e->loop, &at->store, &c), 0);
	/* the committed epoch the control plane would hand in */
	assert_int_equal(receiver_set_epoch(at->rx, from->pool, 1), 0);
	return receiver_port(at->rx);
}

static int start_receiver(struct env *e, struct node *at, struct node *from,
			  int port)
{
	return start_receiver_opt(e, at, from, port, 0);
}

/* ---- checks ----------------------------------------------------------- */

/* The sender of node i has everything of its own user set acked and its
 * outbox empty (both lanes). */
static int synced_node(struct env *e, int i)
{
	struct node *n = &e->n[i];
	struct sender_stats st;
	int lane;

	for (lane = 0; lane < 2; lane++) {
		if (sender_stats_get(n->tx, n->pool, lane, &st) != 0)
			return 0;
		if (st.acked_seq != n->head[lane] ||
		    st.head_seq != n->head[lane] || st.lag_records != 0)
			return 0;
	}
	return 1;
}

static int synced0(struct env *e)
{
	return synced_node(e, 0);
}

static int synced_both(struct env *e)
{
	return synced_node(e, 0) && synced_node(e, 1);
}

struct pos_ctx {
	int done;
	uint64_t applied[2], acked[2], lag[2], head[2];
	const char *user_set;
};

static void pos_done(void *arg, int status, const struct store_positions *p)
{
	struct pos_ctx *c = arg;
	size_t i;

	assert_int_equal(status, 0);
	for (i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].user_set, c->user_set) != 0 ||
		    p->v[i].lane < 0 || p->v[i].lane > 1)
			continue;
		c->applied[p->v[i].lane] = p->v[i].applied_seq;
		c->acked[p->v[i].lane] = p->v[i].acked_seq;
		c->lag[p->v[i].lane] = p->v[i].lag_records;
		c->head[p->v[i].lane] = p->v[i].head_seq;
	}
	c->done = 1;
}

static struct pos_ctx *pos_wait;
static int pos_ready(struct env *e)
{
	(void)e;
	return pos_wait->done;
}

static void positions(struct env *e, struct store *s, const char *user_set,
		      struct pos_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->user_set = user_set;
	assert_int_equal(store_stream_positions(s, pos_done, c), 0);
	pos_wait = c;
	assert_true(run_until(e, pos_ready, 5000));
}

struct digest_ctx {
	int done;
	uint64_t items;
	struct store_digest_bucket b[STORE_DIGEST_BUCKETS];
};

static void digest_done(void *arg, int status, const struct store_digest *d)
{
	struct digest_ctx *c = arg;

	assert_int_equal(status, 0);
	c->items = d->items;
	memcpy(c->b, d->buckets, sizeof(c->b));
	c->done = 1;
}

static struct digest_ctx *dig_wait;
static int dig_ready(struct env *e)
{
	(void)e;
	return dig_wait->done;
}

static void digest(struct env *e, struct store *s, const char *user_set,
		   struct digest_ctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_digest(s, user_set, digest_done, c), 0);
	dig_wait = c;
	assert_true(run_until(e, dig_ready, 10000));
}

/* Node src's own user set is on node dst exactly: applied positions equal
 * the heads, the outbox is empty, the digests agree. */
static void assert_equal_copies(struct env *e, int src, int dst)
{
	struct node *a = &e->n[src], *b = &e->n[dst];
	struct pos_ctx pa, pb;
	struct digest_ctx da, db;
	int lane;

	positions(e, &a->store, a->pool, &pa);
	positions(e, &b->store, a->pool, &pb);
	for (lane = 0; lane < 2; lane++) {
		assert_int_equal(pa.head[lane], a->head[lane]);
		assert_int_equal(pa.acked[lane], a->head[lane]);
		assert_int_equal(pa.lag[lane], 0);
		assert_int_equal(pb.applied[lane], a->head[lane]);
	}
	digest(e, &a->store, a->pool, &da);
	digest(e, &b->store, a->pool, &db);
	assert_true(da.items > 0);
	assert_int_equal(da.items, db.items);
	assert_memory_equal(da.b, db.b, sizeof(da.b));
}

/* ---- (a) everything arrives ---------------------------------------------- */

static void test_all_records_arrive(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct sender_stats st;
	struct receiver_stats rs;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	write_data(e, &e->n[0], 0, 4000);
	write_content(e, &e->n[0], "deck.pptx", 3 * 256 * 1024 + 1000,
		      256 * 1024, 1);
	write_data(e, &e->n[0], 4000, 1000);
	port = start_receiver(e, &e->n[1], &e->n[0], 0);
	assert_true(port > 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, synced0, 30000));
	assert_int_equal(e->n[0].head[LANE_DATA], 5000);
	assert_int_equal(e->n[0].head[LANE_CONTENT], 4);
	assert_equal_copies(e, 0, 1);

	receiver_get_stats(e->n[1].rx, &rs);
	assert_int_equal(rs.records_applied, 5004);
	assert_int_equal(rs.handshakes, 2);
	assert_int_equal(e->n[1].store.stats.applied, 5004);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_int_equal(st.state, SENDER_STREAMING);
	assert_int_equal(st.records_sent, 5000);
	assert_true(st.batches_sent >= 5);
	assert_true(st.bytes_wire < st.bytes_raw); /* lz4 helped */
	/* both ends offer the dictionary mode by default */
	assert_true(st.batches_dict > 0);
	assert_true(rs.batches_dict >= st.batches_dict);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(st.inflight_bytes, 0);
	assert_int_equal(sender_stream_count(e->n[0].tx), 2);
	assert_int_equal(sender_stats_get(e->n[0].tx, "nope", 0, &st),
			 STREAM_E_NOT_FOUND);

	/* records the sender was not told of are not in the histogram */
	assert_int_equal(st.ack.count, 0);

	/* new writes flow after a notify */
	write_data(e, &e->n[0], 5000, 10);
	sender_notify(e->n[0].tx);
	assert_true(run_until(e, synced0, 10000));
	assert_equal_copies(e, 0, 1);

	/* commit -> acknowledgement: 100 writes announced before the sender
	 * is woken (more than it holds apart: the last ones share a time),
	 * plus a repeat and an acknowledged one, both ignored */
	write_data(e, &e->n[0], 5010, 100);
	for (int q = 5011; q <= 5110; q++)
		sender_committed(e->n[0].tx, "pool-east", LANE_DATA,
				 (uint64_t)q);
	sender_committed(e->n[0].tx, "pool-east", LANE_DATA, 5110);
	sender_committed(e->n[0].tx, "pool-east", LANE_DATA, 20);
	sender_committed(e->n[0].tx, "nope", LANE_DATA, 6000);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_int_equal(st.ack.count, 0); /* nothing acknowledged yet */
	sender_notify(e->n[0].tx);
	assert_true(run_until(e, synced0, 10000));
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_int_equal(st.acked_seq, 5110);
	assert_int_equal(st.ack.count, 100);
	assert_int_equal(ackhist_cumulative(&st.ack, ACKHIST_BUCKETS), 100);
	assert_true(st.ack.sum > 0);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east",
					  LANE_CONTENT, &st),
			 0);
	assert_int_equal(st.ack.count, 0);
	env_teardown(e);
	free(e);
}

/* ---- (a2) a commit is sent at once, one transaction per batch ----------- */

static int data_acked0(struct env *e)
{
	uint64_t a = 0;

	return sender_acked(e->n[0].tx, e->n[0].pool, LANE_DATA, &a) == 0 &&
	       a == e->n[0].head[LANE_DATA];
}

/* The sender's only periodic work (positions, pings) is an hour apart: a
 * record committed and notified is sent and acknowledged without waiting
 * for any tick, and the receiver stores its batch in one transaction. */
static void test_sent_on_notify(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct receiver_stats rs0, rs1;
	struct sender_stats st;
	uint64_t tx0;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	write_data(e, &e->n[0], 0, 10);
	port = start_receiver(e, &e->n[1], &e->n[0], 0);
	assert_true(port > 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	tc.stats_ms = 3600000;
	tc.ping_ms = 3600000;
	tc.timeout_ms = 7200000;
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, data_acked0, 10000));
	receiver_get_stats(e->n[1].rx, &rs0);
	tx0 = e->n[1].store.stats.transactions;

	write_data(e, &e->n[0], 10, 1);
	assert_int_equal(e->n[0].head[LANE_DATA], 11);
	sender_committed(e->n[0].tx, "pool-east", LANE_DATA, 11);
	sender_notify(e->n[0].tx);
	assert_true(run_until(e, data_acked0, 5000));
	receiver_get_stats(e->n[1].rx, &rs1);
	assert_int_equal(rs1.batches - rs0.batches, 1);
	assert_int_equal(e->n[1].store.stats.transactions - tx0, 1);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_int_equal(st.ack.count, 1);
	env_teardown(e);
	free(e);
}

/* ---- (b) receiver restarts mid-stream --------------------------------- */

static int some_applied(struct env *e)
{
	return e->rx_applied[LANE_DATA] >= 600;
}

static int timer_done;
static void restart_timer(uv_timer_t *t)
{
	timer_done = 1;
	uv_close((uv_handle_t *)t, NULL);
}
static int timer_fired(struct env *e)
{
	(void)e;
	return timer_done;
}

static void test_receiver_restart(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct receiver_stats rs;
	struct sender_stats st;
	uv_timer_t t;
	uint64_t applied_before;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	write_data(e, &e->n[0], 0, 5000);
	write_content(e, &e->n[0], "a.bin", 600 * 1000, 64 * 1024, 1);
	port = start_receiver(e, &e->n[1], &e->n[0], 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	tc.batch_records = 40; /* many small batches: a long stream */
	tc.batch_bytes = 8192;
	tc.window_bytes = 16384;
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, some_applied, 20000));
	receiver_get_stats(e->n[1].rx, &rs);
	applied_before = rs.records_applied;
	assert_true(applied_before < 5000 + 10);
	e->closed = 0;
	receiver_close(e->n[1].rx, closed_cb, e);
	e->n[1].rx = NULL;

	timer_done = 0;
	uv_timer_init(&e->loop, &t);
	uv_timer_start(&t, restart_timer, 200, 0);
	assert_true(run_until(e, timer_fired, 5000));
	assert_int_equal(e->closed, 1);
	assert_int_equal(start_receiver(e, &e->n[1], &e->n[0], port), port);
	assert_true(run_until(e, synced0, 30000));
	assert_equal_copies(e, 0, 1);
	/* every record applied exactly once across both receivers */
	assert_int_equal(e->n[1].store.stats.applied, 5000 + 10);
	receiver_get_stats(e->n[1].rx, &rs);
	assert_true(rs.records_applied > 0); /* the second one resumed */
	assert_true(rs.records_applied + applied_before <= 5000 + 10);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_true(st.reconnects >= 1);
	assert_string_not_equal(st.last_error, "");
	/* the new connection started both histories over: the second
	 * receiver decoded dictionary batches, and nothing was refused */
	assert_true(st.batches_dict > 0);
	assert_true(rs.batches_dict > 0);
	assert_int_equal(rs.errors[RECEIVER_ERR_PROTO], 0);
	env_teardown(e);
	free(e);
}

/* ---- (c) byte-mangling proxy -------------------------------------------- */

struct proxy;

struct pconn {
	struct proxy *p;
	uv_tcp_t down; /* from the sender */
	uv_tcp_t up;   /* to the receiver */
	uv_connect_t creq;
	int open;      /* handles still open */
	int closing;
	size_t c2s;    /* bytes forwarded to the receiver */
	int damaged;
	char *pending; /* bytes from the sender before up connected */
	size_t pending_len;
	int up_ready;
};

struct proxy {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int upstream_port;
	int step; /* 0 flip, 1 truncate, 2 duplicate, 3 pass through */
	int conns;
	int live;
	int listener_closed;
};

struct pw {
	uv_write_t req;
	char *data;
};

static void pw_done(uv_write_t *req, int status)
{
	struct pw *w = (struct pw *)req;

	(void)status;
	free(w->data);
	free(w);
}

static void proxy_write(uv_tcp_t *to, const char *data, size_t len)
{
	struct pw *w = malloc(sizeof(*w));
	uv_buf_t b;

	assert_non_null(w);
	w->data = malloc(len);
	assert_non_null(w->data);
	memcpy(w->data, data, len);
	b = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)to, &b, 1, pw_done) != 0) {
		free(w->data);
		free(w);
	}
}

static void pconn_handle_closed(uv_handle_t *h)
{
	struct pconn *c = h->data;

	if (--c->open == 0) {
		c->p->live--;
		free(c->pending);
		free(c);
	}
}

static void pconn_close(struct pconn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->down, pconn_handle_closed);
	uv_close((uv_handle_t *)&c->up, pconn_handle_closed);
}

static void palloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(hint);
	buf->len = buf->base != NULL ? hint : 0;
}

/* Sender -> receiver: damage once per connection past 2000 bytes. */
static void pread_down(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct pconn *c = s->data;
	char *d = buf->base;

	if (n < 0 || c->closing) {
		if (n < 0)
			pconn_close(c);
		free(d);
		return;
	}
	if (n == 0) {
		free(d);
		return;
	}
	if (!c->up_ready) {
		char *p = realloc(c->pending, c->pending_len + (size_t)n);
		assert_non_null(p);
		memcpy(p + c->pending_len, d, (size_t)n);
		c->pending = p;
		c->pending_len += (size_t)n;
		free(d);
		return;
	}
	if (!c->damaged && c->c2s + (size_t)n > 2000 && c->p->step < 3) {
		size_t at = c->c2s >= 2000 ? 0 : 2000 - c->c2s;
		c->damaged = 1;
		switch (c->p->step++) {
		case 0: /* flip one byte */
			d[at] ^= 0x5a;
			break;
		case 1: /* truncate: forward a part, then drop both sides */
			proxy_write(&c->up, d, at + 1);
			free(d);
			pconn_close(c);
			return;
		case 2: /* duplicate a chunk of bytes */
			proxy_write(&c->up, d, (size_t)n);
			c->c2s += (size_t)n;
			break;
		}
	}
	proxy_write(&c->up, d, (size_t)n);
	c->c2s += (size_t)n;
	free(d);
}

static void pread_up(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct pconn *c = s->data;

	if (n < 0 || c->closing) {
		if (n < 0)
			pconn_close(c);
		free(buf->base);
		return;
	}
	if (n > 0)
		proxy_write(&c->down, buf->base, (size_t)n);
	free(buf->base);
}

static void pconnected(uv_connect_t *req, int status)
{
	struct pconn *c = req->data;

	if (status != 0 || c->closing) {
		pconn_close(c);
		return;
	}
	c->up_ready = 1;
	if (c->pending_len > 0)
		proxy_write(&c->up, c->pending, c->pending_len);
	c->c2s += c->pending_len;
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	uv_read_start((uv_stream_t *)&c->up, palloc, pread_up);
}

static void paccept(uv_stream_t *server, int status)
{
	struct proxy *p = server->data;
	struct pconn *c;
	struct sockaddr_in addr;

	if (status != 0)
		return;
	c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->p = p;
	c->down.data = c;
	c->up.data = c;
	c->creq.data = c;
	uv_tcp_init(p->loop, &c->down);
	uv_tcp_init(p->loop, &c->up);
	c->open = 2;
	p->live++;
	p->conns++;
	if (uv_accept(server, (uv_stream_t *)&c->down) != 0) {
		pconn_close(c);
		return;
	}
	uv_ip4_addr("127.0.0.1", p->upstream_port, &addr);
	uv_read_start((uv_stream_t *)&c->down, palloc, pread_down);
	if (uv_tcp_connect(&c->creq, &c->up, (struct sockaddr *)&addr,
			   pconnected) != 0)
		pconn_close(c);
}

static int proxy_start(struct proxy *p, uv_loop_t *loop, int upstream)
{
	struct sockaddr_in addr;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->upstream_port = upstream;
	p->listener.data = p;
	uv_tcp_init(loop, &p->listener);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	assert_int_equal(uv_tcp_bind(&p->listener, (struct sockaddr *)&addr, 0),
			 0);
	assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 16, paccept),
			 0);
	uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void proxy_listener_closed(uv_handle_t *h)
{
	struct proxy *p = h->data;

	p->listener_closed = 1;
}

static struct proxy *proxy_wait;
static int proxy_gone(struct env *e)
{
	(void)e;
	return proxy_wait->listener_closed && proxy_wait->live == 0;
}

static void proxy_stop(struct env *e, struct proxy *p)
{
	uv_close((uv_handle_t *)&p->listener, proxy_listener_closed);
	proxy_wait = p;
	assert_true(run_until(e, proxy_gone, 5000));
}

static void test_mangling_proxy(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct proxy *p = calloc(1, sizeof(*p));
	struct sender_config tc;
	struct sender_stats sd, sc;
	struct receiver_stats rs;
	int port, pport;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	e->watch[0] = "checksum";
	e->watch[1] = "peer 127.0.0.1";
	write_data(e, &e->n[0], 0, 5000);
	write_content(e, &e->n[0], "b.bin", 2 * 1000 * 1000, 128 * 1024, 1);
	port = start_receiver(e, &e->n[1], &e->n[0], 0);
	pport = proxy_start(p, &e->loop, port);
	tc = tx_config(e, &e->n[0], &e->n[1], pport);
	tc.window_bytes = 64 * 1024;
	tc.batch_bytes = 32 * 1024;
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, synced0, 60000));
	assert_int_equal(p->step, 3); /* all three kinds of damage happened */
	assert_true(p->conns >= 4);
	assert_equal_copies(e, 0, 1);
	assert_int_equal(e->n[1].store.stats.applied,
			 e->n[0].head[0] + e->n[0].head[1]);
	receiver_get_stats(e->n[1].rx, &rs);
	assert_true(rs.errors[RECEIVER_ERR_FRAME] >= 1); /* flipped byte */
	assert_true(e->hits[0] >= 1);                    /* logged */
	assert_true(e->hits[1] >= 2); /* sender logged the peer and why */
	sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA, &sd);
	sender_stats_get(e->n[0].tx, "pool-east", LANE_CONTENT, &sc);
	assert_true(sd.reconnects + sc.reconnects >= 2);
	assert_true(sd.last_error[0] != '\0' || sc.last_error[0] != '\0');
	/* in dictionary mode, with both histories dropped and started over
	 * on every reconnect (a stale one would make the next batch fail to
	 * decode, or decode wrong, and the copies differ) */
	assert_true(sd.batches_dict > 0);
	assert_true(rs.batches_dict > 0);
	sender_close(e->n[0].tx, NULL, NULL);
	e->n[0].tx = NULL;
	proxy_stop(e, p);
	env_teardown(e);
	free(p);
	free(e);
}

/* ---- (d) wrong pool --------------------------------------------------------- */

static int refused_twice(struct env *e)
{
	struct receiver_stats rs;

	receiver_get_stats(e->n[1].rx, &rs);
	return rs.errors[RECEIVER_ERR_HELLO] >= 4 && e->hits[0] >= 2 &&
	       e->hits[1] >= 2;
}

static void test_wrong_pool_refused(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct sender *wrong_set;
	struct receiver_stats rs;
	struct pos_ctx pc;
	static const char *const other[] = {"pool-south"};
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	e->watch[0] = "from pool pool-north, expected pool-east";
	e->watch[1] = "user set pool-south not accepted";
	write_data(e, &e->n[0], 0, 50);
	port = start_receiver(e, &e->n[1], &e->n[0], 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	tc.local_pool = "pool-north";
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	tc.user_sets = other;
	assert_int_equal(sender_init(&wrong_set, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, refused_twice, 10000));
	receiver_get_stats(e->n[1].rx, &rs);
	assert_int_equal(rs.records_applied, 0);
	assert_int_equal(rs.handshakes, 0);
	assert_int_equal(rs.batches, 0);
	positions(e, &e->n[1].store, "pool-east", &pc);
	assert_int_equal(pc.applied[0], 0);
	sender_close(wrong_set, NULL, NULL);
	env_teardown(e);
	free(e);
}

/* ---- (e) both directions ------------------------------------------------- */

static void test_both_directions(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	int pe, pw;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	write_data(e, &e->n[0], 0, 2000);
	write_content(e, &e->n[0], "e.bin", 300 * 1000, 64 * 1024, 1);
	write_data(e, &e->n[1], 10000, 2500);
	write_content(e, &e->n[1], "w.bin", 200 * 1000, 64 * 1024, 1);
	pw = start_receiver(e, &e->n[1], &e->n[0], 0); /* west takes east */
	pe = start_receiver(e, &e->n[0], &e->n[1], 0); /* east takes west */
	tc = tx_config(e, &e->n[0], &e->n[1], pw);
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	tc = tx_config(e, &e->n[1], &e->n[0], pe);
	assert_int_equal(sender_init(&e->n[1].tx, &e->loop, &e->n[1].store, &tc),
			 0);
	/* writes keep coming on both sides while streaming */
	write_data(e, &e->n[0], 2000, 500);
	sender_notify(e->n[0].tx);
	write_data(e, &e->n[1], 12500, 500);
	sender_notify(e->n[1].tx);
	assert_true(run_until(e, synced_both, 30000));
	assert_equal_copies(e, 0, 1);
	assert_equal_copies(e, 1, 0);
	env_teardown(e);
	free(e);
}

/* ---- (f) lanes do not block each other ------------------------------------ */

static void test_lanes_independent(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct sender_stats sc;
	size_t total = (size_t)20 << 20;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	write_content(e, &e->n[0], "big.mp4", total, 256 * 1024, 1);
	write_data(e, &e->n[0], 0, 300);
	port = start_receiver(e, &e->n[1], &e->n[0], 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, synced0, 60000));
	assert_true(e->data_done);
	/* the small records were all applied while content was still
	 * arriving */
	assert_true(e->data_done_content_applied < e->n[0].head[LANE_CONTENT]);
	assert_int_equal(e->n[0].head[LANE_CONTENT], 80);
	sender_stats_get(e->n[0].tx, "pool-east", LANE_CONTENT, &sc);
	assert_int_equal(sc.records_sent, 80);
	assert_true(sc.bytes_raw >= total);
	assert_equal_copies(e, 0, 1);
	env_teardown(e);
	free(e);
}

/* ---- (g) a peer that accepts and never answers -------------------------- */

struct mute {
	uv_tcp_t listener;
	uv_tcp_t conns[16];
	int n;
	int open;
};

static void mute_closed(uv_handle_t *h)
{
	struct mute *m = h->data;

	m->open--;
}

static void mute_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)s;
	(void)n;
	free(buf->base);
}

static void mute_accept(uv_stream_t *server, int status)
{
	struct mute *m = server->data;
	uv_tcp_t *t;

	if (status != 0 || m->n == 16)
		return;
	t = &m->conns[m->n++];
	t->data = m;
	uv_tcp_init(server->loop, t);
	m->open++;
	if (uv_accept(server, (uv_stream_t *)t) == 0)
		uv_read_start((uv_stream_t *)t, palloc, mute_read);
}

static int silent_detected(struct env *e)
{
	return e->hits[0] >= 2 && e->hits[1] >= 1;
}

static struct mute *mute_wait;
static int mute_gone(struct env *e)
{
	(void)e;
	return mute_wait->open == 0;
}

static void test_silent_peer(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct mute *m = calloc(1, sizeof(*m));
	struct sender_config tc;
	struct sender_stats st;
	struct sockaddr_in addr;
	struct sockaddr_storage ss;
	int len = sizeof(ss), i;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	e->watch[0] = "peer silent for";
	e->watch[1] = "handshaking -> closing";
	write_data(e, &e->n[0], 0, 10);
	m->listener.data = m;
	uv_tcp_init(&e->loop, &m->listener);
	m->open = 1;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	assert_int_equal(uv_tcp_bind(&m->listener, (struct sockaddr *)&addr, 0),
			 0);
	assert_int_equal(uv_listen((uv_stream_t *)&m->listener, 16, mute_accept),
			 0);
	uv_tcp_getsockname(&m->listener, (struct sockaddr *)&ss, &len);
	tc = tx_config(e, &e->n[0], &e->n[1],
		       ntohs(((struct sockaddr_in *)&ss)->sin_port));
	tc.ping_ms = 50;
	tc.timeout_ms = 250;
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, silent_detected, 10000));
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_true(st.reconnects >= 1);
	assert_non_null(strstr(st.last_error, "peer silent for"));
	assert_int_equal(st.acked_seq, 0);
	sender_close(e->n[0].tx, NULL, NULL);
	e->n[0].tx = NULL;
	for (i = 0; i < m->n; i++)
		uv_close((uv_handle_t *)&m->conns[i], mute_closed);
	uv_close((uv_handle_t *)&m->listener, mute_closed);
	mute_wait = m;
	assert_true(run_until(e, mute_gone, 5000));
	env_teardown(e);
	free(m);
	free(e);
}


/* ---- (h) dictionary mode: negotiation and small batches ---------------- */

struct dict_phase {
	struct sender_stats st;
	struct receiver_stats rs;
};

/* Stream count new records of node 0 in batches of two through a new
 * sender and receiver, with the dictionary mode offered or not on each
 * side; both are closed afterwards. */
static void dict_phase_run(struct env *e, int first, int count, int tx_off,
			   int rx_off, struct dict_phase *out)
{
	struct sender_config tc;
	int port;

	write_data(e, &e->n[0], first, count);
	port = start_receiver_opt(e, &e->n[1], &e->n[0], 0, rx_off);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	tc.batch_records = 2; /* the user model's rate: small batches */
	tc.lz4_dict_off = tx_off;
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, synced0, 30000));
	assert_equal_copies(e, 0, 1);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &out->st),
			 0);
	receiver_get_stats(e->n[1].rx, &out->rs);
	assert_int_equal(out->st.records_sent, (uint64_t)count);
	assert_int_equal(out->st.reconnects, 0);
	e->closed = 0;
	sender_close(e->n[0].tx, closed_cb, e);
	receiver_close(e->n[1].rx, closed_cb, e);
	e->n[0].tx = NULL;
	e->n[1].rx = NULL;
	all_closed_pred_n = 2;
	assert_true(run_until(e, all_closed, 5000));
}

static void test_dict_negotiation(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct dict_phase both, old_rx, old_tx;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	e->watch[0] = "dictionary mode on";	      /* sender */
	e->watch[1] = "position, lz4 dictionary mode"; /* receiver */

	/* both ends offer it: every batch is compressed against the
	 * connection's history */
	dict_phase_run(e, 0, 2000, 0, 0, &both);
	assert_int_equal(both.st.batches_sent, 1000);
	assert_true(both.st.batches_dict >= 990);
	assert_int_equal(both.rs.batches_dict, both.st.batches_dict);
	assert_int_equal(e->hits[0], 2); /* one per lane */
	assert_int_equal(e->hits[1], 2);

	/* a receiver that does not know the mode never sees such a frame */
	dict_phase_run(e, 2000, 2000, 0, 1, &old_rx);
	assert_int_equal(old_rx.st.batches_sent, 1000);
	assert_int_equal(old_rx.st.batches_dict, 0);
	assert_int_equal(old_rx.rs.batches_dict, 0);

	/* nor does a sender that does not offer it send one */
	dict_phase_run(e, 4000, 2000, 1, 0, &old_tx);
	assert_int_equal(old_tx.st.batches_dict, 0);
	assert_int_equal(old_tx.rs.batches_dict, 0);
	assert_int_equal(e->hits[0], 2);
	assert_int_equal(e->hits[1], 2);
	assert_int_equal(both.rs.errors[RECEIVER_ERR_PROTO] +
			     old_rx.rs.errors[RECEIVER_ERR_PROTO] +
			     old_tx.rs.errors[RECEIVER_ERR_PROTO],
			 0);

	/* small batches are much smaller on the wire with the history */
	printf("# batches of 2: %.1f %% of raw with the history, %.1f %% "
	       "without\n",
	       100.0 * (double)both.st.bytes_wire / (double)both.st.bytes_raw,
	       100.0 * (double)old_rx.st.bytes_wire /
		   (double)old_rx.st.bytes_raw);
	assert_true(both.st.bytes_wire * 100 <
		    old_rx.st.bytes_wire * 80 * both.st.bytes_raw /
			old_rx.st.bytes_raw);
	env_teardown(e);
	free(e);
}

/* ---- (i) a hand-made peer sends dictionary frames ------------------------ */

/* A batch of n settings records of pool-east from seq, in dictionary mode
 * against d. */
static void dict_batch(struct batch_dict *d, uint64_t seq, int n,
		       void **payload, size_t *len, uint16_t *flags)
{
	Poolpair__Repl__ChangeRecord r[4];
	const Poolpair__Repl__ChangeRecord *p[4];
	static const char v[] = "{\"presence\":\"available\",\"note\":"
				"\"in the office\",\"ringTimeout\":20}";
	char keys[4][64];
	int i;

	for (i = 0; i < n; i++) {
		poolpair__repl__change_record__init(&r[i]);
		snprintf(keys[i], sizeof(keys[i]),
			 "sip:user%d@example.com", (int)seq + i);
		r[i].user_set = "pool-east";
		r[i].epoch = 1;
		r[i].seq = seq + (uint64_t)i;
		r[i].hlc = (seq + (uint64_t)i) << 16;
		r[i].op = POOLPAIR__REPL__OP__OP_PUT;
		r[i].kind = POOLPAIR__REPL__KIND__KIND_SETTINGS;
		r[i].lane = LANE_DATA;
		r[i].key = keys[i];
		r[i].value.data = (uint8_t *)v;
		r[i].value.len = sizeof(v) - 1;
		p[i] = &r[i];
	}
	assert_int_equal(batch_encode_dict(p, (size_t)n, d, payload, len,
					   flags, NULL),
			 0);
	assert_int_equal(*flags, FRAME_FLAG_LZ4 | FRAME_FLAG_DICT);
}

static void test_dict_frames_refused(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(1, sizeof(*c));
	struct receiver_stats rs;
	struct batch_dict d;
	struct pos_ctx pc;
	void *payload;
	size_t len;
	uint16_t flags;
	uint8_t *z;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	e->watch[0] = "receiver: dropping 127.0.0.1:";
	e->watch[1] = "(proto): batch: dictionary batch without the "
		      "dictionary mode";
	e->watch[2] = "(proto): batch: corrupt lz4 block";
	port = start_receiver(e, &e->n[1], &e->n[0], 0);

	/* not offered, so not agreed: a dictionary frame is bad input */
	rawc_open(&e->loop, c, port, 77, 0);
	assert_int_equal(c->hello_dict, 0);
	batch_dict_init(&d);
	dict_batch(&d, 1, 3, &payload, &len, &flags);
	assert_int_equal(stream_write_frame_owned((uv_stream_t *)&c->tcp,
						  FRAME_RECORDS, flags,
						  payload, len),
			 0);
	assert_true(rawc_wait(&e->loop, &c->eof, 5000));
	assert_int_equal(c->errors, 1); /* told why */
	assert_int_equal(e->hits[0], 1);
	assert_int_equal(e->hits[1], 1);
	receiver_get_stats(e->n[1].rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_PROTO], 1);
	assert_int_equal(rs.records_applied, 0);
	rawc_close(&e->loop, c);

	/* offered and agreed: dictionary frames are applied, from an empty
	 * history on this new connection */
	batch_dict_reset(&d);
	rawc_open(&e->loop, c, port, 77, 1);
	assert_int_equal(c->hello_dict, 1);
	dict_batch(&d, 1, 3, &payload, &len, &flags);
	assert_int_equal(stream_write_frame_owned((uv_stream_t *)&c->tcp,
						  FRAME_RECORDS, flags,
						  payload, len),
			 0);
	assert_true(rawc_wait(&e->loop, &c->acks, 5000));
	c->acks = 0;
	dict_batch(&d, 4, 2, &payload, &len, &flags);
	assert_int_equal(stream_write_frame_owned((uv_stream_t *)&c->tcp,
						  FRAME_RECORDS, flags,
						  payload, len),
			 0);
	assert_true(rawc_wait(&e->loop, &c->acks, 5000));
	receiver_get_stats(e->n[1].rx, &rs);
	assert_int_equal(rs.records_applied, 5);
	assert_int_equal(rs.batches_dict, 2);

	/* a damaged dictionary batch (its frame checksum is right: the
	 * damage happened before framing) drops the connection */
	dict_batch(&d, 6, 2, &payload, &len, &flags);
	z = payload;
	z[0]++; /* declared raw size one too large */
	assert_int_equal(stream_write_frame_owned((uv_stream_t *)&c->tcp,
						  FRAME_RECORDS, flags,
						  payload, len),
			 0);
	assert_true(rawc_wait(&e->loop, &c->eof, 5000));
	assert_int_equal(e->hits[0], 2);
	assert_int_equal(e->hits[2], 1);
	receiver_get_stats(e->n[1].rx, &rs);
	assert_int_equal(rs.errors[RECEIVER_ERR_PROTO], 2);
	assert_int_equal(rs.records_applied, 5);
	rawc_close(&e->loop, c);
	batch_dict_close(&d);
	positions(e, &e->n[1].store, "pool-east", &pc);
	assert_int_equal(pc.applied[LANE_DATA], 5); /* resume point */
	env_teardown(e);
	free(c);
	free(e);
}

/* ---- argument checks ---------------------------------------------------- */

static void test_bad_config(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_config tc;
	struct receiver_config rc = {0};
	struct sender *s = NULL;
	struct receiver *r = NULL;
	static const char *const dup[] = {"a", "a"};

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	tc = tx_config(e, &e->n[0], &e->n[1], 1);
	tc.local_pool = "";
	assert_int_equal(sender_init(&s, &e->loop, &e->n[0].store, &tc),
			 STREAM_E_ARG);
	tc = tx_config(e, &e->n[0], &e->n[1], 1);
	tc.user_sets = dup;
	tc.n_user_sets = 2;
	assert_int_equal(sender_init(&s, &e->loop, &e->n[0].store, &tc),
			 STREAM_E_ARG);
	rc.local_pool = "pool-west";
	rc.peer_pool = "pool-east";
	rc.host = "not-an-address";
	assert_int_equal(receiver_init(&r, &e->loop, &e->n[1].store, &rc),
			 UV_EINVAL);
	assert_null(s);
	assert_null(r);
	assert_string_equal(receiver_reason_name(RECEIVER_ERR_GAP), "gap");
	assert_string_equal(sender_state_name(SENDER_BACKOFF), "backoff");
	env_teardown(e);
	free(e);
}

/* ---- (k) over TLS ------------------------------------------------------ */

#define CERT_TOOL "../../scripts/poolpair-cert"

static char tls_dir[64];

static int tls_sh(const char *cmd)
{
	char line[512];

	snprintf(line, sizeof(line), "%s >/dev/null", cmd);
	return system(line);
}

static void tls_load(struct tls_ctx *c, const char *ca, const char *name)
{
	char pca[160], pcert[160], pkey[160];

	snprintf(pca, sizeof(pca), "%s/%s/ca.crt", tls_dir, ca);
	snprintf(pcert, sizeof(pcert), "%s/%s/%s.crt", tls_dir, ca, name);
	snprintf(pkey, sizeof(pkey), "%s/%s/%s.key", tls_dir, ca, name);
	if (tls_ctx_init(c, pca, pcert, pkey) != 0)
		fail_msg("tls_ctx_init %s: %s", name, c->errmsg);
}

static int tls_group_setup(void **state)
{
	static const char *const cmds[] = {
	    CERT_TOOL " ca %s/a",
	    CERT_TOOL " ca %s/b --cn other",
	    /* the agents start_receiver_tls and tx_config name */
	    CERT_TOOL " issue %s/a east --role agent --agent-id 1 "
		      "--pool pool-east",
	    CERT_TOOL " issue %s/a west --role agent --agent-id 11 "
		      "--pool pool-west",
	    CERT_TOOL " issue %s/a ops --role operator",
	    CERT_TOOL " issue %s/b rogue --role agent --agent-id 3",
	};
	char cmd[256];
	size_t i;

	(void)state;
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/pp-stream-tls-XXXXXX");
	if (mkdtemp(tls_dir) == NULL)
		return -1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(cmd, sizeof(cmd), cmds[i], tls_dir);
		if (tls_sh(cmd) != 0)
			return -1;
	}
	return 0;
}

static int tls_group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
	return tls_sh(cmd) == 0 ? 0 : -1;
}

/* A receiver at n[1] for n[0]'s user set, with a context (or NULL). */
static int start_receiver_tls(struct env *e, struct tls_ctx *tls,
			      int require)
{
	static const char *sets[1];
	struct receiver_config c = {0};

	sets[0] = e->n[0].pool;
	c.local_pool = e->n[1].pool;
	c.peer_pool = e->n[0].pool;
	c.agent_id = 11;
	c.host = "127.0.0.1";
	c.user_sets = sets;
	c.n_user_sets = 1;
	c.log = on_log;
	c.on_apply = on_apply;
	c.arg = e;
	c.tls = tls;
	c.tls_require = require;
	assert_int_equal(
	    receiver_init(&e->n[1].rx, &e->loop, &e->n[1].store, &c), 0);
	assert_int_equal(receiver_set_epoch(e->n[1].rx, e->n[0].pool, 1), 0);
	return receiver_port(e->n[1].rx);
}

static int watched_both(struct env *e)
{
	return e->hits[0] > 0 && e->hits[1] > 0;
}

/* Everything arrives over TLS, content lane included. */
static void test_tls_all_records_arrive(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct tls_ctx east, west;
	struct sender_config tc;
	struct receiver_stats rs;
	struct sender_stats st;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	tls_load(&east, "a", "east");
	tls_load(&west, "a", "west");
	write_data(e, &e->n[0], 0, 3000);
	write_content(e, &e->n[0], "deck.pptx", 2 * 256 * 1024 + 77,
		      256 * 1024, 1);
	port = start_receiver_tls(e, &west, 1);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	tc.tls = &east;
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, synced0, 30000));
	assert_equal_copies(e, 0, 1);
	receiver_get_stats(e->n[1].rx, &rs);
	assert_int_equal(rs.records_applied, 3003);
	assert_int_equal(rs.handshakes, 2);
	assert_int_equal(sender_stats_get(e->n[0].tx, "pool-east", LANE_DATA,
					  &st),
			 0);
	assert_int_equal(st.reconnects, 0);
	write_data(e, &e->n[0], 3000, 10);
	sender_notify(e->n[0].tx);
	assert_true(run_until(e, synced0, 10000));
	assert_equal_copies(e, 0, 1);
	env_teardown(e);
	tls_ctx_close(&east);
	tls_ctx_close(&west);
	free(e);
}

/* Refused handshakes: another CA, an operator certificate, a plain
 * sender; nothing is applied, and both ends say why. */
static void test_tls_refused(void **state)
{
	static const struct {
		const char *ca, *name; /* NULL: plain sender */
		const char *rx_says, *tx_says;
	} cases[] = {
	    {"b", "rogue", "peer certificate from an unknown CA",
	     "tls: peer certificate from an unknown CA (CN=west)"},
	    {"a", "ops", "role operator not allowed here (CN=ops)",
	     "read: peer refused the handshake"},
	    {NULL, NULL, "plain connection refused: not TLS", "closed"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct env *e = calloc(1, sizeof(*e));
		struct tls_ctx west, tx;
		struct sender_config tc;
		struct receiver_stats rs;
		int port;

		env_setup(e, "pool-east", "pool-west");
		tls_load(&west, "a", "west");
		write_data(e, &e->n[0], 0, 20);
		e->watch[0] = cases[i].rx_says;
		e->watch[1] = cases[i].tx_says;
		port = start_receiver_tls(e, &west, 1);
		tc = tx_config(e, &e->n[0], &e->n[1], port);
		if (cases[i].ca != NULL) {
			tls_load(&tx, cases[i].ca, cases[i].name);
			tc.tls = &tx;
		}
		assert_int_equal(
		    sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc), 0);
		if (!run_until(e, watched_both, 10000))
			fail_msg("case %zu: receiver saw '%s' %d times, sender "
				 "'%s' %d times",
				 i, cases[i].rx_says, e->hits[0],
				 cases[i].tx_says, e->hits[1]);
		receiver_get_stats(e->n[1].rx, &rs);
		assert_int_equal(rs.handshakes, 0);
		assert_int_equal(rs.records_applied, 0);
		assert_true(rs.errors[RECEIVER_ERR_HELLO] > 0);
		env_teardown(e);
		tls_ctx_close(&west);
		if (cases[i].ca != NULL)
			tls_ctx_close(&tx);
		free(e);
	}
}

/* require = false: a plain sender is accepted by a TLS receiver. */
static void test_tls_plain_accepted_without_require(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct tls_ctx west;
	struct sender_config tc;
	int port;

	(void)state;
	env_setup(e, "pool-east", "pool-west");
	tls_load(&west, "a", "west");
	e->watch[0] = "streams in plain TCP (tls require = false)";
	write_data(e, &e->n[0], 0, 500);
	port = start_receiver_tls(e, &west, 0);
	tc = tx_config(e, &e->n[0], &e->n[1], port);
	assert_int_equal(sender_init(&e->n[0].tx, &e->loop, &e->n[0].store, &tc),
			 0);
	assert_true(run_until(e, synced0, 10000));
	assert_equal_copies(e, 0, 1);
	assert_true(e->hits[0] >= 2); /* one warning per lane */
	env_teardown(e);
	tls_ctx_close(&west);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_all_records_arrive),
		cmocka_unit_test(test_sent_on_notify),
		cmocka_unit_test(test_receiver_restart),
		cmocka_unit_test(test_mangling_proxy),
		cmocka_unit_test(test_wrong_pool_refused),
		cmocka_unit_test(test_both_directions),
		cmocka_unit_test(test_lanes_independent),
		cmocka_unit_test(test_silent_peer),
		cmocka_unit_test(test_dict_negotiation),
		cmocka_unit_test(test_dict_frames_refused),
	};

	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test(test_tls_all_records_arrive),
		cmocka_unit_test(test_tls_refused),
		cmocka_unit_test(test_tls_plain_accepted_without_require),
	};
	/* a peer that closes first must not kill the test with SIGPIPE:
	 * the write fails with EPIPE, as in poolpaird */
	signal(SIGPIPE, SIG_IGN);
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	failed += cmocka_run_group_tests(tls_tests, tls_group_setup,
					 tls_group_teardown);
	return failed;
}
