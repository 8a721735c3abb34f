/* tls_conn: one connection, TLS 1.3 over memory BIOs (OpenSSL never
 * touches the socket; libuv does all I/O) or plain with the same
 * interface: the handshake and its timeout, reading, writing, half-close
 * and close; see tls.h. */
#include "tls/tls.h"
#include "tls/tls_internal.h"
#include "tls/tcp_thin.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_RECORD_HANDSHAKE 0x16 /* first byte of every ClientHello */
#define TLS_SHUTDOWN_GRACE_MS 2000

/* ---- connection ---- */

struct write_req {
	uv_write_t req;
	struct tls_conn *c;
	tls_write_cb cb;
	void *arg;
	size_t len;
	char data[];
};

static void conn_close_handles(struct tls_conn *c);
static void conn_drain(struct tls_conn *c);

static void set_errmsg(struct tls_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_errmsg(struct tls_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
}

/* Remember who presented the certificate, for the messages, and refuse a
 * role not allowed here during the handshake, so that the peer gets an
 * alert rather than a bare close. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl =
	    X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x); /* the peer's own */

	if (c == NULL || leaf == NULL)
		return ok;
	c->peer_role =
	    tls_cert_role(leaf, c->peer_identity, sizeof c->peer_identity);
	if (ok && X509_STORE_CTX_get_error_depth(x) == 0 &&
	    (c->peer_role & (int)c->allowed_roles) == 0) {
		X509_STORE_CTX_set_error(x,
					 X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return ok;
}

int tls_conn_init(struct tls_conn *c, uv_loop_t *loop, struct tls_ctx *ctx,
		  int mode, unsigned allowed_roles)
{
	memset(c, 0, sizeof *c);
	c->loop = loop;
	c->mode = mode;
	c->allowed_roles = allowed_roles;
	c->timeout_ms = TLS_HANDSHAKE_TIMEOUT_MS;
	c->state = TLS_CONN_IDLE;
	if (ctx != NULL && ctx->ssl == NULL) {
		set_errmsg(c, "tls context closed or never loaded");
		return TLS_E_STATE;
	}
	c->plain_only = ctx == NULL;
	c->ssl = ctx != NULL ? SSL_new(ctx->ssl) : NULL;
	c->net_in = BIO_new(BIO_s_mem());
	c->net_out = BIO_new(BIO_s_mem());
	if ((c->ssl == NULL && !c->plain_only) || c->net_in == NULL ||
	    c->net_out == NULL) {
		BIO_free(c->net_in);
		BIO_free(c->net_out);
		SSL_free(c->ssl);
		ERR_clear_error();
		set_errmsg(c, "out of memory");
		return TLS_E_NOMEM;
	}
	BIO_set_mem_eof_return(c->net_in, -1);
	BIO_set_mem_eof_return(c->net_out, -1);
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->pending = 2;
	if (c->plain_only)
		return 0; /* the BIOs only buffer: freed at close */
	/* listed for the reloads of ctx until the handles are closed */
	c->ctx = ctx;
	c->generation = ctx->generation;
	c->ctx_next = ctx->conns;
	if (ctx->conns != NULL)
		ctx->conns->ctx_prev = c;
	ctx->conns = c;
	SSL_set_bio(c->ssl, c->net_in, c->net_out); /* ssl owns both */
	SSL_set_app_data(c->ssl, c);
	SSL_set_verify(c->ssl,
		       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		       verify_cb);
	if (mode == TLS_SERVER)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	return 0;
}

void tls_conn_allow_plain(struct tls_conn *c, bool allow)
{
	c->allow_plain = allow;
}

void tls_conn_set_timeout(struct tls_conn *c, unsigned ms)
{
	c->timeout_ms = ms;
}

size_t tls_conn_write_queue(const struct tls_conn *c) { return c->write_queue; }

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = req->data;
	struct tls_conn *c = w->c;

	c->write_queue -= w->len;
	if (w->cb != NULL)
		w->cb(c, status, w->arg);
	free(w);
	if (c->state == TLS_CONN_SHUTDOWN && c->write_queue == 0)
		conn_close_handles(c);
}

/* Send whatever SSL wrote to net_out; cb fires when it is written. */
static int conn_flush(struct tls_conn *c, tls_write_cb cb, void *arg)
{
	size_t n = BIO_ctrl_pending(c->net_out);
	struct write_req *w;
	uv_buf_t buf;
	int rv;

	if (n == 0)
		return cb != NULL ? UV_EINVAL : 0;
	w = malloc(sizeof *w + n);
	if (w == NULL)
		return TLS_E_NOMEM;
	if (BIO_read(c->net_out, w->data, (int)n) != (int)n) {
		free(w);
		return TLS_E_PROTOCOL;
	}
	w->req.data = w;
	w->c = c;
	w->cb = cb;
	w->arg = arg;
	w->len = n;
	buf = uv_buf_init(w->data, (unsigned)n);
	rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
	if (rv != 0) {
		free(w);
		return rv;
	}
	c->write_queue += n;
	return 0;
}

/* Map the failure of a handshake or read to a code and message. */
static int classify(struct tls_conn *c)
{
	long vr = SSL_get_verify_result(c->ssl);
	const char *who = c->peer_identity[0] ? c->peer_identity : "?";
	char why[160];
	int rv;

	if (vr != X509_V_OK) {
		rv = tls_verify_error(vr);
		if (rv == TLS_E_ROLE)
			set_errmsg(c, "role %s not allowed here (CN=%s)",
				   tls_role_name(c->peer_role), who);
		else if (rv == TLS_E_PROTOCOL)
			set_errmsg(c, "peer certificate rejected (CN=%s): %s",
				   who, X509_verify_cert_error_string(vr));
		else
			set_errmsg(c, "%s (CN=%s)", tls_strerror(rv), who);
		ERR_clear_error();
		return rv;
	}
	rv = tls_ssl_error(ERR_peek_last_error(), c->errmsg, sizeof c->errmsg);
	if (c->errmsg[0] == '\0') {
		tls_ssl_reason(why, sizeof why);
		set_errmsg(c, "tls: %s", why[0] ? why : "protocol error");
		return rv;
	}
	ERR_clear_error();
	return rv;
}

/* The handshake ended badly: send any alert, stop reading, tell the
 * caller once. */
static void conn_fail_handshake(struct tls_conn *c, int rv)
{
	tls_handshake_cb cb = c->on_handshake;

	c->on_handshake = NULL;
	c->failed = true;
	uv_timer_stop(&c->timer);
	uv_read_stop((uv_stream_t *)&c->tcp);
	(void)conn_flush(c, NULL, NULL); /* the alert, if any */
	if (cb != NULL)
		cb(c, rv);
}

/* The read side ended (EOF or error): tell the caller once. */
static void conn_end_read(struct tls_conn *c, int rv)
{
	if (c->failed)
		return;
	c->failed = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (c->on_read != NULL)
		c->on_read(c, rv, NULL);
}

static void conn_handshake_done(struct tls_conn *c)
{
	tls_handshake_cb cb = c->on_handshake;
	X509 *peer = SSL_get0_peer_certificate(c->ssl);

	uv_timer_stop(&c->timer);
	c->peer_role = peer != NULL ? tls_cert_role(peer, c->peer_identity,
						    sizeof c->peer_identity)
				    : TLS_ROLE_NONE;
	c->peer_agent = peer != NULL ? tls_cert_agent(peer, c->peer_pool,
						      sizeof c->peer_pool)
				     : 0;
	if (peer == NULL) {
		set_errmsg(c, "peer presented no certificate");
		conn_fail_handshake(c, TLS_E_NO_CERT);
		return;
	}
	if ((c->peer_role & (int)c->allowed_roles) == 0) {
		set_errmsg(c, "role %s not allowed here (CN=%s)",
			   tls_role_name(c->peer_role), c->peer_identity);
		conn_fail_handshake(c, TLS_E_ROLE);
		return;
	}
	/* verified with the context it began with: a reload since may have
	 * brought a CRL that revokes the peer */
	if (c->ctx != NULL && c->generation != c->ctx->generation &&
	    tls_ctx_revoked(c->ctx, peer)) {
		set_errmsg(c, "%s (CN=%s)", tls_strerror(TLS_E_REVOKED),
			   c->peer_identity);
		conn_fail_handshake(c, TLS_E_REVOKED);
		return;
	}
	c->state = TLS_CONN_OPEN;
	c->on_handshake = NULL;
	if (cb != NULL)
		cb(c, 0);
	if (c->state == TLS_CONN_OPEN)
		conn_drain(c); /* data that came with the last flight */
}

static void conn_handshake_step(struct tls_conn *c)
{
	int r, err, rv;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		rv = conn_flush(c, NULL, NULL);
		if (rv != 0) {
			set_errmsg(c, "write: %s", tls_strerror(rv));
			conn_fail_handshake(c, rv);
			return;
		}
		conn_handshake_done(c);
		return;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		rv = conn_flush(c, NULL, NULL);
		if (rv != 0) {
			set_errmsg(c, "write: %s", tls_strerror(rv));
			conn_fail_handshake(c, rv);
		}
		return;
	}
	conn_fail_handshake(c, classify(c));
}

