/* store: the pool agent's SQLite database (WAL mode) — the copies of the
 * user sets this pool holds, the transactional outbox, the stream
 * positions, the newest known epoch and the floor epoch per user set and
 * the divergence archive.
 *
 * Threads. Every function here is loop-thread only (the thread running the
 * loop given to store_open()). SQLite never runs on the loop thread, except
 * in the blocking store_open(). Operations are queued on the loop thread and
 * executed on libuv's thread pool: writes on one writer connection, reads on
 * one read-only connection (WAL lets both run at the same time). Every
 * callback fires on the loop thread.
 *
 * Life of an operation (as in libuv):
 *
 *   store_xxx() == 0  ->  the callback fires exactly once, later, from a loop
 *                         callback, with the outcome.
 *   store_xxx()  < 0  ->  the callback never fires; nothing was queued.
 *
 * Order. Operations of one kind (writes, or reads) complete in the order
 * they were queued. A read queued after a write's callback fired sees that
 * write.
 *
 * Group commit. Every write-side operation (store_write, store_apply_batch,
 * store_apply_batch_outbox, store_outbox_ack, store_set_epoch,
 * store_divert_tail, store_divert_stale, store_repair, the seed steps)
 * queued in one turn of the loop is executed together in one transaction
 * (the queue is handed to the thread pool only once the loop comes back
 * to its poll phase, never in the middle of a callback), and what is
 * queued while a transaction is running goes together in the next one:
 * one COMMIT, one fsync (synchronous=FULL). An operation that
 * fails (stale epoch, bad input) changes nothing and does not fail the
 * others (the group then runs again with each operation in its own
 * SAVEPOINT). Callbacks fire only after COMMIT returned: a successful write
 * is durable when its callback says so. If the COMMIT itself fails, every
 * operation of the group reports that error and nothing of the group was
 * stored. Up to max_group operations go in one transaction; the next group
 * starts as soon as the previous one committed, without waiting for the
 * loop thread to run its callbacks.
 *
 * Copies and user sets. All data is keyed by user set (a pool's name, or
 * "cms"). A store holds one copy of each user set it knows: the user set
 * it owns (changed by store_write, which feeds the outbox) and the backup
 * copy of its pair's user set (changed by store_apply_batch). Which one is
 * "own" and which "backup" is decided outside (by the owner epoch in the
 * control plane) and may change at failover; the store treats both alike,
 * so store_digest() digests either copy and two stores holding copies of
 * the same user set compare with the same call.
 *
 * Record keys (ChangeRecord.key), per kind:
 *   KIND_USER                         sip URI; PUT value = home pool name
 *                                     (enables the user), DELETE disables it
 *   KIND_PROFILE/CONTACTS/SETTINGS    sip URI
 *   KIND_CONFERENCE                   "<sip>/<conf_id>"
 *   KIND_CONTENT                      "<sip>/<conf_id>/<name>"
 *   KIND_CMS                          document name
 * A sip URI and a conf_id are non-empty and contain no '/'; a content name
 * is non-empty and may contain '/'. Keys are at most STORE_KEY_MAX bytes and
 * contain no NUL. store_key_conference() and store_key_content() build them.
 *
 * Lanes. KIND_CONTENT records (chunks and deletes) travel on LANE_CONTENT,
 * all others on LANE_DATA. Sequence numbers are dense from 1 per (user
 * set, lane). A write continues the sequence after the highest sequence
 * this store has written or applied for that stream, so a new owner after
 * a failover continues where the old one's stream stopped.
 *
 * Content. A content item is written as OP_CONTENT_CHUNK records, one per
 * chunk (STORE_CONTENT_CHUNK bytes recommended, at most STORE_VALUE_MAX),
 * each its own record: offset 0 starts (or restarts) the item with its
 * total size; later chunks must fit in total. The item is complete when
 * the chunks cover total bytes. Items are never held whole in memory:
 * store_content_read() returns at most STORE_READ_MAX bytes per call.
 *
 * Epochs. Per user set the store knows two epochs, each only ever raised:
 * the newest known epoch (raised by store_set_epoch, by a write or an
 * applied record of a newer epoch, and by a seed's begin) and the floor
 * epoch (raised by store_set_epoch only): the epoch of the user set's last
 * change of owner. A local write (store_write) or repair (store_repair)
 * under an epoch older than the newest is refused; a record received
 * (store_apply_batch, store_apply_batch_outbox) is stale, and archived
 * instead of applied, only when its epoch is older than the floor. Records
 * between the floor and the newest epoch were written by a writer that was
 * replaced within the same owner (a local takeover): the new writer
 * continued after them, so they stand. Seeds check no epoch.
 *
 * Memory: the store keeps no reference to caller memory after a call
 * returns (what it needs is copied). Results handed to callbacks are
 * borrowed: valid only during the callback; copy what you keep.
 *
 * Reserve. The space left for the store is the free space of the
 * filesystem holding it (statvfs f_bavail) plus the free pages inside the
 * database file (SQLite fills them before it grows the file). It is
 * measured on the thread pool: before each write group (on the writer)
 * and by store_space_refresh() (on the reader); store_space() returns the
 * last figures on the loop thread. A local write (store_write) that is not
 * an OP_DELETE is refused with STORE_E_RESERVE, changing nothing, when
 * the space left minus what the group's earlier writes took, minus three
 * times its key and value (the copy, the outbox record, the write-ahead
 * log) and 4 KiB, would fall below the reserve. Nothing else is refused
 * for the reserve: deletes (they free space), records received from the
 * pair (store_apply_batch*, acknowledged only once stored, so never lost:
 * the pair keeps them in its outbox), seeds, repairs, epochs and acks use
 * the reserve, as does the Raft log when it shares the filesystem. When
 * the disk is really full those fail with STORE_E_FULL as before. A
 * measure that fails (statvfs) refuses nothing; its errno is reported.
 */
