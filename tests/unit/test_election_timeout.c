/* Tests of consensus/election_timeout.c: the election timeout scaled to the
 * round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "consensus/election_timeout.h"

static void test_wanted(void **state)
{
	(void)state;
	assert_int_equal(election_timeout_wanted(0, 0), 0);
	/* 4 x (216 ms + 4 x 50 ms) */
	assert_int_equal(election_timeout_wanted(216000, 50000), 1664);
	/* rounded up to a ms */
	assert_int_equal(election_timeout_wanted(1, 0), 1);
	assert_int_equal(election_timeout_wanted(UINT64_MAX, 0), UINT32_MAX);
}

static void test_clean_network_keeps_configured(void **state)
{
	(void)state;
	/* loopback: 0.3 ms round trip */
	assert_int_equal(election_timeout_next(500, 0, 300, 150), 500);
	assert_int_equal(election_timeout_next(500, 500, 300, 150), 500);
	/* no sample yet */
	assert_int_equal(election_timeout_next(500, 0, 0, 0), 500);
	assert_int_equal(election_timeout_next(500, 500, 0, 0), 500);
	/* a round trip just under configured / 4 asks for nothing more */
	assert_int_equal(election_timeout_next(500, 500, 100000, 6000), 500);
}

static void test_rises_at_once_within_ceiling(void **state)
{
	(void)state;
	assert_int_equal(election_timeout_next(500, 500, 216000, 50000), 1664);
	/* at most ELECTION_TIMEOUT_CEIL x configured */
	assert_int_equal(election_timeout_next(500, 500, 2000000, 500000),
			 500 * ELECTION_TIMEOUT_CEIL);
	assert_int_equal(election_timeout_next(500, 9999, 0, 0),
			 500 * ELECTION_TIMEOUT_CEIL - 3500 / 32);
	/* never under configured */
	assert_int_equal(election_timeout_next(500, 100, 0, 0), 500);
}

static void test_decays_slowly(void **state)
{
	unsigned t = 4000;
	unsigned steps = 0;

	(void)state;
	/* back to a clean network: 1/32 of the difference per step */
	t = election_timeout_next(500, t, 300, 150);
	assert_int_equal(t, 4000 - 3500 / 32);
	while (t > 500 && steps < 10000) {
		unsigned next = election_timeout_next(500, t, 300, 150);

		assert_true(next < t);
		assert_true(next >= 500);
		t = next;
		steps++;
	}
	assert_int_equal(t, 500);
	/* more than a hundred steps (heartbeat ticks) from the ceiling */
	assert_true(steps > 100);
	/* a lower but still raised want: decays towards it, not below */
	t = 2000;
	for (int i = 0; i < 1000; i++)
		t = election_timeout_next(500, t, 216000, 50000);
	assert_int_equal(t, 1664);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wanted),
	    cmocka_unit_test(test_clean_network_keeps_configured),
	    cmocka_unit_test(test_rises_at_once_within_ceiling),
	    cmocka_unit_test(test_decays_slowly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
