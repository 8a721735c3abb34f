/* Tests for replication/store_seed*.c: a copy rebuilt from its owner's store.
 * Round trip owner -> copy with every kind, resume after a reopen, fuzzy
 * reads while the owner writes (then the outbox records after F replayed
 * with store_apply_batch), every refusal of store_seed_apply, the seed row
 * kept on a resume, store_seed_end checks, and a version-1 store file
 * gaining the seeds table.
 *
 * Owner and copy are two stores in two temporary directories, each on its
 * own libuv loop; the test runs the loop of the store it called. */
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
#include "replication/store_seed.h"

#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define OPC(o) POOLPAIR__REPL__OP__OP_##o
#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT

static const char *const US = "pool-east";

/* ---- fixture ---------------------------------------------------------- */

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_seed.XXXXXX");
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

static void run(struct fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static void fx_close_store(struct fx *f)
{
	store_close(&f->s, on_closed);
	run(f);
	assert_true(f->closed);
	f->open = false;
}

static void fx_free(struct fx *f)
{
	char p[160];
	if (f->open)
		fx_close_store(f);
	run(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
}

/* ---- owner writes ----------------------------------------------------- */

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

static uint64_t g_hlc = 1000;

static uint64_t write1(struct fx *f, const char *us, int op, int kind,
		       const char *key, const void *value, size_t len,
		       uint64_t offset, uint64_t total)
{
	struct wres w = {0};
	struct store_write wr = {.user_set = us,
				 .epoch = 1,
				 .hlc = g_hlc++,
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
	if (w.status != 0)
		fail_msg("write %s %s: %s", store_kind_name(kind), key,
			 store_strerror(w.status));
	return w.seq;
}

static void put(struct fx *f, const char *us, int kind, const char *key,
		const char *value)
{
	write1(f, us, OPC(PUT), kind, key, value, strlen(value), 0, 0);
}

static void del(struct fx *f, const char *us, int kind, const char *key)
{
	write1(f, us, OPC(DELETE), kind, key, NULL, 0, 0, 0);
}

static uint8_t pattern(unsigned item, uint64_t i)
{
	return (uint8_t)((i * 131u + item * 7u) ^ (i >> 9));
}

/* Write bytes [from, to) of content item `item` (total bytes) in chunks of
 * chunk bytes; from 0 starts (or restarts) the item. */
static void upload(struct fx *f, const char *key, unsigned item, uint64_t total,
		   uint64_t from, uint64_t to, size_t chunk)
{
	uint8_t *buf = malloc(chunk ? chunk : 1);
	assert_non_null(buf);
	if (total == 0) {
		write1(f, US, OPC(CONTENT_CHUNK), KIND(CONTENT), key, NULL, 0,
		       0, 0);
		free(buf);
		return;
	}
	for (uint64_t off = from; off < to;) {
		size_t n = (size_t)(to - off < chunk ? to - off : chunk);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(item, off + i);
		write1(f, US, OPC(CONTENT_CHUNK), KIND(CONTENT), key, buf, n,
		       off, total);
		off += n;
	}
	free(buf);
}

/* ---- reads ------------------------------------------------------------ */

static void on_positions(void *arg, int status, const struct store_positions *p)
{
	struct store_position *out = arg;
	assert_int_equal(status, 0);
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].user_set, out->user_set) == 0 &&
		    p->v[i].lane == out->lane)
			*out = p->v[i];
}

