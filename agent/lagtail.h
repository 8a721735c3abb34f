/* lagtail: the writes of one stream (user set, lane) committed after the
 * sender last read the stream's figures from the store.
 *
 * The sender reads head, unacknowledged bytes and the oldest
 * unacknowledged write from the store about once a second; a report made
 * in between would count the newer writes' records (the agent knows its
 * live head) but not their bytes nor, when they are the only ones, their
 * age. A lagtail remembers those writes (sequence, bytes, time) so that a
 * report never counts fewer bytes or a younger oldest write than the truth
 * at the moment it is made. Bounded: when full, the two oldest entries
 * merge (the later sequence, both sizes, the earlier time), which can only
 * count more. Pure: no clock, no allocation. */
#ifndef POOLPAIR_LAGTAIL_H
#define POOLPAIR_LAGTAIL_H

#include <stdint.h>

#define LAGTAIL_MAX 32

struct lagtail {
	unsigned n;
	struct {
		uint64_t seq;	/* the write's sequence (the newest, merged) */
		uint64_t bytes; /* key + value bytes (all of them, merged) */
		uint64_t ms;	/* wall time of the write (the oldest, merged) */
	} w[LAGTAIL_MAX];	/* oldest first */
};

/* Remember a write; sequences come in increasing order (an older one
 * than the newest held is ignored). Zero-initialised is empty. */
void lagtail_add(struct lagtail *t, uint64_t seq, uint64_t bytes,
		 uint64_t ms);

/* Forget the writes at or below seen (the head the sender read from the
 * store: its figures hold them) and above limit (a tail that is no longer
 * ahead, e.g. archived); pass UINT64_MAX for no limit. */
void lagtail_trim(struct lagtail *t, uint64_t seen, uint64_t limit);

/* Bytes of the writes held above acked; *oldest_ms (may be NULL) gets the
 * time of the oldest of them, 0 when there is none. */
uint64_t lagtail_above(const struct lagtail *t, uint64_t acked,
		       uint64_t *oldest_ms);

#endif
