/* members_eto: the Raft election timeout this agent runs with, scaled to
 * the measured round trip of its Raft peers (consensus/election_timeout.h
 * has the rule). A follower takes its own heartbeats' round trip to the
 * leader; the leader, whose contact with a majority is what Raft checks
 * against the timeout, the largest its voters report in their heartbeats
 * ("rtt"), from reports no older than the reachable window. */
#include <inttypes.h>

#include "agent/log.h"
#include "agent/members.h"
#include "agent/members_internal.h"
#include "consensus/election_timeout.h"

#define MOD "members"

/* The round trip of the leader's voters: the one that asks for the
 * longest timeout. */
static void voters_rtt(struct members *m, uint64_t *srtt_us,
		       uint64_t *rttvar_us)
{
	const struct raft_configuration *c =
	    m->d.raft->ops->configuration(m->d.raft->impl);
	uint64_t now = members_now_ns(m);
	uint64_t window = members_reachable_window_ns(m);
	unsigned best = 0;

	*srtt_us = 0;
	*rttvar_us = 0;
	for (unsigned i = 0; i < c->n; i++) {
		const struct members_seen *s;
		unsigned want;

		if (c->servers[i].role != RAFT_VOTER ||
		    c->servers[i].id == m->d.cfg.self.id)
			continue;
		s = members_seen_get(m, c->servers[i].id);
		if (s == NULL || s->rtt_ns == 0 || now - s->rtt_ns > window)
			continue;
		want = election_timeout_wanted(s->srtt_us, s->rttvar_us);
		if (want > best) {
			best = want;
			*srtt_us = s->srtt_us;
			*rttvar_us = s->rttvar_us;
		}
	}
}

void members_eto_tick(struct members *m)
{
	unsigned configured = m->d.cfg.election_timeout_ms;
	uint64_t srtt_us, rttvar_us;
	unsigned next;

	if (m->d.raft->ops->set_election_timeout == NULL || configured == 0)
		return;
	if (proposer_is_leader(m->d.proposer)) {
		voters_rtt(m, &srtt_us, &rttvar_us);
	} else {
		srtt_us = m->hb_srtt_ns / 1000;
		rttvar_us = m->hb_rttvar_ns / 1000;
	}
	next = election_timeout_next(configured, m->eto_ms, srtt_us, rttvar_us);
	if (next == m->eto_ms)
		return;
	/* the rises and the return to the configured value, not each step */
	if (next > m->eto_ms + m->eto_ms / 4 || next == configured)
		LOG_INFO(MOD,
			 "election timeout %u ms (configured %u; round trip "
			 "%" PRIu64 " us, variation %" PRIu64 " us)",
			 next, configured, srtt_us, rttvar_us);
	m->eto_ms = next;
	m->d.raft->ops->set_election_timeout(m->d.raft->impl, next);
}