static struct store_position position(struct fx *f, const char *us, int lane)
{
	struct store_position p;
	memset(&p, 0, sizeof(p));
	snprintf(p.user_set, sizeof(p.user_set), "%s", us);
	p.lane = lane;
	assert_int_equal(store_stream_positions(&f->s, on_positions, &p), 0);
	run(f);
	return p;
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

static void assert_same(struct fx *a, struct fx *b, const char *us)
{
	struct store_digest da = digest(a, us), db = digest(b, us);
	assert_int_equal(da.items, db.items);
	for (unsigned i = 0; i < STORE_DIGEST_BUCKETS; i++) {
		assert_int_equal(da.buckets[i].count, db.buckets[i].count);
		if (da.buckets[i].hash != db.buckets[i].hash)
			fail_msg("%s: bucket %u differs", us, i);
	}
}

struct item {
	int status;
	char value[64];
	bool enabled;
	uint64_t seq;
};

static void on_item(void *arg, int status, const struct store_item *it)
{
	struct item *r = arg;
	r->status = status;
	if (status == 0) {
		snprintf(r->value, sizeof(r->value), "%.*s", (int)it->value_len,
			 (const char *)it->value);
		r->enabled = it->enabled;
		r->seq = it->seq;
	}
}

static struct item get(struct fx *f, const char *us, int kind, const char *key)
{
	struct item r = {.status = 1};
	assert_int_equal(store_get(&f->s, us, kind, key, on_item, &r), 0);
	run(f);
	return r;
}

/* ---- seed operations -------------------------------------------------- */

static void on_done(void *arg, int status, const char *errmsg)
{
	int *st = arg;
	assert_non_null(errmsg);
	if (status != 0)
		assert_true(errmsg[0] != '\0');
	*st = status;
}

static int seed_begin(struct fx *f, const char *us, int lane, uint64_t from,
		      uint64_t epoch)
{
	int st = 1;
	assert_int_equal(
	    store_seed_begin(&f->s, us, lane, from, epoch, on_done, &st), 0);
	run(f);
	return st;
}

static int seed_apply(struct fx *f, const char *us, int lane,
		      const Poolpair__Repl__RecordBatch *b)
{
	int st = 1;
	assert_int_equal(store_seed_apply(&f->s, us, lane, b, on_done, &st), 0);
	run(f);
	return st;
}

static int seed_end(struct fx *f, const char *us, int lane, uint64_t from)
{
	int st = 1;
	assert_int_equal(store_seed_end(&f->s, us, lane, from, on_done, &st),
			 0);
	run(f);
	return st;
}

static void on_totals(void *arg, int status, const struct store_seed_totals *t)
{
	struct store_seed_totals *out = arg;
	assert_int_equal(status, 0);
	out->items = t->items;
	out->bytes = t->bytes;
}

static struct store_seed_totals seed_count(struct fx *f, const char *us,
					   int lane)
{
	struct store_seed_totals t = {0};
	assert_int_equal(store_seed_count(&f->s, us, lane, on_totals, &t), 0);
	run(f);
	return t;
}

/* A batch read, deep-copied (through the wire format) into memory the test
 * owns. */
struct sbatch {
	int status;
	Poolpair__Repl__RecordBatch batch;
	size_t bytes;
	uint64_t items;
	bool done;
	struct store_seed_mark next;
};

static Poolpair__Repl__ChangeRecord *
rec_dup(const Poolpair__Repl__ChangeRecord *r)
{
	size_t n = poolpair__repl__change_record__get_packed_size(r);
	uint8_t *buf = malloc(n ? n : 1);
	assert_non_null(buf);
	poolpair__repl__change_record__pack(r, buf);
	Poolpair__Repl__ChangeRecord *d =
	    poolpair__repl__change_record__unpack(NULL, n, buf);
	assert_non_null(d);
	free(buf);
	return d;
}

static void on_batch(void *arg, int status, const struct store_seed_batch *b)
{
	struct sbatch *o = arg;
	o->status = status;
	poolpair__repl__record_batch__init(&o->batch);
	o->batch.n_records = b->n;
	o->batch.records = calloc(b->n ? b->n : 1, sizeof(void *));
	assert_non_null(o->batch.records);
	for (size_t i = 0; i < b->n; i++)
		o->batch.records[i] = rec_dup(b->records[i]);
	o->bytes = b->bytes;
	o->items = b->items;
	o->done = b->done;
	o->next = b->next;
}

static void sbatch_free(struct sbatch *o)
{
	for (size_t i = 0; i < o->batch.n_records; i++)
		poolpair__repl__change_record__free_unpacked(
		    o->batch.records[i], NULL);
	free(o->batch.records);
	o->batch.records = NULL;
	o->batch.n_records = 0;
}

static struct sbatch seed_read(struct fx *f, const char *us, int lane,
			       const struct store_seed_mark *after,
			       size_t max_records, size_t max_bytes)
{
	struct sbatch o;
	memset(&o, 0, sizeof(o));
	o.status = 1;
	assert_int_equal(store_seed_read(&f->s, us, lane, after, max_records,
					 max_bytes, on_batch, &o),
			 0);
	run(f);
	assert_int_equal(o.status, 0);
	return o;
}

struct states {
	int status;
	struct store_seed_state v[8];
	size_t n;
};

static void on_states(void *arg, int status, const struct store_seed_states *s)
{
	struct states *r = arg;
	r->status = status;
	r->n = s->n < 8 ? s->n : 8;
	if (r->n > 0)
		memcpy(r->v, s->v, r->n * sizeof(r->v[0]));
}

static struct states seed_states(struct fx *f)
{
	struct states r = {.status = 1};
	assert_int_equal(store_seed_states(&f->s, on_states, &r), 0);
	run(f);
	assert_int_equal(r.status, 0);
	return r;
}

/* The seed row of (us, lane), or one with from_seq 0. */
static struct store_seed_state seed_row(struct fx *f, const char *us, int lane)
{
	struct states r = seed_states(f);
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.v[i].user_set, us) == 0 && r.v[i].lane == lane)
			return r.v[i];
	struct store_seed_state none;
	memset(&none, 0, sizeof(none));
	return none;
}

struct progress {
	uint64_t items, bytes, batches, records;
};

/* Read and apply up to max_batches batches (0: until done) from *mark on;
 * checks each batch's limits and figures. Returns whether done. */
static bool seed_some(struct fx *own, struct fx *copy, const char *us, int lane,
		      struct store_seed_mark *mark, size_t max_records,
		      size_t max_bytes, unsigned max_batches,
		      struct progress *pr)
{
	for (unsigned k = 0; max_batches == 0 || k < max_batches; k++) {
		struct sbatch b =
		    seed_read(own, us, lane, mark, max_records, max_bytes);
		uint64_t items, bytes;
		assert_true(b.batch.n_records <=
			    (max_records ? max_records : 1024));
		assert_true(b.batch.n_records == 1 ||
			    b.bytes <= (max_bytes ? max_bytes : 1u << 20));
		store_seed_figures(&b.batch, &items, &bytes);
		assert_int_equal(items, b.items);
		assert_int_equal(bytes, b.bytes);
		for (size_t i = 0; i < b.batch.n_records; i++) {
			const Poolpair__Repl__ChangeRecord *r =
			    b.batch.records[i];
			assert_string_equal(r->user_set, us);
			assert_int_equal(r->lane, lane);
			assert_true(r->value.len <= STORE_CONTENT_CHUNK);
		}
		if (b.batch.n_records > 0)
			assert_int_equal(seed_apply(copy, us, lane, &b.batch),
					 0);
		else
			assert_true(b.done);
		pr->items += b.items;
		pr->bytes += b.bytes;
		pr->records += b.batch.n_records;
		pr->batches++;
		*mark = b.next;
		bool done = b.done;
		sbatch_free(&b);
		if (done)
			return true;
	}
	return false;
}

/* Apply the owner's outbox records of (us, lane) after `after` to the copy
 * with store_apply_batch, as the live stream does. Returns how many. */
struct applied {
	int status;
	char errmsg[256];
};

static void on_apply(void *arg, int status, const struct store_apply_result *r)
{
	struct applied *a = arg;
	a->status = status;
	snprintf(a->errmsg, sizeof(a->errmsg), "%s", r->errmsg);
}

struct outbox {
	Poolpair__Repl__RecordBatch batch;
};

static void on_records(void *arg, int status, const struct store_records *r)
{
	struct outbox *o = arg;
	assert_int_equal(status, 0);
	poolpair__repl__record_batch__init(&o->batch);
	o->batch.n_records = r->n;
	o->batch.records = calloc(r->n ? r->n : 1, sizeof(void *));
	assert_non_null(o->batch.records);
	for (size_t i = 0; i < r->n; i++)
		o->batch.records[i] = rec_dup(r->records[i]);
}

