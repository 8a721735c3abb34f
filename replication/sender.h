/* sender: streams the outbox of this pool's user sets to the pair's agent.
 *
 * One sender per pair link. It keeps two TCP connections to the pair's
 * data address, one per lane (LANE_DATA and LANE_CONTENT), so that small
 * user-data records never wait behind content chunks. Each connection
 * carries every configured user set on its lane.
 *
 * Per connection:
 *
 *   idle -> resolving -> connecting -> handshaking -> streaming
 *     ^                                                 |
 *     +--- backoff <------------- closing <---- (any error)
 *
 * Every transition is reported through the log callback ("old -> new").
 * Handshake: the sender reads its stream positions from the store and sends
 * HELLO (from_pool, to_pool, agent_id, per user set its epoch and acked
 * sequence); the receiver answers HELLO with the sequence it has applied
 * per user set. The sender resumes right after that sequence, so nothing
 * is skipped or sent twice on purpose; a receiver ahead of the store's
 * acked sequence counts as an acknowledgement (store_outbox_ack).
 * The HELLO offers the lz4 dictionary mode (Hello.lz4_dict, batch.h) unless
 * lz4_dict_off is set; when the receiver's answer accepts it, every batch of
 * that connection is compressed against the connection's recent batches
 * (the history starts empty on each new connection and is dropped with it).
 * Seed (store_seed.h). At the HELLO answer, per (user set, lane), with r
 * the receiver's acked_seq and A, P, H this store's acked, applied and
 * head seq read at the handshake: a receiver that reports a seed in
 * progress (its StreamPosition.seed) resumes it, same F and epoch, after
 * its mark (unless F is past max(H, P): a new seed then); a receiver with
 * r < max(A, P) lacks records this outbox no longer holds and is seeded
 * from F = max(H, P); any other streams as below. A seeding stream counts
 * what it will send (store_seed_count), sends SEED_BEGIN, then the item
 * states read with store_seed_read after the mark as SEED_RECORDS batches
 * (batch_encode, never in dictionary mode, one read per connection at a
 * time as for the outbox, within the same window: the receiver's ACK of
 * each stored batch, acked_seq 0 with the seed's progress, opens it and
 * never trims the outbox), then SEED_END with what it sent since its
 * SEED_BEGIN. The receiver's ACK of F ends the seed: the stream then
 * continues with the outbox records after F, as below. The outbox keeps
 * them meanwhile (nothing of the stream is acknowledged before). A seed cut
 * by a lost connection resumes on the next one.
 * Streaming: batches read with store_outbox_read, encoded with
 * batch_encode (batch_encode_dict in dictionary mode), in the order they
 * are sent, sent as RECORDS frames, at most window_bytes of
 * unacknowledged wire bytes in flight; cumulative ACK frames trim the
 * outbox (store_outbox_ack) and fire on_ack. PING every ping_ms; no byte
 * from the peer for timeout_ms drops the connection. On any error the
 * connection is closed, the peer and reason logged, and it reconnects after
 * a jittered backoff (backoff_min_ms doubling to backoff_max_ms).
 *
 * Local copy (no_trim). A sender with no_trim streams the same outbox to
 * a copy that is not the pair (a hot standby of the same pool): the acks of
 * its peer fire on_ack and advance this sender's own acked view
 * (sender_acked, sender_stats.acked_seq) but never trim the outbox nor move
 * the store's acked position (store_outbox_ack is never called: both
 * belong to the pair's stream). Its seed decision still compares r with
 * the store's A and P as above. When the pair's acks trimmed the outbox
 * past what this sender sent (store acked > sent_seq), the connection is
 * dropped so that the next handshake seeds the copy.
 * Limit (sender_set_limit). Per (user set, lane) an upper bound on the
 * outbox records sent: none with seq > limit is read or sent (those sent
 * before a lower limit stay sent); a seed's item states are not limited.
 *
 * Threads: every function is loop-thread only; callbacks fire on the loop
 * thread. No global state. Memory is bounded by the window: the sender
 * never reads more from the outbox than fits in it.
 *
 * Errors: 0, or a negative STREAM_E_* (stream_common.h) or libuv code. */
#ifndef POOLPAIR_REPLICATION_SENDER_H
#define POOLPAIR_REPLICATION_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication/ackhist.h"
#include "replication/store.h"
#include "replication/stream_common.h"

struct tls_ctx;

#define SENDER_MAX_USER_SETS 16
#define SENDER_DEFAULT_WINDOW ((size_t)4 << 20) /* 4 MiB */
#define SENDER_DEFAULT_BATCH_BYTES ((size_t)1 << 20)
#define SENDER_DEFAULT_BATCH_RECORDS 1024
/* A batch is about batch_bytes plus its last record (at most 1 MiB and a
 * key): within what a receiver decodes (BATCH_DEFAULT_MAX_RAW). */
#define SENDER_MAX_BATCH_BYTES ((size_t)2 << 20)

