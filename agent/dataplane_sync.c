/* dataplane_sync: synchronous mode (see dataplane.h, dataplane_internal.h).
 *
 * In sync mode a durable local write is answered once the pair
 * acknowledged it at or past its sequence. When the pair acknowledged
 * nothing for the pair's sync_timeout, the mode falls back to async: every
 * waiting write is answered (DP_RELEASE_LOCAL, a documented success) and
 * later writes are answered at once, until the pair has caught up again.
 * Waits released because this agent stopped being the writer, or closes,
 * are DP_RELEASE_FAILED (dataplane_streams_stop). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"

#define MOD DATAPLANE_MOD_REPL

static void sync_set(struct dataplane *dp, int next, const char *why)
{
	static const char *const names[] = {"async", "sync",
					    "async (fallback)"};

	if (dp->sync == next)
		return;
	if (next == SYNC_FALLBACK)
		LOG_WARN(MOD, "replication mode %s -> %s: %s", names[dp->sync],
			 names[next], why);
	else
		LOG_INFO(MOD, "replication mode %s -> %s: %s", names[dp->sync],
			 names[next], why);
	if (next == SYNC_FALLBACK)
		dp->sync_fallbacks++;
	dp->sync = next;
}

const char *dataplane_sync_name(const struct dataplane *dp)
{
	switch (dp->sync) {
	case SYNC_ON:
		return "sync";
	case SYNC_FALLBACK:
		return "async (fallback)";
	default:
		return "async";
	}
}

/* Release waiters: all of them with how, or those of (user_set, lane)
 * acknowledged up to acked (DP_RELEASE_REPLICATED). */
static void release(struct dataplane *dp, const char *user_set, int lane,
		    uint64_t acked, bool all, enum dataplane_release how)
{
	struct dataplane_wait **pp = &dp->waiting;

	dp->waiting_tail = NULL;
	while (*pp != NULL) {
		struct dataplane_wait *w = *pp;

		if (all || (strcmp(w->user_set, user_set) == 0 &&
			    w->lane == lane && w->seq <= acked)) {
			*pp = w->next;
			dp->n_waiting--;
			w->cb(w->arg, all ? how : DP_RELEASE_REPLICATED);
			free(w);
			continue;
		}
		dp->waiting_tail = w;
		pp = &w->next;
	}
}

void dataplane_sync_acked(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t acked)
{
	release(dp, user_set, lane, acked, false, DP_RELEASE_REPLICATED);
}

void dataplane_sync_release_all(struct dataplane *dp,
				enum dataplane_release how)
{
	release(dp, NULL, 0, 0, true, how);
}

void dataplane_sync_check(struct dataplane *dp, uint64_t now_ns, bool caught_up)
{
	uint64_t timeout = (uint64_t)dp->sync_timeout_ms * 1000000;

	if (dp->sync == SYNC_ON && dp->waiting != NULL &&
	    now_ns - dp->waiting->since_ns > timeout) {
		char why[96];

		snprintf(why, sizeof why,
			 "the pair acknowledged nothing for %" PRIu32 " ms",
			 dp->sync_timeout_ms);
		sync_set(dp, SYNC_FALLBACK, why);
		release(dp, NULL, 0, 0, true, DP_RELEASE_LOCAL);
	} else if (dp->sync == SYNC_FALLBACK && caught_up) {
		sync_set(dp, SYNC_ON, "the pair has caught up");
	}
}

void dataplane_sync_seeding(struct dataplane *dp)
{
	if (dp->sync != SYNC_ON)
		return;
	sync_set(dp, SYNC_FALLBACK,
		 "the pair's copy is being rebuilt (seeded): it acknowledges "
		 "nothing before the seed ends");
	release(dp, NULL, 0, 0, true, DP_RELEASE_LOCAL);
}

void dataplane_sync_follow(struct dataplane *dp, bool want, uint32_t timeout_ms,
			   const char *why_off)
{
	if (timeout_ms != dp->sync_timeout_ms) {
		if (want)
			LOG_INFO(MOD,
				 "sync timeout %" PRIu32 " -> %" PRIu32
				 " ms: the pair's",
				 dp->sync_timeout_ms, timeout_ms);
		dp->sync_timeout_ms = timeout_ms;
	}
	if (want && dp->sync == SYNC_OFF) {
		sync_set(dp, SYNC_ON, "the pair's mode is sync");
	} else if (!want && dp->sync != SYNC_OFF) {
		sync_set(dp, SYNC_OFF, why_off);
		release(dp, NULL, 0, 0, true, DP_RELEASE_LOCAL);
	}
}

int dataplane_sync_wait(struct dataplane *dp, const char *user_set, int lane,
			uint64_t seq, dataplane_release_cb cb, void *arg)
{
	struct dataplane_wait *w;

	if (dp->sync != SYNC_ON)
		return 0;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return 0;
	snprintf(w->user_set, sizeof w->user_set, "%s", user_set);
	w->lane = lane;
	w->seq = seq;
	w->since_ns = clock_mono_ns(dp->deps.clock);
	w->cb = cb;
	w->arg = arg;
	if (dp->waiting_tail != NULL)
		dp->waiting_tail->next = w;
	else
		dp->waiting = w;
	dp->waiting_tail = w;
	dp->n_waiting++;
	return 1;
}
