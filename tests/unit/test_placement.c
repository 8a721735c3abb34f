/* Tests of consensus/placement.c: voter placement of the Raft group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/placement.h"

#define SPARE PLACEMENT_SPARE
#define STANDBY PLACEMENT_STANDBY
#define VOTER PLACEMENT_VOTER

/* A small group under test: members plus max_voters. */
struct group {
	struct placement_member m[PLACEMENT_MAX];
	unsigned n;
	unsigned max_voters;
};

static struct placement_member *add(struct group *g, uint64_t id,
				    const char *site, int role)
{
	struct placement_member *x = &g->m[g->n++];

	memset(x, 0, sizeof(*x));
	x->id = id;
	snprintf(x->site, sizeof(x->site), "%s", site);
	x->role = role;
	x->reachable = true;
	x->caught_up = true;
	return x;
}

static void group_init(struct group *g, unsigned max_voters)
{
	memset(g, 0, sizeof(*g));
	g->max_voters = max_voters;
}

static struct placement_member *find(struct group *g, uint64_t id)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->m[i].id == id)
			return &g->m[i];
	return NULL;
}

static int role_of(struct group *g, uint64_t id)
{
	struct placement_member *x = find(g, id);

	assert_non_null(x);
	return x->role;
}

static unsigned voters(const struct group *g)
{
	unsigned v = 0;

	for (unsigned i = 0; i < g->n; i++)
		v += g->m[i].role == VOTER;
	return v;
}

static unsigned live_voters(const struct group *g)
{
	unsigned v = 0;

	for (unsigned i = 0; i < g->n; i++)
		v += g->m[i].role == VOTER &&
		     (g->m[i].reachable || g->m[i].is_leader);
	return v;
}

static unsigned voters_in(const struct group *g, const char *site)
{
	unsigned v = 0;

	for (unsigned i = 0; i < g->n; i++)
		v += g->m[i].role == VOTER && strcmp(g->m[i].site, site) == 0;
	return v;
}

static unsigned with_role(const struct group *g, int role)
{
	unsigned c = 0;

	for (unsigned i = 0; i < g->n; i++)
		c += g->m[i].role == role;
	return c;
}

static unsigned max_voters_per_site(const struct group *g)
{
	unsigned best = 0;

	for (unsigned i = 0; i < g->n; i++) {
		unsigned c = voters_in(g, g->m[i].site);

		if (c > best)
			best = c;
	}
	return best;
}

/* One step: ask for the next change and apply it. Returns what
 * placement_next returned; *chg receives the change. */
static int step(struct group *g, struct placement_change *chg)
{
	int rv = placement_next(g->m, g->n, g->max_voters, chg);

	assert_true(rv >= 0);
	if (rv == 1) {
		struct placement_member *x = find(g, chg->id);

		assert_non_null(x);
		assert_int_not_equal(x->role, chg->role);
		x->role = chg->role;
	}
	return rv;
}

/* Expect the next change to be exactly (id, role); apply it. */
static void expect_step(struct group *g, uint64_t id, int role)
{
	struct placement_change chg;

	assert_int_equal(step(g, &chg), 1);
	assert_int_equal(chg.id, id);
	assert_string_equal(placement_role_name(chg.role),
			    placement_role_name(role));
}

/* Apply changes until none is due; returns the number of steps. */
static unsigned converge(struct group *g)
{
	struct placement_change chg;
	unsigned steps = 0;

	while (step(g, &chg) == 1) {
		steps++;
		assert_true(steps <= 2 * g->n + 5);
	}
	return steps;
}

/* The current roles equal placement_target. */
static void assert_at_target(struct group *g)
{
	int roles[PLACEMENT_MAX];
	int v = placement_target(g->m, g->n, g->max_voters, roles);

	assert_int_equal(v, (int)voters(g));
	for (unsigned i = 0; i < g->n; i++)
		assert_int_equal(roles[i], g->m[i].role);
}

/* n members, ids 1..n, sites given per member, leader id 1 (voter), the
 * rest spares that are reachable and caught up. */
static void fresh(struct group *g, unsigned max_voters, const char **sites,
		  unsigned n)
{
	group_init(g, max_voters);
	for (unsigned i = 0; i < n; i++)
		add(g, i + 1, sites[i], i == 0 ? VOTER : SPARE);
	g->m[0].is_leader = true;
}

