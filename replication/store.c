/* store: lifecycle, the writer and reader queues (loop thread), the public
 * entry points that build operations, and the checks on their input.
 * Worker-side code lives in store_exec.c (writes) and store_read.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/store_internal.h"

const char *store_strerror(int rv)
{
	switch (rv) {
	case 0:
		return "ok";
	case STORE_E_STALE_EPOCH:
		return "epoch older than the newest known";
	case STORE_E_GAP:
		return "sequence gap";
	case STORE_E_FULL:
		return "disk or database full";
	case STORE_E_IO:
		return "database i/o error";
	case STORE_E_NOMEM:
		return "out of memory";
	case STORE_E_CORRUPT:
		return "database corrupt or of an unknown schema";
	case STORE_E_NOT_FOUND:
		return "not found";
	case STORE_E_CLOSING:
		return "store closing";
	case STORE_E_INVALID:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

/* ---- queues (loop thread) --------------------------------------------- */

static void queue_kick(struct store_queue *q);
static void maybe_close(struct store *s);

static uint64_t now_ns(void) { return uv_hrtime(); }

static const char *const sql_begin = "BEGIN IMMEDIATE";
static const char *const sql_commit = "COMMIT";
static const char *const sql_rollback = "ROLLBACK";
static const char *const sql_savepoint = "SAVEPOINT op";
static const char *const sql_release = "RELEASE op";
static const char *const sql_rollback_to = "ROLLBACK TO op";

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

static void op_free(struct store_op *op)
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
	uv_mutex_unlock(&q->lock);
	while (op != NULL) {
		struct store_op *next = op->next;
		if (!q->writer)
			s->stats.reads++;
		op_complete(s, op);
		op_free(op);
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
	maybe_close(q->s);
}

static bool queue_empty(struct store_queue *q)
{
	uv_mutex_lock(&q->lock);
	bool empty = q->head == NULL;
	uv_mutex_unlock(&q->lock);
	return empty;
}

static void queue_kick(struct store_queue *q)
{
	if (q->busy || queue_empty(q))
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
			op_free(first);
			first = next;
		}
	}
}

/* Loop thread: the queues' locks and the async handle. The handle does
 * not keep the loop alive (a running work request does). On failure
 * nothing is left to close. */
static int queues_init(struct store *s)
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

static void queues_destroy(struct store *s)
{
	uv_mutex_destroy(&s->wq.lock);
	uv_mutex_destroy(&s->rq.lock);
}

static struct store_op *op_new(enum store_op_type type, void *arg)
{
	struct store_op *op = calloc(1, sizeof(*op));
	if (op != NULL) {
		op->type = type;
		op->arg = arg;
	}
	return op;
}