#ifndef POOLPAIR_REPLICATION_STORE_H
#define POOLPAIR_REPLICATION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication.pb-c.h"

/* Schema version this code creates and understands; an older store is
 * migrated when opened (2: the seeds table of store_seed.h; 3: the floor
 * epoch of each user set, set to its newest known epoch by the
 * migration). */
#define STORE_SCHEMA_VERSION 3

#define STORE_NAME_MAX 128			/* user set names, incl. NUL */
#define STORE_KEY_MAX 1024			/* record keys, excl. NUL */
#define STORE_VALUE_MAX ((size_t)4 << 20)	/* one record's value */
#define STORE_CONTENT_CHUNK ((size_t)256 << 10) /* recommended chunk */
#define STORE_READ_MAX ((size_t)4 << 20)	/* one store_content_read() */
#define STORE_DIGEST_BUCKETS 64
#define STORE_ERRMSG_LEN 256

/* Errors of this module: negative, in its range -5401..-5499 (README,
 * "Error codes"). */
enum {
	STORE_E_STALE_EPOCH = -5401, /* epoch older than the newest known */
	STORE_E_GAP = -5402,	     /* a record's seq skips past applied + 1 */
	STORE_E_FULL = -5403,	     /* disk or database full (SQLITE_FULL) */
	STORE_E_IO = -5404,	     /* disk I/O or other SQLite error */
	STORE_E_NOMEM = -5405,	     /* out of memory */
	STORE_E_CORRUPT = -5406,     /* database corrupt, not a database, or
					written by a newer schema version */
	STORE_E_NOT_FOUND = -5407,   /* no such item */
	STORE_E_CLOSING = -5408,     /* store closing or not open */
	STORE_E_INVALID = -5409,     /* bad argument or malformed record */
	STORE_E_RESERVE = -5410,     /* a local write would eat into the
					reserve of the disk (see "Reserve") */
};

/* Message of a STORE_E_* code ("unknown error" for others). */
const char *store_strerror(int rv);

