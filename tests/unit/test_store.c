/* Tests for replication/store.c: schema and migrations, local writes with
 * their outbox records, group commit, epochs, receiver batches (duplicates,
 * gaps, stale epochs), acks and positions, chunked content, verify digests,
 * failback tail, a full disk; groups mixing op types and many streams,
 * operations queued from callbacks while the queue works on.
 *
 * Every test works on its own database in a fresh temporary directory,
 * runs a libuv loop until the callbacks fired, closes the store and asserts
 * that the loop closes with no handle left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "replication/store.h"

#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define OPC(o) POOLPAIR__REPL__OP__OP_##o
#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT

struct fx {
	uv_loop_t loop;
	struct store s;
	char dir[64];
	char path[128];
	bool open;
	bool closed;
};

static void fx_paths(struct fx *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pool.db", f->dir);
}

static void fx_rmdir(const char *dir, const char *path)
{
	char p[160];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
}

static void fx_open(struct fx *f, const struct store_config *cfg)
{
	char err[256] = "";
	int rv = store_open(&f->s, &f->loop, f->path, cfg, err, sizeof(err));
	if (rv != 0)
		fail_msg("store_open: %s (%s)", store_strerror(rv), err);
	f->open = true;
	f->closed = false;
}

static struct fx *fx_new(const struct store_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	fx_paths(f);
	fx_open(f, cfg);
	return f;
}

static void on_closed(struct store *s)
{
	struct fx *f = (struct fx *)((char *)s - offsetof(struct fx, s));
	f->closed = true;
}

static void fx_close_store(struct fx *f)
{
	store_close(&f->s, on_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	f->open = false;
}

static void fx_free(struct fx *f)
{
	if (f->open)
		fx_close_store(f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	fx_rmdir(f->dir, f->path);
	free(f);
}

static void run(struct fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

/* ---- helpers: one operation at a time --------------------------------- */

struct wres {
	int called;
	int status;
	uint64_t epoch, seq, bytes;
	int order; /* position among completed callbacks */
};

static int g_order;

static void on_write(void *arg, int status, const struct store_write_result *r)
{
	struct wres *w = arg;
	w->called++;
	w->status = status;
	w->epoch = r->epoch;
	w->seq = r->seq;
	w->bytes = r->bytes;
	w->order = g_order++;
	assert_non_null(r->errmsg);
	if (status == 0)
		assert_string_equal(r->errmsg, "");
	else
		assert_true(r->errmsg[0] != '\0');
}

static int queue_put(struct fx *f, const char *us, uint64_t epoch, int kind,
		     const char *key, const char *value, struct wres *w)
{
	struct store_write wr = {
	    .user_set = us,
	    .epoch = epoch,
	    .hlc = 1000 + (uint64_t)g_order,
	    .op = OPC(PUT),
	    .kind = kind,
	    .key = key,
	    .value = value,
	    .value_len = value ? strlen(value) : 0,
	};
	return store_write(&f->s, &wr, on_write, w);
}

static struct wres put(struct fx *f, const char *us, uint64_t epoch, int kind,
		       const char *key, const char *value)
{
	struct wres w = {0};
	assert_int_equal(queue_put(f, us, epoch, kind, key, value, &w), 0);
	run(f);
	assert_int_equal(w.called, 1);
	return w;
}

static struct wres del(struct fx *f, const char *us, uint64_t epoch, int kind,
		       const char *key)
{
	struct wres w = {0};
	struct store_write wr = {.user_set = us,
				 .epoch = epoch,
				 .op = OPC(DELETE),
				 .kind = kind,
				 .key = key};
	assert_int_equal(store_write(&f->s, &wr, on_write, &w), 0);
	run(f);
	assert_int_equal(w.called, 1);
	return w;
}

struct item {
	int called;
	int status;
	char value[512];
	size_t len;
	bool enabled;
	char user_set[STORE_NAME_MAX];
	uint64_t epoch, seq;
};

static void on_item(void *arg, int status, const struct store_item *it)
{
	struct item *r = arg;
	r->called++;
	r->status = status;
	if (status == 0) {
		assert_true(it->value_len < sizeof(r->value));
		memcpy(r->value, it->value, it->value_len);
		r->value[it->value_len] = '\0';
		r->len = it->value_len;
		r->enabled = it->enabled;
		snprintf(r->user_set, sizeof(r->user_set), "%s", it->user_set);
		r->epoch = it->epoch;
		r->seq = it->seq;
	} else {
		assert_true(it->errmsg[0] != '\0');
	}
}

static struct item get(struct fx *f, const char *us, int kind, const char *key)
{
	struct item r = {0};
	assert_int_equal(store_get(&f->s, us, kind, key, on_item, &r), 0);
	run(f);
	assert_int_equal(r.called, 1);
	return r;
}

static void on_done(void *arg, int status, const char *errmsg)
{
	int *st = arg;
	assert_non_null(errmsg);
	*st = status;
}

static int set_epoch(struct fx *f, const char *us, uint64_t epoch)
{
	int st = 1;
	assert_int_equal(
	    store_set_epoch(&f->s, us, epoch, epoch, on_done, &st), 0);
	run(f);
	return st;
}

static int ack(struct fx *f, const char *us, int lane, uint64_t seq)
{
	int st = 1;
	assert_int_equal(store_outbox_ack(&f->s, us, lane, seq, on_done, &st),
			 0);
	run(f);
	return st;
}

/* Outbox records, deep-copied into a RecordBatch owned by the test. */
struct outbox {
	int status;
	Poolpair__Repl__RecordBatch batch;
	size_t bytes;
};

static void on_records(void *arg, int status, const struct store_records *r)
{
	struct outbox *o = arg;
	o->status = status;
	o->bytes = r->bytes;
	o->batch.n_records = r->n;
	o->batch.records = calloc(r->n ? r->n : 1, sizeof(void *));
	assert_non_null(o->batch.records);
	for (size_t i = 0; i < r->n; i++) {
		/* Round-trip through the wire format: the copy the test owns.
		 */
		size_t n = poolpair__repl__change_record__get_packed_size(
		    r->records[i]);
		uint8_t *buf = malloc(n ? n : 1);
		assert_non_null(buf);
		poolpair__repl__change_record__pack(r->records[i], buf);
		o->batch.records[i] =
		    poolpair__repl__change_record__unpack(NULL, n, buf);
		assert_non_null(o->batch.records[i]);
		free(buf);
	}
}