static size_t replay(struct fx *own, struct fx *copy, const char *us, int lane,
		     uint64_t after)
{
	size_t total = 0;
	for (;;) {
		struct outbox o;
		assert_int_equal(store_outbox_read(&own->s, us, lane, after, 7,
						   0, on_records, &o),
				 0);
		run(own);
		size_t n = o.batch.n_records;
		if (n > 0) {
			struct applied a = {.status = 1};
			assert_int_equal(
			    store_apply_batch(&copy->s, &o.batch, on_apply, &a),
			    0);
			run(copy);
			if (a.status != 0)
				fail_msg("replay after %llu: %s",
					 (unsigned long long)after, a.errmsg);
			after = o.batch.records[n - 1]->seq;
		}
		for (size_t i = 0; i < n; i++)
			poolpair__repl__change_record__free_unpacked(
			    o.batch.records[i], NULL);
		free(o.batch.records);
		total += n;
		if (n == 0)
			return total;
	}
}

/* ---- the owner's data ------------------------------------------------- */

#define BIG ((uint64_t)900 * 1024 + 17) /* > 3 seed chunks */

/* Every kind: users enabled and disabled, profile/contacts/settings,
 * conferences (keys whose part order differs from their byte order),
 * CMS documents (a user set of their own and in US), content items
 * bigger than one seed chunk written in chunks of 600 KiB, one written in
 * small chunks, an incomplete one and an empty one. */
static void fill_owner(struct fx *o)
{
	char key[STORE_KEY_MAX + 1];
	static const char *const sips[] = {"sip:a@x", "sip:a!@x", "sip:b@x",
					   "sip:c@x"};
	for (unsigned i = 0; i < 4; i++) {
		char v[64];
		put(o, US, KIND(USER), sips[i], "pool-east");
		snprintf(v, sizeof(v), "profile of %u", i);
		put(o, US, KIND(PROFILE), sips[i], v);
		snprintf(v, sizeof(v), "[contacts %u]", i);
		put(o, US, KIND(CONTACTS), sips[i], v);
		snprintf(v, sizeof(v), "{settings %u}", i);
		put(o, US, KIND(SETTINGS), sips[i], v);
		assert_int_equal(
		    store_key_conference(key, sizeof(key), sips[i], "c1"), 0);
		put(o, US, KIND(CONFERENCE), key, "{at:9}");
		assert_int_equal(
		    store_key_conference(key, sizeof(key), sips[i], "c!2"), 0);
		put(o, US, KIND(CONFERENCE), key, "{at:10}");
	}
	del(o, US, KIND(USER), "sip:c@x"); /* disabled */
	put(o, "cms", KIND(CMS), "topology.xml", "<t/>");
	put(o, "cms", KIND(CMS), "dir/policy.xml", "<p/>");
	put(o, US, KIND(CMS), "doc", "in the pool's own user set");

	upload(o, "sip:a@x/c1/slides.pdf", 1, BIG, 0, BIG, 600 * 1024);
	upload(o, "sip:a@x/c1/notes/a.txt", 2, 5000, 0, 5000, 1000);
	upload(o, "sip:a!@x/c1/x", 3, 70000, 0, 70000, 70000);
	upload(o, "sip:b@x/c!2/partial.bin", 4, 400000, 0, 300000, 100000);
	upload(o, "sip:b@x/c1/empty", 5, 0, 0, 0, 1);
}

/* ---- tests ------------------------------------------------------------ */

/* Owner -> copy with every kind, in small batches; figures, positions,
 * seed rows; then the records written after F, replayed. */
static void test_round_trip(void **state)
{
	(void)state;
	struct fx *own = fx_new(), *copy = fx_new();
	fill_owner(own);

	const char *sets[] = {US, "cms"};
	uint64_t from[2][2];
	for (int u = 0; u < 2; u++) {
		for (int lane = 0; lane < 2; lane++) {
			struct store_position p = position(own, sets[u], lane);
			from[u][lane] = p.head_seq;
			if (from[u][lane] == 0)
				continue;
			struct store_seed_totals t =
			    seed_count(own, sets[u], lane);
			assert_int_equal(
			    seed_begin(copy, sets[u], lane, from[u][lane], 1),
			    0);
			struct store_seed_mark m = {0};
			struct progress pr = {0};
			assert_true(seed_some(own, copy, sets[u], lane, &m, 5,
					      200 * 1024, 0, &pr));
			assert_int_equal(pr.items, t.items);
			if (lane == LANE_DATA)
				assert_int_equal(pr.bytes, t.bytes);
			else
				assert_true(pr.bytes >= t.bytes);
			struct store_seed_state row =
			    seed_row(copy, sets[u], lane);
			assert_int_equal(row.from_seq, from[u][lane]);
			assert_int_equal(row.items, pr.items);
			assert_int_equal(row.bytes, pr.bytes);
			assert_true(row.mark.started);
			assert_int_equal(
			    seed_end(copy, sets[u], lane, from[u][lane]), 0);
			assert_int_equal(
			    position(copy, sets[u], lane).applied_seq,
			    from[u][lane]);
		}
	}
	/* 4 users x 6 data items + 1 cms; 5 content items (the empty one
	 * too); 2 cms documents */
	assert_int_equal(seed_count(own, US, LANE_DATA).items, 25);
	assert_int_equal(seed_count(own, US, LANE_CONTENT).items, 5);
	assert_int_equal(seed_count(own, "cms", LANE_DATA).items, 2);
	assert_int_equal(seed_states(copy).n, 0);
	assert_same(own, copy, US);
	assert_same(own, copy, "cms");
	struct item it = get(copy, US, KIND(USER), "sip:c@x");
	assert_int_equal(it.status, 0);
	assert_false(it.enabled);
	assert_string_equal(it.value, "pool-east");
	assert_true(get(copy, US, KIND(USER), "sip:a@x").enabled);

	/* the owner goes on; the live stream brings the records after F */
	put(own, US, KIND(PROFILE), "sip:a@x", "changed");
	del(own, US, KIND(CONTACTS), "sip:b@x");
	put(own, US, KIND(USER), "sip:d@x", "pool-east");
	upload(own, "sip:b@x/c!2/partial.bin", 4, 400000, 300000, 400000,
	       100000);
	upload(own, "sip:d@x/c1/new", 6, 300000, 0, 300000, 128 * 1024);
	assert_int_equal(replay(own, copy, US, LANE_DATA, from[0][0]), 3);
	assert_int_equal(replay(own, copy, US, LANE_CONTENT, from[0][1]), 4);
	assert_same(own, copy, US);
	fx_free(own);
	fx_free(copy);
}

