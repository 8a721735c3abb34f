/* sender_internal: what the sender's four files share; not used outside
 * them. The contract is sender.h.
 *
 *   sender.c         the API, lane states, stats, and the plumbing below
 *   sender_dial.c    a lane's connection: resolve, connect, TLS, fail,
 *                    backoff, reconnect
 *   sender_stream.c  on a connection that is up: positions and HELLO, the
 *                    outbox pump and its window, acks, pings, frames read
 *   sender_seed.c    the seed of a stream whose receiver lacks records the
 *                    outbox no longer holds: when, count, SEED_BEGIN, item
 *                    states within the window, SEED_END, its acks
 *
 * A lane's connection is current while its gen has not moved: every
 * request the sender makes of the store or the resolver (struct tx_op)
 * carries the gen it was made under, and its completion does nothing when
 * the connection it was made for has ended (sender_op_end()).
 *
 * Everything here: loop thread only. */
#ifndef POOLPAIR_REPLICATION_SENDER_INTERNAL_H
#define POOLPAIR_REPLICATION_SENDER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication/ackhist.h"
#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender.h"
#include "replication/store.h"
#include "replication/store_seed.h"
#include "replication/stream_common.h"
#include "tls/tls.h"

#define TX_LANES 2

/* One batch in flight: acknowledged once the pair acks last_seq. */
struct tx_inflight {
	uint64_t last_seq;
	uint64_t bytes;
};

/* Local commits a stream's acknowledgement times are measured from. */
#define TX_MARKS 64

/* Records of a stream committed at one time: up to seq, n of them, at t
 * (uv_hrtime). */
struct tx_mark {
	uint64_t seq;
	uint64_t n;
	uint64_t t;
};

/* Where the seed of a stream is on the lane's current connection. */
enum tx_seed_phase {
	TX_SEED_NONE = 0, /* not seeding on this connection */
	TX_SEED_COUNTING, /* store_seed_count in flight */
	TX_SEED_SENDING,  /* SEED_BEGIN sent: item states read and sent */
	TX_SEED_ENDING,	  /* SEED_END sent: waiting for the ACK of F */
};

/* The seed of one stream (sender_seed.c). */
struct tx_seed {
	/* kept over connections, for the stats */
	int active;	       /* a seed of the stream is in progress */
	uint64_t from_seq;     /* F */
	uint64_t epoch;	       /* of F */
	uint64_t items, bytes; /* stored by the receiver, over resumes */
	uint64_t items_total;  /* store_seed_count when it (re)started */
	uint64_t bytes_total;
	uint64_t done; /* seeds completed since init */
	/* this connection */
	enum tx_seed_phase phase;
	int read_all;		     /* store_seed_read said done */
	struct store_seed_mark mark; /* after the last item state sent */
	uint64_t sent_items;	     /* since this connection's SEED_BEGIN,
					store_seed_figures */
	uint64_t sent_bytes;
	uint64_t batches, acks; /* SEED_RECORDS sent, and acknowledged */
};

/* One (user set, lane) stream. */
struct tx_stream {
	char user_set[STREAM_NAME_MAX];
	int lane;
	/* from the store */
	uint64_t epoch, head_seq, lag_records, lag_bytes, oldest_hlc;
	uint64_t applied_seq; /* records of this stream the store received
				 from the pair (before it took the set over) */
	uint64_t acked_seq;   /* max of store and pair acks (no_trim: the
				 peer's acks only) */
	uint64_t store_acked; /* the store's acked position, as last read */
	uint64_t limit_seq;   /* sender_set_limit: send no seq past it */
	/* this connection */
	uint64_t sent_seq;
	int ready;	    /* resumed: may send */
	int blocked;	    /* cannot continue on this connection (logged) */
	uint64_t wake;	    /* bumped by notify */
	uint64_t wake_done; /* wake value an empty read covered */
	struct tx_inflight *inflight; /* owned ring */
	size_t if_cap, if_head, if_n;
	/* counters */
	uint64_t records_sent, batches_sent, batches_dict, bytes_raw,
	    bytes_wire;
	struct stream_rate rate;
	struct tx_seed seed;
	/* sender_committed, oldest first (a ring), awaiting the pair's
	 * acknowledgement; when full the newest mark takes the new records
	 * (its earlier time: their times can only be counted longer) */
	struct tx_mark marks[TX_MARKS];
	size_t mk_head, mk_n;
	struct ackhist ack; /* commit -> acknowledgement, per record */
};

