/* store write side (thread pool, writer connection): local writes with
 * their outbox record, receiver batches, acks, epochs, failback tail and
 * verify repairs. Each function runs inside the transaction and savepoint
 * opened by the group runner in store_queue.c and reports through
 * op->status. Epochs and stream positions go through store_txn.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replication/store_internal.h"

#define OP_PUT POOLPAIR__REPL__OP__OP_PUT
#define OP_DELETE POOLPAIR__REPL__OP__OP_DELETE
#define OP_CHUNK POOLPAIR__REPL__OP__OP_CONTENT_CHUNK

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(st, i, n ? p : "", n, SQLITE_STATIC);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- applying one change to the copy ---------------------------------- */

static const char *const sql_user_put =
    "INSERT INTO users (user_set, sip, home_pool, enabled, epoch, seq, hlc)"
    " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)"
    " ON CONFLICT (user_set, sip) DO UPDATE SET"
    " home_pool = excluded.home_pool, enabled = 1, epoch = excluded.epoch,"
    " seq = excluded.seq, hlc = excluded.hlc";
static const char *const sql_user_disable =
    "UPDATE users SET enabled = 0, epoch = ?4, seq = ?5, hlc = ?6"
    " WHERE user_set = ?1 AND sip = ?2";
/* repair only: the owner has no such user at all */
static const char *const sql_user_purge =
    "DELETE FROM users WHERE user_set = ?1 AND sip = ?2";
static const char *const sql_data_put =
    "INSERT INTO user_data (user_set, sip, kind, value, epoch, seq, hlc)"
    " VALUES (?1, ?2, ?3, ?7, ?4, ?5, ?6)"
    " ON CONFLICT (user_set, sip, kind) DO UPDATE SET value = excluded.value,"
    " epoch = excluded.epoch, seq = excluded.seq, hlc = excluded.hlc";
static const char *const sql_data_del =
    "DELETE FROM user_data WHERE user_set = ?1 AND sip = ?2 AND kind = ?3";
static const char *const sql_conf_put =
    "INSERT INTO conferences (user_set, sip, conf_id, value, epoch, seq, hlc)"
    " VALUES (?1, ?2, ?3, ?7, ?4, ?5, ?6)"
    " ON CONFLICT (user_set, sip, conf_id) DO UPDATE SET"
    " value = excluded.value, epoch = excluded.epoch, seq = excluded.seq,"
    " hlc = excluded.hlc";
static const char *const sql_conf_del =
    "DELETE FROM conferences WHERE user_set = ?1 AND sip = ?2"
    " AND conf_id = ?3";
static const char *const sql_cms_put =
    "INSERT INTO cms (user_set, key, value, epoch, seq, hlc)"
    " VALUES (?1, ?2, ?7, ?4, ?5, ?6)"
    " ON CONFLICT (user_set, key) DO UPDATE SET value = excluded.value,"
    " epoch = excluded.epoch, seq = excluded.seq, hlc = excluded.hlc";
static const char *const sql_cms_del =
    "DELETE FROM cms WHERE user_set = ?1 AND key = ?2";
static const char *const sql_content_get =
    "SELECT id, total, stored, epoch, seq FROM content WHERE user_set = ?1"
    " AND sip = ?2 AND conf_id = ?3 AND name = ?4";
static const char *const sql_content_new =
    "INSERT INTO content (user_set, sip, conf_id, name, total, stored,"
    " complete, epoch, seq, hlc) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?7,"
    " ?8)";
static const char *const sql_content_reset =
    "DELETE FROM content_chunks WHERE content_id = ?1";
static const char *const sql_content_set =
    "UPDATE content SET total = ?2, stored = ?3, complete = (?3 = ?2),"
    " epoch = ?4, seq = ?5, hlc = ?6 WHERE id = ?1";
static const char *const sql_chunk_put =
    "INSERT INTO content_chunks (content_id, offset, data)"
    " VALUES (?1, ?2, ?3)";
static const char *const sql_content_del =
    "DELETE FROM content WHERE user_set = ?1 AND sip = ?2 AND conf_id = ?3"
    " AND name = ?4";

