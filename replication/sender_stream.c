/* sender_stream: what flows on a lane's connection once it is up: the
 * handshake (the store's positions, HELLO and the receiver's answer), the
 * outbox pump (batches read, encoded and sent within the window of
 * unacknowledged bytes), acknowledgements, pings and the frames read.
 * Dialling and failing are sender_dial.c's, a seed's steps sender_seed.c's.
 * See sender.h for the protocol and sender_internal.h for the shared
 * structures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender_internal.h"
#include "tls/tls.h"

#define TX_MAX_ACK_PAYLOAD ((size_t)64 << 10)

static void tx_hello_positions(void *arg, int status,
			       const struct store_positions *p);
static void tx_ping(uv_timer_t *t);

/* ---- in-flight batches ------------------------------------------------- */

int sender_stream_inflight_push(struct tx_stream *st, uint64_t last_seq,
				uint64_t bytes)
{
	size_t i;

	if (st->if_n == st->if_cap) {
		size_t cap = st->if_cap ? st->if_cap * 2 : 16;
		struct tx_inflight *v = malloc(cap * sizeof(*v));
		if (v == NULL)
			return STREAM_E_NOMEM;
		for (i = 0; i < st->if_n; i++)
			v[i] = st->inflight[(st->if_head + i) % st->if_cap];
		free(st->inflight);
		st->inflight = v;
		st->if_cap = cap;
		st->if_head = 0;
	}
	st->inflight[(st->if_head + st->if_n) % st->if_cap] =
	    (struct tx_inflight){last_seq, bytes};
	st->if_n++;
	return 0;
}

/* Retire the batches acked up to acked; returns the bytes they held. */
uint64_t sender_stream_inflight_pop(struct tx_stream *st, uint64_t acked)
{
	uint64_t bytes = 0;

	while (st->if_n > 0 && st->inflight[st->if_head].last_seq <= acked) {
		bytes += st->inflight[st->if_head].bytes;
		st->if_head = (st->if_head + 1) % st->if_cap;
		st->if_n--;
	}
	return bytes;
}

