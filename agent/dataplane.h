/* dataplane: a pool agent's data: its store (replication/store.h), the
 * hybrid logical clock that stamps its writes, and the epochs the control
 * plane hands down. The agent wires the replication stream to it.
 *
 * A witness has no data plane (dataplane_enabled() is false).
 * Loop thread only. */
#ifndef POOLPAIR_DATAPLANE_H
#define POOLPAIR_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/fsm.h"
#include "replication/hlc.h"
#include "replication/store.h"

struct agent;

enum dataplane_state {
	DP_NONE,    /* witness: no store */
	DP_OPENING, /* store opening on the thread pool */
	DP_OPEN,
	DP_FAILED,  /* the store could not be opened: writes answer 503 */
	DP_CLOSING,
	DP_CLOSED,
};

struct dataplane {
	struct agent *agent; /* borrowed: the owner */
	int state;           /* enum dataplane_state */
	struct store store;
	struct hlc hlc;
	/* newest epoch handed to the store per pool (index as in the FSM's
	 * pools array is not stable: keyed by name) */
	struct {
		char pool[FSM_NAME_LEN];
		uint64_t epoch;
	} epochs[FSM_MAX_POOLS];
	unsigned n_epochs;
	uint64_t writes_ok;
	uint64_t writes_refused;
	char errmsg[256];
};

/* Prepare; opens the store asynchronously when the agent has a pool
 * (data_dir/store.db). Returns 0 or negative with dp->errmsg. */
int dataplane_init(struct dataplane *dp, struct agent *a);

/* Called after every applied command: hand new epochs to the store. */
void dataplane_on_applied(struct dataplane *dp);

/* True when writes can be served (store open). */
bool dataplane_ready(const struct dataplane *dp);

/* Close the store; completion through the agent's pending_closes. */
void dataplane_close(struct dataplane *dp);

/* Next hybrid logical timestamp for a local write. */
uint64_t dataplane_hlc(struct dataplane *dp);

#endif
