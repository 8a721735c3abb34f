/* dataplane: a pool agent's data: its store (replication/store.h), the
 * hybrid logical clock that stamps its writes, the epochs the control
 * plane hands down, the replication streams with the pair and the waits of
 * synchronous mode. It follows the applied state (dataplane_on_applied)
 * and decides whether a write may be taken now (dataplane_may_write*).
 *
 * Files, one concern each:
 * - dataplane.c: the store's life, epochs handed to it, the may-write
 *   rules, what was written here (the head of each stream, drained);
 * - dataplane_stream.c: the sender and receiver with the pair, the
 *   divergence archive on return, the takeover fence, the drains, the
 *   live figures of the streams;
 * - dataplane_sync.c: synchronous mode, the writes waiting for the pair's
 *   acknowledgement, its fallback to async and its return;
 * - dataplane_lsync.c: the local synchronous copy ([replication]
 *   local_sync): the writes waiting for one standby of the pool (the
 *   committed sync standby, or a caught-up one chosen and asked for), the
 *   pool_sync asks to the leader, the fallback when it is lost;
 * - dataplane_seed.c: the seeds of the streams (a copy rebuilt from its
 *   owner's store) as an operator follows them: rates, time left, the
 *   log, status and the reports;
 * - dataplane_local.c: the hot standbys of this pool at the writer: a
 *   local sender per standby and the cap of the pair's sender by the
 *   synchronous standby's acknowledgements; and the life of both sides;
 * - dataplane_standby.c: at a standby, its copy (a receiver from its own
 *   pool in outbox mode, trimmed by the writer's reports), the archive of
 *   a former writer's never-shipped records on its return (past the last
 *   local takeover's position, under an epoch older than the one it
 *   gave: fsm_user_set_writer_seq()), and the positions it reports.
 *
 * A witness has no data plane (state DP_NONE). Loop thread only. */
#ifndef POOLPAIR_DATAPLANE_H
#define POOLPAIR_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "agent/clock.h"
#include "agent/lagtail.h"
#include "agent/seedwatch.h"
#include "consensus/fsm.h"
#include "replication/hlc.h"
#include "replication/receiver.h"
#include "replication/sender.h"
#include "replication/store.h"

struct tls_ctx;

/* The user set of the CMS documents. */
#define DATAPLANE_CMS "cms"

/* Refusals of a write (dataplane_may_write*), in this module's range
 * -6001..-6099 (README, "Error codes"); the API answers them
 * (answer_write_status()). */
enum {
	DATAPLANE_E_NOT_OWNER = -6001, /* another pool owns the user set */
	DATAPLANE_E_NOT_NOW = -6002,   /* not now: no lease, a drain, no
					  store, catching up, no writer */
	DATAPLANE_E_NOT_WRITER = -6003, /* this agent is a standby of its
					   pool: another agent is its writer */
};

enum dataplane_sync {
	SYNC_OFF,      /* async mode: answered once durable here */
	SYNC_ON,       /* answered once the pair acknowledged */
	SYNC_FALLBACK, /* sync mode, but the pair was gone for sync_timeout:
			  answered async until it has caught up */
};

/* How a write that waited (dataplane_after_write(),
 * dataplane_after_content()) ends. */
enum dataplane_release {
	DP_RELEASE_REPLICATED, /* the pair acknowledged it (sync mode), and
				  the local synchronous standby too when
				  one was waited for */
	DP_RELEASE_LOCAL,      /* durable here and the wait is over without
				  the pair's acknowledgement: the local
				  synchronous standby acknowledged it, or a
				  committed decision says no copy is needed
				  (the pair async or unpaired, sync mode's
				  fallback, the local sync standby known
				  dropped) */
	DP_RELEASE_FAILED,     /* not acknowledged, and never will be from
				  here: this agent stopped being its pool's
				  writer (another took over) or the data
				  plane closes. Durable here, but the pool's
				  copy may lack it (a former writer archives
				  what the new writer does not hold): not a
				  success */
};

/* Called once when a waiting write may be answered, with how it ended. */
typedef void (*dataplane_release_cb)(void *arg, enum dataplane_release how);