/* Name of a change record's kind (POOLPAIR__REPL__KIND__*) as the API and
 * the logs say it: "user", "profile", "contacts", "settings",
 * "conference", "content", "cms"; "unknown" for any other value. */
const char *store_kind_name(int kind);

struct store_config {
	unsigned busy_timeout_ms; /* 0: 5000 */
	unsigned max_group;	  /* most operations per transaction; 0: 1024 */
	uint64_t max_page_count;  /* 0: unlimited; else PRAGMA max_page_count
				     (caps the file size; used by tests to
				     provoke SQLITE_FULL) */
	/* The reserve of the disk (see "Reserve" below): reserve_percent
	 * (1..100) percent of the size of the filesystem holding the store
	 * when not 0, else reserve bytes (0: no reserve). */
	uint64_t reserve;
	unsigned reserve_percent;
};

/* ---- results handed to callbacks (all borrowed during the callback) --- */

/* Generic completion: errmsg is "" on success, else a lowercase message
 * naming what failed (borrowed). */
typedef void (*store_done_cb)(void *arg, int status, const char *errmsg);

struct store_write_result {
	uint64_t epoch;	    /* epoch the write was accepted under */
	uint64_t seq;	    /* its sequence number in (user_set, lane) */
	int lane;	    /* POOLPAIR__REPL__LANE__LANE_* */
	uint64_t bytes;	    /* key + value bytes of its change record, as
			       counted in a stream's lag_bytes */
	const char *errmsg; /* "" on success */
};
/* status 0: committed durably, res->epoch/seq assigned. status < 0:
 * nothing written (res->seq is 0). res is never NULL. */
typedef void (*store_write_cb)(void *arg, int status,
			       const struct store_write_result *res);

/* One stored item (user data, conference, CMS document, user). */
struct store_item {
	const char *user_set;
	int kind;	      /* POOLPAIR__REPL__KIND__KIND_* */
	const char *key;      /* record key */
	const uint8_t *value; /* for KIND_USER: the home pool name */
	size_t value_len;
	bool enabled;		  /* KIND_USER only */
	uint64_t epoch, seq, hlc; /* of the last change */
	const char *errmsg;	  /* "" on success */
};
/* status 0: it holds the item. STORE_E_NOT_FOUND or another error: only
 * it->errmsg is meaningful. it is never NULL. */
typedef void (*store_item_cb)(void *arg, int status,
			      const struct store_item *it);

struct store_content_piece {
	const uint8_t *data; /* bytes [offset, offset + len) of the item */
	size_t len;	     /* 0 at or past the end of the stored bytes */
	uint64_t offset;
	uint64_t total;	 /* declared size of the item */
	uint64_t stored; /* bytes stored so far */
	bool complete;	 /* stored == total */
	const char *errmsg;
};
typedef void (*store_content_cb)(void *arg, int status,
				 const struct store_content_piece *p);

struct store_records {
	Poolpair__Repl__ChangeRecord **records; /* seq order, dense */
	size_t n;
	size_t bytes; /* sum of key and value sizes */
	const char *errmsg;
};
typedef void (*store_records_cb)(void *arg, int status,
				 const struct store_records *r);

struct store_position {
	char user_set[STORE_NAME_MAX];
	int lane;
	uint64_t epoch;		     /* newest known epoch of the user set */
	uint64_t floor;		     /* its floor epoch (store_set_epoch) */
	uint64_t head_seq;	     /* sender: last seq written here */
	uint64_t acked_seq;	     /* sender: last seq the pair acked */
	uint64_t applied_seq;	     /* receiver: last seq received */
	uint64_t lag_records;	     /* records in the outbox (unacked) */
	uint64_t lag_bytes;	     /* their key + value bytes */
	uint64_t oldest_unacked_hlc; /* 0 when nothing is unacked */
};

struct store_positions {
	const struct store_position *v; /* ordered by user set, lane */
	size_t n;
	const char *errmsg;
};
typedef void (*store_positions_cb)(void *arg, int status,
				   const struct store_positions *p);

