/* members: this agent's place in the cluster.
 *
 * - registration: the agent records itself (name, site, pool, addresses)
 *   in the FSM through a command, so every agent can find every other's
 *   API and data addresses from the applied state alone;
 * - join: an agent configured with `[cluster] join` asks the leader to add
 *   it to the Raft configuration;
 * - heartbeats: every agent reports to the leader every `heartbeat`; the
 *   leader's record of them is what "reachable" means in status; the
 *   leader's answer grants a lease and carries its clock, which the next
 *   heartbeat echoes;
 * - the leader's own lease: from its committed barriers and from the
 *   echoes of a majority of the voters (lease.h);
 * - voter placement: the leader applies consensus/placement.h one change at
 *   a time (promote caught-up members, spread voters over sites, replace a
 *   long-unreachable voter).
 *
 * Loop thread only. */
#ifndef POOLPAIR_MEMBERS_H
#define POOLPAIR_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/lease.h"
#include "consensus/fsm.h"

struct agent;
struct hclient_req;

enum members_reg_state {
	REG_UNREGISTERED, /* not (or not identically) in the FSM */
	REG_SENDING,      /* a registration is in flight */
	REG_DONE,         /* the FSM holds this agent as configured */
};

enum members_join_state {
	JOIN_NONE,        /* bootstrapped, or already a member */
	JOIN_ASKING,      /* request in flight */
	JOIN_WAITING,     /* backing off before the next try */
	JOIN_DONE,        /* the leader added us */
};

#define MEMBERS_SETS 4

/* One user set a pool agent sends to its pair, as it reported it: what
 * the pair has not acknowledged yet, and whether everything written is
 * acknowledged (drained). */
struct members_set_report {
	char user_set[FSM_NAME_LEN];
	uint64_t lag_records;
	uint64_t lag_bytes;
	uint64_t lag_ms;
	bool drained;
};

#define MEMBERS_STREAMS 8

/* One stream a pool agent sends its pair (a user set on one lane), as it
 * reported it: the figures of its backup status (backup.h). */
struct members_stream_report {
	char user_set[FSM_NAME_LEN];
	char category[16]; /* "user_data", "content" or "cms" */
	char state[16];    /* "final", "steady", "backlog" or "error" */
	uint64_t head_seq;
	uint64_t acked_seq;
	uint64_t lag_records;
	uint64_t lag_bytes;
	uint64_t lag_ms;   /* age of the oldest unacknowledged record */
};

/* What an agent reports with each heartbeat (and to every other agent). */
struct members_report {
	uint64_t applied;  /* its applied index */
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n_sets;
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned n_streams;
	int lease;         /* 1 it holds a lease, 0 not, -1 not said */
};

/* The echo a heartbeat carries: the clock of the leader's last answer
 * (members_clock_ms()), and the Raft term and leader the sender saw when
 * it sent the heartbeat. */
struct members_echo {
	uint64_t clock_ms;
	uint64_t term;
	uint64_t leader;
};

struct members_seen {
	uint64_t id;
	uint64_t last_ns;     /* uv_hrtime of the last heartbeat received */
	uint64_t applied;     /* applied index it reported */
	/* what a pool agent reported of the user sets it sends its pair */
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n_sets;
	/* and of each of its streams, for the backup status */
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned n_streams;
	int lease;            /* whether it said it held a lease: 1, 0, -1 */
};

struct members {
	struct agent *agent;  /* borrowed: the owner */
	uv_timer_t tick;      /* heartbeats, registration retries, placement */
	int reg_state;
	int join_state;
	uint64_t join_next_ns;
	char join_redirect[512];   /* Location of the last 307, or "" */
	/* Where a follower last sent us (307): the leader's API, for agents
	 * that cannot learn it from the log yet (a spare gets no entries). */
	char hint_host[256];
	uint16_t hint_port;
	unsigned join_backoff_ms;
	struct hclient_req *hb_req;   /* heartbeat in flight */
	struct hclient_req *reg_req;  /* registration in flight (follower) */
	struct hclient_req *join_req; /* join in flight */
	uint64_t reg_next_ns;
	struct members_seen seen[FSM_MAX_MEMBERS];
	unsigned n_seen;
	uint64_t leader_since_ns;     /* when this agent became leader, 0 if not */
	bool placing;                 /* a placement change is in flight */
	/* this agent's lease and whether its view may be trusted: granted
	 * by the leader's heartbeat answers (a follower) or proved by its own
	 * committed barriers and by the echoes of its answers (the leader);
	 * see lease.h */
	struct lease lease;
	uint64_t hb_sent_ns;          /* send time of the heartbeat in flight */
	/* the clock of the last heartbeat answer, with its term and leader,
	 * to echo in the next heartbeat; clock 0: nothing to echo (none yet,
	 * or the leader's version sends none) */
	struct members_echo echo_next;
	struct lease_echoes echoes;   /* leader: the echoes of this term */
	bool barrier_inflight;
	uint64_t barrier_start_ns;
	/* leader, this leadership: the newest time each source proved (0:
	 * none yet) and how long the last committed barrier took */
	uint64_t barrier_proved_ns;
	uint64_t echoes_proved_ns;
	uint64_t barrier_took_ns;
	uint64_t leases_granted;      /* leader: leases given to others */
	struct members_set_report self_sets[MEMBERS_SETS]; /* own, live */
	unsigned reports_inflight;    /* reports to other agents */
	unsigned self_n;
	uint64_t placement_changes;
	uint64_t heartbeats_sent;
	uint64_t heartbeats_failed;
	bool closing;
};