struct dataplane_wait {
	struct dataplane_wait *next;
	char user_set[FSM_NAME_LEN];
	int lane;
	uint64_t seq;
	uint64_t since_ns; /* clock_mono_ns() when it began to wait */
	dataplane_release_cb cb;
	void *arg;
};

enum dataplane_state {
	DP_NONE,    /* witness: no store */
	DP_OPENING, /* store opening on the thread pool */
	DP_OPEN,
	DP_FAILED,  /* the store could not be opened: writes answer 503 */
	DP_CLOSING,
	DP_CLOSED,
};

/* What the data plane needs to know of this agent's lease (members,
 * lease.h). Loop thread only. */
struct dataplane_lease_ops {
	/* This agent holds a valid lease now. */
	bool (*held)(void *impl);
	/* Its applied state may be trusted (members_view_current()). */
	bool (*view_current)(void *impl);
};

struct dataplane_lease {
	const struct dataplane_lease_ops *ops; /* static */
	void *impl;			       /* borrowed */
};

/* ---- the local synchronous copy (dataplane_lsync.c) ---- */

/* Where the writer stands with its local synchronous copy. */
enum dataplane_lsync_state {
	LSYNC_OFF,	 /* [replication] local_sync = false, or this agent is
			    not its pool's writer: no write waits */
	LSYNC_NONE,	 /* no synchronous standby and none chosen: a write
			    is answered once durable here */
	LSYNC_CANDIDATE, /* a caught-up standby T chosen: writes wait for
			    T's acknowledgement; pool_sync standby=T asked */
	LSYNC_SYNC,	 /* the committed synchronous standby S: writes wait
			    for S's acknowledgement */
	LSYNC_DROPPING,	 /* the target was lost: pool_sync standby=0 asked;
			    writes wait until that is known committed */
};

/* What came of a pool_sync asked of the leader. */
enum dataplane_ask_outcome {
	DATAPLANE_ASK_COMMITTED, /* committed: the pool's sync standby is
				    now the value given */
	DATAPLANE_ASK_REFUSED,	 /* refused (409): nothing changed */
	DATAPLANE_ASK_UNKNOWN,	 /* no answer (timeout, leader change, 5xx):
				    it may or may not commit */
};

/* Once per accepted ask: outcome, the committed sync standby (with
 * DATAPLANE_ASK_COMMITTED) and a message (borrowed for the call; "" when
 * none). */
typedef void (*dataplane_ask_cb)(void *arg, int outcome, uint64_t standby,
				 const char *msg);

/* How the writer asks the leader to commit pool_sync {pool, writer_token,
 * standby, reason} (agent/lsync_client.h over the agents' HTTP client). */
struct dataplane_ask_ops {
	/* 0: cb fires exactly once, later; negative: cb never fires (try
	 * again later). Strings borrowed for the call. */
	int (*ask)(void *impl, const char *pool, uint64_t writer_token,
		   uint64_t standby, const char *reason, dataplane_ask_cb cb,
		   void *arg);
};

struct dataplane_ask {
	const struct dataplane_ask_ops *ops; /* static; NULL: never asks */
	void *impl;			     /* borrowed */
};

/* Told when a drain of this agent's writes to its pair is complete
 * (dataplane_drain_kick()), so that the leader hears it at once. */
struct dataplane_drained {
	/* NULL: never told. user_set borrowed for the call. */
	void (*cb)(void *arg, const char *user_set);
	void *arg; /* borrowed */
};

/* A standby of the pool as the writer's local sender sees it
 * (dataplane_lsync_standbys()). */
struct dataplane_lsync_standby {
	uint64_t id;
	bool connected; /* its local sender is connected */
	bool caught_up; /* it acknowledged the outbox head of every
			   (user set, lane) streamed to it */
};

