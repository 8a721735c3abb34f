/* Unit tests of agent/lagtail.c: writes newer than the sender's last look
 * at the store are counted, never fewer than written, also when the tail
 * is full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/lagtail.h"

static void test_counts_what_is_above(void **state)
{
	struct lagtail t;
	uint64_t oldest = 99;

	(void)state;
	memset(&t, 0, sizeof t);
	assert_int_equal(lagtail_above(&t, 0, &oldest), 0);
	assert_int_equal(oldest, 0);
	lagtail_add(&t, 5, 30, 1000);
	lagtail_add(&t, 6, 40, 1010);
	lagtail_add(&t, 7, 50, 1020);
	lagtail_add(&t, 7, 999, 1030); /* not newer: ignored */
	lagtail_add(&t, 4, 999, 1040);
	assert_int_equal(t.n, 3);
	assert_int_equal(lagtail_above(&t, 0, &oldest), 120);
	assert_int_equal(oldest, 1000);
	/* what the pair acknowledged is not at risk */
	assert_int_equal(lagtail_above(&t, 5, &oldest), 90);
	assert_int_equal(oldest, 1010);
	assert_int_equal(lagtail_above(&t, 7, NULL), 0);
	/* the sender saw the store up to 6: those are in its figures */
	lagtail_trim(&t, 6, UINT64_MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(lagtail_above(&t, 0, &oldest), 50);
	assert_int_equal(oldest, 1020);
	/* a tail archived past 6: forgotten */
	lagtail_add(&t, 8, 60, 1050);
	lagtail_trim(&t, 0, 6);
	assert_int_equal(t.n, 0);
	assert_int_equal(lagtail_above(&t, 0, NULL), 0);
}

static void test_full_counts_more_never_less(void **state)
{
	struct lagtail t;
	uint64_t total = 0, oldest, seq;

	(void)state;
	memset(&t, 0, sizeof t);
	for (seq = 1; seq <= 3 * LAGTAIL_MAX; seq++) {
		lagtail_add(&t, seq, seq, 5000 + seq);
		total += seq;
	}
	assert_int_equal(t.n, LAGTAIL_MAX);
	assert_int_equal(lagtail_above(&t, 0, &oldest), total);
	assert_int_equal(oldest, 5001);
	/* above any acknowledgement: at least the truth */
	for (uint64_t acked = 0; acked <= 3 * LAGTAIL_MAX; acked++) {
		uint64_t truth = 0;

		for (seq = acked + 1; seq <= 3 * LAGTAIL_MAX; seq++)
			truth += seq;
		assert_true(lagtail_above(&t, acked, &oldest) >= truth);
		if (truth > 0)
			assert_true(oldest <= 5000 + acked + 1);
	}
	/* the newest entries stay exact */
	assert_int_equal(t.w[t.n - 1].seq, 3 * LAGTAIL_MAX);
	assert_int_equal(t.w[t.n - 1].bytes, 3 * LAGTAIL_MAX);
	/* trimming below a merged entry keeps it: more, never less */
	lagtail_trim(&t, 3, UINT64_MAX);
	assert_true(lagtail_above(&t, 3, NULL) >= total - 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts_what_is_above),
	    cmocka_unit_test(test_full_counts_more_never_less),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
