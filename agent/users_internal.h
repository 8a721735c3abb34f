/* users_internal: what crosses the files of the users module (users.c,
 * cms_docs.c, backup_sync.c, divergence.c); see users.h. Not for other
 * modules. Loop thread only. */
#ifndef POOLPAIR_USERS_INTERNAL_H
#define POOLPAIR_USERS_INTERNAL_H

#include "agent/users.h"

#define USERS_SIP_MAX 255
#define USERS_VALUE_MAX ((size_t)1 << 20) /* a value or a document */

/* backup_sync.c: answer every pending backup sync 503 and close its timer
 * (each counted in u->closes, dropped by users_closed_one()). */
void backup_sync_close(struct users *u);

/* users.c: one timer of u finished closing; calls the close callback
 * after the last. */
void users_closed_one(struct users *u);

#endif
