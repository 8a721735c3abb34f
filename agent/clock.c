/* clock: the system clock (see clock.h). */
#include "agent/clock.h"

#include <stddef.h>
#include <sys/time.h>
#include <uv.h>

static uint64_t system_wall_ms(void *data)
{
	struct timeval tv;

	(void)data;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static uint64_t system_mono_ns(void *data)
{
	(void)data;
	return uv_hrtime();
}

static const struct clock system_clock = {
    .wall_ms = system_wall_ms,
    .mono_ns = system_mono_ns,
    .data = NULL,
};

const struct clock *clock_system(void) { return &system_clock; }
