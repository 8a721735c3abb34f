/* store_seed: a copy rebuilt from its owner's store (store_seed.h). The
 * owner side reads item states in seed order on the read connection; the
 * copy side stores them on the writer queue (group commit, a savepoint per
 * op when its group runs again) and keeps the seed row (`seeds`) with the
 * mark, so a cut seed resumes after it. */
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"
#include "replication/store_seed.h"

#define KIND_CONFERENCE POOLPAIR__REPL__KIND__KIND_CONFERENCE
#define KIND_CONTENT POOLPAIR__REPL__KIND__KIND_CONTENT
#define KIND_USER POOLPAIR__REPL__KIND__KIND_USER
#define OP_PUT POOLPAIR__REPL__OP__OP_PUT
#define OP_DELETE POOLPAIR__REPL__OP__OP_DELETE
#define OP_CHUNK POOLPAIR__REPL__OP__OP_CONTENT_CHUNK
#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT

/* The kinds of the data lane, in seed order. */
static const int data_kinds[] = {
    POOLPAIR__REPL__KIND__KIND_PROFILE,	 POOLPAIR__REPL__KIND__KIND_CONTACTS,
    POOLPAIR__REPL__KIND__KIND_SETTINGS, POOLPAIR__REPL__KIND__KIND_CONFERENCE,
    POOLPAIR__REPL__KIND__KIND_CMS,	 POOLPAIR__REPL__KIND__KIND_USER,
};
#define N_DATA_KINDS (sizeof(data_kinds) / sizeof(data_kinds[0]))

static bool lane_ok(int lane)
{
	return lane == LANE_DATA || lane == LANE_CONTENT;
}

static bool kind_of_lane(int kind, int lane)
{
	if (kind < POOLPAIR__REPL__KIND__KIND_PROFILE || kind > KIND_USER)
		return false;
	return store_lane_of(kind) == lane;
}

/* ---- seed order ------------------------------------------------------- */

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Keys of one kind in seed order: the order of the store's indexes, part
 * by part (a conference key by (sip, conf_id), a content key by (sip,
 * conf_id, name)), each part as SQLite's BINARY collation compares. */
static int key_cmp(int kind, const char *a, const char *b)
{
	int parts = kind == KIND_CONFERENCE ? 2 : kind == KIND_CONTENT ? 3 : 1;
	struct store_key_parts pa, pb;

	if (parts == 1 || store_key_split(a, parts, &pa) != 0 ||
	    store_key_split(b, parts, &pb) != 0)
		return bytes_cmp(a, strlen(a), b, strlen(b));
	for (int i = 0; i < parts; i++) {
		int c = bytes_cmp(pa.part[i], pa.len[i], pb.part[i], pb.len[i]);
		if (c != 0)
			return c;
	}
	return 0;
}

/* Position of a data kind in seed order. */
static int kind_rank(int kind)
{
	for (size_t i = 0; i < N_DATA_KINDS; i++)
		if (data_kinds[i] == kind)
			return (int)i;
	return -1;
}

static bool mark_ok(const struct store_seed_mark *m, int lane)
{
	if (!m->started)
		return true;
	if (!kind_of_lane(m->kind, lane) ||
	    memchr(m->key, '\0', sizeof(m->key)) == NULL || m->key[0] == '\0' ||
	    m->offset > INT64_MAX)
		return false;
	struct store_key_parts kp;
	if (m->kind == KIND_CONFERENCE)
		return store_key_split(m->key, 2, &kp) == 0;
	if (m->kind == KIND_CONTENT)
		return store_key_split(m->key, 3, &kp) == 0;
	return true;
}

void store_seed_figures(const Poolpair__Repl__RecordBatch *b, uint64_t *items,
			uint64_t *bytes)
{
	uint64_t it = 0, by = 0;
	for (size_t i = 0; b != NULL && i < b->n_records; i++) {
		const Poolpair__Repl__ChangeRecord *r = b->records[i];
		if (r == NULL)
			continue;
		if (r->op != OP_CHUNK || r->offset == 0)
			it++;
		by += (r->key ? strlen(r->key) : 0) + r->value.len;
	}
	if (items != NULL)
		*items = it;
	if (bytes != NULL)
		*bytes = by;
}

/* ---- owner side: count ------------------------------------------------ */

static const char *const sql_count_data =
    "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) +"
    " length(value)), 0) FROM items WHERE user_set = ?1";
