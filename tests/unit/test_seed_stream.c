/* Tests of the seed on the wire (replication/sender_seed.c,
 * replication/receiver_seed.c): an owner whose outbox was acknowledged and
 * trimmed seeds an empty copy, then streams live; a seed cut on either
 * side resumes after its mark; bad seed frames from a hand-made peer are
 * refused and change nothing; a copy that is not behind is never seeded.
 * Two stores on one loop, real TCP on loopback. */
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

#include "replication/batch.h"
#include "replication/crc32c.h"
#include "replication/frame.h"
#include "replication/receiver.h"
#include "replication/sender.h"
#include "replication/store.h"
#include "replication/store_seed.h"

#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT
#define OP_PUT POOLPAIR__REPL__OP__OP_PUT
#define OP_DELETE POOLPAIR__REPL__OP__OP_DELETE
#define OP_CHUNK POOLPAIR__REPL__OP__OP_CONTENT_CHUNK
#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define MAX_WATCH 8
#define N_SETS 2
#define CHUNK ((size_t)256 << 10)

/* The owner streams two user sets: its own and the CMS. */
static const char *const sets[N_SETS] = {"pool-east", "cms"};

struct env {
	uv_loop_t loop;
	char dir[64];
	struct store store[2]; /* 0: owner (pool-east), 1: copy (pool-west) */
	struct sender *tx;
	struct receiver *rx;
	int port;
	int writes_pending;
	int write_errors;
	int closed;
	int timed_out;
	uint64_t head[N_SETS][2];    /* last seq written at the owner */
	uint64_t applied[N_SETS][2]; /* on_apply at the copy */
	const char *watch[MAX_WATCH];
	int hits[MAX_WATCH];
	uint64_t sent_on_conn[2]; /* pool-east: "seed sent (N items" per lane */
	int verbose;
};

/* ---- plumbing ------------------------------------------------------------ */

static int set_index(const char *user_set)
{
	int i;

	for (i = 0; i < N_SETS; i++)
		if (strcmp(sets[i], user_set) == 0)
			return i;
	return -1;
}

static void on_log(void *arg, int level, const char *msg)
{
	struct env *e = arg;
	const char *p;
	unsigned long long n;
	int i;

	if (e->verbose || level <= STREAM_LOG_ERROR)
		printf("# [%d] %s\n", level, msg);
	for (i = 0; i < MAX_WATCH; i++)
		if (e->watch[i] != NULL && strstr(msg, e->watch[i]) != NULL)
			e->hits[i]++;
	p = strstr(msg, ": pool-east: seed sent (");
	if (p != NULL &&
	    sscanf(p, ": pool-east: seed sent (%llu items", &n) == 1)
		e->sent_on_conn[strstr(msg, " content: ") != NULL ? LANE_CONTENT
								  : LANE_DATA] =
		    n;
}

static void guard_fired(uv_timer_t *t)
{
	struct env *e = t->data;

	e->timed_out = 1;
}

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

static int writes_done(struct env *e) { return e->writes_pending == 0; }

static void env_setup(struct env *e)
{
	char path[128], err[256];
	int i;

	memset(e, 0, sizeof(*e));
	e->verbose = getenv("STREAM_VERBOSE") != NULL;
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->loop.data = e;
	snprintf(e->dir, sizeof(e->dir), "/tmp/pp-seed-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%d.db", e->dir, i);
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

static int closed_want;
static int all_closed(struct env *e) { return e->closed >= closed_want; }

static void close_sender(struct env *e)
{
	e->closed = 0;
	sender_close(e->tx, closed_cb, e);
	e->tx = NULL;
	closed_want = 1;
	assert_true(run_until(e, all_closed, 5000));
}

static void close_receiver(struct env *e)
{
	e->closed = 0;
	receiver_close(e->rx, closed_cb, e);
	e->rx = NULL;
	closed_want = 1;
	assert_true(run_until(e, all_closed, 5000));
}

static void env_teardown(struct env *e)
{
	char path[160];
	int i, k;

	if (e->tx != NULL)
		close_sender(e);
	if (e->rx != NULL)
		close_receiver(e);
	e->closed = 0;
	for (i = 0; i < 2; i++)
		store_close(&e->store[i], store_closed);
	closed_want = 2;
	assert_true(run_until(e, all_closed, 5000));
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	for (i = 0; i < 2; i++) {
		const char *sfx[] = {"", "-wal", "-shm"};
		for (k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%d.db%s", e->dir, i,
				 sfx[k]);
			unlink(path);
		}
	}
	rmdir(e->dir);
}

/* ---- writes at the owner ------------------------------------------------- */

static void write_done(void *arg, int status,
		       const struct store_write_result *res)
{
	struct env *e = arg;

	e->writes_pending--;
	if (status != 0) {
		e->write_errors++;
		printf("# write: %s\n", res->errmsg);
	}
}

struct wctx {
	struct env *e;
	int set;
};

static void write_done_at(void *arg, int status,
			  const struct store_write_result *res)
{
	struct wctx *w = arg;

	if (status == 0 && res->seq > w->e->head[w->set][res->lane])
		w->e->head[w->set][res->lane] = res->seq;
	write_done(w->e, status, res);
	free(w);
}

