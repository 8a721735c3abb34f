/* tls: TLS 1.3 contexts and connections over memory BIOs (see tls.h). */
#include "tls/tls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TLS_RECORD_HANDSHAKE 0x16 /* first byte of every ClientHello */
#define TLS_SHUTDOWN_GRACE_MS 2000
#define TLS_ROLE_URI_PREFIX "urn:poolpair:role:"

const char *tls_strerror(int rv)
{
	switch (rv) {
	case 0:
		return "ok";
	case TLS_E_CONFIG:
		return "unusable tls configuration";
	case TLS_E_NOMEM:
		return "out of memory";
	case TLS_E_UNKNOWN_CA:
		return "peer certificate from an unknown CA";
	case TLS_E_EXPIRED:
		return "peer certificate expired";
	case TLS_E_NOT_YET_VALID:
		return "peer certificate not yet valid";
	case TLS_E_NO_CERT:
		return "peer presented no certificate";
	case TLS_E_REFUSED:
		return "peer refused our certificate";
	case TLS_E_NOT_TLS:
		return "plain connection refused: not TLS";
	case TLS_E_ROLE:
		return "peer role not allowed here";
	case TLS_E_PROTOCOL:
		return "tls protocol error";
	case TLS_E_TIMEOUT:
		return "tls handshake timed out";
	case TLS_E_EOF:
		return "connection closed by peer";
	case TLS_E_STATE:
		return "not possible in this connection state";
	case TLS_E_CLOSING:
		return "connection closing";
	default:
		if (rv < 0 && rv > -4100)
			return uv_strerror(rv); /* libuv's, UV_EAI_* and UV_EOF too */
		return "unknown error";
	}
}

/* msg with " (and N more like it in the last minute)" when N > 0. */
static bool quiet_out(char *out, size_t outlen, const char *msg,
		      unsigned left_out)
{
	if (left_out > 0)
		snprintf(out, outlen,
			 "%s (and %u more like it in the last minute)", msg,
			 left_out);
	else
		snprintf(out, outlen, "%s", msg);
	return true;
}

bool tls_quiet_pass(struct tls_quiet *q, const char *addr, const char *msg,
		    uint64_t now_ms, char *out, size_t outlen)
{
	const char *colon = strrchr(addr, ':');
	size_t host_len = strlen(addr);
	unsigned oldest = 0, left_out;
	char key[TLS_ERRMSG_LEN];

	/* "ip:port" and "[v6]:port" lose the port; a bare v6 keeps all */
	if (colon != NULL && (strchr(addr, ':') == colon || colon[-1] == ']'))
		host_len = (size_t)(colon - addr);
	snprintf(key, sizeof key, "%.*s %s", (int)host_len, addr, msg);
	for (unsigned i = 0; i < TLS_QUIET_SLOTS; i++) {
		if (q->slot[i].key[0] != '\0' &&
		    strcmp(q->slot[i].key, key) == 0) {
			if (now_ms - q->slot[i].last_ms < TLS_QUIET_MS) {
				q->slot[i].left_out++;
				return false;
			}
			left_out = q->slot[i].left_out;
			q->slot[i].left_out = 0;
			q->slot[i].last_ms = now_ms;
			return quiet_out(out, outlen, msg, left_out);
		}
		if (q->slot[i].key[0] == '\0' ||
		    (q->slot[oldest].key[0] != '\0' &&
		     q->slot[i].last_ms < q->slot[oldest].last_ms))
			oldest = i;
	}
	snprintf(q->slot[oldest].key, sizeof q->slot[oldest].key, "%s", key);
	q->slot[oldest].last_ms = now_ms;
	q->slot[oldest].left_out = 0;
	return quiet_out(out, outlen, msg, 0);
}

const char *tls_role_name(int role)
{
	switch (role) {
	case TLS_ROLE_AGENT:
		return "agent";
	case TLS_ROLE_OPERATOR:
		return "operator";
	case TLS_ROLE_READER:
		return "reader";
	default:
		return "none";
	}
}

