/* dataplane_internal: what crosses the files of the data plane
 * (dataplane.c, dataplane_stream.c, dataplane_sync.c, dataplane_lsync.c,
 * dataplane_seed.c, dataplane_local.c, dataplane_standby.c); see
 * dataplane.h.
 * Not for other modules. Loop thread only. */
#ifndef POOLPAIR_DATAPLANE_INTERNAL_H
#define POOLPAIR_DATAPLANE_INTERNAL_H

#include "agent/dataplane.h"

#define DATAPLANE_MOD "data"
#define DATAPLANE_MOD_REPL "repl"

/* This agent's pool in the applied state, or NULL (not defined yet). */
const struct fsm_pool *dataplane_me(const struct dataplane *dp);

/* dataplane.c: one of what dataplane_close() waits for (the timer, the
 * store) finished closing; calls the close callback after the last. */
void dataplane_closed_one(struct dataplane *dp);

/* dataplane.c: closing, the streams are closed (stream_closes 0): close
 * the store. */
void dataplane_store_close(struct dataplane *dp);

/* dataplane.c: hand rx (not NULL) the committed epoch of every user set
 * of the applied state (each pool's, the CMS's): it refuses records and
 * seeds above them (receiver_set_epoch). After each receiver_init and
 * whenever the applied state changes. */
void dataplane_receiver_epochs(struct dataplane *dp, struct receiver *rx);

/* ---- dataplane_stream.c ---- */

/* Bring sender and receiver in line with the applied state (pair, owners,
 * fences, the divergence archive on return). */
void dataplane_streams_reconcile(struct dataplane *dp);

/* Start or stop the streams when this agent became or stopped being its
 * pool's writer, or its view became current (from the sync timer). */
void dataplane_streams_follow(struct dataplane *dp);

/* Close sender and receiver (counted in dp->stream_closes; while the data
 * plane closes, the last one closes the store); the writes waiting for the
 * pair are released how (DP_RELEASE_FAILED: no longer the writer, or
 * closing). */
void dataplane_streams_stop(struct dataplane *dp, enum dataplane_release how);

/* A divergence check held back until this agent's view was current runs
 * once it is (from the sync timer). */
void dataplane_divert_pending(struct dataplane *dp);

/* Records left to acknowledge over every stream; *streaming: there is a
 * stream and every one is connected. */
uint64_t dataplane_total_lag(struct dataplane *dp, bool *streaming);

/* ---- dataplane_seed.c ---- */

/* Sample the seeds of the sender and the receiver (every sync timer
 * tick, 100 ms) and log when one starts, every 5 s while it runs, and
 * when it ends. */
void dataplane_seeds_tick(struct dataplane *dp);

/* A stream that seeds the pair's copy (st->seeding) is not caught up
 * however its positions stand: raise st's lag_records to at least the
 * items the seed has left (at least 1) and lag_bytes to at least its
 * bytes left. Nothing when it does not seed. */
void dataplane_seed_lag(struct sender_stats *st);

/* A seed of st's stream that was cut (the link lost, the sender made
 * anew) and not settled since (seedwatch.h) still runs as far as the
 * pair's copy goes: st->seeding is set, with the seed's last figures. */
void dataplane_seed_unfinished(struct dataplane *dp, struct sender_stats *st);

/* Whether a stream of the sender seeds the pair's copy now (or a cut seed
 * of it is unfinished). */
bool dataplane_sender_seeding(struct dataplane *dp);

/* ---- dataplane_sync.c: synchronous mode's waits ---- */

/* A seed of the pair's copy runs: in SYNC_ON, fall back at once (the
 * pair acknowledges nothing of a seeded stream before the seed ends) and
 * release every wait DP_RELEASE_LOCAL; the return to SYNC_ON waits until
 * the pair has caught up (dataplane_sync_check). */
void dataplane_sync_seeding(struct dataplane *dp);

/* Follow the applied state: want sync mode (the pair's mode is sync) with
 * timeout_ms; why_off says why not when !want. Turning async answers
 * every waiting write (DP_RELEASE_LOCAL: the committed mode needs no
 * acknowledgement). */
void dataplane_sync_follow(struct dataplane *dp, bool want,
			   uint32_t timeout_ms, const char *why_off);

/* Queue a wait for (user_set, lane, seq) when in SYNC_ON: 1 (cb fires
 * later, once), else 0 (cb never fires). 0 also out of memory. */