static void put(struct env *e, const char *user_set, int op, int kind,
		const char *key, const void *value, size_t len, uint64_t offset,
		uint64_t total)
{
	struct store_write w = {0};
	struct wctx *c = malloc(sizeof(*c));
	static uint64_t hlc = 1;

	assert_non_null(c);
	c->e = e;
	c->set = set_index(user_set);
	w.user_set = user_set;
	w.epoch = 1;
	w.hlc = ++hlc << 16;
	w.op = op;
	w.kind = kind;
	w.key = key;
	w.value = value;
	w.value_len = len;
	w.offset = offset;
	w.total = total;
	assert_int_equal(store_write(&e->store[0], &w, write_done_at, c), 0);
	e->writes_pending++;
}

static void wait_writes(struct env *e)
{
	assert_true(run_until(e, writes_done, 60000));
	assert_int_equal(e->write_errors, 0);
}

/* Users first..first+count of pool-east with every data kind; every 7th
 * disabled, every 11th profile deleted again; rev changes the values. */
static void write_users(struct env *e, int first, int count, int rev)
{
	char sip[64], key[128], v[256];
	int i;

	for (i = first; i < first + count; i++) {
		snprintf(sip, sizeof(sip), "sip:user%d@example.com", i);
		put(e, "pool-east", OP_PUT, KIND(USER), sip, "pool-east", 9, 0,
		    0);
		snprintf(v, sizeof(v),
			 "{\"name\":\"user %d\",\"rev\":%d,\"title\":"
			 "\"engineer\"}",
			 i, rev);
		put(e, "pool-east", OP_PUT, KIND(PROFILE), sip, v, strlen(v), 0,
		    0);
		snprintf(v, sizeof(v),
			 "{\"contacts\":[\"sip:friend%d@example.com\"],"
			 "\"rev\":%d}",
			 i * 7, rev);
		put(e, "pool-east", OP_PUT, KIND(CONTACTS), sip, v, strlen(v),
		    0, 0);
		snprintf(v, sizeof(v), "{\"ringTimeout\":%d}", 10 + rev);
		put(e, "pool-east", OP_PUT, KIND(SETTINGS), sip, v, strlen(v),
		    0, 0);
		snprintf(key, sizeof(key), "%s/conf%d", sip, i % 3);
		snprintf(v, sizeof(v), "{\"subject\":\"weekly %d\"}", rev);
		put(e, "pool-east", OP_PUT, KIND(CONFERENCE), key, v, strlen(v),
		    0, 0);
		if (i % 7 == 3)
			put(e, "pool-east", OP_DELETE, KIND(USER), sip, NULL, 0,
			    0, 0);
		if (i % 11 == 5)
			put(e, "pool-east", OP_DELETE, KIND(PROFILE), sip, NULL,
			    0, 0, 0);
	}
	wait_writes(e);
}

static void write_cms(struct env *e, int first, int count, int rev)
{
	char key[64], v[128];
	int i;

	for (i = first; i < first + count; i++) {
		snprintf(key, sizeof(key), "topology/site-%d.xml", i);
		snprintf(v, sizeof(v), "<site id=\"%d\" rev=\"%d\"/>", i, rev);
		put(e, "cms", OP_PUT, KIND(CMS), key, v, strlen(v), 0, 0);
	}
	wait_writes(e);
}

/* A content item of total bytes; only the first upto bytes are written
 * (an upload still running at the owner when upto < total). */
static void write_content(struct env *e, const char *name, size_t total,
			  size_t upto, int seed)
{
	char key[256];
	uint8_t *buf = malloc(CHUNK);
	size_t off, i;

	assert_non_null(buf);
	assert_int_equal(store_key_content(key, sizeof(key),
					   "sip:user1@example.com", "conf1",
					   name),
			 0);
	for (off = 0; off < upto; off += CHUNK) {
		size_t len = upto - off < CHUNK ? upto - off : CHUNK;
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)((off + i) * 31 + seed);
		put(e, "pool-east", OP_CHUNK, KIND(CONTENT), key, buf, len, off,
		    total);
	}
	free(buf);
	wait_writes(e);
}

/* The owner's data: users, CMS documents, content (multi-chunk, a small
 * one, an upload not finished). */
static void write_owner(struct env *e, int users)
{
	write_users(e, 0, users, 1);
	write_cms(e, 0, 40, 1);
	write_content(e, "deck.pptx", 3 * CHUNK + 1000, 3 * CHUNK + 1000, 1);
	write_content(e, "notes.txt", 700, 700, 2);
	write_content(e, "video.mp4", 4 * CHUNK, 2 * CHUNK, 3);
}

/* ---- positions, acks, digests, seed rows --------------------------------- */

struct pos_ctx {
	int done;
	struct store_position v[16];
	size_t n;
};

static void pos_done(void *arg, int status, const struct store_positions *p)
{
	struct pos_ctx *c = arg;

	assert_int_equal(status, 0);
	c->n = p->n < 16 ? p->n : 16;
	memcpy(c->v, p->v, c->n * sizeof(c->v[0]));
	c->done = 1;
}

static int *flag_wait;
static int flag_set(struct env *e)
{
	(void)e;
	return *flag_wait;
}

static void wait_flag(struct env *e, int *flag)
{
	flag_wait = flag;
	assert_true(run_until(e, flag_set, 10000));
}

