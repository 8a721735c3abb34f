/* lsync_client: how the writer of a pool asks the cluster's leader to
 * commit pool_sync {pool, writer_token, standby, reason}: POST
 * /v1/internal/pool-sync over the agents' HTTP client (agent/hclient.h),
 * to the API of the leader the proposer knows (members_heartbeat.c does
 * the same), or to where a follower redirected it (307) while the
 * proposer knows none. It is the data plane's struct dataplane_ask
 * (dataplane.h): the answers map to enum dataplane_ask_outcome:
 *
 *   200 {"sync_standby": ID}       DATAPLANE_ASK_COMMITTED, ID
 *   409 {"error", "message"}       DATAPLANE_ASK_REFUSED, the message
 *   400, 403, 404                  DATAPLANE_ASK_REFUSED (nothing was
 *                                  proposed: a bad ask, a role refused,
 *                                  a leader without the endpoint)
 *   anything else (no leader, 307, 5xx, timeout, connection lost, a body
 *   that does not parse)           DATAPLANE_ASK_UNKNOWN
 *
 * One ask in flight at a time. Loop thread only. */
#ifndef POOLPAIR_LSYNC_CLIENT_H
#define POOLPAIR_LSYNC_CLIENT_H

#include <stdint.h>

#include "agent/dataplane.h"
#include "agent/hclient.h"
#include "agent/proposer.h"

/* Deadline of one ask. */
#define LSYNC_CLIENT_TIMEOUT_MS 2000

struct lsync_client_deps {
	struct hclient *calls;		 /* borrowed: open while asks run */
	const struct proposer *proposer; /* borrowed: who leads */
};

struct lsync_client {
	struct lsync_client_deps d;
	char hint_host[HCLIENT_HOST_MAX]; /* a follower's 307, "" none */
	uint16_t hint_port;
	struct hclient_req *req; /* in flight, or NULL */
	dataplane_ask_cb cb;
	void *arg;
	char pool[FSM_NAME_LEN];
	uint64_t standby;
};

/* Set up c (no handle of its own: nothing to close; an ask in flight
 * ends with the HTTP client, UV_ECANCELED -> DATAPLANE_ASK_UNKNOWN). */
void lsync_client_init(struct lsync_client *c,
		       const struct lsync_client_deps *d);

/* The data plane's ask over c (c borrowed: outlives the data plane). */
void lsync_client_ask(struct lsync_client *c, struct dataplane_ask *out);

/* Map an answer (err 0 and resp, or err < 0 and resp NULL) to an
 * outcome: *standby (with COMMITTED) and msg (len bytes) filled. */
int lsync_client_outcome(int err, const struct hclient_response *resp,
			 uint64_t *standby, char *msg, size_t len);

#endif