/* Bind ?1 user_set, ?2 sip-or-key, ?4 epoch, ?5 seq, ?6 hlc. */
static void bind_common(sqlite3_stmt *st, const struct store_change *ch,
			const char *k, size_t klen)
{
	sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k, (int)klen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, store_i64(ch->epoch));
	sqlite3_bind_int64(st, 5, store_i64(ch->seq));
	sqlite3_bind_int64(st, 6, store_i64(ch->hlc));
}

/* Whether a stream record that continues a content upload (offset > 0)
 * but does not fit the copy's item is superseded by what the copy holds:
 * after a seed (store_seed.h), the copy holds each item as the owner's
 * state when the seed read it, at or after the records of the live stream
 * that follow the seed's position; those records' chunks continue an
 * upload the copy holds a later state of (the item's epoch and seq at or
 * after the record's), or one it does not hold at all (deleted or
 * restarted since, and the records that end that are in the stream too).
 * Such a chunk changes nothing. Only store_apply_batch skips them: a
 * local write or a repair that does not fit is refused. */
static bool chunk_superseded(const struct store_op *op,
			     const struct store_change *ch, bool exists,
			     uint64_t epoch, uint64_t seq)
{
	if (op->type != STORE_OP_APPLY || ch->offset == 0)
		return false;
	if (!exists)
		return true;
	return ch->epoch < epoch || (ch->epoch == epoch && ch->seq <= seq);
}

static int apply_chunk(struct store_conn *c, struct store_op *op,
		       const struct store_change *ch,
		       const struct store_key_parts *kp)
{
	sqlite3_stmt *st = store_stmt(c, &sql_content_get);
	int64_t id = 0;
	uint64_t total = 0, stored = 0, epoch = 0, seq = 0;
	bool exists;
	int rc;

	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
	sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(st, 2 + i, kp->part[i], (int)kp->len[i],
				  SQLITE_STATIC);
	rc = sqlite3_step(st);
	exists = rc == SQLITE_ROW;
	if (exists) {
		id = sqlite3_column_int64(st, 0);
		total = (uint64_t)sqlite3_column_int64(st, 1);
		stored = (uint64_t)sqlite3_column_int64(st, 2);
		epoch = (uint64_t)sqlite3_column_int64(st, 3);
		seq = (uint64_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_op_dberr(op, c, rc, "content lookup");
	if ((!exists || total != ch->total || ch->offset != stored) &&
	    chunk_superseded(op, ch, exists, epoch, seq))
		return 0;

	if (ch->offset == 0) {
		if (exists) {
			st = store_stmt(c, &sql_content_reset);
			if (st == NULL)
				return store_op_dberr(op, c,
						      sqlite3_errcode(c->db),
						      "content reset");
			sqlite3_bind_int64(st, 1, id);
			rc = store_step_done(st);
			if (rc != SQLITE_OK)
				return store_op_dberr(op, c, rc,
						      "content reset");
		} else {
			st = store_stmt(c, &sql_content_new);
			if (st == NULL)
				return store_op_dberr(op, c,
						      sqlite3_errcode(c->db),
						      "content insert");
			sqlite3_bind_text(st, 1, ch->user_set, -1,
					  SQLITE_STATIC);
			for (int i = 0; i < 3; i++)
				sqlite3_bind_text(st, 2 + i, kp->part[i],
						  (int)kp->len[i],
						  SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, store_i64(ch->total));
			sqlite3_bind_int64(st, 6, store_i64(ch->epoch));
			sqlite3_bind_int64(st, 7, store_i64(ch->seq));
			sqlite3_bind_int64(st, 8, store_i64(ch->hlc));
			rc = store_step_done(st);
			if (rc != SQLITE_OK)
				return store_op_dberr(op, c, rc,
						      "content insert");
			id = sqlite3_last_insert_rowid(c->db);
		}
		stored = 0;
	} else if (!exists) {
		return store_op_fail(op, STORE_E_INVALID,
				     "content chunk at offset %llu of an item "
				     "never started",
				     (unsigned long long)ch->offset);
	} else if (total != ch->total) {
		return store_op_fail(op, STORE_E_INVALID,
				     "content chunk for total %llu, item has "
				     "%llu",
				     (unsigned long long)ch->total,
				     (unsigned long long)total);
	} else if (ch->offset != stored) {
		return store_op_fail(op, STORE_E_INVALID,
				     "content chunk at offset %llu, item has "
				     "%llu bytes",
				     (unsigned long long)ch->offset,
				     (unsigned long long)stored);
	}

	if (ch->value_len > 0) {
		st = store_stmt(c, &sql_chunk_put);
		if (st == NULL)
			return store_op_dberr(op, c, sqlite3_errcode(c->db),
					      "content chunk");
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, store_i64(ch->offset));
		bind_blob(st, 3, ch->value, ch->value_len);
		rc = store_step_done(st);
		if (rc != SQLITE_OK)
			return store_op_dberr(op, c, rc, "content chunk");
	}
	st = store_stmt(c, &sql_content_set);
	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "content");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, store_i64(ch->total));
	sqlite3_bind_int64(st, 3, store_i64(stored + ch->value_len));
	sqlite3_bind_int64(st, 4, store_i64(ch->epoch));
	sqlite3_bind_int64(st, 5, store_i64(ch->seq));
	sqlite3_bind_int64(st, 6, store_i64(ch->hlc));
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "content update");
	return 0;
}

