/* tls_crl: the certificate revocation list of a context: loaded into its
 * store (checked: issued by the CA, not expired), and whether it revokes a
 * certificate; see tls.h. */
#include "tls/tls.h"
#include "tls/tls_internal.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Whether crl is signed by a CA certificate of store. */
static bool crl_issued_by_store(X509_STORE *store, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	bool ok = false;

	for (int i = 0; i < sk_X509_OBJECT_num(objs) && !ok; i++) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
		X509 *ca;
		EVP_PKEY *key;

		if (X509_OBJECT_get_type(o) != X509_LU_X509)
			continue;
		ca = X509_OBJECT_get0_X509(o);
		if (X509_NAME_cmp(X509_get_subject_name(ca),
				  X509_CRL_get_issuer(crl)) != 0)
			continue;
		key = X509_get0_pubkey(ca);
		ok = key != NULL && X509_CRL_verify(crl, key) == 1;
	}
	ERR_clear_error();
	return ok;
}

/* With the CRL check on, a peer of a CA without a CRL would be refused
 * ("unable to get certificate CRL"): say so now rather than at every
 * handshake. */
static int every_ca_has_crl(X509_STORE *store, const char *path, char *errmsg)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
		X509_NAME *ca;
		bool found = false;
		char cn[TLS_NAME_LEN];

		if (X509_OBJECT_get_type(o) != X509_LU_X509)
			continue;
		ca = X509_get_subject_name(X509_OBJECT_get0_X509(o));
		for (int j = 0; j < sk_X509_OBJECT_num(objs) && !found; j++) {
			X509_OBJECT *p = sk_X509_OBJECT_value(objs, j);

			found = X509_OBJECT_get_type(p) == X509_LU_CRL &&
				X509_NAME_cmp(X509_CRL_get_issuer(
						  X509_OBJECT_get0_X509_CRL(p)),
					      ca) == 0;
		}
		if (found)
			continue;
		if (X509_NAME_get_text_by_NID(ca, NID_commonName, cn,
					      sizeof cn) < 0)
			snprintf(cn, sizeof cn, "?");
		snprintf(errmsg, TLS_ERRMSG_LEN,
			 "crl %s: no crl of the ca CN=%s (every ca trusted "
			 "needs one)",
			 path, cn);
		return TLS_E_CONFIG;
	}
	return 0;
}

int tls_crl_load(X509_STORE *store, const char *path, char *errmsg,
		 int64_t *next_update)
{
	STACK_OF(X509_INFO) * infos;
	BIO *in;
	int n = 0, rv = 0;
	struct tm tm;

	*next_update = INT64_MAX;
	ERR_clear_error();
	in = BIO_new_file(path, "r");
	if (in == NULL) {
		snprintf(errmsg, TLS_ERRMSG_LEN, "crl %s: %s", path,
			 strerror(errno != 0 ? errno : EIO));
		ERR_clear_error();
		return TLS_E_CONFIG;
	}
	infos = PEM_X509_INFO_read_bio(in, NULL, NULL, NULL);
	BIO_free(in);
	if (infos == NULL) {
		char why[160];

		tls_ssl_reason(why, sizeof why);
		snprintf(errmsg, TLS_ERRMSG_LEN, "crl %s: not pem (%s)", path,
			 why);
		return TLS_E_CONFIG;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos) && rv == 0; i++) {
		X509_CRL *crl = sk_X509_INFO_value(infos, i)->crl;
		const ASN1_TIME *next;

		if (crl == NULL)
			continue;
		if (!crl_issued_by_store(store, crl)) {
			snprintf(errmsg, TLS_ERRMSG_LEN,
				 "crl %s: not issued by the ca", path);
			rv = TLS_E_CONFIG;
			break;
		}
		next = X509_CRL_get0_nextUpdate(crl);
		if (next != NULL && ASN1_TIME_to_tm(next, &tm) == 1) {
			int64_t t = (int64_t)timegm(&tm);

			if (t <= (int64_t)time(NULL)) {
				snprintf(errmsg, TLS_ERRMSG_LEN,
					 "crl %s has expired (next update "
					 "was due %04d-%02d-%02d %02d:%02d "
					 "UTC): make a new one",
					 path, tm.tm_year + 1900, tm.tm_mon + 1,
					 tm.tm_mday, tm.tm_hour, tm.tm_min);
				rv = TLS_E_CONFIG;
				break;
			}
			if (t < *next_update)
				*next_update = t;
		}
		if (X509_STORE_add_crl(store, crl) != 1) {
			snprintf(errmsg, TLS_ERRMSG_LEN,
				 "crl %s: out of memory", path);
			rv = TLS_E_NOMEM;
			break;
		}
		n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	ERR_clear_error();
	if (rv == 0 && n == 0) {
		snprintf(errmsg, TLS_ERRMSG_LEN, "crl %s: no crl in the file",
			 path);
		rv = TLS_E_CONFIG;
	}
	if (rv == 0)
		rv = every_ca_has_crl(store, path, errmsg);
	if (rv == 0)
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return rv;
}

bool tls_ctx_revoked(const struct tls_ctx *c, X509 *x)
{
	if (c->crl[0] == '\0' || c->ssl == NULL)
		return false;
	return tls_store_revokes(SSL_CTX_get_cert_store(c->ssl), x);
}

bool tls_store_revokes(X509_STORE *store, X509 *x)
{
	STACK_OF(X509_OBJECT) * objs;
	bool revoked = false;

	if (store == NULL || x == NULL)
		return false;
	objs = X509_STORE_get0_objects(store);
	for (int i = 0; i < sk_X509_OBJECT_num(objs) && !revoked; i++) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
		X509_CRL *crl;
		X509_REVOKED *entry = NULL;

		if (X509_OBJECT_get_type(o) != X509_LU_CRL)
			continue;
		crl = X509_OBJECT_get0_X509_CRL(o);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
				  X509_get_issuer_name(x)) != 0)
			continue;
		/* 1: revoked; 2: listed as removeFromCRL (not revoked) */
		revoked = X509_CRL_get0_by_cert(crl, &entry, x) == 1;
	}
	return revoked;
}
