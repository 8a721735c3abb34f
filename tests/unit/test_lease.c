/* Tests of agent/lease.c: a lease from heartbeat answers, barriers or the
 * echoes of a majority, and when the applied state may be trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/lease.h"

#define MS 1000000ULL
#define LEASE 1000 /* ms granted */
#define DRIFT 100  /* ms margin */

/* The leader (raft id 4 unless said) at ms now: a barrier started at ms
 * start committed. */
static void barrier(struct lease *l, uint64_t now, uint64_t start)
{
	lease_prove(l, now * MS, l->granted_by != 0 ? l->granted_by : 4,
		    LEASE_BARRIER, start * MS, LEASE, DRIFT);
}

/* A heartbeat sent at ms t, answered 1 ms later naming commit. */
static void answer(struct lease *l, uint64_t t, uint64_t commit,
		   uint64_t lease_ms)
{
	lease_answer(l, (t + 1) * MS, t * MS, 9, commit, lease_ms, DRIFT);
}

static void test_no_lease_before_an_answer(void **state)
{
	struct lease l = {0};

	(void)state;
	assert_false(lease_valid(&l, 1 * MS));
	assert_false(lease_view_current(&l, 1 * MS, 100, false, 0));
	assert_int_equal(lease_left_ms(&l, 1 * MS), 0);
}

static void test_grant_runs_from_send_time(void **state)
{
	struct lease l = {0};

	(void)state;
	answer(&l, 1000, 5, LEASE);
	assert_int_equal(l.granted_by, 9);
	assert_true(lease_valid(&l, 1899 * MS));
	assert_false(lease_valid(&l, 1900 * MS));
	assert_int_equal(lease_left_ms(&l, 1400 * MS), 500);
	/* an answer without a lease grants nothing */
	answer(&l, 1100, 5, 0);
	assert_false(lease_valid(&l, 1900 * MS));
	/* nor does one no longer than the drift margin */
	answer(&l, 1200, 5, DRIFT);
	assert_false(lease_valid(&l, 1900 * MS));
	/* a later grant extends, an earlier one never shortens */
	answer(&l, 1300, 5, LEASE);
	assert_true(lease_valid(&l, 2199 * MS));
	answer(&l, 1250, 5, LEASE);
	assert_true(lease_valid(&l, 2199 * MS));
}

/* The leader commits a barrier at every tick, so each answer names a
 * higher commit index than the one before, and a follower has always
 * applied a little less than the latest. The view is trusted once the
 * follower applied what was committed when it got its lease. */
static void test_view_target_fixed_while_the_lease_holds(void **state)
{
	struct lease l = {0};
	uint64_t applied = 10;

	(void)state;
	answer(&l, 1000, 20, LEASE);
	assert_true(lease_valid(&l, 1001 * MS));
	assert_false(lease_view_current(&l, 1001 * MS, applied, false, 0));
	for (uint64_t i = 1; i <= 20; i++) {
		uint64_t t = 1000 + 100 * i;

		/* it applies what was committed at the previous answer, the
		 * leader has committed one more barrier since */
		applied = 20 + i - 1;
		answer(&l, t, 20 + i, LEASE);
		assert_true(
		    lease_view_current(&l, (t + 2) * MS, applied, false, 0));
	}
	assert_int_equal(l.target, 20);
}

static void test_view_not_before_target(void **state)
{
	struct lease l = {0};

	(void)state;
	/* answers without a lease: the target follows the newest named */
	answer(&l, 1000, 30, 0);
	answer(&l, 1100, 40, 0);
	assert_int_equal(l.target, 40);
	/* the granting answer names the highest so far */
	answer(&l, 1200, 45, LEASE);
	assert_int_equal(l.target, 45);
	assert_false(lease_view_current(&l, 1202 * MS, 44, false, 0));
	assert_true(lease_view_current(&l, 1203 * MS, 45, false, 0));
	/* latched: an agent applying nothing more stays trusted */
	answer(&l, 1300, 50, LEASE);
	assert_true(lease_view_current(&l, 1302 * MS, 45, false, 0));
}