static int op_submit(struct store *s, struct store_op *op)
{
	bool writer = op->type <= STORE_OP_REPAIR;
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

/* ---- open / close ----------------------------------------------------- */

static int open_conns(struct store *s)
{
	int rv = store_conn_open(&s->wq.conn, s->path, true, &s->cfg, s->errmsg,
				 sizeof(s->errmsg));
	if (rv != 0)
		return rv;
	rv = store_conn_open(&s->rq.conn, s->path, false, &s->cfg, s->errmsg,
			     sizeof(s->errmsg));
	if (rv != 0) {
		store_conn_close(s->wq.conn);
		s->wq.conn = NULL;
	}
	return rv;
}

static int prepare(struct store *s, uv_loop_t *loop, const char *path,
		   const struct store_config *cfg)
{
	if (s == NULL || loop == NULL || path == NULL || path[0] == '\0')
		return STORE_E_INVALID;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	if (cfg != NULL)
		s->cfg = *cfg;
	if (s->cfg.busy_timeout_ms == 0)
		s->cfg.busy_timeout_ms = 5000;
	if (s->cfg.max_group == 0)
		s->cfg.max_group = 1024;
	s->path = strdup(path);
	if (s->path == NULL) {
		snprintf(s->errmsg, sizeof(s->errmsg), "open: out of memory");
		return STORE_E_NOMEM;
	}
	s->wq.s = s;
	s->wq.writer = true;
	s->rq.s = s;
	return 0;
}

int store_open(struct store *s, uv_loop_t *loop, const char *path,
	       const struct store_config *cfg, char *errbuf, size_t errlen)
{
	int rv = prepare(s, loop, path, cfg);
	if (rv == 0)
		rv = open_conns(s);
	if (rv == 0 && (rv = queues_init(s)) != 0) {
		store_conn_close(s->rq.conn);
		store_conn_close(s->wq.conn);
		s->rq.conn = s->wq.conn = NULL;
	}
	if (rv != 0) {
		if (s != NULL) {
			if (s->errmsg[0] == '\0')
				snprintf(s->errmsg, sizeof(s->errmsg),
					 "open: %s", store_strerror(rv));
			if (errbuf != NULL && errlen > 0)
				snprintf(errbuf, errlen, "%s", s->errmsg);
			free(s->path);
			s->path = NULL;
			s->state = STORE_STATE_CLOSED;
		} else if (errbuf != NULL && errlen > 0) {
			snprintf(errbuf, errlen, "open: no store given");
		}
		return rv;
	}
	s->state = STORE_STATE_OPEN;
	return 0;
}

static void open_work(uv_work_t *req)
{
	struct store *s = req->data;
	s->open_status = open_conns(s);
}

static void open_failed(uv_handle_t *h)
{
	struct store *s = h->data;
	queues_destroy(s);
	free(s->path);
	s->path = NULL;
	s->state = STORE_STATE_CLOSED;
	s->open_cb(s, s->open_status);
}

static void open_after(uv_work_t *req, int status)
{
	struct store *s = req->data;
	(void)status;
	if (s->open_status != 0) {
		/* nothing is open once the async handle is closed */
		uv_close((uv_handle_t *)&s->async, open_failed);
		return;
	}
	s->state = STORE_STATE_OPEN;
	s->open_cb(s, 0);
}

int store_open_async(struct store *s, uv_loop_t *loop, const char *path,
		     const struct store_config *cfg,
		     void (*cb)(struct store *s, int status))
{
	if (cb == NULL)
		return STORE_E_INVALID;
	int rv = prepare(s, loop, path, cfg);
	if (rv != 0) {
		if (s != NULL) {
			free(s->path);
			s->path = NULL;
		}
		return rv;
	}
	rv = queues_init(s);
	if (rv != 0) {
		free(s->path);
		s->path = NULL;
		return rv;
	}
	s->state = STORE_STATE_OPENING;
	s->open_cb = cb;
	s->close_work.data = s;
	rv = uv_queue_work(loop, &s->close_work, open_work, open_after);
	if (rv != 0) {
		/* the handle must be closed before s may go: report the
		 * failure through cb once it is */
		s->open_status = STORE_E_IO;
		snprintf(s->errmsg, sizeof(s->errmsg), "open: queue work: %s",
			 uv_strerror(rv));
		uv_close((uv_handle_t *)&s->async, open_failed);
	}
	return 0;
}

static void close_work(uv_work_t *req)
{
	struct store *s = req->data;
	store_conn_close(s->rq.conn);
	store_conn_close(s->wq.conn);
	s->rq.conn = NULL;
	s->wq.conn = NULL;
}

static void closed(uv_handle_t *h)
{
	struct store *s = h->data;
	queues_destroy(s);
	free(s->path);
	s->path = NULL;
	s->state = STORE_STATE_CLOSED;
	if (s->close_cb != NULL)
		s->close_cb(s);
}

static void close_after(uv_work_t *req, int status)
{
	struct store *s = req->data;
	(void)status;
	uv_close((uv_handle_t *)&s->async, closed);
}

static void maybe_close(struct store *s)
{
	if (s->state != STORE_STATE_CLOSING || s->wq.busy || s->rq.busy ||
	    !queue_empty(&s->wq) || !queue_empty(&s->rq))
		return;
	/* Mark the close as started so a second call does nothing. */
	s->wq.busy = s->rq.busy = true;
	s->close_work.data = s;
	if (uv_queue_work(s->loop, &s->close_work, close_work, close_after) !=
	    0) {
		close_work(&s->close_work);
		close_after(&s->close_work, 0);
	}
}

void store_close(struct store *s, void (*cb)(struct store *s))
{
	if (s == NULL || s->state != STORE_STATE_OPEN)
		return;
	s->state = STORE_STATE_CLOSING;
	s->close_cb = cb;
	maybe_close(s);
}

/* ---- public operations ------------------------------------------------ */

static int check_open(struct store *s)
{
	if (s == NULL)
		return STORE_E_INVALID;
	return s->state == STORE_STATE_OPEN ? 0 : STORE_E_CLOSING;
}

int store_write(struct store *s, const struct store_write *w, store_write_cb cb,
		void *arg)
{
	char why[STORE_ERRMSG_LEN];
	int rv = check_open(s);
	if (rv != 0)
		return rv;
	if (w == NULL || cb == NULL || w->epoch == 0 || w->key == NULL ||
	    w->user_set == NULL)
		return STORE_E_INVALID;
	struct store_change ch = {
	    .user_set = w->user_set,
	    .epoch = w->epoch,
	    .hlc = w->hlc,
	    .op = w->op,
	    .kind = w->kind,
	    .lane = store_lane_of(w->kind),
	    .key = w->key,
	    .value = w->value,
	    .value_len = w->value_len,
	    .offset = w->offset,
	    .total = w->total,
	};
	if (store_change_check(&ch, why, sizeof(why)) != 0)
		return STORE_E_INVALID;
	struct store_op *op = op_new(STORE_OP_WRITE, arg);
	if (op == NULL)
		return STORE_E_NOMEM;
	op->cb.write = cb;
	op->ch = ch;
	op->ch.user_set = store_arena_strdup(&op->arena, w->user_set);
	op->ch.key = store_arena_strdup(&op->arena, w->key);
	op->ch.value = store_arena_memdup(&op->arena, w->value, w->value_len);
	if (!op->ch.user_set || !op->ch.key || !op->ch.value) {
		op_free(op);
		return STORE_E_NOMEM;
	}
	return op_submit(s, op);
}

/* An op naming a user set (and optionally a key); both copied. */
static int simple_op(struct store *s, enum store_op_type type,
		     const char *user_set, const char *key, void *arg,
		     struct store_op **out)
{
	int rv = check_open(s);
	if (rv != 0)
		return rv;
	if (user_set != NULL && !store_name_ok(user_set))
		return STORE_E_INVALID;
	if (key != NULL && (key[0] == '\0' || strlen(key) > STORE_KEY_MAX))
		return STORE_E_INVALID;
	struct store_op *op = op_new(type, arg);
	if (op == NULL)
		return STORE_E_NOMEM;
	if (user_set != NULL)
		op->ch.user_set = store_arena_strdup(&op->arena, user_set);
	if (key != NULL)
		op->ch.key = store_arena_strdup(&op->arena, key);
	if ((user_set != NULL && op->ch.user_set == NULL) ||
	    (key != NULL && op->ch.key == NULL)) {
		op_free(op);
		return STORE_E_NOMEM;
	}
	*out = op;
	return 0;
}

static bool lane_ok(int lane)
{
	return lane == POOLPAIR__REPL__LANE__LANE_DATA ||
	       lane == POOLPAIR__REPL__LANE__LANE_CONTENT;
}

int store_get(struct store *s, const char *user_set, int kind, const char *key,
	      store_item_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || key == NULL ||
	    kind < POOLPAIR__REPL__KIND__KIND_PROFILE ||
	    kind > POOLPAIR__REPL__KIND__KIND_USER ||
	    kind == POOLPAIR__REPL__KIND__KIND_CONTENT)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_GET, user_set, key, arg, &op);
	if (rv != 0)
		return rv;
	op->ch.kind = kind;
	op->cb.item = cb;
	return op_submit(s, op);
}