struct store_apply_result {
	size_t applied;	   /* records applied to the copy */
	size_t duplicates; /* seq <= applied_seq: skipped */
	size_t archived;   /* epoch below the floor: moved to the divergence
			      archive ("stale epoch") */
	/* Positions after this batch for every (user set, lane) it named
	 * up to where it stopped: what to acknowledge. Present with status
	 * 0, STORE_E_GAP and STORE_E_INVALID (what came before the bad
	 * record is committed); n == 0 with other errors. */
	const struct store_position *positions;
	size_t n;
	const char *errmsg;
};
typedef void (*store_apply_cb)(void *arg, int status,
			       const struct store_apply_result *r);

struct store_digest_bucket {
	uint64_t count; /* items whose key hashes into this bucket */
	uint64_t hash;	/* over kind, key, value, enabled of each, key order */
};

struct store_digest {
	const char *user_set;
	struct store_digest_bucket buckets[STORE_DIGEST_BUCKETS];
	uint64_t items;
	const char *errmsg;
};
typedef void (*store_digest_cb)(void *arg, int status,
				const struct store_digest *d);

struct store_key_hash {
	int kind;
	const char *key;
	uint64_t hash; /* the item's hash, as folded into its bucket */
};

struct store_key_list {
	const struct store_key_hash *v; /* ordered by kind, key */
	size_t n;
	const char *errmsg;
};
typedef void (*store_keys_cb)(void *arg, int status,
			      const struct store_key_list *l);

struct store_divergence {
	int64_t id;
	const char *user_set;
	int lane;
	uint64_t epoch, seq, hlc;
	int op, kind;
	const char *key;
	const uint8_t *value;
	size_t value_len;
	uint64_t offset, total;
	int64_t archived_at_ms; /* unix time */
	const char *reason;	/* "stale epoch", "never shipped" */
};

struct store_divergence_list {
	const struct store_divergence *v; /* by id ascending */
	size_t n;
	const char *errmsg;
};
typedef void (*store_divergence_cb)(void *arg, int status,
				    const struct store_divergence_list *l);

/* Counters, updated on the loop thread; read them there directly. */
struct store_stats {
	uint64_t writes;       /* store_write operations completed */
	uint64_t write_errors; /* of which failed */
	uint64_t transactions; /* committed write transactions */
	uint64_t group_ops;    /* write-side operations in them */
	uint64_t group_max;    /* largest group */
	uint64_t commit_ns;    /* total time in COMMIT (the fsyncs) */
	uint64_t commit_max_ns;
	uint64_t reads;	  /* read operations completed */
	uint64_t applied; /* records applied by store_apply_batch */
	uint64_t duplicates;
	uint64_t archived; /* records put in the divergence archive */
};

/* Space figures (see "Reserve"). */
struct store_space {
	uint64_t fs_free;	 /* filesystem: bytes free (f_bavail) */
	uint64_t fs_size;	 /* filesystem: bytes in all (f_blocks) */
	uint64_t db_free;	 /* free pages inside the database file */
	uint64_t reserve;	 /* the reserve in bytes (from the config) */
	int64_t measured_ms;	 /* unix time of the measure; 0: never */
	int err;		 /* errno of a failed statvfs, else 0 */
};

struct store_content_entry {
	const char *sip, *conf_id, *name;
	uint64_t total, stored; /* declared size, bytes stored */
	uint64_t epoch, seq, hlc; /* of its last change */
};

struct store_content_list {
	const struct store_content_entry *v; /* oldest change first */
	size_t n;
	const char *errmsg;
};
typedef void (*store_content_list_cb)(void *arg, int status,
				      const struct store_content_list *l);

/* ---- the store -------------------------------------------------------- */

struct store_op;
struct store_conn;