/* Apply ch (already checked) to the copy of its user set. */
int store_change_apply(struct store_conn *c, struct store_op *op,
		       const struct store_change *ch)
{
	const char *const *sql = NULL;
	struct store_key_parts kp;
	const char *k = ch->key;
	size_t klen = strlen(ch->key);
	bool put = ch->op == OP_PUT;
	int rc;

	switch (ch->kind) {
	case POOLPAIR__REPL__KIND__KIND_USER:
		sql = put ? &sql_user_put : &sql_user_disable;
		break;
	case POOLPAIR__REPL__KIND__KIND_PROFILE:
	case POOLPAIR__REPL__KIND__KIND_CONTACTS:
	case POOLPAIR__REPL__KIND__KIND_SETTINGS:
		sql = put ? &sql_data_put : &sql_data_del;
		break;
	case POOLPAIR__REPL__KIND__KIND_CONFERENCE:
		if (store_key_split(ch->key, 2, &kp) != 0)
			return store_op_fail(op, STORE_E_INVALID,
					     "bad conference key");
		k = kp.part[0];
		klen = kp.len[0];
		sql = put ? &sql_conf_put : &sql_conf_del;
		break;
	case POOLPAIR__REPL__KIND__KIND_CMS:
		sql = put ? &sql_cms_put : &sql_cms_del;
		break;
	case POOLPAIR__REPL__KIND__KIND_CONTENT:
		if (store_key_split(ch->key, 3, &kp) != 0)
			return store_op_fail(op, STORE_E_INVALID,
					     "bad content key");
		if (ch->op == OP_CHUNK)
			return apply_chunk(c, op, ch, &kp);
		sql = &sql_content_del;
		break;
	default:
		return store_op_fail(op, STORE_E_INVALID, "unknown kind %d",
				     ch->kind);
	}

	sqlite3_stmt *st = store_stmt(c, sql);
	if (st == NULL)
		return store_op_dberr(op, c, sqlite3_errcode(c->db), "prepare");
	if (ch->kind == POOLPAIR__REPL__KIND__KIND_CONTENT) {
		sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
		for (int i = 0; i < 3; i++)
			sqlite3_bind_text(st, 2 + i, kp.part[i], (int)kp.len[i],
					  SQLITE_STATIC);
	} else if (sql == &sql_data_del) {
		sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, k, (int)klen, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, ch->kind);
	} else if (sql == &sql_conf_del) {
		sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, k, (int)klen, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, kp.part[1], (int)kp.len[1],
				  SQLITE_STATIC);
	} else if (sql == &sql_cms_del) {
		sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, k, (int)klen, SQLITE_STATIC);
	} else {
		bind_common(st, ch, k, klen);
		if (sql == &sql_user_put)
			sqlite3_bind_text(st, 3, (const char *)ch->value,
					  (int)ch->value_len, SQLITE_STATIC);
		else if (sql == &sql_data_put)
			sqlite3_bind_int(st, 3, ch->kind);
		else if (sql == &sql_conf_put)
			sqlite3_bind_text(st, 3, kp.part[1], (int)kp.len[1],
					  SQLITE_STATIC);
		if (put)
			bind_blob(st, 7, ch->value, ch->value_len);
	}
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "apply change");
	return 0;
}

