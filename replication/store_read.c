/* store read side (thread pool, read-only connection): items, user
 * location, content pieces, outbox records, stream positions, verify
 * digests and the divergence archive. Results go into the op's arena. */
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"

#define KIND_USER POOLPAIR__REPL__KIND__KIND_USER
#define KIND_CONFERENCE POOLPAIR__REPL__KIND__KIND_CONFERENCE
#define KIND_CONTENT POOLPAIR__REPL__KIND__KIND_CONTENT
#define KIND_CMS POOLPAIR__REPL__KIND__KIND_CMS

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

/* Copy a column (text or blob) into the arena, NUL-terminated. */
static const uint8_t *col_copy(struct store_arena *a, sqlite3_stmt *st, int i,
			       size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	uint8_t *d = store_arena_alloc(a, n + 1);
	if (d != NULL && n > 0)
		memcpy(d, p, n);
	if (len != NULL)
		*len = n;
	return d;
}

/* ---- items ------------------------------------------------------------ */

static const char *const sql_get_user =
    "SELECT home_pool, enabled, epoch, seq, hlc, user_set FROM users"
    " WHERE user_set = ?1 AND sip = ?2";
static const char *const sql_get_data =
    "SELECT value, 1, epoch, seq, hlc, user_set FROM user_data"
    " WHERE user_set = ?1 AND sip = ?2 AND kind = ?3";
static const char *const sql_get_conf =
    "SELECT value, 1, epoch, seq, hlc, user_set FROM conferences"
    " WHERE user_set = ?1 AND sip = ?2 AND conf_id = ?3";
static const char *const sql_get_cms =
    "SELECT value, 1, epoch, seq, hlc, user_set FROM cms"
    " WHERE user_set = ?1 AND key = ?2";
static const char *const sql_location =
    "SELECT home_pool, enabled, epoch, seq, hlc, user_set FROM users"
    " WHERE sip = ?1 ORDER BY hlc DESC, seq DESC, user_set LIMIT 1";

static void read_item(struct store_conn *c, struct store_op *op)
{
	struct store_item *it = &op->res.item;
	const char *const *sql;
	struct store_key_parts kp;
	const char *k = op->ch.key;
	int klen = -1;

	switch (op->type == STORE_OP_LOCATION ? -1 : op->ch.kind) {
	case -1:
		sql = &sql_location;
		break;
	case KIND_USER:
		sql = &sql_get_user;
		break;
	case KIND_CONFERENCE:
		if (store_key_split(op->ch.key, 2, &kp) != 0) {
			store_op_fail(op, STORE_E_INVALID,
				      "bad conference key");
			return;
		}
		k = kp.part[0];
		klen = (int)kp.len[0];
		sql = &sql_get_conf;
		break;
	case KIND_CMS:
		sql = &sql_get_cms;
		break;
	default:
		sql = &sql_get_data;
		break;
	}
	sqlite3_stmt *st = store_stmt(c, sql);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "read");
		return;
	}
	if (sql == &sql_location) {
		sqlite3_bind_text(st, 1, op->ch.key, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, k, klen, SQLITE_STATIC);
		if (sql == &sql_get_data)
			sqlite3_bind_int(st, 3, op->ch.kind);
		else if (sql == &sql_get_conf)
			sqlite3_bind_text(st, 3, kp.part[1], (int)kp.len[1],
					  SQLITE_STATIC);
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_arena *a = &op->arena;
		it->value = col_copy(a, st, 0, &it->value_len);
		it->enabled = sqlite3_column_int(st, 1) != 0;
		it->epoch = col_u64(st, 2);
		it->seq = col_u64(st, 3);
		it->hlc = col_u64(st, 4);
		it->user_set = (const char *)col_copy(a, st, 5, NULL);
		it->key = store_arena_strdup(a, op->ch.key);
		it->kind =
		    op->type == STORE_OP_LOCATION ? KIND_USER : op->ch.kind;
		if (!it->value || !it->user_set || !it->key)
			store_op_fail(op, STORE_E_NOMEM, "read: out of memory");
	} else if (rc == SQLITE_DONE) {
		store_op_fail(op, STORE_E_NOT_FOUND, "%s not found",
			      op->ch.key);
	} else {
		store_op_dberr(op, c, rc, "read");
	}
	sqlite3_reset(st);
}

/* ---- content ---------------------------------------------------------- */

static const char *const sql_content_item =
    "SELECT id, total, stored FROM content WHERE user_set = ?1 AND sip = ?2"
    " AND conf_id = ?3 AND name = ?4";
