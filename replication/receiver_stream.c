/* receiver_stream: what a connection of the receiver carries once it is
 * up: reading (paused while an apply runs), the sender's HELLO and the
 * answer with the store's positions, RECORDS decoded, validated and
 * applied in order, cumulative ACKs, PING. Accepting and dropping
 * connections is receiver.c's, the seed frames receiver_seed.c's; see
 * receiver.h for the protocol and receiver_internal.h for the shared
 * structures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver_internal.h"
#include "tls/tls.h"

static void rx_process(struct rx_conn *c);

int receiver_named_find(const struct rx_conn *c, const char *user_set, int lane)
{
	size_t i;

	for (i = 0; i < c->n_named; i++)
		if (c->named[i].lane == lane &&
		    strcmp(c->named[i].user_set, user_set) == 0)
			return (int)i;
	return -1;
}

static int names(const struct rx_conn *c, const char *user_set, int lane)
{
	return receiver_named_find(c, user_set, lane) >= 0;
}

/* ---- reading ---------------------------------------------------------- */

/* Plaintext (borrowed for the call): copied, as the decoder borrows the
 * chunk until it drains, which an apply may postpone. Reading is paused
 * until then, so no second chunk comes before. */
void receiver_stream_read(struct tls_conn *t, ssize_t nread, const char *data)
{
	struct rx_conn *c = t->data;
	int rv;

	if (nread == 0 || c->state == RX_CLOSING)
		return;
	if (nread < 0) {
		if (nread != TLS_E_EOF)
			receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "read: %s",
					   t->errmsg[0] != '\0'
					       ? t->errmsg
					       : tls_strerror((int)nread));
		else if (frame_decoder_pending(&c->dec) > 0)
			receiver_conn_fail(
			    c, RECEIVER_ERR_TRUNCATED, 0,
			    "connection closed in the middle of a "
			    "frame (%zu bytes pending)",
			    frame_decoder_pending(&c->dec));
		else {
			receiver_log(c->r, STREAM_LOG_INFO,
				     "receiver: %s closed the connection",
				     c->peer);
			receiver_conn_close(c);
		}
		return;
	}
	c->last_rx_ms = uv_now(c->r->loop);
	if ((size_t)nread > c->rbuf_cap) {
		char *p = realloc(c->rbuf, (size_t)nread);

		if (p == NULL) {
			receiver_conn_fail(c, RECEIVER_ERR_IO, 0,
					   "out of memory");
			return;
		}
		c->rbuf = p;
		c->rbuf_cap = (size_t)nread;
	}
	memcpy(c->rbuf, data, (size_t)nread);
	rv = frame_decoder_feed(&c->dec, c->rbuf, (size_t)nread);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_FRAME, 1, "%s",
				   frame_strerror(rv));
		return;
	}
	rx_process(c);
}

/* Plaintext already decrypted may be handed to receiver_stream_read() inside.
 */
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
	size_t i, j;

	c->ops--;
	if (c->state == RX_CLOSING) {
		receiver_conn_maybe_free(c);
		return;
	}
	if (status != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "positions: %s",
				   p->errmsg);
		return;
	}
	for (i = 0; i < c->n_named; i++) {
		struct rx_named *n = &c->named[i];
		for (j = 0; j < p->n; j++) {
			if (p->v[j].lane == n->lane &&
			    strcmp(p->v[j].user_set, n->user_set) == 0) {
				n->epoch = p->v[j].epoch;
				/* a stream this store also wrote (its own user
				 * set, back after a failover) stands where its
				 * own writes ended, if that is further */
				n->acked_seq =
				    p->v[j].applied_seq > p->v[j].head_seq
					? p->v[j].applied_seq
					: p->v[j].head_seq;
			}
		}
	}
	receiver_seed_hello(c);
}

