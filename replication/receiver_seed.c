/* receiver_seed: the seed of a copy on a receiver's connection
 * (store_seed.h): the seed rows in the HELLO answer, SEED_BEGIN
 * (store_seed_begin), SEED_RECORDS decoded, checked and stored
 * (store_seed_apply) with an ACK of the seed's progress each, SEED_END
 * checked against what this connection stored and stored (store_seed_end)
 * with the ACK of its position; and the seeds this receiver carried
 * (receiver_seeds). One step at a time: reading pauses while one is
 * stored, as for RECORDS. See receiver.h for the protocol and
 * receiver_internal.h for the shared structures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver_internal.h"
#include "tls/tls.h"

/* ---- the seeds carried --------------------------------------------------- */

/* The entry of (user_set, lane) in r->seeds, added when missing; NULL
 * when the table is full (the figures are then not kept). */
static struct receiver_seed *rx_seed_entry(struct receiver *r,
					   const char *user_set, int lane)
{
	struct receiver_seed *e;
	size_t i;
	size_t cap = sizeof(r->seeds) / sizeof(r->seeds[0]);

	for (i = 0; i < r->n_seeds; i++)
		if (r->seeds[i].lane == lane &&
		    strcmp(r->seeds[i].user_set, user_set) == 0)
			return &r->seeds[i];
	if (r->n_seeds == cap)
		return NULL;
	e = &r->seeds[r->n_seeds++];
	memset(e, 0, sizeof(*e));
	snprintf(e->user_set, sizeof(e->user_set), "%s", user_set);
	e->lane = lane;
	return e;
}

/* ---- HELLO --------------------------------------------------------------- */

static void rx_seed_states_done(void *arg, int status,
				const struct store_seed_states *w)
{
	struct rx_conn *c = arg;
	struct receiver *r = c->r;
	size_t i, j;

	c->ops--;
	if (c->state == RX_CLOSING) {
		receiver_conn_maybe_free(c);
		return;
	}
	if (status != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "seed rows: %s",
				   w->errmsg);
		return;
	}
	for (i = 0; i < c->n_named; i++) {
		struct rx_named *n = &c->named[i];
		for (j = 0; j < w->n; j++) {
			const struct store_seed_state *row = &w->v[j];
			struct receiver_seed *e;
			if (row->lane != n->lane ||
			    strcmp(row->user_set, n->user_set) != 0)
				continue;
			n->seed_row = 1;
			n->row_from_seq = row->from_seq;
			n->row_items = row->items;
			n->row_bytes = row->bytes;
			e = rx_seed_entry(r, n->user_set, n->lane);
			if (e == NULL)
				continue;
			if (e->from_seq != row->from_seq) {
				e->items_total = 0;
				e->bytes_total = 0;
			}
			e->active = true;
			e->from_seq = row->from_seq;
			e->items = row->items;
			e->bytes = row->bytes;
		}
	}
	receiver_stream_answer_hello(c, w);
}

void receiver_seed_hello(struct rx_conn *c)
{
	int rv = store_seed_states(c->r->store, rx_seed_states_done, c);

	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "seed rows: %s",
				   store_strerror(rv));
		return;
	}
	c->ops++;
}

/* ---- steps --------------------------------------------------------------- */

/* The step of c about to be stored (one at a time); NULL when out of
 * memory (c dropped). */
static struct rx_seed_step *rx_step(struct rx_conn *c)
{
	if (c->step == NULL && (c->step = malloc(sizeof(*c->step))) == NULL) {
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "out of memory");
		return NULL;
	}
	memset(c->step, 0, sizeof(*c->step));
	return c->step;
}

/* A store callback of a step: 1 when c goes on with it, 0 when c is
 * closing (and freed if that was its last operation). */
static int rx_step_live(struct rx_conn *c)
{
	c->ops--;
	if (c->state == RX_CLOSING) {
		receiver_conn_maybe_free(c);
		return 0;
	}
	return 1;
}

/* ACK one position of a seeding stream: acked_seq with no seed progress
 * (the seed ended), or 0 with p. Returns 0, or -1 when c was dropped. */