static void test_three_sites_three_agents(void **state)
{
	const char *sites[] = {"a", "b", "c"};
	struct group g;

	(void)state;
	fresh(&g, 5, sites, 3);
	assert_false(placement_ok(g.m, g.n, g.max_voters));
	expect_step(&g, 2, VOTER);
	expect_step(&g, 3, VOTER);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters(&g), 3);
	assert_true(placement_ok(g.m, g.n, g.max_voters));
	assert_at_target(&g);
}

static void test_six_agents_three_sites(void **state)
{
	const char *sites[] = {"a", "a", "b", "b", "c", "c"};
	struct group g;

	(void)state;
	fresh(&g, 5, sites, 6);
	converge(&g);
	assert_int_equal(voters(&g), 5);
	assert_int_equal(with_role(&g, STANDBY), 1);
	assert_true(max_voters_per_site(&g) <= 2);
	/* Seats by id within the site caps: 1, 2 (a), 3, 4 (b), 5 (c). */
	assert_int_equal(role_of(&g, 6), STANDBY);
	assert_true(placement_ok(g.m, g.n, g.max_voters));
	assert_at_target(&g);
}

static void test_nine_agents_three_sites(void **state)
{
	const char *sites[] = {"a", "b", "c", "a", "b", "c", "a", "b", "c"};
	struct group g;

	(void)state;
	fresh(&g, 5, sites, 9);
	converge(&g);
	assert_int_equal(voters(&g), 5);
	assert_int_equal(with_role(&g, STANDBY), 4);
	assert_true(voters_in(&g, "a") <= 2);
	assert_true(voters_in(&g, "b") <= 2);
	assert_true(voters_in(&g, "c") <= 2);
	assert_true(placement_ok(g.m, g.n, g.max_voters));
	assert_at_target(&g);
}

static void test_crowded_site_holds_no_majority(void **state)
{
	const char *sites[] = {"a", "a", "a", "a", "b", "c"};
	struct group g;

	(void)state;
	/* Five voters would need three in site a: three voters instead. */
	fresh(&g, 5, sites, 6);
	converge(&g);
	assert_int_equal(voters(&g), 3);
	assert_int_equal(voters_in(&g, "a"), 1);
	assert_int_equal(voters_in(&g, "b"), 1);
	assert_int_equal(voters_in(&g, "c"), 1);
	assert_true(placement_ok(g.m, g.n, g.max_voters));

	/* Starting from five voters of which three are in site a, the walk
	 * demotes site a's extra voters, never the leader. */
	group_init(&g, 5);
	add(&g, 1, "a", VOTER)->is_leader = true;
	add(&g, 2, "a", VOTER);
	add(&g, 3, "a", VOTER);
	add(&g, 4, "a", STANDBY);
	add(&g, 5, "b", VOTER);
	add(&g, 6, "c", VOTER);
	assert_false(placement_ok(g.m, g.n, g.max_voters));
	expect_step(&g, 2, STANDBY);
	expect_step(&g, 3, STANDBY);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters_in(&g, "a"), 1);
	assert_int_equal(role_of(&g, 1), VOTER);
	assert_true(placement_ok(g.m, g.n, g.max_voters));
}

static void test_two_sites_even_spread(void **state)
{
	const char *six[] = {"a", "a", "a", "a", "b", "b"};
	const char *four[] = {"a", "a", "b", "b"};
	const char *lopsided[] = {"a", "a", "a", "a", "b"};
	struct group g;

	(void)state;
	fresh(&g, 5, six, 6);
	converge(&g);
	assert_int_equal(voters(&g), 5);
	assert_int_equal(voters_in(&g, "a"), 3);
	assert_int_equal(voters_in(&g, "b"), 2);
	assert_true(placement_ok(g.m, g.n, g.max_voters));

	fresh(&g, 5, four, 4);
	converge(&g);
	assert_int_equal(voters(&g), 3);
	assert_int_equal(voters_in(&g, "a"), 2);
	assert_int_equal(voters_in(&g, "b"), 1);

	/* Site b has one member: four in a is as even as it gets. */
	fresh(&g, 5, lopsided, 5);
	converge(&g);
	assert_int_equal(voters(&g), 5);
	assert_int_equal(voters_in(&g, "b"), 1);

	/* Three voters of six in two sites of three: two and one. */
	group_init(&g, 3);
	add(&g, 10, "a", VOTER)->is_leader = true;
	add(&g, 11, "a", SPARE);
	add(&g, 12, "a", SPARE);
	add(&g, 20, "b", SPARE);
	add(&g, 21, "b", SPARE);
	add(&g, 22, "b", SPARE);
	converge(&g);
	assert_int_equal(voters(&g), 3);
	assert_int_equal(voters_in(&g, "a"), 2);
	assert_int_equal(voters_in(&g, "b"), 1);
}