/* ---- local write ------------------------------------------------------ */

static const char *const sql_outbox_put =
    "INSERT INTO outbox (user_set, lane, seq, epoch, hlc, op, kind, key,"
    " value, offset, total) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
    " ?10, ?11)";

int store_outbox_append(struct store_conn *c, const struct store_change *ch)
{
	sqlite3_stmt *st = store_stmt(c, &sql_outbox_put);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, ch->lane);
	sqlite3_bind_int64(st, 3, store_i64(ch->seq));
	sqlite3_bind_int64(st, 4, store_i64(ch->epoch));
	sqlite3_bind_int64(st, 5, store_i64(ch->hlc));
	sqlite3_bind_int(st, 6, ch->op);
	sqlite3_bind_int(st, 7, ch->kind);
	sqlite3_bind_text(st, 8, ch->key, -1, SQLITE_STATIC);
	bind_blob(st, 9, ch->value, ch->value_len);
	sqlite3_bind_int64(st, 10, store_i64(ch->offset));
	sqlite3_bind_int64(st, 11, store_i64(ch->total));
	return store_step_done(st);
}

static int exec_local_write(struct store_conn *c, struct store_op *op)
{
	struct store_change *ch = &op->ch;
	struct store_stream s;
	uint64_t newest;
	int rc = store_txn_epoch_get(c, ch->user_set, &newest, NULL);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "read epoch");
	if (ch->epoch < newest)
		return store_op_fail(op, STORE_E_STALE_EPOCH,
				     "write under epoch %llu refused: %s is at "
				     "epoch %llu",
				     (unsigned long long)ch->epoch,
				     ch->user_set, (unsigned long long)newest);
	if (ch->epoch > newest &&
	    (rc = store_txn_epoch_raise(c, ch->user_set, ch->epoch, 0)) !=
		SQLITE_OK)
		return store_op_dberr(op, c, rc, "raise epoch");
	if (store_space_charge(c, op) != 0)
		return op->status;

	rc = store_txn_stream_get(c, ch->user_set, ch->lane, &s);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "read stream");
	if (s.head < s.applied) {
		/* First write after taking over the user set: the pair
		 * already has everything up to applied. */
		s.head = s.applied;
		if (s.acked < s.applied)
			s.acked = s.applied;
	}
	ch->seq = ++s.head;

	if (store_change_apply(c, op, ch) != 0)
		return op->status;
	rc = store_txn_stream_put(c, ch->user_set, ch->lane, &s);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "advance stream");

	rc = store_outbox_append(c, ch);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "outbox append");

	op->res.write.epoch = ch->epoch;
	op->res.write.seq = ch->seq;
	op->res.write.lane = ch->lane;
	op->res.write.bytes = strlen(ch->key) + ch->value_len;
	return 0;
}

/* ---- receiver batch --------------------------------------------------- */

static const char *const sql_archive =
    "INSERT OR IGNORE INTO divergence (user_set, lane, epoch, seq, hlc, op,"
    " kind, key, value, offset, total, archived_at, reason)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

static int archive(struct store_conn *c, const struct store_change *ch,
		   const char *reason)
{
	sqlite3_stmt *st = store_stmt(c, &sql_archive);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, ch->user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, ch->lane);
	sqlite3_bind_int64(st, 3, store_i64(ch->epoch));
	sqlite3_bind_int64(st, 4, store_i64(ch->seq));
	sqlite3_bind_int64(st, 5, store_i64(ch->hlc));
	sqlite3_bind_int(st, 6, ch->op);
	sqlite3_bind_int(st, 7, ch->kind);
	sqlite3_bind_text(st, 8, ch->key, -1, SQLITE_STATIC);
	bind_blob(st, 9, ch->value, ch->value_len);
	sqlite3_bind_int64(st, 10, store_i64(ch->offset));
	sqlite3_bind_int64(st, 11, store_i64(ch->total));
	sqlite3_bind_int64(st, 12, now_ms());
	sqlite3_bind_text(st, 13, reason, -1, SQLITE_STATIC);
	return store_step_done(st);
}