int tls_role_parse(const char *name)
{
	if (name == NULL)
		return TLS_ROLE_NONE;
	if (strcmp(name, "agent") == 0)
		return TLS_ROLE_AGENT;
	if (strcmp(name, "operator") == 0)
		return TLS_ROLE_OPERATOR;
	if (strcmp(name, "reader") == 0)
		return TLS_ROLE_READER;
	return TLS_ROLE_NONE;
}

/* ---- certificates ---- */

/* Entry nid of the subject into out ("" when absent); with want_role, the
 * first entry that names a role. */
static void subject_entry(X509 *x, int nid, bool want_role, char *out,
			  size_t len)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = -1;

	out[0] = '\0';
	if (name == NULL)
		return;
	while ((i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
		int n = ASN1_STRING_length(s);
		const unsigned char *d = ASN1_STRING_get0_data(s);

		if (n < 0 || (size_t)n >= len || memchr(d, '\0', (size_t)n))
			continue;
		memcpy(out, d, (size_t)n);
		out[n] = '\0';
		if (!want_role || tls_role_parse(out) != TLS_ROLE_NONE)
			return;
		out[0] = '\0';
	}
}

static int role_from_san(X509 *x)
{
	GENERAL_NAMES *names =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t plen = strlen(TLS_ROLE_URI_PREFIX);
	int role = TLS_ROLE_NONE;

	if (names == NULL)
		return TLS_ROLE_NONE;
	for (int i = 0; i < sk_GENERAL_NAME_num(names) && role == 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char buf[64];
		int n;

		if (g->type != GEN_URI)
			continue;
		n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (n <= (int)plen || n >= (int)sizeof buf)
			continue;
		memcpy(buf,
		       ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
		       (size_t)n);
		buf[n] = '\0';
		if (strncmp(buf, TLS_ROLE_URI_PREFIX, plen) == 0)
			role = tls_role_parse(buf + plen);
	}
	GENERAL_NAMES_free(names);
	return role;
}

/* Role (subject OU, else URI SAN) and identity (CN) of a certificate. */
static int cert_role(X509 *x, char *identity, size_t len)
{
	char ou[64];
	int role;

	subject_entry(x, NID_commonName, false, identity, len);
	subject_entry(x, NID_organizationalUnitName, true, ou, sizeof ou);
	role = tls_role_parse(ou);
	if (role == TLS_ROLE_NONE)
		role = role_from_san(x);
	return role;
}

int tls_cert_role(X509 *x, char *identity, size_t len)
{
	return cert_role(x, identity, len);
}

/* The reason of the first queued OpenSSL error ("" when none); clears the
 * queue. */
static void ssl_reason(char *out, size_t len)
{
	unsigned long e = ERR_peek_error(); /* the first: the root cause */

	out[0] = '\0';
	if (e != 0) {
		const char *r = ERR_reason_error_string(e);

		snprintf(out, len, "%s", r != NULL ? r : "unknown reason");
	}
	ERR_clear_error();
}

/* ---- context ---- */

struct built {
	SSL_CTX *ssl;
	int role;
	int64_t not_after;
	char warning[TLS_ERRMSG_LEN];
	char identity[TLS_NAME_LEN];
	char errmsg[TLS_ERRMSG_LEN];
};

static int check_file(const char *what, const char *path, char *errmsg)
{
	if (path == NULL || path[0] == '\0') {
		snprintf(errmsg, TLS_ERRMSG_LEN, "%s: no file given", what);
		return TLS_E_CONFIG;
	}
	if (access(path, R_OK) != 0) {
		snprintf(errmsg, TLS_ERRMSG_LEN, "%s %s: %s", what, path,
			 strerror(errno));
		return TLS_E_CONFIG;
	}
	return 0;
}

/* Our own certificate against our own CA: one from another CA is a
 * configuration mistake (every peer would refuse it); one outside its
 * validity is only a warning (peers refuse it, but the files may be renewed
 * and reloaded without a restart). */
static int check_own(SSL_CTX *ctx, X509 *own, const char *ca, const char *cert,
		     struct built *b)
{
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = NULL;
	const ASN1_TIME *na = X509_get0_notAfter(own);
	struct tm tm;
	int err;

