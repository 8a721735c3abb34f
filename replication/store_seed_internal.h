/* store_seed_internal: what the seed files of the store share; not used
 * outside them. The contract is store_seed.h.
 *
 *   store_seed.c        the seed order both sides share, the figures of a
 *                       batch, where seeds stand (the seed rows), the
 *                       read-side dispatcher, the entry points
 *   store_seed_read.c   owner side: the totals of a lane, the item states
 *                       after a mark in seed order
 *   store_seed_apply.c  copy side: begin, apply and end on the writer, the
 *                       write-side dispatcher
 *
 * The helpers are pure except where a connection is named: those run on
 * the thread pool, on the connection their op was queued for. */
#ifndef POOLPAIR_REPLICATION_STORE_SEED_INTERNAL_H
#define POOLPAIR_REPLICATION_STORE_SEED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

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

/* ---- seed order (store_seed.c) ---------------------------------------- */

/* The kinds of the data lane, in seed order. */
extern const int seed_data_kinds[6];
#define SEED_N_DATA_KINDS (sizeof(seed_data_kinds) / sizeof(seed_data_kinds[0]))

/* Whether kind is a kind the lane carries. */
bool seed_kind_of_lane(int kind, int lane);

/* Position of a data kind in seed order; -1 when not a data kind. */
int seed_kind_rank(int kind);

/* Two keys of one kind in seed order (the order of the store's indexes,
 * part by part, each part as SQLite's BINARY collation compares): < 0,
 * 0 or > 0 like strcmp. a and b NUL-terminated. */
int seed_key_cmp(int kind, const char *a, const char *b);

/* The columns of a seed row from col on (from_seq, epoch, started, kind,
 * key, offset, items, bytes, in that order) of st's current row into s;
 * user_set and lane untouched. */
void seed_row_state(sqlite3_stmt *st, int col, struct store_seed_state *s);

/* ---- owner side (store_seed_read.c), read connection c ---------------- */

/* STORE_OP_SEED_COUNT: the totals of op's (user set, lane) into
 * op->res.seed_totals; op's status and errmsg set on failure. */
void seed_read_count(struct store_conn *c, struct store_op *op);

/* STORE_OP_SEED_READ: the item states after *op->mark, at most
 * op->max_records records and op->max_bytes bytes (at least one record),
 * into op->res.seed_batch (records in op's arena); op's status and errmsg
 * set on failure (then no record). */
void seed_read_batch(struct store_conn *c, struct store_op *op);

#endif
