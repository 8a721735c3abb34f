/* store_queue: the writer and reader queues of the store. Ops are queued
 * on the loop thread; one thread-pool work per queue takes them in groups
 * (a writer group is one transaction, fast mode first, see struct
 * store_txn); their callbacks fire back on the loop thread, in order. The
 * rest of the store (store.c) opens, closes and builds the ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/store_internal.h"

static void queue_kick(struct store_queue *q);

static uint64_t now_ns(void) { return uv_hrtime(); }

static const char *const sql_begin = "BEGIN IMMEDIATE";
static const char *const sql_commit = "COMMIT";
static const char *const sql_rollback = "ROLLBACK";
static const char *const sql_savepoint = "SAVEPOINT op";
static const char *const sql_release = "RELEASE op";
static const char *const sql_rollback_to = "ROLLBACK TO op";

/* ---- worker: groups ---------------------------------------------------- */

/* Worker: one group of write-side ops in one transaction.
 *
 * The group first runs in fast mode (no savepoint per op, stream positions
 * and epochs kept in memory, see struct store_txn). If an op fails there,
 * the transaction is rolled back and the group runs again in safe mode:
 * each op in its own savepoint, so the one that fails changes nothing and
 * the others commit. An op whose error took the whole transaction down
 * (SQLite may roll back on FULL, IOERR, NOMEM) is final; the group is then
 * run again without it. */
static void run_write_group(struct store_conn *c, struct store_op *batch,
			    uint64_t *commit_ns)
{
	sqlite3 *db = c->db;
	bool fast = true;
	for (;;) {
		bool restart = false;
		int rc = store_stmt_exec(c, &sql_begin);
		if (rc != SQLITE_OK) {
			for (struct store_op *op = batch; op; op = op->next) {
				if (!op->done) {
					store_op_dberr(op, c, rc, "begin");
					op->done = true;
				}
			}
			return;
		}
		store_txn_begin(c, fast);
		c->space_used = 0;
		for (struct store_op *op = batch; op; op = op->next) {
			if (op->done)
				continue;
			op->status = 0;
			op->errmsg[0] = '\0';
			op->keep = false;
			if (fast) {
				store_exec_write(c, op);
				if (op->status == 0 && !sqlite3_get_autocommit(db))
					continue;
				/* Run the group again, each op in its own
				 * savepoint. */
				fast = false;
				restart = true;
				break;
			}
			rc = store_stmt_exec(c, &sql_savepoint);
			if (rc != SQLITE_OK)
				store_op_dberr(op, c, rc, "savepoint");
			else
				store_exec_write(c, op);
			if (sqlite3_get_autocommit(db)) {
				/* The transaction is gone: this op is final
				 * with its error, the others run again. */
				if (op->status == 0)
					store_op_fail(
					    op, STORE_E_IO,
					    "transaction rolled back");
				op->done = true;
				restart = true;
				break;
			}
			if (rc == SQLITE_OK && op->status != 0 && !op->keep)
				store_stmt_exec(c, &sql_rollback_to);
			if (rc == SQLITE_OK)
				store_stmt_exec(c, &sql_release);
		}
		if (!restart && (rc = store_txn_flush(c)) != SQLITE_OK) {
			/* Positions could not be written: nothing of the
			 * group may commit. */
			for (struct store_op *op = batch; op; op = op->next) {
				if (!op->done) {
					store_op_dberr(op, c, rc,
						       "advance stream");
					if (op->type == STORE_OP_APPLY)
						op->res.apply.n = 0;
					op->done = true;
				}
			}
			if (!sqlite3_get_autocommit(db))
				store_stmt_exec(c, &sql_rollback);
			return;
		}
		if (restart) {
			if (!sqlite3_get_autocommit(db))
				store_stmt_exec(c, &sql_rollback);
			continue;
		}
		uint64_t t0 = now_ns();
		rc = store_stmt_exec(c, &sql_commit);
		*commit_ns = now_ns() - t0;
		for (struct store_op *op = batch; op; op = op->next) {
			if (op->done)
				continue;
			op->done = true;
			if (rc != SQLITE_OK) {
				/* Nothing of the group is stored. */
				store_op_dberr(op, c, rc, "commit");
				if (op->type == STORE_OP_APPLY)
					op->res.apply.n = 0;
			}
		}
		if (rc != SQLITE_OK && !sqlite3_get_autocommit(db))
			store_stmt_exec(c, &sql_rollback);
		return;
	}
}