/* State of one lane's connection. */
enum sender_state {
	SENDER_IDLE = 0,    /* no peer address yet */
	SENDER_RESOLVING,   /* looking up the peer's host */
	SENDER_CONNECTING,  /* TCP connect in progress */
	SENDER_HANDSHAKING, /* HELLO sent or being prepared, waiting for it */
	SENDER_STREAMING,   /* sending batches, receiving acks */
	SENDER_CLOSING,     /* connection being torn down */
	SENDER_BACKOFF,     /* waiting before the next attempt */
	SENDER_STOPPED,     /* sender_close() called */
};

/* Name of a state ("streaming"), or "?". Static storage. */
const char *sender_state_name(int state);

struct sender_config {
	const char *local_pool; /* required: HELLO from_pool (copied) */
	const char *peer_pool;  /* required: HELLO to_pool (copied) */
	uint64_t agent_id;      /* HELLO agent_id; also seeds the jitter */
	const char *host;       /* pair's data address; NULL: stay idle until
				   sender_set_peer() (copied) */
	uint16_t port;
	const char *const *user_sets; /* user sets to stream on both lanes,
					 at most SENDER_MAX_USER_SETS (copied) */
	size_t n_user_sets;
	size_t window_bytes;   /* unacked wire bytes per lane; 0: 4 MiB */
	size_t batch_bytes;    /* about this much per batch; 0: 1 MiB; at
				  most SENDER_MAX_BATCH_BYTES */
	size_t batch_records;  /* records per batch; 0: 1024; at most
				  BATCH_MAX_RECORDS (batch.h) */
	unsigned ping_ms;      /* keep-alive period; 0: 1000 */
	unsigned timeout_ms;   /* silent peer is dead after; 0: 3000 */
	unsigned backoff_min_ms; /* first retry delay; 0: 100 */
	unsigned backoff_max_ms; /* longest retry delay; 0: 5000 */
	unsigned stats_ms;     /* positions/throughput refresh; 0: 1000 */
	int lz4_dict_off;      /* 1: never offer the dictionary mode, as a
				  peer that predates it */
	int no_trim;           /* 1: a local copy's sender: the peer's acks
				  fire on_ack and advance sender_acked but
				  never call store_outbox_ack (see above) */
	stream_log_fn log;     /* may be NULL */
	struct tls_ctx *tls;   /* NULL: plain TCP; else TLS 1.3 with this
				  context (tls/tls.h, borrowed: must outlive
				  the sender; a reload applies to the next
				  connection), the receiver must hold a
				  certificate of role agent that speaks for
				  peer_pool, and answer the HELLO with the
				  agent_id it names. A refused handshake
				  fails the lane ("tls: reason") and is
				  retried after the backoff */
	/* Fired when the pair acknowledged (user_set, lane) up to acked_seq
	 * (durable there). user_set borrowed for the call. May be NULL. It
	 * may call sender_notify(), sender_acked() and sender_stats_*(), but
	 * not sender_close(), sender_set_peer() or sender_set_user_sets():
	 * defer those (e.g. to a zero timer). The same holds for log. */
	void (*on_ack)(void *arg, const char *user_set, int lane,
		       uint64_t acked_seq);
	void *arg; /* passed to log and on_ack */
};

/* Status of one (user set, lane) stream and of its lane's connection. */
struct sender_stats {
	char user_set[STREAM_NAME_MAX];
	int lane;                 /* POOLPAIR__REPL__LANE__LANE_* */
	enum sender_state state;  /* of the lane's connection */
	uint64_t epoch;           /* newest known epoch (store) */
	uint64_t head_seq;        /* last seq written (store) */
	uint64_t sent_seq;        /* last seq sent on this connection */
	uint64_t acked_seq;       /* last seq the pair acknowledged (with
				     no_trim: this sender's peer only) */
	uint64_t limit_seq;       /* sender_set_limit; UINT64_MAX: none */
	uint64_t applied_seq;     /* records of this stream the store
				     received from the pair before it took
				     the user set over (store); the stream's
				     position is max(head_seq, applied_seq) */
	uint64_t lag_records;     /* unacked records (store: the pair's
				     stream, also with no_trim, where the
				     copy lacks head_seq - acked_seq) */
	uint64_t lag_bytes;       /* their key + value bytes (store) */
	uint64_t oldest_unacked_hlc; /* 0 when nothing is unacked */
	uint64_t records_sent;    /* of this stream, since init (outbox
				     records; a seed's item states are not
				     counted) */
	uint64_t batches_sent;    /* RECORDS and SEED_RECORDS */
	uint64_t batches_dict;    /* of them compressed against the history */
	uint64_t bytes_raw;       /* packed before compression (both) */
	uint64_t bytes_wire;      /* as sent (payloads, both) */
	double records_per_s;     /* over the last few seconds */
	double bytes_per_s;       /* wire bytes */
	/* lane connection */
	uint64_t reconnects;      /* connections dropped after an error */
	uint64_t inflight_bytes;  /* unacked wire bytes now */
	char peer[STREAM_NAME_MAX + 8]; /* "host:port" */
	char last_error[STREAM_ERRMSG_LEN]; /* "" when none yet */
	/* seed of this stream (store_seed.h): the receiver lacked records
	 * the outbox no longer holds. The figures stay over a lost
	 * connection; the next handshake resumes the seed or clears them. */
	bool seeding;		   /* a seed is in progress on the lane */
	uint64_t seed_from_seq;	   /* its position F */
	uint64_t seed_items;	   /* items the receiver stored, over resumes */
	uint64_t seed_bytes;
	uint64_t seed_items_total; /* store_seed_count at its start */
	uint64_t seed_bytes_total;
	uint64_t seeds_done;	   /* seeds completed since init */
	/* commit -> acknowledgement of the records sender_committed()
	 * announced, since init (with no_trim: this sender's peer) */
	struct ackhist ack;
};

