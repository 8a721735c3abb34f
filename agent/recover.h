/* recover: rebuilding the Raft configuration when the majority of voters
 * is lost for good (a whole site without a witness).
 *
 * POST /v1/recover {"force_quorum": true} on a surviving agent: refused
 * while a majority of the voters still answers; otherwise the agent writes
 * the new configuration (itself and every other member heard from within
 * lease + grace, all voters) to data_dir/raft-recover.json, warns loudly,
 * and restarts itself. At start, a pending file is applied with
 * raft_recover() before Raft starts; once this agent leads, the recovery
 * is committed to the history (forced).
 *
 * Run it on the survivor with the newest state, and only once: voters of
 * the old configuration that come back must be removed or re-added by the
 * operator.
 *
 * Loop thread only (recover_load runs at start, before the loop). */
#ifndef POOLPAIR_RECOVER_H
#define POOLPAIR_RECOVER_H

#include <stdbool.h>

#include "agent/http.h"
#include "agent/route.h"
#include "consensus/node.h"

struct agent;

/* Before node_init: load a pending recovery into nc (n_recover). Returns
 * 0 (nothing pending, or loaded), or negative with errmsg set when the
 * file is unreadable (the agent must not start with half a recovery). */
int recover_load(const char *data_dir, struct node_config *nc, char *what,
		 size_t whatlen, char *errmsg, size_t errlen);

/* After the node started: remove the applied file. */
void recover_done(const char *data_dir);

/* Handler of the route table (routes.c, route.h): POST /v1/recover;
 * module is the struct agent. */
void recover_route(void *module, struct http_request *req,
		   const struct route_params *p);

/* Leader: commit the pending history note of a recovery, if any. */
void recover_note_tick(struct agent *a);

#endif
