/* members: this agent's place in the cluster.
 *
 * - registration (members_join.c): the agent records itself (name, site,
 *   pool, addresses) in the FSM through a command, so every agent can find
 *   every other's API and data addresses from the applied state alone; the
 *   leader answers the others' POST /v1/internal/register;
 * - join (members_join.c): an agent configured with `[cluster] join` asks
 *   the leader to add it to the Raft configuration (POST /v1/members, and
 *   DELETE /v1/members/{id} to remove one);
 * - heartbeats and reports (members_heartbeat.c; their JSON form in
 *   members_report.c): every agent reports to
 *   the leader every `heartbeat`; the leader's record of them is what
 *   "reachable" means in status; the leader's answer grants a lease and
 *   carries its clock, which the next heartbeat echoes; every pool agent
 *   also reports its lag to every other agent;
 * - the leases (members_lease.c, over the pure rules of lease.h): this
 *   agent's lease, the leader's grants and its own lease, proved by its
 *   committed barriers and by the echoes of a majority of the voters;
 *   /readyz;
 * - voter placement (members_place.c): the leader applies
 *   consensus/placement.h one change at a time (promote caught-up members,
 *   spread voters over sites, replace a long-unreachable voter).
 *
 * The module reads the applied state (const struct fsm *), proposes through
 * a proposer, changes the Raft configuration through struct members_raft,
 * calls other agents through an hclient, reads time from a clock and asks
 * the rest of the agent for what it does not own through struct
 * members_host. Each is borrowed and must outlive the module (until the
 * close callback).
 *
 * Every function: loop thread only. */
#ifndef POOLPAIR_MEMBERS_H
#define POOLPAIR_MEMBERS_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/clock.h"
#include "agent/lease.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct hclient;
struct hclient_req;
struct http_request;
struct node;

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

/* The life of the module. */
enum members_state {
	MEMBERS_UNINIT,  /* zeroed, or members_init() failed: nothing to close */
	MEMBERS_READY,   /* members_init() done: the timer is initialised */
	MEMBERS_RUNNING, /* members_start() done */
	MEMBERS_CLOSING, /* members_close() called */
	MEMBERS_CLOSED,  /* the close callback ran (or is running) */
};

#define MEMBERS_SETS 4

/* A registration the state machine refused is asked again after this long
 * (the configuration must change first, or the topology). */
#define MEMBERS_REG_REFUSED_MS 10000

/* One user set a pool agent sends to its pair, as it reported it: what
 * the pair has not acknowledged yet, and whether everything written is
 * acknowledged (drained). While the pair's copy of it is being seeded
 * (replication/store_seed.h), seeding is true, lag_records is at least
 * the items the seed has left (at least 1) and drained is false. */
struct members_set_report {
	char user_set[FSM_NAME_LEN];
	uint64_t lag_records;
	uint64_t lag_bytes;
	uint64_t lag_ms;
	bool drained;
	bool seeding;		   /* a seed of the pair's copy runs */
	uint64_t seed_items;	   /* its items stored, over its lanes */
	uint64_t seed_items_total; /* of that many */
};

#define MEMBERS_SEEDS 8

/* A seed a pool agent takes part in (agent/seedwatch.h), as it reported
 * it: as the sender (its store seeds its pair's copy) or as the receiver
 * (its copy is seeded by its pair). */
struct members_seed_report {
	char user_set[FSM_NAME_LEN];
	int lane;	   /* 0 data, 1 content */
	bool receiver;	   /* its own copy is the one seeded */
	uint64_t from_seq; /* its position F; 0 not said */
	uint64_t items;	   /* stored so far */
	uint64_t items_total;
	uint64_t bytes;
	uint64_t bytes_total;
	double rate_items_s; /* over the last seconds */
	double rate_bytes_s;
	int64_t eta_s;	   /* -1 unknown */
	bool ended;	   /* it ended since (sender: the pair's copy
			      acknowledged its end; receiver: its end
			      stored): the figures are its last */
};

#define MEMBERS_STREAMS 8

/* One stream a pool agent sends its pair (a user set on one lane), as it
 * reported it: the figures of its backup status (backup.h). */
