/* receiver: accept the pair's connections, apply their batches, ack. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver.h"
#include "tls/tls.h"

#define RX_READ_BUF ((size_t)64 << 10)
#define RX_MAX_NAMED 64

enum rx_state {
	RX_HELLO = 0, /* waiting for the sender's HELLO */
	RX_POSITIONS, /* reading positions for the HELLO answer */
	RX_STREAMING, /* reading frames */
	RX_APPLYING,  /* a batch is being applied; not reading */
	RX_CLOSING,   /* handle closing; freed when nothing is in flight */
};

static const char *const rx_state_names[] = {
	"hello", "positions", "streaming", "applying", "closing",
};

struct rx_named {
	char user_set[STREAM_NAME_MAX];
	int lane;
};

struct rx_conn {
	struct receiver *r;
	struct rx_conn *prev, *next;
	struct tls_conn conn; /* TLS with the receiver's context, else plain */
	int conn_closing;     /* tls_conn_close() called */
	enum rx_state state;
	uint64_t id;
	char peer[64];
	struct frame_decoder dec;
	char *rbuf; /* owned, rbuf_cap bytes: the chunk the
		       decoder borrows until it drains */
	size_t rbuf_cap;
	struct batch_dict dict; /* history of the batches, in dict_mode */
	int dict_mode;        /* HELLO agreed on the dictionary mode */
	int reading;	      /* tls_conn_read_start in effect */
	int ops;              /* store operations in flight */
	int handle_closed;
	uint64_t last_rx_ms;
	struct rx_named named[RX_MAX_NAMED];
	size_t n_named;
};

struct receiver {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	char local_pool[STREAM_NAME_MAX];
	char peer_pool[STREAM_NAME_MAX];
	uint64_t agent_id;
	char user_sets[RECEIVER_MAX_USER_SETS][STREAM_NAME_MAX];
	size_t n_user_sets;
	size_t max_payload;
	unsigned timeout_ms;
	unsigned max_conns;
	int lz4_dict_off;
	stream_log_fn log;
	void (*on_apply)(void *arg, const char *user_set, int lane,
			 uint64_t applied_seq);
	void *arg;
	struct tls_ctx *tls; /* borrowed, NULL: plain */
	int tls_require;     /* with tls: refuse plain senders */
	uv_tcp_t listener;
	uv_timer_t timer;
	struct rx_conn *conns;
	uint64_t next_id;
	unsigned handles; /* listener, timer */
	int closing;
	void (*close_cb)(void *arg);
	void *close_arg;
	struct receiver_stats stats;
};

static const char *const reason_names[RECEIVER_ERR_COUNT] = {
	"frame", "truncated", "proto", "batch", "hello",
	"gap",   "store",     "timeout", "io",
};

const char *receiver_reason_name(int reason)
{
	if (reason < 0 || reason >= RECEIVER_ERR_COUNT)
		return "?";
	return reason_names[reason];
}

