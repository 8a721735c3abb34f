/* proposer: what an agent module needs from Raft, as a table of
 * operations: propose an encoded command and hear the state machine's
 * answer, wait for a barrier, and the node's view of the leadership and
 * of the log. proposer_node() makes one over this agent's struct node; a
 * unit test fills the table with a fake. A module holds a borrowed
 * `const struct proposer *` and never includes consensus/node.h.
 *
 * Every operation and callback: loop thread only. The views (is_leader,
 * leader, term, indexes) are hints: a deposed leader may believe it leads
 * for up to an election timeout; never fence on them.
 *
 * Errors: the node's codes, passed through unchanged (consensus/node.h,
 * -5601..-5799):
 * the PROPOSER_E_* below are the ones a module acts on (equal to the
 * node's, checked at build time); others (a raft error, -ENOMEM) are
 * described by proposer_strerror(). */
#ifndef POOLPAIR_PROPOSER_H
#define POOLPAIR_PROPOSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/cmd.h"
#include "consensus/fsm.h"

struct node;

enum {
	PROPOSER_E_NOT_LEADER = -5601, /* this agent does not lead */
	PROPOSER_E_UNKNOWN = -5602,    /* leadership lost while deciding: the
					  command may or may not commit */
	PROPOSER_E_CLOSING = -5603,    /* shutting down */
	PROPOSER_E_BUSY = -5604,       /* a configuration change is in flight */
};

/* Once per accepted submit: status 0 and the state machine's answer (res
 * borrowed for the call only), or a negative code and res NULL. */
typedef void (*proposer_cb)(void *arg, int status,
			    const struct fsm_result *res);

/* Once per accepted barrier: 0 once everything committed before it is
 * applied here, or a negative code. */
typedef void (*proposer_done_cb)(void *arg, int status);

struct proposer_ops {
	/* Propose *cmd; its buffer is taken in every case (*cmd is emptied).
	 * Leader only. 0: cb fires exactly once, later; negative: cb never
	 * fires. */
	int (*submit)(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		      void *arg);
	/* Leader only; as submit. */
	int (*barrier)(void *impl, proposer_done_cb cb, void *arg);
	bool (*is_leader)(void *impl);
	/* Raft id of the leader (0: none known) and, in *api when non-NULL,
	 * the API address it registered ("" when it has not; borrowed, valid
	 * until the next apply). */
	uint64_t (*leader)(void *impl, const char **api);
	uint64_t (*term)(void *impl);
	uint64_t (*commit_index)(void *impl);
	uint64_t (*applied_index)(void *impl);
	/* Writes the message of a code submit, barrier or their callbacks
	 * gave into buf (len bytes, NUL-terminated when len > 0). */
	void (*strerror)(void *impl, int rv, char *buf, size_t len);
};

struct proposer {
	const struct proposer_ops *ops; /* static */
	void *impl;			/* borrowed */
};

/* A proposer over n (borrowed: must outlive p; node_init()ed). Proposals
 * go through node_apply(); the leader's API address is the one its member
 * registered in n's state machine. */
void proposer_node(struct proposer *p, struct node *n);

static inline int proposer_submit(const struct proposer *p, struct cmd_buf *cmd,
				  proposer_cb cb, void *arg)
{
	return p->ops->submit(p->impl, cmd, cb, arg);
}

static inline int proposer_barrier(const struct proposer *p,
				   proposer_done_cb cb, void *arg)
{
	return p->ops->barrier(p->impl, cb, arg);
}

static inline bool proposer_is_leader(const struct proposer *p)
{
	return p->ops->is_leader(p->impl);
}

static inline uint64_t proposer_leader(const struct proposer *p,
				       const char **api)
{
	return p->ops->leader(p->impl, api);
}

static inline uint64_t proposer_term(const struct proposer *p)
{
	return p->ops->term(p->impl);
}

static inline uint64_t proposer_commit_index(const struct proposer *p)
{
	return p->ops->commit_index(p->impl);
}

static inline uint64_t proposer_applied_index(const struct proposer *p)
{
	return p->ops->applied_index(p->impl);
}

/* The message of rv in buf (len > 0 bytes); returns buf. */
static inline const char *proposer_strerror(const struct proposer *p, int rv,
					    char *buf, size_t len)
{
	p->ops->strerror(p->impl, rv, buf, len);
	return buf;
}

#endif
