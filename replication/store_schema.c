/* store schema: versioned migrations (PRAGMA user_version), opening the
 * writer and reader connections, the prepared-statement cache and the
 * mapping of SQLite codes to STORE_E_*. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/store_internal.h"

/* Migration i brings the schema from version i to i + 1. Append only:
 * never edit a released migration, add a new one. */
static const char *const migrations[] = {
    /* 0 -> 1: the first schema. */
    "CREATE TABLE epochs ("
    "  user_set TEXT PRIMARY KEY,"
    "  epoch INTEGER NOT NULL);"

    /* Per (user set, lane): sender head and acked seq, receiver applied
     * seq. */
    "CREATE TABLE streams ("
    "  user_set TEXT NOT NULL,"
    "  lane INTEGER NOT NULL,"
    "  head_seq INTEGER NOT NULL DEFAULT 0,"
    "  acked_seq INTEGER NOT NULL DEFAULT 0,"
    "  applied_seq INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (user_set, lane)) WITHOUT ROWID;"

    "CREATE TABLE users ("
    "  user_set TEXT NOT NULL,"
    "  sip TEXT NOT NULL,"
    "  home_pool TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  PRIMARY KEY (user_set, sip));"
    "CREATE INDEX users_sip ON users (sip);"

    "CREATE TABLE user_data ("
    "  user_set TEXT NOT NULL,"
    "  sip TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  value BLOB NOT NULL,"
    "  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  PRIMARY KEY (user_set, sip, kind));"

    "CREATE TABLE conferences ("
    "  user_set TEXT NOT NULL,"
    "  sip TEXT NOT NULL,"
    "  conf_id TEXT NOT NULL,"
    "  value BLOB NOT NULL,"
    "  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  PRIMARY KEY (user_set, sip, conf_id));"

    "CREATE TABLE cms ("
    "  user_set TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value BLOB NOT NULL,"
    "  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  PRIMARY KEY (user_set, key));"

    "CREATE TABLE content ("
    "  id INTEGER PRIMARY KEY,"
    "  user_set TEXT NOT NULL,"
    "  sip TEXT NOT NULL,"
    "  conf_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  stored INTEGER NOT NULL,"
    "  complete INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  UNIQUE (user_set, sip, conf_id, name));"
    "CREATE TABLE content_chunks ("
    "  content_id INTEGER NOT NULL REFERENCES content (id)"
    "    ON DELETE CASCADE,"
    "  offset INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (content_id, offset));"

    /* Change records not yet acknowledged by the pair. */
    "CREATE TABLE outbox ("
    "  user_set TEXT NOT NULL,"
    "  lane INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  hlc INTEGER NOT NULL,"
    "  op INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value BLOB NOT NULL,"
    "  offset INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  PRIMARY KEY (user_set, lane, seq));"

    "CREATE TABLE divergence ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_set TEXT NOT NULL,"
    "  lane INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  hlc INTEGER NOT NULL,"
    "  op INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value BLOB NOT NULL,"
    "  offset INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  archived_at INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  UNIQUE (user_set, lane, epoch, seq));"

    /* Every non-content item of a user set under its record key: what
     * verify digests. */
    "CREATE VIEW items AS"
    "  SELECT user_set, 6 AS kind, sip AS key,"
    "         CAST(home_pool AS BLOB) AS value, enabled,"
    "         epoch, seq, hlc FROM users"
    "  UNION ALL SELECT user_set, kind, sip, value, 1, epoch, seq, hlc"
    "         FROM user_data"
    "  UNION ALL SELECT user_set, 3, sip || '/' || conf_id, value, 1,"
    "         epoch, seq, hlc FROM conferences"
    "  UNION ALL SELECT user_set, 5, key, value, 1, epoch, seq, hlc"
    "         FROM cms;",

    /* 1 -> 2: a copy rebuilt from its owner's store (store_seed.h): the
     * seed of each (user set, lane) begun and not ended, with its mark. */
    "CREATE TABLE seeds ("
    "  user_set TEXT NOT NULL,"
    "  lane INTEGER NOT NULL,"
    "  from_seq INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  started INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  offset INTEGER NOT NULL,"
    "  items INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  PRIMARY KEY (user_set, lane)) WITHOUT ROWID;",

    /* 2 -> 3: the floor epoch of each user set (store_set_epoch): a
     * record older than it is stale. Until now the newest known epoch
     * was the floor. */
    "ALTER TABLE epochs ADD COLUMN floor INTEGER NOT NULL DEFAULT 0;"
    "UPDATE epochs SET floor = epoch;",
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION,
	       "STORE_SCHEMA_VERSION must match the migrations");

int store_sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return STORE_E_FULL;
	case SQLITE_NOMEM:
		return STORE_E_NOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return STORE_E_CORRUPT;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
		return STORE_E_INVALID;
	default:
		return STORE_E_IO;
	}
}

static int user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_schema_migrate(sqlite3 *db, char *errmsg, size_t len)
{
	int version = 0;
	int rc = user_version(db, &version);
	if (rc != SQLITE_OK) {
		snprintf(errmsg, len, "read schema version: %s",
			 sqlite3_errmsg(db));
		return store_sqlite_code(rc);
	}
	if (version < 0 || (size_t)version > N_MIGRATIONS) {
		snprintf(errmsg, len,
			 "database schema version %d is newer than this "
			 "program's %d",
			 version, STORE_SCHEMA_VERSION);
		return STORE_E_CORRUPT;
	}
	for (size_t v = (size_t)version; v < N_MIGRATIONS; v++) {
		char sql[64];
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", v + 1);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			snprintf(errmsg, len, "schema migration %zu: %s", v + 1,
				 sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return store_sqlite_code(rc);
		}
	}
	return 0;
}

