/* tls_internal: what the files of the tls module (tls.c, tls_ctx.c,
 * tls_conn.c, tls_quiet.c) share besides tls.h; not used outside them.
 *
 *   tls.c        error codes, role names, the classification of failures
 *   tls_ctx.c    contexts: loading, checking, reloading; certificate roles
 *   tls_conn.c   a connection over memory BIOs (or plain)
 *   tls_quiet.c  the table of repeated warnings */
#ifndef POOLPAIR_TLS_INTERNAL_H
#define POOLPAIR_TLS_INTERNAL_H

#include <stddef.h>

/* Writes the reason of the first queued OpenSSL error of this thread into
 * @out (@len > 0 bytes; "" when none) and clears the queue. Any thread. */
void tls_ssl_reason(char *out, size_t len);

#endif /* POOLPAIR_TLS_INTERNAL_H */
