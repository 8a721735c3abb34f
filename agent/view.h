/* view: JSON renderings of the applied state and of this agent's view of
 * the cluster, as served by the HTTP API (docs/api.md): GET /v1/status and
 * the reads of pools, pairs, SBAs, sites, the CMS, members, the policy and
 * the history.
 *
 * The module reads the applied state (const struct fsm *), the node's view
 * of the leadership and of the log (a proposer), a clock, a few values of
 * the config, and what other modules know (the Raft configuration, what
 * was heard of the other agents, this agent's lease, why an automatic
 * failover would be refused, the backup figures) through struct
 * view_sources, bound to the real modules by the agent. Each is borrowed
 * and must outlive the view. It renders; it decides nothing and changes
 * nothing.
 *
 * Every function returning json_t * returns a new jansson reference owned
 * by the caller, or NULL on allocation failure. Loop thread only. */
#ifndef POOLPAIR_VIEW_H
#define POOLPAIR_VIEW_H

#include <jansson.h>
#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/proposer.h"
#include "consensus/fsm.h"

/* This agent's lease, as the members module holds it. */
struct view_lease {
	bool valid;	     /* holds a valid lease now */
	uint64_t left_ms;    /* how long it still holds, 0 when not */
	uint64_t granted_by; /* raft id of the leader of the last grant */
	const char *source;  /* how it was proved (lease_source_name():
				static) */
	bool view_current;   /* its applied state may be trusted
				(members_view_current()) */
};

/* What was last heard from another agent (a heartbeat or a report). */
struct view_heard {
	uint64_t last_ns; /* monotonic time (the view's clock), 0: never */
	int lease;	  /* it said it held a lease: 1, 0, -1 not said */
};

/* What the view reads of other modules. Every op: loop thread only, never
 * NULL. */
struct view_sources_ops {
	/* The Raft configuration (borrowed: valid until the next loop
	 * turn). */
	const struct raft_configuration *(*configuration)(void *impl);
	/* This node's Raft state: "leader", "follower", ... (static). */
	const char *(*raft_state)(void *impl);
	/* Raft id of the leader this node knows (0: none) and, in *address
	 * (non-NULL), its Raft address (borrowed; NULL when unknown). */
	uint64_t (*leader_raft)(void *impl, const char **address);
	/* The leader's view of member id: 1 reachable, 0 not, -1 unknown
	 * (this agent does not lead). */
	int (*reachable)(void *impl, uint64_t id);
	/* What was last heard from member id into *out; false when nothing
	 * was. */
	bool (*heard)(void *impl, uint64_t id, struct view_heard *out);
	/* This agent's lease into *out. */
	void (*lease)(void *impl, struct view_lease *out);
	/* The leader: why an automatic failover of pool would be refused
	 * now, "" when it would not (borrowed: valid until the next call). */
	const char *(*auto_refusal)(void *impl, const char *pool);
	/* GET /v1/status's "backup": per direction and category of every
	 * paired pool (a new reference, NULL out of memory). */
	json_t *(*backup)(void *impl);
	/* GET /v1/status's self.rebuild: the seeds of this agent's streams
	 * (dataplane_seeds_status()), null for a witness (a new reference,
	 * NULL out of memory). */
	json_t *(*rebuild)(void *impl);
	/* GET /v1/status's self.disk: the store's space and reserve
	 * (content_disk_json()); may be NULL, or return NULL (absent: no
	 * store). A new reference. */
	json_t *(*disk)(void *impl);
	/* The standbys of pool p as its writer knows them (this agent when
	 * it is the writer, else the writer's last report): an array of
	 * {id, state ("sync", "streaming", "seeding", "disconnected"), acked
	 * {data, content}, lag_records, lag_ms} (the view lists the pool's
	 * standbys from the applied state, with these figures where the ids
	 * match), and in *local_sync the writer's state of its local
	 * synchronous copy (dataplane_lsync_name(): static, NULL when not
	 * known). NULL when nothing is known of them (a new reference
	 * otherwise). */
	json_t *(*standbys)(void *impl, const struct fsm_pool *p,
			    const char **local_sync);
};

struct view_sources {
	const struct view_sources_ops *ops; /* static */
	void *impl;			    /* borrowed */
};

struct view_deps {
	const struct fsm *fsm;		 /* borrowed, read only */
	const struct proposer *proposer; /* borrowed: leadership, indexes */
	const struct clock *clock;	 /* borrowed: the monotonic clock of
					    the silences */
	const struct view_sources *src;	 /* borrowed */
	/* of the config (copied) */
	uint64_t self_id;
	char self_name[CONFIG_NAME_LEN];
	char self_site[CONFIG_NAME_LEN];
	char self_pool[CONFIG_NAME_LEN]; /* "" for a witness */
	uint32_t lease_ms;
	uint32_t grace_ms;
	uint64_t started_ns; /* when the agent started, on the clock's
				monotonic ns: before lease + grace has
				passed, a pool nobody was heard from is
				unknown, not down */
};

struct view {
	struct view_deps d; /* copied; pointers borrowed */
};

/* Set v up from deps (copied; the pointers borrowed). Returns 0. */
int view_init(struct view *v, const struct view_deps *deps);

/* A view holds no handle: cb (may be NULL) is called at once. */
void view_close(struct view *v, void (*cb)(struct view *v));

/* GET /v1/status: self (with its lease and the seeds of its streams,
 * "rebuild"), cluster (leader, term, indexes,
 * decisions, the digest of the applied state), members, sites, pools,
 * sbas, cms, policy, backup. */
json_t *view_status(const struct view *v);

/* A pool with its failover state, pause, replication mode and, on the
 * leader, why an automatic failover would be refused. healthy: whether
 * the leader hears from an agent of the pool (null on a follower). */
json_t *view_pool(const struct view *v, const struct fsm_pool *p);
json_t *view_pools(const struct view *v);
json_t *view_pairs(const struct view *v);
/* An SBA; its backup pool is down (backup_pool_down, with why) when the
 * pool is not normal, or none of its agents was heard within lease +
 * grace, or none heard holds a lease; null while unknown (the agent
 * started less than lease + grace ago). */
json_t *view_sbas(const struct view *v);
json_t *view_sites(const struct view *v);
json_t *view_cms(const struct view *v);
/* The members of the Raft configuration with what they registered and,
 * on the leader, whether they are reachable. */
json_t *view_members(const struct view *v);
json_t *view_pair(const struct fsm_pool *p); /* p paired */

#define VIEW_HISTORY_DEFAULT 50
#define VIEW_HISTORY_MAX 1000

/* {"history": [...], "next_before", "decisions", "kept", "kept_dropped"}:
 * up to limit decisions with seq < before (0: the newest), newest first;
 * next_before is the cursor of the next (older) page, null on the last. */
json_t *view_history(const struct view *v, uint64_t before, size_t limit);
/* {"failover": effective (the policy in effect, fsm_failover_policy()),
 * "failover_default": none was chosen, "max_lag_on_failover_ms",
 * "cooldown_ms"} of p. */
json_t *view_policy(const struct fsm_policy *p, const char *effective);

/* ISO 8601 UTC of a millisecond timestamp: "2026-11-26T11:33:37.123Z". */
void view_time_iso(uint64_t ms, char *out, size_t len);

#endif
