/* sender: one connection per lane streaming the outbox to the pair. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender.h"
#include "tls/tls.h"

#define TX_LANES 2
#define TX_MAX_ACK_PAYLOAD ((size_t)64 << 10)

static const char *const state_names[] = {
	"idle",	     "resolving", "connecting", "handshaking",
	"streaming", "closing",	  "backoff",	"stopped",
};

const char *sender_state_name(int state)
{
	if (state < 0 || state > SENDER_STOPPED)
		return "?";
	return state_names[state];
}

/* One batch in flight: acknowledged once the pair acks last_seq. */
struct tx_inflight {
	uint64_t last_seq;
	uint64_t bytes;
};

/* One (user set, lane) stream. */
struct tx_stream {
	char user_set[STREAM_NAME_MAX];
	int lane;
	/* from the store */
	uint64_t epoch, head_seq, lag_records, lag_bytes, oldest_hlc;
	uint64_t applied_seq; /* records of this stream the store received
				 from the pair (before it took the set over) */
	uint64_t acked_seq; /* max of store and pair acks */
	/* this connection */
	uint64_t sent_seq;
	int ready;   /* resumed: may send */
	int blocked; /* cannot continue on this connection (logged) */
	uint64_t wake;      /* bumped by notify */
	uint64_t wake_done; /* wake value an empty read covered */
	struct tx_inflight *inflight; /* owned ring */
	size_t if_cap, if_head, if_n;
	/* counters */
	uint64_t records_sent, batches_sent, batches_dict, bytes_raw,
		bytes_wire;
	struct stream_rate rate;
};

struct sender;

/* What to do once a connection's handle has closed. */
enum tx_after { TX_AFTER_BACKOFF, TX_AFTER_START };

struct tx_lane {
	struct sender *s;
	int lane;
	enum sender_state state;
	uint64_t gen; /* bumped whenever a connection ends */
	struct tls_conn conn; /* TLS with the sender's context, else plain */
	int tcp_open;	      /* conn initialised, its close not finished */
	int conn_closing;     /* tls_conn_close() called */
	uv_connect_t connect;
	uv_timer_t backoff;
	uv_timer_t ping;
	enum tx_after after;
	struct frame_decoder dec;
	struct batch_dict dict; /* history of this connection's batches */
	int dict_mode;		/* the receiver accepted the dictionary mode */
	int hello_sent;
	int reading_outbox; /* an outbox read of this connection in flight */
	size_t rr;	    /* round robin over user sets */
	uint64_t last_rx_ms;
	uint64_t inflight_bytes;
	unsigned backoff_ms;
	uint64_t reconnects;
	char last_error[STREAM_ERRMSG_LEN];
};

