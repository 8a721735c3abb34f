/* hclient: TLS of libcurl's connections, from this process's tls_ctx.
 *
 * libcurl (OpenSSL backend) makes an SSL_CTX of its own for every new
 * connection and hands it to hclient__ssl_ctx() before the handshake. That
 * callback puts in the context's certificate, chain and key as they are
 * now (so a reload applies to the next new connection) and the CA
 * certificates into libcurl's (empty) store, and installs the verification
 * that also requires role agent. libcurl is told to load no CA file or
 * directory of its own and to cache no store (CURLOPT_CA_CACHE_TIMEOUT 0:
 * a cached store would outlive a reload), and not to take a certificate
 * of the store as a trust anchor unless it is one (no partial chains).
 * With a CRL ([tls] crl) the store gets the context's CRLs and its CRL
 * check; a kept-alive connection to a server that a CRL loaded later
 * revokes is dropped before the next request would use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "agent/hclient_internal.h"

/* The request whose new connection uses SSL_CTX ctx, or NULL. */
static struct hclient_req *hclient__req_of(struct hclient *c, const void *ctx)
{
	struct hclient_req *req;

	for (req = c->reqs; ctx != NULL && req != NULL; req = req->next)
		if (req->ssl_ctx == ctx)
			return req;
	return NULL;
}

/* Verification of the server's certificate, in place of OpenSSL's own:
 * the chain against the store, then the role. A request waiting for this
 * connection learns who the server is and why it was refused. arg is the
 * client (which outlives every connection), not a request. */
static int hclient__verify(X509_STORE_CTX *x, void *arg)
{
	struct hclient *c = arg;
	SSL *ssl =
	    X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct hclient_req *req =
	    hclient__req_of(c, ssl != NULL ? SSL_get_SSL_CTX(ssl) : NULL);
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	char identity[TLS_NAME_LEN] = "";
	int role = leaf != NULL ? tls_cert_role(leaf, identity, sizeof identity)
				: TLS_ROLE_NONE;
	int ok = X509_verify_cert(x) == 1;

	if (ok && (role & TLS_ROLE_AGENT) == 0) {
		X509_STORE_CTX_set_error(x,
					 X509_V_ERR_APPLICATION_VERIFICATION);
		ok = 0;
	}
	if (req != NULL) {
		req->peer_role = role;
		memcpy(req->peer_identity, identity, sizeof identity);
		req->verify_result =
		    ok ? X509_V_OK : X509_STORE_CTX_get_error(x);
	}
	return ok;
}

/* libcurl's SSL_CTX for a new connection of req: our certificate, key and
 * CA from the client's tls_ctx as it is now. */
static CURLcode hclient__ssl_ctx(CURL *easy, void *sslctx, void *arg)
{
	struct hclient_req *req = arg;
	struct hclient *c = req->client;
	SSL_CTX *ctx = sslctx;
	SSL_CTX *src = c->tls != NULL ? c->tls->ssl : NULL;
	STACK_OF(X509_OBJECT) * objs;
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	struct hclient_req *other;
	int i;

	(void)easy;
	if (src == NULL) {
		req->err = TLS_E_STATE;
		return CURLE_SSL_CERTPROBLEM;
	}
	ERR_clear_error();
	if (store == NULL ||
	    SSL_CTX_use_certificate(ctx, SSL_CTX_get0_certificate(src)) != 1 ||
	    SSL_CTX_get0_chain_certs(src, &chain) != 1 ||
	    SSL_CTX_set1_chain(ctx, chain) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, SSL_CTX_get0_privatekey(src)) != 1 ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto err;
	/* the CRL check of the context's store ([tls] crl) too */
	if (X509_STORE_set1_param(
		store, X509_STORE_get0_param(SSL_CTX_get_cert_store(src))) != 1)
		goto err;
	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(src));
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);

		if (X509_OBJECT_get_type(o) == X509_LU_X509 &&
		    X509_STORE_add_cert(store, X509_OBJECT_get0_X509(o)) != 1)
			goto err;
		if (X509_OBJECT_get_type(o) == X509_LU_CRL &&
		    X509_STORE_add_crl(store, X509_OBJECT_get0_X509_CRL(o)) !=
			1)
			goto err;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, hclient__verify, c);
	/* a context freed earlier may have had the same address */
	for (other = c->reqs; other != NULL; other = other->next)
		if (other->ssl_ctx == ctx)
			other->ssl_ctx = NULL;
	req->ssl_ctx = ctx;
	req->verify_result = X509_V_OK;
	req->peer_role = TLS_ROLE_NONE;
	req->peer_identity[0] = '\0';
	return CURLE_OK;