static const char *const sql_savepoint_rec = "SAVEPOINT rec";
static const char *const sql_release_rec = "RELEASE rec";
static const char *const sql_rollback_rec = "ROLLBACK TO rec";

struct touched {
	const char *user_set;
	int lane;
};

/* One record of a batch. Returns 0 to go on, or a status that stops the
 * batch (op->keep says whether what came before stays). */
static int apply_one(struct store_conn *c, struct store_op *op,
		     const struct store_change *ch)
{
	struct store_apply_result *r = &op->res.apply;
	char why[STORE_ERRMSG_LEN];
	struct store_stream s;
	uint64_t newest, floor, at;
	int rc;

	if (ch->user_set[0] == '\0' || strlen(ch->user_set) >= STORE_NAME_MAX ||
	    (ch->lane != POOLPAIR__REPL__LANE__LANE_DATA &&
	     ch->lane != POOLPAIR__REPL__LANE__LANE_CONTENT)) {
		op->keep = true;
		return store_op_fail(op, STORE_E_INVALID,
				     "record seq %llu: bad user set or lane",
				     (unsigned long long)ch->seq);
	}
	rc = store_txn_stream_get(c, ch->user_set, ch->lane, &s);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "read stream");
	/* a stream this store wrote itself (its own user set, back after a
	 * failover) continues after its own writes: the pair's records
	 * follow from there, exactly as a local write would; in outbox mode
	 * the head is the stream's position */
	at = s.head > s.applied ? s.head : s.applied;
	if (!op->outbox_mode)
		s.applied = at;
	if (ch->seq <= at) {
		r->duplicates++;
		return 0;
	}
	if (ch->seq > at + 1) {
		op->keep = true;
		return store_op_fail(op, STORE_E_GAP,
				     "%s lane %d: record seq %llu after "
				     "applied %llu",
				     ch->user_set, ch->lane,
				     (unsigned long long)ch->seq,
				     (unsigned long long)at);
	}
	if (store_change_check(ch, why, sizeof(why)) != 0) {
		op->keep = true;
		return store_op_fail(op, STORE_E_INVALID, "record seq %llu: %s",
				     (unsigned long long)ch->seq, why);
	}
	rc = store_txn_epoch_get(c, ch->user_set, &newest, &floor);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "read epoch");

	/* stale only below the floor: a record of an older epoch at or
	 * above it was written by a writer the user set's owner replaced
	 * without a change of owner (a local takeover), and the new writer
	 * continued after it */
	if (ch->epoch < floor) {
		rc = archive(c, ch, "stale epoch");
		if (rc != SQLITE_OK)
			return store_op_dberr(op, c, rc, "archive");
		r->archived++;
	} else if (c->txn.fast) {
		/* no savepoint: a failure re-runs the group in safe mode */
		if (store_change_apply(c, op, ch) != 0) {
			op->keep = op->status == STORE_E_INVALID;
			return op->status;
		}
		if (ch->epoch > newest &&
		    (rc = store_txn_epoch_raise(c, ch->user_set, ch->epoch,
						0)) != SQLITE_OK)
			return store_op_dberr(op, c, rc, "raise epoch");
		r->applied++;
	} else {
		rc = store_stmt_exec(c, &sql_savepoint_rec);
		if (rc != SQLITE_OK)
			return store_op_dberr(op, c, rc, "savepoint");
		if (store_change_apply(c, op, ch) != 0) {
			if (!sqlite3_get_autocommit(c->db)) {
				store_stmt_exec(c, &sql_rollback_rec);
				store_stmt_exec(c, &sql_release_rec);
			}
			op->keep = op->status == STORE_E_INVALID;
			return op->status;
		}
		rc = store_stmt_exec(c, &sql_release_rec);
		if (rc != SQLITE_OK)
			return store_op_dberr(op, c, rc, "release");
		if (ch->epoch > newest &&
		    (rc = store_txn_epoch_raise(c, ch->user_set, ch->epoch,
						0)) != SQLITE_OK)
			return store_op_dberr(op, c, rc, "raise epoch");
		r->applied++;
	}
	if (op->outbox_mode) {
		/* kept as if written here: the stream goes on from it */
		rc = store_outbox_append(c, ch);
		if (rc != SQLITE_OK)
			return store_op_dberr(op, c, rc, "outbox append");
		s.head = ch->seq;
	} else {
		s.applied = ch->seq;
	}
	rc = store_txn_stream_put(c, ch->user_set, ch->lane, &s);
	if (rc != SQLITE_OK)
		return store_op_dberr(op, c, rc, "advance stream");
	return 0;
}