static struct outbox outbox_read(struct fx *f, const char *us, int lane,
				 uint64_t after, size_t max_records,
				 size_t max_bytes)
{
	struct outbox o;
	memset(&o, 0, sizeof(o));
	poolpair__repl__record_batch__init(&o.batch);
	o.status = 1;
	assert_int_equal(store_outbox_read(&f->s, us, lane, after, max_records,
					   max_bytes, on_records, &o),
			 0);
	run(f);
	return o;
}

static void outbox_free(struct outbox *o)
{
	for (size_t i = 0; i < o->batch.n_records; i++)
		poolpair__repl__change_record__free_unpacked(
		    o->batch.records[i], NULL);
	free(o->batch.records);
	o->batch.records = NULL;
	o->batch.n_records = 0;
}

struct applied {
	int called;
	int status;
	size_t applied, duplicates, archived;
	struct store_position pos[8];
	size_t n;
};

static void on_apply(void *arg, int status, const struct store_apply_result *r)
{
	struct applied *a = arg;
	a->called++;
	a->status = status;
	a->applied = r->applied;
	a->duplicates = r->duplicates;
	a->archived = r->archived;
	a->n = r->n < 8 ? r->n : 8;
	if (a->n > 0)
		memcpy(a->pos, r->positions, a->n * sizeof(a->pos[0]));
}

static struct applied apply(struct fx *f, const Poolpair__Repl__RecordBatch *b)
{
	struct applied a = {0};
	assert_int_equal(store_apply_batch(&f->s, b, on_apply, &a), 0);
	run(f);
	assert_int_equal(a.called, 1);
	return a;
}

struct positions {
	int status;
	struct store_position v[8];
	size_t n;
};

static void on_positions(void *arg, int status, const struct store_positions *p)
{
	struct positions *r = arg;
	r->status = status;
	r->n = p->n < 8 ? p->n : 8;
	if (r->n > 0)
		memcpy(r->v, p->v, r->n * sizeof(r->v[0]));
}

static struct store_position position(struct fx *f, const char *us, int lane)
{
	struct positions r = {.status = 1};
	assert_int_equal(store_stream_positions(&f->s, on_positions, &r), 0);
	run(f);
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.v[i].user_set, us) == 0 && r.v[i].lane == lane)
			return r.v[i];
	struct store_position none;
	memset(&none, 0, sizeof(none));
	return none;
}

static void on_digest(void *arg, int status, const struct store_digest *d)
{
	struct store_digest *out = arg;
	assert_int_equal(status, 0);
	*out = *d;
	out->user_set = NULL;
	out->errmsg = NULL;
}

static struct store_digest digest(struct fx *f, const char *us)
{
	struct store_digest d;
	memset(&d, 0, sizeof(d));
	assert_int_equal(store_digest(&f->s, us, on_digest, &d), 0);
	run(f);
	return d;
}

/* ---- tests ------------------------------------------------------------ */

static void on_opened(struct store *s, int status)
{
	int *st = s->loop->data;
	*st = status;
}

/* The names of the kinds, as the API and the logs give them. */
static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(store_kind_name(POOLPAIR__REPL__KIND__KIND_USER),
			    "user");
	assert_string_equal(
	    store_kind_name(POOLPAIR__REPL__KIND__KIND_PROFILE), "profile");
	assert_string_equal(
	    store_kind_name(POOLPAIR__REPL__KIND__KIND_CONTACTS), "contacts");
	assert_string_equal(
	    store_kind_name(POOLPAIR__REPL__KIND__KIND_SETTINGS), "settings");
	assert_string_equal(
	    store_kind_name(POOLPAIR__REPL__KIND__KIND_CONFERENCE),
	    "conference");
	assert_string_equal(
	    store_kind_name(POOLPAIR__REPL__KIND__KIND_CONTENT), "content");
	assert_string_equal(store_kind_name(POOLPAIR__REPL__KIND__KIND_CMS),
			    "cms");
	assert_string_equal(store_kind_name(-1), "unknown");
	assert_string_equal(store_kind_name(1000), "unknown");
}

static void test_schema_reopen(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_int_equal(
	    put(f, "pool-east", 1, KIND(PROFILE), "sip:a@x", "p1").status, 0);
	fx_close_store(f);

	/* Reopen: migrations are not run twice, the data is there. */
	fx_open(f, NULL);
	assert_string_equal(get(f, "pool-east", KIND(PROFILE), "sip:a@x").value,
			    "p1");
	fx_close_store(f);

	/* Async open works the same. */
	int st = 1;
	f->loop.data = &st;
	assert_int_equal(
	    store_open_async(&f->s, &f->loop, f->path, NULL, on_opened), 0);
	run(f);
	assert_int_equal(st, 0);
	f->open = true;
	fx_close_store(f);

	sqlite3 *db;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), STORE_SCHEMA_VERSION);
	sqlite3_finalize(q);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	/* A database from a newer program is refused. */
	assert_int_equal(
	    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	char err[256] = "";
	int rv = store_open(&f->s, &f->loop, f->path, NULL, err, sizeof(err));
	assert_int_equal(rv, STORE_E_CORRUPT);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(f->s.state, STORE_STATE_CLOSED);

	/* A file that is not a database is refused too. */
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("this is not a database, just some text long enough to matter "
	      "for sqlite's header check .................................",
	      fp);
	fclose(fp);
	char p[160];
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	rv = store_open(&f->s, &f->loop, f->path, NULL, err, sizeof(err));
	assert_int_equal(rv, STORE_E_CORRUPT);
	fx_free(f);
}