static int exec_pragma(sqlite3 *db, const char *sql, const char *expect,
		       char *errmsg, size_t len)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && expect != NULL) {
		const char *got = (const char *)sqlite3_column_text(st, 0);
		if (got == NULL || strcmp(got, expect) != 0) {
			snprintf(errmsg, len, "%s: got %s, want %s", sql,
				 got ? got : "nothing", expect);
			sqlite3_finalize(st);
			return STORE_E_IO;
		}
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		return 0;
err:
	snprintf(errmsg, len, "%s: %s", sql, sqlite3_errmsg(db));
	return store_sqlite_code(rc);
}

int store_conn_open(struct store_conn **out, const char *path, bool writer,
		    const struct store_config *cfg, char *errmsg, size_t len)
{
	struct store_conn *c = calloc(1, sizeof(*c));
	int flags = SQLITE_OPEN_NOMUTEX |
		    (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			    : SQLITE_OPEN_READONLY);
	char sql[96];
	int rv;

	if (c == NULL) {
		snprintf(errmsg, len, "open: out of memory");
		return STORE_E_NOMEM;
	}
	int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errmsg, len, "open %s: %s", path,
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		rv = rc == SQLITE_CANTOPEN ? STORE_E_IO : store_sqlite_code(rc);
		goto err;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, (int)cfg->busy_timeout_ms);

	if (writer) {
		rv = exec_pragma(c->db, "PRAGMA journal_mode = WAL", "wal",
				 errmsg, len);
		if (rv == 0)
			rv = exec_pragma(c->db, "PRAGMA synchronous = FULL",
					 NULL, errmsg, len);
		/* The writer is the only connection that changes the file,
		 * so its page cache stays valid across transactions: keep
		 * the hot pages of the copies and the outbox (16 MiB at
		 * most) instead of reading them again at every write. */
		if (rv == 0)
			rv = exec_pragma(c->db, "PRAGMA cache_size = -16384",
					 NULL, errmsg, len);
		/* Checkpoint every 8192 pages (32 MiB of WAL) instead of
		 * SQLite's 1000: the checkpoint runs inside a COMMIT of this
		 * connection, and a longer WAL copies each page rewritten by
		 * many groups (user data, outbox) to the database once. The
		 * file is cut back to 64 MiB after a checkpoint. */
		if (rv == 0)
			rv = exec_pragma(c->db, "PRAGMA wal_autocheckpoint = 8192",
					 NULL, errmsg, len);
		if (rv == 0)
			rv = exec_pragma(c->db,
					 "PRAGMA journal_size_limit = 67108864",
					 NULL, errmsg, len);
		if (rv == 0 && cfg->max_page_count > 0) {
			snprintf(sql, sizeof(sql),
				 "PRAGMA max_page_count = %llu",
				 (unsigned long long)cfg->max_page_count);
			rv = exec_pragma(c->db, sql, NULL, errmsg, len);
		}
	} else {
		rv = exec_pragma(c->db, "PRAGMA query_only = ON", NULL, errmsg,
				 len);
	}
	if (rv == 0)
		rv = exec_pragma(c->db, "PRAGMA foreign_keys = ON", NULL,
				 errmsg, len);
	if (rv == 0 && writer)
		rv = store_schema_migrate(c->db, errmsg, len);
	if (rv == 0 && !writer) {
		/* The reader checks the schema too (and that it is a database
		 * at all), so a bad file fails at open, not at the first read.
		 */
		int version = 0;
		rc = user_version(c->db, &version);
		if (rc != SQLITE_OK) {
			snprintf(errmsg, len, "read schema version: %s",
				 sqlite3_errmsg(c->db));
			rv = store_sqlite_code(rc);
		} else if (version != STORE_SCHEMA_VERSION) {
			snprintf(errmsg, len, "schema version %d, want %d",
				 version, STORE_SCHEMA_VERSION);
			rv = STORE_E_CORRUPT;
		}
	}
	if (rv != 0)
		goto err;
	*out = c;
	return 0;
err:
	sqlite3_close(c->db);
	free(c);
	return rv;
}

void store_conn_close(struct store_conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

sqlite3_stmt *store_stmt(struct store_conn *c, const char *const *sqlp)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->sql[i] == sqlp) {
			sqlite3_reset(c->stmt[i]);
			sqlite3_clear_bindings(c->stmt[i]);
			return c->stmt[i];
		}
	}
	sqlite3_stmt *st = NULL;
	unsigned flags = c->n < STORE_STMT_MAX ? SQLITE_PREPARE_PERSISTENT : 0;
	if (sqlite3_prepare_v3(c->db, *sqlp, -1, flags, &st, NULL) != SQLITE_OK)
		return NULL;
	if (c->n == STORE_STMT_MAX) {
		/* Cache full (a programming error caught by the tests): keep
		 * working with the oldest entry replaced. */
		sqlite3_finalize(c->stmt[0]);
		c->stmt[0] = st;
		c->sql[0] = sqlp;
		return st;
	}
	c->sql[c->n] = sqlp;
	c->stmt[c->n] = st;
	c->n++;
	return st;
}

int store_stmt_exec(struct store_conn *c, const char *const *sqlp)
{
	sqlite3_stmt *st = store_stmt(c, sqlp);
	if (st == NULL)
		return sqlite3_errcode(c->db);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

uint64_t store_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t store_hash_mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}