void receiver_stream_answer_hello(struct rx_conn *c,
				  const struct store_seed_states *rows)
{
	struct receiver *r = c->r;
	Poolpair__Repl__Hello hello = POOLPAIR__REPL__HELLO__INIT;
	Poolpair__Repl__StreamPosition pos[RX_MAX_NAMED];
	Poolpair__Repl__StreamPosition *ptrs[RX_MAX_NAMED];
	Poolpair__Repl__SeedProgress seed[RX_MAX_NAMED];
	size_t i, j;
	int rv;

	for (i = 0; i < c->n_named; i++) {
		struct rx_named *n = &c->named[i];
		poolpair__repl__stream_position__init(&pos[i]);
		pos[i].user_set = n->user_set;
		pos[i].lane = n->lane;
		pos[i].epoch = n->epoch;
		pos[i].acked_seq = n->acked_seq;
		for (j = 0; rows != NULL && j < rows->n; j++) {
			const struct store_seed_state *w = &rows->v[j];
			if (w->lane != n->lane ||
			    strcmp(w->user_set, n->user_set) != 0)
				continue;
			poolpair__repl__seed_progress__init(&seed[i]);
			seed[i].from_seq = w->from_seq;
			seed[i].epoch = w->epoch;
			seed[i].started = w->mark.started;
			seed[i].kind = w->mark.kind;
			seed[i].key = (char *)w->mark.key;
			seed[i].offset = w->mark.offset;
			seed[i].items = w->items;
			seed[i].bytes = w->bytes;
			pos[i].seed = &seed[i];
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
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "write hello: %s",
				   stream_strerror(rv));
		return;
	}
	r->stats.handshakes++;
	receiver_log(r, STREAM_LOG_INFO,
		     "receiver: %s (%s) streams %zu position%s%s", c->peer,
		     r->peer_pool, c->n_named, c->n_named == 1 ? "" : "s",
		     c->dict_mode ? ", lz4 dictionary mode" : "");
	receiver_conn_set_state(c, RX_STREAMING);
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
				receiver_log(
				    c->r, STREAM_LOG_INFO,
				    "receiver: %s conn %llu replaced by "
				    "conn %llu",
				    o->peer, (unsigned long long)o->id,
				    (unsigned long long)c->id);
				receiver_conn_close(o);
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
		receiver_conn_fail(c, RECEIVER_ERR_PROTO, 1,
				   "hello does not decode");
		return;
	}
	if (stream_hello_check(h, err, sizeof(err)) != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1, "%s", err);
		goto out;
	}
	/* with TLS, the certificate must speak for the agent and the pool
	 * the HELLO claims, checked before it can replace anything */
	if (c->conn.state == TLS_CONN_OPEN &&
	    (c->conn.peer_agent == 0 || h->agent_id != c->conn.peer_agent)) {
		receiver_conn_refuse(c, RECEIVER_ERR_HELLO,
				     "hello refused: certificate speaks for "
				     "agent %llu, not %llu",
				     (unsigned long long)c->conn.peer_agent,
				     (unsigned long long)h->agent_id);
		goto out;
	}
	if (c->conn.state == TLS_CONN_OPEN &&
	    strcmp(h->from_pool, c->conn.peer_pool) != 0) {
		receiver_conn_refuse(
		    c, RECEIVER_ERR_HELLO,
		    "hello refused: certificate speaks for "
		    "pool %s, not %s",
		    c->conn.peer_pool[0] != '\0' ? c->conn.peer_pool : "(none)",
		    h->from_pool);
		goto out;
	}
	if (strcmp(h->from_pool, r->peer_pool) != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
				   "hello refused: from pool %s, expected %s",
				   h->from_pool, r->peer_pool);
		goto out;
	}
	if (strcmp(h->to_pool, r->local_pool) != 0) {
		receiver_conn_fail(
		    c, RECEIVER_ERR_HELLO, 1,
		    "hello refused: addressed to pool %s, this is %s",
		    h->to_pool, r->local_pool);
		goto out;
	}
	if (r->peer_agent != 0 && h->agent_id != r->peer_agent) {
		receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
				   "hello refused: agent %llu is not the "
				   "writer of %s",
				   (unsigned long long)h->agent_id,
				   h->from_pool);
		goto out;
	}
	for (i = 0; i < h->n_positions; i++) {
		if (!receiver_accepts(r, h->positions[i]->user_set)) {
			receiver_conn_fail(
			    c, RECEIVER_ERR_HELLO, 1,
			    "hello refused: user set %s not accepted",
			    h->positions[i]->user_set);
			goto out;
		}
	}
	snprintf(c->from_pool, sizeof(c->from_pool), "%s", h->from_pool);
	c->from_agent = h->agent_id;
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
	if (receiver_conn_admit(c) != 0)
		goto out;
	receiver_conn_set_state(c, RX_POSITIONS);
	rv = store_stream_positions(r->store, rx_positions_done, c);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "positions: %s",
				   store_strerror(rv));
		goto out;
	}
	c->ops++;
out:
	poolpair__repl__hello__free_unpacked(h, NULL);
}

/* ---- RECORDS ------------------------------------------------------------ */

/* Where a stream of the copy stands: what it applied, or, in outbox mode
 * (or for a stream this store also wrote), the head of its outbox. */