struct members_stream_report {
	char user_set[FSM_NAME_LEN];
	char category[16]; /* "user_data", "content" or "cms" */
	char state[16];    /* "final", "steady", "backlog", "seeding" or
			      "error" */
	uint64_t head_seq;
	uint64_t acked_seq;
	uint64_t lag_records;
	uint64_t lag_bytes;
	uint64_t lag_ms;   /* age of the oldest unacknowledged record */
};

#define MEMBERS_COPIES 8

/* A standby's copy of a user set its pool owns, on one lane, as it
 * reported it: the last seq applied there (its position for a local
 * takeover, consensus: pool_writer seqs). */
struct members_copy_report {
	char user_set[FSM_NAME_LEN];
	int lane; /* 0 data, 1 content */
	uint64_t head_seq;
};

#define MEMBERS_STANDBYS 4

/* A standby of the reporting writer's pool, as the writer reported it
 * (its local sender to it, dataplane_standby()). */
struct members_standby_report {
	uint64_t id;
	char state[16];	   /* "streaming", "seeding" or "disconnected" */
	uint64_t acked[2]; /* of the pool's own user set: data, content */
	uint64_t lag_records;
	uint64_t lag_ms;
};

/* What an agent reports with each heartbeat (and to every other agent). */
struct members_report {
	uint64_t applied;  /* its applied index */
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n_sets;
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned n_streams;
	struct members_seed_report seeds[MEMBERS_SEEDS]; /* running seeds */
	unsigned n_seeds;
	/* a standby: its copy's positions; a writer: its standbys */
	struct members_copy_report copies[MEMBERS_COPIES];
	unsigned n_copies;
	struct members_standby_report standbys[MEMBERS_STANDBYS];
	unsigned n_standbys;
	int lease;         /* 1 it holds a lease, 0 not, -1 not said */
};

/* The echo a heartbeat carries: the clock of the leader's last answer, and
 * the Raft term and leader the sender saw when it sent the heartbeat. */
struct members_echo {
	uint64_t clock_ms;
	uint64_t term;
	uint64_t leader;
	/* that leader takes the regime report (lease.h): its answers say so
	 * ("regime": true); an earlier version's parser refuses the key */
	bool regime;
};

struct members_seen {
	uint64_t id;
	uint64_t last_ns;     /* monotonic time of the last heartbeat received */
	/* the round trip of its heartbeats to this agent (leader) as it
	 * measured it, and when it last said so (0: never; an agent of an
	 * earlier version does not) */
	uint64_t srtt_us;
	uint64_t rttvar_us;
	uint64_t rtt_ns;
	uint64_t applied;     /* applied index it reported */
	/* what a pool agent reported of the user sets it sends its pair */
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n_sets;
	/* and of each of its streams, for the backup status */
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned n_streams;
	/* and of the seeds it takes part in (none from an agent of an
	 * earlier version) */
	struct members_seed_report seeds[MEMBERS_SEEDS];
	unsigned n_seeds;
	/* a standby's copy positions, a writer's standbys (none from an
	 * agent of an earlier version) */
	struct members_copy_report copies[MEMBERS_COPIES];
	unsigned n_copies;
	struct members_standby_report standbys[MEMBERS_STANDBYS];
	unsigned n_standbys;
	int lease;            /* whether it said it held a lease: 1, 0, -1 */
};

/* ---- what the module is given ---- */

/* What the module reads of the configuration (copied). */
struct members_config {
	struct fsm_member self; /* id, name, site, pool and the three
				   addresses this agent registers */
	char join[512];		/* [cluster] join URL, "" when none */
	unsigned heartbeat_ms;
	unsigned lease_ms;
	unsigned grace_ms;
	unsigned drift_margin_ms;
	unsigned election_timeout_ms;
	unsigned max_voters;
};

/* Completion of a Raft configuration change: 0, or a code of the node's
 * (proposer.h). */
typedef void (*members_raft_cb)(void *arg, int status);

/* What the module needs of the Raft node beyond the proposer: its
 * configuration and its changes (join, removal, placement). Loop thread
 * only; the changes are leader only, one at a time (PROPOSER_E_BUSY), and
 * follow the proposer's contract: 0 and cb fires once later, or a
 * negative code and cb never fires. */