	if (x == NULL) {
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		return TLS_E_NOMEM;
	}
	SSL_CTX_get0_chain_certs(ctx, &chain);
	if (X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(ctx), own, chain) !=
	    1) {
		X509_STORE_CTX_free(x);
		ERR_clear_error();
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		return TLS_E_NOMEM;
	}
	err =
	    X509_verify_cert(x) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(x);
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1)
		b->not_after = (int64_t)timegm(&tm);
	switch (err) {
	case X509_V_OK:
		return 0;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		snprintf(b->warning, sizeof b->warning,
			 "cert %s has expired: peers will refuse it", cert);
		return 0;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(b->warning, sizeof b->warning,
			 "cert %s is not yet valid: peers will refuse it",
			 cert);
		return 0;
	default:
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s does not verify against ca %s: %s", cert, ca,
			 X509_verify_cert_error_string(err));
		return TLS_E_CONFIG;
	}
}

/* Build a context from the files; thread-safe (no loop access). */
static int build(const char *ca, const char *cert, const char *key,
		 struct built *b)
{
	char why[160];
	SSL_CTX *ctx;
	X509 *own;
	int rv;

	memset(b, 0, sizeof *b);
	b->not_after = INT64_MAX;
	if ((rv = check_file("ca", ca, b->errmsg)) != 0 ||
	    (rv = check_file("cert", cert, b->errmsg)) != 0 ||
	    (rv = check_file("key", key, b->errmsg)) != 0)
		return rv;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL) {
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		return TLS_E_NOMEM;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg, "tls 1.3: %s", why);
		goto err;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg,
			 "ca %s: no usable certificate (%s)", ca, why);
		goto err;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s: no usable certificate (%s)", cert, why);
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(b->errmsg, sizeof b->errmsg,
				 "key %s does not match cert %s", key, cert);
			goto err;
		}
		ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg,
			 "key %s: no usable private key (%s)", key, why);
		goto err;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(b->errmsg, sizeof b->errmsg,
			 "key %s does not match cert %s", key, cert);
		goto err;
	}
	own = SSL_CTX_get0_certificate(ctx);
	b->role = own != NULL ? cert_role(own, b->identity, sizeof b->identity)
			      : TLS_ROLE_NONE;
	if (b->role == TLS_ROLE_NONE) {
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s: no role (subject OU agent, operator or "
			 "reader)",
			 cert);
		goto err;
	}
	rv = check_own(ctx, own, ca, cert, b);
	if (rv != 0)
		goto err;
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	b->ssl = ctx;
	return 0;

err:
	SSL_CTX_free(ctx);
	return rv == TLS_E_NOMEM ? TLS_E_NOMEM : TLS_E_CONFIG;
}

static void install(struct tls_ctx *c, struct built *b)
{
	if (c->ssl != NULL)
		SSL_CTX_free(c->ssl); /* live connections hold their own ref */
	c->ssl = b->ssl;
	c->role = b->role;
	c->not_after = b->not_after;
	memcpy(c->identity, b->identity, sizeof c->identity);
	memcpy(c->warning, b->warning, sizeof c->warning);
	c->generation++;
	c->errmsg[0] = '\0';
}

static int copy_path(char *dst, const char *src, const char *what, char *errmsg)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= TLS_PATH_LEN) {
		snprintf(errmsg, TLS_ERRMSG_LEN, "%s: path too long", what);
		return TLS_E_CONFIG;
	}
	memcpy(dst, src != NULL ? src : "", n + 1);
	return 0;
}

int tls_ctx_init(struct tls_ctx *c, const char *ca, const char *cert,
		 const char *key)
{
	struct built b;
	int rv;

	memset(c, 0, sizeof *c);
	if ((rv = copy_path(c->ca, ca, "ca", c->errmsg)) != 0 ||
	    (rv = copy_path(c->cert, cert, "cert", c->errmsg)) != 0 ||
	    (rv = copy_path(c->key, key, "key", c->errmsg)) != 0)
		return rv;
	rv = build(c->ca, c->cert, c->key, &b);
	if (rv != 0) {
		memcpy(c->errmsg, b.errmsg, sizeof c->errmsg);
		return rv;
	}
	install(c, &b);
	return 0;
}

