/* Unit tests of replication/ackhist.c: an observation lands in the first
 * bucket whose bound holds it (bounds inclusive), the cumulative counts
 * grow to the count, weights count records, the sum follows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replication/ackhist.h"

static void test_bounds_sub_millisecond(void **state)
{
	(void)state;
	assert_int_equal(ACKHIST_BUCKETS, 12);
	assert_true(ACKHIST_LE[0] == 0.0001);
	assert_true(ACKHIST_LE[1] == 0.00025);
	assert_true(ACKHIST_LE[2] == 0.0005);
	assert_true(ACKHIST_LE[3] == 0.001);
	assert_true(ACKHIST_LE[ACKHIST_BUCKETS - 1] == 5.0);
	for (unsigned i = 1; i < ACKHIST_BUCKETS; i++)
		assert_true(ACKHIST_LE[i] > ACKHIST_LE[i - 1]);
}

static void test_placement(void **state)
{
	struct ackhist h;

	(void)state;
	memset(&h, 0, sizeof h);
	ackhist_observe(&h, 0.00005, 1);  /* <= 100 us */
	ackhist_observe(&h, 0.0001, 1);	  /* on the bound: same bucket */
	ackhist_observe(&h, 0.0003, 1);	  /* (250 us, 500 us] */
	ackhist_observe(&h, 0.0007, 1);	  /* (500 us, 1 ms] */
	ackhist_observe(&h, 0.003, 1);	  /* (2.5 ms, 5 ms] */
	ackhist_observe(&h, 7.0, 1);	  /* above 5 s: +Inf only */
	ackhist_observe(&h, -1.0, 1);	  /* a clock step back: 0 */
	assert_int_equal(h.n[0], 3);
	assert_int_equal(h.n[1], 0);
	assert_int_equal(h.n[2], 1);
	assert_int_equal(h.n[3], 1);
	assert_int_equal(h.n[4], 0);
	assert_int_equal(h.n[5], 1);
	assert_int_equal(h.n[ACKHIST_BUCKETS], 1);
	assert_int_equal(h.count, 7);
	assert_float_equal(h.sum, 0.00005 + 0.0001 + 0.0003 + 0.0007 + 0.003 +
				      7.0,
			   1e-12);
}

static void test_cumulative(void **state)
{
	struct ackhist h;
	uint64_t prev = 0;

	(void)state;
	memset(&h, 0, sizeof h);
	assert_int_equal(ackhist_cumulative(&h, ACKHIST_BUCKETS), 0);
	ackhist_observe(&h, 0.0002, 10); /* ten records at 200 us */
	ackhist_observe(&h, 0.002, 5);
	ackhist_observe(&h, 0.2, 1);
	ackhist_observe(&h, 0.2, 0); /* nothing */
	assert_int_equal(ackhist_cumulative(&h, 0), 0);
	assert_int_equal(ackhist_cumulative(&h, 1), 10); /* le 0.00025 */
	assert_int_equal(ackhist_cumulative(&h, 3), 10); /* le 0.001 */
	assert_int_equal(ackhist_cumulative(&h, 4), 15); /* le 0.0025 */
	assert_int_equal(ackhist_cumulative(&h, 8), 15); /* le 0.1 */
	assert_int_equal(ackhist_cumulative(&h, 9), 16); /* le 0.5 */
	assert_int_equal(ackhist_cumulative(&h, ACKHIST_BUCKETS), 16);
	assert_int_equal(ackhist_cumulative(&h, ACKHIST_BUCKETS + 5), 16);
	assert_int_equal(h.count, 16);
	for (unsigned i = 0; i <= ACKHIST_BUCKETS; i++) {
		assert_true(ackhist_cumulative(&h, i) >= prev);
		prev = ackhist_cumulative(&h, i);
	}
	assert_float_equal(h.sum, 10 * 0.0002 + 5 * 0.002 + 0.2, 1e-12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bounds_sub_millisecond),
	    cmocka_unit_test(test_placement),
	    cmocka_unit_test(test_cumulative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