void sender_stream_block(struct tx_lane *l, struct tx_stream *st,
			 const char *fmt, ...)
{
	struct sender *s = l->s;
	char msg[STREAM_ERRMSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->blocked = 1;
	snprintf(l->last_error, sizeof(l->last_error), "%s/%s: %s",
		 st->user_set, sender_lane_name(l), msg);
	sender_log(s, STREAM_LOG_ERROR, "sender %s->%s %s: %s: %s",
		   s->local_pool, s->peer_pool, sender_lane_name(l),
		   st->user_set, msg);
}

/* ---- positions ----------------------------------------------------------- */

void sender_stream_take_positions(struct sender *s,
				  const struct store_positions *p)
{
	size_t i, j;

	for (i = 0; i < s->n_user_sets * TX_LANES; i++) {
		struct tx_stream *st = &s->streams[i];
		for (j = 0; j < p->n; j++) {
			const struct store_position *q = &p->v[j];
			if (q->lane != st->lane ||
			    strcmp(q->user_set, st->user_set) != 0)
				continue;
			st->epoch = q->epoch;
			st->head_seq = q->head_seq;
			st->applied_seq = q->applied_seq;
			st->lag_records = q->lag_records;
			st->lag_bytes = q->lag_bytes;
			st->oldest_hlc = q->oldest_unacked_hlc;
			st->store_acked = q->acked_seq;
			/* with no_trim the store's acks are the pair's, not
			 * this sender's peer's */
			if (!s->no_trim && q->acked_seq > st->acked_seq)
				st->acked_seq = q->acked_seq;
		}
	}
}

static void tx_store_ack_done(void *arg, int status, const char *errmsg)
{
	struct tx_op *op = arg;
	struct sender *s = op->s;

	if (status != 0 && !s->closing)
		sender_log(s, STREAM_LOG_ERROR, "sender %s->%s: outbox ack: %s",
			   s->local_pool, s->peer_pool, errmsg);
	sender_op_end(op);
}

uint64_t sender_stream_lacks_acked(const struct sender *s,
				   const struct tx_stream *st)
{
	return s->no_trim ? st->store_acked : st->acked_seq;
}

void sender_stream_check_trimmed(struct sender *s)
{
	size_t i;

	if (!s->no_trim || s->closing)
		return;
	for (i = 0; i < s->n_user_sets * TX_LANES; i++) {
		struct tx_stream *st = &s->streams[i];
		struct tx_lane *l = &s->lanes[st->lane];

		if (l->state != SENDER_STREAMING || !st->ready ||
		    st->seed.phase != TX_SEED_NONE ||
		    st->store_acked <= st->sent_seq)
			continue;
		sender_dial_fail(l,
				 "%s: the pair's acks trimmed the outbox up "
				 "to %llu, past the seq %llu sent here: seed "
				 "again",
				 st->user_set,
				 (unsigned long long)st->store_acked,
				 (unsigned long long)st->sent_seq);
	}
}

/* The pair holds st up to acked: trim the outbox (not with no_trim: the
 * outbox and the store's acked position are the pair's stream's), tell
 * the caller. */
void sender_stream_acked(struct sender *s, struct tx_stream *st, uint64_t acked)
{
	uint64_t now = uv_hrtime();
	struct tx_op *op;
	int rv;

	st->acked_seq = acked;
	while (st->mk_n > 0 && st->marks[st->mk_head].seq <= acked) {
		const struct tx_mark *m = &st->marks[st->mk_head];
		ackhist_observe(&st->ack,
				now > m->t ? (double)(now - m->t) / 1e9 : 0,
				m->n);
		st->mk_head = (st->mk_head + 1) % TX_MARKS;
		st->mk_n--;
	}
	op = s->no_trim ? NULL : sender_op_new(s, NULL, 0);
	if (op != NULL) {
		rv = store_outbox_ack(s->store, st->user_set, st->lane, acked,
				      tx_store_ack_done, op);
		if (rv == 0)
			s->pending++;
		else {
			free(op);
			sender_log(s, STREAM_LOG_ERROR,
				   "sender %s->%s: outbox ack: %s",
				   s->local_pool, s->peer_pool,
				   store_strerror(rv));
		}
	}
	if (s->on_ack != NULL)
		s->on_ack(s->arg, st->user_set, st->lane, acked);
}

/* ---- handshake ----------------------------------------------------------- */

void sender_stream_begin(struct tx_lane *l)
{
	struct sender *s = l->s;
	struct tx_op *op;
	int rv;

	rv = frame_decoder_init(&l->dec, TX_MAX_ACK_PAYLOAD);
	if (rv != 0) {
		sender_dial_fail(l, "read start: %s", frame_strerror(rv));
		return;
	}
	l->last_rx_ms = uv_now(s->loop);
	uv_timer_start(&l->ping, tx_ping, s->ping_ms, s->ping_ms);
	sender_lane_set_state(l, SENDER_HANDSHAKING);
	op = sender_op_new(s, l, 0);
	if (op == NULL) {
		sender_dial_fail(l, "out of memory");
		return;
	}
	rv = store_stream_positions(s->store, tx_hello_positions, op);
	if (rv != 0) {
		free(op);
		sender_dial_fail(l, "positions: %s", store_strerror(rv));
		return;
	}
	s->pending++;
}

static void tx_hello_positions(void *arg, int status,
			       const struct store_positions *p)
{
	struct tx_op *op = arg;
	struct tx_lane *l = op->l;
	struct sender *s = op->s;
	Poolpair__Repl__Hello hello = POOLPAIR__REPL__HELLO__INIT;
	Poolpair__Repl__StreamPosition pos[SENDER_MAX_USER_SETS];
	Poolpair__Repl__StreamPosition *ptrs[SENDER_MAX_USER_SETS];
	size_t i;
	int rv;

	if (!sender_op_end(op))
		return;
	if (status != 0) {
		sender_dial_fail(l, "positions: %s", p->errmsg);
		return;
	}
	sender_stream_take_positions(s, p);
	for (i = 0; i < s->n_user_sets; i++) {
		struct tx_stream *st = sender_lane_stream(s, l, i);
		poolpair__repl__stream_position__init(&pos[i]);
		pos[i].user_set = st->user_set;
		pos[i].lane = st->lane;
		pos[i].epoch = st->epoch;
		pos[i].acked_seq = st->acked_seq;
		ptrs[i] = &pos[i];
	}
	hello.from_pool = s->local_pool;
	hello.to_pool = s->peer_pool;
	hello.agent_id = s->agent_id;
	hello.positions = ptrs;
	hello.n_positions = s->n_user_sets;
	hello.lz4_dict = !s->lz4_dict_off;
	rv = stream_tls_write_message(&l->conn, FRAME_HELLO, &hello.base);
	if (rv != 0) {
		sender_dial_fail(l, "write hello: %s", stream_strerror(rv));
		return;
	}
	l->hello_sent = 1;
}

static void tx_on_hello(struct tx_lane *l, const struct frame *f)
{
	struct sender *s = l->s;
	Poolpair__Repl__Hello *h;
	char err[STREAM_ERRMSG_LEN];
	size_t i, j;
	int rv;

	if (l->state != SENDER_HANDSHAKING || !l->hello_sent) {
		sender_dial_fail(l, "unexpected hello from the receiver");
		return;
	}
	h = poolpair__repl__hello__unpack(NULL, f->len, f->payload);
	if (h == NULL) {
		sender_dial_fail(l, "hello does not decode");
		return;
	}
	if (stream_hello_check(h, err, sizeof(err)) != 0) {
		sender_dial_fail(l, "%s", err);
		goto out;
	}
	if (strcmp(h->from_pool, s->peer_pool) != 0 ||
	    strcmp(h->to_pool, s->local_pool) != 0) {
		sender_dial_fail(l, "hello from %s to %s, expected %s to %s",
				 h->from_pool, h->to_pool, s->peer_pool,
				 s->local_pool);
		goto out;
	}
	if (l->conn.state == TLS_CONN_OPEN &&
	    (l->conn.peer_agent == 0 || h->agent_id != l->conn.peer_agent)) {
		sender_dial_fail(l,
				 "hello refused: the receiver's certificate "
				 "speaks for agent %llu, not %llu",
				 (unsigned long long)l->conn.peer_agent,
				 (unsigned long long)h->agent_id);
		goto out;
	}
	for (i = 0; i < s->n_user_sets; i++) {
		struct tx_stream *st = sender_lane_stream(s, l, i);
		const Poolpair__Repl__StreamPosition *q = NULL;
		uint64_t r;
		for (j = 0; j < h->n_positions; j++)
			if ((int)h->positions[j]->lane == l->lane &&
			    strcmp(h->positions[j]->user_set, st->user_set) ==
				0)
				q = h->positions[j];
		if (q == NULL) {
			sender_dial_fail(l, "receiver did not answer for %s",
					 st->user_set);
			goto out;
		}
		r = q->acked_seq;
		/* the receiver may also hold what this store only received
		 * (a user set taken over): it resumes after that */
		if (r > st->head_seq && r > st->applied_seq &&
		    (q->seed == NULL || q->seed->from_seq == 0)) {
			sender_stream_block(l, st,
					    "receiver applied up to %llu, past "
					    "the last seq %llu written here",
					    (unsigned long long)r,
					    (unsigned long long)st->head_seq);
			continue;
		}
		/* a receiver lacking records gone from the outbox is seeded */
		rv = sender_seed_handshake(l, st, q);
		if (rv < 0)
			goto out;
		if (rv > 0) {
			/* a local copy being seeded (or stuck) holds nothing
			 * to count on until its seed ends */
			if (s->no_trim)
				st->acked_seq = 0;
			continue;
		}
		/* a local copy holds what it reports, nothing more (it may
		 * have been reset since: store_divert_stale) */
		if (s->no_trim && r < st->acked_seq)
			st->acked_seq = r;
		st->sent_seq = r;
		st->ready = 1;
		st->wake++;
		if (r > st->acked_seq)
			sender_stream_acked(s, st, r);
	}
	l->backoff_ms = s->backoff_min;
	/* only what this sender offered and the receiver accepted */
	l->dict_mode = !s->lz4_dict_off && h->lz4_dict;
	sender_log(s, STREAM_LOG_DEBUG,
		   "sender %s->%s %s: lz4 dictionary mode %s", s->local_pool,
		   s->peer_pool, sender_lane_name(l),
		   l->dict_mode ? "on" : "off");
	sender_lane_set_state(l, SENDER_STREAMING);
	sender_stream_pump(l);
out:
	poolpair__repl__hello__free_unpacked(h, NULL);
}

/* ---- streaming ----------------------------------------------------------- */

static void tx_outbox_read_done(void *arg, int status,
				const struct store_records *r)
{
	struct tx_op *op = arg;
	struct tx_lane *l = op->l;
	struct sender *s = op->s;
	struct tx_stream *st = &s->streams[op->stream];
	uint64_t wake = op->wake;
	struct batch_stats bst;
	void *payload;
	size_t len;
	uint16_t flags;
	uint64_t last;
	size_t n;
	int rv;

	if (!sender_op_end(op))
		return;
	l->reading_outbox = 0;
	if (status != 0) {
		sender_dial_fail(l, "outbox read of %s: %s", st->user_set,
				 r->errmsg);
		return;
	}
	if (r->n == 0) {
		st->wake_done = wake;
		sender_stream_pump(l);
		return;
	}
	if (r->records[0]->seq != st->sent_seq + 1 && s->no_trim) {
		/* the pair's acks trimmed what this copy still lacks */
		sender_dial_fail(l,
				 "%s: outbox starts at seq %llu, the copy "
				 "needs %llu: seed again",
				 st->user_set,
				 (unsigned long long)r->records[0]->seq,
				 (unsigned long long)st->sent_seq + 1);
		return;
	}
	if (r->records[0]->seq != st->sent_seq + 1) {
		sender_stream_block(l, st,
				    "outbox starts at seq %llu, the pair needs "
				    "%llu",
				    (unsigned long long)r->records[0]->seq,
				    (unsigned long long)st->sent_seq + 1);
		sender_stream_pump(l);
		return;
	}
	/* the limit may have been lowered while the read ran */
	n = r->n;
	while (n > 0 && r->records[n - 1]->seq > st->limit_seq)
		n--;
	if (n == 0) {
		sender_stream_pump(l);
		return;
	}
	/* Encoded here, in the order the frames are written: in dictionary
	 * mode each batch joins the history the next one is compressed
	 * against. On an error the history is unchanged. */
	if (l->dict_mode)
		rv = batch_encode_dict(
		    (const Poolpair__Repl__ChangeRecord *const *)r->records, n,
		    &l->dict, &payload, &len, &flags, &bst);
	else
		rv = batch_encode(
		    (const Poolpair__Repl__ChangeRecord *const *)r->records, n,
		    &payload, &len, &flags, &bst);
	if (rv != 0) {
		sender_stream_block(l, st, "encode batch at seq %llu: %s",
				    (unsigned long long)st->sent_seq + 1,
				    batch_strerror(rv));
		sender_stream_pump(l);
		return;
	}
	last = r->records[n - 1]->seq;
	if (sender_stream_inflight_push(st, last, len + FRAME_HEADER_LEN) !=
	    0) {
		free(payload);
		/* the batch is in the history but will not be sent: this
		 * connection cannot go on */
		sender_dial_fail(l, "out of memory");
		return;
	}
	rv = stream_tls_write_frame_owned(&l->conn, FRAME_RECORDS, flags,
					  payload, len);
	if (rv != 0) {
		sender_dial_fail(l, "write: %s", stream_strerror(rv));
		return;
	}
	l->inflight_bytes += len + FRAME_HEADER_LEN;
	st->sent_seq = last;
	st->records_sent += n;
	st->batches_sent++;
	if ((flags & FRAME_FLAG_DICT) != 0)
		st->batches_dict++;
	st->bytes_raw += bst.raw_bytes;
	st->bytes_wire += bst.wire_bytes;
	sender_stream_pump(l);
}

/* Start the next outbox read when the window has room. One read per
 * connection at a time, user sets in turn. */
void sender_stream_pump(struct tx_lane *l)
{
	struct sender *s = l->s;
	size_t k;
	int rv;

	if (l->state != SENDER_STREAMING || l->reading_outbox ||
	    l->inflight_bytes >= s->window)
		return;
	for (k = 0; k < s->n_user_sets; k++) {
		size_t i = (l->rr + k) % s->n_user_sets;
		struct tx_stream *st = sender_lane_stream(s, l, i);
		size_t room = s->window - (size_t)l->inflight_bytes;
		struct tx_op *op;
		size_t max;

		if (st->seed.phase != TX_SEED_NONE) {
			rv = sender_seed_pump(l, st, room);
			if (rv < 0)
				return;
			if (rv > 0) {
				l->rr = (i + 1) % s->n_user_sets;
				return;
			}
			continue;
		}
		if (!st->ready || st->blocked || st->wake == st->wake_done ||
		    st->sent_seq >= st->limit_seq)
			continue;
		op = sender_op_new(s, l, i * TX_LANES + (size_t)l->lane);
		if (op == NULL) {
			sender_dial_fail(l, "out of memory");
			return;
		}
		op->wake = st->wake;
		max = s->batch_records;
		if (st->limit_seq - st->sent_seq < max)
			max = (size_t)(st->limit_seq - st->sent_seq);
		rv = store_outbox_read(s->store, st->user_set, l->lane,
				       st->sent_seq, max,
				       room < s->batch_bytes ? room
							     : s->batch_bytes,
				       tx_outbox_read_done, op);
		if (rv != 0) {
			free(op);
			sender_dial_fail(l, "outbox read: %s",
					 store_strerror(rv));
			return;
		}
		s->pending++;
		l->reading_outbox = 1;
		l->rr = (i + 1) % s->n_user_sets;
		return;
	}
}

static void tx_on_ack(struct tx_lane *l, const struct frame *f)
{
	struct sender *s = l->s;
	Poolpair__Repl__Ack *a;
	char err[STREAM_ERRMSG_LEN];
	uint64_t gen = l->gen;
	size_t i, j;

	if (l->state != SENDER_STREAMING) {
		sender_dial_fail(l, "ack before the handshake");
		return;
	}
	a = poolpair__repl__ack__unpack(NULL, f->len, f->payload);
	if (a == NULL) {
		sender_dial_fail(l, "ack does not decode");
		return;
	}
	if (stream_ack_check(a, err, sizeof(err)) != 0) {
		sender_dial_fail(l, "ack: %s", err);
		goto out;
	}
	for (j = 0; j < a->n_positions && l->gen == gen; j++) {
		const Poolpair__Repl__StreamPosition *q = a->positions[j];
		struct tx_stream *st = NULL;
		for (i = 0; i < s->n_user_sets; i++) {
			struct tx_stream *c = sender_lane_stream(s, l, i);
			if ((int)q->lane == l->lane &&
			    strcmp(c->user_set, q->user_set) == 0)
				st = c;
		}
		if (st == NULL ||
		    (!st->ready && st->seed.phase == TX_SEED_NONE)) {
			sender_dial_fail(l, "ack for %s/%s, not streamed here",
					 q->user_set,
					 stream_lane_name(q->lane));
			goto out;
		}
		if (st->seed.phase != TX_SEED_NONE) {
			if (sender_seed_ack(l, st, q) != 0)
				goto out;
			continue;
		}
		if (q->acked_seq > st->sent_seq) {
			sender_dial_fail(l,
					 "ack of %s up to %llu, past the last "
					 "seq sent %llu",
					 st->user_set,
					 (unsigned long long)q->acked_seq,
					 (unsigned long long)st->sent_seq);
			goto out;
		}
		l->inflight_bytes -=
		    sender_stream_inflight_pop(st, q->acked_seq);
		if (q->acked_seq > st->acked_seq)
			sender_stream_acked(s, st, q->acked_seq);
	}
	if (l->gen == gen)
		sender_stream_pump(l);
out:
	poolpair__repl__ack__free_unpacked(a, NULL);
}

static void tx_on_frame(struct tx_lane *l, const struct frame *f)
{
	int rv;

	switch (f->type) {
	case FRAME_HELLO:
		tx_on_hello(l, f);
		return;
	case FRAME_ACK:
		tx_on_ack(l, f);
		return;
	case FRAME_PING:
		rv = stream_tls_write_frame(&l->conn, FRAME_PONG, 0, NULL, 0);
		if (rv != 0)
			sender_dial_fail(l, "write pong: %s",
					 stream_strerror(rv));
		return;
	case FRAME_PONG:
		return;
	case FRAME_ERROR:
		sender_dial_fail(l, "refused by the receiver: %.*s",
				 (int)(f->len > 200 ? 200 : f->len),
				 (const char *)f->payload);
		return;
	default:
		sender_dial_fail(l, "unexpected %s frame from the receiver",
				 frame_type_name(f->type));
		return;
	}
}

/* Every frame of a chunk is handled before this returns (or the
 * connection ended), so the decoder may borrow the chunk. */
void sender_stream_read(struct tls_conn *c, ssize_t nread, const char *data)
{
	struct tx_lane *l = c->data;
	uint64_t gen = l->gen;
	struct frame f;
	int rv;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread == TLS_E_EOF)
			sender_dial_fail(l,
					 "connection closed by the receiver");
		else
			sender_dial_fail(l, "read: %s",
					 c->errmsg[0] != '\0'
					     ? c->errmsg
					     : tls_strerror((int)nread));
		return;
	}
	l->last_rx_ms = uv_now(l->s->loop);
	rv = frame_decoder_feed(&l->dec, data, (size_t)nread);
	while (rv == 0) {
		rv = frame_decoder_next(&l->dec, &f);
		if (rv != 1)
			break;
		tx_on_frame(l, &f);
		if (l->gen != gen)
			return; /* the connection ended */
		rv = 0;
	}
	if (rv < 0)
		sender_dial_fail(l, "%s", frame_strerror(rv));
}

static void tx_ping(uv_timer_t *t)
{
	struct tx_lane *l = t->data;
	struct sender *s = l->s;
	uint64_t quiet = uv_now(s->loop) - l->last_rx_ms;
	int rv;

	if (quiet > s->timeout_ms) {
		sender_dial_fail(l, "peer silent for %llu ms",
				 (unsigned long long)quiet);
		return;
	}
	rv = stream_tls_write_frame(&l->conn, FRAME_PING, 0, NULL, 0);
	if (rv != 0)
		sender_dial_fail(l, "write ping: %s", stream_strerror(rv));
}
