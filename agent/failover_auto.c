/* failover_auto: the gates of an automatic failover (see
 * failover_auto.h). */
#include "agent/failover_auto.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

const char *failover_auto_verdict_name(int verdict)
{
	switch (verdict) {
	case AUTO_HEALTHY:
		return "healthy";
	case AUTO_WAIT:
		return "wait";
	case AUTO_REFUSED:
		return "refused";
	case AUTO_GO:
		return "go";
	case AUTO_HOLD:
		return "hold";
	default:
		return "?";
	}
}

/* "2026-11-26T11:33:37Z" of a wall-clock time in ms. */
static void iso(uint64_t ms, char *out, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void say(char *why, size_t len, const char *text)
{
	if (len > 0)
		snprintf(why, len, "%s", text);
}

int failover_auto_gate(const struct auto_facts *f, char *why, size_t len)
{
	uint64_t since;

	if (f->silent_ms <= f->down_ms) {
		say(why, len, "");
		return AUTO_HEALTHY;
	}
	if (f->local_takeover) {
		if (len > 0)
			snprintf(why, len,
				 "%s is down: a local takeover by its "
				 "synchronous standby %s is being committed",
				 f->pool,
				 f->sync_standby != NULL ? f->sync_standby : "");
		return AUTO_HOLD;
	}
	if (f->sync_standby != NULL && f->sync_standby[0] != '\0' &&
	    f->sync_silent_ms <= f->alive_ms && f->sync_positions) {
		if (len > 0)
			snprintf(why, len,
				 "%s is down but its synchronous standby %s "
				 "is alive: a local takeover comes first, no "
				 "failover to %s",
				 f->pool, f->sync_standby, f->pair);
		return AUTO_HOLD;
	}
	if (f->regime_ms < f->down_ms)
		return AUTO_WAIT;
	if (f->paused) {
		char at[32];

		iso(f->paused_since_ms, at, sizeof at);
		if (len > 0 && f->pause_reason[0] != '\0')
			snprintf(why, len,
				 "%s is down but paused for maintenance since "
				 "%s (%s): resume it to allow an automatic "
				 "failover",
				 f->pool, at, f->pause_reason);
		else if (len > 0)
			snprintf(why, len,
				 "%s is down but paused for maintenance since "
				 "%s: resume it to allow an automatic failover",
				 f->pool, at);
		return AUTO_REFUSED;
	}
	if (f->pair_silent_ms > f->alive_ms) {
		if (len > 0)
			snprintf(why, len,
				 "%s is down but its pair %s holds no lease",
				 f->pool, f->pair);
		return AUTO_REFUSED;
	}
	if (!f->lag_known) {
		if (len > 0)
			snprintf(why, len, "%s is down and its lag is unknown",
				 f->pool);
		return AUTO_REFUSED;
	}
	if (f->seeding) {
		if (len > 0)
			snprintf(why, len,
				 "%s is down but %s's copy of it was being "
				 "rebuilt: %" PRIu64 " of %" PRIu64
				 " items (reported %" PRIu64 " ms before)",
				 f->pool, f->pair, f->seed_items,
				 f->seed_items_total, f->lag_age_ms);
		return AUTO_REFUSED;
	}
	if (f->lag_ms > f->max_lag_ms) {
		if (len > 0)
			snprintf(why, len,
				 "%s is down but was %" PRIu64
				 " ms behind (max_lag_on_failover %" PRIu32
				 " ms; reported %" PRIu64 " ms before)",
				 f->pool, f->lag_ms, f->max_lag_ms,
				 f->lag_age_ms);
		return AUTO_REFUSED;
	}
	if (f->now_ms < f->retry_after_ms)
		return AUTO_WAIT;
	if (f->last_auto_ms != 0) {
		since = f->now_ms > f->last_auto_ms ? f->now_ms - f->last_auto_ms
						    : 0;
		if (since < f->cooldown_ms) {
			if (len > 0)
				snprintf(why, len,
					 "cooldown: the last automatic failover "
					 "of %s was %" PRIu64
					 " ms ago (cooldown %" PRIu32 " ms)",
					 f->pool, since, f->cooldown_ms);
			return AUTO_REFUSED;
		}
	}
	say(why, len, "");
	return AUTO_GO;
}