static const struct store_position *pos_of(const struct pos_ctx *c,
					   const char *user_set, int lane)
{
	static const struct store_position zero;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].lane == lane &&
		    strcmp(c->v[i].user_set, user_set) == 0)
			return &c->v[i];
	return &zero;
}

static void positions(struct env *e, struct store *s, struct pos_ctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_stream_positions(s, pos_done, c), 0);
	wait_flag(e, &c->done);
}

struct done_ctx {
	int done, status;
};

static void done_cb(void *arg, int status, const char *errmsg)
{
	struct done_ctx *c = arg;

	if (status != 0)
		printf("# %s\n", errmsg);
	c->status = status;
	c->done = 1;
}

/* The pair acknowledged everything: the owner's outbox is trimmed. */
static void trim_outbox(struct env *e)
{
	struct done_ctx d;
	int i, lane;

	for (i = 0; i < N_SETS; i++) {
		for (lane = 0; lane < 2; lane++) {
			if (e->head[i][lane] == 0)
				continue;
			memset(&d, 0, sizeof(d));
			assert_int_equal(
			    store_outbox_ack(&e->store[0], sets[i], lane,
					     e->head[i][lane], done_cb, &d),
			    0);
			wait_flag(e, &d.done);
			assert_int_equal(d.status, 0);
		}
	}
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

static void digest(struct env *e, struct store *s, const char *user_set,
		   struct digest_ctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_digest(s, user_set, digest_done, c), 0);
	wait_flag(e, &c->done);
}

struct rows_ctx {
	int done;
	size_t n;
	struct store_seed_state v[8];
};

static void rows_done(void *arg, int status, const struct store_seed_states *w)
{
	struct rows_ctx *c = arg;

	assert_int_equal(status, 0);
	c->n = w->n < 8 ? w->n : 8;
	if (c->n > 0) /* v may be NULL when there is no seed row */
		memcpy(c->v, w->v, c->n * sizeof(c->v[0]));
	c->done = 1;
}

static void seed_rows(struct env *e, struct store *s, struct rows_ctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_seed_states(s, rows_done, c), 0);
	wait_flag(e, &c->done);
}

/* The copy holds the owner's two user sets exactly: applied at the
 * owner's heads, no seed row left, equal digests. */
static void assert_equal_copies(struct env *e)
{
	struct pos_ctx pc;
	struct digest_ctx da, db;
	struct rows_ctx rc;
	int i, lane;

	positions(e, &e->store[1], &pc);
	for (i = 0; i < N_SETS; i++) {
		for (lane = 0; lane < 2; lane++)
			assert_int_equal(
			    pos_of(&pc, sets[i], lane)->applied_seq,
			    e->head[i][lane]);
		digest(e, &e->store[0], sets[i], &da);
		digest(e, &e->store[1], sets[i], &db);
		assert_true(da.items > 0);
		assert_int_equal(da.items, db.items);
		assert_memory_equal(da.b, db.b, sizeof(da.b));
	}
	seed_rows(e, &e->store[1], &rc);
	assert_int_equal(rc.n, 0);
}

/* ---- sender and receiver ------------------------------------------------- */

static void on_apply(void *arg, const char *user_set, int lane,
		     uint64_t applied)
{
	struct env *e = arg;
	int i = set_index(user_set);

	if (i >= 0 && lane >= 0 && lane < 2 && applied > e->applied[i][lane])
		e->applied[i][lane] = applied;
}

static void start_receiver(struct env *e)
{
	struct receiver_config c = {0};

	c.local_pool = "pool-west";
	c.peer_pool = "pool-east";
	c.agent_id = 20;
	c.host = "127.0.0.1";
	c.port = (uint16_t)e->port;
	c.user_sets = sets;
	c.n_user_sets = N_SETS;
	c.log = on_log;
	c.on_apply = on_apply;
	c.arg = e;
	assert_int_equal(receiver_init(&e->rx, &e->loop, &e->store[1], &c), 0);
	/* the committed epochs the control plane would hand in */
	for (size_t i = 0; i < N_SETS; i++)
		assert_int_equal(receiver_set_epoch(e->rx, sets[i], 1), 0);
	e->port = receiver_port(e->rx);
	assert_true(e->port > 0);
}

/* Small batches and window: a seed of many steps. */
static void start_sender(struct env *e)
{
	struct sender_config c = {0};

	c.local_pool = "pool-east";
	c.peer_pool = "pool-west";
	c.agent_id = 1;
	c.host = "127.0.0.1";
	c.port = (uint16_t)e->port;
	c.user_sets = sets;
	c.n_user_sets = N_SETS;
	c.batch_records = 16;
	c.batch_bytes = 4096;
	c.window_bytes = 16384;
	c.backoff_min_ms = 20;
	c.backoff_max_ms = 100;
	c.stats_ms = 50;
	c.log = on_log;
	c.arg = e;
	assert_int_equal(sender_init(&e->tx, &e->loop, &e->store[0], &c), 0);
}

static struct sender_stats tx_stats(struct env *e, const char *user_set,
				    int lane)
{
	struct sender_stats st;

	assert_int_equal(sender_stats_get(e->tx, user_set, lane, &st), 0);
	return st;
}

/* Every stream of the owner is at the copy: applied at the heads, and the
 * sender acknowledged, no seed in progress. */