static void test_view_reset_when_the_lease_lapses(void **state)
{
	struct lease l = {0};

	(void)state;
	answer(&l, 1000, 10, LEASE);
	assert_true(lease_view_current(&l, 1002 * MS, 10, false, 0));
	/* lapsed (no answer for more than the lease): not trusted */
	assert_false(lease_view_current(&l, 2000 * MS, 10, false, 0));
	/* the next grant names decisions taken meanwhile */
	answer(&l, 3000, 17, LEASE);
	assert_int_equal(l.target, 17);
	assert_false(lease_view_current(&l, 3002 * MS, 10, false, 0));
	assert_true(lease_view_current(&l, 3003 * MS, 17, false, 0));
}

static void test_leader_view(void **state)
{
	struct lease l = {0};

	(void)state;
	assert_false(lease_view_current(&l, 1 * MS, 7, true, 7));
	barrier(&l, 1, 0);
	assert_int_equal(l.granted_by, 4);
	assert_int_equal(l.source, LEASE_BARRIER);
	assert_false(lease_view_current(&l, 2 * MS, 6, true, 7));
	assert_true(lease_view_current(&l, 3 * MS, 7, true, 7));
	/* latched while the lease holds */
	assert_true(lease_view_current(&l, 4 * MS, 7, true, 8));
	/* a lease extended after it had lapsed vouches for nothing */
	barrier(&l, 1000, 1000);
	assert_false(lease_view_current(&l, 1001 * MS, 7, true, 8));
	assert_true(lease_view_current(&l, 1002 * MS, 8, true, 8));
	/* an earlier barrier never shortens the lease */
	barrier(&l, 1003, 600);
	assert_true(lease_valid(&l, 1899 * MS));
}

/* ---- the leader's own lease from echoes ---- */

#define SELF 1
#define TERM 7

static const uint64_t V3[] = {1, 2, 3};
static const uint64_t V5[] = {1, 2, 3, 4, 5};

/* Member from's heartbeat received at now (ms) echoes the leader's time t
 * (ms), sent in TERM naming SELF as leader. */
static bool echo(struct lease_echoes *e, uint64_t now, uint64_t from,
		 uint64_t t)
{
	return lease_echo(e, SELF, TERM, now * MS, from, TERM, SELF, t * MS);
}

/* What the echoes prove at now (ms) for SELF in TERM, in ms (0: nothing). */
static uint64_t proof(const struct lease_echoes *e, const uint64_t *voters,
		      unsigned n, uint64_t now)
{
	return lease_echoes_proof(e, SELF, TERM, voters, n, now * MS) / MS;
}

static void test_echoes_need_a_majority(void **state)
{
	struct lease_echoes e = {0};

	(void)state;
	/* alone, the leader is one of five */
	assert_int_equal(proof(&e, V5, 5, 1000), 0);
	assert_true(echo(&e, 1000, 2, 100));
	assert_int_equal(proof(&e, V5, 5, 1000), 0);
	/* with a third voter a majority: the older of the two echoes */
	assert_true(echo(&e, 1000, 3, 200));
	assert_int_equal(proof(&e, V5, 5, 1000), 100);
	/* of three voters, one echo is enough */
	assert_int_equal(proof(&e, V3, 3, 1000), 200);
	/* of four, three are needed */
	{
		static const uint64_t v4[] = {1, 2, 3, 4};
		struct lease_echoes f = {0};

		assert_true(echo(&f, 1000, 2, 300));
		assert_int_equal(proof(&f, v4, 4, 1000), 0);
		assert_true(echo(&f, 1000, 4, 250));
		assert_int_equal(proof(&f, v4, 4, 1000), 250);
	}
}

/* b is the majority-th newest echo, the leader counting at now: neither
 * the newest nor the oldest. */