static uint64_t rx_position_seq(const struct store_position *p)
{
	return p->applied_seq > p->head_seq ? p->applied_seq : p->head_seq;
}

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
		pos[n].acked_seq = rx_position_seq(&res->positions[i]);
		ptrs[n] = &pos[n];
		n++;
	}
	if (n == 0)
		return;
	ack.positions = ptrs;
	ack.n_positions = n;
	rv = stream_tls_write_message(&c->conn, FRAME_ACK, &ack.base);
	if (rv != 0)
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "write ack: %s",
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
	if (status == 0 || status == STORE_E_GAP || status == STORE_E_INVALID) {
		r->stats.records_applied += res->applied;
		r->stats.duplicates += res->duplicates;
		r->stats.archived += res->archived;
	}
	if (c->state == RX_CLOSING) {
		receiver_conn_maybe_free(c);
		return;
	}
	if (status == 0 || status == STORE_E_GAP || status == STORE_E_INVALID)
		rx_send_ack(c, res);
	if (c->state == RX_CLOSING)
		return;
	if (status == 0 || status == STORE_E_GAP || status == STORE_E_INVALID) {
		for (i = 0; r->on_apply != NULL && i < res->n; i++)
			r->on_apply(r->arg, res->positions[i].user_set,
				    res->positions[i].lane,
				    rx_position_seq(&res->positions[i]));
	}
	if (status == STORE_E_GAP) {
		receiver_conn_fail(c, RECEIVER_ERR_GAP, 1, "%s", res->errmsg);
		return;
	}
	if (status == STORE_E_INVALID) {
		receiver_conn_fail(c, RECEIVER_ERR_BATCH, 1, "%s", res->errmsg);
		return;
	}
	if (status != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "apply: %s",
				   res->errmsg[0] != '\0'
				       ? res->errmsg
				       : store_strerror(status));
		return;
	}
	r->stats.batches++;
	receiver_stream_resume(c);
}

void receiver_stream_resume(struct rx_conn *c)
{
	receiver_conn_set_state(c, RX_STREAMING);
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
		receiver_conn_fail(c, RECEIVER_ERR_PROTO, 1, "batch: %s",
				   batch_strerror(rv));
		return;
	}
	if ((f->flags & FRAME_FLAG_DICT) != 0)
		r->stats.batches_dict++;
	rv = batch_validate(b, err, sizeof(err));
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_BATCH, 1, "batch: %s",
				   rv == BATCH_E_INVALID ? err
							 : batch_strerror(rv));
		goto out;
	}
	for (i = 0; i < b->n_records; i++) {
		const Poolpair__Repl__ChangeRecord *rec = b->records[i];
		int k = receiver_named_find(c, rec->user_set, rec->lane);
		if (k < 0) {
			receiver_conn_fail(
			    c, RECEIVER_ERR_BATCH, 1,
			    "batch: record %zu names %s/%s, not in "
			    "the hello",
			    i, rec->user_set, stream_lane_name(rec->lane));
			goto out;
		}
		if (c->named[k].seed_row) {
			receiver_conn_fail(
			    c, RECEIVER_ERR_SEED, 1,
			    "records of %s/%s before its seed ended",
			    rec->user_set, stream_lane_name(rec->lane));
			goto out;
		}
	}
	/* no epoch from the wire above the committed one: it would raise
	 * the copy's newest epoch and make every later record stale */
	for (i = 0; i < b->n_records; i++) {
		const Poolpair__Repl__ChangeRecord *rec = b->records[i];
		char what[32];

		snprintf(what, sizeof(what), "record %zu", i);
		if (!receiver_epoch_ok(c, rec->user_set, rec->epoch, what))
			goto out;
	}
	rv = r->outbox_mode
		 ? store_apply_batch_outbox(r->store, b, rx_apply_done, c)
		 : store_apply_batch(r->store, b, rx_apply_done, c);
	if (rv != 0) {
		receiver_conn_fail(c, RECEIVER_ERR_STORE, 1, "apply: %s",
				   store_strerror(rv));
		goto out;
	}
	c->ops++;
	receiver_conn_set_state(c, RX_APPLYING);
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
			receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
					   "second hello on one connection");
			return;
		}
		rx_on_hello(c, f);
		return;
	case FRAME_RECORDS:
		if (c->state != RX_STREAMING) {
			receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
					   "records before hello");
			return;
		}
		rx_on_records(c, f);
		return;
	case FRAME_SEED_BEGIN:
	case FRAME_SEED_RECORDS:
	case FRAME_SEED_END:
		if (c->state != RX_STREAMING) {
			receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
					   "%s before hello",
					   frame_type_name(f->type));
			return;
		}
		receiver_seed_frame(c, f);
		return;
	case FRAME_PING:
		rv = stream_tls_write_frame(&c->conn, FRAME_PONG, 0, NULL, 0);
		if (rv != 0)
			receiver_conn_fail(c, RECEIVER_ERR_IO, 0,
					   "write pong: %s",
					   stream_strerror(rv));
		return;
	case FRAME_PONG:
		return;
	case FRAME_ERROR:
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "peer error: %.*s",
				   (int)(f->len > 200 ? 200 : f->len),
				   (const char *)f->payload);
		return;
	default:
		receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
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
			receiver_conn_fail(c, RECEIVER_ERR_FRAME, 1, "%s",
					   frame_strerror(rv));
			return;
		}
		rx_on_frame(c, &f);
	}
	if (c->state == RX_POSITIONS || c->state == RX_APPLYING)
		rx_pause_reading(c);
}
