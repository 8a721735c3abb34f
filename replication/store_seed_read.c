/* store_seed_read: the owner side of a seed (thread pool, read
 * connection): the totals of a lane (store_seed_count) and the item states
 * after a mark in seed order, as far as a batch has room (store_seed_read),
 * each batch in its own read transaction. Results go into the op's arena.
 * The seed order is store_seed.c's. */
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"
#include "replication/store_seed.h"
#include "replication/store_seed_internal.h"

/* ---- owner side: count ------------------------------------------------ */

static const char *const sql_count_data =
    "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) +"
    " length(value)), 0) FROM items WHERE user_set = ?1";
static const char *const sql_count_content =
    "SELECT count(*), coalesce(sum(length(CAST(sip AS BLOB)) +"
    " length(CAST(conf_id AS BLOB)) + length(CAST(name AS BLOB)) + 2 +"
    " stored), 0) FROM content WHERE user_set = ?1"
    " AND (stored > 0 OR total = 0)";

void seed_read_count(struct store_conn *c, struct store_op *op)
{
	struct store_seed_totals *t = &op->res.seed_totals;
	sqlite3_stmt *st = store_stmt(
	    c, op->ch.lane == LANE_DATA ? &sql_count_data : &sql_count_content);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "seed count");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t->items = (uint64_t)sqlite3_column_int64(st, 0);
		t->bytes = (uint64_t)sqlite3_column_int64(st, 1);
	} else {
		store_op_dberr(op, c, rc, "seed count");
	}
	sqlite3_reset(st);
}

/* ---- owner side: read ------------------------------------------------- */

struct reader {
	struct store_conn *c;
	struct store_op *op;
	struct store_seed_batch *b;
	const char *user_set; /* in the arena, shared by the records */
	size_t cap;	      /* op->max_records */
	size_t mem;	      /* key + value bytes held, for max_bytes */
	bool full;	      /* stopped before a record that is there */
};

/* Whether a record of klen + vlen bytes still fits the batch; sets full
 * when it does not. */
static bool reader_room(struct reader *r, size_t klen, size_t vlen)
{
	if (r->b->n == r->cap ||
	    (r->b->n > 0 && r->mem + klen + vlen > r->op->max_bytes)) {
		r->full = true;
		return false;
	}
	return true;
}

/* A new record in the batch with key and value copied; NULL (op failed)
 * when out of memory. */
static Poolpair__Repl__ChangeRecord *
reader_add(struct reader *r, int op, int kind, const char *key, size_t klen,
	   const void *value, size_t vlen, sqlite3_stmt *st, int col_epoch)
{
	struct store_arena *a = &r->op->arena;
	Poolpair__Repl__ChangeRecord *rec = store_arena_alloc(a, sizeof(*rec));
	char *k = rec ? store_arena_alloc(a, klen + 1) : NULL;
	void *v = k ? store_arena_memdup(a, value, vlen) : NULL;

	if (v == NULL) {
		store_op_fail(r->op, STORE_E_NOMEM, "seed read: out of memory");
		return NULL;
	}
	memcpy(k, key, klen);
	poolpair__repl__change_record__init(rec);
	rec->user_set = (char *)r->user_set;
	rec->lane = (Poolpair__Repl__Lane)r->op->ch.lane;
	rec->op = (Poolpair__Repl__Op)op;
	rec->kind = (Poolpair__Repl__Kind)kind;
	rec->key = k;
	rec->value.data = v;
	rec->value.len = vlen;
	rec->epoch = (uint64_t)sqlite3_column_int64(st, col_epoch);
	rec->seq = (uint64_t)sqlite3_column_int64(st, col_epoch + 1);
	rec->hlc = (uint64_t)sqlite3_column_int64(st, col_epoch + 2);
	r->b->records[r->b->n++] = rec;
	r->b->bytes += klen + vlen;
	r->mem += klen + vlen;
	return rec;
}

/* Columns: key, value, epoch, seq, hlc, enabled. ?1 user set, ?2 kind,
 * ?3 the key (sip) after which to read, ?4 its conf_id. */
static const char *const sql_rd_data =
    "SELECT sip, value, epoch, seq, hlc, 1 FROM user_data"
    " WHERE user_set = ?1 AND kind = ?2 AND sip > ?3 ORDER BY sip";
static const char *const sql_rd_conf =
    "SELECT sip || '/' || conf_id, value, epoch, seq, hlc, 1"
    " FROM conferences WHERE user_set = ?1 AND (sip, conf_id) > (?3, ?4)"
    " ORDER BY sip, conf_id";
static const char *const sql_rd_cms =
    "SELECT key, value, epoch, seq, hlc, 1 FROM cms"
    " WHERE user_set = ?1 AND key > ?3 ORDER BY key";