static void rx_log(struct receiver *r, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rx_log(struct receiver *r, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->log(r->arg, level, msg);
}

static void rx_set_state(struct rx_conn *c, enum rx_state next)
{
	if (c->state == next)
		return;
	rx_log(c->r, STREAM_LOG_DEBUG, "receiver %s conn %llu: %s -> %s",
	       c->peer, (unsigned long long)c->id, rx_state_names[c->state],
	       rx_state_names[next]);
	c->state = next;
}

static int accepts(const struct receiver *r, const char *user_set)
{
	size_t i;

	for (i = 0; i < r->n_user_sets; i++)
		if (strcmp(r->user_sets[i], user_set) == 0)
			return 1;
	return 0;
}

static int names(const struct rx_conn *c, const char *user_set, int lane)
{
	size_t i;

	for (i = 0; i < c->n_named; i++)
		if (c->named[i].lane == lane &&
		    strcmp(c->named[i].user_set, user_set) == 0)
			return 1;
	return 0;
}

/* ---- connection teardown ---------------------------------------------- */

static void rx_maybe_finish(struct receiver *r);

static void rx_conn_maybe_free(struct rx_conn *c)
{
	struct receiver *r = c->r;

	if (!c->handle_closed || c->ops > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	frame_decoder_close(&c->dec);
	batch_dict_close(&c->dict);
	free(c->rbuf);
	free(c);
	r->stats.active--;
	rx_maybe_finish(r);
}

static void rx_conn_closed(struct tls_conn *t)
{
	struct rx_conn *c = t->data;

	c->handle_closed = 1;
	rx_conn_maybe_free(c);
}

static void rx_conn_close_handle(struct rx_conn *c)
{
	if (!c->conn_closing) {
		c->conn_closing = 1;
		tls_conn_close(&c->conn, rx_conn_closed);
	}
}

static void rx_conn_close(struct rx_conn *c)
{
	if (c->state != RX_CLOSING)
		rx_set_state(c, RX_CLOSING);
	/* a shutdown may still be pending: close now */
	rx_conn_close_handle(c);
}

static void rx_shutdown_done(struct tls_conn *t, int status, void *arg)
{
	struct rx_conn *c = arg;

	(void)t;
	(void)status;
	rx_conn_close_handle(c);
}

/* Drop c for reason with a log line naming the peer; when tell is set the
 * peer gets an ERROR frame with the message first. */
static void rx_conn_fail(struct rx_conn *c, int reason, int tell,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void rx_conn_fail(struct rx_conn *c, int reason, int tell,
			 const char *fmt, ...)
{
	struct receiver *r = c->r;
	char msg[STREAM_ERRMSG_LEN];
	va_list ap;

	if (c->state == RX_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->stats.errors[reason]++;
	snprintf(r->stats.last_error, sizeof(r->stats.last_error),
		 "%s: %s", c->peer, msg);
	rx_log(r, STREAM_LOG_WARN, "receiver: dropping %s (%s): %s", c->peer,
	       reason_names[reason], msg);
	if (c->reading) {
		tls_conn_read_stop(&c->conn);
		c->reading = 0;
	}
	if (tell &&
	    stream_tls_write_frame(&c->conn, FRAME_ERROR, 0, msg,
				   strlen(msg)) == 0 &&
	    tls_conn_shutdown(&c->conn, rx_shutdown_done, c) == 0) {
		rx_set_state(c, RX_CLOSING);
		return;
	}
	rx_conn_close(c);
}

/* ---- reading ---------------------------------------------------------- */

static void rx_process(struct rx_conn *c);

/* Plaintext (borrowed for the call): copied, as the decoder borrows the
 * chunk until it drains, which an apply may postpone. Reading is paused
 * until then, so no second chunk comes before. */
static void rx_read(struct tls_conn *t, ssize_t nread, const char *data)
{
	struct rx_conn *c = t->data;
	int rv;

	if (nread == 0 || c->state == RX_CLOSING)
		return;
	if (nread < 0) {
		if (nread != TLS_E_EOF)
			rx_conn_fail(c, RECEIVER_ERR_IO, 0, "read: %s",
				     t->errmsg[0] != '\0'
					 ? t->errmsg
					 : tls_strerror((int)nread));
		else if (frame_decoder_pending(&c->dec) > 0)
			rx_conn_fail(c, RECEIVER_ERR_TRUNCATED, 0,
				     "connection closed in the middle of a "
				     "frame (%zu bytes pending)",
				     frame_decoder_pending(&c->dec));
		else {
			rx_log(c->r, STREAM_LOG_INFO,
			       "receiver: %s closed the connection", c->peer);
			rx_conn_close(c);
		}
		return;
	}
	c->last_rx_ms = uv_now(c->r->loop);
	if ((size_t)nread > c->rbuf_cap) {
		char *p = realloc(c->rbuf, (size_t)nread);

		if (p == NULL) {
			rx_conn_fail(c, RECEIVER_ERR_IO, 0, "out of memory");
			return;
		}
		c->rbuf = p;
		c->rbuf_cap = (size_t)nread;
	}
	memcpy(c->rbuf, data, (size_t)nread);
	rv = frame_decoder_feed(&c->dec, c->rbuf, (size_t)nread);
	if (rv != 0) {
		rx_conn_fail(c, RECEIVER_ERR_FRAME, 1, "%s",
			     frame_strerror(rv));
		return;
	}
	rx_process(c);
}

/* Plaintext already decrypted may be handed to rx_read() inside. */
static void rx_resume_reading(struct rx_conn *c)
{
	if (c->reading || c->state == RX_CLOSING)
		return;
	c->last_rx_ms = uv_now(c->r->loop);
	c->reading = 1;
	tls_conn_read_start(&c->conn);
}

static void rx_pause_reading(struct rx_conn *c)
{
	if (!c->reading)
		return;
	tls_conn_read_stop(&c->conn);
	c->reading = 0;
}

/* ---- HELLO ------------------------------------------------------------- */

static void rx_positions_done(void *arg, int status,
			      const struct store_positions *p)
{
	struct rx_conn *c = arg;
	struct receiver *r = c->r;
	Poolpair__Repl__Hello hello = POOLPAIR__REPL__HELLO__INIT;
	Poolpair__Repl__StreamPosition pos[RX_MAX_NAMED];
	Poolpair__Repl__StreamPosition *ptrs[RX_MAX_NAMED];
	size_t i, j;
	int rv;

	c->ops--;
	if (c->state == RX_CLOSING) {
		rx_conn_maybe_free(c);
		return;
	}
	if (status != 0) {
		rx_conn_fail(c, RECEIVER_ERR_STORE, 1, "positions: %s",
			     p->errmsg);
		return;
	}
	for (i = 0; i < c->n_named; i++) {
		poolpair__repl__stream_position__init(&pos[i]);
		pos[i].user_set = c->named[i].user_set;
		pos[i].lane = c->named[i].lane;
		for (j = 0; j < p->n; j++) {
			if (p->v[j].lane == c->named[i].lane &&
			    strcmp(p->v[j].user_set, c->named[i].user_set) ==
				    0) {
				pos[i].epoch = p->v[j].epoch;
				/* a stream this store also wrote (its own user
				 * set, back after a failover) stands where its
				 * own writes ended, if that is further */
				pos[i].acked_seq =
				    p->v[j].applied_seq > p->v[j].head_seq
					? p->v[j].applied_seq
					: p->v[j].head_seq;
			}
		}
		ptrs[i] = &pos[i];
	}
	hello.from_pool = r->local_pool;
	hello.to_pool = r->peer_pool;
	hello.agent_id = r->agent_id;
	hello.positions = ptrs;
	hello.n_positions = c->n_named;
	hello.lz4_dict = c->dict_mode;
	rv = stream_tls_write_message(&c->conn, FRAME_HELLO, &hello.base);
	if (rv != 0) {
		rx_conn_fail(c, RECEIVER_ERR_IO, 0, "write hello: %s",
			     stream_strerror(rv));
		return;
	}
	r->stats.handshakes++;
	rx_log(r, STREAM_LOG_INFO,
	       "receiver: %s (%s) streams %zu position%s%s", c->peer,
	       r->peer_pool, c->n_named, c->n_named == 1 ? "" : "s",
	       c->dict_mode ? ", lz4 dictionary mode" : "");
	rx_set_state(c, RX_STREAMING);
	rx_process(c);
}

/* Close older connections that stream one of the (user set, lane) pairs c
 * names: the sender reconnected and they are dead. */
static void rx_replace_older(struct rx_conn *c)
{
	struct rx_conn *o;
	size_t i;

	for (o = c->r->conns; o != NULL; o = o->next) {
		if (o == c || o->state == RX_CLOSING || o->state == RX_HELLO)
			continue;
		for (i = 0; i < c->n_named; i++) {
			if (names(o, c->named[i].user_set, c->named[i].lane)) {
				rx_log(c->r, STREAM_LOG_INFO,
				       "receiver: %s conn %llu replaced by "
				       "conn %llu",
				       o->peer, (unsigned long long)o->id,
				       (unsigned long long)c->id);
				rx_conn_close(o);
				break;
			}
		}
	}
}

static void rx_on_hello(struct rx_conn *c, const struct frame *f)
{
	struct receiver *r = c->r;
	Poolpair__Repl__Hello *h;
	char err[STREAM_ERRMSG_LEN];
	size_t i;
	int rv;

	h = poolpair__repl__hello__unpack(NULL, f->len, f->payload);
	if (h == NULL) {
		rx_conn_fail(c, RECEIVER_ERR_PROTO, 1,
			     "hello does not decode");
		return;
	}
	if (stream_hello_check(h, err, sizeof(err)) != 0) {
		rx_conn_fail(c, RECEIVER_ERR_HELLO, 1, "%s", err);
		goto out;
	}
	if (strcmp(h->from_pool, r->peer_pool) != 0) {
		rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
			     "hello refused: from pool %s, expected %s",
			     h->from_pool, r->peer_pool);
		goto out;
	}
	if (strcmp(h->to_pool, r->local_pool) != 0) {
		rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
			     "hello refused: addressed to pool %s, this is %s",
			     h->to_pool, r->local_pool);
		goto out;
	}
	for (i = 0; i < h->n_positions; i++) {
		if (!accepts(r, h->positions[i]->user_set)) {
			rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
				     "hello refused: user set %s not accepted",
				     h->positions[i]->user_set);
			goto out;
		}
	}
	for (i = 0; i < h->n_positions; i++) {
		snprintf(c->named[i].user_set, STREAM_NAME_MAX, "%s",
			 h->positions[i]->user_set);
		c->named[i].lane = h->positions[i]->lane;
	}
	c->n_named = h->n_positions;
	/* accepted only when offered; the connection's history starts empty
	 * (the dict of a new rx_conn is zeroed) */
	c->dict_mode = !r->lz4_dict_off && h->lz4_dict;
	rx_replace_older(c);
	rx_set_state(c, RX_POSITIONS);
	rv = store_stream_positions(r->store, rx_positions_done, c);
	if (rv != 0) {
		rx_conn_fail(c, RECEIVER_ERR_STORE, 1, "positions: %s",
			     store_strerror(rv));
		goto out;
	}
	c->ops++;
out:
	poolpair__repl__hello__free_unpacked(h, NULL);
}

/* ---- RECORDS ------------------------------------------------------------ */

static void rx_send_ack(struct rx_conn *c, const struct store_apply_result *res)
{
	Poolpair__Repl__Ack ack = POOLPAIR__REPL__ACK__INIT;
	Poolpair__Repl__StreamPosition pos[RX_MAX_NAMED];
	Poolpair__Repl__StreamPosition *ptrs[RX_MAX_NAMED];
	size_t i, n = 0;
	int rv;

	for (i = 0; i < res->n && n < RX_MAX_NAMED; i++) {
		poolpair__repl__stream_position__init(&pos[n]);
		pos[n].user_set = (char *)res->positions[i].user_set;
		pos[n].lane = res->positions[i].lane;
		pos[n].epoch = res->positions[i].epoch;
		pos[n].acked_seq = res->positions[i].applied_seq;
		ptrs[n] = &pos[n];
		n++;
	}
	if (n == 0)
		return;
	ack.positions = ptrs;
	ack.n_positions = n;
	rv = stream_tls_write_message(&c->conn, FRAME_ACK, &ack.base);
	if (rv != 0)
		rx_conn_fail(c, RECEIVER_ERR_IO, 0, "write ack: %s",
			     stream_strerror(rv));
}

static void rx_apply_done(void *arg, int status,
			  const struct store_apply_result *res)
{
	struct rx_conn *c = arg;
	struct receiver *r = c->r;
	size_t i;

	c->ops--;
	/* counted only when committed: on another error (disk full, I/O)
	 * the store rolled the whole batch back */
	if (status == 0 || status == STORE_E_GAP ||
	    status == STORE_E_INVALID) {
		r->stats.records_applied += res->applied;
		r->stats.duplicates += res->duplicates;
		r->stats.archived += res->archived;
	}
	if (c->state == RX_CLOSING) {
		rx_conn_maybe_free(c);
		return;
	}
	if (status == 0 || status == STORE_E_GAP ||
	    status == STORE_E_INVALID)
		rx_send_ack(c, res);
	if (c->state == RX_CLOSING)
		return;
	if (status == 0 || status == STORE_E_GAP ||
	    status == STORE_E_INVALID) {
		for (i = 0; r->on_apply != NULL && i < res->n; i++)
			r->on_apply(r->arg, res->positions[i].user_set,
				    res->positions[i].lane,
				    res->positions[i].applied_seq);
	}
	if (status == STORE_E_GAP) {
		rx_conn_fail(c, RECEIVER_ERR_GAP, 1, "%s", res->errmsg);
		return;
	}
	if (status == STORE_E_INVALID) {
		rx_conn_fail(c, RECEIVER_ERR_BATCH, 1, "%s", res->errmsg);
		return;
	}
	if (status != 0) {
		rx_conn_fail(c, RECEIVER_ERR_STORE, 1, "apply: %s",
			     res->errmsg[0] != '\0' ? res->errmsg
						    : store_strerror(status));
		return;
	}
	r->stats.batches++;
	rx_set_state(c, RX_STREAMING);
	rx_process(c);
}

static void rx_on_records(struct rx_conn *c, const struct frame *f)
{
	struct receiver *r = c->r;
	Poolpair__Repl__RecordBatch *b = NULL;
	char err[BATCH_ERRMSG_LEN];
	size_t i;
	int rv;

	/* Decoded here on the loop thread, one frame at a time in arrival
	 * order (rx_process stops while an apply is in flight): the history
	 * must see the batches in the order the sender encoded them. */
	rv = batch_decode_dict(f->payload, f->len, f->flags, 0,
			       c->dict_mode ? &c->dict : NULL, &b);
	if (rv != 0) {
		rx_conn_fail(c, RECEIVER_ERR_PROTO, 1, "batch: %s",
			     batch_strerror(rv));
		return;
	}
	if ((f->flags & FRAME_FLAG_DICT) != 0)
		r->stats.batches_dict++;
	rv = batch_validate(b, err, sizeof(err));
	if (rv != 0) {
		rx_conn_fail(c, RECEIVER_ERR_BATCH, 1, "batch: %s",
			     rv == BATCH_E_INVALID ? err : batch_strerror(rv));
		goto out;
	}
	for (i = 0; i < b->n_records; i++) {
		const Poolpair__Repl__ChangeRecord *rec = b->records[i];
		if (!names(c, rec->user_set, rec->lane)) {
			rx_conn_fail(c, RECEIVER_ERR_BATCH, 1,
				     "batch: record %zu names %s/%s, not in "
				     "the hello",
				     i, rec->user_set,
				     stream_lane_name(rec->lane));
			goto out;
		}
	}
	rv = store_apply_batch(r->store, b, rx_apply_done, c);
	if (rv != 0) {
		rx_conn_fail(c, RECEIVER_ERR_STORE, 1, "apply: %s",
			     store_strerror(rv));
		goto out;
	}
	c->ops++;
	rx_set_state(c, RX_APPLYING);
out:
	poolpair__repl__record_batch__free_unpacked(b, NULL);
}

/* ---- dispatch ----------------------------------------------------------- */

static void rx_on_frame(struct rx_conn *c, const struct frame *f)
{
	int rv;

	switch (f->type) {
	case FRAME_HELLO:
		if (c->state != RX_HELLO) {
			rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
				     "second hello on one connection");
			return;
		}
		rx_on_hello(c, f);
		return;
	case FRAME_RECORDS:
		if (c->state != RX_STREAMING) {
			rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
				     "records before hello");
			return;
		}
		rx_on_records(c, f);
		return;
	case FRAME_PING:
		rv = stream_tls_write_frame(&c->conn, FRAME_PONG, 0, NULL, 0);
		if (rv != 0)
			rx_conn_fail(c, RECEIVER_ERR_IO, 0, "write pong: %s",
				     stream_strerror(rv));
		return;
	case FRAME_PONG:
		return;
	case FRAME_ERROR:
		rx_conn_fail(c, RECEIVER_ERR_IO, 0, "peer error: %.*s",
			     (int)(f->len > 200 ? 200 : f->len),
			     (const char *)f->payload);
		return;
	default:
		rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
			     "unexpected %s frame from a sender",
			     frame_type_name(f->type));
		return;
	}
}

