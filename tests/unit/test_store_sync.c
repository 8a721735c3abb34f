/* Tests for replication/store_sync.c, the store's durability barrier: a
 * group is readable by item reads once committed, its callbacks fire only
 * after the sync of the write-ahead log, reads that feed another agent
 * wait for that sync, and a failed sync fails the group and what follows.
 *
 * The sync is replaced by a hook (store_set_sync_hook) that holds the
 * writer until the test releases it, or fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "loop_fixture.h"
#include "replication/store.h"

#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define OPC(o) POOLPAIR__REPL__OP__OP_##o
#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA

struct fx {
	uv_loop_t loop;
	struct store s;
	uv_async_t wake; /* the hook wakes the loop through it */
	uv_sem_t release;
	atomic_int entered; /* syncs the hook was asked for */
	bool hold;	    /* the hook waits for release */
	int fail;	    /* the hook's outcome */
	char dir[64];
	bool closed;
};

static int sync_hook(void *arg)
{
	struct fx *f = arg;

	atomic_fetch_add(&f->entered, 1);
	uv_async_send(&f->wake);
	if (f->hold)
		uv_sem_wait(&f->release);
	return f->fail;
}

static void on_wake(uv_async_t *h) { (void)h; }

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128], err[256] = "";

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_async_init(&f->loop, &f->wake, on_wake), 0);
	uv_unref((uv_handle_t *)&f->wake);
	assert_int_equal(uv_sem_init(&f->release, 0), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_sync.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/pool.db", f->dir);
	if (store_open(&f->s, &f->loop, path, NULL, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	store_set_sync_hook(&f->s, sync_hook, f);
	return f;
}

static void on_closed(struct store *s)
{
	struct fx *f = (struct fx *)((char *)s - offsetof(struct fx, s));
	f->closed = true;
}

static void fx_free(struct fx *f)
{
	store_close(&f->s, on_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	uv_close((uv_handle_t *)&f->wake, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	uv_sem_destroy(&f->release);
	db_files_remove(f->dir, "pool.db");
	rmdir(f->dir);
	free(f);
}

/* ---- operations and their outcomes ------------------------------------ */

struct wres {
	int called, status;
	uint64_t seq;
};

static void on_write(void *arg, int status, const struct store_write_result *r)
{
	struct wres *w = arg;
	w->called++;
	w->status = status;
	w->seq = r->seq;
}

static void put(struct fx *f, const char *value, struct wres *w)
{
	struct store_write wr = {
	    .user_set = "pool-east",
	    .epoch = 1,
	    .hlc = 1000,
	    .op = OPC(PUT),
	    .kind = KIND(CONTACTS),
	    .key = "sip:alice@x",
	    .value = value,
	    .value_len = strlen(value),
	};
	assert_int_equal(store_write(&f->s, &wr, on_write, w), 0);
}

struct item {
	int called, status;
	char value[64];
};

static void on_item(void *arg, int status, const struct store_item *it)
{
	struct item *r = arg;
	r->called++;
	r->status = status;
	if (status == 0)
		snprintf(r->value, sizeof(r->value), "%.*s", (int)it->value_len,
			 (const char *)it->value);
}

static void get(struct fx *f, struct item *it)
{
	memset(it, 0, sizeof(*it));
	assert_int_equal(store_get_user_data(&f->s, "pool-east", "sip:alice@x",
					     KIND(CONTACTS), on_item, it),
			 0);
}

struct recs {
	int called, status;
	size_t n;
	uint64_t last;
};

static void on_records(void *arg, int status, const struct store_records *r)
{
	struct recs *o = arg;
	o->called++;
	o->status = status;
	o->n = status == 0 ? r->n : 0;
	o->last = o->n > 0 ? r->records[o->n - 1]->seq : 0;
}

struct pos {
	int called, status;
	uint64_t head;
};

static void on_positions(void *arg, int status, const struct store_positions *p)
{
	struct pos *o = arg;
	o->called++;
	o->status = status;
	for (size_t i = 0; status == 0 && i < p->n; i++)
		if (strcmp(p->v[i].user_set, "pool-east") == 0 &&
		    p->v[i].lane == LANE_DATA)
			o->head = p->v[i].head_seq;
}

static int entered_once(void *arg)
{
	return atomic_load(&((struct fx *)arg)->entered) >= 1;
}
static int write_called(void *arg) { return ((struct wres *)arg)->called; }
static int item_called(void *arg) { return ((struct item *)arg)->called; }
static int recs_called(void *arg) { return ((struct recs *)arg)->called; }
static int pos_called(void *arg) { return ((struct pos *)arg)->called; }

/* ---- tests ------------------------------------------------------------ */

/* While the sync of a committed group is held: an item read returns the
 * group's change, the write's callback has not fired, the outbox read
 * (what a sender ships) comes back without the record, and the positions
 * (what a HELLO answers) are not handed back. Released: the write reports
 * durable, the positions and the next outbox read hold the record. */
static void test_visible_before_sync(void **state)
{
	struct fx *f = fx_new();
	struct wres w = {0};
	struct item it;
	struct recs rc = {0};
	struct pos ps = {0};

	(void)state;
	f->hold = true;
	put(f, "[bob]", &w);
	assert_true(loop_until(&f->loop, entered_once, f, 10000));

	get(f, &it);
	assert_true(loop_until(&f->loop, item_called, &it, 10000));
	assert_int_equal(it.status, 0);
	assert_string_equal(it.value, "[bob]");
	assert_int_equal(w.called, 0);

	assert_int_equal(store_outbox_read(&f->s, "pool-east", LANE_DATA, 0, 16,
					   1 << 20, on_records, &rc),
			 0);
	assert_true(loop_until(&f->loop, recs_called, &rc, 10000));
	assert_int_equal(rc.status, 0);
	assert_int_equal(rc.n, 0);
	assert_int_equal(store_stream_positions(&f->s, on_positions, &ps), 0);
	/* held: cannot come back, however long the loop runs */
	assert_false(loop_until(&f->loop, pos_called, &ps, 300));
	assert_int_equal(w.called, 0);

	uv_sem_post(&f->release);
	assert_true(loop_until(&f->loop, write_called, &w, 10000));
	assert_int_equal(w.status, 0);
	assert_int_equal(w.seq, 1);
	memset(&rc, 0, sizeof(rc));
	assert_int_equal(store_outbox_read(&f->s, "pool-east", LANE_DATA, 0, 16,
					   1 << 20, on_records, &rc),
			 0);
	assert_true(loop_until(&f->loop, recs_called, &rc, 10000));
	assert_int_equal(rc.status, 0);
	assert_int_equal(rc.n, 1);
	assert_int_equal(rc.last, 1);
	assert_true(loop_until(&f->loop, pos_called, &ps, 10000));
	assert_int_equal(ps.status, 0);
	assert_int_equal(ps.head, 1);
	fx_free(f);
}

static int entered_twice(void *arg)
{
	return atomic_load(&((struct fx *)arg)->entered) >= 2;
}

/* The outbox read is bounded by what is durable: while the sync of a
 * second write is held it comes back at once with the first record only,
 * without waiting for that sync; released, it reads both. */
static void test_outbox_read_bounded(void **state)
{
	struct fx *f = fx_new();
	struct wres w1 = {0}, w2 = {0};
	struct recs rc = {0};

	(void)state;
	put(f, "[bob]", &w1);
	assert_true(loop_until(&f->loop, write_called, &w1, 10000));
	assert_int_equal(w1.status, 0);
	f->hold = true;
	put(f, "[carol]", &w2);
	assert_true(loop_until(&f->loop, entered_twice, f, 10000));

	assert_int_equal(store_outbox_read(&f->s, "pool-east", LANE_DATA, 0, 16,
					   1 << 20, on_records, &rc),
			 0);
	assert_true(loop_until(&f->loop, recs_called, &rc, 10000));
	assert_int_equal(rc.status, 0);
	assert_int_equal(rc.n, 1);
	assert_int_equal(rc.last, 1);
	assert_int_equal(w2.called, 0);

	uv_sem_post(&f->release);
	assert_true(loop_until(&f->loop, write_called, &w2, 10000));
	assert_int_equal(w2.status, 0);
	memset(&rc, 0, sizeof(rc));
	assert_int_equal(store_outbox_read(&f->s, "pool-east", LANE_DATA, 0, 16,
					   1 << 20, on_records, &rc),
			 0);
	assert_true(loop_until(&f->loop, recs_called, &rc, 10000));
	assert_int_equal(rc.n, 2);
	assert_int_equal(rc.last, 2);
	fx_free(f);
}

/* A failed sync fails its group (nothing of it acknowledged), every write
 * after it, and the reads that feed another agent; item reads go on. */
static void test_sync_failure_is_sticky(void **state)
{
	struct fx *f = fx_new();
	struct wres w1 = {0}, w2 = {0};
	struct item it;
	struct recs rc = {0};

	(void)state;
	f->fail = 1;
	put(f, "[bob]", &w1);
	assert_true(loop_until(&f->loop, write_called, &w1, 10000));
	assert_int_equal(w1.status, STORE_E_IO);

	f->fail = 0; /* the next sync would succeed: too late */
	put(f, "[carol]", &w2);
	assert_true(loop_until(&f->loop, write_called, &w2, 10000));
	assert_int_equal(w2.status, STORE_E_IO);
	assert_int_equal(atomic_load(&f->entered), 1);

	assert_int_equal(store_outbox_read(&f->s, "pool-east", LANE_DATA, 0, 16,
					   1 << 20, on_records, &rc),
			 0);
	assert_true(loop_until(&f->loop, recs_called, &rc, 10000));
	assert_int_equal(rc.status, STORE_E_IO);
	assert_int_equal(rc.n, 0);

	get(f, &it);
	assert_true(loop_until(&f->loop, item_called, &it, 10000));
	assert_int_equal(it.status, 0);
	assert_string_equal(it.value, "[bob]");
	fx_free(f);
}

/* Without the hook the real sync runs: writes are durable, then read. */
static void test_real_sync(void **state)
{
	struct fx *f = fx_new();
	struct wres w = {0};
	struct recs rc = {0};

	(void)state;
	store_set_sync_hook(&f->s, NULL, NULL);
	put(f, "[bob]", &w);
	assert_true(loop_until(&f->loop, write_called, &w, 10000));
	assert_int_equal(w.status, 0);
	assert_int_equal(store_outbox_read(&f->s, "pool-east", LANE_DATA, 0, 16,
					   1 << 20, on_records, &rc),
			 0);
	assert_true(loop_until(&f->loop, recs_called, &rc, 10000));
	assert_int_equal(rc.status, 0);
	assert_int_equal(rc.n, 1);
	assert_int_equal(atomic_load(&f->entered), 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_visible_before_sync),
	    cmocka_unit_test(test_outbox_read_bounded),
	    cmocka_unit_test(test_sync_failure_is_sticky),
	    cmocka_unit_test(test_real_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