/* Hand buffered plaintext to the caller while it reads. */
static void conn_drain(struct tls_conn *c)
{
	char buf[16384];

	while (c->reading && !c->failed && c->on_handshake == NULL &&
	       (c->state == TLS_CONN_OPEN || c->state == TLS_CONN_PLAIN)) {
		int r, err;

		ERR_clear_error();
		if (c->state == TLS_CONN_PLAIN) {
			r = BIO_read(c->net_in, buf, sizeof buf);
			if (r <= 0)
				return;
			c->on_read(c, r, buf);
			continue;
		}
		r = SSL_read(c->ssl, buf, sizeof buf);
		if (r > 0) {
			c->on_read(c, r, buf);
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		(void)conn_flush(c, NULL, NULL); /* key updates, alerts */
		if (err == SSL_ERROR_WANT_READ)
			return;
		if (err == SSL_ERROR_ZERO_RETURN) {
			set_errmsg(c, "peer closed the connection");
			conn_end_read(c, TLS_E_EOF);
			return;
		}
		conn_end_read(c, classify(c));
		return;
	}
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	if (size > 65536)
		size = 65536;
	buf->base = malloc(size);
	buf->len = buf->base != NULL ? size : 0;
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct tls_conn *c = s->data;

	if (n == 0 || c->state >= TLS_CONN_SHUTDOWN || c->failed) {
		free(buf->base);
		return;
	}
	if (n < 0) {
		free(buf->base);
		if (c->state == TLS_CONN_HANDSHAKE) {
			set_errmsg(c, "connection closed during the tls "
				      "handshake");
			conn_fail_handshake(c,
					    n == UV_EOF ? TLS_E_EOF : (int)n);
		} else {
			set_errmsg(c, "%s",
				   n != UV_EOF ? uv_strerror((int)n)
				   : c->state == TLS_CONN_OPEN
				       ? "peer closed the connection without "
					 "close_notify"
				       : "peer closed the connection");
			conn_end_read(c, n == UV_EOF ? TLS_E_EOF : (int)n);
		}
		return;
	}
	if (c->state == TLS_CONN_HANDSHAKE && c->mode == TLS_SERVER &&
	    BIO_number_written(c->net_in) == 0 &&
	    (unsigned char)buf->base[0] != TLS_RECORD_HANDSHAKE) {
		if (!c->allow_plain) {
			free(buf->base);
			set_errmsg(c, "plain connection refused: not TLS");
			conn_fail_handshake(c, TLS_E_NOT_TLS);
			return;
		}
		c->state = TLS_CONN_PLAIN;
		uv_timer_stop(&c->timer);
		BIO_write(c->net_in, buf->base, (int)n);
		free(buf->base);
		if (c->on_handshake != NULL) {
			tls_handshake_cb cb = c->on_handshake;

			c->on_handshake = NULL;
			cb(c, 0);
		}
		conn_drain(c);
		return;
	}
	if (c->state == TLS_CONN_PLAIN && c->reading &&
	    c->on_handshake == NULL && BIO_ctrl_pending(c->net_in) == 0) {
		/* nothing buffered before: hand the bytes over as they are */
		c->on_read(c, n, buf->base);
		free(buf->base);
		return;
	}
	if (BIO_write(c->net_in, buf->base, (int)n) != (int)n) {
		free(buf->base);
		set_errmsg(c, "out of memory");
		if (c->state == TLS_CONN_HANDSHAKE)
			conn_fail_handshake(c, TLS_E_NOMEM);
		else
			conn_end_read(c, TLS_E_NOMEM);
		return;
	}
	free(buf->base);
	if (c->state == TLS_CONN_HANDSHAKE)
		conn_handshake_step(c);
	else
		conn_drain(c);
}

/* A connection without TLS is ready as soon as it starts. */
static void on_plain_ready(uv_timer_t *t)
{
	struct tls_conn *c = t->data;
	tls_handshake_cb cb = c->on_handshake;

	c->on_handshake = NULL;
	if (cb != NULL && c->state == TLS_CONN_PLAIN)
		cb(c, 0);
	if (c->state == TLS_CONN_PLAIN)
		conn_drain(c);
}

static void on_timeout(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	if (c->state == TLS_CONN_HANDSHAKE && !c->failed) {
		set_errmsg(c, "tls handshake timed out after %u ms",
			   c->timeout_ms);
		conn_fail_handshake(c, TLS_E_TIMEOUT);
	} else if (c->state == TLS_CONN_SHUTDOWN) {
		conn_close_handles(c); /* the peer does not read: give up */
	}
}

/* The ClientHello goes out on the next loop turn, so that no callback
 * fires inside tls_conn_start(). */
static void on_client_start(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	if (c->state != TLS_CONN_HANDSHAKE || c->failed)
		return;
	if (c->timeout_ms > 0)
		uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
	conn_handshake_step(c);
}

int tls_conn_start(struct tls_conn *c, tls_handshake_cb on_handshake,
		   tls_read_cb on_read)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	int rv;

	if (c->state != TLS_CONN_IDLE)
		return TLS_E_STATE;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		char ip[48] = "?";
		int port = 0;

		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			uv_ip4_name(in, ip, sizeof ip);
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			uv_ip6_name(in6, ip, sizeof ip);
			port = ntohs(in6->sin6_port);
		}
		snprintf(c->peer_address, sizeof c->peer_address, "%s:%d", ip,
			 port);
	}
	/* every link between agents goes through here: thin-stream TCP */
	tcp_thin_set_uv(&c->tcp);
	c->on_handshake = on_handshake;
	c->on_read = on_read;
	c->reading = true;
	rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_tcp_read);
	if (rv != 0)
		return rv;
	if (c->plain_only) {
		c->state = TLS_CONN_PLAIN;
		uv_timer_start(&c->timer, on_plain_ready, 0, 0);
		return 0;
	}
	c->state = TLS_CONN_HANDSHAKE;
	if (c->mode == TLS_CLIENT)
		uv_timer_start(&c->timer, on_client_start, 0, 0);
	else if (c->timeout_ms > 0)
		uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
	return 0;
}