struct sender {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	char local_pool[STREAM_NAME_MAX];
	char peer_pool[STREAM_NAME_MAX];
	uint64_t agent_id;
	char *host; /* owned, NULL: idle */
	struct tls_ctx *tls; /* borrowed, NULL: plain */
	uint16_t port;
	size_t n_user_sets;
	struct tx_stream streams[SENDER_MAX_USER_SETS * TX_LANES];
	struct tx_lane lanes[TX_LANES];
	size_t window, batch_bytes, batch_records;
	int lz4_dict_off;
	unsigned ping_ms, timeout_ms, backoff_min, backoff_max, stats_ms;
	stream_log_fn log;
	void (*on_ack)(void *arg, const char *user_set, int lane,
		       uint64_t acked_seq);
	void *arg;
	uv_timer_t stats_timer;
	int stats_reading;
	uint64_t rng;
	unsigned handles; /* open libuv handles */
	unsigned pending; /* store and resolver requests in flight */
	int closing;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* A store or resolver request tied to one connection of a lane. */
struct tx_op {
	struct tx_lane *l; /* NULL: not tied to a connection */
	struct sender *s;
	uint64_t gen;
	size_t stream;
	uint64_t wake; /* outbox reads: wake value when issued */
	uv_getaddrinfo_t gai;
};

static void tx_log(struct sender *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void tx_log(struct sender *s, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (s->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->log(s->arg, level, msg);
}

static const char *lane_name(const struct tx_lane *l)
{
	return stream_lane_name(l->lane);
}

static void tx_set_state(struct tx_lane *l, enum sender_state next)
{
	struct sender *s = l->s;

	if (l->state == next)
		return;
	tx_log(s, next == SENDER_STREAMING ? STREAM_LOG_INFO : STREAM_LOG_DEBUG,
	       "sender %s->%s %s: %s -> %s", s->local_pool, s->peer_pool,
	       lane_name(l), state_names[l->state], state_names[next]);
	l->state = next;
}

static uint64_t tx_random(struct sender *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545F4914F6CDD1DULL;
}

static struct tx_op *tx_op_new(struct sender *s, struct tx_lane *l,
			       size_t stream)
{
	struct tx_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->s = s;
	op->l = l;
	op->gen = l != NULL ? l->gen : 0;
	op->stream = stream;
	return op;
}

static void tx_maybe_finish(struct sender *s);

/* Ends an op's life: returns 1 when its connection is still the current
 * one and the sender is not closing. Frees op. */
static int tx_op_end(struct tx_op *op)
{
	struct sender *s = op->s;
	int live = !s->closing && (op->l == NULL || op->l->gen == op->gen);

	s->pending--;
	free(op);
	if (s->closing)
		tx_maybe_finish(s);
	return live;
}


/* ---- in-flight batches ------------------------------------------------- */

static int tx_inflight_push(struct tx_stream *st, uint64_t last_seq,
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
static uint64_t tx_inflight_pop(struct tx_stream *st, uint64_t acked)
{
	uint64_t bytes = 0;

	while (st->if_n > 0 && st->inflight[st->if_head].last_seq <= acked) {
		bytes += st->inflight[st->if_head].bytes;
		st->if_head = (st->if_head + 1) % st->if_cap;
		st->if_n--;
	}
	return bytes;
}

static struct tx_stream *tx_lane_stream(struct sender *s, struct tx_lane *l,
					size_t i)
{
	return &s->streams[i * TX_LANES + (size_t)l->lane];
}

/* ---- connection life ---------------------------------------------------- */

static void tx_lane_start(struct tx_lane *l);
static void tx_pump(struct tx_lane *l);

static void tx_backoff_fire(uv_timer_t *t)
{
	struct tx_lane *l = t->data;

	tx_lane_start(l);
}

static void tx_start_backoff(struct tx_lane *l)
{
	struct sender *s = l->s;
	uint64_t half = l->backoff_ms / 2;
	uint64_t delay = half + tx_random(s) % (l->backoff_ms - half + 1);

	tx_set_state(l, SENDER_BACKOFF);
	l->backoff_ms = l->backoff_ms * 2 > s->backoff_max ? s->backoff_max
							   : l->backoff_ms * 2;
	tx_log(s, STREAM_LOG_DEBUG, "sender %s->%s %s: retry in %llu ms",
	       s->local_pool, s->peer_pool, lane_name(l),
	       (unsigned long long)delay);
	uv_timer_start(&l->backoff, tx_backoff_fire, delay, 0);
}

static void tx_after_close(struct tx_lane *l)
{
	if (l->s->closing)
		return;
	if (l->after == TX_AFTER_START)
		tx_lane_start(l);
	else
		tx_start_backoff(l);
}

static void tx_conn_closed(struct tls_conn *c)
{
	struct tx_lane *l = c->data;
	struct sender *s = l->s;

	s->handles--;
	l->tcp_open = 0;
	l->conn_closing = 0;
	if (s->closing) {
		tx_maybe_finish(s);
		return;
	}
	tx_after_close(l);
}

/* End the lane's current connection (if any); then reconnect at once or
 * after a backoff. Requests of the old connection are ignored when they
 * complete. */
static void tx_lane_reset(struct tx_lane *l, enum tx_after after)
{
	struct sender *s = l->s;
	size_t i;

	l->gen++;
	uv_timer_stop(&l->ping);
	uv_timer_stop(&l->backoff);
	l->reading_outbox = 0;
	l->inflight_bytes = 0;
	l->hello_sent = 0;
	/* the next connection starts with an empty history, as the
	 * receiver's does */
	l->dict_mode = 0;
	batch_dict_reset(&l->dict);
	for (i = 0; i < s->n_user_sets; i++) {
		struct tx_stream *st = tx_lane_stream(s, l, i);
		st->ready = 0;
		st->blocked = 0;
		st->if_n = 0;
		st->if_head = 0;
	}
	frame_decoder_close(&l->dec);
	l->after = after;
	if (l->tcp_open) {
		if (!l->conn_closing) {
			tx_set_state(l, SENDER_CLOSING);
			l->conn_closing = 1;
			tls_conn_close(&l->conn, tx_conn_closed);
		}
		return;
	}
	tx_after_close(l);
}

static void tx_lane_fail(struct tx_lane *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tx_lane_fail(struct tx_lane *l, const char *fmt, ...)
{
	struct sender *s = l->s;
	char msg[STREAM_ERRMSG_LEN];
	va_list ap;

	if (s->closing || l->state == SENDER_CLOSING ||
	    l->state == SENDER_BACKOFF || l->state == SENDER_IDLE ||
	    l->state == SENDER_STOPPED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->last_error, sizeof(l->last_error), "%s", msg);
	l->reconnects++;
	tx_log(s, STREAM_LOG_WARN, "sender %s->%s %s: peer %s:%u: %s",
	       s->local_pool, s->peer_pool, lane_name(l),
	       s->host != NULL ? s->host : "-", (unsigned)s->port, msg);
	tx_lane_reset(l, TX_AFTER_BACKOFF);
}

/* Stream-level trouble that reconnecting cannot fix: logged, kept in
 * last_error, and the stream waits for the next connection. */
static void tx_stream_block(struct tx_lane *l, struct tx_stream *st,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void tx_stream_block(struct tx_lane *l, struct tx_stream *st,
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
		 st->user_set, lane_name(l), msg);
	tx_log(s, STREAM_LOG_ERROR, "sender %s->%s %s: %s: %s", s->local_pool,
	       s->peer_pool, lane_name(l), st->user_set, msg);
}

/* ---- positions ----------------------------------------------------------- */

static void tx_take_positions(struct sender *s, const struct store_positions *p)
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
			if (q->acked_seq > st->acked_seq)
				st->acked_seq = q->acked_seq;
		}
	}
}

static void tx_store_ack_done(void *arg, int status, const char *errmsg)
{
	struct tx_op *op = arg;
	struct sender *s = op->s;

	if (status != 0 && !s->closing)
		tx_log(s, STREAM_LOG_ERROR, "sender %s->%s: outbox ack: %s",
		       s->local_pool, s->peer_pool, errmsg);
	tx_op_end(op);
}

/* The pair holds st up to acked: trim the outbox, tell the caller. */
static void tx_acked(struct sender *s, struct tx_stream *st, uint64_t acked)
{
	struct tx_op *op;
	int rv;

	st->acked_seq = acked;
	op = tx_op_new(s, NULL, 0);
	if (op != NULL) {
		rv = store_outbox_ack(s->store, st->user_set, st->lane, acked,
				      tx_store_ack_done, op);
		if (rv == 0)
			s->pending++;
		else {
			free(op);
			tx_log(s, STREAM_LOG_ERROR,
			       "sender %s->%s: outbox ack: %s", s->local_pool,
			       s->peer_pool, store_strerror(rv));
		}
	}
	if (s->on_ack != NULL)
		s->on_ack(s->arg, st->user_set, st->lane, acked);
}

/* ---- handshake ------------------------------------------------------------ */

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

	if (!tx_op_end(op))
		return;
	if (status != 0) {
		tx_lane_fail(l, "positions: %s", p->errmsg);
		return;
	}
	tx_take_positions(s, p);
	for (i = 0; i < s->n_user_sets; i++) {
		struct tx_stream *st = tx_lane_stream(s, l, i);
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
		tx_lane_fail(l, "write hello: %s", stream_strerror(rv));
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

	if (l->state != SENDER_HANDSHAKING || !l->hello_sent) {
		tx_lane_fail(l, "unexpected hello from the receiver");
		return;
	}
	h = poolpair__repl__hello__unpack(NULL, f->len, f->payload);
	if (h == NULL) {
		tx_lane_fail(l, "hello does not decode");
		return;
	}
	if (stream_hello_check(h, err, sizeof(err)) != 0) {
		tx_lane_fail(l, "%s", err);
		goto out;
	}
	if (strcmp(h->from_pool, s->peer_pool) != 0 ||
	    strcmp(h->to_pool, s->local_pool) != 0) {
		tx_lane_fail(l, "hello from %s to %s, expected %s to %s",
			     h->from_pool, h->to_pool, s->peer_pool,
			     s->local_pool);
		goto out;
	}
	for (i = 0; i < s->n_user_sets; i++) {
		struct tx_stream *st = tx_lane_stream(s, l, i);
		const Poolpair__Repl__StreamPosition *q = NULL;
		uint64_t r;
		for (j = 0; j < h->n_positions; j++)
			if ((int)h->positions[j]->lane == l->lane &&
			    strcmp(h->positions[j]->user_set, st->user_set) ==
				    0)
				q = h->positions[j];
		if (q == NULL) {
			tx_lane_fail(l, "receiver did not answer for %s",
				     st->user_set);
			goto out;
		}
		r = q->acked_seq;
		/* the receiver may also hold what this store only received
		 * (a user set taken over): it resumes after that */
		if (r > st->head_seq && r > st->applied_seq) {
			tx_stream_block(l, st,
					"receiver applied up to %llu, past "
					"the last seq %llu written here",
					(unsigned long long)r,
					(unsigned long long)st->head_seq);
			continue;
		}
		if (r < st->acked_seq) {
			tx_stream_block(l, st,
					"receiver applied only up to %llu but "
					"acknowledged %llu earlier: those "
					"records are gone from the outbox",
					(unsigned long long)r,
					(unsigned long long)st->acked_seq);
			continue;
		}
		st->sent_seq = r;
		st->ready = 1;
		st->wake++;
		if (r > st->acked_seq)
			tx_acked(s, st, r);
	}
	l->backoff_ms = s->backoff_min;
	/* only what this sender offered and the receiver accepted */
	l->dict_mode = !s->lz4_dict_off && h->lz4_dict;
	tx_log(s, STREAM_LOG_DEBUG, "sender %s->%s %s: lz4 dictionary mode %s",
	       s->local_pool, s->peer_pool, lane_name(l),
	       l->dict_mode ? "on" : "off");
	tx_set_state(l, SENDER_STREAMING);
	tx_pump(l);
out:
	poolpair__repl__hello__free_unpacked(h, NULL);
}

/* ---- streaming ------------------------------------------------------------ */

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
	int rv;

	if (!tx_op_end(op))
		return;
	l->reading_outbox = 0;
	if (status != 0) {
		tx_lane_fail(l, "outbox read of %s: %s", st->user_set,
			     r->errmsg);
		return;
	}
	if (r->n == 0) {
		st->wake_done = wake;
		tx_pump(l);
		return;
	}
	if (r->records[0]->seq != st->sent_seq + 1) {
		tx_stream_block(l, st,
				"outbox starts at seq %llu, the pair needs "
				"%llu",
				(unsigned long long)r->records[0]->seq,
				(unsigned long long)st->sent_seq + 1);
		tx_pump(l);
		return;
	}
	/* Encoded here, in the order the frames are written: in dictionary
	 * mode each batch joins the history the next one is compressed
	 * against. On an error the history is unchanged. */
	if (l->dict_mode)
		rv = batch_encode_dict((const Poolpair__Repl__ChangeRecord
					    *const *)r->records,
				       r->n, &l->dict, &payload, &len, &flags,
				       &bst);
	else
		rv = batch_encode((const Poolpair__Repl__ChangeRecord *const *)
					  r->records,
				  r->n, &payload, &len, &flags, &bst);
	if (rv != 0) {
		tx_stream_block(l, st, "encode batch at seq %llu: %s",
				(unsigned long long)st->sent_seq + 1,
				batch_strerror(rv));
		tx_pump(l);
		return;
	}
	last = r->records[r->n - 1]->seq;
	if (tx_inflight_push(st, last, len + FRAME_HEADER_LEN) != 0) {
		free(payload);
		/* the batch is in the history but will not be sent: this
		 * connection cannot go on */
		tx_lane_fail(l, "out of memory");
		return;
	}
	rv = stream_tls_write_frame_owned(&l->conn, FRAME_RECORDS, flags,
					  payload, len);
	if (rv != 0) {
		tx_lane_fail(l, "write: %s", stream_strerror(rv));
		return;
	}
	l->inflight_bytes += len + FRAME_HEADER_LEN;
	st->sent_seq = last;
	st->records_sent += r->n;
	st->batches_sent++;
	if ((flags & FRAME_FLAG_DICT) != 0)
		st->batches_dict++;
	st->bytes_raw += bst.raw_bytes;
	st->bytes_wire += bst.wire_bytes;
	tx_pump(l);
}

/* Start the next outbox read when the window has room. One read per
 * connection at a time, user sets in turn. */
static void tx_pump(struct tx_lane *l)
{
	struct sender *s = l->s;
	size_t k;
	int rv;

	if (l->state != SENDER_STREAMING || l->reading_outbox ||
	    l->inflight_bytes >= s->window)
		return;
	for (k = 0; k < s->n_user_sets; k++) {
		size_t i = (l->rr + k) % s->n_user_sets;
		struct tx_stream *st = tx_lane_stream(s, l, i);
		size_t room = s->window - (size_t)l->inflight_bytes;
		struct tx_op *op;

		if (!st->ready || st->blocked || st->wake == st->wake_done)
			continue;
		op = tx_op_new(s, l, i * TX_LANES + (size_t)l->lane);
		if (op == NULL) {
			tx_lane_fail(l, "out of memory");
			return;
		}
		op->wake = st->wake;
		rv = store_outbox_read(s->store, st->user_set, l->lane,
				       st->sent_seq, s->batch_records,
				       room < s->batch_bytes ? room
							     : s->batch_bytes,
				       tx_outbox_read_done, op);
		if (rv != 0) {
			free(op);
			tx_lane_fail(l, "outbox read: %s", store_strerror(rv));
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
		tx_lane_fail(l, "ack before the handshake");
		return;
	}
	a = poolpair__repl__ack__unpack(NULL, f->len, f->payload);
	if (a == NULL) {
		tx_lane_fail(l, "ack does not decode");
		return;
	}
	if (stream_ack_check(a, err, sizeof(err)) != 0) {
		tx_lane_fail(l, "ack: %s", err);
		goto out;
	}
	for (j = 0; j < a->n_positions && l->gen == gen; j++) {
		const Poolpair__Repl__StreamPosition *q = a->positions[j];
		struct tx_stream *st = NULL;
		for (i = 0; i < s->n_user_sets; i++) {
			struct tx_stream *c = tx_lane_stream(s, l, i);
			if ((int)q->lane == l->lane &&
			    strcmp(c->user_set, q->user_set) == 0)
				st = c;
		}
		if (st == NULL || !st->ready) {
			tx_lane_fail(l, "ack for %s/%s, not streamed here",
				     q->user_set, stream_lane_name(q->lane));
			goto out;
		}
		if (q->acked_seq > st->sent_seq) {
			tx_lane_fail(l, "ack of %s up to %llu, past the last "
					"seq sent %llu",
				     st->user_set,
				     (unsigned long long)q->acked_seq,
				     (unsigned long long)st->sent_seq);
			goto out;
		}
		l->inflight_bytes -= tx_inflight_pop(st, q->acked_seq);
		if (q->acked_seq > st->acked_seq)
			tx_acked(s, st, q->acked_seq);
	}
	if (l->gen == gen)
		tx_pump(l);
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
			tx_lane_fail(l, "write pong: %s", stream_strerror(rv));
		return;
	case FRAME_PONG:
		return;
	case FRAME_ERROR:
		tx_lane_fail(l, "refused by the receiver: %.*s",
			     (int)(f->len > 200 ? 200 : f->len),
			     (const char *)f->payload);
		return;
	default:
		tx_lane_fail(l, "unexpected %s frame from the receiver",
			     frame_type_name(f->type));
		return;
	}
}

/* Every frame of a chunk is handled before this returns (or the
 * connection ended), so the decoder may borrow the chunk. */
static void tx_read(struct tls_conn *c, ssize_t nread, const char *data)
{
	struct tx_lane *l = c->data;
	uint64_t gen = l->gen;
	struct frame f;
	int rv;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread == TLS_E_EOF)
			tx_lane_fail(l, "connection closed by the receiver");
		else
			tx_lane_fail(l, "read: %s",
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
		tx_lane_fail(l, "%s", frame_strerror(rv));
}

static void tx_ping(uv_timer_t *t)
{
	struct tx_lane *l = t->data;
	struct sender *s = l->s;
	uint64_t quiet = uv_now(s->loop) - l->last_rx_ms;
	int rv;

	if (quiet > s->timeout_ms) {
		tx_lane_fail(l, "peer silent for %llu ms",
			     (unsigned long long)quiet);
		return;
	}
	rv = stream_tls_write_frame(&l->conn, FRAME_PING, 0, NULL, 0);
	if (rv != 0)
		tx_lane_fail(l, "write ping: %s", stream_strerror(rv));
}

/* TLS is up (plain: the next loop turn after connecting); reading has
 * started. */
static void tx_handshake_done(struct tls_conn *c, int status)
{
	struct tx_lane *l = c->data;
	struct sender *s = l->s;
	struct tx_op *op;
	int rv;

	if (l->state != SENDER_CONNECTING)
		return;
	if (status != 0) {
		tx_lane_fail(l, "tls: %s",
			     c->errmsg[0] != '\0' ? c->errmsg
						  : tls_strerror(status));
		return;
	}
	rv = frame_decoder_init(&l->dec, TX_MAX_ACK_PAYLOAD);
	if (rv != 0) {
		tx_lane_fail(l, "read start: %s", frame_strerror(rv));
		return;
	}
	l->last_rx_ms = uv_now(s->loop);
	uv_timer_start(&l->ping, tx_ping, s->ping_ms, s->ping_ms);
	tx_set_state(l, SENDER_HANDSHAKING);
	op = tx_op_new(s, l, 0);
	if (op == NULL) {
		tx_lane_fail(l, "out of memory");
		return;
	}
	rv = store_stream_positions(s->store, tx_hello_positions, op);
	if (rv != 0) {
		free(op);
		tx_lane_fail(l, "positions: %s", store_strerror(rv));
		return;
	}
	s->pending++;
}

static void tx_connected(uv_connect_t *req, int status)
{
	struct tx_lane *l = req->data;
	int rv;

	if (status == UV_ECANCELED || l->state != SENDER_CONNECTING)
		return;
	if (status < 0) {
		tx_lane_fail(l, "connect: %s", uv_strerror(status));
		return;
	}
	rv = tls_conn_start(&l->conn, tx_handshake_done, tx_read);
	if (rv != 0)
		tx_lane_fail(l, "tls: %s", tls_strerror(rv));
}

static void tx_resolved(uv_getaddrinfo_t *req, int status,
			struct addrinfo *res)
{
	struct tx_op *op = req->data;
	struct tx_lane *l = op->l;
	struct sender *s = op->s;
	int rv;

