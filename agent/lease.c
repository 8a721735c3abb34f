/* lease: lease and view bookkeeping (see lease.h). */
#include "agent/lease.h"

#include <stddef.h>

#define MS 1000000ULL /* ns per ms */

void lease_answer(struct lease *l, uint64_t now_ns, uint64_t sent_ns,
		  uint64_t leader, uint64_t commit_index, uint64_t lease_ms,
		  uint64_t drift_ms)
{
	bool held = now_ns < l->until_ns;

	if (!held && l->view_ok) {
		/* the lease lapsed: decisions may have been taken meanwhile */
		l->view_ok = false;
		l->target = 0;
	}
	/* Until a lease is held, the target follows the newest commit index
	 * named; the answer that grants the lease fixes it. */
	if (!held && !l->view_ok && commit_index > l->target)
		l->target = commit_index;
	if (lease_ms > drift_ms) {
		uint64_t until = sent_ns + (lease_ms - drift_ms) * MS;

		if (until > l->until_ns)
			l->until_ns = until;
		l->granted_by = leader;
	}
}

void lease_extend(struct lease *l, uint64_t now_ns, uint64_t self,
		  uint64_t until_ns)
{
	if (!lease_valid(l, now_ns)) {
		l->view_ok = false;
		l->target = 0;
	}
	if (until_ns > l->until_ns)
		l->until_ns = until_ns;
	l->granted_by = self;
}

bool lease_valid(const struct lease *l, uint64_t now_ns)
{
	return now_ns < l->until_ns;
}

uint64_t lease_left_ms(const struct lease *l, uint64_t now_ns)
{
	return l->until_ns > now_ns ? (l->until_ns - now_ns) / MS : 0;
}

bool lease_view_current(struct lease *l, uint64_t now_ns, uint64_t applied,
			bool leader, uint64_t commit_index)
{
	if (!lease_valid(l, now_ns))
		return false;
	if (l->view_ok)
		return true;
	if (leader)
		l->view_ok = applied >= commit_index;
	else
		l->view_ok = l->target != 0 && applied >= l->target;
	return l->view_ok;
}