/* A seed cut halfway (inside a content item): the copy store closed and
 * reopened, store_seed_begin with the same F keeps everything, the seed
 * goes on after the mark and ends equal, the counters over both runs. */
static void test_resume(void **state)
{
	(void)state;
	struct fx *own = fx_new(), *copy = fx_new();
	fill_owner(own);

	for (int lane = 0; lane < 2; lane++) {
		uint64_t from = position(own, US, lane).head_seq;
		struct store_seed_totals t = seed_count(own, US, lane);
		struct store_seed_mark m = {0};
		struct progress pr = {0};
		assert_int_equal(seed_begin(copy, US, lane, from, 1), 0);
		assert_false(
		    seed_some(own, copy, US, lane, &m, 3, 300 * 1024, 3, &pr));
		if (lane == LANE_CONTENT) {
			/* the mark is inside the big item */
			assert_string_equal(m.key, "sip:a@x/c1/slides.pdf");
			assert_true(m.offset > 0 && m.offset < BIG);
		}
		struct store_digest before = digest(copy, US);

		fx_close_store(copy);
		fx_open(copy);
		struct store_seed_state row = seed_row(copy, US, lane);
		assert_int_equal(row.from_seq, from);
		assert_int_equal(row.epoch, 1);
		assert_true(row.mark.started);
		assert_int_equal(row.mark.kind, m.kind);
		assert_string_equal(row.mark.key, m.key);
		assert_int_equal(row.mark.offset, m.offset);
		assert_int_equal(row.items, pr.items);
		assert_int_equal(row.bytes, pr.bytes);

		/* the sender starts again at the handshake: same F */
		assert_int_equal(seed_begin(copy, US, lane, from, 1), 0);
		struct store_digest again = digest(copy, US);
		assert_int_equal(again.items, before.items);
		assert_memory_equal(again.buckets, before.buckets,
				    sizeof(before.buckets));
		struct store_seed_mark resumed = row.mark;
		struct progress pr2 = {0};
		assert_true(seed_some(own, copy, US, lane, &resumed, 3,
				      300 * 1024, 0, &pr2));
		assert_int_equal(pr.items + pr2.items, t.items);
		row = seed_row(copy, US, lane);
		assert_int_equal(row.items, t.items);
		assert_int_equal(row.bytes, pr.bytes + pr2.bytes);
		assert_int_equal(seed_end(copy, US, lane, from), 0);
	}
	assert_same(own, copy, US);
	fx_free(own);
	fx_free(copy);
}

/* The owner writes between the reads of the seed: items before and after
 * the mark change, go, come; uploads continue, restart and start across
 * F and across reads. After the seed, the outbox records after F applied
 * with store_apply_batch bring the copy to the owner's state. */
static void test_fuzzy_reads(void **state)
{
	(void)state;
	struct fx *own = fx_new(), *copy = fx_new();
	fill_owner(own);
	/* an upload in progress at F, and one about to be restarted */
	upload(own, "sip:c@x/c1/spans.bin", 7, 800000, 0, 200000, 100000);
	upload(own, "sip:c@x/c1/restart.bin", 8, 600000, 0, 300000, 100000);

	uint64_t fd = position(own, US, LANE_DATA).head_seq;
	uint64_t fc = position(own, US, LANE_CONTENT).head_seq;
	assert_int_equal(seed_begin(copy, US, LANE_DATA, fd, 1), 0);
	assert_int_equal(seed_begin(copy, US, LANE_CONTENT, fc, 1), 0);
	struct store_seed_mark md = {0}, mc = {0};
	struct progress pr = {0};
	bool dd = false, dc = false;
	for (unsigned round = 0; !dd || !dc; round++) {
		if (!dd)
			dd = seed_some(own, copy, US, LANE_DATA, &md, 4, 0, 1,
				       &pr);
		if (!dc)
			dc = seed_some(own, copy, US, LANE_CONTENT, &mc, 2,
				       150 * 1024, 1, &pr);
		char v[32];
		snprintf(v, sizeof(v), "round %u", round);
		/* before and after any mark */
		put(own, US, KIND(PROFILE), "sip:a@x", v);
		put(own, US, KIND(USER), "sip:zz@x", "pool-east");
		put(own, US, KIND(SETTINGS), "sip:c@x", v);
		switch (round) {
		case 0:
			del(own, US, KIND(CONTACTS), "sip:b@x");
			del(own, US, KIND(USER), "sip:a@x");
			upload(own, "sip:c@x/c1/spans.bin", 7, 800000, 200000,
			       500000, 100000);
			upload(own, "sip:c@x/c1/restart.bin", 9, 600000, 0,
			       100000, 100000);
			break;
		case 1:
			put(own, US, KIND(CONTACTS), "sip:b@x", "[back]");
			put(own, US, KIND(USER), "sip:a@x", "pool-west");
			del(own, US, KIND(CONFERENCE), "sip:a!@x/c1");
			upload(own, "sip:c@x/c1/spans.bin", 7, 800000, 500000,
			       800000, 100000);
			upload(own, "sip:a@x/c1/slides.pdf", 10, 300000, 0,
			       300000, 100000);
			break;
		case 2:
			write1(own, US, OPC(DELETE), KIND(CONTENT),
			       "sip:a!@x/c1/x", NULL, 0, 0, 0);
			upload(own, "sip:0@x/c1/first", 11, 200000, 0, 200000,
			       100000);
			upload(own, "sip:zz@x/c1/last", 12, 200000, 0, 100000,
			       100000);
			break;
		case 3:
			upload(own, "sip:zz@x/c1/last", 12, 200000, 100000,
			       200000, 100000);
			upload(own, "sip:c@x/c1/restart.bin", 9, 600000, 100000,
			       600000, 100000);
			break;
		default:
			break;
		}
		assert_true(round < 100);
	}
	assert_int_equal(seed_end(copy, US, LANE_DATA, fd), 0);
	assert_int_equal(seed_end(copy, US, LANE_CONTENT, fc), 0);
	assert_true(replay(own, copy, US, LANE_DATA, fd) > 0);
	assert_true(replay(own, copy, US, LANE_CONTENT, fc) > 0);
	assert_same(own, copy, US);
	assert_int_equal(position(copy, US, LANE_CONTENT).applied_seq,
			 position(own, US, LANE_CONTENT).head_seq);
	fx_free(own);
	fx_free(copy);
}

