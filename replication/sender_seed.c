/* sender_seed: the seed of a stream whose receiver lacks records this
 * outbox no longer holds (store_seed.h): the decision at the handshake,
 * the count, SEED_BEGIN, item states read after the mark and sent as
 * SEED_RECORDS within the lane's window, SEED_END, and the acks of the
 * seed up to the ACK of its position F, after which sender_stream.c
 * streams the outbox after F. See sender.h for the protocol and
 * sender_internal.h for the shared structures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender_internal.h"
#include "tls/tls.h"

static size_t tx_slot(const struct sender *s, const struct tx_stream *st)
{
	return (size_t)(st - s->streams);
}

void sender_seed_reset(struct tx_stream *st)
{
	struct tx_seed *sd = &st->seed;

	sd->phase = TX_SEED_NONE;
	sd->read_all = 0;
	memset(&sd->mark, 0, sizeof(sd->mark));
	sd->sent_items = 0;
	sd->sent_bytes = 0;
	sd->batches = 0;
	sd->acks = 0;
}

/* ---- SEED_BEGIN ---------------------------------------------------------- */

static void tx_seed_counted(void *arg, int status,
			    const struct store_seed_totals *t)
{
	struct tx_op *op = arg;
	struct tx_lane *l = op->l;
	struct sender *s = op->s;
	struct tx_stream *st = &s->streams[op->stream];
	struct tx_seed *sd = &st->seed;
	Poolpair__Repl__SeedBegin b = POOLPAIR__REPL__SEED_BEGIN__INIT;
	int rv;

	if (!sender_op_end(op))
		return;
	if (status != 0) {
		sender_dial_fail(l, "seed count of %s: %s", st->user_set,
				 t->errmsg);
		return;
	}
	sd->items_total = t->items;
	sd->bytes_total = t->bytes;
	b.user_set = st->user_set;
	b.lane = st->lane;
	b.from_seq = sd->from_seq;
	b.epoch = sd->epoch;
	b.items_total = t->items;
	b.bytes_total = t->bytes;
	rv = stream_tls_write_message(&l->conn, FRAME_SEED_BEGIN, &b.base);
	if (rv != 0) {
		sender_dial_fail(l, "write seed begin: %s",
				 stream_strerror(rv));
		return;
	}
	sd->phase = TX_SEED_SENDING;
	sender_log(s, STREAM_LOG_INFO,
		   "sender %s->%s %s: %s: seed from %llu %s: %llu items, "
		   "%llu bytes at the owner",
		   s->local_pool, s->peer_pool, sender_lane_name(l),
		   st->user_set, (unsigned long long)sd->from_seq,
		   sd->mark.started ? "resumed" : "started",
		   (unsigned long long)t->items, (unsigned long long)t->bytes);
	sender_stream_pump(l);
}

/* Start (or resume) the seed of st on l's connection: count, then
 * SEED_BEGIN. Returns 1, or -1 when the connection failed. */
static int tx_seed_begin(struct tx_lane *l, struct tx_stream *st)
{
	struct sender *s = l->s;
	struct tx_op *op;
	int rv;

	op = sender_op_new(s, l, tx_slot(s, st));
	if (op == NULL) {
		sender_dial_fail(l, "out of memory");
		return -1;
	}
	rv = store_seed_count(s->store, st->user_set, st->lane, tx_seed_counted,
			      op);
	if (rv != 0) {
		free(op);
		sender_dial_fail(l, "seed count: %s", store_strerror(rv));
		return -1;
	}
	s->pending++;
	st->seed.phase = TX_SEED_COUNTING;
	return 1;
}

