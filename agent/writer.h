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
 * - never otherwise: while the pool owns its user set (normal, failing
 *   over, failing back) a standby has no copy, and making it the writer
 *   would lose data; the writer's death is then a failover to the pair.
 *
 * A refused decision is logged once (again only when the refusal
 * changes) and not tried again for WRITER_RETRY_MS.
 *
 * The module holds no handle: the members module's leader tick calls
 * writer_tick(). Loop thread only. */
#ifndef POOLPAIR_WRITER_H
#define POOLPAIR_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/clock.h"
#include "agent/proposer.h"
#include "consensus/fsm.h"

#define WRITER_RETRY_MS 5000 /* after a refused or failed decision */

/* What the module reads of the leader's records of the other agents
 * (members.h) and of its own authority. Bound in agent_bind.c; a unit
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
};

enum writer_step {
	WRITER_IDLE,	  /* nothing in flight for this pool */
	WRITER_PROPOSING, /* a pool_writer decision is being committed */
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

/* Shutting down: proposals still in flight find w closing and do nothing
 * more. Idempotent. */
void writer_close(struct writer *w);

#endif