/* The owner changes the content item the mark is inside of between two
 * reads: it grows, is restarted with another total (more, or fewer bytes
 * than the mark names), or is deleted. The seed goes on (continuing the
 * item, or with the next one) and the replay of the records after F ends
 * equal. */
static void test_mark_item_changes(void **state)
{
	(void)state;
	static const char *const x = "sip:a@x/c1/x.bin";
	static const char *const y = "sip:b@x/c1/y.bin";
	for (int variant = 0; variant < 4; variant++) {
		struct fx *own = fx_new(), *copy = fx_new();
		upload(own, x, 1, 800000, 0, 600000, 600 * 1024);
		upload(own, y, 2, 1000, 0, 1000, 1000);
		uint64_t from = position(own, US, LANE_CONTENT).head_seq;
		assert_int_equal(seed_begin(copy, US, LANE_CONTENT, from, 1),
				 0);
		struct sbatch b = seed_read(own, US, LANE_CONTENT, NULL, 1, 0);
		assert_int_equal(seed_apply(copy, US, LANE_CONTENT, &b.batch),
				 0);
		struct store_seed_mark m = b.next;
		sbatch_free(&b);
		assert_string_equal(m.key, x);
		assert_int_equal(m.offset, STORE_CONTENT_CHUNK);

		uint64_t want_total = 800000, want_offset = m.offset;
		const char *want_key = x;
		switch (variant) {
		case 0: /* grows */
			upload(own, x, 1, 800000, 600000, 800000, 100000);
			break;
		case 1: /* restarted, another total, more than the mark */
			upload(own, x, 3, 500000, 0, 400000, 100000);
			want_total = 500000;
			break;
		case 2: /* restarted, fewer bytes than the mark */
			upload(own, x, 4, 900000, 0, 100000, 100000);
			want_key = y;
			want_offset = 0;
			want_total = 1000;
			break;
		default: /* deleted */
			write1(own, US, OPC(DELETE), KIND(CONTENT), x, NULL, 0,
			       0, 0);
			want_key = y;
			want_offset = 0;
			want_total = 1000;
			break;
		}
		b = seed_read(own, US, LANE_CONTENT, &m, 1, 0);
		assert_int_equal(b.batch.n_records, 1);
		assert_string_equal(b.batch.records[0]->key, want_key);
		assert_int_equal(b.batch.records[0]->offset, want_offset);
		assert_int_equal(b.batch.records[0]->total, want_total);
		sbatch_free(&b);

		struct progress pr = {0};
		assert_true(
		    seed_some(own, copy, US, LANE_CONTENT, &m, 1, 0, 0, &pr));
		assert_int_equal(seed_end(copy, US, LANE_CONTENT, from), 0);
		replay(own, copy, US, LANE_CONTENT, from);
		assert_same(own, copy, US);
		fx_free(own);
		fx_free(copy);
	}
}

/* An item of 12 MiB stored in chunks of STORE_VALUE_MAX: read with the
 * default limits, no batch holds more than 1 MiB, and the copy ends
 * equal. */
static void test_big_item(void **state)
{
	(void)state;
	struct fx *own = fx_new(), *copy = fx_new();
	const uint64_t total = (uint64_t)12 << 20;
	upload(own, "sip:a@x/c1/big.bin", 1, total, 0, total, STORE_VALUE_MAX);
	uint64_t from = position(own, US, LANE_CONTENT).head_seq;
	assert_int_equal(from, 3);
	assert_int_equal(seed_begin(copy, US, LANE_CONTENT, from, 1), 0);
	struct store_seed_mark m = {0};
	struct progress pr = {0};
	assert_true(seed_some(own, copy, US, LANE_CONTENT, &m, 0, 0, 0, &pr));
	assert_int_equal(pr.records, total / STORE_CONTENT_CHUNK);
	assert_true(pr.batches >= total / ((size_t)1 << 20));
	assert_int_equal(pr.items, 1);
	assert_int_equal(m.offset, total);
	assert_int_equal(seed_end(copy, US, LANE_CONTENT, from), 0);
	assert_same(own, copy, US);
	fx_free(own);
	fx_free(copy);
}

/* ---- refusals --------------------------------------------------------- */

static Poolpair__Repl__ChangeRecord *mkrec(const char *us, int lane, int op,
					   int kind, const char *key,
					   const char *value, size_t vlen,
					   uint64_t offset, uint64_t total)
{
	Poolpair__Repl__ChangeRecord *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	poolpair__repl__change_record__init(r);
	r->user_set = (char *)us;
	r->lane = (Poolpair__Repl__Lane)lane;
	r->op = (Poolpair__Repl__Op)op;
	r->kind = (Poolpair__Repl__Kind)kind;
	r->key = (char *)key;
	r->value.data = (uint8_t *)value;
	r->value.len = vlen;
	r->offset = offset;
	r->total = total;
	r->epoch = 1;
	r->seq = 1;
	r->hlc = 5;
	return r;
}

static Poolpair__Repl__ChangeRecord *data_rec(int op, int kind, const char *key,
					      const char *v)
{
	return mkrec(US, LANE_DATA, op, kind, key, v, v ? strlen(v) : 0, 0, 0);
}

static Poolpair__Repl__ChangeRecord *chunk_rec(const char *key, const char *v,
					       size_t n, uint64_t offset,
					       uint64_t total)
{
	return mkrec(US, LANE_CONTENT, OPC(CONTENT_CHUNK), KIND(CONTENT), key,
		     v, n, offset, total);
}

/* Apply r0 (and r1 when not NULL) as one batch; frees them. */
static int apply2(struct fx *f, int lane, Poolpair__Repl__ChangeRecord *r0,
		  Poolpair__Repl__ChangeRecord *r1)
{
	Poolpair__Repl__ChangeRecord *v[2] = {r0, r1};
	Poolpair__Repl__RecordBatch b;
	poolpair__repl__record_batch__init(&b);
	b.records = v;
	b.n_records = r1 ? 2 : 1;
	int st = seed_apply(f, US, lane, &b);
	free(r0);
	free(r1);
	return st;
}