/* The state of the local synchronous copy (in struct dataplane). */
struct dataplane_lsync {
	bool enabled;	     /* [replication] local_sync */
	uint32_t timeout_ms; /* [replication] local_sync_timeout_ms */
	int state;	     /* enum dataplane_lsync_state */
	uint64_t target;     /* the member writes wait for (CANDIDATE, SYNC,
				DROPPING), else 0 */
	uint64_t committed;  /* the pool's sync standby in the applied state */
	uint64_t token;	     /* the pool's writer_token there */
	uint64_t gone;	     /* known no longer the sync standby (an answer
				said so) while the applied state still names
				it */
	bool lost;	     /* CANDIDATE: T was lost before its commit was
				known */
	uint64_t lost_since_ns; /* the target seen disconnected since (0:
				   connected) */
	char lost_why[160];
	/* the pool_sync asked (one at a time) */
	bool asking;	       /* an ask is in flight */
	uint64_t ask_standby;  /* what it asks for */
	uint64_t retry_ns;     /* no new ask before (clock_mono_ns) */
	uint64_t choose_ns;    /* no candidate chosen before */
	uint64_t asks;	       /* asks sent */
	bool told;	       /* a refusal or unknown outcome was logged in
				  this state (the next ones are not) */
	/* the target's acknowledgements per (user set, lane) */
	struct {
		char user_set[FSM_NAME_LEN];
		uint64_t acked[2];
	} acks[FSM_MAX_POOLS + 1];
	unsigned n_acks;
	/* writes waiting for the target, oldest first */
	struct dataplane_wait *waiting;
	struct dataplane_wait *waiting_tail;
	unsigned n_waiting;
	uint64_t fallbacks; /* times the target was lost and dropped */
	unsigned n_standbys; /* standbys seen at the last check */
};

struct members_stream_report;

/* What the data plane reads of the other agents' reports (members.h):
 * a standby trims its outbox with the pair's acknowledgements its
 * writer reports. Loop thread only. */
struct dataplane_peers_ops {
	/* The stream reports last heard from member id (at most max into
	 * out, each {user_set, category, acked_seq, ...}); how many, 0 when
	 * none was heard within max_age_ms. */
	unsigned (*streams)(void *impl, uint64_t id, uint64_t max_age_ms,
			    struct members_stream_report *out, unsigned max);
};

struct dataplane_peers {
	const struct dataplane_peers_ops *ops; /* static; NULL: none */
	void *impl;			       /* borrowed */
};

struct dataplane_local;

struct dataplane_deps {
	uv_loop_t *loop;	   /* borrowed */
	const struct fsm *fsm;	   /* borrowed, read only: the applied state */
	const struct clock *clock; /* borrowed */
	struct dataplane_lease lease;
	struct dataplane_peers peers;
	struct tls_ctx *tls;	   /* borrowed, NULL without [tls]: the
				      streams' */
	bool tls_require;	   /* [tls] require: refuse plain peers */
	uint64_t agent_id;
	const char *pool;	   /* copied: "" for a witness */
	const char *data_dir;	   /* copied: the store is data_dir/store.db */
	const char *data_host;	   /* copied: the receiver listens on it */
	uint16_t data_port;
	bool local_sync;	   /* [replication] local_sync */
	uint32_t local_sync_timeout_ms; /* [replication] */
	uint64_t store_reserve;	   /* [store] reserve: bytes, or */
	unsigned store_reserve_percent; /* a percentage (store.h config) */
	struct dataplane_ask ask;  /* pool_sync to the leader */
	struct dataplane_drained drained;
};

struct dataplane;
typedef void (*dataplane_close_cb)(struct dataplane *dp);

