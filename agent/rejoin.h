/* rejoin: an agent whose Raft directory is empty (a first start, a lost
 * disk, or a broken one moved aside) finds out which it is before it runs
 * Raft, and a leader takes a lost member back.
 *
 * Agent side (probe): Raft is initialised but not started (no vote, no
 * campaign). The agent asks every `[cluster] peers` URL and the `join`
 * URL for GET /v1/status and decides with rejoin_decide():
 * - bootstrap: a first start, raft_bootstrap of the configured list;
 * - rejoin: POST /v1/internal/rejoin to the leader, which removes the old
 *   incarnation (committed by the others) and adds the id back as a spare;
 *   only after that answer does this agent start Raft, with an empty log
 *   and no vote, and placement promotes it once it has caught up;
 * - join: a joiner the cluster does not know joins as today;
 * - wait: ask again (backoff up to 5 s, a log line naming whom it waits
 *   for); refuse: a bootstrap member with no peers to ask and no
 *   --first-start stops with a message.
 *
 * Leader side: POST /v1/internal/rejoin {id, address}, one at a time; the
 * history keeps "rebuild member N NAME (data lost): removed ..." and
 * "... added back as spare".
 *
 * Loop thread only. */
#ifndef POOLPAIR_REJOIN_H
#define POOLPAIR_REJOIN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/rejoin_decide.h"
#include "tls/tls.h"

struct agent;
struct http_request;
struct route_params;
struct hclient_req;

#define REJOIN_MAX_PEERS 17 /* [cluster] peers and join */

enum rejoin_state {
	REJOIN_NONE,	/* Raft holds state: nothing to decide */
	REJOIN_PROBING, /* asking the peers */
	REJOIN_ASKING,	/* asking the leader to take this agent back */
	REJOIN_DONE,	/* decided, Raft started */
};

struct rejoin {
	struct agent *agent; /* borrowed */
	int state;	     /* enum rejoin_state */
	uv_timer_t timer;
	bool timer_open;
	unsigned backoff_ms;
	unsigned round;
	/* the probe: one slot per URL asked */
	char urls[REJOIN_MAX_PEERS][256];
	unsigned n_urls;
	struct rejoin_answer answers[REJOIN_MAX_PEERS];
	struct hclient_req *reqs[REJOIN_MAX_PEERS];
	unsigned inflight;
	/* the leader to ask (from a status that had a cluster), or a 307 */
	char target[256];
	struct hclient_req *ask_req;
	bool closing;
	void (*close_cb)(struct rejoin *r);
	/* leader side: the rejoin being served, one at a time */
	struct {
		struct http_request *req;
		uint64_t id;
		char address[128];
		char name[64];
		bool removed;
	} serving;
	bool busy;
	uint64_t unstick_ms; /* last leadership hand-over (uv_now) */
	struct tls_quiet quiet; /* rejoins refused (caller.h) */
};

/* Whether the Raft directory dir holds any state (a missing directory
 * holds none). Startup only (before the loop runs). */
bool rejoin_raft_has_state(const char *dir);

/* Prepare; probe: true when the Raft directory holds no state and the
 * agent must decide before it starts Raft. */
int rejoin_init(struct rejoin *r, struct agent *a, bool probe);

/* Start asking (state PROBING); the agent's Raft start waits for the
 * decision (agent_rejoin_decided()). */
int rejoin_start(struct rejoin *r);

/* Cancel requests and close the timer: 0 and cb fires once later, or
 * -EALREADY (nothing to close, or closing already) and cb never fires. */
int rejoin_close(struct rejoin *r, void (*cb)(struct rejoin *r));

/* POST /v1/internal/rejoin (module: the struct rejoin). */
void rejoin_route(void *module, struct http_request *req,
		  const struct route_params *p);

#endif