static void test_echoes_majority_th_newest(void **state)
{
	struct lease_echoes e = {0};

	(void)state;
	assert_true(echo(&e, 1000, 2, 100));
	assert_true(echo(&e, 1000, 3, 400));
	assert_true(echo(&e, 1000, 4, 300));
	assert_true(echo(&e, 1000, 5, 200));
	/* now, 400, 300 */
	assert_int_equal(proof(&e, V5, 5, 1000), 300);
	/* of three voters: now, 400 */
	assert_int_equal(proof(&e, V3, 3, 1000), 400);
	/* a newer echo of 2 moves it */
	assert_true(echo(&e, 1100, 2, 900));
	assert_int_equal(proof(&e, V5, 5, 1100), 400);
}

static void test_echoes_term_and_leader_must_match(void **state)
{
	struct lease_echoes e = {0};

	(void)state;
	/* sent in another term (say, of an earlier leadership of this
	 * agent, with its older clock), or naming another leader */
	assert_false(
	    lease_echo(&e, SELF, TERM, 1000 * MS, 2, TERM - 2, SELF, 900 * MS));
	assert_false(
	    lease_echo(&e, SELF, TERM, 1000 * MS, 2, TERM + 1, SELF, 900 * MS));
	assert_false(
	    lease_echo(&e, SELF, TERM, 1000 * MS, 2, TERM, 9, 900 * MS));
	assert_int_equal(proof(&e, V3, 3, 1000), 0);
	assert_true(echo(&e, 1000, 2, 900));
	assert_int_equal(proof(&e, V3, 3, 1000), 900);
	/* asked for another term, they prove nothing */
	assert_int_equal(
	    lease_echoes_proof(&e, SELF, TERM + 1, V3, 3, 1000 * MS), 0);
	/* a new term forgets them */
	lease_echoes_term(&e, TERM + 1);
	lease_echoes_term(&e, TERM);
	assert_int_equal(proof(&e, V3, 3, 1000), 0);
	/* so does an echo received in another term */
	assert_true(echo(&e, 1000, 2, 900));
	assert_false(
	    lease_echo(&e, SELF, TERM + 2, 1000 * MS, 3, TERM, SELF, 950 * MS));
	assert_int_equal(e.term, TERM + 2);
	assert_int_equal(proof(&e, V3, 3, 1000), 0);
	/* not leading (term 0): nothing is kept */
	assert_false(lease_echo(&e, SELF, 0, 1000 * MS, 2, 0, SELF, 900 * MS));
	assert_int_equal(lease_echoes_proof(&e, SELF, 0, V3, 3, 1000 * MS), 0);
}

static void test_echoes_of_voters_only(void **state)
{
	static const uint64_t after[] = {1, 3, 4};  /* 2 replaced by 4 */
	static const uint64_t others[] = {2, 3, 4}; /* without the leader */
	struct lease_echoes e = {0};

	(void)state;
	/* standbys and spares echo too: they do not count */
	assert_true(echo(&e, 1000, 6, 900));
	assert_true(echo(&e, 1000, 7, 800));
	assert_int_equal(proof(&e, V3, 3, 1000), 0);
	assert_true(echo(&e, 1000, 2, 500));
	assert_int_equal(proof(&e, V3, 3, 1000), 500);
	/* the configuration changed: 2 is no voter any more */
	assert_int_equal(proof(&e, after, 3, 1000), 0);
	assert_true(echo(&e, 1000, 4, 700));
	assert_int_equal(proof(&e, after, 3, 1000), 700);
	/* a leader that is not a voter does not count itself */
	assert_int_equal(proof(&e, others, 3, 1000), 500);
	assert_true(echo(&e, 1100, 3, 400));
	assert_int_equal(proof(&e, others, 3, 1100), 500);
}

static void test_echoes_never_from_the_future_nor_older(void **state)
{
	struct lease_echoes e = {0};

	(void)state;
	/* a time this leader's clock has not reached (another boot) */
	assert_false(echo(&e, 1000, 2, 1001));
	assert_false(echo(&e, 1000, 2, 0));
	assert_int_equal(proof(&e, V3, 3, 1000), 0);
	assert_true(echo(&e, 1000, 2, 800));
	/* a late heartbeat with an older echo does not go back */
	assert_false(echo(&e, 1010, 2, 700));
	assert_int_equal(proof(&e, V3, 3, 1010), 800);
	/* the leader's own id is no echo */
	assert_false(echo(&e, 1010, SELF, 1000));
}