struct members_raft_ops {
	/* The current configuration (borrowed: valid until the next loop
	 * turn). */
	const struct raft_configuration *(*configuration)(void *impl);
	/* Whether a configuration change is in flight. */
	bool (*changing)(void *impl);
	/* The index of the last entry of the log. */
	uint64_t (*last_index)(void *impl);
	/* What changes with every configuration entry appended or committed
	 * (node_configuration_mark()); NULL: never known, so the voter set
	 * is never taken as stable (the regime bound is not used). */
	void (*configuration_mark)(void *impl, uint64_t *committed,
				   uint64_t *uncommitted);
	/* Leader only: the highest index known on server id in *index; 0,
	 * or negative when not leader or unknown id. */
	int (*match_index)(void *impl, uint64_t id, uint64_t *index);
	/* role: RAFT_VOTER, RAFT_STANDBY or RAFT_SPARE. */
	int (*add)(void *impl, uint64_t id, const char *address,
		   members_raft_cb cb, void *arg);
	int (*assign)(void *impl, uint64_t id, int role, members_raft_cb cb,
		      void *arg);
	int (*remove)(void *impl, uint64_t id, members_raft_cb cb, void *arg);
	/* Set the election timeout in effect (node_set_election_timeout());
	 * NULL: the module leaves it as configured. */
	void (*set_election_timeout)(void *impl, unsigned ms);
};

struct members_raft {
	const struct members_raft_ops *ops; /* static */
	void *impl;			    /* borrowed */
};

/* A members_raft over n (borrowed: must outlive r; node_init()ed). */
void members_raft_node(struct members_raft *r, struct node *n);

/* What the module asks of the rest of the agent. Every op: loop thread
 * only, never NULL unless it says so. */
struct members_host_ops {
	/* This agent's live report of each user set it sends its pair (at
	 * most max into out); returns how many (0 for a witness). */
	unsigned (*set_reports)(void *impl, struct members_set_report *out,
				unsigned max);
	/* The same of each of its streams. */
	unsigned (*stream_reports)(void *impl,
				   struct members_stream_report *out,
				   unsigned max);
	/* The seeds it takes part in that run now (either side). */
	unsigned (*seed_reports)(void *impl, struct members_seed_report *out,
				 unsigned max);
	/* A standby: its copy's positions (dataplane_copy_reports()). */
	unsigned (*copy_reports)(void *impl, struct members_copy_report *out,
				 unsigned max);
	/* A writer: its standbys' figures (dataplane_standby_reports()). */
	unsigned (*standby_reports)(void *impl,
				    struct members_standby_report *out,
				    unsigned max);
	/* Every tick while this agent leads (after its lease bookkeeping). */
	void (*leader_tick)(void *impl);
	/* /readyz: whether this agent may write pool p's user set now: 0,
	 * or negative with why (len bytes) saying why not. */
	int (*may_write)(void *impl, const struct fsm_pool *p, char *why,
			 size_t len);
	/* A decision this module proposed for an API caller ended: status
	 * as a proposer callback's, res NULL unless status is 0 (for the
	 * agent's counters). */
	void (*decided)(void *impl, int status, const struct fsm_result *res);
	/* This agent leads and a heartbeat or report just received says a
	 * user set drained (a planned move may go on now). May be NULL. */
	void (*drained)(void *impl);
};

struct members_host {
	const struct members_host_ops *ops; /* static */
	void *impl;			    /* borrowed */
};

struct members_deps {
	uv_loop_t *loop;		   /* borrowed */
	const struct fsm *fsm;		   /* borrowed, read only */
	const struct proposer *proposer;   /* borrowed */
	const struct members_raft *raft;   /* borrowed */
	struct hclient *calls;		   /* borrowed: to other agents */
	const struct clock *clock;	   /* borrowed */
	const struct members_host *host;   /* borrowed */
	struct members_config cfg;	   /* copied */
};

