/* hlc: hybrid logical clock (48-bit ms << 16 | 16-bit counter). */
#include "replication/hlc.h"

static uint64_t wall_part(uint64_t wall_ms)
{
	if (wall_ms > HLC_MS_MAX)
		wall_ms = HLC_MS_MAX;
	return wall_ms << HLC_COUNTER_BITS;
}

/* x + 1, staying at UINT64_MAX instead of wrapping to 0. */
static uint64_t next_of(uint64_t x) { return x == UINT64_MAX ? x : x + 1; }

void hlc_init(struct hlc *h, uint64_t last) { h->last = last; }

uint64_t hlc_now(struct hlc *h, uint64_t wall_ms)
{
	uint64_t w = wall_part(wall_ms);

	/* When the wall clock did not move past the last value, count on;
	 * a full counter carries into the millisecond part by itself. */
	h->last = w > h->last ? w : next_of(h->last);
	return h->last;
}

uint64_t hlc_update(struct hlc *h, uint64_t remote, uint64_t wall_ms)
{
	uint64_t w = wall_part(wall_ms);
	uint64_t m = h->last > remote ? h->last : remote;

	h->last = w > m ? w : next_of(m);
	return h->last;
}

uint64_t hlc_ms(uint64_t t) { return t >> HLC_COUNTER_BITS; }

uint16_t hlc_counter(uint64_t t) { return (uint16_t)(t & HLC_COUNTER_MASK); }