/* A refused batch: STORE_E_INVALID, and neither the items nor the seed
 * row changed. */
static void refused(struct fx *f, int lane, Poolpair__Repl__ChangeRecord *r0,
		    Poolpair__Repl__ChangeRecord *r1)
{
	struct store_digest before = digest(f, US);
	struct store_seed_state row = seed_row(f, US, lane);
	assert_int_equal(apply2(f, lane, r0, r1), STORE_E_INVALID);
	struct store_digest after = digest(f, US);
	assert_int_equal(after.items, before.items);
	assert_memory_equal(after.buckets, before.buckets,
			    sizeof(before.buckets));
	struct store_seed_state row2 = seed_row(f, US, lane);
	assert_memory_equal(&row, &row2, sizeof(row));
}

static void test_apply_refusals(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	char big[300];
	memset(big, 'x', sizeof(big));

	/* no seed row */
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(PROFILE), "sip:a", "p"),
		NULL);
	refused(f, LANE_CONTENT, chunk_rec("sip:a/c/n", "ab", 2, 0, 2), NULL);

	assert_int_equal(seed_begin(f, US, LANE_DATA, 10, 2), 0);
	assert_int_equal(seed_begin(f, US, LANE_CONTENT, 20, 2), 0);
	assert_int_equal(
	    apply2(f, LANE_DATA,
		   data_rec(OPC(PUT), KIND(CONTACTS), "sip:m", "c"), NULL),
	    0);
	assert_int_equal(apply2(f, LANE_CONTENT,
				chunk_rec("sip:m/c/n", big, 100, 0, 300), NULL),
			 0);

	/* wrong user set (in the record; or a seed of another user set) */
	refused(f, LANE_DATA,
		mkrec("pool-west", LANE_DATA, OPC(PUT), KIND(PROFILE), "sip:z",
		      "p", 1, 0, 0),
		NULL);
	{
		int st = 1;
		Poolpair__Repl__ChangeRecord *r =
		    data_rec(OPC(PUT), KIND(PROFILE), "sip:z", "p");
		Poolpair__Repl__RecordBatch b;
		poolpair__repl__record_batch__init(&b);
		b.records = &r;
		b.n_records = 1;
		assert_int_equal(store_seed_apply(&f->s, "pool-west", LANE_DATA,
						  &b, on_done, &st),
				 0);
		run(f);
		assert_int_equal(st, STORE_E_INVALID);
		free(r);
	}
	/* wrong lane, kind the lane does not carry */
	refused(f, LANE_DATA,
		mkrec(US, LANE_CONTENT, OPC(PUT), KIND(PROFILE), "sip:z", "p",
		      1, 0, 0),
		NULL);
	refused(f, LANE_DATA,
		mkrec(US, LANE_DATA, OPC(CONTENT_CHUNK), KIND(CONTENT),
		      "sip:z/c/n", "p", 1, 0, 1),
		NULL);
	refused(f, LANE_CONTENT,
		mkrec(US, LANE_CONTENT, OPC(PUT), KIND(PROFILE), "sip:z", "p",
		      1, 0, 0),
		NULL);
	/* out of order: at or before the mark, or a batch not in order */
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(CONTACTS), "sip:m", "c"),
		NULL);
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(CONTACTS), "sip:a", "c"),
		NULL);
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(PROFILE), "sip:z", "c"),
		NULL);
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(USER), "sip:b", "east"),
		data_rec(OPC(PUT), KIND(USER), "sip:a", "east"));
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(CMS), "doc", "d"),
		data_rec(OPC(PUT), KIND(SETTINGS), "sip:z", "s"));
	refused(f, LANE_CONTENT, chunk_rec("sip:a/c/n", "ab", 2, 0, 2), NULL);
	/* conference keys compare by (sip, conf_id): "sip:m/c" is before
	 * the mark "sip:m!/c" although '/' > '!' */
	assert_int_equal(
	    apply2(f, LANE_DATA,
		   data_rec(OPC(PUT), KIND(CONFERENCE), "sip:m!/c", "{}"),
		   NULL),
	    0);
	refused(f, LANE_DATA,
		data_rec(OPC(PUT), KIND(CONFERENCE), "sip:m/c", "{}"), NULL);
	/* content: a gap after the mark, a chunk past its total, a new item
	 * not at offset 0, a truncated chunk followed by the next one */
	refused(f, LANE_CONTENT, chunk_rec("sip:m/c/n", big, 50, 150, 300),
		NULL);
	refused(f, LANE_CONTENT, chunk_rec("sip:m/c/n", big, 50, 50, 300),
		NULL);
	refused(f, LANE_CONTENT, chunk_rec("sip:m/c/n", big, 250, 100, 300),
		NULL);
	refused(f, LANE_CONTENT, chunk_rec("sip:z/c/n", big, 10, 10, 300),
		NULL);
	refused(f, LANE_CONTENT, chunk_rec("sip:m/c/n", big, 100, 100, 300),
		chunk_rec("sip:m/c/n", big, 50, 250, 300));
	refused(f, LANE_CONTENT, chunk_rec("sip:z/c/n", big, 0, 0, 300), NULL);
	/* bad ops */
	refused(f, LANE_DATA, data_rec(OPC(DELETE), KIND(PROFILE), "sip:z", ""),
		NULL);
	refused(f, LANE_DATA, data_rec(OPC(DELETE), KIND(USER), "sip:z", ""),
		NULL);
	refused(f, LANE_DATA,
		data_rec(OPC(PURGE_USER), KIND(USER), "sip:z", "east"), NULL);
	refused(f, LANE_CONTENT,
		mkrec(US, LANE_CONTENT, OPC(DELETE), KIND(CONTENT), "sip:z/c/n",
		      NULL, 0, 0, 0),
		NULL);
	/* a good record before a bad one: nothing of the batch stays */
	refused(f, LANE_DATA, data_rec(OPC(PUT), KIND(USER), "sip:y", "east"),
		data_rec(OPC(PUT), KIND(PROFILE), "sip:z", "late"));
	refused(f, LANE_CONTENT, chunk_rec("sip:m/c/n", big, 200, 100, 300),
		chunk_rec("sip:z/c/n", big, 5, 5, 10));
	assert_int_equal(get(f, US, KIND(USER), "sip:y").status,
			 STORE_E_NOT_FOUND);

	/* in one group with a good batch: the good one stays */
	{
		int st1 = 1, st2 = 1;
		Poolpair__Repl__ChangeRecord *good =
		    data_rec(OPC(DELETE), KIND(USER), "sip:y", "east");
		Poolpair__Repl__ChangeRecord *bad =
		    data_rec(OPC(PUT), KIND(PROFILE), "sip:y", "p");
		Poolpair__Repl__RecordBatch b1, b2;
		poolpair__repl__record_batch__init(&b1);
		poolpair__repl__record_batch__init(&b2);
		b1.records = &good;
		b1.n_records = 1;
		b2.records = &bad;
		b2.n_records = 1;
		assert_int_equal(
		    store_seed_apply(&f->s, US, LANE_DATA, &b1, on_done, &st1),
		    0);
		assert_int_equal(
		    store_seed_apply(&f->s, US, LANE_DATA, &b2, on_done, &st2),
		    0);
		run(f);
		assert_int_equal(st1, 0);
		assert_int_equal(st2, STORE_E_INVALID);
		free(good);
		free(bad);
		struct item it = get(f, US, KIND(USER), "sip:y");
		assert_int_equal(it.status, 0);
		assert_false(it.enabled);
		assert_string_equal(it.value, "east");
		struct store_seed_state row = seed_row(f, US, LANE_DATA);
		assert_string_equal(row.mark.key, "sip:y");
		assert_int_equal(row.items, 3);
	}
	/* the item of the mark goes on, and completes */
	assert_int_equal(apply2(f, LANE_CONTENT,
				chunk_rec("sip:m/c/n", big, 200, 100, 300),
				NULL),
			 0);
	assert_int_equal(seed_row(f, US, LANE_CONTENT).mark.offset, 300);
	refused(f, LANE_CONTENT, chunk_rec("sip:m/c/n", big, 0, 300, 300),
		NULL);

	/* refused at the call */
	int st = 1;
	assert_int_equal(
	    store_seed_begin(&f->s, US, LANE_DATA, 0, 1, on_done, &st),
	    STORE_E_INVALID);
	assert_int_equal(store_seed_begin(&f->s, US, 7, 1, 1, on_done, &st),
			 STORE_E_INVALID);
	assert_int_equal(
	    store_seed_begin(&f->s, "", LANE_DATA, 1, 1, on_done, &st),
	    STORE_E_INVALID);
	assert_int_equal(
	    store_seed_apply(&f->s, US, LANE_DATA, NULL, on_done, &st),
	    STORE_E_INVALID);
	struct store_seed_mark bad_mark = {.started = true,
					   .kind = KIND(CONTENT)};
	snprintf(bad_mark.key, sizeof(bad_mark.key), "sip:a/c/n");
	assert_int_equal(store_seed_read(&f->s, US, LANE_DATA, &bad_mark, 0, 0,
					 on_batch, NULL),
			 STORE_E_INVALID);
	bad_mark.kind = KIND(CONFERENCE);
	snprintf(bad_mark.key, sizeof(bad_mark.key), "no-slash");
	assert_int_equal(store_seed_read(&f->s, US, LANE_DATA, &bad_mark, 0, 0,
					 on_batch, NULL),
			 STORE_E_INVALID);
	run(f);
	assert_int_equal(st, 1);

	/* store_seed_end: a wrong F is refused and the seed stays */
	assert_int_equal(seed_end(f, US, LANE_DATA, 11), STORE_E_INVALID);
	assert_int_equal(seed_row(f, US, LANE_DATA).from_seq, 10);
	assert_int_equal(position(f, US, LANE_DATA).applied_seq, 0);
	assert_int_equal(seed_end(f, US, LANE_DATA, 10), 0);
	assert_int_equal(position(f, US, LANE_DATA).applied_seq, 10);
	assert_int_equal(seed_end(f, US, LANE_DATA, 10), STORE_E_INVALID);
	assert_int_equal(seed_row(f, US, LANE_CONTENT).from_seq, 20);
	assert_int_equal(seed_states(f).n, 1);
	fx_free(f);
}