struct dataplane {
	struct dataplane_deps deps; /* the strings point into the copies below */
	char pool[FSM_NAME_LEN];
	char data_dir[4096];
	char data_host[FSM_ADDR_LEN];
	int state;           /* enum dataplane_state */
	struct store store;
	struct hlc hlc;
	/* newest epoch and floor epoch handed to the store per pool (index
	 * as in the FSM's pools array is not stable: keyed by name) */
	struct {
		char pool[FSM_NAME_LEN];
		uint64_t epoch;
		uint64_t floor;
	} epochs[FSM_MAX_POOLS];
	unsigned n_epochs;
	/* replication with the pair (both NULL while unpaired) */
	struct sender *sender;
	struct receiver *receiver;
	char pair[FSM_NAME_LEN];      /* the pair they were made for */
	uint64_t rx_peer_agent;       /* the receiver takes only this agent's
					 stream: the pair's writer, 0 any */
	char peer_addr[FSM_ADDR_LEN]; /* the pair agent's data address */
	char owned[FSM_MAX_POOLS][FSM_NAME_LEN]; /* user sets sent now */
	unsigned n_owned;
	char received[FSM_MAX_POOLS][FSM_NAME_LEN]; /* user sets taken now */
	unsigned n_received;
	int stream_closes;            /* sender/receiver closes in flight */
	/* sync mode: the mode of this pool's pair in the applied state */
	int sync;                     /* enum dataplane_sync */
	uint32_t sync_timeout_ms;     /* the pair's (applied state) */
	struct dataplane_wait *waiting; /* oldest first */
	struct dataplane_wait *waiting_tail;
	unsigned n_waiting;
	uv_timer_t sync_timer;
	bool sync_timer_open;
	uint64_t sync_fallbacks;
	/* last sequence written here per owned user set and lane (to know
	 * when everything written has been acknowledged: drained), and the
	 * writes newer than the sender's last look at the store (so that
	 * lag figures never count fewer bytes than the truth) */
	struct {
		char user_set[FSM_NAME_LEN];
		uint64_t seq[2];
		struct lagtail tail[2];
	} written[FSM_MAX_POOLS];
	unsigned n_written;
	/* user sets this agent took over (failover): records from the old
	 * owner are no longer taken, until the FSM says who owns them */
	struct {
		char user_set[FSM_NAME_LEN];
		uint64_t since_ns;
		uint64_t epoch; /* the user set's epoch when fenced */
	} fenced[4];
	unsigned n_fenced;
	/* recovering: the never-shipped tail of our own user set was moved
	 * to the divergence archive for this epoch */
	uint64_t diverted_epoch;
	uint64_t cms_epoch;           /* newest CMS epoch handed to the store */
	uint64_t cms_floor;           /* and its floor epoch */
	/* drains (failover of our pool, failback of the pair's): a write
	 * queued before the drain began may still commit; a no-op write
	 * behind them marks the point after which "drained" is final. Keyed
	 * by the failover_since_ms of the pool that started draining. */
	uint64_t drain_mark;          /* barrier asked for this mark */
	uint64_t drain_done;          /* barrier completed for this mark */
	uint64_t drain_told;          /* deps.drained told for this mark */
	/* the same for a planned move of the CMS alone from this pool,
	 * keyed by the cms_since_ms of the move */
	uint64_t cms_drain_mark;
	uint64_t cms_drain_done;
	bool diverting;
	/* the seeds of the streams (sender and receiver side), sampled
	 * every 100 ms (dataplane_seed.c) */
	struct seedwatch seeds;
	uint64_t seeds_ms;	      /* last sample, monotonic ms */
	/* the local synchronous copy (dataplane_lsync.c) */
	struct dataplane_lsync lsync;
	/* the hot standbys (dataplane_local.c): owned, NULL for a witness */
	struct dataplane_local *local;
	uint64_t writes_ok;
	uint64_t writes_refused;
	dataplane_close_cb close_cb;
	int closes;                   /* handles and store closing */
	bool close_asked;             /* dataplane_close() was called */
	char errmsg[256];
};

/* Prepare from deps (copied; the pointers in it borrowed: they outlive
 * dp); opens the store asynchronously when deps->pool is not ""
 * (data_dir/store.db). Returns 0 or negative with dp->errmsg; either way
 * dataplane_close() must be called. */
int dataplane_init(struct dataplane *dp, const struct dataplane_deps *deps);

/* Start the timer of sync mode (its fallback and return, and the
 * divergence checks held back until the view is current). 0 or a libuv
 * error. */
int dataplane_start(struct dataplane *dp);

/* Close the streams, the timer and the store; cb fires exactly once when
 * everything is closed (synchronously when nothing was open: a witness, a
 * store that failed to open and no timer). Waiting writes are released
 * DP_RELEASE_FAILED. Idempotent: a second call is ignored. */
void dataplane_close(struct dataplane *dp, dataplane_close_cb cb);