/* Take frames from the decoder while the connection may act on them; read
 * more once the fed chunk is used up. */
static void rx_process(struct rx_conn *c)
{
	struct frame f;
	int rv;

	while (c->state == RX_HELLO || c->state == RX_STREAMING) {
		rv = frame_decoder_next(&c->dec, &f);
		if (rv == 0) {
			rx_resume_reading(c);
			return;
		}
		if (rv < 0) {
			rx_conn_fail(c, RECEIVER_ERR_FRAME, 1, "%s",
				     frame_strerror(rv));
			return;
		}
		rx_on_frame(c, &f);
	}
	if (c->state == RX_POSITIONS || c->state == RX_APPLYING)
		rx_pause_reading(c);
}

/* ---- listener ----------------------------------------------------------- */

static void peer_name(uv_tcp_t *t, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	int n = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &n) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			uv_ip4_name(a, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(a, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		}
	}
	snprintf(buf, len, "%s:%d", ip, port);
}

static void rx_refused_closed(uv_handle_t *h)
{
	free(h);
}

/* TLS is up (plain: the next loop turn); reading has started. */
static void rx_handshake_done(struct tls_conn *t, int status)
{
	struct rx_conn *c = t->data;
	struct receiver *r = c->r;

	if (c->state == RX_CLOSING)
		return;
	if (status != 0) {
		const char *why =
		    t->errmsg[0] != '\0' ? t->errmsg : tls_strerror(status);

		char msg[TLS_ERRMSG_LEN + 64];

		r->stats.errors[RECEIVER_ERR_HELLO]++;
		snprintf(r->stats.last_error, sizeof(r->stats.last_error),
			 "%s: tls: %s", c->peer, why);
		/* a sender retrying: once a minute per address and reason */
		if (r->tls == NULL ||
		    tls_quiet_pass(&r->tls->quiet, c->peer, why,
				   uv_now(r->loop), msg, sizeof(msg)))
			rx_log(r, STREAM_LOG_WARN, "receiver: refused %s: %s",
			       c->peer, r->tls != NULL ? msg : why);
		rx_conn_close(c);
		return;
	}
	c->reading = 1;
	c->last_rx_ms = uv_now(r->loop);
	if (r->tls != NULL && t->state == TLS_CONN_PLAIN)
		rx_log(r, STREAM_LOG_WARN,
		       "receiver: %s streams in plain TCP (tls require = "
		       "false)",
		       c->peer);
	rx_log(r, STREAM_LOG_DEBUG, "receiver: connection %llu from %s%s%s",
	       (unsigned long long)c->id, c->peer,
	       t->state == TLS_CONN_OPEN ? " over tls as " : "",
	       t->state == TLS_CONN_OPEN ? t->peer_identity : "");
}