static void test_write_read(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	const char *us = "pool-east";
	char key[STORE_KEY_MAX + 1];

	assert_int_equal(
	    put(f, us, 1, KIND(USER), "sip:alice@x", "pool-east").status, 0);
	assert_int_equal(
	    put(f, us, 1, KIND(CONTACTS), "sip:alice@x", "[bob]").status, 0);
	assert_int_equal(
	    store_key_conference(key, sizeof(key), "sip:alice@x", "c1"), 0);
	assert_int_equal(put(f, us, 1, KIND(CONFERENCE), key, "{at:9}").status,
			 0);
	assert_int_equal(
	    put(f, "cms", 1, KIND(CMS), "topology.xml", "<t/>").status, 0);

	struct item it = {0};
	assert_int_equal(store_get_user_data(&f->s, us, "sip:alice@x",
					     KIND(CONTACTS), on_item, &it),
			 0);
	run(f);
	assert_int_equal(it.status, 0);
	assert_string_equal(it.value, "[bob]");
	assert_int_equal(it.epoch, 1);
	assert_int_equal(it.seq, 2);

	memset(&it, 0, sizeof(it));
	assert_int_equal(
	    store_get_conference(&f->s, us, "sip:alice@x", "c1", on_item, &it),
	    0);
	run(f);
	assert_string_equal(it.value, "{at:9}");

	memset(&it, 0, sizeof(it));
	assert_int_equal(
	    store_user_location(&f->s, "sip:alice@x", on_item, &it), 0);
	run(f);
	assert_int_equal(it.status, 0);
	assert_string_equal(it.user_set, us);
	assert_string_equal(it.value, "pool-east");
	assert_true(it.enabled);

	assert_string_equal(get(f, "cms", KIND(CMS), "topology.xml").value,
			    "<t/>");
	assert_int_equal(get(f, us, KIND(PROFILE), "sip:alice@x").status,
			 STORE_E_NOT_FOUND);

	/* Disable the user; delete the contacts. */
	assert_int_equal(del(f, us, 1, KIND(USER), "sip:alice@x").status, 0);
	assert_false(get(f, us, KIND(USER), "sip:alice@x").enabled);
	assert_int_equal(del(f, us, 1, KIND(CONTACTS), "sip:alice@x").status,
			 0);
	assert_int_equal(get(f, us, KIND(CONTACTS), "sip:alice@x").status,
			 STORE_E_NOT_FOUND);

	/* Bad input: refused at the call, no callback, nothing queued. */
	struct wres w = {0};
	assert_int_equal(
	    queue_put(f, us, 1, KIND(CONFERENCE), "no-slash", "v", &w),
	    STORE_E_INVALID);
	assert_int_equal(queue_put(f, us, 1, KIND(PROFILE), "sip:a/b", "v", &w),
			 STORE_E_INVALID);
	assert_int_equal(queue_put(f, us, 0, KIND(PROFILE), "sip:a", "v", &w),
			 STORE_E_INVALID);
	assert_int_equal(queue_put(f, us, 1, KIND(CONTENT), "a/b/c", "v", &w),
			 STORE_E_INVALID);
	assert_int_equal(queue_put(f, "", 1, KIND(PROFILE), "sip:a", "v", &w),
			 STORE_E_INVALID);
	assert_int_equal(queue_put(f, us, 1, KIND(USER), "sip:a", NULL, &w),
			 STORE_E_INVALID);
	assert_int_equal(store_key_conference(key, sizeof(key), "a/b", "c"),
			 STORE_E_INVALID);
	run(f);
	assert_int_equal(w.called, 0);
	fx_free(f);
}

static void test_outbox_order(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct wres w[60];
	char key[32], val[32];

	memset(w, 0, sizeof(w));
	for (int i = 0; i < 60; i++) {
		/* Two user sets interleaved: seqs are dense per set. */
		const char *us = i % 3 == 0 ? "pool-west" : "pool-east";
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		snprintf(val, sizeof(val), "v%d", i);
		assert_int_equal(
		    queue_put(f, us, 1, KIND(SETTINGS), key, val, &w[i]), 0);
	}
	run(f);
	uint64_t east = 0, west = 0;
	for (int i = 0; i < 60; i++) {
		assert_int_equal(w[i].status, 0);
		if (i % 3 == 0)
			assert_int_equal(w[i].seq, ++west);
		else
			assert_int_equal(w[i].seq, ++east);
	}
	struct outbox o = outbox_read(f, "pool-east", LANE_DATA, 0, 0, 0);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.batch.n_records, 40);
	for (size_t i = 0; i < 40; i++) {
		Poolpair__Repl__ChangeRecord *r = o.batch.records[i];
		assert_int_equal(r->seq, i + 1);
		assert_string_equal(r->user_set, "pool-east");
		assert_int_equal(r->epoch, 1);
		assert_int_equal(r->kind, KIND(SETTINGS));
		assert_int_equal(r->lane, LANE_DATA);
	}
	/* Record i+1 of pool-east is write number (i / 2) * 3 + 1 + i % 2. */
	assert_memory_equal(o.batch.records[0]->value.data, "v1", 2);
	assert_memory_equal(o.batch.records[1]->value.data, "v2", 2);
	assert_memory_equal(o.batch.records[2]->value.data, "v4", 2);
	outbox_free(&o);

	/* Limits: by count, after a seq, and by bytes (at least one). */
	o = outbox_read(f, "pool-east", LANE_DATA, 10, 5, 0);
	assert_int_equal(o.batch.n_records, 5);
	assert_int_equal(o.batch.records[0]->seq, 11);
	assert_int_equal(o.batch.records[4]->seq, 15);
	outbox_free(&o);
	o = outbox_read(f, "pool-east", LANE_DATA, 0, 0, 1);
	assert_int_equal(o.batch.n_records, 1);
	outbox_free(&o);
	o = outbox_read(f, "pool-east", LANE_CONTENT, 0, 0, 0);
	assert_int_equal(o.batch.n_records, 0);
	outbox_free(&o);
	o = outbox_read(f, "pool-west", LANE_DATA, 0, 0, 0);
	assert_int_equal(o.batch.n_records, 20);
	assert_int_equal(o.batch.records[19]->seq, 20);
	outbox_free(&o);
	fx_free(f);
}

static void test_group_commit(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct wres w[100];
	char key[32];

	memset(w, 0, sizeof(w));
	g_order = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		assert_int_equal(queue_put(f, "pool-east", 1, KIND(PROFILE),
					   key, "x", &w[i]),
				 0);
	}
	run(f);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(w[i].called, 1);
		assert_int_equal(w[i].status, 0);
		assert_int_equal(w[i].order, i);
		assert_int_equal(w[i].seq, (uint64_t)i + 1);
	}
	/* Queued in one loop turn: one transaction, whatever the thread
	 * pool's timing. */
	assert_int_equal(f->s.stats.writes, 100);
	assert_int_equal(f->s.stats.transactions, 1);
	assert_int_equal(f->s.stats.group_max, 100);
	assert_int_equal(f->s.stats.group_ops, 100);
	fx_free(f);
}