	if (!tx_op_end(op)) {
		uv_freeaddrinfo(res);
		return;
	}
	if (status < 0 || res == NULL) {
		uv_freeaddrinfo(res);
		tx_lane_fail(l, "cannot resolve %s: %s", s->host,
			     uv_strerror(status < 0 ? status : UV_EAI_NONAME));
		return;
	}
	rv = tls_conn_init(&l->conn, s->loop, s->tls, TLS_CLIENT,
			   TLS_ROLE_AGENT);
	if (rv != 0) {
		uv_freeaddrinfo(res);
		tx_lane_fail(l, "tls: %s", l->conn.errmsg);
		return;
	}
	s->handles++;
	l->tcp_open = 1;
	l->conn_closing = 0;
	l->conn.data = l;
	uv_tcp_nodelay(&l->conn.tcp, 1);
	tx_set_state(l, SENDER_CONNECTING);
	l->connect.data = l;
	rv = uv_tcp_connect(&l->connect, &l->conn.tcp, res->ai_addr,
			    tx_connected);
	uv_freeaddrinfo(res);
	if (rv != 0)
		tx_lane_fail(l, "connect: %s", uv_strerror(rv));
}

static void tx_lane_start(struct tx_lane *l)
{
	struct sender *s = l->s;
	struct addrinfo hints;
	char port[8];
	struct tx_op *op;
	int rv;

	if (s->closing)
		return;
	if (s->host == NULL || s->n_user_sets == 0) {
		tx_set_state(l, SENDER_IDLE);
		return;
	}
	tx_set_state(l, SENDER_RESOLVING);
	op = tx_op_new(s, l, 0);
	if (op == NULL) {
		tx_lane_fail(l, "out of memory");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", (unsigned)s->port);
	op->gai.data = op;
	rv = uv_getaddrinfo(s->loop, &op->gai, tx_resolved, s->host, port,
			    &hints);
	if (rv != 0) {
		free(op);
		tx_lane_fail(l, "cannot resolve %s: %s", s->host,
			     uv_strerror(rv));
		return;
	}
	s->pending++;
}

/* ---- stats -------------------------------------------------------------- */

static void tx_stats_positions(void *arg, int status,
			       const struct store_positions *p)
{
	struct tx_op *op = arg;
	struct sender *s = op->s;

	s->stats_reading = 0;
	if (!tx_op_end(op))
		return;
	if (status == 0)
		tx_take_positions(s, p);
}

static void tx_stats_tick(uv_timer_t *t)
{
	struct sender *s = t->data;
	uint64_t now = uv_now(s->loop);
	struct tx_op *op;
	size_t i;

	for (i = 0; i < s->n_user_sets * TX_LANES; i++)
		stream_rate_sample(&s->streams[i].rate, now,
				   s->streams[i].records_sent,
				   s->streams[i].bytes_wire);
	if (s->stats_reading)
		return;
	op = tx_op_new(s, NULL, 0);
	if (op == NULL)
		return;
	if (store_stream_positions(s->store, tx_stats_positions, op) != 0) {
		free(op);
		return;
	}
	s->pending++;
	s->stats_reading = 1;
}

/* ---- public ----------------------------------------------------------------- */

static int names_ok(const char *const *v, size_t n)
{
	size_t i, j;

	if (n > SENDER_MAX_USER_SETS || (n > 0 && v == NULL))
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL || v[i][0] == '\0' ||
		    strlen(v[i]) >= STREAM_NAME_MAX)
			return 0;
		for (j = 0; j < i; j++)
			if (strcmp(v[i], v[j]) == 0)
				return 0;
	}
	return 1;
}

