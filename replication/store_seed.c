/* store_seed: a copy rebuilt from its owner's store (store_seed.h). The
 * owner side reads item states in seed order on the read connection
 * (store_seed_read.c); the copy side stores them on the writer queue
 * (store_seed_apply.c) and keeps the seed row (`seeds`) with the mark, so
 * a cut seed resumes after it. This file: the seed order both sides
 * share, the figures of a batch, where seeds stand (the seed rows), the
 * read-side dispatcher and the entry points (loop thread). */
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"
#include "replication/store_seed.h"
#include "replication/store_seed_internal.h"

/* The kinds of the data lane, in seed order. */
const int seed_data_kinds[] = {
    POOLPAIR__REPL__KIND__KIND_PROFILE,	 POOLPAIR__REPL__KIND__KIND_CONTACTS,
    POOLPAIR__REPL__KIND__KIND_SETTINGS, POOLPAIR__REPL__KIND__KIND_CONFERENCE,
    POOLPAIR__REPL__KIND__KIND_CMS,	 POOLPAIR__REPL__KIND__KIND_USER,
};

static bool lane_ok(int lane)
{
	return lane == LANE_DATA || lane == LANE_CONTENT;
}

bool seed_kind_of_lane(int kind, int lane)
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
int seed_key_cmp(int kind, const char *a, const char *b)
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
int seed_kind_rank(int kind)
{
	for (size_t i = 0; i < SEED_N_DATA_KINDS; i++)
		if (seed_data_kinds[i] == kind)
			return (int)i;
	return -1;
}

static bool mark_ok(const struct store_seed_mark *m, int lane)
{
	if (!m->started)
		return true;
	if (!seed_kind_of_lane(m->kind, lane) ||
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

/* ---- where seeds stand ------------------------------------------------ */

static const char *const sql_states =
    "SELECT user_set, lane, from_seq, epoch, started, kind, key, offset,"
    " items, bytes FROM seeds ORDER BY user_set, lane";

/* The seed row's columns from col on (from_seq ... bytes) into s. */
void seed_row_state(sqlite3_stmt *st, int col, struct store_seed_state *s)
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
		seed_row_state(st, 2, s);
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
		seed_read_count(c, op);
		break;
	case STORE_OP_SEED_READ:
		seed_read_batch(c, op);
		break;
	case STORE_OP_SEED_STATES:
		read_states(c, op);
		break;
	default:
		store_op_fail(op, STORE_E_INVALID, "not a seed read");
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
	rv = store_op_copy_batch(op, b);
	if (rv != 0) {
		store_op_free(op);
		return rv;
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
