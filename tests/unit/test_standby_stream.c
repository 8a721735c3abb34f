/* Tests of the hot-standby hooks of replication/sender.c and
 * replication/receiver.c: a local copy's sender (no_trim), the limit of a
 * stream (sender_set_limit), receiver_set_peer with an in-site stream
 * (from_pool == to_pool), receiver_set_peer_agent (only the writer) and a
 * receiver in outbox mode whose store then streams the records it kept to the
 * pair. Three stores on one loop, real TCP on loopback: A the writer of
 * pool-east, B a standby of pool-east, C the pair (pool-west). */
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

#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT
#define POOL "pool-east"
#define PAIR "pool-west"
#define N_NODES 3
#define MAX_WATCH 4

struct node {
	const char *name; /* database file */
	const char *pool;
	struct store store;
	struct sender *tx;
	struct receiver *rx;
	uint64_t head[2]; /* writer: last seq written per lane */
};

struct env {
	uv_loop_t loop;
	char dir[64];
	struct node n[N_NODES];
	int writes_pending;
	int write_errors;
	int closed;
	int timed_out;
	int verbose;
	const char *watch[MAX_WATCH];
	int hits[MAX_WATCH];
	uint64_t on_ack[2];    /* newest acked_seq on_ack reported */
	uint64_t rx_applied[N_NODES][2]; /* on_apply per receiving node */
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

static int never(struct env *e)
{
	(void)e;
	return 0;
}

/* Let the loop run for ms (to see that something does NOT happen). */
static void run_for(struct env *e, unsigned ms)
{
	run_until(e, never, ms);
}

static int writes_done(struct env *e)
{
	return e->writes_pending == 0;
}

static void env_setup(struct env *e)
{
	static const char *const names[N_NODES] = {"a", "b", "c"};
	static const char *const pools[N_NODES] = {POOL, POOL, PAIR};
	char path[128], err[256];
	int i;

	memset(e, 0, sizeof(*e));
	e->verbose = getenv("STREAM_VERBOSE") != NULL;
	assert_int_equal(uv_loop_init(&e->loop), 0);
	snprintf(e->dir, sizeof(e->dir), "/tmp/pp-standby-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	for (i = 0; i < N_NODES; i++) {
		e->n[i].name = names[i];
		e->n[i].pool = pools[i];
		snprintf(path, sizeof(path), "%s/%s.db", e->dir, names[i]);
		assert_int_equal(store_open(&e->n[i].store, &e->loop, path,
					    NULL, err, sizeof(err)),
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

static int closed_want;
static int all_closed(struct env *e)
{
	return e->closed >= closed_want;
}

/* Close every module, then the stores; assert the loop ends empty. */
static void env_teardown(struct env *e)
{
	char path[160];
	int i, k;

	e->closed = 0;
	closed_want = 0;
	for (i = 0; i < N_NODES; i++) {
		if (e->n[i].tx != NULL) {
			sender_close(e->n[i].tx, closed_cb, e);
			e->n[i].tx = NULL;
			closed_want++;
		}
		if (e->n[i].rx != NULL) {
			receiver_close(e->n[i].rx, closed_cb, e);
			e->n[i].rx = NULL;
			closed_want++;
		}
	}
	assert_true(run_until(e, all_closed, 5000));
	e->closed = 0;
	e->loop.data = e;
	for (i = 0; i < N_NODES; i++)
		store_close(&e->n[i].store, store_closed);
	closed_want = N_NODES;
	assert_true(run_until(e, all_closed, 5000));
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	for (i = 0; i < N_NODES; i++) {
		const char *sfx[] = {"", "-wal", "-shm"};
		for (k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%s.db%s", e->dir,
				 e->n[i].name, sfx[k]);
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

/* count user-data records of POOL at node n, keys from first. */
static void write_data(struct env *e, struct node *n, int first, int count)
{
	static const int kinds[] = {
	    POOLPAIR__REPL__KIND__KIND_PROFILE,
	    POOLPAIR__REPL__KIND__KIND_CONTACTS,
	    POOLPAIR__REPL__KIND__KIND_SETTINGS,
	};
	char key[64], value[128];
	int i;

	for (i = first; i < first + count; i++) {
		struct store_write w = {0};
		snprintf(key, sizeof(key), "sip:user%d@example.com", i % 300);
		snprintf(value, sizeof(value), "{\"note\":\"rev %d\"}", i);
		w.user_set = POOL;
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

/* One content item of POOL at node n: total bytes in chunks of chunk. */
static void write_content(struct env *e, struct node *n, const char *name,
			  size_t total, size_t chunk)
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
		w.user_set = POOL;
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
	assert_true(run_until(e, writes_done, 30000));
	assert_int_equal(e->write_errors, 0);
}

static void on_ack(void *arg, const char *user_set, int lane, uint64_t acked)
{
	struct env *e = arg;

	assert_string_equal(user_set, POOL);
	if (lane >= 0 && lane < 2 && acked > e->on_ack[lane])
		e->on_ack[lane] = acked;
}

static void on_apply_b(void *arg, const char *user_set, int lane,
		       uint64_t seq)
{
	struct env *e = arg;

	(void)user_set;
	if (lane >= 0 && lane < 2 && seq > e->rx_applied[1][lane])
		e->rx_applied[1][lane] = seq;
}

static void on_apply_c(void *arg, const char *user_set, int lane,
		       uint64_t seq)
{
	struct env *e = arg;

	(void)user_set;
	if (lane >= 0 && lane < 2 && seq > e->rx_applied[2][lane])
		e->rx_applied[2][lane] = seq;
}

static const char *const pool_sets[] = {POOL};

static unsigned sender_stats_ms; /* 0: 50 */
static uint64_t rx_peer_agent;	 /* receiver_config.peer_agent */

/* A sender at node from for POOL, local_pool from's pool, to peer. */
static void start_sender(struct env *e, struct node *from, const char *peer,
			 int port, int no_trim)
{
	struct sender_config c = {0};

	c.local_pool = from->pool;
	c.peer_pool = peer;
	c.agent_id = (uint64_t)(from - e->n) + 1;
	c.host = "127.0.0.1";
	c.port = (uint16_t)port;
	c.user_sets = pool_sets;
	c.n_user_sets = 1;
	c.backoff_min_ms = 20;
	c.backoff_max_ms = 100;
	c.stats_ms = sender_stats_ms ? sender_stats_ms : 50;
	c.no_trim = no_trim;
	c.log = on_log;
	c.on_ack = on_ack;
	c.arg = e;
	assert_int_equal(sender_init(&from->tx, &e->loop, &from->store, &c), 0);
}

/* A receiver at node at for POOL from peer; returns its port. */
static int start_receiver(struct env *e, struct node *at, const char *peer,
			  int outbox_mode)
{
	struct receiver_config c = {0};

	c.local_pool = at->pool;
	c.peer_pool = peer;
	c.agent_id = (uint64_t)(at - e->n) + 10;
	c.host = "127.0.0.1";
	c.user_sets = pool_sets;
	c.n_user_sets = 1;
	c.timeout_ms = 2000;
	c.outbox_mode = outbox_mode;
	c.peer_agent = rx_peer_agent;
	c.log = on_log;
	c.on_apply = at == &e->n[1] ? on_apply_b : on_apply_c;
	c.arg = e;
	assert_int_equal(receiver_init(&at->rx, &e->loop, &at->store, &c), 0);
	return receiver_port(at->rx);
}

/* ---- checks ----------------------------------------------------------- */

struct pos_ctx {
	int done;
	uint64_t applied[2], acked[2], lag[2], head[2];
};

static void pos_done(void *arg, int status, const struct store_positions *p)
{
	struct pos_ctx *c = arg;
	size_t i;

	assert_int_equal(status, 0);
	for (i = 0; i < p->n; i++) {
		int l = p->v[i].lane;
		if (strcmp(p->v[i].user_set, POOL) != 0 || l < 0 || l > 1)
			continue;
		c->applied[l] = p->v[i].applied_seq;
		c->acked[l] = p->v[i].acked_seq;
		c->lag[l] = p->v[i].lag_records;
		c->head[l] = p->v[i].head_seq;
	}
	c->done = 1;
}

static int *flag_wait;
static int flag_set(struct env *e)
{
	(void)e;
	return *flag_wait;
}

static void positions(struct env *e, struct node *n, struct pos_ctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_stream_positions(&n->store, pos_done, c), 0);
	flag_wait = &c->done;
	assert_true(run_until(e, flag_set, 5000));
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

static void digest(struct env *e, struct node *n, struct digest_ctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_digest(&n->store, POOL, digest_done, c), 0);
	flag_wait = &c->done;
	assert_true(run_until(e, flag_set, 10000));
}

static void assert_same_copy(struct env *e, struct node *a, struct node *b)
{
	struct digest_ctx da, db;

	digest(e, a, &da);
	digest(e, b, &db);
	assert_true(da.items > 0);
	assert_int_equal(da.items, db.items);
	assert_memory_equal(da.b, db.b, sizeof(da.b));
}

/* The sender of A acked both lanes up to A's heads. */
static int a_acked(struct env *e)
{
	uint64_t acked;
	int lane;

	for (lane = 0; lane < 2; lane++) {
		if (sender_acked(e->n[0].tx, POOL, lane, &acked) != 0 ||
		    acked != e->n[0].head[lane])
			return 0;
	}
	return 1;
}

static int b_at_90(struct env *e)
{
	return e->rx_applied[1][LANE_DATA] == 90;
}

static void ack_done(void *arg, int status, const char *errmsg)
{
	int *done = arg;

	if (status != 0)
		printf("# ack: %s\n", errmsg);
	assert_int_equal(status, 0);
	*done = 1;
}

/* The pair acknowledged (POOL, lane) of n's store up to seq. */
static void store_ack(struct env *e, struct node *n, int lane, uint64_t seq)
{
	int done = 0;

	assert_int_equal(
	    store_outbox_ack(&n->store, POOL, lane, seq, ack_done, &done), 0);
	flag_wait = &done;
	assert_true(run_until(e, flag_set, 5000));
}

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

static int b_at_limit(struct env *e)
{
	return e->rx_applied[1][LANE_DATA] == 40 && e->on_ack[LANE_DATA] == 40;
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

static int refused_seen(struct env *e)
{
	return e->hits[0] >= 1;
}

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
	    cmocka_unit_test(test_no_trim_keeps_outbox),
	    cmocka_unit_test(test_limit_holds_back),
	    cmocka_unit_test(test_set_peer),
	    cmocka_unit_test(test_peer_agent),
	    cmocka_unit_test(test_outbox_round_trip),
	    cmocka_unit_test(test_no_trim_copy_away),
	    cmocka_unit_test(test_no_trim_trimmed_past),
	    cmocka_unit_test(test_no_trim_trimmed_past_read),
	    cmocka_unit_test(test_no_trim_copy_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
