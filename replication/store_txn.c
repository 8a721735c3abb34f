/* store_txn: the newest and floor epochs of each user set and the positions of
 * each (user set, lane) stream as the writer reads and changes them, through
 * the group transaction's cache in fast mode (struct store_txn). Writer
 * connection, thread pool, inside the group's transaction. */
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"

/* ---- epochs and streams in the database ------------------------------- */

static const char *const sql_epoch_get =
    "SELECT epoch, floor FROM epochs WHERE user_set = ?1";
static const char *const sql_epoch_raise =
    "INSERT INTO epochs (user_set, epoch, floor) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (user_set) DO UPDATE"
    " SET epoch = max(epoch, excluded.epoch),"
    " floor = max(floor, excluded.floor)";
static const char *const sql_stream_get =
    "SELECT head_seq, acked_seq, applied_seq FROM streams"
    " WHERE user_set = ?1 AND lane = ?2";
static const char *const sql_stream_put =
    "INSERT INTO streams (user_set, lane, head_seq, acked_seq, applied_seq)"
    " VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (user_set, lane) DO UPDATE SET head_seq = excluded.head_seq,"
    " acked_seq = excluded.acked_seq, applied_seq = excluded.applied_seq";

static int epoch_get_db(struct store_conn *c, const char *user_set,
			uint64_t *epoch, uint64_t *floor)
{
	sqlite3_stmt *st = store_stmt(c, &sql_epoch_get);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, user_set, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*epoch = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	*floor = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int epoch_raise_db(struct store_conn *c, const char *user_set,
			  uint64_t epoch, uint64_t floor)
{
	sqlite3_stmt *st = store_stmt(c, &sql_epoch_raise);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_i64(epoch));
	sqlite3_bind_int64(st, 3, store_i64(floor));
	return store_step_done(st);
}

