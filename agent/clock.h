/* clock: the time an agent module reads, as a small interface so that a
 * unit test can hand a module a clock it moves by hand.
 *
 * Two readings: the wall clock (milliseconds since the epoch: what goes
 * into Raft commands and the history, never used to measure an interval)
 * and a monotonic clock (nanoseconds from an arbitrary origin: leases,
 * timeouts, silences). A module keeps a borrowed `const struct clock *`
 * and reads it only through clock_wall_ms() and clock_mono_ns().
 *
 * Thread safety: the system clock may be read from any thread; a fake one
 * is what its test makes it. */
#ifndef POOLPAIR_CLOCK_H
#define POOLPAIR_CLOCK_H

#include <stdint.h>

struct clock {
	/* Milliseconds since 1970-01-01 UTC. */
	uint64_t (*wall_ms)(void *data);
	/* Nanoseconds, never decreasing between two calls. */
	uint64_t (*mono_ns)(void *data);
	void *data; /* handed to both; borrowed */
};

/* The process's clock: gettimeofday() and uv_hrtime(). Static: valid for
 * the life of the process, never freed. */
const struct clock *clock_system(void);

static inline uint64_t clock_wall_ms(const struct clock *c)
{
	return c->wall_ms(c->data);
}

static inline uint64_t clock_mono_ns(const struct clock *c)
{
	return c->mono_ns(c->data);
}

#endif
