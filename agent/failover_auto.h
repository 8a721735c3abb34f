/* failover_auto: the gates of an automatic failover, as one decision.
 *
 * The leader's failover tick (agent/failover.c) gathers the facts about a
 * pool (policy auto, state normal, owning its user set, paired) and asks
 * failover_auto_gate() whether to fail it over now. Pure: no I/O, no
 * clock, no state; everything arrives in struct auto_facts.
 *
 * A pool is down when its writer is (members.h: the pool's liveness is
 * its writer's). The gates, in order (the first that holds answers):
 *   1. the pool was heard within down_ms (lease + grace): AUTO_HEALTHY;
 *   2. a local takeover comes first (writer.h): one is being committed,
 *      or the pool's synchronous standby was heard within alive_ms and
 *      reported where its copies stand: AUTO_HOLD (with sync standby 0,
 *      or that standby silent, the gates go on);
 *   3. the silence has been counted for less than down_ms (regime_ms:
 *      a new leader first waits one full lease + grace, from its
 *      election or from the earlier regimes' bound, lease.h):
 *      AUTO_WAIT;
 *   4. the pool is paused for maintenance: AUTO_REFUSED;
 *   5. its pair was not heard within alive_ms (the pair holds no lease):
 *      AUTO_REFUSED;
 *   6. its lag is unknown, or was more than max_lag_on_failover, or the
 *      pair's copy was being rebuilt (seeded, store_seed.h: it lacks
 *      items until the seed ends): AUTO_REFUSED;
 *   7. an earlier attempt asked to wait (retry_after_ms): AUTO_WAIT;
 *   8. the pool's last automatic failover (committed, so a new leader
 *      knows it) was less than cooldown ago: AUTO_REFUSED; a time in the
 *      future (clocks of two leaders apart) counts as just now;
 *   9. otherwise AUTO_GO.
 * AUTO_REFUSED and AUTO_HOLD come with the reason for status;
 * AUTO_HEALTHY with "". */
#ifndef POOLPAIR_FAILOVER_AUTO_H
#define POOLPAIR_FAILOVER_AUTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum auto_verdict {
	AUTO_HEALTHY, /* nothing to do: the pool is heard */
	AUTO_WAIT,    /* not now, no reason to show (why unchanged) */
	AUTO_REFUSED, /* not now: why says so */
	AUTO_GO,      /* fail the pool over now */
	AUTO_HOLD,    /* not now: a local takeover comes first (why) */
};

struct auto_facts {
	const char *pool;	   /* names, for the reason */
	const char *pair;
	uint64_t silent_ms;	   /* since the pool was heard; UINT64_MAX:
				      never since regime_ms began */
	uint64_t pair_silent_ms;   /* the same of its pair */
	uint64_t alive_ms;	   /* lease */
	uint64_t down_ms;	   /* lease + grace */
	uint64_t regime_ms;	   /* since the silence is counted: since
				      this agent leads, or since the
				      earlier regimes' bound (lease.h) */
	bool paused;		   /* committed maintenance pause */
	uint64_t paused_since_ms;
	const char *pause_reason;  /* "" none */
	bool lag_known;		   /* a lag report of the pool is known */
	uint64_t lag_ms;	   /* its age of the oldest unacknowledged write */
	uint64_t lag_age_ms;	   /* how old that report is */
	uint32_t max_lag_ms;	   /* policy max_lag_on_failover */
	bool seeding;		   /* the report said the pair's copy was
				      being seeded */
	uint64_t seed_items;	   /* of it: items stored, of the total */
	uint64_t seed_items_total;
	uint64_t now_ms;	   /* wall clock of the leader */
	uint64_t last_auto_ms;	   /* committed last automatic failover, 0
				      never */
	uint32_t cooldown_ms;	   /* policy cooldown */
	uint64_t retry_after_ms;   /* no attempt before (wall), 0 none */
	const char *sync_standby;  /* name of the pool's synchronous
				      standby, "" (or NULL) none */
	uint64_t sync_silent_ms;   /* since it was heard */
	bool sync_positions;	   /* it reported where its copies stand */
	bool local_takeover;	   /* a local takeover is being committed */
};

/* The verdict for f (borrowed); why (len bytes, may be NULL when len is
 * 0) receives the reason of AUTO_REFUSED, "" for AUTO_HEALTHY and
 * AUTO_GO, and is left alone for AUTO_WAIT. */
int failover_auto_gate(const struct auto_facts *f, char *why, size_t len);

/* "healthy", "wait", "refused", "go", "hold". Static string. */
const char *failover_auto_verdict_name(int verdict);

#endif
