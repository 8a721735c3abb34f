/* store_outbox: the outbox of a former writer back as a standby
 * (store_divert_stale): its records its pool's new writer never had go to
 * the divergence archive, and the stream is reset so that the new writer
 * rebuilds the copy in full. Writer connection, thread pool, inside the
 * group's transaction and savepoint (store_queue.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replication/store_internal.h"

static const char *const sql_stale_count =
    "SELECT count(*) FROM outbox WHERE user_set = ?1 AND lane = ?2"
    " AND seq > ?3 AND epoch < ?4";
static const char *const sql_stale_archive =
    "INSERT OR IGNORE INTO divergence (user_set, lane, epoch, seq, hlc, op,"
    " kind, key, value, offset, total, archived_at, reason)"
    " SELECT user_set, lane, epoch, seq, hlc, op, kind, key, value, offset,"
    " total, ?5, 'never shipped' FROM outbox"
    " WHERE user_set = ?1 AND lane = ?2 AND seq > ?3 AND epoch < ?4";
static const char *const sql_stream_drop =
    "DELETE FROM outbox WHERE user_set = ?1 AND lane = ?2";
static const char *const sql_seed_drop =
    "DELETE FROM seeds WHERE user_set = ?1 AND lane = ?2";

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bind ?1 user set, ?2 lane of op, and with @bounds ?3 keep_seq, ?4
 * epoch. */
static sqlite3_stmt *stream_stmt(struct store_conn *c,
				 const struct store_op *op,
				 const char *const *sql, bool bounds)
{
	sqlite3_stmt *st = store_stmt(c, sql);
	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, op->ch.user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, op->ch.lane);
	if (bounds) {
		sqlite3_bind_int64(st, 3, store_i64(op->ch.seq));
		sqlite3_bind_int64(st, 4, store_i64(op->ch.epoch));
	}
	return st;
}

/* The stream after its records were archived: nothing of it is left, the
 * copy's items of the lane neither, so that the new writer's next stream
 * (a seed, or its outbox from seq 1) rebuilds the copy exactly. */
static int stream_reset(struct store_conn *c, const struct store_op *op)
{
	const struct store_stream zero = {0, 0, 0};
	sqlite3_stmt *st = stream_stmt(c, op, &sql_stream_drop, false);
	int rc;

	if (st == NULL)
		return sqlite3_errcode(c->db);
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return rc;
	st = stream_stmt(c, op, &sql_seed_drop, false);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	rc = store_step_done(st);
	if (rc != SQLITE_OK)
		return rc;
	rc = store_copy_clear(c, op->ch.user_set, op->ch.lane);
	if (rc != SQLITE_OK)
		return rc;
	return store_txn_stream_put(c, op->ch.user_set, op->ch.lane, &zero);
}

void store_exec_divert_stale(struct store_conn *c, struct store_op *op)
{
	sqlite3_stmt *st = stream_stmt(c, op, &sql_stale_count, true);
	uint64_t n = 0;
	int rc;

	op->res.archived = 0;
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "divert stale");
		return;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		n = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "divert stale");
		return;
	}
	if (n == 0)
		return; /* nothing of it is stale: nothing changes */
	st = stream_stmt(c, op, &sql_stale_archive, true);
	if (st == NULL) {
		store_op_dberr(op, c, sqlite3_errcode(c->db), "divert stale");
		return;
	}
	sqlite3_bind_int64(st, 5, now_ms());
	rc = store_step_done(st);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "divert stale: archive");
		return;
	}
	rc = stream_reset(c, op);
	if (rc != SQLITE_OK) {
		store_op_dberr(op, c, rc, "divert stale: reset");
		return;
	}
	op->res.archived = n;
}