static void rx_on_connection(uv_stream_t *server, int status)
{
	struct receiver *r = server->data;
	struct rx_conn *c;
	int rv;

	if (status < 0 || r->closing) {
		rx_log(r, STREAM_LOG_WARN, "receiver: accept: %s",
		       uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->rbuf = malloc(RX_READ_BUF)) == NULL ||
	    frame_decoder_init(&c->dec, r->max_payload) != 0 ||
	    tls_conn_init(&c->conn, r->loop, r->tls, TLS_SERVER,
			  TLS_ROLE_AGENT) != 0) {
		uv_tcp_t *t;
		if (c != NULL) {
			frame_decoder_close(&c->dec);
			free(c->rbuf);
		}
		free(c);
		t = malloc(sizeof(*t));
		if (t == NULL || uv_tcp_init(r->loop, t) != 0) {
			free(t);
			return;
		}
		if (uv_accept(server, (uv_stream_t *)t) == 0)
			rx_log(r, STREAM_LOG_ERROR,
			       "receiver: out of memory, connection refused");
		uv_close((uv_handle_t *)t, rx_refused_closed);
		return;
	}
	c->r = r;
	c->id = ++r->next_id;
	c->rbuf_cap = RX_READ_BUF;
	c->conn.data = c;
	tls_conn_allow_plain(&c->conn, r->tls != NULL && !r->tls_require);
	c->last_rx_ms = uv_now(r->loop);
	/* linked before anything can close it */
	c->next = r->conns;
	if (r->conns != NULL)
		r->conns->prev = c;
	r->conns = c;
	r->stats.active++;
	r->stats.connections++;
	rv = uv_accept(server, (uv_stream_t *)&c->conn.tcp);
	if (rv != 0) {
		snprintf(c->peer, sizeof(c->peer), "?");
		rx_conn_fail(c, RECEIVER_ERR_IO, 0, "accept: %s",
			     uv_strerror(rv));
		return;
	}
	uv_tcp_nodelay(&c->conn.tcp, 1);
	peer_name(&c->conn.tcp, c->peer, sizeof(c->peer));
	if (r->stats.active > r->max_conns) {
		rx_conn_fail(c, RECEIVER_ERR_HELLO, 0,
			     "too many connections (%u)", r->max_conns);
		return;
	}
	rv = tls_conn_start(&c->conn, rx_handshake_done, rx_read);
	if (rv != 0)
		rx_conn_fail(c, RECEIVER_ERR_IO, 0, "tls: %s",
			     tls_strerror(rv));
}

