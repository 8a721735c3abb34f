/* placement: voter placement of the Raft group (see placement.h). */
#include "consensus/placement.h"

#include <string.h>

/* Seat preference groups, best first. */
enum rank_group {
	GROUP_LEADER = 0,
	GROUP_LIVE_VOTER,
	GROUP_LIVE_OTHER,
	GROUP_DEAD_VOTER,
	GROUP_NONE, /* not eligible for a seat */
};

/* The input, validated and sorted by id, with what the rules derive. */
struct plan {
	const struct placement_member *m[PLACEMENT_MAX]; /* borrowed, by id */
	unsigned src[PLACEMENT_MAX]; /* index in the caller's array */
	unsigned n;
	unsigned site[PLACEMENT_MAX]; /* site index of each member */
	unsigned n_sites;	      /* distinct sites among all members */
	bool live[PLACEMENT_MAX];
	bool eligible[PLACEMENT_MAX];
	int group[PLACEMENT_MAX]; /* enum rank_group */
	unsigned live_sites;	  /* sites with a live member */
	unsigned voters_now;
	unsigned live_voters_now;
	unsigned target_voters;	   /* V */
	int target[PLACEMENT_MAX]; /* target role of m[k] */
};

const char *placement_strerror(int err)
{
	switch (err) {
	case PLACEMENT_ERR_ARG:
		return "null argument";
	case PLACEMENT_ERR_TOO_MANY:
		return "too many members";
	case PLACEMENT_ERR_MAX_VOTERS:
		return "max_voters not in 1..5";
	case PLACEMENT_ERR_ID:
		return "member id 0";
	case PLACEMENT_ERR_DUPLICATE:
		return "duplicate member id";
	case PLACEMENT_ERR_ROLE:
		return "unknown role";
	case PLACEMENT_ERR_SITE:
		return "site name empty or not terminated";
	case PLACEMENT_ERR_NO_LEADER:
		return "no leader";
	case PLACEMENT_ERR_LEADERS:
		return "more than one leader";
	case PLACEMENT_ERR_LEADER_ROLE:
		return "leader is not a voter";
	default:
		return "unknown error";
	}
}

const char *placement_role_name(int role)
{
	switch (role) {
	case PLACEMENT_SPARE:
		return "spare";
	case PLACEMENT_STANDBY:
		return "standby";
	case PLACEMENT_VOTER:
		return "voter";
	default:
		return "unknown";
	}
}

static bool role_valid(int role)
{
	return role == PLACEMENT_SPARE || role == PLACEMENT_STANDBY ||
	       role == PLACEMENT_VOTER;
}

static bool healthy(const struct placement_member *p)
{
	return p->reachable && p->caught_up;
}

static unsigned odd_floor(unsigned x)
{
	return x % 2 == 0 && x > 0 ? x - 1 : x;
}

static unsigned majority(unsigned voters) { return voters / 2 + 1; }

/* Check the input and sort it by id into p. */
static int plan_load(struct plan *p, const struct placement_member *m,
		     unsigned n, unsigned max_voters)
{
	unsigned leaders = 0;

	if (m == NULL && n > 0)
		return PLACEMENT_ERR_ARG;
	if (n > PLACEMENT_MAX)
		return PLACEMENT_ERR_TOO_MANY;
	if (max_voters < 1 || max_voters > PLACEMENT_MAX_VOTERS)
		return PLACEMENT_ERR_MAX_VOTERS;

	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < n; i++) {
		const struct placement_member *x = &m[i];
		unsigned k;

		if (x->id == 0)
			return PLACEMENT_ERR_ID;
		if (!role_valid(x->role))
			return PLACEMENT_ERR_ROLE;
		if (x->site[0] == '\0' ||
		    memchr(x->site, '\0', sizeof(x->site)) == NULL)
			return PLACEMENT_ERR_SITE;
		if (x->is_leader) {
			leaders++;
			if (x->role != PLACEMENT_VOTER)
				return PLACEMENT_ERR_LEADER_ROLE;
		}
		/* Insertion by id. */
		for (k = p->n; k > 0 && p->m[k - 1]->id > x->id; k--) {
			p->m[k] = p->m[k - 1];
			p->src[k] = p->src[k - 1];
		}
		if (k > 0 && p->m[k - 1]->id == x->id)
			return PLACEMENT_ERR_DUPLICATE;
		p->m[k] = x;
		p->src[k] = i;
		p->n++;
	}
	if (leaders == 0)
		return PLACEMENT_ERR_NO_LEADER;
	if (leaders > 1)
		return PLACEMENT_ERR_LEADERS;
	return 0;
}