/* One connection with its queue: the writer or the reader. Private.
 *
 * An op queued while the queue is idle is not handed over at once: the
 * store's async handle is signalled (and referenced, so the loop stays
 * alive for it) and its callback starts the work, after everything the
 * loop runs in this turn had the chance to queue more. One work request
 * at a time runs the queue on the thread pool: it takes
 * a group of queued ops, executes it, hands it back through `done` and
 * the store's async handle, and goes on with what was queued meanwhile,
 * so the next group does not wait for the loop thread; it ends when the
 * queue is empty. */
struct store_queue {
	struct store *s;
	struct store_conn *conn; /* owned; touched only by the running work */
	uv_mutex_t lock;	 /* guards head, tail, done, done_tail, acc */
	struct store_op *head;	 /* queued */
	struct store_op *tail;
	struct store_op *done; /* executed, callbacks not yet fired */
	struct store_op *done_tail;
	struct {
		uint64_t transactions, group_ops, group_max, commit_ns,
		    commit_max_ns;
	} acc;		 /* writer figures not yet in s->stats */
	struct store_space space; /* measured, not yet in s->space */
	bool space_new;
	bool busy; /* loop thread: a work request is in flight */
	bool writer;
	uv_work_t work;
};

enum store_state {
	STORE_STATE_CLOSED = 0,
	STORE_STATE_OPENING,
	STORE_STATE_OPEN,
	STORE_STATE_CLOSING,
};

struct store {
	uv_loop_t *loop; /* borrowed */
	enum store_state state;
	struct store_config cfg;
	struct store_queue wq;
	struct store_queue rq;
	struct store_stats stats;
	void (*close_cb)(struct store *s);
	uv_work_t close_work;
	uv_async_t async; /* wakes the loop thread for executed ops, and
			     starts the queues (kick_pending) */
	bool kick_pending; /* loop thread: async signalled to start a queue;
			      the handle is referenced meanwhile */
	int open_status;
	void (*open_cb)(struct store *s, int status);
	char *path; /* owned */
	char errmsg[STORE_ERRMSG_LEN];
	struct store_space space; /* loop thread: the last measure */
};

/* Open (create if missing) the database at path: WAL, synchronous=FULL,
 * foreign keys, busy timeout; runs the schema migrations up to
 * STORE_SCHEMA_VERSION. BLOCKS the calling thread for the file opening and
 * migrations: call it at start-up before serving, or use store_open_async.
 * s is caller memory, valid until the close callback; cfg may be NULL for
 * defaults (copied). Returns 0, or a negative code with s->errmsg (and
 * errbuf when not NULL) set and nothing left open; a database whose schema
 * is newer than this code gives STORE_E_CORRUPT. */
int store_open(struct store *s, uv_loop_t *loop, const char *path,
	       const struct store_config *cfg, char *errbuf, size_t errlen);

/* Same as store_open without blocking the loop: the work runs on the thread
 * pool; cb fires once on the loop thread with 0 (the store is open) or a
 * negative code with s->errmsg set (nothing is open; s may be reused or
 * freed). Returns 0, or a negative code (cb never fires). Operations may be
 * called only after cb reported 0. */
int store_open_async(struct store *s, uv_loop_t *loop, const char *path,
		     const struct store_config *cfg,
		     void (*cb)(struct store *s, int status));

/* Refuse new operations (STORE_E_CLOSING), run those already queued to
 * completion (their callbacks fire), close both connections on the thread
 * pool and then call cb (may be NULL) on the loop thread; s may be freed
 * there. Calling it on a store that is not open calls nothing and returns.
 */
void store_close(struct store *s, void (*cb)(struct store *s));

/* ---- space (see "Reserve") -------------------------------------------- */


/* Space left above the reserve: fs_free + db_free - reserve, 0 when that
 * is negative; UINT64_MAX when nothing is known (no measure yet, or it
 * failed: nothing is refused then). */
uint64_t store_space_room(const struct store_space *sp);

/* Whether sp says the store is under its reserve (measured, no error, a
 * reserve set, fs_free + db_free below it). */
bool store_space_under(const struct store_space *sp);

/* The last figures measured (loop thread; zeros before the first). */
const struct store_space *store_space(const struct store *s);