static const char *const sql_content_chunks =
    "SELECT offset, data FROM content_chunks WHERE content_id = ?1"
    " AND offset >= coalesce((SELECT max(offset) FROM content_chunks"
    "   WHERE content_id = ?1 AND offset <= ?2), 0)"
    " ORDER BY offset";

static void read_content(struct store_conn *c, struct store_op *op)
{
	struct store_content_piece *p = &op->res.piece;
	struct store_key_parts kp;
	sqlite3_stmt *st;
	int64_t id;
	int rc;

	if (store_key_split(op->ch.key, 3, &kp) != 0) {
		store_op_fail(op, STORE_E_INVALID, "bad content key");
		return;
	}
	rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "begin");
		return;
	}
	st = store_stmt(c, &sql_content_item);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
		goto out;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(st, 2 + i, kp.part[i], (int)kp.len[i],
				  SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			store_op_fail(op, STORE_E_NOT_FOUND, "%s not found",
				      op->ch.key);
		else
			store_op_dberr(op, c, rc, "content");
		sqlite3_reset(st);
		goto out;
	}
	id = sqlite3_column_int64(st, 0);
	p->total = col_u64(st, 1);
	p->stored = col_u64(st, 2);
	p->complete = p->stored == p->total;
	p->offset = op->offset;
	sqlite3_reset(st);
	if (op->offset >= p->stored)
		goto out;

	size_t want = op->max_bytes;
	if (want > p->stored - op->offset)
		want = (size_t)(p->stored - op->offset);
	uint8_t *buf = store_arena_alloc(&op->arena, want);
	if (buf == NULL) {
		store_op_fail(op, STORE_E_NOMEM, "content: out of memory");
		goto out;
	}
	st = store_stmt(c, &sql_content_chunks);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, store_i64(op->offset));
	size_t got = 0;
	while (got < want && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t off = col_u64(st, 0);
		const uint8_t *d = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		uint64_t pos = op->offset + got;
		if (off > pos || off + n <= pos)
			break; /* chunks are contiguous; never here */
		size_t from = (size_t)(pos - off);
		size_t take = n - from;
		if (take > want - got)
			take = want - got;
		memcpy(buf + got, d + from, take);
		got += take;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "content chunks");
	sqlite3_reset(st);
	p->data = buf;
	p->len = got;
out:
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

/* ---- outbox and positions --------------------------------------------- */

static const char *const sql_outbox_read =
    "SELECT seq, epoch, hlc, op, kind, key, value, offset, total"
    " FROM outbox WHERE user_set = ?1 AND lane = ?2 AND seq > ?3"
    " ORDER BY seq LIMIT ?4";

static void read_outbox(struct store_conn *c, struct store_op *op)
{
	struct store_records *r = &op->res.records;
	struct store_arena *a = &op->arena;
	sqlite3_stmt *st = store_stmt(c, &sql_outbox_read);
	int rc;

	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "outbox");
		return;
	}
	r->records = store_arena_alloc(a, op->max_records * sizeof(void *));
	if (r->records == NULL) {
		store_op_fail(op, STORE_E_NOMEM, "outbox: out of memory");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	sqlite3_bind_int64(st, 3, store_i64(op->ch.seq));
	sqlite3_bind_int64(st, 4, (int64_t)op->max_records);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t klen = (size_t)sqlite3_column_bytes(st, 5);
		size_t vlen = (size_t)sqlite3_column_bytes(st, 6);
		if (r->n > 0 && r->bytes + klen + vlen > op->max_bytes)
			break;
		Poolpair__Repl__ChangeRecord *rec =
		    store_arena_alloc(a, sizeof(*rec));
		if (rec == NULL) {
			store_op_fail(op, STORE_E_NOMEM,
				      "outbox: out of memory");
			break;
		}
		poolpair__repl__change_record__init(rec);
		rec->user_set = store_arena_strdup(a, op->ch.user_set);
		rec->seq = col_u64(st, 0);
		rec->epoch = col_u64(st, 1);
		rec->hlc = col_u64(st, 2);
		rec->op = (Poolpair__Repl__Op)sqlite3_column_int(st, 3);
		rec->kind = (Poolpair__Repl__Kind)sqlite3_column_int(st, 4);
		rec->key = (char *)col_copy(a, st, 5, NULL);
		rec->value.data =
		    (uint8_t *)col_copy(a, st, 6, &rec->value.len);
		rec->offset = col_u64(st, 7);
		rec->total = col_u64(st, 8);
		rec->lane = (Poolpair__Repl__Lane)op->ch.lane;
		if (!rec->user_set || !rec->key || !rec->value.data) {
			store_op_fail(op, STORE_E_NOMEM,
				      "outbox: out of memory");
			break;
		}
		r->records[r->n++] = rec;
		r->bytes += klen + vlen;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "outbox");
	sqlite3_reset(st);
	if (op->status != 0)
		r->n = 0;
}