/* store_seed_begin: the same F keeps the row and the items; another F
 * clears the lane's items only (not the other lane, nor another user set,
 * nor the outbox, nor the divergence archive) and starts over; positions
 * and epochs. */
static void test_begin(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fill_owner(f); /* this store's own writes: outbox records */
	put(f, "pool-west", KIND(PROFILE), "sip:w@x", "west");
	struct store_position own_data = position(f, US, LANE_DATA);
	assert_true(own_data.lag_records > 0);

	assert_int_equal(seed_begin(f, US, LANE_DATA, 5, 3), 0);
	/* the data items are gone, the content is there, the outbox too */
	struct store_digest d = digest(f, US);
	assert_int_equal(d.items, seed_count(f, US, LANE_CONTENT).items);
	assert_int_equal(seed_count(f, US, LANE_DATA).items, 0);
	assert_int_equal(seed_count(f, "pool-west", LANE_DATA).items, 1);
	struct store_position p = position(f, US, LANE_DATA);
	assert_int_equal(p.applied_seq, 0);
	assert_int_equal(p.epoch, 3);
	assert_int_equal(p.lag_records, own_data.lag_records);
	assert_int_equal(p.head_seq, own_data.head_seq);

	assert_int_equal(
	    apply2(f, LANE_DATA,
		   data_rec(OPC(PUT), KIND(PROFILE), "sip:s@x", "seeded"),
		   NULL),
	    0);
	struct store_seed_state row = seed_row(f, US, LANE_DATA);
	assert_int_equal(row.items, 1);

	/* a resume: the same F, even under another epoch, keeps it all */
	assert_int_equal(seed_begin(f, US, LANE_DATA, 5, 4), 0);
	struct store_seed_state row2 = seed_row(f, US, LANE_DATA);
	assert_memory_equal(&row, &row2, sizeof(row));
	assert_string_equal(get(f, US, KIND(PROFILE), "sip:s@x").value,
			    "seeded");
	assert_int_equal(position(f, US, LANE_DATA).epoch, 3);

	/* another F: starts over */
	assert_int_equal(seed_begin(f, US, LANE_DATA, 9, 4), 0);
	assert_int_equal(get(f, US, KIND(PROFILE), "sip:s@x").status,
			 STORE_E_NOT_FOUND);
	row = seed_row(f, US, LANE_DATA);
	assert_int_equal(row.from_seq, 9);
	assert_int_equal(row.epoch, 4);
	assert_false(row.mark.started);
	assert_int_equal(row.items, 0);
	assert_int_equal(position(f, US, LANE_DATA).epoch, 4);

	/* the content lane */
	uint64_t content_items = seed_count(f, US, LANE_CONTENT).items;
	assert_true(content_items > 0);
	assert_int_equal(seed_begin(f, US, LANE_CONTENT, 3, 4), 0);
	assert_int_equal(seed_count(f, US, LANE_CONTENT).items, 0);
	assert_int_equal(digest(f, US).items, 0);
	assert_int_equal(position(f, US, LANE_CONTENT).lag_records,
			 position(f, US, LANE_CONTENT).head_seq);
	assert_int_equal(seed_states(f).n, 2);
	fx_free(f);
}