static const char *const sql_begin_read = "BEGIN";

/* Worker: a group of read ops. Consecutive item reads (the most frequent:
 * one per API write and read) share one read transaction, so the group
 * reads one snapshot and the connection's page cache stays valid across
 * it; the other reads open their own transactions. */
static void run_read_group(struct store_conn *c, struct store_op *batch)
{
	bool in_txn = false;
	for (struct store_op *op = batch; op; op = op->next) {
		bool item = op->type == STORE_OP_GET ||
			    op->type == STORE_OP_LOCATION;
		if (item && !in_txn)
			in_txn = store_stmt_exec(c, &sql_begin_read) ==
				 SQLITE_OK;
		else if (!item && in_txn) {
			store_stmt_exec(c, &sql_commit);
			in_txn = false;
		}
		store_exec_read(c, op);
	}
	if (in_txn)
		store_stmt_exec(c, &sql_commit);
}

/* Worker: run the queue until it is empty, one group at a time. */
static void queue_work(uv_work_t *req)
{
	struct store_queue *q = req->data;
	unsigned max = q->writer ? q->s->cfg.max_group : 1024;

	for (;;) {
		uv_mutex_lock(&q->lock);
		struct store_op *first = q->head, *last = q->head;
		if (first == NULL) {
			uv_mutex_unlock(&q->lock);
			return;
		}
		for (unsigned n = 1; n < max && last->next != NULL; n++)
			last = last->next;
		q->head = last->next;
		if (q->head == NULL)
			q->tail = NULL;
		last->next = NULL;
		uv_mutex_unlock(&q->lock);

		uint64_t n = 0;
		bool any_ok = false;
		if (q->writer) {
			/* the reserve is checked against a fresh measure */
			store_space_measure(q->conn);
			q->conn->commit_ns = 0;
			run_write_group(q->conn, first, &q->conn->commit_ns);
			for (struct store_op *o = first; o; o = o->next) {
				n++;
				any_ok = any_ok || o->status == 0 || o->keep;
			}
		} else {
			run_read_group(q->conn, first);
		}

		uv_mutex_lock(&q->lock);
		if (q->done_tail != NULL)
			q->done_tail->next = first;
		else
			q->done = first;
		q->done_tail = last;
		if (q->writer) {
			q->space = q->conn->space;
			q->space_new = true;
		}
		if (any_ok) {
			uint64_t ns = q->conn->commit_ns;
			q->acc.transactions++;
			q->acc.group_ops += n;
			if (n > q->acc.group_max)
				q->acc.group_max = n;
			q->acc.commit_ns += ns;
			if (ns > q->acc.commit_max_ns)
				q->acc.commit_max_ns = ns;
		}
		uv_mutex_unlock(&q->lock);
		uv_async_send(&q->s->async);
	}
}

/* ---- loop thread: completion, kicks, submission ------------------------ */

void store_op_free(struct store_op *op)
{
	store_arena_free(&op->arena);
	free(op);
}