static void test_stale_epoch_in_group(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct wres w[5];

	assert_int_equal(set_epoch(f, "pool-east", 5), 0);
	assert_int_equal(set_epoch(f, "pool-east", 3), 0); /* never lowers */
	memset(w, 0, sizeof(w));
	uint64_t epochs[5] = {5, 5, 4, 6, 5};
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof(key), "sip:%d", i);
		assert_int_equal(queue_put(f, "pool-east", epochs[i],
					   KIND(PROFILE), key, "v", &w[i]),
				 0);
	}
	run(f);
	assert_int_equal(w[0].status, 0);
	assert_int_equal(w[1].status, 0);
	assert_int_equal(w[2].status, STORE_E_STALE_EPOCH);
	assert_int_equal(w[2].seq, 0);
	assert_int_equal(w[3].status, 0);
	/* Epoch 6 raised the newest known: epoch 5 is now stale. */
	assert_int_equal(w[4].status, STORE_E_STALE_EPOCH);
	assert_int_equal(w[0].seq, 1);
	assert_int_equal(w[1].seq, 2);
	assert_int_equal(w[3].seq, 3);
	assert_int_equal(w[3].epoch, 6);
	assert_int_equal(get(f, "pool-east", KIND(PROFILE), "sip:2").status,
			 STORE_E_NOT_FOUND);
	struct outbox o = outbox_read(f, "pool-east", LANE_DATA, 0, 0, 0);
	assert_int_equal(o.batch.n_records, 3);
	outbox_free(&o);
	struct store_position p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.epoch, 6);
	assert_int_equal(p.head_seq, 3);
	assert_int_equal(f->s.stats.write_errors, 2);
	fx_free(f);
}

/* Write n records on a, return its outbox as a batch. */
static struct outbox fill(struct fx *a, int n)
{
	char key[32], val[32];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "sip:u%d@x", i % 7);
		snprintf(val, sizeof(val), "value-%d", i);
		assert_int_equal(
		    put(a, "pool-east", 1, KIND(CONTACTS), key, val).status, 0);
	}
	return outbox_read(a, "pool-east", LANE_DATA, 0, 0, 0);
}

static void assert_digest_equal(const struct store_digest *x,
				const struct store_digest *y, bool equal)
{
	bool same = x->items == y->items &&
		    memcmp(x->buckets, y->buckets, sizeof(x->buckets)) == 0;
	assert_int_equal(same, equal);
}

struct keyhash {
	const char *want;
	int n;
	bool found;
	uint64_t hash;
};

static void on_keys(void *arg, int status, const struct store_key_list *l)
{
	struct keyhash *k = arg;
	assert_int_equal(status, 0);
	k->n = (int)l->n;
	for (size_t i = 0; i < l->n; i++) {
		assert_int_equal(l->v[i].kind == KIND(CONTACTS), 1);
		if (strcmp(l->v[i].key, k->want) == 0) {
			k->found = true;
			k->hash = l->v[i].hash;
		}
	}
}