static void exec_apply(struct store_conn *c, struct store_op *op)
{
	struct store_apply_result *r = &op->res.apply;
	struct touched *t = NULL;
	size_t nt = 0;

	memset(r, 0, sizeof(*r));
	if (op->n_recs > 0) {
		t = store_arena_alloc(&op->arena, op->n_recs * sizeof(*t));
		if (t == NULL) {
			store_op_fail(op, STORE_E_NOMEM,
				      "apply: out of memory");
			return;
		}
	}
	for (size_t i = 0; i < op->n_recs; i++) {
		const struct store_change *ch = &op->recs[i];
		int rv = apply_one(c, op, ch);
		bool named = rv == 0 || op->keep;
		if (named && ch->user_set[0] != '\0' &&
		    strlen(ch->user_set) < STORE_NAME_MAX) {
			size_t j = 0;
			while (j < nt && (t[j].lane != ch->lane ||
					  strcmp(t[j].user_set, ch->user_set)))
				j++;
			if (j == nt && (ch->lane == 0 || ch->lane == 1)) {
				t[nt].user_set = ch->user_set;
				t[nt].lane = ch->lane;
				nt++;
			}
		}
		if (rv != 0)
			break;
	}
	if (op->status != 0 && !op->keep)
		return;
	struct store_position *pos = NULL;
	if (nt > 0) {
		pos = store_arena_alloc(&op->arena, nt * sizeof(*pos));
		if (pos == NULL) {
			op->keep = false;
			store_op_fail(op, STORE_E_NOMEM,
				      "apply: out of memory");
			return;
		}
	}
	int frc = store_txn_flush(c);
	if (frc != SQLITE_OK) {
		op->keep = false;
		store_op_dberr(op, c, frc, "advance stream");
		return;
	}
	for (size_t j = 0; j < nt; j++) {
		int rc =
		    store_position_load(c, t[j].user_set, t[j].lane, &pos[j]);
		if (rc != SQLITE_OK) {
			op->keep = false;
			store_op_dberr(op, c, rc, "read positions");
			return;
		}
	}
	r->positions = pos;
	r->n = nt;
}

/* ---- acks, epochs, failback, repair ----------------------------------- */

static const char *const sql_outbox_trim =
    "DELETE FROM outbox WHERE user_set = ?1 AND lane = ?2 AND seq <= ?3";
static const char *const sql_outbox_divert =
    "INSERT OR IGNORE INTO divergence (user_set, lane, epoch, seq, hlc, op,"
    " kind, key, value, offset, total, archived_at, reason)"
    " SELECT user_set, lane, epoch, seq, hlc, op, kind, key, value, offset,"
    " total, ?4, 'never shipped' FROM outbox"
    " WHERE user_set = ?1 AND lane = ?2 AND seq > ?3";