static const char *const sql_count_content =
    "SELECT count(*), coalesce(sum(length(CAST(sip AS BLOB)) +"
    " length(CAST(conf_id AS BLOB)) + length(CAST(name AS BLOB)) + 2 +"
    " stored), 0) FROM content WHERE user_set = ?1"
    " AND (stored > 0 OR total = 0)";

static void read_count(struct store_conn *c, struct store_op *op)
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
	int from = after->started ? kind_rank(after->kind) : 0;
	for (size_t i = (size_t)from; i < N_DATA_KINDS; i++) {
		bool same = after->started && (int)i == from;
		read_data_kind(r, data_kinds[i], same ? after->key : NULL);
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

static void read_seed(struct store_conn *c, struct store_op *op)
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

/* ---- where seeds stand ------------------------------------------------ */

static const char *const sql_states =
    "SELECT user_set, lane, from_seq, epoch, started, kind, key, offset,"
    " items, bytes FROM seeds ORDER BY user_set, lane";

/* The seed row's columns from col on (from_seq ... bytes) into s. */
static void row_state(sqlite3_stmt *st, int col, struct store_seed_state *s)
{
	const char *key = (const char *)sqlite3_column_text(st, col + 4);
	s->from_seq = (uint64_t)sqlite3_column_int64(st, col);
	s->epoch = (uint64_t)sqlite3_column_int64(st, col + 1);
	s->mark.started = sqlite3_column_int(st, col + 2) != 0;
	s->mark.kind = sqlite3_column_int(st, col + 3);
	snprintf(s->mark.key, sizeof(s->mark.key), "%s", key ? key : "");
	s->mark.offset = (uint64_t)sqlite3_column_int64(st, col + 5);
	s->items = (uint64_t)sqlite3_column_int64(st, col + 6);
	s->bytes = (uint64_t)sqlite3_column_int64(st, col + 7);
}

static void read_states(struct store_conn *c, struct store_op *op)
{
	struct store_seed_states *r = &op->res.seed_states;
	struct store_seed_state *v = NULL;
	size_t cap = 0;
	sqlite3_stmt *st = store_stmt(c, &sql_states);
	int rc;

	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "seed states");
		return;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct store_seed_state *nv =
			    store_arena_alloc(&op->arena, ncap * sizeof(*nv));
			if (nv == NULL) {
				store_op_fail(op, STORE_E_NOMEM,
					      "seed states: out of memory");
				break;
			}
			if (r->n > 0)
				memcpy(nv, v, r->n * sizeof(*nv));
			v = nv;
			cap = ncap;
		}
		struct store_seed_state *s = &v[r->n++];
		const char *us = (const char *)sqlite3_column_text(st, 0);
		snprintf(s->user_set, sizeof(s->user_set), "%s", us ? us : "");
		s->lane = sqlite3_column_int(st, 1);
		row_state(st, 2, s);
	}
	if (op->status == 0 && rc != SQLITE_DONE)
		store_op_dberr(op, c, rc, "seed states");
	sqlite3_reset(st);
	r->v = v;
	if (op->status != 0)
		r->n = 0;
}

void store_seed_exec_read(struct store_conn *c, struct store_op *op)
{
	switch (op->type) {
	case STORE_OP_SEED_COUNT:
		read_count(c, op);
		break;
	case STORE_OP_SEED_READ:
		read_seed(c, op);
		break;
	case STORE_OP_SEED_STATES:
		read_states(c, op);
		break;
	default:
		store_op_fail(op, STORE_E_INVALID, "not a seed read");
		break;
	}
}

/* ---- copy side (writer, inside the group's transaction) --------------- */

static const char *const sql_seed_get =
    "SELECT from_seq, epoch, started, kind, key, offset, items, bytes"
    " FROM seeds WHERE user_set = ?1 AND lane = ?2";
static const char *const sql_seed_put =
    "INSERT OR REPLACE INTO seeds (user_set, lane, from_seq, epoch, started,"
    " kind, key, offset, items, bytes)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char *const sql_seed_del =
    "DELETE FROM seeds WHERE user_set = ?1 AND lane = ?2";
static const char *const sql_clear_users =
    "DELETE FROM users WHERE user_set = ?1";
static const char *const sql_clear_data =
    "DELETE FROM user_data WHERE user_set = ?1";
static const char *const sql_clear_conf =
    "DELETE FROM conferences WHERE user_set = ?1";
