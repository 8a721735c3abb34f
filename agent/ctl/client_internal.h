/* Shared between the parts of poolpairctl's client (client.c, the
 * transfers; client_tls.c, the TLS settings). */
#ifndef POOLPAIR_CTL_CLIENT_INTERNAL_H
#define POOLPAIR_CTL_CLIENT_INTERNAL_H

#include "agent/ctl/client.h"

/* Apply the TLS settings of c to curl (an easy handle, a CURL *): a
 * server must hold role agent whatever the CA; with a CA, certificate or
 * revocation list, TLS 1.3 and those files. Returns 0 or CLIENT_EINVAL
 * (libcurl refused an option: built without TLS). */
int client_apply_tls(struct client *c, void *curl);

#endif
