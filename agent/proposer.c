/* proposer: the proposer over this agent's Raft node (see proposer.h). */
#include "agent/proposer.h"

#include <stdio.h>

#include "consensus/node.h"

_Static_assert((int)PROPOSER_E_NOT_LEADER == (int)NODE_E_NOT_LEADER,
	       "proposer and node codes agree");
_Static_assert((int)PROPOSER_E_UNKNOWN == (int)NODE_E_UNKNOWN,
	       "proposer and node codes agree");
_Static_assert((int)PROPOSER_E_CLOSING == (int)NODE_E_CLOSING,
	       "proposer and node codes agree");
_Static_assert((int)PROPOSER_E_BUSY == (int)NODE_E_BUSY,
	       "proposer and node codes agree");

static int node_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	void *buf = cmd->buf;
	size_t len = cmd->len;

	cmd->buf = NULL;
	cmd->len = 0;
	return node_apply(impl, buf, len, cb, arg);
}

static int node_barrier_op(void *impl, proposer_done_cb cb, void *arg)
{
	return node_barrier(impl, cb, arg);
}

static bool node_is_leader_op(void *impl) { return node_is_leader(impl); }

static uint64_t node_leader_op(void *impl, const char **api)
{
	struct node *n = impl;
	uint64_t id = node_leader(n, NULL);
	const struct fsm_member *m;

	if (api != NULL) {
		m = id != 0 ? fsm_member_find(n->fsm, id) : NULL;
		*api = m != NULL ? m->api_address : "";
	}
	return id;
}

static uint64_t node_term_op(void *impl) { return node_term(impl); }

static uint64_t node_commit_op(void *impl) { return node_commit_index(impl); }

static uint64_t node_applied_op(void *impl) { return node_applied_index(impl); }

/* "consensus: MESSAGE (the node's last error)" */
static void node_strerror_op(void *impl, int rv, char *buf, size_t len)
{
	struct node *n = impl;

	if (len > 0)
		snprintf(buf, len, "consensus: %s (%s)", node_strerror(rv),
			 n->errmsg);
}

static const struct proposer_ops node_ops = {
    .submit = node_submit,
    .barrier = node_barrier_op,
    .is_leader = node_is_leader_op,
    .leader = node_leader_op,
    .term = node_term_op,
    .commit_index = node_commit_op,
    .applied_index = node_applied_op,
    .strerror = node_strerror_op,
};

void proposer_node(struct proposer *p, struct node *n)
{
	p->ops = &node_ops;
	p->impl = n;
}