static void test_prove_never_shrinks(void **state)
{
	struct lease l = {0};

	(void)state;
	lease_prove(&l, 1000 * MS, SELF, LEASE_ECHOES, 1000 * MS, LEASE, DRIFT);
	assert_int_equal(l.until_ns, 1900 * MS);
	assert_int_equal(l.source, LEASE_ECHOES);
	lease_prove(&l, 1100 * MS, SELF, LEASE_ECHOES, 800 * MS, LEASE, DRIFT);
	assert_int_equal(l.until_ns, 1900 * MS);
	lease_prove(&l, 1100 * MS, SELF, LEASE_BARRIER, 900 * MS, LEASE, DRIFT);
	assert_int_equal(l.until_ns, 1900 * MS);
	assert_int_equal(l.source, LEASE_ECHOES);
	/* no lease at all when the margin eats it */
	lease_prove(&l, 1100 * MS, SELF, LEASE_BARRIER, 1100 * MS, DRIFT,
		    DRIFT);
	assert_int_equal(l.until_ns, 1900 * MS);
}

/* The barrier and the echoes: the lease runs from whichever proves the
 * later time. A barrier slow to commit proves its start only once it
 * commits; the echoes carry the lease meanwhile. */
static void test_barrier_and_echoes_combined(void **state)
{
	struct lease l = {0};
	struct lease_echoes e = {0};

	(void)state;
	barrier(&l, 1000, 1000); /* committed at once */
	assert_int_equal(l.until_ns, 1900 * MS);
	assert_int_equal(l.source, LEASE_BARRIER);
	/* the next barrier, started at 1100, takes 1200 ms to commit; the
	 * heartbeats echo the leader's answers all along */
	for (uint64_t t = 1100; t < 2300; t += 100) {
		assert_true(echo(&e, t, 2, t - 100));
		lease_prove(&l, t * MS, SELF, LEASE_ECHOES,
			    lease_echoes_proof(&e, SELF, TERM, V3, 3, t * MS),
			    LEASE, DRIFT);
		assert_true(lease_valid(&l, (t + 100) * MS));
	}
	assert_int_equal(l.source, LEASE_ECHOES);
	assert_int_equal(l.until_ns, (2100 + 900) * MS);
	/* the slow barrier commits: its start proves less, nothing changes */
	barrier(&l, 2300, 1100);
	assert_int_equal(l.until_ns, 3000 * MS);
	assert_int_equal(l.source, LEASE_ECHOES);
	/* a quick one later proves more */
	barrier(&l, 2301, 2300);
	assert_int_equal(l.until_ns, 3200 * MS);
	assert_int_equal(l.source, LEASE_BARRIER);
	/* the echoes stop (no majority hears): the barrier alone */
	barrier(&l, 2500, 2500);
	assert_int_equal(l.until_ns, 3400 * MS);
	assert_int_equal(l.granted_by, SELF);
}

/* A proof by echoes after the lease lapsed vouches for the view no more
 * than a barrier's: the leader applies its commit index again first. */
static void test_echoes_after_a_lapse_reset_the_view(void **state)
{
	struct lease l = {0};

	(void)state;
	lease_prove(&l, 1000 * MS, SELF, LEASE_ECHOES, 1000 * MS, LEASE, DRIFT);
	assert_true(lease_view_current(&l, 1001 * MS, 7, true, 7));
	/* proved again while it holds: still trusted */
	lease_prove(&l, 1500 * MS, SELF, LEASE_ECHOES, 1400 * MS, LEASE, DRIFT);
	assert_true(lease_view_current(&l, 1501 * MS, 7, true, 9));
	/* lapsed at 2300; proved again at 2400 */
	assert_false(lease_view_current(&l, 2300 * MS, 9, true, 9));
	lease_prove(&l, 2400 * MS, SELF, LEASE_ECHOES, 2350 * MS, LEASE, DRIFT);
	assert_int_equal(l.until_ns, 3250 * MS);
	assert_false(lease_view_current(&l, 2401 * MS, 9, true, 10));
	assert_true(lease_view_current(&l, 2402 * MS, 10, true, 10));
}

