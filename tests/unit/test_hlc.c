/* Tests of replication/hlc.c: the hybrid logical clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replication/hlc.h"

#define T(ms, c) (((uint64_t)(ms) << 16) | (uint64_t)(c))

static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(hlc_ms(T(1700000000123ull, 5)), 1700000000123ull);
	assert_int_equal(hlc_counter(T(1700000000123ull, 5)), 5);
	assert_int_equal(hlc_counter(T(1, 0xffff)), 0xffff);
}

static void test_now_follows_wall(void **state)
{
	struct hlc h = {0};

	(void)state;
	assert_int_equal(hlc_now(&h, 1000), T(1000, 0));
	assert_int_equal(hlc_now(&h, 1000), T(1000, 1));
	assert_int_equal(hlc_now(&h, 1000), T(1000, 2));
	assert_int_equal(hlc_now(&h, 1001), T(1001, 0));
	assert_int_equal(h.last, T(1001, 0));
}

static void test_wall_goes_backwards(void **state)
{
	struct hlc h = {0};
	uint64_t a, b, c;

	(void)state;
	a = hlc_now(&h, 5000);
	b = hlc_now(&h, 4000); /* clock stepped back one second */
	c = hlc_now(&h, 4500);
	assert_true(b > a);
	assert_true(c > b);
	assert_int_equal(hlc_ms(c), 5000);
	assert_int_equal(hlc_counter(c), 2);
	/* once the wall clock passes the old time again, it leads */
	assert_int_equal(hlc_now(&h, 5001), T(5001, 0));
}

static void test_counter_overflow(void **state)
{
	struct hlc h = {0};
	uint64_t t = 0;

	(void)state;
	for (unsigned i = 0; i <= 0xffff; i++)
		t = hlc_now(&h, 7000);
	assert_int_equal(t, T(7000, 0xffff));
	t = hlc_now(&h, 7000); /* borrows the next millisecond */
	assert_int_equal(t, T(7001, 0));
	/* a wall time equal to the borrowed ms counts on from there */
	assert_int_equal(hlc_now(&h, 7001), T(7001, 1));
	assert_int_equal(hlc_now(&h, 7002), T(7002, 0));
}

static void test_receive_from_future(void **state)
{
	struct hlc h = {0};
	uint64_t remote = T(90000, 17);
	uint64_t t;

	(void)state;
	hlc_now(&h, 1000);
	t = hlc_update(&h, remote, 1000);
	assert_int_equal(t, T(90000, 18));
	/* local events stay after the remote time while the wall lags */
	assert_int_equal(hlc_now(&h, 1001), T(90000, 19));
}

static void test_receive_from_past(void **state)
{
	struct hlc h = {0};
	uint64_t t;

	(void)state;
	hlc_now(&h, 2000);
	/* wall leads both: wall time, counter 0 */
	assert_int_equal(hlc_update(&h, T(10, 3), 3000), T(3000, 0));
	/* local leads: local + 1 */
	t = hlc_update(&h, T(10, 3), 2500);
	assert_int_equal(t, T(3000, 1));
	/* remote equal to local: still greater than both */
	t = hlc_update(&h, T(3000, 1), 2500);
	assert_int_equal(t, T(3000, 2));
}

static void test_init_and_clamp(void **state)
{
	struct hlc h;

	(void)state;
	hlc_init(&h, T(123456, 9));
	assert_int_equal(hlc_now(&h, 100), T(123456, 10));
	/* wall times beyond 48 bits clamp instead of wrapping */
	hlc_init(&h, 0);
	assert_int_equal(hlc_ms(hlc_now(&h, UINT64_MAX)), HLC_MS_MAX);
	hlc_init(&h, UINT64_MAX);
	assert_int_equal(hlc_now(&h, 5), UINT64_MAX);
	assert_int_equal(hlc_update(&h, UINT64_MAX, 5), UINT64_MAX);
}

/* 1M calls with a jittery wall clock that sometimes steps back and
 * remote timestamps mixed in: every value is strictly greater. */
static void test_strictly_increasing(void **state)
{
	struct hlc h = {0};
	uint64_t s = 0x243f6a8885a308d3ull;
	uint64_t wall = 1700000000000ull;
	uint64_t prev = 0;

	(void)state;
	for (unsigned i = 0; i < 1000000; i++) {
		uint64_t t, r;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		r = s % 100;
		if (r < 60)
			wall += 0;
		else if (r < 90)
			wall += 1;
		else if (r < 98)
			wall -= s % 50; /* NTP step back */
		else
			wall += s % 1000;
		if (r % 7 == 0) {
			uint64_t remote = T(wall + (s >> 40) % 3000 - 1500,
					    (s >> 8) & 0xffff);

			t = hlc_update(&h, remote, wall);
			assert_true(t > remote);
		} else {
			t = hlc_now(&h, wall);
		}
		assert_true(t > prev);
		assert_true(hlc_ms(t) >= wall);
		prev = t;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_now_follows_wall),
	    cmocka_unit_test(test_wall_goes_backwards),
	    cmocka_unit_test(test_counter_overflow),
	    cmocka_unit_test(test_receive_from_future),
	    cmocka_unit_test(test_receive_from_past),
	    cmocka_unit_test(test_init_and_clamp),
	    cmocka_unit_test(test_strictly_increasing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