/* Called after every applied command: follow the pair's replication mode
 * (sync or async, switched live), hand new epochs to the store, bring the
 * streams in line with who owns what. */
void dataplane_on_applied(struct dataplane *dp);

/* True when writes can be served (store open). */
bool dataplane_ready(const struct dataplane *dp);

/* A local write committed: wake the sender. */
void dataplane_written(struct dataplane *dp);

/* The outcome of a local write of user_set: status 0 counts it as
 * written (r: the store's result; remembered with
 * dataplane_note_write() and the sender woken), otherwise as refused. */
void dataplane_write_done(struct dataplane *dp, const char *user_set,
			  int status, const struct store_write_result *r);

/* After a durable local write of (user_set, lane, seq): keep the answer
 * while a wait applies and return 1 — cb fires later, exactly once, when
 * every wait that applies is over; otherwise return 0 and cb is not
 * called (answer now). The waits:
 * - sync mode with the pair: until the pair acknowledged it at or past
 *   seq (DP_RELEASE_REPLICATED), or sync mode falls back to or turns
 *   async (DP_RELEASE_LOCAL);
 * - the local synchronous copy (dataplane_lsync_target() != 0): until the
 *   target acknowledged it at or past seq, or the target is known dropped
 *   (dataplane_lsync.c; DP_RELEASE_LOCAL for this wait).
 * Either wait ends DP_RELEASE_FAILED when this agent stops being its
 * pool's writer, or closes; the write's outcome is then FAILED, else the
 * pair's (REPLICATED or LOCAL). */
int dataplane_after_write(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t seq, dataplane_release_cb cb, void *arg);

/* After the last chunk of a content upload, durable here at (user_set,
 * lane, seq): as dataplane_after_write() with the wait of the local
 * synchronous copy alone (the pair's sync mode does not hold uploads). */
int dataplane_after_content(struct dataplane *dp, const char *user_set,
			    int lane, uint64_t seq, dataplane_release_cb cb,
			    void *arg);

struct members_set_report;

/* Fill out (at most max) with a report per user set this agent sends its
 * pair: lag and drained. Returns how many. */
unsigned dataplane_set_reports(struct dataplane *dp,
			       struct members_set_report *out, unsigned max);

/* Lag of everything this pool sends its pair (the user sets it owns):
 * records, bytes, and age in ms of the oldest unacknowledged record.
 * False when there is no sender (unpaired, or a witness). */
bool dataplane_own_lag(struct dataplane *dp, uint64_t *records,
		       uint64_t *bytes, uint64_t *age_ms);

/* Figures of the i-th stream the sender runs (sender_stats_at), with head
 * and lag brought up to what this agent wrote and the pair acknowledged
 * just now (the sender refreshes its own from the store about once a
 * second): records, bytes and the oldest unacknowledged write never fewer
 * nor younger than the truth. While the stream seeds the pair's copy
 * (seeding; also while a cut seed is unfinished, with its last figures),
 * lag_records is at least the items the seed has left (at least 1) and
 * lag_bytes at least its bytes left: the copy is not caught up. 0, or a
 * negative error when there is no such stream. */
int dataplane_stream_stats(struct dataplane *dp, size_t i,
			   struct sender_stats *st);

/* Records of user_set the pair has not acknowledged yet, over its
 * streams; *streams gets how many streams carry it. */
uint64_t dataplane_user_set_lag(struct dataplane *dp, const char *user_set,
				unsigned *streams);

/* Remember that seq was written in (user_set, lane), its change record
 * of `bytes` key + value bytes (store_write_result). */
void dataplane_note_write(struct dataplane *dp, const char *user_set,
			  int lane, uint64_t seq, uint64_t bytes);

/* True when the pair acknowledged everything written to user_set here and
 * no seed of the pair's copy of it runs. */
bool dataplane_drained(struct dataplane *dp, const char *user_set);

/* A drain here may have moved on (a command applied, the drain's barrier
 * completed, the pair acknowledged records): when this agent drains a
 * user set (its pool failing over, or the pair's failing back while
 * owned here), start the drain's barrier now if it is not started, and
 * once the report of that user set (and of the CMS documents when the
 * CMS moves with it) says drained (dataplane_set_reports()), tell
 * deps.drained, once per drain. Nothing otherwise. */