static int synced(struct env *e)
{
	struct sender_stats st;
	int i, lane;

	for (i = 0; i < N_SETS; i++) {
		for (lane = 0; lane < 2; lane++) {
			if (sender_stats_get(e->tx, sets[i], lane, &st) != 0 ||
			    st.seeding || st.acked_seq != e->head[i][lane] ||
			    st.lag_records != 0 ||
			    e->applied[i][lane] != e->head[i][lane])
				return 0;
		}
	}
	return 1;
}

static int rx_idle(struct env *e)
{
	struct receiver_stats rs;

	receiver_get_stats(e->rx, &rs);
	return rs.active == 0;
}

static uint64_t data_seed_min;
static int data_seed_past(struct env *e)
{
	struct sender_stats st = tx_stats(e, "pool-east", LANE_DATA);

	return st.seed_items >= data_seed_min || st.seeds_done > 0;
}

/* ---- (a) seed, then the live stream -------------------------------------- */

static void test_seed_then_live(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_stats st;
	struct receiver_seed rs[8];
	struct receiver_stats rxs;
	uint64_t from_data, from_content, head_data;
	size_t n, i;

	(void)state;
	env_setup(e);
	write_owner(e, 300);
	trim_outbox(e);
	head_data = e->head[0][LANE_DATA];
	start_receiver(e);
	start_sender(e);

	/* mid-way through the seed of pool-east's data lane */
	data_seed_min = 200;
	assert_true(run_until(e, data_seed_past, 30000));
	st = tx_stats(e, "pool-east", LANE_DATA);
	assert_true(st.seeding);
	assert_int_equal(st.seeds_done, 0);
	assert_int_equal(st.seed_from_seq, head_data);
	assert_true(st.seed_items_total >= st.seed_items);
	assert_true(st.seed_items_total > 1000);
	assert_true(st.seed_bytes > 0);
	from_data = st.seed_from_seq;
	from_content = e->head[0][LANE_CONTENT];

	/* writes at the owner during the seed: values changed, users added
	 * and disabled, documents changed, an item restarted, a new one */
	write_users(e, 150, 200, 2);
	write_cms(e, 20, 30, 2);
	write_content(e, "notes.txt", 900, 900, 4);
	write_content(e, "later.bin", CHUNK + 5, CHUNK + 5, 5);
	sender_notify(e->tx); /* as the agent does after its writes */
	assert_true(run_until(e, synced, 60000));
	assert_equal_copies(e);

	/* the live stream carried exactly the records written after F */
	st = tx_stats(e, "pool-east", LANE_DATA);
	assert_int_equal(st.seeds_done, 1);
	assert_false(st.seeding);
	assert_int_equal(st.seed_from_seq, from_data);
	assert_int_equal(st.records_sent, e->head[0][LANE_DATA] - from_data);
	assert_true(st.records_sent > 0);
	assert_int_equal(st.reconnects, 0);
	st = tx_stats(e, "pool-east", LANE_CONTENT);
	assert_int_equal(st.seeds_done, 1);
	assert_int_equal(st.records_sent,
			 e->head[0][LANE_CONTENT] - from_content);
	st = tx_stats(e, "cms", LANE_DATA);
	assert_int_equal(st.seeds_done, 1);
	/* nothing was ever written on the CMS content lane: no seed */
	st = tx_stats(e, "cms", LANE_CONTENT);
	assert_int_equal(st.seeds_done, 0);
	assert_int_equal(st.seed_from_seq, 0);

	n = receiver_seeds(e->rx, rs, 8);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_false(rs[i].active);
		assert_true(rs[i].items > 0);
		assert_true(rs[i].items_total > 0);
		if (strcmp(rs[i].user_set, "pool-east") == 0 &&
		    rs[i].lane == LANE_DATA)
			assert_int_equal(rs[i].from_seq, from_data);
	}
	assert_int_equal(receiver_seeds(e->rx, NULL, 0), 3);
	receiver_get_stats(e->rx, &rxs);
	for (i = 0; i < RECEIVER_ERR_COUNT; i++)
		assert_int_equal(rxs.errors[i], 0);

	/* and later writes flow as usual */
	write_users(e, 400, 5, 1);
	sender_notify(e->tx);
	assert_true(run_until(e, synced, 10000));
	assert_equal_copies(e);
	env_teardown(e);
	free(e);
}

/* ---- (b) a seed cut on either side resumes after its mark ---------------- */