static void exec_ack(struct store_conn *c, struct store_op *op)
{
	struct store_stream s;
	int rc = store_txn_stream_get(c, op->ch.user_set, op->ch.lane, &s);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "read stream");
		return;
	}
	if (op->ch.seq > s.head && op->ch.seq <= s.applied) {
		/* back after a failover: the pair wrote (head, seq] of this
		 * stream as its owner and this store applied them; the pair
		 * has them, so the stream's head moves up to them */
		s.head = op->ch.seq;
	} else if (op->ch.seq > s.head) {
		store_op_fail(op, STORE_E_INVALID,
			      "ack of seq %llu past head %llu of %s lane %d",
			      (unsigned long long)op->ch.seq,
			      (unsigned long long)s.head, op->ch.user_set,
			      op->ch.lane);
		return;
	}
	if (op->ch.seq <= s.acked)
		return;
	sqlite3_stmt *st = store_stmt(c, &sql_outbox_trim);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "outbox trim");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	sqlite3_bind_int64(st, 3, store_i64(op->ch.seq));
	rc = store_step_done(st);
	if (rc == SQLITE_OK) {
		s.acked = op->ch.seq;
		rc = store_txn_stream_put(c, op->ch.user_set, op->ch.lane, &s);
	}
	if (rc != SQLITE_OK)
		store_op_dberr(op, c, rc, "outbox trim");
}

static void exec_divert(struct store_conn *c, struct store_op *op)
{
	sqlite3_stmt *st = store_stmt(c, &sql_outbox_divert);
	struct store_stream s;
	int rc;

	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "divert");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	sqlite3_bind_int64(st, 3, store_i64(op->ch.seq));
	sqlite3_bind_int64(st, 4, now_ms());
	rc = store_step_done(st);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "divert");
		return;
	}
	op->res.apply.archived = (size_t)sqlite3_changes(c->db);
	/* Everything up to keep_seq is on the pair: drop it all. */
	st = store_stmt(c, &sql_outbox_trim);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "divert");
		return;
	}
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	sqlite3_bind_int64(st, 3, INT64_MAX);
	rc = store_step_done(st);
	s.head = s.acked = s.applied = op->ch.seq;
	if (rc == SQLITE_OK)
		rc = store_txn_stream_put(c, op->ch.user_set, op->ch.lane, &s);
	if (rc != SQLITE_OK)
		store_op_dberr(op, c, rc, "divert");
}

static void exec_repair(struct store_conn *c, struct store_op *op)
{
	uint64_t newest;
	int rc = store_txn_epoch_get(c, op->ch.user_set, &newest, NULL);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "read epoch");
		return;
	}
	if (op->ch.epoch < newest) {
		store_op_fail(op, STORE_E_STALE_EPOCH,
			      "repair under epoch %llu refused: %s is at epoch "
			      "%llu",
			      (unsigned long long)op->ch.epoch, op->ch.user_set,
			      (unsigned long long)newest);
		return;
	}
	if (op->ch.op == POOLPAIR__REPL__OP__OP_PURGE_USER) {
		/* the owner does not know the user: the record goes */
		sqlite3_stmt *st = store_stmt(c, &sql_user_purge);

		if (st == NULL) {
			store_op_dberr(op, c, sqlite3_errcode(c->db), "purge");
			return;
		}
		sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, op->ch.key, -1, SQLITE_STATIC);
		rc = store_step_done(st);
		if (rc != SQLITE_OK)
			store_op_dberr(op, c, rc, "purge");
		return;
	}
	store_change_apply(c, op, &op->ch);
}

void store_exec_write(struct store_conn *c, struct store_op *op)
{
	int rc;
	switch (op->type) {
	case STORE_OP_WRITE:
		exec_local_write(c, op);
		break;
	case STORE_OP_APPLY:
		exec_apply(c, op);
		break;
	case STORE_OP_ACK:
		exec_ack(c, op);
		break;
	case STORE_OP_SET_EPOCH:
		rc = store_txn_epoch_raise(c, op->ch.user_set, op->ch.epoch,
					   op->ch.total);
		if (rc != SQLITE_OK)
			store_op_dberr(op, c, rc, "raise epoch");
		break;
	case STORE_OP_DIVERT:
		exec_divert(c, op);
		break;
	case STORE_OP_DIVERT_STALE:
		store_exec_divert_stale(c, op);
		break;
	case STORE_OP_REPAIR:
		exec_repair(c, op);
		break;
	case STORE_OP_SEED_BEGIN:
	case STORE_OP_SEED_APPLY:
	case STORE_OP_SEED_END:
		store_seed_exec_write(c, op);
		break;
	default:
		store_op_fail(op, STORE_E_INVALID, "not a write operation");
		break;
	}
}