/* The grant of another leader names it, even when it does not extend the
 * lease; the names of the sources. */
static void test_granted_by_and_source_names(void **state)
{
	struct lease l = {0};

	(void)state;
	lease_answer(&l, 1001 * MS, 1000 * MS, 9, 5, LEASE, DRIFT);
	lease_answer(&l, 1002 * MS, 900 * MS, 8, 5, LEASE, DRIFT);
	assert_int_equal(l.granted_by, 8);
	assert_int_equal(l.until_ns, 1900 * MS);
	/* no grant, no new name; nor one the margin eats */
	lease_answer(&l, 1003 * MS, 1002 * MS, 7, 5, 0, DRIFT);
	assert_int_equal(l.granted_by, 8);
	lease_answer(&l, 1004 * MS, 1003 * MS, 6, 5, DRIFT, DRIFT);
	assert_int_equal(l.granted_by, 8);
	assert_string_equal(lease_source_name(LEASE_NONE), "none");
	assert_string_equal(lease_source_name(LEASE_GRANT), "grant");
	assert_string_equal(lease_source_name(LEASE_BARRIER), "barrier");
	assert_string_equal(lease_source_name(LEASE_ECHOES), "echoes");
	assert_string_equal(lease_source_name(99), "none");
}

/* At most LEASE_ECHOES_MAX members are remembered; a configuration of more
 * voters than that, or of none, proves nothing. */
static void test_echoes_bounds(void **state)
{
	struct lease_echoes e = {0};
	uint64_t voters[LEASE_ECHOES_MAX + 1];

	(void)state;
	for (unsigned i = 0; i < LEASE_ECHOES_MAX; i++)
		assert_true(echo(&e, 1000, 100 + i, 900));
	assert_false(echo(&e, 1000, 100 + LEASE_ECHOES_MAX, 900));
	/* a member already remembered still updates */
	assert_true(echo(&e, 1000, 100, 950));
	assert_int_equal(proof(&e, V3, 0, 1000), 0);
	voters[0] = SELF;
	for (unsigned i = 1; i <= LEASE_ECHOES_MAX; i++)
		voters[i] = 100 + i - 1;
	assert_int_equal(proof(&e, voters, LEASE_ECHOES_MAX, 1000), 900);
	assert_int_equal(proof(&e, voters, LEASE_ECHOES_MAX + 1, 1000), 0);
}

/* ---- the regime bound ---- */

#define N_ 1 /* the new leader */
#define RTERM 5
#define SINCE 10000 /* ms: it leads since */
#define STABLE 1000 /* ms: its voter set stable since */

static uint64_t regime(const struct lease_regime *g, const uint64_t *voters,
		       unsigned n, uint64_t self_bound, uint64_t stable)
{
	uint64_t t = lease_regime_since(g, N_, RTERM, voters, n,
					self_bound * MS, stable * MS,
					SINCE * MS);

	return t / MS;
}

/* voter from reported at ms r that it heard no earlier leader for age */
static bool report(struct lease_regime *g, uint64_t r, uint64_t from,
		   uint64_t term, uint64_t age)
{
	return lease_regime_report(g, N_, RTERM, r * MS, from, term, age);
}