/* A store file of schema version 1 (as written before the seeds table)
 * opens, is migrated to the current version and gains the table; its data
 * stays. */
static void test_old_store(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	put(f, US, KIND(PROFILE), "sip:a@x", "old");
	fx_close_store(f);

	/* make it a version-1 file: the first migration's schema */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TABLE seeds;"
				      " ALTER TABLE epochs DROP COLUMN floor;"
				      " PRAGMA user_version = 1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	fx_open(f);
	assert_string_equal(get(f, US, KIND(PROFILE), "sip:a@x").value, "old");
	assert_int_equal(seed_states(f).n, 0);
	assert_int_equal(seed_begin(f, US, LANE_DATA, 1, 1), 0);
	assert_int_equal(seed_states(f).n, 1);
	fx_close_store(f);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), STORE_SCHEMA_VERSION);
	assert_int_equal(STORE_SCHEMA_VERSION, 3);
	sqlite3_finalize(q);
	sqlite3_close(db);

	/* and a store written by this code opens again */
	fx_open(f);
	assert_int_equal(seed_row(f, US, LANE_DATA).from_seq, 1);
	fx_free(f);
}

/* Reads: limits, the mark of a content item, an empty store. */
static void test_read_limits(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct sbatch b = seed_read(f, US, LANE_DATA, NULL, 0, 0);
	assert_int_equal(b.batch.n_records, 0);
	assert_true(b.done);
	assert_false(b.next.started);
	sbatch_free(&b);

	upload(f, "sip:a@x/c1/slides.pdf", 1, BIG, 0, BIG, 600 * 1024);
	/* one record at least, even over max_bytes */
	b = seed_read(f, US, LANE_CONTENT, NULL, 0, 10);
	assert_int_equal(b.batch.n_records, 1);
	assert_false(b.done);
	assert_int_equal(b.batch.records[0]->value.len, STORE_CONTENT_CHUNK);
	assert_int_equal(b.batch.records[0]->offset, 0);
	assert_int_equal(b.batch.records[0]->total, BIG);
	assert_int_equal(b.items, 1);
	assert_int_equal(b.next.kind, KIND(CONTENT));
	assert_int_equal(b.next.offset, STORE_CONTENT_CHUNK);
	struct store_seed_mark m = b.next;
	sbatch_free(&b);
	/* the rest: chunks of at most STORE_CONTENT_CHUNK, split at the
	 * stored chunks' ends (600 KiB), then done */
	b = seed_read(f, US, LANE_CONTENT, &m, 0, 0);
	assert_int_equal(b.batch.n_records, 4);
	assert_int_equal(b.batch.records[0]->offset, STORE_CONTENT_CHUNK);
	assert_int_equal(b.batch.records[1]->offset, 2 * STORE_CONTENT_CHUNK);
	assert_int_equal(b.batch.records[2]->offset, 600 * 1024);
	assert_int_equal(b.batch.records[3]->offset,
			 600 * 1024 + STORE_CONTENT_CHUNK);
	assert_int_equal(b.batch.records[1]->value.len,
			 600 * 1024 - 2 * STORE_CONTENT_CHUNK);
	assert_int_equal(
	    b.batch.records[3]->offset + b.batch.records[3]->value.len, BIG);
	for (size_t i = 0; i < 4; i++) {
		const Poolpair__Repl__ChangeRecord *r = b.batch.records[i];
		for (size_t k = 0; k < r->value.len; k += 997)
			assert_int_equal(r->value.data[k],
					 pattern(1, r->offset + k));
	}
	assert_int_equal(b.items, 0);
	assert_true(b.done);
	assert_int_equal(b.next.offset, BIG);
	m = b.next;
	sbatch_free(&b);
	b = seed_read(f, US, LANE_CONTENT, &m, 0, 0);
	assert_int_equal(b.batch.n_records, 0);
	assert_true(b.done);
	assert_int_equal(b.next.offset, BIG);
	sbatch_free(&b);

	/* max_records, and done exact at the end */
	put(f, US, KIND(PROFILE), "sip:a@x", "1");
	put(f, US, KIND(PROFILE), "sip:b@x", "2");
	b = seed_read(f, US, LANE_DATA, NULL, 1, 0);
	assert_int_equal(b.batch.n_records, 1);
	assert_false(b.done);
	m = b.next;
	sbatch_free(&b);
	b = seed_read(f, US, LANE_DATA, &m, 1, 0);
	assert_int_equal(b.batch.n_records, 1);
	assert_string_equal(b.batch.records[0]->key, "sip:b@x");
	assert_true(b.done);
	sbatch_free(&b);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_fuzzy_reads),
	    cmocka_unit_test(test_mark_item_changes),
	    cmocka_unit_test(test_apply_refusals),
	    cmocka_unit_test(test_begin),
	    cmocka_unit_test(test_old_store),
	    cmocka_unit_test(test_read_limits),
	    cmocka_unit_test(test_big_item),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