/* What to do once a connection's handle has closed. */
enum tx_after { TX_AFTER_BACKOFF, TX_AFTER_START };

struct tx_lane {
	struct sender *s;
	int lane;
	enum sender_state state;
	uint64_t gen;	      /* bumped whenever a connection ends */
	struct tls_conn conn; /* TLS with the sender's context, else plain */
	int tcp_open;	      /* conn initialised, its close not finished */
	int conn_closing;     /* tls_conn_close() called */
	uv_connect_t connect;
	uv_timer_t backoff;
	uv_timer_t ping;
	enum tx_after after;
	struct frame_decoder dec;
	struct batch_dict dict; /* history of this connection's batches */
	int dict_mode;		/* the receiver accepted the dictionary mode */
	int hello_sent;
	int reading_outbox; /* an outbox read of this connection in flight */
	size_t rr;	    /* round robin over user sets */
	uint64_t last_rx_ms;
	uint64_t inflight_bytes;
	unsigned backoff_ms;
	uint64_t reconnects;
	char last_error[STREAM_ERRMSG_LEN];
};

struct sender {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	char local_pool[STREAM_NAME_MAX];
	char peer_pool[STREAM_NAME_MAX];
	uint64_t agent_id;
	char *host;	     /* owned, NULL: idle */
	struct tls_ctx *tls; /* borrowed, NULL: plain */
	uint16_t port;
	size_t n_user_sets;
	struct tx_stream streams[SENDER_MAX_USER_SETS * TX_LANES];
	struct tx_lane lanes[TX_LANES];
	size_t window, batch_bytes, batch_records;
	int lz4_dict_off;
	int no_trim; /* the peer's acks never trim the outbox */
	unsigned ping_ms, timeout_ms, backoff_min, backoff_max, stats_ms;
	stream_log_fn log;
	void (*on_ack)(void *arg, const char *user_set, int lane,
		       uint64_t acked_seq);
	void *arg;
	uv_timer_t stats_timer;
	int stats_reading;
	uint64_t rng;
	unsigned handles; /* open libuv handles */
	unsigned pending; /* store and resolver requests in flight */
	int closing;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* A store or resolver request tied to one connection of a lane. */
struct tx_op {
	struct tx_lane *l; /* NULL: not tied to a connection */
	struct sender *s;
	uint64_t gen;
	size_t stream;
	uint64_t wake; /* outbox reads: wake value when issued */
	uv_getaddrinfo_t gai;
};

/* ---- sender.c ---- */

/* Formats and hands a line to the configured log callback, if any. */
void sender_log(struct sender *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "data" or "content": the name of @l's lane. Static string. */
const char *sender_lane_name(const struct tx_lane *l);

/* The one place where a lane's connection changes state; logs
 * "old -> new" (info when it starts streaming, else debug). */
void sender_lane_set_state(struct tx_lane *l, enum sender_state next);

/* Stream @i (user set index) of @l's lane. Borrowed from @s. */
struct tx_stream *sender_lane_stream(struct sender *s, struct tx_lane *l,
				     size_t i);

/* A new request tied to @l's current connection (@l NULL: to none) and to
 * stream slot @stream; NULL when out of memory. The caller counts it in
 * s->pending once it is issued, or frees it when issuing fails. */
struct tx_op *sender_op_new(struct sender *s, struct tx_lane *l, size_t stream);

/* Ends an op's life: returns 1 when its connection is still the current
 * one and the sender is not closing. Frees op (and may free the sender,
 * when it was the last thing a close waited for). */
int sender_op_end(struct tx_op *op);

/* Frees the sender and calls the close callback once it is closing and no
 * handle or request is left; does nothing before. */
void sender_maybe_finish(struct sender *s);

/* ---- sender_dial.c ---- */

/* Starts @l's next connection: resolves the peer (state RESOLVING), or
 * goes IDLE when there is no peer or no user set. */
void sender_dial_start(struct tx_lane *l);

/* End the lane's current connection (if any); then reconnect at once
 * (TX_AFTER_START) or after a backoff. Requests of the old connection are
 * ignored when they complete. */
void sender_dial_reset(struct tx_lane *l, enum tx_after after);

/* The connection of @l failed: the reason (printf-formatted, lowercase) is
 * kept in last_error and logged with the peer, the connection is reset and
 * retried after the backoff. Ignored while not connected or connecting. */
void sender_dial_fail(struct tx_lane *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Close callback of a lane's tls_conn (c->data is the lane). */
void sender_dial_closed(struct tls_conn *c);

/* ---- sender_stream.c ---- */

/* The connection of @l is up (TLS done): start reading frames and pinging,
 * read the store's positions and send HELLO (state HANDSHAKING). */
void sender_stream_begin(struct tx_lane *l);

/* Read callback of a lane's tls_conn: decodes and handles every frame of
 * the chunk (c->data is the lane). */
void sender_stream_read(struct tls_conn *c, ssize_t nread, const char *data);

/* Start the next outbox read when the window has room. One read per
 * connection at a time, user sets in turn. Does nothing unless @l is
 * streaming. */
void sender_stream_pump(struct tx_lane *l);

/* Takes the store's positions @p (borrowed) into every stream of @s: epoch,
 * head, lag; acked_seq only grows. */
void sender_stream_take_positions(struct sender *s,
				  const struct store_positions *p);

/* no_trim: every lane whose stream the pair's acks trimmed past what it
 * sent (the store's acked beyond sent_seq) is dropped, so that its next
 * handshake seeds the copy. Does nothing without no_trim. */
void sender_stream_check_trimmed(struct sender *s);

/* Stream-level trouble that reconnecting cannot fix: logged, kept in
 * last_error, and @st waits for the next connection (blocked). */
void sender_stream_block(struct tx_lane *l, struct tx_stream *st,
			 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The pair holds @st up to @acked: trim the outbox (not with no_trim),
 * fire on_ack. */
void sender_stream_acked(struct sender *s, struct tx_stream *st,
			 uint64_t acked);

/* A batch of @bytes wire bytes in flight on @st, acknowledged once the
 * pair acks @last (a seq, or a seed batch's ordinal). 0 or
 * STREAM_E_NOMEM. */
int sender_stream_inflight_push(struct tx_stream *st, uint64_t last,
				uint64_t bytes);

/* The acked position the seed decision compares the receiver with: the
 * store's (no_trim), else this sender's view (store and pair acks). */
uint64_t sender_stream_lacks_acked(const struct sender *s,
				   const struct tx_stream *st);

/* Retire @st's batches acked up to @acked; returns the bytes they held. */
uint64_t sender_stream_inflight_pop(struct tx_stream *st, uint64_t acked);

/* ---- sender_seed.c ---- */

/* At the receiver's HELLO answer @q (borrowed) for stream @st of @l,
 * whose positions were read at the handshake: resume the seed the receiver
 * reports, or start one when the receiver lacks records this outbox does
 * not hold (its acked_seq below the sender's acked or applied seq).
 * Returns 1 when @st seeds on this connection (it is not ready for the
 * outbox until the seed ends) or was blocked, 0 when it streams as before
 * (its seed figures are cleared), or -1 when the connection failed. */
int sender_seed_handshake(struct tx_lane *l, struct tx_stream *st,
			  const Poolpair__Repl__StreamPosition *q);

/* The pump's turn for seeding stream @st of @l with @room bytes left in
 * the window: reads the next item states (one read per connection, as for
 * the outbox), or sends SEED_END once every state was sent. Returns 1 when
 * a read was issued, 0 when there is nothing to do now, -1 when the
 * connection failed. */
int sender_seed_pump(struct tx_lane *l, struct tx_stream *st, size_t room);

/* An ACK position @q (borrowed) for seeding stream @st of @l: a stored
 * seed batch (progress, window), or the ACK of from_seq once SEED_END was
 * stored, after which @st streams the outbox after from_seq. Returns 0, or
 * -1 when the ACK was wrong and the connection failed. */
int sender_seed_ack(struct tx_lane *l, struct tx_stream *st,
		    const Poolpair__Repl__StreamPosition *q);

/* The connection of @st's lane ended: what this connection knew of the
 * seed is forgotten; the figures stay until the next handshake. */
void sender_seed_reset(struct tx_stream *st);

#endif /* POOLPAIR_REPLICATION_SENDER_INTERNAL_H */
