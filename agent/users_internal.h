/* users_internal: what crosses the files of the users module (users.c,
 * cms_docs.c, backup_sync.c, divergence.c); see users.h. Not for other
 * modules. Loop thread only. */
#ifndef POOLPAIR_USERS_INTERNAL_H
#define POOLPAIR_USERS_INTERNAL_H

#include "agent/users.h"

#define USERS_SIP_MAX 255
#define USERS_VALUE_MAX ((size_t)1 << 20) /* a value or a document */

/* users.c: the kind named by s[0..n-1] (profile, contacts, settings):
 * POOLPAIR__REPL__KIND__KIND_*, or -1. */
int users_kind_parse(const char *s, size_t n);

/* One checked item of POST /v1/users/batch (users_batch.c). */
struct users_batch_item {
	char sip[USERS_SIP_MAX + 1]; /* a valid SIP URI */
	int kind;		     /* POOLPAIR__REPL__KIND__KIND_PROFILE,
					CONTACTS or SETTINGS */
	const void *value;	     /* a JSON text: owned (malloc) when owned,
					else borrowed from the request's body */
	size_t value_len;	     /* at most USERS_VALUE_MAX */
	bool owned;
};

/* users.c: write the n (1..1000) checked items of a batch request, each
 * as its own PUT would (its value stored as given; a borrowed one is not
 * copied before the store takes it), and answer req once every item has
 * its outcome (docs/api.md). Takes the owned values (owned is false
 * after); on failure answers 500. users_ready() already held. */
void users_batch_run(struct users *u, struct http_request *req,
		     struct users_batch_item *items, size_t n);

/* Free the owned values of items[0..n-1]. */
void users_batch_items_free(struct users_batch_item *items, size_t n);

/* backup_sync.c: answer every pending backup sync 503 and close its timer
 * (each counted in u->closes, dropped by users_closed_one()). */
void backup_sync_close(struct users *u);

/* users.c: one timer of u finished closing; calls the close callback
 * after the last. */
void users_closed_one(struct users *u);

#endif