static void rx_tick(uv_timer_t *t)
{
	struct receiver *r = t->data;
	struct rx_conn *c, *next;
	uint64_t now = uv_now(r->loop);

	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state != RX_HELLO && c->state != RX_STREAMING)
			continue;
		if (now - c->last_rx_ms > r->timeout_ms)
			rx_conn_fail(c, RECEIVER_ERR_TIMEOUT, 0,
				     "peer silent for %llu ms",
				     (unsigned long long)(now - c->last_rx_ms));
	}
}

/* ---- lifecycle ---------------------------------------------------------- */

static int copy_user_sets(struct receiver *r, const char *const *v, size_t n)
{
	size_t i;

	if (n > RECEIVER_MAX_USER_SETS || (n > 0 && v == NULL))
		return STREAM_E_ARG;
	for (i = 0; i < n; i++)
		if (v[i] == NULL || v[i][0] == '\0' ||
		    strlen(v[i]) >= STREAM_NAME_MAX)
			return STREAM_E_ARG;
	for (i = 0; i < n; i++)
		snprintf(r->user_sets[i], STREAM_NAME_MAX, "%s", v[i]);
	r->n_user_sets = n;
	return 0;
}

static int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STREAM_NAME_MAX;
}

static void rx_init_closed(uv_handle_t *h)
{
	struct receiver *r = h->data;

	if (--r->handles == 0)
		free(r);
}