void dataplane_drain_kick(struct dataplane *dp);

/* May this agent accept a write to the user set of pool p now? The rules,
 * in this order:
 * - it holds a lease but its view is not current yet: DATAPLANE_E_NOT_NOW
 *   (catching up);
 * - p's owner is another pool: DATAPLANE_E_NOT_OWNER;
 * - this agent is not the writer of its pool (dataplane_writer()): its
 *   pool has another writer, DATAPLANE_E_NOT_WRITER ("standby of P; the
 *   writer is NAME"), or none yet, DATAPLANE_E_NOT_NOW;
 * - the store is not open: DATAPLANE_E_NOT_NOW;
 * - p is failing over or failing back (its writes drain): NOT_NOW;
 * - no lease: DATAPLANE_E_NOT_NOW;
 * - otherwise 0. why receives the reason of a refusal (len bytes). */
int dataplane_may_write(struct dataplane *dp, const struct fsm_pool *p,
			char *why, size_t len);

/* May this agent write CMS documents now? As dataplane_may_write() with
 * the active CMS's pool as the owner (DATAPLANE_E_NOT_OWNER: the active
 * CMS is on another pool or none), and NOT_NOW also while the CMS alone
 * moves from this pool. */
int dataplane_may_write_cms(struct dataplane *dp, char *why, size_t len);

/* This agent's standing in its pool by the applied state:
 * - 1: it is its pool's writer (fsm_pool.writer is its id);
 * - 0: its pool has no writer yet, or is not defined yet (or a witness);
 * - -1: it is a standby: *writer (when not NULL) receives the writer
 *   (borrowed from the applied state: valid until the next apply).
 * Only the writer may write (dataplane_may_write()) and runs the pool's
 * streams; a standby answers the data routes 421 not_writer
 * (users_ready()). */
int dataplane_writer(const struct dataplane *dp,
		     const struct fsm_member **writer);

/* "http" or "https" (with [tls]): the scheme of the writer's API URL a
 * standby gives out. Static string. */
const char *dataplane_api_scheme(const struct dataplane *dp);

/* Take over user_set from the pair: stop taking its records from the
 * old owner and report where this copy stands per lane. cb fires once
 * (status 0 or a negative code) when 0 is returned; a negative return
 * (STORE_E_CLOSING: store not open; STORE_E_INVALID: not the pair's user
 * set; another store code) means cb never fires. */
typedef void (*dataplane_takeover_cb)(void *arg, int status,
				      uint64_t data_seq, uint64_t content_seq);
int dataplane_takeover(struct dataplane *dp, const char *user_set,
		       dataplane_takeover_cb cb, void *arg);

/* "async", "sync" or "async (fallback)". */
const char *dataplane_sync_name(const struct dataplane *dp);

/* JSON object of the receiver's figures (null while unpaired); a new
 * reference. */
json_t *dataplane_receiver_status(struct dataplane *dp);

struct members_seed_report;

/* The seeds of this agent's streams (dataplane_seed.c): GET /v1/status's
 * self.rebuild, {"rebuilding": any seed runs, "streams": [every seed
 * followed since the start, seedwatch_json()]}, null for a witness; a new
 * reference. */
json_t *dataplane_seeds_status(struct dataplane *dp);

/* The streams of dataplane_seeds_status() alone (for the metrics); a new
 * reference. */
json_t *dataplane_seed_rows(struct dataplane *dp);

/* The seeds that run now (or were cut), then those that ended (with
 * ended set), for the reports to the other agents (at most max into
 * out). Returns how many. */
unsigned dataplane_seed_reports(struct dataplane *dp,
				struct members_seed_report *out, unsigned max);

/* ---- the local synchronous copy (dataplane_lsync.c) ---- */

/* The member writes wait for now: the committed sync standby, or the
 * candidate chosen (its commit asked or not yet known), also while it is
 * being dropped; 0 when no write waits (local_sync off, not the writer, no
 * standby in sync). */
