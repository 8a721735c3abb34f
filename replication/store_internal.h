/* store internals shared by store.c (loop thread: lifecycle, API entry
 * points), store_queue.c (the writer and reader queues, group commit),
 * store_schema.c (connections, migrations, statements), store_exec.c
 * (write-side work) and store_read.c (read-side work).
 *
 * Thread split: a struct store_op is built on the loop thread, then handed
 * whole (detached from the queue) to one thread-pool work which fills its
 * result fields, then handed back to the loop thread which calls its
 * callback and frees it. The two never touch an op at the same time; the
 * libuv work queue orders the hand-overs. A struct store_conn is touched
 * only by the work that currently owns its queue (or by open/close). */
#ifndef POOLPAIR_REPLICATION_STORE_INTERNAL_H
#define POOLPAIR_REPLICATION_STORE_INTERNAL_H

#include <sqlite3.h>

#include "replication/store.h"
#include "replication/store_seed.h"

/* ---- arena: all memory of one op, freed at once ----------------------- */

struct store_arena_blk;

struct store_arena {
	struct store_arena_blk *head;
};

/* NULL when out of memory. Zeroed, aligned for any type. */
void *store_arena_alloc(struct store_arena *a, size_t n);
char *store_arena_strdup(struct store_arena *a, const char *str);
void *store_arena_memdup(struct store_arena *a, const void *p, size_t n);
void store_arena_free(struct store_arena *a);

/* ---- connections ------------------------------------------------------ */

#define STORE_STMT_MAX 64
#define STORE_TXN_CACHE 8

/* Positions of one (user set, lane) stream as stored in `streams`. */
struct store_stream {
	uint64_t head, acked, applied;
};

/* Writer: what one group transaction keeps in memory. In fast mode the
 * ops of a group run without a savepoint each, and the stream positions
 * and newest epochs they read and write are kept here (read once, written
 * once before COMMIT by store_txn_flush). Any op that fails in fast mode
 * makes the group runner roll the whole transaction back and run the
 * group again in safe mode (a savepoint per op, no cache), so an op that
 * fails never leaves a partial change behind. */
struct store_txn {
	bool fast;
	struct {
		char user_set[STORE_NAME_MAX];
		int lane;
		struct store_stream s;
		bool dirty;
	} streams[STORE_TXN_CACHE];
	size_t n_streams;
	struct {
		char user_set[STORE_NAME_MAX];
		uint64_t epoch, floor;
	} epochs[STORE_TXN_CACHE];
	size_t n_epochs;
};

struct store_conn {
	sqlite3 *db;
	const char *const *sql[STORE_STMT_MAX]; /* cache keys: &static_sql */
	sqlite3_stmt *stmt[STORE_STMT_MAX];
	size_t n;
	uint64_t commit_ns;  /* writer: duration of the last COMMIT */
	struct store_txn txn; /* writer: the running group transaction */
	/* space (store_space.c): what the store's file and config are (set
	 * by store.c after the open, read only after that), the last
	 * measure, and (writer) the space the group's writes took so far */
	const char *space_path;
	const struct store_config *space_cfg;
	struct store_space space;
	uint64_t space_used;
};

/* Open a connection: the writer creates the file, sets WAL,
 * synchronous=FULL, foreign keys and migrates; a reader opens read-only.
 * Returns 0 and *out (owned: store_conn_close), or a negative code with
 * errmsg set. Blocks (thread pool or start-up only). */
int store_conn_open(struct store_conn **out, const char *path, bool writer,
		    const struct store_config *cfg, char *errmsg, size_t len);
void store_conn_close(struct store_conn *c);

/* The prepared statement for *sqlp (a static const char * holding SQL),
 * reset and with bindings cleared; NULL on error (see sqlite3_errmsg).
 * Reset it again (sqlite3_reset) when done so no read stays open. */
sqlite3_stmt *store_stmt(struct store_conn *c, const char *const *sqlp);

/* Step the cached statement for *sqlp (one without bindings or rows, e.g.
 * "SAVEPOINT op") and reset it. Returns an SQLite code. */
int store_stmt_exec(struct store_conn *c, const char *const *sqlp);

/* Map an SQLite result code to STORE_E_*. */
int store_sqlite_code(int rc);

/* Step a statement that returns no row (@st, a statement of store_stmt()
 * with its bindings set) and reset it. Returns SQLITE_OK or the SQLite
 * error. */
int store_step_done(sqlite3_stmt *st);

/* @v as the int64 SQLite stores (the same bits). */
static inline int64_t store_i64(uint64_t v) { return (int64_t)v; }

/* Run migrations up to STORE_SCHEMA_VERSION on an open writer. */
int store_schema_migrate(sqlite3 *db, char *errmsg, size_t len);

/* ---- operations ------------------------------------------------------- */