void tls_conn_read_stop(struct tls_conn *c)
{
	c->reading = false;
	if (c->state == TLS_CONN_OPEN || c->state == TLS_CONN_PLAIN)
		uv_read_stop((uv_stream_t *)&c->tcp);
}

void tls_conn_read_start(struct tls_conn *c)
{
	if (c->reading || c->failed)
		return;
	c->reading = true;
	if (c->state != TLS_CONN_OPEN && c->state != TLS_CONN_PLAIN)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_tcp_read) != 0)
		return;
	conn_drain(c);
}

/* Plain: the buffers copied into one write, with no BIO in between. */
static int conn_write_plain(struct tls_conn *c, const uv_buf_t bufs[],
			    unsigned n, tls_write_cb cb, void *arg)
{
	struct write_req *w;
	size_t total = 0, off = 0;
	uv_buf_t buf;
	int rv;

	for (unsigned i = 0; i < n; i++)
		total += bufs[i].len;
	if (total == 0)
		return UV_EINVAL;
	w = malloc(sizeof *w + total);
	if (w == NULL)
		return TLS_E_NOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (bufs[i].len > 0)
			memcpy(w->data + off, bufs[i].base, bufs[i].len);
		off += bufs[i].len;
	}
	w->req.data = w;
	w->c = c;
	w->cb = cb;
	w->arg = arg;
	w->len = total;
	buf = uv_buf_init(w->data, (unsigned)total);
	rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
	if (rv != 0) {
		free(w);
		return rv;
	}
	c->write_queue += total;
	return 0;
}

