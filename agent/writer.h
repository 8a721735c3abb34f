/* writer: the leader's choice of each pool's writer (DESIGN.md, "Pools of
 * several agents"). Any number of agents may name one pool; the applied
 * state names at most one of them its writer (fsm_pool.writer, with a
 * fencing token, fsm_pool.writer_token), and only the writer writes and
 * runs the pool's streams (dataplane.h). This module decides who, on the
 * leader, every tick, one decision in flight per pool, each committed as
 * a pool_writer command whose expect_token is the token it read (a
 * decision made on a stale view is refused by the state machine):
 *
 * - a pool with no writer (a new pool, a state from before writers, the
 *   writer removed) gets an alive agent of the pool (heard within the
 *   lease): the one whose reports show the highest head of the pool's own
 *   user set, else the lowest id;
 * - a pool whose writer is silent longer than the lease *while the pool is
 *   failed over* (failed_over or recovering: its pair owns its user set,
 *   so no agent of the pool writes it) gets another alive agent of the
 *   pool, chosen the same way; its store, empty or behind, is seeded by
 *   the pair;
 * - a *local takeover* of a normal pool (it owns its own user set): its
 *   writer W silent for lease + grace (down_ms, what failover_auto.h
 *   calls a pool down: W's lease surely ran out) while its synchronous
 *   standby S (fsm_pool.sync_standby, which holds every write W answered)
 *   is alive makes S the writer, with S's reported copy positions of
 *   every user set the pool owns (the state machine raises their epochs
 *   and records the positions, fsm.h) and the reason "local takeover:
 *   writer W silent N ms". Not while a failover of the pool is under way
 *   (ops->moving); the failover module holds off the other way round
 *   (writer_takeover_facts());
 * - never otherwise: while the pool owns its user set with no synchronous
 *   standby alive, making a standby the writer could lose writes; the
 *   writer's death is then a failover to the pair.
 *
 * A refused decision is logged once (again only when the refusal
 * changes) and not tried again for WRITER_RETRY_MS.
 *
 * The operator moves a writer with POST /v1/pools/{pool}/writer, and the
 * writer of a pool names its synchronous standby with POST
 * /v1/internal/pool-sync: both answered here at the leader
 * (writer_api.c, docs/api.md).
 *
 * The module holds no handle: the members module's leader tick calls
 * writer_tick(). Loop thread only. */
#ifndef POOLPAIR_WRITER_H
#define POOLPAIR_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/clock.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/cmd.h"
#include "consensus/fsm.h"

#define WRITER_RETRY_MS 5000 /* after a refused or failed decision */

/* What the module reads of the leader's records of the other agents
 * (members.h) and of its own authority. Bound in agent_bind_data.c; a unit
 * test fakes it. Every op: loop thread only, answers at once. */
struct writer_members_ops {
	/* Milliseconds this leader has not heard member id: since its last
	 * heartbeat or report when one came during this leadership, else
	 * since this agent leads; 0 for this agent itself; UINT64_MAX when
	 * this agent does not lead. */
	uint64_t (*silent_ms)(void *impl, uint64_t id);
	/* The head (highest sequence written) of pool's own user set on its
	 * data lane, as member id last reported it (this agent: live): true
	 * with *head set, false when it reported no stream of it (a standby
	 * runs none). */
	bool (*head)(void *impl, uint64_t id, const char *pool, uint64_t *head);
	/* Whether this agent leads, is established (its lease proved) and
	 * may decide from its applied state. */
	bool (*may_decide)(void *impl);
	/* Where member id's copy of user_set stands on lane (0 data, 1
	 * content), as it last reported it (this agent: live): true with
	 * *seq set (0: an empty copy), false when it reported none. */
	bool (*position)(void *impl, uint64_t id, const char *user_set,
			 int lane, uint64_t *seq);
	/* Whether a move of pool to its pair (failover.h) is under way on
	 * this leader. */
	bool (*moving)(void *impl, const char *pool);
};

struct writer_members {
	const struct writer_members_ops *ops; /* static */
	void *impl;			      /* borrowed */
};

/* Every pointer borrowed, valid until the module is closed and its last
 * proposal has ended (they end with the node). */
