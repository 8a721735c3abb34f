/* metrics: counters and histograms of the agent, rendered in the Prometheus
 * text exposition format on GET /metrics.
 *
 * The module counts what the API tells it (requests, their latency, the
 * outcomes of decisions) and, to render, reads the applied state (const
 * struct fsm *), the node's view of the leadership and of the log (a
 * proposer), a clock, and what other modules know through struct
 * metrics_sources (the Raft configuration, log and snapshots, the
 * members' reachability, leases and heartbeats, the router's redirects,
 * the data plane's figures), bound to the real modules by the agent. Each
 * is borrowed and must outlive the module.
 *
 * Loop thread only. */
#ifndef POOLPAIR_METRICS_H
#define POOLPAIR_METRICS_H

#include <jansson.h>
#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/clock.h"
#include "agent/proposer.h"
#include "consensus/fsm.h"

#define METRICS_BUCKETS 12
#define METRICS_METHODS 5 /* GET POST PUT DELETE other */
#define METRICS_CLASSES 6 /* 1xx..5xx, other */

/* What the members module knows of leases and heartbeats. */
struct metrics_members {
	/* the leader, this leadership: the newest time (monotonic ns of the
	 * metrics' clock) its own lease was proved from a committed barrier
	 * and from the heartbeats' echoes, 0 none; how long its last barrier
	 * took */
	uint64_t barrier_proved_ns;
	uint64_t echoes_proved_ns;
	uint64_t barrier_took_ns;
	uint64_t heartbeats_sent;
	uint64_t heartbeats_failed;
};

/* The replication mode of the data plane. */
enum metrics_sync {
	METRICS_SYNC_OFF,      /* async */
	METRICS_SYNC_ON,       /* sync */
	METRICS_SYNC_FALLBACK, /* sync mode fell back to async */
};

/* The data plane's figures (a pool agent). */
struct metrics_data {
	bool store_open; /* the store is open: its figures are meaningful */
	uint64_t writes_ok;
	uint64_t writes_refused;
	uint64_t transactions; /* write transactions committed */
	uint64_t commit_ns;    /* time spent in COMMIT */
	/* the store's space (replication/store.h "Reserve"), with the store
	 * open and measured: the filesystem's free bytes and size, the free
	 * pages in the store file, the reserve, whether under it; and the
	 * incomplete uploads removed (agent/content.h) */
	bool space_known;
	uint64_t disk_free, disk_size, store_free, reserve;
	bool under_reserve;
	uint64_t uploads_removed;
	int sync;	       /* enum metrics_sync */
	uint64_t sync_fallbacks;
	/* the local synchronous copy (dataplane_lsync.c): times a standby in
	 * sync was lost and dropped, writes waiting for one now */
	uint64_t local_sync_fallbacks;
	uint64_t local_sync_waiting;
	/* the writer: its pool's standbys, [{pool, standby (name),
	 * lag_records, lag_ms}]; a new reference the metrics release, NULL
	 * when none (not the writer) */
	json_t *standbys;
	/* GET /v1/backup's rows (backup.h: from, to, user_set, category,
	 * lag_records, lag_bytes, lag_seconds, acked_seq, head_seq,
	 * compression_ratio, records_per_second); a new reference the
	 * metrics release, NULL when none */
	json_t *streams;
	/* per stream of GET /v1/backup, the commit -> acknowledgement
	 * histogram (backup_ack_rows(): from, to, user_set, category,
	 * buckets [[le, cumulative count], ...], count, sum); a new reference
	 * the metrics release, NULL when none */
	json_t *acks;
	/* the seeds followed since the start (dataplane_seed_rows(): role,
	 * user_set, lane, active, items, items_total, bytes, bytes_total); a
	 * new reference the metrics release, NULL when none */
	json_t *seeds;
};

/* The API server's connections refused or cut (http.h, struct
 * http_server_stats), counters since the start. */
struct metrics_connections {
	uint64_t refused_limit;	  /* its max_connections reached */
	uint64_t refused_address; /* too many unauthenticated from one IP */
	uint64_t evicted;	  /* unauthenticated, closed to make room */
	uint64_t timeouts_handshake;
	uint64_t timeouts_head; /* 408 */
	uint64_t timeouts_body; /* 408 */
};

/* What the metrics read of other modules. Every op: loop thread only,
 * never NULL. */
struct metrics_sources_ops {
	/* The Raft configuration (borrowed: valid until the next loop
	 * turn). */
	const struct raft_configuration *(*configuration)(void *impl);
	/* The index of the last entry of the Raft log. */
	uint64_t (*last_index)(void *impl);
	/* Snapshots taken and restored since the start. */
	void (*snapshots)(void *impl, uint64_t *taken, uint64_t *restored);
	/* The Raft election timeout in effect, ms (NULL: not exported). */
	unsigned (*election_timeout)(void *impl);
	/* The leader's view of member id: 1 reachable, 0 not, -1 unknown
	 * (this agent does not lead). */
	int (*reachable)(void *impl, uint64_t id);
	void (*members)(void *impl, struct metrics_members *out);
	/* Requests the router answered 307 (to the leader). */
	uint64_t (*redirects)(void *impl);
	/* The API server's refusals and deadlines into *out. */
	void (*connections)(void *impl, struct metrics_connections *out);
	/* The data plane's figures into *out; false for a witness (no data
	 * plane: nothing filled). */
	bool (*data)(void *impl, struct metrics_data *out);
};

struct metrics_sources {
	const struct metrics_sources_ops *ops; /* static */
	void *impl;			       /* borrowed */
};

struct metrics_deps {
	const struct fsm *fsm;		   /* borrowed, read only */
	const struct proposer *proposer;   /* borrowed: leadership, term */
	const struct clock *clock;	   /* borrowed */
	const struct metrics_sources *src; /* borrowed */
	uint64_t started_ns; /* when the agent started (the clock's
				monotonic ns): the uptime */
};

struct metrics {
	struct metrics_deps d; /* copied; pointers borrowed */
	uint64_t requests[METRICS_METHODS][METRICS_CLASSES];
	/* request latency histogram (seconds), cumulative buckets */
	uint64_t latency_buckets[METRICS_BUCKETS];
	uint64_t latency_count;
	double latency_sum;
	uint64_t decisions_ok;
	uint64_t decisions_refused;
	uint64_t decisions_unknown;
};

/* Set m up from deps (copied; the pointers borrowed), every count 0.
 * Returns 0. */
int metrics_init(struct metrics *m, const struct metrics_deps *deps);

/* The module holds no handle: cb (may be NULL) is called at once. */
void metrics_close(struct metrics *m, void (*cb)(struct metrics *m));

/* Record one finished API request. */
void metrics_observe(struct metrics *m, const char *method, int status,
		     uint64_t duration_ns);

/* Count the outcome of a decision proposed for an API caller: status and
 * res as a proposer callback's (res NULL unless status is 0). */
void metrics_decided(struct metrics *m, int status,
		     const struct fsm_result *res);

/* Render every metric of the agent. Returns a malloc()ed NUL-terminated
 * text (caller frees) or NULL on allocation failure; *len set. */
char *metrics_render(const struct metrics *m, size_t *len);

#endif