/* Heartbeats a follower keeps in flight at most. A new one leaves every
 * tick while earlier ones wait for their answers, each on a connection of
 * its own (a busy HTTP/1.1 connection takes no second request), so that
 * one connection stalled by a lost segment (TCP retransmits it only after
 * its retransmission timeout, 200 ms at least, doubling with each loss)
 * does not hold the renewal of the lease. Each answer grants from its own
 * heartbeat's send time (lease.h), so a late answer is as safe as a
 * prompt one. Enough for a heartbeat every 250 ms that waits up to the
 * lease (2 s). */
#define MEMBERS_HB_INFLIGHT 8

/* One heartbeat in flight (req set while hclient has it). */
struct members_hb {
	struct members *m;
	bool busy;                /* sent, not answered yet */
	struct hclient_req *req;
	uint64_t sent_ns;         /* when it left: its lease counts from here */
	bool extended;            /* it carries seeds */
	char host[256];           /* and goes there */
	uint16_t port;
};

struct members {
	int state;                    /* enum members_state */
	struct members_deps d;        /* copied; pointers borrowed */
	uv_timer_t tick;      /* heartbeats, registration retries, placement */
	void (*close_cb)(struct members *m);
	int reg_state;
	int join_state;
	uint64_t join_next_ns;
	char join_redirect[512];   /* Location of the last 307, or "" */
	/* Where a follower last sent us (307): the leader's API, for agents
	 * that cannot learn it from the log yet (a spare gets no entries). */
	char hint_host[256];
	uint16_t hint_port;
	unsigned join_backoff_ms;
	struct members_hb hb[MEMBERS_HB_INFLIGHT]; /* heartbeats in flight */
	unsigned hb_inflight;
	/* the heartbeats' round trip (send to answer), smoothed as TCP does
	 * (RFC 6298): what their timeout scales with; 0: no sample yet */
	uint64_t hb_srtt_ns;
	uint64_t hb_rttvar_ns;
	/* the leader that asked for that round trip in its answers
	 * ("rtt_wanted"), 0 none: only it gets "rtt" in the heartbeat (an
	 * earlier version refuses a heartbeat with it) */
	uint64_t rtt_leader;
	/* the Raft election timeout in effect (members_eto.c), 0 not set */
	unsigned eto_ms;
	struct hclient_req *reg_req;  /* registration in flight (follower) */
	struct hclient_req *join_req; /* join in flight */
	uint64_t reg_next_ns;
	/* the state machine's last refusal of this agent's registration
	 * ("exists: name east2 is member 5"), "" none: logged once as an
	 * error, tried again every MEMBERS_REG_REFUSED_MS */
	char reg_refusal[256];
	struct members_seen seen[FSM_MAX_MEMBERS];
	unsigned n_seen;
	uint64_t leader_since_ns;     /* when this agent became leader (the
					 clock's monotonic ns), 0 if not */
	bool placing;                 /* a placement change is in flight */
	/* this agent's lease and whether its view may be trusted: granted
	 * by the leader's heartbeat answers (a follower) or proved by its own
	 * committed barriers and by the echoes of its answers (the leader);
	 * see lease.h */
	struct lease lease;
	/* the clock of the newest heartbeat answer (the highest clock of the
	 * latest term and leader answered), with its term and leader, to echo
	 * in the next heartbeat; clock 0: nothing to echo (none yet, or the
	 * leader's version sends none) */
	struct members_echo echo_next;
	struct lease_echoes echoes;   /* leader: the echoes of this term */
	/* the regime bound (lease.h): this agent's last contact with the
	 * leader of each term (any agent), the reports of the voters in this
	 * term (the leader), and since when the voter set it sees is unchanged
	 * with no change in flight (0: it is not, or not looked at yet) */
	struct lease_contacts contacts;
	struct lease_regime regime;
	uint64_t conf_voters[LEASE_ECHOES_MAX];
	unsigned conf_n;		/* LEASE_ECHOES_MAX + 1: too many */
	uint64_t conf_mark[2];
	uint64_t conf_stable_ns;
	bool barrier_inflight;
	uint64_t barrier_start_ns;
	/* leader, this leadership: the newest time each source proved (0:
	 * none yet) and how long the last committed barrier took */
	uint64_t barrier_proved_ns;
	uint64_t echoes_proved_ns;
	uint64_t barrier_took_ns;
	uint64_t leases_granted;      /* leader: leases given to others */
	/* agents (by API host and port) that refused a report carrying
	 * seeds (an earlier version, whose parser knows no new key): sent
	 * the report without them until until_ns, then tried again */
	struct {
		char host[256];
		uint16_t port;
		uint64_t until_ns;
	} plain[8];
	unsigned n_plain;
	struct members_set_report self_sets[MEMBERS_SETS]; /* own, live */
	struct members_standby_report self_standbys[MEMBERS_STANDBYS];
	unsigned reports_inflight;    /* reports to other agents */
	unsigned self_n;
	uint64_t placement_changes;
	/* warnings about certificates that speak for another agent than the
	 * registration, heartbeat or report claims (caller.h) */
	struct tls_quiet quiet;
	uint64_t heartbeats_sent;
	uint64_t heartbeats_failed;
};