/* Prepare (no handles started). */
int members_init(struct members *m, struct agent *a);

/* Start the tick timer. `join` true when the agent must ask to be added. */
int members_start(struct members *m, bool join);

/* Stop timers and cancel requests; close_cb-style completion through the
 * agent's pending_closes counter. */
void members_close(struct members *m);

/* Record a heartbeat (leader) or a report (any agent) from member id
 * (r copied). */
void members_heartbeat_seen(struct members *m, uint64_t id,
			    const struct members_report *r);

/* Leader side: the newest report about user_set from an agent of pool
 * heard within max_age_ms, or NULL. */
const struct members_set_report *
members_set_report(struct members *m, const char *pool, const char *user_set,
		   uint64_t max_age_ms);

/* The same, and *age_ms (may be NULL) receives how old the report is
 * in ms (0 for this agent's own figures, which are live). */
const struct members_set_report *
members_set_report_aged(struct members *m, const char *pool,
			const char *user_set, uint64_t max_age_ms,
			uint64_t *age_ms);

/* The clock a heartbeat answer carries (this agent's monotonic clock, in
 * ms). */
uint64_t members_clock_ms(void);

/* Leader side: member from's heartbeat carried echo (copied): it may prove
 * this leader's own lease (lease.h). Ignored when this agent does not
 * lead. */
void members_echo_seen(struct members *m, uint64_t from,
		       const struct members_echo *echo);

/* Leader side: the lease to grant with a heartbeat answer, in ms: the
 * configured lease, but never past this leader's own lease (so every lease
 * a deposed leader granted ends with its own); 0 when this agent's own
 * authority is not established (no recent barrier, no recent echoes of a
 * majority). */
unsigned members_lease_grant(struct members *m);

/* Whether this agent's applied state may be trusted: this agent holds a
 * lease and has applied every decision the cluster had committed when it
 * got its lease back (a follower: applied index >= the commit index named
 * by the heartbeat answers after start or after its lease lapsed, up to
 * the one that granted the lease — a target that stays fixed while the
 * lease holds, see lease.h; the leader: applied >= commit). False after a restart or a lapse until then:
 * the state replayed from disk, or kept through a partition, may be older
 * than decisions taken meanwhile (an owner change, a failover), so nothing
 * may be decided from it yet (writes, the divergence archive). Once caught
 * up it stays true while the lease holds: the ordinary lag of a follower
 * behind the leader is what the leases already cover. */
bool members_view_current(struct members *m);

/* Whether member id was heard (heartbeat or report) within window_ms;
 * this agent always counts. Works on any agent. */
bool members_heard(struct members *m, uint64_t id, uint64_t window_ms);

/* Whether this agent holds a valid lease now. */
bool members_lease_valid(const struct members *m);

/* The newest report of member id (heartbeat or report), or NULL. Any
 * agent: every pool agent reports to all. */
const struct members_seen *members_seen_get(struct members *m, uint64_t id);

/* Leader side: milliseconds since an agent of pool was last heard (the
 * leader counts itself), or UINT64_MAX when none ever was since this
 * agent leads; *lag (may be NULL) receives that agent's report. */
uint64_t members_pool_silence_ms(struct members *m, const char *pool,
				 const struct members_seen **lag);

/* Leader view of reachability: 1 reachable, 0 not, -1 unknown (this agent
 * does not lead). */
int members_reachable(struct members *m, uint64_t id);

/* Called after every applied command: re-check registration. */
void members_on_applied(struct members *m);

#endif