static int rx_seed_ack(struct rx_conn *c, const struct rx_named *n,
		       uint64_t acked_seq, Poolpair__Repl__SeedProgress *p)
{
	Poolpair__Repl__Ack ack = POOLPAIR__REPL__ACK__INIT;
	Poolpair__Repl__StreamPosition pos =
	    POOLPAIR__REPL__STREAM_POSITION__INIT;
	Poolpair__Repl__StreamPosition *ptrs[1] = {&pos};
	int rv;

	pos.user_set = (char *)n->user_set;
	pos.lane = n->lane;
	pos.epoch = n->seed_epoch;
	pos.acked_seq = acked_seq;
	pos.seed = p;
	ack.positions = ptrs;
	ack.n_positions = 1;
	rv = stream_tls_write_message(&c->conn, FRAME_ACK, &ack.base);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "write ack: %s",
				   stream_strerror(rv));
		return -1;
	}
	return 0;
}

/* ---- SEED_BEGIN ---------------------------------------------------------- */

static void rx_seed_begun(void *arg, int status, const char *errmsg)
{
	struct rx_conn *c = arg;
	struct receiver *r = c->r;
	struct rx_seed_step *t = c->step;
	struct rx_named *n;
	struct receiver_seed *e;
	int resumed;

	if (!rx_step_live(c))
		return;
	if (status != 0) {
		receiver_conn_fail(c,
				   status == STORE_E_INVALID
				       ? RECEIVER_ERR_SEED
				       : RECEIVER_ERR_STORE,
				   1, "seed begin: %s", errmsg);
		return;
	}
	n = &c->named[t->named];
	/* store_seed_begin kept a row of the same F as it was */
	resumed = n->seed_row && n->row_from_seq == t->from_seq;
	n->seed_row = 1;
	n->row_from_seq = t->from_seq;
	n->seeding = 1;
	n->seed_from_seq = t->from_seq;
	n->seed_epoch = t->epoch;
	n->base_items = resumed ? n->row_items : 0;
	n->base_bytes = resumed ? n->row_bytes : 0;
	n->items = 0;
	n->bytes = 0;
	e = rx_seed_entry(r, n->user_set, n->lane);
	if (e != NULL) {
		e->active = true;
		e->from_seq = t->from_seq;
		e->items = n->base_items;
		e->bytes = n->base_bytes;
		e->items_total = t->items_total;
		e->bytes_total = t->bytes_total;
	}
	receiver_log(r, STREAM_LOG_INFO,
		     "receiver: %s seeds %s/%s from %llu (%s, %llu items at "
		     "the owner)",
		     c->peer, n->user_set, stream_lane_name(n->lane),
		     (unsigned long long)t->from_seq,
		     resumed ? "resumed" : "started",
		     (unsigned long long)t->items_total);
	receiver_stream_resume(c);
}

static void rx_on_seed_begin(struct rx_conn *c, const struct frame *f)
{
	struct receiver *r = c->r;
	Poolpair__Repl__SeedBegin *m;
	struct rx_seed_step *t;
	int k, rv;

	m = poolpair__repl__seed_begin__unpack(NULL, f->len, f->payload);
	if (m == NULL) {
		receiver_conn_fail(c, RECEIVER_ERR_PROTO, 1,
				   "seed begin does not decode");
		return;
	}
	k = receiver_named_find(c, m->user_set, (int)m->lane);
	if (k < 0) {
		receiver_conn_fail(c, RECEIVER_ERR_SEED, 1,
				   "seed begin of %s/%s, not in the hello",
				   m->user_set, stream_lane_name(m->lane));
		goto out;
	}
	if (c->named[k].seeding) {
		receiver_conn_fail(c, RECEIVER_ERR_SEED, 1,
				   "second seed begin of %s/%s", m->user_set,
				   stream_lane_name(m->lane));
		goto out;
	}
	if (m->from_seq == 0) {
		receiver_conn_fail(c, RECEIVER_ERR_SEED, 1,
				   "seed begin of %s/%s from seq 0",
				   m->user_set, stream_lane_name(m->lane));
		goto out;
	}
	if (!receiver_epoch_ok(c, m->user_set, m->epoch, "seed begin"))
		goto out;
	t = rx_step(c);
	if (t == NULL)
		goto out;
	t->named = (size_t)k;
	t->from_seq = m->from_seq;
	t->epoch = m->epoch;
	t->items_total = m->items_total;
	t->bytes_total = m->bytes_total;
	rv = store_seed_begin(r->store, m->user_set, (int)m->lane, m->from_seq,
			      m->epoch, rx_seed_begun, c);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "seed begin: %s",
				   store_strerror(rv));
		goto out;
	}
	c->ops++;
	receiver_conn_set_state(c, RX_APPLYING);
