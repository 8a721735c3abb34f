/* Tests for the floor epoch of replication/store.c (store.h, "Epochs"):
 * store_set_epoch raising the newest and the floor epoch, records between
 * the floor and the newest epoch applied (stream and outbox mode), records
 * below the floor archived, local writes below the newest refused, and the
 * migration of a schema version 2 file (floor = epoch).
 *
 * Every test works on its own databases in fresh temporary directories and
 * closes them with no handle left on the loop. */
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
#define US "pool-east"

struct fx {
	uv_loop_t loop;
	struct store s;
	char dir[64];
	char path[128];
	bool open;
	bool closed;
};

static void fx_open(struct fx *f)
{
	char err[256] = "";
	int rv = store_open(&f->s, &f->loop, f->path, NULL, err, sizeof(err));
	if (rv != 0)
		fail_msg("store_open: %s (%s)", store_strerror(rv), err);
	f->open = true;
	f->closed = false;
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_floor.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pool.db", f->dir);
	fx_open(f);
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
	char p[160];
	if (f->open)
		fx_close_store(f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
}

static void run(struct fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

/* ---- helpers ---------------------------------------------------------- */

static void on_write(void *arg, int status, const struct store_write_result *r)
{
	int *st = arg;
	assert_non_null(r->errmsg);
	*st = status;
}

static int put(struct fx *f, uint64_t epoch, const char *key, const char *value)
{
	int st = 1;
	struct store_write w = {
	    .user_set = US,
	    .epoch = epoch,
	    .hlc = 1000,
	    .op = OPC(PUT),
	    .kind = KIND(CONTACTS),
	    .key = key,
	    .value = value,
	    .value_len = strlen(value),
	};
	assert_int_equal(store_write(&f->s, &w, on_write, &st), 0);
	run(f);
	return st;
}

static void on_done(void *arg, int status, const char *errmsg)
{
	int *st = arg;
	assert_non_null(errmsg);
	*st = status;
}

static int set_epoch(struct fx *f, uint64_t epoch, uint64_t floor)
{
	int st = 1;
	assert_int_equal(store_set_epoch(&f->s, US, epoch, floor, on_done, &st),
			 0);
	run(f);
	return st;
}

/* The records of a store's outbox, deep-copied (owned by the test). */
static void on_records(void *arg, int status, const struct store_records *r)
{
	Poolpair__Repl__RecordBatch *b = arg;
	assert_int_equal(status, 0);
	b->n_records = r->n;
	b->records = calloc(r->n ? r->n : 1, sizeof(void *));
	assert_non_null(b->records);
	for (size_t i = 0; i < r->n; i++) {
		size_t n = poolpair__repl__change_record__get_packed_size(
		    r->records[i]);
		uint8_t *buf = malloc(n ? n : 1);
		assert_non_null(buf);
		poolpair__repl__change_record__pack(r->records[i], buf);
		b->records[i] =
		    poolpair__repl__change_record__unpack(NULL, n, buf);
		assert_non_null(b->records[i]);
		free(buf);
	}
}

static Poolpair__Repl__RecordBatch outbox(struct fx *f)
{
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	assert_int_equal(
	    store_outbox_read(&f->s, US, LANE_DATA, 0, 0, 0, on_records, &b),
	    0);
	run(f);
	return b;
}

static void batch_free(Poolpair__Repl__RecordBatch *b)
{
	for (size_t i = 0; i < b->n_records; i++)
		poolpair__repl__change_record__free_unpacked(b->records[i],
							     NULL);
	free(b->records);
}

/* A writer's store with n records under epoch 1 (seqs 1..n), read back. */
static Poolpair__Repl__RecordBatch written(int n)
{
	struct fx *a = fx_new();
	char key[32], val[32];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		snprintf(val, sizeof(val), "value-%d", i);
		assert_int_equal(put(a, 1, key, val), 0);
	}
	Poolpair__Repl__RecordBatch b = outbox(a);
	assert_int_equal(b.n_records, (size_t)n);
	fx_free(a);
	return b;
}

struct applied {
	int called, status;
	size_t applied, duplicates, archived;
	struct store_position pos;
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
	a->n = r->n;
	if (r->n > 0)
		a->pos = r->positions[0];
}

static struct applied apply(struct fx *f, const Poolpair__Repl__RecordBatch *b,
			    bool outbox_mode)
{
	struct applied a = {0};
	int rv = outbox_mode ? store_apply_batch_outbox(&f->s, b, on_apply, &a)
			     : store_apply_batch(&f->s, b, on_apply, &a);
	assert_int_equal(rv, 0);
	run(f);
	assert_int_equal(a.called, 1);
	return a;
}

struct item {
	int status;
	char value[64];
};

static void on_item(void *arg, int status, const struct store_item *it)
{
	struct item *r = arg;
	r->status = status;
	if (status == 0) {
		assert_true(it->value_len < sizeof(r->value));
		memcpy(r->value, it->value, it->value_len);
		r->value[it->value_len] = '\0';
	}
}

static struct item get(struct fx *f, const char *key)
{
	struct item r = {.status = 1};
	assert_int_equal(store_get(&f->s, US, KIND(CONTACTS), key, on_item, &r),
			 0);
	run(f);
	return r;
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

static struct store_position position(struct fx *f)
{
	struct positions r = {.status = 1};
	assert_int_equal(store_stream_positions(&f->s, on_positions, &r), 0);
	run(f);
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.v[i].user_set, US) == 0 &&
		    r.v[i].lane == LANE_DATA)
			return r.v[i];
	fail_msg("no position of %s", US);
	struct store_position none = {0};
	return none;
}