int sender_seed_handshake(struct tx_lane *l, struct tx_stream *st,
			  const Poolpair__Repl__StreamPosition *q)
{
	struct sender *s = l->s;
	struct tx_seed *sd = &st->seed;
	const Poolpair__Repl__SeedProgress *p = q->seed;
	uint64_t have =
	    st->head_seq > st->applied_seq ? st->head_seq : st->applied_seq;
	uint64_t acked = sender_stream_lacks_acked(s, st);
	uint64_t lacks = acked > st->applied_seq ? acked : st->applied_seq;

	sender_seed_reset(st);
	if (p != NULL && p->from_seq > 0 && p->from_seq <= have) {
		/* resume: the receiver's F, epoch and mark */
		if (p->key == NULL || strlen(p->key) > STORE_KEY_MAX) {
			sender_dial_fail(l, "seed mark of %s: bad key",
					 st->user_set);
			return -1;
		}
		sd->active = 1;
		sd->from_seq = p->from_seq;
		sd->epoch = p->epoch;
		sd->items = p->items;
		sd->bytes = p->bytes;
		sd->mark.started = p->started;
		sd->mark.kind = (int)p->kind;
		snprintf(sd->mark.key, sizeof(sd->mark.key), "%s", p->key);
		sd->mark.offset = p->offset;
		return tx_seed_begin(l, st);
	}
	if (p != NULL && p->from_seq > 0 && have == 0) {
		sender_stream_block(l, st,
				    "receiver seeds from %llu, nothing was "
				    "written here",
				    (unsigned long long)p->from_seq);
		return 1;
	}
	if (p != NULL && p->from_seq > 0)
		/* a seed from a position this store never reached (its
		 * stream was cut back since): start over from here */
		sender_log(s, STREAM_LOG_WARN,
			   "sender %s->%s %s: %s: receiver seeds from %llu, "
			   "past the last seq %llu here: seed again",
			   s->local_pool, s->peer_pool, sender_lane_name(l),
			   st->user_set, (unsigned long long)p->from_seq,
			   (unsigned long long)have);
	else if (q->acked_seq >= lacks) {
		sd->active = 0;
		return 0;
	} else
		sender_log(s, STREAM_LOG_INFO,
			   "sender %s->%s %s: %s: receiver applied up to "
			   "%llu, records up to %llu are gone from the "
			   "outbox: seed from %llu",
			   s->local_pool, s->peer_pool, sender_lane_name(l),
			   st->user_set, (unsigned long long)q->acked_seq,
			   (unsigned long long)lacks, (unsigned long long)have);
	sd->active = 1;
	sd->from_seq = have;
	sd->epoch = st->epoch;
	sd->items = 0;
	sd->bytes = 0;
	return tx_seed_begin(l, st);
}

/* ---- SEED_RECORDS and SEED_END ------------------------------------------- */

static void tx_seed_read_done(void *arg, int status,
			      const struct store_seed_batch *b)
{
	struct tx_op *op = arg;
	struct tx_lane *l = op->l;
	struct sender *s = op->s;
	struct tx_stream *st = &s->streams[op->stream];
	struct tx_seed *sd = &st->seed;
	struct batch_stats bst;
	void *payload;
	size_t len;
	uint16_t flags;
	int rv;

	if (!sender_op_end(op))
		return;
	l->reading_outbox = 0;
	if (status != 0) {
		sender_dial_fail(l, "seed read of %s: %s", st->user_set,
				 b->errmsg);
		return;
	}
	if (b->n > 0) {
		/* never against the history: both ends keep it for RECORDS
		 * frames only */
		rv = batch_encode(
		    (const Poolpair__Repl__ChangeRecord *const *)b->records,
		    b->n, &payload, &len, &flags, &bst);
		if (rv != 0) {
			sender_dial_fail(l, "encode seed batch of %s: %s",
					 st->user_set, batch_strerror(rv));
			return;
		}
		if (sender_stream_inflight_push(st, sd->batches + 1,
						len + FRAME_HEADER_LEN) != 0) {
			free(payload);
			sender_dial_fail(l, "out of memory");
			return;
		}
		rv = stream_tls_write_frame_owned(&l->conn, FRAME_SEED_RECORDS,
						  flags, payload, len);
		if (rv != 0) {
			sender_dial_fail(l, "write: %s", stream_strerror(rv));
			return;
		}
		sd->batches++;
		l->inflight_bytes += len + FRAME_HEADER_LEN;
		sd->sent_items += b->items;
		sd->sent_bytes += b->bytes;
		sd->mark = b->next;
		st->batches_sent++;
		st->bytes_raw += bst.raw_bytes;
		st->bytes_wire += bst.wire_bytes;
	}
	/* at least one record comes while any is left */
	if (b->done || b->n == 0)
		sd->read_all = 1;
	sender_stream_pump(l);
}