static const char *const sql_position =
    "SELECT coalesce((SELECT epoch FROM epochs WHERE user_set = ?1), 0),"
    " coalesce((SELECT floor FROM epochs WHERE user_set = ?1), 0),"
    " coalesce(s.head_seq, 0), coalesce(s.acked_seq, 0),"
    " coalesce(s.applied_seq, 0),"
    " (SELECT count(*) FROM outbox WHERE user_set = ?1 AND lane = ?2),"
    " (SELECT coalesce(sum(length(key) + length(value)), 0) FROM outbox"
    "   WHERE user_set = ?1 AND lane = ?2),"
    " (SELECT coalesce(min(hlc), 0) FROM outbox"
    "   WHERE user_set = ?1 AND lane = ?2)"
    " FROM (SELECT 1) LEFT JOIN streams s"
    "   ON s.user_set = ?1 AND s.lane = ?2";
static const char *const sql_streams =
    "SELECT user_set, lane FROM streams ORDER BY user_set, lane";

int store_position_load(struct store_conn *c, const char *user_set, int lane,
			struct store_position *p)
{
	sqlite3_stmt *st = store_stmt(c, &sql_position);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	memset(p, 0, sizeof(*p));
	snprintf(p->user_set, sizeof(p->user_set), "%s", user_set);
	p->lane = lane;
	sqlite3_bind_text(st, 1, user_set, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, lane);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		p->epoch = col_u64(st, 0);
		p->floor = col_u64(st, 1);
		p->head_seq = col_u64(st, 2);
		p->acked_seq = col_u64(st, 3);
		p->applied_seq = col_u64(st, 4);
		p->lag_records = col_u64(st, 5);
		p->lag_bytes = col_u64(st, 6);
		p->oldest_unacked_hlc = col_u64(st, 7);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_reset(st);
	return rc;
}

static void read_positions(struct store_conn *c, struct store_op *op)
{
	struct store_positions *r = &op->res.positions;
	struct store_position *v = NULL;
	size_t cap = 0;
	int rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "begin");
		return;
	}
	sqlite3_stmt *st = store_stmt(c, &sql_streams);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "positions");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct store_position *nv =
			    store_arena_alloc(&op->arena, ncap * sizeof(*nv));
			if (nv == NULL) {
				store_op_fail(op, STORE_E_NOMEM,
					      "positions: out of memory");
				break;
			}
			if (r->n > 0)
				memcpy(nv, v, r->n * sizeof(*nv));
			v = nv;
			cap = ncap;
		}
		const char *us = (const char *)sqlite3_column_text(st, 0);
		int lane = sqlite3_column_int(st, 1);
		int rc2 = store_position_load(c, us ? us : "", lane, &v[r->n]);
		if (rc2 != SQLITE_OK) {
			store_op_dberr(op, c, rc2, "positions");
			break;
		}
		r->n++;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "positions");
	sqlite3_reset(st);
	r->v = v;
	if (op->status != 0)
		r->n = 0;
out:
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

/* ---- verify ----------------------------------------------------------- */

static const char *const sql_items =
    "SELECT kind, key, value, enabled FROM items WHERE user_set = ?1"
    " ORDER BY kind, key";
static const char *const sql_content_list =
    "SELECT id, sip || '/' || conf_id || '/' || name AS k, total, stored"
    " FROM content WHERE user_set = ?1 ORDER BY k";
static const char *const sql_chunks_all =
    "SELECT data FROM content_chunks WHERE content_id = ?1 ORDER BY offset";

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return store_hash(h, b, sizeof(b));
}

static uint64_t hash_key(int kind, const char *key, size_t klen)
{
	uint64_t h = hash_u64(STORE_HASH_INIT, (uint64_t)kind);
	h = hash_u64(h, klen);
	return store_hash(h, key, klen);
}

static unsigned bucket_of(int kind, const char *key, size_t klen)
{
	return (unsigned)(store_hash_mix(hash_key(kind, key, klen)) %
			  STORE_DIGEST_BUCKETS);
}

/* Called per item with its bucket and hash; returns 0 to go on. */
typedef int (*item_visit)(struct store_op *op, void *ctx, int kind,
			  const char *key, unsigned bucket, uint64_t hash);