int receiver_init(struct receiver **rp, uv_loop_t *loop, struct store *store,
		  const struct receiver_config *cfg)
{
	struct receiver *r;
	struct sockaddr_storage ss;
	int rv;

	if (rp == NULL || loop == NULL || store == NULL || cfg == NULL ||
	    !name_ok(cfg->local_pool) || !name_ok(cfg->peer_pool) ||
	    cfg->host == NULL ||
	    (cfg->max_payload > FRAME_HARD_MAX_PAYLOAD))
		return STREAM_E_ARG;
	if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&ss) !=
		    0 &&
	    uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&ss) !=
		    0)
		return UV_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return STREAM_E_NOMEM;
	if (copy_user_sets(r, cfg->user_sets, cfg->n_user_sets) != 0) {
		free(r);
		return STREAM_E_ARG;
	}
	r->loop = loop;
	r->store = store;
	snprintf(r->local_pool, sizeof(r->local_pool), "%s", cfg->local_pool);
	snprintf(r->peer_pool, sizeof(r->peer_pool), "%s", cfg->peer_pool);
	r->agent_id = cfg->agent_id;
	r->max_payload = cfg->max_payload ? cfg->max_payload
					  : RECEIVER_DEFAULT_MAX_PAYLOAD;
	r->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
	r->max_conns = cfg->max_conns ? cfg->max_conns : 16;
	r->lz4_dict_off = cfg->lz4_dict_off != 0;
	r->log = cfg->log;
	r->on_apply = cfg->on_apply;
	r->arg = cfg->arg;
	r->tls = cfg->tls;
	r->tls_require = cfg->tls_require != 0;

	r->listener.data = r;
	r->timer.data = r;
	rv = uv_tcp_init(loop, &r->listener);
	if (rv != 0) {
		free(r);
		return rv;
	}
	r->handles = 1;
	rv = uv_tcp_bind(&r->listener, (struct sockaddr *)&ss, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&r->listener, 64,
			       rx_on_connection);
	if (rv != 0)
		goto err_after_listener;
	rv = uv_timer_init(loop, &r->timer);
	if (rv != 0)
		goto err_after_listener;
	r->handles++;
	rv = uv_timer_start(&r->timer, rx_tick, 250, 250);
	if (rv != 0) {
		uv_close((uv_handle_t *)&r->timer, rx_init_closed);
		goto err_after_listener;
	}
	rx_log(r, STREAM_LOG_INFO, "receiver: %s listening on %s:%d for %s",
	       r->local_pool, cfg->host, receiver_port(r), r->peer_pool);
	*rp = r;
	return 0;