static int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STREAM_NAME_MAX;
}

static int host_ok(const char *h)
{
	return h == NULL || (h[0] != '\0' && strlen(h) < STREAM_NAME_MAX);
}

static void tx_stream_setup(struct tx_stream *st, const char *user_set,
			    int lane)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->user_set, sizeof(st->user_set), "%s", user_set);
	st->lane = lane;
}

static void tx_handle_closed(uv_handle_t *h)
{
	struct sender *s = h->data;

	s->handles--;
	tx_maybe_finish(s);
}

static void tx_lane_timer_closed(uv_handle_t *h)
{
	struct tx_lane *l = h->data;

	l->s->handles--;
	tx_maybe_finish(l->s);
}

static void tx_maybe_finish(struct sender *s)
{
	void (*cb)(void *arg) = s->close_cb;
	void *arg = s->close_arg;
	size_t i;

	if (!s->closing || s->handles > 0 || s->pending > 0)
		return;
	for (i = 0; i < SENDER_MAX_USER_SETS * TX_LANES; i++)
		free(s->streams[i].inflight);
	for (i = 0; i < TX_LANES; i++) {
		frame_decoder_close(&s->lanes[i].dec);
		batch_dict_close(&s->lanes[i].dict);
	}
	free(s->host);
	free(s);
	if (cb != NULL)
		cb(arg);
}