static const char *const sql_clear_cms = "DELETE FROM cms WHERE user_set = ?1";
static const char *const sql_clear_content =
    "DELETE FROM content WHERE user_set = ?1";

/* The seed row of (op's user set, lane) into *s; *found says whether one
 * is there. Returns an SQLite code. */
static int seed_get(struct store_conn *c, const struct store_op *op,
		    struct store_seed_state *s, bool *found)
{
	sqlite3_stmt *st = store_stmt(c, &sql_seed_get);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	memset(s, 0, sizeof(*s));
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		snprintf(s->user_set, sizeof(s->user_set), "%s",
			 op->ch.user_set);
		s->lane = op->ch.lane;
		row_state(st, 0, s);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int seed_put(struct store_conn *c, const struct store_op *op,
		    const struct store_seed_state *s)
{
	sqlite3_stmt *st = store_stmt(c, &sql_seed_put);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	sqlite3_bind_int64(st, 3, store_i64(s->from_seq));
	sqlite3_bind_int64(st, 4, store_i64(s->epoch));
	sqlite3_bind_int(st, 5, s->mark.started ? 1 : 0);
	sqlite3_bind_int(st, 6, s->mark.kind);
	sqlite3_bind_text(st, 7, s->mark.key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, store_i64(s->mark.offset));
	sqlite3_bind_int64(st, 9, store_i64(s->items));
	sqlite3_bind_int64(st, 10, store_i64(s->bytes));
	return store_step_done(st);
}

static int exec_sql_user_set(struct store_conn *c, const char *const *sql,
			     const char *user_set)
{
	sqlite3_stmt *st = store_stmt(c, sql);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, user_set, -1, SQLITE_STATIC);
	return store_step_done(st);
}

static void exec_begin(struct store_conn *c, struct store_op *op)
{
	struct store_seed_state s;
	struct store_stream pos;
	bool found;
	int rc = seed_get(c, op, &s, &found);

	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed row");
		return;
	}
	if (found && s.from_seq == op->ch.seq)
		return; /* a resume: everything stays */

	if (op->ch.lane == LANE_DATA) {
		const char *const *clear[] = {&sql_clear_users, &sql_clear_data,
					      &sql_clear_conf, &sql_clear_cms};
		for (size_t i = 0; i < 4 && rc == SQLITE_OK; i++)
			rc = exec_sql_user_set(c, clear[i], op->ch.user_set);
	} else {
		/* the chunks go with their items (ON DELETE CASCADE) */
		rc = exec_sql_user_set(c, &sql_clear_content, op->ch.user_set);
	}
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed: clear the copy");
		return;
	}
	rc = store_txn_stream_get(c, op->ch.user_set, op->ch.lane, &pos);
	if (rc == SQLITE_OK) {
		pos.applied = 0;
		rc =
		    store_txn_stream_put(c, op->ch.user_set, op->ch.lane, &pos);
	}
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed: stream position");
		return;
	}
	rc = store_txn_epoch_raise(c, op->ch.user_set, op->ch.epoch);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed: raise epoch");
		return;
	}
	memset(&s, 0, sizeof(s));
	s.from_seq = op->ch.seq;
	s.epoch = op->ch.epoch;
	rc = seed_put(c, op, &s);
	if (rc != SQLITE_OK)
		store_op_dberr(op, c, rc, "seed row");
}

/* Check record i of a seed batch against the mark m (advanced past it on
 * success). Returns 0 or STORE_E_INVALID with op's errmsg set. */
static int check_record(struct store_op *op, size_t i,
			struct store_seed_mark *m)
{
	const struct store_change *ch = &op->recs[i];
	struct store_change as_put = *ch;
	char why[STORE_ERRMSG_LEN];
	int lane = op->ch.lane;
	bool user_off = ch->kind == KIND_USER && ch->op == OP_DELETE;

#define REFUSE(...)                                                            \
	do {                                                                   \
		char what_[STORE_ERRMSG_LEN];                                  \
		snprintf(what_, sizeof(what_), __VA_ARGS__);                   \
		return store_op_fail(                                          \
		    op, STORE_E_INVALID, "seed record %zu (%s %s): %s", i,     \
		    store_kind_name(ch->kind), ch->key, what_);                \
	} while (0)