static void test_apply_idempotent_and_digest(void **state)
{
	(void)state;
	struct fx *a = fx_new(NULL), *b = fx_new(NULL);
	struct outbox o = fill(a, 20);
	assert_int_equal(o.batch.n_records, 20);

	struct applied r = apply(b, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 20);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.pos[0].user_set, "pool-east");
	assert_int_equal(r.pos[0].applied_seq, 20);
	assert_int_equal(r.pos[0].epoch, 1);

	struct store_digest da = digest(a, "pool-east");
	struct store_digest db1 = digest(b, "pool-east");
	assert_int_equal(da.items, 7);
	assert_digest_equal(&da, &db1, true);

	/* Again: all duplicates, same state. */
	r = apply(b, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 0);
	assert_int_equal(r.duplicates, 20);
	assert_int_equal(r.pos[0].applied_seq, 20);
	struct store_digest db2 = digest(b, "pool-east");
	assert_digest_equal(&db1, &db2, true);
	assert_int_equal(b->s.stats.duplicates, 20);
	assert_string_equal(
	    get(b, "pool-east", KIND(CONTACTS), "sip:u5@x").value, "value-19");

	/* One key changed on the backup: one bucket differs, and the key
	 * listing of that bucket names it with another hash. */
	Poolpair__Repl__ChangeRecord rec = *o.batch.records[5];
	rec.value.data = (uint8_t *)"tampered";
	rec.value.len = 8;
	int st = 1;
	assert_int_equal(store_repair(&b->s, &rec, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	struct store_digest db3 = digest(b, "pool-east");
	assert_digest_equal(&da, &db3, false);
	int differing = 0;
	unsigned bucket = 0;
	for (unsigned i = 0; i < STORE_DIGEST_BUCKETS; i++) {
		if (memcmp(&da.buckets[i], &db3.buckets[i],
			   sizeof(da.buckets[i])) != 0) {
			differing++;
			bucket = i;
		}
	}
	assert_int_equal(differing, 1);

	const char *want = o.batch.records[5]->key;
	struct keyhash ka = {.want = want}, kb = {.want = want};
	assert_int_equal(
	    store_diff_keys(&a->s, "pool-east", bucket, on_keys, &ka), 0);
	run(a);
	assert_int_equal(
	    store_diff_keys(&b->s, "pool-east", bucket, on_keys, &kb), 0);
	run(b);
	assert_true(ka.n >= 1);
	assert_int_equal(ka.n, kb.n);
	assert_true(ka.found);
	assert_true(kb.found);
	assert_true(ka.hash != kb.hash);

	/* Repair it back from the owner's value: digests equal again. */
	struct item cur = get(a, "pool-east", KIND(CONTACTS), want);
	rec.value.data = (uint8_t *)cur.value;
	rec.value.len = cur.len;
	assert_int_equal(store_repair(&b->s, &rec, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	struct store_digest db4 = digest(b, "pool-east");
	assert_digest_equal(&da, &db4, true);

	/* A repair's DELETE of a user removes the record (the owner does not
	 * know the user), where the stream's disables it: an extra user at
	 * the backup, put there by a repair, leaves without a trace. */
	Poolpair__Repl__ChangeRecord u = *o.batch.records[0];
	u.kind = KIND(USER);
	u.key = "sip:extra@x";
	u.value.data = (uint8_t *)"pool-east";
	u.value.len = 9;
	assert_int_equal(store_repair(&b->s, &u, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	struct store_digest db5 = digest(b, "pool-east");
	assert_int_equal(db5.items, da.items + 1);
	u.op = POOLPAIR__REPL__OP__OP_DELETE; /* disables: still an item */
	u.value.data = NULL;
	u.value.len = 0;
	assert_int_equal(store_repair(&b->s, &u, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	assert_int_equal(digest(b, "pool-east").items, da.items + 1);
	u.op = POOLPAIR__REPL__OP__OP_PURGE_USER;
	u.kind = KIND(CONTACTS); /* a purge of anything else is refused */
	assert_int_equal(store_repair(&b->s, &u, on_done, &st),
			 STORE_E_INVALID);
	u.kind = KIND(USER);
	assert_int_equal(store_repair(&b->s, &u, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	struct store_digest db6 = digest(b, "pool-east");
	assert_digest_equal(&da, &db6, true);

	outbox_free(&o);
	fx_free(a);
	fx_free(b);
}

static void test_apply_gap(void **state)
{
	(void)state;
	struct fx *a = fx_new(NULL), *b = fx_new(NULL);
	struct outbox o = fill(a, 4);
	/* Records 1, 2, 4: the gap stops the batch after 2. */
	Poolpair__Repl__ChangeRecord *third = o.batch.records[2];
	o.batch.records[2] = o.batch.records[3];
	o.batch.n_records = 3;
	struct applied r = apply(b, &o.batch);
	assert_int_equal(r.status, STORE_E_GAP);
	assert_int_equal(r.applied, 2);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.pos[0].applied_seq, 2);
	assert_string_equal(
	    get(b, "pool-east", KIND(CONTACTS), "sip:u1@x").value, "value-1");
	assert_int_equal(get(b, "pool-east", KIND(CONTACTS), "sip:u3@x").status,
			 STORE_E_NOT_FOUND);
	/* Resending from 3 completes it. */
	o.batch.records[2] = third;
	o.batch.n_records = 4;
	r = apply(b, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.duplicates, 2);
	assert_int_equal(r.applied, 2);
	assert_int_equal(r.pos[0].applied_seq, 4);
	outbox_free(&o);

	/* A malformed record stops the batch the same way. */
	Poolpair__Repl__ChangeRecord bad, *recs[1] = {&bad};
	poolpair__repl__change_record__init(&bad);
	bad.user_set = "pool-east";
	bad.epoch = 1;
	bad.seq = 5;
	bad.kind = KIND(CONTENT);
	bad.op = OPC(PUT);
	bad.lane = LANE_CONTENT;
	bad.key = "a/b/c";
	Poolpair__Repl__RecordBatch bb = POOLPAIR__REPL__RECORD_BATCH__INIT;
	bb.records = recs;
	bb.n_records = 1;
	r = apply(b, &bb);
	assert_int_equal(r.status, STORE_E_GAP); /* content lane is at 0 */
	bad.seq = 1;
	r = apply(b, &bb);
	assert_int_equal(r.status, STORE_E_INVALID);
	assert_int_equal(r.applied, 0);
	assert_int_equal(position(b, "pool-east", LANE_CONTENT).applied_seq, 0);
	fx_free(a);
	fx_free(b);
}

static void on_divergence(void *arg, int status,
			  const struct store_divergence_list *l)
{
	struct store_divergence *out = arg;
	assert_int_equal(status, 0);
	out[0].id = (int64_t)l->n;
	for (size_t i = 0; i < l->n && i < 7; i++) {
		out[i + 1] = l->v[i];
		/* Only numbers are kept past the callback; check strings here.
		 */
		assert_non_null(l->v[i].reason);
		assert_true(strcmp(l->v[i].reason, "stale epoch") == 0 ||
			    strcmp(l->v[i].reason, "never shipped") == 0);
		out[i + 1].key = NULL;
		out[i + 1].value = NULL;
		out[i + 1].user_set = NULL;
		out[i + 1].reason = strcmp(l->v[i].reason, "stale epoch") == 0
					? "stale"
					: "never";
	}
}

static void test_apply_stale_epoch_archived(void **state)
{
	(void)state;
	struct fx *a = fx_new(NULL), *b = fx_new(NULL);
	struct outbox o = fill(a, 3); /* epoch 1, seqs 1..3 */
	o.batch.records[2]->epoch = 2;
	assert_int_equal(set_epoch(b, "pool-east", 2), 0);
	struct applied r = apply(b, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.archived, 2);
	assert_int_equal(r.applied, 1);
	assert_int_equal(r.pos[0].applied_seq, 3);
	assert_int_equal(get(b, "pool-east", KIND(CONTACTS), "sip:u0@x").status,
			 STORE_E_NOT_FOUND);
	assert_string_equal(
	    get(b, "pool-east", KIND(CONTACTS), "sip:u2@x").value, "value-2");

	struct store_divergence d[8];
	memset(d, 0, sizeof(d));
	assert_int_equal(store_divergence_list(&b->s, 0, 0, on_divergence, d),
			 0);
	run(b);
	assert_int_equal(d[0].id, 2);
	assert_int_equal(d[1].seq, 1);
	assert_int_equal(d[2].seq, 2);
	assert_int_equal(d[1].epoch, 1);
	assert_string_equal(d[1].reason, "stale");
	assert_true(d[1].archived_at_ms > 0);
	/* Paging by id. */
	memset(d, 0, sizeof(d));
	assert_int_equal(store_divergence_list(&b->s, 1, 1, on_divergence, d),
			 0);
	run(b);
	assert_int_equal(d[0].id, 1);
	assert_int_equal(d[1].seq, 2);
	outbox_free(&o);
	fx_free(a);
	fx_free(b);
}

static void test_ack_and_positions(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct outbox o = fill(f, 10);
	size_t bytes = o.bytes;
	outbox_free(&o);

	struct store_position p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, 10);
	assert_int_equal(p.acked_seq, 0);
	assert_int_equal(p.lag_records, 10);
	assert_int_equal(p.lag_bytes, bytes);
	assert_true(p.oldest_unacked_hlc > 0);
	uint64_t first_hlc = p.oldest_unacked_hlc;

	assert_int_equal(ack(f, "pool-east", LANE_DATA, 4), 0);
	o = outbox_read(f, "pool-east", LANE_DATA, 0, 0, 0);
	assert_int_equal(o.batch.n_records, 6);
	assert_int_equal(o.batch.records[0]->seq, 5);
	uint64_t hlc5 = o.batch.records[0]->hlc;
	outbox_free(&o);
	p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.acked_seq, 4);
	assert_int_equal(p.lag_records, 6);
	assert_true(p.lag_bytes < bytes);
	assert_int_equal(p.oldest_unacked_hlc, hlc5);
	assert_true(hlc5 > first_hlc);

	/* An older ack changes nothing; one past the head is refused. */
	assert_int_equal(ack(f, "pool-east", LANE_DATA, 2), 0);
	assert_int_equal(ack(f, "pool-east", LANE_DATA, 11), STORE_E_INVALID);
	assert_int_equal(position(f, "pool-east", LANE_DATA).acked_seq, 4);
	assert_int_equal(ack(f, "pool-east", LANE_DATA, 10), 0);
	p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.lag_records, 0);
	assert_int_equal(p.lag_bytes, 0);
	assert_int_equal(p.oldest_unacked_hlc, 0);
	fx_free(f);
}

/* Deterministic content: byte i of the item. */
static uint8_t content_byte(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ULL;
	return (uint8_t)(x >> 56 ^ x >> 13);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct upload {
	struct fx *f;
	uint64_t total, offset;
	uint8_t *chunk; /* one chunk at a time */
	uint64_t hash;
	int status;
	int chunks;
};

static void upload_next(struct upload *u);

static void on_chunk_written(void *arg, int status,
			     const struct store_write_result *r)
{
	struct upload *u = arg;
	(void)r;
	u->status = status;
	if (status == 0 && u->offset < u->total)
		upload_next(u);
}

static void upload_next(struct upload *u)
{
	size_t n = STORE_CONTENT_CHUNK;
	if (n > u->total - u->offset)
		n = (size_t)(u->total - u->offset);
	for (size_t i = 0; i < n; i++)
		u->chunk[i] = content_byte(u->offset + i);
	u->hash = fnv(u->hash, u->chunk, n);
	struct store_write w = {
	    .user_set = "pool-east",
	    .epoch = 1,
	    .hlc = 7,
	    .op = OPC(CONTENT_CHUNK),
	    .kind = KIND(CONTENT),
	    .key = "sip:a@x/conf1/slides.pdf",
	    .value = u->chunk,
	    .value_len = n,
	    .offset = u->offset,
	    .total = u->total,
	};
	u->offset += n;
	u->chunks++;
	assert_int_equal(store_write(&u->f->s, &w, on_chunk_written, u), 0);
}

struct download {
	struct fx *f;
	uint64_t offset;
	uint64_t hash;
	int status;
	bool complete;
	size_t max_piece;
	uint64_t total;
};

static void on_piece(void *arg, int status, const struct store_content_piece *p)
{
	struct download *d = arg;
	d->status = status;
	if (status != 0)
		return;
	assert_int_equal(p->offset, d->offset);
	d->complete = p->complete;
	d->total = p->total;
	if (p->len == 0)
		return;
	if (p->len > d->max_piece)
		d->max_piece = p->len;
	d->hash = fnv(d->hash, p->data, p->len);
	d->offset += p->len;
	/* An odd piece size so reads span chunk boundaries. */
	assert_int_equal(store_content_read(&d->f->s, "pool-east", "sip:a@x",
					    "conf1", "slides.pdf", d->offset,
					    100000, on_piece, d),
			 0);
}

static void test_content_chunks(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct upload u = {
	    .f = f, .total = (uint64_t)20 << 20, .hash = 0xcbf29ce484222325ULL};
	u.chunk = malloc(STORE_CONTENT_CHUNK);
	assert_non_null(u.chunk);
	upload_next(&u);
	run(f);
	assert_int_equal(u.status, 0);
	assert_int_equal(u.chunks, 80);
	free(u.chunk);

	struct download d = {.f = f, .hash = 0xcbf29ce484222325ULL};
	assert_int_equal(store_content_read(&f->s, "pool-east", "sip:a@x",
					    "conf1", "slides.pdf", 0, 100000,
					    on_piece, &d),
			 0);
	run(f);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.offset, u.total);
	assert_int_equal(d.total, u.total);
	assert_true(d.complete);
	assert_true(d.max_piece <= 100000);
	assert_true(d.hash == u.hash);

	/* Each chunk is its own record on the content lane. */
	struct store_position p = position(f, "pool-east", LANE_CONTENT);
	assert_int_equal(p.head_seq, 80);
	assert_int_equal(position(f, "pool-east", LANE_DATA).head_seq, 0);

	/* A chunk out of order is refused by the store (at commit time). */
	struct wres w = {0};
	uint8_t byte = 1;
	struct store_write bad = {.user_set = "pool-east",
				  .epoch = 1,
				  .op = OPC(CONTENT_CHUNK),
				  .kind = KIND(CONTENT),
				  .key = "sip:a@x/conf1/other",
				  .value = &byte,
				  .value_len = 1,
				  .offset = 5,
				  .total = 10};
	assert_int_equal(store_write(&f->s, &bad, on_write, &w), 0);
	run(f);
	assert_int_equal(w.status, STORE_E_INVALID);
	assert_int_equal(position(f, "pool-east", LANE_CONTENT).head_seq, 80);

	/* Delete the item. */
	struct wres wd = {0};
	struct store_write rm = {.user_set = "pool-east",
				 .epoch = 1,
				 .op = OPC(DELETE),
				 .kind = KIND(CONTENT),
				 .key = "sip:a@x/conf1/slides.pdf"};
	assert_int_equal(store_write(&f->s, &rm, on_write, &wd), 0);
	run(f);
	assert_int_equal(wd.status, 0);
	assert_int_equal(wd.seq, 81);
	memset(&d, 0, sizeof(d));
	d.f = f;
	assert_int_equal(store_content_read(&f->s, "pool-east", "sip:a@x",
					    "conf1", "slides.pdf", 0, 0,
					    on_piece, &d),
			 0);
	run(f);
	assert_int_equal(d.status, STORE_E_NOT_FOUND);
	fx_free(f);
}

static void test_disk_full(void **state)
{
	(void)state;
	struct store_config cfg = {.max_page_count = 64};
	struct fx *f = fx_new(&cfg);
	static uint8_t big[64 << 10];
	int ok = 0, full = 0;
	char key[32];

	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 20 && full == 0; i++) {
		struct wres w = {0};
		struct store_write wr = {.user_set = "pool-east",
					 .epoch = 1,
					 .op = OPC(PUT),
					 .kind = KIND(PROFILE),
					 .key = key,
					 .value = big,
					 .value_len = sizeof(big)};
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		assert_int_equal(store_write(&f->s, &wr, on_write, &w), 0);
		run(f);
		if (w.status == 0) {
			ok++;
			assert_int_equal(w.seq, (uint64_t)ok);
		} else {
			assert_int_equal(w.status, STORE_E_FULL);
			full++;
			/* Nothing of it: no row, no outbox record. */
			assert_int_equal(
			    get(f, "pool-east", KIND(PROFILE), key).status,
			    STORE_E_NOT_FOUND);
		}
	}
	assert_true(ok >= 1);
	assert_int_equal(full, 1);
	struct store_position p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, (uint64_t)ok);
	assert_int_equal(p.lag_records, (uint64_t)ok);

	/* A batch that does not fit: nothing of it applied. */
	Poolpair__Repl__ChangeRecord r[4], *rp[4];
	for (int i = 0; i < 4; i++) {
		poolpair__repl__change_record__init(&r[i]);
		r[i].user_set = "pool-west";
		r[i].epoch = 1;
		r[i].seq = (uint64_t)i + 1;
		r[i].kind = KIND(PROFILE);
		r[i].key = i % 2 ? "sip:b@y" : "sip:c@y";
		r[i].value.data = big;
		r[i].value.len = sizeof(big);
		rp[i] = &r[i];
	}
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	b.records = rp;
	b.n_records = 4;
	struct applied a = apply(f, &b);
	assert_int_equal(a.status, STORE_E_FULL);
	assert_int_equal(a.n, 0);
	assert_int_equal(position(f, "pool-west", LANE_DATA).applied_seq, 0);
	assert_int_equal(get(f, "pool-west", KIND(PROFILE), "sip:c@y").status,
			 STORE_E_NOT_FOUND);

	/* Acks free space: the store keeps working. */
	assert_int_equal(ack(f, "pool-east", LANE_DATA, (uint64_t)ok), 0);
	assert_int_equal(
	    put(f, "pool-east", 1, KIND(SETTINGS), "sip:z@x", "s").status, 0);
	fx_free(f);
}

static void test_divert_tail(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct outbox o = fill(f, 5);
	outbox_free(&o);
	assert_int_equal(ack(f, "pool-east", LANE_DATA, 2), 0);

	int st = 1;
	assert_int_equal(
	    store_divert_tail(&f->s, "pool-east", LANE_DATA, 3, on_done, &st),
	    0);
	run(f);
	assert_int_equal(st, 0);
	assert_int_equal(f->s.stats.archived, 2);
	struct store_position p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, 3);
	assert_int_equal(p.acked_seq, 3);
	assert_int_equal(p.applied_seq, 3);
	assert_int_equal(p.lag_records, 0);

	struct store_divergence d[8];
	memset(d, 0, sizeof(d));
	assert_int_equal(store_divergence_list(&f->s, 0, 10, on_divergence, d),
			 0);
	run(f);
	assert_int_equal(d[0].id, 2);
	assert_int_equal(d[1].seq, 4);
	assert_int_equal(d[2].seq, 5);
	assert_string_equal(d[1].reason, "never");

	/* The pair's record 4 applies next; a local write would follow it. */
	assert_int_equal(set_epoch(f, "pool-east", 2), 0);
	Poolpair__Repl__ChangeRecord r = POOLPAIR__REPL__CHANGE_RECORD__INIT,
				     *rp = &r;
	r.user_set = "pool-east";
	r.epoch = 2;
	r.seq = 4;
	r.kind = KIND(PROFILE);
	r.key = "sip:new@x";
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	b.records = &rp;
	b.n_records = 1;
	assert_int_equal(apply(f, &b).status, 0);
	/* Owner again, the pair acknowledges the stream up to its own record
	 * 4, which this store applied: accepted, the head moves up to it;
	 * beyond what was applied stays refused. */
	assert_int_equal(ack(f, "pool-east", LANE_DATA, 5), STORE_E_INVALID);
	assert_int_equal(ack(f, "pool-east", LANE_DATA, 4), 0);
	p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, 4);
	assert_int_equal(p.acked_seq, 4);
	assert_int_equal(p.lag_records, 0);
	struct wres w = put(f, "pool-east", 2, KIND(PROFILE), "sip:x@x", "v");
	assert_int_equal(w.status, 0);
	assert_int_equal(w.seq, 5);
	p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, 5);
	assert_int_equal(p.lag_records, 1);
	/* the write's bytes are what the stream's lag counts for it */
	assert_int_equal(w.bytes, strlen("sip:x@x") + strlen("v"));
	assert_int_equal(p.lag_bytes, w.bytes);
	fx_free(f);
}