int dataplane_sync_wait(struct dataplane *dp, const char *user_set, int lane,
			uint64_t seq, dataplane_release_cb cb, void *arg);

/* The pair acknowledged (user_set, lane) up to acked: release
 * (DP_RELEASE_REPLICATED) every wait of that stream at or below acked. */
void dataplane_sync_acked(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t acked);

/* Release every wait with how. */
void dataplane_sync_release_all(struct dataplane *dp,
				enum dataplane_release how);

/* Periodic check at now_ns (clock_mono_ns): in SYNC_ON, when the oldest
 * wait is older than sync_timeout_ms, fall back (SYNC_FALLBACK, counted in
 * sync_fallbacks) and release every wait DP_RELEASE_LOCAL; in
 * SYNC_FALLBACK, return to SYNC_ON once caught_up (no lag and every
 * stream connected). */
void dataplane_sync_check(struct dataplane *dp, uint64_t now_ns,
			  bool caught_up);

/* ---- dataplane_lsync.c: the local synchronous copy ---- */

/* Follow the applied state: this agent is its pool's writer (writer),
 * the pool's committed sync standby and writer token. Off: every wait
 * released, DP_RELEASE_FAILED when no longer the writer (the pool's copy
 * is the new writer's, which may lack them), DP_RELEASE_LOCAL when
 * local_sync is false. */
void dataplane_lsync_follow(struct dataplane *dp, bool writer,
			    uint64_t committed, uint64_t token);

/* Queue a wait for (user_set, lane, seq) when a target exists and has not
 * acknowledged seq yet: 1 (cb fires later, once: DP_RELEASE_LOCAL when the
 * target acknowledged it or is known dropped, DP_RELEASE_FAILED when this
 * agent stopped being the writer or closes), else 0 (cb never fires). 0
 * also out of memory. */
int dataplane_lsync_wait(struct dataplane *dp, const char *user_set, int lane,
			 uint64_t seq, dataplane_release_cb cb, void *arg);

/* Periodic check at now_ns with the standbys of the pool (n of them): a
 * target disconnected or silent on a waiting write for timeout_ms is
 * dropped (pool_sync standby=0 asked); with none, a caught-up standby is
 * chosen (the lowest id) and asked for; an ask whose outcome is unknown is
 * asked again. */
void dataplane_lsync_check(struct dataplane *dp, uint64_t now_ns,
			   const struct dataplane_lsync_standby *sb,
			   unsigned n);

/* The standbys of the pool as the local senders see them (at most max
 * into out); how many. */
unsigned dataplane_lsync_standbys(struct dataplane *dp,
				  struct dataplane_lsync_standby *out,
				  unsigned max);

/* Release every wait of the local copy DP_RELEASE_FAILED (closing). */
void dataplane_lsync_release_all(struct dataplane *dp);

/* ---- dataplane_local.c, dataplane_standby.c: the hot standbys ---- */

#define DATAPLANE_LOCAL_MAX 8 /* standbys a writer streams to */

/* The roles of this agent in its pool, by the applied state. */
enum local_role {
	ROLE_NONE,    /* no pool, no writer, or a view not current yet */
	ROLE_WRITER,  /* runs the local senders */
	ROLE_STANDBY, /* keeps a copy */
};

/* The standby side's life: R7 first, then the receiver. */
enum standby_state {
	SB_IDLE,      /* not a standby */
	SB_DIVERTING, /* store_divert_stale calls in flight */
	SB_READY,     /* diverted for div_token: the receiver may run */
};

struct lsender; /* dataplane_local.c: one standby the writer streams to */

/* dp->local: the writer's local senders and the cap of the pair's sender
 * (dataplane_local.c), the standby's divert, receiver and copy
 * (dataplane_standby.c). */
