/* hlc: hybrid logical clock for change records.
 *
 * A timestamp is one uint64_t: the wall-clock time in milliseconds since
 * the Unix epoch in the upper 48 bits and a 16-bit counter in the lower 16
 * bits, so timestamps compare as plain integers and stay close to real
 * time. Every value a clock hands out is strictly greater than every value
 * it handed out or received before, even when the wall clock steps back:
 * then the counter runs on, and when the counter overflows it carries into
 * the millisecond part ("borrows the next ms").
 *
 * Pure: no clocks are read here; the caller passes the wall time it read
 * (CLOCK_REALTIME in ms). No allocation, no global state. A struct hlc is
 * not locked: one owner (thread) per clock. */
#ifndef POOLPAIR_HLC_H
#define POOLPAIR_HLC_H

#include <stdint.h>

#define HLC_COUNTER_BITS 16
#define HLC_COUNTER_MASK ((uint64_t)0xffff)
#define HLC_MS_MAX (((uint64_t)1 << 48) - 1) /* larger wall times clamp */

/* Zero-initialised (struct hlc h = {0}) is a valid new clock. */
struct hlc {
	uint64_t last; /* largest timestamp handed out or received */
};

/* Start a clock that will only hand out values greater than last (e.g. the
 * largest timestamp found in the store after a restart; 0 for none). */
void hlc_init(struct hlc *h, uint64_t last);

/* Timestamp for a local event at wall time wall_ms: (wall_ms << 16) when
 * that is greater than h->last, otherwise h->last + 1. Records the result
 * in h->last and returns it. wall_ms above HLC_MS_MAX is clamped.
 * Precondition: h is not NULL. Once h->last reaches UINT64_MAX (not before
 * the year 10889) it stays there. */
uint64_t hlc_now(struct hlc *h, uint64_t wall_ms);

/* Merge a timestamp received from the pair: returns the largest of
 * h->last + 1, remote + 1 and (wall_ms << 16), records it in h->last. The
 * result is greater than both the local and the remote history. remote is
 * trusted as given: a caller that wants to refuse timestamps too far in
 * the future compares hlc_ms(remote) with its wall time first.
 * Precondition: h is not NULL. */
uint64_t hlc_update(struct hlc *h, uint64_t remote, uint64_t wall_ms);

/* The millisecond part of timestamp t. */
uint64_t hlc_ms(uint64_t t);

/* The counter part of timestamp t. */
uint16_t hlc_counter(uint64_t t);

#endif /* POOLPAIR_HLC_H */