	if (strcmp(ch->user_set, op->ch.user_set) != 0)
		REFUSE("of user set %s, the seed is of %s", ch->user_set,
		       op->ch.user_set);
	if (ch->lane != lane)
		REFUSE("on lane %d, the seed is of lane %d", ch->lane, lane);
	if (!kind_of_lane(ch->kind, lane))
		REFUSE("a kind lane %d does not carry", lane);
	if (lane == LANE_DATA ? ch->op != OP_PUT && !user_off
			      : ch->op != OP_CHUNK)
		REFUSE("op %d is not a seed op of its kind", ch->op);
	/* a disabled user carries its home pool like an enabled one */
	if (user_off)
		as_put.op = OP_PUT;
	if (store_change_check(&as_put, why, sizeof(why)) != 0)
		REFUSE("%s", why);

	int c = 1;
	if (m->started) {
		if (lane == LANE_DATA && ch->kind != m->kind)
			c = kind_rank(ch->kind) < kind_rank(m->kind) ? -1 : 1;
		else
			c = key_cmp(ch->kind, ch->key, m->key);
	}
	if (c < 0 || (c == 0 && lane == LANE_DATA))
		REFUSE("not after the mark (%s %s)", store_kind_name(m->kind),
		       m->key);
	if (lane == LANE_CONTENT) {
		if (c == 0 && (m->offset == 0 || ch->offset != m->offset))
			REFUSE("chunk at offset %llu, the item has %llu bytes",
			       (unsigned long long)ch->offset,
			       (unsigned long long)m->offset);
		if (c > 0 && ch->offset != 0)
			REFUSE("chunk at offset %llu of an item not started",
			       (unsigned long long)ch->offset);
	}
#undef REFUSE
	m->started = true;
	m->kind = ch->kind;
	snprintf(m->key, sizeof(m->key), "%s", ch->key);
	m->offset = lane == LANE_CONTENT ? ch->offset + ch->value_len : 0;
	return 0;
}

static const char *const sql_user_state =
    "INSERT INTO users (user_set, sip, home_pool, enabled, epoch, seq, hlc)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (user_set, sip) DO UPDATE SET"
    " home_pool = excluded.home_pool, enabled = excluded.enabled,"
    " epoch = excluded.epoch, seq = excluded.seq, hlc = excluded.hlc";
static const char *const sql_item_get =
    "SELECT id, stored FROM content WHERE user_set = ?1 AND sip = ?2"
    " AND conf_id = ?3 AND name = ?4";
static const char *const sql_chunk_add =
    "INSERT INTO content_chunks (content_id, offset, data)"
    " VALUES (?1, ?2, ?3)";
/* the total may differ from the item's: the owner restarted the item
 * between two reads of this seed; the live stream after F restarts it
 * here too */
static const char *const sql_item_grow =
    "UPDATE content SET total = ?2, stored = ?3, complete = (?3 = ?2),"
    " epoch = ?4, seq = ?5, hlc = ?6 WHERE id = ?1";

/* The next chunk of the item of the mark. */
static int apply_next_chunk(struct store_conn *c, struct store_op *op,
			    const struct store_change *ch)
{
	struct store_key_parts kp;
	sqlite3_stmt *st = store_stmt(c, &sql_item_get);
	int64_t id;
	uint64_t stored;
	int rc;

	if (st == NULL || store_key_split(ch->key, 3, &kp) != 0)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
	sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(st, 2 + i, kp.part[i], (int)kp.len[i],
				  SQLITE_STATIC);
	rc = sqlite3_step(st);
	id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	stored = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE || (rc == SQLITE_ROW && stored != ch->offset))
		return store_op_fail(
		    op, STORE_E_INVALID,
		    "seed chunk of %s at offset %llu: the copy "
		    "holds %llu bytes of it",
		    ch->key, (unsigned long long)ch->offset,
		    rc == SQLITE_ROW ? (unsigned long long)stored : 0ULL);
	if (rc != SQLITE_ROW)
		return store_op_dberr(op, c, rc, "content lookup");
	st = store_stmt(c, &sql_chunk_add);
	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "chunk");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, store_i64(ch->offset));
	sqlite3_bind_blob64(st, 3, ch->value_len ? (const void *)ch->value : "",
			    ch->value_len, SQLITE_STATIC);
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "content chunk");
	st = store_stmt(c, &sql_item_grow);
	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, store_i64(ch->total));
	sqlite3_bind_int64(st, 3, store_i64(ch->offset + ch->value_len));
	sqlite3_bind_int64(st, 4, store_i64(ch->epoch));
	sqlite3_bind_int64(st, 5, store_i64(ch->seq));
	sqlite3_bind_int64(st, 6, store_i64(ch->hlc));
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "content update");
	return 0;
}