uint64_t dataplane_lsync_target(const struct dataplane *dp);

/* The local sender to standby_id had (user_set, lane) acknowledged up to
 * acked (called by the local senders on every acknowledgement): releases
 * the writes waiting for it when standby_id is the target. */
void dataplane_lsync_on_ack(struct dataplane *dp, uint64_t standby_id,
			    const char *user_set, int lane, uint64_t acked);

/* "sync" (writes wait for a standby: committed or candidate), "fallback"
 * (standbys exist but none is in sync, or the target is being dropped),
 * "none" (no standby), "off" (local_sync = false). Static string. */
const char *dataplane_lsync_name(const struct dataplane *dp);

/* ---- hot standbys (dataplane_local.c, dataplane_standby.c) ---- */

enum dataplane_standby_state {
	DATAPLANE_STANDBY_DISCONNECTED, /* the local sender is not streaming */
	DATAPLANE_STANDBY_STREAMING,	/* every lane connected, no seed */
	DATAPLANE_STANDBY_SEEDING,	/* a seed of its copy runs */
};

/* "disconnected", "streaming" or "seeding". Static string. */
const char *dataplane_standby_state_name(int state);

#define DATAPLANE_STANDBY_SETS 4

/* What the writer knows of one standby of its pool (its local sender). */
struct dataplane_standby {
	uint64_t id;
	char name[FSM_NAME_LEN];
	int state; /* enum dataplane_standby_state */
	/* per user set streamed: what the standby acknowledged (durable
	 * there) and what there is (this writer's head), per lane */
	struct {
		char user_set[FSM_NAME_LEN];
		uint64_t acked[2];
		uint64_t head[2];
	} sets[DATAPLANE_STANDBY_SETS];
	unsigned n_sets;
	uint64_t lag_records; /* sum over the streams of head - acked */
	uint64_t lag_ms;      /* age of the oldest write it has not acked */
	uint64_t last_ack_ns; /* clock_mono_ns() of its last ack, 0 none */
};

/* The standbys this agent streams to as its pool's writer (0 when it is
 * not the writer, or a witness). */
unsigned dataplane_standby_count(const struct dataplane *dp);

/* The i-th of them (0 <= i < count) into *out: 0, or -ENOENT. */
int dataplane_standby_at(struct dataplane *dp, unsigned i,
			 struct dataplane_standby *out);

/* The one of member id: 0, or -ENOENT when this agent streams to no such
 * standby. */
int dataplane_standby_get(struct dataplane *dp, uint64_t id,
			  struct dataplane_standby *out);

/* Whether this agent is a standby of its pool holding a copy of the user
 * sets its pool owns (it serves reads of them, "copy": "standby"). */
bool dataplane_standby_copy(const struct dataplane *dp);

/* Whether user_set is one this agent's pool owns now (its own, its
 * pair's after a failover onto it, "cms" as the active CMS). */
bool dataplane_pool_owns(const struct dataplane *dp, const char *user_set);

struct members_copy_report;
struct members_standby_report;

/* A standby: where its copy stands per (user set, lane) of those its
 * pool owns (at most max into out). How many; 0 when not a standby. */
unsigned dataplane_copy_reports(struct dataplane *dp,
				struct members_copy_report *out, unsigned max);

/* The writer: its standbys' figures (at most max into out). How many. */
unsigned dataplane_standby_reports(struct dataplane *dp,
				   struct members_standby_report *out,
				   unsigned max);
/* The standbys of this writer's pool, as its local senders see them:
 * [{id, name, state ("sync": the target, acknowledging; "streaming",
 * "seeding", "disconnected"), acked {data, content} (of the pool's own
 * user set), lag_records, lag_ms}]; NULL when this agent is not its
 * pool's writer (a new reference). */
json_t *dataplane_lsync_standbys_json(struct dataplane *dp);

/* The same for the metrics: [{pool, standby (name), lag_records,
 * lag_ms}], NULL when not the writer (a new reference). */
json_t *dataplane_lsync_standby_rows(struct dataplane *dp);

/* Next hybrid logical timestamp for a local write. */
uint64_t dataplane_hlc(struct dataplane *dp);

#endif