static int tx_seed_end(struct tx_lane *l, struct tx_stream *st)
{
	struct sender *s = l->s;
	struct tx_seed *sd = &st->seed;
	Poolpair__Repl__SeedEnd e = POOLPAIR__REPL__SEED_END__INIT;
	int rv;

	e.user_set = st->user_set;
	e.lane = st->lane;
	e.from_seq = sd->from_seq;
	e.items = sd->sent_items;
	e.bytes = sd->sent_bytes;
	rv = stream_tls_write_message(&l->conn, FRAME_SEED_END, &e.base);
	if (rv != 0) {
		sender_dial_fail(l, "write seed end: %s", stream_strerror(rv));
		return -1;
	}
	sd->phase = TX_SEED_ENDING;
	sender_log(s, STREAM_LOG_DEBUG,
		   "sender %s->%s %s: %s: seed sent (%llu items, %llu bytes "
		   "on this connection)",
		   s->local_pool, s->peer_pool, sender_lane_name(l),
		   st->user_set, (unsigned long long)sd->sent_items,
		   (unsigned long long)sd->sent_bytes);
	return 0;
}

int sender_seed_pump(struct tx_lane *l, struct tx_stream *st, size_t room)
{
	struct sender *s = l->s;
	struct tx_seed *sd = &st->seed;
	struct tx_op *op;
	int rv;

	if (sd->phase != TX_SEED_SENDING)
		return 0;
	if (sd->read_all)
		return tx_seed_end(l, st);
	op = sender_op_new(s, l, tx_slot(s, st));
	if (op == NULL) {
		sender_dial_fail(l, "out of memory");
		return -1;
	}
	rv = store_seed_read(s->store, st->user_set, st->lane, &sd->mark,
			     s->batch_records,
			     room < s->batch_bytes ? room : s->batch_bytes,
			     tx_seed_read_done, op);
	if (rv != 0) {
		free(op);
		sender_dial_fail(l, "seed read: %s", store_strerror(rv));
		return -1;
	}
	s->pending++;
	l->reading_outbox = 1;
	return 1;
}

/* ---- acks ---------------------------------------------------------------- */

/* The ACK of F: the copy holds everything up to F; the outbox follows. */
static void tx_seed_done(struct tx_lane *l, struct tx_stream *st)
{
	struct sender *s = l->s;
	struct tx_seed *sd = &st->seed;
	uint64_t from = sd->from_seq;

	sd->active = 0;
	sd->done++;
	sender_log(s, STREAM_LOG_INFO,
		   "sender %s->%s %s: %s: seed from %llu done: %llu items, "
		   "%llu bytes at the receiver",
		   s->local_pool, s->peer_pool, sender_lane_name(l),
		   st->user_set, (unsigned long long)from,
		   (unsigned long long)sd->items,
		   (unsigned long long)sd->bytes);
	sender_seed_reset(st);
	st->sent_seq = from;
	st->ready = 1;
	st->wake++;
	if (from > st->acked_seq)
		sender_stream_acked(s, st, from);
}

int sender_seed_ack(struct tx_lane *l, struct tx_stream *st,
		    const Poolpair__Repl__StreamPosition *q)
{
	struct tx_seed *sd = &st->seed;
	const Poolpair__Repl__SeedProgress *p = q->seed;

	if (p == NULL || p->from_seq == 0) {
		if (sd->phase != TX_SEED_ENDING ||
		    q->acked_seq != sd->from_seq) {
			sender_dial_fail(l,
					 "ack of %s up to %llu during its seed "
					 "from %llu",
					 st->user_set,
					 (unsigned long long)q->acked_seq,
					 (unsigned long long)sd->from_seq);
			return -1;
		}
		tx_seed_done(l, st);
		return 0;
	}
	if (p->from_seq != sd->from_seq || q->acked_seq != 0 ||
	    sd->acks >= sd->batches) {
		sender_dial_fail(l,
				 "seed ack of %s from %llu, %llu of %llu "
				 "batches acknowledged, seed from %llu",
				 st->user_set, (unsigned long long)p->from_seq,
				 (unsigned long long)sd->acks,
				 (unsigned long long)sd->batches,
				 (unsigned long long)sd->from_seq);
		return -1;
	}
	sd->acks++;
	l->inflight_bytes -= sender_stream_inflight_pop(st, sd->acks);
	sd->items = p->items;
	sd->bytes = p->bytes;
	return 0;
}
