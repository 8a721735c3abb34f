/* standby_stream_fixture: see standby_stream_fixture.h. */
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
int run_until(struct env *e, int (*pred)(struct env *e),
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
void run_for(struct env *e, unsigned ms)
{
	run_until(e, never, ms);
}

static int writes_done(struct env *e)
{
	return e->writes_pending == 0;
}

void env_setup(struct env *e)
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
void env_teardown(struct env *e)
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
void write_data(struct env *e, struct node *n, int first, int count)
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
void write_content(struct env *e, struct node *n, const char *name,
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

const char *const pool_sets[] = {POOL};

unsigned sender_stats_ms; /* 0: 50 */
uint64_t rx_peer_agent;	 /* receiver_config.peer_agent */

/* A sender at node from for POOL, local_pool from's pool, to peer. */
void start_sender(struct env *e, struct node *from, const char *peer,
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
int start_receiver(struct env *e, struct node *at, const char *peer,
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
	/* the committed epoch the control plane would hand in */
	assert_int_equal(receiver_set_epoch(at->rx, pool_sets[0], 1), 0);
	return receiver_port(at->rx);
}

/* ---- checks ----------------------------------------------------------- */

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

void positions(struct env *e, struct node *n, struct pos_ctx *c)
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

void assert_same_copy(struct env *e, struct node *a, struct node *b)
{
	struct digest_ctx da, db;

	digest(e, a, &da);
	digest(e, b, &db);
	assert_true(da.items > 0);
	assert_int_equal(da.items, db.items);
	assert_memory_equal(da.b, db.b, sizeof(da.b));
}

/* The sender of A acked both lanes up to A's heads. */
int a_acked(struct env *e)
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

int b_at_limit(struct env *e)
{
	return e->rx_applied[1][LANE_DATA] == 40 && e->on_ack[LANE_DATA] == 40;
}

int refused_seen(struct env *e)
{
	return e->hits[0] >= 1;
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
void store_ack(struct env *e, struct node *n, int lane, uint64_t seq)
{
	int done = 0;

	assert_int_equal(
	    store_outbox_ack(&n->store, POOL, lane, seq, ack_done, &done), 0);
	flag_wait = &done;
	assert_true(run_until(e, flag_set, 5000));
}
