/* lease: lease and view bookkeeping, and the leader's echoes (see
 * lease.h). */
#include "agent/lease.h"

#include <stddef.h>

#define MS 1000000ULL /* ns per ms */

const char *lease_source_name(int source)
{
	switch (source) {
	case LEASE_GRANT:
		return "grant";
	case LEASE_BARRIER:
		return "barrier";
	case LEASE_ECHOES:
		return "echoes";
	default:
		return "none";
	}
}

void lease_answer(struct lease *l, uint64_t now_ns, uint64_t sent_ns,
		  uint64_t leader, uint64_t commit_index, uint64_t lease_ms,
		  uint64_t drift_ms)
{
	bool held = now_ns < l->until_ns;

	if (!held && l->view_ok) {
		/* the lease lapsed: decisions may have been taken meanwhile */
		l->view_ok = false;
		l->target = 0;
	}
	/* Until a lease is held, the target follows the newest commit index
	 * named; the answer that grants the lease fixes it. */
	if (!held && !l->view_ok && commit_index > l->target)
		l->target = commit_index;
	if (lease_ms > drift_ms) {
		uint64_t until = sent_ns + (lease_ms - drift_ms) * MS;

		if (until > l->until_ns) {
			l->until_ns = until;
			l->source = LEASE_GRANT;
		}
		l->granted_by = leader;
	}
}

void lease_prove(struct lease *l, uint64_t now_ns, uint64_t self, int source,
		 uint64_t proved_ns, uint64_t lease_ms, uint64_t drift_ms)
{
	uint64_t until;

	if (lease_ms <= drift_ms)
		return;
	until = proved_ns + (lease_ms - drift_ms) * MS;
	if (!lease_valid(l, now_ns)) {
		l->view_ok = false;
		l->target = 0;
	}
	if (until > l->until_ns) {
		l->until_ns = until;
		l->source = source;
	}
	l->granted_by = self;
}

bool lease_valid(const struct lease *l, uint64_t now_ns)
{
	return now_ns < l->until_ns;
}

uint64_t lease_left_ms(const struct lease *l, uint64_t now_ns)
{
	return l->until_ns > now_ns ? (l->until_ns - now_ns) / MS : 0;
}

bool lease_view_current(struct lease *l, uint64_t now_ns, uint64_t applied,
			bool leader, uint64_t commit_index)
{
	if (!lease_valid(l, now_ns))
		return false;
	if (l->view_ok)
		return true;
	if (leader)
		l->view_ok = applied >= commit_index;
	else
		l->view_ok = l->target != 0 && applied >= l->target;
	return l->view_ok;
}

/* ---- echoes ---- */

void lease_echoes_term(struct lease_echoes *e, uint64_t term)
{
	if (e->term == term)
		return;
	e->term = term;
	e->n = 0;
}

/* The index of member id's echo, or -1. */
static int echo_find(const struct lease_echoes *e, uint64_t id)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->echo[i].id == id)
			return (int)i;
	return -1;
}

bool lease_echo(struct lease_echoes *e, uint64_t self, uint64_t term,
		uint64_t now_ns, uint64_t from, uint64_t echo_term,
		uint64_t echo_leader, uint64_t time_ns)
{
	int i;

	lease_echoes_term(e, term);
	if (term == 0 || echo_term != term || echo_leader != self ||
	    time_ns == 0 || time_ns > now_ns || from == self)
		return false;
	i = echo_find(e, from);
	if (i < 0) {
		if (e->n == LEASE_ECHOES_MAX)
			return false;
		i = (int)e->n++;
		e->echo[i].id = from;
		e->echo[i].time_ns = 0;
	}
	if (time_ns <= e->echo[i].time_ns)
		return false;
	e->echo[i].time_ns = time_ns;
	return true;
}