static const char *const sql_rd_users =
    "SELECT sip, CAST(home_pool AS BLOB), epoch, seq, hlc, enabled"
    " FROM users WHERE user_set = ?1 AND sip > ?3 ORDER BY sip";

/* The items of one data kind after key (NULL: from the first). */
static void read_data_kind(struct reader *r, int kind, const char *after)
{
	struct store_conn *c = r->c;
	struct store_op *op = r->op;
	const char *const *sql = kind == KIND_USER	   ? &sql_rd_users
				 : kind == KIND_CONFERENCE ? &sql_rd_conf
				 : kind == POOLPAIR__REPL__KIND__KIND_CMS
				     ? &sql_rd_cms
				     : &sql_rd_data;
	struct store_key_parts kp;
	sqlite3_stmt *st = store_stmt(c, sql);
	int rc;

	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "seed read");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	if (sql == &sql_rd_conf) {
		if (after != NULL && store_key_split(after, 2, &kp) == 0) {
			sqlite3_bind_text(st, 3, kp.part[0], (int)kp.len[0],
					  SQLITE_STATIC);
			sqlite3_bind_text(st, 4, kp.part[1], (int)kp.len[1],
					  SQLITE_STATIC);
		} else {
			sqlite3_bind_text(st, 3, "", 0, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, "", 0, SQLITE_STATIC);
		}
	} else {
		sqlite3_bind_text(st, 3, after ? after : "", -1, SQLITE_STATIC);
		if (sql == &sql_rd_data)
			sqlite3_bind_int(st, 2, kind);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		size_t klen = (size_t)sqlite3_column_bytes(st, 0);
		const void *v = sqlite3_column_blob(st, 1);
		size_t vlen = (size_t)sqlite3_column_bytes(st, 1);
		int opc = sqlite3_column_int(st, 5) ? OP_PUT : OP_DELETE;
		if (key == NULL)
			key = "";
		if (!reader_room(r, klen, vlen))
			break;
		if (reader_add(r, opc, kind, key, klen, v, vlen, st, 2) == NULL)
			break;
		r->b->items++;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "seed read");
	sqlite3_reset(st);
}

static void read_data(struct reader *r, const struct store_seed_mark *after)
{
	int from = after->started ? seed_kind_rank(after->kind) : 0;
	for (size_t i = (size_t)from; i < SEED_N_DATA_KINDS; i++) {
		bool same = after->started && (int)i == from;
		read_data_kind(r, seed_data_kinds[i], same ? after->key : NULL);
		if (r->op->status != 0 || r->full)
			return;
	}
}

/* Columns: id, sip, conf_id, name, total, stored, epoch, seq, hlc. */
static const char *const sql_rd_items =
    "SELECT id, sip, conf_id, name, total, stored, epoch, seq, hlc"
    " FROM content WHERE user_set = ?1 AND (sip, conf_id, name) >"
    " (?2, ?3, ?4) ORDER BY sip, conf_id, name";
static const char *const sql_rd_item =
    "SELECT id, sip, conf_id, name, total, stored, epoch, seq, hlc"
    " FROM content WHERE user_set = ?1 AND sip = ?2 AND conf_id = ?3"
    " AND name = ?4";
static const char *const sql_rd_chunks =
    "SELECT offset, data FROM content_chunks WHERE content_id = ?1"
    " AND offset >= coalesce((SELECT max(offset) FROM content_chunks"
    "   WHERE content_id = ?1 AND offset <= ?2), 0)"
    " ORDER BY offset";

/* The chunks of the content item on st's row (sql_rd_item[s] columns)
 * from byte from on, as records of at most STORE_CONTENT_CHUNK bytes, as
 * far as the batch has room. */
