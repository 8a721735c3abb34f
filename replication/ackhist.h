/* ackhist: a histogram of replication acknowledgement times (seconds from
 * a record's local commit to the pair's acknowledgement of it), in the
 * shape of a Prometheus histogram: fixed upper bounds ACKHIST_LE, one
 * count per bucket, the count and the sum of every observation.
 *
 * Pure: no clock, no allocation, no handle. Zero-initialised is empty. */
#ifndef POOLPAIR_REPLICATION_ACKHIST_H
#define POOLPAIR_REPLICATION_ACKHIST_H

#include <stdint.h>

#define ACKHIST_BUCKETS 12

/* Upper bounds of the buckets, seconds, increasing: 0.0001 0.00025 0.0005
 * 0.001 0.0025 0.005 0.01 0.025 0.1 0.5 1 5 (then +Inf). */
extern const double ACKHIST_LE[ACKHIST_BUCKETS];

struct ackhist {
	/* observations in (LE[i-1], LE[i]]; n[ACKHIST_BUCKETS]: above the
	 * last bound */
	uint64_t n[ACKHIST_BUCKETS + 1];
	uint64_t count; /* every observation */
	double sum;	/* of their seconds */
};

/* Count @weight records that each took @seconds (negative counts as 0). */
void ackhist_observe(struct ackhist *h, double seconds, uint64_t weight);

/* The cumulative count of bucket i (observations <= ACKHIST_LE[i]); i ==
 * ACKHIST_BUCKETS gives the +Inf bucket, equal to count. */
uint64_t ackhist_cumulative(const struct ackhist *h, unsigned i);

#endif
