/* config_profile: the timing sets that [failover] profile names (config.h,
 * "Timing profiles"), and the effective timing values of a configuration.
 *
 * default: the values the agent always had. A pool is declared down
 * lease + grace = 2.5 s after its last heartbeat; a pool agent rides out
 * a stall (GC-like pause, a slow disk, a WAN hiccup) of up to about
 * lease - drift_margin - heartbeat = 1.65 s without losing its lease.
 *
 * fast: a pool is declared down lease + grace = 650 ms after its last
 * heartbeat, so that an unplanned failover ends well under a second when
 * the witness leads Raft. The price: 2.5 times the heartbeats, and a stall
 * of more than about lease - drift_margin - heartbeat = 350 ms (a pause,
 * a burst of loss, a round trip that long) costs the lease, and 650 ms of
 * silence at the leader a failover (a 500 ms stop of the process was
 * enough once: bench/README.md, "Fast profile"). Every relation the checks want holds with
 * room: heartbeat (100) < lease (500), drift_margin (50) < lease,
 * heartbeat_timeout (50) < election_timeout (300); the least time a
 * heartbeat waits for its answer (4 x heartbeat = 400 ms,
 * members_hb_timeout_ms()) is within the most, the lease it renews
 * (lease - drift_margin = 450 ms).
 *
 * The values are in one table, read by jepsen/lib/defaults.py: keep the
 * form {"name", {.field = number, ...}}. */
#include "agent/config.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	struct config_timing t;
} profiles[CONFIG_PROFILE_COUNT] = {
    [CONFIG_PROFILE_DEFAULT] = {"default",
				{.heartbeat_ms = 250,
				 .lease_ms = 2000,
				 .grace_ms = 500,
				 .drift_margin_ms = 100,
				 .election_timeout_ms = 500,
				 .heartbeat_timeout_ms = 100}},
    [CONFIG_PROFILE_FAST] = {"fast",
			     {.heartbeat_ms = 100,
			      .lease_ms = 500,
			      .grace_ms = 150,
			      .drift_margin_ms = 50,
			      .election_timeout_ms = 300,
			      .heartbeat_timeout_ms = 50}},
};

const char *config_profile_name(int profile)
{
	if (profile < 0 || profile >= CONFIG_PROFILE_COUNT)
		return "?";
	return profiles[profile].name;
}

int config_profile_find(const char *name)
{
	for (int i = 0; i < CONFIG_PROFILE_COUNT; i++)
		if (strcmp(profiles[i].name, name) == 0)
			return i;
	return -1;
}

int config_profile_timing(int profile, struct config_timing *out)
{
	if (profile < 0 || profile >= CONFIG_PROFILE_COUNT)
		return -1;
	*out = profiles[profile].t;
	return 0;
}

void config_timing_of(const struct config *c, struct config_timing *out)
{
	out->heartbeat_ms = c->heartbeat_ms;
	out->lease_ms = c->lease_ms;
	out->grace_ms = c->grace_ms;
	out->drift_margin_ms = c->drift_margin_ms;
	out->election_timeout_ms = c->election_timeout_ms;
	out->heartbeat_timeout_ms = c->heartbeat_timeout_ms;
}

int config_timing_describe(const struct config *c, char *buf, size_t len)
{
	return snprintf(buf, len,
			"profile %s: heartbeat %ums, lease %ums, grace %ums, "
			"drift_margin %ums, election_timeout %ums, "
			"heartbeat_timeout %ums",
			config_profile_name(c->profile), c->heartbeat_ms,
			c->lease_ms, c->grace_ms, c->drift_margin_ms,
			c->election_timeout_ms, c->heartbeat_timeout_ms);
}