out:
	poolpair__repl__seed_begin__free_unpacked(m, NULL);
}

/* ---- SEED_RECORDS -------------------------------------------------------- */

static void rx_seed_applied(void *arg, int status, const char *errmsg)
{
	struct rx_conn *c = arg;
	struct receiver *r = c->r;
	struct rx_seed_step *t = c->step;
	Poolpair__Repl__SeedProgress p = POOLPAIR__REPL__SEED_PROGRESS__INIT;
	struct receiver_seed *e;
	struct rx_named *n;

	if (!rx_step_live(c))
		return;
	if (status != 0) {
		/* refused or failed: nothing of the batch was stored, the
		 * seed row's mark is where it was */
		receiver_conn_fail(c,
				   status == STORE_E_INVALID
				       ? RECEIVER_ERR_BATCH
				       : RECEIVER_ERR_STORE,
				   1, "seed batch: %s", errmsg);
		return;
	}
	n = &c->named[t->named];
	n->items += t->items;
	n->bytes += t->bytes;
	e = rx_seed_entry(r, n->user_set, n->lane);
	if (e != NULL) {
		e->items = n->base_items + n->items;
		e->bytes = n->base_bytes + n->bytes;
	}
	p.from_seq = n->seed_from_seq;
	p.epoch = n->seed_epoch;
	p.started = 1;
	p.kind = t->kind;
	p.key = t->key;
	p.offset = t->offset;
	p.items = n->base_items + n->items;
	p.bytes = n->base_bytes + n->bytes;
	if (rx_seed_ack(c, n, 0, &p) != 0)
		return;
	receiver_stream_resume(c);
}

static void rx_on_seed_records(struct rx_conn *c, const struct frame *f)
{
	struct receiver *r = c->r;
	Poolpair__Repl__RecordBatch *b = NULL;
	const Poolpair__Repl__ChangeRecord *last;
	char err[BATCH_ERRMSG_LEN];
	struct rx_seed_step *t;
	size_t i;
	int k, rv;

	/* never in dictionary mode: a FRAME_FLAG_DICT batch is refused */
	rv = batch_decode(f->payload, f->len, f->flags, 0, &b);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_PROTO, 1, "seed batch: %s",
				   batch_strerror(rv));
		return;
	}
	rv = batch_validate_seed(b, err, sizeof(err));
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_BATCH, 1, "seed batch: %s",
				   rv == BATCH_E_INVALID ? err
							 : batch_strerror(rv));
		goto out;
	}
	last = b->records[b->n_records - 1];
	k = receiver_named_find(c, last->user_set, (int)last->lane);
	if (k < 0) {
		receiver_conn_fail(c, RECEIVER_ERR_BATCH, 1,
				   "seed batch: records of %s/%s, not in the "
				   "hello",
				   last->user_set,
				   stream_lane_name(last->lane));
		goto out;
	}
	if (!c->named[k].seeding) {
		receiver_conn_fail(c, RECEIVER_ERR_SEED, 1,
				   "seed records of %s/%s before its seed "
				   "begin",
				   last->user_set,
				   stream_lane_name(last->lane));
		goto out;
	}
	for (i = 0; i < b->n_records; i++) {
		char what[32];

		snprintf(what, sizeof(what), "seed record %zu", i);
		if (!receiver_epoch_ok(c, b->records[i]->user_set,
				       b->records[i]->epoch, what))
			goto out;
	}
	t = rx_step(c);
	if (t == NULL)
		goto out;
	t->named = (size_t)k;
	store_seed_figures(b, &t->items, &t->bytes);
	t->kind = (int)last->kind;
	snprintf(t->key, sizeof(t->key), "%s", last->key);
	t->offset = last->op == POOLPAIR__REPL__OP__OP_CONTENT_CHUNK
			? last->offset + last->value.len
			: 0;
	rv = store_seed_apply(r->store, last->user_set, (int)last->lane, b,
			      rx_seed_applied, c);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "seed batch: %s",
				   store_strerror(rv));
		goto out;
	}
	c->ops++;
	receiver_conn_set_state(c, RX_APPLYING);
out:
	poolpair__repl__record_batch__free_unpacked(b, NULL);
}

/* ---- SEED_END ------------------------------------------------------------ */

