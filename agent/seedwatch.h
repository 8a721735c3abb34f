/* seedwatch: the progress of the seeds this agent takes part in (a copy
 * of a user set rebuilt from its owner's store, replication/store_seed.h),
 * as an operator follows them: per (role, user set, lane) the items and
 * bytes stored of their totals, the rate over the last seconds and the
 * time left; when a seed starts, every SEEDWATCH_LOG_MS while it runs,
 * and when it ends, a line for the log.
 *
 * Pure: no I/O, no clock; the caller samples the figures of the sender
 * and receiver (sender_stats, receiver_seed) with the time and logs the
 * lines it is handed. Not thread-safe; one watch per data plane. */
#ifndef POOLPAIR_SEEDWATCH_H
#define POOLPAIR_SEEDWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SEEDWATCH_MAX 16 /* streams followed at once */
#define SEEDWATCH_SAMPLES                                                      \
	64 /* samples kept for the rate: 6.4 s at 10 a second */
#define SEEDWATCH_WINDOW_MS 5000 /* the rate is over this much time */
#define SEEDWATCH_LOG_MS 5000	 /* a progress line this often */
#define SEEDWATCH_NAME_LEN 64

enum seedwatch_role {
	SEEDWATCH_SENDER,   /* this agent's store seeds the pair's copy */
	SEEDWATCH_RECEIVER, /* this agent's copy is seeded by the pair */
};

/* One sample of a seed as the sender or receiver reports it. */
struct seedwatch_sample {
	int role;	      /* enum seedwatch_role */
	const char *user_set; /* borrowed for the call */
	int lane;	      /* 0 data, 1 content */
	const char *peer;     /* the pool at the other end (borrowed) */
	bool active;	      /* the seed runs (sender: seeding) */
	uint64_t from_seq;    /* its position F */
	uint64_t items, items_total;
	uint64_t bytes, bytes_total;
	uint64_t done; /* sender: seeds completed since its
			  start (tells an end from a cut) */
	bool gone;     /* the stream itself is gone (its sender or receiver
			  closed): not active, and cut, not ended */
};

/* A seed followed. */
struct seedwatch_stream {
	int role;
	char user_set[SEEDWATCH_NAME_LEN];
	int lane;
	char peer[SEEDWATCH_NAME_LEN];
	bool active;
	uint64_t from_seq;
	uint64_t items, items_total;
	uint64_t bytes, bytes_total;
	uint64_t done;
	uint64_t started_ms;  /* when it was seen to start (the caller's ms) */
	uint64_t first_items; /* items and bytes then, for the average */
	uint64_t first_bytes;
	uint64_t ended_ms;  /* when it was seen to end, 0 while active */
	bool cut;	    /* it was last seen cut (from_seq its position) */
	bool unfinished;    /* it was cut (not active, not done) and no
			       connection settled it since
			       (seedwatch_settled): the copy still lacks
			       items */
	uint64_t logged_ms; /* last line handed out */
	bool start_pending; /* seen to start before its totals were known
			       (the sender counts them first): its start
			       line waits for them */
	bool start_resumed; /* and it resumed a cut seed */
	struct {
		uint64_t ms, items, bytes;
	} s[SEEDWATCH_SAMPLES]; /* ring, oldest at (head + SAMPLES - n) */
	unsigned n, head;
};

struct seedwatch {
	struct seedwatch_stream v[SEEDWATCH_MAX];
	unsigned n;
};

/* What a sample changed, for the log. */
enum seedwatch_event {
	SEEDWATCH_NONE,
	SEEDWATCH_STARTED,  /* a seed was seen to start (or resume) */
	SEEDWATCH_PROGRESS, /* SEEDWATCH_LOG_MS since the last line */
	SEEDWATCH_ENDED,    /* it finished: the copy holds the snapshot */
	SEEDWATCH_CUT,	    /* it stopped unfinished (the link was cut: it
			       resumes when the link is back) */
};

/* Empty the watch. */
void seedwatch_init(struct seedwatch *w);

/* Record sample x at now_ms. A sample of a stream not followed and not
 * active is ignored (no seed ever ran there); a new one takes a free
 * slot, else the oldest ended one's. Returns the event and, when it is
 * not SEEDWATCH_NONE, the line to log into line (len bytes): "seed of
 * pool-east data lane to pool-east: 120000 of 200000 items, 45.1 of 80.0
 * MB, 12.3 MB/s, eta 7 s" (from POOL at the receiving side). A seed first
 * seen with items stored is "resumed" when it was seen cut at the same
 * position, else "under way" (it was quicker than the samples, or began
 * before this agent). SEEDWATCH_STARTED comes once its totals are known
 * (not both 0): a seed seen to start before is followed meanwhile
 * without a line (no progress lines either); one that ends before has
 * its end line alone. */
int seedwatch_sample(struct seedwatch *w, const struct seedwatch_sample *x,
		     uint64_t now_ms, char *line, size_t len);

/* Rate of st over the last SEEDWATCH_WINDOW_MS as of its newest sample:
 * items and bytes per second; 0 when fewer than two samples span it. */
void seedwatch_rate(const struct seedwatch_stream *st, double *items_s,
		    double *bytes_s);

/* Seconds left at the rates given: from the bytes when their total is
 * known and they move, else from the items; -1 when unknown (nothing
 * moves, or both totals are 0: not counted yet); 0 once everything is
 * there. */
int64_t seedwatch_eta_s(uint64_t items, uint64_t items_total, uint64_t bytes,
			uint64_t bytes_total, double items_s, double bytes_s);

/* Items not stored yet of an active seed, at least 1 (the copy is not
 * caught up until the seed ends, even once every item is there); 0 when
 * not active. */
uint64_t seedwatch_remaining(bool active, uint64_t items, uint64_t items_total);

/* "data" or "content". */
const char *seedwatch_lane_name(int lane);

/* "sender" or "receiver". */
const char *seedwatch_role_name(int role);

/* The figures of st as JSON: {"role", "user_set", "lane", "peer",
 * "active", "from_seq", "items", "items_total", "bytes", "bytes_total",
 * "rate_items_s", "rate_bytes_s", "eta_s" (null when unknown, as while
 * it is cut)}. A new reference, NULL out of memory. */
json_t *seedwatch_json(const struct seedwatch_stream *st);

/* The stream of (role, user_set, lane) followed, or NULL (borrowed: valid
 * until the next seedwatch_sample()). */
const struct seedwatch_stream *seedwatch_find(const struct seedwatch *w,
					      int role, const char *user_set,
					      int lane);

/* A connection of (role, user_set, lane) streams without a seed: the
 * handshake found the copy needs none (a cut seed ended at the copy before
 * its end was counted here), so it is no longer unfinished. */
void seedwatch_settled(struct seedwatch *w, int role, const char *user_set,
		       int lane);

/* Whether any seed followed is active or unfinished. */
bool seedwatch_active(const struct seedwatch *w);

#endif