int tls_ctx_reload(struct tls_ctx *c)
{
	struct built b;
	int rv;

	if (c->reloading) {
		snprintf(c->errmsg, sizeof c->errmsg,
			 "a reload is already in flight");
		return TLS_E_STATE;
	}
	rv = build(c->ca, c->cert, c->key, &b);
	if (rv != 0) {
		memcpy(c->errmsg, b.errmsg, sizeof c->errmsg);
		return rv;
	}
	install(c, &b);
	return 0;
}

struct reload_work {
	uv_work_t req;
	struct tls_ctx *c;
	struct built b;
	int rv;
	tls_reload_cb cb;
	void *arg;
};

static void reload_work(uv_work_t *req)
{
	struct reload_work *w = req->data;

	w->rv = build(w->c->ca, w->c->cert, w->c->key, &w->b);
}

static void reload_after(uv_work_t *req, int status)
{
	struct reload_work *w = req->data;
	struct tls_ctx *c = w->c;
	int rv = status != 0 ? status : w->rv;

	c->reloading = false;
	if (rv == 0) {
		install(c, &w->b);
	} else {
		if (w->b.ssl != NULL)
			SSL_CTX_free(w->b.ssl);
		if (status != 0)
			snprintf(c->errmsg, sizeof c->errmsg, "reload: %s",
				 uv_strerror(status));
		else
			memcpy(c->errmsg, w->b.errmsg, sizeof c->errmsg);
	}
	w->cb(c, rv, w->arg);
	free(w);
}

int tls_ctx_reload_async(struct tls_ctx *c, uv_loop_t *loop, tls_reload_cb cb,
			 void *arg)
{
	struct reload_work *w;
	int rv;

	if (c->reloading)
		return TLS_E_STATE;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return TLS_E_NOMEM;
	w->req.data = w;
	w->c = c;
	w->cb = cb;
	w->arg = arg;
	rv = uv_queue_work(loop, &w->req, reload_work, reload_after);
	if (rv != 0) {
		free(w);
		return rv;
	}
	c->reloading = true;
	return 0;
}

void tls_ctx_close(struct tls_ctx *c)
{
	if (c->ssl != NULL)
		SSL_CTX_free(c->ssl);
	c->ssl = NULL;
}

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
	    cert_role(leaf, c->peer_identity, sizeof c->peer_identity);
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

int tls_verify_error(long verify_result)
{
	switch (verify_result) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return TLS_E_UNKNOWN_CA;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return TLS_E_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_E_NOT_YET_VALID;
	case X509_V_ERR_APPLICATION_VERIFICATION: /* verify_cb */
		return TLS_E_ROLE;
	default:
		return TLS_E_PROTOCOL;
	}
}

int tls_ssl_error(unsigned long e, char *msg, size_t len)
{
	const char *why;
	int rv = TLS_E_REFUSED;

	switch (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e)
							  : 0) {
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		why = "peer refused our certificate: unknown CA";
		break;
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		why = "peer refused our certificate: certificate expired";
		break;
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
		why = "peer refused our certificate (expired, not yet valid "
		      "or otherwise bad)";
		break;
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		why = "peer refused the handshake (is our role allowed "
		      "there?)";
		break;
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		why = "peer requires a certificate";
		break;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		rv = TLS_E_NO_CERT;
		why = "peer presented no certificate";
		break;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		rv = TLS_E_NOT_TLS;
		why = "peer is not speaking TLS";
		break;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		rv = TLS_E_PROTOCOL;
		why = "peer does not speak TLS 1.3";
		break;
	default:
		rv = TLS_E_PROTOCOL;
		why = "";
		break;
	}
	snprintf(msg, len, "%s", why);
	return rv;
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
	rv = tls_ssl_error(ERR_peek_last_error(), c->errmsg,
			   sizeof c->errmsg);
	if (c->errmsg[0] == '\0') {
		ssl_reason(why, sizeof why);
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
	c->peer_role = peer != NULL ? cert_role(peer, c->peer_identity,
						sizeof c->peer_identity)
				    : TLS_ROLE_NONE;
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
	uv_tcp_nodelay(&c->tcp, 1);
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

static void on_handle_closed(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (--c->pending > 0)
		return;
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