static void seed_resume(int cut_receiver)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_stats st;
	struct receiver_seed rs[8];
	struct rows_ctx rc;
	uint64_t total, from, stored_before = 0;
	size_t n, i;

	env_setup(e);
	e->watch[0] = "seeds pool-east/data from";
	e->watch[1] = "(resumed,";
	write_owner(e, 400);
	trim_outbox(e);
	start_receiver(e);
	start_sender(e);
	data_seed_min = 600;
	assert_true(run_until(e, data_seed_past, 30000));
	st = tx_stats(e, "pool-east", LANE_DATA);
	assert_int_equal(st.seeds_done, 0);
	total = st.seed_items_total;
	from = st.seed_from_seq;
	assert_true(total > 1500);

	if (cut_receiver) {
		close_receiver(e);
	} else {
		close_sender(e);
		/* what the receiver had read is stored before it sees the
		 * end of the connection */
		assert_true(run_until(e, rx_idle, 5000));
	}
	/* the copy kept its progress */
	seed_rows(e, &e->store[1], &rc);
	for (i = 0; i < rc.n; i++) {
		if (strcmp(rc.v[i].user_set, "pool-east") != 0 ||
		    rc.v[i].lane != LANE_DATA)
			continue;
		assert_int_equal(rc.v[i].from_seq, from);
		assert_true(rc.v[i].mark.started);
		stored_before = rc.v[i].items;
	}
	assert_true(stored_before >= 600);
	assert_true(stored_before < total);

	e->sent_on_conn[LANE_DATA] = 0;
	if (cut_receiver)
		start_receiver(e);
	else
		start_sender(e);
	assert_true(run_until(e, synced, 60000));
	assert_equal_copies(e);
	assert_int_equal(e->hits[0], 2); /* begun twice */
	assert_true(e->hits[1] >= 1);	 /* the second time resumed */
	/* after the resume, only what came after the mark was sent */
	assert_true(e->sent_on_conn[LANE_DATA] > 0);
	assert_int_equal(e->sent_on_conn[LANE_DATA], total - stored_before);
	st = tx_stats(e, "pool-east", LANE_DATA);
	assert_int_equal(st.seed_from_seq, from);
	assert_int_equal(st.seed_items, total);
	assert_int_equal(st.records_sent, 0); /* nothing written since F */
	n = receiver_seeds(e->rx, rs, 8);
	for (i = 0; i < n; i++)
		if (strcmp(rs[i].user_set, "pool-east") == 0 &&
		    rs[i].lane == LANE_DATA)
			assert_int_equal(rs[i].items, total);
	env_teardown(e);
	free(e);
}

static void test_seed_resume_receiver_cut(void **state)
{
	(void)state;
	seed_resume(1);
}

static void test_seed_resume_sender_cut(void **state)
{
	(void)state;
	seed_resume(0);
}

/* ---- (c) a copy that is not behind is never seeded ----------------------- */

static void test_not_behind_never_seeds(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sender_stats st;
	int i, lane;

	(void)state;
	env_setup(e);
	e->watch[0] = "seed";
	write_owner(e, 50);
	start_receiver(e);
	start_sender(e);
	assert_true(run_until(e, synced, 30000));
	/* the outbox is trimmed by the copy's acks; a new connection finds
	 * the copy where the owner's acks say */
	close_sender(e);
	write_users(e, 20, 10, 3);
	start_sender(e);
	assert_true(run_until(e, synced, 30000));
	assert_equal_copies(e);
	for (i = 0; i < N_SETS; i++) {
		for (lane = 0; lane < 2; lane++) {
			st = tx_stats(e, sets[i], lane);
			assert_false(st.seeding);
			assert_int_equal(st.seeds_done, 0);
			assert_int_equal(st.seed_from_seq, 0);
		}
	}
	assert_int_equal(receiver_seeds(e->rx, NULL, 0), 0);
	assert_int_equal(e->hits[0], 0);
	env_teardown(e);
	free(e);
}

/* ---- (d) bad seed frames from a hand-made peer --------------------------- */

struct rawc {
	struct env *e;
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct frame_decoder dec;
	char buf[16384];
	int connected, eof, closed;
	int hellos, errors, acks;
	uint64_t hello_seed_from[2]; /* pool-east per lane, HELLO answer */
	uint64_t hello_seed_items[2];
	uint64_t ack_seq, ack_seed_from, ack_seed_items;
	char ack_seed_key[256];
};

static void rawc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct rawc *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void rawc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rawc *c = s->data;
	struct frame f;
	size_t i;
	int rv;

	(void)buf;
	if (n < 0) {
		c->eof = 1;
		return;
	}
	assert_int_equal(frame_decoder_feed(&c->dec, c->buf, (size_t)n), 0);
	while ((rv = frame_decoder_next(&c->dec, &f)) == 1) {
		if (f.type == FRAME_HELLO) {
			Poolpair__Repl__Hello *h =
			    poolpair__repl__hello__unpack(NULL, f.len,
							  f.payload);
			assert_non_null(h);
			c->hellos++;
			for (i = 0; i < h->n_positions; i++) {
				const Poolpair__Repl__StreamPosition *p =
				    h->positions[i];
				if (strcmp(p->user_set, "pool-east") != 0 ||
				    p->seed == NULL)
					continue;
				c->hello_seed_from[p->lane] = p->seed->from_seq;
				c->hello_seed_items[p->lane] = p->seed->items;
			}
			poolpair__repl__hello__free_unpacked(h, NULL);
		} else if (f.type == FRAME_ERROR) {
			c->errors++;
		} else if (f.type == FRAME_ACK) {
			Poolpair__Repl__Ack *a =
			    poolpair__repl__ack__unpack(NULL, f.len, f.payload);
			assert_non_null(a);
			assert_int_equal(a->n_positions, 1);
			c->ack_seq = a->positions[0]->acked_seq;
			c->ack_seed_from = 0;
			if (a->positions[0]->seed != NULL) {
				c->ack_seed_from =
				    a->positions[0]->seed->from_seq;
				c->ack_seed_items =
				    a->positions[0]->seed->items;
				snprintf(c->ack_seed_key,
					 sizeof(c->ack_seed_key), "%s",
					 a->positions[0]->seed->key);
			}
			c->acks++;
			poolpair__repl__ack__free_unpacked(a, NULL);
		}
	}
	assert_int_equal(rv, 0);
}

