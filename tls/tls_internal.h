/* tls_internal: what the files of the tls module (tls.c, tls_ctx.c,
 * tls_conn.c, tls_quiet.c) share besides tls.h; not used outside them.
 *
 *   tls.c        error codes, role names, the classification of failures
 *   tls_ctx.c    contexts: loading, checking, reloading; certificate roles
 *   tls_conn.c   a connection over memory BIOs (or plain)
 *   tls_crl.c    the revocation list: loading it, what it revokes
 *   tls_quiet.c  the table of repeated warnings */
#ifndef POOLPAIR_TLS_INTERNAL_H
#define POOLPAIR_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct tls_ctx;

/* Writes the reason of the first queued OpenSSL error of this thread into
 * @out (@len > 0 bytes; "" when none) and clears the queue. Any thread. */
void tls_ssl_reason(char *out, size_t len);

/* ---- tls_crl.c ---- */

/* Add the CRLs of the PEM file path to store and turn on its CRL check of
 * peer certificates. Every CRL must be signed by a CA certificate of
 * store and not be past its next update, and every CA certificate of
 * store must have one. *next_update: the earliest next update (INT64_MAX
 * when none says). Returns 0, or TLS_E_CONFIG / TLS_E_NOMEM with errmsg
 * (TLS_ERRMSG_LEN bytes) set; store may hold some of the CRLs then. Any
 * thread (the store is not yet shared). */
int tls_crl_load(X509_STORE *store, const char *path, char *errmsg,
		 int64_t *next_update);

/* Whether a CRL of store from x's issuer revokes x. */
bool tls_store_revokes(X509_STORE *store, X509 *x);

/* ---- tls_conn.c ---- */

/* After a reload of c: end every live connection of c whose peer the new
 * CRL revokes (see tls_ctx_reload()), counted in c->revoked_closed. Loop
 * thread. */
void tls_conns_check_revoked(struct tls_ctx *c);

/* Forget the connections of c (tls_ctx_close()). */
void tls_conns_detach(struct tls_ctx *c);

#endif /* POOLPAIR_TLS_INTERNAL_H */