/* One group mixing local writes, an ack, a receiver batch and an epoch
 * change (the group runs with stream positions kept in memory): every
 * position is right afterwards and nothing of a later group is lost. */
static void test_mixed_group_positions(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct wres w[6];
	int acked = 1;
	struct applied a = {0};
	char key[32];

	/* two records to acknowledge later */
	assert_int_equal(put(f, "pool-east", 1, KIND(PROFILE), "sip:a@x", "1")
			     .status,
			 0);
	assert_int_equal(put(f, "pool-east", 1, KIND(PROFILE), "sip:b@x", "2")
			     .status,
			 0);

	Poolpair__Repl__ChangeRecord r[2];
	Poolpair__Repl__ChangeRecord *rp[2] = {&r[0], &r[1]};
	for (int i = 0; i < 2; i++) {
		poolpair__repl__change_record__init(&r[i]);
		r[i].user_set = "pool-west";
		r[i].epoch = 1;
		r[i].seq = (uint64_t)i + 1;
		r[i].hlc = 50 + (uint64_t)i;
		r[i].op = OPC(PUT);
		r[i].kind = KIND(CONTACTS);
		r[i].lane = LANE_DATA;
		r[i].key = i ? "sip:w2@x" : "sip:w1@x";
		r[i].value.data = (uint8_t *)"[]";
		r[i].value.len = 2;
	}
	Poolpair__Repl__RecordBatch b;
	poolpair__repl__record_batch__init(&b);
	b.records = rp;
	b.n_records = 2;

	/* all queued before the loop runs: one group after the first */
	memset(w, 0, sizeof(w));
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "sip:c%d@x", i);
		assert_int_equal(queue_put(f, "pool-east", 1, KIND(PROFILE),
					   key, "v", &w[i]),
				 0);
	}
	assert_int_equal(store_outbox_ack(&f->s, "pool-east", LANE_DATA, 2,
					  on_done, &acked),
			 0);
	assert_int_equal(store_apply_batch(&f->s, &b, on_apply, &a), 0);
	for (int i = 3; i < 6; i++) {
		snprintf(key, sizeof(key), "sip:c%d@x", i);
		assert_int_equal(queue_put(f, "pool-east", 1, KIND(PROFILE),
					   key, "v", &w[i]),
				 0);
	}
	run(f);
	assert_int_equal(acked, 0);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.applied, 2);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.pos[0].user_set, "pool-west");
	assert_int_equal(a.pos[0].applied_seq, 2);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(w[i].status, 0);
		assert_int_equal(w[i].seq, (uint64_t)i + 3);
	}
	struct store_position p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, 8);
	assert_int_equal(p.acked_seq, 2);
	assert_int_equal(p.lag_records, 6);
	p = position(f, "pool-west", LANE_DATA);
	assert_int_equal(p.applied_seq, 2);
	/* the next group continues the sequences */
	assert_int_equal(
	    put(f, "pool-east", 1, KIND(PROFILE), "sip:d@x", "v").seq, 9);
	r[0].seq = 3;
	b.n_records = 1;
	a = apply(f, &b);
	assert_int_equal(a.applied, 1);
	assert_int_equal(a.pos[0].applied_seq, 3);
	fx_close_store(f);

	/* and all of it is on disk */
	fx_open(f, NULL);
	p = position(f, "pool-east", LANE_DATA);
	assert_int_equal(p.head_seq, 9);
	assert_int_equal(p.acked_seq, 2);
	assert_int_equal(position(f, "pool-west", LANE_DATA).applied_seq, 3);
	fx_free(f);
}

