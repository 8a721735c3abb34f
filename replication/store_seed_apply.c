/* store_seed_apply: the copy side of a seed (writer, inside the group's
 * transaction, a savepoint per op when its group runs again): begin
 * (the copy's items of the lane cleared, the seed row written), apply (a
 * batch checked against the mark, then stored, the mark advanced in the
 * seed row) and end (applied_seq = F, the seed row gone). */
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"
#include "replication/store_seed.h"
#include "replication/store_seed_internal.h"

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
		seed_row_state(st, 0, s);
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

int store_copy_clear(struct store_conn *c, const char *user_set, int lane)
{
	int rc = SQLITE_OK;

	if (lane == LANE_DATA) {
		const char *const *clear[] = {&sql_clear_users, &sql_clear_data,
					      &sql_clear_conf, &sql_clear_cms};
		for (size_t i = 0; i < 4 && rc == SQLITE_OK; i++)
			rc = exec_sql_user_set(c, clear[i], user_set);
	} else {
		/* the chunks go with their items (ON DELETE CASCADE) */
		rc = exec_sql_user_set(c, &sql_clear_content, user_set);
	}
	return rc;
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

	rc = store_copy_clear(c, op->ch.user_set, op->ch.lane);
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
	rc = store_txn_epoch_raise(c, op->ch.user_set, op->ch.epoch, 0);
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
	if (!seed_kind_of_lane(ch->kind, lane))
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
			c = seed_kind_rank(ch->kind) < seed_kind_rank(m->kind)
				? -1
				: 1;
		else
			c = seed_key_cmp(ch->kind, ch->key, m->key);
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