err:
	ERR_clear_error();
	req->err = TLS_E_NOMEM;
	return CURLE_OUT_OF_MEMORY;
}

/* Before each request is sent, on a new or a reused connection: a
 * connection whose server a CRL loaded since (a reload) revokes is not
 * used; the request fails and libcurl closes the connection. */
static int hclient__prereq(void *arg, char *primary_ip, char *local_ip,
			   int primary_port, int local_port)
{
	struct hclient_req *req = arg;
	struct curl_tlssessioninfo *info = NULL;
	X509 *peer;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (curl_easy_getinfo(req->easy, CURLINFO_TLS_SSL_PTR, &info) !=
		CURLE_OK ||
	    info == NULL || info->backend != CURLSSLBACKEND_OPENSSL ||
	    info->internals == NULL)
		return CURL_PREREQFUNC_OK;
	peer = SSL_get0_peer_certificate(info->internals);
	if (peer == NULL || !tls_ctx_revoked(req->client->tls, peer))
		return CURL_PREREQFUNC_OK;
	req->peer_role =
	    tls_cert_role(peer, req->peer_identity, sizeof req->peer_identity);
	req->err = TLS_E_REVOKED;
	return CURL_PREREQFUNC_ABORT;
}

int hclient__tls_setup(struct hclient_req *req)
{
	CURL *e = req->easy;

	if (curl_easy_setopt(e, CURLOPT_SSLVERSION,
			     (long)(CURL_SSLVERSION_TLSv1_3 |
				    CURL_SSLVERSION_MAX_TLSv1_3)) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_OPTIONS,
			     (long)CURLSSLOPT_NO_PARTIALCHAIN) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, hclient__ssl_ctx) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, req) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, hclient__prereq) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PREREQDATA, req) != CURLE_OK)
		return UV_ENOMEM;
	return 0;
}

/* The OpenSSL error code in libcurl's message ("...error:0A000418:SSL
 * routines::tlsv1 alert unknown ca"), or 0. */
static unsigned long hclient__ssl_code(const char *msg)
{
	const char *p = strstr(msg, "error:");
	char *end;
	unsigned long e;

	if (p == NULL)
		return 0;
	e = strtoul(p + 6, &end, 16);
	return end != p + 6 && *end == ':' ? e : 0;
}

int hclient__tls_outcome(struct hclient_req *req, CURLcode rc, char *why,
			 size_t len)
{
	const char *who = req->peer_identity[0] ? req->peer_identity : "?";
	unsigned long e = hclient__ssl_code(req->errbuf);
	int rv;

	if (req->verify_result != X509_V_OK) {
		rv = tls_verify_error(req->verify_result);
		if (rv == TLS_E_ROLE)
			snprintf(why, len, "role %s not allowed here (CN=%s)",
				 tls_role_name(req->peer_role), who);
		else if (rv == TLS_E_PROTOCOL)
			snprintf(
			    why, len, "peer certificate rejected (CN=%s): %s",
			    who,
			    X509_verify_cert_error_string(req->verify_result));
		else
			snprintf(why, len, "%s (CN=%s)", tls_strerror(rv), who);
		return rv;
	}
	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		if (rc != CURLE_SSL_CONNECT_ERROR)
			return UV_EOF; /* closed without close_notify */
		snprintf(why, len,
			 "connection closed during the tls handshake");
		return TLS_E_EOF;
	}
	if (e != 0) {
		rv = tls_ssl_error(e, why, len);
		if (why[0] == '\0') {
			const char *r = ERR_reason_error_string(e);

			snprintf(why, len, "tls: %s",
				 r != NULL ? r : req->errbuf);
		}
		return rv;
	}
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		/* libcurl's name for the alert "certificate expired" too */
		snprintf(why, len,
			 "peer refused our certificate: certificate expired");
		return TLS_E_REFUSED;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(why, len,
			 "connection closed during the tls handshake");
		return TLS_E_EOF;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_SHUTDOWN_FAILED:
		snprintf(why, len, "tls: %s", req->errbuf);
		return TLS_E_PROTOCOL;
	default:
		return 0;
	}
}