static void rx_seed_ended(void *arg, int status, const char *errmsg)
{
	struct rx_conn *c = arg;
	struct receiver *r = c->r;
	struct rx_seed_step *t = c->step;
	struct receiver_seed *e;
	struct rx_named *n;

	if (!rx_step_live(c))
		return;
	if (status != 0) {
		receiver_conn_fail(c,
				   status == STORE_E_INVALID
				       ? RECEIVER_ERR_SEED
				       : RECEIVER_ERR_STORE,
				   1, "seed end: %s", errmsg);
		return;
	}
	n = &c->named[t->named];
	n->seeding = 0;
	n->seed_row = 0;
	e = rx_seed_entry(r, n->user_set, n->lane);
	if (e != NULL)
		e->active = false;
	receiver_log(r, STREAM_LOG_INFO,
		     "receiver: %s: seed of %s/%s from %llu stored (%llu "
		     "items, %llu bytes)",
		     c->peer, n->user_set, stream_lane_name(n->lane),
		     (unsigned long long)t->from_seq,
		     (unsigned long long)(n->base_items + n->items),
		     (unsigned long long)(n->base_bytes + n->bytes));
	if (rx_seed_ack(c, n, t->from_seq, NULL) != 0)
		return;
	if (r->on_apply != NULL)
		r->on_apply(r->arg, n->user_set, n->lane, t->from_seq);
	if (c->state == RX_CLOSING)
		return;
	receiver_stream_resume(c);
}

static void rx_on_seed_end(struct rx_conn *c, const struct frame *f)
{
	struct receiver *r = c->r;
	Poolpair__Repl__SeedEnd *m;
	struct rx_named *n;
	struct rx_seed_step *t;
	int k, rv;

	m = poolpair__repl__seed_end__unpack(NULL, f->len, f->payload);
	if (m == NULL) {
		receiver_conn_fail(c, RECEIVER_ERR_PROTO, 1,
				   "seed end does not decode");
		return;
	}
	k = receiver_named_find(c, m->user_set, (int)m->lane);
	if (k < 0 || !c->named[k].seeding) {
		receiver_conn_fail(
		    c, RECEIVER_ERR_SEED, 1, "seed end of %s/%s, %s",
		    m->user_set, stream_lane_name(m->lane),
		    k < 0 ? "not in the hello" : "no seed begun");
		goto out;
	}
	n = &c->named[k];
	if (m->from_seq != n->seed_from_seq) {
		receiver_conn_fail(c, RECEIVER_ERR_SEED, 1,
				   "seed end of %s/%s from %llu, its seed "
				   "began from %llu",
				   m->user_set, stream_lane_name(m->lane),
				   (unsigned long long)m->from_seq,
				   (unsigned long long)n->seed_from_seq);
		goto out;
	}
	if (m->items != n->items || m->bytes != n->bytes) {
		receiver_conn_fail(
		    c, RECEIVER_ERR_SEED, 1,
		    "seed end of %s/%s: %llu items, %llu bytes sent, %llu "
		    "items, %llu bytes stored",
		    m->user_set, stream_lane_name(m->lane),
		    (unsigned long long)m->items, (unsigned long long)m->bytes,
		    (unsigned long long)n->items, (unsigned long long)n->bytes);
		goto out;
	}
	t = rx_step(c);
	if (t == NULL)
		goto out;
	t->named = (size_t)k;
	t->from_seq = m->from_seq;
	rv = store_seed_end(r->store, m->user_set, (int)m->lane, m->from_seq,
			    rx_seed_ended, c);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "seed end: %s",
				   store_strerror(rv));
		goto out;
	}
	c->ops++;
	receiver_conn_set_state(c, RX_APPLYING);
out:
	poolpair__repl__seed_end__free_unpacked(m, NULL);
}

/* ---- dispatch ------------------------------------------------------------ */

void receiver_seed_frame(struct rx_conn *c, const struct frame *f)
{
	switch (f->type) {
	case FRAME_SEED_BEGIN:
		rx_on_seed_begin(c, f);
		return;
	case FRAME_SEED_RECORDS:
		rx_on_seed_records(c, f);
		return;
	case FRAME_SEED_END:
		rx_on_seed_end(c, f);
		return;
	default:
		receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
				   "unexpected %s frame from a sender",
				   frame_type_name(f->type));
		return;
	}
}
