/* dataplane_internal: what crosses the files of the data plane
 * (dataplane.c, dataplane_stream.c, dataplane_sync.c); see dataplane.h.
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

/* ---- dataplane_stream.c ---- */

/* Bring sender and receiver in line with the applied state (pair, owners,
 * fences, the divergence archive on return). */
void dataplane_streams_reconcile(struct dataplane *dp);

/* Close sender and receiver (counted in dp->stream_closes; while the data
 * plane closes, the last one closes the store); waiting writes are
 * answered not replicated. */
void dataplane_streams_stop(struct dataplane *dp);

/* A divergence check held back until this agent's view was current runs
 * once it is (from the sync timer). */
void dataplane_divert_pending(struct dataplane *dp);

/* Records left to acknowledge over every stream; *streaming: there is a
 * stream and every one is connected. */
uint64_t dataplane_total_lag(struct dataplane *dp, bool *streaming);

/* ---- dataplane_sync.c: synchronous mode's waits ---- */

/* Follow the applied state: want sync mode (the pair's mode is sync) with
 * timeout_ms; why_off says why not when !want. Turning async answers
 * every waiting write (not replicated). */
void dataplane_sync_follow(struct dataplane *dp, bool want,
			   uint32_t timeout_ms, const char *why_off);

/* Queue a wait for (user_set, lane, seq) when in SYNC_ON: 1 (cb fires
 * later, once), else 0 (cb never fires). 0 also out of memory. */
int dataplane_sync_wait(struct dataplane *dp, const char *user_set, int lane,
			uint64_t seq, dataplane_release_cb cb, void *arg);

/* The pair acknowledged (user_set, lane) up to acked: release, as
 * replicated, every wait of that stream at or below acked. */
void dataplane_sync_acked(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t acked);

/* Release every wait, not replicated. */
void dataplane_sync_release_all(struct dataplane *dp);

/* Periodic check at now_ns (clock_mono_ns): in SYNC_ON, when the oldest
 * wait is older than sync_timeout_ms, fall back (SYNC_FALLBACK, counted in
 * sync_fallbacks) and release every wait not replicated; in
 * SYNC_FALLBACK, return to SYNC_ON once caught_up (no lag and every
 * stream connected). */
void dataplane_sync_check(struct dataplane *dp, uint64_t now_ns,
			  bool caught_up);

#endif