static void test_dead_voter_replaced(void **state)
{
	const char *sites[] = {"a", "a", "b", "b", "c", "c"};
	struct group g;

	(void)state;
	fresh(&g, 5, sites, 6);
	converge(&g);
	/* Voters 1, 2 (a), 3, 4 (b), 5 (c); 6 (c) standby. */
	assert_int_equal(role_of(&g, 6), STANDBY);

	find(&g, 4)->reachable = false;
	expect_step(&g, 6, VOTER); /* substitute first */
	assert_int_equal(voters(&g), 6);
	assert_true(live_voters(&g) >= voters(&g) / 2 + 1);
	expect_step(&g, 4, STANDBY); /* then the dead voter */
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters(&g), 5);
	assert_true(max_voters_per_site(&g) <= 2);
	assert_true(placement_ok(g.m, g.n, g.max_voters));

	/* It comes back: it stays a standby, nothing else moves. */
	find(&g, 4)->reachable = true;
	assert_int_equal(converge(&g), 0);
	assert_int_equal(role_of(&g, 4), STANDBY);
}

static void test_substitute_in_valid_site(void **state)
{
	const char *sites[] = {"a", "a", "b", "b", "c", "a", "b", "c", "c"};
	struct group g;

	(void)state;
	fresh(&g, 5, sites, 9);
	converge(&g);
	/* Voters 1, 2 (a), 3, 4 (b), 5 (c). */
	assert_int_equal(role_of(&g, 5), VOTER);
	assert_int_equal(voters_in(&g, "a"), 2);

	/* c's voter dies. Standby 6 is in a, which already holds two:
	 * the substitute is 8, the lowest id in site c. */
	find(&g, 5)->reachable = false;
	expect_step(&g, 8, VOTER);
	expect_step(&g, 5, STANDBY);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters_in(&g, "a"), 2);
	assert_int_equal(voters_in(&g, "b"), 2);
	assert_int_equal(voters_in(&g, "c"), 1);
}

static void test_dead_voter_without_substitute(void **state)
{
	struct group g;

	(void)state;
	/* Three voters, one dead, nobody to take its seat: it keeps it;
	 * the group does not shrink to one voter. */
	group_init(&g, 5);
	add(&g, 1, "a", VOTER)->is_leader = true;
	add(&g, 2, "b", VOTER);
	add(&g, 3, "c", VOTER)->reachable = false;
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters(&g), 3);

	/* A joiner that is not caught up is no substitute either. */
	add(&g, 4, "c", SPARE)->caught_up = false;
	assert_int_equal(converge(&g), 0);
	assert_int_equal(role_of(&g, 3), VOTER);
	assert_int_equal(role_of(&g, 4), SPARE);

	/* Once caught up it takes the seat. */
	find(&g, 4)->caught_up = true;
	expect_step(&g, 4, VOTER);
	expect_step(&g, 3, STANDBY);
	assert_int_equal(converge(&g), 0);
}

static void test_joiner_spare_until_caught_up(void **state)
{
	const char *sites[] = {"a", "b", "c"};
	struct group g;
	int roles[PLACEMENT_MAX];

	(void)state;
	fresh(&g, 5, sites, 3);
	converge(&g);

	add(&g, 4, "a", SPARE)->caught_up = false;
	assert_int_equal(placement_target(g.m, g.n, g.max_voters, roles), 3);
	assert_int_equal(roles[3], SPARE);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(role_of(&g, 4), SPARE);

	/* Caught up: a fourth member gives no fifth seat, so standby. */
	find(&g, 4)->caught_up = true;
	expect_step(&g, 4, STANDBY);
	assert_int_equal(converge(&g), 0);

	/* A fifth member, caught up: both become voters, 3 -> 4 -> 5. */
	add(&g, 5, "b", SPARE);
	expect_step(&g, 4, VOTER);
	expect_step(&g, 5, VOTER);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters(&g), 5);
	assert_true(placement_ok(g.m, g.n, g.max_voters));

	/* Unreachable joiner: never promoted. */
	add(&g, 6, "c", SPARE)->reachable = false;
	assert_int_equal(converge(&g), 0);
	assert_int_equal(role_of(&g, 6), SPARE);
}