err_after_listener:
	uv_close((uv_handle_t *)&r->listener, rx_init_closed);
	return rv;
}

int receiver_port(const struct receiver *r)
{
	struct sockaddr_storage ss;
	int n = sizeof(ss);
	int rv;

	rv = uv_tcp_getsockname(&r->listener, (struct sockaddr *)&ss, &n);
	if (rv != 0)
		return rv;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return UV_EINVAL;
}

int receiver_set_user_sets(struct receiver *r, const char *const *user_sets,
			   size_t n)
{
	struct rx_conn *c, *next;
	size_t i;
	int rv;

	if (r->closing)
		return STREAM_E_CLOSING;
	rv = copy_user_sets(r, user_sets, n);
	if (rv != 0)
		return rv;
	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		for (i = 0; i < c->n_named; i++) {
			if (!accepts(r, c->named[i].user_set)) {
				rx_conn_fail(c, RECEIVER_ERR_HELLO, 1,
					     "user set %s no longer accepted",
					     c->named[i].user_set);
				break;
			}
		}
	}
	return 0;
}

void receiver_get_stats(const struct receiver *r, struct receiver_stats *out)
{
	*out = r->stats;
}

static void rx_maybe_finish(struct receiver *r)
{
	void (*cb)(void *arg);
	void *arg;

	if (!r->closing || r->handles > 0 || r->conns != NULL)
		return;
	cb = r->close_cb;
	arg = r->close_arg;
	rx_log(r, STREAM_LOG_INFO, "receiver: %s closed", r->local_pool);
	free(r);
	if (cb != NULL)
		cb(arg);
}

static void rx_handle_closed(uv_handle_t *h)
{
	struct receiver *r = h->data;

	r->handles--;
	rx_maybe_finish(r);
}

void receiver_close(struct receiver *r, void (*cb)(void *arg), void *arg)
{
	struct rx_conn *c, *next;

	r->closing = 1;
	r->close_cb = cb;
	r->close_arg = arg;
	uv_close((uv_handle_t *)&r->listener, rx_handle_closed);
	uv_close((uv_handle_t *)&r->timer, rx_handle_closed);
	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		rx_conn_close(c);
	}
}