static void rawc_connected(uv_connect_t *req, int status)
{
	struct rawc *c = req->data;

	assert_int_equal(status, 0);
	c->connected = 1;
	assert_int_equal(
	    uv_read_start((uv_stream_t *)&c->tcp, rawc_alloc, rawc_read), 0);
}

static struct rawc *rawc_wait;
static int rawc_is_connected(struct env *e)
{
	(void)e;
	return rawc_wait->connected;
}
static int rawc_got_hello(struct env *e)
{
	(void)e;
	return rawc_wait->hellos > 0;
}
static int rawc_acks_want;
static int rawc_got_acks(struct env *e)
{
	(void)e;
	return rawc_wait->acks >= rawc_acks_want || rawc_wait->eof;
}
static int rawc_dropped(struct env *e)
{
	(void)e;
	return rawc_wait->eof;
}
static int rawc_closed_pred(struct env *e)
{
	(void)e;
	return rawc_wait->closed;
}

static void rawc_closed(uv_handle_t *h)
{
	struct rawc *c = h->data;

	c->closed = 1;
}

/* Connect and send the HELLO of pool-east's two lanes; wait for the
 * answer. */
static void rawc_open(struct env *e, struct rawc *c)
{
	Poolpair__Repl__Hello hello = POOLPAIR__REPL__HELLO__INIT;
	Poolpair__Repl__StreamPosition pos[2];
	Poolpair__Repl__StreamPosition *ptrs[2] = {&pos[0], &pos[1]};
	struct sockaddr_in addr;
	int lane;

	memset(c, 0, sizeof(*c));
	c->e = e;
	c->tcp.data = c;
	c->creq.data = c;
	assert_int_equal(frame_decoder_init(&c->dec, 0), 0);
	uv_tcp_init(&e->loop, &c->tcp);
	uv_ip4_addr("127.0.0.1", e->port, &addr);
	assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp,
					(struct sockaddr *)&addr,
					rawc_connected),
			 0);
	rawc_wait = c;
	assert_true(run_until(e, rawc_is_connected, 5000));
	for (lane = 0; lane < 2; lane++) {
		poolpair__repl__stream_position__init(&pos[lane]);
		pos[lane].user_set = "pool-east";
		pos[lane].lane = lane;
		pos[lane].epoch = 1;
	}
	hello.from_pool = "pool-east";
	hello.to_pool = "pool-west";
	hello.agent_id = 77;
	hello.positions = ptrs;
	hello.n_positions = 2;
	assert_int_equal(stream_write_message((uv_stream_t *)&c->tcp,
					      FRAME_HELLO, &hello.base),
			 0);
	assert_true(run_until(e, rawc_got_hello, 5000));
}

static void rawc_close(struct env *e, struct rawc *c)
{
	uv_close((uv_handle_t *)&c->tcp, rawc_closed);
	rawc_wait = c;
	assert_true(run_until(e, rawc_closed_pred, 5000));
	frame_decoder_close(&c->dec);
}

static void rawc_begin(struct rawc *c, int lane, uint64_t from)
{
	Poolpair__Repl__SeedBegin b = POOLPAIR__REPL__SEED_BEGIN__INIT;

	b.user_set = "pool-east";
	b.lane = lane;
	b.from_seq = from;
	b.epoch = 1;
	b.items_total = 5;
	b.bytes_total = 500;
	assert_int_equal(stream_write_message((uv_stream_t *)&c->tcp,
					      FRAME_SEED_BEGIN, &b.base),
			 0);
}

static void rawc_end(struct rawc *c, int lane, uint64_t from, uint64_t items,
		     uint64_t bytes)
{
	Poolpair__Repl__SeedEnd m = POOLPAIR__REPL__SEED_END__INIT;

	m.user_set = "pool-east";
	m.lane = lane;
	m.from_seq = from;
	m.items = items;
	m.bytes = bytes;
	assert_int_equal(stream_write_message((uv_stream_t *)&c->tcp,
					      FRAME_SEED_END, &m.base),
			 0);
}

/* Send the n records at r as one frame of type (SEED_RECORDS, RECORDS);
 * flip one payload byte after framing when damage is set. */
static void rawc_records(struct rawc *c, uint8_t type,
			 Poolpair__Repl__ChangeRecord *r, size_t n, int damage)
{
	const Poolpair__Repl__ChangeRecord *p[8];
	uint8_t h[FRAME_HEADER_LEN];
	void *payload;
	uint8_t *all;
	size_t len, i;
	uint16_t flags;
	uv_buf_t b;

	for (i = 0; i < n; i++)
		p[i] = &r[i];
	assert_int_equal(batch_encode(p, n, &payload, &len, &flags, NULL), 0);
	assert_int_equal(frame_encode_header(h, type, flags, payload, len), 0);
	all = malloc(FRAME_HEADER_LEN + len);
	assert_non_null(all);
	memcpy(all, h, FRAME_HEADER_LEN);
	memcpy(all + FRAME_HEADER_LEN, payload, len);
	free(payload);
	if (damage)
		all[FRAME_HEADER_LEN + len / 2] ^= 0x20;
	b = uv_buf_init((char *)all, (unsigned)(FRAME_HEADER_LEN + len));
	assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1),
			 (int)(FRAME_HEADER_LEN + len));
	free(all);
}