/* Measure again on the thread pool (the read queue): store_space() has
 * the new figures when cb (may be NULL) fires with 0, or with an error
 * (the figures keep their err). Returns 0, STORE_E_NOMEM or
 * STORE_E_CLOSING (cb never fires). */
int store_space_refresh(struct store *s, store_done_cb cb, void *arg);

/* ---- keys ------------------------------------------------------------- */

/* Build "<sip>/<conf_id>" into buf. Returns 0, or STORE_E_INVALID when a
 * part is empty, holds '/', or the key does not fit buf / STORE_KEY_MAX. */
int store_key_conference(char *buf, size_t len, const char *sip,
			 const char *conf_id);

/* Build "<sip>/<conf_id>/<name>" into buf; same rules (name may hold '/'). */
int store_key_content(char *buf, size_t len, const char *sip,
		      const char *conf_id, const char *name);

/* ---- local writes (owner side) ---------------------------------------- */

struct store_write {
	const char *user_set; /* required */
	uint64_t epoch;	      /* the caller's current owner epoch, >= 1 */
	uint64_t hlc;
	int op;		   /* POOLPAIR__REPL__OP__OP_* */
	int kind;	   /* POOLPAIR__REPL__KIND__KIND_* */
	const char *key;   /* record key, see the top of this file */
	const void *value; /* may be NULL when value_len is 0 */
	size_t value_len;  /* <= STORE_VALUE_MAX */
	uint64_t offset;   /* OP_CONTENT_CHUNK only */
	uint64_t total;	   /* OP_CONTENT_CHUNK only */
};

/* Queue one write. In one transaction (shared with its group): refuse it
 * with STORE_E_STALE_EPOCH when w->epoch is older than the newest known
 * epoch of the user set (a newer one raises the newest known); apply the
 * change to the user set's copy; append the ChangeRecord to the outbox with
 * the next seq of (user_set, lane). cb fires after COMMIT. Every field of w
 * is copied. Returns 0, STORE_E_INVALID (bad field: op/kind combination,
 * key, sizes), STORE_E_NOMEM or STORE_E_CLOSING. */
int store_write(struct store *s, const struct store_write *w, store_write_cb cb,
		void *arg);

/* ---- reads (read-only connection) ------------------------------------- */

/* The item of (user_set, kind, key), kind not KIND_CONTENT. Strings copied.
 * cb: 0, STORE_E_NOT_FOUND or an error. */
int store_get(struct store *s, const char *user_set, int kind, const char *key,
	      store_item_cb cb, void *arg);

/* store_get for KIND_PROFILE / KIND_CONTACTS / KIND_SETTINGS of sip. */
int store_get_user_data(struct store *s, const char *user_set, const char *sip,
			int kind, store_item_cb cb, void *arg);

/* store_get for KIND_CONFERENCE of (sip, conf_id). */
int store_get_conference(struct store *s, const char *user_set, const char *sip,
			 const char *conf_id, store_item_cb cb, void *arg);

/* The user record (KIND_USER) of sip in user_set: value = home pool. */
int store_get_user(struct store *s, const char *user_set, const char *sip,
		   store_item_cb cb, void *arg);

/* Where sip lives: its user record in whichever user set holds it (the
 * most recently changed one if several do). it->user_set names the user
 * set, it->value the home pool. */
int store_user_location(struct store *s, const char *sip, store_item_cb cb,
			void *arg);

/* Up to maxlen (capped at STORE_READ_MAX) bytes of a content item from
 * offset. Stream an item by calling again with offset + p->len until
 * p->len is 0. cb: 0, STORE_E_NOT_FOUND, or an error. */
int store_content_read(struct store *s, const char *user_set, const char *sip,
		       const char *conf_id, const char *name, uint64_t offset,
		       size_t maxlen, store_content_cb cb, void *arg);

/* ---- outbox (sender side) --------------------------------------------- */

/* Records of (user_set, lane) with seq > after_seq, in seq order: at most
 * max_records (0: 1024) and about max_bytes (0: 4 MiB; at least one record
 * is returned when any is there). The records are borrowed during the
 * callback (pack them or copy them there). n == 0 when none. */