static int visit_digest(struct store_op *op, void *ctx, int kind,
			const char *key, unsigned bucket, uint64_t hash)
{
	struct store_digest_bucket *b = &op->res.digest.buckets[bucket];
	(void)ctx;
	(void)kind;
	(void)key;
	b->count++;
	b->hash = store_hash_mix(b->hash ^ hash);
	op->res.digest.items++;
	return 0;
}

struct key_acc {
	struct store_key_hash *v;
	size_t n, cap;
};

static int visit_keys(struct store_op *op, void *ctx, int kind, const char *key,
		      unsigned bucket, uint64_t hash)
{
	struct key_acc *acc = ctx;
	if (bucket != op->bucket)
		return 0;
	if (acc->n == acc->cap) {
		size_t ncap = acc->cap ? acc->cap * 2 : 16;
		struct store_key_hash *nv =
		    store_arena_alloc(&op->arena, ncap * sizeof(*nv));
		if (nv == NULL)
			return store_op_fail(op, STORE_E_NOMEM,
					     "keys: out of memory");
		if (acc->n > 0)
			memcpy(nv, acc->v, acc->n * sizeof(*nv));
		acc->v = nv;
		acc->cap = ncap;
	}
	struct store_key_hash *e = &acc->v[acc->n];
	e->kind = kind;
	e->key = store_arena_strdup(&op->arena, key);
	e->hash = hash;
	if (e->key == NULL)
		return store_op_fail(op, STORE_E_NOMEM, "keys: out of memory");
	acc->n++;
	return 0;
}

static int hash_content(struct store_conn *c, struct store_op *op, int64_t id,
			uint64_t *h)
{
	sqlite3_stmt *st = store_stmt(c, &sql_chunks_all);
	int rc;
	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "chunks");
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *d = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		*h = store_hash(*h, d, n);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_op_dberr(op, c, rc, "chunks");
	return 0;
}

static void walk_items(struct store_conn *c, struct store_op *op,
		       item_visit visit, void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "begin");
		return;
	}
	st = store_stmt(c, &sql_items);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "items");
		goto out;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 0);
		const char *key = (const char *)sqlite3_column_text(st, 1);
		size_t klen = (size_t)sqlite3_column_bytes(st, 1);
		const void *v = sqlite3_column_blob(st, 2);
		size_t vlen = (size_t)sqlite3_column_bytes(st, 2);
		if (key == NULL)
			key = "";
		uint64_t h = hash_key(kind, key, klen);
		h = hash_u64(h, vlen);
		h = store_hash(h, v, vlen);
		h = store_hash_mix(
		    hash_u64(h, (uint64_t)sqlite3_column_int(st, 3)));
		if (key == NULL)
			key = "";
		if (visit(op, ctx, kind, key, bucket_of(kind, key, klen), h) !=
		    0)
			break;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "items");
	sqlite3_reset(st);
	if (op->status != 0)
		goto out;

	st = store_stmt(c, &sql_content_list);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
		goto out;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *key = (const char *)sqlite3_column_text(st, 1);
		size_t klen = (size_t)sqlite3_column_bytes(st, 1);
		if (key == NULL)
			key = "";
		uint64_t h = hash_key(KIND_CONTENT, key, klen);
		h = hash_u64(h, col_u64(st, 2));
		h = hash_u64(h, col_u64(st, 3));
		if (hash_content(c, op, id, &h) != 0)
			break;
		if (visit(op, ctx, KIND_CONTENT, key,
			  bucket_of(KIND_CONTENT, key, klen),
			  store_hash_mix(h)) != 0)
			break;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "content");
	sqlite3_reset(st);
out:
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

static void read_digest(struct store_conn *c, struct store_op *op)
{
	memset(&op->res.digest, 0, sizeof(op->res.digest));
	op->res.digest.user_set = op->ch.user_set;
	walk_items(c, op, visit_digest, NULL);
}

static void read_keys(struct store_conn *c, struct store_op *op)
{
	struct key_acc acc = {0};
	walk_items(c, op, visit_keys, &acc);
	op->res.keys.v = acc.v;
	op->res.keys.n = op->status == 0 ? acc.n : 0;
}

/* ---- divergence ------------------------------------------------------- */

static const char *const sql_divergence =
    "SELECT id, user_set, lane, epoch, seq, hlc, op, kind, key, value,"
    " offset, total, archived_at, reason FROM divergence WHERE id > ?1"
    " ORDER BY id LIMIT ?2";