/* ---- life ---- */

/* Prepare m from deps (copied; the pointers borrowed): initialises the
 * tick timer on deps->loop, starts nothing. 0 (state MEMBERS_READY), or a
 * libuv code (state MEMBERS_UNINIT: nothing to close). */
int members_init(struct members *m, const struct members_deps *deps);

/* Start the tick (every heartbeat_ms). join true when the agent must ask
 * to be added to the cluster (a joiner that did not bootstrap). 0 or a
 * libuv code. */
int members_start(struct members *m, bool join);

/* Stop the tick and cancel the requests in flight (their callbacks run
 * now and do nothing more); cb fires exactly once, from the timer's close
 * callback, after which m may be freed. Only for a module in state
 * MEMBERS_READY or MEMBERS_RUNNING (one that never initialised holds no
 * handle: do not close it); a second call is ignored. */
void members_close(struct members *m, void (*cb)(struct members *m));

/* Called after every applied command: re-check registration. */
void members_on_applied(struct members *m);

/* Send this agent's report to the leader now, not at the next heartbeat
 * (a drain just completed here). Nothing when this agent leads (its own
 * report is read live) or knows no leader. */
void members_report_now(struct members *m);

/* ---- what was heard of the others (members_heartbeat.c) ---- */

/* Record a heartbeat (leader) or a report (any agent) from member id
 * (r copied). Kept only for a member (registered in the applied state or
 * in the Raft configuration): any other id is ignored; when every slot is
 * taken, the slot of an id that is no longer a member is reused. */
void members_heartbeat_seen(struct members *m, uint64_t id,
			    const struct members_report *r);

/* Leader side: the newest report about user_set from an agent of pool
 * heard within max_age_ms, or NULL (borrowed: valid until the next call
 * into the module). */
const struct members_set_report *
members_set_report(struct members *m, const char *pool, const char *user_set,
		   uint64_t max_age_ms);

/* The same, and *age_ms (may be NULL) receives how old the report is
 * in ms (0 for this agent's own figures, which are live). */
const struct members_set_report *
members_set_report_aged(struct members *m, const char *pool,
			const char *user_set, uint64_t max_age_ms,
			uint64_t *age_ms);

/* Whether the agent whose report members_set_report_aged() picks (the
 * same arguments) reported every stream of user_set connected (state
 * steady or backlog; true when it reported no stream of it, as an
 * earlier version); false when no report is picked. */
bool members_set_connected(struct members *m, const char *pool,
			   const char *user_set, uint64_t max_age_ms);

/* Whether member id was heard (heartbeat or report) within window_ms;
 * this agent always counts. Works on any agent. */
bool members_heard(struct members *m, uint64_t id, uint64_t window_ms);

/* The newest report of member id (heartbeat or report), or NULL. Any
 * agent: every pool agent reports to all. */
const struct members_seen *members_seen_get(struct members *m, uint64_t id);

/* Where member id's copy of (user_set, lane) stands as it last reported
 * it (a standby, live for this agent): true with *seq, false when it
 * reported none. Any agent. */
bool members_copy_position(struct members *m, uint64_t id,
			   const char *user_set, int lane, uint64_t *seq);