static void user_rec(Poolpair__Repl__ChangeRecord *r, const char *user_set,
		     const char *sip, uint64_t seq)
{
	poolpair__repl__change_record__init(r);
	r->user_set = (char *)user_set;
	r->epoch = 1;
	r->seq = seq;
	r->hlc = seq << 16;
	r->op = OP_PUT;
	r->kind = KIND(PROFILE);
	r->lane = LANE_DATA;
	r->key = (char *)sip;
	r->value.data = (uint8_t *)"{\"name\":\"x\"}";
	r->value.len = 12;
}

static void chunk_rec(Poolpair__Repl__ChangeRecord *r, const char *key,
		      uint64_t offset, size_t len, uint64_t total)
{
	static uint8_t data[64];

	poolpair__repl__change_record__init(r);
	r->user_set = "pool-east";
	r->epoch = 1;
	r->seq = 4;
	r->hlc = 4 << 16;
	r->op = OP_CHUNK;
	r->kind = KIND(CONTENT);
	r->lane = LANE_CONTENT;
	r->key = (char *)key;
	r->value.data = data;
	r->value.len = len;
	r->offset = offset;
	r->total = total;
}

/* c's connection was dropped with an ERROR naming the reason; the
 * receiver counted it under reason. */
static void expect_drop(struct env *e, struct rawc *c, int reason,
			uint64_t *errors)
{
	struct receiver_stats rs;

	rawc_wait = c;
	assert_true(run_until(e, rawc_dropped, 5000));
	receiver_get_stats(e->rx, &rs);
	errors[reason]++;
	for (int i = 0; i < RECEIVER_ERR_COUNT; i++)
		assert_int_equal(rs.errors[i], errors[i]);
	rawc_close(e, c);
}

/* The seed row of pool-east's lane: its mark key ("" when unstarted) and
 * items; returns whether there is one. */
static int row_of(struct env *e, int lane, char *key, size_t len,
		  uint64_t *items)
{
	struct rows_ctx rc;
	size_t i;

	seed_rows(e, &e->store[1], &rc);
	for (i = 0; i < rc.n; i++) {
		if (strcmp(rc.v[i].user_set, "pool-east") != 0 ||
		    rc.v[i].lane != lane)
			continue;
		snprintf(key, len, "%s",
			 rc.v[i].mark.started ? rc.v[i].mark.key : "");
		*items = rc.v[i].items;
		return 1;
	}
	return 0;
}