static void op_complete(struct store *s, struct store_op *op)
{
	const char *em = op->errmsg;
	int st = op->status;

	switch (op->type) {
	case STORE_OP_WRITE:
		s->stats.writes++;
		if (st != 0) {
			s->stats.write_errors++;
			memset(&op->res.write, 0, sizeof(op->res.write));
		}
		op->res.write.errmsg = em;
		op->cb.write(op->arg, st, &op->res.write);
		break;
	case STORE_OP_APPLY:
		s->stats.applied += op->res.apply.applied;
		s->stats.duplicates += op->res.apply.duplicates;
		s->stats.archived += op->res.apply.archived;
		op->res.apply.errmsg = em;
		op->cb.apply(op->arg, st, &op->res.apply);
		break;
	case STORE_OP_ACK:
	case STORE_OP_SET_EPOCH:
	case STORE_OP_DIVERT:
	case STORE_OP_REPAIR:
		if (op->type == STORE_OP_DIVERT && st == 0)
			s->stats.archived += op->res.apply.archived;
		op->cb.done(op->arg, st, em);
		break;
	case STORE_OP_DIVERT_STALE:
		if (st == 0)
			s->stats.archived += op->res.archived;
		else
			op->res.archived = 0;
		op->cb.divert(op->arg, st, op->res.archived, em);
		break;
	case STORE_OP_GET:
	case STORE_OP_LOCATION:
		op->res.item.errmsg = em;
		op->cb.item(op->arg, st, &op->res.item);
		break;
	case STORE_OP_CONTENT_READ:
		op->res.piece.errmsg = em;
		op->cb.content(op->arg, st, &op->res.piece);
		break;
	case STORE_OP_OUTBOX_READ:
		op->res.records.errmsg = em;
		op->cb.records(op->arg, st, &op->res.records);
		break;
	case STORE_OP_POSITIONS:
		op->res.positions.errmsg = em;
		op->cb.positions(op->arg, st, &op->res.positions);
		break;
	case STORE_OP_DIGEST:
		op->res.digest.errmsg = em;
		op->cb.digest(op->arg, st, &op->res.digest);
		break;
	case STORE_OP_DIFF_KEYS:
		op->res.keys.errmsg = em;
		op->cb.keys(op->arg, st, &op->res.keys);
		break;
	case STORE_OP_DIVERGENCE:
		op->res.divergence.errmsg = em;
		op->cb.divergence(op->arg, st, &op->res.divergence);
		break;
	case STORE_OP_SEED_BEGIN:
	case STORE_OP_SEED_APPLY:
	case STORE_OP_SEED_END:
		op->cb.done(op->arg, st, em);
		break;
	case STORE_OP_SEED_COUNT:
		op->res.seed_totals.errmsg = em;
		op->cb.seed_totals(op->arg, st, &op->res.seed_totals);
		break;
	case STORE_OP_SEED_READ:
		if (st != 0) {
			op->res.seed_batch.n = 0;
			op->res.seed_batch.done = false;
		}
		op->res.seed_batch.errmsg = em;
		op->cb.seed_batch(op->arg, st, &op->res.seed_batch);
		break;
	case STORE_OP_SEED_STATES:
		if (st != 0)
			op->res.seed_states.n = 0;
		op->res.seed_states.errmsg = em;
		op->cb.seed_states(op->arg, st, &op->res.seed_states);
		break;
	case STORE_OP_SPACE:
		if (st == 0)
			s->space = op->res.space;
		if (op->cb.done != NULL)
			op->cb.done(op->arg, st, em);
		break;
	case STORE_OP_CONTENT_LIST:
		if (st != 0)
			op->res.content_list.n = 0;
		op->res.content_list.errmsg = em;
		op->cb.content_list(op->arg, st, &op->res.content_list);
		break;
	}
}

/* Loop thread: fire the callbacks of every executed op, in order. */
static void queue_drain(struct store_queue *q)
{
	struct store *s = q->s;

	uv_mutex_lock(&q->lock);
	struct store_op *op = q->done;
	q->done = q->done_tail = NULL;
	if (q->acc.transactions > 0) {
		s->stats.transactions += q->acc.transactions;
		s->stats.group_ops += q->acc.group_ops;
		if (q->acc.group_max > s->stats.group_max)
			s->stats.group_max = q->acc.group_max;
		s->stats.commit_ns += q->acc.commit_ns;
		if (q->acc.commit_max_ns > s->stats.commit_max_ns)
			s->stats.commit_max_ns = q->acc.commit_max_ns;
		memset(&q->acc, 0, sizeof(q->acc));
	}
	if (q->space_new) {
		s->space = q->space;
		q->space_new = false;
	}
	uv_mutex_unlock(&q->lock);
	while (op != NULL) {
		struct store_op *next = op->next;
		if (!q->writer)
			s->stats.reads++;
		op_complete(s, op);
		store_op_free(op);
		op = next;
	}
}

