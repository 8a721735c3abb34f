/* view: JSON renderings of the applied state and of this agent's view of
 * the cluster, as served by the HTTP API (docs/api.md).
 *
 * Every function returns a new jansson reference owned by the caller, or
 * NULL on allocation failure. Loop thread only. */
#ifndef POOLPAIR_VIEW_H
#define POOLPAIR_VIEW_H

#include <jansson.h>

#include "consensus/fsm.h"

struct agent;

json_t *view_status(struct agent *a);
json_t *view_pool(struct agent *a, const struct fsm_pool *p);
json_t *view_pools(struct agent *a);
json_t *view_pairs(struct agent *a);
json_t *view_sbas(struct agent *a);
json_t *view_sites(struct agent *a);
json_t *view_cms(struct agent *a);
json_t *view_members(struct agent *a);
json_t *view_pair(const struct fsm_pool *p); /* p paired */

#define VIEW_HISTORY_DEFAULT 50
#define VIEW_HISTORY_MAX 1000

/* {"history": [...], "next_before", "decisions", "kept", "kept_dropped"}:
 * up to limit decisions with seq < before (0: the newest), newest first;
 * next_before is the cursor of the next (older) page, null on the last. */
json_t *view_history(struct agent *a, uint64_t before, size_t limit);
/* {"failover": effective (the policy in effect, fsm_failover_policy()),
 * "failover_default": none was chosen, "max_lag_on_failover_ms",
 * "cooldown_ms"} of p. */
json_t *view_policy(const struct fsm_policy *p, const char *effective);

/* ISO 8601 UTC of a millisecond timestamp: "2026-11-26T11:33:37.123Z". */
void view_time_iso(uint64_t ms, char *out, size_t len);

#endif
