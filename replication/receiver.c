/* receiver: accept the pair's connections (TLS, limits, silence), their
 * teardown, and the API. What a connection carries once it is up (HELLO,
 * RECORDS, acks) is receiver_stream.c's; see receiver.h for the protocol
 * and receiver_internal.h for the shared structures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver_internal.h"
#include "tls/tls.h"

#define RX_READ_BUF ((size_t)64 << 10)

static const char *const rx_state_names[] = {
    "hello", "positions", "streaming", "applying", "closing",
};

static const char *const reason_names[RECEIVER_ERR_COUNT] = {
    "frame", "truncated", "proto", "batch", "hello", "gap",
    "store", "timeout",	  "io",	   "seed",  "epoch",
};

const char *receiver_reason_name(int reason)
{
	if (reason < 0 || reason >= RECEIVER_ERR_COUNT)
		return "?";
	return reason_names[reason];
}

void receiver_log(struct receiver *r, int level, const char *fmt, ...)
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

/* c no longer counts against any limit (it closes). */
static void rx_conn_uncount(struct rx_conn *c)
{
	struct receiver *r = c->r;

	if (c->counted == RX_COUNT_PENDING)
		r->stats.pending--;
	else if (c->counted == RX_COUNT_STREAM)
		r->n_streaming--;
	c->counted = RX_COUNT_NONE;
}

void receiver_conn_set_state(struct rx_conn *c, enum rx_state next)
{
	if (next == RX_CLOSING)
		rx_conn_uncount(c);
	if (c->state == next)
		return;
	receiver_log(c->r, STREAM_LOG_DEBUG, "receiver %s conn %llu: %s -> %s",
		     c->peer, (unsigned long long)c->id,
		     rx_state_names[c->state], rx_state_names[next]);
	c->state = next;
}

int receiver_accepts(const struct receiver *r, const char *user_set)
{
	size_t i;

	for (i = 0; i < r->n_user_sets; i++)
		if (strcmp(r->user_sets[i], user_set) == 0)
			return 1;
	return 0;
}

/* ---- connection teardown ---------------------------------------------- */

static void rx_maybe_finish(struct receiver *r);

void receiver_conn_maybe_free(struct rx_conn *c)
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
	free(c->step);
	free(c);
	r->stats.active--;
	rx_maybe_finish(r);
}

static void rx_conn_closed(struct tls_conn *t)
{
	struct rx_conn *c = t->data;

	c->handle_closed = 1;
	receiver_conn_maybe_free(c);
}

static void rx_conn_close_handle(struct rx_conn *c)
{
	if (!c->conn_closing) {
		c->conn_closing = 1;
		tls_conn_close(&c->conn, rx_conn_closed);
	}
}