int tls_conn_write(struct tls_conn *c, const uv_buf_t bufs[], unsigned n,
		   tls_write_cb cb, void *arg)
{
	size_t total = 0;
	int rv;

	if ((c->state != TLS_CONN_OPEN && c->state != TLS_CONN_PLAIN) ||
	    c->write_closed)
		return TLS_E_STATE;
	if (c->state == TLS_CONN_PLAIN)
		return conn_write_plain(c, bufs, n, cb, arg);
	for (unsigned i = 0; i < n; i++) {
		if (bufs[i].len == 0)
			continue;
		total += bufs[i].len;
		ERR_clear_error();
		if (SSL_write(c->ssl, bufs[i].base, (int)bufs[i].len) !=
		    (int)bufs[i].len) {
			rv = classify(c);
			(void)conn_flush(c, NULL, NULL);
			return rv;
		}
	}
	if (total == 0)
		return UV_EINVAL;
	return conn_flush(c, cb, arg);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
	struct tls_conn *c = req->data;
	tls_write_cb cb = c->on_shutdown;

	c->on_shutdown = NULL;
	if (cb != NULL)
		cb(c, status, c->shutdown_arg);
}

int tls_conn_shutdown(struct tls_conn *c, tls_write_cb cb, void *arg)
{
	int rv;

	if ((c->state != TLS_CONN_OPEN && c->state != TLS_CONN_PLAIN) ||
	    c->write_closed)
		return TLS_E_STATE;
	if (c->state == TLS_CONN_OPEN) {
		ERR_clear_error();
		if (SSL_shutdown(c->ssl) < 0)
			ERR_clear_error();
		rv = conn_flush(c, NULL, NULL); /* close_notify */
		if (rv != 0)
			return rv;
	}
	c->shutdown_req.data = c;
	rv = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp,
			 on_shutdown_done);
	if (rv != 0)
		return rv;
	c->write_closed = true;
	c->on_shutdown = cb;
	c->shutdown_arg = arg;
	return 0;
}