int sender_init(struct sender **sp, uv_loop_t *loop, struct store *store,
		const struct sender_config *cfg)
{
	struct sender *s;
	size_t i;
	int l;

	if (sp == NULL || loop == NULL || store == NULL || cfg == NULL ||
	    !name_ok(cfg->local_pool) || !name_ok(cfg->peer_pool) ||
	    !host_ok(cfg->host) || !names_ok(cfg->user_sets, cfg->n_user_sets))
		return STREAM_E_ARG;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return STREAM_E_NOMEM;
	s->loop = loop;
	s->store = store;
	snprintf(s->local_pool, sizeof(s->local_pool), "%s", cfg->local_pool);
	snprintf(s->peer_pool, sizeof(s->peer_pool), "%s", cfg->peer_pool);
	s->agent_id = cfg->agent_id;
	if (cfg->host != NULL && (s->host = strdup(cfg->host)) == NULL) {
		free(s);
		return STREAM_E_NOMEM;
	}
	s->port = cfg->port;
	s->n_user_sets = cfg->n_user_sets;
	for (i = 0; i < cfg->n_user_sets; i++)
		for (l = 0; l < TX_LANES; l++)
			tx_stream_setup(&s->streams[i * TX_LANES + (size_t)l],
					cfg->user_sets[i], l);
	s->window = cfg->window_bytes ? cfg->window_bytes
				      : SENDER_DEFAULT_WINDOW;
	s->batch_bytes = cfg->batch_bytes ? cfg->batch_bytes
					  : SENDER_DEFAULT_BATCH_BYTES;
	s->batch_records = cfg->batch_records ? cfg->batch_records
					      : SENDER_DEFAULT_BATCH_RECORDS;
	s->ping_ms = cfg->ping_ms ? cfg->ping_ms : 1000;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 3000;
	s->backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 100;
	s->backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : 5000;
	if (s->backoff_max < s->backoff_min)
		s->backoff_max = s->backoff_min;
	s->stats_ms = cfg->stats_ms ? cfg->stats_ms : 1000;
	s->lz4_dict_off = cfg->lz4_dict_off != 0;
	s->log = cfg->log;
	s->on_ack = cfg->on_ack;
	s->arg = cfg->arg;
	s->rng = (cfg->agent_id ^ 0x9E3779B97F4A7C15ULL) | 1;
	s->tls = cfg->tls;
	/* uv_timer_init cannot fail on an initialised loop */
	s->stats_timer.data = s;
	uv_timer_init(loop, &s->stats_timer);
	s->handles++;
	for (l = 0; l < TX_LANES; l++) {
		struct tx_lane *ln = &s->lanes[l];
		ln->s = s;
		ln->lane = l;
		batch_dict_init(&ln->dict);
		ln->state = SENDER_IDLE;
		ln->backoff_ms = s->backoff_min;
		ln->backoff.data = ln;
		ln->ping.data = ln;
		uv_timer_init(loop, &ln->backoff);
		uv_timer_init(loop, &ln->ping);
		s->handles += 2;
	}
	uv_timer_start(&s->stats_timer, tx_stats_tick, 0, s->stats_ms);
	for (l = 0; l < TX_LANES; l++)
		tx_lane_start(&s->lanes[l]);
	*sp = s;
	return 0;
}