static void test_leader_never_demoted(void **state)
{
	struct group g;
	struct placement_change chg;

	(void)state;
	/* The leader has the highest id in a crowded site and sees itself
	 * as neither reachable nor caught up: it keeps its seat anyway. */
	group_init(&g, 5);
	add(&g, 1, "a", VOTER);
	add(&g, 2, "a", VOTER);
	add(&g, 3, "a", VOTER);
	struct placement_member *l = add(&g, 9, "a", VOTER);
	l->is_leader = true;
	l->reachable = false;
	l->caught_up = false;
	add(&g, 4, "b", VOTER);
	add(&g, 5, "c", SPARE);
	while (step(&g, &chg) == 1)
		assert_int_equal(role_of(&g, 9), VOTER);
	assert_int_equal(role_of(&g, 9), VOTER);
	assert_int_equal(voters_in(&g, "a"), 1);
	assert_int_equal(voters(&g), 3);

	/* max_voters 1: only the leader votes. */
	group_init(&g, 1);
	add(&g, 1, "a", VOTER);
	add(&g, 2, "b", VOTER)->is_leader = true;
	add(&g, 3, "c", VOTER);
	expect_step(&g, 1, STANDBY);
	expect_step(&g, 3, STANDBY);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(role_of(&g, 2), VOTER);
	assert_true(placement_ok(g.m, g.n, g.max_voters));
}

static void test_small_groups(void **state)
{
	struct group g;

	(void)state;
	group_init(&g, 5);
	add(&g, 7, "a", VOTER)->is_leader = true;
	assert_int_equal(converge(&g), 0);
	assert_true(placement_ok(g.m, g.n, g.max_voters));

	/* Two members: one voter, the other a standby. */
	add(&g, 8, "b", SPARE);
	expect_step(&g, 8, STANDBY);
	assert_int_equal(converge(&g), 0);
	assert_int_equal(voters(&g), 1);

	/* Two voters (as bootstrapped): back to one, never the leader. */
	find(&g, 8)->role = VOTER;
	expect_step(&g, 8, STANDBY);
	assert_int_equal(role_of(&g, 7), VOTER);
}

static void test_max_voters(void **state)
{
	const char *sites[] = {"a", "b", "c", "d", "e", "a", "b", "c"};
	struct group g;

	(void)state;
	fresh(&g, 3, sites, 8);
	converge(&g);
	assert_int_equal(voters(&g), 3);
	assert_true(max_voters_per_site(&g) <= 1);

	/* An even max_voters means the odd number below it. */
	fresh(&g, 4, sites, 8);
	converge(&g);
	assert_int_equal(voters(&g), 3);
	assert_true(placement_ok(g.m, g.n, g.max_voters));

	/* Lowered from 5 to 3: two voters leave, one at a time. */
	fresh(&g, 5, sites, 8);
	converge(&g);
	assert_int_equal(voters(&g), 5);
	g.max_voters = 3;
	assert_false(placement_ok(g.m, g.n, g.max_voters));
	assert_int_equal(converge(&g), 2);
	assert_int_equal(voters(&g), 3);
	assert_true(placement_ok(g.m, g.n, g.max_voters));
}

/* splitmix64: the tests' own deterministic generator. */
struct prng {
	uint64_t s;
};

static uint64_t prng_next(struct prng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned prng_below(struct prng *r, unsigned n)
{
	return (unsigned)(prng_next(r) % n);
}

static void shuffle(struct prng *r, struct placement_member *m, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = prng_below(r, i);
		struct placement_member t = m[i - 1];

		m[i - 1] = m[j];
		m[j] = t;
	}
}

/* A random group: up to `most` members over up to 5 sites, random roles
 * and health, one leader (a voter). */
static void random_group(struct prng *r, struct group *g, unsigned most)
{
	static const char *names[] = {"east", "west", "north", "south", "dc5"};
	unsigned n = 1 + prng_below(r, most);
	unsigned n_sites = 1 + prng_below(r, 5);
	unsigned leader = prng_below(r, n);
	uint64_t id = 0;

	group_init(g, 1 + prng_below(r, 5));
	for (unsigned i = 0; i < n; i++) {
		unsigned role = prng_below(r, 3);
		struct placement_member *x;

		id += 1 + prng_below(r, 3);
		x = add(g, id, names[prng_below(r, n_sites)], (int)role);

		x->reachable = prng_below(r, 5) != 0;
		x->caught_up = prng_below(r, 5) != 0;
	}
	g->m[leader].is_leader = true;
	g->m[leader].role = VOTER;
	if (prng_below(r, 2) == 0) {
		g->m[leader].reachable = true;
		g->m[leader].caught_up = true;
	}
	shuffle(r, g->m, g->n);
}