uint64_t lease_echoes_proof(const struct lease_echoes *e, uint64_t self,
			    uint64_t term, const uint64_t *voters,
			    unsigned n_voters, uint64_t now_ns)
{
	uint64_t t[LEASE_ECHOES_MAX];
	unsigned n = 0, majority = n_voters / 2 + 1;

	if (term == 0 || e->term != term || n_voters == 0 ||
	    n_voters > LEASE_ECHOES_MAX)
		return 0;
	for (unsigned i = 0; i < n_voters; i++) {
		int x = echo_find(e, voters[i]);
		uint64_t v;
		unsigned k;

		if (voters[i] == self)
			v = now_ns;
		else if (x >= 0)
			v = e->echo[x].time_ns;
		else
			continue;
		/* newest first */
		for (k = n; k > 0 && t[k - 1] < v; k--)
			t[k] = t[k - 1];
		t[k] = v;
		n++;
	}
	return n >= majority ? t[majority - 1] : 0;
}

/* ---- the regime bound ---- */

void lease_contacts_init(struct lease_contacts *c, uint64_t start_ns)
{
	*c = (struct lease_contacts){.start_ns = start_ns};
}

void lease_contact(struct lease_contacts *c, uint64_t term, uint64_t now_ns)
{
	unsigned i, low = 0;

	for (i = 0; i < c->n; i++)
		if (c->last[i].term == term) {
			if (now_ns > c->last[i].ns)
				c->last[i].ns = now_ns;
			return;
		}
	if (c->n < LEASE_CONTACT_TERMS) {
		i = c->n++;
	} else {
		/* drop the lowest term; its contact stays in older_ns, which
		 * counts as earlier than any term: late, never early */
		for (i = 1; i < c->n; i++)
			if (c->last[i].term < c->last[low].term)
				low = i;
		if (c->last[low].ns > c->older_ns)
			c->older_ns = c->last[low].ns;
		i = low;
	}
	c->last[i].term = term;
	c->last[i].ns = now_ns;
}

uint64_t lease_contact_before(const struct lease_contacts *c, uint64_t term)
{
	uint64_t b = c->start_ns > c->older_ns ? c->start_ns : c->older_ns;

	for (unsigned i = 0; i < c->n; i++)
		if (c->last[i].term < term && c->last[i].ns > b)
			b = c->last[i].ns;
	return b;
}

void lease_regime_term(struct lease_regime *g, uint64_t term)
{
	if (g->term == term)
		return;
	g->term = term;
	g->n = 0;
}

bool lease_regime_report(struct lease_regime *g, uint64_t self, uint64_t term,
			 uint64_t now_ns, uint64_t from, uint64_t report_term,
			 uint64_t age_ms)
{
	uint64_t b;
	unsigned i;

	lease_regime_term(g, term);
	if (term == 0 || report_term != term || from == self || from == 0)
		return false;
	b = age_ms < now_ns / MS ? now_ns - age_ms * MS : 0;
	for (i = 0; i < g->n; i++)
		if (g->r[i].id == from)
			break;
	if (i == g->n) {
		if (g->n == LEASE_ECHOES_MAX)
			return false;
		g->n++;
		g->r[i] = (struct lease_bound){.id = from, .bound_ns = b};
		return true;
	}
	if (b < g->r[i].bound_ns)
		g->r[i].bound_ns = b;
	return true;
}

uint64_t lease_regime_since(const struct lease_regime *g, uint64_t self,
			    uint64_t term, const uint64_t *voters,
			    unsigned n_voters, uint64_t self_bound_ns,
			    uint64_t stable_since_ns, uint64_t leader_since_ns)
{
	uint64_t b = self_bound_ns;
	unsigned missing = 0;
	bool self_voter = false;

	if (leader_since_ns == 0 || term == 0 || g->term != term ||
	    n_voters < 3 || n_voters > LEASE_ECHOES_MAX ||
	    stable_since_ns == 0)
		return leader_since_ns;
	for (unsigned i = 0; i < n_voters; i++) {
		unsigned k;

		if (voters[i] == self) {
			self_voter = true;
			continue;
		}
		for (k = 0; k < g->n && g->r[k].id != voters[i]; k++)
			;
		if (k == g->n)
			missing++;
		else if (g->r[k].bound_ns > b)
			b = g->r[k].bound_ns;
	}
	if (!self_voter || missing > 1 || stable_since_ns > b)
		return leader_since_ns;
	return b < leader_since_ns ? b : leader_since_ns;
}
