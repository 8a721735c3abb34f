/* members_regime: the regime bound (lease.h) in the members module: the
 * contacts this agent had with the leaders of each term, the report of
 * them it adds to its heartbeats, the reports the leader keeps, whether
 * the voter set is stable, and members_regime_since_ns(), from when every
 * fence of the leader counts a silence. Loop thread only. */
#include <string.h>

#include "agent/members.h"
#include "agent/members_internal.h"

#define MS MEMBERS_MS

/* The voters of the current configuration into out (LEASE_ECHOES_MAX);
 * LEASE_ECHOES_MAX + 1 when there are more. */
static unsigned voters(struct members *m, uint64_t *out)
{
	const struct raft_configuration *c =
	    m->d.raft->ops->configuration(m->d.raft->impl);
	unsigned n = 0;

	for (unsigned i = 0; c != NULL && i < c->n; i++) {
		if (c->servers[i].role != RAFT_VOTER)
			continue;
		if (n == LEASE_ECHOES_MAX)
			return LEASE_ECHOES_MAX + 1;
		out[n++] = c->servers[i].id;
	}
	return n;
}

/* Since when the voter set is unchanged with no change in flight. */
static void conf_look(struct members *m, uint64_t now)
{
	const struct members_raft_ops *ops = m->d.raft->ops;
	uint64_t v[LEASE_ECHOES_MAX], mark[2] = {0, 0};
	unsigned n = voters(m, v);
	bool same;

	if (ops->configuration_mark == NULL) {
		m->conf_stable_ns = 0;
		return;
	}
	ops->configuration_mark(m->d.raft->impl, &mark[0], &mark[1]);
	same = n == m->conf_n && mark[0] == m->conf_mark[0] &&
	       mark[1] == m->conf_mark[1] &&
	       (n > LEASE_ECHOES_MAX ||
		memcmp(v, m->conf_voters, n * sizeof v[0]) == 0);
	if (!same) {
		m->conf_n = n;
		if (n <= LEASE_ECHOES_MAX)
			memcpy(m->conf_voters, v, n * sizeof v[0]);
		m->conf_mark[0] = mark[0];
		m->conf_mark[1] = mark[1];
		m->conf_stable_ns = 0;
	}
	if (ops->changing(m->d.raft->impl) || n > LEASE_ECHOES_MAX)
		m->conf_stable_ns = 0;
	else if (m->conf_stable_ns == 0)
		m->conf_stable_ns = now;
}

void members_regime_tick(struct members *m, bool leader)
{
	uint64_t now = members_now_ns(m);
	uint64_t term = proposer_term(m->d.proposer);

	/* a leader takes its proofs at its ticks (members_lease.c): it is in
	 * contact with itself */
	if (leader)
		lease_contact(&m->contacts, term, now);
	lease_regime_term(&m->regime, leader ? term : 0);
	conf_look(m, now);
}

void members_raft_contact(struct members *m, uint64_t term)
{
	if (members_closing(m))
		return;
	lease_contact(&m->contacts, term, members_now_ns(m));
}

void members_regime_answer(struct members *m, uint64_t term)
{
	lease_contact(&m->contacts, term, members_now_ns(m));
}

int members_regime_add(struct members *m, json_t *body)
{
	const struct proposer *p = m->d.proposer;
	const struct members_echo *e = &m->echo_next;
	uint64_t term = proposer_term(p);
	uint64_t now = members_now_ns(m);
	uint64_t b = lease_contact_before(&m->contacts, term);

	if (!e->regime || e->clock_ms == 0 || term != e->term ||
	    proposer_leader(p, NULL) != e->leader)
		return 0;
	return json_object_set_new(
	    body, "regime",
	    json_pack("{s:I, s:I}", "term", (json_int_t)term, "age_ms",
		      (json_int_t)(now > b ? (now - b) / MS : 0)));
}

void members_regime_seen(struct members *m, uint64_t from, uint64_t term,
			 uint64_t age_ms)
{
	const struct proposer *p = m->d.proposer;

	if (members_closing(m) || !proposer_is_leader(p))
		return;
	lease_regime_report(&m->regime, m->d.cfg.self.id, proposer_term(p),
			    members_now_ns(m), from, term, age_ms);
}

uint64_t members_regime_since_ns(struct members *m)
{
	const struct proposer *p = m->d.proposer;
	uint64_t v[LEASE_ECHOES_MAX], term, since;
	unsigned n;

	if (!proposer_is_leader(p) || m->leader_since_ns == 0)
		return 0;
	term = proposer_term(p);
	n = voters(m, v);
	if (n > LEASE_ECHOES_MAX)
		return m->leader_since_ns;
	since = lease_regime_since(&m->regime, m->d.cfg.self.id, term, v, n,
				   lease_contact_before(&m->contacts, term),
				   m->conf_stable_ns, m->leader_since_ns);
	return since != 0 ? since : 1;
}