void sender_close(struct sender *s, void (*cb)(void *arg), void *arg)
{
	int l;

	assert(!s->closing);
	s->close_cb = cb;
	s->close_arg = arg;
	for (l = 0; l < TX_LANES; l++) {
		struct tx_lane *ln = &s->lanes[l];
		tx_set_state(ln, SENDER_STOPPED);
		ln->gen++;
	}
	s->closing = 1;
	uv_close((uv_handle_t *)&s->stats_timer, tx_handle_closed);
	for (l = 0; l < TX_LANES; l++) {
		struct tx_lane *ln = &s->lanes[l];
		uv_close((uv_handle_t *)&ln->backoff, tx_lane_timer_closed);
		uv_close((uv_handle_t *)&ln->ping, tx_lane_timer_closed);
		if (ln->tcp_open && !ln->conn_closing) {
			ln->conn_closing = 1;
			tls_conn_close(&ln->conn, tx_conn_closed);
		}
	}
}

void sender_notify(struct sender *s)
{
	size_t i;
	int l;

	if (s->closing)
		return;
	for (i = 0; i < s->n_user_sets * TX_LANES; i++)
		s->streams[i].wake++;
	for (l = 0; l < TX_LANES; l++)
		tx_pump(&s->lanes[l]);
}

int sender_set_peer(struct sender *s, const char *host, uint16_t port)
{
	char *copy = NULL;
	int l;

	if (s->closing)
		return STREAM_E_CLOSING;
	if (!host_ok(host))
		return STREAM_E_ARG;
	if (host != NULL && (copy = strdup(host)) == NULL)
		return STREAM_E_NOMEM;
	free(s->host);
	s->host = copy;
	s->port = port;
	tx_log(s, STREAM_LOG_INFO, "sender %s->%s: peer now %s:%u",
	       s->local_pool, s->peer_pool, host != NULL ? host : "-",
	       (unsigned)port);
	for (l = 0; l < TX_LANES; l++)
		tx_lane_reset(&s->lanes[l], TX_AFTER_START);
	return 0;
}

