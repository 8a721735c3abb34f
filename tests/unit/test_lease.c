/* Tests of agent/lease.c: a lease from heartbeat answers or barriers, and
 * when the applied state may be trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/lease.h"

#define MS 1000000ULL
#define LEASE 1000 /* ms granted */
#define DRIFT 100  /* ms margin */

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
	lease_extend(&l, 1 * MS, 4, 900 * MS);
	assert_int_equal(l.granted_by, 4);
	assert_false(lease_view_current(&l, 2 * MS, 6, true, 7));
	assert_true(lease_view_current(&l, 3 * MS, 7, true, 7));
	/* latched while the lease holds */
	assert_true(lease_view_current(&l, 4 * MS, 7, true, 8));
	/* a lease extended after it had lapsed vouches for nothing */
	lease_extend(&l, 1000 * MS, 4, 1900 * MS);
	assert_false(lease_view_current(&l, 1001 * MS, 7, true, 8));
	assert_true(lease_view_current(&l, 1002 * MS, 8, true, 8));
	/* an earlier barrier never shortens the lease */
	lease_extend(&l, 1003 * MS, 4, 1500 * MS);
	assert_true(lease_valid(&l, 1899 * MS));
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
