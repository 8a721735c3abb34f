/* client_tls: the TLS settings of poolpairctl's client (CA, certificate,
 * key, revocation list) and the check of the server it talks to: its
 * certificate must verify against the CA and hold role agent. */
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/client.h"
#include "agent/ctl/client_internal.h"
#include "tls/tls.h"

static int client_dup_path(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL || src[0] == '\0')
		return 0;
	*dst = strdup(src);
	return *dst != NULL ? 0 : CLIENT_ENOMEM;
}

int client_set_tls(struct client *c, const char *ca, const char *cert,
		   const char *key)
{
	char *nca, *ncert, *nkey;

	if ((cert == NULL || cert[0] == '\0') !=
	    (key == NULL || key[0] == '\0'))
		return CLIENT_EINVAL;
	if (client_dup_path(&nca, ca) != 0)
		return CLIENT_ENOMEM;
	if (client_dup_path(&ncert, cert) != 0) {
		free(nca);
		return CLIENT_ENOMEM;
	}
	if (client_dup_path(&nkey, key) != 0) {
		free(nca);
		free(ncert);
		return CLIENT_ENOMEM;
	}
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	c->tls_ca = nca;
	c->tls_cert = ncert;
	c->tls_key = nkey;
	return 0;
}

int client_set_crl(struct client *c, const char *crl)
{
	char *ncrl;

	if (client_dup_path(&ncrl, crl) != 0)
		return CLIENT_ENOMEM;
	free(c->tls_crl);
	c->tls_crl = ncrl;
	return 0;
}

/* Verification of the server's certificate, in place of OpenSSL's own:
 * the chain against the store (the CA), then the role: a server is an
 * agent. What the certificate is goes to the client (arg) for the
 * message. */
static int client_verify(X509_STORE_CTX *x, void *arg)
{
	struct client *c = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	int ok;

	c->peer_identity[0] = '\0';
	c->peer_role = leaf != NULL ? tls_cert_role(leaf, c->peer_identity,
						    sizeof c->peer_identity)
				    : TLS_ROLE_NONE;
	ok = X509_verify_cert(x) == 1;
	if (!ok && X509_STORE_CTX_get_error(x) == X509_V_ERR_CERT_REVOKED)
		c->peer_revoked = 1;
	if (ok && (c->peer_role & TLS_ROLE_AGENT) == 0) {
		X509_STORE_CTX_set_error(x,
					 X509_V_ERR_APPLICATION_VERIFICATION);
		c->peer_refused = 1;
		ok = 0;
	}
	return ok;
}

/* libcurl's SSL_CTX of a new TLS connection (its CA store loaded):
 * verify the server with client_verify(). */
static CURLcode client_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
	(void)curl;
	SSL_CTX_set_cert_verify_callback(sslctx, client_verify, arg);
	return CURLE_OK;
}

int client_apply_tls(struct client *c, void *curl)
{
	CURLcode rc = CURLE_OK;

#define CLIENT_TLS_SET(opt, val)                                               \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(curl, opt, val);                 \
	} while (0)
	/* whatever the CA, a server must be an agent */
	CLIENT_TLS_SET(CURLOPT_SSL_CTX_FUNCTION, client_ssl_ctx);
	CLIENT_TLS_SET(CURLOPT_SSL_CTX_DATA, c);
	if (rc != CURLE_OK)
		return CLIENT_EINVAL;
	if (c->tls_ca == NULL && c->tls_cert == NULL && c->tls_crl == NULL)
		return 0;
	CLIENT_TLS_SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	CLIENT_TLS_SET(CURLOPT_SSL_VERIFYPEER, 1L);
	/* certificates name roles, not hosts */
	CLIENT_TLS_SET(CURLOPT_SSL_VERIFYHOST, 0L);
	if (c->tls_ca != NULL)
		CLIENT_TLS_SET(CURLOPT_CAINFO, c->tls_ca);
	if (c->tls_crl != NULL)
		CLIENT_TLS_SET(CURLOPT_CRLFILE, c->tls_crl);
	if (c->tls_cert != NULL) {
		CLIENT_TLS_SET(CURLOPT_SSLCERT, c->tls_cert);
		CLIENT_TLS_SET(CURLOPT_SSLCERTTYPE, "PEM");
		CLIENT_TLS_SET(CURLOPT_SSLKEY, c->tls_key);
		CLIENT_TLS_SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
#undef CLIENT_TLS_SET
	return rc == CURLE_OK ? 0 : CLIENT_EINVAL;
}