int sender_set_user_sets(struct sender *s, const char *const *user_sets,
			 size_t n)
{
	struct tx_stream old[SENDER_MAX_USER_SETS * TX_LANES];
	int kept[SENDER_MAX_USER_SETS * TX_LANES] = {0};
	size_t i, j, n_old = s->n_user_sets;
	int l;

	if (s->closing)
		return STREAM_E_CLOSING;
	if (!names_ok(user_sets, n))
		return STREAM_E_ARG;
	/* requests of the current connections refer to stream slots */
	for (l = 0; l < TX_LANES; l++)
		s->lanes[l].gen++;
	memcpy(old, s->streams, sizeof(old));
	for (i = 0; i < n; i++) {
		for (l = 0; l < TX_LANES; l++) {
			struct tx_stream *st =
				&s->streams[i * TX_LANES + (size_t)l];
			tx_stream_setup(st, user_sets[i], l);
			for (j = 0; j < n_old; j++) {
				size_t k = j * TX_LANES + (size_t)l;
				if (strcmp(old[k].user_set, user_sets[i]) == 0) {
					*st = old[k];
					kept[k] = 1;
				}
			}
		}
	}
	for (i = n * TX_LANES; i < SENDER_MAX_USER_SETS * TX_LANES; i++)
		memset(&s->streams[i], 0, sizeof(s->streams[i]));
	for (i = 0; i < n_old * TX_LANES; i++)
		if (!kept[i])
			free(old[i].inflight);
	s->n_user_sets = n;
	for (l = 0; l < TX_LANES; l++) {
		s->lanes[l].rr = 0;
		tx_lane_reset(&s->lanes[l], TX_AFTER_START);
	}
	return 0;
}