static void test_bad_seed_frames(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct rawc *c = calloc(1, sizeof(*c));
	Poolpair__Repl__ChangeRecord r[4];
	uint64_t errors[RECEIVER_ERR_COUNT] = {0}, items;
	struct pos_ctx pc;
	char key[256];
	const char *ck = "sip:user1@example.com/conf1/a.bin";

	(void)state;
	env_setup(e);
	e->watch[0] = "receiver: dropping 127.0.0.1:";
	e->watch[1] = "(seed): seed records of pool-east/data before its "
		      "seed begin";
	e->watch[2] = "(frame): payload checksum mismatch";
	e->watch[3] = "(batch): seed batch: record 1: pool-west/data in a "
		      "seed batch of pool-east/data";
	e->watch[4] = "(batch): seed batch: ";
	e->watch[5] = "(seed): seed end of pool-east/data: 3 items,";
	e->watch[6] = "(seed): seed end of pool-east/data from 99, its seed "
		      "began from 100";
	e->watch[7] = "(seed): records of pool-east/data before its seed "
		      "ended";
	start_receiver(e);

	/* SEED_RECORDS before SEED_BEGIN */
	rawc_open(e, c);
	user_rec(&r[0], "pool-east", "sip:a@example.com", 3);
	rawc_records(c, FRAME_SEED_RECORDS, r, 1, 0);
	expect_drop(e, c, RECEIVER_ERR_SEED, errors);
	assert_int_equal(e->hits[1], 1);
	assert_false(row_of(e, LANE_DATA, key, sizeof(key), &items));

	/* a good start: three items stored and acknowledged */
	rawc_open(e, c);
	rawc_begin(c, LANE_DATA, 100);
	user_rec(&r[0], "pool-east", "sip:a@example.com", 7);
	user_rec(&r[1], "pool-east", "sip:b@example.com", 2);
	user_rec(&r[2], "pool-east", "sip:c@example.com", 90);
	rawc_records(c, FRAME_SEED_RECORDS, r, 3, 0);
	rawc_acks_want = 1;
	assert_true(run_until(e, rawc_got_acks, 5000));
	assert_int_equal(c->acks, 1);
	assert_int_equal(c->ack_seq, 0);
	assert_int_equal(c->ack_seed_from, 100);
	assert_int_equal(c->ack_seed_items, 3);
	assert_string_equal(c->ack_seed_key, "sip:c@example.com");
	assert_true(row_of(e, LANE_DATA, key, sizeof(key), &items));
	assert_string_equal(key, "sip:c@example.com");
	assert_int_equal(items, 3);

	/* a bad CRC: the frame layer refuses it, the mark stays */
	user_rec(&r[0], "pool-east", "sip:d@example.com", 8);
	rawc_records(c, FRAME_SEED_RECORDS, r, 1, 1);
	expect_drop(e, c, RECEIVER_ERR_FRAME, errors);
	assert_int_equal(e->hits[2], 1);
	assert_true(row_of(e, LANE_DATA, key, sizeof(key), &items));
	assert_string_equal(key, "sip:c@example.com");
	assert_int_equal(items, 3);

	/* the HELLO answer reports the seed; a batch with a record of
	 * another user set is refused whole */
	rawc_open(e, c);
	assert_int_equal(c->hello_seed_from[LANE_DATA], 100);
	assert_int_equal(c->hello_seed_items[LANE_DATA], 3);
	assert_int_equal(c->hello_seed_from[LANE_CONTENT], 0);
	rawc_begin(c, LANE_DATA, 100);
	user_rec(&r[0], "pool-east", "sip:d@example.com", 8);
	user_rec(&r[1], "pool-west", "sip:e@example.com", 9);
	rawc_records(c, FRAME_SEED_RECORDS, r, 2, 0);
	expect_drop(e, c, RECEIVER_ERR_BATCH, errors);
	assert_int_equal(e->hits[3], 1);
	assert_true(row_of(e, LANE_DATA, key, sizeof(key), &items));
	assert_string_equal(key, "sip:c@example.com");
	assert_int_equal(items, 3);

	/* a content chunk that is not the next bytes of its item (a
	 * truncated first chunk, the next one after a hole): the store
	 * refuses the batch, nothing of it is kept */
	rawc_open(e, c);
	rawc_begin(c, LANE_CONTENT, 40);
	chunk_rec(&r[0], ck, 0, 50, 100);
	chunk_rec(&r[1], ck, 60, 40, 100);
	rawc_records(c, FRAME_SEED_RECORDS, r, 2, 0);
	expect_drop(e, c, RECEIVER_ERR_BATCH, errors);
	assert_int_equal(e->hits[4], 2);
	assert_true(row_of(e, LANE_CONTENT, key, sizeof(key), &items));
	assert_string_equal(key, "");
	assert_int_equal(items, 0);

	/* SEED_END with counts other than what this connection stored, or
	 * another F: refused, the seed stays where it was */
	rawc_open(e, c);
	rawc_begin(c, LANE_DATA, 100);
	user_rec(&r[0], "pool-east", "sip:d@example.com", 8);
	rawc_records(c, FRAME_SEED_RECORDS, r, 1, 0);
	rawc_acks_want = 1;
	assert_true(run_until(e, rawc_got_acks, 5000));
	assert_int_equal(c->ack_seed_items, 4); /* 3 before, over resumes */
	rawc_end(c, LANE_DATA, 100, 3, 30);
	expect_drop(e, c, RECEIVER_ERR_SEED, errors);
	assert_int_equal(e->hits[5], 1);
	assert_true(row_of(e, LANE_DATA, key, sizeof(key), &items));
	assert_string_equal(key, "sip:d@example.com");
	assert_int_equal(items, 4);
	rawc_open(e, c);
	rawc_begin(c, LANE_DATA, 100);
	rawc_end(c, LANE_DATA, 99, 0, 0);
	expect_drop(e, c, RECEIVER_ERR_SEED, errors);
	assert_int_equal(e->hits[6], 1);
	assert_true(row_of(e, LANE_DATA, key, sizeof(key), &items));

	/* RECORDS of a stream whose seed did not end: refused */
	rawc_open(e, c);
	user_rec(&r[0], "pool-east", "sip:g@example.com", 1);
	rawc_records(c, FRAME_RECORDS, r, 1, 0);
	expect_drop(e, c, RECEIVER_ERR_SEED, errors);
	assert_int_equal(e->hits[7], 1);
	positions(e, &e->store[1], &pc);
	assert_int_equal(pos_of(&pc, "pool-east", LANE_DATA)->applied_seq, 0);

	/* a SEED_END that matches: the copy stands at F, the row is gone */
	rawc_open(e, c);
	rawc_begin(c, LANE_DATA, 100);
	user_rec(&r[0], "pool-east", "sip:f@example.com", 11);
	rawc_records(c, FRAME_SEED_RECORDS, r, 1, 0);
	rawc_end(c, LANE_DATA, 100, 1,
		 strlen("sip:f@example.com") + r[0].value.len);
	rawc_acks_want = 2;
	assert_true(run_until(e, rawc_got_acks, 5000));
	assert_false(c->eof);
	assert_int_equal(c->ack_seq, 100);
	assert_int_equal(c->ack_seed_from, 0);
	assert_false(row_of(e, LANE_DATA, key, sizeof(key), &items));
	positions(e, &e->store[1], &pc);
	assert_int_equal(pos_of(&pc, "pool-east", LANE_DATA)->applied_seq, 100);
	rawc_close(e, c);
	assert_int_equal(e->hits[0], 7);
	env_teardown(e);
	free(c);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_then_live),
	    cmocka_unit_test(test_seed_resume_receiver_cut),
	    cmocka_unit_test(test_seed_resume_sender_cut),
	    cmocka_unit_test(test_not_behind_never_seeds),
	    cmocka_unit_test(test_bad_seed_frames),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