void receiver_conn_close(struct rx_conn *c)
{
	if (c->state != RX_CLOSING)
		receiver_conn_set_state(c, RX_CLOSING);
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

/* Drop c for reason; see receiver_conn_fail and receiver_conn_refuse. */
static void rx_conn_vfail(struct rx_conn *c, int reason, int tell, int quiet,
			  const char *fmt, va_list ap)
{
	struct receiver *r = c->r;
	char msg[STREAM_ERRMSG_LEN];
	char line[STREAM_ERRMSG_LEN + 64];

	if (c->state == RX_CLOSING)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	r->stats.errors[reason]++;
	snprintf(r->stats.last_error, sizeof(r->stats.last_error), "%s: %s",
		 c->peer, msg);
	if (!quiet)
		receiver_log(r, STREAM_LOG_WARN,
			     "receiver: dropping %s (%s): %s", c->peer,
			     reason_names[reason], msg);
	else if (tls_quiet_pass(&r->quiet, c->peer, msg, uv_now(r->loop), line,
				sizeof(line)))
		receiver_log(r, STREAM_LOG_WARN,
			     "receiver: refused %s (%s): %s", c->peer,
			     reason_names[reason], line);
	if (c->reading) {
		tls_conn_read_stop(&c->conn);
		c->reading = 0;
	}
	if (tell &&
	    stream_tls_write_frame(&c->conn, FRAME_ERROR, 0, msg,
				   strlen(msg)) == 0 &&
	    tls_conn_shutdown(&c->conn, rx_shutdown_done, c) == 0) {
		receiver_conn_set_state(c, RX_CLOSING);
		return;
	}
	receiver_conn_close(c);
}

void receiver_conn_fail(struct rx_conn *c, int reason, int tell,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rx_conn_vfail(c, reason, tell, 0, fmt, ap);
	va_end(ap);
}

void receiver_conn_refuse(struct rx_conn *c, int reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rx_conn_vfail(c, reason, 1, 1, fmt, ap);
	va_end(ap);
}

/* Closed without an answer, logged as receiver_conn_refuse does. */
static void rx_conn_drop_quiet(struct rx_conn *c, int reason, const char *fmt,
			       ...) __attribute__((format(printf, 3, 4)));

static void rx_conn_drop_quiet(struct rx_conn *c, int reason, const char *fmt,
			       ...)
{
	va_list ap;

	va_start(ap, fmt);
	rx_conn_vfail(c, reason, 0, 1, fmt, ap);
	va_end(ap);
}

int receiver_conn_admit(struct rx_conn *c)
{
	struct receiver *r = c->r;

	if (c->counted == RX_COUNT_STREAM)
		return 0;
	rx_conn_uncount(c);
	if (r->n_streaming >= r->max_conns) {
		receiver_conn_refuse(c, RECEIVER_ERR_HELLO,
				     "too many connections (%u)", r->max_conns);
		return -1;
	}
	c->counted = RX_COUNT_STREAM;
	r->n_streaming++;
	(void)frame_decoder_set_max(&c->dec, r->max_payload);
	return 0;
}

/* ---- committed epochs ---------------------------------------------------- */

static struct rx_epoch *rx_epoch_find(const struct receiver *r,
				      const char *user_set)
{
	size_t i;

	for (i = 0; i < r->n_epochs; i++)
		if (strcmp(r->epochs[i].user_set, user_set) == 0)
			return (struct rx_epoch *)&r->epochs[i];
	return NULL;
}

uint64_t receiver_epoch(const struct receiver *r, const char *user_set)
{
	const struct rx_epoch *e =
	    user_set != NULL ? rx_epoch_find(r, user_set) : NULL;

	return e != NULL ? e->epoch : 0;
}

int receiver_epoch_ok(struct rx_conn *c, const char *user_set, uint64_t epoch,
		      const char *what)
{
	uint64_t committed = receiver_epoch(c->r, user_set);

	if (epoch <= committed)
		return 1;
	receiver_conn_refuse(c, RECEIVER_ERR_EPOCH,
			     "user set %s: %s of epoch %llu, above its "
			     "committed epoch %llu: not stored",
			     user_set, what, (unsigned long long)epoch,
			     (unsigned long long)committed);
	return 0;
}

/* ---- listener ----------------------------------------------------------- */

/* "ip:port" of the peer into buf, "ip" into addr. */
static void peer_name(uv_tcp_t *t, char *buf, size_t len, char *addr,
		      size_t addr_len)
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
	snprintf(addr, addr_len, "%s", ip);
}

/* Connections from addr waiting for their HELLO. */
static unsigned rx_pending_from(const struct receiver *r, const char *addr)
{
	const struct rx_conn *o;
	unsigned n = 0;

	for (o = r->conns; o != NULL; o = o->next)
		if (o->counted == RX_COUNT_PENDING &&
		    strcmp(o->addr, addr) == 0)
			n++;
	return n;
}