static void read_divergence(struct store_conn *c, struct store_op *op)
{
	struct store_divergence_list *l = &op->res.divergence;
	struct store_arena *a = &op->arena;
	struct store_divergence *v =
	    store_arena_alloc(a, op->limit * sizeof(*v));
	sqlite3_stmt *st = store_stmt(c, &sql_divergence);
	int rc;

	if (v == NULL) {
		store_op_fail(op, STORE_E_NOMEM, "divergence: out of memory");
		return;
	}
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "divergence");
		return;
	}
	sqlite3_bind_int64(st, 1, op->after_id);
	sqlite3_bind_int64(st, 2, (int64_t)op->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_divergence *d = &v[l->n];
		d->id = sqlite3_column_int64(st, 0);
		d->user_set = (const char *)col_copy(a, st, 1, NULL);
		d->lane = sqlite3_column_int(st, 2);
		d->epoch = col_u64(st, 3);
		d->seq = col_u64(st, 4);
		d->hlc = col_u64(st, 5);
		d->op = sqlite3_column_int(st, 6);
		d->kind = sqlite3_column_int(st, 7);
		d->key = (const char *)col_copy(a, st, 8, NULL);
		d->value = col_copy(a, st, 9, &d->value_len);
		d->offset = col_u64(st, 10);
		d->total = col_u64(st, 11);
		d->archived_at_ms = sqlite3_column_int64(st, 12);
		d->reason = (const char *)col_copy(a, st, 13, NULL);
		if (!d->user_set || !d->key || !d->value || !d->reason) {
			store_op_fail(op, STORE_E_NOMEM,
				      "divergence: out of memory");
			break;
		}
		l->n++;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "divergence");
	sqlite3_reset(st);
	l->v = v;
	if (op->status != 0)
		l->n = 0;
}

/* ---- incomplete content items ----------------------------------------- */

static const char *const sql_content_incomplete =
    "SELECT sip, conf_id, name, total, stored, epoch, seq, hlc FROM content"
    " WHERE user_set = ?1 AND complete = 0 AND hlc < ?2 ORDER BY hlc"
    " LIMIT ?3";

static void read_content_incomplete(struct store_conn *c, struct store_op *op)
{
	struct store_content_list *l = &op->res.content_list;
	struct store_arena *a = &op->arena;
	struct store_content_entry *v =
	    store_arena_alloc(a, op->limit * sizeof(*v));
	sqlite3_stmt *st = store_stmt(c, &sql_content_incomplete);
	int rc;

	if (v == NULL) {
		store_op_fail(op, STORE_E_NOMEM, "content list: out of memory");
		return;
	}
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "content list");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2,
			   op->ch.hlc > INT64_MAX ? INT64_MAX
						  : (int64_t)op->ch.hlc);
	sqlite3_bind_int64(st, 3, (int64_t)op->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_content_entry *e = &v[l->n];
		e->sip = (const char *)col_copy(a, st, 0, NULL);
		e->conf_id = (const char *)col_copy(a, st, 1, NULL);
		e->name = (const char *)col_copy(a, st, 2, NULL);
		e->total = col_u64(st, 3);
		e->stored = col_u64(st, 4);
		e->epoch = col_u64(st, 5);
		e->seq = col_u64(st, 6);
		e->hlc = col_u64(st, 7);
		if (!e->sip || !e->conf_id || !e->name) {
			store_op_fail(op, STORE_E_NOMEM,
				      "content list: out of memory");
			break;
		}
		l->n++;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "content list");
	sqlite3_reset(st);
	l->v = v;
	if (op->status != 0)
		l->n = 0;
}

void store_exec_read(struct store_conn *c, struct store_op *op)
{
	switch (op->type) {
	case STORE_OP_SPACE:
		store_space_measure(c);
		op->res.space = c->space;
		break;
	case STORE_OP_CONTENT_LIST:
		read_content_incomplete(c, op);
		break;
	case STORE_OP_GET:
	case STORE_OP_LOCATION:
		read_item(c, op);
		break;
	case STORE_OP_CONTENT_READ:
		read_content(c, op);
		break;
	case STORE_OP_OUTBOX_READ:
		read_outbox(c, op);
		break;
	case STORE_OP_POSITIONS:
		read_positions(c, op);
		break;
	case STORE_OP_DIGEST:
		read_digest(c, op);
		break;
	case STORE_OP_DIFF_KEYS:
		read_keys(c, op);
		break;
	case STORE_OP_DIVERGENCE:
		read_divergence(c, op);
		break;
	case STORE_OP_SEED_COUNT:
	case STORE_OP_SEED_READ:
	case STORE_OP_SEED_STATES:
		store_seed_exec_read(c, op);
		break;
	default:
		store_op_fail(op, STORE_E_INVALID, "not a read operation");
		break;
	}
}