int store_get_user_data(struct store *s, const char *user_set, const char *sip,
			int kind, store_item_cb cb, void *arg)
{
	if (kind != POOLPAIR__REPL__KIND__KIND_PROFILE &&
	    kind != POOLPAIR__REPL__KIND__KIND_CONTACTS &&
	    kind != POOLPAIR__REPL__KIND__KIND_SETTINGS)
		return STORE_E_INVALID;
	return store_get(s, user_set, kind, sip, cb, arg);
}

int store_get_conference(struct store *s, const char *user_set, const char *sip,
			 const char *conf_id, store_item_cb cb, void *arg)
{
	char key[STORE_KEY_MAX + 1];
	if (store_key_conference(key, sizeof(key), sip, conf_id) != 0)
		return STORE_E_INVALID;
	return store_get(s, user_set, POOLPAIR__REPL__KIND__KIND_CONFERENCE,
			 key, cb, arg);
}

int store_get_user(struct store *s, const char *user_set, const char *sip,
		   store_item_cb cb, void *arg)
{
	return store_get(s, user_set, POOLPAIR__REPL__KIND__KIND_USER, sip, cb,
			 arg);
}

int store_user_location(struct store *s, const char *sip, store_item_cb cb,
			void *arg)
{
	struct store_op *op;
	if (cb == NULL || sip == NULL)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_LOCATION, NULL, sip, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.item = cb;
	return op_submit(s, op);
}

int store_content_read(struct store *s, const char *user_set, const char *sip,
		       const char *conf_id, const char *name, uint64_t offset,
		       size_t maxlen, store_content_cb cb, void *arg)
{
	char key[STORE_KEY_MAX + 1];
	struct store_op *op;
	if (cb == NULL || user_set == NULL ||
	    store_key_content(key, sizeof(key), sip, conf_id, name) != 0)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_CONTENT_READ, user_set, key, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.content = cb;
	op->offset = offset;
	op->max_bytes =
	    maxlen == 0 || maxlen > STORE_READ_MAX ? STORE_READ_MAX : maxlen;
	return op_submit(s, op);
}

int store_outbox_read(struct store *s, const char *user_set, int lane,
		      uint64_t after_seq, size_t max_records, size_t max_bytes,
		      store_records_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || !lane_ok(lane))
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_OUTBOX_READ, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.records = cb;
	op->ch.lane = lane;
	op->ch.seq = after_seq;
	op->max_records = max_records ? max_records : 1024;
	op->max_bytes = max_bytes ? max_bytes : (size_t)4 << 20;
	return op_submit(s, op);
}