enum store_op_type {
	STORE_OP_WRITE,
	STORE_OP_APPLY,
	STORE_OP_ACK,
	STORE_OP_SET_EPOCH,
	STORE_OP_DIVERT,
	STORE_OP_DIVERT_STALE,
	STORE_OP_REPAIR,
	STORE_OP_SEED_BEGIN,
	STORE_OP_SEED_APPLY,
	STORE_OP_SEED_END, /* the last write-side type (store_op_is_write) */
	STORE_OP_GET,
	STORE_OP_LOCATION,
	STORE_OP_CONTENT_READ,
	STORE_OP_OUTBOX_READ,
	STORE_OP_POSITIONS,
	STORE_OP_DIGEST,
	STORE_OP_DIFF_KEYS,
	STORE_OP_DIVERGENCE,
	STORE_OP_SEED_COUNT,
	STORE_OP_SEED_READ,
	STORE_OP_SEED_STATES,
	STORE_OP_SPACE,
	STORE_OP_CONTENT_LIST,
};

/* Whether ops of @type run on the writer queue. */
static inline bool store_op_is_write(enum store_op_type type)
{
	return type <= STORE_OP_SEED_END;
}

/* One change (the fields of a ChangeRecord); strings NUL-terminated. */
struct store_change {
	const char *user_set;
	uint64_t epoch, seq, hlc;
	int op, kind, lane;
	const char *key;
	const uint8_t *value;
	size_t value_len;
	uint64_t offset, total;
};

struct store_op {
	struct store_op *next;
	enum store_op_type type;
	union {
		store_done_cb done;
		store_divert_cb divert;
		store_write_cb write;
		store_item_cb item;
		store_content_cb content;
		store_records_cb records;
		store_positions_cb positions;
		store_apply_cb apply;
		store_digest_cb digest;
		store_keys_cb keys;
		store_divergence_cb divergence;
		store_seed_totals_cb seed_totals;
		store_seed_batch_cb seed_batch;
		store_seed_states_cb seed_states;
		store_content_list_cb content_list;
	} cb;
	void *arg;
	struct store_arena arena; /* copies of the inputs and all results */

	/* inputs (copied into the arena) */
	struct store_change ch;	   /* write, repair; user_set/kind/key/lane/
				      seq/epoch of the other ops */
	struct store_change *recs; /* apply, seed apply */
	size_t n_recs;
	bool outbox_mode;	   /* apply: store_apply_batch_outbox */
	size_t max_records, max_bytes, limit;
	uint64_t offset;
	int64_t after_id;
	unsigned bucket;
	struct store_seed_mark *mark; /* seed read: after (in the arena) */

	/* outcome, filled by the worker */
	int status;
	bool done; /* worker: final within its group */
	bool keep; /* worker: release (not roll back) its savepoint */
	char errmsg[STORE_ERRMSG_LEN];
	union {
		struct store_write_result write;
		struct store_item item;
		struct store_content_piece piece;
		struct store_records records;
		struct store_positions positions;
		struct store_apply_result apply;
		uint64_t archived; /* divert stale */
		struct store_digest digest;
		struct store_key_list keys;
		struct store_divergence_list divergence;
		struct store_seed_totals seed_totals;
		struct store_seed_batch seed_batch;
		struct store_seed_states seed_states;
		struct store_space space;
		struct store_content_list content_list;
	} res;
};

/* ---- queues (store_queue.c) and lifecycle (store.c) ------------------ */

/* Loop thread: the queues' locks and the async handle (which does not keep
 * the loop alive). Returns 0, or STORE_E_IO with s->errmsg set and nothing
 * left to close. */
int store_queue_init(struct store *s);

/* Loop thread: destroys the queues' locks, once the async handle is
 * closed and no work runs. */
void store_queue_destroy(struct store *s);

/* Whether @q holds no op waiting for its work (any thread). */
bool store_queue_empty(struct store_queue *q);

/* A zeroed op of @type for callback argument @arg; NULL when out of
 * memory. Owned by the caller until store_queue_submit(). */
struct store_op *store_op_new(enum store_op_type type, void *arg);

/* Frees @op and its arena (an op never submitted, or a completed one). */
void store_op_free(struct store_op *op);

/* Loop thread: queues @op (ownership passes to the store: its callback
 * fires once, later, on the loop thread, then it is freed) on the writer
 * queue (write-side types) or the reader queue. Ops queued in one loop
 * turn start together. Returns 0. */
int store_queue_submit(struct store *s, struct store_op *op);

/* Loop thread: once a closing store's queues are idle and empty, closes
 * its connections on the thread pool and then its handle. Does nothing
 * before (store.c). */
void store_maybe_close(struct store *s);

/* ---- ops --------------------------------------------------------------- */

