/* store: lifecycle, the public entry points that build operations, and
 * the checks on their input. The queues that run them are store_queue.c's;
 * worker-side code lives in store_exec.c (writes) and store_read.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/store_internal.h"

const char *store_kind_name(int kind)
{
	switch (kind) {
	case POOLPAIR__REPL__KIND__KIND_USER:
		return "user";
	case POOLPAIR__REPL__KIND__KIND_PROFILE:
		return "profile";
	case POOLPAIR__REPL__KIND__KIND_CONTACTS:
		return "contacts";
	case POOLPAIR__REPL__KIND__KIND_SETTINGS:
		return "settings";
	case POOLPAIR__REPL__KIND__KIND_CONFERENCE:
		return "conference";
	case POOLPAIR__REPL__KIND__KIND_CONTENT:
		return "content";
	case POOLPAIR__REPL__KIND__KIND_CMS:
		return "cms";
	default:
		return "unknown";
	}
}

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
	case STORE_E_RESERVE:
		return "the disk is at its reserve";
	default:
		return "unknown error";
	}
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
		return rv;
	}
	s->wq.conn->space_path = s->rq.conn->space_path = s->path;
	s->wq.conn->space_cfg = s->rq.conn->space_cfg = &s->cfg;
	/* the first figures, before any operation */
	store_space_measure(s->wq.conn);
	s->space = s->wq.conn->space;
	return 0;
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
	if (rv == 0 && (rv = store_queue_init(s)) != 0) {
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
	store_queue_destroy(s);
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
	rv = store_queue_init(s);
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
	store_queue_destroy(s);
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

void store_maybe_close(struct store *s)
{
	if (s->state != STORE_STATE_CLOSING || s->wq.busy || s->rq.busy ||
	    !store_queue_empty(&s->wq) || !store_queue_empty(&s->rq))
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
	store_maybe_close(s);
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
	struct store_op *op = store_op_new(STORE_OP_WRITE, arg);
	if (op == NULL)
		return STORE_E_NOMEM;
	op->cb.write = cb;
	op->ch = ch;
	op->ch.user_set = store_arena_strdup(&op->arena, w->user_set);
	op->ch.key = store_arena_strdup(&op->arena, w->key);
	op->ch.value = store_arena_memdup(&op->arena, w->value, w->value_len);
	if (!op->ch.user_set || !op->ch.key || !op->ch.value) {
		store_op_free(op);
		return STORE_E_NOMEM;
	}
	return store_queue_submit(s, op);
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
	struct store_op *op = store_op_new(type, arg);
	if (op == NULL)
		return STORE_E_NOMEM;
	if (user_set != NULL)
		op->ch.user_set = store_arena_strdup(&op->arena, user_set);
	if (key != NULL)
		op->ch.key = store_arena_strdup(&op->arena, key);
	if ((user_set != NULL && op->ch.user_set == NULL) ||
	    (key != NULL && op->ch.key == NULL)) {
		store_op_free(op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
}

int store_record_copy(struct store_op *op, struct store_change *dst,
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

int store_op_copy_batch(struct store_op *op,
			const Poolpair__Repl__RecordBatch *b)
{
	op->n_recs = b->n_records;
	if (b->n_records == 0)
		return 0;
	if (b->n_records > SIZE_MAX / sizeof(*op->recs))
		return STORE_E_NOMEM;
	op->recs =
	    store_arena_alloc(&op->arena, b->n_records * sizeof(*op->recs));
	if (op->recs == NULL)
		return STORE_E_NOMEM;
	for (size_t i = 0; i < b->n_records; i++) {
		if (b->records[i] == NULL)
			return STORE_E_INVALID;
		if (store_record_copy(op, &op->recs[i], b->records[i]) != 0)
			return STORE_E_NOMEM;
	}
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
	rv = store_op_copy_batch(op, b);
	if (rv != 0) {
		store_op_free(op);
		return rv;
	}
	return store_queue_submit(s, op);
}

int store_apply_batch_outbox(struct store *s,
			     const Poolpair__Repl__RecordBatch *b,
			     store_apply_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || b == NULL || (b->n_records > 0 && !b->records))
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_APPLY, NULL, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.apply = cb;
	op->outbox_mode = true;
	rv = store_op_copy_batch(op, b);
	if (rv != 0) {
		store_op_free(op);
		return rv;
	}
	return store_queue_submit(s, op);
}

int store_set_epoch(struct store *s, const char *user_set, uint64_t epoch,
		    uint64_t floor, store_done_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || epoch > INT64_MAX ||
	    floor > epoch)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_SET_EPOCH, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	op->ch.epoch = epoch;
	op->ch.total = floor; /* STORE_OP_SET_EPOCH: the floor */
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
}

int store_divert_stale(struct store *s, const char *user_set, int lane,
		       uint64_t keep_seq, uint64_t epoch, store_divert_cb cb,
		       void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL || !lane_ok(lane) ||
	    keep_seq > INT64_MAX || epoch > INT64_MAX)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_DIVERT_STALE, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.divert = cb;
	op->ch.lane = lane;
	op->ch.seq = keep_seq;
	op->ch.epoch = epoch;
	return store_queue_submit(s, op);
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
	rv = store_record_copy(op, &op->ch, rec);
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
		store_op_free(op);
		return rv;
	}
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
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
	return store_queue_submit(s, op);
}

int store_space_refresh(struct store *s, store_done_cb cb, void *arg)
{
	struct store_op *op;
	int rv = simple_op(s, STORE_OP_SPACE, NULL, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.done = cb;
	return store_queue_submit(s, op);
}

int store_content_incomplete(struct store *s, const char *user_set,
			     uint64_t before_hlc, size_t limit,
			     store_content_list_cb cb, void *arg)
{
	struct store_op *op;
	if (cb == NULL || user_set == NULL)
		return STORE_E_INVALID;
	int rv = simple_op(s, STORE_OP_CONTENT_LIST, user_set, NULL, arg, &op);
	if (rv != 0)
		return rv;
	op->cb.content_list = cb;
	op->ch.hlc = before_hlc;
	op->limit = limit == 0 ? 100 : limit > 1000 ? 1000 : limit;
	return store_queue_submit(s, op);
}
