/* members_lease: the lease side of members (see members.h): whether this
 * agent holds a lease, the leases the leader grants, and the leader's own
 * lease, proved by its committed barriers and by the echoes of its
 * heartbeat answers (lease.h). Loop thread only. */
#include <inttypes.h>

#include "agent/agent.h"
#include "agent/log.h"
#include "agent/members.h"
#include "agent/members_internal.h"

#define MOD "members"
#define MS 1000000ULL /* ns per ms */

bool members_lease_valid(const struct members *m)
{
#ifdef POOLPAIR_UNSAFE_NO_FENCING
	/*
	 * DANGER: BROKEN ON PURPOSE. This build (meson
	 * -Dunsafe_no_fencing=true) reports the lease valid always, so an owner
	 * that is cut off from the leader or was paused past its lease keeps
	 * accepting writes while its pair takes over: two owners at once, the
	 * exact failure the lease exists to prevent. It exists only to prove
	 * that the fault-injection harness (jepsen/) catches a broken fence.
	 * Never build it for any other purpose, never deploy it.
	 */
	(void)m;
	return true;
#else
	return lease_valid(&m->lease, uv_hrtime());
#endif
}

unsigned members_lease_grant(struct members *m)
{
	uint64_t now = uv_hrtime();
	uint64_t left_ms;

	if (!node_is_leader(&m->agent->node) || !members_lease_valid(m))
		return 0;
	/* Never beyond the leader's own lease: a deposed leader's grants
	 * then all end when its own lease does, which a new leader's wait of
	 * lease + grace covers. */
	left_ms = lease_left_ms(&m->lease, now);
	if (left_ms == 0)
		return 0;
	m->leases_granted++;
	return left_ms < m->agent->cfg.lease_ms ? (unsigned)left_ms
						: m->agent->cfg.lease_ms;
}

bool members_view_current(struct members *m)
{
	struct node *n = &m->agent->node;
	uint64_t applied = node_applied_index(n);

#ifdef POOLPAIR_UNSAFE_NO_FENCING
	/* BROKEN ON PURPOSE, like members_lease_valid(): no fence at all */
	(void)applied;
	(void)n;
	return true;
#endif
	return lease_view_current(&m->lease, uv_hrtime(), applied,
				  node_is_leader(n), node_commit_index(n));
}

/* ---- the leader's own lease ---- */

/* The leader's lease from what source proved at proved_ns. */
static void prove(struct members *m, int source, uint64_t proved_ns,
		  uint64_t now)
{
	const struct config *c = &m->agent->cfg;
	uint64_t *newest = source == LEASE_BARRIER ? &m->barrier_proved_ns
						   : &m->echoes_proved_ns;

	if (proved_ns > *newest)
		*newest = proved_ns;
	lease_prove(&m->lease, now, c->agent_id, source, proved_ns, c->lease_ms,
		    c->drift_margin_ms);
}

/* A barrier that took longer than the lease runs (less the margin) would
 * have let the lease lapse on its own: say so, and what the echoes
 * proved meanwhile. */
static void slow_barrier(struct members *m, uint64_t now)
{
	const struct config *c = &m->agent->cfg;
	uint64_t took_ms = (uint64_t)(m->barrier_took_ns / MS);

	if (took_ms + c->drift_margin_ms < c->lease_ms)
		return;
	if (m->echoes_proved_ns != 0 && m->echoes_proved_ns <= now)
		LOG_WARN(MOD,
			 "raft barrier took %" PRIu64 " ms (lease %u ms): "
			 "the lease rests on the heartbeats' echoes (newest "
			 "proof %" PRIu64 " ms old)",
			 took_ms, c->lease_ms,
			 (uint64_t)((now - m->echoes_proved_ns) / MS));
	else
		LOG_WARN(MOD,
			 "raft barrier took %" PRIu64 " ms (lease %u ms) and "
			 "no echoes prove the lease",
			 took_ms, c->lease_ms);
}

static void barrier_done(void *arg, int status)
{
	struct members *m = arg;
	uint64_t now = uv_hrtime();

	m->barrier_inflight = false;
	if (m->closing || status != 0)
		return;
	m->barrier_took_ns = now - m->barrier_start_ns;
	prove(m, LEASE_BARRIER, m->barrier_start_ns, now);
	slow_barrier(m, now);
}

/* A committed barrier proves this leader still has a majority at its
 * start: the leader's own lease runs from there. */
static void self_lease(struct members *m)
{
	if (m->barrier_inflight)
		return;
	m->barrier_start_ns = uv_hrtime();
	if (node_barrier(&m->agent->node, barrier_done, m) == 0)
		m->barrier_inflight = true;
}

/* What the echoes of the voters of the current configuration prove. */
static void echoes_prove(struct members *m, uint64_t now)
{
	struct node *n = &m->agent->node;
	const struct raft_configuration *c = node_configuration(n);
	uint64_t voters[LEASE_ECHOES_MAX];
	unsigned nv = 0;
	uint64_t b;

	for (unsigned i = 0; i < c->n; i++) {
		if (c->servers[i].role != RAFT_VOTER)
			continue;
		if (nv == LEASE_ECHOES_MAX)
			return; /* never a majority of part of the voters */
		voters[nv++] = c->servers[i].id;
	}
	b = lease_echoes_proof(&m->echoes, m->agent->cfg.agent_id, node_term(n),
			       voters, nv, now);
	if (b != 0)
		prove(m, LEASE_ECHOES, b, now);
}

uint64_t members_clock_ms(void) { return uv_hrtime() / MS; }

void members_echo_seen(struct members *m, uint64_t from,
		       const struct members_echo *echo)
{
	struct node *n = &m->agent->node;
	uint64_t now = uv_hrtime();

	/* a time this clock has not reached (and no overflow below) */
	if (m->closing || !node_is_leader(n) || echo->clock_ms > now / MS)
		return;
	if (lease_echo(&m->echoes, m->agent->cfg.agent_id, node_term(n), now,
		       from, echo->term, echo->leader, echo->clock_ms * MS))
		echoes_prove(m, now);
}

void members_lease_tick(struct members *m, bool leader)
{
	struct node *n = &m->agent->node;

	if (!leader) {
		lease_echoes_term(&m->echoes, 0);
		m->barrier_proved_ns = m->echoes_proved_ns = 0;
		m->barrier_took_ns = 0;
		return;
	}
	lease_echoes_term(&m->echoes, node_term(n));
	self_lease(m);
	echoes_prove(m, uv_hrtime());
}