/* Take c out of its context's list. */
static void conn_unlist(struct tls_conn *c)
{
	if (c->ctx == NULL)
		return;
	if (c->ctx_prev != NULL)
		c->ctx_prev->ctx_next = c->ctx_next;
	else
		c->ctx->conns = c->ctx_next;
	if (c->ctx_next != NULL)
		c->ctx_next->ctx_prev = c->ctx_prev;
	c->ctx = NULL;
	c->ctx_prev = c->ctx_next = NULL;
}

void tls_conns_detach(struct tls_ctx *ctx)
{
	while (ctx->conns != NULL)
		conn_unlist(ctx->conns);
}

void tls_conns_check_revoked(struct tls_ctx *ctx)
{
	struct tls_conn *c, *next;

	ctx->revoked_closed = 0;
	if (ctx->crl[0] == '\0')
		return;
	/* mark first: the callbacks below may start or close connections */
	for (c = ctx->conns; c != NULL; c = c->ctx_next) {
		X509 *peer =
		    c->ssl != NULL ? SSL_get0_peer_certificate(c->ssl) : NULL;

		c->revoked = !c->failed &&
			     (c->state == TLS_CONN_OPEN ||
			      c->state == TLS_CONN_HANDSHAKE) &&
			     peer != NULL && tls_ctx_revoked(ctx, peer);
	}
	for (c = ctx->conns; c != NULL; c = next) {
		next = c->ctx_next;
		if (!c->revoked || c->ctx != ctx)
			continue;
		c->revoked = false;
		if (c->failed || c->state >= TLS_CONN_SHUTDOWN)
			continue; /* closed by an earlier callback */
		ctx->revoked_closed++;
		set_errmsg(c, "%s (CN=%s): the crl reloaded revokes it",
			   tls_strerror(TLS_E_REVOKED),
			   c->peer_identity[0] ? c->peer_identity : "?");
		if (c->state == TLS_CONN_HANDSHAKE)
			conn_fail_handshake(c, TLS_E_REVOKED);
		else
			conn_end_read(c, TLS_E_REVOKED);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (--c->pending > 0)
		return;
	conn_unlist(c);
	if (c->plain_only) {
		BIO_free(c->net_in);
		BIO_free(c->net_out);
	}
	c->net_in = NULL;
	c->net_out = NULL;
	SSL_free(c->ssl);
	c->ssl = NULL;
	c->state = TLS_CONN_CLOSED;
	if (c->on_close != NULL)
		c->on_close(c);
}

static void conn_close_handles(struct tls_conn *c)
{
	if (c->state == TLS_CONN_CLOSING || c->state == TLS_CONN_CLOSED)
		return;
	c->state = TLS_CONN_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void tls_conn_close(struct tls_conn *c, tls_close_cb cb)
{
	c->on_close = cb;
	c->on_read = NULL;
	c->on_handshake = NULL;
	if (c->state >= TLS_CONN_SHUTDOWN)
		return;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	if (c->state == TLS_CONN_OPEN && !c->write_closed) {
		ERR_clear_error();
		if (SSL_shutdown(c->ssl) < 0)
			ERR_clear_error();
		(void)conn_flush(c, NULL, NULL); /* close_notify */
	}
	if (c->write_queue == 0) {
		conn_close_handles(c);
		return;
	}
	c->state = TLS_CONN_SHUTDOWN;
	uv_timer_start(&c->timer, on_timeout, TLS_SHUTDOWN_GRACE_MS, 0);
}