static int apply_record(struct store_conn *c, struct store_op *op,
			const struct store_change *ch)
{
	if (ch->kind == KIND_CONTENT && ch->offset > 0)
		return apply_next_chunk(c, op, ch);
	if (ch->kind != KIND_USER)
		return store_change_apply(c, op, ch);
	sqlite3_stmt *st = store_stmt(c, &sql_user_state);
	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "user");
	sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ch->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, (const char *)ch->value, (int)ch->value_len,
			  SQLITE_STATIC);
	sqlite3_bind_int(st, 4, ch->op == OP_PUT ? 1 : 0);
	sqlite3_bind_int64(st, 5, store_i64(ch->epoch));
	sqlite3_bind_int64(st, 6, store_i64(ch->seq));
	sqlite3_bind_int64(st, 7, store_i64(ch->hlc));
	int rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "user");
	return 0;
}

static void exec_apply(struct store_conn *c, struct store_op *op)
{
	struct store_seed_state s;
	bool found;
	int rc = seed_get(c, op, &s, &found);

	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed row");
		return;
	}
	if (!found) {
		store_op_fail(op, STORE_E_INVALID,
			      "no seed of %s lane %d in progress",
			      op->ch.user_set, op->ch.lane);
		return;
	}
	/* every record checked before anything is written */
	struct store_seed_mark m = s.mark;
	for (size_t i = 0; i < op->n_recs; i++)
		if (check_record(op, i, &m) != 0)
			return;
	for (size_t i = 0; i < op->n_recs; i++) {
		const struct store_change *ch = &op->recs[i];
		if (apply_record(c, op, ch) != 0)
			return;
		if (ch->kind != KIND_CONTENT || ch->offset == 0)
			s.items++;
		s.bytes += strlen(ch->key) + ch->value_len;
	}
	if (op->n_recs == 0)
		return;
	s.mark = m;
	rc = seed_put(c, op, &s);
	if (rc != SQLITE_OK)
		store_op_dberr(op, c, rc, "seed row");
}

static void exec_end(struct store_conn *c, struct store_op *op)
{
	struct store_seed_state s;
	struct store_stream pos;
	bool found;
	int rc = seed_get(c, op, &s, &found);

	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed row");
		return;
	}
	if (!found || s.from_seq != op->ch.seq) {
		if (found)
			store_op_fail(op, STORE_E_INVALID,
				      "seed of %s lane %d is from seq %llu, "
				      "not %llu",
				      op->ch.user_set, op->ch.lane,
				      (unsigned long long)s.from_seq,
				      (unsigned long long)op->ch.seq);
		else
			store_op_fail(op, STORE_E_INVALID,
				      "no seed of %s lane %d in progress",
				      op->ch.user_set, op->ch.lane);
		return;
	}
	rc = store_txn_stream_get(c, op->ch.user_set, op->ch.lane, &pos);
	if (rc == SQLITE_OK) {
		pos.applied = op->ch.seq;
		rc =
		    store_txn_stream_put(c, op->ch.user_set, op->ch.lane, &pos);
	}
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "seed: stream position");
		return;
	}
	sqlite3_stmt *st = store_stmt(c, &sql_seed_del);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "seed row");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		store_op_dberr(op, c, rc, "seed row");
}

void store_seed_exec_write(struct store_conn *c, struct store_op *op)
{
	switch (op->type) {
	case STORE_OP_SEED_BEGIN:
		exec_begin(c, op);
		break;
	case STORE_OP_SEED_APPLY:
		exec_apply(c, op);
		break;
	case STORE_OP_SEED_END:
		exec_end(c, op);
		break;
	default:
		store_op_fail(op, STORE_E_INVALID, "not a seed write");
		break;
	}
}

/* ---- entry points (loop thread) --------------------------------------- */

/* An op on (user_set, lane) of the open store s; NULL in *out and a code
 * when refused. */