int store_outbox_ack(struct store *s, const char *user_set, int lane,
		     uint64_t acked_seq, store_done_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || !lane_ok(lane))
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_ACK, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->ch.lane = lane;
	op->ch.seq = acked_seq;
	return op_submit(s, op);
}

int store_stream_positions(struct store *s, store_positions_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_POSITIONS, NULL, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.positions = cb;
	return op_submit(s, op);
}

/* Copy one record into the op's arena. */
static int copy_record(struct store_op *op, struct store_change *dst,
		       const Poolpair__Repl__ChangeRecord *r)
{
	struct store_arena *a = &op->arena;
	dst->user_set = store_arena_strdup(a, r->user_set ? r->user_set : "");
	dst->key = store_arena_strdup(a, r->key ? r->key : "");
	dst->value = store_arena_memdup(a, r->value.data, r->value.len);
	if (!dst->user_set || !dst->key || !dst->value)
		return STORE_E_NOMEM;
	dst->value_len = r->value.len;
	dst->epoch = r->epoch;
	dst->seq = r->seq;
	dst->hlc = r->hlc;
	dst->op = (int)r->op;
	dst->kind = (int)r->kind;
	dst->lane = (int)r->lane;
	dst->offset = r->offset;
	dst->total = r->total;
	return 0;
}

int store_apply_batch(struct store *s, const Poolpair__Repl__RecordBatch *b,
		      store_apply_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || b == NULL || (b->n_records > 0 && !b->records))
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_APPLY, NULL, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.apply = cb;
	op->n_recs = b->n_records;
	if (b->n_records > 0) {
		if (b->n_records > SIZE_MAX / sizeof(*op->recs)) {
			op_free(op);
			return STORE_E_NOMEM;
		}
		op->recs = store_arena_alloc(&op->arena,
					     b->n_records * sizeof(*op->recs));
		if (op->recs == NULL) {
			op_free(op);
			return STORE_E_NOMEM;
		}
	}
	for (size_t i = 0; i < b->n_records; i++) {
		if (b->records[i] == NULL) {
			op_free(op);
			return STORE_E_INVALID;
		}
		if (copy_record(op, &op->recs[i], b->records[i]) != 0) {
			op_free(op);
			return STORE_E_NOMEM;
		}
	}
	return op_submit(s, op);
}

int store_set_epoch(struct store *s, const char *user_set, uint64_t epoch,
		    store_done_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || epoch > INT64_MAX)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_SET_EPOCH, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->ch.epoch = epoch;
	return op_submit(s, op);
}

int store_divert_tail(struct store *s, const char *user_set, int lane,
		      uint64_t keep_seq, store_done_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || !lane_ok(lane) ||
	    keep_seq > INT64_MAX)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_DIVERT, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->ch.lane = lane;
	op->ch.seq = keep_seq;
	return op_submit(s, op);
}

int store_repair(struct store *s, const Poolpair__Repl__ChangeRecord *rec,
		 store_done_cb cb, void *arg)
{
	struct store_op *op;
	char why[STORE_ERRMSG_LEN];
	if (cb == NULL || rec == NULL)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_REPAIR, NULL, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	rv = copy_record(op, &op->ch, rec);
	if (rv == 0 && rec->op == POOLPAIR__REPL__OP__OP_PURGE_USER) {
		/* repair only: checked as the DELETE of a user record */
		struct store_change as_delete = op->ch;

		as_delete.op = POOLPAIR__REPL__OP__OP_DELETE;
		if (rec->kind != POOLPAIR__REPL__KIND__KIND_USER ||
		    store_change_check(&as_delete, why, sizeof(why)) != 0)
			rv = STORE_E_INVALID;
	} else if (rv == 0 &&
		   store_change_check(&op->ch, why, sizeof(why)) != 0) {
		rv = STORE_E_INVALID;
	}
	if (rv != 0) {
		op_free(op);
		return rv;
	}
	return op_submit(s, op);
}

int store_digest(struct store *s, const char *user_set, store_digest_cb cb,
		 void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_DIGEST, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.digest = cb;
	return op_submit(s, op);
}

int store_diff_keys(struct store *s, const char *user_set, unsigned bucket,
		    store_keys_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || bucket >= STORE_DIGEST_BUCKETS)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_DIFF_KEYS, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.keys = cb;
	op->bucket = bucket;
	return op_submit(s, op);
}

int store_divergence_list(struct store *s, int64_t after_id, size_t limit,
			  store_divergence_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_DIVERGENCE, NULL, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.divergence = cb;
	op->after_id = after_id;
	op->limit = limit == 0 ? 100 : limit > 10000 ? 10000 : limit;
	return op_submit(s, op);
}