static void test_regime_all_but_one_reported(void **state)
{
	struct lease_regime g = {0};
	const uint64_t v3[] = {N_, 2, 3};

	(void)state;
	/* nothing reported: the election */
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), SINCE);
	/* 2 reported, 3 (the dead one) did not: B = max(B_2, own) */
	assert_true(report(&g, 10200, 2, RTERM, 3200));
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), 7000);
	/* this leader's own contact may be the newer one */
	assert_int_equal(regime(&g, v3, 3, 7500, STABLE), 7500);
	/* never after the election */
	assert_int_equal(regime(&g, v3, 3, 12000, STABLE), SINCE);
	/* not leading: 0 */
	assert_int_equal(lease_regime_since(&g, N_, RTERM, v3, 3, 1, 1, 0), 0);
}

static void test_regime_never_before_any_report(void **state)
{
	struct lease_regime g = {0};
	const uint64_t v5[] = {N_, 2, 3, 4, 5};

	(void)state;
	assert_true(report(&g, 10100, 2, RTERM, 3100)); /* 7000 */
	assert_true(report(&g, 10100, 4, RTERM, 2100)); /* 8000 */
	/* 3 and 5 missing: two voters did not report */
	assert_int_equal(regime(&g, v5, 5, 6000, STABLE), SINCE);
	assert_true(report(&g, 10100, 5, RTERM, 2600)); /* 7500 */
	/* only 3 missing: the newest of every report */
	assert_int_equal(regime(&g, v5, 5, 6000, STABLE), 8000);
	/* a later report of 4 never moves its bound later: the first is an
	 * upper bound already */
	assert_true(report(&g, 10500, 4, RTERM, 2000)); /* 8500 */
	assert_int_equal(regime(&g, v5, 5, 6000, STABLE), 8000);
	/* a smaller one does */
	assert_true(report(&g, 10500, 4, RTERM, 2700)); /* 7800 */
	assert_int_equal(regime(&g, v5, 5, 6000, STABLE), 7800);
	/* reports of non-voters do not stand in for voters */
	assert_true(report(&g, 10100, 9, RTERM, 5000));
	const uint64_t v5b[] = {N_, 2, 3, 4, 6};
	assert_int_equal(regime(&g, v5b, 5, 6000, STABLE), SINCE);
}

static void test_regime_other_terms(void **state)
{
	struct lease_regime g = {0};
	const uint64_t v3[] = {N_, 2, 3};

	(void)state;
	/* a report of an earlier (or later) term is refused */
	assert_false(report(&g, 10200, 2, RTERM - 1, 3200));
	assert_false(report(&g, 10200, 2, RTERM + 1, 3200));
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), SINCE);
	/* this leader's own report is not one */
	assert_false(report(&g, 10200, N_, RTERM, 3200));
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), SINCE);
	/* the reports of this term are forgotten with the term */
	assert_true(report(&g, 10200, 2, RTERM, 3200));
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), 7000);
	lease_regime_term(&g, RTERM + 1);
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), SINCE);
	lease_regime_term(&g, RTERM);
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), SINCE);
}

static void test_regime_configuration(void **state)
{
	struct lease_regime g = {0};
	const uint64_t v3[] = {N_, 2, 3};
	const uint64_t v2[] = {N_, 2};
	const uint64_t not_self[] = {2, 3, 4};

	(void)state;
	assert_true(report(&g, 10200, 2, RTERM, 3200)); /* 7000 */
	assert_true(report(&g, 10200, 4, RTERM, 3200)); /* 7000 */
	assert_int_equal(regime(&g, v3, 3, 6900, STABLE), 7000);
	/* the voter set not stable, or stable only since after B */
	assert_int_equal(regime(&g, v3, 3, 6900, 0), SINCE);
	assert_int_equal(regime(&g, v3, 3, 6900, 7001), SINCE);
	assert_int_equal(regime(&g, v3, 3, 6900, 7000), 7000);
	/* fewer than three voters: a majority of a configuration one voter
	 * away may hold none that reported */
	assert_int_equal(regime(&g, v2, 2, 6900, STABLE), SINCE);
	/* this leader not a voter */
	assert_int_equal(regime(&g, not_self, 3, 6900, STABLE), SINCE);
	/* too many voters to count */
	uint64_t many[LEASE_ECHOES_MAX + 1];
	for (unsigned i = 0; i <= LEASE_ECHOES_MAX; i++)
		many[i] = i + 1;
	assert_int_equal(regime(&g, many, LEASE_ECHOES_MAX + 1, 6900, STABLE),
			 SINCE);
}