int store_outbox_read(struct store *s, const char *user_set, int lane,
		      uint64_t after_seq, size_t max_records, size_t max_bytes,
		      store_records_cb cb, void *arg);

/* The pair acknowledged everything of (user_set, lane) up to acked_seq:
 * delete those records from the outbox and remember acked_seq (never
 * lowered; an older ack is a no-op). cb: 0, or STORE_E_INVALID when
 * acked_seq is past the last seq written here. */
int store_outbox_ack(struct store *s, const char *user_set, int lane,
		     uint64_t acked_seq, store_done_cb cb, void *arg);

/* Positions of every known (user set, lane) stream: head, acked, applied,
 * newest and floor epochs, lag (records, bytes, oldest unacked hlc). */
int store_stream_positions(struct store *s, store_positions_cb cb, void *arg);

/* ---- receiver --------------------------------------------------------- */

/* Apply a batch received from the pair. b is borrowed for the call only
 * (the store copies it). In one transaction, per record in order, with
 * applied = the applied_seq of its (user_set, lane):
 *   seq <= applied          -> skipped, counted as duplicate;
 *   seq >  applied + 1      -> stop: STORE_E_GAP (records before it are
 *                              committed, none after);
 *   epoch < floor epoch     -> not applied: archived in the divergence
 *                              archive ("stale epoch"), applied advances;
 *   otherwise               -> applied to the copy (also when its epoch
 *                              is older than the newest known, as long
 *                              as it is not below the floor), applied
 *                              advances, a newer epoch raises the newest
 *                              known (never the floor).
 * A malformed record stops the batch like a gap with STORE_E_INVALID.
 * A content chunk at an offset > 0 that does not continue the copy's item
 * (its total or stored bytes other than the chunk's) is refused the same
 * way, unless that item holds a state at or after the record's (epoch,
 * seq); one for an item the copy does not hold is skipped too: both are
 * records a seed's item states supersede (store_seed.h), applied as
 * no-ops.
 * STORE_E_FULL or another error: nothing of the batch is stored. */
int store_apply_batch(struct store *s, const Poolpair__Repl__RecordBatch *b,
		      store_apply_cb cb, void *arg);

/* Outbox mode (a hot standby's copy, fed by its own pool's writer): the
 * same as store_apply_batch (same checks, idempotence, archive of records
 * below the floor epoch, result), and every record of the batch that is not a
 * duplicate is also kept in this store's outbox exactly as received (user set,
 * lane, seq, epoch, hlc, op, kind, key, value, offset, total), as if written
 * here: the stream's head_seq becomes its seq (applied_seq is left as it
 * is), lag counts it, store_outbox_read returns it, store_outbox_ack trims
 * it and a later store_write continues after it. A record archived for its
 * stale epoch is kept in the outbox too (its stream stays dense; whoever
 * receives it judges its epoch). A stream's position here is the larger of
 * head_seq and applied_seq: records at or below it are duplicates, and
 * positions report both (acknowledge the larger). After a seed
 * (store_seed.h; seeds are stored with store_seed_* in either mode) the
 * stream stands at its F: the next record is F + 1. */
int store_apply_batch_outbox(struct store *s,
			     const Poolpair__Repl__RecordBatch *b,
			     store_apply_cb cb, void *arg);

/* ---- epochs, failback, repair ----------------------------------------- */

/* Raise the newest known epoch of user_set to epoch and its floor epoch to
 * floor (never lowers either: each becomes the larger of what it was and
 * the value given). floor is the epoch of the user set's last change of
 * owner (failover, failback, move of the CMS), epoch its newest (a local
 * takeover raises it and leaves the floor); records received below the
 * floor are stale (store_apply_batch), writes below epoch are refused.
 * Returns 0, STORE_E_INVALID (floor > epoch, epoch past INT64_MAX, no
 * user set or cb), STORE_E_NOMEM or STORE_E_CLOSING. */