/* More user sets in one group than the group keeps in memory: each
 * stream's sequence stays dense and is stored. */
static void test_group_many_streams(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	enum { SETS = 11, PER = 4 };
	struct wres w[SETS * PER];
	char us[32], key[32];

	memset(w, 0, sizeof(w));
	for (int j = 0; j < PER; j++)
		for (int i = 0; i < SETS; i++) {
			snprintf(us, sizeof(us), "pool-%02d", i);
			snprintf(key, sizeof(key), "sip:u%d@x", j);
			assert_int_equal(queue_put(f, us, 1, KIND(SETTINGS),
						   key, "{}",
						   &w[j * SETS + i]),
					 0);
		}
	run(f);
	for (int j = 0; j < PER; j++)
		for (int i = 0; i < SETS; i++) {
			assert_int_equal(w[j * SETS + i].status, 0);
			assert_int_equal(w[j * SETS + i].seq, (uint64_t)j + 1);
		}
	assert_int_equal(f->s.stats.transactions, 1);
	fx_close_store(f);
	fx_open(f, NULL);
	for (int i = 0; i < SETS; i++) {
		snprintf(us, sizeof(us), "pool-%02d", i);
		assert_int_equal(
		    put(f, us, 1, KIND(SETTINGS), "sip:next@x", "{}").seq,
		    PER + 1);
		struct outbox o = outbox_read(f, us, LANE_DATA, 0, 0, 0);
		assert_int_equal(o.batch.n_records, PER + 1);
		for (size_t k = 0; k < o.batch.n_records; k++)
			assert_int_equal(o.batch.records[k]->seq, k + 1);
		outbox_free(&o);
	}
	fx_free(f);
}