static void test_regime_underflow(void **state)
{
	struct lease_regime g = {0};
	const uint64_t v3[] = {N_, 2, 3};

	(void)state;
	/* an age older than this clock: the bound is 0, not a wrap */
	assert_true(report(&g, 1000, 2, RTERM, 5000));
	assert_int_equal(g.r[0].bound_ns, 0);
	assert_int_equal(regime(&g, v3, 3, 500, 1), 500);
	assert_true(report(&g, 1000, 2, RTERM, UINT64_MAX));
	assert_int_equal(g.r[0].bound_ns, 0);
	/* never 0 (which says "not leading") while leading: a bound of 0
	 * is after no stable_since */
	assert_int_equal(lease_regime_since(&g, N_, RTERM, v3, 3, 0, 1,
					    SINCE * MS),
			 SINCE * MS);
}

static void test_contacts(void **state)
{
	struct lease_contacts c;

	(void)state;
	lease_contacts_init(&c, 100 * MS);
	/* nothing heard: the start */
	assert_int_equal(lease_contact_before(&c, 5), 100 * MS);
	lease_contact(&c, 4, 7000 * MS);
	lease_contact(&c, 5, 9000 * MS);
	lease_contact(&c, 4, 6000 * MS); /* never moves back */
	assert_int_equal(lease_contact_before(&c, 5), 7000 * MS);
	assert_int_equal(lease_contact_before(&c, 4), 100 * MS);
	assert_int_equal(lease_contact_before(&c, 6), 9000 * MS);
	/* of an unknown term: earlier than any */
	lease_contact(&c, 0, 8000 * MS);
	assert_int_equal(lease_contact_before(&c, 5), 8000 * MS);
	assert_int_equal(lease_contact_before(&c, 1), 8000 * MS);
	/* a term dropped from the table still counts, for every term */
	lease_contact(&c, 6, 9500 * MS);
	lease_contact(&c, 7, 9600 * MS); /* drops term 0 */
	lease_contact(&c, 8, 9700 * MS); /* drops term 4 */
	assert_int_equal(lease_contact_before(&c, 5), 8000 * MS);
	assert_int_equal(lease_contact_before(&c, 8), 9600 * MS);
	lease_contact(&c, 9, 9800 * MS); /* drops term 5 (9000) */
	assert_int_equal(lease_contact_before(&c, 1), 9000 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_lease_before_an_answer),
	    cmocka_unit_test(test_grant_runs_from_send_time),
	    cmocka_unit_test(test_view_target_fixed_while_the_lease_holds),
	    cmocka_unit_test(test_view_not_before_target),
	    cmocka_unit_test(test_view_reset_when_the_lease_lapses),
	    cmocka_unit_test(test_leader_view),
	    cmocka_unit_test(test_echoes_need_a_majority),
	    cmocka_unit_test(test_echoes_majority_th_newest),
	    cmocka_unit_test(test_echoes_term_and_leader_must_match),
	    cmocka_unit_test(test_echoes_of_voters_only),
	    cmocka_unit_test(test_echoes_never_from_the_future_nor_older),
	    cmocka_unit_test(test_prove_never_shrinks),
	    cmocka_unit_test(test_barrier_and_echoes_combined),
	    cmocka_unit_test(test_echoes_after_a_lapse_reset_the_view),
	    cmocka_unit_test(test_granted_by_and_source_names),
	    cmocka_unit_test(test_echoes_bounds),
	    cmocka_unit_test(test_regime_all_but_one_reported),
	    cmocka_unit_test(test_regime_never_before_any_report),
	    cmocka_unit_test(test_regime_other_terms),
	    cmocka_unit_test(test_regime_configuration),
	    cmocka_unit_test(test_regime_underflow),
	    cmocka_unit_test(test_contacts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