/* Loop thread: executed ops are back, or ops were queued in an earlier
 * part of this turn (kick_pending): fire the callbacks, then start the
 * queues with everything queued so far. */
static void queue_async(uv_async_t *h)
{
	struct store *s = h->data;
	queue_drain(&s->wq);
	queue_drain(&s->rq);
	if (s->kick_pending) {
		s->kick_pending = false;
		uv_unref((uv_handle_t *)&s->async);
	}
	queue_kick(&s->wq);
	queue_kick(&s->rq);
}

static void queue_after(uv_work_t *req, int status)
{
	struct store_queue *q = req->data;
	(void)status; /* uv_queue_work is never cancelled here */

	queue_drain(q);
	q->busy = false;
	queue_kick(q);
	store_maybe_close(q->s);
}

bool store_queue_empty(struct store_queue *q)
{
	uv_mutex_lock(&q->lock);
	bool empty = q->head == NULL;
	uv_mutex_unlock(&q->lock);
	return empty;
}

static void queue_kick(struct store_queue *q)
{
	if (q->busy || store_queue_empty(q))
		return;
	q->busy = true;
	q->work.data = q;
	int rv = uv_queue_work(q->s->loop, &q->work, queue_work, queue_after);
	if (rv != 0) {
		/* Cannot happen with a valid loop and callback; fail the
		 * queued ops rather than lose them. */
		uv_mutex_lock(&q->lock);
		struct store_op *first = q->head;
		q->head = q->tail = NULL;
		uv_mutex_unlock(&q->lock);
		q->busy = false;
		for (struct store_op *op = first; op; op = op->next)
			store_op_fail(op, STORE_E_IO, "queue work: %s",
				      uv_strerror(rv));
		while (first != NULL) {
			struct store_op *next = first->next;
			op_complete(q->s, first);
			store_op_free(first);
			first = next;
		}
	}
}

/* Loop thread: the queues' locks and the async handle. The handle does
 * not keep the loop alive (a running work request does). On failure
 * nothing is left to close. */
int store_queue_init(struct store *s)
{
	if (uv_mutex_init(&s->wq.lock) != 0)
		goto err;
	if (uv_mutex_init(&s->rq.lock) != 0)
		goto err_after_wq;
	if (uv_async_init(s->loop, &s->async, queue_async) != 0)
		goto err_after_rq;
	s->async.data = s;
	uv_unref((uv_handle_t *)&s->async);
	return 0;
err_after_rq:
	uv_mutex_destroy(&s->rq.lock);
err_after_wq:
	uv_mutex_destroy(&s->wq.lock);
err:
	snprintf(s->errmsg, sizeof(s->errmsg),
		 "open: cannot start the work queues");
	return STORE_E_IO;
}

void store_queue_destroy(struct store *s)
{
	uv_mutex_destroy(&s->wq.lock);
	uv_mutex_destroy(&s->rq.lock);
}

struct store_op *store_op_new(enum store_op_type type, void *arg)
{
	struct store_op *op = calloc(1, sizeof(*op));
	if (op != NULL) {
		op->type = type;
		op->arg = arg;
	}
	return op;
}

int store_queue_submit(struct store *s, struct store_op *op)
{
	bool writer = store_op_is_write(op->type);
	struct store_queue *q = writer ? &s->wq : &s->rq;
	op->next = NULL;
	uv_mutex_lock(&q->lock);
	if (q->tail != NULL)
		q->tail->next = op;
	else
		q->head = op;
	q->tail = op;
	uv_mutex_unlock(&q->lock);
	/* A busy queue's work takes it, or queue_after() kicks again. An
	 * idle one starts from the async callback, so that the ops queued in
	 * the rest of this loop turn join the same group. */
	if (!q->busy && !s->kick_pending) {
		s->kick_pending = true;
		uv_ref((uv_handle_t *)&s->async);
		uv_async_send(&s->async);
	}
	return 0;
}
