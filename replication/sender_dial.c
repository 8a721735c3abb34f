/* sender_dial: the life of a lane's connection: resolving the pair's
 * address, connecting, the TLS handshake, failing (logged, counted) and
 * reconnecting after a jittered backoff, or at once after a change of peer
 * or user sets. What flows once the connection is up is sender_stream.c's.
 * See sender.h for the states and sender_internal.h for the shared
 * structures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender_internal.h"
#include "tls/tls.h"

static uint64_t tx_random(struct sender *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545F4914F6CDD1DULL;
}

/* ---- connection life ---------------------------------------------------- */

static void tx_backoff_fire(uv_timer_t *t)
{
	struct tx_lane *l = t->data;

	sender_dial_start(l);
}

static void tx_start_backoff(struct tx_lane *l)
{
	struct sender *s = l->s;
	uint64_t half = l->backoff_ms / 2;
	uint64_t delay = half + tx_random(s) % (l->backoff_ms - half + 1);

	sender_lane_set_state(l, SENDER_BACKOFF);
	l->backoff_ms = l->backoff_ms * 2 > s->backoff_max ? s->backoff_max
							   : l->backoff_ms * 2;
	sender_log(s, STREAM_LOG_DEBUG, "sender %s->%s %s: retry in %llu ms",
		   s->local_pool, s->peer_pool, sender_lane_name(l),
		   (unsigned long long)delay);
	uv_timer_start(&l->backoff, tx_backoff_fire, delay, 0);
}

static void tx_after_close(struct tx_lane *l)
{
	if (l->s->closing)
		return;
	if (l->after == TX_AFTER_START)
		sender_dial_start(l);
	else
		tx_start_backoff(l);
}

void sender_dial_closed(struct tls_conn *c)
{
	struct tx_lane *l = c->data;
	struct sender *s = l->s;

	s->handles--;
	l->tcp_open = 0;
	l->conn_closing = 0;
	if (s->closing) {
		sender_maybe_finish(s);
		return;
	}
	tx_after_close(l);
}

/* End the lane's current connection (if any); then reconnect at once or
 * after a backoff. Requests of the old connection are ignored when they
 * complete. */
void sender_dial_reset(struct tx_lane *l, enum tx_after after)
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
		struct tx_stream *st = sender_lane_stream(s, l, i);
		st->ready = 0;
		st->blocked = 0;
		st->if_n = 0;
		st->if_head = 0;
		sender_seed_reset(st);
	}
	frame_decoder_close(&l->dec);
	l->after = after;
	if (l->tcp_open) {
		if (!l->conn_closing) {
			sender_lane_set_state(l, SENDER_CLOSING);
			l->conn_closing = 1;
			tls_conn_close(&l->conn, sender_dial_closed);
		}
		return;
	}
	tx_after_close(l);
}

void sender_dial_fail(struct tx_lane *l, const char *fmt, ...)
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
	sender_log(s, STREAM_LOG_WARN, "sender %s->%s %s: peer %s:%u: %s",
		   s->local_pool, s->peer_pool, sender_lane_name(l),
		   s->host != NULL ? s->host : "-", (unsigned)s->port, msg);
	sender_dial_reset(l, TX_AFTER_BACKOFF);
}

/* ---- dialling ---------------------------------------------------------- */

/* TLS is up (plain: the next loop turn after connecting); reading has
 * started. */
static void tx_handshake_done(struct tls_conn *c, int status)
{
	struct tx_lane *l = c->data;

	if (l->state != SENDER_CONNECTING)
		return;
	if (status != 0) {
		sender_dial_fail(l, "tls: %s",
				 c->errmsg[0] != '\0' ? c->errmsg
						      : tls_strerror(status));
		return;
	}
	/* the pair's agent (or, in-site, one of this pool's): its
	 * certificate must speak for the pool streamed to */
	if (c->state == TLS_CONN_OPEN &&
	    strcmp(c->peer_pool, l->s->peer_pool) != 0) {
		sender_dial_fail(l,
				 "tls: the receiver's certificate speaks for "
				 "pool %s, not %s",
				 c->peer_pool[0] != '\0' ? c->peer_pool
							 : "(none)",
				 l->s->peer_pool);
		return;
	}
	sender_stream_begin(l);
}

static void tx_connected(uv_connect_t *req, int status)
{
	struct tx_lane *l = req->data;
	int rv;

	if (status == UV_ECANCELED || l->state != SENDER_CONNECTING)
		return;
	if (status < 0) {
		sender_dial_fail(l, "connect: %s", uv_strerror(status));
		return;
	}
	rv = tls_conn_start(&l->conn, tx_handshake_done, sender_stream_read);
	if (rv != 0)
		sender_dial_fail(l, "tls: %s", tls_strerror(rv));
}

static void tx_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct tx_op *op = req->data;
	struct tx_lane *l = op->l;
	struct sender *s = op->s;
	int rv;

	if (!sender_op_end(op)) {
		uv_freeaddrinfo(res);
		return;
	}
	if (status < 0 || res == NULL) {
		uv_freeaddrinfo(res);
		sender_dial_fail(
		    l, "cannot resolve %s: %s", s->host,
		    uv_strerror(status < 0 ? status : UV_EAI_NONAME));
		return;
	}
	rv = tls_conn_init(&l->conn, s->loop, s->tls, TLS_CLIENT,
			   TLS_ROLE_AGENT);
	if (rv != 0) {
		uv_freeaddrinfo(res);
		sender_dial_fail(l, "tls: %s", l->conn.errmsg);
		return;
	}
	s->handles++;
	l->tcp_open = 1;
	l->conn_closing = 0;
	l->conn.data = l;
	uv_tcp_nodelay(&l->conn.tcp, 1);
	sender_lane_set_state(l, SENDER_CONNECTING);
	l->connect.data = l;
	rv = uv_tcp_connect(&l->connect, &l->conn.tcp, res->ai_addr,
			    tx_connected);
	uv_freeaddrinfo(res);
	if (rv != 0)
		sender_dial_fail(l, "connect: %s", uv_strerror(rv));
}

void sender_dial_start(struct tx_lane *l)
{
	struct sender *s = l->s;
	struct addrinfo hints;
	char port[8];
	struct tx_op *op;
	int rv;

	if (s->closing)
		return;
	if (s->host == NULL || s->n_user_sets == 0) {
		sender_lane_set_state(l, SENDER_IDLE);
		return;
	}
	sender_lane_set_state(l, SENDER_RESOLVING);
	op = sender_op_new(s, l, 0);
	if (op == NULL) {
		sender_dial_fail(l, "out of memory");
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
		sender_dial_fail(l, "cannot resolve %s: %s", s->host,
				 uv_strerror(rv));
		return;
	}
	s->pending++;
}
