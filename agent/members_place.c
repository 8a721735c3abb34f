/* members_place: voter placement, driven by the leader one change at a
 * time (consensus/placement.h decides; this file gathers what it needs and
 * applies its answer), and struct members_raft over the node (see
 * members.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/log.h"
#include "agent/members.h"
#include "agent/members_internal.h"
#include "consensus/node.h"
#include "consensus/placement.h"

#define MOD "members"
#define MS MEMBERS_MS

/* How long a voter must be silent before the placement replaces it. */
static uint64_t replace_window_ns(const struct members *m)
{
	uint64_t ms = 10ULL * m->d.cfg.election_timeout_ms;

	if (ms < 10000)
		ms = 10000;
	return ms * MS;
}

static int to_placement_role(int raft_role)
{
	switch (raft_role) {
	case RAFT_VOTER:
		return PLACEMENT_VOTER;
	case RAFT_STANDBY:
		return PLACEMENT_STANDBY;
	default:
		return PLACEMENT_SPARE;
	}
}

static int to_raft_role(int role)
{
	switch (role) {
	case PLACEMENT_VOTER:
		return RAFT_VOTER;
	case PLACEMENT_STANDBY:
		return RAFT_STANDBY;
	default:
		return RAFT_SPARE;
	}
}

static void placement_done(void *arg, int status)
{
	struct members *m = arg;
	char buf[256];

	m->placing = false;
	if (status != 0)
		LOG_WARN(MOD, "placement change failed: %s",
			 proposer_strerror(m->d.proposer, status, buf,
					   sizeof buf));
}

void members_place_tick(struct members *m)
{
	const struct members_raft *r = m->d.raft;
	const struct raft_configuration *c = r->ops->configuration(r->impl);
	struct placement_member pm[PLACEMENT_MAX];
	struct placement_change ch;
	uint64_t last = r->ops->last_index(r->impl);
	unsigned n = 0;
	char buf[256];
	int rv;

	if (m->placing || r->ops->changing(r->impl) || c->n > PLACEMENT_MAX)
		return;
	/* judge nobody during the first window of a new leadership */
	if (members_now_ns(m) - m->leader_since_ns <
	    members_reachable_window_ns(m))
		return;
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		const struct fsm_member *fm = fsm_member_find(m->d.fsm, s->id);
		bool is_self = s->id == m->d.cfg.self.id;
		uint64_t match = 0;
		bool reach = !members_silent_for(
		    m, s->id,
		    s->role == RAFT_VOTER ? replace_window_ns(m)
					  : members_reachable_window_ns(m));

		memset(&pm[n], 0, sizeof pm[n]);
		pm[n].id = s->id;
		snprintf(pm[n].site, sizeof pm[n].site, "%s",
			 fm != NULL && fm->site[0] ? fm->site : "-");
		pm[n].role = to_placement_role(s->role);
		pm[n].reachable = reach;
		pm[n].is_leader = is_self;
		if (is_self)
			pm[n].caught_up = true;
		else if (fm == NULL)
			pm[n].caught_up = false; /* never promote the unknown */
		else if (s->role == RAFT_SPARE)
			pm[n].caught_up = reach; /* a spare gets no log */
		else
			pm[n].caught_up =
			    r->ops->match_index(r->impl, s->id, &match) == 0 &&
			    match + 64 >= last;
		n++;
	}
	rv = placement_next(pm, n, m->d.cfg.max_voters, &ch);
	if (rv <= 0) {
		if (rv < 0)
			LOG_DEBUG(MOD, "placement: %s", placement_strerror(rv));
		return;
	}
	LOG_INFO(MOD, "placement: member %" PRIu64 " becomes %s", ch.id,
		 placement_role_name(ch.role));
	m->placing = true;
	rv = r->ops->assign(r->impl, ch.id, to_raft_role(ch.role),
			    placement_done, m);
	if (rv != 0) {
		m->placing = false;
		LOG_WARN(MOD, "placement: assign %" PRIu64 ": %s", ch.id,
			 proposer_strerror(m->d.proposer, rv, buf, sizeof buf));
		return;
	}
	m->placement_changes++;
}

/* ---- struct members_raft over the node ---- */

static const struct raft_configuration *node_configuration_op(void *impl)
{
	return node_configuration(impl);
}

static bool node_changing_op(void *impl) { return node_changing(impl); }

static uint64_t node_last_index_op(void *impl) { return node_last_index(impl); }

static int node_match_index_op(void *impl, uint64_t id, uint64_t *index)
{
	return node_match_index(impl, id, index);
}

static int node_add_op(void *impl, uint64_t id, const char *address,
		       members_raft_cb cb, void *arg)
{
	return node_add(impl, id, address, cb, arg);
}

static int node_assign_op(void *impl, uint64_t id, int role,
			  members_raft_cb cb, void *arg)
{
	return node_assign(impl, id, role, cb, arg);
}

static int node_remove_op(void *impl, uint64_t id, members_raft_cb cb,
			  void *arg)
{
	return node_remove(impl, id, cb, arg);
}

static void node_configuration_mark_op(void *impl, uint64_t *committed,
				      uint64_t *uncommitted)
{
	node_configuration_mark(impl, committed, uncommitted);
}

static void node_set_election_timeout_op(void *impl, unsigned ms)
{
	node_set_election_timeout(impl, ms);
}

static const struct members_raft_ops node_raft_ops = {
    .configuration = node_configuration_op,
    .changing = node_changing_op,
    .last_index = node_last_index_op,
    .configuration_mark = node_configuration_mark_op,
    .match_index = node_match_index_op,
    .add = node_add_op,
    .assign = node_assign_op,
    .remove = node_remove_op,
    .set_election_timeout = node_set_election_timeout_op,
};

void members_raft_node(struct members_raft *r, struct node *n)
{
	r->ops = &node_raft_ops;
	r->impl = n;
}