static void read_item_chunks(struct reader *r, sqlite3_stmt *item,
			     uint64_t from)
{
	struct store_conn *c = r->c;
	struct store_op *op = r->op;
	char key[STORE_KEY_MAX + 1];
	int64_t id = sqlite3_column_int64(item, 0);
	uint64_t total = (uint64_t)sqlite3_column_int64(item, 4);
	uint64_t stored = (uint64_t)sqlite3_column_int64(item, 5);
	uint64_t pos = from;
	int rc = SQLITE_DONE;

	if (store_key_content(
		key, sizeof(key), (const char *)sqlite3_column_text(item, 1),
		(const char *)sqlite3_column_text(item, 2),
		(const char *)sqlite3_column_text(item, 3)) != 0) {
		store_op_fail(op, STORE_E_CORRUPT,
			      "seed read: content item %lld has a bad key",
			      (long long)id);
		return;
	}
	size_t klen = strlen(key);
	if (stored == 0) {
		/* an empty item (total 0) is one empty chunk; one started
		 * with nothing stored (not written by this store) is
		 * skipped */
		if (total == 0 && reader_room(r, klen, 0)) {
			Poolpair__Repl__ChangeRecord *rec =
			    reader_add(r, OP_CHUNK, KIND_CONTENT, key, klen, "",
				       0, item, 6);
			if (rec != NULL)
				r->b->items++;
		}
		return;
	}
	sqlite3_stmt *st = store_stmt(c, &sql_rd_chunks);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "seed chunks");
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, store_i64(from));
	while (pos < stored && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t off = (uint64_t)sqlite3_column_int64(st, 0);
		const uint8_t *d = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		if (off > pos || off + n <= pos)
			break; /* chunks are contiguous: never here */
		while (pos < off + n && pos < stored) {
			uint64_t end = off + n < stored ? off + n : stored;
			size_t len = (size_t)(end - pos);
			if (len > STORE_CONTENT_CHUNK)
				len = STORE_CONTENT_CHUNK;
			if (!reader_room(r, klen, len))
				goto out;
			Poolpair__Repl__ChangeRecord *rec =
			    reader_add(r, OP_CHUNK, KIND_CONTENT, key, klen,
				       d + (pos - off), len, item, 6);
			if (rec == NULL)
				goto out;
			rec->offset = pos;
			rec->total = total;
			if (pos == 0)
				r->b->items++;
			pos += len;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && pos < stored)
		store_op_dberr(op, c, rc, "seed chunks");
	else if (pos < stored)
		store_op_fail(op, STORE_E_CORRUPT,
			      "seed read: content %s: chunks end at %llu of "
			      "%llu stored bytes",
			      key, (unsigned long long)pos,
			      (unsigned long long)stored);
out:
	sqlite3_reset(st);
}

static void bind_content_key(sqlite3_stmt *st, const char *key)
{
	struct store_key_parts kp;
	if (key != NULL && store_key_split(key, 3, &kp) == 0) {
		for (int i = 0; i < 3; i++)
			sqlite3_bind_text(st, 2 + i, kp.part[i], (int)kp.len[i],
					  SQLITE_STATIC);
	} else {
		for (int i = 0; i < 3; i++)
			sqlite3_bind_text(st, 2 + i, "", 0, SQLITE_STATIC);
	}
}

static void read_content(struct reader *r, const struct store_seed_mark *after)
{
	struct store_conn *c = r->c;
	struct store_op *op = r->op;
	sqlite3_stmt *st;
	int rc;

	if (after->started) {
		/* the rest of the item of the mark, if it still has more
		 * bytes than the mark names: the owner may have restarted,
		 * grown or deleted it since (the live stream after F brings
		 * the copy to its latest state) */
		st = store_stmt(c, &sql_rd_item);
		if (st == NULL) {
			store_op_dberr(op, c, sqlite3_errcode(c->db),
				       "seed read");
			return;
		}
		sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
		bind_content_key(st, after->key);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW &&
		    (uint64_t)sqlite3_column_int64(st, 5) > after->offset &&
		    after->offset > 0)
			read_item_chunks(r, st, after->offset);
		else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			store_op_dberr(op, c, rc, "seed read");
		sqlite3_reset(st);
		if (op->status != 0 || r->full)
			return;
	}
	st = store_stmt(c, &sql_rd_items);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "seed read");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	bind_content_key(st, after->started ? after->key : NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_item_chunks(r, st, 0);
		if (op->status != 0 || r->full)
			break;
	}
	if (op->status == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "seed read");
	sqlite3_reset(st);
}

void seed_read_batch(struct store_conn *c, struct store_op *op)
{
	struct store_seed_batch *b = &op->res.seed_batch;
	struct reader r = {.c = c, .op = op, .b = b, .cap = op->max_records};

	memset(b, 0, sizeof(*b));
	b->next = *op->mark;
	r.user_set = op->ch.user_set;
	b->records = store_arena_alloc(&op->arena,
				       op->max_records * sizeof(*b->records));
	if (b->records == NULL) {
		store_op_fail(op, STORE_E_NOMEM, "seed read: out of memory");
		return;
	}
	int rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "begin");
		return;
	}
	if (op->ch.lane == LANE_DATA)
		read_data(&r, op->mark);
	else
		read_content(&r, op->mark);
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	if (op->status != 0) {
		b->n = 0;
		return;
	}
	b->done = !r.full;
	if (b->n > 0) {
		const Poolpair__Repl__ChangeRecord *last = b->records[b->n - 1];
		b->next.started = true;
		b->next.kind = (int)last->kind;
		snprintf(b->next.key, sizeof(b->next.key), "%s", last->key);
		b->next.offset =
		    last->op == OP_CHUNK ? last->offset + last->value.len : 0;
	}
}