static void rx_refused_closed(uv_handle_t *h) { free(h); }

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
			receiver_log(r, STREAM_LOG_WARN,
				     "receiver: refused %s: %s", c->peer,
				     r->tls != NULL ? msg : why);
		receiver_conn_close(c);
		return;
	}
	c->reading = 1;
	c->last_rx_ms = uv_now(r->loop);
	if (r->tls != NULL && t->state == TLS_CONN_PLAIN)
		receiver_log(r, STREAM_LOG_WARN,
			     "receiver: %s streams in plain TCP (tls require = "
			     "false)",
			     c->peer);
	receiver_log(r, STREAM_LOG_DEBUG,
		     "receiver: connection %llu from %s%s%s",
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
		receiver_log(r, STREAM_LOG_WARN, "receiver: accept: %s",
			     uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->rbuf = malloc(RX_READ_BUF)) == NULL ||
	    frame_decoder_init(&c->dec,
			       r->max_payload < RECEIVER_HELLO_MAX_PAYLOAD
				   ? r->max_payload
				   : RECEIVER_HELLO_MAX_PAYLOAD) != 0 ||
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
			receiver_log(
			    r, STREAM_LOG_ERROR,
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
	c->accepted_ms = c->last_rx_ms;
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
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "accept: %s",
				   uv_strerror(rv));
		return;
	}
	uv_tcp_nodelay(&c->conn.tcp, 1);
	peer_name(&c->conn.tcp, c->peer, sizeof(c->peer), c->addr,
		  sizeof(c->addr));
	/* not known yet: held to the limits of connections without a
	 * HELLO, so that they cannot take the sender's places */
	if (r->stats.pending >= r->max_pending) {
		rx_conn_drop_quiet(c, RECEIVER_ERR_HELLO,
				   "too many connections waiting for their "
				   "hello (%u)",
				   r->max_pending);
		return;
	}
	if (rx_pending_from(r, c->addr) >= r->max_pending_per_addr) {
		rx_conn_drop_quiet(c, RECEIVER_ERR_HELLO,
				   "too many connections from %s waiting for "
				   "their hello (%u)",
				   c->addr, r->max_pending_per_addr);
		return;
	}
	c->counted = RX_COUNT_PENDING;
	r->stats.pending++;
	rv = tls_conn_start(&c->conn, rx_handshake_done, receiver_stream_read);
	if (rv != 0)
		receiver_conn_fail(c, RECEIVER_ERR_IO, 0, "tls: %s",
				   tls_strerror(rv));
}

static void rx_tick(uv_timer_t *t)
{
	struct receiver *r = t->data;
	struct rx_conn *c, *next;
	uint64_t now = uv_now(r->loop);

	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (c->counted == RX_COUNT_PENDING &&
		    now - c->accepted_ms > r->hello_timeout_ms) {
			rx_conn_drop_quiet(c, RECEIVER_ERR_TIMEOUT,
					   "no hello within %u ms",
					   r->hello_timeout_ms);
			continue;
		}
		if (c->state != RX_HELLO && c->state != RX_STREAMING)
			continue;
		if (now - c->last_rx_ms > r->timeout_ms)
			receiver_conn_fail(
			    c, RECEIVER_ERR_TIMEOUT, 0,
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
	    cfg->host == NULL || (cfg->max_payload > FRAME_HARD_MAX_PAYLOAD))
		return STREAM_E_ARG;
	if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&ss) != 0)
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
	r->peer_agent = cfg->peer_agent;
	r->max_payload =
	    cfg->max_payload ? cfg->max_payload : RECEIVER_DEFAULT_MAX_PAYLOAD;
	r->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
	r->max_conns = cfg->max_conns ? cfg->max_conns : 16;
	r->max_pending = cfg->max_pending ? cfg->max_pending : 64;
	r->max_pending_per_addr =
	    cfg->max_pending_per_addr ? cfg->max_pending_per_addr : 4;
	r->hello_timeout_ms =
	    cfg->hello_timeout_ms ? cfg->hello_timeout_ms : 5000;
	r->lz4_dict_off = cfg->lz4_dict_off != 0;
	r->outbox_mode = cfg->outbox_mode != 0;
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
	receiver_log(r, STREAM_LOG_INFO,
		     "receiver: %s listening on %s:%d for %s", r->local_pool,
		     cfg->host, receiver_port(r), r->peer_pool);
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
			if (!receiver_accepts(r, c->named[i].user_set)) {
				receiver_conn_fail(
				    c, RECEIVER_ERR_HELLO, 1,
				    "user set %s no longer accepted",
				    c->named[i].user_set);
				break;
			}
		}
	}
	return 0;
}