static int seed_op(struct store *s, enum store_op_type type,
		   const char *user_set, int lane, void *arg,
		   struct store_op **out)
{
	*out = NULL;
	if (s == NULL)
		return STORE_E_INVALID;
	if (s->state != STORE_STATE_OPEN)
		return STORE_E_CLOSING;
	if (!store_name_ok(user_set) || !lane_ok(lane))
		return STORE_E_INVALID;
	struct store_op *op = store_op_new(type, arg);
	if (op == NULL)
		return STORE_E_NOMEM;
	op->ch.user_set = store_arena_strdup(&op->arena, user_set);
	if (op->ch.user_set == NULL) {
		store_op_free(op);
		return STORE_E_NOMEM;
	}
	op->ch.lane = lane;
	*out = op;
	return 0;
}

int store_seed_count(struct store *s, const char *user_set, int lane,
		     store_seed_totals_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL)
		return STORE_E_INVALID;
	int rv = seed_op(s, STORE_OP_SEED_COUNT, user_set, lane, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.seed_totals = cb;
	return store_queue_submit(s, op);
}

int store_seed_read(struct store *s, const char *user_set, int lane,
		    const struct store_seed_mark *after, size_t max_records,
		    size_t max_bytes, store_seed_batch_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || (after != NULL && !mark_ok(after, lane)))
		return STORE_E_INVALID;
	int rv = seed_op(s, STORE_OP_SEED_READ, user_set, lane, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.seed_batch = cb;
	op->max_records = max_records ? max_records : 1024;
	op->max_bytes = max_bytes ? max_bytes : (size_t)1 << 20;
	op->mark = store_arena_alloc(&op->arena, sizeof(*op->mark));
	if (op->max_records > SIZE_MAX / sizeof(void *) || op->mark == NULL) {
		store_op_free(op);
		return STORE_E_NOMEM;
	}
	if (after != NULL)
		*op->mark = *after;
	if (!op->mark->started)
		memset(op->mark, 0, sizeof(*op->mark));
	return store_queue_submit(s, op);
}

int store_seed_begin(struct store *s, const char *user_set, int lane,
		     uint64_t from_seq, uint64_t epoch, store_done_cb cb,
		     void *arg)
{
	struct store_op *op;
	if (cb == NULL || from_seq == 0 || from_seq > INT64_MAX ||
	    epoch > INT64_MAX)
		return STORE_E_INVALID;
	int rv = seed_op(s, STORE_OP_SEED_BEGIN, user_set, lane, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->ch.seq = from_seq;
	op->ch.epoch = epoch;
	return store_queue_submit(s, op);
}

int store_seed_apply(struct store *s, const char *user_set, int lane,
		     const Poolpair__Repl__RecordBatch *b, store_done_cb cb,
		     void *arg)
{
	struct store_op *op;
	if (cb == NULL || b == NULL || (b->n_records > 0 && !b->records))
		return STORE_E_INVALID;
	int rv = seed_op(s, STORE_OP_SEED_APPLY, user_set, lane, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->n_recs = b->n_records;
	if (b->n_records > 0) {
		if (b->n_records > SIZE_MAX / sizeof(*op->recs) ||
		    (op->recs = store_arena_alloc(
			 &op->arena, b->n_records * sizeof(*op->recs))) ==
			NULL) {
			store_op_free(op);
			return STORE_E_NOMEM;
		}
	}
	for (size_t i = 0; i < b->n_records; i++) {
		if (b->records[i] == NULL) {
			store_op_free(op);
			return STORE_E_INVALID;
		}
		if (store_record_copy(op, &op->recs[i], b->records[i]) != 0) {
			store_op_free(op);
			return STORE_E_NOMEM;
		}
	}
	return store_queue_submit(s, op);
}

int store_seed_end(struct store *s, const char *user_set, int lane,
		   uint64_t from_seq, store_done_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || from_seq == 0 || from_seq > INT64_MAX)
		return STORE_E_INVALID;
	int rv = seed_op(s, STORE_OP_SEED_END, user_set, lane, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->ch.seq = from_seq;
	return store_queue_submit(s, op);
}

int store_seed_states(struct store *s, store_seed_states_cb cb, void *arg)
{
	if (s == NULL || cb == NULL)
		return STORE_E_INVALID;
	if (s->state != STORE_STATE_OPEN)
		return STORE_E_CLOSING;
	struct store_op *op = store_op_new(STORE_OP_SEED_STATES, arg);
	if (op == NULL)
		return STORE_E_NOMEM;
	op->cb.seed_states = cb;
	return store_queue_submit(s, op);
}