/* Liveness, eligibility, preference group and site of every member. Site
 * indexes follow the first member (by id) of each site, so they do not
 * depend on the input order. */
static void plan_classify(struct plan *p)
{
	unsigned first[PLACEMENT_MAX]; /* first member (by id) of each site */
	bool site_live[PLACEMENT_MAX] = {false};

	for (unsigned k = 0; k < p->n; k++) {
		const struct placement_member *x = p->m[k];
		bool voter = x->role == PLACEMENT_VOTER;
		unsigned s;

		for (s = 0; s < p->n_sites; s++)
			if (strcmp(p->m[first[s]]->site, x->site) == 0)
				break;
		if (s == p->n_sites)
			first[p->n_sites++] = k;
		p->site[k] = s;

		if (x->is_leader) {
			p->live[k] = true;
			p->group[k] = GROUP_LEADER;
		} else if (voter && x->reachable) {
			p->live[k] = true;
			p->group[k] = GROUP_LIVE_VOTER;
		} else if (!voter && healthy(x)) {
			p->live[k] = true;
			p->group[k] = GROUP_LIVE_OTHER;
		} else if (voter) {
			p->group[k] = GROUP_DEAD_VOTER;
		} else {
			p->group[k] = GROUP_NONE;
		}
		p->eligible[k] = p->group[k] != GROUP_NONE;
		p->target[k] = x->role;
		if (voter) {
			p->voters_now++;
			if (p->live[k])
				p->live_voters_now++;
		}
		if (p->live[k] && !site_live[s]) {
			site_live[s] = true;
			p->live_sites++;
		}
	}
}

/* Greedy seat assignment: walk the members in preference order (group,
 * then id) and seat each eligible one whose site still has room under
 * `cap_live` (groups up to GROUP_LIVE_OTHER) or `cap_dead` (dead voters),
 * until `want` seats are taken. Per-site caps form a partition matroid, so
 * the greedy walk seats as many as any choice could, preferring better
 * groups. Returns the number seated; seated[k] marks them. */
static unsigned seat(const struct plan *p, unsigned want, unsigned cap_live,
		     unsigned cap_dead, bool *seated)
{
	unsigned per_site[PLACEMENT_MAX] = {0};
	unsigned taken = 0;

	for (unsigned k = 0; k < p->n; k++)
		seated[k] = false;
	for (int g = GROUP_LEADER; g <= GROUP_DEAD_VOTER; g++) {
		unsigned cap = g == GROUP_DEAD_VOTER ? cap_dead : cap_live;

		for (unsigned k = 0; k < p->n && taken < want; k++) {
			if (p->group[k] != g || per_site[p->site[k]] >= cap)
				continue;
			seated[k] = true;
			per_site[p->site[k]]++;
			taken++;
		}
	}
	return taken;
}

/* Voters a site-capped choice can seat at most, counting members for
 * which count[k] is true. */
static unsigned capacity(const struct plan *p, const bool *count, unsigned cap)
{
	unsigned per_site[PLACEMENT_MAX] = {0};
	unsigned total = 0;

	for (unsigned k = 0; k < p->n; k++) {
		if (!count[k] || per_site[p->site[k]] >= cap)
			continue;
		per_site[p->site[k]]++;
		total++;
	}
	return total;
}

/* Fill p->target and p->target_voters. */
static void plan_target(struct plan *p, unsigned max_voters)
{
	bool seated[PLACEMENT_MAX];
	unsigned eligible = 0, live = 0;
	unsigned v, cap_live, cap_dead;

	for (unsigned k = 0; k < p->n; k++) {
		eligible += p->eligible[k];
		live += p->live[k];
	}
	v = odd_floor(max_voters < eligible ? max_voters : eligible);

	if (p->live_sites >= 3 && v >= 3) {
		/* No site may hold a majority: at most (v - 1) / 2 each. With
		 * 3 live sites v = 3 always fits, one voter per site. */
		while (v > 3 && capacity(p, p->eligible, (v - 1) / 2) < v)
			v -= 2;
		cap_live = cap_dead = (v - 1) / 2;
	} else {
		/* Fewer sites: spread the live seats as evenly as the members
		 * allow (smallest per-site cap that still seats them all),
		 * then keep dead voters in the remaining seats. */
		unsigned want = v < live ? v : live;

		cap_live = 1;
		while (capacity(p, p->live, cap_live) < want)
			cap_live++;
		cap_dead = v;
	}

	p->target_voters = seat(p, v, cap_live, cap_dead, seated);
	for (unsigned k = 0; k < p->n; k++) {
		const struct placement_member *x = p->m[k];

		if (seated[k])
			p->target[k] = PLACEMENT_VOTER;
		else if (x->role == PLACEMENT_VOTER || healthy(x))
			p->target[k] = PLACEMENT_STANDBY;
		else
			p->target[k] = x->role;
	}
}