int receiver_set_peer(struct receiver *r, const char *peer_pool,
		      const char *const *user_sets, size_t n)
{
	struct rx_conn *c, *next;
	size_t i;
	int rv;

	if (r->closing)
		return STREAM_E_CLOSING;
	if (!name_ok(peer_pool))
		return STREAM_E_ARG;
	rv = copy_user_sets(r, user_sets, n);
	if (rv != 0)
		return rv;
	if (strcmp(r->peer_pool, peer_pool) != 0)
		receiver_log(r, STREAM_LOG_INFO,
			     "receiver: %s now accepts %s (was %s)",
			     r->local_pool, peer_pool, r->peer_pool);
	snprintf(r->peer_pool, sizeof(r->peer_pool), "%s", peer_pool);
	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == RX_HELLO || c->state == RX_CLOSING)
			continue; /* its HELLO is checked when it comes */
		if (strcmp(c->from_pool, r->peer_pool) != 0) {
			receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
					   "pool %s no longer accepted",
					   c->from_pool);
			continue;
		}
		for (i = 0; i < c->n_named; i++) {
			if (!receiver_accepts(r, c->named[i].user_set)) {
				receiver_conn_fail(
				    c, RECEIVER_ERR_HELLO, 1,
				    "user set %s no longer accepted",
				    c->named[i].user_set);
				break;
			}
		}
	}
	return 0;
}

int receiver_set_peer_agent(struct receiver *r, uint64_t agent_id)
{
	struct rx_conn *c, *next;

	if (r->closing)
		return STREAM_E_CLOSING;
	if (r->peer_agent != agent_id)
		receiver_log(r, STREAM_LOG_INFO,
			     "receiver: %s now accepts agent %llu of %s "
			     "(0: any; was %llu)",
			     r->local_pool, (unsigned long long)agent_id,
			     r->peer_pool, (unsigned long long)r->peer_agent);
	r->peer_agent = agent_id;
	if (agent_id == 0)
		return 0;
	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == RX_HELLO || c->state == RX_CLOSING)
			continue; /* its HELLO is checked when it comes */
		if (c->from_agent != agent_id)
			receiver_conn_fail(c, RECEIVER_ERR_HELLO, 1,
					   "agent %llu is not the writer of %s",
					   (unsigned long long)c->from_agent,
					   c->from_pool);
	}
	return 0;
}

int receiver_set_epoch(struct receiver *r, const char *user_set, uint64_t epoch)
{
	struct rx_epoch *e;

	if (r->closing)
		return STREAM_E_CLOSING;
	if (!name_ok(user_set))
		return STREAM_E_ARG;
	e = rx_epoch_find(r, user_set);
	if (e == NULL) {
		if (r->n_epochs == RECEIVER_MAX_EPOCHS)
			return STREAM_E_NOMEM;
		e = &r->epochs[r->n_epochs++];
		snprintf(e->user_set, sizeof(e->user_set), "%s", user_set);
	} else if (e->epoch == epoch) {
		return 0;
	}
	receiver_log(r, STREAM_LOG_DEBUG,
		     "receiver: committed epoch of %s is %llu", user_set,
		     (unsigned long long)epoch);
	e->epoch = epoch;
	return 0;
}

void receiver_get_stats(const struct receiver *r, struct receiver_stats *out)
{
	*out = r->stats;
}

size_t receiver_seeds(const struct receiver *r, struct receiver_seed *out,
		      size_t max)
{
	size_t i;

	for (i = 0; i < r->n_seeds && i < max && out != NULL; i++)
		out[i] = r->seeds[i];
	return r->n_seeds;
}

static void rx_maybe_finish(struct receiver *r)
{
	void (*cb)(void *arg);
	void *arg;

	if (!r->closing || r->handles > 0 || r->conns != NULL)
		return;
	cb = r->close_cb;
	arg = r->close_arg;
	receiver_log(r, STREAM_LOG_INFO, "receiver: %s closed", r->local_pool);
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
		receiver_conn_close(c);
	}
}