static int stream_get_db(struct store_conn *c, const char *user_set, int lane,
			 struct store_stream *s)
{
	sqlite3_stmt *st = store_stmt(c, &sql_stream_get);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, lane);
	int rc = sqlite3_step(st);
	memset(s, 0, sizeof(*s));
	if (rc == SQLITE_ROW) {
		s->head = (uint64_t)sqlite3_column_int64(st, 0);
		s->acked = (uint64_t)sqlite3_column_int64(st, 1);
		s->applied = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int stream_put_db(struct store_conn *c, const char *user_set, int lane,
			 const struct store_stream *s)
{
	sqlite3_stmt *st = store_stmt(c, &sql_stream_put);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	sqlite3_bind_text(st, 1, user_set, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, lane);
	sqlite3_bind_int64(st, 3, store_i64(s->head));
	sqlite3_bind_int64(st, 4, store_i64(s->acked));
	sqlite3_bind_int64(st, 5, store_i64(s->applied));
	return store_step_done(st);
}

/* ---- the group transaction's cache (fast mode) ------------------------ */

void store_txn_begin(struct store_conn *c, bool fast)
{
	c->txn.fast = fast;
	c->txn.n_streams = 0;
	c->txn.n_epochs = 0;
}

int store_txn_flush(struct store_conn *c)
{
	struct store_txn *t = &c->txn;
	for (size_t i = 0; i < t->n_streams; i++) {
		if (!t->streams[i].dirty)
			continue;
		int rc = stream_put_db(c, t->streams[i].user_set,
				       t->streams[i].lane, &t->streams[i].s);
		if (rc != SQLITE_OK)
			return rc;
		t->streams[i].dirty = false;
	}
	return SQLITE_OK;
}

/* The cached entry of (user_set, lane), or -1. */
static int txn_stream_find(struct store_txn *t, const char *user_set, int lane)
{
	for (size_t i = 0; i < t->n_streams; i++)
		if (t->streams[i].lane == lane &&
		    strcmp(t->streams[i].user_set, user_set) == 0)
			return (int)i;
	return -1;
}

/* A free cache slot, making room by writing everything back when the
 * cache is full. -1 with *rc set on a write error. */
static int txn_stream_slot(struct store_conn *c, int *rc)
{
	struct store_txn *t = &c->txn;
	*rc = SQLITE_OK;
	if (t->n_streams == STORE_TXN_CACHE) {
		*rc = store_txn_flush(c);
		if (*rc != SQLITE_OK)
			return -1;
		t->n_streams = 0;
	}
	return (int)t->n_streams++;
}

/* ---- through the cache ------------------------------------------------ */

int store_txn_epoch_get(struct store_conn *c, const char *user_set,
			uint64_t *epoch, uint64_t *floor)
{
	struct store_txn *t = &c->txn;
	uint64_t fl;
	if (floor == NULL)
		floor = &fl;
	if (!t->fast)
		return epoch_get_db(c, user_set, epoch, floor);
	for (size_t i = 0; i < t->n_epochs; i++) {
		if (strcmp(t->epochs[i].user_set, user_set) == 0) {
			*epoch = t->epochs[i].epoch;
			*floor = t->epochs[i].floor;
			return SQLITE_OK;
		}
	}
	int rc = epoch_get_db(c, user_set, epoch, floor);
	if (rc == SQLITE_OK && t->n_epochs < STORE_TXN_CACHE &&
	    strlen(user_set) < STORE_NAME_MAX) {
		snprintf(t->epochs[t->n_epochs].user_set, STORE_NAME_MAX, "%s",
			 user_set);
		t->epochs[t->n_epochs].epoch = *epoch;
		t->epochs[t->n_epochs].floor = *floor;
		t->n_epochs++;
	}
	return rc;
}

int store_txn_epoch_raise(struct store_conn *c, const char *user_set,
			  uint64_t epoch, uint64_t floor)
{
	struct store_txn *t = &c->txn;
	int rc = epoch_raise_db(c, user_set, epoch, floor);
	if (rc != SQLITE_OK || !t->fast)
		return rc;
	for (size_t i = 0; i < t->n_epochs; i++) {
		if (strcmp(t->epochs[i].user_set, user_set) != 0)
			continue;
		if (t->epochs[i].epoch < epoch)
			t->epochs[i].epoch = epoch;
		if (t->epochs[i].floor < floor)
			t->epochs[i].floor = floor;
	}
	return SQLITE_OK;
}

int store_txn_stream_get(struct store_conn *c, const char *user_set, int lane,
			 struct store_stream *s)
{
	struct store_txn *t = &c->txn;
	if (!t->fast || strlen(user_set) >= STORE_NAME_MAX)
		return stream_get_db(c, user_set, lane, s);
	int i = txn_stream_find(t, user_set, lane);
	if (i >= 0) {
		*s = t->streams[i].s;
		return SQLITE_OK;
	}
	int rc = stream_get_db(c, user_set, lane, s);
	if (rc != SQLITE_OK)
		return rc;
	i = txn_stream_slot(c, &rc);
	if (i < 0)
		return rc;
	snprintf(t->streams[i].user_set, STORE_NAME_MAX, "%s", user_set);
	t->streams[i].lane = lane;
	t->streams[i].s = *s;
	t->streams[i].dirty = false;
	return SQLITE_OK;
}

int store_txn_stream_put(struct store_conn *c, const char *user_set, int lane,
			 const struct store_stream *s)
{
	struct store_txn *t = &c->txn;
	int rc;
	if (!t->fast || strlen(user_set) >= STORE_NAME_MAX)
		return stream_put_db(c, user_set, lane, s);
	int i = txn_stream_find(t, user_set, lane);
	if (i < 0) {
		i = txn_stream_slot(c, &rc);
		if (i < 0)
			return rc;
		snprintf(t->streams[i].user_set, STORE_NAME_MAX, "%s",
			 user_set);
		t->streams[i].lane = lane;
	}
	t->streams[i].s = *s;
	t->streams[i].dirty = true;
	return SQLITE_OK;
}