static int plan_build(struct plan *p, const struct placement_member *m,
		      unsigned n, unsigned max_voters)
{
	int rv = plan_load(p, m, n, max_voters);

	if (rv != 0)
		return rv;
	plan_classify(p);
	plan_target(p, max_voters);
	return 0;
}

/* Demotion order: dead voters first, then live voters that lag, then the
 * rest; lower id first within each. Returns the index or -1. */
static int pick_demotion(const struct plan *p)
{
	int best = -1, best_class = 0;

	for (unsigned k = 0; k < p->n; k++) {
		const struct placement_member *x = p->m[k];
		int cls;

		if (x->role != PLACEMENT_VOTER ||
		    p->target[k] == PLACEMENT_VOTER)
			continue;
		if (!p->live[k])
			cls = 0;
		else if (!x->caught_up)
			cls = 1;
		else
			cls = 2;
		/* Dead voters go first and promotions come before live
		 * demotions while there is room, which keeps this test from
		 * ever firing; it stays as the guarantee the header gives. */
		if (cls > 0 && p->live_voters_now >= majority(p->voters_now) &&
		    p->live_voters_now - 1 < majority(p->voters_now - 1))
			continue; /* would lose the live majority */
		if (best < 0 || cls < best_class) {
			best = (int)k;
			best_class = cls;
		}
	}
	return best;
}

/* Promotion order: the best seat first (all candidates are live
 * non-voters, so the lowest id). Returns the index or -1. */
static int pick_promotion(const struct plan *p)
{
	for (unsigned k = 0; k < p->n; k++)
		if (p->m[k]->role != PLACEMENT_VOTER &&
		    p->target[k] == PLACEMENT_VOTER)
			return (int)k;
	return -1;
}

int placement_next(const struct placement_member *m, unsigned n,
		   unsigned max_voters, struct placement_change *out)
{
	struct plan p;
	int rv, k;

	if (out == NULL)
		return PLACEMENT_ERR_ARG;
	rv = plan_build(&p, m, n, max_voters);
	if (rv != 0)
		return rv;

	k = -1;
	if (p.voters_now <= p.target_voters)
		k = pick_promotion(&p);
	if (k < 0)
		k = pick_demotion(&p);
	if (k < 0)
		k = pick_promotion(&p);
	/* Then spare to standby; a voter seat change left here was held back
	 * for quorum safety and waits for a later call. */
	for (unsigned i = 0; k < 0 && i < p.n; i++)
		if (p.m[i]->role != p.target[i] &&
		    p.m[i]->role != PLACEMENT_VOTER &&
		    p.target[i] != PLACEMENT_VOTER)
			k = (int)i;
	if (k < 0)
		return 0;
	out->id = p.m[k]->id;
	out->role = p.target[k];
	return 1;
}

int placement_target(const struct placement_member *m, unsigned n,
		     unsigned max_voters, int *roles)
{
	struct plan p;
	int rv;

	if (roles == NULL)
		return PLACEMENT_ERR_ARG;
	rv = plan_build(&p, m, n, max_voters);
	if (rv != 0)
		return rv;
	for (unsigned k = 0; k < p.n; k++)
		roles[p.src[k]] = p.target[k];
	return (int)p.target_voters;
}

bool placement_ok(const struct placement_member *m, unsigned n,
		  unsigned max_voters)
{
	unsigned per_site[PLACEMENT_MAX] = {0};
	struct plan p;

	if (plan_load(&p, m, n, max_voters) != 0)
		return false;
	plan_classify(&p);
	if (p.voters_now < 1 || p.voters_now > max_voters)
		return false;
	if (p.live_sites < 3 || max_voters < 3)
		return true;
	for (unsigned k = 0; k < p.n; k++) {
		if (p.m[k]->role != PLACEMENT_VOTER)
			continue;
		if (++per_site[p.site[k]] >= majority(p.voters_now))
			return false;
	}
	return true;
}
