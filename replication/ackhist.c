/* ackhist: acknowledgement time histogram (see ackhist.h). */
#include "replication/ackhist.h"

const double ACKHIST_LE[ACKHIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,   0.025,   0.1,    0.5,   1.0,    5.0};

void ackhist_observe(struct ackhist *h, double seconds, uint64_t weight)
{
	unsigned i = 0;

	if (weight == 0)
		return;
	if (!(seconds > 0))
		seconds = 0;
	while (i < ACKHIST_BUCKETS && seconds > ACKHIST_LE[i])
		i++;
	h->n[i] += weight;
	h->count += weight;
	h->sum += seconds * (double)weight;
}

uint64_t ackhist_cumulative(const struct ackhist *h, unsigned i)
{
	uint64_t c = 0;

	if (i > ACKHIST_BUCKETS)
		i = ACKHIST_BUCKETS;
	for (unsigned k = 0; k <= i; k++)
		c += h->n[k];
	return c;
}
