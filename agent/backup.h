/* backup: the Backup Service's figures per direction (from a pool to its
 * pair) and category (user data, conference content, CMS):
 *
 * - GET /v1/backup: the streams this agent sends its pair, live;
 * - the stream reports a pool agent sends with every heartbeat (and to
 *   every other agent), made of the same rows;
 * - the backup section of GET /v1/status: every paired pool's streams,
 *   live for this agent's own, from the newest report of the pool's agents
 *   for the others, with the report's age (state "unknown" once it is
 *   older than lease + grace, the time after which a pool is down).
 *
 * Every JSON function returns a new reference owned by the caller, or NULL
 * out of memory. Loop thread only. */
#ifndef POOLPAIR_BACKUP_H
#define POOLPAIR_BACKUP_H

#include <stddef.h>

#include <jansson.h>

#include "agent/dataplane.h"
#include "consensus/fsm.h"
#include "replication/sender.h"

struct members_seen;
struct members_stream_report;

/* Where the cluster's view of the backups comes from (all borrowed; they
 * outlive every call). */
struct backup_cluster_src {
	const struct fsm *fsm;	 /* the applied state, read only */
	struct dataplane *data;	 /* this agent's (its clock, pool, streams) */
	/* the newest report heard from agent id (members_seen_get()), NULL
	 * when none */
	const struct members_seen *(*seen)(void *impl, uint64_t id);
	void *seen_impl;
	uint64_t self_id;	 /* this agent: its own streams are live */
	const char *self_name;
	uint64_t stale_ms;	 /* a report older than this is "unknown":
				    lease + grace, the time after which a
				    pool is down */
};

/* One stream this agent sends its pair, with its live figures. */
struct backup_row {
	struct sender_stats st;	  /* dataplane_stream_stats() */
	const char *category;	  /* "user_data", "content" or "cms" (static) */
	const char *state;	  /* "final": nothing left, not connected;
				     "steady": nothing left, streaming;
				     "backlog": records left, streaming;
				     "seeding": streaming a seed of the
				     pair's copy (st.seed_*);
				     "error": records left (or a seed cut),
				     not connected */
	double lag_seconds;	  /* age of the oldest unacknowledged record */
	double compression_ratio; /* wire / raw bytes, 0 before any */
};

/* Streams of this agent's sender (0 without one: unpaired, a witness). */
size_t backup_stream_count(struct dataplane *dp);

/* Fill row with the i-th stream. Its st.head_seq is the stream's
 * position, max(head_seq, applied_seq): of a user set this store took
 * over, the records received from the pair count (the pair acknowledged
 * them, or a seed from there). Returns 0; 1 when the stream is not
 * listed (the CMS has no content: its content lane never carries a
 * record); a negative error when there is no such stream. */
int backup_row(struct dataplane *dp, size_t i, struct backup_row *row);

/* The figures of row from its row->st as sampled at now_ms (wall
 * clock): category, state, lag_seconds, compression_ratio, and st.head_seq
 * made the stream's position as in backup_row(). Returns 0; 1 when the
 * stream is not listed (the CMS's content lane). Pure. */
int backup_row_figures(struct backup_row *row, uint64_t now_ms);

/* A row of GET /v1/backup (docs/api.md) for the stream from pool from to
 * pool to: with "seeding", "seed_items", "seed_items_total", "seed_bytes"
 * and "seed_bytes_total" while it seeds the pair's copy. Pure. */
json_t *backup_row_json(const char *from, const char *to,
			const struct backup_row *row);

/* The rows as stream reports (at most max); returns how many. */
unsigned backup_stream_reports(struct dataplane *dp,
			       struct members_stream_report *out, unsigned max);

/* GET /v1/backup's "backup": an array of this agent's streams
 * (docs/api.md). */
json_t *backup_local(struct dataplane *dp);

/* The commit -> acknowledgement histogram of each of this agent's streams
 * (sender_committed(), replication/ackhist.h), for the metrics: an array
 * of {from, to, user_set, category, buckets: [[le, cumulative count],
 * ...] (the bounds of ACKHIST_LE, without +Inf), count, sum (seconds)};
 * NULL when out of memory. */
json_t *backup_ack_rows(struct dataplane *dp);

/* GET /v1/status's "backup": an array per direction and category of every
 * paired pool (docs/api.md). */
json_t *backup_cluster(const struct backup_cluster_src *src);

#endif