/* Operations queued from a callback while the queue works on: writes run
 * in order, reads run in order, and a read queued in a write's callback
 * sees that write. Nothing orders a read against the writes queued after
 * it (the reader and the writer run side by side): the next write's
 * callback may come first, so each read carries the sequence it must see. */
#define CHAIN_N 50
struct chain;
struct chain_get {
	struct chain *c;
	int i;		 /* the i-th read queued, of key sip:k<i>@x */
	uint64_t seq;	 /* the write of that key, acknowledged before */
};
struct chain {
	struct fx *f;
	int writes;
	int reads_seen;
	uint64_t last_seq;
	struct chain_get gets[CHAIN_N];
};

static void chain_read(void *arg, int status, const struct store_item *it)
{
	struct chain_get *g = arg;
	char key[32];

	assert_int_equal(status, 0);
	/* reads complete in the order they were queued */
	assert_int_equal(g->i, g->c->reads_seen);
	snprintf(key, sizeof(key), "sip:k%d@x", g->i);
	assert_string_equal(it->key, key);
	/* and each sees the write whose callback queued it */
	assert_int_equal(it->seq, g->seq);
	g->c->reads_seen++;
}

static void chain_write(void *arg, int status,
			const struct store_write_result *r)
{
	struct chain *c = arg;
	struct chain_get *g = &c->gets[c->writes];
	char key[32];
	assert_int_equal(status, 0);
	assert_int_equal(r->seq, c->last_seq + 1);
	c->last_seq = r->seq;
	g->c = c;
	g->i = c->writes;
	g->seq = r->seq;
	snprintf(key, sizeof(key), "sip:k%d@x", c->writes);
	assert_int_equal(store_get(&c->f->s, "pool-east", KIND(PROFILE), key,
				   chain_read, g),
			 0);
	if (++c->writes == CHAIN_N)
		return;
	snprintf(key, sizeof(key), "sip:k%d@x", c->writes);
	struct store_write wr = {.user_set = "pool-east",
				 .epoch = 1,
				 .op = OPC(PUT),
				 .kind = KIND(PROFILE),
				 .key = key,
				 .value = "1",
				 .value_len = 1};
	assert_int_equal(store_write(&c->f->s, &wr, chain_write, c), 0);
}

static void test_queue_from_callbacks(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct chain c = {.f = f};
	struct store_write wr = {.user_set = "pool-east",
				 .epoch = 1,
				 .op = OPC(PUT),
				 .kind = KIND(PROFILE),
				 .key = "sip:k0@x",
				 .value = "1",
				 .value_len = 1};

	assert_int_equal(store_write(&f->s, &wr, chain_write, &c), 0);
	run(f);
	assert_int_equal(c.writes, CHAIN_N);
	assert_int_equal(c.reads_seen, CHAIN_N);
	assert_int_equal(f->s.stats.writes, CHAIN_N);
	assert_int_equal(f->s.stats.reads, CHAIN_N);
	fx_free(f);
}

static void test_close_runs_queued(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct wres w[10];
	memset(w, 0, sizeof(w));
	for (int i = 0; i < 10; i++)
		assert_int_equal(queue_put(f, "pool-east", 1, KIND(PROFILE),
					   "sip:a@x", "v", &w[i]),
				 0);
	store_close(&f->s, on_closed);
	struct wres late = {0};
	assert_int_equal(
	    queue_put(f, "pool-east", 1, KIND(PROFILE), "sip:a@x", "v", &late),
	    STORE_E_CLOSING);
	run(f);
	assert_true(f->closed);
	f->open = false;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(w[i].status, 0);
		assert_int_equal(w[i].seq, (uint64_t)i + 1);
	}
	assert_int_equal(late.called, 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_schema_reopen),
	    cmocka_unit_test(test_write_read),
	    cmocka_unit_test(test_outbox_order),
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_stale_epoch_in_group),
	    cmocka_unit_test(test_apply_idempotent_and_digest),
	    cmocka_unit_test(test_apply_gap),
	    cmocka_unit_test(test_apply_stale_epoch_archived),
	    cmocka_unit_test(test_ack_and_positions),
	    cmocka_unit_test(test_content_chunks),
	    cmocka_unit_test(test_disk_full),
	    cmocka_unit_test(test_divert_tail),
	    cmocka_unit_test(test_close_runs_queued),
	    cmocka_unit_test(test_mixed_group_positions),
	    cmocka_unit_test(test_group_many_streams),
	    cmocka_unit_test(test_queue_from_callbacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