static void test_input_order_independent(void **state)
{
	struct prng r = {42};

	(void)state;
	for (unsigned trial = 0; trial < 500; trial++) {
		struct group g, h;
		struct placement_change a, b;
		int ra[PLACEMENT_MAX], rb[PLACEMENT_MAX];
		int na, nb;

		random_group(&r, &g, 16);
		h = g;
		shuffle(&r, h.m, h.n);

		na = placement_next(g.m, g.n, g.max_voters, &a);
		nb = placement_next(h.m, h.n, h.max_voters, &b);
		assert_int_equal(na, nb);
		if (na == 1) {
			assert_int_equal(a.id, b.id);
			assert_int_equal(a.role, b.role);
		}
		assert_int_equal(placement_target(g.m, g.n, g.max_voters, ra),
				 placement_target(h.m, h.n, h.max_voters, rb));
		for (unsigned i = 0; i < g.n; i++)
			for (unsigned j = 0; j < h.n; j++)
				if (g.m[i].id == h.m[j].id)
					assert_int_equal(ra[i], rb[j]);
		assert_int_equal(placement_ok(g.m, g.n, g.max_voters),
				 placement_ok(h.m, h.n, h.max_voters));
	}
}

static void test_convergence_property(void **state)
{
	struct prng r = {20260126};

	(void)state;
	for (unsigned trial = 0; trial < 5000; trial++) {
		struct group g;
		struct placement_change chg;
		int first[PLACEMENT_MAX], roles[PLACEMENT_MAX];
		unsigned steps = 0, start_voters, v;
		int tv;

		random_group(&r, &g, trial % 10 == 0 ? PLACEMENT_MAX : 12);
		start_voters = voters(&g);
		tv = placement_target(g.m, g.n, g.max_voters, first);
		assert_true(tv >= 1);
		assert_true(tv % 2 == 1);
		assert_true(tv <= (int)g.max_voters);

		for (;;) {
			bool had_quorum = live_voters(&g) >= voters(&g) / 2 + 1;
			struct placement_member *x;
			int rv = placement_next(g.m, g.n, g.max_voters, &chg);

			assert_true(rv == 0 || rv == 1);
			if (rv == 0)
				break;
			x = find(&g, chg.id);
			assert_non_null(x);
			assert_int_not_equal(x->role, chg.role);
			if (chg.role == VOTER)
				assert_true(x->reachable && x->caught_up);
			if (x->is_leader)
				fail_msg("change of the leader's role");
			x->role = chg.role;
			steps++;
			assert_true(steps <= 2 * g.n + 5);
			assert_true(steps <= g.n);
			if (had_quorum)
				assert_true(live_voters(&g) >=
					    voters(&g) / 2 + 1);
			v = voters(&g);
			assert_true(v <= (unsigned)tv + 1 || v <= start_voters);
			/* The target does not move while walking to it. */
			assert_int_equal(
			    placement_target(g.m, g.n, g.max_voters, roles),
			    tv);
			for (unsigned i = 0; i < g.n; i++)
				assert_int_equal(roles[i], first[i]);
		}
		for (unsigned i = 0; i < g.n; i++)
			assert_int_equal(g.m[i].role, first[i]);
		v = voters(&g);
		assert_int_equal(v, (unsigned)tv);
		assert_true(v % 2 == 1);
		assert_true(v <= g.max_voters);
		assert_true(placement_ok(g.m, g.n, g.max_voters));
		for (unsigned i = 0; i < g.n; i++)
			if (g.m[i].is_leader)
				assert_int_equal(g.m[i].role, VOTER);
	}
}