/* ---- tests ------------------------------------------------------------ */

/* The store learned epoch 2 with floor 1 (a local takeover): records of
 * epoch 1 the old writer wrote, streamed on by the new writer, are
 * applied, not archived. Stream mode and outbox mode alike. */
static void test_below_newest_above_floor_applied(void **state)
{
	(void)state;
	Poolpair__Repl__RecordBatch b = written(3);
	for (int mode = 0; mode < 2; mode++) {
		struct fx *f = fx_new();
		assert_int_equal(set_epoch(f, 2, 1), 0);
		struct applied r = apply(f, &b, mode == 1);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.applied, 3);
		assert_int_equal(r.archived, 0);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.pos.epoch, 2);
		assert_int_equal(r.pos.floor, 1);
		assert_int_equal(get(f, "sip:u0@x").status, 0);
		assert_string_equal(get(f, "sip:u2@x").value, "value-2");
		fx_free(f);
	}
	batch_free(&b);
}

/* With floor 2 (a change of owner at epoch 2) the same records are stale:
 * archived, not applied (the rule before the floor existed). */
static void test_below_floor_archived(void **state)
{
	(void)state;
	Poolpair__Repl__RecordBatch b = written(3);
	for (int mode = 0; mode < 2; mode++) {
		struct fx *f = fx_new();
		assert_int_equal(set_epoch(f, 2, 2), 0);
		struct applied r = apply(f, &b, mode == 1);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.applied, 0);
		assert_int_equal(r.archived, 3);
		assert_int_equal(get(f, "sip:u0@x").status, STORE_E_NOT_FOUND);
		fx_free(f);
	}
	batch_free(&b);
}

/* A record of a newer epoch raises the newest known epoch, never the
 * floor: a later record of the older epoch (at or above the floor) is
 * still applied. */
static void test_record_raises_newest_not_floor(void **state)
{
	(void)state;
	Poolpair__Repl__RecordBatch b = written(2);
	struct fx *f = fx_new();
	assert_int_equal(set_epoch(f, 1, 1), 0);
	b.records[0]->epoch = 3;
	struct applied r = apply(f, &b, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 2);
	assert_int_equal(r.archived, 0);
	assert_int_equal(r.pos.epoch, 3);
	assert_int_equal(r.pos.floor, 1);
	fx_free(f);
	batch_free(&b);
}

