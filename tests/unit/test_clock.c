/* Tests of agent/clock.c: the system clock and the interface a fake one
 * fills in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <cmocka.h>

#include "agent/clock.h"

static uint64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void system_wall_is_the_time_of_day(void **state)
{
	const struct clock *c = clock_system();
	uint64_t before, wall, after;

	(void)state;
	assert_ptr_equal(c, clock_system());
	before = now_ms();
	wall = clock_wall_ms(c);
	after = now_ms();
	assert_true(wall >= before);
	assert_true(wall <= after);
}

static void system_mono_moves_forward(void **state)
{
	const struct clock *c = clock_system();
	struct timespec ms = {0, 1000000};
	uint64_t a, b;

	(void)state;
	a = clock_mono_ns(c);
	nanosleep(&ms, NULL);
	b = clock_mono_ns(c);
	assert_true(b >= a + 1000000);
}

struct fake {
	uint64_t wall_ms, mono_ns;
	unsigned reads;
};

static uint64_t fake_wall(void *data)
{
	struct fake *f = data;

	f->reads++;
	return f->wall_ms;
}

static uint64_t fake_mono(void *data)
{
	struct fake *f = data;

	f->reads++;
	return f->mono_ns;
}

static void fake_clock_reads_its_data(void **state)
{
	struct fake f = {.wall_ms = 1700000000000ULL, .mono_ns = 42};
	struct clock c = {
	    .wall_ms = fake_wall, .mono_ns = fake_mono, .data = &f};

	(void)state;
	assert_int_equal(clock_wall_ms(&c), 1700000000000ULL);
	assert_int_equal(clock_mono_ns(&c), 42);
	f.mono_ns += 5;
	assert_int_equal(clock_mono_ns(&c), 47);
	assert_int_equal(f.reads, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(system_wall_is_the_time_of_day),
	    cmocka_unit_test(system_mono_moves_forward),
	    cmocka_unit_test(fake_clock_reads_its_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
