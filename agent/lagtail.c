/* lagtail: writes newer than the sender's last look at the store (see
 * lagtail.h). */
#include "agent/lagtail.h"

#include <string.h>

void lagtail_add(struct lagtail *t, uint64_t seq, uint64_t bytes,
		 uint64_t ms)
{
	if (t->n > 0 && seq <= t->w[t->n - 1].seq)
		return;
	if (t->n == LAGTAIL_MAX) {
		/* merge the two oldest: counts the same or more */
		t->w[1].bytes += t->w[0].bytes;
		if (t->w[0].ms < t->w[1].ms)
			t->w[1].ms = t->w[0].ms;
		memmove(&t->w[0], &t->w[1], (t->n - 1) * sizeof t->w[0]);
		t->n--;
	}
	t->w[t->n].seq = seq;
	t->w[t->n].bytes = bytes;
	t->w[t->n].ms = ms;
	t->n++;
}

void lagtail_trim(struct lagtail *t, uint64_t seen, uint64_t limit)
{
	unsigned from = 0, to = t->n;

	while (from < t->n && t->w[from].seq <= seen)
		from++;
	while (to > from && t->w[to - 1].seq > limit)
		to--;
	if (from > 0 && to > from)
		memmove(&t->w[0], &t->w[from], (to - from) * sizeof t->w[0]);
	t->n = to - from;
}

uint64_t lagtail_above(const struct lagtail *t, uint64_t acked,
		       uint64_t *oldest_ms)
{
	uint64_t bytes = 0, oldest = 0;

	for (unsigned i = 0; i < t->n; i++) {
		if (t->w[i].seq <= acked)
			continue;
		bytes += t->w[i].bytes;
		if (oldest == 0 || t->w[i].ms < oldest)
			oldest = t->w[i].ms;
	}
	if (oldest_ms != NULL)
		*oldest_ms = oldest;
	return bytes;
}
