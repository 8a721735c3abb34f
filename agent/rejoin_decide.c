/* rejoin_decide: the decision of an empty Raft directory (see
 * rejoin_decide.h). */
#include "agent/rejoin_decide.h"

enum rejoin_decision rejoin_decide(const struct rejoin_situation *s,
				   const struct rejoin_answer *a, size_t n)
{
	bool all = true, cluster = false;

	for (size_t i = 0; i < n; i++) {
		if (!a[i].answered) {
			all = false;
			continue;
		}
		if (!a[i].has_cluster || a[i].term <= 1)
			continue; /* nothing, or a first start under way */
		if (a[i].knows_id)
			return REJOIN_REJOIN;
		cluster = true;
	}
	if (cluster)
		return s->bootstrap ? REJOIN_REJOIN : REJOIN_JOIN;
	if (!s->bootstrap)
		return REJOIN_WAIT;
	if (n == 0)
		return s->alone || s->first_start ? REJOIN_BOOTSTRAP
						  : REJOIN_REFUSE;
	return all ? REJOIN_BOOTSTRAP : REJOIN_WAIT;
}

const char *rejoin_decision_name(enum rejoin_decision d)
{
	switch (d) {
	case REJOIN_WAIT:
		return "wait";
	case REJOIN_BOOTSTRAP:
		return "bootstrap";
	case REJOIN_REJOIN:
		return "rejoin";
	case REJOIN_JOIN:
		return "join";
	case REJOIN_REFUSE:
		return "refuse";
	}
	return "unknown";
}