struct writer_deps {
	const struct fsm *fsm;		 /* the applied state, read only */
	const struct proposer *proposer; /* decisions go through it */
	const struct clock *clock;
	struct writer_members members;
	uint32_t lease_ms; /* alive: heard within the lease */
	uint32_t grace_ms; /* down: silent for lease + grace */
	/* Who asked, for the command of an API call (caller_who(),
	 * caller.h); may be NULL when no route is served (tests). */
	void (*who)(const struct http_request *req, char *out, size_t len);
};

enum writer_step {
	WRITER_IDLE,	  /* nothing in flight for this pool */
	WRITER_PROPOSING, /* a pool_writer decision is being committed */
	WRITER_TAKEOVER,  /* ... which is a local takeover */
};

struct writer;

struct writer_pool {
	char pool[FSM_NAME_LEN];
	int step;		      /* enum writer_step */
	uint64_t member_id;	      /* proposed (or last proposed) */
	uint64_t retry_after_ms;      /* wall: no new decision before */
	char refusal[FSM_REASON_LEN]; /* the last refusal logged, "" none */
	struct writer *owner;	      /* back pointer for the callback */
};

struct writer {
	struct writer_deps d; /* copied */
	struct writer_pool pools[FSM_MAX_POOLS];
	unsigned n_pools;
	uint64_t decided; /* decisions committed (accepted) */
	uint64_t refused; /* decisions refused or failed */
	bool closing;
	struct tls_quiet quiet; /* pool-syncs refused (caller.h) */
};

/* Prepare w from deps (copied). Never fails. */
void writer_init(struct writer *w, const struct writer_deps *deps);

/* Leader, every tick: for each pool without a decision in flight, decide
 * its writer as described at the top when needed (nothing when this
 * agent may not decide). */
void writer_tick(struct writer *w);

/* The writer w would choose for pool p now, excluding member `except` (0:
 * none): an alive agent of p (silent at most lease_ms), the highest
 * reported head of p's user set first, then the lowest id. 0 when none;
 * why (len bytes) says how it was chosen ("head 42", "lowest id"). */
uint64_t writer_choose(const struct writer *w, const struct fsm_pool *p,
		       uint64_t except, char *why, size_t len);

/* What the failover module needs to hold off a failover of pool p for a
 * local takeover (failover_auto.h): all zero when p has no synchronous
 * standby. Names borrowed from the applied state (valid until the next
 * apply). */
struct writer_takeover_facts {
	uint64_t standby;	  /* p's synchronous standby, 0 none */
	const char *standby_name; /* "" none */
	uint64_t silent_ms;	  /* since the leader heard it (silent_ms) */
	bool positions;		  /* it reported a position of every user set
				     p owns (a takeover can be proposed) */
	bool inflight;		  /* a local takeover of p is being committed */
};
void writer_takeover_facts(const struct writer *w, const struct fsm_pool *p,
			   struct writer_takeover_facts *out);

/* The positions of member id's copy of every user set p owns
 * (fsm_pool_owned_sets()), as reported: 0 with seqs[0..*n) filled (the
 * user set names borrowed from the applied state), or -ENOENT when one
 * is not reported, why (len bytes) saying which. */
int writer_positions(const struct writer *w, const struct fsm_pool *p,
		     uint64_t id,
		     struct cmd_writer_seq seqs[FSM_MAX_OWNED_SETS], size_t *n,
		     char *why, size_t len);

/* Handlers of the route table (routes.c, route.h), leader only; module is
 * the struct writer (writer_api.c, docs/api.md):
 *   POST /v1/internal/pool-sync {pool, writer_token, standby, reason}
 *     (agents): proposes pool_sync; 200 {"pool", "sync_standby"} once
 *     committed, 409 {"error": "stale"|"refused", "message",
 *     "sync_standby"} when the state machine refused it (sync_standby:
 *     the value it holds), 503 when the outcome is not known;
 *   POST /v1/pools/{pool}/writer {"member": NAME} (operators): checks
 *     the change (fsm_pool_writer_check(): 409 refused "NAME is not
 *     caught up: ..."), then proposes pool_writer over the current token
 *     with NAME's reported positions and the reason "operator: ...";
 *     200 {"pool", "writer", "token", "decision"} once committed. */
void writer_route_pool_sync(void *module, struct http_request *req,
			    const struct route_params *p);
void writer_route_pool_writer(void *module, struct http_request *req,
			      const struct route_params *p);

/* Shutting down: proposals still in flight find w closing and do nothing
 * more. Idempotent. */
void writer_close(struct writer *w);

#endif