/* Set op->status and op->errmsg (printf-style); returns status. */
int store_op_fail(struct store_op *op, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fail op with the connection's last SQLite error, prefixed by what. */
int store_op_dberr(struct store_op *op, struct store_conn *c, int rc,
		   const char *what);

/* Check one change: op/kind combination, key form, sizes, lane. Returns 0
 * or STORE_E_INVALID with errmsg set. */
int store_change_check(const struct store_change *ch, char *errmsg, size_t len);

/* The parts of a record key "<a>/<b>[/<c>]" (not NUL-terminated). */
struct store_key_parts {
	const char *part[3];
	size_t len[3];
};

/* Split a key of 2 (conference) or 3 (content) parts. Returns 0 or
 * STORE_E_INVALID. */
int store_key_split(const char *key, int parts, struct store_key_parts *kp);

/* Load the position of (user_set, lane) on connection c (zeros for an
 * unknown stream); user_set is copied into p. Returns an SQLite code. */
int store_position_load(struct store_conn *c, const char *user_set, int lane,
			struct store_position *p);

/* A user set name: non-empty and shorter than STORE_NAME_MAX. */
bool store_name_ok(const char *s);

/* LANE_CONTENT for KIND_CONTENT, else LANE_DATA. */
int store_lane_of(int kind);

/* Execute one write-side op inside the caller's transaction and savepoint
 * (sets op->status, op->errmsg, op->keep and the results). */
void store_exec_write(struct store_conn *c, struct store_op *op);

/* Apply ch (checked with store_change_check) to the copy of its user set,
 * as a record of the stream does (store_exec.c). Returns 0 or op's new
 * status. */
int store_change_apply(struct store_conn *c, struct store_op *op,
		       const struct store_change *ch);

/* Copy one record into op's arena (strings NUL-terminated). Returns 0 or
 * STORE_E_NOMEM. */
/* Copy the records of b into op's arena (op->recs, op->n_recs): 0,
 * STORE_E_INVALID (a NULL record) or STORE_E_NOMEM; the caller frees op
 * on error. */
int store_op_copy_batch(struct store_op *op,
			const Poolpair__Repl__RecordBatch *b);

int store_record_copy(struct store_op *op, struct store_change *dst,
		      const Poolpair__Repl__ChangeRecord *r);

/* Append ch (checked, seq assigned) to the outbox of its stream (writer
 * connection, store_exec.c). Returns an SQLite code. */
int store_outbox_append(struct store_conn *c, const struct store_change *ch);

/* Delete the copy's items of (user_set, lane): on the data lane users,
 * user data, conferences and CMS documents, on the content lane content
 * items with their chunks (store_seed_apply.c, writer connection). Returns
 * an SQLite code. */
int store_copy_clear(struct store_conn *c, const char *user_set, int lane);

/* STORE_OP_DIVERT_STALE (store_outbox.c), inside the group's
 * transaction. */
void store_exec_divert_stale(struct store_conn *c, struct store_op *op);

/* The seed ops (store_seed*.c): write side inside the group's transaction
 * (store_seed_apply.c), read side on the read connection (store_seed.c). */
void store_seed_exec_write(struct store_conn *c, struct store_op *op);
void store_seed_exec_read(struct store_conn *c, struct store_op *op);

/* ---- epochs and stream positions on the writer (store_txn.c) ---------
 *
 * Writer connection c, thread pool, inside the group's transaction. In
 * fast mode they go through c->txn (read from the database once, positions
 * written back by store_txn_flush); in safe mode straight to the database.
 * Each returns an SQLite code. */

/* Start a group transaction's memory (after BEGIN): fast or safe mode,
 * nothing cached. */
void store_txn_begin(struct store_conn *c, bool fast);

/* Write the stream positions changed in fast mode to `streams` (before
 * COMMIT, and before any statement that reads that table directly).
 * Returns an SQLite code. */
int store_txn_flush(struct store_conn *c);

/* The newest epoch known of @user_set into *@epoch and its floor epoch
 * into *@floor (may be NULL); 0 when none. */
int store_txn_epoch_get(struct store_conn *c, const char *user_set,
			uint64_t *epoch, uint64_t *floor);

/* Raises the newest epoch of @user_set to @epoch and its floor epoch to
 * @floor (never lowers either; floor 0: the floor stays). */
int store_txn_epoch_raise(struct store_conn *c, const char *user_set,
			  uint64_t epoch, uint64_t floor);

/* The positions of (@user_set, @lane) into *@s (zeros for a stream never
 * seen). */
int store_txn_stream_get(struct store_conn *c, const char *user_set, int lane,
			 struct store_stream *s);

/* Sets the positions of (@user_set, @lane) to *@s (copied). */
int store_txn_stream_put(struct store_conn *c, const char *user_set, int lane,
			 const struct store_stream *s);

/* ---- space (store_space.c) ------------------------------------------ */

/* Measure the space of c's store into c->space (thread pool). */
void store_space_measure(struct store_conn *c);

/* A local write (op->ch) against the reserve: 0 and its space counted in
 * c->space_used, or STORE_E_RESERVE set on op (store.h, "Reserve"). */
int store_space_charge(struct store_conn *c, struct store_op *op);

/* Execute one read op on the read-only connection. */
void store_exec_read(struct store_conn *c, struct store_op *op);

/* ---- hashing (verify digests) ----------------------------------------- */

#define STORE_HASH_INIT 0xcbf29ce484222325ULL

/* Continue a 64-bit FNV-1a hash over n bytes. */
uint64_t store_hash(uint64_t h, const void *p, size_t n);

/* Final avalanche of a hash value. */
uint64_t store_hash_mix(uint64_t h);

#endif
