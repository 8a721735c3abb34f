/* Tests for the hot-standby side of replication/store: batches applied in
 * outbox mode (store_apply_batch_outbox: applied to the copy and kept in
 * the outbox as if written here) and the return of a former writer as a
 * standby (store_divert_stale).
 *
 * Every test works on its own databases in fresh temporary directories,
 * runs a libuv loop until the callbacks fired, closes the stores and
 * asserts that the loop closes with no handle left. */
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

#include "replication/store.h"
#include "replication/store_seed.h"

#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define OPC(o) POOLPAIR__REPL__OP__OP_##o
#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT
#define US "pool-east"

struct fx {
	uv_loop_t loop;
	struct store s;
	char dir[64];
	char path[128];
	bool closed;
};

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256] = "";

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox_mode.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pool.db", f->dir);
	int rv = store_open(&f->s, &f->loop, f->path, NULL, err, sizeof(err));
	if (rv != 0)
		fail_msg("store_open: %s (%s)", store_strerror(rv), err);
	return f;
}

static void on_closed(struct store *s)
{
	struct fx *f = (struct fx *)((char *)s - offsetof(struct fx, s));
	f->closed = true;
}

static void fx_free(struct fx *f)
{
	char p[160];

	store_close(&f->s, on_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
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

/* ---- helpers: one operation at a time --------------------------------- */

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

static struct wres put(struct fx *f, uint64_t epoch, int kind, const char *key,
		       const char *value)
{
	struct wres w = {0};
	struct store_write wr = {
	    .user_set = US,
	    .epoch = epoch,
	    .hlc = 7000 + epoch,
	    .op = OPC(PUT),
	    .kind = kind,
	    .key = key,
	    .value = value,
	    .value_len = strlen(value),
	};
	assert_int_equal(store_write(&f->s, &wr, on_write, &w), 0);
	run(f);
	assert_int_equal(w.called, 1);
	return w;
}

static struct wres chunk(struct fx *f, uint64_t epoch, const char *name,
			 const char *data, uint64_t offset, uint64_t total)
{
	struct wres w = {0};
	char key[128];
	assert_int_equal(store_key_content(key, sizeof(key), "sip:u@x", "c1",
					   name),
			 0);
	struct store_write wr = {
	    .user_set = US,
	    .epoch = epoch,
	    .hlc = 9000 + offset,
	    .op = OPC(CONTENT_CHUNK),
	    .kind = KIND(CONTENT),
	    .key = key,
	    .value = data,
	    .value_len = strlen(data),
	    .offset = offset,
	    .total = total,
	};
	assert_int_equal(store_write(&f->s, &wr, on_write, &w), 0);
	run(f);
	assert_int_equal(w.called, 1);
	return w;
}

static void on_done(void *arg, int status, const char *errmsg)
{
	int *st = arg;
	assert_non_null(errmsg);
	*st = status;
}

static int ack(struct fx *f, int lane, uint64_t seq)
{
	int st = 1;
	assert_int_equal(store_outbox_ack(&f->s, US, lane, seq, on_done, &st),
			 0);
	run(f);
	return st;
}

static int set_epoch(struct fx *f, uint64_t epoch)
{
	int st = 1;
	assert_int_equal(
	    store_set_epoch(&f->s, US, epoch, epoch, on_done, &st), 0);
	run(f);
	return st;
}

/* Outbox records, deep-copied (through the wire format) into a batch
 * owned by the test. */
struct outbox {
	int status;
	Poolpair__Repl__RecordBatch batch;
};

static void on_records(void *arg, int status, const struct store_records *r)
{
	struct outbox *o = arg;
	o->status = status;
	o->batch.n_records = r->n;
	o->batch.records = calloc(r->n ? r->n : 1, sizeof(void *));
	assert_non_null(o->batch.records);
	for (size_t i = 0; i < r->n; i++) {
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

static struct outbox outbox_read(struct fx *f, int lane, uint64_t after)
{
	struct outbox o;
	memset(&o, 0, sizeof(o));
	poolpair__repl__record_batch__init(&o.batch);
	o.status = 1;
	assert_int_equal(
	    store_outbox_read(&f->s, US, lane, after, 0, 0, on_records, &o), 0);
	run(f);
	assert_int_equal(o.status, 0);
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

/* The records of x and y are the same, field by field. */
static void assert_same_records(const Poolpair__Repl__RecordBatch *x,
				const Poolpair__Repl__RecordBatch *y)
{
	assert_int_equal(x->n_records, y->n_records);
	for (size_t i = 0; i < x->n_records; i++) {
		const Poolpair__Repl__ChangeRecord *a = x->records[i];
		const Poolpair__Repl__ChangeRecord *b = y->records[i];
		assert_string_equal(a->user_set, b->user_set);
		assert_int_equal(a->lane, b->lane);
		assert_int_equal(a->seq, b->seq);
		assert_int_equal(a->epoch, b->epoch);
		assert_int_equal(a->hlc, b->hlc);
		assert_int_equal(a->op, b->op);
		assert_int_equal(a->kind, b->kind);
		assert_string_equal(a->key, b->key);
		assert_int_equal(a->value.len, b->value.len);
		if (a->value.len > 0)
			assert_memory_equal(a->value.data, b->value.data,
					    a->value.len);
		assert_int_equal(a->offset, b->offset);
		assert_int_equal(a->total, b->total);
	}
}

struct applied {
	int called, status;
	size_t applied, duplicates, archived;
	struct store_position pos[4];
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
	a->n = r->n < 4 ? r->n : 4;
	if (a->n > 0)
		memcpy(a->pos, r->positions, a->n * sizeof(a->pos[0]));
}

static struct applied apply_outbox(struct fx *f,
				   const Poolpair__Repl__RecordBatch *b)
{
	struct applied a = {0};
	assert_int_equal(store_apply_batch_outbox(&f->s, b, on_apply, &a), 0);
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

static struct store_position position(struct fx *f, int lane)
{
	struct positions r = {.status = 1};
	struct store_position none;

	assert_int_equal(store_stream_positions(&f->s, on_positions, &r), 0);
	run(f);
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.v[i].user_set, US) == 0 && r.v[i].lane == lane)
			return r.v[i];
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

static struct store_digest digest(struct fx *f)
{
	struct store_digest d;
	memset(&d, 0, sizeof(d));
	assert_int_equal(store_digest(&f->s, US, on_digest, &d), 0);
	run(f);
	return d;
}

static void assert_same_copy(struct fx *a, struct fx *b)
{
	struct store_digest x = digest(a), y = digest(b);
	assert_true(x.items > 0);
	assert_int_equal(x.items, y.items);
	assert_memory_equal(x.buckets, y.buckets, sizeof(x.buckets));
}

struct item {
	int called, status;
	char value[128];
};

static void on_item(void *arg, int status, const struct store_item *it)
{
	struct item *r = arg;
	r->called++;
	r->status = status;
	if (status == 0 && it->value_len < sizeof(r->value)) {
		memcpy(r->value, it->value, it->value_len);
		r->value[it->value_len] = '\0';
	}
}

static struct item get(struct fx *f, int kind, const char *key)
{
	struct item r = {0};
	assert_int_equal(store_get(&f->s, US, kind, key, on_item, &r), 0);
	run(f);
	assert_int_equal(r.called, 1);
	return r;
}

/* Divergence archive: how many, and per entry seq, epoch, whether its
 * reason is "never shipped". */
struct archive {
	size_t n;
	uint64_t seq[16], epoch[16];
	bool never[16];
};

static void on_divergence(void *arg, int status,
			  const struct store_divergence_list *l)
{
	struct archive *a = arg;
	assert_int_equal(status, 0);
	a->n = l->n;
	for (size_t i = 0; i < l->n && i < 16; i++) {
		a->seq[i] = l->v[i].seq;
		a->epoch[i] = l->v[i].epoch;
		a->never[i] = strcmp(l->v[i].reason, "never shipped") == 0;
		assert_string_equal(l->v[i].user_set, US);
	}
}

static struct archive archived(struct fx *f)
{
	struct archive a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_divergence_list(&f->s, 0, 0, on_divergence, &a),
			 0);
	run(f);
	return a;
}

struct diverted {
	int called, status;
	uint64_t archived;
};

static void on_diverted(void *arg, int status, uint64_t n, const char *errmsg)
{
	struct diverted *d = arg;
	assert_non_null(errmsg);
	d->called++;
	d->status = status;
	d->archived = n;
}

static struct diverted divert_stale(struct fx *f, int lane, uint64_t keep,
				    uint64_t epoch)
{
	struct diverted d = {0};
	assert_int_equal(store_divert_stale(&f->s, US, lane, keep, epoch,
					    on_diverted, &d),
			 0);
	run(f);
	assert_int_equal(d.called, 1);
	return d;
}

/* ---- outbox mode ------------------------------------------------------- */

/* A writer's records applied in outbox mode at a standby: the copy equals
 * the writer's, the outbox holds the records exactly, the stream's head is
 * the last seq (applied stays), duplicates are skipped, acks trim, and a
 * local write continues after the head. */
static void test_outbox_mode_keeps_records(void **state)
{
	(void)state;
	struct fx *w = fx_new(), *b = fx_new();
	char key[32], val[32];

	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "sip:u%d@x", i % 4);
		snprintf(val, sizeof(val), "value-%d", i);
		assert_int_equal(put(w, 1, KIND(PROFILE), key, val).status, 0);
	}
	assert_int_equal(chunk(w, 1, "a.txt", "hello ", 0, 11).status, 0);
	assert_int_equal(chunk(w, 1, "a.txt", "world", 6, 11).status, 0);
	struct outbox od = outbox_read(w, LANE_DATA, 0);
	struct outbox oc = outbox_read(w, LANE_CONTENT, 0);
	assert_int_equal(od.batch.n_records, 6);
	assert_int_equal(oc.batch.n_records, 2);

	struct applied r = apply_outbox(b, &od.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 6);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.pos[0].head_seq, 6);
	assert_int_equal(r.pos[0].applied_seq, 0);
	assert_int_equal(r.pos[0].lag_records, 6);
	r = apply_outbox(b, &oc.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 2);
	assert_same_copy(w, b);

	/* kept exactly, as written at the writer */
	struct outbox bd = outbox_read(b, LANE_DATA, 0);
	struct outbox bc = outbox_read(b, LANE_CONTENT, 0);
	assert_same_records(&od.batch, &bd.batch);
	assert_same_records(&oc.batch, &bc.batch);
	struct store_position p = position(b, LANE_DATA);
	assert_int_equal(p.head_seq, 6);
	assert_int_equal(p.applied_seq, 0);
	assert_int_equal(p.acked_seq, 0);
	assert_int_equal(p.lag_records, 6);
	assert_true(p.lag_bytes > 0);
	assert_int_equal(p.epoch, 1);

	/* again: duplicates, nothing changes */
	r = apply_outbox(b, &od.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 0);
	assert_int_equal(r.duplicates, 6);
	assert_int_equal(position(b, LANE_DATA).lag_records, 6);

	/* the pair's acks trim it */
	assert_int_equal(ack(b, LANE_DATA, 4), 0);
	p = position(b, LANE_DATA);
	assert_int_equal(p.acked_seq, 4);
	assert_int_equal(p.lag_records, 2);
	outbox_free(&bd);
	bd = outbox_read(b, LANE_DATA, 0);
	assert_int_equal(bd.batch.n_records, 2);
	assert_int_equal(bd.batch.records[0]->seq, 5);

	/* a write here (the standby became the writer) continues at 7 */
	struct wres wr = put(b, 2, KIND(PROFILE), "sip:new@x", "v");
	assert_int_equal(wr.status, 0);
	assert_int_equal(wr.seq, 7);
	p = position(b, LANE_DATA);
	assert_int_equal(p.head_seq, 7);
	assert_int_equal(p.lag_records, 3);
	/* and a record of the old writer at 7 is now a duplicate */
	outbox_free(&od);
	assert_int_equal(put(w, 1, KIND(PROFILE), "sip:late@x", "x").seq, 7);
	od = outbox_read(w, LANE_DATA, 6);
	r = apply_outbox(b, &od.batch);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(get(b, KIND(PROFILE), "sip:late@x").status,
			 STORE_E_NOT_FOUND);

	outbox_free(&od);
	outbox_free(&oc);
	outbox_free(&bd);
	outbox_free(&bc);
	fx_free(w);
	fx_free(b);
}

/* A gap stops the batch as in store_apply_batch; a stale record is
 * archived and kept in the outbox too, so that the stream stays dense. */
static void test_outbox_mode_gap_and_stale(void **state)
{
	(void)state;
	struct fx *w = fx_new(), *b = fx_new();

	for (int i = 0; i < 4; i++) {
		char key[32];
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		assert_int_equal(put(w, 1, KIND(SETTINGS), key, "s").status, 0);
	}
	struct outbox o = outbox_read(w, LANE_DATA, 2); /* 3, 4 */
	struct applied r = apply_outbox(b, &o.batch);
	assert_int_equal(r.status, STORE_E_GAP);
	assert_int_equal(r.applied, 0);
	assert_int_equal(position(b, LANE_DATA).lag_records, 0);
	outbox_free(&o);

	o = outbox_read(w, LANE_DATA, 0);
	assert_int_equal(set_epoch(b, 2), 0);
	r = apply_outbox(b, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 0);
	assert_int_equal(r.archived, 4);
	struct store_position p = position(b, LANE_DATA);
	assert_int_equal(p.head_seq, 4);
	assert_int_equal(p.lag_records, 4);
	struct archive a = archived(b);
	assert_int_equal(a.n, 4);
	assert_false(a.never[0]);
	struct outbox ob = outbox_read(b, LANE_DATA, 0);
	assert_same_records(&o.batch, &ob.batch);
	outbox_free(&ob);
	outbox_free(&o);
	fx_free(w);
	fx_free(b);
}

/* After a seed (store_seed_*) the stream stands at F; the next record in
 * outbox mode is F + 1, then a local write continues after it. */
static void test_outbox_mode_after_seed(void **state)
{
	(void)state;
	struct fx *w = fx_new(), *b = fx_new();
	int st = 1;

	for (int i = 0; i < 5; i++) {
		char key[32];
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		assert_int_equal(put(w, 1, KIND(CONTACTS), key, "c").status, 0);
	}
	/* the seed's item states: the writer's items at F = 5 */
	struct outbox o = outbox_read(w, LANE_DATA, 0);
	assert_int_equal(
	    store_seed_begin(&b->s, US, LANE_DATA, 5, 1, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	st = 1;
	assert_int_equal(
	    store_seed_apply(&b->s, US, LANE_DATA, &o.batch, on_done, &st), 0);
	run(b);
	assert_int_equal(st, 0);
	st = 1;
	assert_int_equal(store_seed_end(&b->s, US, LANE_DATA, 5, on_done, &st),
			 0);
	run(b);
	assert_int_equal(st, 0);
	struct store_position p = position(b, LANE_DATA);
	assert_int_equal(p.applied_seq, 5);
	outbox_free(&o);

	assert_int_equal(put(w, 1, KIND(CONTACTS), "sip:u9@x", "n").seq, 6);
	o = outbox_read(w, LANE_DATA, 5);
	struct applied r = apply_outbox(b, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 1);
	assert_int_equal(r.pos[0].head_seq, 6);
	assert_int_equal(r.pos[0].applied_seq, 5);
	p = position(b, LANE_DATA);
	assert_int_equal(p.head_seq, 6);
	assert_int_equal(p.lag_records, 1);
	assert_same_copy(w, b);
	struct outbox ob = outbox_read(b, LANE_DATA, 0);
	assert_same_records(&o.batch, &ob.batch);
	outbox_free(&ob);
	outbox_free(&o);

	struct wres wr = put(b, 2, KIND(CONTACTS), "sip:b@x", "b");
	assert_int_equal(wr.status, 0);
	assert_int_equal(wr.seq, 7);
	fx_free(w);
	fx_free(b);
}

/* ---- divert stale ------------------------------------------------------ */

/* A former writer's outbox: records 1..3 under epoch 1 the new writer
 * has (keep 3), 4..5 under epoch 1 it never had, 6 under epoch 2 (the new
 * writer's, applied here in outbox mode). Only 4 and 5 are archived, then
 * the stream is reset in full; a second call changes nothing. */
static void test_divert_stale(void **state)
{
	(void)state;
	struct fx *f = fx_new(), *w = fx_new();

	for (int i = 0; i < 5; i++) {
		char key[32];
		snprintf(key, sizeof(key), "sip:u%d@x", i);
		assert_int_equal(put(f, 1, KIND(PROFILE), key, "old").status, 0);
	}
	assert_int_equal(chunk(f, 1, "a.txt", "abc", 0, 3).status, 0);
	assert_int_equal(ack(f, LANE_DATA, 1), 0);
	/* the new writer's record 6 under epoch 2, applied in outbox mode */
	for (int i = 0; i < 6; i++)
		assert_int_equal(put(w, 2, KIND(SETTINGS), "sip:w@x", "n").status,
				 0);
	struct outbox o = outbox_read(w, LANE_DATA, 5);
	assert_int_equal(o.batch.n_records, 1);
	assert_int_equal(apply_outbox(f, &o.batch).status, 0);
	outbox_free(&o);
	struct store_position p = position(f, LANE_DATA);
	assert_int_equal(p.head_seq, 6);
	assert_int_equal(p.lag_records, 5);

	/* nothing past keep is stale: nothing changes */
	struct diverted d = divert_stale(f, LANE_DATA, 5, 2);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.archived, 0);
	p = position(f, LANE_DATA);
	assert_int_equal(p.head_seq, 6);
	assert_int_equal(p.acked_seq, 1);
	assert_int_equal(p.lag_records, 5);
	/* nor with an epoch no record is older than */
	d = divert_stale(f, LANE_DATA, 3, 1);
	assert_int_equal(d.archived, 0);
	assert_int_equal(position(f, LANE_DATA).lag_records, 5);
	assert_int_equal(archived(f).n, 0);

	d = divert_stale(f, LANE_DATA, 3, 2);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.archived, 2);
	struct archive a = archived(f);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.seq[0], 4);
	assert_int_equal(a.seq[1], 5);
	assert_int_equal(a.epoch[0], 1);
	assert_true(a.never[0] && a.never[1]);
	p = position(f, LANE_DATA);
	assert_int_equal(p.head_seq, 0);
	assert_int_equal(p.acked_seq, 0);
	assert_int_equal(p.applied_seq, 0);
	assert_int_equal(p.lag_records, 0);
	o = outbox_read(f, LANE_DATA, 0);
	assert_int_equal(o.batch.n_records, 0);
	outbox_free(&o);
	/* the copy's items of the lane are gone (a full rebuild follows),
	 * the other lane is untouched */
	assert_int_equal(get(f, KIND(PROFILE), "sip:u0@x").status,
			 STORE_E_NOT_FOUND);
	assert_int_equal(get(f, KIND(SETTINGS), "sip:w@x").status,
			 STORE_E_NOT_FOUND);
	p = position(f, LANE_CONTENT);
	assert_int_equal(p.head_seq, 1);
	assert_int_equal(p.lag_records, 1);
	assert_int_equal(f->s.stats.archived, 2);

	/* idempotent */
	d = divert_stale(f, LANE_DATA, 3, 2);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.archived, 0);
	assert_int_equal(archived(f).n, 2);
	p = position(f, LANE_DATA);
	assert_int_equal(p.head_seq, 0);
	assert_int_equal(p.lag_records, 0);

	/* the content lane has its own: reset too */
	d = divert_stale(f, LANE_CONTENT, 0, 2);
	assert_int_equal(d.archived, 1);
	assert_int_equal(position(f, LANE_CONTENT).head_seq, 0);

	/* the new writer's stream from seq 1 applies here again */
	o = outbox_read(w, LANE_DATA, 0);
	struct applied r = apply_outbox(f, &o.batch);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.applied, 6);
	assert_same_copy(w, f);
	outbox_free(&o);

	/* bad arguments */
	assert_int_equal(store_divert_stale(&f->s, US, 5, 1, 1, on_diverted,
					    &d),
			 STORE_E_INVALID);
	assert_int_equal(store_divert_stale(&f->s, "", LANE_DATA, 1, 1,
					    on_diverted, &d),
			 STORE_E_INVALID);
	assert_int_equal(
	    store_divert_stale(&f->s, US, LANE_DATA, 1, 1, NULL, NULL),
	    STORE_E_INVALID);
	assert_int_equal(store_divert_stale(&f->s, US, LANE_DATA, UINT64_MAX,
					    1, on_diverted, &d),
			 STORE_E_INVALID);
	fx_free(f);
	fx_free(w);
}

/* A seed in progress on a stream that is reset goes with it. */
static void test_divert_stale_drops_seed(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int st = 1;

	assert_int_equal(chunk(f, 1, "a.txt", "ab", 0, 4).status, 0);
	assert_int_equal(chunk(f, 1, "a.txt", "cd", 2, 4).status, 0);
	assert_int_equal(
	    store_seed_begin(&f->s, US, LANE_CONTENT, 9, 2, on_done, &st), 0);
	run(f);
	assert_int_equal(st, 0);
	struct diverted d = divert_stale(f, LANE_CONTENT, 0, 2);
	assert_int_equal(d.archived, 2);
	/* no seed row left: ending the old seed is refused */
	st = 1;
	assert_int_equal(
	    store_seed_end(&f->s, US, LANE_CONTENT, 9, on_done, &st), 0);
	run(f);
	assert_int_equal(st, STORE_E_INVALID);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outbox_mode_keeps_records),
	    cmocka_unit_test(test_outbox_mode_gap_and_stale),
	    cmocka_unit_test(test_outbox_mode_after_seed),
	    cmocka_unit_test(test_divert_stale),
	    cmocka_unit_test(test_divert_stale_drops_seed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