struct sender;

/* Create a sender on loop streaming from store (borrowed; must stay open
 * until the close callback) and start connecting when cfg->host is set.
 * cfg and everything it points to is copied. On success *sp owns the new
 * sender until sender_close(). Returns 0, STREAM_E_ARG (missing pool
 * names, too many or bad user set names, lane or sizes) or
 * STREAM_E_NOMEM; on error nothing is left behind. */
int sender_init(struct sender **sp, uv_loop_t *loop, struct store *store,
		const struct sender_config *cfg);

/* Stop: close both connections, cancel timers, wait for store operations
 * in flight, free the sender, then call cb(arg) (cb may be NULL). s must
 * not be used after this call. Calling it twice is a broken invariant. */
void sender_close(struct sender *s, void (*cb)(void *arg), void *arg);

/* A local write was committed: look at the outbox again. Cheap; many
 * calls in a row cost one outbox read per stream. */
void sender_notify(struct sender *s);

/* The local write of (user_set, lane) at seq is durable in the store (its
 * transaction committed), at this moment of the loop's clock (uv_hrtime):
 * once the pair acknowledges seq, the time between is counted in the
 * stream's ack histogram (sender_stats.ack), one record per call. Call it
 * for each committed write, in increasing seq per stream, with
 * sender_notify(). A seq at or below what the pair already acknowledged,
 * or of a stream not streamed, is ignored; up to 64 writes per stream are
 * held apart, later ones share the newest's time until acknowledgements
 * make room (counted longer, never shorter). Records the sender was not
 * told of (written before it started) are not counted. */
void sender_committed(struct sender *s, const char *user_set, int lane,
		      uint64_t seq);

/* Point the sender at another data address (host copied): both
 * connections are dropped and reconnect there at once. host NULL makes
 * them idle. Returns 0, STREAM_E_ARG, STREAM_E_NOMEM, STREAM_E_CLOSING. */
int sender_set_peer(struct sender *s, const char *host, uint16_t port);

/* Replace the user sets streamed (copied; at most SENDER_MAX_USER_SETS).
 * Both connections reconnect to hand over a new HELLO; counters of user
 * sets that stay are kept. Returns 0, STREAM_E_ARG, STREAM_E_NOMEM,
 * STREAM_E_CLOSING. */
int sender_set_user_sets(struct sender *s, const char *const *user_sets,
			 size_t n);

/* Send no outbox record of (user_set, lane) with seq > seq (UINT64_MAX:
 * no limit, the default of every stream, also of a user set added later
 * by sender_set_user_sets). Records sent before stay sent; raising the
 * limit looks at the outbox again at once. The limit holds over
 * reconnections; a seed's item states are not limited (the stream
 * continues after the seed's position only up to the limit). Returns 0,
 * STREAM_E_NOT_FOUND when the user set is not streamed (or lane is not
 * one), or STREAM_E_CLOSING. */
int sender_set_limit(struct sender *s, const char *user_set, int lane,
		     uint64_t seq);

/* The last sequence of (user_set, lane) the pair acknowledged (or the
 * store had recorded as acknowledged; with no_trim only what this
 * sender's peer acknowledged). Returns 0 with *acked set, or
 * STREAM_E_NOT_FOUND when the user set is not streamed. Use it with
 * on_ack to wait until every record up to seq N is on the pair. */
int sender_acked(const struct sender *s, const char *user_set, int lane,
		 uint64_t *acked);

/* Number of streams (user sets x 2 lanes); index i in [0, count) for
 * sender_stats_at(): user set i / 2, lane i % 2. */
size_t sender_stream_count(const struct sender *s);

/* Fill *out with the status of stream i. Returns 0 or STREAM_E_NOT_FOUND. */
int sender_stats_at(const struct sender *s, size_t i,
		    struct sender_stats *out);

/* Fill *out with the status of (user_set, lane). Returns 0 or
 * STREAM_E_NOT_FOUND. */
int sender_stats_get(const struct sender *s, const char *user_set, int lane,
		     struct sender_stats *out);

#endif /* POOLPAIR_REPLICATION_SENDER_H */