int store_set_epoch(struct store *s, const char *user_set, uint64_t epoch,
		    uint64_t floor, store_done_cb cb, void *arg);

/* Failback of a returning pool: the pair continued (user_set, lane) after
 * keep_seq. Move every outbox record of the stream with seq > keep_seq to
 * the divergence archive ("never shipped"), and set head, acked and applied
 * positions to keep_seq so the pair's records apply next. The data rows
 * those records changed keep their values until the pair's records or a
 * verify repair overwrite them. */
int store_divert_tail(struct store *s, const char *user_set, int lane,
		      uint64_t keep_seq, store_done_cb cb, void *arg);

/* Completion of store_divert_stale: archived is how many outbox records
 * went to the divergence archive (0 on error); errmsg borrowed, "" on
 * success. */
typedef void (*store_divert_cb)(void *arg, int status, uint64_t archived,
				const char *errmsg);

/* Return of a former writer as a standby: its pool's new writer continued
 * (user_set, lane) after keep_seq under epoch. In one transaction, move
 * every outbox record of the stream with seq > keep_seq AND epoch < epoch
 * to the divergence archive ("never shipped"). If it moved at least one,
 * reset the stream for a full reseed: drop its remaining outbox records,
 * set its head, acked and applied positions to 0, drop a seed in progress
 * (store_seed.h) and the copy's items of the lane (those of the data lane:
 * users, user data, conferences, CMS documents; of the content lane:
 * content items), so that whatever the new writer sends next (a seed from
 * its F, or its outbox from seq 1) rebuilds the copy exactly. Otherwise
 * nothing changes: a second call archives nothing and changes nothing
 * (idempotent). The newest known epoch is not changed. cb: 0 with
 * archived, or an error (nothing changed). Returns 0, STORE_E_INVALID
 * (bad user set, lane, keep_seq or epoch past INT64_MAX, no cb),
 * STORE_E_NOMEM or STORE_E_CLOSING. */
int store_divert_stale(struct store *s, const char *user_set, int lane,
		       uint64_t keep_seq, uint64_t epoch, store_divert_cb cb,
		       void *arg);

/* Verify repair: write rec's change (PUT, DELETE or a content chunk) into
 * the copy of rec->user_set without touching outbox or positions; or,
 * with OP_PURGE_USER (repair only, never accepted in a stream), remove the
 * user record rec->key that the owner does not have at all. Refused
 * with STORE_E_STALE_EPOCH when rec->epoch is older than the newest known.
 * rec is borrowed for the call only. */
int store_repair(struct store *s, const Poolpair__Repl__ChangeRecord *rec,
		 store_done_cb cb, void *arg);

/* ---- verify and divergence -------------------------------------------- */

/* Digest of the copy of user_set held here: every item hashed (kind, key,
 * value, enabled; content items over their bytes) and folded in key order
 * into STORE_DIGEST_BUCKETS buckets chosen by a hash of (kind, key). Equal
 * copies give equal digests on any two stores. */
int store_digest(struct store *s, const char *user_set, store_digest_cb cb,
		 void *arg);

/* The items of one digest bucket with their hashes, to find by key what
 * differs between two copies. */
int store_diff_keys(struct store *s, const char *user_set, unsigned bucket,
		    store_keys_cb cb, void *arg);

/* Content items of user_set that are incomplete (stored < total) and
 * whose last change is older than before_hlc (hlc.h: wall ms << 16),
 * oldest first, at most limit (0: 100; capped at 1000): uploads that
 * stopped. Remove one with an OP_DELETE store_write of its key. */
int store_content_incomplete(struct store *s, const char *user_set,
			     uint64_t before_hlc, size_t limit,
			     store_content_list_cb cb, void *arg);

/* Divergence archive entries with id > after_id, oldest first, at most
 * limit (0: 100; capped at 10000). */
int store_divergence_list(struct store *s, int64_t after_id, size_t limit,
			  store_divergence_cb cb, void *arg);

#endif