/* Local writes are refused below the newest epoch, whatever the floor. */
static void test_write_below_newest_refused(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_int_equal(set_epoch(f, 2, 1), 0);
	assert_int_equal(put(f, 1, "sip:a@x", "old"), STORE_E_STALE_EPOCH);
	assert_int_equal(get(f, "sip:a@x").status, STORE_E_NOT_FOUND);
	assert_int_equal(put(f, 2, "sip:a@x", "new"), 0);
	assert_string_equal(get(f, "sip:a@x").value, "new");
	fx_free(f);
}

/* store_set_epoch never lowers either epoch and refuses a floor above
 * the epoch given (nothing queued). */
static void test_set_epoch_rules(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int st = 1;
	assert_int_equal(put(f, 1, "sip:a@x", "v"), 0); /* a stream to report */
	assert_int_equal(set_epoch(f, 4, 2), 0);
	assert_int_equal(position(f).epoch, 4);
	assert_int_equal(position(f).floor, 2);
	assert_int_equal(set_epoch(f, 3, 3), 0); /* floor up, epoch stays */
	assert_int_equal(position(f).epoch, 4);
	assert_int_equal(position(f).floor, 3);
	assert_int_equal(set_epoch(f, 2, 1), 0); /* lowers nothing */
	assert_int_equal(position(f).epoch, 4);
	assert_int_equal(position(f).floor, 3);
	assert_int_equal(store_set_epoch(&f->s, US, 5, 6, on_done, &st),
			 STORE_E_INVALID);
	run(f);
	assert_int_equal(st, 1); /* never called */
	assert_int_equal(position(f).epoch, 4);
	assert_int_equal(position(f).floor, 3);
	fx_free(f);
}

/* A store file of schema version 2 (epochs without a floor) opens, is
 * migrated to version 3 and its floor is its newest epoch: the epochs
 * stay, a record older than the epoch is archived as before, and
 * store_set_epoch raises the floor on from there. */
static void test_migration_v2(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_int_equal(put(f, 1, "sip:a@x", "v"), 0);
	assert_int_equal(set_epoch(f, 5, 2), 0);
	fx_close_store(f);

	/* make it a version-2 file: the epochs table as it was then */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "CREATE TABLE old_epochs ("
			 "  user_set TEXT PRIMARY KEY,"
			 "  epoch INTEGER NOT NULL);"
			 "INSERT INTO old_epochs SELECT user_set, epoch"
			 "  FROM epochs;"
			 "DROP TABLE epochs;"
			 "ALTER TABLE old_epochs RENAME TO epochs;"
			 "PRAGMA user_version = 2;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	fx_open(f);
	assert_int_equal(position(f).epoch, 5);
	assert_int_equal(position(f).floor, 5);
	assert_string_equal(get(f, "sip:a@x").value, "v");
	fx_close_store(f);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 3);
	assert_int_equal(STORE_SCHEMA_VERSION, 3);
	sqlite3_finalize(q);
	sqlite3_close(db);

	/* a migrated store judges records by its floor: 4 < 5 is stale */
	fx_open(f);
	Poolpair__Repl__RecordBatch b = written(1);
	b.records[0]->epoch = 4;
	b.records[0]->seq = 2; /* f wrote seq 1 of the stream itself */
	struct applied r = apply(f, &b, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.archived, 1);
	assert_int_equal(r.applied, 0);
	batch_free(&b);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_below_newest_above_floor_applied),
	    cmocka_unit_test(test_below_floor_archived),
	    cmocka_unit_test(test_record_raises_newest_not_floor),
	    cmocka_unit_test(test_write_below_newest_refused),
	    cmocka_unit_test(test_set_epoch_rules),
	    cmocka_unit_test(test_migration_v2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
