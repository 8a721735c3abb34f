/* members_lease: the lease side of members (see members.h): whether this
 * agent holds a lease, the leases the leader grants, and the leader's own
 * lease, proved by its committed barriers and by the echoes of its
 * heartbeat answers (lease.h); /readyz. Loop thread only. */
#include <inttypes.h>
#include <stdio.h>

#include "agent/http.h"
#include "agent/log.h"
#include "agent/members.h"
#include "agent/members_internal.h"

#define MOD "members"
#define MS MEMBERS_MS

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
	return lease_valid(&m->lease, members_now_ns(m));
#endif
}

unsigned members_lease_grant(struct members *m)
{
	uint64_t now = members_now_ns(m);
	uint64_t left_ms;

	if (!proposer_is_leader(m->d.proposer) || !members_lease_valid(m))
		return 0;
	/* Never beyond the leader's own lease: a deposed leader's grants
	 * then all end when its own lease does, which a new leader's wait of
	 * lease + grace covers. */
	left_ms = lease_left_ms(&m->lease, now);
	if (left_ms == 0)
		return 0;
	m->leases_granted++;
	return left_ms < m->d.cfg.lease_ms ? (unsigned)left_ms
					   : m->d.cfg.lease_ms;
}

bool members_view_current(struct members *m)
{
	const struct proposer *p = m->d.proposer;
	uint64_t applied = proposer_applied_index(p);

#ifdef POOLPAIR_UNSAFE_NO_FENCING
	/* BROKEN ON PURPOSE, like members_lease_valid(): no fence at all */
	(void)applied;
	(void)p;
	return true;
#endif
	return lease_view_current(&m->lease, members_now_ns(m), applied,
				  proposer_is_leader(p),
				  proposer_commit_index(p));
}

/* ---- the leader's own lease ---- */

/* The leader's lease from what source proved at proved_ns. */
static void prove(struct members *m, int source, uint64_t proved_ns,
		  uint64_t now)
{
	const struct members_config *c = &m->d.cfg;
	uint64_t *newest = source == LEASE_BARRIER ? &m->barrier_proved_ns
						   : &m->echoes_proved_ns;

	if (proved_ns > *newest)
		*newest = proved_ns;
	lease_prove(&m->lease, now, c->self.id, source, proved_ns, c->lease_ms,
		    c->drift_margin_ms);
}

/* A barrier that took longer than the lease runs (less the margin) would
 * have let the lease lapse on its own: say so, and what the echoes
 * proved meanwhile. */
static void slow_barrier(struct members *m, uint64_t now)
{
	const struct members_config *c = &m->d.cfg;
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
	uint64_t now = members_now_ns(m);

	m->barrier_inflight = false;
	if (members_closing(m) || status != 0)
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
	m->barrier_start_ns = members_now_ns(m);
	if (proposer_barrier(m->d.proposer, barrier_done, m) == 0)
		m->barrier_inflight = true;
}

/* What the echoes of the voters of the current configuration prove. */
static void echoes_prove(struct members *m, uint64_t now)
{
	const struct raft_configuration *c =
	    m->d.raft->ops->configuration(m->d.raft->impl);
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
	b = lease_echoes_proof(&m->echoes, m->d.cfg.self.id,
			       proposer_term(m->d.proposer), voters, nv, now);
	if (b != 0)
		prove(m, LEASE_ECHOES, b, now);
}

void members_echo_seen(struct members *m, uint64_t from,
		       const struct members_echo *echo)
{
	const struct proposer *p = m->d.proposer;
	uint64_t now = members_now_ns(m);

	/* a time this clock has not reached (and no overflow below) */
	if (members_closing(m) || !proposer_is_leader(p) ||
	    echo->clock_ms > now / MS)
		return;
	if (lease_echo(&m->echoes, m->d.cfg.self.id, proposer_term(p), now,
		       from, echo->term, echo->leader, echo->clock_ms * MS))
		echoes_prove(m, now);
}

void members_lease_tick(struct members *m, bool leader)
{
	if (!leader) {
		lease_echoes_term(&m->echoes, 0);
		m->barrier_proved_ns = m->echoes_proved_ns = 0;
		m->barrier_took_ns = 0;
		return;
	}
	lease_echoes_term(&m->echoes, proposer_term(m->d.proposer));
	self_lease(m);
	echoes_prove(m, members_now_ns(m));
}

/* ---- GET /readyz ---- */

void members_route_readyz(void *module, struct http_request *req,
			  const struct route_params *p)
{
	struct members *m = module;
	char pool[FSM_NAME_LEN], why[256];
	const struct fsm_pool *fp;

	(void)p;
	if (http_query_param(req, "pool", pool, sizeof pool) != 0)
		snprintf(pool, sizeof pool, "%s", m->d.cfg.self.pool);
	fp = fsm_pool_find(m->d.fsm, pool);
	if (fp == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	if (m->d.host->ops->may_write(m->d.host->impl, fp, why, sizeof why) ==
	    0)
		http_respond(req, 200, "text/plain", "ready\n", 6, NULL);
	else
		http_respond_error(req, 503, "not_ready", why);
}
