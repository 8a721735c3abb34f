/* Tests for the reserve of replication/store.c (store.h, "Reserve") and
 * the list of incomplete content items (store_content_incomplete): a
 * local write is refused with STORE_E_RESERVE under the reserve, changing
 * nothing, while deletes and records received from the pair go on; the
 * figures reach the loop thread; an incomplete item is listed once older
 * than the cutoff, and its removal gives its pages back to the store.
 *
 * Every test works on its own database in a fresh temporary directory and
 * closes it with no handle left on the loop. */
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
#include <uv.h>

#include "loop_fixture.h"
#include "replication/store.h"

#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define OPC(o) POOLPAIR__REPL__OP__OP_##o

struct fx {
	uv_loop_t loop;
	struct store s;
	char dir[64];
	char path[128];
};

static struct fx *fx_new(const struct store_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256] = "";

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_space.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pool.db", f->dir);
	if (store_open(&f->s, &f->loop, f->path, cfg, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	return f;
}

static void run(struct fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static void fx_free(struct fx *f)
{
	store_close(&f->s, NULL);
	run(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	db_files_remove(f->dir, "pool.db");
	rmdir(f->dir);
	free(f);
}

struct wres {
	int called, status;
	uint64_t seq;
	char errmsg[256];
};

static void on_write(void *arg, int status, const struct store_write_result *r)
{
	struct wres *w = arg;

	w->called++;
	w->status = status;
	w->seq = r->seq;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s", r->errmsg);
}

static struct wres write1(struct fx *f, int op, int kind, const char *key,
			  const void *value, size_t len, uint64_t offset,
			  uint64_t total, uint64_t hlc)
{
	struct wres w = {0};
	struct store_write wr = {.user_set = "pool-east",
				 .epoch = 1,
				 .hlc = hlc,
				 .op = op,
				 .kind = kind,
				 .key = key,
				 .value = value,
				 .value_len = len,
				 .offset = offset,
				 .total = total};

	assert_int_equal(store_write(&f->s, &wr, on_write, &w), 0);
	run(f);
	assert_int_equal(w.called, 1);
	return w;
}

struct item {
	int status;
	size_t len;
};

static void on_item(void *arg, int status, const struct store_item *it)
{
	struct item *r = arg;

	r->status = status;
	r->len = status == 0 ? it->value_len : 0;
}

static int get_profile(struct fx *f, const char *us, const char *sip)
{
	struct item r = {-1, 0};

	assert_int_equal(
	    store_get_user_data(&f->s, us, sip, KIND(PROFILE), on_item, &r), 0);
	run(f);
	return r.status;
}

static void on_done(void *arg, int status, const char *errmsg)
{
	(void)errmsg;
	*(int *)arg = status;
}

static void refresh(struct fx *f)
{
	int st = -1;

	assert_int_equal(store_space_refresh(&f->s, on_done, &st), 0);
	run(f);
	assert_int_equal(st, 0);
}

struct applied {
	int status;
	size_t applied;
};

static void on_apply(void *arg, int status, const struct store_apply_result *r)
{
	struct applied *a = arg;

	a->status = status;
	a->applied = r->applied;
}

/* Under the reserve: a put is refused and leaves nothing; a delete and a
 * batch from the pair are not refused; the figures say so. */
static void test_reserve_refuses_local_writes(void **state)
{
	(void)state;
	/* more than any disk holds: always under it */
	struct store_config cfg = {.reserve = UINT64_MAX / 4};
	struct fx *f = fx_new(&cfg);
	const struct store_space *sp = store_space(&f->s);
	struct wres w;

	/* the figures of the open */
	assert_true(sp->measured_ms > 0);
	assert_int_equal(sp->err, 0);
	assert_true(sp->fs_size > 0);
	assert_int_equal(sp->reserve, UINT64_MAX / 4);
	assert_true(store_space_under(sp));
	assert_int_equal(store_space_room(sp), 0);

	w = write1(f, OPC(PUT), KIND(PROFILE), "sip:a@x", "{}", 2, 0, 0, 1);
	assert_int_equal(w.status, STORE_E_RESERVE);
	assert_int_equal(w.seq, 0);
	assert_non_null(strstr(w.errmsg, "reserve"));
	assert_int_equal(get_profile(f, "pool-east", "sip:a@x"),
			 STORE_E_NOT_FOUND);
	w = write1(f, OPC(CONTENT_CHUNK), KIND(CONTENT), "sip:a@x/c1/n", "ab",
		   2, 0, 10, 2);
	assert_int_equal(w.status, STORE_E_RESERVE);

	/* a delete frees space: never refused */
	w = write1(f, OPC(DELETE), KIND(PROFILE), "sip:a@x", NULL, 0, 0, 0, 3);
	assert_int_equal(w.status, 0);
	assert_int_equal(w.seq, 1);

	/* the pair's records use the reserve */
	Poolpair__Repl__ChangeRecord r, *rp = &r;
	Poolpair__Repl__RecordBatch b;
	struct applied a = {-1, 0};

	poolpair__repl__change_record__init(&r);
	poolpair__repl__record_batch__init(&b);
	r.user_set = "pool-west";
	r.epoch = 1;
	r.seq = 1;
	r.hlc = 5;
	r.op = OPC(PUT);
	r.kind = KIND(PROFILE);
	r.key = "sip:b@x";
	r.value.data = (uint8_t *)"{}";
	r.value.len = 2;
	r.lane = POOLPAIR__REPL__LANE__LANE_DATA;
	b.records = &rp;
	b.n_records = 1;
	assert_int_equal(store_apply_batch(&f->s, &b, on_apply, &a), 0);
	run(f);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.applied, 1);
	assert_int_equal(get_profile(f, "pool-west", "sip:b@x"), 0);
	fx_free(f);
}

/* Without a reserve, or with one the disk is above, writes go through;
 * the figures come back from store_space_refresh. */
static void test_no_reserve_writes(void **state)
{
	(void)state;
	struct store_config none = {0};
	struct fx *f = fx_new(&none);
	struct wres w;

	w = write1(f, OPC(PUT), KIND(PROFILE), "sip:a@x", "{}", 2, 0, 0, 1);
	assert_int_equal(w.status, 0);
	refresh(f);
	assert_false(store_space_under(store_space(&f->s)));
	assert_int_equal(store_space(&f->s)->reserve, 0);
	assert_true(store_space(&f->s)->fs_free > 0);
	fx_free(f);

	/* 1 KiB: whatever /tmp holds, it is above that */
	struct store_config small = {.reserve = 1024};
	f = fx_new(&small);
	w = write1(f, OPC(PUT), KIND(PROFILE), "sip:a@x", "{}", 2, 0, 0, 1);
	assert_int_equal(w.status, 0);
	assert_int_equal(store_space(&f->s)->reserve, 1024);
	fx_free(f);

	/* a percentage of the filesystem: 100% is more than is ever free */
	struct store_config pct = {.reserve = 1, .reserve_percent = 100};
	f = fx_new(&pct);
	assert_true(store_space(&f->s)->reserve >=
		    store_space(&f->s)->fs_size / 100 * 100);
	w = write1(f, OPC(PUT), KIND(PROFILE), "sip:a@x", "{}", 2, 0, 0, 1);
	assert_int_equal(w.status, STORE_E_RESERVE);
	fx_free(f);
}

struct list {
	int called, status;
	size_t n;
	char name[8][64];
	uint64_t stored[8], total[8];
};

static void on_list(void *arg, int status, const struct store_content_list *l)
{
	struct list *r = arg;

	r->called++;
	r->status = status;
	r->n = l->n;
	for (size_t i = 0; i < l->n && i < 8; i++) {
		snprintf(r->name[i], sizeof(r->name[i]), "%s/%s/%s",
			 l->v[i].sip, l->v[i].conf_id, l->v[i].name);
		r->stored[i] = l->v[i].stored;
		r->total[i] = l->v[i].total;
	}
}

static struct list incomplete(struct fx *f, uint64_t before)
{
	struct list r = {0};

	assert_int_equal(store_content_incomplete(&f->s, "pool-east", before, 0,
						  on_list, &r),
			 0);
	run(f);
	assert_int_equal(r.called, 1);
	assert_int_equal(r.status, 0);
	return r;
}

/* An incomplete item is listed once its last chunk is older than the
 * cutoff (a complete one never); deleting it frees its pages. */
static void test_incomplete_listed_and_reclaimed(void **state)
{
	(void)state;
	struct store_config none = {0};
	struct fx *f = fx_new(&none);
	static uint8_t chunk[256 << 10];
	uint64_t before_free;
	struct list l;
	struct wres w;

	memset(chunk, 'c', sizeof(chunk));
	/* cut: 8 chunks of 32 stored, the last at hlc 1000 */
	for (int i = 0; i < 8; i++) {
		w = write1(f, OPC(CONTENT_CHUNK), KIND(CONTENT),
			   "sip:a@x/c1/cut", chunk, sizeof(chunk),
			   (uint64_t)i * sizeof(chunk), 32 * sizeof(chunk),
			   (uint64_t)993 + (uint64_t)i);
		assert_int_equal(w.status, 0);
	}
	/* whole: complete, older */
	w = write1(f, OPC(CONTENT_CHUNK), KIND(CONTENT), "sip:a@x/c1/whole",
		   chunk, 100, 0, 100, 10);
	assert_int_equal(w.status, 0);
	/* fresh: incomplete, newer than the cutoff */
	w = write1(f, OPC(CONTENT_CHUNK), KIND(CONTENT), "sip:a@x/c2/fresh",
		   chunk, 100, 0, 200, 5000);
	assert_int_equal(w.status, 0);

	l = incomplete(f, 1000);
	assert_int_equal(l.n, 0); /* its last chunk is at 1000, not before */
	l = incomplete(f, 1001);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.name[0], "sip:a@x/c1/cut");
	assert_int_equal(l.stored[0], 8 * sizeof(chunk));
	assert_int_equal(l.total[0], 32 * sizeof(chunk));
	l = incomplete(f, UINT64_MAX);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.name[0], "sip:a@x/c1/cut"); /* oldest first */
	assert_string_equal(l.name[1], "sip:a@x/c2/fresh");

	refresh(f);
	before_free = store_space(&f->s)->db_free;
	w = write1(f, OPC(DELETE), KIND(CONTENT), "sip:a@x/c1/cut", NULL, 0, 0,
		   0, 2000);
	assert_int_equal(w.status, 0);
	l = incomplete(f, UINT64_MAX);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.name[0], "sip:a@x/c2/fresh");
	/* the 2 MiB of its chunks are free pages of the file now (the outbox
	 * still holds its records until the pair acknowledges them) */
	refresh(f);
	assert_true(store_space(&f->s)->db_free >=
		    before_free + 8 * sizeof(chunk) - 64 * 1024);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reserve_refuses_local_writes),
	    cmocka_unit_test(test_no_reserve_writes),
	    cmocka_unit_test(test_incomplete_listed_and_reclaimed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