/* The figures of standby_id as the writer of pool last reported them
 * (live when this agent is the writer), heard within max_age_ms; *age_ms
 * (may be NULL) receives the report's age. NULL when none (borrowed:
 * valid until the next call into the module). Any agent. */
const struct members_standby_report *
members_standby_figures(struct members *m, const char *pool,
			uint64_t standby_id, uint64_t max_age_ms,
			uint64_t *age_ms);

/* Leader side: milliseconds since pool was last heard: its writer when
 * the applied state names one, else any agent of pool (the leader counts
 * itself); UINT64_MAX when none was since members_regime_since_ns(); *lag
 * (may be NULL) receives that agent's report. The liveness of a pool for
 * failover: a standby alive beside a dead writer does not keep it up. */
uint64_t members_pool_silence_ms(struct members *m, const char *pool,
				 const struct members_seen **lag);

/* Leader view of reachability: 1 reachable, 0 not, -1 unknown (this agent
 * does not lead). */
int members_reachable(struct members *m, uint64_t id);

/* Leader side: from when the silence of a member not heard since is
 * counted (monotonic ns), by every fence that declares a member or a pool
 * down (lease + grace): when this agent became leader, or the earlier
 * regime bound when its voters' reports establish one (lease.h,
 * lease_regime_since()). 0 when this agent does not lead. */
uint64_t members_regime_since_ns(struct members *m);

/* Raft: a leader's message (AppendEntries, InstallSnapshot) of term was
 * received now (node_set_contact_cb()): a contact for the regime bound. */
void members_raft_contact(struct members *m, uint64_t term);

/* ---- the leases (members_lease.c) ---- */

/* Whether this agent holds a valid lease now. */
bool members_lease_valid(const struct members *m);

/* Leader side: the lease to grant with a heartbeat answer, in ms: the
 * configured lease, but never past this leader's own lease (so every lease
 * a deposed leader granted ends with its own); 0 when this agent's own
 * authority is not established (no recent barrier, no recent echoes of a
 * majority) or it does not lead. */
unsigned members_lease_grant(struct members *m);

/* Leader side: member from's heartbeat carried echo (copied): it may prove
 * this leader's own lease (lease.h). Ignored when this agent does not
 * lead. */
void members_echo_seen(struct members *m, uint64_t from,
		       const struct members_echo *echo);

/* Whether this agent's applied state may be trusted: this agent holds a
 * lease and has applied every decision the cluster had committed when it
 * got its lease back (a follower: applied index >= the commit index named
 * by the heartbeat answers after start or after its lease lapsed, up to
 * the one that granted the lease — a target that stays fixed while the
 * lease holds, see lease.h; the leader: applied >= commit). False after a
 * restart or a lapse until then: the state replayed from disk, or kept
 * through a partition, may be older than decisions taken meanwhile (an
 * owner change, a failover), so nothing may be decided from it yet
 * (writes, the divergence archive). Once caught up it stays true while the
 * lease holds: the ordinary lag of a follower behind the leader is what
 * the leases already cover. */
bool members_view_current(struct members *m);

/* ---- the routes (routes.c; module is the struct members) ---- */

/* POST /v1/internal/heartbeat (p->arg 0: to the leader, answered with a
 * lease) and POST /v1/internal/report (p->arg 1: to any agent, recorded,
 * 204). */
void members_route_heartbeat(void *module, struct http_request *req,
			     const struct route_params *p);
/* POST /v1/internal/register {"id", "name", "site", "pool", "raft",
 * "data", "api"}: the leader proposes the member's registration. */
void members_route_register(void *module, struct http_request *req,
			    const struct route_params *p);
/* POST /v1/members {"id", "address"}: the leader adds a spare. */
void members_route_add(void *module, struct http_request *req,
		       const struct route_params *p);
/* DELETE /v1/members/{id}: the leader removes a member from the Raft
 * configuration, then from the applied state. */
void members_route_remove(void *module, struct http_request *req,
			  const struct route_params *p);
/* GET /readyz?pool=P: 200 while this agent may write P's user set (its
 * own by default), 503 not_ready saying why, 404 for an unknown pool. */
void members_route_readyz(void *module, struct http_request *req,
			  const struct route_params *p);

#endif
