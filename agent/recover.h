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
 * The module reads the node's view of the leadership through a proposer
 * (and proposes the history note through it), a clock, a few values of
 * the config, and what it needs of the rest of the agent through struct
 * recover_host: the Raft configuration, whether a member was heard,
 * whether this agent is in the configuration, and the restart. Each is
 * borrowed and must outlive the module.
 *
 * Loop thread only (recover_load runs at start, before the loop). */
#ifndef POOLPAIR_RECOVER_H
#define POOLPAIR_RECOVER_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"
#include "consensus/node.h"

/* What the module asks of the rest of the agent. Every op: loop thread
 * only, never NULL. */
struct recover_host_ops {
	/* The current Raft configuration (borrowed: valid until the next
	 * loop turn). */
	const struct raft_configuration *(*configuration)(void *impl);
	/* Whether member id was heard (heartbeat or report) within
	 * window_ms; this agent always counts (members_heard()). */
	bool (*heard)(void *impl, uint64_t id, uint64_t window_ms);
	/* Whether member id is in the Raft configuration (any role). */
	bool (*is_member)(void *impl, uint64_t id);
	/* Stop the agent and start it again once stopped (the recovery file
	 * is applied at that start). The answer to the request is already
	 * given. */
	void (*restart)(void *impl);
};

struct recover_host {
	const struct recover_host_ops *ops; /* static */
	void *impl;			    /* borrowed */
};

struct recover_deps {
	const struct proposer *proposer;  /* borrowed: the history note */
	const struct clock *clock;	  /* borrowed: the note's time */
	const struct recover_host *host;  /* borrowed */
	/* Who asked, for the file and the logs (caller_who(), caller.h). */
	void (*who)(const struct http_request *req, char *out, size_t len);
	/* of the config (copied) */
	char data_dir[CONFIG_PATH_LEN];
	uint64_t self_id;
	uint32_t lease_ms; /* a member heard within lease + grace survives */
	uint32_t grace_ms;
	/* what recover_load() read at this start: the recovery to record in
	 * the history once this agent leads, "" none (copied) */
	char note[FSM_WHAT_LEN];
};

struct recover {
	struct recover_deps d; /* copied; pointers borrowed */
	bool noting;	       /* the note's proposal is in flight */
	bool closed;	       /* recover_close() called: the note's answer
				  changes nothing */
};

/* Before node_init: load a pending recovery into nc (n_recover), and what
 * it was (the history note) into what. Returns 0 (nothing pending: what
 * is "", or loaded), or negative with errmsg set when the file is
 * unreadable (the agent must not start with half a recovery). */
int recover_load(const char *data_dir, struct node_config *nc, char *what,
		 size_t whatlen, char *errmsg, size_t errlen);

/* Set r up from deps (copied; the pointers borrowed). Returns 0. */
int recover_init(struct recover *r, const struct recover_deps *deps);

/* After the node started: remove the file of the recovery applied at this
 * start (none: nothing to do). */
void recover_started(struct recover *r);

/* Leader: propose the pending history note of a recovery, if any, unless
 * one is in flight; once committed there is none. Called every tick. */
void recover_tick(struct recover *r);

/* The module holds no handle: cb (may be NULL) is called at once; a note
 * in flight is dropped when it answers. */
void recover_close(struct recover *r, void (*cb)(struct recover *r));

/* Handler of the route table (routes.c, route.h): POST /v1/recover
 * {"force_quorum": true}; module is the struct recover. Answers 400
 * invalid without that body; 409 quorum_not_lost while more than half of
 * the voters were heard within lease + grace (or there are none); 409
 * not_member when no member was heard or this agent is not in the
 * configuration; 500 internal when the file cannot be written; else 202
 * {"voters", "warning"} and the agent restarts (recover_host). */
void recover_route(void *module, struct http_request *req,
		   const struct route_params *p);

#endif