static const struct tx_stream *tx_find(const struct sender *s,
				       const char *user_set, int lane)
{
	size_t i;

	if (user_set == NULL || lane < 0 || lane >= TX_LANES)
		return NULL;
	for (i = 0; i < s->n_user_sets; i++) {
		const struct tx_stream *st =
			&s->streams[i * TX_LANES + (size_t)lane];
		if (strcmp(st->user_set, user_set) == 0)
			return st;
	}
	return NULL;
}

int sender_acked(const struct sender *s, const char *user_set, int lane,
		 uint64_t *acked)
{
	const struct tx_stream *st = tx_find(s, user_set, lane);

	if (st == NULL)
		return STREAM_E_NOT_FOUND;
	*acked = st->acked_seq;
	return 0;
}

size_t sender_stream_count(const struct sender *s)
{
	return s->n_user_sets * TX_LANES;
}

static void tx_fill_stats(const struct sender *s, const struct tx_stream *st,
			  struct sender_stats *out)
{
	const struct tx_lane *l = &s->lanes[st->lane];

	memset(out, 0, sizeof(*out));
	snprintf(out->user_set, sizeof(out->user_set), "%s", st->user_set);
	out->lane = st->lane;
	out->state = l->state;
	out->epoch = st->epoch;
	out->head_seq = st->head_seq;
	out->sent_seq = st->sent_seq;
	out->acked_seq = st->acked_seq;
	out->lag_records = st->lag_records;
	out->lag_bytes = st->lag_bytes;
	out->oldest_unacked_hlc = st->oldest_hlc;
	out->records_sent = st->records_sent;
	out->batches_sent = st->batches_sent;
	out->batches_dict = st->batches_dict;
	out->bytes_raw = st->bytes_raw;
	out->bytes_wire = st->bytes_wire;
	stream_rate_get(&st->rate, &out->records_per_s, &out->bytes_per_s);
	out->reconnects = l->reconnects;
	out->inflight_bytes = l->inflight_bytes;
	snprintf(out->peer, sizeof(out->peer), "%s:%u",
		 s->host != NULL ? s->host : "-", (unsigned)s->port);
	snprintf(out->last_error, sizeof(out->last_error), "%s",
		 l->last_error);
}

int sender_stats_at(const struct sender *s, size_t i,
		    struct sender_stats *out)
{
	if (i >= s->n_user_sets * TX_LANES)
		return STREAM_E_NOT_FOUND;
	tx_fill_stats(s, &s->streams[i], out);
	return 0;
}

int sender_stats_get(const struct sender *s, const char *user_set, int lane,
		     struct sender_stats *out)
{
	const struct tx_stream *st = tx_find(s, user_set, lane);

	if (st == NULL)
		return STREAM_E_NOT_FOUND;
	tx_fill_stats(s, st, out);
	return 0;
}