static void test_bad_input(void **state)
{
	struct group g;
	struct placement_change chg = {77, 99};
	int roles[4] = {-5, -5, -5, -5};

	(void)state;
	group_init(&g, 5);
	add(&g, 1, "a", VOTER)->is_leader = true;
	add(&g, 2, "b", SPARE);

	assert_int_equal(placement_next(g.m, g.n, 5, NULL), PLACEMENT_ERR_ARG);
	assert_int_equal(placement_next(NULL, 2, 5, &chg), PLACEMENT_ERR_ARG);
	assert_int_equal(placement_target(g.m, g.n, 5, NULL),
			 PLACEMENT_ERR_ARG);
	assert_int_equal(placement_next(g.m, PLACEMENT_MAX + 1, 5, &chg),
			 PLACEMENT_ERR_TOO_MANY);
	assert_int_equal(placement_next(g.m, g.n, 0, &chg),
			 PLACEMENT_ERR_MAX_VOTERS);
	assert_int_equal(placement_next(g.m, g.n, 6, &chg),
			 PLACEMENT_ERR_MAX_VOTERS);
	assert_int_equal(placement_next(g.m, 0, 5, &chg),
			 PLACEMENT_ERR_NO_LEADER);
	assert_int_equal(placement_next(NULL, 0, 5, &chg),
			 PLACEMENT_ERR_NO_LEADER);

	g.m[1].id = 1;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg),
			 PLACEMENT_ERR_DUPLICATE);
	g.m[1].id = 0;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg), PLACEMENT_ERR_ID);
	g.m[1].id = 2;

	g.m[1].role = 3;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg), PLACEMENT_ERR_ROLE);
	g.m[1].role = -1;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg), PLACEMENT_ERR_ROLE);
	g.m[1].role = SPARE;

	g.m[1].site[0] = '\0';
	assert_int_equal(placement_next(g.m, g.n, 5, &chg), PLACEMENT_ERR_SITE);
	memset(g.m[1].site, 'x', sizeof(g.m[1].site));
	assert_int_equal(placement_next(g.m, g.n, 5, &chg), PLACEMENT_ERR_SITE);
	snprintf(g.m[1].site, sizeof(g.m[1].site), "b");

	g.m[0].is_leader = false;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg),
			 PLACEMENT_ERR_NO_LEADER);
	g.m[0].is_leader = true;
	g.m[1].is_leader = true;
	g.m[1].role = VOTER;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg),
			 PLACEMENT_ERR_LEADERS);
	g.m[1].is_leader = false;
	g.m[1].role = SPARE;
	g.m[0].role = STANDBY;
	assert_int_equal(placement_next(g.m, g.n, 5, &chg),
			 PLACEMENT_ERR_LEADER_ROLE);
	assert_int_equal(placement_target(g.m, g.n, 5, roles),
			 PLACEMENT_ERR_LEADER_ROLE);
	assert_false(placement_ok(g.m, g.n, 5));
	assert_false(placement_ok(NULL, 1, 5));
	assert_false(placement_ok(g.m, g.n, 7));
	g.m[0].role = VOTER;

	/* Nothing was written by the failed calls. */
	assert_int_equal(chg.id, 77);
	assert_int_equal(chg.role, 99);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(roles[i], -5);

	/* Valid again. */
	assert_int_equal(placement_next(g.m, g.n, 5, &chg), 1);
	assert_int_equal(chg.id, 2);
	assert_int_equal(chg.role, STANDBY);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(placement_role_name(PLACEMENT_SPARE), "spare");
	assert_string_equal(placement_role_name(PLACEMENT_STANDBY), "standby");
	assert_string_equal(placement_role_name(PLACEMENT_VOTER), "voter");
	assert_string_equal(placement_role_name(42), "unknown");
	assert_string_equal(placement_strerror(PLACEMENT_ERR_DUPLICATE),
			    "duplicate member id");
	assert_string_equal(placement_strerror(PLACEMENT_ERR_NO_LEADER),
			    "no leader");
	assert_string_equal(placement_strerror(0), "unknown error");
	for (int e = PLACEMENT_ERR_LEADER_ROLE; e <= PLACEMENT_ERR_ARG; e++)
		assert_string_not_equal(placement_strerror(e), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_three_sites_three_agents),
	    cmocka_unit_test(test_six_agents_three_sites),
	    cmocka_unit_test(test_nine_agents_three_sites),
	    cmocka_unit_test(test_crowded_site_holds_no_majority),
	    cmocka_unit_test(test_two_sites_even_spread),
	    cmocka_unit_test(test_dead_voter_replaced),
	    cmocka_unit_test(test_substitute_in_valid_site),
	    cmocka_unit_test(test_dead_voter_without_substitute),
	    cmocka_unit_test(test_joiner_spare_until_caught_up),
	    cmocka_unit_test(test_leader_never_demoted),
	    cmocka_unit_test(test_small_groups),
	    cmocka_unit_test(test_max_voters),
	    cmocka_unit_test(test_input_order_independent),
	    cmocka_unit_test(test_convergence_property),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