struct dataplane_local {
	/* writer */
	struct lsender *tx[DATAPLANE_LOCAL_MAX];
	unsigned n_tx;
	/* the user sets they stream */
	char sets[DATAPLANE_STANDBY_SETS][FSM_NAME_LEN];
	unsigned n_sets;
	/* the cap of the pair's sender (R3): the sender it was set on and
	 * the limit of each (user set, lane) */
	const struct sender *capped;
	struct {
		char user_set[FSM_NAME_LEN];
		uint64_t limit[2];
	} caps[DATAPLANE_STANDBY_SETS];
	unsigned n_caps;
	uint64_t cap_target;
	/* standby */
	int sb;		     /* enum standby_state */
	uint64_t div_token;  /* writer token the divert ran (runs) for */
	unsigned div_pending;
	uint64_t div_archived;
	int div_status;
	struct receiver *rx; /* owned until closed */
	char rx_sets[DATAPLANE_STANDBY_SETS][FSM_NAME_LEN];
	unsigned n_rx_sets;
	int rx_error;	     /* last receiver_init error logged, 0 none */
	uint64_t rx_peer_agent; /* rx takes only this agent's stream: the
				   pool's writer (F2) */
	/* the copy's positions (standby) and what was trimmed of them */
	struct {
		char user_set[FSM_NAME_LEN];
		uint64_t head[2];
		uint64_t trimmed[2];
		bool trimming[2];
	} copy[DATAPLANE_STANDBY_SETS];
	unsigned n_copy;
	bool positions_inflight;
	uint64_t positions_ns;
};

/* This agent's role in its pool by the applied state: ROLE_NONE while the
 * data plane is not open, without a pool or a writer. */
enum local_role dataplane_local_role(const struct dataplane *dp);

/* Whether this agent's view of the applied state is current (the lease
 * module's word). */
bool dataplane_local_view_current(const struct dataplane *dp);

/* The log callback (arg unused) of the local streams: "local: MSG" at
 * the stream's level. */
void dataplane_local_log(void *arg, int level, const char *msg);

/* Allocate dp->local (a pool agent). 0 or -ENOMEM. */
int dataplane_local_init(struct dataplane *dp);

/* Free dp->local once everything of it closed. */
void dataplane_local_free(struct dataplane *dp);

/* Bring the local senders (writer), the standby's receiver (standby), the
 * divert of stale records on return (R7) and the cap of the pair's sender
 * (R3) in line with the applied state; after every apply and every tick. */
void dataplane_local_reconcile(struct dataplane *dp);

/* Every sync timer tick (100 ms): the reconcile, and about once a second
 * the standby's positions and trim. */
void dataplane_local_tick(struct dataplane *dp);

/* seq was written in (user_set, lane) here, `bytes` key + value bytes:
 * counted in each standby's lag until it acknowledges it. */
void dataplane_local_written(struct dataplane *dp, const char *user_set,
			     int lane, uint64_t seq, uint64_t bytes);

/* A local write committed: wake the local senders. */
void dataplane_local_notify(struct dataplane *dp);

/* Close every local sender and the standby's receiver (counted in
 * dp->stream_closes like the pair's streams). */
void dataplane_local_stop(struct dataplane *dp);

/* dataplane_standby.c, from dataplane_local_reconcile(): as a standby
 * (standby true), run R7 once per writer token from a current view, then
 * the receiver of the copy of the user sets the pool owns (once the
 * pair's receiver is gone); otherwise close that receiver and forget the
 * copy's positions. */
void dataplane_standby_reconcile(struct dataplane *dp, bool standby);

/* dataplane_standby.c, every tick while open: about once a second, with
 * a receiver running, read the copy's positions, then trim its outbox
 * with the pair's acknowledgements the writer reports. */
void dataplane_standby_tick(struct dataplane *dp);

/* dataplane_standby.c: close the standby's receiver (counted in
 * dp->stream_closes); the divert is to run again. */
void dataplane_standby_stop(struct dataplane *dp);

/* The owned user sets of pool in the applied state (its own when it owns
 * it, its pair's after a failover, "cms" as the active CMS). */
unsigned dataplane_owned_by(const struct fsm *f, const char *pool,
			    const char **out, unsigned max);

/* The writer of pool in the applied state (member id), 0 when pool is
 * unknown or has none: the one agent whose stream a receiver expecting
 * pool takes (F2: receiver_set_peer_agent, 0 any). */
uint64_t dataplane_pool_writer_id(const struct fsm *f, const char *pool);

/* The name of member id for the log, "any agent" for 0, "member N" when
 * unknown. buf of at least FSM_NAME_LEN + 24. */
const char *dataplane_member_name(const struct fsm *f, uint64_t id,
				  char *buf, size_t len);

/* dataplane_stream.c: a stream closed (sender or receiver, pair's or
 * local): the count of closes in flight drops; the last one while the
 * data plane closes closes the store. arg is the dataplane. */
void dataplane_stream_closed(void *arg);

/* dataplane_stream.c: "host:port" into host (hostlen bytes) and *port;
 * 0 or -1. "localhost" becomes 127.0.0.1. */
int dataplane_split_hostport(const char *addr, char *host, size_t hostlen,
			     uint16_t *port);

#endif
